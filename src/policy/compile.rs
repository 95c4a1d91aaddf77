//! Compiles Kubernetes API objects (k8s-openapi's plain data types) into the engine's model,
//! applying the API server's defaulting and validation for NetworkPolicy.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use ipnet::IpNet;
use k8s_openapi::api::networking::v1 as net;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

pub use super::error::FieldError;
use super::error::FieldErrors;
use super::model::{
    IpBlock, NamespaceScope, Origin, Peer, Policy, PortMatch, PortSpec, Protocol, Rule,
};
use super::selector::{
    validate_dns_label, validate_dns_subdomain, validate_key, validate_value, Operator,
    Requirement, Selector,
};

/// Collects field errors while walking an object, so that one run reports all of them.
#[derive(Default)]
pub(crate) struct Errors(pub(crate) Vec<FieldError>);

impl Errors {
    pub(crate) fn push(&mut self, path: &str, message: impl Into<String>) {
        self.0.push(FieldError {
            path: path.to_string(),
            message: message.into(),
        });
    }
}

/// How an object's name must look.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// Namespaces.
    DnsLabel,
    /// Pods, policies, nodes and most other objects.
    DnsSubdomain,
}

/// Checks metadata as the API server does: the name (required), the namespace (a DNS
/// label) and every label key and value. Errors name the field.
pub fn check_metadata(
    meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    rule: NameRule,
    errs: &mut Vec<FieldError>,
) {
    let mut push = |path: String, message: String| errs.push(FieldError { path, message });
    match meta.name.as_deref() {
        None | Some("") => push("metadata.name".into(), "is required".into()),
        Some(name) => {
            let checked = match rule {
                NameRule::DnsLabel => validate_dns_label(name),
                NameRule::DnsSubdomain => validate_dns_subdomain(name),
            };
            if let Err(e) = checked {
                push("metadata.name".into(), e);
            }
        }
    }
    if let Some(ns) = meta.namespace.as_deref().filter(|n| !n.is_empty()) {
        if let Err(e) = validate_dns_label(ns) {
            push("metadata.namespace".into(), e);
        }
    }
    for (key, value) in meta.labels.iter().flatten() {
        if let Err(e) = validate_key(key) {
            push(format!("metadata.labels[{key}]"), e);
        } else if let Err(e) = validate_value(value) {
            push(format!("metadata.labels[{key}]"), e);
        }
    }
}

