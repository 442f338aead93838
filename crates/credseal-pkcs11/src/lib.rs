//! credseal's keys in a PKCS#11 token (a hardware security module, or SoftHSM2 in tests).
//!
//! Start with [`Token::open`] (a module, a token label and the user PIN). A class KEK is an
//! AES-256 secret key object made in the token ([`Token::generate_kek`]): sensitive, not
//! extractable, usable only to encrypt and decrypt. In HSM custody the KEK wraps the class's
//! key-tree *root* (`docs/design.md` §8b), by AES-256-GCM *in the token*
//! ([`Token::wrap_root`], [`Token::unwrap_root`]), so the KEK never leaves it. The log
//! signing key is an Ed25519 key pair in the token ([`Token::generate_log_key`]); receipts
//! and checkpoints are signed in it ([`Token::sign`]). The index, trace and VRF keys are
//! HMAC-SHA-256 outputs of a derivation key in the token ([`Token::generate_derive_key`],
//! [`Token::mac`]). [`Token::destroy`] destroys an object: roots wrapped under a destroyed
//! KEK can no longer be opened, by anyone, whatever backups of any file exist.
//!
//! Objects are named by an [`ObjectId`] (their `CKA_ID`, 16 random bytes), which is what the
//! platform's keystore manifest (`credseal_crypto`'s token module) and key-event receipts
//! hold: never key bytes. [`Token`] is the engine's `credseal_crypto::KeyToken`.
//!
//! A token-wrapped root is the 60-byte wrapped part of a root record of format 0x02
//! (`docs/formats.md` §2b):
//! ```text
//! wrapped = nonce:12 ‖ AES-256-GCM_token(KEK, nonce, root key, aad) (48)
//! aad     = "credseal:v1:token-root" ‖ len8(class) ‖ class ‖ kek_version:u32be ‖ root id (16)
//! ```

use std::path::Path;

use cryptoki::context::{CInitializeArgs, CInitializeFlags, Function, Pkcs11};
use cryptoki::error::RvError;
use cryptoki::mechanism::Mechanism;
use cryptoki::mechanism::aead::GcmParams;
use cryptoki::mechanism::eddsa::{EddsaParams, EddsaSignatureScheme};
use cryptoki::object::{Attribute, AttributeType, KeyType, ObjectClass, ObjectHandle};
use cryptoki::session::{Session, UserType};
use cryptoki::types::AuthPin;
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize as _, Zeroizing};

use credseal_crypto::{NODE_ID_LEN, NodeKey, TokenObject, TreeNode, WRAPPED_NODE_LEN};

/// Format byte of a root record whose root the token's KEK wraps (`docs/formats.md` §2b;
/// 0x01 is a software KEK's).
pub const TOKEN_ROOT_FORMAT: u8 = 2;
/// Label in the AAD of a token-wrapped root.
pub const TOKEN_ROOT_LABEL: &[u8] = b"credseal:v1:token-root";
/// DER of the Ed25519 curve name (`PrintableString "edwards25519"`), the EC_PARAMS SoftHSM2
/// and most tokens take for Ed25519 keys.
const ED25519_PARAMS: &[u8] = &[
    0x13, 0x0c, b'e', b'd', b'w', b'a', b'r', b'd', b's', b'2', b'5', b'5', b'1', b'9',
];

/// Why a token operation failed. Carries the PKCS#11 function and return value, never a
/// PIN or key bytes.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HsmError {
    /// The module could not be loaded or initialised.
    #[error("PKCS#11 module {module}: {detail}")]
    Module {
        /// The module's path.
        module: String,
        /// What failed.
        detail: String,
    },
    /// No token with this label.
    #[error("no PKCS#11 token labelled {0:?} (is it initialised?)")]
    NoToken(String),
    /// A PKCS#11 call failed.
    #[error("PKCS#11 {what}: {detail}")]
    Call {
        /// What was being done.
        what: &'static str,
        /// The function and return value.
        detail: String,
    },
    /// No object with this id (destroyed, or never made in this token).
    #[error("no token object with id {0} (destroyed?)")]
    NoObject(String),
    /// A wrapped root that is not a token-wrapped one, or does not open.
    #[error("token-wrapped root: {0}")]
    Wrapped(&'static str),
}

