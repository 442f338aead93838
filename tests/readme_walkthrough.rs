//! The README's walkthroughs, run as printed: every ```sh block of "## Walkthroughs" and of
//! "## Running the service", in order, each with `bash -e -o pipefail`, in an empty
//! temporary directory holding the example catalogue and records, with `credseal` (this
//! build) first on the PATH and `CREDSEAL_PASSPHRASE` and `CREDSEAL_KEY_PASSPHRASE` set.
//! Two changes to the text: `/srv/credseal` becomes a directory inside the temporary one, and
//! the service's `127.0.0.1:8443` a free port on 127.0.0.1 chosen here. The blocks need
//! `bash`, GNU coreutils (`basenc`), `openssl` and `curl`, as the README says.
//!
//! Each block runs in a process group of its own, is stopped after [`BLOCK_TIMEOUT`], and
//! whatever it left running (the service, if the block failed before stopping it) is killed
//! when it ends. After the last block, what the late sections produced is checked: the
//! shredded loan record is gone from the subject's own answer, the log key changed, the
//! trace ranks bank-a first, the access review names bank-a, and the service answered.
//!
//! Not run: the ```sh block of "## Two commands" (it is `cargo run` and `cargo test`
//! themselves) and those of "## Benchmarks" (each takes minutes, and `bench serve` and
//! `bench tiles` need wrk): each of those is only parsed, by running it with `--help`
//! appended. A ```sh block anywhere else fails [`every_sh_block_is_run_or_parsed`].

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// The longest one block may take (the slowest, the service's, takes a few seconds).
const BLOCK_TIMEOUT: Duration = Duration::from_secs(300);

/// Sections whose ```sh blocks run, in order.
const RUN: [&str; 2] = ["## Walkthroughs", "## Running the service"];
/// Sections whose ```sh blocks are single commands that are only parsed (see the top).
const PARSE_ONLY: [&str; 1] = ["## Benchmarks"];
/// Sections whose ```sh blocks are not run at all (see the top).
const NOT_RUN: [&str; 1] = ["## Two commands"];

/// One ```sh block: the `## ` section it is in and its text.
struct Block {
    section: String,
    text: String,
}

