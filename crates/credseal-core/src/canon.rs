//! Canonical forms of field values for disclosure fingerprints (docs/design.md §9).
//!
//! A value copied out of an answer into a spreadsheet, a forum post or a spam list comes
//! back reformatted: `1,200.50` for `1200.50`, `2024/3/5` for `2024-03-05`, full-width
//! digits, doubled spaces, another letter case. [`canonical`] maps every such spelling of
//! one value of one catalogue type to the same string, so the fingerprint of a leaked value
//! equals the fingerprint taken when the value was disclosed. The rules are written down
//! in `docs/formats.md` ("Fingerprints"):
//!
//! - every type: full-width ASCII forms (U+FF01–U+FF5E) become ASCII, the ideographic
//!   space U+3000 and every Unicode white space become a space; leading and trailing
//!   spaces are removed and inner runs of spaces collapse to one;
//! - `text`, `enum`: then ASCII letters are lower-cased (other scripts are kept as they are);
//! - `integer`: an optional sign, digits with optional thousands separators (`,`, `_`,
//!   `'`, space) → the decimal number without leading zeros (`-0` is `0`);
//! - `amount`: like `integer`, with an optional fraction of any length and an optional
//!   currency mark (`¥`, `￥`, `CNY`, `RMB`, `元`) → the decimal number without trailing
//!   fraction zeros and without a trailing dot: `1,200.50` and `¥1200.5` are `1200.5`,
//!   `1200.00` is `1200`;
//! - `date`: `YYYY-MM-DD`, `YYYY/M/D`, `YYYY.M.D`, `YYYY-M-D`, `YYYYMMDD`,
//!   `YYYY年M月D日` → `YYYY-MM-DD` (a date not on the calendar is not a date);
//! - `bool`: `true`/`false`, `yes`/`no`, `y`/`n`, `1`/`0`, `是`/`否` → `true`/`false`;
//! - `subject-id`: the id with spaces and hyphens removed, upper-cased, and its check digit
//!   valid → the normalised id.
//!
//! A value that does not read as its type has no canonical form (`None`); a trace reports
//! it as unreadable instead of guessing.

use crate::catalog::FieldType;
use crate::date::Date;
use crate::id::SubjectId;
use crate::record::FieldValue;

/// Full-width ASCII to ASCII, every white space to one space, trimmed, runs collapsed.
fn squash(raw: &str) -> String {
    squash_with(raw, false)
}

/// [`squash`], and with `lower` ASCII letters lower-cased in the same pass (what `text` and
/// `enum` values need, without a second string).
fn squash_with(raw: &str, lower: bool) -> String {
    let mut out = String::with_capacity(raw.len());
    let mut space = false;
    for c in raw.chars() {
        let c = match c {
            '\u{FF01}'..='\u{FF5E}' => char::from_u32(c as u32 - 0xFEE0).unwrap_or(c),
            c if c.is_whitespace() => ' ',
            c => c,
        };
        let c = if lower { c.to_ascii_lowercase() } else { c };
        if c == ' ' {
            space = !out.is_empty();
            continue;
        }
        if space {
            out.push(' ');
            space = false;
        }
        out.push(c);
    }
    out
}

/// Sign and digits of a decimal number: thousands separators and a currency mark dropped.
/// Returns (negative, integer digits, fraction digits) or `None`.
fn number(s: &str, allow_fraction: bool) -> Option<(bool, String, String)> {
    let mut t = s.trim();
    for mark in ["¥", "CNY", "RMB"] {
        if let Some(r) = t.strip_prefix(mark) {
            t = r.trim_start();
        }
    }
    if let Some(r) = t.strip_suffix('元') {
        t = r.trim_end();
    }
    let (neg, t) = match t.strip_prefix('-') {
        Some(r) => (true, r.trim_start()),
        None => (false, t.strip_prefix('+').unwrap_or(t).trim_start()),
    };
    let (int, frac) = match t.split_once('.') {
        Some((i, f)) if allow_fraction => (i, f),
        Some(_) => return None,
        None => (t, ""),
    };
    let mut digits = String::with_capacity(int.len());
    let mut last_sep = true;
    for c in int.chars() {
        match c {
            '0'..='9' => {
                digits.push(c);
                last_sep = false;
            }
            ',' | '_' | '\'' | ' ' if !last_sep => last_sep = true,
            _ => return None,
        }
    }
    if digits.is_empty() || last_sep || !frac.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let int = digits.trim_start_matches('0');
    let int = if int.is_empty() { "0" } else { int };
    let frac = frac.trim_end_matches('0');
    Some((neg, int.to_string(), frac.to_string()))
}

