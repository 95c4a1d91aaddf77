//! The UI's state and its one entry point, `update(&mut State, Msg) -> Vec<Command>`.
//!
//! Synchronous and free of I/O: keys, mouse, resizes, flows and snapshots arrive as [`Msg`]s
//! from the terminal loop; what the loop must do in return comes back as [`Command`]s. Views
//! read this state and draw; they never change it. Must not import tokio or the terminal.

pub mod explain_form;
pub mod finder;
pub mod keymap;
pub mod layout;
pub mod overview;
pub mod world;

use std::collections::{BTreeSet, VecDeque};
use std::sync::Arc;

use crossterm::event::{
    KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseButton, MouseEvent, MouseEventKind,
};

use crate::cluster::live;
use crate::flow::{annotate, Annotated, FlowEvent, FlowStore, VerdictFilter};
use crate::policy::effective::{effective, Effective};
use crate::policy::{Index, PodId, PolicyId};
use crate::theme::contexts::ContextRules;
use crate::theme::{Theme, ThemeSet};

pub use explain_form::{ExplainForm, Field};
use finder::{Entry, Hit, LineInput, Matcher, Target};
pub use keymap::Action;
use keymap::Context;
pub use layout::Pane;
pub use world::Snapshot;

/// Everything that can happen to the UI.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// A main-screen action, as a key would give it (tests and the command line use these).
    Action(Action),
    Flow(FlowEvent),
    /// Flow events a source had to drop because the channel was full (a running total).
    FlowsLost(u64),
    /// The clock, a few times a second: rates and ages.
    Tick {
        now_ms: u64,
    },
    /// A new world from the source (a reload, or a change seen by a watch), prepared by the
    /// source's task.
    Snapshot(Arc<Snapshot>),
    /// The live cluster's connection: state, sync time, what is not visible.
    Live(live::Status),
    /// Switching to another context failed; the current one goes on.
    SwitchFailed(String),
    /// SIGTERM, SIGHUP or SIGINT from outside.
    Terminate,
    /// What the last frame found out about sizes it could not know before drawing.
    Rendered {
        detail_lines: usize,
    },
}

/// What the terminal loop must do.
#[derive(Debug, Clone)]
pub enum Command {
    Quit,
    /// Connect to another kubeconfig context and watch it instead.
    SwitchContext(String),
    /// A world the UI no longer shows. Freeing a 10k-pod world takes about 12 ms: the loop
    /// lets it go elsewhere rather than on the UI task.
    Release(Arc<Snapshot>),
}

impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        match (self, other) {
            (Command::Quit, Command::Quit) => true,
            (Command::SwitchContext(a), Command::SwitchContext(b)) => a == b,
            (Command::Release(a), Command::Release(b)) => Arc::ptr_eq(a, b),
            _ => false,
        }
    }
}

/// The live cluster, when it is the source.
#[derive(Debug, Clone)]
pub struct Live {
    pub status: live::Status,
    /// Every context of the kubeconfig.
    pub contexts: Vec<String>,
    /// A context being connected to; until it answers, the data shown is the old one's.
    pub switching: Option<String>,
}

/// Where the data comes from, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceInfo {
    /// `demo`, `files`, or a context name.
    pub kind: String,
    /// Longer words: file count, path.
    pub detail: String,
    /// Whether a flow source is attached.
    pub flows: bool,
}

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
}

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
}

#[derive(Debug, Clone)]
pub enum Overlay {
    Help { scroll: u16 },
    Finder(FinderState),
    Command(LineInput),
    Explain(Box<ExplainForm>),
}

#[derive(Debug, Clone, Default)]
pub struct FinderState {
    pub query: LineInput,
    pub hits: Vec<Hit>,
    pub cursor: usize,
    /// The query the pool was made for, and every entry that matched it.
    pool: Option<(String, Vec<usize>)>,
}

/// How many finder hits are listed.
const FINDER_HITS: usize = 200;

impl FinderState {
    /// The finder with `query` searched afresh over `entries`.
    fn search(matcher: &Matcher, entries: &[Entry], query: LineInput) -> FinderState {
        let (hits, matching) =
            finder::search_within(matcher, entries, None, &query.text, FINDER_HITS);
        FinderState {
            pool: Some((query.text.clone(), matching)),
            query,
            hits,
            cursor: 0,
        }
    }
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

/// The flow list: the store, which flows pass the filters, and where the view is.
#[derive(Debug, Clone)]
pub struct FlowPane {
    pub store: FlowStore,
    /// Sequence numbers (0 = first flow ever) of stored flows that pass the filters.
    pub matched: VecDeque<u64>,
    pub filter: Filter,
    pub verdict: VerdictFilter,
    /// While paused, only flows up to this sequence number are shown.
    pub paused_at: Option<u64>,
    /// Selected flow; `None` follows the newest.
    pub cursor: Option<u64>,
    /// Flows per second over the last few seconds.
    pub rate: f64,
    /// Events the source dropped because the UI fell behind.
    pub lost: u64,
    rate_window: VecDeque<(u64, u64)>,
    /// Lower-case search text of each stored flow, in store order.
    texts: VecDeque<Box<str>>,
    /// The text filter the current `matched` was made with.
    matched_for: String,
}

impl FlowPane {
    pub fn new(capacity: usize) -> FlowPane {
        FlowPane {
            store: FlowStore::new(capacity),
            matched: VecDeque::new(),
            filter: Filter::default(),
            verdict: VerdictFilter::All,
            paused_at: None,
            cursor: None,
            rate: 0.0,
            lost: 0,
            rate_window: VecDeque::new(),
            texts: VecDeque::new(),
            matched_for: String::new(),
        }
    }

