//! The engine's input model: the normalized world (namespaces, pods, nodes) and the
//! normalized policies, after the API server's defaulting and validation.
//!
//! Plain data only. Sources in `cluster/` build these values; the engine reads them.
//! Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::fmt;
use std::net::IpAddr;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

pub use super::selector::Labels;
use super::selector::{Selector, SERVICE_ACCOUNT_LABEL};

/// The label every namespace carries since Kubernetes 1.21.
pub const NAMESPACE_NAME_LABEL: &str = "kubernetes.io/metadata.name";

/// Where an object came from, for messages that point the user back at the input.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Origin {
    /// File path, `<stdin>`, `<demo>` or `cluster`.
    pub source: String,
    /// 1-based line of the object's document, when the source has lines.
    pub line: Option<usize>,
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.line {
            Some(line) => write!(f, "{}:{}", self.source, line),
            None => f.write_str(&self.source),
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Protocol {
    Tcp,
    Udp,
    Sctp,
}

impl Protocol {
    pub const ALL: [Protocol; 3] = [Protocol::Tcp, Protocol::Udp, Protocol::Sctp];

    /// Parses the API spelling (`TCP`, `UDP`, `SCTP`); case-insensitive for the CLI.
    pub fn parse(s: &str) -> Option<Protocol> {
        match s.to_ascii_uppercase().as_str() {
            "TCP" => Some(Protocol::Tcp),
            "UDP" => Some(Protocol::Udp),
            "SCTP" => Some(Protocol::Sctp),
            _ => None,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "TCP",
            Protocol::Udp => "UDP",
            Protocol::Sctp => "SCTP",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Namespace {
    pub name: String,
    pub labels: Labels,
    /// True when no Namespace object was given and it was made up from a reference.
    #[serde(default)]
    pub implicit: bool,
    /// False when the namespace's labels could not be read (namespaces forbidden): only the
    /// automatic `kubernetes.io/metadata.name` label is known, and a selector on any other
    /// label neither matches nor fails: its verdicts are unknown.
    #[serde(default = "yes")]
    pub labels_known: bool,
    /// False when the namespace's NetworkPolicies could not be read: whether its pods are
    /// isolated is unknown, so only what a readable policy surely admits is a definite answer.
    #[serde(default = "yes")]
    pub policies_known: bool,
    /// False when the namespace's Services could not be read: a Service there cannot be
    /// resolved to its pods.
    #[serde(default = "yes")]
    pub services_known: bool,
}

impl Namespace {
    /// Whether the value of label `key` is known (present or absent for sure).
    pub fn knows(&self, key: &str) -> bool {
        self.labels_known || key == NAMESPACE_NAME_LABEL
    }
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct ContainerPort {
    pub name: Option<String>,
    pub port: u16,
    pub protocol: Protocol,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pod {
    pub namespace: String,
    pub name: String,
    pub labels: Labels,
    /// Pod IPs (podIPs, or podIP). Empty for pods made from workload templates.
    pub ips: Vec<IpAddr>,
    pub node: Option<String>,
    pub host_network: bool,
    pub ports: Vec<ContainerPort>,
    /// `Kind/name` of the pod's workload: its controller (a ReplicaSet's Deployment where
    /// the names show it), or the workload whose template this pod stands for.
    pub workload: Option<String>,
    /// The pod stands for a workload's template: it has no IP and no node yet.
    #[serde(default)]
    pub template: bool,
    /// Its service account (`spec.serviceAccountName`); `None` reads as `default`, which the
    /// API server sets when none is given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_account: Option<String>,
    /// Its service account's labels, where that ServiceAccount was read (set by
    /// [`Inventory::normalize`]): what Calico's service account selectors match.
    #[serde(skip)]
    pub account_labels: Option<Labels>,
    #[serde(skip)]
    pub origin: Origin,
}

impl Pod {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Its service account: `default` where the spec names none, as the API server sets it.
    pub fn service_account(&self) -> &str {
        self.service_account.as_deref().unwrap_or("default")
    }

    /// Its labels as `selector` sees them: with its service account under
    /// [`SERVICE_ACCOUNT_LABEL`] where the selector names that label, as Cilium's endpoints
    /// carry it.
    pub fn labels_for(&self, selector: &Selector) -> std::borrow::Cow<'_, Labels> {
        if !selector.names(SERVICE_ACCOUNT_LABEL) {
            return std::borrow::Cow::Borrowed(&self.labels);
        }
        let mut labels = self.labels.clone();
        labels.insert(
            SERVICE_ACCOUNT_LABEL.to_string(),
            self.service_account().to_string(),
        );
        std::borrow::Cow::Owned(labels)
    }

    /// Whether `selector` selects it by its labels (and service account, where named).
    pub fn selected_by(&self, selector: &Selector) -> bool {
        selector.matches(&self.labels_for(selector))
    }

    /// `Kind/name` of the workload, or `Pod/name` for a pod no controller owns.
    pub fn workload_ref(&self) -> String {
        match &self.workload {
            Some(w) => w.clone(),
            None => format!("Pod/{}", self.name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Node {
    pub name: String,
    pub addresses: Vec<IpAddr>,
    /// What the `nodes` peers of tier policies select by.
    #[serde(default)]
    pub labels: Labels,
}

/// A ServiceAccount, as far as policies read it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceAccount {
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    pub labels: Labels,
}

/// How a Service is reached (`spec.type`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ServiceType {
    ClusterIP,
    NodePort,
    LoadBalancer,
    ExternalName,
}

impl ServiceType {
    pub fn parse(text: &str) -> Option<ServiceType> {
        match text {
            "ClusterIP" => Some(ServiceType::ClusterIP),
            "NodePort" => Some(ServiceType::NodePort),
            "LoadBalancer" => Some(ServiceType::LoadBalancer),
            "ExternalName" => Some(ServiceType::ExternalName),
            _ => None,
        }
    }
}

/// Where a Service port sends traffic on a backing pod: a number, or a container port name
/// looked up on each pod (so pods of one Service may differ).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(untagged)]
pub enum TargetPort {
    Number(u16),
    Name(String),
}

impl fmt::Display for TargetPort {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            TargetPort::Number(n) => write!(f, "{n}"),
            TargetPort::Name(name) => f.write_str(name),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServicePort {
    pub name: Option<String>,
    pub protocol: Protocol,
    pub port: u16,
    /// `targetPort`, defaulted to `port` as the API server does.
    pub target: TargetPort,
    /// Allocated on NodePort and LoadBalancer Services.
    pub node_port: Option<u16>,
}

/// A Service, as far as it decides where traffic goes: NetworkPolicy never sees the
/// Service's address or port, only the backing pod and its target port.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Service {
    pub namespace: String,
    pub name: String,
    pub kind: ServiceType,
    /// `spec.selector`; `None` when absent: the endpoints are then written by hand (or by
    /// another controller) and cannot be told from the Service.
    pub selector: Option<Labels>,
    /// `spec.clusterIPs` (empty for a headless Service).
    pub cluster_ips: Vec<IpAddr>,
    /// `spec.externalIPs` and the load balancer's ingress addresses.
    pub external_ips: Vec<IpAddr>,
    pub ports: Vec<ServicePort>,
    /// `externalTrafficPolicy: Local`: traffic from outside keeps its source address.
    pub external_traffic_local: bool,
    /// `spec.externalName` of an ExternalName Service.
    pub external_name: Option<String>,
    /// The Service's own labels: what Cilium's `toServices` selects Services by.
    #[serde(default, skip_serializing_if = "Labels::is_empty")]
    pub labels: Labels,
    /// The addresses its EndpointSlices hold, as far as they were read (`None`: not read).
    /// For a Service with a selector, these are the slices beyond those the EndpointSlice
    /// controller makes from its pods (live, those are never fetched).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub endpoints: Option<ServiceEndpoints>,
    #[serde(skip)]
    pub origin: Origin,
}

/// The addresses behind a Service without a selector, as its EndpointSlices (or the Endpoints
/// object they mirror) say. Sorted, without repeats.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ServiceEndpoints {
    /// Endpoints that are ready, or whose readiness is not said (which the API says to read
    /// as ready).
    pub ready: Vec<IpAddr>,
    /// Endpoints that are not ready: consumers differ on whether such an endpoint (a
    /// terminating one, say) still counts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_ready: Vec<IpAddr>,
    /// The ports every endpoint serves, where every slice read lists the same ones (sorted);
    /// `None` where slices differ, or list none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ports: Option<Vec<(Protocol, u16)>>,
}

/// One EndpointSlice, or one legacy Endpoints object, as read: the Service it belongs to
/// and its addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EndpointSlice {
    pub namespace: String,
    /// The Service it belongs to (the `kubernetes.io/service-name` label of a slice, the
    /// name of an Endpoints object).
    pub service: String,
    pub addresses: ServiceEndpoints,
}

/// The ports every part (a slice, a subset of Endpoints) lists alike: `None` where there is
/// no part, one lists none, or two differ.
pub fn agreed_ports(
    lists: impl IntoIterator<Item = Option<Vec<(Protocol, u16)>>>,
) -> Option<Vec<(Protocol, u16)>> {
    let mut lists = lists.into_iter();
    let first = lists.next()?.filter(|p| !p.is_empty())?;
    lists.all(|l| l.as_ref() == Some(&first)).then_some(first)
}

/// Gives each Service the addresses of its EndpointSlices. `complete`, for Services without
/// a selector and for those with one: every slice of such Services was read, so one with
/// none has no endpoints (beyond its pods); else a Service none of whose slices was read
/// has endpoints not known.
pub fn attach_endpoints(
    services: &mut [Service],
    slices: &[EndpointSlice],
    [selectorless, selecting]: [bool; 2],
) {
    for service in services.iter_mut() {
        let complete = match service.selector {
            None => selectorless,
            Some(_) => selecting,
        };
        let mut mine = slices
            .iter()
            .filter(|e| e.namespace == service.namespace && e.service == service.name)
            .peekable();
        if mine.peek().is_none() && !complete {
            service.endpoints = None;
            continue;
        }
        let mine: Vec<&EndpointSlice> = mine.collect();
        let mut all = ServiceEndpoints {
            ports: agreed_ports(mine.iter().map(|s| s.addresses.ports.clone())),
            ..ServiceEndpoints::default()
        };
        for slice in mine {
            all.ready.extend(&slice.addresses.ready);
            all.not_ready.extend(&slice.addresses.not_ready);
        }
        all.ready.sort();
        all.ready.dedup();
        all.not_ready.sort();
        all.not_ready.dedup();
        all.not_ready
            .retain(|ip| all.ready.binary_search(ip).is_err());
        service.endpoints = Some(all);
    }
}

impl Service {
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// Whether its selector picks the pod: one of its namespace with every key of the
    /// selector, at the same value. A Service without a selector picks none.
    pub fn selects(&self, pod: &Pod) -> bool {
        self.selector.as_ref().is_some_and(|selector| {
            pod.namespace == self.namespace
                && selector.iter().all(|(k, v)| pod.labels.get(k) == Some(v))
        })
    }

    /// `namespace/svc/name`: how a destination names it.
    pub fn reference(&self) -> String {
        format!("{}/svc/{}", self.namespace, self.name)
    }
}

/// Everything that policies select and flows connect: sorted by name for stable output.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Inventory {
    pub namespaces: Vec<Namespace>,
    pub pods: Vec<Pod>,
    pub nodes: Vec<Node>,
    /// Services: how a destination given as a Service reaches pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub services: Vec<Service>,
    /// ServiceAccounts read: their labels are what Calico's service account selectors
    /// match. A pod whose service account is not among them has labels not known.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_accounts: Vec<ServiceAccount>,
    /// False when node objects could not be read: node-local exemptions are then unknown.
    #[serde(default = "yes")]
    pub nodes_known: bool,
    /// What the source could not see (forbidden to read), one sentence each. Verdicts about
    /// addresses that might belong to unseen pods carry a note.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hidden: Vec<String>,
}

fn yes() -> bool {
    true
}

impl Inventory {
    /// The Service `namespace/name`, if it was read.
    pub fn service(&self, namespace: &str, name: &str) -> Option<&Service> {
        self.services
            .iter()
            .find(|s| s.namespace == namespace && s.name == name)
    }

    /// Why whether namespace `namespace` has a Service is not known: its Services could not
    /// be read, or it was not seen where Services are not read everywhere.
    pub fn services_unknown_in(&self, namespace: &str) -> Option<String> {
        match self.namespaces.iter().find(|n| n.name == namespace) {
            Some(ns) if !ns.services_known => Some(format!(
                "the Services of namespace {namespace} could not be read"
            )),
            None if self.namespaces.iter().any(|n| !n.services_known) => Some(format!(
                "namespace {namespace} was not seen, and Services are not read everywhere"
            )),
            _ => None,
        }
    }

    /// Why a host policy's node selector has no effect, where every node was read and none
    /// matches it.
    pub fn selects_no_node(&self, nodes: &Selector) -> Option<String> {
        (self.nodes_known && self.nodes.iter().all(|n| !nodes.matches(&n.labels)))
            .then(|| format!("nodeSelector {nodes} selects no node: the host policy has no effect"))
    }

    /// Sorts every list by name so that indexes and output do not depend on input order.
    pub fn normalize(&mut self) {
        self.service_accounts
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        for pod in &mut self.pods {
            pod.account_labels = self
                .service_accounts
                .binary_search_by(|a| {
                    (a.namespace.as_str(), a.name.as_str())
                        .cmp(&(pod.namespace.as_str(), pod.service_account()))
                })
                .ok()
                .map(|i| self.service_accounts[i].labels.clone());
        }
        self.namespaces.sort_by(|a, b| a.name.cmp(&b.name));
        self.pods
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.nodes.sort_by(|a, b| a.name.cmp(&b.name));
        self.services
            .sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
    }
}

/// Which ports a rule's port entry admits, after defaulting.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PortMatch {
    /// `port` absent: every port of the protocol.
    Any,
    /// A number, or an inclusive range with `endPort`.
    Range { from: u16, to: u16 },
    /// A container port name, resolved on the destination pod.
    Named { name: String },
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PortSpec {
    pub protocol: Protocol,
    #[serde(flatten)]
    pub port: PortMatch,
}

impl fmt::Display for PortSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.port {
            PortMatch::Any => write!(f, "{}/any", self.protocol),
            PortMatch::Range { from, to } if from == to => write!(f, "{}/{}", self.protocol, from),
            PortMatch::Range { from, to } => write!(f, "{}/{}-{}", self.protocol, from, to),
            PortMatch::Named { name } => write!(f, "{}/{}", self.protocol, name),
        }
    }
}

/// Which namespaces a pod peer looks in.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "selector", rename_all = "snake_case")]
pub enum NamespaceScope {
    /// No namespaceSelector: the policy's own namespace.
    PolicyNamespace,
    /// A namespaceSelector (`{}` selects every namespace).
    Selector(Selector),
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct IpBlock {
    pub cidr: IpNet,
    pub except: Vec<IpNet>,
}

impl IpBlock {
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.cidr.contains(ip) && !self.except.iter().any(|e| e.contains(ip))
    }
}

impl fmt::Display for IpBlock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ipBlock {}", self.cidr)?;
        if !self.except.is_empty() {
            let except: Vec<String> = self.except.iter().map(|e| e.to_string()).collect();
            write!(f, " except {}", except.join(", "))?;
        }
        Ok(())
    }
}

