//! Terminal UI benchmark: frame render time and memory with 10k pods, 2k policies and 100k
//! flows in the store; fuzzy query latency over 50k finder entries; key-to-frame latency while
//! a live source sends a new 10k-pod world every 200 ms. Prints figures; run with
//! `scripts/bench.sh tui` (`cargo bench --bench tui -- churn` for the last one alone).
//!
//! Targets: <= 10 ms per frame, <= 20 ms per query, <= 200 MB resident, key to frame under
//! churn <= 20 ms (median and p99).

use std::hint::black_box;
use std::time::{Duration, Instant};

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use netpol_tui::app::finder::{self, Matcher};
use netpol_tui::app::{update, Msg, Snapshot, SourceInfo, State};
use netpol_tui::cluster::synthetic::{generate, Shape};
use netpol_tui::flow::{Datapath, FlowEvent};
use netpol_tui::policy::{EngineOptions, Flow, Index, Protocol};
use netpol_tui::theme::{Theme, ThemeSet};
use netpol_tui::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

mod common;

use common::{live, mib, Counting};

#[global_allocator]
static ALLOC: Counting = Counting;

/// Resident set size and its peak, from /proc (Linux).
fn rss() -> (f64, f64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<f64>().ok())
            .map_or(f64::NAN, |kib| kib / 1024.0)
    };
    (field("VmRSS:"), field("VmHWM:"))
}

