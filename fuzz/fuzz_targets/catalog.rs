//! The catalogue (TOML), and a canonical value of every field type it defines.
#![no_main]

use credseal_core::Catalog;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let _ = Catalog::parse(text, Some("fuzz.toml"));
});
