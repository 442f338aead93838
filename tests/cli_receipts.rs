//! End-to-end tests of the subject's receipts and the auditor's log commands through the
//! real `credseal` binary (docs/design.md §7): `receipts request|export|verify` and
//! `log key|checkpoint|verify`.
//!
//! One honest history is made for one subject ([`Fx::new`]: granted queries, a denied one and
//! a `law-enforcement` one whose receipt is sealed for 180 days); the subject verifies its
//! bundle with `receipts verify`. Then every bad bundle of the "Bad input" list is
//! made from a genuine one — decoded with [`Bundle::from_text`], mutated, re-encoded — or
//! taken from a second platform (another log key, or the *same* log key with another history:
//! a genuine fork), and each must be refused with exit 4 and a message saying what is wrong,
//! while the saved state file stays byte-identical (or absent, when there was none). The
//! library side of the same cases is in `crates/credseal-log/tests/bundle.rs`.

use std::cell::Cell;
use std::path::Path;
mod common;

use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

use credseal_log::{Bundle, BundleEntry, MapCheckpoint as _};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";

/// The subject whose receipts are checked (records.jsonl has its identity and loans).
const SUBJECT: &str = "42010619960510907X";
/// Another person in records.jsonl, who never registers a key.
const OTHER_SUBJECT: &str = "610113195010078965";
/// What the department's credential grants. `tax-administration` is not granted: a query
/// for it is denied after the department's signature verified, so it leaves a receipt.
const CRED_CLASSES: &str = "identity,loans";
const CRED_PURPOSES: &str = "loan-approval,law-enforcement";
/// Receipts in the subject's chain before its history: records.jsonl adds its records from
/// two sources (`bocom-wuhan`, `psb-wuhan`: one receipt each), then its key is registered.
const PRE: usize = 3;
/// `disclosure_delay_days` of `law-enforcement` in keys-example/catalog.toml.
const LAW_ENFORCEMENT_DELAY_DAYS: u64 = 180;

// ------------------------------------------------------------------ process helpers

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

