//! All of one subject's stored data is one value: for each class, its wrapped DEK and every
//! sealed record. One storage entry per subject keeps the database small (sled spends
//! several hundred bytes on every entry of a randomly keyed tree) and makes a query one
//! lookup. Layout in `docs/formats.md` §5.

use std::collections::BTreeMap;
use std::ops::Range;

/// Format byte of a subject's stored records.
pub const SUBJECT_V1: u8 = 0x02;

/// One sealed record.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The blinded record id.
    pub rkey: [u8; 16],
    /// The record version.
    pub version: u32,
    /// The record ciphertext.
    pub sealed: Vec<u8>,
}

/// One class of a subject: its wrapped DEK and sealed records, sorted by (record key, version).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Bundle {
    /// The wrapped DEK.
    pub wrapped_dek: Vec<u8>,
    /// The records.
    pub entries: Vec<Entry>,
}

/// Every class of one subject, by class id.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct SubjectRecords {
    /// Class id → its bundle.
    pub classes: BTreeMap<String, Bundle>,
}

/// What a byte range of an encoded [`SubjectRecords`] holds (for tests and tools).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Part {
    /// The wrapped DEK of a class.
    WrappedDek {
        /// The class.
        class: String,
    },
    /// A record ciphertext.
    Sealed {
        /// The class.
        class: String,
        /// Its record key.
        rkey: [u8; 16],
        /// Its version.
        version: u32,
    },
}

impl Bundle {
    /// A class with no records yet.
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
}

struct Reader<'a> {
    b: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn take(&mut self, n: usize) -> Result<&'a [u8], &'static str> {
        let s = self
            .b
            .get(self.at..self.at.checked_add(n).ok_or("truncated")?)
            .ok_or("truncated")?;
        self.at += n;
        Ok(s)
    }

    fn u32(&mut self) -> Result<u32, &'static str> {
        Ok(u32::from_be_bytes(self.take(4)?.try_into().map_err(|_| "truncated")?))
    }
}

impl SubjectRecords {
    /// Encodes: 0x02 ‖ n:u16 ‖ (len8(class) ‖ class ‖ wrapped DEK ‖ count:u32 ‖
    /// (rkey ‖ version:u32 ‖ len:u32 ‖ sealed)*)*, classes in increasing order.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_layout().0
    }

    /// Encodes and says where each wrapped DEK and record ciphertext lies.
    pub fn encode_with_layout(&self) -> (Vec<u8>, Vec<(Range<usize>, Part)>) {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut parts = Vec::new();
        out.push(SUBJECT_V1);
        out.extend_from_slice(&(self.classes.len() as u16).to_be_bytes());
        for (class, b) in &self.classes {
            out.push(class.len() as u8);
            out.extend_from_slice(class.as_bytes());
            let s = out.len();
            out.extend_from_slice(&b.wrapped_dek);
            parts.push((s..out.len(), Part::WrappedDek { class: class.clone() }));
            out.extend_from_slice(&(b.entries.len() as u32).to_be_bytes());
            for e in &b.entries {
                out.extend_from_slice(&e.rkey);
                out.extend_from_slice(&e.version.to_be_bytes());
                out.extend_from_slice(&(e.sealed.len() as u32).to_be_bytes());
                let s = out.len();
                out.extend_from_slice(&e.sealed);
                parts.push((
                    s..out.len(),
                    Part::Sealed {
                        class: class.clone(),
                        rkey: e.rkey,
                        version: e.version,
                    },
                ));
            }
        }
        (out, parts)
    }

    fn encoded_len(&self) -> usize {
        3 + self
            .classes
            .iter()
            .map(|(c, b)| {
                1 + c.len() + b.wrapped_dek.len() + 4 + b.entries.iter().map(|e| 24 + e.sealed.len()).sum::<usize>()
            })
            .sum::<usize>()
    }

    /// Decodes, rejecting anything but the canonical layout: unknown format, short or
    /// trailing bytes, classes or entries out of order or repeated, a class id that is not
    /// UTF-8.
    pub fn decode(b: &[u8]) -> Result<Self, &'static str> {
        let dek_len = credseal_crypto::WRAPPED_DEK_LEN;
        let mut r = Reader { b, at: 0 };
        if r.take(1)? != [SUBJECT_V1] {
            return Err("unknown format");
        }
        let n = u16::from_be_bytes(r.take(2)?.try_into().map_err(|_| "truncated")?);
        let mut classes = BTreeMap::new();
        let mut last_class: Option<String> = None;
        for _ in 0..n {
            let len = usize::from(r.take(1)?[0]);
            let class = std::str::from_utf8(r.take(len)?)
                .map_err(|_| "class id is not UTF-8")?
                .to_string();
            if last_class.as_ref().is_some_and(|l| *l >= class) {
                return Err("classes out of order");
            }
            let wrapped_dek = r.take(dek_len)?.to_vec();
            let count = r.u32()?;
            let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(4096));
            for _ in 0..count {
                let rkey: [u8; 16] = r.take(16)?.try_into().map_err(|_| "truncated")?;
                let version = r.u32()?;
                let len = r.u32()? as usize;
                let sealed = r.take(len)?.to_vec();
                if let Some(last) = entries.last()
                    && (&last.rkey, last.version) >= (&rkey, version)
                {
                    return Err("entries out of order");
                }
                entries.push(Entry { rkey, version, sealed });
            }
            last_class = Some(class.clone());
            classes.insert(class, Bundle { wrapped_dek, entries });
        }
        if r.at != b.len() {
            return Err("trailing bytes");
        }
        Ok(Self { classes })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> SubjectRecords {
        let mut s = SubjectRecords::default();
        let mut b = Bundle::new(vec![1; credseal_crypto::WRAPPED_DEK_LEN]);
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
        s.classes.insert("loans".into(), b);
        s.classes.insert(
            "identity".into(),
            Bundle::new(vec![2; credseal_crypto::WRAPPED_DEK_LEN]),
        );
        s
    }

    #[test]
    fn encode_decode_and_canonical() {
        let s = sample();
        let (enc, parts) = s.encode_with_layout();
        assert_eq!(enc.len(), s.encoded_len());
        assert_eq!(SubjectRecords::decode(&enc).unwrap(), s);
        assert_eq!(parts.len(), 5);
        let b = &s.classes["loans"];
        assert_eq!(
            b.entries.iter().map(|e| (e.rkey[0], e.version)).collect::<Vec<_>>(),
            [(3, 1), (3, 2), (9, 1)]
        );
        assert_eq!(b.find(&[3; 16], 2).unwrap().sealed, vec![6; 80]);
        assert!(b.find(&[3; 16], 3).is_none());
        let mut t = enc.clone();
        t.push(0);
        assert_eq!(SubjectRecords::decode(&t), Err("trailing bytes"));
        for cut in 0..enc.len() {
            assert!(SubjectRecords::decode(&enc[..cut]).is_err(), "cut at {cut}");
        }
        assert_eq!(SubjectRecords::decode(&[1]), Err("unknown format"));
    }
}
