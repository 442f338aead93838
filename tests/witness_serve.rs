//! End-to-end tests of `credseal witness keygen|serve` (C2SP tlog-witness): the real binary
//! runs as a child process on 127.0.0.1, over HTTPS with a self-signed certificate made here
//! (rcgen) or plain HTTP with `--insecure-loopback`; every request goes through a real HTTP
//! client (ureq).
//!
//! The logs are played here: `credseal_log::LogSigner` signs checkpoints of a
//! `credseal_c2sp::MemoryLog`, which also gives the consistency proofs.
//!
//! Covered: keygen (files, modes, no overwrite, bad names); a first checkpoint (old 0)
//! cosigned, its cosignature verifying with the witness's vkey file; the next one with a
//! valid proof; every refusal of the specification — 404 unknown origin, 403 no trusted
//! signature and 403 a trusted key's line that fails, 400 malformed and old > size, 409 with
//! `text/x.tlog.size` and the cosigned size, 422 a bad proof, a non-empty proof from 0, the
//! same size with another root, a size-0 checkpoint with another root than the empty tree's —
//! each logged to stderr and none of them changing the state; a rotated log key; `GET
//! <origin hash>/checkpoint`; a restart keeps the state (409 with the old size); a tampered
//! state file and a state directory in use are refused at start; plain HTTP only on loopback;
//! SIGTERM stops it with exit 0. No test asserts a duration.

use std::io::{BufRead as _, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_c2sp::{Checkpoint, CosignatureVerifier, EMPTY_ROOT, Hash, MemoryLog, NoteVerifier, SignedNote};
use credseal_log::LogSigner;

mod common;

use common::{code, stderr, stdout};

const ORIGIN: &str = "log.credseal.invalid/a";
/// A second log the witness follows, kept fresh (never cosigned) for the old-0 refusals.
const ORIGIN_B: &str = "log.credseal.invalid/b";
const WITNESS: &str = "witness.credseal.invalid/w1";

/// Upper bound of every wait (start, a response, an exit): only there so that a broken
/// witness fails a test rather than hanging it.
const WAIT: Duration = Duration::from_secs(90);

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.env_remove("CREDSEAL_PASSPHRASE").env_remove("CREDSEAL_DATA");
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).stdin(Stdio::null()).output().unwrap()
}

/// A log: its key and its tree.
struct Log {
    signer: LogSigner,
    tree: MemoryLog,
}

impl Log {
    fn new(origin: &str, seed: u8) -> Self {
        Self {
            signer: LogSigner::from_seed(origin, &[seed; 32]).unwrap(),
            tree: MemoryLog::new(),
        }
    }

    fn grow_to(&mut self, n: u64) {
        while self.tree.size() < n {
            let i = self.tree.size();
            self.tree.append(format!("record {i}").as_bytes());
        }
    }

    fn note(&self, size: u64) -> String {
        let root = if size == 0 {
            EMPTY_ROOT
        } else {
            self.tree.tree_hash(size).unwrap()
        };
        self.signer
            .sign_checkpoint(&Checkpoint::new(self.signer.origin(), size, root).unwrap())
    }

    fn proof(&self, old: u64, size: u64) -> Vec<Hash> {
        if old == 0 {
            Vec::new()
        } else {
            self.tree.prove_tree(size, old).unwrap()
        }
    }

    /// The request `old`, proof old → size, checkpoint at `size`.
    fn req(&self, old: u64, size: u64) -> Vec<u8> {
        body(old, &self.proof(old, size), &self.note(size))
    }
}

fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    let lines: String = proof.iter().map(|h| format!("{}\n", STANDARD.encode(h))).collect();
    format!("old {old}\n{lines}\n{note}").into_bytes()
}

fn origin_hash(origin: &str) -> String {
    credseal_witness::origin_hash(origin)
}

struct Fx {
    dir: tempfile::TempDir,
    cert_pem: PathBuf,
    key_pem: PathBuf,
    cert_der: Vec<u8>,
    a: Log,
    b: Log,
}

