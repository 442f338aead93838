//! Generic transparency-log formats, with no credseal types: the RFC 6962 / RFC 9162 Merkle
//! tree and its proofs, C2SP `signed-note` with Ed25519 keys, and C2SP `tlog-checkpoint`.
//! Pure: no storage, no filesystem, no network. Everything here reads and writes what Go's
//! `golang.org/x/mod/sumdb/note` and `golang.org/x/mod/sumdb/tlog` read and write.
//!
//! One module per specification, each with its own items re-exported here:
//! - the Merkle tree ([`MemoryLog`] to hold one in memory, or [`stored_hashes`] and
//!   [`tree_hash`] over your own [`HashReader`]; [`prove_record`] / [`check_record`] and
//!   [`prove_tree`] / [`check_tree`] for inclusion and consistency proofs);
//! - `signed-note`: start with [`NoteSigner`] (a key that signs) and [`NoteVerifier`] (its
//!   public half, from a verifier key text); [`SignedNote`] parses a note without verifying;
//! - `tlog-checkpoint`: [`Checkpoint`], the text a log signs as a note.
//!
//! - `tlog-tiles`: [`Tile`] names a hash tile or entry bundle and its path;
//!   [`tiles_for_size`] lists the tiles a checkpoint implies, [`read_tile_hashes`] reads one
//!   from a log's stored hashes, [`TileHashReader`] serves the tree back from tiles.
//!
//! - `tlog-cosignature`: [`CosignerKey`] (a witness's key) adds a timestamped `cosignature/v1`
//!   line to a checkpoint; [`CosignatureVerifier`] checks it.
//!
//! ```
//! use credseal_c2sp::{Checkpoint, MemoryLog, NoteSigner, NoteVerifier, check_record, record_hash};
//!
//! // The log: append records, sign a checkpoint of the tree.
//! let signer = NoteSigner::from_seed("example.com/log", &[7; 32])?;
//! let mut log = MemoryLog::new();
//! for record in [&b"first"[..], b"second", b"third"] {
//!     log.append(record);
//! }
//! let checkpoint = Checkpoint::new(signer.name(), log.size(), log.root())?;
//! let note = signer.sign(&checkpoint.to_text())?;
//! let proof = log.prove_record(log.size(), 1)?;
//!
//! // A client that knows only the verifier key text.
//! let verifier = NoteVerifier::from_vkey(&signer.vkey())?;
//! let opened = Checkpoint::parse(verifier.verify(&note)?.text())?;
//! assert_eq!(opened.origin(), "example.com/log");
//! check_record(&proof, opened.size(), opened.root(), 1, &record_hash(b"second"))?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

#![deny(missing_docs)]

mod b64;
mod checkpoint;
mod cosignature;
mod error;
mod merkle;
mod note;
mod tiles;

pub use checkpoint::Checkpoint;
pub use cosignature::{COSIGNATURE_V1_ALG, CosignatureVerifier, CosignerKey, cosignature_key_id, cosigned_message};
pub use error::{FormatError, NoteError};
pub use merkle::{
    EMPTY_ROOT, Hash, HashReader, LEAF_PREFIX, MAX_TREE_SIZE, MemoryLog, MissingHash, NODE_PREFIX, ProofError,
    RecordProof, TreeError, TreeProof, check_record, check_tree, node_hash, prove_record, prove_tree, record_hash,
    record_proof_len, split_stored_hash_index, stored_hash_count, stored_hash_index, stored_hashes,
    stored_hashes_for_record_hash, tree_hash, tree_proof_len,
};
pub use note::{
    ED25519_SIGNATURE_TYPE, MAX_NOTE_LEN, MAX_NOTE_SIGNATURES, NoteSignature, NoteSigner, NoteVerifier, SignedNote,
    check_key_name, ed25519_key_id, external_signature_line,
};
pub use tiles::{
    MAX_ENTRY_LEN, MAX_TILE_LEVEL, TILE_HEIGHT, TILE_WIDTH, Tile, TileError, TileHashReader, TileKind,
    encode_entry_bundle, entry_bundles_for_size, hash_tile_bytes, parse_entry_bundle, parse_hash_tile,
    read_tile_hashes, tile_index_path, tile_width_in_tree, tiles_for_size,
};
