//! One ingest line (`docs/formats.md` §7) against the example catalogue: the fast borrowing
//! parse must give a record exactly where the full check gives the same one.
#![no_main]

use std::sync::LazyLock;

use credseal_core::{Catalog, Record};
use libfuzzer_sys::fuzz_target;

static CATALOG: LazyLock<Catalog> =
    LazyLock::new(|| Catalog::parse(include_str!("../../keys-example/catalog.toml"), None).expect("example catalogue"));

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let fast = Record::from_json_line(text, &CATALOG);
    let view = Record::view_json_line(text, &CATALOG);
    assert_eq!(fast.is_some(), view.is_some());
    let slow = serde_json::from_str::<serde_json::Value>(text)
        .ok()
        .and_then(|v| Record::from_json(&v, &CATALOG).ok());
    if let (Some(fast), Some(view)) = (&fast, &view) {
        assert_eq!(
            Some(fast),
            slow.as_ref(),
            "the fast parse disagrees with the full check"
        );
        assert_eq!(view.to_record(), *fast);
        assert_eq!(
            serde_json::to_string(view).expect("view"),
            serde_json::to_string(fast).expect("record")
        );
    }
    if let Some(slow) = slow {
        // A valid record survives its own JSON form.
        assert_eq!(Record::from_json(&slow.to_json(), &CATALOG).ok().as_ref(), Some(&slow));
    }
});
