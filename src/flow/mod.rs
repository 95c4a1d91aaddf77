//! Flows: the datapath's record of a connection, its annotation by the policy engine, the
//! bounded store the UI reads, and the demo's simulated traffic.
//!
//! Sources (the demo generator, the node probe and its agents) produce [`FlowEvent`]s; the
//! UI task annotates each with the current index and keeps the newest in a [`FlowStore`].
//! `wire` is the agents' frame format and `correlate` pairs the probe's hook events into
//! flows. Nothing here does I/O; the tasks that pace a source live with their callers.

pub mod agents;
pub mod correlate;
pub mod demo;
pub mod record;
pub mod wire;

use std::collections::VecDeque;
use std::net::IpAddr;
use std::sync::Arc;

use serde::Serialize;

use crate::policy::explain::{endpoint_name, uncertain_address};
use crate::policy::{
    Decision, Direction, Endpoint, Exemption, Flow, Index, Protocol, Side, Verdict,
};

/// What the datapath did with a flow.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "datapath", rename_all = "snake_case")]
pub enum Datapath {
    Forwarded,
    /// Dropped, with the kernel's drop reason name (`NETFILTER_DROP`, ...).
    Dropped {
        reason: String,
    },
}

/// One flow as a source reports it: addresses, not names.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowEvent {
    /// Milliseconds since the Unix epoch.
    pub time_ms: u64,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub protocol: Protocol,
    /// 0 when the source does not know it.
    pub src_port: u16,
    pub dst_port: u16,
    pub datapath: Datapath,
}

/// The four ways the datapath and the policies can relate (plus "not isolated", an allowed
/// flow no policy had a say in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    BlockedByPolicy,
    AllowedByPolicy,
    NotIsolated,
    /// Dropped although the policies allow it: not NetworkPolicy's doing.
    DatapathDrop,
    /// Forwarded although the policies deny it: the CNI does not enforce them here.
    PolicyNotEnforced,
    /// The policies' answer depends on namespace labels that could not be read, so neither
    /// the verdict nor an agreement with the datapath can be told.
    Unknown,
}

impl Outcome {
    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::BlockedByPolicy => "blocked_by_policy",
            Outcome::AllowedByPolicy => "allowed_by_policy",
            Outcome::NotIsolated => "not_isolated",
            Outcome::DatapathDrop => "datapath_drop",
            Outcome::PolicyNotEnforced => "policy_not_enforced",
            Outcome::Unknown => "unknown",
        }
    }

    /// The datapath and the policies disagree.
    pub fn disagrees(self) -> bool {
        matches!(self, Outcome::DatapathDrop | Outcome::PolicyNotEnforced)
    }
}

/// A flow with the engine's judgement.
#[derive(Debug, Clone, Serialize)]
pub struct Annotated {
    #[serde(flatten)]
    pub event: FlowEvent,
    /// `ns/pod`, `node/NAME`, or the address.
    pub src_name: Arc<str>,
    pub dst_name: Arc<str>,
    pub outcome: Outcome,
    /// The deciding (allowing) or isolating policies, as `ns/name`.
    pub policies: Vec<Arc<str>>,
    pub explanation: String,
    /// The node whose agent reported the flow, when an agent did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<Arc<str>>,
    /// What each address stood for in the world that judged the flow. No position into that
    /// world is kept: the world may change while the flow is on screen.
    #[serde(skip)]
    pub ends: [EndKind; 2],
}

/// What an address of a flow stood for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndKind {
    Pod,
    Node,
    /// Neither a pod nor a node of the inventory.
    Other,
}

impl EndKind {
    fn of(e: &Endpoint) -> EndKind {
        match e {
            Endpoint::Pod { .. } => EndKind::Pod,
            Endpoint::Node { .. } => EndKind::Node,
            Endpoint::External(_) => EndKind::Other,
        }
    }
}