impl Fx {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
        let cert_pem = dir.path().join("cert.pem");
        let key_pem = dir.path().join("tls-key.pem");
        std::fs::write(&cert_pem, ck.cert.pem()).unwrap();
        std::fs::write(&key_pem, ck.signing_key.serialize_pem()).unwrap();
        let fx = Self {
            cert_der: ck.cert.der().to_vec(),
            cert_pem,
            key_pem,
            a: Log::new(ORIGIN, 1),
            b: Log::new(ORIGIN_B, 2),
            dir,
        };
        std::fs::write(fx.path("a.vkey"), format!("{}\n", fx.a.signer.vkey())).unwrap();
        std::fs::write(fx.path("b.vkey"), format!("{}\n", fx.b.signer.vkey())).unwrap();
        let o = run(&["witness", "keygen", "--name", WITNESS, "--out", &fx.s("w.key")]);
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        fx
    }

    fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    fn s(&self, name: &str) -> String {
        self.path(name).display().to_string()
    }

    fn verifier(&self) -> CosignatureVerifier {
        CosignatureVerifier::from_vkey(&std::fs::read_to_string(self.path("w.key.pub")).unwrap()).unwrap()
    }

    fn serve_args(&self, tls: bool) -> Vec<String> {
        let mut a: Vec<String> = [
            "witness",
            "serve",
            "--key",
            &self.s("w.key"),
            "--state",
            &self.s("state"),
            "--log-vkey",
            &self.s("a.vkey"),
            "--log-vkey",
            &self.s("b.vkey"),
            "--listen",
            "127.0.0.1:0",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if tls {
            a.extend([
                "--tls-cert".into(),
                self.cert_pem.display().to_string(),
                "--tls-key".into(),
                self.key_pem.display().to_string(),
            ]);
        } else {
            a.push("--insecure-loopback".into());
        }
        a
    }

    fn start(&self) -> Srv {
        Srv::start(self, self.serve_args(true), true)
    }
}

#[derive(Debug)]
struct Resp {
    status: u16,
    content_type: String,
    body: String,
}

struct Srv {
    child: Child,
    addr: SocketAddr,
    scheme: &'static str,
    log: Arc<Mutex<Vec<String>>>,
    agent: ureq::Agent,
}

#[allow(deprecated)] // the ring provider: see crates/credseal-server/src/tls.rs
fn ring() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

