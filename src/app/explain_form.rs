//! The explain dialog: source and destination picked with fuzzy suggestions (pods, nodes, or a
//! typed IP), a port by number or name, a protocol; the result is `explain`'s reasoning with
//! the responsible policy one key away.

use std::sync::Arc;

use crossterm::event::KeyEvent;

use super::finder::{self, Entry, Hit, Matcher, Target};
use super::keymap::{self, Action, Context};
use super::line::LineInput;
use super::Snapshot;
use crate::flow::{Annotated, Datapath, EndKind};
use crate::policy::explain::{explain, Explanation};
use crate::policy::query::{resolve_endpoint, resolve_port};
use crate::policy::service::{
    explain_service, parse_service_ref, resolve_node_port, resolve_service, ServiceTarget,
};
use crate::policy::{Flow, Index, PolicyId, Protocol, Side, Verdict};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    From,
    To,
    Port,
    Protocol,
    Result,
}

/// What the dialog wants after a key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Stay,
    Close,
    JumpTo(Responsible),
}

#[derive(Debug, Clone)]
pub struct ExplainForm {
    pub field: Field,
    pub from: LineInput,
    pub to: LineInput,
    pub port: LineInput,
    pub protocol: Protocol,
    /// Suggestions for the From or To field being edited.
    pub picks: Vec<Hit>,
    pub pick: usize,
    /// Pods and nodes (sources and destinations), then Services (destinations only).
    endpoints: Vec<Entry>,
    /// How many of `endpoints` may be a source.
    sources: usize,
    /// For a Service destination: the Service, and every backing pod's verdict; the
    /// explanation shown is the first backing pod's that is not allowed, or else the first.
    pub service: Option<Vec<String>>,
    pub result: Option<Result<Box<Explanation>, String>>,
    /// The policy that decides: the admitting one, or the first isolating one of a denying side.
    pub responsible: Option<Responsible>,
    pub scroll: u16,
    /// What the datapath did, when the dialog was opened on a flow.
    pub flow_note: Option<String>,
    /// The flow last explained, to explain again in the staged world.
    flow: Option<Flow>,
    /// In audit mode: the staged world, and the flow explained in it.
    staged_index: Option<Arc<Index>>,
    pub staged: Option<Box<Explanation>>,
}

const PICKS: usize = 8;

impl ExplainForm {
    pub fn new(snapshot: &Snapshot) -> ExplainForm {
        let (endpoints, sources) = endpoints(snapshot);
        ExplainForm {
            field: Field::From,
            from: LineInput::default(),
            to: LineInput::default(),
            port: LineInput::default(),
            protocol: Protocol::Tcp,
            picks: Vec::new(),
            pick: 0,
            endpoints,
            sources,
            service: None,
            result: None,
            responsible: None,
            scroll: 0,
            flow_note: None,
            flow: None,
            staged_index: None,
            staged: None,
        }
    }

    /// A dialog filled in from a flow of the flow list (run it with [`ExplainForm::run`]).
    pub fn for_flow(f: &Annotated) -> ExplainForm {
        let name = |e: EndKind, ip: std::net::IpAddr, n: &str| match e {
            EndKind::Other => ip.to_string(),
            EndKind::Pod | EndKind::Node => n.to_string(),
        };
        let datapath = match &f.event.datapath {
            Datapath::Forwarded => "forwarded".to_string(),
            Datapath::Dropped { reason } => format!("dropped ({reason})"),
        };
        ExplainForm {
            field: Field::Result,
            from: LineInput::with(&name(f.ends[0], f.event.src, &f.src_name)),
            to: LineInput::with(&name(f.ends[1], f.event.dst, &f.dst_name)),
            port: LineInput::with(&f.event.dst_port.to_string()),
            protocol: f.event.protocol,
            picks: Vec::new(),
            pick: 0,
            endpoints: Vec::new(),
            sources: 0,
            service: None,
            result: None,
            responsible: None,
            scroll: 0,
            flow_note: Some(format!(
                "datapath: {datapath} · outcome: {} · {}",
                f.outcome.as_str(),
                f.explanation
            )),
            flow: None,
            staged_index: None,
            staged: None,
        }
    }

