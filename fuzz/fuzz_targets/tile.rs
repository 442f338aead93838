//! C2SP tlog-tiles: tile paths, hash tiles and entry bundles as a monitor fetches them.
#![no_main]

use credseal_c2sp::{Tile, TileKind, parse_entry_bundle, parse_hash_tile};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(text) = std::str::from_utf8(data)
        && let Ok(t) = Tile::parse_path(text)
    {
        // A path that parses is the tile's own path.
        assert_eq!(t.path(), text);
    }
    let [width, rest @ ..] = data else { return };
    let width = u16::from(*width) + 1;
    for kind in [TileKind::Hashes(0), TileKind::Hashes(1), TileKind::Entries] {
        let Ok(tile) = Tile::new(kind, 1, width) else { continue };
        match kind {
            TileKind::Entries => {
                let _ = parse_entry_bundle(&tile, rest);
            }
            TileKind::Hashes(_) => {
                if let Ok(hashes) = parse_hash_tile(&tile, rest) {
                    assert_eq!(hashes.len(), usize::from(width));
                }
            }
        }
    }
});
