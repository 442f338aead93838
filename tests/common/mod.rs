//! Helpers shared by the end-to-end tests.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::process::Output;

/// A finished command's exit code (panics if a signal ended it).
pub fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// A finished command's standard error, as text.
pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// A finished command's standard output, as text.
pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Every file under `dir`, recursively.
pub fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let e = e.unwrap();
            if e.file_type().unwrap().is_dir() {
                stack.push(e.path());
            } else {
                out.push(e.path());
            }
        }
    }
    out
}

/// Every subject id, record id and field value of 6+ bytes of a JSON Lines records file
/// (shorter ones, like "true" or "A", occur by chance in any random bytes), excluding values
/// that the public catalogue itself spells out (enum values).
pub fn plaintext_needles(records: &str, catalog: &str) -> Vec<Vec<u8>> {
    let mut needles: Vec<Vec<u8>> = Vec::new();
    for line in records.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        needles.push(v["subject"].as_str().unwrap().as_bytes().to_vec());
        needles.push(v["record_id"].as_str().unwrap().as_bytes().to_vec());
        for val in v["fields"].as_object().unwrap().values() {
            let s = match val {
                serde_json::Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            if s.len() >= 6 && !catalog.contains(&s) {
                needles.push(s.into_bytes());
            }
        }
    }
    needles.sort();
    needles.dedup();
    needles
}

/// Scans every byte of every file under `data` for every needle; returns the bytes scanned.
pub fn assert_no_plaintext(data: &Path, needles: &[Vec<u8>]) -> usize {
    let files = files_under(data);
    assert!(files.len() >= 4);
    let mut scanned = 0;
    for f in files {
        let bytes = std::fs::read(&f).unwrap();
        scanned += bytes.len();
        for n in needles {
            assert!(
                !bytes.windows(n.len()).any(|w| w == &n[..]),
                "{} holds plaintext {:?}",
                f.display(),
                String::from_utf8_lossy(n)
            );
        }
    }
    scanned
}

/// Enrols the staff key in `pubfile` as `id` in `role` on the platform `data` (log origin
/// `origin`) as the two-person rule requires, with the authority's staff order: signed by
/// `authority` (a signing-key file the platform trusts), or, with `None`, by a fresh
/// authority key made in `dir` and trusted first (for a platform that trusts none yet).
/// `run` runs the binary; returns the output of `staff enroll`.
#[allow(clippy::too_many_arguments)]
pub fn enroll_staff(
    run: &dyn Fn(&[&str]) -> Output,
    dir: &Path,
    data: &str,
    origin: &str,
    authority: Option<&str>,
    role: &str,
    id: &str,
    pubfile: &str,
) -> Output {
    let made = dir.join("staff-authority.key").display().to_string();
    let authority = match authority {
        Some(a) => a.to_string(),
        None => {
            if !Path::new(&made).exists() {
                let o = run(&["authority", "keygen", "--out", &made]);
                assert_eq!(code(&o), 0, "{}", stderr(&o));
                let o = run(&["authority", "trust", "--data", data, "--key", &format!("{made}.pub")]);
                assert_eq!(code(&o), 0, "{}", stderr(&o));
            }
            made
        }
    };
    let pk = credseal_auth::PublicKey::from_text(std::fs::read_to_string(pubfile).unwrap().trim()).unwrap();
    let role_v = credseal_engine::StaffRole::parse(role).unwrap();
    let op = credseal_engine::Operation::enroll_staff(role_v, id, pk.as_bytes());
    let order = dir
        .join(format!("staff-order-{role}-{id}-{}", std::process::id()))
        .display()
        .to_string();
    let _ = std::fs::remove_file(&order);
    let o = run(&[
        "staff",
        "order",
        "--key",
        &authority,
        "--operation",
        op.text(),
        "--audience",
        origin,
        "--out",
        &order,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    run(&[
        "staff", "enroll", "--data", data, "--role", role, "--id", id, "--key", pubfile, "--order", &order,
    ])
}
