//! The log in public (first slice): `credseal log export-tiles` writes the log as
//! C2SP tlog-tiles, `credseal serve` serves the same tiles, and `credseal log verify --tiles`
//! checks them with nothing but the log's verifier key — no data directory, no passphrase.
//! An honest log passes from a directory and from a server; an edited entry bundle, an edited
//! hash tile, a shrunk log and a checkpoint signed by another key each fail with exit 4,
//! naming what failed.

mod common;

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::Duration;

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const ORIGIN: &str = "tiles.credseal.invalid/log";

/// The operator's commands: the passphrase in the environment.
fn operator() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env("CREDSEAL_PASSPHRASE", PASS);
    c
}

/// The auditor: no passphrase, no data directory, nothing on stdin.
fn auditor(args: &[&str]) -> Output {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA").env_remove("CREDSEAL_PASSPHRASE");
    c.args(args).stdin(Stdio::null()).output().unwrap()
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = operator().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
    o
}

/// A platform with the example data and extra receipts (`grow`), and its pinned key.
struct Fx {
    tmp: tempfile::TempDir,
    data: String,
    vkey: String,
}

impl Fx {
    fn new() -> Self {
        let tmp = tempfile::tempdir().unwrap();
        let data = tmp.path().join("data").display().to_string();
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
        let vkey = tmp.path().join("log.vkey").display().to_string();
        std::fs::write(&vkey, stdout(&ok(&["log", "key", "--data", &data]))).unwrap();
        Fx { tmp, data, vkey }
    }

    fn path(&self, name: &str) -> String {
        self.tmp.path().join(name).display().to_string()
    }

    /// Appends `n` receipts, most about a subject (so the subject map moves too).
    fn grow(&self, n: usize) {
        use credseal_log::{Action, Actor, Outcome};
        let p = credseal_engine::Platform::open(
            Path::new(&self.data),
            &credseal_crypto::Passphrase::new(PASS.to_string()),
            credseal_engine::OpenOptions::default(),
        )
        .unwrap();
        let subjects: Vec<credseal_core::BlindId> =
            std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(RECORDS))
                .unwrap()
                .lines()
                .take(5)
                .map(|l| {
                    serde_json::from_str::<serde_json::Value>(l).unwrap()["subject"]
                        .as_str()
                        .unwrap()
                        .to_string()
                })
                .map(|s| p.blind(&credseal_core::SubjectId::parse(&s).unwrap()).unwrap())
                .collect();
        let now = credseal_engine::Clock::now(&credseal_engine::SystemClock).unwrap();
        let items = (0..n)
            .map(|i| credseal_engine::NewReceipt {
                actor: Actor::Platform,
                action: Action::Admin,
                detail: format!("tiles test event {i}"),
                subject: (i % 4 != 0).then(|| subjects[i % subjects.len()]),
                classes: Default::default(),
                purpose: String::new(),
                token_hash: None,
                outcome: Outcome::Done,
                release_digest: None,
                disclose_after: None,
                marks: Vec::new(),
                flags: 0,
                fingerprints: None,
            })
            .collect();
        p.append_receipts(items, now).unwrap();
    }

    fn export(&self, out: &str) -> Output {
        operator()
            .args(["log", "export-tiles", "--data", &self.data, out])
            .stdin(Stdio::null())
            .output()
            .unwrap()
    }

    fn verify(&self, tiles: &str, state: Option<&str>) -> Output {
        let mut args = vec!["log", "verify", "--tiles", tiles, "--vkey", &self.vkey];
        if let Some(s) = state {
            args.extend(["--state", s]);
        }
        auditor(&args)
    }
}

/// The files under `dir`, relative, sorted.
fn listing(dir: &str) -> Vec<String> {
    let mut out: Vec<String> = common::files_under(Path::new(dir))
        .into_iter()
        .map(|p| p.strip_prefix(dir).unwrap().display().to_string())
        .collect();
    out.sort();
    out
}

fn copy_dir(from: &str, to: &str) {
    for rel in listing(from) {
        let dst = Path::new(to).join(&rel);
        std::fs::create_dir_all(dst.parent().unwrap()).unwrap();
        std::fs::copy(Path::new(from).join(&rel), dst).unwrap();
    }
}

