//! Storage keys (see `docs/formats.md`, "Storage layout"). Subjects appear only as BlindIds,
//! record ids only as keyed hashes.

use credseal_core::BlindId;

/// Meta key: the storage format version (u32 big-endian).
pub const META_FORMAT: &[u8] = b"format";
/// Meta key: HMAC(index key, PLATFORM_LABEL ‖ origin), binding the database to its keystore.
pub const META_PLATFORM: &[u8] = b"platform";
/// Meta key: present while an ingest is being written (value: SHA-256 of the file).
pub const META_INGEST_PENDING: &[u8] = b"ingest-pending";
/// HMAC label of the platform binding.
pub const PLATFORM_LABEL: &[u8] = b"credseal:v1:platform";
/// Storage format version (2: subject values of format 0x03, records without the subject,
/// class and version their place names; see `docs/formats.md` §3 and §5. 3: one
/// `Fingerprints` entry per disclosure holding its fingerprints, §12. 4: one `LogHashes`
/// entry per receipt holding the stored hashes it added, §7. 5: BlindIds are VRF outputs,
/// each subject's kept under [`vrf_entry_key`], §3; a format 4 store names subjects by HMAC
/// blind ids and is refused).
pub const STORE_FORMAT: u32 = 5;

/// Meta key prefix of the subjects' stored VRF blind ids.
pub const META_VRF: &[u8] = b"vrf:";

/// Meta key of a subject's stored VRF blind id and proof, by its lookup key
/// (HMAC(index key, "subject" ‖ id); value: `credseal_crypto::SubjectVrf::to_stored`).
pub fn vrf_entry_key(lookup: &[u8; 32]) -> Vec<u8> {
    let mut k = Vec::with_capacity(META_VRF.len() + 32);
    k.extend_from_slice(META_VRF);
    k.extend_from_slice(lookup);
    k
}

fn push_class(k: &mut Vec<u8>, class: &str) {
    k.push(class.len() as u8);
    k.extend_from_slice(class.as_bytes());
}

/// `Records`: BlindId → all of the subject's stored records (see `bundle`).
pub fn subject_key(blind: &BlindId) -> Vec<u8> {
    blind.as_bytes().to_vec()
}

/// Meta key prefix of the per-(class, KEK version) data-key counters.
pub const META_DEK_COUNT: &[u8] = b"dek-count:";

/// Meta key of the counter of data keys of `class` wrapped under KEK `version` (value: u64 BE).
/// Counters are updated in the same atomic batch as the bundles they count.
pub fn dek_count_key(class: &str, kek_version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(META_DEK_COUNT.len() + 1 + class.len() + 4);
    k.extend_from_slice(META_DEK_COUNT);
    push_class(&mut k, class);
    k.extend_from_slice(&kek_version.to_be_bytes());
    k
}

/// The BlindId of a `Records` key.
pub fn parse_subject_key(k: &[u8]) -> Option<BlindId> {
    Some(BlindId(k.try_into().ok()?))
}

/// A short, non-identifying name of a subject for messages: the first 8 bytes of its BlindId.
pub fn short(blind: &BlindId) -> String {
    blind.to_hex()[..16].to_string()
}

/// A key as the sled backend stores it (tree tag first), for the benchmark floor only.
pub fn raw_key(tag: u8, key: &[u8]) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + key.len());
    k.push(tag);
    k.extend_from_slice(key);
    k
}

/// Meta key: the highest keystore generation this database has seen (u64 BE, authenticated
/// with the index key). A keystore with a lower one is an older copy: rollback.
pub const META_KEYSTORE_GENERATION: &[u8] = b"keystore-generation";

/// Meta key: a keystore change this platform is making (value: the new generation, u64 BE,
/// then the SHA-256 of the new keystore file, authenticated with the index key). Written
/// durably before the new keystore file, removed in the commit of the change's receipt. At
/// open, a keystore whose generation is above [`META_KEYSTORE_GENERATION`] is accepted only
/// if it is the file such an intent names: a keystore written elsewhere (another platform
/// opened on a copy) is refused.
pub const META_KEYSTORE_INTENT: &[u8] = b"keystore-intent";

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let b = BlindId([3; 32]);
        let k = subject_key(&b);
        assert_eq!(parse_subject_key(&k), Some(b));
        assert_eq!(parse_subject_key(&k[..31]), None);
        assert_ne!(dek_count_key("tax", 2), dek_count_key("tax", 1));
        assert_ne!(dek_count_key("ta", 2), dek_count_key("tax", 2));
    }
}
