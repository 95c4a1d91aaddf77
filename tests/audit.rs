//! Audit mode: staged changes judged against the current policies, by the engine (properties
//! on random worlds, generated clusters and the demo) and by the `audit` command.

mod generators;

use std::collections::BTreeSet;
use std::sync::Arc;

use assert_cmd::Command;
use generators::*;
use proptest::prelude::*;
use serde_json::Value;

use netpol_tui::cluster::synthetic::{generate, Shape};
use netpol_tui::cluster::{demo, World};
use netpol_tui::policy::audit::declared::{self, DeclaredRow};
use netpol_tui::policy::audit::suggest::{check, suggest};
use netpol_tui::policy::audit::{
    apply, stage_manifest, Audit, Change, Delta, Effect, Observer, Staged, WhatIf,
};
use netpol_tui::policy::model::{Inventory, Policy, Protocol};
use netpol_tui::policy::selector::Selector;
use netpol_tui::policy::workload::Workloads;
use netpol_tui::policy::PolicySet;
use netpol_tui::policy::{EngineOptions, Flow, Index};

fn current(inv: &Inventory, policies: Vec<Policy>) -> Arc<Index> {
    Arc::new(build(inv, policies, EngineOptions::default()))
}

/// Every declared row of the diff, by workload names.
fn rows(audit: &Audit, workloads: &Workloads) -> BTreeSet<(String, String, Protocol, u16, Delta)> {
    let mut out = BTreeSet::new();
    declared::diff(
        audit,
        workloads,
        |_, _| true,
        |r: DeclaredRow| {
            out.insert((
                workloads.list[r.from as usize].key(),
                workloads.list[r.to as usize].key(),
                r.protocol,
                r.port,
                r.delta,
            ));
        },
    );
    out
}

/// The same rows, the slow way: two matrices per declared port, compared pod pair by pod pair.
fn rows_by_matrix(
    audit: &Audit,
    workloads: &Workloads,
) -> BTreeSet<(String, String, Protocol, u16, Delta)> {
    let inv = audit.current.inventory();
    let pods: Vec<u32> = (0..inv.pods.len() as u32).collect();
    let dns = |p: usize| inv.pods[p].labels.get("k8s-app").map(String::as_str) == Some("kube-dns");
    let mut ports: BTreeSet<(Protocol, u16)> = BTreeSet::new();
    for (i, p) in inv.pods.iter().enumerate() {
        ports.extend(p.ports.iter().map(|cp| (cp.protocol, cp.port)));
        if dns(i) {
            ports.extend([(Protocol::Udp, 53), (Protocol::Tcp, 53)]);
        }
    }
    let mut out = BTreeSet::new();
    for (protocol, port) in ports {
        let now = audit.current.matrix(&pods, protocol, port);
        let then = audit.staged.matrix(&pods, protocol, port);
        for i in 0..pods.len() {
            for j in 0..pods.len() {
                let declares = inv.pods[j]
                    .ports
                    .iter()
                    .any(|cp| cp.protocol == protocol && cp.port == port)
                    || (dns(j) && port == 53 && protocol != Protocol::Sctp);
                if i == j || !declares {
                    continue;
                }
                let delta = match (now.get(i, j), then.get(i, j)) {
                    (true, false) => Delta::WouldBreak,
                    (false, true) => Delta::WouldAllow,
                    _ => continue,
                };
                out.insert((
                    workloads.of(i as u32).key(),
                    workloads.of(j as u32).key(),
                    protocol,
                    port,
                    delta,
                ));
            }
        }
    }
    out
}

