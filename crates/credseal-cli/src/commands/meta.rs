//! `credseal version`, `credseal completions`, `credseal man`: about the binary itself.

use std::path::Path;

use clap::CommandFactory;
use credseal_engine::ErrorClass;
use serde::Serialize;

use crate::cli::Cli;
use crate::render;
use crate::{CliResult, Failure};

/// The format versions this build reads and writes (docs/formats.md), by name.
fn formats() -> Vec<(&'static str, u32)> {
    vec![
        ("signed-object-wire", u32::from(credseal_auth::WIRE_VERSION)),
        ("consent-wire", u32::from(credseal_auth::CONSENT_WIRE_VERSION)),
        ("catalogue", credseal_core::CATALOG_FORMAT),
        ("keystore", u32::from(credseal_crypto::KEYSTORE_FORMAT)),
        ("store", credseal_engine::layout::STORE_FORMAT),
        ("key-tree-wrap", u32::from(credseal_crypto::FORMAT_TREE)),
        ("receipt", u32::from(credseal_log::RECEIPT_VERSION)),
        ("bundle", u32::from(credseal_log::BUNDLE_VERSION)),
        ("subject-state", u32::from(credseal_log::STATE_VERSION)),
        ("sealed-answer", u32::from(credseal_engine::ANSWER_FORMAT)),
        ("cli-json", render::JSON_VERSION),
    ]
}

/// `credseal version`.
pub(crate) fn version(json: bool) -> CliResult {
    #[derive(Serialize)]
    struct VersionJson {
        /// The release (the crate's version).
        release: &'static str,
        commit: &'static str,
        /// When the binary was built (Unix seconds; `SOURCE_DATE_EPOCH` in a reproducible build).
        built_at: u64,
        formats: std::collections::BTreeMap<&'static str, u32>,
    }
    let v = VersionJson {
        release: env!("CARGO_PKG_VERSION"),
        commit: env!("CREDSEAL_COMMIT"),
        built_at: env!("CREDSEAL_BUILT_AT").parse().unwrap_or(0),
        formats: formats().into_iter().collect(),
    };
    let built = render::rfc3339(v.built_at).unwrap_or_else(|| v.built_at.to_string());
    let mut text = format!("credseal {} (commit {}, built {built})\nformats:", v.release, v.commit);
    for (name, n) in formats() {
        text.push_str(&format!("\n  {name} v{n}"));
    }
    render::done(json, "version", &v, &text);
    Ok(())
}

/// `credseal completions SHELL`.
pub(crate) fn completions(shell: clap_complete::Shell, json: bool) -> CliResult {
    let mut buf = Vec::new();
    clap_complete::generate(shell, &mut Cli::command(), "credseal", &mut buf);
    let script =
        String::from_utf8(buf).map_err(|_| Failure::new(ErrorClass::Error, "the completion script is not UTF-8"))?;
    if json {
        render::print_json(
            "completions",
            &serde_json::json!({ "shell": shell.to_string(), "script": script }),
        );
    } else {
        print!("{script}");
    }
    Ok(())
}

/// `credseal man --out-dir DIR`: one page for `credseal` and one per command, never over an
/// existing file (all are checked before any is written).
pub(crate) fn man(dir: &Path, json: bool) -> CliResult {
    let io = |p: &Path, e: std::io::Error| Failure::new(ErrorClass::Error, format!("{}: {e}", p.display()));
    let mut pages: Vec<(String, Vec<u8>)> = Vec::new();
    fn walk(cmd: &clap::Command, prefix: &str, pages: &mut Vec<(String, Vec<u8>)>) -> std::io::Result<()> {
        if cmd.is_hide_set() || cmd.get_name() == "help" {
            return Ok(());
        }
        let name = if prefix.is_empty() {
            cmd.get_name().to_string()
        } else {
            format!("{prefix}-{}", cmd.get_name())
        };
        let mut buf = Vec::new();
        clap_mangen::Man::new(cmd.clone().name(name.clone())).render(&mut buf)?;
        pages.push((format!("{name}.1"), buf));
        for sub in cmd.get_subcommands() {
            walk(sub, &name, pages)?;
        }
        Ok(())
    }
    let mut root = Cli::command();
    root.build();
    walk(&root, "", &mut pages).map_err(|e| io(dir, e))?;
    for (name, _) in &pages {
        let p = dir.join(name);
        if p.exists() {
            return Err(credseal_engine::EngineError::AlreadyExists { path: p }.into());
        }
    }
    std::fs::create_dir_all(dir).map_err(|e| io(dir, e))?;
    for (name, bytes) in &pages {
        crate::files::write_new(&dir.join(name), bytes, 0o644)?;
    }
    let names: Vec<&str> = pages.iter().map(|(n, _)| n.as_str()).collect();
    render::done(
        json,
        "man",
        &serde_json::json!({ "dir": render::path(dir), "pages": names }),
        &format!("{} man pages written to {}", pages.len(), dir.display()),
    );
    Ok(())
}
