//! `credseal`: the command-line tool. It parses arguments, calls the engine and formats
//! the result; stdout carries data only, stderr carries prompts, progress and diagnostics.
//!
//! `cli` holds the clap definitions only; `commands/<group>.rs` the handlers, which share one
//! [`context::Context`]; `render` prints every object one way (a table or a `--json`
//! document from a dedicated output type). This file parses, dispatches, and turns a failure
//! into `credseal: error:` / `credseal: hint:` lines and an exit code.

mod cli;
mod client;
mod commands;
mod context;
mod duration;
mod export;
mod files;
mod passphrase;
mod progress;
mod render;
mod witness_policy;

use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the query path's many short-lived buffers (store nodes,
/// batches, encodings) cost markedly less (`credseal bench query`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::Parser;
use credseal_engine::{EngineError, ErrorClass};

use crate::cli::{Cli, Command};
use crate::commands::{
    authority, bench, check, demo, dept, dev, incident, ingest, init, keys, log, query, receipts, serve, staff,
    subject, witness,
};
use crate::context::Context;

/// A CLI failure: message, optional hint, exit class.
#[derive(Debug)]
pub(crate) struct Failure {
    class: ErrorClass,
    message: String,
    hint: Option<String>,
    /// A machine-readable reason where there is one (a query's denial code).
    code: Option<String>,
}

impl Failure {
    /// A failure of `class` saying `message`.
    pub(crate) fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            hint: None,
            code: None,
        }
    }

    /// Adds the machine-readable reason (`--json`'s `code`).
    pub(crate) fn code(mut self, code: impl Into<String>) -> Self {
        self.code = Some(code.into());
        self
    }

    /// Adds a hint: how to fix it. A second hint is printed after the first, on its own
    /// `hint:` line.
    pub(crate) fn hint(mut self, h: impl Into<String>) -> Self {
        let h = h.into();
        self.hint = Some(match self.hint.take() {
            Some(first) => format!("{first}\n{h}"),
            None => h,
        });
        self
    }
}

/// Advice on how to fix an engine error with this command line, printed as `hint:`. The
/// engine's messages name what went wrong; only the command line knows its flags and
/// commands.
fn hint(e: &EngineError) -> Option<&'static str> {
    use credseal_crypto::KeystoreError;
    match e {
        EngineError::NotADataDir { .. } => {
            Some("create one with `credseal init --data DIR --catalog FILE --origin NAME`")
        }
        EngineError::Keystore {
            source: KeystoreError::WrongPassphrase,
            ..
        } => Some("the passphrase comes from CREDSEAL_PASSPHRASE, --passphrase-file, or the terminal prompt"),
        EngineError::DemoKeysRefused { .. } => {
            Some("demo keys are public: pass --demo to use them anyway, or create a real platform with `credseal init`")
        }
        EngineError::Store(credseal_store::StoreError::Locked { .. }) => Some(
            "another credseal process (`credseal serve`?) is using this data directory; where a command takes --server, send it to the running service instead",
        ),
        EngineError::Conflict { .. } => Some("pass --replace to change it"),
        EngineError::NoAuthority => Some("run `credseal authority trust` first"),
        EngineError::KekInUse { .. } => Some("run `credseal keys rewrap` first"),
        EngineError::IngestPending => Some("run the same ingest again to complete it"),
        EngineError::Pushback { .. } => Some("the platform is busy; try again in a moment"),
        _ => None,
    }
}

impl From<EngineError> for Failure {
    fn from(e: EngineError) -> Self {
        Self {
            class: e.class(),
            message: e.to_string(),
            hint: hint(&e).map(str::to_string),
            code: match &e {
                EngineError::Denied { code, .. } => Some(code.to_string()),
                _ => None,
            },
        }
    }
}

/// The time now, from the system clock (a clock before 1970 is an error, not 0).
pub(crate) fn now() -> CliResult<u64> {
    use credseal_engine::Clock;
    Ok(credseal_engine::SystemClock.now()?)
}

/// What a handler returns.
pub(crate) type CliResult<T = ()> = Result<T, Failure>;

/// A closed stdout (`credseal … | head -1`) ends the command as it ends the C tools in a
/// pipeline: quietly, with the status a shell reports for SIGPIPE (141), not with a panic
/// and a backtrace. Anything else that panics is reported as before.
fn quiet_on_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let p = info.payload();
        let msg = p
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| p.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if msg.starts_with("failed printing to stdout") && msg.contains("Broken pipe") {
            std::process::exit(141);
        }
        // Any other failure to write standard output (a full disk, `> /dev/full`): an error
        // (exit 1), not a panic.
        if let Some(why) = msg.strip_prefix("failed printing to stdout: ") {
            eprintln!("credseal: error: writing standard output: {why}");
            std::process::exit(1);
        }
        default(info);
    }));
}

