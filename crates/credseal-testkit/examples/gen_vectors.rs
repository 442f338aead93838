//! Writes the test vectors of `docs/vectors/` (`docs/vectors/README.md`):
//!
//! ```text
//! cargo run -p credseal-testkit --example gen_vectors -- docs/vectors
//! ```
//!
//! Every file is written to a temporary file in the directory first and renamed over the old
//! one only once all of them were generated, so a failure leaves the old vectors as they were.

use std::error::Error;
use std::path::PathBuf;

fn main() -> Result<(), Box<dyn Error>> {
    let dir = PathBuf::from(std::env::args().nth(1).ok_or("usage: gen_vectors <dir>")?);
    std::fs::create_dir_all(&dir)?;
    let files = credseal_testkit::vectors::generate()?;
    let mut staged = Vec::new();
    for f in &files {
        let tmp = dir.join(format!(".{}.tmp", f.name));
        std::fs::write(&tmp, &f.text)?;
        staged.push((tmp, dir.join(&f.name)));
    }
    for (tmp, path) in staged {
        std::fs::rename(tmp, path)?;
    }
    eprintln!("gen_vectors: wrote {} files to {}", files.len(), dir.display());
    Ok(())
}
