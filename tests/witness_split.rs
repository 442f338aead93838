//! A split view, caught by a witness: the operator forks its store into two
//! copies of one platform and lets them diverge. The witness (`credseal witness serve`, its
//! own process, key and state) cosigns the first fork's checkpoints and refuses the second's;
//! a subject on the second fork who requires the witness (`--witness-threshold 1`) gets exit
//! 4 and keeps its saved state; an auditor of the published tiles who requires the witness
//! refuses the second fork's log, and one who has verified either fork reports the other.
//! Everything goes through the binary, the witness's HTTP port and the files on disk.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "split.credseal.invalid/log";
const WITNESS: &str = "witness.credseal.invalid/w1";
/// A subject of the example data, and another one (traffic that is not in its chain).
const SUBJECT: &str = "42010619960510907X";
const OTHER_SUBJECT: &str = "610113195010078965";

/// The operator's commands: the passphrase in the environment.
fn run(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env("CREDSEAL_PASSPHRASE", PASS);
    c.args(args).stdin(Stdio::null()).output().unwrap()
}

/// A subject's or an auditor's commands: no passphrase.
fn outsider(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env_remove("CREDSEAL_PASSPHRASE");
    c.args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = run(args);
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

#[track_caller]
fn failed(o: &Output, class: i32, want: &[&str]) {
    assert_eq!(code(o), class, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let e = stderr(o);
    for w in want {
        assert!(e.contains(w), "{w:?} not in: {e}");
    }
}

/// The witness, its own process; killed and reaped when dropped.
struct Witness {
    child: Child,
    url: String,
    log: Arc<Mutex<Vec<String>>>,
}

impl Drop for Witness {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Witness {
    /// Starts `credseal witness serve` on 127.0.0.1 (a free port) and waits for its ready line.
    fn start(key: &str, state: &str, log_vkey: &str) -> Self {
        let mut child = Command::new(env!("CARGO_BIN_EXE_credseal"))
            .current_dir(env!("CARGO_MANIFEST_DIR"))
            .env_remove("CREDSEAL_PASSPHRASE")
            .args([
                "witness",
                "serve",
                "--key",
                key,
                "--state",
                state,
                "--log-vkey",
                log_vkey,
                "--listen",
                "127.0.0.1:0",
                "--insecure-loopback",
            ])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = child.stderr.take().unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = std::sync::mpsc::channel();
        let sink = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(err).lines().map_while(Result::ok) {
                if let Some(i) = line.find(" serving ") {
                    let _ = tx.send(line[i + " serving ".len()..].trim().to_string());
                }
                sink.lock().unwrap().push(line);
            }
        });
        let url = rx
            .recv_timeout(Duration::from_secs(30))
            .unwrap_or_else(|_| panic!("the witness did not start: {:?}", log.lock().unwrap()));
        assert!(url.starts_with("http://127.0.0.1:"), "{url}");
        Witness { child, url, log }
    }
}

/// One platform's people and keys, and the first fork's data directory.
struct Fx {
    dir: tempfile::TempDir,
    files: std::cell::Cell<usize>,
    bank: String,
    cred: String,
    subj: String,
    vkey: String,
    vrf: String,
    witness_pub: String,
}

impl Fx {
    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    fn fresh(&self, stem: &str) -> String {
        let n = self.files.get();
        self.files.set(n + 1);
        self.path(&format!("{stem}-{n}"))
    }

    /// A granted query about `subject` on `data`.
    #[track_caller]
    fn query(&self, data: &str, subject: &str) {
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
            "loan-approval",
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
            data,
            "--credential",
            &self.cred,
            "--token",
            &tok,
            "--out",
            &ans,
        ]);
    }

    /// The subject's bundle from `data` (its request carries `state`'s size if it exists).
    fn bundle(&self, data: &str, state: &str) -> (Output, String) {
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
        if Path::new(state).exists() {
            args.extend(["--state", state]);
        }
        assert_eq!(code(&outsider(&args)), 0);
        let out = self.fresh("bundle");
        let o = run(&["receipts", "export", "--data", data, "--request", &req, "--out", &out]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        (o, out)
    }

    /// The subject verifies `bundle` requiring the witness (`--witness-threshold 1`).
    fn subject_verifies(&self, state: &str, bundle: &str) -> Output {
        outsider(&[
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
            "--witness",
            &self.witness_pub,
            "--witness-threshold",
            "1",
            bundle,
        ])
    }

    /// An auditor of the tiles in `dir`, with nothing but the log's and the witness's keys.
    fn audit(&self, dir: &str, state: Option<&str>, require_witness: bool) -> Output {
        let mut args = vec!["log", "verify", "--tiles", dir, "--vkey", &self.vkey];
        if let Some(s) = state {
            args.extend(["--state", s]);
        }
        if require_witness {
            args.extend(["--witness", &self.witness_pub, "--witness-threshold", "1"]);
        }
        outsider(&args)
    }

    fn export_tiles(&self, data: &str) -> String {
        let out = self.fresh("tiles");
        ok(&["log", "export-tiles", "--data", data, &out]);
        out
    }
}

