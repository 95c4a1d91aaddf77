//! The UI's state and its one entry point, `update(&mut State, Msg) -> Vec<Command>`.
//!
//! Synchronous and free of I/O: keys, mouse, resizes, flows and prepared worlds arrive as
//! [`Msg`]s from the terminal loop; what the loop must do in return comes back as
//! [`Command`]s. Views read this state and draw; they never change it. It uses crossterm's key
//! and mouse event types as its input vocabulary, and never touches the terminal, tokio or a
//! source.
//!
//! The parts: `tree` (the left pane and the way back), `flows` (the flow list), `input`
//! (keys of dialogs and filters, mouse), `overlay` (the dialogs' state), `actions` (main-screen
//! keys), `commands` (the `:` line), `live` (the cluster's status and contexts), `world`
//! (prepared worlds and rebasing onto a new one), `audit` (staged changes and audit mode).

mod actions;
pub mod audit;
mod commands;
pub mod explain_form;
pub mod finder;
mod flows;
mod input;
pub mod keymap;
pub mod layout;
pub mod line;
mod live;
pub mod nodes;
mod overlay;
pub mod overview;
mod tree;
pub mod world;

use std::collections::BTreeSet;
use std::sync::Arc;

use crossterm::event::{KeyCode, KeyEvent, KeyEventKind, KeyModifiers, MouseEvent};

use crate::flow::{FlowEvent, FlowStore};
use crate::policy::audit::Staged;
use crate::policy::{Index, PodId};
use crate::theme::contexts::ContextRules;
use crate::theme::{Theme, ThemeSet};

pub use audit::{AuditMode, AuditView};
pub use commands::COMMANDS;
pub use explain_form::{ExplainForm, Field};
pub use flows::{flow_text, FlowPane};
pub use keymap::Action;
pub use layout::Pane;
pub use overlay::{FinderState, Overlay};
pub use tree::{Detail, Filter, Row, RowKey, RowKind, TreeMode, TIERS_KEY};
pub use world::Snapshot;

use actions::action;
use finder::Matcher;
use input::{filter_key, mouse, overlay_key};
use keymap::Context;
use tree::Place;

/// Everything that can happen to the UI.
#[derive(Debug, Clone)]
pub enum Msg {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// A main-screen action, as a key would give it (tests and the command line use these).
    Action(Action),
    /// Flows of a source, in a batch (the demo's traffic, recorded flows, agents): never
    /// one message per flow.
    Flows(Vec<FlowEvent>),
    /// Flows from a node's agent, with the node's name once it said hello.
    NodeFlows(Option<std::sync::Arc<str>>, Vec<FlowEvent>),
    /// A node's agent reported (connected, reconnecting, counters).
    Node(crate::flow::agents::NodeReport),
    /// The agents are another context's now: forget the nodes listed.
    NodesCleared,
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
    Live(crate::cluster::live::Status),
    /// Switching to another context failed; the current one goes on.
    SwitchFailed(String),
    /// SIGTERM, SIGHUP or SIGINT from outside.
    /// A signal asks the process to stop.
    Terminate(crate::process::Signal),
    /// What the last frame found out about sizes it could not know before drawing.
    Rendered {
        detail_lines: usize,
    },
    /// A staged world judged, as asked for by [`Command::PrepareAudit`].
    Audit(Arc<AuditView>),
    /// Policies read for `:stage PATH`: where from and the changes, or why not.
    Staged(Result<(String, Vec<Staged>), String>),
    /// What a job the UI asked for came to, in words (a file written, flows read), or why
    /// it failed.
    Note(Result<String, String>),
}

/// What the terminal loop must do.
#[derive(Debug, Clone)]
pub enum Command {
    Quit,
    /// Connect to another kubeconfig context and watch it instead.
    SwitchContext(String),
    /// What the UI no longer shows. Freeing a 10k-pod world takes about 12 ms: the loop lets
    /// it go elsewhere rather than on the UI task.
    Release(Garbage),
    /// Judge the staged changes against this world, off the UI task (see
    /// [`AuditView::prepare`]), and answer with [`Msg::Audit`].
    PrepareAudit {
        current: Arc<Index>,
        changes: Vec<Staged>,
        generation: u64,
    },
    /// Read NetworkPolicies from a path for `:stage`, and answer with [`Msg::Staged`].
    LoadStage(String),
    /// Write `contents` to `path` (flows, suggested policies), and answer with [`Msg::Note`].
    WriteFile {
        path: String,
        contents: String,
    },
}

/// Large values the UI lets go of.
#[derive(Debug, Clone)]
pub enum Garbage {
    World(Arc<Snapshot>),
    Audit(Arc<AuditView>),
}

impl PartialEq for Command {
    fn eq(&self, other: &Command) -> bool {
        match (self, other) {
            (Command::Quit, Command::Quit) => true,
            (Command::SwitchContext(a), Command::SwitchContext(b)) => a == b,
            (Command::Release(Garbage::World(a)), Command::Release(Garbage::World(b))) => {
                Arc::ptr_eq(a, b)
            }
            (Command::Release(Garbage::Audit(a)), Command::Release(Garbage::Audit(b))) => {
                Arc::ptr_eq(a, b)
            }
            (
                Command::PrepareAudit { generation: a, .. },
                Command::PrepareAudit { generation: b, .. },
            ) => a == b,
            (Command::LoadStage(a), Command::LoadStage(b)) => a == b,
            (
                Command::WriteFile {
                    path: a,
                    contents: x,
                },
                Command::WriteFile {
                    path: b,
                    contents: y,
                },
            ) => a == b && x == y,
            _ => false,
        }
    }
}

