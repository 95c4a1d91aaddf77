//! The verdict engine: an index compiled from (Inventory, PolicySet) that answers
//! "is this flow allowed, and by which rule?" in well under a microsecond.
//!
//! Pods that share namespace, labels, container ports and ipBlock membership are
//! indistinguishable to every policy, so they are grouped into classes; every distinct
//! selector peer becomes a bitset over classes. A verdict is then a few bit tests.
//! `explain` re-derives every verdict the slow, literal way; tests hold the two equal.
//!
//! Pure and deterministic: no I/O, no clock, no hash-order output. Must not import tokio,
//! kube's client, ratatui, crossterm or aya.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;

use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

mod hosts;
mod matrix;
mod ports;
mod tiers;

pub use matrix::{Matrix, PortView, Reach};
pub use ports::{By, Connectivity, PairPorts, PortSet, PortTable};
pub use tiers::TierRef;

use super::model::{
    ContainerPort, Direction, Entity, Inventory, IpBlock, Labels, NamespaceScope, Peer, PortMatch,
    PortSpec, Protocol,
};
use super::selector::Selector;
use super::service_peer::ServiceTargets;
use super::set::PolicySet;
use super::tiers::{Tier, TierPeer};
use tiers::{tier_groups, CompiledTier, CompiledTierRule, Step, TierGroup, TierPeerSet};

pub type PodId = u32;
pub type NodeId = u32;
pub type PolicyId = u32;

/// Choices where implementations differ, and what the user tells the engine; each is
/// shown in `explain` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EngineOptions {
    /// Whether ipBlock peers match pod IPs. The Kubernetes conformance tests and Calico say
    /// yes (the default); Cilium matches ipBlock only against addresses outside the cluster.
    pub ipblock_matches_pods: bool,
    /// Domain names and the addresses they resolve to, as the user gives them (`--fqdn
    /// NAME=IP`): where a name is given, its addresses are taken as all of them.
    #[serde(default, skip_serializing_if = "Domains::is_empty")]
    pub domains: Domains,
    /// Whether Cilium's CIDR rules match node addresses too (Cilium's
    /// `policy-cidr-match-mode: nodes`); by default they match only addresses outside the
    /// cluster, and nodes only by entity.
    #[serde(default)]
    pub cilium_cidr_matches_nodes: bool,
    /// Whether Cilium's host firewall (`enable-host-firewall`) enforces host policies:
    /// `None` when not known, and then what a host policy would decide is unknown. It is
    /// off by default in Cilium, and host policies do nothing while it is.
    #[serde(default)]
    pub cilium_host_firewall: Option<bool>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            ipblock_matches_pods: true,
            domains: Domains::default(),
            cilium_cidr_matches_nodes: false,
            cilium_host_firewall: None,
        }
    }
}

/// Names to addresses, shared cheaply.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Domains(pub Arc<std::collections::BTreeMap<String, Vec<IpAddr>>>);

impl Domains {
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Parses `NAME=IP` pairs (a name may be given several times).
    pub fn parse(pairs: &[String]) -> Result<Domains, String> {
        let mut map: std::collections::BTreeMap<String, Vec<IpAddr>> = Default::default();
        for pair in pairs {
            let (name, ip) = pair.split_once('=').ok_or_else(|| {
                format!("{pair:?}: expected NAME=IP (api.example.com=203.0.113.7)")
            })?;
            let name = name.trim().trim_end_matches('.').to_ascii_lowercase();
            if name.is_empty() || name.contains('*') {
                return Err(format!("{pair:?}: expected a domain name before ="));
            }
            let ip: IpAddr = ip
                .trim()
                .parse()
                .map_err(|_| format!("{pair:?}: {ip:?} is not an IP address"))?;
            map.entry(name).or_default().push(ip);
        }
        Ok(Domains(Arc::new(map)))
    }

    /// Whether one of `names` (names, or patterns with `*`) resolves to `ip`: `Some(true)`
    /// when a given name or a given name the pattern matches has that address,
    /// `Some(false)` when every name is given (no patterns) and none has it, `None` else.
    pub fn resolves(&self, names: &[String], ip: &IpAddr) -> Option<bool> {
        let mut all_given = true;
        for name in names {
            let name = name.to_ascii_lowercase();
            if name.contains('*') {
                all_given = false;
                let hit = self
                    .0
                    .iter()
                    .any(|(given, ips)| pattern_matches(&name, given) && ips.contains(ip));
                if hit {
                    return Some(true);
                }
            } else {
                match self.0.get(&name) {
                    Some(ips) if ips.contains(ip) => return Some(true),
                    Some(_) => {}
                    None => all_given = false,
                }
            }
        }
        all_given.then_some(false)
    }
}

/// Cilium's `matchPattern`: `*` stands for any run of DNS characters within a label (and
/// a lone `*` for every name).
pub fn pattern_matches(pattern: &str, name: &str) -> bool {
    if pattern == "*" {
        return true;
    }
    fn go(p: &[u8], n: &[u8]) -> bool {
        match (p.first(), n.first()) {
            (None, None) => true,
            (Some(b'*'), _) => {
                go(&p[1..], n) || (n.first().is_some_and(|&c| c != b'.') && go(p, &n[1..]))
            }
            (Some(a), Some(b)) if a == b => go(&p[1..], &n[1..]),
            _ => false,
        }
    }
    go(pattern.as_bytes(), name.as_bytes())
}

/// One end of a flow. `addr` is the address actually used, when the flow was given by IP.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Endpoint {
    Pod { pod: PodId, addr: Option<IpAddr> },
    Node { node: NodeId, addr: Option<IpAddr> },
    External(IpAddr),
}

impl Endpoint {
    pub fn pod(pod: PodId) -> Endpoint {
        Endpoint::Pod { pod, addr: None }
    }

    pub fn pod_id(&self) -> Option<PodId> {
        match self {
            Endpoint::Pod { pod, .. } => Some(*pod),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Flow {
    pub src: Endpoint,
    pub dst: Endpoint,
    pub protocol: Protocol,
    pub port: u16,
}

impl Flow {
    /// The end whose side `direction` is: the destination's ingress, the source's egress.
    pub fn end_of(&self, direction: Direction) -> &Endpoint {
        match direction {
            Direction::Ingress => &self.dst,
            Direction::Egress => &self.src,
        }
    }
}

/// The rule that admits a flow on one side: indexes into the policy's rules of that
/// direction, the rule's peers and its ports (`None` where the rule has no peers or ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RuleRef {
    pub policy: PolicyId,
    pub rule: u32,
    pub peer: Option<u32>,
    pub port: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "verdict", rename_all = "snake_case")]
pub enum Side {
    /// This end is not a cluster pod, so no policy applies on this side.
    NotApplicable,
    /// No policy isolates the pod in this direction.
    NotIsolated,
    Allowed(RuleRef),
    /// Isolated by these policies, and none of their rules admits the flow.
    Denied {
        isolating: Vec<PolicyId>,
    },
    /// No rule surely admits the flow and the answer is unknown: `rule` would admit it if a
    /// namespace's labels that cannot be read are what it selects; with no such rule, the
    /// pod's namespace's policies could not be read (`isolating`: those that could).
    Unknown {
        isolating: Vec<PolicyId>,
        rule: Option<RuleRef>,
    },
    /// A tier policy's Allow (Accept) rule decides, before or after NetworkPolicy.
    TierAllowed(TierRef),
    /// A tier policy's Deny rule decides.
    TierDenied(TierRef),
    /// The answer is unknown at a tier: `rule` might match (its peer depends on what cannot
    /// be read or told from an address), or, with no rule, tier policies could not be read.
    TierUnknown {
        rule: Option<TierRef>,
    },
    /// No rule of Calico's default tier decides, and policies of that tier select the pod:
    /// Calico policies (`selecting`, positions in the set's tier policies) and
    /// NetworkPolicies that isolate it (`isolating`). Denied; unknown when neither list has
    /// any and Calico policies `maybe` select the pod (namespace labels or service accounts
    /// that cannot be read decide).
    TierEnd {
        selecting: Vec<u32>,
        isolating: Vec<PolicyId>,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        maybe: Vec<u32>,
    },
}

/// An answer in three values: where data is missing the engine says so instead of guessing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Decision {
    Allowed,
    Denied,
    Unknown,
}

