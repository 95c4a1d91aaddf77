//! The flow list: the bounded store, the filters (verdict and words) and what they let through,
//! pausing, the selected flow, rates and losses. Flows hold names and addresses, never
//! positions in a world, so they outlive it.

use std::collections::VecDeque;

use crate::flow::{annotate, Annotated, FlowEvent, FlowStore, Outcome, VerdictFilter};
use crate::policy::audit::Delta;
use crate::policy::Flow;

use super::explain_form::ExplainForm;
use super::overlay::Overlay;
use super::tree::Filter;
use super::State;

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
    /// In audit mode, what the staged policies would change for each stored flow.
    deltas: VecDeque<Option<Delta>>,
    /// Show only flows the staged policies would break (audit mode).
    pub would_break_only: bool,
    /// How many stored flows the staged policies would break.
    breaking: usize,
    /// The text filter the current `matched` was made with.
    matched_for: String,
    /// Connections mode: the flows that pass the filters grouped by source, destination,
    /// protocol and port.
    pub grouped: bool,
    /// The connections, by source, destination, protocol and port (so a row stays where it
    /// is as its counts change); remade on the next tick after the flows change.
    pub conns: Vec<ConnRow>,
    /// The selected connection, by its key; `None`: none selected.
    pub conn_cursor: Option<ConnKey>,
    conns_stale: bool,
    /// Only flows to or from pods of this namespace (Enter on a namespace in the tree).
    pub scope: Option<String>,
}

/// Source, destination, protocol and port of a connection.
pub type ConnKey = (
    std::sync::Arc<str>,
    std::sync::Arc<str>,
    crate::policy::Protocol,
    u16,
);

/// The stored flows of one connection that pass the filters.
#[derive(Debug, Clone, PartialEq)]
pub struct ConnRow {
    pub key: ConnKey,
    pub count: u64,
    pub first_ms: u64,
    pub last_ms: u64,
    /// The newest flow's outcome, and the flow itself (to explain).
    pub outcome: Outcome,
    pub last_seq: u64,
    /// How many of its flows the datapath dropped.
    pub dropped: u64,
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
            deltas: VecDeque::new(),
            would_break_only: false,
            breaking: 0,
            matched_for: String::new(),
            grouped: false,
            conns: Vec::new(),
            conn_cursor: None,
            conns_stale: false,
            scope: None,
        }
    }

    /// Remakes the connections from the flows that pass the filters (`force`: even if no
    /// flow came since).
    pub(super) fn regroup(&mut self, force: bool) {
        if !self.grouped || !(force || self.conns_stale) {
            return;
        }
        self.conns_stale = false;
        let mut map: std::collections::BTreeMap<ConnKey, ConnRow> = Default::default();
        let n = self.shown_len();
        for &seq in self.matched.iter().take(n) {
            let Some(f) = self.get(seq) else { continue };
            let key = (
                f.src_name.clone(),
                f.dst_name.clone(),
                f.event.protocol,
                f.event.dst_port,
            );
            let dropped = u64::from(matches!(
                f.event.datapath,
                crate::flow::Datapath::Dropped { .. }
            ));
            map.entry(key.clone())
                .and_modify(|r| {
                    r.count += 1;
                    r.first_ms = r.first_ms.min(f.event.time_ms);
                    r.dropped += dropped;
                    if f.event.time_ms >= r.last_ms {
                        r.last_ms = f.event.time_ms;
                        r.outcome = f.outcome;
                        r.last_seq = seq;
                    }
                })
                .or_insert(ConnRow {
                    key,
                    count: 1,
                    first_ms: f.event.time_ms,
                    last_ms: f.event.time_ms,
                    outcome: f.outcome,
                    last_seq: seq,
                    dropped,
                });
        }
        self.conns = map.into_values().collect();
    }

    /// Position of the selected connection, if it is still listed.
    pub fn conn_pos(&self) -> Option<usize> {
        let key = self.conn_cursor.as_ref()?;
        self.conns.binary_search_by(|r| r.key.cmp(key)).ok()
    }

    pub(super) fn first_seq(&self) -> u64 {
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
    pub(super) fn admits(
        &self,
        words: &[String],
        outcome: Outcome,
        delta: Option<Delta>,
        text: &str,
    ) -> bool {
        self.verdict.admits(outcome)
            && (!self.would_break_only || delta == Some(Delta::WouldBreak))
            && self.scope.as_ref().is_none_or(|ns| {
                // The text starts with the source's name, then the destination's.
                let prefix = format!("{}/", ns.to_lowercase());
                text.starts_with(&prefix) || text.contains(&format!(" {prefix}"))
            })
            && words.iter().all(|w| text.contains(w.as_str()))
    }

    /// How many stored flows the staged policies would break (audit mode).
    pub fn breaking(&self) -> usize {
        self.breaking
    }

    /// What the staged policies would change for a stored flow (audit mode).
    pub fn delta(&self, seq: u64) -> Option<Delta> {
        seq.checked_sub(self.first_seq())
            .and_then(|i| self.deltas.get(i as usize).copied().flatten())
    }

    /// `all`, `blocked`, ..., or `would break`.
    pub fn filter_label(&self) -> &'static str {
        if self.would_break_only {
            "would break"
        } else {
            self.verdict.label()
        }
    }

    pub(super) fn words(&self) -> Vec<String> {
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
    pub(super) fn refilter(&mut self, narrow: bool) {
        let words = self.words();
        let first = self.first_seq();
        let query = self.filter.input.text.to_lowercase();
        let narrowing = narrow && query.starts_with(&self.matched_for);
        self.matched = if narrowing {
            let old = std::mem::take(&mut self.matched);
            old.into_iter()
                .filter(|&q| {
                    let i = (q - first) as usize;
                    self.store.get(i).is_some_and(|f| {
                        self.admits(&words, f.outcome, self.deltas[i], &self.texts[i])
                    })
                })
                .collect()
        } else {
            self.store
                .iter()
                .zip(&self.texts)
                .zip(&self.deltas)
                .enumerate()
                .filter(|(_, ((f, t), d))| self.admits(&words, f.outcome, **d, t))
                .map(|(i, _)| first + i as u64)
                .collect()
        };
        self.matched_for = query;
        self.regroup(true);
    }

    pub(super) fn push(&mut self, f: Annotated, delta: Option<Delta>) {
        let text: Box<str> = flow_text(&f).to_lowercase().into();
        let admitted = self.admits(&self.words(), f.outcome, delta, &text);
        if self.store.len() == self.store.capacity() {
            self.texts.pop_front();
            if self.deltas.pop_front().flatten() == Some(Delta::WouldBreak) {
                self.breaking -= 1;
            }
        }
        if delta == Some(Delta::WouldBreak) {
            self.breaking += 1;
        }
        self.store.push(f);
        self.texts.push_back(text);
        self.deltas.push_back(delta);
        let first = self.first_seq();
        while self.matched.front().is_some_and(|&s| s < first) {
            self.matched.pop_front();
        }
        if admitted {
            self.matched.push_back(self.store.total - 1);
        }
        self.conns_stale = true;
    }
}

