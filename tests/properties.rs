//! Invariants of NetworkPolicy evaluation, checked on random worlds:
//! - the fast index and the literal explain give the same verdict, side by side;
//! - the matrix gives the same answers as single verdicts;
//! - a pod that no policy selects is not isolated;
//! - the order of policies never changes a verdict;
//! - adding an allow rule never turns an allowed flow into a denied one;
//! - an ingress-isolating policy with no rules denies;
//! - `effective` counts the pods a peer matches as a literal walk over the pods does.
//! - where namespace labels or a namespace's policies cannot be read, every definite answer
//!   (verdict, matrix cell) is the answer with everything known, and the index, explain and
//!   the matrix agree on what is unknown.

mod generators;

use generators::*;
use proptest::prelude::*;

use netpol_tui::policy::effective::effective;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::model::{NamespaceScope, Peer, Policy, Protocol};
use netpol_tui::policy::selector::Selector;
use netpol_tui::policy::{Decision, Direction, Endpoint, EngineOptions, Flow, Side};

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_agrees_with_explain((inv, policies) in world(), cilium in any::<bool>()) {
        let index = build(&inv, policies, EngineOptions { ipblock_matches_pods: !cilium, ..Default::default() });
        for flow in flows(&inv) {
            let fast = index.verdict(&flow);
            let slow = explain(&index, &flow);
            prop_assert_eq!(&fast, &slow.verdict, "flow {:?}", flow);
            prop_assert_eq!(fast.allowed(), slow.allowed);
        }
    }

    #[test]
    fn matrix_agrees_with_single_verdicts((inv, policies) in world(), port in prop::sample::select(PORTS.to_vec()), protocol in protocol(), cilium in any::<bool>()) {
        let index = build(&inv, policies, EngineOptions { ipblock_matches_pods: !cilium, ..Default::default() });
        let pods: Vec<u32> = (0..inv.pods.len() as u32).collect();
        let m = index.matrix(&pods, protocol, port);
        let mut allowed = 0u64;
        for i in 0..pods.len() {
            for j in 0..pods.len() {
                let v = index.verdict(&Flow { src: Endpoint::pod(pods[i]), dst: Endpoint::pod(pods[j]), protocol, port });
                prop_assert_eq!(m.get(i, j), v.allowed(), "pod{} -> pod{}", i, j);
                allowed += u64::from(v.allowed());
            }
        }
        prop_assert_eq!(m.allowed_pairs(), allowed);
    }

    #[test]
    fn unselected_pods_are_not_isolated((inv, policies) in world()) {
        let index = build(&inv, policies.clone(), EngineOptions::default());
        for (i, pod) in inv.pods.iter().enumerate() {
            for direction in [Direction::Ingress, Direction::Egress] {
                let selected = policies.iter().any(|p| {
                    p.namespace == pod.namespace && p.pod_selector.matches(&pod.labels) && p.rules(direction).is_some()
                });
                if !selected {
                    let other = Endpoint::External("8.8.8.8".parse().unwrap());
                    let flow = match direction {
                        Direction::Ingress => Flow { src: other, dst: Endpoint::pod(i as u32), protocol: Protocol::Tcp, port: 80 },
                        Direction::Egress => Flow { src: Endpoint::pod(i as u32), dst: other, protocol: Protocol::Tcp, port: 80 },
                    };
                    let v = index.verdict(&flow);
                    let side = match direction { Direction::Ingress => v.ingress, Direction::Egress => v.egress };
                    prop_assert_eq!(side, Side::NotIsolated);
                }
            }
        }
    }

    #[test]
    fn policy_order_never_changes_a_verdict((inv, policies) in world()) {
        let index = build(&inv, policies.clone(), EngineOptions::default());
        // Renaming reverses the order in which the engine stores and walks the policies.
        let n = policies.len();
        let renamed: Vec<Policy> = policies
            .into_iter()
            .enumerate()
            .map(|(i, mut p)| { p.name = format!("q{}", n - i); p })
            .collect();
        let reordered = build(&inv, renamed, EngineOptions::default());
        for flow in flows(&inv) {
            prop_assert_eq!(index.verdict(&flow).allowed(), reordered.verdict(&flow).allowed());
        }
    }

    #[test]
    fn adding_an_allow_rule_never_denies((inv, policies) in world(), extra in rule(), which in any::<prop::sample::Index>(), ingress in any::<bool>()) {
        prop_assume!(!policies.is_empty());
        let before = build(&inv, policies.clone(), EngineOptions::default());
        let mut more = policies;
        let k = which.index(more.len());
        let target = if ingress { &mut more[k].ingress } else { &mut more[k].egress };
        if let Some(rules) = target.as_mut() {
            rules.push(extra);
        }
        let after = build(&inv, more, EngineOptions::default());
        for flow in flows(&inv) {
            if before.verdict(&flow).allowed() {
                prop_assert!(after.verdict(&flow).allowed(), "flow {:?}", flow);
            }
        }
    }

    #[test]
    fn an_ingress_isolating_policy_without_rules_denies((inv, _policies) in world(), ns in prop::sample::select(NAMESPACES.to_vec())) {
        let deny = Policy {
            namespace: ns.to_string(),
            name: "deny".into(),
            pod_selector: Selector::everything(),
            ingress: Some(Vec::new()),
            egress: None,
            warnings: Vec::new(),
            origin: Default::default(),
            manifest: None,
            cilium: None,
        };
        let index = build(&inv, vec![deny], EngineOptions::default());
        for flow in flows(&inv) {
            let Endpoint::Pod { pod, .. } = flow.dst else { continue };
            if inv.pods[pod as usize].namespace != ns || index.exemption(&flow).is_some() {
                continue;
            }
            let v = index.verdict(&flow);
            prop_assert!(!v.allowed(), "flow {:?}", flow);
            prop_assert_eq!(v.ingress, Side::Denied { isolating: vec![0] });
        }
    }

    #[test]
    fn effective_peer_counts_match_a_walk_over_the_pods((inv, policies) in world()) {
        let index = build(&inv, policies, EngineOptions::default());
        let ns_labels = |ns: &str| inv.namespaces.iter().find(|n| n.name == ns).map(|n| &n.labels);
        for pod in 0..inv.pods.len() as u32 {
            let e = effective(&index, pod);
            for side in [&e.ingress, &e.egress] {
                for a in &side.allows {
                    let (ns, name) = a.policy.split_once('/').expect("ns/name");
                    let id = index.policy_id(ns, name).expect("the policy");
                    let policy = &index.policies().policies[id as usize];
                    let rule = &policy.rules(side.direction).expect("isolating")[a.rule];
                    let Some(peer) = rule.peers.iter().find(|p| {
                        netpol_tui::policy::explain::describe_peer(p, &policy.namespace) == a.peer
                    }) else {
                        prop_assert_eq!(a.peer_pods, None);
                        continue;
                    };
                    let walked = match peer {
                        Peer::IpBlock(_) | Peer::Entity(_) | Peer::Outside(_) | Peer::Domains(_) | Peer::Services(_) | Peer::Unjudged(_) => None,
                        Peer::Pods { pods, namespaces } => Some(
                            inv.pods
                                .iter()
                                .filter(|p| {
                                    let ns_ok = match namespaces {
                                        NamespaceScope::PolicyNamespace => p.namespace == policy.namespace,
                                        NamespaceScope::Selector(s) => {
                                            ns_labels(&p.namespace).is_some_and(|l| s.matches(l))
                                        }
                                    };
                                    ns_ok && pods.matches(&p.labels)
                                })
                                .count(),
                        ),
                    };
                    prop_assert_eq!(a.peer_pods, walked, "{} {:?}", a.policy, a.peer);
                }
            }
        }
    }

    #[test]
    fn what_cannot_be_read_never_gives_a_wrong_definite_answer((full, partial, policies, readable) in partly_known_world(), cilium in any::<bool>()) {
        let options = EngineOptions { ipblock_matches_pods: !cilium, ..Default::default() };
        let truth = build(&full, policies, options.clone());
        let seen = build(&partial, readable, options);
        for flow in flows(&partial) {
            let sure = truth.verdict(&flow).decision();
            let v = seen.verdict(&flow);
            let slow = explain(&seen, &flow);
            prop_assert_eq!(&v, &slow.verdict, "flow {:?}", flow);
            match v.decision() {
                Decision::Unknown => {
                    prop_assert!(slow.unknown.is_some(), "explain gives no reason: {:?}", flow);
                    prop_assert!(!slow.allowed);
                }
                d => {
                    prop_assert_eq!(d, sure, "a definite answer that is wrong: {:?}", flow);
                    prop_assert!(slow.unknown.is_none());
                }
            }
        }
    }

    #[test]
    fn what_cannot_be_read_matrix_agrees_with_verdicts((full, partial, policies, readable) in partly_known_world(), port in prop::sample::select(PORTS.to_vec()), protocol in protocol()) {
        let truth = build(&full, policies, EngineOptions::default());
        let seen = build(&partial, readable, EngineOptions::default());
        let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
        let m = seen.matrix(&pods, protocol, port);
        let (mut allowed, mut unknown) = (0u64, 0u64);
        for i in 0..pods.len() {
            for j in 0..pods.len() {
                let flow = Flow { src: Endpoint::pod(pods[i]), dst: Endpoint::pod(pods[j]), protocol, port };
                let d = seen.verdict(&flow).decision();
                prop_assert_eq!(m.decision(i, j), d, "pod{} -> pod{}", i, j);
                if d != Decision::Unknown {
                    prop_assert_eq!(d, truth.verdict(&flow).decision());
                }
                allowed += u64::from(d == Decision::Allowed);
                unknown += u64::from(d == Decision::Unknown);
            }
        }
        prop_assert_eq!(m.allowed_pairs(), allowed);
        prop_assert_eq!(m.unknown_pairs(), unknown);
        prop_assert_eq!(m.has_unknown(), unknown > 0);
    }

    #[test]
    fn hidden_namespace_labels_effective_counts_bound_the_truth((full, mut partial, policies, _) in partly_known_world()) {
        // Labels hidden only: the same policies on both sides.
        for ns in &mut partial.namespaces {
            ns.policies_known = true;
        }
        let truth = build(&full, policies.clone(), EngineOptions::default());
        let seen = build(&partial, policies, EngineOptions::default());
        for pod in 0..partial.pods.len() as u32 {
            let (t, s) = (effective(&truth, pod), effective(&seen, pod));
            for (ts, ss) in [(&t.ingress, &s.ingress), (&t.egress, &s.egress)] {
                prop_assert_eq!(ts.allows.len(), ss.allows.len());
                for (ta, sa) in ts.allows.iter().zip(&ss.allows) {
                    let (Some(real), Some(sure)) = (ta.peer_pods, sa.peer_pods) else {
                        prop_assert_eq!(ta.peer_pods, sa.peer_pods);
                        continue;
                    };
                    // The pods surely matched are matched; the rest are among the unknown.
                    let maybe = sa.peer_pods_unknown.unwrap_or(0);
                    prop_assert!(sure <= real && real <= sure + maybe,
                        "{} {}: {} sure, {} unknown, {} really", sa.policy, sa.peer, sure, maybe, real);
                }
            }
        }
    }
}

