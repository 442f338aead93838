//! M-of-N unseal: the keystore's master key in the custody of several officers, any K of
//! whom can unseal it together and no K−1 of whom can.
//!
//! The keystore body is sealed under a random 32-byte master key M (instead of a key derived
//! from a passphrase). M itself is kept wrapped under an *epoch key* E, and E is split with
//! Shamir's secret sharing over GF(256) (the `blahaj` crate) into one share per officer, each
//! share HPKE-sealed to that officer's X25519 sealing key. The whole set (epoch, K, the
//! holders with their sealed shares, the wrapped M) sits in the keystore header, which the
//! body's AEAD authenticates.
//!
//! ```text
//! share_i   = (x_i, y_i = f(x_i)),  f of degree K−1 over GF(256) per byte, f(0) = E
//! sealed_i  = HPKE-Seal(officer_i, info = SHARE_LABEL ‖ epoch:u64be, aad = name_i,
//!                       pt = epoch:u64be ‖ x_i ‖ y_i)
//! wrapped_M = AES-256-GCM(E, nonce, M, aad = WRAP_LABEL ‖ epoch:u64be ‖ K)
//! ```
//!
//! A reshare draws a NEW master key M' and deals it under a fresh E' of the next epoch to
//! the new officers; the keystore body is sealed again under M' (the keys inside it — KEKs,
//! index, trace, VRF and log keys — stay as they are, so everything they sealed is
//! untouched; only the wrapping changes). A removed officer's old share is a share of the
//! old E, which wraps nothing in the current file; and K old shares together with an old
//! copy of the file give the old M, which opens that old copy only — never the current file
//! (its body key is derived from M'). What an old copy holds is as old as the copy: shred
//! keys, not files, for that.

use std::collections::BTreeSet;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, Zeroizing};

use crate::aead::{self, NONCE_LEN};
use crate::seal::{self, SealedBox, SealingKey, SealingPublicKey, SystemRng};
use crate::{random_array, secret::Passphrase};

/// HPKE `info` label of a sealed share (followed by the epoch).
pub const SHARE_LABEL: &[u8] = b"credseal:v1:unseal-share";
/// AAD label of the wrapped master key (followed by the epoch and K).
pub const UNSEAL_WRAP_LABEL: &[u8] = b"credseal:v1:unseal-wrap";
/// Text prefix of an opened share (`keys share-open`): `cs1.unseal-share.<b64url>`.
pub const SHARE_TEXT_PREFIX: &str = "cs1.unseal-share.";
/// Most holders a set may have (GF(256) has 255 non-zero points).
pub const MAX_HOLDERS: usize = 255;
const SHARE_LEN: usize = 8 + 1 + 32;

/// Why shares could not be dealt, opened or combined. Carries no share or key bytes.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UnsealError {
    /// K is 0, or more than the holders.
    #[error("threshold {threshold} is not between 1 and the number of share holders ({holders})")]
    BadThreshold {
        /// K asked for.
        threshold: usize,
        /// N given.
        holders: usize,
    },
    /// No holders, or more than 255.
    #[error("{0} share holders: between 1 and 255 are needed")]
    BadHolderCount(usize),
    /// A holder name that is empty, too long or not printable.
    #[error("share holder name {0:?}: 1 to 64 letters, digits, '.', '_', '-' or '@'")]
    BadHolderName(String),
    /// Two holders with the same name or key.
    #[error("share holder {0:?} is named twice, or shares its key with another holder")]
    DuplicateHolder(String),
    /// The key given holds no share in this set.
    #[error("this key (sealing public key {0}) holds no share of this keystore's epoch {1}")]
    NotAHolder(String, u64),
    /// A holder's sealed share did not open (altered, or not sealed to this key).
    #[error("the share of holder {0:?} did not open with this key: the keystore was altered")]
    ShareDidNotOpen(String),
    /// An opened share of an earlier epoch (before a reshare).
    #[error(
        "a share of epoch {share} was given, but this keystore's shares are of epoch {current} (reshared since): it no longer counts"
    )]
    StaleShare {
        /// The share's epoch.
        share: u64,
        /// The set's epoch.
        current: u64,
    },
    /// A share whose x is not a holder's of this set.
    #[error("a share names point {0}, which is no holder's in this keystore")]
    UnknownPoint(u8),
    /// Fewer distinct shares than K.
    #[error("{have} of the {need} shares needed to unseal this keystore were given")]
    TooFewShares {
        /// Distinct shares given.
        have: usize,
        /// K.
        need: usize,
    },
    /// K shares that do not put the epoch key together (one altered or forged).
    #[error("the shares given do not unseal this keystore: one of them is altered or not from this keystore")]
    SharesDoNotCombine,
    /// An opened share's text does not parse.
    #[error("not an unseal share: {0}")]
    BadShareText(String),
    /// HPKE sealing to a holder failed (a non-contributory key).
    #[error("sealing a share to holder {0:?} failed: {1}")]
    Seal(String, seal::SealError),
}

