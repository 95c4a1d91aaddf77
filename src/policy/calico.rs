//! Calico's own policies (projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy) and
//! Tier objects, validated and compiled to tier policies; its rules become a far end (the
//! peer), an own end (what the selected pod itself must be), and port entries. [`place`]
//! puts each policy among the tiers: the default tier's before NetworkPolicy (order below
//! 1000) or after it (above, or none); another tier's by its Tier object's order, before,
//! between or after the admin (1000), default (1,000,000) and baseline (10,000,000) tiers. A
//! policy that cannot be placed (order exactly 1000 in the default tier, a tier with no Tier
//! object read, a tier ordered exactly like one of those three) goes first, with one
//! unjudged rule per direction, so a side whose pod it selects is UNKNOWN, naming why.
//!
//! [`selects`] and [`end_matches`] say which pods and addresses a subject and a rule's end
//! hold, for the engine's classes and for explain alike.
//!
//! Pure: no I/O.

use std::net::IpAddr;

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::calico_selector::CalicoSelector;
use super::compile::{check_metadata, parse_cidr, Errors, NameRule};
use super::error::FieldErrors;
use super::model::{Direction, Origin, PortMatch, PortSpec, Protocol};
use super::tiers::{
    Action, CalicoAddressSet, CalicoEnd, CalicoPlace, CalicoService, CalicoTier, Order,
    ServiceAccounts, Subject, Tier, TierPeer, TierPolicy, TierRule,
};

pub const API_VERSION: &str = "projectcalico.org/v3";

