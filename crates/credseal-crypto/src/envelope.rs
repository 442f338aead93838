//! Envelope encryption (docs/design.md §4; byte layouts in `docs/formats.md`).
//!
//! ```text
//! wrapping key = HKDF-SHA-256(ikm = KEK(c,v), salt = "", info = WRAP_LABEL ‖ BlindId ‖ len(c) ‖ c)
//! wrapped DEK  = 0x01 ‖ v:u32be ‖ nonce:12 ‖ AES-256-GCM(wrapping key, nonce, DEK,
//!                    aad = DEK_LABEL ‖ BlindId ‖ len(c) ‖ c ‖ v:u32be)
//! record       = 0x01 ‖ nonce:12 ‖ commit:32 ‖ AES-256-GCM(DEK, nonce, fields,
//!                    aad = RECORD_LABEL ‖ BlindId ‖ len(c) ‖ c ‖ record key:16 ‖ version:u32be)
//! commit       = HKDF-SHA-256(ikm = DEK, salt = nonce, info = COMMIT_LABEL ‖ aad)
//! ```
//! The commitment is checked (in constant time) before AES-GCM runs, so a ciphertext can
//! only ever open under the one DEK that made it.

use credseal_core::BlindId;
use ring::hkdf;
use zeroize::{Zeroize, Zeroizing};

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::secret::{Dek, Kek, random_array};

/// Format byte of wrapped DEKs and record ciphertexts.
pub const FORMAT_V1: u8 = 0x01;
/// HKDF info label of the per-subject, per-class wrapping key.
pub const WRAP_LABEL: &[u8] = b"credseal:v1:wrap";
/// AAD label of wrapped DEKs.
pub const DEK_LABEL: &[u8] = b"credseal:v1:dek";
/// AAD label of record ciphertexts.
pub const RECORD_LABEL: &[u8] = b"credseal:v1:record";
/// HKDF info label of the record key commitment.
pub const COMMIT_LABEL: &[u8] = b"credseal:v1:record-commit";
/// Length of a wrapped DEK.
pub const WRAPPED_DEK_LEN: usize = 1 + 4 + NONCE_LEN + 32 + TAG_LEN;
/// Bytes a record ciphertext adds to its plaintext.
pub const RECORD_OVERHEAD: usize = 1 + NONCE_LEN + 32 + TAG_LEN;
const COMMIT_LEN: usize = 32;

/// Why a ciphertext did not open. Deliberately carries nothing secret.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CryptoError {
    /// Shorter than its format allows.
    #[error("{what} is truncated ({len} bytes)")]
    Truncated {
        /// What was being opened.
        what: &'static str,
        /// Its length.
        len: usize,
    },
    /// The format byte is not one this build knows.
    #[error("{what} has unknown format byte {found:#04x}")]
    UnknownFormat {
        /// What was being opened.
        what: &'static str,
        /// The byte found.
        found: u8,
    },
    /// The key commitment does not match: this ciphertext was not made with this data key.
    #[error(
        "record key commitment does not match: the ciphertext was altered or belongs to another subject, class or record"
    )]
    KeyCommitment,
    /// AES-GCM authentication failed.
    #[error("{what} failed authentication: it was altered or belongs to another subject, class or record")]
    Authentication {
        /// What was being opened.
        what: &'static str,
    },
}

/// Where a wrapped DEK belongs.
#[derive(Clone, Copy, Debug)]
pub struct DekContext<'a> {
    /// The subject.
    pub blind: &'a BlindId,
    /// The class id.
    pub class: &'a str,
}

/// Where a record ciphertext belongs.
#[derive(Clone, Copy, Debug)]
pub struct RecordContext<'a> {
    /// The subject.
    pub blind: &'a BlindId,
    /// The class id.
    pub class: &'a str,
    /// The blinded record id (see `IndexKey::record_key`).
    pub record_key: &'a [u8; 16],
    /// The record version.
    pub version: u32,
}

