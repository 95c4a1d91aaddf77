//! Audit: what staged policy changes would do, before anything is applied. The current policy
//! set and the staged one (current plus added, replaced and removed policies) are two worlds
//! over the same inventory; the same flows and the same pod pairs are judged in both, and the
//! differences are what would break and what would newly be allowed.
//!
//! Policy identity across the two worlds is namespace/name, never a position. Three lenses:
//! flows seen ([`Observer`]), declared reachability (`declared`), and each pod's effective
//! rules ([`pod_changes`]); `suggest` writes the allow rules that would keep what breaks.
//!
//! Pure: no I/O, no clock. Must not import tokio, kube's client, ratatui, crossterm or aya.

pub mod declared;
pub mod fix;
pub mod suggest;

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::IpAddr;
use std::sync::Arc;

use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Serialize;

use super::compile::compile_network_policy;
use super::effective::{effective, EffectiveSide};
use super::engine::{Decision, Endpoint, Flow, Index, PodId, PolicyId, Side, Verdict};
use super::error::{Error, Result};
use super::model::{Direction, Inventory, Origin, Policy, Protocol};
use super::set::PolicySet;
use super::tiers::TierPolicy;
use super::workload::Workloads;

/// One change to the policy set.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// Add the policy, or replace the one with its namespace and name.
    Set(Box<Policy>),
    /// Remove the policy with this namespace and name.
    Remove { namespace: String, name: String },
    /// Remove every current policy (what `--stage-all` does before adding its own).
    Clear,
    /// Add a tier policy (Calico's staged kinds), or replace the one of its key.
    SetTier(Box<TierPolicy>),
    /// Remove the tier policy of this key (`Kind/name`).
    RemoveTier { key: String },
}

/// A staged change and where it came from.
#[derive(Debug, Clone, PartialEq)]
pub struct Staged {
    pub change: Change,
    /// A file and line, `--what-if default-deny:dev`, `--unstage`, ...
    pub source: String,
    /// Off: kept in the list of staged changes, not applied (the UI switches them).
    pub enabled: bool,
    /// Held by the source itself (a staged object in the manifests or the cluster): it
    /// follows the source's world, where the user's own changes stay.
    pub from_source: bool,
}

impl Staged {
    pub fn new(change: Change, source: impl Into<String>) -> Staged {
        Staged {
            change,
            source: source.into(),
            enabled: true,
            from_source: false,
        }
    }

    /// `+ ns/name`, `- ns/name`, or `- every current policy`.
    pub fn label(&self) -> String {
        match &self.change {
            Change::Set(p) => format!("+ {}", p.key()),
            Change::Remove { namespace, name } => format!("- {namespace}/{name}"),
            Change::Clear => "- every current policy".into(),
            Change::SetTier(p) => format!("+ {}", p.key()),
            Change::RemoveTier { key } => format!("- {key}"),
        }
    }
}

/// What a staged change does to the current set.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "effect", rename_all = "snake_case")]
pub enum Effect {
    Added {
        policy: String,
        source: String,
    },
    Replaced {
        policy: String,
        source: String,
    },
    /// Set to what it already is.
    Unchanged {
        policy: String,
        source: String,
    },
    Removed {
        policy: String,
        source: String,
    },
    /// A removal of a policy that is not there.
    NotFound {
        policy: String,
        source: String,
    },
    /// Every current policy removed.
    Cleared {
        policies: usize,
        source: String,
    },
}

impl Effect {
    /// The policy set differs because of it.
    pub fn changes_something(&self) -> bool {
        match self {
            Effect::Added { .. } | Effect::Replaced { .. } | Effect::Removed { .. } => true,
            Effect::Cleared { policies, .. } => *policies > 0,
            Effect::Unchanged { .. } | Effect::NotFound { .. } => false,
        }
    }
}

