//! The keystore file's header (what anyone who can write the file controls before the
//! passphrase authenticates it), and opening it when its KDF cost is the minimum.
#![no_main]

use credseal_crypto::{KdfParams, Keystore, Passphrase};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(kdf) = Keystore::peek_kdf(data) else { return };
    if kdf.m_kib == KdfParams::MIN_M_KIB && kdf.t == 1 && kdf.p == 1 {
        let pass = Passphrase::new("fuzz".to_string());
        assert!(Keystore::open(data, &pass).is_err(), "a fuzzed keystore opened");
    }
});
