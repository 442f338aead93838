//! Property tests: prove → verify round trips, beta equality, determinism, and a proof is
//! bound to its input.

use credseal_vrf::{VrfError, VrfProof, VrfPublicKey, VrfSecretKey};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn prove_verify_round_trip(
        seed in any::<[u8; 32]>(),
        alpha in proptest::collection::vec(any::<u8>(), 0..64),
        other in proptest::collection::vec(any::<u8>(), 0..64),
    ) {
        let sk = VrfSecretKey::from_seed(seed);
        let proof = sk.prove(&alpha).expect("prove");

        // The verifier sees only bytes.
        let pk = VrfPublicKey::from_bytes(sk.public_key().as_bytes()).expect("own key is valid");
        let parsed = VrfProof::from_bytes(proof.as_bytes()).expect("own proof decodes");
        prop_assert_eq!(&parsed, &proof);
        let beta = pk.verify(&alpha, &parsed).expect("own proof verifies");
        prop_assert_eq!(&beta, &proof.proof_to_hash());

        // Deterministic: proving again gives the same proof and output.
        let again = sk.prove(&alpha).expect("prove");
        prop_assert_eq!(&again, &proof);

        // Bound to alpha.
        if other != alpha {
            prop_assert_eq!(pk.verify(&other, &parsed), Err(VrfError::ProofMismatch));
            let other_beta = sk.prove(&other).expect("prove").proof_to_hash();
            prop_assert_ne!(&other_beta, &beta);
        }
    }
}