/// Compiles one NetworkPolicy; `default_namespace` applies when metadata.namespace is absent.
pub fn compile_network_policy(
    np: &net::NetworkPolicy,
    default_namespace: &str,
    origin: Origin,
) -> Result<Policy, FieldErrors> {
    let mut errs = Errors::default();
    check_metadata(&np.metadata, NameRule::DnsSubdomain, &mut errs.0);
    let name = np.metadata.name.clone().unwrap_or_default();
    let namespace = np
        .metadata
        .namespace
        .clone()
        .unwrap_or_else(|| default_namespace.to_string());
    let Some(spec) = np.spec.as_ref() else {
        errs.push("spec", "is required");
        return Err(FieldErrors(errs.0));
    };

    let pod_selector = match &spec.pod_selector {
        Some(sel) => compile_selector(sel, "spec.podSelector", &mut errs),
        None => Selector::everything(),
    };

    // Defaulting: policyTypes absent means Ingress, plus Egress when an egress section exists.
    let (has_ingress_type, has_egress_type) = match &spec.policy_types {
        None => (true, spec.egress.is_some()),
        Some(types) => {
            let mut ingress = false;
            let mut egress = false;
            for (i, t) in types.iter().enumerate() {
                let path = format!("spec.policyTypes[{i}]");
                match t.as_str() {
                    "Ingress" if !ingress => ingress = true,
                    "Egress" if !egress => egress = true,
                    "Ingress" | "Egress" => errs.push(&path, format!("duplicate value {t:?}")),
                    _ => errs.push(
                        &path,
                        format!("unsupported value {t:?}: must be \"Ingress\" or \"Egress\""),
                    ),
                }
            }
            (ingress, egress)
        }
    };

    let ingress_rules: Vec<Rule> = spec
        .ingress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("spec.ingress[{i}]");
            compile_rule(
                r.from.as_deref(),
                r.ports.as_deref(),
                &path,
                "from",
                &mut errs,
            )
        })
        .collect();
    let egress_rules: Vec<Rule> = spec
        .egress
        .iter()
        .flatten()
        .enumerate()
        .map(|(i, r)| {
            let path = format!("spec.egress[{i}]");
            compile_rule(r.to.as_deref(), r.ports.as_deref(), &path, "to", &mut errs)
        })
        .collect();

    let mut warnings = Vec::new();
    if !has_ingress_type && spec.ingress.as_ref().is_some_and(|r| !r.is_empty()) {
        warnings.push(
            "spec.ingress has rules but policyTypes lacks Ingress: the rules are ignored".into(),
        );
    }
    if !has_egress_type && spec.egress.as_ref().is_some_and(|r| !r.is_empty()) {
        warnings.push(
            "spec.egress has rules but policyTypes lacks Egress: the rules are ignored".into(),
        );
    }
    for (dir, rules) in [("ingress", &ingress_rules), ("egress", &egress_rules)] {
        for (i, rule) in rules.iter().enumerate() {
            if looks_like_or_instead_of_and(&rule.peers) {
                warnings.push(format!(
                    "spec.{dir}[{i}]: a podSelector and a namespaceSelector stand in separate list \
                     entries, which means OR; put them in one entry to mean AND"
                ));
            }
        }
    }

    if !errs.0.is_empty() {
        return Err(FieldErrors(errs.0));
    }
    Ok(Policy {
        namespace,
        name,
        pod_selector,
        ingress: has_ingress_type.then_some(ingress_rules),
        egress: has_egress_type.then_some(egress_rules),
        warnings,
        origin,
        manifest: manifest_yaml(np),
        cilium: None,
    })
}

/// The policy as its author would read it: without server-side bookkeeping.
fn manifest_yaml(np: &net::NetworkPolicy) -> Option<super::model::Manifest> {
    let mut np = np.clone();
    np.metadata.managed_fields = None;
    Some(super::model::Manifest(std::sync::Arc::new(np)))
}

/// A peer list holding a bare podSelector entry (own namespace) next to a bare
/// namespaceSelector entry: the classic OR-where-AND-was-meant mistake.
fn looks_like_or_instead_of_and(peers: &[Peer]) -> bool {
    let bare_pods = peers.iter().any(|p| {
        matches!(p, Peer::Pods { pods, namespaces: NamespaceScope::PolicyNamespace } if !pods.is_everything())
    });
    let bare_namespaces = peers.iter().any(|p| {
        matches!(p, Peer::Pods { pods, namespaces: NamespaceScope::Selector(ns) } if pods.is_everything() && !ns.is_everything())
    });
    bare_pods && bare_namespaces
}

fn compile_rule(
    peers: Option<&[net::NetworkPolicyPeer]>,
    ports: Option<&[net::NetworkPolicyPort]>,
    path: &str,
    peer_field: &str,
    errs: &mut Errors,
) -> Rule {
    let peers = peers
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| compile_peer(p, &format!("{path}.{peer_field}[{i}]"), errs))
        .collect();
    let ports = ports
        .unwrap_or_default()
        .iter()
        .enumerate()
        .filter_map(|(i, p)| compile_port(p, &format!("{path}.ports[{i}]"), errs))
        .collect();
    Rule { peers, ports }
}

