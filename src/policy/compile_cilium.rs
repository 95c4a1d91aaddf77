//! CiliumNetworkPolicy and CiliumClusterwideNetworkPolicy (cilium.io/v2), validated and
//! compiled into the two places they act:
//!
//! - the allow rules (`ingress`, `egress`) join the NetworkPolicy tier: Cilium keeps one
//!   policy map per endpoint, so its allows and those of Kubernetes NetworkPolicies are one
//!   union, and any policy that selects an endpoint for a direction (with rules there, or
//!   `enableDefaultDeny`) puts it in default deny;
//! - the deny rules (`ingressDeny`, `egressDeny`) become a policy of the Cilium tier, which
//!   comes before NetworkPolicy: a deny wins over every allow, of whatever kind.
//!
//! Endpoint selectors address pods by their labels; `io.kubernetes.pod.namespace` (with or
//! without the `k8s:` source prefix) and `io.cilium.k8s.namespace.labels.*` address their
//! namespace. A namespaced policy's selectors stay in its namespace unless they name one.
//! Host-network pods are no endpoints: no endpoint selector matches them.
//!
//! A clusterwide policy with a `nodeSelector` is a host policy (Cilium's host firewall): it
//! selects no pod endpoint, but the host endpoints of the nodes whose labels match
//! ([`CiliumPart::nodes`], [`Subject::Nodes`]), with the same two parts.
//!
//! L7 rules (`rules.http`, `rules.dns`, `rules.kafka`) and `toFQDNs` are kept and shown: an
//! L7 rule filters what its L3/L4 rule admits; a domain name matches no address this reader
//! can tell. What cannot be judged from the inventory (service accounts, Services, CIDR
//! groups, `fromRequires`) is an unjudged peer: its matches are unknown, never guessed.
//!
//! Pure: no I/O.

use std::collections::BTreeMap;

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{
    LabelSelector, LabelSelectorRequirement, ObjectMeta,
};
use serde::Deserialize;
use serde_json::Value;

use super::compile::{
    check_metadata, compile_selector, parse_cidr, validate_port_name, Errors, NameRule,
};
use super::error::FieldErrors;
use super::model::{
    CiliumPart, Direction, Entity, IpBlock, L7Rule, NamespaceScope, Origin, Peer, Policy,
    PortMatch, PortSpec, Protocol, Rule, ServiceBy, ServiceRef, NAMESPACE_NAME_LABEL,
};
use super::selector::{Requirement, Selector, SERVICE_ACCOUNT_LABEL};
use super::tiers::{Action, Subject, Tier, TierPeer, TierPolicy, TierRule};

pub const API_VERSION: &str = "cilium.io/v2";

/// The label Cilium gives an endpoint for its pod's namespace.
const POD_NAMESPACE: &str = "io.kubernetes.pod.namespace";
/// The prefix of the labels Cilium copies from an endpoint's namespace.
const NAMESPACE_LABELS: &str = "io.cilium.k8s.namespace.labels.";
/// The annotation that puts a policy in audit mode.
pub const AUDIT_ANNOTATION: &str = "io.cilium.policy.audit-mode";

