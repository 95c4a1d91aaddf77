//! Every port at once: for a pair of pod classes, the whole set of protocols and ports the
//! policies allow, as ranges (`TCP 1-79,81-65535; UDP 53`). One pass over the rules that
//! isolate each side, with each rule's peers worked out once as a bitset over classes and its
//! port entries once as ranges; only named ports are resolved per destination.

use std::fmt;

use foldhash::HashMap;
use foldhash::HashMapExt;

use fixedbitset::FixedBitSet;

use super::tiers::{CompiledTierRule, TierPeerSet};
use super::{CompiledPeer, CompiledRule, Index, PolicyId};
use crate::policy::model::{Direction, PortMatch, Protocol};
use crate::policy::tiers::{Action, Tier};

/// The highest port number; ports run from 1.
const MAX_PORT: u16 = u16::MAX;

/// A set of (protocol, port) as sorted, disjoint, merged inclusive ranges per protocol.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PortSet {
    ranges: [Vec<(u16, u16)>; 3],
}

fn slot(p: Protocol) -> usize {
    match p {
        Protocol::Tcp => 0,
        Protocol::Udp => 1,
        Protocol::Sctp => 2,
    }
}

impl PortSet {
    pub fn none() -> PortSet {
        PortSet::default()
    }

    /// Every port of every protocol.
    pub fn all() -> PortSet {
        let full = vec![(1, MAX_PORT)];
        PortSet {
            ranges: [full.clone(), full.clone(), full],
        }
    }

    pub fn is_empty(&self) -> bool {
        self.ranges.iter().all(Vec::is_empty)
    }

    pub fn is_all(&self) -> bool {
        self.ranges.iter().all(|r| r.as_slice() == [(1, MAX_PORT)])
    }

    pub fn contains(&self, protocol: Protocol, port: u16) -> bool {
        let r = &self.ranges[slot(protocol)];
        // The last range starting at or below `port`.
        let i = r.partition_point(|&(from, _)| from <= port);
        i > 0 && r[i - 1].1 >= port
    }

    /// Adds `from..=to` of `protocol`.
    pub fn add(&mut self, protocol: Protocol, from: u16, to: u16) {
        if from > to {
            return;
        }
        let r = &mut self.ranges[slot(protocol)];
        r.push((from, to));
        normalize(r);
    }

    pub fn union_with(&mut self, other: &PortSet) {
        for (mine, theirs) in self.ranges.iter_mut().zip(&other.ranges) {
            if theirs.is_empty() {
                continue;
            }
            mine.extend_from_slice(theirs);
            normalize(mine);
        }
    }

    pub fn intersection(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::none();
        for (k, out) in out.ranges.iter_mut().enumerate() {
            let (a, b) = (&self.ranges[k], &other.ranges[k]);
            let (mut i, mut j) = (0, 0);
            while i < a.len() && j < b.len() {
                let from = a[i].0.max(b[j].0);
                let to = a[i].1.min(b[j].1);
                if from <= to {
                    out.push((from, to));
                }
                if a[i].1 < b[j].1 {
                    i += 1;
                } else {
                    j += 1;
                }
            }
        }
        out
    }

    /// What is in `self` and not in `other`.
    pub fn minus(&self, other: &PortSet) -> PortSet {
        let mut out = PortSet::none();
        for (k, out) in out.ranges.iter_mut().enumerate() {
            let cut = &other.ranges[k];
            for &(from, to) in &self.ranges[k] {
                let mut start = u32::from(from);
                let end = u32::from(to);
                for &(cf, ct) in cut {
                    let (cf, ct) = (u32::from(cf), u32::from(ct));
                    if ct < start || cf > end {
                        continue;
                    }
                    if cf > start {
                        out.push((start as u16, (cf - 1) as u16));
                    }
                    start = ct + 1;
                    if start > end {
                        break;
                    }
                }
                if start <= end {
                    out.push((start as u16, end as u16));
                }
            }
        }
        out
    }
}

