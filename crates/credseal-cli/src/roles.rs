//! The authority's, the departments' and the subjects' commands: keys, credentials,
//! revocations, query tokens, consents, self-queries, and opening sealed answers.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use clap::{Args, Subcommand};
use credseal_auth::{Consent, Credential, PublicKey, RevocationList, SelfQuery, SigningKey, Token, Unverified, sign};
use credseal_core::SubjectId;
use credseal_crypto::{SealingKey, SealingPublicKey};
use credseal_engine::{ErrorClass, QueryError, SealedAnswer, fsutil};

use crate::{CliResult, Failure, output};

fn now() -> CliResult<u64> {
    crate::now()
}

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

fn read(path: &Path) -> CliResult<String> {
    crate::read_text(path)
}

pub(crate) fn write_secret(path: &Path, text: &str) -> CliResult {
    fsutil::write_new(path, format!("{text}\n").as_bytes(), 0o600)?;
    Ok(())
}

pub(crate) fn write_public(path: &Path, text: &str) -> CliResult {
    fsutil::write_new(path, format!("{text}\n").as_bytes(), 0o644)?;
    Ok(())
}

fn signing_key(path: &Path) -> CliResult<SigningKey> {
    if fsutil::too_open(path) {
        eprintln!(
            "credseal: warning: {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
    SigningKey::from_text(&read(path)?).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

fn public_key(path: &Path) -> CliResult<PublicKey> {
    PublicKey::from_text(&read(path)?).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

fn sealing_key(path: &Path) -> CliResult<SealingKey> {
    if fsutil::too_open(path) {
        eprintln!(
            "credseal: warning: {} is readable by other users; chmod 600 it",
            path.display()
        );
    }
    SealingKey::from_text(&read(path)?).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

fn sealing_public(path: &Path) -> CliResult<SealingPublicKey> {
    SealingPublicKey::from_text(&read(path)?).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))
}

fn set(items: &str) -> BTreeSet<String> {
    items
        .split(',')
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
        .collect()
}

fn subject(s: &str) -> CliResult<SubjectId> {
    SubjectId::parse(s).map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))
}

fn pub_path(p: &Path) -> PathBuf {
    let mut s = p.as_os_str().to_os_string();
    s.push(".pub");
    PathBuf::from(s)
}

/// `authority` commands.
#[derive(Subcommand, Debug)]
pub enum AuthorityCommand {
    /// Generate the authority's signing key (FILE, mode 0600) and its public key (FILE.pub).
    Keygen {
        /// Where to write the secret key.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Make a platform trust this authority public key (platform side).
    Trust {
        #[command(flatten)]
        data: crate::DataArg,
        /// The authority's public key file.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Replace an authority key already trusted.
        #[arg(long)]
        replace: bool,
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
        /// Classes it may read, comma-separated.
        #[arg(long)]
        classes: String,
        /// Purposes it may query for, comma-separated.
        #[arg(long)]
        purposes: String,
        /// The platform's origin the credential is valid for.
        #[arg(long)]
        audience: String,
        /// Start of validity (Unix seconds; default now).
        #[arg(long)]
        not_before: Option<u64>,
        /// Days of validity.
        #[arg(long, default_value_t = 365)]
        days: u64,
        /// Where to write the credential.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
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
        #[arg(long)]
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
    },
    /// Install a signed revocation list into a platform (an older version is refused).
    Install {
        #[command(flatten)]
        data: crate::DataArg,
        /// The revocation list file.
        file: PathBuf,
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
        #[arg(long)]
        audience: String,
        /// Where to write the order (never overwritten).
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

/// `dept` commands.
#[derive(Subcommand, Debug)]
pub enum DeptCommand {
    /// Generate a department's signing and sealing keys in DIR.
    Keygen {
        /// Directory for signing.key, signing.pub, sealing.key, sealing.pub.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
    /// Sign a query token for one subject.
    Query(Box<TokenArgs>),
}

/// What a department's token asks for.
#[derive(Args, Debug)]
pub struct TokenArgs {
    /// The department's signing key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The department's credential.
    #[arg(long, value_name = "FILE")]
    credential: PathBuf,
    /// The subject's id.
    #[arg(long)]
    subject: String,
    /// Classes to read, comma-separated.
    #[arg(long)]
    classes: String,
    /// The legal purpose.
    #[arg(long)]
    purpose: String,
    /// Free-text legal basis (case number, contract, statute).
    #[arg(long, default_value = "")]
    legal_basis: String,
    /// The platform's origin.
    #[arg(long)]
    audience: String,
    /// The subject's consent, where a class needs it.
    #[arg(long, value_name = "FILE")]
    consent: Option<PathBuf>,
    /// Token lifetime in seconds.
    #[arg(long, default_value_t = 300)]
    ttl: u64,
    /// Issue time (Unix seconds; default now).
    #[arg(long)]
    issued_at: Option<u64>,
    /// Where to write the token.
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
}

/// `subject` commands.
#[derive(Subcommand, Debug)]
pub enum SubjectCommand {
    /// Generate a subject's signing and sealing keys in DIR.
    Keygen {
        /// Directory for signing.key, signing.pub, sealing.key, sealing.pub.
        #[arg(long, value_name = "DIR")]
        out_dir: PathBuf,
    },
    /// Register a subject's signing key with the platform, after checking who they are.
    Register {
        #[command(flatten)]
        data: crate::DataArg,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// The subject's signing public key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// Replace a key already registered.
        #[arg(long)]
        replace: bool,
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
        /// Days the consent is valid.
        #[arg(long, default_value_t = 30)]
        days: u64,
        /// How many queries it allows.
        #[arg(long, default_value_t = 1)]
        max_uses: u32,
        /// Issue time (Unix seconds; default now).
        #[arg(long)]
        issued_at: Option<u64>,
        /// Where to write the consent.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Sign a query for your own records.
    Query {
        /// The subject's signing key.
        #[arg(long, value_name = "FILE")]
        key: PathBuf,
        /// The subject's sealing public key (the answer is sealed to it).
        #[arg(long, value_name = "FILE")]
        sealing_key: PathBuf,
        /// The subject's id.
        #[arg(long)]
        subject: String,
        /// Classes, comma-separated (default: all of them, given with --all-classes-of).
        #[arg(long)]
        classes: String,
        /// The platform's origin.
        #[arg(long)]
        audience: String,
        /// Lifetime in seconds.
        #[arg(long, default_value_t = 300)]
        ttl: u64,
        /// Where to write the query.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
}

fn keypair_dir(dir: &Path) -> CliResult {
    std::fs::create_dir_all(dir).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", dir.display())))?;
    let sk = SigningKey::generate();
    let seal = SealingKey::generate();
    write_secret(&dir.join("signing.key"), &sk.to_text())?;
    write_public(&dir.join("signing.pub"), &sk.public().to_text())?;
    write_secret(&dir.join("sealing.key"), &seal.to_text())?;
    write_public(&dir.join("sealing.pub"), &seal.public().to_text())?;
    println!("wrote {}/{{signing,sealing}}.{{key,pub}}", dir.display());
    Ok(())
}

fn random16() -> [u8; 16] {
    credseal_crypto::random_array()
}

pub fn authority(cmd: AuthorityCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        AuthorityCommand::Keygen { out } => {
            let sk = SigningKey::generate();
            write_secret(&out, &sk.to_text())?;
            write_public(&pub_path(&out), &sk.public().to_text())?;
            println!("{}", sk.public().to_text());
            Ok(())
        }
        AuthorityCommand::Trust { data, key, replace } => {
            let pk = public_key(&key)?;
            let p = crate::open_platform(demo, pf, &data.data)?;
            p.set_authority_key(&crate::session(&p)?, pk.as_bytes(), replace)?;
            println!("platform {} trusts authority key {}", p.origin(), pk.to_hex());
            Ok(())
        }
        AuthorityCommand::Enroll {
            key,
            serial,
            department,
            name,
            signing_key: dept_signing,
            sealing_key: dept_sealing,
            classes,
            purposes,
            audience,
            not_before,
            days,
            out,
        } => {
            let sk = signing_key(&key)?;
            let nb = match not_before {
                Some(t) => t,
                None => now()?,
            };
            let cred = Credential {
                serial,
                department_id: department,
                department_name: name,
                signing_key: public_key(&dept_signing)?,
                sealing_key: sealing_public(&dept_sealing)?.to_bytes(),
                classes: set(&classes),
                purposes: set(&purposes),
                not_before: nb,
                not_after: nb.saturating_add(days.saturating_mul(86_400)),
                audience,
            };
            write_public(&out, &sign(&cred, &sk).to_text())?;
            println!(
                "credential {serial} for {} written to {}",
                cred.department_id,
                out.display()
            );
            Ok(())
        }
        AuthorityCommand::Revoke {
            key,
            serial,
            audience,
            previous,
            out,
            data,
        } => {
            let sk = signing_key(&key)?;
            let mut list = match &previous {
                Some(f) => {
                    let u = Unverified::<RevocationList>::parse_text(read(f)?.trim())
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", f.display())))?;
                    u.verify(&sk.public())
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", f.display())))?
                        .into_body()
                }
                None => RevocationList {
                    version: 0,
                    issued_at: 0,
                    audience: audience.clone(),
                    revoked: Default::default(),
                },
            };
            list.version += 1;
            list.issued_at = now()?;
            list.audience = audience;
            list.revoked.insert(serial, list.issued_at);
            let text = sign(&list, &sk).to_text();
            write_public(&out, &text)?;
            println!("revocation list version {} written to {}", list.version, out.display());
            if let Some(d) = data {
                let p = crate::open_platform(demo, pf, &d)?;
                let v = p
                    .install_revocations(&crate::session(&p)?, &text)
                    .map_err(query_failure)?;
                println!("installed revocation list version {v} in {}", d.display());
            }
            Ok(())
        }
        AuthorityCommand::OrderShred {
            key,
            subject,
            class,
            record,
            reference,
            audience,
            out,
        } => {
            let sk = signing_key(&key)?;
            let id = credseal_core::SubjectId::parse(&subject)
                .map_err(|e| fail(ErrorClass::Usage, format!("--subject: {e}")))?;
            if !credseal_core::valid_record_id(&record) {
                return Err(fail(ErrorClass::Usage, "--record: 1 to 128 of A-Z a-z 0-9 . _ : / -"));
            }
            if !credseal_engine::valid_order_reference(&reference) {
                return Err(fail(ErrorClass::Usage, "--ref: 1 to 64 of A-Z a-z 0-9 . _ : / -"));
            }
            if class.is_empty() {
                return Err(fail(ErrorClass::Usage, "--class: empty"));
            }
            let order = credseal_auth::ShredOrder {
                reference,
                subject: id.to_string(),
                class,
                record_id: record,
                issued_at: now()?,
                audience,
            };
            write_public(&out, &sign(&order, &sk).to_text())?;
            println!(
                "shred order {} ({} record {}) written to {}",
                order.reference,
                order.class,
                order.record_id,
                out.display()
            );
            Ok(())
        }
        AuthorityCommand::Install { data, file } => {
            let p = crate::open_platform(demo, pf, &data.data)?;
            let v = p
                .install_revocations(&crate::session(&p)?, &read(&file)?)
                .map_err(query_failure)?;
            println!("installed revocation list version {v}");
            Ok(())
        }
    }
}

pub fn dept(cmd: DeptCommand) -> CliResult {
    match cmd {
        DeptCommand::Keygen { out_dir } => keypair_dir(&out_dir),
        DeptCommand::Query(a) => {
            let sk = signing_key(&a.key)?;
            let cred = Unverified::<Credential>::parse_text(read(&a.credential)?.trim())
                .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", a.credential.display())))?
                .peek_unverified()
                .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", a.credential.display())))?;
            let consent = match &a.consent {
                Some(f) => Some(
                    Unverified::<Consent>::parse_text(read(f)?.trim())
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", f.display())))?
                        .as_bytes()
                        .to_vec(),
                ),
                None => None,
            };
            let issued_at = match a.issued_at {
                Some(t) => t,
                None => now()?,
            };
            let token = Token {
                query_id: random16(),
                credential_serial: cred.serial,
                subject: subject(&a.subject)?.to_string(),
                classes: set(&a.classes),
                purpose: a.purpose,
                legal_basis: a.legal_basis,
                issued_at,
                expires_at: issued_at.saturating_add(a.ttl),
                audience: a.audience,
                consent,
            };
            write_public(&a.out, &sign(&token, &sk).to_text())?;
            println!("query token written to {}", a.out.display());
            Ok(())
        }
    }
}

pub fn subject_cmd(cmd: SubjectCommand, demo: bool, pf: Option<&Path>) -> CliResult {
    match cmd {
        SubjectCommand::Keygen { out_dir } => keypair_dir(&out_dir),
        SubjectCommand::Register {
            data,
            subject: s,
            key,
            replace,
        } => {
            let id = subject(&s)?;
            let pk = public_key(&key)?;
            let p = crate::open_platform(demo, pf, &data.data)?;
            p.register_subject_key(&crate::session(&p)?, &id, pk.as_bytes(), replace)?;
            println!("registered the subject's key {}", pk.to_hex());
            Ok(())
        }
        SubjectCommand::Consent {
            key,
            subject: s,
            department,
            classes,
            purpose,
            days,
            max_uses,
            issued_at,
            out,
        } => {
            let sk = signing_key(&key)?;
            let issued_at = match issued_at {
                Some(t) => t,
                None => now()?,
            };
            let c = Consent {
                consent_id: random16(),
                subject: subject(&s)?.to_string(),
                subject_key: sk.public(),
                department_id: department,
                classes: set(&classes),
                purpose,
                issued_at,
                expires_at: issued_at.saturating_add(days.saturating_mul(86_400)),
                max_uses,
            };
            write_public(&out, &sign(&c, &sk).to_text())?;
            println!("consent written to {}", out.display());
            Ok(())
        }
        SubjectCommand::Query {
            key,
            sealing_key,
            subject: s,
            classes,
            audience,
            ttl,
            out,
        } => {
            let sk = signing_key(&key)?;
            let issued_at = now()?;
            let q = SelfQuery {
                query_id: random16(),
                subject: subject(&s)?.to_string(),
                classes: set(&classes),
                issued_at,
                expires_at: issued_at.saturating_add(ttl),
                audience,
                sealing_key: sealing_public(&sealing_key)?.to_bytes(),
            };
            write_public(&out, &sign(&q, &sk).to_text())?;
            println!("self-query written to {}", out.display());
            Ok(())
        }
    }
}

pub(crate) fn query_failure(e: QueryError) -> Failure {
    let class = e.class();
    match e {
        QueryError::Denied(d) => Failure::new(class, format!("access denied ({}): {d}", d.code())),
        QueryError::Failed(e) => e.into(),
    }
}

/// `credseal query`: the platform runs a token and writes the sealed answer.
#[derive(Args, Debug)]
pub struct QueryArgs {
    #[command(flatten)]
    data: crate::DataArg,
    /// The department's credential.
    #[arg(long, value_name = "FILE", requires = "token", conflicts_with = "self_query")]
    credential: Option<PathBuf>,
    /// The department's query token.
    #[arg(long, value_name = "FILE", requires = "credential")]
    token: Option<PathBuf>,
    /// A subject's self-query instead of a department's token.
    #[arg(long, value_name = "FILE")]
    self_query: Option<PathBuf>,
    /// Where to write the sealed answer (must not exist).
    #[arg(long, value_name = "FILE")]
    out: PathBuf,
    /// Evaluate as of this Unix time. Test builds only: a release build refuses it, since it
    /// would let an operator accept expired tokens.
    #[arg(long, hide = true)]
    now: Option<u64>,
}

pub fn query(a: QueryArgs, demo: bool, pf: Option<&Path>) -> CliResult {
    let p = crate::open_platform(demo, pf, &a.data.data)?;
    // DESIGN §9: a query touching a canary subject raises an alert at once.
    p.set_alert_sink(std::sync::Arc::new(|al: &credseal_engine::CanaryAlert| {
        eprintln!(
            "credseal: ALERT: a query by {} (credential {}) for {} touched a canary subject: receipt {}, {}",
            al.department,
            al.credential_serial.map_or("-".into(), |s| s.to_string()),
            al.purpose,
            al.receipt,
            al.outcome
        );
    }));
    if a.now.is_some() && !cfg!(debug_assertions) {
        return Err(fail(ErrorClass::Usage, "--now is only available in test builds"));
    }
    let now = match a.now {
        Some(t) => t,
        None => now()?,
    };
    let answer = match (&a.credential, &a.token, &a.self_query) {
        (Some(c), Some(t), None) => p.query(&read(c)?, &read(t)?, now),
        (None, None, Some(q)) => p.self_query(&read(q)?, now),
        _ => {
            return Err(fail(
                ErrorClass::Usage,
                "give --credential and --token, or --self-query",
            ));
        }
    }
    .map_err(query_failure)?;
    write_public(&a.out, &answer.to_text())?;
    println!(
        "sealed answer to query {} written to {}",
        credseal_core::hex(&answer.query_id),
        a.out.display()
    );
    Ok(())
}

/// `credseal open`: the requester opens a sealed answer.
#[derive(Args, Debug)]
pub struct OpenArgs {
    /// The requester's sealing (private) key.
    #[arg(long, value_name = "FILE")]
    key: PathBuf,
    /// The sealed answer.
    answer: PathBuf,
    /// Print as JSON.
    #[arg(long)]
    json: bool,
    /// Write the records to FILE instead (`.csv` or `.json`, mode 0600, never overwritten),
    /// marked with the disclosure id so that a leaked copy traces straight back to it.
    #[arg(long, value_name = "FILE")]
    export: Option<PathBuf>,
}

pub fn open(a: OpenArgs) -> CliResult {
    let key = sealing_key(&a.key)?;
    let answer = SealedAnswer::from_text(&read(&a.answer)?)?;
    let body = answer.open(&key)?;
    match &a.export {
        None => output::answer(&body, a.json),
        Some(path) => {
            let index = credseal_log::UnverifiedReceipt::parse(&answer.receipt)
                .and_then(|r| r.peek_unverified())
                .map_err(|e| fail(ErrorClass::Verification, format!("the answer's receipt: {e}")))?
                .index;
            let n = crate::export::write(path, &body, index)?;
            println!("exported {n} record(s) of disclosure {index} to {}", path.display());
        }
    }
    Ok(())
}
