//! Turns what a person types into engine terms: `ns/pod`, `pod`, `node/NAME` or an IP
//! into an endpoint; a port number or container port name into a number.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::net::IpAddr;

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use super::engine::{Endpoint, Index};
use super::model::Protocol;

/// Resolves an endpoint. A bare pod name is looked up in `namespace` when given, else
/// across all namespaces (and must then be unique).
pub fn resolve_endpoint(
    index: &Index,
    text: &str,
    namespace: Option<&str>,
) -> Result<Endpoint, String> {
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
            return Err(format!(
                "no node named {name}{}",
                suggest(inv.nodes.iter().map(|n| format!("node/{}", n.name)), text)
            ));
        }
        return Err(format!(
            "no pod {text}{}",
            suggest(inv.pods.iter().map(|p| p.key()), text)
        ));
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
            Err(format!(
                "no pod {wanted}{}",
                suggest(inv.pods.iter().map(|p| p.key()), &wanted)
            ))
        }
        many => {
            let names: Vec<String> = many.iter().map(|&i| inv.pods[i as usize].key()).collect();
            Err(format!(
                "pod name {text} is ambiguous: {}; write namespace/name",
                names.join(", ")
            ))
        }
    }
}

/// Resolves a port given as a number, or as a container port name of the destination pod.
pub fn resolve_port(
    index: &Index,
    text: &str,
    dst: &Endpoint,
    protocol: Protocol,
) -> Result<u16, String> {
    let text = text.trim();
    if let Ok(n) = text.parse::<i128>() {
        return u16::try_from(n)
            .ok()
            .filter(|p| *p != 0)
            .ok_or_else(|| format!("port {n} is out of range: must be between 1 and 65535"));
    }
    let Endpoint::Pod { pod, .. } = dst else {
        return Err(format!(
            "the named port {text} can only be resolved on a destination pod; give a number"
        ));
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
        return Err(format!(
            "{} has port {text} only for {} (port {}); use --protocol {}",
            p.key(),
            cp.protocol,
            cp.port,
            cp.protocol
        ));
    }
    let names: Vec<String> = p
        .ports
        .iter()
        .map(|cp| match &cp.name {
            Some(n) => format!("{n} ({}/{})", cp.protocol, cp.port),
            None => format!("{}/{}", cp.protocol, cp.port),
        })
        .collect();
    if names.is_empty() {
        Err(format!(
            "{} declares no container ports, so {text:?} names nothing; give a number",
            p.key()
        ))
    } else {
        Err(format!(
            "{} has no container port named {text:?}; it has {}",
            p.key(),
            names.join(", ")
        ))
    }
}

/// `; did you mean X?` for the closest candidate, or nothing.
fn suggest(candidates: impl Iterator<Item = String>, wanted: &str) -> String {
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
    best.map(|(_, c)| format!("; did you mean {c}?"))
        .unwrap_or_default()
}
