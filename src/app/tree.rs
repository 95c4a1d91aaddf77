//! The left pane: namespaces with their pods or policies, the `/` filter, the selection and
//! the detail it shows, and the way back after a jump (kept by name, so it survives a new
//! world).

use crate::policy::effective::{effective_with, Effective};
use crate::policy::{PodId, PolicyId};

use super::finder::Target;
use super::layout;
use super::line::LineInput;
use super::overview;
use super::{Pane, State};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TreeMode {
    Pods,
    Policies,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RowKind {
    Namespace(u32),
    Pod(PodId),
    Policy(PolicyId),
    /// The group of cluster-scoped tier policies (Policies mode).
    Tiers,
    /// A tier policy, by its place in evaluation order.
    Tier(u32),
}

/// The key under which the tier group's fold is kept among the expanded namespaces: no
/// namespace can have this name.
pub const TIERS_KEY: &str = "(tiers)";

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub kind: RowKind,
    /// Char indices of the row's name matched by the filter.
    pub matched: Vec<usize>,
}

/// What the detail pane shows, made when the selection changes.
#[derive(Debug, Clone)]
pub enum Detail {
    Empty,
    Namespace(u32),
    Pod {
        id: PodId,
        effective: Box<Effective>,
    },
    Policy {
        id: PolicyId,
        warnings: Vec<String>,
    },
    /// The tier group: the order of evaluation and the policies in it.
    Tiers,
    Tier(u32),
}

/// A text filter being typed into a list, or in force.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Filter {
    pub input: LineInput,
    pub editing: bool,
}

impl Filter {
    pub fn active(&self) -> bool {
        !self.input.text.trim().is_empty()
    }
}

/// A tree row by name, valid across worlds (a [`RowKind`] is a position in one world).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKey {
    Namespace(String),
    /// `namespace/name`.
    Pod(String),
    /// `namespace/name`.
    Policy(String),
    Tiers,
    /// `Kind/name`.
    Tier(String),
}

/// Where to go back to with Esc after a jump.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Place {
    mode: TreeMode,
    row: Option<RowKey>,
    focus: Pane,
}

impl State {
    /// Scopes the tree and the flows to one namespace (expanded), or to all again.
    pub(super) fn set_scope(&mut self, scope: Option<String>) {
        if let Some(ns) = &scope {
            self.expanded.insert(ns.clone());
        }
        self.flows.scope = scope.clone();
        self.scope = scope;
        self.flows.refilter(false);
        self.cursor = 0;
        self.rebuild_rows();
        match &self.scope {
            Some(ns) => self.say(format!("scoped to namespace {ns}; 0 shows all namespaces")),
            None => self.say("all namespaces"),
        }
    }

