//! The conformance suite every [`Store`] backend must pass (docs/design.md §14: one shared test suite
//! for the sled and memory backends, and for any later one).
//!
//! Each function checks one property and panics (like `assert!`) when the
//! store under test breaks it. Run everything with [`run_all`], giving a constructor for fresh,
//! empty stores:
//!
//! ```
//! credseal_testkit::conformance::run_all(&credseal_store::MemoryStore::new);
//! ```

use std::sync::Barrier;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use credseal_store::{Batch, KvIter, KvPair, Store, StoreError, Tree};

type Entries = Vec<KvPair>;

/// One named property.
type Property = (&'static str, fn(&dyn Store));

/// Every property, each on a fresh store from `make`.
pub fn run_all<S: Store>(make: &dyn Fn() -> S) {
    let props: [Property; 16] = [
        ("fresh_store_is_empty", fresh_store_is_empty),
        ("put_get_delete", put_get_delete),
        ("values_around_512_bytes", values_around_512_bytes),
        ("trees_are_isolated", trees_are_isolated),
        ("binary_keys", binary_keys),
        ("scan_prefix_order", scan_prefix_order),
        ("scan_never_leaves_tree", scan_never_leaves_tree),
        ("scan_prefix_after", scan_prefix_after),
        ("scan_larger_than_a_chunk", scan_larger_than_a_chunk),
        ("write_while_scanning", write_while_scanning),
        ("last_with_prefix", last_with_prefix),
        ("count_prefix", count_prefix),
        ("batch_semantics", batch_semantics),
        ("batch_atomic_for_readers", batch_atomic_for_readers),
        ("insert_new", insert_new),
        ("insert_new_race", insert_new_race),
    ];
    for (name, prop) in props {
        let store = make();
        eprintln!("conformance: {name} on {store:?}");
        prop(&store);
    }
}

/// Unwraps a store result, naming the step that failed.
fn ok<T>(r: Result<T, StoreError>, step: &str) -> T {
    match r {
        Ok(v) => v,
        Err(e) => panic!("{step}: {e}"),
    }
}

fn collect(iter: KvIter<'_>, step: &str) -> Entries {
    iter.map(|r| ok(r, step)).collect()
}

fn put(store: &dyn Store, tree: Tree, key: &[u8], value: &[u8]) {
    let mut b = Batch::new();
    b.put(tree, key, value);
    ok(store.apply(b), "apply put");
}

fn delete(store: &dyn Store, tree: Tree, key: &[u8]) {
    let mut b = Batch::new();
    b.delete(tree, key);
    ok(store.apply(b), "apply delete");
}

fn kv(k: &[u8], v: &[u8]) -> KvPair {
    (k.to_vec(), v.to_vec())
}

/// A new store has nothing in any tree (backend bookkeeping is invisible).
pub fn fresh_store_is_empty(store: &dyn Store) {
    for tree in Tree::ALL {
        assert_eq!(ok(store.count_prefix(tree, b""), "count"), 0, "{tree} not empty");
        assert!(
            collect(store.scan_prefix(tree, b""), "scan").is_empty(),
            "{tree} scan not empty"
        );
        assert_eq!(
            ok(store.last_with_prefix(tree, b""), "last"),
            None,
            "{tree} has a last entry"
        );
    }
    ok(store.flush(), "flush");
    ok(store.size_on_disk(), "size_on_disk");
}

/// Put, overwrite, get, contains and delete; empty keys and values are ordinary.
pub fn put_get_delete(store: &dyn Store) {
    let t = Tree::Records;
    assert_eq!(ok(store.get(t, b"k"), "get absent"), None);
    assert!(!ok(store.contains(t, b"k"), "contains absent"));
    put(store, t, b"k", b"v1");
    assert_eq!(ok(store.get(t, b"k"), "get"), Some(b"v1".to_vec()));
    assert!(ok(store.contains(t, b"k"), "contains"));
    put(store, t, b"k", b"v2");
    assert_eq!(ok(store.get(t, b"k"), "get overwritten"), Some(b"v2".to_vec()));
    delete(store, t, b"k");
    assert_eq!(ok(store.get(t, b"k"), "get deleted"), None);
    assert!(!ok(store.contains(t, b"k"), "contains deleted"));
    delete(store, t, b"never-there");

    put(store, t, b"", b"empty key");
    put(store, t, b"empty value", b"");
    assert_eq!(ok(store.get(t, b""), "get empty key"), Some(b"empty key".to_vec()));
    assert_eq!(ok(store.get(t, b"empty value"), "get empty value"), Some(Vec::new()));
    assert!(ok(store.contains(t, b"empty value"), "contains empty value"));
    let big = vec![0xA5u8; 100_000];
    put(store, t, b"big", &big);
    assert_eq!(ok(store.get(t, b"big"), "get big"), Some(big));
}

/// Values on both sides of 512 bytes (where the sled backend moves values into its value log)
/// round-trip through every read, and keep doing so when overwritten across that size.
pub fn values_around_512_bytes(store: &dyn Store) {
    let t = Tree::Records;
    let sizes = [0usize, 1, 511, 512, 513, 4_096, 70_000];
    // A distinct value per size and round, so that a read of the wrong bytes shows.
    let value = |n: usize, round: u8| -> Vec<u8> { (0..n).map(|i| (i as u8).wrapping_mul(31) ^ round).collect() };
    let key = |n: usize| format!("v/{n:06}").into_bytes();
    for round in 0..3u8 {
        // Round 1 writes the sizes in reverse order, so each key changes size across 512.
        let mut b = Batch::new();
        for (i, &n) in sizes.iter().enumerate() {
            let n2 = if round == 1 { sizes[sizes.len() - 1 - i] } else { n };
            b.put(t, key(n), value(n2, round));
        }
        ok(store.apply(b), "apply");
        let want: Entries = sizes
            .iter()
            .enumerate()
            .map(|(i, &n)| {
                let n2 = if round == 1 { sizes[sizes.len() - 1 - i] } else { n };
                (key(n), value(n2, round))
            })
            .collect();
        for (k, v) in &want {
            assert_eq!(ok(store.get(t, k), "get").as_ref(), Some(v), "round {round} key {k:?}");
            assert!(ok(store.contains(t, k), "contains"));
        }
        assert_eq!(collect(store.scan_prefix(t, b"v/"), "scan"), want, "round {round}");
        assert_eq!(
            collect(store.scan_prefix_after(t, b"v/", Some(&want[2].0)), "scan after"),
            want[3..].to_vec(),
            "round {round}"
        );
        assert_eq!(
            ok(store.last_with_prefix(t, b"v/"), "last"),
            want.last().cloned(),
            "round {round}"
        );
        assert_eq!(ok(store.count_prefix(t, b"v/"), "count"), sizes.len() as u64);
    }
    // Deleting a big value; insert_new with a big value; a big value in another tree.
    delete(store, t, &key(4_096));
    assert_eq!(ok(store.get(t, &key(4_096)), "get deleted"), None);
    assert!(!ok(store.contains(t, &key(4_096)), "contains deleted"));
    let big = value(1_000, 9);
    assert!(ok(store.insert_new(Tree::Replay, b"big", &big), "insert_new big"));
    assert!(!ok(
        store.insert_new(Tree::Replay, b"big", &value(600, 1)),
        "insert_new big again"
    ));
    assert_eq!(ok(store.get(Tree::Replay, b"big"), "get insert_new"), Some(big.clone()));
    put(store, Tree::Meta, &key(4_096), &big);
    assert_eq!(ok(store.get(Tree::Meta, &key(4_096)), "get other tree"), Some(big));
    assert_eq!(ok(store.get(t, &key(4_096)), "still deleted"), None);
    // A durable batch with values on both sides.
    let mut b = Batch::new();
    b.put(t, key(513), value(513, 7));
    b.put(t, key(511), value(511, 7));
    ok(store.apply_durable(b), "apply_durable");
    assert_eq!(ok(store.get(t, &key(513)), "get durable big"), Some(value(513, 7)));
    assert_eq!(ok(store.get(t, &key(511)), "get durable small"), Some(value(511, 7)));
    ok(store.flush(), "flush");
    assert_eq!(ok(store.get(t, &key(512)), "get after flush"), Some(value(512, 2)));
}

/// The same key in every tree names a different entry.
pub fn trees_are_isolated(store: &dyn Store) {
    for tree in Tree::ALL {
        put(store, tree, b"same", tree.name().as_bytes());
    }
    for tree in Tree::ALL {
        assert_eq!(
            ok(store.get(tree, b"same"), "get"),
            Some(tree.name().as_bytes().to_vec())
        );
        assert_eq!(
            collect(store.scan_prefix(tree, b""), "scan"),
            vec![kv(b"same", tree.name().as_bytes())]
        );
        assert_eq!(ok(store.count_prefix(tree, b""), "count"), 1);
    }
    delete(store, Tree::Deks, b"same");
    assert!(!ok(store.contains(Tree::Deks, b"same"), "contains deleted"));
    for tree in Tree::ALL.into_iter().filter(|t| *t != Tree::Deks) {
        assert!(ok(store.contains(tree, b"same"), "neighbour survives delete"), "{tree}");
    }
    // A key that looks like another tree's tag followed by a key is still just a key.
    put(store, Tree::Meta, &[Tree::Deks.tag(), b'x'], b"meta");
    assert_eq!(ok(store.get(Tree::Deks, b"x"), "get"), None);
}

/// Keys with 0x00 and 0xFF bytes (and the empty key) round-trip and sort bytewise.
pub fn binary_keys(store: &dyn Store) {
    let t = Tree::LogHashes;
    let keys: [&[u8]; 9] = [
        &[0xFF, 0xFF, 0xFF],
        &[0x00],
        &[],
        &[0xFF],
        &[0x00, 0x00],
        &[0x00, 0xFF],
        &[0x7F, 0x00, 0x80],
        &[0xFF, 0x00],
        &[0x01],
    ];
    for (i, k) in keys.iter().enumerate() {
        put(store, t, k, &[i as u8]);
    }
    for (i, k) in keys.iter().enumerate() {
        assert_eq!(ok(store.get(t, k), "get"), Some(vec![i as u8]), "key {k:02x?}");
    }
    let mut sorted: Vec<&[u8]> = keys.to_vec();
    sorted.sort_unstable();
    let got: Vec<Vec<u8>> = collect(store.scan_prefix(t, b""), "scan")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(got, sorted.iter().map(|k| k.to_vec()).collect::<Vec<_>>());
    let ff: Vec<Vec<u8>> = collect(store.scan_prefix(t, &[0xFF]), "scan ff")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(ff, vec![vec![0xFF], vec![0xFF, 0x00], vec![0xFF, 0xFF, 0xFF]]);
    let zero: Vec<Vec<u8>> = collect(store.scan_prefix(t, &[0x00]), "scan 00")
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    assert_eq!(zero, vec![vec![0x00], vec![0x00, 0x00], vec![0x00, 0xFF]]);
}

/// A prefix scan returns exactly the matching keys, ascending, whatever the insertion order.
pub fn scan_prefix_order(store: &dyn Store) {
    let t = Tree::SubjectReceipts;
    // Insert in a scrambled order (multiplication by a unit mod 97).
    for i in 0..97u32 {
        let j = (i * 31) % 97;
        let key = format!("s/{j:03}");
        put(store, t, key.as_bytes(), &j.to_be_bytes());
    }
    put(store, t, b"s", b"bare prefix");
    put(store, t, b"r/999", b"before");
    put(store, t, b"t/000", b"after");
    let all = collect(store.scan_prefix(t, b"s/"), "scan");
    assert_eq!(all.len(), 97);
    for (j, (k, v)) in all.iter().enumerate() {
        assert_eq!(k, format!("s/{j:03}").as_bytes());
        assert_eq!(v, &(j as u32).to_be_bytes());
    }
    let s = collect(store.scan_prefix(t, b"s"), "scan s");
    assert_eq!(s.len(), 98);
    assert_eq!(s[0], kv(b"s", b"bare prefix"));
    let tens = collect(store.scan_prefix(t, b"s/01"), "scan s/01");
    assert_eq!(tens.len(), 10);
    assert!(collect(store.scan_prefix(t, b"s/1"), "scan s/1").is_empty());
    assert!(collect(store.scan_prefix(t, b"u"), "scan u").is_empty());
    assert_eq!(collect(store.scan_prefix(t, b""), "scan all").len(), 100);
}

/// A scan of one tree never returns another tree's keys, even with all-0xFF prefixes at the
/// edges (first and last tree, and the key-space end).
pub fn scan_never_leaves_tree(store: &dyn Store) {
    for tree in Tree::ALL {
        for key in [&[][..], &[0x00], &[0xFF], &[0xFF, 0xFF], &[0xFF, 0xFF, 0xFF, 0xFF]] {
            put(store, tree, key, &[tree.tag()]);
        }
    }
    for tree in Tree::ALL {
        for prefix in [
            &[][..],
            &[0xFF],
            &[0xFF, 0xFF],
            &[0xFF, 0xFF, 0xFF, 0xFF],
            &[0xFF, 0xFF, 0xFF, 0xFF, 0xFF],
        ] {
            let got = collect(store.scan_prefix(tree, prefix), "scan");
            let want = [&[][..], &[0x00], &[0xFF], &[0xFF, 0xFF], &[0xFF, 0xFF, 0xFF, 0xFF]]
                .into_iter()
                .filter(|k| k.starts_with(prefix))
                .count();
            assert_eq!(got.len(), want, "{tree} prefix {prefix:02x?}");
            assert!(
                got.iter().all(|(_, v)| v == &[tree.tag()]),
                "{tree} prefix {prefix:02x?} leaked: {got:02x?}"
            );
            let after = collect(store.scan_prefix_after(tree, prefix, Some(&[0xFF, 0xFF])), "scan after");
            assert!(
                after.iter().all(|(_, v)| v == &[tree.tag()]),
                "{tree} scan_after leaked"
            );
            let n = ok(store.count_prefix(tree, prefix), "count");
            assert_eq!(n, want as u64, "{tree} count {prefix:02x?}");
            let last = ok(store.last_with_prefix(tree, prefix), "last");
            if want > 0 {
                assert_eq!(
                    last,
                    Some(kv(&[0xFF, 0xFF, 0xFF, 0xFF], &[tree.tag()])),
                    "{tree} last {prefix:02x?}"
                );
            } else {
                assert_eq!(last, None, "{tree} last {prefix:02x?}");
            }
        }
    }
}

/// `scan_prefix_after` starts strictly after `after`, so pages chain into the full scan.
pub fn scan_prefix_after(store: &dyn Store) {
    let t = Tree::LogLeaves;
    for i in 0..50u64 {
        put(
            store,
            t,
            &[b"leaf/".as_slice(), &i.to_be_bytes()].concat(),
            &i.to_le_bytes(),
        );
    }
    put(store, t, b"leag", b"outside");
    put(store, t, b"leae", b"outside");
    let full = collect(store.scan_prefix(t, b"leaf/"), "full scan");
    assert_eq!(full.len(), 50);
    assert_eq!(collect(store.scan_prefix_after(t, b"leaf/", None), "after none"), full);

    // Resume in pages of 7, as a streaming export would.
    let mut paged: Entries = Vec::new();
    let mut cursor: Option<Vec<u8>> = None;
    loop {
        let page: Entries = store
            .scan_prefix_after(t, b"leaf/", cursor.as_deref())
            .take(7)
            .map(|r| ok(r, "page"))
            .collect();
        let Some((last, _)) = page.last() else { break };
        cursor = Some(last.clone());
        paged.extend(page);
    }
    assert_eq!(paged, full);

    let k10 = [b"leaf/".as_slice(), &10u64.to_be_bytes()].concat();
    let rest = collect(store.scan_prefix_after(t, b"leaf/", Some(&k10)), "after k10");
    assert_eq!(rest.as_slice(), &full[11..]);
    // `after` need not exist: a key between two entries.
    let between = [k10.as_slice(), &[0x00]].concat();
    assert_eq!(
        collect(store.scan_prefix_after(t, b"leaf/", Some(&between)), "between").as_slice(),
        &full[11..]
    );
    // `after` before the prefix: everything; after the prefix range: nothing.
    assert_eq!(
        collect(store.scan_prefix_after(t, b"leaf/", Some(b"a")), "before"),
        full
    );
    assert_eq!(
        collect(store.scan_prefix_after(t, b"leaf/", Some(b"")), "empty after"),
        full
    );
    assert!(collect(store.scan_prefix_after(t, b"leaf/", Some(b"leag")), "beyond").is_empty());
    assert!(collect(store.scan_prefix_after(t, b"leaf/", Some(&[b'l', 0xFF])), "far beyond").is_empty());
    let last_key = full[49].0.clone();
    assert!(collect(store.scan_prefix_after(t, b"leaf/", Some(&last_key)), "after last").is_empty());
    // `after` equal to the prefix itself excludes only the bare prefix key.
    put(store, t, b"leaf/", b"bare");
    assert_eq!(
        collect(store.scan_prefix_after(t, b"leaf/", Some(b"leaf/")), "after prefix"),
        full
    );
    // Empty prefix: the whole tree after the cursor.
    let whole = collect(store.scan_prefix_after(t, b"", Some(&last_key)), "whole");
    assert_eq!(whole, vec![kv(b"leag", b"outside")]);
}

/// Scans longer than any internal paging stay ordered and complete.
pub fn scan_larger_than_a_chunk(store: &dyn Store) {
    let t = Tree::Fingerprints;
    let n = 1_000u32;
    let mut b = Batch::new();
    for i in (0..n).rev() {
        b.put(t, i.to_be_bytes(), i.to_le_bytes());
    }
    ok(store.apply(b), "apply");
    let all = collect(store.scan_prefix(t, b""), "scan");
    assert_eq!(all.len(), n as usize);
    assert!(all.iter().enumerate().all(|(i, (k, _))| k == &(i as u32).to_be_bytes()));
    let after = collect(
        store.scan_prefix_after(t, b"", Some(&300u32.to_be_bytes())),
        "after 300",
    );
    assert_eq!(after.len(), 699);
    assert_eq!(ok(store.count_prefix(t, b""), "count"), u64::from(n));
}

/// Writing while a scan is open neither deadlocks nor breaks the scan's order.
pub fn write_while_scanning(store: &dyn Store) {
    let t = Tree::Checkpoints;
    for i in 0..600u32 {
        put(store, t, &i.to_be_bytes(), b"old");
    }
    let mut seen = 0u32;
    let mut prev: Option<Vec<u8>> = None;
    for item in store.scan_prefix(t, b"") {
        let (k, _) = ok(item, "scan");
        if let Some(p) = &prev {
            assert!(&k > p, "scan went backwards");
        }
        // Rewrite the entry just seen, and one far ahead.
        put(store, t, &k, b"new");
        put(store, Tree::Meta, &k, b"other tree");
        prev = Some(k);
        seen += 1;
    }
    assert_eq!(seen, 600);
    assert!(
        collect(store.scan_prefix(t, b""), "rescan")
            .iter()
            .all(|(_, v)| v == b"new")
    );
}

/// `last_with_prefix` is the greatest key with the prefix, not beyond it.
pub fn last_with_prefix(store: &dyn Store) {
    let t = Tree::Checkpoints;
    assert_eq!(ok(store.last_with_prefix(t, b"cp/"), "last empty"), None);
    for i in [3u64, 1, 9, 7] {
        put(
            store,
            t,
            &[b"cp/".as_slice(), &i.to_be_bytes()].concat(),
            &i.to_be_bytes(),
        );
    }
    put(store, t, b"cp0", b"after the prefix");
    put(store, t, b"cp.", b"before the prefix");
    let want = kv(&[b"cp/".as_slice(), &9u64.to_be_bytes()].concat(), &9u64.to_be_bytes());
    assert_eq!(ok(store.last_with_prefix(t, b"cp/"), "last"), Some(want));
    assert_eq!(
        ok(store.last_with_prefix(t, b""), "last whole"),
        Some(kv(b"cp0", b"after the prefix"))
    );
    assert_eq!(ok(store.last_with_prefix(t, b"cq"), "last none"), None);
    assert_eq!(ok(store.last_with_prefix(t, b"cp/\xff"), "last ff"), None);
    put(store, t, b"cp/\xff\xff", b"ff");
    assert_eq!(
        ok(store.last_with_prefix(t, b"cp/"), "last"),
        Some(kv(b"cp/\xff\xff", b"ff"))
    );
    assert_eq!(
        ok(store.last_with_prefix(t, b"cp/\xff"), "last ff"),
        Some(kv(b"cp/\xff\xff", b"ff"))
    );
    // The neighbouring trees are not consulted.
    put(store, Tree::LogHashes, b"cp/zzz", b"other tree");
    put(store, Tree::SubjectReceipts, b"cp/zzz", b"other tree");
    assert_eq!(
        ok(store.last_with_prefix(t, b"cp/"), "last"),
        Some(kv(b"cp/\xff\xff", b"ff"))
    );
}

/// `count_prefix` counts exactly the keys with the prefix.
pub fn count_prefix(store: &dyn Store) {
    let t = Tree::Tombstones;
    assert_eq!(ok(store.count_prefix(t, b""), "count empty"), 0);
    let mut b = Batch::new();
    for i in 0..30u8 {
        b.put(t, [b'a', i], b"");
        b.put(t, [b'b', i], b"");
    }
    b.put(t, *b"a", b"");
    b.put(Tree::Replay, *b"a0", b"");
    ok(store.apply(b), "apply");
    assert_eq!(ok(store.count_prefix(t, b"a"), "count a"), 31);
    assert_eq!(ok(store.count_prefix(t, b"b"), "count b"), 30);
    assert_eq!(ok(store.count_prefix(t, b""), "count all"), 61);
    assert_eq!(ok(store.count_prefix(t, &[b'a', 3]), "count a3"), 1);
    assert_eq!(ok(store.count_prefix(t, b"c"), "count c"), 0);
    assert_eq!(ok(store.count_prefix(Tree::Replay, b""), "count replay"), 1);
    delete(store, t, &[b'a', 3]);
    assert_eq!(ok(store.count_prefix(t, b"a"), "count after delete"), 30);
}

/// Batches: empty is fine, ops apply in order (later wins), several trees at once.
pub fn batch_semantics(store: &dyn Store) {
    ok(store.apply(Batch::new()), "empty batch");
    for tree in Tree::ALL {
        assert_eq!(
            ok(store.count_prefix(tree, b""), "count"),
            0,
            "empty batch wrote to {tree}"
        );
    }

    put(store, Tree::Deks, b"gone", b"x");
    let mut b = Batch::new();
    b.put(Tree::Records, b"r", b"first");
    b.put(Tree::Records, b"r", b"second");
    b.put(Tree::Deks, b"put-then-delete", b"x");
    b.delete(Tree::Deks, b"put-then-delete");
    b.delete(Tree::Deks, b"delete-then-put");
    b.put(Tree::Deks, b"delete-then-put", b"y");
    b.delete(Tree::Deks, b"gone");
    b.put(Tree::DekIndex, b"i", b"r");
    b.delete(Tree::Revocations, b"absent");
    assert_eq!(b.len(), 9);
    ok(store.apply(b), "apply");
    assert_eq!(ok(store.get(Tree::Records, b"r"), "get"), Some(b"second".to_vec()));
    assert_eq!(ok(store.get(Tree::Deks, b"put-then-delete"), "get"), None);
    assert_eq!(
        ok(store.get(Tree::Deks, b"delete-then-put"), "get"),
        Some(b"y".to_vec())
    );
    assert_eq!(ok(store.get(Tree::Deks, b"gone"), "get"), None);
    assert_eq!(ok(store.get(Tree::DekIndex, b"i"), "get"), Some(b"r".to_vec()));
}

/// A batch is all-or-nothing as seen by a concurrent reader, across trees.
///
/// Each single read sees a batch entirely or not at all, so a reader that reads two keys
/// written by one batch, one after the other, may see the second key newer than the first but
/// never older. The reader alternates the order, which catches a backend that applies a batch's
/// ops one by one in either order.
pub fn batch_atomic_for_readers(store: &dyn Store) {
    const PAIRS: usize = 1_500;
    const ROUNDS: u64 = 1_500;
    let (ta, tb) = (Tree::Records, Tree::Tombstones);
    let pair_key = |i: usize| format!("pair/{i:05}").into_bytes();

    // Phase 1 (insert) and 2 (delete): pair i is written, then removed, by single batches.
    for deleting in [false, true] {
        let current = AtomicUsize::new(0);
        let done = AtomicBool::new(false);
        let checks = AtomicUsize::new(0);
        std::thread::scope(|s| {
            s.spawn(|| {
                let mut n = 0usize;
                while !done.load(Ordering::Acquire) || n < 100 {
                    let i = current.load(Ordering::Acquire);
                    let key = pair_key(i);
                    let (first, second) = if n.is_multiple_of(2) { (ta, tb) } else { (tb, ta) };
                    let a = ok(store.contains(first, &key), "reader contains");
                    let b = ok(store.contains(second, &key), "reader contains");
                    if deleting {
                        assert!(a || !b, "pair {i}: {first} deleted but {second} still present");
                    } else {
                        assert!(!a || b, "pair {i}: {first} present but {second} absent");
                    }
                    n += 1;
                }
                checks.store(n, Ordering::Release);
            });
            for i in 0..PAIRS {
                current.store(i, Ordering::Release);
                let mut b = Batch::new();
                // Several ops, so a non-atomic backend has a window between them.
                if deleting {
                    b.delete(ta, pair_key(i));
                    b.delete(Tree::Meta, pair_key(i));
                    b.delete(tb, pair_key(i));
                } else {
                    b.put(ta, pair_key(i), b"a");
                    b.put(Tree::Meta, pair_key(i), b"m");
                    b.put(tb, pair_key(i), b"b");
                }
                ok(store.apply(b), "writer apply");
            }
            done.store(true, Ordering::Release);
        });
        assert!(checks.load(Ordering::Acquire) >= 100, "reader did not run");
        let want = if deleting { 0 } else { PAIRS as u64 };
        assert_eq!(ok(store.count_prefix(ta, b"pair/"), "count"), want);
        assert_eq!(ok(store.count_prefix(tb, b"pair/"), "count"), want);
    }

    // Phase 3: two counters in two trees, overwritten together by each batch.
    let read = |tree: Tree| -> u64 {
        match ok(store.get(tree, b"counter"), "get counter") {
            None => 0,
            Some(v) => match <[u8; 8]>::try_from(v.as_slice()) {
                Ok(a) => u64::from_be_bytes(a),
                Err(_) => panic!("counter in {tree} has {} bytes", v.len()),
            },
        }
    };
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        s.spawn(|| {
            let mut n = 0u64;
            while !done.load(Ordering::Acquire) || n < 100 {
                if n.is_multiple_of(2) {
                    let (a, b) = (read(ta), read(tb));
                    assert!(b >= a, "{tb} counter {b} older than {ta} counter {a} read before it");
                } else {
                    let (b, a) = (read(tb), read(ta));
                    assert!(a >= b, "{ta} counter {a} older than {tb} counter {b} read before it");
                }
                n += 1;
            }
        });
        for i in 1..=ROUNDS {
            let mut b = Batch::new();
            b.put(ta, *b"counter", i.to_be_bytes());
            b.put(Tree::Meta, *b"counter", i.to_be_bytes());
            b.put(tb, *b"counter", i.to_be_bytes());
            ok(store.apply(b), "writer apply");
        }
        done.store(true, Ordering::Release);
    });
    assert_eq!((read(ta), read(tb)), (ROUNDS, ROUNDS));
}

