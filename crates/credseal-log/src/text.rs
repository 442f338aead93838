//! Strict base64 helpers: base64url without padding for credseal's `cs1.<label>.<b64url>`
//! text forms, standard base64 with padding for C2SP notes and keys. Decoders accept only the
//! canonical encoding (re-encoding must give the input back).

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

use crate::FormatError;

/// First component of credseal text forms (the same as `credseal_auth::TEXT_PREFIX`).
pub(crate) const TEXT_PREFIX: &str = credseal_auth::TEXT_PREFIX;

pub(crate) fn b64std_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Canonical standard base64 with padding. `base` is the offset of `s` in the whole text.
pub(crate) fn b64std_decode(s: &str, what: &'static str, base: usize) -> Result<Vec<u8>, FormatError> {
    decode(&STANDARD, s, what, base)
}

fn decode<E: base64::Engine>(engine: &E, s: &str, what: &'static str, base: usize) -> Result<Vec<u8>, FormatError> {
    use base64::DecodeError as D;
    let bytes = engine.decode(s).map_err(|e| {
        let at = match e {
            D::InvalidByte(o, _) => o,
            D::InvalidLastSymbol { offset, .. } => offset,
            _ => s.len(),
        };
        FormatError::Base64 {
            what,
            offset: base + at,
        }
    })?;
    if engine.encode(&bytes) != s {
        return Err(FormatError::Base64 {
            what,
            offset: base + s.len().saturating_sub(1),
        });
    }
    Ok(bytes)
}

/// `cs1.<label>.<base64url(bytes)>`.
pub(crate) fn to_text(label: &str, bytes: &[u8]) -> String {
    format!("{TEXT_PREFIX}.{label}.{}", URL_SAFE_NO_PAD.encode(bytes))
}

/// Parses `cs1.<label>.<base64url>` (no surrounding whitespace), bounded by `max` decoded bytes.
pub(crate) fn from_text(
    text: &str,
    label: &str,
    expected: &'static str,
    what: &'static str,
    max: usize,
) -> Result<Vec<u8>, FormatError> {
    let payload = text
        .strip_prefix(TEXT_PREFIX)
        .and_then(|r| r.strip_prefix('.'))
        .and_then(|r| r.strip_prefix(label))
        .and_then(|r| r.strip_prefix('.'))
        .ok_or(FormatError::WrongPrefix { expected })?;
    let max_text = max / 3 * 4 + 4;
    if payload.len() > max_text {
        return Err(FormatError::TooLarge {
            what,
            len: payload.len() / 4 * 3,
            max,
        });
    }
    decode(&URL_SAFE_NO_PAD, payload, what, text.len() - payload.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn std_base64_is_strict() {
        assert_eq!(b64std_decode("AQ==", "x", 0).unwrap(), [1]);
        // Non-zero trailing bits, missing padding, URL alphabet.
        assert!(b64std_decode("AR==", "x", 0).is_err());
        assert!(b64std_decode("AQ", "x", 0).is_err());
        assert!(b64std_decode("-_8=", "x", 5).is_err());
    }

    #[test]
    fn text_form_is_strict() {
        let t = to_text("bundle", &[1, 2, 3]);
        assert_eq!(t, "cs1.bundle.AQID");
        assert_eq!(
            from_text(&t, "bundle", "cs1.bundle.", "bundle", 100).unwrap(),
            [1, 2, 3]
        );
        assert_eq!(
            from_text("cs1.bundles.AQID", "bundle", "cs1.bundle.", "bundle", 100).unwrap_err(),
            FormatError::WrongPrefix {
                expected: "cs1.bundle."
            }
        );
        assert!(matches!(
            from_text("cs1.bundle.AQID=", "bundle", "cs1.bundle.", "bundle", 100),
            Err(FormatError::Base64 { .. })
        ));
        assert!(matches!(
            from_text(&to_text("bundle", &[0; 200]), "bundle", "cs1.bundle.", "bundle", 100),
            Err(FormatError::TooLarge { .. })
        ));
    }
}
