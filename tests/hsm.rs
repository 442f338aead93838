//! HSM custody through the binary: a platform whose class KEKs, log signing key
//! and derivation key are non-extractable objects of a PKCS#11 token (SoftHSM2,
//! `.ci/install-softhsm`; `.ci/run` installs it, so CI never skips).
//!
//! [`keys_in_a_token`]: `init --pkcs11-module … --token-label … --pin-file …`, then ingest,
//! a department's query (granted, opened), `log verify`, `keys rotate`, `keys rewrap`,
//! `keys retire`, a credit-repair `shred` and `check`, every command finding the token in
//! `credseal.toml` and the PIN in `CREDSEAL_PKCS11_PIN_FILE`. The keystore file is a manifest:
//! no key the token derives (index, trace, VRF) is in it, no KEK is in it (they are not
//! extractable: the child process below checks the token refuses them), and a copy of the
//! database and manifest from before the retirement opens (`dev probe-copy`, exit 0) until
//! the retired KEK's token object is destroyed, then not (exit 4). Receipts name token
//! object ids.
//!
//! SoftHSM2 reads `SOFTHSM2_CONF` when the module is initialised, and the environment cannot
//! be changed safely inside a running test: checks that need the token in this process run
//! in a child of this test binary (`hsm_child`), started with the token's settings.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const ORIGIN: &str = "hsm.credseal.invalid/log";
const LABEL: &str = "credseal-hsm-test";
const PIN: &str = "test user pin, not a real one";
const SO_PIN: &str = "test so pin, not a real one";
const SUBJECT: &str = "42010619960510907X";
const RECORD: &str = "LN-2025-000124";
const CHILD_ENV: &str = "CREDSEAL_HSM_TEST_KEYSTORE";
const GONE_ENV: &str = "CREDSEAL_HSM_TEST_GONE";

fn module() -> Option<PathBuf> {
    [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ]
    .into_iter()
    .map(PathBuf::from)
    .find(|p| p.exists())
}

struct Hsm {
    dir: tempfile::TempDir,
    conf: PathBuf,
    pin: PathBuf,
    data: String,
}