impl Srv {
    fn start(fx: &Fx, args: Vec<String>, tls: bool) -> Srv {
        let mut child = bin()
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let log = Arc::new(Mutex::new(Vec::new()));
        let (tx, rx) = mpsc::channel();
        let pipe = child.stderr.take().unwrap();
        let lines = log.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines() {
                let Ok(line) = line else { break };
                if let Some(rest) = line.strip_prefix(&format!("credseal: witness {WITNESS} serving ")) {
                    let _ = tx.send(rest.trim().to_string());
                }
                lines.lock().unwrap().push(line);
            }
        });
        let url = match rx.recv_timeout(WAIT) {
            Ok(a) => a,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("the witness did not start: {:?}", log.lock().unwrap());
            }
        };
        let scheme = if tls { "https" } else { "http" };
        let addr = url
            .strip_prefix(&format!("{scheme}://"))
            .unwrap_or_else(|| panic!("ready line {url:?} is not {scheme}"))
            .parse()
            .unwrap();
        let mut cfg = ureq::Agent::config_builder()
            .http_status_as_error(false)
            .timeout_global(Some(WAIT));
        if tls {
            cfg = cfg.tls_config(
                ureq::tls::TlsConfig::builder()
                    .provider(ureq::tls::TlsProvider::Rustls)
                    .root_certs(ureq::tls::RootCerts::new_with_certs(&[
                        ureq::tls::Certificate::from_der(&fx.cert_der).to_owned(),
                    ]))
                    .unversioned_rustls_crypto_provider(ring())
                    .build(),
            );
        }
        Srv {
            child,
            addr,
            scheme,
            log,
            agent: cfg.build().into(),
        }
    }

    fn send(&self, method: &str, path: &str, body: Option<&[u8]>) -> Resp {
        let b = ureq::http::Request::builder()
            .method(method)
            .uri(format!("{}://{}{path}", self.scheme, self.addr));
        let resp = match body {
            Some(bytes) => self.agent.run(b.body(bytes.to_vec()).unwrap()),
            None => self.agent.run(b.body(()).unwrap()),
        }
        .unwrap_or_else(|e| panic!("{method} {path}: {e}"));
        let status = resp.status().as_u16();
        let content_type = resp
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let body = resp.into_body().read_to_string().unwrap();
        Resp {
            status,
            content_type,
            body,
        }
    }

    #[track_caller]
    fn add(&self, body: &[u8]) -> Resp {
        self.send("POST", "/add-checkpoint", Some(body))
    }

    #[track_caller]
    fn refused(&self, body: &[u8], status: u16) -> Resp {
        let r = self.add(body);
        assert_eq!(r.status, status, "{r:?}");
        assert!(r.content_type.starts_with("text/"), "{r:?}");
        assert!(!r.body.is_empty() && r.body.len() < 200, "{r:?}");
        r
    }

    fn checkpoint(&self, origin: &str) -> Resp {
        self.send("GET", &format!("/{}/checkpoint", origin_hash(origin)), None)
    }

    fn stderr(&self) -> String {
        self.log.lock().unwrap().join("\n")
    }

    /// Sends SIGTERM (with `kill`, this process's own child only) and waits (bounded) for
    /// the exit.
    fn terminate(mut self) -> (ExitStatus, String) {
        let o = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .output()
            .unwrap();
        assert!(o.status.success(), "kill: {}", stderr(&o));
        let start = Instant::now();
        let status = loop {
            if let Some(s) = self.child.try_wait().unwrap() {
                break s;
            }
            assert!(start.elapsed() < WAIT, "the witness did not exit: {}", self.stderr());
            std::thread::sleep(Duration::from_millis(50));
        };
        // The reader thread ends with the pipe; give it a bounded moment to catch up.
        let start = Instant::now();
        while !self.stderr().contains("stopped") && start.elapsed() < WAIT {
            std::thread::sleep(Duration::from_millis(20));
        }
        let log = self.stderr();
        (status, log)
    }
}