/// One entry of a rule's `from` / `to` list.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Peer {
    /// podSelector and/or namespaceSelector (ANDed when both are in one entry).
    /// `pods` is the podSelector, or the everything-selector when it was absent.
    Pods {
        pods: Selector,
        namespaces: NamespaceScope,
    },
    IpBlock(IpBlock),
    /// A Cilium entity: a class of peers named without addresses.
    Entity(Entity),
    /// A Cilium CIDR (`fromCIDR`, `toCIDRSet`): addresses outside the cluster only, never
    /// pods or nodes, whatever `--ipblock-pods` says.
    Outside(IpBlock),
    /// Cilium `toFQDNs` (names or patterns): an address cannot be told to belong to one.
    Domains(Vec<String>),
    /// Cilium `toServices`: Services by name or label, looked up in the inventory
    /// ([`super::service_peer::ServiceTargets`]).
    Services(Vec<ServiceRef>),
    /// A peer this reader cannot judge (a service account, a Service, a required label set):
    /// every match with it is unknown, with the reason.
    Unjudged(String),
}

/// One entry of `toServices`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceRef {
    /// `None`: Services of every namespace.
    pub namespace: Option<String>,
    pub by: ServiceBy,
}

/// How an entry picks its Services.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ServiceBy {
    /// `k8sService.serviceName`.
    Name(String),
    /// `k8sServiceSelector.selector`, on the Services' own labels.
    Labels(Selector),
}

