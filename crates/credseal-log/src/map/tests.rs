use std::collections::BTreeMap;

use proptest::prelude::*;

use super::*;

fn v(n: u64) -> MapValue {
    MapValue {
        count: n,
        head: [n as u8; 32],
        index: n * 10,
    }
}

/// The root straight from the definition in the module documentation.
fn reference_root(items: &[(Hash, MapValue)], depth: usize) -> Hash {
    match items {
        [] => EMPTY_MAP_ROOT,
        [(k, v)] => map_leaf_hash(k, v),
        _ => {
            let (l, r): (Vec<_>, Vec<_>) = items.iter().partition(|(k, _)| !bit(k, depth));
            map_node_hash(&reference_root(&l, depth + 1), &reference_root(&r, depth + 1))
        }
    }
}

fn reference(m: &BTreeMap<Hash, MapValue>) -> Hash {
    let items: Vec<_> = m.iter().map(|(k, v)| (*k, *v)).collect();
    reference_root(&items, 0)
}

/// Keys that share long prefixes: all bytes fixed except a few bits in chosen places,
/// including the very last bit (a leaf at depth 256).
fn key_strategy() -> impl Strategy<Value = Hash> {
    (0u8..4, 0u8..4, 0u8..2, any::<bool>()).prop_map(|(a, b, c, last)| {
        let mut k = [0x5a; 32];
        k[0] = 0x80 | a;
        k[13] ^= b << 3;
        k[30] ^= c;
        k[31] = 0x40 | last as u8;
        k
    })
}

#[test]
fn known_answers() {
    let m = MemoryMap::new();
    assert_eq!(m.root(), EMPTY_MAP_ROOT);
    let mut m = MemoryMap::new();
    let k1 = [0u8; 32];
    let mut k2 = [0u8; 32];
    k2[0] = 0x80; // differs in bit 0
    m.update(vec![(k1, v(1))]);
    assert_eq!(m.root(), map_leaf_hash(&k1, &v(1)));
    m.update(vec![(k2, v(2))]);
    assert_eq!(
        m.root(),
        map_node_hash(&map_leaf_hash(&k1, &v(1)), &map_leaf_hash(&k2, &v(2)))
    );
    // A third key sharing bit 0 with k1 and differing at bit 3.
    let mut k3 = [0u8; 32];
    k3[0] = 0x10;
    m.update(vec![(k3, v(3))]);
    let mut below = map_node_hash(&map_leaf_hash(&k1, &v(1)), &map_leaf_hash(&k3, &v(3)));
    for _ in 0..2 {
        below = map_node_hash(&below, &EMPTY_MAP_ROOT);
    }
    assert_eq!(m.root(), map_node_hash(&below, &map_leaf_hash(&k2, &v(2))));
    // The value encoding and the hash inputs.
    assert_eq!(
        v(1).to_bytes().to_vec(),
        [&1u64.to_be_bytes()[..], &[1; 32], &10u64.to_be_bytes()].concat()
    );
    let mut leaf_input = vec![0x02];
    leaf_input.extend_from_slice(&k1);
    leaf_input.extend_from_slice(&v(1).to_bytes());
    assert_eq!(map_leaf_hash(&k1, &v(1)), sha256(&leaf_input));
    assert_eq!(
        map_key(&BlindId([7; 32])),
        sha256(&[&b"credseal:v1:map-key\0"[..], &[7; 32]].concat())
    );
}

#[test]
fn leaf_at_depth_256_and_node_round_trips() {
    let mut a = [0xff; 32];
    let mut b = a;
    a[31] = 0xfe;
    b[31] = 0xff;
    let mut m = MemoryMap::new();
    m.update(vec![(a, v(1)), (b, v(2))]);
    let p = m.prove_key(&a);
    assert_eq!(p.siblings.len(), 256);
    assert_eq!(p.verify(&m.root(), &a), Ok(Some(v(1))));
    assert_eq!(m.prove_key(&b).verify(&m.root(), &b), Ok(Some(v(2))));
    for n in m.nodes.values() {
        assert_eq!(MapNode::from_bytes(&n.to_bytes()), Some(*n));
    }
    assert_eq!(MapNode::from_bytes(&[1; 64]), None);
    assert_eq!(MapNode::from_bytes(&[3; 65]), None);
    assert_eq!(MapPos::ROOT.to_bytes(), vec![0, 0]);
    assert_eq!(MapPos::ROOT.child(true).to_bytes(), vec![0, 1, 0x80]);
    assert_eq!(MapPos::ROOT.child(false).child(true).to_bytes(), vec![0, 2, 0x40]);
}

#[test]
fn duplicate_keys_in_one_update_are_refused() {
    let m = MemoryMap::new();
    assert_eq!(
        map_update(&m, vec![([1; 32], v(1)), ([1; 32], v(2))]).unwrap_err(),
        MapError::DuplicateKey
    );
}

