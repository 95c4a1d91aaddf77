//! `reach`: who can reach a pod and what it can reach, both sides applied, every protocol
//! and port at once, grouped by namespace and workload. Worked out per pair of pod classes
//! with [`Connectivity`], so a cluster of any size costs one pass over its pods.
//!
//! Pure: no I/O.

use std::collections::BTreeMap;

use serde::Serialize;

use super::engine::{Connectivity, Index, PodId};

/// Peers that share a namespace, a workload and the same ports.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachGroup {
    pub namespace: String,
    /// `Kind/name` of the workload, or the pod's name for a pod without one.
    pub workload: String,
    pub pods: Vec<String>,
    /// What is surely allowed: `TCP 8080; UDP 53`, `all`.
    pub ports: String,
    /// What is allowed only if what could not be read allows it (absent: nothing).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Reach {
    pub pod: String,
    /// Who can open connections to the pod.
    pub inbound: Vec<ReachGroup>,
    /// Whom the pod can open connections to.
    pub outbound: Vec<ReachGroup>,
    /// Peers that can reach (or be reached) on no port at all, counted.
    pub inbound_none: usize,
    pub outbound_none: usize,
}

impl Reach {
    /// Whether any answer depends on what could not be read.
    pub fn has_unknown(&self) -> bool {
        self.inbound
            .iter()
            .chain(&self.outbound)
            .any(|g| g.unknown.is_some())
    }
}

/// Namespace, workload, ports surely allowed, ports allowed only maybe.
type GroupKey = (String, String, String, Option<String>);

/// Reachability of `pod` with each of `peers` (the pod itself left out).
pub fn reach(index: &Index, pod: PodId, peers: &[PodId]) -> Reach {
    let inv = index.inventory();
    let mut all = Connectivity::new(index);
    let me = index.class_of(pod);
    let mut groups: [BTreeMap<GroupKey, Vec<String>>; 2] = Default::default();
    let mut none = [0usize; 2];
    for &q in peers {
        if q == pod {
            continue;
        }
        let peer = &inv.pods[q as usize];
        let them = index.class_of(q);
        // Side 0: inbound (them to me); side 1: outbound (me to them).
        for (side, (src, dst)) in [(them, me), (me, them)].into_iter().enumerate() {
            let ports = all.between(src, dst);
            if ports.sure.is_empty() && ports.unknown.is_empty() {
                none[side] += 1;
                continue;
            }
            let key = (
                peer.namespace.clone(),
                peer.workload.clone().unwrap_or_else(|| peer.name.clone()),
                ports.sure.to_string(),
                (!ports.unknown.is_empty()).then(|| ports.unknown.to_string()),
            );
            groups[side].entry(key).or_default().push(peer.name.clone());
        }
    }
    let [inbound, outbound] = groups.map(|g| {
        g.into_iter()
            .map(|((namespace, workload, ports, unknown), pods)| ReachGroup {
                namespace,
                workload,
                pods,
                ports,
                unknown,
            })
            .collect()
    });
    Reach {
        pod: inv.pods[pod as usize].key(),
        inbound,
        outbound,
        inbound_none: none[0],
        outbound_none: none[1],
    }
}
