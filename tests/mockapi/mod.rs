//! A scripted Kubernetes API server on loopback for tests and benchmarks: it speaks the real
//! list and watch JSON (pagination with continue tokens, watch streams of newline-separated
//! events, bookmarks, 410 Gone, 403 Forbidden as Status objects) over plain HTTP/1.1.
//!
//! It is strictly a reader's server: any verb other than get, list and watch is answered with
//! 405 and recorded as a violation, and `assert_read_only` fails the test.
#![allow(dead_code)]

use std::collections::{BTreeMap, BTreeSet};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http_body_util::{combinators::BoxBody, BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

pub const TOKEN: &str = "mock-token-7f3a";

/// The resource kinds the mock serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Kind {
    Namespace,
    Node,
    Pod,
    Service,
    ServiceAccount,
    /// discovery.k8s.io/v1, served always, as by every API server.
    EndpointSlice,
    NetworkPolicy,
    /// Calico's StagedKubernetesNetworkPolicy: served only after `serve_calico`.
    StagedPolicy,
    /// sig-network's cluster-scoped tiers: served only after `serve_policy_api`.
    AdminPolicy,
    BaselinePolicy,
    ClusterPolicy,
    /// Cilium's policies: served only after `serve_cilium`.
    CiliumPolicy,
    CiliumClusterwidePolicy,
    /// Istio's AuthorizationPolicy (v1): served only after `serve_istio`.
    IstioPolicy,
    /// Calico's NetworkPolicy and GlobalNetworkPolicy: served only after `serve_calico`.
    CalicoPolicy,
    CalicoGlobalPolicy,
    /// Calico's Tier: served only after `serve_calico`.
    CalicoTier,
    /// Calico's StagedNetworkPolicy and StagedGlobalNetworkPolicy: served only after
    /// `serve_calico`.
    StagedCalicoPolicy,
    StagedCalicoGlobalPolicy,
    /// Calico's NetworkSet, GlobalNetworkSet and HostEndpoint: served only after
    /// `serve_calico`.
    CalicoNetworkSet,
    CalicoGlobalNetworkSet,
    CalicoHostEndpoint,
}

impl Kind {
    fn plural(self) -> &'static str {
        match self {
            Kind::Namespace => "namespaces",
            Kind::Node => "nodes",
            Kind::Pod => "pods",
            Kind::Service => "services",
            Kind::ServiceAccount => "serviceaccounts",
            Kind::EndpointSlice => "endpointslices",
            Kind::NetworkPolicy => "networkpolicies",
            Kind::StagedPolicy => "stagedkubernetesnetworkpolicies",
            Kind::AdminPolicy => "adminnetworkpolicies",
            Kind::BaselinePolicy => "baselineadminnetworkpolicies",
            Kind::ClusterPolicy => "clusternetworkpolicies",
            Kind::CiliumPolicy => "ciliumnetworkpolicies",
            Kind::CiliumClusterwidePolicy => "ciliumclusterwidenetworkpolicies",
            Kind::IstioPolicy => "authorizationpolicies",
            Kind::CalicoPolicy => "networkpolicies",
            Kind::CalicoGlobalPolicy => "globalnetworkpolicies",
            Kind::CalicoTier => "tiers",
            Kind::StagedCalicoPolicy => "stagednetworkpolicies",
            Kind::StagedCalicoGlobalPolicy => "stagedglobalnetworkpolicies",
            Kind::CalicoNetworkSet => "networksets",
            Kind::CalicoGlobalNetworkSet => "globalnetworksets",
            Kind::CalicoHostEndpoint => "hostendpoints",
        }
    }
    fn api_version(self) -> &'static str {
        match self {
            Kind::NetworkPolicy => "networking.k8s.io/v1",
            Kind::EndpointSlice => "discovery.k8s.io/v1",
            Kind::StagedPolicy => "projectcalico.org/v3",
            Kind::AdminPolicy | Kind::BaselinePolicy => "policy.networking.k8s.io/v1alpha1",
            Kind::ClusterPolicy => "policy.networking.k8s.io/v1alpha2",
            Kind::CiliumPolicy | Kind::CiliumClusterwidePolicy => "cilium.io/v2",
            Kind::IstioPolicy => "security.istio.io/v1",
            Kind::CalicoPolicy
            | Kind::CalicoGlobalPolicy
            | Kind::CalicoTier
            | Kind::StagedCalicoPolicy
            | Kind::StagedCalicoGlobalPolicy
            | Kind::CalicoNetworkSet
            | Kind::CalicoGlobalNetworkSet
            | Kind::CalicoHostEndpoint => "projectcalico.org/v3",
            _ => "v1",
        }
    }
    fn group(self) -> &'static str {
        match self {
            Kind::NetworkPolicy => "networking.k8s.io",
            Kind::EndpointSlice => "discovery.k8s.io",
            Kind::StagedPolicy => "projectcalico.org",
            Kind::AdminPolicy | Kind::BaselinePolicy | Kind::ClusterPolicy => {
                "policy.networking.k8s.io"
            }
            Kind::CiliumPolicy | Kind::CiliumClusterwidePolicy => "cilium.io",
            Kind::IstioPolicy => "security.istio.io",
            Kind::CalicoPolicy
            | Kind::CalicoGlobalPolicy
            | Kind::CalicoTier
            | Kind::StagedCalicoPolicy
            | Kind::StagedCalicoGlobalPolicy
            | Kind::CalicoNetworkSet
            | Kind::CalicoGlobalNetworkSet
            | Kind::CalicoHostEndpoint => "projectcalico.org",
            _ => "",
        }
    }
    fn name(self) -> &'static str {
        match self {
            Kind::Namespace => "Namespace",
            Kind::Node => "Node",
            Kind::Pod => "Pod",
            Kind::Service => "Service",
            Kind::ServiceAccount => "ServiceAccount",
            Kind::EndpointSlice => "EndpointSlice",
            Kind::NetworkPolicy => "NetworkPolicy",
            Kind::StagedPolicy => "StagedKubernetesNetworkPolicy",
            Kind::AdminPolicy => "AdminNetworkPolicy",
            Kind::BaselinePolicy => "BaselineAdminNetworkPolicy",
            Kind::ClusterPolicy => "ClusterNetworkPolicy",
            Kind::CiliumPolicy => "CiliumNetworkPolicy",
            Kind::CiliumClusterwidePolicy => "CiliumClusterwideNetworkPolicy",
            Kind::IstioPolicy => "AuthorizationPolicy",
            Kind::CalicoPolicy => "NetworkPolicy",
            Kind::CalicoGlobalPolicy => "GlobalNetworkPolicy",
            Kind::CalicoTier => "Tier",
            Kind::StagedCalicoPolicy => "StagedNetworkPolicy",
            Kind::StagedCalicoGlobalPolicy => "StagedGlobalNetworkPolicy",
            Kind::CalicoNetworkSet => "NetworkSet",
            Kind::CalicoGlobalNetworkSet => "GlobalNetworkSet",
            Kind::CalicoHostEndpoint => "HostEndpoint",
        }
    }
    fn namespaced(self) -> bool {
        matches!(
            self,
            Kind::Pod
                | Kind::Service
                | Kind::ServiceAccount
                | Kind::EndpointSlice
                | Kind::NetworkPolicy
                | Kind::StagedPolicy
                | Kind::CiliumPolicy
                | Kind::IstioPolicy
                | Kind::CalicoPolicy
                | Kind::StagedCalicoPolicy
                | Kind::CalicoNetworkSet
        )
    }
    fn from_json(object: &Value) -> Kind {
        if object["apiVersion"].as_str() == Some("projectcalico.org/v3") {
            match object["kind"].as_str() {
                Some("NetworkPolicy") => return Kind::CalicoPolicy,
                Some("GlobalNetworkPolicy") => return Kind::CalicoGlobalPolicy,
                Some("Tier") => return Kind::CalicoTier,
                Some("StagedNetworkPolicy") => return Kind::StagedCalicoPolicy,
                Some("StagedGlobalNetworkPolicy") => return Kind::StagedCalicoGlobalPolicy,
                Some("NetworkSet") => return Kind::CalicoNetworkSet,
                Some("GlobalNetworkSet") => return Kind::CalicoGlobalNetworkSet,
                Some("HostEndpoint") => return Kind::CalicoHostEndpoint,
                _ => {}
            }
        }
        match object["kind"].as_str() {
            Some("Namespace") => Kind::Namespace,
            Some("Node") => Kind::Node,
            Some("Pod") => Kind::Pod,
            Some("Service") => Kind::Service,
            Some("ServiceAccount") => Kind::ServiceAccount,
            Some("EndpointSlice") => Kind::EndpointSlice,
            Some("NetworkPolicy") => Kind::NetworkPolicy,
            Some("StagedKubernetesNetworkPolicy") => Kind::StagedPolicy,
            Some("AdminNetworkPolicy") => Kind::AdminPolicy,
            Some("BaselineAdminNetworkPolicy") => Kind::BaselinePolicy,
            Some("ClusterNetworkPolicy") => Kind::ClusterPolicy,
            Some("CiliumNetworkPolicy") => Kind::CiliumPolicy,
            Some("CiliumClusterwideNetworkPolicy") => Kind::CiliumClusterwidePolicy,
            Some("AuthorizationPolicy") => Kind::IstioPolicy,
            other => panic!("mock api: unsupported kind {other:?}"),
        }
    }
}

