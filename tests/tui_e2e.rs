//! The real binary in a real terminal: tmux runs the demo, keys go in with send-keys, the
//! screen comes back with capture-pane. Needs tmux (scripts/test.sh installs it); without it
//! these tests fail, they do not skip.

mod mockapi;
mod tmux;

use std::process::Command;
use std::time::{Duration, Instant};

use tmux::Tmux;

/// The terminal is back to normal: the alternate screen is gone and the cursor shows.
fn assert_restored(t: &Tmux) {
    let screen = t.wait_for("PROGRAM-ENDED");
    assert!(
        !screen.contains("Namespaces ·"),
        "the UI is still on screen:\n{screen}"
    );
    assert_eq!(
        t.tmux(&[
            "display-message",
            "-p",
            "-t",
            "e2e",
            "#{alternate_on} #{cursor_flag}"
        ])
        .trim(),
        "0 1",
        "alternate screen off, cursor visible"
    );
}

#[test]
fn demo_navigate_explain_and_quit() {
    let t = Tmux::start("main", 120, 40, "demo");
    t.wait_for("Namespaces · pods");
    t.wait_for("fwd");
    // Jump to the frontend pod.
    t.keys(&["C-p"]);
    t.text("production/frontend");
    t.keys(&["Enter"]);
    t.wait_for("pod production/frontend");
    // Explain from it to the database, port by name.
    t.keys(&["e"]);
    t.wait_for("Explain a flow");
    t.text("datab");
    t.keys(&["Enter"]);
    t.text("postgres");
    t.keys(&["Enter"]);
    let screen = t.wait_for("DENIED");
    assert!(
        screen.contains("production/frontend → production/database  TCP/5432"),
        "{screen}"
    );
    assert!(
        screen.contains("go to production/database-netpol"),
        "{screen}"
    );
    // Jump to the responsible policy.
    t.keys(&["Enter"]);
    let screen = t.wait_for("netpol production/database-netpol");
    assert!(screen.contains("MANIFEST"), "{screen}");
    // Help, then quit.
    t.keys(&["?"]);
    t.wait_for("Help · Esc closes");
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_code(), "exit=0");
    assert_restored(&t);
}

#[test]
fn signals_restore_the_terminal_and_set_the_exit_status() {
    for (signal, status) in [("TERM", "exit=143"), ("HUP", "exit=129")] {
        let t = Tmux::start(&format!("sig{signal}"), 100, 30, "demo");
        t.wait_for("Namespaces · pods");
        let pid = t.pid();
        let ok = Command::new("kill")
            .args([&format!("-{signal}"), &pid])
            .status()
            .expect("kill runs");
        assert!(ok.success());
        assert_eq!(t.exit_code(), status, "SIG{signal}");
        assert_restored(&t);
    }
}

/// The terminal says 256 colours (TERM=xterm-256color, no COLORTERM): the theme's 24-bit
/// colours are drawn as the nearest of the palette.
#[test]
fn colours_follow_what_the_terminal_shows() {
    let t = Tmux::start("colours", 100, 30, "demo");
    t.wait_for("Namespaces · pods");
    let screen = t.screen_with_colours();
    assert!(screen.contains("38;5;"), "palette colours: {screen}");
    assert!(!screen.contains("38;2;"), "no 24-bit colour: {screen}");
    t.keys(&["q"]);
    assert_eq!(t.exit_code(), "exit=0");
}

#[test]
fn too_small_then_resized() {
    let t = Tmux::start("small", 50, 12, "demo");
    t.wait_for("it needs at least 60x15");
    t.tmux(&["resize-window", "-t", "e2e", "-x", "90", "-y", "30"]);
    t.wait_for("Namespaces · pods");
    t.keys(&["C-c"]);
    assert_eq!(t.exit_code(), "exit=0");
    assert_restored(&t);
}

