//! Writes the files `interop/go/main.go` checks with Go's `golang.org/x/mod/sumdb/note` and
//! `sumdb/tlog`: a log of 7 signed receipts, its signed checkpoints at sizes 7 and 3, the
//! verifier key, every inclusion proof, the consistency proof 3 → 7 and the stored hashes;
//! then a log key rotation at size 7 (the handover note, signed by both keys, and the new
//! verifier key), two receipts signed by the new key and its checkpoint at size 9 with the
//! consistency proof 7 → 9. Last, a separate log of 600 plain leaves
//! (`credseal tile interop leaf <i>`) published as C2SP `tlog-tiles` hash tiles under
//! `tiles/` (level 0: two full tiles and a partial one of 88; level 1: a partial one of 2),
//! with its signed checkpoint (`tiles-checkpoint.note`, key `tiles-vkey.txt`), which the Go
//! side reads through `tlog.TileHashReader`. And a witness's cosignature (C2SP
//! `tlog-cosignature`, Ed25519 `cosignature/v1`) on the checkpoint at size 7
//! (`cosigned-checkpoint.note`, the witness's key `witness-vkey.txt`, its timestamp
//! `witness-time.txt`), which the Go side verifies through `note.Open` with a verifier of its
//! own.
//!
//! ```text
//! cargo run -p credseal-log --example emit_interop -- <dir>
//! ```
//! Hashes and receipts are standard base64 (what Go's `tlog.Hash` reads from JSON). The
//! files carry the full receipts (`receipts.json`, `rotated_receipts.json`); the Merkle leaf
//! of each is its `header ‖ signature`, which the Go side takes from the receipt itself.

use std::error::Error;
use std::path::PathBuf;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_c2sp::{
    Checkpoint, CosignerKey, Hash, MemoryLog, TileHashReader, hash_tile_bytes, parse_hash_tile, read_tile_hashes,
    tiles_for_size, tree_hash,
};
use credseal_core::BlindId;
use credseal_log::{
    Action, Actor, Chain, Handover, LogSigner, MapCheckpoint as _, MapValue, MemoryMap, Outcome, ReceiptBody,
    SignedReceipt, TrustCheckpoint as _,
};
use serde_json::json;

const ORIGIN: &str = "credseal.example/interop-log";
/// A fixed seed: the output is the same on every run (salts included), so it can be diffed.
const SEED: [u8; 32] = *b"credseal-log interop test key 01";
/// The log key after the rotation.
const SEED2: [u8; 32] = *b"credseal-log interop test key 02";
/// The trust-state digest the checkpoints commit to (`credseal-trust` line; any 32 bytes).
const TRUST: Hash = *b"credseal interop trust digest 32";
/// The tile log: its own origin and key, so its checkpoint is not confused with the receipt log's.
const TILES_ORIGIN: &str = "credseal.example/interop-tiles";
const TILES_SEED: [u8; 32] = *b"credseal-log interop tiles key 3";
/// More than two full tiles of 256 leaves, plus a partial one; level 1 is partial too.
const TILES_SIZE: u64 = 600;
/// The witness that cosigns the checkpoint at size 7, and the time of its cosignature.
const WITNESS_NAME: &str = "witness.credseal.example/interop";
const WITNESS_SEED: [u8; 32] = *b"credseal interop witness key 004";
const WITNESS_TIME: u64 = 1_750_000_900;

fn b64(h: &[u8]) -> String {
    STANDARD.encode(h)
}

