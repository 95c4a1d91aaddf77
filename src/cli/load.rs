//! Where commands get their world: the demo, manifests, or the live cluster (listed once,
//! and for the UI and `trace`, watched on).

use std::io::Write;

use super::{runtime, Failure, SourceArgs};
use crate::app::SourceInfo;
use crate::cluster::files::{self, Input, LoadReport};
use crate::cluster::{live, World};
use crate::policy::selector::Selector;
use crate::policy::{Index, PodId};

/// The world to work on, and where it came from.
pub(super) struct Loaded {
    pub(super) world: World,
    pub(super) info: SourceInfo,
    /// On a cluster: the context's namespace (or -n), for bare pod names.
    pub(super) context_namespace: Option<String>,
    pub(super) live: Option<LiveLoaded>,
    /// For the UI on a cluster: the context, connected to but not yet read from.
    pub(super) pending: Option<PendingLive>,
}

pub(super) struct PendingLive {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) connection: live::Connection,
    pub(super) target: live::Target,
}

pub(super) struct LiveLoaded {
    pub(super) runtime: tokio::runtime::Runtime,
    pub(super) session: live::Session,
    pub(super) status: live::Status,
    pub(super) target: live::Target,
    pub(super) elapsed: std::time::Duration,
}

pub(super) fn live_target(source: &SourceArgs) -> live::Target {
    live::Target {
        kubeconfig: source.kubeconfig.clone(),
        context: source.context.clone(),
        namespace: source.namespace.clone(),
    }
}

pub(super) fn load_world(source: &SourceArgs, demo_forced: bool) -> Result<Loaded, Failure> {
    let scenario = source.scenario(demo_forced);
    let demo = scenario.is_some();
    if !demo && source.filenames.is_empty() {
        return load_live(source);
    }
    let inputs: Vec<Input> = source
        .filenames
        .iter()
        .map(|f| Input::from_arg(f))
        .collect();
    let texts: Vec<(&str, &str)> = scenario
        .map(|s| (s.source(), s.yaml()))
        .into_iter()
        .collect();
    let mut stdin = std::io::stdin().lock();
    let loaded = files::load_with(&texts, &inputs, &mut stdin)?;
    let info = match (demo, inputs.is_empty()) {
        (true, true) => demo_info(),
        (true, false) => SourceInfo {
            detail: format!("the demo and {}", source.filenames.join(", ")),
            ..demo_info()
        },
        (false, _) => files_info(source),
    };
    report_load(&loaded.report, !inputs.is_empty());
    Ok(Loaded {
        world: loaded.world,
        info,
        context_namespace: None,
        live: None,
        pending: None,
    })
}

/// For the UI: reads the kubeconfig (whose mistakes are reported before the terminal is
/// taken) and returns at once; the UI draws while the cluster is read.
pub(super) fn start_live(source: &SourceArgs) -> Result<Loaded, Failure> {
    let runtime = runtime()?;
    let target = live_target(source);
    let connection = runtime.block_on(live::connect(&target))?;
    Ok(Loaded {
        world: World::default(),
        info: SourceInfo {
            kind: connection.context.clone(),
            detail: connection.server.clone(),
            flows: false,
        },
        context_namespace: Some(connection.namespace.clone()),
        live: None,
        pending: Some(PendingLive {
            runtime,
            connection,
            target,
        }),
    })
}

/// Connects to the cluster and lists everything once; the session keeps watching.
pub(super) fn load_live(source: &SourceArgs) -> Result<Loaded, Failure> {
    let runtime = runtime()?;
    let target = live_target(source);
    let started = std::time::Instant::now();
    let (session, world, status) = runtime.block_on(live::open(&target, source.request_timeout))?;
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
        pending: None,
    })
}

pub(super) fn report_load(report: &LoadReport, summary: bool) {
    let mut stderr = std::io::stderr().lock();
    if summary {
        let _ = writeln!(stderr, "{}", report.summary());
    }
    for w in &report.warnings {
        let _ = writeln!(stderr, "warning: {w}");
    }
}

pub(super) fn files_info(source: &SourceArgs) -> SourceInfo {
    SourceInfo {
        kind: "files".into(),
        detail: source.filenames.join(", "),
        flows: false,
    }
}

pub(super) fn demo_info() -> SourceInfo {
    SourceInfo {
        kind: "demo".into(),
        detail: "built-in scenario with simulated traffic".into(),
        flows: true,
    }
}

impl Loaded {
    /// For one-shot commands: the world and the context's namespace; the watch ends here.
    pub(super) fn once(self) -> (World, Option<String>) {
        if let Some(l) = self.live {
            drop(l.session);
            l.runtime.shutdown_background();
        }
        (self.world, self.context_namespace)
    }
}

/// Pods of one namespace (or all), optionally narrowed by a label selector, sorted.
pub(super) fn pods_in_scope(
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