/// Whether two policies select and admit the same (where they came from aside).
pub fn same_rules(a: &Policy, b: &Policy) -> bool {
    a.namespace == b.namespace
        && a.name == b.name
        && a.pod_selector == b.pod_selector
        && a.ingress == b.ingress
        && a.egress == b.egress
}

/// Whether two tier policies select and decide the same (where they came from aside).
fn same_tier_rules(a: &TierPolicy, b: &TierPolicy) -> bool {
    TierPolicy {
        origin: Origin::default(),
        ..a.clone()
    } == TierPolicy {
        origin: Origin::default(),
        ..b.clone()
    }
}

/// Tier policies added, removed or changed between two worlds: (in the staged world, its
/// position in the world that holds it).
fn changed_tiers(current: &Index, staged: &Index) -> Vec<(bool, u32)> {
    type ByKey<'a> = std::collections::HashMap<String, (u32, &'a TierPolicy)>;
    fn by_key(index: &Index) -> ByKey<'_> {
        index
            .policies()
            .tiers
            .iter()
            .enumerate()
            .map(|(t, p)| (p.key(), (t as u32, p)))
            .collect()
    }
    fn missing_or_changed(from: &ByKey, to: &ByKey, staged: bool) -> Vec<(bool, u32)> {
        from.iter()
            .filter(|(key, (_, p))| to.get(*key).is_none_or(|(_, q)| !same_tier_rules(p, q)))
            .map(|(_, (t, _))| (staged, *t))
            .collect()
    }
    let (now, then) = (by_key(current), by_key(staged));
    let mut changed = missing_or_changed(&then, &now, true);
    changed.extend(missing_or_changed(&now, &then, false));
    changed
}

/// The policy set with the enabled changes applied in order, and what each did.
pub fn apply(base: &PolicySet, changes: &[Staged]) -> (PolicySet, Vec<Effect>) {
    // By key: a NetworkPolicy and a Cilium policy of the same name are two policies.
    let mut set: BTreeMap<String, Policy> =
        base.policies.iter().map(|p| (p.key(), p.clone())).collect();
    let mut tiers: BTreeMap<String, TierPolicy> =
        base.tiers.iter().map(|p| (p.key(), p.clone())).collect();
    let mut effects = Vec::new();
    for staged in changes.iter().filter(|s| s.enabled) {
        let source = staged.source.clone();
        match &staged.change {
            Change::Set(p) => {
                let policy = p.key();
                effects.push(match set.insert(policy.clone(), (**p).clone()) {
                    None => Effect::Added { policy, source },
                    Some(old) if same_rules(&old, p) => Effect::Unchanged { policy, source },
                    Some(_) => Effect::Replaced { policy, source },
                });
            }
            Change::Remove { namespace, name } => {
                let policy = format!("{namespace}/{name}");
                effects.push(match set.remove(&policy) {
                    Some(_) => Effect::Removed { policy, source },
                    None => Effect::NotFound { policy, source },
                });
            }
            Change::Clear => {
                // NetworkPolicies only: Cilium's policies are not staged changes' to clear.
                let before = set.len();
                set.retain(|_, p| p.cilium.is_some());
                effects.push(Effect::Cleared {
                    policies: before - set.len(),
                    source,
                });
            }
            Change::SetTier(p) => {
                let policy = p.key();
                effects.push(match tiers.insert(policy.clone(), (**p).clone()) {
                    None => Effect::Added { policy, source },
                    Some(old) if same_tier_rules(&old, p) => Effect::Unchanged { policy, source },
                    Some(_) => Effect::Replaced { policy, source },
                });
            }
            Change::RemoveTier { key } => {
                let policy = key.clone();
                effects.push(match tiers.remove(key) {
                    Some(_) => Effect::Removed { policy, source },
                    None => Effect::NotFound { policy, source },
                });
            }
        }
    }
    let mut staged = PolicySet::new(set.into_values().collect())
        .with_tiers(tiers.into_values().collect())
        .with_calico_tiers(base.calico_tiers.clone())
        .with_calico_sets(base.calico_sets.clone())
        .with_istio(base.istio.clone());
    staged.tiers_known = base.tiers_known;
    staged.calico_sets_known = base.calico_sets_known;
    staged.cilium_host_firewall = base.cilium_host_firewall;
    (staged, effects)
}

