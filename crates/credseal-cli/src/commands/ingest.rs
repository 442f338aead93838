//! `credseal ingest`: validate a JSON Lines file against the catalogue and store its records
//! sealed; or ingest a provider's signed batch. `credseal provider`: the provider's side.

use credseal_engine::ErrorClass;

use crate::cli::{IngestArgs, ProviderCommand};
use crate::context::Context;
use crate::{CliResult, Failure, render};

/// `credseal ingest`.
pub(crate) fn run(ctx: &Context, a: IngestArgs) -> CliResult {
    if a.batch.is_some() || a.server.server.is_some() {
        return Err(Failure::new(
            ErrorClass::Error,
            "ingest --batch / --server: not implemented yet",
        ));
    }
    let data = a.data.expect("clap: --data is required without --server");
    let file = a.file.expect("clap: FILE is required without --batch");
    let p = ctx.open_platform(&data)?;
    let bar = ctx.progress();
    let s = p.ingest_file_with(
        &ctx.session(&p)?,
        &file,
        &bar,
        credseal_engine::IngestOptions {
            allow_shredded: a.allow_shredded,
        },
    )?;
    render::platform::ingest_summary(&s, a.json);
    Ok(())
}

/// `credseal provider …`.
pub(crate) fn provider(_cmd: ProviderCommand) -> CliResult {
    Err(Failure::new(ErrorClass::Error, "provider: not implemented yet"))
}
