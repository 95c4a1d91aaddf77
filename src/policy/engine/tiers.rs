//! Tier policies in the engine. Each is compiled against the classes once: its subject and
//! its rules' pod peers become bitsets over classes (host-network pods excluded, as the API
//! says), its networks become memberships recorded in the class keys. A side is then judged
//! through Calico's tiers of their own (groups that end in their default action), the Admin
//! tier, NetworkPolicy (inside Calico's default tier where that has policies), and the
//! Baseline tier ([`Index::side`]); the same
//! walk is done for one flow here, for one port over every class in the matrix, and for
//! every port of one pair in the all-ports table.

use std::ops::Range;

use fixedbitset::FixedBitSet;
use serde::{Deserialize, Serialize};

use super::{Endpoint, Flow, Index, Side};
use crate::policy::calico::{end_matches, AddressSets, Seen};
use crate::policy::model::{Direction, Entity, IpBlock, PortSpec};
use crate::policy::selector::Selector;
use crate::policy::tiers::{Action, CalicoEnd, Tier, TierPolicy};

/// The tier rule that decides a side: indexes into the set's tier policies (in evaluation
/// order), the policy's rules of that direction, the rule's peers and its ports (`None`
/// where the rule names no ports).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct TierRef {
    pub policy: u32,
    pub rule: u32,
    pub peer: u32,
    pub port: Option<u32>,
}

#[derive(Debug, Clone)]
pub(super) enum TierPeerSet {
    /// Pods: a peer set over classes (`Index::peer_sets`), host-network classes left out.
    Classes(u32),
    /// Nodes by label, judged on the node an address belongs to.
    Nodes(Selector),
    /// Ids into `Index::tier_nets`: addresses of pods, nodes and the outside alike.
    Networks(Vec<u32>),
    /// Domain names: an address belongs to one only as the user says (`--fqdn`).
    Domains(Vec<String>),
    /// Cilium's peers: an entity, a CIDR of outside addresses, and what cannot be judged.
    Entity(Entity),
    Outside(IpBlock),
    Unjudged,
    /// A Calico rule's far end: the classes it holds (a peer set), and the end itself for
    /// addresses that are no pod's, or a pod's one address.
    Calico {
        set: u32,
        end: Box<CalicoEnd>,
    },
}

#[derive(Debug, Clone)]
pub(super) struct CompiledTierRule {
    pub action: Action,
    pub peers: Vec<TierPeerSet>,
    /// Empty: every protocol and port.
    pub ports: Vec<PortSpec>,
    /// A Calico rule's own end: the subject classes it holds (a peer set), and the end.
    pub own: Option<(u32, Box<CalicoEnd>)>,
}

/// What one tier does with one flow.
pub(super) enum Step {
    /// A rule decides (or might: unknown).
    Decided(Side),
    /// A Pass rule leaves the tier.
    Passed,
    /// No rule matches.
    Continue,
}

/// Selected surely (some policies surely select), not (none even maybe does), or maybe.
fn surely(sure: &[u32], maybe: &[u32]) -> Option<bool> {
    if !sure.is_empty() {
        Some(true)
    } else if maybe.is_empty() {
        Some(false)
    } else {
        None
    }
}

/// Tier policies that end alike: a Calico tier of its own, or the rest of a tier.
#[derive(Debug, Clone)]
pub(super) struct TierGroup {
    pub tier: Tier,
    /// Positions in the set's tier policies, in evaluation order.
    pub members: Vec<u32>,
    /// A Calico tier's default action: what it does with what no rule of it decides for a
    /// pod one of its policies selects. `None`: the side goes on to the next tier.
    pub end: Option<Action>,
}

/// The tier policies (in evaluation order) in groups: one per Calico tier of its own, one
/// per other tier that has policies. With each tier's groups, and each policy's group.
pub(super) fn tier_groups(
    policies: &[TierPolicy],
) -> (Vec<TierGroup>, [Range<usize>; Tier::COUNT], Vec<u32>) {
    let mut groups: Vec<TierGroup> = Vec::new();
    let mut group_of = Vec::with_capacity(policies.len());
    for (t, policy) in policies.iter().enumerate() {
        let calico = policy
            .calico
            .as_deref()
            .filter(|_| policy.tier.is_calico_named());
        let same = groups.last().is_some_and(|g| {
            g.tier == policy.tier
                && calico.is_none_or(|c| {
                    policies[g.members[0] as usize].calico_tier() == Some(c.tier.as_str())
                })
        });
        if !same {
            groups.push(TierGroup {
                tier: policy.tier,
                members: Vec::new(),
                end: calico.map(|c| c.default_action),
            });
        }
        let g = groups.len() - 1;
        groups[g].members.push(t as u32);
        group_of.push(g as u32);
    }
    let ranges = std::array::from_fn(|k| {
        let first = groups
            .iter()
            .position(|g| g.tier.index() >= k)
            .unwrap_or(groups.len());
        let end = groups
            .iter()
            .position(|g| g.tier.index() > k)
            .unwrap_or(groups.len());
        first..end
    });
    (groups, ranges, group_of)
}

