//! Trust anchors the platform keeps in its store: the authority's public key and the
//! subjects' registered signing keys. Each value carries an HMAC (index key) over its
//! storage key and contents, so an operator with database access cannot swap in a key of
//! their own without the keystore.

use credseal_core::{BlindId, SubjectId};
use credseal_crypto::Keystore;
use credseal_store::{Batch, Tree};
use ring::hmac;

use crate::error::{EngineError, Result};
use crate::platform::Platform;

/// Meta key of the authority's public key.
pub(crate) const META_AUTHORITY: &[u8] = b"authority-key";
/// Meta key prefix of a subject's registered public key (followed by the BlindId).
pub(crate) const META_SUBJECT_KEY: &[u8] = b"subject-key:";
/// HMAC label of authenticated metadata.
pub(crate) const META_MAC_LABEL: &[u8] = b"credseal:v1:meta";

fn meta_mac(ks: &Keystore, key: &[u8], value: &[u8]) -> [u8; 32] {
    {
        let k = hmac::Key::new(hmac::HMAC_SHA256, ks.index_key.expose_secret());
        let mut c = hmac::Context::with_key(&k);
        c.update(META_MAC_LABEL);
        c.update(&(key.len() as u32).to_be_bytes());
        c.update(key);
        c.update(value);
        // Cannot fail: HMAC-SHA-256 tags are always 32 bytes.
        c.sign().as_ref().try_into().expect("32 bytes")
    }
}

impl Platform {
    /// Writes `value` under `key` in Meta with its MAC.
    pub(crate) fn put_authenticated(&self, batch: &mut Batch, key: &[u8], value: &[u8]) {
        let mut v = value.to_vec();
        v.extend_from_slice(&meta_mac(&self.keys(), key, value));
        batch.put(Tree::Meta, key.to_vec(), v);
    }

    /// Reads an authenticated Meta value; an edited one is a verification failure.
    pub(crate) fn get_authenticated(&self, key: &[u8], what: &str) -> Result<Option<Vec<u8>>> {
        self.get_authenticated_in(&self.keys(), key, what)
    }

    /// [`Platform::get_authenticated`] with the operation's keystore snapshot.
    pub(crate) fn get_authenticated_in(&self, ks: &Keystore, key: &[u8], what: &str) -> Result<Option<Vec<u8>>> {
        let Some(v) = self.store.get(Tree::Meta, key)? else {
            return Ok(None);
        };
        let bad = || EngineError::Corrupt {
            what: what.to_string(),
            detail: "authentication failed: edited in the store".into(),
        };
        if v.len() < 32 {
            return Err(bad());
        }
        let (value, mac) = v.split_at(v.len() - 32);
        let want = meta_mac(ks, key, value);
        if !bool::from(subtle::ConstantTimeEq::ct_eq(mac, &want[..])) {
            return Err(bad());
        }
        Ok(Some(value.to_vec()))
    }

    /// The authority key this platform trusts, if set.
    pub fn authority_key(&self) -> Result<Option<[u8; 32]>> {
        self.authority_key_in(&self.keys())
    }

    pub(crate) fn authority_key_in(&self, ks: &Keystore) -> Result<Option<[u8; 32]>> {
        self.get_authenticated_in(ks, META_AUTHORITY, "authority key")?
            .map(|v| {
                v.try_into().map_err(|_| EngineError::Corrupt {
                    what: "authority key".into(),
                    detail: "not 32 bytes".into(),
                })
            })
            .transpose()
    }

    /// Sets the authority key. Changing an existing one needs `replace`.
    pub fn set_authority_key(&self, session: &crate::StaffSession, pk: &[u8; 32], replace: bool) -> Result<()> {
        if let Some(old) = self.authority_key()?
            && !replace
            && &old != pk
        {
            return Err(EngineError::Conflict {
                what: "this platform already trusts another authority key".into(),
            });
        }
        let mut b = Batch::new();
        self.put_authenticated(&mut b, META_AUTHORITY, pk);
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!("trust authority key {}", credseal_core::hex(&pk[..8])),
            None,
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(())
    }

    fn subject_key_meta(blind: &BlindId) -> Vec<u8> {
        let mut k = META_SUBJECT_KEY.to_vec();
        k.extend_from_slice(blind.as_bytes());
        k
    }

    /// The registered signing key of a subject, if any.
    pub fn subject_key(&self, subject: &SubjectId) -> Result<Option<[u8; 32]>> {
        self.subject_key_in(&self.keys(), subject)
    }

    pub(crate) fn subject_key_in(&self, ks: &Keystore, subject: &SubjectId) -> Result<Option<[u8; 32]>> {
        let blind = ks.index_key.blind(subject);
        self.get_authenticated_in(ks, &Self::subject_key_meta(&blind), "subject key")?
            .map(|v| {
                v.try_into().map_err(|_| EngineError::Corrupt {
                    what: "subject key".into(),
                    detail: "not 32 bytes".into(),
                })
            })
            .transpose()
    }

    /// Registers a subject's signing key (after the officer has checked the subject's
    /// identity). Changing an existing key needs `replace`.
    pub fn register_subject_key(
        &self,
        session: &crate::StaffSession,
        subject: &SubjectId,
        pk: &[u8; 32],
        replace: bool,
    ) -> Result<()> {
        if let Some(old) = self.subject_key(subject)?
            && !replace
            && &old != pk
        {
            return Err(EngineError::Conflict {
                what: "this subject already has another registered key".into(),
            });
        }
        let blind = self.blind(subject);
        let mut b = Batch::new();
        self.put_authenticated(&mut b, &Self::subject_key_meta(&blind), pk);
        // The subject's own chain shows the key registered for it.
        let r = self.admin_receipt(
            session,
            credseal_log::Action::Admin,
            format!("register subject key {}", credseal_core::hex(&pk[..8])),
            Some(blind),
        );
        self.append_receipts_with(vec![r], b, self.now()?)?;
        Ok(())
    }
}