#[test]
fn corrupt_storage_is_reported() {
    let mut m = MemoryMap::new();
    m.update(vec![([0; 32], v(1)), ([0xff; 32], v(2)), ([0x7f; 32], v(3))]);
    // Change a child under the root without updating the root.
    let child = MapPos::ROOT.child(true);
    m.nodes.insert(
        child,
        MapNode::Leaf {
            key: [0xff; 32],
            value: v(9),
        },
    );
    assert_eq!(map_prove(&m, &[0xff; 32]).unwrap_err(), MapError::Corrupt { depth: 1 });
    assert_eq!(map_get(&m, &[0xff; 32]).unwrap_err(), MapError::Corrupt { depth: 1 });
    assert_eq!(
        map_update(&m, vec![([0xfe; 32], v(4))]).unwrap_err(),
        MapError::Corrupt { depth: 1 }
    );
}

#[test]
fn proof_tampering_is_caught() {
    let mut m = MemoryMap::new();
    let keys: Vec<Hash> = (0..50u8).map(|i| sha256(&[i])).collect();
    m.update(keys.iter().enumerate().map(|(i, k)| (*k, v(i as u64 + 1))).collect());
    let root = m.root();
    let k = keys[7];
    let p = m.prove_key(&k);
    assert_eq!(p.verify(&root, &k), Ok(Some(v(8))));
    // Another value.
    let mut q = p.clone();
    q.leaf.as_mut().unwrap().value.count += 1;
    assert_eq!(
        q.verify(&root, &k),
        Err(MapProofError::RootMismatch { claims_present: true })
    );
    // A sibling flipped, dropped, added.
    for i in 0..p.siblings.len() {
        let mut q = p.clone();
        q.siblings[i][5] ^= 1;
        assert!(q.verify(&root, &k).is_err(), "sibling {i}");
    }
    let mut q = p.clone();
    q.siblings.pop();
    assert!(q.verify(&root, &k).is_err());
    let mut q = p.clone();
    q.siblings.push(EMPTY_MAP_ROOT);
    assert!(q.verify(&root, &k).is_err());
    // Non-membership claimed for a present key: the leaf removed, or swapped for a neighbour.
    let mut q = p.clone();
    q.leaf = None;
    assert_eq!(
        q.verify(&root, &k),
        Err(MapProofError::RootMismatch { claims_present: false })
    );
    // Another present key's proof.
    let other = m.prove_key(&keys[8]);
    assert_eq!(other.verify(&root, &k), Err(MapProofError::OtherKey));
    // Too long.
    let q = MapProof {
        leaf: None,
        siblings: vec![EMPTY_MAP_ROOT; 257],
    };
    assert_eq!(q.verify(&root, &k), Err(MapProofError::TooLong));
    // Against another root.
    assert!(p.verify(&EMPTY_MAP_ROOT, &k).is_err());
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Incremental batched updates give the reference root; every key present proves its
    /// value; every key absent proves its absence; no proof claims the wrong thing.
    #[test]
    fn updates_and_proofs_match_the_reference(
        batches in prop::collection::vec(
            prop::collection::btree_map(key_strategy(), 1u64..1000, 0..8), 0..8),
        probes in prop::collection::vec(key_strategy(), 0..16),
    ) {
        let mut m = MemoryMap::new();
        let mut model: BTreeMap<Hash, MapValue> = BTreeMap::new();
        for b in &batches {
            let ups: Vec<_> = b.iter().map(|(k, n)| (*k, v(*n))).collect();
            let root = m.update(ups.clone());
            model.extend(ups);
            prop_assert_eq!(root, reference(&model));
            prop_assert_eq!(m.root(), root);
        }
        prop_assert_eq!(m.leaves(), model.iter().map(|(k, v)| (*k, *v)).collect::<Vec<_>>());
        let root = m.root();
        for (k, val) in &model {
            prop_assert_eq!(m.prove_key(k).verify(&root, k), Ok(Some(*val)));
            prop_assert_eq!(m.get(k), Some(*val));
        }
        for k in &probes {
            let got = m.prove_key(k).verify(&root, k);
            prop_assert_eq!(got, Ok(model.get(k).copied()));
            prop_assert_eq!(m.get(k), model.get(k).copied());
            // A proof for any other key never verifies as a claim about this key, unless it
            // is a genuine absence proof and the key is absent.
            for o in model.keys() {
                if o != k {
                    match m.prove_key(o).verify(&root, k) {
                        Ok(Some(_)) => prop_assert!(false, "another key's proof proved membership"),
                        Ok(None) => prop_assert!(!model.contains_key(k)),
                        Err(_) => {}
                    }
                }
            }
        }
        // Rebuilding from the leaves in one batch gives the same nodes.
        let mut again = MemoryMap::new();
        again.update(m.leaves());
        prop_assert_eq!(again, m);
    }
}
