//! Agents as a flow source, against scripted agents on loopback that speak the real wire
//! format: two nodes streaming at once and merged; one killed mid-stream, shown as
//! reconnecting with the reason, then followed again when it is back; losses the agent
//! reports reach the node's report.

use std::time::Duration;

use futures::SinkExt;
use netpol_tui::flow::agents::{follow, AgentEvent, NodeReport, NodeState};
use netpol_tui::flow::wire::{self, Counters, Frame, Hello};
use netpol_tui::flow::{Datapath, FlowEvent};
use netpol_tui::policy::Protocol;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

const WAIT: Duration = Duration::from_secs(10);

fn flow(port: u16) -> FlowEvent {
    FlowEvent {
        time_ms: 1_795_348_800_000 + u64::from(port),
        src: "10.1.0.10".parse().unwrap(),
        dst: "10.1.0.11".parse().unwrap(),
        protocol: Protocol::Tcp,
        src_port: 40000,
        dst_port: port,
        datapath: Datapath::Forwarded,
    }
}

/// A scripted agent on `listener`: hello as `node`, then `batches` batches of flows on
/// `port`, counters, then it holds the connection until `stop` fires (or forever).
fn agent(
    listener: TcpListener,
    node: &str,
    port: u16,
    batches: usize,
    stop: Option<oneshot::Receiver<()>>,
) -> tokio::task::JoinHandle<()> {
    let node = node.to_string();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
        let hello = Frame::Hello(Hello {
            node,
            kernel: "6.18.0".into(),
            ring_bytes: 4 << 20,
        });
        out.send(wire::encode(&hello)).await.unwrap();
        for _ in 0..batches {
            let batch: Vec<FlowEvent> = (0..100).map(|_| flow(port)).collect();
            out.send(wire::encode(&Frame::Flows(batch))).await.unwrap();
        }
        let counters = Counters {
            kernel_lost: 3,
            reader_lost: 0,
            sent: 100 * batches as u64,
        };
        out.send(wire::encode(&Frame::Counters(counters)))
            .await
            .unwrap();
        match stop {
            Some(stop) => {
                let _ = stop.await;
            }
            None => std::future::pending::<()>().await,
        }
        // Dropping the socket ends the stream, as a killed agent's does.
    })
}

fn start(addr: String) -> mpsc::UnboundedReceiver<AgentEvent> {
    let (tx, rx) = mpsc::unbounded_channel();
    tokio::spawn(follow(
        addr,
        || 1_795_348_900_000,
        move |e| tx.send(e).is_ok(),
    ));
    rx
}

