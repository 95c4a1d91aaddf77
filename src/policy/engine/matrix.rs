//! The matrix: every pod to every pod for one port, worked out per pair of classes with
//! bitsets, never per pair of pods.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;

use super::{port_spec_matches, CompiledPeer, CompiledRule, Index, PodId};
use crate::policy::model::{PortMatch, Protocol};

impl Index {
    /// Allowed pairs among `pods` for one protocol and port, computed per class.
    pub fn matrix(&self, pods: &[PodId], protocol: Protocol, port: u16) -> Matrix {
        let n = self.classes.len();
        let mut all = FixedBitSet::with_capacity(n);
        all.insert_range(..);
        let block_sets: Vec<FixedBitSet> = (0..self.ip_blocks.len() as u32)
            .map(|b| {
                let mut set = FixedBitSet::with_capacity(n);
                for (c, class) in self.classes.iter().enumerate() {
                    if class.ip_blocks.binary_search(&b).is_ok() {
                        set.insert(c);
                    }
                }
                set
            })
            .collect();
        // Classes that have a container port resolving the rule's named port to `port`.
        let mut named_cache: HashMap<(String, Protocol), FixedBitSet> = HashMap::new();
        let mut named_set = |name: &str, proto: Protocol| -> FixedBitSet {
            named_cache
                .entry((name.to_string(), proto))
                .or_insert_with(|| {
                    let mut set = FixedBitSet::with_capacity(n);
                    for (c, class) in self.classes.iter().enumerate() {
                        let ports = &self.inventory.pods[class.representative as usize].ports;
                        if ports.iter().any(|cp| {
                            cp.protocol == proto
                                && cp.port == port
                                && cp.name.as_deref() == Some(name)
                        }) {
                            set.insert(c);
                        }
                    }
                    set
                })
                .clone()
        };
        let peers_set = |rule: &CompiledRule| -> FixedBitSet {
            if rule.peers.is_empty() {
                return all.clone();
            }
            let mut set = FixedBitSet::with_capacity(n);
            for peer in &rule.peers {
                match peer {
                    CompiledPeer::Classes(s) => set.union_with(&self.peer_sets[*s as usize]),
                    CompiledPeer::IpBlock(b) => set.union_with(&block_sets[*b as usize]),
                }
            }
            set
        };

        let local: Vec<u32> = {
            let mut seen = FixedBitSet::with_capacity(n);
            let mut v = Vec::new();
            for &p in pods {
                let c = self.pod_class[p as usize];
                if !seen.put(c as usize) {
                    v.push(c);
                }
            }
            v
        };

        // egress_ok[c]: destination classes class c may send to.
        let mut egress_ok: HashMap<u32, FixedBitSet> = HashMap::new();
        // ingress_ok[c]: source classes class c accepts.
        let mut ingress_ok: HashMap<u32, FixedBitSet> = HashMap::new();
        for &c in &local {
            let class = &self.classes[c as usize];
            let dst_ports = &self.inventory.pods[class.representative as usize].ports;

            let ingress = if class.ingress.is_empty() {
                all.clone()
            } else {
                let mut set = FixedBitSet::with_capacity(n);
                for &pid in &class.ingress {
                    for rule in &self.compiled[pid as usize].ingress {
                        let port_ok = rule.ports.is_empty()
                            || rule
                                .ports
                                .iter()
                                .any(|s| port_spec_matches(s, dst_ports, protocol, port));
                        if port_ok {
                            set.union_with(&peers_set(rule));
                        }
                    }
                }
                set
            };
            ingress_ok.insert(c, ingress);

            let egress = if class.egress.is_empty() {
                all.clone()
            } else {
                let mut set = FixedBitSet::with_capacity(n);
                for &pid in &class.egress {
                    for rule in &self.compiled[pid as usize].egress {
                        let mut ports_ok = FixedBitSet::with_capacity(n);
                        if rule.ports.is_empty() {
                            ports_ok = all.clone();
                        } else {
                            for spec in &rule.ports {
                                if spec.protocol != protocol {
                                    continue;
                                }
                                match &spec.port {
                                    PortMatch::Any => ports_ok = all.clone(),
                                    PortMatch::Range { from, to } => {
                                        if (*from..=*to).contains(&port) {
                                            ports_ok = all.clone();
                                        }
                                    }
                                    PortMatch::Named { name } => {
                                        ports_ok.union_with(&named_set(name, spec.protocol))
                                    }
                                }
                            }
                        }
                        if ports_ok.is_clear() {
                            continue;
                        }
                        let mut allowed = peers_set(rule);
                        allowed.intersect_with(&ports_ok);
                        set.union_with(&allowed);
                    }
                }
                set
            };
            egress_ok.insert(c, egress);
        }

        let position: HashMap<u32, usize> =
            local.iter().enumerate().map(|(i, &c)| (c, i)).collect();
        let k = local.len();
        let mut allowed = FixedBitSet::with_capacity(k * k);
        for (i, &src) in local.iter().enumerate() {
            for (j, &dst) in local.iter().enumerate() {
                if egress_ok[&src].contains(dst as usize) && ingress_ok[&dst].contains(src as usize)
                {
                    allowed.insert(i * k + j);
                }
            }
        }
        Matrix {
            pods: pods.to_vec(),
            class_of: pods
                .iter()
                .map(|&p| position[&self.pod_class[p as usize]] as u32)
                .collect(),
            classes: k,
            allowed,
        }
    }
}

/// Allowed pairs for one port: pod i may reach pod j when `get(i, j)`.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub pods: Vec<PodId>,
    class_of: Vec<u32>,
    classes: usize,
    allowed: FixedBitSet,
}

impl Matrix {
    pub fn get(&self, from: usize, to: usize) -> bool {
        from == to
            || self
                .allowed
                .contains(self.class_of[from] as usize * self.classes + self.class_of[to] as usize)
    }

    /// Number of allowed ordered pairs, a pod to itself included.
    pub fn allowed_pairs(&self) -> u64 {
        let mut size = vec![0u64; self.classes];
        for &c in &self.class_of {
            size[c as usize] += 1;
        }
        let mut total = 0u64;
        for a in 0..self.classes {
            for b in 0..self.classes {
                if self.allowed.contains(a * self.classes + b) {
                    total += size[a] * size[b];
                }
            }
            if !self.allowed.contains(a * self.classes + a) {
                // Self traffic is allowed even where the class pair is not.
                total += size[a];
            }
        }
        total
    }

    pub fn len(&self) -> usize {
        self.pods.len()
    }

    pub fn is_empty(&self) -> bool {
        self.pods.is_empty()
    }
}
