//! Cluster-scoped policies in tiers (sig-network's policy API): AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2), after defaulting.
//!
//! Each side of a flow (egress of the source, ingress of the destination) is judged through
//! the Admin tier, then NetworkPolicy, then the Baseline tier. Within a tier, policies go by
//! priority (lower first) and rules in the order written; the first rule whose peer and port
//! match decides: Allow (Accept), Deny, or Pass (skip the rest of the tier). Nothing matching
//! anywhere leaves the traffic allowed: these tiers add no isolation. Calico's policies are
//! tier policies too ([`super::calico`]); in Calico's default tier, NetworkPolicy sits
//! between the two halves of the tier, and a pod the tier selects is denied what it does not
//! decide. Calico's tiers of their own stand before, between and after those, each denying
//! (or passing on, as its default action says) what it does not decide for a pod it selects.
//!
//! Pure: no I/O.

use std::fmt;

use ipnet::IpNet;
use serde::{Deserialize, Serialize};

use super::calico_selector::CalicoSelector;
use super::model::{Direction, Entity, IpBlock, Origin, PortSpec};
use super::selector::Selector;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Tier {
    /// Calico policies this reader cannot place: of a tier whose Tier object was not read,
    /// of a tier ordered exactly like a tier of its own (admin, default, baseline), or of
    /// order exactly 1000 in the default tier (tied with NetworkPolicies). First, as such
    /// tiers may precede the admin tier; a side whose pod they select is unknown.
    Calico,
    /// Calico tiers of order below 1000: before the admin tier.
    CalicoFirst,
    /// Before NetworkPolicy: AdminNetworkPolicy, ClusterNetworkPolicy `tier: Admin`.
    Admin,
    /// Cilium's deny rules (`ingressDeny`, `egressDeny`): after the Admin tier, before
    /// NetworkPolicy and Cilium's allow rules, which they override.
    Cilium,
    /// Calico tiers of order between 1000 and the default tier's 1,000,000.
    CalicoMiddle,
    /// Calico's default tier before NetworkPolicy: Calico policies of order below 1000
    /// (NetworkPolicies are that tier's policies of order 1000).
    CalicoBefore,
    /// Calico's default tier after NetworkPolicy: order above 1000, or none. A pod that any
    /// policy of the default tier selects (NetworkPolicies included) is denied what no rule
    /// of the tier decides.
    CalicoAfter,
    /// Calico tiers of order between the default tier's and the baseline tier's 10,000,000.
    CalicoLate,
    /// After NetworkPolicy: BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline`.
    Baseline,
    /// Calico tiers of order above 10,000,000, or none: last.
    CalicoLast,
}

impl Tier {
    /// Every tier, in the order a side goes through them.
    pub const ALL: [Tier; 10] = [
        Tier::Calico,
        Tier::CalicoFirst,
        Tier::Admin,
        Tier::Cilium,
        Tier::CalicoMiddle,
        Tier::CalicoBefore,
        Tier::CalicoAfter,
        Tier::CalicoLate,
        Tier::Baseline,
        Tier::CalicoLast,
    ];

    /// How many tiers there are.
    pub const COUNT: usize = 10;

    /// The tiers before NetworkPolicy (and Calico's default tier), in order: the first
    /// that decides, decides.
    pub const BEFORE_NETWORK_POLICY: [Tier; 5] = [
        Tier::Calico,
        Tier::CalicoFirst,
        Tier::Admin,
        Tier::Cilium,
        Tier::CalicoMiddle,
    ];

    /// The tiers after NetworkPolicy (and Calico's default tier), in order, for a side
    /// that goes on past it.
    pub const AFTER_NETWORK_POLICY: [Tier; 3] =
        [Tier::CalicoLate, Tier::Baseline, Tier::CalicoLast];

    /// Calico's default tier, which NetworkPolicy is part of.
    pub fn is_calico_default(self) -> bool {
        matches!(self, Tier::CalicoBefore | Tier::CalicoAfter)
    }

    /// Calico tiers of their own (Tier objects): each denies (or passes, as its
    /// `defaultAction` says) what it does not decide for a pod it selects.
    pub fn is_calico_named(self) -> bool {
        matches!(
            self,
            Tier::CalicoFirst | Tier::CalicoMiddle | Tier::CalicoLate | Tier::CalicoLast
        )
    }

