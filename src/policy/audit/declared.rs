//! Declared reachability, now and once staged: every ordered pair of distinct pods, on every
//! port the destination declares (its container ports, by number and protocol) and DNS (UDP
//! and TCP 53) to pods labelled `k8s-app=kube-dns`. The differences come out by workload.
//!
//! Computed on classes, never pod by pod: pods are grouped by their class in both worlds
//! (a "joint" class), and only pairs whose source egress or destination ingress policies
//! differ between the worlds are looked at, for no other pair can change.

use std::collections::BTreeMap;

use fixedbitset::FixedBitSet;

use super::{Audit, Delta};
use crate::policy::engine::{Decision, Endpoint, Flow, PodId, PortView};
use crate::policy::model::{Direction, Protocol};
use crate::policy::workload::{Workload, Workloads};

/// A workload pair and port whose verdict changes for at least one pair of their pods.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DeclaredRow {
    /// Workload ids (see [`Workloads`]).
    pub from: u32,
    pub to: u32,
    pub protocol: Protocol,
    pub port: u16,
    pub delta: Delta,
}

/// The label of the cluster DNS pods.
const DNS_LABEL: (&str, &str) = ("k8s-app", "kube-dns");

/// Pods alike in both worlds.
struct Joint {
    now: u32,
    then: u32,
    pods: Vec<PodId>,
    /// The workloads of its pods, ascending, each once.
    workloads: Vec<u32>,
}

/// For one destination workload and port: the source joints whose pairs change, and source
/// workloads that count besides (pods of a joint with the destination in it).
struct Sources {
    joints: FixedBitSet,
    extra: Vec<u32>,
}