/// One request as the server saw it.
#[derive(Debug, Clone)]
pub struct Seen {
    pub method: String,
    pub path: String,
    pub query: BTreeMap<String, String>,
    pub user_agent: Option<String>,
}

impl Seen {
    pub fn is_watch(&self) -> bool {
        self.query
            .get("watch")
            .is_some_and(|v| v == "true" || v == "1")
    }
}

type Key = (Kind, String, String);

struct Watcher {
    kind: Kind,
    namespace: Option<String>,
    /// Label selector (`a=b,c!=d`): events of other objects are not sent.
    labels: Vec<LabelTerm>,
    tx: mpsc::UnboundedSender<Bytes>,
}

/// One term of an equality-based label selector: `key=value`, or `key!=value` (which an
/// object without the label also meets).
struct LabelTerm {
    key: String,
    value: String,
    equal: bool,
}

/// `a=b,c!=d` as terms.
fn equality_selector(query: &BTreeMap<String, String>) -> Vec<LabelTerm> {
    query
        .get("labelSelector")
        .map(|s| {
            s.split(',')
                .filter_map(|p| match p.split_once("!=") {
                    Some((k, v)) => Some((k, v, false)),
                    None => p.split_once('=').map(|(k, v)| (k, v, true)),
                })
                .map(|(k, v, equal)| LabelTerm {
                    key: k.trim().to_string(),
                    value: v.trim().to_string(),
                    equal,
                })
                .collect()
        })
        .unwrap_or_default()
}

/// Whether an object meets every term of a label selector.
fn labelled(object: &Value, terms: &[LabelTerm]) -> bool {
    terms.iter().all(|t| {
        let has = object["metadata"]["labels"][t.key.as_str()].as_str() == Some(t.value.as_str());
        has == t.equal
    })
}

#[derive(Default)]
struct Inner {
    rv: u64,
    objects: BTreeMap<Key, Value>,
    /// Every change, for watches that start at an older resourceVersion.
    history: Vec<(u64, &'static str, Value)>,
    /// Watches from a resourceVersion below this get 410 Gone.
    compacted: u64,
    watchers: Vec<Watcher>,
    /// (kind, namespace or None for the cluster-wide list) answered with 403.
    forbidden: BTreeSet<(Kind, Option<String>)>,
    requests: Vec<Seen>,
    violations: Vec<String>,
    /// Connection tasks, aborted by `stop`.
    connections: Vec<JoinHandle<()>>,
    /// Whether projectcalico.org/v3 is served (discovery and the staged policies).
    calico: bool,
    /// Whether policy.networking.k8s.io is served (discovery and the tier kinds).
    policy_api: bool,
    /// Whether cilium.io/v2 is served (discovery and Cilium's policy kinds).
    cilium: bool,
    /// Whether security.istio.io/v1 is served (discovery and AuthorizationPolicy).
    istio: bool,
    /// Where a port-forward to a pod (namespace, name) is relayed: a scripted agent.
    forwards: BTreeMap<(String, String), SocketAddr>,
    /// Port-forwards answered with 403.
    forward_forbidden: bool,
    /// Whether PATCH and DELETE are served (for `agent install`/`uninstall`); otherwise
    /// any write is a violation.
    writes_allowed: bool,
    /// The writes served: method, path, query, and the body of a PATCH.
    writes: Vec<(Seen, Option<Value>)>,
    /// Accept connections and requests, and never answer (an API server stuck behind a
    /// load balancer).
    hang: bool,
    /// ConfigMaps served by name (GET only), by (namespace, name).
    config_maps: BTreeMap<(String, String), Value>,
    /// Whether getting a ConfigMap is answered with 403.
    config_maps_forbidden: bool,
}

pub struct MockApi {
    pub addr: SocketAddr,
    inner: Arc<Mutex<Inner>>,
    accept: Mutex<Option<JoinHandle<()>>>,
    tls: Option<Tls>,
}

/// HTTPS with a certificate for 127.0.0.1 signed by a CA made for this server.
#[derive(Clone)]
pub struct Tls {
    acceptor: tokio_rustls::TlsAcceptor,
    /// The CA certificate, PEM: what a kubeconfig's certificate-authority-data carries.
    pub ca_pem: String,
}

impl Tls {
    fn new() -> Tls {
        use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
        use tokio_rustls::rustls;
        let ca_key = KeyPair::generate().unwrap();
        let mut ca_params = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca_params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca_params
            .distinguished_name
            .push(rcgen::DnType::CommonName, "mock cluster CA");
        let ca = ca_params.self_signed(&ca_key).unwrap();
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
            .unwrap()
            .signed_by(&key, &ca, &ca_key)
            .unwrap();
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let config = rustls::ServerConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(
                vec![cert.der().clone()],
                rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
            )
            .unwrap();
        Tls {
            acceptor: tokio_rustls::TlsAcceptor::from(Arc::new(config)),
            ca_pem: ca.pem(),
        }
    }
}

impl MockApi {
    /// Starts the server on a free loopback port, on the current tokio runtime.
    pub async fn start() -> MockApi {
        MockApi::start_with(None).await
    }

