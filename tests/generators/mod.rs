//! Random worlds for property tests: namespaces with labels, pods with labels, IPs (v4 and
//! v6) and named ports, policies with every peer and port kind.

#![allow(dead_code)]

use std::net::IpAddr;
use std::sync::Arc;

use proptest::prelude::*;

use netpol_tui::policy::model::{
    CiliumPart, ContainerPort, Entity, Inventory, IpBlock, Labels, Namespace, NamespaceScope, Node,
    Peer, Pod, Policy, PortMatch, PortSpec, Protocol, Rule, NAMESPACE_NAME_LABEL,
};
use netpol_tui::policy::selector::{Operator, Requirement, Selector};
use netpol_tui::policy::tiers::{
    Action, CalicoAddressSet, CalicoTier, Order, Subject, Tier, TierPeer, TierPolicy, TierRule,
};
use netpol_tui::policy::PolicySet;
use netpol_tui::policy::{Endpoint, EngineOptions, Flow, Index};

pub const NAMESPACES: [&str; 3] = ["ns0", "ns1", "ns2"];
pub const KEYS: [&str; 3] = ["app", "tier", "env"];
pub const VALUES: [&str; 3] = ["a", "b", "c"];
pub const PORTS: [u16; 5] = [53, 80, 1000, 5432, 8080];

pub fn labels() -> impl Strategy<Value = Labels> {
    prop::collection::btree_map(
        prop::sample::select(KEYS.to_vec()).prop_map(String::from),
        prop::sample::select(VALUES.to_vec()).prop_map(String::from),
        0..3,
    )
}

pub fn selector() -> impl Strategy<Value = Selector> {
    selector_over(KEYS.to_vec(), VALUES.to_vec(), 3)
}

/// A selector of fewer than `most` requirements, each with any operator, on `keys` and
/// `values`.
fn selector_over(
    keys: Vec<&'static str>,
    values: Vec<&'static str>,
    most: usize,
) -> impl Strategy<Value = Selector> {
    let requirement = (
        prop::sample::select(keys),
        0..4u8,
        prop::collection::vec(prop::sample::select(values), 1..3),
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
    prop::collection::vec(requirement, 0..most).prop_map(Selector::new)
}

/// An endpoint selector of a Cilium policy: some name the service account Cilium gives
/// endpoints (pods run as `x` or `default`).
pub fn cilium_selector() -> impl Strategy<Value = Selector> {
    (
        selector(),
        prop::option::weighted(0.3, prop::sample::select(vec!["x", "default"])),
    )
        .prop_map(|(selector, account)| match account {
            None => selector,
            Some(account) => {
                let mut reqs = selector.requirements().to_vec();
                reqs.push(Requirement {
                    key: netpol_tui::policy::selector::SERVICE_ACCOUNT_LABEL.into(),
                    op: Operator::In(vec![account.into()]),
                });
                Selector::new(reqs)
            }
        })
}

/// A host policy's node selector, on the nodes' `zone` label (and one they lack).
pub fn node_selector() -> impl Strategy<Value = Selector> {
    selector_over(vec!["zone", "app"], vec!["z0", "z1", "a"], 2)
}

pub fn ip_block() -> impl Strategy<Value = IpBlock> {
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

pub fn peer() -> impl Strategy<Value = Peer> {
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

pub fn protocol() -> impl Strategy<Value = Protocol> {
    prop::sample::select(Protocol::ALL.to_vec())
}

pub fn port_spec() -> impl Strategy<Value = PortSpec> {
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

pub fn rule() -> impl Strategy<Value = Rule> {
    (
        prop::collection::vec(peer(), 0..3),
        prop::collection::vec(port_spec(), 0..3),
    )
        .prop_map(|(peers, ports)| Rule { peers, ports })
}

pub fn rules() -> impl Strategy<Value = Option<Vec<Rule>>> {
    prop::option::of(prop::collection::vec(rule(), 0..3))
}

pub fn policy(i: usize) -> impl Strategy<Value = Policy> {
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
            cilium: None,
        })
}

pub fn container_ports() -> impl Strategy<Value = Vec<ContainerPort>> {
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

pub fn world() -> impl Strategy<Value = (Inventory, Vec<Policy>)> {
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
                    labels_known: true,
                    policies_known: true,
                    services_known: true,
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
                    // Some pods run as the service account Calico rules may name.
                    service_account: (i % 3 == 0).then(|| "x".to_string()),
                    account_labels: None,
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
                labels: Labels::from([("zone".to_string(), format!("z{i}"))]),
            })
            .collect();
        let mut inv = Inventory {
            namespaces,
            pods,
            nodes,
            services: services(),
            // Pods run as `default` (not read) or `x` (read, in the first namespace).
            service_accounts: vec![netpol_tui::policy::model::ServiceAccount {
                namespace: NAMESPACES[0].to_string(),
                name: "x".into(),
                labels: Labels::from([("role".to_string(), "robot".to_string())]),
            }],
            nodes_known: true,
            hidden: Vec::new(),
        };
        inv.normalize();
        (inv, policies)
    })
}