    /// In audit mode, the staged world to explain the flow in as well (`None`: audit off).
    pub fn set_staged(&mut self, staged: Option<Arc<Index>>) {
        self.staged_index = staged;
        self.rerun_staged();
    }

    fn rerun_staged(&mut self) {
        self.staged = match (&self.flow, &self.staged_index) {
            (Some(flow), Some(index)) => Some(Box::new(explain(index, flow))),
            _ => None,
        };
    }

    /// Brings the dialog to a new world: suggestions come from it, and an answer is worked
    /// out again (if what it named is gone, the answer says so).
    pub fn rebase(&mut self, snapshot: &Snapshot, matcher: &Matcher) {
        // The staged world was the old world's; audit mode brings the new one's when ready.
        self.staged_index = None;
        self.staged = None;
        (self.endpoints, self.sources) = endpoints(snapshot);
        if self.result.is_some() {
            let field = self.field;
            let scroll = self.scroll;
            self.run(&snapshot.index);
            if self.result.as_ref().is_some_and(|r| r.is_ok()) {
                self.field = field;
                self.scroll = scroll;
            }
        } else {
            let pick = self.pick;
            self.refresh_picks(matcher);
            self.pick = pick.min(self.picks.len().saturating_sub(1));
        }
    }

    fn input(&mut self) -> Option<&mut LineInput> {
        match self.field {
            Field::From => Some(&mut self.from),
            Field::To => Some(&mut self.to),
            Field::Port => Some(&mut self.port),
            _ => None,
        }
    }

    pub fn refresh_picks(&mut self, matcher: &Matcher) {
        let text = match self.field {
            Field::From => &self.from.text,
            Field::To => &self.to.text,
            _ => {
                self.picks.clear();
                return;
            }
        };
        let list = match self.field {
            Field::From => &self.endpoints[..self.sources],
            _ => &self.endpoints[..],
        };
        self.picks = finder::search(matcher, list, text, PICKS);
        self.pick = 0;
    }

    /// The text of suggestion `i`.
    pub fn pick_text(&self, i: usize) -> Option<&str> {
        self.picks
            .get(i)
            .and_then(|h| self.endpoints.get(h.entry))
            .map(|e| e.text.as_str())
    }