/// Calls `emit` for every changed row with `keep(from, to)`, by protocol and port, then
/// destination, then source workload.
pub fn diff(
    audit: &Audit,
    workloads: &Workloads,
    keep: impl Fn(&Workload, &Workload) -> bool,
    mut emit: impl FnMut(DeclaredRow),
) {
    let now_index = &audit.current;
    let then_index = &audit.staged;
    let inv = now_index.inventory();

    let mut joints: Vec<Joint> = Vec::new();
    let mut joint_of: std::collections::HashMap<(u32, u32), u32> = Default::default();
    for p in 0..inv.pods.len() as PodId {
        let key = (now_index.class_of(p), then_index.class_of(p));
        let j = *joint_of.entry(key).or_insert_with(|| {
            joints.push(Joint {
                now: key.0,
                then: key.1,
                pods: Vec::new(),
                workloads: Vec::new(),
            });
            (joints.len() - 1) as u32
        });
        let joint = &mut joints[j as usize];
        joint.pods.push(p);
        let w = workloads.of_pod[p as usize];
        if !joint.workloads.contains(&w) {
            joint.workloads.push(w);
        }
    }
    for j in &mut joints {
        j.workloads.sort_unstable();
    }
    let n = joints.len();
    let changed = |direction| -> Vec<bool> {
        joints
            .iter()
            .map(|j| audit.side_changed(j.pods[0], direction))
            .collect()
    };
    let (egress_changed, ingress_changed) =
        (changed(Direction::Egress), changed(Direction::Ingress));
    let rows_changed: Vec<u32> = (0..n as u32)
        .filter(|&r| egress_changed[r as usize])
        .collect();
    let all_rows: Vec<u32> = (0..n as u32).collect();

    // Destinations by declared protocol and port.
    let mut by_port: BTreeMap<(Protocol, u16), Vec<u32>> = BTreeMap::new();
    for (j, joint) in joints.iter().enumerate() {
        let pod = &inv.pods[joint.pods[0] as usize];
        let mut ports: Vec<(Protocol, u16)> =
            pod.ports.iter().map(|cp| (cp.protocol, cp.port)).collect();
        if pod.labels.get(DNS_LABEL.0).map(String::as_str) == Some(DNS_LABEL.1) {
            ports.extend([(Protocol::Udp, 53), (Protocol::Tcp, 53)]);
        }
        ports.sort_unstable();
        ports.dedup();
        for port in ports {
            by_port.entry(port).or_default().push(j as u32);
        }
    }

    let mut seen = FixedBitSet::with_capacity(workloads.list.len());
    for ((protocol, port), dsts) in by_port {
        if rows_changed.is_empty() && !dsts.iter().any(|&c| ingress_changed[c as usize]) {
            continue;
        }
        let mut now_view = PortView::new(now_index, protocol, port);
        let mut then_view = PortView::new(then_index, protocol, port);
        let mut per_dst: BTreeMap<(u32, Delta), Sources> = BTreeMap::new();
        for &c in &dsts {
            let dst = &joints[c as usize];
            let candidates = if ingress_changed[c as usize] {
                &all_rows
            } else {
                &rows_changed
            };
            let mut found = [
                (Delta::WouldBreak, FixedBitSet::with_capacity(n)),
                (Delta::WouldAllow, FixedBitSet::with_capacity(n)),
            ];
            for &r in candidates {
                let src = &joints[r as usize];
                if r == c && dst.pods.len() < 2 {
                    continue; // a pod to itself is always allowed
                }
                // Only sure answers change: a pair that is unknown in either world is not
                // claimed to break or to open.
                let before = now_view.allows(src.now, dst.now);
                let after = then_view.allows(src.then, dst.then);
                match (before, after) {
                    (Decision::Allowed, Decision::Denied) => found[0].1.insert(r as usize),
                    (Decision::Denied, Decision::Allowed) => found[1].1.insert(r as usize),
                    _ => {}
                }
            }
            for (delta, set) in found {
                if set.is_clear() {
                    continue;
                }
                for &wd in &dst.workloads {
                    let sources = per_dst.entry((wd, delta)).or_insert_with(|| Sources {
                        joints: FixedBitSet::with_capacity(n),
                        extra: Vec::new(),
                    });
                    let mut set = set.clone();
                    // Within the destination's own joint, a workload with one pod there
                    // has no pair with itself: count only the joint's other workloads.
                    let alone = dst
                        .pods
                        .iter()
                        .filter(|&&p| workloads.of_pod[p as usize] == wd)
                        .count()
                        == 1;
                    if alone && set.contains(c as usize) {
                        set.set(c as usize, false);
                        sources
                            .extra
                            .extend(dst.workloads.iter().copied().filter(|&w| w != wd));
                    }
                    sources.joints.union_with(&set);
                }
            }
        }
        for ((wd, delta), sources) in per_dst {
            seen.clear();
            for r in sources.joints.ones() {
                for &ws in &joints[r].workloads {
                    seen.insert(ws as usize);
                }
            }
            for &ws in &sources.extra {
                seen.insert(ws as usize);
            }
            let to = &workloads.list[wd as usize];
            for ws in seen.ones() {
                if keep(&workloads.list[ws], to) {
                    emit(DeclaredRow {
                        from: ws as u32,
                        to: wd,
                        protocol,
                        port,
                        delta,
                    });
                }
            }
        }
    }
}

/// A pod pair of a row whose verdict changes as the row says: to explain it.
pub fn example(audit: &Audit, workloads: &Workloads, row: &DeclaredRow) -> Option<Flow> {
    examples(audit, workloads, row, 1).into_iter().next()
}

/// Pod pairs of a row whose verdict changes as the row says, one per pair of classes (pods of
/// one workload can differ), at most `limit`: to fix them all.
pub fn examples(
    audit: &Audit,
    workloads: &Workloads,
    row: &DeclaredRow,
    limit: usize,
) -> Vec<Flow> {
    let from = &workloads.list[row.from as usize];
    let to = &workloads.list[row.to as usize];
    let class = |p: PodId| audit.current.class_of(p);
    let mut out: Vec<Flow> = Vec::new();
    let mut pairs: Vec<(u32, u32)> = Vec::new();
    for &s in &from.pods {
        for &d in &to.pods {
            if s == d || pairs.contains(&(class(s), class(d))) {
                continue;
            }
            let flow = Flow {
                src: Endpoint::pod(s),
                dst: Endpoint::pod(d),
                protocol: row.protocol,
                port: row.port,
            };
            let (now, then) = audit.judge(&flow);
            if Delta::between(&now, &then) == Some(row.delta) {
                pairs.push((class(s), class(d)));
                out.push(flow);
                if out.len() >= limit {
                    return out;
                }
            }
        }
    }
    out
}