/// The Services Cilium's `toServices` and Calico's `services` may pick: in ns0, `ext`
/// without a selector (ready endpoints 8.8.8.8 and 10.0.1.11 serving UDP 53 and TCP 80, one
/// not ready at fd00::99) and
/// `sel` selecting `app=a` (no slices beyond its pods); in ns1, `ext` whose endpoints were
/// not read and `sel` selecting `tier=b` (whose other slices were not read either). The
/// `ext`s carry `kind=ext`.
fn services() -> Vec<netpol_tui::policy::model::Service> {
    use netpol_tui::policy::model::{Service, ServiceEndpoints, ServiceType};
    let service = |ns: usize, name: &str, selector: Option<(&str, &str)>| Service {
        namespace: NAMESPACES[ns].to_string(),
        name: name.to_string(),
        kind: ServiceType::ClusterIP,
        selector: selector.map(|(k, v)| Labels::from([(k.to_string(), v.to_string())])),
        cluster_ips: Vec::new(),
        external_ips: Vec::new(),
        ports: Vec::new(),
        external_traffic_local: false,
        external_name: None,
        labels: if selector.is_none() {
            Labels::from([("kind".to_string(), "ext".to_string())])
        } else {
            Labels::new()
        },
        endpoints: None,
        origin: Default::default(),
    };
    // Its endpoints include pod1's address, where pod1 has one: pods of one class may then
    // differ in being an endpoint.
    let mut ext = service(0, "ext", None);
    ext.endpoints = Some(ServiceEndpoints {
        ready: vec!["8.8.8.8".parse().unwrap(), "10.0.1.11".parse().unwrap()],
        not_ready: vec!["fd00::99".parse().unwrap()],
        ports: Some(vec![(Protocol::Udp, 53), (Protocol::Tcp, 80)]),
    });
    let mut sel = service(0, "sel", Some(("app", "a")));
    sel.endpoints = Some(ServiceEndpoints::default());
    vec![
        ext,
        sel,
        service(1, "ext", None),
        service(1, "sel", Some(("tier", "b"))),
    ]
}

/// A `toServices` peer: by name (in a namespace or in all), or by label.
fn service_peer() -> impl Strategy<Value = Peer> {
    use netpol_tui::policy::model::{ServiceBy, ServiceRef};
    let name = prop::sample::select(vec!["ext", "sel", "none"]);
    let namespace = prop::option::of(prop::sample::select(NAMESPACES.to_vec()));
    let by = prop_oneof![
        name.prop_map(|n| ServiceBy::Name(n.to_string())),
        Just(ServiceBy::Labels(Selector::from_match_labels([(
            "kind", "ext"
        )]))),
    ];
    prop::collection::vec((namespace, by), 1..3).prop_map(|refs| {
        Peer::Services(
            refs.into_iter()
                .map(|(ns, by)| ServiceRef {
                    namespace: ns.map(str::to_string),
                    by,
                })
                .collect(),
        )
    })
}

