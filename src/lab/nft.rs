//! Enforcement for the lab: the manifest's NetworkPolicies as nftables rules in the lab
//! node's forward hook, written the way an iptables-based CNI writes them. Selectors are
//! resolved to the pods' addresses when the lab starts (a CNI keeps such sets current);
//! each isolated pod gets a chain per direction that returns on the first rule admitting
//! the packet and drops otherwise; replies pass by connection tracking.
//!
//! Cilium's deny rules come first, as drop statements for the pods they apply to (pod peers,
//! the `all` and `cluster` entities, and CIDRs; other entities have no address in the lab).
//!
//! A pod a Calico policy selects goes through Calico's tiers as Felix chains them: one chain
//! per tier that selects it, in order; Allow returns, Deny drops, Pass goes to the next
//! tier's chain, and a tier's end drops (or goes on, where its default action is Pass).
//! NetworkPolicy's rules sit in the default tier between its Calico policies of lower and
//! higher order. Calico selectors are resolved to the lab pods they hold by their labels.
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
            let stages = calico_stages(index, pod, direction);
            if isolating.is_empty() && stages.is_none() {
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
            if let Some(stages) = stages {
                calico_chains(&mut chains, index, pod, direction, &name, &stages, pods);
                continue;
            }
            let _ = writeln!(chains, "  chain {name} {{");
            network_policy_rules(&mut chains, index, pod, direction, pods, "return");
            let _ = writeln!(chains, "    drop\n  }}");
        }
    }
    let extra = extra_text;
    format!(
        "table inet {TABLE} {{\n  chain forward {{\n    type filter hook forward priority filter; policy accept;\n{extra}    ct state established,related accept\n{denies}{base}  }}\n{chains}}}\n"
    )
}

/// The NetworkPolicy rules isolating `pod` for `direction`, each admitting statement ending
/// in `verdict`.
fn network_policy_rules(
    out: &mut String,
    index: &Index,
    pod: PodId,
    direction: Direction,
    pods: &[PodId],
    verdict: &str,
) {
    for &p in index.isolating_policies(pod, direction) {
        let policy = &index.policies().policies[p as usize];
        let Some(rules) = policy.rules(direction) else {
            continue;
        };
        for (n, rule) in rules.iter().enumerate() {
            let _ = writeln!(out, "    # {} {direction}[{n}]", policy.key());
            for statement in rule_statements(index, pod, direction, rule, pods) {
                let _ = writeln!(out, "    {statement} {verdict}");
            }
        }
    }
}

/// One Calico tier as it applies to one pod and direction: its policies (positions in the
/// set's tier policies) and what it does at its end. The default tier holds NetworkPolicy
/// between its Calico policies of lower and higher order.
struct Stage {
    label: String,
    members: Vec<u32>,
    /// The position in `members` where NetworkPolicy's rules go (the default tier only).
    network_policy_at: Option<usize>,
    /// Drop at the end (the tier denies), or go on to the next tier.
    denies: bool,
}

