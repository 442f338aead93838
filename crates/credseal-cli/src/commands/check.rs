//! `credseal check`: open every stored data key and record, check the fingerprints against
//! the log; `credseal compact`: give the value log's dead bytes back; `credseal backup` and
//! `credseal restore`.

use crate::cli::DataArg;
use crate::context::Context;
use crate::{CliResult, Failure, render};
use credseal_engine::ErrorClass;

/// `credseal check`.
pub(crate) fn run(ctx: &Context, data: &DataArg, json: bool) -> CliResult {
    let p = ctx.open_platform(&data.data)?;
    let (deks, records) = p.verify_store()?;
    let fingerprints = p.verify_fingerprints()?;
    render::platform::check(deks, records, fingerprints, json);
    Ok(())
}

/// `credseal compact`.
pub(crate) fn compact(ctx: &Context, data: &DataArg, json: bool) -> CliResult {
    let p = ctx.open_platform(&data.data)?;
    let Some(c) = p.compact()? else {
        return Ok(());
    };
    if json {
        render::print_json(
            "compact",
            &serde_json::json!({
                "log_bytes": c.log_bytes,
                "live_bytes": c.live_bytes,
                "punched_bytes": c.punched_bytes,
                "allocated_before": c.allocated_before,
                "allocated_after": c.allocated_after,
            }),
        );
    } else {
        println!(
            "value log: {} B long, {} B live; {} B given back; {} B on disk before, {} B after",
            c.log_bytes, c.live_bytes, c.punched_bytes, c.allocated_before, c.allocated_after
        );
    }
    Ok(())
}

/// `credseal backup`.
pub(crate) fn backup(data: &DataArg, out: &std::path::Path, json: bool) -> CliResult {
    let s = credseal_engine::backup(&data.data, out, crate::now()?)?;
    if json {
        render::print_json(
            "backup",
            &serde_json::json!({
                "dir": render::path(out),
                "tree_size": s.tree_size,
                "files": s.files,
                "bytes": s.bytes,
            }),
        );
    } else {
        println!(
            "backup of {} written to {}: {} files, {} B; its log holds {} receipts",
            data.data.display(),
            out.display(),
            s.files,
            s.bytes,
            s.tree_size
        );
    }
    Ok(())
}

/// A saved view of the log: an auditor's position file (`CSAUDIT1…`) or a subject's state
/// file (`subject …` and a saved state).
fn seen_state(path: &std::path::Path) -> CliResult<credseal_engine::SeenState> {
    let name = path.display().to_string();
    let bytes = crate::files::read_bounded(path, crate::files::MAX_POSITION_FILE, "a saved state")?;
    if bytes.starts_with(b"CSAUDIT1") {
        let a = credseal_engine::AuditSnapshot::from_bytes(&bytes)
            .map_err(|e| Failure::new(ErrorClass::Verification, format!("{name}: {e}")))?;
        return Ok(credseal_engine::SeenState {
            name,
            origin: a.origin,
            size: a.size,
            root: a.root,
        });
    }
    let (_, s) = crate::commands::receipts::read_state(path)?
        .ok_or_else(|| Failure::new(ErrorClass::Usage, format!("{name}: no such file")))?;
    Ok(credseal_engine::SeenState {
        name,
        origin: s.origin().to_string(),
        size: s.tree_size(),
        root: *s.root(),
    })
}

/// `credseal restore`.
pub(crate) fn restore(
    backup: &std::path::Path,
    data: &std::path::Path,
    states: &[std::path::PathBuf],
    json: bool,
) -> CliResult {
    let seen = states.iter().map(|p| seen_state(p)).collect::<CliResult<Vec<_>>>()?;
    let r = credseal_engine::restore(backup, data, &seen)?;
    if json {
        render::print_json(
            "restore",
            &serde_json::json!({
                "data": render::path(data),
                "tree_size": r.tree_size,
                "origin": r.origin,
                "files": r.files,
            }),
        );
    } else {
        println!(
            "restored {} to {}: its log holds {} receipts (tree size {})",
            backup.display(),
            data.display(),
            r.tree_size,
            r.tree_size
        );
    }
    Ok(())
}
