//! `credseal check`: open every stored data key and record, check the fingerprints against
//! the log.

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
