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
/// Storage format version.
pub const STORE_FORMAT: u32 = 1;

fn push_class(k: &mut Vec<u8>, class: &str) {
    k.push(class.len() as u8);
    k.extend_from_slice(class.as_bytes());
}

/// `Deks`: BlindId ‖ len(class) ‖ class.
pub fn dek_key(blind: &BlindId, class: &str) -> Vec<u8> {
    let mut k = Vec::with_capacity(33 + class.len());
    k.extend_from_slice(blind.as_bytes());
    push_class(&mut k, class);
    k
}

/// `DekIndex`: len(class) ‖ class ‖ KEK version (u32 BE) ‖ BlindId.
pub fn dek_index_key(class: &str, kek_version: u32, blind: &BlindId) -> Vec<u8> {
    let mut k = dek_index_prefix(class, kek_version);
    k.extend_from_slice(blind.as_bytes());
    k
}

/// Prefix of all `DekIndex` entries of one class and version.
pub fn dek_index_prefix(class: &str, kek_version: u32) -> Vec<u8> {
    let mut k = Vec::with_capacity(1 + class.len() + 4 + 32);
    push_class(&mut k, class);
    k.extend_from_slice(&kek_version.to_be_bytes());
    k
}

/// `Records`: BlindId ‖ len(class) ‖ class ‖ record key (16) ‖ version (u32 BE).
pub fn record_key(blind: &BlindId, class: &str, rkey: &[u8; 16], version: u32) -> Vec<u8> {
    let mut k = record_prefix(blind, class);
    k.extend_from_slice(rkey);
    k.extend_from_slice(&version.to_be_bytes());
    k
}

/// Prefix of all records of one subject and class.
pub fn record_prefix(blind: &BlindId, class: &str) -> Vec<u8> {
    dek_key(blind, class)
}

/// Splits a `Records` key into its parts.
pub fn parse_record_key(k: &[u8]) -> Option<(BlindId, String, [u8; 16], u32)> {
    let blind = BlindId(k.get(..32)?.try_into().ok()?);
    let n = usize::from(*k.get(32)?);
    let class = std::str::from_utf8(k.get(33..33 + n)?).ok()?.to_string();
    let rest = k.get(33 + n..)?;
    if rest.len() != 20 {
        return None;
    }
    let rkey = rest[..16].try_into().ok()?;
    let v = u32::from_be_bytes(rest[16..].try_into().ok()?);
    Some((blind, class, rkey, v))
}

/// Splits a `Deks` key into its parts.
pub fn parse_dek_key(k: &[u8]) -> Option<(BlindId, String)> {
    let blind = BlindId(k.get(..32)?.try_into().ok()?);
    let n = usize::from(*k.get(32)?);
    if k.len() != 33 + n {
        return None;
    }
    Some((blind, std::str::from_utf8(&k[33..]).ok()?.to_string()))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_round_trip() {
        let b = BlindId([3; 32]);
        let k = record_key(&b, "loans", &[9; 16], 7);
        assert_eq!(parse_record_key(&k), Some((b, "loans".into(), [9; 16], 7)));
        assert!(k.starts_with(&record_prefix(&b, "loans")));
        assert!(!k.starts_with(&record_prefix(&b, "loan")));
        assert_eq!(parse_dek_key(&dek_key(&b, "tax")), Some((b, "tax".into())));
        assert_eq!(parse_record_key(&k[..k.len() - 1]), None);
    }
}
