//! Receipt bundles end to end, through the public API: a small in-memory log, honest bundles,
//! and one named test per mutation a dishonest or broken platform could make. Every failure
//! test also checks that the subject's saved state is left as it was.

use credseal_c2sp::{MemoryLog, MissingHash, SignedNote, TreeError, record_proof_len};
use std::sync::LazyLock;

use credseal_core::{BlindId, SubjectId};
use credseal_log::*;
use credseal_vrf::{VrfProof, VrfPublicKey, VrfSecretKey};

const ORIGIN: &str = "credseal.example/log";
const T0: u64 = 1_750_000_000;
/// The subject's id; its blind id is the VRF output under [`vrf_key`].
const SUBJECT_ID: &str = "11010519491231002X";
/// Another subject's id.
const OTHER_ID: &str = "91350100M000100Y43";

/// The platform's VRF key of these tests.
fn vrf_key() -> VrfSecretKey {
    VrfSecretKey::from_seed([5; 32])
}

/// The VRF proof of `id`'s blind id.
fn vrf_proof(id: &str) -> VrfProof {
    vrf_key().prove(id.as_bytes()).unwrap()
}

/// The VRF public key of these tests, as a subject reads it.
fn vrf_public() -> VrfPublicKey {
    VrfPublicKey::from_bytes(vrf_key().public_key().as_bytes()).unwrap()
}

/// The subject's VRF proof, as the platform adds it to the subject's bundles.
static PROOF: LazyLock<VrfProof> = LazyLock::new(|| vrf_proof(SUBJECT_ID));
/// The subject's blind id.
static SUBJECT: LazyLock<BlindId> = LazyLock::new(|| BlindId(PROOF.proof_to_hash().blind_id_bytes()));
/// The other subject's blind id.
static OTHER: LazyLock<BlindId> = LazyLock::new(|| BlindId(vrf_proof(OTHER_ID).proof_to_hash().blind_id_bytes()));
/// What the subject's verifier knows: its id and the VRF public key.
static WHO: LazyLock<BundleSubject> =
    LazyLock::new(|| BundleSubject::new(SubjectId::parse(SUBJECT_ID).unwrap(), vrf_public()));

/// A log with one subject of interest and some traffic about others.
#[derive(Clone)]
struct TestLog {
    /// The log key seeds: the original first, then one per rotation.
    seeds: Vec<[u8; 32]>,
    /// The handover notes of the rotations, oldest first.
    handovers: Vec<String>,
    log: MemoryLog,
    /// The subject's receipts, counter order.
    chain: Vec<SignedReceipt>,
    /// Chain of the other subject.
    other_chain: Vec<SignedReceipt>,
    /// The subject map: every chained receipt updates its subject's entry.
    map: MemoryMap,
    time: u64,
}

fn body(index: u64, time: u64, subject: BlindId, counter: u64, prev: Option<Hash>) -> ReceiptBody {
    ReceiptBody {
        index,
        time,
        actor: Actor::Department {
            id: "bank-a".into(),
            credential_serial: 1,
        },
        action: Action::Query,
        detail: String::new(),
        subject: Some(subject),
        classes: ["identity".to_string(), "loans".to_string()].into(),
        purpose: "loan-approval".into(),
        token_hash: Some([counter as u8; 32]),
        outcome: Outcome::Granted,
        release_digest: Some([0xdd; 32]),
        salt: random_salt(),
        chain: Some(Chain { counter, prev }),
        disclose_after: None,
        flags: 0,
    }
}

impl TestLog {
    fn new() -> Self {
        Self::with_seed([42; 32])
    }

    fn with_seed(signer_seed: [u8; 32]) -> Self {
        Self {
            seeds: vec![signer_seed],
            handovers: Vec::new(),
            log: MemoryLog::new(),
            chain: Vec::new(),
            other_chain: Vec::new(),
            map: MemoryMap::new(),
            time: T0,
        }
    }

    /// The current log key.
    fn signer(&self) -> LogSigner {
        LogSigner::from_seed(ORIGIN, self.seeds.last().unwrap()).unwrap()
    }

    /// The log key at `position` (0: the original).
    fn signer_at(&self, position: usize) -> LogSigner {
        LogSigner::from_seed(ORIGIN, &self.seeds[position]).unwrap()
    }

    /// The pinned key: the original.
    fn verifier(&self) -> LogVerifier {
        self.signer_at(0).verifier()
    }

    /// Rotates the log key: the key of `seed` signs from the current size on; the handover is
    /// signed by the old and the new key.
    fn rotate(&mut self, seed: [u8; 32]) -> Handover {
        let new = LogSigner::from_seed(ORIGIN, &seed).unwrap();
        let h = Handover::sign(&self.signer(), &new, self.log.size()).unwrap();
        self.seeds.push(seed);
        self.handovers.push(h.note().to_string());
        h
    }

    fn next_body(&mut self, disclose_after: Option<u64>) -> ReceiptBody {
        self.time += 10;
        let counter = self.chain.len() as u64 + 1;
        let prev = self.chain.last().map(|r| r.leaf_hash());
        ReceiptBody {
            disclose_after,
            ..body(self.log.size(), self.time, *SUBJECT, counter, prev)
        }
    }

    /// Appends a receipt about the subject.
    fn add(&mut self) -> SignedReceipt {
        let b = self.next_body(None);
        self.append_subject(b)
    }

    fn add_sealed(&mut self, until: u64) -> SignedReceipt {
        let b = self.next_body(Some(until));
        self.append_subject(b)
    }

    fn append_subject(&mut self, b: ReceiptBody) -> SignedReceipt {
        let r = self.signer().sign_receipt(&b).unwrap();
        self.log.append(&r.leaf_data());
        self.chain.push(r.clone());
        self.map_set(&r);
        r
    }

    /// Sets the map entry of `r`'s subject to `r`.
    fn map_set(&mut self, r: &SignedReceipt) {
        let b = r.body();
        self.map.set(
            &b.subject.unwrap(),
            MapValue {
                count: b.chain.unwrap().counter,
                head: r.leaf_hash(),
                index: b.index,
            },
        );
    }

    /// Appends `k` receipts about another subject and platform events.
    fn noise(&mut self, k: usize) {
        for i in 0..k {
            self.time += 1;
            let b = if i % 3 == 2 {
                ReceiptBody {
                    actor: Actor::Platform,
                    action: Action::KeyEvent,
                    subject: None,
                    chain: None,
                    token_hash: None,
                    release_digest: None,
                    outcome: Outcome::Done,
                    ..body(self.log.size(), self.time, *OTHER, 1, None)
                }
            } else {
                let counter = self.other_chain.len() as u64 + 1;
                let prev = self.other_chain.last().map(|r| r.leaf_hash());
                body(self.log.size(), self.time, *OTHER, counter, prev)
            };
            let r = self.signer().sign_receipt(&b).unwrap();
            self.log.append(&r.leaf_data());
            if b.chain.is_some() {
                self.map_set(&r);
                self.other_chain.push(r);
            }
        }
    }

    /// The current checkpoint, signed by the key valid for its size: the key of its last
    /// leaf (key j signs the sizes above its handover's size).
    fn checkpoint(&self) -> String {
        let size = self.log.size();
        let position = self
            .handovers
            .iter()
            .filter(|n| n.lines().nth(2).unwrap().parse::<u64>().unwrap() < size)
            .count();
        self.signer_at(position).sign_checkpoint(&self.checkpoint_body())
    }

    /// The checkpoint body of the current log and map.
    fn checkpoint_body(&self) -> Checkpoint {
        Checkpoint::new(ORIGIN, self.log.size(), self.log.root())
            .unwrap()
            .with_map_root(&self.map.root())
            .unwrap()
    }

    fn receipts(&self) -> Vec<Vec<u8>> {
        self.chain.iter().map(|r| r.as_bytes().to_vec()).collect()
    }

    fn bundle(&self, from: Option<&SavedState>, now: u64) -> Bundle {
        build_bundle(
            &self.log,
            &self.map,
            &SUBJECT,
            &self.receipts(),
            &self.checkpoint(),
            from.map(SavedState::tree_size),
            now,
        )
        .unwrap()
        .with_handovers(self.handovers.clone())
        .with_vrf_proof(&PROOF)
    }
}

/// A log with five receipts about the subject among other traffic.
/// The chain counter a sealed entry's signed header names (`None` for a full entry).
fn sealed_counter(e: &BundleEntry) -> Option<u64> {
    match e {
        BundleEntry::Sealed { header, .. } => ReceiptHeader::decode(header).unwrap().chain.map(|c| c.counter),
        BundleEntry::Full { .. } => None,
    }
}

fn five() -> TestLog {
    let mut t = TestLog::new();
    for _ in 0..5 {
        t.noise(2);
        t.add();
    }
    t.noise(1);
    t
}

