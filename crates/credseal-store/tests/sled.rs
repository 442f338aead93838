//! Behaviour specific to the on-disk sled backend: persistence and open errors.

use std::fs;
use std::path::Path;

use credseal_store::{Batch, SledStore, Store, StoreError, Tree};

fn put(store: &dyn Store, tree: Tree, key: &[u8], value: &[u8]) {
    let mut b = Batch::new();
    b.put(tree, key, value);
    store.apply(b).expect("apply");
}

#[test]
fn data_survives_reopen_after_flush() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    {
        let store = SledStore::open(&dir, true).unwrap();
        let mut b = Batch::new();
        b.put(Tree::Records, b"r1".to_vec(), b"sealed".to_vec());
        b.put(Tree::Deks, b"d1".to_vec(), b"wrapped".to_vec());
        store.apply(b).unwrap();
        assert!(store.insert_new(Tree::Replay, b"q1", b"t").unwrap());
        store.flush().unwrap();
        assert!(store.size_on_disk().unwrap() > 0);
    }
    let store = SledStore::open(&dir, false).unwrap();
    assert_eq!(store.get(Tree::Records, b"r1").unwrap(), Some(b"sealed".to_vec()));
    assert_eq!(store.get(Tree::Deks, b"d1").unwrap(), Some(b"wrapped".to_vec()));
    assert!(!store.insert_new(Tree::Replay, b"q1", b"t").unwrap());
    assert_eq!(
        store.count_prefix(Tree::Meta, b"").unwrap(),
        0,
        "format marker leaked into Meta"
    );
    // open(create = true) on an existing store opens it too.
    drop(store);
    let store = SledStore::open(&dir, true).unwrap();
    assert_eq!(store.get(Tree::Records, b"r1").unwrap(), Some(b"sealed".to_vec()));
}

#[test]
fn open_missing_dir_without_create_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("nope");
    match SledStore::open(&dir, false) {
        Err(StoreError::NotFound { path }) => assert_eq!(path, dir),
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(!dir.exists(), "open without create must not create the directory");
}

#[test]
fn open_empty_dir_without_create_is_not_found() {
    let tmp = tempfile::tempdir().unwrap();
    match SledStore::open(tmp.path(), false) {
        Err(StoreError::NotFound { .. }) => {}
        other => panic!("expected NotFound, got {other:?}"),
    }
    assert!(
        fs::read_dir(tmp.path()).unwrap().next().is_none(),
        "open without create wrote files"
    );
}

#[test]
fn open_file_instead_of_dir_is_an_error() {
    let tmp = tempfile::tempdir().unwrap();
    let file = tmp.path().join("file");
    fs::write(&file, b"not a dir").unwrap();
    assert!(matches!(SledStore::open(&file, false), Err(StoreError::Io { .. })));
    assert!(SledStore::open(&file, true).is_err());
}

#[test]
fn second_open_while_first_alive_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let first = SledStore::open(tmp.path(), true).unwrap();
    put(&first, Tree::Meta, b"k", b"v");
    for create in [false, true] {
        match SledStore::open(tmp.path(), create) {
            Err(StoreError::Locked { path }) => assert_eq!(path, tmp.path()),
            other => panic!("expected Locked (create={create}), got {other:?}"),
        }
    }
    // What sled 0.34 itself reports (pinned so that a sled upgrade that changes it is noticed):
    // io::ErrorKind::Other, "could not acquire lock on \"<dir>/db\": Os { code: 11, kind: WouldBlock, .. }".
    // (Opened with our configuration: sled's default segment size differs from ours and would
    // be refused before the lock is tried.)
    match credseal_store::sled_config(tmp.path()).open() {
        Err(sled::Error::Io(e)) => {
            eprintln!("sled's own lock error: kind {:?}: {e}", e.kind());
            assert!(e.to_string().contains("could not acquire lock"), "{e}");
        }
        other => panic!("expected sled's lock error, got {:?}", other.map(|_| ())),
    }
    // The first handle is unaffected, and the lock goes with it.
    assert_eq!(first.get(Tree::Meta, b"k").unwrap(), Some(b"v".to_vec()));
    first.flush().unwrap();
    drop(first);
    let again = SledStore::open(tmp.path(), false).unwrap();
    assert_eq!(again.get(Tree::Meta, b"k").unwrap(), Some(b"v".to_vec()));
}

