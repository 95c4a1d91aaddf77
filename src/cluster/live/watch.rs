//! One list-then-watch loop per resource kind and scope, in the manner of client-go's
//! reflector: page through a list, watch from its resourceVersion, follow bookmarks, relist
//! on 410 Gone, and retry everything else with capped exponential backoff. Objects are
//! converted to the engine's model as they arrive, so the full API objects (managed fields,
//! container specs, statuses) are never kept.
//!
//! Written against `Api::list` and `Api::watch` rather than kube-runtime's `watcher` because
//! the status bar needs to know when a watch is open again after a failure, and `watcher`
//! reports nothing until the next object changes.

use std::fmt::Debug;
use std::time::Duration;

use futures::StreamExt;
use k8s_openapi::api::core::v1 as core;
use k8s_openapi::api::networking::v1 as net;
use kube::api::{Api, ListParams, WatchEvent, WatchParams};
use kube::Resource;
use serde::de::DeserializeOwned;
use tokio::sync::mpsc;

use super::connect::chain;
use crate::cluster::convert;
use crate::policy::audit::{staged_calico_change, Staged};
use crate::policy::calico::{
    compile_address_set, compile_calico_policy, compile_tier, AddressSetObject, CalicoObject,
    TierObject as CalicoTierObject,
};
use crate::policy::compile::{compile_network_policy, FieldError};
use crate::policy::compile_cilium::{compile_cilium_policy, CiliumCompiled, CiliumObject};
use crate::policy::compile_tiers::{compile_tier_policy, TierKind, TierObject};
use crate::policy::istio::{compile_authorization_policy, IstioObject};
use crate::policy::model::{
    EndpointSlice, Namespace, Node, Origin, Pod, Policy, Service, ServiceAccount,
};
use crate::policy::tiers::TierPolicy;

/// Objects per list page, as client-go's pager.
pub const PAGE_SIZE: u32 = 500;
/// The server closes each watch after this long; the loop then watches again.
const WATCH_TIMEOUT_SECS: u32 = 290;

/// What the engine keeps of one API object.
#[derive(Debug, Clone)]
pub enum Item {
    Namespace(Namespace),
    Pod(Pod),
    Node(Node),
    Service(Service),
    /// A ServiceAccount: its labels, for Calico's service account selectors.
    ServiceAccount(ServiceAccount),
    /// An EndpointSlice: the addresses of a Service without a selector.
    EndpointSlice(EndpointSlice),
    Policy(Policy),
    /// A pod that has finished (Succeeded or Failed): policies no longer apply to it.
    Finished,
    /// A change the cluster holds staged (Calico's StagedKubernetesNetworkPolicy).
    Staged(Staged),
    /// A cluster-scoped policy of the Admin or Baseline tier.
    Tier(TierPolicy),
    /// A Cilium policy: the allow part and the deny part of each of its rule sets.
    Cilium(Vec<CiliumCompiled>),
    /// A Calico NetworkSet, GlobalNetworkSet or HostEndpoint: addresses its selectors match.
    CalicoSet(crate::policy::tiers::CalicoAddressSet),
    /// A Calico Tier: where the policies of that tier stand.
    CalicoTier(crate::policy::tiers::CalicoTier),
    /// An Istio AuthorizationPolicy: shown, not evaluated.
    Istio(crate::policy::istio::IstioPolicy),
    /// An object the engine cannot use, with the reason (shown as a warning).
    Invalid(String),
}

/// Calico's StagedKubernetesNetworkPolicy (projectcalico.org/v3), read where the API server
/// serves it: a NetworkPolicy spec with a `stagedAction`.
#[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
pub struct StagedKubernetesNetworkPolicy {
    pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
    #[serde(default)]
    pub spec: serde_json::Value,
}

impl k8s_openapi::Resource for StagedKubernetesNetworkPolicy {
    const API_VERSION: &'static str = "projectcalico.org/v3";
    const GROUP: &'static str = "projectcalico.org";
    const KIND: &'static str = "StagedKubernetesNetworkPolicy";
    const VERSION: &'static str = "v3";
    const URL_PATH_SEGMENT: &'static str = "stagedkubernetesnetworkpolicies";
    type Scope = k8s_openapi::NamespaceResourceScope;
}

impl k8s_openapi::Metadata for StagedKubernetesNetworkPolicy {
    type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn metadata(&self) -> &Self::Ty {
        &self.metadata
    }