impl Drop for Srv {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

/// The cosignature `line` on `note` verifies with the witness's vkey file; returns its time.
#[track_caller]
fn cosigned_at(fx: &Fx, note: &str, line: &str) -> u64 {
    assert!(
        line.starts_with(&format!("\u{2014} {WITNESS} ")) && line.ends_with('\n'),
        "{line:?}"
    );
    assert_eq!(line.lines().count(), 1, "{line:?}");
    let n = SignedNote::parse(&format!("{note}{line}")).unwrap();
    fx.verifier().verify(&n).unwrap().expect("the witness's cosignature")
}

#[test]
fn keygen_writes_a_private_key_and_its_vkey_and_never_overwrites() {
    let fx = Fx::new();
    use std::os::unix::fs::PermissionsExt as _;
    let mode = std::fs::metadata(fx.path("w.key")).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    let vkey = std::fs::read_to_string(fx.path("w.key.pub")).unwrap();
    assert!(vkey.starts_with(&format!("{WITNESS}+")), "{vkey}");
    let key = std::fs::read_to_string(fx.path("w.key")).unwrap();
    assert_eq!(
        credseal_c2sp::CosignerKey::from_key_text(key.trim()).unwrap().vkey(),
        vkey.trim()
    );
    // A log's verifier key is not a witness key, and the other way round.
    assert!(CosignatureVerifier::from_vkey(&fx.a.signer.vkey()).is_err());
    assert!(NoteVerifier::from_vkey(&vkey).is_err());
    // Again: refused, the key unchanged; a bad name is a usage error.
    let o = run(&["witness", "keygen", "--name", WITNESS, "--out", &fx.s("w.key")]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("already exists"), "{}", stderr(&o));
    assert_eq!(std::fs::read_to_string(fx.path("w.key")).unwrap(), key);
    let o = run(&["witness", "keygen", "--name", "bad name", "--out", &fx.s("x.key")]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(!fx.path("x.key").exists());
    // The stdout of keygen is the vkey.
    let o = run(&["witness", "keygen", "--name", "w.example/2", "--out", &fx.s("y.key")]);
    assert_eq!(code(&o), 0);
    assert_eq!(stdout(&o), std::fs::read_to_string(fx.path("y.key.pub")).unwrap());
}

#[test]
fn witness_cosigns_consistent_checkpoints_and_refuses_everything_else() {
    let mut fx = Fx::new();
    fx.a.grow_to(5);
    let srv = fx.start();
    // Nothing cosigned yet.
    assert_eq!(srv.checkpoint(ORIGIN).status, 404);

    // The first checkpoint (old 0) is cosigned; the cosignature verifies with the vkey.
    let t0 = now();
    let r = srv.add(&fx.a.req(0, 5));
    assert_eq!(r.status, 200, "{r:?}");
    let t = cosigned_at(&fx, &fx.a.note(5), &r.body);
    assert!(t >= t0 && t <= now(), "{t}");
    // The monitoring view: the log's signature and the cosignature, both valid.
    let m = srv.checkpoint(ORIGIN);
    assert_eq!(m.status, 200);
    assert_eq!(m.body, format!("{}{}", fx.a.note(5), r.body));
    fx.a.signer.verifier().verify_checkpoint(&m.body).unwrap();

    // The next checkpoint with a valid proof 5 → 9.
    fx.a.grow_to(9);
    let r = srv.add(&fx.a.req(5, 9));
    assert_eq!(r.status, 200, "{r:?}");
    cosigned_at(&fx, &fx.a.note(9), &r.body);

    // 409: the client's old size is not the witness's; the body is the cosigned size.
    for old in [0, 5] {
        let r = srv.refused(&body(old, &fx.a.proof(old, 9), &fx.a.note(9)), 409);
        assert_eq!(r.content_type, "text/x.tlog.size");
        assert_eq!(r.body, "9\n");
    }
    // 404: an origin the witness does not follow.
    let stranger = Log::new("log.credseal.invalid/unknown", 3);
    srv.refused(&stranger.req(0, 0), 404);
    // 403: the origin signed by another key; the trusted key's line altered.
    let impostor = Log {
        signer: LogSigner::from_seed(ORIGIN, &[4; 32]).unwrap(),
        tree: fx.a.tree.clone(),
    };
    srv.refused(&impostor.req(9, 9), 403);
    let note = fx.a.note(9);
    // Past the key id (the first 4 bytes, 6 base64 characters): a signature byte.
    let sig_at = note.rfind(' ').unwrap() + 20;
    let mut bad = note.clone().into_bytes();
    bad[sig_at] = if bad[sig_at] == b'A' { b'B' } else { b'A' };
    srv.refused(&body(9, &[], &String::from_utf8(bad).unwrap()), 403);
    // 400: malformed, and old > size.
    srv.refused(b"old 0\n\nnot a checkpoint\n", 400);
    srv.refused(b"old 01\n\n", 400);
    srv.refused(&body(10, &[], &fx.a.note(9)), 400);
    // 422: a proof that does not verify (a hash flipped, and a proof for another size).
    fx.a.grow_to(12);
    let mut proof = fx.a.proof(9, 12);
    proof[0][0] ^= 1;
    srv.refused(&body(9, &proof, &fx.a.note(12)), 422);
    srv.refused(&body(9, &fx.a.proof(8, 12), &fx.a.note(12)), 422);
    // 422: the same size with another root (a fork at size 9).
    let mut fork = Log::new(ORIGIN, 1);
    fork.tree.append(b"another history");
    fork.grow_to(9);
    srv.refused(&fork.req(9, 9), 422);
    // 422 on the fresh log B: a non-empty proof from size 0; a size-0 checkpoint whose root
    // is not the empty tree's.
    fx.b.grow_to(3);
    srv.refused(&body(0, &[[1; 32]], &fx.b.note(3)), 422);
    let not_empty =
        fx.b.signer
            .sign_checkpoint(&Checkpoint::new(ORIGIN_B, 0, [7; 32]).unwrap());
    srv.refused(&body(0, &[], &not_empty), 422);
    // 413: a body over the limit.
    let huge = vec![b'a'; 65 * 1024];
    assert_eq!(srv.add(&huge).status, 413);

    // None of that moved the state: 9 → 12 is cosigned.
    let r = srv.add(&fx.a.req(9, 12));
    assert_eq!(r.status, 200, "{r:?}");
    cosigned_at(&fx, &fx.a.note(12), &r.body);
    // The same checkpoint again is cosigned again.
    assert_eq!(srv.add(&fx.a.req(12, 12)).status, 200);

    // Every refusal is one line on stderr with the origin and sizes.
    let log = srv.stderr();
    for needle in [
        "refused add-checkpoint: 409 origin=\"log.credseal.invalid/a\" old=0 size=9 cosigned=9",
        "refused add-checkpoint: 404 origin=\"log.credseal.invalid/unknown\"",
        "refused add-checkpoint: 403 origin=\"log.credseal.invalid/a\" old=9 size=9: no signature by a trusted key",
        "refused add-checkpoint: 403 origin=\"log.credseal.invalid/a\" old=9 size=9: a signature line of the log key",
        "refused add-checkpoint: 400 origin=- old=- size=-",
        "refused add-checkpoint: 400 origin=\"log.credseal.invalid/a\" old=10 size=9",
        "refused add-checkpoint: 422 origin=\"log.credseal.invalid/a\" old=9 size=12",
        "refused add-checkpoint: 422 origin=\"log.credseal.invalid/b\" old=0 size=0",
        "refused add-checkpoint: 413",
    ] {
        assert!(log.contains(needle), "no {needle:?} in:\n{log}");
    }
    assert_eq!(log.matches("refused add-checkpoint").count(), 14, "{log}");
    assert!(!log.contains("not a checkpoint"), "the request is echoed:\n{log}");

    let (status, _) = srv.terminate();
    assert!(status.success(), "{status:?}");
}

#[test]
fn a_rotated_log_key_and_unknown_signatures() {
    let mut fx = Fx::new();
    fx.a.grow_to(4);
    // The log's second key, trusted beside the first (same origin).
    let rotated = LogSigner::from_seed(ORIGIN, &[5; 32]).unwrap();
    std::fs::write(fx.path("a2.vkey"), rotated.vkey()).unwrap();
    let mut args = fx.serve_args(true);
    args.extend(["--log-vkey".into(), fx.s("a2.vkey")]);
    let srv = Srv::start(&fx, args, true);
    let r = srv.add(&fx.a.req(0, 4));
    assert_eq!(r.status, 200, "{r:?}");
    fx.a.grow_to(6);
    let cp = Checkpoint::new(ORIGIN, 6, fx.a.tree.root()).unwrap();
    let note = rotated.sign_checkpoint(&cp);
    // Another witness's (unknown) line is ignored, and not kept.
    let other = credseal_c2sp::CosignerKey::from_seed("other.witness/w", &[6; 32]).unwrap();
    let with_other = format!("{note}{}", other.cosign(&cp.to_text(), 1).unwrap());
    let r = srv.add(&body(4, &fx.a.proof(4, 6), &with_other));
    assert_eq!(r.status, 200, "{r:?}");
    cosigned_at(&fx, &note, &r.body);
    assert_eq!(srv.checkpoint(ORIGIN).body, format!("{note}{}", r.body));
}

#[test]
fn state_survives_a_restart_and_a_tampered_state_is_refused() {
    let mut fx = Fx::new();
    fx.a.grow_to(7);
    let srv = fx.start();
    assert_eq!(srv.add(&fx.a.req(0, 7)).status, 200);
    let served = srv.checkpoint(ORIGIN).body;
    // A second witness on the same state directory is refused while this one runs.
    let o = run(&fx.serve_args(true).iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(stderr(&o).contains("in use"), "{}", stderr(&o));
    let (status, _) = srv.terminate();
    assert!(status.success());

    // After a restart: 409 with the old size, and the same checkpoint served.
    let srv = fx.start();
    let r = srv.refused(&fx.a.req(0, 7), 409);
    assert_eq!(r.body, "7\n");
    assert_eq!(srv.checkpoint(ORIGIN).body, served);
    let (status, _) = srv.terminate();
    assert!(status.success());

    // A state file changed on disk: refused at start, naming the file (exit 4).
    let file = fx.path("state").join(origin_hash(ORIGIN));
    let good = std::fs::read_to_string(&file).unwrap();
    assert_eq!(good, served);
    for bad in [
        good.replacen("\n7\n", "\n3\n", 1),
        good.replacen(&format!("\u{2014} {WITNESS} "), "\u{2014} someone.else/w ", 1),
        "garbage".to_string(),
    ] {
        std::fs::write(&file, &bad).unwrap();
        let o = run(&fx.serve_args(true).iter().map(String::as_str).collect::<Vec<_>>());
        assert_eq!(code(&o), 4, "{}", stderr(&o));
        assert!(stderr(&o).contains(&file.display().to_string()), "{}", stderr(&o));
        assert!(stderr(&o).contains("does not verify"), "{}", stderr(&o));
    }
    // Restored, it starts again.
    std::fs::write(&file, &good).unwrap();
    let srv = fx.start();
    assert_eq!(srv.refused(&fx.a.req(0, 7), 409).body, "7\n");
}

#[test]
fn plain_http_only_on_loopback() {
    let mut fx = Fx::new();
    fx.a.grow_to(1);
    let srv = Srv::start(&fx, fx.serve_args(false), false);
    let r = srv.add(&fx.a.req(0, 1));
    assert_eq!(r.status, 200, "{r:?}");
    cosigned_at(&fx, &fx.a.note(1), &r.body);
    // Unknown paths and methods.
    assert_eq!(srv.send("GET", "/nothing", None).status, 404);
    assert_eq!(srv.send("GET", "/add-checkpoint", None).status, 405);
    assert_eq!(
        srv.send("GET", &format!("/{}/checkpoint", "00".repeat(32)), None)
            .status,
        404
    );
    let (status, log) = srv.terminate();
    assert!(status.success(), "{log}");

    // Refused before anything is opened: no state directory appears. Nothing binds the
    // off-loopback address below: the configuration check refuses it before any socket
    // exists, which is what this part shows (exit 2, no state directory).
    let mut args = fx.serve_args(false);
    let at = args.iter().position(|a| a == "127.0.0.1:0").unwrap();
    args[at] = "0.0.0.0:0".into();
    let state = fx.path("state2");
    let st = state.display().to_string();
    let sp = args.iter().position(|a| a == "--state").unwrap();
    args[sp + 1] = st;
    let o = run(&args.iter().map(String::as_str).collect::<Vec<_>>());
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("only allowed on a loopback address"),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&state).exists());
    // Neither TLS nor --insecure-loopback: a usage error.
    let o = run(&[
        "witness",
        "serve",
        "--key",
        &fx.s("w.key"),
        "--state",
        &fx.s("state"),
        "--log-vkey",
        &fx.s("a.vkey"),
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
}
