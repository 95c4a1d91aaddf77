//! NetworkPolicy semantics, point by point, as the Kubernetes documentation defines them.
//! Every case is checked three ways: by the fast index, by the literal `explain`, which
//! must agree on the verdict and on both sides, and by the one-port matrix.

mod verdicts;

use netpol_tui::policy::{Decision, EngineOptions, Index, Protocol, Side};

const WORLD: &str = r#"
apiVersion: v1
kind: Namespace
metadata: {name: a, labels: {team: x}}
---
apiVersion: v1
kind: Namespace
metadata: {name: b, labels: {team: y, env: prod}}
---
apiVersion: v1
kind: Namespace
metadata: {name: c}
---
apiVersion: v1
kind: Node
metadata: {name: n1}
status: {addresses: [{type: InternalIP, address: 192.168.0.1}]}
---
apiVersion: v1
kind: Node
metadata: {name: n2}
status: {addresses: [{type: InternalIP, address: 192.168.0.2}]}
---
apiVersion: v1
kind: List
items:
- apiVersion: v1
  kind: Pod
  metadata: {name: web, namespace: a, labels: {app: web}}
  spec:
    nodeName: n1
    containers:
    - name: c
      ports:
      - {name: http, containerPort: 80}
      - {name: dns, containerPort: 53, protocol: UDP}
      - {name: assoc, containerPort: 3868, protocol: SCTP}
  status: {podIP: 10.1.0.1, podIPs: [{ip: 10.1.0.1}, {ip: "fd00::1"}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: db, namespace: a, labels: {app: db, tier: data}}
  spec:
    nodeName: n2
    containers:
    - name: c
      ports:
      - {name: http, containerPort: 5432}
  status: {podIP: 10.1.0.2}
- apiVersion: v1
  kind: Pod
  metadata: {name: client, namespace: a, labels: {app: client}}
  spec: {nodeName: n1, containers: [{name: c}]}
  status: {podIP: 10.1.0.3}
- apiVersion: v1
  kind: Pod
  metadata: {name: client, namespace: b, labels: {app: client}}
  spec: {nodeName: n2, containers: [{name: c}]}
  status: {podIP: 10.2.0.1}
- apiVersion: v1
  kind: Pod
  metadata: {name: other, namespace: b, labels: {app: other, env: prod}}
  spec: {nodeName: n2, containers: [{name: c}]}
  status: {podIP: 10.2.0.2, podIPs: [{ip: 10.2.0.2}, {ip: "fd00::2"}]}
- apiVersion: v1
  kind: Pod
  metadata: {name: tool, namespace: c}
  spec: {nodeName: n1, containers: [{name: c}]}
  status: {podIP: 10.3.0.1}
"#;

fn index_with(policies: &str, options: EngineOptions) -> Index {
    verdicts::index_of(WORLD, policies, options)
}

/// Whether the flow is allowed, after checking that the index, explain and the matrix agree.
fn allowed_in(index: &Index, from: &str, to: &str, protocol: Protocol, port: u16) -> bool {
    verdicts::decide(index, from, to, protocol, port) == Decision::Allowed
}

fn np(namespace: &str, name: &str, spec: &str) -> String {
    let spec = spec.trim_end().replace('\n', "\n  ");
    format!(
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {{name: {name}, namespace: {namespace}}}\nspec:\n  {spec}\n---\n"
    )
}

use Protocol::{Sctp, Tcp, Udp};

/// (what it shows, policies, from, to, protocol, port, allowed?)
type Case = (
    &'static str,
    String,
    &'static str,
    &'static str,
    Protocol,
    u16,
    bool,
);

fn run(cases: Vec<Case>) {
    run_with(cases, EngineOptions::default())
}

fn run_with(cases: Vec<Case>, options: EngineOptions) {
    let mut failures = Vec::new();
    for (what, policies, from, to, proto, port, want) in cases {
        let index = index_with(&policies, options.clone());
        let got = allowed_in(&index, from, to, proto, port);
        if got != want {
            failures.push(format!(
                "{what}: {from} -> {to} {proto}/{port}: want {want}, got {got}"
            ));
        }
    }
    assert!(failures.is_empty(), "\n{}", failures.join("\n"));
}

#[test]
fn no_policy_means_everything_is_allowed() {
    run(vec![
        (
            "no policies at all",
            String::new(),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "a policy elsewhere does not isolate",
            np("b", "deny", "podSelector: {}"),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "a policy selecting other pods does not isolate",
            np("a", "deny", "podSelector: {matchLabels: {app: web}}"),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
    ]);
}

#[test]
fn policy_types_defaulting() {
    run(vec![
        ("absent policyTypes: Ingress only, ingress isolated", np("a", "p", "podSelector: {}"), "a/client", "a/db", Tcp, 5432, false),
        (
            "absent policyTypes without egress section: egress stays open",
            np("a", "p", "podSelector: {matchLabels: {app: client}}"),
            "a/client", "b/other", Tcp, 80, true,
        ),
        (
            "absent policyTypes with an egress section: Egress too",
            np("a", "p", "podSelector: {matchLabels: {app: client}}\negress: [{to: [{podSelector: {matchLabels: {app: web}}}]}]"),
            "a/client", "b/other", Tcp, 80, false,
        ),
        (
            "explicit policyTypes [Egress] ignores the ingress section",
            np("a", "p", "podSelector: {}\npolicyTypes: [Egress]\ningress: [{from: [{podSelector: {matchLabels: {app: nothing}}}]}]"),
            "b/client", "a/db", Tcp, 5432, true,
        ),
    ]);
}

#[test]
fn isolation_is_per_direction() {
    let ingress_only = np("a", "p", "podSelector: {}\npolicyTypes: [Ingress]");
    let egress_only = np("a", "p", "podSelector: {}\npolicyTypes: [Egress]");
    run(vec![
        (
            "ingress isolation blocks incoming",
            ingress_only.clone(),
            "b/client",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "ingress isolation leaves outgoing alone",
            ingress_only,
            "a/db",
            "b/client",
            Tcp,
            80,
            true,
        ),
        (
            "egress isolation blocks outgoing",
            egress_only.clone(),
            "a/db",
            "b/client",
            Tcp,
            80,
            false,
        ),
        (
            "egress isolation leaves incoming alone",
            egress_only,
            "b/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "both ends must allow: egress open, ingress closed",
            np("b", "p", "podSelector: {}"),
            "a/client",
            "b/other",
            Tcp,
            80,
            false,
        ),
    ]);
}

#[test]
fn rules_of_all_selecting_policies_are_unioned() {
    let two = np("a", "deny", "podSelector: {}")
        + &np("a", "allow-client", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]")
        + &np("a", "allow-web", "podSelector: {matchLabels: {tier: data}}\ningress: [{from: [{podSelector: {matchLabels: {app: web}}}], ports: [{port: 5432}]}]");
    run(vec![
        (
            "first policy's rule admits",
            two.clone(),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "second policy's rule admits",
            two.clone(),
            "a/web",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "second policy's port limit is its own",
            two.clone(),
            "a/client",
            "a/db",
            Tcp,
            9999,
            true,
        ),
        (
            "the union still denies others",
            two,
            "b/client",
            "a/db",
            Tcp,
            5432,
            false,
        ),
    ]);
}

#[test]
fn empty_versus_absent() {
    run(vec![
        (
            "podSelector {} selects every pod of its namespace",
            np("a", "p", "podSelector: {}\ningress: []"),
            "a/client",
            "a/web",
            Tcp,
            80,
            false,
        ),
        (
            "podSelector {} does not select other namespaces",
            np("a", "p", "podSelector: {}\ningress: []"),
            "a/client",
            "b/other",
            Tcp,
            80,
            true,
        ),
        (
            "ingress: [] allows nothing",
            np("a", "p", "podSelector: {}\ningress: []"),
            "a/web",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "ingress: [{}] allows everything",
            np("a", "p", "podSelector: {}\ningress: [{}]"),
            "b/other",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "ingress: [{}] allows external sources too",
            np("a", "p", "podSelector: {}\ningress: [{}]"),
            "203.0.113.5",
            "a/db",
            Udp,
            9,
            true,
        ),
        (
            "rule without from admits any source",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{ports: [{port: 5432}]}]",
            ),
            "c/tool",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "rule with from: [] admits any source",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{from: [], ports: [{port: 5432}]}]",
            ),
            "8.8.8.8",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "rule without ports admits any port",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{from: [{podSelector: {}}]}]",
            ),
            "a/client",
            "a/db",
            Sctp,
            1,
            true,
        ),
        (
            "rule with ports: [] admits any port",
            np("a", "p", "podSelector: {}\ningress: [{ports: []}]"),
            "a/client",
            "a/db",
            Udp,
            7,
            true,
        ),
        (
            "egress: [{}] allows everything out",
            np(
                "a",
                "p",
                "podSelector: {}\npolicyTypes: [Egress]\negress: [{}]",
            ),
            "a/db",
            "1.1.1.1",
            Tcp,
            443,
            true,
        ),
    ]);
}

