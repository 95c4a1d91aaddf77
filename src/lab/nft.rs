//! Enforcement for the lab: the manifest's NetworkPolicies as nftables rules in the lab
//! node's forward hook, written the way an iptables-based CNI writes them. Selectors are
//! resolved to the pods' addresses when the lab starts (a CNI keeps such sets current);
//! each isolated pod gets a chain per direction that returns on the first rule admitting
//! the packet and drops otherwise; replies pass by connection tracking.
//!
//! Cilium's deny rules come first, as drop statements for the pods they apply to (pod peers,
//! the `all` and `cluster` entities, and CIDRs; other entities have no address in the lab).
//!
//! This translates rules, not verdicts: it never asks the engine whether a flow is allowed,
//! so the lab's datapath and the engine's annotations are two separate readings of the
//! same policies.

use std::collections::BTreeSet;
use std::fmt::Write as _;
use std::net::IpAddr;

use crate::policy::model::{NamespaceScope, Peer, PortMatch, PortSpec, Rule};
use crate::policy::{Direction, Index, PodId, Protocol};

pub const TABLE: &str = "netpol_tui_lab";

/// The whole table, for `nft -f -`. `extra` statements come first, before connection
/// tracking: they stand for a datapath that drops (or passes) on its own.
pub fn ruleset(index: &Index, pods: &[PodId], extra: &[String]) -> String {
    let inv = index.inventory();
    let mut extra_text = String::new();
    let mut base = String::new();
    let mut chains = String::new();
    for rule in extra {
        let _ = writeln!(extra_text, "    {rule}");
    }
    let denies = cilium_denies(index, pods);
    for direction in [Direction::Egress, Direction::Ingress] {
        for &pod in pods {
            let isolating = index.isolating_policies(pod, direction);
            if isolating.is_empty() {
                continue;
            }
            let name = format!("{}_{pod}", direction.as_str());
            let key = if direction == Direction::Egress {
                "saddr"
            } else {
                "daddr"
            };
            for ip in &inv.pods[pod as usize].ips {
                let _ = writeln!(base, "    {} {key} {ip} jump {name}", family(ip));
            }
            let _ = writeln!(chains, "  chain {name} {{");
            for &p in isolating {
                let policy = &index.policies().policies[p as usize];
                let Some(rules) = policy.rules(direction) else {
                    continue;
                };
                for (n, rule) in rules.iter().enumerate() {
                    let _ = writeln!(chains, "    # {} {direction}[{n}]", policy.key());
                    for statement in rule_statements(index, pod, direction, rule, pods) {
                        let _ = writeln!(chains, "    {statement} return");
                    }
                }
            }
            let _ = writeln!(chains, "    drop\n  }}");
        }
    }
    let extra = extra_text;
    format!(
        "table inet {TABLE} {{\n  chain forward {{\n    type filter hook forward priority filter; policy accept;\n{extra}    ct state established,related accept\n{denies}{base}  }}\n{chains}}}\n"
    )
}

/// Cilium's deny rules as drop statements, before every allow: for each lab pod a Cilium
/// tier policy surely applies to, each deny rule's peers and ports.
fn cilium_denies(index: &Index, pods: &[PodId]) -> String {
    use crate::policy::model::Entity;
    use crate::policy::selector::Selector;
    use crate::policy::tiers::{Tier, TierPeer};
    let inv = index.inventory();
    let mut out = String::new();
    for (t, policy) in index.policies().tiers.iter().enumerate() {
        if policy.tier != Tier::Cilium {
            continue;
        }
        for direction in [Direction::Egress, Direction::Ingress] {
            let key = if direction == Direction::Egress {
                "saddr"
            } else {
                "daddr"
            };
            for (n, rule) in policy.rules(direction).iter().enumerate() {
                let peers: Vec<Peer> = rule
                    .peers
                    .iter()
                    .filter_map(|p| match p {
                        TierPeer::Pods { namespaces, pods } => Some(Peer::Pods {
                            pods: pods.clone(),
                            namespaces: NamespaceScope::Selector(namespaces.clone()),
                        }),
                        TierPeer::Entity(Entity::All | Entity::Cluster) => Some(Peer::Pods {
                            pods: Selector::everything(),
                            namespaces: NamespaceScope::Selector(Selector::everything()),
                        }),
                        TierPeer::Outside(block) => Some(Peer::IpBlock(block.clone())),
                        _ => None,
                    })
                    .collect();
                if peers.is_empty() {
                    continue;
                }
                let as_rule = Rule {
                    peers,
                    ports: rule.ports.clone().unwrap_or_default(),
                };
                for &pod in pods {
                    if index.tier_applies(t as u32, pod) != Some(true) {
                        continue;
                    }
                    let _ = writeln!(out, "    # {} {direction}Deny[{n}]", policy.key());
                    let statements = rule_statements(index, pod, direction, &as_rule, pods);
                    for ip in &inv.pods[pod as usize].ips {
                        let fam = family(ip);
                        // Only peers of the address's own family.
                        let other = if fam == "ip" { "ip6 " } else { "ip " };
                        for statement in statements.iter().filter(|s| !s.starts_with(other)) {
                            let _ = writeln!(out, "    {fam} {key} {ip} {statement} drop");
                        }
                    }
                }
            }
        }
    }
    out
}