#[cfg(unix)]
fn set_mode(path: &Path, mode: u32) {
    use std::os::unix::fs::PermissionsExt;
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

#[cfg(unix)]
fn set_tree_mode(dir: &Path, dir_mode: u32, file_mode: u32) {
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            set_tree_mode(&path, dir_mode, file_mode);
        } else {
            set_mode(&path, file_mode);
        }
    }
    set_mode(dir, dir_mode);
}

#[cfg(unix)]
#[test]
fn read_only_dir_is_read_only() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    {
        let store = SledStore::open(&dir, true).unwrap();
        put(&store, Tree::Records, b"r", b"v");
        store.flush().unwrap();
    }
    set_tree_mode(&dir, 0o555, 0o444);
    // Root (CAP_DAC_OVERRIDE) ignores these modes; then there is nothing to observe.
    let probe = dir.join("probe");
    let privileged = fs::write(&probe, b"x").is_ok();
    let result = SledStore::open(&dir, false);
    if privileged {
        eprintln!("note: running with privileges that ignore file modes (root?); ReadOnly not asserted");
        let _ = fs::remove_file(&probe);
        assert!(result.is_ok(), "privileged open failed: {result:?}");
    } else {
        match &result {
            Err(StoreError::ReadOnly { path }) => assert_eq!(path, &dir),
            other => panic!("expected ReadOnly, got {other:?}"),
        }
    }
    drop(result);
    set_tree_mode(&dir, 0o755, 0o644);
    let store = SledStore::open(&dir, false).unwrap();
    assert_eq!(store.get(Tree::Records, b"r").unwrap(), Some(b"v".to_vec()));
}

/// Creates a store with some data, closes it, and returns its directory.
fn closed_store(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("store");
    let store = SledStore::open(&dir, true).unwrap();
    let mut b = Batch::new();
    for i in 0..2_000u32 {
        b.put(Tree::Records, i.to_be_bytes(), vec![0x5A; 100]);
    }
    store.apply(b).unwrap();
    store.flush().unwrap();
    dir
}

/// Opening damaged files must fail with Corrupt or Io (never panic, never look like a fresh store).
fn assert_open_fails_cleanly(dir: &Path, mutation: &str) {
    match SledStore::open(dir, false) {
        Err(StoreError::Corrupt { detail }) => eprintln!("{mutation}: Corrupt: {detail}"),
        Err(StoreError::Io { detail }) => eprintln!("{mutation}: Io: {detail}"),
        Err(other) => panic!("{mutation}: unexpected error {other:?}"),
        Ok(store) => {
            // sled may recover past a damaged tail; then the data it kept must be intact.
            let n = store.count_prefix(Tree::Records, b"").unwrap();
            panic!("{mutation}: open succeeded ({n} records)");
        }
    }
}

#[test]
fn conf_overwritten_with_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store(tmp.path());
    fs::write(dir.join("conf"), vec![0xABu8; 64]).unwrap();
    assert_open_fails_cleanly(&dir, "conf_garbage");
}

#[test]
fn db_overwritten_with_garbage() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store(tmp.path());
    let len = fs::metadata(dir.join("db")).unwrap().len() as usize;
    fs::write(dir.join("db"), vec![0xA5u8; len]).unwrap();
    assert_open_fails_cleanly(&dir, "db_garbage");
}

#[test]
fn db_truncated_to_zero() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store(tmp.path());
    fs::write(dir.join("db"), b"").unwrap();
    assert_open_fails_cleanly(&dir, "db_truncated");
}

#[test]
fn foreign_sled_database_is_rejected() {
    let tmp = tempfile::tempdir().unwrap();
    {
        let db = sled::open(tmp.path()).unwrap();
        db.insert(b"someone else's", b"data").unwrap();
        db.flush().unwrap();
    }
    for create in [false, true] {
        match SledStore::open(tmp.path(), create) {
            Err(StoreError::Corrupt { .. }) => {}
            other => panic!("expected Corrupt (create={create}), got {other:?}"),
        }
    }
}