    fn first_seq(&self) -> u64 {
        self.store.total - self.store.len() as u64
    }

    pub fn get(&self, seq: u64) -> Option<&Annotated> {
        seq.checked_sub(self.first_seq())
            .and_then(|i| self.store.get(i as usize))
    }

    /// The flows the list shows, oldest first.
    pub fn visible(&self) -> &VecDeque<u64> {
        &self.matched
    }

    /// How many of `visible()` are shown (all of them unless paused).
    pub fn shown_len(&self) -> usize {
        match self.paused_at {
            None => self.matched.len(),
            Some(limit) => self.matched.partition_point(|&s| s < limit),
        }
    }

    /// The positions in `visible()` that a list of `height` rows shows: the newest ones,
    /// or those ending at the selected flow.
    pub fn window(&self, height: usize) -> std::ops::Range<usize> {
        let n = self.shown_len();
        let end = self.cursor_pos().map_or(0, |c| (c + 1).max(height.min(n)));
        end.saturating_sub(height)..end
    }

    /// Position of the selected flow in `visible()`, or the last shown one.
    pub fn cursor_pos(&self) -> Option<usize> {
        let n = self.shown_len();
        if n == 0 {
            return None;
        }
        match self.cursor {
            None => Some(n - 1),
            Some(seq) => Some(self.matched.partition_point(|&s| s < seq).min(n - 1)),
        }
    }

    /// Flows are long lines, where fuzzy matching admits nearly everything: the flow filter
    /// keeps the flows whose text holds every word of the query (case-insensitive).
    fn admits(&self, words: &[String], outcome: crate::flow::Outcome, text: &str) -> bool {
        self.verdict.admits(outcome) && words.iter().all(|w| text.contains(w.as_str()))
    }

    fn words(&self) -> Vec<String> {
        self.filter
            .input
            .text
            .to_lowercase()
            .split_whitespace()
            .map(str::to_string)
            .collect()
    }

    /// Recomputes `matched`. When only words were typed onto the end of the query (same
    /// verdict filter), the current matches are narrowed instead of scanning every flow.
    fn refilter(&mut self, narrow: bool) {
        let words = self.words();
        let first = self.first_seq();
        let query = self.filter.input.text.to_lowercase();
        let narrowing = narrow && query.starts_with(&self.matched_for);
        self.matched = if narrowing {
            let old = std::mem::take(&mut self.matched);
            old.into_iter()
                .filter(|&q| {
                    let i = (q - first) as usize;
                    self.store
                        .get(i)
                        .is_some_and(|f| self.admits(&words, f.outcome, &self.texts[i]))
                })
                .collect()
        } else {
            self.store
                .iter()
                .zip(&self.texts)
                .enumerate()
                .filter(|(_, (f, t))| self.admits(&words, f.outcome, t))
                .map(|(i, _)| first + i as u64)
                .collect()
        };
        self.matched_for = query;
    }

    fn push(&mut self, f: Annotated) {
        let text: Box<str> = flow_text(&f).to_lowercase().into();
        let admitted = self.admits(&self.words(), f.outcome, &text);
        if self.store.len() == self.store.capacity() {
            self.texts.pop_front();
        }
        self.store.push(f);
        self.texts.push_back(text);
        let first = self.first_seq();
        while self.matched.front().is_some_and(|&s| s < first) {
            self.matched.pop_front();
        }
        if admitted {
            self.matched.push_back(self.store.total - 1);
        }
    }
}

/// The words a flow filter matches against.
pub fn flow_text(f: &Annotated) -> String {
    format!(
        "{} {} {}/{} {} {}",
        f.src_name,
        f.dst_name,
        f.event.protocol,
        f.event.dst_port,
        f.outcome.as_str(),
        f.policies.join(" ")
    )
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
}

/// A tree row by name, valid across worlds (a [`RowKind`] is a position in one world).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RowKey {
    Namespace(String),
    /// `namespace/name`.
    Pod(String),
    /// `namespace/name`.
    Policy(String),
}

/// Where to go back to with Esc after a jump.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Place {
    mode: TreeMode,
    row: Option<RowKey>,
    focus: Pane,
}

#[derive(Debug, Clone)]
pub struct State {
    /// The current world. Replaced only by [`State::set_world`], which rebuilds everything
    /// that points into it.
    pub snapshot: Arc<Snapshot>,
    pub source: SourceInfo,
    pub size: (u16, u16),
    pub focus: Pane,
    pub zoom: Option<Pane>,
    pub tree_mode: TreeMode,
    pub expanded: BTreeSet<String>,
    pub tree_filter: Filter,
    pub rows: Vec<Row>,
    pub cursor: usize,
    /// First row on screen.
    pub tree_offset: usize,
    pub detail: Detail,
    pub detail_scroll: u16,
    detail_lines: usize,
    pub flows: FlowPane,
    pub overlay: Option<Overlay>,
    pub themes: ThemeSet,
    pub theme: Theme,
    /// The theme the user chose; a context rule may show another one or recolour its frame.
    chosen_theme: String,
    pub context_rules: ContextRules,
    pub live: Option<Live>,
    /// The next world is another context's: open all its namespaces, as at start.
    new_context: bool,
    pub message: Option<Message>,
    pub now_ms: u64,
    pub quit: bool,
    history: Vec<Place>,
    matcher: Matcher,
}

