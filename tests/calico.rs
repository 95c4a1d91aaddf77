//! Calico's own policies (projectcalico.org/v3): which pods they select, after Calico's
//! documentation of its selectors and policy kinds (docs.tigera.io, "Calico network policy",
//! "Global network policy", "Selectors"). Their rules are not judged yet: a side whose pod one
//! selects is UNKNOWN, and every other verdict stays as it was. Every case is checked by the
//! index, the literal explain and the one-port matrix, which must agree.

use std::sync::Arc;

use netpol_tui::cluster::files::load_text;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::query::resolve_endpoint;
use netpol_tui::policy::{Decision, EngineOptions, Flow, Index, Protocol};

/// Two namespaces on two nodes; `api` serves TCP 8080 (`http`) and UDP 53; `agent` uses the
/// host network.
const WORLD: &str = r#"
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

use Decision::{Allowed, Unknown};
use Protocol::Tcp;

fn calico(namespace: &str, name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  {spec}\n---\n"
    )
}

fn global(name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  {spec}\n---\n"
    )
}

fn index_with(policies: &str) -> Index {
    let text = format!("{WORLD}\n---\n{policies}");
    let loaded = load_text("test", &text).unwrap_or_else(|e| panic!("fixture loads: {e}"));
    Index::build(
        Arc::clone(&loaded.world.inventory),
        Arc::clone(&loaded.world.policies),
        EngineOptions::default(),
    )
}

fn decide(index: &Index, from: &str, to: &str, protocol: Protocol, port: u16) -> Decision {
    let src = resolve_endpoint(index, from, None).unwrap();
    let dst = resolve_endpoint(index, to, None).unwrap();
    let flow = Flow {
        src,
        dst,
        protocol,
        port,
    };
    let fast = index.verdict(&flow);
    let slow = explain(index, &flow);
    assert_eq!(
        fast, slow.verdict,
        "index and explain disagree on {from} -> {to}"
    );
    if fast.decision() == Unknown {
        assert!(
            slow.unknown.is_some(),
            "an unknown without a reason: {from} -> {to}"
        );
    }
    if let (Some(a), Some(b)) = (src.pod_id(), dst.pod_id()) {
        if a != b {
            let m = index.matrix(&[a, b], protocol, port);
            assert_eq!(m.decision(0, 1), fast.decision(), "matrix: {from} -> {to}");
        }
    }
    fast.decision()
}

type Case = (&'static str, String, &'static str, &'static str, Decision);

fn run(cases: Vec<Case>) {
    let mut failures = Vec::new();
    for (what, policies, from, to, want) in cases {
        let index = index_with(&policies);
        let got = decide(&index, from, to, Tcp, 8080);
        if got != want {
            failures.push(format!(
                "{what}: {from} -> {to}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

/// "Calico network policy": a namespaced policy selects endpoints of its namespace by its
/// selector, for the directions of `types` (default Ingress, plus Egress with egress rules).
#[test]
fn a_namespaced_policy_selects_in_its_namespace_per_direction() {
    let api_in = calico(
        "prod",
        "api",
        "selector: app == 'api'\ningress:\n- action: Allow",
    );
    let shell_out = calico(
        "dev",
        "shell",
        "selector: all()\ntypes: [Egress]\negress:\n- action: Deny",
    );
    run(vec![
        (
            "selected for ingress",
            api_in.clone(),
            "prod/web",
            "prod/api",
            Unknown,
        ),
        (
            "not its egress",
            api_in.clone(),
            "prod/api",
            "prod/web",
            Allowed,
        ),
        ("another pod", api_in, "dev/shell", "prod/web", Allowed),
        (
            "egress only",
            shell_out.clone(),
            "dev/shell",
            "prod/web",
            Unknown,
        ),
        (
            "egress only: ingress open",
            shell_out,
            "prod/web",
            "dev/shell",
            Allowed,
        ),
    ]);
}

/// "Global network policy": no namespace of its own; namespaceSelector picks namespaces by
/// their labels or `projectcalico.org/name`. "Selectors": `projectcalico.org/namespace` on
/// endpoints, namespace labels as `pcns.*`. Host-network pods are no workload endpoints.
#[test]
fn global_policies_and_namespace_labels() {
    let by_ns = global(
        "by-ns",
        "namespaceSelector: projectcalico.org/name == 'dev'\nselector: all()",
    );
    let pcns = global("pcns", "selector: pcns.env == 'prod' && app == 'api'");
    let endpoint_ns = global("ep", "selector: projectcalico.org/namespace == 'prod'");
    run(vec![
        (
            "namespaceSelector: in",
            by_ns.clone(),
            "prod/web",
            "dev/shell",
            Unknown,
        ),
        (
            "namespaceSelector: out",
            by_ns.clone(),
            "dev/shell",
            "prod/web",
            Allowed,
        ),
        (
            "host-network pods: never",
            by_ns,
            "prod/web",
            "dev/agent",
            Allowed,
        ),
        ("pcns labels", pcns.clone(), "prod/web", "prod/api", Unknown),
        (
            "pcns labels: other pod",
            pcns,
            "prod/api",
            "prod/web",
            Allowed,
        ),
        (
            "endpoint namespace label",
            endpoint_ns,
            "dev/shell",
            "prod/web",
            Unknown,
        ),
    ]);
}
