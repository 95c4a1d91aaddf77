//! The command line: kubectl's flags and words, subcommands, and exit codes.
//!
//! Exit codes: 0 success (for `explain`: the flow is allowed), 1 the flow is denied
//! (`explain` only), 2 bad input or usage.

mod audit;
mod commands;
mod load;
pub mod node;
mod numbers;
mod output;
mod ui;

use std::io::Write;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::cluster::files;
use crate::cluster::live;
use crate::policy::{EngineOptions, Protocol};
use crate::render::paint::Paint;

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

    /// Recorded flows for the terminal UI's flow list: `trace -o json` lines or Hubble JSON
    /// lines. Repeatable.
    #[arg(long, value_name = "FILE")]
    pub flows: Vec<String>,

    /// An agent for the terminal UI's flow list, at HOST:PORT (on this host, or the local end
    /// of a `kubectl port-forward` to an agent pod). Repeatable: one per node. Followed while
    /// it comes and goes; `:nodes` shows how each is doing.
    #[arg(long = "agent", value_name = "HOST:PORT")]
    pub agents: Vec<String>,

    /// The eBPF probe on this node, for the terminal UI's flow list (root, or CAP_BPF,
    /// CAP_PERFMON and CAP_NET_ADMIN): run here and read like an agent, beside any --agent.
    #[arg(long)]
    pub probe: bool,

    /// With --probe: attach only to pod veths whose name matches this glob (`cali*`, `lxc*`).
    #[arg(long, value_name = "GLOB", requires = "probe")]
    pub probe_interfaces: Option<String>,

    /// On a live cluster without --agent: the namespace of the agent pods, read through
    /// port-forwards by the API server (needs create on pods/portforward there).
    #[arg(long, value_name = "NS", default_value = crate::cluster::live::agents::NAMESPACE)]
    pub agent_namespace: String,

    /// On a live cluster without --agent: the label selector of the agent pods.
    #[arg(long, value_name = "SELECTOR", default_value = crate::cluster::live::agents::SELECTOR)]
    pub agent_selector: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

/// The demo scenarios, by the CNI the demo cluster runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum DemoScenario {
    Cilium,
    Calico,
}

impl DemoScenario {
    pub fn scenario(self) -> crate::cluster::demo::Scenario {
        match self {
            DemoScenario::Cilium => crate::cluster::demo::Scenario::Cilium,
            DemoScenario::Calico => crate::cluster::demo::Scenario::Calico,
        }
    }
}

impl SourceArgs {
    /// The demo scenario asked for, or (`forced`: the `demo` command) the default one.
    pub fn scenario(&self, forced: bool) -> Option<crate::cluster::demo::Scenario> {
        match self.demo {
            Some(d) => Some(d.scenario()),
            None if forced => Some(Default::default()),
            None => None,
        }
    }
}

#[derive(Debug, Args)]
pub struct SourceArgs {
    /// Manifest file or directory (recursive: .yaml, .yml, .json); `-` reads stdin. Repeatable.
    #[arg(short = 'f', long = "filename", global = true, value_name = "PATH")]
    pub filenames: Vec<String>,

    /// Use the built-in demo scenario (with -f: the demo and the manifests together);
    /// `--demo=calico` for the one on Calico (tiers, Calico's policies next to NetworkPolicies).
    #[arg(
        long,
        global = true,
        value_name = "SCENARIO",
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "cilium"
    )]
    pub demo: Option<DemoScenario>,

    /// Path to the kubeconfig file (default: KUBECONFIG, else ~/.kube/config).
    #[arg(long, global = true, value_name = "PATH", conflicts_with_all = ["filenames", "demo"])]
    pub kubeconfig: Option<std::path::PathBuf>,

    /// The kubeconfig context to use (default: its current-context).
    #[arg(long, global = true, value_name = "NAME", conflicts_with_all = ["filenames", "demo"])]
    pub context: Option<String>,

    /// Seconds to wait for the cluster to be read once before giving up, for commands (the
    /// terminal UI keeps trying and stays usable meanwhile).
    #[arg(
        long,
        global = true,
        value_name = "SECONDS",
        default_value = "60",
        value_parser = numbers::request_timeout,
        allow_hyphen_values = true,
        conflicts_with_all = ["filenames", "demo"]
    )]
    pub request_timeout: std::time::Duration,

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

    /// A domain name's address (`api.example.com=203.0.113.7`; repeatable): Cilium's toFQDNs
    /// and the domain names of ClusterNetworkPolicies then match it. A name given is taken
    /// to have only the addresses given; names not given stay unknown.
    #[arg(long = "fqdn", global = true, value_name = "NAME=IP", value_parser = numbers::domain)]
    pub fqdn: Vec<String>,

    /// Cilium's CIDR rules match node addresses too, as with Cilium's
    /// `policy-cidr-match-mode: nodes` (by default they match only addresses outside the
    /// cluster, and nodes only by entity).
    #[arg(long, global = true)]
    pub cilium_cidr_nodes: bool,

    /// Whether Cilium's host firewall (`enable-host-firewall`) is on, so that host policies
    /// (CiliumClusterwideNetworkPolicies with a nodeSelector) act on nodes' own addresses and
    /// host-network pods. Not given: what they would decide there is unknown.
    #[arg(long, global = true, value_enum, value_name = "ON|OFF")]
    pub cilium_host_firewall: Option<OnOff>,
}

