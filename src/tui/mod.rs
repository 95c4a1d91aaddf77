//! The terminal: raw mode and the alternate screen (always restored: on exit, error, panic,
//! Ctrl-C, SIGTERM and SIGHUP), and the event loop.
//!
//! One bounded channel carries every message to the UI task, which alone owns [`State`]:
//! keys and mouse from an input thread (never dropped), the clock, signals, and flows from a
//! source (dropped and counted when the channel is full, so a flood never stalls the keys).

pub mod views;
pub mod widgets;

use std::io::{self, IsTerminal, Stdout};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use anyhow::{bail, Context as _};
use crossterm::event::{self, DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    disable_raw_mode, enable_raw_mode, EnterAlternateScreen, LeaveAlternateScreen,
};
use ratatui::backend::CrosstermBackend;
use ratatui::Terminal;
use tokio::sync::mpsc;

use crate::app::{update, AuditView, Command, Msg, Snapshot, State};
use crate::cluster::files::{self, Input};
use crate::cluster::live::{self, Session, Target, Update};
use crate::cluster::World;
use crate::flow::demo::DemoTraffic;
use crate::now_ms;
use crate::policy::EngineOptions;

/// Messages waiting for the UI task; beyond this, flows are dropped and counted.
pub const CHANNEL: usize = 4096;
/// Simulated flows per second in the demo.
pub const DEMO_RATE: u64 = 25;

/// Puts the terminal back: the inverse of [`enter`]. Safe to call twice.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

fn enter() -> anyhow::Result<Terminal<CrosstermBackend<Stdout>>> {
    enable_raw_mode().context("cannot put the terminal in raw mode")?;
    let mut out = io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
        restore();
        return Err(e).context("cannot open the alternate screen");
    }
    Terminal::new(CrosstermBackend::new(out)).context("cannot start the terminal")
}

/// Restores the terminal before any panic message is printed.
fn install_panic_hook() {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
}

/// Restores the terminal when dropped, whatever path leaves `run`.
struct Guard;

impl Drop for Guard {
    fn drop(&mut self) {
        restore();
    }
}

/// Why the UI cannot run here: it needs a terminal on both stdin and stdout.
pub const NO_TERMINAL: &str = "the terminal UI needs a terminal on stdin and stdout; in scripts use a subcommand: explain, matrix or effective (see --help)";

pub fn has_terminal() -> bool {
    io::stdout().is_terminal() && io::stdin().is_terminal()
}

/// The live cluster as a source: its session and what was asked for, so that `:ctx` can
/// reach the kubeconfig's other contexts.
pub struct LiveSource {
    pub start: LiveStart,
    pub target: Target,
}

/// How the live source starts.
pub enum LiveStart {
    /// Read once already.
    Synced(Box<Session>),
    /// Connected to, nothing read yet: the UI draws while the cluster is read, and retries
    /// while the API server does not answer.
    Connecting(live::Connection),
}

/// What feeds the UI besides the terminal.
#[derive(Default)]
pub struct Sources {
    /// Simulated traffic over the world (the demo).
    pub demo_flows: bool,
    pub live: Option<LiveSource>,
    /// Recorded flows to read (`trace -o json` or Hubble JSON lines; `-` for stdin).
    pub recorded: Vec<String>,
    /// Agents to read, by address (`host:port`).
    pub agents: Vec<String>,
    /// On a live cluster, the agent pods to find and read through port-forwards (`None`:
    /// do not look for them).
    pub cluster_agents: Option<crate::cluster::live::agents::AgentPods>,
}

