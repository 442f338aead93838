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

/// The version of every `--json` document's shape (docs/json.md): a document's `schema`
/// is `credseal/<name>/v1`. A field is only ever added within a version; a change that
/// removes, renames or retypes one makes a new version.
pub(crate) const JSON_VERSION: u32 = 1;

/// A `--json` document: `schema` first, then the object's own fields (`items` for a list).
#[derive(Serialize)]
struct Document<'a, T: Serialize> {
    schema: String,
    #[serde(flatten)]
    body: &'a T,
}

/// A list as a `--json` document.
#[derive(Serialize)]
struct ListDocument<'a, T: Serialize> {
    schema: String,
    items: &'a T,
}

/// Prints `v` as one pretty JSON document named `name` (docs/json.md): an object gets
/// `"schema": "credseal/<name>/v1"` as its first field; a list becomes the `items` of such
/// an object.
pub(crate) fn print_json<T: Serialize>(name: &str, v: &T) {
    print_json_as(name, v, true);
}

/// [`print_json`], pretty or on one line.
fn print_json_as<T: Serialize>(name: &str, v: &T, pretty: bool) {
    let schema = format!("credseal/{name}/v{JSON_VERSION}");
    // Cannot fail: every document is a plain derived struct (or a `serde_json::Value`) with
    // string map keys and no custom `Serialize` that errors; an object flattens, and what
    // is not an object is put under `items`.
    let is_object = serde_json::to_value(v).expect("serialisable").is_object();
    let text = match (is_object, pretty) {
        (true, true) => serde_json::to_string_pretty(&Document { schema, body: v }),
        (true, false) => serde_json::to_string(&Document { schema, body: v }),
        (false, true) => serde_json::to_string_pretty(&ListDocument { schema, items: v }),
        (false, false) => serde_json::to_string(&ListDocument { schema, items: v }),
    };
    // Cannot fail: the same value serialised just above, wrapped in a derived struct.
    println!("{}", text.expect("serialisable"));
}

/// The `--json` document of a failure (docs/json.md, `credseal/error/v1`), printed on
/// stdout besides the `credseal: error:` lines on stderr, on one line (so that it also ends
/// a JSON Lines stream such as `log monitor`'s).
pub(crate) fn print_error(class: credseal_engine::ErrorClass, message: &str, hint: Option<&str>, code: Option<&str>) {
    use credseal_engine::ErrorClass;
    #[derive(Serialize)]
    struct ErrorJson<'a> {
        /// `error`, `usage`, `access-denied` or `verification-failed`.
        class: &'static str,
        exit_code: u8,
        /// The denial code of a refused query, else null.
        code: Option<&'a str>,
        message: &'a str,
        hint: Option<&'a str>,
    }
    let name = match class {
        ErrorClass::Error => "error",
        ErrorClass::Usage => "usage",
        ErrorClass::Denied => "access-denied",
        ErrorClass::Verification => "verification-failed",
    };
    print_json_as(
        "error",
        &ErrorJson {
            class: name,
            exit_code: class.exit_code(),
            code,
            message,
            hint,
        },
        false,
    );
}

/// What a keygen wrote, for `--json` (`credseal/key-pair/v1`).
#[derive(Serialize)]
pub(crate) struct KeyPairJson {
    /// Whose key: `authority`, `department`, `officer`, `unseal-holder`, `provider`, `staff`,
    /// `subject` or `witness`.
    pub(crate) role: &'static str,
    /// The secret key files written (mode 0600).
    pub(crate) secret_files: Vec<String>,
    /// The public key files written.
    pub(crate) public_files: Vec<String>,
    /// The secret files are encrypted with a key passphrase (not `--unencrypted`).
    pub(crate) encrypted: bool,
    /// The public signing (or verifier) key, as in its `.pub` file.
    pub(crate) public_key: String,
    /// The public sealing key (department and subject key pairs), else null.
    pub(crate) sealing_public_key: Option<String>,
}

/// Prints what a keygen wrote: the JSON document, or `text`.
pub(crate) fn key_pair(json: bool, k: &KeyPairJson, text: &str) {
    done(json, "key-pair", k, text);
}

/// What a one-file keygen wrote (`secret`, its public file `public` holding `public_key`):
/// the `key-pair` document, or the public key's text.
pub(crate) fn key_file(
    json: bool,
    role: &'static str,
    secret: &std::path::Path,
    public: &std::path::Path,
    encrypted: bool,
    public_key: &str,
) {
    key_pair(
        json,
        &KeyPairJson {
            role,
            secret_files: vec![path(secret)],
            public_files: vec![path(public)],
            encrypted,
            public_key: public_key.to_string(),
            sealing_public_key: None,
        },
        public_key,
    );
}

/// A path as a JSON string.
pub(crate) fn path(p: &std::path::Path) -> String {
    p.display().to_string()
}

/// A simple left-aligned table.
pub(crate) fn table(headers: &[&str], rows: &[Vec<String>]) -> String {
    // Display columns, not characters: a Chinese name takes two columns a character.
    use unicode_width::UnicodeWidthStr as _;
    let mut w: Vec<usize> = headers.iter().map(|h| h.width()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            w[i] = w[i].max(c.width());
        }
    }
    let line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(c);
                s.push_str(&" ".repeat(w[i] - c.width() + 2));
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

/// What a command did: its JSON object (document `name`) with `--json`, else a line of text.
pub(crate) fn done<T: Serialize>(json: bool, name: &str, value: &T, text: &str) {
    if json {
        print_json(name, value);
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
    use super::{quoted, table};

    /// Wide characters take two columns: the column after a Chinese name starts where it
    /// starts after an ASCII name of the same display width.
    #[test]
    fn tables_align_wide_characters_by_display_width() {
        let t = table(
            &["name", "class"],
            &[
                vec!["王五".into(), "loans".into()],
                vec!["abcd".into(), "identity".into()],
            ],
        );
        let lines: Vec<&str> = t.lines().collect();
        let col = |l: &str| {
            unicode_width::UnicodeWidthStr::width(&l[..l.find("loans").or_else(|| l.find("identity")).unwrap()])
        };
        assert_eq!(col(lines[1]), col(lines[2]), "{t}");
        assert_eq!(col(lines[1]), 6, "{t}");
    }

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
