//! `--witness FILE… [--witness-threshold K]`: a verifier's witness policy, applied to the
//! checkpoint a bundle or a tiled log carries (C2SP tlog-cosignature).

use credseal_c2sp::{CosignatureVerifier, SignedNote};
use credseal_engine::ErrorClass;

use crate::cli::WitnessPolicyArgs;
use crate::files::read_key_text;
use crate::{CliResult, Failure};

/// The witnesses and how many of them must have cosigned.
pub(crate) struct WitnessPolicy {
    witnesses: Vec<CosignatureVerifier>,
    threshold: usize,
}

impl WitnessPolicy {
    /// Reads the keys (before anything is fetched or verified). `None` without `--witness`.
    pub(crate) fn from_args(a: &WitnessPolicyArgs) -> CliResult<Option<Self>> {
        if a.witness.is_empty() {
            return Ok(None);
        }
        let mut witnesses: Vec<CosignatureVerifier> = Vec::new();
        for path in &a.witness {
            let w = CosignatureVerifier::from_vkey(read_key_text(path)?.trim()).map_err(|e| {
                Failure::new(
                    ErrorClass::Error,
                    format!("--witness {}: not a witness's cosigner key: {e}", path.display()),
                )
            })?;
            if let Some(x) = witnesses.iter().find(|x| x.public_key() == w.public_key()) {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!(
                        "--witness {}: the key of witness {} again, under the name {} (Ed25519 cosignatures do not sign the name, so one witness would count twice)",
                        path.display(),
                        x.name(),
                        w.name()
                    ),
                ));
            }
            if witnesses.iter().any(|x| x.name() == w.name()) {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!(
                        "--witness {}: a witness named {} is given twice (each witness counts once)",
                        path.display(),
                        w.name()
                    ),
                ));
            }
            witnesses.push(w);
        }
        let threshold = match a.witness_threshold {
            None => witnesses.len(),
            Some(k) => usize::try_from(k).unwrap_or(usize::MAX),
        };
        if threshold > witnesses.len() {
            return Err(Failure::new(
                ErrorClass::Usage,
                format!(
                    "--witness-threshold {threshold}: only {} --witness key(s) given",
                    witnesses.len()
                ),
            ));
        }
        Ok(Some(Self { witnesses, threshold }))
    }

    /// Checks that `note` (named `name` in errors) carries at least the threshold of valid
    /// cosignatures; a line in a given witness's name and key id that does not verify is a
    /// failure on its own, and so is a witness key that is one of the log's own keys
    /// (`log_keys`: the log could cosign its own checkpoints). Returns the names of the
    /// witnesses that cosigned.
    pub(crate) fn check(&self, note: &str, name: &str, log_keys: &[[u8; 32]]) -> CliResult<Vec<String>> {
        let fail = |m: String| Failure::new(ErrorClass::Verification, format!("{name}: {m}"));
        if let Some(w) = self.witnesses.iter().find(|w| log_keys.contains(w.public_key())) {
            return Err(fail(format!(
                "witness {} has one of the log's own keys: the log would cosign its own checkpoints",
                w.name()
            )));
        }
        let n = SignedNote::parse(note).map_err(|e| fail(format!("the checkpoint is not a signed note: {e}")))?;
        let mut cosigned = Vec::new();
        let mut missing = Vec::new();
        for w in &self.witnesses {
            match w.verify(&n) {
                Ok(Some(_)) => cosigned.push(w.name().to_string()),
                Ok(None) => missing.push(w.name().to_string()),
                Err(e) => {
                    return Err(fail(format!(
                        "the cosignature of witness {} does not verify: {e}",
                        w.name()
                    )));
                }
            }
        }
        if cosigned.len() < self.threshold {
            return Err(fail(format!(
                "the checkpoint carries {} valid cosignature(s) of the {} required from the given witnesses (none from: {}); \
                 it may be a view of the log that the witnesses did not see",
                cosigned.len(),
                self.threshold,
                missing.join(", ")
            )));
        }
        Ok(cosigned)
    }
}
