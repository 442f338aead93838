//! `credseal dev …` (hidden): developer tools.

use credseal_engine::{EngineError, ErrorClass};

use crate::cli::DevCommand;
use crate::context::Context;
use crate::files::read_text;
use crate::{CliResult, Failure};

/// `credseal dev …`.
pub(crate) fn run(ctx: &Context, command: DevCommand) -> CliResult {
    match command {
        DevCommand::MakeDemoKeystore { catalog, out } => {
            if !ctx.demo {
                return Err(Failure::new(ErrorClass::Usage, "make-demo-keystore needs --demo"));
            }
            let text = read_text(&catalog)?;
            let cat = credseal_core::Catalog::parse(&text, Some(&catalog.display().to_string()))
                .map_err(EngineError::Catalog)?;
            let classes: Vec<&str> = cat.classes.keys().map(String::as_str).collect();
            let keys = credseal_testkit::demo::demo_keystore(&classes, credseal_crypto::sha256(text.as_bytes()), 0);
            let bytes = keys
                .seal(&credseal_crypto::Passphrase::new(
                    credseal_testkit::demo::DEMO_PASSPHRASE.into(),
                ))
                .map_err(|e| Failure::new(ErrorClass::Error, e.to_string()))?;
            crate::files::write_new(&out, &bytes, 0o600)?;
            eprintln!("credseal: wrote the demo keystore {}", out.display());
            Ok(())
        }
    }
}