/// Sorts and merges overlapping or adjacent ranges.
fn normalize(r: &mut Vec<(u16, u16)>) {
    r.sort_unstable();
    let mut merged: Vec<(u16, u16)> = Vec::with_capacity(r.len());
    for &(from, to) in r.iter() {
        match merged.last_mut() {
            Some(last) if u32::from(from) <= u32::from(last.1) + 1 => last.1 = last.1.max(to),
            _ => merged.push((from, to)),
        }
    }
    *r = merged;
}

impl fmt::Display for PortSet {
    /// `all`, `none`, or `TCP 80,8000-8080; UDP 53`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.is_all() {
            return f.write_str("all");
        }
        if self.is_empty() {
            return f.write_str("none");
        }
        let mut first = true;
        for protocol in Protocol::ALL {
            let r = &self.ranges[slot(protocol)];
            if r.is_empty() {
                continue;
            }
            if !first {
                f.write_str("; ")?;
            }
            first = false;
            write!(f, "{protocol} ")?;
            for (i, &(from, to)) in r.iter().enumerate() {
                if i > 0 {
                    f.write_str(",")?;
                }
                if from == to {
                    write!(f, "{from}")?;
                } else {
                    write!(f, "{from}-{to}")?;
                }
            }
        }
        Ok(())
    }
}

/// What one pair may open: surely, and only if what could not be read allows it.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct PairPorts {
    pub sure: PortSet,
    pub unknown: PortSet,
}

impl fmt::Display for PairPorts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.sure)?;
        if !self.unknown.is_empty() {
            write!(f, " (unknown: {})", self.unknown)?;
        }
        Ok(())
    }
}

/// One rule, prepared: the classes its peers match (surely, maybe) and its ports.
struct Prepared {
    sure: FixedBitSet,
    maybe: Option<FixedBitSet>,
    /// Numbered and ranged entries (every port when the rule lists none).
    ports: PortSet,
    /// Named entries, resolved on the destination.
    named: Vec<(String, Protocol)>,
    /// A Calico rule's own end: the subject classes it holds (surely, maybe).
    own: Option<(FixedBitSet, Option<FixedBitSet>)>,
}

impl Prepared {
    /// Whether the rule's peers match class `other`: surely (1), maybe (2) or not (0).
    fn state(&self, other: u32) -> u8 {
        if self.sure.contains(other as usize) {
            1
        } else if self
            .maybe
            .as_ref()
            .is_some_and(|m| m.contains(other as usize))
        {
            2
        } else {
            0
        }
    }

    /// [`Prepared::state`] for subject class `subject`: a Calico rule whose own end does not
    /// hold the subject matches nothing, and where that is unknown, only maybe.
    fn state_for(&self, subject: u32, other: u32) -> u8 {
        let state = self.state(other);
        match &self.own {
            None => state,
            Some((sure, _)) if sure.contains(subject as usize) => state,
            Some((_, Some(maybe))) if maybe.contains(subject as usize) && state != 0 => 2,
            Some(_) => 0,
        }
    }

    /// The rule's ports with its named ports resolved on the destination's container ports.
    fn resolved(&self, dst_ports: &[crate::policy::model::ContainerPort]) -> PortSet {
        let mut ports = self.ports.clone();
        for (name, protocol) in &self.named {
            for cp in dst_ports {
                if cp.protocol == *protocol && cp.name.as_deref() == Some(name) {
                    ports.add(cp.protocol, cp.port, cp.port);
                }
            }
        }
        ports
    }
}

/// Port sets made once and named by a number: a cluster has few distinct ones, so pairs are
/// worked out on numbers and their text is made once per set.
struct Interned {
    sets: Vec<PairPorts>,
    ids: HashMap<PairPorts, u32>,
}

impl Default for Interned {
    fn default() -> Interned {
        Interned {
            sets: Vec::new(),
            ids: HashMap::new(),
        }
    }
}

impl Interned {
    fn id(&mut self, set: PairPorts) -> u32 {
        if let Some(&id) = self.ids.get(&set) {
            return id;
        }
        let id = self.sets.len() as u32;
        self.sets.push(set.clone());
        self.ids.insert(set, id);
        id
    }
}