/// The label by which Calico's selectors name a resource; not judged for service accounts.
const NAME_LABEL: &str = "projectcalico.org/name";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CalicoObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: CalicoSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalicoSpec {
    pub tier: Option<String>,
    pub order: Option<f64>,
    pub selector: Option<String>,
    pub namespace_selector: Option<String>,
    pub service_account_selector: Option<String>,
    pub types: Option<Vec<String>>,
    #[serde(default)]
    pub ingress: Vec<CalicoRule>,
    #[serde(default)]
    pub egress: Vec<CalicoRule>,
    pub do_not_track: Option<bool>,
    pub pre_dnat: Option<bool>,
    pub apply_on_forward: Option<bool>,
    pub performance_hints: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CalicoRule {
    pub action: Option<String>,
    pub protocol: Option<Value>,
    pub not_protocol: Option<Value>,
    pub ip_version: Option<u8>,
    #[serde(default)]
    pub source: EntityRule,
    #[serde(default)]
    pub destination: EntityRule,
    pub icmp: Option<Value>,
    pub not_icmp: Option<Value>,
    pub http: Option<Value>,
    pub metadata: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EntityRule {
    pub nets: Option<Vec<String>>,
    pub not_nets: Option<Vec<String>>,
    pub selector: Option<String>,
    pub not_selector: Option<String>,
    pub namespace_selector: Option<String>,
    pub ports: Option<Vec<Value>>,
    pub not_ports: Option<Vec<Value>>,
    pub service_accounts: Option<Value>,
    pub services: Option<Value>,
}

/// Compiles a NetworkPolicy (`namespace` given) or a GlobalNetworkPolicy (`None`).
pub fn compile_calico_policy(
    object: &CalicoObject,
    namespace: Option<&str>,
    origin: Origin,
) -> Result<TierPolicy, FieldErrors> {
    let kind = if namespace.is_some() {
        "NetworkPolicy"
    } else {
        "GlobalNetworkPolicy"
    };
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let name = object.metadata.name.clone().unwrap_or_default();
    let spec = &object.spec;
    let tier = spec.tier.clone().unwrap_or_else(|| "default".into());
    // Calico names a tiered policy `tier.name`; the default tier's need no prefix.
    if tier != "default" && !name.starts_with(&format!("{tier}.")) {
        errs.push(
            "metadata.name",
            format!("a policy of tier {tier:?} must be named {tier}.<name>"),
        );
    }
    let subject = selector(spec.selector.as_deref(), "spec.selector", &mut errs);
    let namespaces = match (namespace, &spec.namespace_selector) {
        (Some(_), Some(_)) => {
            errs.push(
                "spec.namespaceSelector",
                "is a field of GlobalNetworkPolicy only",
            );
            None
        }
        (None, Some(text)) => Some(selector(Some(text), "spec.namespaceSelector", &mut errs)),
        _ => None,
    };
    let service_accounts = spec
        .service_account_selector
        .as_ref()
        .map(|text| selector(Some(text), "spec.serviceAccountSelector", &mut errs));
    let mut warnings = Vec::new();
    for (set, field) in [
        (spec.do_not_track == Some(true), "doNotTrack"),
        (spec.pre_dnat == Some(true), "preDNAT"),
        (spec.apply_on_forward == Some(true), "applyOnForward"),
    ] {
        if set {
            warnings.push(format!(
                "spec.{field}: host endpoint policy; only its selection of pods is shown"
            ));
        }
    }
    let types: Vec<Direction> = match &spec.types {
        Some(t) => t
            .iter()
            .enumerate()
            .filter_map(|(i, ty)| match ty.as_str() {
                "Ingress" => Some(Direction::Ingress),
                "Egress" => Some(Direction::Egress),
                _ => {
                    errs.push(
                        &format!("spec.types[{i}]"),
                        format!("unsupported value {ty:?}: must be Ingress or Egress"),
                    );
                    None
                }
            })
            .collect(),
        // Calico's default: Ingress, and Egress when egress rules are given.
        None if spec.egress.is_empty() => vec![Direction::Ingress],
        None => vec![Direction::Ingress, Direction::Egress],
    };
    let order = match spec.order {
        Some(o) if !o.is_finite() => {
            errs.push("spec.order", "must be a finite number");
            None
        }
        o => o.map(Order),
    };
    let mut texts = Vec::new();
    let mut compiled: [Vec<TierRule>; 2] = Default::default();
    for (direction, field, rules) in [
        (Direction::Ingress, "ingress", &spec.ingress),
        (Direction::Egress, "egress", &spec.egress),
    ] {
        let on = types.contains(&direction);
        if !on && !rules.is_empty() {
            warnings.push(format!(
                "spec.{field}: ignored: spec.types does not include {}",
                capitalized(direction)
            ));
        }
        for (i, r) in rules.iter().enumerate() {
            let path = format!("spec.{field}[{i}]");
            let before = errs.0.len();
            let text = rule_text(r, &path, &mut errs);
            if errs.0.len() != before {
                continue;
            }
            texts.push(format!("{field}[{i}] {text}"));
            if on {
                compiled[side(direction)].push(compile_rule(r, direction, namespace));
            }
        }
    }
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    let [ingress, egress] = compiled;
    let mut policy = TierPolicy {
        kind: format!("projectcalico.org/{kind}"),
        name: match namespace {
            Some(ns) => format!("{ns}/{name}"),
            None => name,
        },
        tier: Tier::Calico,
        priority: 0,
        subject: Subject::Calico {
            namespace: namespace.map(str::to_string),
            selector: subject,
            namespaces,
            service_accounts,
        },
        ingress: Vec::new(),
        egress: Vec::new(),
        warnings: Vec::new(),
        origin,
        order,
        types,
        calico: Some(Box::new(CalicoPlace {
            tier,
            tier_order: None,
            default_action: Action::Deny,
            written: [ingress, egress],
            texts,
            warnings,
        })),
    };
    place(&mut policy, &[]);
    Ok(policy)
}

/// The default tier's order: fixed.
const DEFAULT_TIER_ORDER: f64 = 1_000_000.0;

/// The orders of the tiers Calico keeps for AdminNetworkPolicies and
/// BaselineAdminNetworkPolicies, and of its default tier, by what they hold.
const FIXED_TIERS: [(f64, &str); 3] = [
    (1000.0, "the admin tier's (AdminNetworkPolicies)"),
    (DEFAULT_TIER_ORDER, "the default tier's"),
    (
        10_000_000.0,
        "the baseline tier's (BaselineAdminNetworkPolicies)",
    ),
];

/// Puts a Calico policy in its place among the tiers, as the Tier objects `tiers` say:
/// the default tier's policies around NetworkPolicy, another tier's before, between or
/// after the admin, default and baseline tiers by its order. A policy that cannot be
/// placed gets one unjudged rule per direction it selects for, so that a side whose pod
/// it selects is unknown, naming why. Other policies are left as they are.
pub fn place(policy: &mut TierPolicy, tiers: &[CalicoTier]) {
    let Some(calico) = policy.calico.as_deref_mut() else {
        return;
    };
    let order = policy.order;
    let order_text = order.map_or_else(|| "none (last)".to_string(), |o| o.to_string());
    let place = format!("tier {}, order {order_text}", calico.tier);
    let object = tiers.iter().find(|t| t.name == calico.tier);
    let (slot, unplaced) = if calico.tier == "default" {
        calico.tier_order = Some(Order(DEFAULT_TIER_ORDER));
        calico.default_action = Action::Deny;
        if object.is_some_and(|t| t.default_action == Action::Pass) {
            (
                Tier::Calico,
                Some(
                    "Tier default says defaultAction Pass, and where that leaves pods that \
                     NetworkPolicies isolate is not judged"
                        .to_string(),
                ),
            )
        } else {
            match order {
                Some(Order(1000.0)) => (
                    Tier::Calico,
                    Some(
                        "its order, 1000, is the NetworkPolicies' own, and Calico breaks that \
                         tie by names it makes up"
                            .to_string(),
                    ),
                ),
                Some(o) if o.0 < 1000.0 => (Tier::CalicoBefore, None),
                _ => (Tier::CalicoAfter, None),
            }
        }
    } else if matches!(
        calico.tier.as_str(),
        "kube-admin" | "adminnetworkpolicy" | "kube-baseline" | "baselineadminnetworkpolicy"
    ) {
        (
            Tier::Calico,
            Some(format!(
                "tier {} holds the cluster's admin policies too, and Calico orders its \
                 policies among them by a priority this reader does not map",
                calico.tier
            )),
        )
    } else {
        match object {
            None => (
                Tier::Calico,
                Some(format!(
                    "it is in tier {}, and no Tier object of that name was read, so its \
                     place among the tiers is unknown",
                    calico.tier
                )),
            ),
            Some(t) => {
                calico.tier_order = t.order;
                calico.default_action = t.default_action;
                match t.order {
                    None => (Tier::CalicoLast, None),
                    Some(o) => match FIXED_TIERS.iter().find(|(fixed, _)| o == Order(*fixed)) {
                        Some((_, whose)) => (
                            Tier::Calico,
                            Some(format!(
                                "tier {}'s order, {o}, is also {whose}, and which goes first \
                                 is not documented",
                                calico.tier
                            )),
                        ),
                        None if o.0 < FIXED_TIERS[0].0 => (Tier::CalicoFirst, None),
                        None if o.0 < FIXED_TIERS[1].0 => (Tier::CalicoMiddle, None),
                        None if o.0 < FIXED_TIERS[2].0 => (Tier::CalicoLate, None),
                        None => (Tier::CalicoLast, None),
                    },
                }
            }
        }
    };
    policy.tier = slot;
    policy.warnings = calico.warnings.clone();
    let Some(why) = unplaced else {
        [policy.ingress, policy.egress] = calico.written.clone();
        return;
    };
    let why = format!("Calico policy not judged: {why} ({place})");
    let unjudged = |on: bool| -> Vec<TierRule> {
        if !on {
            return Vec::new();
        }
        vec![TierRule {
            name: String::new(),
            action: Action::Deny,
            peers: vec![TierPeer::Unjudged(why.clone())],
            ports: None,
            own: None,
            l7: None,
        }]
    };
    policy.ingress = unjudged(policy.types.contains(&Direction::Ingress));
    policy.egress = unjudged(policy.types.contains(&Direction::Egress));
    policy.warnings.push(format!("not judged: {place}"));
    policy
        .warnings
        .extend(calico.texts.iter().map(|t| format!("not judged: {t}")));
}

/// A NetworkSet, GlobalNetworkSet or HostEndpoint, as read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct AddressSetObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: AddressSetSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AddressSetSpec {
    pub nets: Option<Vec<String>>,
    pub allowed_egress_domains: Option<Vec<String>>,
    #[serde(rename = "expectedIPs")]
    pub expected_ips: Option<Vec<String>>,
    pub node: Option<String>,
    pub interface_name: Option<String>,
    pub profiles: Option<Vec<String>>,
    pub ports: Option<Value>,
}

/// Validates a NetworkSet (`namespace` given), a GlobalNetworkSet or a HostEndpoint (`kind`)
/// into the addresses it gives Calico's selectors.
pub fn compile_address_set(
    object: &AddressSetObject,
    kind: &str,
    namespace: Option<&str>,
) -> Result<CalicoAddressSet, FieldErrors> {
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let spec = &object.spec;
    let mut nets = Vec::new();
    let (field, list) = if kind == "HostEndpoint" {
        ("spec.expectedIPs", &spec.expected_ips)
    } else {
        ("spec.nets", &spec.nets)
    };
    for (i, text) in list.iter().flatten().enumerate() {
        let net = if text.contains('/') {
            parse_cidr(text)
        } else {
            text.trim()
                .parse::<IpAddr>()
                .map(IpNet::from)
                .map_err(|_| format!("invalid address {text:?}: a CIDR or an IP address"))
        };
        match net {
            Ok(n) => nets.push(n),
            Err(e) => errs.push(&format!("{field}[{i}]"), e),
        }
    }
    if kind == "HostEndpoint" && spec.node.as_deref().unwrap_or("").is_empty() {
        errs.push("spec.node", "is required");
    }
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    // Addresses it may hold without listing them: a NetworkSet's domain names, a
    // HostEndpoint's interface when no expected IPs are given.
    let open = spec
        .allowed_egress_domains
        .as_ref()
        .is_some_and(|d| !d.is_empty())
        || (kind == "HostEndpoint" && nets.is_empty());
    Ok(CalicoAddressSet {
        kind: kind.to_string(),
        namespace: namespace.map(str::to_string),
        name: object.metadata.name.clone().unwrap_or_default(),
        labels: object.metadata.labels.clone().unwrap_or_default(),
        nets,
        open,
        node: spec.node.clone().filter(|_| kind == "HostEndpoint"),
    })
}

/// A Calico Tier object, as read.
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TierObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: TierSpec,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct TierSpec {
    pub order: Option<f64>,
    pub default_action: Option<String>,
}

/// Validates a Tier object.
pub fn compile_tier(object: &TierObject) -> Result<CalicoTier, FieldErrors> {
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsLabel, &mut errs.0);
    let order = match object.spec.order {
        Some(o) if !o.is_finite() => {
            errs.push("spec.order", "must be a finite number");
            None
        }
        o => o.map(Order),
    };
    let default_action = match object.spec.default_action.as_deref() {
        None | Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        Some(other) => {
            errs.push(
                "spec.defaultAction",
                format!("unsupported value {other:?}: must be Deny or Pass"),
            );
            Action::Deny
        }
    };
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    Ok(CalicoTier {
        name: object.metadata.name.clone().unwrap_or_default(),
        order,
        default_action,
    })
}

