//! AdminNetworkPolicy and BaselineAdminNetworkPolicy (policy.networking.k8s.io/v1alpha1) and
//! ClusterNetworkPolicy (v1alpha2) as the API defines them, validated as the CRDs' schemas
//! do, and compiled to tier policies. Errors name the field, as for NetworkPolicy.
//!
//! Pure: no I/O.

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use serde::Deserialize;

use super::compile::{
    check_metadata, compile_selector, valid_port_number, validate_port_name, Errors, FieldError,
    NameRule,
};
use super::error::FieldErrors;
use super::model::{Origin, PortMatch, PortSpec, Protocol};
use super::selector::Selector;
use super::tiers::{Action, Subject, Tier, TierPeer, TierPolicy, TierRule};

/// The object as written (v1alpha1 and v1alpha2 share one shape here; fields of the other
/// version are refused by validation).
#[derive(Debug, Clone, Default, Deserialize)]
pub struct TierObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    #[serde(default)]
    pub spec: Option<Spec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Spec {
    pub priority: Option<i32>,
    /// v1alpha2 only: `Admin` or `Baseline`.
    pub tier: Option<String>,
    pub subject: Option<SubjectSpec>,
    #[serde(default)]
    pub ingress: Vec<RuleSpec>,
    #[serde(default)]
    pub egress: Vec<RuleSpec>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct SubjectSpec {
    pub namespaces: Option<LabelSelector>,
    pub pods: Option<NamespacedPod>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NamespacedPod {
    pub namespace_selector: Option<LabelSelector>,
    pub pod_selector: Option<LabelSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RuleSpec {
    #[serde(default)]
    pub name: String,
    pub action: Option<String>,
    pub from: Option<Vec<PeerSpec>>,
    pub to: Option<Vec<PeerSpec>>,
    /// v1alpha1.
    pub ports: Option<Vec<PortSpecV1>>,
    /// v1alpha2.
    pub protocols: Option<Vec<ProtocolSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerSpec {
    pub namespaces: Option<LabelSelector>,
    pub pods: Option<NamespacedPod>,
    pub nodes: Option<LabelSelector>,
    pub networks: Option<Vec<String>>,
    pub domain_names: Option<Vec<String>>,
    /// Any other field: a peer kind this reader does not know.
    #[serde(flatten)]
    pub other: std::collections::BTreeMap<String, serde_json::Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortSpecV1 {
    pub port_number: Option<PortNumber>,
    pub named_port: Option<String>,
    pub port_range: Option<PortRangeV1>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortNumber {
    pub protocol: Option<String>,
    pub port: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortRangeV1 {
    pub protocol: Option<String>,
    pub start: Option<i32>,
    pub end: Option<i32>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProtocolSpec {
    pub tcp: Option<Transport>,
    pub udp: Option<Transport>,
    pub sctp: Option<Transport>,
    pub destination_named_port: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Transport {
    /// Absent: every port of the protocol.
    pub destination_port: Option<PortV2>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct PortV2 {
    pub number: Option<i32>,
    #[serde(alias = "portRange")]
    pub range: Option<RangeV2>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct RangeV2 {
    pub start: Option<i32>,
    pub end: Option<i32>,
}

/// Which API object is compiled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TierKind {
    /// AdminNetworkPolicy, v1alpha1.
    Admin,
    /// BaselineAdminNetworkPolicy, v1alpha1: a singleton named `default`.
    BaselineAdmin,
    /// ClusterNetworkPolicy, v1alpha2.
    Cluster,
}

impl TierKind {
    pub fn kind(self) -> &'static str {
        match self {
            TierKind::Admin => "AdminNetworkPolicy",
            TierKind::BaselineAdmin => "BaselineAdminNetworkPolicy",
            TierKind::Cluster => "ClusterNetworkPolicy",
        }
    }

    /// Rules per direction, and peers per rule, at most.
    fn max_items(self) -> usize {
        match self {
            TierKind::Cluster => 25,
            _ => 100,
        }
    }
}

/// Compiles one object of `kind`.
pub fn compile_tier_policy(
    object: &TierObject,
    kind: TierKind,
    origin: Origin,
) -> Result<TierPolicy, FieldErrors> {
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let name = object.metadata.name.clone().unwrap_or_default();
    if object
        .metadata
        .namespace
        .as_deref()
        .is_some_and(|n| !n.is_empty())
    {
        errs.push(
            "metadata.namespace",
            format!("{} is cluster-scoped: it has no namespace", kind.kind()),
        );
    }
    let Some(spec) = &object.spec else {
        errs.push("spec", "is required");
        return Err(FieldErrors(errs.0));
    };
    if kind == TierKind::BaselineAdmin && !name.is_empty() && name != "default" {
        errs.push(
            "metadata.name",
            format!("{name:?}: only one BaselineAdminNetworkPolicy may exist, named \"default\""),
        );
    }
    let tier = match (kind, spec.tier.as_deref()) {
        (TierKind::Admin, None) => Tier::Admin,
        (TierKind::BaselineAdmin, None) => Tier::Baseline,
        (TierKind::Cluster, Some("Admin")) => Tier::Admin,
        (TierKind::Cluster, Some("Baseline")) => Tier::Baseline,
        (TierKind::Cluster, Some(other)) => {
            errs.push(
                "spec.tier",
                format!("unsupported value {other:?}: must be \"Admin\" or \"Baseline\""),
            );
            Tier::Admin
        }
        (TierKind::Cluster, None) => {
            errs.push("spec.tier", "is required");
            Tier::Admin
        }
        (_, Some(_)) => {
            errs.push("spec.tier", format!("is not a field of {}", kind.kind()));
            Tier::Admin
        }
    };
    let priority = match (kind, spec.priority) {
        (TierKind::BaselineAdmin, None) => 0,
        (TierKind::BaselineAdmin, Some(_)) => {
            errs.push(
                "spec.priority",
                "is not a field of BaselineAdminNetworkPolicy",
            );
            0
        }
        (_, None) => {
            errs.push("spec.priority", "is required");
            0
        }
        (_, Some(p)) if !(0..=1000).contains(&p) => {
            errs.push(
                "spec.priority",
                format!("{p} is out of range: must be between 0 and 1000"),
            );
            p
        }
        (_, Some(p)) => p,
    };
    let mut warnings = Vec::new();
    let subject = match &spec.subject {
        None => {
            errs.push("spec.subject", "is required");
            Subject::Namespaces(Selector::everything())
        }
        Some(s) => match (&s.namespaces, &s.pods) {
            (Some(ns), None) => {
                Subject::Namespaces(compile_selector(ns, "spec.subject.namespaces", &mut errs))
            }
            (None, Some(p)) => {
                let (namespaces, pods) =
                    namespaced(p, "spec.subject.pods", &mut errs, &mut warnings);
                Subject::Pods { namespaces, pods }
            }
            _ => {
                errs.push(
                    "spec.subject",
                    "exactly one of namespaces or pods must be set",
                );
                Subject::Namespaces(Selector::everything())
            }
        },
    };
    let ingress = rules(
        &spec.ingress,
        "spec.ingress",
        kind,
        tier,
        false,
        &mut errs,
        &mut warnings,
    );
    let egress = rules(
        &spec.egress,
        "spec.egress",
        kind,
        tier,
        true,
        &mut errs,
        &mut warnings,
    );
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    Ok(TierPolicy {
        kind: kind.kind().to_string(),
        name,
        tier,
        priority,
        subject,
        ingress,
        egress,
        warnings,
        origin,
        order: None,
        types: Vec::new(),
        calico: None,
    })
}

/// The namespace and pod selectors of a `pods` subject or peer. The schema requires both; an
/// absent one is read as `{}` (everything), as other analyzers and examples do, with a
/// warning.
fn namespaced(
    p: &NamespacedPod,
    path: &str,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> (Selector, Selector) {
    let mut one = |sel: &Option<LabelSelector>, field: &str| match sel {
        Some(s) => compile_selector(s, &format!("{path}.{field}"), errs),
        None => {
            warnings.push(format!(
                "{path}.{field} is absent: read as {{}} (everything); the API requires it"
            ));
            Selector::everything()
        }
    };
    let namespaces = one(&p.namespace_selector, "namespaceSelector");
    let pods = one(&p.pod_selector, "podSelector");
    (namespaces, pods)
}

fn rules(
    specs: &[RuleSpec],
    path: &str,
    kind: TierKind,
    tier: Tier,
    egress: bool,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> Vec<TierRule> {
    if specs.len() > kind.max_items() {
        errs.push(
            path,
            format!(
                "{} rules: at most {} are allowed",
                specs.len(),
                kind.max_items()
            ),
        );
    }
    specs
        .iter()
        .enumerate()
        .filter_map(|(i, r)| {
            rule(
                r,
                &format!("{path}[{i}]"),
                kind,
                tier,
                egress,
                errs,
                warnings,
            )
        })
        .collect()
}

fn rule(
    r: &RuleSpec,
    path: &str,
    kind: TierKind,
    tier: Tier,
    egress: bool,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> Option<TierRule> {
    let before = errs.0.len();
    if r.name.chars().count() > 100 {
        errs.push(
            &format!("{path}.name"),
            "must be no more than 100 characters",
        );
    }
    let action = match (kind, r.action.as_deref()) {
        (_, None) => {
            errs.push(&format!("{path}.action"), "is required");
            Action::Deny
        }
        (TierKind::Cluster, Some("Accept")) => Action::Allow,
        (TierKind::Admin | TierKind::BaselineAdmin, Some("Allow")) => Action::Allow,
        (_, Some("Deny")) => Action::Deny,
        (TierKind::Admin | TierKind::Cluster, Some("Pass")) => Action::Pass,
        (_, Some(other)) => {
            let allowed = match kind {
                TierKind::Admin => "\"Allow\", \"Deny\" or \"Pass\"",
                TierKind::BaselineAdmin => "\"Allow\" or \"Deny\"",
                TierKind::Cluster => "\"Accept\", \"Deny\" or \"Pass\"",
            };
            errs.push(
                &format!("{path}.action"),
                format!("unsupported value {other:?}: must be {allowed}"),
            );
            Action::Deny
        }
    };
    let (field, peers) = if egress {
        ("to", r.to.as_ref())
    } else {
        ("from", r.from.as_ref())
    };
    let wrong = if egress {
        r.from.is_some()
    } else {
        r.to.is_some()
    };
    if wrong {
        errs.push(
            &format!("{path}.{}", if egress { "from" } else { "to" }),
            format!(
                "is not a field of an {} rule",
                if egress { "egress" } else { "ingress" }
            ),
        );
    }
    let peers = match peers {
        None => {
            errs.push(&format!("{path}.{field}"), "is required");
            Vec::new()
        }
        Some(list) if list.is_empty() => {
            errs.push(&format!("{path}.{field}"), "must have at least one item");
            Vec::new()
        }
        Some(list) => {
            if list.len() > kind.max_items() {
                errs.push(
                    &format!("{path}.{field}"),
                    format!(
                        "{} peers: at most {} are allowed",
                        list.len(),
                        kind.max_items()
                    ),
                );
            }
            list.clone()
        }
    };
    let mut compiled = Vec::new();
    let mut unknown_peer = false;
    for (i, p) in peers.iter().enumerate() {
        let ppath = format!("{path}.{field}[{i}]");
        match peer(p, &ppath, egress, kind, action, errs, warnings) {
            Some(Some(peer)) => compiled.push(peer),
            Some(None) => unknown_peer = true,
            None => {}
        }
    }
    let ports = match (kind, &r.ports, &r.protocols) {
        (_, Some(_), Some(_)) => {
            errs.push(path, "ports and protocols cannot both be set");
            None
        }
        (TierKind::Cluster, Some(_), None) => {
            errs.push(
                &format!("{path}.ports"),
                "is not a field of v1alpha2: use protocols",
            );
            None
        }
        (TierKind::Admin | TierKind::BaselineAdmin, None, Some(_)) => {
            errs.push(
                &format!("{path}.protocols"),
                "is not a field of v1alpha1: use ports",
            );
            None
        }
        (_, Some(ports), None) => Some(ports_v1(ports, &format!("{path}.ports"), kind, errs)),
        (_, None, Some(protocols)) => Some(protocols_v2(
            protocols,
            &format!("{path}.protocols"),
            kind,
            errs,
        )),
        (_, None, None) => None,
    };
    if let Some(ports) = &ports {
        let named = ports
            .iter()
            .any(|p| matches!(p.port, PortMatch::Named { .. }));
        let addresses = compiled.iter().any(|p| {
            matches!(
                p,
                TierPeer::Nodes(_) | TierPeer::Networks(_) | TierPeer::Domains(_)
            )
        });
        if named && addresses {
            let why = "nodes, networks and domainNames peers have no named ports";
            if kind == TierKind::Cluster {
                errs.push(path, format!("named ports cannot be used here: {why}"));
            } else {
                warnings.push(format!(
                    "{path}: {why}; its named ports match only its pod peers"
                ));
            }
        }
    }
    if errs.0.len() > before {
        return None;
    }
    if unknown_peer {
        // Fail closed, as the API asks of a peer it does not know: an Allow matches nothing,
        // a Deny or Pass denies everything.
        warnings.push(format!(
            "{path}: a peer of an unknown kind; the rule is read as {}",
            if action == Action::Allow {
                "matching nothing"
            } else {
                "denying all traffic"
            }
        ));
        return Some(match action {
            Action::Allow => TierRule {
                name: r.name.clone(),
                action,
                peers: compiled,
                ports,
                own: None,
                l7: None,
            },
            _ => TierRule {
                name: r.name.clone(),
                action: Action::Deny,
                peers: vec![TierPeer::Namespaces(Selector::everything())],
                ports: None,
                own: None,
                l7: None,
            },
        });
    }
    let _ = tier;
    Some(TierRule {
        name: r.name.clone(),
        action,
        peers: compiled,
        ports,
        own: None,
        l7: None,
    })
}

/// A peer: `Some(Some(peer))`, `Some(None)` for a peer of an unknown kind, `None` on error.
fn peer(
    p: &PeerSpec,
    path: &str,
    egress: bool,
    kind: TierKind,
    action: Action,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> Option<Option<TierPeer>> {
    let set = [
        p.namespaces.is_some(),
        p.pods.is_some(),
        p.nodes.is_some(),
        p.networks.is_some(),
        p.domain_names.is_some(),
    ]
    .iter()
    .filter(|b| **b)
    .count();
    if set > 1 {
        errs.push(path, "exactly one kind of peer must be set");
        return None;
    }
    if set == 0 {
        if p.other.is_empty() {
            errs.push(path, "exactly one kind of peer must be set");
            return None;
        }
        return Some(None);
    }
    let egress_only = |field: &str, errs: &mut Errors| {
        if !egress {
            errs.push(&format!("{path}.{field}"), "is a peer of egress rules only");
        }
    };
    let peer = if let Some(ns) = &p.namespaces {
        TierPeer::Namespaces(compile_selector(ns, &format!("{path}.namespaces"), errs))
    } else if let Some(pods) = &p.pods {
        let (namespaces, pods) = namespaced(pods, &format!("{path}.pods"), errs, warnings);
        TierPeer::Pods { namespaces, pods }
    } else if let Some(nodes) = &p.nodes {
        egress_only("nodes", errs);
        TierPeer::Nodes(compile_selector(nodes, &format!("{path}.nodes"), errs))
    } else if let Some(networks) = &p.networks {
        egress_only("networks", errs);
        if networks.is_empty() || networks.len() > 25 {
            errs.push(&format!("{path}.networks"), "must have 1 to 25 CIDRs");
        }
        let mut nets = Vec::new();
        for (i, n) in networks.iter().enumerate() {
            match n.parse::<IpNet>() {
                Ok(net) => nets.push(net.trunc()),
                Err(_) => errs.push(
                    &format!("{path}.networks[{i}]"),
                    format!("invalid CIDR {n:?}"),
                ),
            }
        }
        TierPeer::Networks(nets)
    } else {
        let names = p.domain_names.clone().unwrap_or_default();
        egress_only("domainNames", errs);
        if kind != TierKind::Cluster {
            errs.push(&format!("{path}.domainNames"), "is a peer of v1alpha2 only");
        }
        if action != Action::Allow {
            errs.push(
                &format!("{path}.domainNames"),
                "may be used in Accept rules only",
            );
        }
        if names.is_empty() || names.len() > 25 {
            errs.push(&format!("{path}.domainNames"), "must have 1 to 25 names");
        }
        warnings.push(format!(
            "{path}: domain names cannot be judged from addresses; flows to addresses outside \
             the cluster that this rule could decide are unknown"
        ));
        TierPeer::Domains(names)
    };
    Some(Some(peer))
}

fn protocol(text: Option<&str>, path: &str, errs: &mut Errors) -> Protocol {
    match text {
        None | Some("TCP") => Protocol::Tcp,
        Some("UDP") => Protocol::Udp,
        Some("SCTP") => Protocol::Sctp,
        Some(other) => {
            errs.push(
                path,
                format!("unsupported value {other:?}: must be \"TCP\", \"UDP\" or \"SCTP\""),
            );
            Protocol::Tcp
        }
    }
}

fn number(n: Option<i32>, path: &str, errs: &mut Errors) -> u16 {
    match n.and_then(valid_port_number) {
        Some(p) => p,
        None => {
            match n {
                None => errs.push(path, "is required"),
                Some(n) => errs.push(
                    path,
                    format!("{n} is not a valid port number: must be between 1 and 65535"),
                ),
            }
            1
        }
    }
}

fn range(start: Option<i32>, end: Option<i32>, path: &str, errs: &mut Errors) -> PortMatch {
    let from = number(start, &format!("{path}.start"), errs);
    let to = number(end, &format!("{path}.end"), errs);
    if to <= from && start.is_some() && end.is_some() {
        errs.push(
            &format!("{path}.end"),
            format!("{to} must be greater than start {from}"),
        );
    }
    PortMatch::Range { from, to }
}

fn named(name: &str, path: &str, errs: &mut Errors) -> PortMatch {
    if let Err(e) = validate_port_name(name) {
        errs.push(path, e);
    }
    PortMatch::Named {
        name: name.to_string(),
    }
}

fn ports_v1(ports: &[PortSpecV1], path: &str, kind: TierKind, errs: &mut Errors) -> Vec<PortSpec> {
    if ports.len() > kind.max_items() {
        errs.push(
            path,
            format!("at most {} ports are allowed", kind.max_items()),
        );
    }
    let mut out = Vec::new();
    for (i, p) in ports.iter().enumerate() {
        let ppath = format!("{path}[{i}]");
        let set = [
            p.port_number.is_some(),
            p.named_port.is_some(),
            p.port_range.is_some(),
        ]
        .iter()
        .filter(|b| **b)
        .count();
        if set != 1 {
            errs.push(
                &ppath,
                "exactly one of portNumber, namedPort or portRange must be set",
            );
            continue;
        }
        if let Some(n) = &p.port_number {
            let port = number(n.port, &format!("{ppath}.portNumber.port"), errs);
            out.push(PortSpec {
                protocol: protocol(
                    n.protocol.as_deref(),
                    &format!("{ppath}.portNumber.protocol"),
                    errs,
                ),
                port: PortMatch::Range {
                    from: port,
                    to: port,
                },
            });
        } else if let Some(name) = &p.named_port {
            // A named port matches the container port of that name, whatever its protocol.
            let m = named(name, &format!("{ppath}.namedPort"), errs);
            for protocol in Protocol::ALL {
                out.push(PortSpec {
                    protocol,
                    port: m.clone(),
                });
            }
        } else if let Some(r) = &p.port_range {
            out.push(PortSpec {
                protocol: protocol(
                    r.protocol.as_deref(),
                    &format!("{ppath}.portRange.protocol"),
                    errs,
                ),
                port: range(r.start, r.end, &format!("{ppath}.portRange"), errs),
            });
        }
    }
    out
}

fn protocols_v2(
    protocols: &[ProtocolSpec],
    path: &str,
    kind: TierKind,
    errs: &mut Errors,
) -> Vec<PortSpec> {
    if protocols.is_empty() || protocols.len() > kind.max_items() {
        errs.push(path, format!("must have 1 to {} entries", kind.max_items()));
    }
    let mut out = Vec::new();
    for (i, p) in protocols.iter().enumerate() {
        let ppath = format!("{path}[{i}]");
        let transports = [
            (Protocol::Tcp, "tcp", &p.tcp),
            (Protocol::Udp, "udp", &p.udp),
            (Protocol::Sctp, "sctp", &p.sctp),
        ];
        let set = transports.iter().filter(|(_, _, t)| t.is_some()).count()
            + usize::from(p.destination_named_port.is_some());
        if set != 1 {
            errs.push(
                &ppath,
                "exactly one of tcp, udp, sctp or destinationNamedPort must be set",
            );
            continue;
        }
        if let Some(name) = &p.destination_named_port {
            let m = named(name, &format!("{ppath}.destinationNamedPort"), errs);
            for protocol in Protocol::ALL {
                out.push(PortSpec {
                    protocol,
                    port: m.clone(),
                });
            }
            continue;
        }
        for (protocol, field, t) in transports {
            let Some(t) = t else { continue };
            let tpath = format!("{ppath}.{field}.destinationPort");
            let port = match &t.destination_port {
                None => PortMatch::Any,
                Some(PortV2 {
                    number: Some(n),
                    range: None,
                }) => {
                    let n = number(Some(*n), &format!("{tpath}.number"), errs);
                    PortMatch::Range { from: n, to: n }
                }
                Some(PortV2 {
                    number: None,
                    range: Some(r),
                }) => range(r.start, r.end, &format!("{tpath}.range"), errs),
                Some(_) => {
                    errs.push(&tpath, "exactly one of number or range must be set");
                    continue;
                }
            };
            out.push(PortSpec { protocol, port });
        }
    }
    out
}

/// Compile errors as field errors (for callers that collect them per object).
pub fn into_field_errors(e: FieldErrors) -> Vec<FieldError> {
    e.0
}
