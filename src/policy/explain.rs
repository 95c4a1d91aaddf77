//! `explain`: re-derives a verdict the literal way, straight from the model, and records
//! every policy considered and why each rule, peer and port did or did not match.
//!
//! This is deliberately a second, independent evaluation: the index in `engine` is fast,
//! this one is obvious, and the tests hold them equal.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use serde::Serialize;

use super::explain_tiers;
use super::tiers::{Action, Tier};

pub use super::checks::Check;
use super::checks::{self, check_port, pod_peer_check, CiliumPeer};
use super::engine::{
    Decision, Endpoint, EngineOptions, Exemption, Flow, Index, PolicyId, RuleRef, Side, Verdict,
};
use super::explain_tiers::{TierCite, TierTrace};
use super::model::{
    ContainerPort, Direction, Inventory, IpBlock, NamespaceScope, Peer, Pod, Policy,
};

#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    pub src: String,
    pub dst: String,
    pub protocol: String,
    pub port: u16,
    pub allowed: bool,
    /// Why the flow is allowed regardless of policy, if it is.
    pub exemption: Option<Exemption>,
    pub egress: SideExplanation,
    pub ingress: SideExplanation,
    /// Implementation choices and caveats that bear on this verdict.
    pub notes: Vec<String>,
    /// Set when the verdict is DENIED only because something could not be read: the flow
    /// might be allowed after all (for example, the other end might be the pod's own node).
    pub unknown: Option<String>,
    /// The verdict in the engine's own terms (policy ids index the policy set).
    #[serde(skip)]
    pub verdict: Verdict,
}

#[derive(Debug, Clone, Serialize)]
pub struct SideExplanation {
    pub direction: Direction,
    /// The pod whose policies decide this side, when that end is a pod; `host NODE` when it
    /// is a node's own address, whose host endpoint Cilium's host policies may select.
    pub pod: Option<String>,
    /// `not_applicable`, `not_isolated`, `allowed` or `denied`.
    pub outcome: &'static str,
    /// The admitting policy and rule (0-based index into its rules of this direction).
    pub allowed_by: Option<RuleCite>,
    /// The policies that isolate the pod in this direction.
    pub isolated_by: Vec<String>,
    /// Every policy of the pod's namespace, and what it did.
    pub policies: Vec<PolicyTrace>,
    /// Whether policies that may select the pod could not be read (or whether they select
    /// it cannot be told), so that the side may be unknown without any listed.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub policies_unread: bool,
    /// The tier rule that decided this side (before or after NetworkPolicy), if one did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub decided_by: Option<TierCite>,
    /// Tier rules that passed the flow on to the next tier.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub passed: Vec<TierCite>,
    /// The tier policies, Admin tier then Baseline tier, each in evaluation order.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierTrace>,
    /// Allowed at L3/L4, then filtered at L7: every rule that admits the flow carries L7
    /// rules (Cilium's HTTP, DNS, Kafka), listed here; they are shown, not judged.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub l7: Option<String>,
    /// No rule of Calico's default tier decided, and these policies of the tier select the
    /// pod: the tier denies (unknown where they only maybe select it).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end_of_tier: Option<EndOfTier>,
}

/// Calico's default tier, at its end: what selects the pod.
#[derive(Debug, Clone, Serialize)]
pub struct EndOfTier {
    /// A Calico tier of its own (`None`: the default tier).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tier: Option<explain_tiers::CalicoTierName>,
    /// Calico policies of the tier that select the pod for this direction.
    pub selecting: Vec<String>,
    /// NetworkPolicies that isolate it.
    pub isolating: Vec<String>,
    /// Calico policies that may select it (namespace labels or service accounts that
    /// cannot be read decide).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub maybe: Vec<String>,
}

