//! The binary, run as a user runs it: the demo, fixture folders, output formats, exit
//! codes, and every kind of bad input (clear message naming file, line and field; exit 2;
//! never a panic).

use std::collections::BTreeMap;

use assert_cmd::Command;
use predicates::prelude::*;
use serde_json::Value;

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("kubectl-netpol_tui").unwrap();
    cmd.env_remove("NO_COLOR")
        .env("NETPOL_TUI_LOG", "off")
        .arg("--color=never");
    cmd
}

fn stdout_of(cmd: &mut Command) -> String {
    String::from_utf8(cmd.output().unwrap().stdout).unwrap()
}

/// Text output wraps at 100 columns; compare with line breaks and indents folded away.
fn flat(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Runs the command, checks the exit code, and returns its stdout, flattened.
fn run(cmd: &mut Command, code: i32) -> String {
    let out = cmd.output().unwrap();
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        out.status.code(),
        Some(code),
        "stdout:\n{stdout}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    flat(&stdout)
}

fn assert_has(haystack: &str, needles: &[&str]) {
    for n in needles {
        assert!(haystack.contains(&flat(n)), "missing {n:?} in:\n{haystack}");
    }
}

#[test]
fn explain_names_the_isolating_policies_and_the_failing_selector() {
    let out = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "production/frontend",
            "--to",
            "production/database",
            "--port",
            "5432",
        ]),
        1,
    );
    assert!(
        out.starts_with("✗ DENIED production/frontend → production/database TCP/5432"),
        "{out}"
    );
    assert_has(&out, &[
        "blocked: production/database isolated for ingress by production/database-netpol, production/default-deny-all; no rule admits TCP/5432",
        "✗ peer pods app=backend in namespace production: pod production/frontend needs app=backend, has app=frontend",
        "✓ port TCP/postgres: postgres is port 5432 on production/database",
    ]);
}

#[test]
fn explain_allowed_names_the_rule_and_exits_zero() {
    let out = run(
        bin().args([
            "explain", "--demo", "--from", "backend", "--to", "database", "--port", "postgres",
        ]),
        0,
    );
    assert_has(&out, &[
        "✓ ALLOWED production/backend → production/database TCP/5432",
        "allowed: egress by production/backend-policy egress[0]; ingress by production/database-netpol ingress[0]",
    ]);
}

#[test]
fn explain_points_at_the_name_label_mistake() {
    let out = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "ingress-nginx/ingress-nginx-controller",
            "--to",
            "production/frontend",
            "--port",
            "3000",
        ]),
        1,
    );
    assert_has(
        &out,
        &[
            "namespace ingress-nginx needs name=ingress-nginx, has no label name",
            "namespaces carry kubernetes.io/metadata.name=ingress-nginx automatically",
        ],
    );
}

#[test]
fn explain_shows_or_where_and_was_meant() {
    // The api's ingress admits any pod of a dev namespace, not only integration tests
    // (development's own default-deny egress happens to block it on the other side).
    let out = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "development/dev-shell",
            "--to",
            "production/api",
            "--port",
            "8080",
        ]),
        1,
    );
    assert_has(
        &out,
        &[
            "ingress to production/api: ✓ allowed",
            "✓ peer all pods in namespaces environment=dev: development/dev-shell matches",
            "production/allow-from-dev-to-prod-api: spec.ingress[0]: a podSelector and a \
             namespaceSelector stand in separate list entries, which means OR; put them in one \
             entry to mean AND",
        ],
    );
}

#[test]
fn explain_json_carries_both_sides() {
    let out = stdout_of(bin().args([
        "explain",
        "--demo",
        "--from",
        "production/backend",
        "--to",
        "kube-system/coredns",
        "--port",
        "53",
        "--protocol",
        "UDP",
        "-o",
        "json",
    ]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["allowed"], false, "backend-policy forgot DNS egress");
    assert_eq!(v["egress"]["outcome"], "denied");
    assert_eq!(
        v["egress"]["isolated_by"],
        serde_json::json!(["production/backend-policy", "production/default-deny-all"])
    );
    assert_eq!(v["ingress"]["outcome"], "not_isolated");
    assert_eq!(v["protocol"], "UDP");
}

#[test]
fn explain_external_ip_and_ipblock() {
    let explain_web_to = |ip: &str, code: i32| {
        run(
            bin().args([
                "explain",
                "--demo",
                "--from",
                "production/web",
                "--to",
                ip,
                "--port",
                "443",
            ]),
            code,
        )
    };
    assert_has(
        &explain_web_to("203.0.113.7", 0),
        &[
            "ingress to 203.0.113.7: not a pod",
            "203.0.113.7 is inside 0.0.0.0/0",
        ],
    );
    // The cluster's admin-tier guardrail decides first; the NetworkPolicy's own except is
    // still traced in the JSON.
    assert_has(
        &explain_web_to("169.254.169.254", 1),
        &[
            "denied by AdminNetworkPolicy/cluster-guardrails",
            "NetworkPolicy and the tiers after it not consulted: the admin tier decided",
        ],
    );
    let json = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "production/web",
            "--to",
            "169.254.169.254",
            "--port",
            "443",
            "-o",
            "json",
        ]),
        1,
    );
    assert_has(
        &json,
        &[
            "169.254.169.254 falls in the excepted 169.254.169.254/32",
            "\"decided_by\"",
        ],
    );
}

#[test]
fn explain_yaml_output() {
    let out = stdout_of(bin().args([
        "explain",
        "--demo",
        "--from",
        "production/frontend",
        "--to",
        "production/backend",
        "--port",
        "8080",
        "-o",
        "yaml",
    ]));
    let v: Value = serde_yaml::from_str(&out).unwrap();
    assert_eq!(v["allowed"], true);
    assert_eq!(
        v["ingress"]["allowed_by"]["policy"],
        "production/backend-policy"
    );
}

#[test]
fn explain_bad_endpoints_and_ports_exit_2() {
    let cases: &[(&[&str], &str)] = &[
        (
            &[
                "--from",
                "production/fronted",
                "--to",
                "production/database",
                "--port",
                "5432",
            ],
            "error: --from: no pod production/fronted; did you mean production/frontend?",
        ),
        (
            &["--from", "frontend", "--to", "database", "--port", "mysql"],
            "production/database has no container port named \"mysql\"; it has postgres (TCP/5432)",
        ),
        (
            &["--from", "frontend", "--to", "8.8.8.8", "--port", "https"],
            "can only be resolved on a destination pod",
        ),
        (
            &[
                "--from",
                "frontend",
                "--to",
                "database",
                "--port",
                "5432",
                "--protocol",
                "ICMP",
            ],
            "unknown protocol",
        ),
    ];
    for (args, want) in cases {
        bin()
            .args(["explain", "--demo"])
            .args(*args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(*want));
    }
}

#[test]
fn matrix_json_is_exactly_the_documented_shape() {
    let out = stdout_of(bin().args(["matrix", "--demo", "--port", "5432", "-o", "json"]));
    let m: BTreeMap<String, BTreeMap<String, bool>> = serde_json::from_str(&out).unwrap();
    assert_eq!(m.len(), 11);
    for (from, row) in &m {
        assert_eq!(row.len(), 11);
        assert!(row[from], "{from} may reach itself");
    }
    assert!(m["production/backend"]["production/database"]);
    // web-app-netpol lets web out to the database, but database-netpol admits only backend.
    assert!(!m["production/web"]["production/database"]);
    assert!(!m["production/frontend"]["production/database"]);
    // Unprotected namespaces reach each other.
    assert!(m["monitoring/prometheus"]["kube-system/coredns"]);
    assert!(
        !m["development/dev-shell"]["monitoring/prometheus"],
        "development denies all egress but DNS"
    );
}

