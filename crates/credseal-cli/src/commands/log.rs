//! The auditor's log commands: `log key|history|checkpoint|export-tiles|verify`.

use credseal_engine::{EngineError, ErrorClass, PublicLog, TileSource, fsutil};

use crate::cli::LogCommand;
use crate::client::Client;
use crate::context::Context;
use crate::render::log as out;
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
                println!("{key}");
                return Ok(());
            }
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            let p = open_public(&data.expect("clap: --data is required without --server"), Some("key"))?;
            let vrf_text = crate::commands::receipts::vrf_key_text(p.vrf_public_key());
            if json {
                let key = if current { p.log_current_vkey() } else { p.log_vkey() };
                println!("{}", serde_json::json!({ "log_key": key, "vrf_key": vrf_text }));
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
        LogCommand::Checkpoint { data, server } => {
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
                print!("{note}");
                return Ok(());
            }
            let p = open_public(
                // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
                &data.expect("clap: --data is required without --server"),
                Some("checkpoint"),
            )?;
            match p.latest_checkpoint() {
                Some(c) => {
                    print!("{c}");
                    Ok(())
                }
                None => Err(fail(ErrorClass::Error, "the log is empty: no checkpoint yet")),
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
            json,
            ..
        } => verify_tiles(
            &tiles,
            // Cannot fail: clap's `required_unless_present`/`requires` on these arguments (cli.rs) guarantee them on this branch.
            &vkey.expect("clap: --tiles requires --vkey"),
            ca.as_deref(),
            state.as_deref(),
            json,
        ),
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
                        std::fs::read(path).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))?;
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

/// A tiled log in a directory (`log export-tiles`, static hosting).
struct DirSource(std::path::PathBuf);

impl TileSource for DirSource {
    fn fetch(&self, path: &str) -> credseal_engine::Result<Option<Vec<u8>>> {
        let p = self.0.join(path);
        match std::fs::read(&p) {
            Ok(b) => Ok(Some(b)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(credseal_engine::EngineError::Io {
                path: p,
                detail: e.to_string(),
            }),
        }
    }

    fn name(&self, path: &str) -> String {
        self.0.join(path).display().to_string()
    }
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

/// `log verify --tiles DIR|URL --vkey FILE [--state FILE]`: no data directory, no passphrase.
fn verify_tiles(
    tiles: &str,
    vkey: &std::path::Path,
    ca: Option<&std::path::Path>,
    state: Option<&std::path::Path>,
    json: bool,
) -> CliResult {
    let key = crate::files::read_text(vkey)?;
    let source: Box<dyn TileSource> = if tiles.contains("://") {
        Box::new(ServerSource(Client::new(tiles, ca)?))
    } else {
        if ca.is_some() {
            return Err(fail(ErrorClass::Usage, "--ca is for --tiles URL, not a directory"));
        }
        Box::new(DirSource(tiles.into()))
    };
    let saved = match state {
        Some(path) if path.exists() => {
            let bytes = std::fs::read(path).map_err(|e| fail(ErrorClass::Error, format!("{}: {e}", path.display())))?;
            Some(
                credseal_engine::AuditSnapshot::from_bytes(&bytes)
                    .map_err(|e| fail(ErrorClass::Verification, format!("{}: {e}", path.display())))?,
            )
        }
        _ => None,
    };
    let (r, snapshot) = credseal_engine::audit_tiles(&*source, key.trim(), saved.as_ref())?;
    if let Some(path) = state {
        fsutil::replace(path, &snapshot.to_bytes(), 0o644)?;
    }
    out::verify_tiles(&r, json);
    Ok(())
}
