//! The built-in demo scenario, embedded as YAML so that it doubles as a readable example
//! (`demo --dump`). It is loaded through the same path as user manifests.

use super::files::{load_text, LoadErrors, Loaded};

/// The demo manifests, as shipped.
pub const DEMO_YAML: &str = include_str!("demo.yaml");

/// The demo on Calico: Calico's tiers and policies next to NetworkPolicies.
pub const DEMO_CALICO_YAML: &str = include_str!("demo_calico.yaml");

/// The demo scenarios: the cluster's CNI and the policies it enforces.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Scenario {
    /// NetworkPolicies with Cilium's policies, an admin-tier guardrail and Istio.
    #[default]
    Cilium,
    /// Calico's tiers and policies next to NetworkPolicies.
    Calico,
}

impl Scenario {
    /// The manifests of the scenario.
    pub fn yaml(self) -> &'static str {
        match self {
            Scenario::Cilium => DEMO_YAML,
            Scenario::Calico => DEMO_CALICO_YAML,
        }
    }

    /// What the scenario's file is called in messages.
    pub fn source(self) -> &'static str {
        match self {
            Scenario::Cilium => "<demo>",
            Scenario::Calico => "<demo:calico>",
        }
    }

    /// A command to try first.
    pub fn try_first(self) -> &'static str {
        match self {
            Scenario::Cilium => {
                "explain --demo --from production/frontend --to production/database --port 5432"
            }
            Scenario::Calico => {
                "explain --demo=calico --from shop/frontend-canary --to shop/orders --port 9000"
            }
        }
    }
}

/// Loads the demo through the same path as user manifests.
pub fn load() -> Result<Loaded, LoadErrors> {
    load_scenario(Scenario::Cilium)
}

/// Loads a demo scenario through the same path as user manifests.
pub fn load_scenario(scenario: Scenario) -> Result<Loaded, LoadErrors> {
    load_text(scenario.source(), scenario.yaml())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_calico_demo_loads_without_warnings() {
        let loaded = load_scenario(Scenario::Calico).expect("the Calico demo loads");
        assert!(
            loaded.report.warnings.is_empty(),
            "{:?}",
            loaded.report.warnings
        );
        let set = &loaded.world.policies;
        assert_eq!(set.calico_tiers.len(), 2);
        assert_eq!(set.tiers.len(), 4, "four Calico policies");
        assert!(
            set.tiers
                .iter()
                .all(|t| t.tier != crate::policy::tiers::Tier::Calico),
            "every Calico policy placed"
        );
        assert_eq!(set.policies.len(), 1, "one NetworkPolicy");
        let staged: Vec<String> = loaded.world.staged.iter().map(|s| s.label()).collect();
        assert_eq!(
            staged,
            ["+ projectcalico.org/GlobalNetworkPolicy/shop-default-deny"]
        );
    }

    #[test]
    fn demo_loads_without_warnings() {
        let loaded = load().expect("the demo loads");
        assert!(
            loaded.report.warnings.is_empty(),
            "{:?}",
            loaded.report.warnings
        );
        assert_eq!(loaded.world.inventory.namespaces.len(), 5);
        assert_eq!(loaded.world.inventory.pods.len(), 11);
        assert_eq!(loaded.world.inventory.nodes.len(), 2);
        assert_eq!(loaded.world.policies.istio.len(), 1);
        assert_eq!(
            loaded.world.policies.policies.len(),
            11,
            "ten NetworkPolicies and one CiliumNetworkPolicy"
        );
        let staged: Vec<String> = loaded.world.staged.iter().map(|s| s.label()).collect();
        assert_eq!(
            staged,
            [
                "+ monitoring/default-deny-all",
                "+ development/default-deny-ingress",
                "+ production/frontend-policy"
            ]
        );
    }
}
