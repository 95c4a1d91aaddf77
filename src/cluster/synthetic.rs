//! A deterministic generator of large clusters for benchmarks: namespaces with team and
//! environment labels, Deployments whose pods share labels, StatefulSets whose pods each
//! carry a unique `statefulset.kubernetes.io/pod-name` label (so grouping has real
//! work to do), named container ports, and policies mixing every peer kind.
//!
//! Same parameters and seed, same world.

use std::net::{IpAddr, Ipv4Addr};

use crate::policy::model::{
    ContainerPort, Inventory, IpBlock, Labels, Namespace, NamespaceScope, Node, Peer, Pod, Policy,
    PortMatch, PortSpec, Protocol, Rule, NAMESPACE_NAME_LABEL,
};
use crate::policy::selector::{Operator, Requirement, Selector};
use crate::policy::set::PolicySet;

use super::World;

#[derive(Debug, Clone, Copy)]
pub struct Shape {
    pub namespaces: usize,
    pub pods: usize,
    pub policies: usize,
    pub nodes: usize,
    pub seed: u64,
}

impl Shape {
    /// Roughly 50 pods and 10 policies a namespace, as in a large multi-team cluster.
    pub fn new(pods: usize, policies: usize) -> Shape {
        Shape {
            namespaces: (pods / 50).max(1),
            pods,
            policies,
            nodes: (pods / 30).max(1),
            seed: 42,
        }
    }
}

const ENVS: [&str; 3] = ["prod", "staging", "dev"];

/// What an app serves: its name, labels besides `app`, and container ports.
struct AppKind {
    role: &'static str,
    ports: &'static [(&'static str, u16, Protocol)],
}

const KINDS: [AppKind; 6] = [
    AppKind {
        role: "web",
        ports: &[
            ("http", 8080, Protocol::Tcp),
            ("metrics", 9090, Protocol::Tcp),
        ],
    },
    AppKind {
        role: "api",
        ports: &[
            ("http", 8000, Protocol::Tcp),
            ("grpc", 9000, Protocol::Tcp),
            ("metrics", 9090, Protocol::Tcp),
        ],
    },
    AppKind {
        role: "db",
        ports: &[("postgres", 5432, Protocol::Tcp)],
    },
    AppKind {
        role: "cache",
        ports: &[("redis", 6379, Protocol::Tcp)],
    },
    AppKind {
        role: "dns",
        ports: &[("dns", 53, Protocol::Udp), ("dns-tcp", 53, Protocol::Tcp)],
    },
    AppKind {
        role: "worker",
        ports: &[],
    },
];

fn labels(pairs: &[(&str, String)]) -> Labels {
    pairs
        .iter()
        .map(|(k, v)| (k.to_string(), v.clone()))
        .collect()
}

fn eq(key: &str, value: &str) -> Requirement {
    Requirement {
        key: key.into(),
        op: Operator::In(vec![value.into()]),
    }
}

