//! Attacks on whose bundle a subject verifies, through the real `credseal` binary: the
//! subject knows only its id, the pinned log key and the pinned VRF public key, and
//! `receipts verify` derives its blind id itself from the bundle's VRF proof.

mod common;

use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};
use credseal_log::Bundle;

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";
/// The subject (records.jsonl has its records).
const SUBJECT: &str = "42010619960510907X";
/// Another person in records.jsonl.
const OTHER: &str = "610113195010078965";

fn run(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_credseal"))
        .args(args)
        .env("CREDSEAL_PASSPHRASE", PASS)
        .stdin(Stdio::null())
        .output()
        .unwrap()
}

fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// A platform with the example records, and the subject's pinned public material.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    vkey: String,
    vrf: String,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data").display().to_string();
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
        let mut fx = Self {
            dir,
            data,
            vkey: String::new(),
            vrf: String::new(),
        };
        // The public files `init` wrote: what the operator publishes and the subject pins.
        fx.vkey = format!("{}/log-key.pub", fx.data);
        fx.vrf = format!("{}/vrf-key.pub", fx.data);
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn write(&self, name: &str, text: &str) -> String {
        let p = self.path(name);
        std::fs::write(&p, text).unwrap();
        p
    }

    /// The bundle of `subject` as the platform builds it (the operator's own export).
    fn bundle_of(&self, subject: &str) -> Bundle {
        let p = credseal_engine::Platform::open(
            std::path::Path::new(&self.data),
            &credseal_crypto::Passphrase::new(PASS.into()),
            Default::default(),
        )
        .unwrap();
        let id = credseal_core::SubjectId::parse(subject).unwrap();
        p.export_bundle(
            &id,
            None,
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_secs(),
        )
        .unwrap()
    }

    /// `receipts verify` as the subject runs it.
    fn verify(&self, state: &str, bundle: &Bundle) -> Output {
        let b = self.write("bundle", &format!("{}\n", bundle.to_text()));
        run(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            &self.vrf,
            "--subject",
            SUBJECT,
            "--state",
            state,
            &b,
        ])
    }

    /// Refused with exit 4, no receipt table printed, no state written.
    fn refused(&self, bundle: &Bundle, want: &str) {
        let state = self.path("state-refused");
        let o = self.verify(&state, bundle);
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        assert!(stderr(&o).contains(want), "{}", stderr(&o));
        assert!(common::no_result(&o), "{}", stdout(&o));
        assert!(!std::path::Path::new(&state).exists(), "a state was written");
    }
}

#[test]
fn subject_verifies_own_bundle_knowing_only_id_log_key_and_vrf_key() {
    let fx = Fx::new();
    let o = fx.verify(&fx.path("state"), &fx.bundle_of(SUBJECT));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("bundle verified"), "{}", stdout(&o));
    // The files `init` published are what `log key` prints (text and JSON).
    let vrf = std::fs::read_to_string(&fx.vrf).unwrap();
    assert!(vrf.starts_with("ecvrf-edwards25519-sha512-tai:"), "{vrf}");
    assert_eq!(stdout(&ok(&["log", "key", "--vrf", "--data", &fx.data])), vrf);
    let vkey = std::fs::read_to_string(&fx.vkey).unwrap();
    assert_eq!(stdout(&ok(&["log", "key", "--data", &fx.data])), vkey);
    let j: serde_json::Value =
        serde_json::from_slice(&ok(&["log", "key", "--json", "--data", &fx.data]).stdout).unwrap();
    assert_eq!(j["vrf_key"].as_str().unwrap(), vrf.trim());
    assert_eq!(j["log_key"].as_str().unwrap(), vkey.trim());
}

#[test]
fn bundle_of_other_subject_refused() {
    let fx = Fx::new();
    // The other subject's genuine bundle (its receipts, its map entry, its valid proof).
    fx.refused(&fx.bundle_of(OTHER), "the bundle is not this subject's");
}

