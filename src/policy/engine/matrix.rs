//! The matrix: every pod to every pod for one port, worked out per pair of classes with
//! bitsets, never per pair of pods.

use std::collections::HashMap;

use fixedbitset::FixedBitSet;

use super::tiers::{CompiledTierRule, TierPeerSet, TierReach};
use super::{port_spec_matches, CompiledPeer, CompiledRule, Decision, Index, PodId};
use crate::policy::model::{Direction, PortMatch, PortSpec, Protocol};
use crate::policy::tiers::{Action, Tier};

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
    /// Per tier network, the classes whose members it contains.
    net_sets: Vec<FixedBitSet>,
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
        let net_sets = (0..index.tier_nets.len() as u32)
            .map(|b| {
                let mut set = FixedBitSet::with_capacity(n);
                for (c, class) in index.classes.iter().enumerate() {
                    if class.nets.binary_search(&b).is_ok() {
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
            net_sets,
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

    /// Nothing surely, anything maybe: a side that is not judged.
    fn unjudged(&self) -> Reach {
        Reach {
            sure: FixedBitSet::with_capacity(self.all.len()),
            maybe: Some(self.all.clone()),
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
                CompiledPeer::Classes(s) | CompiledPeer::Services { pods: s, .. } => reach.add(
                    &self.index.peer_sets[*s as usize],
                    self.index.peer_maybe[*s as usize].as_ref(),
                ),
                CompiledPeer::IpBlock(b) => reach.add(&self.block_sets[*b as usize], None),
                CompiledPeer::Entity(e) => {
                    let (sure, maybe) = self.index.cilium_peer_classes(Some(*e));
                    reach.add(sure, Some(maybe));
                }
                CompiledPeer::Unjudged => {
                    let (sure, maybe) = self.index.cilium_peer_classes(None);
                    reach.add(sure, Some(maybe));
                }
                CompiledPeer::Outside(_) | CompiledPeer::Domains(_) => {}
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
            let known = index.class_policies_known(c, Direction::Ingress);
            if class.host_unjudged {
                self.ingress[c as usize] = Some(self.unjudged());
                return self.ingress[c as usize].as_ref().expect("made just above");
            }
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
            if index.tiers_active() {
                reach = self.through_tiers(Direction::Ingress, c, reach);
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
            let known = index.class_policies_known(c, Direction::Egress);
            if class.host_unjudged {
                self.egress[c as usize] = Some(self.unjudged());
                return self.egress[c as usize].as_ref().expect("made just above");
            }
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
                        let ports_ok = self.ports_ok(&rule.ports);
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
            if index.tiers_active() {
                reach = self.through_tiers(Direction::Egress, c, reach);
            }
            self.egress[c as usize] = Some(reach);
        }
        self.egress[c as usize].as_ref().expect("made just above")
    }

    /// The destination classes a rule's port entries admit this port on (named ports
    /// resolve on the destination).
    fn ports_ok(&mut self, ports: &[PortSpec]) -> FixedBitSet {
        if ports.is_empty() {
            return self.all.clone();
        }
        let mut ok = FixedBitSet::with_capacity(self.all.len());
        for spec in ports {
            if spec.protocol != self.protocol {
                continue;
            }
            match &spec.port {
                PortMatch::Any => return self.all.clone(),
                PortMatch::Range { from, to } => {
                    if (*from..=*to).contains(&self.port) {
                        return self.all.clone();
                    }
                }
                PortMatch::Named { name } => {
                    let named = self.named(name, spec.protocol).clone();
                    ok.union_with(&named)
                }
            }
        }
        ok
    }

    /// The classes a tier rule's peers match, surely and maybe: pods, and pods whose
    /// addresses fall in its networks (nodes and domain names match no pod).
    fn tier_peers(&self, rule: &CompiledTierRule) -> Reach {
        let mut reach = self.nobody();
        for peer in &rule.peers {
            match peer {
                TierPeerSet::Classes(s) | TierPeerSet::Calico { set: s, .. } => reach.add(
                    &self.index.peer_sets[*s as usize],
                    self.index.peer_maybe[*s as usize].as_ref(),
                ),
                TierPeerSet::Networks(ids) => {
                    for &id in ids {
                        reach.add(&self.net_sets[id as usize], None);
                    }
                }
                TierPeerSet::Entity(e) => {
                    let (sure, maybe) = self.index.cilium_peer_classes(Some(*e));
                    reach.add(sure, Some(maybe));
                }
                TierPeerSet::Unjudged => {
                    let (sure, maybe) = self.index.cilium_peer_classes(None);
                    reach.add(sure, Some(maybe));
                }
                TierPeerSet::Nodes(_) | TierPeerSet::Domains(_) | TierPeerSet::Outside(_) => {}
            }
        }
        reach
    }

    /// One tier for subject class `c`: what it allows, what it cannot decide, and what it
    /// passes on (by a Pass rule, or no matching rule).
    fn tier_walk(&mut self, members: &[u32], direction: Direction, c: u32) -> TierReach {
        let index = self.index;
        let own_ports =
            &index.inventory.pods[index.classes[c as usize].representative as usize].ports;
        let mut undecided = self.all.clone();
        let mut allow = FixedBitSet::with_capacity(self.all.len());
        let mut unknown = allow.clone();
        let mut passed = allow.clone();
        for policy in members.iter().map(|&t| &index.tiers[t as usize]) {
            let applies = index.set_holds(policy.subject, c);
            if applies == Some(false) {
                continue;
            }
            for rule in policy.rules(direction) {
                // A Calico rule's own end: whether the subject class is what it asks for.
                let own = rule
                    .own
                    .as_ref()
                    .map_or(Some(true), |(set, _)| index.set_holds(*set, c));
                if own == Some(false) {
                    continue;
                }
                let ok = match direction {
                    Direction::Ingress => {
                        let fits = rule.ports.is_empty()
                            || rule
                                .ports
                                .iter()
                                .any(|s| port_spec_matches(s, own_ports, self.protocol, self.port));
                        if !fits {
                            continue;
                        }
                        self.all.clone()
                    }
                    Direction::Egress => self.ports_ok(&rule.ports),
                };
                let peers = self.tier_peers(rule);
                let mut sure = peers.sure;
                sure.intersect_with(&ok);
                sure.intersect_with(&undecided);
                let mut maybe = peers
                    .maybe
                    .unwrap_or_else(|| FixedBitSet::with_capacity(self.all.len()));
                maybe.intersect_with(&ok);
                maybe.intersect_with(&undecided);
                maybe.difference_with(&sure);
                if applies.is_none() || own.is_none() {
                    maybe.union_with(&sure);
                    sure.clear();
                }
                match rule.action {
                    Action::Allow => allow.union_with(&sure),
                    Action::Deny => {}
                    Action::Pass => passed.union_with(&sure),
                }
                unknown.union_with(&maybe);
                undecided.difference_with(&sure);
                undecided.difference_with(&maybe);
            }
        }
        let mut rest = undecided;
        rest.union_with(&passed);
        TierReach {
            allow,
            unknown,
            rest,
            passed,
        }
    }

    /// The NetworkPolicy answer `np` of class `c` put between the tiers before it and
    /// after it.
    fn through_tiers(&mut self, direction: Direction, c: u32, np: Reach) -> Reach {
        let index = self.index;
        if !index.policies.tiers_known {
            return Reach {
                sure: FixedBitSet::with_capacity(self.all.len()),
                maybe: Some(self.all.clone()),
            };
        }
        let class = &index.classes[c as usize];
        let isolating = match direction {
            Direction::Ingress => &class.ingress,
            Direction::Egress => &class.egress,
        };
        let np_decides = !isolating.is_empty() || !index.class_policies_known(c, direction);
        // The tiers after NetworkPolicy, from the bottom up: what none decides is allowed.
        let mut after = (self.all.clone(), FixedBitSet::with_capacity(self.all.len()));
        for tier in Tier::AFTER_NETWORK_POLICY.into_iter().rev() {
            after = self.stage(tier, direction, c, after);
        }
        let (mut sure, mut maybe) = if index.calico_default_active() {
            self.default_tier(direction, c, np, np_decides, after)
        } else if np_decides {
            let maybe = np
                .maybe
                .unwrap_or_else(|| FixedBitSet::with_capacity(self.all.len()));
            (np.sure, maybe)
        } else {
            after
        };
        // The tiers above, nearest first: what they pass on keeps the answer from below.
        for tier in Tier::BEFORE_NETWORK_POLICY.into_iter().rev() {
            (sure, maybe) = self.stage(tier, direction, c, (sure, maybe));
        }
        Reach {
            sure,
            maybe: Some(maybe),
        }
    }

    /// One tier over the answer `below` of the tiers after it (surely, maybe), group by
    /// group from the last: what a group passes on, or leaves undecided where its end does
    /// not deny, keeps the answer from below.
    fn stage(
        &mut self,
        tier: Tier,
        direction: Direction,
        c: u32,
        below: (FixedBitSet, FixedBitSet),
    ) -> (FixedBitSet, FixedBitSet) {
        let index = self.index;
        let mut below = below;
        for group in index.groups_of(tier).iter().rev() {
            let walk = self.tier_walk(&group.members, direction, c);
            let end = self.end_of(index.group_end_denies(group, direction, c), &below);
            below = stack(walk, end, &below);
        }
        below
    }

    /// What a tier's end makes of what it leaves undecided: denied, unknown (maybe
    /// denied), or the answer `below` of the tiers after it.
    fn end_of(
        &self,
        denies: Option<bool>,
        below: &(FixedBitSet, FixedBitSet),
    ) -> (FixedBitSet, FixedBitSet) {
        let none = FixedBitSet::with_capacity(self.all.len());
        match denies {
            Some(true) => (none.clone(), none),
            None => (none, self.all.clone()),
            Some(false) => below.clone(),
        }
    }

    /// Calico's default tier for class `c`, NetworkPolicy's answer `np` in it (which
    /// decides where `np_decides`), over the answer `after` of the tiers after it: from the
    /// bottom up, the tier's deny for a pod it selects, the Calico policies after
    /// NetworkPolicy, NetworkPolicy, the Calico policies before it. A Pass goes to the
    /// tiers after it.
    fn default_tier(
        &mut self,
        direction: Direction,
        c: u32,
        np: Reach,
        np_decides: bool,
        after: (FixedBitSet, FixedBitSet),
    ) -> (FixedBitSet, FixedBitSet) {
        let index = self.index;
        let n = self.all.len();
        let none = || FixedBitSet::with_capacity(n);
        let mut below = self.end_of(index.default_tier_selects(direction, c), &after);
        let walk = self.tier_walk(index.members(Tier::CalicoAfter), direction, c);
        below = stack(walk, below, &after);
        if np_decides {
            let np_maybe = np.maybe.unwrap_or_else(none);
            let mut decided = np.sure.clone();
            decided.union_with(&np_maybe);
            let (mut sure, mut maybe) = below;
            sure.difference_with(&decided);
            maybe.difference_with(&decided);
            sure.union_with(&np.sure);
            let mut np_only_maybe = np_maybe;
            np_only_maybe.difference_with(&np.sure);
            maybe.union_with(&np_only_maybe);
            below = (sure, maybe);
        }
        let walk = self.tier_walk(index.members(Tier::CalicoBefore), direction, c);
        stack(walk, below, &after)
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

/// Tier policies' reach over two answers of what comes after them: `end` for what they leave
/// undecided, `next` for what a Pass rule passes on (surely, maybe).
fn stack(
    walk: TierReach,
    end: (FixedBitSet, FixedBitSet),
    next: &(FixedBitSet, FixedBitSet),
) -> (FixedBitSet, FixedBitSet) {
    let mut undecided = walk.rest;
    undecided.difference_with(&walk.passed);
    let (mut sure, mut maybe) = end;
    sure.intersect_with(&undecided);
    maybe.intersect_with(&undecided);
    let mut passed_sure = next.0.clone();
    passed_sure.intersect_with(&walk.passed);
    let mut passed_maybe = next.1.clone();
    passed_maybe.intersect_with(&walk.passed);
    sure.union_with(&passed_sure);
    sure.union_with(&walk.allow);
    maybe.union_with(&passed_maybe);
    maybe.union_with(&walk.unknown);
    (sure, maybe)
}
