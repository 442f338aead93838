//! Attacks on the trust state through the `credseal` binary: someone with write access to
//! `db/` (a forged, CRC-valid write-ahead-log frame) but no passphrase deletes or rolls back
//! what decides access — the installed revocation list, the canary set, the keystore
//! generation, a replay entry, a subject's key — or edits the policy in `credseal.toml`, or
//! the data directory is left writable by others. Each attack ends in exit 4 naming what
//! differs, and nothing is released (no answer file, nothing on stdout).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, inject_wal_frame, stderr, stdout};
use credseal_store::{SledStore, Store, Tree};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
/// An example subject with records.
const SUBJECT: &str = "42010619960510907X";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credseal"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CREDSEAL_DATA")
        .env("CREDSEAL_PASSPHRASE", PASS)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// A platform with the example data, first officers `off-a` and `off-b` (keys `off-a`,
/// `off-b` in the directory), a trusted authority and bank-a enrolled (serial 1).
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    bank: String,
    cred: String,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
        let p = |n: &str| dir.path().join(n).display().to_string();
        for o in ["off-a", "off-b"] {
            ok(&["officer", "keygen", "--unencrypted", "--out", &p(o)]);
        }
        ok(&[
            "init",
            "--data",
            &data,
            "--catalog",
            CATALOG,
            "--origin",
            ORIGIN,
            "--kdf-mib",
            "8",
            "--kdf-passes",
            "1",
            "--first-officer",
            &format!("off-a={}.pub", p("off-a")),
            "--first-officer",
            &format!("off-b={}.pub", p("off-b")),
        ]);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ]);
        let (auth, bank, cred) = (p("authority.key"), p("bank"), p("credential"));
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
        ok(&[
            "authority",
            "enroll",
            "--key",
            &auth,
            "--serial",
            "1",
            "--department",
            "bank-a",
            "--name",
            "Bank A",
            "--signing-key",
            &format!("{bank}/signing.pub"),
            "--sealing-key",
            &format!("{bank}/sealing.pub"),
            "--classes",
            "identity,loans",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ]);
        Fx {
            dir,
            data,
            auth,
            bank,
            cred,
        }
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// The approval of `op` by the officer whose key file is `officer` (in the directory),
    /// written to `out` (in the directory).
    fn approval(&self, officer: &str, op: &str, out: &str) -> String {
        let out = self.path(out);
        ok(&[
            "officer",
            "approve",
            "--key",
            &self.path(officer),
            "--operation",
            op,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        out
    }

    fn db(&self) -> PathBuf {
        Path::new(&self.data).join("db")
    }

    /// A fresh query token of bank-a for [`SUBJECT`]'s identity, lifetime `ttl` seconds.
    fn token(&self, name: &str, ttl: u64) -> String {
        let out = self.path(name);
        ok(&[
            "dept",
            "query",
            "--key",
            &format!("{}/signing.key", self.bank),
            "--credential",
            &self.cred,
            "--subject",
            SUBJECT,
            "--classes",
            "identity",
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "contract 2026-001",
            "--audience",
            ORIGIN,
            "--ttl",
            &ttl.to_string(),
            "--out",
            &out,
        ]);
        out
    }

    /// Runs `credseal query` with `token`; returns the output and the answer path.
    fn query(&self, token: &str, answer: &str) -> (Output, PathBuf) {
        let out = self.path(answer);
        let o = run(&[
            "query",
            "--data",
            &self.data,
            "--credential",
            &self.cred,
            "--token",
            token,
            "--out",
            &out,
        ]);
        (o, PathBuf::from(out))
    }

    /// Reads the store directly (no passphrase needed): what an adversary with `db/` sees.
    fn peek<T>(&self, f: impl FnOnce(&SledStore) -> T) -> T {
        let s = SledStore::open(&self.db(), false).unwrap();
        f(&s)
    }
}

/// Exit 4 naming `component` as a trust-state mismatch, nothing on stdout.
#[track_caller]
fn assert_refused(o: &Output, component: &str) {
    let e = stderr(o);
    assert_eq!(code(o), 4, "expected exit 4: {e}");
    assert!(
        e.contains(&format!("trust state: {component}")),
        "expected {component:?} named: {e}"
    );
    assert!(common::no_result(o), "nothing is printed: {}", stdout(o));
}

/// A refused query wrote no answer and printed nothing.
#[track_caller]
fn assert_nothing_released(o: &Output, answer: &Path) {
    assert!(!answer.exists(), "a refused query wrote an answer: {}", stderr(o));
    assert!(common::no_result(o), "{}", stdout(o));
}

const META: u8 = 1;
const REPLAY: u8 = 6;
const REVOCATIONS: u8 = 12;

#[test]
fn wal_deleted_revocation_list_refused() {
    let fx = Fx::new();
    let list = fx.path("revocations");
    ok(&[
        "authority",
        "revoke",
        "--key",
        &fx.auth,
        "--serial",
        "1",
        "--audience",
        ORIGIN,
        "--out",
        &list,
        "--data",
        &fx.data,
    ]);
    let t = fx.token("t1", 300);
    let (o, answer) = fx.query(&t, "a1");
    assert_eq!(code(&o), 3, "the revoked credential is denied: {}", stderr(&o));
    assert_nothing_released(&o, &answer);
    // The attack: delete the installed list, so that the revoked credential is granted again.
    inject_wal_frame(&fx.db(), &[(REVOCATIONS, b"current", None)]);
    let (o, answer) = fx.query(&fx.token("t2", 300), "a2");
    assert_refused(&o, "revocation list");
    assert_nothing_released(&o, &answer);
}

#[test]
fn wal_deleted_canary_set_refused() {
    let fx = Fx::new();
    let officer = fx.path("officer.key");
    ok(&["staff", "keygen", "--unencrypted", "--out", &officer]);
    let o = common::enroll_staff(
        &|a: &[&str]| run(a),
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        Some(&fx.auth),
        "officer",
        "off-1",
        &format!("{officer}.pub"),
    );
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let ids = fx.path("canary-ids");
    ok(&[
        "canary",
        "plant",
        "--data",
        &fx.data,
        "--key",
        &officer,
        "--count",
        "1",
        "--ids-out",
        &ids,
    ]);
    assert!(fx.peek(|s| s.get(Tree::Meta, b"canaries").unwrap().is_some()));
    // The attack: delete the canary set, so that canary queries stop alerting.
    inject_wal_frame(&fx.db(), &[(META, b"canaries", None)]);
    let (o, answer) = fx.query(&fx.token("t", 300), "a");
    assert_refused(&o, "canary set");
    assert_nothing_released(&o, &answer);
}

#[test]
fn wal_deleted_keystore_generation_refused() {
    let fx = Fx::new();
    let keystore = Path::new(&fx.data).join("keystore");
    let old = std::fs::read(&keystore).unwrap();
    // A key event raises the keystore generation; the old copy is now a rollback.
    ok(&["keys", "rotate", "--data", &fx.data, "--class", "loans"]);
    std::fs::write(&keystore, &old).unwrap();
    let o = run(&["keys", "status", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "the old keystore is refused: {}", stderr(&o));
    // The attack: delete the generation the store has seen, so the old copy is accepted.
    inject_wal_frame(&fx.db(), &[(META, b"keystore-generation", None)]);
    let (o, answer) = fx.query(&fx.token("t", 300), "a");
    assert_refused(&o, "keystore generation");
    assert_nothing_released(&o, &answer);
}

#[test]
fn wal_deleted_replay_entry_refused() {
    let fx = Fx::new();
    let t = fx.token("t", 300);
    let (o, answer) = fx.query(&t, "a1");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(answer.exists());
    let (o, answer) = fx.query(&t, "a2");
    assert_eq!(code(&o), 3, "a replayed token is denied: {}", stderr(&o));
    assert_nothing_released(&o, &answer);
    // The attack: delete the token's replay entry, so that it is accepted a second time.
    let replay: Vec<Vec<u8>> = fx.peek(|s| s.scan_prefix(Tree::Replay, b"q").map(|kv| kv.unwrap().0).collect());
    assert_eq!(replay.len(), 1);
    inject_wal_frame(&fx.db(), &[(REPLAY, &replay[0], None)]);
    let (o, answer) = fx.query(&t, "a3");
    assert_refused(&o, "replay and consent-use entries");
    assert_nothing_released(&o, &answer);
}

#[test]
fn old_subject_key_replayed_refused() {
    let fx = Fx::new();
    let (old, new) = (fx.path("subject-old"), fx.path("subject-new"));
    ok(&["subject", "keygen", "--unencrypted", "--out-dir", &old]);
    ok(&["subject", "keygen", "--unencrypted", "--out-dir", &new]);
    let register = |dir: &str, replace: bool| {
        let key = format!("{dir}/signing.pub");
        let mut args = vec![
            "subject",
            "register",
            "--data",
            &fx.data,
            "--subject",
            SUBJECT,
            "--key",
            &key,
        ];
        if replace {
            args.push("--replace");
        }
        ok(&args);
    };
    register(&old, false);
    let stored = |s: &SledStore| -> (Vec<u8>, Vec<u8>) {
        let all: Vec<_> = s
            .scan_prefix(Tree::Meta, b"subject-key:")
            .map(|kv| kv.unwrap())
            .collect();
        assert_eq!(all.len(), 1);
        all[0].clone()
    };
    let (key, old_value) = fx.peek(stored);
    // The old key is lost; the subject's new key replaces it.
    register(&new, true);
    assert_ne!(fx.peek(stored).1, old_value);
    // The attack: put the old (MAC'd) value back, so that the old key works again.
    inject_wal_frame(&fx.db(), &[(META, &key, Some(&old_value))]);
    let q = fx.path("self-query");
    ok(&[
        "subject",
        "query",
        "--key",
        &format!("{old}/signing.key"),
        "--sealing-key",
        &format!("{old}/sealing.pub"),
        "--subject",
        SUBJECT,
        "--classes",
        "identity",
        "--audience",
        ORIGIN,
        "--out",
        &q,
    ]);
    let answer = PathBuf::from(fx.path("answer"));
    let o = run(&[
        "query",
        "--data",
        &fx.data,
        "--self-query",
        &q,
        "--out",
        answer.to_str().unwrap(),
    ]);
    assert_refused(&o, "subject keys");
    assert!(
        !stderr(&o).contains(SUBJECT),
        "the subject is not named: {}",
        stderr(&o)
    );
    assert_nothing_released(&o, &answer);
}

#[test]
fn edited_policy_refused() {
    let fx = Fx::new();
    // The attack: two lines in credseal.toml grant day-long tokens.
    let cfg = Path::new(&fx.data).join("credseal.toml");
    let text = std::fs::read_to_string(&cfg).unwrap();
    std::fs::write(&cfg, format!("{text}\n[policy]\nmax_token_lifetime_secs = 86400\n")).unwrap();
    let (o, answer) = fx.query(&fx.token("t", 86_000), "a");
    assert_refused(&o, "policy");
    assert!(
        stderr(&o).contains("set-policy"),
        "the legitimate way is named: {}",
        stderr(&o)
    );
    assert_nothing_released(&o, &answer);
    // The legitimate way: `officer set-policy` (after the edit is undone) with two officers'
    // approvals leaves a receipt, and the longer token is then granted.
    std::fs::write(&cfg, &text).unwrap();
    let op = "set policy max_skew_secs 120 max_token_lifetime_secs 86400 max_consent_lifetime_secs 34560000";
    let (a, b) = (fx.approval("off-a", op, "pa"), fx.approval("off-b", op, "pb"));
    let o = ok(&[
        "officer",
        "set-policy",
        "--data",
        &fx.data,
        "--max-token-lifetime-secs",
        "86400",
        "--approval",
        &a,
        "--approval",
        &b,
    ]);
    assert!(stdout(&o).contains("max_token_lifetime_secs 86400"), "{}", stdout(&o));
    let (o, answer) = fx.query(&fx.token("t2", 86_000), "a2");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(answer.exists());
}

#[cfg(unix)]
#[test]
fn data_dir_world_writable_refused() {
    use std::os::unix::fs::PermissionsExt as _;
    let fx = Fx::new();
    let mode = |p: &str| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&fx.data), 0o700, "init creates the data directory private");
    // `init` into an existing empty directory makes it private too.
    let empty = fx.path("empty");
    std::fs::create_dir(&empty).unwrap();
    std::fs::set_permissions(&empty, std::fs::Permissions::from_mode(0o777)).unwrap();
    ok(&[
        "init",
        "--data",
        &empty,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    assert_eq!(mode(&empty), 0o700);
    // The attack surface: a data directory anyone may write to.
    std::fs::set_permissions(&fx.data, std::fs::Permissions::from_mode(0o777)).unwrap();
    let (o, answer) = fx.query(&fx.token("t", 300), "a");
    let e = stderr(&o);
    assert_eq!(code(&o), 4, "{e}");
    assert!(e.contains("is not private") && e.contains("0777"), "{e}");
    assert_nothing_released(&o, &answer);
}

#[test]
fn keystore_from_another_platform_refused() {
    let fx = Fx::new();
    let keystore = Path::new(&fx.data).join("keystore");
    let original = std::fs::read(&keystore).unwrap();
    // The reviewer's steps: a copy of the keystore, a second platform made with it
    // (`init --keystore`) whose first officers the attacker holds, a KEK retired there.
    let copy = fx.path("keystore-copy");
    std::fs::copy(&keystore, &copy).unwrap();
    let other = fx.path("other-data");
    for o in ["evil-a", "evil-b"] {
        ok(&["officer", "keygen", "--unencrypted", "--out", &fx.path(o)]);
    }
    ok(&[
        "init",
        "--data",
        &other,
        "--catalog",
        CATALOG,
        "--keystore",
        &copy,
        "--first-officer",
        &format!("evil-a={}.pub", fx.path("evil-a")),
        "--first-officer",
        &format!("evil-b={}.pub", fx.path("evil-b")),
    ]);
    ok(&["keys", "rotate", "--data", &other, "--class", "loans"]);
    // The class's key-tree root moves to v2 (retire refuses a version that wraps a root).
    ok(&["keys", "rewrap", "--data", &other]);
    let op = "retire loans v1";
    let (a, b) = (
        fx.approval("evil-a", op, "evil-approval-a"),
        fx.approval("evil-b", op, "evil-approval-b"),
    );
    ok(&[
        "keys",
        "retire",
        "--data",
        &other,
        "--class",
        "loans",
        "--kek-version",
        "1",
        "--approval",
        &a,
        "--approval",
        &b,
    ]);
    // The keystore copied back: its generation is higher than the one this store committed,
    // and no key change of this platform wrote it.
    let swapped = std::fs::read(Path::new(&other).join("keystore")).unwrap();
    assert_ne!(swapped, original);
    std::fs::write(&keystore, &swapped).unwrap();
    let (o, answer) = fx.query(&fx.token("t", 300), "a");
    let e = stderr(&o);
    assert_eq!(code(&o), 4, "the foreign keystore is refused: {e}");
    assert!(e.contains("keystore generation"), "{e}");
    assert_nothing_released(&o, &answer);
    for args in [
        &["log", "verify", "--data", &fx.data][..],
        &["keys", "status", "--data", &fx.data][..],
    ] {
        let o = run(args);
        assert_eq!(code(&o), 4, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("keystore generation"), "{}", stderr(&o));
    }
    // Nothing was accepted: with its own keystore back, the platform opens, its log
    // verifies and the records under loans v1 are still readable.
    std::fs::write(&keystore, &original).unwrap();
    ok(&["log", "verify", "--data", &fx.data]);
    let (o, answer) = fx.query(&fx.token("t2", 300), "a2");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(answer.exists());
    // The platform's own key changes still work (intent, file, receipt).
    ok(&["keys", "rotate", "--data", &fx.data, "--class", "loans"]);
    ok(&["log", "verify", "--data", &fx.data]);
}

/// The log's size (`log verify --json`).
fn log_size(data: &str) -> u64 {
    let o = ok(&["log", "verify", "--data", data, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    v["size"].as_u64().unwrap_or_else(|| panic!("{v}"))
}

#[test]
fn lone_operator_replaces_authority_refused() {
    let fx = Fx::new();
    // The operator's own "authority", whose staff orders would enrol officers they control.
    let evil = fx.path("evil-authority.key");
    ok(&["authority", "keygen", "--unencrypted", "--out", &evil]);
    let evil_pub = format!("{evil}.pub");
    let hex = credseal_auth::PublicKey::from_text(std::fs::read_to_string(&evil_pub).unwrap().trim())
        .unwrap()
        .to_hex();
    let size = log_size(&fx.data);
    // The passphrase alone: refused with and without --replace (exit 3), nothing written.
    for extra in [&[][..], &["--replace"][..]] {
        let mut args = vec!["authority", "trust", "--data", &fx.data, "--key", &evil_pub];
        args.extend_from_slice(extra);
        let o = run(&args);
        assert_eq!(code(&o), 3, "{args:?}: {}", stderr(&o));
        assert!(stderr(&o).contains("two different enrolled officers"), "{}", stderr(&o));
        assert!(common::no_result(&o), "{}", stdout(&o));
    }
    // One officer approving twice is still one officer.
    let op = format!("replace authority key {hex}");
    let (a1, a2) = (fx.approval("off-a", &op, "ra1"), fx.approval("off-a", &op, "ra2"));
    let o = run(&[
        "authority",
        "trust",
        "--data",
        &fx.data,
        "--key",
        &evil_pub,
        "--replace",
        "--approval",
        &a1,
        "--approval",
        &a2,
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(log_size(&fx.data), size, "nothing was written");
    // The authority is unchanged: a staff order of the operator's key enrols nobody.
    let (mine, _) = (fx.path("mine.key"), ());
    ok(&["officer", "keygen", "--unencrypted", "--out", &mine]);
    let o = common::enroll_staff(
        &|a: &[&str]| run(a),
        fx.dir.path(),
        &fx.data,
        ORIGIN,
        Some(&evil),
        "officer",
        "mine",
        &format!("{mine}.pub"),
    );
    assert_eq!(code(&o), 4, "a staff order of an untrusted key: {}", stderr(&o));
    assert_eq!(log_size(&fx.data), size, "nothing was written");
    // Two officers approve the replacement: done, with a receipt naming them.
    let b = fx.approval("off-b", &op, "rb");
    let o = ok(&[
        "authority",
        "trust",
        "--data",
        &fx.data,
        "--key",
        &evil_pub,
        "--replace",
        "--approval",
        &a1,
        "--approval",
        &b,
    ]);
    assert!(stdout(&o).contains("approved by off-a, off-b"), "{}", stdout(&o));
    assert_eq!(log_size(&fx.data), size + 1);
    // The approvals are spent: a second use is refused.
    let back = format!("{}.pub", fx.auth);
    let o = run(&[
        "authority",
        "trust",
        "--data",
        &fx.data,
        "--key",
        &back,
        "--replace",
        "--approval",
        &a1,
        "--approval",
        &b,
    ]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
}

#[test]
fn lone_operator_sets_policy_refused() {
    let fx = Fx::new();
    let size = log_size(&fx.data);
    let set = |approvals: &[&str]| {
        let mut args = vec![
            "officer",
            "set-policy",
            "--data",
            &fx.data,
            "--max-token-lifetime-secs",
            "86400",
        ];
        for a in approvals {
            args.extend(["--approval", a]);
        }
        run(&args)
    };
    // The passphrase alone: refused (exit 3), the operation to approve is named.
    let o = set(&[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let op = "set policy max_skew_secs 120 max_token_lifetime_secs 86400 max_consent_lifetime_secs 34560000";
    assert!(stderr(&o).contains(op), "{}", stderr(&o));
    assert!(common::no_result(&o), "{}", stdout(&o));
    // Approvals of another policy do not count.
    let other = "set policy max_skew_secs 120 max_token_lifetime_secs 3600 max_consent_lifetime_secs 34560000";
    let (x, y) = (fx.approval("off-a", other, "xa"), fx.approval("off-b", other, "xb"));
    let o = set(&[&x, &y]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(log_size(&fx.data), size, "nothing was written");
    let (o, answer) = fx.query(&fx.token("long", 86_000), "a");
    assert_eq!(code(&o), 3, "a day-long token is still denied: {}", stderr(&o));
    assert_nothing_released(&o, &answer);
    // Two officers: set, with a receipt naming them; the day-long token is granted.
    let (a, b) = (fx.approval("off-a", op, "pa"), fx.approval("off-b", op, "pb"));
    let o = set(&[&a, &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("approved by off-a, off-b"), "{}", stdout(&o));
    // One receipt for the denied query above, one for the policy.
    assert_eq!(log_size(&fx.data), size + 2);
    let (o, answer) = fx.query(&fx.token("long2", 86_000), "a2");
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(answer.exists());
}