fn side(direction: Direction) -> usize {
    match direction {
        Direction::Ingress => 0,
        Direction::Egress => 1,
    }
}

fn capitalized(direction: Direction) -> &'static str {
    match direction {
        Direction::Ingress => "Ingress",
        Direction::Egress => "Egress",
    }
}

fn selector(text: Option<&str>, path: &str, errs: &mut Errors) -> CalicoSelector {
    match CalicoSelector::parse(text.unwrap_or("")) {
        Ok(s) => s,
        Err(e) => {
            errs.push(path, format!("{:?} {e}", text.unwrap_or("")));
            CalicoSelector::all()
        }
    }
}

/// A rule's protocol: one the engine judges, or another (ICMP, a number), which no flow
/// of TCP, UDP or SCTP has.
#[derive(Debug, Clone, PartialEq)]
enum Proto {
    Judged(Protocol),
    Other(String),
}

fn proto(value: &Value) -> Option<Proto> {
    let text = match value {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.to_string(),
        _ => return None,
    };
    Some(match text.to_ascii_lowercase().as_str() {
        "tcp" | "6" => Proto::Judged(Protocol::Tcp),
        "udp" | "17" => Proto::Judged(Protocol::Udp),
        "sctp" | "132" => Proto::Judged(Protocol::Sctp),
        "icmp" | "icmpv6" | "udplite" => Proto::Other(text),
        n if n.parse::<u8>().is_ok_and(|n| n > 0) => Proto::Other(text),
        _ => return None,
    })
}

/// One port entry: a number or `first:last` as a range, or a name.
fn port_entry(p: &Value) -> Option<PortMatch> {
    let text = match p {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        _ => return None,
    };
    if let Some((a, b)) = text.split_once(':') {
        return Some(PortMatch::Range {
            from: a.parse().ok()?,
            to: b.parse().ok()?,
        });
    }
    if let Ok(n) = text.parse::<u16>() {
        return Some(PortMatch::Range { from: n, to: n });
    }
    Some(PortMatch::Named { name: text })
}

/// The ranges of 1..=65535 that none of `ranges` covers.
fn complement(ranges: &[(u16, u16)]) -> Vec<(u16, u16)> {
    let mut sorted = ranges.to_vec();
    sorted.sort_unstable();
    let mut out = Vec::new();
    let mut next: u32 = 1;
    for (a, b) in sorted {
        if u32::from(a) > next {
            out.push((next as u16, a - 1));
        }
        next = next.max(u32::from(b) + 1);
    }
    if next <= 65535 {
        out.push((next as u16, 65535));
    }
    out
}

/// Compiles one checked rule: its far end as the peer, its own end as the pod's condition,
/// its protocol and destination ports as port entries. Log goes on to the next rule, and a
/// protocol other than TCP, UDP and SCTP matches no flow the engine judges: such rules have
/// no peer, so they never match.
fn compile_rule(r: &CalicoRule, direction: Direction, namespace: Option<&str>) -> TierRule {
    let action = match r.action.as_deref() {
        Some("Deny") => Action::Deny,
        Some("Pass") => Action::Pass,
        _ => Action::Allow,
    };
    let mut source = end(&r.source, namespace);
    let mut destination = end(&r.destination, namespace);
    if let Some(s) = &mut destination.services {
        s.destination = true;
    }
    // Flows carry their destination port only.
    for (list, name) in [
        (&r.source.ports, "ports"),
        (&r.source.not_ports, "notPorts"),
    ] {
        if let Some(list) = list {
            let shown: Vec<String> = list.iter().map(shown_port).collect();
            source
                .unjudged
                .push(format!("source {name} {}", shown.join(", ")));
        }
    }
    let protocol = r.protocol.as_ref().and_then(proto);
    let not_protocol = r.not_protocol.as_ref().and_then(proto);
    let mut protocols: Vec<Protocol> = match &protocol {
        Some(Proto::Judged(p)) => vec![*p],
        Some(Proto::Other(_)) => Vec::new(),
        None => vec![Protocol::Tcp, Protocol::Udp, Protocol::Sctp],
    };
    if let Some(Proto::Judged(p)) = &not_protocol {
        protocols.retain(|q| q != p);
    }
    let entries: Option<Vec<PortMatch>> = r
        .destination
        .ports
        .as_ref()
        .map(|l| l.iter().filter_map(port_entry).collect());
    let not_entries: Option<Vec<PortMatch>> = r
        .destination
        .not_ports
        .as_ref()
        .map(|l| l.iter().filter_map(port_entry).collect());
    let ranges = |list: &[PortMatch]| -> Vec<(u16, u16)> {
        list.iter()
            .filter_map(|m| match m {
                PortMatch::Range { from, to } => Some((*from, *to)),
                _ => None,
            })
            .collect()
    };
    let mut matches: Vec<PortMatch> = match &entries {
        Some(list) => list.clone(),
        None => vec![PortMatch::Any],
    };
    if let Some(not) = &not_entries {
        if not.iter().any(|m| matches!(m, PortMatch::Named { .. }))
            || matches.iter().any(|m| matches!(m, PortMatch::Named { .. }))
        {
            destination
                .unjudged
                .push("destination notPorts together with named ports".into());
        }
        let allowed = complement(&ranges(not));
        let wanted: Vec<(u16, u16)> = match &entries {
            Some(list) => ranges(list),
            None => vec![(1, 65535)],
        };
        let mut kept = Vec::new();
        for (a, b) in wanted {
            for &(c, d) in &allowed {
                let (lo, hi) = (a.max(c), b.min(d));
                if lo <= hi {
                    kept.push(PortMatch::Range { from: lo, to: hi });
                }
            }
        }
        matches = kept;
    }
    let every = protocols.len() == 3 && matches == [PortMatch::Any];
    let ports = (!every).then(|| {
        protocols
            .iter()
            .flat_map(|p| {
                matches.iter().map(|m| PortSpec {
                    protocol: *p,
                    port: m.clone(),
                })
            })
            .collect::<Vec<_>>()
    });
    if let Some(v) = r.ip_version {
        source.ip_version = Some(v);
        destination.ip_version = Some(v);
    }
    // An Allow's HTTP match filters requests on a connection L3/L4 admits; a Deny's or a
    // Pass's decides the connection by what addresses do not carry.
    let l7 = match (&r.http, action) {
        (Some(http), Action::Allow) => Some(http_text(http)),
        (Some(_), _) => {
            destination.unjudged.push(
                "an HTTP match (L7), which only Calico's application layer can judge".to_string(),
            );
            None
        }
        (None, _) => None,
    };
    let (far, own) = match direction {
        Direction::Ingress => (source, destination),
        Direction::Egress => (destination, source),
    };
    let never = match (&protocol, r.action.as_deref()) {
        (_, Some("Log")) => Some("Log: records the flow and goes on to the next rule".to_string()),
        (Some(Proto::Other(p)), _) => {
            Some(format!("protocol {p}: matches no TCP, UDP or SCTP flow"))
        }
        _ if ports.as_ref().is_some_and(Vec::is_empty) => {
            Some("matches no TCP, UDP or SCTP port".to_string())
        }
        _ => None,
    };
    TierRule {
        name: never.clone().unwrap_or_default(),
        action,
        peers: if never.is_some() {
            Vec::new()
        } else {
            vec![TierPeer::Calico(Box::new(far))]
        },
        ports: ports.filter(|p| !p.is_empty()),
        own: (!own.is_any()).then_some(own),
        l7,
    }
}

