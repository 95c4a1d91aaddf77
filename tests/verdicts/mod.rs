//! What the table-driven semantics tests share: a world read from manifests, and a decision
//! checked three ways (the verdict index, the literal explain, the one-port matrix).

#![allow(dead_code)]

use std::sync::Arc;

use netpol_tui::cluster::files::load_text;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::query::resolve_endpoint;
use netpol_tui::policy::{Decision, EngineOptions, Flow, Index, Protocol};

/// Two namespaces on two nodes; `api` serves TCP 8080 (`http`) and UDP 53; `agent` uses the
/// host network.
pub const WORLD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: prod, labels: {env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: dev, labels: {env: dev}}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.1.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 192.168.1.2}]}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: prod, labels: {app: api}}, spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 8080}, {name: dns, containerPort: 53, protocol: UDP}]}]}, status: {podIP: 10.1.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: prod, labels: {app: web}}, spec: {nodeName: n2, containers: [{name: c}]}, status: {podIP: 10.1.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: shell, namespace: dev, labels: {app: shell}}, spec: {nodeName: n2, containers: [{name: c}]}, status: {podIP: 10.2.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: agent, namespace: dev, labels: {app: agent}}, spec: {nodeName: n2, hostNetwork: true, containers: [{name: c}]}, status: {podIP: 192.168.1.2}}
"#;

/// The index of `world` and `policies` (manifests), with `options`.
pub fn index_of(world: &str, policies: &str, options: EngineOptions) -> Index {
    let text = format!("{world}\n---\n{policies}");
    let loaded = load_text("test", &text).unwrap_or_else(|e| panic!("fixture loads: {e}"));
    Index::build(
        Arc::clone(&loaded.world.inventory),
        Arc::clone(&loaded.world.policies),
        options,
    )
}

/// The flow from `from` to `to` (pods, nodes or addresses, as the CLI names them).
pub fn flow(index: &Index, from: &str, to: &str, protocol: Protocol, port: u16) -> Flow {
    Flow {
        src: resolve_endpoint(index, from, None).unwrap(),
        dst: resolve_endpoint(index, to, None).unwrap(),
        protocol,
        port,
    }
}

/// The decision, after checking that the index, explain and the matrix agree, and that an
/// unknown answer carries its reason.
pub fn decide(index: &Index, from: &str, to: &str, protocol: Protocol, port: u16) -> Decision {
    let flow = flow(index, from, to, protocol, port);
    let (src, dst) = (flow.src, flow.dst);
    let fast = index.verdict(&flow);
    let slow = explain(index, &flow);
    assert_eq!(
        fast, slow.verdict,
        "index and explain disagree on {from} -> {to} {protocol}/{port}"
    );
    if fast.decision() == Decision::Unknown {
        assert!(
            slow.unknown.is_some(),
            "an unknown without a reason: {from} -> {to}"
        );
    }
    if let (Some(a), Some(b)) = (src.pod_id(), dst.pod_id()) {
        if a == b {
            assert_eq!(fast.decision(), Decision::Allowed, "a pod to itself");
        } else {
            let m = index.matrix(&[a, b], protocol, port);
            assert_eq!(
                m.decision(0, 1),
                fast.decision(),
                "matrix and index disagree on {from} -> {to} {protocol}/{port}"
            );
        }
    }
    fast.decision()
}

/// (what it shows, policies, from, to, protocol, port, decision)
pub type Case = (
    &'static str,
    String,
    &'static str,
    &'static str,
    Protocol,
    u16,
    Decision,
);

/// Every case decided in `world` with its policies; all failures reported at once.
pub fn run(world: &str, cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (what, policies, from, to, proto, port, want) in cases {
        let index = index_of(world, &policies, EngineOptions::default());
        let got = decide(&index, from, to, proto, port);
        if got != want {
            failures.push(format!(
                "{what}: {from} -> {to} {proto}/{port}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}
