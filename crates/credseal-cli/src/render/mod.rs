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

/// The names of the fields that hold a time in Unix seconds (an integer, or null). Every
/// document that has one also has `<name>_rfc3339`, the same time as an RFC 3339 string in
/// UTC (or null), right after it (docs/json.md, "Times").
const TIME_FIELDS: &[&str] = &[
    "answered_at",
    "built_at",
    "corrected_at",
    "created",
    "due",
    "expires_at",
    "filed_at",
    "installed_at",
    "issued_at",
    "not_after",
    "not_before",
    "sealed_until",
    "signed_at",
    "time",
];

/// Unix seconds as an RFC 3339 time in UTC (`2026-12-07T10:00:00Z`); null where the time is
/// beyond what a calendar date holds.
pub(crate) fn rfc3339(unix: u64) -> Option<String> {
    // humantime formats years up to 9999; a later time (only ever a forged or absurd value)
    // gets null rather than a wrong date.
    const YEAR_10000: u64 = 253_402_300_800;
    if unix >= YEAR_10000 {
        return None;
    }
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_secs(unix);
    Some(humantime::format_rfc3339_seconds(t).to_string())
}

/// A JSON value whose objects keep their fields in the order they were written (the
/// order of the output type's fields), so that a document can be rewritten (the `version`
/// and the `_rfc3339` times added) without its fields being sorted.
enum Ordered {
    Null,
    Bool(bool),
    Number(serde_json::Number),
    String(String),
    Array(Vec<Ordered>),
    Object(Vec<(String, Ordered)>),
}

impl<'de> serde::Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> serde::de::Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a JSON value")
            }
            fn visit_unit<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_none<E>(self) -> Result<Ordered, E> {
                Ok(Ordered::Null)
            }
            fn visit_bool<E>(self, b: bool) -> Result<Ordered, E> {
                Ok(Ordered::Bool(b))
            }
            fn visit_u64<E>(self, n: u64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.into()))
            }
            fn visit_i64<E>(self, n: i64) -> Result<Ordered, E> {
                Ok(Ordered::Number(n.into()))
            }
            fn visit_f64<E: serde::de::Error>(self, n: f64) -> Result<Ordered, E> {
                serde_json::Number::from_f64(n)
                    .map(Ordered::Number)
                    .ok_or_else(|| E::custom("a number JSON cannot hold"))
            }
            fn visit_str<E>(self, s: &str) -> Result<Ordered, E> {
                Ok(Ordered::String(s.to_string()))
            }
            fn visit_string<E>(self, s: String) -> Result<Ordered, E> {
                Ok(Ordered::String(s))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut a: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some(x) = a.next_element()? {
                    v.push(x);
                }
                Ok(Ordered::Array(v))
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(self, mut a: A) -> Result<Ordered, A::Error> {
                let mut v = Vec::new();
                while let Some((k, x)) = a.next_entry::<String, Ordered>()? {
                    v.push((k, x));
                }
                Ok(Ordered::Object(v))
            }
        }
        d.deserialize_any(V)
    }
}

impl Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeSeq};
        match self {
            Ordered::Null => s.serialize_unit(),
            Ordered::Bool(b) => s.serialize_bool(*b),
            Ordered::Number(n) => n.serialize(s),
            Ordered::String(x) => s.serialize_str(x),
            Ordered::Array(v) => {
                let mut q = s.serialize_seq(Some(v.len()))?;
                for x in v {
                    q.serialize_element(x)?;
                }
                q.end()
            }
            Ordered::Object(v) => {
                let mut m = s.serialize_map(Some(v.len()))?;
                for (k, x) in v {
                    m.serialize_entry(k, x)?;
                }
                m.end()
            }
        }
    }
}

impl Ordered {
    /// Adds `<name>_rfc3339` after every time field (`TIME_FIELDS`) of every object.
    fn add_times(&mut self) {
        match self {
            Ordered::Array(v) => v.iter_mut().for_each(Ordered::add_times),
            Ordered::Object(v) => {
                let mut out = Vec::with_capacity(v.len());
                for (k, mut x) in v.drain(..) {
                    x.add_times();
                    let time = if TIME_FIELDS.contains(&k.as_str()) {
                        match &x {
                            Ordered::Number(n) => {
                                Some(n.as_u64().and_then(rfc3339).map_or(Ordered::Null, Ordered::String))
                            }
                            Ordered::Null => Some(Ordered::Null),
                            _ => None,
                        }
                    } else {
                        None
                    };
                    let name = format!("{k}_rfc3339");
                    out.push((k, x));
                    if let Some(t) = time {
                        out.push((name, t));
                    }
                }
                *v = out;
            }
            _ => {}
        }
    }
}

/// Prints `v` as one pretty JSON document named `name` (docs/json.md): an object gets
/// `"schema": "credseal/<name>/v1"` and `"version": 1` as its first fields; a list becomes
/// the `items` of such an object. Times get their RFC 3339 twins (`TIME_FIELDS`).
pub(crate) fn print_json<T: Serialize>(name: &str, v: &T) {
    print_json_as(name, v, true);
}

/// [`print_json`] on one line: one document of a JSON Lines stream (`log monitor --json`).
pub(crate) fn print_json_line<T: Serialize>(name: &str, v: &T) {
    print_json_as(name, v, false);
}

/// The document [`print_json`] prints, as a string (pretty or on one line).
fn json_document<T: Serialize>(name: &str, v: &T, pretty: bool) -> String {
    // Cannot fail: every document is a plain derived struct (or a `serde_json::Value`) with
    // string map keys and no custom `Serialize` that errors, and what serde_json wrote it
    // reads back.
    let text = serde_json::to_string(v).expect("serialisable");
    let mut body: Ordered = serde_json::from_str(&text).expect("serde_json reads what it wrote");
    body.add_times();
    let mut doc = vec![
        (
            "schema".to_string(),
            Ordered::String(format!("credseal/{name}/v{JSON_VERSION}")),
        ),
        ("version".to_string(), Ordered::Number(JSON_VERSION.into())),
    ];
    match body {
        Ordered::Object(fields) => doc.extend(fields),
        other => doc.push(("items".to_string(), other)),
    }
    let doc = Ordered::Object(doc);
    let text = if pretty {
        serde_json::to_string_pretty(&doc)
    } else {
        serde_json::to_string(&doc)
    };
    // Cannot fail: an `Ordered` is made only of JSON values (a number is a serde_json
    // `Number`, finite) and string keys.
    text.expect("serialisable")
}

/// [`print_json`], pretty or on one line.
fn print_json_as<T: Serialize>(name: &str, v: &T, pretty: bool) {
    println!("{}", json_document(name, v, pretty));
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