/// Verifies `bundle` expecting `err`, and checks that the saved state is not advanced: the
/// caller's state is untouched and still accepts an honest bundle of `honest`.
fn expect_failure(honest: &TestLog, bundle: &Bundle, state: Option<&SavedState>, err: BundleError) {
    let before = state.map(SavedState::to_bytes);
    let v = honest.verifier();
    // The caller's pattern: replace the state only on success.
    let mut held = state.cloned();
    match verify_bundle(bundle, &v, &WHO, held.as_ref(), T0 + 10_000) {
        Ok(ok) => panic!("accepted ({} receipts); expected {err:?}", ok.receipts().len()),
        Err(e) => assert_eq!(e, err),
    }
    if let Ok(ok) = verify_bundle(bundle, &v, &WHO, held.as_ref(), T0 + 10_000) {
        held = Some(ok.into_new_state());
    }
    // Round trip through bytes gives the same error.
    let bytes = bundle.to_bytes();
    assert_eq!(
        verify_bundle_bytes(&bytes, &v, &WHO, before.as_deref(), T0 + 10_000).unwrap_err(),
        err
    );
    assert_eq!(held.as_ref().map(SavedState::to_bytes), before);
    let good = honest.bundle(held.as_ref(), T0 + 10_000);
    verify_bundle(&good, &v, &WHO, held.as_ref(), T0 + 10_000).expect("the old state still verifies honest bundles");
}

fn first_state(t: &TestLog) -> SavedState {
    verify_bundle(&t.bundle(None, T0 + 10_000), &t.verifier(), &WHO, None, T0 + 10_000)
        .unwrap()
        .into_new_state()
}

// ------------------------------------------------------------------------------------------
// Happy paths
// ------------------------------------------------------------------------------------------

#[test]
fn honest_bundles_verify_and_advance_the_state() {
    let mut t = five();
    let v = t.verifier();
    let b = t.bundle(None, T0 + 10_000);
    let first = verify_bundle(&b, &v, &WHO, None, T0 + 10_000).unwrap();
    assert_eq!(first.receipts().len(), 5);
    assert_eq!(first.new_receipts().len(), 5);
    for (i, r) in first.receipts().iter().enumerate() {
        assert_eq!(r.counter(), i as u64 + 1);
        assert_eq!(r.leaf_hash(), t.chain[i].leaf_hash());
        assert!(matches!(r, ReceiptView::Full(f) if f.body().purpose == "loan-approval"));
    }
    let s1 = first.new_state().clone();
    assert_eq!((s1.tree_size(), s1.counter()), (t.log.size(), 5));
    assert_eq!(s1.head(), Some(&t.chain[4].leaf_hash()));
    assert_eq!(s1.root(), &t.log.root());

    // The same checkpoint again: nothing new, no consistency proof needed.
    let again = verify_bundle(&t.bundle(Some(&s1), T0 + 10_000), &v, &WHO, Some(&s1), T0 + 10_000).unwrap();
    assert_eq!(again.new_receipts().len(), 0);
    assert_eq!(again.new_state(), &s1);

    // More traffic and two more receipts.
    t.noise(7);
    t.add();
    t.noise(3);
    t.add();
    let b2 = t.bundle(Some(&s1), T0 + 10_000);
    assert_eq!(b2.consistency.as_ref().unwrap().from_size, s1.tree_size());
    let second = verify_bundle(&b2, &v, &WHO, Some(&s1), T0 + 10_000).unwrap();
    assert_eq!(second.receipts().len(), 7);
    assert_eq!(
        second
            .new_receipts()
            .iter()
            .map(ReceiptView::counter)
            .collect::<Vec<_>>(),
        [6, 7]
    );
    assert_eq!(second.new_state().counter(), 7);
    assert_eq!(second.checkpoint().size(), t.log.size());
}

#[test]
fn a_subject_without_receipts_gets_an_empty_bundle() {
    let mut t = TestLog::new();
    t.noise(4);
    let v = t.verifier();
    let s = verify_bundle(&t.bundle(None, T0), &v, &WHO, None, T0)
        .unwrap()
        .into_new_state();
    assert_eq!((s.counter(), s.head()), (0, None));
    t.noise(4);
    t.add();
    let ok = verify_bundle(&t.bundle(Some(&s), T0), &v, &WHO, Some(&s), T0).unwrap();
    assert_eq!(ok.new_receipts().len(), 1);
}

#[test]
fn bundle_and_state_text_forms_round_trip() {
    let t = five();
    let b = t.bundle(None, T0 + 10_000);
    let text = b.to_text();
    assert!(text.starts_with("cs1.bundle."));
    assert_eq!(Bundle::from_text(&format!("{text}\n")).unwrap(), b);
    let s = first_state(&t);
    let st = s.to_text();
    assert!(st.starts_with("cs1.log-state."));
    assert_eq!(SavedState::from_text(&st).unwrap(), s);
    assert_eq!(SavedState::from_bytes(&s.to_bytes()).unwrap(), s);
}

#[test]
fn sealed_entries_count_in_the_chain_and_open_on_their_date() {
    let mut t = TestLog::new();
    t.add();
    t.noise(2);
    let until = T0 + 1_000_000;
    let sealed = t.add_sealed(until);
    t.noise(2);
    t.add();
    let v = t.verifier();

    // Before the date: shown sealed, counted, chained to by receipt 3.
    let b = t.bundle(None, until - 1);
    assert_eq!(sealed_counter(&b.entries[1]), Some(2));
    let ok = verify_bundle(&b, &v, &WHO, None, until - 1).unwrap();
    assert_eq!(
        ok.receipts()[1],
        ReceiptView::Sealed {
            counter: 2,
            index: sealed.body().index,
            leaf_hash: sealed.leaf_hash(),
            sealed_until: until
        }
    );
    let s = ok.into_new_state();
    assert_eq!(s.counter(), 3);

    // On the date: in full, and the state moves on.
    t.noise(1);
    let b = t.bundle(Some(&s), until);
    assert!(matches!(b.entries[1], BundleEntry::Full { .. }));
    let ok = verify_bundle(&b, &v, &WHO, Some(&s), until).unwrap();
    assert!(matches!(&ok.receipts()[1], ReceiptView::Full(r) if r.body().disclose_after == Some(until)));
}

#[test]
fn a_sealed_head_must_be_disclosed_as_the_same_receipt() {
    let mut t = TestLog::new();
    t.add();
    let until = T0 + 1_000;
    t.add_sealed(until);
    let s = verify_bundle(&t.bundle(None, T0), &t.verifier(), &WHO, None, T0)
        .unwrap()
        .into_new_state();
    assert_eq!(s.head(), Some(&t.chain[1].leaf_hash()));
    // After the date the log shows another receipt 2 (appended later, chained to 1).
    let mut forged = t.clone();
    forged.chain.pop();
    forged.noise(1);
    forged.add();
    let b = forged.bundle(Some(&s), until);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, Some(&s), until).unwrap_err(),
        BundleError::HeadMismatch { counter: 2 }
    );
    // The genuine receipt 2, disclosed on its date, verifies.
    verify_bundle(&t.bundle(Some(&s), until), &t.verifier(), &WHO, Some(&s), until).unwrap();
}

