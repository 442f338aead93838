//! Crash test of `credseal keys rewrap`: on a platform of synthetic subjects, a
//! rewrap is killed with SIGKILL at a random moment, trial after trial, and resumed by the
//! next trial. When a trial finds nothing left to rewrap it rotates the class again, so
//! every trial interrupts real work. After each kill:
//!
//! - `credseal keys status --json` counts every data key of the class exactly once (the
//!   counters move with the keys in one atomic batch);
//! - `credseal check` opens every data key and record (CI size; at full size only at the end).
//!
//! At the end a rewrap runs to completion: no data key is left under an older version,
//! every old version is retired (refused before, accepted now), and every record reads back
//! identical to what was ingested (a digest over all of them, through the library).
//!
//! Size: 1,000 subjects and 20 trials; `CREDSEAL_FULL=1` runs the 100,000 subjects
//! (`cargo test --release -p credseal-cli --test crash_rewrap` is advised). Kill moments
//! come from a PRNG seeded by `CREDSEAL_CRASH_SEED` (default 0), printed with any failure.

mod common;

use std::path::Path;
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use credseal_core::Catalog;
use credseal_crypto::Passphrase;

const CATALOG: &str = "../../keys-example/catalog.toml";
const PASS: &str = "test passphrase, not a real one";
const CLASS: &str = "loans";

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c.env_remove("CREDSEAL_DATA");
    c.env("CREDSEAL_PASSPHRASE", PASS);
    c
}

#[track_caller]
fn ok(args: &[&str]) -> Output {
    let o = bin().args(args).stdin(Stdio::null()).output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(0),
        "{args:?}: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    o
}

/// splitmix64.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }
}

/// (version, data keys, primary) of the class.
fn status(data: &str) -> Vec<(u64, u64, bool)> {
    let o = ok(&["keys", "status", "--data", data, "--json"]);
    let v: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let c = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["class"] == CLASS)
        .unwrap()
        .clone();
    c["versions"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| {
            (
                x["version"].as_u64().unwrap(),
                x["data_keys"].as_u64().unwrap(),
                x["primary"].as_bool().unwrap(),
            )
        })
        .collect()
}

/// A digest of every record of every subject (its plaintext, by place), read from the
/// closed platform's files: the keystore opened with the passphrase, the database with
/// `credseal_store` (the platform itself has no accessor that decrypts without a receipt).
fn digest(data: &str, subjects: u64, catalog: &Catalog) -> [u8; 32] {
    use credseal_crypto::RecordContext;
    use credseal_store::{Store, Tree};
    use std::sync::Arc;
    let data = Path::new(data);
    let ks_bytes = std::fs::read(data.join(credseal_engine::KEYSTORE_FILE)).unwrap();
    let ks = credseal_crypto::Keystore::open(&ks_bytes, &Passphrase::new(PASS.into())).unwrap();
    let store: Arc<dyn Store> =
        Arc::new(credseal_store::SledStore::open(&data.join(credseal_engine::DB_DIR), false).unwrap());
    let mut all = Vec::new();
    for i in 0..subjects {
        let id = credseal_testkit::synthetic::synthetic_subject(i);
        let blind = *ks.vrf_key.prove_subject(&id).unwrap().blind();
        let Some(v) = store
            .get(Tree::Records, &credseal_engine::layout::subject_key(&blind))
            .unwrap()
        else {
            continue;
        };
        let recs = credseal_engine::bundle::SubjectRecords::decode(&v).unwrap();
        for (class, b) in &recs.classes {
            assert!(catalog.class(class).is_some(), "{class}");
            let dek = credseal_engine::open_data_key(Arc::clone(&store), &ks, &blind, class, &b.wrapped_dek).unwrap();
            let mut entries: Vec<_> = b.entries.iter().collect();
            entries.sort_by_key(|e| (e.rkey, e.version));
            for e in entries {
                let ctx = RecordContext {
                    blind: &blind,
                    class,
                    record_key: &e.rkey,
                    version: e.version,
                };
                let pt = credseal_crypto::open_record(&dek, &ctx, &e.sealed).unwrap();
                all.extend_from_slice(class.as_bytes());
                all.extend_from_slice(&e.rkey);
                all.extend_from_slice(&e.version.to_be_bytes());
                all.extend_from_slice(&pt);
            }
        }
    }
    credseal_crypto::sha256(&all)
}