fn class_bytes(class: &str) -> [u8; 1] {
    // Class ids are at most MAX_ID_LEN (48) bytes, checked by the catalogue.
    debug_assert!(class.len() <= credseal_core::MAX_ID_LEN);
    [class.len() as u8]
}

fn dek_aad(ctx: &DekContext<'_>, kek_version: u32) -> Vec<u8> {
    let mut a = Vec::with_capacity(DEK_LABEL.len() + 32 + 1 + ctx.class.len() + 4);
    a.extend_from_slice(DEK_LABEL);
    a.extend_from_slice(ctx.blind.as_bytes());
    a.extend_from_slice(&class_bytes(ctx.class));
    a.extend_from_slice(ctx.class.as_bytes());
    a.extend_from_slice(&kek_version.to_be_bytes());
    a
}

fn record_aad(ctx: &RecordContext<'_>) -> Vec<u8> {
    let mut a = Vec::with_capacity(RECORD_LABEL.len() + 32 + 1 + ctx.class.len() + 16 + 4);
    a.extend_from_slice(RECORD_LABEL);
    a.extend_from_slice(ctx.blind.as_bytes());
    a.extend_from_slice(&class_bytes(ctx.class));
    a.extend_from_slice(ctx.class.as_bytes());
    a.extend_from_slice(ctx.record_key);
    a.extend_from_slice(&ctx.version.to_be_bytes());
    a
}

/// HKDF-SHA-256 with a 32-byte output.
pub(crate) fn hkdf32(ikm: &[u8], salt: &[u8], info: &[&[u8]]) -> Zeroizing<[u8; 32]> {
    let prk = hkdf::Salt::new(hkdf::HKDF_SHA256, salt).extract(ikm);
    let mut out = Zeroizing::new([0u8; 32]);
    prk.expand(info, hkdf::HKDF_SHA256)
        // 32 bytes is far below HKDF's 255 × 32 limit.
        .and_then(|okm| okm.fill(&mut out[..]))
        // Cannot fail: HKDF-SHA-256 can produce up to 8160 bytes; we ask for 32.
        .expect("HKDF output length within limits");
    out
}

fn wrapping_key(kek: &Kek, ctx: &DekContext<'_>) -> Zeroizing<[u8; 32]> {
    hkdf32(
        kek.expose_secret(),
        &[],
        &[
            WRAP_LABEL,
            ctx.blind.as_bytes(),
            &class_bytes(ctx.class),
            ctx.class.as_bytes(),
        ],
    )
}

/// Wraps `dek` under `kek` (version `kek_version`) for the subject and class in `ctx`.
pub fn wrap_dek(kek: &Kek, kek_version: u32, ctx: &DekContext<'_>, dek: &Dek) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_array();
    let key = wrapping_key(kek, ctx);
    let mut out = Vec::with_capacity(WRAPPED_DEK_LEN);
    out.push(FORMAT_V1);
    out.extend_from_slice(&kek_version.to_be_bytes());
    out.extend_from_slice(&nonce);
    let mut buf = dek.expose_secret().to_vec();
    aead::seal_in_place(&key, &nonce, &dek_aad(ctx, kek_version), &mut buf);
    out.extend_from_slice(&buf);
    buf.zeroize();
    out
}

/// The KEK version a wrapped DEK names in its header (read before unwrapping to pick the KEK).
pub fn wrapped_kek_version(wrapped: &[u8]) -> Result<u32, CryptoError> {
    if wrapped.len() != WRAPPED_DEK_LEN {
        return Err(CryptoError::Truncated {
            what: "wrapped data key",
            len: wrapped.len(),
        });
    }
    if wrapped[0] != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat {
            what: "wrapped data key",
            found: wrapped[0],
        });
    }
    Ok(u32::from_be_bytes([wrapped[1], wrapped[2], wrapped[3], wrapped[4]]))
}