impl Hsm {
    fn bin(&self) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
        c.current_dir(env!("CARGO_MANIFEST_DIR"));
        c.env_remove("CREDSEAL_DATA");
        c.env_remove("CREDSEAL_PASSPHRASE");
        c.env_remove("CREDSEAL_PKCS11_PIN");
        c.env("SOFTHSM2_CONF", &self.conf);
        c.env("CREDSEAL_PKCS11_PIN_FILE", &self.pin);
        c
    }

    fn run(&self, args: &[&str]) -> Output {
        self.bin().args(args).stdin(Stdio::null()).output().unwrap()
    }

    #[track_caller]
    fn ok(&self, args: &[&str]) -> Output {
        let o = self.run(args);
        assert_eq!(code(&o), 0, "{args:?}: {}", stderr(&o));
        o
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }

    /// `dev probe-copy` of `class` with this database and keystore: (exit, opened, not opened).
    fn probe(&self, db: &Path, keystore: &Path, class: &str) -> (i32, u64, u64, String) {
        let o = self.run(&[
            "dev",
            "probe-copy",
            "--db",
            &db.display().to_string(),
            "--keystore",
            &keystore.display().to_string(),
            "--class",
            class,
            "--json",
        ]);
        // The report is the first document; a failed probe's error document (exit 4) follows it.
        let v: serde_json::Value = serde_json::Deserializer::from_str(&stdout(&o))
            .into_iter::<serde_json::Value>()
            .next()
            .and_then(Result::ok)
            .unwrap_or_default();
        (
            code(&o),
            v["subjects_opened"].as_u64().unwrap_or(u64::MAX),
            v["subjects_not_opened"].as_u64().unwrap_or(u64::MAX),
            stderr(&o),
        )
    }

    /// Approvals of `op` by the two enrolled officers.
    fn approve(&self, keys: &[String], op: &str, n: &mut u32) -> Vec<String> {
        keys.iter()
            .map(|key| {
                *n += 1;
                let out = self.path(&format!("approval-{n}"));
                self.ok(&[
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

    /// The check in the child process (`hsm_child`) on the keystore `keystore`; `gone`: a
    /// KEK (`class:version`) whose token object must no longer exist.
    fn child(&self, keystore: &Path, gone: Option<&str>) -> String {
        let o = Command::new(std::env::current_exe().unwrap())
            .env("SOFTHSM2_CONF", &self.conf)
            .env(CHILD_ENV, keystore)
            .env(GONE_ENV, gone.unwrap_or(""))
            .env("CREDSEAL_SOFTHSM_MODULE", module().unwrap())
            .args(["--exact", "hsm_child", "--ignored", "--nocapture", "--test-threads=1"])
            .output()
            .unwrap();
        let out = String::from_utf8_lossy(&o.stdout).to_string();
        assert!(
            o.status.success(),
            "child failed:\n{out}\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        assert!(out.contains("hsm child checks passed"), "{out}");
        out
    }
}

fn with_approvals(args: &[&str], files: &[String]) -> Vec<String> {
    let mut v: Vec<String> = args.iter().map(|a| a.to_string()).collect();
    for f in files {
        v.push("--approval".into());
        v.push(f.clone());
    }
    v
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let dest = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), dest).unwrap();
        }
    }
}

/// A SoftHSM2 token in its own directory; `None` (with the reason printed) only when
/// SoftHSM2 is not installed.
fn token() -> Option<Hsm> {
    let Some(_) = module() else {
        eprintln!("SKIPPED: SoftHSM2 is not installed (run .ci/install-softhsm: apt-get install softhsm2)");
        return None;
    };
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens");
    std::fs::create_dir(&tokens).unwrap();
    let conf = dir.path().join("softhsm2.conf");
    std::fs::write(
        &conf,
        format!(
            "directories.tokendir = {}\nobjectstore.backend = file\nlog.level = ERROR\n",
            tokens.display()
        ),
    )
    .unwrap();
    let o = Command::new("softhsm2-util")
        .env("SOFTHSM2_CONF", &conf)
        .args([
            "--init-token",
            "--free",
            "--label",
            LABEL,
            "--so-pin",
            SO_PIN,
            "--pin",
            PIN,
        ])
        .output()
        .expect("softhsm2-util (run .ci/install-softhsm)");
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    let pin = dir.path().join("pin");
    std::fs::write(&pin, format!("{PIN}\n")).unwrap();
    let data = dir.path().join("data").display().to_string();
    Some(Hsm { dir, conf, pin, data })
}

#[test]
fn keys_in_a_token() {
    let Some(h) = token() else { return };
    let module = module().unwrap().display().to_string();
    let pin = h.pin.display().to_string();
    let data = h.data.clone();
    // The PIN is never an argument: there is no --pin.
    let o = h.run(&[
        "init",
        "--data",
        &data,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--pkcs11-module",
        &module,
        "--token-label",
        LABEL,
        "--pin",
        PIN,
    ]);
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A wrong PIN: refused, and the error carries no PIN.
    let wrong = h.path("wrong-pin");
    std::fs::write(&wrong, "not the pin").unwrap();
    let o = h.run(&[
        "init",
        "--data",
        &data,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--pkcs11-module",
        &module,
        "--token-label",
        LABEL,
        "--pin-file",
        &wrong,
    ]);
    assert_ne!(code(&o), 0);
    assert!(
        stderr(&o).contains("logging in") && !stderr(&o).contains("not the pin"),
        "{}",
        stderr(&o)
    );
    assert!(!Path::new(&data).join("credseal.toml").exists());
    let o = h.ok(&[
        "init",
        "--data",
        &data,
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--pkcs11-module",
        &module,
        "--token-label",
        LABEL,
        "--pin-file",
        &pin,
    ]);
    assert!(stdout(&o).contains("in the PKCS#11 token"), "{}", stdout(&o));
    let config = std::fs::read_to_string(Path::new(&data).join("credseal.toml")).unwrap();
    assert!(
        config.contains("[pkcs11]") && config.contains(LABEL) && !config.contains(PIN),
        "{config}"
    );
    let data_p = PathBuf::from(&data);
    let keystore = data_p.join(credseal_engine::KEYSTORE_FILE);
    let db = data_p.join(credseal_engine::DB_DIR);

    // Without the PIN nothing opens.
    let o = h
        .bin()
        .env_remove("CREDSEAL_PKCS11_PIN_FILE")
        .args(["keys", "status", "--data", &data])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("CREDSEAL_PKCS11_PIN"), "{}", stderr(&o));

    // There is no keystore passphrase to change in this mode.
    let o = h
        .bin()
        .env("CREDSEAL_NEW_PASSPHRASE", "a new passphrase, not a real one")
        .args(["keys", "passphrase", "--data", &data])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert_ne!(code(&o), 0);
    assert!(stderr(&o).contains("PKCS#11 token"), "{}", stderr(&o));

    // Ingest.
    h.ok(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        &data,
        RECORDS,
    ]);

    // A department's query, granted and opened.
    let auth = h.path("authority.key");
    h.ok(&["authority", "keygen", "--unencrypted", "--out", &auth]);
    h.ok(&["authority", "trust", "--data", &data, "--key", &format!("{auth}.pub")]);
    let bank = h.path("bank-a");
    h.ok(&["dept", "keygen", "--unencrypted", "--out-dir", &bank]);
    let cred = h.path("credential");
    h.ok(&[
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
    let tok = h.path("token");
    h.ok(&[
        "dept",
        "query",
        "--key",
        &format!("{bank}/signing.key"),
        "--credential",
        &cred,
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
        "--out",
        &tok,
    ]);
    let ans = h.path("answer");
    let o = h.ok(&[
        "query",
        "--data",
        &data,
        "--credential",
        &cred,
        "--token",
        &tok,
        "--out",
        &ans,
    ]);
    assert!(stdout(&o).contains("sealed answer to query"), "{}", stdout(&o));
    let log_key = h.path("log-key");
    std::fs::write(&log_key, stdout(&h.ok(&["log", "key", "--data", &data, "--current"]))).unwrap();
    let o = h.ok(&[
        "open",
        "--key",
        &format!("{bank}/sealing.key"),
        "--log-key",
        &log_key,
        "--token",
        &tok,
        &ans,
        "--json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert!(!v["records"].as_array().unwrap().is_empty(), "{v}");

    // Receipts and checkpoints signed in the token verify with the published key.
    h.ok(&["log", "verify", "--data", &data]);

    // The keystore is a manifest; the token keeps the keys (checked in the child).
    let bytes = std::fs::read(&keystore).unwrap();
    assert!(bytes.starts_with(b"CSKT"), "not a token manifest");
    let child = h.child(&keystore, None);
    assert!(child.contains("derived keys absent from the manifest"), "{child}");
    // The manifest is MAC'd in the token: an edited byte (here in the origin) is refused.
    let tampered = h.dir.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    std::fs::copy(data_p.join("credseal.toml"), tampered.join("credseal.toml")).unwrap();
    let mut bad = bytes.clone();
    bad[5 + 1 + LABEL.len() + 1 + 4] ^= 0x01;
    std::fs::write(tampered.join("keystore"), &bad).unwrap();
    let (c, _, _, e) = h.probe(&db, &tampered.join("keystore"), "loans");
    assert_ne!(c, 0, "{e}");
    assert!(e.contains("altered"), "{e}");

    // Two officers for the destructive operations.
    let mut officer_keys = Vec::new();
    for name in ["officer-a", "officer-b"] {
        let key = h.path(name);
        h.ok(&["officer", "keygen", "--unencrypted", "--out", &key]);
        let o = common::enroll_staff(
            &|a: &[&str]| h.run(a),
            h.dir.path(),
            &data,
            ORIGIN,
            Some(&auth),
            "officer",
            name,
            &format!("{key}.pub"),
        );
        assert_eq!(code(&o), 0, "{}", stderr(&o));
        officer_keys.push(key);
    }
    let mut n = 0;

    // A copy of the database and manifest from before the rotation opens its loans.
    let before = h.dir.path().join("before");
    copy_dir(&db, &before.join("db"));
    std::fs::copy(&keystore, before.join("keystore")).unwrap();
    // A manifest opens with the token its directory's configuration names.
    std::fs::copy(data_p.join("credseal.toml"), before.join("credseal.toml")).unwrap();
    let (c, opened, failed, e) = h.probe(&before.join("db"), &before.join("keystore"), "loans");
    assert_eq!(c, 0, "{e}");
    assert!(opened > 0 && failed == 0, "{opened} {failed} {e}");

    // Rotate (a new KEK in the token), rewrap (the root under it), retire v1 (destroyed).
    let o = h.ok(&["keys", "rotate", "--data", &data, "--class", "loans"]);
    assert!(stdout(&o).contains("v2"), "{}", stdout(&o));
    h.ok(&["keys", "rewrap", "--data", &data]);
    let files = h.approve(&officer_keys, "retire loans v1", &mut n);
    let args = with_approvals(
        &[
            "keys",
            "retire",
            "--data",
            &data,
            "--class",
            "loans",
            "--kek-version",
            "1",
        ],
        &files,
    );
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = h.ok(&refs);
    assert!(stdout(&o).contains("KEK v1 destroyed"), "{}", stdout(&o));

    // The earlier copy no longer opens: its root is wrapped only under the destroyed object.
    let (c, opened, failed, e) = h.probe(&before.join("db"), &before.join("keystore"), "loans");
    assert_eq!((c, opened), (4, 0), "{e}");
    assert!(failed > 0, "{e}");
    // The live platform still opens every loans data key, under v2.
    let (c, opened, failed, e) = h.probe(&db, &keystore, "loans");
    assert_eq!((c, failed), (0, 0), "{e}");
    assert!(opened > 0);

    // A credit-repair shred: a fresh KEK version, the old one destroyed.
    let order = h.path("order");
    h.ok(&[
        "authority",
        "order-shred",
        "--key",
        &auth,
        "--subject",
        SUBJECT,
        "--class",
        "loans",
        "--record",
        RECORD,
        "--ref",
        "CR-1",
        "--audience",
        ORIGIN,
        "--out",
        &order,
    ]);
    let files = h.approve(
        &officer_keys,
        &format!("shred {SUBJECT} loans {RECORD} order CR-1"),
        &mut n,
    );
    let args = with_approvals(&["shred", "--data", &data, "--order", &order], &files);
    let refs: Vec<&str> = args.iter().map(String::as_str).collect();
    let o = h.ok(&refs);
    assert!(
        stdout(&o).contains("1 record(s) of 1 subject(s) destroyed"),
        "{}",
        stdout(&o)
    );
    h.ok(&["check", "--data", &data]);
    h.ok(&["log", "verify", "--data", &data]);

    // Key-event receipts name token objects, never key bytes.
    // (The log's entries are public; the store holds them as written.)
    let needle = b"retire loans KEK v1: destroyed (token object ";
    let found = common::files_under(&db)
        .iter()
        .any(|f| std::fs::read(f).unwrap().windows(needle.len()).any(|w| w == needle));
    assert!(found, "no retire receipt naming the token object");

    // The manifest after all of it: still no key material (the child checks again).
    h.child(&keystore, None);
    // The manifest from before the retirement still names loans v1, whose object is gone from
    // the token: that is why the earlier copy no longer opens.
    let child = h.child(&before.join("keystore"), Some("loans:1"));
    assert!(child.contains("destroyed object absent"), "{child}");
}

/// Run by [`keys_in_a_token`] with the token's settings: opens the manifest with the token,
/// and checks that the keys the token derives are not in the file and the KEKs and the log
/// key cannot be read out of the token.
#[test]
#[ignore = "run by keys_in_a_token in a child process with a SoftHSM2 token"]
fn hsm_child() {
    let keystore = PathBuf::from(std::env::var(CHILD_ENV).expect("started by keys_in_a_token"));
    let module = PathBuf::from(std::env::var("CREDSEAL_SOFTHSM_MODULE").unwrap());
    let bytes = std::fs::read(&keystore).unwrap();
    let ks = credseal_engine::Platform::read_keystore(
        &keystore,
        &credseal_crypto::Passphrase::token_pin(PIN.into()),
        credseal_engine::OpenOptions::default(),
    )
    .unwrap();
    assert!(ks.token.is_some());
    let secrets: [&[u8; 32]; 3] = [
        ks.index_key.expose_secret(),
        ks.trace_key.expose_secret(),
        ks.vrf_key.expose_secret(),
    ];
    for s in secrets {
        assert!(!bytes.windows(32).any(|w| w == s), "a derived key is in the manifest");
    }
    println!("derived keys absent from the manifest");
    assert!(ks.log_seed().is_none());
    let gone = std::env::var(GONE_ENV).unwrap_or_default();
    let mut keks = Vec::new();
    let mut destroyed = None;
    for (class, c) in &ks.classes {
        for (v, e) in &c.versions {
            let credseal_crypto::KekKey::Token(id) = &e.kek else {
                panic!("KEK {class} v{v} is not in the token");
            };
            if format!("{class}:{v}") == gone {
                destroyed = Some(credseal_pkcs11::ObjectId(id.0));
            } else {
                keks.push(credseal_pkcs11::ObjectId(id.0));
            }
        }
    }
    assert_eq!(
        destroyed.is_some(),
        !gone.is_empty(),
        "the manifest names no KEK {gone}"
    );
    assert!(keks.len() + usize::from(destroyed.is_some()) >= ks.classes.len());
    let credseal_crypto::LogKey::Token { id, .. } = &ks.log_key else {
        panic!("the log key is not in the token");
    };
    let log = credseal_pkcs11::ObjectId(id.0);
    // One login per process: the keystore's session ends before this one starts.
    drop(ks);
    let t = credseal_pkcs11::Token::open(&module, LABEL, PIN).unwrap();
    for k in &keks {
        assert!(
            t.is_non_extractable(k, cryptoki::object::ObjectClass::SECRET_KEY)
                .unwrap()
        );
    }
    assert!(
        t.is_non_extractable(&log, cryptoki::object::ObjectClass::PRIVATE_KEY)
            .unwrap()
    );
    if let Some(d) = destroyed {
        assert!(matches!(
            t.is_non_extractable(&d, cryptoki::object::ObjectClass::SECRET_KEY),
            Err(credseal_pkcs11::HsmError::NoObject(_))
        ));
        println!("destroyed object absent");
    }
    println!("hsm child checks passed");
}
