//! `credseal bench query`: authorized queries through the platform's gate against the floor
//! of the same cryptography on the same threads, measured before and after ours.

use std::path::Path;
use std::time::Instant;

use credseal_core::{BlindId, SubjectId};
use credseal_crypto::{DekContext, RecordContext};
use credseal_engine::bundle::{Bundle, SubjectRecords};
use credseal_engine::{DEFAULT_OPERATOR, PendingAnswer, Platform, Progress, QueryError};
use credseal_store::{Store, Tree};
use serde::Serialize;

pub(crate) use crate::common::percentile;
use crate::common::{BENCH_ORIGIN, BenchPlatform, bench_passphrase, now, parse_catalog, write_input};
use crate::error::{BenchError, Result};

/// Results of `bench query`.
#[derive(Clone, Debug, Serialize)]
pub struct QueryBench {
    /// Subjects in the store.
    pub subjects: u64,
    /// Queries run.
    pub queries: u64,
    /// Threads.
    pub threads: u64,
    /// Queries each thread keeps in flight (started, receipt not yet durable).
    pub in_flight: u64,
    /// Classes granted per query.
    pub classes_per_query: u64,
    /// Records released per query, on average.
    pub records_per_query: f64,
    /// Seconds for all queries.
    pub seconds: f64,
    /// Granted queries per second.
    pub queries_per_s: f64,
    /// Median latency, microseconds.
    pub p50_us: f64,
    /// 99th percentile latency, microseconds.
    pub p99_us: f64,
    /// Seconds of the floor: per query one strict Ed25519 verify, the DEK unwraps, the record
    /// decrypts, one HPKE seal, one receipt signature and its leaf hashes, on the same
    /// number of threads. The mean of two runs, one just before ours and one just after.
    pub floor_seconds: f64,
    /// The floor's run before ours, seconds.
    pub floor_seconds_before: f64,
    /// The floor's run after ours, seconds.
    pub floor_seconds_after: f64,
    /// Floor queries per second.
    pub floor_queries_per_s: f64,
    /// floor_seconds / seconds.
    pub ratio_to_floor: f64,
    /// Receipts per group commit (flush + checkpoint), mean.
    pub commit_batch_mean: f64,
    /// Largest group commit seen.
    pub commit_batch_max: usize,
    /// Group commits.
    pub commits: usize,
    /// On-CPU microseconds per query of our threads (the query threads, with the group
    /// commits they lead, and the closing map write); `None` where the kernel does not report
    /// per-thread CPU time. Unlike wall time, this does not count time the machine's other
    /// work took from us; sled's own background threads are not in it.
    pub cpu_us_per_query: Option<f64>,
    /// On-CPU microseconds per query of the floor's threads (mean of its two runs).
    pub floor_cpu_us_per_query: Option<f64>,
    /// floor_cpu_us_per_query / cpu_us_per_query: the ratio with the machine's noise taken
    /// out. `ratio_to_floor` stays the figure that counts.
    pub cpu_ratio_to_floor: Option<f64>,
    /// Microseconds per query spent on the subject map in the group commits:
    /// looking up each subject's head (its map value) and reading and re-hashing the updated
    /// paths, measured inside the commits, plus the closing write of the changed nodes. Not in
    /// the floor, which stays the irreducible work without our logic.
    pub map_us_per_query: f64,
}

/// On-CPU nanoseconds of the calling thread so far (Linux: the first field of
/// `/proc/thread-self/schedstat`); `None` where the kernel does not tell.
pub(crate) fn thread_cpu_ns() -> Option<u64> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    s.split_whitespace().next()?.parse().ok()
}

/// On-CPU nanoseconds `f` took on the calling thread, with its result.
fn with_thread_cpu<T>(f: impl FnOnce() -> T) -> (T, Option<u64>) {
    let start = thread_cpu_ns();
    let out = f();
    let cpu = start.zip(thread_cpu_ns()).map(|(a, b)| b.saturating_sub(a));
    (out, cpu)
}

/// The sum of the threads' CPU times, `None` if any is unknown.
fn total_cpu(parts: impl IntoIterator<Item = Option<u64>>) -> Option<u64> {
    parts.into_iter().try_fold(0u64, |a, c| Some(a.saturating_add(c?)))
}