/// Judges `event` under `index`.
pub fn annotate(index: &Index, names: &Names, event: FlowEvent) -> Annotated {
    let flow = Flow {
        src: index.endpoint_for_ip(event.src),
        dst: index.endpoint_for_ip(event.dst),
        protocol: event.protocol,
        port: event.dst_port,
    };
    let verdict = index.verdict(&flow);
    let src_name = names.endpoint(index, &flow.src);
    let dst_name = names.endpoint(index, &flow.dst);
    let uncertain = uncertain_address(index.inventory(), &flow);
    let decision = match verdict.decision() {
        // Denied only if the address is outside the cluster, which cannot be told.
        Decision::Denied if uncertain.is_some() => Decision::Unknown,
        d => d,
    };
    let dropped = matches!(event.datapath, Datapath::Dropped { .. });
    let outcome = match (dropped, decision) {
        (_, Decision::Unknown) => Outcome::Unknown,
        (true, Decision::Denied) => Outcome::BlockedByPolicy,
        (true, Decision::Allowed) => Outcome::DatapathDrop,
        (false, Decision::Denied) => Outcome::PolicyNotEnforced,
        (false, Decision::Allowed) if admitted_by_rule(&verdict) => Outcome::AllowedByPolicy,
        (false, Decision::Allowed) => Outcome::NotIsolated,
    };
    let policies = deciding_policies(names, &verdict);
    let mut explanation = sentence(
        &event, &flow, &verdict, outcome, &src_name, &dst_name, names,
    );
    if let (Some(ip), Outcome::Unknown) = (uncertain, outcome) {
        explanation.push_str(&format!(
            "; {ip} may be a node or a pod that could not be read, either of which could be \
             allowed"
        ));
    }
    Annotated {
        event,
        src_name,
        dst_name,
        outcome,
        policies,
        explanation,
        node: None,
        ends: [EndKind::of(&flow.src), EndKind::of(&flow.dst)],
    }
}

/// One flow as `trace -o json` prints it.
#[derive(Debug, Serialize)]
pub struct FlowRecord<'a> {
    pub time_ms: u64,
    /// `ns/pod`, `node/NAME`, or the address.
    pub src: &'a str,
    pub dst: &'a str,
    pub src_ip: IpAddr,
    pub dst_ip: IpAddr,
    pub protocol: Protocol,
    pub src_port: u16,
    pub dst_port: u16,
    /// `forwarded` or `dropped`.
    pub datapath: &'static str,
    /// The kernel's drop reason, for dropped flows.
    pub drop_reason: Option<&'a str>,
    pub outcome: Outcome,
    pub policies: &'a [Arc<str>],
    pub explanation: &'a str,
    /// The node whose agent reported the flow.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub node: Option<&'a str>,
}

impl Annotated {
    pub fn record(&self) -> FlowRecord<'_> {
        let e = &self.event;
        let (datapath, drop_reason) = match &e.datapath {
            Datapath::Forwarded => ("forwarded", None),
            Datapath::Dropped { reason } => ("dropped", Some(reason.as_str())),
        };
        FlowRecord {
            time_ms: e.time_ms,
            src: &self.src_name,
            dst: &self.dst_name,
            src_ip: e.src,
            dst_ip: e.dst,
            protocol: e.protocol,
            src_port: e.src_port,
            dst_port: e.dst_port,
            datapath,
            drop_reason,
            outcome: self.outcome,
            policies: &self.policies,
            explanation: &self.explanation,
            node: self.node.as_deref(),
        }
    }

    /// One line in the manner of `hubble observe`:
    /// `17:05:01.123 ns/a:41234 -> ns/b:8080 TCP FORWARDED allowed_by_policy: allowed by ...`.
    pub fn line(&self) -> String {
        let e = &self.event;
        let secs = e.time_ms / 1000;
        let verdict = match &e.datapath {
            Datapath::Forwarded => "FORWARDED".to_string(),
            Datapath::Dropped { reason } => format!("DROPPED ({reason})"),
        };
        format!(
            "{:02}:{:02}:{:02}.{:03} {}:{} -> {}:{} {} {} {}: {}",
            (secs / 3600) % 24,
            (secs / 60) % 60,
            secs % 60,
            e.time_ms % 1000,
            self.src_name,
            e.src_port,
            self.dst_name,
            e.dst_port,
            e.protocol,
            verdict,
            self.outcome.as_str(),
            self.explanation
        )
    }

    /// Whether either end is a pod of the inventory.
    pub fn touches_pod(&self) -> bool {
        self.ends.contains(&EndKind::Pod)
    }

    /// Whether either end is a pod in `namespace`.
    pub fn touches_namespace(&self, namespace: &str) -> bool {
        [&self.src_name, &self.dst_name].iter().any(|n| {
            n.split_once('/')
                .is_some_and(|(ns, _)| ns == namespace && ns != "node")
        })
    }
}