#[test]
fn peers_and_or() {
    let and = np("a", "p", "podSelector: {matchLabels: {app: db}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {team: y}}\n    podSelector: {matchLabels: {app: client}}");
    let or = np("a", "p", "podSelector: {matchLabels: {app: db}}\ningress:\n- from:\n  - namespaceSelector: {matchLabels: {team: y}}\n  - podSelector: {matchLabels: {app: client}}");
    let pod_only = np("a", "p", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{podSelector: {matchLabels: {app: client}}}]}]");
    let ns_only = np("a", "p", "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{namespaceSelector: {matchLabels: {team: y}}}]}]");
    let all_ns = np(
        "a",
        "p",
        "podSelector: {matchLabels: {app: db}}\ningress: [{from: [{namespaceSelector: {}}]}]",
    );
    run(vec![
        (
            "podSelector alone: same namespace",
            pod_only.clone(),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "podSelector alone: not other namespaces",
            pod_only,
            "b/client",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "namespaceSelector alone: every pod there",
            ns_only.clone(),
            "b/other",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "namespaceSelector alone: not other namespaces",
            ns_only,
            "a/client",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "AND: pod in matching namespace",
            and.clone(),
            "b/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "AND: wrong pod in matching namespace",
            and.clone(),
            "b/other",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "AND: right pod in wrong namespace",
            and,
            "a/client",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "OR: any pod of the namespace",
            or.clone(),
            "b/other",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "OR: matching pod of the policy namespace",
            or.clone(),
            "a/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        ("OR: neither", or, "c/tool", "a/db", Tcp, 5432, false),
        (
            "namespaceSelector {}: pods of every namespace",
            all_ns.clone(),
            "c/tool",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "namespaceSelector {}: not external addresses",
            all_ns.clone(),
            "8.8.8.8",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "namespaceSelector {}: not nodes",
            all_ns,
            "192.168.0.1",
            "a/db",
            Tcp,
            5432,
            false,
        ),
    ]);
}