/// The live cluster, when it is the source.
#[derive(Debug, Clone)]
pub struct Live {
    pub status: crate::cluster::live::Status,
    /// Every context of the kubeconfig.
    pub contexts: Vec<String>,
    /// A context being connected to; until it answers, the data shown is the old one's.
    pub switching: Option<String>,
}

/// How many status bar messages `:messages` keeps.
const MESSAGES_KEPT: usize = 100;

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

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Message {
    pub text: String,
    pub error: bool,
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
    /// The namespace the tree and the flows are scoped to (Enter on a namespace; `0` clears).
    pub scope: Option<String>,
    pub tree_filter: Filter,
    pub rows: Vec<Row>,
    pub cursor: usize,
    /// First row on screen.
    pub tree_offset: usize,
    pub detail: Detail,
    pub detail_scroll: u16,
    detail_lines: usize,
    pub flows: FlowPane,
    /// The agents feeding the flow list, one per node.
    pub nodes: nodes::Nodes,
    /// The status bar's messages, oldest first, with their time: `:messages` lists them.
    pub messages: std::collections::VecDeque<(u64, Message)>,
    pub overlay: Option<Overlay>,
    pub themes: ThemeSet,
    pub theme: Theme,
    /// The theme the user chose; a context rule may show another one or recolour its frame.
    chosen_theme: String,
    pub context_rules: ContextRules,
    pub live: Option<Live>,
    /// The next world is another context's: open all its namespaces, as at start.
    new_context: bool,
    /// The namespace to start at once the first world of a cluster arrives (the UI draws
    /// before the cluster is read), and whether the user named it (`-n`).
    start_namespace: Option<(String, bool)>,
    pub message: Option<Message>,
    pub now_ms: u64,
    pub quit: bool,
    /// The signal that ended the run, if one did: the process exits with its status.
    pub ended_by: Option<crate::process::Signal>,
    /// Staged changes and, in audit mode, how they judge.
    pub audit: AuditMode,
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
        let source_staged = snapshot.staged.to_vec();
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
            scope: None,
            tree_filter: Filter::default(),
            rows: Vec::new(),
            cursor: 0,
            tree_offset: 0,
            detail: Detail::Empty,
            detail_scroll: 0,
            detail_lines: 0,
            flows: FlowPane::new(FlowStore::DEFAULT_CAPACITY),
            nodes: nodes::Nodes::default(),
            messages: std::collections::VecDeque::new(),
            overlay: None,
            themes,
            chosen_theme: theme.name.clone(),
            theme,
            context_rules: ContextRules::default(),
            live: None,
            new_context: false,
            start_namespace: None,
            message: None,
            now_ms: 0,
            quit: false,
            ended_by: None,
            audit: AuditMode {
                changes: source_staged,
                ..AuditMode::default()
            },
            history: Vec::new(),
            matcher: Matcher::default(),
        };
        s.rebuild_rows();
        s.refresh_detail();
        s
    }

    /// Starts on `name` once the first world arrives; `named`: the user asked for it (`-n`),
    /// so its absence is said.
    pub fn start_at_namespace_later(&mut self, name: String, named: bool) {
        self.start_namespace = Some((name, named));
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
        self.show(Message {
            text: text.into(),
            error: false,
        });
    }

    fn complain(&mut self, text: impl Into<String>) {
        self.show(Message {
            text: text.into(),
            error: true,
        });
    }

    /// Shows a message in the status bar, and keeps it for `:messages` (the last 100).
    pub fn show(&mut self, message: Message) {
        if self.messages.len() == MESSAGES_KEPT {
            self.messages.pop_front();
        }
        self.messages.push_back((self.now_ms, message.clone()));
        self.message = Some(message);
    }

    fn page(&self, pane: Pane) -> isize {
        (layout::inner_height(self.areas().of(pane)).max(2) - 1) as isize
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
        Msg::Flows(events) => {
            for event in events {
                state.add_flow(event);
            }
            Vec::new()
        }
        Msg::NodeFlows(node, events) => {
            for event in events {
                state.add_flow_from(event, node.clone());
            }
            Vec::new()
        }
        Msg::Node(report) => {
            // Agents found on the cluster make it a flow source.
            state.source.flows = true;
            state.nodes.update(report);
            Vec::new()
        }
        Msg::NodesCleared => {
            state.nodes = nodes::Nodes::default();
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
        Msg::Snapshot(snapshot) => {
            let old = state.set_world(snapshot);
            let mut commands = vec![Command::Release(Garbage::World(old))];
            commands.extend(state.audit_changed());
            commands
        }
        Msg::Audit(view) => state.take_audit(view),
        Msg::Staged(result) => state.staged_loaded(result),
        Msg::Note(Ok(text)) => {
            state.say(text);
            Vec::new()
        }
        Msg::Note(Err(e)) => {
            state.complain(e);
            Vec::new()
        }
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
        Msg::Terminate(signal) => {
            state.quit = true;
            state.ended_by = Some(signal);
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
        // A key the filter does not use is dropped: it would surprise mid-typing.
        filter_key(state, key);
        return Vec::new();
    }
    match keymap::lookup(key, state.pane_context()) {
        Some(a) => action(state, a),
        None => {
            // A key that does nothing says so, instead of leaving the user guessing.
            let name = match key.code {
                KeyCode::Char(c) if key.modifiers.contains(KeyModifiers::CONTROL) => {
                    format!("Ctrl-{c}")
                }
                KeyCode::Char(c) => c.to_string(),
                other => format!("{other}"),
            };
            state.say(format!(
                "{name} does nothing here; ? lists the keys of each pane"
            ));
            Vec::new()
        }
    }
}