    pub(super) fn rebuild_rows(&mut self) {
        let keep = self.selected();
        let q = self.tree_filter.input.text.trim().to_string();
        let inv = self.snapshot.index.inventory().clone();
        let policies = self.snapshot.index.policies().clone();
        let mut rows = Vec::new();
        // Clusterwide policies of the NetworkPolicy tier (Cilium's) sit with the tiers.
        let clusterwide: Vec<(RowKind, String)> = policies
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.namespace.is_empty())
            .map(|(i, p)| (RowKind::Policy(i as u32), p.display_name()))
            .collect();
        if self.tree_mode == TreeMode::Policies
            && (!policies.tiers.is_empty() || !policies.tiers_known || !clusterwide.is_empty())
        {
            let hits: Vec<Row> = policies
                .tiers
                .iter()
                .enumerate()
                .map(|(i, t)| (RowKind::Tier(i as u32), t.short_name()))
                .chain(clusterwide)
                .filter_map(|(kind, name)| {
                    if q.is_empty() {
                        Some(Row {
                            kind,
                            matched: Vec::new(),
                        })
                    } else {
                        self.matcher.score(&name, &q).map(|_| Row {
                            kind,
                            matched: self.matcher.indices(&name, &q),
                        })
                    }
                })
                .collect();
            if q.is_empty() || !hits.is_empty() {
                rows.push(Row {
                    kind: RowKind::Tiers,
                    matched: Vec::new(),
                });
                if !q.is_empty() || self.expanded.contains(TIERS_KEY) {
                    rows.extend(hits);
                }
            }
        }
        for (ni, ns) in self.snapshot.overview.namespaces.iter().enumerate() {
            if self.scope.as_ref().is_some_and(|s| *s != ns.name) {
                continue;
            }
            let children: Vec<RowKind> = match self.tree_mode {
                TreeMode::Pods => ns.pods.iter().map(|&p| RowKind::Pod(p)).collect(),
                TreeMode::Policies => ns.policies.iter().map(|&p| RowKind::Policy(p)).collect(),
            };
            let ns_row = Row {
                kind: RowKind::Namespace(ni as u32),
                matched: Vec::new(),
            };
            if q.is_empty() {
                rows.push(ns_row);
                if self.expanded.contains(&ns.name) {
                    rows.extend(children.into_iter().map(|kind| Row {
                        kind,
                        matched: Vec::new(),
                    }));
                }
                continue;
            }
            // `-l SELECTOR` (kubectl syntax) keeps the pods whose labels it selects.
            if let Some(text) = q.strip_prefix("-l").map(str::trim) {
                let Ok(selector) = crate::policy::selector::Selector::parse(text) else {
                    continue;
                };
                let hits: Vec<Row> = children
                    .into_iter()
                    .filter(|kind| match kind {
                        RowKind::Pod(p) => inv.pods[*p as usize].selected_by(&selector),
                        _ => false,
                    })
                    .map(|kind| Row {
                        kind,
                        matched: Vec::new(),
                    })
                    .collect();
                if !hits.is_empty() {
                    rows.push(ns_row);
                    rows.extend(hits);
                }
                continue;
            }
            // A namespace whose labels hold the query (`/team=payments`) shows all of itself.
            let label_hit = q.contains('=')
                && inv
                    .namespaces
                    .iter()
                    .find(|n| n.name == ns.name)
                    .is_some_and(|n| {
                        n.labels
                            .iter()
                            .any(|(k, v)| format!("{k}={v}").contains(q.as_str()))
                    });
            if label_hit {
                rows.push(ns_row);
                rows.extend(children.into_iter().map(|kind| Row {
                    kind,
                    matched: Vec::new(),
                }));
                continue;
            }
            let ns_hit = self.matcher.score(&ns.name, &q).is_some();
            let mut hits = Vec::new();
            for kind in children {
                let (name, labels) = match kind {
                    RowKind::Pod(p) => (
                        &inv.pods[p as usize].name,
                        Some(&self.snapshot.pod_labels[p as usize]),
                    ),
                    RowKind::Policy(p) => (&policies.policies[p as usize].display_name(), None),
                    RowKind::Namespace(_) | RowKind::Tiers | RowKind::Tier(_) => continue,
                };
                if self.matcher.score(name, &q).is_some() {
                    hits.push(Row {
                        kind,
                        matched: self.matcher.indices(name, &q),
                    });
                } else if let Some(labels) = labels {
                    // Labels count too (`app=web`), but only the name is highlighted.
                    if self.matcher.score(labels, &q).is_some() {
                        hits.push(Row {
                            kind,
                            matched: Vec::new(),
                        });
                    }
                }
            }
            if ns_hit || !hits.is_empty() {
                rows.push(Row {
                    kind: RowKind::Namespace(ni as u32),
                    matched: if ns_hit {
                        self.matcher.indices(&ns.name, &q)
                    } else {
                        Vec::new()
                    },
                });
                rows.extend(hits);
            }
        }
        self.rows = rows;
        self.cursor = keep
            .and_then(|k| self.rows.iter().position(|r| r.kind == k))
            .unwrap_or_else(|| {
                // The first non-namespace row that matched, else where we were.
                if self.tree_filter.active() {
                    self.rows
                        .iter()
                        .position(|r| !matches!(r.kind, RowKind::Namespace(_) | RowKind::Tiers))
                        .unwrap_or(0)
                } else {
                    self.cursor.min(self.rows.len().saturating_sub(1))
                }
            });
        self.scroll_tree_to_cursor();
    }

    pub(super) fn scroll_tree_to_cursor(&mut self) {
        let h = layout::inner_height(self.areas().tree).max(1);
        if self.cursor < self.tree_offset {
            self.tree_offset = self.cursor;
        } else if self.cursor >= self.tree_offset + h {
            self.tree_offset = self.cursor + 1 - h;
        }
        let max_offset = self.rows.len().saturating_sub(h);
        self.tree_offset = self.tree_offset.min(max_offset);
    }

    pub(super) fn move_tree(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.cursor = (self.cursor as isize + delta).clamp(0, last) as usize;
        self.scroll_tree_to_cursor();
        self.refresh_detail();
    }

    pub(super) fn select(&mut self, kind: RowKind) -> bool {
        let ns_name = |s: &State, k: RowKind| -> Option<String> {
            let ov = &s.snapshot.overview;
            match k {
                RowKind::Namespace(n) => ov.namespaces.get(n as usize).map(|n| n.name.clone()),
                RowKind::Pod(p) => ov
                    .pods
                    .get(p as usize)
                    .map(|v| ov.namespaces[v.namespace as usize].name.clone()),
                RowKind::Policy(p) => ov.policies.get(p as usize).map(|v| {
                    ov.namespaces
                        .get(v.namespace as usize)
                        .map_or_else(|| TIERS_KEY.to_string(), |n| n.name.clone())
                }),
                RowKind::Tiers | RowKind::Tier(_) => Some(TIERS_KEY.to_string()),
            }
        };
        let wanted_mode = match kind {
            RowKind::Pod(_) => Some(TreeMode::Pods),
            RowKind::Policy(_) | RowKind::Tiers | RowKind::Tier(_) => Some(TreeMode::Policies),
            RowKind::Namespace(_) => None,
        };
        if let Some(mode) = wanted_mode {
            self.tree_mode = mode;
        }
        if let Some(ns) = ns_name(self, kind) {
            self.expanded.insert(ns);
        }
        if !self.rows.iter().any(|r| r.kind == kind) {
            self.tree_filter = Filter::default();
        }
        self.rebuild_rows();
        match self.rows.iter().position(|r| r.kind == kind) {
            Some(i) => {
                self.cursor = i;
                self.scroll_tree_to_cursor();
                self.refresh_detail();
                true
            }
            None => false,
        }
    }

    pub(super) fn here(&self) -> Place {
        Place {
            mode: self.tree_mode,
            row: self.selected().and_then(|k| self.row_key(k)),
            focus: self.focus,
        }
    }

    pub(super) fn go_back(&mut self) -> bool {
        let Some(place) = self.history.pop() else {
            return false;
        };
        self.tree_mode = place.mode;
        self.rebuild_rows();
        // The object may be gone from the current world: the cursor then stays put.
        if let Some(row) = place.row.and_then(|k| self.resolve(&k)) {
            self.select(row);
        }
        self.focus = place.focus;
        true
    }

    /// Shows a tier policy: remembers where we were, lists policies, selects it.
    pub fn jump_to_tier(&mut self, id: u32) {
        self.history.push(self.here());
        self.select(RowKind::Tier(id));
        self.focus = Pane::Detail;
    }

    /// Shows a policy: remembers where we were, lists policies, selects it.
    pub fn jump_to_policy(&mut self, id: PolicyId) {
        self.history.push(self.here());
        self.select(RowKind::Policy(id));
        self.focus = Pane::Detail;
    }

    pub(super) fn refresh_detail(&mut self) {
        let index = self.snapshot.index.clone();
        let detail = match self.selected() {
            None => Detail::Empty,
            Some(RowKind::Namespace(n)) => Detail::Namespace(n),
            Some(RowKind::Pod(id)) => match &self.detail {
                Detail::Pod { id: old, .. } if *old == id => return,
                _ => Detail::Pod {
                    id,
                    effective: Box::new(effective_with(&index, id, true)),
                },
            },
            Some(RowKind::Policy(id)) => match &self.detail {
                Detail::Policy { id: old, .. } if *old == id => return,
                _ => Detail::Policy {
                    id,
                    warnings: overview::policy_warnings(&index, id),
                },
            },
            Some(RowKind::Tiers) => Detail::Tiers,
            Some(RowKind::Tier(id)) => Detail::Tier(id),
        };
        self.detail = detail;
        self.detail_scroll = 0;
    }
}

