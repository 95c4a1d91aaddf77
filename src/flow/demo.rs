//! Simulated traffic for the demo: flows between the world's pods on their container ports,
//! DNS to the cluster DNS pods, and calls to the outside, with a datapath that enforces the
//! policies, except for a few injected faults so that every outcome shows up.
//!
//! Deterministic for a seed; the pace is set by the task that calls [`DemoTraffic::next`].

use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;

use super::{Datapath, FlowEvent};
use crate::policy::{Flow, Index, Protocol};

/// An address outside the cluster (TEST-NET-3, never routed).
const EXTERNAL: IpAddr = IpAddr::V4(Ipv4Addr::new(203, 0, 113, 50));

/// The demo's story: flows that someone keeps trying, whatever the policies say
/// (source pod, destination pod, port), and how often.
const STORY: &[(&str, &str, u16, u32)] =
    &[("production/frontend", "production/database", 5432, 40)];

/// Share of flows the simulated datapath gets wrong, in thousandths.
const FAULT_PER_MILLE: u32 = 15;

#[derive(Debug, Clone)]
struct Pattern {
    src: Vec<IpAddr>,
    dst: Vec<IpAddr>,
    protocol: Protocol,
    port: u16,
    weight: u32,
}

pub struct DemoTraffic {
    index: Arc<Index>,
    rng: fastrand::Rng,
    patterns: Vec<Pattern>,
    total_weight: u32,
}

impl DemoTraffic {
    pub fn new(index: Arc<Index>, seed: u64) -> DemoTraffic {
        let inv = index.inventory();
        let with_ips: Vec<_> = inv
            .pods
            .iter()
            .filter(|p| !p.ips.is_empty() && !p.host_network)
            .collect();
        let mut patterns = Vec::new();
        for src in &with_ips {
            for dst in &with_ips {
                if src.namespace == dst.namespace && src.name == dst.name {
                    continue;
                }
                for cp in &dst.ports {
                    // Traffic mostly stays in its namespace and follows the usual callers.
                    let mut weight = if src.namespace == dst.namespace { 6 } else { 1 };
                    if dst.labels.get("k8s-app").is_some_and(|v| v == "kube-dns") {
                        weight = 12;
                    }
                    if src.namespace == "monitoring" || src.namespace == "ingress-nginx" {
                        weight = 8;
                    }
                    // Most real traffic is allowed; blocked attempts are the exception.
                    let flow = Flow {
                        src: index.endpoint_for_ip(src.ips[0]),
                        dst: index.endpoint_for_ip(dst.ips[0]),
                        protocol: cp.protocol,
                        port: cp.port,
                    };
                    if index.verdict(&flow).allowed() {
                        weight *= 6;
                    }
                    let (from, to) = (src.key(), dst.key());
                    if let Some(story) = STORY
                        .iter()
                        .find(|s| s.0 == from && s.1 == to && s.2 == cp.port)
                    {
                        weight = story.3;
                    }
                    patterns.push(Pattern {
                        src: src.ips.clone(),
                        dst: dst.ips.clone(),
                        protocol: cp.protocol,
                        port: cp.port,
                        weight,
                    });
                }
            }
            patterns.push(Pattern {
                src: src.ips.clone(),
                dst: vec![EXTERNAL],
                protocol: Protocol::Tcp,
                port: 443,
                weight: 2,
            });
        }
        let total_weight = patterns.iter().map(|p| p.weight).sum();
        DemoTraffic {
            index,
            rng: fastrand::Rng::with_seed(seed),
            patterns,
            total_weight,
        }
    }

    /// `None` when the world has no two pods with addresses.
    pub fn next(&mut self, time_ms: u64) -> Option<FlowEvent> {
        if self.total_weight == 0 {
            return None;
        }
        let mut pick = self.rng.u32(0..self.total_weight);
        let pattern = self.patterns.iter().find(|p| {
            if pick < p.weight {
                true
            } else {
                pick -= p.weight;
                false
            }
        })?;
        // Same address family on both ends; IPv6 where both ends have it, one time in four.
        let v6 = self.rng.u8(0..4) == 0
            && pattern.src.iter().any(IpAddr::is_ipv6)
            && pattern.dst.iter().any(IpAddr::is_ipv6);
        let family = |ips: &[IpAddr]| ips.iter().copied().find(|ip| ip.is_ipv6() == v6);
        let (src, dst) = (family(&pattern.src)?, family(&pattern.dst)?);
        let flow = Flow {
            src: self.index.endpoint_for_ip(src),
            dst: self.index.endpoint_for_ip(dst),
            protocol: pattern.protocol,
            port: pattern.port,
        };
        let allowed = self.index.verdict(&flow).allowed();
        let fault = self.rng.u32(0..1000) < FAULT_PER_MILLE;
        let datapath = match (allowed, fault) {
            (true, false) | (false, true) => Datapath::Forwarded,
            (false, false) => Datapath::Dropped {
                reason: "NETFILTER_DROP".into(),
            },
            (true, true) => Datapath::Dropped {
                reason: if pattern.protocol == Protocol::Tcp {
                    "TCP_INVALID_SEQUENCE".into()
                } else {
                    "NEIGH_FAILED".into()
                },
            },
        };
        Some(FlowEvent {
            time_ms,
            src,
            dst,
            protocol: pattern.protocol,
            src_port: 32768 + (time_ms % 28000) as u16,
            dst_port: pattern.port,
            datapath,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cluster::demo;
    use crate::flow::{annotate, Names, Outcome};
    use crate::policy::EngineOptions;
    use std::collections::BTreeSet;

    #[test]
    fn demo_traffic_shows_every_outcome_and_both_families() {
        let w = demo::load().expect("demo").world;
        let index = Arc::new(Index::build(
            w.inventory,
            w.policies,
            EngineOptions::default(),
        ));
        let names = Names::new(&index);
        let mut traffic = DemoTraffic::new(index.clone(), 7);
        let mut outcomes = BTreeSet::new();
        let (mut v6, mut udp) = (0, 0);
        for t in 0..5000 {
            let e = traffic.next(t).expect("a flow");
            v6 += usize::from(e.src.is_ipv6());
            udp += usize::from(e.protocol == Protocol::Udp);
            outcomes.insert(annotate(&index, &names, e).outcome.as_str());
        }
        let all: BTreeSet<&str> = [
            Outcome::BlockedByPolicy,
            Outcome::AllowedByPolicy,
            Outcome::NotIsolated,
            Outcome::DatapathDrop,
            Outcome::PolicyNotEnforced,
        ]
        .iter()
        .map(|o| o.as_str())
        .collect();
        assert_eq!(outcomes, all);
        assert!(v6 > 100 && udp > 100, "v6 {v6}, udp {udp}");
    }
}
