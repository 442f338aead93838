//! Signed objects (credentials, tokens, consents, revocation lists, self-queries, shred
//! orders, staff orders and requests, bundle requests, ingest batches) in text form
//! `cs1.<kind>.<base64url>` and in wire form: parse, peek, verify against a fixed key.
#![no_main]

use std::sync::LazyLock;

use credseal_auth::{
    BundleRequest, Consent, Credential, IngestBatch, PublicKey, RevocationList, SelfQuery, ShredOrder, SignedBody,
    SigningKey, StaffOrder, StaffRequest, Token, Unverified,
};
use libfuzzer_sys::fuzz_target;

static KEY: LazyLock<PublicKey> = LazyLock::new(|| SigningKey::from_seed(&[7; 32]).public());

fn one<T: SignedBody>(data: &[u8], text: Option<&str>) {
    let key = &*KEY;
    if let Ok(u) = Unverified::<T>::parse_bytes(data) {
        let _ = u.peek_unverified();
        let _ = u.digest();
        assert!(
            u.verify(key).is_err(),
            "a fuzzed object verified under a key nobody signed with"
        );
    }
    if let Some(text) = text
        && let Ok(u) = Unverified::<T>::parse_text(text)
    {
        let _ = u.peek_unverified();
        assert!(
            u.verify(key).is_err(),
            "a fuzzed object verified under a key nobody signed with"
        );
    }
}

fuzz_target!(|data: &[u8]| {
    let text = std::str::from_utf8(data).ok();
    one::<Credential>(data, text);
    one::<Token>(data, text);
    one::<Consent>(data, text);
    one::<RevocationList>(data, text);
    one::<SelfQuery>(data, text);
    one::<ShredOrder>(data, text);
    one::<StaffOrder>(data, text);
    one::<StaffRequest>(data, text);
    one::<BundleRequest>(data, text);
    one::<IngestBatch>(data, text);
});