impl Side {
    /// The side surely allows the flow.
    pub fn allows(&self) -> bool {
        matches!(
            self,
            Side::NotApplicable | Side::NotIsolated | Side::Allowed(_) | Side::TierAllowed(_)
        )
    }

    /// The end of Calico's default tier after no rule of it decided: NetworkPolicy's answer
    /// `np` there, and the Calico policies of the tier that select the pod surely and maybe.
    /// `None` where nothing in the tier selects it (the tier after decides). Where only
    /// NetworkPolicies isolate it, theirs is the denial, as without Calico.
    pub fn end_of_default_tier(np: &Side, selecting: Vec<u32>, maybe: Vec<u32>) -> Option<Side> {
        let isolating = match np {
            Side::Denied { isolating } => isolating.clone(),
            _ => Vec::new(),
        };
        if selecting.is_empty() && isolating.is_empty() && maybe.is_empty() {
            return None;
        }
        Some(if selecting.is_empty() && !isolating.is_empty() {
            Side::Denied { isolating }
        } else {
            Side::TierEnd {
                selecting,
                isolating,
                maybe,
            }
        })
    }

    pub fn decision(&self) -> Decision {
        match self {
            Side::Denied { .. } | Side::TierDenied(_) => Decision::Denied,
            Side::TierEnd {
                selecting,
                isolating,
                ..
            } if selecting.is_empty() && isolating.is_empty() => Decision::Unknown,
            Side::TierEnd { .. } => Decision::Denied,
            Side::Unknown { .. } | Side::TierUnknown { .. } => Decision::Unknown,
            _ => Decision::Allowed,
        }
    }
}

/// Traffic that is allowed whatever the policies say.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Exemption {
    /// A pod talking to itself.
    SelfTraffic,
    /// Traffic between a pod and the node it runs on.
    NodeLocal,
    /// Traffic between a pod and the node it runs on, whose host endpoint Cilium's host
    /// policies may judge (Cilium enforces them between the host and its own pods too): the
    /// pod's side is exempt, and the host's side (`host`: the node's direction) decides.
    NodeLocalHost { host: Direction },
}

