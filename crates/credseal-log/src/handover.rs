//! Log key rotation (docs/design.md §8): the signed key history.
//!
//! When the log key is rotated, the platform signs a **handover** statement — a C2SP signed
//! note whose text names the log, the tree size from which the new key signs, and both keys —
//! with the old key **and** the new key:
//!
//! ```text
//! text  = "credseal log key handover" "\n" origin "\n" from-size "\n" old vkey "\n" new vkey "\n"
//! note  = text "\n" "— " origin " " base64(old key id ‖ sig_old) "\n"
//!                   "— " origin " " base64(new key id ‖ sig_new) "\n"
//! ```
//!
//! The handovers, oldest first, make the log's [`KeyHistory`]. Key 0 is the log's original
//! key (the one subjects pin); handover `j` (1-based) makes key `j` the signer from tree size
//! `Nⱼ` on. Key `j` signs the receipts whose log index `i` has `Nⱼ ≤ i < Nⱼ₊₁`, and the
//! checkpoints of the tree sizes `s` with `Nⱼ < s ≤ Nⱼ₊₁` — a checkpoint is signed by the key
//! of its last leaf (index `s − 1`); the empty tree's by key 0. Anything signed by a key
//! outside its range is refused: a retired key past its end
//! ([`VerifyError::RetiredKey`]), a newer key before its start ([`VerifyError::KeyNotYetValid`]).
//!
//! Why both signatures: the old key's says the owner of the log handed over (a thief of the
//! new key alone cannot start a history of its own); the new key's says its holder accepts
//! the range (nobody can attach someone else's key). The first line, which is not a valid log
//! origin (it holds spaces), keeps a handover from ever reading as a checkpoint, and a
//! checkpoint from ever reading as a handover.

use std::fmt;

use credseal_c2sp::{Checkpoint, MAX_TREE_SIZE, SignedNote, check_key_name};

use crate::keys::{LogSigner, LogVerifier};
use crate::receipt::{SignedReceipt, UnverifiedReceipt};
use crate::{FormatError, VerifyError};

/// The first line of every handover statement.
pub const HANDOVER_TITLE: &str = "credseal log key handover";

/// Most handovers a key history may hold (a rotation a month for five years is 60).
pub const MAX_HANDOVERS: usize = 256;

/// The statement text of a handover.
fn handover_text(origin: &str, from_size: u64, old: &str, new: &str) -> String {
    format!("{HANDOVER_TITLE}\n{origin}\n{from_size}\n{old}\n{new}\n")
}

/// A handover's text, parsed strictly, signatures not checked.
struct Body {
    origin: String,
    from_size: u64,
    old: LogVerifier,
    new: LogVerifier,
}

fn parse_body(text: &str) -> Result<Body, FormatError> {
    let bad = |line, reason| FormatError::Handover { line, reason };
    let body = text
        .strip_suffix('\n')
        .ok_or(bad(1, "the statement does not end in a newline"))?;
    let lines: Vec<&str> = body.split('\n').collect();
    if lines[0] != HANDOVER_TITLE {
        return Err(bad(1, "not a log key handover"));
    }
    if lines.len() != 5 {
        return Err(bad(lines.len().min(6), "a handover statement has exactly five lines"));
    }
    let origin = lines[1];
    check_key_name(origin).map_err(|_| bad(2, "the origin is not a valid key name"))?;
    let size = lines[2];
    if size.is_empty() || !size.bytes().all(|b| b.is_ascii_digit()) || (size.len() > 1 && size.starts_with('0')) {
        return Err(bad(3, "the tree size is not a decimal number without leading zeros"));
    }
    let from_size: u64 = size.parse().map_err(|_| bad(3, "tree size over the maximum"))?;
    if from_size > MAX_TREE_SIZE {
        return Err(bad(3, "tree size over the maximum"));
    }
    let key = |line: usize| -> Result<LogVerifier, FormatError> {
        let text = lines[line - 1];
        let v = LogVerifier::from_vkey(text).map_err(|_| bad(line, "not a verifier key"))?;
        if v.vkey() != text {
            return Err(bad(line, "the verifier key is not in its canonical form"));
        }
        if v.origin() != origin {
            return Err(bad(line, "the key's name is not the log's origin"));
        }
        Ok(v)
    };
    let old = key(4)?;
    let new = key(5)?;
    if old.public() == new.public() {
        return Err(bad(5, "the new key is the old key"));
    }
    Ok(Body {
        origin: origin.to_string(),
        from_size,
        old,
        new,
    })
}

