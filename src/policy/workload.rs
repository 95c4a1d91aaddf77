//! Workloads: the unit people reason in. A pod belongs to its controller (a Deployment, a
//! StatefulSet, a DaemonSet, a Job, ...), else it is a workload of its own. Each workload has
//! its stable labels: those all its pods share, less the ones controllers add per pod or per
//! revision, which no policy should select by.
//!
//! Pure: no I/O. Must not import tokio, kube's client, ratatui, crossterm or aya.

use std::collections::BTreeMap;

use super::engine::PodId;
use super::model::{Inventory, Labels};

/// Labels a controller adds to each pod or revision: never a workload's stable identity.
pub const VOLATILE_LABELS: &[&str] = &[
    "pod-template-hash",
    "controller-revision-hash",
    "pod-template-generation",
    "statefulset.kubernetes.io/pod-name",
    "apps.kubernetes.io/pod-index",
    "controller-uid",
    "batch.kubernetes.io/controller-uid",
    "batch.kubernetes.io/job-completion-index",
];

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Workload {
    pub namespace: String,
    /// `Deployment`, `StatefulSet`, ..., or `Pod` for a pod no controller owns.
    pub kind: String,
    pub name: String,
    /// Its pods, ascending.
    pub pods: Vec<PodId>,
    /// The labels every pod of it carries, less the volatile ones.
    pub labels: Labels,
}

impl Workload {
    /// `namespace/name`, as reports name it.
    pub fn key(&self) -> String {
        format!("{}/{}", self.namespace, self.name)
    }

    /// `Deployment production/api`.
    pub fn describe(&self) -> String {
        format!("{} {}/{}", self.kind, self.namespace, self.name)
    }
}

/// Every workload of an inventory, sorted by namespace, name and kind.
#[derive(Debug, Clone, Default)]
pub struct Workloads {
    pub list: Vec<Workload>,
    /// The workload of each pod, by pod id.
    pub of_pod: Vec<u32>,
}

impl Workloads {
    pub fn new(inv: &Inventory) -> Workloads {
        let mut groups: BTreeMap<(String, String, String), Vec<PodId>> = BTreeMap::new();
        for (i, pod) in inv.pods.iter().enumerate() {
            let w = pod.workload_ref();
            let (kind, name) = w.split_once('/').unwrap_or(("Pod", w.as_str()));
            groups
                .entry((pod.namespace.clone(), name.to_string(), kind.to_string()))
                .or_default()
                .push(i as PodId);
        }
        let mut of_pod = vec![0u32; inv.pods.len()];
        let list = groups
            .into_iter()
            .enumerate()
            .map(|(w, ((namespace, name, kind), pods))| {
                for &p in &pods {
                    of_pod[p as usize] = w as u32;
                }
                let mut labels = inv.pods[pods[0] as usize].labels.clone();
                labels.retain(|k, v| {
                    !VOLATILE_LABELS.contains(&k.as_str())
                        && pods
                            .iter()
                            .all(|&p| inv.pods[p as usize].labels.get(k) == Some(v))
                });
                Workload {
                    namespace,
                    kind,
                    name,
                    pods,
                    labels,
                }
            })
            .collect();
        Workloads { list, of_pod }
    }

    pub fn of(&self, pod: PodId) -> &Workload {
        &self.list[self.of_pod[pod as usize] as usize]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::model::Pod;

    fn pod(name: &str, workload: Option<&str>, labels: &[(&str, &str)]) -> Pod {
        Pod {
            namespace: "ns".into(),
            name: name.into(),
            labels: labels
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            ips: Vec::new(),
            node: None,
            host_network: false,
            ports: Vec::new(),
            workload: workload.map(str::to_string),
            template: false,
            service_account: None,
            account_labels: None,
            origin: Default::default(),
        }
    }

    #[test]
    fn pods_group_by_controller_and_keep_shared_stable_labels() {
        let inv = Inventory {
            pods: vec![
                pod(
                    "web-1",
                    Some("Deployment/web"),
                    &[("app", "web"), ("pod-template-hash", "a"), ("zone", "1")],
                ),
                pod(
                    "web-2",
                    Some("Deployment/web"),
                    &[("app", "web"), ("pod-template-hash", "a"), ("zone", "2")],
                ),
                pod("lonely", None, &[("app", "x")]),
            ],
            ..Inventory::default()
        };
        let w = Workloads::new(&inv);
        assert_eq!(w.list.len(), 2);
        let web = w.of(0);
        assert_eq!(web.describe(), "Deployment ns/web");
        assert_eq!(web.pods, vec![0, 1]);
        // zone differs between the pods, the hash is volatile: only app is stable.
        assert_eq!(
            web.labels.iter().collect::<Vec<_>>(),
            vec![(&"app".to_string(), &"web".to_string())]
        );
        assert_eq!(w.of(2).kind, "Pod");
        assert_eq!(w.of(2).key(), "ns/lonely");
    }
}