/// Goes to a finder entry.
pub(super) fn go_to(state: &mut State, target: Target) {
    match target {
        Target::Namespace(n) => {
            state.select(RowKind::Namespace(n));
            state.focus = Pane::Tree;
        }
        Target::Pod(p) => {
            state.select(RowKind::Pod(p));
            state.focus = Pane::Tree;
        }
        Target::Policy(p) => {
            state.history.push(state.here());
            state.select(RowKind::Policy(p));
            state.focus = Pane::Tree;
        }
        Target::Label(l) => {
            let label = state
                .snapshot
                .labels
                .get(l as usize)
                .cloned()
                .unwrap_or_default();
            state.tree_mode = TreeMode::Pods;
            state.tree_filter = Filter {
                input: LineInput::with(&label),
                editing: false,
            };
            state.focus = Pane::Tree;
            state.rebuild_rows();
            state.refresh_detail();
        }
        Target::Service(i) => {
            let inv = state.snapshot.index.inventory().clone();
            let Some(svc) = inv.services.get(i as usize) else {
                return;
            };
            let Some(selector) = &svc.selector else {
                state.say(match &svc.endpoints {
                    None => format!(
                        "Service {} has no selector: its endpoints are written in \
                         EndpointSlices, which were not read",
                        svc.key()
                    ),
                    Some(e) => format!(
                        "Service {} has no selector: {} ready endpoint(s) in its \
                         EndpointSlices, no pod of its own",
                        svc.key(),
                        e.ready.len()
                    ),
                });
                return;
            };
            // The pods behind it: its namespace, filtered by its selector (kubectl syntax).
            let text: Vec<String> = selector.iter().map(|(k, v)| format!("{k}={v}")).collect();
            let pods = crate::policy::service::selected_pods(&inv, svc).len();
            state.tree_mode = TreeMode::Pods;
            state.tree_filter = Filter {
                input: LineInput::with(&format!("-l {}", text.join(","))),
                editing: false,
            };
            state.set_scope(Some(svc.namespace.clone()));
            state.focus = Pane::Tree;
            state.refresh_detail();
            state.say(format!(
                "Service {}: {pods} pod(s) behind it ({}); e explains a flow to {}",
                svc.key(),
                text.join(","),
                svc.reference()
            ));
        }
        Target::Node(_) => {}
    }
}