/// A handover statement whose two signatures verified: from tree size
/// [`Handover::from_size`] on, [`Handover::new_key`] signs the log instead of
/// [`Handover::old_key`]. Made by [`Handover::sign`] (the log) or [`Handover::verify`]
/// (everyone else). Whether it continues a given history is [`KeyHistory::push`]'s question.
#[derive(Clone)]
pub struct Handover {
    origin: String,
    from_size: u64,
    old: LogVerifier,
    new: LogVerifier,
    note: String,
}

impl Handover {
    /// Signs the handover from `old` to `new` (two signers of the same origin, different
    /// keys) taking effect at tree size `from_size`: the receipt at index `from_size` is the
    /// first the new key signs.
    pub fn sign(old: &LogSigner, new: &LogSigner, from_size: u64) -> Result<Self, FormatError> {
        if old.origin() != new.origin() {
            return Err(FormatError::Handover {
                line: 2,
                reason: "the two keys are of different logs",
            });
        }
        if from_size > MAX_TREE_SIZE {
            return Err(FormatError::Handover {
                line: 3,
                reason: "tree size over the maximum",
            });
        }
        if old.public() == new.public() {
            return Err(FormatError::Handover {
                line: 5,
                reason: "the new key is the old key",
            });
        }
        let text = handover_text(old.origin(), from_size, &old.vkey(), &new.vkey());
        let mut note = text.clone();
        note.push('\n');
        note.push_str(&old.note_signature_line(&text)?);
        note.push_str(&new.note_signature_line(&text)?);
        Ok(Self {
            origin: old.origin().to_string(),
            from_size,
            old: old.verifier(),
            new: new.verifier(),
            note,
        })
    }

    /// Parses a handover note and checks it: a C2SP signed note (the rules of
    /// [`SignedNote::parse`]) whose text is exactly the five lines above (canonical tree size,
    /// canonical verifier keys named after the origin, two different keys), carrying a valid
    /// signature line of the old key and one of the new key (every line of either key must
    /// verify; lines of other keys are ignored, as C2SP requires).
    pub fn verify(note: &str) -> Result<Self, HandoverError> {
        let parsed = SignedNote::parse(note).map_err(|e| HandoverError::Malformed(e.into()))?;
        let b = parse_body(parsed.text()).map_err(HandoverError::Malformed)?;
        let check = |key: &LogVerifier| match key.verify_note(note) {
            Ok(_) => Ok(()),
            Err(VerifyError::Format(f)) => Err(Some(HandoverError::Malformed(f))),
            Err(_) => Err(None),
        };
        check(&b.old).map_err(|e| e.unwrap_or(HandoverError::NotSignedByOldKey { key_id: b.old.key_id() }))?;
        check(&b.new).map_err(|e| e.unwrap_or(HandoverError::NotSignedByNewKey { key_id: b.new.key_id() }))?;
        Ok(Self {
            origin: b.origin,
            from_size: b.from_size,
            old: b.old,
            new: b.new,
            note: note.to_string(),
        })
    }

    /// The log's origin.
    pub fn origin(&self) -> &str {
        &self.origin
    }

    /// The tree size from which the new key signs (the index of its first receipt).
    pub fn from_size(&self) -> u64 {
        self.from_size
    }

    /// The key handing over.
    pub fn old_key(&self) -> &LogVerifier {
        &self.old
    }

    /// The key taking over.
    pub fn new_key(&self) -> &LogVerifier {
        &self.new
    }

    /// The signed note, as published.
    pub fn note(&self) -> &str {
        &self.note
    }
}

impl fmt::Debug for Handover {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Handover")
            .field("from_size", &self.from_size)
            .field("old", &format_args!("{:08x}", self.old.key_id()))
            .field("new", &format_args!("{:08x}", self.new.key_id()))
            .finish_non_exhaustive()
    }
}