pub fn generate(shape: Shape) -> World {
    let mut rng = fastrand::Rng::with_seed(shape.seed);
    let namespaces: Vec<Namespace> = (0..shape.namespaces)
        .map(|i| {
            let name = format!("ns-{i:04}");
            Namespace {
                labels: labels(&[
                    (NAMESPACE_NAME_LABEL, name.clone()),
                    ("team", format!("team-{}", i % 40)),
                    ("env", ENVS[i % 3].to_string()),
                ]),
                name,
                implicit: false,
                labels_known: true,
                policies_known: true,
                services_known: true,
            }
        })
        .collect();
    let nodes: Vec<Node> = (0..shape.nodes)
        .map(|i| Node {
            name: format!("node-{i:04}"),
            addresses: vec![IpAddr::V4(Ipv4Addr::new(
                172,
                16,
                (i / 250) as u8,
                (i % 250 + 1) as u8,
            ))],
            labels: Labels::new(),
        })
        .collect();

    // Apps per namespace; each app's pods are replicas (shared labels) or stateful
    // members (a unique pod-name label each).
    let mut pods = Vec::with_capacity(shape.pods);
    let mut apps: Vec<Vec<(String, usize)>> = vec![Vec::new(); shape.namespaces];
    let mut app_counter = 0usize;
    while pods.len() < shape.pods {
        let ns = app_counter % shape.namespaces;
        let kind = &KINDS[rng.usize(..KINDS.len())];
        let app = format!("{}-{}", kind.role, app_counter / shape.namespaces);
        let stateful = kind.role == "db" || kind.role == "cache";
        let replicas = if stateful {
            rng.usize(1..=3)
        } else {
            rng.usize(1..=6)
        };
        let version = format!("v{}", rng.usize(1..=3));
        for r in 0..replicas {
            if pods.len() >= shape.pods {
                break;
            }
            let id = pods.len();
            let mut l = labels(&[
                ("app", app.clone()),
                ("role", kind.role.to_string()),
                ("version", version.clone()),
            ]);
            let name = if stateful {
                let n = format!("{app}-{r}");
                l.insert("statefulset.kubernetes.io/pod-name".into(), n.clone());
                n
            } else {
                l.insert(
                    "pod-template-hash".into(),
                    format!("{:x}", app_counter * 7919 % 65521),
                );
                format!("{app}-{:05x}", rng.u32(..0xfffff))
            };
            pods.push(Pod {
                namespace: namespaces[ns].name.clone(),
                name,
                labels: l,
                ips: vec![IpAddr::V4(Ipv4Addr::new(
                    10,
                    (id >> 16) as u8 | 64,
                    (id >> 8) as u8,
                    id as u8,
                ))],
                node: Some(nodes[rng.usize(..nodes.len())].name.clone()),
                host_network: false,
                ports: kind
                    .ports
                    .iter()
                    .map(|(n, p, proto)| ContainerPort {
                        name: Some(n.to_string()),
                        port: *p,
                        protocol: *proto,
                    })
                    .collect(),
                workload: Some(if stateful {
                    format!("StatefulSet/{app}")
                } else {
                    format!("Deployment/{app}")
                }),
                template: false,
                service_account: None,
                account_labels: None,
                origin: Default::default(),
            });
        }
        apps[ns].push((
            app,
            KINDS.iter().position(|k| k.role == kind.role).unwrap_or(0),
        ));
        app_counter += 1;
    }

    let dns_egress = Rule {
        peers: vec![Peer::Pods {
            pods: Selector::new(vec![eq("role", "dns")]),
            namespaces: NamespaceScope::Selector(Selector::everything()),
        }],
        ports: vec![
            PortSpec {
                protocol: Protocol::Udp,
                port: PortMatch::Range { from: 53, to: 53 },
            },
            PortSpec {
                protocol: Protocol::Tcp,
                port: PortMatch::Range { from: 53, to: 53 },
            },
        ],
    };
    let internet = IpBlock {
        cidr: v4net([0, 0, 0, 0], 0),
        except: vec![
            v4net([10, 0, 0, 0], 8),
            v4net([172, 16, 0, 0], 12),
            v4net([192, 168, 0, 0], 16),
        ],
    };

    let mut policies = Vec::with_capacity(shape.policies);
    let mut per_ns = vec![0usize; shape.namespaces];
    while policies.len() < shape.policies {
        let ns = policies.len() % shape.namespaces;
        let n = per_ns[ns];
        per_ns[ns] += 1;
        let namespace = namespaces[ns].name.clone();
        let ns_apps = &apps[ns];
        let pick = |rng: &mut fastrand::Rng| ns_apps[rng.usize(..ns_apps.len())].clone();
        let policy = match n {
            0 if ns % 2 == 0 => Policy {
                namespace,
                name: "default-deny".into(),
                pod_selector: Selector::everything(),
                ingress: Some(vec![]),
                egress: Some(vec![dns_egress.clone()]),
                warnings: vec![],
                origin: Default::default(),
                manifest: None,
                cilium: None,
            },
            _ if ns_apps.is_empty() => Policy {
                namespace,
                name: format!("allow-same-namespace-{n}"),
                pod_selector: Selector::everything(),
                ingress: Some(vec![Rule {
                    peers: vec![Peer::Pods {
                        pods: Selector::everything(),
                        namespaces: NamespaceScope::PolicyNamespace,
                    }],
                    ports: vec![],
                }]),
                egress: None,
                warnings: vec![],
                origin: Default::default(),
                manifest: None,
                cilium: None,
            },
            _ => {
                let (target, kind) = pick(&mut rng);
                let (client, _) = pick(&mut rng);
                let ports: Vec<PortSpec> = KINDS[kind]
                    .ports
                    .iter()
                    .take(1)
                    .map(|(name, port, proto)| PortSpec {
                        protocol: *proto,
                        port: if rng.bool() {
                            PortMatch::Named {
                                name: name.to_string(),
                            }
                        } else {
                            PortMatch::Range {
                                from: *port,
                                to: *port,
                            }
                        },
                    })
                    .collect();
                let same_ns = Peer::Pods {
                    pods: Selector::new(vec![eq("app", &client)]),
                    namespaces: NamespaceScope::PolicyNamespace,
                };
                let team_and_role = Peer::Pods {
                    pods: Selector::new(vec![Requirement {
                        key: "role".into(),
                        op: Operator::In(vec!["web".into(), "api".into()]),
                    }]),
                    namespaces: NamespaceScope::Selector(Selector::new(vec![eq(
                        "team",
                        &format!("team-{}", rng.usize(..40)),
                    )])),
                };
                let env_only = Peer::Pods {
                    pods: Selector::everything(),
                    namespaces: NamespaceScope::Selector(Selector::new(vec![
                        eq("env", ENVS[rng.usize(..3)]),
                        Requirement {
                            key: "team".into(),
                            op: Operator::Exists,
                        },
                    ])),
                };
                let monitoring = Peer::Pods {
                    pods: Selector::new(vec![Requirement {
                        key: "version".into(),
                        op: Operator::NotIn(vec!["v1".into()]),
                    }]),
                    namespaces: NamespaceScope::Selector(Selector::new(vec![eq("env", "prod")])),
                };
                let second = 64 + rng.u8(..4);
                let office = IpBlock {
                    cidr: v4net([10, second, 0, 0], 16),
                    except: vec![v4net([10, second, rng.u8(..), 0], 24)],
                };
                let ingress = vec![
                    Rule {
                        peers: vec![same_ns, team_and_role],
                        ports: ports.clone(),
                    },
                    Rule {
                        peers: vec![env_only, monitoring],
                        ports: vec![PortSpec {
                            protocol: Protocol::Tcp,
                            port: PortMatch::Range {
                                from: 9000,
                                to: 9100,
                            },
                        }],
                    },
                    Rule {
                        peers: vec![Peer::IpBlock(office)],
                        ports,
                    },
                ];
                let egress = (n % 3 == 0).then(|| {
                    vec![
                        dns_egress.clone(),
                        Rule {
                            peers: vec![Peer::IpBlock(internet.clone())],
                            ports: vec![PortSpec {
                                protocol: Protocol::Tcp,
                                port: PortMatch::Range { from: 443, to: 443 },
                            }],
                        },
                    ]
                });
                Policy {
                    namespace,
                    name: format!("allow-{target}-{n}"),
                    pod_selector: Selector::new(vec![eq("app", &target)]),
                    ingress: Some(ingress),
                    egress,
                    warnings: vec![],
                    origin: Default::default(),
                    manifest: None,
                    cilium: None,
                }
            }
        };
        policies.push(policy);
    }
    let mut inventory = Inventory {
        namespaces,
        pods,
        nodes,
        services: Vec::new(),
        service_accounts: Vec::new(),
        nodes_known: true,
        hidden: Vec::new(),
    };
    inventory.normalize();
    World::new(inventory, PolicySet::new(policies))
}

