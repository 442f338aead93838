//! What keeping the keys in a token adds to one query: the token calls a query makes (one
//! receipt signature; the class's key-tree root is unwrapped once per process and cached,
//! so a root unwrap is timed on its own) against the same operations in software.
//!
//! ```sh
//! # a token (SoftHSM2 here), then:
//! SOFTHSM2_CONF=… cargo run --release -p credseal-pkcs11 --example token_cost -- \
//!     /usr/lib/softhsm/libsofthsm2.so LABEL PIN [N]
//! ```
//! Prints µs per operation for each and the difference: the token's cost per query. This is
//! not `bench query` (which does not yet run with a token); it measures the calls a query
//! makes in HSM custody.

use std::time::Instant;

use credseal_crypto::{Kek, TreeNode};

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if args.len() < 4 {
        eprintln!("usage: token_cost MODULE LABEL PIN [N]");
        std::process::exit(2);
    }
    let n: u32 = args.get(4).map(|s| s.parse().expect("N")).unwrap_or(2000);
    let t = credseal_pkcs11::Token::open(std::path::Path::new(&args[1]), &args[2], &args[3]).expect("token");
    let kek_id = t.generate_kek("bench kek").expect("kek");
    let (log_id, _) = t.generate_log_key("bench log").expect("log key");
    let root = TreeNode::generate();
    let wrapped = t.wrap_root(&kek_id, 1, "loans", &root).expect("wrap");
    let msg = [7u8; 200];

    let start = Instant::now();
    for _ in 0..n {
        std::hint::black_box(t.sign(&log_id, &msg).expect("sign"));
    }
    let sign_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let start = Instant::now();
    for _ in 0..n {
        let r = t.unwrap_root(&kek_id, 1, "loans", &root.id, &wrapped).expect("unwrap");
        std::hint::black_box(&r);
    }
    let unwrap_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);

    let kek = Kek::generate();
    let sw_wrapped = credseal_crypto::wrap_root(&kek, 1, "loans", &root);
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let start = Instant::now();
    for _ in 0..n {
        use ed25519_dalek::Signer as _;
        std::hint::black_box(sk.sign(&msg));
    }
    let soft_sign_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    let start = Instant::now();
    for _ in 0..n {
        let r = credseal_crypto::unwrap_root(&kek, 1, "loans", &root.id, &sw_wrapped).expect("unwrap");
        std::hint::black_box(&r);
    }
    let soft_unwrap_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    t.destroy(&kek_id).expect("destroy");
    t.destroy(&log_id).expect("destroy");
    println!("signature: token {sign_us:.1} µs, software {soft_sign_us:.1} µs ({n} rounds)");
    println!("root unwrap: token {unwrap_us:.1} µs, software {soft_unwrap_us:.1} µs (once per class per process)");
    println!(
        "added by the token per query (one receipt signature): {:.1} µs",
        sign_us - soft_sign_us
    );
}