// ------------------------------------------------------------------------------------------
// Malformed input
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_truncated() {
    let t = five();
    let bytes = t.bundle(None, T0 + 10_000).to_bytes();
    for cut in [0, 1, 10, bytes.len() / 2, bytes.len() - 1] {
        let e = verify_bundle_bytes(&bytes[..cut], &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err();
        assert!(
            matches!(e, BundleError::Malformed(FormatError::Truncated { what: "bundle" })),
            "cut at {cut}: {e:?}"
        );
    }
}

#[test]
fn bundle_trailing_bytes_and_other_version() {
    let t = five();
    let mut bytes = t.bundle(None, T0 + 10_000).to_bytes();
    bytes.push(0);
    assert!(matches!(
        verify_bundle_bytes(&bytes, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::Malformed(FormatError::TrailingBytes {
            what: "bundle",
            count: 1
        })
    ));
    bytes.pop();
    // Version 1 (before the subject map) is no longer read.
    bytes[0] = 1;
    assert!(matches!(
        verify_bundle_bytes(&bytes, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::Malformed(FormatError::UnsupportedVersion { found: 1, .. })
    ));
    bytes[0] = 6;
    assert!(matches!(
        verify_bundle_bytes(&bytes, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::Malformed(FormatError::UnsupportedVersion { found: 6, .. })
    ));
    // Versions 2 and 3 (without the VRF proof: nothing ties them to the subject's id) and 4
    // (receipts of version 2, sealed entries with a leaf hash bound to nothing) are refused,
    // with the version named.
    for old in [2, 3, 4] {
        bytes[0] = old;
        let e = verify_bundle_bytes(&bytes, &t.verifier(), &WHO, None, T0).unwrap_err();
        assert!(
            matches!(e, BundleError::Malformed(FormatError::UnsupportedVersion { found, .. }) if found == old),
            "{e:?}"
        );
    }
    bytes[0] = BUNDLE_VERSION;
    assert!(verify_bundle_bytes(&bytes, &t.verifier(), &WHO, None, T0 + 10_000).is_ok());
}

// ------------------------------------------------------------------------------------------
// Whose bundle: the VRF proof of the subject's blind id
// ------------------------------------------------------------------------------------------

/// The other subject's honest bundle (its receipts, its map entry, its own valid VRF proof),
/// handed to the subject as its own: refused before anything else is looked at.
#[test]
fn bundle_of_other_subject_refused() {
    let t = five();
    let b = build_bundle(
        &t.log,
        &t.map,
        &OTHER,
        &t.other_chain.iter().map(|r| r.as_bytes().to_vec()).collect::<Vec<_>>(),
        &t.checkpoint(),
        None,
        T0,
    )
    .unwrap()
    .with_vrf_proof(&vrf_proof(OTHER_ID));
    let other = BundleSubject::new(SubjectId::parse(OTHER_ID).unwrap(), vrf_public());
    verify_bundle(&b, &t.verifier(), &other, None, T0 + 10_000)
        .expect("the other subject's own bundle verifies for it");
    expect_failure(
        &t,
        &b,
        None,
        BundleError::VrfProofInvalid(credseal_vrf::VrfError::ProofMismatch),
    );
    // Its receipts with the subject's proof: the receipts name another blind id.
    let b = b.with_vrf_proof(&PROOF);
    expect_failure(&t, &b, None, BundleError::ReceiptForOtherSubject { counter: 1 });
}

/// An empty bundle with a genuine proof of absence for another blind id (the zero id, or
/// another subject's): refused, whatever blind id the absence is about.
#[test]
fn empty_bundle_with_absence_proof_refused() {
    let t = five();
    // The absence of the zero id, with the zero id's "proof": no valid proof exists.
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.clear();
    b.map = t.map.prove(&BlindId([0; 32]));
    b.vrf_proof = vec![0; credseal_vrf::PROOF_LEN];
    let e = verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err();
    assert!(matches!(e, BundleError::VrfProofInvalid(_)), "{e:?}");
    // No proof at all.
    b.vrf_proof.clear();
    expect_failure(&t, &b, None, BundleError::VrfProofMissing);
    // A proof for a subject that has no receipts, with its genuine absence proof.
    let nobody = "110105194912310037";
    let p = vrf_proof(nobody);
    b.map = t.map.prove(&BlindId(p.proof_to_hash().blind_id_bytes()));
    let b = b.with_vrf_proof(&p);
    expect_failure(
        &t,
        &b,
        None,
        BundleError::VrfProofInvalid(credseal_vrf::VrfError::ProofMismatch),
    );
    // The subject's own proof with the other blind id's absence: the map proof is not its.
    let b = b.with_vrf_proof(&PROOF);
    expect_failure(&t, &b, None, BundleError::MapProofForOtherSubject);
}

/// The VRF proof flipped anywhere, truncated, or checked against another VRF key.
#[test]
fn bundle_vrf_proof_tampered_or_other_key() {
    let t = five();
    for i in [0, 31, 32, 47, 48, 79] {
        let mut b = t.bundle(None, T0 + 10_000);
        b.vrf_proof[i] ^= 1;
        let e = verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err();
        assert!(matches!(e, BundleError::VrfProofInvalid(_)), "flip at {i}: {e:?}");
    }
    let mut b = t.bundle(None, T0 + 10_000);
    b.vrf_proof.pop();
    expect_failure(
        &t,
        &b,
        None,
        BundleError::VrfProofInvalid(credseal_vrf::VrfError::ProofLength { len: 79 }),
    );
    let stranger = BundleSubject::new(
        SubjectId::parse(SUBJECT_ID).unwrap(),
        VrfSecretKey::from_seed([6; 32]).public_key(),
    );
    assert_eq!(
        verify_bundle(
            &t.bundle(None, T0 + 10_000),
            &t.verifier(),
            &stranger,
            None,
            T0 + 10_000
        )
        .unwrap_err(),
        BundleError::VrfProofInvalid(credseal_vrf::VrfError::ProofMismatch)
    );
}

#[test]
fn bundle_receipt_bytes_truncated_at_2() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    if let BundleEntry::Full { receipt, .. } = &mut b.entries[1] {
        receipt.truncate(50);
    }
    expect_failure(
        &t,
        &b,
        None,
        BundleError::ReceiptMalformed {
            counter: 2,
            error: FormatError::Truncated { what: "receipt" },
        },
    );
}

// ------------------------------------------------------------------------------------------
// The subject's chain
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_reordered_2_3() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.swap(1, 2);
    expect_failure(&t, &b, None, BundleError::ChainReordered { expected: 2, found: 3 });
}

#[test]
fn bundle_reordered_last_to_front() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    let last = b.entries.pop().unwrap();
    b.entries.insert(0, last);
    expect_failure(&t, &b, None, BundleError::ChainReordered { expected: 1, found: 5 });
}

#[test]
fn bundle_receipt_removed_at_3() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.remove(2);
    expect_failure(&t, &b, None, BundleError::ChainGap { expected: 3, found: 4 });
}

#[test]
fn bundle_receipt_removed_at_1() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.remove(0);
    expect_failure(&t, &b, None, BundleError::ChainGap { expected: 1, found: 2 });
}

#[test]
fn bundle_receipt_duplicated_at_2() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    let dup = b.entries[1].clone();
    b.entries.insert(2, dup);
    expect_failure(&t, &b, None, BundleError::ChainDuplicate { counter: 2 });
}

#[test]
fn bundle_receipt_altered_at_4() {
    // A byte of receipt 4 changed: its signature fails.
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    if let BundleEntry::Full { receipt, .. } = &mut b.entries[3] {
        receipt[20] ^= 1;
    }
    expect_failure(&t, &b, None, BundleError::ReceiptBadSignature { counter: 4 });
}

#[test]
fn bundle_receipt_altered_and_resigned_at_4() {
    // The platform (holding the log key) re-signs an altered receipt 4: the log does not
    // hold it.
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    let mut altered = t.chain[3].body().clone();
    altered.purpose = "law-enforcement".into();
    let r = t.signer().sign_receipt(&altered).unwrap();
    if let BundleEntry::Full { receipt, .. } = &mut b.entries[3] {
        *receipt = r.into_bytes();
    }
    expect_failure(&t, &b, None, BundleError::ReceiptNotIncluded { counter: 4 });
}

#[test]
fn bundle_receipt_replaced_and_relogged_at_3() {
    // The platform appends an altered receipt 3 to the log and shows it instead of the
    // original: receipt 4 does not chain to it.
    let t = five();
    let mut forged = t.clone();
    let mut altered = t.chain[2].body().clone();
    altered.purpose = "law-enforcement".into();
    altered.index = forged.log.size();
    let r = forged.signer().sign_receipt(&altered).unwrap();
    forged.log.append(&r.leaf_data());
    forged.chain[2] = r;
    let b = forged.bundle(None, T0 + 10_000);
    let v = t.verifier();
    assert_eq!(
        verify_bundle(&b, &v, &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::ChainBroken { counter: 4 }
    );
}

#[test]
fn bundle_history_rewritten_at_saved_head() {
    // The subject saw receipts 1..5. Later the platform shows 1..4 and a different 5
    // (appended later, chained to 4): the receipt at the saved counter changed.
    let t = five();
    let s = first_state(&t);
    let mut forged = t.clone();
    forged.chain.pop();
    forged.noise(1);
    forged.add();
    let b = forged.bundle(Some(&s), T0 + 10_000);
    expect_failure(&t, &b, Some(&s), BundleError::HeadMismatch { counter: 5 });
}

#[test]
fn bundle_tail_withheld() {
    // The subject saw receipts 1..5; the new bundle stops at 4.
    let mut t = five();
    let s = first_state(&t);
    t.noise(3);
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    b.entries.pop();
    // The checkpoint's subject map says 5; this check comes before the saved state's.
    expect_failure(&t, &b, Some(&s), BundleError::ReceiptsWithheld { committed: 5, got: 4 });
    // A log that also commits a false map is still caught by the saved state.
    let mut lying = t.clone();
    lying.chain.pop();
    let head = lying.chain[3].clone();
    lying.map_set(&head);
    let b = lying.bundle(Some(&s), T0 + 10_000);
    expect_failure(&t, &b, Some(&s), BundleError::TruncatedHistory { saved: 5, got: 4 });
}

// ------------------------------------------------------------------------------------------
// Completeness: the subject map committed in the checkpoint
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_newest_withheld() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.pop();
    let err = BundleError::ReceiptsWithheld { committed: 5, got: 4 };
    assert_eq!(
        err.to_string(),
        "the checkpoint commits to 5 receipt(s) for this subject but the bundle shows 4: receipt 5 withheld"
    );
    expect_failure(&t, &b, None, err);
    // And against a saved state of an earlier checkpoint (receipts 1..4 seen).
    let mut early = TestLog::new();
    for _ in 0..4 {
        early.noise(2);
        early.add();
    }
    let s = first_state(&early);
    let mut t = early.clone();
    t.noise(2);
    t.add();
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    b.entries.pop();
    expect_failure(&t, &b, Some(&s), BundleError::ReceiptsWithheld { committed: 5, got: 4 });
}

