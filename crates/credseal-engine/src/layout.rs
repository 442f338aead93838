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

/// Meta key: present once every data key of the store is wrapped in a key tree (a new
/// store, or one whose `keys rewrap` or shred moved its KEK-wrapped data keys into the
/// trees); `rewrap` then no longer reads every subject (empty value).
pub const META_TREES_ONLY: &[u8] = b"trees-only";

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

/// Meta key: a public copy of the log key's handover notes, oldest first (each a u32
/// big-endian length and the note's UTF-8 bytes; empty: never rotated). The keystore holds
/// the history of record; this copy lets [`crate::PublicLog`] show the history without the
/// passphrase. It needs no authentication: every note is signed by the keys it hands over
/// between, and the chain is walked from the public `log-key.pub`. Written at `init`, in the
/// commit of a rotation's receipt, and at every open where it differs from the keystore's.
pub const META_LOG_HANDOVERS: &[u8] = b"log-handovers";

/// The value of [`META_LOG_HANDOVERS`] for `notes`.
pub fn encode_handovers<S: AsRef<str>>(notes: &[S]) -> Vec<u8> {
    let mut v = Vec::new();
    for n in notes {
        let n = n.as_ref().as_bytes();
        // A handover note is a few hundred bytes, far below u32::MAX.
        v.extend_from_slice(&(n.len() as u32).to_be_bytes());
        v.extend_from_slice(n);
    }
    v
}

/// The notes of a [`META_LOG_HANDOVERS`] value; `None` if it is not one (a truncated length
/// or note, a note that is not UTF-8).
pub fn decode_handovers(mut v: &[u8]) -> Option<Vec<String>> {
    let mut notes = Vec::new();
    while !v.is_empty() {
        let (len, rest) = v.split_first_chunk::<4>()?;
        let len = usize::try_from(u32::from_be_bytes(*len)).ok()?;
        if rest.len() < len {
            return None;
        }
        let (note, rest) = rest.split_at(len);
        notes.push(String::from_utf8(note.to_vec()).ok()?);
        v = rest;
    }
    Some(notes)
}

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

    #[test]
    fn handovers_round_trip() {
        let notes = ["a\n\n— sig\n".to_string(), String::new(), "b".to_string()];
        let v = encode_handovers(&notes);
        assert_eq!(decode_handovers(&v).unwrap(), notes);
        assert_eq!(decode_handovers(&[]).unwrap(), Vec::<String>::new());
    }

    #[test]
    fn handovers_truncated_are_refused() {
        let v = encode_handovers(&["note one".to_string()]);
        for cut in 1..v.len() {
            assert_eq!(decode_handovers(&v[..cut]), None, "cut at {cut}");
        }
        let mut bad = v.clone();
        bad[4] = 0xff;
        assert_eq!(decode_handovers(&bad), None, "not UTF-8");
    }
}