/// Receives until `done` says so, keeping every flow and the latest report per address.
async fn until(
    rx: &mut mpsc::UnboundedReceiver<AgentEvent>,
    flows: &mut Vec<FlowEvent>,
    reports: &mut std::collections::BTreeMap<String, NodeReport>,
    what: &str,
    done: impl Fn(&[FlowEvent], &std::collections::BTreeMap<String, NodeReport>) -> bool,
) {
    let deadline = tokio::time::Instant::now() + WAIT;
    while !done(flows, reports) {
        match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Some(AgentEvent::Flows { node, flows: f })) => {
                assert!(node.is_some(), "flows carry the node that said hello");
                flows.extend(f)
            }
            Ok(Some(AgentEvent::Node(r))) => {
                reports.insert(r.addr.clone(), r);
            }
            Ok(None) => panic!("the source ended while waiting for {what}"),
            Err(_) => panic!("no {what} within {WAIT:?}: {reports:#?}"),
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_nodes_are_merged_and_a_lost_agent_is_followed_back() {
    let a = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let (addr_a, addr_b) = (
        a.local_addr().unwrap().to_string(),
        b.local_addr().unwrap().to_string(),
    );
    let (kill_b, killed_b) = oneshot::channel();
    let _agent_a = agent(a, "node-a", 8080, 5, None);
    let agent_b = agent(b, "node-b", 9090, 3, Some(killed_b));

    // One channel, as the UI's: both agents' flows arrive merged, with a report per node.
    let (tx, mut rx) = mpsc::unbounded_channel();
    for addr in [addr_a.clone(), addr_b.clone()] {
        let tx = tx.clone();
        tokio::spawn(follow(
            addr,
            || 1_795_348_900_000,
            move |e| tx.send(e).is_ok(),
        ));
    }
    drop(tx);
    let mut flows = Vec::new();
    let mut reports = std::collections::BTreeMap::new();
    until(&mut rx, &mut flows, &mut reports, "800 flows", |f, r| {
        f.len() == 800 && r.values().filter(|r| r.counters.kernel_lost == 3).count() == 2
    })
    .await;
    assert_eq!(flows.iter().filter(|f| f.dst_port == 8080).count(), 500);
    assert_eq!(flows.iter().filter(|f| f.dst_port == 9090).count(), 300);
    let b_report = &reports[&addr_b];
    assert_eq!(b_report.node.as_deref(), Some("node-b"));
    assert_eq!(b_report.kernel.as_deref(), Some("6.18.0"));
    assert_eq!(b_report.ring_bytes, Some(4 << 20));
    assert_eq!(b_report.flows, 300);
    assert_eq!(b_report.newest_ms, Some(1_795_348_800_000 + 9090));
    assert!(b_report.connected());

    // Node b's agent dies: its report says reconnecting and why; node a is untouched.
    kill_b.send(()).unwrap();
    agent_b.await.unwrap();
    until(
        &mut rx,
        &mut flows,
        &mut reports,
        "b reconnecting",
        |_, r| matches!(r[&addr_b].state, NodeState::Reconnecting { .. }),
    )
    .await;
    let NodeState::Reconnecting { error, .. } = &reports[&addr_b].state else {
        unreachable!()
    };
    assert!(error.contains("closed the stream"), "{error}");
    assert!(reports[&addr_a].connected());

    // It comes back on the same address: followed again, its flows counted on. (Another
    // test's connection may hold the freed port for a moment as its own: tried again.)
    let b = {
        let deadline = tokio::time::Instant::now() + WAIT;
        loop {
            match TcpListener::bind(&addr_b).await {
                Ok(b) => break b,
                Err(e) if tokio::time::Instant::now() < deadline => {
                    let _ = e;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                }
                Err(e) => panic!("cannot bind {addr_b} again: {e}"),
            }
        }
    };
    let _agent_b = agent(b, "node-b", 9090, 2, None);
    until(&mut rx, &mut flows, &mut reports, "b back", |f, r| {
        r[&addr_b].connected() && f.len() == 1000 && r[&addr_b].flows == 500
    })
    .await;
    assert_eq!(flows.iter().filter(|f| f.dst_port == 9090).count(), 500);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_agent_that_is_not_there_is_reported_with_the_reason() {
    // A port nobody listens on: bound, then closed.
    let addr = {
        let l = TcpListener::bind("127.0.0.1:0").await.unwrap();
        l.local_addr().unwrap().to_string()
    };
    let mut rx = start(addr.clone());
    let mut flows = Vec::new();
    let mut reports = std::collections::BTreeMap::new();
    until(&mut rx, &mut flows, &mut reports, "a failure", |_, r| {
        r.get(&addr)
            .is_some_and(|r| matches!(r.state, NodeState::Reconnecting { .. }))
    })
    .await;
    let NodeState::Reconnecting { error, .. } = &reports[&addr].state else {
        unreachable!()
    };
    assert!(error.starts_with("cannot connect"), "{error}");
    assert_eq!(
        reports[&addr].name(),
        addr,
        "named by its address until it says hello"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_frame_of_another_wire_version_is_an_error_named_in_the_report() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    tokio::spawn(async move {
        let (socket, _) = listener.accept().await.unwrap();
        let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
        // Version 99, a hello frame type.
        out.send(bytes::Bytes::from_static(&[99, 1])).await.unwrap();
        std::future::pending::<()>().await;
    });
    let mut rx = start(addr.clone());
    let mut flows = Vec::new();
    let mut reports = std::collections::BTreeMap::new();
    until(
        &mut rx,
        &mut flows,
        &mut reports,
        "the version error",
        |_, r| {
            r.get(&addr)
                .is_some_and(|r| matches!(r.state, NodeState::Reconnecting { .. }))
        },
    )
    .await;
    let NodeState::Reconnecting { error, .. } = &reports[&addr].state else {
        unreachable!()
    };
    assert!(error.contains("wire version 99"), "{error}");
}

/// `trace --agent` reads through the same source: flows of the first connection, the
/// drop said on stderr, then the flows of the agent when it is back, all printed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn trace_follows_an_agent_across_a_reconnect() {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    let (stop, stopped) = oneshot::channel();
    let server = tokio::spawn(async move {
        // First connection: one batch, then it goes away.
        let (socket, _) = listener.accept().await.unwrap();
        let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
        let hello = Frame::Hello(Hello {
            node: "node-a".into(),
            kernel: "6.18.0".into(),
            ring_bytes: 4096,
        });
        out.send(wire::encode(&hello)).await.unwrap();
        out.send(wire::encode(&Frame::Flows(vec![flow(8080)])))
            .await
            .unwrap();
        drop(out);
        // Back: another batch, held until the test ends.
        let (socket, _) = listener.accept().await.unwrap();
        let mut out = tokio_util::codec::FramedWrite::new(socket, wire::codec());
        out.send(wire::encode(&hello)).await.unwrap();
        out.send(wire::encode(&Frame::Flows(vec![flow(9090)])))
            .await
            .unwrap();
        let _ = stopped.await;
    });
    let bin = assert_cmd::cargo::cargo_bin("kubectl-netpol_tui");
    let out = tokio::task::spawn_blocking(move || {
        std::process::Command::new(bin)
            .args(["trace", "--demo", "--agent", &addr, "--duration", "3"])
            .args(["--all-addresses", "-o", "json"])
            .env("NETPOL_TUI_LOG", "off")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let _ = stop.send(());
    server.await.unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    assert!(stderr.contains("agent on node node-a"), "{stderr}");
    assert!(
        stderr.contains("the agent closed the stream; reconnecting"),
        "{stderr}"
    );
    let ports: Vec<u64> = stdout
        .lines()
        .map(|l| serde_json::from_str::<serde_json::Value>(l).unwrap())
        .map(|v| v["dst_port"].as_u64().unwrap_or(0))
        .collect();
    assert_eq!(ports, [8080, 9090], "{stdout}\n{stderr}");
}