#[test]
fn label_selector_operators() {
    let expr = |e: &str| {
        np("a", "p", &format!("podSelector: {{matchLabels: {{app: db}}}}\ningress: [{{from: [{{namespaceSelector: {{}}, podSelector: {e}}}]}}]"))
    };
    run(vec![
        ("In", expr("{matchExpressions: [{key: app, operator: In, values: [client, x]}]}"), "b/client", "a/db", Tcp, 1, true),
        ("In, not listed", expr("{matchExpressions: [{key: app, operator: In, values: [x]}]}"), "b/client", "a/db", Tcp, 1, false),
        ("NotIn excludes", expr("{matchExpressions: [{key: app, operator: NotIn, values: [client]}]}"), "b/client", "a/db", Tcp, 1, false),
        ("NotIn matches a pod without the key", expr("{matchExpressions: [{key: app, operator: NotIn, values: [client]}]}"), "c/tool", "a/db", Tcp, 1, true),
        ("Exists", expr("{matchExpressions: [{key: env, operator: Exists}]}"), "b/other", "a/db", Tcp, 1, true),
        ("Exists, key missing", expr("{matchExpressions: [{key: env, operator: Exists}]}"), "b/client", "a/db", Tcp, 1, false),
        ("DoesNotExist matches a pod without the key", expr("{matchExpressions: [{key: env, operator: DoesNotExist}]}"), "b/client", "a/db", Tcp, 1, true),
        ("DoesNotExist, key present", expr("{matchExpressions: [{key: env, operator: DoesNotExist}]}"), "b/other", "a/db", Tcp, 1, false),
        (
            "matchLabels AND matchExpressions",
            expr("{matchLabels: {app: other}, matchExpressions: [{key: env, operator: In, values: [prod]}]}"),
            "b/other", "a/db", Tcp, 1, true,
        ),
        (
            "matchLabels AND matchExpressions, one fails",
            expr("{matchLabels: {app: other}, matchExpressions: [{key: env, operator: In, values: [dev]}]}"),
            "b/other", "a/db", Tcp, 1, false,
        ),
    ]);
}

#[test]
fn namespace_name_label() {
    let by_meta = np("a", "p", "podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {kubernetes.io/metadata.name: c}}}]}]");
    let by_name = np(
        "a",
        "p",
        "podSelector: {}\ningress: [{from: [{namespaceSelector: {matchLabels: {name: c}}}]}]",
    );
    run(vec![
        (
            "kubernetes.io/metadata.name is set automatically",
            by_meta,
            "c/tool",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "a `name` label is not",
            by_name,
            "c/tool",
            "a/db",
            Tcp,
            5432,
            false,
        ),
    ]);
}

