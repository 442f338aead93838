//! Runs the shared conformance suite against both backends.

use std::sync::Mutex;

use credseal_store::{MemoryStore, SledStore};
use credseal_testkit::conformance;
use tempfile::TempDir;

#[test]
fn memory_store_conforms() {
    conformance::run_all(&MemoryStore::new);
}

#[test]
fn sled_store_conforms() {
    // Every store's directory must outlive the store; keep them all until the end.
    let dirs: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
    let make = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open(&dir.path().join("db"), true).expect("open sled store");
        dirs.lock().expect("dirs lock").push(dir);
        store
    };
    conformance::run_all(&make);
}

#[test]
fn sled_store_with_small_cache_conforms() {
    let dirs: Mutex<Vec<TempDir>> = Mutex::new(Vec::new());
    let make = || {
        let dir = tempfile::tempdir().expect("tempdir");
        let store = SledStore::open_with_cache(dir.path(), true, 1 << 20).expect("open sled store");
        dirs.lock().expect("dirs lock").push(dir);
        store
    };
    conformance::run_all(&make);
}

#[test]
fn dyn_store_conforms() {
    // Arc<dyn Store> is itself a Store.
    let make = || -> std::sync::Arc<dyn credseal_store::Store> { std::sync::Arc::new(MemoryStore::new()) };
    conformance::run_all(&make);
}
