//! The live cluster against a scripted API server on loopback (tests/mockapi): list then
//! watch, bookmarks, 410 Gone and relist, 403 with namespace fallback, nodes forbidden,
//! disconnect and reconnect, and changes reaching explain and matrix. Every test ends by
//! checking that only get, list and watch were used.

mod mockapi;

use std::io::Write;
use std::process::Command;
use std::time::Duration;

use mockapi::objects::{namespace, node, pod, policy};
use mockapi::{Kind, MockApi};
use netpol_tui::cluster::live::{self, Link, Scope, Session, Status, Target, Update};
use netpol_tui::cluster::World;
use netpol_tui::policy::explain::{explain, Explanation};
use netpol_tui::policy::query::resolve_endpoint;
use netpol_tui::policy::{EngineOptions, Flow, Index, Protocol};
use serde_json::json;
use tempfile::NamedTempFile;

const WAIT: Duration = Duration::from_secs(15);

/// The demo's story in miniature: production with frontend, backend and database; the
/// database admits only the backend.
fn cluster(mock: &MockApi) {
    mock.apply(namespace("production", json!({"env": "prod"})));
    mock.apply(namespace("kube-system", json!({})));
    mock.apply(node("node-1", "10.0.0.11"));
    mock.apply(pod(
        "production",
        "frontend",
        json!({"app": "frontend"}),
        "10.1.0.10",
        &[("http", 8080)],
    ));
    mock.apply(pod(
        "production",
        "backend",
        json!({"app": "backend"}),
        "10.1.0.11",
        &[("http", 8080)],
    ));
    mock.apply(pod(
        "production",
        "database",
        json!({"app": "database"}),
        "10.1.0.12",
        &[("postgres", 5432)],
    ));
    mock.apply(pod(
        "kube-system",
        "coredns",
        json!({"k8s-app": "kube-dns"}),
        "10.1.0.2",
        &[("dns", 53)],
    ));
    mock.apply(policy(
        "production",
        "default-deny",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    ));
    mock.apply(policy(
        "production",
        "database-netpol",
        json!({
            "podSelector": {"matchLabels": {"app": "database"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "backend"}}}],
                         "ports": [{"port": 5432}]}]
        }),
    ));
}

fn kubeconfig(mock: &MockApi, contexts: &[&str]) -> NamedTempFile {
    let mut f = NamedTempFile::new().unwrap();
    f.write_all(mock.kubeconfig(contexts).as_bytes()).unwrap();
    f
}

fn target(file: &NamedTempFile) -> Target {
    Target {
        kubeconfig: Some(file.path().to_path_buf()),
        context: None,
        namespace: None,
    }
}

fn why(world: &World, from: &str, to: &str, port: u16) -> Explanation {
    let index = Index::build(
        world.inventory.clone(),
        world.policies.clone(),
        EngineOptions::default(),
    );
    let src = resolve_endpoint(&index, from, None).unwrap();
    let dst = resolve_endpoint(&index, to, None).unwrap();
    explain(
        &index,
        &Flow {
            src,
            dst,
            protocol: Protocol::Tcp,
            port,
        },
    )
}

fn allowed(world: &World, from: &str, to: &str, port: u16) -> bool {
    why(world, from, to, port).allowed
}

/// Waits for a snapshot that satisfies `ok`.
async fn snapshot_where(
    session: &mut Session,
    what: &str,
    ok: impl Fn(&World, &Status) -> bool,
) -> (World, Status) {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        match tokio::time::timeout_at(deadline, session.next()).await {
            Ok(Some(Update::Snapshot(w, s))) if ok(&w, &s) => return (w, s),
            Ok(Some(_)) => {}
            Ok(None) => panic!("session ended while waiting for {what}"),
            Err(_) => panic!("no snapshot with {what} within {WAIT:?}"),
        }
    }
}

/// Waits for a status (alone or with a snapshot) that satisfies `ok`.
async fn status_where(session: &mut Session, what: &str, ok: impl Fn(&Status) -> bool) -> Status {
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let s = match tokio::time::timeout_at(deadline, session.next()).await {
            Ok(Some(Update::Snapshot(_, s))) | Ok(Some(Update::Status(s))) => s,
            Ok(None) => panic!("session ended while waiting for {what}"),
            Err(_) => panic!("no status with {what} within {WAIT:?}"),
        };
        if ok(&s) {
            return s;
        }
    }
}

/// `status` if it is live, else the next live one.
async fn live_again(session: &mut Session, status: Status) -> Status {
    if status.link == Link::Live {
        return status;
    }
    status_where(session, "live again", |s| s.link == Link::Live).await
}

