//! Strict base64url without padding for credseal's `cs1.<label>.<b64url>` text forms (C2SP
//! notes and keys, in standard base64, are `credseal_c2sp`'s). The decoder accepts only the
//! canonical encoding (re-encoding must give the input back).

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::FormatError;

/// First component of credseal text forms (the same as `credseal_auth::TEXT_PREFIX`).
pub(crate) const TEXT_PREFIX: &str = credseal_auth::TEXT_PREFIX;

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
