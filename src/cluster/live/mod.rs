//! The live cluster: connect with a kubeconfig context, find out what this user may read,
//! list and watch Namespaces, Pods, NetworkPolicies and Nodes, and hand the engine a new
//! [`World`] shortly after anything changes.
//!
//! Strictly read-only: the only requests are GET lists and watches. Permissions are found by
//! trying a list of one object (a 403 answers the question), never by creating access reviews.

pub mod agents;
pub mod connect;
pub mod install;
mod watch;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::discovery::v1 as discovery;
use k8s_openapi::api::networking::v1 as net;
use kube::api::{Api, ListParams};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tokio::time::Instant;

pub use connect::{connect, Connection, LiveError, Target};
pub use watch::PAGE_SIZE;

use watch::{describe, Change, Item, Key, Watched};

use super::{convert, World};
use crate::now_ms;
use crate::policy::model::Inventory;
use crate::policy::set::PolicySet;

/// After a change, wait this long for quiet before building a snapshot...
pub const QUIET: Duration = Duration::from_millis(100);
/// ...but never longer than this after the first change.
pub const MAX_DELAY: Duration = Duration::from_millis(500);
/// How many namespaces are probed at once when cluster-wide lists are forbidden.
const PROBE_CONCURRENCY: usize = 16;

/// Where a kind can be read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    Cluster,
    /// Cluster-wide lists are forbidden; these namespaces can be read one by one.
    Namespaces(Vec<String>),
}

/// What this user may read, found before watching.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Access {
    pub namespaces: bool,
    pub nodes: bool,
    pub pods: Scope,
    pub policies: Scope,
    /// Services: only to resolve a destination given as a Service.
    pub services: Scope,
    /// Calico's staged policies, where the API server serves them and they may be read.
    pub staged: Option<Scope>,
    /// The kinds of sig-network's policy API (cluster-scoped tiers) that are served and may
    /// be read, by resource name.
    pub tier_kinds: Vec<&'static str>,
    /// Cilium's policy kinds that are served and may be read cluster-wide.
    pub cilium_kinds: Vec<&'static str>,
    /// Calico's policy kinds (projectcalico.org/v3) served and readable cluster-wide.
    pub calico_kinds: Vec<&'static str>,
    /// The version of Istio's AuthorizationPolicy served and readable cluster-wide.
    pub istio: Option<&'static str>,
    /// False when a served tier kind cannot be read (or what is served cannot be found out):
    /// such policies may decide any flow, so every verdict is unknown.
    pub tiers_known: bool,
    /// False when Calico's NetworkSets, GlobalNetworkSets or HostEndpoints are served but
    /// cannot be read: a Calico selector against an address no pod has is then unknown.
    pub calico_sets_known: bool,
    /// Whether ServiceAccounts are read (cluster-wide): where Calico's policies are, for its
    /// service account selectors.
    pub service_accounts: bool,
    /// Whether EndpointSlices are read (cluster-wide, all but those made from a Service's pods):
    /// where Cilium's or Calico's policies are, for `toServices` and `services`.
    pub endpoint_slices: bool,
    /// Whether Cilium's host firewall is on, as its agent's configuration says (`None`:
    /// Cilium's clusterwide policies are not read, or the configuration cannot be).
    pub cilium_host_firewall: Option<bool>,
    /// What cannot be seen, one sentence each; shown in the UI and printed by commands.
    pub hidden: Vec<String>,
}

/// The state of the connection, for the status bar.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Link {
    /// Listing for the first time.
    Connecting,
    /// Every watch is open: the snapshot is current.
    Live,
    /// A list or watch failed and is being retried; the data may be stale since `since_ms`.
    Reconnecting { since_ms: u64, error: String },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Status {
    pub context: String,
    pub server: String,
    pub link: Link,
    /// When the last snapshot was built from complete lists (ms since the epoch).
    pub synced_ms: Option<u64>,
    pub hidden: Vec<String>,
    /// Objects that could not be used (invalid from the engine's point of view).
    pub warnings: Vec<String>,
}

impl Status {
    pub fn is_stale(&self) -> bool {
        !matches!(self.link, Link::Live)
    }
}

/// What a session reports.
#[derive(Debug)]
pub enum Update {
    Snapshot(World, Status),
    Status(Status),
}

/// `Ok(false)` when the list is forbidden; other failures are errors.
async fn can_list<K: Watched>(conn: &Connection, api: Api<K>) -> Result<bool, LiveError> {
    match api.list(&ListParams::default().limit(1)).await {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(false),
        Err(e) => Err(unreachable(conn, &e)),
    }
}

fn unreachable(conn: &Connection, e: &kube::Error) -> LiveError {
    LiveError(format!(
        "cannot read from the API server {} (context {}): {}",
        conn.server,
        conn.context,
        describe(e)
    ))
}

/// Which namespaces allow listing `K` one by one.
async fn readable_in<K: Watched + kube::Resource<Scope = kube::core::NamespaceResourceScope>>(
    conn: &Connection,
    candidates: &[String],
) -> Result<Vec<String>, LiveError> {
    let results: Vec<(String, Result<bool, LiveError>)> =
        futures::stream::iter(candidates.iter().cloned())
            .map(|ns| {
                let api: Api<K> = Api::namespaced(conn.client.clone(), &ns);
                async move { (ns, can_list(conn, api).await) }
            })
            .buffer_unordered(PROBE_CONCURRENCY)
            .collect()
            .await;
    let mut ok = Vec::new();
    for (ns, r) in results {
        if r? {
            ok.push(ns);
        }
    }
    ok.sort();
    Ok(ok)
}