/// Why a handover was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HandoverError {
    /// Not a well-formed handover note.
    #[error("malformed: {0}")]
    Malformed(FormatError),
    /// No valid signature of the old key it names: not authorised by the key in force.
    #[error("it is not signed by the old key it names ({key_id:08x}): the key in force never handed over")]
    NotSignedByOldKey {
        /// The old key's C2SP key id.
        key_id: u32,
    },
    /// No valid signature of the new key it names.
    #[error("it is not signed by the new key it names ({key_id:08x})")]
    NotSignedByNewKey {
        /// The new key's C2SP key id.
        key_id: u32,
    },
    /// It is about another log.
    #[error("it is for log {found:?}, expected {expected:?}")]
    OtherOrigin {
        /// The history's origin.
        expected: String,
        /// The handover's origin.
        found: String,
    },
    /// It hands over from a key that is not the one in force at this point of the history
    /// (the chain is broken: a handover is missing, or this one belongs elsewhere).
    #[error("it hands over from key {found:08x}, but the key in force is {expected:08x}")]
    NotFromKeyInForce {
        /// The key in force.
        expected: u32,
        /// The old key the handover names.
        found: u32,
    },
    /// It takes effect before the previous handover did.
    #[error("it takes effect at tree size {from}, before the previous handover's {previous}")]
    SizeDecreases {
        /// Its tree size.
        from: u64,
        /// The previous handover's tree size.
        previous: u64,
    },
    /// It hands over to a key (or a key id) the history already holds.
    #[error("it hands over to key {key_id:08x}, a key id the history already holds")]
    KeyReused {
        /// The new key's id.
        key_id: u32,
    },
}

/// Why a key history was refused.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HistoryError {
    /// More handovers than [`MAX_HANDOVERS`].
    #[error("{count} log key handovers, more than the {max} accepted")]
    TooMany {
        /// Handovers given.
        count: usize,
        /// The limit.
        max: usize,
    },
    /// Handover `position` (1-based) was refused.
    #[error("log key handover {position}: {error}")]
    Handover {
        /// Its place in the history (1 = the first rotation).
        position: usize,
        /// Why.
        error: HandoverError,
    },
    /// The pinned key is not the log's original key but a later one: the history cannot be
    /// walked from it. (A verifier pins the original key: `credseal log key`.)
    #[error(
        "the pinned key {key_id:08x} is not the log's original key (handover {position} hands over to it); pin the original key"
    )]
    PinnedKeyNotOriginal {
        /// The pinned key's id.
        key_id: u32,
        /// The handover whose new key it is.
        position: usize,
    },
}

/// One key of a [`KeyHistory`] and the part of the log it signs.
#[derive(Clone, Debug)]
pub struct KeyRange {
    /// The key.
    pub key: LogVerifier,
    /// The index of the first receipt it signs (0 for the original key).
    pub from: u64,
    /// The index of the first receipt it no longer signs (`None`: the current key).
    pub until: Option<u64>,
}

/// The log's keys, from the original one (pinned by subjects) through every verified
/// handover; says which key signs each receipt and checkpoint.
#[derive(Clone, Debug)]
pub struct KeyHistory {
    /// Key 0 from 0, then each handover's new key from its tree size.
    keys: Vec<(u64, LogVerifier)>,
    handovers: Vec<Handover>,
}

/// Two histories are equal when they hold the same keys from the same tree sizes.
impl PartialEq for KeyHistory {
    fn eq(&self, other: &Self) -> bool {
        self.keys.len() == other.keys.len()
            && self
                .keys
                .iter()
                .zip(&other.keys)
                .all(|(a, b)| a.0 == b.0 && a.1.public() == b.1.public() && a.1.origin() == b.1.origin())
    }
}

impl Eq for KeyHistory {}

impl KeyHistory {
    /// The history of a log that never rotated its key.
    pub fn new(original: LogVerifier) -> Self {
        Self {
            keys: vec![(0, original)],
            handovers: Vec::new(),
        }
    }

