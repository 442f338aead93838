//! Attacks on sealed receipt entries and on sealed answers, through the real `credseal`
//! binary: each performs the attack as a relay, a man in the middle or a misbehaving
//! operator would, and shows it fails with exit 4 and nothing released.
//!
//! The platform is a `--demo` one: its log key is the public demo key of `keys-example/`
//! (`credseal_testkit::demo`), so the tests can play an operator who signs receipt headers
//! the platform never wrote (the attacks a subject's verifier must catch even from the log
//! itself). Relays and men in the middle use no key at all.

use std::cell::Cell;
use std::path::Path;
use std::process::{Command, Output, Stdio};

mod common;
use common::{code, stderr, stdout};

use credseal_log::{Bundle, BundleEntry, ReceiptHeader, UnverifiedReceipt, receipt_signed_bytes};
use ed25519_dalek::Signer as _;

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const KEYSTORE: &str = "../../keys-example/platform.keystore";
const PASS: &str = credseal_testkit::demo::DEMO_PASSPHRASE;
const ORIGIN: &str = credseal_testkit::demo::DEMO_ORIGIN;
/// A subject of records.jsonl.
const SUBJECT: &str = "42010619960510907X";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c.arg("--demo");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// A demo platform with the example data, a department `bank-a` and the subject's key.
struct Fx {
    dir: tempfile::TempDir,
    data: String,
    bank: String,
    cred: String,
    subj: String,
    /// The log's public key, as `log key` prints it (pinned by the subject and the bank).
    vkey: String,
    files: Cell<u32>,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let mut fx = Fx {
            data: dir.path().join("data").display().to_string(),
            dir,
            bank: String::new(),
            cred: String::new(),
            subj: String::new(),
            vkey: String::new(),
            files: Cell::new(0),
        };
        let auth = fx.path("authority.key");
        ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
        fx.bank = fx.path("bank-a");
        ok(&["dept", "keygen", "--unencrypted", "--out-dir", &fx.bank]);
        fx.subj = fx.path("subject");
        ok(&["subject", "keygen", "--unencrypted", "--out-dir", &fx.subj]);
        fx.cred = fx.path("credential");
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
            &format!("{}/signing.pub", fx.bank),
            "--sealing-key",
            &format!("{}/sealing.pub", fx.bank),
            "--classes",
            "identity,loans",
            "--purposes",
            "loan-approval,law-enforcement",
            "--audience",
            ORIGIN,
            "--out",
            &fx.cred,
        ]);
        let data = fx.data.clone();
        ok(&["init", "--data", &data, "--catalog", CATALOG, "--keystore", KEYSTORE]);
        ok(&[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ]);
        ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
        ok(&[
            "subject",
            "register",
            "--data",
            &data,
            "--subject",
            SUBJECT,
            "--key",
            &format!("{}/signing.pub", fx.subj),
        ]);
        fx.vkey = fx.write("vkey", &stdout(&ok(&["log", "key", "--data", &data])));
        fx
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

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

    /// A granted `purpose` query about the subject by `bank-a`: (token file, answer file).
    #[track_caller]
    fn granted(&self, purpose: &str) -> (String, String) {
        let tok = self.fresh("token");
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
            purpose,
            "--legal-basis",
            "case 2026-17",
            "--audience",
            ORIGIN,
            "--out",
            &tok,
        ]);
        let ans = self.fresh("answer");
        ok(&[
            "query",
            "--data",
            &self.data,
            "--credential",
            &self.cred,
            "--token",
            &tok,
            "--out",
            &ans,
        ]);
        (tok, ans)
    }

    /// The subject's bundle (request with `state`, if given, then export), decoded.
    fn bundle(&self, state: Option<&str>) -> Bundle {
        let req = self.fresh("request");
        let key = format!("{}/signing.key", self.subj);
        let mut args = vec![
            "receipts",
            "request",
            "--key",
            &key,
            "--subject",
            SUBJECT,
            "--audience",
            ORIGIN,
            "--out",
            &req,
        ];
        if let Some(s) = state {
            args.extend(["--state", s]);
        }
        ok(&args);
        let out = self.fresh("bundle");
        ok(&[
            "receipts",
            "export",
            "--data",
            &self.data,
            "--request",
            &req,
            "--out",
            &out,
        ]);
        Bundle::from_text(&std::fs::read_to_string(&out).unwrap()).unwrap()
    }

    /// `receipts verify` of `bundle` with the state file `state`.
    fn verify(&self, state: &str, bundle: &Bundle) -> Output {
        let b = self.write("bundle", &bundle.to_text());
        let vrf = format!("{}/vrf-key.pub", self.data);
        run(&[
            "receipts",
            "verify",
            "--vkey",
            &self.vkey,
            "--vrf-key",
            &vrf,
            "--subject",
            SUBJECT,
            "--state",
            state,
            &b,
        ])
    }

    /// `receipts verify` must refuse `bundle`: exit 4, `want` in the message, nothing on
    /// stdout, and the state file unchanged (or still absent).
    #[track_caller]
    fn refused(&self, state: &str, bundle: &Bundle, want: &str) {
        let before = std::fs::read(state).ok();
        let o = self.verify(state, bundle);
        assert_eq!(code(&o), 4, "stdout: {} stderr: {}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(want), "expected {want:?} in: {}", stderr(&o));
        assert!(common::no_result(&o), "{}", stdout(&o));
        assert_eq!(std::fs::read(state).ok(), before, "the saved state changed");
    }

    /// `open --json` of `answer` by `bank-a`, naming `token` and the pinned log key.
    fn open(&self, token: &str, answer: &str) -> Output {
        let log_key = self.write(
            "log-key",
            &stdout(&ok(&["log", "key", "--data", &self.data, "--current"])),
        );
        run(&[
            "open",
            "--key",
            &format!("{}/sealing.key", self.bank),
            "--log-key",
            &log_key,
            "--token",
            token,
            answer,
            "--json",
        ])
    }

    /// `open` must refuse: exit 4, `want` in the message, no plaintext on stdout, and no
    /// export file written.
    #[track_caller]
    fn open_refused(&self, token: &str, answer: &str, want: &str) {
        let o = self.open(token, answer);
        assert_eq!(code(&o), 4, "stdout: {} stderr: {}", stdout(&o), stderr(&o));
        assert!(stderr(&o).contains(want), "expected {want:?} in: {}", stderr(&o));
        assert!(common::no_result(&o), "{}", stdout(&o));
        let export = format!("{}.json", self.fresh("export"));
        let log_key = self.write(
            "log-key",
            &stdout(&ok(&["log", "key", "--data", &self.data, "--current"])),
        );
        let o = run(&[
            "open",
            "--key",
            &format!("{}/sealing.key", self.bank),
            "--log-key",
            &log_key,
            "--token",
            token,
            answer,
            "--export",
            &export,
        ]);
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        assert!(!Path::new(&export).exists(), "a refused answer was exported");
    }
}