fn sample(names: &[String]) -> String {
    const SHOWN: usize = 5;
    let mut text = names
        .iter()
        .take(SHOWN)
        .cloned()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        text.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    text
}

/// What Calico's API server serves of projectcalico.org/v3, by resource name: one discovery
/// request. Absent (404) is the usual case; `None` when discovery is forbidden.
async fn calico_served(conn: &Connection) -> Result<Option<Vec<String>>, LiveError> {
    match conn
        .client
        .list_api_group_resources("projectcalico.org/v3")
        .await
    {
        Ok(list) => Ok(Some(
            list.resources.iter().map(|r| r.name.clone()).collect(),
        )),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Some(Vec::new())),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
        Err(e) => Err(unreachable(conn, &e)),
    }
}

/// Whether a projectcalico.org/v3 resource, by its plural, may be listed cluster-wide.
async fn can_list_calico(conn: &Connection, plural: &str) -> Result<bool, LiveError> {
    let client = conn.client.clone();
    match plural {
        "networkpolicies" => can_list(conn, Api::<watch::CalicoNetworkPolicy>::all(client)).await,
        "globalnetworkpolicies" => {
            can_list(conn, Api::<watch::CalicoGlobalNetworkPolicy>::all(client)).await
        }
        "tiers" => can_list(conn, Api::<watch::CalicoTier>::all(client)).await,
        "stagednetworkpolicies" => {
            can_list(conn, Api::<watch::StagedCalicoNetworkPolicy>::all(client)).await
        }
        "stagedglobalnetworkpolicies" => {
            can_list(
                conn,
                Api::<watch::StagedCalicoGlobalNetworkPolicy>::all(client),
            )
            .await
        }
        "networksets" => can_list(conn, Api::<watch::CalicoNetworkSet>::all(client)).await,
        "globalnetworksets" => {
            can_list(conn, Api::<watch::CalicoGlobalNetworkSet>::all(client)).await
        }
        _ => can_list(conn, Api::<watch::CalicoHostEndpoint>::all(client)).await,
    }
}

/// The kinds of `policy.networking.k8s.io` the engine evaluates, by group version.
const TIER_KINDS: [(&str, &[&str]); 2] = [
    (
        "policy.networking.k8s.io/v1alpha1",
        &["adminnetworkpolicies", "baselineadminnetworkpolicies"],
    ),
    (
        "policy.networking.k8s.io/v1alpha2",
        &["clusternetworkpolicies"],
    ),
];

/// Which tier kinds the API server serves, by resource name: two discovery requests. Absent
/// (404) means the cluster has no such policies. `None` when discovery is forbidden: whether
/// such policies exist cannot be known.
async fn tier_kinds_served(conn: &Connection) -> Result<Option<Vec<&'static str>>, LiveError> {
    let mut served = Vec::new();
    for (group_version, names) in TIER_KINDS {
        match conn.client.list_api_group_resources(group_version).await {
            Ok(list) => served.extend(
                names
                    .iter()
                    .copied()
                    .filter(|n| list.resources.iter().any(|r| r.name == *n)),
            ),
            Err(kube::Error::Api(s)) if s.code == 404 => {}
            Err(kube::Error::Api(s)) if s.code == 403 => return Ok(None),
            Err(e) => return Err(unreachable(conn, &e)),
        }
    }
    Ok(Some(served))
}

/// Cilium's policy kinds the engine evaluates.
/// The label an EndpointSlice's manager sets, and the value the EndpointSlice controller
/// (which makes the slices of Services with a selector) gives it.
const MANAGED_BY: &str = "endpointslice.kubernetes.io/managed-by";
const SLICE_CONTROLLER: &str = "endpointslice-controller.k8s.io";

const CILIUM_KINDS: [&str; 2] = ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"];

/// Which of Cilium's policy kinds the API server serves: one discovery request. Absent
/// (404): the cluster does not run Cilium. `None` when discovery is forbidden.
async fn cilium_kinds_served(conn: &Connection) -> Result<Option<Vec<&'static str>>, LiveError> {
    match conn.client.list_api_group_resources("cilium.io/v2").await {
        Ok(list) => Ok(Some(
            CILIUM_KINDS
                .iter()
                .copied()
                .filter(|n| list.resources.iter().any(|r| r.name == *n))
                .collect(),
        )),
        Err(kube::Error::Api(s)) if s.code == 404 => Ok(Some(Vec::new())),
        Err(kube::Error::Api(s)) if s.code == 403 => Ok(None),
        Err(e) => Err(unreachable(conn, &e)),
    }
}