#[track_caller]
fn refused(o: &Output, want: &[&str]) {
    assert_eq!(code(o), 4, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
    let e = stderr(o);
    for w in want {
        assert!(e.contains(w), "{w:?} not in: {e}");
    }
    assert!(common::no_result(o), "{}", stdout(o));
}

/// The tree size of the checkpoint in a tiles directory.
fn size_of(dir: &str) -> u64 {
    let note = std::fs::read_to_string(Path::new(dir).join("checkpoint")).unwrap();
    note.lines().nth(1).unwrap().parse().unwrap()
}

#[test]
fn an_honest_log_exports_and_verifies_with_only_the_vkey() {
    let fx = Fx::new();
    fx.grow(300); // more than one full tile of entries
    let out = fx.path("tiles");
    let o = fx.export(&out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let size = size_of(&out);
    assert!(size > 256 && size < 512, "{size}");
    let files = listing(&out);
    let w = size - 256;
    for want in [
        "checkpoint".to_string(),
        "key-history".into(),
        "tile/entries/000".into(),
        format!("tile/entries/001.p/{w}"),
        "tile/0/000".into(),
        format!("tile/0/001.p/{w}"),
        "tile/1/000.p/1".into(),
    ] {
        assert!(files.contains(&want), "{want} not in {files:?}");
    }
    assert_eq!(files.len(), 7, "{files:?}");
    // The key never rotated: the history is empty.
    assert_eq!(std::fs::read(Path::new(&out).join("key-history")).unwrap(), b"");
    // The auditor: no data directory, no passphrase.
    let state = fx.path("audit.state");
    let o = fx.verify(&out, Some(&state));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).starts_with(&format!("ok: {size} receipts of {ORIGIN} verified from tiles")),
        "{}",
        stdout(&o)
    );
    assert!(stderr(&o).is_empty(), "{}", stderr(&o));
    assert!(Path::new(&state).exists());

    // The log grows; the same directory takes the new tiles (the old ones stay) and the
    // auditor continues from its state.
    fx.grow(10);
    let o = fx.export(&out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(stdout(&o).contains("kept from the export at size"), "{}", stdout(&o));
    let files = listing(&out);
    assert!(
        files.contains(&format!("tile/entries/001.p/{w}")),
        "the older partial bundle stays"
    );
    assert!(files.contains(&format!("tile/entries/001.p/{}", w + 10)), "{files:?}");
    let o = fx.verify(&out, Some(&state));
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    assert!(
        stdout(&o).contains(&format!("consistent with the saved state at size {size}")),
        "{}",
        stdout(&o)
    );

    // A non-empty directory that is not an export of this log is refused, untouched.
    let other = fx.path("other");
    std::fs::create_dir(&other).unwrap();
    std::fs::write(Path::new(&other).join("index.html"), "hello").unwrap();
    let o = fx.export(&other);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("not an earlier export of this log"),
        "{}",
        stderr(&o)
    );
    assert_eq!(listing(&other), ["index.html"]);
}