/// An HTTP match in words: `HTTP methods GET, POST; paths exact /api, prefix /v1`.
fn http_text(http: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(methods) = http["methods"].as_array() {
        let list: Vec<&str> = methods.iter().filter_map(Value::as_str).collect();
        parts.push(format!("methods {}", list.join(", ")));
    }
    if let Some(paths) = http["paths"].as_array() {
        let list: Vec<String> = paths
            .iter()
            .filter_map(Value::as_object)
            .flat_map(|m| m.iter())
            .map(|(how, path)| format!("{how} {}", path.as_str().unwrap_or_default()))
            .collect();
        parts.push(format!("paths {}", list.join(", ")));
    }
    if parts.is_empty() {
        "HTTP (any request)".to_string()
    } else {
        format!("HTTP {}", parts.join("; "))
    }
}

fn shown_port(p: &Value) -> String {
    p.as_str().map_or_else(|| p.to_string(), str::to_string)
}

/// One end of a checked rule.
fn end(e: &EntityRule, namespace: Option<&str>) -> CalicoEnd {
    let parse = |t: &Option<String>| t.as_deref().and_then(|t| CalicoSelector::parse(t).ok());
    let nets = |list: &Option<Vec<String>>| -> Vec<IpNet> {
        list.iter()
            .flatten()
            .filter_map(|n| match n.parse::<std::net::IpAddr>() {
                Ok(ip) => Some(IpNet::from(ip)),
                Err(_) => parse_cidr(n).ok(),
            })
            .collect()
    };
    let mut unjudged = Vec::new();
    // Checked in `rule_text`. A GlobalNetworkPolicy has no namespace of its own to default to.
    let services = e.services.as_ref().and_then(|v| {
        let name = v["name"].as_str()?.to_string();
        match v["namespace"]
            .as_str()
            .filter(|n| !n.is_empty())
            .or(namespace)
        {
            Some(ns) => Some(CalicoService {
                namespace: ns.to_string(),
                name,
                destination: false,
            }),
            None => {
                unjudged.push(format!(
                    "Service {name} without a namespace, in a policy that has none"
                ));
                None
            }
        }
    });
    CalicoEnd {
        namespace: namespace.map(str::to_string),
        selector: parse(&e.selector),
        not_selector: parse(&e.not_selector),
        namespace_selector: parse(&e.namespace_selector),
        nets: nets(&e.nets),
        not_nets: nets(&e.not_nets),
        ip_version: None,
        service_accounts: e.service_accounts.as_ref().map(|v| ServiceAccounts {
            names: v["names"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .filter_map(Value::as_str)
                        .map(str::to_string)
                        .collect()
                })
                .unwrap_or_default(),
            // Checked in `rule_text`.
            selector: v["selector"]
                .as_str()
                .and_then(|text| CalicoSelector::parse(text).ok()),
        }),
        services,
        unjudged,
    }
}

