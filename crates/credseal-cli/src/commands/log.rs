//! The auditor's log commands: `log key|history|checkpoint|export-tiles|verify`, and the
//! operator's `log witnesses|cosign`.

use credseal_engine::{DirSource, EngineError, ErrorClass, PublicLog, TileSource, fsutil};

use crate::cli::{LogCommand, WitnessesCommand};
use crate::client::Client;
use crate::context::Context;
use crate::render::log as out;
use crate::render::print_json;
use crate::witness_policy::WitnessPolicy;
use crate::{CliResult, Failure};

fn fail(class: ErrorClass, m: impl Into<String>) -> Failure {
    Failure::new(class, m)
}

/// `credseal log …`.
pub(crate) fn run(ctx: &Context, cmd: LogCommand) -> CliResult {
    match cmd {
        LogCommand::Key {
            data,
            server,
            current,
            vrf,
            json,
        } => {
            if let Some(url) = &server.server {
                let client = Client::new(url, server.ca.as_deref())?;
                let route = if vrf { "/v1/log/vrf-key" } else { "/v1/log/key" };
                let text = client.get_text(route)?;
                let name = format!("{}{route}", client.base());
                // Printed only once it parses as what was asked for: this output is what
                // verifiers pin.
                let key = text.trim();
                if vrf {
                    crate::commands::receipts::parse_vrf_key(key, &name)?;
                } else {
                    credseal_log::LogVerifier::from_vkey(key)
                        .map_err(|e| fail(ErrorClass::Verification, format!("{name}: not a log key: {e}")))?;
                }
                if json {
                    let field = if vrf { "vrf_key" } else { "log_key" };
                    print_json("log-key", &serde_json::json!({ field: key }));
                } else {
                    println!("{key}");
                }
                return Ok(());
            }
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            let p = open_public(&data.expect("clap: --data is required without --server"), Some("key"))?;
            let vrf_text = crate::commands::receipts::vrf_key_text(p.vrf_public_key());
            if json {
                let key = if current { p.log_current_vkey() } else { p.log_vkey() };
                print_json("log-key", &serde_json::json!({ "log_key": key, "vrf_key": vrf_text }));
            } else if vrf {
                println!("{vrf_text}");
            } else if current {
                println!("{}", p.log_current_vkey());
            } else {
                println!("{}", p.log_vkey());
            }
            Ok(())
        }
        LogCommand::History { data, json } => {
            let p = open_public(&data.data, None)?;
            let keys = p.log_key_status();
            let notes = p.log_key_history().notes();
            out::history(&keys, &notes, json);
            Ok(())
        }
        LogCommand::Checkpoint { data, server, json } => {
            if let Some(url) = &server.server {
                let client = Client::new(url, server.ca.as_deref())?;
                let note = client.get_text("/v1/log/checkpoint")?;
                // A signed note is printable text and newlines; anything else (escape
                // sequences from a hostile server) is refused rather than printed.
                if note.is_empty() || note.chars().any(|c| c != '\n' && c.is_control()) {
                    return Err(fail(
                        ErrorClass::Verification,
                        format!("{}/v1/log/checkpoint: not a checkpoint note", client.base()),
                    ));
                }
                print_checkpoint(&note, json);
                return Ok(());
            }
            let p = open_public(
                // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
                &data.expect("clap: --data is required without --server"),
                Some("checkpoint"),
            )?;
            match p.latest_checkpoint() {
                Some(c) => {
                    print_checkpoint(c, json);
                    Ok(())
                }
                None => Err(fail(ErrorClass::Error, "the log is empty: no checkpoint yet")),
            }
        }
        LogCommand::Monitor {
            tiles,
            vkey,
            ca,
            state,
            witnesses,
            interval,
            rounds,
            json,
        } => monitor(&MonitorArgs {
            tiles: &tiles,
            vkey: &vkey,
            ca: ca.as_deref(),
            state: state.as_deref(),
            policy: WitnessPolicy::from_args(&witnesses)?,
            interval: std::time::Duration::from_secs(interval),
            rounds,
            json,
        }),
        LogCommand::Witnesses { command } => witnesses(ctx, command),
        LogCommand::Cosign { data, witness_ca, json } => {
            let transport = witness_transport(witness_ca.as_deref())?;
            let p = ctx.open_platform(&data.data)?;
            if p.witnesses()?.is_empty() {
                return Err(fail(
                    ErrorClass::Usage,
                    "this platform has no witness; add one with `credseal log witnesses add`",
                ));
            }
            let Some(r) = p.cosign_latest(&transport)? else {
                return Err(fail(ErrorClass::Error, "the log is empty: no checkpoint to cosign yet"));
            };
            if json {
                print_json("log-cosign", &r);
            } else {
                println!(
                    "checkpoint {} carries {} of {} witness cosignature(s)",
                    r.size,
                    r.cosignatures,
                    r.outcomes.len()
                );
                for o in &r.outcomes {
                    println!("  {}", o.describe());
                }
            }
            if r.outcomes.iter().all(credseal_engine::WitnessOutcome::cosigned) {
                Ok(())
            } else {
                Err(fail(
                    ErrorClass::Error,
                    format!(
                        "{} witness(es) did not cosign checkpoint {}",
                        r.outcomes.iter().filter(|o| !o.cosigned()).count(),
                        r.size
                    ),
                ))
            }
        }
        LogCommand::ExportTiles { data, out, json } => {
            let p = ctx.open_platform(&data.data)?;
            let r = p.export_tiles(&out)?;
            out::export_tiles(&r, &out, json);
            Ok(())
        }
        LogCommand::Verify {
            tiles: Some(tiles),
            vkey,
            ca,
            state,
            witnesses,
            json,
            ..
        } => verify_tiles(
            &tiles,
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            &vkey.expect("clap: --tiles requires --log-key"),
            ca.as_deref(),
            state.as_deref(),
            WitnessPolicy::from_args(&witnesses)?.as_ref(),
            json,
        ),
        LogCommand::Verify { witnesses, .. } if !witnesses.witness.is_empty() => Err(fail(
            ErrorClass::Usage,
            "--witness is for --tiles (the published log); a replay of the data directory has no published checkpoint",
        )),
        LogCommand::Verify {
            data,
            state,
            from,
            json,
            ..
        } => {
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            let p = ctx.open_platform(&data.expect("clap: --data is required without --tiles"))?;
            let saved = match (&state, from) {
                (Some(path), Some(n)) => {
                    let bytes =
                        crate::files::read_bounded(path, crate::files::MAX_POSITION_FILE, "an audit position file")?;
                    let s = credseal_engine::AuditSnapshot::from_bytes(&bytes)
                        .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", path.display())))?;
                    if s.size != n {
                        return Err(fail(
                            ErrorClass::Usage,
                            format!(
                                "--from {n}: the position saved in {} is at size {}",
                                path.display(),
                                s.size
                            ),
                        ));
                    }
                    Some(s)
                }
                _ => None,
            };
            let (r, snapshot) = p.verify_log_from(saved.as_ref())?;
            if let Some(path) = &state {
                fsutil::replace(path, &snapshot.to_bytes(), 0o644)?;
            }
            out::verify(&r, json);
            Ok(())
        }
    }
}

