//! Key trees (docs/design.md §8b; byte layouts in `docs/formats.md` §2b): each class's data
//! keys are wrapped by leaf node keys, node keys by their parent's, and the root by the
//! class's KEK. Destroying the KEK version that wraps a root makes every key below that root
//! unreachable, so shredding one data key costs a path of fresh node keys and one KEK
//! version, not a rewrap of the whole class. This module holds the key operations only;
//! where nodes are stored and which node a subject sits under is the engine's.
//!
//! ```text
//! root wrap   = nonce:12 ‖ AES-256-GCM(HKDF(KEK(c,v), info = TREE_ROOT_LABEL ‖ len(c) ‖ c), nonce,
//!                   root key, aad = TREE_ROOT_LABEL ‖ len(c) ‖ c ‖ v:u32be ‖ root id)
//! child wrap  = nonce:12 ‖ AES-256-GCM(parent key, nonce, child key,
//!                   aad = TREE_NODE_LABEL ‖ len(c) ‖ c ‖ level:u8 ‖ index:u32be ‖ parent id ‖ child id)
//! derived     = key: HKDF(parent key, info = TREE_CHILD_LABEL ‖ len(c) ‖ c ‖ level ‖ index)
//!               id:  SHA-256(TREE_ID_LABEL ‖ parent id ‖ level ‖ index)[..16]
//! wrapped DEK = 0x02 ‖ leaf id:16 ‖ nonce:12 ‖ AES-256-GCM(leaf key, nonce, DEK,
//!                   aad = TREE_DEK_LABEL ‖ BlindId ‖ len(c) ‖ c ‖ leaf id)
//! ```
//! A node whose children were never written down has *derived* children (no storage until
//! the first shred under it); once a node is replaced, its children are written explicitly.

use zeroize::Zeroize;

use crate::aead::{self, NONCE_LEN, TAG_LEN};
use crate::envelope::{CryptoError, DekContext, FORMAT_V1, hkdf32};
use crate::secret::{Dek, Kek, NodeKey, random_array};

/// Format byte of a data key wrapped by a key-tree leaf.
pub const FORMAT_TREE: u8 = 0x02;
/// HKDF info and AAD label of a tree root wrapped by a KEK.
pub const TREE_ROOT_LABEL: &[u8] = b"credseal:v1:tree-root";
/// AAD label of a node key wrapped by its parent.
pub const TREE_NODE_LABEL: &[u8] = b"credseal:v1:tree-node";
/// HKDF info label of a derived (never written) child key.
pub const TREE_CHILD_LABEL: &[u8] = b"credseal:v1:tree-child";
/// Hash label of a derived child's id.
pub const TREE_ID_LABEL: &[u8] = b"credseal:v1:tree-id";
/// AAD label of a data key wrapped by a leaf.
pub const TREE_DEK_LABEL: &[u8] = b"credseal:v1:tree-dek";
/// Length of a node id (public: names which key wraps a value).
pub const NODE_ID_LEN: usize = 16;
/// Length of a wrapped node key (root under a KEK, or child under its parent).
pub const WRAPPED_NODE_LEN: usize = NONCE_LEN + 32 + TAG_LEN;
/// Length of a data key wrapped by a leaf.
pub const TREE_WRAPPED_DEK_LEN: usize = 1 + NODE_ID_LEN + NONCE_LEN + 32 + TAG_LEN;

/// A node of a key tree: its key and its public id.
#[derive(Clone, Debug)]
pub struct TreeNode {
    /// The public id (stored next to what this key wraps).
    pub id: [u8; NODE_ID_LEN],
    /// The key.
    pub key: NodeKey,
}

/// How a stored data key is wrapped, read from its header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DekWrapping {
    /// Directly under KEK `version` of its class (format 0x01, before key trees).
    Kek {
        /// The KEK version.
        version: u32,
    },
    /// Under the key-tree leaf with this id (format 0x02).
    Tree {
        /// The leaf's id.
        leaf: [u8; NODE_ID_LEN],
    },
}