#[test]
fn named_ports_resolve_on_the_destination_pod() {
    let ingress_named = np(
        "a",
        "p",
        "podSelector: {}\ningress: [{ports: [{port: http}]}]",
    );
    let egress_named = np(
        "b",
        "p",
        "podSelector: {}\npolicyTypes: [Egress]\negress: [{ports: [{port: http}]}]",
    );
    run(vec![
        (
            "ingress: http is 80 on web",
            ingress_named.clone(),
            "b/client",
            "a/web",
            Tcp,
            80,
            true,
        ),
        (
            "ingress: http is 5432 on db, not 80",
            ingress_named.clone(),
            "b/client",
            "a/db",
            Tcp,
            80,
            false,
        ),
        (
            "ingress: http is 5432 on db",
            ingress_named.clone(),
            "b/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "ingress: a pod without the name matches nothing",
            ingress_named.clone(),
            "b/client",
            "a/client",
            Tcp,
            80,
            false,
        ),
        (
            "egress: resolved on the peer (destination) pod",
            egress_named.clone(),
            "b/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "egress: not on the source pod's ports",
            egress_named.clone(),
            "b/client",
            "a/web",
            Tcp,
            5432,
            false,
        ),
        (
            "egress: an external destination has no named ports",
            egress_named,
            "b/client",
            "8.8.8.8",
            Tcp,
            80,
            false,
        ),
        (
            "named port protocol must match the container port's",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{ports: [{port: dns, protocol: TCP}]}]",
            ),
            "b/client",
            "a/web",
            Tcp,
            53,
            false,
        ),
        (
            "named UDP port",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{ports: [{port: dns, protocol: UDP}]}]",
            ),
            "b/client",
            "a/web",
            Udp,
            53,
            true,
        ),
    ]);
}

#[test]
fn port_ranges_and_protocols() {
    let range = np(
        "a",
        "p",
        "podSelector: {}\ningress: [{ports: [{port: 1000, endPort: 2000}]}]",
    );
    let dns = np(
        "a",
        "p",
        "podSelector: {}\ningress: [{ports: [{port: 53, protocol: UDP}]}]",
    );
    run(vec![
        (
            "range start is inclusive",
            range.clone(),
            "b/client",
            "a/db",
            Tcp,
            1000,
            true,
        ),
        (
            "range end is inclusive",
            range.clone(),
            "b/client",
            "a/db",
            Tcp,
            2000,
            true,
        ),
        (
            "below the range",
            range.clone(),
            "b/client",
            "a/db",
            Tcp,
            999,
            false,
        ),
        (
            "above the range",
            range.clone(),
            "b/client",
            "a/db",
            Tcp,
            2001,
            false,
        ),
        (
            "range is TCP by default",
            range,
            "b/client",
            "a/db",
            Udp,
            1500,
            false,
        ),
        (
            "UDP/53 allows UDP/53",
            dns.clone(),
            "b/client",
            "a/web",
            Udp,
            53,
            true,
        ),
        (
            "UDP/53 does not allow TCP/53",
            dns.clone(),
            "b/client",
            "a/web",
            Tcp,
            53,
            false,
        ),
        (
            "UDP/53 does not allow SCTP/53",
            dns,
            "b/client",
            "a/web",
            Sctp,
            53,
            false,
        ),
        (
            "SCTP is its own protocol",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{ports: [{port: assoc, protocol: SCTP}]}]",
            ),
            "b/client",
            "a/web",
            Sctp,
            3868,
            true,
        ),
        (
            "protocol defaults to TCP",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{ports: [{port: 80}]}]",
            ),
            "b/client",
            "a/web",
            Udp,
            80,
            false,
        ),
    ]);
}