/// The size of a [`bench_query`] run.
#[derive(Clone, Copy, Debug)]
pub struct QuerySize {
    /// Synthetic subjects in the store.
    pub subjects: u64,
    /// Granted queries to run.
    pub queries: u64,
    /// Threads running them (and the floor).
    pub threads: u64,
    /// Queries each thread keeps in flight: it submits the next query while earlier
    /// receipts wait for their group commit, and releases each answer only once its
    /// receipt is durable (`Platform::submit_query`). 1: one query at a time.
    pub in_flight: u64,
}

/// A platform of synthetic subjects and one department allowed to query it: what
/// `bench query` and `bench serve` both start from.
pub(crate) struct QueryFixture {
    /// The platform and the bench's own handles on its store and keys.
    pub(crate) b: BenchPlatform,
    /// Synthetic subjects ingested.
    pub(crate) subjects: u64,
    /// The purpose of every query.
    pub(crate) purpose: String,
    /// The classes every query asks for: those of `purpose` that need no consent.
    pub(crate) classes: std::collections::BTreeSet<String>,
    /// The department's signing key.
    dept: credseal_auth::SigningKey,
    /// The department's answer-sealing key.
    sealing: credseal_crypto::SealingKey,
    /// The department's credential (text form), signed by the bench's authority.
    pub(crate) cred: String,
    /// The time the fixture was made (Unix seconds).
    pub(crate) now: u64,
}

impl QueryFixture {
    /// `subjects` synthetic subjects ingested into a fresh platform in `work/platform`, an
    /// authority the platform trusts, and a department credential (valid for a day) for the
    /// classes of one purpose that need no consent (consent is measured apart).
    pub(crate) fn new(catalog_text: &str, subjects: u64, work: &Path, progress: &dyn Progress) -> Result<Self> {
        use credseal_auth::{Credential, SigningKey, sign};
        let catalog = parse_catalog(catalog_text)?;
        // A purpose and the classes without consent that allow it.
        let mut best: (String, Vec<String>) = (String::new(), Vec::new());
        for p in catalog.purposes.keys() {
            let cls: Vec<String> = catalog
                .classes
                .values()
                .filter(|c| !c.consent_required && c.purposes.contains(p))
                .map(|c| c.id.clone())
                .collect();
            if cls.len() > best.1.len() {
                best = (p.clone(), cls);
            }
        }
        let (purpose, classes) = best;
        if classes.is_empty() {
            return Err(BenchError::Input(
                "the catalogue has no class a query without consent can read".into(),
            ));
        }
        let input = work.join("input.jsonl");
        write_input(&catalog, subjects, &input)?;
        // HSM custody (`CREDSEAL_BENCH_PKCS11_MODULE`, `…_LABEL`, the PIN in
        // `CREDSEAL_PKCS11_PIN`): the platform's keys in the token, the floor signing its
        // receipts in the same token.
        let (pass, token) = match (
            std::env::var_os("CREDSEAL_BENCH_PKCS11_MODULE"),
            std::env::var("CREDSEAL_BENCH_PKCS11_LABEL"),
        ) {
            (Some(module), Ok(label)) => {
                let pin = std::env::var("CREDSEAL_PKCS11_PIN")
                    .map_err(|_| BenchError::Input("CREDSEAL_BENCH_PKCS11_MODULE needs CREDSEAL_PKCS11_PIN".into()))?;
                (
                    credseal_crypto::Passphrase::token_pin(pin),
                    Some(credseal_engine::Pkcs11Config {
                        module: module.into(),
                        token_label: label,
                    }),
                )
            }
            _ => (bench_passphrase(), None),
        };
        let b = BenchPlatform::init_with(&work.join("platform"), &pass, catalog_text, token)?;
        let p = &b.platform;
        p.ingest_file(&input, progress)?;
        let authority = SigningKey::generate();
        p.set_authority_key(
            &p.staff_session(DEFAULT_OPERATOR)?,
            authority.public().as_bytes(),
            false,
        )?;
        let dept = SigningKey::generate();
        let sealing = credseal_crypto::SealingKey::generate();
        let now = now()?;
        let classes: std::collections::BTreeSet<String> = classes.into_iter().collect();
        let cred = sign(
            &Credential {
                serial: 1,
                department_id: "bench-dept".into(),
                department_name: "Bench".into(),
                signing_key: dept.public(),
                sealing_key: sealing.public().to_bytes(),
                classes: classes.clone(),
                purposes: [purpose.clone()].into_iter().collect(),
                not_before: now - 60,
                not_after: now + 86_400,
                audience: BENCH_ORIGIN.into(),
            },
            &authority,
        )
        .to_text();
        Ok(Self {
            b,
            subjects,
            purpose,
            classes,
            dept,
            sealing,
            cred,
            now,
        })
    }

