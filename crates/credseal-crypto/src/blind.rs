//! Keyed blinding of identifiers with the index key (HMAC-SHA-256).

use credseal_core::{BlindId, SubjectId};
use ring::hmac;

use crate::secret::{IndexKey, TraceKey};

/// HMAC message prefix of subject blinding (DESIGN §3: "subject" ‖ normalised id).
pub const SUBJECT_LABEL: &[u8] = b"subject";
/// HMAC message prefix of record-id blinding.
pub const RECORD_LABEL: &[u8] = b"credseal:v1:record-id";

fn mac(key: &[u8; 32], parts: &[&[u8]]) -> [u8; 32] {
    let k = hmac::Key::new(hmac::HMAC_SHA256, key);
    let mut ctx = hmac::Context::with_key(&k);
    for p in parts {
        ctx.update(p);
    }
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
        m[..16].try_into().expect("16 of 32 bytes")
    }
}

impl TraceKey {
    /// HMAC-SHA-256(trace key, label ‖ parts…): keyed digests for fingerprints and release digests.
    pub fn digest(&self, label: &[u8], parts: &[&[u8]]) -> [u8; 32] {
        let mut all = Vec::with_capacity(parts.len() + 1);
        all.push(label);
        all.extend_from_slice(parts);
        mac(self.expose_secret(), &all)
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
}
