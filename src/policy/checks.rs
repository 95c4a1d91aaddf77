//! The checks `explain` makes of one peer or port against one end of a flow, shared by the
//! NetworkPolicy walk (`explain`) and the tier walk (`explain_tiers`): each says whether it
//! matched, or that it depends on what cannot be read, and why in words.
//!
//! Pure: no I/O.

use serde::Serialize;

use super::engine::{Endpoint, Flow, Index};
use super::model::{
    ContainerPort, Inventory, NamespaceScope, Pod, PortMatch, PortSpec, NAMESPACE_NAME_LABEL,
};
use super::selector::Selector;

/// One peer or port of a rule, checked.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    pub index: usize,
    pub what: String,
    pub matched: bool,
    /// Neither matched nor failed: it depends on labels that cannot be read.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub unknown: bool,
    pub reason: String,
}

pub fn pod_peer_check(
    index: &Index,
    policy_namespace: &str,
    pods: &Selector,
    namespaces: &NamespaceScope,
    pod: &Pod,
) -> (Option<bool>, String) {
    match namespaces {
        NamespaceScope::PolicyNamespace => {
            if pod.namespace != policy_namespace {
                return (
                    Some(false),
                    format!(
                        "{} is in namespace {}; a podSelector without a namespaceSelector only \
                         matches pods of the policy's namespace {}",
                        pod.name, pod.namespace, policy_namespace
                    ),
                );
            }
        }
        NamespaceScope::Selector(ns_sel) => {
            let empty = Default::default();
            let labels = index.namespace_labels(&pod.namespace).unwrap_or(&empty);
            let unreadable = index
                .namespace(&pod.namespace)
                .filter(|ns| !ns.labels_known);
            if let Some(ns) = unreadable {
                match ns_sel.matches_partly(labels, |k| ns.knows(k)) {
                    Some(true) => {}
                    Some(false) => {
                        let why = ns_sel
                            .requirements()
                            .iter()
                            .find(|r| ns.knows(&r.key) && !r.matches(labels))
                            .map(|r| format!("needs {r}"))
                            .unwrap_or_default();
                        return (Some(false), format!("namespace {} {why}", pod.namespace));
                    }
                    None => {
                        if let Some(why) = pods.mismatch(&pod.labels) {
                            return (Some(false), format!("pod {} {}", pod.key(), why));
                        }
                        let req = ns_sel
                            .unknown_requirement(|k| ns.knows(k))
                            .map(|r| r.to_string())
                            .unwrap_or_default();
                        return (
                            None,
                            format!(
                                "unknown: namespace {}'s labels cannot be read, so whether it \
                                 has {req} is not known",
                                pod.namespace
                            ),
                        );
                    }
                }
            } else if let Some(why) = ns_sel.mismatch(labels) {
                let mut reason = format!("namespace {} {}", pod.namespace, why);
                if let Some(req) = ns_sel
                    .requirements()
                    .iter()
                    .find(|r| !r.matches(labels) && !labels.contains_key(&r.key))
                {
                    if req.key == "name" || req.key == "namespace" {
                        reason.push_str(&format!(
                            " (namespaces carry {NAMESPACE_NAME_LABEL}={} automatically; a `{}` \
                             label exists only if someone set it)",
                            pod.namespace, req.key
                        ));
                    }
                }
                return (Some(false), reason);
            }
        }
    }
    match pods.mismatch(&pod.labels) {
        Some(why) => (Some(false), format!("pod {} {}", pod.key(), why)),
        None => (Some(true), format!("{} matches", pod.key())),
    }
}

pub fn check_port(
    inv: &Inventory,
    spec: &PortSpec,
    dst: &Endpoint,
    dst_ports: &[ContainerPort],
    flow: &Flow,
    i: usize,
) -> Check {
    let what = spec.to_string();
    let (matched, reason) = if spec.protocol != flow.protocol {
        (
            false,
            format!(
                "protocol {} does not match {}",
                spec.protocol, flow.protocol
            ),
        )
    } else {
        match &spec.port {
            PortMatch::Any => (true, format!("every {} port", spec.protocol)),
            PortMatch::Range { from, to } => {
                if (*from..=*to).contains(&flow.port) {
                    (true, format!("{} is in {}", flow.port, what))
                } else if from == to {
                    (false, format!("port {} is not {}", flow.port, from))
                } else {
                    (
                        false,
                        format!("port {} is outside {}-{}", flow.port, from, to),
                    )
                }
            }
            PortMatch::Named { name } => named_port_check(inv, name, spec, dst, dst_ports, flow),
        }
    };
    Check {
        index: i,
        what,
        matched,
        unknown: false,
        reason,
    }
}

fn named_port_check(
    inv: &Inventory,
    name: &str,
    spec: &PortSpec,
    dst: &Endpoint,
    dst_ports: &[ContainerPort],
    flow: &Flow,
) -> (bool, String) {
    let Endpoint::Pod { pod, .. } = dst else {
        return (
            false,
            format!("the named port {name} resolves only on a destination pod, and the destination is not a pod"),
        );
    };
    let key = inv.pods[*pod as usize].key();
    let found: Vec<&ContainerPort> = dst_ports
        .iter()
        .filter(|cp| cp.name.as_deref() == Some(name) && cp.protocol == spec.protocol)
        .collect();
    if found.is_empty() {
        return (
            false,
            format!("{key} has no {} container port named {name}", spec.protocol),
        );
    }
    if let Some(cp) = found.iter().find(|cp| cp.port == flow.port) {
        (true, format!("{name} is port {} on {key}", cp.port))
    } else {
        let numbers: Vec<String> = found.iter().map(|cp| cp.port.to_string()).collect();
        (
            false,
            format!(
                "{name} is port {} on {key}, not {}",
                numbers.join(", "),
                flow.port
            ),
        )
    }
}
