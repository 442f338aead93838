//! The logical trees of a store and their one-byte on-disk tags.

/// A logical tree (docs/design.md §10): a separate key space inside one store.
///
/// Every backend keeps the trees isolated: the same key in two trees names two different
/// entries, and a scan of one tree never returns another tree's keys.
///
/// The sled backend stores all trees in one `sled::Tree` and prefixes each key with
/// [`Tree::tag`]; the tags are therefore part of the on-disk format and never change.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[non_exhaustive]
pub enum Tree {
    /// Store-wide metadata (format versions, configuration, counters). Tag 1.
    Meta,
    /// Wrapped data-encryption keys. Tag 2.
    Deks,
    /// Index from a subject or record to the DEK that seals it. Tag 3.
    DekIndex,
    /// Sealed credit records. Tag 4.
    Records,
    /// Markers left where records or keys were erased. Tag 5.
    Tombstones,
    /// Query ids already seen, for replay protection. Tag 6.
    Replay,
    /// Transparency-log leaves. Tag 7.
    LogLeaves,
    /// Transparency-log interior hashes. Tag 8.
    LogHashes,
    /// Signed log checkpoints. Tag 9.
    Checkpoints,
    /// Per-subject index of access receipts. Tag 10.
    SubjectReceipts,
    /// Disclosure fingerprints, for tracing a leak back to a disclosure. Tag 11.
    Fingerprints,
    /// The authority's revocations (revoked credential serials). Tag 12.
    Revocations,
    /// The subject map's nodes: a sparse Merkle tree of every subject's receipt
    /// count and newest receipt, whose root each checkpoint commits to. Tag 13.
    SubjectMap,
}

impl Tree {
    /// Every tree, in tag order.
    pub const ALL: [Tree; 13] = [
        Tree::Meta,
        Tree::Deks,
        Tree::DekIndex,
        Tree::Records,
        Tree::Tombstones,
        Tree::Replay,
        Tree::LogLeaves,
        Tree::LogHashes,
        Tree::Checkpoints,
        Tree::SubjectReceipts,
        Tree::Fingerprints,
        Tree::Revocations,
        Tree::SubjectMap,
    ];

    /// The tree's one-byte tag, `1..=13`.
    ///
    /// On-disk format: the sled backend writes this byte in front of every key. The values are
    /// stable; a new tree gets the next unused tag and a removed tree's tag is never reused.
    /// Tag `0` is reserved for the store's own bookkeeping (the format marker).
    pub const fn tag(self) -> u8 {
        match self {
            Tree::Meta => 1,
            Tree::Deks => 2,
            Tree::DekIndex => 3,
            Tree::Records => 4,
            Tree::Tombstones => 5,
            Tree::Replay => 6,
            Tree::LogLeaves => 7,
            Tree::LogHashes => 8,
            Tree::Checkpoints => 9,
            Tree::SubjectReceipts => 10,
            Tree::Fingerprints => 11,
            Tree::Revocations => 12,
            Tree::SubjectMap => 13,
        }
    }

    /// The tree with this tag, if any (inverse of [`Tree::tag`]).
    pub fn from_tag(tag: u8) -> Option<Tree> {
        Tree::ALL.into_iter().find(|t| t.tag() == tag)
    }

    /// A short lower-case name for messages and statistics, e.g. `"dek_index"`.
    pub const fn name(self) -> &'static str {
        match self {
            Tree::Meta => "meta",
            Tree::Deks => "deks",
            Tree::DekIndex => "dek_index",
            Tree::Records => "records",
            Tree::Tombstones => "tombstones",
            Tree::Replay => "replay",
            Tree::LogLeaves => "log_leaves",
            Tree::LogHashes => "log_hashes",
            Tree::Checkpoints => "checkpoints",
            Tree::SubjectReceipts => "subject_receipts",
            Tree::Fingerprints => "fingerprints",
            Tree::Revocations => "revocations",
            Tree::SubjectMap => "subject_map",
        }
    }
}

impl std::fmt::Display for Tree {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

#[cfg(test)]
mod tests {
    use super::Tree;

    #[test]
    fn tags_are_the_documented_format() {
        let tags: Vec<u8> = Tree::ALL.iter().map(|t| t.tag()).collect();
        assert_eq!(tags, (1..=13).collect::<Vec<u8>>());
        for t in Tree::ALL {
            assert_eq!(Tree::from_tag(t.tag()), Some(t));
        }
        assert_eq!(Tree::from_tag(0), None);
        assert_eq!(Tree::from_tag(14), None);
    }

    #[test]
    fn names_are_unique() {
        let mut names: Vec<&str> = Tree::ALL.iter().map(|t| t.name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), Tree::ALL.len());
    }
}
