//! A destination given as a Service, resolved as kube-proxy forwards it: to the pods the
//! Service selects, each at the target port it declares. NetworkPolicy never sees a
//! Service's address or port, only the backing pod and the target port, so a flow to a
//! Service is as many flows as it has backing pods, and they can differ (a named target
//! port may be a different number on each pod).
//!
//! Written as `svc/NAME`, `NS/svc/NAME` (`service/` and `services/` too), with an optional
//! `:PORT`; or found from an address: a ClusterIP, an external or load balancer address,
//! or a node's address with a NodePort.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::net::IpAddr;

use serde::Serialize;

use super::engine::{Decision, Endpoint, Index, PodId};
use super::error::{Error, Result};
use super::explain::{explain, Explanation};
use super::model::{Inventory, Protocol, Service, ServicePort, ServiceType, TargetPort};
use super::Flow;

/// How the destination reached the Service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Via {
    /// By name (`svc/NAME`), as a client inside the cluster resolves it through DNS.
    Name,
    ClusterIp {
        address: IpAddr,
    },
    /// `spec.externalIPs` or a load balancer's address.
    External {
        address: IpAddr,
    },
    /// A node's address at the Service's NodePort.
    NodePort {
        node: String,
        port: u16,
    },
}

/// A pod the Service forwards to, and the port it forwards to there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backend {
    pub pod: PodId,
    pub port: u16,
}

impl Backend {
    /// The flow from `src` as it reaches this pod: at the target port.
    pub fn flow(&self, src: Endpoint, protocol: Protocol) -> Flow {
        Flow {
            src,
            dst: Endpoint::pod(self.pod),
            protocol,
            port: self.port,
        }
    }
}

/// The Service and port a destination names, and where kube-proxy sends it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServiceTarget {
    /// Into the inventory's services.
    pub service: usize,
    /// Into the service's ports.
    pub port: usize,
    pub via: Via,
    pub backends: Vec<Backend>,
    /// Pods the selector matches that declare no container port of the target port's name
    /// and protocol: the Service sends them nothing.
    pub skipped: Vec<PodId>,
}

impl ServiceTarget {
    pub fn service<'a>(&self, inv: &'a Inventory) -> &'a Service {
        &inv.services[self.service]
    }

    pub fn service_port<'a>(&self, inv: &'a Inventory) -> &'a ServicePort {
        &self.service(inv).ports[self.port]
    }
}

/// `(namespace, name, port)` when `text` is written as a Service.
pub fn parse_service_ref(text: &str) -> Option<(Option<&str>, &str, Option<&str>)> {
    let text = text.trim();
    let (text, port) = match text.rsplit_once(':') {
        // An IPv6 address has colons but no slash.
        Some((head, port)) if head.contains('/') => (head, Some(port)),
        _ => (text, None),
    };
    let parts: Vec<&str> = text.split('/').collect();
    let is_kind = |k: &str| matches!(k, "svc" | "service" | "services");
    match parts.as_slice() {
        [kind, name] if is_kind(kind) => Some((None, name, port)),
        [ns, kind, name] if is_kind(kind) => Some((Some(ns), name, port)),
        _ => None,
    }
}

/// The destination as a Service, when it is one: by name, by a Service address, or by a
/// node address with a NodePort (`port` numeric). `Ok(None)` when `text` is not a Service.
/// `port` is the `--port` text; a Service with one port needs none.
pub fn resolve_service(
    index: &Index,
    text: &str,
    namespace: Option<&str>,
    port: Option<&str>,
    protocol: Protocol,
) -> Result<Option<ServiceTarget>> {
    let inv = index.inventory();
    if let Some((ns, name, in_name)) = parse_service_ref(text) {
        let port = match (in_name, port.map(str::trim).filter(|p| !p.is_empty())) {
            (Some(a), Some(b)) if a != b => return Err(Error::TwoPorts(a.into(), b.into())),
            (a, b) => a.or(b),
        };
        let service = find_by_name(inv, ns.or(namespace), name)?;
        let port = service_port(inv, service, port, protocol)?;
        return Ok(Some(target(inv, service, port, Via::Name)));
    }
    let Ok(address) = text.trim().parse::<IpAddr>() else {
        return Ok(None);
    };
    if let Some((service, via)) = inv.services.iter().enumerate().find_map(|(i, s)| {
        if s.cluster_ips.contains(&address) {
            Some((i, Via::ClusterIp { address }))
        } else if s.external_ips.contains(&address) {
            Some((i, Via::External { address }))
        } else {
            None
        }
    }) {
        let port = service_port(inv, service, port, protocol)?;
        return Ok(Some(target(inv, service, port, via)));
    }
    // A node's address at a NodePort: kube-proxy forwards it on every node.
    let Some(number) = port.and_then(|p| p.trim().parse::<u16>().ok()) else {
        return Ok(None);
    };
    Ok(resolve_node_port(
        index,
        &index.endpoint_for_ip(address),
        number,
        protocol,
    ))
}