#[test]
fn matrix_text_csv_namespace_and_selector() {
    bin()
        .args(["matrix", "--demo", "-p", "8080", "-n", "production"])
        .assert()
        .success()
        .stdout(predicate::str::starts_with("matrix TCP/8080: 6 pods,"))
        .stdout(predicate::str::contains("production/frontend"))
        .stdout(predicate::str::contains("monitoring").not());
    let csv = stdout_of(bin().args([
        "matrix",
        "--demo",
        "-p",
        "8080",
        "-l",
        "app in (frontend,backend)",
        "-o",
        "csv",
    ]));
    assert_eq!(
        csv,
        "from\\to,production/backend,production/frontend\nproduction/backend,true,false\nproduction/frontend,true,true\n"
    );
    bin()
        .args(["matrix", "--demo", "-p", "80", "-l", "app in (x"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-l: unbalanced '('"));
    bin()
        .args(["matrix", "--demo", "-p", "80", "-n", "nope"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("-n: no namespace nope"));
}

#[test]
fn effective_tags_every_allowance_with_policy_and_rule() {
    let out = run(bin().args(["effective", "--demo", "production/backend"]), 0);
    assert_has(&out, &[
        "ingress: isolated by production/allow-prometheus-scraping, production/backend-policy, production/default-deny-all",
        "✓ pods app=prometheus in namespaces purpose=monitoring (1 pod)",
        "TCP/metrics (= 9090 here) [production/allow-prometheus-scraping ingress[0]]",
        "TCP/5432 [production/backend-policy egress[0]]",
    ]);
    bin()
        .args(["effective", "--demo", "-n", "monitoring"])
        .assert()
        .success()
        .stdout(predicate::str::contains(
            "ingress: not isolated: all ingress traffic is allowed",
        ));
    let out = stdout_of(bin().args(["effective", "--demo", "development/dev-shell", "-o", "json"]));
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["egress"]["isolated"], true);
    assert_eq!(
        v["egress"]["allows"][0]["peer"], "any destination",
        "the misplaced dash: port 53 to anywhere"
    );
    bin()
        .args(["effective", "--demo"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "name a pod, or give -n NAMESPACE or -A",
        ));
}

#[test]
fn demo_prints_effective_rules_and_dumps_loadable_yaml() {
    bin()
        .arg("demo")
        .assert()
        .success()
        .stdout(predicate::str::contains("production/database"))
        .stdout(predicate::str::contains("Try: explain"));
    let dump = stdout_of(bin().args(["demo", "--dump"]));
    assert!(dump.contains("kind: NetworkPolicy"));
    // The dump is the demo: reading it back gives the same answers.
    let from_dump = bin()
        .args(["matrix", "-f", "-", "-p", "5432", "-o", "json"])
        .write_stdin(dump)
        .output()
        .unwrap();
    assert!(from_dump.status.success());
    let direct = stdout_of(bin().args(["matrix", "--demo", "-p", "5432", "-o", "json"]));
    assert_eq!(String::from_utf8(from_dump.stdout).unwrap(), direct);
}

#[test]
fn fixture_folder_loads_recursively_with_workloads_and_skips() {
    bin()
        .args(["effective", "-A", "-f", "tests/fixtures/good"])
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "read 7 files, 13 documents: 1 CronJob, 2 Deployment, 2 Namespace, 4 NetworkPolicy, 1 Pod, 1 Service, 1 StatefulSet; skipped 1 ConfigMap, 1 Pod (finished)",
        ))
        // The real gateway pod covers its Deployment; the others stand in by template.
        .stdout(predicate::str::contains("payments/gateway-7c9d-abcde"))
        .stdout(predicate::str::contains("payments/gateway ").not())
        .stdout(predicate::str::contains("shop/storefront"))
        .stdout(predicate::str::contains("shop/report"))
        .stdout(predicate::function(|out: &str| flat(out).contains("TCP/pg (= 5432 here)")));
    bin()
        .args([
            "explain",
            "-f",
            "tests/fixtures/good",
            "--from",
            "shop/storefront",
            "--to",
            "payments/gateway-7c9d-abcde",
            "--port",
            "grpc",
        ])
        .assert()
        .code(0)
        .stdout(predicate::str::contains(
            "✓ port TCP/9000-9010: 9000 is in TCP/9000-9010",
        ));
    // Several -f, files and directories mixed.
    bin()
        .args([
            "matrix",
            "-p",
            "5432",
            "-f",
            "tests/fixtures/good/namespaces.yaml",
            "-f",
            "tests/fixtures/good/workloads.yaml",
            "-f",
            "tests/fixtures/good/policies",
        ])
        .assert()
        .success()
        .stdout(predicate::str::contains("3 pods"));
}

#[test]
fn namespaces_used_but_not_declared_are_created_with_a_warning() {
    let pod = "apiVersion: v1\nkind: Pod\nmetadata: {name: p, namespace: ghost}\nspec: {containers: [{name: c}]}\n";
    bin()
        .args(["effective", "-f", "-", "ghost/p"])
        .write_stdin(pod)
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "warning: namespace ghost is used but not declared; assuming it carries only the label kubernetes.io/metadata.name=<name>",
        ));
}

#[test]
fn other_policy_engines_are_named_as_not_evaluated() {
    bin()
        .args(["matrix", "-f", "-", "-p", "80"])
        .write_stdin(
            "apiVersion: crd.antrea.io/v1beta1\nkind: ClusterNetworkPolicy\nmetadata: {name: x}\n",
        )
        .assert()
        .success()
        .stderr(predicate::str::contains(
            "not evaluated: ClusterNetworkPolicy (crd.antrea.io/v1beta1)",
        ));
}

/// Each bad file: exit 2, one message naming file:line, the object, the document and the field.
#[test]
fn bad_input_is_reported_precisely() {
    let cases: &[(&str, &str)] = &[
        ("bad-cidr.yaml", "bad-cidr.yaml:15: NetworkPolicy x/bad-cidr (document 2, line 5): spec.ingress[0].from[0].ipBlock.cidr: invalid CIDR \"10.0.0.0/33\""),
        ("except-outside.yaml", "except-outside.yaml:12: NetworkPolicy x/except-outside (document 1, line 1): spec.egress[0].to[0].ipBlock.except[0]: \"10.1.0.0/24\" must be a strict subset of cidr 10.0.0.0/16"),
        ("endport-named.yaml", "endport-named.yaml:9: NetworkPolicy x/endport-named (document 1, line 1): spec.ingress[0].ports[0].endPort: may not be specified when port is the named port \"http\""),
        ("endport-below.yaml", "endport-below.yaml:9: NetworkPolicy x/endport-below (document 1, line 1): spec.ingress[0].ports[0].endPort: 80 must be greater than or equal to port 8080"),
        ("bad-operator.yaml", "bad-operator.yaml:8: NetworkPolicy x/bad-operator (document 1, line 1): spec.podSelector.matchExpressions[0].operator: unknown operator \"Equals\""),
        ("ipblock-with-selector.yaml", "ipblock-with-selector.yaml:8: NetworkPolicy x/mixed-peer (document 1, line 1): spec.ingress[0].from[0]: ipBlock cannot be combined with podSelector or namespaceSelector"),
        ("wrong-type.yaml", "wrong-type.yaml:8: NetworkPolicy x/wrong-type (document 1, line 1): spec.ingress[0].ports[0].port: invalid type: sequence"),
        ("syntax.yaml", "syntax.yaml:9: (document 2, line 5): invalid YAML: mapping values are not allowed in this context at line 9 column 13"),
        ("no-kind.yaml", "no-kind.yaml:1: (document 1, line 1): kind: is required"),
        ("old-api.yaml", "old-api.yaml:1: NetworkPolicy x/ancient (document 1, line 1): apiVersion: extensions/v1beta1 NetworkPolicy is no longer served"),
        ("bad-protocol.yaml", "bad-protocol.yaml:11: NetworkPolicy x/icmp (document 1, line 1): items[0].spec.ingress[0].ports[0].protocol: unsupported value \"ICMP\""),
        ("broken.json", "broken.json:4: invalid JSON: trailing comma"),
        ("bad-pod-ip.yaml", "bad-pod-ip.yaml:6: Pod x/p (document 1, line 1): status.podIP: \"10.0.0.300\" is not an IP address"),
        ("bad-names.yaml", "bad-names.yaml:4: Namespace Bad_NS (document 1, line 1): metadata.name: \"Bad_NS\": a lowercase RFC 1123 label must consist of lowercase letters"),
        ("bad-names.yaml", "bad-names.yaml:12: Pod shop/web (document 2, line 6): metadata.labels[bad key!]: label key \"bad key!\""),
        ("long-pod-name.yaml", "metadata.name: pppppppppppppppppppp...: must be no more than 253 characters (it has 300)"),
        ("no-container-port.yaml", "no-container-port.yaml:8: Pod shop/web (document 1, line 1): spec.containers[0].ports[0].containerPort: is required"),
        ("cilium-entity.yaml", "cilium-entity.yaml:10: CiliumNetworkPolicy shop/bad-entity (document 1, line 1): spec.egress[0].toEntities[0]: unknown entity \"wrld\": must be one of all, world, cluster"),
        ("cilium-cidr.yaml", "cilium-cidr.yaml:10: CiliumClusterwideNetworkPolicy bad-cidr (document 1, line 1): spec.ingressDeny[0].fromCIDRSet[0].except[0]: 192.168.0.0/16 is not within 10.0.0.0/8"),
        ("cilium-services.yaml", "cilium-services.yaml:11: CiliumNetworkPolicy shop/bad-services (document 1, line 1): spec.egress[0].toServices[0].k8sService.serviceName: is required"),
        ("endpoint-slice.yaml", "endpoint-slice.yaml:9: EndpointSlice shop/payments-1 (document 1, line 1): endpoints[0].addresses[0]: \"203.0.113.300\" is not an IP address"),
        ("istio-action.yaml", "istio-action.yaml:9: AuthorizationPolicy shop/backend-authz (document 1, line 1): spec.action: unsupported value \"PERMIT\": must be ALLOW, DENY, AUDIT or CUSTOM"),
        ("service-target-port.yaml", "service-target-port.yaml:11: Service shop/web (document 1, line 1): spec.ports[0].targetPort: \"HTTP_PORT\" is not a valid port name"),
        ("misspelt-kind.yaml", "misspelt-kind.yaml:2: NetworkPolicyy shop/deny (document 1, line 1): kind: unknown kind \"NetworkPolicyy\" (networking.k8s.io/v1); did you mean NetworkPolicy?"),
    ];
    for (file, want) in cases {
        let path = format!("tests/fixtures/bad/{file}");
        let out = bin()
            .args(["matrix", "-p", "80", "-f", &path])
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert!(
            out.stdout.is_empty(),
            "{file}: nothing on stdout when input is bad"
        );
        assert!(
            stderr.contains(&format!("error: tests/fixtures/bad/{want}")) || stderr.contains(want),
            "{file}: wanted\n  {want}\ngot\n  {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{file}: {stderr}");
    }
}