/// One officer who holds a share.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShareHolder {
    /// The officer's name (in receipts and errors).
    pub name: String,
    /// The officer's sealing public key (X25519), to which the share is sealed.
    pub key: SealingPublicKey,
    /// The share's point x (1..=255).
    pub x: u8,
    /// `SealedBox` bytes of the share.
    sealed: Vec<u8>,
}

/// The shares of a keystore's master key: public, kept in the keystore header.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UnsealSet {
    /// Raised by each reshare; an opened share names the epoch it belongs to.
    pub epoch: u64,
    /// K: how many shares unseal.
    pub threshold: u8,
    /// The N holders.
    pub holders: Vec<ShareHolder>,
    wrap_nonce: [u8; NONCE_LEN],
    wrapped_master: Vec<u8>,
}

/// An opened share (one officer's): secret, wiped when dropped, printed redacted.
#[derive(Clone)]
pub struct UnsealShare {
    epoch: u64,
    x: u8,
    y: Zeroizing<[u8; 32]>,
}

impl std::fmt::Debug for UnsealShare {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "UnsealShare(epoch {}, x {}, [redacted])", self.epoch, self.x)
    }
}

impl UnsealShare {
    /// The epoch this share belongs to.
    pub fn epoch(&self) -> u64 {
        self.epoch
    }

    /// The text form `cs1.unseal-share.<b64url(epoch ‖ x ‖ y)>` (a secret: mode 0600).
    pub fn to_text(&self) -> Zeroizing<String> {
        let mut b = Zeroizing::new([0u8; SHARE_LEN]);
        b[..8].copy_from_slice(&self.epoch.to_be_bytes());
        b[8] = self.x;
        b[9..].copy_from_slice(&self.y[..]);
        Zeroizing::new(format!("{SHARE_TEXT_PREFIX}{}", URL_SAFE_NO_PAD.encode(&b[..])))
    }

    /// Parses [`UnsealShare::to_text`] (surrounding whitespace ignored).
    pub fn from_text(text: &str) -> Result<Self, UnsealError> {
        let payload = text
            .trim()
            .strip_prefix(SHARE_TEXT_PREFIX)
            .ok_or_else(|| UnsealError::BadShareText(format!("it does not start with {SHARE_TEXT_PREFIX}")))?;
        let b = Zeroizing::new(
            URL_SAFE_NO_PAD
                .decode(payload)
                .map_err(|_| UnsealError::BadShareText("bad base64url".into()))?,
        );
        Self::from_bytes(&b).ok_or_else(|| UnsealError::BadShareText(format!("{} bytes, not {SHARE_LEN}", b.len())))
    }

    fn from_bytes(b: &[u8]) -> Option<Self> {
        if b.len() != SHARE_LEN || b[8] == 0 {
            return None;
        }
        let mut y = Zeroizing::new([0u8; 32]);
        y.copy_from_slice(&b[9..]);
        Some(Self {
            epoch: u64::from_be_bytes(b[..8].try_into().ok()?),
            x: b[8],
            y,
        })
    }
}

fn valid_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 64
        && s.chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'))
}

fn share_info(epoch: u64) -> Vec<u8> {
    let mut info = SHARE_LABEL.to_vec();
    info.extend_from_slice(&epoch.to_be_bytes());
    info
}

fn wrap_aad(epoch: u64, threshold: u8) -> Vec<u8> {
    let mut aad = UNSEAL_WRAP_LABEL.to_vec();
    aad.extend_from_slice(&epoch.to_be_bytes());
    aad.push(threshold);
    aad
}

