//! The engine's components, each a struct with one job in a module of its own. A component
//! never names the facade; it receives what it needs (the store, the
//! catalogue, the keystore, the clock, other components by reference). The import graph
//! between components has no cycles (`tests/architecture.rs` checks it).

pub(crate) mod appender;
pub(crate) mod blinds;
pub(crate) mod datadir;
pub(crate) mod disclosure;
pub(crate) mod gate;
pub(crate) mod incident;
pub(crate) mod ingest;
pub(crate) mod keyops;
pub(crate) mod keytree;
pub(crate) mod reader;
pub(crate) mod staff;
pub(crate) mod trust;
pub(crate) mod vault;