#[test]
fn all_errors_of_a_folder_are_reported_together() {
    let out = bin()
        .args(["matrix", "-p", "80", "-f", "tests/fixtures/bad"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8(out.stderr).unwrap();
    assert!(
        stderr.lines().filter(|l| l.starts_with("error: ")).count() >= 13,
        "{stderr}"
    );
}

#[test]
fn usage_errors_exit_2() {
    bin().args(["explain", "--demo"]).assert().code(2);
    bin().args(["matrix", "--demo", "-p", "0"]).assert().code(2);
    // No -f, no --demo: the cluster; with no kubeconfig and no service account, a clear no.
    let home = tempfile::tempdir().unwrap();
    bin()
        .args(["matrix", "-p", "80"])
        .env("HOME", home.path())
        .env_remove("KUBECONFIG")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .assert()
        .code(2)
        .stderr(predicate::str::contains(
            "error: no cluster: no kubeconfig (--kubeconfig, KUBECONFIG or ~/.kube/config) and not running in a pod; for manifests use -f PATH, or --demo",
        ));
    bin()
        .args(["matrix", "-p", "80", "--kubeconfig", "k.yaml", "--demo"])
        .assert()
        .code(2);
    bin()
        .args(["matrix", "-p", "80", "-f", "does/not/exist"])
        .assert()
        .code(2)
        .stderr(predicate::str::contains("does/not/exist: cannot read"));
    bin()
        .args([
            "explain", "--demo", "--from", "a", "--to", "b", "--port", "1", "-o", "csv",
        ])
        .assert()
        .code(2);
}

/// Every numeric flag of every subcommand: non-finite, negative, zero, absurd and wrong-kind
/// values are usage errors (exit 2) that name the flag, never a panic. The node commands
/// check their flags before anything needs root.
#[test]
fn bad_numeric_flags_are_usage_errors() {
    let explain = [
        "explain",
        "--demo",
        "--from",
        "production/frontend",
        "--to",
        "production/database",
    ];
    let cases: Vec<(Vec<&str>, &str, &str)> = vec![
        (
            [&explain[..], &["--port", "70000"]].concat(),
            "--port",
            "out of range",
        ),
        (
            [&explain[..], &["--port=-1"]].concat(),
            "--port",
            "out of range",
        ),
        (
            [&explain[..], &["--port", "0"]].concat(),
            "--port",
            "out of range",
        ),
        (
            [&explain[..], &["--port", "-1"]].concat(),
            "--port",
            "out of range",
        ),
        (
            [&explain[..], &["--port", "99999999999999999999999"]].concat(),
            "--port",
            "out of range",
        ),
        (
            vec!["matrix", "--demo", "-p", "0"],
            "--port",
            "must be between 1 and 65535",
        ),
        (
            vec!["matrix", "--demo", "-p", "65536"],
            "--port",
            "must be between 1 and 65535",
        ),
        (
            vec!["matrix", "--demo", "--port=-5"],
            "--port",
            "must be between 1 and 65535",
        ),
        (
            vec!["matrix", "--demo", "-p", "inf"],
            "--port",
            "is not a port number",
        ),
        (
            vec![
                "trace",
                "--demo",
                "--agent",
                "127.0.0.1:9",
                "--duration",
                "inf",
            ],
            "--duration",
            "not a finite number",
        ),
        (
            vec![
                "trace",
                "--demo",
                "--agent",
                "127.0.0.1:9",
                "--duration",
                "1e300",
            ],
            "--duration",
            "outside",
        ),
        (
            vec![
                "trace",
                "--demo",
                "--agent",
                "127.0.0.1:9",
                "--duration",
                "NaN",
            ],
            "--duration",
            "not a finite number",
        ),
        (
            vec!["trace", "--demo", "--agent", "127.0.0.1:9", "--duration=-1"],
            "--duration",
            "outside",
        ),
        (
            vec![
                "trace",
                "--demo",
                "--agent",
                "127.0.0.1:9",
                "--duration",
                "0",
            ],
            "--duration",
            "stop at once",
        ),
        (
            vec![
                "trace",
                "--demo",
                "--agent",
                "127.0.0.1:9",
                "--duration",
                "soon",
            ],
            "--duration",
            "not a number",
        ),
        (
            vec!["trace", "--demo", "--agent", "127.0.0.1:9", "--port", "0"],
            "--port",
            "must be between",
        ),
        (
            vec!["trace", "--demo", "--ring-bytes", "0"],
            "--ring-bytes",
            "outside",
        ),
        (
            vec!["trace", "--demo", "--ring-bytes", "4294967295"],
            "--ring-bytes",
            "outside",
        ),
        (
            vec!["trace", "--demo", "--ring-bytes", "-4096"],
            "--ring-bytes",
            "not a whole number",
        ),
        (
            vec!["lab", "--demo", "--duration", "-1"],
            "--duration",
            "outside",
        ),
        (
            vec!["agent", "--duration", "inf"],
            "--duration",
            "not a finite number",
        ),
        (
            vec!["agent", "--duration", "1e300"],
            "--duration",
            "outside",
        ),
        (
            vec!["agent", "--ring-bytes", "99999999999"],
            "--ring-bytes",
            "outside",
        ),
        (
            vec!["lab", "--demo", "--round", "inf"],
            "--round",
            "not a finite number",
        ),
        (
            vec!["lab", "--demo", "--round", "1e300"],
            "--round",
            "outside",
        ),
        (vec!["lab", "--demo", "--round", "0"], "--round", "outside"),
        (vec!["lab", "--demo", "--round=-1"], "--round", "outside"),
        (
            vec!["lab", "--demo", "--duration", "-inf"],
            "--duration",
            "not a finite number",
        ),
        (
            vec!["lab", "--demo", "--port", "65536"],
            "--port",
            "must be between",
        ),
    ];
    for (args, flag, words) in cases {
        let out = bin().args(&args).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(flag) && stderr.contains(words),
            "{args:?}: wanted {flag} and {words:?} in: {stderr}"
        );
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
    }
}

#[test]
fn the_terminal_ui_needs_a_terminal() {
    // assert_cmd gives the program pipes, not a terminal.
    for args in [vec!["--demo"], vec!["-f", "tests/fixtures/good"]] {
        bin()
            .args(&args)
            .assert()
            .code(2)
            .stderr(predicate::str::contains(
                "error: the terminal UI needs a terminal on stdin and stdout; in scripts use a subcommand",
            ));
    }
}

#[test]
fn kubeconfig_paths_that_do_not_exist_are_named_once() {
    let out = bin()
        .args(["status", "--kubeconfig", "/nonexistent/kubeconfig"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: --kubeconfig /nonexistent/kubeconfig: No such file or directory"),
        "{err}"
    );
    assert!(!err.contains('"'), "the path is not quoted twice: {err}");

    let out = bin()
        .arg("status")
        .env("KUBECONFIG", "/nonexistent/one")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.starts_with("error: KUBECONFIG=/nonexistent/one: no such file"),
        "{err}"
    );

    let out = bin()
        .arg("status")
        .env("KUBECONFIG", "/nonexistent/one:/nonexistent/two")
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "/nonexistent/one:/nonexistent/two: no such file (none of the listed files exists)"
        ),
        "{err}"
    );
}