impl UnsealSet {
    /// A fresh master key and its first set (epoch 1): what `init` with share holders uses.
    /// Returns the set and the master key (as the keystore's unlock secret).
    pub fn new_master(
        threshold: usize,
        holders: &[(String, SealingPublicKey)],
    ) -> Result<(Self, Passphrase), UnsealError> {
        let mut m: [u8; 32] = random_array();
        let set = Self::deal(&m, 1, threshold, holders);
        let pass = Passphrase::master_key(m);
        m.zeroize();
        Ok((set?, pass))
    }

    /// Deals `master` to `holders` for `epoch`: a fresh epoch key E, split K-of-N, each
    /// share sealed to its holder, and `master` wrapped under E.
    pub fn deal(
        master: &[u8; 32],
        epoch: u64,
        threshold: usize,
        holders: &[(String, SealingPublicKey)],
    ) -> Result<Self, UnsealError> {
        if holders.is_empty() || holders.len() > MAX_HOLDERS {
            return Err(UnsealError::BadHolderCount(holders.len()));
        }
        if threshold == 0 || threshold > holders.len() {
            return Err(UnsealError::BadThreshold {
                threshold,
                holders: holders.len(),
            });
        }
        let mut names = BTreeSet::new();
        let mut keys = BTreeSet::new();
        for (name, key) in holders {
            if !valid_name(name) {
                return Err(UnsealError::BadHolderName(name.clone()));
            }
            if !names.insert(name.as_str()) || !keys.insert(*key) {
                return Err(UnsealError::DuplicateHolder(name.clone()));
            }
        }
        // Cannot truncate: checked above to be at most 255.
        let k = threshold as u8;
        let e: Zeroizing<[u8; 32]> = Zeroizing::new(random_array());
        let dealer = blahaj::Sharks(k).dealer_rng(&e[..], &mut SystemRng);
        let mut out = Vec::with_capacity(holders.len());
        for ((name, key), share) in holders.iter().zip(dealer) {
            let x = share.x.0;
            let mut pt = Zeroizing::new(Vec::with_capacity(SHARE_LEN));
            pt.extend_from_slice(&epoch.to_be_bytes());
            pt.push(x);
            pt.extend(share.y.iter().map(|g| g.0));
            let sealed = seal::seal(key, &share_info(epoch), name.as_bytes(), &pt)
                .map_err(|err| UnsealError::Seal(name.clone(), err))?;
            out.push(ShareHolder {
                name: name.clone(),
                key: *key,
                x,
                sealed: sealed.to_bytes(),
            });
        }
        let wrap_nonce: [u8; NONCE_LEN] = random_array();
        let mut wrapped = master.to_vec();
        aead::seal_in_place(&e, &wrap_nonce, &wrap_aad(epoch, k), &mut wrapped);
        Ok(Self {
            epoch,
            threshold: k,
            holders: out,
            wrap_nonce,
            wrapped_master: wrapped,
        })
    }

    /// The next epoch's set for `holders` and `threshold`, wrapping a NEW random master key,
    /// which is returned (as the unlock secret the keystore is sealed under from now on).
    /// The old master key is not carried over: the old shares and an old copy of the file
    /// give it, and it must open nothing written after the reshare.
    pub fn reshare(
        &self,
        threshold: usize,
        holders: &[(String, SealingPublicKey)],
    ) -> Result<(Self, Passphrase), UnsealError> {
        let mut m: [u8; 32] = random_array();
        let set = Self::deal(&m, self.epoch + 1, threshold, holders);
        let pass = Passphrase::master_key(m);
        m.zeroize();
        Ok((set?, pass))
    }

    /// The holder whose sealing key is `key`, and their share opened.
    pub fn open_share(&self, key: &SealingKey) -> Result<UnsealShare, UnsealError> {
        let public = key.public();
        let h = self
            .holders
            .iter()
            .find(|h| h.key == public)
            .ok_or_else(|| UnsealError::NotAHolder(public.to_hex(), self.epoch))?;
        let bad = || UnsealError::ShareDidNotOpen(h.name.clone());
        let sealed = SealedBox::from_bytes(&h.sealed).map_err(|_| bad())?;
        let pt = seal::open(key, &share_info(self.epoch), h.name.as_bytes(), &sealed).map_err(|_| bad())?;
        let share = UnsealShare::from_bytes(&pt).ok_or_else(bad)?;
        if share.epoch != self.epoch || share.x != h.x {
            return Err(bad());
        }
        Ok(share)
    }