#[test]
fn bad_theme_fails_before_the_screen_changes() {
    let t = Tmux::start("theme", 100, 30, "demo --theme no-such-theme");
    let screen = t.wait_for("PROGRAM-ENDED");
    assert!(
        screen.contains("error: --theme: no theme \"no-such-theme\"; there are: dark, light"),
        "{screen}"
    );
    assert_eq!(t.exit_code(), "exit=2");
    assert_restored(&t);

    // A theme file that is not TOML: named with its line.
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("mine.toml");
    std::fs::write(&file, "[ui]\ntext = { fg = \n").expect("write");
    let t = Tmux::start(
        "theme-file",
        100,
        30,
        &format!("demo --theme {}", file.display()),
    );
    let screen = t.wait_for("PROGRAM-ENDED");
    let want = format!("error: theme {}:2: not valid TOML", file.display());
    assert!(screen.replace('\n', "").contains(&want), "{screen}");
    assert_eq!(t.exit_code(), "exit=2");
}

/// The UI on a live (scripted) cluster: the context and link in the status bar, a pod added
/// on the server appearing, the server going away (STALE) and coming back.
#[test]
fn live_cluster_updates_and_reconnects() {
    use mockapi::objects::{namespace, pod, policy};
    use serde_json::json;
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = rt.block_on(mockapi::MockApi::start());
    mock.apply(namespace("shop", json!({"team": "web"})));
    mock.apply(pod(
        "shop",
        "cart",
        json!({"app": "cart"}),
        "10.1.0.5",
        &[("http", 8080)],
    ));
    mock.apply(policy(
        "shop",
        "deny-all",
        json!({"podSelector": {}, "policyTypes": ["Ingress"]}),
    ));
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, mock.kubeconfig(&["prod-shop", "dev"])).unwrap();

    let t = Tmux::start(
        "live",
        120,
        40,
        &format!("--kubeconfig {}", config.display()),
    );
    let screen = t.wait_for("● live");
    assert!(screen.contains(" prod-shop "), "{screen}");
    assert!(screen.contains("cart"), "{screen}");

    mock.apply(pod(
        "shop",
        "checkout",
        json!({"app": "checkout"}),
        "10.1.0.6",
        &[("http", 8080)],
    ));
    t.wait_for("checkout");

    mock.stop();
    t.wait_for("STALE");
    mock.apply(pod(
        "shop",
        "payments",
        json!({"app": "payments"}),
        "10.1.0.7",
        &[],
    ));
    rt.block_on(mock.restart());
    t.wait_for("payments");
    t.wait_for("● live");

    t.keys(&["q"]);
    assert_eq!(t.exit_code(), "exit=0");
    mock.assert_read_only();
}

#[test]
fn a_server_that_never_answers_leaves_the_ui_usable() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = rt.block_on(mockapi::MockApi::start());
    mock.hang(true);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, mock.kubeconfig(&["prod-shop", "dev"])).unwrap();

    let started = Instant::now();
    let t = Tmux::start(
        "hang",
        120,
        40,
        &format!("--kubeconfig {}", config.display()),
    );
    // Drawn at once, saying what it waits for.
    let screen = t.wait_for("connecting to prod-shop");
    assert!(screen.contains("◌ connecting"), "{screen}");
    assert!(screen.contains("nothing read yet"), "{screen}");
    assert!(
        started.elapsed() < Duration::from_secs(10),
        "the first frame took {:?}",
        started.elapsed()
    );
    // Usable meanwhile: `:ctx` lists the contexts.
    t.keys(&[":"]);
    t.text("ctx");
    t.keys(&["Enter"]);
    t.wait_for("contexts: prod-shop, dev");
    t.keys(&["q"]);
    assert_eq!(t.exit_code(), "exit=0");
    assert_restored(&t);
    assert!(!mock.requests().is_empty(), "the UI did ask the server");
    mock.assert_read_only();
}

