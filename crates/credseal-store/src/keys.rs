//! Key layout shared by the backends: `tag(tree) || key` in one ordered key space.
//!
//! Tag `0` is reserved for the store's own bookkeeping and is never inside any logical tree.

use std::ops::Bound;

use crate::{StoreError, Tree};

/// `tag || key`.
pub(crate) fn tagged(tree: Tree, key: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 1);
    out.push(tree.tag());
    out.extend_from_slice(key);
    out
}

/// Removes the tree tag from a key read back from the ordered key space.
///
/// A key with the wrong tag can only come from a damaged backend; it is reported, not trusted.
pub(crate) fn untag(tree: Tree, stored: &[u8]) -> Result<Vec<u8>, StoreError> {
    match stored.split_first() {
        Some((&tag, key)) if tag == tree.tag() => Ok(key.to_vec()),
        _ => Err(StoreError::Corrupt {
            detail: format!("a scan of tree {tree} returned a key outside that tree"),
        }),
    }
}

/// The smallest key greater than every key that starts with `prefix`, or `None` when there is
/// none (`prefix` is empty or all `0xFF`).
fn prefix_successor(prefix: &[u8]) -> Option<Vec<u8>> {
    let mut upper = prefix.to_vec();
    while let Some(last) = upper.pop() {
        if last < u8::MAX {
            upper.push(last + 1);
            return Some(upper);
        }
    }
    None
}

/// A non-empty key range in the tagged key space: `lower ..` up to `upper` (exclusive).
#[derive(Debug, Clone)]
pub(crate) struct Span {
    pub(crate) lower: Bound<Vec<u8>>,
    pub(crate) upper: Vec<u8>,
}

impl Span {
    /// The tagged keys of `tree` that start with `prefix` and are strictly greater than
    /// `after` (when given). `None` when that range is certainly empty.
    pub(crate) fn new(tree: Tree, prefix: &[u8], after: Option<&[u8]>) -> Option<Span> {
        let start = tagged(tree, prefix);
        // The first byte is a tag below 0xFF, so a successor always exists; the fallback
        // (the next tag) is the same bound computed another way.
        let upper = prefix_successor(&start).unwrap_or_else(|| vec![tree.tag().saturating_add(1)]);
        let (low, excluded) = match after {
            Some(after) => {
                let after = tagged(tree, after);
                if after >= start { (after, true) } else { (start, false) }
            }
            None => (start, false),
        };
        // Empty (and, for BTreeMap::range, invalid) when the lower key is not below `upper`.
        if low >= upper {
            return None;
        }
        let lower = if excluded {
            Bound::Excluded(low)
        } else {
            Bound::Included(low)
        };
        Some(Span { lower, upper })
    }

    /// The range as a pair of bounds, for `BTreeMap::range` and `sled::Tree::range`.
    pub(crate) fn bounds(&self) -> (Bound<Vec<u8>>, Bound<Vec<u8>>) {
        (self.lower.clone(), Bound::Excluded(self.upper.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn successor_skips_trailing_ff() {
        assert_eq!(prefix_successor(&[1, 2, 0xFF, 0xFF]), Some(vec![1, 3]));
        assert_eq!(prefix_successor(&[0xFF]), None);
        assert_eq!(prefix_successor(&[]), None);
    }

    #[test]
    fn span_of_all_ff_prefix_stays_in_tree() {
        let span = Span::new(Tree::Revocations, &[0xFF, 0xFF], None).unwrap();
        assert_eq!(span.upper, vec![Tree::Revocations.tag() + 1]);
        assert_eq!(span.lower, Bound::Included(vec![12, 0xFF, 0xFF]));
        // The last tree (the highest tag).
        let span = Span::new(Tree::SubjectMap, &[0xFF, 0xFF], None).unwrap();
        assert_eq!(span.upper, vec![Tree::SubjectMap.tag() + 1]);
        assert_eq!(span.lower, Bound::Included(vec![13, 0xFF, 0xFF]));
    }

    #[test]
    fn span_after_beyond_prefix_is_empty() {
        assert!(Span::new(Tree::Meta, b"ab", Some(b"ac")).is_none());
        assert!(Span::new(Tree::Meta, b"ab", Some(b"ab\xff\xff")).is_some());
        let s = Span::new(Tree::Meta, b"ab", Some(b"aa")).unwrap();
        assert_eq!(s.lower, Bound::Included(b"\x01ab".to_vec()));
    }

    #[test]
    fn untag_rejects_foreign_keys() {
        assert_eq!(untag(Tree::Meta, &[1, 7]).unwrap(), vec![7]);
        assert!(untag(Tree::Meta, &[2, 7]).is_err());
        assert!(untag(Tree::Meta, &[]).is_err());
    }
}