fn admitted_by_rule(v: &Verdict) -> bool {
    matches!(v.exemption, None | Some(Exemption::NodeLocalHost { .. }))
        && v.deciding()
            .iter()
            .any(|(_, s)| matches!(s, Side::Allowed(_) | Side::TierAllowed(_)))
}

/// The policies that allowed the flow, or (when it is denied) those that isolate the
/// denying side(s).
fn deciding_policies(names: &Names, v: &Verdict) -> Vec<Arc<str>> {
    let mut out = Vec::new();
    let decision = v.decision();
    for (_, side) in v.deciding() {
        match side {
            Side::Allowed(r) if decision == Decision::Allowed => out.push(names.policy(r.policy)),
            Side::TierAllowed(r) if decision == Decision::Allowed => out.push(names.tier(r.policy)),
            Side::TierDenied(r) if decision == Decision::Denied => out.push(names.tier(r.policy)),
            Side::TierUnknown { rule: Some(r) } if decision == Decision::Unknown => {
                out.push(names.tier(r.policy))
            }
            Side::Denied { isolating } if decision == Decision::Denied => {
                out.extend(isolating.iter().map(|&p| names.policy(p)))
            }
            Side::Unknown { isolating, .. } if decision == Decision::Unknown => {
                out.extend(isolating.iter().map(|&p| names.policy(p)))
            }
            Side::TierEnd {
                selecting,
                isolating,
                maybe,
            } if decision != Decision::Allowed => {
                out.extend(selecting.iter().chain(maybe).map(|&t| names.tier(t)));
                out.extend(isolating.iter().map(|&p| names.policy(p)));
            }
            _ => {}
        }
    }
    // A policy isolating both ends (a namespace's default deny) is named once.
    let mut named = std::collections::HashSet::new();
    out.retain(|p| named.insert(p.clone()));
    out
}