/// Which version of Istio's AuthorizationPolicy the API server serves (v1 preferred), and
/// whether its cluster-wide list may be read. Shown only, so forbidden is said, not unknown.
async fn istio_served(conn: &Connection) -> Result<Option<(&'static str, bool)>, LiveError> {
    for version in ["v1", "v1beta1"] {
        let group = format!("security.istio.io/{version}");
        match conn.client.list_api_group_resources(&group).await {
            Ok(list)
                if list
                    .resources
                    .iter()
                    .any(|r| r.name == "authorizationpolicies") =>
            {
                let client = conn.client.clone();
                let readable = match version {
                    "v1" => {
                        can_list(conn, Api::<watch::AuthorizationPolicyV1>::all(client)).await?
                    }
                    _ => {
                        can_list(conn, Api::<watch::AuthorizationPolicyV1beta1>::all(client))
                            .await?
                    }
                };
                return Ok(Some((version, readable)));
            }
            Ok(_) => {}
            Err(kube::Error::Api(s)) if s.code == 404 || s.code == 403 => {}
            Err(e) => return Err(unreachable(conn, &e)),
        }
    }
    Ok(None)
}

/// Whether the cluster-wide list of a Cilium kind may be read.
async fn can_list_cilium(conn: &Connection, plural: &str) -> Result<bool, LiveError> {
    let client = conn.client.clone();
    match plural {
        "ciliumnetworkpolicies" => {
            can_list(conn, Api::<watch::CiliumNetworkPolicy>::all(client)).await
        }
        _ => {
            can_list(
                conn,
                Api::<watch::CiliumClusterwideNetworkPolicy>::all(client),
            )
            .await
        }
    }
}

/// Whether Cilium's host firewall is on, as `enable-host-firewall` in the agents'
/// configuration (the ConfigMap `kube-system/cilium-config`) says; absent, it is off, as
/// Cilium's default. `None` where the ConfigMap is not there or cannot be read: host policies
/// then decide what they would decide as unknown, until `--cilium-host-firewall` says.
async fn host_firewall(conn: &Connection) -> Result<Option<bool>, LiveError> {
    let (namespace, name) = convert::CILIUM_CONFIG;
    let api = Api::<core::ConfigMap>::namespaced(conn.client.clone(), namespace);
    match api.get_opt(name).await {
        Ok(Some(config)) => Ok(Some(convert::cilium_host_firewall(&config))),
        Ok(None) => {
            tracing::info!("kube-system/cilium-config not found: Cilium's host firewall unknown");
            Ok(None)
        }
        Err(kube::Error::Api(s)) if s.code == 403 => {
            tracing::info!("kube-system/cilium-config forbidden: Cilium's host firewall unknown");
            Ok(None)
        }
        Err(e) => Err(unreachable(conn, &e)),
    }
}

/// Whether the cluster-wide list of a tier kind may be read.
async fn can_list_tier(conn: &Connection, plural: &str) -> Result<bool, LiveError> {
    let client = conn.client.clone();
    match plural {
        "adminnetworkpolicies" => {
            can_list(conn, Api::<watch::AdminNetworkPolicy>::all(client)).await
        }
        "baselineadminnetworkpolicies" => {
            can_list(conn, Api::<watch::BaselineAdminNetworkPolicy>::all(client)).await
        }
        _ => can_list(conn, Api::<watch::ClusterNetworkPolicy>::all(client)).await,
    }
}

impl Access {
    /// Neither pods nor NetworkPolicies can be read anywhere: nothing can be answered.
    pub fn reads_nothing(&self) -> bool {
        let none = |s: &Scope| matches!(s, Scope::Namespaces(l) if l.is_empty());
        none(&self.pods) && none(&self.policies)
    }
}