/// Allowed port sets between pod classes. A side's answer depends only on which of the
/// subject's rules match the other end (and, for named ports, on the destination), so it is
/// worked out once per such pattern; a pair's answer once per pair of side answers.
pub struct Connectivity<'a> {
    index: &'a Index,
    /// Per policy: its ingress and egress rules, prepared.
    rules: Vec<[Vec<Prepared>; 2]>,
    /// Per tier policy: its ingress and egress rules, prepared.
    tier_rules: Vec<[Vec<Prepared>; 2]>,
    sets: Interned,
    /// Side answers by (subject class, direction, pattern of matching rules, destination
    /// class where named ports matter): patterns of up to 32 rules packed, longer ones kept.
    sides: HashMap<(u32, u8, u64, u32), u32>,
    long_sides: HashMap<(u32, u8, Vec<u8>, u32), u32>,
    pairs: HashMap<(u32, u32), u32>,
    pattern: Vec<u8>,
}

fn side(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

impl<'a> Connectivity<'a> {
    pub fn new(index: &'a Index) -> Connectivity<'a> {
        let n = index.classes.len();
        let mut all = FixedBitSet::with_capacity(n);
        all.insert_range(..);
        let block_classes = |b: u32| {
            let mut set = FixedBitSet::with_capacity(n);
            for (c, class) in index.classes.iter().enumerate() {
                if class.ip_blocks.binary_search(&b).is_ok() {
                    set.insert(c);
                }
            }
            set
        };
        // A Cilium entity's classes (or, with none, an unjudged peer's: every class maybe).
        let add_cilium = |entity, sure: &mut FixedBitSet, maybe: &mut Option<FixedBitSet>| {
            let (s, m) = index.cilium_peer_classes(entity);
            sure.union_with(s);
            maybe
                .get_or_insert_with(|| FixedBitSet::with_capacity(n))
                .union_with(m);
        };
        let prepare = |rule: &CompiledRule| {
            let (mut sure, mut maybe) = if rule.peers.is_empty() {
                (all.clone(), None)
            } else {
                (FixedBitSet::with_capacity(n), None::<FixedBitSet>)
            };
            for peer in &rule.peers {
                match peer {
                    CompiledPeer::Classes(s) | CompiledPeer::Services { pods: s, .. } => {
                        sure.union_with(&index.peer_sets[*s as usize]);
                        if let Some(m) = &index.peer_maybe[*s as usize] {
                            maybe
                                .get_or_insert_with(|| FixedBitSet::with_capacity(n))
                                .union_with(m);
                        }
                    }
                    CompiledPeer::IpBlock(b) => sure.union_with(&block_classes(*b)),
                    CompiledPeer::Entity(e) => add_cilium(Some(*e), &mut sure, &mut maybe),
                    CompiledPeer::Unjudged => add_cilium(None, &mut sure, &mut maybe),
                    CompiledPeer::Outside(_) | CompiledPeer::Domains(_) => {}
                }
            }
            let mut ports = PortSet::none();
            let mut named = Vec::new();
            if rule.ports.is_empty() {
                ports = PortSet::all();
            }
            for spec in &rule.ports {
                match &spec.port {
                    PortMatch::Any => ports.add(spec.protocol, 1, MAX_PORT),
                    PortMatch::Range { from, to } => ports.add(spec.protocol, *from, *to),
                    PortMatch::Named { name } => named.push((name.clone(), spec.protocol)),
                }
            }
            Prepared {
                sure,
                maybe,
                ports,
                named,
                own: None,
            }
        };
        let rules = index
            .compiled
            .iter()
            .map(|p| {
                [
                    p.ingress.iter().map(prepare).collect(),
                    p.egress.iter().map(prepare).collect(),
                ]
            })
            .collect();
        let net_classes = |id: u32| {
            let mut set = FixedBitSet::with_capacity(n);
            for (c, class) in index.classes.iter().enumerate() {
                if class.nets.binary_search(&id).is_ok() {
                    set.insert(c);
                }
            }
            set
        };
        // A tier rule is prepared as a NetworkPolicy rule would be, its peers being pods
        // and pod addresses (nodes and domain names match no pod).
        let prepare_tier = |rule: &CompiledTierRule| {
            let mut sure = FixedBitSet::with_capacity(n);
            let mut maybe: Option<FixedBitSet> = None;
            for peer in &rule.peers {
                match peer {
                    TierPeerSet::Classes(s) | TierPeerSet::Calico { set: s, .. } => {
                        sure.union_with(&index.peer_sets[*s as usize]);
                        if let Some(m) = &index.peer_maybe[*s as usize] {
                            maybe
                                .get_or_insert_with(|| FixedBitSet::with_capacity(n))
                                .union_with(m);
                        }
                    }
                    TierPeerSet::Networks(ids) => {
                        for &id in ids {
                            sure.union_with(&net_classes(id));
                        }
                    }
                    TierPeerSet::Entity(e) => add_cilium(Some(*e), &mut sure, &mut maybe),
                    TierPeerSet::Unjudged => add_cilium(None, &mut sure, &mut maybe),
                    TierPeerSet::Nodes(_) | TierPeerSet::Domains(_) | TierPeerSet::Outside(_) => {}
                }
            }
            let mut prepared = prepare(&CompiledRule {
                peers: Vec::new(),
                ports: rule.ports.clone(),
            });
            prepared.sure = sure;
            prepared.maybe = maybe;
            prepared.own = rule.own.as_ref().map(|(set, _)| {
                (
                    index.peer_sets[*set as usize].clone(),
                    index.peer_maybe[*set as usize].clone(),
                )
            });
            prepared
        };
        let tier_rules = index
            .tiers
            .iter()
            .map(|p| {
                [
                    p.ingress.iter().map(prepare_tier).collect(),
                    p.egress.iter().map(prepare_tier).collect(),
                ]
            })
            .collect();
        Connectivity {
            index,
            rules,
            tier_rules,
            sets: Interned::default(),
            sides: HashMap::new(),
            long_sides: HashMap::new(),
            pairs: HashMap::new(),
            pattern: Vec::new(),
        }
    }

    /// The port sets behind an id.
    pub fn set(&self, id: u32) -> &PairPorts {
        &self.sets.sets[id as usize]
    }

    /// What class `subject` allows in `direction` with class `other` at the far end, the
    /// destination being class `dst` (named ports resolve there), as the id of (surely,
    /// maybe).
    fn side(&mut self, subject: u32, other: u32, direction: Direction, dst: u32) -> u32 {
        let index = self.index;
        let class = &index.classes[subject as usize];
        if class.host_unjudged {
            // Calico's host endpoint policy decides, and is not judged.
            return self.sets.id(PairPorts {
                sure: PortSet::none(),
                unknown: PortSet::all(),
            });
        }
        let isolating: &[PolicyId] = match direction {
            Direction::Ingress => &class.ingress,
            Direction::Egress => &class.egress,
        };
        // The pattern: for each rule, whether the other end matches surely (1), maybe (2) or
        // not (0); then, if a matching rule names ports, the destination class.
        let mut pattern = std::mem::take(&mut self.pattern);
        pattern.clear();
        let mut named = false;
        for &pid in isolating {
            for rule in &self.rules[pid as usize][side(direction)] {
                let state = rule.state(other);
                named |= state != 0 && !rule.named.is_empty();
                pattern.push(state);
            }
        }
        let np_len = pattern.len();
        let tiers = index.tiers_active();
        if tiers {
            for (t, policy) in index.tiers.iter().enumerate() {
                if index.set_holds(policy.subject, subject) == Some(false) {
                    continue;
                }
                for rule in &self.tier_rules[t][side(direction)] {
                    let state = rule.state_for(subject, other);
                    named |= state != 0 && !rule.named.is_empty();
                    pattern.push(state);
                }
            }
        }
        let dir = side(direction) as u8;
        let far = if named { dst } else { u32::MAX };
        let packed = (pattern.len() <= 32).then(|| {
            pattern
                .iter()
                .fold(0u64, |acc, &state| (acc << 2) | u64::from(state))
        });
        let found = match packed {
            Some(bits) => self.sides.get(&(subject, dir, bits, far)),
            None => self.long_sides.get(&(subject, dir, pattern.clone(), far)),
        };
        if let Some(&id) = found {
            self.pattern = pattern;
            return id;
        }
        let known = index.class_policies_known(subject, direction);
        let dst_ports =
            &index.inventory.pods[index.classes[dst as usize].representative as usize].ports;
        let (sure, maybe) = if isolating.is_empty() {
            if known {
                (PortSet::all(), PortSet::none())
            } else {
                (PortSet::none(), PortSet::all())
            }
        } else {
            let (mut sure, mut maybe) = (PortSet::none(), PortSet::none());
            let mut states = pattern.iter();
            for &pid in isolating {
                for rule in &self.rules[pid as usize][side(direction)] {
                    let into = match states.next() {
                        Some(1) => &mut sure,
                        Some(2) => &mut maybe,
                        _ => continue,
                    };
                    into.union_with(&rule.resolved(dst_ports));
                }
            }
            if !known {
                // Policies that could not be read may admit anything else.
                maybe = PortSet::all();
            }
            let maybe = maybe.minus(&sure);
            (sure, maybe)
        };
        let (sure, maybe) = if tiers {
            let (sure, maybe) = self.through_tiers(
                subject,
                direction,
                dst_ports,
                &pattern[np_len..],
                (sure, maybe),
            );
            let maybe = maybe.minus(&sure);
            (sure, maybe)
        } else {
            (sure, maybe)
        };
        let id = self.sets.id(PairPorts {
            sure,
            unknown: maybe,
        });
        match packed {
            Some(bits) => self.sides.insert((subject, dir, bits, far), id),
            None => self
                .long_sides
                .insert((subject, dir, pattern.clone(), far), id),
        };
        self.pattern = pattern;
        id
    }

    /// The NetworkPolicy answer `np` (surely, maybe) of a side put between the Admin and
    /// Baseline tiers; `states` are the tier rules' matches of the far end, in evaluation
    /// order, for the tier policies that may apply to `subject`.
    fn through_tiers(
        &self,
        subject: u32,
        direction: Direction,
        dst_ports: &[crate::policy::model::ContainerPort],
        states: &[u8],
        np: (PortSet, PortSet),
    ) -> (PortSet, PortSet) {
        let index = self.index;
        if !index.policies.tiers_known {
            return (PortSet::none(), PortSet::all());
        }
        // Per group of tier policies (`Index::groups`): ports not yet decided, allowed,
        // unknown, passed on.
        let groups = index.groups.len();
        let mut remaining = vec![PortSet::all(); groups];
        let mut allow = vec![PortSet::none(); groups];
        let mut unknown = vec![PortSet::none(); groups];
        let mut passed = vec![PortSet::none(); groups];
        let mut states = states.iter();
        for (t, policy) in index.tiers.iter().enumerate() {
            let applies = index.set_holds(policy.subject, subject);
            if applies == Some(false) {
                continue;
            }
            let k = index.group_of[t] as usize;
            let actions = policy.rules(direction).iter().map(|r| r.action);
            for (rule, action) in self.tier_rules[t][side(direction)].iter().zip(actions) {
                let state = states.next().copied().unwrap_or(0);
                if state == 0 {
                    continue;
                }
                let hit = rule.resolved(dst_ports).intersection(&remaining[k]);
                if hit.is_empty() {
                    continue;
                }
                remaining[k] = remaining[k].minus(&hit);
                if state == 1 && applies == Some(true) {
                    match action {
                        Action::Allow => allow[k].union_with(&hit),
                        Action::Deny => {}
                        Action::Pass => passed[k].union_with(&hit),
                    }
                } else {
                    unknown[k].union_with(&hit);
                }
            }
        }
        // A group over two answers of what comes after it: `end` for what it leaves
        // undecided, `next` for what it passes on.
        let stack = |k: usize, end: (PortSet, PortSet), next: &(PortSet, PortSet)| {
            let mut sure = end.0.intersection(&remaining[k]);
            sure.union_with(&next.0.intersection(&passed[k]));
            sure.union_with(&allow[k]);
            let mut maybe = end.1.intersection(&remaining[k]);
            maybe.union_with(&next.1.intersection(&passed[k]));
            maybe.union_with(&unknown[k]);
            (sure, maybe)
        };
        let end_of = |denies: Option<bool>, below: &(PortSet, PortSet)| match denies {
            Some(true) => (PortSet::none(), PortSet::none()),
            None => (PortSet::none(), PortSet::all()),
            Some(false) => below.clone(),
        };
        // One tier over the answer of the tiers after it, group by group from the last.
        let stage = |tier: Tier, mut below: (PortSet, PortSet)| {
            for k in index.tier_groups[tier.index()].clone().rev() {
                let denies = index.group_end_denies(&index.groups[k], direction, subject);
                below = stack(k, end_of(denies, &below), &below);
            }
            below
        };
        let class = &index.classes[subject as usize];
        let isolating = match direction {
            Direction::Ingress => &class.ingress,
            Direction::Egress => &class.egress,
        };
        let np_decides = !isolating.is_empty() || !index.class_policies_known(subject, direction);
        let after = Tier::AFTER_NETWORK_POLICY
            .into_iter()
            .rev()
            .fold((PortSet::all(), PortSet::none()), |below, tier| {
                stage(tier, below)
            });
        let mut answer = if index.calico_default_active() {
            // Calico's default tier, from the bottom up: its deny for a pod it selects, the
            // Calico policies after NetworkPolicy, NetworkPolicy, those before it. A Pass
            // goes to the tiers after it.
            let default = |tier: Tier, below: (PortSet, PortSet)| {
                index.tier_groups[tier.index()]
                    .clone()
                    .rev()
                    .fold(below, |below, k| stack(k, below, &after))
            };
            let mut below = default(
                Tier::CalicoAfter,
                end_of(index.default_tier_selects(direction, subject), &after),
            );
            if np_decides {
                let (np_sure, np_maybe) = np;
                let mut decided = np_sure.clone();
                decided.union_with(&np_maybe);
                let mut sure = below.0.minus(&decided);
                sure.union_with(&np_sure);
                let mut maybe = below.1.minus(&decided);
                maybe.union_with(&np_maybe.minus(&np_sure));
                below = (sure, maybe);
            }
            default(Tier::CalicoBefore, below)
        } else if np_decides {
            np
        } else {
            after
        };
        // The tiers above, nearest first: what they pass on keeps the answer from below.
        for tier in Tier::BEFORE_NETWORK_POLICY.into_iter().rev() {
            answer = stage(tier, answer);
        }
        answer
    }

    /// What a member of class `src` may open to a (different) member of class `dst`, as the
    /// id of its port sets ([`Connectivity::set`]).
    pub fn between_id(&mut self, src: u32, dst: u32) -> u32 {
        let out = self.side(src, dst, Direction::Egress, dst);
        let inn = self.side(dst, src, Direction::Ingress, dst);
        if let Some(&id) = self.pairs.get(&(out, inn)) {
            return id;
        }
        let (o, i) = (self.set(out), self.set(inn));
        let sure = o.sure.intersection(&i.sure);
        let mut out_any = o.sure.clone();
        out_any.union_with(&o.unknown);
        let mut in_any = i.sure.clone();
        in_any.union_with(&i.unknown);
        let unknown = out_any.intersection(&in_any).minus(&sure);
        let id = self.sets.id(PairPorts { sure, unknown });
        self.pairs.insert((out, inn), id);
        id
    }

    /// What a member of class `src` may open to a (different) member of class `dst`.
    pub fn between(&mut self, src: u32, dst: u32) -> PairPorts {
        let id = self.between_id(src, dst);
        self.set(id).clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn set(parts: &[(Protocol, u16, u16)]) -> PortSet {
        let mut s = PortSet::none();
        for &(p, a, b) in parts {
            s.add(p, a, b);
        }
        s
    }

    #[test]
    fn ranges_merge_cut_and_print() {
        let s = set(&[
            (Protocol::Tcp, 80, 80),
            (Protocol::Tcp, 81, 90),
            (Protocol::Tcp, 1000, 2000),
            (Protocol::Udp, 53, 53),
        ]);
        assert_eq!(s.to_string(), "TCP 80-90,1000-2000; UDP 53");
        assert!(s.contains(Protocol::Tcp, 85) && !s.contains(Protocol::Tcp, 91));
        assert!(!s.contains(Protocol::Sctp, 80));
        let all_but_80 = PortSet::all().minus(&set(&[(Protocol::Tcp, 80, 80)]));
        assert_eq!(
            all_but_80.to_string(),
            "TCP 1-79,81-65535; UDP 1-65535; SCTP 1-65535"
        );
        assert_eq!(
            s.intersection(&all_but_80).to_string(),
            "TCP 81-90,1000-2000; UDP 53"
        );
        assert_eq!(PortSet::all().to_string(), "all");
        assert_eq!(PortSet::none().to_string(), "none");
        assert_eq!(
            set(&[(Protocol::Tcp, 1, 65535)]).minus(&set(&[(Protocol::Tcp, 1, 65535)])),
            PortSet::none()
        );
    }
}

/// One row of an every-port table.
pub enum Row<'t> {
    /// By pod: set ids by destination class, and their texts.
    Pods {
        ids: &'t [u32],
        texts: &'t [Option<std::sync::Arc<str>>],
        groups: &'t [Vec<(u32, u32)>],
        own: usize,
    },
    Cells(&'t [std::sync::Arc<str>]),
}

impl Row<'_> {
    /// The text of column `to`.
    pub fn get(&self, to: usize) -> &str {
        match self {
            // A pod may always reach itself.
            Row::Pods { own, .. } if *own == to => "all",
            Row::Pods {
                ids, texts, groups, ..
            } => texts[ids[groups[to][0].0 as usize] as usize]
                .as_deref()
                .unwrap_or(""),
            Row::Cells(cells) => &cells[to],
        }
    }
}

/// Rows of set ids kept at once (by pod): a row is as long as there are classes.
const ROWS_KEPT: usize = 64;

/// What the rows and columns of an every-port table are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum By {
    Pod,
    /// Pods grouped by their workload (`ns/Kind/name`; a pod no controller owns by itself).
    Workload,
}

/// An every-port table over pods or workloads: `names` in order, and each row's cells made
/// when the row is asked for. What is kept is bounded: per set of ports its text, per source
/// class the ids of one row.
pub struct PortTable<'a> {
    conn: Connectivity<'a>,
    by: By,
    pub names: Vec<String>,
    /// Per name: its pods' classes, with how many pods of each.
    groups: Vec<Vec<(u32, u32)>>,
    /// The text of each set of ports, by id.
    texts: Vec<Option<std::sync::Arc<str>>>,
    /// By pod: per source class, the set ids of its row, by destination class (a few rows
    /// kept at once).
    class_rows: HashMap<u32, Vec<u32>>,
    /// Workload cells: texts by (every, some, unknown) set ids.
    combined: HashMap<(u32, u32, u32), std::sync::Arc<str>>,
    folds: HashMap<(u32, u32, bool), u32>,
    row: Vec<std::sync::Arc<str>>,
    /// Whether any cell made so far holds an unknown part.
    pub unknown: bool,
}

