//! The live cluster against the scripted API server (tests/mockapi) holding 10k pods and 2k
//! policies: time to the first complete snapshot, time from a change on the server to a
//! rebuilt index, the client's peak resident memory (the real binary, `status`, in a process
//! of its own so that the server's memory does not count), and the time from the end of an
//! API server outage to a live view again.
//!
//! Run with `scripts/bench.sh live`.

#[path = "../tests/mockapi/mod.rs"]
mod mockapi;

use std::io::Write;
use std::time::{Duration, Instant};

use mockapi::objects::{namespace, node, pod, policy};
use mockapi::MockApi;
use netpol_tui::cluster::live::{self, Target, Update};
use netpol_tui::policy::{EngineOptions, Index};
use serde_json::{json, Value};

const NAMESPACES: usize = 100;
const PODS: usize = 10_000;
const POLICIES: usize = 2_000;
const NODES: usize = 50;
const APPS: usize = 20;
const TIERS: [&str; 3] = ["web", "api", "db"];

fn objects() -> Vec<Value> {
    let mut out = Vec::new();
    for n in 0..NODES {
        out.push(node(
            &format!("node-{n}"),
            &format!("10.0.{}.{}", n / 200, n % 200 + 10),
        ));
    }
    for ns in 0..NAMESPACES {
        out.push(namespace(
            &format!("team-{ns}"),
            json!({"team": format!("t{}", ns % 10), "env": if ns % 3 == 0 { "prod" } else { "dev" }}),
        ));
    }
    for i in 0..PODS {
        let ns = i % NAMESPACES;
        let app = (i / NAMESPACES) % APPS;
        let ip = format!("10.{}.{}.{}", 64 + i / 65536, (i / 256) % 256, i % 256);
        let mut p = pod(
            &format!("team-{ns}"),
            &format!("app-{app}-{i}"),
            json!({"app": format!("app-{app}"), "tier": TIERS[app % 3], "pod-template-hash": format!("{:x}", i * 7919)}),
            &ip,
            &[("http", 8080), ("metrics", 9090)],
        );
        p["spec"]["nodeName"] = json!(format!("node-{}", i % NODES));
        out.push(p);
    }
    for j in 0..POLICIES {
        let ns = j % NAMESPACES;
        let app = (j / NAMESPACES) % APPS;
        let spec = match j % 4 {
            0 => json!({"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}),
            1 => json!({"podSelector": {"matchLabels": {"app": format!("app-{app}")}},
                        "ingress": [{"from": [{"podSelector": {"matchLabels": {"tier": "web"}}}],
                                     "ports": [{"port": "http"}]}]}),
            2 => json!({"podSelector": {"matchLabels": {"tier": "db"}},
                        "ingress": [{"from": [{"namespaceSelector": {"matchLabels": {"team": format!("t{}", ns % 10)}},
                                               "podSelector": {"matchExpressions": [{"key": "tier", "operator": "In", "values": ["api"]}]}}],
                                     "ports": [{"port": 5432, "protocol": "TCP"}]}]}),
            _ => {
                json!({"podSelector": {"matchLabels": {"app": format!("app-{app}")}}, "policyTypes": ["Egress"],
                        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0", "except": ["10.0.0.0/8"]}}]},
                                   {"to": [{"namespaceSelector": {}, "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                                    "ports": [{"port": 53, "protocol": "UDP"}]}]})
            }
        };
        out.push(policy(&format!("team-{ns}"), &format!("policy-{j}"), spec));
    }
    out
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(bench());
}

async fn bench() {
    let mock = MockApi::start().await;
    let started = Instant::now();
    mock.load(objects());
    println!(
        "mock API server: {NAMESPACES} namespaces, {PODS} pods, {POLICIES} policies, {NODES} nodes (made in {:.1} s)",
        started.elapsed().as_secs_f64()
    );
    let mut config = tempfile::NamedTempFile::new().unwrap();
    config
        .write_all(mock.kubeconfig(&["bench"]).as_bytes())
        .unwrap();
    let target = Target {
        kubeconfig: Some(config.path().to_path_buf()),
        ..Target::default()
    };
    // For profiling the client by hand: serve the cluster and wait.
    if let Some(secs) = std::env::var("LIVE_BENCH_SERVE")
        .ok()
        .and_then(|s| s.parse().ok())
    {
        println!(
            "serving for {secs} s; kubeconfig: {}",
            config.path().display()
        );
        tokio::time::sleep(Duration::from_secs(secs)).await;
        return;
    }

    // 1. First complete snapshot, then the index, in this process.
    let mut firsts = Vec::new();
    let mut indexes = Vec::new();
    let mut session = None;
    for _ in 0..5 {
        let t = Instant::now();
        let (s, world, _) = live::open(&target, Duration::from_secs(120)).await.unwrap();
        let listed = t.elapsed().as_secs_f64() * 1000.0;
        assert_eq!(world.inventory.pods.len(), PODS);
        assert_eq!(world.policies.policies.len(), POLICIES);
        let t = Instant::now();
        let index = Index::build(world.inventory, world.policies, EngineOptions::default());
        std::hint::black_box(&index);
        firsts.push(listed);
        indexes.push(t.elapsed().as_secs_f64() * 1000.0);
        session = Some(s);
    }
    println!(
        "first complete snapshot (connect, access check, {} list pages, convert): median {:.0} ms, max {:.0} ms (5 runs)",
        PODS.div_ceil(live::PAGE_SIZE as usize) + POLICIES.div_ceil(live::PAGE_SIZE as usize) + 2,
        median(&mut firsts.clone()),
        firsts.iter().cloned().fold(0.0, f64::max)
    );
    println!(
        "index build on it: median {:.0} ms; snapshot + index: median {:.0} ms",
        median(&mut indexes.clone()),
        median(
            &mut firsts
                .iter()
                .zip(&indexes)
                .map(|(a, b)| a + b)
                .collect::<Vec<_>>()
        )
    );

    // 2. A change on the server to a rebuilt index (the debounce window included).
    let mut session = session.unwrap();
    let mut latencies = Vec::new();
    for k in 0..20 {
        let mut p = pod(
            "team-7",
            &format!("app-1-{}", 7 + NAMESPACES),
            json!({"app": "app-1", "tier": "api", "changed": k.to_string()}),
            "10.64.0.107",
            &[("http", 8080)],
        );
        p["spec"]["nodeName"] = json!("node-7");
        let t = Instant::now();
        mock.apply(p);
        let world = loop {
            match session.next().await {
                Some(Update::Snapshot(w, _)) => {
                    let seen = w.inventory.pods.iter().any(|p| {
                        p.labels.get("changed").map(String::as_str) == Some(&k.to_string())
                    });
                    if seen {
                        break w;
                    }
                }
                Some(Update::Status(_)) => {}
                None => panic!("session ended"),
            }
        };
        let index = Index::build(world.inventory, world.policies, EngineOptions::default());
        std::hint::black_box(&index);
        latencies.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "change to rebuilt index: median {:.0} ms, max {:.0} ms (20 changes; includes the {} ms quiet window)",
        median(&mut latencies.clone()),
        latencies.iter().cloned().fold(0.0, f64::max),
        live::QUIET.as_millis()
    );
    drop(session);

    // 3. The binary in a process of its own: wall time and peak RSS.
    let exe = env!("CARGO_BIN_EXE_kubectl-netpol_tui");
    let path = config.path().to_path_buf();
    let mut walls = Vec::new();
    let mut peak_kib = 0u64;
    for _ in 0..3 {
        let path = path.clone();
        let (wall, out, rss) = tokio::task::spawn_blocking(move || {
            let t = Instant::now();
            let mut child = std::process::Command::new(exe)
                .arg("--kubeconfig")
                .arg(&path)
                .arg("status")
                .stdout(std::process::Stdio::piped())
                .stderr(std::process::Stdio::piped())
                .spawn()
                .unwrap();
            // VmHWM is the child's own high-water mark since exec (getrusage would count the
            // memory of this process, which the child shares until exec). Sampled until exit:
            // being a high-water mark, the last sample holds the peak up to that moment.
            let status_file = format!("/proc/{}/status", child.id());
            let mut hwm_kib = 0u64;
            while child.try_wait().unwrap().is_none() {
                if let Ok(text) = std::fs::read_to_string(&status_file) {
                    if let Some(v) = text
                        .lines()
                        .find_map(|l| l.strip_prefix("VmHWM:"))
                        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<u64>().ok())
                    {
                        hwm_kib = hwm_kib.max(v);
                    }
                }
                std::thread::sleep(Duration::from_millis(2));
            }
            let out = child.wait_with_output().unwrap();
            (t.elapsed().as_secs_f64(), out, hwm_kib)
        })
        .await
        .unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        walls.push(wall * 1000.0);
        peak_kib = peak_kib.max(rss);
        if walls.len() == 1 {
            print!("`status` says:\n{}", String::from_utf8_lossy(&out.stdout));
        }
    }
    println!(
        "binary `status` (process start to exit): median {:.0} ms; peak RSS (VmHWM) {:.0} MiB (3 runs)",
        median(&mut walls),
        peak_kib as f64 / 1024.0
    );

    // 4. Recovery: the API server goes away for 15 s; time from its return to a live view
    // (every watch open again, after relisting what changed).
    let outage = Duration::from_secs(
        std::env::var("LIVE_BENCH_OUTAGE_SECS")
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(15),
    );
    let (mut session, _, status) = live::open(&target, Duration::from_secs(120)).await.unwrap();
    if status.link != live::Link::Live {
        wait_live(&mut session).await;
    }
    let mut recoveries = Vec::new();
    for _ in 0..3 {
        mock.stop();
        tokio::time::sleep(outage).await;
        mock.restart().await;
        let t = Instant::now();
        wait_live(&mut session).await;
        recoveries.push(t.elapsed().as_secs_f64() * 1000.0);
    }
    println!(
        "outage of {} s, server back to live view: median {:.0} ms, max {:.0} ms (3 outages)",
        outage.as_secs(),
        median(&mut recoveries.clone()),
        recoveries.iter().cloned().fold(0.0, f64::max)
    );
    drop(session);
    mock.assert_read_only();
}

/// Waits until the session reports that every watch is open.
async fn wait_live(session: &mut live::Session) {
    loop {
        let status = match session.next().await {
            Some(Update::Snapshot(_, s)) | Some(Update::Status(s)) => s,
            None => panic!("session ended"),
        };
        if status.link == live::Link::Live {
            return;
        }
    }
}
