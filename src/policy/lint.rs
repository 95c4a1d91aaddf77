//! Likely mistakes, found in one pass over the world, each with the policy, the rule and a
//! fix in one line: what the compiler noticed (OR written where AND was meant, rules that
//! policyTypes leaves out), selectors that match nothing, egress isolation that forgets DNS,
//! egress to everything that keeps the cloud metadata address open, named ports no selected
//! pod declares, and the tiers' own (a Pass that leads nowhere, rules a higher tier shadows).
//!
//! Pure: no I/O.

use serde::Serialize;

use super::engine::{Endpoint, Flow, Index, PodId, PolicyId, Side};
use super::model::{Direction, NamespaceScope, Peer, PortMatch, Protocol};

/// One mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `ns/name`, `Kind/name` for a tier policy, or `namespace NS`.
    pub object: String,
    /// What is wrong, naming the rule where there is one.
    pub what: String,
    /// The change that fixes it, in one line.
    pub fix: String,
    /// The pods it breaks (`ns/name`), where it breaks some pods rather than a policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
}

/// The cloud metadata address an egress rule to everything leaves open.
const METADATA: &str = "169.254.169.254";

/// Every problem of the world: per NetworkPolicy (in namespace and name order), per
/// namespace (DNS), per tier policy.
pub fn lint(index: &Index) -> Vec<Problem> {
    let mut out = Vec::new();
    for id in 0..index.policies().policies.len() as PolicyId {
        let policy = &index.policies().policies[id as usize];
        out.extend(
            policy_problems(index, id)
                .into_iter()
                .map(|(what, fix)| Problem {
                    object: policy.key(),
                    what,
                    fix,
                    pods: Vec::new(),
                }),
        );
    }
    out.extend(dns_problems(index));
    out.extend(l7_problems(index));
    for t in 0..index.policies().tiers.len() as u32 {
        let key = index.policies().tiers[t as usize].key();
        for what in index.tier_warnings(t) {
            let fix = if what.contains("Pass") {
                "use Allow (Accept) or Deny, or add the NetworkPolicy or baseline rule the Pass means to reach"
            } else if what.contains("matches no pod") || what.contains("selects no pod") {
                "check the selector's labels against the pods' and namespaces' (kubectl get pods -A --show-labels)"
            } else {
                "see the policy's rules"
            };
            out.push(Problem {
                object: key.clone(),
                what,
                fix: fix.into(),
                pods: Vec::new(),
            });
        }
    }
    out
}