    /// The same over HTTPS, with a CA of its own.
    pub async fn start_tls() -> MockApi {
        MockApi::start_with(Some(Tls::new())).await
    }

    async fn start_with(tls: Option<Tls>) -> MockApi {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind loopback");
        let addr = listener.local_addr().unwrap();
        let inner = Arc::new(Mutex::new(Inner {
            rv: 1000,
            ..Inner::default()
        }));
        let accept = tokio::spawn(accept_loop(listener, inner.clone(), tls.clone()));
        MockApi {
            addr,
            inner,
            accept: Mutex::new(Some(accept)),
            tls,
        }
    }

    pub fn url(&self) -> String {
        let scheme = if self.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}", self.addr)
    }

    pub fn ca_pem(&self) -> Option<&str> {
        self.tls.as_ref().map(|t| t.ca_pem.as_str())
    }

    /// A kubeconfig with one context (`mock`) pointing here, authenticating with a token.
    pub fn kubeconfig(&self, contexts: &[&str]) -> String {
        use base64::Engine as _;
        let ca = match self.ca_pem() {
            Some(pem) => format!(
                "    certificate-authority-data: {}\n",
                base64::engine::general_purpose::STANDARD.encode(pem)
            ),
            None => String::new(),
        };
        let mut text = format!(
            "apiVersion: v1\nkind: Config\ncurrent-context: {first}\nclusters:\n- name: mock\n  cluster:\n    server: {url}\n{ca}users:\n- name: reader\n  user:\n    token: {TOKEN}\ncontexts:\n",
            first = contexts.first().copied().unwrap_or("mock"),
            url = self.url()
        );
        for name in contexts {
            text.push_str(&format!(
                "- name: {name}\n  context:\n    cluster: mock\n    user: reader\n    namespace: default\n"
            ));
        }
        text
    }

    /// Stops serving: closes the listener and every open connection (an API server restart).
    pub fn stop(&self) {
        if let Some(task) = self.accept.lock().unwrap().take() {
            task.abort();
        }
        let mut inner = self.inner.lock().unwrap();
        inner.watchers.clear();
        for c in inner.connections.drain(..) {
            c.abort();
        }
    }

    /// Serves again on the same port after `stop`.
    pub async fn restart(&self) {
        let listener = loop {
            match TcpListener::bind(self.addr).await {
                Ok(l) => break l,
                Err(_) => tokio::time::sleep(std::time::Duration::from_millis(20)).await,
            }
        };
        *self.accept.lock().unwrap() = Some(tokio::spawn(accept_loop(
            listener,
            self.inner.clone(),
            self.tls.clone(),
        )));
    }

    /// Ends every open watch stream cleanly (as the server's watch timeout does).
    pub fn end_watches(&self) {
        self.inner.lock().unwrap().watchers.clear();
    }

    /// Creates or replaces an object; open watches see ADDED or MODIFIED.
    pub fn apply(&self, mut object: Value) {
        let kind = Kind::from_json(&object);
        let mut inner = self.inner.lock().unwrap();
        inner.rv += 1;
        let rv = inner.rv;
        let name = object["metadata"]["name"]
            .as_str()
            .expect("metadata.name")
            .to_string();
        let namespace = if kind.namespaced() {
            object["metadata"]["namespace"]
                .as_str()
                .expect("metadata.namespace")
                .to_string()
        } else {
            String::new()
        };
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        object["metadata"]["uid"] = json!(format!("uid-{}-{namespace}-{name}", kind.plural()));
        // What the real server carries and clients are expected to drop.
        object["metadata"]["managedFields"] = json!([{
            "manager": "kubectl", "operation": "Apply", "apiVersion": kind.api_version(),
            "fieldsType": "FieldsV1", "fieldsV1": {"f:metadata": {}}
        }]);
        let key = (kind, namespace, name);
        let kind_of_event = if inner.objects.contains_key(&key) {
            "MODIFIED"
        } else {
            "ADDED"
        };
        inner.objects.insert(key, object.clone());
        inner.emit(kind_of_event, rv, object);
    }

    /// Applies many objects at once without keeping history (for large fixtures).
    pub fn load(&self, objects: impl IntoIterator<Item = Value>) {
        for o in objects {
            self.apply(o);
        }
        let mut inner = self.inner.lock().unwrap();
        inner.history.clear();
        inner.compacted = inner.rv;
    }

    /// Deletes an object; open watches see DELETED.
    pub fn delete(&self, kind: Kind, namespace: &str, name: &str) {
        let mut inner = self.inner.lock().unwrap();
        let key = (kind, namespace.to_string(), name.to_string());
        let Some(mut object) = inner.objects.remove(&key) else {
            panic!("mock api: no {kind:?} {namespace}/{name} to delete");
        };
        inner.rv += 1;
        let rv = inner.rv;
        object["metadata"]["resourceVersion"] = json!(rv.to_string());
        inner.emit("DELETED", rv, object);
    }

