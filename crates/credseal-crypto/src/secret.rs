//! Secret key types: one type per role, zeroized on drop, printed as `[redacted]`,
//! compared only in constant time, read only through `expose_secret()`.

use zeroize::{Zeroize, ZeroizeOnDrop};

/// Fills `buf` from the operating system's CSPRNG.
///
/// # Panics
/// If the operating system has no working random source: nothing credseal does is safe
/// without one, so this is not a recoverable error.
pub fn fill_random(buf: &mut [u8]) {
    use ring::rand::SecureRandom;
    ring::rand::SystemRandom::new()
        .fill(buf)
        // Cannot fail: the OS random number generator failing is unrecoverable; no key may be made without it.
        .expect("the operating system's random number generator failed");
}

/// `N` random bytes.
pub fn random_array<const N: usize>() -> [u8; N] {
    let mut b = [0u8; N];
    fill_random(&mut b);
    b
}

macro_rules! secret_key {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Zeroize, ZeroizeOnDrop)]
        pub struct $name([u8; 32]);

        impl $name {
            /// A fresh random key.
            pub fn generate() -> Self {
                Self(random_array())
            }

            /// Wraps existing key bytes (the caller zeroizes its copy).
            pub fn from_bytes(bytes: [u8; 32]) -> Self {
                Self(bytes)
            }

            /// The key bytes. Every read of a secret is visible at the call site.
            pub fn expose_secret(&self) -> &[u8; 32] {
                &self.0
            }

            /// Constant-time equality.
            pub fn ct_eq(&self, other: &Self) -> bool {
                subtle::ConstantTimeEq::ct_eq(&self.0[..], &other.0[..]).into()
            }
        }

        impl std::fmt::Debug for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                write!(f, concat!(stringify!($name), "([redacted])"))
            }
        }
    };
}

secret_key!(
    /// A data-encryption key: random, one per subject and class, stored only wrapped.
    Dek
);
secret_key!(
    /// A key-encryption key for one class and version, held only in the keystore.
    Kek
);
secret_key!(
    /// A node key of a class's key tree (docs/design.md §8b): wraps its children's keys, or,
    /// at a leaf, the data keys of the subjects under it; stored only wrapped.
    NodeKey
);
secret_key!(
    /// The HMAC key that blinds subject ids and record ids.
    IndexKey
);
secret_key!(
    /// The HMAC key for disclosure fingerprints and release digests.
    TraceKey
);
secret_key!(
    /// The seed of the log's Ed25519 signing key.
    LogKeySeed
);

/// What unlocks the keystore: the operator's passphrase, or — for a keystore whose master
/// key is split among officers (`credseal_crypto::UnsealSet`) — the master key put together
/// from their shares. One type, so every key operation that rewrites the keystore takes it
/// the same way whichever the keystore's custody.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct Passphrase(Unlock);

#[derive(Clone, Zeroize, ZeroizeOnDrop)]
enum Unlock {
    Text(String),
    Master([u8; 32]),
    Pin(String),
}

impl Passphrase {
    /// Wraps a passphrase. A trailing newline (from a file or a pipe) is removed.
    pub fn new(mut s: String) -> Self {
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        Self(Unlock::Text(s))
    }

    /// The master key of a keystore sealed by shares (put together by
    /// `UnsealSet::combine`, or fresh for a new one).
    pub fn master_key(key: [u8; 32]) -> Self {
        Self(Unlock::Master(key))
    }

    /// The user PIN of the PKCS#11 token that holds the keys (HSM custody). A trailing
    /// newline is removed.
    pub fn token_pin(mut s: String) -> Self {
        while s.ends_with('\n') || s.ends_with('\r') {
            s.pop();
        }
        Self(Unlock::Pin(s))
    }

    /// The master key, if this is one.
    pub fn master(&self) -> Option<&[u8; 32]> {
        match &self.0 {
            Unlock::Master(k) => Some(k),
            Unlock::Text(_) | Unlock::Pin(_) => None,
        }
    }

    /// The token PIN, if this is one.
    pub fn pin(&self) -> Option<&str> {
        match &self.0 {
            Unlock::Pin(p) => Some(p),
            Unlock::Text(_) | Unlock::Master(_) => None,
        }
    }

    /// The passphrase bytes (or the master key's, or the PIN's).
    pub fn expose_secret(&self) -> &[u8] {
        match &self.0 {
            Unlock::Text(s) | Unlock::Pin(s) => s.as_bytes(),
            Unlock::Master(k) => &k[..],
        }
    }

    /// Whether it is an empty passphrase.
    pub fn is_empty(&self) -> bool {
        matches!(&self.0, Unlock::Text(s) if s.is_empty())
    }
}

impl std::fmt::Debug for Passphrase {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Passphrase([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_is_redacted() {
        let k = Kek::from_bytes([0x41; 32]);
        assert_eq!(format!("{k:?}"), "Kek([redacted])");
        let p = Passphrase::new("hunter2\n".into());
        assert_eq!(format!("{p:?}"), "Passphrase([redacted])");
        assert_eq!(p.expose_secret(), b"hunter2");
    }

    #[test]
    fn generated_keys_differ() {
        assert!(!Dek::generate().ct_eq(&Dek::generate()));
        let a = Dek::from_bytes([7; 32]);
        assert!(a.ct_eq(&a.clone()));
    }
}
