//! Key custody through the real binary (issue 22): role keys encrypted at rest by default,
//! `keys passphrase`, and the M-of-N unseal of the keystore's master key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const KEY_PASS: &str = "test key passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";

/// The binary with none of the passphrase variables set.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in [
        "CREDSEAL_PASSPHRASE",
        "CREDSEAL_KEY_PASSPHRASE",
        "CREDSEAL_NEW_PASSPHRASE",
        "CREDSEAL_UNSEAL",
        "CREDSEAL_DATA",
    ] {
        c.env_remove(v);
    }
    c
}

fn with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = bin();
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn run(args: &[&str]) -> Output {
    with(&[("CREDSEAL_PASSPHRASE", PASS)], args)
}

fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn init(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    ok(&run(&[
        "init",
        "--data",
        &s(&data),
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]));
    data
}

/// `authority enroll` signs a credential with the authority's key: a use of a signing key
/// file that needs no platform.
fn enroll_args<'a>(key: &'a str, dept_dir: &'a str, out: &'a str) -> Vec<String> {
    [
        "authority",
        "enroll",
        "--key",
        key,
        "--serial",
        "1001",
        "--department",
        "bank-a",
        "--name",
        "Bank A",
        "--signing-key",
        &format!("{dept_dir}/signing.pub"),
        "--sealing-key",
        &format!("{dept_dir}/sealing.pub"),
        "--classes",
        "identity",
        "--purposes",
        "loan-approval",
        "--audience",
        ORIGIN,
        "--out",
        out,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn role_keys_are_encrypted_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let key = s(&dir.path().join("authority.key"));
    let bank = s(&dir.path().join("bank-a"));
    let kp = [("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)];
    ok(&with(&kp, &["authority", "keygen", "--out", &key]));
    ok(&with(&kp, &["dept", "keygen", "--out-dir", &bank]));
    ok(&with(
        &kp,
        &["officer", "keygen", "--out", &s(&dir.path().join("officer.key"))],
    ));
    ok(&with(
        &kp,
        &["subject", "keygen", "--out-dir", &s(&dir.path().join("subj"))],
    ));
    // Every secret key file is one encrypted line: no key text, no key bytes in the clear.
    for f in [
        key.clone(),
        format!("{bank}/signing.key"),
        format!("{bank}/sealing.key"),
        s(&dir.path().join("officer.key")),
        s(&dir.path().join("subj/signing.key")),
        s(&dir.path().join("subj/sealing.key")),
    ] {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("cs1.encrypted-key."), "{f}: {text}");
        assert!(!text.contains("signing-key") && !text.contains("sealing-key"), "{f}");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f}"
        );
    }
    // The public halves stay plain.
    assert!(
        std::fs::read_to_string(format!("{key}.pub"))
            .unwrap()
            .starts_with("cs1.public-key.")
    );

    // With the passphrase, the key signs.
    let cred = s(&dir.path().join("bank-a.cred"));
    ok(&with(&kp, &args(&enroll_args(&key, &bank, &cred))));
    assert!(std::fs::read_to_string(&cred).unwrap().starts_with("cs1."));

    // A wrong passphrase: exit 1, the file named, nothing signed, no key text in the error.
    let cred2 = s(&dir.path().join("other.cred"));
    let o = with(
        &[("CREDSEAL_KEY_PASSPHRASE", "not it")],
        &args(&enroll_args(&key, &bank, &cred2)),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrong passphrase for this key file"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("authority.key"), "{}", stderr(&o));
    assert!(!Path::new(&cred2).exists());

    // No passphrase and no terminal: says where the passphrase comes from.
    let o = with(&[], &args(&enroll_args(&key, &bank, &cred2)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is encrypted") && stderr(&o).contains("CREDSEAL_KEY_PASSPHRASE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn keygen_without_a_key_passphrase_says_how_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authority.key");
    let o = with(&[], &["authority", "keygen", "--out", &s(&key)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--unencrypted") && stderr(&o).contains("CREDSEAL_KEY_PASSPHRASE"),
        "{}",
        stderr(&o)
    );
    assert!(!key.exists() && !dir.path().join("authority.key.pub").exists());
    let bank = dir.path().join("bank");
    let o = with(&[], &["dept", "keygen", "--out-dir", &s(&bank)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!bank.join("signing.key").exists() && !bank.join("sealing.key").exists());
}

#[test]
fn unencrypted_is_explicit_and_plain_key_files_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = s(&dir.path().join("authority.key"));
    let bank = s(&dir.path().join("bank-a"));
    ok(&with(&[], &["authority", "keygen", "--unencrypted", "--out", &key]));
    ok(&with(&[], &["dept", "keygen", "--unencrypted", "--out-dir", &bank]));
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("cs1.signing-key."));
    // A plain key file (as every key file was before) is used without any key passphrase.
    let cred = s(&dir.path().join("bank-a.cred"));
    ok(&with(&[], &args(&enroll_args(&key, &bank, &cred))));
}

#[test]
fn keys_passphrase_changes_it_and_the_old_file_is_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let data = init(dir.path());
    let d = s(&data);
    let ks = data.join("keystore");
    let before = std::fs::read(&ks).unwrap();
    let names = |p: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files_before = names(&data);

    // The same passphrase again: nothing to change (exit 2), the file untouched.
    let o = with(
        &[("CREDSEAL_PASSPHRASE", PASS), ("CREDSEAL_NEW_PASSPHRASE", PASS)],
        &["keys", "passphrase", "--data", &d],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A wrong current passphrase: refused (exit 4, as for every command), the file untouched.
    let o = with(
        &[
            ("CREDSEAL_PASSPHRASE", "not it"),
            ("CREDSEAL_NEW_PASSPHRASE", "new one"),
        ],
        &["keys", "passphrase", "--data", &d],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&ks).unwrap(), before);

    let new = "the new test passphrase";
    let o = with(
        &[("CREDSEAL_PASSPHRASE", PASS), ("CREDSEAL_NEW_PASSPHRASE", new)],
        &["keys", "passphrase", "--data", &d],
    );
    ok(&o);
    assert!(!stderr(&o).contains(new) && !stdout(&o).contains(new));
    // Replaced whole: no temporary file left beside it, mode 0600.
    assert_eq!(names(&data), files_before);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&ks).unwrap().permissions().mode() & 0o777, 0o600);

    // The old passphrase no longer opens it; the new one does.
    let o = run(&["keys", "status", "--data", &d]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    ok(&with(
        &[("CREDSEAL_PASSPHRASE", new)],
        &["ingest", "--data", &d, RECORDS],
    ));

    // The change was a key event: putting the old file (old passphrase) back is a rollback.
    std::fs::write(&ks, &before).unwrap();
    let o = run(&["keys", "status", "--data", &d]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("rollback"), "{}", stderr(&o));
}
