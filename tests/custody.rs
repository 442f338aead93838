//! Key custody through the real binary: role keys encrypted at rest by default,
//! `keys passphrase`, and the M-of-N unseal of the keystore's master key.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use common::{code, stderr, stdout};

const CATALOG: &str = "../../keys-example/catalog.toml";
const RECORDS: &str = "../../keys-example/records.jsonl";
const PASS: &str = "test passphrase, not a real one";
const KEY_PASS: &str = "test key passphrase, not a real one";
const ORIGIN: &str = "test.credseal.invalid/log";

/// The binary with none of the passphrase variables set.
fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_credseal"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    for v in [
        "CREDSEAL_PASSPHRASE",
        "CREDSEAL_KEY_PASSPHRASE",
        "CREDSEAL_NEW_PASSPHRASE",
        "CREDSEAL_UNSEAL",
        "CREDSEAL_DATA",
    ] {
        c.env_remove(v);
    }
    c
}

fn with(env: &[(&str, &str)], args: &[&str]) -> Output {
    let mut c = bin();
    for (k, v) in env {
        c.env(k, v);
    }
    c.args(args).output().unwrap()
}

fn run(args: &[&str]) -> Output {
    with(&[("CREDSEAL_PASSPHRASE", PASS)], args)
}

fn ok(o: &Output) {
    assert_eq!(code(o), 0, "stdout: {}\nstderr: {}", stdout(o), stderr(o));
}

fn s(p: &Path) -> String {
    p.display().to_string()
}

fn init(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    ok(&run(&[
        "init",
        "--data",
        &s(&data),
        "--catalog",
        CATALOG,
        "--origin",
        ORIGIN,
        "--kdf-mib",
        "8",
        "--kdf-passes",
        "1",
    ]));
    data
}

/// `authority enroll` signs a credential with the authority's key: a use of a signing key
/// file that needs no platform.
fn enroll_args<'a>(key: &'a str, dept_dir: &'a str, out: &'a str) -> Vec<String> {
    [
        "authority",
        "enroll",
        "--key",
        key,
        "--serial",
        "1001",
        "--department",
        "bank-a",
        "--name",
        "Bank A",
        "--signing-key",
        &format!("{dept_dir}/signing.pub"),
        "--sealing-key",
        &format!("{dept_dir}/sealing.pub"),
        "--classes",
        "identity",
        "--purposes",
        "loan-approval",
        "--audience",
        ORIGIN,
        "--out",
        out,
    ]
    .iter()
    .map(|a| a.to_string())
    .collect()
}

fn args(v: &[String]) -> Vec<&str> {
    v.iter().map(String::as_str).collect()
}