fn compile_peer(peer: &net::NetworkPolicyPeer, path: &str, errs: &mut Errors) -> Option<Peer> {
    match (&peer.ip_block, &peer.pod_selector, &peer.namespace_selector) {
        (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
            errs.push(
                path,
                "ipBlock cannot be combined with podSelector or namespaceSelector in one peer; \
                 use separate list entries",
            );
            None
        }
        (Some(block), None, None) => {
            compile_ip_block(block, &format!("{path}.ipBlock"), errs).map(Peer::IpBlock)
        }
        (None, None, None) => {
            errs.push(
                path,
                "must specify one of podSelector, namespaceSelector or ipBlock",
            );
            None
        }
        (None, pods, namespaces) => {
            let pods = match pods {
                Some(s) => compile_selector(s, &format!("{path}.podSelector"), errs),
                None => Selector::everything(),
            };
            let namespaces = match namespaces {
                Some(s) => NamespaceScope::Selector(compile_selector(
                    s,
                    &format!("{path}.namespaceSelector"),
                    errs,
                )),
                None => NamespaceScope::PolicyNamespace,
            };
            Some(Peer::Pods { pods, namespaces })
        }
    }
}

fn compile_ip_block(block: &net::IPBlock, path: &str, errs: &mut Errors) -> Option<IpBlock> {
    let cidr = match parse_cidr(&block.cidr) {
        Ok(c) => c,
        Err(e) => {
            errs.push(&format!("{path}.cidr"), e);
            return None;
        }
    };
    let mut except = Vec::new();
    for (i, e) in block.except.iter().flatten().enumerate() {
        let epath = format!("{path}.except[{i}]");
        match parse_cidr(e) {
            Err(msg) => errs.push(&epath, msg),
            Ok(net) => {
                let same_family = matches!(
                    (net, cidr),
                    (IpNet::V4(_), IpNet::V4(_)) | (IpNet::V6(_), IpNet::V6(_))
                );
                if !same_family {
                    errs.push(
                        &epath,
                        format!("{e:?} is not of the same address family as cidr {cidr}"),
                    );
                } else if !(cidr.contains(&net) && net.prefix_len() > cidr.prefix_len()) {
                    errs.push(
                        &epath,
                        format!("{e:?} must be a strict subset of cidr {cidr}"),
                    );
                } else {
                    except.push(net);
                }
            }
        }
    }
    Some(IpBlock { cidr, except })
}

/// Parses a CIDR as the API does: a prefix length is required; host bits are cleared.
pub fn parse_cidr(text: &str) -> Result<IpNet, String> {
    if !text.contains('/') {
        return Err(format!(
            "invalid CIDR {text:?}: a prefix length is required (for one address: {text}/32 or /128)"
        ));
    }
    text.trim()
        .parse::<IpNet>()
        .map(|n| n.trunc())
        .map_err(|_| format!("invalid CIDR {text:?}"))
}

fn compile_port(port: &net::NetworkPolicyPort, path: &str, errs: &mut Errors) -> Option<PortSpec> {
    // Defaulting: protocol absent means TCP.
    let protocol = match port.protocol.as_deref() {
        None => Protocol::Tcp,
        Some(p) => match p {
            "TCP" => Protocol::Tcp,
            "UDP" => Protocol::Udp,
            "SCTP" => Protocol::Sctp,
            other => {
                errs.push(
                    &format!("{path}.protocol"),
                    format!("unsupported value {other:?}: must be \"TCP\", \"UDP\" or \"SCTP\""),
                );
                return None;
            }
        },
    };
    let matcher = match (&port.port, port.end_port) {
        (None, None) => PortMatch::Any,
        (None, Some(_)) => {
            errs.push(
                &format!("{path}.endPort"),
                "may not be specified when port is not specified",
            );
            return None;
        }
        (Some(IntOrString::Int(n)), end) => {
            let Some(from) = valid_port_number(*n) else {
                errs.push(
                    &format!("{path}.port"),
                    format!("{n} is not a valid port number: must be between 1 and 65535"),
                );
                return None;
            };
            let to = match end {
                None => from,
                Some(e) => match valid_port_number(e) {
                    Some(to) if to >= from => to,
                    Some(_) => {
                        errs.push(
                            &format!("{path}.endPort"),
                            format!("{e} must be greater than or equal to port {from}"),
                        );
                        return None;
                    }
                    None => {
                        errs.push(
                            &format!("{path}.endPort"),
                            format!("{e} is not a valid port number: must be between 1 and 65535"),
                        );
                        return None;
                    }
                },
            };
            PortMatch::Range { from, to }
        }
        (Some(IntOrString::String(s)), end) => {
            if end.is_some() {
                errs.push(
                    &format!("{path}.endPort"),
                    format!("may not be specified when port is the named port {s:?}"),
                );
                return None;
            }
            // YAML authors often quote numbers; the API rejects "8080" as a port name.
            if let Err(msg) = validate_port_name(s) {
                errs.push(&format!("{path}.port"), msg);
                return None;
            }
            PortMatch::Named { name: s.clone() }
        }
    };
    Some(PortSpec {
        protocol,
        port: matcher,
    })
}

