//! The store's files through the real `credseal` binary, as an attacker with write access to
//! the data directory's `db/` (but without the keystore passphrase) would try them: a
//! symbolic link planted in place of a store file is refused and its target is untouched,
//! and the files the store creates are private.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, files_under, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credseal"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CREDSEAL_DATA")
        .env("CREDSEAL_PASSPHRASE", PASS)
        .args(args)
        .output()
        .unwrap()
}

/// A fresh platform with fast KDF settings and the example records ingested.
fn ingested(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    let ds = data.to_str().unwrap();
    let o = run(&[
        "init",
        "--data",
        ds,
        "--catalog",
        CATALOG,
        "--origin",
        "test.credseal.invalid/log",
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        ds,
        RECORDS,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    data
}

/// Exit code of a verification failure (tampering), as `credseal` documents it.
const VERIFICATION: i32 = 4;

/// Replaces `db/<name>` with a symbolic link to the platform's keystore, runs commands that
/// open the store, and checks each is refused naming the link while the keystore stays
/// byte-identical; then restores the file and checks the platform opens as before.
fn planted_link_to_the_keystore_is_refused(name: &str) {
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let ds = data.to_str().unwrap();
    let before = run(&["keys", "status", "--data", ds, "--json"]);
    assert_eq!(code(&before), 0, "{}", stderr(&before));

    let keystore = data.join("keystore");
    let sealed = std::fs::read(&keystore).unwrap();
    let file = data.join("db").join(name);
    assert!(file.is_file(), "the store has no {}", file.display());
    let saved = tmp.path().join("saved");
    std::fs::rename(&file, &saved).unwrap();
    std::os::unix::fs::symlink(&keystore, &file).unwrap();

    for args in [
        &["keys", "status", "--data", ds][..],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            ds,
            RECORDS,
        ][..],
        &["check", "--data", ds][..],
    ] {
        let o = run(args);
        let err = stderr(&o);
        assert_eq!(code(&o), VERIFICATION, "{args:?}: {err}");
        assert!(err.contains("symbolic link"), "{args:?}: {err}");
        assert!(err.contains(&file.display().to_string()), "{args:?}: {err}");
        assert!(common::no_result(&o), "{args:?}: {}", stdout(&o));
        assert_eq!(
            std::fs::read(&keystore).unwrap(),
            sealed,
            "{args:?} wrote to the keystore"
        );
    }

    std::fs::remove_file(&file).unwrap();
    std::fs::rename(&saved, &file).unwrap();
    let after = run(&["keys", "status", "--data", ds, "--json"]);
    assert_eq!(code(&after), 0, "{}", stderr(&after));
    assert_eq!(stdout(&after), stdout(&before));
}

#[test]
fn symlinked_wal_is_refused_and_the_keystore_survives() {
    planted_link_to_the_keystore_is_refused("credseal.wal");
}

#[test]
fn symlinked_value_log_is_refused_and_the_keystore_survives() {
    planted_link_to_the_keystore_is_refused("credseal.vlog");
}

/// sled's data file, which also carries the store's lock.
#[test]
fn symlinked_sled_db_is_refused_and_the_keystore_survives() {
    planted_link_to_the_keystore_is_refused("db");
}

#[test]
fn store_files_are_private() {
    let tmp = tempfile::tempdir().unwrap();
    let data = ingested(tmp.path());
    let db = data.join("db");
    let mode = |p: &Path| std::fs::symlink_metadata(p).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode(&db), 0o700);
    let files = files_under(&db);
    assert!(files.len() >= 4, "{files:?}");
    for f in files {
        assert_eq!(mode(&f), 0o600, "{} has mode {:o}", f.display(), mode(&f));
    }
    assert_eq!(mode(&db.join("blobs")), 0o700);
}