    /// `n` tokens of the department, each with a fresh query id, for subjects `first`,
    /// `first + 1`, … (modulo the number of subjects), issued `issued_at` and valid for
    /// `lifetime` seconds.
    pub(crate) fn sign_tokens(
        &self,
        first: u64,
        n: u64,
        issued_at: u64,
        lifetime: u64,
        progress: &dyn Progress,
    ) -> Vec<String> {
        use credseal_auth::{Token, sign};
        progress.stage("signing tokens", n);
        let tokens = (first..first + n)
            .map(|i| {
                progress.advance(1);
                sign(
                    &Token {
                        query_id: credseal_crypto::random_array(),
                        credential_serial: 1,
                        subject: credseal_testkit::synthetic::synthetic_subject(i % self.subjects).to_string(),
                        classes: self.classes.clone(),
                        purpose: self.purpose.clone(),
                        legal_basis: "benchmark".into(),
                        issued_at,
                        expires_at: issued_at + lifetime,
                        audience: BENCH_ORIGIN.into(),
                        consent: None,
                    },
                    &self.dept,
                )
                .to_text()
            })
            .collect();
        progress.finish();
        tokens
    }
}

/// The floor's inputs for one query, untimed: the token's signed bytes and signature, the
/// wrapped DEKs and sealed records of the granted classes.
struct FloorItem {
    msg: Vec<u8>,
    sig: [u8; 64],
    blind: BlindId,
    bundles: Vec<(String, Bundle)>,
}

/// The floor of a granted query: per query one strict Ed25519 verify, the DEK unwraps, the
/// record decrypts, one HPKE seal, one receipt signature and its leaf hashes, without any
/// of the platform's logic.
pub(crate) struct QueryFloor<'a> {
    items: Vec<FloorItem>,
    /// Records the queries release, in all.
    pub(crate) records: usize,
    keys: &'a credseal_crypto::Keystore,
    /// The floor's own KEK when the platform's are in a token.
    floor_kek: credseal_crypto::Kek,
    dept_pk: credseal_auth::PublicKey,
    recipient: credseal_crypto::SealingPublicKey,
    signer: credseal_log::LogSigner,
    receipt_body: credseal_log::ReceiptBody,
}

