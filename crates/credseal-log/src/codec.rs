//! Canonical postcard decoding: no trailing bytes, and re-encoding must give the input back
//! (postcard itself accepts over-long varints and unsorted or repeated set elements).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::FormatError;

/// SHA-256 of `data` (subject-map hashes, saved-state checksums).
pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let mut h = [0u8; 32];
    h.copy_from_slice(ring::digest::digest(&ring::digest::SHA256, data).as_ref());
    h
}

pub(crate) fn encode<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    // Cannot fail: every type we encode has a known length for each sequence and map, and
    // the output is a Vec.
    postcard::to_allocvec(value).expect("postcard encoding into a Vec cannot fail")
}

pub(crate) fn decode_canonical<T: Serialize + DeserializeOwned>(
    bytes: &[u8],
    what: &'static str,
) -> Result<T, FormatError> {
    let (value, rest) = postcard::take_from_bytes::<T>(bytes).map_err(|e| match e {
        postcard::Error::DeserializeUnexpectedEnd => FormatError::Truncated { what },
        _ => FormatError::Decode { what },
    })?;
    if !rest.is_empty() {
        return Err(FormatError::TrailingBytes {
            what,
            count: rest.len(),
        });
    }
    if encode(&value) != bytes {
        return Err(FormatError::NonCanonical { what });
    }
    Ok(value)
}