    fn metadata_mut(&mut self) -> &mut Self::Ty {
        &mut self.metadata
    }
}

impl Watched for StagedKubernetesNetworkPolicy {
    fn item(&self) -> Item {
        let value = serde_json::json!({"metadata": self.metadata, "spec": self.spec});
        match convert::staged_knp(value, "default", origin()) {
            Ok(staged) => Item::Staged(staged),
            Err(errs) => invalid(self, errs),
        }
    }
}

/// A policy kind read where the API server serves it, kept as JSON until compiled: the
/// kinds of sig-network's policy API, Cilium's, Calico's and Istio's.
macro_rules! json_resource {
    ($name:ident, $group:literal, $version:literal, $kind:literal, $plural:literal, $scope:ty) => {
        #[derive(Debug, Clone, serde::Deserialize, serde::Serialize)]
        pub struct $name {
            pub metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
            #[serde(default)]
            pub spec: serde_json::Value,
            /// Cilium's several rule sets under one name.
            #[serde(default, skip_serializing_if = "Option::is_none")]
            pub specs: Option<serde_json::Value>,
        }

        impl k8s_openapi::Resource for $name {
            const API_VERSION: &'static str = concat!($group, "/", $version);
            const GROUP: &'static str = $group;
            const KIND: &'static str = $kind;
            const VERSION: &'static str = $version;
            const URL_PATH_SEGMENT: &'static str = $plural;
            type Scope = $scope;
        }

        impl k8s_openapi::Metadata for $name {
            type Ty = k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

            fn metadata(&self) -> &Self::Ty {
                &self.metadata
            }

            fn metadata_mut(&mut self) -> &mut Self::Ty {
                &mut self.metadata
            }
        }

        impl $name {
            /// The object as a reader of files sees it.
            fn json(&self) -> serde_json::Value {
                serde_json::json!({
                    "metadata": self.metadata, "spec": self.spec, "specs": self.specs
                })
            }
        }
    };
}

use k8s_openapi::{ClusterResourceScope as Cluster, NamespaceResourceScope as Namespaced};

json_resource!(
    AdminNetworkPolicy,
    "policy.networking.k8s.io",
    "v1alpha1",
    "AdminNetworkPolicy",
    "adminnetworkpolicies",
    Cluster
);
json_resource!(
    BaselineAdminNetworkPolicy,
    "policy.networking.k8s.io",
    "v1alpha1",
    "BaselineAdminNetworkPolicy",
    "baselineadminnetworkpolicies",
    Cluster
);
json_resource!(
    ClusterNetworkPolicy,
    "policy.networking.k8s.io",
    "v1alpha2",
    "ClusterNetworkPolicy",
    "clusternetworkpolicies",
    Cluster
);
json_resource!(
    CiliumNetworkPolicy,
    "cilium.io",
    "v2",
    "CiliumNetworkPolicy",
    "ciliumnetworkpolicies",
    Namespaced
);
json_resource!(
    CiliumClusterwideNetworkPolicy,
    "cilium.io",
    "v2",
    "CiliumClusterwideNetworkPolicy",
    "ciliumclusterwidenetworkpolicies",
    Cluster
);
json_resource!(
    CalicoNetworkPolicy,
    "projectcalico.org",
    "v3",
    "NetworkPolicy",
    "networkpolicies",
    Namespaced
);
json_resource!(
    CalicoGlobalNetworkPolicy,
    "projectcalico.org",
    "v3",
    "GlobalNetworkPolicy",
    "globalnetworkpolicies",
    Cluster
);
json_resource!(
    StagedCalicoNetworkPolicy,
    "projectcalico.org",
    "v3",
    "StagedNetworkPolicy",
    "stagednetworkpolicies",
    Namespaced
);
json_resource!(
    StagedCalicoGlobalNetworkPolicy,
    "projectcalico.org",
    "v3",
    "StagedGlobalNetworkPolicy",
    "stagedglobalnetworkpolicies",
    Cluster
);
json_resource!(
    CalicoNetworkSet,
    "projectcalico.org",
    "v3",
    "NetworkSet",
    "networksets",
    Namespaced
);
json_resource!(
    CalicoGlobalNetworkSet,
    "projectcalico.org",
    "v3",
    "GlobalNetworkSet",
    "globalnetworksets",
    Cluster
);
json_resource!(
    CalicoHostEndpoint,
    "projectcalico.org",
    "v3",
    "HostEndpoint",
    "hostendpoints",
    Cluster
);
json_resource!(
    CalicoTier,
    "projectcalico.org",
    "v3",
    "Tier",
    "tiers",
    Cluster
);
json_resource!(
    AuthorizationPolicyV1,
    "security.istio.io",
    "v1",
    "AuthorizationPolicy",
    "authorizationpolicies",
    Namespaced
);
json_resource!(
    AuthorizationPolicyV1beta1,
    "security.istio.io",
    "v1beta1",
    "AuthorizationPolicy",
    "authorizationpolicies",
    Namespaced
);