impl ServiceRef {
    /// Whether the entry picks the Service.
    pub fn picks(&self, service: &Service) -> bool {
        self.namespace
            .as_deref()
            .is_none_or(|ns| ns == service.namespace)
            && match &self.by {
                ServiceBy::Name(name) => *name == service.name,
                ServiceBy::Labels(selector) => selector.matches(&service.labels),
            }
    }
}

impl std::fmt::Display for ServiceRef {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let ns = self.namespace.as_deref();
        match (&self.by, ns) {
            (ServiceBy::Name(name), Some(ns)) => write!(f, "Service {ns}/{name}"),
            (ServiceBy::Name(name), None) => write!(f, "Services named {name} (any namespace)"),
            (ServiceBy::Labels(s), Some(ns)) => write!(f, "Services {s} in namespace {ns}"),
            (ServiceBy::Labels(s), None) => write!(f, "Services {s} (any namespace)"),
        }
    }
}

/// Cilium's entities (`fromEntities` / `toEntities`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Entity {
    /// Everything.
    All,
    /// Every address outside the cluster.
    World,
    /// Every pod and node of the cluster.
    Cluster,
    /// The node the selected pod runs on.
    Host,
    /// Every other node.
    RemoteNode,
    /// The API server's addresses, which the inventory does not hold.
    KubeApiserver,
    /// Cilium's own endpoints and proxies (`health`, `init`, `unmanaged`, `ingress`).
    Health,
    Init,
    Unmanaged,
    Ingress,
}

