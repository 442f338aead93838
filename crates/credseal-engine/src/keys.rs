//! Key status for security officers.

use serde::Serialize;

use crate::error::Result;
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
    /// Class → KEK versions, which is primary, how many data keys use each (exact: counted
    /// from the per-version index written with every data key).
    pub fn key_status(&self) -> Result<Vec<ClassKeyStatus>> {
        let mut out = Vec::new();
        for (class, keys) in &self.keys.classes {
            let mut versions = Vec::new();
            for (v, e) in &keys.versions {
                let n = self
                    .store
                    .count_prefix(Tree::DekIndex, &layout::dek_index_prefix(class, *v))?;
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
