//! `effective`: what a pod may receive and send, merged over every policy that selects it,
//! each allowance tagged with the policy and rule it comes from.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use serde::Serialize;

use super::engine::{Index, PodId};
use super::explain::describe_peer;
use super::model::{Direction, Labels, PortMatch};
use super::tiers::{self, Action, Tier};

#[derive(Debug, Clone, Serialize)]
pub struct Effective {
    pub pod: String,
    pub labels: Labels,
    pub ingress: EffectiveSide,
    pub egress: EffectiveSide,
    /// Istio AuthorizationPolicies that apply to the pod's inbound requests, in words:
    /// shown, not judged.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub istio: Vec<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct EffectiveSide {
    pub direction: Direction,
    /// False: no policy isolates the pod this way, so everything is allowed.
    pub isolated: bool,
    /// Policies that isolate the pod in this direction.
    pub policies: Vec<String>,
    /// Policies that select the pod but leave this direction alone.
    pub selecting_without_isolating: Vec<String>,
    pub allows: Vec<Allowance>,
    /// Rules of the Admin tier that apply to the pod, in evaluation order (before
    /// NetworkPolicy: the first that matches decides).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub admin: Vec<TierLine>,
    /// Calico's policies that select the pod but cannot be placed (another tier, or order
    /// 1000): read, not judged (the side is unknown).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calico: Vec<TierLine>,
    /// Rules of Calico policies of the default tier before NetworkPolicy (order below 1000).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calico_before: Vec<TierLine>,
    /// Rules of Calico policies of the default tier after NetworkPolicy (order above 1000,
    /// or none). Where the tier selects the pod, what no rule decides is denied.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calico_after: Vec<TierLine>,
    /// A Calico policy of the default tier selects the pod for this direction: what no rule
    /// of the tier decides is denied (`None`: maybe, where what cannot be read decides).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calico_selects: Option<bool>,
    /// Calico's tiers of their own (Tier objects) whose policies apply to the pod, in
    /// evaluation order, each with its rules and what it does with what they leave.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub calico_tiers: Vec<CalicoTierSide>,
    /// Cilium's deny rules that apply to the pod: after the Admin tier, before every allow.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub cilium: Vec<TierLine>,
    /// Rules of the Baseline tier, in evaluation order: they decide only where no
    /// NetworkPolicy isolates the pod.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub baseline: Vec<TierLine>,
    /// Set when the namespace's NetworkPolicies could not be read: what is listed is what the
    /// readable ones say, and policies not seen may isolate the pod or admit more.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

/// A Calico tier of its own as it bears on one side of a pod.
#[derive(Debug, Clone, Serialize)]
pub struct CalicoTierSide {
    /// The tier's name.
    pub tier: String,
    /// Where it stands: before the admin tier, between the admin and default tiers, ...
    pub place: Tier,
    /// The tier's order (`none`: after every ordered tier).
    pub order: String,
    /// What the tier does with what its rules leave undecided for a pod it selects.
    pub default_action: Action,
    /// Whether its policies select the pod for this direction (`None`: maybe, where what
    /// cannot be read decides): only then does the default action apply.
    pub selects: Option<bool>,
    /// Its rules that apply to the pod, in evaluation order.
    pub rules: Vec<TierLine>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Allowance {
    pub policy: String,
    /// 0-based index into the policy's rules of this direction.
    pub rule: usize,
    /// The peer in words; `any source` / `any destination` when the rule has none.
    pub peer: String,
    /// How many pods of the inventory the peer matches (selector peers only).
    pub peer_pods: Option<usize>,
    /// How many more pods it matches if namespace labels that could not be read are what its
    /// namespace selector asks for: those pods' answers are unknown.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub peer_pods_unknown: Option<usize>,
    /// The ports in words; empty means every port and protocol.
    pub ports: Vec<String>,
    /// Ingress: of the other pods the peer matches (second), how many cannot send on any of
    /// the rule's ports because their own side (its policies or tiers) does not let them
    /// (first): admitted here, blocked there. `None` where not worked out (egress, no
    /// selector peer, no port to try).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub blocked_elsewhere: Option<(usize, usize)>,
}

/// One rule of a tier policy that applies to the pod.
#[derive(Debug, Clone, Serialize)]
pub struct TierLine {
    /// `Kind/name`.
    pub policy: String,
    pub priority: i32,
    /// A Calico policy's order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    /// 0-based index into the policy's rules of this direction.
    pub rule: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub action: Action,
    /// A Calico rule's condition on the pod itself, in words.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own: Option<String>,
    /// The peers in words (ored).
    pub peers: Vec<String>,
    /// The ports in words; empty means every port and protocol.
    pub ports: Vec<String>,
    /// Whether the policy applies to this pod depends on namespace labels that cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
}

/// The rules of the tier policies that apply to the pod, by [`Tier::index`]: Admin tier,
/// Cilium's deny rules, Calico's default tier, Baseline tier (Calico's tiers of their own
/// are [`calico_tiers`]'s).
fn tier_lines(index: &Index, pod_id: PodId, direction: Direction) -> [Vec<TierLine>; Tier::COUNT] {
    let mut lines: [Vec<TierLine>; Tier::COUNT] = Default::default();
    for (t, policy) in index.policies().tiers.iter().enumerate() {
        if policy.tier.is_calico_named() {
            continue;
        }
        let applies = index.tier_applies(t as u32, pod_id);
        if applies != Some(false) {
            lines[policy.tier.index()].extend(policy_lines(policy, direction, applies));
        }
    }
    lines
}

/// One tier policy's rules of `direction`, in words; `applies`: whether it applies to the pod
/// (`None`: maybe).
fn policy_lines<'a>(
    policy: &'a tiers::TierPolicy,
    direction: Direction,
    applies: Option<bool>,
) -> impl Iterator<Item = TierLine> + 'a {
    policy
        .rules(direction)
        .iter()
        .enumerate()
        .map(move |(r, rule)| TierLine {
            policy: policy.key(),
            priority: policy.priority,
            order: policy
                .tier
                .is_calico()
                .then(|| policy.order.map_or("none".into(), |o| o.to_string())),
            rule: r,
            name: rule.name.clone(),
            action: rule.action,
            own: rule.own.as_ref().map(|e| e.describe()),
            peers: rule.peers.iter().map(tiers::describe_peer).collect(),
            ports: rule
                .ports
                .iter()
                .flatten()
                .map(|spec| spec.to_string())
                .collect(),
            unknown: applies.is_none(),
        })
}

