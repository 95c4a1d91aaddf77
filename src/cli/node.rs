//! The node-side commands: `trace` (annotated flows from the local probe or an agent),
//! `agent` (the probe served to readers) and `lab` (a miniature node to try it on).

use std::io::{BufWriter, Write};
use std::net::SocketAddr;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, ValueEnum};

use super::load::load_world;
use super::{engine_options, numbers, runtime, Failure, SourceArgs};
use crate::cluster::World;
#[cfg(all(feature = "probe", target_os = "linux"))]
use crate::flow::wire;
use crate::flow::wire::Counters;
use crate::flow::{annotate, Annotated, FlowEvent, Names, Outcome, VerdictFilter};
use crate::policy::Index;

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum TraceFormat {
    Text,
    Json,
}

/// Which flows `trace` prints.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum VerdictArg {
    /// Dropped by the datapath (by a policy or not).
    Dropped,
    /// Forwarded by the datapath.
    Forwarded,
    /// Where the datapath and the policies disagree.
    Disagreements,
    #[value(name = "blocked_by_policy")]
    BlockedByPolicy,
    #[value(name = "allowed_by_policy")]
    AllowedByPolicy,
    #[value(name = "not_isolated")]
    NotIsolated,
    #[value(name = "datapath_drop")]
    DatapathDrop,
    #[value(name = "policy_not_enforced")]
    PolicyNotEnforced,
}

impl VerdictArg {
    fn admits(self, a: &Annotated) -> bool {
        let o = a.outcome;
        match self {
            // The flow view's filters draw the same lines.
            VerdictArg::Dropped => VerdictFilter::Blocked.admits(o),
            VerdictArg::Forwarded => VerdictFilter::Allowed.admits(o),
            VerdictArg::Disagreements => VerdictFilter::Disagreements.admits(o),
            VerdictArg::BlockedByPolicy => o == Outcome::BlockedByPolicy,
            VerdictArg::AllowedByPolicy => o == Outcome::AllowedByPolicy,
            VerdictArg::NotIsolated => o == Outcome::NotIsolated,
            VerdictArg::DatapathDrop => o == Outcome::DatapathDrop,
            VerdictArg::PolicyNotEnforced => o == Outcome::PolicyNotEnforced,
        }
    }
}

/// What `trace` and `lab` print, and which flows.
#[derive(Debug, Clone, Args)]
pub struct PrintArgs {
    /// Only flows to or from this pod (`ns/name`, or a name in -n's namespace).
    #[arg(long, value_name = "POD")]
    pub pod: Option<String>,
    /// Only flows with this verdict (repeatable).
    #[arg(long, value_enum, value_name = "VERDICT")]
    pub verdict: Vec<VerdictArg>,
    /// Only flows to this destination port.
    #[arg(long, short = 'p', value_parser = numbers::port, allow_hyphen_values = true)]
    pub port: Option<u16>,
    /// Also flows where neither end is a pod of the inventory (the node's own traffic).
    #[arg(long)]
    pub all_addresses: bool,
    /// One line per flow, or one JSON object per line.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: TraceFormat,
    /// Stop after this many seconds (default: until Ctrl-C).
    #[arg(long, value_name = "SECONDS", value_parser = numbers::run_time, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
}