    /// Walks `handovers` (signed notes, oldest first) from the pinned original key: each
    /// must verify ([`Handover::verify`]) and continue the history ([`KeyHistory::push`]).
    pub fn from_handovers<S: AsRef<str>>(original: &LogVerifier, handovers: &[S]) -> Result<Self, HistoryError> {
        if handovers.len() > MAX_HANDOVERS {
            return Err(HistoryError::TooMany {
                count: handovers.len(),
                max: MAX_HANDOVERS,
            });
        }
        let mut h = Self::new(original.clone());
        for (i, note) in handovers.iter().enumerate() {
            let position = i + 1;
            let fail = |error| HistoryError::Handover { position, error };
            let handover = Handover::verify(note.as_ref()).map_err(fail)?;
            if let Err(e) = h.push(handover) {
                // A verifier that pinned a later key: say so rather than "broken chain".
                if position == 1 && matches!(e, HandoverError::NotFromKeyInForce { .. }) {
                    let mut later = handovers.iter().enumerate().filter_map(|(j, n)| {
                        let h = Handover::verify(n.as_ref()).ok()?;
                        (h.new_key().public() == original.public()).then_some(j + 1)
                    });
                    if let Some(position) = later.next() {
                        return Err(HistoryError::PinnedKeyNotOriginal {
                            key_id: original.key_id(),
                            position,
                        });
                    }
                }
                return Err(fail(e));
            }
        }
        Ok(h)
    }

    /// Appends a verified handover: it must be for this log, hand over from the current key,
    /// take effect no earlier than the previous handover, and name a key (and key id) the
    /// history does not hold yet.
    pub fn push(&mut self, h: Handover) -> Result<(), HandoverError> {
        let current = self.current();
        if h.origin() != current.origin() {
            return Err(HandoverError::OtherOrigin {
                expected: current.origin().to_string(),
                found: h.origin().to_string(),
            });
        }
        if h.old_key().public() != current.public() {
            return Err(HandoverError::NotFromKeyInForce {
                expected: current.key_id(),
                found: h.old_key().key_id(),
            });
        }
        let previous = self.keys.last().map_or(0, |k| k.0);
        if h.from_size() < previous {
            return Err(HandoverError::SizeDecreases {
                from: h.from_size(),
                previous,
            });
        }
        if self
            .keys
            .iter()
            .any(|(_, k)| k.public() == h.new_key().public() || k.key_id() == h.new_key().key_id())
        {
            return Err(HandoverError::KeyReused {
                key_id: h.new_key().key_id(),
            });
        }
        self.keys.push((h.from_size(), h.new_key().clone()));
        self.handovers.push(h);
        Ok(())
    }

    /// The original key (key 0).
    pub fn original(&self) -> &LogVerifier {
        &self.keys[0].1
    }

    /// The key signing the log now (the last handover's new key).
    pub fn current(&self) -> &LogVerifier {
        // Cannot fail: a history always holds its original key.
        &self.keys.last().expect("a history holds at least its original key").1
    }

    /// The handovers, oldest first.
    pub fn handovers(&self) -> &[Handover] {
        &self.handovers
    }

    /// The handover notes, oldest first (what bundles carry).
    pub fn notes(&self) -> Vec<String> {
        self.handovers.iter().map(|h| h.note().to_string()).collect()
    }

    /// Every key with the receipt indexes it signs, the original first.
    pub fn ranges(&self) -> Vec<KeyRange> {
        self.keys
            .iter()
            .enumerate()
            .map(|(j, (from, key))| KeyRange {
                key: key.clone(),
                from: *from,
                until: self.keys.get(j + 1).map(|k| k.0),
            })
            .collect()
    }

    /// The position (0 = original) of the key that signs the receipt at log index `index`.
    pub fn position_for_index(&self, index: u64) -> usize {
        self.keys.iter().rposition(|(from, _)| *from <= index).unwrap_or(0)
    }

    /// The position of the key that signs the checkpoint of tree size `size`: the key of its
    /// last leaf; the original key for the empty tree.
    pub fn position_for_size(&self, size: u64) -> usize {
        size.checked_sub(1).map_or(0, |last| self.position_for_index(last))
    }

    /// The error for something at `at` (an index, or a checkpoint's last leaf) signed by the
    /// key at `signer` when the key at `expected` should have.
    fn out_of_range(&self, signer: usize, expected: usize, at: u64) -> VerifyError {
        let key_id = self.keys[signer].1.key_id();
        if signer < expected {
            VerifyError::RetiredKey {
                key_id,
                // Cannot fail: signer < expected ≤ last position.
                end: self.keys[signer + 1].0,
                at,
            }
        } else {
            VerifyError::KeyNotYetValid {
                key_id,
                start: self.keys[signer].0,
                at,
            }
        }
    }

