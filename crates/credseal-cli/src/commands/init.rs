//! `credseal init`: create a platform (data directory, catalogue copy, keystore, database).

use credseal_crypto::KdfParams;
use credseal_engine::{ErrorClass, InitOptions, KeySource, OpenOptions, Platform};

use crate::cli::InitArgs;
use crate::context::Context;
use crate::files::read_text;
use crate::render::quoted;
use crate::{CliResult, Failure, passphrase, render};

/// `credseal init`.
pub(crate) fn run(ctx: &Context, a: InitArgs) -> CliResult {
    let InitArgs {
        data,
        catalog,
        origin,
        keystore,
        kdf_mib,
        kdf_passes,
        first_officers,
        unseal_holders,
        unseal_threshold,
        allow_single_holder,
        pkcs11_module,
        token_label,
        pin_file,
        json,
    } = a;
    let officers = super::staff::first_officers(&first_officers)?;
    let token = pkcs11_module.is_some();
    let pf = ctx.passphrase_file();
    let text = read_text(&catalog)?;
    let (origin, imported) = match &keystore {
        Some(ks) => {
            let pass = passphrase::get(pf, false)?;
            let keys = Platform::read_keystore(
                ks,
                &pass,
                OpenOptions {
                    allow_demo_keys: ctx.demo,
                },
            )?;
            if let Some(o) = &origin
                && o != &keys.origin
            {
                return Err(Failure::new(
                    ErrorClass::Usage,
                    format!(
                        "--origin {} differs from the keystore's origin {}",
                        quoted(o),
                        quoted(&keys.origin)
                    ),
                ));
            }
            (keys.origin.clone(), Some((keys, pass)))
        }
        None => (origin.unwrap_or_default(), None),
    };
    let kdf = KdfParams {
        m_kib: kdf_mib * 1024,
        t: kdf_passes,
        p: 1,
    };
    let mut custody = None;
    let pass = match imported {
        Some((keys, pass)) => {
            Platform::init(&InitOptions {
                dir: &data,
                catalog_text: &text,
                catalog_name: &catalog.display().to_string(),
                origin: &origin,
                passphrase: &pass,
                keys: KeySource::Existing(Box::new(keys)),
                now: crate::now()?,
            })?;
            pass
        }
        None if pkcs11_module.is_some() => {
            // The keys made in the token: its user PIN, no passphrase.
            let pin = passphrase::token_pin(pin_file.as_deref())?;
            let cfg = credseal_engine::Pkcs11Config {
                module: pkcs11_module.unwrap_or_default(),
                token_label: token_label.unwrap_or_default(),
            };
            Platform::init(&InitOptions {
                dir: &data,
                catalog_text: &text,
                catalog_name: &catalog.display().to_string(),
                origin: &origin,
                passphrase: &pin,
                keys: KeySource::Token(cfg),
                now: crate::now()?,
            })?;
            eprintln!("credseal: the KEKs and the log key are in the PKCS#11 token; the keystore file holds their ids");
            pin
        }
        None if !unseal_holders.is_empty() => {
            // The keystore in the officers' custody: no passphrase is asked for.
            let (set, master) = super::custody::new_custody(&unseal_holders, unseal_threshold, allow_single_holder)?;
            let (k, n) = (set.threshold, set.holders.len());
            custody = Some((k, n));
            Platform::init(&InitOptions {
                dir: &data,
                catalog_text: &text,
                catalog_name: &catalog.display().to_string(),
                origin: &origin,
                passphrase: &master,
                keys: KeySource::Shared(Box::new(set)),
                now: crate::now()?,
            })?;
            eprintln!("credseal: the keystore unseals with {k} of the {n} holders' shares (--unseal)");
            master
        }
        None => {
            let pass = passphrase::get(pf, true)?;
            Platform::init(&InitOptions {
                dir: &data,
                catalog_text: &text,
                catalog_name: &catalog.display().to_string(),
                origin: &origin,
                passphrase: &pass,
                keys: KeySource::Generate(kdf),
                now: crate::now()?,
            })?;
            pass
        }
    };
    if !officers.is_empty() {
        // The first officers, named in the platform's first staff receipt.
        let p = Platform::open(
            &data,
            &pass,
            OpenOptions {
                allow_demo_keys: ctx.demo,
            },
        )?;
        p.found_officers(&ctx.session(&p)?, &officers)?;
    }
    render::platform::init_done(&data, &origin, custody, token, json);
    Ok(())
}
