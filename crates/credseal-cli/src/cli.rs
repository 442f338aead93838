//! The command line's definition, and nothing else: the clap `Parser`/`Subcommand` types of
//! every command group, with their help texts. No logic lives here, so that shell
//! completions and man pages can be generated from this module alone; `main.rs` dispatches
//! the parsed command to `commands/<group>.rs`.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// credseal keeps credit information sealed: nobody reads a field without signed
/// authority, and nobody reads it without the subject being able to find out.
#[derive(Parser, Debug)]
#[command(
    name = "credseal",
    version = concat!(env!("CARGO_PKG_VERSION"), " (commit ", env!("CREDSEAL_COMMIT"), ")"),
    about,
    long_about = None,
    propagate_version = true
)]
pub(crate) struct Cli {
    /// Allow the public demo keys of keys-example/ (never on a real platform).
    #[arg(long, global = true)]
    pub(crate) demo: bool,
    /// Read the keystore passphrase from this file (else CREDSEAL_PASSPHRASE, else a prompt).
    #[arg(long, global = true, value_name = "FILE")]
    pub(crate) passphrase_file: Option<PathBuf>,
    /// The officer named in the receipts of administrative acts (else CREDSEAL_OFFICER,
    /// else the login name).
    #[arg(long, global = true, value_name = "NAME")]
    pub(crate) officer: Option<String>,
    /// For a keystore in officers' custody (`init --unseal-holder`): one officer's share —
    /// their sealing key file (from `officer unseal-keygen`), or a share they opened with
    /// `keys share-open`. Give K of them (or CREDSEAL_UNSEAL=FILE:FILE:…).
    #[arg(
        long = "unseal",
        global = true,
        value_name = "FILE",
        env = "CREDSEAL_UNSEAL",
        value_delimiter = ':'
    )]
    pub(crate) unseal: Vec<PathBuf>,
    #[command(subcommand)]
    pub(crate) command: Command,
}

/// `--data DIR` (or `CREDSEAL_DATA`): the platform a command works on.
#[derive(Args, Debug, Clone)]
pub(crate) struct DataArg {
    /// The platform's data directory.
    #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", value_parser = crate::files::not_dash)]
    pub(crate) data: PathBuf,
}

/// `--server URL [--ca FILE]`: the credseal service (`credseal serve`) to send the request to.
#[derive(Args, Debug, Clone)]
pub(crate) struct ServerArgs {
    /// The server, `https://HOST:PORT` (`http://` only for a loopback address).
    #[arg(long, value_name = "URL")]
    pub(crate) server: Option<String>,
    /// Trust exactly the certificate(s) in this PEM file for the server, instead of the
    /// system's roots (pins the server).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) ca: Option<PathBuf>,
}