/// The change a Calico StagedNetworkPolicy (`namespace` given) or StagedGlobalNetworkPolicy
/// (`None`) stages, by its `stagedAction`: `Set` (the default) adds or replaces the Calico
/// policy of its name with its spec, `Delete` removes that policy.
pub fn staged_calico_change(
    object: &super::calico::CalicoObject,
    staged_action: Option<&str>,
    namespace: Option<&str>,
    origin: Origin,
) -> std::result::Result<Change, super::FieldErrors> {
    let name = object.metadata.name.clone().unwrap_or_default();
    match staged_action {
        None | Some("Set") => super::calico::compile_calico_policy(object, namespace, origin)
            .map(|p| Change::SetTier(Box::new(p))),
        Some("Delete") => Ok(Change::RemoveTier {
            key: match namespace {
                Some(ns) => format!("projectcalico.org/NetworkPolicy/{ns}/{name}"),
                None => format!("projectcalico.org/GlobalNetworkPolicy/{name}"),
            },
        }),
        Some(_) => Err(super::FieldErrors(vec![super::error::FieldError {
            path: "spec.stagedAction".into(),
            message: "unsupported value: must be Set or Delete".into(),
        }])),
    }
}

/// A what-if: a default-deny for one namespace or all of them, in one or both directions,
/// written as real NetworkPolicy objects that can be printed and applied later.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WhatIf {
    /// `None`: every namespace.
    pub namespace: Option<String>,
    pub ingress: bool,
    pub egress: bool,
}

impl WhatIf {
    /// `default-deny:NS`, `default-deny-ingress:NS`, `default-deny-egress:NS`; NS may be `*`.
    pub fn parse(text: &str) -> Result<WhatIf> {
        let problem = |problem: &str| Error::WhatIf {
            text: text.to_string(),
            problem: problem.to_string(),
        };
        let (kind, ns) = text.trim().split_once(':').ok_or_else(|| {
            problem("write KIND:NAMESPACE, e.g. default-deny:development or default-deny:*")
        })?;
        let (ingress, egress) =
            match kind {
                "default-deny" => (true, true),
                "default-deny-ingress" => (true, false),
                "default-deny-egress" => (false, true),
                _ => return Err(problem(
                    "the what-ifs are default-deny, default-deny-ingress and default-deny-egress",
                )),
            };
        let namespace = match ns.trim() {
            "*" => None,
            "" => return Err(problem("name a namespace, or * for every namespace")),
            ns => {
                super::selector::validate_value(ns).map_err(|e| problem(&e))?;
                Some(ns.to_string())
            }
        };
        Ok(WhatIf {
            namespace,
            ingress,
            egress,
        })
    }

    /// `default-deny in development`, `default-deny-ingress in every namespace`.
    pub fn describe(&self) -> String {
        let kind = match (self.ingress, self.egress) {
            (true, false) => "default-deny-ingress",
            (false, true) => "default-deny-egress",
            _ => "default-deny",
        };
        match &self.namespace {
            Some(ns) => format!("{kind} in {ns}"),
            None => format!("{kind} in every namespace"),
        }
    }

