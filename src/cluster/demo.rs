//! The built-in demo scenario, embedded as YAML so that it doubles as a readable example
//! (`demo --dump`). It is loaded through the same path as user manifests.

use super::files::{load_text, LoadErrors, Loaded};

/// The demo manifests, as shipped.
pub const DEMO_YAML: &str = include_str!("demo.yaml");

/// Loads the demo through the same path as user manifests.
pub fn load() -> Result<Loaded, LoadErrors> {
    load_text("<demo>", DEMO_YAML)
}

#[cfg(test)]
mod tests {
    use super::*;

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