fn what_if(text: &str, inv: &Inventory) -> Vec<Staged> {
    WhatIf::parse(text)
        .expect("what-if parses")
        .manifests(inv)
        .iter()
        .map(|np| stage_manifest(np, text).expect("compiles"))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(200))]

    #[test]
    fn staging_nothing_changes_nothing((inv, policies) in world()) {
        let audit = Audit::new(current(&inv, policies), &[]);
        let workloads = Workloads::new(&inv);
        prop_assert!(rows(&audit, &workloads).is_empty());
        for flow in flows(&inv) {
            let (now, then) = audit.judge(&flow);
            prop_assert_eq!(now, then);
        }
    }

    #[test]
    fn a_staged_default_deny_never_newly_allows(
        (inv, policies) in world(),
        ns in prop::sample::select(vec!["ns0", "ns1", "ns2", "*"]),
        kind in prop::sample::select(vec!["default-deny", "default-deny-ingress", "default-deny-egress"]),
    ) {
        let changes = what_if(&format!("{kind}:{ns}"), &inv);
        let audit = Audit::new(current(&inv, policies), &changes);
        let workloads = Workloads::new(&inv);
        prop_assert!(rows(&audit, &workloads).iter().all(|r| r.4 == Delta::WouldBreak));
        for flow in flows(&inv) {
            let (now, then) = audit.judge(&flow);
            prop_assert!(Delta::between(&now, &then) != Some(Delta::WouldAllow), "{:?}", flow);
        }
    }

    #[test]
    fn a_policy_staged_where_pods_are_isolated_both_ways_breaks_nothing(
        (inv, policies) in world(),
        staged in policy(99),
    ) {
        // Every pod of the staged policy's namespace is isolated both ways already.
        let ns = staged.namespace.clone();
        let mut base = policies;
        base.push(Policy {
            namespace: ns.clone(),
            name: "isolate-all".into(),
            pod_selector: Selector::everything(),
            ingress: Some(Vec::new()),
            egress: Some(Vec::new()),
            warnings: Vec::new(),
            origin: Default::default(),
            manifest: None,
            cilium: None,
        });
        let audit = Audit::new(
            current(&inv, base),
            &[Staged::new(Change::Set(Box::new(staged)), "test")],
        );
        let workloads = Workloads::new(&inv);
        prop_assert!(rows(&audit, &workloads).iter().all(|r| r.4 != Delta::WouldBreak));
        for flow in flows(&inv) {
            let (now, then) = audit.judge(&flow);
            prop_assert!(Delta::between(&now, &then) != Some(Delta::WouldBreak), "{:?}", flow);
        }
    }

    #[test]
    fn the_declared_diff_is_the_difference_of_two_matrices(
        (inv, policies) in world(),
        (_, staged) in world(),
        remove in prop::collection::vec(0..6usize, 0..3),
    ) {
        // Staged: the other world's policies (renamed so that some replace, some add), and
        // removals of some current ones.
        let names: Vec<String> = policies.iter().map(|p| p.key()).collect();
        let mut changes: Vec<Staged> = staged
            .into_iter()
            .map(|p| Staged::new(Change::Set(Box::new(p)), "test"))
            .collect();
        for i in remove {
            if let Some((ns, name)) = names.get(i).and_then(|k| k.split_once('/')) {
                changes.push(Staged::new(
                    Change::Remove { namespace: ns.into(), name: name.into() },
                    "test",
                ));
            }
        }
        let audit = Audit::new(current(&inv, policies), &changes);
        let workloads = Workloads::new(&inv);
        prop_assert_eq!(rows(&audit, &workloads), rows_by_matrix(&audit, &workloads));
    }
}