fn main() -> ExitCode {
    quiet_on_broken_pipe();
    // `--json` is a flag wherever it appears (no option takes a value that starts with
    // `--`), so a failure before or during parsing is reported as JSON too (docs/json.md);
    // `--json=…` is a usage error, reported as JSON as well.
    let json = std::env::args_os()
        .skip(1)
        .any(|a| a == "--json" || a.as_encoded_bytes().starts_with(b"--json="));
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            if json && code == 0 {
                // `--help` or `--version` with `--json`: the same text, as a document.
                return match e.kind() {
                    clap::error::ErrorKind::DisplayVersion => match commands::meta::version(true) {
                        Ok(()) => ExitCode::SUCCESS,
                        Err(f) => ExitCode::from(f.class.exit_code()),
                    },
                    _ => {
                        #[derive(serde::Serialize)]
                        struct HelpJson {
                            /// The help text as `--help` prints it.
                            text: String,
                        }
                        render::print_json(
                            "help",
                            &HelpJson {
                                text: e.render().to_string(),
                            },
                        );
                        ExitCode::SUCCESS
                    }
                };
            }
            if json && code == 2 {
                // clap's message up to its usage and tip lines: one line, the arguments named
                // (`the following required arguments were not provided: --data <DIR>`).
                let text = e.to_string();
                let message = text
                    .lines()
                    .take_while(|l| !l.trim().is_empty())
                    .map(str::trim)
                    .collect::<Vec<_>>()
                    .join(" ");
                let message = message.trim_start_matches("error: ");
                let message = if message.is_empty() {
                    "invalid arguments"
                } else {
                    message
                };
                render::print_error(ErrorClass::Usage, message, None, None);
            }
            // A help text that cannot be written (`--help > /dev/full`) is an error too.
            if e.print().is_err() {
                return ExitCode::from(1);
            }
            return ExitCode::from(code);
        }
    };
    // Standard input can be read once: two `-` arguments (a passphrase file and a token, say)
    // would hand one of them the other's bytes. Refused before anything is read.
    // (`--out -`, standard output, is not an input.)
    const OUTPUTS: [&str; 4] = ["--out", "--answer-out", "--ids-out", "--export"];
    let args: Vec<std::ffi::OsString> = std::env::args_os().skip(1).collect();
    let dashes = args
        .iter()
        .enumerate()
        .filter(|(i, a)| {
            let bytes = a.as_encoded_bytes();
            if *a == "-" {
                !(i.checked_sub(1).is_some_and(|p| OUTPUTS.iter().any(|o| args[p] == *o)))
            } else if let Some(flag) = bytes.strip_suffix(b"=-") {
                !OUTPUTS.iter().any(|o| o.as_bytes() == flag)
            } else {
                false
            }
        })
        .count();
    let result = if dashes > 1 {
        Err(Failure::new(
            ErrorClass::Usage,
            "only one file argument can be - (standard input)",
        ))
    } else {
        run(cli)
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            if json {
                render::print_error(f.class, &f.message, f.hint.as_deref(), f.code.as_deref());
            }
            for line in f.message.lines() {
                eprintln!("credseal: error: {line}");
            }
            for line in f.hint.iter().flat_map(|h| h.lines()) {
                eprintln!("credseal: hint: {line}");
            }
            ExitCode::from(f.class.exit_code())
        }
    }
}

/// Dispatches the parsed command to its group's handler.
fn run(cli: Cli) -> CliResult {
    let ctx = Context::new(cli.demo, cli.passphrase_file, cli.officer, cli.unseal)?;
    match cli.command {
        Command::Init(a) => init::run(&ctx, a),
        Command::Ingest(a) => ingest::run(&ctx, a),
        Command::Demo { data, json } => demo::run(data.as_deref(), json),
        Command::Authority { command } => authority::run(&ctx, command),
        Command::Dept { command } => dept::run(&ctx, command),
        Command::Subject { command } => subject::run(&ctx, command),
        Command::Query(a) => query::query(&ctx, a),
        Command::Open(a) => query::open(a),
        Command::Receipts { command } => receipts::run(&ctx, command),
        Command::Log { command } => log::run(&ctx, command),
        Command::Officer { command } => staff::officer(&ctx, command),
        Command::Staff { command } => staff::run(&ctx, command),
        Command::Provider { command } => ingest::provider(&ctx, command),
        Command::Trace(a) => incident::trace(&ctx, a),
        Command::Canary { command } => incident::canary(&ctx, command),
        Command::Audit { command } => incident::audit(&ctx, command),
        Command::Keys { command } => keys::run(&ctx, command),
        Command::Unseal { data, json } => commands::custody::check(&ctx, &data.data, json),
        Command::Version { json } => commands::meta::version(json),
        Command::Completions { shell, json } => commands::meta::completions(shell, json),
        Command::Man { out_dir, json } => commands::meta::man(&out_dir, json),
        Command::Shred {
            data,
            what,
            approvals,
            now,
            json,
        } => keys::shred(&ctx, data, what, approvals, now, json),
        Command::Check { data, json } => check::run(&ctx, &data, json),
        Command::Compact { data, json } => check::compact(&ctx, &data, json),
        Command::Backup { data, out, json } => check::backup(&data, &out, json),
        Command::Restore {
            backup,
            data,
            states,
            json,
        } => check::restore(&backup, &data, &states, json),
        Command::Serve(a) => serve::run(&ctx, a),
        Command::Witness { command } => witness::run(command),
        Command::Bench { command } => bench::run(&ctx, command),
        Command::Dev { command } => dev::run(&ctx, command),
    }
}

#[cfg(test)]
mod tests {
    /// clap checks the whole command tree (names, conflicts with the built-in flags).
    #[test]
    fn the_command_line_definition_is_valid() {
        use clap::CommandFactory;
        crate::cli::Cli::command().debug_assert();
    }
}