/// Waits until `n` watches are open on the server.
async fn wait_for_watches(mock: &MockApi, n: usize) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while mock.open_watches() < n {
        assert!(
            tokio::time::Instant::now() < deadline,
            "{n} watches were not opened within {WAIT:?}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

fn lists(mock: &MockApi, path: &str) -> usize {
    mock.requests()
        .iter()
        .filter(|r| r.path == path && !r.is_watch())
        .count()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn list_then_watch_and_changes_reach_explain() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();

    assert_eq!(status.context, "mock");
    assert_eq!(status.link, Link::Live);
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert_eq!(world.inventory.pods.len(), 4);
    assert_eq!(world.inventory.nodes.len(), 1);
    assert!(world.inventory.nodes_known);
    assert_eq!(world.policies.policies.len(), 2);
    // Labels from the Namespace objects, not only the automatic one.
    let prod = world
        .inventory
        .namespaces
        .iter()
        .find(|n| n.name == "production")
        .unwrap();
    assert_eq!(prod.labels.get("env").map(String::as_str), Some("prod"));
    assert!(!prod.implicit);
    assert!(!allowed(
        &world,
        "production/frontend",
        "production/database",
        5432
    ));
    assert!(allowed(
        &world,
        "production/backend",
        "production/database",
        5432
    ));
    // The manifest kept for the YAML view has no managed fields.
    let kept = world.policies.policies[0]
        .manifest
        .as_ref()
        .map(|m| m.yaml())
        .unwrap_or_default();
    assert!(
        !kept.is_empty() && !kept.contains("managedFields"),
        "{kept}"
    );

    // Lists are paged; watches start at the list's resourceVersion and ask for bookmarks.
    // The snapshot goes out when the lists are in, which may be before the watches open.
    wait_for_watches(&mock, 5).await;
    let reqs = mock.requests();
    let pod_list = reqs
        .iter()
        .find(|r| {
            r.path == "/api/v1/pods"
                && !r.is_watch()
                && r.query.get("limit").map(String::as_str) == Some("500")
        })
        .expect("a paged pod list");
    assert!(!pod_list.query.contains_key("continue"));
    let pod_watch = reqs
        .iter()
        .find(|r| r.path == "/api/v1/pods" && r.is_watch())
        .expect("a pod watch");
    assert_eq!(
        pod_watch
            .query
            .get("allowWatchBookmarks")
            .map(String::as_str),
        Some("true")
    );
    assert!(pod_watch.query.contains_key("resourceVersion"));

    // Added: a policy that lets the frontend reach the database.
    mock.apply(policy("production", "frontend-to-db", json!({
        "podSelector": {"matchLabels": {"app": "database"}},
        "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}], "ports": [{"port": "postgres"}]}]
    })));
    let (world, _) = snapshot_where(&mut session, "frontend-to-db", |w, _| {
        w.policies.policies.len() == 3
    })
    .await;
    let e = why(&world, "production/frontend", "production/database", 5432);
    assert!(e.allowed);
    assert!(
        e.ingress
            .allowed_by
            .as_ref()
            .is_some_and(|c| c.policy == "production/frontend-to-db"),
        "{:?}",
        e.ingress.allowed_by
    );

    // Modified: the frontend is relabelled and no longer matches.
    mock.apply(pod(
        "production",
        "frontend",
        json!({"app": "web"}),
        "10.1.0.10",
        &[("http", 8080)],
    ));
    let (world, _) = snapshot_where(&mut session, "relabelled frontend", |w, _| {
        w.inventory
            .pods
            .iter()
            .any(|p| p.name == "frontend" && p.labels.get("app").map(String::as_str) == Some("web"))
    })
    .await;
    assert!(!allowed(
        &world,
        "production/frontend",
        "production/database",
        5432
    ));

    // Deleted: without the default deny, the frontend's port 8080 on the backend opens.
    assert!(!allowed(
        &world,
        "production/frontend",
        "production/backend",
        8080
    ));
    mock.delete(Kind::NetworkPolicy, "production", "default-deny");
    let (world, _) = snapshot_where(&mut session, "default-deny gone", |w, _| {
        w.policies.policies.len() == 2
    })
    .await;
    assert!(allowed(
        &world,
        "production/frontend",
        "production/backend",
        8080
    ));

    // A pod that finished is no longer a pod policies apply to.
    let mut done = pod(
        "production",
        "backend",
        json!({"app": "backend"}),
        "10.1.0.11",
        &[],
    );
    done["status"]["phase"] = json!("Succeeded");
    mock.apply(done);
    let (world, _) = snapshot_where(&mut session, "backend finished", |w, _| {
        w.inventory.pods.len() == 3
    })
    .await;
    assert!(resolve_endpoint(
        &Index::build(
            world.inventory.clone(),
            world.policies.clone(),
            EngineOptions::default()
        ),
        "production/backend",
        None
    )
    .is_err());

    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bookmarks_move_the_point_a_watch_resumes_from() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, _, _) = live::open(&target(&config), WAIT).await.unwrap();
    wait_for_watches(&mock, 5).await;
    let before = lists(&mock, "/api/v1/pods");
    mock.bookmark();
    let bookmark = mock.resource_version().to_string();
    tokio::time::sleep(Duration::from_millis(200)).await;
    // The server ends its watches (as at its watch timeout); the client watches again from
    // the bookmark, without listing again.
    mock.end_watches();
    let deadline = tokio::time::Instant::now() + WAIT;
    loop {
        let resumed = mock.requests().iter().any(|r| {
            r.path == "/api/v1/pods"
                && r.is_watch()
                && r.query.get("resourceVersion") == Some(&bookmark)
        });
        if resumed {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "no watch resumed from bookmark {bookmark}: {:#?}",
            mock.requests()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(
        lists(&mock, "/api/v1/pods"),
        before,
        "a bookmark must spare a relist"
    );

    // And the resumed watch delivers.
    mock.apply(pod(
        "production",
        "cache",
        json!({"app": "cache"}),
        "10.1.0.13",
        &[],
    ));
    snapshot_where(&mut session, "the new pod", |w, _| {
        w.inventory.pods.iter().any(|p| p.name == "cache")
    })
    .await;
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gone_means_list_again() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, _, _) = live::open(&target(&config), WAIT).await.unwrap();
    wait_for_watches(&mock, 5).await;
    let before = lists(&mock, "/api/v1/pods");

    // Open watches are told their history is gone (etcd compaction); meanwhile a pod was
    // deleted that no watch reported.
    mock.end_watches();
    mock.delete(Kind::Pod, "production", "frontend");
    mock.compact(true);
    let (world, _) = snapshot_where(&mut session, "the relisted pods", |w, _| {
        !w.inventory.pods.iter().any(|p| p.name == "frontend")
    })
    .await;
    assert_eq!(world.inventory.pods.len(), 3);
    assert!(
        lists(&mock, "/api/v1/pods") > before,
        "410 must lead to a new list"
    );

    // A 410 on a watch that is open: the ERROR event, then a relist, and things go on.
    mock.compact(true);
    mock.apply(pod(
        "production",
        "frontend",
        json!({"app": "frontend"}),
        "10.1.0.10",
        &[],
    ));
    let (_, status) = snapshot_where(&mut session, "frontend back", |w, _| {
        w.inventory.pods.iter().any(|p| p.name == "frontend")
    })
    .await;
    live_again(&mut session, status).await;
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_cluster_wide_lists_fall_back_to_readable_namespaces() {
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.forbid(Kind::Pod, None);
    mock.forbid(Kind::NetworkPolicy, None);
    mock.forbid(Kind::Pod, Some("kube-system"));
    mock.forbid(Kind::NetworkPolicy, Some("kube-system"));
    mock.forbid(Kind::Node, None);
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();

    assert_eq!(
        session.access.pods,
        Scope::Namespaces(vec!["production".into()])
    );
    assert_eq!(
        session.access.policies,
        Scope::Namespaces(vec!["production".into()])
    );
    assert!(!session.access.nodes);
    let hidden = status.hidden.join("\n");
    assert!(hidden.contains("nodes (forbidden)"), "{hidden}");
    assert!(
        hidden.contains("pods in 1 namespace(s) (forbidden): kube-system"),
        "{hidden}"
    );
    assert!(
        hidden.contains("NetworkPolicies in 1 namespace(s) (forbidden): kube-system"),
        "{hidden}"
    );
    assert_eq!(world.inventory.pods.len(), 3, "only production's pods");
    assert!(!world.inventory.nodes_known);

    // What can be seen is still judged exactly.
    assert!(!allowed(
        &world,
        "production/frontend",
        "production/database",
        5432
    ));
    assert!(allowed(
        &world,
        "production/backend",
        "production/database",
        5432
    ));
    // From an address that may be the node (or a hidden pod): unknown, never a plain DENIED.
    let e = why(&world, "10.0.0.11", "production/database", 5432);
    assert!(!e.allowed);
    assert!(
        e.unknown
            .as_deref()
            .is_some_and(|u| u.contains("pod's own node")),
        "{:?}",
        e.unknown
    );

    // Watches run per namespace (namespaces, Services, pods and policies of production;
    // nodes are forbidden), and changes there arrive.
    wait_for_watches(&mock, 4).await;
    assert!(mock
        .requests()
        .iter()
        .any(|r| r.path == "/api/v1/namespaces/production/pods" && r.is_watch()));
    mock.apply(pod(
        "production",
        "worker",
        json!({"app": "worker"}),
        "10.1.0.14",
        &[],
    ));
    snapshot_where(&mut session, "worker", |w, _| {
        w.inventory.pods.iter().any(|p| p.name == "worker")
    })
    .await;
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_namespace_list_only_the_context_namespace_is_tried() {
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.forbid(Kind::Namespace, None);
    mock.forbid(Kind::Pod, None);
    mock.forbid(Kind::NetworkPolicy, None);
    let config = kubeconfig(&mock, &["mock"]);
    let t = Target {
        namespace: Some("production".into()),
        ..target(&config)
    };
    let (session, world, status) = live::open(&t, WAIT).await.unwrap();
    assert_eq!(
        session.access.pods,
        Scope::Namespaces(vec!["production".into()])
    );
    assert!(!session.access.namespaces);
    let hidden = status.hidden.join("\n");
    assert!(hidden.contains("namespace labels (forbidden)"), "{hidden}");
    assert!(
        hidden.contains("pods outside namespace(s) production"),
        "{hidden}"
    );
    // Namespaces are known by name only, with the label the API server guarantees.
    let prod = world
        .inventory
        .namespaces
        .iter()
        .find(|n| n.name == "production")
        .unwrap();
    assert!(prod.implicit);
    assert_eq!(
        prod.labels
            .get("kubernetes.io/metadata.name")
            .map(String::as_str),
        Some("production")
    );
    assert!(!prod.labels.contains_key("env"));
    drop(session);
    mock.assert_read_only();
}

/// This test binary's log (debug), started once: what a user would attach to a report.
fn test_log() -> &'static std::path::Path {
    static LOG: std::sync::OnceLock<(tempfile::TempDir, std::path::PathBuf)> =
        std::sync::OnceLock::new();
    &LOG.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("netpol-tui.log");
        netpol_tui::logging::init_to(
            &path,
            netpol_tui::logging::EnvFilter::new("netpol_tui=debug"),
        )
        .unwrap();
        (dir, path)
    })
    .1
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn disconnect_marks_stale_and_reconnect_catches_up() {
    let log = test_log();
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, _, _) = live::open(&target(&config), WAIT).await.unwrap();
    wait_for_watches(&mock, 5).await;

    mock.stop();
    let down = status_where(&mut session, "reconnecting", |s| {
        matches!(s.link, Link::Reconnecting { .. })
    })
    .await;
    assert!(down.is_stale());
    let Link::Reconnecting { error, .. } = &down.link else {
        unreachable!()
    };
    assert!(!error.is_empty());

    // While the server is away, the cluster changes.
    mock.apply(pod(
        "production",
        "late",
        json!({"app": "late"}),
        "10.1.0.20",
        &[],
    ));
    mock.restart().await;
    let (world, status) = snapshot_where(&mut session, "the pod added while away", |w, _| {
        w.inventory.pods.iter().any(|p| p.name == "late")
    })
    .await;
    assert_eq!(world.inventory.pods.len(), 5);
    let status = live_again(&mut session, status).await;
    assert!(!status.is_stale());
    assert!(status.synced_ms.is_some());
    drop(session);
    mock.assert_read_only();
    // The outage and the recovery are in the log, with the part that failed.
    let text = std::fs::read_to_string(log).unwrap();
    assert!(
        text.contains("WARN netpol_tui::cluster::live: list or watch failed; retrying part="),
        "{text}"
    );
    assert!(text.contains("again after a failure part="), "{text}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_errors_are_clear() {
    let mock = MockApi::start().await;
    let config = kubeconfig(&mock, &["mock"]);
    // Wrong credentials.
    let text = mock.kubeconfig(&["mock"]).replace(mockapi::TOKEN, "stolen");
    let mut bad = NamedTempFile::new().unwrap();
    bad.write_all(text.as_bytes()).unwrap();
    let err = live::open(&target(&bad), WAIT)
        .await
        .err()
        .expect("401 must fail");
    assert!(err.to_string().contains("unauthorized"), "{err}");

    // Unknown context.
    let t = Target {
        context: Some("nope".into()),
        ..target(&config)
    };
    let err = live::open(&t, WAIT).await.err().unwrap();
    assert_eq!(
        err.to_string(),
        "no context \"nope\" in the kubeconfig; there are: mock"
    );

    // Nobody listening.
    mock.stop();
    let err = live::open(&target(&config), WAIT).await.err().unwrap();
    assert!(
        err.to_string().starts_with(&format!(
            "cannot read from the API server {} (context mock): connection failed",
            mock.url()
        )),
        "{err}"
    );

    // A kubeconfig that is not one.
    let mut junk = NamedTempFile::new().unwrap();
    junk.write_all(b"clusters: [unclosed\n").unwrap();
    let err = live::open(&target(&junk), WAIT).await.err().unwrap();
    assert!(
        err.to_string()
            .starts_with(&format!("--kubeconfig {}:", junk.path().display())),
        "{err}"
    );
}

/// The mock's read-only check itself: a write is caught and fails the assertion.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_read_only_check_catches_writes() {
    use k8s_openapi::api::core::v1::ConfigMap;
    use kube::api::{Api, PostParams};
    let mock = MockApi::start().await;
    let config = kubeconfig(&mock, &["mock"]);
    let conn = live::connect(&target(&config)).await.unwrap();
    let api: Api<ConfigMap> = Api::namespaced(conn.client.clone(), "default");
    let _ = api
        .create(&PostParams::default(), &ConfigMap::default())
        .await;
    let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| mock.assert_read_only()));
    assert!(caught.is_err(), "a POST must fail the read-only assertion");
}

