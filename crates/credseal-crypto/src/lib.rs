//! credseal's cryptography: secret key types, envelope encryption with key commitment,
//! identifier blinding, and the passphrase-protected keystore. No I/O.
//!
//! Start with [`Keystore::generate`] (or [`Keystore::open`]), then [`wrap_dek`] /
//! [`seal_record`] to store and [`unwrap_dek`] / [`open_record`] to read:
//!
//! ```
//! use credseal_core::SubjectId;
//! use credseal_crypto::*;
//!
//! let ks = Keystore::generate("example/log", &["loans"], [0; 32], 0, KdfParams::DEFAULT);
//! let blind = *ks.vrf_key.prove_subject(&SubjectId::parse("11010519491231002X").unwrap()).unwrap().blind();
//! let (v, kek) = ks.primary_kek("loans").unwrap();
//! let dek = Dek::generate();
//! let dctx = DekContext { blind: &blind, class: "loans" };
//! let wrapped = wrap_dek(kek, v, &dctx, &dek);
//! let rk = ks.index_key.record_key(&blind, "loans", "LN-1");
//! let rctx = RecordContext { blind: &blind, class: "loans", record_key: &rk, version: 1 };
//! let sealed = seal_record(&dek, &rctx, b"fields");
//! let dek2 = unwrap_dek(kek, &dctx, &wrapped).unwrap();
//! assert_eq!(&open_record(&dek2, &rctx, &sealed).unwrap()[..], b"fields");
//! ```

pub mod aead;
mod blind;
pub mod demo;
mod envelope;
mod keyfile;
mod keystore;
mod keytree;
mod seal;
mod secret;
mod token;
mod unseal;

pub use blind::{
    Blinder, RECORD_LABEL as RECORD_ID_LABEL, SUBJECT_LABEL, SubjectVrf, TraceMac, TracePrefix, VRF_ENTRY_LABEL,
    VRF_ENTRY_LEN, VrfKey,
};
pub use envelope::{
    COMMIT_LABEL, CryptoError, DEK_LABEL, DekContext, FORMAT_V1, RECORD_LABEL, RECORD_OVERHEAD, RecordContext,
    WRAP_LABEL, WRAPPED_DEK_LEN, open_record, seal_record, unwrap_dek, wrap_dek, wrapped_kek_version,
};
pub use keyfile::{ENCRYPTED_KEY_PREFIX, KeyFileError, decrypt_key_text, encrypt_key_text, is_encrypted_key};
/// The keystore file's format version (docs/formats.md).
pub use keystore::FORMAT as KEYSTORE_FORMAT;
pub use keystore::{ClassKeys, FileKey, KdfParams, KekEntry, Keystore, KeystoreError};
pub use keytree::{
    DekWrapping, FORMAT_TREE, NODE_ID_LEN, TREE_CHILD_LABEL, TREE_DEK_LABEL, TREE_ID_LABEL, TREE_NODE_LABEL,
    TREE_ROOT_LABEL, TREE_WRAPPED_DEK_LEN, TreeNode, WRAPPED_NODE_LEN, dek_wrapping, unwrap_root, wrap_root,
};
pub use seal::{
    ANSWER_INFO_LABEL, SEALED_BOX_OVERHEAD, SEALING_KEY_LABEL, SEALING_PUBLIC_KEY_LABEL, SealError, SealedBox,
    SealingKey, SealingPublicKey, answer_info, open, seal,
};
pub use secret::{Dek, IndexKey, Kek, LogKeySeed, NodeKey, Passphrase, TraceKey, fill_random, random_array};
pub use token::{KekKey, KeyToken, LogKey, MANIFEST_MAGIC, TokenCustody, TokenObject, is_manifest};
pub use unseal::{
    MAX_HOLDERS, SHARE_LABEL, SHARE_TEXT_PREFIX, ShareHolder, UNSEAL_WRAP_LABEL, UnsealError, UnsealSet, UnsealShare,
};

/// SHA-256 of `data`.
pub fn sha256(data: &[u8]) -> [u8; 32] {
    ring::digest::digest(&ring::digest::SHA256, data)
        .as_ref()
        .try_into()
        // Cannot fail: SHA-256 digests are always 32 bytes.
        .expect("32-byte digest")
}
