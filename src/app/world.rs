//! The prepared world: one world's engine index and the view models the UI reads (tree,
//! finder entries, flow names), made in one place by the source's own task, never on the UI
//! task, and handed over behind an `Arc`. The UI then only swaps a pointer.
//!
//! Everything in [`super::State`] that points into a world by position (rows, details,
//! dialogs) is rebuilt from names when a new one arrives; what outlives a world (the way
//! back, flows) holds names, never positions.

use std::sync::Arc;
use std::time::Instant;

use super::finder::{self, Entry, Target};
use super::overview::Overview;
use crate::cluster::World;
use crate::flow::Names;
use crate::policy::{EngineOptions, Index};

/// The index and the view models of one world.
#[derive(Debug, Clone)]
pub struct Snapshot {
    pub index: Arc<Index>,
    pub overview: Overview,
    pub names: Names,
    pub entries: Vec<Entry>,
    pub labels: Vec<String>,
    /// Each pod's labels as `k=v k=v`, for the tree filter.
    pub pod_labels: Vec<String>,
    /// How long preparing took, for the log.
    pub build_ms: u64,
}

impl Snapshot {
    /// Compiles the world and makes its view models. Takes about 100 ms at 10k pods: call it
    /// off the UI task.
    pub fn prepare(world: World, options: EngineOptions) -> Arc<Snapshot> {
        let started = Instant::now();
        let index = Arc::new(Index::build(world.inventory, world.policies, options));
        let overview = Overview::build(&index);
        let names = Names::new(&index);
        let entries = finder::entries(&index);
        let labels = entries
            .iter()
            .filter(|e| matches!(e.target, Target::Label(_)))
            .map(|e| e.text.clone())
            .collect();
        let pod_labels = index
            .inventory()
            .pods
            .iter()
            .map(|p| {
                let pairs: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
                pairs.join(" ")
            })
            .collect();
        Arc::new(Snapshot {
            index,
            overview,
            names,
            entries,
            labels,
            pod_labels,
            build_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub fn options(&self) -> EngineOptions {
        self.index.options()
    }
}