// --- The value log (`credseal.vlog`, store format 2) ---

const VLOG: &str = "credseal.vlog";

/// Sizes on both sides of the 512-byte threshold, in key order.
const SIZES: [usize; 5] = [100, 511, 512, 3_000, 600];

fn sized_key(i: usize) -> Vec<u8> {
    format!("subject/{i}").into_bytes()
}

fn sized_value(i: usize) -> Vec<u8> {
    (0..SIZES[i]).map(|j| (j as u8) ^ (i as u8).wrapping_mul(41)).collect()
}

/// A closed store holding one Records value of each of `SIZES`; returns its directory.
fn closed_store_with_big_values(tmp: &Path) -> std::path::PathBuf {
    let dir = tmp.join("store");
    let store = SledStore::open(&dir, true).unwrap();
    let mut b = Batch::new();
    for i in 0..SIZES.len() {
        b.put(Tree::Records, sized_key(i), sized_value(i));
    }
    store.apply(b).unwrap();
    // Dropped without a flush: sled flushes on drop, the value log is durable already.
    drop(store);
    dir
}

fn assert_corrupt<T: std::fmt::Debug>(r: Result<T, StoreError>, what: &[&str]) {
    match r {
        Err(StoreError::Corrupt { detail }) => {
            for w in what {
                assert!(detail.contains(w), "{detail:?} does not say {w:?}");
            }
        }
        other => panic!("expected Corrupt, got {other:?}"),
    }
}

#[test]
fn values_on_both_sides_of_the_threshold_survive_reopen_after_drop() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    // 512, 3000 and 600 bytes went to the value log; 100 and 511 stayed in sled.
    assert_eq!(fs::metadata(dir.join(VLOG)).unwrap().len(), 512 + 3_000 + 600);
    let store = SledStore::open(&dir, false).unwrap();
    for i in 0..SIZES.len() {
        assert_eq!(store.get(Tree::Records, &sized_key(i)).unwrap(), Some(sized_value(i)));
    }
    let all: Vec<_> = store
        .scan_prefix(Tree::Records, b"subject/")
        .map(Result::unwrap)
        .collect();
    let want: Vec<_> = (0..SIZES.len()).map(|i| (sized_key(i), sized_value(i))).collect();
    assert_eq!(all, want);
    assert_eq!(
        store.last_with_prefix(Tree::Records, b"subject/").unwrap(),
        want.last().cloned()
    );
    let usage = store.value_log_usage().unwrap();
    assert_eq!((usage.values, usage.live_bytes, usage.dead_bytes()), (3, 4_112, 0));
    assert!(store.size_on_disk().unwrap() > 4_112);
    // Overwriting leaves the old bytes as garbage; appends go after them.
    put(&store, Tree::Records, &sized_key(3), &[1; 700]);
    let usage = store.value_log_usage().unwrap();
    assert_eq!(
        (usage.file_bytes, usage.live_bytes, usage.dead_bytes()),
        (4_812, 1_812, 3_000)
    );
    assert_eq!(store.get(Tree::Records, &sized_key(3)).unwrap(), Some(vec![1; 700]));
}

#[test]
fn vlog_byte_flipped_is_corrupt_and_names_the_tree() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    let p = dir.join(VLOG);
    let mut bytes = fs::read(&p).unwrap();
    bytes[512 + 1_234] ^= 0x01; // inside the 3000-byte value (the second appended)
    fs::write(&p, &bytes).unwrap();
    let store = SledStore::open(&dir, false).unwrap();
    assert_corrupt(store.get(Tree::Records, &sized_key(3)), &["records", "damaged"]);
    // The other values are intact and still readable.
    for i in [0, 1, 2, 4] {
        assert_eq!(store.get(Tree::Records, &sized_key(i)).unwrap(), Some(sized_value(i)));
    }
    let scanned: Vec<_> = store.scan_prefix(Tree::Records, b"").collect();
    assert_eq!(scanned.len(), SIZES.len());
    assert_corrupt(scanned[3].as_ref().map(|_| ()).map_err(clone_err), &["records"]);
    assert!(scanned.iter().enumerate().all(|(i, r)| (i == 3) != r.is_ok()));
    assert_corrupt(
        store
            .scan_prefix_after(Tree::Records, b"", Some(&sized_key(2)))
            .next()
            .unwrap(),
        &["records"],
    );
    // contains and count_prefix read keys only: the entry is still there.
    assert!(store.contains(Tree::Records, &sized_key(3)).unwrap());
    assert_eq!(store.count_prefix(Tree::Records, b"").unwrap(), SIZES.len() as u64);
}

