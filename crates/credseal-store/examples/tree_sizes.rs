//! Raw bytes (keys + values) per tree of a sled store: `cargo run --release -p
//! credseal-store --example tree_sizes -- DB_DIR`. For sizing the on-disk layout.
use credseal_store::{SledStore, Store, Tree};

fn main() {
    let Some(dir) = std::env::args().nth(1) else {
        eprintln!("usage: tree_sizes DB_DIR");
        std::process::exit(2);
    };
    let s = match SledStore::open(std::path::Path::new(&dir), false) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("tree_sizes: {dir}: {e}");
            std::process::exit(1);
        }
    };
    let mut total = 0u64;
    for t in Tree::ALL {
        let (mut n, mut k, mut v) = (0u64, 0u64, 0u64);
        for kv in s.scan_prefix(t, &[]) {
            let Ok((key, val)) = kv else {
                eprintln!("tree_sizes: reading {}", t.name());
                std::process::exit(1);
            };
            n += 1;
            k += key.len() as u64;
            v += val.len() as u64;
        }
        total += k + v;
        println!("{:<16} {:>10} entries {:>12} key B {:>14} value B", t.name(), n, k, v);
    }
    println!("total raw {total} B; on disk {} B", s.size_on_disk().unwrap_or(0));
}