/// One rule, checked, in words: `Allow TCP from selector app == 'web' to ports 80`.
fn rule_text(r: &CalicoRule, path: &str, errs: &mut Errors) -> String {
    let action = r.action.as_deref().unwrap_or("");
    if !["Allow", "Deny", "Log", "Pass"].contains(&action) {
        errs.push(
            &format!("{path}.action"),
            format!("unsupported value {action:?}: must be Allow, Deny, Log or Pass"),
        );
    }
    let mut judged_protocol = false;
    for (value, field) in [(&r.protocol, "protocol"), (&r.not_protocol, "notProtocol")] {
        if let Some(p) = value {
            match proto(p) {
                None => errs.push(
                    &format!("{path}.{field}"),
                    format!(
                        "unsupported value {}: must be TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or \
                         1-255",
                        shown_port(p)
                    ),
                ),
                Some(Proto::Judged(_)) if field == "protocol" => judged_protocol = true,
                Some(Proto::Other(o))
                    if field == "protocol" && o.eq_ignore_ascii_case("udplite") =>
                {
                    judged_protocol = true
                }
                _ => {}
            }
        }
    }
    if let Some(v) = r.ip_version {
        if v != 4 && v != 6 {
            errs.push(
                &format!("{path}.ipVersion"),
                format!("unsupported value {v}: must be 4 or 6"),
            );
        }
    }
    let protocol = r.protocol.as_ref().map(shown_port);
    let mut parts = vec![action.to_string()];
    if let Some(p) = &protocol {
        parts.push(p.clone());
    }
    for (side, e) in [("from", &r.source), ("to", &r.destination)] {
        let field = if side == "from" {
            "source"
        } else {
            "destination"
        };
        let mut words = Vec::new();
        for (sel, name) in [
            (&e.selector, "selector"),
            (&e.not_selector, "notSelector"),
            (&e.namespace_selector, "namespaceSelector"),
        ] {
            if let Some(text) = sel {
                if let Err(err) = CalicoSelector::parse(text) {
                    errs.push(&format!("{path}.{field}.{name}"), format!("{text:?} {err}"));
                }
                words.push(format!("{name} {text}"));
            }
        }
        for (nets, name) in [(&e.nets, "nets"), (&e.not_nets, "notNets")] {
            for (i, n) in nets.iter().flatten().enumerate() {
                let parsed: Result<IpNet, String> = match n.parse::<std::net::IpAddr>() {
                    Ok(ip) => Ok(IpNet::from(ip)),
                    Err(_) => parse_cidr(n),
                };
                if let Err(m) = parsed {
                    errs.push(&format!("{path}.{field}.{name}[{i}]"), m);
                }
            }
            if let Some(list) = nets {
                words.push(format!("{name} {}", list.join(", ")));
            }
        }
        for (ports, name) in [(&e.ports, "ports"), (&e.not_ports, "notPorts")] {
            for (i, p) in ports.iter().flatten().enumerate() {
                if let Err(m) = port(p) {
                    errs.push(&format!("{path}.{field}.{name}[{i}]"), m);
                }
            }
            if let Some(list) = ports {
                if !judged_protocol {
                    errs.push(
                        &format!("{path}.{field}.{name}"),
                        "ports need protocol TCP, UDP, SCTP or UDPLite",
                    );
                }
                let shown: Vec<String> = list.iter().map(shown_port).collect();
                words.push(format!("{name} {}", shown.join(", ")));
            }
        }
        if let Some(sa) = &e.service_accounts {
            let at = format!("{path}.{field}.serviceAccounts");
            match sa {
                Value::Object(m) => {
                    let names = m.get("names");
                    if names.is_some_and(|n| {
                        n.as_array()
                            .is_none_or(|l| l.iter().any(|x| !x.is_string()))
                    }) {
                        errs.push(&format!("{at}.names"), "must be a list of names");
                    }
                    match m.get("selector") {
                        Some(Value::String(text)) => {
                            if let Err(err) = CalicoSelector::parse(text) {
                                errs.push(&format!("{at}.selector"), format!("{text:?} {err}"));
                            }
                        }
                        Some(_) => errs.push(&format!("{at}.selector"), "must be a selector"),
                        None => {}
                    }
                }
                _ => errs.push(&at, "must be an object with names and/or selector"),
            }
            words.push("service accounts".into());
        }
        if let Some(s) = &e.services {
            let at = format!("{path}.{field}.services");
            match s {
                Value::Object(m) => {
                    if m.get("name")
                        .is_none_or(|n| n.as_str().is_none_or(str::is_empty))
                    {
                        errs.push(&format!("{at}.name"), "is required");
                    }
                    if m.get("namespace").is_some_and(|n| !n.is_string()) {
                        errs.push(&format!("{at}.namespace"), "must be a namespace name");
                    }
                }
                _ => errs.push(&at, "must be an object with name and namespace"),
            }
            let others: Vec<&str> = [
                (e.selector.is_some(), "selector"),
                (e.not_selector.is_some(), "notSelector"),
                (e.namespace_selector.is_some(), "namespaceSelector"),
                (e.nets.is_some(), "nets"),
                (e.not_nets.is_some(), "notNets"),
                (e.service_accounts.is_some(), "serviceAccounts"),
            ]
            .into_iter()
            .filter(|(set, _)| *set)
            .map(|(_, name)| name)
            .collect();
            if !others.is_empty() {
                errs.push(
                    &at,
                    format!("cannot be combined with {}", others.join(", ")),
                );
            }
            words.push("a Service".into());
        }
        if !words.is_empty() {
            parts.push(format!("{side} {}", words.join(" and ")));
        }
    }
    if r.http.is_some() {
        parts.push("with HTTP match (L7)".into());
    }
    parts.join(" ")
}

/// A port of a Calico rule: a number, `first:last`, or a named port.
fn port(p: &Value) -> Result<(), String> {
    let text = match p {
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        other => return Err(format!("{other} is not a port")),
    };
    let number = |t: &str| -> Result<u16, String> {
        t.parse::<u16>()
            .map_err(|_| format!("{t:?} is not a port number (0 to 65535)"))
    };
    if let Some((a, b)) = text.split_once(':') {
        let (a, b) = (number(a)?, number(b)?);
        if a > b {
            return Err(format!("{text:?}: the range ends before it starts"));
        }
        return Ok(());
    }
    if text.chars().all(|c| c.is_ascii_digit()) {
        return number(&text).map(|_| ());
    }
    if text.is_empty() || text.len() > 15 {
        return Err(format!("{text:?} is not a port name"));
    }
    Ok(())
}

/// Whether a Calico subject selects a pod of namespace `ns`: the labels Calico gives a
/// workload endpoint (the pod's, `projectcalico.org/namespace`,
/// `projectcalico.org/orchestrator`, and its namespace's as `pcns.*`) and, for a global
/// policy, the namespace's labels and `projectcalico.org/name`. `None` where namespace labels
/// that cannot be read (or a service account, which the inventory lacks) decide.
/// Host-network pods are no workload endpoints: never selected.
pub fn selects(
    namespace: Option<&str>,
    selector: &CalicoSelector,
    namespaces: Option<&CalicoSelector>,
    pod: &super::model::Pod,
    ns: Option<&super::model::Namespace>,
) -> Option<bool> {
    if pod.host_network {
        return Some(false);
    }
    if namespace.is_some_and(|n| n != pod.namespace) {
        return Some(false);
    }
    let labels_known = ns.is_none_or(|n| n.labels_known);
    let empty = super::model::Labels::new();
    let ns_labels = ns.map_or(&empty, |n| &n.labels);
    let in_namespaces = match namespaces {
        None => Some(true),
        Some(sel) => {
            let mut labels = ns_labels.clone();
            labels.insert("projectcalico.org/name".into(), pod.namespace.clone());
            sel.matches_partly(&labels, &|k| {
                labels_known
                    || k == "projectcalico.org/name"
                    || k == super::model::NAMESPACE_NAME_LABEL
            })
        }
    };
    let mut labels = pod.labels.clone();
    labels.insert("projectcalico.org/namespace".into(), pod.namespace.clone());
    labels.insert("projectcalico.org/orchestrator".into(), "k8s".into());
    for (k, v) in ns_labels {
        labels.insert(format!("pcns.{k}"), v.clone());
    }
    let own = selector.matches_partly(&labels, &|k| {
        if k == "projectcalico.org/serviceaccount" {
            return false;
        }
        match k.strip_prefix("pcns.") {
            Some(rest) => labels_known || rest == super::model::NAMESPACE_NAME_LABEL,
            None => true,
        }
    });
    match (in_namespaces, own) {
        (Some(false), _) | (_, Some(false)) => Some(false),
        (Some(true), Some(true)) => Some(true),
        _ => None,
    }
}

/// [`selects`] for a policy's subject, which a serviceAccountSelector may narrow further.
pub fn subject_selects(
    subject: &Subject,
    pod: &super::model::Pod,
    ns: Option<&super::model::Namespace>,
) -> Option<bool> {
    let Subject::Calico {
        namespace,
        selector,
        namespaces,
        service_accounts,
    } = subject
    else {
        return Some(false);
    };
    match (
        selects(namespace.as_deref(), selector, namespaces.as_ref(), pod, ns),
        service_accounts,
    ) {
        (Some(true), Some(accounts)) => account_selects(accounts, pod),
        (other, _) => other,
    }
}

/// Whether a selector of service accounts matches the pod's, by the labels of its
/// ServiceAccount (`None`: that ServiceAccount was not read, or the selector names
/// `projectcalico.org/name`, which is not judged).
pub fn account_selects(selector: &CalicoSelector, pod: &super::model::Pod) -> Option<bool> {
    let labels = pod.account_labels.as_ref()?;
    selector.matches_partly(labels, &|key| key != NAME_LABEL)
}

