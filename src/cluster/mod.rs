//! The world the engine reasons about, and its sources: YAML/JSON manifests (`files`),
//! the built-in scenario (`demo`), and the live cluster (`live`: list and watch through the
//! API server). Also `synthetic`, large generated worlds for benchmarks.
//!
//! The world's data types are the engine's input model (`policy::model`); this module
//! owns getting them. All file I/O lives here, never in `policy/`.

pub mod convert;
pub mod demo;
pub mod files;
pub mod live;
pub mod synthetic;
pub mod yaml_lines;

use std::sync::Arc;

use crate::policy::audit::Staged;
use crate::policy::model::Inventory;
use crate::policy::set::PolicySet;

/// One consistent view of the cluster: what exists, which policies apply, and which changes
/// the source itself holds staged (Calico's StagedKubernetesNetworkPolicy objects).
#[derive(Debug, Clone, Default)]
pub struct World {
    pub inventory: Arc<Inventory>,
    pub policies: Arc<PolicySet>,
    /// In the source's order; each marked `from_source`.
    pub staged: Arc<Vec<Staged>>,
}

impl World {
    pub fn new(inventory: Inventory, policies: PolicySet) -> World {
        World {
            inventory: Arc::new(inventory),
            policies: Arc::new(policies),
            staged: Arc::default(),
        }
    }

    pub fn with_staged(mut self, staged: Vec<Staged>) -> World {
        self.staged = Arc::new(staged);
        self
    }
}