#[test]
fn empty_bundle_with_absence_proof_refused() {
    let fx = Fx::new();
    let mut b = fx.bundle_of(SUBJECT);
    // The subject's receipts withheld, with a genuine absence proof for a subject that has none
    // and that subject's valid VRF proof.
    let nobody = fx.bundle_of("110105194912310038");
    assert!(nobody.entries.is_empty());
    b.entries.clear();
    b.map = nobody.map.clone();
    b.vrf_proof = nobody.vrf_proof.clone();
    fx.refused(&b, "the bundle is not this subject's");
    // With no proof at all (the old zero fallback).
    b.vrf_proof.clear();
    fx.refused(&b, "carries no VRF proof");
}

#[test]
fn bundle_with_vrf_proof_flipped_refused() {
    let fx = Fx::new();
    let mut b = fx.bundle_of(SUBJECT);
    b.vrf_proof[40] ^= 1;
    fx.refused(&b, "the bundle failed verification");
}

impl Fx {
    /// The subject's keys (registered with the platform) and the sealed answer to its
    /// self-query for every class.
    fn self_answer(&self) -> (String, String) {
        let s = self.path("subject-keys");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &s]);
        ok(&[
            "subject",
            "register",
            "--data",
            &self.data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{s}/signing.pub"),
        ]);
        let q = self.path("self-query");
        ok(&[
            "subject",
            "query",
            "--key",
            &format!("{s}/signing.key"),
            "--sealing-key",
            &format!("{s}/sealing.pub"),
            "--subject",
            SUBJECT,
            "--classes",
            "identity,loans",
            "--audience",
            ORIGIN,
            "--out",
            &q,
        ]);
        let ans = self.path("answer");
        ok(&["query", "--data", &self.data, "--self-query", &q, "--out", &ans]);
        (s, ans)
    }

    /// `open` of the self-query answer with the VRF key file `vrf` and `extra` arguments.
    fn open_checked(&self, keys: &str, answer: &str, vrf: &str, extra: &[&str]) -> Output {
        let key = format!("{keys}/sealing.key");
        // The subject's pinned log key and the self-query it sent authenticate the answer.
        let query = self.path("self-query");
        let mut args = vec![
            "open",
            "--key",
            &key,
            "--log-key",
            &self.vkey,
            "--token",
            &query,
            "--vrf-key",
            vrf,
        ];
        args.extend_from_slice(extra);
        args.push(answer);
        run(&args)
    }
}

/// Refused with exit 4 and no record on stdout.
#[track_caller]
fn answer_refused(o: &Output, want: &str) {
    assert_eq!(code(o), 4, "{}", stderr(o));
    assert!(stderr(o).contains(want), "{}", stderr(o));
    assert!(common::no_result(o), "{}", stdout(o));
}

#[test]
fn self_query_answer_proves_own_blind_id() {
    let fx = Fx::new();
    let (keys, ans) = fx.self_answer();
    let o = fx.open_checked(&keys, &ans, &fx.vrf, &["--subject", SUBJECT]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(SUBJECT), "{}", stdout(&o));
    // The blind id the answer proves is the one the subject's bundle verification pins.
    let state = fx.path("state");
    assert_eq!(code(&fx.verify(&state, &fx.bundle_of(SUBJECT))), 0);
    let pinned = std::fs::read_to_string(&state).unwrap();
    let pinned = pinned.lines().next().unwrap().strip_prefix("subject ").unwrap();
    assert!(
        stderr(&o).contains(&format!("your blind id is {pinned}")),
        "{}",
        stderr(&o)
    );
}

#[test]
fn self_query_answer_for_other_subject_id_refused() {
    let fx = Fx::new();
    let (keys, ans) = fx.self_answer();
    let o = fx.open_checked(&keys, &ans, &fx.vrf, &["--subject", OTHER]);
    answer_refused(&o, "the answer is about another subject");
}

#[test]
fn self_query_answer_under_other_vrf_key_refused() {
    let fx = Fx::new();
    let (keys, ans) = fx.self_answer();
    // Another platform's VRF key: the answer's proof is not by it.
    let other = fx.path("other");
    ok(&[
        "init",
        "--data",
        &other,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]);
    let o = fx.open_checked(&keys, &ans, &format!("{other}/vrf-key.pub"), &[]);
    answer_refused(&o, "the answer's VRF proof for");
}