/// Unwraps a DEK with `kek`, which must be the version named in the header.
pub fn unwrap_dek(kek: &Kek, ctx: &DekContext<'_>, wrapped: &[u8]) -> Result<Dek, CryptoError> {
    let v = wrapped_kek_version(wrapped)?;
    // Cannot fail: wrapped_kek_version checked the exact wrapped length.
    let nonce: [u8; NONCE_LEN] = wrapped[5..5 + NONCE_LEN].try_into().expect("length checked");
    let key = wrapping_key(kek, ctx);
    let mut buf = wrapped[5 + NONCE_LEN..].to_vec();
    aead::open_in_place(&key, &nonce, &dek_aad(ctx, v), &mut buf).map_err(|()| CryptoError::Authentication {
        what: "wrapped data key",
    })?;
    // Cannot fail: AES-GCM keeps the plaintext length, and a wrapped key's plaintext is 32 bytes.
    let mut bytes: [u8; 32] = buf.as_slice().try_into().expect("GCM keeps the length");
    buf.zeroize();
    let dek = Dek::from_bytes(bytes);
    bytes.zeroize();
    Ok(dek)
}

fn commitment(dek: &Dek, nonce: &[u8; NONCE_LEN], aad: &[u8]) -> Zeroizing<[u8; 32]> {
    hkdf32(dek.expose_secret(), nonce, &[COMMIT_LABEL, aad])
}

/// Encrypts a record's plaintext under its subject's class DEK, bound to `ctx`.
pub fn seal_record(dek: &Dek, ctx: &RecordContext<'_>, plaintext: &[u8]) -> Vec<u8> {
    let nonce: [u8; NONCE_LEN] = random_array();
    let aad = record_aad(ctx);
    let mut out = Vec::with_capacity(RECORD_OVERHEAD + plaintext.len());
    out.push(FORMAT_V1);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&commitment(dek, &nonce, &aad)[..]);
    let mut buf = Vec::with_capacity(plaintext.len() + TAG_LEN);
    buf.extend_from_slice(plaintext);
    aead::seal_in_place(dek.expose_secret(), &nonce, &aad, &mut buf);
    out.extend_from_slice(&buf);
    out
}

