//! What keeping the keys in a token adds to one query: the token calls a query makes (one
//! data-key unwrap, one receipt signature) against the same operations in software.
//!
//! ```sh
//! # a token (SoftHSM2 here), then:
//! SOFTHSM2_CONF=… cargo run --release -p credseal-pkcs11 --example token_cost -- \
//!     /usr/lib/softhsm/libsofthsm2.so LABEL PIN [N]
//! ```
//! Prints µs per operation for each and the difference: the token's cost per query. This is
//! not `bench query` (the engine does not use a token yet, see threat-model.md K10); it
//! measures the calls a query would make.

use std::time::Instant;

use credseal_core::BlindId;
use credseal_crypto::{Dek, DekContext, Kek};

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
    let blind = BlindId([3; 32]);
    let ctx = DekContext {
        blind: &blind,
        class: "loans",
    };
    let dek = Dek::generate();
    let wrapped = t.wrap_dek(&kek_id, 1, &ctx, &dek).expect("wrap");
    let msg = [7u8; 200];

    let start = Instant::now();
    for _ in 0..n {
        let d = t.unwrap_dek(&kek_id, &ctx, &wrapped).expect("unwrap");
        std::hint::black_box(&d);
        std::hint::black_box(t.sign(&log_id, &msg).expect("sign"));
    }
    let token_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);

    let kek = Kek::generate();
    let sw_wrapped = credseal_crypto::wrap_dek(&kek, 1, &ctx, &dek);
    let sk = ed25519_dalek::SigningKey::from_bytes(&[9; 32]);
    let start = Instant::now();
    for _ in 0..n {
        let d = credseal_crypto::unwrap_dek(&kek, &ctx, &sw_wrapped).expect("unwrap");
        std::hint::black_box(&d);
        use ed25519_dalek::Signer as _;
        std::hint::black_box(sk.sign(&msg));
    }
    let soft_us = start.elapsed().as_secs_f64() * 1e6 / f64::from(n);
    t.destroy(&kek_id).expect("destroy");
    t.destroy(&log_id).expect("destroy");
    println!("token:    {token_us:.1} µs per query (1 unwrap + 1 signature in the token, {n} rounds)");
    println!("software: {soft_us:.1} µs per query (the same two operations in process)");
    println!("added by the token: {:.1} µs per query", token_us - soft_us);
}