#[test]
fn bundle_sealed_newest_withheld() {
    // A delayed-disclosure receipt counts in the map like any other: withholding it, even
    // before its date, is caught.
    let mut t = five();
    let until = T0 + 1_000_000;
    t.add_sealed(until);
    let mut b = t.bundle(None, T0 + 10_000);
    assert_eq!(sealed_counter(&b.entries[5]), Some(6));
    verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).expect("honest bundle");
    b.entries.pop();
    expect_failure(&t, &b, None, BundleError::ReceiptsWithheld { committed: 6, got: 5 });
}

#[test]
fn bundle_last_three_withheld() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.truncate(2);
    let err = BundleError::ReceiptsWithheld { committed: 5, got: 2 };
    assert!(err.to_string().ends_with("receipts 3 to 5 withheld"), "{err}");
    expect_failure(&t, &b, None, err);
}

#[test]
fn bundle_chain_withheld_nonmembership() {
    let t = five();
    // The whole chain withheld, with a forged proof of absence: the path's end emptied.
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.clear();
    b.map.leaf = None;
    expect_failure(&t, &b, None, BundleError::MapAbsenceNotProven);
    // ... or the path cut short above the subject's leaf.
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.clear();
    b.map.leaf = None;
    b.map.siblings.pop();
    expect_failure(&t, &b, None, BundleError::MapAbsenceNotProven);
    // The whole chain withheld with the honest map proof: all five withheld.
    let mut b = t.bundle(None, T0 + 10_000);
    b.entries.clear();
    let err = BundleError::ReceiptsWithheld { committed: 5, got: 0 };
    assert!(err.to_string().ends_with("all of them withheld"), "{err}");
    expect_failure(&t, &b, None, err);
    // A genuine proof of absence verifies for a subject that has no receipts.
    let mut empty = TestLog::new();
    empty.noise(5);
    let b = empty.bundle(None, T0);
    assert!(b.map.leaf.is_none() || b.map.leaf.unwrap().key != map_key(&SUBJECT));
    verify_bundle(&b, &empty.verifier(), &WHO, None, T0).expect("absence proven");
}

#[test]
fn bundle_map_proof_other_subject() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.map = t.map.prove(&OTHER);
    expect_failure(&t, &b, None, BundleError::MapProofForOtherSubject);
    // Also when the chain is withheld with it.
    b.entries.clear();
    expect_failure(&t, &b, None, BundleError::MapProofForOtherSubject);
}

#[test]
fn bundle_map_value_altered() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.map.leaf.as_mut().unwrap().value.count = 4;
    b.entries.pop();
    expect_failure(&t, &b, None, BundleError::MapProofInvalid);
    let mut b = t.bundle(None, T0 + 10_000);
    b.map.siblings[0][0] ^= 1;
    expect_failure(&t, &b, None, BundleError::MapProofInvalid);
}

#[test]
fn bundle_map_head_differs() {
    // A log that commits (and signs) a map whose head for the subject is another leaf: the
    // subject sees that its newest receipt is not the committed one.
    let t = five();
    let mut lying = t.clone();
    let index = t.chain[4].body().index;
    lying.map.set(
        &SUBJECT,
        MapValue {
            count: 5,
            head: [0xee; 32],
            index,
        },
    );
    let mut b = t.bundle(None, T0 + 10_000);
    b.map = lying.map.prove(&SUBJECT);
    b.checkpoint = lying.checkpoint();
    expect_failure(&t, &b, None, BundleError::MapHeadMismatch { counter: 5 });
    // A map that says the subject has none.
    let mut none = TestLog::new();
    none.log = t.log.clone();
    let mut b = t.bundle(None, T0 + 10_000);
    b.map = none.map.prove(&SUBJECT);
    b.checkpoint = none.checkpoint();
    expect_failure(&t, &b, None, BundleError::MapSaysNoReceipts { got: 5 });
}

#[test]
fn bundle_checkpoint_without_map_root() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.checkpoint = t
        .signer()
        .sign_checkpoint(&Checkpoint::new(ORIGIN, t.log.size(), t.log.root()).unwrap());
    expect_failure(&t, &b, None, BundleError::MapRootMissing);
}

#[test]
fn bundle_receipt_withheld_earlier() {
    // The first bundle hid receipt 5, already in the log. The next bundle shows it: the
    // subject learns the earlier bundle was incomplete.
    let t = five();
    // Only a log that also commits a false map can do that (auditors catch the map; the
    // subject catches the omission at its next bundle).
    let mut hiding = t.clone();
    hiding.chain.pop();
    let head = hiding.chain[3].clone();
    hiding.map_set(&head);
    let s = verify_bundle(&hiding.bundle(None, T0), &t.verifier(), &WHO, None, T0)
        .unwrap()
        .into_new_state();
    assert_eq!(s.counter(), 4);
    let b = t.bundle(Some(&s), T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, Some(&s), T0 + 10_000).unwrap_err(),
        BundleError::WithheldEarlier {
            counter: 5,
            index: t.chain[4].body().index,
            saved_size: t.log.size()
        }
    );
}

#[test]
fn bundle_receipt_for_other_subject_at_2() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    let other = t.other_chain[0].body().index;
    b.entries[1] = BundleEntry::Full {
        receipt: t.other_chain[0].as_bytes().to_vec(),
        inclusion: t.log.prove_record(t.log.size(), other).unwrap(),
    };
    expect_failure(&t, &b, None, BundleError::ReceiptForOtherSubject { counter: 2 });
}

#[test]
fn bundle_receipt_back_dated_at_3() {
    let mut t = TestLog::new();
    t.add();
    t.add();
    let mut b3 = t.next_body(None);
    b3.time = t.chain[1].body().time - 1;
    t.append_subject(b3);
    let b = t.bundle(None, T0);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::BackDated { counter: 3 }
    );
}

#[test]
fn bundle_receipt_out_of_log_order_at_2() {
    // Receipt 2 sits at leaf 0, receipt 1 at leaf 1.
    let mut t = TestLog::new();
    let s = t.signer();
    let r1 = s.sign_receipt(&body(1, T0, *SUBJECT, 1, None)).unwrap();
    let r2 = s
        .sign_receipt(&body(0, T0 + 1, *SUBJECT, 2, Some(r1.leaf_hash())))
        .unwrap();
    t.log.append(&r2.leaf_data());
    t.log.append(&r1.leaf_data());
    t.map_set(&r2);
    t.chain = vec![r1, r2];
    let b = t.bundle(None, T0);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::OutOfLogOrder { counter: 2 }
    );
}

#[test]
fn bundle_receipt_not_chained_at_1() {
    let mut t = TestLog::new();
    let r = t
        .signer()
        .sign_receipt(&ReceiptBody {
            chain: None,
            ..body(0, T0, *SUBJECT, 1, None)
        })
        .unwrap();
    t.log.append(&r.leaf_data());
    let b = Bundle {
        origin: ORIGIN.into(),
        entries: vec![BundleEntry::Full {
            receipt: r.into_bytes(),
            inclusion: vec![],
        }],
        checkpoint: t.checkpoint(),
        consistency: None,
        map: t.map.prove(&SUBJECT),
        handovers: vec![],
        vrf_proof: PROOF.as_bytes().to_vec(),
    };
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::ReceiptNotChained { counter: 1 }
    );
}

// ------------------------------------------------------------------------------------------
// Keys and signatures
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_signed_by_other_key() {
    // Another key (same origin) runs an identical log: its checkpoint carries no signature
    // of the log key.
    let honest = five();
    let mut other = TestLog::with_seed([99; 32]);
    for _ in 0..5 {
        other.noise(2);
        other.add();
    }
    let b = other.bundle(None, T0 + 10_000);
    expect_failure(&honest, &b, None, BundleError::CheckpointNotSigned);
}