/// Opens a record ciphertext: format, then key commitment, then AES-GCM.
pub fn open_record(dek: &Dek, ctx: &RecordContext<'_>, sealed: &[u8]) -> Result<Zeroizing<Vec<u8>>, CryptoError> {
    if sealed.len() < RECORD_OVERHEAD {
        return Err(CryptoError::Truncated {
            what: "record ciphertext",
            len: sealed.len(),
        });
    }
    if sealed[0] != FORMAT_V1 {
        return Err(CryptoError::UnknownFormat {
            what: "record ciphertext",
            found: sealed[0],
        });
    }
    // Cannot fail: the sealed length was checked against the minimum above.
    let nonce: [u8; NONCE_LEN] = sealed[1..1 + NONCE_LEN].try_into().expect("length checked");
    let stored_commit = &sealed[1 + NONCE_LEN..1 + NONCE_LEN + COMMIT_LEN];
    let aad = record_aad(ctx);
    let expected = commitment(dek, &nonce, &aad);
    if !bool::from(subtle::ConstantTimeEq::ct_eq(stored_commit, &expected[..])) {
        return Err(CryptoError::KeyCommitment);
    }
    let mut buf = Zeroizing::new(sealed[1 + NONCE_LEN + COMMIT_LEN..].to_vec());
    aead::open_in_place(dek.expose_secret(), &nonce, &aad, &mut buf).map_err(|()| CryptoError::Authentication {
        what: "record ciphertext",
    })?;
    Ok(buf)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn blind(b: u8) -> BlindId {
        BlindId([b; 32])
    }

    #[test]
    fn dek_wrap_round_trip_and_binding() {
        let kek = Kek::generate();
        let dek = Dek::generate();
        let b = blind(1);
        let ctx = DekContext {
            blind: &b,
            class: "loans",
        };
        let w = wrap_dek(&kek, 3, &ctx, &dek);
        assert_eq!(w.len(), WRAPPED_DEK_LEN);
        assert_eq!(wrapped_kek_version(&w), Ok(3));
        assert!(unwrap_dek(&kek, &ctx, &w).unwrap().ct_eq(&dek));
        // Another subject, another class, another KEK, an edited version: all fail.
        let b2 = blind(2);
        let auth = Err(CryptoError::Authentication {
            what: "wrapped data key",
        });
        assert_eq!(
            unwrap_dek(
                &kek,
                &DekContext {
                    blind: &b2,
                    class: "loans"
                },
                &w
            )
            .map(|_| ()),
            auth
        );
        assert_eq!(
            unwrap_dek(
                &kek,
                &DekContext {
                    blind: &b,
                    class: "tax"
                },
                &w
            )
            .map(|_| ()),
            auth
        );
        assert_eq!(unwrap_dek(&Kek::generate(), &ctx, &w).map(|_| ()), auth);
        let mut v = w.clone();
        v[4] ^= 1;
        assert_eq!(unwrap_dek(&kek, &ctx, &v).map(|_| ()), auth);
        for i in 0..w.len() {
            let mut t = w.clone();
            t[i] ^= 0x80;
            assert!(unwrap_dek(&kek, &ctx, &t).is_err(), "flip at {i}");
        }
        assert!(matches!(
            unwrap_dek(&kek, &ctx, &w[..40]),
            Err(CryptoError::Truncated { .. })
        ));
    }

    #[test]
    fn record_round_trip_and_binding() {
        let dek = Dek::generate();
        let b = blind(9);
        let rk = [5u8; 16];
        let ctx = RecordContext {
            blind: &b,
            class: "loans",
            record_key: &rk,
            version: 1,
        };
        let c = seal_record(&dek, &ctx, b"field values");
        assert_eq!(c.len(), 12 + RECORD_OVERHEAD);
        assert_eq!(&open_record(&dek, &ctx, &c).unwrap()[..], b"field values");
        let b2 = blind(8);
        let rk2 = [6u8; 16];
        for other in [
            RecordContext { blind: &b2, ..ctx },
            RecordContext { class: "tax", ..ctx },
            RecordContext {
                record_key: &rk2,
                ..ctx
            },
            RecordContext { version: 2, ..ctx },
        ] {
            assert_eq!(
                open_record(&dek, &other, &c).map(|_| ()),
                Err(CryptoError::KeyCommitment)
            );
        }
        assert_eq!(
            open_record(&Dek::generate(), &ctx, &c).map(|_| ()),
            Err(CryptoError::KeyCommitment)
        );
        for i in 0..c.len() {
            let mut t = c.clone();
            t[i] ^= 1;
            assert!(open_record(&dek, &ctx, &t).is_err(), "flip at {i}");
        }
        // Past the commitment, a flip is caught by GCM.
        let mut t = c.clone();
        *t.last_mut().unwrap() ^= 1;
        assert_eq!(
            open_record(&dek, &ctx, &t).map(|_| ()),
            Err(CryptoError::Authentication {
                what: "record ciphertext"
            })
        );
    }

    proptest::proptest! {
        #[test]
        fn record_seal_open(pt in proptest::collection::vec(proptest::prelude::any::<u8>(), 0..2048),
                            class in "[a-z][a-z0-9-]{0,47}", ver in 1u32.., bb in proptest::prelude::any::<u8>()) {
            let dek = Dek::generate();
            let b = blind(bb);
            let rk = [bb; 16];
            let ctx = RecordContext { blind: &b, class: &class, record_key: &rk, version: ver };
            let c = seal_record(&dek, &ctx, &pt);
            proptest::prop_assert_eq!(&open_record(&dek, &ctx, &c).unwrap()[..], &pt[..]);
        }

        #[test]
        fn dek_wrap_unwrap(class in "[a-z][a-z0-9-]{0,47}", ver in proptest::prelude::any::<u32>(), bb in proptest::prelude::any::<u8>()) {
            let kek = Kek::generate();
            let dek = Dek::generate();
            let b = blind(bb);
            let ctx = DekContext { blind: &b, class: &class };
            let w = wrap_dek(&kek, ver, &ctx, &dek);
            proptest::prop_assert!(unwrap_dek(&kek, &ctx, &w).unwrap().ct_eq(&dek));
        }
    }
}