    /// Any tier of Calico's policies.
    pub fn is_calico(self) -> bool {
        self == Tier::Calico || self.is_calico_default() || self.is_calico_named()
    }

    /// Position in [`Tier::ALL`].
    pub fn index(self) -> usize {
        match self {
            Tier::Calico => 0,
            Tier::CalicoFirst => 1,
            Tier::Admin => 2,
            Tier::Cilium => 3,
            Tier::CalicoMiddle => 4,
            Tier::CalicoBefore => 5,
            Tier::CalicoAfter => 6,
            Tier::CalicoLate => 7,
            Tier::Baseline => 8,
            Tier::CalicoLast => 9,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Calico => "calico",
            Tier::CalicoFirst => "calico, before the admin tier",
            Tier::Admin => "admin",
            Tier::Cilium => "cilium deny",
            Tier::CalicoMiddle => "calico, between the admin and default tiers",
            Tier::CalicoBefore => "calico default, before NetworkPolicy",
            Tier::CalicoAfter => "calico default, after NetworkPolicy",
            Tier::CalicoLate => "calico, between the default and baseline tiers",
            Tier::Baseline => "baseline",
            Tier::CalicoLast => "calico, after the baseline tier",
        }
    }
}

impl fmt::Display for Tier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What a matching rule does. v1alpha2's Accept is Allow.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    Allow,
    Deny,
    /// Skip the rest of this tier: the next tier decides.
    Pass,
}

impl Action {
    pub fn as_str(self) -> &'static str {
        match self {
            Action::Allow => "allow",
            Action::Deny => "deny",
            Action::Pass => "pass",
        }
    }
}

impl fmt::Display for Action {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// The pods a tier policy applies to (host-network pods never).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Subject {
    /// Every pod of the namespaces selected.
    Namespaces(Selector),
    /// The pods selected in the namespaces selected.
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
    /// A Calico policy's selector (on the pod's labels, `projectcalico.org/namespace` and
    /// its namespace's labels as `pcns.*`), in its namespace or, for a global policy, in the
    /// namespaces its namespaceSelector picks.
    Calico {
        namespace: Option<String>,
        selector: CalicoSelector,
        namespaces: Option<CalicoSelector>,
        /// A serviceAccountSelector narrows it further, on the labels of the pod's service
        /// account (a pod whose ServiceAccount was not read is only maybe selected).
        #[serde(default, skip_serializing_if = "Option::is_none")]
        service_accounts: Option<CalicoSelector>,
    },
    /// A Cilium host policy's deny part: the host endpoints of the nodes whose labels its
    /// `nodeSelector` matches (see [`crate::policy::model::CiliumPart::nodes`]).
    Nodes(Selector),
}

/// One peer of a tier rule.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TierPeer {
    /// Every pod of the namespaces selected (not host-network pods).
    Namespaces(Selector),
    /// The pods selected in the namespaces selected.
    Pods {
        namespaces: Selector,
        pods: Selector,
    },
    /// Nodes by their labels, through their addresses (egress only).
    Nodes(Selector),
    /// Addresses: outside the cluster, and pod and node addresses too (egress only).
    Networks(Vec<IpNet>),
    /// Domain names (egress Accept only): an address cannot be told to belong to one.
    Domains(Vec<String>),
    /// A Cilium entity.
    Entity(Entity),
    /// A Cilium CIDR: addresses outside the cluster only.
    Outside(IpBlock),
    /// A peer this reader cannot judge: every match with it is unknown, with the reason.
    Unjudged(String),
    /// The far end of a Calico rule: its source on ingress, its destination on egress.
    Calico(Box<CalicoEnd>),
}

/// One rule, in the order written.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct TierRule {
    /// The rule's `name`, possibly empty.
    pub name: String,
    pub action: Action,
    /// Ored; a peer of a kind this reader does not know makes the rule fail closed at
    /// compile time (an Allow then matches nothing; a Deny or Pass denies everything).
    pub peers: Vec<TierPeer>,
    /// `None`: every port and protocol.
    pub ports: Option<Vec<PortSpec>>,
    /// A Calico rule's own end (its destination on ingress, its source on egress): what the
    /// selected pod itself must be for the rule to match.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub own: Option<CalicoEnd>,
    /// An Allow rule's application-layer match (Calico's `http`), in words: the flow is
    /// allowed at L3/L4 and its requests filtered at L7, which is shown, not judged.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7: Option<String>,
}