/// The words a flow filter matches against.
pub fn flow_text(f: &Annotated) -> String {
    format!(
        "{} {} {}/{} {} {} {}",
        f.src_name,
        f.dst_name,
        f.event.protocol,
        f.event.dst_port,
        f.outcome.as_str(),
        f.policies.join(" "),
        f.node.as_deref().unwrap_or("")
    )
}

impl State {
    pub(super) fn add_flow(&mut self, event: FlowEvent) {
        self.add_flow_from(event, None);
    }

    /// A flow, with the node whose agent reported it.
    pub(super) fn add_flow_from(&mut self, event: FlowEvent, node: Option<std::sync::Arc<str>>) {
        let delta = self.audit.current().and_then(|view| {
            let index = &self.snapshot.index;
            view.delta(&Flow {
                src: index.endpoint_for_ip(event.src),
                dst: index.endpoint_for_ip(event.dst),
                protocol: event.protocol,
                port: event.dst_port,
            })
        });
        let mut f = annotate(&self.snapshot.index, &self.snapshot.names, event);
        f.node = node;
        self.flows.push(f, delta);
    }

    /// Judges every stored flow under the current audit view again (none: audit mode off).
    pub(super) fn rejudge_flows(&mut self) {
        let view = self.audit.current().cloned();
        let index = self.snapshot.index.clone();
        let deltas = self
            .flows
            .store
            .iter()
            .map(|f| {
                view.as_ref().and_then(|v| {
                    v.delta(&Flow {
                        src: index.endpoint_for_ip(f.event.src),
                        dst: index.endpoint_for_ip(f.event.dst),
                        protocol: f.event.protocol,
                        port: f.event.dst_port,
                    })
                })
            })
            .collect();
        self.flows.deltas = deltas;
        self.flows.breaking = self
            .flows
            .deltas
            .iter()
            .filter(|d| **d == Some(Delta::WouldBreak))
            .count();
        if view.is_none() {
            self.flows.would_break_only = false;
        }
        self.flows.refilter(false);
    }

    pub(super) fn tick(&mut self, now_ms: u64) {
        self.now_ms = now_ms;
        self.flows.regroup(false);
        self.nodes.tick(now_ms);
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

    pub(super) fn move_flows(&mut self, delta: isize) {
        if self.flows.grouped {
            let f = &mut self.flows;
            let n = f.conns.len();
            if n == 0 {
                return;
            }
            let pos = f
                .conn_pos()
                .unwrap_or(if delta < 0 { n } else { 0 }.min(n - 1)) as isize;
            let new = if f.conn_pos().is_none() {
                pos.clamp(0, n as isize - 1)
            } else {
                (pos + delta).clamp(0, n as isize - 1)
            };
            f.conn_cursor = Some(f.conns[new as usize].key.clone());
            return;
        }
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

    pub(super) fn open_explain(&mut self, mut form: ExplainForm) {
        form.set_staged(self.audit.current().map(|v| v.audit.staged.clone()));
        self.overlay = Some(Overlay::Explain(Box::new(form)));
    }

    pub(super) fn explain_selected_flow(&mut self) {
        let seq = if self.flows.grouped {
            match self.flows.conn_pos() {
                Some(i) => self.flows.conns[i].last_seq,
                None => {
                    self.say("no connection selected (↑↓ select one)");
                    return;
                }
            }
        } else {
            let Some(pos) = self.flows.cursor_pos() else {
                self.say("no flow selected");
                return;
            };
            self.flows.matched[pos]
        };
        let Some(f) = self.flows.get(seq).cloned() else {
            return;
        };
        let mut form = ExplainForm::for_flow(&f);
        form.run(&self.snapshot.index);
        self.open_explain(form);
    }
}
