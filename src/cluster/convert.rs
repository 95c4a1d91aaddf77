//! Converts Kubernetes API objects into the engine's world model (pods, nodes,
//! namespaces, and workload templates standing in for pods that do not run yet).
//!
//! Shared by every source (files, live cluster, demo). No I/O here.

use std::net::IpAddr;

use k8s_openapi::api::core::v1 as core;

use crate::policy::audit::{Change, Staged};
use crate::policy::compile::{check_metadata, validate_port_name, FieldError, NameRule};
use crate::policy::model::{
    agreed_ports, ContainerPort, EndpointSlice, Labels, Namespace, Node, Origin, Pod, Protocol,
    Service, ServiceAccount, ServiceEndpoints, ServicePort, ServiceType, TargetPort,
    NAMESPACE_NAME_LABEL,
};

fn field(path: impl Into<String>, message: impl Into<String>) -> FieldError {
    FieldError {
        path: path.into(),
        message: message.into(),
    }
}

pub fn namespace(ns: &core::Namespace) -> Result<Namespace, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&ns.metadata, NameRule::DnsLabel, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    let name = ns.metadata.name.clone().unwrap_or_default();
    let mut labels: Labels = ns.metadata.labels.clone().unwrap_or_default();
    // The API server sets this label on every namespace and does not let it differ.
    labels.insert(NAMESPACE_NAME_LABEL.to_string(), name.clone());
    Ok(Namespace {
        name,
        labels,
        implicit: false,
        labels_known: true,
        policies_known: true,
        services_known: true,
    })
}

/// A namespace that objects refer to but that was not given: it has only the automatic label.
pub fn implicit_namespace(name: &str) -> Namespace {
    Namespace {
        name: name.to_string(),
        labels: Labels::from([(NAMESPACE_NAME_LABEL.to_string(), name.to_string())]),
        implicit: true,
        labels_known: true,
        policies_known: true,
        services_known: true,
    }
}

/// A namespace known by name only, whose labels could not be read: only the automatic
/// `kubernetes.io/metadata.name` label is known.
pub fn unreadable_namespace(name: &str) -> Namespace {
    Namespace {
        labels_known: false,
        ..implicit_namespace(name)
    }
}

/// `Ok(None)` for pods that have finished (Succeeded or Failed): policies no longer apply.
pub fn pod(
    pod: &core::Pod,
    default_namespace: &str,
    origin: Origin,
) -> Result<Option<Pod>, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&pod.metadata, NameRule::DnsSubdomain, &mut errs);
    let name = pod.metadata.name.clone().filter(|n| !n.is_empty());
    let status = pod.status.as_ref();
    if matches!(
        status.and_then(|s| s.phase.as_deref()),
        Some("Succeeded") | Some("Failed")
    ) {
        return Ok(None);
    }
    let mut ips = Vec::new();
    if let Some(status) = status {
        let listed: Vec<(String, &str)> = match &status.pod_ips {
            Some(list) if !list.is_empty() => list
                .iter()
                .enumerate()
                .map(|(i, p)| (format!("status.podIPs[{i}].ip"), p.ip.as_str()))
                .collect(),
            _ => status
                .pod_ip
                .iter()
                .map(|ip| ("status.podIP".to_string(), ip.as_str()))
                .collect(),
        };
        for (path, text) in listed {
            match text.parse::<IpAddr>() {
                Ok(ip) if !ips.contains(&ip) => ips.push(ip),
                Ok(_) => {}
                Err(_) => errs.push(field(path, format!("{text:?} is not an IP address"))),
            }
        }
    }
    let spec = pod.spec.as_ref();
    let ports = match spec {
        Some(spec) => container_ports(spec, "spec", &mut errs),
        None => Vec::new(),
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Some(Pod {
        namespace: pod
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        name: name.unwrap_or_default(),
        labels: pod.metadata.labels.clone().unwrap_or_default(),
        ips,
        node: spec.and_then(|s| s.node_name.clone()),
        host_network: spec.and_then(|s| s.host_network).unwrap_or(false),
        ports,
        workload: owner(&pod.metadata),
        template: false,
        service_account: spec.and_then(account_of),
        account_labels: None,
        origin,
    }))
}