#[test]
fn applying_changes_by_namespace_and_name() {
    let p = |ns: &str, name: &str, deny: bool| Policy {
        namespace: ns.into(),
        name: name.into(),
        pod_selector: Selector::everything(),
        ingress: Some(Vec::new()),
        egress: deny.then(Vec::new),
        warnings: Vec::new(),
        origin: Default::default(),
        manifest: None,
        cilium: None,
    };
    let base = PolicySet::new(vec![p("a", "x", false), p("a", "y", false)]);
    let set = |p: Policy| Staged::new(Change::Set(Box::new(p)), "t");
    let changes = vec![
        set(p("a", "x", false)),
        set(p("a", "y", true)),
        set(p("b", "z", false)),
        Staged::new(
            Change::Remove {
                namespace: "a".into(),
                name: "gone".into(),
            },
            "t",
        ),
        Staged {
            enabled: false,
            ..set(p("c", "off", false))
        },
    ];
    let (result, effects) = apply(&base, &changes);
    let kinds: Vec<&str> = effects
        .iter()
        .map(|e| match e {
            Effect::Added { .. } => "added",
            Effect::Replaced { .. } => "replaced",
            Effect::Unchanged { .. } => "unchanged",
            Effect::Removed { .. } => "removed",
            Effect::NotFound { .. } => "not_found",
            Effect::Cleared { .. } => "cleared",
        })
        .collect();
    assert_eq!(kinds, ["unchanged", "replaced", "added", "not_found"]);
    let keys: Vec<String> = result.policies.iter().map(|p| p.key()).collect();
    assert_eq!(
        keys,
        ["a/x", "a/y", "b/z"],
        "a switched-off change is not applied"
    );
    let (cleared, effects) = apply(
        &base,
        &[Staged::new(Change::Clear, "t"), set(p("b", "z", false))],
    );
    assert_eq!(cleared.policies.len(), 1);
    assert_eq!(
        effects[0],
        Effect::Cleared {
            policies: 2,
            source: "t".into()
        }
    );

    // Staged NetworkPolicy changes leave the cluster-scoped tiers as they are.
    let demo = netpol_tui::cluster::demo::load()
        .expect("the demo loads")
        .world;
    assert_eq!(demo.policies.tiers.len(), 1);
    let (staged, _) = apply(&demo.policies, &[Staged::new(Change::Clear, "t")]);
    assert_eq!(staged.tiers, demo.policies.tiers);
    assert!(staged.tiers_known);
}

#[test]
fn what_ifs_parse_or_say_what_is_wrong() {
    let w = WhatIf::parse("default-deny-egress:dev").unwrap();
    assert_eq!(
        (w.ingress, w.egress, w.namespace.as_deref()),
        (false, true, Some("dev"))
    );
    assert_eq!(WhatIf::parse("default-deny:*").unwrap().namespace, None);
    for (bad, why) in [
        ("default-deny", "write KIND:NAMESPACE"),
        ("allow-all:dev", "the what-ifs are"),
        ("default-deny:", "name a namespace"),
        ("default-deny:Bad Name", "Bad Name"),
    ] {
        let err = WhatIf::parse(bad).unwrap_err().to_string();
        assert!(err.contains(why), "{bad}: {err}");
    }
}

/// Every flow that works today between pods with addresses, on the destination's declared
/// ports: the traffic a cluster would have recorded.
fn working_flows(index: &Index) -> Vec<(std::net::IpAddr, std::net::IpAddr, Protocol, u16)> {
    let inv = index.inventory();
    let mut out = Vec::new();
    for (i, src) in inv.pods.iter().enumerate() {
        for (j, dst) in inv.pods.iter().enumerate() {
            if i == j || src.ips.is_empty() || dst.ips.is_empty() {
                continue;
            }
            for cp in &dst.ports {
                let flow = Flow {
                    src: index.endpoint_for_ip(src.ips[0]),
                    dst: index.endpoint_for_ip(dst.ips[0]),
                    protocol: cp.protocol,
                    port: cp.port,
                };
                if index.verdict(&flow).allowed() {
                    out.push((src.ips[0], dst.ips[0], cp.protocol, cp.port));
                }
            }
        }
    }
    out
}

