//! The engine's shape, checked from its source: the components under `src/components/`
//! never name the facade (`Platform`), the imports between them form no cycle, the gate
//! never imports the vault, the shared low-level modules import no component, and no
//! public engine method takes `&mut self`.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Shared low-level modules: they may be imported by every component and import none.
const SHARED: &[&str] = &[
    "layout", "error", "clock", "memo", "fsutil", "bundle", "logtree", "report",
];

/// The components that must exist (each file under `src/components/` is checked whether
/// listed or not; the list makes a moved or renamed component fail here, not pass unseen).
const COMPONENTS: &[&str] = &[
    "appender",
    "blinds",
    "datadir",
    "disclosure",
    "gate",
    "incident",
    "ingest",
    "keyops",
    "keytree",
    "reader",
    "trust",
    "vault",
];

fn src() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("src")
}

/// The source of every component module, by name (`src/components/<name>.rs`).
fn components() -> BTreeMap<String, String> {
    let dir = src().join("components");
    let mut out = BTreeMap::new();
    for e in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("reading {}: {e}", dir.display())) {
        let path = e.unwrap().path();
        let Some(name) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if path.extension().is_some_and(|x| x == "rs") && name != "mod" {
            let text = std::fs::read_to_string(&path).unwrap();
            out.insert(name.to_string(), text);
        }
    }
    assert!(!out.is_empty(), "no component modules found in {}", dir.display());
    out
}

/// The source with line comments removed (doc comments may name anything).
fn code(text: &str) -> String {
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_ident(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_'
}

/// Whether `word` occurs in `text` as a whole identifier.
fn mentions(text: &str, word: &str) -> bool {
    text.match_indices(word).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// The identifier that starts `s`.
fn ident(s: &str) -> &str {
    let end = s.find(|c: char| !is_ident(c)).unwrap_or(s.len());
    &s[..end]
}

/// The modules named after `prefix` in `text`: `prefix::name` and every name of a
/// `prefix::{a, b::c, d as e}` group.
fn paths_after(text: &str, prefix: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for (i, _) in text.match_indices(prefix) {
        if text[..i].chars().next_back().is_some_and(is_ident) {
            continue;
        }
        let rest = &text[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let mut depth = 0usize;
            let mut start = true;
            for c in group.char_indices() {
                match c.1 {
                    '{' => depth += 1,
                    '}' if depth == 0 => break,
                    '}' => depth -= 1,
                    ',' if depth == 0 => start = true,
                    c2 if start && is_ident(c2) => {
                        out.insert(ident(&group[c.0..]).to_string());
                        start = false;
                    }
                    _ => {}
                }
            }
        } else {
            let name = ident(rest);
            if !name.is_empty() {
                out.insert(name.to_string());
            }
        }
    }
    out
}

/// Which components each component imports (`crate::components::x`, `super::x`).
fn graph(sources: &BTreeMap<String, String>) -> BTreeMap<String, BTreeSet<String>> {
    sources
        .iter()
        .map(|(name, text)| {
            let text = code(text);
            let mut deps = paths_after(&text, "crate::components::");
            deps.extend(paths_after(&text, "super::"));
            deps.retain(|d| d != name && sources.contains_key(d));
            (name.clone(), deps)
        })
        .collect()
}

/// A cycle in `g`, as the list of its nodes (first repeated at the end), if there is one.
fn find_cycle(g: &BTreeMap<String, BTreeSet<String>>) -> Option<Vec<String>> {
    fn visit(
        n: &str,
        g: &BTreeMap<String, BTreeSet<String>>,
        stack: &mut Vec<String>,
        done: &mut BTreeSet<String>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|s| s == n) {
            let mut cycle = stack[i..].to_vec();
            cycle.push(n.to_string());
            return Some(cycle);
        }
        if done.contains(n) {
            return None;
        }
        stack.push(n.to_string());
        for d in g.get(n).into_iter().flatten() {
            if let Some(c) = visit(d, g, stack, done) {
                return Some(c);
            }
        }
        stack.pop();
        done.insert(n.to_string());
        None
    }
    let mut done = BTreeSet::new();
    for n in g.keys() {
        if let Some(c) = visit(n, g, &mut Vec::new(), &mut done) {
            return Some(c);
        }
    }
    None
}

#[test]
fn every_listed_component_is_checked() {
    let found = components();
    for c in COMPONENTS {
        assert!(
            found.contains_key(*c),
            "component `{c}` is missing from src/components/"
        );
    }
}

#[test]
fn no_component_names_the_facade() {
    for (name, text) in components() {
        // Comments included: a component's docs do not point at the facade either. (The
        // log's actor `Actor::Platform`, who a scheduled run's receipt names, is not it.)
        let text = text.replace("Actor::Platform", "Actor::");
        assert!(
            !mentions(&text, "Platform") && !text.contains("crate::platform"),
            "component `{name}` names the facade `Platform`: components receive what they need"
        );
    }
}

#[test]
fn components_import_each_other_without_cycles() {
    let g = graph(&components());
    if let Some(cycle) = find_cycle(&g) {
        panic!("the components import each other in a cycle: {}", cycle.join(" -> "));
    }
}

#[test]
fn the_gate_does_not_import_the_vault() {
    let g = graph(&components());
    if let Some(deps) = g.get("gate") {
        assert!(
            !deps.contains("vault"),
            "the gate imports the vault: it must never decrypt"
        );
    }
}

#[test]
fn shared_modules_import_no_component() {
    for m in SHARED {
        let path = src().join(format!("{m}.rs"));
        let text = code(&std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display())));
        assert!(
            !text.contains("components::") && !text.contains("crate::platform") && !mentions(&text, "Platform"),
            "the shared module `{m}` imports a component or the facade"
        );
    }
}