#[test]
fn ip_blocks() {
    let v4 = np("a", "p", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: 0.0.0.0/0, except: [10.0.0.0/8, 169.254.169.254/32]}}]}]");
    let v6 = np("a", "p", "podSelector: {}\npolicyTypes: [Egress]\negress: [{to: [{ipBlock: {cidr: '2001:db8::/32', except: ['2001:db8:bad::/48']}}]}]");
    let pods = np(
        "a",
        "p",
        "podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 10.2.0.0/24}}]}]",
    );
    run(vec![
        ("inside cidr", v4.clone(), "a/db", "8.8.8.8", Tcp, 443, true),
        (
            "inside except",
            v4.clone(),
            "a/db",
            "169.254.169.254",
            Tcp,
            80,
            false,
        ),
        (
            "IPv4 block does not match IPv6",
            v4.clone(),
            "a/db",
            "2001:db8::1",
            Tcp,
            443,
            false,
        ),
        (
            "IPv6 inside cidr",
            v6.clone(),
            "a/db",
            "2001:db8::1",
            Tcp,
            443,
            true,
        ),
        (
            "IPv6 inside except",
            v6.clone(),
            "a/db",
            "2001:db8:bad::1",
            Tcp,
            443,
            false,
        ),
        (
            "IPv6 block does not match IPv4",
            v6,
            "a/db",
            "8.8.8.8",
            Tcp,
            443,
            false,
        ),
        (
            "ipBlock matches a pod IP by default",
            pods.clone(),
            "b/client",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "ipBlock matches a pod IP given as the address",
            pods.clone(),
            "10.2.0.2",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "a pod outside the block",
            pods.clone(),
            "c/tool",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "ipBlock on a node address",
            np(
                "a",
                "p",
                "podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 192.168.0.2/32}}]}]",
            ),
            "192.168.0.2",
            "a/web",
            Tcp,
            80,
            true,
        ),
        (
            "the except of a pod range",
            v4.clone(),
            "a/db",
            "b/client",
            Tcp,
            80,
            false,
        ),
    ]);
    run_with(
        vec![
            (
                "ipBlock ignores pod IPs when set to (Cilium)",
                pods.clone(),
                "b/client",
                "a/db",
                Tcp,
                5432,
                false,
            ),
            (
                "ipBlock still matches external addresses then",
                np(
                    "a",
                    "p",
                    "podSelector: {}\ningress: [{from: [{ipBlock: {cidr: 8.0.0.0/8}}]}]",
                ),
                "8.8.8.8",
                "a/db",
                Tcp,
                5432,
                true,
            ),
        ],
        EngineOptions {
            ipblock_matches_pods: false,
            ..Default::default()
        },
    );
}

#[test]
fn exemptions() {
    let deny = np("a", "p", "podSelector: {}\npolicyTypes: [Ingress, Egress]");
    run(vec![
        (
            "a pod may talk to itself",
            deny.clone(),
            "a/db",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "a pod may talk to itself by IP",
            deny.clone(),
            "10.1.0.2",
            "10.1.0.2",
            Tcp,
            5432,
            true,
        ),
        (
            "the own node may reach the pod",
            deny.clone(),
            "192.168.0.2",
            "a/db",
            Tcp,
            5432,
            true,
        ),
        (
            "the pod may reach its own node",
            deny.clone(),
            "a/db",
            "node/n2",
            Tcp,
            10250,
            true,
        ),
        (
            "another node may not",
            deny.clone(),
            "192.168.0.1",
            "a/db",
            Tcp,
            5432,
            false,
        ),
        (
            "nor may the pod reach another node",
            deny,
            "a/db",
            "node/n1",
            Tcp,
            10250,
            false,
        ),
    ]);
}

#[test]
fn sides_report_the_deciding_rule_and_the_isolating_policies() {
    let policies = np("a", "deny", "podSelector: {}")
        + &np("a", "allow", "podSelector: {matchLabels: {app: db}}\ningress:\n- from: [{podSelector: {matchLabels: {app: web}}}]\n- from: [{ipBlock: {cidr: 10.0.0.0/8}}, {podSelector: {matchLabels: {app: client}}}]\n  ports: [{port: 1}, {port: 5432}]");
    let index = index_with(&policies, EngineOptions::default());
    let flow = |from: &str| verdicts::flow(&index, from, "a/db", Tcp, 5432);
    let ids: Vec<String> = index.policies().policies.iter().map(|p| p.key()).collect();
    assert_eq!(ids, ["a/allow", "a/deny"]);

    let v = index.verdict(&flow("a/client"));
    assert_eq!(v.egress, Side::NotIsolated);
    match v.ingress {
        Side::Allowed(r) => {
            assert_eq!(
                (r.policy, r.rule, r.peer, r.port),
                (0, 1, Some(0), Some(1)),
                "first matching peer and port"
            );
        }
        other => panic!("expected allowed, got {other:?}"),
    }
    let v = index.verdict(&flow("8.8.8.8"));
    assert_eq!(v.egress, Side::NotApplicable);
    assert_eq!(
        v.ingress,
        Side::Denied {
            isolating: vec![0, 1]
        }
    );
}