/// The public log material of the data directory `dir` (no passphrase). A store held by
/// another process — most often the `credseal serve` of this directory — gets a hint to ask
/// that server: `log <command> --server URL` where the command has it (`with_server`).
fn open_public(dir: &std::path::Path, with_server: Option<&str>) -> CliResult<PublicLog> {
    PublicLog::open(dir).map_err(|e| {
        if !matches!(&e, EngineError::Store(credseal_store::StoreError::Locked { .. })) {
            return Failure::from(e);
        }
        let ask = match with_server {
            Some(cmd) => format!("ask it with `credseal log {cmd} --server URL`"),
            None => "it serves the same notes at GET /v1/log/key-history".into(),
        };
        Failure::new(e.class(), e.to_string()).hint(format!(
            "another credseal process holds the store's lock (a running `credseal serve`?): {ask}"
        ))
    })
}

/// A tiled log served over HTTPS (`credseal serve`: `/checkpoint`, `/tile/…`).
struct ServerSource(Client);

impl TileSource for ServerSource {
    fn fetch(&self, path: &str) -> credseal_engine::Result<Option<Vec<u8>>> {
        self.0
            .get_bytes(&format!("/{path}"))
            .map_err(|e| credseal_engine::EngineError::Io {
                path: "--tiles".into(),
                detail: e.into_failure().message,
            })
    }

    fn name(&self, path: &str) -> String {
        self.0.url_of(&format!("/{path}"))
    }
}