#[test]
fn request_timeout_is_checked() {
    for bad in ["0", "-1", "inf", "soon"] {
        let out = bin()
            .args(["status", "--request-timeout", bad])
            .output()
            .unwrap();
        assert_eq!(out.status.code(), Some(2), "{bad}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("--request-timeout"), "{bad}: {err}");
    }
}

#[test]
fn hostile_nesting_is_refused_with_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("deep.yaml");
    std::fs::write(
        &path,
        format!(
            "apiVersion: v1\nkind: Pod\nmetadata:\n  name: p\n  annotations:\n    a: {}\n",
            "[".repeat(200_000)
        ),
    )
    .unwrap();
    let out = bin()
        .args(["status", "-f", path.to_str().unwrap()])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains(
            "deep.yaml:6: (document 1, line 1): invalid YAML: nested more than 128 levels deep"
        ),
        "{err}"
    );
}

#[test]
fn every_port_at_once_by_pod_and_by_workload() {
    let out = run(
        bin().args([
            "matrix",
            "--all-ports",
            "--by",
            "workload",
            "-f",
            "tests/fixtures/good",
        ]),
        0,
    );
    assert_has(
        &out,
        &[
            "every port: 4 workloads",
            "shop/Deployment/storefront → payments/Pod/gateway-7c9d-abcde TCP 9000",
            "→ shop/StatefulSet/cart-db TCP 5432",
        ],
    );
    // The CSV quotes cells that list several ports.
    let csv = stdout_of(bin().args([
        "matrix",
        "--all-ports",
        "-o",
        "csv",
        "--demo",
        "-n",
        "production",
    ]));
    assert!(csv.starts_with("from,to,allowed\n"), "{csv}");
    assert!(
        csv.contains("production/backend,production/database,TCP 5432\n"),
        "{csv}"
    );
    assert!(csv.contains("production/api,production/api,all\n"), "{csv}");

    // Each pair's port set agrees with the one-port matrix, port by port.
    let all: serde_json::Value = serde_json::from_str(&stdout_of(bin().args([
        "matrix",
        "--all-ports",
        "-o",
        "json",
        "--demo",
    ])))
    .unwrap();
    for port in [53u16, 80, 5432, 6379, 8080, 9090] {
        let m: serde_json::Value = serde_json::from_str(&stdout_of(bin().args([
            "matrix",
            "-p",
            &port.to_string(),
            "-o",
            "json",
            "--demo",
        ])))
        .unwrap();
        for (from, row) in m.as_object().unwrap() {
            for (to, allowed) in row.as_object().unwrap() {
                let set = all[from][to].as_str().unwrap();
                assert_eq!(
                    allowed.as_bool().unwrap(),
                    tcp_allows(set, port),
                    "{from} -> {to} TCP/{port}: {set}"
                );
            }
        }
    }
}

/// Whether `TCP 80,8000-8080; UDP 53` (or `all`, `none`) holds TCP `port`.
fn tcp_allows(set: &str, port: u16) -> bool {
    match set {
        "all" => true,
        "none" => false,
        _ => set.split("; ").any(|part| {
            part.strip_prefix("TCP ").is_some_and(|ranges| {
                ranges.split(',').any(|r| match r.split_once('-') {
                    Some((a, b)) => (a.parse().unwrap()..=b.parse().unwrap()).contains(&port),
                    None => r.parse::<u16>().unwrap() == port,
                })
            })
        }),
    }
}