/// Calico's tiers of their own that bear on one side of a pod, each with its rules that
/// apply to the pod.
fn calico_tiers(index: &Index, pod_id: PodId, direction: Direction) -> Vec<CalicoTierSide> {
    let mut out: Vec<CalicoTierSide> = Vec::new();
    for (t, policy) in index.policies().tiers.iter().enumerate() {
        let Some(place) = policy
            .calico
            .as_deref()
            .filter(|_| policy.tier.is_calico_named())
        else {
            continue;
        };
        let applies = index.tier_applies(t as u32, pod_id);
        let selects = match applies {
            _ if !policy.types.contains(&direction) => Some(false),
            applies => applies,
        };
        if out.last().is_none_or(|c| c.tier != place.tier) {
            out.push(CalicoTierSide {
                tier: place.tier.clone(),
                place: policy.tier,
                order: place.tier_order.map_or("none".into(), |o| o.to_string()),
                default_action: place.default_action,
                selects: Some(false),
                rules: Vec::new(),
            });
        }
        let side = out.last_mut().expect("just pushed");
        side.selects = match (side.selects, selects) {
            (Some(true), _) | (_, Some(true)) => Some(true),
            (None, _) | (_, None) => None,
            _ => Some(false),
        };
        if applies != Some(false) {
            side.rules.extend(policy_lines(policy, direction, applies));
        }
    }
    out.retain(|c| c.selects != Some(false) || !c.rules.is_empty());
    out
}

