//! Turns what a person types into engine terms: `ns/pod`, `pod`, `node/NAME` or an IP
//! into an endpoint; a port number or container port name into a number.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::net::IpAddr;

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::engine::{Endpoint, Index};
use super::error::{Error, Result};
use super::model::Protocol;

/// Resolves an endpoint. A bare pod name is looked up in `namespace` when given, else
/// across all namespaces (and must then be unique).
pub fn resolve_endpoint(index: &Index, text: &str, namespace: Option<&str>) -> Result<Endpoint> {
    let text = text.trim();
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Ok(index.endpoint_for_ip(ip));
    }
    let inv = index.inventory();
    if let Some((ns, name)) = text.split_once('/') {
        if let Some(pod) = index.pod_id(ns, name) {
            return Ok(Endpoint::pod(pod));
        }
        if ns == "node" {
            if let Some(node) = index.node_id(name) {
                return Ok(Endpoint::Node { node, addr: None });
            }
            if !inv.nodes_known {
                return Err(Error::NodesUnreadable {
                    name: name.to_string(),
                });
            }
            return Err(Error::NoNode {
                name: name.to_string(),
                suggestion: suggest(inv.nodes.iter().map(|n| format!("node/{}", n.name)), text),
            });
        }
        return Err(not_found(inv, text.to_string()));
    }
    let candidates: Vec<u32> = inv
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| p.name == text && namespace.is_none_or(|ns| p.namespace == ns))
        .map(|(i, _)| i as u32)
        .collect();
    match candidates.as_slice() {
        [one] => Ok(Endpoint::pod(*one)),
        [] => {
            let wanted = match namespace {
                Some(ns) => format!("{ns}/{text}"),
                None => text.to_string(),
            };
            Err(not_found(inv, wanted))
        }
        many => Err(Error::AmbiguousPod {
            name: text.to_string(),
            candidates: many.iter().map(|&i| inv.pods[i as usize].key()).collect(),
        }),
    }
}

/// Resolves a port given as a number, or as a container port name of the destination pod.
pub fn resolve_port(index: &Index, text: &str, dst: &Endpoint, protocol: Protocol) -> Result<u16> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i128>() {
        return u16::try_from(n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or(Error::PortOutOfRange(n));
    }
    if text.chars().all(|c| c.is_ascii_digit()) && !text.is_empty() {
        // Digits too many for any integer type: still a number, not a name.
        return Err(Error::PortOutOfRange(i128::MAX));
    }
    let Endpoint::Pod { pod, .. } = dst else {
        return Err(Error::NamedPortNeedsPod {
            name: text.to_string(),
        });
    };
    let p = &index.inventory().pods[*pod as usize];
    let found: Vec<_> = p
        .ports
        .iter()
        .filter(|cp| cp.name.as_deref() == Some(text))
        .collect();
    if let Some(cp) = found.iter().find(|cp| cp.protocol == protocol) {
        return Ok(cp.port);
    }
    if let Some(cp) = found.first() {
        return Err(Error::NamedPortOtherProtocol {
            pod: p.key(),
            name: text.to_string(),
            protocol: cp.protocol,
            port: cp.port,
        });
    }
    let declared: Vec<String> = p
        .ports
        .iter()
        .map(|cp| match &cp.name {
            Some(n) => format!("{n} ({}/{})", cp.protocol, cp.port),
            None => format!("{}/{}", cp.protocol, cp.port),
        })
        .collect();
    if declared.is_empty() {
        Err(Error::NoContainerPorts {
            pod: p.key(),
            name: text.to_string(),
        })
    } else {
        Err(Error::NoNamedPort {
            pod: p.key(),
            name: text.to_string(),
            declared,
        })
    }
}

/// The closest candidate, if any is close.
pub(super) fn suggest(candidates: impl Iterator<Item = String>, wanted: &str) -> Option<String> {
    let matcher = SkimMatcherV2::default();
    let mut best: Option<(i64, String)> = None;
    for c in candidates {
        if let Some(score) = matcher.fuzzy_match(&c, wanted) {
            if best
                .as_ref()
                .is_none_or(|(s, b)| score > *s || (score == *s && c < *b))
            {
                best = Some((score, c));
            }
        }
    }
    best.map(|(_, c)| c)
}

/// No pod `wanted`: with a suggestion, or, where not everything could be read, saying so
/// rather than that the pod does not exist.
fn not_found(inv: &crate::policy::model::Inventory, wanted: String) -> Error {
    if let Some(close) = suggest(inv.pods.iter().map(|p| p.key()), &wanted) {
        return Error::NoPod {
            wanted,
            suggestion: Some(close),
        };
    }
    if !inv.hidden.is_empty() {
        return Error::PodNotVisible {
            wanted,
            hidden: inv.hidden.join("; "),
        };
    }
    Error::NoPod {
        wanted,
        suggestion: None,
    }
}
