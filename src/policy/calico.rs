//! Calico's own policies (projectcalico.org/v3 NetworkPolicy and GlobalNetworkPolicy),
//! validated and compiled to what the engine can say of them today: which pods they select.
//! Their rules (tiers, order, Allow/Deny/Pass/Log, selectors, nets, ports) are read, checked
//! and shown in words, but not judged: a side of a flow whose pod a Calico policy selects
//! is UNKNOWN, naming the policy, never a verdict that leaves it out.
//!
//! The compiled form is a tier policy of the Calico tier, which comes first (Calico's tiers
//! may precede the admin tier): its subject is the policy's selector, its one rule per
//! direction an unjudged peer.
//!
//! Pure: no I/O.

use ipnet::IpNet;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Deserialize;
use serde_json::Value;

use super::calico_selector::CalicoSelector;
use super::compile::{check_metadata, parse_cidr, Errors, NameRule};
use super::error::FieldErrors;
use super::model::Origin;
use super::tiers::{Action, Subject, Tier, TierPeer, TierPolicy, TierRule};

pub const API_VERSION: &str = "projectcalico.org/v3";

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
    let mut warnings = Vec::new();
    if spec.service_account_selector.is_some() {
        warnings.push(
            "spec.serviceAccountSelector: service accounts are not in the inventory".to_string(),
        );
    }
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
    let types: Vec<&str> = match &spec.types {
        Some(t) => {
            for (i, ty) in t.iter().enumerate() {
                if ty != "Ingress" && ty != "Egress" {
                    errs.push(
                        &format!("spec.types[{i}]"),
                        format!("unsupported value {ty:?}: must be Ingress or Egress"),
                    );
                }
            }
            t.iter().map(String::as_str).collect()
        }
        // Calico's default: Ingress, and Egress when egress rules are given.
        None if spec.egress.is_empty() => vec!["Ingress"],
        None => vec!["Ingress", "Egress"],
    };
    let order = spec.order.map(|o| {
        if o.fract() == 0.0 && o.abs() < 1e15 {
            format!("{}", o as i64)
        } else {
            format!("{o}")
        }
    });
    let mut texts = Vec::new();
    for (field, rules) in [("ingress", &spec.ingress), ("egress", &spec.egress)] {
        for (i, r) in rules.iter().enumerate() {
            let path = format!("spec.{field}[{i}]");
            if let Some(text) = rule(r, &path, &mut errs) {
                texts.push(format!("{field}[{i}] {text}"));
            }
        }
    }
    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    let place = format!(
        "tier {tier}, order {}",
        order.as_deref().unwrap_or("none (last)")
    );
    let why = format!(
        "Calico's policies are not judged yet; this one ({place}) selects the pod, and its \
         rules are listed on the policy"
    );
    let unjudged = |on: bool| -> Vec<TierRule> {
        if !on {
            return Vec::new();
        }
        vec![TierRule {
            name: String::new(),
            action: Action::Deny,
            peers: vec![TierPeer::Unjudged(why.clone())],
            ports: None,
        }]
    };
    warnings.push(format!("not judged: {place}"));
    warnings.extend(texts.into_iter().map(|t| format!("not judged: {t}")));
    Ok(TierPolicy {
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
        },
        ingress: unjudged(types.contains(&"Ingress")),
        egress: unjudged(types.contains(&"Egress")),
        warnings,
        origin,
    })
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

/// One rule, checked, in words: `Allow TCP from selector app == 'web' to ports 80`.
fn rule(r: &CalicoRule, path: &str, errs: &mut Errors) -> Option<String> {
    let before = errs.0.len();
    let action = r.action.as_deref().unwrap_or("");
    if !["Allow", "Deny", "Log", "Pass"].contains(&action) {
        errs.push(
            &format!("{path}.action"),
            format!("unsupported value {action:?}: must be Allow, Deny, Log or Pass"),
        );
    }
    let protocol = r.protocol.as_ref().map(|p| match p {
        Value::String(s) => s.clone(),
        other => other.to_string(),
    });
    if let Some(p) = &protocol {
        let known = ["TCP", "UDP", "ICMP", "ICMPv6", "SCTP", "UDPLite"];
        if !known.contains(&p.as_str()) && p.parse::<u8>().is_err() {
            errs.push(
                &format!("{path}.protocol"),
                format!("unsupported value {p:?}: must be TCP, UDP, ICMP, ICMPv6, SCTP, UDPLite or 0-255"),
            );
        }
    }
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
                let shown: Vec<String> = list
                    .iter()
                    .map(|p| p.as_str().map_or_else(|| p.to_string(), str::to_string))
                    .collect();
                words.push(format!("{name} {}", shown.join(", ")));
            }
        }
        if e.service_accounts.is_some() {
            words.push("service accounts".into());
        }
        if e.services.is_some() {
            words.push("a Service".into());
        }
        if !words.is_empty() {
            parts.push(format!("{side} {}", words.join(" and ")));
        }
    }
    if r.http.is_some() {
        parts.push("with HTTP match (L7)".into());
    }
    (errs.0.len() == before).then(|| parts.join(" "))
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

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str, namespace: Option<&str>) -> Result<TierPolicy, FieldErrors> {
        let object: CalicoObject = serde_yaml::from_str(yaml).expect("shape");
        compile_calico_policy(&object, namespace, Origin::default())
    }

    #[test]
    fn a_policy_selects_by_its_selector_and_is_not_judged() {
        let p = compile(
            "metadata: {name: deny-db}\nspec:\n  order: 100\n  selector: app == 'database'\n  ingress:\n  - action: Deny\n    source: {selector: app == 'web'}\n",
            Some("prod"),
        )
        .unwrap();
        assert_eq!(p.tier, Tier::Calico);
        assert_eq!(p.key(), "projectcalico.org/NetworkPolicy/prod/deny-db");
        assert_eq!(p.ingress.len(), 1);
        assert!(p.egress.is_empty(), "types default to Ingress");
        assert!(
            p.warnings
                .iter()
                .any(|w| w == "not judged: ingress[0] Deny from selector app == 'web'"),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn bad_input_names_the_field_and_the_position() {
        let err = compile(
            "metadata: {name: x}\nspec:\n  selector: app = 'db'\n  egress:\n  - action: Accept\n    destination: {nets: [10.0.0.0/33], ports: ['90:80']}\n",
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
