use super::*;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_c2sp::{MemoryLog, NoteSigner};

const ORIGIN: &str = "log.test/a";

struct Fx {
    dir: tempfile::TempDir,
    log: NoteSigner,
    tree: MemoryLog,
}

impl Fx {
    fn new() -> Self {
        Self {
            dir: tempfile::tempdir().unwrap(),
            log: NoteSigner::from_seed(ORIGIN, &[1; 32]).unwrap(),
            tree: MemoryLog::new(),
        }
    }

    fn key() -> CosignerKey {
        CosignerKey::from_seed("witness.test/w", &[2; 32]).unwrap()
    }

    fn open(&self) -> Result<Witness, WitnessError> {
        Witness::open(Self::key(), vec![self.log.verifier()], &self.dir.path().join("state"))
    }

    fn grow(&mut self, n: u64) {
        for _ in 0..n {
            let i = self.tree.size();
            self.tree.append(format!("leaf {i}").as_bytes());
        }
    }

    fn note(&self, size: u64) -> String {
        let root = self.tree.tree_hash(size).unwrap();
        self.log
            .sign(&Checkpoint::new(ORIGIN, size, root).unwrap().to_text())
            .unwrap()
    }

    /// The request `old`, the proof old → size, the note at `size`.
    fn req(&self, old: u64, size: u64) -> Vec<u8> {
        let proof = if old == 0 {
            Vec::new()
        } else {
            self.tree.prove_tree(size, old).unwrap()
        };
        body(old, &proof, &self.note(size))
    }
}

fn body(old: u64, proof: &[Hash], note: &str) -> Vec<u8> {
    let lines: String = proof.iter().map(|h| format!("{}\n", STANDARD.encode(h))).collect();
    format!("old {old}\n{lines}\n{note}").into_bytes()
}

#[test]
fn cosigns_a_growing_log_and_refuses_what_the_spec_refuses() {
    let mut fx = Fx::new();
    fx.grow(5);
    let w = fx.open().unwrap();
    let line = w.add_checkpoint(&fx.req(0, 5), 1000).unwrap();
    let cosigned = format!("{}{line}", fx.note(5));
    assert_eq!(
        Fx::key()
            .verifier()
            .verify(&SignedNote::parse(&cosigned).unwrap())
            .unwrap(),
        Some(1000)
    );
    assert_eq!(w.cosigned_size(ORIGIN), 5);
    // The monitoring view: the log signature and the cosignature.
    let served = w.checkpoint(&origin_hash(ORIGIN)).unwrap();
    assert_eq!(served, cosigned);

    fx.grow(4);
    // 409: the witness is at 5, not 0 (nor 4).
    for old in [0, 4] {
        let r = w.add_checkpoint(&fx.req(old, 9), 1001).unwrap_err();
        assert_eq!((r.status, r.cosigned_size, r.body()), (409, Some(5), "5\n".to_string()));
    }
    // 422: a proof for another old size, a flipped proof hash.
    let mut proof = fx.tree.prove_tree(9, 5).unwrap();
    assert_eq!(
        w.add_checkpoint(&body(5, &fx.tree.prove_tree(9, 4).unwrap(), &fx.note(9)), 1)
            .unwrap_err()
            .status,
        422
    );
    proof[0][0] ^= 1;
    assert_eq!(
        w.add_checkpoint(&body(5, &proof, &fx.note(9)), 1).unwrap_err().status,
        422
    );
    // 400: old above the size.
    let over = body(10, &[], &fx.note(9));
    assert_eq!(w.add_checkpoint(&over, 1).unwrap_err().status, 400);
    // Nothing above changed the state.
    assert_eq!(w.cosigned_size(ORIGIN), 5);
    w.add_checkpoint(&fx.req(5, 9), 1002).unwrap();
    assert_eq!(w.cosigned_size(ORIGIN), 9);
    // The same size again: cosigned again with the same root, 422 with another.
    w.add_checkpoint(&fx.req(9, 9), 1003).unwrap();
    let other = fx
        .log
        .sign(&Checkpoint::new(ORIGIN, 9, [7; 32]).unwrap().to_text())
        .unwrap();
    assert_eq!(w.add_checkpoint(&body(9, &[], &other), 1).unwrap_err().status, 422);
}

