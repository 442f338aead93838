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

// --- Planted symbolic links and hard links, file modes ---

/// A file outside the store standing in for the platform's keystore, which a planted link
/// points at; returns its path and bytes.
fn victim(tmp: &Path) -> (std::path::PathBuf, Vec<u8>) {
    let path = tmp.join("keystore");
    let bytes: Vec<u8> = (0..4_096u32).map(|i| (i.wrapping_mul(7) + 3) as u8).collect();
    fs::write(&path, &bytes).unwrap();
    (path, bytes)
}

/// The open was refused as tampering, naming `link` and saying it is a symbolic link.
fn assert_symlink_refused(result: Result<SledStore, StoreError>, link: &Path) {
    match result {
        Err(StoreError::Corrupt { detail }) => {
            assert!(detail.contains("is a symbolic link"), "{detail}");
            assert!(detail.contains(&link.display().to_string()), "{detail}");
        }
        other => panic!("expected Corrupt (symbolic link), got {:?}", other.map(|_| ())),
    }
}

/// Replaces the store's file `name` with a symbolic link to a victim file, and checks that
/// opening the store (with and without `create`) is refused and leaves the victim
/// byte-identical; then puts the file back and checks the store opens with its data.
fn planted_symlink_is_refused(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    let (victim, bytes) = victim(tmp.path());
    let file = dir.join(name);
    let saved = tmp.path().join("saved");
    fs::rename(&file, &saved).unwrap();
    std::os::unix::fs::symlink(&victim, &file).unwrap();
    for create in [false, true] {
        assert_symlink_refused(SledStore::open(&dir, create), &file);
        assert_eq!(
            fs::read(&victim).unwrap(),
            bytes,
            "{name}: the link's target was written"
        );
        assert!(fs::symlink_metadata(&file).unwrap().file_type().is_symlink());
    }
    fs::remove_file(&file).unwrap();
    fs::rename(&saved, &file).unwrap();
    let store = SledStore::open(&dir, false).unwrap();
    for i in 0..SIZES.len() {
        assert_eq!(store.get(Tree::Records, &sized_key(i)).unwrap(), Some(sized_value(i)));
    }
}

#[cfg(unix)]
#[test]
fn symlinked_wal_is_refused_and_its_target_is_unchanged() {
    planted_symlink_is_refused("credseal.wal");
}

#[cfg(unix)]
#[test]
fn symlinked_value_log_is_refused_and_its_target_is_unchanged() {
    planted_symlink_is_refused(VLOG);
}

/// sled's `db` file: sled's data and also the file its lock is taken on (and the one the
/// snapshot clean-up opens to take that lock first); there is no separate lock file.
#[cfg(unix)]
#[test]
fn symlinked_sled_db_and_lock_file_is_refused_and_its_target_is_unchanged() {
    planted_symlink_is_refused("db");
}

#[cfg(unix)]
#[test]
fn symlinked_sled_conf_is_refused_and_its_target_is_unchanged() {
    planted_symlink_is_refused("conf");
}

/// A link to a file that does not exist yet: following it would create the target.
#[cfg(unix)]
#[test]
fn dangling_symlinked_wal_is_refused_and_creates_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    let wal = dir.join("credseal.wal");
    let target = tmp.path().join("created-through-the-link");
    fs::remove_file(&wal).unwrap();
    std::os::unix::fs::symlink(&target, &wal).unwrap();
    for create in [false, true] {
        assert_symlink_refused(SledStore::open(&dir, create), &wal);
        assert!(fs::symlink_metadata(&target).is_err(), "the link's target was created");
    }
}

/// The store directory itself a link (to another directory holding a store): refused.
#[cfg(unix)]
#[test]
fn symlinked_store_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let real = closed_store_with_big_values(tmp.path());
    let link = tmp.path().join("link");
    std::os::unix::fs::symlink(&real, &link).unwrap();
    for create in [false, true] {
        assert_symlink_refused(SledStore::open(&link, create), &link);
    }
}

