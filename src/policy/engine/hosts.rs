//! Cilium's host firewall at a node's own addresses. A node's host endpoint is selected by
//! the host policies (CiliumClusterwideNetworkPolicies with a `nodeSelector`) whose selector
//! matches the node's labels: their deny parts first, as in Cilium's tier, then their allow
//! parts, which isolate it like an endpoint. Host-network pods share their node's host
//! endpoint; they are judged with the pod classes (see [`Index::build`]).

use super::tiers::Step;
use super::{Endpoint, Flow, Index, NodeId, PolicyId, Side};
use crate::policy::model::{host_selects, Direction};
use crate::policy::tiers::{Subject, Tier};

impl Index {
    /// Whether tier policy `t` (a host policy's deny part) selects a node's host endpoint.
    pub fn host_holds(&self, t: u32, node: NodeId) -> Option<bool> {
        match &self.policies.tiers[t as usize].subject {
            Subject::Nodes(nodes) => host_selects(
                nodes,
                Some(&self.inventory.nodes[node as usize].labels),
                self.host_firewall(),
            ),
            _ => Some(false),
        }
    }

    /// The host policies whose allow rules count for a node's host endpoint in `direction`
    /// (those that isolate it, and where one does, those that add rules without isolating),
    /// ascending; and whether a host policy with rules of that direction may select it (the
    /// host firewall not known to be on).
    pub fn host_isolating(&self, node: NodeId, direction: Direction) -> (Vec<PolicyId>, bool) {
        let labels = &self.inventory.nodes[node as usize].labels;
        let firewall = self.host_firewall();
        let (mut isolating, mut joining, mut maybe) = (Vec::new(), Vec::new(), false);
        for &pid in &self.host_policies {
            let policy = &self.policies.policies[pid as usize];
            let Some(nodes) = policy.cilium.as_ref().and_then(|c| c.nodes.as_ref()) else {
                continue;
            };
            if policy.rules(direction).is_none() {
                continue;
            }
            match host_selects(nodes, Some(labels), firewall) {
                Some(false) => {}
                None => maybe = true,
                Some(true) if policy.isolates(direction) => isolating.push(pid),
                Some(true) => joining.push(pid),
            }
        }
        // Host policies that add rules without isolating count where another isolates.
        if !isolating.is_empty() {
            isolating.extend(joining);
            isolating.sort_unstable();
        }
        (isolating, maybe)
    }

    /// The side of a flow whose end is a node's own address: its host endpoint, as Cilium's
    /// host policies judge it. Not applicable where no host policy was read and every tier
    /// policy could be.
    pub(super) fn host_side(
        &self,
        direction: Direction,
        node: NodeId,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Side {
        if self.host_endpoints[node as usize] {
            // Calico's host endpoint policy decides, and is not judged.
            return Side::Unknown {
                isolating: Vec::new(),
                rule: None,
            };
        }
        if !self.policies.tiers_known {
            // Host policies that could not be read may decide anything.
            return Side::TierUnknown { rule: None };
        }
        if self.host_policies.is_empty() {
            return Side::NotApplicable;
        }
        let own = super::Own::Host(node);
        let applies = |t: u32| self.host_holds(t, node);
        let denies = self.members(Tier::Cilium);
        if let Step::Decided(side) = self.walk_members(denies, direction, applies, own, peer, flow)
        {
            return side;
        }
        let (isolating, maybe) = self.host_isolating(node, direction);
        match self.rules_side(direction, &isolating, own, peer, flow) {
            // A host policy may select the node: it may isolate it, or admit the flow.
            Side::NotIsolated | Side::Denied { .. } if maybe => Side::Unknown {
                isolating,
                rule: None,
            },
            side => side,
        }
    }
}