impl State {
    pub fn new(
        snapshot: Arc<Snapshot>,
        source: SourceInfo,
        themes: ThemeSet,
        theme: Theme,
    ) -> State {
        let expanded = snapshot
            .overview
            .namespaces
            .iter()
            .map(|n| n.name.clone())
            .collect();
        let mut s = State {
            snapshot,
            source,
            size: (120, 40),
            focus: Pane::Tree,
            zoom: None,
            tree_mode: TreeMode::Pods,
            expanded,
            tree_filter: Filter::default(),
            rows: Vec::new(),
            cursor: 0,
            tree_offset: 0,
            detail: Detail::Empty,
            detail_scroll: 0,
            detail_lines: 0,
            flows: FlowPane::new(FlowStore::DEFAULT_CAPACITY),
            overlay: None,
            themes,
            chosen_theme: theme.name.clone(),
            theme,
            context_rules: ContextRules::default(),
            live: None,
            new_context: false,
            message: None,
            now_ms: 0,
            quit: false,
            history: Vec::new(),
            matcher: Matcher::default(),
        };
        s.rebuild_rows();
        s.refresh_detail();
        s
    }

    /// Starts on one namespace: selected and the only one expanded.
    pub fn start_at_namespace(&mut self, name: &str) -> bool {
        let Some(i) = self
            .snapshot
            .overview
            .namespaces
            .iter()
            .position(|n| n.name == name)
        else {
            return false;
        };
        self.expanded = [name.to_string()].into();
        self.select(RowKind::Namespace(i as u32))
    }

    pub fn index(&self) -> &Index {
        &self.snapshot.index
    }

    pub fn areas(&self) -> layout::Areas {
        layout::areas(self.size.0, self.size.1, self.zoom)
    }

    pub fn selected(&self) -> Option<RowKind> {
        self.rows.get(self.cursor).map(|r| r.kind)
    }

    /// The selected pod, if a pod row is selected.
    pub fn selected_pod(&self) -> Option<PodId> {
        match self.selected() {
            Some(RowKind::Pod(p)) => Some(p),
            _ => None,
        }
    }

    fn pane_context(&self) -> Context {
        match self.focus {
            Pane::Tree => Context::Tree,
            Pane::Detail => Context::Main,
            Pane::Flows => Context::Flows,
        }
    }

    fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
        });
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
        });
    }

    // ---- the tree -------------------------------------------------------------------

    fn rebuild_rows(&mut self) {
        let keep = self.selected();
        let q = self.tree_filter.input.text.trim().to_string();
        let inv = self.snapshot.index.inventory().clone();
        let policies = self.snapshot.index.policies().clone();
        let mut rows = Vec::new();
        for (ni, ns) in self.snapshot.overview.namespaces.iter().enumerate() {
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
            let ns_hit = self.matcher.score(&ns.name, &q).is_some();
            let mut hits = Vec::new();
            for kind in children {
                let (name, labels) = match kind {
                    RowKind::Pod(p) => (
                        &inv.pods[p as usize].name,
                        Some(&self.snapshot.pod_labels[p as usize]),
                    ),
                    RowKind::Policy(p) => (&policies.policies[p as usize].name, None),
                    RowKind::Namespace(_) => continue,
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
                        .position(|r| !matches!(r.kind, RowKind::Namespace(_)))
                        .unwrap_or(0)
                } else {
                    self.cursor.min(self.rows.len().saturating_sub(1))
                }
            });
        self.scroll_tree_to_cursor();
    }

    fn scroll_tree_to_cursor(&mut self) {
        let h = layout::inner_height(self.areas().tree).max(1);
        if self.cursor < self.tree_offset {
            self.tree_offset = self.cursor;
        } else if self.cursor >= self.tree_offset + h {
            self.tree_offset = self.cursor + 1 - h;
        }
        let max_offset = self.rows.len().saturating_sub(h);
        self.tree_offset = self.tree_offset.min(max_offset);
    }

    fn move_tree(&mut self, delta: isize) {
        if self.rows.is_empty() {
            return;
        }
        let last = self.rows.len() as isize - 1;
        self.cursor = (self.cursor as isize + delta).clamp(0, last) as usize;
        self.scroll_tree_to_cursor();
        self.refresh_detail();
    }

    fn select(&mut self, kind: RowKind) -> bool {
        let ns_name = |s: &State, k: RowKind| -> Option<String> {
            let ov = &s.snapshot.overview;
            match k {
                RowKind::Namespace(n) => ov.namespaces.get(n as usize).map(|n| n.name.clone()),
                RowKind::Pod(p) => ov
                    .pods
                    .get(p as usize)
                    .map(|v| ov.namespaces[v.namespace as usize].name.clone()),
                RowKind::Policy(p) => ov
                    .policies
                    .get(p as usize)
                    .map(|v| ov.namespaces[v.namespace as usize].name.clone()),
            }
        };
        let wanted_mode = match kind {
            RowKind::Pod(_) => Some(TreeMode::Pods),
            RowKind::Policy(_) => Some(TreeMode::Policies),
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

    fn here(&self) -> Place {
        Place {
            mode: self.tree_mode,
            row: self.selected().and_then(|k| self.row_key(k)),
            focus: self.focus,
        }
    }

    fn go_back(&mut self) -> bool {
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

    /// Shows a policy: remembers where we were, lists policies, selects it.
    pub fn jump_to_policy(&mut self, id: PolicyId) {
        self.history.push(self.here());
        self.select(RowKind::Policy(id));
        self.focus = Pane::Detail;
    }

    fn refresh_detail(&mut self) {
        let index = self.snapshot.index.clone();
        let detail = match self.selected() {
            None => Detail::Empty,
            Some(RowKind::Namespace(n)) => Detail::Namespace(n),
            Some(RowKind::Pod(id)) => match &self.detail {
                Detail::Pod { id: old, .. } if *old == id => return,
                _ => Detail::Pod {
                    id,
                    effective: Box::new(effective(&index, id)),
                },
            },
            Some(RowKind::Policy(id)) => match &self.detail {
                Detail::Policy { id: old, .. } if *old == id => return,
                _ => Detail::Policy {
                    id,
                    warnings: overview::policy_warnings(&index, &self.snapshot.overview, id),
                },
            },
        };
        self.detail = detail;
        self.detail_scroll = 0;
    }

    // ---- snapshots and flows ----------------------------------------------------------

    /// Starts on a live cluster: its first status and the kubeconfig's contexts.
    pub fn attach_live(&mut self, status: live::Status, contexts: Vec<String>) {
        if let Some(first) = status.hidden.first() {
            let more = status.hidden.len() - 1;
            self.complain(if more > 0 {
                format!("not visible: {first} (and {more} more; :ctx lists them)")
            } else {
                format!("not visible: {first}")
            });
        }
        self.live = Some(Live {
            status,
            contexts,
            switching: None,
        });
        self.apply_look();
    }

    fn set_live_status(&mut self, status: live::Status) {
        let Some(live) = &mut self.live else {
            return;
        };
        let changed = live.status.context != status.context;
        if live.switching.as_deref() == Some(status.context.as_str()) {
            live.switching = None;
        }
        live.status = status;
        if changed {
            self.new_context = true;
            let context = live.status.context.clone();
            let hidden = live.status.hidden.len();
            self.apply_look();
            if hidden > 0 {
                self.complain(format!(
                    "context {context}: {hidden} thing(s) not visible (:ctx lists them)"
                ));
            } else {
                self.say(format!("context {context}"));
            }
        }
    }

    /// The chosen theme, or the one a context rule gives, with the rule's frame colour.
    fn apply_look(&mut self) {
        let rule = self
            .live
            .as_ref()
            .and_then(|l| self.context_rules.find(&l.status.context))
            .cloned();
        let name = rule
            .as_ref()
            .and_then(|r| r.theme.clone())
            .unwrap_or_else(|| self.chosen_theme.clone());
        let base = self
            .themes
            .get(&name)
            .or_else(|| self.themes.get(&self.chosen_theme))
            .cloned()
            .unwrap_or_else(|| self.theme.clone());
        self.theme = match rule.and_then(|r| r.frame) {
            Some(color) => base.with_frame(color),
            None => base,
        };
    }

    /// The rule matching the live context, if any: the status bar shows the context in its
    /// frame colour.
    pub fn context_frame(&self) -> Option<ratatui::style::Color> {
        let live = self.live.as_ref()?;
        self.context_rules.find(&live.status.context)?.frame
    }

    /// Replaces the world and returns the old one. Whatever pointed into the old one is found
    /// again by name in the new one: the selection, the detail, an open dialog (run again on
    /// the new world).
    pub fn set_world(&mut self, snapshot: Arc<Snapshot>) -> Arc<Snapshot> {
        let keep = self.selected().and_then(|k| self.row_key(k));
        let old = std::mem::replace(&mut self.snapshot, snapshot);
        if std::mem::take(&mut self.new_context) {
            self.expanded = self
                .snapshot
                .overview
                .namespaces
                .iter()
                .map(|n| n.name.clone())
                .collect();
        }
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
        self.scroll_tree_to_cursor();
        self.refresh_detail();
        self.overlay = self.overlay.take().map(|o| self.rebase_overlay(o));
        old
    }

    /// An open dialog, brought to the current world: the finder searches again, the explain
    /// dialog takes its suggestions from the new world and runs again if it had an answer.
    fn rebase_overlay(&self, overlay: Overlay) -> Overlay {
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
            other @ (Overlay::Help { .. } | Overlay::Command(_)) => other,
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
                index.policy_id(ns, name).map(RowKind::Policy)
            }
        }
    }

    fn add_flow(&mut self, event: FlowEvent) {
        let f = annotate(&self.snapshot.index, &self.snapshot.names, event);
        self.flows.push(f);
    }

    fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        let w = &mut self.flows.rate_window;
        w.push_back((now_ms, self.flows.store.total));
        while w.len() > 2
            && w.front()
                .is_some_and(|&(t, _)| now_ms.saturating_sub(t) > 5000)
        {
            w.pop_front();
        }
        if let (Some(&(t0, n0)), Some(&(t1, n1))) = (w.front(), w.back()) {
            if t1 > t0 {
                self.flows.rate = (n1 - n0) as f64 * 1000.0 / (t1 - t0) as f64;
            }
        }
    }

    fn move_flows(&mut self, delta: isize) {
        let n = self.flows.shown_len();
        if n == 0 {
            return;
        }
        let pos = self.flows.cursor_pos().unwrap_or(n - 1) as isize;
        let new = (pos + delta).clamp(0, n as isize - 1) as usize;
        // Moving onto the newest flow while not paused means: follow again.
        self.flows.cursor = if new == n - 1 && self.flows.paused_at.is_none() {
            None
        } else {
            Some(self.flows.matched[new])
        };
    }

    fn page(&self, pane: Pane) -> isize {
        (layout::inner_height(self.areas().of(pane)).max(2) - 1) as isize
    }

    // ---- explain -----------------------------------------------------------------------

    fn open_explain(&mut self, form: ExplainForm) {
        self.overlay = Some(Overlay::Explain(Box::new(form)));
    }

    fn explain_selected_flow(&mut self) {
        let Some(pos) = self.flows.cursor_pos() else {
            self.say("no flow selected");
            return;
        };
        let seq = self.flows.matched[pos];
        let Some(f) = self.flows.get(seq).cloned() else {
            return;
        };
        let mut form = ExplainForm::for_flow(&f);
        form.run(&self.snapshot.index);
        self.open_explain(form);
    }
}