/// Runs the UI until the user quits or a signal arrives, on `runtime` (the one the live
/// session was started on, if any).
pub fn run(
    mut state: State,
    runtime: tokio::runtime::Runtime,
    sources: Sources,
) -> anyhow::Result<Option<crate::process::Signal>> {
    if !has_terminal() {
        bail!(NO_TERMINAL);
    }
    install_panic_hook();
    let mut terminal = enter()?;
    let _guard = Guard;
    let size = terminal.size().context("cannot read the terminal size")?;
    update(&mut state, Msg::Resize(size.width, size.height));
    // The terminal is restored when `_guard` goes, before the caller exits.
    let result = runtime.block_on(event_loop(&mut terminal, state, sources));
    // Watches and timers end with the runtime; do not wait for a slow connection to close.
    runtime.shutdown_background();
    result
}

async fn event_loop(
    terminal: &mut Terminal<CrosstermBackend<Stdout>>,
    mut state: State,
    sources: Sources,
) -> anyhow::Result<Option<crate::process::Signal>> {
    let (tx, mut rx) = mpsc::channel::<Msg>(CHANNEL);
    let stop = Arc::new(AtomicBool::new(false));
    let lost = Arc::new(AtomicU64::new(0));

    spawn_input(tx.clone(), stop.clone());
    tokio::spawn(signals(tx.clone()));
    tokio::spawn(ticker(tx.clone(), lost.clone()));
    if sources.demo_flows {
        let traffic = DemoTraffic::new(state.snapshot.index.clone(), now_ms());
        tokio::spawn(demo_source(traffic, tx.clone(), lost.clone()));
    }
    for path in sources.recorded {
        let tx = tx.clone();
        tokio::task::spawn_blocking(move || recorded_source(&path, tx));
    }
    for addr in sources.agents {
        tokio::spawn(agent_source(addr, tx.clone(), lost.clone()));
    }
    // The agents follow the context: the live source says when it changes.
    let (client_tx, client_rx) = tokio::sync::watch::channel::<Option<kube::Client>>(None);
    if let Some(live) = &sources.live {
        let client = match &live.start {
            LiveStart::Synced(s) => s.connection.client.clone(),
            LiveStart::Connecting(c) => c.client.clone(),
        };
        client_tx.send_replace(Some(client));
        if let Some(pods) = sources.cluster_agents {
            tokio::spawn(cluster_agents(client_rx, pods, tx.clone(), lost.clone()));
        }
    }
    let options = state.snapshot.options();
    let switch = sources.live.map(|live| {
        let (switch_tx, switch_rx) = mpsc::channel::<String>(4);
        tokio::spawn(live_source(live, options, tx.clone(), switch_rx, client_tx));
        switch_tx
    });
    // Jobs the UI asks for (audits, files) answer on the channel too.
    let jobs = Jobs {
        tx: tx.clone(),
        switch,
    };
    drop(tx);
    for command in state.begin() {
        // Starting commands never quit.
        let _ = jobs.run(command);
    }

    let mut info = views::FrameInfo::default();
    terminal.draw(|f| info = views::draw(f, &state))?;
    update(
        &mut state,
        Msg::Rendered {
            detail_lines: info.detail_lines,
        },
    );
    'outer: while let Some(first) = rx.recv().await {
        // Take everything already waiting, then draw once.
        let mut next = Some(first);
        let mut handled = 0;
        while let Some(msg) = next.take() {
            for command in update(&mut state, msg) {
                if jobs.run(command).is_break() {
                    break 'outer;
                }
            }
            handled += 1;
            if handled < 512 {
                next = rx.try_recv().ok();
            }
        }
        terminal.draw(|f| info = views::draw(f, &state))?;
        update(
            &mut state,
            Msg::Rendered {
                detail_lines: info.detail_lines,
            },
        );
    }
    stop.store(true, Ordering::Relaxed);
    Ok(state.ended_by)
}

/// Carries out what `update` asks for: heavy or I/O work goes to blocking threads, and
/// answers come back as messages.
struct Jobs {
    tx: mpsc::Sender<Msg>,
    switch: Option<mpsc::Sender<String>>,
}