/// Finds what may be read: cluster-wide lists first, namespace by namespace if those are
/// forbidden. Only GET requests with `limit=1`.
pub async fn discover(conn: &Connection) -> Result<Access, LiveError> {
    let client = &conn.client;
    let namespaces = can_list(conn, Api::<core::Namespace>::all(client.clone())).await?;
    let nodes = can_list(conn, Api::<core::Node>::all(client.clone())).await?;
    let pods_all = can_list(conn, Api::<core::Pod>::all(client.clone())).await?;
    let policies = Api::<net::NetworkPolicy>::all(client.clone());
    let policies_all = can_list(conn, policies).await?;
    let services_all = can_list(conn, Api::<core::Service>::all(client.clone())).await?;

    let mut hidden = Vec::new();
    if !nodes {
        hidden.push(
            "nodes (forbidden): verdicts that depend on node addresses are unknown".to_string(),
        );
    }
    if !namespaces {
        hidden.push(
            "namespace labels (forbidden): only kubernetes.io/metadata.name is known; \
             verdicts that depend on other namespace labels are unknown"
                .to_string(),
        );
    }
    // Cluster-scoped tier policies: each served kind must be readable, or nothing is certain.
    let mut tier_kinds = Vec::new();
    let mut tiers_known = true;
    match tier_kinds_served(conn).await? {
        None => {
            tiers_known = false;
            hidden.push(
                "whether the cluster has AdminNetworkPolicies (API discovery of \
                 policy.networking.k8s.io forbidden): they may decide any flow, so every \
                 verdict is unknown"
                    .to_string(),
            );
        }
        Some(served) => {
            for plural in served {
                if can_list_tier(conn, plural).await? {
                    tier_kinds.push(plural);
                } else {
                    tiers_known = false;
                    hidden.push(format!(
                        "{plural} (forbidden): these cluster-scoped policies may decide any \
                         flow, so every verdict is unknown"
                    ));
                }
            }
        }
    }
    // Cilium's policies deny before every allow and isolate like NetworkPolicies: each
    // served kind must be readable cluster-wide, or nothing is certain.
    let mut cilium_kinds = Vec::new();
    match cilium_kinds_served(conn).await? {
        None => {
            tiers_known = false;
            hidden.push(
                "whether the cluster has CiliumNetworkPolicies (API discovery of cilium.io \
                 forbidden): they may decide any flow, so every verdict is unknown"
                    .to_string(),
            );
        }
        Some(served) => {
            for plural in served {
                if can_list_cilium(conn, plural).await? {
                    cilium_kinds.push(plural);
                } else {
                    tiers_known = false;
                    hidden.push(format!(
                        "{plural} (forbidden, cluster-wide list): Cilium's policies may deny \
                         or allow any flow, so every verdict is unknown"
                    ));
                }
            }
        }
    }
    // Host policies act only where the host firewall is on, which the agent's configuration
    // says; read once, as the agents read it at start.
    let cilium_host_firewall = if cilium_kinds.contains(&"ciliumclusterwidenetworkpolicies") {
        host_firewall(conn).await?
    } else {
        None
    };
    // Istio's AuthorizationPolicies are shown, never judged: forbidden is only said.
    let istio = match istio_served(conn).await? {
        Some((version, true)) => Some(version),
        Some((_, false)) => {
            hidden.push(
                "authorizationpolicies (forbidden): Istio authorization that may also apply to \
                 a pod is not shown"
                    .to_string(),
            );
            None
        }
        None => None,
    };
    // Calico's own policies select pods whose verdicts they may change: each served kind
    // must be readable cluster-wide. Its staged policies: `None` where not served.
    let calico = calico_served(conn).await?;
    let served = |plural: &str| {
        calico
            .as_ref()
            .is_some_and(|l| l.iter().any(|r| r == plural))
    };
    let mut calico_kinds = Vec::new();
    for plural in ["networkpolicies", "globalnetworkpolicies"] {
        if !served(plural) {
            continue;
        }
        if can_list_calico(conn, plural).await? {
            calico_kinds.push(plural);
        } else {
            tiers_known = false;
            hidden.push(format!(
                "Calico {plural} (projectcalico.org, forbidden): they may decide any flow, so \
                 every verdict is unknown"
            ));
        }
    }
    // What places, stages and completes Calico's policies, where they are read: Tier objects
    // (a tier's policies cannot be placed without its own), staged policies (changes for
    // audit mode), and the sets of addresses its selectors match besides pods.
    let mut calico_sets_known = true;
    let sets = "whether a Calico selector matches an address that is no pod's is unknown";
    let staged = "audit mode does not see the changes they stage";
    let others: [(&str, &str); 6] = [
        (
            "tiers",
            "policies of tiers other than default cannot be placed, so verdicts they may \
             decide are unknown",
        ),
        ("stagednetworkpolicies", staged),
        ("stagedglobalnetworkpolicies", staged),
        ("networksets", sets),
        ("globalnetworksets", sets),
        ("hostendpoints", sets),
    ];
    // Staged policies are read for audit mode even where the policies themselves cannot be.
    let policies_read = !calico_kinds.is_empty();
    for (plural, consequence) in others {
        if !served(plural) || (!policies_read && consequence != staged) {
            continue;
        }
        if can_list_calico(conn, plural).await? {
            calico_kinds.push(plural);
            continue;
        }
        if consequence == sets {
            calico_sets_known = false;
        }
        hidden.push(format!(
            "Calico {plural} (projectcalico.org, forbidden cluster-wide): {consequence}"
        ));
    }
    // Calico's service account selectors match ServiceAccounts' labels.
    let service_accounts = !calico_kinds.is_empty()
        && can_list(conn, Api::<core::ServiceAccount>::all(client.clone())).await?;
    if !calico_kinds.is_empty() && !service_accounts {
        hidden.push(
            "serviceaccounts (forbidden cluster-wide): Calico's service account selectors \
             cannot be judged, so what they decide is unknown"
                .to_string(),
        );
    }
    // Cilium's toServices and Calico's services match the endpoints of Services, which their
    // EndpointSlices hold.
    let by_service = !cilium_kinds.is_empty() || !calico_kinds.is_empty();
    let endpoint_slices =
        by_service && can_list(conn, Api::<discovery::EndpointSlice>::all(client.clone())).await?;
    if by_service && !endpoint_slices {
        hidden.push(
            "endpointslices (discovery.k8s.io, forbidden cluster-wide): the endpoints of \
             Services are not known beyond their pods, so what Cilium's toServices and \
             Calico's services matches decide is unknown"
                .to_string(),
        );
    }
    let staged_served = calico
        .as_ref()
        .is_some_and(|l| l.iter().any(|r| r == "stagedkubernetesnetworkpolicies"));
    let staged_all = match staged_served {
        false => None,
        true => Some(
            can_list(
                conn,
                Api::<watch::StagedKubernetesNetworkPolicy>::all(client.clone()),
            )
            .await?,
        ),
    };
    let candidates: Vec<String> =
        if pods_all && policies_all && services_all && staged_all != Some(false) {
            Vec::new()
        } else if namespaces {
            let api = Api::<core::Namespace>::all(client.clone());
            let (names, _) = watch::list_pages(&api, |n| n.metadata.name.clone())
                .await
                .map_err(|e| unreachable(conn, &e))?;
            names.into_iter().flatten().collect()
        } else {
            vec![conn.namespace.clone()]
        };

    let mut scope_of = |all: bool, what: &str, readable: Vec<String>| -> Scope {
        if all {
            return Scope::Cluster;
        }
        let unreadable: Vec<String> = candidates
            .iter()
            .filter(|c| !readable.contains(c))
            .cloned()
            .collect();
        let outside = if namespaces {
            if unreadable.is_empty() {
                None
            } else {
                Some(format!(
                    "{what} in {} namespace(s) (forbidden): {}",
                    unreadable.len(),
                    sample(&unreadable)
                ))
            }
        } else {
            Some(format!(
                "{what} outside namespace(s) {} (cluster-wide list forbidden; other namespaces \
                 cannot be listed)",
                if readable.is_empty() {
                    "(none)".to_string()
                } else {
                    sample(&readable)
                }
            ))
        };
        hidden.extend(outside);
        Scope::Namespaces(readable)
    };
    let pod_readable = if pods_all {
        Vec::new()
    } else {
        readable_in::<core::Pod>(conn, &candidates).await?
    };
    let policy_readable = if policies_all {
        Vec::new()
    } else {
        readable_in::<net::NetworkPolicy>(conn, &candidates).await?
    };
    let service_readable = if services_all {
        Vec::new()
    } else {
        readable_in::<core::Service>(conn, &candidates).await?
    };
    let pods = scope_of(pods_all, "pods", pod_readable);
    let policies = scope_of(policies_all, "NetworkPolicies", policy_readable);
    let services = scope_of(
        services_all,
        "Services (a destination given as a Service there cannot be resolved)",
        service_readable,
    );
    let staged = match staged_all {
        None => None,
        Some(all) => {
            let readable = if all {
                Vec::new()
            } else {
                readable_in::<watch::StagedKubernetesNetworkPolicy>(conn, &candidates).await?
            };
            Some(scope_of(
                all,
                "staged policies (StagedKubernetesNetworkPolicy)",
                readable,
            ))
        }
    };
    Ok(Access {
        namespaces,
        nodes,
        pods,
        policies,
        services,
        staged,
        tier_kinds,
        cilium_kinds,
        calico_kinds,
        istio,
        tiers_known,
        calico_sets_known,
        service_accounts,
        endpoint_slices,
        cilium_host_firewall,
        hidden,
    })
}