/// The one way state changes.
pub fn update(state: &mut State, msg: Msg) -> Vec<Command> {
    match msg {
        Msg::Key(key) => {
            // Only presses: terminals that report releases would double every key.
            if key.kind != KeyEventKind::Press {
                return Vec::new();
            }
            state.message = None;
            key_event(state, key)
        }
        Msg::Mouse(m) => {
            mouse(state, m);
            Vec::new()
        }
        Msg::Resize(w, h) => {
            state.size = (w, h);
            state.scroll_tree_to_cursor();
            Vec::new()
        }
        Msg::Action(a) => {
            state.message = None;
            action(state, a)
        }
        Msg::Flow(event) => {
            state.add_flow(event);
            Vec::new()
        }
        Msg::FlowsLost(n) => {
            state.flows.lost = n;
            Vec::new()
        }
        Msg::Tick { now_ms } => {
            state.tick(now_ms);
            Vec::new()
        }
        Msg::Snapshot(snapshot) => vec![Command::Release(state.set_world(snapshot))],
        Msg::Live(status) => {
            state.set_live_status(status);
            Vec::new()
        }
        Msg::SwitchFailed(error) => {
            if let Some(live) = &mut state.live {
                live.switching = None;
            }
            state.complain(error);
            Vec::new()
        }
        Msg::Terminate => {
            state.quit = true;
            vec![Command::Quit]
        }
        Msg::Rendered { detail_lines } => {
            state.detail_lines = detail_lines;
            Vec::new()
        }
    }
}

fn key_event(state: &mut State, key: KeyEvent) -> Vec<Command> {
    // Ctrl-C quits from anywhere, dialogs included.
    if key.code == KeyCode::Char('c') && key.modifiers == KeyModifiers::CONTROL {
        state.quit = true;
        return vec![Command::Quit];
    }
    if state.overlay.is_some() {
        return overlay_key(state, key);
    }
    if state.tree_filter.editing || state.flows.filter.editing {
        filter_key(state, key);
        return Vec::new();
    }
    match keymap::lookup(key, state.pane_context()) {
        Some(a) => action(state, a),
        None => Vec::new(),
    }
}

