//! Signed ingest batches (docs/formats.md "Ingest batch"): a data provider enrolled on the
//! platform (staff role `provider`) signs a JSON Lines file of records for one platform, and
//! the platform ingests it only if the signature is the enrolled key's, the batch is for this
//! platform, recent, and not seen before.
//!
//! The batch is one more signed kind ([`crate::Kind::Batch`], text `cs1.batch.<base64url>`):
//! the signature covers `"credseal:v1:batch" ‖ 0x00 ‖ postcard(body)`, and the body carries
//! the records themselves with their SHA-256. [`check_batch`] is the whole pure check; the
//! platform adds the lookup of the key among its enrolled providers and the replay check on
//! [`crate::Unverified::digest`].

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::wire::SigError;
use crate::{PublicKey, Unverified, Verified};

/// How old a batch may be when it reaches the platform: one hour after `signed_at`.
pub const MAX_BATCH_AGE_SECS: u64 = 3600;

/// Largest batch accepted, in wire bytes (the records are most of it).
pub const MAX_BATCH_WIRE_LEN: usize = 32 << 20;

/// A batch of records signed by a data provider ([`crate::Kind::Batch`]).
///
/// `records` is a JSON Lines text, exactly as the provider's file held it; `records_sha256`
/// is its SHA-256 (checked again by the platform, so that a tool that re-encodes the records
/// is caught). `provider_key` is the key that signs, looked up among the platform's enrolled
/// providers, whose id must be `provider_id`. `nonce` makes two batches of the same records
/// different objects. Extensible: a later version may add per-class scopes.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IngestBatch {
    /// The provider's id, as enrolled.
    pub provider_id: String,
    /// The key that signs the batch (enrolled for `provider_id`).
    pub provider_key: PublicKey,
    /// When the provider signed it (Unix seconds).
    pub signed_at: u64,
    /// The platform (its log origin) the batch is for.
    pub audience: String,
    /// 16 random bytes.
    pub nonce: [u8; 16],
    /// SHA-256 of `records`.
    pub records_sha256: [u8; 32],
    /// The records, JSON Lines.
    pub records: String,
}

impl fmt::Debug for IngestBatch {
    /// Never the records (personal data): their size and digest only.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IngestBatch")
            .field("provider_id", &self.provider_id)
            .field("provider_key", &self.provider_key)
            .field("signed_at", &self.signed_at)
            .field("audience", &self.audience)
            .field("records_bytes", &self.records.len())
            .finish_non_exhaustive()
    }
}

impl IngestBatch {
    /// A batch of `records` by `provider_id` (signing with `provider_key`) for `audience`,
    /// signed at `signed_at`; its digest is computed here.
    pub fn new(
        provider_id: String,
        provider_key: PublicKey,
        audience: String,
        signed_at: u64,
        nonce: [u8; 16],
        records: String,
    ) -> Self {
        Self {
            records_sha256: sha256(records.as_bytes()),
            provider_id,
            provider_key,
            signed_at,
            audience,
            nonce,
            records,
        }
    }
}

fn sha256(b: &[u8]) -> [u8; 32] {
    let d = ring::digest::digest(&ring::digest::SHA256, b);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// Why a batch was refused. [`BatchError::is_forgery`] tells forgery (exit 4) from a batch
/// that is genuine but not acceptable here (exit 3).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BatchError {
    /// The signature does not verify under the key the batch names (altered bytes).
    #[error("the batch's signature does not verify")]
    BadSignature,
    /// The body is malformed, or the records are not the ones the digest names.
    #[error("the batch is malformed: {0}")]
    Malformed(String),
    /// The batch names another id than the one its key is enrolled under.
    #[error("the batch's key is enrolled for another provider id")]
    WrongProvider,
    /// The batch is for another platform.
    #[error("the batch is for another platform")]
    WrongAudience,
    /// Signed more than [`MAX_BATCH_AGE_SECS`] ago.
    #[error("the batch was signed more than {MAX_BATCH_AGE_SECS} s ago")]
    Expired,
    /// Signed in the future (beyond the tolerated clock skew).
    #[error("the batch was signed in the future")]
    NotYetValid,
}