/// Reads a wrapped data key's header: which key wraps it.
pub fn dek_wrapping(wrapped: &[u8]) -> Result<DekWrapping, CryptoError> {
    match wrapped.first() {
        Some(&FORMAT_V1) => crate::envelope::wrapped_kek_version(wrapped).map(|version| DekWrapping::Kek { version }),
        Some(&FORMAT_TREE) => {
            if wrapped.len() != TREE_WRAPPED_DEK_LEN {
                return Err(CryptoError::Truncated {
                    what: "wrapped data key",
                    len: wrapped.len(),
                });
            }
            let mut leaf = [0u8; NODE_ID_LEN];
            leaf.copy_from_slice(&wrapped[1..1 + NODE_ID_LEN]);
            Ok(DekWrapping::Tree { leaf })
        }
        Some(&found) => Err(CryptoError::UnknownFormat {
            what: "wrapped data key",
            found,
        }),
        None => Err(CryptoError::Truncated {
            what: "wrapped data key",
            len: 0,
        }),
    }
}

fn class_part(class: &str) -> [u8; 1] {
    debug_assert!(class.len() <= credseal_core::MAX_ID_LEN);
    [class.len() as u8]
}

impl TreeNode {
    /// A fresh node: random key, random id.
    pub fn generate() -> Self {
        Self {
            id: random_array(),
            key: NodeKey::generate(),
        }
    }

    /// The child at (`level`, `index`) of this node when it was never written down: its key
    /// derived from this node's, its id from this node's id.
    pub fn derive_child(&self, class: &str, level: u8, index: u32) -> TreeNode {
        let key = hkdf32(
            self.key.expose_secret(),
            &[],
            &[
                TREE_CHILD_LABEL,
                &class_part(class),
                class.as_bytes(),
                &[level],
                &index.to_be_bytes(),
            ],
        );
        let mut h = ring::digest::Context::new(&ring::digest::SHA256);
        h.update(TREE_ID_LABEL);
        h.update(&self.id);
        h.update(&[level]);
        h.update(&index.to_be_bytes());
        let mut id = [0u8; NODE_ID_LEN];
        id.copy_from_slice(&h.finish().as_ref()[..NODE_ID_LEN]);
        TreeNode {
            id,
            key: NodeKey::from_bytes(*key),
        }
    }

    /// Wraps `child`, the node at (`level`, `index`) under this one.
    pub fn wrap_child(&self, class: &str, level: u8, index: u32, child: &TreeNode) -> [u8; WRAPPED_NODE_LEN] {
        let aad = child_aad(class, level, index, &self.id, &child.id);
        seal_key(self.key.expose_secret(), &aad, child.key.expose_secret())
    }

    /// Unwraps the child with id `child_id` at (`level`, `index`) under this node.
    pub fn unwrap_child(
        &self,
        class: &str,
        level: u8,
        index: u32,
        child_id: &[u8; NODE_ID_LEN],
        wrapped: &[u8],
    ) -> Result<TreeNode, CryptoError> {
        let aad = child_aad(class, level, index, &self.id, child_id);
        let key = open_key(self.key.expose_secret(), &aad, wrapped, "wrapped tree node key")?;
        Ok(TreeNode {
            id: *child_id,
            key: NodeKey::from_bytes(*key),
        })
    }

    /// Wraps the data key of the subject and class in `ctx` under this leaf.
    pub fn wrap_dek(&self, ctx: &DekContext<'_>, dek: &Dek) -> Vec<u8> {
        let aad = dek_aad(ctx, &self.id);
        let mut out = Vec::with_capacity(TREE_WRAPPED_DEK_LEN);
        out.push(FORMAT_TREE);
        out.extend_from_slice(&self.id);
        out.extend_from_slice(&seal_key(self.key.expose_secret(), &aad, dek.expose_secret()));
        out
    }

    /// Unwraps a data key wrapped by this leaf (its header must name this leaf's id).
    pub fn unwrap_dek(&self, ctx: &DekContext<'_>, wrapped: &[u8]) -> Result<Dek, CryptoError> {
        match dek_wrapping(wrapped)? {
            DekWrapping::Tree { leaf } if leaf == self.id => {}
            _ => {
                return Err(CryptoError::Authentication {
                    what: "wrapped data key",
                });
            }
        }
        let aad = dek_aad(ctx, &self.id);
        let key = open_key(
            self.key.expose_secret(),
            &aad,
            &wrapped[1 + NODE_ID_LEN..],
            "wrapped data key",
        )?;
        Ok(Dek::from_bytes(*key))
    }
}