#[derive(Debug, Clone)]
pub(super) struct CompiledTier {
    pub tier: Tier,
    /// The peer set of the classes the policy applies to.
    pub subject: u32,
    pub ingress: Vec<CompiledTierRule>,
    pub egress: Vec<CompiledTierRule>,
    /// Ingress, egress: whether a Calico policy selects its pods for that direction (its
    /// `types`), so that the default tier denies what no rule decides.
    pub selects_for: [bool; 2],
}

impl CompiledTier {
    pub fn selects_for(&self, direction: Direction) -> bool {
        match direction {
            Direction::Ingress => self.selects_for[0],
            Direction::Egress => self.selects_for[1],
        }
    }

    pub fn rules(&self, direction: Direction) -> &[CompiledTierRule] {
        match direction {
            Direction::Ingress => &self.ingress,
            Direction::Egress => &self.egress,
        }
    }
}

impl Index {
    /// Whether the engine has tier policies to walk, or tier policies it could not read.
    pub(super) fn tiers_active(&self) -> bool {
        !self.tiers.is_empty() || !self.policies.tiers_known
    }

    /// Whether Calico's default tier has policies of its own, around NetworkPolicy.
    pub(super) fn calico_default_active(&self) -> bool {
        !self.members(Tier::CalicoBefore).is_empty() || !self.members(Tier::CalicoAfter).is_empty()
    }

    /// The Calico policies of the default tier that select a class for `direction`: surely,
    /// and maybe (positions in evaluation order).
    pub(super) fn default_tier_selecting(
        &self,
        direction: Direction,
        class: u32,
    ) -> (Vec<u32>, Vec<u32>) {
        let members = [Tier::CalicoBefore, Tier::CalicoAfter]
            .into_iter()
            .flat_map(|tier| self.members(tier));
        self.selecting(members, direction, class)
    }