/// `node/NAME` with a NodePort: the Service behind it, if any.
pub fn resolve_node_port(
    index: &Index,
    dst: &Endpoint,
    port: u16,
    protocol: Protocol,
) -> Option<ServiceTarget> {
    let Endpoint::Node { node, .. } = dst else {
        return None;
    };
    let inv = index.inventory();
    inv.services.iter().enumerate().find_map(|(i, s)| {
        let p = s.ports.iter().position(|p| {
            p.node_port == Some(port)
                && p.protocol == protocol
                && matches!(s.kind, ServiceType::NodePort | ServiceType::LoadBalancer)
        })?;
        let node = inv.nodes[*node as usize].name.clone();
        Some(target(inv, i, p, Via::NodePort { node, port }))
    })
}

fn find_by_name(inv: &Inventory, namespace: Option<&str>, name: &str) -> Result<usize> {
    let found: Vec<usize> = inv
        .services
        .iter()
        .enumerate()
        .filter(|(_, s)| s.name == name && namespace.is_none_or(|ns| s.namespace == ns))
        .map(|(i, _)| i)
        .collect();
    match found.as_slice() {
        [one] => return Ok(*one),
        [] => {}
        many => {
            return Err(Error::AmbiguousService {
                name: name.to_string(),
                candidates: many.iter().map(|&i| inv.services[i].key()).collect(),
            })
        }
    }
    // Not found: unknown where the namespace's Services could not be read.
    let unreadable = inv
        .namespaces
        .iter()
        .find(|n| !n.services_known && namespace.is_none_or(|ns| n.name == ns));
    if let Some(ns) = unreadable {
        return Err(Error::ServicesUnreadable {
            namespace: ns.name.clone(),
            name: name.to_string(),
        });
    }
    let wanted = match namespace {
        Some(ns) => format!("{ns}/svc/{name}"),
        None => format!("svc/{name}"),
    };
    let keys = inv.services.iter().map(Service::reference);
    // A subsequence first (a name cut short), then a typo (two letters swapped or missed).
    let suggestion = super::query::suggest(keys, &wanted).or_else(|| {
        inv.services
            .iter()
            .map(|s| (strsim::damerau_levenshtein(&s.name, name), s))
            .filter(|(d, _)| *d <= 2)
            .min_by_key(|(d, _)| *d)
            .map(|(_, s)| s.reference())
    });
    Err(Error::NoService { suggestion, wanted })
}

fn port_text(p: &ServicePort) -> String {
    match &p.name {
        Some(n) => format!("{n} ({}/{})", p.protocol, p.port),
        None => format!("{}/{}", p.protocol, p.port),
    }
}

