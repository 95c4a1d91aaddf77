//! The policies of a world: NetworkPolicies by namespace and name, and the cluster-scoped
//! tier policies in their order of evaluation.
//!
//! Pure: no I/O.

use serde::{Deserialize, Serialize};

use super::istio::IstioPolicy;
use super::model::Policy;
use super::tiers::TierPolicy;

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
        }
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

    /// With the tier policies, put in their order of evaluation.
    pub fn with_tiers(mut self, mut tiers: Vec<TierPolicy>) -> PolicySet {
        tiers.sort_by(|a, b| a.order_key().cmp(&b.order_key()));
        self.tiers = tiers;
        self
    }
}

fn yes() -> bool {
    true
}