/// Stages `what_ifs`, observes every working flow, suggests, and checks: with the
/// suggestions staged too, no flow seen breaks and nothing the current policies deny opens.
fn suggestions_keep_what_works(world: World, what_ifs: &[&str]) -> usize {
    let index = Arc::new(Index::build(
        world.inventory.clone(),
        world.policies.clone(),
        EngineOptions::default(),
    ));
    let changes: Vec<Staged> = what_ifs
        .iter()
        .flat_map(|w| what_if(w, &world.inventory))
        .collect();
    let audit = Audit::new(index.clone(), &changes);
    let workloads = Workloads::new(&world.inventory);
    let mut observer = Observer::new(&audit, &workloads);
    let seen = working_flows(&index);
    for (t, (src, dst, protocol, port)) in seen.iter().enumerate() {
        observer.add(t as u64, *src, *dst, *protocol, *port);
    }
    let groups = observer.finish();
    let breaking: Vec<_> = groups
        .iter()
        .filter(|g| g.delta == Delta::WouldBreak)
        .collect();
    assert!(!breaking.is_empty(), "the what-ifs break something seen");
    let needs: Vec<Flow> = breaking
        .iter()
        .flat_map(|g| g.examples.iter().copied())
        .collect();
    let suggestion = suggest(&audit, &workloads, &needs);
    assert!(suggestion.notes.is_empty(), "{:?}", suggestion.notes);
    let c = check(
        &audit,
        &changes,
        &workloads,
        &suggestion,
        Some(&groups),
        |_, _| true,
    );
    assert_eq!(c.observed_breaks, 0);
    assert!(c.opened.is_empty(), "opened: {:?}", c.opened);
    // Every single flow seen, not only the groups' examples, still works.
    let mut all = changes.clone();
    all.extend(suggestion.staged());
    let fixed = Audit::new(index.clone(), &all);
    for (src, dst, protocol, port) in seen {
        let flow = Flow {
            src: index.endpoint_for_ip(src),
            dst: index.endpoint_for_ip(dst),
            protocol,
            port,
        };
        assert!(fixed.staged.verdict(&flow).allowed(), "{flow:?}");
    }
    suggestion.policies.len()
}

#[test]
fn suggestions_keep_the_demo_working() {
    let world = demo::load().expect("demo").world;
    let n = suggestions_keep_what_works(
        world,
        &[
            "default-deny:monitoring",
            "default-deny:kube-system",
            "default-deny-egress:ingress-nginx",
        ],
    );
    assert!(n >= 3, "{n} policies");
}

#[test]
fn suggestions_keep_a_generated_cluster_working() {
    let world = generate(Shape::new(400, 80));
    let n = suggestions_keep_what_works(
        world,
        &[
            "default-deny:ns-0001",
            "default-deny-ingress:ns-0003",
            "default-deny:ns-0005",
        ],
    );
    assert!(n > 0);
}

#[test]
fn generated_clusters_agree_with_two_matrices() {
    let world = generate(Shape::new(300, 60));
    let index = current(&world.inventory, world.policies.policies.clone());
    let changes = [
        what_if("default-deny:ns-0000", &world.inventory),
        what_if("default-deny-egress:ns-0002", &world.inventory),
        vec![Staged::new(
            Change::Remove {
                namespace: world.policies.policies[3].namespace.clone(),
                name: world.policies.policies[3].name.clone(),
            },
            "test",
        )],
    ]
    .concat();
    let audit = Audit::new(index, &changes);
    let workloads = Workloads::new(&world.inventory);
    let fast = rows(&audit, &workloads);
    assert!(!fast.is_empty());
    assert_eq!(fast, rows_by_matrix(&audit, &workloads));
}

// ---- the command ----------------------------------------------------------------------

fn bin() -> Command {
    let mut cmd = Command::cargo_bin("kubectl-netpol_tui").unwrap();
    cmd.env("NETPOL_TUI_LOG", "off").arg("--color=never");
    cmd
}

fn run(cmd: &mut Command) -> (i32, String, String) {
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8(out.stdout).unwrap(),
        String::from_utf8(out.stderr).unwrap(),
    )
}