impl Jobs {
    fn run(&self, command: Command) -> std::ops::ControlFlow<()> {
        match command {
            Command::Quit => return std::ops::ControlFlow::Break(()),
            Command::SwitchContext(name) => {
                if let Some(switch) = &self.switch {
                    let _ = switch.try_send(name);
                }
            }
            Command::Release(old) => {
                tokio::task::spawn_blocking(move || drop(old));
            }
            Command::PrepareAudit {
                current,
                changes,
                generation,
            } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let view = AuditView::prepare(current, &changes, generation);
                    let _ = tx.blocking_send(Msg::Audit(view));
                });
            }
            Command::LoadStage(path) => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let inputs = [Input::from_arg(&path)];
                    let result = files::load_staged(&inputs, &mut std::io::empty())
                        .map(|read| (path.clone(), read.changes))
                        .map_err(|e| format!(":stage {path}: {e}"));
                    let _ = tx.blocking_send(Msg::Staged(result));
                });
            }
            Command::WriteFile { path, contents } => {
                let tx = self.tx.clone();
                tokio::task::spawn_blocking(move || {
                    let result = std::fs::write(&path, contents)
                        .map(|()| format!("wrote {path}"))
                        .map_err(|e| format!("cannot write {path}: {e}"));
                    let _ = tx.blocking_send(Msg::Note(result));
                });
            }
        }
        std::ops::ControlFlow::Continue(())
    }
}

/// Reads the terminal on a thread of its own: crossterm's read blocks.
fn spawn_input(tx: mpsc::Sender<Msg>, stop: Arc<AtomicBool>) {
    std::thread::spawn(move || {
        while !stop.load(Ordering::Relaxed) {
            match event::poll(Duration::from_millis(100)) {
                Ok(false) => continue,
                Ok(true) => {}
                Err(_) => break,
            }
            let msg = match event::read() {
                Ok(Event::Key(k)) => Msg::Key(k),
                Ok(Event::Mouse(m)) => Msg::Mouse(m),
                Ok(Event::Resize(w, h)) => Msg::Resize(w, h),
                Ok(_) => continue,
                Err(_) => break,
            };
            // Input is never dropped: wait for room.
            if tx.blocking_send(msg).is_err() {
                break;
            }
        }
    });
}

async fn signals(tx: mpsc::Sender<Msg>) {
    let signal = crate::process::signal().await;
    let _ = tx.send(Msg::Terminate(signal)).await;
}

async fn ticker(tx: mpsc::Sender<Msg>, lost: Arc<AtomicU64>) {
    let mut every = tokio::time::interval(Duration::from_millis(250));
    let mut last_lost = 0;
    loop {
        every.tick().await;
        if tx.send(Msg::Tick { now_ms: now_ms() }).await.is_err() {
            return;
        }
        let n = lost.load(Ordering::Relaxed);
        if n != last_lost {
            tracing::warn!(
                lost = n - last_lost,
                total = n,
                "flow events dropped: the UI fell behind"
            );
            last_lost = n;
            if tx.send(Msg::FlowsLost(n)).await.is_err() {
                return;
            }
        }
    }
}

/// The demo's flows per batch: `DEMO_RATE` a second, sent every 200 ms as one message.
const DEMO_BATCH: u64 = 5;

async fn demo_source(mut traffic: DemoTraffic, tx: mpsc::Sender<Msg>, lost: Arc<AtomicU64>) {
    let mut every = tokio::time::interval(Duration::from_millis(1000 * DEMO_BATCH / DEMO_RATE));
    loop {
        every.tick().await;
        let now = now_ms();
        let mut batch = Vec::with_capacity(DEMO_BATCH as usize);
        let mut ended = false;
        for i in 0..DEMO_BATCH {
            // Spread over the interval, as if they had come one by one.
            let at = now.saturating_sub((DEMO_BATCH - 1 - i) * 1000 / DEMO_RATE);
            match traffic.next(at) {
                Some(event) => batch.push(event),
                None => {
                    ended = true;
                    break;
                }
            }
        }
        let n = batch.len() as u64;
        if n > 0 {
            match tx.try_send(Msg::Flows(batch)) {
                Ok(()) => {}
                Err(mpsc::error::TrySendError::Full(_)) => {
                    lost.fetch_add(n, Ordering::Relaxed);
                }
                Err(mpsc::error::TrySendError::Closed(_)) => return,
            }
        }
        if ended {
            return;
        }
    }
}

