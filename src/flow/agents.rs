//! Agents at addresses as a flow source: each is connected to, its frames are decoded, and
//! its flows are handed on in batches, with a report of the node's health (connected or
//! reconnecting and why, kernel, ring size, flows received, losses, newest flow's time).
//! A lost connection is tried again with capped backoff, reset once the agent says hello;
//! the node stays listed while it is away.

use std::time::Duration;

use futures::StreamExt;
use tokio_util::codec::FramedRead;

use super::wire::{self, Counters, Frame};
use super::FlowEvent;

/// How a node's agent is doing.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeState {
    /// Not connected yet.
    Connecting,
    /// Connected since `since_ms`.
    Connected { since_ms: u64 },
    /// The connection failed at `since_ms` (and is being tried again): the last error.
    Reconnecting { since_ms: u64, error: String },
}

/// One agent as the UI shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeReport {
    /// Where the agent is reached.
    pub addr: String,
    /// From its hello: node name, kernel release, ring buffer size.
    pub node: Option<String>,
    pub kernel: Option<String>,
    pub ring_bytes: Option<u32>,
    pub state: NodeState,
    /// Flows received from this agent since the UI started (all connections).
    pub flows: u64,
    /// The agent's counters on the current connection: events the kernel could not queue,
    /// events this reader missed.
    pub counters: Counters,
    /// Time of the newest flow received (ms since the epoch).
    pub newest_ms: Option<u64>,
}

impl NodeReport {
    pub fn new(addr: &str) -> NodeReport {
        NodeReport {
            addr: addr.to_string(),
            node: None,
            kernel: None,
            ring_bytes: None,
            state: NodeState::Connecting,
            flows: 0,
            counters: Counters::default(),
            newest_ms: None,
        }
    }

    /// The node's name, or the address until the agent has said hello.
    pub fn name(&self) -> &str {
        self.node.as_deref().unwrap_or(&self.addr)
    }

    pub fn connected(&self) -> bool {
        matches!(self.state, NodeState::Connected { .. })
    }
}

/// What an agent source hands on.
#[derive(Debug)]
pub enum AgentEvent {
    /// Flows, with the node that reported them (from its hello).
    Flows {
        node: Option<std::sync::Arc<str>>,
        flows: Vec<FlowEvent>,
    },
    /// The node's report changed (state, hello, counters); sent at most once per batch.
    Node(NodeReport),
}

/// Capped backoff for reconnecting: 250 ms doubling to 4 s, up to 25% jitter, reset when
/// an agent says hello.
struct Backoff {
    next: Duration,
}

impl Backoff {
    const FIRST: Duration = Duration::from_millis(250);
    const MAX: Duration = Duration::from_secs(4);

    async fn wait(&mut self) {
        let base = self.next;
        self.next = (self.next * 2).min(Self::MAX);
        tokio::time::sleep(base + base.mul_f64(fastrand::f64() * 0.25)).await;
    }
}

/// A byte stream from an agent: a TCP connection, or a port-forward through the API server.
pub type AgentStream = Box<dyn tokio::io::AsyncRead + Unpin + Send>;

/// Follows the agent at `addr` (`host:port`) until `emit` returns false (the receiver is
/// gone). `now_ms` gives the time for the report.
pub async fn follow(addr: String, now_ms: impl Fn() -> u64, emit: impl FnMut(AgentEvent) -> bool) {
    let target = addr.clone();
    let connect = move || {
        let target = target.clone();
        async move {
            tokio::net::TcpStream::connect(&target)
                .await
                .map(|s| Box::new(s) as AgentStream)
                .map_err(|e| format!("cannot connect: {e}"))
        }
    };
    follow_with(addr, connect, now_ms, emit).await
}

/// Follows an agent reached by `connect` (called again after every failure), reported
/// under `addr`.
pub async fn follow_with<C, F>(
    addr: String,
    mut connect: C,
    now_ms: impl Fn() -> u64,
    mut emit: impl FnMut(AgentEvent) -> bool,
) where
    C: FnMut() -> F,
    F: std::future::Future<Output = Result<AgentStream, String>>,
{
    let mut report = NodeReport::new(&addr);
    let mut backoff = Backoff {
        next: Backoff::FIRST,
    };
    if !emit(AgentEvent::Node(report.clone())) {
        return;
    }
    loop {
        let result = match connect().await {
            Ok(stream) => read(&addr, stream, &mut report, &now_ms, &mut emit, &mut backoff).await,
            Err(e) => Err(e),
        };
        let error = match result {
            Ok(()) => return,
            Err(e) => e,
        };
        tracing::warn!(%addr, %error, "agent connection failed; retrying");
        let since_ms = match &report.state {
            NodeState::Reconnecting { since_ms, .. } => *since_ms,
            _ => now_ms(),
        };
        report.state = NodeState::Reconnecting { since_ms, error };
        if !emit(AgentEvent::Node(report.clone())) {
            return;
        }
        backoff.wait().await;
    }
}

/// One connection: `Ok` when the receiver is gone, the reason when the connection ends.
async fn read(
    addr: &str,
    stream: AgentStream,
    report: &mut NodeReport,
    now_ms: &impl Fn() -> u64,
    emit: &mut impl FnMut(AgentEvent) -> bool,
    backoff: &mut Backoff,
) -> Result<(), String> {
    let mut frames = FramedRead::new(stream, wire::codec());
    let mut node: Option<std::sync::Arc<str>> = None;
    while let Some(frame) = frames.next().await {
        let frame = frame.map_err(|e| e.to_string())?;
        let event = match wire::decode(&frame).map_err(|e| e.to_string())? {
            Frame::Hello(h) => {
                tracing::info!(%addr, node = %h.node, kernel = %h.kernel, ring = h.ring_bytes, "agent connected");
                node = Some(std::sync::Arc::from(h.node.as_str()));
                report.node = Some(h.node);
                report.kernel = Some(h.kernel);
                report.ring_bytes = Some(h.ring_bytes);
                report.state = NodeState::Connected { since_ms: now_ms() };
                report.counters = Counters::default();
                backoff.next = Backoff::FIRST;
                AgentEvent::Node(report.clone())
            }
            Frame::Flows(flows) => {
                report.flows += flows.len() as u64;
                if let Some(t) = flows.iter().map(|f| f.time_ms).max() {
                    report.newest_ms = Some(report.newest_ms.map_or(t, |n| n.max(t)));
                }
                if !emit(AgentEvent::Flows {
                    node: node.clone(),
                    flows,
                }) {
                    return Ok(());
                }
                AgentEvent::Node(report.clone())
            }
            Frame::Counters(c) => {
                if c.kernel_lost > report.counters.kernel_lost
                    || c.reader_lost > report.counters.reader_lost
                {
                    tracing::warn!(%addr, kernel_lost = c.kernel_lost, reader_lost = c.reader_lost, "agent reports lost flow events");
                }
                report.counters = c;
                AgentEvent::Node(report.clone())
            }
        };
        if !emit(event) {
            return Ok(());
        }
    }
    Err("the agent closed the stream".into())
}