impl BatchError {
    /// A stable reason code.
    pub fn code(&self) -> &'static str {
        match self {
            Self::BadSignature => "bad-signature",
            Self::Malformed(_) => "malformed",
            Self::WrongProvider => "provider-mismatch",
            Self::WrongAudience => "wrong-audience",
            Self::Expired => "batch-expired",
            Self::NotYetValid => "batch-not-yet-valid",
        }
    }

    /// Whether this means forgery or tampering (exit 4) rather than a refusal (exit 3).
    pub fn is_forgery(&self) -> bool {
        matches!(self, Self::BadSignature | Self::Malformed(_))
    }
}

/// What [`check_batch`] checks a batch against.
#[derive(Clone, Copy, Debug)]
pub struct BatchContext<'a> {
    /// Now (Unix seconds).
    pub now: u64,
    /// This platform's origin.
    pub audience: &'a str,
    /// Clock skew tolerated for `signed_at` in the future.
    pub max_skew_secs: u64,
    /// The id under which the batch's key is enrolled.
    pub enrolled_id: &'a str,
}

/// Checks a batch whose key (`provider_key`, read with [`Unverified::peek_unverified`]) is
/// enrolled as `ctx.enrolled_id`: the signature (strict Ed25519) under that key over the
/// bytes as received, then the body: the records' digest, the provider id, the audience and
/// the age. The replay check on [`Unverified::digest`] is the caller's.
pub fn check_batch(
    u: &Unverified<IngestBatch>,
    key: &PublicKey,
    ctx: &BatchContext<'_>,
) -> Result<Verified<IngestBatch>, BatchError> {
    let v = u.verify(key).map_err(|e| match e {
        SigError::BadSignature => BatchError::BadSignature,
        SigError::Body(f) => BatchError::Malformed(f.to_string()),
    })?;
    let b = v.body();
    if b.provider_key != *key {
        return Err(BatchError::BadSignature);
    }
    if sha256(b.records.as_bytes()) != b.records_sha256 {
        return Err(BatchError::Malformed(
            "the records are not the ones the batch's digest names".into(),
        ));
    }
    if b.provider_id != ctx.enrolled_id {
        return Err(BatchError::WrongProvider);
    }
    if b.audience != ctx.audience {
        return Err(BatchError::WrongAudience);
    }
    if b.signed_at > ctx.now.saturating_add(ctx.max_skew_secs) {
        return Err(BatchError::NotYetValid);
    }
    if ctx.now.saturating_sub(b.signed_at) > MAX_BATCH_AGE_SECS {
        return Err(BatchError::Expired);
    }
    Ok(v)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{SigningKey, sign};

    const NOW: u64 = 1_800_000_000;
    const ORIGIN: &str = "credseal.example/log";

    fn batch(sk: &SigningKey) -> IngestBatch {
        IngestBatch::new(
            "prov-a".into(),
            sk.public(),
            ORIGIN.into(),
            NOW,
            [5; 16],
            "{\"a\":1}\n{\"b\":2}\n".into(),
        )
    }

    fn ctx() -> BatchContext<'static> {
        BatchContext {
            now: NOW + 10,
            audience: ORIGIN,
            max_skew_secs: 60,
            enrolled_id: "prov-a",
        }
    }

    fn check(text: &str, key: &PublicKey, ctx: &BatchContext<'_>) -> Result<IngestBatch, BatchError> {
        let u = Unverified::<IngestBatch>::parse_text(text).map_err(|e| BatchError::Malformed(e.to_string()))?;
        check_batch(&u, key, ctx).map(Verified::into_body)
    }

    #[test]
    fn batch_round_trips_with_its_label() {
        let sk = SigningKey::from_seed(&[3; 32]);
        let text = sign(&batch(&sk), &sk).to_text();
        assert!(text.starts_with("cs1.batch."), "{text}");
        assert_eq!(check(&text, &sk.public(), &ctx()).unwrap(), batch(&sk));
        assert!(!format!("{:?}", batch(&sk)).contains("\"a\""));
    }

    #[test]
    fn batch_records_byte_flipped_is_a_bad_signature() {
        let sk = SigningKey::from_seed(&[3; 32]);
        let mut wire = sign(&batch(&sk), &sk).to_bytes();
        let at = wire.windows(5).position(|w| w == b"{\"a\":").unwrap() + 2;
        wire[at] = b'c';
        let u = Unverified::<IngestBatch>::parse_bytes(&wire).unwrap();
        assert_eq!(
            check_batch(&u, &sk.public(), &ctx()).unwrap_err(),
            BatchError::BadSignature
        );
    }

    #[test]
    fn batch_digest_mismatch_is_malformed() {
        let sk = SigningKey::from_seed(&[3; 32]);
        let mut b = batch(&sk);
        b.records_sha256[0] ^= 1;
        let e = check(&sign(&b, &sk).to_text(), &sk.public(), &ctx()).unwrap_err();
        assert!(matches!(e, BatchError::Malformed(_)) && e.is_forgery(), "{e:?}");
    }

    #[test]
    fn batch_signed_by_another_key_is_a_bad_signature() {
        let sk = SigningKey::from_seed(&[3; 32]);
        let other = SigningKey::from_seed(&[4; 32]);
        // Names `sk` as its key, signed by `other`.
        let text = sign(&batch(&sk), &other).to_text();
        assert_eq!(
            check(&text, &sk.public(), &ctx()).unwrap_err(),
            BatchError::BadSignature
        );
    }

    #[test]
    fn batch_refusals_by_context() {
        let sk = SigningKey::from_seed(&[3; 32]);
        let text = sign(&batch(&sk), &sk).to_text();
        let pk = sk.public();
        let refused = |c: BatchContext<'_>| check(&text, &pk, &c).unwrap_err();
        assert_eq!(
            refused(BatchContext {
                enrolled_id: "prov-b",
                ..ctx()
            }),
            BatchError::WrongProvider
        );
        assert_eq!(
            refused(BatchContext {
                audience: "other.example/log",
                ..ctx()
            }),
            BatchError::WrongAudience
        );
        assert_eq!(
            refused(BatchContext {
                now: NOW + MAX_BATCH_AGE_SECS + 1,
                ..ctx()
            }),
            BatchError::Expired
        );
        assert_eq!(
            refused(BatchContext { now: NOW - 61, ..ctx() }),
            BatchError::NotYetValid
        );
        // At the edges: accepted.
        for now in [NOW + MAX_BATCH_AGE_SECS, NOW - 60] {
            assert!(check(&text, &pk, &BatchContext { now, ..ctx() }).is_ok());
        }
        for e in [
            BatchError::WrongProvider,
            BatchError::WrongAudience,
            BatchError::Expired,
        ] {
            assert!(!e.is_forgery());
        }
    }

    #[test]
    fn batch_over_the_token_limit_parses() {
        // A batch may be larger than the 1 MiB other kinds are held to.
        let sk = SigningKey::from_seed(&[3; 32]);
        let line = format!("{{\"x\":\"{}\"}}\n", "y".repeat(1000));
        let records = line.repeat(2000);
        let b = IngestBatch::new("prov-a".into(), sk.public(), ORIGIN.into(), NOW, [1; 16], records);
        let text = sign(&b, &sk).to_text();
        assert!(text.len() > crate::MAX_WIRE_LEN * 2);
        assert!(check(&text, &sk.public(), &ctx()).is_ok());
    }
}