/// Calico's tiers that select `pod` for `direction`, in evaluation order; `None` where no
/// Calico policy does (NetworkPolicy alone decides, as without Calico). Policies whose tier
/// cannot be placed are not enforced.
fn calico_stages(index: &Index, pod: PodId, direction: Direction) -> Option<Vec<Stage>> {
    use crate::policy::tiers::{Action, Tier};
    let set = index.policies();
    let selects = |t: usize| {
        let policy = &set.tiers[t];
        policy.types.contains(&direction) && index.tier_applies(t as u32, pod) == Some(true)
    };
    let calico: Vec<usize> = (0..set.tiers.len())
        .filter(|&t| set.tiers[t].tier.is_calico() && set.tiers[t].tier != Tier::Calico)
        .collect();
    if !calico.iter().any(|&t| selects(t)) {
        return None;
    }
    let of = |keep: &dyn Fn(Tier) -> bool| -> Vec<u32> {
        calico
            .iter()
            .copied()
            .filter(|&t| keep(set.tiers[t].tier))
            .map(|t| t as u32)
            .collect()
    };
    // Calico's tiers of their own, each one stage, in evaluation order.
    let named = |keep: &dyn Fn(Tier) -> bool| -> Vec<Stage> {
        let mut stages: Vec<Stage> = Vec::new();
        for t in of(&|tier| tier.is_calico_named() && keep(tier)) {
            let policy = &set.tiers[t as usize];
            let label = format!("Calico tier {}", policy.calico_tier().unwrap_or_default());
            match stages.last_mut() {
                Some(stage) if stage.label == label => stage.members.push(t),
                _ => stages.push(Stage {
                    label,
                    members: vec![t],
                    network_policy_at: None,
                    denies: policy
                        .calico
                        .as_deref()
                        .is_some_and(|c| c.default_action == Action::Deny),
                }),
            }
        }
        stages
    };
    // The default tier: its Calico policies of lower order, NetworkPolicy, the rest.
    let mut members = of(&|tier| tier == Tier::CalicoBefore);
    let at = members.len();
    members.extend(of(&|tier| tier == Tier::CalicoAfter));
    let isolated = !index.isolating_policies(pod, direction).is_empty();
    let default = (isolated || members.iter().any(|&t| selects(t as usize))).then(|| Stage {
        label: crate::policy::tiers::DEFAULT_TIER.into(),
        members,
        network_policy_at: Some(at),
        denies: true,
    });
    let mut stages = named(&|tier| tier < Tier::CalicoBefore);
    stages.extend(default);
    stages.extend(named(&|tier| tier > Tier::CalicoAfter));
    // A tier takes part only where one of its policies selects the pod.
    stages.retain(|s| {
        s.network_policy_at.is_some() || s.members.iter().any(|&t| selects(t as usize))
    });
    Some(stages)
}

/// The chains of one pod's side through Calico's tiers: one per tier, the first named
/// `name`. A rule's Allow returns (the side admits), its Deny drops, its Pass goes to the next
/// tier; a tier's end drops where the tier denies, and goes on otherwise; past the last, the
/// side admits.
fn calico_chains(
    out: &mut String,
    index: &Index,
    pod: PodId,
    direction: Direction,
    name: &str,
    stages: &[Stage],
    pods: &[PodId],
) {
    use crate::policy::tiers::Action;
    let set = index.policies();
    let chain = |k: usize| {
        if k == 0 {
            name.to_string()
        } else {
            format!("{name}_t{k}")
        }
    };
    for (k, stage) in stages.iter().enumerate() {
        let next = if k + 1 < stages.len() {
            format!("goto {}", chain(k + 1))
        } else {
            "return".to_string()
        };
        let _ = writeln!(out, "  chain {} {{\n    # {}", chain(k), stage.label);
        for (i, &t) in stage.members.iter().enumerate() {
            if stage.network_policy_at == Some(i) {
                network_policy_rules(out, index, pod, direction, pods, "return");
            }
            let policy = &set.tiers[t as usize];
            if index.tier_applies(t, pod) != Some(true) {
                continue;
            }
            for (n, rule) in policy.rules(direction).iter().enumerate() {
                let _ = writeln!(out, "    # {} {direction}[{n}]", policy.key());
                let verdict = match rule.action {
                    Action::Allow => "return",
                    Action::Deny => "drop",
                    Action::Pass => next.as_str(),
                };
                match calico_statements(index, pod, direction, rule, pods) {
                    Ok(statements) => {
                        for statement in statements {
                            let _ =
                                writeln!(out, "    {}", format!("{statement} {verdict}").trim());
                        }
                    }
                    Err(why) => {
                        let _ = writeln!(out, "    # not enforced: {why}");
                    }
                }
            }
        }
        if stage.network_policy_at == Some(stage.members.len()) {
            network_policy_rules(out, index, pod, direction, pods, "return");
        }
        let end = if stage.denies { "drop" } else { next.as_str() };
        let _ = writeln!(out, "    {end}\n  }}");
    }
}

