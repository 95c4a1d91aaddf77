//! `explain` for tier policies: walks one tier (Admin, Cilium, a half of Calico's default
//! tier, Baseline) for one side of a flow the
//! literal way, policy by policy in evaluation order and rule by rule, recording why each
//! subject, peer and port did or did not match. Independent of the engine's bitsets; the
//! tests hold the two equal.
//!
//! Pure: no I/O.

use std::net::IpAddr;

use serde::Serialize;

use super::calico::end_matches;
use super::checks::{check_port, cilium_peer_check, pod_peer_check, Check, CiliumPeer};
use super::engine::{Endpoint, Flow, Index, Side, TierRef};
use super::model::{ContainerPort, Direction, NamespaceScope, Pod};
use super::selector::Selector;
use super::tiers::{
    describe_peer, describe_subject, Action, CalicoEnd, Subject, Tier, TierPeer, TierPolicy,
};

/// One tier policy as it bore on one side.
#[derive(Debug, Clone, Serialize)]
pub struct TierTrace {
    /// `Kind/name`.
    pub policy: String,
    pub tier: Tier,
    /// A Calico tier of its own: its name and order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calico_tier: Option<CalicoTierName>,
    pub priority: i32,
    /// A Calico policy's order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order: Option<String>,
    pub origin: String,
    /// Its subject selects the pod.
    pub applies: bool,
    /// Whether it selects the pod depends on namespace labels that cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// Why it does not apply, or was not consulted.
    pub reason: Option<String>,
    /// The rules consulted, in order, up to the one that decided.
    pub rules: Vec<TierRuleTrace>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TierRuleTrace {
    pub index: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub name: String,
    pub action: Action,
    pub matched: bool,
    /// It might match: a peer depends on what cannot be read or told from an address.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    /// A Calico rule's own end, checked on the pod itself.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub own: Option<Check>,
    pub peers: Vec<Check>,
    pub any_port: bool,
    pub ports: Vec<Check>,
}

/// The tier rule that decided a side, or passed it on.
#[derive(Debug, Clone, Serialize)]
pub struct TierCite {
    pub tier: Tier,
    /// A Calico tier of its own: its name and order.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub calico_tier: Option<CalicoTierName>,
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
    pub peer: usize,
    pub port: Option<usize>,
}

/// A Calico tier of its own, as explain names it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CalicoTierName {
    pub name: String,
    /// `none` where the Tier object gives no order.
    pub order: String,
}

impl std::fmt::Display for CalicoTierName {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Calico tier {} (order {})", self.name, self.order)
    }
}

/// The Calico tier of its own a policy is in.
pub fn calico_tier(policy: &TierPolicy) -> Option<CalicoTierName> {
    let place = policy
        .calico
        .as_deref()
        .filter(|_| policy.tier.is_calico_named())?;
    Some(CalicoTierName {
        name: place.tier.clone(),
        order: place.tier_order.map_or("none".into(), |o| o.to_string()),
    })
}

/// One tier walked for one side.
pub struct Walk {
    pub traces: Vec<TierTrace>,
    /// What the tier decided: allowed, denied, or unknown. `None`: it passed the flow on.
    pub side: Option<Side>,
    /// The rule behind `side`, or the Pass rule that skipped the rest of the tier.
    pub cite: Option<TierCite>,
}

