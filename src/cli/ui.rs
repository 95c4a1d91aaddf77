//! The terminal UI, opened on what was loaded: themes, context rules, the start namespace,
//! and the sources that feed it.

use std::process::ExitCode;

use super::load::Loaded;
use super::{engine_options, runtime, Cli, Failure};
use crate::app::{Message, Snapshot, State};
use crate::theme::contexts::{self, ContextRules};
use crate::theme::{self, ThemeSet};

/// Opens the terminal UI on what was loaded.
pub(super) fn open_tui(cli: &Cli, loaded: Loaded, demo_flows: bool) -> Result<ExitCode, Failure> {
    let mut themes = ThemeSet::load(theme::user_dir().as_deref())?;
    // Colours the terminal cannot show become the nearest it can.
    themes.degrade(theme::ColorDepth::from_env());
    let chosen = themes.select(cli.theme.as_deref().unwrap_or(theme::DEFAULT))?;
    let rules = ContextRules::load(contexts::user_file().as_deref(), &themes)?;
    for w in &themes.warnings {
        eprintln!("warning: {w}");
    }
    let warnings = themes.warnings.clone();
    let Loaded {
        world,
        mut info,
        context_namespace,
        live,
        pending,
    } = loaded;
    let snapshot = Snapshot::prepare(world, engine_options(&cli.source));
    if !cli.flows.is_empty() || !cli.agents.is_empty() || cli.probe {
        info.flows = true;
    }
    // Real flows replace the demo's simulated ones.
    let demo_flows = demo_flows && cli.agents.is_empty() && !cli.probe;
    let mut state = State::new(snapshot, info, themes, chosen);
    state.context_rules = rules;
    // What the source stages (Calico's staged policies) is listed; the demo shows it at once.
    state.audit.on = demo_flows && !state.audit.changes.is_empty();
    let start_ns = cli.source.namespace.clone().or(context_namespace);
    if let (Some(ns), Some(_)) = (&start_ns, &pending) {
        state.start_at_namespace_later(ns.clone(), cli.source.namespace.is_some());
    } else if let Some(ns) = &start_ns {
        // On a cluster the context's namespace may hold nothing yet: start at the top then.
        if !state.start_at_namespace(ns) && cli.source.namespace.is_some() {
            return Err(Failure::Usage(format!("-n: no namespace {ns}")));
        }
    }
    if let Some(first) = warnings.first() {
        state.show(Message {
            text: format!(
                "{first} ({} theme warning(s), printed again on exit)",
                warnings.len()
            ),
            error: true,
        });
    }
    let (runtime, live_source) = match (live, pending) {
        (Some(l), _) => {
            state.attach_live(l.status, l.session.connection.contexts.clone());
            (
                l.runtime,
                Some(crate::tui::LiveSource {
                    start: crate::tui::LiveStart::Synced(Box::new(l.session)),
                    target: l.target,
                }),
            )
        }
        (None, Some(p)) => {
            let c = &p.connection;
            state.attach_live(crate::cluster::live::connecting(c), c.contexts.clone());
            (
                p.runtime,
                Some(crate::tui::LiveSource {
                    start: crate::tui::LiveStart::Connecting(p.connection),
                    target: p.target,
                }),
            )
        }
        (None, None) => (runtime()?, None),
    };
    let mut agents = cli.agents.clone();
    if cli.probe {
        agents.push(super::node::local_probe(
            &runtime,
            cli.probe_interfaces.clone(),
        )?);
    }
    let sources = crate::tui::Sources {
        demo_flows,
        live: live_source,
        recorded: cli.flows.clone(),
        // On a cluster, its agents unless addresses (or this node's probe) were given.
        cluster_agents: agents
            .is_empty()
            .then(|| crate::cluster::live::agents::AgentPods {
                namespace: cli.agent_namespace.clone(),
                selector: cli.agent_selector.clone(),
                ..Default::default()
            }),
        agents,
    };
    let ended_by =
        crate::tui::run(state, runtime, sources).map_err(|e| Failure::Setup(format!("{e:#}")))?;
    for w in &warnings {
        eprintln!("warning: {w}");
    }
    // Ended by a signal: the status a shell expects (143 for SIGTERM, 129 for SIGHUP).
    Ok(ended_by.map_or(ExitCode::SUCCESS, |s| ExitCode::from(s.exit_code())))
}