    /// Sends a BOOKMARK carrying the current resourceVersion to every open watch.
    pub fn bookmark(&self) {
        let mut inner = self.inner.lock().unwrap();
        inner.rv += 1;
        let rv = inner.rv;
        inner.watchers.retain(|w| {
            let event = json!({"type": "BOOKMARK", "object": {
                "kind": w.kind.name(), "apiVersion": w.kind.api_version(),
                "metadata": {"resourceVersion": rv.to_string()}
            }});
            w.tx.send(line(&event)).is_ok()
        });
    }

    /// Forgets history: watches from an older resourceVersion get 410 Gone. With `expire_open`,
    /// open watches receive the 410 ERROR event and are closed, as after etcd compaction.
    pub fn compact(&self, expire_open: bool) {
        let mut inner = self.inner.lock().unwrap();
        inner.compacted = inner.rv + 1;
        inner.history.clear();
        if expire_open {
            for w in inner.watchers.drain(..) {
                let _ = w.tx.send(line(&gone()));
            }
        }
    }

    /// Serves Calico's API group: its discovery document and StagedKubernetesNetworkPolicy.
    pub fn serve_calico(&self) {
        self.inner.lock().unwrap().calico = true;
    }

    /// Serves sig-network's policy API: discovery of v1alpha1 (AdminNetworkPolicy,
    /// BaselineAdminNetworkPolicy) and v1alpha2 (ClusterNetworkPolicy), lists and watches.
    pub fn serve_policy_api(&self) {
        self.inner.lock().unwrap().policy_api = true;
    }

    /// Serves Cilium's API group: discovery of cilium.io/v2 and its two policy kinds.
    pub fn serve_cilium(&self) {
        self.inner.lock().unwrap().cilium = true;
    }

    /// Serves Istio's security API: discovery of security.istio.io/v1 and AuthorizationPolicy.
    pub fn serve_istio(&self) {
        self.inner.lock().unwrap().istio = true;
    }

    /// Relays port-forwards to pod `namespace/name` to `to` (a scripted agent on loopback).
    pub fn forward(&self, namespace: &str, name: &str, to: SocketAddr) {
        self.inner
            .lock()
            .unwrap()
            .forwards
            .insert((namespace.to_string(), name.to_string()), to);
    }

    /// Serves PATCH (server-side apply) and DELETE, recording them, instead of refusing them.
    pub fn allow_writes(&self, on: bool) {
        self.inner.lock().unwrap().writes_allowed = on;
    }

    /// The writes served since the start.
    pub fn writes(&self) -> Vec<(Seen, Option<Value>)> {
        self.inner.lock().unwrap().writes.clone()
    }

    /// Answers port-forwards with 403, as for a user without `create` on pods/portforward.
    pub fn forbid_portforward(&self, on: bool) {
        self.inner.lock().unwrap().forward_forbidden = on;
    }

    /// From now on, requests are read and never answered (until `hang(false)`).
    pub fn hang(&self, on: bool) {
        self.inner.lock().unwrap().hang = on;
    }

    /// Serves a ConfigMap to GET by name, with `data`.
    pub fn config_map(&self, namespace: &str, name: &str, data: &[(&str, &str)]) {
        let data: serde_json::Map<String, Value> = data
            .iter()
            .map(|(k, v)| (k.to_string(), Value::String(v.to_string())))
            .collect();
        let object = json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": namespace, "resourceVersion": "1"},
            "data": data});
        self.inner
            .lock()
            .unwrap()
            .config_maps
            .insert((namespace.to_string(), name.to_string()), object);
    }

    /// Answers every ConfigMap get with 403.
    pub fn forbid_config_maps(&self, on: bool) {
        self.inner.lock().unwrap().config_maps_forbidden = on;
    }

    /// Answers lists and watches of `kind` with 403: cluster-wide when `namespace` is None.
    pub fn forbid(&self, kind: Kind, namespace: Option<&str>) {
        self.inner
            .lock()
            .unwrap()
            .forbidden
            .insert((kind, namespace.map(str::to_string)));
    }

    pub fn requests(&self) -> Vec<Seen> {
        self.inner.lock().unwrap().requests.clone()
    }

    pub fn open_watches(&self) -> usize {
        let mut inner = self.inner.lock().unwrap();
        inner.watchers.retain(|w| !w.tx.is_closed());
        inner.watchers.len()
    }

    pub fn resource_version(&self) -> u64 {
        self.inner.lock().unwrap().rv
    }

    /// Fails the test if the client used any verb other than get, list and watch.
    pub fn assert_read_only(&self) {
        let (violations, requests) = {
            let inner = self.inner.lock().unwrap();
            (inner.violations.clone(), inner.requests.len())
        };
        assert!(
            violations.is_empty(),
            "the client tried to change the cluster: {violations:#?}"
        );
        assert!(requests > 0, "the client sent no request at all");
    }
}

impl Drop for MockApi {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Inner {
    fn emit(&mut self, kind_of_event: &'static str, rv: u64, object: Value) {
        let kind = Kind::from_json(&object);
        let ns = object["metadata"]["namespace"].as_str().map(str::to_string);
        let event = line(&json!({"type": kind_of_event, "object": object}));
        self.watchers.retain(|w| {
            if w.kind != kind
                || (w.namespace.is_some() && w.namespace != ns)
                || !labelled(&object, &w.labels)
            {
                return !w.tx.is_closed();
            }
            w.tx.send(event.clone()).is_ok()
        });
        self.history.push((rv, kind_of_event, object));
    }
}

fn line(v: &Value) -> Bytes {
    let mut text = serde_json::to_vec(v).unwrap();
    text.push(b'\n');
    Bytes::from(text)
}

fn gone() -> Value {
    json!({"type": "ERROR", "object": {
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": "too old resource version", "reason": "Expired", "code": 410
    }})
}

fn status(code: u16, reason: &str, message: String) -> Response<BoxBody<Bytes, Infallible>> {
    let body = json!({
        "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
        "message": message, "reason": reason, "code": code
    });
    respond(
        StatusCode::from_u16(code).unwrap(),
        full(serde_json::to_vec(&body).unwrap()),
    )
}

fn full(bytes: Vec<u8>) -> BoxBody<Bytes, Infallible> {
    Full::new(Bytes::from(bytes)).boxed()
}

fn respond(
    code: StatusCode,
    body: BoxBody<Bytes, Infallible>,
) -> Response<BoxBody<Bytes, Infallible>> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(body)
        .unwrap()
}