#[test]
fn bundle_receipt_signed_by_other_key_at_2() {
    // The checkpoint is genuine, receipt 2 is signed by another key (and logged).
    let mut t = TestLog::new();
    t.add();
    let b2 = t.next_body(None);
    let r = LogSigner::from_seed(ORIGIN, &[99; 32])
        .unwrap()
        .sign_receipt(&b2)
        .unwrap();
    t.log.append(&r.leaf_data());
    t.chain.push(r);
    t.add();
    let b = t.bundle(None, T0);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::ReceiptBadSignature { counter: 2 }
    );
}

#[test]
fn bundle_checkpoint_forged_signature() {
    // A signature line with the log's name and key id that does not verify.
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.checkpoint = b.checkpoint.replacen(
        &format!("\n{}\n", t.log.size()),
        &format!("\n{}\n", t.log.size() + 1),
        1,
    );
    expect_failure(&t, &b, None, BundleError::CheckpointBadSignature);
}

#[test]
fn bundle_checkpoint_malformed() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.checkpoint = b.checkpoint.replacen("\n\n", "\n", 1);
    expect_failure(
        &t,
        &b,
        None,
        BundleError::CheckpointMalformed(FormatError::C2sp(credseal_c2sp::FormatError::Note {
            offset: b.checkpoint.len(),
            reason: "no blank line before the signatures",
        })),
    );
}

#[test]
fn bundle_for_other_origin() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    b.origin = "other.example/log".into();
    expect_failure(
        &t,
        &b,
        None,
        BundleError::CheckpointOrigin {
            expected: ORIGIN.into(),
            found: "other.example/log".into(),
        },
    );
    // A checkpoint for another origin, signed by the log key.
    let mut b = t.bundle(None, T0 + 10_000);
    b.checkpoint = t
        .signer()
        .sign_checkpoint(&Checkpoint::new("other.example/log", t.log.size(), t.log.root()).unwrap());
    expect_failure(
        &t,
        &b,
        None,
        BundleError::CheckpointOrigin {
            expected: ORIGIN.into(),
            found: "other.example/log".into(),
        },
    );
}

// ------------------------------------------------------------------------------------------
// Proofs and checkpoints
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_proof_for_other_tree_size() {
    // Inclusion proofs made for a tree twice as large as the checkpoint's.
    let mut t = five();
    let size = t.log.size();
    let cp = t.checkpoint();
    let map_then = t.map.clone();
    t.noise(size as usize);
    let mut b = build_bundle(&t.log, &map_then, &SUBJECT, &t.receipts(), &cp, None, T0)
        .unwrap()
        .with_vrf_proof(&PROOF);
    for (e, r) in b.entries.iter_mut().zip(&t.chain) {
        if let BundleEntry::Full { inclusion, .. } = e {
            *inclusion = t.log.prove_record(2 * size, r.body().index).unwrap();
        }
    }
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::ProofWrongSize {
            counter: Some(1),
            expected: record_proof_len(size, t.chain[0].body().index),
            found: record_proof_len(2 * size, t.chain[0].body().index),
        }
    );
}

#[test]
fn bundle_inclusion_proof_of_another_receipt_at_3() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    let p2 = match &b.entries[1] {
        BundleEntry::Full { inclusion, .. } => inclusion.clone(),
        _ => unreachable!(),
    };
    if let BundleEntry::Full { inclusion, .. } = &mut b.entries[2] {
        *inclusion = p2;
    }
    expect_failure(&t, &b, None, BundleError::ReceiptNotIncluded { counter: 3 });
}

#[test]
fn bundle_inclusion_sibling_flipped_at_5() {
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    if let BundleEntry::Full { inclusion, .. } = &mut b.entries[4] {
        inclusion[0][0] ^= 1;
    }
    expect_failure(&t, &b, None, BundleError::ReceiptNotIncluded { counter: 5 });
}

#[test]
fn checkpoint_older_than_saved() {
    let mut t = five();
    let old = t.bundle(None, T0 + 10_000);
    t.noise(4);
    t.add();
    let s = first_state(&t);
    expect_failure(
        &t,
        &old,
        Some(&s),
        BundleError::CheckpointOlder {
            saved: t.log.size(),
            got: old_size(&old),
        },
    );
}

fn old_size(b: &Bundle) -> u64 {
    Checkpoint::parse(SignedNote::parse(&b.checkpoint).unwrap().text())
        .unwrap()
        .size()
}

#[test]
fn checkpoint_fork() {
    // The subject saw the log at size N. The platform then shows a log (signed with the
    // same key) that rewrote history before N: its consistency proof from N fails.
    let t = five();
    let s = first_state(&t);
    let n = s.tree_size();
    let mut forked = TestLog::new();
    forked.noise(3); // different first leaves
    for _ in 0..5 {
        forked.add();
    }
    forked.noise((n + 4 - forked.log.size()) as usize);
    assert!(forked.log.size() > n);
    let b = forked.bundle(Some(&s), T0 + 10_000);
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::Fork {
            saved: n,
            got: forked.log.size(),
        },
    );
}

#[test]
fn checkpoint_fork_same_size() {
    let t = five();
    let s = first_state(&t);
    let mut forked = TestLog::new();
    forked.noise(1);
    for _ in 0..5 {
        forked.add();
    }
    forked.noise((s.tree_size() - forked.log.size()) as usize);
    assert_eq!(forked.log.size(), s.tree_size());
    let b = forked.bundle(Some(&s), T0 + 10_000);
    assert!(b.consistency.as_ref().is_some_and(|c| c.proof.is_empty()));
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::Fork {
            saved: s.tree_size(),
            got: s.tree_size(),
        },
    );
    let mut b = b;
    b.consistency = None;
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::Fork {
            saved: s.tree_size(),
            got: s.tree_size(),
        },
    );
}

#[test]
fn bundle_consistency_missing() {
    let mut t = five();
    let s = first_state(&t);
    t.noise(2);
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    b.consistency = None;
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::ConsistencyFromWrongSize {
            saved: s.tree_size(),
            found: None,
        },
    );
}

#[test]
fn bundle_consistency_from_other_size() {
    let mut t = five();
    let s = first_state(&t);
    t.noise(9);
    let b = build_bundle(
        &t.log,
        &t.map,
        &SUBJECT,
        &t.receipts(),
        &t.checkpoint(),
        Some(s.tree_size() - 1),
        T0,
    )
    .unwrap()
    .with_vrf_proof(&PROOF);
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::ConsistencyFromWrongSize {
            saved: s.tree_size(),
            found: Some(s.tree_size() - 1),
        },
    );
}

#[test]
fn bundle_consistency_proof_truncated() {
    let mut t = five();
    let s = first_state(&t);
    t.noise(9);
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    let c = b.consistency.as_mut().unwrap();
    let len = c.proof.len();
    c.proof.pop();
    expect_failure(
        &t,
        &b,
        Some(&s),
        BundleError::ProofWrongSize {
            counter: None,
            expected: len,
            found: len - 1,
        },
    );
}

// ------------------------------------------------------------------------------------------
// Sealed entries
// ------------------------------------------------------------------------------------------

#[test]
fn bundle_sealed_entry_overdue() {
    // The platform keeps receipt 2 sealed past its date.
    let mut t = TestLog::new();
    t.add();
    let until = T0 + 500;
    t.add_sealed(until);
    t.add();
    let b = t.bundle(None, until - 1);
    assert!(verify_bundle(&b, &t.verifier(), &WHO, None, until - 1).is_ok());
    // Within the grace period (clock skew, transfer) it is still accepted; not after.
    assert!(verify_bundle(&b, &t.verifier(), &WHO, None, until + SEAL_GRACE_SECS - 1).is_ok());
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, until + SEAL_GRACE_SECS).unwrap_err(),
        BundleError::SealedEntryOverdue {
            counter: 2,
            sealed_until: until
        }
    );
}

#[test]
fn bundle_sealed_entry_with_second_header() {
    // The log key holder signs a second header for the sealed receipt's index (a later
    // disclosure date, the rest unchanged) and ships it with the genuine inclusion proof:
    // the verifier computes the leaf hash from the header and signature, which is not the
    // leaf in the log.
    let mut t = TestLog::new();
    t.add();
    let until = T0 + 500;
    t.add_sealed(until);
    t.add();
    let mut b = t.bundle(None, T0);
    let BundleEntry::Sealed { header, signature, .. } = &mut b.entries[1] else {
        panic!("entry 1 is sealed");
    };
    let mut h = ReceiptHeader::decode(header).unwrap();
    h.disclose_after = Some(until + 1);
    *header = h.encode();
    let key = ed25519_dalek::SigningKey::from_bytes(t.seeds.last().unwrap());
    *signature = ed25519_dalek::Signer::sign(&key, &receipt_signed_bytes(header))
        .to_bytes()
        .to_vec();
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0).unwrap_err(),
        BundleError::ReceiptNotIncluded { counter: 2 }
    );
}

