//! Agents into the terminal UI: ten scripted agents on loopback, each sending 20k flows per
//! second in the wire format, read by the UI's own agent source into its channel, and the
//! UI's update (annotation, store) and frames (200x60, every 100 ms) on a 10k-pod cluster.
//! Prints the lag from an agent's send to the flow being in the UI's state (median, p99),
//! the flows lost (channel full) and the send rate reached, frame times, and peak memory.
//! Run with `scripts/bench.sh agents`.
//!
//! Targets: lag <= 1 s (median and p99), no loss at 200k flows/s, frame <= 10 ms.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::SinkExt;
use netpol_tui::app::{update, Msg, Snapshot, SourceInfo, State};
use netpol_tui::cluster::synthetic::{generate, Shape};
use netpol_tui::flow::wire::{self, Frame, Hello};
use netpol_tui::flow::{Datapath, FlowEvent};
use netpol_tui::policy::{EngineOptions, Protocol};
use netpol_tui::theme::{Theme, ThemeSet};
use netpol_tui::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

const AGENTS: usize = 10;
const PER_AGENT: u64 = 20_000;
/// Batches per second per agent (a batch every 10 ms, as a busy node's agent sends them).
const BATCHES: u64 = 100;
const SECONDS: u64 = 10;

fn now_ms() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as u64)
        .unwrap_or(0)
}

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .unwrap_or_default()
        .lines()
        .find(|l| l.starts_with("VmHWM:"))
        .and_then(|l| l.split_whitespace().nth(1))
        .and_then(|v| v.parse::<f64>().ok())
        .map_or(f64::NAN, |kib| kib / 1024.0)
}

fn pct(v: &mut [u64], p: f64) -> u64 {
    v.sort_unstable();
    v[((v.len() - 1) as f64 * p) as usize]
}

/// A scripted agent: hello, then a batch every 10 ms until `SECONDS` have passed; each flow
/// stamped with the time it is sent. Returns how many it sent.
async fn agent(listener: tokio::net::TcpListener, n: usize, pool: Arc<Vec<FlowEvent>>) -> u64 {
    let (socket, _) = listener.accept().await.expect("the UI connects");
    let _ = socket.set_nodelay(true);
    let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
    let hello = Frame::Hello(Hello {
        node: format!("node-{n}"),
        kernel: "6.18.0".into(),
        ring_bytes: 4 << 20,
    });
    out.send(wire::encode(&hello)).await.expect("hello");
    let per_batch = (PER_AGENT / BATCHES) as usize;
    let mut every = tokio::time::interval(Duration::from_millis(1000 / BATCHES));
    let end = Instant::now() + Duration::from_secs(SECONDS);
    let mut sent = 0u64;
    let mut at = n * 7919;
    while Instant::now() < end {
        every.tick().await;
        let t = now_ms();
        let batch: Vec<FlowEvent> = (0..per_batch)
            .map(|i| {
                let mut f = pool[(at + i) % pool.len()].clone();
                f.time_ms = t;
                f
            })
            .collect();
        at += per_batch;
        if out.send(wire::encode(&Frame::Flows(batch))).await.is_err() {
            break;
        }
        sent += per_batch as u64;
    }
    sent
}

fn main() {
    let world = generate(Shape::new(10_000, 2_000));
    let snapshot = Snapshot::prepare(world, EngineOptions::default());
    let mut rng = fastrand::Rng::with_seed(5);
    let pods = &snapshot.index.inventory().pods;
    let pool: Arc<Vec<FlowEvent>> = Arc::new(
        (0..50_000)
            .map(|_| FlowEvent {
                time_ms: 0,
                src: pods[rng.usize(..pods.len())].ips[0],
                dst: pods[rng.usize(..pods.len())].ips[0],
                protocol: Protocol::Tcp,
                src_port: 40000,
                dst_port: [80u16, 443, 5432, 8080][rng.usize(..4)],
                datapath: if rng.bool() {
                    Datapath::Forwarded
                } else {
                    Datapath::Dropped {
                        reason: "NETFILTER_DROP".into(),
                    }
                },
            })
            .collect(),
    );
    let mut state = State::new(
        snapshot,
        SourceInfo {
            kind: "bench".into(),
            detail: String::new(),
            flows: true,
        },
        ThemeSet::builtin(),
        Theme::builtin_default(),
    );
    update(&mut state, Msg::Resize(200, 60));
    let mut terminal = Terminal::new(TestBackend::new(200, 60)).expect("backend");

    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Msg>(netpol_tui::tui::CHANNEL);
    let lost = Arc::new(AtomicU64::new(0));
    let mut senders = Vec::new();
    rt.block_on(async {
        for n in 0..AGENTS {
            let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
                .await
                .expect("bind");
            let addr = listener.local_addr().expect("addr").to_string();
            senders.push(tokio::spawn(agent(listener, n, pool.clone())));
            tokio::spawn(netpol_tui::tui::agent_source(
                addr,
                tx.clone(),
                lost.clone(),
            ));
        }
    });
    drop(tx);
    println!(
        "{AGENTS} agents x {PER_AGENT} flows/s for {SECONDS} s into the UI (10000 pods, 2000 policies)"
    );
    // The UI's loop, as the terminal runs it: every waiting message, then a frame when due.
    let mut lags: Vec<u64> = Vec::new();
    let mut frames: Vec<u64> = Vec::new();
    let mut received = 0u64;
    let mut connected = 0usize;
    let mut next_frame = Instant::now();
    let started = Instant::now();
    let deadline = started + Duration::from_secs(SECONDS + 3);
    while Instant::now() < deadline {
        let msg =
            rt.block_on(async { tokio::time::timeout(Duration::from_millis(20), rx.recv()).await });
        match msg {
            Ok(Some(Msg::NodeFlows(node, events))) => {
                let oldest = events.iter().map(|e| e.time_ms).min().unwrap_or(0);
                received += events.len() as u64;
                update(&mut state, Msg::NodeFlows(node, events));
                lags.push(now_ms().saturating_sub(oldest));
            }
            Ok(Some(m)) => {
                update(&mut state, m);
            }
            Ok(None) => break,
            Err(_) => {}
        }
        connected = connected.max(state.nodes.connected());
        if Instant::now() >= next_frame {
            let t = Instant::now();
            terminal
                .draw(|f| {
                    views::draw(f, &state);
                })
                .expect("draw");
            frames.push(t.elapsed().as_micros() as u64);
            next_frame = Instant::now() + Duration::from_millis(100);
        }
    }
    let sent: u64 = rt.block_on(async {
        let mut total = 0;
        for s in senders {
            total += s.await.unwrap_or(0);
        }
        total
    });
    let lost = lost.load(Ordering::Relaxed);
    println!(
        "sent {sent} flows ({:.0}k/s), in the UI's state {received}, lost (channel full) {lost}",
        sent as f64 / SECONDS as f64 / 1000.0
    );
    println!(
        "lag from send to state: median {} ms, p99 {} ms, max {} ms ({} batches)",
        pct(&mut lags, 0.5),
        pct(&mut lags, 0.99),
        pct(&mut lags, 1.0),
        lags.len()
    );
    println!(
        "frame 200x60 with the stream: median {:.2} ms, p99 {:.2} ms ({} frames)",
        pct(&mut frames, 0.5) as f64 / 1000.0,
        pct(&mut frames, 0.99) as f64 / 1000.0,
        frames.len()
    );
    println!(
        "nodes connected at once: {connected}/{AGENTS}; peak resident {:.0} MiB",
        peak_rss_mib()
    );
}