    /// The NetworkPolicy objects it stands for, one per namespace: every pod selected,
    /// the directions isolated, no rule.
    pub fn manifests(&self, inv: &Inventory) -> Vec<net::NetworkPolicy> {
        let namespaces: Vec<String> = match &self.namespace {
            Some(ns) => vec![ns.clone()],
            None => inv.namespaces.iter().map(|n| n.name.clone()).collect(),
        };
        let (name, types) = match (self.ingress, self.egress) {
            (true, false) => ("default-deny-ingress", vec!["Ingress"]),
            (false, true) => ("default-deny-egress", vec!["Egress"]),
            _ => ("default-deny-all", vec!["Ingress", "Egress"]),
        };
        namespaces
            .into_iter()
            .map(|ns| net::NetworkPolicy {
                metadata: ObjectMeta {
                    name: Some(name.to_string()),
                    namespace: Some(ns),
                    ..ObjectMeta::default()
                },
                spec: Some(net::NetworkPolicySpec {
                    pod_selector: Some(LabelSelector::default()),
                    policy_types: Some(types.iter().map(|t| t.to_string()).collect()),
                    ..net::NetworkPolicySpec::default()
                }),
            })
            .collect()
    }
}

/// A NetworkPolicy object as a staged change (compiled as the API server would).
pub fn stage_manifest(np: &net::NetworkPolicy, source: &str) -> Result<Staged> {
    let policy = compile_network_policy(
        np,
        "default",
        Origin {
            source: source.to_string(),
            line: None,
        },
    )?;
    Ok(Staged::new(Change::Set(Box::new(policy)), source))
}

/// What changed between the two worlds for one flow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Delta {
    /// Allowed now, denied once staged.
    WouldBreak,
    /// Denied now, allowed once staged.
    WouldAllow,
}

impl Delta {
    /// Only sure answers change: unknown in either world is no change claimed.
    pub fn between(now: &Verdict, staged: &Verdict) -> Option<Delta> {
        match (now.decision(), staged.decision()) {
            (Decision::Allowed, Decision::Denied) => Some(Delta::WouldBreak),
            (Decision::Denied, Decision::Allowed) => Some(Delta::WouldAllow),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Delta::WouldBreak => "would_break",
            Delta::WouldAllow => "would_allow",
        }
    }
}

/// The two worlds: the current policies and the staged ones, over one inventory.
#[derive(Debug, Clone)]
pub struct Audit {
    pub current: Arc<Index>,
    pub staged: Arc<Index>,
    pub effects: Vec<Effect>,
    /// By staged policy id: the policy is new, or differs from the current one of its name.
    changed: Vec<bool>,
    /// Tier policies added, removed or changed by the staging: (in the staged world, its
    /// position there).
    changed_tiers: Vec<(bool, u32)>,
}

impl Audit {
    /// Applies `changes` to the current index's policies and compiles the staged world over
    /// the same inventory, with the same options.
    pub fn new(current: Arc<Index>, changes: &[Staged]) -> Audit {
        let (set, effects) = apply(current.policies(), changes);
        let staged = Index::build(
            current.inventory().clone(),
            Arc::new(set),
            current.options().clone(),
        );
        // By key: a Cilium policy and a NetworkPolicy of one name are two policies.
        let before: std::collections::HashMap<String, &Policy> = current
            .policies()
            .policies
            .iter()
            .map(|p| (p.key(), p))
            .collect();
        let changed = staged
            .policies()
            .policies
            .iter()
            .map(|p| before.get(&p.key()).is_none_or(|old| !same_rules(old, p)))
            .collect();
        let changed_tiers = changed_tiers(&current, &staged);
        Audit {
            current,
            staged: Arc::new(staged),
            effects,
            changed,
            changed_tiers,
        }
    }

    /// Whether anything staged changes the policy set at all.
    pub fn changes_something(&self) -> bool {
        self.effects.iter().any(Effect::changes_something)
    }

    /// The verdict now and once staged. Endpoints are the same in both worlds: one inventory.
    pub fn judge(&self, flow: &Flow) -> (Verdict, Verdict) {
        (self.current.verdict(flow), self.staged.verdict(flow))
    }

    /// `ns/name`, with ` (staged)` where the staged policy is new or changed.
    fn staged_name(&self, id: PolicyId) -> String {
        let key = self.staged.policies().policies[id as usize].key();
        if self.changed.get(id as usize).copied().unwrap_or(false) {
            format!("{key} (staged)")
        } else {
            key
        }
    }

