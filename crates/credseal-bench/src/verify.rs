//! `credseal bench verify`: the subject's side, verifying a receipt bundle with nothing but
//! the log's public key, against the floor of its signature checks and inclusion proofs.

use std::time::Instant;

use serde::Serialize;

use crate::common::{BENCH_ORIGIN, now};
use crate::error::{BenchError, Result};

/// Results of `bench verify`.
#[derive(Clone, Debug, Serialize)]
pub struct VerifyBench {
    /// Receipts in the subject's bundle.
    pub receipts: u64,
    /// Leaves in the log.
    pub log_size: u64,
    /// Bundle size in bytes.
    pub bundle_bytes: u64,
    /// Median seconds to decode and verify the bundle (signatures, inclusions, consistency
    /// with a saved state at the half-way checkpoint, the chain).
    pub seconds: f64,
    /// Median seconds of the floor: the same number of receipt signature verifications and
    /// inclusion-proof checks, nothing else.
    pub floor_seconds: f64,
    /// floor_seconds / seconds.
    pub ratio_to_floor: f64,
}

/// The subject's side: verifying a bundle of `n` receipts in a log with `noise` other
/// leaves per receipt.
pub fn bench_verify(n: u64, noise: u64) -> Result<VerifyBench> {
    use credseal_c2sp::{MemoryLog, check_record};
    use credseal_log::*;
    let err = |e: &dyn std::fmt::Display| BenchError::check(format_args!("bench verify: {e}"));
    let origin = BENCH_ORIGIN;
    let signer = LogSigner::from_seed(origin, &credseal_crypto::random_array()).map_err(|e| err(&e))?;
    let vrf = credseal_vrf::VrfSecretKey::from_seed(credseal_crypto::random_array());
    let id = credseal_core::SubjectId::parse("11010519491231002X").map_err(|e| err(&e))?;
    let proof = vrf.prove(id.as_str().as_bytes()).map_err(|e| err(&e))?;
    let subject = credseal_core::BlindId(proof.proof_to_hash().blind_id_bytes());
    let who = credseal_log::BundleSubject::new(id, vrf.public_key());
    let mut log = MemoryLog::new();
    // The subject map: the subject and one other subject per noise leaf, so that the map
    // proof has the depth of a map with n × noise subjects.
    let mut map = MemoryMap::new();
    let mut half_map = MemoryMap::new();
    let mut chain: Vec<Vec<u8>> = Vec::new();
    let mut prev = None;
    let t0 = now()? - 10 * n - 10;
    let mut half = (0, 0);
    for counter in 1..=n {
        for k in 0..noise {
            log.append(format!("another subject's receipt {counter}/{k}").as_bytes());
            let mut other = [0u8; 32];
            other[..8].copy_from_slice(&counter.to_be_bytes());
            other[8..16].copy_from_slice(&k.to_be_bytes());
            map.set(
                &credseal_core::BlindId(other),
                MapValue {
                    count: 1,
                    head: [3; 32],
                    index: log.size() - 1,
                },
            );
        }
        let r = signer
            .sign_receipt(&ReceiptBody {
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
            })
            .map_err(|e| err(&e))?;
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
            half = (log.size(), chain.len());
            half_map = map.clone();
        }
    }
    let verifier = signer.verifier();
    let now = now()?;
    let state = if half.0 > 0 {
        let root = log.tree_hash(half.0).map_err(|e| err(&e))?;
        let cp = signer.sign_checkpoint(
            &Checkpoint::new(origin, half.0, root)
                .and_then(|c| c.with_map_root(&half_map.root()))
                .map_err(|e| err(&e))?,
        );
        let b = build_bundle(&log, &half_map, &subject, &chain[..half.1], &cp, None, now)
            .map_err(|e| err(&e))?
            .with_vrf_proof(&proof);
        Some(
            verify_bundle(&b, &verifier, &who, None, now)
                .map_err(|e| err(&e))?
                .into_new_state()
                .to_bytes(),
        )
    } else {
        None
    };
    let cp = signer.sign_checkpoint(
        &Checkpoint::new(origin, log.size(), log.root())
            .and_then(|c| c.with_map_root(&map.root()))
            .map_err(|e| err(&e))?,
    );
    let bundle = build_bundle(&log, &map, &subject, &chain, &cp, Some(half.0), now)
        .map_err(|e| err(&e))?
        .with_vrf_proof(&proof)
        .to_bytes();
    let median = |mut v: Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        let v = verify_bundle_bytes(&bundle, &verifier, &who, state.as_deref(), now).map_err(|e| err(&e))?;
        times.push(t.elapsed().as_secs_f64());
        if v.receipts().len() as u64 != n {
            return Err(err(&"the bundle lost receipts"));
        }
    }
    let seconds = median(times);
    // The floor: the signature checks and inclusion proofs alone.
    let size = log.size();
    let root = log.root();
    let proofs: Vec<(u64, Hash, Vec<Hash>)> = chain
        .iter()
        .map(|r| {
            let u = UnverifiedReceipt::parse(r).map_err(|e| err(&e))?;
            let idx = u.peek_unverified().map_err(|e| err(&e))?.index;
            let p = log.prove_record(size, idx).map_err(|e| err(&e))?;
            Ok((idx, u.leaf_hash(), p))
        })
        .collect::<Result<_>>()?;
    let mut times = Vec::new();
    for _ in 0..5 {
        let t = Instant::now();
        for (r, (idx, leaf, p)) in chain.iter().zip(&proofs) {
            std::hint::black_box(verifier.verify_receipt(r).is_ok());
            std::hint::black_box(check_record(p, size, &root, *idx, leaf).is_ok());
        }
        times.push(t.elapsed().as_secs_f64());
    }
    let floor_seconds = median(times);
    Ok(VerifyBench {
        receipts: n,
        log_size: size,
        bundle_bytes: bundle.len() as u64,
        seconds,
        floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
    })
}