/// A cluster-scoped policy of a tier.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierPolicy {
    /// `AdminNetworkPolicy`, `BaselineAdminNetworkPolicy` or `ClusterNetworkPolicy`.
    pub kind: String,
    pub name: String,
    pub tier: Tier,
    /// 0 to 1000, lower first; a BaselineAdminNetworkPolicy has none (0).
    pub priority: i32,
    pub subject: Subject,
    pub ingress: Vec<TierRule>,
    pub egress: Vec<TierRule>,
    /// Things the API accepts but that are probably not what the author meant, or that
    /// cannot be judged from addresses.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(skip)]
    pub origin: Origin,
    /// A Calico policy's order (lower first; none: last in its tier).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// The directions a Calico policy selects its pods for (its `types`), rules or none: a
    /// pod so selected is denied what no rule of the tier decides.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub types: Vec<Direction>,
    /// A Calico policy's tier and the policy as written.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub calico: Option<Box<CalicoPlace>>,
}

/// A Calico `order`: a float, ordered totally so that policies sort the same way every time.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Order(pub f64);

impl PartialEq for Order {
    fn eq(&self, other: &Order) -> bool {
        self.0.total_cmp(&other.0).is_eq()
    }
}

impl Eq for Order {}

impl PartialOrd for Order {
    fn partial_cmp(&self, other: &Order) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Order {
    fn cmp(&self, other: &Order) -> std::cmp::Ordering {
        self.0.total_cmp(&other.0)
    }
}

impl std::hash::Hash for Order {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.0.to_bits().hash(state);
    }
}

impl fmt::Display for Order {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0.fract() == 0.0 && self.0.abs() < 1e15 {
            write!(f, "{}", self.0 as i64)
        } else {
            write!(f, "{}", self.0)
        }
    }
}

/// Calico's default tier, as messages name it (NetworkPolicies are its policies).
pub const DEFAULT_TIER: &str = "Calico's default tier";

/// A Calico Tier object: where its policies stand among the other tiers, and what it does
/// with what they leave undecided for a pod they select.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalicoTier {
    pub name: String,
    /// Lower first; none: after every tier that has one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order: Option<Order>,
    /// `Deny` (Calico's default) or `Pass`.
    pub default_action: Action,
}

/// Addresses Calico's selectors match besides pods: a NetworkSet's or GlobalNetworkSet's
/// nets, a HostEndpoint's expected IPs, with the labels selectors read.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalicoAddressSet {
    /// `NetworkSet`, `GlobalNetworkSet` or `HostEndpoint`.
    pub kind: String,
    /// A NetworkSet's namespace; the others have none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub name: String,
    #[serde(default)]
    pub labels: super::selector::Labels,
    pub nets: Vec<IpNet>,
    /// It may hold addresses it does not list (a NetworkSet's domain names, a HostEndpoint's
    /// interface with no expected IPs): an address none holds may still be its.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub open: bool,
    /// A HostEndpoint's node (`spec.node`): its interfaces are protected by Calico's host
    /// endpoint policy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node: Option<String>,
}

impl CalicoAddressSet {
    /// `GlobalNetworkSet/name`, `NetworkSet/ns/name`.
    pub fn key(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{}/{ns}/{}", self.kind, self.name),
            None => format!("{}/{}", self.kind, self.name),
        }
    }
}

/// Where a Calico policy stands: its tier (by name, and as far as a Tier object says, its
/// order and default action), and the policy as written, so that it can be placed again
/// when the Tier objects change.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalicoPlace {
    /// The tier's name (`default` when the policy names none).
    pub tier: String,
    /// The tier's order, where it is known (the default tier's is 1,000,000).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tier_order: Option<Order>,
    /// What the tier does at its end with what no rule decided for a pod it selects.
    pub default_action: Action,
    /// The rules as written (ingress, egress): the policy's own while it is placed,
    /// replaced by an unjudged rule while it is not.
    pub written: [Vec<TierRule>; 2],
    /// The rules in words, for the warnings of a policy that cannot be placed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub texts: Vec<String>,
    /// The warnings of the policy itself, before placement adds its own.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
}