    /// Whether a pod's policies for one direction differ between the worlds: the same
    /// policies, with the same rules, isolate it in both, or not.
    pub fn side_changed(&self, pod: PodId, direction: Direction) -> bool {
        // A tier policy the staging changes, and that may apply to the pod in either world.
        let tier_changed = self.changed_tiers.iter().any(|&(staged, t)| {
            let index = if staged { &self.staged } else { &self.current };
            index.tier_applies(t, pod) != Some(false)
        });
        if tier_changed {
            return true;
        }
        let now = self.current.isolating_policies(pod, direction);
        let then = self.staged.isolating_policies(pod, direction);
        now.len() != then.len()
            || now.iter().zip(then).any(|(&a, &b)| {
                !same_rules(
                    &self.current.policies().policies[a as usize],
                    &self.staged.policies().policies[b as usize],
                )
            })
    }

    /// One sentence: why the staged world decides the flow as it does (for a break, the
    /// policies that isolate and that no rule admits; for a new allowance, the rule).
    pub fn why(&self, flow: &Flow, delta: Delta) -> String {
        let v = self.staged.verdict(flow);
        let inv = self.staged.inventory();
        let what = format!("{}/{}", flow.protocol, flow.port);
        let mut parts = Vec::new();
        for (side, direction, end) in [
            (&v.egress, Direction::Egress, &flow.src),
            (&v.ingress, Direction::Ingress, &flow.dst),
        ] {
            let name = super::explain::endpoint_name(inv, end);
            match (delta, side) {
                (Delta::WouldBreak, Side::Denied { isolating }) => {
                    let list: Vec<String> =
                        isolating.iter().map(|&p| self.staged_name(p)).collect();
                    parts.push(format!(
                        "{name} isolated for {direction} by {}; no rule admits {what}",
                        list.join(", ")
                    ));
                }
                (Delta::WouldAllow, Side::Allowed(r)) => parts.push(format!(
                    "{direction} allowed by {} {direction}[{}]",
                    self.staged_name(r.policy),
                    r.rule
                )),
                (Delta::WouldAllow, Side::NotIsolated) if self.side_was_denied(flow, direction) => {
                    parts.push(format!("{name} no longer isolated for {direction}"))
                }
                (Delta::WouldBreak, Side::TierDenied(r)) => parts.push(format!(
                    "{direction} of {name} denied by {} {direction}[{}]",
                    self.staged_tier_name(r.policy),
                    r.rule
                )),
                (
                    Delta::WouldBreak,
                    Side::TierEnd {
                        selecting,
                        isolating,
                        ..
                    },
                ) if side.decision() == Decision::Denied => {
                    let list: Vec<String> = selecting
                        .iter()
                        .map(|&t| self.staged_tier_name(t))
                        .chain(isolating.iter().map(|&p| self.staged_name(p)))
                        .collect();
                    let tier = selecting
                        .first()
                        .map_or(super::tiers::DEFAULT_TIER.into(), |&t| {
                            self.staged.policies().calico_tier_end(t)
                        });
                    parts.push(super::explain::end_of_tier_sentence(
                        direction, &name, &tier, &list, &what,
                    ));
                }
                (Delta::WouldAllow, Side::TierAllowed(r)) => parts.push(format!(
                    "{direction} allowed by {} {direction}[{}]",
                    self.staged_tier_name(r.policy),
                    r.rule
                )),
                _ => {}
            }
        }
        parts.join("; ")
    }

    /// `Kind/name` of a staged tier policy, with ` (staged)` where the staging changes it.
    fn staged_tier_name(&self, t: u32) -> String {
        let key = self.staged.policies().tiers[t as usize].key();
        if self.changed_tiers.contains(&(true, t)) {
            format!("{key} (staged)")
        } else {
            key
        }
    }