/// Reads an agent into the UI: its flows in the batches it sends them in (a full channel
/// drops and counts them, as for every live stream), and its node's reports.
pub async fn agent_source(addr: String, tx: mpsc::Sender<Msg>, lost: Arc<AtomicU64>) {
    crate::flow::agents::follow(addr, now_ms, |e| forward_agent(&tx, &lost, e)).await
}

/// How long to wait before listing the agent pods again when listing or watching failed.
const AGENT_RELIST: Duration = Duration::from_secs(5);

/// Finds the cluster's agent pods and reads each through a port-forward; pods that come are
/// followed, pods that go are shown as gone (never hidden). A failure to list is said once.
async fn cluster_agents(
    mut clients: tokio::sync::watch::Receiver<Option<kube::Client>>,
    pods: crate::cluster::live::agents::AgentPods,
    tx: mpsc::Sender<Msg>,
    lost: Arc<AtomicU64>,
) {
    use crate::cluster::live::agents;
    use crate::flow::agents::{follow_with, NodeReport, NodeState};
    let mut followed: std::collections::BTreeMap<String, tokio::task::JoinHandle<()>> =
        std::collections::BTreeMap::new();
    let mut said: Option<String> = None;
    loop {
        if clients.has_changed().unwrap_or(false) {
            // Another context: its agents replace these, whose nodes are another cluster's.
            for (_, task) in std::mem::take(&mut followed) {
                task.abort();
            }
            if tx.send(Msg::NodesCleared).await.is_err() {
                return;
            }
        }
        let Some(client) = clients.borrow_and_update().clone() else {
            return;
        };
        let mut version = None;
        match agents::listed(&client, &pods).await {
            Ok((found, listed_at)) => {
                said = None;
                version = Some(listed_at);
                for pod in &found {
                    if followed.contains_key(&pod.name) {
                        continue;
                    }
                    tracing::info!(pod = %pod.name, node = ?pod.node, "agent pod found");
                    let (client, pods, name) = (client.clone(), pods.clone(), pod.name.clone());
                    let (tx, lost) = (tx.clone(), lost.clone());
                    let label = format!("pod/{name}");
                    let connect = move || {
                        let (client, pods, name) = (client.clone(), pods.clone(), name.clone());
                        async move { agents::open(&client, &pods, &name).await }
                    };
                    let task = tokio::spawn(follow_with(label, connect, now_ms, move |e| {
                        forward_agent(&tx, &lost, e)
                    }));
                    followed.insert(pod.name.clone(), task);
                }
                let gone: Vec<String> = followed
                    .keys()
                    .filter(|n| !found.iter().any(|p| &p.name == *n))
                    .cloned()
                    .collect();
                for name in gone {
                    if let Some(task) = followed.remove(&name) {
                        task.abort();
                    }
                    let mut report = NodeReport::new(&format!("pod/{name}"));
                    report.state = NodeState::Reconnecting {
                        since_ms: now_ms(),
                        error: "the agent pod is gone".into(),
                    };
                    if tx.send(Msg::Node(report)).await.is_err() {
                        return;
                    }
                }
            }
            Err(e) => {
                if said.as_ref() != Some(&e) {
                    tracing::warn!(error = %e, "cannot list the agent pods");
                    if tx.send(Msg::Note(Err(e.clone()))).await.is_err() {
                        return;
                    }
                    said = Some(e);
                }
            }
        }
        if tx.is_closed() {
            return;
        }
        // Listed: watch for a change, then list again. Not listed (or the watch failed):
        // wait a while first.
        let wait = async {
            let changed = match &version {
                Some(v) => agents::changed(&client, &pods, v).await,
                None => false,
            };
            if !changed {
                tokio::time::sleep(AGENT_RELIST).await;
            }
        };
        tokio::select! {
            _ = wait => {}
            changed = clients.changed() => {
                if changed.is_err() {
                    return;
                }
                // Seen again at the top of the loop.
                clients.mark_changed();
            }
        }
    }
}