impl Entity {
    pub const ALL: [Entity; 10] = [
        Entity::All,
        Entity::World,
        Entity::Cluster,
        Entity::Host,
        Entity::RemoteNode,
        Entity::KubeApiserver,
        Entity::Health,
        Entity::Init,
        Entity::Unmanaged,
        Entity::Ingress,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Entity::All => "all",
            Entity::World => "world",
            Entity::Cluster => "cluster",
            Entity::Host => "host",
            Entity::RemoteNode => "remote-node",
            Entity::KubeApiserver => "kube-apiserver",
            Entity::Health => "health",
            Entity::Init => "init",
            Entity::Unmanaged => "unmanaged",
            Entity::Ingress => "ingress",
        }
    }

    pub fn parse(text: &str) -> Option<Entity> {
        Entity::ALL.into_iter().find(|e| e.as_str() == text)
    }
}

impl fmt::Display for Entity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One ingress or egress rule. An empty `peers` list admits every peer (`from` absent or
/// `[]`); an empty `ports` list admits every port and protocol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rule {
    pub peers: Vec<Peer>,
    pub ports: Vec<PortSpec>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    Ingress,
    Egress,
}

impl Direction {
    pub fn as_str(self) -> &'static str {
        match self {
            Direction::Ingress => "ingress",
            Direction::Egress => "egress",
        }
    }
}