fn root_wrapping_key(kek: &Kek, class: &str) -> zeroize::Zeroizing<[u8; 32]> {
    hkdf32(
        kek.expose_secret(),
        &[],
        &[TREE_ROOT_LABEL, &class_part(class), class.as_bytes()],
    )
}

fn root_aad(class: &str, kek_version: u32, root_id: &[u8; NODE_ID_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(TREE_ROOT_LABEL.len() + 1 + class.len() + 4 + NODE_ID_LEN);
    a.extend_from_slice(TREE_ROOT_LABEL);
    a.extend_from_slice(&class_part(class));
    a.extend_from_slice(class.as_bytes());
    a.extend_from_slice(&kek_version.to_be_bytes());
    a.extend_from_slice(root_id);
    a
}

fn child_aad(class: &str, level: u8, index: u32, parent: &[u8; NODE_ID_LEN], child: &[u8; NODE_ID_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(TREE_NODE_LABEL.len() + 1 + class.len() + 5 + 2 * NODE_ID_LEN);
    a.extend_from_slice(TREE_NODE_LABEL);
    a.extend_from_slice(&class_part(class));
    a.extend_from_slice(class.as_bytes());
    a.push(level);
    a.extend_from_slice(&index.to_be_bytes());
    a.extend_from_slice(parent);
    a.extend_from_slice(child);
    a
}

fn dek_aad(ctx: &DekContext<'_>, leaf: &[u8; NODE_ID_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(TREE_DEK_LABEL.len() + 32 + 1 + ctx.class.len() + NODE_ID_LEN);
    a.extend_from_slice(TREE_DEK_LABEL);
    a.extend_from_slice(ctx.blind.as_bytes());
    a.extend_from_slice(&class_part(ctx.class));
    a.extend_from_slice(ctx.class.as_bytes());
    a.extend_from_slice(leaf);
    a
}

fn seal_key(key: &[u8; 32], aad: &[u8], secret: &[u8; 32]) -> [u8; WRAPPED_NODE_LEN] {
    let nonce: [u8; NONCE_LEN] = random_array();
    let mut buf = secret.to_vec();
    aead::seal_in_place(key, &nonce, aad, &mut buf);
    let mut out = [0u8; WRAPPED_NODE_LEN];
    out[..NONCE_LEN].copy_from_slice(&nonce);
    out[NONCE_LEN..].copy_from_slice(&buf);
    buf.zeroize();
    out
}

fn open_key(
    key: &[u8; 32],
    aad: &[u8],
    wrapped: &[u8],
    what: &'static str,
) -> Result<zeroize::Zeroizing<[u8; 32]>, CryptoError> {
    if wrapped.len() != WRAPPED_NODE_LEN {
        return Err(CryptoError::Truncated {
            what,
            len: wrapped.len(),
        });
    }
    // Cannot fail: the length was checked just above.
    let nonce: [u8; NONCE_LEN] = wrapped[..NONCE_LEN].try_into().expect("length checked");
    let mut buf = wrapped[NONCE_LEN..].to_vec();
    aead::open_in_place(key, &nonce, aad, &mut buf).map_err(|()| CryptoError::Authentication { what })?;
    let mut out = zeroize::Zeroizing::new([0u8; 32]);
    // GCM keeps the length: 32 bytes of plaintext.
    out.copy_from_slice(&buf);
    buf.zeroize();
    Ok(out)
}

/// Wraps a class's tree root under KEK `kek_version`.
pub fn wrap_root(kek: &Kek, kek_version: u32, class: &str, root: &TreeNode) -> [u8; WRAPPED_NODE_LEN] {
    let k = root_wrapping_key(kek, class);
    seal_key(&k, &root_aad(class, kek_version, &root.id), root.key.expose_secret())
}

/// Unwraps a class's tree root (id `root_id`) wrapped under KEK `kek_version`.
pub fn unwrap_root(
    kek: &Kek,
    kek_version: u32,
    class: &str,
    root_id: &[u8; NODE_ID_LEN],
    wrapped: &[u8],
) -> Result<TreeNode, CryptoError> {
    let k = root_wrapping_key(kek, class);
    let key = open_key(
        &k,
        &root_aad(class, kek_version, root_id),
        wrapped,
        "wrapped tree root key",
    )?;
    Ok(TreeNode {
        id: *root_id,
        key: NodeKey::from_bytes(*key),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use credseal_core::BlindId;

    #[test]
    fn a_path_opens_its_data_key_and_nothing_else_does() {
        let kek = Kek::generate();
        let root = TreeNode::generate();
        let w = wrap_root(&kek, 3, "loans", &root);
        let r = unwrap_root(&kek, 3, "loans", &root.id, &w).unwrap();
        assert!(r.key.ct_eq(&root.key));
        // Another version, class, id or KEK: refused.
        assert!(unwrap_root(&kek, 4, "loans", &root.id, &w).is_err());
        assert!(unwrap_root(&kek, 3, "tax", &root.id, &w).is_err());
        assert!(unwrap_root(&kek, 3, "loans", &[9; 16], &w).is_err());
        assert!(unwrap_root(&Kek::generate(), 3, "loans", &root.id, &w).is_err());
        // A derived child is a pure function of its parent and place; an explicit one opens.
        let d1 = r.derive_child("loans", 1, 5);
        let d2 = root.derive_child("loans", 1, 5);
        assert!(d1.key.ct_eq(&d2.key) && d1.id == d2.id);
        assert!(!root.derive_child("loans", 1, 6).key.ct_eq(&d1.key));
        assert!(!root.derive_child("tax", 1, 5).key.ct_eq(&d1.key));
        let leaf = TreeNode::generate();
        let wc = d1.wrap_child("loans", 2, 80, &leaf);
        let back = d1.unwrap_child("loans", 2, 80, &leaf.id, &wc).unwrap();
        assert!(back.key.ct_eq(&leaf.key));
        assert!(d1.unwrap_child("loans", 2, 81, &leaf.id, &wc).is_err());
        assert!(root.unwrap_child("loans", 2, 80, &leaf.id, &wc).is_err());
        for i in 0..wc.len() {
            let mut t = wc;
            t[i] ^= 1;
            assert!(d1.unwrap_child("loans", 2, 80, &leaf.id, &t).is_err(), "flip at {i}");
        }
        // The data key under the leaf.
        let b = BlindId([4; 32]);
        let ctx = DekContext {
            blind: &b,
            class: "loans",
        };
        let dek = Dek::generate();
        let wd = leaf.wrap_dek(&ctx, &dek);
        assert_eq!(wd.len(), TREE_WRAPPED_DEK_LEN);
        assert_eq!(dek_wrapping(&wd), Ok(DekWrapping::Tree { leaf: leaf.id }));
        assert!(leaf.unwrap_dek(&ctx, &wd).unwrap().ct_eq(&dek));
        let b2 = BlindId([5; 32]);
        assert!(
            leaf.unwrap_dek(
                &DekContext {
                    blind: &b2,
                    class: "loans"
                },
                &wd
            )
            .is_err()
        );
        // A replaced leaf (fresh key, fresh id) opens nothing the old one wrapped.
        assert!(TreeNode::generate().unwrap_dek(&ctx, &wd).is_err());
        for i in 0..wd.len() {
            let mut t = wd.clone();
            t[i] ^= 0x80;
            assert!(leaf.unwrap_dek(&ctx, &t).is_err(), "flip at {i}");
        }
        assert!(matches!(dek_wrapping(&wd[..40]), Err(CryptoError::Truncated { .. })));
        assert!(matches!(
            dek_wrapping(&[7u8; 77]),
            Err(CryptoError::UnknownFormat { found: 7, .. })
        ));
        assert!(format!("{leaf:?}").contains("redacted"));
    }
}