/// A setting of the cluster's network plugin that the objects do not tell.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum OnOff {
    On,
    Off,
}

/// Rows of `matrix --all-ports`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum ByArg {
    Pod,
    Workload,
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

/// `lint` speaks SARIF as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LintOutput {
    Text,
    Json,
    Yaml,
    Sarif,
}

/// When `lint` fails.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum FailOn {
    Error,
    Warning,
    Never,
}

/// `matrix` has a grid form as well.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum MatrixOutput {
    Text,
    Json,
    Yaml,
    Csv,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Explain whether a flow is allowed: the verdict, and every policy and rule considered.
    Explain {
        /// Source: namespace/pod, pod (with -n, or if unique), node/NAME, or an IP address.
        #[arg(long, value_name = "ENDPOINT")]
        from: String,
        /// Destination: namespace/pod, pod, node/NAME, an IP address, or a Service
        /// (svc/NAME[:PORT] or NAMESPACE/svc/NAME[:PORT], its ClusterIP, or a node address
        /// with its NodePort): every pod behind the Service is explained at its target port.
        #[arg(long, value_name = "ENDPOINT")]
        to: String,
        /// Destination port: a number, or a container port name of the destination pod (of
        /// a Service: its port by number or name, not needed where it has one).
        #[arg(long, short = 'p', allow_hyphen_values = true)]
        port: Option<String>,
        #[arg(long, value_parser = parse_protocol, default_value = "TCP")]
        protocol: Protocol,
        /// For a denied flow: the smallest NetworkPolicies that would allow it, on each side
        /// that denies, checked against the same world.
        #[arg(long)]
        suggest: bool,
        /// text, json or yaml.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// Every pod to every pod: which may connect on one port, or (--all-ports) on which
    /// protocols and ports.
    Matrix {
        #[arg(
            long,
            short = 'p',
            value_parser = numbers::port,
            allow_hyphen_values = true,
            required_unless_present = "all_ports",
            conflicts_with = "all_ports"
        )]
        port: Option<u16>,
        #[arg(long, value_parser = parse_protocol, default_value = "TCP", conflicts_with = "all_ports")]
        protocol: Protocol,
        /// Every protocol and port at once: for each ordered pair, the allowed set as ranges
        /// (`TCP 1-79,81-65535; UDP 53`, `all`, `none`).
        #[arg(long)]
        all_ports: bool,
        /// With --all-ports: rows of pods, or of workloads (`ns/Kind/name`).
        #[arg(long, value_enum, default_value = "pod", requires = "all_ports")]
        by: ByArg,
        /// Only pods matching this label selector (kubectl syntax: a=b,c!=d,e in (f,g)).
        #[arg(short = 'l', long, value_name = "SELECTOR")]
        selector: Option<String>,
        /// text (a grid), json ({"ns/from": {"ns/to": true}}; null where unknown), yaml or csv.
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
    /// Who can reach a pod and what it can reach, both sides applied, every protocol and
    /// port at once, grouped by namespace and workload. Exit 3 when an answer is unknown.
    Reach {
        /// namespace/pod, or pod with -n.
        pod: String,
        /// Only who can reach the pod.
        #[arg(long, conflicts_with = "outbound")]
        inbound: bool,
        /// Only what the pod can reach.
        #[arg(long)]
        outbound: bool,
        /// Peers in this namespace only (default: every namespace).
        #[arg(long, value_name = "NS")]
        peers: Option<String>,
        /// text, json or yaml.
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: Output,
    },
    /// What the source holds: on a cluster, the context, server, what this user may not read,
    /// and how long the first complete list took.
    Status,
    /// Likely mistakes, each with its policy, rule and a one-line fix: OR written where AND
    /// was meant, selectors that match nothing, egress isolation without DNS, egress to
    /// everything that leaves the cloud metadata address open, named ports no selected pod
    /// declares, rules policyTypes ignores, tier rules that never decide. For CI: exit 0
    /// when there is nothing to say, 1 when there is.
    Lint {
        /// text, json, yaml, or sarif (SARIF 2.1.0, for code scanning).
        #[arg(short = 'o', long, value_enum, default_value = "text")]
        output: LintOutput,
        /// The least severe problem that makes the exit code 1.
        #[arg(long, value_enum, default_value = "warning")]
        fail_on: FailOn,
    },
    /// Shell completions for the plugin's binary, on stdout:
    /// `kubectl-netpol_tui completions bash > /etc/bash_completion.d/kubectl-netpol_tui`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// The built-in demo in the terminal UI, with simulated traffic. When stdout is not a
    /// terminal it prints the pods' effective rules instead; --dump prints its manifests.
    Demo {
        /// Print the demo's manifests (YAML) instead.
        #[arg(long)]
        dump: bool,
    },
    /// What staged policies (or a default-deny not yet applied) would break, and newly
    /// allow: in the flows seen, in every pod's declared reachability, in each pod's effective
    /// rules; --suggest prints the allow rules that would fix it. Exit 0 when nothing would
    /// break, 1 when something would.
    Audit(audit::AuditArgs),
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
            Command::Reach { .. } => "reach",
            Command::Completions { .. } => "completions",
            Command::Lint { .. } => "lint",
            Command::Demo { .. } => "demo",
            Command::Trace(_) => "trace",
            Command::Agent(_) => "agent",
            Command::Lab(_) => "lab",
            Command::Audit(_) => "audit",
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

