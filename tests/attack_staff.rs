//! Attacks on the two-person rule for staff, on consents and on the receipts of denied
//! queries, each performed through the `credseal` binary as a user would run it, each
//! refused (exit 3 or 4) with nothing released.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
const OTHER_ORIGIN: &str = "other-platform.invalid/log";
/// A person in records.jsonl with identity and loans records.
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

/// A temporary directory with a platform (example data) whose first officers are
/// `off-a`, `off-b` (and `off-c` with `three`), trusting a fresh authority.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    auth: String,
    n: std::cell::Cell<u32>,
}

impl Fx {
    fn new(officers: &[&str]) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let fx = Fx {
            data: dir.path().join("data").display().to_string(),
            auth: dir.path().join("authority.key").display().to_string(),
            dir,
            n: Default::default(),
        };
        let mut args = vec![
            "init".to_string(),
            "--data".into(),
            fx.data.clone(),
            "--catalog".into(),
            CATALOG.into(),
            "--origin".into(),
            ORIGIN.into(),
            "--kdf-mib".into(),
            "8".into(),
            "--kdf-passes".into(),
            "1".into(),
        ];
        for id in officers {
            let key = fx.path(id);
            ok(&["officer", "keygen", "--unencrypted", "--out", &key]);
            args.extend(["--first-officer".into(), format!("{id}={key}.pub")]);
        }
        let a: Vec<&str> = args.iter().map(String::as_str).collect();
        ok(&a);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &fx.data,
            RECORDS,
        ]);
        ok(&["authority", "keygen", "--unencrypted", "--out", &fx.auth]);
        ok(&[
            "authority",
            "trust",
            "--data",
            &fx.data,
            "--key",
            &format!("{}.pub", fx.auth),
        ]);
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn fresh(&self, stem: &str) -> String {
        let n = self.n.get();
        self.n.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    /// `officer`'s approval of the operation `op`.
    fn approval(&self, officer: &str, op: &str) -> String {
        let out = self.fresh("approval");
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

    /// A new staff key pair; returns the public key file and its hex.
    fn staff_key(&self, name: &str) -> (String, String) {
        let key = self.path(name);
        ok(&["staff", "keygen", "--unencrypted", "--out", &key]);
        let pubf = format!("{key}.pub");
        let hex = credseal_auth::PublicKey::from_text(std::fs::read_to_string(&pubf).unwrap().trim())
            .unwrap()
            .to_hex();
        (pubf, hex)
    }

    /// `staff enroll` of `pubf` as `id` in `role` with these approval files.
    fn enroll(&self, role: &str, id: &str, pubf: &str, approvals: &[&str]) -> Output {
        let mut args = vec![
            "staff", "enroll", "--data", &self.data, "--role", role, "--id", id, "--key", pubf,
        ];
        for a in approvals {
            args.extend(["--approval", a]);
        }
        run(&args)
    }

    /// The log's size (`log verify --json`): every staff change adds one receipt.
    fn log_size(&self) -> u64 {
        let o = ok(&["log", "verify", "--data", &self.data, "--json"]);
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        v["size"].as_u64().unwrap_or_else(|| panic!("{v}"))
    }
}

// ------------------------------------------------------------------ staff

#[test]
fn lone_officer_enrolment_refused() {
    // A platform with no officers: the passphrase holder alone cannot make any.
    let fx = Fx::new(&[]);
    let (pa, _) = fx.staff_key("self-a");
    let (pb, _) = fx.staff_key("self-b");
    let size = fx.log_size();
    for (id, p) in [("self-a", &pa), ("self-b", &pb)] {
        let o = run(&["officer", "enroll", "--data", &fx.data, "--id", id, "--key", p]);
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("needs the approval of two different enrolled officers"),
            "{}",
            stderr(&o)
        );
        // Both ways to get approval are offered, each as a hint line of its own.
        let e = stderr(&o);
        assert!(e.contains("credseal: hint: each of two enrolled officers runs"), "{e}");
        assert!(e.contains("credseal: hint: or the authority runs"), "{e}");
        assert!(!e.contains("error: hint"), "a hint printed as an error: {e}");
        assert!(common::no_result(&o));
    }
    assert_eq!(fx.log_size(), size, "nothing was written");
    // `init` names the first officers, two at least: one alone is a usage error and creates
    // nothing.
    let lone = fx.path("lone-data");
    let o = run(&[
        "init",
        "--data",
        &lone,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
        "--first-officer",
        &format!("off-a={pa}"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!Path::new(&lone).exists());

    // A platform with two officers: one of them cannot enrol a third alone, not even with
    // two approvals of their own; a staff order signed by someone else is a forgery.
    let fx = Fx::new(&["off-a", "off-b"]);
    let (pc, hex) = fx.staff_key("off-c");
    let op = format!("enroll officer off-c key {hex}");
    let size = fx.log_size();
    let one = fx.approval("off-a", &op);
    let o = fx.enroll("officer", "off-c", &pc, &[&one]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let twice = fx.approval("off-a", &op);
    let o = fx.enroll("officer", "off-c", &pc, &[&one, &twice]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("same officer (off-a)"), "{}", stderr(&o));
    // The new key approves for itself: not enrolled.
    let own = fx.approval("off-c", &op);
    let o = fx.enroll("officer", "off-c", &pc, &[&one, &own]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    let forged = fx.fresh("order");
    ok(&[
        "staff",
        "order",
        "--key",
        &fx.path("off-a"),
        "--operation",
        &op,
        "--audience",
        ORIGIN,
        "--out",
        &forged,
    ]);
    let o = run(&[
        "staff", "enroll", "--data", &fx.data, "--role", "officer", "--id", "off-c", "--key", &pc, "--order", &forged,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert_eq!(fx.log_size(), size, "nothing was written");
    // Both officers: enrolled, with a receipt.
    let b = fx.approval("off-b", &op);
    let o = fx.enroll("officer", "off-c", &pc, &[&one, &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("approved by off-a, off-b"), "{}", stdout(&o));
    assert_eq!(fx.log_size(), size + 1);
}

#[test]
fn removed_officer_approval_refused() {
    let fx = Fx::new(&["off-a", "off-b", "off-c"]);
    let (pr, hex) = fx.staff_key("resp");
    let enroll = format!("enroll responder resp-1 key {hex}");
    // off-c approves an enrolment before being removed.
    let by_c = fx.approval("off-c", &enroll);
    let by_a = fx.approval("off-a", &enroll);
    let remove = "remove officer off-c";
    let o = run(&[
        "officer",
        "remove",
        "--data",
        &fx.data,
        "--id",
        "off-c",
        "--approval",
        &fx.approval("off-a", remove),
        "--approval",
        &fx.approval("off-b", remove),
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let size = fx.log_size();
    // From now on off-c's approvals, old or new, are refused.
    let o = fx.enroll("responder", "resp-1", &pr, &[&by_a, &by_c]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("not enrolled"), "{}", stderr(&o));
    let fresh = fx.approval("off-c", &enroll);
    let o = fx.enroll("responder", "resp-1", &pr, &[&by_a, &fresh]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert_eq!(fx.log_size(), size, "nothing was written");
    // The responder key was not enrolled: its trace request is refused.
    let leak = fx.fresh("leak");
    std::fs::write(&leak, format!("subject,identity.name\n{SUBJECT},X\n")).unwrap();
    let o = run(&["trace", "--data", &fx.data, "--key", &fx.path("resp"), &leak]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(common::no_result(&o));
    // off-a's approval was not spent by the refusals: with off-b's it still enrols.
    let o = fx.enroll("responder", "resp-1", &pr, &[&by_a, &fx.approval("off-b", &enroll)]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn refused_operation_keeps_approvals() {
    let fx = Fx::new(&["off-a", "off-b"]);
    ok(&["keys", "rotate", "--data", &fx.data, "--class", "loans"]);
    let op = "retire loans v1";
    let (a, b) = (fx.approval("off-a", op), fx.approval("off-b", op));
    let retire = || {
        run(&[
            "keys",
            "retire",
            "--data",
            &fx.data,
            "--class",
            "loans",
            "--kek-version",
            "1",
            "--approval",
            &a,
            "--approval",
            &b,
        ])
    };
    // Data keys still use v1: refused (exit 1: the command is right, the store is not ready;
    // "run rewrap first"), and the approvals are not spent.
    let o = retire();
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("still use KEK v1"), "{}", stderr(&o));
    ok(&["keys", "rewrap", "--data", &fx.data]);
    let o = retire();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Now they are spent: the same files approve nothing more (here: a second retirement of
    // the same version, whose approvals name the same operation).
    let o = retire();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("used before"), "{}", stderr(&o));
}

// ------------------------------------------------------------------ department queries

/// A platform with `bank-a` holding a credential (serial 1, identity and loans) and the
/// subject's key registered.
struct Dept {
    fx: Fx,
    bank: String,
    cred: String,
    subj: String,
}

impl Dept {
    fn new(extra: &[&str]) -> Self {
        let fx = Fx::new(&[]);
        let bank = fx.path("bank-a");
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
        let subj = fx.path("subject");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &subj]);
        ok(&[
            "subject",
            "register",
            "--data",
            &fx.data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{subj}/signing.pub"),
        ]);
        let cred = fx.fresh("credential");
        let (sign, seal) = (format!("{bank}/signing.pub"), format!("{bank}/sealing.pub"));
        let mut args = vec![
            "authority",
            "enroll",
            "--key",
            &fx.auth,
            "--serial",
            "1",
            "--department",
            "bank-a",
            "--name",
            "Bank A",
            "--signing-key",
            &sign,
            "--sealing-key",
            &seal,
            "--classes",
            "identity,loans",
            "--purposes",
            "loan-approval",
            "--audience",
            ORIGIN,
            "--out",
            &cred,
        ];
        args.extend(extra);
        ok(&args);
        Dept { fx, bank, cred, subj }
    }

    /// Signs a token (with `consent` if given, signed by `key`) and runs it; returns the
    /// output and the answer path.
    fn query(&self, classes: &str, consent: Option<&str>, key: Option<&str>) -> (Output, String) {
        let tok = self.fx.fresh("token");
        let k = key.map_or_else(|| format!("{}/signing.key", self.bank), str::to_string);
        let mut args = vec![
            "dept",
            "query",
            "--key",
            &k,
            "--credential",
            &self.cred,
            "--subject",
            SUBJECT,
            "--classes",
            classes,
            "--purpose",
            "loan-approval",
            "--legal-basis",
            "application 17",
            "--audience",
            ORIGIN,
            "--out",
            &tok,
        ];
        if let Some(c) = consent {
            args.extend(["--consent", c]);
        }
        ok(&args);
        let ans = self.fx.fresh("answer");
        let o = run(&[
            "query",
            "--data",
            &self.fx.data,
            "--credential",
            &self.cred,
            "--token",
            &tok,
            "--out",
            &ans,
        ]);
        (o, ans)
    }

    /// The subject's bundle, verified with its pinned log key: `receipts verify`'s stdout.
    fn subject_sees(&self) -> String {
        let vkey = self.fx.fresh("vkey");
        std::fs::write(&vkey, stdout(&ok(&["log", "key", "--data", &self.fx.data]))).unwrap();
        let req = self.fx.fresh("request");
        ok(&[
            "receipts",
            "request",
            "--key",
            &format!("{}/signing.key", self.subj),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &req,
        ]);
        let bundle = self.fx.fresh("bundle");
        ok(&[
            "receipts",
            "export",
            "--data",
            &self.fx.data,
            "--request",
            &req,
            "--out",
            &bundle,
        ]);
        let state = self.fx.fresh("state");
        stdout(&ok(&[
            "receipts",
            "verify",
            "--vkey",
            &vkey,
            "--vrf-key",
            &format!("{}/vrf-key.pub", self.fx.data),
            "--subject",
            SUBJECT,
            "--state",
            &state,
            &bundle,
        ]))
    }
}

#[track_caller]
fn assert_refused(o: &Output, ans: &str, exit: i32, reason: &str) {
    assert_eq!(code(o), exit, "{}", stderr(o));
    assert!(stderr(o).contains(reason), "{}", stderr(o));
    assert!(common::no_result(o), "{}", stdout(o));
    assert!(!Path::new(ans).exists(), "nothing released");
}

#[test]
fn consent_on_another_platform_refused() {
    let d = Dept::new(&[]);
    let consent = |audience: &str| {
        let out = d.fx.fresh("consent");
        ok(&[
            "subject",
            "consent",
            "--key",
            &format!("{}/signing.key", d.subj),
            "--subject",
            SUBJECT,
            "--department",
            "bank-a",
            "--classes",
            "loans",
            "--purpose",
            "loan-approval",
            "--max-uses",
            "1",
            "--audience",
            audience,
            "--out",
            &out,
        ]);
        out
    };
    // A one-use consent the subject gave to another platform is not spent here.
    let elsewhere = consent(OTHER_ORIGIN);
    let (o, ans) = d.query("loans", Some(&elsewhere), None);
    assert_refused(&o, &ans, 3, "consent is for another platform");
    // The same consent for this platform is granted once.
    let here = consent(ORIGIN);
    let (o, ans) = d.query("loans", Some(&here), None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(Path::new(&ans).exists());
    // The refusal is in the subject's chain (the department's signature verified).
    let seen = d.subject_sees();
    assert!(seen.contains("denied: wrong-audience"), "{seen}");
}

#[test]
fn revoked_credential_query_receipted() {
    let d = Dept::new(&[]);
    let list = d.fx.fresh("revocations");
    ok(&[
        "authority",
        "revoke",
        "--key",
        &d.fx.auth,
        "--serial",
        "1",
        "--audience",
        ORIGIN,
        "--out",
        &list,
    ]);
    ok(&["authority", "install", "--data", &d.fx.data, &list]);
    let before = d.subject_sees();
    assert!(!before.contains("credential-revoked"), "{before}");
    // A stolen, revoked credential probes the subject: refused, and receipted.
    let (o, ans) = d.query("identity", None, None);
    assert_refused(&o, &ans, 3, "credential-revoked");
    let seen = d.subject_sees();
    assert!(seen.contains("denied: credential-revoked"), "{seen}");
    assert!(seen.contains("bank-a"), "{seen}");
    // Junk (a token not signed by the credential's key) still leaves nothing.
    let other = d.fx.path("other-dept");
    ok(&["dept", "keygen", "--unencrypted", "--out-dir", &other]);
    let (o, ans) = d.query("identity", None, Some(&format!("{other}/signing.key")));
    assert_refused(&o, &ans, 4, "not signed by the credential's key");
    let again = d.subject_sees();
    assert_eq!(
        again.matches("denied: credential-revoked").count(),
        seen.matches("denied: credential-revoked").count(),
        "{again}"
    );
}

#[test]
fn expired_credential_query_receipted() {
    let nb = (credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap() - 10 * 86_400).to_string();
    let d = Dept::new(&["--not-before", &nb, "--days", "1"]);
    let (o, ans) = d.query("identity", None, None);
    assert_refused(&o, &ans, 3, "credential-expired");
    let seen = d.subject_sees();
    assert!(seen.contains("denied: credential-expired"), "{seen}");
}

/// The `Replay` keys of used staff requests and orders (`s` entries), read straight from
/// the store as someone with write access to `db/` can.
fn staff_replay_keys(data: &str) -> std::collections::BTreeSet<Vec<u8>> {
    use credseal_store::{SledStore, Store, Tree};
    let s = SledStore::open(&Path::new(data).join("db"), false).unwrap();
    s.scan_prefix(Tree::Replay, b"s").map(|kv| kv.unwrap().0).collect()
}

/// Whether a key of `role` is enrolled (any `staff:<role>:` entry), read from the store.
fn enrolled(data: &str, role: &str) -> bool {
    use credseal_store::{SledStore, Store, Tree};
    let s = SledStore::open(&Path::new(data).join("db"), false).unwrap();
    s.scan_prefix(Tree::Meta, format!("staff:{role}:").as_bytes())
        .next()
        .is_some()
}

#[test]
fn wal_deleted_staff_request_entry_refused() {
    const REPLAY: u8 = 6;
    let fx = Fx::new(&["off-a", "off-b"]);
    let (pr, hex) = fx.staff_key("resp-1");
    let enroll_op = format!("enroll responder resp-1 key {hex}");
    let (a, b) = (fx.approval("off-a", &enroll_op), fx.approval("off-b", &enroll_op));
    let o = fx.enroll("responder", "resp-1", &pr, &[&a, &b]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // Two officers remove the responder; the two used approvals are the new `s` entries.
    let remove_op = "remove responder resp-1";
    let (ra, rb) = (fx.approval("off-a", remove_op), fx.approval("off-b", remove_op));
    let remove = || {
        run(&[
            "staff",
            "remove",
            "--data",
            &fx.data,
            "--role",
            "responder",
            "--id",
            "resp-1",
            "--approval",
            &ra,
            "--approval",
            &rb,
        ])
    };
    let before = staff_replay_keys(&fx.data);
    let o = remove();
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let used: Vec<Vec<u8>> = staff_replay_keys(&fx.data).difference(&before).cloned().collect();
    assert_eq!(used.len(), 2, "one entry per used approval");
    // Enrolled again (fresh approvals), so that a second removal would change something.
    let (a2, b2) = (fx.approval("off-a", &enroll_op), fx.approval("off-b", &enroll_op));
    let o = fx.enroll("responder", "resp-1", &pr, &[&a2, &b2]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let size = fx.log_size();
    // Reused as they are: refused, the approvals were used before.
    let o = remove();
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains("used before"), "{}", stderr(&o));
    assert!(enrolled(&fx.data, "responder"));
    // The attack: delete the two entries by a forged WAL frame, then reuse the approvals.
    common::inject_wal_frame(
        &Path::new(&fx.data).join("db"),
        &[(REPLAY, &used[0], None), (REPLAY, &used[1], None)],
    );
    let o = remove();
    assert_eq!(code(&o), 4, "the deletion is detected: {}", stderr(&o));
    assert!(
        stderr(&o).contains("trust state: replay and consent-use entries"),
        "{}",
        stderr(&o)
    );
    assert!(common::no_result(&o), "{}", stdout(&o));
    // Nothing changed: the responder is still enrolled, and no receipt was added (the log
    // is read without opening the platform, which now fails closed).
    assert!(enrolled(&fx.data, "responder"), "the removal did not run");
    let o = run(&["log", "verify", "--data", &fx.data, "--json"]);
    if code(&o) == 0 {
        let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
        assert_eq!(v["size"].as_u64(), Some(size), "no receipt was added");
    } else {
        assert_eq!(code(&o), 4, "{}", stderr(&o));
    }
}