impl EndOfTier {
    /// `Calico's default tier`, `Calico tier security`.
    pub fn tier_name(&self) -> String {
        match &self.tier {
            Some(c) => format!("Calico tier {}", c.name),
            None => super::tiers::DEFAULT_TIER.to_string(),
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleCite {
    pub policy: String,
    pub rule: usize,
    pub peer: Option<usize>,
    pub port: Option<usize>,
}

#[derive(Debug, Clone, Serialize)]
pub struct PolicyTrace {
    pub policy: String,
    pub origin: String,
    pub selects_pod: bool,
    /// Whether it selects the pod cannot be told (`reason` says why).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub may_select: bool,
    /// Whether it isolates the pod in this direction (selects it and lists the policy type).
    pub isolates: bool,
    /// Why it does not apply, when it does not.
    pub reason: Option<String>,
    pub rules: Vec<RuleTrace>,
}

#[derive(Debug, Clone, Serialize)]
pub struct RuleTrace {
    pub index: usize,
    pub admits: bool,
    /// It would admit the flow if labels that cannot be read are what a peer selects.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// Empty with `any_peer` true when the rule lists no peers.
    pub any_peer: bool,
    pub peers: Vec<Check>,
    pub any_port: bool,
    pub ports: Vec<Check>,
}

/// Explains `flow` using the index's world and options; the result carries the same
/// verdict as `Index::verdict`.
impl Explanation {
    /// The answer in three words, as the verdict line and the exit code give it: allowed;
    /// unknown where something that could not be read decides; denied.
    pub fn decision(&self) -> Decision {
        if self.allowed {
            Decision::Allowed
        } else if self.unknown.is_some() {
            Decision::Unknown
        } else {
            Decision::Denied
        }
    }
}

pub fn explain(index: &Index, flow: &Flow) -> Explanation {
    let inv = index.inventory();
    let policies = &index.policies().policies;
    let mut notes = Vec::new();

    let exemption = index.exemption(flow);
    let egress = explain_side(index, Direction::Egress, flow, &mut notes);
    let ingress = explain_side(index, Direction::Ingress, flow, &mut notes);

    let host_policies = index.policies().has_host_policies();
    let exemption = exemption.map(|e| e.settled(flow, (&egress.0, &ingress.0), host_policies));
    let verdict = Verdict {
        egress: egress.0,
        ingress: ingress.0,
        exemption,
    };

    for end in [&flow.src, &flow.dst] {
        if let Endpoint::Pod { pod, .. } = end {
            let p = &inv.pods[*pod as usize];
            if p.host_network {
                notes.push(format!(
                    "{} uses the host network: it has its node's address, and whether policies \
                     select it is up to the network plugin",
                    p.key()
                ));
            }
            if p.template {
                let uses_blocks = policies.iter().any(|pol| {
                    pol.ingress
                        .iter()
                        .chain(pol.egress.iter())
                        .flatten()
                        .any(|r| r.peers.iter().any(|peer| matches!(peer, Peer::IpBlock(_))))
                });
                if uses_blocks {
                    notes.push(format!(
                        "{} stands for the pods of {} and has no IP, so no ipBlock can match it",
                        p.key(),
                        p.workload.as_deref().unwrap_or("a workload")
                    ));
                }
            }
        }
    }
    let mut unknown = None;
    if verdict.decision() == Decision::Unknown {
        let mut reasons = Vec::new();
        for (side, explained) in [(&verdict.egress, &egress.1), (&verdict.ingress, &ingress.1)] {
            match side {
                Side::Unknown { rule: None, .. }
                    if explained.policies.iter().any(|p| p.may_select) =>
                {
                    let maybe: Vec<String> = explained
                        .policies
                        .iter()
                        .filter(|p| p.may_select)
                        .map(|p| {
                            let why = p.reason.as_deref().unwrap_or_default();
                            format!("{} {why}", p.policy)
                        })
                        .collect();
                    reasons.push(format!(
                        "whether policies select {} for {} cannot be told: {}",
                        explained.pod.as_deref().unwrap_or("?"),
                        explained.direction,
                        maybe.join("; ")
                    ));
                }
                Side::Unknown { rule: None, .. } => {
                    let pod = explained.pod.as_deref().unwrap_or("?");
                    let ns = pod.split('/').next().unwrap_or(pod);
                    reasons.push(format!(
                        "the NetworkPolicies of namespace {ns} could not be read, so whether \
                         {pod} is isolated for {} and what admits it are unknown",
                        explained.direction
                    ));
                }
                Side::TierUnknown { rule: None } => reasons.push(format!(
                    "the cluster's tier policies (AdminNetworkPolicy, BaselineAdminNetworkPolicy, \
                     ClusterNetworkPolicy) could not be read, and they may decide the {} of {}",
                    explained.direction,
                    explained.pod.as_deref().unwrap_or("?")
                )),
                Side::TierUnknown { rule: Some(_) } => {
                    let cite = explained.decided_by.as_ref();
                    let why = explained
                        .tiers
                        .iter()
                        .flat_map(|t| {
                            t.rules
                                .iter()
                                .flat_map(|r| r.own.iter().chain(&r.peers))
                                .map(|c| (c.unknown, c.reason.as_str()))
                                .chain(
                                    t.unknown
                                        .then_some((true, t.reason.as_deref().unwrap_or(""))),
                                )
                        })
                        .find(|(unknown, _)| *unknown)
                        .map(|(_, reason)| reason.trim_start_matches("unknown: "))
                        .unwrap_or("it depends on what cannot be read");
                    reasons.push(match cite {
                        Some(c) => format!(
                            "whether {} {}[{}] ({}) applies cannot be known: {why}",
                            c.policy, explained.direction, c.rule, c.action
                        ),
                        None => format!("a tier rule might match: {why}"),
                    });
                }
                Side::TierEnd { maybe, .. } => {
                    let names: Vec<String> = maybe
                        .iter()
                        .map(|&t| index.policies().tiers[t as usize].key())
                        .collect();
                    let tier = maybe
                        .first()
                        .map_or(super::tiers::DEFAULT_TIER.into(), |&t| {
                            index.policies().calico_tier_end(t)
                        });
                    reasons.push(format!(
                        "no rule of {tier} decides the {} of {}, and whether {} select it (and \
                         so deny at the tier's end) depends on namespace labels or service \
                         accounts that cannot be read",
                        explained.direction,
                        explained.pod.as_deref().unwrap_or("?"),
                        names.join(", ")
                    ));
                }
                Side::Unknown { rule: Some(r), .. } => {
                    // A rule admits the flow only if what cannot be read or told from an
                    // address (namespace labels, DNS answers, what the inventory lacks) is so.
                    let why = explained
                        .policies
                        .iter()
                        .flat_map(|p| &p.rules)
                        .flat_map(|r| &r.peers)
                        .find(|c| c.unknown)
                        .map(|c| c.reason.trim_start_matches("unknown: "))
                        .unwrap_or("namespace labels cannot be read");
                    let policy = &index.policies().policies[r.policy as usize];
                    reasons.push(format!(
                        "{} {}[{}] might admit the flow: {why}",
                        policy.key(),
                        explained.direction,
                        r.rule
                    ));
                }
                _ => {}
            }
        }
        unknown = Some(reasons.join("; "));
    }
    if let Some(ip) = uncertain_address(inv, flow) {
        if !inv.nodes_known {
            notes.push(
                "node addresses are unknown: if the other end is the pod's own node, the flow is \
                 allowed regardless of policy"
                    .into(),
            );
        }
        if !inv.hidden.is_empty() {
            notes.push(format!(
                "{ip} is not a visible pod, but not everything could be read: {}",
                inv.hidden.join("; ")
            ));
        }
        if !verdict.allowed() && unknown.is_none() {
            // Name every way the address could change the answer.
            let mut could = Vec::new();
            if !inv.nodes_known {
                could.push(
                    "the pod's own node (always allowed; node addresses could not be read)"
                        .to_string(),
                );
            }
            if !inv.hidden.is_empty() {
                could.push("a pod that could not be read, which a policy might admit".to_string());
            }
            unknown = Some(format!(
                "denied by policy if {ip} is outside the cluster; it may be {}",
                could.join(", or ")
            ));
        }
    }
    if let Endpoint::Pod { pod, .. } = flow.dst {
        let p = &inv.pods[pod as usize];
        for summary in index.policies().istio_for(&p.namespace, &p.labels) {
            notes.push(format!(
                "Istio authorization also applies to {} (shown, not judged): {summary}",
                p.key()
            ));
        }
    }
    notes.sort();
    notes.dedup();

    Explanation {
        src: endpoint_name(inv, &flow.src),
        dst: endpoint_name(inv, &flow.dst),
        protocol: flow.protocol.to_string(),
        port: flow.port,
        allowed: verdict.allowed(),
        exemption,
        egress: egress.1,
        ingress: ingress.1,
        notes,
        unknown,
        verdict,
    }
}

/// The non-pod address at the other end of a pod's flow, when the inventory cannot rule out
/// that it is the pod's own node (nodes unreadable) or a pod that could not be read: a denial
/// of such a flow is not certain.
pub fn uncertain_address(inv: &Inventory, flow: &Flow) -> Option<std::net::IpAddr> {
    if inv.nodes_known && inv.hidden.is_empty() {
        return None;
    }
    match (flow.src, flow.dst) {
        (Endpoint::Pod { .. }, Endpoint::External(ip))
        | (Endpoint::External(ip), Endpoint::Pod { .. }) => Some(ip),
        _ => None,
    }
}

/// `ns/pod`, `node/NAME`, or the address; with the address after a pod used by IP.
pub fn endpoint_name(inv: &Inventory, endpoint: &Endpoint) -> String {
    match endpoint {
        Endpoint::Pod { pod, addr } => {
            let key = inv.pods[*pod as usize].key();
            match addr {
                Some(a) => format!("{key} ({a})"),
                None => key,
            }
        }
        Endpoint::Node { node, addr } => {
            let name = &inv.nodes[*node as usize].name;
            match addr {
                Some(a) => format!("node/{name} ({a})"),
                None => format!("node/{name}"),
            }
        }
        Endpoint::External(ip) => ip.to_string(),
    }
}

fn explain_side(
    index: &Index,
    direction: Direction,
    flow: &Flow,
    notes: &mut Vec<String>,
) -> (Side, SideExplanation) {
    let inv = index.inventory();
    let all = &index.policies().policies;
    let (subject, other) = match direction {
        Direction::Egress => (&flow.src, &flow.dst),
        Direction::Ingress => (&flow.dst, &flow.src),
    };
    // A node's own address is its host endpoint, which Cilium's host policies may select.
    let host;
    let (pod, pod_id) = match *subject {
        Endpoint::Pod { pod, .. } => (&inv.pods[pod as usize], Some(pod)),
        Endpoint::Node { node, .. } if judges_hosts(index, &inv.nodes[node as usize].name) => {
            host = host_endpoint(&inv.nodes[node as usize]);
            (&host, None)
        }
        _ => {
            let side = Side::NotApplicable;
            return (side.clone(), SideExplanation::bare(direction, None, &side));
        }
    };
    let name = match pod_id {
        Some(_) => pod.key(),
        None => format!("host {}", pod.name),
    };
    if let Some(hep) = index.policies().host_endpoint_for(pod) {
        return host_endpoint_unjudged(direction, name, hep);
    }
    let dst_ports: &[ContainerPort] = match flow.dst {
        Endpoint::Pod { pod, .. } => &inv.pods[pod as usize].ports,
        _ => &[],
    };

    let mut traces = Vec::new();
    let mut isolating: Vec<PolicyId> = Vec::new();
    let mut first_admit: Option<RuleRef> = None;
    let mut first_maybe: Option<RuleRef> = None;
    // Every rule that admits the flow, with its L7 rules.
    let mut admitting: Vec<(String, Option<&str>)> = Vec::new();
    let selections: Vec<(Option<bool>, String)> = all
        .iter()
        .map(|policy| checks::policy_selects(index, policy, pod))
        .collect();
    // Cilium policies that add rules without isolating count only where another isolates.
    let isolated = all
        .iter()
        .zip(&selections)
        .any(|(policy, (selects, _))| policy.isolates(direction) && *selects == Some(true));
    // Whether every policy that may select the subject is known to, or not to: a host
    // endpoint's are the host policies, whose selection the literal reading judges.
    let known = match pod_id {
        Some(id) => index.policies_known_for(id, direction),
        // A policy may select it: that matters where it has rules of this direction.
        None => all
            .iter()
            .zip(&selections)
            .all(|(p, (selects, _))| selects.is_some() || p.rules(direction).is_none()),
    };
    for ((pid, policy), (selects, why_not)) in all.iter().enumerate().zip(selections) {
        if selects == Some(false) && why_not.is_empty() {
            continue;
        }
        // Whether it may select the pod matters where it has rules of this direction.
        let may_select = selects.is_none() && policy.rules(direction).is_some();
        let selects = selects == Some(true);
        let rules = policy.rules(direction);
        if selects {
            let about = format!("spec.{direction}");
            for w in policy.warnings.iter().filter(|w| w.starts_with(&about)) {
                notes.push(format!("{}: {w}", policy.key()));
            }
        }
        let mut trace = PolicyTrace {
            policy: policy.key(),
            origin: policy.origin.to_string(),
            selects_pod: selects,
            may_select,
            isolates: selects && policy.isolates(direction),
            reason: None,
            rules: Vec::new(),
        };
        if !selects {
            trace.reason = Some(why_not);
            traces.push(trace);
            continue;
        }
        let Some(rules) = rules else {
            trace.reason = Some(match policy.cilium {
                None => format!(
                    "selects {} but its policyTypes do not include {}",
                    pod.name,
                    capitalized(direction)
                ),
                Some(_) => format!("selects {} but has no {direction} rules", pod.name),
            });
            traces.push(trace);
            continue;
        };
        if !policy.isolates(direction) {
            if !isolated {
                trace.reason = Some(format!(
                    "selects {} with enableDefaultDeny off for {direction}, and no policy \
                     isolates it: its rules are not needed",
                    pod.name
                ));
                traces.push(trace);
                continue;
            }
            trace.reason = Some(format!(
                "does not isolate {} (enableDefaultDeny off for {direction}); its rules add to \
                 those of the policies that do",
                pod.name
            ));
        }
        isolating.push(pid as PolicyId);
        if rules.is_empty() && policy.isolates(direction) {
            trace.reason = Some(format!(
                "isolates {} for {} and has no {} rules: denies all {} traffic",
                pod.name, direction, direction, direction
            ));
        }
        for (r, rule) in rules.iter().enumerate() {
            let peers: Vec<Check> = rule
                .peers
                .iter()
                .enumerate()
                .map(|(i, peer)| check_peer(index, policy, peer, (pod, other), i, notes))
                .collect();
            let ports: Vec<Check> = rule
                .ports
                .iter()
                .enumerate()
                .map(|(i, spec)| check_port(inv, spec, &flow.dst, dst_ports, flow, i))
                .collect();
            let peer_hit = if rule.peers.is_empty() {
                Some(None)
            } else {
                peers.iter().position(|c| c.matched).map(|i| Some(i as u32))
            };
            // No peer surely matches, but one might: its namespace's labels are unknown.
            let peer_maybe = if peer_hit.is_none() {
                peers.iter().position(|c| c.unknown).map(|i| Some(i as u32))
            } else {
                None
            };
            let port_hit = if rule.ports.is_empty() {
                Some(None)
            } else {
                ports.iter().position(|c| c.matched).map(|i| Some(i as u32))
            };
            let admits = peer_hit.is_some() && port_hit.is_some();
            let rule_ref = |peer: Option<Option<u32>>| RuleRef {
                policy: pid as PolicyId,
                rule: r as u32,
                peer: peer.flatten(),
                port: port_hit.flatten(),
            };
            if admits && first_admit.is_none() {
                first_admit = Some(rule_ref(peer_hit));
            }
            if admits {
                admitting.push((
                    format!("{} {direction}[{r}]", policy.key()),
                    policy.cilium.as_ref().and_then(|c| c.l7_of(direction, r)),
                ));
            }
            let might = peer_maybe.is_some() && port_hit.is_some();
            if might && first_maybe.is_none() {
                first_maybe = Some(rule_ref(peer_maybe));
            }
            trace.rules.push(RuleTrace {
                index: r,
                admits,
                unknown: might,
                any_peer: rule.peers.is_empty(),
                peers,
                any_port: rule.ports.is_empty(),
                ports,
            });
        }
        traces.push(trace);
    }

    let side = if isolating.is_empty() {
        Side::NotIsolated
    } else if let Some(r) = first_admit {
        Side::Allowed(r)
    } else if let Some(rule) = first_maybe {
        Side::Unknown {
            isolating: isolating.clone(),
            rule: Some(rule),
        }
    } else {
        Side::Denied {
            isolating: isolating.clone(),
        }
    };
    let side = match side {
        // Policies that could not be read may isolate the pod, or admit the flow.
        Side::NotIsolated | Side::Denied { .. } if !known => Side::Unknown {
            isolating: isolating.clone(),
            rule: None,
        },
        side => side,
    };
    // An L7 filter holds only if every rule that admits the flow carries one: a rule
    // without L7 rules for the same flow lets every request through.
    let l7 = match side {
        Side::Allowed(_) if admitting.iter().all(|(_, l7)| l7.is_some()) => Some(
            admitting
                .iter()
                .map(|(rule, l7)| format!("{rule} {}", l7.unwrap_or_default()))
                .collect::<Vec<_>>()
                .join("; "),
        ),
        Side::Allowed(_) => {
            let plain: Vec<&str> = admitting
                .iter()
                .filter(|(_, l7)| l7.is_none())
                .map(|(rule, _)| rule.as_str())
                .collect();
            for (rule, l7) in admitting.iter().filter(|(_, l7)| l7.is_some()) {
                notes.push(format!(
                    "the L7 rules of {rule} ({}) filter nothing here: {} admits the flow \
                     without L7 rules",
                    l7.unwrap_or_default(),
                    plain.join(", ")
                ));
            }
            None
        }
        _ => None,
    };
    let explanation = SideExplanation {
        direction,
        pod: Some(name),
        outcome: outcome(&side),
        allowed_by: first_admit.map(|r| RuleCite {
            policy: all[r.policy as usize].key(),
            rule: r.rule as usize,
            peer: r.peer.map(|p| p as usize),
            port: r.port.map(|p| p as usize),
        }),
        isolated_by: isolating
            .iter()
            .filter(|&&p| all[p as usize].isolates(direction))
            .map(|&p| all[p as usize].key())
            .collect(),
        policies: traces,
        policies_unread: !known,
        decided_by: None,
        passed: Vec::new(),
        tiers: Vec::new(),
        l7,
        end_of_tier: None,
    };
    with_tiers(index, direction, flow, pod, other, side, explanation)
}

/// Whether a node's own address has a side: where a Calico HostEndpoint protects the node,
/// Cilium host policies were read, or tier policies (host policies among them, maybe) could
/// not be.
fn judges_hosts(index: &Index, node: &str) -> bool {
    let set = index.policies();
    !set.tiers_known || set.has_host_policies() || set.host_endpoint_of(node).is_some()
}

/// The side of a host endpoint that a Calico HostEndpoint protects (a node's own address, or
/// a host-network pod on it): Calico's host endpoint policy decides, with its profiles,
/// failsafe ports, `applyOnForward` and `preDNAT`, and that is not judged.
fn host_endpoint_unjudged(
    direction: Direction,
    name: String,
    hep: &super::tiers::CalicoAddressSet,
) -> (Side, SideExplanation) {
    let node = hep.node.as_deref().unwrap_or_default();
    let trace = PolicyTrace {
        policy: hep.key(),
        origin: String::new(),
        selects_pod: false,
        may_select: true,
        isolates: false,
        reason: Some(format!(
            "protects node {node}: Calico's host endpoint policy (the policies that select \
             it, its profiles, failsafe ports, applyOnForward, preDNAT) decides the traffic of \
             the node's own addresses and host-network pods, and it is not judged"
        )),
        rules: Vec::new(),
    };
    let side = Side::Unknown {
        isolating: Vec::new(),
        rule: None,
    };
    let explanation = SideExplanation {
        policies: vec![trace],
        ..SideExplanation::bare(direction, Some(name), &side)
    };
    (side, explanation)
}

impl SideExplanation {
    /// A side's explanation with its outcome and nothing else.
    fn bare(direction: Direction, pod: Option<String>, side: &Side) -> SideExplanation {
        SideExplanation {
            direction,
            pod,
            outcome: outcome(side),
            allowed_by: None,
            isolated_by: Vec::new(),
            policies: Vec::new(),
            policies_unread: false,
            decided_by: None,
            passed: Vec::new(),
            tiers: Vec::new(),
            l7: None,
            end_of_tier: None,
        }
    }
}

/// A node's host endpoint as the subject of a side: a host-network "pod" of no namespace on
/// the node, with no labels and no ports, which only host policies select.
fn host_endpoint(node: &super::model::Node) -> Pod {
    Pod {
        namespace: String::new(),
        name: node.name.clone(),
        labels: Default::default(),
        ips: node.addresses.clone(),
        node: Some(node.name.clone()),
        host_network: true,
        ports: Vec::new(),
        workload: None,
        template: false,
        service_account: None,
        account_labels: None,
        origin: Default::default(),
    }
}

/// The NetworkPolicy answer of a side put between the Admin and Baseline tiers.
fn with_tiers(
    index: &Index,
    direction: Direction,
    flow: &Flow,
    pod: &Pod,
    other: &Endpoint,
    np: Side,
    mut explanation: SideExplanation,
) -> (Side, SideExplanation) {
    let set = index.policies();
    if set.tiers.is_empty() && set.tiers_known {
        return (np, explanation);
    }
    let ends = (direction, flow, pod, other);
    for tier in Tier::BEFORE_NETWORK_POLICY {
        if let Some(s) = tier_walk(index, tier, ends, &mut explanation) {
            return finish(set, s, explanation);
        }
    }
    let calico = set.tiers.iter().any(|t| t.tier.is_calico_default());
    let mut side = np;
    if calico {
        // The Calico policies before NetworkPolicy, NetworkPolicy's answer, those after it.
        for tier in [Tier::CalicoBefore, Tier::CalicoAfter] {
            if tier == Tier::CalicoAfter && matches!(side, Side::Allowed(_) | Side::Unknown { .. })
            {
                return finish(set, side, explanation);
            }
            let members = members_of(index, tier);
            match step(index, &members, ends, &mut explanation) {
                Walked::Decided(s) => return finish(set, s, explanation),
                Walked::Passed => return after(index, ends, explanation),
                Walked::Continue => {}
            }
        }
        let (selecting, maybe) = explain_tiers::default_tier_selecting(index, direction, pod);
        let names = |list: &[u32]| -> Vec<String> {
            list.iter().map(|&t| set.tiers[t as usize].key()).collect()
        };
        let end = EndOfTier {
            tier: None,
            selecting: names(&selecting),
            isolating: match &side {
                Side::Denied { isolating } => isolating
                    .iter()
                    .map(|&p| set.policies[p as usize].key())
                    .collect(),
                _ => Vec::new(),
            },
            maybe: names(&maybe),
        };
        let Some(end_side) = Side::end_of_default_tier(&side, selecting, maybe) else {
            return after(index, ends, explanation);
        };
        explanation.end_of_tier = Some(end);
        side = end_side;
        return finish(set, side, explanation);
    }
    if side == Side::NotIsolated {
        return after(index, ends, explanation);
    }
    finish(set, side, explanation)
}

/// The ends of a side: its direction, the flow, the pod it is of, and the other end.
type Ends<'a> = (Direction, &'a Flow, &'a Pod, &'a Endpoint);

/// The positions of a tier's policies in evaluation order.
fn members_of(index: &Index, tier: Tier) -> Vec<u32> {
    index
        .policies()
        .tiers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.tier == tier)
        .map(|(t, _)| t as u32)
        .collect()
}

/// Walks one tier into the explanation, a Calico tier of its own at a time: the side it
/// decides (by a rule, or by a Calico tier's default Deny for a pod it selects), or `None`
/// where the side goes on past it.
fn tier_walk(
    index: &Index,
    tier: Tier,
    ends: Ends,
    explanation: &mut SideExplanation,
) -> Option<Side> {
    let (direction, _, pod, _) = ends;
    let set = index.policies();
    let members = members_of(index, tier);
    // Consecutive policies of one Calico tier of their own end alike.
    let tier_of = |t: &u32| {
        let p = &set.tiers[*t as usize];
        p.tier
            .is_calico_named()
            .then(|| p.calico_tier().unwrap_or_default())
    };
    for group in members.chunk_by(|a, b| tier_of(a) == tier_of(b)) {
        match step(index, group, ends, explanation) {
            Walked::Decided(s) => return Some(s),
            Walked::Passed => continue,
            Walked::Continue => {}
        }
        let first = &set.tiers[group[0] as usize];
        let denies = first
            .calico
            .as_deref()
            .is_some_and(|c| tier.is_calico_named() && c.default_action == Action::Deny);
        if !denies {
            continue;
        }
        let (selecting, maybe) =
            explain_tiers::selecting(index, group.iter().copied(), direction, pod);
        if selecting.is_empty() && maybe.is_empty() {
            continue;
        }
        let names = |list: &[u32]| -> Vec<String> {
            list.iter().map(|&t| set.tiers[t as usize].key()).collect()
        };
        explanation.end_of_tier = Some(EndOfTier {
            tier: explain_tiers::calico_tier(first),
            selecting: names(&selecting),
            isolating: Vec::new(),
            maybe: names(&maybe),
        });
        return Some(Side::TierEnd {
            selecting,
            isolating: Vec::new(),
            maybe,
        });
    }
    None
}

/// `ingress of ns/pod denied at the end of Calico's default tier, which A, B select: no rule
/// admits TCP/80`, for flow annotations and audit reports; `tier` names the tier
/// ([`crate::policy::set::PolicySet::calico_tier_end`]), `policies` are the policies of it
/// that select the pod.
pub fn end_of_tier_sentence(
    direction: Direction,
    pod: &str,
    tier: &str,
    policies: &[String],
    what: &str,
) -> String {
    format!(
        "{direction} of {pod} denied at the end of {tier}, which {} select{}: no rule admits \
         {what}",
        policies.join(", "),
        if policies.len() == 1 { "s" } else { "" }
    )
}

/// What walking one tier did.
enum Walked {
    Decided(Side),
    Passed,
    Continue,
}

/// Walks some tier policies into the explanation.
fn step(index: &Index, members: &[u32], ends: Ends, explanation: &mut SideExplanation) -> Walked {
    let (direction, flow, pod, other) = ends;
    let walk = explain_tiers::walk(index, members, direction, pod, other, flow);
    explanation.tiers.extend(walk.traces);
    match walk.side {
        Some(side) => {
            // An Allow with an application-layer match: allowed at L3/L4, filtered at L7.
            explanation.l7 = match &side {
                Side::TierAllowed(at) => {
                    let policy = &index.policies().tiers[at.policy as usize];
                    policy.rules(direction)[at.rule as usize]
                        .l7
                        .as_ref()
                        .map(|l7| format!("{} {direction}[{}] {l7}", policy.key(), at.rule))
                }
                _ => None,
            };
            explanation.decided_by = walk.cite;
            explanation.allowed_by = None;
            Walked::Decided(side)
        }
        None if walk.cite.is_some() => {
            explanation.passed.extend(walk.cite);
            Walked::Passed
        }
        None => Walked::Continue,
    }
}

/// The tiers after NetworkPolicy, for a side nothing above decided.
fn after(index: &Index, ends: Ends, mut explanation: SideExplanation) -> (Side, SideExplanation) {
    let side = Tier::AFTER_NETWORK_POLICY
        .into_iter()
        .find_map(|tier| tier_walk(index, tier, ends, &mut explanation))
        .unwrap_or(Side::NotIsolated);
    finish(index.policies(), side, explanation)
}

/// The side's outcome written into its explanation.
fn finish(
    set: &crate::policy::set::PolicySet,
    mut side: Side,
    mut explanation: SideExplanation,
) -> (Side, SideExplanation) {
    if !set.tiers_known {
        side = Side::TierUnknown { rule: None };
    }
    explanation.outcome = outcome(&side);
    (side, explanation)
}

fn outcome(side: &Side) -> &'static str {
    match side {
        Side::NotApplicable => "not_applicable",
        Side::NotIsolated => "not_isolated",
        Side::Allowed(_) | Side::TierAllowed(_) => "allowed",
        Side::Denied { .. } | Side::TierDenied(_) => "denied",
        Side::TierEnd { .. } => match side.decision() {
            Decision::Denied => "denied",
            _ => "unknown",
        },
        Side::Unknown { .. } | Side::TierUnknown { .. } => "unknown",
    }
}

