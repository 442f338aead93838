//! A subject's records of one class are stored together in one value, the *bundle*: its
//! wrapped DEK and every sealed record. One storage entry per subject and class keeps the
//! database small (sled spends several hundred bytes on every entry of a randomly keyed
//! tree) and makes reading a class one lookup. Layout in `docs/formats.md` §5.

/// Bundle format byte.
pub const BUNDLE_V1: u8 = 0x01;

/// One sealed record in a bundle.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The blinded record id.
    pub rkey: [u8; 16],
    /// The record version.
    pub version: u32,
    /// The record ciphertext.
    pub sealed: Vec<u8>,
}

/// A subject's class: its wrapped DEK and sealed records, sorted by (record key, version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The wrapped DEK.
    pub wrapped_dek: Vec<u8>,
    /// The records.
    pub entries: Vec<Entry>,
}

impl Bundle {
    /// A bundle with no records yet.
    pub fn new(wrapped_dek: Vec<u8>) -> Self {
        Self {
            wrapped_dek,
            entries: Vec::new(),
        }
    }

    /// The entry of (record key, version).
    pub fn find(&self, rkey: &[u8; 16], version: u32) -> Option<&Entry> {
        self.entries
            .binary_search_by(|e| (&e.rkey, e.version).cmp(&(rkey, version)))
            .ok()
            .map(|i| &self.entries[i])
    }

    /// Adds or replaces an entry, keeping the order.
    pub fn put(&mut self, e: Entry) {
        match self
            .entries
            .binary_search_by(|x| (&x.rkey, x.version).cmp(&(&e.rkey, e.version)))
        {
            Ok(i) => self.entries[i] = e,
            Err(i) => self.entries.insert(i, e),
        }
    }

    /// Encodes: format ‖ wrapped DEK ‖ count:u32 ‖ (rkey ‖ version:u32 ‖ len:u32 ‖ sealed)*.
    pub fn encode(&self) -> Vec<u8> {
        let n: usize = self.entries.iter().map(|e| 24 + e.sealed.len()).sum();
        let mut out = Vec::with_capacity(1 + self.wrapped_dek.len() + 4 + n);
        out.push(BUNDLE_V1);
        out.extend_from_slice(&self.wrapped_dek);
        out.extend_from_slice(&(self.entries.len() as u32).to_be_bytes());
        for e in &self.entries {
            out.extend_from_slice(&e.rkey);
            out.extend_from_slice(&e.version.to_be_bytes());
            out.extend_from_slice(&(e.sealed.len() as u32).to_be_bytes());
            out.extend_from_slice(&e.sealed);
        }
        out
    }

    /// Decodes, rejecting anything but the exact canonical layout (unknown format, short
    /// or trailing bytes, entries out of order or repeated).
    pub fn decode(b: &[u8]) -> Result<Self, &'static str> {
        let dek_len = credseal_crypto::WRAPPED_DEK_LEN;
        if b.first() != Some(&BUNDLE_V1) {
            return Err("unknown bundle format");
        }
        let wrapped_dek = b.get(1..1 + dek_len).ok_or("truncated")?.to_vec();
        let mut at = 1 + dek_len;
        let mut take = |n: usize| -> Result<&[u8], &'static str> {
            let s = b.get(at..at + n).ok_or("truncated")?;
            at += n;
            Ok(s)
        };
        let count = u32::from_be_bytes(take(4)?.try_into().map_err(|_| "truncated")?);
        let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(4096));
        for _ in 0..count {
            let rkey: [u8; 16] = take(16)?.try_into().map_err(|_| "truncated")?;
            let version = u32::from_be_bytes(take(4)?.try_into().map_err(|_| "truncated")?);
            let len = u32::from_be_bytes(take(4)?.try_into().map_err(|_| "truncated")?) as usize;
            let sealed = take(len)?.to_vec();
            if let Some(last) = entries.last()
                && (&last.rkey, last.version) >= (&rkey, version)
            {
                return Err("entries out of order");
            }
            entries.push(Entry { rkey, version, sealed });
        }
        if at != b.len() {
            return Err("trailing bytes");
        }
        Ok(Self { wrapped_dek, entries })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encode_decode_and_canonical() {
        let mut b = Bundle::new(vec![1; credseal_crypto::WRAPPED_DEK_LEN]);
        b.wrapped_dek[0] = 1;
        b.put(Entry {
            rkey: [9; 16],
            version: 1,
            sealed: vec![5; 70],
        });
        b.put(Entry {
            rkey: [3; 16],
            version: 2,
            sealed: vec![6; 80],
        });
        b.put(Entry {
            rkey: [3; 16],
            version: 1,
            sealed: vec![7; 90],
        });
        let enc = b.encode();
        let d = Bundle::decode(&enc).unwrap();
        assert_eq!(d, b);
        assert_eq!(
            d.entries.iter().map(|e| (e.rkey[0], e.version)).collect::<Vec<_>>(),
            [(3, 1), (3, 2), (9, 1)]
        );
        assert_eq!(d.find(&[3; 16], 2).unwrap().sealed, vec![6; 80]);
        assert!(d.find(&[3; 16], 3).is_none());
        let mut t = enc.clone();
        t.push(0);
        assert_eq!(Bundle::decode(&t), Err("trailing bytes"));
        assert_eq!(Bundle::decode(&enc[..enc.len() - 1]), Err("truncated"));
        assert_eq!(Bundle::decode(&[2]), Err("unknown bundle format"));
        for cut in 0..enc.len() {
            assert!(Bundle::decode(&enc[..cut]).is_err());
        }
    }
}
