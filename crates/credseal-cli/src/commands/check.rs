//! `credseal check`: open every stored data key and record, check the fingerprints against
//! the log; `credseal compact`: give the value log's dead bytes back.

use crate::cli::DataArg;
use crate::context::Context;
use crate::{CliResult, render};

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