fn percentile(mut v: Vec<Duration>, p: f64) -> Duration {
    v.sort();
    v[((v.len() - 1) as f64 * p) as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn key(s: &mut State, code: KeyCode, mods: KeyModifiers) {
    update(s, Msg::Key(KeyEvent::new(code, mods)));
}

fn type_text(s: &mut State, text: &str) {
    for c in text.chars() {
        key(s, KeyCode::Char(c), KeyModifiers::NONE);
    }
}

/// Flow events between random pods (and some outside addresses), with the datapath
/// following the policies.
fn flow_events(index: &Index, n: usize) -> Vec<FlowEvent> {
    let mut rng = fastrand::Rng::with_seed(9);
    let pods = &index.inventory().pods;
    let ports = [53u16, 80, 443, 5432, 6379, 8080, 9090];
    (0..n)
        .map(|i| {
            let src = pods[rng.usize(..pods.len())].ips[0];
            let dst = if rng.u8(..10) == 0 {
                std::net::IpAddr::from([203, 0, 113, rng.u8(..)])
            } else {
                pods[rng.usize(..pods.len())].ips[0]
            };
            let port = ports[rng.usize(..ports.len())];
            let flow = Flow {
                src: index.endpoint_for_ip(src),
                dst: index.endpoint_for_ip(dst),
                protocol: Protocol::Tcp,
                port,
            };
            let datapath = if index.verdict(&flow).allowed() {
                Datapath::Forwarded
            } else {
                Datapath::Dropped {
                    reason: "NETFILTER_DROP".into(),
                }
            };
            FlowEvent {
                time_ms: 1_795_348_800_000 + i as u64,
                src,
                dst,
                protocol: Protocol::Tcp,
                src_port: 40000,
                dst_port: port,
                datapath,
            }
        })
        .collect()
}

fn ui_state(world: netpol_tui::cluster::World, flows: bool) -> State {
    State::new(
        Snapshot::prepare(world, EngineOptions::default()),
        SourceInfo {
            kind: "bench".into(),
            detail: String::new(),
            flows,
        },
        ThemeSet::builtin(),
        Theme::builtin_default(),
    )
}

fn frames(state: &mut State, w: u16, h: u16, n: usize) -> Vec<Duration> {
    update(state, Msg::Resize(w, h));
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
    (0..n)
        .map(|_| {
            let t = Instant::now();
            terminal
                .draw(|f| {
                    black_box(views::draw(f, state));
                })
                .expect("draw");
            t.elapsed()
        })
        .collect()
}

fn main() {
    // `cargo bench --bench tui -- churn` runs only the churn measurement.
    if std::env::args().skip(1).any(|a| a == "churn") {
        churn();
        return;
    }
    let (rss0, _) = rss();
    let t = Instant::now();
    let world = generate(Shape::new(10_000, 2_000));
    let generate_time = t.elapsed();
    let live0 = live();
    let t = Instant::now();
    let mut state = ui_state(world, true);
    let build = t.elapsed();
    let live_state = live();
    let events = flow_events(&state.snapshot.index, 100_000);
    let t = Instant::now();
    for e in events {
        update(&mut state, Msg::Flows(vec![e]));
    }
    let annotate = t.elapsed();
    let live_flows = live();
    println!(
        "world: 10000 pods, 2000 policies (generated in {:.0} ms)",
        ms(generate_time)
    );
    println!(
        "UI state (index, view models, finder entries): {:.0} ms, {:.1} MiB heap",
        ms(build),
        mib(live_state - live0)
    );
    println!(
        "100k flows annotated and stored: {:.0} ms ({:.2} us/flow), {:.1} MiB heap",
        ms(annotate),
        annotate.as_secs_f64() * 1e6 / 100_000.0,
        mib(live_flows - live_state)
    );

    // Frames: the main screen on a pod, the policy view, a filtered tree, the explain dialog.
    let report = |name: &str, state: &mut State| {
        for (w, h) in [(120u16, 40u16), (200, 60)] {
            let f = frames(state, w, h, 200);
            println!(
                "frame {name:<22} {w}x{h}: median {:.2} ms, p99 {:.2} ms",
                ms(percentile(f.clone(), 0.5)),
                ms(percentile(f, 0.99))
            );
        }
    };
    key(&mut state, KeyCode::Down, KeyModifiers::NONE);
    report("pod + 100k flows", &mut state);
    key(&mut state, KeyCode::Char('P'), KeyModifiers::SHIFT);
    key(&mut state, KeyCode::Down, KeyModifiers::NONE);
    report("policy view", &mut state);
    key(&mut state, KeyCode::Char('O'), KeyModifiers::SHIFT);
    key(&mut state, KeyCode::Char('/'), KeyModifiers::NONE);
    let t = Instant::now();
    type_text(&mut state, "app-1");
    let filter_keys = t.elapsed();
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    report("tree filtered", &mut state);
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char(':'), KeyModifiers::NONE);
    let from = state.snapshot.index.inventory().pods[0].key();
    let to = state.snapshot.index.inventory().pods[1].key();
    type_text(&mut state, &format!("explain {from} {to} 8080"));
    key(&mut state, KeyCode::Enter, KeyModifiers::NONE);
    report("explain dialog", &mut state);
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
    println!(
        "tree filter over 10k pods: {:.2} ms per key (5 keys)",
        ms(filter_keys) / 5.0
    );

    // Flow filter: one keystroke refilters all 100k stored flows.
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Tab, KeyModifiers::NONE);
    key(&mut state, KeyCode::Char('/'), KeyModifiers::NONE);
    let t = Instant::now();
    type_text(&mut state, "ns-1");
    println!(
        "flow filter over 100k flows: {:.1} ms per key (4 keys)",
        ms(t.elapsed()) / 4.0
    );
    key(&mut state, KeyCode::Esc, KeyModifiers::NONE);

    let (rss_now, rss_peak) = rss();
    println!(
        "resident: {rss_now:.0} MiB now, {rss_peak:.0} MiB peak (process start {rss0:.0} MiB)"
    );
    drop(state);

    // Fuzzy finder over 50k entries: fresh searches, then typing into the finder (each key
    // narrows the previous key's matches).
    let world = generate(Shape::new(45_000, 4_000));
    let mut state = ui_state(world, false);
    let entries = &state.snapshot.entries;
    let n_entries = entries.len();
    let matcher = Matcher::default();
    let queries = [
        "n",
        "ns-1",
        "ns-12/",
        "ns-12/app-3",
        "app=api",
        "zzzz",
        "policy",
    ];
    let mut cold = Vec::new();
    for q in queries {
        let runs: Vec<Duration> = (0..20)
            .map(|_| {
                let t = Instant::now();
                black_box(finder::search(&matcher, entries, q, 200));
                t.elapsed()
            })
            .collect();
        let m = percentile(runs, 0.5);
        cold.push(m);
        println!(
            "finder fresh query {q:<12} over {n_entries} entries: median {:.1} ms",
            ms(m)
        );
    }
    let mut typed = Vec::new();
    for q in ["ns-12/app-3", "production", "app=api", "policy-1"] {
        for _ in 0..5 {
            key(&mut state, KeyCode::Char('p'), KeyModifiers::CONTROL);
            for c in q.chars() {
                let t = Instant::now();
                key(&mut state, KeyCode::Char(c), KeyModifiers::NONE);
                typed.push(t.elapsed());
            }
            key(&mut state, KeyCode::Esc, KeyModifiers::NONE);
        }
    }
    println!(
        "finder typing over {n_entries} entries: per key median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} keys)",
        ms(percentile(typed.clone(), 0.5)),
        ms(percentile(typed.clone(), 0.99)),
        ms(typed.iter().copied().max().unwrap_or_default()),
        typed.len()
    );
    println!(
        "finder worst fresh median: {:.1} ms",
        ms(cold.into_iter().max().unwrap_or_default())
    );
    drop(state);
    churn();
}