/// The effective rules of a pod, without [`Allowance::blocked_elsewhere`] (cheap enough for
/// every pod of a cluster).
/// Why the policies that decide a pod's sides are not all known, if they are not: a Calico
/// HostEndpoint's policy on its node, NetworkPolicies that could not be read, or policies
/// whose selection of it cannot be told.
fn unknown_reason(index: &Index, id: PodId, direction: Direction) -> Option<String> {
    let set = index.policies();
    let pod = &index.inventory().pods[id as usize];
    if let Some(hep) = set.host_endpoint_for(pod) {
        return Some(format!(
            "{} protects node {}: Calico's host endpoint policy decides this pod's traffic, \
             and it is not judged",
            hep.key(),
            pod.node.as_deref().unwrap_or_default()
        ));
    }
    if index.policies_known_for(id, direction) {
        return None;
    }
    if index
        .namespace(&pod.namespace)
        .is_some_and(|ns| !ns.policies_known)
    {
        return Some(format!(
            "the NetworkPolicies of namespace {} could not be read: others may isolate this \
             pod or admit more",
            pod.namespace
        ));
    }
    let maybe: Vec<String> = set
        .policies
        .iter()
        .filter(|p| p.rules(direction).is_some())
        .filter_map(|p| match super::checks::policy_selects(index, p, pod) {
            (None, why) => Some(format!("{} {why}", p.key())),
            _ => None,
        })
        .collect();
    Some(format!(
        "whether policies select this pod cannot be told: {}",
        maybe.join("; ")
    ))
}

pub fn effective(index: &Index, pod_id: PodId) -> Effective {
    effective_with(index, pod_id, false)
}

/// The effective rules of a pod; with `peers`, each ingress rule's peers are judged sending
/// to it too (one pod's detail: work grows with the pod classes a peer matches).
pub fn effective_with(index: &Index, pod_id: PodId, peers: bool) -> Effective {
    let inv = index.inventory();
    let pod = &inv.pods[pod_id as usize];
    let side = |direction: Direction| {
        let mut side = EffectiveSide {
            direction,
            isolated: false,
            policies: Vec::new(),
            selecting_without_isolating: Vec::new(),
            allows: Vec::new(),
            admin: Vec::new(),
            calico: Vec::new(),
            calico_before: Vec::new(),
            calico_after: Vec::new(),
            calico_tiers: Vec::new(),
            calico_selects: match index.calico_default_tier_selects(pod_id, direction) {
                Some(false) => None,
                Some(true) => Some(true),
                None => Some(false),
            },
            cilium: Vec::new(),
            baseline: Vec::new(),
            unknown: if !index.policies().tiers_known {
                Some(
                    "the cluster's tier policies (AdminNetworkPolicy and kin) could not be read: \
                     they may allow or deny anything before and after NetworkPolicy"
                        .to_string(),
                )
            } else {
                unknown_reason(index, pod_id, direction)
            },
        };
        let mut lines = tier_lines(index, pod_id, direction);
        side.calico_tiers = calico_tiers(index, pod_id, direction);
        let mut take = |tier: Tier| std::mem::take(&mut lines[tier.index()]);
        side.calico = take(Tier::Calico);
        side.admin = take(Tier::Admin);
        side.cilium = take(Tier::Cilium);
        side.calico_before = take(Tier::CalicoBefore);
        side.calico_after = take(Tier::CalicoAfter);
        side.baseline = take(Tier::Baseline);
        for &pid in index.isolating_policies(pod_id, direction) {
            let policy = &index.policies().policies[pid as usize];
            side.isolated = true;
            if policy.isolates(direction) {
                side.policies.push(policy.key());
            }
            let port_text = |spec: &super::model::PortSpec| match &spec.port {
                PortMatch::Named { name } => match direction {
                    Direction::Ingress => {
                        let here: Vec<String> = pod
                            .ports
                            .iter()
                            .filter(|cp| {
                                cp.name.as_deref() == Some(name.as_str())
                                    && cp.protocol == spec.protocol
                            })
                            .map(|cp| cp.port.to_string())
                            .collect();
                        if here.is_empty() {
                            format!("{spec} (no such port on this pod: matches nothing)")
                        } else {
                            format!("{spec} (= {} here)", here.join(", "))
                        }
                    }
                    Direction::Egress => format!("{spec} (resolved on each destination pod)"),
                },
                _ => spec.to_string(),
            };
            let blocked = |r: usize, i: usize, ports: &[super::model::PortSpec]| match direction {
                Direction::Ingress if peers => blocked_elsewhere(index, pod_id, pid, r, i, ports),
                _ => None,
            };
            side.allows
                .extend(rule_allowances(index, pid, direction, port_text, blocked));
        }
        for policy in &index.policies().policies {
            if policy.rules(direction).is_none()
                && super::checks::policy_selects(index, policy, pod).0 == Some(true)
            {
                side.selecting_without_isolating.push(policy.key());
            }
        }
        side
    };
    Effective {
        pod: pod.key(),
        labels: pod.labels.clone(),
        ingress: side(Direction::Ingress),
        egress: side(Direction::Egress),
        istio: index.policies().istio_for(&pod.namespace, &pod.labels),
    }
}

