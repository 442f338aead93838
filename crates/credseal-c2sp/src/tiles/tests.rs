use super::*;
use crate::merkle::{MemoryLog, sha256, tree_hash};

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn log_of(size: u64) -> MemoryLog {
    let mut log = MemoryLog::new();
    for n in 0..size {
        log.append(format!("leaf {n}").as_bytes());
    }
    log
}

// ---------------------------------------------------------------------------------------
// Known answers from Go's golang.org/x/mod/sumdb/tlog (v0.x, Debian's
// golang-golang-x-mod-dev): records `"leaf <n>"`, `tlog.NewTiles(8, 0, size)` filtered to
// the tiles of that size, `tlog.ReadTileData`; each line is Go's path (with the tile
// height 8, which C2SP paths leave out), the SHA-256 of the tile's bytes, and the root
// `tlog.TreeHash(size)`.
// ---------------------------------------------------------------------------------------

/// `(tree size, root, [(Go tile path, SHA-256 of the tile)])`.
type GoVector = (u64, &'static str, &'static [(&'static str, &'static str)]);

const GO_VECTORS: &[GoVector] = &[
    (
        1,
        "1bb97dcc21635d47e2663efdfd0a174686d98dd701352dd2cd06e8b43fd3d305",
        &[(
            "tile/8/0/000.p/1",
            "c1c92694ca364cf6d4e9bb6d36bbf005d79d68c212120b5d277332ae9745563a",
        )],
    ),
    (
        255,
        "d71592a219d4067663eede247f9b54c3f9e0290682d55de09b495b07f1de41c9",
        &[(
            "tile/8/0/000.p/255",
            "64d44fc7cbf0cd0a62111882c84f66d10d5704527f0f5f1daba72ac963a81628",
        )],
    ),
    (
        256,
        "cf5effdb11d0927a2edf53b0e73c7837f659414e00537da5d90eb5c4c49ff274",
        &[
            (
                "tile/8/0/000",
                "3658d44ebeb979b996b87ac966392dffbe9a628e34cb70bbff0ba844e74c31c6",
            ),
            (
                "tile/8/1/000.p/1",
                "c8f421898ac532cb17b42cd6c862710cad20834ef186d2d55534a61d63a8539f",
            ),
        ],
    ),
    (
        257,
        "855b936aa00cb98b5114484249ad39d78a6be93623e26c01e8e487dc02184a5a",
        &[
            (
                "tile/8/0/000",
                "3658d44ebeb979b996b87ac966392dffbe9a628e34cb70bbff0ba844e74c31c6",
            ),
            (
                "tile/8/0/001.p/1",
                "64f30997e393345987a4b24827a113bb2ce378dea4c9cbe41a50af98f77d6f5e",
            ),
            (
                "tile/8/1/000.p/1",
                "c8f421898ac532cb17b42cd6c862710cad20834ef186d2d55534a61d63a8539f",
            ),
        ],
    ),
    (
        70000,
        "da0532ff7b2ee56f4067110fc964e9f27b5959f9527bfff3fa501aa7584deaf3",
        &[
            (
                "tile/8/0/000",
                "3658d44ebeb979b996b87ac966392dffbe9a628e34cb70bbff0ba844e74c31c6",
            ),
            (
                "tile/8/0/001",
                "6fce4d781a3dfcbb97ff6e41aca4808e1cb2831653aa0a711867d628b38a706d",
            ),
            (
                "tile/8/0/273.p/112",
                "a8e4ee4e4f31c2fac9bb546b9b57c22f6c92e15c11adee487d09ebc926ab3ad7",
            ),
            (
                "tile/8/1/000",
                "7b8fc3b25031a7c9b1a317c9453f6f293b414e958d0e80a765be6f00930c3984",
            ),
            (
                "tile/8/1/001.p/17",
                "f1b11556adcce30fcd3fca6ef542ccf6a4319ab92143fb7c8f6c8f1d2e08209e",
            ),
            (
                "tile/8/2/000.p/1",
                "d84406334bc5243eb04ecd6b99e64380d67aaa2b2880a838a123e1b539927708",
            ),
        ],
    ),
];

#[test]
fn hash_tiles_match_go_tlog() {
    let log = log_of(70000);
    for (size, root, tiles) in GO_VECTORS {
        assert_eq!(hex(&log.tree_hash(*size).unwrap()), *root, "root at {size}");
        let ours = tiles_for_size(*size);
        for (go_path, digest) in *tiles {
            let path = go_path.replacen("tile/8/", "tile/", 1);
            let tile = Tile::parse_path(&path).unwrap();
            assert_eq!(tile.path(), path);
            assert!(ours.contains(&tile), "{path} is a tile of size {size}");
            let bytes = hash_tile_bytes(&read_tile_hashes(&tile, &log).unwrap());
            assert_eq!(hex(&sha256(&bytes)), *digest, "{path} at size {size}");
        }
    }
}

