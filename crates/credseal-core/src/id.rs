//! Subject identifiers: resident identity numbers and unified social credit codes.

use std::fmt;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Weights of GB 11643 / ISO 7064 MOD 11-2 for the first 17 digits.
const RESIDENT_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
/// Check character for each remainder 0..=10.
const RESIDENT_CHECK: [u8; 11] = *b"10X98765432";
/// The 31-character alphabet of GB 32100-2015 (no I, O, Z, S, V).
const USCC_ALPHABET: &[u8; 31] = b"0123456789ABCDEFGHJKLMNPQRTUWXY";
/// Weights of GB 32100-2015 for the first 17 characters.
const USCC_WEIGHTS: [u32; 17] = [1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28];

/// Which kind of subject an identifier names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubjectKind {
    /// A natural person, named by an 18-character resident identity number.
    Person,
    /// An organisation, named by an 18-character unified social credit code.
    Organisation,
}

/// Why a string is not a valid subject identifier. Carries no part of the input beyond
/// the offending character's position, so errors can be logged.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdError {
    /// The identifier does not have 18 characters after trimming.
    #[error("a subject id has 18 characters, this one has {0}")]
    Length(usize),
    /// A character outside both alphabets.
    #[error("character {position} is not allowed in a resident identity number or a unified social credit code")]
    BadCharacter {
        /// 1-based position of the character.
        position: usize,
    },
    /// A resident identity number whose birth date is not a calendar date.
    #[error("resident identity number has an impossible birth date")]
    BadBirthDate,
    /// The check character does not match (resident identity number, ISO 7064 MOD 11-2).
    #[error("resident identity number check character is wrong (expected {expected})")]
    ResidentCheck {
        /// The check character the first 17 digits call for.
        expected: char,
    },
    /// The check character does not match (unified social credit code, GB 32100-2015).
    #[error("unified social credit code check character is wrong (expected {expected})")]
    UsccCheck {
        /// The check character the first 17 characters call for.
        expected: char,
    },
}

/// A validated, normalised (trimmed, upper-case) subject identifier.
///
/// The raw identifier is personal data: credseal never stores it outside the encrypted
/// `identity` class; storage keys use the [`BlindId`] instead.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SubjectId {
    text: String,
    kind: SubjectKind,
}

impl SubjectId {
    /// Parses and validates `s` (surrounding whitespace ignored, letters upper-cased).
    pub fn parse(s: &str) -> Result<Self, IdError> {
        let t = s.trim().to_ascii_uppercase();
        let n = t.chars().count();
        if n != 18 {
            return Err(IdError::Length(n));
        }
        if let Some(p) = t.chars().position(|c| !c.is_ascii_alphanumeric()) {
            return Err(IdError::BadCharacter { position: p + 1 });
        }
        let b = t.as_bytes(); // all ASCII: 18 bytes
        let resident_shape = b[..17].iter().all(u8::is_ascii_digit) && (b[17].is_ascii_digit() || b[17] == b'X');
        if resident_shape {
            // Cannot fail: the id was checked to be 18 bytes long, so its first 17 are a [u8; 17].
            let expected = resident_check(b[..17].try_into().expect("17 bytes"));
            if b[17] == expected {
                if !birth_date_ok(&b[6..14]) {
                    return Err(IdError::BadBirthDate);
                }
                return Ok(Self {
                    text: t,
                    kind: SubjectKind::Person,
                });
            }
            // An all-digit string may still be a unified social credit code.
            if b[17] == b'X' || uscc_check(b).is_err() {
                return Err(IdError::ResidentCheck {
                    expected: expected as char,
                });
            }
        }
        uscc_check(b)?;
        Ok(Self {
            text: t,
            kind: SubjectKind::Organisation,
        })
    }

    /// The normalised identifier.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// Person or organisation.
    pub fn kind(&self) -> SubjectKind {
        self.kind
    }

    /// Builds a valid resident identity number from its first 17 digits (test data,
    /// canary subjects). Returns `None` if `first17` is not 17 ASCII digits.
    pub fn resident_from_body(first17: &str) -> Option<Self> {
        let b: &[u8; 17] = first17.as_bytes().try_into().ok()?;
        if !b.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let mut s = first17.to_string();
        s.push(resident_check(b) as char);
        Self::parse(&s).ok()
    }

    /// Builds a valid unified social credit code from its first 17 characters.
    pub fn uscc_from_body(first17: &str) -> Option<Self> {
        let b: &[u8; 17] = first17.as_bytes().try_into().ok()?;
        let c = uscc_expected(b).ok()?;
        let mut s = first17.to_string();
        s.push(c as char);
        let id = Self::parse(&s).ok()?;
        (id.kind == SubjectKind::Organisation).then_some(id)
    }
}

fn resident_check(b: &[u8; 17]) -> u8 {
    let sum: u32 = b
        .iter()
        .zip(RESIDENT_WEIGHTS)
        .map(|(c, w)| u32::from(c - b'0') * w)
        .sum();
    RESIDENT_CHECK[(sum % 11) as usize]
}

fn uscc_value(c: u8) -> Option<u32> {
    USCC_ALPHABET.iter().position(|&a| a == c).map(|p| p as u32)
}

fn uscc_expected(b: &[u8; 17]) -> Result<u8, IdError> {
    let mut sum = 0u32;
    for (i, (&c, w)) in b.iter().zip(USCC_WEIGHTS).enumerate() {
        let v = uscc_value(c).ok_or(IdError::BadCharacter { position: i + 1 })?;
        sum += v * w;
    }
    Ok(USCC_ALPHABET[((31 - sum % 31) % 31) as usize])
}