impl<'a> QueryFloor<'a> {
    /// The floor of the queries of `tokens` (the fixture's department's), read from the
    /// fixture's store as a test would.
    pub(crate) fn new(fx: &'a QueryFixture, tokens: &[String]) -> Result<Self> {
        use credseal_auth::Token;
        let b = &fx.b;
        let mut items = Vec::with_capacity(tokens.len());
        let mut records = 0usize;
        let floor_kek = credseal_crypto::Kek::generate();
        for tok in tokens {
            let u = credseal_auth::Unverified::<Token>::parse_text(tok)
                .map_err(|e| BenchError::check(format_args!("token: {e}")))?;
            let bytes = u.as_bytes();
            let sig: [u8; 64] = bytes[bytes.len() - 64..]
                .try_into()
                .map_err(|_| BenchError::check("token: no signature"))?;
            let body = u
                .peek_unverified()
                .map_err(|e| BenchError::check(format_args!("token: {e}")))?;
            let body_bytes = postcard::to_stdvec(&body).map_err(|e| BenchError::check(format_args!("token: {e}")))?;
            let subject =
                SubjectId::parse(&body.subject).map_err(|e| BenchError::check(format_args!("token subject: {e}")))?;
            // The subject's stored records, read from the store as a test would.
            let blind = b.platform.blind(&subject)?;
            let recs = match b
                .store
                .get(Tree::Records, &credseal_engine::layout::subject_key(&blind))?
            {
                Some(v) => SubjectRecords::decode(&v).map_err(|e| {
                    BenchError::check(format_args!("records of subject {}: {e}", &blind.to_hex()[..16]))
                })?,
                None => SubjectRecords::default(),
            };
            // The floor unwraps each data key once with a key in hand: its copy of each
            // bundle holds the data key wrapped by the class's KEK directly (the key tree's
            // leaf keys are the platform's, cached; the floor's unwrap costs what one
            // unwrap with a cached key costs, plus the KEK's HKDF).
            let mut bundles = Vec::new();
            for c in &fx.classes {
                let Some(bundle) = recs.classes.get(c) else { continue };
                let store: std::sync::Arc<dyn Store> = b.store.clone();
                let dek = credseal_engine::open_data_key(store, &b.keys, &blind, c, &bundle.wrapped_dek)
                    .map_err(|e| BenchError::check(format_args!("data key: {e}")))?;
                // In HSM custody the floor's copy uses a software KEK of its own (the
                // platform's leaf keys are cached: a query makes no token call for them).
                let (v, kek) = match b.keys.primary_kek(c) {
                    Some(k) => k,
                    None => (1, &floor_kek),
                };
                let mut copy = bundle.clone();
                copy.wrapped_dek = credseal_crypto::wrap_dek(
                    kek,
                    v,
                    &DekContext {
                        blind: &blind,
                        class: c,
                    },
                    &dek,
                );
                bundles.push((c.clone(), copy));
            }
            records += bundles.iter().map(|(_, b)| b.entries.len()).sum::<usize>();
            items.push(FloorItem {
                msg: credseal_auth::signed_bytes(credseal_auth::Kind::Token, &body_bytes),
                sig,
                blind,
                bundles,
            });
        }
        // The floor signs with the platform's log key, from the bench's copy of the keystore.
        // (In HSM custody: in the token, as the platform's receipts are.)
        let signer = credseal_engine::log_signer(&b.keys, BENCH_ORIGIN)?;
        let receipt_body = credseal_log::ReceiptBody {
            index: 0,
            time: fx.now,
            actor: credseal_log::Actor::Department {
                id: "bench-dept".into(),
                credential_serial: 1,
            },
            action: credseal_log::Action::Query,
            detail: String::new(),
            subject: Some(items.first().map(|i| i.blind).unwrap_or(BlindId([0; 32]))),
            classes: fx.classes.clone(),
            purpose: fx.purpose.clone(),
            token_hash: Some([1; 32]),
            outcome: credseal_log::Outcome::Granted,
            release_digest: Some([2; 32]),
            salt: [3; 16],
            chain: Some(credseal_log::Chain {
                counter: 2,
                prev: Some([4; 32]),
            }),
            disclose_after: None,
            flags: 0,
        };
        Ok(Self {
            items,
            records,
            keys: &b.keys,
            floor_kek,
            dept_pk: fx.dept.public(),
            recipient: fx.sealing.public(),
            signer,
            receipt_body,
        })
    }

    /// Queries in the floor.
    pub(crate) fn queries(&self) -> usize {
        self.items.len()
    }

