//! Cilium's policy semantics, point by point, after its documentation (each test names the
//! page at docs.cilium.io it follows). Every case is checked by the index, the literal
//! explain and the one-port matrix, which must agree.

mod verdicts;

use std::sync::Arc;

use netpol_tui::cluster::files::load_text;
use netpol_tui::policy::explain::explain;
use netpol_tui::policy::{Decision, EngineOptions, Index, Protocol};
use verdicts::{decide, WORLD};

use Decision::{Allowed, Denied, Unknown};
use Protocol::{Tcp, Udp};

fn cnp(namespace: &str, name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  {spec}\n---\n"
    )
}

fn ccnp(name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {{name: {name}}}\nspec:\n  {spec}\n---\n"
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

const API: &str = "endpointSelector: {matchLabels: {app: api}}";

/// security/policy/intro ("Policy Enforcement Modes", default mode): an endpoint enters
/// default deny for a direction once a rule with that direction selects it; the other
/// direction stays open. An empty rule (`- {}`) selects no peer.
#[test]
fn selection_puts_an_endpoint_in_default_deny_per_direction() {
    let from_web = cnp(
        "prod",
        "from-web",
        &format!("{API}\ningress:\n- fromEndpoints: [{{matchLabels: {{app: web}}}}]"),
    );
    let deny_all = cnp("prod", "deny-all", "endpointSelector: {}\ningress:\n- {}");
    run(vec![
        (
            "no policy: open",
            String::new(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "allowed peer",
            from_web.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "other peer, now isolated",
            from_web.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "egress stays open",
            from_web.clone(),
            "prod/api",
            "dev/shell",
            Tcp,
            80,
            Allowed,
        ),
        (
            "an empty rule admits nothing",
            deny_all.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "an empty rule: egress open",
            deny_all,
            "prod/api",
            "dev/shell",
            Tcp,
            80,
            Allowed,
        ),
    ]);
}

/// security/policy/deny ("Deny Policies"): deny takes precedence over allow, whether the
/// allow is a Cilium policy or a Kubernetes NetworkPolicy; a deny-only policy still puts the
/// endpoint in default deny (enableDefaultDeny defaults to true for a direction with rules).
#[test]
fn deny_wins_over_every_allow() {
    let allow_all_np = np(
        "prod",
        "allow-all",
        "podSelector: {}\npolicyTypes: [Ingress]\ningress:\n- {}",
    );
    let deny_shell = cnp(
        "prod",
        "no-shell",
        &format!("{API}\ningressDeny:\n- fromEndpoints: [{{matchLabels: {{k8s:io.kubernetes.pod.namespace: dev}}}}]"),
    );
    let deny_port = cnp(
        "prod",
        "no-8080",
        &format!("{API}\ningress:\n- fromEntities: [cluster]\ningressDeny:\n- toPorts: [{{ports: [{{port: \"8080\", protocol: TCP}}]}}]"),
    );
    run(vec![
        (
            "NetworkPolicy allow, Cilium deny",
            format!("{allow_all_np}{deny_shell}"),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "the deny names another peer",
            format!("{allow_all_np}{deny_shell}"),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "deny only: default deny for the rest",
            deny_shell.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "a port deny without peers: every peer",
            deny_port.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "other ports still allowed",
            deny_port,
            "prod/web",
            "prod/api",
            Udp,
            53,
            Allowed,
        ),
    ]);
}

/// The CiliumNetworkPolicy CRD's `enableDefaultDeny`: a policy with it off adds allows
/// without isolating; "if multiple policies apply, default deny is enabled if any requests it".
#[test]
fn enable_default_deny_off_adds_allows_without_isolating() {
    let dns_only = ccnp(
        "dns",
        "endpointSelector: {}\nenableDefaultDeny: {ingress: false}\ningress:\n- fromEndpoints: [{}]\n  toPorts: [{ports: [{port: \"53\", protocol: UDP}]}]",
    );
    let from_web = cnp(
        "prod",
        "from-web",
        &format!("{API}\ningress:\n- fromEndpoints: [{{matchLabels: {{app: web}}}}]"),
    );
    run(vec![
        (
            "alone it isolates nothing",
            dns_only.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "with another policy its allow counts",
            format!("{dns_only}{from_web}"),
            "dev/shell",
            "prod/api",
            Udp,
            53,
            Allowed,
        ),
        (
            "and the other policy isolates",
            format!("{dns_only}{from_web}"),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
    ]);
}

/// security/policy/kubernetes ("Namespaces"): a namespaced policy's endpoint selectors stay
/// in its namespace unless they name one with `k8s:io.kubernetes.pod.namespace`; a
/// clusterwide policy's selectors span all namespaces. security/policy/language: host-network
/// pods are the host, not endpoints, so endpoint selectors never match them.
#[test]
fn endpoint_selectors_and_namespaces() {
    let any_app = cnp(
        "prod",
        "any",
        &format!("{API}\ningress:\n- fromEndpoints: [{{}}]"),
    );
    let dev_named = cnp(
        "prod",
        "dev",
        &format!("{API}\ningress:\n- fromEndpoints: [{{matchLabels: {{io.kubernetes.pod.namespace: dev}}}}]"),
    );
    let by_ns_label = cnp(
        "prod",
        "by-label",
        &format!("{API}\ningress:\n- fromEndpoints: [{{matchLabels: {{io.cilium.k8s.namespace.labels.env: dev, io.kubernetes.pod.namespace: dev}}}}]"),
    );
    let clusterwide = ccnp(
        "cw",
        "endpointSelector: {matchLabels: {app: api}}\ningress:\n- fromEndpoints: [{}]",
    );
    run(vec![
        (
            "{} in a namespaced policy: own namespace",
            any_app.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "{} in a namespaced policy: not others",
            any_app.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "a named namespace",
            dev_named.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "a named namespace only",
            dev_named,
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "namespace labels",
            by_ns_label,
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "{} in a clusterwide policy: every namespace",
            clusterwide.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "host-network pods are no endpoints",
            clusterwide,
            "dev/agent",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
    ]);
}

/// security/policy/language ("Entities Based", "IP/CIDR based"): `world` is outside the
/// cluster, `cluster` is every endpoint and node, `remote-node` the other nodes; CIDR rules
/// never match endpoints of the cluster or its nodes; `except` carves out of a CIDR set.
#[test]
fn entities_and_cidrs() {
    let world_in = cnp(
        "prod",
        "world",
        &format!("{API}\ningress:\n- fromEntities: [world]"),
    );
    let cluster_out = cnp(
        "prod",
        "cluster",
        &format!("{API}\negress:\n- toEntities: [cluster]"),
    );
    let cidr_out = cnp(
        "prod",
        "cidr",
        &format!("{API}\negress:\n- toCIDRSet: [{{cidr: 0.0.0.0/0, except: [8.8.0.0/16]}}]"),
    );
    let remote = cnp(
        "prod",
        "remote",
        &format!("{API}\negress:\n- toEntities: [remote-node]"),
    );
    run(vec![
        (
            "world: an outside address",
            world_in.clone(),
            "203.0.113.9",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "world: not a pod",
            world_in,
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "cluster: a pod",
            cluster_out.clone(),
            "prod/api",
            "dev/shell",
            Tcp,
            80,
            Allowed,
        ),
        (
            "cluster: a node",
            cluster_out.clone(),
            "prod/api",
            "192.168.1.2",
            Tcp,
            10250,
            Allowed,
        ),
        (
            "cluster: not outside",
            cluster_out,
            "prod/api",
            "1.1.1.1",
            Tcp,
            443,
            Denied,
        ),
        (
            "a CIDR: outside",
            cidr_out.clone(),
            "prod/api",
            "1.1.1.1",
            Tcp,
            443,
            Allowed,
        ),
        (
            "a CIDR: except",
            cidr_out.clone(),
            "prod/api",
            "8.8.8.8",
            Tcp,
            443,
            Denied,
        ),
        (
            "a CIDR never matches pods",
            cidr_out.clone(),
            "prod/api",
            "dev/shell",
            Tcp,
            80,
            Denied,
        ),
        (
            "a CIDR never matches nodes",
            cidr_out,
            "prod/api",
            "192.168.1.2",
            Tcp,
            10250,
            Denied,
        ),
        (
            "remote-node: another node",
            remote.clone(),
            "prod/api",
            "192.168.1.2",
            Tcp,
            10250,
            Allowed,
        ),
        (
            "remote-node: a pod is not",
            remote,
            "prod/api",
            "prod/web",
            Tcp,
            80,
            Denied,
        ),
    ]);
}

/// security/policy/language ("Layer 4 Examples"): toPorts without an L3 selector applies to
/// every peer; protocol ANY (the default) covers TCP and UDP; named ports resolve on the
/// destination; endPort makes a range.
#[test]
fn ports() {
    let any_peer = cnp(
        "prod",
        "l4",
        &format!("{API}\ningress:\n- toPorts: [{{ports: [{{port: \"53\"}}]}}]"),
    );
    let named = cnp(
        "prod",
        "named",
        &format!("{API}\ningress:\n- toPorts: [{{ports: [{{port: http, protocol: TCP}}]}}]"),
    );
    let range = cnp(
        "prod",
        "range",
        &format!("{API}\ningress:\n- toPorts: [{{ports: [{{port: \"8000\", endPort: 8100, protocol: TCP}}]}}]"),
    );
    run(vec![
        (
            "any peer, UDP by ANY",
            any_peer.clone(),
            "dev/shell",
            "prod/api",
            Udp,
            53,
            Allowed,
        ),
        (
            "any peer, TCP by ANY",
            any_peer.clone(),
            "203.0.113.9",
            "prod/api",
            Tcp,
            53,
            Allowed,
        ),
        (
            "any peer, other port",
            any_peer,
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "named port",
            named.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "named port, not that number",
            named,
            "dev/shell",
            "prod/api",
            Tcp,
            9090,
            Denied,
        ),
        (
            "a range",
            range.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "out of the range",
            range,
            "dev/shell",
            "prod/api",
            Tcp,
            8101,
            Denied,
        ),
    ]);
}

/// security/policy/language ("DNS based"): toFQDNs selects outside peers by the DNS answers
/// Cilium observes; an address alone cannot tell, so the answer is unknown, never a guess.
/// What the inventory does not hold (service accounts through toServices) is unknown too.
#[test]
fn what_cannot_be_told_from_an_address_is_unknown() {
    let fqdn = cnp(
        "prod",
        "fqdn",
        &format!("{API}\negress:\n- toFQDNs: [{{matchName: api.stripe.com}}]\n  toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]"),
    );
    run(vec![
        (
            "an outside address",
            fqdn.clone(),
            "prod/api",
            "1.1.1.1",
            Tcp,
            443,
            Unknown,
        ),
        (
            "another port: surely not",
            fqdn.clone(),
            "prod/api",
            "1.1.1.1",
            Tcp,
            80,
            Denied,
        ),
        (
            "a pod is no domain name",
            fqdn,
            "prod/api",
            "prod/web",
            Tcp,
            443,
            Denied,
        ),
    ]);
}

/// security/policy/language ("Layer 7 Examples"): an L7 rule filters what its L3/L4 rule
/// admits; explain says so. A rule without L7 rules for the same flow lets every request
/// through, and explain says the L7 rules filter nothing.
#[test]
fn l7_rules_are_shown_with_the_verdict() {
    let l7 = cnp(
        "prod",
        "l7",
        &format!("{API}\ningress:\n- fromEndpoints: [{{matchLabels: {{app: web}}}}]\n  toPorts:\n  - ports: [{{port: \"8080\", protocol: TCP}}]\n    rules:\n      http:\n      - {{method: GET, path: \"/api/.*\"}}"),
    );
    let plain = np(
        "prod",
        "plain",
        "podSelector: {matchLabels: {app: api}}\npolicyTypes: [Ingress]\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]",
    );
    let index = index_with(&l7);
    assert_eq!(decide(&index, "prod/web", "prod/api", Tcp, 8080), Allowed);
    let flow = verdicts::flow(&index, "prod/web", "prod/api", Tcp, 8080);
    let e = explain(&index, &flow);
    assert_eq!(
        e.ingress.l7.as_deref(),
        Some("CiliumNetworkPolicy/prod/l7 ingress[0] on TCP/8080: HTTP GET /api/.*")
    );
    let index = index_with(&format!("{l7}{plain}"));
    let e = explain(&index, &flow);
    assert_eq!(e.ingress.l7, None);
    assert!(
        e.notes
            .iter()
            .any(|n| n.contains("filter nothing here") && n.contains("prod/plain ingress[0]")),
        "{:?}",
        e.notes
    );
}

/// `--fqdn NAME=IP`: a name given is taken to have only the addresses given, so toFQDNs
/// then matches (or surely does not); a pattern matches the names given that fit it; names
/// not given stay unknown.
#[test]
fn names_given_with_fqdn_decide() {
    use netpol_tui::policy::engine::Domains;
    let fqdn = cnp(
        "prod",
        "fqdn",
        &format!("{API}\negress:\n- toFQDNs: [{{matchName: api.stripe.com}}, {{matchPattern: \"*.github.com\"}}]"),
    );
    let loaded = load_text("test", &format!("{WORLD}\n---\n{fqdn}")).unwrap();
    let options = EngineOptions {
        domains: Domains::parse(&[
            "api.stripe.com=203.0.113.7".into(),
            "api.github.com=198.51.100.9".into(),
        ])
        .unwrap(),
        ..EngineOptions::default()
    };
    let index = Index::build(
        Arc::clone(&loaded.world.inventory),
        Arc::clone(&loaded.world.policies),
        options,
    );
    assert_eq!(decide(&index, "prod/api", "203.0.113.7", Tcp, 443), Allowed);
    assert_eq!(
        decide(&index, "prod/api", "198.51.100.9", Tcp, 443),
        Allowed
    );
    // Not an address of the name given; the pattern may still cover other names.
    assert_eq!(decide(&index, "prod/api", "192.0.2.1", Tcp, 443), Unknown);
    let only_names = cnp(
        "prod",
        "names",
        &format!("{API}\negress:\n- toFQDNs: [{{matchName: api.stripe.com}}]"),
    );
    let loaded = load_text("test", &format!("{WORLD}\n---\n{only_names}")).unwrap();
    let index = Index::build(
        Arc::clone(&loaded.world.inventory),
        Arc::clone(&loaded.world.policies),
        EngineOptions {
            domains: Domains::parse(&["api.stripe.com=203.0.113.7".into()]).unwrap(),
            ..EngineOptions::default()
        },
    );
    assert_eq!(decide(&index, "prod/api", "192.0.2.1", Tcp, 443), Denied);
    assert!(Domains::parse(&["*.github.com=1.2.3.4".into()]).is_err());
    assert!(Domains::parse(&["api.github.com=nope".into()]).is_err());
}

/// policy/language ("Rule basics", and the CRD's `specs`): a policy may carry several rule
/// sets, `spec` and every entry of `specs`, each with its own endpointSelector; each selects
/// and admits on its own, and a later definition of the policy replaces all of them.
#[test]
fn several_rule_sets_under_one_name_each_apply() {
    let doc = "apiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: two, namespace: prod}\nspec:\n  endpointSelector: {matchLabels: {app: api}}\n  ingress:\n  - fromEndpoints: [{matchLabels: {app: web}}]\nspecs:\n- endpointSelector: {matchLabels: {app: web}}\n  egress:\n  - toEndpoints: [{matchLabels: {app: api}}]\n    toPorts: [{ports: [{port: '8080'}]}]\n- endpointSelector: {matchLabels: {app: web}}\n  egressDeny:\n  - toEndpoints: [{matchLabels: {app: api}}]\n    toPorts: [{ports: [{port: '9090'}]}]\n---\n".to_string();
    run(vec![
        (
            "spec admits web to api",
            doc.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            8080,
            Allowed,
        ),
        (
            "specs[0] isolates web's egress: other ports closed",
            doc.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            7070,
            Denied,
        ),
        (
            "spec isolates api's ingress",
            doc.clone(),
            "dev/shell",
            "prod/api",
            Tcp,
            8080,
            Denied,
        ),
        (
            "specs[1] denies",
            doc.clone(),
            "prod/web",
            "prod/api",
            Tcp,
            9090,
            Denied,
        ),
    ]);
    let index = index_with(&doc);
    let names: Vec<String> = index.policies().policies.iter().map(|p| p.key()).collect();
    assert_eq!(
        names,
        [
            "CiliumNetworkPolicy/prod/two (spec)",
            "CiliumNetworkPolicy/prod/two (specs[0])",
            "CiliumNetworkPolicy/prod/two (specs[1])",
        ]
    );
    // The same policy again, with one rule set: it replaces all three.
    let again = cnp(
        "prod",
        "two",
        "endpointSelector: {matchLabels: {app: api}}\ningress:\n- {}",
    );
    let index = index_with(&format!("{doc}{again}"));
    assert_eq!(index.policies().policies.len(), 1);
    assert!(index.policies().tiers.is_empty(), "the deny part went too");
}

/// Cilium's `policy-cidr-match-mode: nodes` (security/policy/language, "Selecting nodes with
/// CIDR / ipBlock"): by default a CIDR rule matches only addresses outside the cluster, and a
/// node only by entity; with the mode set (`--cilium-cidr-nodes`), a node's addresses are
/// matched by CIDR too, for allows and denies alike.
#[test]
fn cidr_rules_match_nodes_only_in_nodes_mode() {
    let allow = cnp(
        "prod",
        "to-nodes",
        &format!("{API}\negress:\n- toCIDR: [192.168.1.0/24]"),
    );
    let deny = cnp(
        "prod",
        "no-nodes",
        &format!(
            "{API}\nenableDefaultDeny: {{egress: false}}\negressDeny:\n- toCIDR: [192.168.1.2/32]"
        ),
    );
    for (mode, to_node, denied) in [(false, Denied, Allowed), (true, Allowed, Denied)] {
        let options = EngineOptions {
            cilium_cidr_matches_nodes: mode,
            ..EngineOptions::default()
        };
        let index = verdicts::index_of(WORLD, &allow, options.clone());
        assert_eq!(
            decide(&index, "prod/api", "node/n2", Tcp, 10250),
            to_node,
            "mode {mode}"
        );
        assert_eq!(
            decide(&index, "prod/api", "192.168.1.2", Tcp, 10250),
            to_node,
            "mode {mode}: the node's address"
        );
        let index = verdicts::index_of(WORLD, &deny, options);
        assert_eq!(
            decide(&index, "prod/api", "node/n2", Tcp, 10250),
            denied,
            "mode {mode}"
        );
    }
}

/// Host policies (security/policy/host, "Host Policies"; security/host-firewall): a
/// CiliumClusterwideNetworkPolicy with a `nodeSelector` selects the host endpoints of the
/// nodes whose labels match, which hold the nodes' own addresses and the host-network pods on
/// them. Its rules act as an endpoint's do: deny rules first, and a direction with rules is
/// in default deny. Cilium's host firewall is off by default and host policies then do
/// nothing; the reader is told (`--cilium-host-firewall`), and without it what they would
/// decide is unknown.
#[test]
fn host_policies_select_nodes_and_their_host_network_pods() {
    // n2 carries the label; dev/agent uses n2's host network; prod/web runs on n2.
    let world = WORLD.replace(
        "metadata: {name: n2}",
        "metadata: {name: n2, labels: {node-access: ssh}}",
    );
    let ssh_only = ccnp(
        "ssh-only",
        "nodeSelector: {matchLabels: {node-access: ssh}}\ningress:\n- fromEntities: [cluster]\n  toPorts: [{ports: [{port: \"22\", protocol: TCP}]}]",
    );
    let out_https = ccnp(
        "out-https",
        "nodeSelector: {}\negress:\n- toCIDR: [203.0.113.0/24]\n  toPorts: [{ports: [{port: \"443\"}]}]",
    );
    let no_remote_nodes = ccnp(
        "no-remote-nodes",
        "nodeSelector: {matchLabels: {k8s:node-access: ssh}}\ningress:\n- fromEntities: [all]\ningressDeny:\n- fromEntities: [remote-node]",
    );
    let on = EngineOptions {
        cilium_host_firewall: Some(true),
        ..EngineOptions::default()
    };
    let off = EngineOptions {
        cilium_host_firewall: Some(false),
        ..EngineOptions::default()
    };
    let unknown = EngineOptions::default();
    let cases = [
        (
            "a pod to a selected node's port the rule names",
            &ssh_only,
            &on,
            "prod/api",
            "node/n2",
            Tcp,
            22,
            Allowed,
        ),
        (
            "the node's address, as the probe sees it",
            &ssh_only,
            &on,
            "prod/api",
            "192.168.1.2",
            Tcp,
            22,
            Allowed,
        ),
        (
            "another port: the host is isolated",
            &ssh_only,
            &on,
            "prod/api",
            "node/n2",
            Tcp,
            80,
            Denied,
        ),
        (
            "a node the selector does not match",
            &ssh_only,
            &on,
            "prod/api",
            "node/n1",
            Tcp,
            80,
            Allowed,
        ),
        (
            "a host-network pod shares its node's host endpoint",
            &ssh_only,
            &on,
            "prod/api",
            "dev/agent",
            Tcp,
            80,
            Denied,
        ),
        (
            "... and its rules",
            &ssh_only,
            &on,
            "prod/api",
            "dev/agent",
            Tcp,
            22,
            Allowed,
        ),
        (
            "the world is not the cluster",
            &ssh_only,
            &on,
            "203.0.113.9",
            "node/n2",
            Tcp,
            22,
            Denied,
        ),
        (
            "a pod and its own node: the pod's side is exempt, the host's judged",
            &ssh_only,
            &on,
            "prod/web",
            "node/n2",
            Tcp,
            80,
            Denied,
        ),
        (
            "a pod and its own node: the host's rule admits",
            &ssh_only,
            &on,
            "prod/web",
            "node/n2",
            Tcp,
            22,
            Allowed,
        ),
        (
            "a pod and its own node, firewall off: exempt",
            &ssh_only,
            &off,
            "prod/web",
            "node/n2",
            Tcp,
            80,
            Allowed,
        ),
        (
            "egress of the host: the rule's CIDR and port",
            &out_https,
            &on,
            "node/n1",
            "203.0.113.9",
            Tcp,
            443,
            Allowed,
        ),
        (
            "egress of the host: another port",
            &out_https,
            &on,
            "node/n1",
            "203.0.113.9",
            Tcp,
            80,
            Denied,
        ),
        (
            "egress of a host-network pod",
            &out_https,
            &on,
            "dev/agent",
            "203.0.113.9",
            Tcp,
            80,
            Denied,
        ),
        (
            "a pod's own egress is no host's",
            &out_https,
            &on,
            "prod/api",
            "203.0.113.9",
            Tcp,
            80,
            Allowed,
        ),
        (
            "deny before allow: another node",
            &no_remote_nodes,
            &on,
            "node/n1",
            "node/n2",
            Tcp,
            10250,
            Denied,
        ),
        (
            "deny before allow: a pod is no remote node",
            &no_remote_nodes,
            &on,
            "prod/api",
            "node/n2",
            Tcp,
            10250,
            Allowed,
        ),
        (
            "firewall off: host policies do nothing",
            &ssh_only,
            &off,
            "prod/api",
            "node/n2",
            Tcp,
            80,
            Allowed,
        ),
        (
            "firewall off: nor on host-network pods",
            &ssh_only,
            &off,
            "prod/api",
            "dev/agent",
            Tcp,
            80,
            Allowed,
        ),
        (
            "firewall not known: unknown",
            &ssh_only,
            &unknown,
            "prod/api",
            "node/n2",
            Tcp,
            80,
            Unknown,
        ),
        (
            "firewall not known: unknown for the pod too",
            &ssh_only,
            &unknown,
            "prod/api",
            "dev/agent",
            Tcp,
            22,
            Unknown,
        ),
        (
            "firewall not known: a node no host policy selects",
            &ssh_only,
            &unknown,
            "prod/api",
            "node/n1",
            Tcp,
            80,
            Allowed,
        ),
        (
            "firewall not known: the host's direction without rules is open",
            &ssh_only,
            &unknown,
            "node/n2",
            "203.0.113.9",
            Tcp,
            80,
            Allowed,
        ),
        (
            "firewall not known: so is a host-network pod's",
            &ssh_only,
            &unknown,
            "dev/agent",
            "203.0.113.9",
            Tcp,
            80,
            Allowed,
        ),
        (
            "firewall not known: a deny that may apply",
            &no_remote_nodes,
            &unknown,
            "node/n1",
            "node/n2",
            Tcp,
            10250,
            Unknown,
        ),
    ];
    let mut failures = Vec::new();
    for (what, policies, options, from, to, proto, port, want) in cases {
        let index = verdicts::index_of(&world, policies, options.clone());
        let got = decide(&index, from, to, proto, port);
        if got != want {
            failures.push(format!(
                "{what}: {from} -> {to} {proto}/{port}: want {want:?}, got {got:?}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));

    // lint: a host policy selects nodes, not pods; one that selects no node has no effect.
    let index = verdicts::index_of(&world, &no_remote_nodes, on.clone());
    for id in 0..index.policies().policies.len() as u32 {
        let found = netpol_tui::policy::lint::policy_problems(&index, id);
        assert!(
            found.iter().all(|f| f.rule != "selects-nothing"),
            "{:?}",
            found.iter().map(|f| &f.what).collect::<Vec<_>>()
        );
    }
    let nowhere = ccnp(
        "nowhere",
        "nodeSelector: {matchLabels: {pool: gpu}}
ingress:
- fromEntities: [cluster]",
    );
    let index = verdicts::index_of(&world, &nowhere, on.clone());
    let found = netpol_tui::policy::lint::policy_problems(&index, 0);
    assert!(
        found
            .iter()
            .any(|f| f.what
                == "nodeSelector pool=gpu selects no node: the host policy has no effect"),
        "{:?}",
        found.iter().map(|f| &f.what).collect::<Vec<_>>()
    );

    // explain names the host, the policy and why.
    let index = verdicts::index_of(&world, &ssh_only, on.clone());
    let e = explain(
        &index,
        &verdicts::flow(&index, "prod/api", "node/n2", Tcp, 80),
    );
    assert_eq!(e.ingress.pod.as_deref(), Some("host n2"));
    assert_eq!(
        e.ingress.isolated_by,
        ["CiliumClusterwideNetworkPolicy/ssh-only"]
    );
    let index = verdicts::index_of(&world, &ssh_only, unknown);
    let e = explain(
        &index,
        &verdicts::flow(&index, "prod/api", "node/n2", Tcp, 80),
    );
    let why = e.unknown.expect("a reason");
    assert!(why.contains("--cilium-host-firewall"), "{why}");
}

/// A host policy's node selector reads the node's labels: only the `k8s:` and `any:` sources.
#[test]
fn host_policy_selectors_with_other_sources_are_refused() {
    let bad = ccnp(
        "bad",
        "nodeSelector: {matchLabels: {reserved:host: \"\"}}\ningress:\n- fromEntities: [cluster]",
    );
    let err = load_text("host.yaml", &format!("{WORLD}\n---\n{bad}"))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("spec.nodeSelector.matchLabels[reserved:host]"),
        "{err}"
    );
}

/// Service accounts (security/policy/kubernetes, "Service Accounts"): an endpoint carries
/// its pod's service account as `io.cilium.k8s.policy.serviceaccount`, which endpoint
/// selectors may name, as subject and as peer; a pod with none runs as `default`. The
/// cluster name (`io.cilium.k8s.policy.cluster`) is not in the inventory: refused, naming
/// the field.
#[test]
fn endpoints_are_selected_by_service_account() {
    let world = WORLD.replace(
        "{name: web, namespace: prod, labels: {app: web}}, spec: {nodeName: n2,",
        "{name: web, namespace: prod, labels: {app: web}}, spec: {nodeName: n2, serviceAccountName: web-sa,",
    );
    assert_ne!(world, WORLD);
    // web2 is web but for its service account: the two are told apart.
    let world = format!(
        "{world}---\napiVersion: v1\nkind: Pod\nmetadata: {{name: web2, namespace: prod, labels: {{app: web}}}}\nspec: {{nodeName: n2, containers: [{{name: c}}]}}\nstatus: {{podIP: 10.1.0.9}}\n"
    );
    let by_account = cnp(
        "prod",
        "by-account",
        "endpointSelector: {matchLabels: {io.cilium.k8s.policy.serviceaccount: default}}\ningress:\n- fromEndpoints: [{matchLabels: {k8s:io.cilium.k8s.policy.serviceaccount: web-sa}}]",
    );
    let cases = [
        (
            "a peer by its service account",
            "prod/web",
            "prod/api",
            Allowed,
        ),
        ("another service account", "dev/shell", "prod/api", Denied),
        (
            "the same labels, another service account",
            "prod/web2",
            "prod/api",
            Denied,
        ),
        (
            "a subject by its service account: web is not selected",
            "prod/api",
            "prod/web",
            Allowed,
        ),
    ];
    let index = verdicts::index_of(&world, &by_account, EngineOptions::default());
    for (what, from, to, want) in cases {
        assert_eq!(decide(&index, from, to, Tcp, 8080), want, "{what}");
    }
    let cluster = cnp(
        "prod",
        "by-cluster",
        "endpointSelector: {}\ningress:\n- fromEndpoints: [{matchLabels: {io.cilium.k8s.policy.cluster: east}}]",
    );
    let err = load_text("cluster.yaml", &format!("{WORLD}\n---\n{cluster}"))
        .err()
        .expect("refused")
        .to_string();
    assert!(
        err.contains("spec.ingress[0].fromEndpoints[0].matchLabels[io.cilium.k8s.policy.cluster]"),
        "{err}"
    );
}

/// operations/performance/scalability/identity-relevant-labels ("Limiting Identity-Relevant
/// Labels"): endpoint selectors match the labels of the security identity, and by default
/// Cilium leaves some labels out of it (`kubernetes.io/*`, the StatefulSet pod name, the
/// pod template hash, …) while keeping `app.kubernetes.io/*`. A selector on a left-out label
/// sees every pod without it: `In`/`Exists` never hold, `NotIn`/`DoesNotExist` always do.
#[test]
fn selectors_see_the_labels_of_security_identities() {
    let world = WORLD.replace(
        "{name: web, namespace: prod, labels: {app: web}}",
        "{name: web, namespace: prod, labels: {app: web, statefulset.kubernetes.io/pod-name: web-0, app.kubernetes.io/name: web, pod-template-hash: abc}}",
    );
    assert_ne!(world, WORLD);
    let from = |selector: &str| {
        cnp(
            "prod",
            "from",
            &format!("{API}\ningress:\n- fromEndpoints: [{selector}]"),
        )
    };
    let cases = [
        ("a left-out label: never present", "{matchLabels: {statefulset.kubernetes.io/pod-name: web-0}}", Denied),
        ("the pod template hash too", "{matchExpressions: [{key: pod-template-hash, operator: Exists}]}", Denied),
        ("absent, so DoesNotExist holds", "{matchExpressions: [{key: pod-template-hash, operator: DoesNotExist}], matchLabels: {app: web}}", Allowed),
        ("app.kubernetes.io is kept", "{matchLabels: {app.kubernetes.io/name: web}}", Allowed),
        ("a label of its own", "{matchLabels: {app: web}}", Allowed),
    ];
    let mut failures = Vec::new();
    for (what, selector, want) in cases {
        let index = verdicts::index_of(&world, &from(selector), EngineOptions::default());
        let got = decide(&index, "prod/web", "prod/api", Tcp, 8080);
        if got != want {
            failures.push(format!("{what}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    let index = verdicts::index_of(
        &world,
        &from("{matchLabels: {statefulset.kubernetes.io/pod-name: web-0}}"),
        EngineOptions::default(),
    );
    let found = netpol_tui::policy::lint::policy_problems(&index, 0);
    assert!(
        found.iter().any(|f| f.rule == "cilium-identity-label"
            && f.what.contains("statefulset.kubernetes.io/pod-name is not among the labels Cilium puts in security identities")),
        "{:?}",
        found.iter().map(|f| &f.what).collect::<Vec<_>>()
    );
}

/// The world with Services: `prod/ext` has no selector, one ready endpoint and one that is
/// not (an EndpointSlice); `dev/ext` has no selector either (a legacy Endpoints object);
/// `prod/lost` has no selector and no slice among the files; `prod/web-svc` selects `web`
/// and `dev/agent-svc` the host-network `agent`.
fn service_world() -> String {
    format!(
        "{WORLD}---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: prod, labels: {{kind: external}}}}
spec: {{ports: [{{port: 443}}]}}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata: {{name: ext-1, namespace: prod, labels: {{kubernetes.io/service-name: ext}}}}
addressType: IPv4
endpoints:
- addresses: [203.0.113.10]
- addresses: [203.0.113.11]
  conditions: {{ready: false, terminating: true}}
---
apiVersion: v1
kind: Service
metadata: {{name: ext, namespace: dev, labels: {{kind: external}}}}
spec: {{ports: [{{port: 443}}]}}
---
apiVersion: v1
kind: Endpoints
metadata: {{name: ext, namespace: dev}}
subsets: [{{addresses: [{{ip: 198.51.100.5}}], ports: [{{port: 443}}]}}]
---
apiVersion: v1
kind: Service
metadata: {{name: lost, namespace: prod}}
spec: {{ports: [{{port: 443}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: web-svc, namespace: prod, labels: {{kind: internal}}}}
spec: {{selector: {{app: web}}, ports: [{{port: 80}}]}}
---
apiVersion: v1
kind: Service
metadata: {{name: agent-svc, namespace: dev}}
spec: {{selector: {{app: agent}}, ports: [{{port: 80}}]}}
"
    )
}

/// security/policy/language ("Services based") and the agent's translation of `toServices`
/// (pkg/policy/k8s/service.go): a Service without a selector stands for the ready addresses
/// of its endpoints, matched as a CIDR set; a Service with a selector is ignored before
/// Cilium 1.17 and stands for its pods from 1.17 on, so those pods are unknown; a reference
/// without a namespace picks Services of every namespace. A rule with toServices and toPorts
/// (documented as not to be combined), and toServices in a deny rule, are not judged.
#[test]
fn services_stand_for_their_endpoints() {
    let world = service_world();
    let to = |name: &str, entries: &str| {
        cnp(
            "prod",
            name,
            &format!("{API}\negress:\n- toServices: [{entries}]"),
        )
    };
    let by_name = to(
        "by-name",
        "{k8sService: {serviceName: ext, namespace: prod}}",
    );
    let any_ns = to("any-ns", "{k8sService: {serviceName: ext}}");
    let by_label = to(
        "by-label",
        "{k8sServiceSelector: {selector: {matchLabels: {kind: external}}, namespace: dev}}",
    );
    let selecting = to(
        "selecting",
        "{k8sService: {serviceName: web-svc, namespace: prod}}",
    );
    let host_net = to(
        "host-net",
        "{k8sService: {serviceName: agent-svc, namespace: dev}}",
    );
    let lost = to("lost", "{k8sService: {serviceName: lost, namespace: prod}}");
    let missing = to(
        "missing",
        "{k8sService: {serviceName: nope, namespace: prod}}",
    );
    let with_ports = cnp(
        "prod",
        "with-ports",
        &format!(
            "{API}\negress:\n- toServices: [{{k8sService: {{serviceName: ext, namespace: prod}}}}]\n  toPorts: [{{ports: [{{port: \"443\", protocol: TCP}}]}}]"
        ),
    );
    let deny = cnp(
        "prod",
        "deny",
        &format!(
            "{API}\negress:\n- toEntities: [all]\negressDeny:\n- toServices: [{{k8sService: {{serviceName: ext, namespace: prod}}}}]"
        ),
    );
    let cases: Vec<(&str, &String, &str, Decision)> = vec![
        ("a ready endpoint", &by_name, "203.0.113.10", Allowed),
        (
            "an endpoint that is not ready",
            &by_name,
            "203.0.113.11",
            Unknown,
        ),
        (
            "no endpoint: the rule isolates",
            &by_name,
            "203.0.113.12",
            Denied,
        ),
        (
            "another namespace's Service of that name",
            &by_name,
            "198.51.100.5",
            Denied,
        ),
        (
            "a pod: endpoints match as CIDRs",
            &by_name,
            "prod/web",
            Denied,
        ),
        (
            "no namespace: every namespace's",
            &any_ns,
            "198.51.100.5",
            Allowed,
        ),
        ("no namespace: prod's too", &any_ns, "203.0.113.10", Allowed),
        (
            "by label, from Endpoints",
            &by_label,
            "198.51.100.5",
            Allowed,
        ),
        (
            "by label, in another namespace",
            &by_label,
            "203.0.113.10",
            Denied,
        ),
        (
            "a Service's pods: the version decides",
            &selecting,
            "prod/web",
            Unknown,
        ),
        ("a pod it does not select", &selecting, "dev/shell", Denied),
        (
            "an address, for a Service with a selector",
            &selecting,
            "203.0.113.10",
            Denied,
        ),
        (
            "a host-network pod: never an endpoint",
            &host_net,
            "dev/agent",
            Denied,
        ),
        ("slices not read", &lost, "203.0.113.10", Unknown),
        (
            "slices not read: pods are still no CIDR",
            &lost,
            "prod/web",
            Denied,
        ),
        ("no such Service", &missing, "203.0.113.10", Denied),
        ("with toPorts: not judged", &with_ports, "1.1.1.1", Unknown),
        ("in a deny rule: not judged", &deny, "1.1.1.1", Unknown),
    ];
    let mut failures = Vec::new();
    for (what, policies, dst, want) in cases {
        let index = verdicts::index_of(&world, policies, EngineOptions::default());
        let got = decide(&index, "prod/api", dst, Tcp, 443);
        if got != want {
            failures.push(format!("{what}: -> {dst}: want {want:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    // With toPorts, other ports are still outside the rule.
    let index = verdicts::index_of(&world, &with_ports, EngineOptions::default());
    assert_eq!(decide(&index, "prod/api", "1.1.1.1", Tcp, 80), Denied);

    // explain says why the Service's pods are unknown, and what was picked.
    let index = verdicts::index_of(&world, &selecting, EngineOptions::default());
    let e = explain(
        &index,
        &verdicts::flow(&index, "prod/api", "prod/web", Tcp, 443),
    );
    let reason = e.unknown.expect("a reason");
    assert!(
        reason.contains("Service prod/web-svc selects it") && reason.contains("Cilium 1.17"),
        "{reason}"
    );
    let index = verdicts::index_of(&world, &lost, EngineOptions::default());
    let e = explain(
        &index,
        &verdicts::flow(&index, "prod/api", "203.0.113.10", Tcp, 443),
    );
    let reason = e.unknown.expect("a reason");
    assert!(
        reason.contains("the endpoints of Service prod/lost (no selector) were not read"),
        "{reason}"
    );

    // effective lists what the Services stand for.
    let index = verdicts::index_of(&world, &by_name, EngineOptions::default());
    let api = index.pod_id("prod", "api").expect("api");
    let e = netpol_tui::policy::effective::effective(&index, api);
    let peers: Vec<&str> = e.egress.allows.iter().map(|a| a.peer.as_str()).collect();
    assert_eq!(
        peers,
        ["the endpoints of Service prod/ext: 203.0.113.10; not ready, unknown: 203.0.113.11"]
    );

    // lint: a reference that picks no Service.
    let loaded = load_text("t.yaml", &format!("{world}---\n{missing}")).unwrap();
    let index = Index::build(
        Arc::clone(&loaded.world.inventory),
        Arc::clone(&loaded.world.policies),
        EngineOptions::default(),
    );
    let findings = netpol_tui::policy::lint::lint(&index);
    assert!(
        findings
            .iter()
            .any(|f| f.rule == "peer-matches-nothing" && f.what.contains("Service prod/nope")),
        "{findings:?}"
    );
}

/// Bad toServices entries are refused, naming the field.
#[test]
fn bad_service_references_name_the_field() {
    for (entries, field) in [
        (
            "egress:\n- toServices: [{}]",
            "spec.egress[0].toServices[0]",
        ),
        (
            "egress:\n- toServices: [{k8sService: {namespace: prod}}]",
            "spec.egress[0].toServices[0].k8sService.serviceName",
        ),
        (
            "egress:\n- toServices: [{k8sServiceSelector: {namespace: prod}}]",
            "spec.egress[0].toServices[0].k8sServiceSelector.selector",
        ),
        (
            "ingress:\n- toServices: [{k8sService: {serviceName: ext}}]",
            "spec.ingress[0].toServices",
        ),
    ] {
        let policy = cnp("prod", "bad", &format!("{API}\n{entries}"));
        let err = load_text("bad.yaml", &format!("{WORLD}\n---\n{policy}"))
            .err()
            .unwrap_or_else(|| panic!("refused: {entries}"))
            .to_string();
        assert!(err.contains(field), "{field}: {err}");
    }
}

/// Where a namespace's Services could not be read, a `toServices` that may pick one of them
/// leaves its matches unknown: the Service's pods and every outside address. What the
/// readable namespaces hold is still decided.
#[test]
fn services_that_could_not_be_read_leave_their_matches_unknown() {
    let world = service_world();
    let index_hiding_prod = |policy: &str| {
        let loaded = load_text("t.yaml", &format!("{world}---\n{policy}")).unwrap();
        let mut inventory = (*loaded.world.inventory).clone();
        for ns in &mut inventory.namespaces {
            ns.services_known = ns.name != "prod";
        }
        inventory.services.retain(|s| s.namespace != "prod");
        Index::build(
            Arc::new(inventory),
            Arc::clone(&loaded.world.policies),
            EngineOptions::default(),
        )
    };
    let to = |entries: &str| {
        cnp(
            "prod",
            "p",
            &format!("{API}\negress:\n- toServices: [{entries}]"),
        )
    };
    let cases = [
        (
            "prod's, by name",
            to("{k8sService: {serviceName: ext, namespace: prod}}"),
            "203.0.113.10",
            Unknown,
        ),
        (
            "prod's, a pod",
            to("{k8sService: {serviceName: web-svc, namespace: prod}}"),
            "prod/web",
            Unknown,
        ),
        (
            "dev's pods are known",
            to("{k8sService: {serviceName: web-svc, namespace: prod}}"),
            "dev/shell",
            Denied,
        ),
        (
            "any namespace: dev's",
            to("{k8sService: {serviceName: ext}}"),
            "198.51.100.5",
            Allowed,
        ),
        (
            "any namespace: prod's may be",
            to("{k8sService: {serviceName: ext}}"),
            "203.0.113.99",
            Unknown,
        ),
        (
            "dev only: known",
            to("{k8sService: {serviceName: ext, namespace: dev}}"),
            "203.0.113.99",
            Denied,
        ),
    ];
    for (what, policy, dst, want) in cases {
        let index = index_hiding_prod(&policy);
        assert_eq!(decide(&index, "prod/api", dst, Tcp, 443), want, "{what}");
    }
    let index = index_hiding_prod(&to("{k8sService: {serviceName: ext, namespace: prod}}"));
    let e = explain(
        &index,
        &verdicts::flow(&index, "prod/api", "203.0.113.10", Tcp, 443),
    );
    let reason = e.unknown.expect("a reason");
    assert!(
        reason.contains("the Services of namespace prod could not be read"),
        "{reason}"
    );
}