fn uscc_check(b: &[u8]) -> Result<(), IdError> {
    // Cannot fail: the caller checked 18 bytes, so the first 17 are a [u8; 17].
    let expected = uscc_expected(b[..17].try_into().expect("17 bytes"))?;
    if uscc_value(b[17]).is_none() {
        return Err(IdError::BadCharacter { position: 18 });
    }
    if b[17] != expected {
        return Err(IdError::UsccCheck {
            expected: expected as char,
        });
    }
    Ok(())
}

fn birth_date_ok(d: &[u8]) -> bool {
    let num = |s: &[u8]| s.iter().fold(0u32, |a, c| a * 10 + u32::from(c - b'0'));
    let (y, m, dd) = (num(&d[0..4]), num(&d[4..6]), num(&d[6..8]));
    (1800..=2200).contains(&y) && crate::date::days_in_month(y as i32, m).is_some_and(|n| dd >= 1 && dd <= n)
}

impl fmt::Debug for SubjectId {
    /// Debug output masks the middle of the id: ids are personal data and must not end up
    /// in logs whole.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SubjectId({}…{})", &self.text[..4], &self.text[16..])
    }
}

impl fmt::Display for SubjectId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

impl Serialize for SubjectId {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.text)
    }
}

impl<'de> Deserialize<'de> for SubjectId {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(serde::de::Error::custom)
    }
}

/// The blinded subject id: HMAC-SHA-256(index key, "subject" ‖ normalised id), computed by
/// `credseal-crypto`. Storage keys and receipts name subjects only by their `BlindId`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct BlindId(pub [u8; 32]);

impl BlindId {
    /// The 32 bytes.
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// Lower-case hex of all 32 bytes.
    pub fn to_hex(&self) -> String {
        crate::hex(&self.0)
    }
}

impl fmt::Debug for BlindId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "BlindId({})", &self.to_hex()[..16])
    }
}

impl fmt::Display for BlindId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_hex())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    // Known answers from docs/vectors/subject-ids.md.
    #[test]
    fn resident_vectors() {
        for ok in ["11010519491231002X", "440524188001010014", "11010119900307803X"] {
            let id = SubjectId::parse(ok).unwrap();
            assert_eq!(id.kind(), SubjectKind::Person, "{ok}");
            assert_eq!(id.as_str(), ok);
        }
        assert_eq!(
            SubjectId::parse("110105194912310021"),
            Err(IdError::ResidentCheck { expected: 'X' })
        );
        let lower = SubjectId::parse(" 11010519491231002x ").unwrap();
        assert_eq!(lower.as_str(), "11010519491231002X");
    }

    #[test]
    fn uscc_vectors() {
        let id = SubjectId::parse("91350100M000100Y43").unwrap();
        assert_eq!(id.kind(), SubjectKind::Organisation);
        assert_eq!(
            SubjectId::parse("91350100M000100Y44"),
            Err(IdError::UsccCheck { expected: '3' })
        );
        assert!(matches!(
            SubjectId::parse("91350100M000I00Y43"),
            Err(IdError::BadCharacter { position: 13 })
        ));
    }

    #[test]
    fn bad_shapes() {
        assert_eq!(SubjectId::parse(""), Err(IdError::Length(0)));
        assert_eq!(SubjectId::parse("1101051949123100"), Err(IdError::Length(16)));
        assert!(matches!(
            SubjectId::parse("11010519491231002-"),
            Err(IdError::BadCharacter { position: 18 })
        ));
        assert_eq!(
            SubjectId::parse("中国人民银行征信中心中国人民银行征信中"),
            Err(IdError::Length(19))
        );
        // Birth date 1949-02-30 with a correct check digit.
        let bad_date = SubjectId::resident_from_body("11010519490230002");
        assert!(bad_date.is_none());
    }

    #[test]
    fn builders_make_valid_ids() {
        let p = SubjectId::resident_from_body("11010519491231002").unwrap();
        assert_eq!(p.as_str(), "11010519491231002X");
        let o = SubjectId::uscc_from_body("91350100M000100Y4").unwrap();
        assert_eq!(o.as_str(), "91350100M000100Y43");
    }

    #[test]
    fn debug_masks_the_id() {
        let id = SubjectId::parse("11010519491231002X").unwrap();
        let d = format!("{id:?}");
        assert!(!d.contains("11010519491231002X"));
    }

    proptest::proptest! {
        #[test]
        fn any_resident_body_round_trips(body in "[1-6][0-9]{5}(19[5-9][0-9]|20[01][0-9])(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{3}") {
            let id = SubjectId::resident_from_body(&body).unwrap();
            proptest::prop_assert_eq!(SubjectId::parse(id.as_str()).unwrap(), id.clone());
            // Any other check character is rejected.
            for c in "0123456789X".chars() {
                let s = format!("{body}{c}");
                if s != id.as_str() {
                    proptest::prop_assert!(SubjectId::parse(&s).map(|i| i.kind() != SubjectKind::Person).unwrap_or(true));
                }
            }
        }

        #[test]
        fn any_uscc_body_round_trips(body in "[1-9A-HJ-NP-RTUW-Y][1-9][0-9]{6}[0-9A-HJ-NP-RTUW-Y]{9}") {
            if let Some(id) = SubjectId::uscc_from_body(&body) {
                proptest::prop_assert_eq!(SubjectId::parse(id.as_str()).unwrap(), id);
            }
        }

        #[test]
        fn parse_never_panics(s in "\\PC{0,40}") {
            let _ = SubjectId::parse(&s);
        }
    }
}