/// Hands an agent's event to the UI: a full channel drops flows and counts them, as for
/// every live stream; `false` once the UI is gone.
fn forward_agent(
    tx: &mpsc::Sender<Msg>,
    lost: &AtomicU64,
    event: crate::flow::agents::AgentEvent,
) -> bool {
    use crate::flow::agents::AgentEvent;
    let (msg, flows) = match event {
        AgentEvent::Flows { node, flows } => {
            let n = flows.len() as u64;
            (Msg::NodeFlows(node, flows), n)
        }
        AgentEvent::Node(r) => (Msg::Node(r), 0),
    };
    match tx.try_send(msg) {
        Ok(()) => true,
        Err(mpsc::error::TrySendError::Full(_)) => {
            lost.fetch_add(flows, Ordering::Relaxed);
            true
        }
        Err(mpsc::error::TrySendError::Closed(_)) => false,
    }
}

/// Flows in a batch.
const BATCH: usize = 1024;

/// Reads recorded flows into the UI in batches (waiting for room: a file is not a live
/// stream, nothing of it need be lost), then says what was read.
fn recorded_source(path: &str, tx: mpsc::Sender<Msg>) {
    let reader: Result<Box<dyn std::io::BufRead>, String> = if path == "-" {
        Err("--flows -: stdin is the terminal's while the UI runs; give a file".into())
    } else {
        std::fs::File::open(path)
            .map(|f| Box::new(std::io::BufReader::new(f)) as Box<dyn std::io::BufRead>)
            .map_err(|e| format!("--flows {path}: cannot read: {e}"))
    };
    let mut reader = match reader {
        Ok(r) => r,
        Err(e) => {
            let _ = tx.blocking_send(Msg::Note(Err(e)));
            return;
        }
    };
    let mut batch = Vec::with_capacity(BATCH);
    let mut closed = false;
    let report = crate::flow::record::read(&mut reader, |e| {
        if closed {
            return;
        }
        batch.push(e);
        if batch.len() == BATCH {
            closed = tx
                .blocking_send(Msg::Flows(std::mem::take(&mut batch)))
                .is_err();
        }
    });
    if !batch.is_empty() {
        let _ = tx.blocking_send(Msg::Flows(batch));
    }
    let note = match report {
        Ok(r) => {
            tracing::info!(
                path,
                flows = r.flows,
                bad = r.bad_lines,
                "recorded flows read"
            );
            let first_bad = r
                .bad
                .first()
                .map(|(line, why)| format!("; first bad line {path}:{line}: {why}"))
                .unwrap_or_default();
            Ok(format!("{path}: {}{first_bad}", r.summary()))
        }
        Err(e) => Err(format!("--flows {path}: {e}")),
    };
    let _ = tx.blocking_send(Msg::Note(note));
}