async fn accept_loop(listener: TcpListener, inner: Arc<Mutex<Inner>>, tls: Option<Tls>) {
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            return;
        };
        let inner2 = inner.clone();
        let tls = tls.clone();
        let task = tokio::spawn(async move {
            let service = hyper::service::service_fn(move |req| {
                let inner = inner2.clone();
                async move {
                    let hang = inner.lock().unwrap().hang;
                    if hang {
                        record(&inner, &req);
                        // Answered only when `stop` aborts the connection.
                        std::future::pending::<()>().await;
                    }
                    if req.uri().path().ends_with("/portforward") {
                        return Ok::<_, Infallible>(portforward(&inner, req));
                    }
                    let writes = inner.lock().unwrap().writes_allowed;
                    if writes && matches!(req.method().as_str(), "PATCH" | "DELETE") {
                        return Ok::<_, Infallible>(write(&inner, req).await);
                    }
                    Ok::<_, Infallible>(handle(&inner, req))
                }
            });
            let http = hyper::server::conn::http1::Builder::new();
            match tls {
                Some(tls) => {
                    // A client that rejects the certificate ends the handshake here.
                    if let Ok(stream) = tls.acceptor.accept(stream).await {
                        let _ = http
                            .serve_connection(TokioIo::new(stream), service)
                            .with_upgrades()
                            .await;
                    }
                }
                None => {
                    let _ = http
                        .serve_connection(TokioIo::new(stream), service)
                        .with_upgrades()
                        .await;
                }
            }
        });
        let mut guard = inner.lock().unwrap();
        guard.connections.retain(|c| !c.is_finished());
        guard.connections.push(task);
    }
}

/// `(kind, namespace)` of a list or watch path, or None for anything else.
fn route(path: &str) -> Option<(Kind, Option<String>)> {
    let parts: Vec<&str> = path.trim_matches('/').split('/').collect();
    let kind_of = |plural: &str| match plural {
        "namespaces" => Some(Kind::Namespace),
        "nodes" => Some(Kind::Node),
        "pods" => Some(Kind::Pod),
        "services" => Some(Kind::Service),
        "serviceaccounts" => Some(Kind::ServiceAccount),
        "networkpolicies" => Some(Kind::NetworkPolicy),
        _ => None,
    };
    match parts.as_slice() {
        ["api", "v1", plural] => kind_of(plural).map(|k| (k, None)),
        ["api", "v1", "namespaces", ns, "pods"] => Some((Kind::Pod, Some(ns.to_string()))),
        ["api", "v1", "namespaces", ns, "services"] => Some((Kind::Service, Some(ns.to_string()))),
        ["apis", "networking.k8s.io", "v1", "networkpolicies"] => Some((Kind::NetworkPolicy, None)),
        ["apis", "discovery.k8s.io", "v1", "endpointslices"] => Some((Kind::EndpointSlice, None)),
        ["apis", "discovery.k8s.io", "v1", "namespaces", ns, "endpointslices"] => {
            Some((Kind::EndpointSlice, Some(ns.to_string())))
        }
        ["apis", "networking.k8s.io", "v1", "namespaces", ns, "networkpolicies"] => {
            Some((Kind::NetworkPolicy, Some(ns.to_string())))
        }
        ["apis", "projectcalico.org", "v3", "stagedkubernetesnetworkpolicies"] => {
            Some((Kind::StagedPolicy, None))
        }
        ["apis", "projectcalico.org", "v3", "namespaces", ns, "stagedkubernetesnetworkpolicies"] => {
            Some((Kind::StagedPolicy, Some(ns.to_string())))
        }
        ["apis", "policy.networking.k8s.io", "v1alpha1", "adminnetworkpolicies"] => {
            Some((Kind::AdminPolicy, None))
        }
        ["apis", "policy.networking.k8s.io", "v1alpha1", "baselineadminnetworkpolicies"] => {
            Some((Kind::BaselinePolicy, None))
        }
        ["apis", "policy.networking.k8s.io", "v1alpha2", "clusternetworkpolicies"] => {
            Some((Kind::ClusterPolicy, None))
        }
        ["apis", "projectcalico.org", "v3", "networkpolicies"] => Some((Kind::CalicoPolicy, None)),
        ["apis", "projectcalico.org", "v3", "namespaces", ns, "networkpolicies"] => {
            Some((Kind::CalicoPolicy, Some(ns.to_string())))
        }
        ["apis", "projectcalico.org", "v3", "globalnetworkpolicies"] => {
            Some((Kind::CalicoGlobalPolicy, None))
        }
        ["apis", "projectcalico.org", "v3", "tiers"] => Some((Kind::CalicoTier, None)),
        ["apis", "projectcalico.org", "v3", "stagednetworkpolicies"] => {
            Some((Kind::StagedCalicoPolicy, None))
        }
        ["apis", "projectcalico.org", "v3", "namespaces", ns, "stagednetworkpolicies"] => {
            Some((Kind::StagedCalicoPolicy, Some(ns.to_string())))
        }
        ["apis", "projectcalico.org", "v3", "stagedglobalnetworkpolicies"] => {
            Some((Kind::StagedCalicoGlobalPolicy, None))
        }
        ["apis", "projectcalico.org", "v3", "networksets"] => Some((Kind::CalicoNetworkSet, None)),
        ["apis", "projectcalico.org", "v3", "namespaces", ns, "networksets"] => {
            Some((Kind::CalicoNetworkSet, Some(ns.to_string())))
        }
        ["apis", "projectcalico.org", "v3", "globalnetworksets"] => {
            Some((Kind::CalicoGlobalNetworkSet, None))
        }
        ["apis", "projectcalico.org", "v3", "hostendpoints"] => {
            Some((Kind::CalicoHostEndpoint, None))
        }
        ["apis", "security.istio.io", "v1", "authorizationpolicies"] => {
            Some((Kind::IstioPolicy, None))
        }
        ["apis", "cilium.io", "v2", "ciliumnetworkpolicies"] => Some((Kind::CiliumPolicy, None)),
        ["apis", "cilium.io", "v2", "namespaces", ns, "ciliumnetworkpolicies"] => {
            Some((Kind::CiliumPolicy, Some(ns.to_string())))
        }
        ["apis", "cilium.io", "v2", "ciliumclusterwidenetworkpolicies"] => {
            Some((Kind::CiliumClusterwidePolicy, None))
        }
        _ => None,
    }
}

/// What the server saw of a request.
fn seen(req: &Request<Incoming>) -> Seen {
    let query: BTreeMap<String, String> = req
        .uri()
        .query()
        .unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (k.to_string(), percent_decode(v))
        })
        .collect();
    Seen {
        method: req.method().as_str().to_string(),
        path: req.uri().path().to_string(),
        query,
        user_agent: req
            .headers()
            .get("user-agent")
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
    }
}

