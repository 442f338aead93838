use proptest::prelude::*;

use super::*;

fn unhex32(s: &str) -> Hash {
    assert_eq!(s.len(), 64, "{s}");
    let mut h = [0u8; 32];
    for (i, b) in h.iter_mut().enumerate() {
        *b = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).unwrap();
    }
    h
}

// ---------------------------------------------------------------------------------------
// Reference vectors of the Certificate Transparency test suite, as published in
// transparency-dev/merkle, `proof/verify_test.go` (commit 02194e9afb6c1d95b5381350007963aa70fff472;
// the same values are in certificate-transparency-go `merkle/log_verifier_test.go` and the
// C++ reference `merkletree/merkle_tree_test.cc`). Their leaf indexes are 1-based there;
// here they are converted to 0-based.
// ---------------------------------------------------------------------------------------

const CT_LEAVES: [&[u8]; 8] = [
    b"",
    b"\x00",
    b"\x10",
    b"\x20\x21",
    b"\x30\x31",
    b"\x40\x41\x42\x43",
    b"\x50\x51\x52\x53\x54\x55\x56\x57",
    b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f",
];

/// MTH of the first 1..=8 leaves.
const CT_ROOTS: [&str; 8] = [
    "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
    "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
    "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
    "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
    "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
    "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];

/// (leaf index, tree size, audit path).
const CT_INCLUSION: [(u64, u64, &[&str]); 5] = [
    (0, 1, &[]),
    (
        0,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        5,
        8,
        &[
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        3,
        &["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"],
    ),
    (
        1,
        5,
        &[
            "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
];

/// (old size, new size, consistency proof).
const CT_CONSISTENCY: [(u64, u64, &[&str]); 5] = [
    (1, 1, &[]),
    (
        1,
        8,
        &[
            "96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4",
        ],
    ),
    (
        6,
        8,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
    (
        2,
        5,
        &[
            "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
            "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
        ],
    ),
    (
        6,
        7,
        &[
            "0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
            "b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f",
            "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        ],
    ),
];

fn ct_log() -> MemoryLog {
    let mut log = MemoryLog::new();
    for leaf in CT_LEAVES {
        log.append(leaf);
    }
    log
}

fn hashes(list: &[&str]) -> Vec<Hash> {
    list.iter().map(|s| unhex32(s)).collect()
}

#[test]
fn empty_root_is_sha256_of_nothing() {
    assert_eq!(EMPTY_ROOT, sha256(b""));
    assert_eq!(tree_hash(0, &Vec::<Hash>::new()).unwrap(), EMPTY_ROOT);
}

#[test]
fn ct_reference_roots() {
    let log = ct_log();
    for (i, root) in CT_ROOTS.iter().enumerate() {
        assert_eq!(log.tree_hash(i as u64 + 1).unwrap(), unhex32(root), "size {}", i + 1);
    }
    // The leaf hash of the empty leaf is the root of size 1.
    assert_eq!(record_hash(b""), unhex32(CT_ROOTS[0]));
}

#[test]
fn ct_reference_inclusion_proofs_verify_and_match_ours() {
    let log = ct_log();
    for (n, t, proof) in CT_INCLUSION {
        let proof = hashes(proof);
        let root = unhex32(CT_ROOTS[t as usize - 1]);
        let leaf = record_hash(CT_LEAVES[n as usize]);
        check_record(&proof, t, &root, n, &leaf).unwrap_or_else(|e| panic!("({n}, {t}): {e}"));
        assert_eq!(log.prove_record(t, n).unwrap(), proof, "({n}, {t})");
        for (what, bad) in corrupt_inclusion(n, t, &proof, &root, &leaf) {
            assert!(bad.is_err(), "({n}, {t}) accepted with {what}");
        }
    }
}

#[test]
fn ct_reference_consistency_proofs_verify_and_match_ours() {
    let log = ct_log();
    for (m, t, proof) in CT_CONSISTENCY {
        let proof = hashes(proof);
        let old = unhex32(CT_ROOTS[m as usize - 1]);
        let new = unhex32(CT_ROOTS[t as usize - 1]);
        check_tree(&proof, t, &new, m, &old).unwrap_or_else(|e| panic!("({m}, {t}): {e}"));
        assert_eq!(log.prove_tree(t, m).unwrap(), proof, "({m}, {t})");
        if !proof.is_empty() {
            for (what, bad) in corrupt_consistency(m, t, &proof, &old, &new) {
                assert!(bad.is_err(), "({m} → {t}) accepted with {what}");
            }
        }
    }
}

/// The corruptions of transparency-dev/merkle's `corruptInclusionProof`, checked with ours.
fn corrupt_inclusion(n: u64, t: u64, p: &[Hash], root: &Hash, leaf: &Hash) -> Vec<(String, Result<(), ProofError>)> {
    let some = unhex32("abacaba000000000000000000000000000000000000000000060061e00123456");
    let mut out = vec![
        (
            "index - 1".to_string(),
            check_record(p, t, root, n.wrapping_sub(1), leaf),
        ),
        ("index + 1".into(), check_record(p, t, root, n + 1, leaf)),
        ("index ^ 2".into(), check_record(p, t, root, n ^ 2, leaf)),
        ("size * 2".into(), check_record(p, t * 2, root, n, leaf)),
        ("size / 2".into(), check_record(p, t / 2, root, n, leaf)),
        (
            "wrong leaf".into(),
            check_record(p, t, root, n, &record_hash(b"WrongLeaf")),
        ),
        ("empty root".into(), check_record(p, t, &EMPTY_ROOT, n, leaf)),
        ("random root".into(), check_record(p, t, &some, n, leaf)),
        (
            "trailing root".into(),
            check_record(&[p, &[*root]].concat(), t, root, n, leaf),
        ),
        (
            "preceding root".into(),
            check_record(&[&[*root], p].concat(), t, root, n, leaf),
        ),
    ];
    for i in 0..p.len() {
        let mut q = p.to_vec();
        q[i][0] ^= 8;
        out.push((format!("modified proof[{i}] bit 3"), check_record(&q, t, root, n, leaf)));
    }
    if !p.is_empty() {
        out.push((
            "removed component".into(),
            check_record(&p[..p.len() - 1], t, root, n, leaf),
        ));
    }
    if p.len() > 1 {
        let q = [&[p[0], some][..], &p[1..]].concat();
        out.push(("inserted component".into(), check_record(&q, t, root, n, leaf)));
    }
    out
}

/// The corruptions of transparency-dev/merkle's `corruptConsistencyProof`, checked with ours.
fn corrupt_consistency(m: u64, t: u64, p: &[Hash], old: &Hash, new: &Hash) -> Vec<(String, Result<(), ProofError>)> {
    let wrong = sha256(b"WrongRoot");
    let mut out = vec![
        ("size1 - 1".to_string(), check_tree(p, t, new, m - 1, old)),
        ("size1 + 1".into(), check_tree(p, t, new, m + 1, old)),
        ("size1 ^ 2".into(), check_tree(p, t, new, m ^ 2, old)),
        ("size2 * 2".into(), check_tree(p, t * 2, new, m, old)),
        ("size2 / 2".into(), check_tree(p, t / 2, new, m, old)),
        ("wrong root1".into(), check_tree(p, t, new, m, &wrong)),
        ("wrong root2".into(), check_tree(p, t, &wrong, m, old)),
        ("swapped roots".into(), check_tree(p, t, old, m, new)),
        ("empty proof".into(), check_tree(&[], t, new, m, old)),
        (
            "trailing root1".into(),
            check_tree(&[p, &[*old]].concat(), t, new, m, old),
        ),
        (
            "trailing root2".into(),
            check_tree(&[p, &[*new]].concat(), t, new, m, old),
        ),
        (
            "preceding root1".into(),
            check_tree(&[&[*old], p].concat(), t, new, m, old),
        ),
        (
            "preceding root2".into(),
            check_tree(&[&[*new], p].concat(), t, new, m, old),
        ),
        (
            "preceding proof[0]".into(),
            check_tree(&[&[p[0]], p].concat(), t, new, m, old),
        ),
        ("truncated proof".into(), check_tree(&p[..p.len() - 1], t, new, m, old)),
    ];
    for i in 0..p.len() {
        let mut q = p.to_vec();
        q[i][0] ^= 16;
        out.push((format!("modified proof[{i}] bit 4"), check_tree(&q, t, new, m, old)));
    }
    out
}

#[test]
fn stored_hash_layout_matches_go() {
    // Record 0 writes (0,0); record 1 writes (0,1), (1,0); record 2 writes (0,2); record 3
    // writes (0,3), (1,1), (2,0); record 4 writes (0,4) — Crosby–Wallach §3.3, as in Go.
    let expected = [(0, 0), (0, 1), (1, 0), (0, 2), (0, 3), (1, 1), (2, 0), (0, 4)];
    for (index, &(level, n)) in expected.iter().enumerate() {
        assert_eq!(stored_hash_index(level, n), index as u64, "({level}, {n})");
        assert_eq!(split_stored_hash_index(index as u64), (level, n), "{index}");
    }
    assert_eq!(
        (0..9).map(stored_hash_count).collect::<Vec<_>>(),
        [0, 1, 3, 4, 7, 8, 10, 11, 15]
    );
}

#[test]
fn split_stored_hash_index_inverts_for_the_first_hashes() {
    for index in 0..5000u64 {
        let (level, n) = split_stored_hash_index(index);
        assert_eq!(stored_hash_index(level, n), index);
    }
}

#[test]
fn invalid_coordinates_are_refused() {
    let log = ct_log();
    assert_eq!(
        log.prove_record(8, 8).unwrap_err(),
        TreeError::InvalidInput("record index at or past the tree size")
    );
    assert!(matches!(log.prove_record(9, 0), Err(TreeError::InvalidInput(_))));
    assert!(matches!(log.prove_tree(8, 0), Err(TreeError::InvalidInput(_))));
    assert!(matches!(log.prove_tree(4, 5), Err(TreeError::InvalidInput(_))));
    assert!(matches!(
        tree_hash(MAX_TREE_SIZE + 1, &log),
        Err(TreeError::InvalidInput(_))
    ));
    let h = record_hash(b"");
    assert_eq!(check_record(&[], 0, &h, 0, &h), Err(ProofError::InvalidInput));
    assert_eq!(check_tree(&[], 1, &h, 0, &h), Err(ProofError::InvalidInput));
    assert_eq!(check_tree(&[], 1, &h, 2, &h), Err(ProofError::InvalidInput));
    // Missing stored hashes surface as reader errors.
    let short: Vec<Hash> = log.stored()[..3].to_vec();
    assert_eq!(
        tree_hash(8, &short).unwrap_err(),
        TreeError::Read(MissingHash { index: 14 })
    );
}

#[test]
fn a_reader_returning_too_few_hashes_is_an_error() {
    struct Short;
    impl HashReader for Short {
        type Error = ();
        fn read_hashes(&self, _: &[u64]) -> Result<Vec<Hash>, ()> {
            Ok(vec![])
        }
    }
    assert_eq!(tree_hash(3, &Short), Err(TreeError::ShortRead { asked: 2, got: 0 }));
}

#[test]
fn huge_sizes_do_not_overflow_in_checks() {
    let h = record_hash(b"x");
    assert!(check_record(&[h; 63], u64::MAX, &h, u64::MAX - 1, &h).is_err());
    assert_eq!(record_proof_len(u64::MAX, 0), 64);
    assert!(check_tree(&[h; 3], u64::MAX, &h, u64::MAX - 1, &h).is_err());
}

// ---------------------------------------------------------------------------------------
// Reference implementation of RFC 6962 §2.1 straight from its recursive definitions, to
// check the stored-hash algorithms on every tree shape.
// ---------------------------------------------------------------------------------------

fn k_of(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}

fn mth(d: &[Hash]) -> Hash {
    match d.len() {
        0 => EMPTY_ROOT,
        1 => d[0],
        n => {
            let k = k_of(n);
            node_hash(&mth(&d[..k]), &mth(&d[k..]))
        }
    }
}

fn path(m: usize, d: &[Hash]) -> Vec<Hash> {
    if d.len() == 1 {
        return vec![];
    }
    let k = k_of(d.len());
    if m < k {
        [path(m, &d[..k]), vec![mth(&d[k..])]].concat()
    } else {
        [path(m - k, &d[k..]), vec![mth(&d[..k])]].concat()
    }
}

fn subproof(m: usize, d: &[Hash], b: bool) -> Vec<Hash> {
    let n = d.len();
    if m == n {
        return if b { vec![] } else { vec![mth(d)] };
    }
    let k = k_of(n);
    if m <= k {
        [subproof(m, &d[..k], b), vec![mth(&d[k..])]].concat()
    } else {
        [subproof(m - k, &d[k..], false), vec![mth(&d[..k])]].concat()
    }
}

fn leaves(n: usize) -> Vec<Vec<u8>> {
    (0..n).map(|i| format!("leaf {i}").into_bytes()).collect()
}

fn log_of(data: &[Vec<u8>]) -> MemoryLog {
    let mut log = MemoryLog::new();
    for d in data {
        log.append(d);
    }
    log
}

#[test]
fn every_tree_up_to_70_matches_the_rfc_definitions() {
    let data = leaves(70);
    let lh: Vec<Hash> = data.iter().map(|d| record_hash(d)).collect();
    let log = log_of(&data);
    assert_eq!(log.stored().len() as u64, stored_hash_count(70));
    for t in 1..=70usize {
        let root = log.tree_hash(t as u64).unwrap();
        assert_eq!(root, mth(&lh[..t]), "root {t}");
        for n in 0..t {
            let p = log.prove_record(t as u64, n as u64).unwrap();
            assert_eq!(p, path(n, &lh[..t]), "path {n} of {t}");
            assert_eq!(p.len(), record_proof_len(t as u64, n as u64));
            check_record(&p, t as u64, &root, n as u64, &lh[n]).unwrap();
        }
        for m in 1..=t {
            let p = log.prove_tree(t as u64, m as u64).unwrap();
            assert_eq!(p, subproof(m, &lh[..t], true), "consistency {m} → {t}");
            assert_eq!(p.len(), tree_proof_len(t as u64, m as u64));
            check_tree(&p, t as u64, &root, m as u64, &mth(&lh[..m])).unwrap();
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn append_prove_verify(n in 1usize..300, pick in any::<prop::sample::Index>(), pick2 in any::<prop::sample::Index>()) {
        // One more leaf than the tree under test, for proofs made for a larger tree.
        let data = leaves(n + 1);
        let log = log_of(&data);
        prop_assert_eq!(log.stored().len() as u64, stored_hash_count(n as u64 + 1));
        let t = n as u64;
        let root = log.tree_hash(t).unwrap();
        let lh: Vec<Hash> = data.iter().map(|d| record_hash(d)).collect();
        prop_assert_eq!(root, mth(&lh[..n]));
        // Every leaf proves.
        for (i, h) in lh[..n].iter().enumerate() {
            let p = log.prove_record(t, i as u64).unwrap();
            prop_assert!(check_record(&p, t, &root, i as u64, h).is_ok());
        }
        // Every older tree is a prefix.
        for m in 1..=t {
            let p = log.prove_tree(t, m).unwrap();
            prop_assert!(check_tree(&p, t, &root, m, &log.tree_hash(m).unwrap()).is_ok());
        }

        // Tampered inclusion proofs fail.
        let i = pick.index(n) as u64;
        let p = log.prove_record(t, i).unwrap();
        let h = lh[i as usize];
        for j in 0..p.len() {
            for bit in [0u8, 3, 7] {
                let mut q = p.clone();
                q[j][usize::from(bit) % 32] ^= 1 << bit;
                prop_assert!(check_record(&q, t, &root, i, &h).is_err(), "flipped sibling {}", j);
            }
        }
        for j in 1..p.len() {
            if p[j - 1] != p[j] {
                let mut q = p.clone();
                q.swap(j - 1, j);
                prop_assert!(check_record(&q, t, &root, i, &h).is_err(), "swapped siblings {}", j);
            }
        }
        // The same proof at another index, and another index's proof, fail.
        for wrong in [i.wrapping_sub(1), i + 1, i ^ 1, i ^ 2] {
            if wrong != i {
                prop_assert!(check_record(&p, t, &root, wrong, &h).is_err(), "wrong index {}", wrong);
                if wrong < t {
                    let q = log.prove_record(t, wrong).unwrap();
                    prop_assert!(check_record(&q, t, &root, i, &h).is_err(), "proof of index {}", wrong);
                }
            }
        }
        // A proof made for another tree size fails against this tree's root. (The same
        // proof checked with another size *and this root* can pass: RFC 6962 proofs bind
        // the path, and the signed checkpoint binds size and root.)
        for other in [t - 1, t + 1] {
            if i < other {
                let q = log.prove_record(other, i).unwrap();
                prop_assert!(check_record(&q, t, &root, i, &h).is_err(), "proof for size {}", other);
            }
        }

        // Tampered consistency proofs fail.
        let m = pick2.index(n) as u64 + 1;
        let old = log.tree_hash(m).unwrap();
        let p = log.prove_tree(t, m).unwrap();
        for j in 0..p.len() {
            let mut q = p.clone();
            q[j][31] ^= 0x80;
            prop_assert!(check_tree(&q, t, &root, m, &old).is_err(), "flipped hash {}", j);
        }
        for j in 1..p.len() {
            if p[j - 1] != p[j] {
                let mut q = p.clone();
                q.swap(j - 1, j);
                prop_assert!(check_tree(&q, t, &root, m, &old).is_err(), "swapped hashes {}", j);
            }
        }
        if m < t {
            prop_assert!(check_tree(&p, t, &root, m, &root).is_err(), "new root as old");
            prop_assert!(check_tree(&p, t, &old, m, &old).is_err(), "old root as new");
        }
        for (om, ot) in [(m - 1, t), (m + 1, t), (m, t - 1), (m, t + 1)] {
            if (om, ot) != (m, t) && om >= 1 && om <= ot {
                let q = log.prove_tree(ot, om).unwrap();
                prop_assert!(check_tree(&q, t, &root, m, &old).is_err(), "proof for {} → {}", om, ot);
            }
        }
    }

    #[test]
    fn split_inverts_stored_hash_index(level in 0u32..40, n in 0u64..(1 << 20)) {
        let i = stored_hash_index(level, n);
        prop_assert_eq!(split_stored_hash_index(i), (level, n));
    }
}