/// Every ```sh block of `readme`, with its section.
fn sh_blocks(readme: &str) -> Vec<Block> {
    let mut blocks = Vec::new();
    let mut section = String::new();
    let mut lines = readme.lines();
    while let Some(line) = lines.next() {
        if line.starts_with("## ") {
            section = line.to_string();
        } else if line == "```sh" {
            let mut text = String::new();
            loop {
                let l = lines.next().expect("README: an unclosed ```sh block");
                if l == "```" {
                    break;
                }
                text.push_str(l);
                text.push('\n');
            }
            blocks.push(Block {
                section: section.clone(),
                text,
            });
        }
    }
    blocks
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn readme() -> String {
    std::fs::read_to_string(root().join("README.md")).expect("README.md")
}

/// What one finished block printed.
struct Ran {
    ok: bool,
    status: String,
    stdout: String,
    stderr: String,
}

/// Runs `script` with `bash -e -o pipefail` in `dir`, in its own process group, stdout and
/// stderr to files in `logs` (a background process that outlives the block cannot hold a
/// pipe open); kills the group after [`BLOCK_TIMEOUT`] and, in any case, once the block ends.
fn run_block(n: usize, script: &str, dir: &Path, logs: &Path, path_var: &str) -> Ran {
    use std::os::unix::process::CommandExt as _;
    let out_path = logs.join(format!("block-{n}.out"));
    let err_path = logs.join(format!("block-{n}.err"));
    let mut child = Command::new("bash")
        .args(["-e", "-o", "pipefail", "-c", script])
        .current_dir(dir)
        .env("PATH", path_var)
        .env("CREDSEAL_PASSPHRASE", "readme walkthrough passphrase")
        .env("CREDSEAL_KEY_PASSPHRASE", "readme walkthrough key passphrase")
        .env_remove("CREDSEAL_DATA")
        .stdin(Stdio::null())
        .stdout(std::fs::File::create(&out_path).unwrap())
        .stderr(std::fs::File::create(&err_path).unwrap())
        .process_group(0)
        .spawn()
        .expect("bash");
    let group = child.id();
    let deadline = Instant::now() + BLOCK_TIMEOUT;
    let status = loop {
        if let Some(status) = child.try_wait().unwrap() {
            break Some(status);
        }
        if Instant::now() >= deadline {
            break None;
        }
        std::thread::sleep(Duration::from_millis(50));
    };
    // Whatever the block left running (or the block itself, on a timeout).
    let _ = Command::new("kill")
        .args(["-KILL", "--", &format!("-{group}")])
        .stderr(Stdio::null())
        .status();
    let status = match status {
        Some(s) => s,
        None => child.wait().unwrap(),
    };
    let timed_out = Instant::now() >= deadline;
    Ran {
        ok: status.success() && !timed_out,
        status: if timed_out {
            format!("stopped after {} s", BLOCK_TIMEOUT.as_secs())
        } else {
            status.to_string()
        },
        stdout: std::fs::read_to_string(&out_path).unwrap_or_default(),
        stderr: std::fs::read_to_string(&err_path).unwrap_or_default(),
    }
}

/// A port on 127.0.0.1 that was free a moment ago.
fn free_port() -> u16 {
    let l = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    l.local_addr().unwrap().port()
}

#[test]
fn every_sh_block_is_run_or_parsed() {
    let blocks = sh_blocks(&readme());
    for b in &blocks {
        let known = RUN.iter().chain(&PARSE_ONLY).chain(&NOT_RUN).any(|s| *s == b.section);
        assert!(
            known,
            "README: a ```sh block in {:?}, a section tests/readme_walkthrough.rs neither runs nor parses:\n{}",
            b.section, b.text
        );
    }
    for section in RUN.iter().chain(&PARSE_ONLY) {
        assert!(
            blocks.iter().any(|b| b.section == *section),
            "README: no ```sh block in {section}"
        );
    }
}

#[test]
fn the_benchmark_commands_parse() {
    let dir = tempfile::tempdir().unwrap();
    let blocks = sh_blocks(&readme());
    let mut n = 0;
    for b in blocks.iter().filter(|b| PARSE_ONLY.contains(&b.section.as_str())) {
        let line = b.text.trim();
        assert!(
            !line.contains('\n') && line.starts_with("credseal bench "),
            "not one bench command:\n{line}"
        );
        let args: Vec<&str> = line.split_whitespace().skip(1).chain(["--help"]).collect();
        let o = Command::new(env!("CARGO_BIN_EXE_credseal"))
            .args(&args)
            .current_dir(dir.path())
            .output()
            .unwrap();
        assert!(
            o.status.success(),
            "README: {line} does not parse:\n{}",
            String::from_utf8_lossy(&o.stderr)
        );
        n += 1;
    }
    assert!(n >= 8, "{n} bench commands found");
}

#[test]
fn the_readme_walkthrough_runs_as_printed() {
    let root = root();
    let blocks: Vec<Block> = sh_blocks(&readme())
        .into_iter()
        .filter(|b| RUN.contains(&b.section.as_str()))
        .collect();
    assert!(blocks.len() >= 15, "{} blocks found", blocks.len());
    let dir = tempfile::tempdir().unwrap();
    let logs = tempfile::tempdir().unwrap();
    for f in ["catalog.toml", "records.jsonl"] {
        std::fs::copy(root.join("keys-example").join(f), dir.path().join(f)).unwrap();
    }
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_credseal"))
        .parent()
        .unwrap()
        .to_path_buf();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    let srv = dir.path().join("srv/credseal");
    let listen = format!("127.0.0.1:{}", free_port());
    let mut ran = Vec::new();
    for (i, block) in blocks.iter().enumerate() {
        let script = block
            .text
            .replace("/srv/credseal", &srv.display().to_string())
            .replace("127.0.0.1:8443", &listen);
        let r = run_block(i + 1, &script, dir.path(), logs.path(), &path);
        assert!(
            r.ok,
            "README block {} ({}) failed ({}):\n{}\nstdout:\n{}\nstderr:\n{}",
            i + 1,
            block.section,
            r.status,
            block.text,
            r.stdout,
            r.stderr
        );
        ran.push(r);
    }
    let output_of = |command: &str| -> &str {
        let i = blocks
            .iter()
            .position(|b| b.text.contains(command))
            .unwrap_or_else(|| panic!("README: no block runs {command}"));
        &ran[i].stdout
    };

    // The subject's own answer held the loan record before the credit-repair shred ...
    assert!(output_of("credseal query --data /srv/credseal --self-query").contains("LN-2025-000124"));
    // ... and holds only the identity record now.
    let after = run_block(
        blocks.len() + 1,
        &format!(
            "credseal subject query --key me/signing.key --sealing-key me/sealing.pub \
             --subject 42010619960510907X --classes identity,loans --origin credit.example.gov.cn/log \
             --out self-after.txt\n\
             credseal query --data {srv} --self-query self-after.txt --out mine-after.txt\n\
             credseal open --key me/sealing.key --log-key platform-log.key --token self-after.txt mine-after.txt\n",
            srv = srv.display()
        ),
        dir.path(),
        logs.path(),
        &path,
    );
    assert!(
        after.ok,
        "the self-query after the shred failed ({}):\n{}",
        after.status, after.stderr
    );
    assert!(after.stdout.contains("ID-00000104"), "{}", after.stdout);
    assert!(
        !after.stdout.contains("LN-2025-000124"),
        "the shredded record is still released:\n{}",
        after.stdout
    );
    assert!(output_of("credseal keys retire").contains("loans: KEK v1 destroyed"));

    // The log key was rotated: the departments' pinned key is not the original any more.
    let original = std::fs::read_to_string(srv.join("log-key.pub")).unwrap();
    let current = std::fs::read_to_string(dir.path().join("platform-log.key")).unwrap();
    assert_eq!(
        original.trim(),
        std::fs::read_to_string(dir.path().join("log.vkey")).unwrap().trim()
    );
    assert_ne!(original.trim(), current.trim(), "the log key did not change");
    assert!(output_of("credseal keys log-rotate").contains("retired and destroyed"));

    // The leak is traced to bank-a, whose answers it copied.
    let trace = output_of("credseal trace");
    let first = trace
        .lines()
        .find(|l| l.starts_with("1 "))
        .unwrap_or_else(|| panic!("no rank 1 in the trace:\n{trace}"));
    assert!(first.split_whitespace().nth(1) == Some("bank-a"), "{trace}");

    // The access review names bank-a's queries; the canaries were planted.
    let review = output_of("credseal audit report");
    assert!(review.contains("bank-a: "), "{review}");
    assert!(review.contains("planted 20 canary subject"), "{review}");

    // Over the service, bank-a's answer opened, and the subject's bundle verified across the
    // log key rotation and shows the credit-repair shred.
    let service = output_of("credseal serve");
    assert!(service.contains("identity  ID-00000104"), "{service}");
    assert!(service.contains("bundle verified"), "{service}");
    assert!(service.contains("the log key was rotated 1 time(s)"), "{service}");
    assert!(
        service
            .lines()
            .any(|l| l.contains(" shred ") && l.contains("order CR-2026-17")),
        "{service}"
    );
}
