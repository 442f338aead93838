//! Strict standard base64 with padding, as C2SP notes, keys and checkpoints use it. The
//! decoder accepts only the canonical encoding (re-encoding must give the input back).

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::FormatError;

pub(crate) fn b64std_encode(bytes: &[u8]) -> String {
    STANDARD.encode(bytes)
}

/// Canonical standard base64 with padding. `base` is the offset of `s` in the whole text.
pub(crate) fn b64std_decode(s: &str, what: &'static str, base: usize) -> Result<Vec<u8>, FormatError> {
    use base64::DecodeError as D;
    let bytes = STANDARD.decode(s).map_err(|e| {
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
    if STANDARD.encode(&bytes) != s {
        return Err(FormatError::Base64 {
            what,
            offset: base + s.len().saturating_sub(1),
        });
    }
    Ok(bytes)
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
}
