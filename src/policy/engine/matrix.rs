//! The matrix: every pod to every pod for one port, worked out per pair of classes with
//! bitsets, never per pair of pods.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;

use super::{port_spec_matches, CompiledPeer, CompiledRule, Decision, Index, PodId};
use crate::policy::model::{PortMatch, Protocol};

/// What a class admits or may reach, for one port: the classes surely allowed, and those
/// allowed only if namespace labels that cannot be read are what a rule selects.
#[derive(Debug, Clone)]
pub struct Reach {
    pub sure: FixedBitSet,
    pub maybe: Option<FixedBitSet>,
}

impl Reach {
    fn decision(&self, class: usize) -> Decision {
        if self.sure.contains(class) {
            Decision::Allowed
        } else if self.maybe.as_ref().is_some_and(|m| m.contains(class)) {
            Decision::Unknown
        } else {
            Decision::Denied
        }
    }

    fn add(&mut self, sure: &FixedBitSet, maybe: Option<&FixedBitSet>) {
        self.sure.union_with(sure);
        if let Some(m) = maybe {
            self.maybe
                .get_or_insert_with(|| FixedBitSet::with_capacity(m.len()))
                .union_with(m);
        }
    }
}

/// What one protocol and port allow, class by class: for a class, the source classes it admits
/// (ingress) and the destination classes it may send to (egress). Made lazily, so that a
/// caller pays only for the classes it asks about.
pub struct PortView<'a> {
    index: &'a Index,
    protocol: Protocol,
    port: u16,
    all: FixedBitSet,
    /// Per ipBlock, the classes whose members it contains.
    block_sets: Vec<FixedBitSet>,
    /// Classes that have a container port resolving a name (and protocol) to `port`.
    named: HashMap<(String, Protocol), FixedBitSet>,
    ingress: Vec<Option<Reach>>,
    egress: Vec<Option<Reach>>,
}