/// One end of a Calico rule (`source` or `destination`), compiled. Every condition given
/// must hold; a Calico selector matches pods by the labels Calico gives them
/// ([`super::calico::selects`]).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalicoEnd {
    /// The namespace of a namespaced policy: its selectors stay in it unless a
    /// namespaceSelector says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CalicoSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub not_selector: Option<CalicoSelector>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace_selector: Option<CalicoSelector>,
    /// Any of these networks (empty: no condition).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub nets: Vec<IpNet>,
    /// None of these networks.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub not_nets: Vec<IpNet>,
    /// The rule's ipVersion: addresses of this family only.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_version: Option<u8>,
    /// A serviceAccounts condition: pods only, by their service account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub service_accounts: Option<ServiceAccounts>,
    /// A `services` condition: the endpoints of one Service.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub services: Option<CalicoService>,
    /// Conditions this reader cannot judge, in words (source ports, an HTTP match).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub unjudged: Vec<String>,
}

/// A Calico rule's `services`: the endpoints of the Service `namespace/name` (the namespace
/// defaults to the policy's own).
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct CalicoService {
    pub namespace: String,
    pub name: String,
    /// A destination's match: by address, port and protocol (a source's is by address).
    #[serde(default)]
    pub destination: bool,
}

/// A Calico rule's `serviceAccounts`: pods whose service account has one of `names` (none:
/// any) and whose ServiceAccount's labels `selector` matches.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct ServiceAccounts {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub names: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub selector: Option<CalicoSelector>,
}

impl fmt::Display for ServiceAccounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match (self.names.is_empty(), &self.selector) {
            (true, None) => f.write_str("any service account"),
            (false, None) => write!(f, "service accounts {}", self.names.join(", ")),
            (true, Some(s)) => write!(f, "service accounts {s}"),
            (false, Some(s)) => {
                write!(f, "service accounts {} and {s}", self.names.join(", "))
            }
        }
    }
}

impl CalicoEnd {
    /// No condition at all: every endpoint and address.
    pub fn is_any(&self) -> bool {
        *self
            == CalicoEnd {
                namespace: self.namespace.clone(),
                ..CalicoEnd::default()
            }
    }

    /// Whether a selector condition is given (which can match labelled sets this reader
    /// does not hold, besides pods).
    pub fn has_selector(&self) -> bool {
        self.selector.is_some() || self.not_selector.is_some() || self.namespace_selector.is_some()
    }

    /// In words: `selector app == 'web' and nets 10.0.0.0/8`, or `anything`.
    pub fn describe(&self) -> String {
        let mut words = Vec::new();
        if let Some(s) = &self.namespace_selector {
            words.push(format!("namespaceSelector {s}"));
        }
        if let Some(s) = &self.selector {
            words.push(format!("selector {s}"));
        }
        if let Some(s) = &self.not_selector {
            words.push(format!("notSelector {s}"));
        }
        if (self.selector.is_some() || self.not_selector.is_some())
            && self.namespace_selector.is_none()
        {
            if let Some(ns) = &self.namespace {
                words.push(format!("in namespace {ns}"));
            }
        }
        let nets = |list: &[IpNet]| list.iter().map(|n| n.to_string()).collect::<Vec<_>>();
        if !self.nets.is_empty() {
            words.push(format!("nets {}", nets(&self.nets).join(", ")));
        }
        if !self.not_nets.is_empty() {
            words.push(format!("notNets {}", nets(&self.not_nets).join(", ")));
        }
        if let Some(v) = self.ip_version {
            words.push(format!("IPv{v}"));
        }
        if let Some(sa) = &self.service_accounts {
            words.push(sa.to_string());
        }
        if let Some(s) = &self.services {
            words.push(format!(
                "the endpoints of Service {}/{}",
                s.namespace, s.name
            ));
        }
        words.extend(self.unjudged.iter().cloned());
        if words.is_empty() {
            "anything".into()
        } else {
            words.join(" and ")
        }
    }
}

impl TierPolicy {
    /// `AdminNetworkPolicy/name`: cluster-scoped names are unique per kind.
    pub fn key(&self) -> String {
        format!("{}/{}", self.kind, self.name)
    }

    pub fn rules(&self, direction: Direction) -> &[TierRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }

    /// `ANP name`, `BANP default`, `CNP name`: short enough for a tree row.
    pub fn short_name(&self) -> String {
        let kind = match self.kind.as_str() {
            "AdminNetworkPolicy" => "ANP",
            "BaselineAdminNetworkPolicy" => "BANP",
            "CiliumNetworkPolicy" => "CiliumNP",
            "CiliumClusterwideNetworkPolicy" => "CCNP",
            "projectcalico.org/NetworkPolicy" => "CalicoNP",
            "projectcalico.org/GlobalNetworkPolicy" => "CalicoGNP",
            _ => "CNP",
        };
        format!("{kind} {}", self.name)
    }

