//! All of one subject's stored data is one value: for each class, its wrapped DEK and every
//! sealed record. One storage entry per subject keeps the database small (sled spends
//! several hundred bytes on every entry of a randomly keyed tree) and makes a query one
//! lookup. Layout in `docs/formats.md` §5.

use std::collections::BTreeMap;
use std::ops::Range;

/// Format byte of a subject's stored records (0x02 was the first layout, with fixed-width
/// counts and lengths and records that repeated their subject, class and version).
pub const SUBJECT_V2: u8 = 0x03;

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

    /// A canonical LEB128 varint of at most 32 bits: no redundant trailing zero group.
    fn varint(&mut self) -> Result<u32, &'static str> {
        let mut v: u32 = 0;
        for i in 0..5 {
            let b = self.take(1)?[0];
            let low = u32::from(b & 0x7f);
            if i == 4 && low > 0x0f {
                return Err("varint out of range");
            }
            v |= low << (7 * i);
            if b & 0x80 == 0 {
                if i > 0 && b == 0 {
                    return Err("non-canonical varint");
                }
                return Ok(v);
            }
        }
        Err("varint out of range")
    }
}

/// Appends `v` as a LEB128 varint (1–5 bytes).
fn put_varint(out: &mut Vec<u8>, mut v: u32) {
    while v >= 0x80 {
        out.push((v as u8) | 0x80);
        v >>= 7;
    }
    out.push(v as u8);
}

fn varint_len(v: u32) -> usize {
    match v {
        0..0x80 => 1,
        0x80..0x4000 => 2,
        0x4000..0x20_0000 => 3,
        0x20_0000..0x1000_0000 => 4,
        _ => 5,
    }
}

impl SubjectRecords {
    /// Encodes: 0x03 ‖ n:varint ‖ (len8(class) ‖ class ‖ wrapped DEK ‖ count:varint ‖
    /// (rkey ‖ version:varint ‖ len:varint ‖ sealed)*)*, classes in increasing order.
    pub fn encode(&self) -> Vec<u8> {
        self.encode_with_layout().0
    }

    /// Encodes and says where each wrapped DEK and record ciphertext lies.
    pub fn encode_with_layout(&self) -> (Vec<u8>, Vec<(Range<usize>, Part)>) {
        let mut out = Vec::with_capacity(self.encoded_len());
        let mut parts = Vec::new();
        out.push(SUBJECT_V2);
        put_varint(&mut out, self.classes.len() as u32);
        for (class, b) in &self.classes {
            out.push(class.len() as u8);
            out.extend_from_slice(class.as_bytes());
            let s = out.len();
            out.extend_from_slice(&b.wrapped_dek);
            parts.push((s..out.len(), Part::WrappedDek { class: class.clone() }));
            put_varint(&mut out, b.entries.len() as u32);
            for e in &b.entries {
                out.extend_from_slice(&e.rkey);
                put_varint(&mut out, e.version);
                put_varint(&mut out, e.sealed.len() as u32);
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
        1 + varint_len(self.classes.len() as u32)
            + self
                .classes
                .iter()
                .map(|(c, b)| {
                    1 + c.len()
                        + b.wrapped_dek.len()
                        + varint_len(b.entries.len() as u32)
                        + b.entries
                            .iter()
                            .map(|e| 16 + varint_len(e.version) + varint_len(e.sealed.len() as u32) + e.sealed.len())
                            .sum::<usize>()
                })
                .sum::<usize>()
    }

    /// Decodes, rejecting anything but the canonical layout: unknown format, short or
    /// trailing bytes, classes or entries out of order or repeated, a class id that is not
    /// UTF-8.
    pub fn decode(b: &[u8]) -> Result<Self, &'static str> {
        let mut r = Reader { b, at: 0 };
        if r.take(1)? != [SUBJECT_V2] {
            return Err("unknown format");
        }
        let n = r.varint()?;
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
            // A data key wrapped by its class's KEK (format 0x01) or by a key-tree leaf (0x02).
            let dek_len = match r.b.get(r.at) {
                Some(&credseal_crypto::FORMAT_V1) => credseal_crypto::WRAPPED_DEK_LEN,
                Some(&credseal_crypto::FORMAT_TREE) => credseal_crypto::TREE_WRAPPED_DEK_LEN,
                Some(_) => return Err("unknown wrapped data key format"),
                None => return Err("truncated"),
            };
            let wrapped_dek = r.take(dek_len)?.to_vec();
            let count = r.varint()?;
            let mut entries: Vec<Entry> = Vec::with_capacity((count as usize).min(4096));
            for _ in 0..count {
                let rkey: [u8; 16] = r.take(16)?.try_into().map_err(|_| "truncated")?;
                let version = r.varint()?;
                let len = r.varint()? as usize;
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
            // A key-tree wrapped data key (format 0x02, 77 bytes) next to a KEK-wrapped one.
            Bundle::new(vec![2; credseal_crypto::TREE_WRAPPED_DEK_LEN]),
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
        assert_eq!(SubjectRecords::decode(&[0x02, 0, 0]), Err("unknown format"));
    }

    #[test]
    fn varints_round_trip_and_only_the_canonical_form_decodes() {
        for v in [
            0,
            1,
            0x7f,
            0x80,
            0x3fff,
            0x4000,
            0x1f_ffff,
            0x20_0000,
            0x0fff_ffff,
            0x1000_0000,
            u32::MAX,
        ] {
            let mut b = Vec::new();
            put_varint(&mut b, v);
            assert_eq!(b.len(), varint_len(v), "{v}");
            let mut r = Reader { b: &b, at: 0 };
            assert_eq!(r.varint(), Ok(v));
            assert_eq!(r.at, b.len());
        }
        let read = |b: &[u8]| Reader { b, at: 0 }.varint();
        // A redundant zero group, a fifth byte beyond 32 bits, a sixth byte, a missing end.
        assert_eq!(read(&[0x81, 0x00]), Err("non-canonical varint"));
        assert_eq!(read(&[0x80, 0x80, 0x00]), Err("non-canonical varint"));
        assert_eq!(read(&[0xff, 0xff, 0xff, 0xff, 0x10]), Err("varint out of range"));
        assert_eq!(read(&[0x80, 0x80, 0x80, 0x80, 0x80, 0x00]), Err("varint out of range"));
        assert_eq!(read(&[0x80]), Err("truncated"));
        // A subject whose class count is written with a redundant zero group is refused.
        let s = sample();
        let enc = s.encode();
        assert_eq!(enc[1], 2);
        let mut t = vec![enc[0], 0x82, 0x00];
        t.extend_from_slice(&enc[2..]);
        assert_eq!(SubjectRecords::decode(&t), Err("non-canonical varint"));
        // Large versions and lengths survive.
        let mut big = SubjectRecords::default();
        let mut b = Bundle::new(vec![1; credseal_crypto::WRAPPED_DEK_LEN]);
        b.put(Entry {
            rkey: [1; 16],
            version: u32::MAX,
            sealed: vec![4; 20_000],
        });
        big.classes.insert("tax".into(), b);
        let enc = big.encode();
        assert_eq!(enc.len(), big.encoded_len());
        assert_eq!(SubjectRecords::decode(&enc).unwrap(), big);
    }
}
