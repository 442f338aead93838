//! Trust pins: the values of the trust state that queries read for their decisions — the
//! authority key, the installed revocation list, the canary set (and the retention policy the
//! scheduled sweep reads) — as the latest checkpoint
//! committed them (docs/formats.md §10, "Trust state"). Each read for a decision compares
//! what the store holds now with its pin (the SHA-256 the read computes anyway for its
//! cache), so a value deleted or replaced in the store under a running process fails closed
//! at the next decision, not only at the next open.
//!
//! Set at open, after the trust state was checked against the latest checkpoint, and by
//! every commit that changes one of them; imports no component.

use std::sync::RwLock;

use crate::error::{EngineError, Result};

/// Which pinned value.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Pinned {
    /// The trusted authority key (SHA-256 of its 32 bytes).
    Authority,
    /// The installed revocation list (SHA-256 of its stored wire bytes).
    Revocations,
    /// The canary set (SHA-256 of its stored bytes).
    Canaries,
    /// The standing retention policy (SHA-256 of its value, without the HMAC after it).
    RetentionPolicy,
}

impl Pinned {
    fn label(self) -> &'static str {
        match self {
            Self::Authority => "authority key",
            Self::Revocations => "revocation list",
            Self::Canaries => "canary set",
            Self::RetentionPolicy => "retention policy",
        }
    }

    fn index(self) -> usize {
        self as usize
    }
}

/// One pin: not set yet (before the open-time check: nothing to compare), or the SHA-256
/// of the committed value (`None`: absent) and, while a commit that changes it is being
/// written, the value it writes (either is accepted until the commit ends).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
enum Pin {
    #[default]
    Unset,
    Is(Option<[u8; 32]>, Option<Option<[u8; 32]>>),
}

/// The pins of one platform, shared by the parts that read or commit them.
#[derive(Debug, Default)]
pub(crate) struct TrustPins(RwLock<[Pin; 4]>);

impl TrustPins {
    /// Pins `which` to `digest` (`None`: the value is absent).
    pub(crate) fn set(&self, which: Pinned, digest: Option<[u8; 32]>) {
        if let Ok(mut p) = self.0.write() {
            p[which.index()] = Pin::Is(digest, None);
        }
    }

    /// A commit is about to write `digest` for `which`: accepted beside the pinned value
    /// until [`TrustPins::set`] (the commit is durable) or [`TrustPins::clear`].
    pub(crate) fn expect(&self, which: Pinned, digest: Option<[u8; 32]>) {
        if let Ok(mut p) = self.0.write()
            && let Pin::Is(now, _) = p[which.index()]
        {
            p[which.index()] = Pin::Is(now, Some(digest));
        }
    }

    /// Forgets every pin (a commit failed: what the store holds is uncertain until the
    /// next open checks it again).
    pub(crate) fn clear(&self) {
        if let Ok(mut p) = self.0.write() {
            *p = Default::default();
        }
    }

    /// Checks the value read now (`None`: absent) against its pin; a difference is a
    /// verification failure naming the value.
    pub(crate) fn check(&self, which: Pinned, digest: Option<&[u8; 32]>) -> Result<()> {
        let pin = self.0.read().map(|p| p[which.index()]).unwrap_or_default();
        match pin {
            Pin::Unset => Ok(()),
            Pin::Is(want, _) if want.as_ref() == digest => Ok(()),
            Pin::Is(_, Some(next)) if next.as_ref() == digest => Ok(()),
            Pin::Is(..) => Err(EngineError::Corrupt {
                what: format!("trust state: {}", which.label()),
                detail: "the stored value changed since the latest checkpoint committed it: deleted, edited or \
                         rolled back in the store"
                    .into(),
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unset_pins_pass_set_ones_compare() {
        let p = TrustPins::default();
        assert!(p.check(Pinned::Revocations, Some(&[1; 32])).is_ok());
        p.set(Pinned::Revocations, Some([1; 32]));
        assert!(p.check(Pinned::Revocations, Some(&[1; 32])).is_ok());
        let e = p.check(Pinned::Revocations, None).unwrap_err();
        assert!(e.to_string().contains("trust state: revocation list"), "{e}");
        assert!(p.check(Pinned::Revocations, Some(&[2; 32])).is_err());
        p.set(Pinned::Canaries, None);
        assert!(p.check(Pinned::Canaries, None).is_ok());
        assert!(p.check(Pinned::Canaries, Some(&[0; 32])).is_err());
        // While a commit writes a new value, the old and the new are accepted.
        p.expect(Pinned::Canaries, Some([3; 32]));
        assert!(p.check(Pinned::Canaries, None).is_ok());
        assert!(p.check(Pinned::Canaries, Some(&[3; 32])).is_ok());
        assert!(p.check(Pinned::Canaries, Some(&[4; 32])).is_err());
        p.set(Pinned::Canaries, Some([3; 32]));
        assert!(p.check(Pinned::Canaries, None).is_err());
        p.clear();
        assert!(p.check(Pinned::Canaries, Some(&[0; 32])).is_ok());
    }
}