/// The pod's workload from its controlling owner reference: a ReplicaSet named
/// `<deployment>-<pod-template-hash>` stands for its Deployment, as the Deployment controller
/// names them; any other controller is itself the workload.
fn owner(meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Option<String> {
    let owner = meta
        .owner_references
        .as_ref()?
        .iter()
        .find(|o| o.controller == Some(true))?;
    if owner.kind == "ReplicaSet" {
        let hash = meta
            .labels
            .as_ref()
            .and_then(|l| l.get("pod-template-hash"));
        if let Some(deployment) = hash.and_then(|h| owner.name.strip_suffix(&format!("-{h}"))) {
            if !deployment.is_empty() {
                return Some(format!("Deployment/{deployment}"));
            }
        }
    }
    Some(format!("{}/{}", owner.kind, owner.name))
}

/// A pod standing for the pods a workload will run: labels and ports from its template,
/// no IP. `template_path` is where the template sits in the object (for errors).
pub fn template_pod(
    kind: &str,
    name: &str,
    namespace: &str,
    template: &core::PodTemplateSpec,
    template_path: &str,
    origin: Origin,
) -> Result<Pod, Vec<FieldError>> {
    let mut errs = Vec::new();
    if let Err(e) = crate::policy::selector::validate_dns_subdomain(name) {
        errs.push(field("metadata.name", e));
    }
    for (key, value) in template
        .metadata
        .as_ref()
        .and_then(|m| m.labels.as_ref())
        .into_iter()
        .flatten()
    {
        let checked = crate::policy::selector::validate_key(key)
            .and_then(|()| crate::policy::selector::validate_value(value));
        if let Err(e) = checked {
            errs.push(field(format!("{template_path}.metadata.labels[{key}]"), e));
        }
    }
    let ports = match &template.spec {
        Some(spec) => container_ports(spec, &format!("{template_path}.spec"), &mut errs),
        None => Vec::new(),
    };
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Pod {
        namespace: namespace.to_string(),
        name: name.to_string(),
        labels: template
            .metadata
            .as_ref()
            .and_then(|m| m.labels.clone())
            .unwrap_or_default(),
        ips: Vec::new(),
        node: None,
        host_network: template
            .spec
            .as_ref()
            .and_then(|s| s.host_network)
            .unwrap_or(false),
        ports,
        workload: Some(format!("{kind}/{name}")),
        template: true,
        service_account: template.spec.as_ref().and_then(account_of),
        account_labels: None,
        origin,
    })
}

/// A pod spec's service account: `serviceAccountName`, or the deprecated `serviceAccount`.
fn account_of(spec: &core::PodSpec) -> Option<String> {
    #[allow(deprecated)]
    spec.service_account_name
        .clone()
        .or_else(|| spec.service_account.clone())
}

fn container_ports(
    spec: &core::PodSpec,
    path: &str,
    errs: &mut Vec<FieldError>,
) -> Vec<ContainerPort> {
    let mut out = Vec::new();
    // Init containers count too: sidecars (restartPolicy Always) serve on their ports.
    let groups = [
        ("containers", Some(&spec.containers)),
        ("initContainers", spec.init_containers.as_ref()),
    ];
    for (group, containers) in groups {
        for (c, container) in containers.into_iter().flatten().enumerate() {
            for (i, port) in container.ports.iter().flatten().enumerate() {
                let ppath = format!("{path}.{group}[{c}].ports[{i}]");
                let Some(number) = u16::try_from(port.container_port).ok().filter(|p| *p != 0)
                else {
                    // Absent reads as 0, which is never valid.
                    let message = if port.container_port == 0 {
                        "is required: a port number between 1 and 65535".to_string()
                    } else {
                        format!(
                            "{} is not a valid port number: must be between 1 and 65535",
                            port.container_port
                        )
                    };
                    errs.push(field(format!("{ppath}.containerPort"), message));
                    continue;
                };
                let Some(protocol) = protocol(port.protocol.as_deref(), &ppath, errs) else {
                    continue;
                };
                if let Some(name) = &port.name {
                    if let Err(msg) = validate_port_name(name) {
                        errs.push(field(format!("{ppath}.name"), msg));
                        continue;
                    }
                }
                out.push(ContainerPort {
                    name: port.name.clone(),
                    port: number,
                    protocol,
                });
            }
        }
    }
    out
}

/// A port's protocol as the API spells it, TCP when absent; `None` (with the error) otherwise.
fn protocol(text: Option<&str>, path: &str, errs: &mut Vec<FieldError>) -> Option<Protocol> {
    let Some(p) = text else {
        return Some(Protocol::Tcp);
    };
    let parsed = Protocol::parse(p).filter(|_| p == p.to_ascii_uppercase());
    if parsed.is_none() {
        errs.push(field(
            format!("{path}.protocol"),
            format!("unsupported value {p:?}: must be \"TCP\", \"UDP\" or \"SCTP\""),
        ));
    }
    parsed
}

