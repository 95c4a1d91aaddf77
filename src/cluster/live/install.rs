//! `agent install` and `agent uninstall`: the only requests that change a cluster. The
//! objects are those of `deploy/agent-daemonset.yaml` (namespace, service account,
//! DaemonSet) and the Role of `deploy/agent-reader-rbac.yaml` (reading the agents through
//! port-forwards), applied server-side with the field manager `netpol-tui`, and deleted,
//! exactly those, in the reverse order.

use kube::api::{Api, DeleteParams, DynamicObject, Patch, PatchParams};
use kube::core::{ApiResource, GroupVersionKind};
use serde::Deserialize;
use serde_json::Value;

use super::watch::describe;

const DAEMONSET: &str = include_str!("../../../deploy/agent-daemonset.yaml");
const READER_RBAC: &str = include_str!("../../../deploy/agent-reader-rbac.yaml");
/// The field manager of every object applied.
pub const FIELD_MANAGER: &str = "netpol-tui";
/// The image in `deploy/agent-daemonset.yaml`, replaced by `--image`.
pub const DEFAULT_IMAGE: &str = "netpol-tui:latest";

/// One object to apply or delete.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    pub api_version: String,
    pub kind: String,
    pub name: String,
    pub namespace: Option<String>,
    pub value: Value,
}

impl Object {
    /// `DaemonSet netpol-tui/netpol-tui-agent`.
    pub fn label(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }

    fn resource(&self) -> ApiResource {
        let (group, version) = match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        };
        let plural = match self.kind.as_str() {
            "Namespace" => "namespaces",
            "ServiceAccount" => "serviceaccounts",
            "DaemonSet" => "daemonsets",
            "Role" => "roles",
            other => unreachable!("no such kind among the agent's objects: {other}"),
        };
        ApiResource::from_gvk_with_plural(
            &GroupVersionKind::gvk(group, version, &self.kind),
            plural,
        )
    }

    fn api(&self, client: &kube::Client) -> Api<DynamicObject> {
        let resource = self.resource();
        match &self.namespace {
            Some(ns) => Api::namespaced_with(client.clone(), ns, &resource),
            None => Api::all_with(client.clone(), &resource),
        }
    }
}

/// The objects `agent install` applies, in order, with `image` for the agent.
pub fn objects(image: &str) -> Vec<Object> {
    let mut out = Vec::new();
    for (text, kinds) in [
        (DAEMONSET, &["Namespace", "ServiceAccount", "DaemonSet"][..]),
        (READER_RBAC, &["Role"][..]),
    ] {
        for doc in serde_yaml::Deserializer::from_str(text) {
            let mut value = Value::deserialize(doc).expect("the shipped manifests are YAML");
            let kind = value["kind"].as_str().unwrap_or_default().to_string();
            if !kinds.contains(&kind.as_str()) {
                continue;
            }
            if kind == "DaemonSet" {
                for c in value["spec"]["template"]["spec"]["containers"]
                    .as_array_mut()
                    .into_iter()
                    .flatten()
                {
                    c["image"] = Value::from(image);
                }
            }
            out.push(Object {
                api_version: value["apiVersion"].as_str().unwrap_or_default().into(),
                kind,
                name: value["metadata"]["name"]
                    .as_str()
                    .unwrap_or_default()
                    .into(),
                namespace: value["metadata"]["namespace"].as_str().map(str::to_string),
                value,
            });
        }
    }
    out
}

/// The objects as one YAML stream.
pub fn yaml(objects: &[Object]) -> String {
    objects
        .iter()
        .map(|o| serde_yaml::to_string(&o.value).expect("JSON values are YAML"))
        .collect::<Vec<_>>()
        .join("---\n")
}

/// Applies every object server-side, in order; stops at the first failure, naming it.
pub async fn apply(client: &kube::Client, objects: &[Object]) -> Result<(), String> {
    let params = PatchParams::apply(FIELD_MANAGER).force();
    for o in objects {
        o.api(client)
            .patch(&o.name, &params, &Patch::Apply(&o.value))
            .await
            .map_err(|e| format!("{}: {}", o.label(), describe(&e)))?;
        eprintln!("applied {}", o.label());
    }
    Ok(())
}

/// Deletes every object, in the reverse order; one already gone is said and skipped.
pub async fn delete(client: &kube::Client, objects: &[Object]) -> Result<(), String> {
    for o in objects.iter().rev() {
        match o
            .api(client)
            .delete(&o.name, &DeleteParams::default())
            .await
        {
            Ok(_) => eprintln!("deleted {}", o.label()),
            Err(kube::Error::Api(s)) if s.code == 404 => {
                eprintln!("{} was not there", o.label())
            }
            Err(e) => return Err(format!("{}: {}", o.label(), describe(&e))),
        }
    }
    Ok(())
}
