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
use super::service_peer::ServiceTargets;

/// How sure a problem is to break something.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing (a namespace without a default-deny, pods no policy protects).
    Info,
    /// Probably not what was meant.
    Warning,
    /// Surely breaks or ignores something: pods that cannot resolve names, rules that can
    /// never match.
    Error,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// Every kind of problem: its id, severity and what it is, in one line.
pub const RULES: &[(&str, Severity, &str)] = &[
    ("or-where-and", Severity::Warning, "a podSelector and a namespaceSelector in two list entries (OR) where one entry (AND) was probably meant"),
    ("policy-types-ignore-rules", Severity::Error, "rules of a direction policyTypes leaves out, which are ignored"),
    ("policy-warning", Severity::Warning, "a policy the reader warns about"),
    ("shadowed-by-tier", Severity::Warning, "NetworkPolicy rules an admin-tier rule decides before they are reached"),
    ("selects-nothing", Severity::Warning, "a policy whose selector matches no pod"),
    ("namespace-selector-matches-nothing", Severity::Warning, "a namespaceSelector on labels no namespace carries"),
    ("peer-matches-nothing", Severity::Warning, "a peer that matches no pod"),
    ("metadata-open", Severity::Warning, "egress to everything that leaves the cloud metadata address open"),
    ("split-rule", Severity::Warning, "ports for every peer next to every port for some peers: one rule split in two by a dash"),
    ("named-port-undeclared", Severity::Error, "a named port no selected pod declares, which matches nothing"),
    ("ipblock-service-address", Severity::Warning, "an ipBlock that holds a Service's ClusterIP but none of its pods' addresses: NetworkPolicy never sees the Service's address"),
    ("covered-rule", Severity::Warning, "a rule that admits nothing another rule of the policy does not (a duplicate, or a subset)"),
    ("no-dns", Severity::Error, "pods isolated for egress that cannot reach the cluster's DNS"),
    ("l7-filters-nothing", Severity::Warning, "Cilium L7 rules that another rule makes moot"),
    ("cilium-identity-label", Severity::Warning, "a Cilium selector on a label Cilium leaves out of security identities by default, which it therefore never sees"),
    ("tier-problem", Severity::Warning, "a tier policy whose Pass leads nowhere, or whose selectors match nothing"),
    ("unprotected-pods", Severity::Info, "pods no policy selects: every flow to and from them is allowed"),
    ("no-default-deny", Severity::Info, "a namespace without a default-deny policy"),
];

fn severity_of(rule: &str) -> Severity {
    RULES
        .iter()
        .find(|(id, _, _)| *id == rule)
        .map(|(_, s, _)| *s)
        .unwrap_or(Severity::Warning)
}

/// One problem of one policy: its kind (an id of [`RULES`]), what and the fix.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub rule: &'static str,
    pub what: String,
    pub fix: String,
}

fn finding(rule: &'static str, what: String, fix: impl Into<String>) -> Finding {
    Finding {
        rule,
        what,
        fix: fix.into(),
    }
}

/// One mistake.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// `ns/name`, `Kind/name` for a tier policy, or `namespace NS`.
    pub object: String,
    /// Its kind: an id of [`RULES`].
    pub rule: &'static str,
    pub severity: Severity,
    /// What is wrong, naming the rule where there is one.
    pub what: String,
    /// The change that fixes it, in one line.
    pub fix: String,
    /// Where the object was read: a file, `<demo>`, `<stdin>` or `cluster`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source: Option<String>,
    /// The line of the object in its file.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<usize>,
    /// The pods it breaks (`ns/name`), where it breaks some pods rather than a policy.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub pods: Vec<String>,
}

impl Problem {
    fn new(object: String, f: Finding, origin: Option<&super::model::Origin>) -> Problem {
        Problem {
            object,
            rule: f.rule,
            severity: severity_of(f.rule),
            what: f.what,
            fix: f.fix,
            source: origin.map(|o| o.source.clone()),
            line: origin.and_then(|o| o.line),
            pods: Vec::new(),
        }
    }
}

/// The cloud metadata address an egress rule to everything leaves open.
const METADATA: &str = "169.254.169.254";