    fn advance(&mut self, matcher: &Matcher, forward: bool) {
        let order = [
            Field::From,
            Field::To,
            Field::Port,
            Field::Protocol,
            Field::Result,
        ];
        let n = if self.result.is_some() { 5 } else { 4 };
        let i = order.iter().position(|f| *f == self.field).unwrap_or(0);
        let next = if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        };
        self.field = order[next];
        self.refresh_picks(matcher);
    }

    /// Takes the highlighted suggestion unless the text already names an endpoint exactly.
    fn accept_pick(&mut self) {
        let Some(choice) = self.pick_text(self.pick).map(str::to_string) else {
            return;
        };
        let exact = self.endpoints.iter().any(|e| {
            let t = match self.field {
                Field::From => &self.from.text,
                _ => &self.to.text,
            };
            e.text == t.trim()
        });
        let typed = match self.field {
            Field::From => &mut self.from,
            _ => &mut self.to,
        };
        if !exact && typed.text.trim().parse::<std::net::IpAddr>().is_err() {
            *typed = LineInput::with(&choice);
        }
    }

    /// Takes a key; `None` when the key means nothing here. Text fields take editing keys
    /// first; the others are the Explain bindings of the keymap, read per field.
    pub fn key(
        &mut self,
        key: KeyEvent,
        snapshot: &Snapshot,
        matcher: &Matcher,
    ) -> Option<Outcome> {
        if let Some(input) = self.input() {
            if input.edit(key) {
                self.refresh_picks(matcher);
                return Some(Outcome::Stay);
            }
        }
        let action = keymap::lookup(key, Context::Explain)?;
        match (action, self.field) {
            (Action::Close, _) => return Some(Outcome::Close),
            (Action::NextField, field) => {
                if matches!(field, Field::From | Field::To) {
                    self.accept_pick();
                }
                self.advance(matcher, true);
            }
            (Action::PrevField, _) => self.advance(matcher, false),
            (Action::Down, Field::From | Field::To) => {
                self.pick = (self.pick + 1).min(self.picks.len().saturating_sub(1))
            }
            (Action::Up, Field::From | Field::To) => self.pick = self.pick.saturating_sub(1),
            (Action::Down, Field::Protocol) => self.protocol = cycle(self.protocol, 1),
            (Action::Up, Field::Protocol) => self.protocol = cycle(self.protocol, 2),
            (Action::Down, Field::Result) => self.scroll = self.scroll.saturating_add(1),
            (Action::Up, Field::Result) => self.scroll = self.scroll.saturating_sub(1),
            (Action::PageDown, Field::Result) => self.scroll = self.scroll.saturating_add(10),
            (Action::PageUp, Field::Result) => self.scroll = self.scroll.saturating_sub(10),
            (Action::Accept, Field::From | Field::To) => {
                self.accept_pick();
                self.advance(matcher, true);
            }
            (Action::Accept, Field::Port | Field::Protocol) => self.run(&snapshot.index),
            (Action::Accept | Action::GoTo, Field::Result) => {
                return Some(match self.responsible {
                    Some(p) => Outcome::JumpTo(p),
                    None => Outcome::Stay,
                });
            }
            _ => return None,
        }
        Some(Outcome::Stay)
    }

    /// Resolves the fields and explains the flow; errors name the field. A Service as the
    /// destination is explained at every backing pod.
    pub fn run(&mut self, index: &Index) {
        self.scroll = 0;
        self.service = None;
        let result = (|| {
            if parse_service_ref(&self.from.text).is_some() {
                return Err(format!("From: {}", crate::policy::Error::ServiceAsSource));
            }
            let src =
                resolve_endpoint(index, &self.from.text, None).map_err(|e| format!("From: {e}"))?;
            let port = Some(self.port.text.as_str()).filter(|p| !p.trim().is_empty());
            let service = resolve_service(index, &self.to.text, None, port, self.protocol)
                .map_err(|e| format!("To: {e}"))?;
            if let Some(target) = service {
                return self.run_service(index, src, &target);
            }
            let dst =
                resolve_endpoint(index, &self.to.text, None).map_err(|e| format!("To: {e}"))?;
            let Some(port) = port else {
                return Err(
                    "Port: give a number or a container port name of the destination".to_string(),
                );
            };
            let port =
                resolve_port(index, port, &dst, self.protocol).map_err(|e| format!("Port: {e}"))?;
            if let Some(target) = resolve_node_port(index, &dst, port, self.protocol) {
                return self.run_service(index, src, &target);
            }
            let flow = Flow {
                src,
                dst,
                protocol: self.protocol,
                port,
            };
            Ok((flow, Box::new(explain(index, &flow))))
        })();
        self.flow = result.as_ref().ok().map(|(f, _)| *f);
        let result = result.map(|(_, e)| e);
        self.rerun_staged();
        self.responsible = result.as_ref().ok().and_then(|e| responsible(&e.verdict));
        if result.is_ok() {
            self.field = Field::Result;
        }
        self.picks.clear();
        self.result = Some(result);
    }

    /// Every backing pod explained; the lines above the result say how each fared, and the
    /// explanation shown is the one of most interest.
    fn run_service(
        &mut self,
        index: &Index,
        src: crate::policy::Endpoint,
        target: &ServiceTarget,
    ) -> Result<(Flow, Box<Explanation>), String> {
        let e = explain_service(index, src, target, self.protocol);
        let (allowed, denied, unknown) = e.counts();
        let mut lines = vec![format!(
            "Service {} {}/{} → target port {}: {} backing pod(s), {allowed} allowed, \
             {denied} denied, {unknown} unknown",
            e.service,
            e.protocol,
            e.port,
            e.target_port,
            e.backends.len()
        )];
        let plain = crate::render::paint::Paint::plain();
        for b in &e.backends {
            let mark = crate::render::mark(b.explanation.decision(), &plain);
            lines.push(format!("  {mark} {} :{}", b.pod, b.port));
        }
        lines.extend(e.notes.iter().skip(1).map(|n| format!("  {n}")));
        self.service = Some(lines);
        let Some(shown) = e.first_of_interest() else {
            return Err(match &e.unknown {
                Some(why) => format!("To: unknown: {why}"),
                None => format!("To: Service {} has no backing pod", e.service),
            });
        };
        let flow = target.backends[shown].flow(src, self.protocol);
        Ok((flow, Box::new(e.backends[shown].explanation.clone())))
    }
}