/// The problems of one NetworkPolicy, as (what, fix).
pub fn policy_problems(index: &Index, id: PolicyId) -> Vec<(String, String)> {
    let policy = &index.policies().policies[id as usize];
    let inv = index.inventory();
    let mut out: Vec<(String, String)> = policy
        .warnings
        .iter()
        .map(|w| {
            let fix = if w.contains("means OR") {
                "put the namespaceSelector and the podSelector in one list entry (no dash before \
                 the second) to mean pods of those namespaces"
            } else if w.contains("policyTypes lacks") {
                "add the direction to policyTypes, or drop its rules"
            } else {
                "see the rule"
            };
            (w.clone(), fix.to_string())
        })
        .collect();
    for w in index.shadowed_by_tiers(id) {
        out.push((
            w,
            "drop the rules, or Pass the traffic in the admin tier so NetworkPolicy decides".into(),
        ));
    }
    let selected: Vec<PodId> = (0..inv.pods.len() as PodId)
        .filter(|&p| {
            super::checks::policy_selects(index, policy, &inv.pods[p as usize]).0 == Some(true)
        })
        .collect();
    if selected.is_empty() && policy.cilium.is_some() {
        out.push((
            "endpointSelector selects no pod: the policy has no effect".to_string(),
            format!(
                "compare the selector {} with the pods' labels (kubectl get pods -A --show-labels)",
                policy.pod_selector
            ),
        ));
    } else if selected.is_empty() {
        out.push((
            format!(
                "podSelector matches no pod in namespace {}: the policy has no effect",
                policy.namespace
            ),
            format!(
                "compare the selector {} with the pods' labels (kubectl get pods -n {} --show-labels)",
                policy.pod_selector, policy.namespace
            ),
        ));
    }
    for direction in [Direction::Ingress, Direction::Egress] {
        let word = match direction {
            Direction::Ingress => "from",
            Direction::Egress => "to",
        };
        for (r, rule) in policy
            .rules(direction)
            .unwrap_or_default()
            .iter()
            .enumerate()
        {
            for (p, peer) in rule.peers.iter().enumerate() {
                match peer {
                    Peer::Pods { pods, namespaces } => {
                        if let NamespaceScope::Selector(s) = namespaces {
                            if !inv.namespaces.iter().any(|n| s.matches(&n.labels)) {
                                let name_label = s
                                    .requirements()
                                    .iter()
                                    .find(|q| q.key == "name" || q.key == "namespace");
                                out.push((
                                    format!(
                                        "{direction}[{r}].{word}[{p}]: namespaceSelector matches no namespace"
                                    ),
                                    match name_label {
                                        Some(q) => format!(
                                            "namespaces carry kubernetes.io/metadata.name automatically; a `{}` label exists only if someone set it: select kubernetes.io/metadata.name instead",
                                            q.key
                                        ),
                                        None => "compare the selector with the namespaces' labels (kubectl get ns --show-labels)".into(),
                                    },
                                ));
                                continue;
                            }
                        }
                        let namespace_hit = |ns: &str| match namespaces {
                            NamespaceScope::PolicyNamespace => ns == policy.namespace,
                            NamespaceScope::Selector(s) => {
                                index.namespace_labels(ns).is_some_and(|l| s.matches(l))
                            }
                        };
                        let any = inv
                            .pods
                            .iter()
                            .any(|pod| namespace_hit(&pod.namespace) && pods.matches(&pod.labels));
                        if !any {
                            out.push((
                                format!("{direction}[{r}].{word}[{p}]: the peer matches no pod"),
                                "compare the selector with the pods' labels (kubectl get pods -A --show-labels)".into(),
                            ));
                        }
                    }
                    Peer::IpBlock(block) if direction == Direction::Egress => {
                        let everything =
                            block.cidr.prefix_len() == 0 && block.cidr.addr().is_ipv4();
                        let metadata: std::net::IpAddr = METADATA.parse().expect("an address");
                        if everything && block.contains(&metadata) {
                            out.push((
                                format!(
                                    "egress[{r}].to[{p}]: ipBlock {} admits the cloud metadata address {METADATA}",
                                    block.cidr
                                ),
                                format!("add except: [{METADATA}/32] to the ipBlock"),
                            ));
                        }
                    }
                    Peer::IpBlock(_)
                    | Peer::Entity(_)
                    | Peer::Outside(_)
                    | Peer::Domains(_)
                    | Peer::Unjudged(_) => {}
                }
            }
            // Ports without peers, then peers without ports (or the other way): a dash before
            // `to:`/`from:` split what was meant as one rule.
            if let Some(next) = policy.rules(direction).unwrap_or_default().get(r + 1) {
                let split = |a: &super::model::Rule, b: &super::model::Rule| {
                    a.peers.is_empty()
                        && !a.ports.is_empty()
                        && !b.peers.is_empty()
                        && b.ports.is_empty()
                };
                if split(rule, next) || split(next, rule) {
                    out.push((
                        format!(
                            "{direction}[{r}] and {direction}[{}]: one names ports for every peer, the other every port for its peers; a dash before `{word}:` probably split one rule in two",
                            r + 1
                        ),
                        format!("remove the dash before `{word}:` so that the peers and the ports form one rule"),
                    ));
                }
            }
            // A named port in an ingress rule resolves on the selected pods themselves.
            if direction == Direction::Ingress && !selected.is_empty() {
                for (i, spec) in rule.ports.iter().enumerate() {
                    let PortMatch::Named { name } = &spec.port else {
                        continue;
                    };
                    let declared = selected.iter().any(|&p| {
                        inv.pods[p as usize].ports.iter().any(|cp| {
                            cp.name.as_deref() == Some(name.as_str())
                                && cp.protocol == spec.protocol
                        })
                    });
                    if !declared {
                        out.push((
                            format!(
                                "ingress[{r}].ports[{i}]: no pod the policy selects declares a {} port named {name}: the entry matches nothing",
                                spec.protocol
                            ),
                            "name a containerPort so, or give the port by number".into(),
                        ));
                    }
                }
            }
        }
    }
    out
}

/// Pods isolated for egress that cannot resolve names: no rule admits UDP/53 to the cluster's
/// DNS pods (`k8s-app: kube-dns`). One problem per namespace, counting its pods.
fn dns_problems(index: &Index) -> Vec<Problem> {
    let inv = index.inventory();
    let Some(dns) = inv
        .pods
        .iter()
        .position(|p| p.labels.get("k8s-app").map(String::as_str) == Some("kube-dns"))
    else {
        return Vec::new();
    };
    let dns_name = inv.pods[dns].key();
    let mut by_namespace: std::collections::BTreeMap<&str, (Vec<String>, Vec<String>)> =
        Default::default();
    for (p, pod) in inv.pods.iter().enumerate() {
        if p == dns || pod.host_network {
            continue;
        }
        let flow = Flow {
            src: Endpoint::pod(p as PodId),
            dst: Endpoint::pod(dns as PodId),
            protocol: Protocol::Udp,
            port: 53,
        };
        if let Side::Denied { isolating } = index.verdict(&flow).egress {
            let entry = by_namespace.entry(&pod.namespace).or_default();
            entry.0.push(pod.key());
            for id in isolating {
                let key = index.policies().policies[id as usize].key();
                if !entry.1.contains(&key) {
                    entry.1.push(key);
                }
            }
        }
    }
    by_namespace
        .into_iter()
        .map(|(ns, (pods, policies))| Problem {
            object: format!("namespace {ns}"),
            what: format!(
                "{} pod(s) isolated for egress by {} cannot resolve names: no rule admits \
                 UDP/53 to {dns_name}",
                pods.len(),
                policies.join(", ")
            ),
            fix: "add an egress rule to namespaceSelector {kubernetes.io/metadata.name: \
                  kube-system} with podSelector {k8s-app: kube-dns} (one entry), ports UDP 53 \
                  and TCP 53"
                .into(),
            pods,
        })
        .collect()
}