/// Walks some tier policies (`members`: positions in evaluation order, a tier or a Calico
/// tier of its own) for the side of `flow` whose policies select `subject` (the other end
/// is `other`).
pub fn walk(
    index: &Index,
    members: &[u32],
    direction: Direction,
    subject: &Pod,
    other: &Endpoint,
    flow: &Flow,
) -> Walk {
    let inv = index.inventory();
    let dst_ports: &[ContainerPort] = match flow.dst {
        Endpoint::Pod { pod, .. } => &inv.pods[pod as usize].ports,
        _ => &[],
    };
    let mut walk = Walk {
        traces: Vec::new(),
        side: None,
        cite: None,
    };
    let mut done = false;
    let tiers = &index.policies().tiers;
    for (t, policy) in members.iter().map(|&t| (t as usize, &tiers[t as usize])) {
        let tier = policy.tier;
        let mut trace = TierTrace {
            policy: policy.key(),
            tier,
            calico_tier: calico_tier(policy),
            priority: policy.priority,
            order: policy.order.map(|o| o.to_string()),
            origin: policy.origin.to_string(),
            applies: false,
            unknown: false,
            reason: None,
            rules: Vec::new(),
        };
        if done {
            trace.reason = Some(match &walk.cite {
                Some(c) if c.action == Action::Pass => {
                    format!("not consulted: {} passed the flow on first", c.policy)
                }
                Some(c) => format!("not consulted: {} decided first", c.policy),
                None => "not consulted: a rule above might match".to_string(),
            });
            walk.traces.push(trace);
            continue;
        }
        let (applies, why) = subject_check(index, &policy.subject, subject);
        if applies == Some(false) && why.is_empty() {
            // Not of the subject's kind (a host policy, for a pod): not worth a line.
            continue;
        }
        trace.applies = applies == Some(true);
        trace.unknown = applies.is_none();
        if applies == Some(false) {
            trace.reason = Some(why);
            walk.traces.push(trace);
            continue;
        }
        if applies.is_none() {
            trace.reason = Some(why);
        }
        let rules = policy.rules(direction);
        if rules.is_empty() {
            trace.reason.get_or_insert_with(|| {
                format!("selects {} but has no {direction} rules", subject.key())
            });
        }
        for (r, rule) in rules.iter().enumerate() {
            let own_end = flow.end_of(direction);
            let own = rule
                .own
                .as_ref()
                .map(|end| calico_check(index, end, own_end, flow, 0));
            let own_holds = own
                .as_ref()
                .map_or(Some(true), |c| (!c.unknown).then_some(c.matched));
            let peers: Vec<Check> = rule
                .peers
                .iter()
                .enumerate()
                .map(|(i, peer)| peer_check(index, peer, (subject, other), flow, i))
                .collect();
            let ports: Vec<Check> = rule
                .ports
                .iter()
                .flatten()
                .enumerate()
                .map(|(i, spec)| check_port(inv, spec, &flow.dst, dst_ports, flow, i))
                .collect();
            let peer_hit = peers
                .iter()
                .position(|c| c.matched)
                .map(|i| (i, true))
                .or_else(|| peers.iter().position(|c| c.unknown).map(|i| (i, false)));
            let port_hit = match &rule.ports {
                None => Some(None),
                Some(_) => ports.iter().position(|c| c.matched).map(Some),
            };
            let hit = peer_hit.zip(port_hit).filter(|_| own_holds != Some(false));
            let sure = hit.is_some_and(|((_, sure), _)| sure)
                && applies == Some(true)
                && own_holds == Some(true);
            trace.rules.push(TierRuleTrace {
                index: r,
                name: rule.name.clone(),
                action: rule.action,
                matched: sure,
                unknown: hit.is_some() && !sure,
                own,
                peers,
                any_port: rule.ports.is_none(),
                ports,
            });
            let Some(((peer, _), port)) = hit else {
                continue;
            };
            let at = TierRef {
                policy: t as u32,
                rule: r as u32,
                peer: peer as u32,
                port: port.map(|p| p as u32),
            };
            walk.cite = Some(TierCite {
                tier,
                calico_tier: calico_tier(policy),
                policy: policy.key(),
                priority: policy.priority,
                order: policy.order.map(|o| o.to_string()),
                rule: r,
                name: rule.name.clone(),
                action: rule.action,
                peer,
                port,
            });
            walk.side = if !sure {
                Some(Side::TierUnknown { rule: Some(at) })
            } else {
                match rule.action {
                    Action::Allow => Some(Side::TierAllowed(at)),
                    Action::Deny => Some(Side::TierDenied(at)),
                    Action::Pass => None,
                }
            };
            done = true;
            break;
        }
        walk.traces.push(trace);
    }
    walk
}