#[test]
fn input_as_the_api_server_and_kubectl_take_it() {
    let dir = tempfile::tempdir().unwrap();
    // A typed list as `kubectl get pods -o yaml` prints it: items without kind.
    let list = dir.path().join("pods.yaml");
    std::fs::write(
        &list,
        "apiVersion: v1\nkind: PodList\nitems:\n- metadata: {name: a, namespace: shop, labels: {app: a}}\n  status: {podIP: 10.0.0.1}\n- metadata: {name: b, namespace: shop}\n",
    )
    .unwrap();
    // A leading byte order mark.
    let bom = dir.path().join("bom.yaml");
    std::fs::write(
        &bom,
        "\u{feff}apiVersion: v1\nkind: Namespace\nmetadata: {name: shop}\n",
    )
    .unwrap();
    let out = bin()
        .args([
            "status",
            "-f",
            list.to_str().unwrap(),
            "-f",
            bom.to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("1 Namespace, 2 Pod"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Errors come in file and line order, whatever order they were found in.
    let bad = dir.path().join("bad.yaml");
    std::fs::write(
        &bad,
        "apiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_One}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: Bad_Two, namespace: x}\n---\n- not: [an, object\n---\napiVersion: v1\nkind: Namespace\nmetadata: {name: Bad_Three}\n",
    )
    .unwrap();
    let out = bin()
        .args(["status", "-f", bad.to_str().unwrap()])
        .output()
        .unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    let lines: Vec<usize> = err
        .lines()
        .filter_map(|l| l.split(':').nth(2).and_then(|n| n.trim().parse().ok()))
        .collect();
    assert!(lines.len() >= 4, "{err}");
    assert!(lines.windows(2).all(|w| w[0] <= w[1]), "{err}");

    // `notin` without parentheses is named for what it is.
    let out = bin()
        .args(["matrix", "--demo", "-p", "80", "-l", "app notin a"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&out.stderr)
            .contains("the values of `notin` go in parentheses: `app notin (a)`"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn lint_names_the_demos_mistakes_with_a_fix_and_fails_for_ci() {
    let out = run(bin().args(["lint", "--demo"]), 1);
    assert_has(
        &out,
        &[
            "production/allow-from-dev-to-prod-api",
            "spec.ingress[0]: a podSelector and a namespaceSelector stand in separate list entries, which means OR",
            "fix: put the namespaceSelector and the podSelector in one list entry",
            "production/frontend-policy",
            "ingress[0].from[0]: namespaceSelector matches no namespace",
            "a `name` label exists only if someone set it",
            "namespace production",
            "cannot resolve names: no rule admits UDP/53 to kube-system/coredns",
            "production/backend-policy",
            "development/allow-dns-egress",
            "a dash before `to:` probably split one rule in two",
        ],
    );
    let json = run(bin().args(["lint", "--demo", "-o", "json"]), 1);
    let problems: Vec<serde_json::Value> = serde_json::from_str(&json).unwrap();
    assert!(problems
        .iter()
        .all(|p| p["object"].is_string() && p["what"].is_string() && p["fix"].is_string()));
    // The pods that cannot resolve names are named, for the tree's markers and for scripts.
    let dns = problems
        .iter()
        .find(|p| p["object"] == "namespace production")
        .unwrap();
    assert_eq!(
        dns["pods"],
        serde_json::json!([
            "production/api",
            "production/backend",
            "production/database",
            "production/redis",
            "production/web"
        ])
    );
    // Egress to everything without the metadata address excepted; a named port nobody declares.
    let out = run(
        bin().args(["lint", "-f", "tests/fixtures/lint/metadata.yaml"]),
        1,
    );
    assert_has(
        &out,
        &[
            "egress[0].to[0]: ipBlock 0.0.0.0/0 admits the cloud metadata address 169.254.169.254",
            "fix: add except: [169.254.169.254/32] to the ipBlock",
            "ingress[0].ports[0]: no pod the policy selects declares a TCP port named metrics",
        ],
    );
    // Cilium's L7 rules that a plain rule makes moot; the one that filters is not named.
    let out = run(
        bin().args(["lint", "-f", "tests/fixtures/lint/cilium-l7.yaml"]),
        1,
    );
    assert_has(
        &out,
        &[
            "CiliumNetworkPolicy/shop/api-l7",
            "ingress[0]: its L7 rules (on TCP/8080: HTTP GET any path) filter nothing: shop/api-open ingress[0] admits the same flows without L7 rules",
        ],
    );
    assert!(!out.contains("CiliumNetworkPolicy/shop/cart-l7"), "{out}");
    // A sound policy: no error and no warning, exit 0; what is only worth knowing is said.
    let out = run(
        bin().args(["lint", "-f", "tests/fixtures/lint/clean.yaml"]),
        0,
    );
    assert_has(
        &out,
        &[
            "0 error(s), 0 warning(s)",
            "namespace kube-system",
            "· info [unprotected-pods] 1 of 1 pod(s) isolated by no policy",
        ],
    );
}

/// A rule that repeats another, or admits only what another admits, is named (the later of
/// two equal ones); a namespace without a default-deny and its unprotected pods are
/// information, which fails nothing.
#[test]
fn lint_names_covered_rules_and_informs_about_open_namespaces() {
    let f = "tests/fixtures/lint/covered.yaml";
    let out = run(bin().args(["lint", "-f", f]), 1);
    assert_has(
        &out,
        &[
            "blog/web tests/fixtures/lint/covered.yaml:24",
            "⚑ warning [covered-rule] ingress[1] is covered by ingress[0]: it admits no peer and port that ingress[0] does not",
            "⚑ warning [covered-rule] ingress[2] repeats ingress[0]",
            "namespace open",
            "· info [unprotected-pods] 1 of 1 pod(s) isolated by no policy",
            "· info [no-default-deny] no default-deny for ingress or egress",
            "namespace blog",
            "· info [no-default-deny] no default-deny for egress",
        ],
    );
    assert!(!out.contains("ingress[0] repeats"), "{out}");
    // Rules that policyTypes leaves out are an error; a policy that selects nothing, a warning.
    let out = run(
        bin().args([
            "lint",
            "-f",
            "tests/fixtures/lint/ignored.yaml",
            "--fail-on",
            "error",
        ]),
        1,
    );
    assert_has(
        &out,
        &[
            "⚑ warning [selects-nothing] podSelector matches no pod in namespace shop",
            "⚑ error [policy-types-ignore-rules] spec.egress has rules but policyTypes lacks Egress",
        ],
    );
    // Egress to a Service's ClusterIP: the policy never sees that address.
    let out = run(
        bin().args(["lint", "-f", "tests/fixtures/lint/service-address.yaml"]),
        1,
    );
    assert_has(
        &out,
        &[
            "⚑ warning [ipblock-service-address] egress[0].to[0]: ipBlock 10.96.7.7/32 holds the ClusterIP 10.96.7.7 of Service shop/db but none of its pods' addresses",
            "fix: select the Service's pods instead",
        ],
    );
    // Only warnings: failing on errors passes.
    run(bin().args(["lint", "-f", f, "--fail-on", "error"]), 0);
    // The demo has an error (pods that cannot resolve names); never fails on nothing.
    run(bin().args(["lint", "--demo", "--fail-on", "error"]), 1);
    run(bin().args(["lint", "--demo", "--fail-on", "never"]), 0);
    run(bin().args(["lint", "--demo", "--fail-on", "sometimes"]), 2);
}

/// SARIF 2.1.0 for code scanning: the rules, one result per problem with its level, and
/// the file and line of manifest input. (Checked against the published SARIF 2.1.0 schema
/// by hand; here, the parts code-scanning services read.)
#[test]
fn lint_speaks_sarif_with_files_and_lines() {
    let out = stdout_of(bin().args([
        "lint",
        "-f",
        "tests/fixtures/lint/covered.yaml",
        "-o",
        "sarif",
    ]));
    let log: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log["$schema"].as_str().unwrap().contains("sarif-2.1.0"));
    let run0 = &log["runs"][0];
    assert_eq!(run0["tool"]["driver"]["name"], "netpol-tui");
    let rules: Vec<&str> = run0["tool"]["driver"]["rules"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["id"].as_str().unwrap())
        .collect();
    let results = run0["results"].as_array().unwrap();
    assert!(!results.is_empty());
    for r in results {
        let id = r["ruleId"].as_str().unwrap();
        let index = r["ruleIndex"].as_u64().unwrap() as usize;
        assert_eq!(rules[index], id);
        assert!(["error", "warning", "note"].contains(&r["level"].as_str().unwrap()));
        assert!(!r["message"]["text"].as_str().unwrap().is_empty());
    }
    let covered = results
        .iter()
        .find(|r| r["ruleId"] == "covered-rule")
        .unwrap();
    let physical = &covered["locations"][0]["physicalLocation"];
    assert_eq!(
        physical["artifactLocation"]["uri"],
        "tests/fixtures/lint/covered.yaml"
    );
    assert_eq!(physical["region"]["startLine"], 24);
    let info = results
        .iter()
        .find(|r| r["ruleId"] == "unprotected-pods")
        .unwrap();
    assert_eq!(info["level"], "note");
    // The demo is not a file: its results are placed by object name only.
    let demo: Value =
        serde_json::from_str(&stdout_of(bin().args(["lint", "--demo", "-o", "sarif"]))).unwrap();
    let first = &demo["runs"][0]["results"][0]["locations"][0];
    assert!(first.get("physicalLocation").is_none());
    assert!(first["logicalLocations"][0]["fullyQualifiedName"].is_string());
}

#[test]
fn completions_for_each_shell_name_the_subcommands() {
    for shell in ["bash", "zsh", "fish"] {
        let out = run(bin().args(["completions", shell]), 0);
        for word in ["explain", "matrix", "effective", "lint", "audit"] {
            assert!(out.contains(word), "{shell}: no {word}");
        }
    }
    run(bin().args(["completions", "tcsh"]), 2);
}

#[test]
fn the_krew_manifest_names_the_archive_and_its_checksum() {
    // Archives as scripts/release.sh leaves them (their contents do not matter here).
    let dir = tempfile::tempdir().unwrap();
    for platform in ["linux-amd64", "linux-arm64"] {
        let path = dir
            .path()
            .join(format!("kubectl-netpol_tui-{platform}.tar.gz"));
        std::fs::write(&path, format!("archive for {platform}")).unwrap();
    }
    let manifest_for = |version: &str, base: &str| {
        std::process::Command::new("bash")
            .args([
                "scripts/krew-manifest.sh",
                version,
                base,
                dir.path().to_str().unwrap(),
            ])
            .output()
            .unwrap()
    };
    let out = manifest_for("v0.1.0", "https://example.org/releases/v0.1.0/");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let text = String::from_utf8(out.stdout).unwrap();
    // Every placeholder of deploy/krew/netpol-tui.yaml is filled.
    for placeholder in ["VERSION", "URL_BASE", "SHA256_"] {
        assert!(
            !text.contains(placeholder),
            "{placeholder} left in:\n{text}"
        );
    }
    let manifest: serde_yaml::Value = serde_yaml::from_str(&text).unwrap();
    assert_eq!(
        manifest["apiVersion"],
        "krew.googlecontainertools.github.com/v1alpha2"
    );
    assert_eq!(manifest["kind"], "Plugin");
    assert_eq!(manifest["metadata"]["name"], "netpol-tui");
    assert_eq!(manifest["spec"]["version"], "v0.1.0");
    assert!(manifest["spec"]["shortDescription"].as_str().unwrap().len() <= 255);
    let platforms = manifest["spec"]["platforms"].as_sequence().unwrap();
    assert_eq!(platforms.len(), 2);
    for (platform, arch) in platforms.iter().zip(["amd64", "arm64"]) {
        assert_eq!(platform["selector"]["matchLabels"]["os"], "linux");
        assert_eq!(platform["selector"]["matchLabels"]["arch"], arch);
        let archive = format!("kubectl-netpol_tui-linux-{arch}.tar.gz");
        assert_eq!(
            platform["uri"].as_str().unwrap(),
            format!("https://example.org/releases/v0.1.0/{archive}")
        );
        assert_eq!(platform["bin"], "kubectl-netpol_tui");
        let sum = std::process::Command::new("sha256sum")
            .arg(dir.path().join(&archive))
            .output()
            .unwrap();
        let sum = String::from_utf8_lossy(&sum.stdout);
        let sha = platform["sha256"].as_str().unwrap();
        assert_eq!(Some(sha), sum.split_whitespace().next());
        assert!(sha.len() == 64 && sha.bytes().all(|b| b.is_ascii_hexdigit()));
    }
    // A bad version, an address krew cannot download from, a missing archive: refused.
    assert_eq!(manifest_for("0.1", "https://x").status.code(), Some(2));
    assert_eq!(manifest_for("v0.1.0", "http://x").status.code(), Some(2));
    std::fs::remove_file(dir.path().join("kubectl-netpol_tui-linux-arm64.tar.gz")).unwrap();
    assert_eq!(manifest_for("v0.1.0", "https://x").status.code(), Some(2));
}

#[test]
fn reach_names_who_can_reach_a_pod_with_both_sides_applied() {
    let out = run(bin().args(["reach", "--demo", "production/database"]), 0);
    assert_has(
        &out,
        &[
            "who can reach production/database",
            "✓ backend: TCP 5432",
            "9 other pod(s) cannot reach it on any port",
            "what production/database can reach",
        ],
    );
    // development's pods are admitted by production/api's ingress rule, but their own
    // egress is isolated: with both sides applied, none of them reaches it.
    let out = run(
        bin().args([
            "reach",
            "--demo",
            "production/api",
            "--inbound",
            "--peers",
            "development",
            "-o",
            "json",
        ]),
        0,
    );
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["pod"], "production/api");
    assert_eq!(v["inbound"].as_array().unwrap().len(), 0);
    assert_eq!(v["inbound_none"], 2);
    assert_eq!(v["outbound"].as_array().unwrap().len(), 0);
}

/// `explain --suggest`: the smallest NetworkPolicy on the side that denies, checked by judging
/// the flow again with it; a tier's deny is said to be beyond any NetworkPolicy.
#[test]
fn explain_suggests_the_fix_and_checks_it() {
    let out = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "development/dev-shell",
            "--to",
            "production/api",
            "-p",
            "8080",
            "--suggest",
        ]),
        1,
    );
    assert_has(
        &out,
        &[
            "suggested fix",
            "name: allow-egress-from-dev-shell",
            "namespace: development",
            "kubernetes.io/metadata.name: production",
            "checked: with these applied, the flow is allowed",
        ],
    );
    let json = stdout_of(bin().args([
        "explain",
        "--demo",
        "--from",
        "development/dev-shell",
        "--to",
        "production/api",
        "-p",
        "8080",
        "--suggest",
        "-o",
        "json",
    ]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["explanation"]["allowed"], false);
    assert_eq!(v["suggested"]["allows"], true);
    assert_eq!(
        v["suggested"]["policies"][0]["metadata"]["name"],
        "allow-egress-from-dev-shell"
    );
    let out = run(
        bin().args([
            "explain",
            "--demo",
            "--from",
            "production/frontend",
            "--to",
            "169.254.169.254",
            "-p",
            "80",
            "--suggest",
        ]),
        1,
    );
    assert_has(
        &out,
        &[
            "no NetworkPolicy would allow this flow",
            "egress is denied by AdminNetworkPolicy/cluster-guardrails (admin tier): no NetworkPolicy can allow it",
        ],
    );
}

/// A pod's ingress rule admits dev's pods, but their own egress has no rule to it: effective
/// says so on the rule, in text and JSON.
#[test]
fn effective_marks_rules_whose_peers_are_blocked_on_their_own_side() {
    let out = run(bin().args(["effective", "--demo", "production/api"]), 0);
    assert_has(
        &out,
        &["! admitted here, but every such peer is blocked on its own side: its egress has no rule to this pod on these ports (2 pods)"],
    );
    let json = stdout_of(bin().args(["effective", "--demo", "production/api", "-o", "json"]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(
        v["ingress"]["allows"][0]["blocked_elsewhere"],
        serde_json::json!([2, 2])
    );
}

/// `explain --to svc/NAME`: every pod behind the Service at its own target port, in the
/// order kube-proxy would pick among them (any), with the verdict of the whole only when all
/// agree; pods that lack the named port are not backends.
#[test]
fn explain_to_a_service_explains_each_backing_pod_at_its_target_port() {
    let dir = "tests/fixtures/services";
    let text = run(
        bin().args([
            "explain",
            "-f",
            dir,
            "--from",
            "shop/client",
            "--to",
            "svc/web",
        ]),
        1,
    );
    assert_has(
        &text,
        &[
            "✗ DENIED → Service shop/web TCP/80 (http), by name; target port http",
            "2 backing pod(s): 1 allowed, 1 denied, 0 unknown",
            "✗ shop/web-new :9000",
            "✓ shop/web-old :8080",
            "shop/web-debug: selected, but declares no container port http for TCP",
            "✗ DENIED shop/client → shop/web-new TCP/9000",
            "✓ ALLOWED shop/client → shop/web-old TCP/8080",
            "each pod's own container port of that name",
        ],
    );
    // The same Service by its ClusterIP, and by a node's address at its NodePort.
    let json: Value = serde_json::from_str(&stdout_of(bin().args([
        "explain",
        "-f",
        dir,
        "--from",
        "shop/client",
        "--to",
        "10.96.0.50",
        "-p",
        "80",
        "-o",
        "json",
    ])))
    .unwrap();
    assert_eq!(json["via"]["kind"], "cluster_ip");
    assert_eq!(json["allowed"], false);
    let ports: Vec<(String, u64)> = json["backends"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            (
                b["pod"].as_str().unwrap().to_string(),
                b["port"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        ports,
        [
            ("shop/web-new".to_string(), 9000),
            ("shop/web-old".to_string(), 8080)
        ]
    );
    assert_eq!(json["not_backing"], serde_json::json!(["shop/web-debug"]));
    let text = run(
        bin().args([
            "explain",
            "-f",
            dir,
            "--from",
            "203.0.113.9",
            "--to",
            "node/node-1",
            "-p",
            "30080",
        ]),
        1,
    );
    assert_has(
        &text,
        &[
            "at NodePort 30080 of node node-1",
            "may reach the pod with a node's address as its source",
        ],
    );
    // A numeric target port, picked by the Service port's name; the whole is allowed.
    let text = run(
        bin().args([
            "explain",
            "-f",
            dir,
            "--from",
            "shop/client",
            "--to",
            "shop/svc/api:http",
        ]),
        0,
    );
    assert_has(
        &text,
        &[
            "✓ ALLOWED → Service shop/api TCP/80 (http)",
            "✓ shop/web-new :8080",
        ],
    );
}

/// A Service without a selector has endpoints written elsewhere: unknown, never a guess.
#[test]
fn a_service_without_a_selector_is_unknown() {
    let text = run(
        bin().args([
            "explain",
            "-f",
            "tests/fixtures/services",
            "--from",
            "shop/client",
            "--to",
            "shop/svc/legacy",
        ]),
        3,
    );
    assert_has(
        &text,
        &[
            "? UNKNOWN",
            "Service shop/legacy has no selector",
            "EndpointSlices that were not read",
        ],
    );
}

/// A Service without a selector whose EndpointSlices are among the files: its addresses
/// are named, each to be explained on its own; `:svc` in the UI lists them too.
#[test]
fn a_service_without_a_selector_names_its_endpoints_where_read() {
    let slice = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: legacy-1, namespace: shop, labels: {kubernetes.io/service-name: legacy}}\naddressType: IPv4\nendpoints:\n- addresses: [192.0.2.40]\n- addresses: [192.0.2.41]\n  conditions: {ready: false}\n";
    let text = run(
        bin()
            .args([
                "explain",
                "-f",
                "tests/fixtures/services",
                "-f",
                "-",
                "--from",
                "shop/client",
                "--to",
                "shop/svc/legacy",
            ])
            .write_stdin(slice),
        3,
    );
    assert_has(
        &text,
        &[
            "? UNKNOWN",
            "Service shop/legacy has no selector: its EndpointSlices hold the addresses 192.0.2.40;",
            "explain a flow to each with --to ADDRESS",
        ],
    );
}

/// A Cilium policy leaves a direction alone by having no rules for it (it has no
/// policyTypes): effective says so in its own words.
#[test]
fn effective_says_why_a_cilium_policy_leaves_a_direction_open() {
    let world = "apiVersion: v1\nkind: Pod\nmetadata: {name: app, namespace: prod, labels: {app: app}}\nspec: {containers: [{name: c}]}\n---\napiVersion: cilium.io/v2\nkind: CiliumNetworkPolicy\nmetadata: {name: out, namespace: prod}\nspec:\n  endpointSelector: {matchLabels: {app: app}}\n  egress: [{toEntities: [world]}]\n";
    let text = run(
        bin()
            .args(["effective", "-f", "-", "prod/app"])
            .write_stdin(world),
        0,
    );
    assert_has(
        &text,
        &["selected by CiliumNetworkPolicy/prod/out (no ingress rules)"],
    );
    assert!(!text.contains("policyTypes"), "{text}");
}

/// Calico's `services` to the API server: its ready endpoint at the slice's port matches,
/// another port or address does not, and an endpoint that is not ready is unknown. A side
/// left unknown by a Calico rule is not said to have NetworkPolicies that could not be read.
#[test]
fn calico_services_match_endpoints_only() {
    let world = "apiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: prod, labels: {app: api}}\nspec: {containers: [{name: c}]}\nstatus: {podIP: 10.1.0.1}\n---\napiVersion: v1\nkind: Service\nmetadata: {name: kubernetes, namespace: default}\nspec: {ports: [{port: 443}]}\n---\napiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: kubernetes, namespace: default, labels: {kubernetes.io/service-name: kubernetes}}\naddressType: IPv4\nendpoints: [{addresses: [192.0.2.1]}, {addresses: [192.0.2.2], conditions: {ready: false}}]\nports: [{name: https, port: 6443, protocol: TCP}]\n---\napiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: to-apiserver, namespace: prod}\nspec:\n  selector: app == 'api'\n  types: [Egress]\n  egress:\n  - action: Allow\n    protocol: TCP\n    destination: {services: {name: kubernetes, namespace: default}}\n";
    let explain = |to: &str, port: &str, code: i32| {
        run(
            bin()
                .args([
                    "explain", "-f", "-", "--from", "prod/api", "--to", to, "-p", port,
                ])
                .write_stdin(world),
            code,
        )
    };
    let text = explain("192.0.2.1", "6443", 0);
    assert_has(
        &text,
        &[
            "✓ ALLOWED",
            "192.0.2.1 matches the endpoints of Service default/kubernetes",
        ],
    );
    let text = explain("192.0.2.1", "443", 1);
    assert_has(
        &text,
        &[
            "✗ DENIED",
            "is an endpoint of Service default/kubernetes, at TCP/6443, not TCP/443",
        ],
    );
    let text = explain("192.0.2.2", "6443", 3);
    assert_has(
        &text,
        &[
            "? UNKNOWN",
            "192.0.2.2 is an endpoint of Service default/kubernetes that is not ready",
            "no policy in this namespace",
        ],
    );
    assert!(!text.contains("could be read"), "{text}");
    let text = explain("192.0.2.9", "6443", 1);
    assert_has(
        &text,
        &[
            "✗ DENIED",
            "192.0.2.9 is no endpoint of Service default/kubernetes",
        ],
    );
}

/// A Service whose selector matches no pod: nothing answers, which is no policy's doing.
#[test]
fn a_service_without_pods_says_so() {
    let text = run(
        bin().args([
            "explain",
            "-f",
            "tests/fixtures/services",
            "--from",
            "shop/client",
            "--to",
            "shop/svc/gone",
        ]),
        1,
    );
    assert_has(
        &text,
        &[
            "✗ NO PODS → Service shop/gone TCP/80",
            "Service shop/gone has no backing pod: nothing answers there, whatever the policies say",
        ],
    );
}

#[test]
fn service_lookups_that_fail_say_why() {
    let dir = "tests/fixtures/services";
    let cases: &[(&[&str], &str)] = &[
        (
            &["--to", "svc/api"],
            "--to: Service shop/api has several ports (http (TCP/80), dns (UDP/53)); give one",
        ),
        (
            &["--to", "svc/api:81"],
            "--to: Service shop/api has no port TCP/81; it has http (TCP/80), dns (UDP/53)",
        ),
        (
            &["--to", "svc/api:dns"],
            "--to: Service shop/api has port dns only for UDP (port 53); use --protocol UDP",
        ),
        (
            &["--to", "svc/api:http", "-p", "53"],
            "--to: two different ports given: http in the Service name and 53 as --port",
        ),
        (
            &["--to", "svc/wbe"],
            "--to: no Service svc/wbe; did you mean shop/svc/web?",
        ),
        (&["--to", "shop/web-old"], "--port: a port is needed"),
    ];
    for (args, want) in cases {
        let out = bin()
            .args(["explain", "-f", dir, "--from", "shop/client"])
            .args(*args)
            .output()
            .unwrap();
        let stderr = String::from_utf8(out.stderr).unwrap();
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(
            stderr.contains(want),
            "{args:?}: wanted {want:?}, got {stderr}"
        );
    }
    let out = bin()
        .args([
            "explain",
            "-f",
            dir,
            "--from",
            "svc/web",
            "--to",
            "shop/client",
            "-p",
            "80",
        ])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8(out.stderr)
        .unwrap()
        .contains("a Service is only a destination"));
}

/// Calico's default tier, judged: the articles' `allow-https-only` admits HTTPS and its
/// explicit Deny closes the rest, DNS included; a policy that selects a pod puts it in the
/// tier's deny for what no rule decides.
#[test]
fn calico_policies_are_judged_in_explain_and_lint() {
    let fixture = "tests/fixtures/calico/shop.yaml";
    let explain = |from: &str, to: &str, port: &str, protocol: &str, code: i32| {
        run(
            bin().args([
                "explain",
                "-f",
                fixture,
                "--from",
                from,
                "--to",
                to,
                "--port",
                port,
                "--protocol",
                protocol,
            ]),
            code,
        )
    };
    let https = explain("shop/frontend", "203.0.113.7", "443", "TCP", 0);
    assert_has(&https, &[
        "allowed: egress by projectcalico.org/NetworkPolicy/shop/allow-https-only (calico default, after NetworkPolicy tier, order none (last)) egress[0]: allow",
    ]);
    let dns = explain("shop/frontend", "kube-system/coredns", "53", "UDP", 1);
    assert_has(&dns, &[
        "blocked: egress of shop/frontend denied by projectcalico.org/NetworkPolicy/shop/allow-https-only (calico default, after NetworkPolicy tier, order none (last)) egress[1]: deny",
    ]);
    let end = explain("kube-system/coredns", "shop/orders", "9000", "TCP", 1);
    assert_has(&end, &[
        "blocked: ingress of shop/orders denied at the end of Calico's default tier: no rule admits TCP/9000, and projectcalico.org/NetworkPolicy/shop/orders-from-frontend selects the pod",
        "· ingress[0] allow ✗ peer selector app == 'frontend' and in namespace shop: kube-system/coredns is not in the policy's namespace shop",
        "✗ end of Calico's default tier: no rule decided, and projectcalico.org/NetworkPolicy/shop/orders-from-frontend selects the pod: denied",
    ]);
    let lint = run(bin().args(["lint", "-f", fixture]), 1);
    assert_has(&lint, &[
        "error [no-dns] 1 pod(s) whose egress projectcalico.org/NetworkPolicy/shop/allow-https-only blocks cannot resolve names",
        "fix: add a Calico Allow rule before the one that denies",
    ]);
    assert!(
        !lint.contains("namespace shop · info [unprotected-pods]"),
        "{lint}"
    );
}

/// Calico's staged kinds are staged changes: a StagedGlobalNetworkPolicy default-deny is
/// judged before it is applied, naming itself as staged where it breaks or allows.
#[test]
fn calico_staged_policies_are_audited() {
    let out = run(
        bin().args([
            "audit",
            "-f",
            "tests/fixtures/calico/shop.yaml",
            "-f",
            "tests/fixtures/calico/staged-default-deny.yaml",
        ]),
        1,
    );
    assert_has(&out, &[
        "+ projectcalico.org/GlobalNetworkPolicy/shop-default-deny",
        "✗ Pod kube-system/coredns → Pod shop/frontend TCP/8080 ingress of shop/frontend denied at the end of Calico's default tier, which projectcalico.org/GlobalNetworkPolicy/shop-default-deny (staged) selects: no rule admits TCP/8080",
        "✓ Pod shop/frontend → Pod kube-system/coredns UDP/53 egress allowed by projectcalico.org/GlobalNetworkPolicy/shop-default-deny (staged) egress[0]",
    ]);
    // Delete: the staged removal of the Calico policy that blocks the frontend's DNS.
    let removal = "apiVersion: projectcalico.org/v3\nkind: StagedNetworkPolicy\nmetadata: {name: allow-https-only, namespace: shop}\nspec: {stagedAction: Delete}\n";
    let out = run(
        bin()
            .args(["audit", "-f", "tests/fixtures/calico/shop.yaml", "-f", "-"])
            .write_stdin(removal),
        0,
    );
    assert_has(
        &out,
        &[
            "- projectcalico.org/NetworkPolicy/shop/allow-https-only",
            "would break 0 declared port pairs",
        ],
    );
}

/// Calico's tiers of their own: a security tier (order 100) before everything decides the
/// quarantined pod's traffic; a platform tier with defaultAction Pass allows DNS before the
/// default tier's deny, and passes the rest on; a tier that selects a pod and decides
/// nothing denies at its end.
#[test]
fn calico_tiers_are_judged_in_order() {
    let explain = |from: &str, to: &str, port: &str, protocol: &str, code: i32| {
        run(
            bin().args([
                "explain",
                "-f",
                "tests/fixtures/calico/shop.yaml",
                "-f",
                "tests/fixtures/calico/tiers.yaml",
                "--from",
                from,
                "--to",
                to,
                "--port",
                port,
                "--protocol",
                protocol,
            ]),
            code,
        )
    };
    let quarantined = explain("shop/suspect", "shop/orders", "9000", "TCP", 1);
    assert_has(&quarantined, &[
        "blocked: ingress of shop/orders denied by projectcalico.org/GlobalNetworkPolicy/security.quarantine (Calico tier security (order 100, before the admin tier), order 10) ingress[0]: deny",
        "NetworkPolicy and the tiers after it not consulted: Calico tier security decided",
    ]);
    let dns = explain("shop/frontend", "kube-system/coredns", "53", "UDP", 0);
    assert_has(&dns, &[
        "allowed: egress by projectcalico.org/GlobalNetworkPolicy/platform.allow-dns (Calico tier platform (order 2000, between the admin and default tiers), order none (last)) egress[0]: allow",
        "(passed on by projectcalico.org/GlobalNetworkPolicy/security.quarantine ingress[1])",
    ]);
    // Passed on by the platform tier's default action: the default tier decides.
    let https = explain("shop/frontend", "shop/orders", "9000", "TCP", 1);
    assert_has(&https, &[
        "blocked: egress of shop/frontend denied by projectcalico.org/NetworkPolicy/shop/allow-https-only (calico default, after NetworkPolicy tier, order none (last)) egress[1]: deny",
    ]);
    // A tier that selects the pod and whose rules decide nothing denies at its end.
    let dir = tempfile::tempdir().unwrap();
    let lockdown = dir.path().join("lockdown.yaml");
    std::fs::write(
        &lockdown,
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: lockdown}\nspec: {order: 50}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: lockdown.orders}\nspec:\n  tier: lockdown\n  selector: app == 'orders'\n  types: [Ingress]\n",
    )
    .unwrap();
    let end = run(
        bin().args([
            "explain",
            "-f",
            "tests/fixtures/calico/shop.yaml",
            "-f",
            lockdown.to_str().unwrap(),
            "--from",
            "shop/frontend",
            "--to",
            "shop/orders",
            "--port",
            "9000",
        ]),
        1,
    );
    assert_has(&end, &[
        "blocked: ingress of shop/orders denied at the end of Calico tier lockdown: no rule admits TCP/9000, and projectcalico.org/GlobalNetworkPolicy/lockdown.orders selects the pod",
        "✗ end of Calico tier lockdown: no rule decided, and projectcalico.org/GlobalNetworkPolicy/lockdown.orders selects the pod: denied",
    ]);
}

/// A Calico Allow with an HTTP match admits the connection at L3/L4 and filters its requests
/// at L7, which is shown, not judged; a Deny with one is unknown.
#[test]
fn calico_http_matches_are_shown_at_l7() {
    let dir = tempfile::tempdir().unwrap();
    let http = dir.path().join("http.yaml");
    std::fs::write(
        &http,
        "apiVersion: projectcalico.org/v3\nkind: NetworkPolicy\nmetadata: {name: orders-api, namespace: shop}\nspec:\n  order: 100\n  selector: app == 'orders'\n  ingress:\n  - action: Allow\n    protocol: TCP\n    source: {selector: k8s-app == 'kube-dns', namespaceSelector: all()}\n    http:\n      methods: [GET, POST]\n      paths: [{prefix: /api/v1}, {exact: /healthz}]\n",
    )
    .unwrap();
    let out = run(
        bin().args([
            "explain",
            "-f",
            "tests/fixtures/calico/shop.yaml",
            "-f",
            http.to_str().unwrap(),
            "--from",
            "kube-system/coredns",
            "--to",
            "shop/orders",
            "--port",
            "9000",
        ]),
        0,
    );
    assert_has(&out, &[
        "✓ ALLOWED at L3/L4, filtered at L7 kube-system/coredns → shop/orders TCP/9000",
        "filtered at L7 by projectcalico.org/NetworkPolicy/shop/orders-api ingress[0] HTTP methods GET, POST; paths prefix /api/v1, exact /healthz (L7 rules are shown, not judged)",
    ]);
}

/// `--demo=calico` is the demo on Calico: tiers of its own, Calico's policies and a
/// NetworkPolicy, a staged Calico default-deny; `--demo` alone stays the first scenario,
/// and takes no value unless one is given with `=`.
#[test]
fn the_calico_demo_is_a_scenario_of_its_own() {
    let canary = run(
        bin().args([
            "explain",
            "--demo=calico",
            "--from",
            "shop/frontend-canary",
            "--to",
            "shop/orders",
            "--port",
            "9000",
        ]),
        1,
    );
    assert_has(&canary, &[
        "blocked: ingress of shop/orders denied by projectcalico.org/GlobalNetworkPolicy/security.quarantine (Calico tier security (order 100, before the admin tier), order 10) ingress[0]: deny",
    ]);
    let audit = run(bin().args(["audit", "--demo=calico"]), 1);
    assert_has(
        &audit,
        &[
            "+ projectcalico.org/GlobalNetworkPolicy/shop-default-deny",
            "would break 4 declared port pairs",
        ],
    );
    let dump = run(bin().args(["demo", "--dump", "--demo=calico"]), 0);
    assert!(dump.contains("kind: Tier"), "{dump}");
    // `--demo` before the subcommand is the first scenario, not a value.
    let first = run(
        bin().args([
            "--demo",
            "explain",
            "--from",
            "production/frontend",
            "--to",
            "production/database",
            "--port",
            "5432",
        ]),
        1,
    );
    assert_has(
        &first,
        &["✗ DENIED production/frontend → production/database TCP/5432"],
    );
    let bad = bin()
        .args(["explain", "--demo=flannel", "--from", "a/b", "--to", "c/d"])
        .output()
        .unwrap();
    assert_eq!(bad.status.code(), Some(2));
    let err = String::from_utf8_lossy(&bad.stderr);
    assert!(err.contains("[possible values: cilium, calico]"), "{err}");
}

/// Cilium host policies wait for `--cilium-host-firewall`: unknown without it (naming the
/// flag, exit 3), judged with `on` (the host endpoint named), nothing with `off`.
#[test]
fn cilium_host_policies_wait_for_the_host_firewall_setting() {
    let dir = tempfile::tempdir().unwrap();
    let world = dir.path().join("hosts.yaml");
    std::fs::write(
        &world,
        "apiVersion: v1\nkind: Node\nmetadata: {name: n1, labels: {node-access: ssh}}\nstatus: {addresses: [{type: InternalIP, address: 192.168.1.1}]}\n---\napiVersion: v1\nkind: Pod\nmetadata: {name: api, namespace: prod, labels: {app: api}}\nspec: {nodeName: n2, containers: [{name: c}]}\nstatus: {podIP: 10.1.0.1}\n---\napiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: ssh-only}\nspec:\n  nodeSelector: {matchLabels: {node-access: ssh}}\n  ingress:\n  - fromEntities: [cluster]\n    toPorts: [{ports: [{port: \"22\", protocol: TCP}]}]\n",
    )
    .unwrap();
    let explain = |flag: Option<&str>, port: &str, code: i32| {
        let mut cmd = bin();
        cmd.args(["explain", "-f", world.to_str().unwrap()]);
        cmd.args(flag);
        cmd.args(["--from", "prod/api", "--to", "192.168.1.1", "--port", port]);
        run(&mut cmd, code)
    };
    let out = explain(None, "80", 3);
    assert_has(&out, &[
        "? UNKNOWN prod/api → node/n1 (192.168.1.1) TCP/80",
        "selects node n1 if Cilium's host firewall is on, which is not known (it is off by default; say --cilium-host-firewall=on or off)",
    ]);
    let out = explain(Some("--cilium-host-firewall=on"), "80", 1);
    assert_has(&out, &[
        "✗ DENIED prod/api → node/n1 (192.168.1.1) TCP/80",
        "blocked: host n1 isolated for ingress by CiliumClusterwideNetworkPolicy/ssh-only; no rule admits TCP/80",
    ]);
    explain(Some("--cilium-host-firewall=on"), "22", 0);
    let out = explain(Some("--cilium-host-firewall=off"), "80", 0);
    assert_has(
        &out,
        &["does not select node n1: Cilium's host firewall is off"],
    );

    // Cilium's configuration among the files says it; the flag goes ahead of it.
    let config = dir.path().join("cilium-config.yaml");
    std::fs::write(
        &config,
        "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: cilium-config, namespace: kube-system}\ndata: {enable-host-firewall: \"true\", cluster-name: default}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: other, namespace: kube-system}\ndata: {enable-host-firewall: \"false\"}\n",
    )
    .unwrap();
    let with_config = |flag: Option<&str>, code: i32| {
        let mut cmd = bin();
        cmd.args(["explain", "-f", world.to_str().unwrap()]);
        cmd.args(["-f", config.to_str().unwrap()]);
        cmd.args(flag);
        cmd.args(["--from", "prod/api", "--to", "192.168.1.1", "--port", "80"]);
        run(&mut cmd, code)
    };
    with_config(None, 1);
    let out = with_config(Some("--cilium-host-firewall=off"), 0);
    assert_has(&out, &["(--cilium-host-firewall=off)"]);

    // effective of a node: its host endpoint's rules, unknown until the firewall is known.
    let effective = |flag: Option<&str>, code: i32| {
        let mut cmd = bin();
        cmd.args(["effective", "-f", world.to_str().unwrap()]);
        cmd.args(flag);
        cmd.arg("node/n1");
        run(&mut cmd, code)
    };
    let out = effective(Some("--cilium-host-firewall=on"), 0);
    assert_has(
        &out,
        &[
            "host n1 labels: node-access=ssh",
            "ingress: isolated by CiliumClusterwideNetworkPolicy/ssh-only",
            "TCP/22 [CiliumClusterwideNetworkPolicy/ssh-only ingress[0]]",
            "egress: not isolated",
        ],
    );
    let out = effective(None, 3);
    assert_has(
        &out,
        &["host policies select this node if Cilium's host firewall is on, which is not known"],
    );
}