    /// The order of evaluation: tier, then (for Calico tiers of their own) the Calico
    /// tier's order and name, then priority (a Calico policy's order, none last), then
    /// (where the API leaves equal priorities undefined) kind and name, so that answers
    /// never depend on input order. Calico breaks ties of order by name, whatever the kind.
    pub fn order_key(&self) -> OrderKey<'_> {
        let calico_name = if self.tier.is_calico() {
            &self.name
        } else {
            ""
        };
        let (tier_order, tier_name) = match &self.calico {
            Some(place) if self.tier.is_calico_named() => (
                (place.tier_order.is_none(), place.tier_order),
                place.tier.as_str(),
            ),
            _ => ((false, None), ""),
        };
        (
            self.tier,
            tier_order,
            tier_name,
            self.priority,
            (self.order.is_none(), self.order),
            calico_name,
            &self.kind,
            &self.name,
        )
    }

    /// Whether the pods it selects are denied, at the end of its tier, what no rule of the
    /// tier decides: Calico's default tier, and a Calico tier whose default action is Deny.
    pub fn denies_at_end(&self) -> bool {
        self.tier.is_calico_default()
            || (self.tier.is_calico_named()
                && self
                    .calico
                    .as_deref()
                    .is_some_and(|c| c.default_action == Action::Deny))
    }

    /// The Calico tier's name, for a policy of a Calico tier of its own.
    pub fn calico_tier(&self) -> Option<&str> {
        self.calico.as_deref().map(|p| p.tier.as_str())
    }
}

/// [`TierPolicy::order_key`].
pub type OrderKey<'a> = (
    Tier,
    (bool, Option<Order>),
    &'a str,
    i32,
    (bool, Option<Order>),
    &'a str,
    &'a str,
    &'a str,
);

/// Describes a peer in words, for explain and effective.
pub fn describe_peer(peer: &TierPeer) -> String {
    match peer {
        TierPeer::Namespaces(s) if s.is_everything() => "all pods in all namespaces".into(),
        TierPeer::Namespaces(s) => format!("all pods in namespaces {s}"),
        TierPeer::Pods { namespaces, pods } => {
            let pods = if pods.is_everything() {
                "all pods".to_string()
            } else {
                format!("pods {pods}")
            };
            if namespaces.is_everything() {
                format!("{pods} in all namespaces")
            } else {
                format!("{pods} in namespaces {namespaces}")
            }
        }
        TierPeer::Nodes(s) if s.is_everything() => "all nodes".into(),
        TierPeer::Nodes(s) => format!("nodes {s}"),
        TierPeer::Networks(nets) => {
            let list: Vec<String> = nets.iter().map(|n| n.to_string()).collect();
            format!("networks {}", list.join(", "))
        }
        TierPeer::Domains(names) => format!("domain names {}", names.join(", ")),
        TierPeer::Entity(e) => format!("entity {e}"),
        TierPeer::Outside(b) => format!(
            "addresses outside the cluster in {}",
            b.to_string().trim_start_matches("ipBlock ")
        ),
        TierPeer::Unjudged(why) => format!("not judged: {why}"),
        TierPeer::Calico(end) => end.describe(),
    }
}

/// Describes a subject in words.
pub fn describe_subject(subject: &Subject) -> String {
    describe_peer(&match subject {
        Subject::Nodes(s) => return format!("the hosts of nodes {s}"),
        Subject::Namespaces(s) => TierPeer::Namespaces(s.clone()),
        Subject::Pods { namespaces, pods } => TierPeer::Pods {
            namespaces: namespaces.clone(),
            pods: pods.clone(),
        },
        Subject::Calico {
            namespace,
            selector,
            namespaces,
            service_accounts,
        } => {
            let sa = match service_accounts {
                Some(s) => format!(" running as service accounts {s}"),
                None => String::new(),
            };
            let wher = match (namespace, namespaces) {
                (Some(ns), _) => format!("in namespace {ns}"),
                (None, None) => "in all namespaces".to_string(),
                (None, Some(n)) => format!("in namespaces {n}"),
            };
            return format!("pods {selector}{sa} {wher}");
        }
    })
}