fn action(state: &mut State, a: Action) -> Vec<Command> {
    match a {
        Action::Quit => {
            state.quit = true;
            return vec![Command::Quit];
        }
        Action::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::FocusNext => {
            state.focus = state.focus.next();
            if state.zoom.is_some() {
                state.zoom = Some(state.focus);
            }
        }
        Action::FocusPrev => {
            state.focus = state.focus.prev();
            if state.zoom.is_some() {
                state.zoom = Some(state.focus);
            }
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => {
            let page = state.page(state.focus);
            let delta = match a {
                Action::Up => -1,
                Action::Down => 1,
                Action::PageUp => -page,
                Action::PageDown => page,
                Action::Top => isize::MIN / 2,
                _ => isize::MAX / 2,
            };
            match state.focus {
                Pane::Tree => state.move_tree(delta),
                Pane::Detail => {
                    let max = state
                        .detail_lines
                        .saturating_sub(layout::inner_height(state.areas().detail))
                        as isize;
                    state.detail_scroll = (state.detail_scroll as isize + delta)
                        .clamp(0, max.max(0))
                        .min(u16::MAX as isize) as u16;
                }
                Pane::Flows => state.move_flows(delta),
            }
        }
        Action::Expand | Action::Collapse => {
            if let Some(RowKind::Namespace(n)) = state.selected() {
                let name = state.snapshot.overview.namespaces[n as usize].name.clone();
                if a == Action::Expand {
                    state.expanded.insert(name);
                } else {
                    state.expanded.remove(&name);
                }
                state.rebuild_rows();
            } else if a == Action::Collapse {
                // From a child row, go up to its namespace.
                if let Some(i) = state.rows[..state.cursor.min(state.rows.len())]
                    .iter()
                    .rposition(|r| matches!(r.kind, RowKind::Namespace(_)))
                {
                    state.cursor = i;
                    state.scroll_tree_to_cursor();
                    state.refresh_detail();
                }
            } else {
                state.focus = Pane::Detail;
            }
        }
        Action::Enter => match state.focus {
            Pane::Tree => match state.selected() {
                Some(RowKind::Namespace(n)) => {
                    let name = state.snapshot.overview.namespaces[n as usize].name.clone();
                    if !state.expanded.remove(&name) {
                        state.expanded.insert(name);
                    }
                    state.rebuild_rows();
                }
                Some(_) => state.focus = Pane::Detail,
                None => {}
            },
            Pane::Detail => {
                if let Some(pod) = state.selected_pod() {
                    let mut form = ExplainForm::new(&state.snapshot);
                    form.to = LineInput::with(&state.index().inventory().pods[pod as usize].key());
                    form.field = Field::From;
                    form.refresh_picks(&state.matcher);
                    state.open_explain(form);
                }
            }
            Pane::Flows => state.explain_selected_flow(),
        },
        Action::Back => {
            if state.zoom.take().is_some() {
            } else if state.focus == Pane::Flows && state.flows.filter.active() {
                state.flows.filter = Filter::default();
                state.flows.refilter(false);
            } else if state.focus == Pane::Tree && state.tree_filter.active() {
                state.tree_filter = Filter::default();
                state.rebuild_rows();
            } else if state.go_back() {
            } else if state.focus != Pane::Tree {
                state.focus = Pane::Tree;
            }
        }
        Action::Filter => match state.focus {
            Pane::Flows => state.flows.filter.editing = true,
            _ => {
                state.focus = Pane::Tree;
                state.tree_filter.editing = true;
            }
        },
        Action::Finder => {
            state.overlay = Some(Overlay::Finder(FinderState::search(
                &state.matcher,
                &state.snapshot.entries,
                LineInput::default(),
            )));
        }
        Action::CommandLine => state.overlay = Some(Overlay::Command(LineInput::default())),
        Action::Explain => {
            let mut form = ExplainForm::new(&state.snapshot);
            if let Some(pod) = state.selected_pod() {
                form.from = LineInput::with(&state.index().inventory().pods[pod as usize].key());
                form.field = Field::To;
            }
            form.refresh_picks(&state.matcher);
            state.open_explain(form);
        }
        Action::Pause => {
            let f = &mut state.flows;
            if f.paused_at.take().is_none() {
                f.paused_at = Some(f.store.total);
                state.say("flows paused: Space to resume");
            } else {
                f.cursor = None;
            }
        }
        Action::VerdictFilter => {
            state.flows.verdict = state.flows.verdict.next();
            state.flows.refilter(false);
            state.flows.cursor = None;
            let label = state.flows.verdict.label();
            state.say(format!("flows: showing {label}"));
        }
        Action::Zoom => {
            state.zoom = match state.zoom {
                Some(_) => None,
                None => Some(state.focus),
            };
            state.scroll_tree_to_cursor();
        }
        Action::NextTheme => {
            let names = state.themes.names();
            let i = names
                .iter()
                .position(|n| *n == state.theme.name)
                .map_or(0, |i| (i + 1) % names.len());
            set_theme(state, &names[i]);
        }
        Action::ShowPods | Action::ShowPolicies => {
            state.tree_mode = if a == Action::ShowPods {
                TreeMode::Pods
            } else {
                TreeMode::Policies
            };
            state.rebuild_rows();
            state.refresh_detail();
        }
    }
    Vec::new()
}

fn set_theme(state: &mut State, name: &str) {
    match state.themes.get(name) {
        Some(_) => {
            state.chosen_theme = name.to_string();
            state.apply_look();
            state.say(format!("theme {name}"));
        }
        None => {
            let names = state.themes.names().join(", ");
            state.complain(format!("no theme {name:?}; there are: {names}"));
        }
    }
}

/// Typing into a list's `/` filter: the list narrows with every key.
fn filter_key(state: &mut State, key: KeyEvent) {
    let in_flows = state.flows.filter.editing;
    let filter = if in_flows {
        &mut state.flows.filter
    } else {
        &mut state.tree_filter
    };
    match (key.code, key.modifiers) {
        (KeyCode::Esc, _) => *filter = Filter::default(),
        (KeyCode::Enter, _) => filter.editing = false,
        (KeyCode::Backspace, _) => filter.input.backspace(),
        (KeyCode::Char('w'), KeyModifiers::CONTROL) => filter.input.delete_word(),
        (KeyCode::Char('u'), KeyModifiers::CONTROL) => filter.input.clear(),
        (KeyCode::Char(c), m) if !m.contains(KeyModifiers::CONTROL) => filter.input.push(c),
        (KeyCode::Down, _) | (KeyCode::Up, _) => {
            filter.editing = false;
            let delta = if key.code == KeyCode::Down { 1 } else { -1 };
            if in_flows {
                state.move_flows(delta);
            } else {
                state.move_tree(delta);
            }
            return;
        }
        _ => return,
    }
    if in_flows {
        state.flows.refilter(true);
        state.flows.cursor = None;
    } else {
        state.rebuild_rows();
        state.refresh_detail();
    }
}

fn overlay_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Some(overlay) = state.overlay.take() else {
        return Vec::new();
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match overlay {
        Overlay::Help { scroll } => match key.code {
            KeyCode::Down | KeyCode::Char('j') => {
                state.overlay = Some(Overlay::Help {
                    scroll: scroll.saturating_add(1),
                })
            }
            KeyCode::Up | KeyCode::Char('k') => {
                state.overlay = Some(Overlay::Help {
                    scroll: scroll.saturating_sub(1),
                })
            }
            KeyCode::PageDown => {
                state.overlay = Some(Overlay::Help {
                    scroll: scroll.saturating_add(10),
                })
            }
            KeyCode::PageUp => {
                state.overlay = Some(Overlay::Help {
                    scroll: scroll.saturating_sub(10),
                })
            }
            // Any other key closes help.
            _ => {}
        },
        Overlay::Finder(mut f) => {
            let mut requery = false;
            match key.code {
                KeyCode::Esc => return Vec::new(),
                KeyCode::Enter => {
                    if let Some(hit) = f.hits.get(f.cursor) {
                        let target = state.snapshot.entries[hit.entry].target;
                        go_to(state, target);
                    }
                    return Vec::new();
                }
                KeyCode::Down => f.cursor = (f.cursor + 1).min(f.hits.len().saturating_sub(1)),
                KeyCode::Up => f.cursor = f.cursor.saturating_sub(1),
                KeyCode::Char('n') if ctrl => {
                    f.cursor = (f.cursor + 1).min(f.hits.len().saturating_sub(1))
                }
                KeyCode::Char('p') if ctrl => f.cursor = f.cursor.saturating_sub(1),
                KeyCode::Char('w') if ctrl => {
                    f.query.delete_word();
                    requery = true;
                }
                KeyCode::Char('u') if ctrl => {
                    f.query.clear();
                    requery = true;
                }
                KeyCode::Backspace => {
                    f.query.backspace();
                    requery = true;
                }
                KeyCode::Char(c) if !ctrl => {
                    f.query.push(c);
                    requery = true;
                }
                _ => {}
            }
            if requery {
                // A longer query matches a subset of what the shorter one did.
                let pool = f
                    .pool
                    .as_ref()
                    .filter(|(q, _)| !q.trim().is_empty() && f.query.text.starts_with(q.as_str()))
                    .map(|(_, p)| p.as_slice());
                let (hits, matching) = finder::search_within(
                    &state.matcher,
                    &state.snapshot.entries,
                    pool,
                    &f.query.text,
                    FINDER_HITS,
                );
                f.hits = hits;
                f.pool = Some((f.query.text.clone(), matching));
                f.cursor = 0;
            }
            state.overlay = Some(Overlay::Finder(f));
        }
        Overlay::Command(mut line) => match key.code {
            KeyCode::Esc => {}
            KeyCode::Enter => return run_command(state, &line.text),
            KeyCode::Tab => {
                complete_command(state, &mut line);
                state.overlay = Some(Overlay::Command(line));
            }
            KeyCode::Backspace => {
                if !line.text.is_empty() {
                    line.backspace();
                    state.overlay = Some(Overlay::Command(line));
                }
            }
            KeyCode::Char('w') if ctrl => {
                line.delete_word();
                state.overlay = Some(Overlay::Command(line));
            }
            KeyCode::Char('u') if ctrl => {
                line.clear();
                state.overlay = Some(Overlay::Command(line));
            }
            KeyCode::Char(c) if !ctrl => {
                line.push(c);
                state.overlay = Some(Overlay::Command(line));
            }
            _ => state.overlay = Some(Overlay::Command(line)),
        },
        Overlay::Explain(mut form) => match form.key(key, &state.snapshot, &state.matcher) {
            explain_form::Outcome::Stay => state.overlay = Some(Overlay::Explain(form)),
            explain_form::Outcome::Close => {}
            explain_form::Outcome::JumpTo(policy) => state.jump_to_policy(policy),
        },
    }
    Vec::new()
}

/// Goes to a finder entry.
fn go_to(state: &mut State, target: Target) {
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
        Target::Node(_) => {}
    }
}