    /// Puts the master key together from `shares`: each of this set's epoch and a point
    /// of one of its holders; at least K distinct ones. Shares beyond K are used too (a
    /// wrong one among them makes the result fail, never succeed wrongly).
    pub fn combine(&self, shares: &[UnsealShare]) -> Result<Passphrase, UnsealError> {
        let mut picked: Vec<blahaj::Share> = Vec::new();
        let mut seen = BTreeSet::new();
        for s in shares {
            if s.epoch != self.epoch {
                return Err(UnsealError::StaleShare {
                    share: s.epoch,
                    current: self.epoch,
                });
            }
            if !self.holders.iter().any(|h| h.x == s.x) {
                return Err(UnsealError::UnknownPoint(s.x));
            }
            if !seen.insert(s.x) {
                continue;
            }
            let mut b = Zeroizing::new(Vec::with_capacity(33));
            b.push(s.x);
            b.extend_from_slice(&s.y[..]);
            // Cannot fail: a non-empty slice is a share.
            picked.push(blahaj::Share::try_from(&b[..]).map_err(|_| UnsealError::SharesDoNotCombine)?);
        }
        let need = usize::from(self.threshold);
        if picked.len() < need {
            return Err(UnsealError::TooFewShares {
                have: picked.len(),
                need,
            });
        }
        let e = Zeroizing::new(
            blahaj::Sharks(self.threshold)
                .recover(&picked)
                .map_err(|_| UnsealError::SharesDoNotCombine)?,
        );
        let e: &[u8; 32] = e[..].try_into().map_err(|_| UnsealError::SharesDoNotCombine)?;
        let mut m = Zeroizing::new(self.wrapped_master.clone());
        aead::open_in_place(e, &self.wrap_nonce, &wrap_aad(self.epoch, self.threshold), &mut m)
            .map_err(|()| UnsealError::SharesDoNotCombine)?;
        let key: [u8; 32] = m[..].try_into().map_err(|_| UnsealError::SharesDoNotCombine)?;
        Ok(Passphrase::master_key(key))
    }

