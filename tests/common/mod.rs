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
                let o = run(&["authority", "keygen", "--unencrypted", "--out", &made]);
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

/// Enrols the provider key in `pubfile` as provider `id` for `classes` (comma-separated) on
/// the platform `data` (log origin `origin`): the authority (a signing-key file the platform
/// trusts) signs its provider credential (serial `serial`) into `dir`, and `provider enroll`
/// installs it. `run` runs the binary; returns the output of `provider enroll`.
#[allow(clippy::too_many_arguments)]
pub fn enroll_provider(
    run: &dyn Fn(&[&str]) -> Output,
    dir: &Path,
    data: &str,
    origin: &str,
    authority: &str,
    id: &str,
    pubfile: &str,
    classes: &str,
    serial: u64,
) -> Output {
    let cred = dir.join(format!("provider-{id}-{serial}.cred")).display().to_string();
    let _ = std::fs::remove_file(&cred);
    let o = run(&[
        "authority",
        "provider-credential",
        "--key",
        authority,
        "--serial",
        &serial.to_string(),
        "--provider",
        id,
        "--name",
        id,
        "--provider-key",
        pubfile,
        "--classes",
        classes,
        "--audience",
        origin,
        "--out",
        &cred,
    ]);
    assert_eq!(code(&o), 0, "{}", stderr(&o));
    run(&["provider", "enroll", "--data", data, "--credential", &cred])
}

/// One write of a forged write-ahead-log frame ([`inject_wal_frame`]): the store tree's tag
/// (see `credseal_store::Tree::tag`), the key, and `Some(value)` to put or `None` to delete.
pub type WalWrite<'a> = (u8, &'a [u8], Option<&'a [u8]>);

/// Appends a CRC-valid frame holding `writes` to the store's write-ahead log (`db/credseal.wal`),
/// as someone with write access to `db/` but no passphrase can: the next open applies it.
/// The frame's sequence number is far above any the store has applied.
pub fn inject_wal_frame(db: &Path, writes: &[WalWrite<'_>]) {
    use std::io::Write as _;
    let mut payload = Vec::new();
    for (tree, key, value) in writes {
        payload.push(if value.is_some() { 1 } else { 2 });
        payload.push(*tree);
        payload.extend_from_slice(&(key.len() as u32).to_le_bytes());
        payload.extend_from_slice(key);
        if let Some(v) = value {
            payload.extend_from_slice(&(v.len() as u32).to_le_bytes());
            payload.extend_from_slice(v);
        }
    }
    let mut frame = (payload.len() as u32).to_le_bytes().to_vec();
    frame.extend_from_slice(&(u64::MAX >> 2).to_le_bytes());
    frame.extend_from_slice(&payload);
    let crc = crc32_ieee(&frame);
    frame.extend_from_slice(&crc.to_le_bytes());
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(db.join("credseal.wal"))
        .unwrap();
    f.write_all(&frame).unwrap();
}

/// CRC-32 (IEEE 802.3, the zlib one), bit by bit.
fn crc32_ieee(data: &[u8]) -> u32 {
    let mut crc = !0u32;
    for &b in data {
        crc ^= u32::from(b);
        for _ in 0..8 {
            crc = if crc & 1 != 0 {
                (crc >> 1) ^ 0xEDB8_8320
            } else {
                crc >> 1
            };
        }
    }
    !crc
}

/// Nothing of a result on stdout: it is empty, or (under `--json`) it holds exactly one
/// `credseal/error/v1` document whose exit code is the process's (docs/json.md).
#[allow(dead_code)]
pub fn no_result(o: &Output) -> bool {
    if o.stdout.is_empty() {
        return true;
    }
    let text = String::from_utf8_lossy(&o.stdout);
    let mut docs = serde_json::Deserializer::from_str(&text).into_iter::<serde_json::Value>();
    let Some(Ok(doc)) = docs.next() else {
        return false;
    };
    docs.next().is_none()
        && doc["schema"] == "credseal/error/v1"
        && doc["exit_code"].as_i64() == Some(i64::from(code(o)))
        && doc.as_object().is_some_and(|m| m.len() == 7 && m["version"] == 1)
}