/// Runs a command that must succeed.
#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// The contents of `path`, `None` if it does not exist.
fn snapshot(path: &str) -> Option<Vec<u8>> {
    match std::fs::read(path) {
        Ok(b) => Some(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => panic!("{path}: {e}"),
    }
}

// ------------------------------------------------------------------ the fixture

/// A platform (example data ingested) trusting a fresh authority, with `bank-a` enrolled and
/// the subject's key registered, in a temporary directory; the subject has pinned the log's
/// verifier key (`vkey`).
struct Fx {
    dir: tempfile::TempDir,
    /// The platform's data directory.
    data: String,
    /// The authority's signing key.
    auth: String,
    /// The department's key directory.
    bank: String,
    /// Its credential.
    cred: String,
    /// The subject's key directory.
    subj: String,
    /// The log's verifier key, from `log key`.
    vkey: String,
    /// The platform's VRF public key file (`log key --vrf`), pinned with the log key.
    vrf: String,
    files: Cell<u32>,
}

impl Fx {
    /// A fresh platform with the subject's honest history ([`Fx::history`]).
    fn new() -> Self {
        let fx = Self::empty();
        fx.history(&fx.data);
        fx
    }

    /// A fresh platform with no receipts yet.
    fn empty() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut fx = Fx {
            data: dir.path().join("data").display().to_string(),
            dir,
            auth: String::new(),
            bank: String::new(),
            cred: String::new(),
            subj: String::new(),
            vkey: String::new(),
            vrf: String::new(),
            files: Cell::new(0),
        };
        fx.auth = fx.path("authority.key");
        ok(&["authority", "keygen", "--unencrypted", "--out", &fx.auth]);
        fx.bank = fx.path("bank-a");
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &fx.bank]);
        fx.subj = fx.path("subject");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &fx.subj]);
        let out = fx.fresh("credential");
        ok(&[
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
            &format!("{}/signing.pub", fx.bank),
            "--sealing-key",
            &format!("{}/sealing.pub", fx.bank),
            "--classes",
            CRED_CLASSES,
            "--purposes",
            CRED_PURPOSES,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ]);
        fx.cred = out;
        fx.platform(&fx.data.clone(), None);
        fx.vkey = fx.write("vkey", &stdout(&ok(&["log", "key", "--data", &fx.data])));
        fx.vrf = fx.write("vrf", &stdout(&ok(&["log", "key", "--vrf", "--data", &fx.data])));
        fx
    }

    /// Sets up a platform in `data` for [`ORIGIN`]: fresh log keys, or those of an existing
    /// `keystore` (same origin and log key: a second history is a fork of the first). It has
    /// the example data, trusts the authority and knows the subject's key.
    fn platform(&self, data: &str, keystore: Option<&str>) {
        let mut args = vec!["init", "--data", data, "--catalog", CATALOG];
        match keystore {
            Some(ks) => args.extend(["--keystore", ks]),
            None => args.extend(["--origin", ORIGIN, "--kdf-mib", "8", "--kdf-passes", "1"]),
        }
        ok(&args);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            data,
            RECORDS,
        ]);
        ok(&[
            "authority",
            "trust",
            "--data",
            data,
            "--key",
            &format!("{}.pub", self.auth),
        ]);
        ok(&[
            "subject",
            "register",
            "--data",
            data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{}/signing.pub", self.subj),
        ]);
    }

    /// A second data directory for another platform ([`Fx::platform`]).
    fn other_platform(&self, keystore: Option<&str>) -> String {
        let d = self.fresh("data");
        self.platform(&d, keystore);
        d
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// A new, unused path in the temporary directory.
    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    fn write(&self, stem: &str, text: &str) -> String {
        let p = self.fresh(stem);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// Signs a token for `subject` with `dept query` and runs it on `data`; returns the
    /// output and the answer file.
    fn query(&self, data: &str, subject: &str, purpose: &str) -> (Output, String) {
        let tok = self.fresh("token");
        ok(&[
            "dept",
            "query",
            "--key",
            &format!("{}/signing.key", self.bank),
            "--credential",
            &self.cred,
            "--subject",
            subject,
            "--classes",
            "identity",
            "--purpose",
            purpose,
            "--legal-basis",
            "case 2026-17",
            "--audience",
            ORIGIN,
            "--out",
            &tok,
        ]);
        let ans = self.fresh("answer");
        let o = run(&[
            "query",
            "--data",
            data,
            "--credential",
            &self.cred,
            "--token",
            &tok,
            "--out",
            &ans,
        ]);
        (o, ans)
    }

    /// A query about the subject that must be granted.
    #[track_caller]
    fn granted(&self, data: &str, purpose: &str) {
        let (o, ans) = self.query(data, SUBJECT, purpose);
        assert_eq!(code(&o), 0, "{purpose}: {}", stderr(&o));
        assert!(Path::new(&ans).exists());
    }

    /// A query about the subject for a purpose the credential does not grant: denied (exit 3),
    /// with a receipt, since the department's signature verified.
    #[track_caller]
    fn denied(&self, data: &str) {
        let (o, ans) = self.query(data, SUBJECT, "tax-administration");
        assert_eq!(code(&o), 3, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("access denied (purpose-not-granted)"),
            "{}",
            stderr(&o)
        );
        assert!(!Path::new(&ans).exists());
    }

    /// Traffic about someone else: receipts in the log that are not in the subject's chain.
    fn noise(&self, data: &str, n: usize) {
        for _ in 0..n {
            let (o, _) = self.query(data, OTHER_SUBJECT, "loan-approval");
            assert_eq!(code(&o), 0, "{}", stderr(&o));
        }
    }

    /// The subject's honest history after its [`PRE`] receipts: granted, granted,
    /// law-enforcement (sealed), denied, granted — five receipts in its chain (counters
    /// PRE+1 to PRE+5), among other traffic.
    fn history(&self, data: &str) {
        self.granted(data, "loan-approval");
        self.noise(data, 1);
        self.granted(data, "loan-approval");
        self.granted(data, "law-enforcement");
        self.noise(data, 1);
        self.denied(data);
        self.granted(data, "loan-approval");
    }

    /// `receipts request` signed with `key_dir`'s key for `subject`, with `state` if given.
    fn request_as(&self, key_dir: &str, subject: &str, state: Option<&str>) -> String {
        let out = self.fresh("request");
        let key = format!("{key_dir}/signing.key");
        let mut args = vec![
            "receipts",
            "request",
            "--key",
            &key,
            "--subject",
            subject,
            "--audience",
            ORIGIN,
            "--out",
            &out,
        ];
        if let Some(s) = state {
            args.extend(["--state", s]);
        }
        ok(&args);
        out
    }

    /// The subject's bundle from `data`: request (with its saved `state`, if any) and export.
    fn bundle_from(&self, data: &str, state: Option<&str>) -> String {
        let req = self.request_as(&self.subj, SUBJECT, state);
        let out = self.fresh("bundle");
        let o = ok(&["receipts", "export", "--data", data, "--request", &req, "--out", &out]);
        assert!(stdout(&o).contains("receipt(s) written to"), "{}", stdout(&o));
        out
    }

    fn bundle(&self, state: Option<&str>) -> String {
        self.bundle_from(&self.data, state)
    }

    fn verify(&self, state: &str, bundle: &str) -> Output {
        self.verify_with(&self.vrf, state, bundle)
    }

    /// `verify` with the VRF public key file `vrf` instead of this platform's.
    fn verify_with(&self, vrf: &str, state: &str, bundle: &str) -> Output {
        run(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            vrf,
            "--subject",
            SUBJECT,
            "--state",
            state,
            bundle,
        ])
    }

    /// Verifies `bundle` with `state`, which must succeed; returns stdout.
    #[track_caller]
    fn verified(&self, state: &str, bundle: &str) -> String {
        let o = self.verify(state, bundle);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        stdout(&o)
    }

    /// A saved state: the honest bundle verified once.
    fn state_after(&self, bundle: &str) -> String {
        let s = self.fresh("state");
        self.verified(&s, bundle);
        s
    }

    /// A copy of the state file `s` (each refusal is checked against its own copy).
    fn copy_state(&self, s: &str) -> String {
        let c = self.fresh("state");
        std::fs::copy(s, &c).unwrap();
        c
    }

    /// `receipts verify` of `bundle` must fail with exit 4, a message containing every
    /// `want`, nothing on stdout, and `state` byte-identical (or still absent) afterwards.
    #[track_caller]
    fn refused(&self, state: &str, bundle: &str, want: &[&str]) -> String {
        self.refused_with(&self.vrf, state, bundle, want)
    }

    /// `refused` with the VRF public key file `vrf` instead of this platform's.
    #[track_caller]
    fn refused_with(&self, vrf: &str, state: &str, bundle: &str, want: &[&str]) -> String {
        let before = snapshot(state);
        let o = self.verify_with(vrf, state, bundle);
        let e = stderr(&o);
        assert_eq!(
            code(&o),
            4,
            "expected exit 4 {want:?}; stdout: {} stderr: {e}",
            stdout(&o)
        );
        for w in want {
            assert!(e.contains(w), "expected {w:?} in: {e}");
        }
        assert!(
            common::no_result(&o),
            "a refused bundle prints nothing on stdout: {}",
            stdout(&o)
        );
        assert_eq!(
            snapshot(state),
            before,
            "the saved state changed after a failed verification"
        );
        e
    }

    /// [`Fx::refused`] with no saved state (none is written) and with a copy of `state`
    /// (left byte-identical).
    #[track_caller]
    fn refused_both(&self, state: &str, bundle: &str, want: &[&str]) {
        self.refused_both_with(&self.vrf, state, bundle, want);
    }

    /// `refused_both` with the VRF public key file `vrf` instead of this platform's.
    #[track_caller]
    fn refused_both_with(&self, vrf: &str, state: &str, bundle: &str, want: &[&str]) {
        self.refused_with(vrf, &self.fresh("no-state"), bundle, want);
        self.refused_with(vrf, &self.copy_state(state), bundle, want);
    }
}

/// A resident identity number from its first 17 digits (ISO 7064 MOD 11-2 check).
fn resident_id(first17: &str) -> String {
    const W: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    let sum: u32 = first17.bytes().zip(W).map(|(b, w)| u32::from(b - b'0') * w).sum();
    let check = b"10X98765432"[(sum % 11) as usize] as char;
    format!("{first17}{check}")
}

fn read_bundle(path: &str) -> Bundle {
    Bundle::from_text(&std::fs::read_to_string(path).unwrap()).unwrap()
}

/// The checkpoint's tree size (second line of the note).
fn checkpoint_size(b: &Bundle) -> u64 {
    b.checkpoint.lines().nth(1).unwrap().parse().unwrap()
}

fn inclusion(e: &BundleEntry) -> &Vec<[u8; 32]> {
    match e {
        BundleEntry::Full { inclusion, .. } | BundleEntry::Sealed { inclusion, .. } => inclusion,
    }
}

fn inclusion_mut(e: &mut BundleEntry) -> &mut Vec<[u8; 32]> {
    match e {
        BundleEntry::Full { inclusion, .. } | BundleEntry::Sealed { inclusion, .. } => inclusion,
    }
}

// ------------------------------------------------------------------ the honest path

