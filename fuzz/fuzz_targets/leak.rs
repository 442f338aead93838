//! Leak files for `trace` (CSV in any supported encoding, JSON Lines, exports) against the
//! example catalogue.
#![no_main]

use std::sync::LazyLock;

use credseal_core::Catalog;
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse(include_str!("../../keys-example/catalog.toml"), None).expect("example catalogue"));

fuzz_target!(|data: &[u8]| {
    let _ = credseal_engine::fuzzing::leak(data, &CATALOG);
});