impl<'a> PortTable<'a> {
    pub fn new(index: &'a Index, pods: &[super::PodId], by: By) -> PortTable<'a> {
        let inv = index.inventory();
        let (names, groups) = match by {
            By::Pod => {
                let mut rows: Vec<(String, u32)> = pods
                    .iter()
                    .map(|&p| (inv.pods[p as usize].key(), index.class_of(p)))
                    .collect();
                rows.sort();
                rows.into_iter()
                    .map(|(name, class)| (name, vec![(class, 1)]))
                    .unzip()
            }
            By::Workload => {
                let mut groups: std::collections::BTreeMap<String, Vec<(u32, u32)>> =
                    std::collections::BTreeMap::new();
                for &p in pods {
                    let pod = &inv.pods[p as usize];
                    let classes = groups
                        .entry(format!("{}/{}", pod.namespace, pod.workload_ref()))
                        .or_default();
                    let class = index.class_of(p);
                    match classes.iter_mut().find(|(c, _)| *c == class) {
                        Some((_, n)) => *n += 1,
                        None => classes.push((class, 1)),
                    }
                }
                groups.into_iter().unzip()
            }
        };
        PortTable {
            conn: Connectivity::new(index),
            by,
            names,
            groups,
            texts: Vec::new(),
            class_rows: HashMap::new(),
            combined: HashMap::new(),
            folds: HashMap::new(),
            row: Vec::new(),
            unknown: false,
        }
    }

    fn text(&mut self, id: u32) -> std::sync::Arc<str> {
        if let Some(Some(t)) = self.texts.get(id as usize) {
            return t.clone();
        }
        let set = self.conn.set(id);
        self.unknown |= !set.unknown.is_empty();
        let t: std::sync::Arc<str> = set.to_string().into();
        if self.texts.len() <= id as usize {
            self.texts.resize(id as usize + 1, None);
        }
        self.texts[id as usize] = Some(t.clone());
        t
    }

    /// The set ids from class `src` to every class.
    fn class_row(&mut self, src: u32) -> &[u32] {
        if !self.class_rows.contains_key(&src) {
            if self.class_rows.len() >= ROWS_KEPT {
                self.class_rows.clear();
            }
            let classes = self.conn.index.classes.len() as u32;
            let row = (0..classes)
                .map(|dst| self.conn.between_id(src, dst))
                .collect();
            self.class_rows.insert(src, row);
        }
        &self.class_rows[&src]
    }

    /// Sets `a` and `b` folded: their sure parts intersected (`every`) or united.
    fn fold(&mut self, a: u32, b: u32, every: bool) -> u32 {
        if let Some(&id) = self.folds.get(&(a, b, every)) {
            return id;
        }
        let (x, y) = (self.conn.set(a), self.conn.set(b));
        let set = if every {
            PairPorts {
                sure: x.sure.intersection(&y.sure),
                unknown: PortSet::none(),
            }
        } else {
            let mut sure = x.sure.clone();
            sure.union_with(&y.sure);
            let mut unknown = x.unknown.clone();
            unknown.union_with(&y.unknown);
            PairPorts { sure, unknown }
        };
        let id = self.conn.sets.id(set);
        self.folds.insert((a, b, every), id);
        id
    }

    /// Row `from`'s cells, one per column.
    pub fn row(&mut self, from: usize) -> Row<'_> {
        if self.by == By::Pod {
            let src = self.groups[from][0].0;
            let ids = self.class_row(src).to_vec();
            // Every text of the row made first; cells then only look them up.
            for &id in &ids {
                self.text(id);
            }
            let ids = &self.class_rows[&src];
            return Row::Pods {
                ids,
                texts: &self.texts,
                groups: &self.groups,
                own: from,
            };
        }
        let mut row = std::mem::take(&mut self.row);
        row.clear();
        for to in 0..self.names.len() {
            let text = self.workload_cell(from, to);
            row.push(text);
        }
        self.row = row;
        Row::Cells(&self.row)
    }

