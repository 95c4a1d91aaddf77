//! Cilium's `toServices` peer: the Services it names or selects, looked up in the inventory,
//! and what they stand for in a verdict.
//!
//! Cilium turns the peer into other peers as its agents learn the Services
//! (`pkg/policy/k8s/service.go` in its sources):
//! - a Service without a selector becomes a CIDR set of its endpoints' addresses (those
//!   that are ready: agents differ on endpoints that are not), matched as any CIDR is;
//! - a Service with a selector is ignored before Cilium 1.17, and from 1.17 becomes an
//!   endpoint selector (the Service's selector, in its namespace). Which version runs is not
//!   read, so the pods it selects are in doubt, and no other pod or address is matched.
//!
//! A reference that leaves out the namespace matches Services of every namespace, as the
//! agent's matching does.

use std::net::IpAddr;

use super::model::{Inventory, Pod, ServiceRef};
use super::selector::Selector;

/// What a `toServices` peer stands for in one inventory.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ServiceTargets {
    /// The Services picked, as `namespace/name`.
    pub services: Vec<String>,
    /// Ready endpoints of the picked Services without a selector: matched as a CIDR set.
    /// Sorted.
    pub addresses: Vec<IpAddr>,
    /// Endpoints that are not ready: whether Cilium counts them differs between its
    /// versions. Sorted.
    pub doubtful: Vec<IpAddr>,
    /// Why any address outside the cluster may be matched: picked Services without a
    /// selector whose endpoints were not read, Services that could not be read.
    pub outside_unknown: Vec<String>,
    /// Picked Services with a selector: `(namespace, selector, service)`; the pods they
    /// select are matched from Cilium 1.17 on only.
    pub selecting: Vec<(String, Selector, String)>,
    /// Namespaces whose Services are not known, where the entries may pick one: any of
    /// their pods may be matched.
    pub unread: Vec<String>,
}

impl ServiceTargets {
    /// Looks the entries' Services up in the inventory.
    pub fn resolve(refs: &[ServiceRef], inventory: &Inventory) -> ServiceTargets {
        let mut t = ServiceTargets::default();
        for r in refs {
            // The namespaces it may pick a Service in, as far as their Services are unknown.
            let scope: Vec<&str> = match &r.namespace {
                Some(want) => vec![want.as_str()],
                None => inventory
                    .namespaces
                    .iter()
                    .map(|n| n.name.as_str())
                    .collect(),
            };
            for ns in scope {
                if t.unread.iter().any(|u| u == ns) {
                    continue;
                }
                if let Some(why) = inventory.services_unknown_in(ns) {
                    t.unread.push(ns.to_string());
                    t.outside_unknown.push(why);
                }
            }
            for s in inventory.services.iter().filter(|s| r.picks(s)) {
                let key = s.key();
                if t.services.contains(&key) {
                    continue;
                }
                t.services.push(key.clone());
                match (&s.selector, &s.endpoints) {
                    (Some(labels), _) => t.selecting.push((
                        s.namespace.clone(),
                        Selector::from_match_labels(
                            labels.iter().map(|(k, v)| (k.as_str(), v.as_str())),
                        ),
                        key,
                    )),
                    (None, Some(endpoints)) => {
                        t.addresses.extend(&endpoints.ready);
                        t.doubtful.extend(&endpoints.not_ready);
                    }
                    (None, None) => t.outside_unknown.push(format!(
                        "the endpoints of Service {key} (no selector) were not read"
                    )),
                }
            }
        }
        t.addresses.sort();
        t.addresses.dedup();
        t.doubtful.sort();
        t.doubtful.dedup();
        t
    }

    /// Why the peer may match this pod (Cilium's version decides, or Services were not
    /// read), or `None` where it surely does not. Host-network pods are never matched: they
    /// are no endpoint of their own, and CIDRs do not match them.
    pub fn pod_doubt(&self, pod: &Pod) -> Option<String> {
        if pod.host_network {
            return None;
        }
        if self.unread.contains(&pod.namespace) {
            return Some(format!(
                "the Services of namespace {} could not be read",
                pod.namespace
            ));
        }
        self.selecting
            .iter()
            .find(|(ns, selector, _)| *ns == pod.namespace && selector.matches(&pod.labels))
            .map(|(_, selector, service)| {
                format!(
                    "Service {service} selects it ({selector}); Cilium 1.17 and later allow a \
                     Service's pods through toServices, earlier versions nothing, and which \
                     version runs is not known"
                )
            })
    }

    /// What the peer stands for, in words: the addresses, the pods in doubt, what is unknown.
    pub fn summary(&self) -> String {
        let mut parts = Vec::new();
        if self.services.is_empty() && self.outside_unknown.is_empty() {
            parts.push("no Service is picked: nothing".to_string());
        }
        let listed = |ips: &[IpAddr]| ips.iter().map(|ip| ip.to_string()).collect::<Vec<_>>();
        if !self.addresses.is_empty() {
            parts.push(listed(&self.addresses).join(", "));
        }
        if !self.doubtful.is_empty() {
            parts.push(format!(
                "not ready, unknown: {}",
                listed(&self.doubtful).join(", ")
            ));
        }
        for (_, selector, service) in &self.selecting {
            parts.push(format!(
                "the pods of {service} ({selector}) from Cilium 1.17 on, unknown"
            ));
        }
        parts.extend(
            self.outside_unknown
                .iter()
                .map(|why| format!("unknown: {why}")),
        );
        parts.join("; ")
    }

    /// Whether the address is one of the ready endpoints.
    pub fn holds(&self, ip: &IpAddr) -> bool {
        self.addresses.binary_search(ip).is_ok()
    }

    /// Why an address that is no ready endpoint may still be matched, if it may.
    pub fn address_doubt(&self, ip: &IpAddr) -> Option<String> {
        if self.doubtful.binary_search(ip).is_ok() {
            return Some(format!(
                "{ip} is an endpoint that is not ready, which Cilium's versions count \
                 differently"
            ));
        }
        self.outside_unknown.first().cloned()
    }
}