/// The match statements of one Calico rule for `pod`: its condition on the pod itself, its
/// far end as addresses (a selector resolved to the lab pods it holds; nets and notNets as
/// they are), and its ports. An error where the rule cannot be written as addresses
/// (service accounts, Services, source ports, HTTP, what cannot be read).
fn calico_statements(
    index: &Index,
    pod: PodId,
    direction: Direction,
    rule: &crate::policy::tiers::TierRule,
    lab: &[PodId],
) -> Result<Vec<String>, String> {
    use crate::policy::calico::{end_matches, Seen};
    use crate::policy::tiers::{CalicoEnd, TierPeer};
    let inv = index.inventory();
    let (own_key, far_key) = match direction {
        Direction::Ingress => ("daddr", "saddr"),
        Direction::Egress => ("saddr", "daddr"),
    };
    let holds = |end: &CalicoEnd, q: PodId, ip: IpAddr| {
        let p = &inv.pods[q as usize];
        let seen = Seen::Pod {
            pod: p,
            namespace: index.namespace(&p.namespace),
            addr: Some(ip),
        };
        end_matches(end, &seen, inv, None).0
    };
    let judged = |end: &CalicoEnd| -> Result<(), String> {
        if let Some(why) = end.unjudged.first() {
            return Err(why.clone());
        }
        if end
            .service_accounts
            .as_ref()
            .is_some_and(|sa| sa.selector.is_some())
        {
            return Err("a service account selector".into());
        }
        Ok(())
    };
    // The pod itself: the addresses of it the rule's own end holds.
    let mut own_prefix = String::new();
    if let Some(own) = &rule.own {
        judged(own)?;
        let ips = &inv.pods[pod as usize].ips;
        let mut held = Vec::new();
        for &ip in ips {
            match holds(own, pod, ip) {
                Some(true) => held.push(ip),
                Some(false) => {}
                None => return Err("its condition on the pod cannot be judged".into()),
            }
        }
        if held.is_empty() {
            return Ok(Vec::new());
        }
        if held.len() < ips.len() {
            let list: Vec<String> = held.iter().map(|ip| ip.to_string()).collect();
            own_prefix = format!("{} {own_key} {{ {} }} ", family(&held[0]), list.join(", "));
        }
    }
    let Some(TierPeer::Calico(far)) = rule.peers.first() else {
        // A rule that matches no TCP, UDP or SCTP flow.
        return Ok(Vec::new());
    };
    judged(far)?;
    let ports = rule.ports.clone().unwrap_or_default();
    // The far end as address matches, each with the lab pods it stands for.
    let mut addrs: Vec<(String, Vec<PodId>)> = Vec::new();
    let members = |fam: &str| -> Result<(Vec<String>, Vec<PodId>), String> {
        let mut set = Vec::new();
        let mut owners = Vec::new();
        for &q in lab {
            for &ip in &inv.pods[q as usize].ips {
                if family(&ip) != fam {
                    continue;
                }
                match holds(far, q, ip) {
                    Some(true) => {
                        set.push(ip.to_string());
                        if owners.last() != Some(&q) {
                            owners.push(q);
                        }
                    }
                    Some(false) => {}
                    None => {
                        return Err(format!(
                            "whether {} matches cannot be judged",
                            far.describe()
                        ))
                    }
                }
            }
        }
        Ok((set, owners))
    };
    if far.has_selector() {
        for fam in ["ip", "ip6"] {
            let (set, owners) = members(fam)?;
            if !set.is_empty() {
                addrs.push((format!("{fam} {far_key} {{ {} }}", set.join(", ")), owners));
            }
        }
    } else if far.nets.is_empty() && far.not_nets.is_empty() && far.ip_version.is_none() {
        // Anything: with no ports either, the rule matches every packet.
        if ports.is_empty() {
            return Ok(vec![own_prefix]);
        }
        addrs.push((String::new(), lab.to_vec()));
    } else {
        for (fam, v) in [("ip", 4u8), ("ip6", 6u8)] {
            let of = |list: &[ipnet::IpNet]| -> Vec<String> {
                list.iter()
                    .filter(|n| (n.addr().is_ipv4()) == (v == 4))
                    .map(|n| n.to_string())
                    .collect()
            };
            let (nets, not_nets) = (of(&far.nets), of(&far.not_nets));
            if far.ip_version.is_some_and(|want| want != v)
                || (!far.nets.is_empty() && nets.is_empty())
            {
                continue;
            }
            let mut m = if nets.is_empty() {
                format!("meta nfproto ipv{v}")
            } else {
                format!("{fam} {far_key} {{ {} }}", nets.join(", "))
            };
            if !not_nets.is_empty() {
                let _ = write!(m, " {fam} {far_key} != {{ {} }}", not_nets.join(", "));
            }
            let (_, owners) = members(fam)?;
            addrs.push((m, owners));
        }
    }
    let mut out = Vec::new();
    for (addr, owners) in &addrs {
        for statement in with_ports(index, pod, direction, addr, owners, &ports) {
            out.push(format!("{own_prefix}{statement}"));
        }
    }
    Ok(out)
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
            Peer::Entity(_)
            | Peer::Outside(_)
            | Peer::Domains(_)
            | Peer::Services(_)
            | Peer::Unjudged(_) => {}
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
        out.extend(with_ports(index, pod, direction, addr, owners, &rule.ports));
    }
    out
}