#[test]
fn signatures_and_origins() {
    let mut fx = Fx::new();
    fx.grow(2);
    let w = fx.open().unwrap();
    // 404: another origin, signed by its own key.
    let stranger = NoteSigner::from_seed("log.test/b", &[3; 32]).unwrap();
    let note = stranger
        .sign(&Checkpoint::new("log.test/b", 2, fx.tree.root()).unwrap().to_text())
        .unwrap();
    assert_eq!(w.add_checkpoint(&body(0, &[], &note), 1).unwrap_err().status, 404);
    // 403: our origin signed by another key; a broken line of the trusted key.
    let impostor = NoteSigner::from_seed(ORIGIN, &[4; 32]).unwrap();
    let text = Checkpoint::new(ORIGIN, 2, fx.tree.root()).unwrap().to_text();
    assert_eq!(
        w.add_checkpoint(&body(0, &[], &impostor.sign(&text).unwrap()), 1)
            .unwrap_err()
            .status,
        403
    );
    let good = fx.note(2);
    let tampered = good.replacen(&STANDARD.encode(fx.tree.root()), &STANDARD.encode([0u8; 32]), 1);
    assert_eq!(w.add_checkpoint(&body(0, &[], &tampered), 1).unwrap_err().status, 403);
    // An unknown signature beside the trusted one is ignored, and not kept.
    let line = w
        .add_checkpoint(
            &body(0, &[], &format!("{good}{}", impostor.signature_line(&text).unwrap())),
            7,
        )
        .unwrap();
    assert_eq!(w.checkpoint(&origin_hash(ORIGIN)).unwrap(), format!("{good}{line}"));
    // 400: garbage. 422: size 0 with a non-empty root; a proof with old 0.
    assert_eq!(w.add_checkpoint(b"old 0\n\nnot a note", 1).unwrap_err().status, 400);
    let zero = fx
        .log
        .sign(&Checkpoint::new(ORIGIN, 0, [1; 32]).unwrap().to_text())
        .unwrap();
    let fresh = Fx::new();
    let w2 = fresh.open().unwrap();
    assert_eq!(w2.add_checkpoint(&body(0, &[], &zero), 1).unwrap_err().status, 422);
    assert_eq!(
        w2.add_checkpoint(&body(0, &[[1; 32]], &fx.note(2)), 1)
            .unwrap_err()
            .status,
        422
    );
    let empty = fx
        .log
        .sign(&Checkpoint::new(ORIGIN, 0, EMPTY_ROOT).unwrap().to_text())
        .unwrap();
    w2.add_checkpoint(&body(0, &[], &empty), 1).unwrap();
}

