//! Checkpoints in the C2SP tlog-checkpoint format (`c2sp.org/tlog-checkpoint`): the body of
//! the signed note the log publishes after each commit.
//!
//! ```text
//! body = origin "\n" size "\n" base64(root) "\n" *(extension "\n")
//! ```

//!
//! Extension lines are opaque to the format; [`Checkpoint::with_hash_extension`] and
//! [`Checkpoint::hash_extension`] read and write the common shape `<keyword> <base64(hash)>`
//! (one line per keyword) that a log uses to commit to another structure's root.

use crate::FormatError;
use crate::b64::{b64std_decode, b64std_encode};
use crate::merkle::{Hash, MAX_TREE_SIZE};
use crate::note::check_key_name;

/// A log checkpoint: origin, tree size, root hash and optional extension lines.
///
/// Built with [`Checkpoint::new`] (and [`Checkpoint::with_extension`]) by the log, and signed
/// with [`crate::NoteSigner::sign`] over [`Checkpoint::to_text`]; everyone else opens the note
/// with [`crate::NoteVerifier::verify`] and parses its text with [`Checkpoint::parse`], then
/// compares the origin with the one expected. Every value has a body that parses back to it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Checkpoint {
    origin: String,
    size: u64,
    root: Hash,
    extensions: Vec<String>,
}

impl Checkpoint {
    /// The checkpoint of the tree of `size` records with root `root` for the log `origin`.
    ///
    /// A log signs its checkpoints under its origin, so the origin must be a valid key name
    /// ([`check_key_name`]: non-empty, no whitespace, no `+`, no control characters) — the
    /// tlog-checkpoint SHOULD, made a MUST. The size is at most [`MAX_TREE_SIZE`].
    pub fn new(origin: &str, size: u64, root: Hash) -> Result<Self, FormatError> {
        check_key_name(origin)?;
        if size > MAX_TREE_SIZE {
            return Err(FormatError::Checkpoint {
                line: 2,
                reason: "tree size over the maximum",
            });
        }
        Ok(Self {
            origin: origin.to_string(),
            size,
            root,
            extensions: Vec::new(),
        })
    }

    /// Adds an extension line (non-empty, no control characters, so no newline).
    pub fn with_extension(mut self, line: &str) -> Result<Self, FormatError> {
        let at = 4 + self.extensions.len();
        if line.is_empty() {
            return Err(FormatError::Checkpoint {
                line: at,
                reason: "empty extension line",
            });
        }
        if line.chars().any(char::is_control) {
            return Err(FormatError::Checkpoint {
                line: at,
                reason: "control character",
            });
        }
        self.extensions.push(line.to_string());
        Ok(self)
    }

    /// The log's origin line.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The root hash of the tree of [`Checkpoint::size`] records.
    pub fn root(&self) -> &Hash {
        &self.root
    }

    /// The extension lines, without their newlines.
    pub fn extensions(&self) -> &[String] {
        &self.extensions
    }