/// Notes a request that will not be answered.
fn record(inner: &Arc<Mutex<Inner>>, req: &Request<Incoming>) {
    inner.lock().unwrap().requests.push(seen(req));
}

fn handle(
    inner: &Arc<Mutex<Inner>>,
    req: Request<Incoming>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let seen = seen(&req);
    let (method, path, query) = (seen.method.clone(), seen.path.clone(), seen.query.clone());
    let mut guard = inner.lock().unwrap();
    guard.requests.push(seen.clone());
    if method != "GET" {
        guard.violations.push(format!("{method} {path}"));
        return status(
            405,
            "MethodNotAllowed",
            format!("{method} is not allowed: read-only mock"),
        );
    }
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if !authorized {
        return status(401, "Unauthorized", "Unauthorized".into());
    }
    if path.trim_end_matches('/') == "/apis/projectcalico.org/v3" && guard.calico {
        let body = json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "projectcalico.org/v3",
            "resources": [{"name": "stagedkubernetesnetworkpolicies", "singularName": "",
                "namespaced": true, "kind": "StagedKubernetesNetworkPolicy",
                "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
                {"name": "networkpolicies", "singularName": "", "namespaced": true,
                "kind": "NetworkPolicy", "verbs": ["get", "list", "watch"]},
                {"name": "globalnetworkpolicies", "singularName": "", "namespaced": false,
                "kind": "GlobalNetworkPolicy", "verbs": ["get", "list", "watch"]},
                {"name": "tiers", "singularName": "", "namespaced": false,
                "kind": "Tier", "verbs": ["get", "list", "watch"]},
                {"name": "stagednetworkpolicies", "singularName": "", "namespaced": true,
                "kind": "StagedNetworkPolicy", "verbs": ["get", "list", "watch"]},
                {"name": "stagedglobalnetworkpolicies", "singularName": "", "namespaced": false,
                "kind": "StagedGlobalNetworkPolicy", "verbs": ["get", "list", "watch"]},
                {"name": "networksets", "singularName": "", "namespaced": true,
                "kind": "NetworkSet", "verbs": ["get", "list", "watch"]},
                {"name": "globalnetworksets", "singularName": "", "namespaced": false,
                "kind": "GlobalNetworkSet", "verbs": ["get", "list", "watch"]},
                {"name": "hostendpoints", "singularName": "", "namespaced": false,
                "kind": "HostEndpoint", "verbs": ["get", "list", "watch"]}]
        });
        return respond(StatusCode::OK, full(serde_json::to_vec(&body).unwrap()));
    }
    let discovery = |version: &str, kinds: &[Kind]| {
        let resources: Vec<Value> = kinds
            .iter()
            .map(|k| {
                json!({"name": k.plural(), "singularName": "", "namespaced": false,
                    "kind": k.name(), "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
            })
            .collect();
        let body = json!({
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": format!("policy.networking.k8s.io/{version}"), "resources": resources
        });
        respond(StatusCode::OK, full(serde_json::to_vec(&body).unwrap()))
    };
    if guard.policy_api {
        match path.trim_end_matches('/') {
            "/apis/policy.networking.k8s.io/v1alpha1" => {
                return discovery("v1alpha1", &[Kind::AdminPolicy, Kind::BaselinePolicy])
            }
            "/apis/policy.networking.k8s.io/v1alpha2" => {
                return discovery("v1alpha2", &[Kind::ClusterPolicy])
            }
            _ => {}
        }
    }
    if guard.cilium && path.trim_end_matches('/') == "/apis/cilium.io/v2" {
        let resources: Vec<Value> = [Kind::CiliumPolicy, Kind::CiliumClusterwidePolicy]
            .iter()
            .map(|k| {
                json!({"name": k.plural(), "singularName": "", "namespaced": k.namespaced(),
                    "kind": k.name(), "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]})
            })
            .collect();
        let body = json!({
            "kind": "APIResourceList", "apiVersion": "v1",
            "groupVersion": "cilium.io/v2", "resources": resources
        });
        return respond(StatusCode::OK, full(serde_json::to_vec(&body).unwrap()));
    }
    if guard.istio && path.trim_end_matches('/') == "/apis/security.istio.io/v1" {
        let body = json!({
            "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": "security.istio.io/v1",
            "resources": [{"name": "authorizationpolicies", "singularName": "", "namespaced": true,
                "kind": "AuthorizationPolicy", "verbs": ["get", "list", "watch"]}]
        });
        return respond(StatusCode::OK, full(serde_json::to_vec(&body).unwrap()));
    }
    if let ["api", "v1", "namespaces", ns, "configmaps", name] = path
        .trim_matches('/')
        .split('/')
        .collect::<Vec<_>>()
        .as_slice()
    {
        if guard.config_maps_forbidden {
            return status(
                403,
                "Forbidden",
                format!("configmaps \"{name}\" is forbidden: User \"reader\" cannot get resource \"configmaps\" in API group \"\" in the namespace \"{ns}\""),
            );
        }
        return match guard.config_maps.get(&(ns.to_string(), name.to_string())) {
            Some(object) => respond(StatusCode::OK, full(serde_json::to_vec(object).unwrap())),
            None => status(404, "NotFound", format!("configmaps \"{name}\" not found")),
        };
    }
    let route = route(&path).filter(|(k, _)| match k {
        Kind::IstioPolicy => guard.istio,
        Kind::CalicoPolicy
        | Kind::CalicoGlobalPolicy
        | Kind::CalicoTier
        | Kind::StagedCalicoPolicy
        | Kind::StagedCalicoGlobalPolicy
        | Kind::CalicoNetworkSet
        | Kind::CalicoGlobalNetworkSet
        | Kind::CalicoHostEndpoint => guard.calico,
        Kind::CiliumPolicy | Kind::CiliumClusterwidePolicy => guard.cilium,
        Kind::StagedPolicy => guard.calico,
        Kind::AdminPolicy | Kind::BaselinePolicy | Kind::ClusterPolicy => guard.policy_api,
        _ => true,
    });
    let Some((kind, namespace)) = route else {
        return status(404, "NotFound", format!("the server could not find {path}"));
    };
    if guard.forbidden.contains(&(kind, namespace.clone())) {
        let scope = match &namespace {
            Some(ns) => format!("in the namespace \"{ns}\""),
            None => "at the cluster scope".into(),
        };
        return status(
            403,
            "Forbidden",
            format!(
                "{plural} is forbidden: User \"reader\" cannot list resource \"{plural}\" in API group \"{group}\" {scope}",
                plural = kind.plural(),
                group = kind.group(),
            ),
        );
    }
    if seen.is_watch() {
        watch(&mut guard, kind, namespace, &query)
    } else {
        list(&guard, kind, namespace.as_deref(), &query)
    }
}

/// A served write: a server-side apply answers with the object, a delete with success.
async fn write(
    inner: &Arc<Mutex<Inner>>,
    req: Request<Incoming>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let seen = seen(&req);
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let object: Option<Value> = serde_json::from_slice(&body).ok();
    let mut guard = inner.lock().unwrap();
    guard.requests.push(seen.clone());
    guard.writes.push((seen.clone(), object.clone()));
    guard.rv += 1;
    let answer = match (seen.method.as_str(), object) {
        ("PATCH", Some(mut o)) => {
            o["metadata"]["resourceVersion"] = json!(guard.rv.to_string());
            o["metadata"]["uid"] = json!(format!("uid-{}", guard.rv));
            o
        }
        _ => json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Success"}),
    };
    respond(StatusCode::OK, full(serde_json::to_vec(&answer).unwrap()))
}

/// A port-forward to a pod, as the API server serves it to kube-rs: a WebSocket upgrade
/// with the `v4.channel.k8s.io` subprotocol; per port, a data channel (0) and an error
/// channel (1), each opened with the port number (little-endian); then the data, each
/// message prefixed with its channel. Relayed to the scripted agent of the pod.
fn portforward(
    inner: &Arc<Mutex<Inner>>,
    req: Request<Incoming>,
) -> Response<BoxBody<Bytes, Infallible>> {
    use tokio_tungstenite::tungstenite::{handshake::derive_accept_key, protocol::Role};
    let seen = seen(&req);
    let mut guard = inner.lock().unwrap();
    guard.requests.push(seen.clone());
    if seen.method != "GET" {
        guard
            .violations
            .push(format!("{} {}", seen.method, seen.path));
        return status(405, "MethodNotAllowed", "read-only mock".into());
    }
    let authorized = req
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v == format!("Bearer {TOKEN}"));
    if !authorized {
        return status(401, "Unauthorized", "Unauthorized".into());
    }
    let parts: Vec<&str> = seen.path.trim_matches('/').split('/').collect();
    let ["api", "v1", "namespaces", ns, "pods", name, "portforward"] = parts.as_slice() else {
        return status(
            404,
            "NotFound",
            format!("the server could not find {}", seen.path),
        );
    };
    if guard.forward_forbidden {
        return status(
            403,
            "Forbidden",
            format!(
                "pods \"{name}\" is forbidden: User \"reader\" cannot create resource \"pods/portforward\" in API group \"\" in the namespace \"{ns}\""
            ),
        );
    }
    let Some(&to) = guard.forwards.get(&(ns.to_string(), name.to_string())) else {
        return status(404, "NotFound", format!("pods \"{name}\" not found"));
    };
    let port: u16 = seen
        .query
        .get("ports")
        .and_then(|p| p.parse().ok())
        .expect("one port");
    let Some(key) = req.headers().get("sec-websocket-key") else {
        return status(400, "BadRequest", "not a WebSocket upgrade".into());
    };
    let accept = derive_accept_key(key.as_bytes());
    drop(guard);
    let task = tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else {
            return;
        };
        let ws = tokio_tungstenite::WebSocketStream::from_raw_socket(
            TokioIo::new(upgraded),
            Role::Server,
            None,
        )
        .await;
        relay(ws, port, to).await;
    });
    inner.lock().unwrap().connections.push(task);
    Response::builder()
        .status(StatusCode::SWITCHING_PROTOCOLS)
        .header("upgrade", "websocket")
        .header("connection", "Upgrade")
        .header("sec-websocket-accept", accept)
        .header("sec-websocket-protocol", "v4.channel.k8s.io")
        .body(full(Vec::new()))
        .unwrap()
}