#[test]
fn state_survives_a_restart_and_is_checked() {
    let mut fx = Fx::new();
    fx.grow(3);
    {
        let w = fx.open().unwrap();
        w.add_checkpoint(&fx.req(0, 3), 5).unwrap();
        // The directory is locked while the witness lives.
        assert!(matches!(fx.open(), Err(WitnessError::Locked { .. })));
    }
    let w = fx.open().unwrap();
    assert_eq!(w.cosigned_size(ORIGIN), 3);
    assert_eq!(w.add_checkpoint(&fx.req(0, 3), 6).unwrap_err().status, 409);
    drop(w);
    let path = fx.dir.path().join("state").join(origin_hash(ORIGIN));
    let good = std::fs::read_to_string(&path).unwrap();
    // Under another witness key: the cosignature is not there.
    let other = Witness::open(
        CosignerKey::from_seed("witness.test/w", &[9; 32]).unwrap(),
        vec![fx.log.verifier()],
        &fx.dir.path().join("state"),
    );
    assert!(matches!(other, Err(WitnessError::State { .. })), "{other:?}");
    for bad in [
        good.replacen("\n3\n", "\n2\n", 1),
        good.replacen("log.test/a\n", "log.test/b\n", 1),
        good[..good.len() - 2].to_string(),
        String::new(),
    ] {
        std::fs::write(&path, &bad).unwrap();
        match fx.open() {
            Err(WitnessError::State { path: p, .. }) => assert_eq!(p, path),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
}

#[test]
fn racing_requests_from_one_size_get_one_cosignature() {
    // tlog-witness's race: requests from the same old size to different new sizes must not
    // both be cosigned (the later write would roll the state back). Check and write happen
    // under one lock, so exactly one wins and the state is its size.
    let mut fx = Fx::new();
    fx.grow(9);
    let w = std::sync::Arc::new(fx.open().unwrap());
    w.add_checkpoint(&fx.req(0, 5), 1).unwrap();
    let reqs: Vec<(u64, Vec<u8>)> = (0..8u64).map(|i| (6 + i % 4, fx.req(5, 6 + i % 4))).collect();
    let results: Vec<(u64, Result<String, Refusal>)> = std::thread::scope(|s| {
        let handles: Vec<_> = reqs
            .iter()
            .map(|(size, body)| {
                let w = &w;
                s.spawn(move || (*size, w.add_checkpoint(body, 2)))
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let won: Vec<u64> = results.iter().filter(|(_, r)| r.is_ok()).map(|(n, _)| *n).collect();
    assert_eq!(won.len(), 1, "{results:?}");
    for (_, r) in &results {
        if let Err(r) = r {
            assert_eq!((r.status, r.cosigned_size), (409, Some(won[0])), "{r}");
        }
    }
    assert_eq!(w.cosigned_size(ORIGIN), won[0]);
}

/// A log that rotated its key (keys given oldest first): once a checkpoint of the new key is
/// cosigned, the retired key — perhaps stolen, the reason to rotate — is refused, so it
/// cannot lead the witness off the log's history.
#[test]
fn a_retired_log_key_cannot_lead_the_witness_after_the_new_key_signed() {
    let mut fx = Fx::new();
    let new = NoteSigner::from_seed(ORIGIN, &[3; 32]).unwrap();
    let w = Witness::open(
        Fx::key(),
        vec![fx.log.verifier(), new.verifier()],
        &fx.dir.path().join("state"),
    )
    .unwrap();
    fx.grow(10);
    w.add_checkpoint(&fx.req(0, 10), 1000).unwrap();
    fx.grow(2);
    let cp = Checkpoint::new(ORIGIN, 12, fx.tree.tree_hash(12).unwrap()).unwrap();
    let proof = fx.tree.prove_tree(12, 10).unwrap();
    w.add_checkpoint(&body(10, &proof, &new.sign(&cp.to_text()).unwrap()), 1001)
        .unwrap();
    // The old key signs an extension: refused (403), the state stays at the new key's 12.
    fx.grow(40);
    let r = w.add_checkpoint(&fx.req(12, 52), 1002).unwrap_err();
    assert_eq!(r.status, 403, "{}", r.reason);
    assert!(r.reason.contains("retired key"), "{}", r.reason);
    assert_eq!(w.cosigned_size(ORIGIN), 12);
    // The new key's next checkpoint is cosigned.
    let cp = Checkpoint::new(ORIGIN, 52, fx.tree.tree_hash(52).unwrap()).unwrap();
    let proof = fx.tree.prove_tree(52, 12).unwrap();
    w.add_checkpoint(&body(12, &proof, &new.sign(&cp.to_text()).unwrap()), 1003)
        .unwrap();
    // Reopened: the key position is read back from the state.
    drop(w);
    let w = Witness::open(
        Fx::key(),
        vec![fx.log.verifier(), new.verifier()],
        &fx.dir.path().join("state"),
    )
    .unwrap();
    fx.grow(1);
    assert_eq!(w.add_checkpoint(&fx.req(52, 53), 1004).unwrap_err().status, 403);
}

/// The state file replaced under a running witness (a second process whose locks were
/// evaded, a restored copy): the witness refuses to cosign rather than follow either.
#[test]
fn a_state_file_changed_under_the_witness_stops_it_cosigning() {
    let mut fx = Fx::new();
    fx.grow(4);
    let w = fx.open().unwrap();
    w.add_checkpoint(&fx.req(0, 4), 1000).unwrap();
    let file = fx.dir.path().join("state").join(origin_hash(ORIGIN));
    let before = std::fs::read(&file).unwrap();
    std::fs::write(&file, b"something else\n").unwrap();
    fx.grow(2);
    let r = w.add_checkpoint(&fx.req(4, 6), 1001).unwrap_err();
    assert_eq!(r.status, 500, "{}", r.reason);
    assert!(r.reason.contains("changed under this witness"), "{}", r.reason);
    std::fs::write(&file, &before).unwrap();
    w.add_checkpoint(&fx.req(4, 6), 1002).unwrap();
}

/// Equal sizes: the same root with an empty proof is cosigned again; a non-empty proof is
/// refused as such (not reported as a fork).
#[test]
fn equal_sizes_need_an_empty_proof() {
    let mut fx = Fx::new();
    fx.grow(11);
    let w = fx.open().unwrap();
    w.add_checkpoint(&fx.req(0, 11), 1000).unwrap();
    let r = w.add_checkpoint(&body(11, &[[7; 32]], &fx.note(11)), 1001).unwrap_err();
    assert_eq!(r.status, 422);
    assert!(r.reason.contains("between equal sizes must be empty"), "{}", r.reason);
    w.add_checkpoint(&body(11, &[], &fx.note(11)), 1002).unwrap();
}