    fn side_was_denied(&self, flow: &Flow, direction: Direction) -> bool {
        let v = self.current.verdict(flow);
        let side = match direction {
            Direction::Egress => &v.egress,
            Direction::Ingress => &v.ingress,
        };
        !side.allows()
    }
}

/// One end of an observed flow, as reports group them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndGroup {
    Workload(u32),
    Node(u32),
    /// Neither a pod nor a node of the inventory.
    Address(IpAddr),
}

/// Flows seen that the staged world judges otherwise, grouped by source, destination,
/// protocol, port and change.
#[derive(Debug, Clone)]
pub struct ObservedGroup {
    pub from: EndGroup,
    pub to: EndGroup,
    pub protocol: Protocol,
    pub port: u16,
    pub delta: Delta,
    pub flows: u64,
    pub first_seen_ms: u64,
    pub last_seen_ms: u64,
    /// One of its flows, to explain.
    pub example: Flow,
    /// Its flows between distinct pairs of classes (at most [`EXAMPLES`]): pods of one
    /// workload can differ, and a fix must keep them all.
    pub examples: Vec<Flow>,
}

/// How many flows of distinct class pairs a group keeps.
pub const EXAMPLES: usize = 16;

/// Distinct addresses-and-port keys remembered as judged; past this the memory is emptied.
const JUDGED_CACHE: usize = 1 << 17;

/// The flows-seen lens: takes flows one by one and keeps only groups that change. Each
/// distinct (source, destination, protocol, port) is judged once.
#[derive(Debug)]
pub struct Observer<'a> {
    audit: &'a Audit,
    workloads: &'a Workloads,
    /// Distinct addresses and port: the group of their flows, or none if nothing changes.
    judged: HashMap<(IpAddr, IpAddr, Protocol, u16), Option<u32>>,
    groups: Vec<ObservedGroup>,
    group_of: HashMap<(EndGroup, EndGroup, Protocol, u16, Delta), u32>,
    /// Every flow taken, changed or not.
    pub flows: u64,
}

impl<'a> Observer<'a> {
    pub fn new(audit: &'a Audit, workloads: &'a Workloads) -> Observer<'a> {
        Observer {
            audit,
            workloads,
            judged: HashMap::new(),
            groups: Vec::new(),
            group_of: HashMap::new(),
            flows: 0,
        }
    }

    fn end(&self, e: &Endpoint) -> EndGroup {
        match *e {
            Endpoint::Pod { pod, .. } => EndGroup::Workload(self.workloads.of_pod[pod as usize]),
            Endpoint::Node { node, .. } => EndGroup::Node(node),
            Endpoint::External(ip) => EndGroup::Address(ip),
        }
    }

    /// Takes one flow seen at `time_ms`.
    pub fn add(&mut self, time_ms: u64, src: IpAddr, dst: IpAddr, protocol: Protocol, port: u16) {
        self.flows += 1;
        let key = (src, dst, protocol, port);
        let group = match self.judged.get(&key) {
            Some(g) => *g,
            None => {
                let index = &self.audit.current;
                let flow = Flow {
                    src: index.endpoint_for_ip(src),
                    dst: index.endpoint_for_ip(dst),
                    protocol,
                    port,
                };
                let (now, then) = self.audit.judge(&flow);
                let group = Delta::between(&now, &then).map(|delta| {
                    let gkey = (
                        self.end(&flow.src),
                        self.end(&flow.dst),
                        protocol,
                        port,
                        delta,
                    );
                    let next = self.groups.len() as u32;
                    let g = *self.group_of.entry(gkey).or_insert_with(|| {
                        self.groups.push(ObservedGroup {
                            from: gkey.0,
                            to: gkey.1,
                            protocol,
                            port,
                            delta,
                            flows: 0,
                            first_seen_ms: time_ms,
                            last_seen_ms: time_ms,
                            example: flow,
                            examples: Vec::new(),
                        });
                        next
                    });
                    let class = |e: &Endpoint| e.pod_id().map(|p| index.class_of(p));
                    let pair = (class(&flow.src), class(&flow.dst));
                    let examples = &mut self.groups[g as usize].examples;
                    if examples.len() < EXAMPLES
                        && !examples
                            .iter()
                            .any(|f| (class(&f.src), class(&f.dst)) == pair)
                    {
                        examples.push(flow);
                    }
                    g
                });
                // The cache only saves work: emptied when full, memory stays bounded.
                if self.judged.len() >= JUDGED_CACHE {
                    self.judged.clear();
                }
                self.judged.insert(key, group);
                group
            }
        };
        if let Some(g) = group {
            let g = &mut self.groups[g as usize];
            g.flows += 1;
            g.first_seen_ms = g.first_seen_ms.min(time_ms);
            g.last_seen_ms = g.last_seen_ms.max(time_ms);
        }
    }

    /// The groups, sorted by change, source, destination, protocol and port.
    pub fn finish(mut self) -> Vec<ObservedGroup> {
        self.groups.sort_by(|a, b| {
            (a.delta, a.from, a.to, a.protocol, a.port)
                .cmp(&(b.delta, b.from, b.to, b.protocol, b.port))
        });
        self.groups
    }
}

