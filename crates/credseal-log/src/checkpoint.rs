//! credseal's checkpoint extensions (docs/design.md §7): the line `credseal-map <base64(root)>` by which
//! a checkpoint commits to the subject map's root, and the line `credseal-trust
//! <base64(digest)>` by which it commits to the platform's trust state (docs/formats.md,
//! "Trust state"). The checkpoint format itself is C2SP `tlog-checkpoint`
//! ([`credseal_c2sp::Checkpoint`]); this adds the credseal part. A credseal checkpoint carries
//! the map line first, then the trust line.

use credseal_c2sp::{Checkpoint, FormatError, Hash};

/// The keyword of the checkpoint extension line that commits to the subject map's root:
/// `credseal-map <base64(root)>`.
pub const MAP_EXTENSION: &str = "credseal-map";

/// The subject-map root line of a credseal checkpoint, on [`Checkpoint`]
/// (`use credseal_log::MapCheckpoint` to call these methods).
pub trait MapCheckpoint: Sized {
    /// Adds the subject-map extension line `credseal-map <base64(map root)>`.
    fn with_map_root(self, map_root: &Hash) -> Result<Self, FormatError>;

    /// The subject-map root committed by the `credseal-map` extension line, `None` when there
    /// is no such line. A checkpoint with two such lines, or one whose root is not exactly
    /// 44 characters of canonical base64 of 32 bytes, is malformed.
    fn map_root(&self) -> Result<Option<Hash>, FormatError>;
}

impl MapCheckpoint for Checkpoint {
    fn with_map_root(self, map_root: &Hash) -> Result<Self, FormatError> {
        self.with_hash_extension(MAP_EXTENSION, map_root)
    }

    fn map_root(&self) -> Result<Option<Hash>, FormatError> {
        self.hash_extension(MAP_EXTENSION)
    }
}

/// The keyword of the checkpoint extension line that commits to the platform's trust state:
/// `credseal-trust <base64(trust digest)>`.
pub const TRUST_EXTENSION: &str = "credseal-trust";

/// The trust-state line of a credseal checkpoint, on [`Checkpoint`]
/// (`use credseal_log::TrustCheckpoint` to call these methods).
pub trait TrustCheckpoint: Sized {
    /// Adds the trust-state extension line `credseal-trust <base64(digest)>`.
    fn with_trust_digest(self, digest: &Hash) -> Result<Self, FormatError>;

    /// The trust-state digest committed by the `credseal-trust` extension line, `None` when
    /// there is no such line. Two such lines, or a digest that is not exactly 44 characters
    /// of canonical base64 of 32 bytes, make the checkpoint malformed.
    fn trust_digest(&self) -> Result<Option<Hash>, FormatError>;
}

impl TrustCheckpoint for Checkpoint {
    fn with_trust_digest(self, digest: &Hash) -> Result<Self, FormatError> {
        self.with_hash_extension(TRUST_EXTENSION, digest)
    }

    fn trust_digest(&self) -> Result<Option<Hash>, FormatError> {
        self.hash_extension(TRUST_EXTENSION)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn map_root_line_round_trips_and_is_strict() {
        let c = Checkpoint::new("o", 3, [7; 32]).unwrap();
        assert_eq!(c.map_root(), Ok(None));
        let m = c.clone().with_map_root(&[9; 32]).unwrap();
        let t = m.to_text();
        assert!(
            t.ends_with("\ncredseal-map CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n"),
            "{t}"
        );
        let back = Checkpoint::parse(&t).unwrap();
        assert_eq!(back.map_root(), Ok(Some([9; 32])));
        // Other extensions are ignored, including look-alike keywords.
        let o = c
            .clone()
            .with_extension("credseal-mapx 1")
            .unwrap()
            .with_map_root(&[1; 32])
            .unwrap();
        assert_eq!(o.map_root(), Ok(Some([1; 32])));
        let two = m.clone().with_map_root(&[9; 32]).unwrap();
        assert!(matches!(two.map_root(), Err(FormatError::Checkpoint { line: 5, .. })));
        let short = c.clone().with_extension("credseal-map AAAA").unwrap();
        assert!(short.map_root().is_err());
        let noncanonical = c
            .with_extension("credseal-map CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQl=")
            .unwrap();
        assert!(noncanonical.map_root().is_err());
    }

    #[test]
    fn trust_line_follows_the_map_line_and_is_strict() {
        let c = Checkpoint::new("o", 3, [7; 32]).unwrap();
        assert_eq!(c.trust_digest(), Ok(None));
        let both = c
            .clone()
            .with_map_root(&[9; 32])
            .unwrap()
            .with_trust_digest(&[1; 32])
            .unwrap();
        let t = both.to_text();
        assert!(
            t.ends_with(
                "\ncredseal-map CQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQkJCQk=\n\
                 credseal-trust AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n"
            ),
            "{t}"
        );
        let back = Checkpoint::parse(&t).unwrap();
        assert_eq!(back.map_root(), Ok(Some([9; 32])));
        assert_eq!(back.trust_digest(), Ok(Some([1; 32])));
        // The map line is not taken for the trust line, nor the other way round.
        assert_eq!(c.clone().with_map_root(&[9; 32]).unwrap().trust_digest(), Ok(None));
        assert_eq!(c.clone().with_trust_digest(&[1; 32]).unwrap().map_root(), Ok(None));
        let two = both.with_trust_digest(&[2; 32]).unwrap();
        assert!(matches!(
            two.trust_digest(),
            Err(FormatError::Checkpoint { line: 6, .. })
        ));
        assert!(c.with_extension("credseal-trust AAAA").unwrap().trust_digest().is_err());
    }
}