fn family(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "ip"
    } else {
        "ip6"
    }
}

/// The match statements of one rule for `pod`: one per (peer, port) pair.
fn rule_statements(
    index: &Index,
    pod: PodId,
    direction: Direction,
    rule: &Rule,
    lab: &[PodId],
) -> Vec<String> {
    let inv = index.inventory();
    let peer_key = if direction == Direction::Ingress {
        "saddr"
    } else {
        "daddr"
    };
    // Peers as address matches, each with the pods it stands for (named ports of egress
    // rules resolve on them).
    let mut peers: Vec<(String, Vec<PodId>)> = Vec::new();
    if rule.peers.is_empty() {
        peers.push((String::new(), lab.to_vec()));
    }
    for peer in &rule.peers {
        match peer {
            // Not enforced by the lab (it says so when it starts): they match nothing here.
            Peer::Entity(_) | Peer::Outside(_) | Peer::Domains(_) | Peer::Unjudged(_) => {}
            Peer::Pods { .. } => {
                let members: Vec<PodId> = lab
                    .iter()
                    .copied()
                    .filter(|&q| peer_selects(index, pod, peer, q))
                    .collect();
                for fam in ["ip", "ip6"] {
                    let addrs: BTreeSet<String> = members
                        .iter()
                        .flat_map(|&q| inv.pods[q as usize].ips.iter())
                        .filter(|ip| family(ip) == fam)
                        .map(|ip| ip.to_string())
                        .collect();
                    if !addrs.is_empty() {
                        let set = addrs.into_iter().collect::<Vec<_>>().join(", ");
                        let owners = members
                            .iter()
                            .copied()
                            .filter(|&q| {
                                inv.pods[q as usize].ips.iter().any(|ip| family(ip) == fam)
                            })
                            .collect();
                        peers.push((format!("{fam} {peer_key} {{ {set} }}"), owners));
                    }
                }
            }
            Peer::IpBlock(block) => {
                let fam = if block.cidr.addr().is_ipv4() {
                    "ip"
                } else {
                    "ip6"
                };
                let mut m = format!("{fam} {peer_key} {}", block.cidr);
                if !block.except.is_empty() {
                    let except: Vec<String> = block.except.iter().map(|e| e.to_string()).collect();
                    let _ = write!(m, " {fam} {peer_key} != {{ {} }}", except.join(", "));
                }
                let owners = lab
                    .iter()
                    .copied()
                    .filter(|&q| inv.pods[q as usize].ips.iter().any(|ip| block.contains(ip)))
                    .collect();
                peers.push((m, owners));
            }
        }
    }
    let mut out = Vec::new();
    for (addr, owners) in &peers {
        if rule.ports.is_empty() {
            out.push(if addr.is_empty() {
                "meta l4proto { tcp, udp, sctp }".to_string()
            } else {
                addr.clone()
            });
            continue;
        }
        for spec in &rule.ports {
            let join = |port: String| {
                if addr.is_empty() {
                    port
                } else {
                    format!("{addr} {port}")
                }
            };
            match &spec.port {
                PortMatch::Named { name } if direction == Direction::Egress => {
                    // Resolved on each destination pod.
                    for &q in owners {
                        if let Some(n) = named_port(index, q, spec, name) {
                            for ip in &inv.pods[q as usize].ips {
                                out.push(format!(
                                    "{} daddr {ip} {} dport {n}",
                                    family(ip),
                                    proto(spec.protocol)
                                ));
                            }
                        }
                    }
                }
                PortMatch::Named { name } => {
                    if let Some(n) = named_port(index, pod, spec, name) {
                        out.push(join(format!("{} dport {n}", proto(spec.protocol))));
                    }
                }
                PortMatch::Any => out.push(join(format!("meta l4proto {}", proto(spec.protocol)))),
                PortMatch::Range { from, to } if from == to => {
                    out.push(join(format!("{} dport {from}", proto(spec.protocol))))
                }
                PortMatch::Range { from, to } => {
                    out.push(join(format!("{} dport {from}-{to}", proto(spec.protocol))))
                }
            }
        }
    }
    out
}

