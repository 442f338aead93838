//! Keys in a PKCS#11 token, against SoftHSM2 (Debian's `softhsm2`; `.ci/install-softhsm`).
//!
//! SoftHSM2 reads its configuration (`SOFTHSM2_CONF`, naming the token directory) when the
//! module is initialised, once per process, and the environment cannot be changed safely
//! from a running test. So the test `token_custody` makes a token in a temporary directory
//! with `softhsm2-util` and runs the checks in a child process of this same test binary
//! (`token_custody_child`, ignored unless that child is started with the token's settings).

use std::path::{Path, PathBuf};
use std::process::Command;

use credseal_crypto::{TreeNode, WRAPPED_NODE_LEN};
use credseal_pkcs11::{ObjectId, Token};
use cryptoki::object::ObjectClass;

const LABEL: &str = "credseal-test";
const PIN: &str = "test user pin, not a real one";
const SO_PIN: &str = "test so pin, not a real one";
const CHILD_ENV: &str = "CREDSEAL_SOFTHSM_TEST_DIR";

fn module() -> PathBuf {
    for p in [
        "/usr/lib/softhsm/libsofthsm2.so",
        "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
        "/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so",
    ] {
        if Path::new(p).exists() {
            return p.into();
        }
    }
    panic!("SoftHSM2 is not installed: run .ci/install-softhsm (apt-get install softhsm2)");
}

#[test]
fn token_custody() {
    let module = module();
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
    let o = Command::new(std::env::current_exe().unwrap())
        .env("SOFTHSM2_CONF", &conf)
        .env(CHILD_ENV, dir.path())
        .env("CREDSEAL_SOFTHSM_MODULE", &module)
        .args([
            "--exact",
            "token_custody_child",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .output()
        .unwrap();
    let out = String::from_utf8_lossy(&o.stdout);
    assert!(
        o.status.success(),
        "child failed:\n{out}\n{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // The child really ran its checks (not filtered out).
    assert!(out.contains("token custody checks passed"), "{out}");
}

#[test]
#[ignore = "run by token_custody in a child process with a SoftHSM2 token"]
fn token_custody_child() {
    std::env::var(CHILD_ENV).expect("started by token_custody");
    let module = PathBuf::from(std::env::var("CREDSEAL_SOFTHSM_MODULE").unwrap());

    // A wrong PIN is refused, and the error carries no PIN.
    let e = Token::open(&module, LABEL, "not the pin").unwrap_err().to_string();
    assert!(e.contains("logging in") && !e.contains("not the pin"), "{e}");
    assert!(matches!(
        Token::open(&module, "no-such-token", PIN).unwrap_err(),
        credseal_pkcs11::HsmError::NoToken(_)
    ));

    let t = Token::open(&module, LABEL, PIN).unwrap();
    // KEKs: non-extractable token objects.
    let v1 = t.generate_kek("loans v1").unwrap();
    let v2 = t.generate_kek("loans v2").unwrap();
    assert!(t.is_non_extractable(&v1, ObjectClass::SECRET_KEY).unwrap());

    // A key-tree root wrapped and unwrapped in the token, bound to class, version and root id.
    let root = TreeNode::generate();
    let w = t.wrap_root(&v1, 1, "loans", &root).unwrap();
    assert_eq!(w.len(), WRAPPED_NODE_LEN);
    assert!(!w.windows(32).any(|x| x == root.key.expose_secret()));
    let back = t.unwrap_root(&v1, 1, "loans", &root.id, &w).unwrap();
    assert_eq!(back.key.expose_secret(), root.key.expose_secret());
    // Another class, version, root id or KEK, a flipped bit: refused.
    assert!(t.unwrap_root(&v1, 1, "identity", &root.id, &w).is_err());
    assert!(t.unwrap_root(&v1, 2, "loans", &root.id, &w).is_err());
    assert!(t.unwrap_root(&v1, 1, "loans", &[7; 16], &w).is_err());
    assert!(t.unwrap_root(&v2, 1, "loans", &root.id, &w).is_err());
    for i in [0, 11, 12, 40, WRAPPED_NODE_LEN - 1] {
        let mut bad = w;
        bad[i] ^= 0x01;
        assert!(t.unwrap_root(&v1, 1, "loans", &root.id, &bad).is_err(), "flip at {i}");
    }
    assert!(t.unwrap_root(&v1, 1, "loans", &root.id, &w[..59]).is_err());

    // Rewrap: the root moves from v1 to v2, in the token.
    let w2 = t.wrap_root(&v2, 2, "loans", &back).unwrap();
    let again = t.unwrap_root(&v2, 2, "loans", &root.id, &w2).unwrap();
    assert_eq!(again.key.expose_secret(), root.key.expose_secret());

    // The derivation key: HMAC-SHA-256 in the token, deterministic, not extractable.
    let d = t.generate_derive_key("derive").unwrap();
    assert!(t.is_non_extractable(&d, ObjectClass::SECRET_KEY).unwrap());
    let m1 = t.mac(&d, b"credseal:v1:token-derive:index").unwrap();
    assert_eq!(*m1, *t.mac(&d, b"credseal:v1:token-derive:index").unwrap());
    assert_ne!(*m1, *t.mac(&d, b"credseal:v1:token-derive:trace").unwrap());

    // The log key: Ed25519 in the token, verified outside with the strict verifier.
    let (log, public) = t.generate_log_key("log key").unwrap();
    assert!(t.is_non_extractable(&log, ObjectClass::PRIVATE_KEY).unwrap());
    let msg = b"credseal receipt header";
    let sig = t.sign(&log, msg).unwrap();
    let vk = ed25519_dalek::VerifyingKey::from_bytes(&public).unwrap();
    vk.verify_strict(msg, &ed25519_dalek::Signature::from_bytes(&sig))
        .unwrap();
    assert!(
        vk.verify_strict(b"another message", &ed25519_dalek::Signature::from_bytes(&sig))
            .is_err()
    );

    // Retire v1: its object is destroyed, and what it wrapped can never be opened again —
    // whatever copies of the manifest or of the wrapped key exist.
    assert_eq!(t.destroy(&v1).unwrap(), 1);
    let e = t.unwrap_root(&v1, 1, "loans", &root.id, &w).unwrap_err().to_string();
    assert!(e.contains(&v1.to_string()) && e.contains("destroyed"), "{e}");
    assert!(t.unwrap_root(&v2, 2, "loans", &root.id, &w2).is_ok());
    // A rotated-away log key: destroyed (both halves), it signs nothing any more.
    assert_eq!(t.destroy(&log).unwrap(), 2);
    assert!(t.sign(&log, msg).is_err());
    assert!(t.destroy(&ObjectId([9; 16])).is_err());

    // A second session sees the same token objects (they are token objects, not session ones).
    drop(t);
    let t = Token::open(&module, LABEL, PIN).unwrap();
    assert!(t.unwrap_root(&v2, 2, "loans", &root.id, &w2).is_ok());
    assert_eq!(*m1, *t.mac(&d, b"credseal:v1:token-derive:index").unwrap());
    println!("token custody checks passed");
}