#[test]
fn audit_mode_in_the_demo_stages_judges_and_writes_the_fix() {
    let dir = tempfile::tempdir().unwrap();
    let t = Tmux::start_in("audit", 130, 40, "demo", Some(dir.path()));
    // The demo opens in audit mode with its staged changes judged.
    t.wait_for("AUDIT");
    t.wait_for("⊘ 9 pairs");
    // Stage a default-deny for kube-system too, both directions.
    t.keys(&["C-p"]);
    t.text("kube-system");
    t.keys(&["Enter"]);
    t.keys(&["D"]);
    t.wait_for("Stage a default-deny");
    t.keys(&["b"]);
    t.wait_for("4 staged");
    let screen = t.wait_for("⊕ 1");
    assert!(!screen.contains("⊘ 9 pairs"), "more breaks now:\n{screen}");
    // The breakage view, with the fix written next to where the binary ran.
    t.keys(&["b"]);
    t.wait_for("What would break");
    t.keys(&["G"]);
    t.wait_for("SUGGESTED ALLOW RULES");
    t.keys(&["w"]);
    t.wait_for("wrote netpol-tui-sugg");
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_code(), "exit=0");
    assert_restored(&t);
    let written: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .starts_with("netpol-tui-suggested-")
        })
        .collect();
    assert_eq!(written.len(), 1);
    let yaml = std::fs::read_to_string(written[0].path()).unwrap();
    // Valid manifests, as the loader reads them; which rules depends on the flows seen.
    let loaded = netpol_tui::cluster::files::load_text("suggested", &yaml)
        .unwrap_or_else(|e| panic!("{e}\n{yaml}"));
    assert!(!loaded.world.policies.policies.is_empty(), "{yaml}");
}

/// A scripted agent behind pod `netpol-tui/NAME` of `mock`: a hello as `node`, then a dropped
/// 10.1.0.5 -> 10.1.0.6 TCP/5432 flow every 200 ms, on every connection.
fn scripted_agent(rt: &tokio::runtime::Runtime, mock: &mockapi::MockApi, name: &str, node: &str) {
    use futures::SinkExt;
    use netpol_tui::flow::wire::{self, Frame, Hello};
    use netpol_tui::flow::{Datapath, FlowEvent};
    let listener = rt
        .block_on(tokio::net::TcpListener::bind("127.0.0.1:0"))
        .unwrap();
    mock.forward("netpol-tui", name, listener.local_addr().unwrap());
    let node = node.to_string();
    rt.spawn(async move {
        loop {
            let Ok((socket, _)) = listener.accept().await else {
                return;
            };
            let node = node.clone();
            tokio::spawn(async move {
                let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
                let hello = Frame::Hello(Hello {
                    node,
                    kernel: "6.18.0".into(),
                    ring_bytes: 1 << 22,
                });
                if out.send(wire::encode(&hello)).await.is_err() {
                    return;
                }
                loop {
                    let now = std::time::SystemTime::now()
                        .duration_since(std::time::UNIX_EPOCH)
                        .unwrap()
                        .as_millis() as u64;
                    let flow = FlowEvent {
                        time_ms: now,
                        src: "10.1.0.5".parse().unwrap(),
                        dst: "10.1.0.6".parse().unwrap(),
                        protocol: netpol_tui::policy::Protocol::Tcp,
                        src_port: 41000,
                        dst_port: 5432,
                        datapath: Datapath::Dropped {
                            reason: "NETFILTER_DROP".into(),
                        },
                    };
                    if out
                        .send(wire::encode(&Frame::Flows(vec![flow])))
                        .await
                        .is_err()
                    {
                        return;
                    }
                    tokio::time::sleep(Duration::from_millis(200)).await;
                }
            });
        }
    });
}

/// A cluster of the agents tests: shop/cart, shop/db locked for ingress, an agent pod NAME.
fn agents_cluster(mock: &mockapi::MockApi, agent: &str) {
    use mockapi::objects::{namespace, pod, policy};
    use serde_json::json;
    mock.apply(namespace("shop", json!({})));
    mock.apply(namespace("netpol-tui", json!({})));
    mock.apply(pod(
        "shop",
        "cart",
        json!({"app": "cart"}),
        "10.1.0.5",
        &[("http", 8080)],
    ));
    mock.apply(pod(
        "shop",
        "db",
        json!({"app": "db"}),
        "10.1.0.6",
        &[("pg", 5432)],
    ));
    mock.apply(policy(
        "shop",
        "db-locked",
        json!({"podSelector": {"matchLabels": {"app": "db"}}, "policyTypes": ["Ingress"]}),
    ));
    mock.apply(pod(
        "netpol-tui",
        agent,
        json!({"app.kubernetes.io/name": "netpol-tui-agent"}),
        "10.0.0.11",
        &[],
    ));
}

