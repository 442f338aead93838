//! Signed notes and checkpoints (C2SP signed-note, tlog-checkpoint), key-handover notes, and
//! a checkpoint checked against a fixed log key and key history.
#![no_main]

use std::sync::LazyLock;

use credseal_c2sp::{Checkpoint, SignedNote};
use credseal_log::{Handover, KeyHistory, LogSigner};
use libfuzzer_sys::fuzz_target;

static HISTORY: LazyLock<KeyHistory> = LazyLock::new(|| {
    KeyHistory::new(
        LogSigner::from_seed("fuzz.credseal.invalid/log", &[3; 32])
            .expect("log key")
            .verifier(),
    )
});

fuzz_target!(|data: &[u8]| {
    let _ = SignedNote::parse_bytes(data);
    let Ok(text) = std::str::from_utf8(data) else { return };
    if let Ok(note) = SignedNote::parse(text) {
        let _ = Checkpoint::parse(note.text());
    }
    if let Ok(c) = Checkpoint::parse(text) {
        // What parses strictly prints back as the same body.
        assert_eq!(c.to_text(), text);
    }
    let _ = Handover::verify(text);
    let _ = HISTORY.verify_checkpoint(text);
});
