//! The checks `explain` makes of one peer or port against one end of a flow, shared by the
//! NetworkPolicy walk (`explain`) and the tier walk (`explain_tiers`): each says whether it
//! matched, or that it depends on what cannot be read, and why in words.
//!
//! Pure: no I/O.

use serde::Serialize;

use super::engine::{Endpoint, Flow, Index};
use super::model::ServiceRef;
use super::model::{
    host_selects, ContainerPort, Entity, Inventory, IpBlock, NamespaceScope, Pod, Policy,
    PortMatch, PortSpec, NAMESPACE_NAME_LABEL,
};
use super::selector::Selector;
use super::service_peer::ServiceTargets;

/// One peer or port of a rule, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub index: usize,
    pub what: String,
    pub matched: bool,
    /// Neither matched nor failed: it depends on labels that cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    pub reason: String,
}

pub fn pod_peer_check(
    index: &Index,
    policy_namespace: &str,
    pods: &Selector,
    namespaces: &NamespaceScope,
    pod: &Pod,
) -> (Option<bool>, String) {
    match namespaces {
        NamespaceScope::PolicyNamespace => {
            if pod.namespace != policy_namespace {
                return (
                    Some(false),
                    format!(
                        "{} is in namespace {}; a podSelector without a namespaceSelector only \
                         matches pods of the policy's namespace {}",
                        pod.name, pod.namespace, policy_namespace
                    ),
                );
            }
        }
        NamespaceScope::Selector(ns_sel) => {
            let empty = Default::default();
            let labels = index.namespace_labels(&pod.namespace).unwrap_or(&empty);
            let unreadable = index
                .namespace(&pod.namespace)
                .filter(|ns| !ns.labels_known);
            if let Some(ns) = unreadable {
                match ns_sel.matches_partly(labels, |k| ns.knows(k)) {
                    Some(true) => {}
                    Some(false) => {
                        let why = ns_sel
                            .requirements()
                            .iter()
                            .find(|r| ns.knows(&r.key) && !r.matches(labels))
                            .map(|r| format!("needs {r}"))
                            .unwrap_or_default();
                        return (Some(false), format!("namespace {} {why}", pod.namespace));
                    }
                    None => {
                        if let Some(why) = pods.mismatch(&pod.labels_for(pods)) {
                            return (Some(false), format!("pod {} {}", pod.key(), why));
                        }
                        let req = ns_sel
                            .unknown_requirement(|k| ns.knows(k))
                            .map(|r| r.to_string())
                            .unwrap_or_default();
                        return (
                            None,
                            format!(
                                "unknown: namespace {}'s labels cannot be read, so whether it \
                                 has {req} is not known",
                                pod.namespace
                            ),
                        );
                    }
                }
            } else if let Some(why) = ns_sel.mismatch(labels) {
                let mut reason = format!("namespace {} {}", pod.namespace, why);
                if let Some(req) = ns_sel
                    .requirements()
                    .iter()
                    .find(|r| !r.matches(labels) && !labels.contains_key(&r.key))
                {
                    if req.key == "name" || req.key == "namespace" {
                        reason.push_str(&format!(
                            " (namespaces carry {NAMESPACE_NAME_LABEL}={} automatically; a `{}` \
                             label exists only if someone set it)",
                            pod.namespace, req.key
                        ));
                    }
                }
                return (Some(false), reason);
            }
        }
    }
    match pods.mismatch(&pod.labels_for(pods)) {
        Some(why) => (Some(false), format!("pod {} {}", pod.key(), why)),
        None => (Some(true), format!("{} matches", pod.key())),
    }
}