#[test]
fn receipts_request_export_verify() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let b = read_bundle(&bundle);
    assert_eq!(b.origin, ORIGIN);
    assert_eq!(b.entries.len(), PRE + 5, "{b:?}");
    assert!(b.consistency.is_none());
    let sealed: Vec<_> = b
        .entries
        .iter()
        .filter(|e| matches!(e, BundleEntry::Sealed { .. }))
        .collect();
    assert_eq!(sealed.len(), 1, "the law-enforcement receipt is sealed: {b:?}");

    let state = fx.fresh("state");
    let out = fx.verified(&state, &bundle);
    assert!(
        out.contains(&format!(
            "bundle verified against checkpoint {} of {ORIGIN}",
            checkpoint_size(&b)
        )),
        "{out}"
    );
    assert!(out.contains("8 receipt(s), 8 new"), "{out}");
    assert!(out.contains("bank-a (credential 1)"), "{out}");
    // Who added data about the subject, and the registration of its key.
    assert!(out.contains("bocom-wuhan (source)"), "{out}");
    assert!(out.contains("psb-wuhan (source)"), "{out}");
    assert!(out.contains("1 record added"), "{out}");
    assert!(out.contains("register subject key"), "{out}");
    assert!(out.contains("loan-approval"), "{out}");
    assert!(out.contains("denied: purpose-not-granted"), "{out}");
    assert!(out.contains("tax-administration"), "{out}");
    assert!(out.contains("sealed until"), "{out}");
    // The sealed receipt says nothing about what it is.
    assert!(!out.contains("law-enforcement"), "{out}");
    let rows: Vec<&str> = out.lines().filter(|l| l.trim_end().ends_with("  granted")).collect();
    assert_eq!(rows.len(), 3, "{out}");

    // The state file: the subject's BlindId and the log state.
    let st = std::fs::read_to_string(&state).unwrap();
    let lines: Vec<&str> = st.lines().collect();
    assert_eq!(lines.len(), 2, "{st}");
    assert!(lines[0].starts_with("subject ") && lines[0].len() == 8 + 64, "{st}");
    let saved = credseal_log::SavedState::from_text(lines[1]).unwrap();
    assert_eq!(saved.tree_size(), checkpoint_size(&b));
    assert_eq!(saved.counter(), 8);
    assert_eq!(saved.origin(), ORIGIN);

    // The same bundle again: nothing new; JSON shows the sealed date.
    let o = ok(&[
        "receipts",
        "verify",
        "--vkey",
        &fx.vkey,
        "--vrf-key",
        &fx.vrf,
        "--subject",
        SUBJECT,
        "--state",
        &state,
        &bundle,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["ok"], true);
    assert_eq!(v["tree_size"], checkpoint_size(&b));
    let r = v["receipts"].as_array().unwrap();
    assert_eq!(r.len(), PRE + 5);
    assert!(r.iter().all(|x| x["new"] == false), "{v}");
    assert_eq!(
        r.iter().map(|x| x["counter"].as_u64().unwrap()).collect::<Vec<_>>(),
        [1, 2, 3, 4, 5, 6, 7, 8]
    );
    let actions: Vec<&str> = r[..PRE].iter().map(|x| x["action"].as_str().unwrap()).collect();
    assert_eq!(actions, ["ingest", "ingest", "admin"], "{v}");
    let s = r.iter().find(|x| !x["sealed_until"].is_null()).unwrap();
    let until = s["sealed_until"].as_u64().unwrap();
    let expect =
        credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap() + LAW_ENFORCEMENT_DELAY_DAYS * 86_400;
    assert!(
        until <= expect && until + 3600 > expect,
        "sealed until {until}, expected ~{expect}"
    );
    assert_eq!(s["purpose"], serde_json::Value::Null);
    assert_eq!(s["outcome"], "sealed");
    assert_eq!(
        r.iter()
            .filter(|x| x["outcome"] == "denied" && x["denial_code"] == "purpose-not-granted")
            .count(),
        1,
        "{v}"
    );

    // More accesses; the next bundle, requested with the state, carries a consistency proof
    // from the saved size and shows only the new receipt as new.
    fx.noise(&fx.data, 2);
    fx.granted(&fx.data, "loan-approval");
    let next = fx.bundle(Some(&state));
    let nb = read_bundle(&next);
    assert_eq!(
        nb.consistency.as_ref().map(|c| c.from_size),
        Some(checkpoint_size(&b)),
        "{nb:?}"
    );
    let out = fx.verified(&state, &next);
    assert!(out.contains("9 receipt(s), 1 new"), "{out}");
    let saved =
        credseal_log::SavedState::from_text(std::fs::read_to_string(&state).unwrap().lines().nth(1).unwrap()).unwrap();
    assert_eq!(saved.tree_size(), checkpoint_size(&nb));
    assert_eq!(saved.counter(), 9);
}

#[test]
fn log_key_checkpoint_verify() {
    let fx = Fx::new();
    let vkey = std::fs::read_to_string(&fx.vkey).unwrap();
    let vkey = vkey.trim();
    assert!(vkey.starts_with(&format!("{ORIGIN}+")), "{vkey}");
    let verifier = credseal_log::LogVerifier::from_vkey(vkey).unwrap();
    let note = stdout(&ok(&["log", "checkpoint", "--data", &fx.data]));
    let cp = verifier.verify_checkpoint(&note).unwrap();
    let b = read_bundle(&fx.bundle(None));
    assert_eq!(cp.size(), checkpoint_size(&b));
    let o = ok(&["log", "verify", "--data", &fx.data, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(v["size"], cp.size());
    assert_eq!(v["receipts"], cp.size());
    assert!(v["checkpoints"].as_u64().unwrap() >= 1, "{v}");
    // A new platform has no checkpoint until its first receipt.
    let empty = fx.fresh("data");
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
    let o = run(&["log", "checkpoint", "--data", &empty]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("the log is empty"), "{}", stderr(&o));
    ok(&["log", "verify", "--data", &empty]);
}

// ------------------------------------------------------------------ bad bundles

#[test]
fn bundle_truncated() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let text = std::fs::read_to_string(&bundle).unwrap();
    let text = text.trim();
    for cut in [text.len() / 2, text.len() - 1, text.len() - 7, "cs1.bundle.".len() + 3] {
        let b = fx.write("bundle", &text[..cut]);
        fx.refused_both(&state, &b, &["not a valid bundle"]);
    }
    let b = fx.write("bundle", "");
    fx.refused_both(&state, &b, &["not a valid bundle"]);
}

#[test]
fn bundle_reordered_2_3() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let mut b = read_bundle(&bundle);
    b.entries.swap(1, 2);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipts out of order: 3 where 2 belongs"]);
}

#[test]
fn bundle_receipt_removed_at_3() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let mut b = read_bundle(&bundle);
    b.entries.remove(2);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipt 3 is missing (found 4 in its place)"]);
    // Removing a full receipt (the denied query, 7) is no better.
    let mut b = read_bundle(&bundle);
    assert!(matches!(b.entries[PRE + 3], BundleEntry::Full { .. }));
    b.entries.remove(PRE + 3);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipt 7 is missing (found 8 in its place)"]);
}

