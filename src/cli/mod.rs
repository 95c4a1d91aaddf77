//! The command line: kubectl's flags and words, subcommands, and exit codes.
//!
//! Exit codes: 0 success (for `explain`: the flow is allowed), 1 the flow is denied
//! (`explain` only), 2 bad input or usage.

pub mod node;
mod numbers;

use std::collections::BTreeMap;
use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::app::{Message, Snapshot, SourceInfo, State};
use crate::cluster::files::{self, Input, LoadReport};
use crate::cluster::{demo, live, World};
use crate::policy::effective::effective;
use crate::policy::explain::explain;
use crate::policy::query::{resolve_endpoint, resolve_port};
use crate::policy::selector::Selector;
use crate::policy::{EngineOptions, Flow, Index, PodId, Protocol};
use crate::theme::contexts::{self, ContextRules};
use crate::theme::{self, ThemeSet};

use crate::render::{self, paint::Paint};

/// When to colour the output.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ColorChoice {
    Auto,
    Always,
    Never,
}

impl ColorChoice {
    /// ANSI colours for `always`, and for `auto` when stdout is a terminal and `NO_COLOR` is
    /// unset or empty.
    fn paint(self) -> Paint {
        use std::io::IsTerminal;
        Paint::new(match self {
            ColorChoice::Always => true,
            ColorChoice::Never => false,
            ColorChoice::Auto => {
                std::io::stdout().is_terminal()
                    && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            }
        })
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "kubectl-netpol_tui",
    bin_name = "kubectl netpol-tui",
    version,
    about = "Kubernetes NetworkPolicy: effective rules, explained verdicts, connectivity matrix",
    long_about = "Kubernetes NetworkPolicy: effective rules, explained verdicts, connectivity matrix.\n\nWithout a subcommand, opens the terminal UI: on the cluster of the current kubeconfig context, on the manifests of -f, or on the demo with --demo. Against a cluster it only reads (get, list, watch)."
)]
pub struct Cli {
    #[command(flatten)]
    pub source: SourceArgs,

    /// Output colour: auto (when stdout is a terminal and NO_COLOR is unset), always, never.
    #[arg(long, global = true, value_enum, default_value = "auto")]
    pub color: ColorChoice,

    /// Terminal UI theme: dark, light, high-contrast, colorblind, a theme file of the user's
    /// folder, or a path to a .toml file.
    #[arg(
        long,
        global = true,
        env = "NETPOL_TUI_THEME",
        value_name = "NAME|PATH"
    )]
    pub theme: Option<String>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Manifest file or directory (recursive: .yaml, .yml, .json); `-` reads stdin. Repeatable.
    #[arg(short = 'f', long = "filename", global = true, value_name = "PATH")]
    pub filenames: Vec<String>,

    /// Use the built-in demo scenario instead of manifests.
    #[arg(long, global = true, conflicts_with = "filenames")]
    pub demo: bool,

    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH", conflicts_with_all = ["filenames", "demo"])]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, global = true, value_name = "NAME", conflicts_with_all = ["filenames", "demo"])]
    pub context: Option<String>,

    /// Namespace to narrow to (and to look bare pod names up in; on a cluster, default: the
    /// context's namespace).
    #[arg(short = 'n', long, global = true, value_name = "NS")]
    pub namespace: Option<String>,

    /// All namespaces.
    #[arg(short = 'A', long, global = true, conflicts_with = "namespace")]
    pub all_namespaces: bool,

    /// Whether ipBlock peers match pod IPs: `match` as the Kubernetes conformance tests and
    /// Calico do, `ignore` as Cilium does (ipBlock then matches only non-pod addresses).
    #[arg(
        long,
        global = true,
        value_enum,
        default_value = "match",
        value_name = "MODE"
    )]
    pub ipblock_pods: IpBlockPods,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum IpBlockPods {
    Match,
    Ignore,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
    Yaml,
}

/// `matrix` has a grid form as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixOutput {
    Text,
    Json,
    Yaml,
    Csv,
}

/// The machine-readable forms, printed by `print_data`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Data {
    Json,
    Yaml,
}