#[test]
fn edited_tiles_a_shrunk_log_and_another_key_fail() {
    let fx = Fx::new();
    let old = fx.path("old");
    let o = fx.export(&old);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    fx.grow(280);
    let out = fx.path("tiles");
    let o = fx.export(&out);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let state = fx.path("audit.state");
    assert_eq!(code(&fx.verify(&out, Some(&state))), 0);

    // An edited entry: one byte of the first receipt's signature.
    let edited = fx.path("edited-entry");
    copy_dir(&out, &edited);
    let bundle = Path::new(&edited).join("tile/entries/000");
    let mut b = std::fs::read(&bundle).unwrap();
    let first_len = usize::from(u16::from_be_bytes([b[0], b[1]]));
    b[2 + first_len - 1] ^= 1;
    std::fs::write(&bundle, b).unwrap();
    refused(&fx.verify(&edited, None), &["tile/entries/000", "entry 0 (receipt 0)"]);

    // An edited hash tile.
    let edited = fx.path("edited-hash");
    copy_dir(&out, &edited);
    let tile = Path::new(&edited).join("tile/0/000");
    let mut b = std::fs::read(&tile).unwrap();
    b[32 * 7 + 3] ^= 1;
    std::fs::write(&tile, b).unwrap();
    refused(
        &fx.verify(&edited, None),
        &["tile/0/000", "hash 7 does not match the entries"],
    );

    // A missing tile.
    let missing = fx.path("missing");
    copy_dir(&out, &missing);
    std::fs::remove_file(Path::new(&missing).join("tile/0/000")).unwrap();
    refused(&fx.verify(&missing, None), &["tile/0/000", "missing"]);

    // An endless file in place of an entry bundle: refused after reading no more than the
    // largest bundle there can be.
    let endless = fx.path("endless");
    copy_dir(&out, &endless);
    let bundle = Path::new(&endless).join("tile/entries/000");
    std::fs::remove_file(&bundle).unwrap();
    std::os::unix::fs::symlink("/dev/zero", &bundle).unwrap();
    refused(&fx.verify(&endless, None), &["tile/entries/000", "more than any tile"]);

    // A shrunk log: an older (smaller) checkpoint than the auditor's saved state.
    refused(&fx.verify(&old, Some(&state)), &["the log shrank"]);
    // The state is not overwritten by a failed run: the honest log still verifies.
    assert_eq!(code(&fx.verify(&out, Some(&state))), 0);

    // A checkpoint for the same tree signed by another key under the same name.
    let forged = fx.path("forged");
    copy_dir(&out, &forged);
    let note = std::fs::read_to_string(Path::new(&out).join("checkpoint")).unwrap();
    let body = credseal_c2sp::SignedNote::parse(&note).unwrap().text().to_string();
    let other = credseal_log::LogSigner::new(ORIGIN, &credseal_auth::SigningKey::generate()).unwrap();
    let cp = credseal_c2sp::Checkpoint::parse(&body).unwrap();
    std::fs::write(Path::new(&forged).join("checkpoint"), other.sign_checkpoint(&cp)).unwrap();
    refused(&fx.verify(&forged, None), &["checkpoint"]);

    // --tiles needs no data directory; given one as well, the tiles are what is checked
    // (no passphrase is asked for).
    let o = auditor(&["log", "verify", "--tiles", &out, "--vkey", &fx.vkey, "--data", &fx.data]);
    assert_eq!(code(&o), 0, "--tiles wins over --data: {}", stderr(&o));
}

