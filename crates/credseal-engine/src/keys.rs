//! Key status for security officers.

use serde::Serialize;

use crate::error::{EngineError, Result};
use crate::layout;
use crate::platform::Platform;
use credseal_store::Tree;

/// One KEK version of a class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct VersionStatus {
    /// Version number.
    pub version: u32,
    /// Whether new data keys are wrapped with it.
    pub primary: bool,
    /// Unix seconds of creation.
    pub created: u64,
    /// Data keys wrapped under it now.
    pub data_keys: u64,
}

/// The KEK versions of one class.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct ClassKeyStatus {
    /// Class id.
    pub class: String,
    /// Versions held, oldest first.
    pub versions: Vec<VersionStatus>,
}

impl Platform {
    /// The number of data keys of `class` wrapped under KEK `version`.
    pub fn dek_count(&self, class: &str, version: u32) -> Result<u64> {
        match self.store.get(Tree::Meta, &layout::dek_count_key(class, version))? {
            None => Ok(0),
            Some(v) => Ok(u64::from_be_bytes(v.as_slice().try_into().map_err(|_| {
                EngineError::Corrupt {
                    what: format!("data key counter of class {class} version {version}"),
                    detail: "not an 8-byte count".into(),
                }
            })?)),
        }
    }

    /// Class → KEK versions, which is primary, how many data keys use each (exact: counters
    /// written in the same atomic batch as the data keys; `verify_store` recounts them).
    pub fn key_status(&self) -> Result<Vec<ClassKeyStatus>> {
        let mut out = Vec::new();
        for (class, keys) in &self.keys.classes {
            let mut versions = Vec::new();
            for (v, e) in &keys.versions {
                let n = self.dek_count(class, *v)?;
                versions.push(VersionStatus {
                    version: *v,
                    primary: *v == keys.primary,
                    created: e.created,
                    data_keys: n,
                });
            }
            out.push(ClassKeyStatus {
                class: class.clone(),
                versions,
            });
        }
        Ok(out)
    }
}