/// A hard link is a regular file, so `O_NOFOLLOW` alone would not stop it: a second name for
/// the victim planted as the write-ahead log is refused by its link count.
#[cfg(unix)]
#[test]
fn hard_linked_wal_is_refused_and_its_target_is_unchanged() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    let (victim, bytes) = victim(tmp.path());
    let wal = dir.join("credseal.wal");
    fs::remove_file(&wal).unwrap();
    fs::hard_link(&victim, &wal).unwrap();
    for create in [false, true] {
        assert_corrupt(SledStore::open(&dir, create), &["credseal.wal", "2 hard links"]);
        assert_eq!(
            fs::read(&victim).unwrap(),
            bytes,
            "the hard link's other name was written"
        );
    }
}

/// Not a regular file where the store keeps one (a named pipe would block a reader).
#[cfg(unix)]
#[test]
fn directory_in_place_of_the_value_log_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    fs::remove_file(dir.join(VLOG)).unwrap();
    fs::create_dir(dir.join(VLOG)).unwrap();
    assert_corrupt(SledStore::open(&dir, false), &[VLOG, "not a regular file"]);
}

#[cfg(unix)]
fn mode_of(path: &Path) -> u32 {
    use std::os::unix::fs::PermissionsExt;
    fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
}

/// Every file under `dir` (recursively) and every directory, with its mode.
#[cfg(unix)]
fn modes_under(dir: &Path) -> Vec<(std::path::PathBuf, u32)> {
    let mut out = vec![(dir.to_path_buf(), mode_of(dir))];
    for entry in fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if fs::symlink_metadata(&path).unwrap().is_dir() {
            out.extend(modes_under(&path));
        } else {
            out.push((path.clone(), mode_of(&path)));
        }
    }
    out
}

#[cfg(unix)]
#[test]
fn created_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("a").join("store");
    let store = SledStore::open(&dir, true).unwrap();
    put(&store, Tree::Records, b"big", &[7; 4_000]);
    store.flush().unwrap();
    let modes = modes_under(&dir);
    // db, conf, blobs/, the write-ahead log, the value log (and snapshots if any).
    for name in ["db", "conf", "blobs", "credseal.wal", VLOG] {
        assert!(
            modes.iter().any(|(p, _)| p.ends_with(name)),
            "{name} missing: {modes:?}"
        );
    }
    for (path, mode) in &modes {
        let want = if path.is_dir() { 0o700 } else { 0o600 };
        assert_eq!(*mode, want, "{} has mode {mode:o}", path.display());
    }
    // A parent the store created is private too.
    assert_eq!(mode_of(&tmp.path().join("a")), 0o700);
}

/// Files left readable by group and others (an older build, a copy) are tightened at open;
/// bits are only removed, never added.
#[cfg(unix)]
#[test]
fn readable_files_are_tightened_at_open() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = closed_store_with_big_values(tmp.path());
    set_tree_mode(&dir, 0o755, 0o644);
    set_mode(&dir.join("conf"), 0o444);
    let store = SledStore::open(&dir, false).unwrap();
    for (path, mode) in modes_under(&dir) {
        let want = if path.ends_with("conf") {
            0o400
        } else if path.is_dir() {
            0o700
        } else {
            0o600
        };
        assert_eq!(mode, want, "{} has mode {mode:o}", path.display());
    }
    assert_eq!(store.get(Tree::Records, &sized_key(3)).unwrap(), Some(sized_value(3)));
}