#[test]
fn bundle_receipt_duplicated_at_2() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let mut b = read_bundle(&bundle);
    let dup = b.entries[1].clone();
    b.entries.insert(2, dup);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipt 2 appears twice"]);
}

#[test]
fn bundle_receipt_altered_at_1() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    // The source inside receipt 1 (records added by `bocom-wuhan`) rewritten
    // (`bocom-wuhaN`): still well-formed, but its signature no longer verifies.
    let mut b = read_bundle(&bundle);
    match &mut b.entries[0] {
        BundleEntry::Full { receipt, .. } => {
            let at = receipt
                .windows(b"bocom-wuhan".len())
                .position(|w| w == b"bocom-wuhan")
                .expect("receipt 1 names its source");
            receipt[at + 10] ^= 0x20;
        }
        other => panic!("receipt 1 is not full: {other:?}"),
    }
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipt 1 is not signed by the log key"]);
    // A byte of its signature flipped.
    let mut b = read_bundle(&bundle);
    if let BundleEntry::Full { receipt, .. } = &mut b.entries[0] {
        let n = receipt.len();
        receipt[n - 5] ^= 0x01;
    }
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["receipt 1 is not signed by the log key"]);
}

#[test]
fn bundle_signed_by_other_key() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    // Another platform with the same origin, the same data and the same history, but its own
    // log key.
    let other = fx.other_platform(None);
    fx.history(&other);
    let foreign = fx.bundle_from(&other, None);
    // The other platform's VRF key too, so its proof verifies and the log's checks are reached
    // (with this platform's VRF key the foreign proof is refused first).
    let other_vrf = fx.write("vrf", &stdout(&ok(&["log", "key", "--vrf", "--data", &other])));
    fx.refused_both(&state, &foreign, &["the bundle failed verification: "]);
    fx.refused_both_with(
        &other_vrf,
        &state,
        &foreign,
        &["the checkpoint is not signed by the log key"],
    );
    // The genuine receipts and proofs with the other log's checkpoint.
    let mut b = read_bundle(&bundle);
    b.checkpoint = read_bundle(&foreign).checkpoint;
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["the checkpoint is not signed by the log key"]);
    // The genuine checkpoint with the other log's receipts and proofs.
    let mut b = read_bundle(&foreign);
    b.checkpoint = read_bundle(&bundle).checkpoint;
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both_with(&other_vrf, &state, &bad, &["receipt 1 is not signed by the log key"]);
}

#[test]
fn bundle_proof_for_other_tree_size() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let old = read_bundle(&bundle);
    // Grow the log until the inclusion proof of receipt 3 has another length.
    let mut later;
    loop {
        fx.noise(&fx.data, 2);
        later = read_bundle(&fx.bundle(None));
        if inclusion(&later.entries[2]).len() != inclusion(&old.entries[2]).len() {
            break;
        }
        assert!(
            checkpoint_size(&later) < checkpoint_size(&old) + 64,
            "the proof length never changed"
        );
    }
    // Receipt 3's proof taken from the bundle at the larger size.
    let mut b = old.clone();
    *inclusion_mut(&mut b.entries[2]) = inclusion(&later.entries[2]).clone();
    let bad = fx.write("bundle", &b.to_text());
    let msg = format!(
        "the inclusion proof of receipt 3 has {} hashes where the checkpoint's tree size needs {}",
        inclusion(&later.entries[2]).len(),
        inclusion(&old.entries[2]).len()
    );
    fx.refused_both(&state, &bad, &[&msg]);
    // The other way round: the later checkpoint with every proof of the older one.
    let mut b = later.clone();
    for (e, o) in b.entries.iter_mut().zip(&old.entries) {
        *inclusion_mut(e) = inclusion(o).clone();
    }
    let bad = fx.write("bundle", &b.to_text());
    fx.refused(&fx.fresh("no-state"), &bad, &["the bundle failed verification: "]);
}

#[test]
fn checkpoint_fork() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let saved = checkpoint_size(&read_bundle(&bundle));
    // A second platform around the same keystore: same origin, same log key, same subject
    // BlindIds; another history. Each of its bundles verifies on its own.
    let fork = fx.other_platform(Some(&format!("{}/keystore", fx.data)));
    let vkey = stdout(&ok(&["log", "key", "--data", &fork]));
    assert_eq!(vkey, std::fs::read_to_string(&fx.vkey).unwrap(), "the same log key");
    fx.history(&fork);
    let same_size = fx.bundle_from(&fork, Some(&state));
    assert_eq!(checkpoint_size(&read_bundle(&same_size)), saved);
    fx.verified(&fx.fresh("state"), &same_size);
    // Same size, another root.
    fx.refused(
        &fx.copy_state(&state),
        &same_size,
        &[&format!(
            "the log forked: the tree of size {saved} seen before is not a prefix of the tree of size {saved}"
        )],
    );
    // Larger: its consistency proof from the saved size fails.
    fx.granted(&fork, "loan-approval");
    fx.noise(&fork, 1);
    let larger = fx.bundle_from(&fork, Some(&state));
    let size = checkpoint_size(&read_bundle(&larger));
    assert!(size > saved);
    fx.verified(&fx.fresh("state"), &larger);
    fx.refused(
        &fx.copy_state(&state),
        &larger,
        &[&format!(
            "the log forked: the tree of size {saved} seen before is not a prefix of the tree of size {size}"
        )],
    );
    // The honest log still verifies against the state.
    fx.granted(&fx.data, "loan-approval");
    fx.verified(&state, &fx.bundle(Some(&state)));
}

#[test]
fn checkpoint_older_than_saved() {
    let fx = Fx::new();
    let older = fx.bundle(None);
    let n = checkpoint_size(&read_bundle(&older));
    fx.noise(&fx.data, 1);
    fx.granted(&fx.data, "loan-approval");
    let newer = fx.bundle(None);
    let m = checkpoint_size(&read_bundle(&newer));
    let state = fx.state_after(&newer);
    fx.refused(
        &fx.copy_state(&state),
        &older,
        &[&format!(
            "the checkpoint has size {n}, older than the size {m} verified before"
        )],
    );
    // The state was not touched: the newer bundle still verifies against it.
    fx.verified(&fx.copy_state(&state), &newer);
}