/// One end of a flow as a Calico rule sees it.
#[derive(Debug, Clone, Copy)]
pub enum Seen<'a> {
    /// A pod, with the address the flow names (if it names one).
    Pod {
        pod: &'a super::model::Pod,
        namespace: Option<&'a super::model::Namespace>,
        addr: Option<IpAddr>,
    },
    /// A node, by its addresses (or the one the flow names).
    Node {
        addrs: &'a [IpAddr],
        sets: AddressSets<'a>,
    },
    /// An address that is neither a known pod nor a known node.
    Address { ip: IpAddr, sets: AddressSets<'a> },
}

/// What Calico's selectors match besides pods, as far as it is known: NetworkSets,
/// GlobalNetworkSets and HostEndpoints (`complete`: all of them were read), and the
/// namespaces whose labels a namespaced set is selected by.
#[derive(Debug, Clone, Copy)]
pub struct AddressSets<'a> {
    pub sets: &'a [CalicoAddressSet],
    pub complete: bool,
    pub namespaces: &'a [super::model::Namespace],
}

impl AddressSets<'_> {
    /// Whether a selector end matches addresses no pod has: by the sets that hold one of
    /// them, in the end's scope (the policy's namespace, a namespaceSelector, `global()`
    /// for the sets of no namespace), by their labels; `None` where what is not known (sets
    /// not read, namespace labels) decides.
    fn end_holds(&self, end: &CalicoEnd, addrs: &[IpAddr], who: &str) -> (Option<bool>, String) {
        // Sets that hold one of the addresses; open sets (which may hold addresses they do
        // not list) can only make a match unknown.
        let holds =
            |s: &CalicoAddressSet| addrs.iter().any(|a| s.nets.iter().any(|n| n.contains(a)));
        let holding: Vec<(&CalicoAddressSet, bool)> = self
            .sets
            .iter()
            .filter_map(|s| {
                if holds(s) {
                    Some((s, true))
                } else {
                    s.open.then_some((s, false))
                }
            })
            .collect();
        if end.selector.is_none()
            && end.not_selector.is_some()
            && (end.namespace.is_some() || end.namespace_selector.is_some())
        {
            return (
                None,
                "unknown: whether a notSelector alone reaches outside its namespaces is not \
                 judged"
                    .to_string(),
            );
        }
        let namespace = |name: &str| self.namespaces.iter().find(|n| n.name == name);
        // In the end's scope: surely, not, or maybe (namespace labels not read).
        let in_scope = |s: &CalicoAddressSet| -> Option<bool> {
            match (&end.namespace_selector, &s.namespace) {
                (Some(sel), ns) if *sel.expr() == super::calico_selector::Expr::Global => {
                    Some(ns.is_none())
                }
                (Some(_), None) => Some(false),
                (Some(sel), Some(ns)) => {
                    let n = namespace(ns);
                    let known = n.is_none_or(|n| n.labels_known);
                    let mut labels = n.map(|n| n.labels.clone()).unwrap_or_default();
                    labels.insert("projectcalico.org/name".into(), ns.clone());
                    sel.matches_partly(&labels, &|k| {
                        known
                            || k == "projectcalico.org/name"
                            || k == super::model::NAMESPACE_NAME_LABEL
                    })
                }
                (None, ns) => Some(match &end.namespace {
                    Some(p) => ns.as_deref() == Some(p.as_str()),
                    None => true,
                }),
            }
        };
        // A selector on a set's labels (a namespaced one's with its namespace's as pcns.*).
        let matches = |sel: &CalicoSelector, s: &CalicoAddressSet| -> Option<bool> {
            let mut labels = s.labels.clone();
            let mut known = true;
            if let Some(ns) = &s.namespace {
                labels.insert("projectcalico.org/namespace".into(), ns.clone());
                if let Some(n) = namespace(ns) {
                    known = n.labels_known;
                    for (k, v) in &n.labels {
                        labels.insert(format!("pcns.{k}"), v.clone());
                    }
                }
            }
            sel.matches_partly(&labels, &|k| {
                known
                    || k.strip_prefix("pcns.")
                        .is_none_or(|rest| rest == super::model::NAMESPACE_NAME_LABEL)
            })
        };
        let all = CalicoSelector::all();
        let selector = end
            .selector
            .as_ref()
            .or(end.not_selector.is_none().then_some(&all));
        // Whether some set in scope that holds the address matches `sel`.
        let any = |sel: &CalicoSelector| -> (Option<bool>, Option<String>) {
            let mut maybe = None;
            for &(s, sure) in &holding {
                match (in_scope(s), matches(sel, s)) {
                    (Some(true), Some(true)) if sure => return (Some(true), Some(s.key())),
                    (Some(false), _) | (_, Some(false)) => {}
                    _ => maybe = Some(s.key()),
                }
            }
            match maybe {
                Some(key) => (None, Some(key)),
                None if self.complete => (Some(false), None),
                None => (None, None),
            }
        };
        let not_read = "NetworkSets, GlobalNetworkSets and HostEndpoints could not all be read";
        let mut via = String::new();
        if let Some(sel) = selector {
            match any(sel) {
                (Some(false), _) => {
                    return (
                        Some(false),
                        format!("{who} is in no NetworkSet, GlobalNetworkSet or HostEndpoint that selector {sel} matches here"),
                    )
                }
                (None, Some(key)) => {
                    return (None, format!("unknown: whether {key} holds {who} and matches selector {sel} depends on what cannot be read (namespace labels, domain names, an interface's addresses)"))
                }
                (None, None) => {
                    return (None, format!("unknown: {who} is no pod's address, and {not_read}"))
                }
                (Some(true), key) => via = key.unwrap_or_default(),
            }
        }
        if let Some(sel) = &end.not_selector {
            match any(sel) {
                (Some(true), key) => {
                    return (
                        Some(false),
                        format!(
                            "{} (which holds {who}) matches notSelector {sel}",
                            key.unwrap_or_default()
                        ),
                    )
                }
                (None, Some(key)) => {
                    return (None, format!("unknown: whether {key} holds {who} and matches notSelector {sel} depends on what cannot be read (namespace labels, domain names, an interface's addresses)"))
                }
                (None, None) => {
                    return (None, format!("unknown: {who} is no pod's address, and {not_read}"))
                }
                (Some(false), _) => {}
            }
        }
        (Some(true), via)
    }
}

