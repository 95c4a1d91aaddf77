//! Cluster-scoped policies in tiers (sig-network's policy API): AdminNetworkPolicy and
//! BaselineAdminNetworkPolicy (v1alpha1), ClusterNetworkPolicy (v1alpha2), after defaulting.
//!
//! Each side of a flow (egress of the source, ingress of the destination) is judged through
//! the Admin tier, then NetworkPolicy, then the Baseline tier. Within a tier, policies go by
//! priority (lower first) and rules in the order written; the first rule whose peer and port
//! match decides: Allow (Accept), Deny, or Pass (skip the rest of the tier). Nothing matching
//! anywhere leaves the traffic allowed: tiers add no isolation.
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
    /// Calico's own policies, first (Calico's tiers may precede the admin tier): read and
    /// shown, not judged; a side whose pod they select is unknown.
    Calico,
    /// Before NetworkPolicy: AdminNetworkPolicy, ClusterNetworkPolicy `tier: Admin`.
    Admin,
    /// Cilium's deny rules (`ingressDeny`, `egressDeny`): after the Admin tier, before
    /// NetworkPolicy and Cilium's allow rules, which they override.
    Cilium,
    /// After NetworkPolicy: BaselineAdminNetworkPolicy, ClusterNetworkPolicy `tier: Baseline`.
    Baseline,
}

impl Tier {
    /// Every tier, in the order a side goes through them.
    pub const ALL: [Tier; 4] = [Tier::Calico, Tier::Admin, Tier::Cilium, Tier::Baseline];

    /// The tiers before NetworkPolicy, in order: the first that decides, decides.
    pub const BEFORE_NETWORK_POLICY: [Tier; 3] = [Tier::Calico, Tier::Admin, Tier::Cilium];

    /// Position in [`Tier::ALL`].
    pub fn index(self) -> usize {
        match self {
            Tier::Calico => 0,
            Tier::Admin => 1,
            Tier::Cilium => 2,
            Tier::Baseline => 3,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Calico => "calico",
            Tier::Admin => "admin",
            Tier::Cilium => "cilium deny",
            Tier::Baseline => "baseline",
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
    },
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

    /// The order of evaluation: tier, then priority, then (where the API leaves equal
    /// priorities undefined) kind and name, so that answers never depend on input order.
    pub fn order_key(&self) -> (Tier, i32, &str, &str) {
        (self.tier, self.priority, &self.kind, &self.name)
    }
}

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
    }
}

/// Describes a subject in words.
pub fn describe_subject(subject: &Subject) -> String {
    describe_peer(&match subject {
        Subject::Namespaces(s) => TierPeer::Namespaces(s.clone()),
        Subject::Pods { namespaces, pods } => TierPeer::Pods {
            namespaces: namespaces.clone(),
            pods: pods.clone(),
        },
        Subject::Calico {
            namespace,
            selector,
            namespaces,
        } => {
            let wher = match (namespace, namespaces) {
                (Some(ns), _) => format!("in namespace {ns}"),
                (None, None) => "in all namespaces".to_string(),
                (None, Some(n)) => format!("in namespaces {n}"),
            };
            return format!("pods {selector} {wher}");
        }
    })
}