/// Entry `i` of `b`, a full receipt, rewritten as a sealed entry of the same receipt (its
/// genuine signed header, signature and inclusion proof): what a relay can do
/// without any key.
fn reseal(b: &mut Bundle, i: usize) {
    let BundleEntry::Full { receipt, inclusion } = b.entries[i].clone() else {
        panic!("entry {i} is not full");
    };
    let r = UnverifiedReceipt::parse(&receipt).unwrap();
    b.entries[i] = BundleEntry::Sealed {
        header: r.header_bytes().to_vec(),
        signature: r.signature().to_vec(),
        inclusion,
    };
}

#[test]
fn bundle_ordinary_receipt_resealed_at_2() {
    // A relay shows an ordinary receipt as sealed: its signed header has no disclosure date.
    let t = five();
    let mut b = t.bundle(None, T0 + 10_000);
    reseal(&mut b, 1);
    expect_failure(&t, &b, None, BundleError::SealedWithoutDelay { counter: 2 });
}

#[test]
fn bundle_sealed_header_date_rewritten_at_2() {
    // The signed header's disclosure date moved to 2100: the signature no longer verifies.
    let mut t = TestLog::new();
    t.add();
    t.add_sealed(T0 + 500);
    t.add();
    let mut b = t.bundle(None, T0);
    let BundleEntry::Sealed { header, .. } = &mut b.entries[1] else {
        panic!("entry 2 is not sealed");
    };
    let mut h = ReceiptHeader::decode(header).unwrap();
    h.disclose_after = Some(4_102_444_800);
    h.time = 4_102_444_800 - 86_400;
    *header = h.encode();
    expect_failure(&t, &b, None, BundleError::ReceiptBadSignature { counter: 2 });
}

#[test]
fn bundle_sealed_entry_of_another_subject_at_2() {
    // Another subject's genuine sealed header in the subject's chain.
    let mut t = TestLog::new();
    t.add();
    let until = T0 + 500;
    t.add_sealed(until);
    let b = t.bundle(None, T0);
    let BundleEntry::Sealed { header, .. } = &b.entries[1] else {
        panic!("entry 2 is not sealed");
    };
    // Presented as the other subject's bundle, with that subject's genuine VRF proof.
    let other = BundleSubject::new(SubjectId::parse(OTHER_ID).unwrap(), vrf_public());
    let as_other = b.clone().with_vrf_proof(&vrf_proof(OTHER_ID));
    assert_eq!(
        verify_bundle(&as_other, &t.verifier(), &other, None, T0).unwrap_err(),
        BundleError::ReceiptForOtherSubject { counter: 1 }
    );
    assert_eq!(ReceiptHeader::decode(header).unwrap().subject, Some(*SUBJECT));
}

#[test]
fn bundle_seen_in_full_then_resealed_saved_state() {
    // Receipt 2 was shown in full on its date; within the grace period a relay shows the
    // older, sealed copy again. The saved state remembers it saw receipt 2 in full.
    let mut t = TestLog::new();
    t.add();
    let until = T0 + 500;
    t.add_sealed(until);
    t.add();
    let sealed_copy = t.bundle(None, until - 1);
    let s = verify_bundle(&t.bundle(None, until), &t.verifier(), &WHO, None, until)
        .unwrap()
        .into_new_state();
    assert!(s.sealed().is_empty());
    assert_eq!(
        verify_bundle(&sealed_copy, &t.verifier(), &WHO, Some(&s), until + 10).unwrap_err(),
        BundleError::ResealedAfterSeenInFull { counter: 2 }
    );
    // Without the saved state the sealed copy is still within its grace period.
    verify_bundle(&sealed_copy, &t.verifier(), &WHO, None, until + 10).unwrap();
    // A state that saw it sealed accepts it sealed again, and keeps the counter.
    let s2 = verify_bundle(&sealed_copy, &t.verifier(), &WHO, None, until - 1)
        .unwrap()
        .into_new_state();
    assert_eq!(s2.sealed(), &[2]);
    let again = verify_bundle(&sealed_copy, &t.verifier(), &WHO, Some(&s2), until + 10).unwrap();
    assert_eq!(again.new_state().sealed(), &[2]);
    let back = SavedState::from_bytes(&s2.to_bytes()).unwrap();
    assert_eq!(back, s2);
}

// ------------------------------------------------------------------------------------------
// Saved state
// ------------------------------------------------------------------------------------------

#[test]
fn saved_state_corrupt() {
    let t = five();
    let s = first_state(&t);
    let bytes = s.to_bytes();
    let b = t.bundle(Some(&s), T0 + 10_000).to_bytes();
    let v = t.verifier();
    // Every single-bit flip is caught by the checksum.
    for i in 0..bytes.len() {
        let mut bad = bytes.clone();
        bad[i] ^= 0x10;
        assert_eq!(
            verify_bundle_bytes(&b, &v, &WHO, Some(&bad), T0 + 10_000).unwrap_err(),
            BundleError::SavedStateCorrupt(FormatError::Checksum),
            "flip at {i}"
        );
    }
    // Truncated.
    for cut in [0, 10, bytes.len() - 1] {
        assert!(matches!(
            verify_bundle_bytes(&b, &v, &WHO, Some(&bytes[..cut]), T0).unwrap_err(),
            BundleError::SavedStateCorrupt(_)
        ));
    }
    assert_eq!(
        SavedState::from_text("cs1.bundle.AAAA").unwrap_err(),
        FormatError::WrongPrefix {
            expected: "cs1.log-state."
        }
    );
}

#[test]
fn saved_state_inconsistent_fields_are_corrupt() {
    // States with a valid checksum but contradictory fields (written by a buggy tool).
    use serde::Serialize;
    #[derive(Serialize)]
    struct Repr<'a> {
        origin: &'a str,
        vkey: &'a str,
        tree_size: u64,
        root: Hash,
        counter: u64,
        head: Option<Hash>,
    }
    let t = five();
    let vkey = t.verifier().vkey();
    let make = |r: Repr| {
        let mut out = vec![1u8];
        out.extend(postcard::to_allocvec(&r).unwrap());
        let mut m = b"credseal:v1:log-state\0".to_vec();
        m.extend_from_slice(&out);
        out.extend_from_slice(ring::digest::digest(&ring::digest::SHA256, &m).as_ref());
        out
    };
    let ok = Repr {
        origin: ORIGIN,
        vkey: &vkey,
        tree_size: 10,
        root: [1; 32],
        counter: 2,
        head: Some([2; 32]),
    };
    assert!(SavedState::from_bytes(&make(ok)).is_ok());
    for (r, reason) in [
        (
            Repr {
                origin: "other",
                vkey: &vkey,
                tree_size: 10,
                root: [1; 32],
                counter: 2,
                head: Some([2; 32]),
            },
            "the verifier key names another origin",
        ),
        (
            Repr {
                origin: ORIGIN,
                vkey: "x+00000000+AA==",
                tree_size: 10,
                root: [1; 32],
                counter: 2,
                head: Some([2; 32]),
            },
            "the verifier key does not parse",
        ),
        (
            Repr {
                origin: ORIGIN,
                vkey: &vkey,
                tree_size: 0,
                root: [1; 32],
                counter: 0,
                head: None,
            },
            "an empty tree with a root other than the empty root",
        ),
        (
            Repr {
                origin: ORIGIN,
                vkey: &vkey,
                tree_size: 10,
                root: [1; 32],
                counter: 2,
                head: None,
            },
            "a head is present exactly when the counter is above 0",
        ),
        (
            Repr {
                origin: ORIGIN,
                vkey: &vkey,
                tree_size: 1,
                root: [1; 32],
                counter: 2,
                head: Some([2; 32]),
            },
            "more receipts than the tree has leaves",
        ),
    ] {
        assert_eq!(
            SavedState::from_bytes(&make(r)).unwrap_err(),
            FormatError::State { reason }
        );
    }
}

#[test]
fn saved_state_for_other_log() {
    let t = five();
    let other = {
        let mut o = TestLog::with_seed([5; 32]);
        o.add();
        o
    };
    let s = first_state(&other);
    let b = t.bundle(None, T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, Some(&s), T0 + 10_000).unwrap_err(),
        BundleError::SavedStateForOtherLog
    );
}

// ------------------------------------------------------------------------------------------
// Builder errors (log-side bugs)
// ------------------------------------------------------------------------------------------