/// The generated cluster written as manifests and read back is the same cluster: every
/// matrix agrees (the benchmarks of the command line run on such files).
#[test]
fn generated_manifests_read_back_to_the_same_verdicts() {
    use netpol_tui::cluster::synthetic::{generate, manifests, Shape};
    let world = generate(Shape::new(300, 60));
    let mut text = Vec::new();
    manifests(&world, &mut text).expect("written");
    let text = String::from_utf8(text).expect("utf-8");
    let loaded = netpol_tui::cluster::files::load_text("generated.yaml", &text).expect("loads");
    assert_eq!(
        loaded.world.inventory.pods.len(),
        world.inventory.pods.len()
    );
    assert_eq!(
        loaded.world.policies.policies.len(),
        world.policies.policies.len()
    );
    let a =
        netpol_tui::policy::Index::build(world.inventory, world.policies, EngineOptions::default());
    let b = netpol_tui::policy::Index::build(
        loaded.world.inventory,
        loaded.world.policies,
        EngineOptions::default(),
    );
    let pods: Vec<u32> = (0..a.inventory().pods.len() as u32).collect();
    for (protocol, port) in [
        (Protocol::Tcp, 8080),
        (Protocol::Tcp, 5432),
        (Protocol::Udp, 53),
    ] {
        let (ma, mb) = (
            a.matrix(&pods, protocol, port),
            b.matrix(&pods, protocol, port),
        );
        assert_eq!(ma.allowed_pairs(), mb.allowed_pairs(), "{protocol}/{port}");
        for i in 0..pods.len() {
            for j in 0..pods.len() {
                assert_eq!(ma.get(i, j), mb.get(i, j), "{protocol}/{port} {i} -> {j}");
            }
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    /// Every port at once agrees with the one-port matrix on every port class: each range's
    /// ends and the ports just outside them, every container port and its neighbours.
    #[test]
    fn every_port_at_once_agrees_with_the_matrix_on_every_port_class((_full, partial, _policies, readable) in partly_known_world()) {
        use netpol_tui::policy::Connectivity;
        let index = build(&partial, readable.clone(), EngineOptions::default());
        let ports = port_classes(&readable, &[], &partial);
        let mut all = Connectivity::new(&index);
        let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
        for protocol in Protocol::ALL {
            for &port in &ports {
                let m = index.matrix(&pods, protocol, port);
                for i in 0..pods.len() {
                    for j in 0..pods.len() {
                        if i == j {
                            continue;
                        }
                        let pair = all.between(index.class_of(pods[i]), index.class_of(pods[j]));
                        let d = m.decision(i, j);
                        prop_assert_eq!(pair.sure.contains(protocol, port), d == Decision::Allowed,
                            "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                        prop_assert_eq!(pair.unknown.contains(protocol, port), d == Decision::Unknown,
                            "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                    }
                }
            }
        }
    }
}

/// Every port where an answer may change: the ends of every range and the ports just
/// outside them, every container port and its neighbours.
fn port_classes(
    policies: &[Policy],
    tiers: &[netpol_tui::policy::tiers::TierPolicy],
    inv: &netpol_tui::policy::Inventory,
) -> std::collections::BTreeSet<u16> {
    let mut ports: std::collections::BTreeSet<u16> = [1, u16::MAX].into_iter().collect();
    let mut near = |p: u16| ports.extend([p.saturating_sub(1).max(1), p, p.saturating_add(1)]);
    let specs = policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(p.egress.iter()).flatten())
        .flat_map(|r| r.ports.iter())
        .chain(
            tiers
                .iter()
                .flat_map(|t| t.ingress.iter().chain(&t.egress))
                .flat_map(|r| r.ports.iter().flatten()),
        );
    for spec in specs {
        if let netpol_tui::policy::model::PortMatch::Range { from, to } = spec.port {
            near(from);
            near(to);
        }
    }
    for pod in &inv.pods {
        for cp in &pod.ports {
            near(cp.port);
        }
    }
    ports
}

/// Tier policies (Admin before NetworkPolicy, Baseline after): the same invariants.
mod tiers {
    use super::*;
    use netpol_tui::policy::Connectivity;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn index_agrees_with_explain((inv, policies, tiers) in tiered_world(), cilium in any::<bool>()) {
            let index = build_tiered(&inv, policies, tiers, EngineOptions { ipblock_matches_pods: !cilium, ..Default::default() });
            for flow in flows(&inv) {
                let fast = index.verdict(&flow);
                let slow = explain(&index, &flow);
                prop_assert_eq!(&fast, &slow.verdict, "flow {:?}", flow);
                prop_assert_eq!(fast.allowed(), slow.allowed);
            }
        }

        #[test]
        fn hidden_labels_never_give_a_wrong_definite_answer((full, partial, policies, tiers) in partly_known_tiered_world()) {
            let truth = build_tiered(&full, policies.clone(), tiers.clone(), EngineOptions::default());
            let seen = build_tiered(&partial, policies, tiers, EngineOptions::default());
            for flow in flows(&partial) {
                let v = seen.verdict(&flow);
                let slow = explain(&seen, &flow);
                prop_assert_eq!(&v, &slow.verdict, "flow {:?}", flow);
                match v.decision() {
                    Decision::Unknown => prop_assert!(slow.unknown.is_some(), "explain gives no reason: {:?}", flow),
                    d => prop_assert_eq!(d, truth.verdict(&flow).decision(), "a definite answer that is wrong: {:?}", flow),
                }
            }
        }

        #[test]
        fn matrix_agrees_with_verdicts((_full, partial, policies, tiers) in partly_known_tiered_world(), port in prop::sample::select(PORTS.to_vec()), protocol in protocol()) {
            let index = build_tiered(&partial, policies, tiers, EngineOptions::default());
            let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
            let m = index.matrix(&pods, protocol, port);
            let (mut allowed, mut unknown) = (0u64, 0u64);
            for i in 0..pods.len() {
                for j in 0..pods.len() {
                    let flow = Flow { src: Endpoint::pod(pods[i]), dst: Endpoint::pod(pods[j]), protocol, port };
                    let d = index.verdict(&flow).decision();
                    prop_assert_eq!(m.decision(i, j), d, "pod{} -> pod{}", i, j);
                    allowed += u64::from(d == Decision::Allowed);
                    unknown += u64::from(d == Decision::Unknown);
                }
            }
            prop_assert_eq!(m.allowed_pairs(), allowed);
            prop_assert_eq!(m.unknown_pairs(), unknown);
        }

        #[test]
        fn tiers_that_could_not_be_read_leave_every_side_unknown((inv, policies, tiers) in tiered_world()) {
            let mut set = netpol_tui::policy::PolicySet::new(policies).with_tiers(tiers);
            set.tiers_known = false;
            let index = netpol_tui::policy::Index::build(std::sync::Arc::new(inv.clone()), std::sync::Arc::new(set), EngineOptions::default());
            for flow in flows(&inv) {
                let v = index.verdict(&flow);
                if v.exemption.is_some() || !(flow.src.pod_id().is_some() || flow.dst.pod_id().is_some()) {
                    continue;
                }
                prop_assert_eq!(v.decision(), Decision::Unknown, "flow {:?}", flow);
                prop_assert!(explain(&index, &flow).unknown.is_some());
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn every_port_at_once_agrees_with_the_matrix((_full, partial, policies, tiers) in partly_known_tiered_world()) {
            let index = build_tiered(&partial, policies.clone(), tiers.clone(), EngineOptions::default());
            let ports = port_classes(&policies, &tiers, &partial);
            let mut all = Connectivity::new(&index);
            let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
            for protocol in Protocol::ALL {
                for &port in &ports {
                    let m = index.matrix(&pods, protocol, port);
                    for i in 0..pods.len() {
                        for j in 0..pods.len() {
                            if i == j {
                                continue;
                            }
                            let pair = all.between(index.class_of(pods[i]), index.class_of(pods[j]));
                            let d = m.decision(i, j);
                            prop_assert_eq!(pair.sure.contains(protocol, port), d == Decision::Allowed,
                                "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                            prop_assert_eq!(pair.unknown.contains(protocol, port), d == Decision::Unknown,
                                "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                        }
                    }
                }
            }
        }
    }
}

/// Cilium policies (allow parts joining NetworkPolicy, deny parts in the Cilium tier,
/// entities, outside CIDRs, domain names, unjudged peers, clusterwide subjects, policies
/// without default deny): the same invariants.
mod cilium {
    use super::*;
    use netpol_tui::policy::Connectivity;

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(300))]

        #[test]
        fn index_agrees_with_explain_and_hidden_labels_never_mislead((full, partial, policies, tiers) in partly_known_cilium_world(), fqdn in any::<bool>(), firewall in prop::option::of(any::<bool>())) {
            let mut options = EngineOptions { cilium_host_firewall: firewall, ..Default::default() };
            if fqdn {
                options.domains = netpol_tui::policy::engine::Domains::parse(&[
                    "api.example.com=8.8.8.8".into(),
                    "api.example.com=fd00::99".into(),
                    "other.example.org=10.0.1.99".into(),
                ]).unwrap();
            }
            let truth = build_tiered(&full, policies.clone(), tiers.clone(), options.clone());
            let seen = build_tiered(&partial, policies, tiers, options);
            for flow in flows(&partial) {
                let v = seen.verdict(&flow);
                let slow = explain(&seen, &flow);
                prop_assert_eq!(&v, &slow.verdict, "flow {:?}", flow);
                let t = truth.verdict(&flow);
                prop_assert_eq!(&t, &explain(&truth, &flow).verdict, "flow {:?} (all known)", flow);
                match v.decision() {
                    Decision::Unknown => prop_assert!(slow.unknown.is_some(), "explain gives no reason: {:?}", flow),
                    d => prop_assert_eq!(d, t.decision(), "a definite answer that is wrong: {:?}", flow),
                }
            }
        }

        #[test]
        fn matrix_agrees_with_verdicts((_full, partial, policies, tiers) in partly_known_cilium_world(), port in prop::sample::select(PORTS.to_vec()), protocol in protocol(), firewall in prop::option::of(any::<bool>())) {
            let options = EngineOptions { cilium_host_firewall: firewall, ..Default::default() };
            let index = build_tiered(&partial, policies, tiers, options);
            let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
            let m = index.matrix(&pods, protocol, port);
            for i in 0..pods.len() {
                for j in 0..pods.len() {
                    let flow = Flow { src: Endpoint::pod(pods[i]), dst: Endpoint::pod(pods[j]), protocol, port };
                    prop_assert_eq!(m.decision(i, j), index.verdict(&flow).decision(), "pod{} -> pod{}", i, j);
                }
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(150))]

        #[test]
        fn every_port_at_once_agrees_with_the_matrix((_full, partial, policies, tiers) in partly_known_cilium_world(), firewall in prop::option::of(any::<bool>())) {
            let ports = port_classes(&policies, &tiers, &partial);
            let options = EngineOptions { cilium_host_firewall: firewall, ..Default::default() };
            let index = build_tiered(&partial, policies, tiers, options);
            let mut all = Connectivity::new(&index);
            let pods: Vec<u32> = (0..partial.pods.len() as u32).collect();
            for protocol in Protocol::ALL {
                for &port in &ports {
                    let m = index.matrix(&pods, protocol, port);
                    for i in 0..pods.len() {
                        for j in 0..pods.len() {
                            if i == j {
                                continue;
                            }
                            let pair = all.between(index.class_of(pods[i]), index.class_of(pods[j]));
                            let d = m.decision(i, j);
                            prop_assert_eq!(pair.sure.contains(protocol, port), d == Decision::Allowed,
                                "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                            prop_assert_eq!(pair.unknown.contains(protocol, port), d == Decision::Unknown,
                                "pod{} -> pod{} {}/{}: {}", i, j, protocol, port, pair);
                        }
                    }
                }
            }
        }
    }
}