#[test]
fn bundle_tail_withheld() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    // The log grows; the next bundle hides the newest receipt the subject already saw.
    fx.noise(&fx.data, 2);
    let mut b = read_bundle(&fx.bundle(Some(&state)));
    assert_eq!(b.entries.len(), PRE + 5);
    b.entries.pop();
    let bad = fx.write("bundle", &b.to_text());
    // The checkpoint's subject map says 8: that check comes first.
    fx.refused(
        &fx.copy_state(&state),
        &bad,
        &["the checkpoint commits to 8 receipt(s) for this subject but the bundle shows 7: receipt 8 withheld"],
    );
    // Hiding everything.
    b.entries.clear();
    let bad = fx.write("bundle", &b.to_text());
    fx.refused(
        &fx.copy_state(&state),
        &bad,
        &["the checkpoint commits to 8 receipt(s) for this subject but the bundle shows 0: all of them withheld"],
    );
}

#[test]
fn bundle_receipt_withheld_earlier() {
    // Before the subject map, a first bundle that hid the newest receipt could not be told from an
    // honest one, and only the next bundle exposed it (withheld-earlier). Now the checkpoint's
    // subject map says how many receipts there are: the hiding bundle is refused at once and
    // no state is saved. (The library test of the same name keeps the withheld-earlier check
    // for a log that also signs a false map, which needs the log key.)
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let full = read_bundle(&bundle);
    let mut hiding = full.clone();
    hiding.entries.pop();
    let state = fx.fresh("state");
    fx.refused(
        &state,
        &fx.write("bundle", &hiding.to_text()),
        &["the checkpoint commits to 8 receipt(s) for this subject but the bundle shows 7: receipt 8 withheld"],
    );
    assert!(!Path::new(&state).exists());
    // The honest bundle verifies.
    fx.noise(&fx.data, 1);
    let out = fx.verified(&state, &fx.bundle(None));
    assert!(out.contains("8 receipt(s), 8 new"), "{out}");
}

#[test]
fn saved_state_corrupt() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let good = std::fs::read_to_string(&state).unwrap();
    let (subject, log_state) = good.split_once('\n').unwrap();
    // One character of the log state's payload changed, keeping it base64url of the same
    // length: its checksum fails.
    let start = log_state.find('.').unwrap() + 1 + "log-state.".len();
    let mid = start + (log_state.trim().len() - start) / 2;
    let mut flipped = log_state.as_bytes().to_vec();
    flipped[mid] = if flipped[mid] == b'A' { b'B' } else { b'A' };
    let flipped = String::from_utf8(flipped).unwrap();
    let truncated = &log_state[..log_state.len() / 2];
    let cases = [
        ("log state flipped", format!("{subject}\n{flipped}")),
        ("log state truncated", format!("{subject}\n{truncated}\n")),
        ("no log state", format!("{subject}\n")),
        (
            "subject not hex",
            format!("{}\n{log_state}", subject.replacen(' ', " zz", 1)),
        ),
        ("extra line", format!("{good}more\n")),
        ("empty", String::new()),
        ("binary", "\u{1}\u{2}\u{3}".to_string()),
    ];
    for (name, text) in cases {
        let s = fx.write("state", &text);
        let e = fx.refused(&s, &bundle, &["the saved state is corrupt"]);
        assert!(e.contains(&s), "{name}: names the file: {e}");
        // A request made with it is refused too, before anything is signed.
        let out = fx.fresh("request");
        let o = run(&[
            "receipts",
            "request",
            "--key",
            &format!("{}/signing.key", fx.subj),
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--state",
            &s,
            "--out",
            &out,
        ]);
        assert_eq!(code(&o), 4, "{name}: {}", stderr(&o));
        assert!(!Path::new(&out).exists());
    }
    // The original still works.
    fx.verified(&state, &bundle);
}