/// A port number field: 1 to 65535.
fn port_number(value: i32, path: String, errs: &mut Vec<FieldError>) -> Option<u16> {
    let number = u16::try_from(value).ok().filter(|p| *p != 0);
    if number.is_none() {
        errs.push(field(
            path,
            format!("{value} is not a valid port number: must be between 1 and 65535"),
        ));
    }
    number
}

pub fn service(
    svc: &core::Service,
    default_namespace: &str,
    origin: Origin,
) -> Result<Service, Vec<FieldError>> {
    use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
    let mut errs = Vec::new();
    check_metadata(&svc.metadata, NameRule::DnsLabel, &mut errs);
    let spec = svc.spec.clone().unwrap_or_default();
    let kind = match spec.type_.as_deref() {
        None => ServiceType::ClusterIP,
        Some(t) => ServiceType::parse(t).unwrap_or_else(|| {
            errs.push(field(
                "spec.type",
                format!(
                    "unsupported value {t:?}: must be \"ClusterIP\", \"NodePort\", \
                     \"LoadBalancer\" or \"ExternalName\""
                ),
            ));
            ServiceType::ClusterIP
        }),
    };
    let ips = |list: Vec<(String, String)>, errs: &mut Vec<FieldError>| {
        let mut out: Vec<IpAddr> = Vec::new();
        for (path, text) in list {
            if text == "None" || text.is_empty() {
                continue;
            }
            match text.parse::<IpAddr>() {
                Ok(ip) if !out.contains(&ip) => out.push(ip),
                Ok(_) => {}
                Err(_) => errs.push(field(path, format!("{text:?} is not an IP address"))),
            }
        }
        out
    };
    let listed = |name: &str, list: &Option<Vec<String>>| -> Vec<(String, String)> {
        list.iter()
            .flatten()
            .enumerate()
            .map(|(i, ip)| (format!("spec.{name}[{i}]"), ip.clone()))
            .collect()
    };
    let cluster_ips = match &spec.cluster_ips {
        Some(list) if !list.is_empty() => ips(listed("clusterIPs", &spec.cluster_ips), &mut errs),
        _ => ips(
            spec.cluster_ip
                .iter()
                .map(|ip| ("spec.clusterIP".to_string(), ip.clone()))
                .collect(),
            &mut errs,
        ),
    };
    let mut external = listed("externalIPs", &spec.external_ips);
    let ingress = svc
        .status
        .as_ref()
        .and_then(|s| s.load_balancer.as_ref())
        .and_then(|lb| lb.ingress.as_ref());
    for (i, entry) in ingress.into_iter().flatten().enumerate() {
        if let Some(ip) = &entry.ip {
            external.push((format!("status.loadBalancer.ingress[{i}].ip"), ip.clone()));
        }
    }
    let external_ips = ips(external, &mut errs);
    let mut ports = Vec::new();
    for (i, p) in spec.ports.iter().flatten().enumerate() {
        let path = format!("spec.ports[{i}]");
        let number = port_number(p.port, format!("{path}.port"), &mut errs);
        let protocol = protocol(p.protocol.as_deref(), &path, &mut errs);
        if let Some(name) = &p.name {
            if let Err(msg) = validate_port_name(name) {
                errs.push(field(format!("{path}.name"), msg));
            }
        }
        let target = match &p.target_port {
            None => number.map(TargetPort::Number),
            Some(IntOrString::Int(n)) => {
                port_number(*n, format!("{path}.targetPort"), &mut errs).map(TargetPort::Number)
            }
            Some(IntOrString::String(name)) => match validate_port_name(name) {
                Ok(()) => Some(TargetPort::Name(name.clone())),
                Err(msg) => {
                    errs.push(field(format!("{path}.targetPort"), msg));
                    None
                }
            },
        };
        let node_port = match p.node_port {
            None | Some(0) => None,
            Some(n) => port_number(n, format!("{path}.nodePort"), &mut errs),
        };
        if let (Some(port), Some(protocol), Some(target)) = (number, protocol, target) {
            ports.push(ServicePort {
                name: p.name.clone(),
                protocol,
                port,
                target,
                node_port,
            });
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Service {
        namespace: svc
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        name: svc.metadata.name.clone().unwrap_or_default(),
        kind,
        selector: spec.selector.filter(|s| !s.is_empty()),
        cluster_ips,
        external_ips,
        ports,
        external_traffic_local: spec.external_traffic_policy.as_deref() == Some("Local"),
        external_name: spec.external_name,
        labels: svc.metadata.labels.clone().unwrap_or_default(),
        endpoints: None,
        origin,
    })
}

/// An EndpointSlice (discovery.k8s.io/v1): the Service it belongs to, by its
/// `kubernetes.io/service-name` label, and its addresses. FQDN slices hold no address.
pub fn endpoint_slice(
    slice: &k8s_openapi::api::discovery::v1::EndpointSlice,
    default_namespace: &str,
) -> Result<EndpointSlice, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&slice.metadata, NameRule::DnsSubdomain, &mut errs);
    let service = slice
        .metadata
        .labels
        .as_ref()
        .and_then(|l| l.get(SERVICE_NAME_LABEL))
        .cloned();
    if service.is_none() {
        errs.push(field(
            format!("metadata.labels[{SERVICE_NAME_LABEL}]"),
            "is required: it names the Service the slice belongs to",
        ));
    }
    let mut addresses = ServiceEndpoints::default();
    let ip_slice = matches!(slice.address_type.as_str(), "IPv4" | "IPv6");
    if !ip_slice && slice.address_type != "FQDN" {
        errs.push(field(
            "addressType",
            format!(
                "unsupported value {:?}: must be \"IPv4\", \"IPv6\" or \"FQDN\"",
                slice.address_type
            ),
        ));
    }
    // The ports of every endpoint; an entry without a number stands for every port, which
    // no list says.
    let mut ports = Vec::new();
    let mut every = false;
    for (i, p) in slice.ports.iter().flatten().enumerate() {
        let path = format!("ports[{i}]");
        let proto = protocol(p.protocol.as_deref(), &path, &mut errs);
        match p.port {
            None => every = true,
            Some(n) => {
                let number = port_number(n, format!("{path}.port"), &mut errs);
                if let (Some(n), Some(proto)) = (number, proto) {
                    ports.push((proto, n));
                }
            }
        }
    }
    ports.sort();
    ports.dedup();
    addresses.ports = (!every && !ports.is_empty()).then_some(ports);
    for (i, endpoint) in slice.endpoints.iter().enumerate() {
        if !ip_slice {
            break;
        }
        let ready = endpoint
            .conditions
            .as_ref()
            .and_then(|c| c.ready)
            .unwrap_or(true);
        for (j, text) in endpoint.addresses.iter().enumerate() {
            let path = format!("endpoints[{i}].addresses[{j}]");
            add_address(&mut addresses, text, ready, path, &mut errs);
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(EndpointSlice {
        namespace: slice
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        service: service.unwrap_or_default(),
        addresses,
    })
}

/// A legacy Endpoints object (v1): the addresses of the Service of the same name, ready
/// (`addresses`) or not (`notReadyAddresses`).
pub fn endpoints(
    endpoints: &core::Endpoints,
    default_namespace: &str,
) -> Result<EndpointSlice, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&endpoints.metadata, NameRule::DnsSubdomain, &mut errs);
    let mut addresses = ServiceEndpoints::default();
    // One list of ports when every subset has the same.
    let mut ports = Vec::new();
    for (i, subset) in endpoints.subsets.iter().flatten().enumerate() {
        let mut these = Vec::new();
        for (j, p) in subset.ports.iter().flatten().enumerate() {
            let path = format!("subsets[{i}].ports[{j}]");
            let proto = protocol(p.protocol.as_deref(), &path, &mut errs);
            let number = port_number(p.port, format!("{path}.port"), &mut errs);
            if let (Some(proto), Some(n)) = (proto, number) {
                these.push((proto, n));
            }
        }
        these.sort();
        these.dedup();
        ports.push(Some(these));
        let lists = [
            ("addresses", &subset.addresses, true),
            ("notReadyAddresses", &subset.not_ready_addresses, false),
        ];
        for (name, list, ready) in lists {
            for (j, a) in list.iter().flatten().enumerate() {
                let path = format!("subsets[{i}].{name}[{j}].ip");
                add_address(&mut addresses, &a.ip, ready, path, &mut errs);
            }
        }
    }
    addresses.ports = agreed_ports(ports);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(EndpointSlice {
        namespace: endpoints
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        service: endpoints.metadata.name.clone().unwrap_or_default(),
        addresses,
    })
}