fn date(s: &str) -> Option<String> {
    let s = s.trim();
    let ymd: Vec<&str> = if s.len() == 8 && s.bytes().all(|b| b.is_ascii_digit()) {
        vec![&s[..4], &s[4..6], &s[6..]]
    } else if let Some(rest) = s.strip_suffix('日') {
        let (y, rest) = rest.split_once('年')?;
        let (m, d) = rest.split_once('月')?;
        vec![y.trim(), m.trim(), d.trim()]
    } else {
        let sep = s.chars().find(|c| matches!(c, '-' | '/' | '.'))?;
        let parts: Vec<&str> = s.split(sep).map(str::trim).collect();
        if parts.len() != 3 {
            return None;
        }
        parts
    };
    let num = |p: &str, max_len: usize| -> Option<u32> {
        (!p.is_empty() && p.len() <= max_len && p.bytes().all(|b| b.is_ascii_digit()))
            .then(|| p.parse().ok())
            .flatten()
    };
    if ymd[0].len() != 4 {
        return None;
    }
    let (y, m, d) = (num(ymd[0], 4)?, num(ymd[1], 2)?, num(ymd[2], 2)?);
    Date::new(u16::try_from(y).ok()?, u8::try_from(m).ok()?, u8::try_from(d).ok()?).map(|d| d.to_string())
}

/// The canonical form of `raw` as a value of type `ty`, or `None` if it does not read as one.
///
/// ```
/// use credseal_core::{FieldType, canonical};
/// assert_eq!(canonical(&FieldType::Amount, "1,200.50").as_deref(), Some("1200.5"));
/// assert_eq!(canonical(&FieldType::Amount, "1200.50"), canonical(&FieldType::Amount, "¥1200.5"));
/// assert_eq!(canonical(&FieldType::Date, "2024年3月5日").as_deref(), Some("2024-03-05"));
/// assert_eq!(canonical(&FieldType::Text, "  Wuhan   Branch ").as_deref(), Some("wuhan branch"));
/// assert_eq!(canonical(&FieldType::Date, "2024-02-30"), None);
/// ```
pub fn canonical(ty: &FieldType, raw: &str) -> Option<String> {
    let s = || squash(raw);
    match ty {
        // Lower-cased in the same pass.
        FieldType::Text | FieldType::Enum => Some(squash_with(raw, true)),
        FieldType::Integer => {
            let (neg, int, _) = number(&s(), false)?;
            Some(if neg && int != "0" { format!("-{int}") } else { int })
        }
        FieldType::Amount => {
            let (neg, int, frac) = number(&s(), true)?;
            let mut out = String::new();
            if neg && (int != "0" || !frac.is_empty()) {
                out.push('-');
            }
            out.push_str(&int);
            if !frac.is_empty() {
                out.push('.');
                out.push_str(&frac);
            }
            Some(out)
        }
        FieldType::Date => date(&s()),
        FieldType::Bool => match s().to_ascii_lowercase().as_str() {
            "true" | "yes" | "y" | "1" | "是" => Some("true".into()),
            "false" | "no" | "n" | "0" | "否" => Some("false".into()),
            _ => None,
        },
        FieldType::SubjectId => {
            let compact: String = s().chars().filter(|c| *c != ' ' && *c != '-').collect();
            SubjectId::parse(&compact.to_ascii_uppercase())
                .ok()
                .map(|id| id.as_str().to_string())
        }
    }
}