/// `:ctx` switches the agents with the cluster: the first cluster's node is forgotten, the
/// second's is followed.
#[test]
fn ctx_switches_the_agents_with_the_cluster() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let (a, b) = (
        rt.block_on(mockapi::MockApi::start()),
        rt.block_on(mockapi::MockApi::start()),
    );
    agents_cluster(&a, "agent-a");
    agents_cluster(&b, "agent-b");
    scripted_agent(&rt, &a, "agent-a", "node-a");
    scripted_agent(&rt, &b, "agent-b", "node-b");
    // One kubeconfig, two contexts, each its own server (and its own CA).
    let (ka, kb) = (a.kubeconfig(&["prod"]), b.kubeconfig(&["dev"]));
    let cluster = |k: &str, name: &str| -> String {
        let start = k.find("- name: mock\n").unwrap();
        let end = k.find("users:").unwrap();
        k[start..end].replace("- name: mock", &format!("- name: {name}"))
    };
    let user = {
        let start = ka.find("users:\n").unwrap() + "users:\n".len();
        let end = ka.find("contexts:").unwrap();
        ka[start..end].to_string()
    };
    let config_text = format!(
        "apiVersion: v1\nkind: Config\ncurrent-context: prod\nclusters:\n{}{}users:\n{user}contexts:\n- name: prod\n  context: {{cluster: a, user: reader, namespace: default}}\n- name: dev\n  context: {{cluster: b, user: reader, namespace: default}}\n",
        cluster(&ka, "a"),
        cluster(&kb, "b"),
    );
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, config_text).unwrap();

    let t = Tmux::start(
        "ctx-agents",
        140,
        40,
        &format!("--kubeconfig {}", config.display()),
    );
    t.wait_for("node-a");
    t.keys(&[":"]);
    t.text("ctx dev");
    t.keys(&["Enter"]);
    t.wait_for("node-b");
    t.keys(&[":"]);
    t.text("nodes");
    t.keys(&["Enter"]);
    let screen = t.wait_for("1 of 1 connected");
    assert!(screen.contains("node-b"), "{screen}");
    assert!(
        !screen.contains("node-a"),
        "the other cluster's node is gone: {screen}"
    );
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_code(), "exit=0");
    a.assert_read_only();
    b.assert_read_only();
}

/// On a live cluster the UI finds the agent pods and reads them through port-forwards: a
/// dropped flow is shown with the policy that isolates its destination, and the node is in
/// `:nodes`. Without the right to port-forward, the reason is on the screen.
#[test]
fn live_cluster_agents_through_port_forwards() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mock = rt.block_on(mockapi::MockApi::start());
    agents_cluster(&mock, "agent-x");
    // The scripted agent: a hello, then a dropped cart -> db flow every 200 ms.
    scripted_agent(&rt, &mock, "agent-x", "node-x");
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("kubeconfig");
    std::fs::write(&config, mock.kubeconfig(&["prod-shop"])).unwrap();

    let t = Tmux::start(
        "agents",
        140,
        40,
        &format!("--kubeconfig {}", config.display()),
    );
    let screen = t.wait_for("blocked by shop/db-locked");
    assert!(screen.contains("shop/cart"), "{screen}");
    assert!(
        screen
            .lines()
            .any(|l| l.contains("shop/db-locked") && l.contains("node-x")),
        "the flow line names its node: {screen}"
    );
    assert!(screen.contains("1/1 nodes"), "{screen}");
    t.keys(&[":"]);
    t.text("nodes");
    t.keys(&["Enter"]);
    let screen = t.wait_for("1 of 1 connected");
    assert!(screen.contains("node-x"), "{screen}");
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_code(), "exit=0");

    // Without the right to port-forward: said, and the policy views still work.
    mock.forbid_portforward(true);
    let t = Tmux::start(
        "agents-forbidden",
        140,
        40,
        &format!("--kubeconfig {}", config.display()),
    );
    t.wait_for("● live");
    t.keys(&[":"]);
    t.text("nodes");
    t.keys(&["Enter"]);
    t.wait_for("create on pods/portforward");
    t.keys(&["Escape", "q"]);
    assert_eq!(t.exit_code(), "exit=0");
    mock.assert_read_only();
}