#[test]
fn tiles_for_size_follows_the_spec_examples() {
    // C2SP tlog-tiles: "a tree of size 70,000 will be represented by 273 full level 0 tiles,
    // one partial level 0 tile of width 112, one full level 1 tile, one partial level 1 tile
    // of width 17, and one partial level 2 tile of width 1."
    let t = tiles_for_size(70000);
    let count = |level: u8, full: bool| {
        t.iter()
            .filter(|x| x.kind() == TileKind::Hashes(level) && x.is_full() == full)
            .count()
    };
    assert_eq!((count(0, true), count(1, true), count(2, true)), (273, 1, 0));
    let partial: Vec<(u8, u64, u16)> = t
        .iter()
        .filter(|x| !x.is_full())
        .map(|x| (x.level(), x.index(), x.width()))
        .collect();
    assert_eq!(partial, vec![(0, 273, 112), (1, 1, 17), (2, 0, 1)]);
    assert_eq!(t.len(), 273 + 1 + 1 + 1 + 1);
    // "a tree of size 256 will be represented by a full level 0 tile and a partial level 1
    // tile of width 1."
    let t: Vec<String> = tiles_for_size(256).iter().map(Tile::path).collect();
    assert_eq!(t, ["tile/0/000", "tile/1/000.p/1"]);
    assert!(tiles_for_size(0).is_empty());
    assert!(entry_bundles_for_size(0).is_empty());
    let e: Vec<String> = entry_bundles_for_size(513).iter().map(Tile::path).collect();
    assert_eq!(e, ["tile/entries/000", "tile/entries/001", "tile/entries/002.p/1"]);
    // The largest trees reach the top level without overflow.
    let top = Tile::new(TileKind::Hashes(7), 0, 1).unwrap();
    assert_eq!(tile_width_in_tree(&top, u64::MAX), Some(255));
    assert_eq!(
        tile_width_in_tree(&Tile::new(TileKind::Hashes(8), 0, 1).unwrap(), u64::MAX),
        None
    );
}

#[test]
fn index_paths_are_three_digit_groups() {
    assert_eq!(tile_index_path(1234067), "x001/x234/067");
    assert_eq!(tile_index_path(0), "000");
    assert_eq!(tile_index_path(5), "005");
    assert_eq!(tile_index_path(1000), "x001/000");
    assert_eq!(tile_index_path(u64::MAX), "x018/x446/x744/x073/x709/x551/615");
    for n in [0, 1, 999, 1000, 1001, 123456789, u64::MAX] {
        assert_eq!(parse_tile_index(&tile_index_path(n)), Some(n), "{n}");
    }
    let t = Tile::new(TileKind::Hashes(3), 123456078, 2).unwrap();
    assert_eq!(t.path(), "tile/3/x123/x456/078.p/2");
    let e = Tile::new(TileKind::Entries, 3057500, 256).unwrap();
    assert_eq!(e.path(), "tile/entries/x003/x057/500");
    assert_eq!(Tile::parse_path("tile/3/x123/x456/078.p/2"), Ok(t));
    assert_eq!(Tile::parse_path("tile/entries/x003/x057/500"), Ok(e));
    assert_eq!(Tile::parse_path("tile/63/000").unwrap().level(), 63);
}

#[test]
fn non_canonical_tile_paths_are_refused() {
    for bad in [
        "",
        "/tile/0/000",
        "tile/0",
        "tile/0/",
        "tile/00/000",
        "tile/01/000",
        "tile/64/000",
        "tile/-1/000",
        "tile/+1/000",
        "tile/data/000",
        "tile/0/1",
        "tile/0/0001",
        "tile/0/x000/001",
        "tile/0/x001",
        "tile/0/001/002",
        "tile/0/y001/002",
        "tile/0/x001/",
        "tile/0/000/",
        "tile/0/x01a/000",
        "tile/0/x018/x446/x744/x073/x709/x551/616",
        "tile/0/000.p/0",
        "tile/0/000.p/256",
        "tile/0/000.p/05",
        "tile/0/000.p/",
        "tile/0/000.p/1/",
        "tile/0/000.q/1",
        "tile/entries/000.p/1.p/1",
        "tile/0/000 ",
    ] {
        assert!(
            matches!(Tile::parse_path(bad), Err(TileError::Path { .. })),
            "{bad:?} should be refused"
        );
    }
    assert!(Tile::new(TileKind::Hashes(64), 0, 1).is_err());
    assert!(Tile::new(TileKind::Entries, 0, 0).is_err());
    assert!(Tile::new(TileKind::Entries, 0, 257).is_err());
}

#[test]
fn hash_tiles_must_have_their_width() {
    let t = Tile::new(TileKind::Hashes(0), 0, 3).unwrap();
    let hashes = vec![[1; 32], [2; 32], [3; 32]];
    let bytes = hash_tile_bytes(&hashes);
    assert_eq!(parse_hash_tile(&t, &bytes), Ok(hashes));
    for len in [0, 31, 64, 95, 97, 128] {
        let b = vec![0u8; len];
        assert!(
            matches!(parse_hash_tile(&t, &b), Err(TileError::HashTileLength { want: 96, .. })),
            "{len}"
        );
    }
}