fn capitalized(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "Ingress",
        Direction::Egress => "Egress",
    }
}

fn check_peer(
    index: &Index,
    policy: &Policy,
    peer: &Peer,
    (subject, other): (&Pod, &Endpoint),
    i: usize,
    notes: &mut Vec<String>,
) -> Check {
    let inv = index.inventory();
    let what = describe_peer(peer, &policy.namespace);
    let (matched, reason) = match peer {
        Peer::Pods { pods, namespaces } => match other {
            Endpoint::Pod { pod, .. }
                if policy.cilium.is_some() && inv.pods[*pod as usize].host_network =>
            {
                (
                    Some(false),
                    format!(
                        "{} uses the host network; Cilium's endpoint selectors never match it",
                        inv.pods[*pod as usize].key()
                    ),
                )
            }
            Endpoint::Pod { pod, .. } => {
                let p = &inv.pods[*pod as usize];
                pod_peer_check(index, &policy.namespace, pods, namespaces, p)
            }
            Endpoint::Node { .. } => (
                Some(false),
                "the other end is a node, which pod and namespace selectors never match".into(),
            ),
            // Whether an unknown address is a pod cannot be said while pods are hidden; the
            // explanation's `unknown` says what that means for the verdict.
            Endpoint::External(ip) if !inv.hidden.is_empty() => (
                Some(false),
                format!("{ip} is not among the pods that could be read"),
            ),
            Endpoint::External(ip) => (
                Some(false),
                format!("{ip} is not a pod; only an ipBlock can match it"),
            ),
        },
        Peer::IpBlock(block) => {
            let (m, r) = ip_block_check(inv, index.options(), block, other, notes);
            (Some(m), r)
        }
        Peer::Entity(e) => checks::cilium_peer_check(index, CiliumPeer::Entity(*e), subject, other),
        Peer::Outside(b) => {
            checks::cilium_peer_check(index, CiliumPeer::Outside(b), subject, other)
        }
        Peer::Domains(d) => {
            checks::cilium_peer_check(index, CiliumPeer::Domains(d), subject, other)
        }
        Peer::Unjudged(w) => {
            checks::cilium_peer_check(index, CiliumPeer::Unjudged(w), subject, other)
        }
        Peer::Services(refs) => {
            checks::cilium_peer_check(index, CiliumPeer::Services(refs), subject, other)
        }
    };
    Check {
        index: i,
        what,
        matched: matched == Some(true),
        unknown: matched.is_none(),
        reason,
    }
}