/// Moves bytes between the port-forward's data channel and the agent, until either ends.
async fn relay<S>(mut ws: tokio_tungstenite::WebSocketStream<S>, port: u16, to: SocketAddr)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    use futures::{SinkExt, StreamExt};
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    use tokio_tungstenite::tungstenite::Message;
    let [lo, hi] = port.to_le_bytes();
    for ch in [0u8, 1] {
        if ws.send(Message::binary(vec![ch, lo, hi])).await.is_err() {
            return;
        }
    }
    let mut agent = match tokio::net::TcpStream::connect(to).await {
        Ok(s) => s,
        Err(e) => {
            let text = format!("error forwarding port {port}: {e}");
            let mut msg = vec![1u8];
            msg.extend(text.into_bytes());
            let _ = ws.send(Message::binary(msg)).await;
            let _ = ws.close(None).await;
            return;
        }
    };
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        tokio::select! {
            n = agent.read(&mut buf) => match n {
                Ok(0) | Err(_) => {
                    let _ = ws.close(None).await;
                    return;
                }
                Ok(n) => {
                    let mut msg = Vec::with_capacity(n + 1);
                    msg.push(0u8);
                    msg.extend_from_slice(&buf[..n]);
                    if ws.send(Message::binary(msg)).await.is_err() {
                        return;
                    }
                }
            },
            m = ws.next() => match m {
                Some(Ok(Message::Binary(b))) if b.len() > 1 && b[0] == 0 => {
                    if agent.write_all(&b[1..]).await.is_err() {
                        return;
                    }
                }
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => {}
            },
        }
    }
}

fn in_scope(key: &Key, kind: Kind, namespace: Option<&str>) -> bool {
    key.0 == kind && namespace.is_none_or(|ns| key.1 == ns)
}

