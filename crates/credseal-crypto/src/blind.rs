//! Blind ids and keyed blinding.
//!
//! A subject's [`BlindId`] (its storage id, log id and subject-map key) is the VRF output
//! of its normalised id under the platform's [`VrfKey`] (RFC 9381
//! ECVRF-EDWARDS25519-SHA512-TAI, alpha = the normalised id's ASCII bytes, BlindId = the
//! first 32 bytes of beta): [`VrfKey::prove_subject`] returns it with the proof, which the
//! subject checks with the VRF public key alone. Proving costs a few hundred microseconds,
//! so the engine proves once per subject and keeps the result ([`SubjectVrf::to_stored`])
//! under the subject's cheap *lookup key*, an HMAC with the index key
//! ([`IndexKey::subject_lookup`]). Record ids are blinded with the index key.

use credseal_core::{BlindId, SubjectId};
use credseal_vrf::{PROOF_LEN, VrfError, VrfProof, VrfPublicKey, VrfSecretKey};
use ring::hmac;
use zeroize::Zeroizing;

use crate::secret::{IndexKey, TraceKey, random_array};

/// HMAC message prefix of a subject's lookup key ("subject" ‖ normalised id).
pub const SUBJECT_LABEL: &[u8] = b"subject";
/// HMAC message prefix of the tag of a stored [`SubjectVrf`].
pub const VRF_ENTRY_LABEL: &[u8] = b"credseal:v1:vrf-entry";
/// Length of a stored [`SubjectVrf`]: BlindId ‖ proof ‖ tag.
pub const VRF_ENTRY_LEN: usize = 32 + PROOF_LEN + 32;
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
    /// The subject's lookup key: HMAC-SHA-256(index key, "subject" ‖ normalised id). It
    /// names the stored [`SubjectVrf`] of the subject; it is not its BlindId.
    pub fn subject_lookup(&self, id: &SubjectId) -> [u8; 32] {
        mac(self.expose_secret(), &[SUBJECT_LABEL, id.as_str().as_bytes()])
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
/// [`IndexKey::subject_lookup`] and [`IndexKey::record_key`] set up the HMAC key (two SHA-256 blocks)
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

    /// The same as [`IndexKey::subject_lookup`].
    pub fn subject_lookup(&self, id: &SubjectId) -> [u8; 32] {
        self.mac(&[SUBJECT_LABEL, id.as_str().as_bytes()])
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

/// The platform's VRF key: the secret of every subject's [`BlindId`].
///
/// Wiped on drop (the seed and what is derived from it); `Debug` prints only the public
/// key; cloning re-derives the key from the seed.
pub struct VrfKey(VrfSecretKey);

impl VrfKey {
    /// A fresh key from the operating system's CSPRNG.
    pub fn generate() -> Self {
        let seed = Zeroizing::new(random_array::<32>());
        Self(VrfSecretKey::from_seed(*seed))
    }

    /// The key whose RFC 8032 seed is `seed` (as stored in the keystore).
    pub fn from_seed(seed: [u8; 32]) -> Self {
        Self(VrfSecretKey::from_seed(seed))
    }

    /// The seed, for the keystore to store.
    pub fn expose_secret(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// The VRF public key, published next to the log key.
    pub fn public_key(&self) -> VrfPublicKey {
        self.0.public_key()
    }

    /// Constant-time equality of the seeds.
    pub fn ct_eq(&self, other: &Self) -> bool {
        subtle::ConstantTimeEq::ct_eq(&self.expose_secret()[..], &other.expose_secret()[..]).into()
    }

    /// The subject's BlindId and its VRF proof: `ECVRF_prove(key, normalised id)`,
    /// BlindId = the first 32 bytes of `ECVRF_proof_to_hash`. Costs a few hundred
    /// microseconds: keep the result ([`SubjectVrf::to_stored`]).
    ///
    /// # Errors
    /// [`VrfError::EncodeToCurveExhausted`] with probability about 2^-256.
    pub fn prove_subject(&self, id: &SubjectId) -> Result<SubjectVrf, VrfError> {
        let proof = self.0.prove(id.as_str().as_bytes())?;
        let blind = BlindId(proof.proof_to_hash().blind_id_bytes());
        Ok(SubjectVrf { blind, proof })
    }
}

impl Clone for VrfKey {
    fn clone(&self) -> Self {
        Self::from_seed(*self.expose_secret())
    }
}

impl std::fmt::Debug for VrfKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VrfKey")
            .field("public", &self.public_key())
            .field("secret", &format_args!("[redacted]"))
            .finish()
    }
}

/// A subject's BlindId with the VRF proof that it is the VRF output of the subject's id.
/// Both are public toward the subject (the proof goes into its bundles); neither reveals
/// the id to anyone without it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectVrf {
    blind: BlindId,
    proof: VrfProof,
}