/// The command groups, one per user role or job.
#[derive(Subcommand, Debug)]
pub(crate) enum Command {
    /// Create a platform: data directory, catalogue copy, keystore, database.
    Init(InitArgs),
    /// Validate a JSON Lines file against the catalogue and store its records sealed; or
    /// ingest a provider's signed batch (`provider sign-batch`), here or on a server.
    Ingest(IngestArgs),
    /// Run a walkthrough on a throw-away platform made from keys-example/.
    Demo {
        /// Use this directory instead of a temporary one (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// The credit authority: its key, department credentials, revocations.
    Authority {
        #[command(subcommand)]
        command: AuthorityCommand,
    },
    /// An authorized department: its keys and query tokens.
    Dept {
        #[command(subcommand)]
        command: DeptCommand,
    },
    /// A data subject: keys, registration, consents, self-queries.
    Subject {
        #[command(subcommand)]
        command: SubjectCommand,
    },
    /// Run a query token on the platform and write the sealed answer (exit 3 if denied).
    Query(QueryArgs),
    /// Open a sealed answer with the requester's sealing key and print the records.
    Open(OpenArgs),
    /// A subject's receipts: request, export (platform side), verify offline.
    Receipts {
        #[command(subcommand)]
        command: ReceiptsCommand,
    },
    /// The transparency log: verifier key, checkpoint, full audit.
    Log {
        #[command(subcommand)]
        command: LogCommand,
    },
    /// Security officers: keys, enrolment, approvals of destructive operations.
    Officer {
        #[command(subcommand)]
        command: OfficerCommand,
    },
    /// Incident responders (and officers, with --role officer): keys and enrolment.
    Staff {
        #[command(subcommand)]
        command: StaffCommand,
    },
    /// Data providers: sign batches of records for the platform's ingest.
    Provider {
        #[command(subcommand)]
        command: ProviderCommand,
    },
    /// Trace leaked data back to the disclosures that released it (needs a responder key).
    Trace(TraceArgs),
    /// Canary subjects: plant synthetic subjects whose queries raise alerts (officer key).
    Canary {
        #[command(subcommand)]
        command: CanaryCommand,
    },
    /// The access review: canary alerts and per-department reports (responder key).
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
    /// Check that the shares given (`--unseal`) unseal a keystore in officers' custody:
    /// says how many of how many, and opens nothing else.
    Unseal {
        #[command(flatten)]
        data: DataArg,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Key management for security officers.
    Keys {
        #[command(subcommand)]
        command: KeysCommand,
    },
    /// Destroy records for good (retention sweep or a credit-repair order), approved by two
    /// officers — or, for the retention sweep, under the standing retention policy (`keys
    /// retention-policy`) without approvals; earlier copies of the database become unreadable
    /// with the keystore after.
    Shred {
        #[command(flatten)]
        data: DataArg,
        #[command(flatten)]
        what: ShredWhat,
        /// An officer's approval (`officer approve`); two from different officers are needed
        /// (none for `--expired` under an installed retention policy).
        #[arg(long = "approval", value_name = "FILE")]
        approvals: Vec<PathBuf>,
        /// Sweep as of this Unix time. Test builds only: a release build refuses it.
        #[arg(long, hide = true, requires = "expired")]
        now: Option<u64>,
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
    /// Give the disk space of dead stored values (left by rewraps, corrections and shreds)
    /// back to the file system; safe to stop at any moment and run again.
    Compact {
        #[command(flatten)]
        data: DataArg,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Take a consistent backup of a data directory, also while `credseal serve` runs on it
    /// (the server writes the snapshot; queries go on): the keystore, the database, the
    /// public files, the checkpoint at the snapshot and a manifest with every file's SHA-256.
    /// Keep keystore backups under the same custody and retention as the keystore: one taken
    /// before a shred still opens the shredded records.
    Backup {
        #[command(flatten)]
        data: DataArg,
        /// The new backup directory (must not exist, or be empty).
        #[arg(long, value_name = "DIR", value_parser = crate::files::not_dash)]
        out: PathBuf,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Restore a backup into a new data directory, after checking it against its manifest and
    /// against the log views subjects and auditors saved (`--state`): a backup whose log is not
    /// a prefix of what they have seen is refused (exit 4). Prints the tree size restored to.
    Restore {
        /// The backup directory (from `credseal backup`).
        #[arg(long, value_name = "DIR")]
        backup: PathBuf,
        /// The new data directory (must not exist, or be empty).
        #[arg(long, value_name = "DIR")]
        data: PathBuf,
        /// A saved view of the log the restored log must extend: a subject's state file of
        /// `receipts verify --state`, or an auditor's position of `log verify --state`.
        /// Repeatable.
        #[arg(long = "state", value_name = "FILE", value_parser = crate::files::not_dash)]
        states: Vec<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Serve the platform over HTTPS to departments, subjects, the authority and the public
    /// (until SIGTERM or SIGINT, which drain it).
    Serve(ServeArgs),
    /// This build: its version, the commit it was built from, and the format versions it
    /// reads and writes.
    Version {
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Print a shell completion script (bash, zsh, fish, elvish, powershell), e.g.
    /// `credseal completions bash > /etc/bash_completion.d/credseal`.
    Completions {
        /// The shell.
        shell: clap_complete::Shell,
        /// Print the result as JSON (docs/json.md): the script as a string.
        #[arg(long)]
        json: bool,
    },
    /// Write the man pages (credseal.1 and one per command, e.g. credseal-keys-rotate.1)
    /// into a directory.
    Man {
        /// The directory (created if missing; existing pages are not overwritten).
        #[arg(long, value_name = "DIR", value_parser = crate::files::not_dash)]
        out_dir: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// A C2SP witness of transparency logs, run by someone other than the platform: it
    /// cosigns a log's checkpoints only if each is consistent with the last it cosigned.
    Witness {
        #[command(subcommand)]
        command: WitnessCommand,
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

/// `credseal ingest`.
#[derive(Args, Debug)]
pub(crate) struct IngestArgs {
    /// The platform's data directory (not with --server).
    #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "server")]
    pub(crate) data: Option<PathBuf>,
    /// The JSON Lines file (one record per line): an unsigned operator import, only with
    /// --operator-import.
    #[arg(
        required_unless_present = "batch",
        conflicts_with = "batch",
        requires = "operator_import"
    )]
    pub(crate) file: Option<PathBuf>,
    /// Import an unsigned file as an operator (migrations, the authority's own data): the
    /// officer must be named with --officer (or CREDSEAL_OFFICER), and every subject's
    /// receipt says it was an unsigned operator import by that officer. Providers send
    /// signed batches (--batch) instead.
    #[arg(long, conflicts_with = "batch")]
    pub(crate) operator_import: bool,
    /// A provider's signed batch (`provider sign-batch`) instead of a file: checked against
    /// the provider's enrolled key, the platform, its age and earlier batches.
    #[arg(long, value_name = "FILE")]
    pub(crate) batch: Option<PathBuf>,
    #[command(flatten)]
    pub(crate) server: ServerArgs,
    /// Let records that were shredded (retention or credit repair) in again; each one's
    /// subject gets a receipt saying so. Without it they are refused. Not for batches.
    #[arg(long, conflicts_with = "batch")]
    pub(crate) allow_shredded: bool,
    /// Print the summary as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `credseal serve`: where to listen, TLS files and limits.
#[derive(Args, Debug)]
pub(crate) struct ServeArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// Address to listen on, IP:PORT (port 0 picks a free port; the ready line shows it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8443")]
    pub(crate) listen: std::net::SocketAddr,
    /// The server's certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "insecure_loopback",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// CA certificates (PEM) for departments' client certificates: department routes then
    /// require one (mutual TLS).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) client_ca: Option<PathBuf>,
    /// Serve plain HTTP, for tests: refused unless the address is a loopback address.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key", "client_ca"])]
    pub(crate) insecure_loopback: bool,
    /// Requests handled at once (each from the moment its body has arrived); beyond it 503
    /// with Retry-After.
    #[arg(long, value_name = "N", default_value_t = 512)]
    pub(crate) max_inflight: usize,
    /// Granted queries per second each department may sustain (refusals draw nothing);
    /// beyond it 429 with Retry-After.
    #[arg(long, value_name = "PER_SECOND", default_value_t = 100.0)]
    pub(crate) dept_rate: f64,
    /// Queries a department may send in a burst.
    #[arg(long, value_name = "N", default_value_t = 200.0)]
    pub(crate) dept_burst: f64,
    /// Largest request body in bytes (413 beyond it).
    #[arg(long, value_name = "BYTES", default_value_t = 65_536)]
    pub(crate) max_body: usize,
    /// Largest ingest batch body in bytes.
    #[arg(long, value_name = "BYTES", default_value_t = 16_777_216)]
    pub(crate) max_ingest_body: usize,
    /// Time allowed for a TLS handshake, a request's headers, its body, and an idle
    /// connection's next request.
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::secs_in(1, 3600))]
    pub(crate) timeout: u64,
    /// Do not write a JSON log line per request on stderr.
    #[arg(long)]
    pub(crate) quiet: bool,
    /// With witnesses configured (`log witnesses add`): send the latest checkpoint to them
    /// this often; `/checkpoint` publishes the latest cosigned one.
    #[arg(long, value_name = "DURATION", default_value = "1s", value_parser = crate::duration::secs_in(1, 3600))]
    pub(crate) witness_interval: u64,
    /// Trust exactly the certificate(s) in this PEM file for the witnesses' HTTPS (default:
    /// the system's roots).
    #[arg(long, value_name = "FILE")]
    pub(crate) witness_ca: Option<PathBuf>,
    /// Review open objections this often: each past its deadline gets an `overdue` receipt
    /// in its subject's chain and raises an alert on stderr, once.
    #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::duration::secs_in(1, 86400))]
    pub(crate) objection_review: u64,
    /// Run the platform's clock this many seconds ahead of the system's (deadlines, the
    /// objection review, receipts). Test builds only: a release build refuses it.
    #[arg(long, value_name = "DURATION", hide = true, value_parser = crate::duration::secs)]
    pub(crate) clock_offset: Option<u64>,
    /// Print the result as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `--witness FILE… [--witness-threshold K]`: the witnesses whose cosignatures a verifier
/// requires on the checkpoint.
#[derive(Args, Debug, Clone, Default)]
pub(crate) struct WitnessPolicyArgs {
    /// A witness's cosigner key (the vkey line of `witness keygen`'s FILE.pub) whose
    /// cosignature on the checkpoint counts (repeatable).
    #[arg(long = "witness", value_name = "FILE")]
    pub(crate) witness: Vec<PathBuf>,
    /// Valid cosignatures required from the --witness keys (default: all of them); fewer is
    /// a verification failure (exit 4).
    #[arg(long, value_name = "K", requires = "witness", value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) witness_threshold: Option<u64>,
}

/// `witness` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum WitnessCommand {
    /// Create a witness key: FILE (secret, mode 0600) and FILE.pub (its verifier key, which
    /// logs and auditors pin); prints the verifier key.
    Keygen {
        /// The witness's name, e.g. `witness.example.org/w1` (no spaces, no `+`).
        #[arg(long, value_name = "NAME")]
        name: String,
        /// The secret key file to create (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Serve the C2SP witness protocol (`POST /add-checkpoint`, `GET /<origin hash>/checkpoint`)
    /// for the logs whose keys are given, until SIGTERM or SIGINT.
    Serve(WitnessServeArgs),
}

/// `credseal witness serve`.
#[derive(Args, Debug)]
pub(crate) struct WitnessServeArgs {
    /// The witness's secret key file (`witness keygen`).
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The witness's state directory (created if missing): the latest checkpoint cosigned
    /// for each log. One witness process at a time.
    #[arg(long, value_name = "DIR", value_parser = crate::files::not_dash)]
    pub(crate) state: PathBuf,
    /// A log's verifier key file (`credseal log key`); the key's name is the log's origin.
    /// Repeat for more logs, or for the old and new key of a log that rotated its key.
    #[arg(long = "log-key", alias = "log-vkey", value_name = "FILE", required = true)]
    pub(crate) log_vkeys: Vec<PathBuf>,
    /// Address to listen on, IP:PORT (port 0 picks a free port; the ready line shows it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:8444")]
    pub(crate) listen: std::net::SocketAddr,
    /// The server's certificate chain (PEM, leaf first).
    #[arg(
        long,
        value_name = "FILE",
        required_unless_present = "insecure_loopback",
        requires = "tls_key"
    )]
    pub(crate) tls_cert: Option<PathBuf>,
    /// The server's private key (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub(crate) tls_key: Option<PathBuf>,
    /// Serve plain HTTP, for tests: refused unless the address is a loopback address.
    #[arg(long, conflicts_with_all = ["tls_cert", "tls_key"])]
    pub(crate) insecure_loopback: bool,
    /// Print the result as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `credseal init`: what to create.
#[derive(Args, Debug)]
pub(crate) struct InitArgs {
    /// Directory to create (must not exist, or be empty).
    #[arg(long, value_name = "DIR")]
    pub(crate) data: PathBuf,
    /// The catalogue (catalog.toml) of field classes.
    #[arg(long, value_name = "FILE")]
    pub(crate) catalog: PathBuf,
    /// The log origin: this platform's name in checkpoints and token audiences.
    #[arg(long, value_name = "NAME", required_unless_present = "keystore")]
    pub(crate) origin: Option<String>,
    /// Use this existing keystore file instead of generating fresh keys.
    #[arg(long, value_name = "FILE")]
    pub(crate) keystore: Option<PathBuf>,
    /// Argon2id memory for the keystore key, in MiB.
    #[arg(long, default_value_t = 64, value_parser = clap::value_parser!(u32).range(8..=4096))]
    pub(crate) kdf_mib: u32,
    /// Argon2id passes.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(u32).range(1..=64))]
    pub(crate) kdf_passes: u32,
    /// One of the platform's first security officers, `ID=PUBFILE` (their id and the public
    /// key from `officer keygen`). Give it at least twice: later staff changes need two
    /// officers' approvals (or the authority's staff order).
    #[arg(long = "first-officer", value_name = "ID=PUBFILE")]
    pub(crate) first_officers: Vec<String>,
    /// Put the keystore in the custody of officers instead of a passphrase: one holder of a
    /// share of its master key, `NAME=FILE` (FILE: their sealing public key, from `officer
    /// unseal-keygen`). Every command that opens the keystore then needs
    /// --unseal-threshold of their shares (`--unseal`).
    #[arg(long = "unseal-holder", value_name = "NAME=FILE", conflicts_with = "keystore")]
    pub(crate) unseal_holders: Vec<String>,
    /// How many holders' shares unseal the keystore (K of N).
    #[arg(long, value_name = "K", requires = "unseal_holders")]
    pub(crate) unseal_threshold: Option<usize>,
    /// Allow --unseal-threshold 1 or a single holder: one person alone then unseals the
    /// keystore, which defeats M-of-N custody (refused without this flag).
    #[arg(long, requires = "unseal_holders")]
    pub(crate) allow_single_holder: bool,
    /// Keep the KEKs and the log signing key in a PKCS#11 token (HSM custody): the module
    /// (shared library) of the token, e.g. SoftHSM2's libsofthsm2.so. The keys are made in
    /// the token as non-extractable objects; the keystore file then holds only their ids.
    /// Every later command finds the token in credseal.toml and needs its user PIN
    /// (CREDSEAL_PKCS11_PIN_FILE or CREDSEAL_PKCS11_PIN).
    #[arg(
        long,
        value_name = "LIB",
        requires_all = ["token_label"],
        conflicts_with_all = ["keystore", "unseal_holders"]
    )]
    pub(crate) pkcs11_module: Option<PathBuf>,
    /// The label of the token (initialised beforehand, e.g. `softhsm2-util --init-token`).
    #[arg(long, value_name = "LABEL", requires = "pkcs11_module")]
    pub(crate) token_label: Option<String>,
    /// A file holding the token's user PIN (else CREDSEAL_PKCS11_PIN_FILE, CREDSEAL_PKCS11_PIN
    /// or a prompt; never on the command line).
    #[arg(long, value_name = "FILE", requires = "pkcs11_module")]
    pub(crate) pin_file: Option<PathBuf>,
    /// Print what was created as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// What approves a staff enrolment or removal: two officers' approvals, or the authority's
/// staff order.
#[derive(Args, Debug, Clone)]
pub(crate) struct StaffApprovalArgs {
    /// An officer's approval (`officer approve`) of the operation the command prints; two
    /// from different enrolled officers are needed.
    #[arg(long = "approval", value_name = "FILE")]
    pub(crate) approvals: Vec<PathBuf>,
    /// Instead of approvals: the authority's signed staff order (`staff order`) for the
    /// operation.
    #[arg(long, value_name = "FILE", conflicts_with = "approvals")]
    pub(crate) order: Option<PathBuf>,
}

/// `keys` commands (security officers).
#[derive(Subcommand, Debug)]
pub(crate) enum KeysCommand {
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
    /// Change the keystore passphrase. The keystore is sealed again under the new one and the
    /// file replaced atomically (the old file stays whole until the new one is in place);
    /// leaves a key-event receipt.
    ///
    /// The current passphrase comes as for every command (CREDSEAL_PASSPHRASE,
    /// --passphrase-file or the terminal); the new one from --new-passphrase-file, else
    /// CREDSEAL_NEW_PASSPHRASE, else the terminal (asked twice).
    Passphrase {
        #[command(flatten)]
        data: DataArg,
        /// A file holding the new passphrase.
        #[arg(long, value_name = "FILE")]
        new_passphrase_file: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Seal the keystore under a new master key dealt to a new set of officers or a new
    /// threshold (a keystore in officers' custody; K current shares via --unseal). Every key
    /// in the keystore stays; the shares of the old set stop counting. Leaves a key-event
    /// receipt.
    Reshare {
        #[command(flatten)]
        data: DataArg,
        /// A holder of the new set, `NAME=FILE` (their sealing public key).
        #[arg(long = "holder", value_name = "NAME=FILE", required = true)]
        holders: Vec<String>,
        /// How many of the new holders' shares unseal the keystore.
        #[arg(long, value_name = "K")]
        threshold: usize,
        /// Allow --threshold 1 or a single holder: one person alone then unseals the
        /// keystore, which defeats M-of-N custody (refused without this flag).
        #[arg(long)]
        allow_single_holder: bool,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Open your own share of a keystore in officers' custody with your sealing key and
    /// write it to FILE (mode 0600), to hand to whoever unseals (`--unseal FILE`).
    ShareOpen {
        #[command(flatten)]
        data: DataArg,
        /// Your sealing key (from `officer unseal-keygen`).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Where to write the opened share (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Install or withdraw the standing retention policy: the retention sweep every interval,
    /// approved once by two officers instead of at every sweep
    ///
    /// With a policy installed, `credseal serve` runs the sweep on schedule (at the platform's
    /// clock, no passphrase needed) and `credseal shred --expired` runs without approvals (for
    /// cron); each run leaves a receipt naming the policy. Two different officers approve
    /// "retention sweep every INTERVAL" (e.g. "retention sweep every 1d"), or "retention sweep
    /// off" to withdraw it; without approvals the command names the operation. The policy is
    /// part of the trust state: one added, edited or removed in the store is refused (exit 4).
    RetentionPolicy(RetentionPolicyArgs),
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

/// `keys retention-policy`.
#[derive(Args, Debug)]
#[group(id = "setting", required = true, multiple = false)]
pub(crate) struct RetentionPolicyArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// Run the retention sweep this often (1m to 366d, e.g. `1d`, `12h`).
    #[arg(long, value_name = "DURATION", group = "setting", value_parser = crate::duration::secs_in(60, 366 * 86_400))]
    pub(crate) every: Option<u64>,
    /// Withdraw the installed policy: every sweep needs two approvals again.
    #[arg(long, group = "setting")]
    pub(crate) off: bool,
    /// Show the installed policy (changes nothing; no approvals).
    #[arg(long, group = "setting")]
    pub(crate) show: bool,
    /// An officer's approval (`officer approve`) of the policy's operation (the command
    /// prints it when approvals are missing); two from different officers are needed.
    #[arg(long = "approval", value_name = "FILE")]
    pub(crate) approvals: Vec<PathBuf>,
    /// Print the result as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `credseal shred`: what to destroy.
#[derive(Args, Debug)]
#[group(id = "what", required = true, multiple = false)]
pub(crate) struct ShredWhat {
    /// Every record past its class's retention period.
    #[arg(long, group = "what")]
    pub(crate) expired: bool,
    /// A credit-repair order signed by the authority (`authority order-shred`): shred the
    /// record it names.
    #[arg(long, value_name = "FILE", group = "what")]
    pub(crate) order: Option<PathBuf>,
}

/// `bench` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum BenchCommand {
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
    /// Granted queries over HTTPS against `credseal serve` (in this process) driven by wrk:
    /// the closed-loop peak, then open-loop latency at a fraction of it; compare the peak
    /// with `bench query`'s floor and with its in-process pipeline, both measured in the
    /// same run. Needs wrk on PATH (.ci/install-load-tool installs it).
    Serve(Box<BenchServeArgs>),
    /// The log in public (C2SP tlog-tiles): `log verify --tiles DIR` on a log of N receipts,
    /// compared with its Ed25519 signature checks and SHA-256 tree hashing alone; full tiles
    /// served per second by `credseal serve` (in this process) to wrk, compared with the same
    /// server's /healthz. Needs wrk on PATH (.ci/install-load-tool installs it).
    Tiles(Box<BenchTilesArgs>),
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
    /// Shred in one class of many subjects (key trees): one record by a credit-repair
    /// order, then a retention sweep of a batch; time and bytes written against a floor.
    Shred {
        /// Subjects with a record of the class (default 20,000; --full 1,000,000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(2..=10_000_000))]
        subjects: Option<u64>,
        /// Records in the sweep's batch (default 1,000; --full 10,000).
        #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
        batch: Option<u64>,
        /// The sizes: 1,000,000 subjects, a batch of 10,000 (minutes, gigabytes).
        #[arg(long)]
        full: bool,
        /// Work directory (default: a temporary one, removed afterwards).
        #[arg(long, value_name = "DIR")]
        work: Option<PathBuf>,
        /// Print one JSON object.
        #[arg(long)]
        json: bool,
    },
}

/// The flags of `bench serve`.
#[derive(Args, Debug)]
pub(crate) struct BenchServeArgs {
    /// A small run (500 subjects, 2 s closed loop, 2 s open loop) for tests and CI;
    /// the other flags still override its sizes.
    #[arg(long)]
    pub(crate) quick: bool,
    /// Synthetic subjects in the store (default 10,000; --quick 500).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) subjects: Option<u64>,
    /// Seconds of the closed-loop run (default 10; --quick 2).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::secs_in(1, 300))]
    pub(crate) duration: Option<u64>,
    /// Queries the closed-loop run may send at most (default 60,000; --quick 3,000).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) max_queries: Option<u64>,
    /// wrk threads of the closed-loop run (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) wrk_threads: Option<u64>,
    /// Connections of the closed-loop run, a multiple of --wrk-threads (default 64;
    /// --quick 16). Why 64: a group commit carries the receipts of every query in flight
    /// and shares its fixed cost (the durable write) among them, so commits grow and
    /// CPU per query falls with the queries in flight; a platform serves many
    /// departments at once, and `bench query` keeps 64 in flight per thread.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) connections: Option<u64>,
    /// The open-loop rate as a fraction of the closed-loop peak (default 0.8).
    #[arg(long)]
    pub(crate) rate_fraction: Option<f64>,
    /// The open-loop rate in queries per second, instead of a fraction of the peak (to
    /// compare runs at the same load whatever their peaks).
    #[arg(long, conflicts_with = "rate_fraction")]
    pub(crate) open_rate: Option<f64>,
    /// Seconds of the open-loop run (default 10; --quick 2).
    #[arg(long = "open-duration", alias = "open-seconds", value_name = "DURATION", value_parser = crate::duration::secs_in(1, 300))]
    pub(crate) open_seconds: Option<u64>,
    /// wrk threads of the open-loop run (default: --wrk-threads). Each sends on one
    /// fixed schedule, each query on whichever of its connections is free.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) open_threads: Option<u64>,
    /// Connections of the open-loop run, a multiple of its threads (default 64; --quick
    /// 8): the most queries it has in flight.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(crate) open_connections: Option<u64>,
    /// Queries of the floor (default 10,000; --quick 500).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) floor_queries: Option<u64>,
    /// Queries of each in-process run, one before the server's and one after (default
    /// 10,000; --quick 500).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) in_process_queries: Option<u64>,
    /// Queries each in-process thread keeps in flight, as `bench query --in-flight`
    /// (default 64).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1024))]
    pub(crate) in_flight: Option<u64>,
    /// Threads of the floor and of the in-process pipeline (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) threads: Option<u64>,
    /// The server's tokio worker threads (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) worker_threads: Option<u64>,
    /// Work directory (default: a temporary one, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub(crate) work: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// The flags of `bench tiles`.
#[derive(Args, Debug)]
pub(crate) struct BenchTilesArgs {
    /// The figure: 1,000,000 receipts about 100,000 subjects, 10 s wrk runs
    /// (default: 10,000 receipts about 1,000 subjects, 2 s runs); the other flags still
    /// override its sizes.
    #[arg(long)]
    pub(crate) full: bool,
    /// Receipts in the log (at least 256: one full tile to serve).
    #[arg(long, value_parser = clap::value_parser!(u64).range(256..=100_000_000))]
    pub(crate) receipts: Option<u64>,
    /// Synthetic subjects the receipts are about, in turn.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000_000))]
    pub(crate) subjects: Option<u64>,
    /// Receipts per group commit while the log is built (default 20,000; 5,000 without
    /// --full).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=1_000_000))]
    pub(crate) batch: Option<u64>,
    /// Seconds of each wrk run: /healthz, tiles, /healthz (default 10 with --full, else 2).
    #[arg(long, value_name = "DURATION", value_parser = crate::duration::secs_in(1, 300))]
    pub(crate) duration: Option<u64>,
    /// wrk threads (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=64))]
    pub(crate) wrk_threads: Option<u64>,
    /// wrk connections, a multiple of --wrk-threads (default 16).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=10_000))]
    pub(crate) connections: Option<u64>,
    /// The server's tokio worker threads (default 2).
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..=256))]
    pub(crate) worker_threads: Option<u64>,
    /// Work directory (default: a temporary one, removed afterwards).
    #[arg(long, value_name = "DIR")]
    pub(crate) work: Option<PathBuf>,
    /// Print one JSON object.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `dev` commands (hidden).
#[derive(Subcommand, Debug)]
pub(crate) enum DevCommand {
    /// Write the demo keystore for keys-example/catalog.toml (needs --demo).
    MakeDemoKeystore {
        /// The catalogue the keystore is for.
        #[arg(long)]
        catalog: PathBuf,
        /// Output file (must not exist).
        out: PathBuf,
    },
    /// What a database (e.g. a copy taken earlier) and a keystore (e.g. today's) open
    /// together, read straight from the files with no platform check in the way (the view
    /// of someone who holds both): for one subject, or every subject, of one class. Prints
    /// counts only, never a record. Exit 4 if any data key or record does not open.
    ProbeCopy {
        /// The database directory (a data directory's `db/`, or a copy of it).
        #[arg(long, value_name = "DIR")]
        db: PathBuf,
        /// The keystore file (its passphrase as for every command).
        #[arg(long, value_name = "FILE")]
        keystore: PathBuf,
        /// The class.
        #[arg(long)]
        class: String,
        /// One subject (default: every subject with records of the class).
        #[arg(long)]
        subject: Option<String>,
        /// Print one JSON document.
        #[arg(long)]
        json: bool,
    },
}

/// `authority` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum AuthorityCommand {
    /// Generate the authority's signing key (FILE, mode 0600) and its public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Make a platform trust this authority public key (platform side).
    ///
    /// Replacing a trusted key needs two officers' approvals of
    /// "replace authority key <key in hex>".
    Trust {
        #[command(flatten)]
        data: DataArg,
        /// The authority's public key file.
        #[arg(long = "public-key", alias = "key", value_name = "FILE")]
        key: PathBuf,
        /// Replace an authority key already trusted (with two officers' approvals).
        #[arg(long)]
        replace: bool,
        /// An officer's approval (`officer approve`) of the replacement; two from different
        /// officers are needed.
        #[arg(long = "approval", value_name = "FILE", requires = "replace")]
        approvals: Vec<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Enrol a department: sign its credential (which classes, purposes, how long).
    Enroll {
        /// The authority's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Credential serial number (unique; revocation names it).
        #[arg(long)]
        serial: u64,
        /// Department id, e.g. `bank-a`.
        #[arg(long)]
        department: String,
        /// Department name.
        #[arg(long)]
        name: String,
        /// The department's signing public key (from `dept keygen`).
        #[arg(long, value_name = "FILE")]
        signing_key: PathBuf,
        /// The department's sealing public key (from `dept keygen`).
        #[arg(long, value_name = "FILE")]
        sealing_key: PathBuf,
        /// Classes it may read, comma-separated; `<purpose>/<class>` grants only the fields
        /// of that purpose's catalogue view of the class.
        #[arg(long)]
        classes: String,
        /// Purposes it may query for, comma-separated.
        #[arg(long)]
        purposes: String,
        /// The platform's origin the credential is valid for.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Start of validity (Unix seconds or RFC 3339, e.g. `2026-12-07T12:00:00Z`; default now).
        #[arg(long, value_name = "TIME", value_parser = crate::duration::unix_time)]
        not_before: Option<u64>,
        /// How long it is valid from --not-before (`365d`, `12h`; a bare number is seconds).
        #[arg(long, value_name = "DURATION", default_value = "365d", value_parser = crate::duration::secs_in(1, crate::duration::TEN_YEARS))]
        valid_for: u64,
        /// The old spelling of --valid-for, in days.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: Option<u64>,
        /// Where to write the credential.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Enrol a data provider: sign its provider credential (which classes it may write,
    /// its record-id namespace, how long). The platform installs it with `provider enroll`.
    ProviderCredential {
        /// The authority's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Credential serial number (unique, shared with department credentials; revocation
        /// names it).
        #[arg(long)]
        serial: u64,
        /// The provider's id, e.g. `boc-guangzhou`: the `source` its records name.
        #[arg(long)]
        provider: String,
        /// The provider's name.
        #[arg(long)]
        name: String,
        /// The provider's batch-signing public key (from `provider keygen`).
        #[arg(long, value_name = "FILE")]
        provider_key: PathBuf,
        /// Classes it may write, comma-separated.
        #[arg(long)]
        classes: String,
        /// Record-id namespace: every record id it writes must start with this (default:
        /// any id; another source's records stay refused).
        #[arg(long, value_name = "PREFIX", default_value = "")]
        record_prefix: String,
        /// The platform's origin the credential is valid for.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Start of validity (Unix seconds or RFC 3339, e.g. `2026-12-07T12:00:00Z`; default now).
        #[arg(long, value_name = "TIME", value_parser = crate::duration::unix_time)]
        not_before: Option<u64>,
        /// How long it is valid from --not-before (`365d`, `12h`; a bare number is seconds).
        #[arg(long, value_name = "DURATION", default_value = "365d", value_parser = crate::duration::secs_in(1, crate::duration::TEN_YEARS))]
        valid_for: u64,
        /// The old spelling of --valid-for, in days.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: Option<u64>,
        /// Where to write the credential.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Revoke a credential: sign the next revocation list (and install it with --data).
    Revoke {
        /// The authority's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Serial of the credential to revoke.
        #[arg(long)]
        serial: u64,
        /// The platform's origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// The current revocation list, to extend (its version is raised by one).
        #[arg(long, value_name = "FILE")]
        previous: Option<PathBuf>,
        /// Where to write the new list.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also install it into this platform.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Install a signed revocation list into a platform, here or on a server (an older
    /// version is refused).
    Install {
        /// The platform's data directory (not with --server).
        #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "server")]
        data: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        /// The revocation list file.
        file: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Sign a credit-repair order: the platform must destroy one record of one subject for
    /// good (`credseal shred --order FILE`, with two officers' approvals).
    OrderShred {
        /// The authority's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The record's class.
        #[arg(long)]
        class: String,
        /// The record id.
        #[arg(long)]
        record: String,
        /// The order's reference (case or decision number), e.g. CR-2026-0017.
        #[arg(long = "ref", value_name = "REF")]
        reference: String,
        /// The platform's origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Where to write the order (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// `dept` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum DeptCommand {
    /// Generate a department's signing and sealing keys in DIR.
    Keygen {
        /// Directory for signing.key, signing.pub, sealing.key, sealing.pub.
        #[arg(long, value_name = "DIR", value_parser = crate::files::not_dash)]
        out_dir: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Sign a query token for one subject.
    Query(Box<TokenArgs>),
    /// Fetch the department's correction notices (records it received that were corrected
    /// since), from the platform or a server: one `cs1.notice.…` a line, sealed to it.
    Notices {
        /// The platform's data directory (not with --server).
        #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "server")]
        data: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        /// The department's id.
        #[arg(long)]
        department: String,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Open correction notices (a file of `dept notices` lines) with the department's
    /// sealing key and print what was corrected.
    OpenNotice {
        /// The department's sealing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The notices file.
        file: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// What a department's token asks for.
#[derive(Args, Debug)]
pub(crate) struct TokenArgs {
    /// The department's signing key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The department's credential.
    #[arg(long, value_name = "FILE")]
    pub(crate) credential: PathBuf,
    /// The subject's id.
    #[arg(long)]
    pub(crate) subject: String,
    /// Classes to read, comma-separated; `<purpose>/<class>` asks for only the fields of
    /// that purpose's catalogue view of the class.
    #[arg(long)]
    pub(crate) classes: String,
    /// The legal purpose.
    #[arg(long)]
    pub(crate) purpose: String,
    /// Free-text legal basis (case number, contract, statute).
    #[arg(long, default_value = "")]
    pub(crate) legal_basis: String,
    /// The platform's origin.
    #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) audience: String,
    /// The subject's consent, where a class needs it.
    #[arg(long, value_name = "FILE")]
    pub(crate) consent: Option<PathBuf>,
    /// Token lifetime (`300`, `5m`; a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::duration::secs_in(1, 86_400))]
    pub(crate) ttl: u64,
    /// Issue time (Unix seconds or RFC 3339, e.g. `2026-12-07T12:00:00Z`; default now).
    #[arg(long, value_name = "TIME", value_parser = crate::duration::unix_time)]
    pub(crate) issued_at: Option<u64>,
    /// Where to write the token.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Send the token to this server, then open, verify and print the answer (as `open`).
    #[arg(long, value_name = "URL", requires_all = ["sealing_key", "log_key"])]
    pub(crate) server: Option<String>,
    /// Trust exactly the certificate(s) in this PEM file for the server (pins it).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) ca: Option<PathBuf>,
    /// With --server: the department's sealing (private) key, to open the answer.
    #[arg(
        long = "sealing-key-private",
        alias = "sealing-key",
        value_name = "FILE",
        requires = "server"
    )]
    pub(crate) sealing_key: Option<PathBuf>,
    /// With --server: a client certificate (PEM chain) for a server that requires mutual TLS
    /// on the department routes (`serve --client-ca`).
    #[arg(long, value_name = "FILE", requires_all = ["server", "client_key"])]
    pub(crate) client_cert: Option<PathBuf>,
    /// With --client-cert: its private key (PEM).
    #[arg(long, value_name = "FILE", requires = "client_cert")]
    pub(crate) client_key: Option<PathBuf>,
    /// With --server: the platform's log key, pinned by you (`log key --current`).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) log_key: Option<PathBuf>,
    /// With --server: also save the sealed answer here (never overwritten).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) answer_out: Option<PathBuf>,
    /// Print the result as JSON (docs/json.md): with --server the answer, else what was
    /// written.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `subject` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum SubjectCommand {
    /// Generate a subject's signing and sealing keys in DIR.
    Keygen {
        /// Directory for signing.key, signing.pub, sealing.key, sealing.pub.
        #[arg(long, value_name = "DIR", value_parser = crate::files::not_dash)]
        out_dir: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Register a subject's signing key with the platform, after checking who they are.
    Register {
        #[command(flatten)]
        data: DataArg,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The subject's signing public key.
        #[arg(long = "public-key", alias = "key", value_name = "FILE")]
        key: PathBuf,
        /// Replace a key already registered.
        #[arg(long)]
        replace: bool,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Sign a consent for one department, classes and purpose.
    Consent {
        /// The subject's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The department allowed.
        #[arg(long)]
        department: String,
        /// Classes, comma-separated.
        #[arg(long)]
        classes: String,
        /// The purpose.
        #[arg(long)]
        purpose: String,
        /// How long the consent is valid (`30d`, `12h`; a bare number is seconds).
        #[arg(long, value_name = "DURATION", default_value = "30d", value_parser = crate::duration::secs_in(1, crate::duration::TEN_YEARS))]
        valid_for: u64,
        /// The old spelling of --valid-for, in days.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=3650))]
        days: Option<u64>,
        /// How many queries it allows (at least 1).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u32).range(1..))]
        max_uses: u32,
        /// The platform's origin: the one platform where the consent may be used.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Issue time (Unix seconds or RFC 3339, e.g. `2026-12-07T12:00:00Z`; default now).
        #[arg(long, value_name = "TIME", value_parser = crate::duration::unix_time)]
        issued_at: Option<u64>,
        /// Where to write the consent.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Sign a query for your own records (and, with --server, send it, open, verify and
    /// print the answer).
    Query(Box<SelfQueryArgs>),
    /// Object to one of your records (or apply for credit repair of a negative one): sign
    /// the objection (and file it with --data). The record is disputed until its provider
    /// (for a repair, the authority) answers, within the catalogue's deadline.
    Object {
        /// The subject's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The record's class.
        #[arg(long)]
        class: String,
        /// The record's id.
        #[arg(long)]
        record: String,
        /// Why the record is wrong, in your words.
        #[arg(long)]
        reason: String,
        /// An application for credit repair (answered by the authority) instead.
        #[arg(long)]
        repair: bool,
        /// The platform's origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Where to write the signed objection.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also file it on this platform.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Withdraw a consent you signed: sign the withdrawal (and install it with --data, or
    /// send it to the running service with --server). Every query that starts after it is
    /// installed and presents the consent is denied (`consent-withdrawn`, exit 3).
    Withdraw {
        /// The subject's signing key (the one that signed the consent).
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The consent to withdraw (`subject consent --out`).
        #[arg(long, value_name = "FILE")]
        consent: PathBuf,
        /// Where to write the signed withdrawal.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also install it on this platform (not while `credseal serve` holds it: use
        /// --server then).
        #[arg(long, value_name = "DIR", conflicts_with = "server")]
        data: Option<PathBuf>,
        #[command(flatten)]
        server: ServerArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// `subject query`.
#[derive(Args, Debug)]
pub(crate) struct SelfQueryArgs {
    /// The subject's signing key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The subject's sealing public key (the answer is sealed to it); with
    /// --sealing-key-private it may be left out.
    #[arg(long, value_name = "FILE", required_unless_present = "sealing_key_private")]
    pub(crate) sealing_key: Option<PathBuf>,
    /// The subject's id.
    #[arg(long)]
    pub(crate) subject: String,
    /// Classes, comma-separated (default: all of them, given with --all-classes-of).
    #[arg(long)]
    pub(crate) classes: String,
    /// The platform's origin.
    #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) audience: String,
    /// Lifetime (`300`, `5m`; a bare number is seconds).
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = crate::duration::secs_in(1, 86_400))]
    pub(crate) ttl: u64,
    /// Where to write the query.
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Send the self-query to this server, then open, verify and print the answer (as
    /// `open --vrf-key`).
    #[arg(long, value_name = "URL", requires_all = ["sealing_key_private", "log_key", "vrf_key"])]
    pub(crate) server: Option<String>,
    /// Trust exactly the certificate(s) in this PEM file for the server (pins it).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) ca: Option<PathBuf>,
    /// The subject's sealing (private) key, to open the answer (its public half is the
    /// default of --sealing-key).
    #[arg(long, value_name = "FILE")]
    pub(crate) sealing_key_private: Option<PathBuf>,
    /// With --server: the platform's log key, pinned by you (`log key --current`).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) log_key: Option<PathBuf>,
    /// With --server: the platform's VRF public key (`log key --vrf`), to check the
    /// answer's blind id.
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) vrf_key: Option<PathBuf>,
    /// With --server: also save the sealed answer here (never overwritten).
    #[arg(long, value_name = "FILE", requires = "server")]
    pub(crate) answer_out: Option<PathBuf>,
    /// Print the result as JSON (docs/json.md): with --server the answer, else what was
    /// written.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `credseal query`: the platform runs a token and writes the sealed answer.
#[derive(Args, Debug)]
pub(crate) struct QueryArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// The department's credential.
    #[arg(long, value_name = "FILE", requires = "token", conflicts_with = "self_query")]
    pub(crate) credential: Option<PathBuf>,
    /// The department's query token.
    #[arg(long, value_name = "FILE", requires = "credential")]
    pub(crate) token: Option<PathBuf>,
    /// A subject's self-query instead of a department's token.
    #[arg(long, value_name = "FILE")]
    pub(crate) self_query: Option<PathBuf>,
    /// Where to write the sealed answer (must not exist).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: PathBuf,
    /// Evaluate as of this Unix time. Test builds only: a release build refuses it, since it
    /// would let an operator accept expired tokens.
    #[arg(long, hide = true)]
    pub(crate) now: Option<u64>,
    /// Print the result as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `credseal open`: the requester opens a sealed answer.
#[derive(Args, Debug)]
pub(crate) struct OpenArgs {
    /// The requester's sealing (private) key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The platform's log key, pinned by you (from `credseal log key --current`): the
    /// answer's receipt must be signed by it, or the answer did not come from the platform.
    #[arg(long, value_name = "FILE")]
    pub(crate) log_key: PathBuf,
    /// The query token (or self-query) you sent: the answer must be the answer to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) token: PathBuf,
    /// The sealed answer.
    pub(crate) answer: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Write the records to FILE instead (`.csv` or `.json`, mode 0600, never overwritten),
    /// marked with the disclosure id so that a leaked copy traces straight back to it.
    #[arg(long, value_name = "FILE")]
    pub(crate) export: Option<PathBuf>,
    /// The platform's VRF public key (`vrf-key.pub` from `init`, or `log key --vrf`): a
    /// self-query's answer must carry a VRF proof for the subject's id that gives the BlindId
    /// its receipt names (exit 4 otherwise).
    #[arg(long, value_name = "FILE")]
    pub(crate) vrf_key: Option<PathBuf>,
    /// Your subject id, checked with --vrf-key (default: the subject the answer names).
    #[arg(long, requires = "vrf_key")]
    pub(crate) subject: Option<String>,
}

/// `receipts` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ReceiptsCommand {
    /// The subject signs a request for its receipt bundle.
    Request {
        /// The subject's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The platform's origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Your saved verification state (its tree size asks for a consistency proof).
        #[arg(long, value_name = "FILE", value_parser = crate::files::not_dash)]
        state: Option<PathBuf>,
        /// Where to write the request.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// The platform answers a signed request with the subject's bundle.
    Export {
        #[command(flatten)]
        data: DataArg,
        /// The subject's signed request.
        #[arg(long, value_name = "FILE")]
        request: PathBuf,
        /// Where to write the bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Trust exactly the certificate(s) in this PEM file for the witnesses' HTTPS (the
        /// bundle's checkpoint is sent to the platform's witnesses first).
        #[arg(long, value_name = "FILE")]
        witness_ca: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// The subject signs a bundle request, fetches the bundle from a server, verifies it
    /// (as `receipts verify`) and prints who viewed its data.
    Fetch(Box<FetchArgs>),
    /// The subject verifies its bundle offline and prints who viewed its data.
    Verify {
        /// The log's verifier key (from `credseal log key`), pinned by the subject.
        #[arg(long = "log-key", alias = "vkey", value_name = "FILE")]
        vkey: PathBuf,
        /// The platform's VRF public key (from `credseal log key --vrf`), pinned by the subject.
        #[arg(long, value_name = "FILE")]
        vrf_key: PathBuf,
        /// The subject's own id (resident identity number or unified social credit code): the
        /// bundle must prove its blind id is this id's.
        #[arg(long, value_name = "ID")]
        subject: String,
        /// Saved state: read if it exists, replaced only after a successful verification.
        #[arg(long, value_name = "FILE", value_parser = crate::files::not_dash)]
        state: PathBuf,
        /// The bundle.
        bundle: PathBuf,
        /// The witnesses whose cosignatures the bundle's checkpoint must carry.
        #[command(flatten)]
        witnesses: WitnessPolicyArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `receipts fetch`.
#[derive(Args, Debug)]
pub(crate) struct FetchArgs {
    /// The server, `https://HOST:PORT` (`http://` only for a loopback address).
    #[arg(long, value_name = "URL")]
    pub(crate) server: String,
    /// Trust exactly the certificate(s) in this PEM file for the server (pins it).
    #[arg(long, value_name = "FILE")]
    pub(crate) ca: Option<PathBuf>,
    /// The subject's signing key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The subject's own id.
    #[arg(long, value_name = "ID")]
    pub(crate) subject: String,
    /// The platform's origin.
    #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
    pub(crate) audience: String,
    /// Saved state: read if it exists (its tree size asks for a consistency proof),
    /// replaced only after a successful verification.
    #[arg(long, value_name = "FILE", value_parser = crate::files::not_dash)]
    pub(crate) state: PathBuf,
    /// The log's verifier key (from `credseal log key`), pinned by the subject.
    #[arg(long = "log-key", alias = "vkey", value_name = "FILE")]
    pub(crate) vkey: PathBuf,
    /// The platform's VRF public key (from `credseal log key --vrf`), pinned by the subject.
    #[arg(long, value_name = "FILE")]
    pub(crate) vrf_key: PathBuf,
    /// Also write the bundle here (never overwritten).
    #[arg(long, value_name = "FILE")]
    pub(crate) out: Option<PathBuf>,
    /// The witnesses whose cosignatures the bundle's checkpoint must carry.
    #[command(flatten)]
    pub(crate) witnesses: WitnessPolicyArgs,
    /// Print as JSON.
    #[arg(long)]
    pub(crate) json: bool,
}

/// `log` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum LogCommand {
    /// Print the log's verifier key (`name+id+key`), for subjects and auditors to pin: the
    /// original key, from which the signed key history walks after a rotation. Public
    /// material only: no passphrase.
    Key {
        /// The platform's data directory (not with --server): its public key files and log
        /// data are read, not its keystore. Refused while another process (`credseal serve`)
        /// holds its store; ask that server instead.
        #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "server")]
        data: Option<PathBuf>,
        /// Ask this server (`GET /v1/log/key`, or `/v1/log/vrf-key` with --vrf) instead.
        #[command(flatten)]
        server: ServerArgs,
        /// Print the key that signs the log now instead (for plain C2SP tools checking new
        /// checkpoints): the last key of the signed key history; after a rotation it is not
        /// the one to pin.
        #[arg(long, conflicts_with = "server")]
        current: bool,
        /// Print the platform's VRF public key instead (`ecvrf-edwards25519-sha512-tai:<hex>`),
        /// which subjects pin next to the log key to check their blind id.
        #[arg(long, conflicts_with = "current")]
        vrf: bool,
        /// Print one JSON object with the log key and the VRF public key.
        #[arg(long, conflicts_with = "server")]
        json: bool,
    },
    /// Print the log key history: the signed handover notes of every rotation, oldest first
    /// (anyone can check them against the original key; every bundle carries them). Public
    /// material only: no passphrase; refused while another process (`credseal serve`) holds
    /// the store.
    History {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON (the keys and their ranges, and the notes).
        #[arg(long)]
        json: bool,
    },
    /// Follow the published log (C2SP tiles) as `log verify --tiles` checks it, round after
    /// round: each new checkpoint is verified with what it adds (the entries, the tree, the
    /// subject map, the hash tiles, consistency with everything verified before) and --state
    /// is rewritten after each verified round. Runs until interrupted or --rounds; exit 4 at
    /// the first failure (a fork, a shrink, a bad entry, missing cosignatures).
    Monitor {
        /// The published log: a directory written by `log export-tiles`, or a server
        /// (`https://HOST:PORT`).
        #[arg(long, value_name = "DIR|URL")]
        tiles: String,
        /// The log's verifier key to pin (a file holding `log key`'s output).
        #[arg(long = "log-key", alias = "vkey", value_name = "FILE")]
        vkey: PathBuf,
        /// With --tiles URL: trust exactly the certificate(s) in this PEM file for the server.
        #[arg(long, value_name = "FILE")]
        ca: Option<PathBuf>,
        /// Your audit position file: read at start if it exists (the log must still start
        /// with it), rewritten after every verified round.
        #[arg(long, value_name = "FILE", value_parser = crate::files::not_dash)]
        state: Option<PathBuf>,
        /// The witnesses whose cosignatures each checkpoint must carry.
        #[command(flatten)]
        witnesses: WitnessPolicyArgs,
        /// Seconds between rounds.
        #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = crate::duration::secs_in(1, 86_400))]
        interval: u64,
        /// Stop after this many rounds (default: run until interrupted).
        #[arg(long, value_name = "N", value_parser = clap::value_parser!(u64).range(1..))]
        rounds: Option<u64>,
        /// One JSON object per round on stdout.
        #[arg(long)]
        json: bool,
    },
    /// The witnesses this platform sends its checkpoints to (C2SP tlog-witness): add, list,
    /// remove. Their cosignatures are published with the checkpoint.
    Witnesses {
        #[command(subcommand)]
        command: WitnessesCommand,
    },
    /// Send the latest checkpoint to the platform's witnesses now and keep the cosignatures
    /// they return (`credseal serve` does it every --witness-interval). Exit 1 if a witness
    /// refused or could not be reached.
    Cosign {
        #[command(flatten)]
        data: DataArg,
        /// Trust exactly the certificate(s) in this PEM file for the witnesses' HTTPS.
        #[arg(long, value_name = "FILE")]
        witness_ca: Option<PathBuf>,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Write the log as C2SP tiles for static hosting: OUT/checkpoint and OUT/tile/… at the
    /// published checkpoint (with witnesses: the latest cosigned one), with OUT/key-history.
    /// Only new files are written, the checkpoint last; OUT must be absent, empty, or an
    /// earlier export of this log.
    ExportTiles {
        #[command(flatten)]
        data: DataArg,
        /// The directory to write.
        #[arg(value_name = "OUT", value_parser = crate::files::not_dash)]
        out: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the latest signed checkpoint (a C2SP signed note). Public material only: no
    /// passphrase.
    Checkpoint {
        /// The platform's data directory (not with --server): its log data is read, not its
        /// keystore. Refused while another process (`credseal serve`) holds its store; ask
        /// that server instead.
        #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "server")]
        data: Option<PathBuf>,
        /// Ask this server (`GET /v1/log/checkpoint`) instead.
        #[command(flatten)]
        server: ServerArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Replay the log: every receipt signature and chain, stored hash, checkpoint, and the
    /// subject map each checkpoint commits to (recomputed from the receipts). With --tiles,
    /// an auditor's check of the published log (C2SP tiles) with nothing but --log-key: no data
    /// directory, no passphrase.
    Verify {
        /// The platform's data directory (not with --tiles).
        #[arg(long, env = "CREDSEAL_DATA", value_name = "DIR", required_unless_present = "tiles")]
        data: Option<PathBuf>,
        /// Check the published log instead: a directory written by `log export-tiles`, or a
        /// server (`https://HOST:PORT`, serving `/checkpoint` and `/tile/…`). Every entry's
        /// receipt signature, the tree and subject map rebuilt from the entries against the
        /// checkpoint, every hash tile, and the saved --state.
        #[arg(long, value_name = "DIR|URL", requires = "vkey")]
        tiles: Option<String>,
        /// The log's verifier key to pin (a file holding `log key`'s output), with --tiles.
        #[arg(long = "log-key", alias = "vkey", value_name = "FILE", requires = "tiles")]
        vkey: Option<PathBuf>,
        /// With --tiles URL: trust exactly the certificate(s) in this PEM file for the server.
        #[arg(long, value_name = "FILE", requires = "tiles")]
        ca: Option<PathBuf>,
        /// Your audit position file: written after a successful run (the size, roots and
        /// subject map verified), so that the next run can continue with --from. With
        /// --tiles it is also read, if it exists: the log must still start with what it saved.
        #[arg(long, value_name = "FILE", value_parser = crate::files::not_dash)]
        state: Option<PathBuf>,
        /// Continue from the position saved in --state, which must be at this tree size
        /// (only the receipts from N on are replayed).
        #[arg(long, value_name = "N", requires = "state", conflicts_with = "tiles")]
        from: Option<u64>,
        /// With --tiles: the witnesses whose cosignatures the checkpoint must carry.
        #[command(flatten)]
        witnesses: WitnessPolicyArgs,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
}

/// `log witnesses` commands: the platform's witness list (public; no receipt: witnesses
/// add assurance for subjects and auditors, who choose the ones they require).
#[derive(Subcommand, Debug)]
pub(crate) enum WitnessesCommand {
    /// Add a witness: its add-checkpoint URL and its cosigner key.
    Add {
        #[command(flatten)]
        data: DataArg,
        /// Its submission prefix, `https://HOST[:PORT][/PATH]` (`http://` only for a loopback
        /// address); checkpoints go to URL/add-checkpoint.
        #[arg(long, value_name = "URL")]
        url: String,
        /// Its cosigner key (the vkey line of `witness keygen`'s FILE.pub).
        #[arg(long, value_name = "FILE")]
        vkey: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// List the witnesses.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Remove a witness by its key name.
    Remove {
        #[command(flatten)]
        data: DataArg,
        /// The witness's key name.
        #[arg(long)]
        name: String,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// `officer` commands: a security officer's key, its enrolment, and its approvals of
/// destructive operations. The same as `staff keygen`, `staff enroll --role officer` and
/// `staff approve`.
#[derive(Subcommand, Debug)]
pub(crate) enum OfficerCommand {
    /// Generate an officer's signing key (FILE, mode 0600) and public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Generate an officer's unseal key: a sealing key (FILE, mode 0600) and its public key
    /// (FILE.pub), to which a share of a keystore's master key is sealed
    /// (`init --unseal-holder`, `keys reshare --holder`).
    UnsealKeygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Enrol an officer's public key on the platform, approved by two enrolled officers or
    /// by the authority's staff order; leaves a receipt.
    Enroll {
        #[command(flatten)]
        data: DataArg,
        /// The officer's id, e.g. `off-wang` (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        id: String,
        /// Their public key (FILE.pub from `officer keygen`).
        #[arg(long = "public-key", alias = "key", value_name = "FILE")]
        key: PathBuf,
        /// Re-enrol a key already enrolled under another id.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        approval: StaffApprovalArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Remove an officer (every key enrolled under the id), approved like an enrolment;
    /// effective at once: their approvals are refused from then on.
    Remove {
        #[command(flatten)]
        data: DataArg,
        /// The officer's id.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        approval: StaffApprovalArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Approve one destructive operation (retire, re-key, shred, log key rotation): writes a
    /// signed approval FILE. Two different officers' approvals are needed.
    Approve {
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operation exactly as the command that needs it prints it, e.g. "retire loans v1".
        #[arg(long)]
        operation: String,
        /// The platform's log origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// How long the approval stays valid (`10m`, `2h`; a bare number is seconds; 1m to 1d).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::duration::secs_in(60, 86_400))]
        valid_for: u64,
        /// The old spelling of --valid-for, in minutes.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=1440))]
        valid_mins: Option<u64>,
        /// Where to write the approval (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Change the query policy (platform side; committed with a receipt)
    ///
    /// The policy is part of the trust state that every checkpoint commits to. A setting left
    /// out keeps its current value. Two officers approve the new policy ("set policy
    /// max_skew_secs S max_token_lifetime_secs T max_consent_lifetime_secs C"; without
    /// approvals the command names it). Editing the `[policy]` table of credseal.toml by hand
    /// makes the platform refuse to open.
    SetPolicy(SetPolicyArgs),
}

/// `officer set-policy`.
#[derive(Args, Debug)]
pub(crate) struct SetPolicyArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// Clock skew tolerated at the start of validity windows (at most 10m).
    #[arg(long = "max-skew", alias = "max-skew-secs", value_name = "DURATION", value_parser = crate::duration::secs)]
    pub(crate) max_skew_secs: Option<u64>,
    /// Longest token lifetime accepted (1s to 1d).
    #[arg(long = "max-token-lifetime", alias = "max-token-lifetime-secs", value_name = "DURATION", value_parser = crate::duration::secs)]
    pub(crate) max_token_lifetime_secs: Option<u64>,
    /// An officer's approval (`officer approve`) of the new policy (the command prints the
    /// operation to approve when approvals are missing); two from different officers are
    /// needed.
    #[arg(long = "approval", value_name = "FILE")]
    pub(crate) approvals: Vec<std::path::PathBuf>,
    /// Print the result as JSON (docs/json.md).
    #[arg(long)]
    pub(crate) json: bool,
}

/// `staff` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum StaffCommand {
    /// Generate a responder's or officer's signing key (FILE, mode 0600) and public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Enrol a staff member's public key on the platform for one role, approved by two
    /// enrolled officers or by the authority's staff order; leaves a receipt.
    Enroll {
        #[command(flatten)]
        data: DataArg,
        /// `responder` (trace, audit) or `officer` (canary subjects, approvals). Data
        /// providers are enrolled by the authority's credential instead (`provider enroll`).
        #[arg(long, value_parser = ["responder", "officer"])]
        role: String,
        /// The staff member's id, e.g. `resp-li` (a-z, 0-9, '.', '_', '-').
        #[arg(long)]
        id: String,
        /// Their public key (FILE.pub from `staff keygen`).
        #[arg(long = "public-key", alias = "key", value_name = "FILE")]
        key: PathBuf,
        /// Re-enrol a key already enrolled under another id.
        #[arg(long)]
        replace: bool,
        #[command(flatten)]
        approval: StaffApprovalArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Remove a staff member of one role (every key enrolled under the id), approved like an
    /// enrolment; effective at once.
    Remove {
        #[command(flatten)]
        data: DataArg,
        /// `responder` or `officer`.
        #[arg(long, value_parser = ["responder", "officer"])]
        role: String,
        /// The staff member's id.
        #[arg(long)]
        id: String,
        #[command(flatten)]
        approval: StaffApprovalArgs,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// The authority signs a staff order: its signature stands in for two officers'
    /// approvals of one staff enrolment or removal (authority side).
    Order {
        /// The authority's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operation exactly as `staff enroll` / `staff remove` prints it, e.g.
        /// "remove officer off-wang".
        #[arg(long)]
        operation: String,
        /// The platform's log origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// How long the order stays valid (`1h`, `2d`; a bare number is seconds; 1m to 7d).
        #[arg(long, value_name = "DURATION", default_value = "1h", value_parser = crate::duration::secs_in(60, 7 * 86_400))]
        valid_for: u64,
        /// The old spelling of --valid-for, in minutes.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=10080))]
        valid_mins: Option<u64>,
        /// Where to write the order (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// An officer approves one destructive operation: the same as `officer approve`.
    Approve {
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The operation exactly as the command that needs it prints it, e.g. "retire loans v1".
        #[arg(long)]
        operation: String,
        /// The platform's log origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// How long the approval stays valid (`10m`, `2h`; a bare number is seconds; 1m to 1d).
        #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = crate::duration::secs_in(60, 86_400))]
        valid_for: u64,
        /// The old spelling of --valid-for, in minutes.
        #[arg(long, value_name = "N", hide = true, conflicts_with = "valid_for", value_parser = clap::value_parser!(u64).range(1..=1440))]
        valid_mins: Option<u64>,
        /// Where to write the approval (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// `provider` commands.
#[derive(Subcommand, Debug)]
pub(crate) enum ProviderCommand {
    /// Generate a provider's signing key (FILE, mode 0600) and public key (FILE.pub), for
    /// the authority's provider credential (`authority provider-credential`).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        #[command(flatten)]
        protect: KeyProtection,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Install the authority's provider credential on the platform (platform side): the
    /// provider's batches are then accepted for its classes and namespace.
    Enroll {
        #[command(flatten)]
        data: DataArg,
        /// The provider credential (`authority provider-credential`).
        #[arg(long, value_name = "FILE")]
        credential: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// Answer a subject's objection by upholding the record or deleting it, with the reason
    /// (sign with the provider's key; for a repair application, the authority's). A
    /// correction answers an objection by itself: ingest the corrected version instead.
    AnswerObjection {
        /// The provider's (or the authority's) signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The objection's id (32 hex digits, from `audit objections`).
        #[arg(long, value_name = "HEX")]
        objection: String,
        /// The reason for the outcome, for the subject.
        #[arg(long)]
        reason: String,
        /// `upheld` (the record stays as it is) or `deleted` (every version of the record is
        /// shredded; with --data, the operator's passphrase is needed).
        #[arg(long, default_value = "upheld", value_parser = ["upheld", "deleted"])]
        outcome: String,
        /// The platform's origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// Where to write the signed answer.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also deliver it to this platform.
        #[arg(long, value_name = "DIR")]
        data: Option<PathBuf>,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
    /// List the enrolled providers: id, classes, namespace, validity.
    List {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Sign a JSON Lines file of records as one batch for one platform (`ingest --batch`).
    SignBatch {
        /// The provider's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The provider's id, as its credential names it.
        #[arg(long, value_name = "ID")]
        provider: String,
        /// The platform's log origin.
        #[arg(long = "origin", alias = "audience", value_name = "ORIGIN", value_parser = clap::builder::NonEmptyStringValueParser::new())]
        audience: String,
        /// The JSON Lines records.
        #[arg(long, value_name = "FILE")]
        records: PathBuf,
        /// Where to write the batch (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Print the result as JSON (docs/json.md).
        #[arg(long)]
        json: bool,
    },
}

/// `credseal trace`.
#[derive(Args, Debug)]
pub(crate) struct TraceArgs {
    #[command(flatten)]
    pub(crate) data: DataArg,
    /// The responder's enrolled signing key.
    #[arg(long, value_name = "FILE")]
    pub(crate) key: PathBuf,
    /// The leaked material: JSON Lines, CSV, or a file written by `open --export`.
    pub(crate) file: PathBuf,
    /// The file's text encoding (gb18030, gbk, big5, shift_jis, utf-16le, …). Default: a
    /// byte-order mark, else UTF-8 when the file is valid UTF-8, else GB18030.
    #[arg(long, value_name = "LABEL")]
    pub(crate) encoding: Option<String>,
    /// Print the report as JSON.
    #[arg(long)]
    pub(crate) json: bool,
    /// Evaluate as of this Unix time (test builds only).
    #[arg(long, hide = true)]
    pub(crate) now: Option<u64>,
}

/// `canary` commands (security officers).
#[derive(Subcommand, Debug)]
pub(crate) enum CanaryCommand {
    /// Plant synthetic subjects whose every query is flagged and alerted (officer key).
    Plant {
        #[command(flatten)]
        data: DataArg,
        /// The officer's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// How many canary subjects to plant.
        #[arg(long, value_parser = clap::value_parser!(u32).range(1..=i64::from(credseal_engine::MAX_PLANT)))]
        count: u32,
        /// Also write the planted ids to FILE (mode 0600) for the officer; by default they
        /// are shown nowhere.
        #[arg(long, value_name = "FILE")]
        ids_out: Option<PathBuf>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
        /// Evaluate as of this Unix time (test builds only).
        #[arg(long, hide = true)]
        now: Option<u64>,
    },
}

/// `audit` commands (responders).
#[derive(Subcommand, Debug)]
pub(crate) enum AuditCommand {
    /// Every query that touched a canary subject.
    Alerts {
        #[command(flatten)]
        data: DataArg,
        /// The responder's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Per department and period: queries by purpose, class, outcome, subjects, denials;
    /// days far above the department's own baseline, denial spikes and bulk querying.
    Report {
        #[command(flatten)]
        data: DataArg,
        /// The responder's enrolled signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Only this department (default: every department with queries in the period).
        #[arg(long = "department", alias = "dept", value_name = "ID")]
        dept: Option<String>,
        /// First day, YYYY-MM-DD (UTC).
        #[arg(long = "since", alias = "from", value_name = "DATE")]
        from: String,
        /// Last day, YYYY-MM-DD (UTC), inclusive.
        #[arg(long = "until", alias = "to", value_name = "DATE")]
        to: String,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Evaluate as of this Unix time (test builds only).
        #[arg(long, hide = true)]
        now: Option<u64>,
    },
    /// Subjects' objections and repair applications by provider: open, answered, overdue.
    /// Each objection that became overdue gets a receipt in its subject's chain and raises
    /// an alert on stderr.
    Objections {
        #[command(flatten)]
        data: DataArg,
        /// Print as JSON.
        #[arg(long)]
        json: bool,
        /// Evaluate as of this Unix time (test builds only).
        #[arg(long, hide = true)]
        now: Option<u64>,
    },
}

/// How a keygen protects the secret key it writes.
#[derive(Args, Debug, Clone, Copy)]
pub(crate) struct KeyProtection {
    /// Write the secret key unencrypted (mode 0600 is then its only protection). By default
    /// it is encrypted with a passphrase (Argon2id, AES-256-GCM) from CREDSEAL_KEY_PASSPHRASE
    /// or asked for on the terminal; commands that read it ask for the same passphrase.
    #[arg(long)]
    pub(crate) unencrypted: bool,
}
