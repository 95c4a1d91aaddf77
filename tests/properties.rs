//! Invariants of NetworkPolicy evaluation, checked on random worlds:
//! - the fast index and the literal explain give the same verdict, side by side;
//! - the matrix gives the same answers as single verdicts;
//! - a pod that no policy selects is not isolated;
//! - the order of policies never changes a verdict;
//! - adding an allow rule never turns an allowed flow into a denied one;
//! - an ingress-isolating policy with no rules denies;
//! - `effective` counts the pods a peer matches as a literal walk over the pods does.

use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;

use netpol_tui::policy::effective::effective;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::model::{
    ContainerPort, Inventory, IpBlock, Labels, Namespace, NamespaceScope, Node, Peer, Pod, Policy,
    PolicySet, PortMatch, PortSpec, Protocol, Rule, NAMESPACE_NAME_LABEL,
};
use netpol_tui::policy::selector::{Operator, Requirement, Selector};
use netpol_tui::policy::{Direction, Endpoint, EngineOptions, Flow, Index, Side};

const NAMESPACES: [&str; 3] = ["ns0", "ns1", "ns2"];
const KEYS: [&str; 3] = ["app", "tier", "env"];
const VALUES: [&str; 3] = ["a", "b", "c"];
const PORTS: [u16; 5] = [53, 80, 1000, 5432, 8080];

fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::btree_map(
        prop::sample::select(KEYS.to_vec()).prop_map(String::from),
        prop::sample::select(VALUES.to_vec()).prop_map(String::from),
        0..3,
    )
}

fn selector() -> impl Strategy<Value = Selector> {
    let requirement = (
        prop::sample::select(KEYS.to_vec()),
        0..4u8,
        prop::collection::vec(prop::sample::select(VALUES.to_vec()), 1..3),
    )
        .prop_map(|(key, op, values)| Requirement {
            key: key.to_string(),
            op: match op {
                0 => Operator::In(values.into_iter().map(String::from).collect()),
                1 => Operator::NotIn(values.into_iter().map(String::from).collect()),
                2 => Operator::Exists,
                _ => Operator::DoesNotExist,
            },
        });
    prop::collection::vec(requirement, 0..3).prop_map(Selector::new)
}

fn ip_block() -> impl Strategy<Value = IpBlock> {
    let blocks = vec![
        ("10.0.0.0/16", vec!["10.0.1.0/24"]),
        ("10.0.0.0/8", vec![]),
        ("0.0.0.0/0", vec!["10.0.0.0/8"]),
        ("192.168.0.0/24", vec![]),
        ("fd00::/8", vec!["fd00:0:0:1::/64"]),
    ];
    prop::sample::select(blocks).prop_map(|(cidr, except)| IpBlock {
        cidr: cidr.parse().unwrap(),
        except: except.iter().map(|e| e.parse().unwrap()).collect(),
    })
}

fn peer() -> impl Strategy<Value = Peer> {
    prop_oneof![
        3 => (selector(), prop::option::of(selector())).prop_map(|(pods, ns)| Peer::Pods {
            pods,
            namespaces: match ns {
                Some(s) => NamespaceScope::Selector(s),
                None => NamespaceScope::PolicyNamespace,
            },
        }),
        1 => ip_block().prop_map(Peer::IpBlock),
    ]
}

fn protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(Protocol::ALL.to_vec())
}

fn port_spec() -> impl Strategy<Value = PortSpec> {
    let matcher = prop_oneof![
        Just(PortMatch::Any),
        prop::sample::select(PORTS.to_vec()).prop_map(|p| PortMatch::Range { from: p, to: p }),
        (1u16..6000, 0u16..3000).prop_map(|(from, len)| PortMatch::Range {
            from,
            to: from.saturating_add(len)
        }),
        prop::sample::select(vec!["http", "dns", "db"])
            .prop_map(|n| PortMatch::Named { name: n.into() }),
    ];
    (protocol(), matcher).prop_map(|(protocol, port)| PortSpec { protocol, port })
}

fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::collection::vec(peer(), 0..3),
        prop::collection::vec(port_spec(), 0..3),
    )
        .prop_map(|(peers, ports)| Rule { peers, ports })
}

fn rules() -> impl Strategy<Value = Option<Vec<Rule>>> {
    prop::option::of(prop::collection::vec(rule(), 0..3))
}

fn policy(i: usize) -> impl Strategy<Value = Policy> {
    (
        prop::sample::select(NAMESPACES.to_vec()),
        selector(),
        rules(),
        rules(),
    )
        .prop_map(move |(ns, pod_selector, ingress, egress)| Policy {
            namespace: ns.to_string(),
            name: format!("p{i}"),
            pod_selector,
            ingress,
            egress,
            warnings: Vec::new(),
            origin: Default::default(),
            manifest: None,
        })
}