/// The canonical form of a decoded field value as type `ty`: always equal to
/// `canonical(ty, &value.to_string())`, without printing and re-reading the value where
/// its type says what the canonical form is (a disclosure fingerprints every field it
/// releases, so this is on the query path).
pub fn canonical_value(ty: &FieldType, value: &FieldValue) -> Option<String> {
    match (ty, value) {
        (FieldType::Text | FieldType::Enum, FieldValue::Text(s)) => canonical(ty, s),
        (FieldType::Integer, FieldValue::Integer(i)) => Some(i.to_string()),
        (FieldType::Amount, FieldValue::Amount(a)) => {
            let sign = if a.0 < 0 { "-" } else { "" };
            let (int, frac) = (a.0.unsigned_abs() / 100, a.0.unsigned_abs() % 100);
            Some(match frac {
                0 => format!("{sign}{int}"),
                f if f % 10 == 0 => format!("{sign}{int}.{}", f / 10),
                f => format!("{sign}{int}.{f:02}"),
            })
        }
        (FieldType::Bool, FieldValue::Bool(b)) => Some(b.to_string()),
        (FieldType::Date, FieldValue::Date(d)) => {
            let s = d.to_string();
            // Years past 9999 print with five digits, which `canonical` does not read.
            if s.len() == 10 { Some(s) } else { canonical(ty, &s) }
        }
        _ => canonical(ty, &value.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use FieldType::*;
    use proptest::prelude::*;

    fn any_value() -> impl Strategy<Value = FieldValue> {
        prop_oneof![
            any::<i64>().prop_map(FieldValue::Integer),
            any::<i64>().prop_map(|a| FieldValue::Amount(crate::Amount(a))),
            prop_oneof![-1_000_000i64..1_000_000, -10i64..10].prop_map(|a| FieldValue::Amount(crate::Amount(a))),
            any::<bool>().prop_map(FieldValue::Bool),
            (1u16..=u16::MAX, 1u8..=12, 1u8..=31)
                .prop_filter_map("a calendar date", |(y, m, d)| crate::date::Date::new(y, m, d)
                    .map(FieldValue::Date)),
            (1u16..=2100, 1u8..=12, 1u8..=31)
                .prop_filter_map("a calendar date", |(y, m, d)| crate::date::Date::new(y, m, d)
                    .map(FieldValue::Date)),
            "\\PC{0,12}".prop_map(FieldValue::Text),
            "[ a-zA-Z0-9,.¥-]{0,12}".prop_map(FieldValue::Text),
        ]
    }

    proptest! {
        /// Lower-casing while squashing is lower-casing after it.
        #[test]
        fn text_is_squashed_then_lower_cased(raw in "\\PC{0,16}", ascii in "[ \t a-zA-Z０-９Ａ-Ｚａ-ｚ]{0,16}") {
            for r in [&raw, &ascii] {
                prop_assert_eq!(canonical(&Text, r), Some(squash(r).to_ascii_lowercase()));
                prop_assert_eq!(canonical(&Enum, r), Some(squash(r).to_ascii_lowercase()));
            }
        }

        /// The short cut gives exactly what printing the value and reading it back gives,
        /// for every type the catalogue may declare the field as.
        #[test]
        fn canonical_value_agrees_with_canonical_of_the_printed_value(v in any_value()) {
            for ty in [Text, Enum, Integer, Amount, Date, Bool, SubjectId] {
                prop_assert_eq!(canonical_value(&ty, &v), canonical(&ty, &v.to_string()), "{:?} {:?}", ty, v);
            }
        }
    }

    #[test]
    fn spellings_of_one_value_agree() {
        let groups: &[(FieldType, &[&str], &str)] = &[
            (
                Amount,
                &[
                    "1200.50",
                    "1,200.50",
                    "1200.5",
                    "¥1,200.5",
                    "1200.500",
                    " 1 200.50 元",
                    "１２００.５０",
                ],
                "1200.5",
            ),
            (Amount, &["1200", "1200.00", "1,200", "CNY 1200.0"], "1200"),
            (Amount, &["-35.10", "- 35.1"], "-35.1"),
            (Amount, &["0.00", "-0", "000"], "0"),
            (Integer, &["1200", "1,200", "+1200", "001200", "1_200"], "1200"),
            (Integer, &["-0", "0"], "0"),
            (
                Date,
                &[
                    "2024-03-05",
                    "2024/3/5",
                    "20240305",
                    "2024年3月5日",
                    "2024.03.05",
                    "2024-3-5",
                    " 2024 / 03 / 05 ",
                ],
                "2024-03-05",
            ),
            (
                Text,
                &[
                    "Wuhan Branch",
                    "  wuhan   branch ",
                    "WUHAN\tBRANCH",
                    "ｗｕｈａｎ　ｂｒａｎｃｈ",
                ],
                "wuhan branch",
            ),
            (Text, &["林振华", " 林振华 "], "林振华"),
            (Bool, &["true", "TRUE", "yes", "1", "是"], "true"),
            (
                SubjectId,
                &["42010619960510907x", "420106 19960510 907X", "420106-19960510-907X"],
                "42010619960510907X",
            ),
        ];
        for (ty, spellings, want) in groups {
            for s in *spellings {
                assert_eq!(canonical(ty, s).as_deref(), Some(*want), "{ty:?} {s:?}");
            }
        }
    }

    #[test]
    fn non_values_have_no_canonical_form() {
        for (ty, s) in [
            (Amount, "12,00.5,"),
            (Amount, "1.2.3"),
            (Amount, "abc"),
            (Amount, ""),
            (Amount, "1,,200"),
            (Integer, "1.5"),
            (Date, "2024-02-30"),
            (Date, "24-03-05"),
            (Date, "2024-03"),
            (Date, "2024年3月"),
            (Bool, "maybe"),
            (SubjectId, "42010619960510907Y"),
        ] {
            assert_eq!(canonical(&ty, s), None, "{ty:?} {s:?}");
        }
    }

    #[test]
    fn different_values_stay_different() {
        assert_ne!(canonical(&Amount, "1200.5"), canonical(&Amount, "1200.05"));
        assert_ne!(canonical(&Amount, "-1"), canonical(&Amount, "1"));
        assert_ne!(canonical(&Date, "2024-03-05"), canonical(&Date, "2024-05-03"));
        assert_ne!(canonical(&Text, "a b"), canonical(&Text, "ab"));
    }
}