/// The demo log key: what a misbehaving operator signs with.
fn operator_key() -> ed25519_dalek::SigningKey {
    ed25519_dalek::SigningKey::from_bytes(&credseal_testkit::demo::demo_secret(b"log"))
}

/// Entry `i` (a full receipt) rewritten as a sealed entry whose header is the receipt's own
/// with `disclose_after` changed by `edit`; signed by the operator when `sign`, else the
/// receipt's genuine header and signature are kept (a relay, no key).
fn reseal(b: &mut Bundle, i: usize, edit: Option<&dyn Fn(&mut ReceiptHeader)>) {
    let BundleEntry::Full { receipt, inclusion } = b.entries[i].clone() else {
        panic!("entry {i} is not a full receipt");
    };
    let r = UnverifiedReceipt::parse(&receipt).unwrap();
    let (header, signature) = match edit {
        None => (r.header_bytes().to_vec(), r.signature().to_vec()),
        Some(edit) => {
            let mut h = ReceiptHeader::decode(r.header_bytes()).unwrap();
            edit(&mut h);
            let bytes = h.encode();
            let sig = operator_key().sign(&receipt_signed_bytes(&bytes)).to_bytes().to_vec();
            (bytes, sig)
        }
    };
    b.entries[i] = BundleEntry::Sealed {
        header,
        signature,
        inclusion,
    };
}