fn sentence(
    event: &FlowEvent,
    flow: &Flow,
    v: &Verdict,
    outcome: Outcome,
    src: &str,
    dst: &str,
    names: &Names,
) -> String {
    let what = format!("{}/{}", flow.protocol, flow.port);
    let denials = || {
        let mut parts = Vec::new();
        for (direction, side) in v.deciding() {
            let pod = match direction {
                Direction::Egress => src,
                Direction::Ingress => dst,
            };
            match side {
                Side::Denied { isolating } => {
                    let list: Vec<String> = isolating
                        .iter()
                        .map(|&p| names.policy(p).to_string())
                        .collect();
                    parts.push(format!(
                        "{pod} isolated for {direction} by {}; no rule admits {what}",
                        list.join(", ")
                    ));
                }
                Side::TierDenied(r) => parts.push(format!(
                    "{direction} of {pod} denied by {} {direction}[{}]",
                    names.tier(r.policy),
                    r.rule
                )),
                Side::TierEnd {
                    selecting,
                    isolating,
                    ..
                } if side.decision() == Decision::Denied => {
                    let list: Vec<String> = selecting
                        .iter()
                        .map(|&t| names.tier(t).to_string())
                        .chain(isolating.iter().map(|&p| names.policy(p).to_string()))
                        .collect();
                    let tier = selecting
                        .first()
                        .map_or(crate::policy::tiers::DEFAULT_TIER, |&t| names.tier_end(t));
                    parts.push(crate::policy::explain::end_of_tier_sentence(
                        direction, pod, tier, &list, &what,
                    ));
                }
                _ => {}
            }
        }
        parts.join("; ")
    };
    let allowances = || {
        match v.exemption {
            Some(Exemption::SelfTraffic) => return "a pod talking to itself".to_string(),
            Some(Exemption::NodeLocal) => {
                return "traffic between a pod and its own node".to_string()
            }
            Some(Exemption::NodeLocalHost { .. }) | None => {}
        }
        let mut parts = Vec::new();
        for (direction, side) in v.deciding() {
            match side {
                Side::Allowed(r) => parts.push(format!(
                    "{} {direction}[{}]",
                    names.policy(r.policy),
                    r.rule
                )),
                Side::TierAllowed(r) => {
                    parts.push(format!("{} {direction}[{}]", names.tier(r.policy), r.rule))
                }
                Side::NotIsolated => parts.push(format!("{direction} not isolated")),
                _ => {}
            }
        }
        parts.join(", ")
    };
    match outcome {
        Outcome::BlockedByPolicy => format!("blocked: {}", denials()),
        Outcome::AllowedByPolicy => format!("allowed by {}", allowances()),
        Outcome::NotIsolated => match v.exemption {
            Some(Exemption::SelfTraffic | Exemption::NodeLocal) => {
                format!("allowed: {}", allowances())
            }
            Some(Exemption::NodeLocalHost { .. }) | None => {
                "allowed: no policy isolates either end".to_string()
            }
        },
        Outcome::DatapathDrop => {
            let reason = match &event.datapath {
                Datapath::Dropped { reason } => reason.as_str(),
                Datapath::Forwarded => "?",
            };
            format!(
                "dropped by the datapath, not by NetworkPolicy: {reason} (policy: {})",
                allowances()
            )
        }
        Outcome::PolicyNotEnforced => {
            format!("policy not enforced here: forwarded, but {}", denials())
        }
        Outcome::Unknown => {
            let mut parts = Vec::new();
            for (side, direction, pod) in [
                (&v.egress, Direction::Egress, src),
                (&v.ingress, Direction::Ingress, dst),
            ] {
                let (isolating, rule) = match side {
                    Side::Unknown { isolating, rule } => (isolating, rule),
                    Side::TierUnknown { rule: Some(r) } => {
                        parts.push(format!(
                            "whether {} {direction}[{}] matches {pod}'s {direction} cannot be \
                             known (see explain)",
                            names.tier(r.policy),
                            r.rule
                        ));
                        continue;
                    }
                    Side::TierUnknown { rule: None } => {
                        parts.push(format!(
                            "{pod}: the cluster's tier policies (AdminNetworkPolicy and kin) \
                             could not be read, and they may decide its {direction}"
                        ));
                        continue;
                    }
                    _ => continue,
                };
                let list: Vec<String> = isolating
                    .iter()
                    .map(|&p| names.policy(p).to_string())
                    .collect();
                parts.push(match rule {
                    Some(rule) => format!(
                        "{pod} isolated for {direction} by {}; {} {direction}[{}] admits {what} \
                         only if namespace labels that could not be read match",
                        list.join(", "),
                        names.policy(rule.policy),
                        rule.rule
                    ),
                    None => format!(
                        "{pod}: the NetworkPolicies of its namespace could not be read, so its \
                         {direction} isolation is unknown"
                    ),
                });
            }
            let datapath = match &event.datapath {
                Datapath::Dropped { reason } => format!("dropped it ({reason})"),
                Datapath::Forwarded => "forwarded it".to_string(),
            };
            if parts.is_empty() {
                // Denied by policy, unless the address is one that could not be read.
                parts.push(format!(
                    "denied by policy only if the address is outside the cluster ({})",
                    denials()
                ));
            }
            format!("unknown: {}; the datapath {datapath}", parts.join("; "))
        }
    }
}