impl Output {
    fn data(self) -> Option<Data> {
        match self {
            Output::Text => None,
            Output::Json => Some(Data::Json),
            Output::Yaml => Some(Data::Yaml),
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain whether a flow is allowed: the verdict, and every policy and rule considered.
    Explain {
        /// Source: namespace/pod, pod (with -n, or if unique), node/NAME, or an IP address.
        #[arg(long, value_name = "ENDPOINT")]
        from: String,
        /// Destination: namespace/pod, pod, node/NAME, or an IP address.
        #[arg(long, value_name = "ENDPOINT")]
        to: String,
        /// Destination port: a number, or a container port name of the destination pod.
        #[arg(long, short = 'p', allow_hyphen_values = true)]
        port: String,
        #[arg(long, value_parser = parse_protocol, default_value = "TCP")]
        protocol: Protocol,
        /// text, json or yaml.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Every pod to every pod: which may connect on one port.
    Matrix {
        #[arg(long, short = 'p', value_parser = numbers::port, allow_hyphen_values = true)]
        port: u16,
        #[arg(long, value_parser = parse_protocol, default_value = "TCP")]
        protocol: Protocol,
        /// Only pods matching this label selector (kubectl syntax: a=b,c!=d,e in (f,g)).
        #[arg(short = 'l', long, value_name = "SELECTOR")]
        selector: Option<String>,
        /// text (a grid), json ({"ns/from": {"ns/to": true}}), yaml or csv.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: MatrixOutput,
    },
    /// A pod's effective ingress and egress: isolation, policies, and what is allowed.
    Effective {
        /// namespace/pod or pod; omit to show every pod of -n NS (or -A).
        pod: Option<String>,
        /// text, json or yaml.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// What the source holds: on a cluster, the context, server, what this user may not read,
    /// and how long the first complete list took.
    Status,
    /// The built-in demo in the terminal UI, with simulated traffic. When stdout is not a
    /// terminal it prints the pods' effective rules instead; --dump prints its manifests.
    Demo {
        /// Print the demo's manifests (YAML) instead.
        #[arg(long)]
        dump: bool,
    },
    /// Flows seen by the eBPF probe on this node (or read from an agent with --agent), each
    /// annotated with the policy responsible. The probe needs root (or CAP_BPF, CAP_PERFMON
    /// and CAP_NET_ADMIN). Annotations use -f, --demo or the cluster.
    Trace(node::TraceArgs),
    /// Run the eBPF probe and serve its flows on a loopback port to any number of readers
    /// (`trace --agent`), in length-delimited, versioned frames.
    Agent(node::AgentArgs),
    /// Build a miniature node from the manifests (root): a network namespace per pod, a
    /// routing node enforcing the policies with nftables, servers on the container ports,
    /// traffic between every pair, and the probe attached; prints the flows like `trace`.
    /// Everything is removed at the end, also on Ctrl-C.
    Lab(node::LabArgs),
}

impl Command {
    /// The subcommand's name, for the log.
    fn name(&self) -> &'static str {
        match self {
            Command::Explain { .. } => "explain",
            Command::Matrix { .. } => "matrix",
            Command::Effective { .. } => "effective",
            Command::Status => "status",
            Command::Demo { .. } => "demo",
            Command::Trace(_) => "trace",
            Command::Agent(_) => "agent",
            Command::Lab(_) => "lab",
        }
    }
}

fn parse_protocol(s: &str) -> Result<Protocol, String> {
    Protocol::parse(s).ok_or_else(|| format!("unknown protocol {s:?}: use TCP, UDP or SCTP"))
}

/// Why a command failed. Each kind carries its source's own error up to here, where
/// [`Failure::exit_code`] is the one place that turns failures into exit codes.
#[derive(Debug, thiserror::Error)]
pub enum Failure {
    /// Flags that contradict each other, or that the command cannot use.
    #[error("{0}")]
    Usage(String),
    /// What a flag names, looked up in the world: `--from: no pod shop/cart`.
    #[error("{flag}: {error}")]
    Lookup {
        flag: &'static str,
        error: crate::policy::Error,
    },
    /// Manifests that the API server would reject: every error, with file and line.
    #[error(transparent)]
    Input(#[from] files::LoadErrors),
    /// The cluster could not be reached or read.
    #[error(transparent)]
    Cluster(#[from] live::LiveError),
    #[error(transparent)]
    Theme(#[from] crate::theme::ThemeError),
    /// The node side: an agent's stream, the listener, a build without the probe.
    #[error("{0}")]
    Node(String),
    #[cfg(all(feature = "probe", target_os = "linux"))]
    #[error(transparent)]
    Probe(#[from] crate::probe::ProbeError),
    #[cfg(all(feature = "probe", target_os = "linux"))]
    #[error(transparent)]
    Lab(#[from] crate::lab::LabError),
    /// Output could not be written (a closed pipe is not a failure).
    #[error("cannot write output: {0}")]
    Output(std::io::Error),
    /// A result could not be encoded as JSON or YAML.
    #[error("cannot encode the output: {0}")]
    Encode(String),
    /// The runtime or the terminal could not be set up.
    #[error("{0}")]
    Setup(String),
}

impl Failure {
    /// Every failure exits 2 (bad input, usage, no connection, a node that cannot run the
    /// probe); 0, 1 and 3 are answers, not failures (see `--help`).
    pub fn exit_code(&self) -> u8 {
        match self {
            Failure::Usage(_)
            | Failure::Lookup { .. }
            | Failure::Input(_)
            | Failure::Cluster(_)
            | Failure::Theme(_)
            | Failure::Node(_)
            | Failure::Output(_)
            | Failure::Encode(_)
            | Failure::Setup(_) => 2,
            #[cfg(all(feature = "probe", target_os = "linux"))]
            Failure::Probe(_) | Failure::Lab(_) => 2,
        }
    }

    fn lookup(flag: &'static str) -> impl FnOnce(crate::policy::Error) -> Failure {
        move |error| Failure::Lookup { flag, error }
    }
}

/// The command line as typed, with the help's words about the log filled in for this user.
pub fn parse() -> Cli {
    use clap::{CommandFactory, FromArgMatches};
    let command = Cli::command().after_help(format!("{EXIT_CODES}\n\n{}", crate::logging::help()));
    let matches = command.get_matches();
    Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit())
}

const EXIT_CODES: &str = "Exit codes: 0 success (explain: allowed), 1 explain: denied, 2 bad input, usage or no connection, 3 explain: unknown (depends on what cannot be read).";

pub fn run(cli: Cli) -> ExitCode {
    match crate::logging::init() {
        Ok(_) => tracing::info!(command = cli.command.as_ref().map(Command::name), "run"),
        // Without a log the program works as well; say so only to one who asked for one.
        Err(e) if std::env::var_os(crate::logging::LEVEL_VAR).is_some() => {
            eprintln!("warning: {e}")
        }
        Err(_) => {}
    }
    let paint = cli.color.paint();
    match execute(cli, &paint) {
        Ok(code) => code,
        Err(failure) => {
            let mut stderr = std::io::stderr().lock();
            for line in failure.to_string().lines() {
                let _ = writeln!(stderr, "error: {line}");
            }
            ExitCode::from(failure.exit_code())
        }
    }
}

/// The world to work on, and where it came from.
struct Loaded {
    world: World,
    info: SourceInfo,
    /// On a cluster: the context's namespace (or -n), for bare pod names.
    context_namespace: Option<String>,
    live: Option<LiveLoaded>,
}

struct LiveLoaded {
    runtime: tokio::runtime::Runtime,
    session: live::Session,
    status: live::Status,
    target: live::Target,
    elapsed: std::time::Duration,
}

fn live_target(source: &SourceArgs) -> live::Target {
    live::Target {
        kubeconfig: source.kubeconfig.clone(),
        context: source.context.clone(),
        namespace: source.namespace.clone(),
    }
}

fn load_world(source: &SourceArgs, demo_forced: bool) -> Result<Loaded, Failure> {
    let (loaded, info) = if source.demo || demo_forced {
        (demo::load()?, demo_info())
    } else if !source.filenames.is_empty() {
        let inputs: Vec<Input> = source
            .filenames
            .iter()
            .map(|f| Input::from_arg(f))
            .collect();
        let mut stdin = std::io::stdin().lock();
        (files::load(&inputs, &mut stdin)?, files_info(source))
    } else {
        return load_live(source);
    };
    report_load(&loaded.report, !(source.demo || demo_forced));
    Ok(Loaded {
        world: loaded.world,
        info,
        context_namespace: None,
        live: None,
    })
}

/// Connects to the cluster and lists everything once; the session keeps watching.
fn load_live(source: &SourceArgs) -> Result<Loaded, Failure> {
    let runtime = runtime()?;
    let target = live_target(source);
    let started = std::time::Instant::now();
    let (session, world, status) = runtime.block_on(live::open(&target, live::SYNC_LIMIT))?;
    let elapsed = started.elapsed();
    let mut stderr = std::io::stderr().lock();
    for h in &status.hidden {
        let _ = writeln!(stderr, "warning: not visible: {h}");
    }
    const SHOWN: usize = 10;
    for w in status.warnings.iter().take(SHOWN) {
        let _ = writeln!(stderr, "warning: cannot use {w}");
    }
    if status.warnings.len() > SHOWN {
        let _ = writeln!(
            stderr,
            "warning: {} more objects cannot be used",
            status.warnings.len() - SHOWN
        );
    }
    let info = SourceInfo {
        kind: status.context.clone(),
        detail: status.server.clone(),
        flows: false,
    };
    Ok(Loaded {
        world,
        info,
        context_namespace: Some(session.connection.namespace.clone()),
        live: Some(LiveLoaded {
            runtime,
            session,
            status,
            target,
            elapsed,
        }),
    })
}

fn report_load(report: &LoadReport, summary: bool) {
    let mut stderr = std::io::stderr().lock();
    if summary {
        let _ = writeln!(stderr, "{}", report.summary());
    }
    for w in &report.warnings {
        let _ = writeln!(stderr, "warning: {w}");
    }
}

fn engine_options(source: &SourceArgs) -> EngineOptions {
    EngineOptions {
        ipblock_matches_pods: source.ipblock_pods == IpBlockPods::Match,
    }
}

/// Opens the terminal UI on what was loaded.
fn open_tui(cli: &Cli, loaded: Loaded, demo_flows: bool) -> Result<ExitCode, Failure> {
    let mut themes = ThemeSet::load(theme::user_dir().as_deref())?;
    let chosen = themes.select(cli.theme.as_deref().unwrap_or(theme::DEFAULT))?;
    let rules = ContextRules::load(contexts::user_file().as_deref(), &themes)?;
    for w in &themes.warnings {
        eprintln!("warning: {w}");
    }
    let warnings = themes.warnings.clone();
    let Loaded {
        world,
        info,
        context_namespace,
        live,
    } = loaded;
    let snapshot = Snapshot::prepare(world, engine_options(&cli.source));
    let mut state = State::new(snapshot, info, themes, chosen);
    state.context_rules = rules;
    let start_ns = cli.source.namespace.clone().or(context_namespace);
    if let Some(ns) = &start_ns {
        // On a cluster the context's namespace may hold nothing yet: start at the top then.
        if !state.start_at_namespace(ns) && cli.source.namespace.is_some() {
            return Err(Failure::Usage(format!("-n: no namespace {ns}")));
        }
    }
    if let Some(first) = warnings.first() {
        state.message = Some(Message {
            text: format!(
                "{first} ({} theme warning(s), printed again on exit)",
                warnings.len()
            ),
            error: true,
        });
    }
    let (runtime, live_source) = match live {
        Some(l) => {
            state.attach_live(l.status, l.session.connection.contexts.clone());
            (
                l.runtime,
                Some(crate::tui::LiveSource {
                    session: l.session,
                    target: l.target,
                }),
            )
        }
        None => (runtime()?, None),
    };
    let sources = crate::tui::Sources {
        demo_flows,
        live: live_source,
    };
    crate::tui::run(state, runtime, sources).map_err(|e| Failure::Setup(format!("{e:#}")))?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    Ok(ExitCode::SUCCESS)
}

fn files_info(source: &SourceArgs) -> SourceInfo {
    SourceInfo {
        kind: "files".into(),
        detail: source.filenames.join(", "),
        flows: false,
    }
}

fn demo_info() -> SourceInfo {
    SourceInfo {
        kind: "demo".into(),
        detail: "built-in scenario with simulated traffic".into(),
        flows: true,
    }
}

fn execute(mut cli: Cli, paint: &Paint) -> Result<ExitCode, Failure> {
    let command = cli.command.take();
    let source = &cli.source;
    let Some(command) = command else {
        if !crate::tui::has_terminal() {
            return Err(Failure::Usage(crate::tui::NO_TERMINAL.into()));
        }
        let loaded = load_world(source, false)?;
        return open_tui(&cli, loaded, source.demo);
    };
    match command {
        Command::Demo { dump: true } => {
            print(crate::cluster::demo::DEMO_YAML)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dump: false } if crate::tui::has_terminal() => {
            let loaded = load_world(source, true)?;
            open_tui(&cli, loaded, true)
        }
        Command::Trace(args) => node::trace(source, args),
        Command::Agent(args) => node::agent(args),
        Command::Lab(args) => node::lab(source, args),
        Command::Status => {
            let loaded = load_world(source, false)?;
            print(&status_text(&loaded))?;
            loaded.once();
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dump: false } => {
            let (world, _) = load_world(source, true)?.once();
            let index = Index::build(world.inventory, world.policies, engine_options(source));
            let pods = pods_in_scope(&index, source.namespace.as_deref(), None)?;
            let mut out = String::new();
            for pod in pods {
                out.push_str(&render::effective(&effective(&index, pod), paint));
                out.push('\n');
            }
            out.push_str(&paint.dim("Try: explain --demo --from production/frontend --to production/database --port 5432\n"));
            print(&out)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Explain {
            from,
            to,
            port,
            protocol,
            output,
        } => {
            let (world, context_ns) = load_world(source, false)?.once();
            let index = Index::build(world.inventory, world.policies, engine_options(source));
            let ns = source.namespace.as_deref().or(context_ns.as_deref());
            let src = resolve_endpoint(&index, &from, ns).map_err(Failure::lookup("--from"))?;
            let dst = resolve_endpoint(&index, &to, ns).map_err(Failure::lookup("--to"))?;
            let port =
                resolve_port(&index, &port, &dst, protocol).map_err(Failure::lookup("--port"))?;
            let e = explain(
                &index,
                &Flow {
                    src,
                    dst,
                    protocol,
                    port,
                },
            );
            match output.data() {
                None => print(&render::explanation(&e, paint))?,
                Some(format) => print_data(&e, format)?,
            }
            Ok(if e.allowed {
                ExitCode::SUCCESS
            } else if e.unknown.is_some() {
                ExitCode::from(3)
            } else {
                ExitCode::from(1)
            })
        }
        Command::Matrix {
            port,
            protocol,
            selector,
            output,
        } => {
            let selector = match selector {
                Some(s) => Some(Selector::parse(&s).map_err(Failure::lookup("-l"))?),
                None => None,
            };
            let (world, _) = load_world(source, false)?.once();
            let index = Index::build(world.inventory, world.policies, engine_options(source));
            let pods = pods_in_scope(&index, source.namespace.as_deref(), selector.as_ref())?;
            let m = index.matrix(&pods, protocol, port);
            let inv = index.inventory();
            match output {
                MatrixOutput::Text => print(&render::matrix_text(
                    &m,
                    inv,
                    &format!("matrix {protocol}/{port}"),
                    paint,
                ))?,
                MatrixOutput::Csv => print(&render::matrix_csv(&m, inv))?,
                MatrixOutput::Json | MatrixOutput::Yaml => {
                    let mut map: BTreeMap<String, BTreeMap<String, bool>> = BTreeMap::new();
                    for (i, &from) in m.pods.iter().enumerate() {
                        let row = map.entry(inv.pods[from as usize].key()).or_default();
                        for (j, &to) in m.pods.iter().enumerate() {
                            row.insert(inv.pods[to as usize].key(), m.get(i, j));
                        }
                    }
                    let format = if output == MatrixOutput::Json {
                        Data::Json
                    } else {
                        Data::Yaml
                    };
                    print_data(&map, format)?;
                }
            }
            Ok(ExitCode::SUCCESS)
        }
        Command::Effective { pod, output } => {
            let (world, context_ns) = load_world(source, false)?.once();
            let index = Index::build(world.inventory, world.policies, engine_options(source));
            // As kubectl: on a cluster, without -n the context's namespace is meant.
            let ns = source.namespace.clone().or(context_ns);
            let pods = match &pod {
                Some(p) => {
                    let ep = resolve_endpoint(&index, p, ns.as_deref())
                        .map_err(Failure::lookup("effective"))?;
                    match ep.pod_id() {
                        Some(id) => vec![id],
                        None => return Err(Failure::Usage(format!("{p} is not a pod"))),
                    }
                }
                None => {
                    if source.all_namespaces {
                        pods_in_scope(&index, None, None)?
                    } else if ns.is_some() {
                        pods_in_scope(&index, ns.as_deref(), None)?
                    } else {
                        return Err(Failure::Usage(
                            "effective: name a pod, or give -n NAMESPACE or -A".into(),
                        ));
                    }
                }
            };
            let results: Vec<_> = pods.iter().map(|&p| effective(&index, p)).collect();
            match (output.data(), results.as_slice()) {
                (None, _) => {
                    let text: Vec<String> = results
                        .iter()
                        .map(|e| render::effective(e, paint))
                        .collect();
                    print(&text.join("\n"))?;
                }
                // One named pod prints as an object, a namespace's pods as a list.
                (Some(format), [one]) if pod.is_some() => print_data(one, format)?,
                (Some(format), all) => print_data(&all, format)?,
            }
            Ok(ExitCode::SUCCESS)
        }
    }
}

impl Loaded {
    /// For one-shot commands: the world and the context's namespace; the watch ends here.
    fn once(self) -> (World, Option<String>) {
        if let Some(l) = self.live {
            drop(l.session);
            l.runtime.shutdown_background();
        }
        (self.world, self.context_namespace)
    }
}

/// `status`: where the data comes from, how much there is, and what is not visible.
fn status_text(loaded: &Loaded) -> String {
    let inv = &loaded.world.inventory;
    let counts = format!(
        "{} namespaces, {} pods, {} NetworkPolicies, {} nodes",
        inv.namespaces.len(),
        inv.pods.len(),
        loaded.world.policies.policies.len(),
        inv.nodes.len()
    );
    let mut out = String::new();
    match &loaded.live {
        Some(l) => {
            out.push_str(&format!("context:    {}\n", l.status.context));
            out.push_str(&format!("server:     {}\n", l.status.server));
            out.push_str(&format!(
                "namespace:  {}\n",
                loaded.context_namespace.as_deref().unwrap_or("default")
            ));
            out.push_str(&format!(
                "synced:     {counts} in {:.2} s\n",
                l.elapsed.as_secs_f64()
            ));
            if l.status.hidden.is_empty() {
                out.push_str("visible:    everything NetworkPolicy verdicts need\n");
            } else {
                out.push_str("not visible:\n");
                for h in &l.status.hidden {
                    out.push_str(&format!("  - {h}\n"));
                }
            }
            if !l.status.warnings.is_empty() {
                out.push_str(&format!(
                    "unusable:   {} object(s) (printed above)\n",
                    l.status.warnings.len()
                ));
            }
        }
        None => {
            out.push_str(&format!(
                "source:     {} ({})\n",
                loaded.info.kind, loaded.info.detail
            ));
            out.push_str(&format!("loaded:     {counts}\n"));
        }
    }
    out
}

/// Pods of one namespace (or all), optionally narrowed by a label selector, sorted.
fn pods_in_scope(
    index: &Index,
    namespace: Option<&str>,
    selector: Option<&Selector>,
) -> Result<Vec<PodId>, Failure> {
    let inv = index.inventory();
    if let Some(ns) = namespace {
        if !inv.namespaces.iter().any(|n| n.name == ns) {
            let known: Vec<&str> = inv.namespaces.iter().map(|n| n.name.as_str()).collect();
            return Err(Failure::Usage(format!(
                "-n: no namespace {ns}; there are: {}",
                known.join(", ")
            )));
        }
    }
    Ok(inv
        .pods
        .iter()
        .enumerate()
        .filter(|(_, p)| namespace.is_none_or(|ns| p.namespace == ns))
        .filter(|(_, p)| selector.is_none_or(|s| s.matches(&p.labels)))
        .map(|(i, _)| i as PodId)
        .collect())
}

/// Prints `value` as pretty JSON or as YAML.
fn print_data<T: serde::Serialize>(value: &T, format: Data) -> Result<(), Failure> {
    let text = match format {
        Data::Json => {
            serde_json::to_string_pretty(value).map_err(|e| Failure::Encode(e.to_string()))? + "\n"
        }
        Data::Yaml => serde_yaml::to_string(value).map_err(|e| Failure::Encode(e.to_string()))?,
    };
    print(&text)
}

/// The runtime for sources and loops.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    crate::process::runtime().map_err(|e| Failure::Setup(format!("cannot start the runtime: {e}")))
}

/// Writes to stdout; a closed pipe (`| head`) ends quietly.
fn print(text: &str) -> Result<(), Failure> {
    let mut stdout = std::io::stdout().lock();
    match stdout
        .write_all(text.as_bytes())
        .and_then(|_| stdout.flush())
    {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        Err(e) => Err(Failure::Output(e)),
    }
}