#[test]
fn resealed_receipt_refused_fresh_state() {
    // A relay shows the subject's newest ordinary receipt (a granted query) as sealed, with
    // its genuine signed header: the header has no disclosure date.
    let fx = Fx::new();
    fx.granted("loan-approval");
    let mut b = fx.bundle(None);
    let last = b.entries.len() - 1;
    reseal(&mut b, last, None);
    let state = fx.fresh("state");
    fx.refused(
        &state,
        &b,
        "its signed header has no disclosure date: it must be shown in full",
    );
    assert!(!Path::new(&state).exists());
}

#[test]
fn resealed_receipt_refused_saved_state() {
    // The subject saw its receipt in full. Later the operator re-signs that receipt's header
    // with a disclosure date (same index, chain and content hash, so it matches the leaf in
    // the log) to hide it again: the saved state remembers it was seen in full.
    let fx = Fx::new();
    fx.granted("loan-approval");
    let state = fx.fresh("state");
    let o = fx.verify(&state, &fx.bundle(None));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let mut b = fx.bundle(Some(&state));
    let last = b.entries.len() - 1;
    reseal(
        &mut b,
        last,
        Some(&|h: &mut ReceiptHeader| h.disclose_after = Some(h.time + 30 * 86_400)),
    );
    // The re-signed header is another leaf than the one in the log (the leaf is the header
    // and its signature), so its inclusion proof fails before the saved state is consulted.
    fx.refused(&state, &b, "is not included in the log at its index");
}

/// A query of `bank-a` about the subject for a purpose its credential does not grant
/// (`marketing`): denied (exit 3) after the token's signature verified, so it is receipted.
#[track_caller]
fn denied(fx: &Fx) {
    let tok = fx.fresh("token");
    ok(&[
        "dept",
        "query",
        "--key",
        &format!("{}/signing.key", fx.bank),
        "--credential",
        &fx.cred,
        "--subject",
        SUBJECT,
        "--classes",
        "identity",
        "--purpose",
        "marketing",
        "--legal-basis",
        "case 2026-17",
        "--audience",
        ORIGIN,
        "--out",
        &tok,
    ]);
    let ans = fx.fresh("answer");
    let o = run(&[
        "query",
        "--data",
        &fx.data,
        "--credential",
        &fx.cred,
        "--token",
        &tok,
        "--out",
        &ans,
    ]);
    assert_eq!(code(&o), 3, "the query must be denied: {}", stderr(&o));
}