fn v4net(octets: [u8; 4], prefix: u8) -> ipnet::IpNet {
    ipnet::IpNet::V4(ipnet::Ipv4Net::new_assert(Ipv4Addr::from(octets), prefix))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn generation_is_deterministic_and_sized() {
        let a = generate(Shape::new(1000, 200));
        let b = generate(Shape::new(1000, 200));
        assert_eq!(a.inventory, b.inventory);
        assert_eq!(a.policies, b.policies);
        assert_eq!(a.inventory.pods.len(), 1000);
        assert_eq!(a.policies.policies.len(), 200);
        let mut keys: Vec<String> = a.inventory.pods.iter().map(|p| p.key()).collect();
        keys.dedup();
        assert_eq!(keys.len(), 1000, "pod names are unique");
    }
}

/// The world as Kubernetes manifests (Namespaces, Pods, NetworkPolicies; YAML documents),
/// for benchmarks of the command line on files. Loading them gives the same world back.
pub fn manifests(world: &World, out: &mut dyn std::io::Write) -> std::io::Result<()> {
    use k8s_openapi::api::core::v1 as core;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
    let meta = |namespace: Option<&str>, name: &str, labels: &Labels| ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: (!labels.is_empty()).then(|| labels.clone()),
        ..ObjectMeta::default()
    };
    let mut doc = |value: &dyn erased::Manifest| -> std::io::Result<()> {
        out.write_all(b"---\n")?;
        out.write_all(value.yaml()?.as_bytes())
    };
    for ns in &world.inventory.namespaces {
        doc(&core::Namespace {
            metadata: meta(None, &ns.name, &ns.labels),
            ..core::Namespace::default()
        })?;
    }
    for p in &world.inventory.pods {
        let ports: Vec<core::ContainerPort> = p
            .ports
            .iter()
            .map(|cp| core::ContainerPort {
                name: cp.name.clone(),
                container_port: i32::from(cp.port),
                protocol: Some(cp.protocol.to_string()),
                ..core::ContainerPort::default()
            })
            .collect();
        let ips: Vec<core::PodIP> = p
            .ips
            .iter()
            .map(|ip| core::PodIP { ip: ip.to_string() })
            .collect();
        let mut metadata = meta(Some(&p.namespace), &p.name, &p.labels);
        // The controller, as the workload's own kind (loading reads it back as the workload).
        metadata.owner_references = p.workload.as_ref().and_then(|w| {
            let (kind, name) = w.split_once('/')?;
            Some(vec![
                k8s_openapi::apimachinery::pkg::apis::meta::v1::OwnerReference {
                    api_version: "apps/v1".into(),
                    kind: kind.into(),
                    name: name.into(),
                    uid: format!("uid-{}-{name}", p.namespace),
                    controller: Some(true),
                    ..Default::default()
                },
            ])
        });
        doc(&core::Pod {
            metadata,
            spec: Some(core::PodSpec {
                node_name: p.node.clone(),
                host_network: p.host_network.then_some(true),
                containers: vec![core::Container {
                    name: "main".into(),
                    image: Some("registry.example/app:1".into()),
                    ports: (!ports.is_empty()).then_some(ports),
                    ..core::Container::default()
                }],
                ..core::PodSpec::default()
            }),
            status: Some(core::PodStatus {
                pod_ip: p.ips.first().map(|ip| ip.to_string()),
                pod_ips: (!ips.is_empty()).then_some(ips),
                phase: Some("Running".into()),
                ..core::PodStatus::default()
            }),
        })?;
    }
    // Cilium policies have no NetworkPolicy manifest: the synthetic worlds hold none.
    for p in world
        .policies
        .policies
        .iter()
        .filter(|p| p.cilium.is_none())
    {
        doc(&policy_manifest(p))?;
    }
    Ok(())
}

