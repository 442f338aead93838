//! One prove and one verify, timed: `cargo run --release -p credseal-vrf --example timing`.
//! A rough figure for planning (mean over a short loop), not a benchmark.

use std::time::Instant;

use credseal_vrf::VrfSecretKey;

fn main() -> Result<(), credseal_vrf::VrfError> {
    const ROUNDS: u32 = 2000;
    let sk = VrfSecretKey::from_seed([0x42; 32]);
    let pk = sk.public_key();
    let inputs: Vec<Vec<u8>> = (0..ROUNDS)
        .map(|i| format!("11010519491231{i:04}").into_bytes())
        .collect();

    let start = Instant::now();
    let proofs = inputs
        .iter()
        .map(|alpha| sk.prove(alpha))
        .collect::<Result<Vec<_>, _>>()?;
    let prove = start.elapsed() / ROUNDS;

    let start = Instant::now();
    for (alpha, proof) in inputs.iter().zip(&proofs) {
        pk.verify(alpha, proof)?;
    }
    let verify = start.elapsed() / ROUNDS;

    println!("prove:  {prove:?} per call (mean of {ROUNDS})");
    println!("verify: {verify:?} per call (mean of {ROUNDS})");
    Ok(())
}