fn container_ports() -> impl Strategy<Value = Vec<ContainerPort>> {
    let choices = vec![
        ContainerPort {
            name: Some("http".into()),
            port: 80,
            protocol: Protocol::Tcp,
        },
        ContainerPort {
            name: Some("http".into()),
            port: 8080,
            protocol: Protocol::Tcp,
        },
        ContainerPort {
            name: Some("dns".into()),
            port: 53,
            protocol: Protocol::Udp,
        },
        ContainerPort {
            name: Some("db".into()),
            port: 5432,
            protocol: Protocol::Tcp,
        },
        ContainerPort {
            name: None,
            port: 1000,
            protocol: Protocol::Sctp,
        },
    ];
    prop::sample::subsequence(choices, 0..3).prop_filter("one port per name", |ports| {
        let names: Vec<_> = ports.iter().filter_map(|p| p.name.clone()).collect();
        let mut dedup = names.clone();
        dedup.sort();
        dedup.dedup();
        dedup.len() == names.len()
    })
}

fn world() -> impl Strategy<Value = (Inventory, Vec<Policy>)> {
    let namespaces = prop::collection::vec(labels(), 3).prop_map(|labels| {
        NAMESPACES
            .iter()
            .zip(labels)
            .map(|(name, mut labels)| {
                labels.insert(NAMESPACE_NAME_LABEL.into(), name.to_string());
                Namespace {
                    name: name.to_string(),
                    labels,
                    implicit: false,
                }
            })
            .collect::<Vec<_>>()
    });
    let pod = (
        prop::sample::select(NAMESPACES.to_vec()),
        labels(),
        container_ports(),
        0..2usize,
        any::<bool>(),
        any::<bool>(),
    );
    let pods = prop::collection::vec(pod, 1..8).prop_map(|pods| {
        pods.into_iter()
            .enumerate()
            .map(|(i, (ns, labels, ports, node, v6, has_ip))| {
                let mut ips: Vec<IpAddr> = Vec::new();
                if has_ip {
                    ips.push(format!("10.0.{}.{}", i % 3, 10 + i).parse().unwrap());
                    if v6 {
                        ips.push(format!("fd00:0:0:{}::{}", i % 3, 10 + i).parse().unwrap());
                    }
                }
                Pod {
                    namespace: ns.to_string(),
                    name: format!("pod{i}"),
                    labels,
                    ips,
                    node: Some(format!("node{node}")),
                    host_network: false,
                    ports,
                    workload: None,
                    template: false,
                    origin: Default::default(),
                }
            })
            .collect::<Vec<_>>()
    });
    let policies = (0..6usize).prop_flat_map(|n| (0..n).map(policy).collect::<Vec<_>>());
    (namespaces, pods, policies).prop_map(|(namespaces, pods, policies)| {
        let nodes = (0..2)
            .map(|i| Node {
                name: format!("node{i}"),
                addresses: vec![format!("192.168.0.{}", i + 1).parse().unwrap()],
            })
            .collect();
        let mut inv = Inventory {
            namespaces,
            pods,
            nodes,
            nodes_known: true,
            hidden: Vec::new(),
        };
        inv.normalize();
        (inv, policies)
    })
}

fn endpoints(inv: &Inventory) -> Vec<Endpoint> {
    let mut out: Vec<Endpoint> = (0..inv.pods.len() as u32).map(Endpoint::pod).collect();
    for (i, pod) in inv.pods.iter().enumerate() {
        for ip in &pod.ips {
            out.push(Endpoint::Pod {
                pod: i as u32,
                addr: Some(*ip),
            });
        }
    }
    out.push(Endpoint::Node {
        node: 0,
        addr: None,
    });
    out.push(Endpoint::Node {
        node: 1,
        addr: Some("192.168.0.2".parse().unwrap()),
    });
    for ip in ["8.8.8.8", "10.0.1.99", "fd00::99"] {
        out.push(Endpoint::External(ip.parse().unwrap()));
    }
    out
}

fn flows(inv: &Inventory) -> Vec<Flow> {
    let eps = endpoints(inv);
    let mut out = Vec::new();
    for (i, src) in eps.iter().enumerate() {
        for (j, dst) in eps.iter().enumerate() {
            let protocol = Protocol::ALL[(i + j) % 3];
            let port = PORTS[(i * 7 + j) % PORTS.len()];
            out.push(Flow {
                src: *src,
                dst: *dst,
                protocol,
                port,
            });
        }
    }
    out
}

fn build(inv: &Inventory, policies: Vec<Policy>, options: EngineOptions) -> Index {
    Index::build(
        Arc::new(inv.clone()),
        Arc::new(PolicySet::new(policies)),
        options,
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(300))]

    #[test]
    fn index_agrees_with_explain((inv, policies) in world(), cilium in any::<bool>()) {
        let index = build(&inv, policies, EngineOptions { ipblock_matches_pods: !cilium });
        for flow in flows(&inv) {
            let fast = index.verdict(&flow);
            let slow = explain(&index, &flow);
            prop_assert_eq!(&fast, &slow.verdict, "flow {:?}", flow);
            prop_assert_eq!(fast.allowed(), slow.allowed);
        }
    }

    #[test]
    fn matrix_agrees_with_single_verdicts((inv, policies) in world(), port in prop::sample::select(PORTS.to_vec()), protocol in protocol(), cilium in any::<bool>()) {
        let index = build(&inv, policies, EngineOptions { ipblock_matches_pods: !cilium });
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
                        Peer::IpBlock(_) => None,
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
}
