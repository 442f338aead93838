//! Sealed answers (`open`): the text form, the HPKE box under a fixed key, and the request
//! an answer must be about.
#![no_main]

use std::sync::LazyLock;

use credseal_crypto::{SealedBox, SealingKey};
use credseal_engine::SealedAnswer;
use credseal_log::AnswerRequest;
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<SealingKey> = LazyLock::new(|| SealingKey::from_bytes([9; 32]));

fuzz_target!(|data: &[u8]| {
    let _ = SealedBox::from_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(a) = SealedAnswer::from_text(text) {
        let _ = a.open(&KEY);
    }
    let _ = AnswerRequest::from_text(text);
});