/// `insert_new` inserts only into an empty slot and never overwrites.
pub fn insert_new(store: &dyn Store) {
    let t = Tree::Replay;
    assert!(ok(store.insert_new(t, b"q1", b"first"), "insert_new"));
    assert!(!ok(store.insert_new(t, b"q1", b"second"), "insert_new again"));
    assert_eq!(ok(store.get(t, b"q1"), "get"), Some(b"first".to_vec()));
    // Other trees are other slots.
    assert!(ok(
        store.insert_new(Tree::Meta, b"q1", b"meta"),
        "insert_new other tree"
    ));
    // An empty value still occupies the slot.
    assert!(ok(store.insert_new(t, b"q2", b""), "insert_new empty"));
    assert!(!ok(store.insert_new(t, b"q2", b"x"), "insert_new empty again"));
    // A batch-written key is occupied; a deleted one is free again.
    put(store, t, b"q3", b"batch");
    assert!(!ok(store.insert_new(t, b"q3", b"x"), "insert_new over batch"));
    delete(store, t, b"q3");
    assert!(ok(store.insert_new(t, b"q3", b"x"), "insert_new after delete"));
}

/// Of 8 threads racing `insert_new` on one key, exactly one wins, and its value stays.
pub fn insert_new_race(store: &dyn Store) {
    const THREADS: usize = 8;
    for round in 0..20u32 {
        let key = format!("race/{round}").into_bytes();
        let barrier = Barrier::new(THREADS);
        let winners: Vec<usize> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..THREADS)
                .map(|id| {
                    let (key, barrier) = (&key, &barrier);
                    s.spawn(move || {
                        barrier.wait();
                        ok(store.insert_new(Tree::Replay, key, &[id as u8]), "insert_new race").then_some(id)
                    })
                })
                .collect();
            handles
                .into_iter()
                .filter_map(|h| h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        assert_eq!(winners.len(), 1, "round {round}: winners {winners:?}");
        assert_eq!(
            ok(store.get(Tree::Replay, &key), "get"),
            Some(vec![winners[0] as u8]),
            "round {round}"
        );
    }
}