/// A policy of the model as the NetworkPolicy it came from (selectors as matchExpressions).
/// Peers that only Cilium policies hold have no NetworkPolicy form and are left out.
pub fn policy_manifest(p: &Policy) -> k8s_openapi::api::networking::v1::NetworkPolicy {
    use k8s_openapi::api::networking::v1 as net;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
        LabelSelector, LabelSelectorRequirement, ObjectMeta,
    };
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let selector = |s: &Selector| LabelSelector {
        match_labels: None,
        match_expressions: (!s.requirements().is_empty()).then(|| {
            s.requirements()
                .iter()
                .map(|r| {
                    let (operator, values) = match &r.op {
                        Operator::In(v) => ("In", Some(v.clone())),
                        Operator::NotIn(v) => ("NotIn", Some(v.clone())),
                        Operator::Exists => ("Exists", None),
                        Operator::DoesNotExist => ("DoesNotExist", None),
                    };
                    LabelSelectorRequirement {
                        key: r.key.clone(),
                        operator: operator.into(),
                        values,
                    }
                })
                .collect()
        }),
    };
    let peer = |peer: &Peer| match peer {
        Peer::Entity(_)
        | Peer::Outside(_)
        | Peer::Domains(_)
        | Peer::Services(_)
        | Peer::Unjudged(_) => None,
        Peer::Pods { pods, namespaces } => Some(net::NetworkPolicyPeer {
            pod_selector: Some(selector(pods)),
            namespace_selector: match namespaces {
                NamespaceScope::PolicyNamespace => None,
                NamespaceScope::Selector(s) => Some(selector(s)),
            },
            ip_block: None,
        }),
        Peer::IpBlock(b) => Some(net::NetworkPolicyPeer {
            ip_block: Some(net::IPBlock {
                cidr: b.cidr.to_string(),
                except: (!b.except.is_empty())
                    .then(|| b.except.iter().map(|e| e.to_string()).collect()),
            }),
            ..net::NetworkPolicyPeer::default()
        }),
    };
    let port = |spec: &PortSpec| {
        let (port, end_port) = match &spec.port {
            PortMatch::Any => (None, None),
            PortMatch::Range { from, to } if from == to => {
                (Some(IntOrString::Int(i32::from(*from))), None)
            }
            PortMatch::Range { from, to } => (
                Some(IntOrString::Int(i32::from(*from))),
                Some(i32::from(*to)),
            ),
            PortMatch::Named { name } => (Some(IntOrString::String(name.clone())), None),
        };
        net::NetworkPolicyPort {
            protocol: Some(spec.protocol.to_string()),
            port,
            end_port,
        }
    };
    let parts = |r: &Rule| {
        (
            (!r.peers.is_empty()).then(|| r.peers.iter().filter_map(peer).collect()),
            (!r.ports.is_empty()).then(|| r.ports.iter().map(port).collect()),
        )
    };
    let mut types = Vec::new();
    if p.ingress.is_some() {
        types.push("Ingress".to_string());
    }
    if p.egress.is_some() {
        types.push("Egress".to_string());
    }
    net::NetworkPolicy {
        metadata: ObjectMeta {
            name: Some(p.name.clone()),
            namespace: Some(p.namespace.clone()),
            ..ObjectMeta::default()
        },
        spec: Some(net::NetworkPolicySpec {
            pod_selector: Some(selector(&p.pod_selector)),
            policy_types: Some(types),
            ingress: p.ingress.as_ref().map(|rules| {
                rules
                    .iter()
                    .map(parts)
                    .map(|(from, ports)| net::NetworkPolicyIngressRule { from, ports })
                    .collect()
            }),
            egress: p.egress.as_ref().map(|rules| {
                rules
                    .iter()
                    .map(parts)
                    .map(|(to, ports)| net::NetworkPolicyEgressRule { to, ports })
                    .collect()
            }),
        }),
    }
}

mod erased {
    /// A Kubernetes object that prints itself as YAML, with its kind and apiVersion.
    pub trait Manifest {
        fn yaml(&self) -> std::io::Result<String>;
    }

    impl<K: k8s_openapi::Resource + serde::Serialize> Manifest for K {
        fn yaml(&self) -> std::io::Result<String> {
            let mut value = serde_yaml::to_value(self).map_err(std::io::Error::other)?;
            if let serde_yaml::Value::Mapping(m) = &mut value {
                m.insert("apiVersion".into(), K::API_VERSION.into());
                m.insert("kind".into(), K::KIND.into());
            }
            serde_yaml::to_string(&value).map_err(std::io::Error::other)
        }
    }
}