impl SubjectVrf {
    /// The subject's BlindId.
    pub fn blind(&self) -> &BlindId {
        &self.blind
    }

    /// The VRF proof (80 bytes: Gamma ‖ c ‖ s).
    pub fn proof(&self) -> &VrfProof {
        &self.proof
    }

    /// The stored form under the subject's lookup key `lookup`:
    /// `BlindId ‖ proof ‖ HMAC-SHA-256(index key, VRF_ENTRY_LABEL ‖ lookup ‖ BlindId ‖ proof)`
    /// ([`VRF_ENTRY_LEN`] bytes). The tag binds the entry to its lookup key, so an entry
    /// copied under another subject's lookup key (which would hand one subject's records and
    /// receipts to another) is refused by [`SubjectVrf::from_stored`].
    pub fn to_stored(&self, key: &IndexKey, lookup: &[u8; 32]) -> Vec<u8> {
        let mut out = Vec::with_capacity(VRF_ENTRY_LEN);
        out.extend_from_slice(self.blind.as_bytes());
        out.extend_from_slice(self.proof.as_bytes());
        out.extend_from_slice(&entry_tag(key, lookup, &out));
        out
    }

    /// Reads [`SubjectVrf::to_stored`]; `None` if the length, the tag or the proof's
    /// encoding is wrong (an altered or moved entry).
    pub fn from_stored(bytes: &[u8], key: &IndexKey, lookup: &[u8; 32]) -> Option<Self> {
        if bytes.len() != VRF_ENTRY_LEN {
            return None;
        }
        let (body, tag) = bytes.split_at(32 + PROOF_LEN);
        let want = entry_tag(key, lookup, body);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(&want[..], tag)) {
            return None;
        }
        let blind = BlindId(body[..32].try_into().ok()?);
        let proof = VrfProof::from_bytes(&body[32..]).ok()?;
        Some(Self { blind, proof })
    }
}

fn entry_tag(key: &IndexKey, lookup: &[u8; 32], body: &[u8]) -> [u8; 32] {
    mac(key.expose_secret(), &[VRF_ENTRY_LABEL, lookup, body])
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

    /// The HMAC state after `label ‖ parts…`, for many digests that start alike (the
    /// fields of one record): [`TracePrefix::digest`]`(rest)` is
    /// [`TraceMac::digest`]`(label, parts ‖ rest)`, without hashing the common start again.
    pub fn prefix(&self, label: &[u8], parts: &[&[u8]]) -> TracePrefix {
        let mut ctx = hmac::Context::with_key(&self.key);
        ctx.update(label);
        for p in parts {
            ctx.update(p);
        }
        TracePrefix { ctx }
    }
}

/// A [`TraceMac`] digest begun over a common start ([`TraceMac::prefix`]). As with
/// [`TraceMac`], ring's HMAC state is not zeroized on drop.
pub struct TracePrefix {
    ctx: hmac::Context,
}

impl TracePrefix {
    /// HMAC-SHA-256(trace key, label ‖ prefix parts ‖ `parts`…).
    pub fn digest(&self, parts: &[&[u8]]) -> [u8; 32] {
        let mut ctx = self.ctx.clone();
        for p in parts {
            ctx.update(p);
        }
        // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
        ctx.sign().as_ref().try_into().expect("HMAC-SHA-256 is 32 bytes")
    }
}