/// Endpoint and policy names, made once per snapshot and shared by every flow.
#[derive(Debug, Clone, Default)]
pub struct Names {
    pods: Vec<Arc<str>>,
    nodes: Vec<Arc<str>>,
    policies: Vec<Arc<str>>,
    tiers: Vec<Arc<str>>,
    /// Per tier policy: the tier at whose end it denies, for a Calico policy.
    tier_ends: Vec<Arc<str>>,
}

impl Names {
    pub fn new(index: &Index) -> Names {
        Names {
            pods: index
                .inventory()
                .pods
                .iter()
                .map(|p| Arc::from(p.key()))
                .collect(),
            nodes: index
                .inventory()
                .nodes
                .iter()
                .map(|n| Arc::from(format!("node/{}", n.name)))
                .collect(),
            policies: index
                .policies()
                .policies
                .iter()
                .map(|p| Arc::from(p.key()))
                .collect(),
            tiers: index
                .policies()
                .tiers
                .iter()
                .map(|p| Arc::from(p.key()))
                .collect(),
            tier_ends: (0..index.policies().tiers.len() as u32)
                .map(|t| Arc::from(index.policies().calico_tier_end(t)))
                .collect(),
        }
    }

    /// `Kind/name` of a tier policy by its place in evaluation order.
    /// The tier at whose end a Calico policy denies.
    pub fn tier_end(&self, id: u32) -> &str {
        self.tier_ends
            .get(id as usize)
            .map_or(crate::policy::tiers::DEFAULT_TIER, |s| s)
    }

    pub fn tier(&self, id: u32) -> Arc<str> {
        self.tiers
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    pub fn policy(&self, id: u32) -> Arc<str> {
        self.policies
            .get(id as usize)
            .cloned()
            .unwrap_or_else(|| Arc::from("?"))
    }

    fn endpoint(&self, index: &Index, e: &Endpoint) -> Arc<str> {
        match e {
            Endpoint::Pod { pod, .. } => self.pods[*pod as usize].clone(),
            Endpoint::Node { node, .. } => self.nodes[*node as usize].clone(),
            Endpoint::External(_) => Arc::from(endpoint_name(index.inventory(), e)),
        }
    }
}

/// Which flows a view shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum VerdictFilter {
    #[default]
    All,
    Blocked,
    Allowed,
    Disagreements,
}

impl VerdictFilter {
    pub fn next(self) -> VerdictFilter {
        match self {
            VerdictFilter::All => VerdictFilter::Blocked,
            VerdictFilter::Blocked => VerdictFilter::Allowed,
            VerdictFilter::Allowed => VerdictFilter::Disagreements,
            VerdictFilter::Disagreements => VerdictFilter::All,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            VerdictFilter::All => "all",
            VerdictFilter::Blocked => "blocked",
            VerdictFilter::Allowed => "allowed",
            VerdictFilter::Disagreements => "disagreements",
        }
    }

    pub fn admits(self, outcome: Outcome) -> bool {
        match self {
            VerdictFilter::All => true,
            VerdictFilter::Blocked => {
                matches!(outcome, Outcome::BlockedByPolicy | Outcome::DatapathDrop)
            }
            VerdictFilter::Allowed => matches!(
                outcome,
                Outcome::AllowedByPolicy | Outcome::NotIsolated | Outcome::PolicyNotEnforced
            ),
            VerdictFilter::Disagreements => outcome.disagrees(),
        }
    }
}

/// The newest flows, at most `capacity`; older ones fall off the front.
#[derive(Debug, Clone)]
pub struct FlowStore {
    flows: VecDeque<Annotated>,
    capacity: usize,
    /// Every flow ever pushed, including those that fell off.
    pub total: u64,
}