fn ip_block_check(
    inv: &Inventory,
    options: &EngineOptions,
    block: &IpBlock,
    other: &Endpoint,
    notes: &mut Vec<String>,
) -> (bool, String) {
    let addrs: Vec<std::net::IpAddr> = match other {
        Endpoint::External(ip) => vec![*ip],
        Endpoint::Node { addr: Some(ip), .. } => vec![*ip],
        Endpoint::Node { node, addr: None } => inv.nodes[*node as usize].addresses.clone(),
        Endpoint::Pod { pod, addr } => {
            let p = &inv.pods[*pod as usize];
            if !options.ipblock_matches_pods {
                notes.push(
                    "ipBlock peers are not matched against pod IPs (--ipblock-pods=ignore, as \
                     Cilium does)"
                        .into(),
                );
                return (
                    false,
                    format!(
                        "{} is a pod, and ipBlocks are set not to match pod IPs",
                        p.key()
                    ),
                );
            }
            notes.push(
                "ipBlock peers are matched against pod IPs, as the Kubernetes conformance tests \
                 and Calico do; Cilium does not (see --ipblock-pods)"
                    .into(),
            );
            match addr {
                Some(a) => vec![*a],
                None => p.ips.clone(),
            }
        }
    };
    if addrs.is_empty() {
        return (false, "the other end has no known IP address".into());
    }
    if let Some(ip) = addrs.iter().find(|ip| block.contains(ip)) {
        return (true, format!("{ip} is inside {}", block.cidr));
    }
    let reasons: Vec<String> = addrs
        .iter()
        .map(|ip| {
            if ip.is_ipv4() != block.cidr.addr().is_ipv4() {
                format!("{ip} is of the other address family")
            } else if let Some(e) = block.except.iter().find(|e| e.contains(ip)) {
                format!("{ip} falls in the excepted {e}")
            } else {
                format!("{ip} is outside {}", block.cidr)
            }
        })
        .collect();
    (false, reasons.join("; "))
}

/// A peer in words: `pods app=web in namespace production`, `ipBlock 10.0.0.0/8 except ...`.
pub fn describe_peer(peer: &Peer, policy_namespace: &str) -> String {
    match peer {
        Peer::IpBlock(b) => b.to_string(),
        Peer::Entity(e) => format!("entity {e}"),
        Peer::Outside(b) => format!(
            "addresses outside the cluster in {}",
            b.to_string().trim_start_matches("ipBlock ")
        ),
        Peer::Domains(names) => format!("domain names {}", names.join(", ")),
        Peer::Services(refs) => {
            let named: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
            format!("the endpoints of {}", named.join(", "))
        }
        Peer::Unjudged(why) => format!("not judged: {why}"),
        Peer::Pods { pods, namespaces } => {
            let who = if pods.is_everything() {
                "all pods".to_string()
            } else {
                format!("pods {pods}")
            };
            let wher = match namespaces {
                NamespaceScope::PolicyNamespace => format!("in namespace {policy_namespace}"),
                NamespaceScope::Selector(s) if s.is_everything() => "in all namespaces".into(),
                NamespaceScope::Selector(s) => format!("in namespaces {s}"),
            };
            format!("{who} {wher}")
        }
    }
}