fn hashes(hs: &[Hash]) -> Vec<String> {
    hs.iter().map(|h| b64(h)).collect()
}

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: emit_interop <dir>")?);
    std::fs::create_dir_all(&dir)?;
    let signer = LogSigner::from_seed(ORIGIN, &SEED)?;
    let subjects = [BlindId([0xa1; 32]), BlindId([0xb2; 32])];

    let mut log = MemoryLog::new();
    // The subject map, and its state at size 3 for the older checkpoint.
    let mut map = MemoryMap::new();
    let mut map3 = MemoryMap::new();
    let mut leaves: Vec<SignedReceipt> = Vec::new();
    let mut heads: [Option<(u64, Hash)>; 2] = [None, None];
    for i in 0..7u64 {
        let who = (i % 2) as usize;
        let (counter, prev) = match heads[who] {
            None => (1, None),
            Some((c, h)) => (c + 1, Some(h)),
        };
        let r = signer.sign_receipt(&ReceiptBody {
            index: i,
            time: 1_750_000_000 + i * 60,
            actor: Actor::Department {
                id: "bank-a".into(),
                credential_serial: 7,
            },
            action: Action::Query,
            detail: String::new(),
            subject: Some(subjects[who]),
            classes: ["identity".to_string()].into(),
            purpose: "loan-approval".into(),
            token_hash: Some([i as u8; 32]),
            outcome: Outcome::Granted,
            release_digest: Some([0xee; 32]),
            salt: [i as u8 + 1; 16],
            chain: Some(Chain { counter, prev }),
            disclose_after: None,
            flags: 0,
        })?;
        assert_eq!(log.append(&r.leaf_data()), i);
        heads[who] = Some((counter, r.leaf_hash()));
        map.set(
            &subjects[who],
            MapValue {
                count: counter,
                head: r.leaf_hash(),
                index: i,
            },
        );
        if i == 2 {
            map3 = map.clone();
        }
        leaves.push(r);
    }

    let size = log.size();
    let cp7 = signer.sign_checkpoint(
        &Checkpoint::new(ORIGIN, size, log.root())?
            .with_map_root(&map.root())?
            .with_trust_digest(&TRUST)?,
    );
    let cp3 = signer.sign_checkpoint(
        &Checkpoint::new(ORIGIN, 3, log.tree_hash(3)?)?
            .with_map_root(&map3.root())?
            .with_trust_digest(&TRUST)?,
    );
    let inclusion: Vec<_> = (0..size)
        .map(|i| Ok(json!({ "index": i, "proof": hashes(&log.prove_record(size, i)?) })))
        .collect::<Result<_, Box<dyn Error>>>()?;
    let consistency = json!({
        "old_size": 3,
        "new_size": size,
        "proof": hashes(&log.prove_tree(size, 3)?),
    });

    let write = |name: &str, data: String| std::fs::write(dir.join(name), data);
    write("vkey.txt", format!("{}\n", signer.vkey()))?;
    write("trust.txt", format!("{}\n", b64(&TRUST)))?;
    write("checkpoint.note", cp7.clone())?;
    write("checkpoint3.note", cp3)?;
    let witness = CosignerKey::from_seed(WITNESS_NAME, &WITNESS_SEED)?;
    let body = credseal_c2sp::SignedNote::parse(&cp7)?.text().to_string();
    write(
        "cosigned-checkpoint.note",
        format!("{cp7}{}", witness.cosign(&body, WITNESS_TIME)?),
    )?;
    write("witness-vkey.txt", format!("{}\n", witness.vkey()))?;
    write("witness-time.txt", format!("{WITNESS_TIME}\n"))?;
    write(
        "receipts.json",
        serde_json::to_string_pretty(&leaves.iter().map(|r| b64(r.as_bytes())).collect::<Vec<_>>())?,
    )?;
    write("inclusion.json", serde_json::to_string_pretty(&inclusion)?)?;
    write("consistency.json", serde_json::to_string_pretty(&consistency)?)?;
    write(
        "stored_hashes.json",
        serde_json::to_string_pretty(&hashes(log.stored()))?,
    )?;

    // Log key rotation at size 7: the handover, then two receipts by the new key.
    let signer2 = LogSigner::from_seed(ORIGIN, &SEED2)?;
    let handover = Handover::sign(&signer, &signer2, size)?;
    let mut rotated = Vec::new();
    for i in size..size + 2 {
        let r = signer2.sign_receipt(&ReceiptBody {
            index: i,
            time: 1_750_000_000 + i * 60,
            actor: Actor::Platform,
            action: Action::KeyEvent,
            detail: "after the rotation".into(),
            subject: None,
            classes: Default::default(),
            purpose: String::new(),
            token_hash: None,
            outcome: Outcome::Done,
            release_digest: None,
            salt: [i as u8 + 1; 16],
            chain: None,
            disclose_after: None,
            flags: 0,
        })?;
        assert_eq!(log.append(&r.leaf_data()), i);
        rotated.push(r);
    }
    let size9 = log.size();
    let cp9 = signer2.sign_checkpoint(
        &Checkpoint::new(ORIGIN, size9, log.root())?
            .with_map_root(&map.root())?
            .with_trust_digest(&TRUST)?,
    );
    write("vkey2.txt", format!("{}\n", signer2.vkey()))?;
    write("handover.note", handover.note().to_string())?;
    write("checkpoint9.note", cp9)?;
    write(
        "rotated_receipts.json",
        serde_json::to_string_pretty(&rotated.iter().map(|r| b64(r.as_bytes())).collect::<Vec<_>>())?,
    )?;
    write(
        "consistency9.json",
        serde_json::to_string_pretty(&json!({
            "old_size": size,
            "new_size": size9,
            "proof": hashes(&log.prove_tree(size9, size)?),
        }))?,
    )?;
    write_tiles(&dir)?;
    eprintln!(
        "emit_interop: wrote a log of {size} receipts, rotated to a second key at {size}, {size9} receipts, to {}",
        dir.display()
    );
    Ok(())
}

/// The tile log: [`TILES_SIZE`] leaves `credseal tile interop leaf <i>`, every hash tile of
/// its tree under `dir/tiles/` at its C2SP path, its checkpoint and verifier key. The tiles
/// are read back through our own [`TileHashReader`] first: their root must be the checkpoint's.
fn write_tiles(dir: &std::path::Path) -> Result<(), Box<dyn Error>> {
    let signer = LogSigner::from_seed(TILES_ORIGIN, &TILES_SEED)?;
    let mut log = MemoryLog::new();
    for i in 0..TILES_SIZE {
        log.append(format!("credseal tile interop leaf {i}").as_bytes());
    }
    let mut ours = TileHashReader::new(TILES_SIZE);
    for tile in tiles_for_size(TILES_SIZE) {
        let path = dir.join("tiles").join(tile.path());
        std::fs::create_dir_all(path.parent().ok_or("tile path has no parent")?)?;
        std::fs::write(&path, hash_tile_bytes(&read_tile_hashes(&tile, &log)?))?;
        ours.insert(&tile, parse_hash_tile(&tile, &std::fs::read(&path)?)?)?;
    }
    if tree_hash(TILES_SIZE, &ours)? != log.root() {
        return Err("the tiles written do not give the log's root".into());
    }
    let cp = signer.sign_checkpoint(
        &Checkpoint::new(TILES_ORIGIN, TILES_SIZE, log.root())?
            .with_map_root(&MemoryMap::new().root())?
            .with_trust_digest(&TRUST)?,
    );
    std::fs::write(dir.join("tiles-vkey.txt"), format!("{}\n", signer.vkey()))?;
    std::fs::write(dir.join("tiles-checkpoint.note"), cp)?;
    Ok(())
}