// ---- the binary against the mock ------------------------------------------------------

/// Runs the binary with `--kubeconfig config` off the runtime's threads (the mock server
/// runs on them): exit code, stdout, stderr.
async fn run(config: &NamedTempFile, args: &[&str]) -> (i32, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-netpol_tui"));
    cmd.arg("--kubeconfig")
        .arg(config.path())
        .args(args)
        .env("NO_COLOR", "1")
        .env("NETPOL_TUI_LOG", "off");
    let out = tokio::task::spawn_blocking(move || cmd.output().unwrap())
        .await
        .unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn commands_read_the_cluster_and_follow_changes() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);

    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/frontend",
            "--to",
            "production/database",
            "-p",
            "postgres",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("✗ DENIED  production/frontend → production/database  TCP/5432"),
        "{out}"
    );
    assert!(out.contains("database-netpol"), "{out}");

    mock.apply(policy(
        "production",
        "frontend-to-db",
        json!({
            "podSelector": {"matchLabels": {"app": "database"}},
            "ingress": [{"from": [{"podSelector": {"matchLabels": {"app": "frontend"}}}]}]
        }),
    ));
    let (code, out, _) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/frontend",
            "--to",
            "production/database",
            "-p",
            "5432",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("frontend-to-db"), "{out}");

    let (code, out, err) = run(
        &config,
        &["matrix", "-p", "5432", "-n", "production", "-o", "json"],
    )
    .await;
    assert_eq!(code, 0, "{err}");
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["production/frontend"]["production/database"], json!(true));
    assert_eq!(m["production/backend"]["production/database"], json!(true));
    assert_eq!(m["production/database"]["production/database"], json!(true));

    // `effective` without a pod uses the context's namespace (default), as kubectl does; the
    // context's namespace is overridden by -n.
    let (code, out, err) = run(&config, &["effective", "-n", "production", "-o", "json"]).await;
    assert_eq!(code, 0, "{err}");
    let list: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(list.as_array().map(Vec::len), Some(3));
    // Bare pod names are looked up in -n.
    let (code, _, err) = run(&config, &["-n", "production", "effective", "frontend"]).await;
    assert_eq!(code, 0, "{err}");

    let (code, out, err) = run(&config, &["status"]).await;
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("context:    mock"), "{out}");
    assert!(
        out.contains(&format!("server:     {}", mock.url())),
        "{out}"
    );
    assert!(
        out.contains("synced:     2 namespaces, 4 pods, 3 NetworkPolicies, 1 nodes, 0 Services in"),
        "{out}"
    );
    assert!(out.contains("visible:    everything"), "{out}");

    mock.forbid(Kind::Node, None);
    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "10.0.0.11",
            "--to",
            "production/backend",
            "-p",
            "8080",
        ],
    )
    .await;
    assert_eq!(code, 3, "unknown, not denied: {out}{err}");
    assert!(out.starts_with("? UNKNOWN"), "{out}");
    assert!(
        err.contains("warning: not visible: nodes (forbidden)"),
        "{err}"
    );

    mock.stop();
    let (code, _, err) = run(&config, &["status"]).await;
    assert_eq!(code, 2);
    assert!(
        err.starts_with("error: cannot read from the API server"),
        "{err}"
    );
    mock.assert_read_only();
}

/// The ClusterRole shipped for readers grants exactly what the client uses: get, list and
/// watch on the four kinds.
#[test]
fn the_shipped_reader_role_is_read_only_and_sufficient() {
    use serde::Deserialize;
    let text = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/deploy/reader-rbac.yaml"
    ))
    .unwrap();
    let mut granted = std::collections::BTreeSet::new();
    for doc in serde_yaml::Deserializer::from_str(&text) {
        let v = serde_yaml::Value::deserialize(doc).unwrap();
        if v["kind"].as_str() != Some("ClusterRole") {
            continue;
        }
        for rule in v["rules"].as_sequence().unwrap() {
            for verb in rule["verbs"].as_sequence().unwrap() {
                let verb = verb.as_str().unwrap();
                assert!(
                    ["get", "list", "watch"].contains(&verb),
                    "verb {verb} writes"
                );
            }
            for r in rule["resources"].as_sequence().unwrap() {
                granted.insert(r.as_str().unwrap().to_string());
            }
        }
    }
    let needed: std::collections::BTreeSet<String> = [
        "namespaces",
        "pods",
        "nodes",
        "services",
        "serviceaccounts",
        "endpointslices",
        "networkpolicies",
        "adminnetworkpolicies",
        "baselineadminnetworkpolicies",
        "clusternetworkpolicies",
        "ciliumnetworkpolicies",
        "ciliumclusterwidenetworkpolicies",
        "authorizationpolicies",
        "globalnetworkpolicies",
        "stagedkubernetesnetworkpolicies",
        "tiers",
        "tier.networkpolicies",
        "tier.globalnetworkpolicies",
        "stagednetworkpolicies",
        "stagedglobalnetworkpolicies",
        "networksets",
        "globalnetworksets",
        "hostendpoints",
    ]
    .iter()
    .map(|s| s.to_string())
    .collect();
    assert_eq!(granted, needed);
    // Cilium's agent configuration, for its host firewall: get, one ConfigMap, one namespace.
    let role = serde_yaml::Deserializer::from_str(&text)
        .map(|doc| serde_yaml::Value::deserialize(doc).unwrap())
        .find(|v| v["kind"].as_str() == Some("Role"))
        .expect("a Role for Cilium's configuration");
    assert_eq!(role["metadata"]["namespace"].as_str(), Some("kube-system"));
    let rules = role["rules"].as_sequence().unwrap();
    assert_eq!(rules.len(), 1);
    assert_eq!(rules[0]["resources"][0].as_str(), Some("configmaps"));
    assert_eq!(rules[0]["resourceNames"][0].as_str(), Some("cilium-config"));
    assert_eq!(rules[0]["verbs"].as_sequence().unwrap().len(), 1);
    assert_eq!(rules[0]["verbs"][0].as_str(), Some("get"));
}

/// Credentials from an exec plugin (as cloud providers' kubeconfigs use) reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn exec_credential_plugins_supply_the_token() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let credential = format!(
        r#"{{"apiVersion":"client.authentication.k8s.io/v1","kind":"ExecCredential","status":{{"token":"{}"}}}}"#,
        mockapi::TOKEN
    );
    let dir = tempfile::tempdir().unwrap();
    let plugin = dir.path().join("credential.sh");
    std::fs::write(
        &plugin,
        format!("#!/bin/sh\ncat <<'END'\n{credential}\nEND\n"),
    )
    .unwrap();
    let user = format!(
        "  user:\n    exec:\n      apiVersion: client.authentication.k8s.io/v1\n      command: /bin/sh\n      args: [{:?}]\n      interactiveMode: Never\n",
        plugin.display().to_string()
    );
    let text = mock
        .kubeconfig(&["mock"])
        .replace(&format!("  user:\n    token: {}\n", mockapi::TOKEN), &user);
    assert!(text.contains("exec:"), "{text}");
    let mut f = NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let (session, world, _) = live::open(&target(&f), WAIT).await.unwrap();
    assert_eq!(world.inventory.pods.len(), 4);
    drop(session);
    mock.assert_read_only();
}

/// HTTPS: the kubeconfig's CA is trusted, and a server the CA did not sign is refused with
/// words that say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_with_the_clusters_ca() {
    let mock = MockApi::start_tls().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    assert!(mock.url().starts_with("https://"));
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(world.inventory.pods.len(), 4);
    assert_eq!(status.server, mock.url());
    drop(session);

    // Another CA: the client must refuse to talk.
    let other = MockApi::start_tls().await;
    let text = mock
        .kubeconfig(&["mock"])
        .replace(&mock.url(), &other.url());
    let mut f = NamedTempFile::new().unwrap();
    f.write_all(text.as_bytes()).unwrap();
    let err = live::open(&target(&f), WAIT)
        .await
        .err()
        .expect("an unknown CA must fail");
    let text = err.to_string();
    assert!(
        text.contains("connection failed") && text.to_lowercase().contains("certificate"),
        "{text}"
    );
    assert!(
        other.requests().is_empty(),
        "no request may pass an untrusted TLS handshake"
    );
    mock.assert_read_only();
}