fn service_port(
    inv: &Inventory,
    service: usize,
    wanted: Option<&str>,
    protocol: Protocol,
) -> Result<usize> {
    let s = &inv.services[service];
    if s.kind == ServiceType::ExternalName {
        return Err(Error::ExternalNameService {
            service: s.key(),
            external: s.external_name.clone().unwrap_or_default(),
        });
    }
    let declared = || s.ports.iter().map(port_text).collect::<Vec<_>>();
    let Some(wanted) = wanted.map(str::trim) else {
        return match s.ports.len() {
            1 => Ok(0),
            _ => Err(Error::ServicePortNeeded {
                service: s.key(),
                declared: declared(),
            }),
        };
    };
    let matches = |p: &ServicePort| match wanted.parse::<u16>() {
        Ok(n) => p.port == n,
        Err(_) => p.name.as_deref() == Some(wanted),
    };
    if let Some(i) = s
        .ports
        .iter()
        .position(|p| matches(p) && p.protocol == protocol)
    {
        return Ok(i);
    }
    if let Some(other) = s.ports.iter().find(|p| matches(p)) {
        return Err(Error::NamedPortOtherProtocol {
            pod: format!("Service {}", s.key()),
            name: wanted.to_string(),
            protocol: other.protocol,
            port: other.port,
        });
    }
    Err(Error::NoServicePort {
        service: s.key(),
        wanted: format!("{protocol}/{wanted}"),
        declared: declared(),
    })
}

/// The pods a selector matches in the Service's namespace, each at its target port.
fn target(inv: &Inventory, service: usize, port: usize, via: Via) -> ServiceTarget {
    let s = &inv.services[service];
    let sp = &s.ports[port];
    let mut backends = Vec::new();
    let mut skipped = Vec::new();
    for i in selected_pods(inv, s) {
        let found = match &sp.target {
            TargetPort::Number(n) => Some(*n),
            TargetPort::Name(name) => inv.pods[i as usize]
                .ports
                .iter()
                .find(|cp| cp.name.as_deref() == Some(name) && cp.protocol == sp.protocol)
                .map(|cp| cp.port),
        };
        match found {
            Some(port) => backends.push(Backend { pod: i, port }),
            None => skipped.push(i),
        }
    }
    ServiceTarget {
        service,
        port,
        via,
        backends,
        skipped,
    }
}

/// The pods a Service's selector matches in its namespace (none without a selector).
pub fn selected_pods(inv: &Inventory, s: &Service) -> Vec<PodId> {
    inv.pods
        .iter()
        .enumerate()
        .filter(|(_, p)| s.selects(p))
        .map(|(i, _)| i as PodId)
        .collect()
}

/// One backing pod, its target port, and the flow to it explained.
#[derive(Debug, Clone, Serialize)]
pub struct BackendExplanation {
    pub pod: String,
    pub port: u16,
    pub explanation: Explanation,
}

/// A flow to a Service: the Service and its port, where kube-proxy sends the flow, and the
/// verdict for each backing pod.
#[derive(Debug, Clone, Serialize)]
pub struct ServiceExplanation {
    pub service: String,
    #[serde(rename = "type")]
    pub kind: ServiceType,
    pub protocol: Protocol,
    pub port: u16,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub port_name: Option<String>,
    pub target_port: TargetPort,
    pub via: Via,
    /// Every backing pod admits the flow (and there is at least one).
    pub allowed: bool,
    /// Why the answer cannot be told, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unknown: Option<String>,
    pub backends: Vec<BackendExplanation>,
    /// Selected pods that declare no such named port: the Service sends them nothing.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub not_backing: Vec<String>,
    /// What a reader must know about traffic through this Service.
    pub notes: Vec<String>,
}

impl ServiceExplanation {
    /// The backing pods' verdicts counted: allowed, denied, unknown.
    pub fn counts(&self) -> (usize, usize, usize) {
        let mut out = (0, 0, 0);
        for b in &self.backends {
            match b.explanation.decision() {
                Decision::Allowed => out.0 += 1,
                Decision::Denied => out.1 += 1,
                Decision::Unknown => out.2 += 1,
            }
        }
        out
    }

    /// The answer for the Service as a whole: allowed when every backing pod is; unknown
    /// where the pods behind it cannot be told, or no pod is denied and some are unknown;
    /// otherwise denied (no backing pod at all included: nothing answers).
    pub fn decision(&self) -> Decision {
        let (_, denied, unknown) = self.counts();
        if self.allowed {
            Decision::Allowed
        } else if self.unknown.is_some() || (denied == 0 && unknown > 0) {
            Decision::Unknown
        } else {
            Decision::Denied
        }
    }