/// `log verify --tiles DIR|URL --log-key FILE [--state FILE]`: no data directory, no passphrase.
fn verify_tiles(
    tiles: &str,
    vkey: &std::path::Path,
    ca: Option<&std::path::Path>,
    state: Option<&std::path::Path>,
    policy: Option<&WitnessPolicy>,
    json: bool,
) -> CliResult {
    let key = crate::files::read_key_text(vkey)?;
    let source = tile_source(tiles, ca)?;
    let saved = read_position(state)?;
    let (r, snapshot) = credseal_engine::audit_tiles(&*source, key.trim(), saved.as_ref())?;
    // The witnesses' cosignatures, before the state moves on.
    let witnesses = match policy {
        Some(p) => p.check(
            &r.checkpoint,
            &source.name(credseal_engine::CHECKPOINT_PATH),
            &r.log_keys,
        )?,
        None => Vec::new(),
    };
    if let Some(path) = state {
        fsutil::replace(path, &snapshot.to_bytes(), 0o644)?;
    }
    out::verify_tiles(&r, json);
    if !json && !witnesses.is_empty() {
        println!("the checkpoint is cosigned by witness(es): {}", witnesses.join(", "));
    }
    Ok(())
}

/// The published log at `tiles`: a server (`ca` pins its certificate) or a directory.
fn tile_source(tiles: &str, ca: Option<&std::path::Path>) -> CliResult<Box<dyn TileSource>> {
    if tiles.contains("://") {
        return Ok(Box::new(ServerSource(Client::new(tiles, ca)?)));
    }
    if ca.is_some() {
        return Err(fail(ErrorClass::Usage, "--ca is for --tiles URL, not a directory"));
    }
    Ok(Box::new(DirSource(tiles.into())))
}

/// The auditor's saved position in `state`, if given and present.
fn read_position(state: Option<&std::path::Path>) -> CliResult<Option<credseal_engine::AuditSnapshot>> {
    match state {
        Some(path) if path.exists() => {
            let bytes = crate::files::read_bounded(path, crate::files::MAX_POSITION_FILE, "an audit position file")?;
            Ok(Some(credseal_engine::AuditSnapshot::from_bytes(&bytes).map_err(
                |e| fail(ErrorClass::Verification, format!("{}: {e}", path.display())),
            )?))
        }
        _ => Ok(None),
    }
}

/// What `log monitor` was given.
struct MonitorArgs<'a> {
    tiles: &'a str,
    vkey: &'a std::path::Path,
    ca: Option<&'a std::path::Path>,
    state: Option<&'a std::path::Path>,
    policy: Option<WitnessPolicy>,
    interval: std::time::Duration,
    rounds: Option<u64>,
    json: bool,
}

/// `log monitor`: `log verify --tiles`, round after round, keeping the tree and map in
/// memory so that each round fetches only what the new checkpoint adds.
fn monitor(a: &MonitorArgs<'_>) -> CliResult {
    let key = crate::files::read_key_text(a.vkey)?;
    let source = tile_source(a.tiles, a.ca)?;
    let mut position = read_position(a.state)?;
    let mut auditor = Some(credseal_engine::TileAuditor::new(key.trim(), position.clone())?);
    let cp_name = source.name(credseal_engine::CHECKPOINT_PATH);
    let mut round = 0u64;
    let mut last: Option<u64> = None;
    loop {
        round += 1;
        let current = match auditor.take() {
            Some(a) => a,
            // After a failed fetch: start again from the last verified position (the next
            // round replays the log and must find that position in it).
            None => credseal_engine::TileAuditor::new(key.trim(), position.clone())?,
        };
        let (next, r) = match current.advance(&*source) {
            Ok(v) => v,
            // A verification failure ends the monitor (exit 4); a failed fetch (the server
            // down, a 500, a file being replaced) is reported and the next round tries again.
            Err(e @ EngineError::Verification(_)) => return Err(e.into()),
            Err(e) if a.rounds.is_none_or(|n| round < n) => {
                eprintln!(
                    "credseal: warning: round {round}: {e}; trying again in {} s",
                    a.interval.as_secs()
                );
                std::thread::sleep(a.interval);
                continue;
            }
            Err(e) => return Err(e.into()),
        };
        let auditor_now = next;
        let witnesses = match &a.policy {
            Some(p) => p.check(&r.checkpoint, &cp_name, &r.log_keys)?,
            None => Vec::new(),
        };
        // A round that added nothing leaves the position as it is (no map to collect and
        // no file to rewrite every interval).
        if r.receipts > 0 || position.is_none() || round == 1 {
            let snapshot = auditor_now.snapshot();
            if let Some(path) = a.state {
                fsutil::replace(path, &snapshot.to_bytes(), 0o644)?;
            }
            position = Some(snapshot);
        }
        auditor = Some(auditor_now);
        if a.json {
            // One compact document a line (JSON Lines), one per round (docs/json.md).
            let line = serde_json::json!({
                "round": round,
                "origin": r.origin,
                "size": r.size,
                "new_receipts": r.receipts,
                "bundles": r.bundles,
                "hash_tiles": r.hash_tiles,
                "subjects": r.subjects,
                "witnesses": witnesses,
            });
            crate::render::print_json_line("log-monitor", &line);
        } else if last != Some(r.size) {
            let by = if witnesses.is_empty() {
                String::new()
            } else {
                format!(", cosigned by {}", witnesses.join(", "))
            };
            println!(
                "checkpoint {} of {} verified: {} new receipt(s), {} entry bundle(s) and {} hash tile(s) fetched{by}",
                r.size, r.origin, r.receipts, r.bundles, r.hash_tiles
            );
        }
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        last = Some(r.size);
        if a.rounds.is_some_and(|n| round >= n) {
            return Ok(());
        }
        std::thread::sleep(a.interval);
    }
}