    /// Runs the floor on `threads` threads: wall seconds and the threads' CPU nanoseconds.
    pub(crate) fn run(&self, threads: u64) -> (f64, Option<u64>) {
        let per = self.items.len().div_ceil(threads.max(1) as usize).max(1);
        let t = Instant::now();
        let cpu = std::thread::scope(|s| {
            let handles: Vec<_> = self
                .items
                .chunks(per)
                .map(|chunk| {
                    s.spawn(move || {
                        with_thread_cpu(|| {
                            // The floor's share of the log: one receipt signature and its leaf hashes.
                            let mut tree = credseal_c2sp::MemoryLog::new();
                            for it in chunk {
                                if let Ok(r) = self.signer.sign_receipt(&self.receipt_body) {
                                    tree.append(r.as_bytes());
                                }
                                let ok = credseal_auth::verify_raw_strict(self.dept_pk.as_bytes(), &it.msg, &it.sig);
                                std::hint::black_box(ok);
                                let mut out = Vec::new();
                                for (class, b) in &it.bundles {
                                    if let Some(dek) =
                                        floor_unwrap(self.keys, &self.floor_kek, &it.blind, class, &b.wrapped_dek)
                                    {
                                        for e in &b.entries {
                                            let ctx = RecordContext {
                                                blind: &it.blind,
                                                class,
                                                record_key: &e.rkey,
                                                version: e.version,
                                            };
                                            if let Ok(pt) = credseal_crypto::open_record(&dek, &ctx, &e.sealed) {
                                                out.extend_from_slice(&pt);
                                            }
                                        }
                                    }
                                }
                                let _ =
                                    std::hint::black_box(credseal_crypto::seal(&self.recipient, b"floor", &[], &out));
                            }
                        })
                        .1
                    })
                })
                .collect();
            total_cpu(handles.into_iter().map(|h| h.join().ok().flatten()))
        });
        (t.elapsed().as_secs_f64(), cpu)
    }
}

/// One run of "ours" (see [`run_pipeline`]).
pub(crate) struct PipelineRun {
    /// Wall seconds, the closing map write included.
    pub(crate) seconds: f64,
    /// Wall seconds of the closing map write.
    pub(crate) persist_seconds: f64,
    /// Each query's latency (submitted to answer released), microseconds, sorted.
    pub(crate) latencies_us: Vec<f64>,
    /// On-CPU nanoseconds of the query threads and the closing map write; `None` where the
    /// kernel does not tell.
    pub(crate) cpu_ns: Option<u64>,
}

