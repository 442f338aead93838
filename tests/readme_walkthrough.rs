//! The README's walkthroughs, run as printed: every ```sh block from "## Walkthroughs" up to
//! "### Security officer: rotate keys" (the later sections need two enrolled officers), in
//! order, each with `bash -e -o pipefail`, in an empty temporary directory holding the example
//! catalogue and records, with `credseal` (this build) first on the PATH and
//! `CREDSEAL_PASSPHRASE` and `CREDSEAL_KEY_PASSPHRASE` set. The one change to the text:
//! `/srv/credseal` becomes a directory inside the temporary one.

use std::path::Path;
use std::process::Command;

/// The ```sh blocks of `readme` between the two headings.
fn walkthrough_blocks(readme: &str) -> Vec<String> {
    let start = readme.find("## Walkthroughs").expect("README: ## Walkthroughs");
    let end = readme
        .find("### Security officer: rotate keys")
        .expect("README: ### Security officer: rotate keys");
    let mut blocks = Vec::new();
    let mut rest = &readme[start..end];
    while let Some(open) = rest.find("```sh\n") {
        let body = &rest[open + 6..];
        let close = body.find("```").expect("README: an unclosed ```sh block");
        blocks.push(body[..close].to_string());
        rest = &body[close + 3..];
    }
    blocks
}

#[test]
fn the_readme_walkthrough_runs_as_printed() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let readme = std::fs::read_to_string(root.join("README.md")).unwrap();
    let blocks = walkthrough_blocks(&readme);
    assert!(blocks.len() >= 8, "{} blocks found", blocks.len());
    let dir = tempfile::tempdir().unwrap();
    for f in ["catalog.toml", "records.jsonl"] {
        std::fs::copy(root.join("keys-example").join(f), dir.path().join(f)).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_credseal"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let srv = dir.path().join("srv/credseal");
    for (i, block) in blocks.iter().enumerate() {
        let script = block.replace("/srv/credseal", &srv.display().to_string());
        let o = Command::new("bash")
            .args(["-e", "-o", "pipefail", "-c", &script])
            .current_dir(dir.path())
            .env("PATH", &path)
            .env("CREDSEAL_PASSPHRASE", "readme walkthrough passphrase")
            .env("CREDSEAL_KEY_PASSPHRASE", "readme walkthrough key passphrase")
            .env_remove("CREDSEAL_DATA")
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README walkthrough block {} failed ({}):\n{block}\nstdout:\n{}\nstderr:\n{}",
            i + 1,
            o.status,
            String::from_utf8_lossy(&o.stdout),
            String::from_utf8_lossy(&o.stderr)
        );
    }
    // The walkthrough ended with the subject's bundle verified and its state saved.
    assert!(dir.path().join("me/log-state").exists());
}