/// `trace --agent` on a cluster: flows are annotated with the cluster as the watch sees it,
/// so a pod created after the trace started is named in the flows that follow.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_follows_the_cluster_while_annotating_agent_flows() {
    use futures::SinkExt;
    use netpol_tui::flow::wire::{self, Frame, Hello};
    use netpol_tui::flow::{Datapath, FlowEvent};

    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    // A scripted agent: one flow to an address no pod has yet, then the same flow again once
    // the test has created a pod with that address.
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (again_tx, again_rx) = tokio::sync::oneshot::channel::<()>();
    let agent = tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
        let flow = FlowEvent {
            time_ms: 1_795_348_800_000,
            src: "10.1.0.10".parse().unwrap(),
            dst: "10.1.0.20".parse().unwrap(),
            protocol: Protocol::Tcp,
            src_port: 40000,
            dst_port: 8080,
            datapath: Datapath::Dropped {
                reason: "NETFILTER_DROP".into(),
            },
        };
        let hello = Frame::Hello(Hello {
            node: "node-1".into(),
            kernel: "6.18".into(),
            ring_bytes: 4096,
        });
        out.send(wire::encode(&hello)).await.unwrap();
        out.send(wire::encode(&Frame::Flows(vec![flow.clone()])))
            .await
            .unwrap();
        again_rx.await.unwrap();
        out.send(wire::encode(&Frame::Flows(vec![flow])))
            .await
            .unwrap();
        // Held open until the trace ends.
        tokio::time::sleep(Duration::from_secs(10)).await;
    });
    let trace = {
        let addr = addr.clone();
        tokio::spawn(async move {
            run(
                &config,
                &["trace", "--agent", &addr, "-o", "json", "--duration", "6"],
            )
            .await
        })
    };
    tokio::time::sleep(Duration::from_millis(1500)).await;
    mock.apply(pod(
        "production",
        "newcomer",
        json!({"app": "newcomer"}),
        "10.1.0.20",
        &[("http", 8080)],
    ));
    // The watch event, the cache's quiet window, and the snapshot.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    again_tx.send(()).unwrap();
    let (code, out, err) = trace.await.unwrap();
    agent.abort();
    assert_eq!(code, 0, "{out}{err}");
    let rows: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(rows.len(), 2, "{out}{err}");
    assert_eq!(rows[0]["dst"], "10.1.0.20", "{out}");
    assert_eq!(rows[1]["dst"], "production/newcomer", "{out}");
    assert_eq!(rows[1]["outcome"], "blocked_by_policy", "{out}");
    assert_eq!(
        rows[1]["policies"],
        json!(["production/default-deny"]),
        "{out}"
    );
    assert!(err.contains("agent on node node-1"), "{err}");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calicos_staged_policies_are_read_where_served() {
    use mockapi::objects::staged;
    // Not served: one discovery request, nothing else, nothing hidden.
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(world.staged.is_empty());
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert_eq!(session.access.staged, None);
    drop(session);

    // Served: the staged objects are the world's staged changes, and follow the watch.
    mock.serve_calico();
    mock.apply(staged(
        "production",
        "default-deny-egress",
        "Set",
        json!({"podSelector": {}, "policyTypes": ["Egress"]}),
    ));
    let (mut session, world, _) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(session.access.staged, Some(Scope::Cluster));
    let labels: Vec<String> = world.staged.iter().map(|s| s.label()).collect();
    assert_eq!(labels, ["+ production/default-deny-egress"]);
    assert!(world.staged[0].from_source);
    wait_for_watches(&mock, 6).await;
    mock.apply(staged("production", "database-netpol", "Delete", json!({})));
    let (world, _) = snapshot_where(&mut session, "the staged removal", |w, _| {
        w.staged.len() == 2
    })
    .await;
    assert!(world
        .staged
        .iter()
        .any(|s| s.label() == "- production/database-netpol"));
    drop(session);

    // The audit command judges them: removing the database's policy opens nothing that the
    // default-deny does not close again; the egress default-deny breaks the frontend's calls.
    let (code, out, err) = run(&config, &["audit", "-o", "json"]).await;
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    let effects: Vec<&str> = v["staged"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["effect"].as_str().unwrap())
        .collect();
    // In the order of their namespace and name.
    assert_eq!(effects, ["removed", "added"]);
    assert!(v["declared"]
        .as_array()
        .unwrap()
        .iter()
        .any(|d| d["from"] == "production/frontend" && d["change"] == "would_break"));

    // Calico's own staged kinds are staged changes too: a staged global default-deny of
    // the database's ingress, judged with the rest.
    mock.apply(mockapi::objects::staged_calico_global(
        "lock-database",
        "Set",
        json!({"selector": "app == 'database'", "types": ["Ingress"]}),
    ));
    let (session, world, _) = live::open(&target(&config), WAIT).await.unwrap();
    let labels: Vec<String> = world.staged.iter().map(|s| s.label()).collect();
    assert!(
        labels
            .iter()
            .any(|l| l.contains("projectcalico.org/GlobalNetworkPolicy/lock-database")),
        "{labels:?}"
    );
    drop(session);
    let (code, out, err) = run(&config, &["audit", "-o", "json"]).await;
    assert_eq!(code, 1, "{out}{err}");
    let v: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert!(
        v["declared"]
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["to"] == "production/database" && d["change"] == "would_break"),
        "{out}"
    );
    mock.forbid(Kind::StagedCalicoGlobalPolicy, None);
    let (_, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(world
        .staged
        .iter()
        .all(|s| !s.label().contains("lock-database")));
    assert!(
        status.hidden.iter().any(|h| h
            == "Calico stagedglobalnetworkpolicies (projectcalico.org, forbidden cluster-wide): \
                audit mode does not see the changes they stage"),
        "{:?}",
        status.hidden
    );

    // Forbidden everywhere: named among what is not visible.
    mock.forbid(Kind::StagedPolicy, None);
    mock.forbid(Kind::StagedPolicy, Some("default"));
    mock.forbid(Kind::StagedPolicy, Some("production"));
    mock.forbid(Kind::StagedPolicy, Some("kube-system"));
    let (_, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(world.staged.is_empty());
    assert!(
        status.hidden.iter().any(|h| h.starts_with(
            "staged policies (StagedKubernetesNetworkPolicy) in 2 namespace(s) (forbidden)"
        )),
        "{:?}",
        status.hidden
    );
    mock.assert_read_only();
}

// ---- narrow rights: unknown, never a guess -----------------------------------------------

/// A namespace selector across namespaces: `production` admits from namespaces labelled
/// `environment: prod`, and `production` itself is one of them.
fn labelled_cluster(mock: &MockApi) {
    cluster(mock);
    mock.apply(namespace(
        "production",
        json!({"env": "prod", "environment": "prod"}),
    ));
    mock.apply(policy(
        "production",
        "from-prod-namespaces",
        json!({
            "podSelector": {"matchLabels": {"app": "database"}},
            "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"environment": "prod"}}}],
                         "ports": [{"port": 5432}]}]
        }),
    ));
}