/// One endpoint's address, among the ready ones or the others; an error naming `path`
/// where it is no IP address.
fn add_address(
    addresses: &mut ServiceEndpoints,
    text: &str,
    ready: bool,
    path: String,
    errs: &mut Vec<FieldError>,
) {
    match text.parse::<IpAddr>() {
        Ok(ip) if ready => addresses.ready.push(ip),
        Ok(ip) => addresses.not_ready.push(ip),
        Err(_) => errs.push(field(path, format!("{text:?} is not an IP address"))),
    }
}

/// The label by which an EndpointSlice names its Service.
pub const SERVICE_NAME_LABEL: &str = "kubernetes.io/service-name";

/// Whether Cilium's agents' configuration (the ConfigMap `kube-system/cilium-config`) turns
/// the host firewall on: `enable-host-firewall: "true"`; absent, it is off, as Cilium's
/// default.
pub fn cilium_host_firewall(config: &core::ConfigMap) -> bool {
    config
        .data
        .as_ref()
        .and_then(|d| d.get("enable-host-firewall"))
        .is_some_and(|v| v.trim() == "true")
}

/// Where Cilium's agents read their configuration: `(namespace, name)` of a ConfigMap.
pub const CILIUM_CONFIG: (&str, &str) = ("kube-system", "cilium-config");