/// The allowances of one policy's rules of `direction`: each peer (any, where a rule has
/// none) with its ports, worded by `port_text`; `blocked` works out, for rule and peer, how
/// many of the peer's pods are blocked on their own side.
fn rule_allowances(
    index: &Index,
    pid: super::PolicyId,
    direction: Direction,
    port_text: impl Fn(&super::model::PortSpec) -> String,
    blocked: impl Fn(usize, usize, &[super::model::PortSpec]) -> Option<(usize, usize)>,
) -> Vec<Allowance> {
    let policy = &index.policies().policies[pid as usize];
    let mut out = Vec::new();
    for (r, rule) in policy
        .rules(direction)
        .unwrap_or_default()
        .iter()
        .enumerate()
    {
        let ports: Vec<String> = rule.ports.iter().map(&port_text).collect();
        if rule.peers.is_empty() {
            out.push(Allowance {
                policy: policy.key(),
                rule: r,
                peer: match direction {
                    Direction::Ingress => "any source".into(),
                    Direction::Egress => "any destination".into(),
                },
                peer_pods: None,
                peer_pods_unknown: None,
                ports: ports.clone(),
                blocked_elsewhere: None,
            });
        }
        for (i, peer) in rule.peers.iter().enumerate() {
            out.push(Allowance {
                policy: policy.key(),
                rule: r,
                peer: match peer {
                    super::model::Peer::Services(refs) => format!(
                        "{}: {}",
                        describe_peer(peer, &policy.namespace),
                        super::service_peer::ServiceTargets::resolve(refs, index.inventory())
                            .summary()
                    ),
                    _ => describe_peer(peer, &policy.namespace),
                },
                peer_pods: index.peer_pods(pid, direction, r, i),
                peer_pods_unknown: index.peer_pods_unknown(pid, direction, r, i),
                ports: ports.clone(),
                blocked_elsewhere: blocked(r, i, &rule.ports),
            });
        }
    }
    out
}