impl FlowStore {
    pub const DEFAULT_CAPACITY: usize = 100_000;

    pub fn new(capacity: usize) -> FlowStore {
        FlowStore {
            flows: VecDeque::with_capacity(capacity.min(4096)),
            capacity: capacity.max(1),
            total: 0,
        }
    }

    pub fn push(&mut self, flow: Annotated) {
        if self.flows.len() == self.capacity {
            self.flows.pop_front();
        }
        self.flows.push_back(flow);
        self.total += 1;
    }

    pub fn len(&self) -> usize {
        self.flows.len()
    }

    pub fn capacity(&self) -> usize {
        self.capacity
    }

    pub fn is_empty(&self) -> bool {
        self.flows.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<&Annotated> {
        self.flows.get(i)
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = &Annotated> + ExactSizeIterator {
        self.flows.iter()
    }

    pub fn clear(&mut self) {
        self.flows.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::demo;
    use crate::policy::EngineOptions;

    fn demo_index() -> Index {
        let w = demo::load().expect("demo").world;
        Index::build(w.inventory, w.policies, EngineOptions::default())
    }

    fn ip_of(index: &Index, key: &str) -> IpAddr {
        let (ns, name) = key.split_once('/').expect("ns/pod");
        let id = index.pod_id(ns, name).expect("pod");
        index.inventory().pods[id as usize].ips[0]
    }

    fn event(index: &Index, from: &str, to: &str, port: u16, datapath: Datapath) -> FlowEvent {
        FlowEvent {
            time_ms: 0,
            src: ip_of(index, from),
            dst: ip_of(index, to),
            protocol: Protocol::Tcp,
            src_port: 40000,
            dst_port: port,
            datapath,
        }
    }

    #[test]
    fn outcomes_cover_both_views() {
        let index = demo_index();
        let names = Names::new(&index);
        let drop = || Datapath::Dropped {
            reason: "NETFILTER_DROP".into(),
        };
        let cases = [
            (
                "production/frontend",
                "production/database",
                5432,
                drop(),
                Outcome::BlockedByPolicy,
            ),
            (
                "production/frontend",
                "production/database",
                5432,
                Datapath::Forwarded,
                Outcome::PolicyNotEnforced,
            ),
            (
                "production/frontend",
                "production/backend",
                8080,
                Datapath::Forwarded,
                Outcome::AllowedByPolicy,
            ),
            (
                "production/frontend",
                "production/backend",
                8080,
                drop(),
                Outcome::DatapathDrop,
            ),
        ];
        for (from, to, port, dp, want) in cases {
            let a = annotate(&index, &names, event(&index, from, to, port, dp));
            assert_eq!(a.outcome, want, "{from} -> {to}: {}", a.explanation);
            assert_eq!(&*a.src_name, from);
            assert!(!a.policies.is_empty(), "{from} -> {to}: no policy named");
        }
        let blocked = annotate(
            &index,
            &names,
            event(
                &index,
                "production/frontend",
                "production/database",
                5432,
                drop(),
            ),
        );
        assert!(
            blocked
                .explanation
                .contains("production/database isolated for ingress by production/database-netpol"),
            "{}",
            blocked.explanation
        );
    }

    #[test]
    fn store_keeps_the_newest() {
        let index = demo_index();
        let names = Names::new(&index);
        let mut store = FlowStore::new(3);
        for port in 1..=5u16 {
            let e = event(
                &index,
                "production/frontend",
                "production/backend",
                port,
                Datapath::Forwarded,
            );
            store.push(annotate(&index, &names, e));
        }
        assert_eq!(store.len(), 3);
        assert_eq!(store.total, 5);
        let ports: Vec<u16> = store.iter().map(|f| f.event.dst_port).collect();
        assert_eq!(ports, [3, 4, 5]);
    }
}
