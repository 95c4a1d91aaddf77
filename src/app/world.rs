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
use super::overlay::{FinderState, Overlay};
use super::overview::Overview;
use super::tree::{Detail, RowKey, RowKind};
use super::State;
use crate::cluster::World;
use crate::flow::Names;
use crate::policy::audit::Staged;
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
    /// What the source itself stages (Calico's staged objects).
    pub staged: Arc<Vec<Staged>>,
    /// The world's likely mistakes (`lint`), for `:problems` and the tree's markers.
    pub problems: Arc<Problems>,
    /// How long preparing took, for the log.
    pub build_ms: u64,
}

/// `lint`'s problems, and what the tree marks with them.
#[derive(Debug, Default)]
pub struct Problems {
    pub list: Vec<crate::policy::lint::Problem>,
    /// Keys of the policies with problems (`Policy::key`, `TierPolicy::key`).
    pub policies: std::collections::HashSet<String>,
    /// Pods a problem breaks.
    pub pods: std::collections::HashSet<crate::policy::PodId>,
    /// Namespaces with a problem of their own (such as pods that cannot resolve names).
    pub namespaces: std::collections::HashSet<String>,
}

impl Problems {
    pub fn find(index: &Index) -> Problems {
        let list = crate::policy::lint::lint(index);
        let mut out = Problems::default();
        // Information (no default-deny, unprotected pods) is listed, not marked: the tree
        // marks unprotected pods already.
        for p in list
            .iter()
            .filter(|p| p.severity > crate::policy::lint::Severity::Info)
        {
            match p.object.strip_prefix("namespace ") {
                Some(ns) => {
                    out.namespaces.insert(ns.to_string());
                }
                None => {
                    out.policies.insert(p.object.clone());
                }
            }
            for pod in &p.pods {
                if let Some((ns, name)) = pod.split_once('/') {
                    out.pods.extend(index.pod_id(ns, name));
                }
            }
        }
        out.list = list;
        out
    }
}

impl Snapshot {
    /// Compiles the world, makes its view models and finds its problems (`lint`, about a
    /// tenth of a second of it at 10k pods and 2k policies): call it off the UI task.
    pub fn prepare(world: World, options: EngineOptions) -> Arc<Snapshot> {
        let started = Instant::now();
        let staged = world.staged;
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
        let problems = Arc::new(Problems::find(&index));
        Arc::new(Snapshot {
            problems,
            index,
            overview,
            names,
            entries,
            labels,
            pod_labels,
            staged,
            build_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub fn options(&self) -> EngineOptions {
        self.index.options().clone()
    }
}

impl State {
    /// Replaces the world and returns the old one. Whatever pointed into the old one is found
    /// again by name in the new one: the selection, the detail, an open dialog (run again on
    /// the new world).
    pub fn set_world(&mut self, snapshot: Arc<Snapshot>) -> Arc<Snapshot> {
        let keep = self.selected().and_then(|k| self.row_key(k));
        let old = std::mem::replace(&mut self.snapshot, snapshot);
        if !Arc::ptr_eq(&old.staged, &self.snapshot.staged) {
            self.audit.follow_source(&self.snapshot.staged);
        }
        if std::mem::take(&mut self.new_context) {
            self.expanded = self
                .snapshot
                .overview
                .namespaces
                .iter()
                .map(|n| n.name.clone())
                .collect();
        }
        let start = self.start_namespace.take();
        self.detail = Detail::Empty;
        // Rows hold positions in the old world: none may survive into the new one.
        self.rows.clear();
        self.rebuild_rows();
        if let Some(i) = keep
            .and_then(|k| self.resolve(&k))
            .and_then(|kind| self.rows.iter().position(|r| r.kind == kind))
        {
            self.cursor = i;
        }
        if let Some((ns, named)) = start {
            if !self.start_at_namespace(&ns) && named {
                self.complain(format!("-n: no namespace {ns} in this cluster"));
            }
        }
        self.scroll_tree_to_cursor();
        self.refresh_detail();
        self.overlay = self.overlay.take().map(|o| self.rebase_overlay(o));
        old
    }

    /// An open dialog, brought to the current world: the finder searches again, the explain
    /// dialog takes its suggestions from the new world and runs again if it had an answer.
    pub(super) fn rebase_overlay(&self, overlay: Overlay) -> Overlay {
        match overlay {
            Overlay::Finder(f) => Overlay::Finder(FinderState::search(
                &self.matcher,
                &self.snapshot.entries,
                f.query,
            )),
            Overlay::Explain(mut form) => {
                form.rebase(&self.snapshot, &self.matcher);
                Overlay::Explain(form)
            }
            // The staged list holds names; the breakage view holds the world it was made of.
            other @ (Overlay::Help { .. }
            | Overlay::Command(_)
            | Overlay::Staged { .. }
            | Overlay::Breakage(_)
            | Overlay::DenyPrompt { .. }
            | Overlay::Nodes { .. }
            | Overlay::Messages { .. }
            | Overlay::Text { .. }) => other,
        }
    }

    /// The name of a row of the current world.
    pub fn row_key(&self, kind: RowKind) -> Option<RowKey> {
        let index = &self.snapshot.index;
        Some(match kind {
            RowKind::Namespace(n) => {
                RowKey::Namespace(index.inventory().namespaces.get(n as usize)?.name.clone())
            }
            RowKind::Pod(p) => RowKey::Pod(index.inventory().pods.get(p as usize)?.key()),
            RowKind::Policy(p) => RowKey::Policy(index.policies().policies.get(p as usize)?.key()),
            RowKind::Tiers => RowKey::Tiers,
            RowKind::Tier(t) => RowKey::Tier(index.policies().tiers.get(t as usize)?.key()),
        })
    }

    /// The row a name stands for in the current world, if it is still there.
    pub fn resolve(&self, key: &RowKey) -> Option<RowKind> {
        let index = &self.snapshot.index;
        match key {
            RowKey::Namespace(name) => index.namespace_id(name).map(RowKind::Namespace),
            RowKey::Pod(key) => {
                let (ns, name) = key.split_once('/')?;
                index.pod_id(ns, name).map(RowKind::Pod)
            }
            RowKey::Policy(key) => {
                let (ns, name) = key.split_once('/')?;
                index
                    .policy_id(ns, name)
                    .or_else(|| {
                        // A Cilium policy's key names its kind: looked up by key.
                        index
                            .policies()
                            .policies
                            .iter()
                            .position(|p| p.cilium.is_some() && &p.key() == key)
                            .map(|i| i as u32)
                    })
                    .map(RowKind::Policy)
            }
            RowKey::Tiers => Some(RowKind::Tiers),
            RowKey::Tier(key) => index
                .policies()
                .tiers
                .iter()
                .position(|t| &t.key() == key)
                .map(|i| RowKind::Tier(i as u32)),
        }
    }
}