/// The HTTPS client that carries checkpoints to the platform's witnesses; `ca` pins their
/// certificates (default: the system's roots).
pub(crate) fn witness_transport(ca: Option<&std::path::Path>) -> CliResult<credseal_server::HttpsWitnesses> {
    let pem = ca.map(crate::files::read_text).transpose()?;
    credseal_server::HttpsWitnesses::new(pem.as_deref()).map_err(|e| {
        fail(
            ErrorClass::Error,
            format!(
                "--witness-ca {}: {e}",
                ca.map_or(String::new(), |p| p.display().to_string())
            ),
        )
    })
}

/// A checkpoint note: as is, or with `--json` its note and the body's first three lines
/// (origin, tree size, root hash in base64; docs/formats.md).
fn print_checkpoint(note: &str, json: bool) {
    if !json {
        print!("{note}");
        return;
    }
    let mut lines = note.lines();
    let origin = lines.next().unwrap_or_default();
    let size = lines.next().and_then(|l| l.parse::<u64>().ok());
    let root = lines.next().unwrap_or_default();
    print_json(
        "checkpoint",
        &serde_json::json!({ "origin": origin, "size": size, "root_hash": root, "note": note }),
    );
}

/// `log witnesses add|list|remove`.
fn witnesses(ctx: &Context, cmd: WitnessesCommand) -> CliResult {
    match cmd {
        WitnessesCommand::Add { data, url, vkey, json } => {
            let key = crate::files::read_key_text(&vkey)?;
            let p = ctx.open_platform(&data.data)?;
            let w = p.add_witness(&url, &key).map_err(|e| match e {
                EngineError::Invalid { what, detail } if what == "the witness key" => fail(
                    ErrorClass::Error,
                    format!("--vkey {}: not a witness's cosigner key: {detail}", vkey.display()),
                ),
                EngineError::Conflict { what } => fail(ErrorClass::Error, what)
                    .hint("remove it first with `credseal log witnesses remove --name NAME`"),
                e => e.into(),
            })?;
            crate::render::done(
                json,
                "witness-added",
                &serde_json::json!({ "name": w.name(), "url": w.url, "vkey": w.verifier.vkey() }),
                &format!("witness {} added: checkpoints go to {}/add-checkpoint", w.name(), w.url),
            );
            Ok(())
        }
        WitnessesCommand::List { data, json } => {
            let p = ctx.open_platform(&data.data)?;
            let ws = p.witnesses()?;
            if json {
                let rows: Vec<_> = ws
                    .iter()
                    .map(|w| serde_json::json!({ "name": w.name(), "url": w.url, "vkey": w.verifier.vkey() }))
                    .collect();
                print_json("witnesses", &rows);
            } else if ws.is_empty() {
                println!("no witness");
            } else {
                for w in &ws {
                    println!("{} {} {}", w.name(), w.url, w.verifier.vkey());
                }
            }
            Ok(())
        }
        WitnessesCommand::Remove { data, name, json } => {
            let p = ctx.open_platform(&data.data)?;
            let w = p.remove_witness(&name)?;
            crate::render::done(
                json,
                "witness-removed",
                &serde_json::json!({ "name": w.name(), "url": w.url }),
                &format!("witness {} removed", w.name()),
            );
            Ok(())
        }
    }
}