#[derive(Debug, Clone, Default, Deserialize)]
pub struct CiliumObject {
    #[serde(default)]
    pub metadata: ObjectMeta,
    pub spec: Option<RuleSpec>,
    pub specs: Option<Vec<RuleSpec>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RuleSpec {
    pub endpoint_selector: Option<LabelSelector>,
    pub node_selector: Option<LabelSelector>,
    pub ingress: Option<Vec<PeerRule>>,
    pub ingress_deny: Option<Vec<PeerRule>>,
    pub egress: Option<Vec<PeerRule>>,
    pub egress_deny: Option<Vec<PeerRule>>,
    pub enable_default_deny: Option<DefaultDeny>,
    pub description: Option<String>,
    pub labels: Option<Value>,
    /// Fields this reader does not know: the API server prunes unknown fields, so they do
    /// nothing; said as a warning.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
pub struct DefaultDeny {
    pub ingress: Option<bool>,
    pub egress: Option<bool>,
}

/// An ingress or egress rule (allow or deny); fields of the other direction are refused.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PeerRule {
    pub from_endpoints: Option<Vec<LabelSelector>>,
    pub to_endpoints: Option<Vec<LabelSelector>>,
    pub from_entities: Option<Vec<String>>,
    pub to_entities: Option<Vec<String>>,
    #[serde(rename = "fromCIDR")]
    pub from_cidr: Option<Vec<String>>,
    #[serde(rename = "toCIDR")]
    pub to_cidr: Option<Vec<String>>,
    #[serde(rename = "fromCIDRSet")]
    pub from_cidr_set: Option<Vec<CidrRule>>,
    #[serde(rename = "toCIDRSet")]
    pub to_cidr_set: Option<Vec<CidrRule>>,
    #[serde(rename = "toFQDNs")]
    pub to_fqdns: Option<Vec<Fqdn>>,
    pub to_services: Option<Vec<ToService>>,
    pub to_ports: Option<Vec<PortRule>>,
    pub icmps: Option<Value>,
    /// Peer kinds judged by what the inventory does not hold.
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CidrRule {
    pub cidr: Option<String>,
    pub except: Option<Vec<String>>,
    pub cidr_group_ref: Option<String>,
    pub cidr_group_selector: Option<Value>,
}

/// One entry of `toServices`: a Service by name, or Services by label.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ToService {
    pub k8s_service: Option<K8sService>,
    pub k8s_service_selector: Option<K8sServiceSelector>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sService {
    pub service_name: Option<String>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct K8sServiceSelector {
    pub selector: Option<LabelSelector>,
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Fqdn {
    pub match_name: Option<String>,
    pub match_pattern: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortRule {
    pub ports: Option<Vec<PortProtocol>>,
    pub rules: Option<L7Rules>,
    #[serde(flatten)]
    pub other: BTreeMap<String, Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortProtocol {
    pub port: Option<Value>,
    pub end_port: Option<i64>,
    pub protocol: Option<String>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct L7Rules {
    pub http: Option<Vec<HttpRule>>,
    pub dns: Option<Vec<DnsRule>>,
    pub kafka: Option<Vec<Value>>,
    pub l7proto: Option<String>,
    pub l7: Option<Vec<Value>>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRule {
    pub method: Option<String>,
    pub path: Option<String>,
    pub host: Option<String>,
    pub headers: Option<Value>,
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DnsRule {
    pub match_name: Option<String>,
    pub match_pattern: Option<String>,
}

/// A Cilium policy compiled: its allow part (a policy of the NetworkPolicy tier) and its
/// deny part (a Cilium tier policy), when it has deny rules.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CiliumCompiled {
    pub allow: Policy,
    pub deny: Option<TierPolicy>,
}

/// Compiles one CiliumNetworkPolicy (`clusterwide` false, in `namespace`) or
/// CiliumClusterwideNetworkPolicy.
pub fn compile_cilium_policy(
    object: &CiliumObject,
    clusterwide: bool,
    namespace: &str,
    origin: Origin,
) -> Result<Vec<CiliumCompiled>, FieldErrors> {
    let kind = if clusterwide {
        "CiliumClusterwideNetworkPolicy"
    } else {
        "CiliumNetworkPolicy"
    };
    let mut errs = Errors::default();
    check_metadata(&object.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let name = object.metadata.name.clone().unwrap_or_default();
    if clusterwide
        && object
            .metadata
            .namespace
            .as_deref()
            .is_some_and(|n| !n.is_empty())
    {
        errs.push(
            "metadata.namespace",
            "CiliumClusterwideNetworkPolicy is cluster-scoped: it has no namespace",
        );
    }
    // `spec` and every entry of `specs` are rule sets of their own, each with its own
    // selector, as Cilium reads them; several become parts named after their place.
    let mut sets: Vec<(String, &RuleSpec)> = Vec::new();
    if let Some(spec) = &object.spec {
        sets.push(("spec".to_string(), spec));
    }
    for (i, spec) in object.specs.iter().flatten().enumerate() {
        sets.push((format!("specs[{i}]"), spec));
    }
    if sets.is_empty() {
        errs.push("spec", "is required (or specs)");
        return Err(FieldErrors(errs.0));
    }
    let audit_mode = object
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(AUDIT_ANNOTATION))
        .is_some_and(|v| v == "true");
    let scope = Scope {
        clusterwide,
        namespace,
    };
    let several = sets.len() > 1;
    let mut out = Vec::new();
    for (base, spec) in &sets {
        let part = if several {
            format!("{name} ({base})")
        } else {
            name.clone()
        };
        let set = RuleSet {
            kind,
            name: part,
            base,
            audit_mode,
        };
        if let Some(c) = rule_set(&set, spec, scope, origin.clone(), &mut errs) {
            out.push(c);
        }
    }
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    Ok(out)
}

/// One rule set's names: the kind, the part's name, its field (`spec`, `specs[1]`).
struct RuleSet<'a> {
    kind: &'a str,
    name: String,
    base: &'a str,
    audit_mode: bool,
}

/// One rule set (`spec`, or an entry of `specs`): its allow part and its deny part; `None`
/// after errors, which are in `errs`.
fn rule_set(
    set: &RuleSet,
    spec: &RuleSpec,
    scope: Scope,
    origin: Origin,
    errs: &mut Errors,
) -> Option<CiliumCompiled> {
    let before = errs.0.len();
    let (kind, base, clusterwide, namespace) =
        (set.kind, set.base, scope.clusterwide, scope.namespace);
    let name = set.name.clone();

    let mut warnings = Vec::new();
    for field in spec.other.keys() {
        warnings.push(format!(
            "{base}.{field} is not a field of {kind}; the API server drops it, and so does this reader"
        ));
    }
    let mut nodes = None;
    let subject = match (&spec.endpoint_selector, &spec.node_selector) {
        (Some(sel), None) => {
            let (namespaces, pods) = split_selector(
                sel,
                &format!("{base}.endpointSelector"),
                scope,
                errs,
                &mut warnings,
            );
            // A namespaced policy selects in its own namespace, whatever its selector says.
            let namespaces = match (clusterwide, namespaces) {
                (true, ns) => ns,
                (false, None) => None,
                (false, Some(ns)) => {
                    let mut reqs = ns.requirements().to_vec();
                    reqs.extend(own_namespace(namespace).requirements().iter().cloned());
                    Some(Selector::new(reqs)).filter(|s| *s != own_namespace(namespace))
                }
            };
            Some((namespaces, pods))
        }
        (None, Some(sel)) if clusterwide => {
            nodes = Some(plain_selector(sel, &format!("{base}.nodeSelector"), errs));
            None
        }
        (None, Some(_)) => {
            errs.push(
                &format!("{base}.nodeSelector"),
                "is a field of CiliumClusterwideNetworkPolicy only",
            );
            None
        }
        (Some(_), Some(_)) => {
            errs.push(base, "endpointSelector and nodeSelector cannot both be set");
            None
        }
        (None, None) => {
            errs.push(base, "one of endpointSelector or nodeSelector is required");
            None
        }
    };
    let mut l7 = Vec::new();
    let mut sides = Vec::new();
    for (direction, allow, deny) in [
        (Direction::Ingress, &spec.ingress, &spec.ingress_deny),
        (Direction::Egress, &spec.egress, &spec.egress_deny),
    ] {
        let field = direction.as_str();
        let mut allow_rules = Vec::new();
        for (i, r) in allow.iter().flatten().enumerate() {
            let path = format!("{base}.{field}[{i}]");
            let Some(compiled) = peer_rule(r, &path, direction, false, scope, errs, &mut warnings)
            else {
                continue;
            };
            if compiled.matches_nothing {
                continue;
            }
            if let Some(text) = compiled.l7 {
                l7.push(L7Rule {
                    direction,
                    rule: allow_rules.len() as u32,
                    text,
                });
            }
            allow_rules.push(Rule {
                peers: compiled.peers.into_iter().map(|p| p.allow).collect(),
                ports: compiled.ports,
            });
        }
        let mut deny_rules = Vec::new();
        let deny_field = format!("{field}Deny");
        for (i, r) in deny.iter().flatten().enumerate() {
            let path = format!("{base}.{deny_field}[{i}]");
            let Some(compiled) = peer_rule(r, &path, direction, true, scope, errs, &mut warnings)
            else {
                continue;
            };
            if compiled.matches_nothing {
                continue;
            }
            let peers: Vec<TierPeer> = if compiled.peers.is_empty() {
                vec![TierPeer::Entity(Entity::All)]
            } else {
                compiled.peers.into_iter().map(|p| p.deny).collect()
            };
            deny_rules.push(TierRule {
                name: String::new(),
                action: Action::Deny,
                peers,
                ports: (!compiled.ports.is_empty()).then_some(compiled.ports),
                own: None,
                l7: None,
            });
        }
        let has_rules = allow.as_ref().is_some_and(|v| !v.is_empty())
            || deny.as_ref().is_some_and(|v| !v.is_empty());
        let requested = spec
            .enable_default_deny
            .as_ref()
            .and_then(|d| match direction {
                Direction::Ingress => d.ingress,
                Direction::Egress => d.egress,
            });
        let default_deny = requested.unwrap_or(has_rules);
        sides.push((
            allow_rules,
            deny_rules,
            has_rules || default_deny,
            default_deny,
        ));
    }
    if errs.0.len() > before {
        return None;
    }
    let audit_mode = set.audit_mode;
    if audit_mode {
        warnings.push(format!(
            "{AUDIT_ANNOTATION}: \"true\": Cilium logs what this policy would drop and forwards it"
        ));
    }
    let (egress_side, ingress_side) = (sides.pop(), sides.pop());
    let (ingress_allow, ingress_deny, ingress_applies, default_deny_ingress) =
        ingress_side.expect("two directions");
    let (egress_allow, egress_deny, egress_applies, default_deny_egress) =
        egress_side.expect("two directions");
    // A host policy selects no pod endpoint: its nodes are `nodes`.
    let (namespaces, pods) = subject.unwrap_or_else(|| {
        (
            Some(Selector::new(vec![super::selector::Requirement {
                key: NAMESPACE_NAME_LABEL.into(),
                op: super::selector::Operator::In(Vec::new()),
            }])),
            Selector::everything(),
        )
    });
    let policy_namespace = if clusterwide {
        String::new()
    } else {
        namespace.to_string()
    };
    let deny = (!ingress_deny.is_empty() || !egress_deny.is_empty()).then(|| TierPolicy {
        kind: kind.to_string(),
        name: if clusterwide {
            name.clone()
        } else {
            format!("{namespace}/{name}")
        },
        tier: Tier::Cilium,
        priority: 0,
        subject: match &nodes {
            Some(nodes) => Subject::Nodes(nodes.clone()),
            None => Subject::Pods {
                namespaces: namespaces
                    .clone()
                    .unwrap_or_else(|| own_namespace(namespace)),
                pods: pods.clone(),
            },
        },
        ingress: ingress_deny,
        egress: egress_deny,
        warnings: Vec::new(),
        origin: origin.clone(),
        order: None,
        types: Vec::new(),
        calico: None,
    });
    let allow = Policy {
        namespace: policy_namespace,
        name,
        pod_selector: pods,
        ingress: ingress_applies.then_some(ingress_allow),
        egress: egress_applies.then_some(egress_allow),
        warnings,
        origin,
        manifest: None,
        cilium: Some(Box::new(CiliumPart {
            kind: kind.to_string(),
            namespaces,
            default_deny_ingress,
            default_deny_egress,
            l7,
            audit_mode,
            nodes,
        })),
    };
    Some(CiliumCompiled { allow, deny })
}

#[derive(Debug, Clone, Copy)]
struct Scope<'a> {
    clusterwide: bool,
    namespace: &'a str,
}

fn own_namespace(namespace: &str) -> Selector {
    Selector::from_match_labels([(NAMESPACE_NAME_LABEL, namespace)])
}

/// One peer, as the allow part and the deny part each hold it.
struct BothPeer {
    allow: Peer,
    deny: TierPeer,
}

struct CompiledRule {
    /// Empty: every peer (a rule with ports only).
    peers: Vec<BothPeer>,
    /// Empty: every port and protocol.
    ports: Vec<PortSpec>,
    l7: Option<String>,
    /// `{}`: a rule that selects no peer (Cilium's way of writing default deny).
    matches_nothing: bool,
}

fn unjudged(why: String) -> BothPeer {
    BothPeer {
        allow: Peer::Unjudged(why.clone()),
        deny: TierPeer::Unjudged(why),
    }
}

/// One rule of either direction.
#[allow(clippy::too_many_arguments)]
fn peer_rule(
    r: &PeerRule,
    path: &str,
    direction: Direction,
    deny: bool,
    scope: Scope,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> Option<CompiledRule> {
    let before = errs.0.len();
    let ingress = direction == Direction::Ingress;
    let (endpoints, entities, cidrs, cidr_sets) = if ingress {
        (
            &r.from_endpoints,
            &r.from_entities,
            &r.from_cidr,
            &r.from_cidr_set,
        )
    } else {
        (&r.to_endpoints, &r.to_entities, &r.to_cidr, &r.to_cidr_set)
    };
    let (own, other) = if ingress {
        ("from", "to")
    } else {
        ("to", "from")
    };
    let wrong: Vec<&str> = [
        (r.from_endpoints.is_some(), "fromEndpoints"),
        (r.to_endpoints.is_some(), "toEndpoints"),
        (r.from_entities.is_some(), "fromEntities"),
        (r.to_entities.is_some(), "toEntities"),
        (r.from_cidr.is_some(), "fromCIDR"),
        (r.to_cidr.is_some(), "toCIDR"),
        (r.from_cidr_set.is_some(), "fromCIDRSet"),
        (r.to_cidr_set.is_some(), "toCIDRSet"),
        (r.to_fqdns.is_some(), "toFQDNs"),
        (r.to_services.is_some(), "toServices"),
    ]
    .into_iter()
    .filter(|(set, f)| *set && f.starts_with(other))
    .map(|(_, f)| f)
    .collect();
    for field in wrong {
        errs.push(
            &format!("{path}.{field}"),
            format!("is not a field of an {direction} rule"),
        );
    }
    if deny && r.to_fqdns.is_some() {
        errs.push(&format!("{path}.toFQDNs"), "is not a field of a deny rule");
    }

    let mut peers = Vec::new();
    let mut l3 = false;
    for (i, sel) in endpoints.iter().flatten().enumerate() {
        l3 = true;
        let field = format!("{path}.{own}Endpoints[{i}]");
        let (namespaces, pods) = split_selector(sel, &field, scope, errs, warnings);
        let namespaces_for_deny = namespaces
            .clone()
            .unwrap_or_else(|| own_namespace(scope.namespace));
        let allow = Peer::Pods {
            pods: pods.clone(),
            namespaces: match namespaces {
                Some(s) => NamespaceScope::Selector(s),
                None => NamespaceScope::PolicyNamespace,
            },
        };
        peers.push(BothPeer {
            allow,
            deny: TierPeer::Pods {
                namespaces: namespaces_for_deny,
                pods,
            },
        });
    }
    for (i, text) in entities.iter().flatten().enumerate() {
        l3 = true;
        match Entity::parse(text) {
            Some(e) => peers.push(BothPeer {
                allow: Peer::Entity(e),
                deny: TierPeer::Entity(e),
            }),
            None => {
                let known: Vec<&str> = Entity::ALL.iter().map(|e| e.as_str()).collect();
                errs.push(
                    &format!("{path}.{own}Entities[{i}]"),
                    format!(
                        "unknown entity {text:?}: must be one of {}",
                        known.join(", ")
                    ),
                );
            }
        }
    }
    for (i, text) in cidrs.iter().flatten().enumerate() {
        l3 = true;
        if let Some(block) = cidr(text, &[], &format!("{path}.{own}CIDR[{i}]"), errs) {
            peers.push(outside(block));
        }
    }
    for (i, set) in cidr_sets.iter().flatten().enumerate() {
        l3 = true;
        let field = format!("{path}.{own}CIDRSet[{i}]");
        match (&set.cidr, &set.cidr_group_ref, &set.cidr_group_selector) {
            (Some(text), None, None) => {
                let except = set.except.clone().unwrap_or_default();
                if let Some(block) = cidr(text, &except, &field, errs) {
                    peers.push(outside(block));
                }
            }
            (None, Some(group), None) => {
                peers.push(unjudged(format!("CiliumCIDRGroup {group} is not read")))
            }
            (None, None, Some(_)) => {
                peers.push(unjudged("CiliumCIDRGroups by label are not read".into()))
            }
            _ => errs.push(
                &field,
                "exactly one of cidr, cidrGroupRef or cidrGroupSelector must be set",
            ),
        }
    }
    if let Some(fqdns) = &r.to_fqdns {
        l3 = true;
        let mut names = Vec::new();
        for (i, f) in fqdns.iter().enumerate() {
            match (&f.match_name, &f.match_pattern) {
                (Some(n), None) => names.push(n.trim_end_matches('.').to_string()),
                (None, Some(p)) => names.push(p.trim_end_matches('.').to_string()),
                _ => errs.push(
                    &format!("{path}.toFQDNs[{i}]"),
                    "exactly one of matchName or matchPattern must be set",
                ),
            }
        }
        if !names.is_empty() {
            peers.push(BothPeer {
                allow: Peer::Domains(names.clone()),
                deny: TierPeer::Domains(names),
            });
        }
    }
    let has_ports = r.to_ports.as_ref().is_some_and(|p| !p.is_empty());
    if let (Some(services), false) = (&r.to_services, ingress) {
        l3 = true;
        let refs = to_services(services, &format!("{path}.toServices"), errs);
        peers.push(if deny {
            unjudged(
                "toServices in a deny rule: Cilium looks Services up for allow rules only, so \
                 what such a rule denies is not judged"
                    .to_string(),
            )
        } else if has_ports {
            unjudged(
                "toServices with toPorts: Cilium documents that the two must not be combined, \
                 and its versions differ in what such a rule allows"
                    .to_string(),
            )
        } else {
            BothPeer {
                allow: Peer::Services(refs),
                deny: TierPeer::Unjudged("toServices is not judged in a deny rule".into()),
            }
        });
    }
    let mut requires = false;
    for (field, value) in &r.other {
        let reason = match field.as_str() {
            "fromRequires" | "toRequires" => {
                requires = true;
                continue;
            }
            "fromNodes" | "toNodes" => "nodes by label (fromNodes/toNodes) are not judged",
            "fromGroups" | "toGroups" => "cloud provider groups are not read",
            "authentication" => {
                warnings.push(format!(
                    "{path}.authentication: mutual authentication is not judged; \
                     the rule is read without it"
                ));
                continue;
            }
            "icmps" => continue,
            _ => {
                warnings.push(format!(
                    "{path}.{field} is not a field of a Cilium rule; the API server drops it"
                ));
                continue;
            }
        };
        if value.is_null() {
            continue;
        }
        l3 = true;
        peers.push(unjudged(reason.to_string()));
    }
    if requires {
        // Required labels narrow every rule of every policy of the endpoint: not judged.
        l3 = true;
        peers = vec![unjudged(format!(
            "{own}Requires (labels every peer must also carry) is not judged"
        ))];
    }

    let mut ports = Vec::new();
    let mut l7 = Vec::new();
    for (i, pr) in r.to_ports.iter().flatten().enumerate() {
        let field = format!("{path}.toPorts[{i}]");
        let mut these = Vec::new();
        for (j, pp) in pr.ports.iter().flatten().enumerate() {
            these.extend(port(pp, &format!("{field}.ports[{j}]"), errs));
        }
        if pr.ports.as_ref().is_none_or(|p| p.is_empty()) {
            these.extend(Protocol::ALL.map(|protocol| PortSpec {
                protocol,
                port: PortMatch::Any,
            }));
        }
        if let Some(rules) = &pr.rules {
            if deny {
                errs.push(
                    &format!("{field}.rules"),
                    "L7 rules cannot be part of a deny rule",
                );
            } else if let Some(text) = l7_text(rules) {
                let on: Vec<String> = these.iter().map(|p| p.to_string()).collect();
                l7.push(format!("on {}: {text}", on.join(", ")));
            }
        }
        for key in pr.other.keys() {
            warnings.push(format!(
                "{field}.{key}: TLS and listener settings are not judged"
            ));
        }
        ports.extend(these);
    }
    if r.icmps.is_some() && !has_ports {
        warnings.push(format!(
            "{path}.icmps: ICMP is not judged; for TCP, UDP and SCTP the rule admits nothing"
        ));
        return (errs.0.len() == before).then_some(CompiledRule {
            peers: Vec::new(),
            ports: Vec::new(),
            l7: None,
            matches_nothing: true,
        });
    }
    if errs.0.len() > before {
        return None;
    }
    Some(CompiledRule {
        peers,
        ports,
        l7: (!l7.is_empty()).then(|| l7.join("; ")),
        matches_nothing: !l3 && !has_ports,
    })
}

/// The entries of `toServices`, each a Service by name or Services by label.
fn to_services(list: &[ToService], path: &str, errs: &mut Errors) -> Vec<ServiceRef> {
    let namespace = |ns: &Option<String>| ns.clone().filter(|n| !n.is_empty());
    let mut refs = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let field = format!("{path}[{i}]");
        match (&entry.k8s_service, &entry.k8s_service_selector) {
            (Some(by_name), None) => match by_name.service_name.as_deref() {
                Some(name) if !name.is_empty() => refs.push(ServiceRef {
                    namespace: namespace(&by_name.namespace),
                    by: ServiceBy::Name(name.to_string()),
                }),
                _ => errs.push(&format!("{field}.k8sService.serviceName"), "is required"),
            },
            (None, Some(by_labels)) => {
                let at = format!("{field}.k8sServiceSelector.selector");
                let Some(sel) = &by_labels.selector else {
                    errs.push(&at, "is required");
                    continue;
                };
                refs.push(ServiceRef {
                    namespace: namespace(&by_labels.namespace),
                    by: ServiceBy::Labels(plain_selector(sel, &at, errs)),
                });
            }
            _ => errs.push(
                &field,
                "exactly one of k8sService or k8sServiceSelector must be set",
            ),
        }
    }
    refs
}

fn outside(block: IpBlock) -> BothPeer {
    BothPeer {
        allow: Peer::Outside(block.clone()),
        deny: TierPeer::Outside(block),
    }
}

/// A Cilium CIDR: a prefix, or one address.
fn cidr(text: &str, except: &[String], path: &str, errs: &mut Errors) -> Option<IpBlock> {
    let one = |t: &str| -> Result<IpNet, String> {
        match t.parse::<std::net::IpAddr>() {
            Ok(ip) => Ok(IpNet::from(ip)),
            Err(_) => parse_cidr(t),
        }
    };
    let net = match one(text) {
        Ok(n) => n,
        Err(e) => {
            errs.push(&format!("{path}.cidr"), e);
            return None;
        }
    };
    let mut out = Vec::new();
    for (i, e) in except.iter().enumerate() {
        match one(e) {
            Ok(x) if net.contains(&x) => out.push(x),
            Ok(_) => errs.push(
                &format!("{path}.except[{i}]"),
                format!("{e} is not within {net}"),
            ),
            Err(m) => errs.push(&format!("{path}.except[{i}]"), m),
        }
    }
    Some(IpBlock {
        cidr: net,
        except: out,
    })
}

/// One `toPorts[].ports[]` entry: `port` a number (0 or absent: every port), a range with
/// `endPort`, or a container port name; `protocol` TCP, UDP, SCTP or ANY (the default).
fn port(pp: &PortProtocol, path: &str, errs: &mut Errors) -> Vec<PortSpec> {
    let protocols: Vec<Protocol> = match pp.protocol.as_deref() {
        None | Some("ANY") => Protocol::ALL.to_vec(),
        Some(p) => match Protocol::parse(p).filter(|_| p == p.to_ascii_uppercase()) {
            Some(proto) => vec![proto],
            None if matches!(p, "ICMP" | "ICMPv6" | "VRRP" | "IGMP") => {
                // Protocols without ports: nothing here for TCP, UDP and SCTP flows.
                return Vec::new();
            }
            None => {
                errs.push(
                    &format!("{path}.protocol"),
                    format!("unsupported value {p:?}: must be TCP, UDP, SCTP, ICMP, ICMPv6, VRRP, IGMP or ANY"),
                );
                return Vec::new();
            }
        },
    };
    let text = match &pp.port {
        None => String::new(),
        Some(Value::String(s)) => s.clone(),
        Some(Value::Number(n)) => n.to_string(),
        Some(other) => {
            errs.push(
                &format!("{path}.port"),
                format!("must be a string (a number or a port name), not {other}"),
            );
            return Vec::new();
        }
    };
    let matched = if text.is_empty() || text == "0" {
        if pp.end_port.is_some_and(|e| e != 0) {
            errs.push(&format!("{path}.endPort"), "needs a port");
            return Vec::new();
        }
        PortMatch::Any
    } else if let Ok(n) = text.parse::<u32>() {
        let Ok(from) = u16::try_from(n) else {
            errs.push(
                &format!("{path}.port"),
                format!("{n} is out of range: must be between 0 and 65535"),
            );
            return Vec::new();
        };
        let to = match pp.end_port {
            None | Some(0) => from,
            Some(e) => match u16::try_from(e) {
                Ok(e) if e >= from => e,
                _ => {
                    errs.push(
                        &format!("{path}.endPort"),
                        format!("{e} must be between port ({from}) and 65535"),
                    );
                    return Vec::new();
                }
            },
        };
        PortMatch::Range { from, to }
    } else {
        let name = text.to_ascii_lowercase();
        if let Err(e) = validate_port_name(&name) {
            errs.push(&format!("{path}.port"), format!("{text:?}: {e}"));
            return Vec::new();
        }
        if pp.end_port.is_some_and(|e| e != 0) {
            errs.push(
                &format!("{path}.endPort"),
                "cannot be used with a named port",
            );
            return Vec::new();
        }
        PortMatch::Named { name }
    };
    protocols
        .into_iter()
        .map(|protocol| PortSpec {
            protocol,
            port: matched.clone(),
        })
        .collect()
}

/// The L7 rules in words: `HTTP GET /api/.*, POST /api/users`, `DNS *.example.com`.
fn l7_text(rules: &L7Rules) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(http) = &rules.http {
        let each: Vec<String> = http
            .iter()
            .map(|h| {
                let mut s = format!(
                    "{} {}",
                    h.method.as_deref().unwrap_or("any method"),
                    h.path.as_deref().unwrap_or("any path")
                );
                if let Some(host) = &h.host {
                    s.push_str(&format!(" host {host}"));
                }
                if h.headers.is_some() {
                    s.push_str(" with headers");
                }
                s
            })
            .collect();
        parts.push(if each.is_empty() {
            "HTTP (any request)".to_string()
        } else {
            format!("HTTP {}", each.join(", "))
        });
    }
    if let Some(dns) = &rules.dns {
        let each: Vec<&str> = dns
            .iter()
            .filter_map(|d| d.match_name.as_deref().or(d.match_pattern.as_deref()))
            .collect();
        parts.push(format!("DNS {}", each.join(", ")));
    }
    if let Some(kafka) = &rules.kafka {
        parts.push(format!("Kafka ({} rules)", kafka.len()));
    }
    if let Some(proto) = &rules.l7proto {
        parts.push(format!(
            "{proto} ({} rules)",
            rules.l7.as_ref().map_or(0, Vec::len)
        ));
    }
    (!parts.is_empty()).then(|| parts.join("; "))
}

/// Whether Cilium's default identity-relevant labels leave a pod label out of the endpoint's
/// security identity ("Limiting Identity-Relevant Labels", operations/performance/scalability):
/// keys beginning `io.kubernetes`, `kubernetes.io` or `k8s.io`, holding `beta.kubernetes.io`,
/// the StatefulSet pod name and index, the indexed Job's completion index, the pod template
/// hash and generation, the controller revision hash, `annotation` and `etcd_node`; but
/// `app.kubernetes.io` ones are kept.
fn left_out_of_identity(key: &str) -> bool {
    const LEFT_OUT: [&str; 11] = [
        "io.kubernetes",
        "kubernetes.io",
        "k8s.io",
        "statefulset.kubernetes.io/pod-name",
        "apps.kubernetes.io/pod-index",
        "batch.kubernetes.io/job-completion-index",
        "pod-template-generation",
        "pod-template-hash",
        "controller-revision-hash",
        "annotation",
        "etcd_node",
    ];
    !key.starts_with("app.kubernetes.io")
        && (key.contains("beta.kubernetes.io") || LEFT_OUT.iter().any(|p| key.starts_with(p)))
}

/// A pod selector as Cilium matches it: against the labels of the endpoint's security
/// identity, which by default leaves some out ([`left_out_of_identity`]). A requirement on
/// such a label sees it absent: its key is marked so (no pod has the marked key), and a
/// warning says it.
fn identity_view(selector: Selector, path: &str, warnings: &mut Vec<String>) -> Selector {
    if !selector
        .requirements()
        .iter()
        .any(|r| left_out_of_identity(&r.key))
    {
        return selector;
    }
    let requirements = selector
        .requirements()
        .iter()
        .map(|r| {
            if !left_out_of_identity(&r.key) {
                return r.clone();
            }
            warnings.push(format!(
                "{path}: {} is not among the labels Cilium puts in security identities by \
                 default (identity-relevant labels), so this selector sees every pod without it",
                r.key
            ));
            Requirement {
                key: format!("{} (not in Cilium identities)", r.key),
                op: r.op.clone(),
            }
        })
        .collect();
    Selector::new(requirements)
}

/// A label key of a Cilium selector without its source prefix (`k8s:`, `any:`); another
/// source is refused, naming `field`.
fn unprefixed<'k>(key: &'k str, field: &str, errs: &mut Errors) -> Option<&'k str> {
    let key = key
        .strip_prefix("k8s:")
        .or_else(|| key.strip_prefix("any:"))
        .unwrap_or(key);
    if key.contains(':') {
        errs.push(
            field,
            format!("{key:?}: label sources other than k8s: and any: are not read"),
        );
        return None;
    }
    Some(key)
}

/// A selector's requirements in two parts, as `place` puts each key (`Some((true, key))`: the
/// second part, under `key`; `Some((false, key))`: the first; `None`: left out, an error
/// said), with the field each came from.
fn split_keys(
    sel: &LabelSelector,
    path: &str,
    errs: &mut Errors,
    mut place: impl FnMut(&str, &str, &mut Errors) -> Option<(bool, String)>,
) -> [LabelSelector; 2] {
    let mut parts = [LabelSelector::default(), LabelSelector::default()];
    for (key, value) in sel.match_labels.iter().flatten() {
        let field = format!("{path}.matchLabels[{key}]");
        if let Some((second, key)) = place(key, &field, errs) {
            parts[usize::from(second)]
                .match_labels
                .get_or_insert_with(Default::default)
                .insert(key, value.clone());
        }
    }
    for (i, req) in sel.match_expressions.iter().flatten().enumerate() {
        let field = format!("{path}.matchExpressions[{i}].key");
        if let Some((second, key)) = place(&req.key, &field, errs) {
            parts[usize::from(second)]
                .match_expressions
                .get_or_insert_with(Default::default)
                .push(LabelSelectorRequirement { key, ..req.clone() });
        }
    }
    parts
}

/// A selector on an object's own labels (a host policy's on a node's, `k8sServiceSelector`'s
/// on a Service's); source prefixes `k8s:` and `any:` are dropped.
fn plain_selector(sel: &LabelSelector, path: &str, errs: &mut Errors) -> Selector {
    let [plain, _] = split_keys(sel, path, errs, |key, field, errs| {
        unprefixed(key, field, errs).map(|key| (false, key.to_string()))
    });
    compile_selector(&plain, path, errs)
}

/// Splits an endpoint selector into its namespace part and its pod part; source prefixes
/// `k8s:` and `any:` are dropped. The namespace part is `None` for exactly the policy's own
/// namespace (a namespaced policy whose selector names none); a clusterwide policy's is
/// always `Some` (`{}`: every namespace).
fn split_selector(
    sel: &LabelSelector,
    path: &str,
    scope: Scope,
    errs: &mut Errors,
    warnings: &mut Vec<String>,
) -> (Option<Selector>, Selector) {
    let mut named_namespace = false;
    let [pods, namespaces] = split_keys(sel, path, errs, |key, field, errs| {
        let key = unprefixed(key, field, errs)?;
        if key == POD_NAMESPACE {
            named_namespace = true;
            return Some((true, NAMESPACE_NAME_LABEL.to_string()));
        }
        if let Some(rest) = key.strip_prefix(NAMESPACE_LABELS) {
            return Some((true, rest.to_string()));
        }
        if key.starts_with("io.cilium.k8s.policy.") && key != SERVICE_ACCOUNT_LABEL {
            errs.push(
                field,
                format!("{key:?}: cluster names are not in the inventory, so this selector cannot be judged"),
            );
            return None;
        }
        Some((false, key.to_string()))
    });
    let pod_selector = identity_view(compile_selector(&pods, path, errs), path, warnings);
    let mut ns_selector = compile_selector(&namespaces, path, errs);
    if !scope.clusterwide && !named_namespace {
        // A namespaced policy's selector stays in its namespace unless it names one.
        let mut reqs = ns_selector.requirements().to_vec();
        reqs.extend(
            own_namespace(scope.namespace)
                .requirements()
                .iter()
                .cloned(),
        );
        ns_selector = Selector::new(reqs);
        if ns_selector == own_namespace(scope.namespace) {
            return (None, pod_selector);
        }
    }
    (Some(ns_selector), pod_selector)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A policy of one rule set.
    fn compile(yaml: &str) -> Result<CiliumCompiled, FieldErrors> {
        let value: serde_yaml::Value = serde_yaml::from_str(yaml).expect("yaml");
        let kind = value["kind"].as_str().unwrap_or_default().to_string();
        let object: CiliumObject = serde_yaml::from_value(value).expect("shape");
        let mut parts = compile_cilium_policy(
            &object,
            kind == "CiliumClusterwideNetworkPolicy",
            "prod",
            Origin::default(),
        )?;
        assert_eq!(parts.len(), 1, "one rule set");
        Ok(parts.remove(0))
    }

    #[test]
    fn endpoints_stay_in_the_policy_namespace_unless_they_name_one() {
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n  - fromEndpoints:\n    - matchLabels: {app: web}\n    - matchLabels: {k8s:io.kubernetes.pod.namespace: dev, app: shell}\n",
        )
        .expect("valid");
        let rules = c.allow.ingress.expect("ingress");
        assert_eq!(
            rules[0].peers[0],
            Peer::Pods {
                pods: Selector::from_match_labels([("app", "web")]),
                namespaces: NamespaceScope::PolicyNamespace,
            }
        );
        assert_eq!(
            rules[0].peers[1],
            Peer::Pods {
                pods: Selector::from_match_labels([("app", "shell")]),
                namespaces: NamespaceScope::Selector(Selector::from_match_labels([(
                    NAMESPACE_NAME_LABEL,
                    "dev"
                )])),
            }
        );
        assert!(c.deny.is_none());
        assert_eq!(c.allow.egress, None, "no egress section: egress is open");
    }

    #[test]
    fn an_empty_rule_isolates_and_admits_nothing() {
        // docs.cilium.io, Layer 3 policies, "Ingress/Egress Default Deny": `ingress: [{}]`.
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n  ingress:\n  - {}\n",
        )
        .expect("valid");
        assert_eq!(c.allow.ingress, Some(vec![]));
        assert!(c.allow.isolates(Direction::Ingress));
    }

    #[test]
    fn enable_default_deny_false_adds_allows_without_isolating() {
        let c = compile(
            "kind: CiliumClusterwideNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n  enableDefaultDeny: {egress: false}\n  egress:\n  - toEntities: [kube-apiserver]\n",
        )
        .expect("valid");
        assert!(!c.allow.isolates(Direction::Egress));
        assert_eq!(
            c.allow.egress.as_ref().expect("egress")[0].peers,
            vec![Peer::Entity(Entity::KubeApiserver)]
        );
        assert_eq!(c.allow.namespace, "");
    }

    #[test]
    fn deny_rules_become_a_cilium_tier_policy_and_isolate() {
        // docs.cilium.io, Deny Policies: deny takes precedence; a deny-only policy still
        // puts the endpoint in default deny (enableDefaultDeny defaults to true).
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {matchLabels: {app: db}}\n  ingressDeny:\n  - fromEntities: [world]\n    toPorts: [{ports: [{port: \"5432\", protocol: TCP}]}]\n",
        )
        .expect("valid");
        let deny = c.deny.expect("deny part");
        assert_eq!(deny.tier, Tier::Cilium);
        assert_eq!(deny.name, "prod/p");
        assert_eq!(deny.ingress[0].peers, vec![TierPeer::Entity(Entity::World)]);
        assert_eq!(c.allow.ingress, Some(vec![]));
    }

    #[test]
    fn ports_any_protocol_ranges_and_names() {
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n  egress:\n  - toPorts:\n    - ports:\n      - {port: \"53\"}\n      - {port: \"8000\", endPort: 8100, protocol: TCP}\n      - {port: http, protocol: TCP}\n",
        )
        .expect("valid");
        let rule = &c.allow.egress.expect("egress")[0];
        assert!(rule.peers.is_empty(), "ports only: every peer");
        assert_eq!(rule.ports.len(), 5);
        assert_eq!(
            rule.ports[3].port,
            PortMatch::Range {
                from: 8000,
                to: 8100
            }
        );
        assert_eq!(
            rule.ports[4].port,
            PortMatch::Named {
                name: "http".into()
            }
        );
    }

    #[test]
    fn l7_rules_are_kept_in_words() {
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {matchLabels: {app: backend}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: frontend}}]\n    toPorts:\n    - ports: [{port: \"8080\", protocol: TCP}]\n      rules:\n        http:\n        - {method: GET, path: \"/api/v1/.*\"}\n        - {method: POST, path: /api/v1/orders}\n",
        )
        .expect("valid");
        let part = c.allow.cilium.expect("cilium");
        assert_eq!(
            part.l7_of(Direction::Ingress, 0),
            Some("on TCP/8080: HTTP GET /api/v1/.*, POST /api/v1/orders")
        );
    }

    #[test]
    fn bad_input_names_the_field() {
        let err = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n  egress:\n  - toEntities: [wrld]\n    toCIDR: [10.0.0.0/33]\n    fromEndpoints: [{}]\n    toPorts: [{ports: [{port: \"70000\"}]}]\n",
        )
        .expect_err("invalid");
        let paths: Vec<&str> = err.0.iter().map(|e| e.path.as_str()).collect();
        assert_eq!(
            paths,
            vec![
                "spec.egress[0].fromEndpoints",
                "spec.egress[0].toEntities[0]",
                "spec.egress[0].toCIDR[0].cidr",
                "spec.egress[0].toPorts[0].ports[0].port",
            ],
            "{err}"
        );
    }

    #[test]
    fn services_names_and_what_cannot_be_judged_are_peers_of_their_own() {
        let c = compile(
            "kind: CiliumNetworkPolicy\nmetadata: {name: p}\nspec:\n  endpointSelector: {}\n  egress:\n  - toServices: [{k8sService: {serviceName: db, namespace: prod}}, {k8sServiceSelector: {selector: {matchLabels: {k8s:kind: external}}}}]\n  - toFQDNs: [{matchName: api.stripe.com}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n  - toServices: [{k8sService: {serviceName: db}}]\n    toPorts: [{ports: [{port: \"443\", protocol: TCP}]}]\n",
        )
        .expect("valid");
        let rules = c.allow.egress.expect("egress");
        assert_eq!(
            rules[0].peers,
            vec![Peer::Services(vec![
                ServiceRef {
                    namespace: Some("prod".into()),
                    by: ServiceBy::Name("db".into()),
                },
                ServiceRef {
                    namespace: None,
                    by: ServiceBy::Labels(Selector::from_match_labels([("kind", "external")])),
                },
            ])]
        );
        assert_eq!(
            rules[1].peers,
            vec![Peer::Domains(vec!["api.stripe.com".into()])]
        );
        assert!(matches!(&rules[2].peers[..], [Peer::Unjudged(why)] if why.contains("toPorts")));
    }
}