    /// The backing pod to show first (its place in `backends`, which is its place in the
    /// target's backends): the first that is not allowed, or else the first.
    pub fn first_of_interest(&self) -> Option<usize> {
        let first = (!self.backends.is_empty()).then_some(0);
        self.backends
            .iter()
            .position(|b| !b.explanation.allowed)
            .or(first)
    }
}

/// Explains a flow from `src` to every pod behind the Service.
pub fn explain_service(
    index: &Index,
    src: Endpoint,
    target: &ServiceTarget,
    protocol: Protocol,
) -> ServiceExplanation {
    let inv = index.inventory();
    let s = target.service(inv);
    let sp = target.service_port(inv);
    let backends: Vec<BackendExplanation> = target
        .backends
        .iter()
        .map(|b| BackendExplanation {
            pod: inv.pods[b.pod as usize].key(),
            port: b.port,
            explanation: explain(index, &b.flow(src, protocol)),
        })
        .collect();
    let listed = |ips: &[std::net::IpAddr]| {
        ips.iter()
            .map(|ip| ip.to_string())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let unknown = if s.selector.is_none() {
        match &s.endpoints {
            None => Some(format!(
                "Service {} has no selector: its endpoints are written outside the Service, \
                 in EndpointSlices that were not read, so what is behind it is unknown",
                s.key()
            )),
            Some(e) if !e.ready.is_empty() => Some(format!(
                "Service {} has no selector: its EndpointSlices hold the addresses {}; \
                 explain a flow to each with --to ADDRESS",
                s.key(),
                listed(&e.ready)
            )),
            Some(e) if !e.not_ready.is_empty() => Some(format!(
                "Service {} has no selector, and its EndpointSlices hold only endpoints that \
                 are not ready ({})",
                s.key(),
                listed(&e.not_ready)
            )),
            Some(_) => None,
        }
    } else if backends.is_empty() && !inv.hidden.is_empty() {
        Some(format!(
            "Service {} selects no pod among those that could be read; not visible: {}",
            s.key(),
            inv.hidden.join("; ")
        ))
    } else {
        None
    };
    let mut notes = vec![format!(
        "NetworkPolicy judges the pod behind the Service at its target port, never the \
         Service's address or port {}/{}",
        sp.protocol, sp.port
    )];
    if let TargetPort::Name(name) = &sp.target {
        notes.push(format!(
            "the target port is the name {name}: each pod's own container port of that name"
        ));
    }
    if backends.is_empty() && unknown.is_none() {
        notes.push(format!(
            "Service {} has no backing pod: nothing answers there, whatever the policies say",
            s.key()
        ));
    }
    if matches!(target.via, Via::NodePort { .. } | Via::External { .. }) {
        notes.push(if s.external_traffic_local {
            "externalTrafficPolicy is Local: traffic from outside keeps the client's address, \
             and only pods on the node that received it answer"
                .to_string()
        } else {
            "externalTrafficPolicy is Cluster: traffic from outside the cluster may reach the \
             pod with a node's address as its source (SNAT), and the policies then judge that \
             node address, not the client's"
                .to_string()
        });
    }
    let allowed =
        unknown.is_none() && !backends.is_empty() && backends.iter().all(|b| b.explanation.allowed);
    ServiceExplanation {
        service: s.key(),
        kind: s.kind,
        protocol: sp.protocol,
        port: sp.port,
        port_name: sp.name.clone(),
        target_port: sp.target.clone(),
        via: target.via.clone(),
        allowed,
        unknown,
        backends,
        not_backing: target
            .skipped
            .iter()
            .map(|&p| inv.pods[p as usize].key())
            .collect(),
        notes,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_references_are_told_from_pods_and_addresses() {
        assert_eq!(parse_service_ref("svc/web"), Some((None, "web", None)));
        assert_eq!(
            parse_service_ref("prod/service/web:http"),
            Some((Some("prod"), "web", Some("http")))
        );
        assert_eq!(
            parse_service_ref("services/web:8080"),
            Some((None, "web", Some("8080")))
        );
        assert_eq!(parse_service_ref("prod/web"), None);
        assert_eq!(parse_service_ref("fd00::1"), None);
        assert_eq!(parse_service_ref("node/a"), None);
    }
}