    /// Adds the extension line `<keyword> <base64(hash)>`. The keyword must be non-empty
    /// and hold no whitespace or control character.
    pub fn with_hash_extension(self, keyword: &str, hash: &Hash) -> Result<Self, FormatError> {
        if keyword.is_empty() || keyword.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(FormatError::Checkpoint {
                line: 4 + self.extensions.len(),
                reason: "an extension keyword is empty or holds whitespace",
            });
        }
        let line = format!("{keyword} {}", b64std_encode(hash));
        self.with_extension(&line)
    }

    /// The hash of the extension line `<keyword> <base64(hash)>`, `None` when there is no
    /// line with that keyword. Lines whose keyword merely starts alike are other
    /// extensions. A checkpoint with two such lines, or one whose hash is not exactly 44
    /// characters of canonical base64 of 32 bytes, is malformed.
    pub fn hash_extension(&self, keyword: &str) -> Result<Option<Hash>, FormatError> {
        let mut found = None;
        for (i, e) in self.extensions.iter().enumerate() {
            let line = 4 + i;
            let Some(rest) = e.strip_prefix(keyword) else {
                continue;
            };
            let Some(b64) = rest.strip_prefix(' ') else {
                continue; // another extension whose keyword merely starts alike
            };
            if found.is_some() {
                return Err(FormatError::Checkpoint {
                    line,
                    reason: "a second line of the same extension",
                });
            }
            if b64.len() != 44 {
                return Err(FormatError::Checkpoint {
                    line,
                    reason: "the extension's hash is not 44 base64 characters",
                });
            }
            let hash: Hash = b64std_decode(b64, "checkpoint extension hash", 0)?
                .try_into()
                .map_err(|_| FormatError::Checkpoint {
                    line,
                    reason: "the extension's hash is not 32 bytes",
                })?;
            found = Some(hash);
        }
        Ok(found)
    }

    /// The note text (body): `origin\nsize\nbase64(root)\n` then each extension line.
    pub fn to_text(&self) -> String {
        let mut s = format!("{}\n{}\n{}\n", self.origin, self.size, b64std_encode(&self.root));
        for e in &self.extensions {
            s.push_str(e);
            s.push('\n');
        }
        s
    }

    /// Parses a checkpoint body strictly: at least three lines, each newline-terminated and
    /// non-empty, no control characters; the size in decimal without leading zeros (`0` for
    /// the empty tree) and at most [`MAX_TREE_SIZE`]; the root exactly 44 characters of
    /// canonical standard base64 of 32 bytes. The origin is only required to be non-empty
    /// (C2SP's MUST); the verifier compares it with the origin it expects.
    pub fn parse(text: &str) -> Result<Self, FormatError> {
        let bad = |line, reason| FormatError::Checkpoint { line, reason };
        let body = text
            .strip_suffix('\n')
            .ok_or(bad(text.split('\n').count(), "the last line does not end in a newline"))?;
        let lines: Vec<&str> = body.split('\n').collect();
        if lines.len() < 3 {
            return Err(bad(lines.len() + 1, "fewer than three lines"));
        }
        for (i, l) in lines.iter().enumerate() {
            if l.is_empty() {
                return Err(bad(i + 1, "empty line"));
            }
            if l.chars().any(char::is_control) {
                return Err(bad(i + 1, "control character"));
            }
        }
        let size_line = lines[1];
        if !size_line.bytes().all(|b| b.is_ascii_digit()) {
            return Err(bad(2, "the tree size is not a decimal number"));
        }
        if size_line.len() > 1 && size_line.starts_with('0') {
            return Err(bad(2, "the tree size has a leading zero"));
        }
        let size: u64 = size_line.parse().map_err(|_| bad(2, "tree size over the maximum"))?;
        if size > MAX_TREE_SIZE {
            return Err(bad(2, "tree size over the maximum"));
        }
        let root_line = lines[2];
        let at = lines[0].len() + lines[1].len() + 2;
        if root_line.len() != 44 {
            return Err(bad(3, "the root hash is not 44 base64 characters"));
        }
        let root: Hash = b64std_decode(root_line, "checkpoint root hash", at)?
            .try_into()
            .map_err(|_| bad(3, "the root hash is not 32 bytes"))?;
        Ok(Self {
            origin: lines[0].to_string(),
            size,
            root,
            extensions: lines[3..].iter().map(|s| s.to_string()).collect(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // The example of the C2SP tlog-checkpoint specification.
    const C2SP_BODY: &str = "example.com/behind-the-sofa\n20852163\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=\n";

    #[test]
    fn c2sp_example_round_trips() {
        let c = Checkpoint::parse(C2SP_BODY).unwrap();
        assert_eq!(c.origin(), "example.com/behind-the-sofa");
        assert_eq!(c.size(), 20852163);
        assert!(c.extensions().is_empty());
        assert_eq!(c.to_text(), C2SP_BODY);
        let n = Checkpoint::new(c.origin(), c.size(), *c.root()).unwrap();
        assert_eq!(n, c);
    }

    #[test]
    fn extensions_round_trip() {
        let c = Checkpoint::new("o", 0, [7; 32])
            .unwrap()
            .with_extension("map-root AAAA")
            .unwrap();
        let t = c.to_text();
        assert!(t.ends_with("\nmap-root AAAA\n"), "{t}");
        assert_eq!(Checkpoint::parse(&t).unwrap(), c);
        assert!(c.clone().with_extension("").is_err());
        assert!(c.with_extension("a\nb").is_err());
    }

    #[test]
    fn hash_extension_line_round_trips_and_is_strict() {
        const K: &str = "example-map";
        assert!(c_err(
            Checkpoint::new("o", 3, [7; 32])
                .unwrap()
                .with_hash_extension("a b", &[1; 32])
        ));
        assert!(c_err(
            Checkpoint::new("o", 3, [7; 32])
                .unwrap()
                .with_hash_extension("", &[1; 32])
        ));
        let c = Checkpoint::new("o", 3, [7; 32]).unwrap();
        assert_eq!(c.hash_extension(K), Ok(None));
        let m = c.clone().with_hash_extension(K, &[9; 32]).unwrap();
        let t = m.to_text();
        assert!(
            t.ends_with("\nexample-map CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"),
            "{t}"
        );
        let back = Checkpoint::parse(&t).unwrap();
        assert_eq!(back.hash_extension(K), Ok(Some([9; 32])));
        // Other extensions are ignored, including look-alike keywords.
        let o = c
            .clone()
            .with_extension("example-mapx 1")
            .unwrap()
            .with_hash_extension(K, &[1; 32])
            .unwrap();
        assert_eq!(o.hash_extension(K), Ok(Some([1; 32])));
        let two = m.clone().with_hash_extension(K, &[9; 32]).unwrap();
        assert!(matches!(
            two.hash_extension(K),
            Err(FormatError::Checkpoint { line: 5, .. })
        ));
        let short = c.clone().with_extension("example-map AAAA").unwrap();
        assert!(short.hash_extension(K).is_err());
        let noncanonical = c
            .with_extension("example-map CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQl=")
            .unwrap();
        assert!(noncanonical.hash_extension(K).is_err());
    }

    fn c_err(r: Result<Checkpoint, FormatError>) -> bool {
        matches!(r, Err(FormatError::Checkpoint { line: 4, .. }))
    }

    #[test]
    fn new_refuses_origins_that_cannot_be_key_names() {
        assert!(Checkpoint::new("a b", 1, [0; 32]).is_err());
        assert!(Checkpoint::new("a+b", 1, [0; 32]).is_err());
        assert!(Checkpoint::new("", 1, [0; 32]).is_err());
        assert!(Checkpoint::new("a", MAX_TREE_SIZE + 1, [0; 32]).is_err());
    }

    fn line_of(text: &str) -> (usize, &'static str) {
        match Checkpoint::parse(text).unwrap_err() {
            FormatError::Checkpoint { line, reason } => (line, reason),
            FormatError::Base64 { .. } => (3, "base64"),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn malformed_bodies_name_the_line() {
        let root = "CsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I=";
        assert_eq!(
            line_of(&format!("o\n1\n{root}")).1,
            "the last line does not end in a newline"
        );
        assert_eq!(line_of("o\n1\n"), (3, "fewer than three lines"));
        assert_eq!(line_of(&format!("\n1\n{root}\n")), (1, "empty line"));
        assert_eq!(line_of(&format!("o\n1\n{root}\n\n")), (4, "empty line"));
        assert_eq!(
            line_of(&format!("o\n01\n{root}\n")),
            (2, "the tree size has a leading zero")
        );
        assert_eq!(
            line_of(&format!("o\n+1\n{root}\n")),
            (2, "the tree size is not a decimal number")
        );
        assert_eq!(
            line_of(&format!("o\n 1\n{root}\n")),
            (2, "the tree size is not a decimal number")
        );
        assert_eq!(
            line_of(&format!("o\n99999999999999999999\n{root}\n")),
            (2, "tree size over the maximum")
        );
        assert_eq!(
            line_of(&format!("o\n4611686018427387905\n{root}\n")),
            (2, "tree size over the maximum")
        );
        assert_eq!(
            line_of("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2I\n"),
            (3, "the root hash is not 44 base64 characters")
        );
        assert_eq!(
            line_of("o\n1\nCsUYapGGPo4dkMgIAUqom/Xajj7h2fB2MPA3j2jxq2J=\n"),
            (3, "base64")
        );
        assert_eq!(
            line_of("o\n1\nCsUYapGGPo4dkMgIAUqom_Xajj7h2fB2MPA3j2jxq2I=\n"),
            (3, "base64")
        );
        assert_eq!(line_of(&format!("o\n1\n{root}\next\tx\n")), (4, "control character"));
        assert_eq!(Checkpoint::parse(&format!("o\n0\n{root}\n")).unwrap().size(), 0);
    }
}
