//! The engine's errors: what it cannot compile, parse or resolve. A denied flow is a verdict,
//! never an error.

use std::fmt;

use super::model::Protocol;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// A validation error at a field, named by its path in the object (`spec.ingress[0].ports[1].port`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldError {
    pub path: String,
    pub message: String,
}

impl fmt::Display for FieldError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

/// Every field of one object that the API server would reject.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub struct FieldErrors(pub Vec<FieldError>);

impl fmt::Display for FieldErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                f.write_str("; ")?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}

/// `; did you mean X?`, or nothing.
fn did_you_mean(suggestion: &Option<String>) -> String {
    suggestion
        .as_ref()
        .map(|s| format!("; did you mean {s}?"))
        .unwrap_or_default()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Invalid(#[from] FieldErrors),
    /// A what-if (`default-deny:NS`) that does not parse.
    #[error("{text:?}: {problem}")]
    WhatIf { text: String, problem: String },
    /// A label selector in kubectl's syntax that does not parse or validate.
    #[error("{problem}")]
    Selector { text: String, problem: String },
    #[error("no pod {wanted}{}", did_you_mean(.suggestion))]
    NoPod {
        wanted: String,
        suggestion: Option<String>,
    },
    /// Nodes could not be read, so whether the node exists cannot be told.
    #[error("node/{name}: nodes cannot be read (forbidden or not served), so node names are unknown; use the node's address, or grant list on nodes (deploy/reader-rbac.yaml)")]
    NodesUnreadable { name: String },
    /// No such pod among those that could be read; it may be among those that could not.
    #[error("no pod {wanted} among the pods that could be read; not visible: {hidden}")]
    PodNotVisible { wanted: String, hidden: String },
    #[error("no node named {name}{}", did_you_mean(.suggestion))]
    NoNode {
        name: String,
        suggestion: Option<String>,
    },
    #[error("pod name {name} is ambiguous: {}; write namespace/name", .candidates.join(", "))]
    AmbiguousPod {
        name: String,
        candidates: Vec<String>,
    },
    #[error("port {0} is out of range: must be between 1 and 65535")]
    PortOutOfRange(i128),
    #[error("the named port {name} can only be resolved on a destination pod; give a number")]
    NamedPortNeedsPod { name: String },
    #[error("{pod} has port {name} only for {protocol} (port {port}); use --protocol {protocol}")]
    NamedPortOtherProtocol {
        pod: String,
        name: String,
        protocol: Protocol,
        port: u16,
    },
    #[error("{pod} declares no container ports, so {name:?} names nothing; give a number")]
    NoContainerPorts { pod: String, name: String },
    #[error("{pod} has no container port named {name:?}; it has {}", .declared.join(", "))]
    NoNamedPort {
        pod: String,
        name: String,
        declared: Vec<String>,
    },
    #[error("a port is needed: a number or a container port name of the destination")]
    PortRequired,
    #[error("no Service {wanted}{}", did_you_mean(.suggestion))]
    NoService {
        wanted: String,
        suggestion: Option<String>,
    },
    #[error("Service name {name} is ambiguous: {}; write namespace/svc/name", .candidates.join(", "))]
    AmbiguousService {
        name: String,
        candidates: Vec<String>,
    },
    /// The namespace's Services could not be read, so whether the Service exists is unknown.
    #[error("svc/{name}: Services in namespace {namespace} cannot be read (forbidden), so the Service cannot be resolved; give a pod, or grant list on services (deploy/reader-rbac.yaml)")]
    ServicesUnreadable { namespace: String, name: String },
    #[error("Service {service} is of type ExternalName: it is the DNS name {external}, outside the cluster's pods; explain its address with --to IP")]
    ExternalNameService { service: String, external: String },
    #[error("Service {service} has several ports ({}); give one with svc/NAME:PORT or --port", .declared.join(", "))]
    ServicePortNeeded {
        service: String,
        declared: Vec<String>,
    },
    #[error("Service {service} has no port {wanted}; it has {}", if .declared.is_empty() { "none".to_string() } else { .declared.join(", ") })]
    NoServicePort {
        service: String,
        wanted: String,
        declared: Vec<String>,
    },
    #[error("two different ports given: {0} in the Service name and {1} as --port")]
    TwoPorts(String, String),
    #[error("a Service is only a destination: traffic leaves from its pods, so give one of them as the source")]
    ServiceAsSource,
}