/// Every problem of the world: per NetworkPolicy (in namespace and name order), per
/// namespace (DNS), per tier policy.
pub fn lint(index: &Index) -> Vec<Problem> {
    let mut out = Vec::new();
    let selections = selections(index);
    for id in 0..index.policies().policies.len() as PolicyId {
        let policy = &index.policies().policies[id as usize];
        out.extend(
            problems_of(index, id, &selections[id as usize])
                .into_iter()
                .map(|f| Problem::new(policy.key(), f, Some(&policy.origin))),
        );
    }
    out.extend(dns_problems(index));
    out.extend(l7_problems(index));
    for t in 0..index.policies().tiers.len() as u32 {
        let tier = &index.policies().tiers[t as usize];
        for what in index.tier_warnings(t) {
            let fix = if what.contains("Pass") {
                "use Allow (Accept) or Deny, or add the NetworkPolicy or baseline rule the Pass means to reach"
            } else if what.contains("matches no pod") || what.contains("selects no pod") {
                "check the selector's labels against the pods' and namespaces' (kubectl get pods -A --show-labels)"
            } else {
                "see the policy's rules"
            };
            out.push(Problem::new(
                tier.key(),
                finding("tier-problem", what, fix),
                Some(&tier.origin),
            ));
        }
    }
    out.extend(namespace_notes(index));
    out
}

/// Information per namespace: pods no policy selects, and no default-deny.
fn namespace_notes(index: &Index) -> Vec<Problem> {
    let inv = index.inventory();
    let set = index.policies();
    // One pass over the pods and one over the policies, then one step per namespace.
    let mut pods_of: std::collections::HashMap<&str, Vec<PodId>> = Default::default();
    for (id, p) in inv.pods.iter().enumerate() {
        if !p.host_network {
            pods_of.entry(&p.namespace).or_default().push(id as PodId);
        }
    }
    let denies_all: std::collections::HashSet<(&str, Direction)> = set
        .policies
        .iter()
        .filter(|p| p.cilium.is_none())
        .flat_map(|p| {
            [Direction::Ingress, Direction::Egress]
                .into_iter()
                .filter(|d| p.denies_all(*d))
                .map(|d| (p.namespace.as_str(), d))
        })
        .collect();
    let mut out = Vec::new();
    for ns in &inv.namespaces {
        let pods = pods_of.get(ns.name.as_str()).map_or(&[][..], Vec::as_slice);
        // Unreadable policies, or no pods to protect: nothing to say for sure.
        if pods.is_empty() || !ns.policies_known {
            continue;
        }
        // Isolated in neither direction by any policy (what the index knows per pod class),
        // Calico's tiers that deny at their end included (the other tiers add no isolation).
        let unprotected: Vec<String> = pods
            .iter()
            .filter(|&&id| {
                [Direction::Ingress, Direction::Egress].iter().all(|d| {
                    index.isolating_policies(id, *d).is_empty()
                        && index.calico_isolates(id, *d) == Some(false)
                })
            })
            .map(|&id| inv.pods[id as usize].key())
            .collect();
        if !unprotected.is_empty() {
            let mut p = Problem::new(
                format!("namespace {}", ns.name),
                finding(
                    "unprotected-pods",
                    format!(
                        "{} of {} pod(s) isolated by no policy: every flow to and from them is \
                         allowed",
                        unprotected.len(),
                        pods.len()
                    ),
                    "add a default-deny (podSelector: {}) and the allow rules they need",
                ),
                None,
            );
            p.pods = unprotected;
            out.push(p);
        }
        // Calico's default tier (and a tier whose default action is Deny) denies what it does
        // not decide for every pod it selects: a namespace all of whose pods one selects has
        // its default-deny.
        let missing: Vec<&str> = [Direction::Ingress, Direction::Egress]
            .into_iter()
            .filter(|d| !denies_all.contains(&(ns.name.as_str(), *d)))
            .filter(|d| {
                !pods
                    .iter()
                    .all(|&id| index.calico_isolates(id, *d) == Some(true))
            })
            .map(Direction::as_str)
            .collect();
        if !missing.is_empty() {
            out.push(Problem::new(
                format!("namespace {}", ns.name),
                finding(
                    "no-default-deny",
                    format!(
                        "no default-deny for {}: a pod no policy selects in that direction is open",
                        missing.join(" or ")
                    ),
                    format!(
                        "add a NetworkPolicy with podSelector: {{}} and policyTypes [{}] and no rules",
                        missing
                            .iter()
                            .map(|d| if *d == "ingress" { "Ingress" } else { "Egress" })
                            .collect::<Vec<_>>()
                            .join(", ")
                    ),
                ),
                None,
            ));
        }
    }
    out
}

