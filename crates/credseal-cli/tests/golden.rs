//! Golden tests of the `credseal` command line (trycmd): each case under `tests/cmd/` pins a
//! command's arguments, exit code and full output as data. `*.toml` cases hold one command
//! with its `.stdout`/`.stderr` files; `*.trycmd` files hold a session of commands run in
//! one sandbox (a copy of the case's `.in/` directory; the `.out/` directory lists files the
//! session must leave), stdout and stderr together. `[..]` and `...` stand for text that
//! varies (keys, times, temporary paths).
//!
//! After a deliberate change of output: `TRYCMD=overwrite cargo test -p credseal-cli --test
//! cli_golden`, then review the diff.
//!
//! One case per exit class: 0 (`dept-keygen`: its secret keys encrypted, `fresh-platform`), 1 (`missing-data`),
//! 2 (`usage-error`), 3 (`denied-query`), 4 (`tampered-catalogue`); `help.trycmd` pins the
//! top-level help and each group's.

#[test]
fn cli_golden() {
    trycmd::TestCases::new()
        .register_bin("credseal", std::path::Path::new(env!("CARGO_BIN_EXE_credseal")))
        // `tampered-catalogue` edits a platform's catalogue copy behind its back.
        .register_bin("cp", std::path::Path::new("/bin/cp"))
        // Help texts are wrapped to the terminal: pin the width.
        .env("COLUMNS", "100")
        // Passphrases come from the environment in the sessions; a cheap KDF is set by
        // `init --kdf-mib 8 --kdf-passes 1` where a platform is made.
        .env("CREDSEAL_PASSPHRASE", "golden test passphrase, not a real one")
        // Role keys are encrypted at rest by default: keygens seal them, and the commands
        // that read them open them, with this passphrase.
        .env("CREDSEAL_KEY_PASSPHRASE", "golden test key passphrase, not a real one")
        .env("CREDSEAL_OFFICER", "golden-officer")
        .case("tests/cmd/*.toml")
        .case("tests/cmd/*.trycmd");
}
