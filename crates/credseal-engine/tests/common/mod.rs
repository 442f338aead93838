#![allow(dead_code)]
//! Shared helpers for the engine's tests.

use std::io::Write;
use std::path::Path;

use credseal_core::Catalog;
use credseal_crypto::{KdfParams, Keystore};
use credseal_engine::Platform;

pub const CATALOG: &str = include_str!("../../../../keys-example/catalog.toml");
pub const RECORDS: &str = include_str!("../../../../keys-example/records.jsonl");
pub const FAST: KdfParams = KdfParams {
    m_kib: 1024,
    t: 1,
    p: 1,
};

pub fn catalog() -> Catalog {
    Catalog::parse(CATALOG, None).unwrap()
}

pub fn keystore() -> Keystore {
    let c = catalog();
    let classes: Vec<&str> = c.classes.keys().map(String::as_str).collect();
    Keystore::generate(
        "test.credseal.invalid/log",
        &classes,
        credseal_crypto::sha256(CATALOG.as_bytes()),
        1,
        FAST,
    )
}

pub fn platform() -> Platform {
    Platform::in_memory(catalog(), keystore()).unwrap()
}

pub fn write(dir: &Path, name: &str, content: &[u8]) -> std::path::PathBuf {
    let p = dir.join(name);
    std::fs::File::create(&p).unwrap().write_all(content).unwrap();
    p
}