/// Whether a subject selects the pod, and why not (or why that is unknown).
fn subject_check(index: &Index, subject: &Subject, pod: &Pod) -> (Option<bool>, String) {
    if pod.host_network && pod.namespace.is_empty() && !matches!(subject, Subject::Nodes(_)) {
        // A node's own host endpoint: only host policies select it, not worth a line.
        return (Some(false), String::new());
    }
    if pod.host_network && !matches!(subject, Subject::Nodes(_)) {
        return (
            Some(false),
            format!(
                "{} uses the host network, which tier policies never select",
                pod.key()
            ),
        );
    }
    let (namespaces, pods) = match subject {
        Subject::Nodes(nodes) => return super::checks::host_check(index, nodes, pod),
        Subject::Namespaces(ns) => (ns, &Selector::everything()),
        Subject::Pods { namespaces, pods } => (namespaces, pods),
        Subject::Calico { .. } => {
            let ns = index.namespace(&pod.namespace);
            let selects = super::calico::subject_selects(subject, pod, ns);
            let reason = match selects {
                Some(true) => String::new(),
                Some(false) => format!(
                    "does not select {} (subject: {})",
                    pod.key(),
                    describe_subject(subject)
                ),
                None => format!(
                    "may select {}: its selector reads namespace labels or a service account \
                     that cannot be read",
                    pod.key()
                ),
            };
            return (selects, reason);
        }
    };
    let (selects, reason) = pod_peer_check(
        index,
        &pod.namespace,
        pods,
        &NamespaceScope::Selector(namespaces.clone()),
        pod,
    );
    let reason = match selects {
        Some(true) => String::new(),
        Some(false) => format!(
            "does not select {} (subject: {}): {reason}",
            pod.key(),
            describe_subject(subject)
        ),
        None => format!("may select {}: {}", pod.key(), unknown_text(&reason)),
    };
    (selects, reason)
}

fn unknown_text(reason: &str) -> &str {
    reason.trim_start_matches("unknown: ")
}

