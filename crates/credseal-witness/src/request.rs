//! The `add-checkpoint` request body (C2SP tlog-witness):
//!
//! ```text
//! body = "old " decimal "\n" *63(base64(hash) "\n") "\n" checkpoint-note
//! ```
//! The old size has no leading zero (`0` for zero); each proof line is the canonical standard
//! base64 of a 32-byte hash.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use credseal_c2sp::{Checkpoint, Hash, SignedNote};

/// At most this many consistency proof lines (tlog-witness: clients MUST NOT send more).
pub const MAX_PROOF_LINES: usize = 63;

/// A parsed `add-checkpoint` request: nothing verified yet.
#[derive(Debug)]
pub(crate) struct AddCheckpoint<'a> {
    /// The size the client believes the witness last cosigned.
    pub(crate) old: u64,
    /// The consistency proof from `old` to the checkpoint's size.
    pub(crate) proof: Vec<Hash>,
    /// The checkpoint note as sent (log signatures and any others).
    pub(crate) note_text: &'a str,
    /// The same, parsed.
    pub(crate) note: SignedNote,
    /// Its body, parsed.
    pub(crate) checkpoint: Checkpoint,
}

/// Parses a request body. The error is a short reason (no input echoed).
pub(crate) fn parse(body: &[u8]) -> Result<AddCheckpoint<'_>, String> {
    let text = std::str::from_utf8(body).map_err(|e| format!("the body is not UTF-8 (at byte {})", e.valid_up_to()))?;
    let (old_line, mut rest) = text.split_once('\n').ok_or("the body has no old size line")?;
    let digits = old_line
        .strip_prefix("old ")
        .ok_or("the first line is not `old <size>`")?;
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || (digits.len() > 1 && digits.starts_with('0'))
    {
        return Err("the old size is not a decimal number without leading zeros".into());
    }
    let old: u64 = digits.parse().map_err(|_| "the old size is too large")?;
    let mut proof = Vec::new();
    loop {
        let (line, next) = rest
            .split_once('\n')
            .ok_or("no empty line between the proof and the checkpoint")?;
        rest = next;
        if line.is_empty() {
            break;
        }
        if proof.len() == MAX_PROOF_LINES {
            return Err(format!("more than {MAX_PROOF_LINES} consistency proof lines"));
        }
        proof.push(hash_line(line).ok_or_else(|| {
            format!(
                "consistency proof line {} is not the base64 of a 32-byte hash",
                proof.len() + 1
            )
        })?);
    }
    let note = SignedNote::parse(rest).map_err(|e| format!("the checkpoint note: {e}"))?;
    let checkpoint = Checkpoint::parse(note.text()).map_err(|e| format!("the checkpoint: {e}"))?;
    Ok(AddCheckpoint {
        old,
        proof,
        note_text: rest,
        note,
        checkpoint,
    })
}

/// A canonical standard base64 hash (44 characters).
fn hash_line(line: &str) -> Option<Hash> {
    if line.len() != 44 {
        return None;
    }
    let bytes = STANDARD.decode(line).ok()?;
    if STANDARD.encode(&bytes) != line {
        return None;
    }
    bytes.try_into().ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use credseal_c2sp::NoteSigner;

    fn note() -> String {
        let s = NoteSigner::from_seed("log.example", &[1; 32]).unwrap();
        s.sign(&Checkpoint::new("log.example", 5, [3; 32]).unwrap().to_text())
            .unwrap()
    }

    fn h(b: u8) -> String {
        STANDARD.encode([b; 32])
    }

    #[test]
    fn well_formed_requests_parse() {
        let n = note();
        let b = format!("old 0\n\n{n}");
        let r = parse(b.as_bytes()).unwrap();
        assert_eq!((r.old, r.proof.len(), r.checkpoint.size()), (0, 0, 5));
        assert_eq!(r.note_text, n);
        let b = format!("old 3\n{}\n{}\n\n{n}", h(1), h(2));
        let r = parse(b.as_bytes()).unwrap();
        assert_eq!(r.old, 3);
        assert_eq!(r.proof, vec![[1; 32], [2; 32]]);
        let lines: String = (0..MAX_PROOF_LINES).map(|_| format!("{}\n", h(9))).collect();
        assert!(parse(format!("old 1\n{lines}\n{n}").as_bytes()).is_ok());
    }

    #[test]
    fn malformed_requests_are_refused() {
        let n = note();
        let too_many: String = (0..=MAX_PROOF_LINES).map(|_| format!("{}\n", h(9))).collect();
        for bad in [
            String::new(),
            "old 0".into(),
            format!("old 00\n\n{n}"),
            format!("old 01\n\n{n}"),
            format!("old -1\n\n{n}"),
            format!("old \n\n{n}"),
            format!("Old 0\n\n{n}"),
            format!("old 0 \n\n{n}"),
            format!("old 99999999999999999999\n\n{n}"),
            format!("old 0\n{n}"),
            format!("old 1\n{}\n\n{n}", &h(1)[..43]),
            format!("old 1\n{}=\n\n{n}", h(1)),
            format!("old 1\n{}\n\n{n}", STANDARD.encode([1; 31])),
            format!("old 1\n{too_many}\n{n}"),
            "old 0\n\nnot a note\n".into(),
            format!("old 0\n\n{}", n.replace("\n5\n", "\n05\n")),
        ] {
            assert!(parse(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(parse(b"old 0\n\n\xff\n").is_err());
    }
}
