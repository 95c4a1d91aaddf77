//! Tier semantics (AdminNetworkPolicy, BaselineAdminNetworkPolicy, ClusterNetworkPolicy),
//! point by point, after the assertions of sig-network's conformance suite that need no
//! host-network pods: tier order, priorities, rule order, actions, subjects, peers and ports.
//! Every case is checked by the index, the literal explain and the one-port matrix, which
//! must agree.

mod verdicts;

use std::sync::Arc;

use netpol_tui::cluster::files::load_text;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::{Decision, EngineOptions, Index, Protocol};
use verdicts::decide;

/// Four houses of two pods each, on two nodes; `web` pods serve TCP 80 (`http`), UDP 53
/// (`dns`) and SCTP 9003 (`assoc`); `api` pods TCP 8080 (`http`).
const WORLD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: north, labels: {house: north, side: cold}}
---
apiVersion: v1
kind: Namespace
metadata: {name: south, labels: {house: south, side: warm}}
---
apiVersion: v1
kind: Namespace
metadata: {name: east, labels: {house: east, side: warm}}
---
apiVersion: v1
kind: Namespace
metadata: {name: west, labels: {house: west}}
---
apiVersion: v1
kind: Node
metadata: {name: n1, labels: {zone: a}}
status: {addresses: [{type: InternalIP, address: 192.168.1.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2, labels: {zone: b}}
status: {addresses: [{type: InternalIP, address: 192.168.1.2}]}
---
apiVersion: v1
kind: List
items:
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: north, labels: {app: web}}, spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}, {name: assoc, containerPort: 9003, protocol: SCTP}]}]}, status: {podIP: 10.1.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: north, labels: {app: api}}, spec: {nodeName: n2, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}, status: {podIP: 10.1.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: south, labels: {app: web}}, spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}, {name: assoc, containerPort: 9003, protocol: SCTP}]}]}, status: {podIP: 10.2.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: south, labels: {app: api}}, spec: {nodeName: n2, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}, status: {podIP: 10.2.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: east, labels: {app: web}}, spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}, {name: assoc, containerPort: 9003, protocol: SCTP}]}]}, status: {podIP: 10.3.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: api, namespace: east, labels: {app: api}}, spec: {nodeName: n2, containers: [{name: c, ports: [{name: http, containerPort: 8080}]}]}, status: {podIP: 10.3.0.2}}
- {apiVersion: v1, kind: Pod, metadata: {name: web, namespace: west, labels: {app: web}}, spec: {nodeName: n1, containers: [{name: c, ports: [{name: http, containerPort: 80}, {name: dns, containerPort: 53, protocol: UDP}, {name: assoc, containerPort: 9003, protocol: SCTP}]}]}, status: {podIP: 10.4.0.1}}
- {apiVersion: v1, kind: Pod, metadata: {name: agent, namespace: west, labels: {app: agent}}, spec: {nodeName: n2, hostNetwork: true, containers: [{name: c}]}, status: {podIP: 192.168.1.2}}
"#;

use Decision::{Allowed, Denied, Unknown};
use Protocol::{Sctp, Tcp, Udp};

fn anp(name: &str, priority: i32, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: AdminNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  priority: {priority}\n  {spec}\n---\n"
    )
}

fn banp(spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha1\nkind: BaselineAdminNetworkPolicy\nmetadata: {{name: default}}\nspec:\n  {spec}\n---\n"
    )
}

fn cnp(name: &str, tier: &str, priority: i32, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: policy.networking.k8s.io/v1alpha2\nkind: ClusterNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  tier: {tier}\n  priority: {priority}\n  {spec}\n---\n"
    )
}

fn np(namespace: &str, name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  {spec}\n---\n"
    )
}

fn index_with(policies: &str) -> Index {
    verdicts::index_of(WORLD, policies, EngineOptions::default())
}

fn run(cases: Vec<verdicts::Case>) {
    verdicts::run(WORLD, cases)
}