fn peer_check(
    index: &Index,
    peer: &TierPeer,
    (subject, other): (&Pod, &Endpoint),
    flow: &Flow,
    i: usize,
) -> Check {
    let inv = index.inventory();
    let what = describe_peer(peer);
    let (matched, reason) = match peer {
        TierPeer::Namespaces(_) | TierPeer::Pods { .. } => match other {
            Endpoint::Pod { pod, .. } => {
                let p = &inv.pods[*pod as usize];
                let (namespaces, pods) = match peer {
                    TierPeer::Pods { namespaces, pods } => (namespaces, pods),
                    TierPeer::Namespaces(ns) => (ns, &Selector::everything()),
                    _ => unreachable!("matched above"),
                };
                if p.host_network {
                    (
                        Some(false),
                        format!(
                            "{} uses the host network; tier policies' pod peers never match it",
                            p.key()
                        ),
                    )
                } else {
                    pod_peer_check(
                        index,
                        &p.namespace,
                        pods,
                        &NamespaceScope::Selector(namespaces.clone()),
                        p,
                    )
                }
            }
            Endpoint::Node { .. } => (
                Some(false),
                "the other end is a node, which namespace and pod peers never match".into(),
            ),
            Endpoint::External(ip) => (Some(false), format!("{ip} is not a pod")),
        },
        TierPeer::Nodes(selector) => match other {
            Endpoint::Node { node, .. } => {
                let n = &inv.nodes[*node as usize];
                match selector.mismatch(&n.labels) {
                    None => (Some(true), format!("node {} matches", n.name)),
                    Some(why) => (Some(false), format!("node {} {why}", n.name)),
                }
            }
            Endpoint::External(ip) if !inv.nodes_known => (
                None,
                format!(
                    "unknown: nodes could not be read, so whether {ip} is a node with these \
                     labels is not known"
                ),
            ),
            Endpoint::External(ip) => (Some(false), format!("{ip} is not a node's address")),
            Endpoint::Pod { pod, .. } => (
                Some(false),
                format!("{} is a pod, not a node", inv.pods[*pod as usize].key()),
            ),
        },
        TierPeer::Networks(nets) => {
            let addrs: Vec<IpAddr> = match other {
                Endpoint::External(ip)
                | Endpoint::Node { addr: Some(ip), .. }
                | Endpoint::Pod { addr: Some(ip), .. } => vec![*ip],
                Endpoint::Node { node, addr: None } => inv.nodes[*node as usize].addresses.clone(),
                Endpoint::Pod { pod, addr: None } => inv.pods[*pod as usize].ips.clone(),
            };
            if addrs.is_empty() {
                (Some(false), "the other end has no known IP address".into())
            } else if let Some((ip, net)) = addrs
                .iter()
                .find_map(|ip| nets.iter().find(|n| n.contains(ip)).map(|n| (ip, n)))
            {
                (Some(true), format!("{ip} is inside {net}"))
            } else {
                let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
                (
                    Some(false),
                    format!("{} is in none of these networks", list.join(", ")),
                )
            }
        }
        TierPeer::Entity(e) => cilium_peer_check(index, CiliumPeer::Entity(*e), subject, other),
        TierPeer::Outside(b) => cilium_peer_check(index, CiliumPeer::Outside(b), subject, other),
        TierPeer::Unjudged(w) => cilium_peer_check(index, CiliumPeer::Unjudged(w), subject, other),
        TierPeer::Calico(end) => return calico_check(index, end, other, flow, i),
        TierPeer::Domains(names) => match other {
            Endpoint::External(ip) => super::checks::domain_check(index, names, ip),
            _ => (
                Some(false),
                "the other end is inside the cluster; domain names match only destinations \
                 outside it"
                    .into(),
            ),
        },
    };
    Check {
        index: i,
        what,
        matched: matched == Some(true),
        unknown: matched.is_none(),
        reason,
    }
}

/// Whether a Calico rule's end holds one end of the flow.
fn calico_check(
    index: &Index,
    end: &CalicoEnd,
    endpoint: &Endpoint,
    flow: &Flow,
    i: usize,
) -> Check {
    let seen = index.calico_seen(endpoint);
    let port = Some((flow.protocol, flow.port));
    let (matched, reason) = end_matches(end, &seen, index.inventory(), port);
    Check {
        index: i,
        what: end.describe(),
        matched: matched == Some(true),
        unknown: matched.is_none(),
        reason,
    }
}

/// Of some Calico policies (positions in evaluation order), those that select the pod for
/// `direction`: surely, and maybe.
pub fn selecting(
    index: &Index,
    members: impl IntoIterator<Item = u32>,
    direction: Direction,
    pod: &Pod,
) -> (Vec<u32>, Vec<u32>) {
    let (mut sure, mut maybe) = (Vec::new(), Vec::new());
    let tiers = &index.policies().tiers;
    for t in members {
        let policy = &tiers[t as usize];
        if !policy.types.contains(&direction) {
            continue;
        }
        match subject_check(index, &policy.subject, pod).0 {
            Some(true) => sure.push(t),
            None => maybe.push(t),
            Some(false) => {}
        }
    }
    (sure, maybe)
}

/// The Calico policies of the default tier that select the pod for `direction`: surely, and
/// maybe (positions in evaluation order).
pub fn default_tier_selecting(
    index: &Index,
    direction: Direction,
    pod: &Pod,
) -> (Vec<u32>, Vec<u32>) {
    let members = index
        .policies()
        .tiers
        .iter()
        .enumerate()
        .filter(|(_, p)| p.tier.is_calico_default())
        .map(|(t, _)| t as u32);
    selecting(index, members, direction, pod)
}