/// Whether one end of a Calico rule holds one end of a flow: every condition given must;
/// `None` where one depends on what cannot be read, with the reason in words. A selector
/// matches pods by [`selects`]'s labels, and other addresses by the NetworkSets,
/// GlobalNetworkSets and HostEndpoints that hold them ([`AddressSets`]).
/// `port`: the flow's protocol and destination port, where the end is judged for one flow
/// (a Service's endpoints are matched by their ports too).
pub fn end_matches(
    end: &CalicoEnd,
    seen: &Seen,
    inventory: &super::model::Inventory,
    port: Option<(Protocol, u16)>,
) -> (Option<bool>, String) {
    let one;
    let addrs: &[IpAddr] = match seen {
        Seen::Pod { addr: Some(ip), .. } => {
            one = [*ip];
            &one
        }
        Seen::Pod { pod, .. } => &pod.ips,
        Seen::Node { addrs, .. } => addrs,
        Seen::Address { ip, .. } => {
            one = [*ip];
            &one
        }
    };
    let who = match seen {
        Seen::Pod { pod, .. } => pod.key(),
        _ => {
            let list: Vec<String> = addrs.iter().map(|a| a.to_string()).collect();
            list.join(", ")
        }
    };
    if !end.nets.is_empty() && !addrs.iter().any(|a| end.nets.iter().any(|n| n.contains(a))) {
        let nets: Vec<String> = end.nets.iter().map(|n| n.to_string()).collect();
        return (
            Some(false),
            format!("{who} is in none of nets {}", nets.join(", ")),
        );
    }
    if let Some((a, n)) = addrs
        .iter()
        .find_map(|a| end.not_nets.iter().find(|n| n.contains(a)).map(|n| (a, n)))
    {
        return (Some(false), format!("{a} is inside notNets {n}"));
    }
    if let Some(v) = end.ip_version {
        let family = |a: &IpAddr| if a.is_ipv4() { 4 } else { 6 };
        if !addrs.iter().any(|a| family(a) == v) {
            return (Some(false), format!("{who} has no IPv{v} address"));
        }
    }
    let mut unknown: Vec<String> = Vec::new();
    if let Some(service) = &end.services {
        match service_holds(service, seen, addrs, &who, inventory, port) {
            (Some(false), why) => return (Some(false), why),
            (None, why) => unknown.push(why),
            (Some(true), _) => {}
        }
    }
    // The address set through which a selector matches an address that is no pod's.
    let mut through: Option<String> = None;
    let workload = match seen {
        Seen::Pod { pod, namespace, .. } if !pod.host_network => Some((*pod, *namespace)),
        _ => None,
    };
    if end.has_selector() {
        match workload {
            Some((pod, ns)) => {
                let global = end
                    .namespace_selector
                    .as_ref()
                    .is_some_and(|s| *s.expr() == super::calico_selector::Expr::Global);
                if global {
                    return (
                        Some(false),
                        "namespaceSelector global() matches no pod".to_string(),
                    );
                }
                let scoped = end
                    .namespace_selector
                    .is_none()
                    .then_some(end.namespace.as_deref())
                    .flatten();
                if let Some(n) = scoped.filter(|n| *n != pod.namespace) {
                    if end.selector.is_some() {
                        return (
                            Some(false),
                            format!("{} is not in the policy's namespace {n}", pod.key()),
                        );
                    }
                    unknown.push(format!(
                        "whether a notSelector alone reaches outside namespace {n} is not judged"
                    ));
                }
                if let Some(sel) = &end.namespace_selector {
                    match selects(None, &CalicoSelector::all(), Some(sel), pod, ns) {
                        Some(false) => {
                            return (
                                Some(false),
                                format!(
                                    "namespace {} does not match namespaceSelector {sel}",
                                    pod.namespace
                                ),
                            )
                        }
                        None => unknown.push(format!(
                            "the labels of namespace {} cannot be read",
                            pod.namespace
                        )),
                        Some(true) => {}
                    }
                }
                if let Some(sel) = &end.selector {
                    match selects(None, sel, None, pod, ns) {
                        Some(false) => {
                            return (
                                Some(false),
                                format!("{} does not match selector {sel}", pod.key()),
                            )
                        }
                        None => unknown.push(format!(
                            "selector {sel} reads labels of namespace {} that cannot be read",
                            pod.namespace
                        )),
                        Some(true) => {}
                    }
                }
                if let Some(sel) = &end.not_selector {
                    match selects(None, sel, None, pod, ns) {
                        Some(true) => {
                            return (
                                Some(false),
                                format!("{} matches notSelector {sel}", pod.key()),
                            )
                        }
                        None => unknown.push(format!(
                            "notSelector {sel} reads labels of namespace {} that cannot be read",
                            pod.namespace
                        )),
                        Some(false) => {}
                    }
                }
            }
            None => {
                let sets = match seen {
                    Seen::Node { sets, .. } | Seen::Address { sets, .. } => Some(sets),
                    Seen::Pod { .. } => None,
                };
                let (held, why) = match sets {
                    Some(sets) => sets.end_holds(end, addrs, &who),
                    // A host-network pod: no workload endpoint, its node's addresses.
                    None => (
                        None,
                        format!("unknown: {who} uses its node's addresses, which HostEndpoints may hold"),
                    ),
                };
                match held {
                    Some(false) => return (Some(false), why),
                    None => unknown.push(why.trim_start_matches("unknown: ").to_string()),
                    Some(true) if !why.is_empty() => through = Some(why),
                    Some(true) => {}
                }
            }
        }
    }
    if let Some(sa) = &end.service_accounts {
        match workload {
            Some((pod, _)) => {
                let account = pod.service_account();
                if !sa.names.is_empty() && !sa.names.iter().any(|n| n == account) {
                    return (
                        Some(false),
                        format!(
                            "{} runs as service account {account}, not {}",
                            pod.key(),
                            sa.names.join(", ")
                        ),
                    );
                }
                if let Some(text) = &sa.selector {
                    let account = format!("{}/{account}", pod.namespace);
                    match account_selects(text, pod) {
                        Some(true) => {}
                        Some(false) => {
                            return (
                                Some(false),
                                format!(
                                    "{} runs as service account {account}, whose labels \
                                     service account selector {text} does not match",
                                    pod.key()
                                ),
                            )
                        }
                        None if pod.account_labels.is_none() => unknown.push(format!(
                            "service account selector {text}: the labels of service account \
                             {account} were not read"
                        )),
                        None => unknown.push(format!(
                            "service account selector {text}: {NAME_LABEL} is not judged"
                        )),
                    }
                }
            }
            None => {
                return (
                    Some(false),
                    format!("{who} is no pod's address; service accounts match pods only"),
                )
            }
        }
    }
    unknown.extend(end.unjudged.iter().map(|u| format!("{u} is not judged")));
    if unknown.is_empty() {
        let via = through.map_or(String::new(), |key| format!(" (it is in {key})"));
        (Some(true), format!("{who} matches {}{via}", end.describe()))
    } else {
        (None, format!("unknown: {}", unknown.join("; ")))
    }
}