/// The pods each policy selects, in one pass over the pods: a NetworkPolicy selects exactly
/// the pods it isolates in some direction (what the index keeps per pod class); a Cilium
/// policy may select without isolating, so its selection is worked out pod by pod.
fn selections(index: &Index) -> Vec<Vec<PodId>> {
    let set = index.policies();
    let inv = index.inventory();
    let mut out: Vec<Vec<PodId>> = vec![Vec::new(); set.policies.len()];
    for pod in 0..inv.pods.len() as PodId {
        let ingress = index.isolating_policies(pod, Direction::Ingress);
        let egress = index.isolating_policies(pod, Direction::Egress);
        for &id in ingress.iter().chain(egress) {
            let list = &mut out[id as usize];
            if list.last() != Some(&pod) && set.policies[id as usize].cilium.is_none() {
                list.push(pod);
            }
        }
    }
    for (id, policy) in set.policies.iter().enumerate() {
        if policy.cilium.is_some() {
            out[id] = selected_by(index, policy);
        }
    }
    out
}

/// The pods a policy surely selects, pod by pod.
fn selected_by(index: &Index, policy: &super::model::Policy) -> Vec<PodId> {
    let inv = index.inventory();
    (0..inv.pods.len() as PodId)
        .filter(|&p| {
            super::checks::policy_selects(index, policy, &inv.pods[p as usize]).0 == Some(true)
        })
        .collect()
}

/// The problems of one NetworkPolicy.
pub fn policy_problems(index: &Index, id: PolicyId) -> Vec<Finding> {
    let selected = selected_by(index, &index.policies().policies[id as usize]);
    problems_of(index, id, &selected)
}