impl<'a> PortView<'a> {
    pub fn new(index: &'a Index, protocol: Protocol, port: u16) -> PortView<'a> {
        let n = index.classes.len();
        let mut all = FixedBitSet::with_capacity(n);
        all.insert_range(..);
        let block_sets = (0..index.ip_blocks.len() as u32)
            .map(|b| {
                let mut set = FixedBitSet::with_capacity(n);
                for (c, class) in index.classes.iter().enumerate() {
                    if class.ip_blocks.binary_search(&b).is_ok() {
                        set.insert(c);
                    }
                }
                set
            })
            .collect();
        PortView {
            index,
            protocol,
            port,
            all,
            block_sets,
            named: HashMap::new(),
            ingress: vec![None; n],
            egress: vec![None; n],
        }
    }

    fn everyone(&self) -> Reach {
        Reach {
            sure: self.all.clone(),
            maybe: None,
        }
    }

    fn nobody(&self) -> Reach {
        Reach {
            sure: FixedBitSet::with_capacity(self.all.len()),
            maybe: None,
        }
    }

    /// The classes a rule's peers match, surely and maybe.
    fn peers(&self, rule: &CompiledRule) -> Reach {
        if rule.peers.is_empty() {
            return self.everyone();
        }
        let mut reach = self.nobody();
        for peer in &rule.peers {
            match peer {
                CompiledPeer::Classes(s) => reach.add(
                    &self.index.peer_sets[*s as usize],
                    self.index.peer_maybe[*s as usize].as_ref(),
                ),
                CompiledPeer::IpBlock(b) => reach.add(&self.block_sets[*b as usize], None),
            }
        }
        reach
    }

    fn named(&mut self, name: &str, protocol: Protocol) -> &FixedBitSet {
        let (index, port, n) = (self.index, self.port, self.all.len());
        self.named
            .entry((name.to_string(), protocol))
            .or_insert_with(|| {
                let mut set = FixedBitSet::with_capacity(n);
                for (c, class) in index.classes.iter().enumerate() {
                    let ports = &index.inventory.pods[class.representative as usize].ports;
                    if ports.iter().any(|cp| {
                        cp.protocol == protocol
                            && cp.port == port
                            && cp.name.as_deref() == Some(name)
                    }) {
                        set.insert(c);
                    }
                }
                set
            })
    }

    /// The source classes class `c` admits.
    pub fn ingress(&mut self, c: u32) -> &Reach {
        if self.ingress[c as usize].is_none() {
            let index = self.index;
            let class = &index.classes[c as usize];
            let dst_ports = &index.inventory.pods[class.representative as usize].ports;
            let known = index.class_policies_known(c);
            let mut reach = if class.ingress.is_empty() {
                if known {
                    self.everyone()
                } else {
                    self.nobody()
                }
            } else {
                let mut reach = self.nobody();
                for &pid in &class.ingress {
                    for rule in &index.compiled[pid as usize].ingress {
                        let port_ok = rule.ports.is_empty()
                            || rule
                                .ports
                                .iter()
                                .any(|s| port_spec_matches(s, dst_ports, self.protocol, self.port));
                        if port_ok {
                            let peers = self.peers(rule);
                            reach.add(&peers.sure, peers.maybe.as_ref());
                        }
                    }
                }
                reach
            };
            if !known {
                // Policies that could not be read may admit anyone else.
                reach.maybe = Some(self.all.clone());
            }
            self.ingress[c as usize] = Some(reach);
        }
        self.ingress[c as usize].as_ref().expect("made just above")
    }

    /// The destination classes class `c` may send to.
    pub fn egress(&mut self, c: u32) -> &Reach {
        if self.egress[c as usize].is_none() {
            let index = self.index;
            let class = &index.classes[c as usize];
            let known = index.class_policies_known(c);
            let mut reach = if class.egress.is_empty() {
                if known {
                    self.everyone()
                } else {
                    self.nobody()
                }
            } else {
                let mut reach = self.nobody();
                for &pid in &class.egress {
                    for rule in &index.compiled[pid as usize].egress {
                        let mut ports_ok = FixedBitSet::with_capacity(self.all.len());
                        if rule.ports.is_empty() {
                            ports_ok = self.all.clone();
                        } else {
                            for spec in &rule.ports {
                                if spec.protocol != self.protocol {
                                    continue;
                                }
                                match &spec.port {
                                    PortMatch::Any => ports_ok = self.all.clone(),
                                    PortMatch::Range { from, to } => {
                                        if (*from..=*to).contains(&self.port) {
                                            ports_ok = self.all.clone();
                                        }
                                    }
                                    PortMatch::Named { name } => {
                                        let named = self.named(name, spec.protocol).clone();
                                        ports_ok.union_with(&named)
                                    }
                                }
                            }
                        }
                        if ports_ok.is_clear() {
                            continue;
                        }
                        let mut peers = self.peers(rule);
                        peers.sure.intersect_with(&ports_ok);
                        if let Some(m) = &mut peers.maybe {
                            m.intersect_with(&ports_ok);
                        }
                        reach.add(&peers.sure, peers.maybe.as_ref());
                    }
                }
                reach
            };
            if !known {
                reach.maybe = Some(self.all.clone());
            }
            self.egress[c as usize] = Some(reach);
        }
        self.egress[c as usize].as_ref().expect("made just above")
    }

    /// Whether a member of class `src` may open `protocol`/`port` to a member of class `dst`
    /// (two distinct pods: a pod to itself is always allowed).
    pub fn allows(&mut self, src: u32, dst: u32) -> Decision {
        let out = self.egress(src).decision(dst as usize);
        let inn = self.ingress(dst).decision(src as usize);
        match (out, inn) {
            (Decision::Denied, _) | (_, Decision::Denied) => Decision::Denied,
            (Decision::Allowed, Decision::Allowed) => Decision::Allowed,
            _ => Decision::Unknown,
        }
    }
}

impl Index {
    /// Allowed pairs among `pods` for one protocol and port, computed per class.
    pub fn matrix(&self, pods: &[PodId], protocol: Protocol, port: u16) -> Matrix {
        let n = self.classes.len();
        let mut position = vec![u32::MAX; n];
        let mut local: Vec<u32> = Vec::new();
        for &p in pods {
            let c = self.pod_class[p as usize];
            if position[c as usize] == u32::MAX {
                position[c as usize] = local.len() as u32;
                local.push(c);
            }
        }
        let mut view = PortView::new(self, protocol, port);
        let k = local.len();
        let mut allowed = FixedBitSet::with_capacity(k * k);
        let mut unknown = FixedBitSet::with_capacity(k * k);
        for (i, &src) in local.iter().enumerate() {
            for (j, &dst) in local.iter().enumerate() {
                match view.allows(src, dst) {
                    Decision::Allowed => allowed.insert(i * k + j),
                    Decision::Unknown => unknown.insert(i * k + j),
                    Decision::Denied => {}
                }
            }
        }
        Matrix {
            pods: pods.to_vec(),
            class_of: pods
                .iter()
                .map(|&p| position[self.pod_class[p as usize] as usize])
                .collect(),
            classes: k,
            allowed,
            unknown,
        }
    }

    /// The class of a pod: pods of one class are alike to every policy.
    pub fn class_of(&self, pod: PodId) -> u32 {
        self.pod_class[pod as usize]
    }
}

/// Allowed pairs for one port: pod i may reach pod j when `get(i, j)`.
#[derive(Debug, Clone)]
pub struct Matrix {
    pub pods: Vec<PodId>,
    class_of: Vec<u32>,
    classes: usize,
    allowed: FixedBitSet,
    /// Pairs whose answer depends on namespace labels that cannot be read.
    unknown: FixedBitSet,
}

impl Matrix {
    /// Pod i may surely reach pod j.
    pub fn get(&self, from: usize, to: usize) -> bool {
        self.decision(from, to) == Decision::Allowed
    }

    pub fn decision(&self, from: usize, to: usize) -> Decision {
        if from == to {
            return Decision::Allowed;
        }
        let cell = self.class_of[from] as usize * self.classes + self.class_of[to] as usize;
        if self.allowed.contains(cell) {
            Decision::Allowed
        } else if self.unknown.contains(cell) {
            Decision::Unknown
        } else {
            Decision::Denied
        }
    }

    /// Whether any pair's answer is unknown.
    pub fn has_unknown(&self) -> bool {
        self.unknown_pairs() > 0
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

    /// Number of ordered pairs whose answer is unknown.
    pub fn unknown_pairs(&self) -> u64 {
        let mut size = vec![0u64; self.classes];
        for &c in &self.class_of {
            size[c as usize] += 1;
        }
        let mut total = 0u64;
        for a in 0..self.classes {
            for b in 0..self.classes {
                if self.unknown.contains(a * self.classes + b) {
                    total += size[a] * size[b];
                    if a == b {
                        // A pod to itself is allowed, never unknown.
                        total -= size[a];
                    }
                }
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
