//! `credseal`: the command-line tool. It parses arguments, calls the engine and formats
//! the result; stdout carries data only, stderr carries prompts, progress and diagnostics.

mod demo;
mod export;
mod incident;
mod output;
mod passphrase;
mod progress;
mod receipts;
mod roles;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

/// mimalloc instead of glibc malloc: the query path's many short-lived buffers (store nodes,
/// batches, encodings) cost markedly less (`credseal bench query`).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use clap::{Args, Parser, Subcommand};
use credseal_crypto::KdfParams;
use credseal_engine::{EngineError, ErrorClass, InitOptions, KeySource, OpenOptions, Platform};

/// credseal keeps credit information sealed: nobody reads a field without signed
/// authority, and nobody reads it without the subject being able to find out.
#[derive(Parser, Debug)]
#[command(name = "credseal", version, about, long_about = None, propagate_version = true)]
struct Cli {
    /// Allow the public demo keys of keys-example/ (never on a real platform).
    #[arg(long, global = true)]
    demo: bool,
    /// Read the keystore passphrase from this file (else CREDSEAL_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    passphrase_file: Option<PathBuf>,
    /// The officer named in the receipts of administrative acts (else CREDSEAL_OFFICER,
    /// else the login name).
    #[arg(long, global = true, value_name = "NAME")]
    officer: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Args, Debug, Clone)]