#[test]
fn entry_bundles_round_trip_and_are_strict() {
    let entries: Vec<Vec<u8>> = vec![b"first".to_vec(), Vec::new(), vec![7; 300]];
    let bytes = encode_entry_bundle(&entries).unwrap();
    assert_eq!(&bytes[..7], b"\x00\x05first");
    assert_eq!(&bytes[7..9], b"\x00\x00");
    assert_eq!(&bytes[9..11], b"\x01\x2c");
    let t = Tile::new(TileKind::Entries, 0, 3).unwrap();
    let back = parse_entry_bundle(&t, &bytes).unwrap();
    assert_eq!(back, entries.iter().map(Vec::as_slice).collect::<Vec<_>>());
    // Truncated anywhere: refused with the entry it broke in.
    for cut in 0..bytes.len() {
        assert!(
            matches!(parse_entry_bundle(&t, &bytes[..cut]), Err(TileError::Bundle { .. })),
            "cut at {cut}"
        );
    }
    // One byte more, or one entry more than the width says.
    let mut more = bytes.clone();
    more.push(0);
    assert!(matches!(
        parse_entry_bundle(&t, &more),
        Err(TileError::Bundle {
            reason: "bytes after the last entry",
            ..
        })
    ));
    let wider = Tile::new(TileKind::Entries, 0, 2).unwrap();
    assert!(parse_entry_bundle(&wider, &bytes).is_err());
    let narrower = Tile::new(TileKind::Entries, 0, 4).unwrap();
    assert!(parse_entry_bundle(&narrower, &bytes).is_err());
    assert!(matches!(
        encode_entry_bundle(&[vec![0u8; MAX_ENTRY_LEN + 1]]),
        Err(TileError::EntryTooLarge { entry: 0, .. })
    ));
    assert!(encode_entry_bundle(&[vec![0u8; MAX_ENTRY_LEN]]).is_ok());
}

/// Fills a tile reader with every tile of `size` read from `log`.
fn reader_for(log: &MemoryLog, size: u64) -> TileHashReader {
    let mut r = TileHashReader::new(size);
    for t in tiles_for_size(size) {
        r.insert(&t, read_tile_hashes(&t, log).unwrap()).unwrap();
    }
    r
}

#[test]
fn the_root_and_proofs_come_from_tiles() {
    let log = log_of(70000);
    let sizes = (1..=300).chain([511, 512, 513, 65535, 65536, 65537, 70000]);
    for size in sizes {
        let r = reader_for(&log, size);
        assert_eq!(
            tree_hash(size, &r).unwrap(),
            log.tree_hash(size).unwrap(),
            "size {size}"
        );
        // Proofs over tiles are the proofs over the stored hashes.
        let n = size / 3;
        assert_eq!(
            crate::prove_record(size, n, &r).unwrap(),
            log.prove_record(size, n).unwrap(),
            "size {size}"
        );
    }
}

#[test]
fn an_edited_partial_tile_changes_the_root() {
    let log = log_of(600);
    let mut r = TileHashReader::new(600);
    for t in tiles_for_size(600) {
        let mut h = read_tile_hashes(&t, &log).unwrap();
        if !t.is_full() && t.level() == 0 {
            h[0][5] ^= 1;
        }
        r.insert(&t, h).unwrap();
    }
    assert_ne!(tree_hash(600, &r).unwrap(), log.root());
}

#[test]
fn a_tile_reader_holds_only_the_tiles_of_its_size() {
    let log = log_of(600);
    let mut r = TileHashReader::new(600);
    let partial = Tile::new(TileKind::Hashes(0), 2, 88).unwrap();
    let h = read_tile_hashes(&partial, &log).unwrap();
    // Another width, another level's width, a tile beyond the tree, an entry bundle.
    for t in [
        Tile::new(TileKind::Hashes(0), 2, 87).unwrap(),
        Tile::new(TileKind::Hashes(0), 2, 256).unwrap(),
        Tile::new(TileKind::Hashes(0), 3, 88).unwrap(),
        Tile::new(TileKind::Hashes(1), 0, 88).unwrap(),
        Tile::new(TileKind::Entries, 2, 88).unwrap(),
    ] {
        assert!(
            matches!(r.insert(&t, h.clone()), Err(TileError::NotInTree { size: 600, .. })),
            "{}",
            t.path()
        );
    }
    assert!(matches!(
        r.insert(&partial, h[1..].to_vec()),
        Err(TileError::HashTileLength { .. })
    ));
    r.insert(&partial, h).unwrap();
    // The full tiles are missing: the root names the first tile it lacks.
    assert_eq!(
        tree_hash(600, &r),
        Err(crate::TreeError::Read(TileError::MissingTile {
            path: "tile/1/000.p/2".into()
        }))
    );
    assert_eq!(tile_width_in_tree(&partial.to_full(), 600), Some(88));
    assert_eq!(tile_width_in_tree(&partial.to_full(), 512), None);
}
