//! Raw bytes (keys + values) per tree of a sled store, and the value log's live and dead
//! bytes: `cargo run --release -p credseal-store --example tree_sizes -- DB_DIR`. For sizing
//! the on-disk layout.
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
        let (mut n, mut k, mut v, mut max) = (0u64, 0u64, 0u64, 0usize);
        for kv in s.scan_prefix(t, &[]) {
            let Ok((key, val)) = kv else {
                eprintln!("tree_sizes: reading {}", t.name());
                std::process::exit(1);
            };
            n += 1;
            k += key.len() as u64;
            v += val.len() as u64;
            max = max.max(val.len());
        }
        total += k + v;
        println!(
            "{:<16} {:>10} entries {:>12} key B {:>14} value B {:>8} max value B",
            t.name(),
            n,
            k,
            v,
            max
        );
    }
    println!("total raw {total} B; on disk {} B", s.size_on_disk().unwrap_or(0));
    match s.value_log_usage() {
        Ok(u) => println!(
            "value log: {} B, {} values, {} B live, {} B dead",
            u.file_bytes,
            u.values,
            u.live_bytes,
            u.dead_bytes()
        ),
        Err(e) => eprintln!("tree_sizes: value log: {e}"),
    }
}
