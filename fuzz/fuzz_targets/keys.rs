//! Public key texts a user pins or passes: authority and department keys, log and witness
//! verifier keys, sealing keys, the VRF key, signer key files.
#![no_main]

use credseal_auth::PublicKey;
use credseal_c2sp::{CosignatureVerifier, NoteVerifier};
use credseal_crypto::SealingPublicKey;
use credseal_log::{LogSigner, LogVerifier};
use credseal_vrf::VrfPublicKey;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let _ = VrfPublicKey::from_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = PublicKey::from_text(text);
    if let Ok(v) = LogVerifier::from_vkey(text) {
        assert_eq!(LogVerifier::from_vkey(&v.vkey()).expect("own vkey").vkey(), v.vkey());
    }
    let _ = NoteVerifier::from_vkey(text);
    let _ = CosignatureVerifier::from_vkey(text);
    let _ = SealingPublicKey::from_text(text);
    let _ = LogSigner::from_signer_key_text(text);
});
