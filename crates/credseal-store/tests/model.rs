//! Model-based property test: random batches and queries on both backends agree with a plain
//! `BTreeMap` keyed by `(tree, key)`.

use std::collections::BTreeMap;

use credseal_store::{Batch, MemoryStore, SledStore, Store, Tree};
use proptest::prelude::*;

type Model = BTreeMap<(Tree, Vec<u8>), Vec<u8>>;

/// `(tree, prefix, after)`: one scan to compare.
type Query = (Tree, Vec<u8>, Option<Vec<u8>>);

#[derive(Debug, Clone)]
enum Op {
    Put(Tree, Vec<u8>, Vec<u8>),
    Delete(Tree, Vec<u8>),
    InsertNew(Tree, Vec<u8>, Vec<u8>),
}

/// Few trees (the edges — the last one is the newest, SubjectMap — and a middle one) and a tiny alphabet with the 0x00/0xFF edges, so that
/// keys collide, share prefixes, and sit next to tree boundaries.
fn tree() -> impl Strategy<Value = Tree> {
    prop_oneof![
        Just(Tree::Meta),
        Just(Tree::Replay),
        Just(Tree::Fingerprints),
        Just(Tree::Revocations),
        Just(Tree::SubjectMap)
    ]
}

fn bytes(max: usize) -> impl Strategy<Value = Vec<u8>> {
    prop::collection::vec(
        prop_oneof![Just(0x00u8), Just(0x01), Just(0x7F), Just(0xFE), Just(0xFF)],
        0..=max,
    )
}

/// Values: mostly tiny, some around 512 bytes, where the sled backend moves values into its
/// value log (so a key changes between inline and logged values as it is overwritten).
fn value() -> impl Strategy<Value = Vec<u8>> {
    prop_oneof![
        3 => bytes(2),
        1 => (any::<u8>(), 508usize..=516).prop_map(|(b, n)| (0..n).map(|i| b ^ (i as u8)).collect()),
        1 => (any::<u8>(), 1usize..=3).prop_map(|(b, k)| vec![b; k * 1_500]),
    ]
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (tree(), bytes(3), value()).prop_map(|(t, k, v)| Op::Put(t, k, v)),
        2 => (tree(), bytes(3)).prop_map(|(t, k)| Op::Delete(t, k)),
        1 => (tree(), bytes(3), value()).prop_map(|(t, k, v)| Op::InsertNew(t, k, v)),
    ]
}

/// Batches of ops; `InsertNew` is applied on its own, between batches.
fn script() -> impl Strategy<Value = Vec<Vec<Op>>> {
    prop::collection::vec(prop::collection::vec(op(), 0..6), 0..12)
}

fn query() -> impl Strategy<Value = Query> {
    (tree(), bytes(2), prop::option::of(bytes(3)))
}

fn run(store: &dyn Store, script: &[Vec<Op>], queries: &[Query]) -> Result<Model, TestCaseError> {
    let mut model = Model::new();
    for ops in script {
        let mut batch = Batch::new();
        for op in ops {
            match op {
                Op::Put(t, k, v) => {
                    batch.put(*t, k.clone(), v.clone());
                    model.insert((*t, k.clone()), v.clone());
                }
                Op::Delete(t, k) => {
                    batch.delete(*t, k.clone());
                    model.remove(&(*t, k.clone()));
                }
                Op::InsertNew(..) => {}
            }
        }
        store.apply(batch).unwrap();
        for op in ops {
            if let Op::InsertNew(t, k, v) = op {
                let absent = !model.contains_key(&(*t, k.clone()));
                prop_assert_eq!(store.insert_new(*t, k, v).unwrap(), absent);
                model.entry((*t, k.clone())).or_insert_with(|| v.clone());
            }
        }
    }
    for ((t, k), v) in &model {
        prop_assert_eq!(store.get(*t, k).unwrap(), Some(v.clone()));
    }
    for (t, prefix, after) in queries {
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|((mt, k), _)| mt == t && k.starts_with(prefix))
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        let got: Vec<_> = store.scan_prefix(*t, prefix).map(Result::unwrap).collect();
        prop_assert_eq!(&got, &want);
        prop_assert_eq!(store.count_prefix(*t, prefix).unwrap(), want.len() as u64);
        prop_assert_eq!(store.last_with_prefix(*t, prefix).unwrap(), want.last().cloned());
        let want_after: Vec<_> = want
            .iter()
            .filter(|(k, _)| after.as_ref().is_none_or(|a| k > a))
            .cloned()
            .collect();
        let got_after: Vec<_> = store
            .scan_prefix_after(*t, prefix, after.as_deref())
            .map(Result::unwrap)
            .collect();
        prop_assert_eq!(got_after, want_after);
        for key in [prefix.clone(), after.clone().unwrap_or_default()] {
            prop_assert_eq!(
                store.contains(*t, &key).unwrap(),
                model.contains_key(&(*t, key.clone()))
            );
        }
    }
    Ok(model)
}

/// Every tree's full scan equals the model's entries of that tree.
fn same_as_model(store: &dyn Store, model: &Model) -> Result<(), TestCaseError> {
    for t in Tree::ALL {
        let want: Vec<(Vec<u8>, Vec<u8>)> = model
            .iter()
            .filter(|((mt, _), _)| *mt == t)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect();
        let got: Vec<_> = store.scan_prefix(t, &[]).map(Result::unwrap).collect();
        prop_assert_eq!(got, want);
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]
    #[test]
    fn memory_store_matches_model(script in script(), queries in prop::collection::vec(query(), 1..8)) {
        let store = MemoryStore::new();
        let model = run(&store, &script, &queries)?;
        same_as_model(&store, &model)?;
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(128))]
    #[test]
    fn sled_store_matches_model(script in script(), queries in prop::collection::vec(query(), 1..8)) {
        let dir = tempfile::tempdir().unwrap();
        let store = SledStore::open(dir.path(), true).unwrap();
        let model = run(&store, &script, &queries)?;
        same_as_model(&store, &model)?;
        // Reopened (after a drop, without a flush), the store still matches.
        drop(store);
        let store = SledStore::open(dir.path(), false).unwrap();
        same_as_model(&store, &model)?;
    }
}