const FRONTEND_TO_DB: [&str; 6] = [
    "explain",
    "--from",
    "production/frontend",
    "--to",
    "production/database",
    "-p",
];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_namespace_labels_give_unknown_not_denied() {
    let mock = MockApi::start().await;
    labelled_cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let explain: Vec<&str> = FRONTEND_TO_DB.iter().copied().chain(["5432"]).collect();
    // Who may read everything: allowed, by the namespace selector.
    let (code, out, err) = run(&config, &explain).await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("from-prod-namespaces"), "{out}");

    // Pods and policies of production only; namespaces forbidden.
    mock.forbid(Kind::Namespace, None);
    mock.forbid(Kind::Pod, None);
    mock.forbid(Kind::NetworkPolicy, None);
    mock.forbid(Kind::Node, None);
    let narrow: Vec<&str> = ["-n", "production"].into_iter().chain(explain).collect();
    let (code, out, err) = run(&config, &narrow).await;
    assert_eq!(code, 3, "unknown, not denied: {out}{err}");
    assert!(out.starts_with("? UNKNOWN"), "{out}");
    assert!(out.contains("cannot be read"), "{out}");
    assert!(
        !out.contains("has no label environment"),
        "a false reason: {out}"
    );
    assert!(
        err.contains("namespace labels (forbidden)"),
        "said on stderr: {err}"
    );

    // The matrix says which cells are unknown: `?`, null in JSON, `unknown` in CSV.
    let (code, out, err) = run(&config, &["-n", "production", "matrix", "-p", "5432"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("? unknown"), "{out}");
    assert!(err.contains("the labels of namespaces production"), "{err}");
    let (code, out, _) = run(
        &config,
        &["-n", "production", "matrix", "-p", "5432", "-o", "json"],
    )
    .await;
    assert_eq!(code, 3);
    let m: serde_json::Value = serde_json::from_str(&out).unwrap();
    assert_eq!(m["production/frontend"]["production/database"], json!(null));
    // The backend is admitted by a pod selector, which needs no namespace labels.
    assert_eq!(m["production/backend"]["production/database"], json!(true));
    let (_, out, _) = run(
        &config,
        &["-n", "production", "matrix", "-p", "5432", "-o", "csv"],
    )
    .await;
    assert!(out.contains(",unknown"), "{out}");

    // `effective` counts the pods a namespace selector may match as unknown.
    let (code, out, err) = run(&config, &["-n", "production", "effective", "database"]).await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.contains("3 more pods unknown"), "{out}");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unreadable_policies_of_a_namespace_give_unknown() {
    let mock = MockApi::start().await;
    cluster(&mock);
    // Pods everywhere; NetworkPolicies of production only.
    mock.forbid(Kind::NetworkPolicy, None);
    mock.forbid(Kind::NetworkPolicy, Some("kube-system"));
    let config = kubeconfig(&mock, &["mock"]);
    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/frontend",
            "--to",
            "kube-system/coredns",
            "-p",
            "53",
            "--protocol",
            "UDP",
        ],
    )
    .await;
    assert_eq!(code, 3, "kube-system's policies are unknown: {out}{err}");
    assert!(
        out.contains("the NetworkPolicies of namespace kube-system could not be read"),
        "{out}"
    );
    // Production's own verdicts stay definite.
    let explain: Vec<&str> = FRONTEND_TO_DB.iter().copied().chain(["5432"]).collect();
    let (code, out, _) = run(&config, &explain).await;
    assert_eq!(code, 1, "{out}");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forbidden_nodes_are_named_as_unreadable() {
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.forbid(Kind::Node, None);
    let config = kubeconfig(&mock, &["mock"]);
    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "node/node-1",
            "--to",
            "production/backend",
            "-p",
            "8080",
        ],
    )
    .await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("nodes cannot be read"), "{err}");
    assert!(!err.contains("no node named"), "{err}");
    // An address: a node, or a pod that could not be read, both named; no rule line says
    // "is not a pod".
    let (code, out, _) = run(
        &config,
        &[
            "explain",
            "--from",
            "10.0.0.11",
            "--to",
            "production/database",
            "-p",
            "5432",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}");
    assert!(out.contains("pod's own node"), "{out}");
    assert!(!out.contains("is not a pod"), "{out}");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nothing_readable_says_what_is_needed() {
    let mock = MockApi::start().await;
    cluster(&mock);
    for kind in [Kind::Namespace, Kind::Node, Kind::Pod, Kind::NetworkPolicy] {
        mock.forbid(kind, None);
    }
    for ns in ["default", "production", "kube-system"] {
        mock.forbid(Kind::Pod, Some(ns));
        mock.forbid(Kind::NetworkPolicy, Some(ns));
    }
    let config = kubeconfig(&mock, &["mock"]);
    let (code, _, err) = run(&config, &["status"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(err.contains("nothing could be read"), "{err}");
    assert!(err.contains("deploy/reader-rbac.yaml"), "{err}");
    assert!(
        err.contains("get, list and watch on namespaces, nodes, pods and networkpolicies"),
        "{err}"
    );
    assert!(!err.contains("the connection ended"), "{err}");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_ends_commands_with_the_reason() {
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.hang(true);
    let config = kubeconfig(&mock, &["mock"]);
    let started = std::time::Instant::now();
    let (code, _, err) = run(&config, &["--request-timeout", "2", "status"]).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains(&format!(
            "no answer from the API server {} (context mock) within 2 s",
            mock.url()
        )),
        "{err}"
    );
    assert!(started.elapsed() < WAIT, "it gave up in time");
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_carry_the_user_agent() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (code, _, err) = run(&config, &["status"]).await;
    assert_eq!(code, 0, "{err}");
    let requests = mock.requests();
    assert!(!requests.is_empty());
    let expected = format!("netpol-tui/{}", env!("CARGO_PKG_VERSION"));
    for r in &requests {
        assert_eq!(r.user_agent.as_deref(), Some(expected.as_str()), "{r:?}");
    }
    mock.assert_read_only();
}

// ---- cluster-scoped tiers -----------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn admin_network_policies_are_read_and_followed_where_served() {
    use mockapi::objects::admin_policy;
    // Not served: two discovery requests, nothing hidden, verdicts as before.
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(session.access.tier_kinds.is_empty());
    assert!(session.access.tiers_known);
    assert!(world.policies.tiers.is_empty());
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert!(allowed(
        &world,
        "production/backend",
        "production/database",
        5432
    ));
    drop(session);

    // Served: an admin Deny overrides the NetworkPolicy that admits the backend; a change
    // of the admin policy reaches the verdict through the watch.
    mock.serve_policy_api();
    let deny = |action: &str| {
        admin_policy(
            "guard-database",
            json!({
                "priority": 5,
                "subject": {"pods": {"namespaceSelector": {}, "podSelector": {"matchLabels": {"app": "database"}}}},
                "ingress": [{"name": "no-one", "action": action, "from": [{"namespaces": {}}]}]
            }),
        )
    };
    mock.apply(deny("Deny"));
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(
        session.access.tier_kinds,
        [
            "adminnetworkpolicies",
            "baselineadminnetworkpolicies",
            "clusternetworkpolicies"
        ]
    );
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    let e = why(&world, "production/backend", "production/database", 5432);
    assert!(!e.allowed);
    let cite = e.ingress.decided_by.expect("the admin tier decides");
    assert_eq!(cite.policy, "AdminNetworkPolicy/guard-database");
    // Namespaces, nodes, pods, NetworkPolicies and the three tier kinds.
    wait_for_watches(&mock, 8).await;
    mock.apply(deny("Pass"));
    let (world, _) = snapshot_where(&mut session, "the Pass", |w, _| {
        w.policies.tiers.iter().any(|t| {
            t.ingress
                .first()
                .is_some_and(|r| r.action == netpol_tui::policy::tiers::Action::Pass)
        })
    })
    .await;
    assert!(allowed(
        &world,
        "production/backend",
        "production/database",
        5432
    ));
    drop(session);

    // The command line says which tier decided.
    mock.apply(deny("Deny"));
    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/backend",
            "--to",
            "production/database",
            "-p",
            "5432",
        ],
    )
    .await;
    assert_eq!(code, 1, "{out}{err}");
    assert!(
        out.contains("denied by AdminNetworkPolicy/guard-database (admin tier,"),
        "{out}"
    );

    // Served but forbidden: such a policy may decide anything, so every verdict is unknown.
    mock.forbid(Kind::AdminPolicy, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!session.access.tiers_known);
    assert!(!world.policies.tiers_known);
    let hidden = status.hidden.join("\n");
    assert!(
        hidden.contains(
            "adminnetworkpolicies (forbidden): these cluster-scoped policies may decide any \
             flow, so every verdict is unknown"
        ),
        "{hidden}"
    );
    let e = why(&world, "production/backend", "production/database", 5432);
    assert!(!e.allowed);
    let unknown = e.unknown.expect("unknown, not a guess");
    assert!(unknown.contains("could not be read"), "{unknown}");
    drop(session);
    let (code, out, err) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/backend",
            "--to",
            "production/database",
            "-p",
            "5432",
        ],
    )
    .await;
    assert_eq!(code, 3, "{out}{err}");
    assert!(out.starts_with("? UNKNOWN"), "{out}");
    mock.assert_read_only();
}