/// Reads a JSON-kept object as `O`, compiles it, and wraps the result; a shape or field
/// error becomes an invalid item naming the object.
fn compiled<K: Resource<DynamicType = ()>, O: DeserializeOwned, T>(
    obj: &K,
    json: serde_json::Value,
    compile: impl FnOnce(&O, &str) -> Result<T, crate::policy::FieldErrors>,
    wrap: impl FnOnce(T) -> Item,
) -> Item {
    let (ns, name) = key_of(obj);
    let object: O = match serde_json::from_value(json) {
        Ok(o) => o,
        Err(e) => {
            let what = if ns.is_empty() {
                name
            } else {
                format!("{ns}/{name}")
            };
            return Item::Invalid(format!("{} {what}: spec: {e}", K::kind(&())));
        }
    };
    match compile(&object, &ns) {
        Ok(t) => wrap(t),
        Err(errs) => invalid(obj, errs.0),
    }
}

impl Watched for AdminNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &TierObject, _| compile_tier_policy(o, TierKind::Admin, origin()),
            Item::Tier,
        )
    }
}

impl Watched for BaselineAdminNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &TierObject, _| compile_tier_policy(o, TierKind::BaselineAdmin, origin()),
            Item::Tier,
        )
    }
}

impl Watched for ClusterNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &TierObject, _| compile_tier_policy(o, TierKind::Cluster, origin()),
            Item::Tier,
        )
    }
}

impl Watched for CiliumNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &CiliumObject, ns| compile_cilium_policy(o, false, ns, origin()),
            Item::Cilium,
        )
    }
}

impl Watched for CiliumClusterwideNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &CiliumObject, ns| compile_cilium_policy(o, true, ns, origin()),
            Item::Cilium,
        )
    }
}

impl Watched for CalicoNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &CalicoObject, ns| compile_calico_policy(o, Some(ns), origin()),
            Item::Tier,
        )
    }
}

impl Watched for CalicoGlobalNetworkPolicy {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &CalicoObject, _| compile_calico_policy(o, None, origin()),
            Item::Tier,
        )
    }
}

/// A staged Calico policy's change: its `stagedAction` taken out of the spec, the rest
/// compiled as the Calico policy it stages.
fn staged_calico<K: Resource<DynamicType = ()>>(
    obj: &K,
    mut json: serde_json::Value,
    namespaced: bool,
) -> Item {
    let action = json["spec"]
        .as_object_mut()
        .and_then(|spec| spec.remove("stagedAction"))
        .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string));
    let kind = K::kind(&()).to_string();
    compiled(
        obj,
        json,
        |o: &CalicoObject, ns| {
            let ns = namespaced.then_some(ns);
            staged_calico_change(o, action.as_deref(), ns, origin())
        },
        |change| {
            let mut staged = Staged::new(change, format!("{} ({kind})", origin()));
            staged.from_source = true;
            Item::Staged(staged)
        },
    )
}

impl Watched for StagedCalicoNetworkPolicy {
    fn item(&self) -> Item {
        staged_calico(self, self.json(), true)
    }
}

impl Watched for StagedCalicoGlobalNetworkPolicy {
    fn item(&self) -> Item {
        staged_calico(self, self.json(), false)
    }
}

impl Watched for CalicoNetworkSet {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &AddressSetObject, ns| compile_address_set(o, "NetworkSet", Some(ns)),
            Item::CalicoSet,
        )
    }
}

impl Watched for CalicoGlobalNetworkSet {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &AddressSetObject, _| compile_address_set(o, "GlobalNetworkSet", None),
            Item::CalicoSet,
        )
    }
}

impl Watched for CalicoHostEndpoint {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &AddressSetObject, _| compile_address_set(o, "HostEndpoint", None),
            Item::CalicoSet,
        )
    }
}

impl Watched for CalicoTier {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &CalicoTierObject, _| compile_tier(o),
            Item::CalicoTier,
        )
    }
}