/// Runs the queries of `tokens` (the department `cred`'s, each used once) through the
/// platform as `bench query` measures "ours": `threads` threads, each keeping `in_flight`
/// queries under way (`Platform::submit_query`, then `PendingAnswer::wait`, so an answer is
/// released only once its receipt is durable), then the subject map's changed nodes
/// written, inside the timed run (deferred work is still work: docs/formats.md, "Subject
/// map"). Any query not answered fails the run.
pub(crate) fn run_pipeline(
    p: &Platform,
    cred: &str,
    tokens: &[String],
    now: u64,
    threads: u64,
    in_flight: usize,
) -> Result<PipelineRun> {
    let in_flight = in_flight.max(1);
    let per = tokens.len().div_ceil(threads.max(1) as usize).max(1);
    let t = Instant::now();
    let results: Vec<(Result<Vec<f64>>, Option<u64>)> = std::thread::scope(|s| {
        let handles: Vec<_> = tokens
            .chunks(per)
            .map(|chunk| {
                s.spawn(move || {
                    with_thread_cpu(|| -> Result<Vec<f64>> {
                        let failed = |e: QueryError| BenchError::check(format_args!("bench query failed: {e}"));
                        let mut lat = Vec::with_capacity(chunk.len());
                        let mut pending = std::collections::VecDeque::with_capacity(in_flight);
                        for tok in chunk {
                            if pending.len() >= in_flight {
                                let (q, a): (Instant, PendingAnswer<'_>) = pending
                                    .pop_front()
                                    .ok_or_else(|| BenchError::check("no query in flight"))?;
                                a.wait().map_err(failed)?;
                                lat.push(q.elapsed().as_secs_f64() * 1e6);
                            }
                            let q = Instant::now();
                            pending.push_back((q, p.submit_query(cred, tok, now).map_err(failed)?));
                        }
                        for (q, a) in pending {
                            a.wait().map_err(failed)?;
                            lat.push(q.elapsed().as_secs_f64() * 1e6);
                        }
                        Ok(lat)
                    })
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| {
                h.join()
                    .unwrap_or_else(|_| (Err(BenchError::check("a bench thread panicked")), None))
            })
            .collect()
    });
    let persist = Instant::now();
    let (persisted, persist_cpu) = with_thread_cpu(|| p.persist_map());
    persisted?;
    let persist_seconds = persist.elapsed().as_secs_f64();
    let seconds = t.elapsed().as_secs_f64();
    let mut lat = Vec::with_capacity(tokens.len());
    let mut cpus = vec![persist_cpu];
    for (r, cpu) in results {
        lat.extend(r?);
        cpus.push(cpu);
    }
    lat.sort_by(f64::total_cmp);
    Ok(PipelineRun {
        seconds,
        persist_seconds,
        latencies_us: lat,
        cpu_ns: total_cpu(cpus),
    })
}

/// Runs the query benchmark in `work` (a fresh, empty directory): `size.subjects` synthetic
/// subjects ingested, then `size.queries` granted queries of one department over the
/// classes of one purpose that need no consent.
pub fn bench_query(catalog_text: &str, size: QuerySize, work: &Path, progress: &dyn Progress) -> Result<QueryBench> {
    let QuerySize {
        subjects,
        queries,
        threads,
        in_flight,
    } = size;
    let in_flight = in_flight.max(1) as usize;
    let fx = QueryFixture::new(catalog_text, subjects, work, progress)?;
    let p = &fx.b.platform;
    let now = fx.now;
    let cred = &fx.cred;
    // Tokens are signed by the department before the clock starts.
    let tokens = fx.sign_tokens(0, queries, now, 600, progress);
    let floor = QueryFloor::new(&fx, &tokens)?;
    let records = floor.records;
    let run_floor = || floor.run(threads);
    let (floor_before, floor_cpu_before) = run_floor();
    // Ours.
    let map_before = p.map_update_seconds();
    let run = run_pipeline(p, cred, &tokens, now, threads, in_flight)?;
    let seconds = run.seconds;
    let map_seconds = p.map_update_seconds() - map_before + run.persist_seconds;
    let cpu = run.cpu_ns;
    let lat = run.latencies_us;
    // The floor again, after ours: the mean of the two brackets the run (the machine's
    // speed drifts over seconds).
    let (floor_after, floor_cpu_after) = run_floor();
    let floor_seconds = (floor_before + floor_after) / 2.0;
    let floor_cpu = total_cpu([floor_cpu_before, floor_cpu_after]).map(|c| c / 2);
    let stats = p.commit_stats();
    let q = queries as f64;
    Ok(QueryBench {
        subjects,
        queries,
        threads,
        in_flight: in_flight as u64,
        classes_per_query: fx.classes.len() as u64,
        records_per_query: records as f64 / q,
        seconds,
        queries_per_s: q / seconds,
        p50_us: percentile(&lat, 0.50),
        p99_us: percentile(&lat, 0.99),
        floor_seconds,
        floor_seconds_before: floor_before,
        floor_seconds_after: floor_after,
        floor_queries_per_s: q / floor_seconds,
        ratio_to_floor: floor_seconds / seconds,
        commit_batch_mean: if stats.commits == 0 {
            0.0
        } else {
            stats.receipts as f64 / stats.commits as f64
        },
        commit_batch_max: stats.max_batch,
        commits: stats.commits as usize,
        cpu_us_per_query: cpu.map(|c| c as f64 / 1e3 / q),
        floor_cpu_us_per_query: floor_cpu.map(|c| c as f64 / 1e3 / q),
        cpu_ratio_to_floor: floor_cpu.zip(cpu).map(|(f, o)| f as f64 / (o as f64).max(1.0)),
        map_us_per_query: map_seconds * 1e6 / q,
    })
}

/// The floor's unwrap of a data key: the KEK version its header names, from the keystore.
fn floor_unwrap(
    keys: &credseal_crypto::Keystore,
    floor_kek: &credseal_crypto::Kek,
    blind: &BlindId,
    class: &str,
    w: &[u8],
) -> Option<credseal_crypto::Dek> {
    let v = credseal_crypto::wrapped_kek_version(w).ok()?;
    let kek = match &keys.token {
        Some(_) => floor_kek,
        None => keys.kek(class, v)?,
    };
    credseal_crypto::unwrap_dek(kek, &DekContext { blind, class }, w).ok()
}