/// Commands of the `:` line, with what they do (help shows this list).
pub const COMMANDS: &[(&str, &str)] = &[
    ("ns [NAME]", "namespaces; with a name, go to it"),
    (
        "pod [NAME]",
        "pods under their namespaces; with a name, go to the best match",
    ),
    (
        "netpol [NAME]",
        "policies under their namespaces; with a name, go to it",
    ),
    (
        "explain [FROM [TO [PORT [PROTO]]]]",
        "the explain dialog, run at once when complete",
    ),
    ("flows", "focus the flow list"),
    ("theme [NAME]", "switch theme; without a name, list them"),
    (
        "ctx [NAME]",
        "switch kubeconfig context; without a name, list them and what is not visible",
    ),
    ("help", "this help"),
    ("q", "quit"),
];

const COMMAND_WORDS: &[&str] = &[
    "ns", "pod", "netpol", "explain", "flows", "theme", "ctx", "help", "quit",
];

fn complete_command(state: &State, line: &mut LineInput) {
    let text = line.text.trim_start().to_string();
    let (word, rest) = match text.split_once(' ') {
        Some((w, r)) => (w, Some(r)),
        None => (text.as_str(), None),
    };
    let candidates: Vec<String> = match rest {
        None => COMMAND_WORDS.iter().map(|s| s.to_string()).collect(),
        Some(_) if word == "theme" => state.themes.names(),
        Some(_) if word == "ctx" => state
            .live
            .as_ref()
            .map(|l| l.contexts.clone())
            .unwrap_or_default(),
        Some(_) => return,
    };
    let partial = rest.unwrap_or(word);
    let found: Vec<&String> = candidates
        .iter()
        .filter(|c| c.starts_with(partial))
        .collect();
    if let [one] = found.as_slice() {
        line.text = match rest {
            None => format!("{one} "),
            Some(_) => format!("{word} {one}"),
        };
    }
}

fn best(state: &State, kinds: &[&str], query: &str) -> Option<Target> {
    let hits = finder::search(&state.matcher, &state.snapshot.entries, query, 500);
    hits.into_iter()
        .map(|h| state.snapshot.entries[h.entry].target)
        .find(|t| kinds.contains(&t.kind()))
}

/// `:pod` / `:netpol`: without a name, list that kind in the tree; with one, go to the best
/// match of `kind` (a finder kind: `pod`, `netpol`).
fn list_or_go(state: &mut State, arg: &str, list: Action, kind: &str) {
    if arg.is_empty() {
        action(state, list);
        state.focus = Pane::Tree;
        return;
    }
    match best(state, &[kind], arg) {
        Some(t) => go_to(state, t),
        None => {
            let what = if kind == "netpol" { "policy" } else { kind };
            state.complain(format!("no {what} matches {arg:?}"));
        }
    }
}