/// Key-to-frame latency while a live source sends a new 10k-pod world every 200 ms: keys go
/// through the same channel as the worlds, the loop handles what is waiting and draws once,
/// as the terminal loop does.
fn churn() {
    use std::collections::VecDeque;
    use std::sync::{Arc, Mutex};
    use tokio::sync::mpsc;

    let worlds: Vec<netpol_tui::cluster::World> = (0..2)
        .map(|i| {
            generate(Shape {
                seed: 42 + i,
                ..Shape::new(10_000, 2_000)
            })
        })
        .collect();
    let state = ui_state(worlds[0].clone(), false);
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let run_for = Duration::from_secs(12);
    let sent: Arc<Mutex<VecDeque<Instant>>> = Arc::default();
    let (latencies, snapshots) = rt.block_on(async move {
        let (tx, mut rx) = mpsc::channel::<Msg>(4096);
        let source_tx = tx.clone();
        tokio::spawn(async move {
            let mut every = tokio::time::interval(Duration::from_millis(200));
            for i in 0.. {
                every.tick().await;
                let world = worlds[i % worlds.len()].clone();
                // As the live source does: prepared on a blocking thread, then sent.
                let Ok(prepared) = tokio::task::spawn_blocking(move || {
                    Snapshot::prepare(world, EngineOptions::default())
                })
                .await
                else {
                    return;
                };
                if source_tx.send(Msg::Snapshot(prepared)).await.is_err() {
                    return;
                }
            }
        });
        let keys_sent = sent.clone();
        tokio::spawn(async move {
            let mut rng = fastrand::Rng::with_seed(7);
            for i in 0u32.. {
                tokio::time::sleep(Duration::from_millis(15 + rng.u64(..20))).await;
                let code = if i % 40 < 20 {
                    KeyCode::Down
                } else {
                    KeyCode::Up
                };
                keys_sent.lock().expect("lock").push_back(Instant::now());
                if tx
                    .send(Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
                    .await
                    .is_err()
                {
                    return;
                }
            }
        });
        let mut state = state;
        update(&mut state, Msg::Resize(120, 40));
        let mut terminal = Terminal::new(TestBackend::new(120, 40)).expect("backend");
        let mut latencies = Vec::new();
        let mut snapshots = 0usize;
        let start = Instant::now();
        while let Some(first) = rx.recv().await {
            let mut keys = 0;
            let mut next = Some(first);
            let mut handled = 0;
            while let Some(msg) = next.take() {
                match &msg {
                    Msg::Key(_) => keys += 1,
                    Msg::Snapshot(_) => snapshots += 1,
                    _ => {}
                }
                for command in update(&mut state, msg) {
                    // As the terminal loop does: old worlds are freed elsewhere.
                    if let netpol_tui::app::Command::Release(old) = command {
                        tokio::task::spawn_blocking(move || drop(old));
                    }
                }
                handled += 1;
                if handled < 512 {
                    next = rx.try_recv().ok();
                }
            }
            terminal
                .draw(|f| {
                    black_box(views::draw(f, &state));
                })
                .expect("draw");
            let drawn = Instant::now();
            let mut queue = sent.lock().expect("lock");
            for _ in 0..keys {
                if let Some(t) = queue.pop_front() {
                    latencies.push(drawn - t);
                }
            }
            if start.elapsed() > run_for {
                break;
            }
        }
        (latencies, snapshots)
    });
    rt.shutdown_background();
    println!(
        "key to frame while a new 10k-pod world arrives every 200 ms: median {:.1} ms, p99 {:.1} ms, max {:.1} ms ({} keys, {} worlds)",
        ms(percentile(latencies.clone(), 0.5)),
        ms(percentile(latencies.clone(), 0.99)),
        ms(latencies.iter().copied().max().unwrap_or_default()),
        latencies.len(),
        snapshots
    );
}