/// A ServiceAccount: its labels are what Calico's service account selectors match.
pub fn service_account(
    account: &core::ServiceAccount,
    default_namespace: &str,
) -> Result<ServiceAccount, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&account.metadata, NameRule::DnsSubdomain, &mut errs);
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(ServiceAccount {
        namespace: account
            .metadata
            .namespace
            .clone()
            .unwrap_or_else(|| default_namespace.to_string()),
        name: account.metadata.name.clone().unwrap_or_default(),
        labels: account.metadata.labels.clone().unwrap_or_default(),
    })
}

pub fn node(node: &core::Node) -> Result<Node, Vec<FieldError>> {
    let mut errs = Vec::new();
    check_metadata(&node.metadata, NameRule::DnsSubdomain, &mut errs);
    let name = node.metadata.name.clone().unwrap_or_default();
    let mut addresses = Vec::new();
    for (i, a) in node
        .status
        .as_ref()
        .and_then(|s| s.addresses.as_ref())
        .into_iter()
        .flatten()
        .enumerate()
    {
        if a.type_ != "InternalIP" && a.type_ != "ExternalIP" {
            continue;
        }
        match a.address.parse::<IpAddr>() {
            Ok(ip) if !addresses.contains(&ip) => addresses.push(ip),
            Ok(_) => {}
            Err(_) => errs.push(field(
                format!("status.addresses[{i}].address"),
                format!("{:?} is not an IP address", a.address),
            )),
        }
    }
    if !errs.is_empty() {
        return Err(errs);
    }
    Ok(Node {
        name,
        addresses,
        labels: node.metadata.labels.clone().unwrap_or_default(),
    })
}

/// Calico's StagedKubernetesNetworkPolicy (a NetworkPolicy spec and `spec.stagedAction`, `Set`
/// by default or `Delete`) as a staged change held by the source.
pub fn staged_knp(
    value: serde_json::Value,
    default_namespace: &str,
    origin: Origin,
) -> Result<Staged, Vec<FieldError>> {
    use serde_json::Value;
    let Value::Object(mut map) = value else {
        return Err(vec![field("", "is not an object")]);
    };
    let action = map
        .get_mut("spec")
        .and_then(Value::as_object_mut)
        .and_then(|spec| spec.remove("stagedAction"));
    let source = format!("{origin} (StagedKubernetesNetworkPolicy)");
    let meta = map.get("metadata");
    let text = |f: &str| {
        meta.and_then(|m| m.get(f))
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_string()
    };
    let (name, namespace) = (text("name"), text("namespace"));
    let change = match action.as_ref().map(Value::as_str) {
        None | Some(Some("Set")) => {
            map.insert("apiVersion".into(), "networking.k8s.io/v1".into());
            map.insert("kind".into(), "NetworkPolicy".into());
            let np: k8s_openapi::api::networking::v1::NetworkPolicy =
                serde_path_to_error::deserialize(Value::Object(map)).map_err(|e| {
                    let path = e.path().to_string();
                    vec![field(
                        if path == "." { String::new() } else { path },
                        e.into_inner().to_string(),
                    )]
                })?;
            let policy =
                crate::policy::compile::compile_network_policy(&np, default_namespace, origin)
                    .map_err(|e| e.0)?;
            Change::Set(Box::new(policy))
        }
        Some(Some("Delete")) if !name.is_empty() => Change::Remove {
            namespace: if namespace.is_empty() {
                default_namespace.to_string()
            } else {
                namespace
            },
            name,
        },
        Some(Some("Delete")) => return Err(vec![field("metadata.name", "is required")]),
        Some(_) => {
            return Err(vec![field(
                "spec.stagedAction",
                "must be \"Set\" or \"Delete\"",
            )])
        }
    };
    Ok(Staged {
        from_source: true,
        ..Staged::new(change, source)
    })
}