// ---- Cilium's policies -----------------------------------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cilium_policies_are_read_and_followed_where_served() {
    use mockapi::objects::{cilium_clusterwide, cilium_policy};
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_cilium();
    // A clusterwide deny of the database port from the backend: it wins over the
    // NetworkPolicy that admits it.
    mock.apply(cilium_clusterwide(
        "no-db",
        json!({
            "endpointSelector": {"matchLabels": {"app": "database"}},
            "ingressDeny": [{"fromEndpoints": [{"matchLabels": {"app": "backend"}}]}]
        }),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(
        session.access.cilium_kinds,
        ["ciliumnetworkpolicies", "ciliumclusterwidenetworkpolicies"]
    );
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    let e = why(&world, "production/backend", "production/database", 5432);
    assert!(!e.allowed);
    let cite = e.ingress.decided_by.expect("the Cilium tier decides");
    assert_eq!(cite.policy, "CiliumClusterwideNetworkPolicy/no-db");
    // Namespaces, nodes, pods, NetworkPolicies and the two Cilium kinds.
    wait_for_watches(&mock, 7).await;
    // A namespaced policy arrives through the watch, with its L7 rules.
    mock.apply(cilium_policy(
        "production",
        "l7",
        json!({
            "endpointSelector": {"matchLabels": {"app": "backend"}},
            "ingress": [{"toPorts": [{"ports": [{"port": "8080", "protocol": "TCP"}],
                "rules": {"http": [{"method": "GET"}]}}]}]
        }),
    ));
    let (world, _) = snapshot_where(&mut session, "the CiliumNetworkPolicy", |w, _| {
        w.policies.policies.iter().any(|p| p.name == "l7")
    })
    .await;
    let p = world
        .policies
        .policies
        .iter()
        .find(|p| p.name == "l7")
        .unwrap();
    assert_eq!(p.key(), "CiliumNetworkPolicy/production/l7");
    let e = why(&world, "production/frontend", "production/backend", 8080);
    assert!(
        e.allowed,
        "the NetworkPolicies admit it; the L7 rule adds a filter"
    );
    drop(session);

    // Served but forbidden: Cilium's policies may decide anything, so every verdict is
    // unknown.
    mock.forbid(Kind::CiliumClusterwidePolicy, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!session.access.tiers_known);
    assert!(!world.policies.tiers_known);
    let hidden = status.hidden.join("\n");
    assert!(
        hidden.contains("ciliumclusterwidenetworkpolicies (forbidden"),
        "{hidden}"
    );
    let e = why(&world, "production/frontend", "production/backend", 8080);
    assert!(!e.allowed);
    assert!(e.unknown.is_some(), "unknown, not a guess");
    drop(session);
    mock.assert_read_only();
}

/// Host policies act where Cilium's host firewall is on, which the agents' configuration
/// (kube-system/cilium-config) says; where it is not there or cannot be read, what they would
/// decide is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cilium_host_firewall_is_read_from_the_agents_configuration() {
    use mockapi::objects::cilium_clusterwide;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_cilium();
    mock.apply(cilium_clusterwide(
        "ssh-only",
        json!({
            "nodeSelector": {},
            "ingress": [{"fromEntities": ["world"],
                "toPorts": [{"ports": [{"port": "22", "protocol": "TCP"}]}]}]
        }),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let mut answers = Vec::new();
    for (setting, firewall) in [
        (None, None),
        (Some("true"), Some(true)),
        (Some("false"), Some(false)),
        (Some("forbidden"), None),
    ] {
        match setting {
            Some("forbidden") => mock.forbid_config_maps(true),
            Some(value) => mock.config_map(
                "kube-system",
                "cilium-config",
                &[("enable-host-firewall", value), ("cluster-name", "default")],
            ),
            None => {}
        }
        let (session, world, _) = live::open(&target(&config), WAIT).await.unwrap();
        assert_eq!(session.access.cilium_host_firewall, firewall, "{setting:?}");
        assert_eq!(world.policies.cilium_host_firewall, firewall, "{setting:?}");
        let open = why(&world, "203.0.113.9", "10.0.0.11", 22);
        let closed = why(&world, "203.0.113.9", "10.0.0.11", 80);
        answers.push((setting, open.verdict.decision(), closed.verdict.decision()));
        if firewall.is_none() {
            let reason = closed.unknown.expect("a reason");
            assert!(reason.contains("--cilium-host-firewall"), "{reason}");
        }
        drop(session);
    }
    use netpol_tui::policy::Decision::{Allowed, Denied, Unknown};
    assert_eq!(
        answers,
        [
            (None, Unknown, Unknown),
            (Some("true"), Allowed, Denied),
            (Some("false"), Allowed, Allowed),
            (Some("forbidden"), Unknown, Unknown),
        ]
    );
    let gets = mock
        .requests()
        .iter()
        .filter(|r| r.path == "/api/v1/namespaces/kube-system/configmaps/cilium-config")
        .count();
    assert_eq!(gets, 4, "read once per session");
    mock.assert_read_only();
}

/// Calico's service account selectors match ServiceAccounts' labels: read cluster-wide
/// where Calico's policies are, followed by the watch; forbidden, said, and what they
/// decide is unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn service_accounts_are_read_for_calicos_selectors() {
    use mockapi::objects::calico_policy;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_calico();
    let mut frontend = pod(
        "production",
        "frontend",
        json!({"app": "frontend"}),
        "10.1.0.10",
        &[("http", 8080)],
    );
    frontend["spec"]["serviceAccountName"] = json!("web");
    mock.apply(frontend);
    let account = |name: &str, role: &str| {
        json!({"apiVersion": "v1", "kind": "ServiceAccount",
               "metadata": {"name": name, "namespace": "production", "labels": {"role": role}}})
    };
    mock.apply(account("web", "frontend"));
    mock.apply(calico_policy(
        "production",
        "backend-from-frontends",
        json!({"selector": "app == 'backend'", "order": 10,
               "ingress": [{"action": "Allow",
                            "source": {"serviceAccounts": {"selector": "role == 'frontend'"}}}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(session.access.service_accounts);
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert!(why(&world, "production/frontend", "production/backend", 8080).allowed);
    // The account's labels change: the watch follows.
    mock.apply(account("web", "batch"));
    let (world, _) = snapshot_where(&mut session, "the relabelled ServiceAccount", |w, _| {
        w.inventory
            .service_accounts
            .iter()
            .any(|a| a.labels.get("role").map(String::as_str) == Some("batch"))
    })
    .await;
    assert!(!why(&world, "production/frontend", "production/backend", 8080).allowed);
    drop(session);

    mock.forbid(Kind::ServiceAccount, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!session.access.service_accounts);
    let hidden = status.hidden.join("\n");
    assert!(
        hidden.contains("serviceaccounts (forbidden cluster-wide)"),
        "{hidden}"
    );
    let e = why(&world, "production/frontend", "production/backend", 8080);
    assert!(!e.allowed);
    let reason = e.unknown.expect("unknown, not a guess");
    assert!(
        reason.contains("service account production/web were not read"),
        "{reason}"
    );
    drop(session);
    mock.assert_read_only();
}

/// Cilium's toServices allows the endpoints of a Service without a selector: its
/// EndpointSlices are read where Cilium's policies are (only those the EndpointSlice
/// controller does not make, by label selector), and followed by the watch. Where they are
/// forbidden, what the rule allows outside the cluster is unknown, saying why.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slices_are_read_for_ciliums_to_services() {
    use mockapi::objects::cilium_policy;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_cilium();
    mock.apply(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "payments", "namespace": "production"},
        "spec": {"ports": [{"port": 443}]}}));
    let slice = |name: &str, ip: &str, managed_by: &str| {
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
            "metadata": {"name": name, "namespace": "production",
                "labels": {"kubernetes.io/service-name": "payments",
                           "endpointslice.kubernetes.io/managed-by": managed_by}},
            "addressType": "IPv4",
            "endpoints": [{"addresses": [ip]}]})
    };
    mock.apply(slice("payments-1", "203.0.113.10", "staff"));
    // A slice the controller made is never asked for (none belongs to a Service without a
    // selector; this one is here only to show the selector at work).
    mock.apply(slice(
        "payments-x",
        "203.0.113.99",
        "endpointslice-controller.k8s.io",
    ));
    mock.apply(cilium_policy(
        "production",
        "backend-to-payments",
        json!({"endpointSelector": {"matchLabels": {"app": "backend"}},
               "egress": [{"toServices": [{"k8sService":
                   {"serviceName": "payments", "namespace": "production"}}]}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (mut session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(session.access.endpoint_slices);
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert!(allowed(&world, "production/backend", "203.0.113.10", 443));
    let e = why(&world, "production/backend", "203.0.113.99", 443);
    assert!(!e.allowed && e.unknown.is_none(), "{:?}", e.unknown);
    let asked = mock
        .requests()
        .into_iter()
        .filter(|r| r.path.contains("endpointslices"))
        // Past the one-object probe of access: the lists and watches.
        .filter(|r| r.query.get("limit").map(String::as_str) != Some("1"))
        .collect::<Vec<_>>();
    assert!(!asked.is_empty());
    for r in &asked {
        assert_eq!(
            r.query.get("labelSelector").map(String::as_str),
            Some("endpointslice.kubernetes.io/managed-by!=endpointslice-controller.k8s.io"),
            "{r:?}"
        );
    }
    // The endpoint moves: the watch follows.
    mock.apply(slice("payments-1", "203.0.113.11", "staff"));
    let (world, _) = snapshot_where(&mut session, "the moved endpoint", |w, _| {
        w.inventory.services.iter().any(|s| {
            s.endpoints
                .as_ref()
                .is_some_and(|e| e.ready == ["203.0.113.11".parse::<std::net::IpAddr>().unwrap()])
        })
    })
    .await;
    assert!(allowed(&world, "production/backend", "203.0.113.11", 443));
    assert!(!allowed(&world, "production/backend", "203.0.113.10", 443));
    drop(session);

    mock.forbid(Kind::EndpointSlice, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!session.access.endpoint_slices);
    let hidden = status.hidden.join("\n");
    assert!(
        hidden.contains("endpointslices (discovery.k8s.io, forbidden cluster-wide)"),
        "{hidden}"
    );
    let e = why(&world, "production/backend", "203.0.113.11", 443);
    assert!(!e.allowed);
    let reason = e.unknown.expect("unknown, not a guess");
    assert!(
        reason.contains("the endpoints of Service production/payments (no selector) were not read"),
        "{reason}"
    );
    drop(session);
    mock.assert_read_only();
}

/// Where Calico's policies are read (and Cilium's are not), EndpointSlices are read too, for
/// `services`: a flow to the Service's endpoint at its port is allowed, one to another port or
/// address is not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_slices_are_read_for_calicos_services() {
    use mockapi::objects::calico_policy;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_calico();
    mock.apply(json!({"apiVersion": "v1", "kind": "Service",
        "metadata": {"name": "kubernetes", "namespace": "production"},
        "spec": {"ports": [{"port": 443}]}}));
    mock.apply(
        json!({"apiVersion": "discovery.k8s.io/v1", "kind": "EndpointSlice",
        "metadata": {"name": "kubernetes", "namespace": "production",
            "labels": {"kubernetes.io/service-name": "kubernetes"}},
        "addressType": "IPv4", "endpoints": [{"addresses": ["192.0.2.1"]}],
        "ports": [{"port": 6443, "protocol": "TCP"}]}),
    );
    mock.apply(calico_policy(
        "production",
        "backend-to-apiserver",
        json!({"selector": "app == 'backend'", "types": ["Egress"],
               "egress": [{"action": "Allow", "protocol": "TCP",
                           "destination": {"services": {"name": "kubernetes"}}}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(session.access.endpoint_slices);
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    assert!(allowed(&world, "production/backend", "192.0.2.1", 6443));
    for (to, port) in [("192.0.2.1", 443), ("192.0.2.2", 6443)] {
        let e = why(&world, "production/backend", to, port);
        assert!(
            !e.allowed && e.unknown.is_none(),
            "{to}:{port} {:?}",
            e.unknown
        );
    }
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calico_policies_are_judged_where_served() {
    use mockapi::objects::calico_policy;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_calico();
    mock.apply(calico_policy(
        "production",
        "db",
        json!({"selector": "app == 'database'", "order": 10,
               "ingress": [{"action": "Deny", "source": {"selector": "app == 'backend'"}}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(
        session.access.calico_kinds,
        [
            "networkpolicies",
            "globalnetworkpolicies",
            "tiers",
            "stagednetworkpolicies",
            "stagedglobalnetworkpolicies",
            "networksets",
            "globalnetworksets",
            "hostendpoints"
        ]
    );
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    // The database's ingress is selected by a Calico policy of order 10, which denies the
    // backend before any NetworkPolicy is consulted.
    let e = why(&world, "production/backend", "production/database", 5432);
    assert!(!e.allowed);
    assert!(e.unknown.is_none(), "{:?}", e.unknown);
    let by = e
        .ingress
        .decided_by
        .as_ref()
        .expect("a Calico rule decides");
    assert_eq!(by.policy, "projectcalico.org/NetworkPolicy/production/db");
    assert_eq!(by.order.as_deref(), Some("10"));
    // A pod it does not select keeps its verdict.
    assert!(allowed(
        &world,
        "production/backend",
        "kube-system/coredns",
        53
    ));
    drop(session);
    mock.forbid(Kind::CalicoGlobalPolicy, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!world.policies.tiers_known);
    assert!(
        status
            .hidden
            .join("\n")
            .contains("Calico globalnetworkpolicies"),
        "{:?}",
        status.hidden
    );
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calico_tiers_place_their_policies_where_they_can_be_read() {
    use mockapi::objects::{calico_global, calico_tier};
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_calico();
    mock.apply(calico_tier("security", json!({"order": 100})));
    mock.apply(calico_global(
        "security.db-lockdown",
        json!({"tier": "security", "selector": "app == 'database'",
               "ingress": [{"action": "Allow", "source": {"selector": "app == 'frontend'"}}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(
        session.access.calico_kinds,
        [
            "networkpolicies",
            "globalnetworkpolicies",
            "tiers",
            "stagednetworkpolicies",
            "stagedglobalnetworkpolicies",
            "networksets",
            "globalnetworksets",
            "hostendpoints"
        ]
    );
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    // The security tier (order 100) goes before everything else and selects the database:
    // what its rules do not allow is denied at its end, whatever NetworkPolicy says.
    let e = why(&world, "production/backend", "production/database", 5432);
    assert!(!e.allowed);
    assert!(e.unknown.is_none(), "{:?}", e.unknown);
    let end = e
        .ingress
        .end_of_tier
        .as_ref()
        .expect("denied at the tier's end");
    assert_eq!(end.tier.as_ref().map(|t| t.name.as_str()), Some("security"));
    assert_eq!(
        end.selecting,
        ["projectcalico.org/GlobalNetworkPolicy/security.db-lockdown"]
    );
    drop(session);

    // Tiers that cannot be read: the tier's policies cannot be placed, so what they may
    // decide is unknown, and said; the rest is still judged.
    mock.forbid(Kind::CalicoTier, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(
        session.access.calico_kinds,
        [
            "networkpolicies",
            "globalnetworkpolicies",
            "stagednetworkpolicies",
            "stagedglobalnetworkpolicies",
            "networksets",
            "globalnetworksets",
            "hostendpoints"
        ]
    );
    assert!(world.policies.tiers_known);
    assert!(
        status.hidden.join("\n").contains(
            "Calico tiers (projectcalico.org, forbidden cluster-wide): policies of tiers other \
             than default cannot be placed, so verdicts they may decide are unknown"
        ),
        "{:?}",
        status.hidden
    );
    let e = why(&world, "production/backend", "production/database", 5432);
    let unknown = e.unknown.expect("unknown, not a guess");
    assert!(
        unknown.contains("no Tier object of that name was read"),
        "{unknown}"
    );
    assert!(allowed(
        &world,
        "production/backend",
        "kube-system/coredns",
        53
    ));
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn calico_network_sets_are_read_where_served() {
    use mockapi::objects::{calico_global, calico_global_set};
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_calico();
    mock.apply(calico_global_set(
        "partners",
        json!({"role": "partner"}),
        &["203.0.113.0/24"],
    ));
    mock.apply(calico_global(
        "db-from-partners",
        json!({"selector": "app == 'database'",
               "ingress": [{"action": "Allow", "source": {"selector": "role == 'partner'"}}]}),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    // The partner's address is in the set the selector matches: allowed after the
    // NetworkPolicies; another outside address is in no set: denied.
    assert!(allowed(&world, "203.0.113.7", "production/database", 5432));
    let e = why(&world, "198.51.100.9", "production/database", 5432);
    assert!(!e.allowed);
    assert!(e.unknown.is_none(), "{:?}", e.unknown);
    drop(session);

    // GlobalNetworkSets that cannot be read: an address no known set holds may be one's.
    mock.forbid(Kind::CalicoGlobalNetworkSet, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert!(!world.policies.calico_sets_known);
    assert!(
        status.hidden.join("\n").contains(
            "Calico globalnetworksets (projectcalico.org, forbidden cluster-wide): whether a \
             Calico selector matches an address that is no pod's is unknown"
        ),
        "{:?}",
        status.hidden
    );
    let e = why(&world, "198.51.100.9", "production/database", 5432);
    let unknown = e.unknown.expect("unknown, not a guess");
    assert!(
        unknown.contains("NetworkSets, GlobalNetworkSets and HostEndpoints could not all be read"),
        "{unknown}"
    );
    drop(session);
    mock.assert_read_only();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn istio_authorization_policies_are_shown_where_served() {
    use mockapi::objects::authorization_policy;
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.serve_istio();
    mock.apply(authorization_policy(
        "production",
        "backend-authz",
        json!({
            "selector": {"matchLabels": {"app": "backend"}},
            "action": "ALLOW",
            "rules": [{"from": [{"source": {"principals": ["cluster.local/ns/production/sa/frontend"]}}],
                       "to": [{"operation": {"methods": ["GET"]}}]}]
        }),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(session.access.istio, Some("v1"));
    assert!(status.hidden.is_empty(), "{:?}", status.hidden);
    let e = why(&world, "production/frontend", "production/backend", 8080);
    assert!(
        e.notes.iter().any(|n| n.contains(
            "Istio authorization also applies to production/backend (shown, not judged): \
             AuthorizationPolicy production/backend-authz: ALLOW from principals \
             cluster.local/ns/production/sa/frontend; to methods GET"
        )),
        "{:?}",
        e.notes
    );
    drop(session);
    // Forbidden: said, and nothing else changes (it is never judged).
    mock.forbid(Kind::IstioPolicy, None);
    let (session, world, status) = live::open(&target(&config), WAIT).await.unwrap();
    assert_eq!(session.access.istio, None);
    assert!(world.policies.tiers_known);
    assert!(
        status
            .hidden
            .join("\n")
            .contains("authorizationpolicies (forbidden)"),
        "{:?}",
        status.hidden
    );
    drop(session);
    mock.assert_read_only();
}

// ---- node agents through the API server's port-forward ------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agents_are_found_and_read_through_port_forwards() {
    use futures::SinkExt;
    use netpol_tui::cluster::live::agents::{self, AgentPods};
    use netpol_tui::flow::agents::{follow_with, AgentEvent, NodeState};
    use netpol_tui::flow::wire::{self, Frame, Hello};
    use netpol_tui::flow::{Datapath, FlowEvent};

    let mock = MockApi::start().await;
    cluster(&mock);
    mock.apply(namespace("netpol-tui", json!({})));
    // Two agent pods (and a pod of another app in their namespace), each relayed to a
    // scripted agent on loopback that speaks the wire format.
    let mut scripted = Vec::new();
    for (name, node) in [("agent-a", "node-a"), ("agent-b", "node-b")] {
        mock.apply(pod(
            "netpol-tui",
            name,
            json!({"app.kubernetes.io/name": "netpol-tui-agent"}),
            "10.0.0.11",
            &[],
        ));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        mock.forward("netpol-tui", name, listener.local_addr().unwrap());
        let node = node.to_string();
        scripted.push(tokio::spawn(async move {
            loop {
                let (socket, _) = listener.accept().await.unwrap();
                let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
                let hello = Frame::Hello(Hello {
                    node: node.clone(),
                    kernel: "6.18.0".into(),
                    ring_bytes: 1 << 22,
                });
                out.send(wire::encode(&hello)).await.unwrap();
                let flows: Vec<FlowEvent> = (0..50)
                    .map(|i| FlowEvent {
                        time_ms: 1_795_348_800_000 + i,
                        src: "10.1.0.10".parse().unwrap(),
                        dst: "10.1.0.12".parse().unwrap(),
                        protocol: Protocol::Tcp,
                        src_port: 40000,
                        dst_port: 5432,
                        datapath: Datapath::Dropped {
                            reason: "NETFILTER_DROP".into(),
                        },
                    })
                    .collect();
                out.send(wire::encode(&Frame::Flows(flows))).await.unwrap();
                std::future::pending::<()>().await;
            }
        }));
    }
    mock.apply(pod(
        "netpol-tui",
        "something-else",
        json!({"app": "other"}),
        "10.0.0.12",
        &[],
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let connection = live::connect(&target(&config)).await.unwrap();
    let client = connection.client.clone();
    let pods = AgentPods::default();
    let found = agents::list(&client, &pods).await.unwrap();
    let names: Vec<&str> = found.iter().map(|p| p.name.as_str()).collect();
    assert_eq!(names, ["agent-a", "agent-b"]);
    assert_eq!(found[0].node.as_deref(), Some("node-1"));

    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    for p in &found {
        let (client, pods, name) = (client.clone(), pods.clone(), p.name.clone());
        let tx = tx.clone();
        tokio::spawn(follow_with(
            format!("pod/{name}"),
            move || {
                let (client, pods, name) = (client.clone(), pods.clone(), name.clone());
                async move { agents::open(&client, &pods, &name).await }
            },
            || 1_795_348_900_000,
            move |e| tx.send(e).is_ok(),
        ));
    }
    drop(tx);
    let mut flows = 0;
    let mut nodes = std::collections::BTreeMap::new();
    let deadline = tokio::time::Instant::now() + WAIT;
    while flows < 100 || nodes.len() < 2 {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(AgentEvent::Flows { flows: f, .. })) => flows += f.len(),
            Ok(Some(AgentEvent::Node(r))) => {
                if let Some(n) = r.node.clone() {
                    nodes.insert(n, r);
                }
            }
            other => panic!("no flows through the port-forwards: {other:?} ({flows} flows)"),
        }
    }
    assert_eq!(flows, 100);
    assert!(nodes.values().all(|r| r.connected()), "{nodes:#?}");
    let mut forwards: Vec<String> = mock
        .requests()
        .iter()
        .filter(|r| r.path.ends_with("/portforward"))
        .map(|r| format!("{} {}?ports={}", r.method, r.path, r.query["ports"]))
        .collect();
    forwards.sort();
    assert_eq!(
        forwards,
        [
            "GET /api/v1/namespaces/netpol-tui/pods/agent-a/portforward?ports=9184",
            "GET /api/v1/namespaces/netpol-tui/pods/agent-b/portforward?ports=9184"
        ]
    );

    // Without the right to port-forward: the reason, naming what is needed.
    mock.forbid_portforward(true);
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let (client2, pods2) = (client.clone(), pods.clone());
    tokio::spawn(follow_with(
        "pod/agent-a".to_string(),
        move || {
            let (client, pods) = (client2.clone(), pods2.clone());
            async move { agents::open(&client, &pods, "agent-a").await }
        },
        || 1_795_348_900_000,
        move |e| tx.send(e).is_ok(),
    ));
    let error = loop {
        match tokio::time::timeout(WAIT, rx.recv()).await {
            Ok(Some(AgentEvent::Node(r))) => {
                if let NodeState::Reconnecting { error, .. } = r.state {
                    break error;
                }
            }
            other => panic!("no report of the forbidden port-forward: {other:?}"),
        }
    };
    assert!(
        error.contains("create on pods/portforward in namespace netpol-tui"),
        "{error}"
    );

    // Agent pods are watched: a new one is seen at once, not at the next listing; a pod of
    // another app is not a change.
    let (_, version) = agents::listed(&client, &pods).await.unwrap();
    let waiting = tokio::spawn({
        let (client, pods, version) = (client.clone(), pods.clone(), version.clone());
        async move { agents::changed(&client, &pods, &version).await }
    });
    tokio::time::sleep(Duration::from_millis(300)).await;
    mock.apply(pod(
        "netpol-tui",
        "another-app",
        json!({"app": "other"}),
        "10.0.0.14",
        &[],
    ));
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(!waiting.is_finished(), "another app's pod is no agent");
    mock.apply(pod(
        "netpol-tui",
        "agent-c",
        json!({"app.kubernetes.io/name": "netpol-tui-agent"}),
        "10.0.0.13",
        &[],
    ));
    let changed = tokio::time::timeout(WAIT, waiting).await.unwrap().unwrap();
    assert!(changed, "the new agent pod is a change");
    let names: Vec<String> = agents::list(&client, &pods)
        .await
        .unwrap()
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names, ["agent-a", "agent-b", "agent-c"]);
    for s in scripted {
        s.abort();
    }
    mock.assert_read_only();
}

// ---- agent install and uninstall: the only writes ------------------------------------------

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn agent_install_applies_and_uninstall_deletes_exactly_those_objects() {
    let mock = MockApi::start().await;
    cluster(&mock);
    let config = kubeconfig(&mock, &["mock"]);

    // --dry-run: the objects as YAML, no request at all.
    let before = mock.requests().len();
    let (code, out, err) = run(
        &config,
        &[
            "agent",
            "install",
            "--dry-run",
            "--image",
            "registry.local/netpol-tui:1.2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    assert!(
        out.contains("image: registry.local/netpol-tui:1.2"),
        "{out}"
    );
    for kind in [
        "kind: Namespace",
        "kind: ServiceAccount",
        "kind: DaemonSet",
        "kind: Role",
    ] {
        assert!(out.contains(kind), "{kind} missing: {out}");
    }
    assert_eq!(mock.requests().len(), before, "a dry run sends nothing");

    // Without a terminal to ask on and without --yes: refused, nothing written.
    mock.allow_writes(true);
    let (code, out, err) = run(&config, &["agent", "install"]).await;
    assert_eq!(code, 2, "{out}{err}");
    assert!(err.contains("give --yes"), "{err}");
    assert!(
        err.contains("DaemonSet netpol-tui/netpol-tui-agent"),
        "listed first: {err}"
    );
    assert!(mock.writes().is_empty());

    // --yes: server-side apply of each object, in order, with the field manager.
    let (code, out, err) = run(
        &config,
        &[
            "agent",
            "install",
            "--yes",
            "--image",
            "registry.local/netpol-tui:1.2",
        ],
    )
    .await;
    assert_eq!(code, 0, "{out}{err}");
    let writes = mock.writes();
    let applied: Vec<String> = writes
        .iter()
        .map(|(s, _)| format!("{} {}", s.method, s.path))
        .collect();
    assert_eq!(
        applied,
        [
            "PATCH /api/v1/namespaces/netpol-tui",
            "PATCH /api/v1/namespaces/netpol-tui/serviceaccounts/netpol-tui-agent",
            "PATCH /apis/apps/v1/namespaces/netpol-tui/daemonsets/netpol-tui-agent",
            "PATCH /apis/rbac.authorization.k8s.io/v1/namespaces/netpol-tui/roles/netpol-tui-flow-reader",
        ]
    );
    for (seen, body) in &writes {
        assert_eq!(
            seen.query.get("fieldManager").map(String::as_str),
            Some("netpol-tui")
        );
        assert_eq!(seen.query.get("force").map(String::as_str), Some("true"));
        assert!(body.is_some(), "an apply carries the object");
    }
    let daemonset = writes[2].1.as_ref().unwrap();
    assert_eq!(
        daemonset["spec"]["template"]["spec"]["containers"][0]["image"],
        "registry.local/netpol-tui:1.2"
    );

    // uninstall: exactly those, in the reverse order.
    let (code, out, err) = run(&config, &["agent", "uninstall", "--yes"]).await;
    assert_eq!(code, 0, "{out}{err}");
    let deleted: Vec<String> = mock.writes()[4..]
        .iter()
        .map(|(s, _)| format!("{} {}", s.method, s.path))
        .collect();
    let mut expected: Vec<String> = applied
        .iter()
        .map(|a| a.replace("PATCH", "DELETE"))
        .collect();
    expected.reverse();
    assert_eq!(deleted, expected);
    mock.allow_writes(false);

    // Every other command still only reads.
    let (code, _, _) = run(&config, &["status"]).await;
    assert_eq!(code, 0);
    mock.assert_read_only();
}

fn service(
    namespace: &str,
    name: &str,
    selector: serde_json::Value,
    port: u16,
    target: serde_json::Value,
) -> serde_json::Value {
    json!({
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": name, "namespace": namespace},
        "spec": {
            "selector": selector,
            "clusterIP": "10.96.0.20",
            "ports": [{"name": "http", "port": port, "targetPort": target}]
        }
    })
}

/// Services are listed and watched so that `--to svc/NAME` reaches the pods behind them;
/// where a namespace's Services are forbidden, a Service there is named as unreadable,
/// never reported missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn services_resolve_to_their_pods_and_forbidden_ones_are_named() {
    let mock = MockApi::start().await;
    cluster(&mock);
    mock.apply(service(
        "production",
        "backend",
        json!({"app": "backend"}),
        80,
        json!("http"),
    ));
    let config = kubeconfig(&mock, &["mock"]);
    let args = [
        "explain",
        "--from",
        "production/frontend",
        "--to",
        "production/svc/backend",
        "-o",
        "json",
    ];
    let (code, out, err) = run(&config, &args).await;
    let json: serde_json::Value =
        serde_json::from_str(&out).unwrap_or_else(|_| panic!("{out}\n{err}"));
    assert_eq!(json["service"], "production/backend", "{err}");
    assert_eq!(json["backends"][0]["pod"], "production/backend");
    assert_eq!(json["backends"][0]["port"], 8080);
    assert!([0, 1].contains(&code), "{code}: {err}");
    // By its ClusterIP as well.
    let (_, out, _) = run(
        &config,
        &[
            "explain",
            "--from",
            "production/frontend",
            "--to",
            "10.96.0.20",
            "-p",
            "80",
        ],
    )
    .await;
    assert!(out.contains("Service production/backend"), "{out}");

    // Cluster-wide lists of Services forbidden, and production's too: unknown, said so.
    mock.forbid(Kind::Service, None);
    mock.forbid(Kind::Service, Some("production"));
    let (code, _, err) = run(&config, &args).await;
    assert_eq!(code, 2, "{err}");
    assert!(
        err.contains("Services in namespace production cannot be read (forbidden)"),
        "{err}"
    );
    assert!(
        err.contains("Services (a destination given as a Service there cannot be resolved) in 1 namespace(s) (forbidden): production"),
        "{err}"
    );
    mock.assert_read_only();
}