#[test]
fn role_keys_are_encrypted_by_default() {
    let dir = tempfile::tempdir().unwrap();
    let key = s(&dir.path().join("authority.key"));
    let bank = s(&dir.path().join("bank-a"));
    let kp = [("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)];
    ok(&with(&kp, &["authority", "keygen", "--out", &key]));
    ok(&with(&kp, &["dept", "keygen", "--out-dir", &bank]));
    ok(&with(
        &kp,
        &["officer", "keygen", "--out", &s(&dir.path().join("officer.key"))],
    ));
    ok(&with(
        &kp,
        &["subject", "keygen", "--out-dir", &s(&dir.path().join("subj"))],
    ));
    // Every secret key file is one encrypted line: no key text, no key bytes in the clear.
    for f in [
        key.clone(),
        format!("{bank}/signing.key"),
        format!("{bank}/sealing.key"),
        s(&dir.path().join("officer.key")),
        s(&dir.path().join("subj/signing.key")),
        s(&dir.path().join("subj/sealing.key")),
    ] {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(text.starts_with("cs1.encrypted-key."), "{f}: {text}");
        assert!(!text.contains("signing-key") && !text.contains("sealing-key"), "{f}");
        use std::os::unix::fs::PermissionsExt as _;
        assert_eq!(
            std::fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600,
            "{f}"
        );
    }
    // The public halves stay plain.
    assert!(
        std::fs::read_to_string(format!("{key}.pub"))
            .unwrap()
            .starts_with("cs1.public-key.")
    );

    // With the passphrase, the key signs.
    let cred = s(&dir.path().join("bank-a.cred"));
    ok(&with(&kp, &args(&enroll_args(&key, &bank, &cred))));
    assert!(std::fs::read_to_string(&cred).unwrap().starts_with("cs1."));

    // A wrong passphrase: exit 1, the file named, nothing signed, no key text in the error.
    let cred2 = s(&dir.path().join("other.cred"));
    let o = with(
        &[("CREDSEAL_KEY_PASSPHRASE", "not it")],
        &args(&enroll_args(&key, &bank, &cred2)),
    );
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrong passphrase for this key file"),
        "{}",
        stderr(&o)
    );
    assert!(stderr(&o).contains("authority.key"), "{}", stderr(&o));
    assert!(!Path::new(&cred2).exists());

    // No passphrase and no terminal: says where the passphrase comes from.
    let o = with(&[], &args(&enroll_args(&key, &bank, &cred2)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("is encrypted") && stderr(&o).contains("CREDSEAL_KEY_PASSPHRASE"),
        "{}",
        stderr(&o)
    );
}

#[test]
fn keygen_without_a_key_passphrase_says_how_and_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let key = dir.path().join("authority.key");
    let o = with(&[], &["authority", "keygen", "--out", &s(&key)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("--unencrypted") && stderr(&o).contains("CREDSEAL_KEY_PASSPHRASE"),
        "{}",
        stderr(&o)
    );
    assert!(!key.exists() && !dir.path().join("authority.key.pub").exists());
    let bank = dir.path().join("bank");
    let o = with(&[], &["dept", "keygen", "--out-dir", &s(&bank)]);
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(!bank.join("signing.key").exists() && !bank.join("sealing.key").exists());
}

#[test]
fn unencrypted_is_explicit_and_plain_key_files_still_read() {
    let dir = tempfile::tempdir().unwrap();
    let key = s(&dir.path().join("authority.key"));
    let bank = s(&dir.path().join("bank-a"));
    ok(&with(&[], &["authority", "keygen", "--unencrypted", "--out", &key]));
    ok(&with(&[], &["dept", "keygen", "--unencrypted", "--out-dir", &bank]));
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("cs1.signing-key."));
    // A plain key file (as every key file was before) is used without any key passphrase.
    let cred = s(&dir.path().join("bank-a.cred"));
    ok(&with(&[], &args(&enroll_args(&key, &bank, &cred))));
}

#[test]
fn keys_passphrase_changes_it_and_the_old_file_is_a_rollback() {
    let dir = tempfile::tempdir().unwrap();
    let data = init(dir.path());
    let d = s(&data);
    let ks = data.join("keystore");
    let before = std::fs::read(&ks).unwrap();
    let names = |p: &Path| {
        let mut v: Vec<String> = std::fs::read_dir(p)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        v.sort();
        v
    };
    let files_before = names(&data);

    // The same passphrase again: nothing to change (exit 2), the file untouched.
    let o = with(
        &[("CREDSEAL_PASSPHRASE", PASS), ("CREDSEAL_NEW_PASSPHRASE", PASS)],
        &["keys", "passphrase", "--data", &d],
    );
    assert_eq!(code(&o), 2, "{}", stderr(&o));
    // A wrong current passphrase: refused (exit 4, as for every command), the file untouched.
    let o = with(
        &[
            ("CREDSEAL_PASSPHRASE", "not it"),
            ("CREDSEAL_NEW_PASSPHRASE", "new one"),
        ],
        &["keys", "passphrase", "--data", &d],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    assert_eq!(std::fs::read(&ks).unwrap(), before);

    let new = "the new test passphrase";
    let o = with(
        &[("CREDSEAL_PASSPHRASE", PASS), ("CREDSEAL_NEW_PASSPHRASE", new)],
        &["keys", "passphrase", "--data", &d],
    );
    ok(&o);
    assert!(!stderr(&o).contains(new) && !stdout(&o).contains(new));
    // Replaced whole: no temporary file left beside it, mode 0600.
    assert_eq!(names(&data), files_before);
    use std::os::unix::fs::PermissionsExt as _;
    assert_eq!(std::fs::metadata(&ks).unwrap().permissions().mode() & 0o777, 0o600);

    // The old passphrase no longer opens it; the new one does.
    let o = run(&["keys", "status", "--data", &d]);
    assert_eq!(code(&o), 4);
    assert!(stderr(&o).contains("wrong passphrase"), "{}", stderr(&o));
    ok(&with(
        &[("CREDSEAL_PASSPHRASE", new)],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &d,
            RECORDS,
        ],
    ));

    // The change was a key event: putting the old file (old passphrase) back is a rollback.
    std::fs::write(&ks, &before).unwrap();
    let o = run(&["keys", "status", "--data", &d]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("rollback"), "{}", stderr(&o));
}

/// Three officers' unseal keys (`officer unseal-keygen`) in `dir`: a and c unencrypted, b
/// encrypted under the key passphrase.
fn unseal_keys(dir: &Path, names: &[&str]) -> Vec<String> {
    names
        .iter()
        .map(|n| {
            let key = s(&dir.join(format!("{n}.unseal")));
            if *n == "b" {
                ok(&with(
                    &[("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)],
                    &["officer", "unseal-keygen", "--out", &key],
                ));
            } else {
                ok(&with(
                    &[],
                    &["officer", "unseal-keygen", "--unencrypted", "--out", &key],
                ));
            }
            key
        })
        .collect()
}

/// A platform whose keystore is in the custody of a, b and c, 2 of 3.
fn init_shared(dir: &Path, keys: &[String]) -> String {
    let data = s(&dir.join("data"));
    let mut a = vec![
        "init".to_string(),
        "--data".into(),
        data.clone(),
        "--catalog".into(),
        CATALOG.into(),
        "--origin".into(),
        ORIGIN.into(),
        "--unseal-threshold".into(),
        "2".into(),
    ];
    for (n, k) in ["a", "b", "c"].iter().zip(keys) {
        a.push("--unseal-holder".into());
        a.push(format!("{n}={k}.pub"));
    }
    // No keystore passphrase anywhere.
    let o = with(&[], &args(&a));
    ok(&o);
    assert!(stderr(&o).contains("2 of the 3 holders"), "{}", stderr(&o));
    // What to keep safe is the officers' unseal keys: there is no passphrase.
    assert!(
        stdout(&o).contains("the 3 officers keep their unseal keys safe") && !stdout(&o).contains("passphrase"),
        "{}",
        stdout(&o)
    );
    data
}

fn unsealed(files: &[&str], a: &[&str]) -> Output {
    let joined = files.join(":");
    with(
        &[("CREDSEAL_UNSEAL", &joined), ("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)],
        a,
    )
}

#[test]
fn m_of_n_unseal_k_minus_1_shares_fail_k_succeed() {
    let dir = tempfile::tempdir().unwrap();
    let keys = unseal_keys(dir.path(), &["a", "b", "c"]);
    let data = init_shared(dir.path(), &keys);

    // No shares: says how many of whose are needed; a passphrase does not stand in.
    let o = run(&[
        "ingest",
        "--operator-import",
        "--officer",
        "op-import",
        "--data",
        &data,
        RECORDS,
    ]);
    // Exit 4, as for K − 1 shares: zero shares are fewer than K too.
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("2 of their shares are needed"), "{}", stderr(&o));
    assert!(
        stderr(&o).contains("a, b, c") && stderr(&o).contains("--unseal"),
        "{}",
        stderr(&o)
    );

    // K − 1 = 1 share: refused, clearly (exit 4), nothing ingested.
    let o = unsealed(
        &[&keys[0]],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 of the 2 shares needed"), "{}", stderr(&o));
    // The same share twice is still one share.
    let o = unsealed(
        &[&keys[0], &keys[0]],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 of the 2 shares needed"), "{}", stderr(&o));

    // K = 2 shares, any two (b's key is encrypted: opened with the key passphrase).
    ok(&unsealed(
        &[&keys[0], &keys[2]],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ],
    ));
    let o = unsealed(&[&keys[1], &keys[2]], &["unseal", "--data", &data]);
    ok(&o);
    assert!(
        stdout(&o).contains("unsealed: 2 of 3 shares of epoch 1"),
        "{}",
        stdout(&o)
    );
    // The flag form works as the variable does.
    ok(&with(
        &[],
        &[
            "keys", "status", "--data", &data, "--unseal", &keys[0], "--unseal", &keys[2],
        ],
    ));

    // An officer opens their own share and hands it over: it counts like their key.
    let share = s(&dir.path().join("b.share"));
    ok(&with(
        &[("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)],
        &[
            "keys",
            "share-open",
            "--data",
            &data,
            "--key",
            &keys[1],
            "--out",
            &share,
        ],
    ));
    assert!(
        std::fs::read_to_string(&share)
            .unwrap()
            .starts_with("cs1.unseal-share.")
    );
    ok(&unsealed(&[&share, &keys[0]], &["keys", "status", "--data", &data]));

    // A stranger's sealing key holds no share.
    let stranger = unseal_keys(dir.path(), &["z"]);
    let o = unsealed(&[&keys[0], &stranger[0]], &["keys", "status", "--data", &data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("holds no share"), "{}", stderr(&o));

    // The keystore file holds no key of the officers and no passphrase-derived header.
    let ks = std::fs::read(dir.path().join("data/keystore")).unwrap();
    assert_eq!(ks[5], 2, "KDF byte: shares");

    // `serve` starts only with K shares: with one it stops before binding anything...
    let serve = [
        "serve",
        "--data",
        data.as_str(),
        "--listen",
        "127.0.0.1:0",
        "--insecure-loopback",
    ];
    let o = unsealed(&[&keys[0]], &serve);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 of the 2 shares needed") && !stderr(&o).contains("serving"));
    // ...with two it serves (on loopback; stopped here after it says so, at most 60 s).
    let mut c = bin();
    c.env("CREDSEAL_UNSEAL", format!("{}:{}", keys[0], keys[2]))
        .args(serve)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped());
    let mut child = c.spawn().unwrap();
    let err = child.stderr.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        use std::io::BufRead as _;
        for line in std::io::BufReader::new(err).lines().map_while(Result::ok) {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    let mut served = false;
    while let Ok(line) = rx.recv_timeout(std::time::Duration::from_secs(60)) {
        if line.contains("serving http://127.0.0.1:") {
            served = true;
            break;
        }
    }
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(served, "serve with K shares did not start");
}

#[test]
fn reshare_removes_an_officer_whose_old_share_no_longer_counts() {
    let dir = tempfile::tempdir().unwrap();
    let keys = unseal_keys(dir.path(), &["a", "b", "c"]);
    let data = init_shared(dir.path(), &keys);
    ok(&unsealed(
        &[&keys[0], &keys[2]],
        &[
            "ingest",
            "--operator-import",
            "--officer",
            "op-import",
            "--data",
            &data,
            RECORDS,
        ],
    ));
    // a opens her share of epoch 1 too (she stays; the copy outlives the reshare).
    let a_share = s(&dir.path().join("a.share"));
    ok(&with(
        &[],
        &[
            "keys",
            "share-open",
            "--data",
            &data,
            "--key",
            &keys[0],
            "--out",
            &a_share,
        ],
    ));
    // b opens her share of epoch 1 before she leaves, and keeps it.
    let b_share = s(&dir.path().join("b.share"));
    ok(&with(
        &[("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)],
        &[
            "keys",
            "share-open",
            "--data",
            &data,
            "--key",
            &keys[1],
            "--out",
            &b_share,
        ],
    ));
    let before = std::fs::read(dir.path().join("data/keystore")).unwrap();
    let d = unseal_keys(dir.path(), &["d"]);

    // K − 1 shares cannot reshare.
    let o = unsealed(
        &[&keys[0]],
        &[
            "keys",
            "reshare",
            "--data",
            &data,
            "--holder",
            &format!("a={}.pub", keys[0]),
            "--holder",
            &format!("c={}.pub", keys[2]),
            "--threshold",
            "2",
        ],
    );
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("1 of the 2 shares needed"), "{}", stderr(&o));

    // a and c deal the master key to a, c and d, 2 of 3: b is out.
    let o = unsealed(
        &[&keys[0], &keys[2]],
        &[
            "keys",
            "reshare",
            "--data",
            &data,
            "--holder",
            &format!("a={}.pub", keys[0]),
            "--holder",
            &format!("c={}.pub", keys[2]),
            "--holder",
            &format!("d={}.pub", d[0]),
            "--threshold",
            "2",
        ],
    );
    ok(&o);
    assert!(stdout(&o).contains("epoch 2"), "{}", stdout(&o));

    // b's key holds no share any more, and her opened share of epoch 1 no longer counts.
    let o = unsealed(&[&keys[0], &keys[1]], &["keys", "status", "--data", &data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("holds no share of this keystore's epoch 2"),
        "{}",
        stderr(&o)
    );
    let o = unsealed(&[&keys[0], &b_share], &["keys", "status", "--data", &data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("epoch 1") && stderr(&o).contains("no longer counts"),
        "{}",
        stderr(&o)
    );

    // The new set unseals, with the same keys: the records ingested before are still there.
    let o = unsealed(&[&keys[2], &d[0]], &["keys", "status", "--data", &data, "--json"]);
    ok(&o);
    let v: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    let data_keys: u64 = v["classes"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["versions"].as_array().unwrap())
        .map(|ver| ver["data_keys"].as_u64().unwrap())
        .sum();
    assert!(data_keys > 0, "{v}");
    // ...and they open under the same KEKs: a rotation then a rewrap unwraps every data key
    // of the class with KEK v1 from before the reshare.
    ok(&unsealed(
        &[&keys[0], &d[0]],
        &["keys", "rotate", "--data", &data, "--class", "loans"],
    ));
    let o = unsealed(&[&keys[0], &d[0]], &["keys", "rewrap", "--data", &data, "--json"]);
    ok(&o);
    let r: serde_json::Value = serde_json::from_str(&stdout(&o)).unwrap();
    assert!(r["rewrapped"].as_u64().unwrap() > 0, "{r}");

    // F1 of the custody review: b, with a's old share and an old copy of the file, puts
    // together the old master key. Give it the current file with the old share set spliced
    // into its header (salt, check, nonce and body of the current file): the key the old
    // shares give does not even pass the current file's key check ("wrong", not "altered"),
    // because the reshare sealed the body under a new master key. (Had it kept the master
    // key, the check would match and only the spliced header would fail the tag — and the
    // old master key would open the current body.)
    let now = std::fs::read(dir.path().join("data/keystore")).unwrap();
    let set_len = |f: &[u8]| u32::from_be_bytes(f[6..10].try_into().unwrap()) as usize;
    let (n_old, n_now) = (set_len(&before), set_len(&now));
    let mut spliced = before[..10 + n_old].to_vec();
    spliced.extend_from_slice(&now[10 + n_now..]);
    std::fs::write(dir.path().join("data/keystore"), &spliced).unwrap();
    let o = unsealed(&[&a_share, &b_share], &["keys", "status", "--data", &data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrong passphrase") && !stderr(&o).contains("altered"),
        "{}",
        stderr(&o)
    );
    std::fs::write(dir.path().join("data/keystore"), &now).unwrap();

    // The file before the reshare is a rollback now, even with epoch 1's shares.
    std::fs::write(dir.path().join("data/keystore"), &before).unwrap();
    let o = unsealed(&[&keys[0], &b_share], &["keys", "status", "--data", &data]);
    assert_eq!(code(&o), 4, "{}", stderr(&o));
    assert!(stderr(&o).contains("rollback"), "{}", stderr(&o));
}

/// F3 of the custody review: `receipts request` reads the subject's signing key through the
/// decrypting reader, as every other command that takes a role key does (subject keys are
/// encrypted by default).
#[test]
fn receipts_request_takes_an_encrypted_subject_key() {
    let dir = tempfile::tempdir().unwrap();
    let subj = s(&dir.path().join("subj"));
    let kp = [("CREDSEAL_KEY_PASSPHRASE", KEY_PASS)];
    ok(&with(&kp, &["subject", "keygen", "--out-dir", &subj]));
    let key = format!("{subj}/signing.key");
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("cs1.encrypted-key."));
    let request = |out: &str| {
        [
            "receipts",
            "request",
            "--key",
            &key,
            "--subject",
            "42010619960510907X",
            "--audience",
            ORIGIN,
            "--out",
            out,
        ]
        .iter()
        .map(|a| a.to_string())
        .collect::<Vec<String>>()
    };

    // With the key passphrase: the request is signed and written.
    let req = s(&dir.path().join("req"));
    let o = with(&kp, &args(&request(&req)));
    ok(&o);
    assert!(std::fs::read_to_string(&req).unwrap().starts_with("cs1."));

    // A wrong key passphrase: exit 1, the file named, nothing written, no key text shown.
    let req2 = s(&dir.path().join("req2"));
    let o = with(&[("CREDSEAL_KEY_PASSPHRASE", "not it")], &args(&request(&req2)));
    assert_eq!(code(&o), 1, "{}", stderr(&o));
    assert!(
        stderr(&o).contains("wrong passphrase for this key file") && stderr(&o).contains("signing.key"),
        "{}",
        stderr(&o)
    );
    assert!(!stderr(&o).contains("signing-key.") && !Path::new(&req2).exists());
}

/// F5 of the custody review: a custody that one officer alone unseals (K = 1, or a single
/// holder) defeats M-of-N; `init` and `keys reshare` refuse it (exit 2, before anything is
/// written or unsealed) unless `--allow-single-holder` says so.
#[test]
fn single_holder_custody_is_refused_unless_explicit() {
    let dir = tempfile::tempdir().unwrap();
    let keys = unseal_keys(dir.path(), &["a", "b", "c"]);
    let holder = |n: &str, k: &String| ["--unseal-holder".to_string(), format!("{n}={k}.pub")];
    let init_args = |data: &str, k: &str, hs: &[(&str, &String)], extra: &[&str]| {
        let mut a: Vec<String> = [
            "init",
            "--data",
            data,
            "--catalog",
            CATALOG,
            "--origin",
            ORIGIN,
            "--unseal-threshold",
            k,
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for (n, key) in hs {
            a.extend(holder(n, key));
        }
        a.extend(extra.iter().map(|s| s.to_string()));
        a
    };

    // init: K = 1 of 3, and one holder 1 of 1, refused; nothing created.
    let lone = s(&dir.path().join("lone"));
    for (k, hs) in [
        ("1", vec![("a", &keys[0]), ("b", &keys[1]), ("c", &keys[2])]),
        ("1", vec![("a", &keys[0])]),
    ] {
        let o = with(&[], &args(&init_args(&lone, k, &hs, &[])));
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(
            stderr(&o).contains("defeats M-of-N") && stderr(&o).contains("--allow-single-holder"),
            "{}",
            stderr(&o)
        );
        assert!(!Path::new(&lone).join("keystore").exists());
    }
    // With the flag it is accepted, and one share unseals.
    ok(&with(
        &[],
        &args(&init_args(&lone, "1", &[("a", &keys[0])], &["--allow-single-holder"])),
    ));
    ok(&unsealed(&[&keys[0]], &["keys", "status", "--data", &lone]));

    // reshare: to a single holder, or to K = 1, refused before unsealing; the file untouched.
    let data = init_shared(dir.path(), &keys);
    let ks = dir.path().join("data/keystore");
    let before = std::fs::read(&ks).unwrap();
    let reshare = |hs: &[(&str, &String)], k: &str, extra: &[&str]| {
        let mut a = vec!["keys".to_string(), "reshare".into(), "--data".into(), data.clone()];
        for (n, key) in hs {
            a.push("--holder".into());
            a.push(format!("{n}={key}.pub"));
        }
        a.push("--threshold".into());
        a.push(k.into());
        a.extend(extra.iter().map(|s| s.to_string()));
        unsealed(&[&keys[0], &keys[2]], &args(&a))
    };
    for (hs, k) in [
        (vec![("a", &keys[0])], "1"),
        (vec![("a", &keys[0]), ("c", &keys[2])], "1"),
    ] {
        let o = reshare(&hs, k, &[]);
        assert_eq!(code(&o), 2, "{}", stderr(&o));
        assert!(stderr(&o).contains("defeats M-of-N"), "{}", stderr(&o));
        assert_eq!(std::fs::read(&ks).unwrap(), before);
    }
    // Explicitly allowed: a alone holds the keystore from epoch 2.
    let o = reshare(&[("a", &keys[0])], "1", &["--allow-single-holder"]);
    ok(&o);
    assert!(stdout(&o).contains("epoch 2"), "{}", stdout(&o));
    ok(&with(&[], &["keys", "status", "--data", &data, "--unseal", &keys[0]]));
}
