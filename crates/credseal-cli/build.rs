//! Records the commit this binary is built from and when, for `credseal version` (the
//! commit is `unknown` when the source is not a git checkout, e.g. a source tarball). The
//! build time is `SOURCE_DATE_EPOCH` when set (reproducible builds), else the time this
//! script ran.

use std::process::Command;

fn git(args: &[&str]) -> Option<String> {
    let o = Command::new("git").args(args).output().ok()?;
    if !o.status.success() {
        return None;
    }
    Some(String::from_utf8(o.stdout).ok()?.trim().to_string())
}

fn main() {
    let commit = git(&["rev-parse", "--short=12", "HEAD"]).unwrap_or_else(|| "unknown".into());
    println!("cargo:rustc-env=CREDSEAL_COMMIT={commit}");
    // Built again when HEAD moves: HEAD itself (a checkout) and the branch it names (a commit).
    for name in ["HEAD".to_string()]
        .into_iter()
        .chain(git(&["rev-parse", "--symbolic-full-name", "HEAD"]))
    {
        if let Some(path) = git(&["rev-parse", "--git-path", &name]) {
            println!("cargo:rerun-if-changed={path}");
        }
    }
    let built = std::env::var("SOURCE_DATE_EPOCH")
        .ok()
        .and_then(|s| s.trim().parse::<u64>().ok())
        .or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .ok()
                .map(|d| d.as_secs())
        })
        .unwrap_or(0);
    println!("cargo:rustc-env=CREDSEAL_BUILT_AT={built}");
    println!("cargo:rerun-if-env-changed=SOURCE_DATE_EPOCH");
    println!("cargo:rerun-if-changed=build.rs");
}