#[test]
fn rewrap_killed_at_random_moments_resumes_and_loses_nothing() {
    let full = std::env::var("CREDSEAL_FULL").is_ok_and(|v| v == "1");
    let subjects: u64 = if full { 100_000 } else { 1_000 };
    let trials: u64 = std::env::var("CREDSEAL_CRASH_TRIALS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(20);
    let seed: u64 = std::env::var("CREDSEAL_CRASH_SEED")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(0);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data").display().to_string();
    let catalog_text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(CATALOG)).unwrap();
    let catalog = Catalog::parse(&catalog_text, None).unwrap();
    let input = dir.path().join("in.jsonl");
    let mut f = std::io::BufWriter::new(std::fs::File::create(&input).unwrap());
    credseal_testkit::synthetic::write_synthetic(&catalog, subjects, &mut f).unwrap();
    drop(f);
    ok(&[
        "init",
        "--data",
        &data,
        "--catalog",
        CATALOG,
        "--origin",
        "crash.credseal.invalid/log",
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
        &input.display().to_string(),
    ]);
    let before = digest(&data, subjects, &catalog);
    let keys: u64 = status(&data).iter().map(|s| s.1).sum();
    assert!(keys > 0);

    // How long a whole rewrap takes here, to spread the kills over it.
    ok(&["keys", "rotate", "--data", &data, "--class", CLASS]);
    let t = Instant::now();
    ok(&["keys", "rewrap", "--data", &data]);
    let whole = t.elapsed().as_millis().max(50) as u64;
    let mut rng = Rng(seed);
    let mut killed = 0;
    for trial in 0..trials {
        let st = status(&data);
        if st.iter().all(|(_, n, primary)| *primary || *n == 0) {
            ok(&["keys", "rotate", "--data", &data, "--class", CLASS]);
        }
        // Opening the store and the keystore takes part of the time; kill anywhere in it.
        let at = rng.next() % (whole + whole / 2);
        let mut child = bin()
            .args(["keys", "rewrap", "--data", &data])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        std::thread::sleep(Duration::from_millis(at));
        if child.try_wait().unwrap().is_none() {
            child.kill().unwrap();
            killed += 1;
        }
        let _ = child.wait().unwrap();
        let st = status(&data);
        let sum: u64 = st.iter().map(|s| s.1).sum();
        assert_eq!(
            sum, keys,
            "trial {trial} (seed {seed}, kill at {at} ms): counters {st:?} do not add up to {keys}"
        );
        if !full {
            let o = bin().args(["check", "--data", &data]).output().unwrap();
            assert_eq!(
                o.status.code(),
                Some(0),
                "trial {trial} (seed {seed}, kill at {at} ms): {}",
                String::from_utf8_lossy(&o.stderr)
            );
        }
    }
    println!("{trials} trials, {killed} rewraps killed part-way (a whole rewrap took {whole} ms)");
    assert!(killed > 0, "no trial interrupted a rewrap");

    // Finish, then retire every old version (two officers approve each).
    ok(&["keys", "rewrap", "--data", &data]);
    let mut officers = Vec::new();
    for name in ["officer-a", "officer-b"] {
        let key = dir.path().join(name).display().to_string();
        ok(&["officer", "keygen", "--unencrypted", "--out", &key]);
        let o = common::enroll_staff(
            &|a: &[&str]| ok(a),
            dir.path(),
            &data,
            "crash.credseal.invalid/log",
            None,
            "officer",
            name,
            &format!("{key}.pub"),
        );
        assert_eq!(common::code(&o), 0, "{}", common::stderr(&o));
        officers.push(key);
    }
    let st = status(&data);
    for (v, n, primary) in &st {
        if !primary {
            assert_eq!(*n, 0, "v{v} still has data keys: {st:?}");
            let v = v.to_string();
            let mut args = vec!["keys", "retire", "--data", &data, "--class", CLASS, "--kek-version", &v];
            let files: Vec<String> = officers
                .iter()
                .enumerate()
                .map(|(i, key)| {
                    let out = dir.path().join(format!("approval-{v}-{i}")).display().to_string();
                    ok(&[
                        "officer",
                        "approve",
                        "--key",
                        key,
                        "--operation",
                        &format!("retire {CLASS} v{v}"),
                        "--audience",
                        "crash.credseal.invalid/log",
                        "--out",
                        &out,
                    ]);
                    out
                })
                .collect();
            for f in &files {
                args.extend(["--approval", f.as_str()]);
            }
            ok(&args);
        }
    }
    let st = status(&data);
    assert_eq!(st.len(), 1, "{st:?}");
    assert_eq!(st[0].1, keys, "{st:?}");
    ok(&["check", "--data", &data]);
    assert_eq!(digest(&data, subjects, &catalog), before, "records changed");
    ok(&["log", "verify", "--data", &data]);
}
