//! `credseal ingest`: validate a JSON Lines file against the catalogue and store its records
//! sealed.

use std::path::Path;

use crate::cli::DataArg;
use crate::context::Context;
use crate::{CliResult, render};

/// `credseal ingest`.
pub(crate) fn run(ctx: &Context, data: &DataArg, file: &Path, allow_shredded: bool, json: bool) -> CliResult {
    let p = ctx.open_platform(&data.data)?;
    let bar = ctx.progress();
    let s = p.ingest_file_with(
        &ctx.session(&p)?,
        file,
        &bar,
        credseal_engine::IngestOptions { allow_shredded },
    )?;
    render::platform::ingest_summary(&s, json);
    Ok(())
}
