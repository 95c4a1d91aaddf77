//! The policies of a world: NetworkPolicies by namespace and name, and the cluster-scoped
//! tier policies in their order of evaluation.
//!
//! Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::istio::IstioPolicy;
use super::model::Policy;
use super::tiers::{CalicoAddressSet, CalicoTier, TierPolicy};

/// All policies, in an order that makes verdicts independent of input order;
/// and the cluster-scoped tier policies in their order of evaluation.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PolicySet {
    pub policies: Vec<Policy>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub tiers: Vec<TierPolicy>,
    /// False when the source could not read the tier policies (forbidden): every verdict
    /// they could change is then unknown.
    #[serde(default = "yes")]
    pub tiers_known: bool,
    /// Istio AuthorizationPolicies: shown with the verdicts, not evaluated.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub istio: Vec<IstioPolicy>,
    /// Calico's Tier objects, by name: they place the Calico policies of tiers other than
    /// the default one.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calico_tiers: Vec<CalicoTier>,
    /// Calico's NetworkSets, GlobalNetworkSets and HostEndpoints: addresses its selectors
    /// match besides pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub calico_sets: Vec<CalicoAddressSet>,
    /// False where some of them could not be read: an address that none known holds may
    /// still be one a selector matches.
    #[serde(default = "yes")]
    pub calico_sets_known: bool,
    /// Whether Cilium's host firewall is on, as the cluster's Cilium configuration says
    /// (`None`: not read). The engine's option, where given, goes first.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cilium_host_firewall: Option<bool>,
}

impl Default for PolicySet {
    /// No policies, and nothing unreadable.
    fn default() -> PolicySet {
        PolicySet::new(Vec::new())
    }
}

impl PolicySet {
    /// NetworkPolicies come first, then Cilium policies (their allow parts), each by
    /// namespace and name: where several rules admit a flow, the first is cited.
    pub fn new(mut policies: Vec<Policy>) -> PolicySet {
        policies.sort_by(|a, b| {
            (a.cilium.is_some(), &a.namespace, a.kind(), &a.name).cmp(&(
                b.cilium.is_some(),
                &b.namespace,
                b.kind(),
                &b.name,
            ))
        });
        PolicySet {
            policies,
            tiers: Vec::new(),
            tiers_known: true,
            istio: Vec::new(),
            calico_tiers: Vec::new(),
            calico_sets: Vec::new(),
            calico_sets_known: true,
            cilium_host_firewall: None,
        }
    }

    /// Whether any Cilium host policy (a clusterwide policy with a `nodeSelector`) was read.
    pub fn has_host_policies(&self) -> bool {
        self.policies
            .iter()
            .any(|p| p.cilium.as_ref().is_some_and(|c| c.nodes.is_some()))
    }

    /// Whether Cilium's host firewall is on: as `given` (the user's word) says, else as the
    /// cluster's Cilium configuration says; `None` when neither tells.
    pub fn host_firewall(&self, given: Option<bool>) -> Option<bool> {
        given.or(self.cilium_host_firewall)
    }

    /// The Calico HostEndpoint read for a node, if any: Calico's host endpoint policy then
    /// protects the node's own traffic (and its host-network pods'), which is not judged.
    pub fn host_endpoint_of(&self, node: &str) -> Option<&CalicoAddressSet> {
        self.calico_sets
            .iter()
            .find(|s| s.node.as_deref() == Some(node))
    }

    /// The Calico HostEndpoint whose policy decides a pod's traffic: a host-network pod's on
    /// a node a HostEndpoint protects.
    pub fn host_endpoint_for(&self, pod: &super::model::Pod) -> Option<&CalicoAddressSet> {
        pod.node
            .as_deref()
            .filter(|_| pod.host_network)
            .and_then(|node| self.host_endpoint_of(node))
    }

    /// With Istio's AuthorizationPolicies, by namespace and name.
    pub fn with_istio(mut self, mut istio: Vec<IstioPolicy>) -> PolicySet {
        istio.sort_by(|a, b| (&a.namespace, &a.name).cmp(&(&b.namespace, &b.name)));
        self.istio = istio;
        self
    }

    /// The AuthorizationPolicies that apply to a workload, in words.
    pub fn istio_for(&self, namespace: &str, labels: &super::model::Labels) -> Vec<String> {
        self.istio
            .iter()
            .filter(|p| p.applies(namespace, labels))
            .map(|p| p.summary())
            .collect()
    }

    /// With the tier policies, put in their order of evaluation (Calico's placed by the
    /// Tier objects this set holds).
    pub fn with_tiers(mut self, tiers: Vec<TierPolicy>) -> PolicySet {
        self.tiers = tiers;
        self.place();
        self
    }

    /// With Calico's Tier objects: the Calico policies are placed again by them.
    pub fn with_calico_tiers(mut self, mut tiers: Vec<CalicoTier>) -> PolicySet {
        tiers.sort_by(|a, b| a.name.cmp(&b.name));
        tiers.dedup_by(|a, b| a.name == b.name);
        self.calico_tiers = tiers;
        self.place();
        self
    }

    fn place(&mut self) {
        for policy in &mut self.tiers {
            super::calico::place(policy, &self.calico_tiers);
        }
        self.tiers.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
    }

    /// The tier at whose end a Calico policy that selects a pod denies what no rule
    /// decided: `Calico's default tier`, `Calico tier security`.
    pub fn calico_tier_end(&self, t: u32) -> String {
        let policy = &self.tiers[t as usize];
        match policy.calico_tier() {
            Some(name) if policy.tier.is_calico_named() => format!("Calico tier {name}"),
            _ => super::tiers::DEFAULT_TIER.to_string(),
        }
    }

    /// With Calico's address sets (NetworkSets, GlobalNetworkSets, HostEndpoints), by key.
    pub fn with_calico_sets(mut self, mut sets: Vec<CalicoAddressSet>) -> PolicySet {
        sets.sort_by_key(|s| s.key());
        sets.dedup_by(|a, b| a.key() == b.key());
        self.calico_sets = sets;
        self
    }

    /// The Calico Tier object of a name.
    pub fn calico_tier(&self, name: &str) -> Option<&CalicoTier> {
        self.calico_tiers.iter().find(|t| t.name == name)
    }
}

fn yes() -> bool {
    true
}
