//! View models made once per snapshot: per namespace, pod and policy, the facts the tree and
//! the detail views show, so that drawing a frame never walks the whole world.

use crate::policy::{Direction, Index, PodId, PolicyId};

#[derive(Debug, Clone, Default)]
pub struct Overview {
    pub namespaces: Vec<NamespaceView>,
    /// By pod id.
    pub pods: Vec<PodView>,
    /// By policy id.
    pub policies: Vec<PolicyView>,
    /// By tier policy, in evaluation order.
    pub tiers: Vec<TierView>,
}

/// A tier policy as the tree and its detail show it, made once per world.
#[derive(Debug, Clone, Default)]
pub struct TierView {
    /// Pods it surely applies to, and more if unreadable namespace labels match.
    pub pods: (usize, usize),
    pub warnings: Vec<String>,
}

#[derive(Debug, Clone, Default)]
pub struct NamespaceView {
    pub name: String,
    pub pods: Vec<PodId>,
    pub policies: Vec<PolicyId>,
    /// A policy selects every pod and isolates ingress (egress) with no rules.
    pub default_deny_ingress: Vec<PolicyId>,
    pub default_deny_egress: Vec<PolicyId>,
    /// Pods no policy selects.
    pub unprotected: Vec<PodId>,
}

#[derive(Debug, Clone, Copy, Default)]
pub struct PodView {
    pub namespace: u32,
    pub ingress_isolated: bool,
    pub egress_isolated: bool,
    /// Policies whose podSelector matches the pod (isolating or not).
    pub selecting: u32,
    /// Whether every policy that may decide its sides is known (read, and known to select
    /// it or not).
    pub known: bool,
}

/// The namespace of a clusterwide policy's view: none.
pub const CLUSTER: u32 = u32::MAX;

#[derive(Debug, Clone, Default)]
pub struct PolicyView {
    /// Index into the namespaces, or [`CLUSTER`].
    pub namespace: u32,
    pub selects: Vec<PodId>,
}

impl Overview {
    pub fn build(index: &Index) -> Overview {
        let inv = index.inventory();
        let policies = &index.policies().policies;
        let mut namespaces: Vec<NamespaceView> = inv
            .namespaces
            .iter()
            .map(|n| NamespaceView {
                name: n.name.clone(),
                ..NamespaceView::default()
            })
            .collect();
        let ns_of = |name: &str| {
            inv.namespaces
                .binary_search_by(|n| n.name.as_str().cmp(name))
                .unwrap_or(0) as u32
        };
        let mut pods: Vec<PodView> = inv
            .pods
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let id = i as PodId;
                PodView {
                    namespace: ns_of(&p.namespace),
                    ingress_isolated: !index.isolating_policies(id, Direction::Ingress).is_empty(),
                    egress_isolated: !index.isolating_policies(id, Direction::Egress).is_empty(),
                    selecting: 0,
                    known: index.policies_known(id),
                }
            })
            .collect();
        for (i, pv) in pods.iter().enumerate() {
            if let Some(ns) = namespaces.get_mut(pv.namespace as usize) {
                ns.pods.push(i as PodId);
            }
        }
        let mut views = Vec::with_capacity(policies.len());
        for (pid, policy) in policies.iter().enumerate() {
            let mut selects = Vec::new();
            if policy.namespace.is_empty() {
                // A clusterwide (Cilium) policy: it lives in the cluster group.
                for (pod, p) in inv.pods.iter().enumerate() {
                    if crate::policy::checks::policy_selects(index, policy, p).0 == Some(true) {
                        selects.push(pod as PodId);
                        pods[pod].selecting += 1;
                    }
                }
                views.push(PolicyView {
                    namespace: CLUSTER,
                    selects,
                });
                continue;
            }
            let ns = ns_of(&policy.namespace);
            if let Some(nsv) = namespaces.get(ns as usize) {
                for &pod in &nsv.pods {
                    let p = &inv.pods[pod as usize];
                    let hit = match policy.cilium {
                        None => p.selected_by(&policy.pod_selector),
                        Some(_) => {
                            crate::policy::checks::policy_selects(index, policy, p).0 == Some(true)
                        }
                    };
                    if hit {
                        selects.push(pod);
                        pods[pod as usize].selecting += 1;
                    }
                }
            }
            if let Some(nsv) = namespaces.get_mut(ns as usize) {
                nsv.policies.push(pid as PolicyId);
                if policy.denies_all(Direction::Ingress) {
                    nsv.default_deny_ingress.push(pid as PolicyId);
                }
                if policy.denies_all(Direction::Egress) {
                    nsv.default_deny_egress.push(pid as PolicyId);
                }
            }
            views.push(PolicyView {
                namespace: ns,
                selects,
            });
        }
        // Calico's default tier, and its tiers that deny at their end, isolate the pods their
        // policies select, for the directions of their types, as a NetworkPolicy does (the
        // other tiers add no isolation).
        for (t, policy) in index.policies().tiers.iter().enumerate() {
            if !policy.denies_at_end() {
                continue;
            }
            for (p, view) in pods.iter_mut().enumerate() {
                if index.tier_applies(t as u32, p as PodId) != Some(true) {
                    continue;
                }
                view.selecting += 1;
                view.ingress_isolated |= policy.types.contains(&Direction::Ingress);
                view.egress_isolated |= policy.types.contains(&Direction::Egress);
            }
        }
        for nsv in &mut namespaces {
            nsv.unprotected = nsv
                .pods
                .iter()
                .copied()
                .filter(|&p| pods[p as usize].selecting == 0 && pods[p as usize].known)
                .collect();
        }
        let tiers = (0..index.policies().tiers.len() as u32)
            .map(|t| TierView {
                pods: index.tier_subject_pods(t),
                warnings: index.tier_warnings(t),
            })
            .collect();
        Overview {
            namespaces,
            pods,
            policies: views,
            tiers,
        }
    }
}

/// Likely mistakes of one policy (see [`crate::policy::lint`]), for the policy view.
pub fn policy_warnings(index: &Index, id: PolicyId) -> Vec<String> {
    crate::policy::lint::policy_problems(index, id)
        .into_iter()
        .map(|f| f.what)
        .collect()
}