#[test]
fn sealed_header_equivocation_refused() {
    // The operator holds the log key. For a receipt already in the log (a granted query, then
    // a denied one) it signs a second header: the same index, time, subject, chain position
    // and content hash, plus a disclosure date within the maximum delay, and ships it as a
    // sealed entry with the genuine receipt's inclusion proof, to hide the query for a year.
    // The sealed entry's leaf hash is computed from the header and signature it shows, so
    // it is another leaf than the logged one: its inclusion proof fails.
    let fx = Fx::new();
    // A saved state older than both receipts.
    let old_state = fx.fresh("state");
    let o = fx.verify(&old_state, &fx.bundle(None));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    fx.granted("loan-approval");
    denied(&fx);
    let hide = |h: &mut ReceiptHeader| h.disclose_after = Some(h.time + 365 * 86_400);
    let fresh = fx.bundle(None);
    let saved = fx.bundle(Some(&old_state));
    let n = fresh.entries.len();
    assert!(n >= 2, "the bundle has the granted and the denied receipt");
    // Which of the two is which: the last is the denial, the one before it the grant.
    let outcome = |b: &Bundle, i: usize| match &b.entries[i] {
        BundleEntry::Full { receipt, .. } => {
            UnverifiedReceipt::parse(receipt)
                .unwrap()
                .peek_unverified()
                .unwrap()
                .outcome
        }
        BundleEntry::Sealed { .. } => panic!("entry {i} is sealed"),
    };
    assert!(matches!(outcome(&fresh, n - 1), credseal_log::Outcome::Denied { .. }));
    assert!(matches!(outcome(&fresh, n - 2), credseal_log::Outcome::Granted));
    for i in [n - 2, n - 1] {
        // Fresh state.
        let mut b = fresh.clone();
        reseal(&mut b, i, Some(&hide));
        let state = fx.fresh("state");
        fx.refused(&state, &b, "is not included in the log at its index");
        assert!(!Path::new(&state).exists());
        // A saved state from before the receipt.
        let mut b = saved.clone();
        reseal(&mut b, i, Some(&hide));
        fx.refused(&old_state, &b, "is not included in the log at its index");
    }
    // The bundles as the platform built them still verify.
    let o = fx.verify(&fx.fresh("state"), &fresh);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let o = fx.verify(&old_state, &saved);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

#[test]
fn sealed_beyond_max_delay_refused() {
    // The operator signs a header that keeps a receipt sealed for 400 days, beyond the
    // maximum delay every verifier holds (366 days).
    let fx = Fx::new();
    fx.granted("law-enforcement");
    let mut b = fx.bundle(None);
    let last = b.entries.len() - 1;
    assert!(
        matches!(b.entries[last], BundleEntry::Sealed { .. }),
        "law-enforcement is delayed"
    );
    // Start from the genuine receipt's place: rebuild a sealed entry from a full copy.
    let BundleEntry::Sealed { header, inclusion, .. } = b.entries[last].clone() else {
        unreachable!()
    };
    let mut h = ReceiptHeader::decode(&header).unwrap();
    assert!(h.disclose_after.unwrap() - h.time <= credseal_log::MAX_DISCLOSE_DELAY_SECS);
    h.disclose_after = Some(h.time + 400 * 86_400);
    let bytes = h.encode();
    let signature = operator_key().sign(&receipt_signed_bytes(&bytes)).to_bytes().to_vec();
    b.entries[last] = BundleEntry::Sealed {
        header: bytes,
        signature,
        inclusion,
    };
    fx.refused(
        &fx.fresh("state"),
        &b,
        "a disclosure delay beyond the maximum of 366 days",
    );
}

#[test]
fn honest_sealed_receipt_verifies() {
    // The positive case: the genuine delayed receipt is shown sealed and verifies; the saved
    // state remembers it as sealed, so the next bundle that still shows it sealed verifies.
    let fx = Fx::new();
    fx.granted("law-enforcement");
    let state = fx.fresh("state");
    let o = fx.verify(&state, &fx.bundle(None));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("sealed until"), "{}", stdout(&o));
    fx.granted("loan-approval");
    let o = fx.verify(&state, &fx.bundle(Some(&state)));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
}

/// The answer file `answer`, decoded.
fn read_answer(answer: &str) -> credseal_engine::SealedAnswer {
    credseal_engine::SealedAnswer::from_text(&std::fs::read_to_string(answer).unwrap()).unwrap()
}

/// `body` sealed to `bank-a`'s public sealing key with the HPKE info of `origin`, `query_id`
/// and `receipt`'s leaf hash: what anyone holding the public key can make.
fn forge(fx: &Fx, format: u8, receipt: Vec<u8>, query_id: [u8; 16], body: &credseal_engine::AnswerBody) -> String {
    let pk = credseal_crypto::SealingPublicKey::from_text(
        std::fs::read_to_string(format!("{}/sealing.pub", fx.bank))
            .unwrap()
            .trim(),
    )
    .unwrap();
    let leaf = UnverifiedReceipt::parse(&receipt).unwrap().leaf_hash();
    let info = credseal_crypto::answer_info(ORIGIN, &query_id, Some(&leaf));
    let pt = postcard::to_stdvec(body).unwrap();
    let sealed = credseal_crypto::seal(&pk, &info, &[], &pt).unwrap();
    let a = credseal_engine::SealedAnswer {
        format,
        origin: ORIGIN.to_string(),
        query_id,
        receipt,
        sealed: sealed.to_bytes(),
    };
    fx.write("forged-answer", &a.to_text())
}