fn clone_err(e: &StoreError) -> StoreError {
    match e {
        StoreError::Corrupt { detail } => StoreError::Corrupt { detail: detail.clone() },
        other => StoreError::Io {
            detail: other.to_string(),
        },
    }
}

#[test]
fn vlog_truncated_is_corrupt_and_says_it_is_short() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    let f = fs::OpenOptions::new().write(true).open(dir.join(VLOG)).unwrap();
    f.set_len(512 + 3_000 + 599).unwrap(); // the last value (600 bytes) loses its last byte
    drop(f);
    let store = SledStore::open(&dir, false).unwrap();
    assert_corrupt(store.get(Tree::Records, &sized_key(4)), &["records", "shorter"]);
    assert_corrupt(
        store.last_with_prefix(Tree::Records, b"subject/"),
        &["records", "shorter"],
    );
    for i in 0..4 {
        assert_eq!(store.get(Tree::Records, &sized_key(i)).unwrap(), Some(sized_value(i)));
    }
    // Appends after the new end are readable; the old pointer stays broken (its bytes would
    // now be the new value's: the digest tells them apart).
    put(&store, Tree::Records, b"new", &[5; 900]);
    assert_eq!(store.get(Tree::Records, b"new").unwrap(), Some(vec![5; 900]));
    assert_corrupt(store.get(Tree::Records, &sized_key(4)), &["records", "damaged"]);
}

#[test]
fn vlog_torn_tail_is_harmless() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    // Bytes of an append that never completed: nothing points there.
    let mut f = fs::OpenOptions::new().append(true).open(dir.join(VLOG)).unwrap();
    std::io::Write::write_all(&mut f, &[0xEE; 77]).unwrap();
    drop(f);
    let store = SledStore::open(&dir, false).unwrap();
    put(&store, Tree::Records, b"after", &[6; 1_000]);
    assert_eq!(store.get(Tree::Records, b"after").unwrap(), Some(vec![6; 1_000]));
    for i in 0..SIZES.len() {
        assert_eq!(store.get(Tree::Records, &sized_key(i)).unwrap(), Some(sized_value(i)));
    }
    assert_eq!(fs::metadata(dir.join(VLOG)).unwrap().len(), 4_112 + 77 + 1_000);
}

#[test]
fn vlog_removed_refuses_the_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    fs::remove_file(dir.join(VLOG)).unwrap();
    for create in [false, true] {
        assert_corrupt(SledStore::open(&dir, create), &["credseal.vlog"]);
    }
    assert!(
        !dir.join(VLOG).exists(),
        "a refused open must not create an empty value log"
    );
}

#[test]
fn format_1_store_is_refused_with_a_clear_message() {
    let tmp = tempfile::tempdir().unwrap();
    // What a store of format 1 looked like: the marker "1", values raw in sled, no value log.
    {
        let db = credseal_store::sled_config(tmp.path()).open().unwrap();
        db.insert(b"\x00credseal-store/format", b"1").unwrap();
        db.insert(b"\x04subject", vec![0x03; 2_000]).unwrap();
        db.flush().unwrap();
    }
    for create in [false, true] {
        assert_corrupt(SledStore::open(tmp.path(), create), &["format \"1\"", "format \"2\""]);
    }
    assert!(
        !tmp.path().join(VLOG).exists(),
        "nothing is written into a refused store"
    );
    assert!(!tmp.path().join("credseal.wal").exists());
}
