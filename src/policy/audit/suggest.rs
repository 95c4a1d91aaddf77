//! The fix: for flows the staged policies would break, the smallest allow rules that keep
//! them, as NetworkPolicy objects ready to apply. On each side the staged world denies (the
//! destination's ingress, the source's egress), one policy per workload and direction selects
//! the workload by its stable labels, and each rule names its peer with a namespace AND pod
//! selector in one entry (never two entries, which would be OR), or an address as a /32 (/128)
//! ipBlock, and its ports by number, or by name where the destination declares one.

use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use super::declared::{self, DeclaredRow};
use super::{stage_manifest, Audit, Delta, ObservedGroup, Staged};
use crate::policy::engine::{Endpoint, Flow, Side};
use crate::policy::model::{Direction, Labels, Protocol, NAMESPACE_NAME_LABEL};
use crate::policy::workload::Workload;
use crate::policy::workload::Workloads;

/// A suggested policy and the flows it keeps.
#[derive(Debug, Clone)]
pub struct Suggested {
    pub manifest: net::NetworkPolicy,
    /// `keeps Deployment a/x -> Deployment a/y TCP/8080`, one line per flow group.
    pub keeps: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct Suggestion {
    pub policies: Vec<Suggested>,
    /// What no rule could be written for, and why.
    pub notes: Vec<String>,
}

impl Suggestion {
    /// The suggested policies as staged changes, to judge them with the rest.
    pub fn staged(&self) -> Vec<Staged> {
        self.policies
            .iter()
            .filter_map(|s| stage_manifest(&s.manifest, "suggested").ok())
            .collect()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Peer {
    /// A workload id.
    Workload(u32),
    Cidr(IpNet),
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum PortRef {
    Number(u16),
    Name(String),
}

/// The policy for one workload and direction, being written.
#[derive(Default)]
struct Draft {
    rules: BTreeMap<Peer, BTreeSet<(Protocol, PortRef)>>,
    keeps: BTreeSet<String>,
}

fn host_net(ip: IpAddr) -> IpNet {
    IpNet::from(ip)
}

/// Suggests policies that keep every flow of `needs` (example flows of what would break).
pub fn suggest(audit: &Audit, workloads: &Workloads, needs: &[Flow]) -> Suggestion {
    let inv = audit.current.inventory();
    let mut drafts: BTreeMap<(u32, Direction), Draft> = BTreeMap::new();
    let mut notes = BTreeSet::new();
    let describe = |e: &Endpoint| match e {
        Endpoint::Pod { pod, .. } => workloads.of(*pod).describe(),
        other => crate::policy::explain::endpoint_name(inv, other),
    };
    // The address a non-pod end is seen with.
    let address = |e: &Endpoint| -> Option<IpAddr> {
        match *e {
            Endpoint::External(ip) => Some(ip),
            Endpoint::Node { addr: Some(ip), .. } => Some(ip),
            Endpoint::Node { node, addr: None } => {
                inv.nodes[node as usize].addresses.first().copied()
            }
            Endpoint::Pod { .. } => None,
        }
    };
    // A destination pod's name for the port, where all pods of its workload declare one.
    let port_ref = |dst: &Endpoint, protocol: Protocol, port: u16| -> PortRef {
        let Endpoint::Pod { pod, .. } = dst else {
            return PortRef::Number(port);
        };
        let w = workloads.of(*pod);
        let name_on = |p: &u32| {
            inv.pods[*p as usize]
                .ports
                .iter()
                .find(|cp| cp.protocol == protocol && cp.port == port)
                .and_then(|cp| cp.name.clone())
        };
        let first = name_on(&w.pods[0]);
        match first {
            Some(name) if w.pods.iter().all(|p| name_on(p).as_ref() == Some(&name)) => {
                PortRef::Name(name)
            }
            _ => PortRef::Number(port),
        }
    };
    let peer_of = |e: &Endpoint| -> Option<Peer> {
        match e {
            Endpoint::Pod { pod, .. } => Some(Peer::Workload(workloads.of_pod[*pod as usize])),
            other => address(other).map(|ip| Peer::Cidr(host_net(ip))),
        }
    };
    for flow in needs {
        let staged = audit.staged.verdict(flow);
        let keeps = format!(
            "keeps {} -> {} {}/{}",
            describe(&flow.src),
            describe(&flow.dst),
            flow.protocol,
            flow.port
        );
        for (side, direction, subject, other) in [
            (&staged.ingress, Direction::Ingress, &flow.dst, &flow.src),
            (&staged.egress, Direction::Egress, &flow.src, &flow.dst),
        ] {
            if !matches!(side, Side::Denied { .. }) {
                continue;
            }
            let Endpoint::Pod { pod, .. } = subject else {
                continue;
            };
            let w = workloads.of_pod[*pod as usize];
            let Some(peer) = peer_of(other) else {
                notes.insert(format!("{keeps}: the other end has no address to name"));
                continue;
            };
            let draft = drafts.entry((w, direction)).or_default();
            draft
                .rules
                .entry(peer)
                .or_default()
                .insert((flow.protocol, port_ref(&flow.dst, flow.protocol, flow.port)));
            draft.keeps.insert(keeps.clone());
        }
    }

    let mut taken: BTreeSet<(String, String)> = audit
        .current
        .policies()
        .policies
        .iter()
        .chain(audit.staged.policies().policies.iter())
        .map(|p| (p.namespace.clone(), p.name.clone()))
        .collect();
    let mut policies = Vec::new();
    for ((w, direction), draft) in drafts {
        let subject = &workloads.list[w as usize];
        if subject.labels.is_empty() {
            notes.insert(format!(
                "{}: its pods share no stable label, so no policy can select it alone; label \
                 it, then run the audit again ({})",
                subject.describe(),
                draft.keeps.iter().cloned().collect::<Vec<_>>().join("; ")
            ));
            continue;
        }
        let mut rules = Vec::new();
        for (peer, ports) in &draft.rules {
            let peer = match peer {
                Peer::Workload(p) => {
                    let pw = &workloads.list[*p as usize];
                    if pw.labels.is_empty() {
                        notes.insert(format!(
                            "{}: its pods share no stable label, so no rule can name it alone; \
                             label it, then run the audit again",
                            pw.describe()
                        ));
                        continue;
                    }
                    net::NetworkPolicyPeer {
                        namespace_selector: Some(match_labels(
                            [(NAMESPACE_NAME_LABEL.to_string(), pw.namespace.clone())]
                                .into_iter()
                                .collect(),
                        )),
                        pod_selector: Some(match_labels(pw.labels.clone())),
                        ip_block: None,
                    }
                }
                Peer::Cidr(net) => net::NetworkPolicyPeer {
                    ip_block: Some(net::IPBlock {
                        cidr: net.to_string(),
                        except: None,
                    }),
                    ..net::NetworkPolicyPeer::default()
                },
            };
            let ports: Vec<net::NetworkPolicyPort> = ports
                .iter()
                .map(|(protocol, port)| net::NetworkPolicyPort {
                    protocol: Some(protocol.as_str().to_string()),
                    port: Some(match port {
                        PortRef::Number(n) => IntOrString::Int(i32::from(*n)),
                        PortRef::Name(name) => IntOrString::String(name.clone()),
                    }),
                    end_port: None,
                })
                .collect();
            rules.push((peer, ports));
        }
        if rules.is_empty() {
            continue;
        }
        let base = match direction {
            Direction::Ingress => format!("allow-ingress-to-{}", subject.name),
            Direction::Egress => format!("allow-egress-from-{}", subject.name),
        };
        let name = unique_name(&base, &subject.namespace, &mut taken);
        let mut spec = net::NetworkPolicySpec {
            pod_selector: Some(match_labels(subject.labels.clone())),
            ..net::NetworkPolicySpec::default()
        };
        match direction {
            Direction::Ingress => {
                spec.policy_types = Some(vec!["Ingress".into()]);
                spec.ingress = Some(
                    rules
                        .into_iter()
                        .map(|(peer, ports)| net::NetworkPolicyIngressRule {
                            from: Some(vec![peer]),
                            ports: Some(ports),
                        })
                        .collect(),
                );
            }
            Direction::Egress => {
                spec.policy_types = Some(vec!["Egress".into()]);
                spec.egress = Some(
                    rules
                        .into_iter()
                        .map(|(peer, ports)| net::NetworkPolicyEgressRule {
                            to: Some(vec![peer]),
                            ports: Some(ports),
                        })
                        .collect(),
                );
            }
        }
        policies.push(Suggested {
            manifest: net::NetworkPolicy {
                metadata: ObjectMeta {
                    name: Some(name),
                    namespace: Some(subject.namespace.clone()),
                    ..ObjectMeta::default()
                },
                spec: Some(spec),
            },
            keeps: draft.keeps.into_iter().collect(),
        });
    }
    Suggestion {
        policies,
        notes: notes.into_iter().collect(),
    }
}

/// What the suggestions leave undone, and what they do besides.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Check {
    /// Observed groups that would still break (some flow of them).
    pub observed_breaks: usize,
    /// Declared rows that would still break.
    pub declared_breaks: usize,
    /// Declared rows newly allowed with the suggestions that the staged changes alone do not
    /// allow: what the suggestions open beyond what they were asked to keep.
    pub opened: Vec<DeclaredRow>,
}

/// Judges `changes` with the suggestions staged too, against the current policies.
pub fn check(
    audit: &Audit,
    changes: &[Staged],
    workloads: &Workloads,
    suggestion: &Suggestion,
    observed: Option<&[ObservedGroup]>,
    keep: impl Fn(&Workload, &Workload) -> bool,
) -> Check {
    let mut all = changes.to_vec();
    all.extend(suggestion.staged());
    let fixed = Audit::new(audit.current.clone(), &all);
    let observed_breaks = observed
        .unwrap_or_default()
        .iter()
        .filter(|g| g.delta == Delta::WouldBreak)
        .filter(|g| {
            g.examples.iter().any(|f| {
                let (now, then) = fixed.judge(f);
                Delta::between(&now, &then) == Some(Delta::WouldBreak)
            })
        })
        .count();
    let mut allowed_already = BTreeSet::new();
    declared::diff(audit, workloads, &keep, |r| {
        if r.delta == Delta::WouldAllow {
            allowed_already.insert(r);
        }
    });
    let mut check = Check {
        observed_breaks,
        ..Check::default()
    };
    declared::diff(&fixed, workloads, &keep, |r| match r.delta {
        Delta::WouldBreak => check.declared_breaks += 1,
        Delta::WouldAllow if !allowed_already.contains(&r) => check.opened.push(r),
        Delta::WouldAllow => {}
    });
    check
}

fn match_labels(labels: Labels) -> LabelSelector {
    LabelSelector {
        match_labels: Some(labels),
        match_expressions: None,
    }
}

/// `base` made a valid object name (lower case letters, digits and dashes, at most 63
/// characters) that no policy of the namespace has yet.
fn unique_name(base: &str, namespace: &str, taken: &mut BTreeSet<(String, String)>) -> String {
    let mut clean: String = base
        .chars()
        .map(|c| {
            let c = c.to_ascii_lowercase();
            if c.is_ascii_alphanumeric() {
                c
            } else {
                '-'
            }
        })
        .collect();
    clean.truncate(58);
    let clean = clean.trim_matches('-').to_string();
    let mut name = clean.clone();
    let mut n = 2;
    while taken.contains(&(namespace.to_string(), name.clone())) {
        name = format!("{clean}-{n}");
        n += 1;
    }
    taken.insert((namespace.to_string(), name.clone()));
    name
}