pub fn check_port(
    inv: &Inventory,
    spec: &PortSpec,
    dst: &Endpoint,
    dst_ports: &[ContainerPort],
    flow: &Flow,
    i: usize,
) -> Check {
    let what = spec.to_string();
    let (matched, reason) = if spec.protocol != flow.protocol {
        (
            false,
            format!(
                "protocol {} does not match {}",
                spec.protocol, flow.protocol
            ),
        )
    } else {
        match &spec.port {
            PortMatch::Any => (true, format!("every {} port", spec.protocol)),
            PortMatch::Range { from, to } => {
                if (*from..=*to).contains(&flow.port) {
                    (true, format!("{} is in {}", flow.port, what))
                } else if from == to {
                    (false, format!("port {} is not {}", flow.port, from))
                } else {
                    (
                        false,
                        format!("port {} is outside {}-{}", flow.port, from, to),
                    )
                }
            }
            PortMatch::Named { name } => named_port_check(inv, name, spec, dst, dst_ports, flow),
        }
    };
    Check {
        index: i,
        what,
        matched,
        unknown: false,
        reason,
    }
}

fn named_port_check(
    inv: &Inventory,
    name: &str,
    spec: &PortSpec,
    dst: &Endpoint,
    dst_ports: &[ContainerPort],
    flow: &Flow,
) -> (bool, String) {
    let Endpoint::Pod { pod, .. } = dst else {
        return (
            false,
            format!("the named port {name} resolves only on a destination pod, and the destination is not a pod"),
        );
    };
    let key = inv.pods[*pod as usize].key();
    let found: Vec<&ContainerPort> = dst_ports
        .iter()
        .filter(|cp| cp.name.as_deref() == Some(name) && cp.protocol == spec.protocol)
        .collect();
    if found.is_empty() {
        return (
            false,
            format!("{key} has no {} container port named {name}", spec.protocol),
        );
    }
    if let Some(cp) = found.iter().find(|cp| cp.port == flow.port) {
        (true, format!("{name} is port {} on {key}", cp.port))
    } else {
        let numbers: Vec<String> = found.iter().map(|cp| cp.port.to_string()).collect();
        (
            false,
            format!(
                "{name} is port {} on {key}, not {}",
                numbers.join(", "),
                flow.port
            ),
        )
    }
}