/// A pod's effective rules, before and after, in one direction.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SideChange {
    pub isolated_before: bool,
    pub isolated_after: bool,
    /// Allowances (`peer · ports [policy rule]`) only once staged.
    pub added: Vec<String>,
    /// Allowances only now.
    pub removed: Vec<String>,
}

/// A pod whose effective rules differ between the worlds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PodChange {
    pub pod: String,
    pub ingress: SideChange,
    pub egress: SideChange,
}

fn allowances(side: &EffectiveSide) -> BTreeSet<String> {
    side.allows
        .iter()
        .map(|a| {
            let ports = if a.ports.is_empty() {
                "all ports".to_string()
            } else {
                a.ports.join(", ")
            };
            format!(
                "{} · {ports} [{} {}[{}]]",
                a.peer, a.policy, side.direction, a.rule
            )
        })
        .collect()
}

fn side_change(before: &EffectiveSide, after: &EffectiveSide) -> SideChange {
    let (b, a) = (allowances(before), allowances(after));
    SideChange {
        isolated_before: before.isolated,
        isolated_after: after.isolated,
        added: a.difference(&b).cloned().collect(),
        removed: b.difference(&a).cloned().collect(),
    }
}

/// Every pod whose effective ingress or egress differs once staged, in pod order. Only pods
/// whose policies differ are looked at; pods of one class share the work.
pub fn pod_changes(audit: &Audit, keep: impl Fn(PodId) -> bool) -> Vec<PodChange> {
    let inv = audit.current.inventory();
    let mut by_class: HashMap<(u32, u32), Option<(SideChange, SideChange)>> = HashMap::new();
    let mut out = Vec::new();
    for p in 0..inv.pods.len() as PodId {
        if !keep(p)
            || !(audit.side_changed(p, Direction::Ingress)
                || audit.side_changed(p, Direction::Egress))
        {
            continue;
        }
        let key = (audit.current.class_of(p), audit.staged.class_of(p));
        let change = by_class
            .entry(key)
            .or_insert_with(|| {
                let (before, after) = (effective(&audit.current, p), effective(&audit.staged, p));
                let ingress = side_change(&before.ingress, &after.ingress);
                let egress = side_change(&before.egress, &after.egress);
                let same = |s: &SideChange| {
                    s.isolated_before == s.isolated_after
                        && s.added.is_empty()
                        && s.removed.is_empty()
                };
                (!same(&ingress) || !same(&egress)).then_some((ingress, egress))
            })
            .clone();
        if let Some((ingress, egress)) = change {
            out.push(PodChange {
                pod: inv.pods[p as usize].key(),
                ingress,
                egress,
            });
        }
    }
    out
}
