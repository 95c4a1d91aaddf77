//! Calico's own policies (projectcalico.org/v3): which pods they select, after Calico's
//! documentation of its selectors and policy kinds (docs.tigera.io, "Calico network policy",
//! "Global network policy", "Selectors"). Their rules are not judged yet: a side whose pod one
//! selects is UNKNOWN, and every other verdict stays as it was. Every case is checked by the
//! index, the literal explain and the one-port matrix, which must agree.

mod verdicts;

use netpol_tui::policy::{Decision, EngineOptions, Index, Protocol};
use verdicts::{decide, WORLD};

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
    verdicts::index_of(WORLD, policies, EngineOptions::default())
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