/// A Cilium peer that is no selector, as `explain` checks it.
#[derive(Debug, Clone, Copy)]
pub enum CiliumPeer<'a> {
    Entity(Entity),
    Outside(&'a IpBlock),
    Domains(&'a [String]),
    Services(&'a [ServiceRef]),
    Unjudged(&'a str),
}

/// Checks a Cilium entity, CIDR, domain list or unjudged peer against the far end of a flow
/// whose selected pod is `subject`, the literal way.
pub fn cilium_peer_check(
    index: &Index,
    peer: CiliumPeer,
    subject: &Pod,
    other: &Endpoint,
) -> (Option<bool>, String) {
    let inv = index.inventory();
    let nodes_unknown = |ip: &std::net::IpAddr| {
        format!("unknown: nodes could not be read, so whether {ip} is a node of the cluster is not known")
    };
    match peer {
        CiliumPeer::Unjudged(why) => (None, format!("unknown: {why}")),
        CiliumPeer::Services(refs) => services_check(index, refs, other),
        CiliumPeer::Domains(names) => match other {
            Endpoint::External(ip) => domain_check(index, names, ip),
            _ => (
                Some(false),
                "the other end is inside the cluster; domain names match only addresses \
                 outside it"
                    .into(),
            ),
        },
        CiliumPeer::Outside(block) => match other {
            Endpoint::External(ip)
                if block.contains(ip)
                    && !inv.nodes_known
                    && !index.options().cilium_cidr_matches_nodes =>
            {
                (None, nodes_unknown(ip))
            }
            Endpoint::Node { node, addr } if index.options().cilium_cidr_matches_nodes => {
                let addrs = match addr {
                    Some(ip) => std::slice::from_ref(ip),
                    None => &inv.nodes[*node as usize].addresses,
                };
                match addrs.iter().find(|a| block.contains(a)) {
                    Some(a) => (
                        Some(true),
                        format!(
                            "node address {a} is inside {} (policy-cidr-match-mode: nodes)",
                            block.cidr
                        ),
                    ),
                    None => (
                        Some(false),
                        format!("no address of the node is inside {}", block.cidr),
                    ),
                }
            }
            Endpoint::External(ip) if block.contains(ip) => {
                (Some(true), format!("{ip} is inside {}", block.cidr))
            }
            Endpoint::External(ip) => (
                Some(false),
                match block.except.iter().find(|e| e.contains(ip)) {
                    Some(e) => format!("{ip} falls in the excepted {e}"),
                    None => format!("{ip} is outside {}", block.cidr),
                },
            ),
            _ => (
                Some(false),
                "the other end is a pod or node of the cluster; Cilium's CIDR rules match only \
                 addresses outside it"
                    .into(),
            ),
        },
        CiliumPeer::Entity(entity) => match other {
            Endpoint::Pod { pod, .. } => {
                let p = &inv.pods[*pod as usize];
                match entity {
                    Entity::All | Entity::Cluster => {
                        (Some(true), format!("{} is a pod of the cluster", p.key()))
                    }
                    Entity::Host | Entity::RemoteNode | Entity::KubeApiserver if p.host_network => {
                        (
                            None,
                            format!(
                            "unknown: {} uses the host network, so Cilium sees it as its node; \
                             whether that is entity {entity} is not judged",
                            p.key()
                        ),
                        )
                    }
                    _ => (
                        Some(false),
                        format!("{} is a pod, not entity {entity}", p.key()),
                    ),
                }
            }
            Endpoint::Node { node, .. } => {
                let n = &inv.nodes[*node as usize];
                match entity {
                    Entity::All | Entity::Cluster => (
                        Some(true),
                        format!("node {} is part of the cluster", n.name),
                    ),
                    Entity::Host | Entity::RemoteNode => match subject.node.as_deref() {
                        None => (
                            None,
                            format!(
                                "unknown: the node of {} is not known, so whether node {} is \
                                 its host is not known",
                                subject.key(),
                                n.name
                            ),
                        ),
                        Some(own) => {
                            let host = own == n.name;
                            let matched = host == (entity == Entity::Host);
                            let what = if host {
                                format!("node {} runs {}: it is its host", n.name, subject.key())
                            } else {
                                format!(
                                    "node {} is not the node of {} ({own}): it is a remote node",
                                    n.name,
                                    subject.key()
                                )
                            };
                            (Some(matched), what)
                        }
                    },
                    Entity::KubeApiserver => (
                        None,
                        format!(
                            "unknown: the API server's addresses are not in the inventory; node \
                             {} may serve it",
                            n.name
                        ),
                    ),
                    _ => (
                        Some(false),
                        format!("node {} is not entity {entity}", n.name),
                    ),
                }
            }
            Endpoint::External(ip) => match entity {
                Entity::All => (Some(true), "entity all matches every address".into()),
                Entity::World | Entity::Cluster | Entity::Host | Entity::RemoteNode
                    if !inv.nodes_known =>
                {
                    (None, nodes_unknown(ip))
                }
                Entity::World => (
                    Some(true),
                    format!("{ip} is no pod or node of the cluster: it is in world"),
                ),
                Entity::Cluster | Entity::Host | Entity::RemoteNode => (
                    Some(false),
                    format!("{ip} is no pod or node of the cluster"),
                ),
                _ => (
                    None,
                    format!("unknown: the addresses of entity {entity} are not in the inventory"),
                ),
            },
        },
    }
}

/// Whether a policy of the NetworkPolicy tier (a NetworkPolicy, or a Cilium policy's allow
/// part) selects `pod`: `None` when that depends on namespace labels that cannot be read.
/// The reason is given where it does not select, or may.
pub fn policy_selects(index: &Index, policy: &Policy, pod: &Pod) -> (Option<bool>, String) {
    let Some(cilium) = policy.cilium.as_deref() else {
        if policy.namespace != pod.namespace {
            return (Some(false), String::new());
        }
        return match policy
            .pod_selector
            .mismatch(&pod.labels_for(&policy.pod_selector))
        {
            None => (Some(true), String::new()),
            Some(why) => (
                Some(false),
                format!(
                    "does not select {} (podSelector {} {why})",
                    pod.name, policy.pod_selector
                ),
            ),
        };
    };
    if let Some(nodes) = &cilium.nodes {
        return host_check(index, nodes, pod);
    }
    match &cilium.namespaces {
        None if policy.namespace != pod.namespace => return (Some(false), String::new()),
        None => {}
        Some(ns_selector) => {
            let Some(ns) = index.namespace(&pod.namespace) else {
                return (Some(false), String::new());
            };
            match ns_selector.matches_partly(&ns.labels, |k| ns.knows(k)) {
                Some(true) => {}
                Some(false) => return (Some(false), String::new()),
                None => {
                    if pod.selected_by(&policy.pod_selector) && !pod.host_network {
                        return (
                            None,
                            format!(
                                "may select {}: namespace {}'s labels cannot be read, so whether \
                                 the endpointSelector's namespace part ({ns_selector}) holds is not known",
                                pod.key(),
                                pod.namespace
                            ),
                        );
                    }
                    return (Some(false), String::new());
                }
            }
        }
    }
    if pod.host_network {
        return (
            Some(false),
            format!(
                "does not select {}: it uses the host network, and host-network pods are no Cilium endpoints",
                pod.key()
            ),
        );
    }
    match policy
        .pod_selector
        .mismatch(&pod.labels_for(&policy.pod_selector))
    {
        None => (Some(true), String::new()),
        Some(why) => (
            Some(false),
            format!(
                "does not select {} (endpointSelector {} {why})",
                pod.name, policy.pod_selector
            ),
        ),
    }
}

/// Whether a Cilium host policy's node selector selects the host endpoint `pod` stands for: a
/// host-network pod's, or that of a node itself (a subject made for it, of no namespace).
/// Pods of their own network are no host endpoints, and not said to be.
pub fn host_check(index: &Index, nodes: &Selector, pod: &Pod) -> (Option<bool>, String) {
    if !pod.host_network {
        return (Some(false), String::new());
    }
    let host = if pod.namespace.is_empty() {
        format!("node {}", pod.name)
    } else {
        format!(
            "{} (host network of node {})",
            pod.key(),
            pod.node.as_deref().unwrap_or("unknown")
        )
    };
    let node = pod
        .node
        .as_deref()
        .and_then(|n| index.node_id(n))
        .map(|id| &index.inventory().nodes[id as usize]);
    let firewall = index.host_firewall();
    match host_selects(nodes, node.map(|n| &n.labels), firewall) {
        Some(true) => (Some(true), String::new()),
        Some(false) if firewall == Some(false) => {
            let said = match index.options().cilium_host_firewall {
                Some(_) => "--cilium-host-firewall=off",
                None => "enable-host-firewall in kube-system/cilium-config",
            };
            (
                Some(false),
                format!(
                    "does not select {host}: Cilium's host firewall is off ({said}), so host \
                     policies do nothing"
                ),
            )
        }
        Some(false) => {
            let labels = &node.expect("a node that was read").labels;
            let why = nodes.mismatch(labels).unwrap_or_default();
            (
                Some(false),
                format!("does not select {host} (nodeSelector {nodes} {why})"),
            )
        }
        None if node.is_none() => (
            None,
            format!("may select {host}: its node could not be read, so its labels are not known"),
        ),
        None => (
            None,
            format!(
                "selects {host} if Cilium's host firewall is on, which is not known (it is off \
                 by default; say --cilium-host-firewall=on or off)"
            ),
        ),
    }
}

/// Whether an outside address belongs to one of `names` (names or `*` patterns), as far as
/// the addresses the user gave (`--fqdn NAME=IP`) tell, the literal way.
pub fn domain_check(
    index: &Index,
    names: &[String],
    ip: &std::net::IpAddr,
) -> (Option<bool>, String) {
    let given = &index.options().domains.0;
    let mut missing = Vec::new();
    for name in names {
        let name = name.to_ascii_lowercase();
        let hit = given.iter().find(|(g, ips)| {
            let named = if name.contains('*') {
                super::engine::pattern_matches(&name, g)
            } else {
                **g == name
            };
            named && ips.contains(ip)
        });
        if let Some((g, _)) = hit {
            return (Some(true), format!("{ip} is an address of {g} (--fqdn)"));
        }
        if name.contains('*') || !given.contains_key(&name) {
            missing.push(name);
        }
    }
    if missing.is_empty() {
        (
            Some(false),
            format!(
                "{ip} is none of the addresses given for {} (--fqdn)",
                names.join(", ")
            ),
        )
    } else {
        (
            None,
            format!(
                "unknown: whether {ip} is an address of {} depends on DNS answers, which cannot \
                 be told from the address (give them with --fqdn NAME=IP)",
                missing.join(", ")
            ),
        )
    }
}

/// Checks Cilium's `toServices` against the far end of a flow, the literal way: the
/// Services are looked up, a pod is matched only where Cilium's version decides, and an
/// address as a CIDR set of the ready endpoints of the Services without a selector.
fn services_check(index: &Index, refs: &[ServiceRef], other: &Endpoint) -> (Option<bool>, String) {
    let inv = index.inventory();
    let t = ServiceTargets::resolve(refs, inv);
    let picked = if t.services.is_empty() {
        "no Service is picked".to_string()
    } else {
        format!("Services picked: {}", t.services.join(", "))
    };
    let cidr_nodes = index.options().cilium_cidr_matches_nodes;
    match other {
        Endpoint::Pod { pod, .. } => {
            let p = &inv.pods[*pod as usize];
            match t.pod_doubt(p) {
                Some(why) => (None, format!("unknown: {why}")),
                None => (
                    Some(false),
                    format!(
                        "{} is a pod that no picked Service's selector may select ({picked}); \
                         endpoints of Services without a selector match as CIDRs, never pods",
                        p.key()
                    ),
                ),
            }
        }
        Endpoint::External(ip) if t.holds(ip) => {
            if inv.nodes_known || cidr_nodes {
                (
                    Some(true),
                    format!("{ip} is a ready endpoint of a picked Service ({picked})"),
                )
            } else {
                (
                    None,
                    format!(
                        "unknown: nodes could not be read, so whether {ip} is a node of the \
                         cluster is not known"
                    ),
                )
            }
        }
        Endpoint::External(ip) => match t.address_doubt(ip) {
            Some(why) => (None, format!("unknown: {why}")),
            None => (
                Some(false),
                format!("{ip} is no ready endpoint of a picked Service ({picked})"),
            ),
        },
        Endpoint::Node { node, addr } if cidr_nodes => {
            let addrs = match addr {
                Some(ip) => std::slice::from_ref(ip),
                None => &inv.nodes[*node as usize].addresses,
            };
            if let Some(a) = addrs.iter().find(|a| t.holds(a)) {
                return (
                    Some(true),
                    format!(
                        "node address {a} is a ready endpoint of a picked Service \
                         (policy-cidr-match-mode: nodes)"
                    ),
                );
            }
            match addrs.iter().find_map(|a| t.address_doubt(a)) {
                Some(why) => (None, format!("unknown: {why}")),
                None => (
                    Some(false),
                    format!(
                        "no address of the node is a ready endpoint of a picked Service ({picked})"
                    ),
                ),
            }
        }
        Endpoint::Node { .. } => (
            Some(false),
            "the other end is a node; the endpoints of Services without a selector match as \
             CIDRs, which never match nodes"
                .into(),
        ),
    }
}