#[test]
fn build_bundle_refuses_inconsistent_input() {
    let mut t = five();
    let cp = t.checkpoint();
    let map_then = t.map.clone();
    let size = t.log.size();
    // A receipt beyond the checkpoint.
    t.noise(1);
    t.add();
    assert!(matches!(
        build_bundle(&t.log, &map_then, &SUBJECT, &t.receipts(), &cp, None, T0),
        Err(BuildError::ReceiptBeyondCheckpoint { position: 6, size: s, .. }) if s == size
    ));
    // Receipts not in counter order.
    let mut rs = t.receipts();
    rs.swap(0, 1);
    assert_eq!(
        build_bundle(&t.log, &t.map, &SUBJECT, &rs, &t.checkpoint(), None, T0).unwrap_err(),
        BuildError::NotAChain { position: 1 }
    );
    // A checkpoint whose root is not the log's.
    let wrong = t.signer().sign_checkpoint(
        &Checkpoint::new(ORIGIN, t.log.size(), [0; 32])
            .unwrap()
            .with_map_root(&t.map.root())
            .unwrap(),
    );
    assert_eq!(
        build_bundle(&t.log, &t.map, &SUBJECT, &t.receipts(), &wrong, None, T0).unwrap_err(),
        BuildError::CheckpointMismatch { size: t.log.size() }
    );
    assert_eq!(
        build_bundle(
            &t.log,
            &t.map,
            &SUBJECT,
            &t.receipts(),
            &t.checkpoint(),
            Some(t.log.size() + 1),
            T0
        )
        .unwrap_err(),
        BuildError::FromSizeAfterCheckpoint {
            from: t.log.size() + 1,
            size: t.log.size()
        }
    );
    // Missing stored hashes surface as tree errors.
    let short: Vec<Hash> = t.log.stored()[..4].to_vec();
    assert!(matches!(
        build_bundle(&short, &t.map, &SUBJECT, &t.receipts(), &t.checkpoint(), None, T0),
        Err(BuildError::Tree(TreeError::Read(MissingHash { .. })))
    ));
}

// ------------------------------------------------------------------------------------------
// Log key rotation: the handover chain from the pinned original key
// ------------------------------------------------------------------------------------------

const SEED_B: [u8; 32] = [43; 32];
const SEED_C: [u8; 32] = [44; 32];

fn key_id(seed: [u8; 32]) -> u32 {
    LogSigner::from_seed(ORIGIN, &seed).unwrap().key_id()
}

/// `five()`, rotated to key B at its size, then two more receipts under key B.
fn rotated() -> (TestLog, u64) {
    let mut t = five();
    let at = t.log.size();
    t.rotate(SEED_B);
    t.noise(2);
    t.add();
    t.noise(1);
    t.add();
    (t, at)
}

/// The note with its signature line of `seed`'s key removed.
fn without_signature_of(note: &str, seed: [u8; 32]) -> String {
    let id = key_id(seed).to_be_bytes();
    let (text, sigs) = note.split_once("\n\n").unwrap();
    let kept: Vec<&str> = sigs
        .lines()
        .filter(|l| {
            let b64 = l.rsplit(' ').next().unwrap();
            let raw = base64_std(b64);
            raw[..4] != id
        })
        .collect();
    format!("{text}\n\n{}\n", kept.join("\n"))
}

fn base64_std(s: &str) -> Vec<u8> {
    // A tiny standard-base64 decoder for the tests (signature lines only).
    const A: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut bits = 0u32;
    let mut n = 0;
    let mut out = Vec::new();
    for c in s.bytes().filter(|c| *c != b'=') {
        bits = (bits << 6) | A.iter().position(|a| *a == c).unwrap() as u32;
        n += 6;
        if n >= 8 {
            n -= 8;
            out.push((bits >> n) as u8);
        }
    }
    out
}

#[test]
fn rotation_bundle_verifies_with_the_original_pinned_key() {
    let mut t = five();
    let s1 = first_state(&t);
    assert_eq!((s1.handovers(), s1.log_key()), (0, t.verifier().vkey().as_str()));
    let at = t.log.size();
    t.rotate(SEED_B);
    t.noise(2);
    let newest = t.add();
    let v = t.verifier();
    // From a state saved before the rotation, and afresh: both verify with the original key.
    let ok = verify_bundle(&t.bundle(Some(&s1), T0 + 10_000), &v, &WHO, Some(&s1), T0 + 10_000).unwrap();
    assert_eq!(ok.receipts().len(), 6);
    assert_eq!(ok.new_receipts().len(), 1);
    assert_eq!(ok.receipts()[5].leaf_hash(), newest.leaf_hash());
    let b_vkey = LogSigner::from_seed(ORIGIN, &SEED_B).unwrap().vkey();
    // The saved state remembers the latest key it accepted; the pinned key stays the original.
    let s2 = ok.into_new_state();
    assert_eq!(
        (s2.handovers(), s2.log_key(), s2.vkey()),
        (1, b_vkey.as_str(), v.vkey().as_str())
    );
    assert_eq!(SavedState::from_bytes(&s2.to_bytes()).unwrap(), s2);
    let fresh = verify_bundle(&t.bundle(None, T0 + 10_000), &v, &WHO, None, T0 + 10_000).unwrap();
    let ranges = fresh.key_history().ranges();
    assert_eq!(ranges.len(), 2);
    assert_eq!((ranges[0].from, ranges[0].until), (0, Some(at)));
    assert_eq!((ranges[1].from, ranges[1].until), (at, None));
    // A second rotation, to key C: the state that accepted B follows it.
    t.rotate(SEED_C);
    t.add();
    let ok = verify_bundle(&t.bundle(Some(&s2), T0 + 10_000), &v, &WHO, Some(&s2), T0 + 10_000).unwrap();
    assert_eq!(ok.new_state().handovers(), 2);
    assert_eq!(ok.checkpoint().size(), t.log.size());
    // Plain C2SP verification of the new checkpoint with the new key alone.
    let c = LogSigner::from_seed(ORIGIN, &SEED_C).unwrap().verifier();
    assert_eq!(c.verify_checkpoint(&t.checkpoint()).unwrap().size(), t.log.size());
}

#[test]
fn rotation_checkpoint_at_the_handover_size_by_the_old_key_is_valid() {
    // The checkpoint of size N (the handover's size) is the old key's last one.
    let mut t = five();
    let at = t.log.size();
    let old_cp = t.checkpoint();
    t.rotate(SEED_B);
    let mut b = t.bundle(None, T0 + 10_000);
    assert_eq!(b.checkpoint, old_cp);
    assert!(verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).is_ok());
    // The new key cannot sign it: its range starts after size N.
    b.checkpoint = t.signer().sign_checkpoint(&t.checkpoint_body());
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::CheckpointKeyNotYetValid {
            size: at,
            key_id: key_id(SEED_B),
            start: at
        }
    );
}

#[test]
fn rotation_checkpoint_signed_by_retired_key_beyond_its_end() {
    let (t, at) = rotated();
    let s = first_state(&t);
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    // Someone still holding the retired original key signs a later checkpoint.
    b.checkpoint = t.signer_at(0).sign_checkpoint(&t.checkpoint_body());
    let err = BundleError::CheckpointSignedByRetiredKey {
        size: t.log.size(),
        key_id: t.verifier().key_id(),
        end: at,
    };
    expect_failure(&t, &b, Some(&s), err.clone());
    expect_failure(&t, &b, None, err);
    // Signed by both keys it is fine: the valid key's signature is there.
    let both = format!("{}{}", t.checkpoint(), b.checkpoint.split_once("\n\n").unwrap().1);
    b.checkpoint = both;
    assert!(verify_bundle(&b, &t.verifier(), &WHO, Some(&s), T0 + 10_000).is_ok());
}

#[test]
fn rotation_receipt_signed_by_retired_key_beyond_its_end() {
    let (mut t, at) = rotated();
    // The retired key signs a receipt at an index after its end.
    let body = t.next_body(None);
    let r = t.signer_at(0).sign_receipt(&body).unwrap();
    t.log.append(&r.leaf_data());
    t.chain.push(r.clone());
    t.map_set(&r);
    let b = t.bundle(None, T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::ReceiptSignedByRetiredKey {
            counter: t.chain.len() as u64,
            index: r.body().index,
            key_id: t.verifier().key_id(),
            end: at,
        }
    );
}

#[test]
fn rotation_receipt_signed_by_new_key_before_its_start() {
    // A thief of the new key cannot sign the log's earlier history.
    let mut t = TestLog::new();
    t.noise(2);
    let body = t.next_body(None);
    let early = LogSigner::from_seed(ORIGIN, &SEED_B)
        .unwrap()
        .sign_receipt(&body)
        .unwrap();
    t.log.append(&early.leaf_data());
    t.chain.push(early.clone());
    t.map_set(&early);
    t.noise(2);
    let at = t.log.size();
    t.rotate(SEED_B);
    t.add();
    let b = t.bundle(None, T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::ReceiptKeyNotYetValid {
            counter: 1,
            index: early.body().index,
            key_id: key_id(SEED_B),
            start: at,
        }
    );
}