impl std::fmt::Debug for TracePrefix {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TracePrefix([redacted])")
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
    fn lookup_is_keyed_and_matches_hmac() {
        let id = SubjectId::parse("11010519491231002X").unwrap();
        let k1 = IndexKey::from_bytes([1; 32]);
        let k2 = IndexKey::from_bytes([2; 32]);
        assert_ne!(k1.subject_lookup(&id), k2.subject_lookup(&id));
        // Independent computation of HMAC("subject" ‖ id).
        let k = hmac::Key::new(hmac::HMAC_SHA256, &[1; 32]);
        let t = hmac::sign(&k, b"subject11010519491231002X");
        assert_eq!(k1.subject_lookup(&id)[..], *t.as_ref());
        let b = BlindId(k1.subject_lookup(&id));
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
    fn trace_prefix_matches_the_whole_digest() {
        let k = TraceKey::from_bytes([7; 32]);
        let m = k.expand();
        // Starts shorter than, about and longer than one SHA-256 block (64 bytes).
        for start in [&[0x11u8; 3][..], &[0x22; 60][..], &[0x33; 64][..], &[0x44; 150][..]] {
            let p = m.prefix(b"label", &[start, b"x"]);
            for rest in [&[][..], &[&b"field"[..], &b"value"[..]][..], &[&[0u8; 200][..]][..]] {
                let mut whole: Vec<&[u8]> = vec![start, b"x"];
                whole.extend_from_slice(rest);
                assert_eq!(p.digest(rest), k.digest(b"label", &whole));
            }
            // Each digest starts again from the prefix: the order of use does not matter.
            assert_eq!(p.digest(&[b"a"]), m.digest(b"label", &[start, b"x", b"a"]));
        }
        assert_ne!(
            m.prefix(b"l", &[b"x"]).digest(&[b"y"]),
            m.prefix(b"l", &[b"xy"]).digest(&[b"z"])
        );
    }

    #[test]
    fn blinder_matches_index_key() {
        let ids = ["11010519491231002X", "91350100M000100Y43"].map(|s| SubjectId::parse(s).unwrap());
        for kb in [[1u8; 32], [0xa5; 32], core::array::from_fn(|i| i as u8)] {
            let k = IndexKey::from_bytes(kb);
            let b = Blinder::new(&k);
            for id in &ids {
                assert_eq!(b.subject_lookup(id), k.subject_lookup(id));
                let blind = BlindId(k.subject_lookup(id));
                for (class, rid) in [("loans", "A"), ("loan", "sA"), ("tax", ""), ("x", "LN-1:2/3")] {
                    assert_eq!(b.record_key(&blind, class, rid), k.record_key(&blind, class, rid));
                }
            }
        }
        let b = Blinder::new(&IndexKey::from_bytes([0x41; 32]));
        assert_eq!(format!("{b:?}"), "Blinder([redacted])");
    }

    #[test]
    fn subject_blind_id_is_the_verified_vrf_output() {
        let key = VrfKey::from_seed([9; 32]);
        let id = SubjectId::parse("11010519491231002X").unwrap();
        let other = SubjectId::parse("91350100M000100Y43").unwrap();
        let v = key.prove_subject(&id).unwrap();
        // The subject's check with public material only.
        let beta = key.public_key().verify(id.as_str().as_bytes(), v.proof()).unwrap();
        assert_eq!(v.blind().as_bytes()[..], beta.as_bytes()[..32]);
        assert!(key.public_key().verify(other.as_str().as_bytes(), v.proof()).is_err());
        assert_ne!(key.prove_subject(&other).unwrap().blind(), v.blind());
        assert_ne!(
            VrfKey::from_seed([8; 32]).prove_subject(&id).unwrap().blind(),
            v.blind()
        );
        assert_eq!(key.clone().prove_subject(&id).unwrap(), v);
        assert!(!format!("{key:?}").contains("0909"));
    }

    #[test]
    fn stored_vrf_entry_round_trips_and_is_bound_to_its_lookup_key() {
        let key = VrfKey::from_seed([9; 32]);
        let ik = IndexKey::from_bytes([3; 32]);
        let a = SubjectId::parse("11010519491231002X").unwrap();
        let b = SubjectId::parse("91350100M000100Y43").unwrap();
        let (la, lb) = (ik.subject_lookup(&a), ik.subject_lookup(&b));
        let va = key.prove_subject(&a).unwrap();
        let stored = va.to_stored(&ik, &la);
        assert_eq!(stored.len(), VRF_ENTRY_LEN);
        assert_eq!(SubjectVrf::from_stored(&stored, &ik, &la), Some(va.clone()));
        // Moved under another subject's lookup key, other index key, bit flips, truncation.
        assert_eq!(SubjectVrf::from_stored(&stored, &ik, &lb), None);
        assert_eq!(
            SubjectVrf::from_stored(&stored, &IndexKey::from_bytes([4; 32]), &la),
            None
        );
        for i in [0, 31, 32, 111, 112, VRF_ENTRY_LEN - 1] {
            let mut t = stored.clone();
            t[i] ^= 1;
            assert_eq!(SubjectVrf::from_stored(&t, &ik, &la), None, "flip at {i}");
        }
        assert_eq!(SubjectVrf::from_stored(&stored[..VRF_ENTRY_LEN - 1], &ik, &la), None);
    }
}