/// A made-up answer to the bank's token `tok`: a clean record where the real one has loans.
fn fake_body(tok: &str) -> credseal_engine::AnswerBody {
    let t = credseal_auth::Unverified::<credseal_auth::Token>::parse_text(std::fs::read_to_string(tok).unwrap().trim())
        .unwrap()
        .peek_unverified()
        .unwrap();
    credseal_engine::AnswerBody {
        origin: ORIGIN.to_string(),
        query_id: t.query_id,
        purpose: t.purpose,
        department_id: "bank-a".into(),
        subject: t.subject,
        classes: t.classes.into_iter().collect(),
        answered_at: 1_750_000_000,
        records: Vec::new(),
        nonce: [7; 32],
        vrf_proof: Vec::new(),
    }
}

#[test]
fn forged_answer_refused() {
    // A man in the middle holds only the bank's public sealing key.
    let fx = Fx::new();
    let (tok, ans) = fx.granted("loan-approval");
    let genuine = read_answer(&ans);
    let body = fake_body(&tok);
    // 1. With a receipt of its own making (here: the genuine receipt's bytes, re-signed by
    //    nobody): not signed by the log key.
    let mut unsigned = genuine.receipt.clone();
    let n = unsigned.len();
    unsigned[n - 1] ^= 1;
    let forged = forge(&fx, genuine.format, unsigned, genuine.query_id, &body);
    fx.open_refused(&tok, &forged, "not signed by the log key");
    // 2. With the genuine receipt, intercepted, and its own plaintext bound to that receipt's
    //    leaf hash: the receipt commits to another plaintext.
    let forged = forge(&fx, genuine.format, genuine.receipt.clone(), genuine.query_id, &body);
    fx.open_refused(&tok, &forged, "not the one its receipt commits to");
    // The genuine answer still opens.
    let o = fx.open(&tok, &ans);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("\"records\""), "{}", stdout(&o));
}

#[test]
fn substituted_answer_refused() {
    // The answer of another of the bank's queries (another token) is handed over instead.
    let fx = Fx::new();
    let (tok1, ans1) = fx.granted("loan-approval");
    let (tok2, ans2) = fx.granted("law-enforcement");
    fx.open_refused(&tok1, &ans2, "for another request");
    fx.open_refused(&tok2, &ans1, "for another request");
    // Each opens against its own token.
    for (t, a) in [(&tok1, &ans1), (&tok2, &ans2)] {
        let o = fx.open(t, a);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
    }
}

#[test]
fn answer_opened_against_another_log_key_refused() {
    // The bank pins the platform's log key; a receipt signed by any other key is refused.
    let fx = Fx::new();
    let (tok, ans) = fx.granted("loan-approval");
    let other = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let signer = credseal_log::LogSigner::from_seed(ORIGIN, other.as_bytes()).unwrap();
    let wrong = fx.write("other-log-key", &format!("{}\n", signer.vkey()));
    let o = run(&[
        "open",
        "--key",
        &format!("{}/sealing.key", fx.bank),
        "--log-key",
        &wrong,
        "--token",
        &tok,
        &ans,
    ]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(common::no_result(&o));
    // Without --log-key or --token, `open` is a usage error: no silent skip.
    let o = run(&[
        "open",
        "--key",
        &format!("{}/sealing.key", fx.bank),
        "--token",
        &tok,
        &ans,
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(common::no_result(&o));
    let o = run(&[
        "open",
        "--key",
        &format!("{}/sealing.key", fx.bank),
        "--log-key",
        &fx.vkey,
        &ans,
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(common::no_result(&o));
}