/// One list-and-watch loop's part of the cache.
struct Part {
    label: String,
    store: BTreeMap<Key, Item>,
    listed: bool,
    failing: Option<String>,
}

/// Merges what the loops report, and builds snapshots.
struct Cache {
    parts: Vec<Part>,
    access: Access,
    status: Status,
    out: mpsc::Sender<Update>,
}

impl Cache {
    fn apply(&mut self, id: usize, change: Change) -> bool {
        let part = &mut self.parts[id];
        match change {
            Change::Listed(items) => {
                tracing::debug!(part = %part.label, objects = items.len(), "listed");
                if let Some(error) = part.failing.take() {
                    tracing::info!(part = %part.label, %error, "listed again after a failure");
                }
                part.store = items.into_iter().collect();
                part.listed = true;
                true
            }
            Change::Applied(applied) => {
                let (key, item) = *applied;
                part.store.insert(key, item);
                part.failing = None;
                true
            }
            Change::Deleted(key) => {
                part.store.remove(&key);
                part.failing = None;
                true
            }
            Change::Watching => {
                if let Some(error) = part.failing.take() {
                    tracing::info!(part = %part.label, %error, "watching again after a failure");
                }
                false
            }
            Change::Failed(error) => {
                tracing::warn!(part = %part.label, %error, "list or watch failed; retrying");
                part.failing = Some(error);
                false
            }
        }
    }

    fn all_listed(&self) -> bool {
        self.parts.iter().all(|p| p.listed)
    }

    /// The link as the parts see it; keeps the time of the first failure.
    fn link(&self) -> Link {
        if let Some(p) = self.parts.iter().find(|p| p.failing.is_some()) {
            let since_ms = match &self.status.link {
                Link::Reconnecting { since_ms, .. } => *since_ms,
                _ => now_ms(),
            };
            let error = format!("{}: {}", p.label, p.failing.as_deref().unwrap_or(""));
            return Link::Reconnecting { since_ms, error };
        }
        if self.all_listed() {
            Link::Live
        } else {
            Link::Connecting
        }
    }