fn list(
    inner: &Inner,
    kind: Kind,
    namespace: Option<&str>,
    query: &BTreeMap<String, String>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let limit: usize = query
        .get("limit")
        .and_then(|l| l.parse().ok())
        .filter(|&l| l > 0)
        .unwrap_or(usize::MAX);
    // Continue tokens carry the list's resourceVersion and the offset, as an opaque string.
    let (rv, offset) = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(token) => {
            let (rv, off) = token.split_once('-').expect("mock continue token");
            (rv.parse::<u64>().unwrap(), off.parse::<usize>().unwrap())
        }
        None => (inner.rv, 0),
    };
    // Equality label selectors (`a=b,c=d`), as the agent pods are listed.
    let wanted = equality_selector(query);
    let items: Vec<&Value> = inner
        .objects
        .iter()
        .filter(|(k, _)| in_scope(k, kind, namespace))
        .map(|(_, v)| v)
        .filter(|v| labelled(v, &wanted))
        .skip(offset)
        .take(limit.saturating_add(1))
        .collect();
    let more = items.len() > limit;
    let page: Vec<Value> = items
        .into_iter()
        .take(limit)
        .map(|v| {
            // List items carry no kind or apiVersion, as from the real server.
            let mut v = v.clone();
            if let Value::Object(m) = &mut v {
                m.remove("kind");
                m.remove("apiVersion");
            }
            v
        })
        .collect();
    let next = if more {
        format!("{rv}-{}", offset + limit)
    } else {
        String::new()
    };
    let body = json!({
        "kind": format!("{}List", kind.name()),
        "apiVersion": kind.api_version(),
        "metadata": {"resourceVersion": rv.to_string(), "continue": next},
        "items": page,
    });
    respond(StatusCode::OK, full(serde_json::to_vec(&body).unwrap()))
}

fn watch(
    inner: &mut Inner,
    kind: Kind,
    namespace: Option<String>,
    query: &BTreeMap<String, String>,
) -> Response<BoxBody<Bytes, Infallible>> {
    let (tx, rx) = mpsc::unbounded_channel::<Bytes>();
    let labels = equality_selector(query);
    let from: u64 = query
        .get("resourceVersion")
        .and_then(|v| v.parse().ok())
        .unwrap_or(inner.rv);
    if from < inner.compacted {
        // The real server answers 200 and sends the 410 as the stream's only event.
        let _ = tx.send(line(&gone()));
        drop(tx);
    } else {
        for (rv, kind_of_event, object) in &inner.history {
            let ns = object["metadata"]["namespace"].as_str();
            if *rv > from
                && Kind::from_json(object) == kind
                && (namespace.is_none() || namespace.as_deref() == ns)
                && labelled(object, &labels)
            {
                let _ = tx.send(line(&json!({"type": kind_of_event, "object": object})));
            }
        }
        inner.watchers.push(Watcher {
            kind,
            namespace,
            labels,
            tx,
        });
    }
    let stream = futures::stream::unfold(rx, |mut rx| async move {
        rx.recv()
            .await
            .map(|b| (Ok::<_, Infallible>(Frame::data(b)), rx))
    });
    respond(StatusCode::OK, BodyExt::boxed(StreamBody::new(stream)))
}

fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(b) => {
                        out.push(b);
                        i += 3;
                    }
                    Err(_) => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Object builders in the shape the API server returns.
pub mod objects {
    use serde_json::{json, Value};

    pub fn namespace(name: &str, labels: Value) -> Value {
        json!({"apiVersion": "v1", "kind": "Namespace",
               "metadata": {"name": name, "labels": labels}, "status": {"phase": "Active"}})
    }

    pub fn node(name: &str, ip: &str) -> Value {
        json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": name},
               "status": {"addresses": [{"type": "InternalIP", "address": ip},
                                        {"type": "Hostname", "address": name}]}})
    }

    /// A running pod with one container listening on `ports` (name, number).
    pub fn pod(ns: &str, name: &str, labels: Value, ip: &str, ports: &[(&str, u16)]) -> Value {
        let ports: Vec<Value> = ports
            .iter()
            .map(|(n, p)| json!({"name": n, "containerPort": p, "protocol": "TCP"}))
            .collect();
        json!({"apiVersion": "v1", "kind": "Pod",
               "metadata": {"name": name, "namespace": ns, "labels": labels,
                            "annotations": {"kubectl.kubernetes.io/restartedAt": "2026-11-01T00:00:00Z"}},
               "spec": {"nodeName": "node-1", "containers": [{"name": "main", "image": "registry.local/app:1", "ports": ports,
                        "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}}}]},
               "status": {"phase": "Running", "hostIP": "10.0.0.11", "podIP": ip, "podIPs": [{"ip": ip}]}})
    }

    pub fn policy(ns: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }

    /// Calico's staged policy: a NetworkPolicy spec and `stagedAction` (Set or Delete).
    /// An AdminNetworkPolicy (v1alpha1).
    pub fn admin_policy(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "policy.networking.k8s.io/v1alpha1", "kind": "AdminNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    }

    /// A Calico NetworkPolicy (projectcalico.org/v3).
    pub fn calico_policy(ns: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "projectcalico.org/v3", "kind": "NetworkPolicy",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }

    /// A Calico GlobalNetworkPolicy (projectcalico.org/v3).
    pub fn calico_global(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    }

    /// A Calico StagedGlobalNetworkPolicy (projectcalico.org/v3): a GlobalNetworkPolicy's spec
    /// with a `stagedAction`.
    pub fn staged_calico_global(name: &str, action: &str, spec: Value) -> Value {
        let mut spec = spec;
        spec["stagedAction"] = json!(action);
        json!({"apiVersion": "projectcalico.org/v3", "kind": "StagedGlobalNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    }

    /// A Calico GlobalNetworkSet (projectcalico.org/v3).
    pub fn calico_global_set(name: &str, labels: Value, nets: &[&str]) -> Value {
        json!({"apiVersion": "projectcalico.org/v3", "kind": "GlobalNetworkSet",
               "metadata": {"name": name, "labels": labels}, "spec": {"nets": nets}})
    }

    /// A Calico Tier (projectcalico.org/v3).
    pub fn calico_tier(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "projectcalico.org/v3", "kind": "Tier",
               "metadata": {"name": name}, "spec": spec})
    }

    /// An Istio AuthorizationPolicy (security.istio.io/v1).
    pub fn authorization_policy(ns: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "security.istio.io/v1", "kind": "AuthorizationPolicy",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }

    /// A CiliumNetworkPolicy (cilium.io/v2).
    pub fn cilium_policy(ns: &str, name: &str, spec: Value) -> Value {
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumNetworkPolicy",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }

    /// A CiliumClusterwideNetworkPolicy (cilium.io/v2).
    pub fn cilium_clusterwide(name: &str, spec: Value) -> Value {
        json!({"apiVersion": "cilium.io/v2", "kind": "CiliumClusterwideNetworkPolicy",
               "metadata": {"name": name}, "spec": spec})
    }

    pub fn staged(ns: &str, name: &str, action: &str, spec: Value) -> Value {
        let mut spec = spec;
        spec["stagedAction"] = json!(action);
        json!({"apiVersion": "projectcalico.org/v3", "kind": "StagedKubernetesNetworkPolicy",
               "metadata": {"name": name, "namespace": ns}, "spec": spec})
    }
}