pub(crate) struct DataArg {
    /// The platform's data directory.
    #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR")]
    pub(crate) data: PathBuf,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Create a platform: data directory, catalogue copy, keystore, database.
    Init {
        /// Directory to create (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// The catalogue (catalog.toml) of field classes.
        #[arg(long, value_name = "FILE")]
        catalog: PathBuf,
        /// The log origin: this platform's name in checkpoints and token audiences.
        #[arg(long, value_name = "NAME", required_unless_present = "keystore")]
        origin: Option<String>,
        /// Use this existing keystore file instead of generating fresh keys.
        #[arg(long, value_name = "FILE")]
        keystore: Option<PathBuf>,
        /// Argon2id memory for the keystore key, in MiB.
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(8..=4096))]
        kdf_mib: u32,
        /// Argon2id passes.
        #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
        kdf_passes: u32,
        /// Print what was created as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Validate a JSON Lines file against the catalogue and store its records sealed.
    Ingest {
        #[command(flatten)]
        data: DataArg,
        /// The JSON Lines file (one record per line).
        file: PathBuf,
        /// Let records that were shredded (retention or credit repair) in again; each one's
        /// subject gets a receipt saying so. Without it they are refused.
        #[arg(long)]
        allow_shredded: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Run a walkthrough on a throw-away platform made from keys-example/.
    Demo {
        /// Use this directory instead of a temporary one (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
    },
    /// The credit authority: its key, department credentials, revocations.
    Authority {
        #[command(subcommand)]
        command: roles::AuthorityCommand,
    },
    /// An authorized department: its keys and query tokens.
    Dept {
        #[command(subcommand)]
        command: roles::DeptCommand,
    },
    /// A data subject: keys, registration, consents, self-queries.
    Subject {
        #[command(subcommand)]
        command: roles::SubjectCommand,
    },
    /// Run a query token on the platform and write the sealed answer (exit 3 if denied).
    Query(roles::QueryArgs),
    /// Open a sealed answer with the requester's sealing key and print the records.
    Open(roles::OpenArgs),
    /// A subject's receipts: request, export (platform side), verify offline.
    Receipts {
        #[command(subcommand)]
        command: receipts::ReceiptsCommand,
    },
    /// The transparency log: verifier key, checkpoint, full audit.
    Log {
        #[command(subcommand)]
        command: receipts::LogCommand,
    },
    /// Security officers: keys, enrolment, approvals of destructive operations.
    Officer {
        #[command(subcommand)]
        command: incident::OfficerCommand,
    },
    /// Incident responders (and officers, with --role officer): keys and enrolment.
    Staff {
        #[command(subcommand)]
        command: incident::StaffCommand,
    },
    /// Trace leaked data back to the disclosures that released it (needs a responder key).
    Trace(incident::TraceArgs),
    /// Canary subjects: plant synthetic subjects whose queries raise alerts (officer key).
    Canary {
        #[command(subcommand)]
        command: incident::CanaryCommand,
    },
    /// The access review: canary alerts and per-department reports (responder key).
    Audit {
        #[command(subcommand)]
        command: incident::AuditCommand,
    },
    /// Key management for security officers.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Destroy records for good (retention sweep or a credit-repair order), approved by two
    /// officers; earlier copies of the database become unreadable with the keystore after.
    Shred {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        what: ShredWhat,
        /// An officer's approval (`officer approve`); two from different officers are needed.
        #[arg(long = "approval", value_name = "FILE")]
        approvals: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Open every stored data key and record, check the fingerprints against the log, and
    /// report the first that fails verification.
    Check {
        #[command(flatten)]
        data: DataArg,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Benchmarks, each reported against its floor measured in the same run.
    Bench {
        #[command(subcommand)]
        command: BenchCommand,
    },
    /// Developer tools.
    #[command(hide = true)]
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand, Debug)]
enum KeysCommand {
    /// Class → KEK versions, which is primary, and how many data keys use each; the log
    /// keys and the receipts each signs.
    Status {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Make a new KEK version of a class primary (new data keys use it at once).
    Rotate {
        #[command(flatten)]
        data: DataArg,
        /// The class.
        #[arg(long)]
        class: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Re-wrap every data key still under an older KEK version to its class's primary
    /// (resumable: run it again after an interruption).
    Rewrap {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Destroy a KEK version no data key uses any more.
    Retire {
        #[command(flatten)]
        data: DataArg,
        /// The class.
        #[arg(long)]
        class: String,
        /// The KEK version to destroy.
        #[arg(long, value_name = "N")]
        kek_version: u32,
        /// An officer's approval (`officer approve`); two from different officers are needed.
        #[arg(long = "approval", value_name = "FILE")]
        approvals: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Rotate the log key: a new key signs later receipts and checkpoints; the handover,
    /// signed by the old and the new key, goes into every bundle; the old key is destroyed.
    /// Subjects and auditors keep the original key (`log key`).
    LogRotate {
        #[command(flatten)]
        data: DataArg,
        /// An officer's approval (`officer approve`) of "rotate log key <current key id>"; two
        /// from different officers are needed.
        #[arg(long = "approval", value_name = "FILE")]
        approvals: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Give one subject's class a new data key and re-encrypt its records (suspected exposure).
    Rekey {
        #[command(flatten)]
        data: DataArg,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The class.
        #[arg(long)]
        class: String,
        /// An officer's approval (`officer approve`); two from different officers are needed.
        #[arg(long = "approval", value_name = "FILE")]
        approvals: Vec<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `credseal shred`: what to destroy.
#[derive(Args, Debug)]
#[group(id = "what", required = true, multiple = false)]
struct ShredWhat {
    /// Every record past its class's retention period.
    #[arg(long, group = "what")]
    expired: bool,
    /// A credit-repair order signed by the authority (`authority order-shred`): shred the
    /// record it names.
    #[arg(long, value_name = "FILE", group = "what")]
    order: Option<PathBuf>,
}

#[derive(Subcommand, Debug)]
enum BenchCommand {
    /// Ingest synthetic subjects; compare with encrypting and writing the same records plainly.
    Ingest {
        /// Synthetic subjects (one record per catalogue class each).
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        subjects: u64,
        /// The catalogue (default: the embedded keys-example catalogue).
        #[arg(long, value_name = "FILE")]
        catalog: Option<PathBuf>,
        /// Work directory (default: a temporary one, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// A trace over N stored disclosure fingerprints (50 departments, 10 fields a disclosure).
    Trace {
        /// Fingerprints to store before the trace.
        #[arg(long, default_value_t = 1_000_000, value_parser = clap::value_parser!(u64).range(10..=100_000_000))]
        fingerprints: u64,
        /// (subject, field, value) items in the leak.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        leak_items: u64,
        /// Work directory (default: a temporary one, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// A subject verifying its bundle of N receipts; compare with the signature and proof checks alone.
    Verify {
        /// Receipts in the subject's bundle.
        #[arg(long, default_value_t = 1000, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        receipts: u64,
        /// Other subjects' receipts in the log per receipt of this subject.
        #[arg(long, default_value_t = 9)]
        noise: u64,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Granted queries on a store of synthetic subjects; compare with the same crypto alone.
    Query {
        /// Synthetic subjects in the store.
        #[arg(long, default_value_t = 10_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        subjects: u64,
        /// Queries to run.
        #[arg(long, default_value_t = 20_000, value_parser = clap::value_parser!(u64).range(1..=100_000_000))]
        queries: u64,
        /// Threads running queries (and the floor).
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=256))]
        threads: u64,
        /// Queries each thread keeps in flight (default 64), as a server with many clients does: it
        /// starts the next query while earlier receipts wait for their group commit (1: each
        /// thread waits for every answer before the next query).
        #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u64).range(1..=1024))]
        in_flight: u64,
        /// Work directory (default: a temporary one, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
    /// Re-wrap every data key of a store of synthetic subjects (7 classes each) after a
    /// rotation; compare with the same unwraps, wraps and plain batched writes.
    Rewrap {
        /// Synthetic subjects in the store.
        #[arg(long, default_value_t = 100_000, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
        subjects: u64,
        /// Work directory (default: a temporary one, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Subcommand, Debug)]
enum DevCommand {
    /// Write the demo keystore for keys-example/catalog.toml (needs --demo).
    MakeDemoKeystore {
        /// The catalogue the keystore is for.
        #[arg(long)]
        catalog: PathBuf,
        /// Output file (must not exist).
        out: PathBuf,
    },
}

/// A CLI failure: message, optional hint, exit class.
pub(crate) struct Failure {
    class: ErrorClass,
    message: String,
    hint: Option<String>,
}

impl Failure {
    pub(crate) fn new(class: ErrorClass, message: impl Into<String>) -> Self {
        Self {
            class,
            message: message.into(),
            hint: None,
        }
    }

    pub(crate) fn hint(mut self, h: impl Into<String>) -> Self {
        self.hint = Some(h.into());
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
        EngineError::Store(credseal_store::StoreError::Locked { .. }) => {
            Some("another credseal process is using this data directory")
        }
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
        }
    }
}

pub(crate) type CliResult<T = ()> = Result<T, Failure>;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            for line in f.message.lines() {
                eprintln!("credseal: error: {line}");
            }
            if let Some(h) = f.hint {
                eprintln!("credseal: hint: {h}");
            }
            ExitCode::from(f.class.exit_code())
        }
    }
}

/// The officer running this command (see `--officer`).
static OFFICER: std::sync::OnceLock<String> = std::sync::OnceLock::new();

fn officer_name(flag: Option<String>) -> CliResult<String> {
    let name = flag
        .or_else(|| std::env::var("CREDSEAL_OFFICER").ok())
        .or_else(|| std::env::var("USER").ok())
        .or_else(|| std::env::var("LOGNAME").ok())
        .unwrap_or_else(|| credseal_engine::DEFAULT_OPERATOR.to_string());
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '.' | '_' | '-' | '@'));
    if !ok {
        return Err(Failure::new(
            ErrorClass::Usage,
            "--officer: 1 to 64 letters, digits, '.', '_', '-' or '@'",
        ));
    }
    Ok(name)
}

pub(crate) fn open_platform(cli_demo: bool, pf: Option<&Path>, dir: &Path) -> CliResult<Platform> {
    open_platform_keeping_passphrase(cli_demo, pf, dir).map(|(p, _)| p)
}

/// Like [`open_platform`], keeping the passphrase (to write the keystore again).
fn open_platform_keeping_passphrase(
    cli_demo: bool,
    pf: Option<&Path>,
    dir: &Path,
) -> CliResult<(Platform, credseal_crypto::Passphrase)> {
    // Fail on a missing or foreign directory before asking for a passphrase.
    let config = Platform::read_config(dir)?;
    let ks = dir.join(&config.keystore);
    if credseal_engine::fsutil::too_open(&ks) {
        eprintln!(
            "credseal: warning: {} is readable by other users; chmod 600 it",
            ks.display()
        );
    }
    let pass = passphrase::get(pf, false)?;
    let p = Platform::open(
        dir,
        &pass,
        OpenOptions {
            allow_demo_keys: cli_demo,
        },
    )?;
    Ok((p, pass))
}

/// The staff session of the officer running this command (`--officer`), for the receipts
/// of administrative acts.
pub(crate) fn session(p: &Platform) -> CliResult<credseal_engine::StaffSession> {
    let name = OFFICER.get().map_or(credseal_engine::DEFAULT_OPERATOR, String::as_str);
    Ok(p.staff_session(name)?)
}

/// The time now, from the system clock (a clock before 1970 is an error, not 0).
pub(crate) fn now() -> CliResult<u64> {
    use credseal_engine::Clock;
    Ok(credseal_engine::SystemClock.now()?)
}

/// Reads the officers' approval files and checks them for `op`; without two, the error says
/// how to get them.
fn approved(p: &Platform, op: &credseal_engine::Operation, files: &[PathBuf]) -> CliResult<credseal_engine::Approved> {
    let mut texts = Vec::with_capacity(files.len());
    for f in files {
        texts.push(read_text(f)?);
    }
    p.approve(op, &texts, now()?).map_err(|e| {
        Failure::new(
            e.class(),
            format!(
                "{e}\nhint: each of two enrolled officers runs `credseal officer approve --key KEY --audience {} --operation {:?} --out FILE`, then pass --approval FILE twice",
                p.origin(),
                op.text()
            ),
        )
    })
}

/// A benchmark's work directory: the one given (created), or a temporary one removed when
/// the returned guard drops.
fn bench_work_dir(work: Option<PathBuf>) -> CliResult<(PathBuf, Option<tempfile::TempDir>)> {
    match work {
        Some(w) => {
            std::fs::create_dir_all(&w)
                .map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", w.display())))?;
            Ok((w, None))
        }
        None => {
            let tmp = tempfile::tempdir()
                .map_err(|e| Failure::new(ErrorClass::Error, format!("temporary directory: {e}")))?;
            Ok((tmp.path().to_path_buf(), Some(tmp)))
        }
    }
}

fn run(cli: Cli) -> CliResult {
    let pf = cli.passphrase_file.as_deref();
    let _ = OFFICER.set(officer_name(cli.officer.clone())?);
    match cli.command {
        Command::Init {
            data,
            catalog,
            origin,
            keystore,
            kdf_mib,
            kdf_passes,
            json,
        } => {
            let text = read_text(&catalog)?;
            let (origin, imported) = match &keystore {
                Some(ks) => {
                    let pass = passphrase::get(pf, false)?;
                    let keys = Platform::read_keystore(
                        ks,
                        &pass,
                        OpenOptions {
                            allow_demo_keys: cli.demo,
                        },
                    )?;
                    if let Some(o) = &origin
                        && o != &keys.origin
                    {
                        return Err(Failure::new(
                            ErrorClass::Usage,
                            format!("--origin {o:?} differs from the keystore's origin {:?}", keys.origin),
                        ));
                    }
                    (keys.origin.clone(), Some((keys, pass)))
                }
                None => (origin.unwrap_or_default(), None),
            };
            let kdf = KdfParams {
                m_kib: kdf_mib * 1024,
                t: kdf_passes,
                p: 1,
            };
            match imported {
                Some((keys, pass)) => Platform::init(&InitOptions {
                    dir: &data,
                    catalog_text: &text,
                    catalog_name: &catalog.display().to_string(),
                    origin: &origin,
                    passphrase: &pass,
                    keys: KeySource::Existing(Box::new(keys)),
                    now: now()?,
                })?,
                None => {
                    let pass = passphrase::get(pf, true)?;
                    Platform::init(&InitOptions {
                        dir: &data,
                        catalog_text: &text,
                        catalog_name: &catalog.display().to_string(),
                        origin: &origin,
                        passphrase: &pass,
                        keys: KeySource::Generate(kdf),
                        now: now()?,
                    })?;
                }
            }
            output::init_done(&data, &origin, json);
            Ok(())
        }
        Command::Ingest {
            data,
            file,
            allow_shredded,
            json,
        } => {
            let p = open_platform(cli.demo, pf, &data.data)?;
            let bar = progress::Bar::new();
            let s = p.ingest_file_with(
                &session(&p)?,
                &file,
                &bar,
                credseal_engine::IngestOptions { allow_shredded },
            )?;
            output::ingest_summary(&s, json);
            Ok(())
        }
        Command::Demo { data } => demo::run(data.as_deref()),
        Command::Authority { command } => roles::authority(command, cli.demo, pf),
        Command::Dept { command } => roles::dept(command),
        Command::Subject { command } => roles::subject_cmd(command, cli.demo, pf),
        Command::Query(a) => roles::query(a, cli.demo, pf),
        Command::Open(a) => roles::open(a),
        Command::Receipts { command } => receipts::receipts(command, cli.demo, pf),
        Command::Log { command } => receipts::log(command, cli.demo, pf),
        Command::Officer { command } => incident::officer(command, cli.demo, pf),
        Command::Staff { command } => incident::staff(command, cli.demo, pf),
        Command::Trace(a) => incident::trace(a, cli.demo, pf),
        Command::Canary { command } => incident::canary(command, cli.demo, pf),
        Command::Audit { command } => incident::audit(command, cli.demo, pf),
        Command::Keys {
            command: KeysCommand::Status { data, json },
        } => {
            let p = open_platform(cli.demo, pf, &data.data)?;
            output::key_status(&p.key_status()?, &p.log_key_status()?, json);
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::LogRotate { data, approvals, json },
        } => {
            let (p, pass) = open_platform_keeping_passphrase(cli.demo, pf, &data.data)?;
            let ok = approved(&p, &p.log_rotation_operation()?, &approvals)?;
            let r = p.rotate_log_key(&session(&p)?, &pass, &ok)?;
            let id = |vkey: &str| vkey.split('+').nth(1).unwrap_or_default().to_string();
            output::done(
                json,
                &r,
                &format!(
                    "log key {} retired and destroyed; {} signs from tree size {} (approved by {})
                     subjects and auditors keep the original key (`credseal log key`): every bundle carries the signed handover
                     the new key, for plain C2SP tools checking new checkpoints (`credseal log key --current`):
{}",
                    id(&r.old_vkey),
                    id(&r.new_vkey),
                    r.from_size,
                    r.officers.join(", "),
                    r.new_vkey
                ),
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rotate { data, class, json },
        } => {
            let (p, pass) = open_platform_keeping_passphrase(cli.demo, pf, &data.data)?;
            let v = p.rotate_class(&session(&p)?, &class, &pass)?;
            output::done(
                json,
                &serde_json::json!({"class": class, "primary": v}),
                &format!("{class}: KEK v{v} is now primary; run `credseal keys rewrap` to move older data keys to it"),
            );
            Ok(())
        }
        Command::Keys {
            command: KeysCommand::Rewrap { data, json },
        } => {
            let p = open_platform(cli.demo, pf, &data.data)?;
            let bar = progress::Bar::new();
            let s = p.rewrap(&session(&p)?, &bar)?;
            let text = if s.moves.is_empty() {
                format!(
                    "nothing to rewrap: every data key of {} subject(s) is under its class's primary KEK",
                    s.subjects
                )
            } else {
                s.moves
                    .iter()
                    .map(|(c, f, t, n)| format!("{c}: {n} data key(s) v{f} -> v{t}"))
                    .collect::<Vec<_>>()
                    .join("\n")
            };
            output::done(json, &s, &text);
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Retire {
                    data,
                    class,
                    kek_version: version,
                    approvals,
                    json,
                },
        } => {
            let (p, pass) = open_platform_keeping_passphrase(cli.demo, pf, &data.data)?;
            let ok = approved(&p, &credseal_engine::Operation::retire(&class, version), &approvals)?;
            p.retire_version(&session(&p)?, &class, version, &pass, &ok)?;
            output::done(
                json,
                &serde_json::json!({"class": class, "retired": version}),
                &format!("{class}: KEK v{version} destroyed"),
            );
            Ok(())
        }
        Command::Keys {
            command:
                KeysCommand::Rekey {
                    data,
                    subject,
                    class,
                    approvals,
                    json,
                },
        } => {
            let id = credseal_core::SubjectId::parse(&subject)
                .map_err(|e| Failure::new(ErrorClass::Usage, format!("--subject: {e}")))?;
            let p = open_platform(cli.demo, pf, &data.data)?;
            let ok = approved(&p, &credseal_engine::Operation::rekey(&id, &class), &approvals)?;
            let n = p.rekey(&session(&p)?, &id, &class, &ok)?;
            output::done(
                json,
                &serde_json::json!({"class": class, "records": n}),
                &format!("{class}: new data key, {n} record(s) re-encrypted"),
            );
            Ok(())
        }
        Command::Shred {
            data,
            what,
            approvals,
            json,
        } => {
            let (p, pass) = open_platform_keeping_passphrase(cli.demo, pf, &data.data)?;
            let s = match what.order {
                None => {
                    let today = credseal_core::Date::from_unix(now()?)
                        .ok_or_else(|| Failure::new(ErrorClass::Error, "the clock is out of range"))?;
                    let ok = approved(&p, &credseal_engine::Operation::shred_expired(today), &approvals)?;
                    p.shred_expired(&session(&p)?, today, &pass, &ok)?
                }
                Some(file) => {
                    let order = p.check_shred_order(&read_text(&file)?).map_err(|e| {
                        let f = roles::query_failure(e);
                        Failure::new(f.class, format!("{}: {}", file.display(), f.message))
                    })?;
                    let ok = approved(&p, &order.operation(), &approvals)?;
                    p.shred_by_order(&session(&p)?, &order, &pass, &ok)?
                }
            };
            let text = if s.records == 0 {
                "nothing to shred".to_string()
            } else {
                let classes: Vec<String> = s
                    .classes
                    .iter()
                    .map(|(c, retired, new)| {
                        let r: Vec<String> = retired.iter().map(|v| format!("v{v}")).collect();
                        format!("{c}: KEK {} destroyed, v{new} primary", r.join(","))
                    })
                    .collect();
                format!(
                    "{} record(s) of {} subject(s) destroyed\n{}",
                    s.records,
                    s.subjects,
                    classes.join("\n")
                )
            };
            output::done(json, &s, &text);
            Ok(())
        }
        Command::Check { data, json } => {
            let p = open_platform(cli.demo, pf, &data.data)?;
            let (deks, records) = p.verify_store()?;
            let fingerprints = p.verify_fingerprints()?;
            output::check(deks, records, fingerprints, json);
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Ingest {
                    subjects,
                    catalog,
                    work,
                    json,
                },
        } => {
            let text = match catalog {
                Some(c) => read_text(&c)?,
                None => demo::CATALOG.to_string(),
            };
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = progress::Bar::new();
            let r = credseal_engine::bench::bench_ingest(&text, subjects, &work, &bar)?;
            output::bench_ingest(&r, json);
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Query {
                    subjects,
                    queries,
                    threads,
                    in_flight,
                    work,
                    json,
                },
        } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = progress::Bar::new();
            let size = credseal_engine::bench::QuerySize {
                subjects,
                queries,
                threads,
                in_flight,
            };
            let r = credseal_engine::bench::bench_query(demo::CATALOG, size, &work, &bar)?;
            output::bench_query(&r, json);
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Rewrap { subjects, work, json },
        } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = progress::Bar::new();
            let r = credseal_engine::bench::bench_rewrap(demo::CATALOG, subjects, &work, &bar)?;
            output::bench_rewrap(&r, json);
            Ok(())
        }
        Command::Bench {
            command:
                BenchCommand::Trace {
                    fingerprints,
                    leak_items,
                    work,
                    json,
                },
        } => {
            let (work, _tmp) = bench_work_dir(work)?;
            let bar = progress::Bar::new();
            let r = credseal_engine::bench::bench_trace(fingerprints, leak_items, &work, &bar)?;
            if json {
                crate::output::print_json(&r);
            } else {
                println!(
                    "trace of {} leaked items over {} fingerprints ({} disclosures, {} departments): {:.3} s; the leaking department ranked first: {}",
                    r.leak_items, r.fingerprints, r.disclosures, r.departments, r.trace_seconds, r.leaker_ranked_first
                );
                println!("(storing the disclosures took {:.1} s)", r.setup_seconds);
            }
            Ok(())
        }
        Command::Bench {
            command: BenchCommand::Verify { receipts, noise, json },
        } => {
            let r = credseal_engine::bench::bench_verify(receipts, noise)?;
            output::bench_verify(&r, json);
            Ok(())
        }
        Command::Dev {
            command: DevCommand::MakeDemoKeystore { catalog, out },
        } => {
            if !cli.demo {
                return Err(Failure::new(ErrorClass::Usage, "make-demo-keystore needs --demo"));
            }
            let text = read_text(&catalog)?;
            let cat = credseal_core::Catalog::parse(&text, Some(&catalog.display().to_string()))
                .map_err(EngineError::Catalog)?;
            let classes: Vec<&str> = cat.classes.keys().map(String::as_str).collect();
            let keys = credseal_crypto::demo::demo_keystore(&classes, credseal_crypto::sha256(text.as_bytes()), 0);
            let bytes = keys
                .seal(&credseal_crypto::Passphrase::new(
                    credseal_crypto::demo::DEMO_PASSPHRASE.into(),
                ))
                .map_err(|e| Failure::new(ErrorClass::Error, e.to_string()))?;
            credseal_engine::fsutil::write_new(&out, &bytes, 0o600)?;
            eprintln!("credseal: wrote the demo keystore {}", out.display());
            Ok(())
        }
    }
}

pub(crate) fn read_text(path: &Path) -> CliResult<String> {
    let bytes = std::fs::read(path).map_err(|e| Failure::new(ErrorClass::Error, format!("{}: {e}", path.display())))?;
    String::from_utf8(bytes)
        .map_err(|_| Failure::new(ErrorClass::Error, format!("{}: not valid UTF-8", path.display())))
}

#[cfg(test)]
mod tests {
    /// clap checks the whole command tree (names, conflicts with the built-in flags).
    #[test]
    fn the_command_line_definition_is_valid() {
        use clap::CommandFactory;
        super::Cli::command().debug_assert();
    }
}