impl fmt::Display for Direction {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A NetworkPolicy after defaulting. `ingress` is `Some` exactly when policyTypes holds
/// Ingress (the policy then isolates its pods for ingress); likewise `egress`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Policy {
    pub namespace: String,
    pub name: String,
    pub pod_selector: Selector,
    pub ingress: Option<Vec<Rule>>,
    pub egress: Option<Vec<Rule>>,
    /// Things the API accepts but that are probably not what the author meant.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
    /// The object it was made from (metadata.managedFields left out), for showing.
    #[serde(skip)]
    pub manifest: Option<Manifest>,
    /// For the allow rules of a Cilium policy, which join the NetworkPolicy tier.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cilium: Option<Box<CiliumPart>>,
}

/// What a Cilium policy's allow part adds to a NetworkPolicy: its kind, a clusterwide
/// subject, whether it puts its endpoints in default deny, and its L7 rules (shown, not
/// evaluated). Its deny rules are a tier policy of the Cilium tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CiliumPart {
    /// `CiliumNetworkPolicy` or `CiliumClusterwideNetworkPolicy`.
    pub kind: String,
    /// Clusterwide: the namespaces the endpointSelector selects in (`{}`: all). A namespaced
    /// policy selects in its own namespace only (`None`).
    pub namespaces: Option<Selector>,
    /// Whether the policy puts the endpoints it selects in default deny, per direction:
    /// when not, its allow rules count only where another policy isolates.
    pub default_deny_ingress: bool,
    pub default_deny_egress: bool,
    /// L7 rules and their place, in words: the flow passes L3/L4 and is filtered at L7.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub l7: Vec<L7Rule>,
    /// `io.cilium.policy.audit-mode: "true"`: verdicts are logged, not enforced.
    #[serde(default)]
    pub audit_mode: bool,
    /// A host policy's `nodeSelector` (Cilium's host firewall): it selects the host
    /// endpoints of the nodes whose labels match (their own addresses and the host-network
    /// pods on them), and no pod endpoint.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<Selector>,
}