/// The problems of one NetworkPolicy that selects `selected`.
fn problems_of(index: &Index, id: PolicyId, selected: &[PodId]) -> Vec<Finding> {
    let policy = &index.policies().policies[id as usize];
    let inv = index.inventory();
    let mut out: Vec<Finding> = policy
        .warnings
        .iter()
        .map(|w| {
            let (rule, fix) = if w.contains("means OR") {
                (
                    "or-where-and",
                    "put the namespaceSelector and the podSelector in one list entry (no dash \
                     before the second) to mean pods of those namespaces",
                )
            } else if w.contains("Cilium puts in security identities") {
                (
                    "cilium-identity-label",
                    "select by a label Cilium keeps (app.kubernetes.io/*, or one of your own), or \
                     add it to Cilium's identity-relevant labels (the agents' labels option)",
                )
            } else if w.contains("policyTypes lacks") {
                (
                    "policy-types-ignore-rules",
                    "add the direction to policyTypes, or drop its rules",
                )
            } else {
                ("policy-warning", "see the rule")
            };
            finding(rule, w.clone(), fix)
        })
        .collect();
    for w in index.shadowed_by_tiers(id) {
        out.push(finding(
            "shadowed-by-tier",
            w,
            "drop the rules, or Pass the traffic in the admin tier so NetworkPolicy decides",
        ));
    }
    let host_nodes = policy.cilium.as_ref().and_then(|c| c.nodes.as_ref());
    if let Some(nodes) = host_nodes {
        // A host policy selects nodes: their own addresses count, with or without pods.
        if let Some(what) = inv.selects_no_node(nodes) {
            out.push(finding(
                "selects-nothing",
                what,
                "compare the selector with the nodes' labels (kubectl get nodes --show-labels)",
            ));
        }
    } else if selected.is_empty() && policy.cilium.is_some() {
        out.push(finding(
            "selects-nothing",
            "endpointSelector selects no pod: the policy has no effect".to_string(),
            format!(
                "compare the selector {} with the pods' labels (kubectl get pods -A --show-labels)",
                policy.pod_selector
            ),
        ));
    } else if selected.is_empty() {
        out.push(finding(
            "selects-nothing",
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
                                out.push(finding(
                                    "namespace-selector-matches-nothing",
                                    format!(
                                        "{direction}[{r}].{word}[{p}]: namespaceSelector matches no namespace"
                                    ),
                                    match name_label {
                                        Some(q) => format!(
                                            "namespaces carry kubernetes.io/metadata.name automatically; a `{}` label exists only if someone set it: select kubernetes.io/metadata.name instead",
                                            q.key
                                        ),
                                        None => "compare the selector with the namespaces' labels (kubectl get ns --show-labels)".to_string(),
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
                        // Counted per pod class where the index compiled the peer: a peer
                        // that may match pods of a namespace whose labels are unknown is
                        // not said to match nothing.
                        let sure = index.peer_pods(id, direction, r, p);
                        let maybe = index.peer_pods_unknown(id, direction, r, p).unwrap_or(0);
                        let any = match sure {
                            Some(n) => n + maybe > 0,
                            None => inv
                                .pods
                                .iter()
                                .any(|pod| namespace_hit(&pod.namespace) && pod.selected_by(pods)),
                        };
                        if !any {
                            out.push(finding(
                                "peer-matches-nothing",
                                format!("{direction}[{r}].{word}[{p}]: the peer matches no pod"),
                                "compare the selector with the pods' labels (kubectl get pods -A --show-labels)",
                            ));
                        }
                    }
                    Peer::IpBlock(block) if direction == Direction::Egress => {
                        out.extend(service_address(inv, block, r, p));
                        let everything =
                            block.cidr.prefix_len() == 0 && block.cidr.addr().is_ipv4();
                        let metadata: std::net::IpAddr = METADATA.parse().expect("an address");
                        if everything && block.contains(&metadata) {
                            out.push(finding(
                                "metadata-open",
                                format!(
                                    "egress[{r}].to[{p}]: ipBlock {} admits the cloud metadata address {METADATA}",
                                    block.cidr
                                ),
                                format!("add except: [{METADATA}/32] to the ipBlock"),
                            ));
                        }
                    }
                    Peer::Services(refs) => {
                        let targets = ServiceTargets::resolve(refs, inv);
                        let unknown =
                            !targets.outside_unknown.is_empty() || !targets.unread.is_empty();
                        if targets.services.is_empty() && !unknown {
                            let named: Vec<String> = refs.iter().map(|r| r.to_string()).collect();
                            out.push(finding(
                                "peer-matches-nothing",
                                format!(
                                    "{direction}[{r}].{word}[{p}]: toServices picks no Service ({})",
                                    named.join(", ")
                                ),
                                "compare the names and selectors with the Services \
                                 (kubectl get svc -A --show-labels); the rule allows nothing \
                                 until one exists",
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
                    out.push(finding(
                        "split-rule",
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
                        out.push(finding(
                            "named-port-undeclared",
                            format!(
                                "ingress[{r}].ports[{i}]: no pod the policy selects declares a {} port named {name}: the entry matches nothing",
                                spec.protocol
                            ),
                            "name a containerPort so, or give the port by number",
                        ));
                    }
                }
            }
        }
    }
    out.extend(covered_rules(policy));
    out
}

/// An egress ipBlock meant for a Service: it holds the Service's ClusterIP, which traffic to
/// the Service is sent to, but none of its pods' addresses, which is what NetworkPolicy
/// judges (kube-proxy or the CNI rewrites the address first). One finding per block, naming
/// the first such Service.
fn service_address(
    inv: &super::model::Inventory,
    block: &super::model::IpBlock,
    r: usize,
    p: usize,
) -> Option<Finding> {
    inv.services.iter().find_map(|s| {
        let ip = s.cluster_ips.iter().find(|ip| block.contains(ip))?;
        let pods = super::service::selected_pods(inv, s);
        let reaches_pods = pods
            .iter()
            .any(|&pod| inv.pods[pod as usize].ips.iter().any(|a| block.contains(a)));
        if pods.is_empty() || reaches_pods {
            return None;
        }
        Some(finding(
            "ipblock-service-address",
            format!(
                "egress[{r}].to[{p}]: {block} holds the ClusterIP {ip} of Service {} but none \
                 of its pods' addresses: NetworkPolicy judges the pod behind a Service, so this \
                 peer admits no traffic to it",
                s.key()
            ),
            format!(
                "select the Service's pods instead (podSelector on its selector, with a \
                 namespaceSelector on kubernetes.io/metadata.name: {})",
                s.namespace
            ),
        ))
    })
}

/// Rules of one policy and direction that admit nothing another rule does not: every peer
/// entry of one is an entry of the other (or the other admits every peer), and every port
/// entry lies within one of the other's (or the other admits every port). Of two equal
/// rules, the later is named. Cilium's rules are left out: their L7 parts differ.
fn covered_rules(policy: &super::model::Policy) -> Vec<Finding> {
    use super::model::{PortSpec, Rule};
    if policy.cilium.is_some() {
        return Vec::new();
    }
    fn port_within(a: &PortSpec, b: &PortSpec) -> bool {
        a.protocol == b.protocol
            && match (&a.port, &b.port) {
                (_, PortMatch::Any) => true,
                (PortMatch::Range { from, to }, PortMatch::Range { from: f, to: t }) => {
                    f <= from && to <= t
                }
                (PortMatch::Named { name }, PortMatch::Named { name: n }) => name == n,
                _ => false,
            }
    }
    fn within(a: &Rule, b: &Rule) -> bool {
        let peers = b.peers.is_empty()
            || (!a.peers.is_empty() && a.peers.iter().all(|p| b.peers.contains(p)));
        let ports = b.ports.is_empty()
            || (!a.ports.is_empty()
                && a.ports
                    .iter()
                    .all(|p| b.ports.iter().any(|q| port_within(p, q))));
        peers && ports
    }
    let mut out = Vec::new();
    for direction in [Direction::Ingress, Direction::Egress] {
        let rules = policy.rules(direction).unwrap_or_default();
        for (i, a) in rules.iter().enumerate() {
            let by = rules
                .iter()
                .enumerate()
                .find(|(j, b)| *j != i && within(a, b) && (!within(b, a) || *j < i));
            if let Some((j, b)) = by {
                let how = if within(b, a) {
                    "repeats"
                } else {
                    "is covered by"
                };
                out.push(finding(
                    "covered-rule",
                    format!(
                        "{direction}[{i}] {how} {direction}[{j}]: it admits no peer and port that \
                         {direction}[{j}] does not"
                    ),
                    format!(
                        "drop {direction}[{i}], or narrow {direction}[{j}] if it admits more than meant"
                    ),
                ));
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
    let set = index.policies();
    // Per namespace: its pods that cannot resolve, and the policies that block them (with
    // the first one's origin).
    type Blocked<'a> = (Vec<String>, Vec<String>, Option<&'a super::model::Origin>);
    let mut by_namespace: std::collections::BTreeMap<&str, Blocked> = Default::default();
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
        let side = index.verdict(&flow).egress;
        let (policies, tiers): (Vec<PolicyId>, Vec<u32>) = match side {
            Side::Denied { isolating } => (isolating, Vec::new()),
            Side::TierDenied(r) => (Vec::new(), vec![r.policy]),
            Side::TierEnd {
                selecting,
                isolating,
                ..
            } if !(selecting.is_empty() && isolating.is_empty()) => (isolating, selecting),
            _ => continue,
        };
        let entry = by_namespace.entry(&pod.namespace).or_default();
        entry.0.push(pod.key());
        let blocking = policies
            .iter()
            .map(|&id| &set.policies[id as usize])
            .map(|p| (p.key(), &p.origin))
            .chain(
                tiers
                    .iter()
                    .map(|&t| &set.tiers[t as usize])
                    .map(|p| (p.key(), &p.origin)),
            );
        for (key, origin) in blocking {
            entry.2.get_or_insert(origin);
            if !entry.1.contains(&key) {
                entry.1.push(key);
            }
        }
    }
    by_namespace
        .into_iter()
        .map(|(ns, (pods, names, origin))| {
            // Found at the first policy that blocks them, for tools that need a place.
            let mut p = Problem::new(
                format!("namespace {ns}"),
                finding(
                    "no-dns",
                    format!(
                        "{} pod(s) whose egress {} blocks cannot resolve names: no rule \
                         admits UDP/53 to {dns_name}",
                        pods.len(),
                        names.join(", ")
                    ),
                    if names.iter().any(|n| n.starts_with("projectcalico.org/")) {
                        "add a Calico Allow rule before the one that denies (or in a policy of \
                         lower order): destination namespaceSelector projectcalico.org/name == \
                         'kube-system', selector k8s-app == 'kube-dns', ports [53], once with \
                         protocol UDP and once with TCP"
                    } else {
                        "add an egress rule to namespaceSelector {kubernetes.io/metadata.name: \
                         kube-system} with podSelector {k8s-app: kube-dns} (one entry), ports UDP \
                         53 and TCP 53"
                    },
                ),
                origin,
            );
            p.pods = pods;
            p
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
            out.push(Problem::new(
                policy.key(),
                finding(
                    "l7-filters-nothing",
                    format!(
                        "{}[{}]: its L7 rules ({}) {how_many}: {} admits the same flows without \
                         L7 rules, and Cilium then lets every request through",
                        l.direction,
                        l.rule,
                        l.text,
                        by.unwrap_or_default()
                    ),
                    "narrow the other rule so that it no longer admits these peers and ports, \
                     or give it the same L7 rules",
                ),
                Some(&policy.origin),
            ));
        }
    }
    out
}