#[test]
fn no_public_engine_method_takes_mut_self() {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
        for e in std::fs::read_dir(dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                walk(&p, out);
            } else if p.extension().is_some_and(|x| x == "rs") {
                out.push(p);
            }
        }
    }
    let mut files = Vec::new();
    walk(&src(), &mut files);
    let mut found = Vec::new();
    for f in files {
        let name = f.file_name().unwrap().to_string_lossy();
        // `bundle` is the storage format's value type (`Bundle::put` edits a value being
        // built), not an engine object; `bench` is leaving the engine.
        if name == "bundle.rs" || name == "bench.rs" {
            continue;
        }
        let text = code(&std::fs::read_to_string(&f).unwrap());
        // A signature may span lines: join each `pub fn` up to its body.
        for (i, _) in text.match_indices("pub fn ") {
            let sig = &text[i..text[i..].find('{').map_or(text.len(), |e| i + e)];
            if sig.contains("&mut self") || sig.contains("&'_ mut self") {
                found.push(format!("{}: {}", f.display(), sig.lines().next().unwrap_or("")));
            }
        }
        for (i, _) in text.match_indices("pub(crate) fn ") {
            let sig = &text[i..text[i..].find('{').map_or(text.len(), |e| i + e)];
            if sig.contains("&mut self") {
                found.push(format!("{}: {}", f.display(), sig.lines().next().unwrap_or("")));
            }
        }
    }
    assert!(found.is_empty(), "engine methods taking &mut self: {found:#?}");
}

// The checks themselves, on made-up sources: each would fail on the mistake it guards.

fn made_up(srcs: &[(&str, &str)]) -> BTreeMap<String, String> {
    srcs.iter().map(|(n, t)| (n.to_string(), t.to_string())).collect()
}

#[test]
fn cycle_finder_reports_a_cycle() {
    let g = graph(&made_up(&[
        ("gate", "use crate::components::appender::Slot;"),
        ("appender", "use crate::components::{reader, layout};"),
        ("reader", "use super::gate::Gate; // a cycle"),
    ]));
    assert_eq!(
        find_cycle(&g).map(|c| c.join(" -> ")).as_deref(),
        Some("appender -> reader -> gate -> appender")
    );
    let g = graph(&made_up(&[
        ("gate", "use crate::components::appender::Slot;"),
        ("appender", "use crate::components::{reader as r, layout};"),
        ("reader", "// use super::gate::Gate; only in a comment"),
    ]));
    assert_eq!(find_cycle(&g), None);
}

#[test]
fn facade_and_vault_imports_are_seen() {
    let srcs = made_up(&[
        ("gate", "fn f(v: &crate::components::vault::Vault) {}"),
        ("vault", "struct Vault;"),
    ]);
    assert!(graph(&srcs)["gate"].contains("vault"));
    assert!(mentions("fn f(p: &Platform) {}", "Platform"));
    assert!(!mentions("struct PlatformStats;", "Platform"));
}

/// Calls and types by which a component writes to the store or the log.
const WRITES: &[&str] = &[
    "Batch",
    ".put(",
    ".apply(",
    ".flush(",
    ".enqueue(",
    ".append(",
    ".append_with(",
    ".persist_map(",
    ".update_keystore(",
    ".write(",
];

/// The writing calls `text` makes (comments removed).
fn writes_in(text: &str) -> Vec<&'static str> {
    let text = code(text);
    WRITES.iter().copied().filter(|w| text.contains(w)).collect()
}

#[test]
fn the_reader_writes_nothing() {
    let srcs = components();
    let reader = srcs.get("reader").expect("the reader component exists");
    let found = writes_in(reader);
    assert!(
        found.is_empty(),
        "the reader writes ({found:?}): it is the log's read side"
    );
    // The check sees a write where there is one.
    assert_eq!(
        writes_in("let mut b = Batch::new(); store.apply(b)?;"),
        ["Batch", ".apply("]
    );
}
