//! Keyed blinding of identifiers with the index key (HMAC-SHA-256).

use credseal_core::{BlindId, SubjectId};
use ring::hmac;

use crate::secret::{IndexKey, TraceKey};

/// HMAC message prefix of subject blinding (docs/design.md §3: "subject" ‖ normalised id).
pub const SUBJECT_LABEL: &[u8] = b"subject";
/// HMAC message prefix of record-id blinding.
pub const RECORD_LABEL: &[u8] = b"credseal:v1:record-id";

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    mac_with(&hmac::Key::new(hmac::HMAC_SHA256, key), &[], parts)
}

/// HMAC-SHA-256(key, head ‖ parts…) with an expanded key.
fn mac_with(key: &hmac::Key, head: &[u8], parts: &[&[u8]]) -> [u8; 32] {
    let mut ctx = hmac::Context::with_key(key);
    ctx.update(head);
    for p in parts {
        ctx.update(p);
    }
    // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
    ctx.sign().as_ref().try_into().expect("HMAC-SHA-256 is 32 bytes")
}

impl IndexKey {
    /// BlindId = HMAC-SHA-256(index key, "subject" ‖ normalised id).
    pub fn blind(&self, id: &SubjectId) -> BlindId {
        BlindId(mac(self.expose_secret(), &[SUBJECT_LABEL, id.as_str().as_bytes()]))
    }

    /// The storage name of a record id: the first 16 bytes of
    /// HMAC-SHA-256(index key, RECORD_LABEL ‖ BlindId ‖ len(class) ‖ class ‖ record id).
    pub fn record_key(&self, blind: &BlindId, class: &str, record_id: &str) -> [u8; 16] {
        let m = mac(
            self.expose_secret(),
            &[
                RECORD_LABEL,
                blind.as_bytes(),
                &[class.len() as u8],
                class.as_bytes(),
                record_id.as_bytes(),
            ],
        );
        // Cannot fail: a 32-byte tag has 16 leading bytes.
        m[..16].try_into().expect("16 of 32 bytes")
    }
}

/// The index key expanded once for many blindings (ingest blinds every line twice).
///
/// [`IndexKey::blind`] and [`IndexKey::record_key`] set up the HMAC key (two SHA-256 blocks)
/// on every call; a `Blinder` does that once and gives byte-identical results.
///
/// Note: ring's expanded HMAC state (the SHA-256 states after the inner and outer pads,
/// from which the key's HMAC outputs can be computed) is not zeroized when a `Blinder` is
/// dropped; ring offers no way to. Build one per bulk operation (one ingest) and drop it
/// at its end, so it lives no longer than that operation. The index key itself stays in
/// the keystore in memory for the platform's lifetime anyway.
pub struct Blinder {
    key: hmac::Key,
}

impl Blinder {
    /// Expands `key` once.
    pub fn new(key: &IndexKey) -> Self {
        Self {
            key: hmac::Key::new(hmac::HMAC_SHA256, key.expose_secret()),
        }
    }

    fn mac(&self, parts: &[&[u8]]) -> [u8; 32] {
        mac_with(&self.key, &[], parts)
    }

    /// The same as [`IndexKey::blind`].
    pub fn blind(&self, id: &SubjectId) -> BlindId {
        BlindId(self.mac(&[SUBJECT_LABEL, id.as_str().as_bytes()]))
    }

    /// The same as [`IndexKey::record_key`].
    pub fn record_key(&self, blind: &BlindId, class: &str, record_id: &str) -> [u8; 16] {
        let m = self.mac(&[
            RECORD_LABEL,
            blind.as_bytes(),
            &[class.len() as u8],
            class.as_bytes(),
            record_id.as_bytes(),
        ]);
        // Cannot fail: a 32-byte tag has 16 leading bytes.
        m[..16].try_into().expect("16 of 32 bytes")
    }
}

impl std::fmt::Debug for Blinder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Blinder([redacted])")
    }
}

impl TraceKey {
    /// HMAC-SHA-256(trace key, label ‖ parts…): keyed digests for fingerprints and release digests.
    pub fn digest(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        mac_with(&hmac::Key::new(hmac::HMAC_SHA256, self.expose_secret()), label, parts)
    }

    /// The trace key expanded once for the many digests of one operation (a disclosure's
    /// fingerprints: one per released field).
    pub fn expand(&self) -> TraceMac {
        TraceMac {
            key: hmac::Key::new(hmac::HMAC_SHA256, self.expose_secret()),
        }
    }
}

/// The trace key expanded once ([`TraceKey::expand`]); byte-identical to [`TraceKey::digest`].
///
/// As with [`Blinder`], ring's expanded HMAC state is not zeroized on drop (ring offers no
/// way to); [`TraceKey::digest`] leaves the same state behind on every call. Build one per
/// operation and drop it at its end.
pub struct TraceMac {
    key: hmac::Key,
}

impl TraceMac {
    /// The same as [`TraceKey::digest`].
    pub fn digest(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        mac_with(&self.key, label, parts)
    }
}

impl std::fmt::Debug for TraceMac {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TraceMac([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blind_is_keyed_and_matches_hmac() {
        let id = SubjectId::parse("11010519491231002X").unwrap();
        let k1 = IndexKey::from_bytes([1; 32]);
        let k2 = IndexKey::from_bytes([2; 32]);
        assert_ne!(k1.blind(&id), k2.blind(&id));
        // Independent computation of HMAC("subject" ‖ id).
        let k = hmac::Key::new(hmac::HMAC_SHA256, &[1; 32]);
        let t = hmac::sign(&k, b"subject11010519491231002X");
        assert_eq!(k1.blind(&id).as_bytes()[..], *t.as_ref());
        let b = k1.blind(&id);
        assert_ne!(k1.record_key(&b, "loans", "A"), k1.record_key(&b, "loan", "sA"));
    }

    #[test]
    fn trace_mac_matches_trace_key() {
        for kb in [[1u8; 32], [0xa5; 32]] {
            let k = TraceKey::from_bytes(kb);
            let m = k.expand();
            for parts in [&[][..], &[&b"a"[..]][..], &[&b"ab"[..], &b""[..], &[0u8; 100][..]][..]] {
                assert_eq!(m.digest(b"label", parts), k.digest(b"label", parts));
            }
        }
        assert_ne!(
            TraceKey::from_bytes([1; 32]).expand().digest(b"l", &[b"x"]),
            TraceKey::from_bytes([2; 32]).expand().digest(b"l", &[b"x"])
        );
    }

    #[test]
    fn blinder_matches_index_key() {
        let ids = ["11010519491231002X", "91350100M000100Y43"].map(|s| SubjectId::parse(s).unwrap());
        for kb in [[1u8; 32], [0xa5; 32], core::array::from_fn(|i| i as u8)] {
            let k = IndexKey::from_bytes(kb);
            let b = Blinder::new(&k);
            for id in &ids {
                let blind = k.blind(id);
                assert_eq!(b.blind(id), blind);
                for (class, rid) in [("loans", "A"), ("loan", "sA"), ("tax", ""), ("x", "LN-1:2/3")] {
                    assert_eq!(b.record_key(&blind, class, rid), k.record_key(&blind, class, rid));
                }
            }
        }
        let b = Blinder::new(&IndexKey::from_bytes([0x41; 32]));
        assert_eq!(format!("{b:?}"), "Blinder([redacted])");
    }
}