/// How the local probe is set up (`trace` without --agent, `agent`, `lab`).
#[derive(Debug, Clone, Args)]
pub struct ProbeArgs {
    /// Size of the kernel's ring buffer in bytes (rounded up to a power of two).
    #[arg(long, value_name = "BYTES", default_value = "4194304", value_parser = numbers::ring_bytes, allow_hyphen_values = true)]
    pub ring_bytes: u32,
    /// Attach only to pod veths whose name matches this glob (`cali*`, `lxc*`).
    #[arg(long, value_name = "GLOB")]
    pub interfaces: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct TraceArgs {
    /// Read a node agent (`HOST:PORT`, e.g. through `kubectl port-forward`) instead of
    /// running the probe here; a lost connection is tried again, as the UI does.
    #[arg(long, value_name = "ADDR", conflicts_with = "flows")]
    pub agent: Option<String>,
    /// Read recorded flows instead (`trace -o json` lines or Hubble JSON lines; - for
    /// stdin): annotations are worked out again with the world of -f, --demo or the cluster.
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub flows: Vec<String>,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

#[derive(Debug, Clone, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct AgentArgs {
    /// Install the agents on the cluster, or remove them (the only commands that write).
    #[command(subcommand)]
    pub action: Option<AgentAction>,
    /// Where to serve the stream (loopback only; port 0 picks one and prints it).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:9184")]
    pub listen: SocketAddr,
    /// The node's name in the hello frame (default: $NODE_NAME, else the host name).
    #[arg(long, value_name = "NAME")]
    pub node: Option<String>,
    /// Stop after this many seconds (default: until SIGINT or SIGTERM).
    #[arg(long, value_name = "SECONDS", value_parser = numbers::run_time, allow_hyphen_values = true)]
    pub duration: Option<Duration>,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The agent's life on a cluster.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum AgentAction {
    /// Apply the agent's namespace, service account, DaemonSet and the Role for reading it
    /// through port-forwards (server-side apply, field manager netpol-tui). Asks first.
    Install {
        /// The agent's image (build it with deploy/Containerfile).
        #[arg(long, default_value = crate::cluster::live::install::DEFAULT_IMAGE)]
        image: String,
        /// Print the objects as YAML and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Apply without asking (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
    /// Delete exactly what install created. Asks first.
    Uninstall {
        /// Print what would be deleted and change nothing.
        #[arg(long)]
        dry_run: bool,
        /// Delete without asking (needed without a terminal).
        #[arg(long)]
        yes: bool,
    },
}

/// `agent install` and `agent uninstall`: print, ask, then apply or delete.
pub(super) fn agent_action(source: &SourceArgs, action: AgentAction) -> Result<ExitCode, Failure> {
    use crate::cluster::live::{self, install};
    use std::io::{IsTerminal, Write};
    let (image, dry_run, yes, installing) = match &action {
        AgentAction::Install {
            image,
            dry_run,
            yes,
        } => (image.as_str(), *dry_run, *yes, true),
        AgentAction::Uninstall { dry_run, yes } => (install::DEFAULT_IMAGE, *dry_run, *yes, false),
    };
    let objects = install::objects(image);
    if dry_run && installing {
        print!("{}", install::yaml(&objects));
        return Ok(ExitCode::SUCCESS);
    }
    let verb = if installing { "apply" } else { "delete" };
    let listed: Vec<String> = if installing {
        objects.iter().map(|o| o.label()).collect()
    } else {
        objects.iter().rev().map(|o| o.label()).collect()
    };
    if dry_run {
        for l in &listed {
            println!("would {verb} {l}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    if source.demo.is_some() || !source.filenames.is_empty() {
        return Err(Failure::Usage(format!(
            "agent {}: works on a cluster (a kubeconfig context), not on --demo or -f",
            if installing { "install" } else { "uninstall" }
        )));
    }
    let rt = runtime()?;
    let target = super::load::live_target(source);
    let connection = rt.block_on(live::connect(&target))?;
    eprintln!(
        "context {} ({}): {verb} {} objects:",
        connection.context,
        connection.server,
        listed.len()
    );
    for l in &listed {
        eprintln!("  {l}");
    }
    if !yes {
        if !std::io::stdin().is_terminal() {
            return Err(Failure::Usage(format!(
                "not a terminal to ask on: give --yes to {verb} these objects (or --dry-run to see them)"
            )));
        }
        eprint!("{verb} them? [y/N] ");
        let _ = std::io::stderr().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().read_line(&mut answer);
        if !matches!(answer.trim(), "y" | "Y" | "yes") {
            eprintln!("nothing changed");
            return Ok(ExitCode::from(1));
        }
    }
    let client = connection.client.clone();
    let result = rt.block_on(async {
        if installing {
            install::apply(&client, &objects).await
        } else {
            install::delete(&client, &objects).await
        }
    });
    match result {
        Ok(()) => {
            if installing {
                eprintln!(
                    "the agents start on every node; readers need the Role netpol-tui-flow-reader \
                     bound to them (deploy/agent-reader-rbac.yaml has a RoleBinding to edit)"
                );
            }
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Err(Failure::Node(format!("agent {verb}: {e}"))),
    }
}

#[derive(Debug, Clone, Args)]
pub struct LabArgs {
    /// Also serve the flows as an agent does (loopback; port 0 picks one and prints it).
    #[arg(long, value_name = "ADDR")]
    pub serve: Option<SocketAddr>,
    /// An nftables statement for the node's forward chain, before the policies' rules:
    /// a datapath that drops on its own (`ip daddr 10.244.1.11 tcp dport 9090 drop`).
    #[arg(long, value_name = "NFT")]
    pub extra_rule: Vec<String>,
    /// Seconds between the traffic generator's rounds.
    #[arg(long, value_name = "SECONDS", default_value = "1", value_parser = numbers::round, allow_hyphen_values = true)]
    pub round: Duration,
    /// Start no servers and no traffic (for measuring with tools of one's own, run with
    /// `ip netns exec`).
    #[arg(long)]
    pub no_traffic: bool,
    /// Attach no probe: only the node, the pods and the rules (a baseline for measurements).
    #[arg(long)]
    pub no_probe: bool,
    #[command(flatten)]
    pub print: PrintArgs,
    #[command(flatten)]
    pub probe: ProbeArgs,
}

/// The newest world of a cluster's watch (none for manifests and the demo).
type Updates = Option<tokio::sync::watch::Receiver<Option<World>>>;

/// Annotates flows and prints those the filters admit.
pub(super) struct Printer {
    index: Index,
    names: Names,
    /// On a cluster: the worlds the watch delivers; the index follows them.
    updates: Updates,
    options: crate::policy::EngineOptions,
    args: PrintArgs,
    /// `ns/name` of --pod.
    pod: Option<String>,
    namespace: Option<String>,
    out: BufWriter<std::io::Stdout>,
    pub seen: u64,
    pub shown: u64,
    pub counters: Counters,
}

impl Printer {
    pub(super) fn new(
        source: &SourceArgs,
        index: Index,
        args: PrintArgs,
    ) -> Result<Printer, Failure> {
        let pod = match &args.pod {
            Some(p) if p.contains('/') => Some(p.clone()),
            Some(p) => match &source.namespace {
                Some(ns) => Some(format!("{ns}/{p}")),
                None => return Err(Failure::Usage(format!("--pod {p}: give ns/name, or -n"))),
            },
            None => None,
        };
        if let Some(key) = &pod {
            let (ns, name) = key.split_once('/').unwrap_or_default();
            if index.pod_id(ns, name).is_none() {
                return Err(Failure::Usage(format!(
                    "--pod {key}: no such pod in the inventory"
                )));
            }
        }
        Ok(Printer {
            names: Names::new(&index),
            options: index.options().clone(),
            index,
            updates: None,
            args,
            pod,
            namespace: source.namespace.clone(),
            out: BufWriter::new(std::io::stdout()),
            seen: 0,
            shown: 0,
            counters: Counters::default(),
        })
    }

    fn admits(&self, a: &Annotated) -> bool {
        (self.args.all_addresses || a.touches_pod())
            && self
                .namespace
                .as_deref()
                .is_none_or(|ns| a.touches_namespace(ns))
            && self
                .pod
                .as_deref()
                .is_none_or(|p| &*a.src_name == p || &*a.dst_name == p)
            && self.args.port.is_none_or(|p| a.event.dst_port == p)
            && (self.args.verdict.is_empty() || self.args.verdict.iter().any(|v| v.admits(a)))
    }

    /// Takes the newest world from the cluster's watch, if one came.
    fn follow(&mut self) {
        let Some(rx) = &mut self.updates else { return };
        if !rx.has_changed().unwrap_or(false) {
            return;
        }
        let world = rx.borrow_and_update().clone();
        if let Some(w) = world {
            self.index = Index::build(w.inventory, w.policies, self.options.clone());
            self.names = Names::new(&self.index);
        }
    }

    pub(super) fn flows(&mut self, flows: Vec<FlowEvent>) -> std::io::Result<()> {
        self.follow();
        for e in flows {
            self.seen += 1;
            let a = annotate(&self.index, &self.names, e);
            if !self.admits(&a) {
                continue;
            }
            self.shown += 1;
            match self.args.output {
                TraceFormat::Json => {
                    serde_json::to_writer(&mut self.out, &a.record())?;
                    self.out.write_all(b"\n")?;
                }
                TraceFormat::Text => writeln!(self.out, "{}", a.line())?,
            }
        }
        self.out.flush()
    }

    pub(super) fn summary(&self) -> String {
        format!(
            "summary: {} flows seen, {} shown; kernel lost {} (ring full), reader lost {}, kernel sent {}",
            self.seen,
            self.shown,
            self.counters.kernel_lost,
            self.counters.reader_lost,
            self.counters.sent
        )
    }
}

/// The world of `source`, compiled, for the lab (which needs the probe).
#[cfg(all(feature = "probe", target_os = "linux"))]
fn index_for(source: &SourceArgs) -> Result<Index, Failure> {
    let (world, _) = load_world(source, false)?.once();
    Ok(Index::build(
        world.inventory,
        world.policies,
        engine_options(source),
    ))
}

/// The index to annotate with and the runtime to run on. On a cluster the watch goes on in
/// the background, and the printer follows the worlds it delivers.
fn following(source: &SourceArgs) -> Result<(Index, tokio::runtime::Runtime, Updates), Failure> {
    let loaded = load_world(source, false)?;
    let index = Index::build(
        loaded.world.inventory.clone(),
        loaded.world.policies.clone(),
        engine_options(source),
    );
    let Some(live) = loaded.live else {
        return Ok((index, runtime()?, None));
    };
    let (tx, rx) = tokio::sync::watch::channel(None);
    let mut session = live.session;
    live.runtime.spawn(async move {
        while let Some(update) = session.next().await {
            if let crate::cluster::live::Update::Snapshot(world, _) = update {
                if tx.send(Some(world)).is_err() {
                    return;
                }
            }
        }
    });
    Ok((index, live.runtime, Some(rx)))
}

/// Completes after `duration`, or on SIGINT, SIGTERM or SIGHUP.
async fn stop_signal(duration: Option<Duration>) {
    crate::process::until(duration).await;
}

pub(super) fn trace(source: &SourceArgs, args: TraceArgs) -> Result<ExitCode, Failure> {
    let (index, rt, updates) = following(source)?;
    let mut printer = Printer::new(source, index, args.print.clone())?;
    printer.updates = updates;
    let result = match &args.agent {
        _ if !args.flows.is_empty() => read_recorded(&args.flows, &mut printer),
        Some(addr) => rt.block_on(read_agent(addr, &mut printer, args.print.duration)),
        None => local_trace(&rt, &mut printer, &args),
    };
    eprintln!("{}", printer.summary());
    result.map(|()| ExitCode::SUCCESS)
}

/// Recorded flows, annotated and printed as they are read, in batches.
fn read_recorded(paths: &[String], printer: &mut Printer) -> Result<(), Failure> {
    use std::io::BufRead;
    if paths.iter().filter(|p| *p == "-").count() > 1 {
        return Err(Failure::Usage("--flows: stdin (-) can be read once".into()));
    }
    for path in paths {
        let mut reader: Box<dyn BufRead> = if path == "-" {
            Box::new(std::io::BufReader::new(std::io::stdin()))
        } else {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::Usage(format!("--flows {path}: cannot read: {e}")))?;
            Box::new(std::io::BufReader::new(file))
        };
        let mut batch = Vec::with_capacity(1024);
        let mut failed = None;
        let report = crate::flow::record::read(&mut reader, |e| {
            batch.push(e);
            if batch.len() == 1024 && failed.is_none() {
                if let Err(e) = printer.flows(std::mem::take(&mut batch)) {
                    failed = Some(e);
                }
            }
        })
        .map_err(|e| Failure::Usage(format!("--flows {path}: cannot read: {e}")))?;
        if let Some(e) = failed {
            return Err(Failure::Output(e));
        }
        printer.flows(batch).map_err(Failure::Output)?;
        eprintln!("{path}: {}", report.summary());
        for (line, why) in &report.bad {
            eprintln!("warning: {path}:{line}: {why}");
        }
    }
    Ok(())
}

/// `trace --agent`: the agent source the UI uses, printed. The first connection must work (a
/// wrong address is an error, not a wait); after that a lost connection is tried again with
/// the same backoff, and said on stderr.
async fn read_agent(
    addr: &str,
    printer: &mut Printer,
    duration: Option<Duration>,
) -> Result<(), Failure> {
    use crate::flow::agents::{follow_with, AgentEvent, AgentStream, NodeState};
    let first = tokio::net::TcpStream::connect(addr)
        .await
        .map_err(|e| Failure::Node(format!("--agent {addr}: {e}")))?;
    let mut first = Some(first);
    let target = addr.to_string();
    let connect = move || {
        let first = first.take();
        let target = target.clone();
        async move {
            let stream = match first {
                Some(s) => s,
                None => tokio::net::TcpStream::connect(&target)
                    .await
                    .map_err(|e| format!("cannot connect: {e}"))?,
            };
            Ok(Box::new(stream) as AgentStream)
        }
    };
    let mut failed = None;
    let mut said = (false, None::<String>);
    let follow = follow_with(
        addr.to_string(),
        connect,
        crate::now_ms,
        |event| match event {
            AgentEvent::Flows { flows, .. } => match printer.flows(flows) {
                Ok(()) => true,
                Err(e) => {
                    failed = Some(e);
                    false
                }
            },
            AgentEvent::Node(report) => {
                match &report.state {
                    NodeState::Connected { .. } if !said.0 => {
                        said = (true, None);
                        eprintln!(
                            "agent on node {} (kernel {}, ring {} bytes)",
                            report.node.as_deref().unwrap_or("?"),
                            report.kernel.as_deref().unwrap_or("?"),
                            report.ring_bytes.unwrap_or(0)
                        );
                    }
                    NodeState::Reconnecting { error, .. } if said.1.as_ref() != Some(error) => {
                        eprintln!("agent {addr}: {error}; reconnecting");
                        said = (false, Some(error.clone()));
                    }
                    _ => {}
                }
                printer.counters = report.counters;
                true
            }
        },
    );
    tokio::select! {
        _ = stop_signal(duration) => {}
        _ = follow => {}
    }
    match failed {
        Some(e) => Err(Failure::Output(e)),
        None => Ok(()),
    }
}

#[cfg(all(feature = "probe", target_os = "linux"))]
fn probe_options(args: &ProbeArgs) -> crate::probe::ProbeOptions {
    crate::probe::ProbeOptions {
        ring_bytes: args.ring_bytes,
        interfaces: args.interfaces.clone(),
    }
}

#[cfg(all(feature = "probe", target_os = "linux"))]
fn local_trace(
    rt: &tokio::runtime::Runtime,
    printer: &mut Printer,
    args: &TraceArgs,
) -> Result<(), Failure> {
    use crate::probe::{self, Output, Probe};
    rt.block_on(async {
        let p = Probe::load(probe_options(&args.probe))?;
        let mut failed = None;
        probe::run(p, stop_signal(args.print.duration), |out| match out {
            Output::Flows(f) => {
                if let Err(e) = printer.flows(f) {
                    failed.get_or_insert(e);
                }
            }
            Output::Counters(c) => printer.counters = c,
            Output::Link(change) => link_note(&change),
        })
        .await?;
        match failed {
            Some(e) => Err(Failure::Output(e)),
            None => Ok(()),
        }
    })
}

#[cfg(not(all(feature = "probe", target_os = "linux")))]
fn local_trace(
    _rt: &tokio::runtime::Runtime,
    _printer: &mut Printer,
    _args: &TraceArgs,
) -> Result<(), Failure> {
    Err(Failure::Node(
        "this build has no probe (Linux, feature `probe`): use --agent ADDR".into(),
    ))
}

#[cfg(all(feature = "probe", target_os = "linux"))]
fn link_note(change: &crate::probe::LinkChange) {
    use crate::probe::LinkChange;
    match change {
        LinkChange::Attached(name) => eprintln!("probe: attached to {name}"),
        LinkChange::Gone(name) => eprintln!("probe: {name} is gone"),
        LinkChange::Failed(name, e) => eprintln!("probe: could not attach to {name}: {e}"),
    }
}

#[cfg(all(feature = "probe", target_os = "linux"))]
fn node_name(given: Option<String>) -> String {
    given
        .or_else(|| std::env::var("NODE_NAME").ok())
        .or_else(|| {
            std::fs::read_to_string("/proc/sys/kernel/hostname")
                .ok()
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown".into())
}

#[cfg(all(feature = "probe", target_os = "linux"))]
fn kernel_release() -> String {
    std::fs::read_to_string("/proc/sys/kernel/osrelease")
        .map(|s| s.trim().to_string())
        .unwrap_or_default()
}

/// `--probe` for the terminal UI: the probe on this node, served on a loopback port picked
/// by the kernel and read like any agent (the nodes view, counters and reconnects come
/// with it). Loading fails here, before the terminal changes, where it cannot run. The
/// probe runs until the runtime ends. Returns the address to read.
#[cfg(all(feature = "probe", target_os = "linux"))]
pub(super) fn local_probe(
    rt: &tokio::runtime::Runtime,
    interfaces: Option<String>,
) -> Result<String, Failure> {
    use crate::probe::{self, Probe};
    let local = |e: std::io::Error| Failure::Node(format!("--probe: {e}"));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").map_err(local)?;
    listener.set_nonblocking(true).map_err(local)?;
    let addr = listener.local_addr().map_err(local)?;
    rt.block_on(async {
        let p = Probe::load(crate::probe::ProbeOptions {
            interfaces,
            ..Default::default()
        })?;
        let hub = hub_of(&p, node_name(None));
        serve_hub(&hub, listener, "--probe")?;
        tokio::spawn(async move {
            let run = probe::run(p, std::future::pending::<()>(), |out| hub.publish(&out));
            if let Err(e) = run.await {
                tracing::error!(error = %e, "the local probe stopped");
            }
        });
        Ok::<_, Failure>(())
    })?;
    Ok(addr.to_string())
}

#[cfg(not(all(feature = "probe", target_os = "linux")))]
pub(super) fn local_probe(
    _rt: &tokio::runtime::Runtime,
    _interfaces: Option<String>,
) -> Result<String, Failure> {
    Err(Failure::Node(
        "--probe: this build has no probe (Linux, feature `probe`): use --agent ADDR".into(),
    ))
}

/// The hub that serves a probe's flows, its hello naming `node`.
#[cfg(all(feature = "probe", target_os = "linux"))]
fn hub_of(p: &crate::probe::Probe, node: String) -> crate::probe::agent::Hub {
    crate::probe::agent::Hub::new(wire::Hello {
        node,
        kernel: kernel_release(),
        ring_bytes: p.ring_bytes(),
    })
}

/// Serves `hub` on a bound listener, in a task of the current runtime; errors name `flag`.
#[cfg(all(feature = "probe", target_os = "linux"))]
fn serve_hub(
    hub: &crate::probe::agent::Hub,
    listener: std::net::TcpListener,
    flag: &str,
) -> Result<tokio::task::JoinHandle<()>, Failure> {
    let listener = tokio::net::TcpListener::from_std(listener)
        .map_err(|e| Failure::Node(format!("{flag}: {e}")))?;
    Ok(tokio::spawn(hub.clone().serve(listener)))
}

/// Binds the agent's listener (before a lab moves the process into its node).
#[cfg(all(feature = "probe", target_os = "linux"))]
fn bind_agent(addr: SocketAddr) -> Result<std::net::TcpListener, Failure> {
    crate::probe::agent::check_listen(&addr).map_err(Failure::Usage)?;
    let listen = |e: std::io::Error| Failure::Node(format!("--listen {addr}: {e}"));
    let l = std::net::TcpListener::bind(addr).map_err(listen)?;
    l.set_nonblocking(true).map_err(listen)?;
    eprintln!("agent listening on {}", l.local_addr().map_err(listen)?);
    Ok(l)
}

#[cfg(all(feature = "probe", target_os = "linux"))]
pub(super) fn agent(args: AgentArgs) -> Result<ExitCode, Failure> {
    use crate::probe::{self, Probe};
    let listener = bind_agent(args.listen)?;
    let rt = runtime()?;
    rt.block_on(async {
        let p = Probe::load(probe_options(&args.probe))?;
        let hub = hub_of(&p, node_name(args.node.clone()));
        let server = serve_hub(&hub, listener, "--listen")?;
        probe::run(p, stop_signal(args.duration), |out| {
            if let probe::Output::Link(change) = &out {
                link_note(change);
            }
            hub.publish(&out);
        })
        .await?;
        server.abort();
        Ok(ExitCode::SUCCESS)
    })
}

#[cfg(not(all(feature = "probe", target_os = "linux")))]
pub(super) fn agent(_args: AgentArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Node(
        "this build has no probe (Linux, feature `probe`)".into(),
    ))
}

#[cfg(all(feature = "probe", target_os = "linux"))]
pub(super) fn lab(source: &SourceArgs, args: LabArgs) -> Result<ExitCode, Failure> {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;

    use crate::lab::{self, Lab};
    use crate::probe::{self, Output, Probe};

    if source.demo.is_none() && source.filenames.is_empty() {
        return Err(Failure::Usage(
            "lab builds pods from manifests: give --demo or -f".into(),
        ));
    }
    let index = index_for(source)?;
    let listener = args.serve.map(bind_agent).transpose()?;
    let mut the_lab = Lab::up(&index, &args.extra_rule)?;
    for s in &the_lab.skipped {
        eprintln!("lab: skipped {s}");
    }
    // Cilium's deny rules and Calico's placed policies are enforced (below); the other
    // tiers are not.
    {
        use crate::policy::tiers::Tier;
        let tiers = &index.policies().tiers;
        let not_enforced = tiers
            .iter()
            .filter(|t| !t.tier.is_calico() && t.tier != Tier::Cilium)
            .count();
        if not_enforced > 0 {
            eprintln!(
                "lab: {not_enforced} tier policies (AdminNetworkPolicy and kin) are not \
                 enforced by the lab's rules: flows they decide show as disagreements"
            );
        }
        let unplaced = tiers.iter().filter(|t| t.tier == Tier::Calico).count();
        if unplaced > 0 {
            eprintln!(
                "lab: {unplaced} Calico policies whose tier cannot be placed are not enforced"
            );
        }
        let calico = tiers
            .iter()
            .filter(|t| t.tier.is_calico() && t.tier != Tier::Calico)
            .count();
        if calico > 0 {
            eprintln!(
                "lab: {calico} Calico policies are enforced tier by tier, their selectors \
                 resolved to the lab's pods; rules on service accounts, Services, source ports \
                 or HTTP are not"
            );
        }
    }
    let cilium = index
        .policies()
        .policies
        .iter()
        .filter(|p| p.cilium.is_some())
        .count();
    if cilium > 0 {
        eprintln!(
            "lab: {cilium} Cilium policies are enforced for their selectors, the all and \
             cluster entities, CIDRs (deny rules) and ports; other entities and domain names \
             match nothing in the lab's rules"
        );
    }
    for p in &the_lab.pods {
        let ips: Vec<String> = p.ips.iter().map(|ip| ip.to_string()).collect();
        eprintln!(
            "lab: pod {} in {} ({}) via {}",
            p.key,
            p.netns,
            ips.join(", "),
            p.iface
        );
    }
    eprintln!(
        "lab: {} pods in namespaces {}p*, node {}",
        the_lab.pods.len(),
        lab::PREFIX,
        lab::NODE_NETNS
    );
    the_lab.enter_node()?;
    // Built after entering the node: its worker threads are born there.
    let rt = runtime()?;
    let mut printer = Printer::new(source, index, args.print.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let tally = Arc::new(lab::traffic::Tally::default());
    let result: Result<(), Failure> = rt.block_on(async {
        let mut options = probe_options(&args.probe);
        options
            .interfaces
            .get_or_insert_with(|| format!("{}*", lab::IFACE_PREFIX));
        let round = args.round;
        if args.no_probe {
            let threads = if args.no_traffic {
                Vec::new()
            } else {
                lab::traffic::start(&the_lab.pods, round, stop.clone(), tally.clone())
            };
            eprintln!("lab: ready (no probe)");
            stop_signal(args.print.duration).await;
            stop.store(true, Ordering::Relaxed);
            for t in threads {
                let _ = t.join();
            }
            return Ok(());
        }
        let p = Probe::load(options)?;
        let hub = hub_of(&p, lab::NODE_NETNS.into());
        let server = match listener {
            Some(l) => Some(serve_hub(&hub, l, "--serve")?),
            None => None,
        };
        let threads = if args.no_traffic {
            Vec::new()
        } else {
            lab::traffic::start(&the_lab.pods, round, stop.clone(), tally.clone())
        };
        eprintln!("lab: ready");
        let mut failed = None;
        let outcome = probe::run(p, stop_signal(args.print.duration), |out| {
            hub.publish(&out);
            match out {
                Output::Flows(f) => {
                    if let Err(e) = printer.flows(f) {
                        failed.get_or_insert(e);
                    }
                }
                Output::Counters(c) => printer.counters = c,
                Output::Link(_) => {}
            }
        })
        .await;
        stop.store(true, Ordering::Relaxed);
        if let Some(s) = server {
            s.abort();
        }
        for t in threads {
            let _ = t.join();
        }
        outcome?;
        match failed {
            Some(e) => Err(Failure::Output(e)),
            None => Ok(()),
        }
    });
    drop(rt);
    the_lab.down();
    eprintln!(
        "lab: traffic: {} attempts, {} answered",
        tally.attempts.load(Ordering::Relaxed),
        tally.answered.load(Ordering::Relaxed)
    );
    eprintln!("{}", printer.summary());
    result.map(|()| ExitCode::SUCCESS)
}

#[cfg(not(all(feature = "probe", target_os = "linux")))]
pub(super) fn lab(_source: &SourceArgs, _args: LabArgs) -> Result<ExitCode, Failure> {
    Err(Failure::Node(
        "this build has no probe (Linux, feature `probe`)".into(),
    ))
}