impl Exemption {
    /// The exemption of a flow whose sides are `egress` and `ingress`, where Cilium's host
    /// policies were read (`host_policies`): traffic between a pod and its own node still
    /// goes through the node's side where they judge it.
    pub fn settled(
        self,
        flow: &Flow,
        (egress, ingress): (&Side, &Side),
        host_policies: bool,
    ) -> Exemption {
        if self != Exemption::NodeLocal || !host_policies {
            return self;
        }
        let (host, side) = match flow.src {
            Endpoint::Node { .. } => (Direction::Egress, egress),
            _ => (Direction::Ingress, ingress),
        };
        match side {
            Side::NotApplicable => Exemption::NodeLocal,
            _ => Exemption::NodeLocalHost { host },
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Verdict {
    pub egress: Side,
    pub ingress: Side,
    pub exemption: Option<Exemption>,
}

impl Verdict {
    /// The flow is surely allowed.
    pub fn allowed(&self) -> bool {
        self.decision() == Decision::Allowed
    }

    /// Allowed when exempt or both sides allow; denied when either side surely denies;
    /// otherwise unknown.
    pub fn decision(&self) -> Decision {
        match self.exemption {
            Some(Exemption::NodeLocalHost { host }) => return self.side(host).decision(),
            Some(_) => return Decision::Allowed,
            None => {}
        }
        match (self.egress.decision(), self.ingress.decision()) {
            (Decision::Denied, _) | (_, Decision::Denied) => Decision::Denied,
            (Decision::Allowed, Decision::Allowed) => Decision::Allowed,
            _ => Decision::Unknown,
        }
    }

    /// The side of `direction`.
    pub fn side(&self, direction: Direction) -> &Side {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// The sides that decide, with their direction: both, but only the host's where the
    /// pod's side of traffic with its own node is exempt.
    pub fn deciding(&self) -> Vec<(Direction, &Side)> {
        match self.exemption {
            Some(Exemption::NodeLocalHost { host }) => vec![(host, self.side(host))],
            _ => vec![
                (Direction::Egress, &self.egress),
                (Direction::Ingress, &self.ingress),
            ],
        }
    }
}

#[derive(Debug, Clone)]
enum CompiledPeer {
    /// A pod/namespace selector peer: the classes it matches.
    Classes(u32),
    IpBlock(u32),
    /// Cilium's peers: an entity, a CIDR of outside addresses, domain names, and what
    /// cannot be judged.
    Entity(Entity),
    Outside(IpBlock),
    Domains(Vec<String>),
    /// Cilium `toServices`: `pods`, a peer set of the classes it may match (none surely);
    /// `targets`, its Services in `service_targets`, for addresses.
    Services {
        pods: u32,
        targets: u32,
    },
    Unjudged,
}

#[derive(Debug, Clone)]
struct CompiledRule {
    peers: Vec<CompiledPeer>,
    ports: Vec<PortSpec>,
}

#[derive(Debug, Clone, Default)]
struct CompiledPolicy {
    ingress: Vec<CompiledRule>,
    egress: Vec<CompiledRule>,
}

impl CompiledPolicy {
    fn rules(&self, direction: Direction) -> &[CompiledRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

/// Namespace, labels, sorted container ports, ipBlock membership, host network and tier
/// network membership: what makes two pods indistinguishable to every policy.
/// What pods of one class share: namespace, labels, ports, ipBlocks and tier networks they
/// are in, host network, (where a Calico rule names service accounts) service account, and
/// (for host-network pods, where Cilium host policies select nodes) node.
type ClassKey<'a> = (
    u32,
    &'a Labels,
    Vec<ContainerPort>,
    Vec<u32>,
    bool,
    Vec<u32>,
    Option<&'a str>,
    Option<Option<&'a str>>,
);

#[derive(Debug, Clone)]
struct Class {
    namespace: u32,
    /// A pod of the class; all its members share labels and ports.
    representative: PodId,
    members: u32,
    /// Policies selecting this class that isolate it for ingress / egress, ascending.
    ingress: Vec<PolicyId>,
    egress: Vec<PolicyId>,
    /// ipBlocks containing at least one member IP (equal for all members), ascending.
    ip_blocks: Vec<u32>,
    /// Host-network pods: no tier policy selects them, as subjects or as pod peers.
    host_network: bool,
    /// Tier networks containing at least one member IP (whatever the ipBlock option), ascending.
    nets: Vec<u32>,
    /// A clusterwide Cilium policy may select the class, depending on namespace labels that
    /// cannot be read: which policies isolate it is unknown.
    selection_unknown: [bool; 2],
    /// Host-network pods on a node that a Calico HostEndpoint protects: Calico's host
    /// endpoint policy decides their traffic, and it is not judged.
    host_unjudged: bool,
}

/// Whose side is judged, for the entities that depend on where it is: a pod (whose node is
/// looked up only when an entity asks), a node's host endpoint, or nothing known.
#[derive(Debug, Clone, Copy)]
pub(super) enum Own {
    Pod(PodId),
    Host(NodeId),
    Nothing,
}

/// The compiled world. Cheap to share: it holds the inputs behind `Arc`s.
#[derive(Debug, Clone)]
pub struct Index {
    inventory: Arc<Inventory>,
    policies: Arc<PolicySet>,
    options: EngineOptions,
    namespace_ids: HashMap<String, u32>,
    pod_ids: HashMap<(String, String), PodId>,
    policy_ids: HashMap<(String, String), PolicyId>,
    node_ids: HashMap<String, NodeId>,
    pod_by_ip: HashMap<IpAddr, PodId>,
    node_by_ip: HashMap<IpAddr, NodeId>,
    pod_class: Vec<u32>,
    pod_node: Vec<Option<NodeId>>,
    classes: Vec<Class>,
    compiled: Vec<CompiledPolicy>,
    peer_sets: Vec<FixedBitSet>,
    /// Per peer set: classes it matches if labels that cannot be read are what it selects
    /// (`None`: every namespace involved has known labels).
    peer_maybe: Vec<Option<FixedBitSet>>,
    /// The Services of each `toServices` peer, looked up once.
    service_targets: Vec<ServiceTargets>,
    ip_blocks: Vec<IpBlock>,
    /// Tier policies in evaluation order, compiled.
    tiers: Vec<CompiledTier>,
    /// The tier policies in groups that end alike, in evaluation order: one per Calico
    /// tier of its own (which ends in its default action for a pod it selects), one per
    /// other tier.
    groups: Vec<TierGroup>,
    /// Per tier ([`Tier::index`]): its groups' positions in `groups`.
    tier_groups: [std::ops::Range<usize>; Tier::COUNT],
    /// Per tier policy: its group's position in `groups`.
    group_of: Vec<u32>,
    /// The classes Cilium's peers of no selector match, surely and maybe, made once: see
    /// [`Index::cilium_peer_classes`].
    cilium_classes: Box<[(FixedBitSet, FixedBitSet); 4]>,
    /// Every distinct network of the tier policies' peers.
    tier_nets: Vec<ipnet::IpNet>,
    /// Cilium's host policies (their allow parts), ascending.
    host_policies: Vec<PolicyId>,
    /// Per node: a Calico HostEndpoint protects it (its own traffic is not judged).
    host_endpoints: Vec<bool>,
}

impl Index {
    pub fn build(
        inventory: Arc<Inventory>,
        policies: Arc<PolicySet>,
        options: EngineOptions,
    ) -> Index {
        let namespace_ids: HashMap<String, u32> = inventory
            .namespaces
            .iter()
            .enumerate()
            .map(|(i, ns)| (ns.name.clone(), i as u32))
            .collect();
        let node_ids: HashMap<String, NodeId> = inventory
            .nodes
            .iter()
            .enumerate()
            .map(|(i, n)| (n.name.clone(), i as NodeId))
            .collect();
        let mut node_by_ip = HashMap::new();
        for (i, node) in inventory.nodes.iter().enumerate() {
            for addr in &node.addresses {
                node_by_ip.entry(*addr).or_insert(i as NodeId);
            }
        }

        // Every distinct ipBlock, so that class keys can record membership.
        let mut block_ids: HashMap<IpBlock, u32> = HashMap::new();
        let mut ip_blocks = Vec::new();
        for policy in &policies.policies {
            for rule in policy.ingress.iter().chain(policy.egress.iter()).flatten() {
                for peer in &rule.peers {
                    if let Peer::IpBlock(b) = peer {
                        block_ids.entry(b.clone()).or_insert_with(|| {
                            ip_blocks.push(b.clone());
                            (ip_blocks.len() - 1) as u32
                        });
                    }
                }
            }
        }

        let mut net_ids: HashMap<ipnet::IpNet, u32> = HashMap::new();
        let mut tier_nets = Vec::new();
        let mut add_net = |net: &ipnet::IpNet| {
            net_ids.entry(*net).or_insert_with(|| {
                tier_nets.push(*net);
                (tier_nets.len() - 1) as u32
            });
        };
        // Whether a Calico rule names service accounts: pods of one class then share theirs.
        let mut by_account = false;
        let everywhere: [ipnet::IpNet; 2] = [
            "0.0.0.0/0".parse().expect("a network"),
            "::/0".parse().expect("a network"),
        ];
        for policy in &policies.tiers {
            for rule in policy.ingress.iter().chain(&policy.egress) {
                // Calico's ends: their networks, and the address families of ipVersion, so
                // that pods of one class agree on them.
                let ends = rule.peers.iter().filter_map(|p| match p {
                    TierPeer::Calico(end) => Some(&**end),
                    _ => None,
                });
                for end in ends.chain(rule.own.as_ref()) {
                    by_account |= end.service_accounts.is_some();
                    // A Service's endpoints by address: pods of one class agree on them.
                    let service = end
                        .services
                        .as_ref()
                        .and_then(|m| inventory.service(&m.namespace, &m.name));
                    if let Some(e) = service.and_then(|s| s.endpoints.as_ref()) {
                        for ip in e.ready.iter().chain(&e.not_ready) {
                            add_net(&ipnet::IpNet::from(*ip));
                        }
                    }
                    end.nets.iter().chain(&end.not_nets).for_each(&mut add_net);
                    if end.ip_version.is_some() {
                        everywhere.iter().for_each(&mut add_net);
                    }
                }
                for peer in &rule.peers {
                    if let TierPeer::Networks(nets) = peer {
                        nets.iter().for_each(&mut add_net);
                    }
                }
            }
        }

        // Cilium host policies select host-network pods by their node, as far as the host
        // firewall is known to be on.
        let firewall = policies.host_firewall(options.cilium_host_firewall);
        let host_policies =
            policies.has_host_policies() || policies.calico_sets.iter().any(|s| s.node.is_some());
        // Where a selector names Cilium's service account label, pods of one class share
        // their service account too.
        by_account |= names_service_account(&policies)
            || policies.tiers.iter().any(|t| {
                matches!(
                    &t.subject,
                    super::tiers::Subject::Calico {
                        service_accounts: Some(_),
                        ..
                    }
                )
            });
        let mut pod_ids = HashMap::with_capacity(inventory.pods.len());
        let mut pod_by_ip = HashMap::with_capacity(inventory.pods.len());
        let mut pod_node = Vec::with_capacity(inventory.pods.len());
        let mut pod_class = Vec::with_capacity(inventory.pods.len());
        let mut classes: Vec<Class> = Vec::new();
        let mut class_keys: HashMap<ClassKey, u32> = HashMap::new();
        for (i, pod) in inventory.pods.iter().enumerate() {
            let id = i as PodId;
            pod_ids.insert((pod.namespace.clone(), pod.name.clone()), id);
            if !pod.host_network {
                for ip in &pod.ips {
                    pod_by_ip.entry(*ip).or_insert(id);
                }
            }
            pod_node.push(pod.node.as_ref().and_then(|n| node_ids.get(n).copied()));
            // Namespaces are created for every referenced name by the sources; an unknown
            // one still gets an id of its own so that it never aliases another namespace.
            let ns = namespace_ids
                .get(&pod.namespace)
                .copied()
                .unwrap_or(u32::MAX - i as u32);
            let mut ports = pod.ports.clone();
            ports.sort();
            let blocks: Vec<u32> = if options.ipblock_matches_pods {
                ip_blocks
                    .iter()
                    .enumerate()
                    .filter(|(_, b)| pod.ips.iter().any(|ip| b.contains(ip)))
                    .map(|(j, _)| j as u32)
                    .collect()
            } else {
                Vec::new()
            };
            let nets: Vec<u32> = tier_nets
                .iter()
                .enumerate()
                .filter(|(_, n)| pod.ips.iter().any(|ip| n.contains(ip)))
                .map(|(j, _)| j as u32)
                .collect();
            let next = classes.len() as u32;
            let class = *class_keys
                .entry((
                    ns,
                    &pod.labels,
                    ports,
                    blocks.clone(),
                    pod.host_network,
                    nets.clone(),
                    by_account.then(|| pod.service_account()),
                    (host_policies && pod.host_network).then_some(pod.node.as_deref()),
                ))
                .or_insert_with(|| {
                    classes.push(Class {
                        namespace: ns,
                        representative: id,
                        members: 0,
                        ingress: Vec::new(),
                        egress: Vec::new(),
                        ip_blocks: blocks,
                        host_network: pod.host_network,
                        nets,
                        selection_unknown: [false; 2],
                        host_unjudged: policies.host_endpoint_for(pod).is_some(),
                    });
                    next
                });
            classes[class as usize].members += 1;
            pod_class.push(class);
        }
        drop(class_keys);

        let mut namespace_classes: Vec<Vec<u32>> = vec![Vec::new(); inventory.namespaces.len()];
        for (c, class) in classes.iter().enumerate() {
            if let Some(list) = namespace_classes.get_mut(class.namespace as usize) {
                list.push(c as u32);
            }
        }

        let class_count = classes.len();
        let mut peer_sets: Vec<FixedBitSet> = Vec::new();
        let mut peer_maybe: Vec<Option<FixedBitSet>> = Vec::new();
        let mut service_targets: Vec<ServiceTargets> = Vec::new();
        let mut service_peer_ids: HashMap<Vec<super::model::ServiceRef>, (u32, u32)> =
            HashMap::new();
        let mut peer_set_ids: HashMap<(u32, Selector, Option<Selector>, bool), u32> =
            HashMap::new();
        let mut compiled = Vec::with_capacity(policies.policies.len());
        // Cilium policies that add allow rules without isolating: they count for classes
        // that another policy isolates, once every isolating policy is known.
        let mut joiners: Vec<(u32, PolicyId, Direction)> = Vec::new();
        for (pid, policy) in policies.policies.iter().enumerate() {
            let policy_ns = namespace_ids.get(&policy.namespace).copied();
            let cilium = policy.cilium.as_deref();
            let host_nodes = cilium.and_then(|c| c.nodes.as_ref());
            let selected: Vec<(u32, bool)> = match cilium.and_then(|c| c.namespaces.as_ref()) {
                _ if host_nodes.is_some() => {
                    let nodes = host_nodes.expect("a host policy");
                    host_classes(&inventory, &node_ids, &classes, nodes, firewall)
                }
                None => policy_ns
                    .map(|ns| {
                        namespace_classes[ns as usize]
                            .iter()
                            .map(|&c| (c, true))
                            .collect()
                    })
                    .unwrap_or_default(),
                Some(ns_selector) => inventory
                    .namespaces
                    .iter()
                    .enumerate()
                    .flat_map(|(i, ns)| {
                        let sure = ns_selector.matches_partly(&ns.labels, |k| ns.knows(k));
                        namespace_classes[i].iter().filter_map(move |&c| {
                            sure.map_or(Some((c, false)), |s| s.then_some((c, true)))
                        })
                    })
                    .collect(),
            };
            for (c, sure) in selected {
                let class = &mut classes[c as usize];
                if cilium.is_some() && class.host_network != host_nodes.is_some() {
                    // Host-network pods are no Cilium endpoints, but the host's.
                    continue;
                }
                if !inventory.pods[class.representative as usize].selected_by(&policy.pod_selector)
                {
                    continue;
                }
                if !sure {
                    // It matters for the directions it has rules for.
                    for direction in [Direction::Ingress, Direction::Egress] {
                        if policy.rules(direction).is_some() {
                            class.selection_unknown[direction_index(direction)] = true;
                        }
                    }
                    continue;
                }
                for direction in [Direction::Ingress, Direction::Egress] {
                    if policy.rules(direction).is_none() {
                        continue;
                    }
                    if policy.isolates(direction) {
                        match direction {
                            Direction::Ingress => class.ingress.push(pid as PolicyId),
                            Direction::Egress => class.egress.push(pid as PolicyId),
                        }
                    } else {
                        joiners.push((c, pid as PolicyId, direction));
                    }
                }
            }
            let mut compile_rules = |rules: Option<&Vec<super::model::Rule>>| -> Vec<CompiledRule> {
                rules
                    .into_iter()
                    .flatten()
                    .map(|rule| CompiledRule {
                        ports: rule.ports.clone(),
                        peers: rule
                            .peers
                            .iter()
                            .map(|peer| match peer {
                                Peer::IpBlock(b) => CompiledPeer::IpBlock(block_ids[b]),
                                Peer::Entity(e) => CompiledPeer::Entity(*e),
                                Peer::Outside(b) => CompiledPeer::Outside(b.clone()),
                                Peer::Domains(names) => CompiledPeer::Domains(names.clone()),
                                Peer::Unjudged(_) => CompiledPeer::Unjudged,
                                Peer::Services(refs) => {
                                    // Looked up once per distinct list of Services.
                                    let (pods, targets) = *service_peer_ids
                                        .entry(refs.clone())
                                        .or_insert_with(|| {
                                            let targets = ServiceTargets::resolve(refs, &inventory);
                                            let mut maybe = FixedBitSet::with_capacity(class_count);
                                            for (c, class) in classes.iter().enumerate() {
                                                let rep = class.representative as usize;
                                                if targets.pod_doubt(&inventory.pods[rep]).is_some()
                                                {
                                                    maybe.insert(c);
                                                }
                                            }
                                            peer_sets.push(FixedBitSet::with_capacity(class_count));
                                            peer_maybe
                                                .push((maybe.count_ones(..) > 0).then_some(maybe));
                                            service_targets.push(targets);
                                            (
                                                (peer_sets.len() - 1) as u32,
                                                (service_targets.len() - 1) as u32,
                                            )
                                        });
                                    CompiledPeer::Services { pods, targets }
                                }
                                Peer::Pods { pods, namespaces } => {
                                    let (ns, selector) = match namespaces {
                                        NamespaceScope::PolicyNamespace => {
                                            (policy_ns.unwrap_or(u32::MAX), None)
                                        }
                                        NamespaceScope::Selector(s) => (u32::MAX, Some(s.clone())),
                                    };
                                    // Cilium's endpoint selectors never match host-network pods.
                                    let key = (ns, pods.clone(), selector, cilium.is_some());
                                    let id = *peer_set_ids.entry(key).or_insert_with_key(|key| {
                                        let (mut set, mut maybe) = selector_classes(
                                            &inventory,
                                            &classes,
                                            &namespace_classes,
                                            &(key.0, key.1.clone(), key.2.clone()),
                                            class_count,
                                        );
                                        if key.3 {
                                            without_host_network(&classes, &mut set, &mut maybe);
                                        }
                                        peer_sets.push(set);
                                        peer_maybe.push(maybe);
                                        (peer_sets.len() - 1) as u32
                                    });
                                    CompiledPeer::Classes(id)
                                }
                            })
                            .collect(),
                    })
                    .collect()
            };
            let ingress = compile_rules(policy.ingress.as_ref());
            let egress = compile_rules(policy.egress.as_ref());
            compiled.push(CompiledPolicy { ingress, egress });
        }
        for (c, pid, direction) in joiners {
            let class = &mut classes[c as usize];
            let list = match direction {
                Direction::Ingress => &mut class.ingress,
                Direction::Egress => &mut class.egress,
            };
            if !list.is_empty() {
                list.push(pid);
                list.sort_unstable();
            }
        }

        // Calico subjects: their selector language, on the labels Calico gives endpoints.
        let calico_sets: Vec<Option<u32>> = policies
            .tiers
            .iter()
            .map(|policy| {
                if !matches!(policy.subject, super::tiers::Subject::Calico { .. }) {
                    return None;
                }
                let (set, maybe) = class_sets(&inventory, &classes, |pod, ns| {
                    super::calico::subject_selects(&policy.subject, pod, ns)
                });
                peer_sets.push(set);
                peer_maybe.push(maybe);
                Some((peer_sets.len() - 1) as u32)
            })
            .collect();
        // Cilium host policies' deny parts: the host-network classes on the nodes they select.
        let host_sets: Vec<Option<u32>> = policies
            .tiers
            .iter()
            .map(|policy| {
                let super::tiers::Subject::Nodes(nodes) = &policy.subject else {
                    return None;
                };
                let mut set = FixedBitSet::with_capacity(class_count);
                let mut maybe: Option<FixedBitSet> = None;
                for (c, sure) in host_classes(&inventory, &node_ids, &classes, nodes, firewall) {
                    match sure {
                        true => set.insert(c as usize),
                        false => maybe
                            .get_or_insert_with(|| FixedBitSet::with_capacity(class_count))
                            .insert(c as usize),
                    }
                }
                peer_sets.push(set);
                peer_maybe.push(maybe);
                Some((peer_sets.len() - 1) as u32)
            })
            .collect();
        // The classes a Calico rule's end holds, as its pods are seen with all their addresses.
        let mut calico_end_ids: HashMap<super::tiers::CalicoEnd, u32> = HashMap::new();
        let mut calico_end = |end: &super::tiers::CalicoEnd,
                              peer_sets: &mut Vec<FixedBitSet>,
                              peer_maybe: &mut Vec<Option<FixedBitSet>>|
         -> u32 {
            if let Some(&id) = calico_end_ids.get(end) {
                return id;
            }
            let (set, maybe) = class_sets(&inventory, &classes, |pod, namespace| {
                let seen = super::calico::Seen::Pod {
                    pod,
                    namespace,
                    addr: None,
                };
                super::calico::end_matches(end, &seen, &inventory, None).0
            });
            peer_sets.push(set);
            peer_maybe.push(maybe);
            let id = (peer_sets.len() - 1) as u32;
            calico_end_ids.insert(end.clone(), id);
            id
        };
        // Per tier policy, per direction, per rule: its Calico peers' and own end's sets.
        type RuleSets = Vec<(Vec<u32>, Option<u32>)>;
        let mut calico_ids: Vec<[RuleSets; 2]> = Vec::new();
        for policy in &policies.tiers {
            let mut per = [Vec::new(), Vec::new()];
            for (d, rules) in [&policy.ingress, &policy.egress].into_iter().enumerate() {
                for rule in rules {
                    let peers = rule
                        .peers
                        .iter()
                        .map(|p| match p {
                            TierPeer::Calico(end) => {
                                calico_end(end, &mut peer_sets, &mut peer_maybe)
                            }
                            // Other peers have no set of this kind.
                            _ => u32::MAX,
                        })
                        .collect();
                    let own = rule
                        .own
                        .as_ref()
                        .map(|end| calico_end(end, &mut peer_sets, &mut peer_maybe));
                    per[d].push((peers, own));
                }
            }
            calico_ids.push(per);
        }
        // Tier policies: subjects and pod peers as peer sets without host-network classes.
        let mut tier_set_ids: HashMap<(Selector, Selector), u32> = HashMap::new();
        let mut tier_set = |namespaces: &Selector, pods: &Selector| -> u32 {
            *tier_set_ids
                .entry((namespaces.clone(), pods.clone()))
                .or_insert_with(|| {
                    let key = (u32::MAX, pods.clone(), Some(namespaces.clone()));
                    let (mut set, mut maybe) = selector_classes(
                        &inventory,
                        &classes,
                        &namespace_classes,
                        &key,
                        class_count,
                    );
                    without_host_network(&classes, &mut set, &mut maybe);
                    peer_sets.push(set);
                    peer_maybe.push(maybe);
                    (peer_sets.len() - 1) as u32
                })
        };
        let everyone = Selector::everything();
        let mut tiers = Vec::with_capacity(policies.tiers.len());
        for (t, policy) in policies.tiers.iter().enumerate() {
            let subject = match &policy.subject {
                super::tiers::Subject::Namespaces(ns) => tier_set(ns, &everyone),
                super::tiers::Subject::Pods { namespaces, pods } => tier_set(namespaces, pods),
                super::tiers::Subject::Calico { .. } => {
                    calico_sets[t].expect("made for every Calico subject")
                }
                super::tiers::Subject::Nodes(_) => {
                    host_sets[t].expect("made for every host policy")
                }
            };
            let mut compile_rules = |rules: &[super::tiers::TierRule],
                                     ids: &[(Vec<u32>, Option<u32>)]|
             -> Vec<CompiledTierRule> {
                rules
                    .iter()
                    .zip(ids)
                    .map(|(rule, (peer_ids, own_id))| CompiledTierRule {
                        action: rule.action,
                        ports: rule.ports.clone().unwrap_or_default(),
                        own: rule
                            .own
                            .as_ref()
                            .zip(*own_id)
                            .map(|(end, id)| (id, Box::new(end.clone()))),
                        peers: rule
                            .peers
                            .iter()
                            .zip(peer_ids)
                            .map(|(peer, &id)| match peer {
                                TierPeer::Namespaces(ns) => {
                                    TierPeerSet::Classes(tier_set(ns, &everyone))
                                }
                                TierPeer::Pods { namespaces, pods } => {
                                    TierPeerSet::Classes(tier_set(namespaces, pods))
                                }
                                TierPeer::Nodes(s) => TierPeerSet::Nodes(s.clone()),
                                TierPeer::Networks(nets) => {
                                    TierPeerSet::Networks(nets.iter().map(|n| net_ids[n]).collect())
                                }
                                TierPeer::Domains(names) => TierPeerSet::Domains(names.clone()),
                                TierPeer::Entity(e) => TierPeerSet::Entity(*e),
                                TierPeer::Outside(b) => TierPeerSet::Outside(b.clone()),
                                TierPeer::Unjudged(_) => TierPeerSet::Unjudged,
                                TierPeer::Calico(end) => TierPeerSet::Calico {
                                    set: id,
                                    end: end.clone(),
                                },
                            })
                            .collect(),
                    })
                    .collect()
            };
            let [ingress_ids, egress_ids] = &calico_ids[t];
            let ingress = compile_rules(&policy.ingress, ingress_ids);
            let egress = compile_rules(&policy.egress, egress_ids);
            tiers.push(CompiledTier {
                tier: policy.tier,
                subject,
                ingress,
                egress,
                selects_for: [
                    policy.types.contains(&Direction::Ingress),
                    policy.types.contains(&Direction::Egress),
                ],
            });
        }

        let (groups, tier_groups, group_of) = tier_groups(&policies.tiers);
        let policy_ids = policies
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.cilium.is_none())
            .map(|(i, p)| ((p.namespace.clone(), p.name.clone()), i as PolicyId))
            .collect();
        let cilium_classes = Box::new(cilium_class_sets(&classes));
        let host_endpoints = inventory
            .nodes
            .iter()
            .map(|n| policies.host_endpoint_of(&n.name).is_some())
            .collect();
        let host_policies = policies
            .policies
            .iter()
            .enumerate()
            .filter(|(_, p)| p.cilium.as_ref().is_some_and(|c| c.nodes.is_some()))
            .map(|(i, _)| i as PolicyId)
            .collect();
        Index {
            inventory,
            policies,
            options,
            namespace_ids,
            pod_ids,
            policy_ids,
            node_ids,
            pod_by_ip,
            node_by_ip,
            pod_class,
            pod_node,
            classes,
            compiled,
            peer_sets,
            peer_maybe,
            service_targets,
            ip_blocks,
            tiers,
            groups,
            tier_groups,
            group_of,
            tier_nets,
            cilium_classes,
            host_policies,
            host_endpoints,
        }
    }

    pub fn inventory(&self) -> &Arc<Inventory> {
        &self.inventory
    }

    pub fn policies(&self) -> &Arc<PolicySet> {
        &self.policies
    }

    pub fn options(&self) -> &EngineOptions {
        &self.options
    }

    /// Whether Cilium's host firewall is on: as the user says, else as the cluster's Cilium
    /// configuration says; `None` when neither tells.
    pub fn host_firewall(&self) -> Option<bool> {
        self.policies
            .host_firewall(self.options.cilium_host_firewall)
    }

    pub fn pod_id(&self, namespace: &str, name: &str) -> Option<PodId> {
        self.pod_ids
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }

    pub fn policy_id(&self, namespace: &str, name: &str) -> Option<PolicyId> {
        self.policy_ids
            .get(&(namespace.to_string(), name.to_string()))
            .copied()
    }

    /// Position of the namespace in the inventory's (sorted) list.
    pub fn namespace_id(&self, name: &str) -> Option<u32> {
        self.namespace_ids.get(name).copied()
    }

    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.node_ids.get(name).copied()
    }

    pub fn namespace(&self, name: &str) -> Option<&super::model::Namespace> {
        self.namespace_ids
            .get(name)
            .map(|&i| &self.inventory.namespaces[i as usize])
    }

    pub fn namespace_labels(&self, namespace: &str) -> Option<&Labels> {
        self.namespace_ids
            .get(namespace)
            .map(|&i| &self.inventory.namespaces[i as usize].labels)
    }

    pub fn pod_node(&self, pod: PodId) -> Option<NodeId> {
        self.pod_node[pod as usize]
    }

    /// The endpoint an address stands for: a pod, a node, or something outside the cluster.
    pub fn endpoint_for_ip(&self, addr: IpAddr) -> Endpoint {
        if let Some(&pod) = self.pod_by_ip.get(&addr) {
            Endpoint::Pod {
                pod,
                addr: Some(addr),
            }
        } else if let Some(&node) = self.node_by_ip.get(&addr) {
            Endpoint::Node {
                node,
                addr: Some(addr),
            }
        } else {
            Endpoint::External(addr)
        }
    }

    /// Policies that select the pod and isolate it in `direction`, ascending by id
    /// (that is, by namespace and name).
    pub fn isolating_policies(&self, pod: PodId, direction: Direction) -> &[PolicyId] {
        let class = &self.classes[self.pod_class[pod as usize] as usize];
        match direction {
            Direction::Ingress => &class.ingress,
            Direction::Egress => &class.egress,
        }
    }

    /// How many pods of the inventory a selector peer of a policy's rule matches (`None` for
    /// an ipBlock peer, or an index out of range). Counted per class, not per pod.
    pub fn peer_pods(
        &self,
        policy: PolicyId,
        direction: Direction,
        rule: usize,
        peer: usize,
    ) -> Option<usize> {
        let compiled = self.compiled.get(policy as usize)?;
        match compiled.rules(direction).get(rule)?.peers.get(peer)? {
            CompiledPeer::Classes(set) => Some(
                self.peer_sets[*set as usize]
                    .ones()
                    .map(|c| self.classes[c].members as usize)
                    .sum(),
            ),
            _ => None,
        }
    }

    /// The pods a selector peer of a policy's rule surely matches (`None` for a peer that is
    /// no selector, or an index out of range).
    pub fn peer_members(
        &self,
        policy: PolicyId,
        direction: Direction,
        rule: usize,
        peer: usize,
    ) -> Option<Vec<PodId>> {
        let compiled = self.compiled.get(policy as usize)?;
        match compiled.rules(direction).get(rule)?.peers.get(peer)? {
            CompiledPeer::Classes(set) => {
                let set = &self.peer_sets[*set as usize];
                Some(
                    (0..self.pod_class.len() as PodId)
                        .filter(|&p| set.contains(self.pod_class[p as usize] as usize))
                        .collect(),
                )
            }
            _ => None,
        }
    }

    /// How many more pods a selector peer may match: those in namespaces whose labels could
    /// not be read and that the peer's namespace selector might select. `None` for ipBlocks
    /// and where every namespace it could reach is known.
    pub fn peer_pods_unknown(
        &self,
        policy: PolicyId,
        direction: Direction,
        rule: usize,
        peer: usize,
    ) -> Option<usize> {
        let compiled = self.compiled.get(policy as usize)?;
        match compiled.rules(direction).get(rule)?.peers.get(peer)? {
            CompiledPeer::Classes(set) => self.peer_maybe[*set as usize]
                .as_ref()
                .map(|m| m.ones().map(|c| self.classes[c].members as usize).sum()),
            _ => None,
        }
    }

    /// Number of pod classes (pods that every policy treats alike).
    pub fn class_count(&self) -> usize {
        self.classes.len()
    }

    pub fn exemption(&self, flow: &Flow) -> Option<Exemption> {
        match (flow.src, flow.dst) {
            (Endpoint::Pod { pod: a, .. }, Endpoint::Pod { pod: b, .. }) if a == b => {
                Some(Exemption::SelfTraffic)
            }
            (Endpoint::Pod { pod, .. }, Endpoint::Node { node, .. })
            | (Endpoint::Node { node, .. }, Endpoint::Pod { pod, .. })
                if self.pod_node[pod as usize] == Some(node) =>
            {
                Some(Exemption::NodeLocal)
            }
            _ => None,
        }
    }

    pub fn verdict(&self, flow: &Flow) -> Verdict {
        let v = self.sides(flow);
        Verdict {
            exemption: v.exemption.map(|e| {
                e.settled(
                    flow,
                    (&v.egress, &v.ingress),
                    !self.host_policies.is_empty(),
                )
            }),
            ..v
        }
    }

    /// Both sides, with the exemption as the ends alone make it.
    fn sides(&self, flow: &Flow) -> Verdict {
        let egress = match flow.src {
            Endpoint::Pod { pod, .. } => self.side(Direction::Egress, pod, &flow.dst, flow),
            Endpoint::Node { node, .. } => self.host_side(Direction::Egress, node, &flow.dst, flow),
            Endpoint::External(_) => Side::NotApplicable,
        };
        let ingress = match flow.dst {
            Endpoint::Pod { pod, .. } => self.side(Direction::Ingress, pod, &flow.src, flow),
            Endpoint::Node { node, .. } => {
                self.host_side(Direction::Ingress, node, &flow.src, flow)
            }
            Endpoint::External(_) => Side::NotApplicable,
        };
        Verdict {
            egress,
            ingress,
            exemption: self.exemption(flow),
        }
    }

    /// The node of the subject of a side, where known.
    fn own_node(&self, own: Own) -> Option<&str> {
        match own {
            Own::Pod(pod) => self.inventory.pods[pod as usize].node.as_deref(),
            Own::Host(node) => Some(self.inventory.nodes[node as usize].name.as_str()),
            Own::Nothing => None,
        }
    }

    /// Whether every NetworkPolicy of the pod's namespace could be read.
    pub fn policies_known(&self, pod: PodId) -> bool {
        let class = self.pod_class[pod as usize];
        self.class_policies_known(class, Direction::Ingress)
            && self.class_policies_known(class, Direction::Egress)
    }

    /// Whether every policy that may decide a pod's side of `direction` is known: read, and
    /// known to select it or not.
    pub fn policies_known_for(&self, pod: PodId, direction: Direction) -> bool {
        self.class_policies_known(self.pod_class[pod as usize], direction)
    }

    /// Whether every NetworkPolicy of a class's namespace could be read, and which Cilium
    /// policies select it is known.
    fn class_policies_known(&self, class: u32, direction: Direction) -> bool {
        let class = &self.classes[class as usize];
        if class.selection_unknown[direction_index(direction)] || class.host_unjudged {
            return false;
        }
        let ns = class.namespace;
        self.inventory
            .namespaces
            .get(ns as usize)
            .is_none_or(|n| n.policies_known)
    }

    /// One side through the tiers: Calico tiers ordered before the Admin tier, the Admin
    /// tier, Cilium's denies, Calico tiers ordered before the default tier, NetworkPolicy,
    /// then (for a pod that no NetworkPolicy isolates) Calico tiers ordered before the
    /// Baseline tier, the Baseline tier and the Calico tiers after it. Where Calico's
    /// default tier has policies, NetworkPolicy is part of it: Calico policies of lower
    /// order first, then NetworkPolicy's allows, then the rest, then the tier's deny for a
    /// pod any of them selects; a Pass leaves the tier for the tiers after it.
    fn side(&self, direction: Direction, subject: PodId, peer: &Endpoint, flow: &Flow) -> Side {
        if self.classes[self.pod_class[subject as usize] as usize].host_unjudged {
            // Calico's host endpoint policy decides, and is not judged.
            return Side::Unknown {
                isolating: Vec::new(),
                rule: None,
            };
        }
        if !self.tiers_active() {
            return self.network_policy_side(direction, subject, peer, flow);
        }
        if !self.policies.tiers_known {
            // Tier policies that could not be read may decide anything, before or after.
            return Side::TierUnknown { rule: None };
        }
        let class = self.pod_class[subject as usize];
        for tier in Tier::BEFORE_NETWORK_POLICY {
            if let Some(side) = self.tier_side(tier, direction, class, peer, flow) {
                return side;
            }
        }
        let after = || {
            Tier::AFTER_NETWORK_POLICY
                .into_iter()
                .find_map(|tier| self.tier_side(tier, direction, class, peer, flow))
                .unwrap_or(Side::NotIsolated)
        };
        if !self.calico_default_active() {
            return match self.network_policy_side(direction, subject, peer, flow) {
                Side::NotIsolated => after(),
                side => side,
            };
        }
        match self.tier_step(Tier::CalicoBefore, direction, class, peer, flow) {
            Step::Decided(side) => return side,
            Step::Passed => return after(),
            Step::Continue => {}
        }
        let np = self.network_policy_side(direction, subject, peer, flow);
        if matches!(np, Side::Allowed(_) | Side::Unknown { .. }) {
            return np;
        }
        match self.tier_step(Tier::CalicoAfter, direction, class, peer, flow) {
            Step::Decided(side) => return side,
            Step::Passed => return after(),
            Step::Continue => {}
        }
        let (selecting, maybe) = self.default_tier_selecting(direction, class);
        Side::end_of_default_tier(&np, selecting, maybe).unwrap_or_else(after)
    }

    /// The NetworkPolicy tier alone.
    fn network_policy_side(
        &self,
        direction: Direction,
        subject: PodId,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Side {
        match self.side_of_readable(direction, subject, peer, flow) {
            // Policies that could not be read may isolate the pod, or admit the flow.
            Side::NotIsolated if !self.policies_known_for(subject, direction) => Side::Unknown {
                isolating: Vec::new(),
                rule: None,
            },
            Side::Denied { isolating } if !self.policies_known_for(subject, direction) => {
                Side::Unknown {
                    isolating,
                    rule: None,
                }
            }
            side => side,
        }
    }

    /// The side as the policies that could be read decide it.
    fn side_of_readable(
        &self,
        direction: Direction,
        subject: PodId,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Side {
        let isolating = self.isolating_policies(subject, direction);
        self.rules_side(direction, isolating, Own::Pod(subject), peer, flow)
    }

    /// What the rules of the policies isolating subject `own` decide: the first
    /// rule that surely admits the flow, or one that might; denied where none does.
    fn rules_side(
        &self,
        direction: Direction,
        isolating: &[PolicyId],
        own: Own,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Side {
        if isolating.is_empty() {
            return Side::NotIsolated;
        }
        let mut maybe: Option<RuleRef> = None;
        for &pid in isolating {
            for (r, rule) in self.compiled[pid as usize]
                .rules(direction)
                .iter()
                .enumerate()
            {
                let (peer_hit, sure) = if rule.peers.is_empty() {
                    (Some(None), true)
                } else {
                    match rule
                        .peers
                        .iter()
                        .position(|p| self.peer_matches(p, own, peer) == Some(true))
                    {
                        Some(i) => (Some(Some(i as u32)), true),
                        None => (
                            rule.peers
                                .iter()
                                .position(|p| self.peer_matches(p, own, peer).is_none())
                                .map(|i| Some(i as u32)),
                            false,
                        ),
                    }
                };
                let Some(peer_hit) = peer_hit else { continue };
                if let Some(port_hit) =
                    self.port_matches(&rule.ports, &flow.dst, flow.protocol, flow.port)
                {
                    let rule = RuleRef {
                        policy: pid,
                        rule: r as u32,
                        peer: peer_hit,
                        port: port_hit,
                    };
                    if sure {
                        return Side::Allowed(rule);
                    }
                    maybe.get_or_insert(rule);
                }
            }
        }
        match maybe {
            Some(rule) => Side::Unknown {
                isolating: isolating.to_vec(),
                rule: Some(rule),
            },
            None => Side::Denied {
                isolating: isolating.to_vec(),
            },
        }
    }

    /// Whether a peer matches the other end: `None` when it depends on namespace labels that
    /// cannot be read.
    fn peer_matches(&self, peer: &CompiledPeer, own: Own, endpoint: &Endpoint) -> Option<bool> {
        Some(match (peer, endpoint) {
            (CompiledPeer::Entity(e), endpoint) => return self.entity_matches(*e, own, endpoint),
            (CompiledPeer::Outside(block), endpoint) => {
                return self.outside_matches(block, endpoint)
            }
            (CompiledPeer::Domains(names), Endpoint::External(ip)) => {
                return self.options.domains.resolves(names, ip)
            }
            (CompiledPeer::Unjudged, _) => return None,
            (CompiledPeer::Domains(_), _) => false,
            (CompiledPeer::Classes(set), Endpoint::Pod { pod, .. })
            | (CompiledPeer::Services { pods: set, .. }, Endpoint::Pod { pod, .. }) => {
                let class = self.pod_class[*pod as usize] as usize;
                if self.peer_sets[*set as usize].contains(class) {
                    true
                } else if self.peer_maybe[*set as usize]
                    .as_ref()
                    .is_some_and(|m| m.contains(class))
                {
                    return None;
                } else {
                    false
                }
            }
            (CompiledPeer::Services { targets, .. }, endpoint) => {
                // The ready endpoints of Services without a selector, as a CIDR set; an
                // address whose membership is in doubt is unknown.
                let t = &self.service_targets[*targets as usize];
                let hit = self.outside_matches_with(|ip| t.holds(ip), endpoint);
                if hit != Some(false) {
                    return hit;
                }
                let doubt = self.outside_matches_with(|ip| t.address_doubt(ip).is_some(), endpoint);
                return if doubt == Some(false) {
                    Some(false)
                } else {
                    None
                };
            }
            (CompiledPeer::Classes(_), _) => false,
            (CompiledPeer::IpBlock(b), endpoint) => {
                let block = &self.ip_blocks[*b as usize];
                match endpoint {
                    Endpoint::External(ip) => block.contains(ip),
                    Endpoint::Node { addr: Some(ip), .. } => block.contains(ip),
                    Endpoint::Node { node, addr: None } => self.inventory.nodes[*node as usize]
                        .addresses
                        .iter()
                        .any(|ip| block.contains(ip)),
                    Endpoint::Pod { .. } if !self.options.ipblock_matches_pods => false,
                    Endpoint::Pod { addr: Some(ip), .. } => block.contains(ip),
                    Endpoint::Pod { pod, addr: None } => self.classes
                        [self.pod_class[*pod as usize] as usize]
                        .ip_blocks
                        .binary_search(b)
                        .is_ok(),
                }
            }
        })
    }

    /// Whether a Cilium entity holds the far end of a flow whose subject (a selected pod, or
    /// a node's host endpoint) is `own` (`None`: cannot be told: which node a host-network
    /// pod shares with the subject is not judged per class; the API server's addresses and
    /// Cilium's own endpoints are not in the inventory; an outside address may be a node that
    /// could not be read).
    pub(super) fn entity_matches(
        &self,
        entity: Entity,
        own: Own,
        endpoint: &Endpoint,
    ) -> Option<bool> {
        match endpoint {
            Endpoint::Pod { pod, .. } => match entity {
                Entity::All | Entity::Cluster => Some(true),
                Entity::Host | Entity::RemoteNode | Entity::KubeApiserver
                    if self.inventory.pods[*pod as usize].host_network =>
                {
                    None
                }
                _ => Some(false),
            },
            Endpoint::Node { node, .. } => match entity {
                Entity::All | Entity::Cluster => Some(true),
                Entity::Host | Entity::RemoteNode => {
                    let host = self.own_node(own)? == self.inventory.nodes[*node as usize].name;
                    Some(host == (entity == Entity::Host))
                }
                Entity::KubeApiserver => None,
                _ => Some(false),
            },
            Endpoint::External(_) => match entity {
                Entity::All => Some(true),
                Entity::World if self.inventory.nodes_known => Some(true),
                Entity::Cluster | Entity::Host | Entity::RemoteNode
                    if self.inventory.nodes_known =>
                {
                    Some(false)
                }
                _ => None,
            },
        }
    }

    /// The classes a Cilium peer of no selector matches, surely and maybe, as
    /// [`Index::entity_matches`] judges their pods: an entity, or (`None`) an unjudged peer.
    pub(super) fn cilium_peer_classes(
        &self,
        entity: Option<Entity>,
    ) -> (&FixedBitSet, &FixedBitSet) {
        let k = match entity {
            Some(Entity::All | Entity::Cluster) => 0,
            Some(Entity::Host | Entity::RemoteNode | Entity::KubeApiserver) => 1,
            Some(_) => 2,
            None => 3,
        };
        let (sure, maybe) = &self.cilium_classes[k];
        (sure, maybe)
    }

    /// Whether a Cilium CIDR holds the far end: outside addresses only.
    pub(super) fn outside_matches(&self, block: &IpBlock, endpoint: &Endpoint) -> Option<bool> {
        self.outside_matches_with(|ip| block.contains(ip), endpoint)
    }

    /// Whether a Cilium CIDR peer holding the addresses `contains` says matches the end.
    fn outside_matches_with(
        &self,
        contains: impl Fn(&IpAddr) -> bool,
        endpoint: &Endpoint,
    ) -> Option<bool> {
        match endpoint {
            // With policy-cidr-match-mode nodes, a node's addresses are matched by CIDR too,
            // so an address that may be an unread node's is no longer in doubt.
            Endpoint::External(ip) if contains(ip) => {
                Some(self.options.cilium_cidr_matches_nodes || self.inventory.nodes_known)
                    .filter(|&known| known)
            }
            Endpoint::Node { node, addr } if self.options.cilium_cidr_matches_nodes => {
                let addrs = match addr {
                    Some(ip) => std::slice::from_ref(ip),
                    None => &self.inventory.nodes[*node as usize].addresses,
                };
                Some(addrs.iter().any(&contains))
            }
            _ => Some(false),
        }
    }

    /// `Some(None)`: the rule has no ports; `Some(Some(i))`: port entry i admits the flow.
    fn port_matches(
        &self,
        ports: &[PortSpec],
        dst: &Endpoint,
        protocol: Protocol,
        port: u16,
    ) -> Option<Option<u32>> {
        if ports.is_empty() {
            return Some(None);
        }
        let dst_ports = dst
            .pod_id()
            .map(|p| self.inventory.pods[p as usize].ports.as_slice())
            .unwrap_or_default();
        ports
            .iter()
            .position(|spec| port_spec_matches(spec, dst_ports, protocol, port))
            .map(|i| Some(i as u32))
    }
}

/// Whether one port entry admits `protocol`/`port` towards a destination whose container
/// ports are `dst_ports` (empty when the destination is not a pod).
pub fn port_spec_matches(
    spec: &PortSpec,
    dst_ports: &[ContainerPort],
    protocol: Protocol,
    port: u16,
) -> bool {
    if spec.protocol != protocol {
        return false;
    }
    match &spec.port {
        PortMatch::Any => true,
        PortMatch::Range { from, to } => (*from..=*to).contains(&port),
        PortMatch::Named { name } => dst_ports.iter().any(|cp| {
            cp.protocol == protocol && cp.port == port && cp.name.as_deref() == Some(name)
        }),
    }
}

/// The four answers a Cilium peer of no selector gives over the classes, as
/// [`Index::cilium_peer_classes`] indexes them: every class surely (`all`, `cluster`);
/// host-network classes maybe (`host`, `remote-node`, `kube-apiserver`: which node a
/// host-network pod shares is not judged per class); none (the other entities); every class
/// maybe (an unjudged peer).
fn cilium_class_sets(classes: &[Class]) -> [(FixedBitSet, FixedBitSet); 4] {
    let n = classes.len();
    let none = || FixedBitSet::with_capacity(n);
    let every = || {
        let mut s = none();
        s.insert_range(..);
        s
    };
    let mut host = none();
    for (c, class) in classes.iter().enumerate() {
        if class.host_network {
            host.insert(c);
        }
    }
    [
        (every(), none()),
        (none(), host),
        (none(), none()),
        (none(), every()),
    ]
}

/// The classes whose pods `holds` (surely, maybe), judged on each class's representative
/// with its namespace.
fn class_sets(
    inventory: &Inventory,
    classes: &[Class],
    holds: impl Fn(&super::model::Pod, Option<&super::model::Namespace>) -> Option<bool>,
) -> (FixedBitSet, Option<FixedBitSet>) {
    let n = classes.len();
    let mut set = FixedBitSet::with_capacity(n);
    let mut maybe: Option<FixedBitSet> = None;
    for (c, class) in classes.iter().enumerate() {
        let pod = &inventory.pods[class.representative as usize];
        let ns = inventory.namespaces.get(class.namespace as usize);
        match holds(pod, ns) {
            Some(true) => set.insert(c),
            Some(false) => {}
            None => maybe
                .get_or_insert_with(|| FixedBitSet::with_capacity(n))
                .insert(c),
        }
    }
    (set, maybe)
}

/// Whether a selector of pods names Cilium's service account label: a policy's pod
/// selector, a pod peer's, a tier policy's subject or pod peer.
fn names_service_account(policies: &PolicySet) -> bool {
    use super::selector::SERVICE_ACCOUNT_LABEL as SA;
    let peers = policies
        .policies
        .iter()
        .flat_map(|p| p.ingress.iter().chain(p.egress.iter()).flatten())
        .flat_map(|r| &r.peers)
        .any(|peer| matches!(peer, Peer::Pods { pods, .. } if pods.names(SA)));
    let tier_peers = policies
        .tiers
        .iter()
        .flat_map(|t| t.ingress.iter().chain(&t.egress))
        .flat_map(|r| &r.peers)
        .any(|peer| matches!(peer, TierPeer::Pods { pods, .. } if pods.names(SA)));
    peers
        || tier_peers
        || policies.policies.iter().any(|p| p.pod_selector.names(SA))
        || policies.tiers.iter().any(
            |t| matches!(&t.subject, super::tiers::Subject::Pods { pods, .. } if pods.names(SA)),
        )
}

/// The host-network classes a Cilium host policy's node selector selects: surely (`true`),
/// or maybe (`false`: their node could not be read, or the host firewall is not known on).
fn host_classes(
    inventory: &Inventory,
    node_ids: &HashMap<String, NodeId>,
    classes: &[Class],
    nodes: &Selector,
    firewall: Option<bool>,
) -> Vec<(u32, bool)> {
    classes
        .iter()
        .enumerate()
        .filter(|(_, class)| class.host_network)
        .filter_map(|(c, class)| {
            let labels = node_labels(inventory, node_ids, class.representative);
            match super::model::host_selects(nodes, labels, firewall) {
                Some(true) => Some((c as u32, true)),
                None => Some((c as u32, false)),
                Some(false) => None,
            }
        })
        .collect()
}

/// The labels of a pod's node, where the node was read.
fn node_labels<'a>(
    inventory: &'a Inventory,
    node_ids: &HashMap<String, NodeId>,
    pod: PodId,
) -> Option<&'a Labels> {
    let node = inventory.pods[pod as usize].node.as_ref()?;
    let id = *node_ids.get(node)?;
    Some(&inventory.nodes[id as usize].labels)
}

/// A direction's place in per-direction arrays.
fn direction_index(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

/// Leaves host-network classes out of a peer set (they are no Cilium endpoints, and tier
/// policies never select them).
fn without_host_network(classes: &[Class], set: &mut FixedBitSet, maybe: &mut Option<FixedBitSet>) {
    for (c, class) in classes.iter().enumerate() {
        if class.host_network {
            set.set(c, false);
            if let Some(m) = maybe {
                m.set(c, false);
            }
        }
    }
}

/// The classes a selector peer matches, and those it matches only if namespace labels that
/// cannot be read are what its namespaceSelector asks for.
fn selector_classes(
    inventory: &Inventory,
    classes: &[Class],
    namespace_classes: &[Vec<u32>],
    key: &(u32, Selector, Option<Selector>),
    class_count: usize,
) -> (FixedBitSet, Option<FixedBitSet>) {
    let (own_ns, pods, namespaces) = key;
    let mut set = FixedBitSet::with_capacity(class_count);
    let mut maybe: Option<FixedBitSet> = None;
    let add_namespace = |ns: usize, to: &mut FixedBitSet| {
        for &c in &namespace_classes[ns] {
            let rep = classes[c as usize].representative;
            if inventory.pods[rep as usize].selected_by(pods) {
                to.insert(c as usize);
            }
        }
    };
    match namespaces {
        None => {
            if (*own_ns as usize) < namespace_classes.len() {
                add_namespace(*own_ns as usize, &mut set);
            }
        }
        Some(ns_selector) => {
            for (i, ns) in inventory.namespaces.iter().enumerate() {
                match ns_selector.matches_partly(&ns.labels, |k| ns.knows(k)) {
                    Some(true) => add_namespace(i, &mut set),
                    Some(false) => {}
                    None => add_namespace(
                        i,
                        maybe.get_or_insert_with(|| FixedBitSet::with_capacity(class_count)),
                    ),
                }
            }
        }
    }
    (set, maybe)
}