    fn world(&self) -> (World, Vec<String>) {
        let mut namespaces = BTreeMap::new();
        let mut pods = Vec::new();
        let mut nodes = Vec::new();
        let mut services = Vec::new();
        let mut service_accounts = Vec::new();
        let mut slices = Vec::new();
        let mut policies = Vec::new();
        let mut staged = Vec::new();
        let mut tiers = Vec::new();
        let mut istio = Vec::new();
        let mut calico_tiers = Vec::new();
        let mut calico_sets = Vec::new();
        let mut warnings = Vec::new();
        for part in &self.parts {
            for item in part.store.values() {
                match item {
                    Item::Namespace(ns) => {
                        namespaces.insert(ns.name.clone(), ns.clone());
                    }
                    Item::Pod(p) => pods.push(p.clone()),
                    Item::Node(n) => nodes.push(n.clone()),
                    Item::Service(s) => services.push(s.clone()),
                    Item::ServiceAccount(a) => service_accounts.push(a.clone()),
                    Item::EndpointSlice(e) => slices.push(e.clone()),
                    Item::Policy(p) => policies.push(p.clone()),
                    Item::Staged(s) => staged.push(s.clone()),
                    Item::Tier(t) => tiers.push(t.clone()),
                    Item::Istio(p) => istio.push(p.clone()),
                    Item::CalicoTier(t) => calico_tiers.push(t.clone()),
                    Item::CalicoSet(t) => calico_sets.push(t.clone()),
                    Item::Cilium(parts) => {
                        for c in parts {
                            policies.push(c.allow.clone());
                            tiers.extend(c.deny.clone());
                        }
                    }
                    Item::Finished => {}
                    Item::Invalid(why) => warnings.push(why.clone()),
                }
            }
        }
        // Namespaces not readable (or deleted while their objects linger) still exist with
        // the label the API server guarantees.
        let mut referenced: BTreeSet<String> = BTreeSet::new();
        referenced.extend(
            pods.iter()
                .map(|p: &crate::policy::model::Pod| p.namespace.clone()),
        );
        referenced.extend(
            policies
                .iter()
                .filter(|p: &&crate::policy::model::Policy| !p.namespace.is_empty())
                .map(|p: &crate::policy::model::Policy| p.namespace.clone()),
        );
        for scope in [&self.access.pods, &self.access.policies] {
            if let Scope::Namespaces(list) = scope {
                referenced.extend(list.iter().cloned());
            }
        }
        for ns in referenced {
            namespaces.entry(ns.clone()).or_insert_with(|| {
                if self.access.namespaces {
                    convert::implicit_namespace(&ns)
                } else {
                    convert::unreadable_namespace(&ns)
                }
            });
        }
        // Where NetworkPolicies can be read namespace by namespace only, the others' are
        // unknown: whether their pods are isolated cannot be told.
        if let Scope::Namespaces(readable) = &self.access.policies {
            for ns in namespaces.values_mut() {
                ns.policies_known = readable.contains(&ns.name);
            }
        }
        if let Scope::Namespaces(readable) = &self.access.services {
            for ns in namespaces.values_mut() {
                ns.services_known = readable.contains(&ns.name);
            }
        }
        nodes.sort_by(|a: &crate::policy::model::Node, b| a.name.cmp(&b.name));
        // Every slice of a Service without a selector is watched where any is.
        crate::policy::model::attach_endpoints(
            &mut services,
            &slices,
            [self.access.endpoint_slices; 2],
        );
        let mut inventory = Inventory {
            namespaces: namespaces.into_values().collect(),
            pods,
            nodes,
            services,
            service_accounts,
            nodes_known: self.access.nodes,
            hidden: self.access.hidden.clone(),
        };
        inventory.normalize();
        warnings.sort();
        let mut set = PolicySet::new(policies)
            .with_tiers(tiers)
            .with_calico_tiers(calico_tiers)
            .with_calico_sets(calico_sets)
            .with_istio(istio);
        set.tiers_known = self.access.tiers_known;
        set.calico_sets_known = self.access.calico_sets_known;
        set.cilium_host_firewall = self.access.cilium_host_firewall;
        (World::new(inventory, set).with_staged(staged), warnings)
    }

    async fn send_status(&mut self) -> bool {
        let link = self.link();
        if link == self.status.link {
            return true;
        }
        self.status.link = link;
        self.out
            .send(Update::Status(self.status.clone()))
            .await
            .is_ok()
    }

    async fn flush(&mut self) -> bool {
        let started = std::time::Instant::now();
        let (world, warnings) = self.world();
        tracing::debug!(
            pods = world.inventory.pods.len(),
            policies = world.policies.policies.len(),
            ms = started.elapsed().as_millis() as u64,
            "world assembled from the watches"
        );
        self.status.link = self.link();
        self.status.synced_ms = Some(now_ms());
        self.status.warnings = warnings;
        self.out
            .send(Update::Snapshot(world, self.status.clone()))
            .await
            .is_ok()
    }

    async fn run(mut self, mut rx: mpsc::Receiver<(usize, Change)>) {
        // When the pending changes must be turned into a snapshot.
        let mut pending: Option<(Instant, Instant)> = None;
        loop {
            let next = match pending {
                Some((first, last)) if self.all_listed() => {
                    let due = (last + QUIET).min(first + MAX_DELAY);
                    match tokio::time::timeout_at(due, rx.recv()).await {
                        Ok(v) => v,
                        Err(_) => {
                            pending = None;
                            if !self.flush().await {
                                return;
                            }
                            continue;
                        }
                    }
                }
                _ => rx.recv().await,
            };
            let Some((id, change)) = next else {
                return;
            };
            let was_listed = self.all_listed();
            let now = Instant::now();
            if self.apply(id, change) {
                pending = Some(match pending {
                    Some((first, _)) => (first, now),
                    None => (now, now),
                });
            }
            // The first complete list goes out at once.
            if !was_listed && self.all_listed() {
                pending = None;
                if !self.flush().await {
                    return;
                }
                continue;
            }
            if !self.send_status().await {
                return;
            }
        }
    }
}