fn proto(p: Protocol) -> &'static str {
    match p {
        Protocol::Tcp => "tcp",
        Protocol::Udp => "udp",
        Protocol::Sctp => "sctp",
    }
}

fn named_port(index: &Index, pod: PodId, spec: &PortSpec, name: &str) -> Option<u16> {
    index.inventory().pods[pod as usize]
        .ports
        .iter()
        .find(|p| p.name.as_deref() == Some(name) && p.protocol == spec.protocol)
        .map(|p| p.port)
}

/// Whether a pod peer of a rule of a policy selecting `pod` stands for pod `q`.
fn peer_selects(index: &Index, pod: PodId, peer: &Peer, q: PodId) -> bool {
    let inv = index.inventory();
    let Peer::Pods { pods, namespaces } = peer else {
        return false;
    };
    let owner_ns = &inv.pods[pod as usize].namespace;
    let other = &inv.pods[q as usize];
    let ns_ok = match namespaces {
        NamespaceScope::PolicyNamespace => &other.namespace == owner_ns,
        NamespaceScope::Selector(s) => index
            .namespace_labels(&other.namespace)
            .is_some_and(|labels| s.matches(labels)),
    };
    ns_ok && pods.matches(&other.labels)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::demo;
    use crate::policy::EngineOptions;

    #[test]
    fn demo_rules_read_like_a_cni() {
        let w = demo::load().expect("demo").world;
        let index = Index::build(w.inventory, w.policies, EngineOptions::default());
        let lab: Vec<PodId> = (0..index.inventory().pods.len() as PodId)
            .filter(|&p| !index.inventory().pods[p as usize].ips.is_empty())
            .collect();
        let text = ruleset(&index, &lab, &["udp dport 9999 drop".into()]);
        let db = index.pod_id("production", "database").unwrap();
        let backend_ip =
            index.inventory().pods[index.pod_id("production", "backend").unwrap() as usize].ips[0];
        assert!(
            text.contains(&format!("ip daddr 10.244.2.10 jump ingress_{db}")),
            "{text}"
        );
        assert!(
            text.contains("# production/database-netpol ingress[0]"),
            "{text}"
        );
        assert!(
            text.contains(&format!(
                "ip saddr {{ {backend_ip} }} tcp dport 5432 return"
            )),
            "{text}"
        );
        assert!(text.contains("    udp dport 9999 drop\n"), "{text}");
        assert!(text.contains("ct state established,related accept"));
    }

    #[test]
    fn cilium_deny_rules_drop_before_every_allow() {
        let deny = "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: no-frontend-to-backend}\nspec:\n  endpointSelector: {matchLabels: {app: frontend}}\n  enableDefaultDeny: {egress: false}\n  egressDeny:\n  - toEndpoints: [{matchLabels: {app: backend}}]\n    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]\n";
        let text = format!("{}\n---\n{deny}", demo::DEMO_YAML);
        let w = crate::cluster::files::load_text("demo", &text)
            .expect("loads")
            .world;
        let index = Index::build(w.inventory, w.policies, EngineOptions::default());
        let lab: Vec<PodId> = (0..index.inventory().pods.len() as PodId)
            .filter(|&p| !index.inventory().pods[p as usize].ips.is_empty())
            .collect();
        let text = ruleset(&index, &lab, &[]);
        let pod = |n: &str| {
            index.inventory().pods[index.pod_id("production", n).unwrap() as usize].ips[0]
        };
        let (frontend, backend) = (pod("frontend"), pod("backend"));
        let drop = format!("ip saddr {frontend} ip daddr {{ {backend} }} tcp dport 8080 drop");
        let at = text.find(&drop).unwrap_or_else(|| panic!("{text}"));
        let jump = text.find("jump egress_").expect("isolation jumps");
        assert!(at < jump, "the deny comes before the allows:\n{text}");
        assert!(
            text.contains("# CiliumClusterwideNetworkPolicy/no-frontend-to-backend egressDeny[0]")
        );
    }
}