const SUBJECT_NORTH: &str = "subject:\n  namespaces:\n    matchLabels: {house: north}";

#[test]
fn the_admin_tier_comes_before_network_policy_and_the_baseline_after() {
    let deny_south_in = anp(
        "deny-south",
        10,
        &format!("{SUBJECT_NORTH}\ningress:\n- name: no-south\n  action: Deny\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
    );
    let allow_south_np = np(
        "north",
        "allow-south",
        "podSelector: {}\ningress:\n- from:\n  - namespaceSelector:\n      matchLabels: {house: south}",
    );
    let allow_south_in = anp(
        "allow-south",
        10,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Allow\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
    );
    let deny_all_np = np(
        "north",
        "deny-all",
        "podSelector: {}\npolicyTypes: [Ingress]",
    );
    let banp_deny = banp(&format!(
        "{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"
    ));
    let banp_allow_east = banp(&format!(
        "{SUBJECT_NORTH}\ningress:\n- action: Allow\n  from:\n  - namespaces:\n      matchLabels: {{house: east}}\n- action: Deny\n  from:\n  - namespaces: {{}}"
    ));
    run(vec![
        (
            "an admin Deny overrides a NetworkPolicy that allows",
            format!("{deny_south_in}{allow_south_np}"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "an admin Deny leaves other peers to NetworkPolicy",
            format!("{deny_south_in}{allow_south_np}"),
            "east/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "an admin Deny without NetworkPolicy leaves others allowed",
            deny_south_in.clone(),
            "east/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "an admin Allow overrides a NetworkPolicy default deny",
            format!("{allow_south_in}{deny_all_np}"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "the default deny still holds for peers the Allow does not name",
            format!("{allow_south_in}{deny_all_np}"),
            "east/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "the baseline denies where no NetworkPolicy isolates",
            banp_deny.clone(),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "a NetworkPolicy that isolates takes the decision from the baseline",
            format!("{banp_deny}{allow_south_np}"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "isolated by NetworkPolicy, unmatched peers are denied by it, not by the baseline",
            format!("{banp_allow_east}{allow_south_np}"),
            "east/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "baseline rules go in order: Allow before the Deny",
            banp_allow_east.clone(),
            "east/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "baseline rules go in order: the Deny for the rest",
            banp_allow_east,
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "tiers add no isolation: pods they do not select are untouched",
            banp_deny,
            "north/web",
            "south/web",
            Tcp,
            80,
            Allowed,
        ),
    ]);
}

#[test]
fn pass_skips_the_rest_of_the_admin_tier() {
    let pass = anp(
        "pass-south",
        5,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Pass\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
    );
    let deny_later = anp(
        "deny-everyone",
        50,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"),
    );
    let allow_np = np(
        "north",
        "allow-south",
        "podSelector: {}\ningress:\n- from:\n  - namespaceSelector:\n      matchLabels: {house: south}\n  ports:\n  - port: 80",
    );
    let banp_deny = banp(&format!(
        "{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"
    ));
    run(vec![
        ("a Pass skips a later admin Deny; no NetworkPolicy, no baseline: allowed", format!("{pass}{deny_later}"), "south/web", "north/web", Tcp, 80, Allowed),
        ("peers the Pass does not match meet the later Deny", format!("{pass}{deny_later}"), "east/web", "north/web", Tcp, 80, Denied),
        ("after a Pass, NetworkPolicy decides: allowed port", format!("{pass}{deny_later}{allow_np}"), "south/web", "north/web", Tcp, 80, Allowed),
        ("after a Pass, NetworkPolicy decides: other port", format!("{pass}{deny_later}{allow_np}"), "south/web", "north/web", Udp, 53, Denied),
        ("after a Pass, with no NetworkPolicy, the baseline decides", format!("{pass}{banp_deny}"), "south/web", "north/web", Tcp, 80, Denied),
        ("a Pass in the baseline tier leaves the flow allowed", cnp("base-pass", "Baseline", 1, &format!("{SUBJECT_NORTH}\ningress:\n- action: Pass\n  from:\n  - namespaces: {{}}\n- action: Deny\n  from:\n  - namespaces: {{}}")), "south/web", "north/web", Tcp, 80, Allowed),
    ]);
}

#[test]
fn priorities_and_rule_order() {
    let allow = |p: i32| {
        anp(
            &format!("allow-{p}"),
            p,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Allow\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
        )
    };
    let deny = |p: i32| {
        anp(
            &format!("deny-{p}"),
            p,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
        )
    };
    let ordered = |first: &str, second: &str| {
        anp(
            "ordered",
            20,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: {first}\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}\n- action: {second}\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
        )
    };
    run(vec![
        (
            "a lower priority number goes first: Allow 5 before Deny 10",
            format!("{}{}", allow(5), deny(10)),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "a lower priority number goes first: Deny 5 before Allow 10",
            format!("{}{}", deny(5), allow(10)),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "priority 0 is the highest",
            format!("{}{}", allow(1), deny(0)),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "the first matching rule wins: Allow then Deny",
            ordered("Allow", "Deny"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "the first matching rule wins: Deny then Allow",
            ordered("Deny", "Allow"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "the first matching rule wins: Pass then Deny",
            ordered("Pass", "Deny"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
    ]);
    // Equal priorities: the API leaves the order undefined; ours is by kind and name, so the
    // answer never depends on the order of the input.
    let a = anp(
        "a-first",
        7,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"),
    );
    let b = anp(
        "b-second",
        7,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Allow\n  from:\n  - namespaces: {{}}"),
    );
    let one = index_with(&format!("{a}{b}"));
    let two = index_with(&format!("{b}{a}"));
    assert_eq!(decide(&one, "south/web", "north/web", Tcp, 80), Denied);
    assert_eq!(decide(&two, "south/web", "north/web", Tcp, 80), Denied);
}

#[test]
fn subjects() {
    let pods_subject = anp(
        "api-only",
        1,
        "subject:\n  pods:\n    namespaceSelector:\n      matchLabels: {side: warm}\n    podSelector:\n      matchLabels: {app: api}\ningress:\n- action: Deny\n  from:\n  - namespaces: {}",
    );
    let ns_subject = anp(
        "warm",
        1,
        "subject:\n  namespaces:\n    matchLabels: {side: warm}\ningress:\n- action: Deny\n  from:\n  - namespaces: {}",
    );
    let everyone = anp(
        "everyone",
        1,
        "subject:\n  namespaces: {}\ningress:\n- action: Deny\n  from:\n  - namespaces: {}",
    );
    run(vec![
        (
            "pods subject: selected pod",
            pods_subject.clone(),
            "north/web",
            "south/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "pods subject: same namespace, other labels",
            pods_subject.clone(),
            "north/web",
            "south/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "pods subject: same labels, other namespace",
            pods_subject,
            "north/web",
            "north/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "namespaces subject: every pod of them",
            ns_subject.clone(),
            "north/web",
            "east/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "namespaces subject: other namespaces untouched",
            ns_subject,
            "south/web",
            "west/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "a host-network pod is never a subject",
            everyone.clone(),
            "north/web",
            "west/agent",
            Tcp,
            80,
            Allowed,
        ),
        (
            "a host-network pod is never a pod peer",
            everyone.clone(),
            "west/agent",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "a pod may always reach itself",
            everyone,
            "north/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
    ]);
}

#[test]
fn directions_are_independent() {
    let egress_deny = anp(
        "no-egress-to-south",
        3,
        &format!("{SUBJECT_NORTH}\negress:\n- action: Deny\n  to:\n  - namespaces:\n      matchLabels: {{house: south}}"),
    );
    let ingress_allow = anp(
        "south-admits-north",
        1,
        "subject:\n  namespaces:\n    matchLabels: {house: south}\ningress:\n- action: Allow\n  from:\n  - namespaces:\n      matchLabels: {house: north}",
    );
    run(vec![
        (
            "an egress Deny of the source blocks",
            egress_deny.clone(),
            "north/web",
            "south/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "it says nothing of the other direction",
            egress_deny.clone(),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "an ingress Allow at the destination does not lift the source's egress Deny",
            format!("{egress_deny}{ingress_allow}"),
            "north/web",
            "south/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "egress to a namespace it does not name",
            egress_deny,
            "north/web",
            "east/web",
            Tcp,
            80,
            Allowed,
        ),
    ]);
}

#[test]
fn ports_v1alpha1() {
    let rule = |ports: &str| {
        anp(
            "ports",
            2,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}\n  ports:\n{ports}"),
        )
    };
    let number = rule("  - portNumber: {protocol: TCP, port: 80}");
    let udp = rule("  - portNumber: {protocol: UDP, port: 53}");
    let sctp = rule("  - portNumber: {protocol: SCTP, port: 9003}");
    let range = rule("  - portRange: {protocol: TCP, start: 8000, end: 8090}");
    let named = rule("  - namedPort: http");
    run(vec![
        (
            "portNumber matches its protocol and port",
            number.clone(),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "portNumber: other port",
            number.clone(),
            "south/web",
            "north/web",
            Tcp,
            81,
            Allowed,
        ),
        (
            "portNumber: other protocol",
            number,
            "south/web",
            "north/web",
            Udp,
            80,
            Allowed,
        ),
        (
            "UDP portNumber",
            udp,
            "south/web",
            "north/web",
            Udp,
            53,
            Denied,
        ),
        (
            "SCTP portNumber",
            sctp,
            "south/web",
            "north/web",
            Sctp,
            9003,
            Denied,
        ),
        (
            "portRange: inside",
            range.clone(),
            "south/web",
            "north/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "portRange: ends are inclusive",
            range.clone(),
            "south/web",
            "north/api",
            Tcp,
            8090,
            Denied,
        ),
        (
            "portRange: outside",
            range,
            "south/web",
            "north/api",
            Tcp,
            8091,
            Allowed,
        ),
        (
            "namedPort resolves on the destination pod: web's http is 80",
            named.clone(),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "namedPort resolves on the destination pod: api's http is 8080",
            named.clone(),
            "south/web",
            "north/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "namedPort: a port of another name",
            named,
            "south/web",
            "north/web",
            Udp,
            53,
            Allowed,
        ),
    ]);
    let egress_named = anp(
        "egress-named",
        2,
        &format!("{SUBJECT_NORTH}\negress:\n- action: Deny\n  to:\n  - namespaces: {{}}\n  ports:\n  - namedPort: http"),
    );
    run(vec![
        (
            "egress namedPort resolves on the destination: south/api's http",
            egress_named.clone(),
            "north/web",
            "south/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "egress namedPort: port 80 is not south/api's http",
            egress_named,
            "north/web",
            "south/api",
            Tcp,
            80,
            Allowed,
        ),
    ]);
}

#[test]
fn protocols_v1alpha2() {
    let rule = |protocols: &str| {
        cnp(
            "protocols",
            "Admin",
            2,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}\n  protocols:\n{protocols}"),
        )
    };
    run(vec![
        (
            "tcp destinationPort",
            rule("  - tcp: {destinationPort: {number: 80}}"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "tcp destinationPort: other protocol",
            rule("  - tcp: {destinationPort: {number: 80}}"),
            "south/web",
            "north/web",
            Udp,
            80,
            Allowed,
        ),
        (
            "udp destinationPort",
            rule("  - udp: {destinationPort: {number: 53}}"),
            "south/web",
            "north/web",
            Udp,
            53,
            Denied,
        ),
        (
            "sctp destinationPort",
            rule("  - sctp: {destinationPort: {number: 9003}}"),
            "south/web",
            "north/web",
            Sctp,
            9003,
            Denied,
        ),
        (
            "a destination port range",
            rule("  - tcp:\n      destinationPort:\n        range: {start: 8000, end: 8090}"),
            "south/web",
            "north/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "destinationNamedPort",
            rule("  - destinationNamedPort: http"),
            "south/web",
            "north/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "destinationNamedPort: not the named port",
            rule("  - destinationNamedPort: http"),
            "south/web",
            "north/api",
            Tcp,
            80,
            Allowed,
        ),
        (
            "Accept is Allow",
            cnp(
                "accept",
                "Admin",
                1,
                &format!(
                    "{SUBJECT_NORTH}\ningress:\n- action: Accept\n  from:\n  - namespaces: {{}}"
                ),
            ) + &np("north", "deny", "podSelector: {}\npolicyTypes: [Ingress]"),
            "south/web",
            "north/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "tier Baseline comes after NetworkPolicy",
            cnp(
                "base",
                "Baseline",
                1,
                &format!(
                    "{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"
                ),
            ),
            "south/web",
            "north/web",
            Tcp,
            80,
            Denied,
        ),
    ]);
}

#[test]
fn egress_peers_nodes_networks_and_domains() {
    let nodes = anp(
        "no-zone-a",
        1,
        &format!("{SUBJECT_NORTH}\negress:\n- action: Deny\n  to:\n  - nodes:\n      matchLabels: {{zone: a}}"),
    );
    let networks = anp(
        "nets",
        1,
        &format!("{SUBJECT_NORTH}\negress:\n- action: Allow\n  to:\n  - networks: [10.2.0.0/16]\n- action: Deny\n  to:\n  - networks: [0.0.0.0/0]"),
    );
    let domains = cnp(
        "domains",
        "Admin",
        1,
        &format!("{SUBJECT_NORTH}\negress:\n- action: Accept\n  to:\n  - domainNames: [api.example.com]\n- action: Deny\n  to:\n  - networks: [0.0.0.0/0]"),
    );
    run(vec![
        (
            "a nodes peer matches a node by its labels",
            nodes.clone(),
            "north/api",
            "node/n1",
            Tcp,
            10250,
            Denied,
        ),
        (
            "a nodes peer: a node of other labels",
            nodes.clone(),
            "north/web",
            "node/n2",
            Tcp,
            10250,
            Allowed,
        ),
        (
            "a nodes peer matches the node's address too",
            nodes.clone(),
            "north/api",
            "192.168.1.1",
            Tcp,
            10250,
            Denied,
        ),
        (
            "a pod and its own node may always talk",
            nodes.clone(),
            "north/web",
            "node/n1",
            Tcp,
            10250,
            Allowed,
        ),
        (
            "a nodes peer never matches a pod",
            nodes,
            "north/web",
            "south/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "networks match pod addresses",
            networks.clone(),
            "north/web",
            "south/web",
            Tcp,
            80,
            Allowed,
        ),
        (
            "networks: 0.0.0.0/0 catches the other pods",
            networks.clone(),
            "north/web",
            "east/web",
            Tcp,
            80,
            Denied,
        ),
        (
            "networks: and addresses outside the cluster",
            networks.clone(),
            "north/web",
            "8.8.8.8",
            Udp,
            53,
            Denied,
        ),
        (
            "networks: and nodes",
            networks,
            "north/web",
            "node/n2",
            Tcp,
            22,
            Denied,
        ),
        (
            "domain names cannot be told from an address: unknown",
            domains.clone(),
            "north/web",
            "203.0.113.7",
            Tcp,
            443,
            Unknown,
        ),
        (
            "domain names never match a pod",
            domains,
            "north/web",
            "south/web",
            Tcp,
            80,
            Denied,
        ),
    ]);
}

#[test]
fn unreadable_namespace_labels_make_tier_answers_unknown() {
    // The subject selects by a label of a namespace whose labels cannot be read.
    let world = format!(
        "{WORLD}\n---\n{}",
        anp("warm-deny", 1, "subject:\n  namespaces:\n    matchLabels: {side: warm}\ningress:\n- action: Deny\n  from:\n  - namespaces: {}")
    );
    let loaded = load_text("test", &world).expect("loads");
    let mut inventory = (*loaded.world.inventory).clone();
    for ns in &mut inventory.namespaces {
        if ns.name == "south" {
            ns.labels.retain(|k, _| k == "kubernetes.io/metadata.name");
            ns.labels_known = false;
        }
    }
    let index = Index::build(
        Arc::new(inventory),
        Arc::clone(&loaded.world.policies),
        EngineOptions::default(),
    );
    assert_eq!(decide(&index, "north/web", "south/web", Tcp, 80), Unknown);
    assert_eq!(decide(&index, "north/web", "east/web", Tcp, 80), Denied);
    assert_eq!(decide(&index, "south/web", "north/web", Tcp, 80), Allowed);
    let e = explain(
        &index,
        &verdicts::flow(&index, "north/web", "south/web", Tcp, 80),
    );
    let why = e.unknown.expect("a reason");
    assert!(why.contains("AdminNetworkPolicy/warm-deny"), "{why}");
    assert!(why.contains("south"), "{why}");
}

#[test]
fn explain_names_tier_policy_priority_rule_and_action() {
    let index = index_with(&anp(
        "guard",
        42,
        &format!("{SUBJECT_NORTH}\ningress:\n- name: let-east\n  action: Allow\n  from:\n  - namespaces:\n      matchLabels: {{house: east}}\n- name: not-south\n  action: Deny\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
    ));
    let flow = verdicts::flow(&index, "south/web", "north/web", Tcp, 80);
    let e = explain(&index, &flow);
    let cite = e.ingress.decided_by.as_ref().expect("a tier decided");
    assert_eq!(cite.policy, "AdminNetworkPolicy/guard");
    assert_eq!(cite.priority, 42);
    assert_eq!(cite.rule, 1);
    assert_eq!(cite.name, "not-south");
    assert_eq!(cite.action.as_str(), "deny");
    let json = serde_json::to_value(&e).unwrap();
    assert_eq!(json["ingress"]["decided_by"]["tier"], "admin");
    assert_eq!(json["ingress"]["outcome"], "denied");
    let text =
        netpol_tui::render::explanation_at(&e, &netpol_tui::render::paint::Paint::plain(), 300);
    assert!(
        text.contains("denied by AdminNetworkPolicy/guard (admin tier, priority 42) ingress[1] \"not-south\": deny"),
        "{text}"
    );
}

#[test]
fn effective_lists_the_tier_rules_in_evaluation_order() {
    let policies = format!(
        "{}{}{}",
        anp(
            "later",
            30,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}")
        ),
        anp(
            "first",
            3,
            &format!("{SUBJECT_NORTH}\ningress:\n- name: east-in\n  action: Allow\n  from:\n  - namespaces:\n      matchLabels: {{house: east}}\n  ports:\n  - portNumber: {{protocol: TCP, port: 80}}\n- action: Pass\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}")
        ),
        banp(&format!(
            "{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"
        )),
    );
    let index = index_with(&policies);
    let pod = index.pod_id("north", "web").unwrap();
    let e = netpol_tui::policy::effective::effective(&index, pod);
    let admin: Vec<(String, usize, &str)> = e
        .ingress
        .admin
        .iter()
        .map(|l| (l.policy.clone(), l.rule, l.action.as_str()))
        .collect();
    assert_eq!(
        admin,
        [
            ("AdminNetworkPolicy/first".to_string(), 0, "allow"),
            ("AdminNetworkPolicy/first".to_string(), 1, "pass"),
            ("AdminNetworkPolicy/later".to_string(), 0, "deny"),
        ]
    );
    assert_eq!(e.ingress.admin[0].ports, ["TCP/80"]);
    assert_eq!(e.ingress.admin[0].name, "east-in");
    assert_eq!(e.ingress.baseline.len(), 1);
    assert!(e.egress.admin.is_empty() && e.egress.baseline.is_empty());
    // A pod the subjects do not select has no tier rules.
    let other = index.pod_id("south", "web").unwrap();
    let e = netpol_tui::policy::effective::effective(&index, other);
    assert!(e.ingress.admin.is_empty() && e.ingress.baseline.is_empty());
}

#[test]
fn warnings_name_rules_that_never_decide() {
    let tier_warnings = |policies: &str| -> Vec<String> {
        let index = index_with(policies);
        (0..index.policies().tiers.len() as u32)
            .flat_map(|t| index.tier_warnings(t))
            .collect()
    };
    // A Pass in the baseline tier has nothing after it.
    let w = tier_warnings(&cnp(
        "base",
        "Baseline",
        1,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Pass\n  from:\n  - namespaces: {{}}"),
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("ingress[0]: a Pass in the baseline tier")),
        "{w:?}"
    );
    // An admin Pass for pods no NetworkPolicy isolates and no baseline covers: it allows.
    let pass = anp(
        "pass",
        1,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Pass\n  from:\n  - namespaces: {{}}"),
    );
    let w = tier_warnings(&pass);
    assert!(
        w.iter().any(|w| w.contains("the Pass leads nowhere")),
        "{w:?}"
    );
    // With a NetworkPolicy isolating them, the Pass hands the flow to it.
    let isolating = np("north", "deny", "podSelector: {}\npolicyTypes: [Ingress]");
    let w = tier_warnings(&format!("{pass}{isolating}"));
    assert!(!w.iter().any(|w| w.contains("leads nowhere")), "{w:?}");
    // A peer that matches no pod.
    let w = tier_warnings(&anp(
        "ghost",
        1,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces:\n      matchLabels: {{house: nowhere}}"),
    ));
    assert!(
        w.iter()
            .any(|w| w.contains("ingress[0] peer 0: matches no pod")),
        "{w:?}"
    );

    // NetworkPolicy rules shadowed by an admin rule that decides every pod on every port.
    let allow_np = np(
        "north",
        "allow-south",
        "podSelector: {}\ningress:\n- from:\n  - namespaceSelector:\n      matchLabels: {house: south}",
    );
    let catch_all = anp(
        "deny-all-in",
        5,
        &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}"),
    );
    let index = index_with(&format!("{catch_all}{allow_np}"));
    let id = index.policy_id("north", "allow-south").unwrap();
    let w = index.shadowed_by_tiers(id);
    assert_eq!(w.len(), 1, "{w:?}");
    assert!(
        w[0].contains("AdminNetworkPolicy/deny-all-in ingress[0]"),
        "{w:?}"
    );
    // A Pass before it lets some flows through to NetworkPolicy: not shadowed for sure.
    let index = index_with(&format!(
        "{}{catch_all}{allow_np}",
        anp(
            "pass-first",
            1,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Pass\n  from:\n  - namespaces:\n      matchLabels: {{house: south}}"),
        )
    ));
    let id = index.policy_id("north", "allow-south").unwrap();
    assert!(index.shadowed_by_tiers(id).is_empty());
    // A catch-all on some ports only: not shadowed.
    let index = index_with(&format!(
        "{}{allow_np}",
        anp(
            "deny-80",
            5,
            &format!("{SUBJECT_NORTH}\ningress:\n- action: Deny\n  from:\n  - namespaces: {{}}\n  ports:\n  - portNumber: {{protocol: TCP, port: 80}}"),
        )
    ));
    let id = index.policy_id("north", "allow-south").unwrap();
    assert!(index.shadowed_by_tiers(id).is_empty());
}
