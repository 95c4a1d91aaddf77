//! The probe on the real kernel, through the binary: the lab built from the demo, the agent
//! stream, loss accounting and clean-up. These need root and a kernel with BTF, eBPF and
//! nftables; without them they fail (CI runs them as root), they never skip.
#![cfg(all(feature = "probe", target_os = "linux"))]

mod tmux;

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use serde_json::Value;
use tmux::Tmux;

/// One lab at a time: they share the `nplab-` names.
static LAB: Mutex<()> = Mutex::new(());

fn lock() -> std::sync::MutexGuard<'static, ()> {
    LAB.lock().unwrap_or_else(|e| e.into_inner())
}

fn bin() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_kubectl-netpol_tui"));
    cmd.env("NETPOL_TUI_LOG", "off");
    cmd
}

fn require_root() {
    // SAFETY: geteuid has no preconditions.
    let euid = unsafe { libc::geteuid() };
    assert_eq!(
        euid, 0,
        "the probe tests load eBPF programs and build network namespaces: run them as root \
         (scripts/test.sh does in CI)"
    );
}

fn run(cmd: &mut Command) -> Output {
    let out = cmd.output().expect("run the binary");
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}):\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn records(stdout: &[u8]) -> Vec<Value> {
    String::from_utf8_lossy(stdout)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap_or_else(|e| panic!("not JSON ({e}): {l}")))
        .collect()
}

fn find<'a>(rows: &'a [Value], what: &str, pred: impl Fn(&Value) -> bool) -> &'a Value {
    rows.iter()
        .find(|r| pred(r))
        .unwrap_or_else(|| panic!("no flow {what} among {} flows", rows.len()))
}

fn policies(r: &Value) -> Vec<&str> {
    r["policies"]
        .as_array()
        .expect("policies")
        .iter()
        .map(|p| p.as_str().expect("policy name"))
        .collect()
}

fn ours_loaded() -> Vec<String> {
    netpol_tui::probe::loaded_program_names()
        .expect("list loaded programs")
        .into_iter()
        .filter(|n| netpol_tui::probe::PROGRAMS.contains(&n.as_str()))
        .collect()
}

fn lab_namespaces() -> Vec<String> {
    std::fs::read_dir("/run/netns")
        .map(|d| {
            d.flatten()
                .map(|e| e.file_name().to_string_lossy().to_string())
                .filter(|n| n.starts_with("nplab-"))
                .collect()
        })
        .unwrap_or_default()
}

fn summary_field(stderr: &str, field: &str) -> u64 {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("summary:"))
        .unwrap_or_else(|| panic!("no summary in:\n{stderr}"));
    let at = line
        .find(field)
        .unwrap_or_else(|| panic!("no {field} in {line}"));
    line[at + field.len()..]
        .split(|c: char| !c.is_ascii_digit())
        .find(|s| !s.is_empty())
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no number after {field} in {line}"))
}