#[test]
fn audit_reports_the_demos_staged_changes_and_gates_on_breaks() {
    let (code, out, err) = run(bin().args(["audit", "--demo"]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(out.starts_with(
        "staging 3 changes (2 added, 1 replaced) would break 9 declared port pairs; would newly allow 1\n"
    ), "{out}");
    assert!(out.contains("+ monitoring/default-deny-all"), "{out}");
    assert!(
        out.contains("✗ Pod monitoring/prometheus → Pod production/backend  TCP/9090"),
        "{out}"
    );
    let flat = out.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(flat.contains("monitoring/prometheus isolated for egress by monitoring/default-deny-all (staged); no rule admits TCP/9090"), "{out}");
    assert!(
        out.contains(
            "✓ Pod ingress-nginx/ingress-nginx-controller → Pod production/frontend  TCP/3000"
        ),
        "{out}"
    );
    // Scoped to a namespace nothing breaks in: exit 0.
    let (code, out, _) = run(bin().args(["audit", "--demo", "-n", "development"]));
    assert_eq!(code, 0, "{out}");
    assert!(out.starts_with("staging 3 changes (2 added, 1 replaced) would break 0 declared port pairs; would newly allow 0"), "{out}");
}

#[test]
fn audit_json_keeps_its_field_names() {
    let dir = tempfile::tempdir().unwrap();
    let flows = dir.path().join("flows.jsonl");
    std::fs::write(
        &flows,
        concat!(
            // prometheus scrapes the backend twice, then the frontend calls the backend.
            r#"{"flow":{"time":"2026-11-30T10:00:00Z","verdict":"FORWARDED","IP":{"source":"10.244.2.20","destination":"10.244.1.11"},"l4":{"TCP":{"source_port":40000,"destination_port":9090}}}}"#, "\n",
            r#"{"flow":{"time":"2026-11-30T10:00:05Z","verdict":"FORWARDED","IP":{"source":"10.244.2.20","destination":"10.244.1.11"},"l4":{"TCP":{"source_port":40002,"destination_port":9090}}}}"#, "\n",
            r#"{"time_ms":1795950000000,"src_ip":"10.244.1.10","dst_ip":"10.244.1.11","protocol":"TCP","src_port":1,"dst_port":8080,"datapath":"forwarded"}"#, "\n",
            "garbage\n",
        ),
    )
    .unwrap();
    let (code, out, err) = run(bin().args([
        "audit",
        "--demo",
        "--what-if",
        "default-deny:development",
        "--flows",
        flows.to_str().unwrap(),
        "-o",
        "json",
    ]));
    assert_eq!(code, 1, "{out}{err}");
    assert!(err.contains("read 4 lines: 3 flows; 1 bad lines"), "{err}");
    assert!(err.contains("flows.jsonl:4: not a flow record"), "{err}");
    let v: Value = serde_json::from_str(&out).expect("json");
    assert!(v["headline"].as_str().unwrap().starts_with("staging 4 changes (3 added, 1 replaced) would break 1 connection seen (2 flows) and 9 declared port pairs"), "{}", v["headline"]);
    let staged = v["staged"].as_array().unwrap();
    let what_if = staged
        .iter()
        .find(|s| s["source"] == "--what-if default-deny:development")
        .unwrap();
    assert_eq!(what_if["effect"], "added");
    assert_eq!(what_if["object"]["kind"], "NetworkPolicy");
    assert_eq!(
        what_if["object"]["spec"]["policyTypes"],
        serde_json::json!(["Ingress", "Egress"])
    );
    let observed = v["observed"].as_array().unwrap();
    assert_eq!(observed.len(), 1, "{observed:?}");
    let o = &observed[0];
    for (k, want) in [
        ("from", "monitoring/prometheus"),
        ("to", "production/backend"),
        ("protocol", "TCP"),
        ("change", "would_break"),
    ] {
        assert_eq!(o[k], want, "{o}");
    }
    assert_eq!(o["port"], 9090);
    assert_eq!(o["flows"], 2);
    assert_eq!(o["first_seen_ms"], 1796032800000u64);
    assert_eq!(o["last_seen_ms"], 1796032805000u64);
    let declared = v["declared"].as_array().unwrap();
    assert!(declared.iter().all(|d| d["from"].is_string()
        && d["to"].is_string()
        && d["port"].is_u64()
        && (d["change"] == "would_break" || d["change"] == "would_allow")));
}

#[test]
fn suggested_policies_load_and_fix_what_breaks() {
    let (code, yaml, err) = run(bin().args([
        "audit",
        "--demo",
        "--what-if",
        "default-deny:kube-system",
        "--suggest",
    ]));
    assert_eq!(code, 1, "{err}");
    assert!(yaml.contains("# keeps "), "{yaml}");
    assert!(
        err.contains("would still break; the suggestions open 0 workload pair(s)"),
        "{err}"
    );
    assert!(
        err.contains("0 declared port pair(s) would still break"),
        "{err}"
    );
    // The suggestions are valid manifests: staged with the what-if, nothing breaks.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("fix.yaml");
    std::fs::write(&file, &yaml).unwrap();
    let (code, out, err) = run(bin().args([
        "audit",
        "--demo",
        "--what-if",
        "default-deny:kube-system",
        "--stage",
        file.to_str().unwrap(),
        "-n",
        "kube-system",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("would break 0 declared port pairs"), "{out}");
    // As JSON: a List of NetworkPolicy objects.
    let (_, json, _) = run(bin().args([
        "audit",
        "--demo",
        "--what-if",
        "default-deny:kube-system",
        "--suggest",
        "-o",
        "json",
    ]));
    let v: Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["kind"], "List");
    assert!(v["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|i| i["kind"] == "NetworkPolicy"));
}

#[test]
fn stage_all_unstage_and_combining_the_demo_with_files() {
    // Every current policy replaced by nothing but the demo's production default-deny.
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("only.yaml");
    std::fs::write(
        &file,
        "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: default-deny-all, namespace: production}\nspec: {podSelector: {}, policyTypes: [Ingress, Egress]}\n",
    )
    .unwrap();
    let (code, out, err) = run(bin().args([
        "audit",
        "--demo",
        "--stage-all",
        file.to_str().unwrap(),
        "-o",
        "json",
    ]));
    assert_eq!(code, 1, "{out}{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    let effects: Vec<&str> = v["staged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["effect"].as_str().unwrap())
        .collect();
    assert!(effects.contains(&"cleared"), "{effects:?}");
    let (code, out, _) = run(bin().args([
        "audit",
        "--demo",
        "--unstage",
        "production/default-deny-all",
        "--unstage",
        "nope/nothing",
    ]));
    assert!(code == 0 || code == 1);
    assert!(out.contains("- production/default-deny-all"), "{out}");
    assert!(
        out.contains("? nope/nothing: no such policy to remove"),
        "{out}"
    );
    // The demo and a file together: the file's policy is part of the world.
    let (code, out, err) = run(bin().args([
        "explain",
        "--demo",
        "-f",
        file.to_str().unwrap(),
        "--from",
        "production/frontend",
        "--to",
        "production/backend",
        "-p",
        "8080",
    ]));
    assert_eq!(code, 0, "{out}{err}");
}

#[test]
fn audit_usage_errors() {
    for (args, want) in [
        (
            vec!["audit", "--demo", "--stage", "-", "--flows", "-"],
            "only one of",
        ),
        (
            vec!["audit", "--demo", "--what-if", "default-deny:nowhere"],
            "no namespace nowhere",
        ),
        (
            vec!["audit", "--demo", "--what-if", "allow:x"],
            "the what-ifs are",
        ),
        (
            vec!["audit", "--demo", "--unstage", "noslash"],
            "write NAMESPACE/NAME",
        ),
        (
            vec![
                "audit",
                "-f",
                "tests/fixtures/good",
                "--flows",
                "/does/not/exist",
            ],
            "nothing staged",
        ),
        (
            vec![
                "audit",
                "--demo",
                "--what-if",
                "default-deny:development",
                "--flows",
                "/does/not/exist",
            ],
            "--flows /does/not/exist: cannot read",
        ),
    ] {
        let (code, out, err) = run(bin().args(&args));
        assert_eq!(code, 2, "{args:?}: {out}{err}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