#[cfg(unix)]
#[test]
fn world_writable_store_directory_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    fs::create_dir(&dir).unwrap();
    set_mode(&dir, 0o777);
    for create in [true, false] {
        match SledStore::open(&dir, create) {
            Err(StoreError::Insecure { path, mode }) => {
                assert_eq!((path.as_path(), mode), (dir.as_path(), 0o777));
            }
            other => panic!("expected Insecure, got {other:?}"),
        }
    }
    assert!(
        fs::read_dir(&dir).unwrap().next().is_none(),
        "a refused open wrote files"
    );
    let msg = SledStore::open(&dir, true).unwrap_err().to_string();
    assert!(msg.contains("777") && msg.contains(&dir.display().to_string()), "{msg}");
    // Group-writable is refused too; an existing store in it as well.
    set_mode(&dir, 0o700);
    drop(closed_store_with_big_values(tmp.path()));
    set_mode(&dir, 0o770);
    assert!(matches!(
        SledStore::open(&dir, false),
        Err(StoreError::Insecure { mode: 0o770, .. })
    ));
    set_mode(&dir, 0o755);
    let store = SledStore::open(&dir, false).unwrap();
    assert_eq!(store.get(Tree::Records, &sized_key(2)).unwrap(), Some(sized_value(2)));
    drop(store);
    assert_eq!(mode_of(&dir), 0o700, "the directory is tightened at open");
}

/// Bytes the file system holds for the value log.
fn vlog_allocated(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    fs::metadata(dir.join("credseal.vlog")).unwrap().blocks() * 512
}

/// Every value rewritten once (what a full rewrap of a store from before key trees does):
/// the log holds twice the live bytes; compaction gives the dead half back in place, every
/// value still reads back, and appends and overwrites go on while it runs.
#[test]
fn compaction_after_a_full_rewrite_returns_disk_use_to_within_1_2x_and_loses_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("store");
    let store = SledStore::open(&dir, true).unwrap();
    let value = |i: u32, round: u8| {
        let mut v = vec![round; 3000 + (i as usize % 700)];
        v[..4].copy_from_slice(&i.to_be_bytes());
        v
    };
    let n = 2_000u32;
    let write = |round: u8| {
        for chunk in (0..n).collect::<Vec<_>>().chunks(100) {
            let mut b = Batch::new();
            for i in chunk {
                b.put(Tree::Records, i.to_be_bytes().to_vec(), value(*i, round));
            }
            store.apply(b).unwrap();
        }
        store.flush().unwrap();
    };
    write(1);
    let before = vlog_allocated(&dir);
    write(2);
    let rewritten = vlog_allocated(&dir);
    assert!(rewritten > before * 19 / 10, "{before} {rewritten}");
    // Compaction while another thread keeps overwriting the first hundred values.
    let c = std::thread::scope(|s| {
        let w = s.spawn(|| {
            for round in 3..6u8 {
                let mut b = Batch::new();
                for i in 0..100u32 {
                    b.put(Tree::Records, i.to_be_bytes().to_vec(), value(i, round));
                }
                store.apply(b).unwrap();
            }
        });
        let c = store.compact_value_log().unwrap();
        w.join().unwrap();
        c
    });
    assert!(c.punched_bytes > 0 && c.allocated_after < c.allocated_before, "{c:?}");
    let after = vlog_allocated(&dir);
    assert!(
        after * 10 <= before * 12 + 3 * 100 * 4096 * 10,
        "value log on disk: {before} B before the rewrite, {rewritten} B after it, {after} B after compaction"
    );
    for i in 0..n {
        let want = value(i, if i < 100 { 5 } else { 2 });
        assert_eq!(
            store.get(Tree::Records, &i.to_be_bytes()).unwrap(),
            Some(want),
            "value {i}"
        );
    }
    // Again: nothing more to give back, nothing lost; and after a reopen.
    let again = store.compact_value_log().unwrap();
    assert!(again.allocated_after <= again.allocated_before, "{again:?}");
    drop(store);
    let store = SledStore::open(&dir, false).unwrap();
    assert_eq!(
        store.scan_prefix(Tree::Records, b"").count(),
        n as usize,
        "values after reopen"
    );
    for i in (0..n).step_by(97) {
        assert!(store.get(Tree::Records, &i.to_be_bytes()).unwrap().is_some());
    }
}