    /// Of some Calico policies, those that select a class for `direction`: surely, and maybe.
    pub(super) fn selecting<'a>(
        &self,
        members: impl IntoIterator<Item = &'a u32>,
        direction: Direction,
        class: u32,
    ) -> (Vec<u32>, Vec<u32>) {
        let (mut sure, mut maybe) = (Vec::new(), Vec::new());
        for &t in members {
            let policy = &self.tiers[t as usize];
            if !policy.selects_for(direction) {
                continue;
            }
            match self.set_holds(policy.subject, class) {
                Some(true) => sure.push(t),
                None => maybe.push(t),
                Some(false) => {}
            }
        }
        (sure, maybe)
    }

    /// Whether a group's end denies a class for `direction`: surely, not (it goes on), or
    /// maybe (`None`).
    pub(super) fn group_end_denies(
        &self,
        group: &TierGroup,
        direction: Direction,
        class: u32,
    ) -> Option<bool> {
        if group.end != Some(Action::Deny) {
            return Some(false);
        }
        let (sure, maybe) = self.selecting(&group.members, direction, class);
        surely(&sure, &maybe)
    }

    /// The groups of a tier.
    pub(super) fn groups_of(&self, tier: Tier) -> &[TierGroup] {
        &self.groups[self.tier_groups[tier.index()].clone()]
    }

    /// The policies of a tier that is one group (every tier but Calico's tiers of their
    /// own), in evaluation order.
    pub(super) fn members(&self, tier: Tier) -> &[u32] {
        debug_assert!(!tier.is_calico_named(), "{tier} holds several groups");
        self.groups_of(tier)
            .first()
            .map_or(&[][..], |g| g.members.as_slice())
    }

    /// Whether a Calico policy of the default tier selects a pod for `direction` (`None`:
    /// maybe), so that the tier denies what it does not decide.
    pub fn calico_default_tier_selects(
        &self,
        pod: super::PodId,
        direction: Direction,
    ) -> Option<bool> {
        self.calico_selects_class(direction, self.pod_class[pod as usize])
    }

    /// Whether a Calico tier that denies at its end (the default tier, or one whose default
    /// action is Deny) selects a pod for `direction`: surely, not, or (`None`) only maybe. Such
    /// a pod is isolated as a NetworkPolicy isolates it.
    pub fn calico_isolates(&self, pod: super::PodId, direction: Direction) -> Option<bool> {
        let class = self.pod_class[pod as usize];
        let members = self
            .groups
            .iter()
            .filter(|g| g.end == Some(Action::Deny) || g.tier.is_calico_default())
            .flat_map(|g| &g.members);
        let (sure, maybe) = self.selecting(members, direction, class);
        surely(&sure, &maybe)
    }

    /// Whether a Calico policy of the default tier selects a class for `direction`: surely,
    /// not, or (`None`) only maybe.
    fn calico_selects_class(&self, direction: Direction, class: u32) -> Option<bool> {
        let (sure, maybe) = self.default_tier_selecting(direction, class);
        surely(&sure, &maybe)
    }

    /// Whether the default tier selects a class for `direction` (NetworkPolicies that
    /// isolate it included): `None` where only maybe.
    pub(super) fn default_tier_selects(&self, direction: Direction, class: u32) -> Option<bool> {
        let c = &self.classes[class as usize];
        let isolated = match direction {
            Direction::Ingress => !c.ingress.is_empty(),
            Direction::Egress => !c.egress.is_empty(),
        };
        if isolated {
            return Some(true);
        }
        self.calico_selects_class(direction, class)
    }

    /// How a Calico rule's end sees an endpoint of a flow.
    pub fn calico_seen<'a>(&'a self, endpoint: &'a Endpoint) -> Seen<'a> {
        let inv = &self.inventory;
        match endpoint {
            Endpoint::Pod { pod, addr } => {
                let pod = &inv.pods[*pod as usize];
                Seen::Pod {
                    pod,
                    namespace: self.namespace(&pod.namespace),
                    addr: *addr,
                }
            }
            Endpoint::Node { node, addr } => Seen::Node {
                addrs: match addr {
                    Some(ip) => std::slice::from_ref(ip),
                    None => &inv.nodes[*node as usize].addresses,
                },
                sets: self.address_sets(),
            },
            Endpoint::External(ip) => Seen::Address {
                ip: *ip,
                sets: self.address_sets(),
            },
        }
    }

    /// Calico's NetworkSets, GlobalNetworkSets and HostEndpoints, as far as they are known.
    fn address_sets(&self) -> AddressSets<'_> {
        AddressSets {
            sets: &self.policies.calico_sets,
            complete: self.policies.calico_sets_known,
            namespaces: &self.inventory.namespaces,
        }
    }

    /// Whether a Calico end holds an endpoint of a flow.
    /// A pod with no address of its own in the flow is judged by its class (all its
    /// addresses, as the matrix does).
    fn calico_end_holds(
        &self,
        set: u32,
        end: &CalicoEnd,
        endpoint: &Endpoint,
        flow: &Flow,
    ) -> Option<bool> {
        match endpoint {
            Endpoint::Pod { pod, addr: None } => self.set_holds(set, self.pod_class[*pod as usize]),
            _ => {
                let port = Some((flow.protocol, flow.port));
                end_matches(end, &self.calico_seen(endpoint), &self.inventory, port).0
            }
        }
    }

    /// Whether tier policy `tier` (its place in evaluation order) applies to the pod:
    /// `None` when that depends on namespace labels that cannot be read.
    pub fn tier_applies(&self, tier: u32, pod: super::PodId) -> Option<bool> {
        self.set_holds(
            self.tiers[tier as usize].subject,
            self.pod_class[pod as usize],
        )
    }

    /// How many pods a tier policy applies to: surely, and more if namespace labels that
    /// cannot be read are what its subject selects. Counted per class.
    pub fn tier_subject_pods(&self, tier: u32) -> (usize, usize) {
        let set = self.tiers[tier as usize].subject as usize;
        let count =
            |s: &FixedBitSet| -> usize { s.ones().map(|c| self.classes[c].members as usize).sum() };
        (
            count(&self.peer_sets[set]),
            self.peer_maybe[set].as_ref().map(count).unwrap_or(0),
        )
    }

    /// Whether a peer set holds a class: surely (`Some(true)`), not (`Some(false)`), or only
    /// if namespace labels that cannot be read are what it selects (`None`).
    pub(super) fn set_holds(&self, set: u32, class: u32) -> Option<bool> {
        if self.peer_sets[set as usize].contains(class as usize) {
            Some(true)
        } else if self.peer_maybe[set as usize]
            .as_ref()
            .is_some_and(|m| m.contains(class as usize))
        {
            None
        } else {
            Some(false)
        }
    }

    /// Whether a tier peer matches the far end of a flow (`None`: cannot be known).
    fn tier_peer_matches(
        &self,
        peer: &TierPeerSet,
        own: super::Own,
        endpoint: &Endpoint,
        flow: &Flow,
    ) -> Option<bool> {
        match (peer, endpoint) {
            (TierPeerSet::Entity(e), endpoint) => self.entity_matches(*e, own, endpoint),
            (TierPeerSet::Outside(block), endpoint) => self.outside_matches(block, endpoint),
            (TierPeerSet::Unjudged, _) => None,
            (TierPeerSet::Calico { set, end }, endpoint) => {
                self.calico_end_holds(*set, end, endpoint, flow)
            }
            (TierPeerSet::Classes(set), Endpoint::Pod { pod, .. }) => {
                self.set_holds(*set, self.pod_class[*pod as usize])
            }
            (TierPeerSet::Classes(_), _) => Some(false),
            (TierPeerSet::Nodes(selector), Endpoint::Node { node, .. }) => {
                Some(selector.matches(&self.inventory.nodes[*node as usize].labels))
            }
            // An address that is no known pod may be a node that could not be read.
            (TierPeerSet::Nodes(_), Endpoint::External(_)) if !self.inventory.nodes_known => None,
            (TierPeerSet::Nodes(_), _) => Some(false),
            (TierPeerSet::Networks(ids), endpoint) => {
                let nets = ids.iter().map(|&i| &self.tier_nets[i as usize]);
                Some(match endpoint {
                    Endpoint::External(ip)
                    | Endpoint::Node { addr: Some(ip), .. }
                    | Endpoint::Pod { addr: Some(ip), .. } => {
                        nets.into_iter().any(|n| n.contains(ip))
                    }
                    Endpoint::Node { node, addr: None } => {
                        let addresses = &self.inventory.nodes[*node as usize].addresses;
                        nets.into_iter()
                            .any(|n| addresses.iter().any(|ip| n.contains(ip)))
                    }
                    Endpoint::Pod { pod, addr: None } => {
                        let class = &self.classes[self.pod_class[*pod as usize] as usize];
                        ids.iter().any(|i| class.nets.binary_search(i).is_ok())
                    }
                })
            }
            (TierPeerSet::Domains(names), Endpoint::External(ip)) => {
                self.options.domains.resolves(names, ip)
            }
            (TierPeerSet::Domains(_), _) => Some(false),
        }
    }

    /// One tier for one flow: the side it decides (allowed, denied, or unknown where a rule
    /// might match; for a Calico tier of its own that selects the pod, its default Deny), or
    /// `None` when the flow goes on past it (a Pass rule, or no match).
    pub(super) fn tier_side(
        &self,
        tier: Tier,
        direction: Direction,
        subject: u32,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Option<Side> {
        for group in self.groups_of(tier) {
            match self.members_step(&group.members, direction, subject, peer, flow) {
                Step::Decided(side) => return Some(side),
                Step::Passed => continue,
                Step::Continue => {}
            }
            if group.end == Some(Action::Deny) {
                let (selecting, maybe) = self.selecting(&group.members, direction, subject);
                if !selecting.is_empty() || !maybe.is_empty() {
                    return Some(Side::TierEnd {
                        selecting,
                        isolating: Vec::new(),
                        maybe,
                    });
                }
            }
        }
        None
    }

    /// One tier for one flow, telling a Pass from no match.
    pub(super) fn tier_step(
        &self,
        tier: Tier,
        direction: Direction,
        subject: u32,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Step {
        self.members_step(self.members(tier), direction, subject, peer, flow)
    }

    /// Some tier policies (in evaluation order) for one flow, telling a Pass from no match.
    fn members_step(
        &self,
        members: &[u32],
        direction: Direction,
        subject: u32,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Step {
        let own = flow
            .end_of(direction)
            .pod_id()
            .map_or(super::Own::Nothing, super::Own::Pod);
        let applies = |t: u32| self.set_holds(self.tiers[t as usize].subject, subject);
        self.walk_members(members, direction, applies, own, peer, flow)
    }

    /// Some tier policies (in evaluation order) for one flow whose subject (`own`) each
    /// applies to as `applies` says, telling a Pass from no match.
    pub(super) fn walk_members(
        &self,
        members: &[u32],
        direction: Direction,
        applies: impl Fn(u32) -> Option<bool>,
        own: super::Own,
        peer: &Endpoint,
        flow: &Flow,
    ) -> Step {
        let own_end = flow.end_of(direction);
        for &t in members {
            let policy = &self.tiers[t as usize];
            let applies = applies(t);
            if applies == Some(false) {
                continue;
            }
            for (r, rule) in policy.rules(direction).iter().enumerate() {
                let own_holds = match &rule.own {
                    None => Some(true),
                    Some((set, end)) => self.calico_end_holds(*set, end, own_end, flow),
                };
                if own_holds == Some(false) {
                    continue;
                }
                let mut hit: Option<(u32, bool)> = None;
                for (i, p) in rule.peers.iter().enumerate() {
                    match self.tier_peer_matches(p, own, peer, flow) {
                        Some(true) => {
                            hit = Some((i as u32, true));
                            break;
                        }
                        None if hit.is_none() => hit = Some((i as u32, false)),
                        _ => {}
                    }
                }
                let Some((peer_index, sure)) = hit else {
                    continue;
                };
                let Some(port) =
                    self.port_matches(&rule.ports, &flow.dst, flow.protocol, flow.port)
                else {
                    continue;
                };
                let at = TierRef {
                    policy: t,
                    rule: r as u32,
                    peer: peer_index,
                    port,
                };
                if !sure || applies.is_none() || own_holds.is_none() {
                    return Step::Decided(Side::TierUnknown { rule: Some(at) });
                }
                return match rule.action {
                    Action::Allow => Step::Decided(Side::TierAllowed(at)),
                    Action::Deny => Step::Decided(Side::TierDenied(at)),
                    Action::Pass => Step::Passed,
                };
            }
        }
        Step::Continue
    }
}

/// What one tier does, for one subject class and one port, to every class at the far end.
pub(super) struct TierReach {
    pub allow: FixedBitSet,
    pub unknown: FixedBitSet,
    /// Passed on, or matched by no rule: the next tier decides.
    pub rest: FixedBitSet,
    /// Of `rest`, what a Pass rule passed on (Calico's default tier: to the tier after it).
    pub passed: FixedBitSet,
}

/// Mistakes with tier policies that the engine can see: rules that never decide, a Pass that
/// hands the traffic to nothing, NetworkPolicy rules a higher tier makes unreachable.
impl Index {
    /// Classes a tier policy surely applies to.
    fn tier_subject_classes(&self, tier: u32) -> Vec<usize> {
        self.peer_sets[self.tiers[tier as usize].subject as usize]
            .ones()
            .collect()
    }

    /// Warnings about one tier policy, in words, each naming the rule.
    pub fn tier_warnings(&self, tier: u32) -> Vec<String> {
        let compiled = &self.tiers[tier as usize];
        let policy = &self.policies.tiers[tier as usize];
        let mut out = policy.warnings.clone();
        let (sure, maybe) = self.tier_subject_pods(tier);
        match &policy.subject {
            // A host policy selects nodes, with or without host-network pods on them.
            crate::policy::tiers::Subject::Nodes(nodes) => {
                out.extend(self.inventory.selects_no_node(nodes));
            }
            _ if sure + maybe == 0 => {
                out.push("the subject selects no pod: the policy has no effect".into());
            }
            _ => {}
        }
        let subject = self.tier_subject_classes(tier);
        for direction in [Direction::Ingress, Direction::Egress] {
            for (r, rule) in compiled.rules(direction).iter().enumerate() {
                for (p, peer) in rule.peers.iter().enumerate() {
                    if let TierPeerSet::Classes(set) = peer {
                        let none = self.peer_sets[*set as usize].is_clear()
                            && self.peer_maybe[*set as usize]
                                .as_ref()
                                .is_none_or(|m| m.is_clear());
                        if none {
                            out.push(format!("{direction}[{r}] peer {p}: matches no pod"));
                        }
                    }
                }
                if rule.action != Action::Pass {
                    continue;
                }
                // Calico tiers of their own after this one may still decide.
                let later_calico = self
                    .groups
                    .iter()
                    .any(|g| g.tier > compiled.tier && g.tier.is_calico());
                if later_calico {
                    continue;
                }
                if compiled.tier == Tier::Baseline {
                    out.push(format!(
                        "{direction}[{r}]: a Pass in the baseline tier has nothing after it: \
                         the traffic is allowed"
                    ));
                    continue;
                }
                // An admin Pass hands the traffic to NetworkPolicy, then the baseline tier;
                // where neither has anything for these pods, it allows.
                let nowhere = !subject.is_empty()
                    && subject.iter().all(|&c| {
                        let class = &self.classes[c];
                        let isolated = match direction {
                            Direction::Ingress => !class.ingress.is_empty(),
                            Direction::Egress => !class.egress.is_empty(),
                        };
                        let baseline = self.tiers.iter().any(|t| {
                            t.tier == Tier::Baseline
                                && !t.rules(direction).is_empty()
                                && self.set_holds(t.subject, c as u32) != Some(false)
                        });
                        !isolated && !baseline && self.class_policies_known(c as u32, direction)
                    });
                if nowhere {
                    out.push(format!(
                        "{direction}[{r}]: the Pass leads nowhere: no NetworkPolicy isolates \
                         the subject's pods for {direction} and no baseline rule applies to \
                         them, so the traffic is allowed"
                    ));
                }
            }
        }
        out
    }

    /// NetworkPolicy rules that never decide because the Admin tier decides every flow
    /// between pods first, for every pod the policy isolates: an Allow or Deny rule on every
    /// port whose peers match every pod, with no Pass before it. Said only where certain.
    pub fn shadowed_by_tiers(&self, policy: super::PolicyId) -> Vec<String> {
        let mut out = Vec::new();
        let np = &self.policies.policies[policy as usize];
        let pod_classes = self.classes.iter().filter(|c| !c.host_network).count();
        for direction in [Direction::Ingress, Direction::Egress] {
            let Some(rules) = np.rules(direction) else {
                continue;
            };
            let pod_only = rules.iter().any(|r| {
                !r.peers.is_empty()
                    && r.peers
                        .iter()
                        .all(|p| !matches!(p, crate::policy::model::Peer::IpBlock(_)))
            });
            if !pod_only {
                continue;
            }
            let selected: Vec<usize> = self
                .classes
                .iter()
                .enumerate()
                .filter(|(_, c)| {
                    !c.host_network
                        && match direction {
                            Direction::Ingress => c.ingress.contains(&policy),
                            Direction::Egress => c.egress.contains(&policy),
                        }
                })
                .map(|(i, _)| i)
                .collect();
            if selected.is_empty() {
                continue;
            }
            // The first admin rule that decides every pod-to-pod flow for all of them.
            let mut found = None;
            'walk: for (t, tier) in self.tiers.iter().enumerate() {
                if tier.tier != Tier::Admin {
                    continue;
                }
                let applies: Vec<Option<bool>> = selected
                    .iter()
                    .map(|&c| self.set_holds(tier.subject, c as u32))
                    .collect();
                if applies.iter().all(|a| *a == Some(false)) {
                    continue;
                }
                for (r, rule) in tier.rules(direction).iter().enumerate() {
                    if rule.action == Action::Pass {
                        break 'walk;
                    }
                    let mut covered = FixedBitSet::with_capacity(self.classes.len());
                    for peer in &rule.peers {
                        if let TierPeerSet::Classes(s) = peer {
                            covered.union_with(&self.peer_sets[*s as usize]);
                        }
                    }
                    let all = rule.ports.is_empty() && covered.count_ones(..) >= pod_classes;
                    if all && applies.iter().all(|a| *a == Some(true)) {
                        found = Some((t, r, rule.action));
                        break 'walk;
                    }
                    if all {
                        // Applies to some of them only: no certain answer for the rest.
                        break 'walk;
                    }
                }
            }
            if let Some((t, r, action)) = found {
                out.push(format!(
                    "{direction} rules between pods never decide: {} {direction}[{r}] (admin tier, \
                     {} every pod on every port) decides first for every pod this policy \
                     isolates",
                    self.policies.tiers[t].key(),
                    match action {
                        Action::Allow => "allows",
                        _ => "denies",
                    }
                ));
            }
        }
        out
    }
}