/// The lab on the demo: the kernel's verdicts, and the engine's annotations of them.
#[test]
fn lab_flows_carry_the_kernels_verdict_and_the_policy_responsible() {
    require_root();
    let _lab = lock();
    // integration-tests -> coredns TCP/9153 is allowed by development/allow-dns-egress;
    // this rule drops it anyway, as a datapath might.
    let out = run(bin().args([
        "lab",
        "--demo",
        "--duration",
        "5",
        "-o",
        "json",
        "--extra-rule",
        "ip saddr 10.244.3.10 ip daddr 10.244.1.2 tcp dport 9153 drop",
    ]));
    let rows = records(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    for r in &rows {
        for key in [
            "src",
            "dst",
            "protocol",
            "dst_port",
            "datapath",
            "drop_reason",
            "outcome",
            "policies",
            "explanation",
        ] {
            assert!(r.get(key).is_some(), "{key} missing from {r}");
        }
    }

    let allowed = find(&rows, "frontend -> backend:8080", |r| {
        r["src"] == "production/frontend"
            && r["dst"] == "production/backend"
            && r["dst_port"] == 8080
    });
    assert_eq!(allowed["datapath"], "forwarded", "{allowed}");
    assert_eq!(allowed["drop_reason"], Value::Null);
    assert_eq!(allowed["outcome"], "allowed_by_policy", "{allowed}");
    assert_eq!(
        policies(allowed),
        ["production/frontend-policy", "production/backend-policy"]
    );
    assert_eq!(
        allowed["explanation"],
        "allowed by production/frontend-policy egress[0], production/backend-policy ingress[0]"
    );

    let blocked = find(&rows, "frontend -> database:5432", |r| {
        r["src"] == "production/frontend"
            && r["dst"] == "production/database"
            && r["dst_port"] == 5432
    });
    assert_eq!(blocked["datapath"], "dropped", "{blocked}");
    assert_eq!(blocked["drop_reason"], "NETFILTER_DROP", "{blocked}");
    assert_eq!(blocked["outcome"], "blocked_by_policy", "{blocked}");
    let isolating = policies(blocked);
    for p in [
        "production/database-netpol",
        "production/default-deny-all",
        "production/frontend-policy",
    ] {
        assert!(isolating.contains(&p), "{p} not in {isolating:?}");
    }
    assert_eq!(isolating.len(), 3, "each policy named once: {isolating:?}");

    let datapath = find(&rows, "integration-tests -> coredns:9153", |r| {
        r["src"] == "development/integration-tests"
            && r["dst"] == "kube-system/coredns"
            && r["dst_port"] == 9153
    });
    assert_eq!(datapath["outcome"], "datapath_drop", "{datapath}");
    assert_eq!(datapath["drop_reason"], "NETFILTER_DROP");
    assert_eq!(policies(datapath), ["development/allow-dns-egress"]);
    assert!(
        datapath["explanation"]
            .as_str()
            .unwrap()
            .starts_with("dropped by the datapath, not by NetworkPolicy: NETFILTER_DROP"),
        "{datapath}"
    );

    let udp = find(&rows, "UDP to coredns:53 forwarded", |r| {
        r["protocol"] == "UDP" && r["dst"] == "kube-system/coredns" && r["datapath"] == "forwarded"
    });
    assert_eq!(udp["dst_port"], 53);
    let v6 = find(&rows, "over IPv6 to backend:8080", |r| {
        r["dst_ip"].as_str().is_some_and(|ip| ip.contains(':'))
            && r["dst"] == "production/backend"
            && r["src"] == "production/frontend"
            && r["dst_port"] == 8080
    });
    assert_eq!(v6["outcome"], "allowed_by_policy", "{v6}");
    let v6_blocked = find(&rows, "over IPv6 to database", |r| {
        r["dst_ip"] == "fd00:10:244:2::10" && r["src"] == "production/frontend"
    });
    assert_eq!(v6_blocked["outcome"], "blocked_by_policy", "{v6_blocked}");

    // Apart from the extra rule, the lab's rules and the engine never disagree.
    let disagreements: Vec<&Value> = rows
        .iter()
        .filter(|r| {
            matches!(
                r["outcome"].as_str(),
                Some("datapath_drop" | "policy_not_enforced")
            ) && !(r["src"] == "development/integration-tests"
                && r["dst"] == "kube-system/coredns"
                && r["dst_port"] == 9153)
        })
        .collect();
    assert!(disagreements.is_empty(), "{disagreements:?}");
    assert_eq!(summary_field(&stderr, "kernel lost"), 0, "{stderr}");

    assert!(
        lab_namespaces().is_empty(),
        "left behind: {:?}",
        lab_namespaces()
    );
    assert!(
        ours_loaded().is_empty(),
        "programs left: {:?}",
        ours_loaded()
    );
}

/// A demo lab serving its flows as an agent for `seconds`: the process, the agent's address,
/// and a thread collecting the rest of its stderr.
fn serving_lab(
    seconds: &str,
) -> (
    std::process::Child,
    String,
    std::thread::JoinHandle<Vec<String>>,
) {
    let mut lab = bin()
        .args([
            "lab",
            "--demo",
            "--serve",
            "127.0.0.1:0",
            "--duration",
            seconds,
            "-o",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab");
    let mut lines = BufReader::new(lab.stderr.take().expect("stderr")).lines();
    let addr = loop {
        let line = lines
            .next()
            .expect("the lab ended before serving")
            .expect("read stderr");
        if let Some(a) = line.strip_prefix("agent listening on ") {
            break a.to_string();
        }
    };
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    (lab, addr, rest)
}

/// A second process reads the flows from the agent port.
#[test]
fn agent_stream_is_read_by_a_second_process() {
    require_root();
    let _lab = lock();
    let (mut lab, addr, rest) = serving_lab("9");
    let out = run(bin().args([
        "trace",
        "--demo",
        "--agent",
        &addr,
        "--duration",
        "5",
        "-o",
        "json",
    ]));
    let rows = records(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("agent on node nplab-node"), "{stderr}");
    let blocked = find(&rows, "blocked frontend -> database", |r| {
        r["src"] == "production/frontend"
            && r["dst"] == "production/database"
            && r["outcome"] == "blocked_by_policy"
    });
    assert_eq!(blocked["drop_reason"], "NETFILTER_DROP");
    find(&rows, "allowed_by_policy", |r| {
        r["outcome"] == "allowed_by_policy"
    });
    assert_eq!(summary_field(&stderr, "reader lost"), 0, "{stderr}");

    let status = lab.wait().expect("lab exit");
    let rest = rest.join().expect("stderr reader");
    assert!(status.success(), "lab failed: {rest:?}");
    assert!(lab_namespaces().is_empty());
}

/// The flows of a five-second lab of the demo with `manifest` added, and frontend ->
/// backend:8080 among them (which the demo's NetworkPolicies admit), checked dropped by the
/// kernel and annotated with `policy` alone.
fn lab_denies_frontend_to_backend(manifest: &str, policy: &str) -> Vec<Value> {
    let dir = tempfile::tempdir().unwrap();
    let extra = dir.path().join("extra.yaml");
    std::fs::write(&extra, manifest).unwrap();
    let out = run(bin().args(["lab", "--demo", "-f"]).arg(&extra).args([
        "--duration",
        "5",
        "-o",
        "json",
    ]));
    let rows = records(&out.stdout);
    let blocked = find(&rows, "frontend -> backend:8080", |r| {
        r["src"] == "production/frontend"
            && r["dst"] == "production/backend"
            && r["dst_port"] == 8080
    });
    assert_eq!(blocked["datapath"], "dropped", "{blocked}");
    assert_eq!(blocked["outcome"], "blocked_by_policy", "{blocked}");
    assert_eq!(policies(blocked), [policy], "{blocked}");
    assert!(lab_namespaces().is_empty());
    rows
}

/// A Cilium deny rule, enforced by the lab before every allow: frontend -> backend:8080,
/// which the NetworkPolicies admit, is dropped by the kernel and annotated with the
/// CiliumClusterwideNetworkPolicy that denies it.
#[test]
fn a_cilium_deny_is_dropped_and_annotated() {
    require_root();
    let _lab = lock();
    lab_denies_frontend_to_backend(
        "apiVersion: cilium.io/v2\nkind: CiliumClusterwideNetworkPolicy\nmetadata: {name: no-frontend-to-backend}\nspec:\n  endpointSelector: {matchLabels: {app: frontend}}\n  enableDefaultDeny: {egress: false}\n  egressDeny:\n  - toEndpoints: [{matchLabels: {app: backend}}]\n    toPorts: [{ports: [{port: \"8080\", protocol: TCP}]}]\n",
        "CiliumClusterwideNetworkPolicy/no-frontend-to-backend",
    );
}

/// Calico's tiers, enforced by the lab tier by tier: a security tier (order 100) whose
/// policy denies frontend -> backend:8080 (which the NetworkPolicies admit) and passes the
/// rest on. The kernel drops that flow and the probe annotates it with the Calico policy;
/// the frontend's other flows, passed on to NetworkPolicy, still flow.
#[test]
fn a_calico_tier_deny_is_dropped_and_annotated() {
    require_root();
    let _lab = lock();
    let rows = lab_denies_frontend_to_backend(
        "apiVersion: projectcalico.org/v3\nkind: Tier\nmetadata: {name: security}\nspec: {order: 100}\n---\napiVersion: projectcalico.org/v3\nkind: GlobalNetworkPolicy\nmetadata: {name: security.no-frontend-to-backend}\nspec:\n  tier: security\n  selector: app == 'frontend'\n  types: [Egress]\n  egress:\n  - action: Deny\n    protocol: TCP\n    destination: {selector: app == 'backend', ports: [8080]}\n  - action: Pass\n",
        "projectcalico.org/GlobalNetworkPolicy/security.no-frontend-to-backend",
    );
    // Passed on: the frontend's other flows are NetworkPolicy's to decide, which admits some.
    let passed = find(&rows, "a frontend flow the NetworkPolicies admit", |r| {
        r["src"] == "production/frontend" && r["datapath"] == "forwarded"
    });
    assert_eq!(passed["outcome"], "allowed_by_policy", "{passed}");
}

/// With a ring far too small for the traffic, lost events are counted, not hidden.
#[test]
fn loss_counter_rises_when_the_ring_is_too_small() {
    require_root();
    let _lab = lock();
    let out = run(bin().args([
        "lab",
        "--demo",
        "--duration",
        "3",
        "--ring-bytes",
        "4096",
        "--round",
        "0.05",
        "-o",
        "json",
    ]));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let lost = summary_field(&stderr, "kernel lost");
    let sent = summary_field(&stderr, "kernel sent");
    assert!(lost > 0, "nothing lost with a 4 KiB ring: {stderr}");
    assert!(sent > 0, "{stderr}");
}

/// SIGKILL leaves no program or link in the kernel (they belong to the process's file
/// descriptors); the namespaces a killed lab leaves are removed by the next lab.
#[test]
fn sigkill_leaves_nothing_in_the_kernel() {
    require_root();
    let _lab = lock();
    let mut lab = bin()
        .args(["lab", "--demo", "--duration", "60", "-o", "json"])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("start the lab");
    let mut out = BufReader::new(lab.stdout.take().expect("stdout")).lines();
    out.next()
        .expect("a first flow")
        .expect("read the first flow");
    let loaded = ours_loaded();
    for p in netpol_tui::probe::PROGRAMS {
        assert!(loaded.iter().any(|l| l == p), "{p} not loaded: {loaded:?}");
    }
    lab.kill().expect("SIGKILL");
    lab.wait().expect("reap");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !ours_loaded().is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(
        ours_loaded().is_empty(),
        "still loaded: {:?}",
        ours_loaded()
    );
    assert!(
        !lab_namespaces().is_empty(),
        "a killed lab cannot remove its namespaces"
    );
    run(bin().args(["lab", "--demo", "--duration", "0.5"]));
    assert!(lab_namespaces().is_empty(), "left: {:?}", lab_namespaces());
}

/// Without privileges the probe and the lab say what they need, and exit 2.
#[test]
fn without_root_the_errors_say_what_is_needed() {
    require_root();
    for (args, want) in [
        (&["trace", "--demo", "--duration", "1"][..], "needs root"),
        (
            &["agent", "--duration", "1", "--listen", "127.0.0.1:0"][..],
            "needs root",
        ),
        (&["lab", "--demo", "--duration", "1"][..], "run it as root"),
    ] {
        let out = Command::new("setpriv")
            .args([
                "--reuid=65534",
                "--regid=65534",
                "--clear-groups",
                "--inh-caps=-all",
            ])
            .arg(env!("CARGO_BIN_EXE_kubectl-netpol_tui"))
            .args(args)
            .output()
            .expect("setpriv (util-linux)");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{args:?}: {stderr}");
        assert!(stderr.contains(want), "{args:?}: {stderr}");
    }
}

#[test]
fn agent_address_errors_are_clear() {
    let out = bin()
        .args([
            "trace",
            "--demo",
            "--agent",
            "127.0.0.1:1",
            "--duration",
            "1",
        ])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("--agent 127.0.0.1:1"), "{stderr}");
    let out = bin()
        .args(["agent", "--listen", "0.0.0.0:9184", "--duration", "1"])
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("loopback only"), "{stderr}");
}

/// The screen, once it shows a blocked flow named with the policy that isolates its pod.
fn wait_for_a_blocked_flow(t: &Tmux, secs: u64) -> String {
    t.wait_until("a blocked flow with its policy", secs, &|s| {
        s.lines().any(|l| {
            // The newest flows scroll by: any dropped one named with its policy will do.
            l.contains("✗") && l.contains("drop") && l.contains("blocked by production/")
        })
    })
}

/// Quits the UI and ends its session.
fn quit(t: Tmux) {
    t.keys(&["Escape", "q"]);
    std::thread::sleep(Duration::from_millis(500));
    drop(t);
}

/// The terminal UI reads a lab's agent (a real probe on the real kernel): a blocked flow
/// shows with the policy responsible, and `:nodes` names the lab's node as connected.
#[test]
fn the_ui_shows_a_labs_flows_with_the_policy_responsible() {
    require_root();
    let _lab = lock();
    // Long enough that the lab still serves when the UI, slow to start on a loaded
    // machine, opens its nodes view.
    let (mut lab, addr, rest) = serving_lab("20");
    let ui = Tmux::run(
        "probe-ui",
        160,
        45,
        &format!(
            "NETPOL_TUI_LOG=off {} --demo --agent {addr}",
            env!("CARGO_BIN_EXE_kubectl-netpol_tui")
        ),
        None,
    );
    let screen = wait_for_a_blocked_flow(&ui, 15);
    assert!(screen.contains("1/1 nodes"), "{screen}");
    ui.command("nodes");
    ui.wait_until("the lab's node", 15, &|s| {
        s.contains("1 of 1 connected") && s.contains("nplab-node")
    });
    quit(ui);
    let status = lab.wait().expect("lab exit");
    let rest = rest.join().expect("stderr reader");
    assert!(status.success(), "lab failed: {rest:?}");
    assert!(lab_namespaces().is_empty());
}

/// `--probe`: the terminal UI runs the probe on its own node (here, inside a lab's node
/// namespace, where the pods' veths are) and shows a blocked flow with the policy
/// responsible; `:nodes` lists this node's probe as connected.
#[test]
fn the_ui_runs_the_probe_of_its_own_node() {
    require_root();
    let _lab = lock();
    let mut lab = bin()
        .args([
            "lab",
            "--demo",
            "--no-probe",
            "--duration",
            "14",
            "-o",
            "json",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start the lab");
    let mut lines = BufReader::new(lab.stderr.take().expect("stderr")).lines();
    loop {
        let line = lines
            .next()
            .expect("the lab ended before it was ready")
            .expect("read stderr");
        if line.starts_with("lab: ready") {
            break;
        }
    }
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>());
    let ui = Tmux::run(
        "probe-local",
        160,
        45,
        &format!(
            "NETPOL_TUI_LOG=off ip netns exec nplab-node {} --demo --probe --probe-interfaces 'npl*'",
            env!("CARGO_BIN_EXE_kubectl-netpol_tui")
        ),
        None,
    );
    let screen = wait_for_a_blocked_flow(&ui, 12);
    assert!(screen.contains("1/1 nodes"), "{screen}");
    ui.command("nodes");
    ui.wait_until("this node's probe", 12, &|s| {
        s.contains("1 of 1 connected") && s.contains("127.0.0.1:")
    });
    quit(ui);
    let status = lab.wait().expect("lab exit");
    let rest = rest.join().expect("stderr reader");
    assert!(status.success(), "lab failed: {rest:?}");
    assert!(lab_namespaces().is_empty());
    // The UI's probe went with the UI.
    assert!(
        ours_loaded().is_empty(),
        "programs left: {:?}",
        ours_loaded()
    );
}

/// `--probe` without the privileges: the UI says what is needed and exits 2 before the
/// terminal changes (run in a terminal, where the UI would otherwise start).
#[test]
fn the_uis_probe_without_root_says_what_is_needed() {
    require_root();
    let t = Tmux::run(
        "probe-noroot",
        250,
        30,
        &format!(
            "NETPOL_TUI_LOG=off setpriv --reuid=65534 --regid=65534 --clear-groups \
             --inh-caps=-all {} --demo --probe",
            env!("CARGO_BIN_EXE_kubectl-netpol_tui")
        ),
        None,
    );
    let screen = t.wait_until("the program's end", 10, &|s| s.contains("PROGRAM-ENDED"));
    assert!(screen.contains("needs root"), "{screen}");
    assert_eq!(t.exit_code(), "exit=2", "{screen}");
}