/// Forwards the live session's status and worlds, each world prepared here, off the UI task
/// (when several wait, only the newest is prepared); switches context on request: the new
/// context is connected and synced first; if that fails the current one goes on.
async fn live_source(
    live: LiveSource,
    options: EngineOptions,
    tx: mpsc::Sender<Msg>,
    mut switch: mpsc::Receiver<String>,
    client: tokio::sync::watch::Sender<Option<kube::Client>>,
) {
    let LiveSource { start, target } = live;
    let mut session = match start {
        LiveStart::Synced(s) => *s,
        LiveStart::Connecting(c) => match open_session(c, &target, &tx, &mut switch).await {
            Some(s) => {
                client.send_replace(Some(s.connection.client.clone()));
                s
            }
            None => return,
        },
    };
    loop {
        let (world, statuses) = tokio::select! {
            update = session.next() => {
                let Some(first) = update else { return };
                let mut world = None;
                let mut statuses = Vec::new();
                let mut next = Some(first);
                while let Some(update) = next.take() {
                    match update {
                        Update::Snapshot(w, status) => {
                            world = Some(w);
                            statuses.push(status);
                        }
                        Update::Status(status) => statuses.push(status),
                    }
                    next = session.try_next();
                }
                (world, statuses)
            }
            Some(context) = switch.recv() => {
                let next = Target {
                    context: Some(context.clone()),
                    ..target.clone()
                };
                match live::open(&next, live::SYNC_LIMIT).await {
                    Ok((new, world, status)) => {
                        session = new;
                        client.send_replace(Some(session.connection.client.clone()));
                        (Some(world), vec![status])
                    }
                    Err(e) => {
                        let msg = Msg::SwitchFailed(format!("context {context}: {e}"));
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                        continue;
                    }
                }
            }
        };
        let prepared = match world {
            Some(w) => match prepare(w, options.clone()).await {
                Some(p) => Some(p),
                None => return,
            },
            None => None,
        };
        for status in statuses {
            if tx.send(Msg::Live(status)).await.is_err() {
                return;
            }
        }
        if let Some(p) = prepared {
            if tx.send(Msg::Snapshot(p)).await.is_err() {
                return;
            }
        }
    }
}

/// How long asking what may be read can take before trying again.
const OPEN_LIMIT: Duration = Duration::from_secs(20);

/// Opens a session on `connection`, retrying (1 s doubling to 8 s) while the API server
/// cannot be reached or does not answer; `:ctx` moves to another context meanwhile. Each
/// failure is shown. `None` once the UI is gone.
async fn open_session(
    mut connection: live::Connection,
    target: &Target,
    tx: &mpsc::Sender<Msg>,
    switch: &mut mpsc::Receiver<String>,
) -> Option<Session> {
    let mut wait = Duration::from_secs(1);
    loop {
        let failed = tokio::select! {
            opened = live::open_within(connection.clone(), OPEN_LIMIT) => match opened {
                Ok(session) => return Some(session),
                Err(e) => Some(e),
            },
            Some(context) = switch.recv() => {
                connection = retarget(connection, context, target, tx).await?;
                None
            }
        };
        let Some(error) = failed else { continue };
        let text = format!("{error}; trying again in {} s", wait.as_secs());
        tx.send(Msg::SwitchFailed(text)).await.ok()?;
        tokio::select! {
            _ = tokio::time::sleep(wait) => {}
            Some(context) = switch.recv() => {
                connection = retarget(connection, context, target, tx).await?;
            }
        }
        wait = (wait * 2).min(Duration::from_secs(8));
    }
}

/// The connection for another context, announced as connecting; the current one if the
/// kubeconfig has no such context. `None` once the UI is gone.
async fn retarget(
    current: live::Connection,
    context: String,
    target: &Target,
    tx: &mpsc::Sender<Msg>,
) -> Option<live::Connection> {
    let next = Target {
        context: Some(context.clone()),
        ..target.clone()
    };
    match live::connect(&next).await {
        Ok(c) => {
            tx.send(Msg::Live(live::connecting(&c))).await.ok()?;
            Some(c)
        }
        Err(e) => {
            tx.send(Msg::SwitchFailed(format!("context {context}: {e}")))
                .await
                .ok()?;
            Some(current)
        }
    }
}

/// Prepares a world on a blocking thread; `None` if the runtime is shutting down.
async fn prepare(world: World, options: EngineOptions) -> Option<Arc<Snapshot>> {
    let prepared = tokio::task::spawn_blocking(move || Snapshot::prepare(world, options))
        .await
        .ok()?;
    tracing::info!(
        pods = prepared.index.inventory().pods.len(),
        policies = prepared.index.policies().policies.len(),
        classes = prepared.index.class_count(),
        ms = prepared.build_ms,
        "world prepared"
    );
    Some(prepared)
}