const EXIT_CODES: &str = "Exit codes: 0 success (explain: allowed; audit: nothing would break), 1 explain: denied, audit: something would break, 2 bad input, usage or no connection, 3 explain: unknown (depends on what cannot be read).";

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

fn engine_options(source: &SourceArgs) -> EngineOptions {
    EngineOptions {
        ipblock_matches_pods: source.ipblock_pods == IpBlockPods::Match,
        // Each was checked when parsed.
        domains: crate::policy::engine::Domains::parse(&source.fqdn).unwrap_or_default(),
        cilium_cidr_matches_nodes: source.cilium_cidr_nodes,
        cilium_host_firewall: source.cilium_host_firewall.map(|f| f == OnOff::On),
    }
}

/// The runtime for sources and loops.
fn runtime() -> Result<tokio::runtime::Runtime, Failure> {
    crate::process::runtime().map_err(|e| Failure::Setup(format!("cannot start the runtime: {e}")))
}

fn execute(mut cli: Cli, paint: &Paint) -> Result<ExitCode, Failure> {
    let command = cli.command.take();
    let source = &cli.source;
    let Some(command) = command else {
        if !crate::tui::has_terminal() {
            return Err(Failure::Usage(crate::tui::NO_TERMINAL.into()));
        }
        let loaded = if source.demo.is_some() || !source.filenames.is_empty() {
            load::load_world(source, false)?
        } else {
            load::start_live(source)?
        };
        return ui::open_tui(&cli, loaded, source.demo.is_some());
    };
    match command {
        Command::Completions { shell } => {
            use clap::CommandFactory;
            let mut out = Vec::new();
            clap_complete::generate(shell, &mut Cli::command(), "kubectl-netpol_tui", &mut out);
            output::print(&String::from_utf8_lossy(&out))?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dump: true } => {
            output::print(source.scenario(true).unwrap_or_default().yaml())?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Demo { dump: false } if crate::tui::has_terminal() => {
            let loaded = load::load_world(source, true)?;
            ui::open_tui(&cli, loaded, true)
        }
        Command::Demo { dump: false } => commands::demo_text(source, paint),
        Command::Trace(args) => node::trace(source, args),
        Command::Agent(mut args) => match args.action.take() {
            Some(action) => node::agent_action(source, action),
            None => node::agent(args),
        },
        Command::Lab(args) => node::lab(source, args),
        Command::Status => commands::status(source),
        Command::Audit(args) => audit::run(source, args, paint),
        Command::Explain {
            from,
            to,
            port,
            protocol,
            suggest,
            output,
        } => commands::explain_flow(
            source,
            paint,
            (&from, &to, port.as_deref()),
            (protocol, suggest),
            output,
        ),
        Command::Matrix {
            port,
            protocol,
            all_ports: _,
            by,
            selector,
            output,
        } => match port {
            Some(port) => commands::matrix(source, paint, (port, protocol), selector, output),
            None => commands::all_ports(source, by, selector, output),
        },
        Command::Effective { pod, output } => commands::effective_rules(source, paint, pod, output),
        Command::Lint { output, fail_on } => commands::lint(source, paint, output, fail_on),
        Command::Reach {
            pod,
            inbound,
            outbound,
            peers,
            output,
        } => commands::reach(source, paint, &pod, (inbound, outbound), peers, output),
    }
}