/// Cilium's L7 rules that filter nothing: where another rule admits the same flows without L7
/// rules, Cilium lets every request through. Judged with every L7-carrying rule taken out
/// (the policies keep isolating): a flow the rest still admits by a rule is not filtered.
/// One flow per pod class pair and port.
fn l7_problems(index: &Index) -> Vec<Problem> {
    use std::sync::Arc;
    let set = index.policies();
    if !set
        .policies
        .iter()
        .any(|p| p.cilium.as_ref().is_some_and(|c| !c.l7.is_empty()))
    {
        return Vec::new();
    }
    let mut plain = (**set).clone();
    for p in &mut plain.policies {
        let Some(c) = p.cilium.as_deref() else {
            continue;
        };
        let l7: Vec<(Direction, u32)> = c.l7.iter().map(|l| (l.direction, l.rule)).collect();
        for (direction, rules) in [
            (Direction::Ingress, &mut p.ingress),
            (Direction::Egress, &mut p.egress),
        ] {
            if let Some(rules) = rules {
                let mut i = 0u32;
                rules.retain(|_| {
                    let keep = !l7.contains(&(direction, i));
                    i += 1;
                    keep
                });
            }
        }
    }
    let reduced = Index::build(
        Arc::clone(index.inventory()),
        Arc::new(plain),
        index.options().clone(),
    );
    let inv = index.inventory();
    let mut out = Vec::new();
    for (id, policy) in set.policies.iter().enumerate() {
        let Some(c) = policy.cilium.as_deref().filter(|c| !c.l7.is_empty()) else {
            continue;
        };
        let subjects: Vec<PodId> = (0..inv.pods.len() as PodId)
            .filter(|&p| {
                super::checks::policy_selects(index, policy, &inv.pods[p as usize]).0 == Some(true)
            })
            .collect();
        for l in &c.l7 {
            let Some(rule) = policy
                .rules(l.direction)
                .and_then(|r| r.get(l.rule as usize))
            else {
                continue;
            };
            // Peers: the rule's selector peers' pods (every pod where it names none).
            let mut peers: Vec<PodId> = Vec::new();
            if rule.peers.is_empty() {
                peers.extend(0..inv.pods.len() as PodId);
            }
            for i in 0..rule.peers.len() {
                peers.extend(
                    index
                        .peer_members(id as PolicyId, l.direction, l.rule as usize, i)
                        .unwrap_or_default(),
                );
            }
            let (mut tried, mut moot) = (0usize, 0usize);
            let mut by: Option<String> = None;
            let mut seen = std::collections::BTreeSet::new();
            for &s in &subjects {
                for &p in &peers {
                    if s == p || !seen.insert((index.class_of(s), index.class_of(p))) {
                        continue;
                    }
                    let (src, dst) = match l.direction {
                        Direction::Ingress => (p, s),
                        Direction::Egress => (s, p),
                    };
                    let dst_ports = &inv.pods[dst as usize].ports;
                    for spec in &rule.ports {
                        let port = match &spec.port {
                            PortMatch::Range { from, .. } => Some(*from),
                            PortMatch::Named { name } => dst_ports
                                .iter()
                                .find(|cp| {
                                    cp.name.as_deref() == Some(name) && cp.protocol == spec.protocol
                                })
                                .map(|cp| cp.port),
                            PortMatch::Any => None,
                        };
                        let Some(port) = port else { continue };
                        let flow = Flow {
                            src: Endpoint::pod(src),
                            dst: Endpoint::pod(dst),
                            protocol: spec.protocol,
                            port,
                        };
                        tried += 1;
                        let v = reduced.verdict(&flow);
                        let side = match l.direction {
                            Direction::Ingress => &v.ingress,
                            Direction::Egress => &v.egress,
                        };
                        if let Side::Allowed(r) = side {
                            moot += 1;
                            by.get_or_insert_with(|| {
                                let other = &reduced.policies().policies[r.policy as usize];
                                format!("{} {}[{}]", other.key(), l.direction, r.rule)
                            });
                        }
                    }
                }
            }
            if moot == 0 {
                continue;
            }
            let how_many = if moot == tried {
                "filter nothing".to_string()
            } else {
                format!("filter nothing for {moot} of {tried} pod pairs and ports")
            };
            out.push(Problem {
                object: policy.key(),
                what: format!(
                    "{}[{}]: its L7 rules ({}) {how_many}: {} admits the same flows without L7 \
                     rules, and Cilium then lets every request through",
                    l.direction,
                    l.rule,
                    l.text,
                    by.unwrap_or_default()
                ),
                fix: "narrow the other rule so that it no longer admits these peers and ports, or \
                      give it the same L7 rules"
                    .into(),
                pods: Vec::new(),
            });
        }
    }
    out
}