/// `log monitor` follows the published log round after round: it verifies each new
/// checkpoint from what it adds, keeps its position, and stops with exit 4 when an entry it
/// verified in an earlier round changes (a rewrite of the published history).
#[test]
fn a_monitor_follows_the_log_and_stops_at_a_rewrite() {
    let fx = Fx::new();
    let out = fx.path("tiles");
    assert_eq!(code(&fx.export(&out)), 0);
    let first = size_of(&out);
    let state = fx.path("monitor.state");
    let mut child = Command::new(env!("CARGO_BIN_EXE_credseal"))
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .env_remove("CREDSEAL_DATA")
        .env_remove("CREDSEAL_PASSPHRASE")
        .args([
            "log",
            "monitor",
            "--tiles",
            &out,
            "--vkey",
            &fx.vkey,
            "--state",
            &state,
            "--interval",
            "1",
            "--rounds",
            "60",
            "--json",
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let mut next = || -> serde_json::Value {
        let l = lines.next().expect("the monitor stopped early").unwrap();
        serde_json::from_str(&l).unwrap()
    };
    let r = next();
    assert_eq!((r["round"].as_u64(), r["size"].as_u64()), (Some(1), Some(first)));
    assert_eq!(r["new_receipts"].as_u64(), Some(first));
    let (warn_tx, warnings) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let stderr_lines = std::thread::spawn(move || {
        let mut all = String::new();
        for l in BufReader::new(err).lines().map_while(Result::ok) {
            let _ = warn_tx.send(l.clone());
            all.push_str(&l);
            all.push('\n');
        }
        all
    });

    // A fetch that fails (the checkpoint cannot be read for a moment): reported, and the
    // monitor carries on from the position it verified.
    let cp = Path::new(&out).join("checkpoint");
    let aside = fx.path("checkpoint.aside");
    std::fs::rename(&cp, &aside).unwrap();
    std::fs::create_dir(&cp).unwrap();
    let w = warnings.recv_timeout(Duration::from_secs(60)).expect("no warning");
    assert!(w.contains("warning: round") && w.contains("trying again"), "{w}");
    std::fs::remove_dir(&cp).unwrap();
    std::fs::rename(&aside, &cp).unwrap();
    let r = next();
    assert_eq!(r["size"].as_u64(), Some(first), "{r}");
    assert!(r["round"].as_u64() > Some(2), "{r}");

    // The log grows by less than a tile: the next round fetches the partial bundle again and
    // the new entries only.
    fx.grow(40);
    assert_eq!(code(&fx.export(&out)), 0);
    let grown = size_of(&out);
    let r = loop {
        let r = next();
        if r["size"].as_u64() == Some(grown) {
            break r;
        }
        assert_eq!(r["size"].as_u64(), Some(first), "{r}");
    };
    assert_eq!(r["new_receipts"].as_u64(), Some(grown - first));
    assert_eq!(r["bundles"].as_u64(), Some(1), "{r}");
    // Its position is saved after every round: a one-shot audit continues from it.
    assert_eq!(code(&fx.verify(&out, Some(&state))), 0);

    // The log grows again, and the published copy of an entry verified before is rewritten
    // (its signature is left valid-looking: one byte of the header changed).
    fx.grow(10);
    assert_eq!(code(&fx.export(&out)), 0);
    let bundle = Path::new(&out).join(format!("tile/entries/000.p/{}", size_of(&out)));
    let mut b = std::fs::read(&bundle).unwrap();
    b[5] ^= 1;
    std::fs::write(&bundle, b).unwrap();
    let status = child.wait().unwrap();
    let err = stderr_lines.join().unwrap();
    assert_eq!(status.code(), Some(4), "{err}");
    assert!(
        err.contains("entry 0 (receipt 0)") && err.contains("verified before"),
        "{err}"
    );
}

// ------------------------------------------------------------------ over HTTPS

/// A child server, killed and reaped when dropped.
struct Server {
    child: Child,
    url: String,
    /// Its stderr lines, for the message of a failed test.
    log: Arc<std::sync::Mutex<Vec<String>>>,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(data: &str, cert: &str, key: &str) -> Server {
    let mut child = operator()
        .args([
            "serve",
            "--data",
            data,
            "--listen",
            "127.0.0.1:0",
            "--quiet",
            "--tls-cert",
            cert,
            "--tls-key",
            key,
        ])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    let err = child.stderr.take().unwrap();
    let log = Arc::new(std::sync::Mutex::new(Vec::new()));
    let lines = log.clone();
    std::thread::spawn(move || {
        for line in BufReader::new(err).lines() {
            let Ok(line) = line else { break };
            if let Some(addr) = line.strip_prefix("credseal: serving ") {
                let _ = tx.send(addr.to_string());
            }
            lines.lock().unwrap().push(line);
        }
    });
    let Ok(url) = rx.recv_timeout(Duration::from_secs(60)) else {
        let _ = child.kill();
        let _ = child.wait();
        panic!("the server did not report ready within 60 s");
    };
    Server { child, url, log }
}

fn agent(cert_der: &[u8]) -> ureq::Agent {
    use ureq::tls::{Certificate, RootCerts, TlsConfig, TlsProvider};
    #[allow(deprecated)] // ring's provider: see crates/credseal-server/src/tls.rs
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let tls = TlsConfig::builder()
        .provider(TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(provider)
        .root_certs(RootCerts::Specific(Arc::new(vec![
            Certificate::from_der(cert_der).to_owned(),
        ])))
        .build();
    ureq::Agent::config_builder()
        .tls_config(tls)
        .http_status_as_error(false)
        .timeout_global(Some(Duration::from_secs(30)))
        .build()
        .into()
}

#[test]
fn a_server_serves_the_tiles_the_export_writes() {
    let fx = Fx::new();
    fx.grow(300);
    let out = fx.path("tiles");
    assert_eq!(code(&fx.export(&out)), 0);
    let size = size_of(&out);
    let ck = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let (cert, key) = (fx.path("cert.pem"), fx.path("key.pem"));
    std::fs::write(&cert, ck.cert.pem()).unwrap();
    std::fs::write(&key, ck.signing_key.serialize_pem()).unwrap();
    let srv = serve(&fx.data, &cert, &key);
    let a = agent(ck.cert.der());
    let get = |path: &str| {
        let mut r = a
            .get(format!("{}{path}", srv.url))
            .call()
            .unwrap_or_else(|e| panic!("GET {path}: {e}; the server said {:?}", srv.log.lock().unwrap()));
        let status = r.status().as_u16();
        let cache = r
            .headers()
            .get("cache-control")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        let ctype = r
            .headers()
            .get("content-type")
            .map(|v| v.to_str().unwrap().to_string())
            .unwrap_or_default();
        (status, cache, ctype, r.body_mut().read_to_vec().unwrap())
    };
    // Every exported file is served byte for byte, with C2SP's caching.
    for rel in listing(&out) {
        let (status, cache, ctype, body) = get(&format!("/{rel}"));
        assert_eq!(status, 200, "{rel}");
        assert_eq!(body, std::fs::read(Path::new(&out).join(&rel)).unwrap(), "{rel}");
        let full = !rel.contains(".p/") && rel != "checkpoint" && rel != "key-history";
        let want = if full {
            "public, max-age=31536000, immutable"
        } else {
            "no-cache"
        };
        assert_eq!(cache, want, "{rel}");
        let want = if rel == "checkpoint" || rel == "key-history" {
            "text/plain; charset=utf-8"
        } else {
            "application/octet-stream"
        };
        assert_eq!(ctype, want, "{rel}");
        // Again: a full tile now comes from the server's memory, the same bytes.
        let (status, cache2, _, again) = get(&format!("/{rel}"));
        assert_eq!((status, cache2, again), (200, cache, body), "{rel} served again");
    }
    // Beyond the tree, a wider partial tile than the tree holds, and non-canonical paths:
    // 404, never cached.
    let w = size - 256;
    for path in [
        "/tile/0/002".to_string(),
        "/tile/entries/001".into(),
        format!("/tile/0/001.p/{}", w + 1),
        "/tile/2/000.p/1".into(),
        "/tile/0/1".into(),
        "/tile/0/000.p/256".into(),
    ] {
        let (status, cache, _, _) = get(&path);
        assert_eq!((status, cache.as_str()), (404, "no-store"), "{path}");
    }
    // An earlier, narrower partial tile is still served.
    let (status, _, _, body) = get("/tile/0/001.p/1");
    assert_eq!(status, 200);
    assert_eq!(body.len(), 32);

    // The auditor over HTTPS with only the vkey and the server's certificate.
    let o = auditor(&[
        "log", "verify", "--tiles", &srv.url, "--ca", &cert, "--vkey", &fx.vkey, "--json",
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert_eq!(v["size"], size);
    assert_eq!(v["receipts"], size);
    assert_eq!(v["hash_tiles"], 3);
    // Another key pinned: the server's checkpoint is refused.
    let other = credseal_log::LogSigner::new(ORIGIN, &credseal_auth::SigningKey::generate()).unwrap();
    let wrong = fx.path("other.vkey");
    std::fs::write(&wrong, other.vkey()).unwrap();
    let o = auditor(&["log", "verify", "--tiles", &srv.url, "--ca", &cert, "--vkey", &wrong]);
    refused(&o, &["/checkpoint"]);
}

/// The operator lies about the subject map: a checkpoint for the right tree, signed by the
/// log's own key (read from the keystore with the passphrase, as the operator can), whose
/// `credseal-map` root is not the map the entries rebuild. Here the lie is the map root of
/// an earlier checkpoint — the subjects' latest receipts hidden from their map — with the
/// tree and its signature otherwise honest. Also a checkpoint without a map line at all.
/// The `credseal-trust` line is kept as published: the tiles audit does not check it
/// (docs/formats.md, "Tiles": it commits to state outside the log).
#[test]
fn a_checkpoint_whose_map_root_disagrees_with_the_entries_fails() {
    use credseal_log::{MapCheckpoint as _, TrustCheckpoint as _};
    let fx = Fx::new();
    let old = fx.path("old");
    assert_eq!(code(&fx.export(&old)), 0);
    fx.grow(40); // receipts about subjects: the map moves
    let out = fx.path("tiles");
    assert_eq!(code(&fx.export(&out)), 0);
    assert_eq!(code(&fx.verify(&out, None)), 0, "the honest log passes");

    let body_of = |dir: &str| {
        let note = std::fs::read_to_string(Path::new(dir).join("checkpoint")).unwrap();
        let body = credseal_c2sp::SignedNote::parse(&note).unwrap().text().to_string();
        credseal_c2sp::Checkpoint::parse(&body).unwrap()
    };
    let honest = body_of(&out);
    let earlier = body_of(&old);
    let stale_map = earlier.map_root().unwrap().unwrap();
    assert_ne!(stale_map, honest.map_root().unwrap().unwrap(), "the map moved");
    let trust = honest.trust_digest().unwrap().unwrap();

    // The log's real signing key, as its operator holds it.
    let config = credseal_engine::Platform::read_config(Path::new(&fx.data)).unwrap();
    let keys = credseal_engine::Platform::read_keystore(
        &Path::new(&fx.data).join(&config.keystore),
        &credseal_crypto::Passphrase::new(PASS.to_string()),
        credseal_engine::OpenOptions::default(),
    )
    .unwrap();
    let signer = credseal_log::LogSigner::from_seed(ORIGIN, keys.log_seed().unwrap().expose_secret()).unwrap();
    let tree = || credseal_c2sp::Checkpoint::new(ORIGIN, honest.size(), *honest.root()).unwrap();
    // Re-signing the honest body reproduces a checkpoint the auditor accepts: the key is the
    // log's, so what fails below is the map line alone.
    let resigned = fx.path("resigned");
    copy_dir(&out, &resigned);
    let same = tree()
        .with_map_root(&honest.map_root().unwrap().unwrap())
        .and_then(|c| c.with_trust_digest(&trust))
        .unwrap();
    assert_eq!(same.to_text(), honest.to_text());
    std::fs::write(Path::new(&resigned).join("checkpoint"), signer.sign_checkpoint(&same)).unwrap();
    let o = fx.verify(&resigned, None);
    assert_eq!(code(&o), 0, "{}", stderr(&o));

    let lying = fx.path("lying-map");
    copy_dir(&out, &lying);
    let cp = tree()
        .with_map_root(&stale_map)
        .and_then(|c| c.with_trust_digest(&trust))
        .unwrap();
    std::fs::write(Path::new(&lying).join("checkpoint"), signer.sign_checkpoint(&cp)).unwrap();
    let checkpoint = Path::new(&lying).join("checkpoint").display().to_string();
    refused(
        &fx.verify(&lying, None),
        &[
            &checkpoint,
            "its subject-map root disagrees with the map rebuilt from the entries",
        ],
    );
    // With a saved state from the honest earlier log it fails the same way, and the state
    // is not advanced.
    let state = fx.path("audit.state");
    assert_eq!(code(&fx.verify(&old, Some(&state))), 0);
    let saved = std::fs::read(&state).unwrap();
    refused(&fx.verify(&lying, Some(&state)), &[&checkpoint, "subject-map root"]);
    assert_eq!(std::fs::read(&state).unwrap(), saved, "a failed audit leaves the state");

    // No map line at all: the checkpoint commits to no map.
    let unmapped = fx.path("no-map");
    copy_dir(&out, &unmapped);
    let cp = tree().with_trust_digest(&trust).unwrap();
    std::fs::write(Path::new(&unmapped).join("checkpoint"), signer.sign_checkpoint(&cp)).unwrap();
    refused(
        &fx.verify(&unmapped, None),
        &[
            &Path::new(&unmapped).join("checkpoint").display().to_string(),
            "commits to no subject map",
        ],
    );
}