    /// Workload `from` to workload `to`: what every pod pair may open, what only some may,
    /// and what is unknown.
    fn workload_cell(&mut self, from: usize, to: usize) -> std::sync::Arc<str> {
        let mut every: Option<u32> = None;
        let mut any: Option<u32> = None;
        for k in 0..self.groups[from].len() {
            let (ca, na) = self.groups[from][k];
            for l in 0..self.groups[to].len() {
                let cb = self.groups[to][l].0;
                // Within one workload, a class of one pod meets only itself.
                if from == to && ca == cb && na == 1 {
                    continue;
                }
                let id = self.conn.between_id(ca, cb);
                every = Some(match every {
                    None => id,
                    Some(e) => self.fold(e, id, true),
                });
                any = Some(match any {
                    None => id,
                    Some(e) => self.fold(e, id, false),
                });
            }
        }
        let (Some(every), Some(any)) = (every, any) else {
            // One pod, to itself.
            return std::sync::Arc::from("all");
        };
        // `every` carries no unknown part; `any` carries all of it.
        let key = (every, any, 0);
        if let Some(t) = self.combined.get(&key) {
            return t.clone();
        }
        let (e, a) = (self.conn.set(every), self.conn.set(any));
        let unknown = a.unknown.minus(&e.sure);
        self.unknown |= !unknown.is_empty();
        let mut text = e.sure.to_string();
        let more = a.sure.minus(&e.sure);
        if !more.is_empty() {
            text.push_str(&format!(" (some pods also: {more})"));
        }
        if !unknown.is_empty() {
            text.push_str(&format!(" (unknown: {unknown})"));
        }
        let text: std::sync::Arc<str> = text.into();
        self.combined.insert(key, text.clone());
        text
    }
}
