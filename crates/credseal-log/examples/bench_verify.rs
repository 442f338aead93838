//! Times the subject's side: decoding and verifying a bundle of 1,000 receipts (the target is
//! under 0.5 s), in a log of 10,000 leaves, with a saved state so that the consistency
//! proof is checked too.
//!
//! ```text
//! cargo run --release -p credseal-log --example bench_verify [receipts] [noise per receipt]
//! ```

use std::time::{Duration, Instant};

use credseal_c2sp::MemoryLog;
use credseal_core::{BlindId, SubjectId};
use credseal_log::*;

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(1000);
    let noise: u64 = args.next().map(|a| a.parse()).transpose()?.unwrap_or(9);
    let origin = "credseal.example/log";
    let signer = LogSigner::from_seed(origin, &[42; 32])?;
    let vrf = credseal_vrf::VrfSecretKey::from_seed([9; 32]);
    let id = SubjectId::parse("11010519491231002X")?;
    let proof = vrf.prove(id.as_str().as_bytes())?;
    let subject = BlindId(proof.proof_to_hash().blind_id_bytes());
    let who = BundleSubject::new(id, vrf.public_key());
    let mut log = MemoryLog::new();
    // The subject map: the subject and one other subject per noise leaf.
    let mut map = MemoryMap::new();
    let mut half_map = MemoryMap::new();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut prev = None;
    let t0 = 1_750_000_000;
    let mut saved_at = None;
    for counter in 1..=n {
        for k in 0..noise {
            log.append(format!("other leaf {counter}/{k}").as_bytes());
            let mut other = [0u8; 32];
            other[..8].copy_from_slice(&counter.to_be_bytes());
            other[8..16].copy_from_slice(&k.to_be_bytes());
            map.set(
                &BlindId(other),
                MapValue {
                    count: 1,
                    head: [3; 32],
                    index: log.size() - 1,
                },
            );
        }
        let r = signer.sign_receipt(&ReceiptBody {
            index: log.size(),
            time: t0 + counter,
            actor: Actor::Department {
                id: "bank-a".into(),
                credential_serial: 1,
            },
            action: Action::Query,
            detail: String::new(),
            subject: Some(subject),
            classes: ["identity".to_string(), "loans".to_string()].into(),
            purpose: "loan-approval".into(),
            token_hash: Some([1; 32]),
            outcome: Outcome::Granted,
            release_digest: Some([2; 32]),
            salt: random_salt(),
            chain: Some(Chain { counter, prev }),
            disclose_after: None,
            flags: 0,
        })?;
        log.append(&r.leaf_data());
        map.set(
            &subject,
            MapValue {
                count: counter,
                head: r.leaf_hash(),
                index: r.body().index,
            },
        );
        prev = Some(r.leaf_hash());
        chain.push(r.into_bytes());
        if counter == n / 2 {
            saved_at = Some((log.size(), chain.len()));
            half_map = map.clone();
        }
    }
    let verifier = signer.verifier();
    let now = t0 + n + 1;

    // The subject's state after a first bundle at the half-way checkpoint.
    let (half, half_count) = saved_at.unwrap_or((0, 0));
    let state = if half > 0 {
        let cp = signer
            .sign_checkpoint(&Checkpoint::new(origin, half, log.tree_hash(half)?)?.with_map_root(&half_map.root())?);
        let b = build_bundle(&log, &half_map, &subject, &chain[..half_count], &cp, None, now)?.with_vrf_proof(&proof);
        Some(
            verify_bundle(&b, &verifier, &who, None, now)?
                .into_new_state()
                .to_bytes(),
        )
    } else {
        None
    };

    let cp = signer.sign_checkpoint(&Checkpoint::new(origin, log.size(), log.root())?.with_map_root(&map.root())?);
    let start = Instant::now();
    let bundle = build_bundle(&log, &map, &subject, &chain, &cp, Some(half), now)?
        .with_vrf_proof(&proof)
        .to_bytes();
    let built = start.elapsed();

    let mut times = Vec::new();
    for _ in 0..7 {
        let start = Instant::now();
        let v = verify_bundle_bytes(&bundle, &verifier, &who, state.as_deref(), now)?;
        times.push(start.elapsed());
        assert_eq!(v.receipts().len() as u64, n);
    }
    times.sort();
    let median = times[times.len() / 2];
    println!(
        "verify a bundle of {n} receipts ({} KiB, log of {} leaves): median {:.1} ms, min {:.1} ms ({:.1} µs/receipt); build {:.1} ms",
        bundle.len() / 1024,
        log.size(),
        ms(median),
        ms(times[0]),
        median.as_secs_f64() * 1e6 / n as f64,
        ms(built),
    );
    Ok(())
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1e3
}