impl Watched for AuthorizationPolicyV1 {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &IstioObject, ns| compile_authorization_policy(o, ns, origin()),
            Item::Istio,
        )
    }
}

impl Watched for AuthorizationPolicyV1beta1 {
    fn item(&self) -> Item {
        compiled(
            self,
            self.json(),
            |o: &IstioObject, ns| compile_authorization_policy(o, ns, origin()),
            Item::Istio,
        )
    }
}

/// `(namespace, name)`; the namespace is empty for cluster-scoped kinds.
pub type Key = (String, String);

/// What one loop reports to the cache.
#[derive(Debug)]
pub enum Change {
    /// A complete list: replaces everything this loop reported before.
    Listed(Vec<(Key, Item)>),
    Applied(Box<(Key, Item)>),
    Deleted(Key),
    /// A watch is open: the loop is in sync with the server.
    Watching,
    /// Something failed; the loop retries by itself.
    Failed(String),
}

/// A kind the engine reads, with its conversion.
pub trait Watched:
    Resource<DynamicType = ()> + Clone + DeserializeOwned + Debug + Send + 'static
{
    fn item(&self) -> Item;
}

fn key_of<K: Resource>(obj: &K) -> Key {
    let meta = obj.meta();
    (
        meta.namespace.clone().unwrap_or_default(),
        meta.name.clone().unwrap_or_default(),
    )
}

fn invalid<K: Resource<DynamicType = ()>>(obj: &K, errs: Vec<FieldError>) -> Item {
    let (ns, name) = key_of(obj);
    let what = if ns.is_empty() {
        format!("{} {name}", K::kind(&()))
    } else {
        format!("{} {ns}/{name}", K::kind(&()))
    };
    let reasons: Vec<String> = errs.iter().map(ToString::to_string).collect();
    Item::Invalid(format!("{what}: {}", reasons.join("; ")))
}

fn origin() -> Origin {
    Origin {
        source: "cluster".into(),
        line: None,
    }
}