    /// Verifies a receipt with the key valid for its log index. The index (read from the
    /// body before any signature is checked) only picks which key to try first: the receipt
    /// is accepted only once that key's signature over the bytes as received verifies (then
    /// the body is decoded as [`LogVerifier::verify_receipt`] does). A receipt signed by
    /// another key of the history is [`VerifyError::RetiredKey`] or
    /// [`VerifyError::KeyNotYetValid`]; by no key of it, [`VerifyError::BadSignature`].
    pub fn verify_receipt(&self, bytes: &[u8]) -> Result<SignedReceipt, VerifyError> {
        let r = UnverifiedReceipt::parse(bytes)?;
        let first = r.peek_unverified().ok().map(|b| self.position_for_index(b.index));
        let order = first
            .into_iter()
            .chain((0..self.keys.len()).filter(|p| Some(*p) != first));
        for p in order {
            match self.keys[p].1.verify_unverified(&r) {
                Ok(s) => {
                    let want = self.position_for_index(s.body().index);
                    if want != p {
                        return Err(self.out_of_range(p, want, s.body().index));
                    }
                    return Ok(s);
                }
                Err(VerifyError::BadSignature) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(VerifyError::BadSignature)
    }

    /// Verifies a receipt's signed header alone (a sealed bundle entry) with the key valid for
    /// its log index, as [`KeyHistory::verify_receipt`] does for a whole receipt (the index
    /// read before the signature only picks which key to try first).
    pub fn verify_header(&self, header: &[u8], signature: &[u8]) -> Result<crate::ReceiptHeader, VerifyError> {
        let first = crate::ReceiptHeader::decode(header)
            .ok()
            .map(|h| self.position_for_index(h.index));
        let order = first
            .into_iter()
            .chain((0..self.keys.len()).filter(|p| Some(*p) != first));
        for p in order {
            match self.keys[p].1.verify_header(header, signature) {
                Ok(h) => {
                    let want = self.position_for_index(h.index);
                    if want != p {
                        return Err(self.out_of_range(p, want, h.index));
                    }
                    return Ok(h);
                }
                Err(VerifyError::BadSignature) => continue,
                Err(e) => return Err(e),
            }
        }
        Err(VerifyError::BadSignature)
    }

    /// Verifies a signed checkpoint with the key valid for its tree size: the note must carry
    /// a signature line of some key of the history (else [`VerifyError::NotSignedByLogKey`]),
    /// every line of such a key must verify ([`VerifyError::BadSignature`]), the body must
    /// parse and name this log, and one of the keys that signed must be the one valid for the
    /// size (else [`VerifyError::RetiredKey`] / [`VerifyError::KeyNotYetValid`]).
    pub fn verify_checkpoint(&self, msg: &str) -> Result<Checkpoint, VerifyError> {
        let note = SignedNote::parse(msg)?;
        let signers: Vec<usize> = (0..self.keys.len())
            .filter(|p| {
                let k = &self.keys[*p].1;
                note.signatures()
                    .iter()
                    .any(|s| s.name() == k.origin() && s.key_id() == k.key_id())
            })
            .collect();
        if signers.is_empty() {
            return Err(VerifyError::NotSignedByLogKey);
        }
        for p in &signers {
            self.keys[*p].1.verify_note(msg)?;
        }
        let cp = Checkpoint::parse(note.text())?;
        let origin = self.original().origin();
        if cp.origin() != origin {
            return Err(VerifyError::OriginMismatch {
                expected: origin.to_string(),
                found: cp.origin().to_string(),
            });
        }
        let want = self.position_for_size(cp.size());
        if signers.contains(&want) {
            return Ok(cp);
        }
        // The signer nearest to the key that should have signed names the problem.
        let signer = signers
            .iter()
            .copied()
            .filter(|p| *p < want)
            .max()
            .or_else(|| signers.iter().copied().min())
            .unwrap_or(0);
        Err(self.out_of_range(signer, want, cp.size()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const O: &str = "credseal.example/log";

    fn signer(seed: u8) -> LogSigner {
        LogSigner::from_seed(O, &[seed; 32]).unwrap()
    }

    /// `text` signed by the keys of `seeds` (a note with those signature lines).
    fn note(text: &str, seeds: &[u8]) -> String {
        let mut n = format!("{text}\n");
        for s in seeds {
            n.push_str(&signer(*s).note_signature_line(text).unwrap());
        }
        n
    }

    #[test]
    fn handover_round_trip_and_layout() {
        let (a, b) = (signer(1), signer(2));
        let h = Handover::sign(&a, &b, 17).unwrap();
        let text = format!("{HANDOVER_TITLE}\n{O}\n17\n{}\n{}\n", a.vkey(), b.vkey());
        assert_eq!(h.note(), note(&text, &[1, 2]));
        let v = Handover::verify(h.note()).unwrap();
        assert_eq!((v.from_size(), v.origin()), (17, O));
        assert_eq!(v.old_key().vkey(), a.vkey());
        assert_eq!(v.new_key().vkey(), b.vkey());
        // Both signature lines carry the origin as key name, with their own key ids.
        let sigs = SignedNote::parse(h.note()).unwrap();
        let ids: Vec<(&str, u32)> = sigs.signatures().iter().map(|s| (s.name(), s.key_id())).collect();
        assert_eq!(ids, vec![(O, a.key_id()), (O, b.key_id())]);
        // A witness's extra line is ignored.
        let mut cosigned = h.note().to_string();
        cosigned.push_str(
            &LogSigner::from_seed("witness", &[9; 32])
                .unwrap()
                .note_signature_line(&text)
                .unwrap(),
        );
        assert!(Handover::verify(&cosigned).is_ok());
        assert!(Handover::sign(&a, &a, 1).is_err());
        assert!(Handover::sign(&a, &LogSigner::from_seed("other", &[2; 32]).unwrap(), 1).is_err());
    }

    fn line_of(text: &str) -> (usize, &'static str) {
        match Handover::verify(&note(text, &[1, 2])).unwrap_err() {
            HandoverError::Malformed(FormatError::Handover { line, reason }) => (line, reason),
            e => panic!("{e:?}"),
        }
    }

    #[test]
    fn malformed_handovers_name_the_line() {
        let (a, b) = (signer(1).vkey(), signer(2).vkey());
        let ok = |size: &str, a: &str, b: &str| format!("{HANDOVER_TITLE}\n{O}\n{size}\n{a}\n{b}\n");
        assert!(Handover::verify(&note(&ok("0", &a, &b), &[1, 2])).is_ok());
        assert_eq!(line_of(&format!("{O}\n3\n{a}\n{b}\nx\n")).0, 1);
        assert_eq!(line_of(&format!("{HANDOVER_TITLE}\n{O}\n3\n{a}\n")).0, 4);
        assert_eq!(line_of(&format!("{}extra\n", ok("3", &a, &b))).0, 6);
        assert_eq!(line_of(&ok("03", &a, &b)).0, 3);
        assert_eq!(line_of(&ok("+3", &a, &b)).0, 3);
        assert_eq!(line_of(&ok("4611686018427387905", &a, &b)).0, 3);
        assert_eq!(line_of(&ok("3", &a.replace(O, "other"), &b)).0, 4);
        assert_eq!(line_of(&ok("3", &a, &a)), (5, "the new key is the old key"));
        let upper = {
            let (name, rest) = b.split_once('+').unwrap();
            let (id, key) = rest.split_once('+').unwrap();
            format!("{name}+{}+{key}", id.to_uppercase())
        };
        if upper != b {
            assert_eq!(line_of(&ok("3", &a, &upper)).0, 5);
        }
        let other_origin = format!("{HANDOVER_TITLE}\nother\n3\n{a}\n{b}\n");
        assert_eq!(line_of(&other_origin).0, 4);
    }

    #[test]
    fn signatures_of_both_keys_are_required() {
        let (a, b) = (signer(1), signer(2));
        let text = format!("{HANDOVER_TITLE}\n{O}\n5\n{}\n{}\n", a.vkey(), b.vkey());
        assert_eq!(
            Handover::verify(&note(&text, &[2])).unwrap_err(),
            HandoverError::NotSignedByOldKey { key_id: a.key_id() }
        );
        assert_eq!(
            Handover::verify(&note(&text, &[1])).unwrap_err(),
            HandoverError::NotSignedByNewKey { key_id: b.key_id() }
        );
        // A third key's signature does not stand in for either.
        assert_eq!(
            Handover::verify(&note(&text, &[3, 2])).unwrap_err(),
            HandoverError::NotSignedByOldKey { key_id: a.key_id() }
        );
    }

    #[test]
    fn key_ranges_receipts_and_checkpoints() {
        let (a, b, c) = (signer(1), signer(2), signer(3));
        let mut h = KeyHistory::new(a.verifier());
        h.push(Handover::sign(&a, &b, 4).unwrap()).unwrap();
        // A second rotation at the same size: key b signs nothing.
        h.push(Handover::sign(&b, &c, 4).unwrap()).unwrap();
        assert_eq!(
            h.push(Handover::sign(&c, &a, 9).unwrap()).unwrap_err(),
            HandoverError::KeyReused { key_id: a.key_id() }
        );
        assert_eq!(
            h.push(Handover::sign(&b, &signer(4), 9).unwrap()).unwrap_err(),
            HandoverError::NotFromKeyInForce {
                expected: c.key_id(),
                found: b.key_id()
            }
        );
        assert_eq!(
            [0, 3, 4, 100].map(|i| h.position_for_index(i)),
            [0, 0, 2, 2],
            "receipts"
        );
        assert_eq!(
            [0, 1, 4, 5].map(|s| h.position_for_size(s)),
            [0, 0, 0, 2],
            "checkpoints"
        );
        let body = |index| crate::ReceiptBody {
            index,
            time: 1,
            actor: crate::Actor::Platform,
            action: crate::Action::KeyEvent,
            detail: String::new(),
            subject: None,
            classes: Default::default(),
            purpose: String::new(),
            token_hash: None,
            outcome: crate::Outcome::Done,
            release_digest: None,
            salt: [0; 16],
            chain: None,
            disclose_after: None,
            flags: 0,
        };
        let r = |k: &LogSigner, i| k.sign_receipt(&body(i)).unwrap().into_bytes();
        assert!(h.verify_receipt(&r(&a, 3)).is_ok());
        assert!(h.verify_receipt(&r(&c, 4)).is_ok());
        assert_eq!(
            h.verify_receipt(&r(&a, 4)).unwrap_err(),
            VerifyError::RetiredKey {
                key_id: a.key_id(),
                end: 4,
                at: 4
            }
        );
        assert_eq!(
            h.verify_receipt(&r(&b, 4)).unwrap_err(),
            VerifyError::RetiredKey {
                key_id: b.key_id(),
                end: 4,
                at: 4
            }
        );
        assert_eq!(
            h.verify_receipt(&r(&c, 3)).unwrap_err(),
            VerifyError::KeyNotYetValid {
                key_id: c.key_id(),
                start: 4,
                at: 3
            }
        );
        assert_eq!(
            h.verify_receipt(&r(&signer(5), 3)).unwrap_err(),
            VerifyError::BadSignature
        );
        let cp = |k: &LogSigner, size| k.sign_checkpoint(&Checkpoint::new(O, size, [0; 32]).unwrap());
        assert!(h.verify_checkpoint(&cp(&a, 4)).is_ok());
        assert!(h.verify_checkpoint(&cp(&c, 5)).is_ok());
        assert_eq!(
            h.verify_checkpoint(&cp(&a, 5)).unwrap_err(),
            VerifyError::RetiredKey {
                key_id: a.key_id(),
                end: 4,
                at: 5
            }
        );
        assert_eq!(
            h.verify_checkpoint(&cp(&c, 4)).unwrap_err(),
            VerifyError::KeyNotYetValid {
                key_id: c.key_id(),
                start: 4,
                at: 4
            }
        );
        assert_eq!(
            h.verify_checkpoint(&cp(&signer(5), 5)).unwrap_err(),
            VerifyError::NotSignedByLogKey
        );
        let back = KeyHistory::from_handovers(&a.verifier(), &h.notes()).unwrap();
        assert_eq!(back, h);
    }
}
