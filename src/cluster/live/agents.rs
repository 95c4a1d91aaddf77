//! The node agents of a cluster: found by listing the agent pods (the namespace and label of
//! `deploy/agent-daemonset.yaml`, or the user's) and watching them for changes, reached by
//! port-forwards through the API
//! server (kube-rs, WebSocket), so access follows RBAC: `create` on `pods/portforward` in the
//! agent namespace. Read-only otherwise: the list is a GET, and so is the port-forward's
//! upgrade request.

use k8s_openapi::api::core::v1 as core;
use kube::api::{Api, ListParams};

use super::watch::describe;
use crate::flow::agents::AgentStream;

/// Where the agents run, as `deploy/agent-daemonset.yaml` installs them.
pub const NAMESPACE: &str = "netpol-tui";
pub const SELECTOR: &str = "app.kubernetes.io/name=netpol-tui-agent";
/// The port the agent listens on, on the node's loopback.
pub const PORT: u16 = 9184;

/// Which agent pods to read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AgentPods {
    pub namespace: String,
    pub selector: String,
    pub port: u16,
}

impl Default for AgentPods {
    fn default() -> AgentPods {
        AgentPods {
            namespace: NAMESPACE.into(),
            selector: SELECTOR.into(),
            port: PORT,
        }
    }
}

/// A running agent pod: its name and node.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct AgentPod {
    pub name: String,
    pub node: Option<String>,
}

/// Lists the running agent pods, by name.
pub async fn list(client: &kube::Client, pods: &AgentPods) -> Result<Vec<AgentPod>, String> {
    listed(client, pods).await.map(|(found, _)| found)
}

/// Lists the running agent pods, by name, and the list's resource version (to watch from).
pub async fn listed(
    client: &kube::Client,
    pods: &AgentPods,
) -> Result<(Vec<AgentPod>, String), String> {
    let api = Api::<core::Pod>::namespaced(client.clone(), &pods.namespace);
    let list = api
        .list(&ListParams::default().labels(&pods.selector))
        .await
        .map_err(|e| {
            format!(
                "agent pods ({} in namespace {}): {}",
                pods.selector,
                pods.namespace,
                describe(&e)
            )
        })?;
    let version = list.metadata.resource_version.clone().unwrap_or_default();
    let mut found: Vec<AgentPod> = list
        .items
        .into_iter()
        .filter(|p| {
            p.status
                .as_ref()
                .and_then(|s| s.phase.as_deref())
                .is_some_and(|phase| phase == "Running")
        })
        .filter_map(|p| {
            Some(AgentPod {
                name: p.metadata.name?,
                node: p.spec.and_then(|s| s.node_name),
            })
        })
        .collect();
    found.sort();
    Ok((found, version))
}

/// Waits until the agent pods change: a watch from `version` (a GET), done at its first
/// event. `false` when the watch could not be opened or failed, so that the caller waits
/// before listing again; `true` on a change, or when the server ended the watch.
pub async fn changed(client: &kube::Client, pods: &AgentPods, version: &str) -> bool {
    use futures::StreamExt;
    use kube::api::{WatchEvent, WatchParams};
    let api = Api::<core::Pod>::namespaced(client.clone(), &pods.namespace);
    let params = WatchParams::default().labels(&pods.selector).timeout(290);
    let Ok(stream) = api.watch(&params, version).await else {
        return false;
    };
    let mut stream = stream.boxed();
    while let Some(event) = stream.next().await {
        match event {
            Ok(WatchEvent::Bookmark(_)) => continue,
            Ok(WatchEvent::Error(_)) | Err(_) => return false,
            Ok(_) => return true,
        }
    }
    true
}

/// Opens a port-forward to an agent pod's port through the API server.
pub async fn open(
    client: &kube::Client,
    pods: &AgentPods,
    name: &str,
) -> Result<AgentStream, String> {
    let api = Api::<core::Pod>::namespaced(client.clone(), &pods.namespace);
    let mut forward = api
        .portforward(name, &[pods.port])
        .await
        .map_err(|e| match &e {
            kube::Error::Api(s) if s.code == 403 => format!(
                "port-forward forbidden: reading agents needs create on pods/portforward in \
                 namespace {} (deploy/agent-reader-rbac.yaml) ({})",
                pods.namespace, s.message
            ),
            _ => format!("port-forward to pod {name}: {}", describe(&e)),
        })?;
    let stream = forward.take_stream(pods.port).ok_or_else(|| {
        format!(
            "port-forward to pod {name}: no stream for port {}",
            pods.port
        )
    })?;
    // The forwarder's task carries the bytes; it ends with the connection.
    drop(forward);
    Ok(Box::new(stream))
}