/// Whether a `services` condition holds what is seen: the endpoints of the Service as its
/// EndpointSlices list them, a destination by address, port and protocol, a source by
/// address (as Felix builds its IP sets). Judged where the slices tell: a ready endpoint
/// (for a destination, at one of the ports every slice lists) holds, anything that is no
/// endpoint does not. Whether endpoints that are not ready count is not judged, nor are a
/// Service's pods, whose slices (made from them) are not read.
fn service_holds(
    service: &CalicoService,
    seen: &Seen,
    addrs: &[IpAddr],
    who: &str,
    inv: &super::model::Inventory,
    port: Option<(Protocol, u16)>,
) -> (Option<bool>, String) {
    let key = format!("{}/{}", service.namespace, service.name);
    let unknown = |why: String| (None, why);
    if let Some(why) = inv.services_unknown_in(&service.namespace) {
        return unknown(why);
    }
    let Some(s) = inv.service(&service.namespace, &service.name) else {
        return (
            Some(false),
            format!("Service {key} does not exist, so it has no endpoints"),
        );
    };
    let pods_unjudged = "the slices made from a Service's pods are not read, so which of its \
                         pods are endpoints, and at which ports, is not judged";
    if s.selector.is_some() {
        match seen {
            Seen::Pod { pod, .. } if s.selects(pod) => {
                return unknown(format!(
                    "{} is behind Service {key}; {pods_unjudged}",
                    pod.key()
                ))
            }
            // An address no pod has (the engine's outside address) is behind no Service.
            Seen::Pod { .. } | Seen::Address { .. } => {}
            // A node's address is its host-network pods' too.
            Seen::Node { .. } => {
                let pods = inv.pods.iter().filter(|p| p.host_network);
                if let Some(p) = pods
                    .filter(|p| s.selects(p))
                    .find(|p| p.ips.iter().any(|ip| addrs.contains(ip)))
                {
                    return unknown(format!(
                        "{who} is the address of {}, behind Service {key}; {pods_unjudged}",
                        p.key()
                    ));
                }
            }
        }
    }
    let Some(e) = &s.endpoints else {
        return unknown(format!("the EndpointSlices of Service {key} were not read"));
    };
    if let Some(a) = addrs.iter().find(|a| e.not_ready.contains(a)) {
        return unknown(format!(
            "{a} is an endpoint of Service {key} that is not ready, and whether Calico counts \
             such endpoints is not judged"
        ));
    }
    let Some(a) = addrs.iter().find(|a| e.ready.contains(a)) else {
        return (
            Some(false),
            format!("{who} is no endpoint of Service {key}"),
        );
    };
    if !service.destination {
        return (Some(true), format!("{a} is an endpoint of Service {key}"));
    }
    // A pod is judged by its class, for every flow at once: its port is not at hand.
    let ports = e
        .ports
        .as_ref()
        .filter(|_| !matches!(seen, Seen::Pod { .. }));
    match (ports, port) {
        (Some(ports), Some((protocol, number))) if ports.contains(&(protocol, number)) => (
            Some(true),
            format!("{a} is an endpoint of Service {key} at {protocol}/{number}"),
        ),
        (Some(ports), Some((protocol, number))) => {
            let listed: Vec<String> = ports.iter().map(|(p, n)| format!("{p}/{n}")).collect();
            (
                Some(false),
                format!(
                    "{a} is an endpoint of Service {key}, at {}, not {protocol}/{number}",
                    listed.join(", ")
                ),
            )
        }
        _ => unknown(format!(
            "{a} is an endpoint of Service {key}, and which of its ports Calico matches is \
             not judged"
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str, namespace: Option<&str>) -> Result<TierPolicy, FieldErrors> {
        let object: CalicoObject = serde_yaml::from_str(yaml).expect("shape");
        compile_calico_policy(&object, namespace, Origin::default())
    }

    #[test]
    fn a_policy_is_placed_by_its_order_and_its_rules_compiled() {
        let p = compile(
            "metadata: {name: deny-db}\nspec:\n  order: 100\n  selector: app == 'database'\n  ingress:\n  - action: Deny\n    protocol: TCP\n    source: {selector: app == 'web'}\n    destination: {ports: [5432, '6000:6010']}\n",
            Some("prod"),
        )
        .unwrap();
        assert_eq!(p.tier, Tier::CalicoBefore);
        assert_eq!(p.key(), "projectcalico.org/NetworkPolicy/prod/deny-db");
        assert_eq!(
            p.types,
            vec![Direction::Ingress],
            "types default to Ingress"
        );
        assert!(p.egress.is_empty());
        let rule = &p.ingress[0];
        assert_eq!(rule.action, Action::Deny);
        let ports: Vec<String> = rule.ports.iter().flatten().map(|s| s.to_string()).collect();
        assert_eq!(ports, ["TCP/5432", "TCP/6000-6010"]);
        let TierPeer::Calico(far) = &rule.peers[0] else {
            panic!("a Calico peer: {:?}", rule.peers);
        };
        assert_eq!(
            far.describe(),
            "selector app == 'web' and in namespace prod"
        );
        assert!(rule.own.is_none(), "no condition on the pod itself");

        let later = compile("metadata: {name: x}\nspec: {selector: all()}\n", None).unwrap();
        assert_eq!(
            later.tier,
            Tier::CalicoAfter,
            "no order: after NetworkPolicy"
        );
        let tied = compile("metadata: {name: x}\nspec: {order: 1000}\n", None).unwrap();
        assert_eq!(tied.tier, Tier::Calico, "order 1000 cannot be placed");
    }

    #[test]
    fn not_ports_become_the_ranges_left() {
        let p = compile(
            "metadata: {name: x}\nspec:\n  egress:\n  - action: Allow\n    protocol: UDP\n    destination: {notPorts: [53, '100:200']}\n",
            None,
        )
        .unwrap();
        let ports: Vec<String> = p.egress[0]
            .ports
            .iter()
            .flatten()
            .map(|s| s.to_string())
            .collect();
        assert_eq!(ports, ["UDP/1-52", "UDP/54-99", "UDP/201-65535"]);
        assert_eq!(complement(&[(1, 65535)]), vec![]);
    }

    #[test]
    fn bad_input_names_the_field_and_the_position() {
        let err = compile(
            "metadata: {name: x}\nspec:\n  selector: app = 'db'\n  egress:\n  - action: Accept\n    protocol: TCP\n    destination: {nets: [10.0.0.0/33], ports: ['90:80']}\n  - action: Allow\n    destination: {ports: [80]}\n",
            None,
        )
        .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("spec.selector: \"app = 'db'\" at 4: expected ==, !=, in"),
            "{text}"
        );
        assert!(
            text.contains("spec.egress[0].action: unsupported value \"Accept\""),
            "{text}"
        );
        assert!(
            text.contains("spec.egress[0].destination.nets[0]: invalid CIDR"),
            "{text}"
        );
        assert!(
            text.contains(
                "spec.egress[0].destination.ports[0]: \"90:80\": the range ends before it starts"
            ),
            "{text}"
        );
        assert!(
            text.contains("spec.egress[1].destination.ports: ports need protocol TCP"),
            "{text}"
        );
    }

    #[test]
    fn tiered_policies_are_named_after_their_tier() {
        let err = compile(
            "metadata: {name: x}\nspec: {tier: security}\n",
            Some("prod"),
        )
        .unwrap_err();
        assert_eq!(err.0[0].path, "metadata.name");
        assert!(compile(
            "metadata: {name: security.x}\nspec: {tier: security}\n",
            Some("prod")
        )
        .is_ok());
    }
}