/// The tree size of a checkpoint note.
fn size_of(note: &str) -> u64 {
    note.lines().nth(1).unwrap().parse().unwrap()
}

/// Copies a directory tree (the operator's fork of its store, taken while nothing runs).
fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dst = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_tree(&e.path(), &dst);
        } else {
            std::fs::copy(e.path(), &dst).unwrap();
        }
    }
    let mode = std::fs::metadata(from).unwrap().permissions();
    std::fs::set_permissions(to, mode).unwrap();
}

#[test]
fn witnesses_cosign_one_fork_and_refuse_the_other() {
    let deadline = Instant::now() + Duration::from_secs(600);
    let dir = tempfile::tempdir().unwrap();
    let mut fx = Fx {
        dir,
        files: Default::default(),
        bank: String::new(),
        cred: String::new(),
        subj: String::new(),
        vkey: String::new(),
        vrf: String::new(),
        witness_pub: String::new(),
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
        "loan-approval",
        "--audience",
        ORIGIN,
        "--out",
        &fx.cred,
    ]);
    let a = fx.path("fork-a");
    ok(&[
        "init",
        "--data",
        &a,
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
        &a,
        RECORDS,
    ]);
    ok(&["authority", "trust", "--data", &a, "--key", &format!("{auth}.pub")]);
    ok(&[
        "subject",
        "register",
        "--data",
        &a,
        "--subject",
        SUBJECT,
        "--key",
        &format!("{}/signing.pub", fx.subj),
    ]);
    fx.vkey = fx.path("log.vkey");
    std::fs::write(&fx.vkey, stdout(&outsider(&["log", "key", "--data", &a]))).unwrap();
    fx.vrf = fx.path("log.vrf");
    std::fs::write(&fx.vrf, stdout(&outsider(&["log", "key", "--vrf", "--data", &a]))).unwrap();

    // The witness: its own key and state, witnessing this log's key.
    let wkey = fx.path("witness.key");
    let o = outsider(&["witness", "keygen", "--name", WITNESS, "--out", &wkey]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    fx.witness_pub = format!("{wkey}.pub");
    let witness = Witness::start(&wkey, &fx.path("witness-state"), &fx.vkey);
    ok(&[
        "log",
        "witnesses",
        "add",
        "--data",
        &a,
        "--url",
        &witness.url,
        "--vkey",
        &fx.witness_pub,
    ]);
    let listed = stdout(&ok(&["log", "witnesses", "list", "--data", &a]));
    assert!(listed.contains(WITNESS) && listed.contains(&witness.url), "{listed}");

    // Before the fork: the history so far is witnessed.
    fx.query(&a, SUBJECT);
    let o = ok(&["log", "cosign", "--data", &a]);
    assert!(stdout(&o).contains("carries 1 of 1"), "{}", stdout(&o));

    // The operator forks its store (while nothing runs) and lets the copies diverge.
    let b = fx.path("fork-b");
    copy_tree(Path::new(&a), Path::new(&b));
    fx.query(&a, SUBJECT);
    fx.query(&b, OTHER_SUBJECT);
    fx.query(&b, SUBJECT);

    // Fork A: the bundle's checkpoint is sent to the witness and comes back cosigned; the
    // subject who requires the witness accepts it.
    let state_a = fx.path("subject-a.state");
    let (o, bundle_a) = fx.bundle(&a, &state_a);
    assert!(!stderr(&o).contains("warning"), "{}", stderr(&o));
    let o = fx.subject_verifies(&state_a, &bundle_a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("cosigned by witness(es): {WITNESS}")),
        "{}",
        stdout(&o)
    );

    // One witness's key under a second name does not count twice (the Ed25519 cosignature
    // does not sign the name), and the log's own key is no witness.
    let wpk = credseal_c2sp::CosignatureVerifier::from_vkey(std::fs::read_to_string(&fx.witness_pub).unwrap().trim())
        .unwrap();
    let alias = fx.path("alias.pub");
    let v = credseal_c2sp::CosignatureVerifier::new("alias.credseal.invalid/w9", wpk.public_key()).unwrap();
    std::fs::write(&alias, v.vkey()).unwrap();
    let state_x = fx.path("subject-x.state");
    let verify_with = |extra: &str| {
        outsider(&[
            "receipts",
            "verify",
            "--vkey",
            &fx.vkey,
            "--vrf-key",
            &fx.vrf,
            "--subject",
            SUBJECT,
            "--state",
            &state_x,
            "--witness",
            &fx.witness_pub,
            "--witness",
            extra,
            &bundle_a,
        ])
    };
    failed(&verify_with(&alias), 2, &["would count twice", "alias.pub"]);
    let log_pk = credseal_c2sp::NoteVerifier::from_vkey(std::fs::read_to_string(&fx.vkey).unwrap().trim()).unwrap();
    let own = fx.path("own.pub");
    let v = credseal_c2sp::CosignatureVerifier::new("own.credseal.invalid/w0", log_pk.public_key()).unwrap();
    std::fs::write(&own, v.vkey()).unwrap();
    failed(&verify_with(&own), 4, &["one of the log's own keys"]);
    assert!(!Path::new(&state_x).exists());

    // Fork B: the witness refuses its checkpoint (inconsistent with what it cosigned for
    // A); the export says so, and the bundle carries no cosignature.
    let state_b = fx.path("subject-b.state");
    let (o, bundle_b) = fx.bundle(&b, &state_b);
    let e = stderr(&o);
    assert!(e.contains(&format!("warning: witness {WITNESS}")), "{e}");
    assert!(e.contains("refused") || e.contains("larger tree"), "{e}");
    let o = fx.subject_verifies(&state_b, &bundle_b);
    failed(&o, 4, &["0 valid cosignature(s) of the 1 required", WITNESS]);
    assert!(
        !Path::new(&state_b).exists(),
        "a refused view must not become the saved state"
    );
    // Without the witness requirement the same bundle verifies: the witness is what catches it.
    let o = outsider(&[
        "receipts",
        "verify",
        "--vkey",
        &fx.vkey,
        "--vrf-key",
        &fx.vrf,
        "--subject",
        SUBJECT,
        "--state",
        &state_b,
        &bundle_b,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    // The subject who verified fork A sees fork B as a fork, witness or not.
    let (_, bundle_b2) = fx.bundle(&b, &state_a);
    failed(&fx.subject_verifies(&state_a, &bundle_b2), 4, &[]);
    // The witness logged its refusal (evidence of the split view).
    assert!(
        witness.log.lock().unwrap().iter().any(|l| l.contains(ORIGIN)),
        "{:?}",
        witness.log.lock().unwrap()
    );
    let o = run(&["log", "cosign", "--data", &b]);
    failed(&o, 1, &["did not cosign"]);

    // The published logs. A publishes its cosigned checkpoint: an auditor who requires the
    // witness accepts it. B can only publish the checkpoint cosigned before the fork.
    let tiles_a = fx.export_tiles(&a);
    let audit_a = fx.path("auditor-a.state");
    let o = fx.audit(&tiles_a, Some(&audit_a), true);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let tiles_b = fx.export_tiles(&b);
    let published_b = std::fs::read_to_string(Path::new(&tiles_b).join("checkpoint")).unwrap();
    let latest_b = stdout(&outsider(&["log", "checkpoint", "--data", &b]));
    assert!(
        size_of(&published_b) < size_of(&latest_b),
        "B published its unwitnessed checkpoint"
    );
    // The auditor who verified A reports B's published log (it is behind what it saw).
    failed(&fx.audit(&tiles_b, Some(&audit_a), false), 4, &[]);

    // B's operator drops the witness to publish its own view: an auditor who requires the
    // witness refuses it, and one who verified A reports the fork.
    ok(&["log", "witnesses", "remove", "--data", &b, "--name", WITNESS]);
    let tiles_b = fx.export_tiles(&b);
    assert_eq!(
        size_of(&std::fs::read_to_string(Path::new(&tiles_b).join("checkpoint")).unwrap()),
        size_of(&latest_b)
    );
    failed(
        &fx.audit(&tiles_b, None, true),
        4,
        &["0 valid cosignature(s) of the 1 required"],
    );
    failed(&fx.audit(&tiles_b, Some(&audit_a), false), 4, &[]);
    // A monitor that requires the witness stops at B's view; on A's it runs its rounds.
    let monitor = |tiles: &str| {
        outsider(&[
            "log",
            "monitor",
            "--tiles",
            tiles,
            "--vkey",
            &fx.vkey,
            "--witness",
            &fx.witness_pub,
            "--rounds",
            "1",
        ])
    };
    failed(&monitor(&tiles_b), 4, &["0 valid cosignature(s) of the 1 required"]);
    let o = monitor(&tiles_a);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains(&format!("cosigned by {WITNESS}")), "{}", stdout(&o));
    // And the other way round: an auditor who verified B's view reports A.
    let audit_b = fx.path("auditor-b.state");
    assert_eq!(code(&fx.audit(&tiles_b, Some(&audit_b), false)), 0);
    failed(&fx.audit(&tiles_a, Some(&audit_b), false), 4, &[]);
    assert!(Instant::now() < deadline, "the test ran past its time bound");
}