#[test]
fn rotation_forged_handover_signed_only_by_the_new_key() {
    // An attacker with a key of its own (not the log's) announces a handover to it: it can
    // sign the statement with its key only.
    let (honest, _) = rotated();
    let mut forged = five();
    let at = forged.log.size();
    forged.rotate(SEED_C);
    forged.handovers[0] = without_signature_of(&forged.handovers[0], forged.seeds[0]);
    forged.add();
    let b = forged.bundle(None, T0 + 10_000);
    let err = BundleError::KeyHistory(HistoryError::Handover {
        position: 1,
        error: HandoverError::NotSignedByOldKey {
            key_id: honest.verifier().key_id(),
        },
    });
    assert!(at > 0);
    expect_failure(&honest, &b, None, err.clone());
    let s = first_state(&honest);
    expect_failure(&honest, &b, Some(&s), err);
    // A bad signature line claiming the old key is refused the same way.
    let h = Handover::sign(&forged.signer_at(0), &forged.signer(), at).unwrap();
    let bad = h.note().to_string();
    let first_sig = bad.split("\n\n").nth(1).unwrap().lines().next().unwrap().to_string();
    let b64 = first_sig.rsplit(' ').next().unwrap();
    let mut flipped: Vec<char> = b64.chars().collect();
    flipped[10] = if flipped[10] == 'A' { 'B' } else { 'A' };
    let flipped: String = flipped.into_iter().collect();
    let mut b2 = b.clone();
    b2.handovers = vec![bad.replacen(b64, &flipped, 1)];
    assert_eq!(
        verify_bundle(&b2, &honest.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::KeyHistory(HistoryError::Handover {
            position: 1,
            error: HandoverError::NotSignedByOldKey {
                key_id: honest.verifier().key_id(),
            },
        })
    );
}

#[test]
fn rotation_handover_not_signed_by_the_new_key() {
    let (t, _) = rotated();
    let mut b = t.bundle(None, T0 + 10_000);
    b.handovers[0] = without_signature_of(&b.handovers[0], SEED_B);
    expect_failure(
        &t,
        &b,
        None,
        BundleError::KeyHistory(HistoryError::Handover {
            position: 1,
            error: HandoverError::NotSignedByNewKey { key_id: key_id(SEED_B) },
        }),
    );
}

#[test]
fn rotation_broken_chain() {
    let (mut t, _) = rotated();
    t.rotate(SEED_C);
    t.add();
    let honest = t.bundle(None, T0 + 10_000);
    assert!(verify_bundle(&honest, &t.verifier(), &WHO, None, T0 + 10_000).is_ok());
    // The first handover withheld: the second does not hand over from the pinned key.
    let mut b = honest.clone();
    b.handovers.remove(0);
    let broken = BundleError::KeyHistory(HistoryError::Handover {
        position: 1,
        error: HandoverError::NotFromKeyInForce {
            expected: t.verifier().key_id(),
            found: key_id(SEED_B),
        },
    });
    expect_failure(&t, &b, None, broken.clone());
    // Reordered: the same.
    let mut b = honest.clone();
    b.handovers.swap(0, 1);
    expect_failure(&t, &b, None, broken);
    // No handovers at all: the checkpoint's key is unknown to the pinned key.
    let mut b = honest.clone();
    b.handovers.clear();
    expect_failure(&t, &b, None, BundleError::CheckpointNotSigned);
    // A handover that takes effect before the previous one.
    let mut back = TestLog::new();
    back.add();
    back.noise(3);
    back.rotate(SEED_B);
    let h = Handover::sign(&back.signer(), &LogSigner::from_seed(ORIGIN, &SEED_C).unwrap(), 1).unwrap();
    back.handovers.push(h.note().to_string());
    back.seeds.push(SEED_C);
    let b = back.bundle(None, T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &back.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::KeyHistory(HistoryError::Handover {
            position: 2,
            error: HandoverError::SizeDecreases { from: 1, previous: 4 },
        })
    );
}

#[test]
fn rotation_pinned_a_later_key() {
    let (t, _) = rotated();
    let b = t.bundle(None, T0 + 10_000);
    let later = t.signer().verifier();
    assert_eq!(
        verify_bundle(&b, &later, &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::KeyHistory(HistoryError::PinnedKeyNotOriginal {
            key_id: key_id(SEED_B),
            position: 1,
        })
    );
}

#[test]
fn rotation_handover_beyond_the_checkpoint() {
    let mut t = five();
    let size = t.log.size();
    let h = Handover::sign(&t.signer(), &LogSigner::from_seed(ORIGIN, &SEED_B).unwrap(), size + 5).unwrap();
    t.handovers.push(h.note().to_string());
    let b = t.bundle(None, T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::HandoverAfterCheckpoint {
            position: 1,
            from: size + 5,
            size
        }
    );
}

#[test]
fn rotation_hidden_from_a_state_that_saw_it() {
    let (t, _) = rotated();
    let s = first_state(&t);
    assert_eq!(s.handovers(), 1);
    // The log shows the subject a history without the rotation it saw.
    let mut b = t.bundle(Some(&s), T0 + 10_000);
    b.handovers.clear();
    expect_failure(&t, &b, Some(&s), BundleError::KeyHistoryShorter { saved: 1, got: 0 });
}

#[test]
fn rotation_history_rewritten_after_a_state_saw_it() {
    // The original key, before its seed was destroyed, also signed a handover to key C at
    // the same size: a forked history. A subject that accepted B refuses C.
    let (t, at) = rotated();
    let s = first_state(&t);
    let mut fork = five();
    assert_eq!(fork.log.size(), at);
    fork.rotate(SEED_C);
    fork.noise(6);
    fork.add();
    let b = fork.bundle(Some(&s), T0 + 10_000);
    assert_eq!(
        verify_bundle(&b, &t.verifier(), &WHO, Some(&s), T0 + 10_000).unwrap_err(),
        BundleError::KeyHistoryDiffers { handovers: 1 }
    );
}

#[test]
fn rotation_handover_of_another_log_or_a_checkpoint_as_handover() {
    let (t, _) = rotated();
    let mut b = t.bundle(None, T0 + 10_000);
    // A checkpoint is never a handover, and a handover never a checkpoint.
    b.handovers = vec![t.checkpoint()];
    assert!(matches!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::KeyHistory(HistoryError::Handover {
            position: 1,
            error: HandoverError::Malformed(FormatError::Handover { line: 1, .. })
        })
    ));
    assert!(matches!(
        t.signer_at(0)
            .verifier()
            .verify_checkpoint(&t.handovers[0])
            .unwrap_err(),
        VerifyError::Format(FormatError::C2sp(credseal_c2sp::FormatError::Checkpoint {
            line: 2,
            ..
        }))
    ));
    // Another log's handover (its own keys, its own origin).
    let other = LogSigner::from_seed("other.example/log", &[1; 32]).unwrap();
    let other2 = LogSigner::from_seed("other.example/log", &[2; 32]).unwrap();
    b.handovers = vec![Handover::sign(&other, &other2, 3).unwrap().note().to_string()];
    assert!(matches!(
        verify_bundle(&b, &t.verifier(), &WHO, None, T0 + 10_000).unwrap_err(),
        BundleError::KeyHistory(HistoryError::Handover {
            position: 1,
            error: HandoverError::OtherOrigin { .. }
        })
    ));
}

// ------------------------------------------------------------------------------------------
// Any bit flipped anywhere
// ------------------------------------------------------------------------------------------

mod flips {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// With a saved state (so that the consistency proof is checked too), no single bit
        /// of an encoded bundle can be flipped without the bundle being refused.
        #[test]
        fn any_bit_flip_is_refused(at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut t = TestLog::new();
            t.add();
            t.noise(2);
            t.add();
            let s = first_state(&t);
            t.noise(3);
            t.add();
            let mut bytes = t.bundle(Some(&s), T0 + 10_000).to_bytes();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(
                verify_bundle_bytes(&bytes, &t.verifier(), &WHO, Some(&s.to_bytes()), T0 + 10_000).is_err(),
                "flip of bit {} at byte {} accepted", bit, i
            );
        }

        /// The same across a log key rotation: no bit of the handover, of a receipt of either
        /// key or of the new key's checkpoint can be flipped.
        #[test]
        fn any_bit_flip_of_a_rotated_bundle_is_refused(at in any::<prop::sample::Index>(), bit in 0u8..8) {
            let mut t = TestLog::new();
            t.add();
            t.noise(2);
            let s = first_state(&t);
            t.rotate(SEED_B);
            t.add();
            let mut bytes = t.bundle(Some(&s), T0 + 10_000).to_bytes();
            let i = at.index(bytes.len());
            bytes[i] ^= 1 << bit;
            prop_assert!(
                verify_bundle_bytes(&bytes, &t.verifier(), &WHO, Some(&s.to_bytes()), T0 + 10_000).is_err(),
                "flip of bit {} at byte {} accepted", bit, i
            );
        }
    }
}
