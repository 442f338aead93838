//! Every object the CLI prints, rendered one way: a human table or line, or with `--json`
//! one document from a dedicated `#[derive(Serialize)]` output type of this module (never an
//! engine or log type serialised directly, and never `Debug` text). One submodule per kind
//! of object.

pub(crate) mod answer;
pub(crate) mod bench;
pub(crate) mod incident;
pub(crate) mod keys;
pub(crate) mod log;
pub(crate) mod platform;
pub(crate) mod receipt;

use serde::Serialize;

/// Prints `v` as one pretty JSON document.
pub(crate) fn print_json<T: Serialize>(v: &T) {
    // Cannot fail: every document is a plain derived struct (or a `serde_json::Value`) with
    // string map keys and no custom `Serialize` that errors.
    println!("{}", serde_json::to_string_pretty(v).expect("serialisable"));
}

/// A simple left-aligned table.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    let mut w: Vec<usize> = headers.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.chars().count());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.chars().count() + 2));
            }
        }
        s.trim_end().to_string()
    };
    let mut out = line(headers.to_vec());
    out.push('\n');
    for r in rows {
        out.push_str(&line(r.iter().map(String::as_str).collect()));
        out.push('\n');
    }
    out
}

/// What a command did: its JSON object with `--json`, else a line of text.
pub(crate) fn done<T: Serialize>(json: bool, value: &T, text: &str) {
    if json {
        print_json(value);
    } else {
        println!("{text}");
    }
}

/// A Unix time as `YYYY-MM-DD HH:MM` (UTC).
pub(crate) fn date(t: u64) -> String {
    let d = credseal_core::Date::from_unix(t)
        .map(|d| d.to_string())
        .unwrap_or_else(|| t.to_string());
    let s = t % 86_400;
    format!("{d} {:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// `s` in double quotes, with quotes, backslashes and control characters escaped (as Rust
/// writes a string literal), for names and operations quoted in messages.
pub(crate) fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\'' => out.push(c),
            c => out.extend(c.escape_debug()),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::quoted;

    /// The same text as the Debug form of a string gave before (messages keep their wording).
    #[test]
    fn quoted_matches_the_debug_form_of_a_string() {
        for s in [
            "retire loans v1",
            "it's",
            "a \"b\" c\\d",
            "tab\there",
            "line\nbreak",
            "王五",
            "e\u{301}",
        ] {
            assert_eq!(quoted(s), format!("{s:?}"), "{s}");
        }
    }
}
