//! What a rejected ingest reports: every problem found, by line and field. A shared
//! low-level module (the error type names it), importing no component.

use std::fmt;

/// Most errors kept in a report (the rest are counted).
pub(crate) const MAX_REPORTED: usize = 1000;

/// One problem in an ingest file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestError {
    /// 1-based line number (0: the file as a whole).
    pub line: u64,
    /// The field (dotted path) or `line`.
    pub field: String,
    /// What is wrong (never the value itself).
    pub message: String,
}

/// Why a file was rejected: every error found. Nothing was written.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IngestReport {
    /// The file name as given.
    pub file: String,
    /// Errors, in line order (at most [`MAX_REPORTED`]).
    pub errors: Vec<IngestError>,
    /// Errors found beyond those kept.
    pub more: u64,
    /// Lines read.
    pub lines: u64,
}

impl fmt::Display for IngestReport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for e in &self.errors {
            if e.line == 0 {
                writeln!(f, "{}: {}", self.file, e.message)?;
            } else {
                writeln!(f, "{}:{}: {}: {}", self.file, e.line, e.field, e.message)?;
            }
        }
        if self.more > 0 {
            writeln!(f, "... and {} more errors", self.more)?;
        }
        let n = self.errors.len() as u64 + self.more;
        write!(
            f,
            "{n} error{} in {} line{}; nothing was written",
            if n == 1 { "" } else { "s" },
            self.lines,
            if self.lines == 1 { "" } else { "s" }
        )
    }
}