pub fn endpoints(inv: &Inventory) -> Vec<Endpoint> {
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

pub fn flows(inv: &Inventory) -> Vec<Flow> {
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

pub fn build(inv: &Inventory, policies: Vec<Policy>, options: EngineOptions) -> Index {
    Index::build(
        Arc::new(inv.clone()),
        Arc::new(PolicySet::new(policies)),
        options,
    )
}

/// A world and the same world as a reader with narrow rights sees it: in some namespaces
/// (picked at random) only the automatic name label is known; in others the NetworkPolicies
/// could not be read, so the reader's world lacks them.
pub fn partly_known_world(
) -> impl Strategy<Value = (Inventory, Inventory, Vec<Policy>, Vec<Policy>)> {
    (
        world(),
        prop::collection::vec(any::<bool>(), NAMESPACES.len()),
        prop::collection::vec(prop::bool::weighted(0.25), NAMESPACES.len()),
        prop::collection::vec(prop::bool::weighted(0.25), NAMESPACES.len()),
        any::<bool>(),
    )
        .prop_map(
            |((full, policies), hide_labels, hide_policies, hide_services_in, hide_slices)| {
                let mut partial = full.clone();
                hide_services(&mut partial, &hide_services_in, hide_slices);
                for (ns, hidden) in partial.namespaces.iter_mut().zip(hide_labels) {
                    if hidden {
                        ns.labels = Labels::from([(NAMESPACE_NAME_LABEL.into(), ns.name.clone())]);
                        ns.labels_known = false;
                    }
                }
                for (ns, hidden) in partial.namespaces.iter_mut().zip(hide_policies) {
                    ns.policies_known = !hidden;
                }
                let seen: Vec<Policy> = policies
                    .iter()
                    .filter(|p| {
                        partial
                            .namespaces
                            .iter()
                            .any(|n| n.name == p.namespace && n.policies_known)
                    })
                    .cloned()
                    .collect();
                (full, partial, policies, seen)
            },
        )
}

pub const NETWORKS: [&str; 6] = [
    "10.0.0.0/16",
    "10.0.1.0/24",
    "0.0.0.0/0",
    "192.168.0.0/24",
    "fd00::/8",
    "8.8.8.0/24",
];

pub fn tier_peer() -> impl Strategy<Value = TierPeer> {
    let zone = prop::sample::select(vec!["z0", "z1"]).prop_map(|z| {
        Selector::new(vec![Requirement {
            key: "zone".into(),
            op: Operator::In(vec![z.to_string()]),
        }])
    });
    prop_oneof![
        2 => selector().prop_map(TierPeer::Namespaces),
        3 => (selector(), selector()).prop_map(|(namespaces, pods)| TierPeer::Pods { namespaces, pods }),
        1 => prop_oneof![zone, Just(Selector::everything())].prop_map(TierPeer::Nodes),
        2 => prop::sample::subsequence(NETWORKS.to_vec(), 1..3)
            .prop_map(|n| TierPeer::Networks(n.iter().map(|n| n.parse().unwrap()).collect())),
        1 => Just(TierPeer::Domains(vec!["example.com".into()])),
    ]
}

pub fn tier_rule() -> impl Strategy<Value = TierRule> {
    (
        prop::sample::select(vec![Action::Allow, Action::Deny, Action::Pass]),
        prop::collection::vec(tier_peer(), 1..3),
        prop::option::of(prop::collection::vec(port_spec(), 1..3)),
    )
        .prop_map(|(action, peers, ports)| TierRule {
            name: String::new(),
            action,
            peers,
            ports,
            own: None,
            l7: None,
        })
}

pub fn tier_policy(i: usize) -> impl Strategy<Value = TierPolicy> {
    let subject = prop_oneof![
        selector().prop_map(Subject::Namespaces),
        (selector(), selector()).prop_map(|(namespaces, pods)| Subject::Pods { namespaces, pods }),
    ];
    (
        any::<bool>(),
        0..3i32,
        subject,
        prop::collection::vec(tier_rule(), 0..3),
        prop::collection::vec(tier_rule(), 0..3),
    )
        .prop_map(
            move |(admin, priority, subject, ingress, egress)| TierPolicy {
                kind: if admin {
                    "AdminNetworkPolicy"
                } else {
                    "BaselineAdminNetworkPolicy"
                }
                .into(),
                name: format!("t{i}"),
                tier: if admin { Tier::Admin } else { Tier::Baseline },
                priority,
                subject,
                ingress,
                egress,
                warnings: Vec::new(),
                origin: Default::default(),
                order: None,
                types: Vec::new(),
                calico: None,
            },
        )
}

/// A world with tier policies too; some pods use the host network.
pub fn tiered_world() -> impl Strategy<Value = (Inventory, Vec<Policy>, Vec<TierPolicy>)> {
    let tiers = (0..4usize).prop_flat_map(|n| (0..n).map(tier_policy).collect::<Vec<_>>());
    (
        world(),
        tiers,
        prop::collection::vec(prop::bool::weighted(0.15), 8),
    )
        .prop_map(|((mut inv, policies), tiers, host)| {
            for (pod, host) in inv.pods.iter_mut().zip(host) {
                pod.host_network = host;
            }
            (inv, policies, tiers)
        })
}

/// A tiered world and the same world with some namespaces' labels hidden (the tier
/// policies stay readable: they are cluster-scoped).
pub fn partly_known_tiered_world(
) -> impl Strategy<Value = (Inventory, Inventory, Vec<Policy>, Vec<TierPolicy>)> {
    (
        tiered_world(),
        prop::collection::vec(any::<bool>(), NAMESPACES.len()),
    )
        .prop_map(|((full, policies, tiers), hide)| {
            let mut partial = full.clone();
            for (ns, hidden) in partial.namespaces.iter_mut().zip(hide) {
                if hidden {
                    ns.labels = Labels::from([(NAMESPACE_NAME_LABEL.into(), ns.name.clone())]);
                    ns.labels_known = false;
                }
            }
            (full, partial, policies, tiers)
        })
}

pub fn build_tiered(
    inv: &Inventory,
    policies: Vec<Policy>,
    tiers: Vec<TierPolicy>,
    options: EngineOptions,
) -> Index {
    Index::build(
        Arc::new(inv.clone()),
        Arc::new(
            PolicySet::new(policies)
                .with_tiers(tiers)
                .with_calico_tiers(calico_tiers())
                .with_calico_sets(calico_sets()),
        ),
        options,
    )
}

/// A peer of a Cilium rule, as the allow part holds it (`clusterwide`: no policy namespace).
pub fn cilium_peer(clusterwide: bool) -> impl Strategy<Value = Peer> {
    prop_oneof![
        3 => (cilium_selector(), prop::option::of(selector())).prop_map(move |(pods, ns)| Peer::Pods {
            pods,
            namespaces: match ns {
                Some(s) => NamespaceScope::Selector(s),
                None if clusterwide => NamespaceScope::Selector(Selector::everything()),
                None => NamespaceScope::PolicyNamespace,
            },
        }),
        2 => prop::sample::select(Entity::ALL.to_vec()).prop_map(Peer::Entity),
        2 => ip_block().prop_map(Peer::Outside),
        1 => prop::sample::select(vec!["api.example.com", "*.example.com", "other.example.org"])
            .prop_map(|d| Peer::Domains(vec![d.into()])),
        1 => Just(Peer::Unjudged("a service account".into())),
        1 => service_peer(),
    ]
}

/// A CiliumNetworkPolicy's (or clusterwide one's) allow part; some clusterwide ones are host
/// policies, which select nodes.
pub fn cilium_policy(i: usize) -> impl Strategy<Value = Policy> {
    (
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
        prop::option::weighted(0.3, node_selector()),
    )
        .prop_flat_map(move |(clusterwide, dd_in, dd_out, nodes)| {
            let nodes = nodes.filter(|_| clusterwide);
            let rules = move || {
                let rule = (
                    prop::collection::vec(cilium_peer(clusterwide), 0..3),
                    prop::collection::vec(port_spec(), 0..3),
                )
                    .prop_map(|(peers, ports)| Rule { peers, ports });
                prop::option::of(prop::collection::vec(rule, 0..3))
            };
            (
                prop::sample::select(NAMESPACES.to_vec()),
                selector(),
                cilium_selector(),
                rules(),
                rules(),
            )
                .prop_map(move |(ns, namespaces, pod_selector, ingress, egress)| {
                    // A host policy's pod part selects no namespace, as the reader makes it.
                    let (namespaces, pod_selector) = match &nodes {
                        Some(_) => (
                            Selector::new(vec![Requirement {
                                key: NAMESPACE_NAME_LABEL.into(),
                                op: Operator::In(Vec::new()),
                            }]),
                            Selector::everything(),
                        ),
                        None => (namespaces, pod_selector),
                    };
                    Policy {
                        namespace: if clusterwide {
                            String::new()
                        } else {
                            ns.to_string()
                        },
                        name: format!("c{i}"),
                        pod_selector,
                        ingress,
                        egress,
                        warnings: Vec::new(),
                        origin: Default::default(),
                        manifest: None,
                        cilium: Some(Box::new(CiliumPart {
                            kind: if clusterwide {
                                "CiliumClusterwideNetworkPolicy"
                            } else {
                                "CiliumNetworkPolicy"
                            }
                            .into(),
                            namespaces: clusterwide.then_some(namespaces),
                            default_deny_ingress: dd_in,
                            default_deny_egress: dd_out,
                            l7: Vec::new(),
                            audit_mode: false,
                            nodes: nodes.clone(),
                        })),
                    }
                })
        })
}

/// The deny part of a Cilium policy: a tier policy of the Cilium tier (some of host
/// policies, which select nodes).
pub fn cilium_deny(i: usize) -> impl Strategy<Value = TierPolicy> {
    (
        selector(),
        selector(),
        prop::option::weighted(0.3, node_selector()),
        prop::collection::vec(cilium_deny_rule(), 0..3),
        prop::collection::vec(cilium_deny_rule(), 0..3),
    )
        .prop_map(
            move |(namespaces, pods, nodes, ingress, egress)| TierPolicy {
                kind: "CiliumClusterwideNetworkPolicy".into(),
                name: format!("d{i}"),
                tier: Tier::Cilium,
                priority: 0,
                subject: match nodes {
                    Some(nodes) => Subject::Nodes(nodes),
                    None => Subject::Pods { namespaces, pods },
                },
                ingress,
                egress,
                warnings: Vec::new(),
                origin: Default::default(),
                order: None,
                types: Vec::new(),
                calico: None,
            },
        )
}

fn cilium_deny_rule() -> impl Strategy<Value = TierRule> {
    let peer = prop_oneof![
        3 => (selector(), selector()).prop_map(|(namespaces, pods)| TierPeer::Pods { namespaces, pods }),
        2 => prop::sample::select(Entity::ALL.to_vec()).prop_map(TierPeer::Entity),
        2 => ip_block().prop_map(TierPeer::Outside),
        1 => Just(TierPeer::Unjudged("a Service".into())),
    ];
    (
        prop::collection::vec(peer, 1..3),
        prop::option::of(prop::collection::vec(port_spec(), 1..3)),
    )
        .prop_map(|(peers, ports)| TierRule {
            name: String::new(),
            action: Action::Deny,
            peers,
            ports,
            own: None,
            l7: None,
        })
}

const CALICO_SELECTORS: [&str; 7] = [
    "all()",
    "app == 'a'",
    "has(tier)",
    "app in {'a', 'b'} && !has(env)",
    "pcns.env == 'a'",
    "projectcalico.org/namespace == 'ns1'",
    "tier != 'b' || env == 'c'",
];

/// One end of a Calico rule, as JSON.
fn calico_end() -> impl Strategy<Value = serde_json::Value> {
    let selector = || prop::option::of(prop::sample::select(CALICO_SELECTORS.to_vec()));
    let nets = || prop::option::of(prop::sample::subsequence(NETWORKS.to_vec(), 1..3));
    (
        selector(),
        selector(),
        prop::option::of(prop::sample::select(vec![
            "env == 'a'",
            "projectcalico.org/name == 'ns0'",
            "all()",
        ])),
        nets(),
        nets(),
        0..8u8,
        prop::option::weighted(
            0.15,
            (
                prop::sample::select(vec!["ext", "sel", "none"]),
                prop::option::of(prop::sample::select(NAMESPACES.to_vec())),
            ),
        ),
    )
        .prop_map(
            |(selector, not_selector, namespaces, nets, not_nets, rare, service)| {
                let mut end = serde_json::Map::new();
                // The endpoints of a Service: a condition that stands alone.
                if let Some((name, namespace)) = service {
                    let mut m = serde_json::json!({ "name": name });
                    if let Some(ns) = namespace {
                        m["namespace"] = ns.into();
                    }
                    end.insert("services".into(), m);
                    return serde_json::Value::Object(end);
                }
                let mut put = |k: &str, v: serde_json::Value| {
                    end.insert(k.into(), v);
                };
                // Most ends say little; a few say much.
                if rare < 3 {
                    return serde_json::Value::Object(end);
                }
                if let Some(s) = selector {
                    put("selector", s.into());
                }
                if rare > 5 {
                    if let Some(s) = not_selector {
                        put("notSelector", s.into());
                    }
                    if let Some(n) = not_nets {
                        put("notNets", n.into());
                    }
                }
                if let Some(s) = namespaces.filter(|_| rare % 2 == 0) {
                    put("namespaceSelector", s.into());
                }
                if let Some(n) = nets.filter(|_| rare % 3 == 0) {
                    put("nets", n.into());
                }
                if rare == 7 {
                    put("serviceAccounts", serde_json::json!({"names": ["x"]}));
                }
                if rare == 6 {
                    // By the labels of the ServiceAccount `x` (read in the first namespace).
                    put(
                        "serviceAccounts",
                        serde_json::json!({"selector": "role == 'robot'"}),
                    );
                }
                serde_json::Value::Object(end)
            },
        )
}

/// A Calico rule, as JSON: any action, protocol and ends; destination ports with TCP or UDP;
/// sometimes an HTTP match.
fn calico_rule() -> impl Strategy<Value = serde_json::Value> {
    let ports = prop::option::of(prop::collection::vec(
        prop::sample::select(vec![
            serde_json::json!(53),
            serde_json::json!(80),
            serde_json::json!("1000:5432"),
            serde_json::json!("http"),
            serde_json::json!("dns"),
        ]),
        1..3,
    ));
    (
        prop::sample::select(vec!["Allow", "Allow", "Deny", "Pass", "Log"]),
        prop::sample::select(vec![
            serde_json::Value::Null,
            serde_json::json!("TCP"),
            serde_json::json!("UDP"),
            serde_json::json!(17),
            serde_json::json!("ICMP"),
        ]),
        calico_end(),
        calico_end(),
        ports.clone(),
        ports,
        0..6u8,
    )
        .prop_map(
            |(action, protocol, source, mut destination, ports, not_ports, rare)| {
                let mut rule = serde_json::json!({"action": action, "source": source});
                if !protocol.is_null() {
                    rule["protocol"] = protocol.clone();
                }
                let carries_ports = matches!(protocol.as_str(), Some("TCP" | "UDP"))
                    || protocol.as_u64() == Some(17);
                if carries_ports {
                    if let Some(p) = ports {
                        destination["ports"] = p.into();
                    }
                    if let Some(p) = not_ports.filter(|_| rare < 2) {
                        destination["notPorts"] = p.into();
                    }
                } else if protocol.is_null() && rare == 5 {
                    rule["notProtocol"] = "UDP".into();
                }
                if rare == 4 {
                    // An HTTP match: an Allow's is filtered at L7, a Deny's or Pass's unknown.
                    rule["http"] = serde_json::json!({"methods": ["GET"]});
                }
                rule["destination"] = destination;
                rule
            },
        )
}

/// The Calico tiers of their own of every generated world: before the admin tier, between
/// it and the default tier (defaultAction Pass), between the default and baseline tiers,
/// after every tier (Pass), and one tied with the default tier (its policies unknown).
pub fn calico_tiers() -> Vec<CalicoTier> {
    let tier = |name: &str, order: Option<f64>, default_action| CalicoTier {
        name: name.into(),
        order: order.map(Order),
        default_action,
    };
    vec![
        tier("sec", Some(100.0), Action::Deny),
        tier("mid", Some(5000.0), Action::Pass),
        tier("late", Some(5e6), Action::Deny),
        tier("last", None, Action::Pass),
        tier("tied", Some(1e6), Action::Deny),
    ]
}

/// The NetworkSets, GlobalNetworkSets and HostEndpoints of every generated world: they hold
/// some of the outside addresses and a node address of [`endpoints`] (whose node the
/// HostEndpoint then protects), one may hold
/// addresses it does not list, and namespaced ones are selected by their namespace's labels
/// (which a reader may not see).
pub fn calico_sets() -> Vec<CalicoAddressSet> {
    let set = |kind: &str,
               namespace: Option<&str>,
               name: &str,
               labels: &[(&str, &str)],
               nets: &[&str],
               open: bool| {
        CalicoAddressSet {
            kind: kind.into(),
            namespace: namespace.map(str::to_string),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            nets: nets.iter().map(|n| n.parse().unwrap()).collect(),
            open,
            // A HostEndpoint protects node1: its own traffic and its host-network pods'.
            node: (kind == "HostEndpoint").then(|| "node1".to_string()),
        }
    };
    vec![
        set(
            "GlobalNetworkSet",
            None,
            "g-a",
            &[("app", "a")],
            &["8.8.8.0/24"],
            false,
        ),
        set(
            "NetworkSet",
            Some("ns1"),
            "n-b",
            &[("app", "b"), ("tier", "x")],
            &["10.0.1.0/24"],
            false,
        ),
        set(
            "NetworkSet",
            Some("ns0"),
            "n-all",
            &[],
            &["fd00::/64"],
            false,
        ),
        set(
            "HostEndpoint",
            None,
            "h1",
            &[("tier", "n")],
            &["192.168.0.2/32"],
            false,
        ),
        set(
            "GlobalNetworkSet",
            None,
            "g-open",
            &[("env", "c")],
            &[],
            true,
        ),
    ]
}

/// The tiers a generated Calico policy may be in: mostly the default one; `ghost` has no
/// Tier object.
const CALICO_TIER_NAMES: [&str; 10] = [
    "default", "default", "default", "default", "sec", "mid", "late", "last", "tied", "ghost",
];

/// A Calico policy with rules, compiled from JSON: any order (around the NetworkPolicies'
/// 1000, at it, or none), mostly of the default tier, some of the tiers of
/// [`calico_tiers`] or of a tier with no Tier object.
pub fn calico_policy(i: usize) -> impl Strategy<Value = TierPolicy> {
    (
        prop::option::of(prop::sample::select(NAMESPACES.to_vec())),
        prop::sample::select(CALICO_SELECTORS.to_vec()),
        prop::option::of(prop::sample::select(vec![
            "env == 'a'",
            "projectcalico.org/name == 'ns0'",
            "all()",
        ])),
        (any::<bool>(), any::<bool>()),
        prop::sample::select(vec![
            None,
            Some(50.0),
            Some(700.5),
            Some(1000.0),
            Some(1500.0),
        ]),
        (0..10u8, prop::sample::select(CALICO_TIER_NAMES.to_vec())),
        prop::collection::vec(calico_rule(), 0..3),
        prop::collection::vec(calico_rule(), 0..3),
    )
        .prop_map(
            move |(
                namespace,
                selector,
                namespaces,
                (ingress, egress),
                order,
                (rare, tier),
                ins,
                outs,
            )| {
                let types: Vec<&str> = [ingress.then_some("Ingress"), egress.then_some("Egress")]
                    .into_iter()
                    .flatten()
                    .collect();
                let namespaces = if namespace.is_none() {
                    namespaces
                } else {
                    None
                };
                let name = if tier == "default" {
                    format!("k{i}")
                } else {
                    format!("{tier}.k{i}")
                };
                let mut spec = serde_json::json!({
                    "selector": selector, "namespaceSelector": namespaces, "types": types,
                    "tier": tier, "ingress": ins, "egress": outs,
                });
                if let Some(o) = order {
                    spec["order"] = o.into();
                }
                if rare == 1 {
                    spec["serviceAccountSelector"] = "role == 'x'".into();
                }
                if rare == 2 {
                    spec["serviceAccountSelector"] = "role == 'robot'".into();
                }
                let object: netpol_tui::policy::calico::CalicoObject =
                    serde_json::from_value(serde_json::json!({
                        "metadata": {"name": name},
                        "spec": spec,
                    }))
                    .unwrap();
                netpol_tui::policy::calico::compile_calico_policy(
                    &object,
                    namespace,
                    Default::default(),
                )
                .unwrap()
            },
        )
}

/// A tiered world with Cilium policies too (allow parts among the NetworkPolicies, deny
/// parts in the Cilium tier) and Calico policies, and the same world with some namespaces'
/// labels hidden.
/// Services forbidden in the namespaces `hidden` says (gone, and said unread), and where
/// `slices`, the EndpointSlices of every Service unread.
fn hide_services(partial: &mut Inventory, hidden: &[bool], slices: bool) {
    for (ns, &hide) in partial.namespaces.iter_mut().zip(hidden) {
        ns.services_known = !hide;
    }
    let unread: Vec<String> = partial
        .namespaces
        .iter()
        .filter(|n| !n.services_known)
        .map(|n| n.name.clone())
        .collect();
    partial.services.retain(|s| !unread.contains(&s.namespace));
    if slices {
        for s in &mut partial.services {
            s.endpoints = None;
        }
    }
}

pub fn partly_known_cilium_world(
) -> impl Strategy<Value = (Inventory, Inventory, Vec<Policy>, Vec<TierPolicy>)> {
    let cilium = (0..4usize).prop_flat_map(|n| (0..n).map(cilium_policy).collect::<Vec<_>>());
    let denies = (0..3usize).prop_flat_map(|n| (0..n).map(cilium_deny).collect::<Vec<_>>());
    let calico = (0..3usize).prop_flat_map(|n| (0..n).map(calico_policy).collect::<Vec<_>>());
    let services = (
        prop::collection::vec(prop::bool::weighted(0.2), NAMESPACES.len()),
        prop::bool::weighted(0.3),
    );
    (
        partly_known_tiered_world(),
        cilium,
        denies,
        calico,
        services,
    )
        .prop_map(
            |(
                (full, mut partial, mut policies, mut tiers),
                cilium,
                denies,
                calico,
                (hidden, slices),
            )| {
                hide_services(&mut partial, &hidden, slices);
                policies.extend(cilium);
                tiers.extend(denies);
                tiers.extend(calico);
                (full, partial, policies, tiers)
            },
        )
}