/// The list-and-watch loops being started, with their parts of the cache.
struct Loops {
    parts: Vec<Part>,
    tasks: Vec<JoinHandle<()>>,
    tx: mpsc::Sender<(usize, Change)>,
}

impl Loops {
    fn add<K: Watched>(&mut self, label: String, api: Api<K>) {
        self.add_selected(label, api, None);
    }

    /// A loop over the objects a label selector picks.
    fn add_selected<K: Watched>(&mut self, label: String, api: Api<K>, labels: Option<String>) {
        let id = self.parts.len();
        self.parts.push(Part {
            label,
            store: BTreeMap::new(),
            listed: false,
            failing: None,
        });
        self.tasks
            .push(tokio::spawn(watch::run(api, labels, id, self.tx.clone())));
    }
}

/// A running connection: watch loops and the cache, ended when dropped.
pub struct Session {
    pub connection: Connection,
    pub access: Access,
    rx: mpsc::Receiver<Update>,
    tasks: Vec<JoinHandle<()>>,
}

impl Drop for Session {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl Session {
    /// Finds the user's access and starts watching. Must run inside a tokio runtime.
    pub async fn open(connection: Connection) -> Result<Session, LiveError> {
        let access = discover(&connection).await?;
        if access.reads_nothing() {
            return Err(LiveError(format!(
                "nothing could be read from {} (context {}): pods and NetworkPolicies are \
                 forbidden in every namespace tried ({}); a reader needs get, list and watch on \
                 namespaces, nodes, pods and networkpolicies (deploy/reader-rbac.yaml grants \
                 exactly these)",
                connection.server, connection.context, connection.namespace
            )));
        }
        let client = &connection.client;
        let (change_tx, change_rx) = mpsc::channel::<(usize, Change)>(1024);
        let mut loops = Loops {
            parts: Vec::new(),
            tasks: Vec::new(),
            tx: change_tx,
        };
        if access.namespaces {
            loops.add(
                "namespaces".into(),
                Api::<core::Namespace>::all(client.clone()),
            );
        }
        if access.nodes {
            loops.add("nodes".into(), Api::<core::Node>::all(client.clone()));
        }
        if access.endpoint_slices {
            // Only the slices the EndpointSlice controller does not make: those of Services
            // without a selector (written by hand, or mirrored from Endpoints), and any a
            // Service with a selector has besides. The controller's own, one or more per
            // Service, hold the pods its selector picks, which the pods already tell.
            loops.add_selected(
                "endpointslices".into(),
                Api::<discovery::EndpointSlice>::all(client.clone()),
                Some(format!("{MANAGED_BY}!={SLICE_CONTROLLER}")),
            );
        }
        if access.service_accounts {
            loops.add(
                "serviceaccounts".into(),
                Api::<core::ServiceAccount>::all(client.clone()),
            );
        }
        match &access.pods {
            Scope::Cluster => loops.add("pods".into(), Api::<core::Pod>::all(client.clone())),
            Scope::Namespaces(list) => {
                for ns in list {
                    let api = Api::<core::Pod>::namespaced(client.clone(), ns);
                    loops.add(format!("pods in {ns}"), api);
                }
            }
        }
        match &access.services {
            Scope::Cluster => {
                loops.add("services".into(), Api::<core::Service>::all(client.clone()))
            }
            Scope::Namespaces(list) => {
                for ns in list {
                    let api = Api::<core::Service>::namespaced(client.clone(), ns);
                    loops.add(format!("services in {ns}"), api);
                }
            }
        }
        match &access.policies {
            Scope::Cluster => loops.add(
                "networkpolicies".into(),
                Api::<net::NetworkPolicy>::all(client.clone()),
            ),
            Scope::Namespaces(list) => {
                for ns in list {
                    let api = Api::<net::NetworkPolicy>::namespaced(client.clone(), ns);
                    loops.add(format!("networkpolicies in {ns}"), api);
                }
            }
        }
        match &access.staged {
            None => {}
            Some(Scope::Cluster) => loops.add(
                "staged policies".into(),
                Api::<watch::StagedKubernetesNetworkPolicy>::all(client.clone()),
            ),
            Some(Scope::Namespaces(list)) => {
                for ns in list {
                    let api =
                        Api::<watch::StagedKubernetesNetworkPolicy>::namespaced(client.clone(), ns);
                    loops.add(format!("staged policies in {ns}"), api);
                }
            }
        }
        for &plural in &access.tier_kinds {
            let client = client.clone();
            match plural {
                "adminnetworkpolicies" => {
                    loops.add(plural.into(), Api::<watch::AdminNetworkPolicy>::all(client))
                }
                "baselineadminnetworkpolicies" => loops.add(
                    plural.into(),
                    Api::<watch::BaselineAdminNetworkPolicy>::all(client),
                ),
                _ => loops.add(
                    plural.into(),
                    Api::<watch::ClusterNetworkPolicy>::all(client),
                ),
            }
        }
        for &plural in &access.cilium_kinds {
            let client = client.clone();
            match plural {
                "ciliumnetworkpolicies" => loops.add(
                    plural.into(),
                    Api::<watch::CiliumNetworkPolicy>::all(client),
                ),
                _ => loops.add(
                    plural.into(),
                    Api::<watch::CiliumClusterwideNetworkPolicy>::all(client),
                ),
            }
        }
        for &plural in &access.calico_kinds {
            let client = client.clone();
            match plural {
                "networkpolicies" => loops.add(
                    "calico networkpolicies".into(),
                    Api::<watch::CalicoNetworkPolicy>::all(client),
                ),
                "tiers" => loops.add("calico tiers".into(), Api::<watch::CalicoTier>::all(client)),
                "networksets" => loops.add(
                    "calico networksets".into(),
                    Api::<watch::CalicoNetworkSet>::all(client),
                ),
                "globalnetworksets" => loops.add(
                    "calico globalnetworksets".into(),
                    Api::<watch::CalicoGlobalNetworkSet>::all(client),
                ),
                "hostendpoints" => loops.add(
                    "calico hostendpoints".into(),
                    Api::<watch::CalicoHostEndpoint>::all(client),
                ),
                "stagednetworkpolicies" => loops.add(
                    "calico stagednetworkpolicies".into(),
                    Api::<watch::StagedCalicoNetworkPolicy>::all(client),
                ),
                "stagedglobalnetworkpolicies" => loops.add(
                    "calico stagedglobalnetworkpolicies".into(),
                    Api::<watch::StagedCalicoGlobalNetworkPolicy>::all(client),
                ),
                _ => loops.add(
                    "calico globalnetworkpolicies".into(),
                    Api::<watch::CalicoGlobalNetworkPolicy>::all(client),
                ),
            }
        }
        match access.istio {
            Some("v1") => loops.add(
                "authorizationpolicies".into(),
                Api::<watch::AuthorizationPolicyV1>::all(client.clone()),
            ),
            Some(_) => loops.add(
                "authorizationpolicies".into(),
                Api::<watch::AuthorizationPolicyV1beta1>::all(client.clone()),
            ),
            None => {}
        }
        let Loops {
            parts,
            mut tasks,
            tx,
        } = loops;
        drop(tx);
        let (out, rx) = mpsc::channel(16);
        let cache = Cache {
            parts,
            status: Status {
                context: connection.context.clone(),
                server: connection.server.clone(),
                link: Link::Connecting,
                synced_ms: None,
                hidden: access.hidden.clone(),
                warnings: Vec::new(),
            },
            access: access.clone(),
            out,
        };
        tasks.push(tokio::spawn(cache.run(change_rx)));
        Ok(Session {
            connection,
            access,
            rx,
            tasks,
        })
    }

