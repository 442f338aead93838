//! A subject's saved state (`receipts verify --state`): bytes and text, round trip.
#![no_main]

use credseal_log::SavedState;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(s) = SavedState::from_bytes(data) {
        assert_eq!(SavedState::from_bytes(&s.to_bytes()).ok().as_ref(), Some(&s));
    }
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(s) = SavedState::from_text(text)
    {
        assert_eq!(SavedState::from_text(&s.to_text()).ok().as_ref(), Some(&s));
    }
});