#[test]
fn saved_state_of_another_log() {
    // A state saved for one log, used with another log's key and bundle.
    let fx = Fx::new();
    let state = fx.state_after(&fx.bundle(None));
    let other = fx.other_platform(None);
    fx.history(&other);
    let vkey = fx.write("vkey", &stdout(&ok(&["log", "key", "--data", &other])));
    let vrf = fx.write("vrf", &stdout(&ok(&["log", "key", "--vrf", "--data", &other])));
    let bundle = fx.bundle_from(&other, None);
    let before = snapshot(&state);
    let o = run(&[
        "receipts",
        "verify",
        "--vkey",
        &vkey,
        "--vrf-key",
        &vrf,
        "--subject",
        SUBJECT,
        "--state",
        &state,
        &bundle,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("the bundle failed verification"), "{}", stderr(&o));
    assert_eq!(snapshot(&state), before);
    // With its own fresh state it verifies.
    let o = run(&[
        "receipts",
        "verify",
        "--vkey",
        &vkey,
        "--vrf-key",
        &vrf,
        "--subject",
        SUBJECT,
        "--state",
        &fx.fresh("state"),
        &bundle,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn receipts_export_refused_without_subject_signature() {
    let fx = Fx::new();
    let stranger = fx.path("stranger");
    ok(&["subject", "keygen", "--unencrypted", "--out-dir", &stranger]);
    let mut errors = Vec::new();
    // Signed with a key that is not the subject's registered one; a subject with no
    // registered key (in the data); a subject that does not exist.
    let absent = resident_id("11010519491231002");
    for subject in [SUBJECT, OTHER_SUBJECT, absent.as_str()] {
        let req = fx.request_as(&stranger, subject, None);
        let out = fx.fresh("bundle");
        let o = run(&[
            "receipts",
            "export",
            "--data",
            &fx.data,
            "--request",
            &req,
            "--out",
            &out,
        ]);
        assert_eq!(code(&o), 3, "{subject}: {}", stderr(&o));
        assert!(
            stderr(&o).contains("access denied (subject-key-invalid)"),
            "{subject}: {}",
            stderr(&o)
        );
        assert!(!stderr(&o).contains(subject), "{}", stderr(&o));
        assert!(common::no_result(&o));
        assert!(!Path::new(&out).exists(), "a refused export wrote a bundle");
        errors.push(o.stderr);
    }
    assert!(errors.windows(2).all(|w| w[0] == w[1]), "refusals differ by subject");
    // A genuine request edited on the way (another subject): its signature fails.
    let req = fx.request_as(&fx.subj, SUBJECT, None);
    let text = std::fs::read_to_string(&req).unwrap();
    let edited = fx.write("request", &text.trim().replacen('A', "B", 1));
    let o = run(&[
        "receipts",
        "export",
        "--data",
        &fx.data,
        "--request",
        &edited,
        "--out",
        &fx.fresh("bundle"),
    ]);
    assert!(matches!(code(&o), 3 | 4), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("access denied (") || stderr(&o).contains("verification failed ("),
        "{}",
        stderr(&o)
    );
    // The genuine request is answered.
    let out = fx.fresh("bundle");
    ok(&[
        "receipts",
        "export",
        "--data",
        &fx.data,
        "--request",
        &req,
        "--out",
        &out,
    ]);
}

#[test]
fn log_verify_passes_and_detects_an_edited_leaf() {
    use credseal_store::{Batch, SledStore, Store, Tree};
    let fx = Fx::new();
    let o = ok(&["log", "verify", "--data", &fx.data]);
    let n = checkpoint_size(&read_bundle(&fx.bundle(None)));
    assert!(stdout(&o).contains(&format!("ok: {n} receipts and")), "{}", stdout(&o));
    let db = Path::new(&fx.data).join("db");
    // The leaf of the subject's first granted query (inside the log, not at its end).
    let leaf = match &read_bundle(&fx.bundle(None)).entries[PRE] {
        BundleEntry::Full { receipt, .. } => {
            credseal_log::UnverifiedReceipt::parse(receipt)
                .unwrap()
                .peek_unverified()
                .unwrap()
                .index
        }
        other => panic!("{other:?}"),
    };
    assert!(leaf + 1 < n);
    let key = leaf.to_be_bytes();
    let original = {
        let s = SledStore::open(&db, false).unwrap();
        s.get(Tree::LogLeaves, &key).unwrap().unwrap()
    };
    let edit = |value: Option<Vec<u8>>| {
        let s = SledStore::open(&db, false).unwrap();
        let mut b = Batch::new();
        match value {
            Some(v) => b.put(Tree::LogLeaves, key.to_vec(), v),
            None => b.delete(Tree::LogLeaves, key.to_vec()),
        }
        s.apply(b).unwrap();
        s.flush().unwrap();
    };
    let named = format!("receipt {leaf}");
    // One byte of the receipt flipped (in its signature).
    let mut flipped = original.clone();
    let at = flipped.len() - 10;
    flipped[at] ^= 0x04;
    edit(Some(flipped));
    let o = run(&["log", "verify", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains(&named), "{}", stderr(&o));
    // One byte of its body flipped (its purpose).
    let mut flipped = original.clone();
    let at = flipped
        .windows(b"loan-approval".len())
        .position(|w| w == b"loan-approval")
        .unwrap();
    flipped[at] ^= 0x20;
    edit(Some(flipped));
    let o = run(&["log", "verify", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains(&named), "{}", stderr(&o));
    // Removed.
    edit(None);
    let o = run(&["log", "verify", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    assert!(stderr(&o).contains(&format!("log leaf {leaf}")), "{}", stderr(&o));
    // Restored: the log verifies again.
    edit(Some(original));
    ok(&["log", "verify", "--data", &fx.data]);
}

/// `receipts verify` pins the subject's BlindId in the state file at the first
/// verification, from the bundle's first full receipt. A subject can only ask for its bundle
/// once its key is registered, and the registration is a full receipt in its chain, so the
/// first bundle always shows the subject — even before anyone accessed its data, and when
/// its only accesses are still sealed — and later honest bundles verify against that state.
#[test]
fn first_verification_without_a_full_receipt_pins_no_subject() {
    let fx = Fx::empty();
    fx.noise(&fx.data, 1);
    // No access to the subject's data yet: only its ingest and registration receipts.
    let state = fx.fresh("state");
    let out = fx.verified(&state, &fx.bundle(None));
    assert!(out.contains(&format!("{PRE} receipt(s)")), "{out}");
    assert!(!out.contains("granted"), "{out}");
    fx.granted(&fx.data, "loan-approval");
    let out = fx.verified(&state, &fx.bundle(Some(&state)));
    assert!(out.contains(&format!("{} receipt(s), 1 new", PRE + 1)), "{out}");

    // Its only access sealed at first.
    let fx = Fx::empty();
    fx.granted(&fx.data, "law-enforcement");
    let state = fx.fresh("state");
    let out = fx.verified(&state, &fx.bundle(None));
    assert!(out.contains("sealed until"), "{out}");
    fx.granted(&fx.data, "loan-approval");
    let out = fx.verified(&state, &fx.bundle(Some(&state)));
    assert!(out.contains(&format!("{} receipt(s), 1 new", PRE + 2)), "{out}");
}

// ------------------------------------------------------------------ completeness

/// The subject's BlindId, from the first receipt of a bundle.
fn subject_blind(b: &Bundle) -> credseal_core::BlindId {
    match &b.entries[0] {
        BundleEntry::Full { receipt, .. } => credseal_log::UnverifiedReceipt::parse(receipt)
            .unwrap()
            .peek_unverified()
            .unwrap()
            .subject
            .unwrap(),
        other => panic!("{other:?}"),
    }
}

/// Runs `f` on the platform's store (no `credseal` process may run meanwhile).
fn with_store<T>(fx: &Fx, f: impl FnOnce(&credseal_store::SledStore) -> T) -> T {
    let s = credseal_store::SledStore::open(&Path::new(&fx.data).join("db"), false).unwrap();
    let out = f(&s);
    credseal_store::Store::flush(&s).unwrap();
    out
}

/// Every leaf of the stored subject map.
fn map_leaves(s: &credseal_store::SledStore) -> Vec<([u8; 32], credseal_log::MapValue)> {
    use credseal_store::{Store, Tree};
    s.scan_prefix(Tree::SubjectMap, &[])
        .filter_map(|kv| match credseal_log::MapNode::from_bytes(&kv.unwrap().1).unwrap() {
            credseal_log::MapNode::Leaf { key, value } => Some((key, value)),
            credseal_log::MapNode::Internal { .. } => None,
        })
        .collect()
}

#[test]
fn bundle_newest_withheld() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    // A bundle at a newer checkpoint whose newest receipt (a granted query) is left out.
    fx.granted(&fx.data, "loan-approval");
    let mut b = read_bundle(&fx.bundle(Some(&state)));
    assert_eq!(b.entries.len(), PRE + 6);
    b.entries.pop();
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(
        &state,
        &bad,
        &["the checkpoint commits to 9 receipt(s) for this subject but the bundle shows 8: receipt 9 withheld"],
    );
}

#[test]
fn bundle_sealed_newest_withheld() {
    // A delayed-disclosure receipt counts like any other: hiding it is caught before its date.
    let fx = Fx::new();
    fx.granted(&fx.data, "law-enforcement");
    let mut b = read_bundle(&fx.bundle(None));
    assert!(matches!(b.entries.last(), Some(BundleEntry::Sealed { .. })));
    b.entries.pop();
    let bad = fx.write("bundle", &b.to_text());
    fx.refused(
        &fx.fresh("no-state"),
        &bad,
        &["the checkpoint commits to 9 receipt(s) for this subject but the bundle shows 8: receipt 9 withheld"],
    );
}

#[test]
fn bundle_last_three_withheld() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let mut b = read_bundle(&bundle);
    b.entries.truncate(PRE + 2);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(
        &state,
        &bad,
        &["the checkpoint commits to 8 receipt(s) for this subject but the bundle shows 5: receipts 6 to 8 withheld"],
    );
}

#[test]
fn bundle_chain_withheld_nonmembership() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    // No receipts, and a proof that the subject is absent from the map: forged, since it is
    // present — the path's end emptied.
    let mut b = read_bundle(&bundle);
    b.entries.clear();
    b.map.leaf = None;
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(
        &state,
        &bad,
        &["the bundle claims the subject has no receipts in the log, but its proof of absence does not verify against the checkpoint's map root"],
    );
}

#[test]
fn bundle_map_proof_other_subject() {
    let fx = Fx::new();
    let bundle = fx.bundle(None);
    let state = fx.state_after(&bundle);
    let mut b = read_bundle(&bundle);
    let mine = credseal_log::map_key(&subject_blind(&b));
    // The genuine proof of another subject's entry, from the platform's own map.
    let leaves = with_store(&fx, map_leaves);
    assert!(leaves.len() >= 2, "{}", leaves.len());
    let mut map = credseal_log::MemoryMap::new();
    map.update(leaves.clone());
    let cp = credseal_log::Checkpoint::parse(credseal_c2sp::SignedNote::parse(&b.checkpoint).unwrap().text()).unwrap();
    assert_eq!(cp.map_root().unwrap(), Some(map.root()));
    let other = leaves.iter().find(|(k, _)| *k != mine).unwrap().0;
    b.map = map.prove_key(&other);
    let bad = fx.write("bundle", &b.to_text());
    fx.refused_both(&state, &bad, &["the subject-map proof is about another subject"]);
}

#[test]
fn log_verify_map_root_disagrees() {
    use credseal_store::{Batch, Store, Tree};
    let fx = Fx::new();
    let blind = subject_blind(&read_bundle(&fx.bundle(None)));
    ok(&["log", "verify", "--data", &fx.data]);
    // The operator holds the log key: it signs, in place of the newest checkpoint, one
    // whose subject map lowers the subject's count (to hide its newest receipt).
    let ks = std::fs::read(Path::new(&fx.data).join("keystore")).unwrap();
    let ks = credseal_crypto::Keystore::open(&ks, &credseal_crypto::Passphrase::new(PASS.into())).unwrap();
    let signer = credseal_log::LogSigner::from_seed(ORIGIN, ks.log_seed().unwrap().expose_secret()).unwrap();
    let size = with_store(&fx, |s| {
        let mut leaves = map_leaves(s);
        let mine = leaves
            .iter_mut()
            .find(|(k, _)| *k == credseal_log::map_key(&blind))
            .unwrap();
        assert_eq!(mine.1.count, 8);
        mine.1.count = 7;
        let (at, note) = s.last_with_prefix(Tree::Checkpoints, &[]).unwrap().unwrap();
        let honest = signer
            .verifier()
            .verify_checkpoint(std::str::from_utf8(&note).unwrap())
            .unwrap();
        let lie = credseal_log::MemoryMap::new().update(leaves);
        // The trust-state line is copied from the honest checkpoint: only the map lies.
        use credseal_log::TrustCheckpoint as _;
        let trust = honest.trust_digest().unwrap().unwrap();
        let cp = credseal_log::Checkpoint::new(ORIGIN, honest.size(), *honest.root())
            .and_then(|c| c.with_map_root(&lie))
            .and_then(|c| c.with_trust_digest(&trust))
            .unwrap();
        let mut b = Batch::new();
        b.put(Tree::Checkpoints, at, signer.sign_checkpoint(&cp).into_bytes());
        s.apply(b).unwrap();
        honest.size()
    });
    let o = run(&["log", "verify", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "{}{}", stdout(&o), stderr(&o));
    let e = stderr(&o);
    assert!(e.contains(&format!("checkpoint {size}")), "{e}");
    assert!(
        e.contains("its subject-map root disagrees with the map recomputed from the log's receipts"),
        "{e}"
    );
    assert!(common::no_result(&o));
}

#[test]
fn a_stored_map_edited_on_disk_is_refused() {
    use credseal_store::{Batch, Store, Tree};
    let fx = Fx::new();
    let blind = subject_blind(&read_bundle(&fx.bundle(None)));
    let size = || -> String {
        stdout(&ok(&["log", "checkpoint", "--data", &fx.data]))
            .lines()
            .nth(1)
            .unwrap()
            .to_string()
    };
    let before = size();
    // Someone with the disk lowers the subject's count in the stored map.
    with_store(&fx, |s| {
        let mut leaves = map_leaves(s);
        let mine = leaves
            .iter_mut()
            .find(|(k, _)| *k == credseal_log::map_key(&blind))
            .unwrap();
        mine.1.count -= 1;
        let mut b = Batch::new();
        for kv in s.scan_prefix(Tree::SubjectMap, &[]) {
            b.delete(Tree::SubjectMap, kv.unwrap().0);
        }
        for (pos, node) in credseal_log::map_update(&credseal_log::MemoryMap::new(), leaves)
            .unwrap()
            .writes
        {
            b.put(Tree::SubjectMap, pos.to_bytes(), node.to_bytes());
        }
        s.apply(b).unwrap();
    });
    // The next query, bundle or audit refuses: the map disagrees with the latest checkpoint.
    let (o, _) = fx.query(&fx.data, OTHER_SUBJECT, "loan-approval");
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("disagrees with the checkpoint"), "{}", stderr(&o));
    let o = run(&["log", "verify", "--data", &fx.data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("subject map"), "{}", stderr(&o));
    assert_eq!(size(), before, "nothing was appended");
}

#[test]
fn log_verify_from_a_saved_position() {
    let fx = Fx::new();
    let pos = fx.fresh("audit");
    let o = ok(&["log", "verify", "--data", &fx.data, "--state", &pos, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let n = v["size"].as_u64().unwrap();
    assert_eq!(v["from"], 0);
    fx.noise(&fx.data, 2);
    let o = ok(&[
        "log",
        "verify",
        "--data",
        &fx.data,
        "--state",
        &pos,
        "--from",
        &n.to_string(),
    ]);
    assert!(
        stdout(&o).contains(&format!("ok: 2 receipts and 3 checkpoints verified from size {n}")),
        "{}",
        stdout(&o)
    );
    // The file moved on: continuing from the old size is refused.
    let o = run(&[
        "log",
        "verify",
        "--data",
        &fx.data,
        "--state",
        &pos,
        "--from",
        &n.to_string(),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(stderr(&o).contains(&format!("is at size {}", n + 2)), "{}", stderr(&o));
    // A corrupt position file.
    let mut bytes = std::fs::read(&pos).unwrap();
    bytes[20] ^= 1;
    std::fs::write(&pos, &bytes).unwrap();
    let o = run(&[
        "log",
        "verify",
        "--data",
        &fx.data,
        "--state",
        &pos,
        "--from",
        &(n + 2).to_string(),
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("checksum mismatch"), "{}", stderr(&o));
}

// ------------------------------------------------------------------ log key rotation

/// Two officers enrolled on `fx`'s platform; returns a function making their two approvals
/// of an operation text.
fn officers(fx: &Fx) -> impl Fn(&str) -> Vec<String> + '_ {
    let mut keys = Vec::new();
    for name in ["officer-a", "officer-b"] {
        let key = fx.path(name);
        ok(&["officer", "keygen", "--unencrypted", "--out", &key]);
        let o = common::enroll_staff(
            &|a: &[&str]| run(a),
            Path::new(&fx.path(".")),
            &fx.data,
            ORIGIN,
            Some(&fx.auth),
            "officer",
            name,
            &format!("{key}.pub"),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        keys.push(key);
    }
    move |op: &str| {
        keys.iter()
            .map(|key| {
                let out = fx.fresh("approval");
                ok(&[
                    "officer",
                    "approve",
                    "--key",
                    key,
                    "--operation",
                    op,
                    "--audience",
                    ORIGIN,
                    "--out",
                    &out,
                ]);
                out
            })
            .collect()
    }
}

fn log_rotate(fx: &Fx, approvals: &[String]) -> Output {
    let mut args = vec!["keys", "log-rotate", "--data", fx.data.as_str(), "--json"];
    for a in approvals {
        args.extend(["--approval", a.as_str()]);
    }
    run(&args)
}

#[test]
fn log_key_rotated_through_the_cli() {
    let fx = Fx::new();
    let state = fx.state_after(&fx.bundle(None));
    let pinned = std::fs::read_to_string(&fx.vkey).unwrap().trim().to_string();
    let pinned_id = pinned.split('+').nth(1).unwrap().to_string();
    let approve = officers(&fx);
    // keys status names the current log key; without approvals the rotation is refused
    // (exit 3) and the message names the operation to approve.
    let st: serde_json::Value =
        serde_json::from_slice(&ok(&["keys", "status", "--data", &fx.data, "--json"]).stdout).unwrap();
    assert_eq!(st["log_keys"][0]["key_id"], pinned_id.as_str());
    assert_eq!(st["log_keys"][0]["current"], true);
    let op = format!("rotate log key {pinned_id}");
    let o = log_rotate(&fx, &[]);
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    assert!(stderr(&o).contains(&op), "{}", stderr(&o));
    // Approvals of another operation: refused.
    let o = log_rotate(&fx, &approve("rotate log key 00000000"));
    assert_eq!(code(&o), 3, "{}", stderr(&o));
    // Someone keeps the keystore from before (to show what the retired key could still do).
    let ks_path = Path::new(&fx.data).join("keystore");
    let before = credseal_crypto::Keystore::open(
        &std::fs::read(&ks_path).unwrap(),
        &credseal_crypto::Passphrase::new(PASS.into()),
    )
    .unwrap();

    let files = approve(&op);
    let o = log_rotate(&fx, &files);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let r: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(r["old_vkey"], pinned.as_str());
    let new_vkey = r["new_vkey"].as_str().unwrap().to_string();
    let from = r["from_size"].as_u64().unwrap();
    assert_eq!(r["officers"], serde_json::json!(["officer-a", "officer-b"]));
    // The approvals are spent (and named the old key anyway).
    assert_eq!(code(&log_rotate(&fx, &files)), 3);
    // `log key` stays the original (what subjects pin); `--current` is the new key, which
    // plain C2SP tools use for new checkpoints.
    assert_eq!(stdout(&ok(&["log", "key", "--data", &fx.data])).trim(), pinned);
    assert_eq!(
        stdout(&ok(&["log", "key", "--data", &fx.data, "--current"])).trim(),
        new_vkey
    );
    let note = stdout(&ok(&["log", "checkpoint", "--data", &fx.data]));
    credseal_log::LogVerifier::from_vkey(&new_vkey)
        .unwrap()
        .verify_checkpoint(&note)
        .unwrap();
    let status = stdout(&ok(&["keys", "status", "--data", &fx.data]));
    assert!(
        status.contains(&format!("{pinned_id}  0 to {}", from - 1)) && status.contains("current"),
        "{status}"
    );
    let history: serde_json::Value =
        serde_json::from_slice(&ok(&["log", "history", "--data", &fx.data, "--json"]).stdout).unwrap();
    assert_eq!(history["handovers"].as_array().unwrap().len(), 1);

    // A query after the rotation; the subject verifies with its pinned key and old state.
    fx.granted(&fx.data, "loan-approval");
    let bundle = fx.bundle(Some(&state));
    let o = fx.verify(&fx.copy_state(&state), &bundle);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("rotated 1 time(s)"), "{}", stdout(&o));
    let o = run(&[
        "receipts",
        "verify",
        "--vkey",
        &fx.vkey,
        "--vrf-key",
        &fx.vrf,
        "--subject",
        SUBJECT,
        "--state",
        &fx.copy_state(&state),
        &bundle,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(
        (v["handovers"].as_u64(), v["log_key"].as_str()),
        (Some(1), Some(new_vkey.as_str()))
    );
    // The auditor's replay passes across the rotation.
    ok(&["log", "verify", "--data", &fx.data]);

    // A checkpoint the retired key signs beyond its end: exit 4, saved state untouched.
    let stolen = credseal_log::LogSigner::from_seed(ORIGIN, before.log_seed().unwrap().expose_secret()).unwrap();
    let mut b = read_bundle(&bundle);
    let body = credseal_c2sp::SignedNote::parse(&b.checkpoint)
        .unwrap()
        .text()
        .to_string();
    b.checkpoint = stolen.sign_checkpoint(&credseal_log::Checkpoint::parse(&body).unwrap());
    let forged = fx.write("forged", &b.to_text());
    fx.refused_both(
        &state,
        &forged,
        &["signed by log key", &pinned_id, &format!("retired at tree size {from}")],
    );
    // A handover signed by the new key only: exit 4.
    let mut b = read_bundle(&bundle);
    let (text, sigs) = b.handovers[0].split_once("\n\n").unwrap();
    let new_line = sigs.lines().nth(1).unwrap();
    b.handovers[0] = format!("{text}\n\n{new_line}\n");
    let forged = fx.write("forged", &b.to_text());
    fx.refused_both(&state, &forged, &["log key handover 1", "not signed by the old key"]);
    // The rotation hidden from a subject that saw it.
    let seen = fx.state_after(&fx.bundle(Some(&state)));
    let mut b = read_bundle(&fx.bundle(Some(&seen)));
    b.handovers.clear();
    let hidden = fx.write("hidden", &b.to_text());
    fx.refused(
        &fx.copy_state(&seen),
        &hidden,
        &["0 log key handover(s), 1 were verified before"],
    );
}