fn call(what: &'static str) -> impl Fn(cryptoki::error::Error) -> HsmError {
    move |e| HsmError::Call {
        what,
        detail: e.to_string(),
    }
}

/// A token object's `CKA_ID`: 16 random bytes, shown as hex.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ObjectId(#[serde(with = "hex16")] pub [u8; 16]);

impl std::fmt::Display for ObjectId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&credseal_core::hex(&self.0))
    }
}

mod hex16 {
    use serde::{Deserialize, Deserializer, Serializer};

    pub(super) fn serialize<S: Serializer>(v: &[u8; 16], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&credseal_core::hex(v))
    }

    pub(super) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<[u8; 16], D::Error> {
        let s = String::deserialize(d)?;
        let v = credseal_core::unhex(&s).ok_or_else(|| serde::de::Error::custom("an object id is hex"))?;
        v.try_into()
            .map_err(|_| serde::de::Error::custom("an object id is 16 bytes"))
    }
}

/// A logged-in session with one token.
#[derive(Debug)]
pub struct Token {
    // The session first: it is closed before the library is finalised.
    session: Session,
    /// Object handles found, by id and class (a search per call costs more than the
    /// operation; a platform has a few dozen objects); dropped for an id when destroyed.
    handles: std::sync::Mutex<Vec<(ObjectId, ObjectClass, ObjectHandle)>>,
    _pkcs11: Pkcs11,
}

impl Token {
    /// Loads `module`, finds the token labelled `label`, opens a read-write session and
    /// logs the user in with `pin`.
    pub fn open(module: &Path, label: &str, pin: &str) -> Result<Self, HsmError> {
        let m = |detail: String| HsmError::Module {
            module: module.display().to_string(),
            detail,
        };
        let pkcs11 = Pkcs11::new(module).map_err(|e| m(e.to_string()))?;
        pkcs11
            .initialize(CInitializeArgs::new(CInitializeFlags::OS_LOCKING_OK))
            .or_else(|e| match e {
                cryptoki::error::Error::Pkcs11(RvError::CryptokiAlreadyInitialized, Function::Initialize) => Ok(()),
                e => Err(e),
            })
            .map_err(|e| m(e.to_string()))?;
        let slot = pkcs11
            .get_slots_with_token()
            .map_err(call("listing slots"))?
            .into_iter()
            .find(|s| pkcs11.get_token_info(*s).map(|i| i.label() == label).unwrap_or(false))
            .ok_or_else(|| HsmError::NoToken(label.to_string()))?;
        let session = pkcs11.open_rw_session(slot).map_err(call("opening a session"))?;
        session
            .login(UserType::User, Some(&AuthPin::new(pin.into())))
            .map_err(call("logging in"))?;
        Ok(Self {
            session,
            handles: Default::default(),
            _pkcs11: pkcs11,
        })
    }

    fn new_id(&self) -> Result<ObjectId, HsmError> {
        let mut id = [0u8; 16];
        self.session
            .generate_random_slice(&mut id)
            .map_err(call("generating an object id"))?;
        Ok(ObjectId(id))
    }

    fn find(&self, id: &ObjectId, class: ObjectClass) -> Result<ObjectHandle, HsmError> {
        let mut cache = self.handles.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some((_, _, h)) = cache.iter().find(|(i, c, _)| i == id && *c == class) {
            return Ok(*h);
        }
        let h = self
            .session
            .find_objects(&[Attribute::Id(id.0.to_vec()), Attribute::Class(class)])
            .map_err(call("finding an object"))?
            .into_iter()
            .next()
            .ok_or_else(|| HsmError::NoObject(id.to_string()))?;
        cache.push((*id, class, h));
        Ok(h)
    }