/// The protocol `steps` places on in the cycle TCP, UDP, SCTP (two steps on is one back).
fn cycle(p: Protocol, steps: usize) -> Protocol {
    let all = Protocol::ALL;
    let i = all.iter().position(|q| *q == p).unwrap_or(0);
    all[(i + steps) % all.len()]
}

/// What the From and To fields suggest: every pod and node of the world, then every Service
/// (the To field only); and how many come before the Services.
fn endpoints(snapshot: &Snapshot) -> (Vec<Entry>, usize) {
    let inv = snapshot.index.inventory();
    let mut out: Vec<Entry> = snapshot
        .entries
        .iter()
        .filter(|e| matches!(e.target, Target::Pod(_)))
        .cloned()
        .collect();
    out.extend(inv.nodes.iter().enumerate().map(|(i, n)| Entry {
        text: format!("node/{}", n.name),
        target: Target::Node(i as u32),
    }));
    let sources = out.len();
    out.extend(
        snapshot
            .entries
            .iter()
            .filter(|e| matches!(e.target, Target::Service(_)))
            .cloned(),
    );
    (out, sources)
}

/// A policy that decides a verdict: a NetworkPolicy, or a cluster-scoped tier policy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Responsible {
    Policy(PolicyId),
    /// By its place in evaluation order.
    Tier(u32),
}

impl Responsible {
    /// `namespace/name` or `Kind/name`.
    pub fn name(self, index: &Index) -> String {
        match self {
            Responsible::Policy(p) => index.policies().policies[p as usize].key(),
            Responsible::Tier(t) => index.policies().tiers[t as usize].key(),
        }
    }
}

/// The policy to look at first: the admitting rule's policy, or the deciding tier rule's,
/// or the first isolating policy of the side that denies (ingress before egress).
pub fn responsible(v: &Verdict) -> Option<Responsible> {
    if v.allowed() {
        [&v.ingress, &v.egress].into_iter().find_map(|s| match s {
            Side::Allowed(r) => Some(Responsible::Policy(r.policy)),
            Side::TierAllowed(r) => Some(Responsible::Tier(r.policy)),
            _ => None,
        })
    } else {
        [&v.ingress, &v.egress].into_iter().find_map(|s| match s {
            Side::Denied { isolating } | Side::Unknown { isolating, .. } => {
                isolating.first().copied().map(Responsible::Policy)
            }
            Side::TierDenied(r) | Side::TierUnknown { rule: Some(r) } => {
                Some(Responsible::Tier(r.policy))
            }
            Side::TierEnd {
                selecting, maybe, ..
            } => selecting
                .first()
                .or(maybe.first())
                .copied()
                .map(Responsible::Tier),
            _ => None,
        })
    }
}