    /// The next snapshot or status change; `None` once the session has ended.
    pub async fn next(&mut self) -> Option<Update> {
        self.rx.recv().await
    }

    /// An update already waiting, without waiting for one.
    pub fn try_next(&mut self) -> Option<Update> {
        self.rx.try_recv().ok()
    }

    /// Waits for the first complete snapshot, failing after `limit` with the last error seen.
    pub async fn first_snapshot(&mut self, limit: Duration) -> Result<(World, Status), LiveError> {
        let deadline = Instant::now() + limit;
        let mut last: Option<Status> = None;
        loop {
            match tokio::time::timeout_at(deadline, self.rx.recv()).await {
                Ok(Some(Update::Snapshot(world, status))) => return Ok((world, status)),
                Ok(Some(Update::Status(s))) => last = Some(s),
                Ok(None) => return Err(LiveError("the connection ended".into())),
                Err(_) => {
                    let why = match last.map(|s| s.link) {
                        Some(Link::Reconnecting { error, .. }) => error,
                        _ => "no answer".into(),
                    };
                    return Err(LiveError(format!(
                        "no complete list from {} (context {}) within {} s: {why}",
                        self.connection.server,
                        self.connection.context,
                        limit.as_secs()
                    )));
                }
            }
        }
    }
}

/// How long the first complete list may take before giving up.
pub const SYNC_LIMIT: Duration = Duration::from_secs(60);

/// Connects to `target`, starts watching, and waits for the first complete snapshot; all of
/// it within `limit`.
pub async fn open(target: &Target, limit: Duration) -> Result<(Session, World, Status), LiveError> {
    let connection = connect(target).await?;
    let started = Instant::now();
    let mut session = open_within(connection, limit).await?;
    let rest = limit.saturating_sub(started.elapsed());
    let (world, status) = session.first_snapshot(rest).await?;
    Ok((session, world, status))
}

/// `Session::open` (which asks what may be read), failing after `limit` when the server
/// accepts the connection but does not answer.
pub async fn open_within(connection: Connection, limit: Duration) -> Result<Session, LiveError> {
    let (server, context) = (connection.server.clone(), connection.context.clone());
    match tokio::time::timeout(limit, Session::open(connection)).await {
        Ok(result) => result,
        Err(_) => Err(LiveError(format!(
            "no answer from the API server {server} (context {context}) within {} s",
            limit.as_secs()
        ))),
    }
}

/// The status of a context being connected to, before anything was read.
pub fn connecting(connection: &Connection) -> Status {
    Status {
        context: connection.context.clone(),
        server: connection.server.clone(),
        link: Link::Connecting,
        synced_ms: None,
        hidden: Vec::new(),
        warnings: Vec::new(),
    }
}
