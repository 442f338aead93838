//! Receipts: the layout, the header and the body, and a check against a fixed log key.
#![no_main]

use std::sync::LazyLock;

use credseal_log::{KeyHistory, LogSigner, LogVerifier, ReceiptHeader, UnverifiedReceipt};
use libfuzzer_sys::fuzz_target;

static LOG: LazyLock<LogVerifier> = LazyLock::new(|| {
    LogSigner::from_seed("fuzz.credseal.invalid/log", &[3; 32])
        .expect("log key")
        .verifier()
});
static HISTORY: LazyLock<KeyHistory> = LazyLock::new(|| KeyHistory::new(LOG.clone()));

fuzz_target!(|data: &[u8]| {
    let _ = ReceiptHeader::decode(data);
    if let Ok(r) = UnverifiedReceipt::parse(data) {
        let _ = ReceiptHeader::decode(r.header_bytes());
        let _ = r.peek_unverified();
        let _ = r.leaf_hash();
    }
    assert!(LOG.verify_receipt(data).is_err());
    assert!(HISTORY.verify_receipt(data).is_err());
});