pub(crate) fn valid_port_number(n: i32) -> Option<u16> {
    u16::try_from(n).ok().filter(|p| *p != 0)
}

/// An IANA service name as the API requires for named ports: at most 15 characters of
/// lowercase letters, digits and '-', at least one letter, no leading, trailing or double '-'.
pub fn validate_port_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 15
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && name.bytes().any(|b| b.is_ascii_lowercase())
        && !name.starts_with('-')
        && !name.ends_with('-')
        && !name.contains("--");
    if ok {
        Ok(())
    } else if name.bytes().all(|b| b.is_ascii_digit()) {
        Err(format!(
            "{name:?} is a string, not a number: write the port number without quotes"
        ))
    } else {
        Err(format!(
            "{name:?} is not a valid port name: at most 15 lowercase letters, digits and '-', \
             with at least one letter"
        ))
    }
}

pub(crate) fn compile_selector(sel: &LabelSelector, path: &str, errs: &mut Errors) -> Selector {
    let mut requirements = Vec::new();
    for (key, value) in sel.match_labels.iter().flatten() {
        let kpath = format!("{path}.matchLabels[{key}]");
        if let Err(e) = validate_key(key) {
            errs.push(&kpath, e);
        }
        if let Err(e) = validate_value(value) {
            errs.push(&kpath, e);
        }
        requirements.push(Requirement {
            key: key.clone(),
            op: Operator::In(vec![value.clone()]),
        });
    }
    for (i, expr) in sel.match_expressions.iter().flatten().enumerate() {
        let epath = format!("{path}.matchExpressions[{i}]");
        if let Err(e) = validate_key(&expr.key) {
            errs.push(&format!("{epath}.key"), e);
        }
        let values = expr.values.clone().unwrap_or_default();
        for (j, v) in values.iter().enumerate() {
            if let Err(e) = validate_value(v) {
                errs.push(&format!("{epath}.values[{j}]"), e);
            }
        }
        let op = match expr.operator.as_str() {
            "In" | "NotIn" if values.is_empty() => {
                errs.push(
                    &format!("{epath}.values"),
                    format!("must be specified when operator is {}", expr.operator),
                );
                continue;
            }
            "Exists" | "DoesNotExist" if !values.is_empty() => {
                errs.push(
                    &format!("{epath}.values"),
                    format!("may not be specified when operator is {}", expr.operator),
                );
                continue;
            }
            "In" => Operator::In(values),
            "NotIn" => Operator::NotIn(values),
            "Exists" => Operator::Exists,
            "DoesNotExist" => Operator::DoesNotExist,
            other => {
                errs.push(
                    &format!("{epath}.operator"),
                    format!(
                        "unknown operator {other:?}: must be In, NotIn, Exists or DoesNotExist"
                    ),
                );
                continue;
            }
        };
        requirements.push(Requirement {
            key: expr.key.clone(),
            op,
        });
    }
    Selector::new(requirements)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn compile(yaml: &str) -> Result<Policy, FieldErrors> {
        let np: net::NetworkPolicy = serde_yaml::from_str(yaml).expect("test YAML parses");
        compile_network_policy(&np, "default", Origin::default())
    }

    fn errors(yaml: &str) -> Vec<String> {
        compile(yaml)
            .expect_err("policy should be rejected")
            .0
            .iter()
            .map(|e| e.to_string())
            .collect()
    }

    const HEAD: &str = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: p, namespace: ns}\n";

    #[test]
    fn policy_types_default_to_ingress_plus_egress_when_egress_present() {
        let p = compile(&format!("{HEAD}spec: {{podSelector: {{}}}}")).unwrap();
        assert_eq!(p.ingress, Some(vec![]));
        assert_eq!(p.egress, None);

        let p = compile(&format!(
            "{HEAD}spec: {{podSelector: {{}}, egress: [{{}}]}}"
        ))
        .unwrap();
        assert_eq!(p.ingress, Some(vec![]));
        assert_eq!(p.egress, Some(vec![Rule::default()]));

        let p = compile(&format!(
            "{HEAD}spec: {{podSelector: {{}}, policyTypes: [Egress], ingress: [{{}}]}}"
        ))
        .unwrap();
        assert_eq!(
            p.ingress, None,
            "explicit policyTypes wins over present sections"
        );
        assert_eq!(p.egress, Some(vec![]));
        assert_eq!(p.warnings.len(), 1);
    }

    #[test]
    fn absent_pod_selector_selects_all() {
        let p = compile(&format!("{HEAD}spec: {{}}")).unwrap();
        assert!(p.pod_selector.is_everything());
    }

    #[test]
    fn protocol_defaults_to_tcp_and_ports_compile() {
        let p = compile(&format!(
            "{HEAD}spec:\n  ingress:\n  - ports:\n    - port: 80\n    - port: http\n      protocol: UDP\n    - port: 1000\n      endPort: 2000\n      protocol: SCTP\n    - protocol: UDP\n"
        ))
        .unwrap();
        let ports = &p.ingress.unwrap()[0].ports;
        assert_eq!(
            ports,
            &vec![
                PortSpec {
                    protocol: Protocol::Tcp,
                    port: PortMatch::Range { from: 80, to: 80 }
                },
                PortSpec {
                    protocol: Protocol::Udp,
                    port: PortMatch::Named {
                        name: "http".into()
                    }
                },
                PortSpec {
                    protocol: Protocol::Sctp,
                    port: PortMatch::Range {
                        from: 1000,
                        to: 2000
                    }
                },
                PortSpec {
                    protocol: Protocol::Udp,
                    port: PortMatch::Any
                },
            ]
        );
    }

    #[test]
    fn peers_keep_and_within_an_entry_and_default_namespace() {
        let p = compile(&format!(
            "{HEAD}spec:\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{app: a}}}}\n      namespaceSelector: {{matchLabels: {{team: x}}}}\n    - podSelector: {{matchLabels: {{app: b}}}}\n    - namespaceSelector: {{}}\n"
        ))
        .unwrap();
        let peers = &p.ingress.unwrap()[0].peers;
        assert_eq!(
            peers[0],
            Peer::Pods {
                pods: Selector::parse("app=a").unwrap(),
                namespaces: NamespaceScope::Selector(Selector::parse("team=x").unwrap())
            }
        );
        assert_eq!(
            peers[1],
            Peer::Pods {
                pods: Selector::parse("app=b").unwrap(),
                namespaces: NamespaceScope::PolicyNamespace
            }
        );
        assert_eq!(
            peers[2],
            Peer::Pods {
                pods: Selector::everything(),
                namespaces: NamespaceScope::Selector(Selector::everything())
            }
        );
    }

    #[test]
    fn or_instead_of_and_is_warned() {
        let p = compile(&format!(
            "{HEAD}spec:\n  ingress:\n  - from:\n    - podSelector: {{matchLabels: {{app: api}}}}\n    - namespaceSelector: {{matchLabels: {{purpose: monitoring}}}}\n"
        ))
        .unwrap();
        assert!(
            p.warnings.iter().any(|w| w.contains("OR")),
            "{:?}",
            p.warnings
        );
    }

    #[test]
    fn validation_errors_name_the_field() {
        let cases: &[(&str, &str)] = &[
            (
                "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/33}\n",
                "spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR",
            ),
            (
                "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.1}\n",
                "a prefix length is required",
            ),
            (
                "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.1.0.0/24]}\n",
                "spec.ingress[0].from[0].ipBlock.except[0]: \"10.1.0.0/24\" must be a strict subset",
            ),
            (
                "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/16, except: [10.0.0.0/16]}\n",
                "strict subset",
            ),
            (
                "spec:\n  egress:\n  - to:\n    - ipBlock: {cidr: 10.0.0.0/8, except: ['fd00::/64']}\n",
                "same address family",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {port: http, endPort: 90}\n",
                "spec.ingress[0].ports[0].endPort: may not be specified when port is the named port",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {port: 100, endPort: 90}\n",
                "spec.ingress[0].ports[0].endPort: 90 must be greater than or equal to port 100",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {endPort: 90}\n",
                "endPort: may not be specified when port is not specified",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {port: 70000}\n",
                "spec.ingress[0].ports[0].port: 70000 is not a valid port number",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {port: '8080'}\n",
                "write the port number without quotes",
            ),
            (
                "spec:\n  ingress:\n  - ports:\n    - {port: 53, protocol: ICMP}\n",
                "spec.ingress[0].ports[0].protocol: unsupported value \"ICMP\"",
            ),
            (
                "spec:\n  podSelector:\n    matchExpressions:\n    - {key: app, operator: Equals, values: [a]}\n",
                "spec.podSelector.matchExpressions[0].operator: unknown operator \"Equals\"",
            ),
            (
                "spec:\n  podSelector:\n    matchExpressions:\n    - {key: app, operator: In}\n",
                "spec.podSelector.matchExpressions[0].values: must be specified when operator is In",
            ),
            (
                "spec:\n  podSelector:\n    matchExpressions:\n    - {key: app, operator: Exists, values: [x]}\n",
                "may not be specified when operator is Exists",
            ),
            (
                "spec:\n  ingress:\n  - from:\n    - ipBlock: {cidr: 10.0.0.0/8}\n      podSelector: {}\n",
                "spec.ingress[0].from[0]: ipBlock cannot be combined",
            ),
            (
                "spec:\n  ingress:\n  - from:\n    - {}\n",
                "spec.ingress[0].from[0]: must specify one of podSelector",
            ),
            (
                "spec:\n  policyTypes: [Ingress, Sideways]\n",
                "spec.policyTypes[1]: unsupported value \"Sideways\"",
            ),
            (
                "spec:\n  podSelector:\n    matchLabels: {'bad key!': x}\n",
                "spec.podSelector.matchLabels[bad key!]",
            ),
        ];
        for (spec, want) in cases {
            let errs = errors(&format!("{HEAD}{spec}"));
            assert!(
                errs.iter().any(|e| e.contains(want)),
                "for\n{spec}\nwanted {want:?} in {errs:?}"
            );
        }
    }

    #[test]
    fn every_error_is_reported_not_just_the_first() {
        let errs = errors(&format!(
            "{HEAD}spec:\n  ingress:\n  - from:\n    - ipBlock: {{cidr: bogus}}\n    ports:\n    - {{port: 0}}\n"
        ));
        assert_eq!(errs.len(), 2, "{errs:?}");
    }

    #[test]
    fn cidr_host_bits_are_cleared_and_ipv6_works() {
        assert_eq!(parse_cidr("10.1.2.3/8").unwrap().to_string(), "10.0.0.0/8");
        assert_eq!(parse_cidr("fd00::1/64").unwrap().to_string(), "fd00::/64");
    }
}