    /// The holders' names, in order.
    pub fn holder_names(&self) -> Vec<&str> {
        self.holders.iter().map(|h| h.name.as_str()).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn officers(n: usize) -> Vec<(String, SealingKey)> {
        (0..n)
            .map(|i| (format!("officer-{i}"), SealingKey::generate()))
            .collect()
    }

    fn public(o: &[(String, SealingKey)]) -> Vec<(String, SealingPublicKey)> {
        o.iter().map(|(n, k)| (n.clone(), k.public())).collect()
    }

    #[test]
    fn k_shares_unseal_and_k_minus_1_do_not() {
        let o = officers(5);
        let (set, master) = UnsealSet::new_master(3, &public(&o)).unwrap();
        let shares: Vec<UnsealShare> = o.iter().map(|(_, k)| set.open_share(k).unwrap()).collect();
        for pick in [[0, 1, 2], [0, 2, 4], [4, 3, 1]] {
            let got = set.combine(&pick.map(|i| shares[i].clone())).unwrap();
            assert_eq!(got.master(), master.master());
        }
        assert_eq!(
            set.combine(&shares[..2]).unwrap_err(),
            UnsealError::TooFewShares { have: 2, need: 3 }
        );
        // The same share three times is one share.
        let same = vec![shares[0].clone(), shares[0].clone(), shares[0].clone()];
        assert_eq!(
            set.combine(&same).unwrap_err(),
            UnsealError::TooFewShares { have: 1, need: 3 }
        );
        // All five work too.
        assert_eq!(set.combine(&shares).unwrap().master(), master.master());
    }

    #[test]
    fn share_bit_flip_fails_to_combine() {
        let o = officers(3);
        let (set, _) = UnsealSet::new_master(2, &public(&o)).unwrap();
        let mut a = set.open_share(&o[0].1).unwrap();
        let b = set.open_share(&o[1].1).unwrap();
        a.y[5] ^= 0x10;
        assert_eq!(set.combine(&[a, b]).unwrap_err(), UnsealError::SharesDoNotCombine);
    }

    #[test]
    fn reshare_draws_a_new_master_and_drops_the_removed_holder() {
        let o = officers(3);
        let (set1, master) = UnsealSet::new_master(2, &public(&o)).unwrap();
        let old: Vec<UnsealShare> = o.iter().map(|(_, k)| set1.open_share(k).unwrap()).collect();
        // Officer 2 leaves; a new officer 3 joins.
        let mut next = officers(1);
        next[0].0 = "officer-3".into();
        let mut holders = public(&o[..2]);
        holders.extend(public(&next));
        let (set2, master2) = set1.reshare(2, &holders).unwrap();
        assert_eq!(set2.epoch, 2);
        // A new master key: the old one (which old shares give) is not the new one.
        assert_ne!(master2.master(), master.master());
        let new0 = set2.open_share(&o[0].1).unwrap();
        let new3 = set2.open_share(&next[0].1).unwrap();
        assert_eq!(set2.combine(&[new0.clone(), new3]).unwrap().master(), master2.master());
        // K old shares still give the old master key from the old set (an old copy of the
        // file): that is the old file's key only.
        assert_eq!(set1.combine(&old[..2]).unwrap().master(), master.master());
        // The removed officer's key opens nothing now.
        assert!(matches!(
            set2.open_share(&o[2].1).unwrap_err(),
            UnsealError::NotAHolder(_, 2)
        ));
        // Their old share does not count: refused by epoch...
        assert_eq!(
            set2.combine(&[new0.clone(), old[2].clone()]).unwrap_err(),
            UnsealError::StaleShare { share: 1, current: 2 }
        );
        // ...and relabelled as epoch 2 it is a point of the old polynomial: no key.
        let mut forged = old[2].clone();
        forged.epoch = 2;
        forged.x = set2.holders[1].x;
        assert_eq!(
            set2.combine(&[new0, forged]).unwrap_err(),
            UnsealError::SharesDoNotCombine
        );
        // K old shares together put together the old epoch key, which wraps nothing in set2.
        let mut old_relabelled: Vec<UnsealShare> = old[..2].to_vec();
        for s in &mut old_relabelled {
            s.epoch = 2;
        }
        assert!(set2.combine(&old_relabelled).is_err());
    }

    #[test]
    fn share_text_round_trip() {
        let o = officers(2);
        let (set, _) = UnsealSet::new_master(2, &public(&o)).unwrap();
        let s = set.open_share(&o[1].1).unwrap();
        let t = s.to_text();
        assert!(t.starts_with(SHARE_TEXT_PREFIX));
        let back = UnsealShare::from_text(&t).unwrap();
        assert_eq!((back.epoch, back.x, *back.y), (s.epoch, s.x, *s.y));
        assert!(!format!("{s:?}").contains(&credseal_core::hex(&s.y[..])));
        assert!(UnsealShare::from_text("cs1.unseal-share.AAAA").is_err());
        assert!(UnsealShare::from_text("cs1.sealing-key.AAAA").is_err());
    }

    #[test]
    fn bad_parameters_refused() {
        let o = public(&officers(3));
        let m = [1u8; 32];
        assert_eq!(
            UnsealSet::deal(&m, 1, 0, &o).unwrap_err(),
            UnsealError::BadThreshold {
                threshold: 0,
                holders: 3
            }
        );
        assert_eq!(
            UnsealSet::deal(&m, 1, 4, &o).unwrap_err(),
            UnsealError::BadThreshold {
                threshold: 4,
                holders: 3
            }
        );
        assert_eq!(
            UnsealSet::deal(&m, 1, 1, &[]).unwrap_err(),
            UnsealError::BadHolderCount(0)
        );
        let mut dup = o.clone();
        dup[2].0 = dup[0].0.clone();
        assert!(matches!(
            UnsealSet::deal(&m, 1, 2, &dup).unwrap_err(),
            UnsealError::DuplicateHolder(_)
        ));
        let mut bad = o;
        bad[0].0 = "has space".into();
        assert!(matches!(
            UnsealSet::deal(&m, 1, 2, &bad).unwrap_err(),
            UnsealError::BadHolderName(_)
        ));
    }
}