    /// Makes a KEK in the token: AES-256, sensitive, never extractable, encrypt and decrypt
    /// only. `label` names it for the token's own tools (the class and version).
    pub fn generate_kek(&self, label: &str) -> Result<ObjectId, HsmError> {
        let id = self.new_id()?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::AES),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Encrypt(true),
            Attribute::Decrypt(true),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Id(id.0.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        self.session
            .generate_key(&Mechanism::AesKeyGen, &template)
            .map_err(call("generating a KEK"))?;
        Ok(id)
    }

    /// Makes an Ed25519 key pair in the token (the private key sensitive, never extractable,
    /// sign only); returns its id and the public key.
    pub fn generate_log_key(&self, label: &str) -> Result<(ObjectId, [u8; 32]), HsmError> {
        let id = self.new_id()?;
        let public = [
            Attribute::Token(true),
            Attribute::Verify(true),
            Attribute::EcParams(ED25519_PARAMS.to_vec()),
            Attribute::Id(id.0.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let private = [
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Id(id.0.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        let (pub_h, _) = self
            .session
            .generate_key_pair(&Mechanism::EccEdwardsKeyPairGen, &public, &private)
            .map_err(call("generating the log key"))?;
        let point = match self
            .session
            .get_attributes(pub_h, &[AttributeType::EcPoint])
            .map_err(call("reading the log public key"))?
            .into_iter()
            .next()
        {
            Some(Attribute::EcPoint(p)) => p,
            _ => {
                return Err(HsmError::Call {
                    what: "reading the log public key",
                    detail: "no EC_POINT".into(),
                });
            }
        };
        // EC_POINT is the raw 32 bytes, or a DER OCTET STRING around them (04 20 ‖ key).
        let raw = match point.len() {
            32 => &point[..],
            34 if point[0] == 0x04 && point[1] == 0x20 => &point[2..],
            n => {
                return Err(HsmError::Call {
                    what: "reading the log public key",
                    detail: format!("EC_POINT of {n} bytes"),
                });
            }
        };
        let mut pk = [0u8; 32];
        pk.copy_from_slice(raw);
        Ok((id, pk))
    }

    /// Signs `msg` with the log key `id` in the token (pure Ed25519, RFC 8032).
    pub fn sign(&self, id: &ObjectId, msg: &[u8]) -> Result<[u8; 64], HsmError> {
        let key = self.find(id, ObjectClass::PRIVATE_KEY)?;
        let sig = self
            .session
            .sign(
                &Mechanism::Eddsa(EddsaParams::new(EddsaSignatureScheme::Pure)),
                key,
                msg,
            )
            .map_err(call("signing"))?;
        sig.try_into().map_err(|_| HsmError::Call {
            what: "signing",
            detail: "not a 64-byte signature".into(),
        })
    }

    /// Makes the derivation key: a 32-byte generic secret, sensitive, never extractable,
    /// usable only for HMAC-SHA-256 (the index, trace and VRF keys and the manifest's MAC).
    pub fn generate_derive_key(&self, label: &str) -> Result<ObjectId, HsmError> {
        let id = self.new_id()?;
        let template = [
            Attribute::Class(ObjectClass::SECRET_KEY),
            Attribute::KeyType(KeyType::GENERIC_SECRET),
            Attribute::ValueLen(32.into()),
            Attribute::Token(true),
            Attribute::Private(true),
            Attribute::Sensitive(true),
            Attribute::Extractable(false),
            Attribute::Sign(true),
            Attribute::Verify(true),
            Attribute::Encrypt(false),
            Attribute::Decrypt(false),
            Attribute::Wrap(false),
            Attribute::Unwrap(false),
            Attribute::Derive(false),
            Attribute::Id(id.0.to_vec()),
            Attribute::Label(label.as_bytes().to_vec()),
        ];
        self.session
            .generate_key(&Mechanism::GenericSecretKeyGen, &template)
            .map_err(call("generating the derivation key"))?;
        Ok(id)
    }

    /// HMAC-SHA-256 of `msg` under the derivation key `id`, in the token.
    pub fn mac(&self, id: &ObjectId, msg: &[u8]) -> Result<Zeroizing<[u8; 32]>, HsmError> {
        let key = self.find(id, ObjectClass::SECRET_KEY)?;
        let mut out = self
            .session
            .sign(&Mechanism::Sha256Hmac, key, msg)
            .map_err(call("computing an HMAC"))?;
        let r: Result<[u8; 32], _> = out.as_slice().try_into();
        out.zeroize();
        r.map(Zeroizing::new).map_err(|_| HsmError::Call {
            what: "computing an HMAC",
            detail: "not a 32-byte MAC".into(),
        })
    }

    /// Wraps the key-tree root `root` of `class` under the KEK `kek` (version `version`), in
    /// the token: the wrapped part of a root record of format [`TOKEN_ROOT_FORMAT`].
    pub fn wrap_root(
        &self,
        kek: &ObjectId,
        version: u32,
        class: &str,
        root: &TreeNode,
    ) -> Result<[u8; WRAPPED_NODE_LEN], HsmError> {
        let key = self.find(kek, ObjectClass::SECRET_KEY)?;
        let mut nonce: [u8; 12] = credseal_crypto::random_array();
        let aad = root_aad(class, version, &root.id);
        let mut ct = self
            .session
            .encrypt(
                &Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 128.into()).map_err(call("GCM parameters"))?),
                key,
                root.key.expose_secret(),
            )
            .map_err(call("wrapping a key-tree root"))?;
        if ct.len() != WRAPPED_NODE_LEN - 12 {
            ct.zeroize();
            return Err(HsmError::Wrapped("the token returned a ciphertext of the wrong length"));
        }
        let mut out = [0u8; WRAPPED_NODE_LEN];
        out[..12].copy_from_slice(&nonce);
        out[12..].copy_from_slice(&ct);
        ct.zeroize();
        Ok(out)
    }

    /// Unwraps a root wrapped by [`Token::wrap_root`] with the KEK `kek`, in the token. An
    /// altered wrapping, another class, version or root id, or a destroyed KEK: an error,
    /// never a key.
    pub fn unwrap_root(
        &self,
        kek: &ObjectId,
        version: u32,
        class: &str,
        root_id: &[u8; NODE_ID_LEN],
        wrapped: &[u8],
    ) -> Result<TreeNode, HsmError> {
        if wrapped.len() != WRAPPED_NODE_LEN {
            return Err(HsmError::Wrapped("not a token-wrapped root (wrong length)"));
        }
        let key = self.find(kek, ObjectClass::SECRET_KEY)?;
        // Cannot fail: the length was checked.
        let mut nonce: [u8; 12] = wrapped[..12].try_into().expect("length checked");
        let aad = root_aad(class, version, root_id);
        let mut pt = self
            .session
            .decrypt(
                &Mechanism::AesGcm(GcmParams::new(&mut nonce, &aad, 128.into()).map_err(call("GCM parameters"))?),
                key,
                &wrapped[12..],
            )
            .map_err(|_| HsmError::Wrapped("it does not open under this KEK, class, version and root id"))?;
        let bytes: Result<[u8; 32], _> = pt.as_slice().try_into();
        pt.zeroize();
        let mut bytes = bytes.map_err(|_| HsmError::Wrapped("not a 32-byte root key"))?;
        let node = TreeNode {
            id: *root_id,
            key: NodeKey::from_bytes(bytes),
        };
        bytes.zeroize();
        Ok(node)
    }

    /// Destroys every object with id `id` (a retired KEK, a rotated log key): from then on
    /// nothing wrapped or signed with it can be opened or signed again.
    pub fn destroy(&self, id: &ObjectId) -> Result<usize, HsmError> {
        let handles = self
            .session
            .find_objects(&[Attribute::Id(id.0.to_vec())])
            .map_err(call("finding an object"))?;
        self.handles
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .retain(|(i, _, _)| i != id);
        if handles.is_empty() {
            return Err(HsmError::NoObject(id.to_string()));
        }
        for h in &handles {
            self.session.destroy_object(*h).map_err(call("destroying an object"))?;
        }
        Ok(handles.len())
    }

    /// Whether the object `id` is a secret or private key that the token refuses to give
    /// out: `CKA_SENSITIVE` true, `CKA_EXTRACTABLE` false, and its value unreadable.
    pub fn is_non_extractable(&self, id: &ObjectId, class: ObjectClass) -> Result<bool, HsmError> {
        let h = self.find(id, class)?;
        let attrs = self
            .session
            .get_attributes(h, &[AttributeType::Sensitive, AttributeType::Extractable])
            .map_err(call("reading attributes"))?;
        let sensitive = attrs.iter().any(|a| matches!(a, Attribute::Sensitive(true)));
        let extractable = attrs.iter().any(|a| matches!(a, Attribute::Extractable(true)));
        // Asking for the value itself must fail or come back empty.
        let value = self.session.get_attributes(h, &[AttributeType::Value]);
        let value_readable =
            matches!(&value, Ok(v) if v.iter().any(|a| matches!(a, Attribute::Value(b) if !b.is_empty())));
        Ok(sensitive && !extractable && !value_readable)
    }
}

fn root_aad(class: &str, version: u32, root_id: &[u8; NODE_ID_LEN]) -> Vec<u8> {
    let mut a = Vec::with_capacity(TOKEN_ROOT_LABEL.len() + 1 + class.len() + 4 + NODE_ID_LEN);
    a.extend_from_slice(TOKEN_ROOT_LABEL);
    // A class id is at most 64 bytes (the catalogue bounds it): len8 holds it.
    a.push(u8::try_from(class.len()).unwrap_or(u8::MAX));
    a.extend_from_slice(class.as_bytes());
    a.extend_from_slice(&version.to_be_bytes());
    a.extend_from_slice(root_id);
    a
}

/// The engine's view of the token (`credseal_crypto::KeyToken`): the same calls, with
/// errors as text (what failed; never key bytes or the PIN). One session, so one call at
/// a time (a PKCS#11 session is not for concurrent use).
#[derive(Debug)]
pub struct EngineToken {
    token: std::sync::Mutex<Token>,
    label: String,
}

impl EngineToken {
    /// The token `token`, labelled `label`.
    pub fn new(token: Token, label: &str) -> Self {
        Self {
            token: std::sync::Mutex::new(token),
            label: label.to_string(),
        }
    }

    /// Runs `f` with the token (its session held for the call).
    pub fn with<R>(&self, f: impl FnOnce(&Token) -> R) -> R {
        f(&self.token.lock().unwrap_or_else(std::sync::PoisonError::into_inner))
    }
}

fn id(o: &TokenObject) -> ObjectId {
    ObjectId(o.0)
}

impl credseal_crypto::KeyToken for EngineToken {
    fn label(&self) -> &str {
        &self.label
    }

    fn generate_kek(&self, label: &str) -> Result<TokenObject, String> {
        self.with(|t| t.generate_kek(label))
            .map(|i| TokenObject(i.0))
            .map_err(|e| e.to_string())
    }

    fn destroy(&self, o: &TokenObject) -> Result<(), String> {
        self.with(|t| t.destroy(&id(o))).map(drop).map_err(|e| e.to_string())
    }

    fn wrap_root(
        &self,
        kek: &TokenObject,
        version: u32,
        class: &str,
        root: &TreeNode,
    ) -> Result<[u8; WRAPPED_NODE_LEN], String> {
        self.with(|t| t.wrap_root(&id(kek), version, class, root))
            .map_err(|e| e.to_string())
    }

    fn unwrap_root(
        &self,
        kek: &TokenObject,
        version: u32,
        class: &str,
        root_id: &[u8; NODE_ID_LEN],
        wrapped: &[u8],
    ) -> Result<TreeNode, String> {
        self.with(|t| t.unwrap_root(&id(kek), version, class, root_id, wrapped))
            .map_err(|e| e.to_string())
    }

    fn mac(&self, key: &TokenObject, msg: &[u8]) -> Result<Zeroizing<[u8; 32]>, String> {
        self.with(|t| t.mac(&id(key), msg)).map_err(|e| e.to_string())
    }

    fn sign(&self, key: &TokenObject, msg: &[u8]) -> Result<[u8; 64], String> {
        self.with(|t| t.sign(&id(key), msg)).map_err(|e| e.to_string())
    }
}