/// The effective rules of a node's host endpoint (its own addresses and its host-network
/// pods), as Cilium's host policies make them: their deny rules, then their allow rules.
pub fn effective_host(index: &Index, node: super::engine::NodeId) -> Effective {
    let set = index.policies();
    let n = &index.inventory().nodes[node as usize];
    let side = |direction: Direction| {
        let (isolating, maybe) = index.host_isolating(node, direction);
        let unknown = match set.host_endpoint_of(&n.name) {
            Some(hep) => Some(format!(
                "{} protects node {}: Calico's host endpoint policy decides its traffic, and \
                 it is not judged",
                hep.key(),
                n.name
            )),
            None if !set.tiers_known => Some(
                "the cluster's tier policies (host policies among them, maybe) could not be \
                 read: they may allow or deny anything"
                    .to_string(),
            ),
            None if maybe => Some(
                "host policies select this node if Cilium's host firewall is on, which is not \
                 known (say --cilium-host-firewall=on or off)"
                    .to_string(),
            ),
            None => None,
        };
        let cilium = set
            .tiers
            .iter()
            .enumerate()
            .filter(|(_, t)| matches!(t.subject, tiers::Subject::Nodes(_)))
            .filter_map(|(t, policy)| {
                let applies = index.host_holds(t as u32, node);
                (applies != Some(false)).then(|| policy_lines(policy, direction, applies))
            })
            .flatten()
            .collect();
        let allows = isolating
            .iter()
            .flat_map(|&pid| {
                rule_allowances(
                    index,
                    pid,
                    direction,
                    |spec| spec.to_string(),
                    |_, _, _| None,
                )
            })
            .collect();
        EffectiveSide {
            direction,
            isolated: !isolating.is_empty(),
            policies: isolating
                .iter()
                .map(|&p| &set.policies[p as usize])
                .filter(|p| p.isolates(direction))
                .map(|p| p.key())
                .collect(),
            selecting_without_isolating: Vec::new(),
            allows,
            admin: Vec::new(),
            calico: Vec::new(),
            calico_before: Vec::new(),
            calico_after: Vec::new(),
            calico_tiers: Vec::new(),
            calico_selects: None,
            cilium,
            baseline: Vec::new(),
            unknown,
        }
    };
    Effective {
        pod: format!("host {}", n.name),
        labels: n.labels.clone(),
        ingress: side(Direction::Ingress),
        egress: side(Direction::Egress),
        istio: Vec::new(),
    }
}

/// Of the pods an ingress rule's selector peer matches (other than the pod itself), how many
/// cannot reach `pod` on any port the rule admits, their own side denying it, and of how many.
/// The ports tried: each of the rule's numbers and ranges' first ports, its names as the pod
/// declares them; for a rule of every port, the pod's declared ports. `None` when there is
/// no port to try.
fn blocked_elsewhere(
    index: &Index,
    pod: PodId,
    policy: super::PolicyId,
    rule: usize,
    peer: usize,
    ports: &[super::model::PortSpec],
) -> Option<(usize, usize)> {
    let members = index.peer_members(policy, Direction::Ingress, rule, peer)?;
    let declared = &index.inventory().pods[pod as usize].ports;
    let mut tries: Vec<(super::Protocol, u16)> = Vec::new();
    if ports.is_empty() {
        tries.extend(declared.iter().map(|cp| (cp.protocol, cp.port)));
    }
    for spec in ports {
        match &spec.port {
            PortMatch::Range { from, .. } => tries.push((spec.protocol, *from)),
            PortMatch::Named { name } => tries.extend(
                declared
                    .iter()
                    .filter(|cp| cp.name.as_deref() == Some(name) && cp.protocol == spec.protocol)
                    .map(|cp| (cp.protocol, cp.port)),
            ),
            PortMatch::Any => tries.extend(
                declared
                    .iter()
                    .filter(|cp| cp.protocol == spec.protocol)
                    .map(|cp| (cp.protocol, cp.port)),
            ),
        }
    }
    tries.sort();
    tries.dedup();
    if tries.is_empty() {
        return None;
    }
    // Pods of one class send alike: one verdict per class, counted for all its members.
    let mut by_class: std::collections::BTreeMap<u32, (PodId, usize)> = Default::default();
    for m in members.into_iter().filter(|&m| m != pod) {
        by_class.entry(index.class_of(m)).or_insert((m, 0)).1 += 1;
    }
    let others = by_class.values().map(|(_, n)| n).sum();
    let blocked = by_class
        .values()
        .filter(|(m, _)| {
            tries.iter().all(|&(protocol, port)| {
                let v = index.verdict(&super::engine::Flow {
                    src: super::engine::Endpoint::pod(*m),
                    dst: super::engine::Endpoint::pod(pod),
                    protocol,
                    port,
                });
                v.egress.decision() == super::Decision::Denied
            })
        })
        .map(|(_, n)| n)
        .sum();
    Some((blocked, others))
}