/// An address match (empty: any address) joined with each port entry: one statement per
/// entry; `owners` are the pods the address match stands for (an egress rule's named ports
/// resolve on them). No entries: every port of TCP, UDP and SCTP.
fn with_ports(
    index: &Index,
    pod: PodId,
    direction: Direction,
    addr: &str,
    owners: &[PodId],
    ports: &[PortSpec],
) -> Vec<String> {
    let inv = index.inventory();
    if ports.is_empty() {
        return vec![if addr.is_empty() {
            "meta l4proto { tcp, udp, sctp }".to_string()
        } else {
            addr.to_string()
        }];
    }
    let mut out = Vec::new();
    for spec in ports {
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
    ns_ok && other.selected_by(pods)
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

    /// The shop with its security and platform tiers: one chain per Calico tier that selects
    /// the pod, in order, Pass going to the next one and a tier's end dropping.
    #[test]
    fn calico_tiers_chain_in_order() {
        let text = [
            include_str!("../../tests/fixtures/calico/shop.yaml"),
            include_str!("../../tests/fixtures/calico/tiers.yaml"),
        ]
        .join("\n---\n");
        let w = crate::cluster::files::load_text("shop", &text)
            .expect("loads")
            .world;
        let index = Index::build(w.inventory, w.policies, EngineOptions::default());
        let lab: Vec<PodId> = (0..index.inventory().pods.len() as PodId).collect();
        let text = ruleset(&index, &lab, &[]);
        if std::env::var_os("SHOW_RULESET").is_some() {
            println!("{text}");
        }
        let id = |ns: &str, n: &str| index.pod_id(ns, n).unwrap();
        let frontend = id("shop", "frontend");
        let orders = id("shop", "orders");
        // The frontend's egress: the security tier, the platform tier, the default tier.
        let chain = |name: &str| {
            let start = text
                .find(&format!("  chain {name} {{"))
                .unwrap_or_else(|| panic!("no chain {name}:\n{text}"));
            let end = text[start..].find("\n  }").unwrap() + start;
            text[start..end].to_string()
        };
        let security = chain(&format!("egress_{frontend}"));
        assert!(security.contains("# Calico tier security"), "{security}");
        assert!(
            security.contains("ip daddr { 10.244.1.12 } drop"),
            "the quarantined pod's address:\n{security}"
        );
        assert!(
            security.contains(&format!("\n    goto egress_{frontend}_t1\n")),
            "Pass goes to the next tier:\n{security}"
        );
        let platform = chain(&format!("egress_{frontend}_t1"));
        assert!(platform.contains("# Calico tier platform"), "{platform}");
        assert!(
            platform.contains("ip daddr { 10.244.0.5 } udp dport 53 return"),
            "{platform}"
        );
        assert!(
            platform
                .trim_end()
                .ends_with(&format!("goto egress_{frontend}_t2")),
            "defaultAction Pass goes on:\n{platform}"
        );
        let default = chain(&format!("egress_{frontend}_t2"));
        assert!(default.contains("# Calico's default tier"), "{default}");
        assert!(default.contains("tcp dport 443 return"), "{default}");
        assert!(default.trim_end().ends_with("drop"), "{default}");
        // The orders API's ingress: its default-tier policy admits the frontends (the
        // quarantined one too, which the security tier drops first) on its named port,
        // resolved on the pod itself.
        let orders_in = chain(&format!("ingress_{orders}_t1"));
        assert!(
            orders_in.contains("ip saddr { 10.244.1.10, 10.244.1.12 } tcp dport 9000 return"),
            "{orders_in}"
        );
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