impl Watched for core::Namespace {
    fn item(&self) -> Item {
        match convert::namespace(self) {
            Ok(ns) => Item::Namespace(ns),
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for core::Pod {
    fn item(&self) -> Item {
        match convert::pod(self, "default", origin()) {
            Ok(Some(pod)) => Item::Pod(pod),
            Ok(None) => Item::Finished,
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for core::Node {
    fn item(&self) -> Item {
        match convert::node(self) {
            Ok(node) => Item::Node(node),
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for core::Service {
    fn item(&self) -> Item {
        match convert::service(self, "default", origin()) {
            Ok(svc) => Item::Service(svc),
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for k8s_openapi::api::discovery::v1::EndpointSlice {
    fn item(&self) -> Item {
        match convert::endpoint_slice(self, "default") {
            Ok(slice) => Item::EndpointSlice(slice),
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for core::ServiceAccount {
    fn item(&self) -> Item {
        match convert::service_account(self, "default") {
            Ok(account) => Item::ServiceAccount(account),
            Err(errs) => invalid(self, errs),
        }
    }
}

impl Watched for net::NetworkPolicy {
    fn item(&self) -> Item {
        match compile_network_policy(self, "default", origin()) {
            Ok(policy) => Item::Policy(policy),
            Err(errs) => invalid(self, errs.0),
        }
    }
}

/// Capped exponential backoff with jitter: 250 ms doubling to 4 s (5 s with jitter), reset by
/// every success. The cap is low so that the view is live again within seconds of the API
/// server's return; a few requests per part every 4 s is nothing to an API server.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(4);

    fn new() -> Backoff {
        Backoff { next: Self::FIRST }
    }

    fn reset(&mut self) {
        self.next = Self::FIRST;
    }

    async fn wait(&mut self) {
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        // Up to 25% jitter so that many loops do not retry in step.
        let jitter = base.mul_f64(fastrand::f64() * 0.25);
        tokio::time::sleep(base + jitter).await;
    }
}

/// Words for an error from the API server or the connection to it.
pub fn describe(e: &kube::Error) -> String {
    match e {
        kube::Error::Api(status) => api_words(status.code, &status.reason, &status.message),
        kube::Error::HyperError(err) => format!("connection failed: {}", chain(err)),
        kube::Error::Service(err) => format!("connection failed: {}", chain(err.as_ref())),
        other => chain(other),
    }
}

fn api_words(code: u16, reason: &str, message: &str) -> String {
    match code {
        401 => "unauthorized: the API server rejected the credentials of this context".into(),
        403 => format!("forbidden: {message}"),
        410 => format!("expired ({message}): listing again"),
        _ if message.is_empty() => format!("API error {code} {reason}"),
        _ => format!("API error {code}: {message}"),
    }
}

fn is_gone(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 410)
}

/// Lists every page (as client-go's pager), keeping what `keep` makes of each object;
/// returns that and the list's resourceVersion.
pub async fn list_pages<K: Watched, T>(
    api: &Api<K>,
    keep: impl FnMut(&K) -> T,
) -> Result<(Vec<T>, String), kube::Error> {
    list_selected(api, None, keep).await
}

/// The same, of the objects a label selector picks (`None`: all).
async fn list_selected<K: Watched, T>(
    api: &Api<K>,
    labels: Option<&str>,
    mut keep: impl FnMut(&K) -> T,
) -> Result<(Vec<T>, String), kube::Error> {
    let mut items = Vec::new();
    let mut token: Option<String> = None;
    loop {
        let mut params = ListParams::default().limit(PAGE_SIZE);
        if let Some(l) = labels {
            params = params.labels(l);
        }
        if let Some(t) = &token {
            params = params.continue_token(t);
        }
        let page = api.list(&params).await?;
        items.extend(page.items.iter().map(&mut keep));
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(next) => token = Some(next),
            None => {
                let version = page.metadata.resource_version.unwrap_or_default();
                return Ok((items, version));
            }
        }
    }
}

/// Runs until the receiver is gone (the session ended). `labels`: a label selector, so that
/// only the objects it picks are listed and watched.
pub async fn run<K: Watched>(
    api: Api<K>,
    labels: Option<String>,
    id: usize,
    tx: mpsc::Sender<(usize, Change)>,
) {
    let mut backoff = Backoff::new();
    let mut version: Option<String> = None;
    loop {
        let from = match &version {
            Some(v) => v.clone(),
            None => match list_selected(&api, labels.as_deref(), |o| (key_of(o), o.item())).await {
                Ok((items, v)) => {
                    backoff.reset();
                    if tx.send((id, Change::Listed(items))).await.is_err() {
                        return;
                    }
                    version = Some(v.clone());
                    v
                }
                Err(e) => {
                    if tx.send((id, Change::Failed(describe(&e)))).await.is_err() {
                        return;
                    }
                    backoff.wait().await;
                    continue;
                }
            },
        };
        let mut params = WatchParams::default().timeout(WATCH_TIMEOUT_SECS);
        if let Some(l) = &labels {
            params = params.labels(l);
        }
        let stream = match api.watch(&params, &from).await {
            Ok(s) => s,
            Err(e) => {
                if is_gone(&e) {
                    version = None;
                }
                if tx.send((id, Change::Failed(describe(&e)))).await.is_err() {
                    return;
                }
                backoff.wait().await;
                continue;
            }
        };
        if tx.send((id, Change::Watching)).await.is_err() {
            return;
        }
        let mut stream = std::pin::pin!(stream);
        let mut failed = false;
        while let Some(event) = stream.next().await {
            let change = match event {
                Ok(WatchEvent::Added(o)) | Ok(WatchEvent::Modified(o)) => {
                    version = o.meta().resource_version.clone().or(version);
                    Change::Applied(Box::new((key_of(&o), o.item())))
                }
                Ok(WatchEvent::Deleted(o)) => {
                    version = o.meta().resource_version.clone().or(version);
                    Change::Deleted(key_of(&o))
                }
                Ok(WatchEvent::Bookmark(b)) => {
                    version = Some(b.metadata.resource_version);
                    backoff.reset();
                    continue;
                }
                Ok(WatchEvent::Error(status)) => {
                    if status.code == 410 {
                        // History is gone: list again at once, no backoff needed.
                        version = None;
                    } else {
                        failed = true;
                    }
                    Change::Failed(api_words(status.code, &status.reason, &status.message))
                }
                Err(e) => {
                    failed = true;
                    Change::Failed(format!("watch interrupted: {}", describe(&e)))
                }
            };
            let stop = matches!(change, Change::Failed(_));
            if !stop {
                backoff.reset();
            }
            if tx.send((id, change)).await.is_err() {
                return;
            }
            if stop {
                break;
            }
        }
        if failed {
            backoff.wait().await;
        }
        // A watch that ended normally (the server's timeout) is simply opened again.
    }
}