fn run_command(state: &mut State, text: &str) -> Vec<Command> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let Some((&cmd, args)) = words.split_first() else {
        return Vec::new();
    };
    let arg = args.join(" ");
    match cmd {
        "q" | "q!" | "quit" | "exit" => {
            state.quit = true;
            return vec![Command::Quit];
        }
        "help" | "h" | "?" => state.overlay = Some(Overlay::Help { scroll: 0 }),
        "ns" | "namespace" | "namespaces" => {
            state.tree_filter = Filter::default();
            state.focus = Pane::Tree;
            if arg.is_empty() {
                state.expanded.clear();
                state.rebuild_rows();
                state.refresh_detail();
            } else {
                match best(state, &["ns"], &arg) {
                    Some(t) => go_to(state, t),
                    None => state.complain(format!("no namespace matches {arg:?}")),
                }
            }
        }
        "pod" | "pods" | "po" => list_or_go(state, &arg, Action::ShowPods, "pod"),
        "netpol" | "netpols" | "np" | "policy" | "policies" | "networkpolicy" => {
            list_or_go(state, &arg, Action::ShowPolicies, "netpol")
        }
        "explain" | "x" => {
            let mut form = ExplainForm::new(&state.snapshot);
            let fields = [&mut form.from, &mut form.to, &mut form.port];
            for (input, value) in fields.into_iter().zip(args.iter()) {
                *input = LineInput::with(value);
            }
            if let Some(p) = args.get(3) {
                match crate::policy::Protocol::parse(p) {
                    Some(p) => form.protocol = p,
                    None => {
                        state.complain(format!("unknown protocol {p:?}: use TCP, UDP or SCTP"));
                        return Vec::new();
                    }
                }
            }
            if args.len() >= 3 {
                form.run(&state.snapshot.index);
            } else {
                form.field = [Field::From, Field::To, Field::Port][args.len()];
                form.refresh_picks(&state.matcher);
            }
            state.open_explain(form);
        }
        "flows" | "flow" => {
            state.focus = Pane::Flows;
        }
        "theme" | "skin" => {
            if arg.is_empty() {
                let names = state.themes.names().join(", ");
                state.say(format!("themes: {names} (now: {})", state.theme.name));
            } else {
                set_theme(state, &arg);
            }
        }
        "ctx" | "context" | "use-context" => return context_command(state, &arg),
        other => state.complain(format!(
            "unknown command :{other}; try :ns :pod :netpol :explain :flows :theme :ctx :q (? for help)"
        )),
    }
    Vec::new()
}

/// `:ctx`: lists contexts (and what the current one cannot see), or switches.
fn context_command(state: &mut State, arg: &str) -> Vec<Command> {
    let Some(live) = &mut state.live else {
        state.complain(format!(
            ":ctx needs a live cluster; this view shows {} ({})",
            state.source.kind, state.source.detail
        ));
        return Vec::new();
    };
    let current = live.status.context.clone();
    if arg.is_empty() {
        let mut text = format!("contexts: {} (now: {current})", live.contexts.join(", "));
        if !live.status.hidden.is_empty() {
            text.push_str(&format!(
                " · not visible: {}",
                live.status.hidden.join("; ")
            ));
        }
        state.say(text);
        return Vec::new();
    }
    if arg == current {
        state.say(format!("already on context {current}"));
        return Vec::new();
    }
    if !live.contexts.iter().any(|c| c == arg) {
        let known = live.contexts.join(", ");
        state.complain(format!("no context {arg:?}; there are: {known}"));
        return Vec::new();
    }
    live.switching = Some(arg.to_string());
    state.say(format!("connecting to {arg}…"));
    vec![Command::SwitchContext(arg.to_string())]
}

fn mouse(state: &mut State, m: MouseEvent) {
    let areas = state.areas();
    if state.overlay.is_some() || areas.too_small {
        // Dialogs are keyboard-driven; the wheel scrolls help and explain results.
        if let Some(Overlay::Help { scroll }) = &mut state.overlay {
            match m.kind {
                MouseEventKind::ScrollDown => *scroll = scroll.saturating_add(3),
                MouseEventKind::ScrollUp => *scroll = scroll.saturating_sub(3),
                _ => {}
            }
        }
        if let Some(Overlay::Explain(form)) = &mut state.overlay {
            match m.kind {
                MouseEventKind::ScrollDown => form.scroll = form.scroll.saturating_add(3),
                MouseEventKind::ScrollUp => form.scroll = form.scroll.saturating_sub(3),
                _ => {}
            }
        }
        return;
    }
    let Some(pane) = areas.hit(m.column, m.row) else {
        return;
    };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.focus = pane;
            let inner_top = areas.of(pane).y + 1;
            if m.row < inner_top {
                return;
            }
            let line = (m.row - inner_top) as usize;
            match pane {
                Pane::Tree => {
                    let i = state.tree_offset + line;
                    if i < state.rows.len() {
                        state.cursor = i;
                        state.refresh_detail();
                    }
                }
                Pane::Flows => {
                    let window = state.flows.window(layout::inner_height(areas.flows));
                    let i = window.start + line;
                    if i < window.end {
                        state.flows.cursor = Some(state.flows.matched[i]);
                    }
                }
                Pane::Detail => {}
            }
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            // Three rows per notch, in the pane under the pointer, keeping the focus.
            let step = if m.kind == MouseEventKind::ScrollDown {
                Action::Down
            } else {
                Action::Up
            };
            let focus = state.focus;
            state.focus = pane;
            for _ in 0..3 {
                action(state, step);
            }
            state.focus = focus;
        }
        _ => {}
    }
}
