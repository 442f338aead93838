// RFC 9180 known-answer vectors for the parts of HPKE that credseal uses. Shared by the unit
// tests in `src/seal.rs` (`include!`) and by `tests/hpke_vectors.rs` (`#[path] mod`).
//
// Provenance. The official vector file is `test-vectors.json` of
// github.com/cfrg/draft-irtf-cfrg-hpke at commit 5f503c564da00b0687b3de75f1dfbdfc4079ad31 (the
// file RFC 9180 Appendix A was generated from). The `hpke` crate does not ship it (its package
// excludes `test-vectors/`), so the values below were transcribed from copies of it:
//
// * every `ikm_e`, `ikm_r`, `sk_rm`, `pk_rm` and `enc` from the Go standard library's copy
//   (`src/crypto/hpke/testdata/rfc9180.json` and `src/crypto/internal/hpke/testdata/
//   rfc9180-vectors.json` in golang/go), whose entries are keyed by mode / kem_id / kdf_id /
//   aead_id exactly as in the CFRG file;
// * the first encryption (sequence number 0: `aad`, `pt`, `ct`) of the credseal suite from the
//   CFRG file as quoted in several independent HPKE test suites; the Go copy replaces the
//   encryption list by a hash, so it cannot supply `ct`.
//
// Every value was also recomputed from the RFC 9180 algorithms alone (DeriveKeyPair, Encap,
// KeySchedule and Seal written out in a short Python script over pyca/cryptography's X25519 and
// AES-GCM and the standard library's HMAC-SHA-256), and matched. A transcription error would
// fail the tests anyway: AES-GCM authenticates `ct`.
//
// All values are lower-case hex.

/// The DHKEM(X25519, HKDF-SHA256) part of one mode-0 (base) vector. The KEM does not depend
/// on the AEAD, so the vectors of the other X25519 / HKDF-SHA256 suites check our key
/// derivation and encapsulation too.
#[allow(dead_code)] // each test file uses a different subset of the fields
pub struct KemVector {
    /// Where the vector comes from.
    pub name: &'static str,
    /// Input keying material of the sender's ephemeral key (`DeriveKeyPair(ikmE)`).
    pub ikm_e: &'static str,
    /// Input keying material of the recipient's key.
    pub ikm_r: &'static str,
    /// The recipient's private key as the vector serialises it (not clamped).
    pub sk_rm: &'static str,
    /// The recipient's public key.
    pub pk_rm: &'static str,
    /// The encapsulated key: the ephemeral public key.
    pub enc: &'static str,
}

/// Mode 0, kem_id 0x0020 (DHKEM(X25519, HKDF-SHA256)), kdf_id 0x0001 (HKDF-SHA256).
pub const KEM_VECTORS: [KemVector; 3] = [
    KemVector {
        name: "RFC 9180 A.1.1 (aead_id 0x0001, AES-128-GCM)",
        ikm_e: "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234",
        ikm_r: "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037",
        sk_rm: "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8",
        pk_rm: "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d",
        enc: "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431",
    },
    SUITE_KEM,
    KemVector {
        name: "RFC 9180 A.2.1 (aead_id 0x0003, ChaCha20Poly1305)",
        ikm_e: "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b",
        ikm_r: "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df",
        sk_rm: "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb",
        pk_rm: "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a",
        enc: "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a",
    },
];

/// credseal's exact suite: mode 0, kem_id 0x0020, kdf_id 0x0001, aead_id 0x0002 (AES-256-GCM).
/// RFC 9180's appendix prints no vector for it; `test-vectors.json` has this one.
pub const SUITE_KEM: KemVector = KemVector {
    name: "test-vectors.json mode 0, kem 0x0020, kdf 0x0001, aead 0x0002 (AES-256-GCM)",
    ikm_e: "2cd7c601cefb3d42a62b04b7a9041494c06c7843818e0ce28a8f704ae7ab20f9",
    ikm_r: "dac33b0e9db1b59dbbea58d59a14e7b5896e9bdf98fad6891e99d1686492b9ee",
    sk_rm: "497b4502664cfea5d5af0b39934dac72242a74f8480451e1aee7d6a53320333d",
    pk_rm: "430f4b9859665145a6b1ba274024487bd66f03a2dd577d7753c68d7d7d00c00c",
    enc: "6c93e09869df3402d7bf231bf540fadd35cd56be14f97178f0954db94b7fc256",
};

/// `info` of every RFC 9180 vector: "Ode on a Grecian Urn".
pub const SUITE_INFO: &str = "4f6465206f6e2061204772656369616e2055726e";
/// `aad` of encryption 0: "Count-0".
pub const SUITE_AAD0: &str = "436f756e742d30";
/// `pt` of encryption 0: "Beauty is truth, truth beauty".
pub const SUITE_PT0: &str = "4265617574792069732074727574682c20747275746820626561757479";
/// `ct` of encryption 0 (ciphertext ‖ 16-byte tag). A single-shot seal is encryption 0.
pub const SUITE_CT0: &str =
    "e5d84cd531cfb583096e7cfa9641bd3079cf3a91cda813c52deb5f512be9931980a41de125a925cdad859d5b7a";