/// Whether a Cilium host policy's node selector selects the host endpoint of a node with
/// `labels` (`None`: a node that could not be read), as Cilium's host firewall is on, off, or
/// not known to be either (`firewall`). `None` where that cannot be told: the node, or the
/// firewall (off by default, and host policies do nothing while it is off).
pub fn host_selects(
    nodes: &Selector,
    labels: Option<&Labels>,
    firewall: Option<bool>,
) -> Option<bool> {
    if firewall == Some(false) {
        return Some(false);
    }
    if !nodes.matches(labels?) {
        return Some(false);
    }
    firewall
}

/// An L7 filter on an allow rule: what a flow this rule admits is then filtered by.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct L7Rule {
    pub direction: Direction,
    /// The rule's index in that direction's allow rules.
    pub rule: u32,
    /// `GET /api/v1/.*, POST /api/v1/orders`, `DNS *.example.com`.
    pub text: String,
}

impl CiliumPart {
    pub fn default_deny(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.default_deny_ingress,
            Direction::Egress => self.default_deny_egress,
        }
    }

    /// The L7 filter of an allow rule, if any.
    pub fn l7_of(&self, direction: Direction, rule: usize) -> Option<&str> {
        self.l7
            .iter()
            .find(|l| l.direction == direction && l.rule as usize == rule)
            .map(|l| l.text.as_str())
    }

    /// `CiliumNP`, `CCNP`.
    pub fn short_kind(&self) -> &'static str {
        if self.kind == "CiliumClusterwideNetworkPolicy" {
            "CCNP"
        } else {
            "CiliumNP"
        }
    }
}

/// A NetworkPolicy object as given, shared; printed as YAML only when shown.
#[derive(Debug, Clone, PartialEq)]
pub struct Manifest(pub std::sync::Arc<k8s_openapi::api::networking::v1::NetworkPolicy>);

// NetworkPolicy holds strings, integers and lists of them: equality is total.
impl Eq for Manifest {}

impl Manifest {
    /// The object as YAML.
    pub fn yaml(&self) -> String {
        serde_yaml::to_string(&*self.0).unwrap_or_default()
    }
}

impl Policy {
    /// A default-deny for `direction`: it selects every pod of its namespace and isolates
    /// them that way with no rule.
    pub fn denies_all(&self, direction: Direction) -> bool {
        self.pod_selector.is_everything() && self.rules(direction).is_some_and(|r| r.is_empty())
    }

    pub fn key(&self) -> String {
        match &self.cilium {
            None => format!("{}/{}", self.namespace, self.name),
            // As the deny part's tier key: `Kind/name`, `Kind/namespace/name`.
            Some(c) if self.namespace.is_empty() => format!("{}/{}", c.kind, self.name),
            Some(c) => format!("{}/{}/{}", c.kind, self.namespace, self.name),
        }
    }

    /// The name in a list: a NetworkPolicy's name, `CiliumNP name`, `CCNP name`.
    pub fn display_name(&self) -> String {
        match &self.cilium {
            None => self.name.clone(),
            Some(c) => format!("{} {}", c.short_kind(), self.name),
        }
    }

    /// `NetworkPolicy`, or the Cilium kind.
    pub fn kind(&self) -> &str {
        self.cilium
            .as_ref()
            .map_or("NetworkPolicy", |c| c.kind.as_str())
    }

    /// Whether the policy isolates the pods it selects in `direction` (a Cilium policy may
    /// add allow rules without).
    pub fn isolates(&self, direction: Direction) -> bool {
        self.rules(direction).is_some()
            && self
                .cilium
                .as_ref()
                .is_none_or(|c| c.default_deny(direction))
    }

    pub fn rules(&self, direction: Direction) -> Option<&[Rule]> {
        match direction {
            Direction::Ingress => self.ingress.as_deref(),
            Direction::Egress => self.egress.as_deref(),
        }
    }
}
