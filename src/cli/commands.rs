//! The one-shot commands on a loaded world: `explain`, `matrix`, `effective`, `status`, and
//! `demo` without a terminal.

use std::collections::HashMap;
use std::process::ExitCode;

use super::load::{load_world, pods_in_scope, Loaded};
use super::output::{print, print_data, stream, stream_data};
use super::{engine_options, ByArg, Failure, MatrixOutput, Output, SourceArgs};
use crate::policy::effective::{effective, effective_with, Effective};
use crate::policy::explain::explain;
use crate::policy::model::Inventory;
use crate::policy::query::{resolve_endpoint, resolve_port};
use crate::policy::selector::Selector;
use crate::policy::service::{
    explain_service, parse_service_ref, resolve_node_port, resolve_service, ServiceTarget,
};
use crate::policy::{By, Decision, Error, Flow, Index, PortTable, Protocol};
use crate::render::{self, paint::Paint};

/// The world of `source`, compiled; and the context's namespace on a cluster.
fn index(source: &SourceArgs, demo: bool) -> Result<(Index, Option<String>), Failure> {
    let (world, context_ns) = load_world(source, demo)?.once();
    Ok((
        Index::build(world.inventory, world.policies, engine_options(source)),
        context_ns,
    ))
}

pub(super) fn explain_flow(
    source: &SourceArgs,
    paint: &Paint,
    (from, to, port): (&str, &str, Option<&str>),
    (protocol, suggest): (Protocol, bool),
    output: Output,
) -> Result<ExitCode, Failure> {
    let (index, context_ns) = index(source, false)?;
    let ns = source.namespace.as_deref().or(context_ns.as_deref());
    if parse_service_ref(from).is_some() {
        return Err(Failure::lookup("--from")(Error::ServiceAsSource));
    }
    let src = resolve_endpoint(&index, from, ns).map_err(Failure::lookup("--from"))?;
    if let Some(target) =
        resolve_service(&index, to, ns, port, protocol).map_err(Failure::lookup("--to"))?
    {
        return explain_service_flow(&index, paint, src, &target, (protocol, suggest), output);
    }
    let dst = resolve_endpoint(&index, to, ns).map_err(Failure::lookup("--to"))?;
    let port = port
        .ok_or(Error::PortRequired)
        .map_err(Failure::lookup("--port"))?;
    let port = resolve_port(&index, port, &dst, protocol).map_err(Failure::lookup("--port"))?;
    if let Some(target) = resolve_node_port(&index, &dst, port, protocol) {
        return explain_service_flow(&index, paint, src, &target, (protocol, suggest), output);
    }
    let flow = Flow {
        src,
        dst,
        protocol,
        port,
    };
    let e = explain(&index, &flow);
    let fix = (suggest && !e.allowed).then(|| crate::policy::audit::fix::fix(&index, &flow));
    match (output.data(), &fix) {
        (None, _) => {
            let mut text = render::explanation(&e, paint);
            if let Some(fix) = &fix {
                text.push_str(&render::fix(fix, paint));
            }
            print(&text)?
        }
        (Some(format), None) => print_data(&e, format)?,
        (Some(format), Some(fix)) => print_data(
            &serde_json::json!({"explanation": e, "suggested": fix}),
            format,
        )?,
    }
    Ok(verdict_code(e.decision()))
}

/// 0 allowed, 3 unknown, 1 denied.
fn verdict_code(decision: Decision) -> ExitCode {
    match decision {
        Decision::Allowed => ExitCode::SUCCESS,
        Decision::Unknown => ExitCode::from(3),
        Decision::Denied => ExitCode::from(1),
    }
}

/// `explain` to a Service: every backing pod at its target port; with `--suggest`, the fix
/// for each backing pod that is denied.
fn explain_service_flow(
    index: &Index,
    paint: &Paint,
    src: crate::policy::Endpoint,
    target: &ServiceTarget,
    (protocol, suggest): (Protocol, bool),
    output: Output,
) -> Result<ExitCode, Failure> {
    let e = explain_service(index, src, target, protocol);
    let fixes: Vec<_> = match suggest {
        false => Vec::new(),
        true => target
            .backends
            .iter()
            .zip(&e.backends)
            .filter(|(_, b)| !b.explanation.allowed)
            .map(|(b, _)| crate::policy::audit::fix::fix(index, &b.flow(src, protocol)))
            .collect(),
    };
    match output.data() {
        None => {
            let mut text = render::service_explanation(&e, paint);
            for fix in &fixes {
                text.push_str(&render::fix(fix, paint));
            }
            print(&text)?
        }
        Some(format) if suggest => print_data(
            &serde_json::json!({"explanation": e, "suggested": fixes}),
            format,
        )?,
        Some(format) => print_data(&e, format)?,
    }
    Ok(verdict_code(e.decision()))
}

pub(super) fn matrix(
    source: &SourceArgs,
    paint: &Paint,
    (port, protocol): (u16, Protocol),
    selector: Option<String>,
    output: MatrixOutput,
) -> Result<ExitCode, Failure> {
    let selector = match selector {
        Some(s) => Some(Selector::parse(&s).map_err(Failure::lookup("-l"))?),
        None => None,
    };
    let (index, _) = index(source, false)?;
    let pods = pods_in_scope(&index, source.namespace.as_deref(), selector.as_ref())?;
    let m = index.matrix(&pods, protocol, port);
    let inv = index.inventory();
    let title = format!("matrix {protocol}/{port}");
    stream(|w| match output {
        MatrixOutput::Text => render::matrix::text(w, &m, inv, &title, paint),
        MatrixOutput::Csv => render::matrix::csv(w, &m, inv),
        MatrixOutput::Json => render::matrix::json(w, &m, inv),
        MatrixOutput::Yaml => render::matrix::yaml(w, &m, inv),
    })?;
    if m.has_unknown() {
        eprintln!("{}", unknown_note(inv));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// `matrix --all-ports`: every protocol and port at once, by pod or by workload.
pub(super) fn all_ports(
    source: &SourceArgs,
    by: ByArg,
    selector: Option<String>,
    output: MatrixOutput,
) -> Result<ExitCode, Failure> {
    let selector = match selector {
        Some(s) => Some(Selector::parse(&s).map_err(Failure::lookup("-l"))?),
        None => None,
    };
    let (index, _) = index(source, false)?;
    let pods = pods_in_scope(&index, source.namespace.as_deref(), selector.as_ref())?;
    let by = match by {
        ByArg::Pod => By::Pod,
        ByArg::Workload => By::Workload,
    };
    let mut table = PortTable::new(&index, &pods, by);
    let rows = match by {
        By::Pod => "pods",
        By::Workload => "workloads",
    };
    stream(|w| match output {
        MatrixOutput::Text => render::matrix::ports_text(w, &mut table, rows),
        MatrixOutput::Csv => render::matrix::ports_csv(w, &mut table),
        MatrixOutput::Json => render::matrix::ports_json(w, &mut table),
        MatrixOutput::Yaml => render::matrix::ports_yaml(w, &mut table),
    })?;
    if table.unknown {
        eprintln!("{}", unknown_note(index.inventory()));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// Why some answers are unknown: what could not be read.
fn unknown_note(inv: &Inventory) -> String {
    let names = |f: fn(&crate::policy::model::Namespace) -> bool| -> String {
        let list: Vec<&str> = inv
            .namespaces
            .iter()
            .filter(|n| f(n))
            .map(|n| n.name.as_str())
            .collect();
        list.join(", ")
    };
    let mut missing = Vec::new();
    let labels = names(|n| !n.labels_known);
    if !labels.is_empty() {
        missing.push(format!("the labels of namespaces {labels}"));
    }
    let policies = names(|n| !n.policies_known);
    if !policies.is_empty() {
        missing.push(format!("the NetworkPolicies of namespaces {policies}"));
    }
    format!(
        "unknown: some answers depend on what could not be read ({}); grant the reader role \
         (deploy/reader-rbac.yaml) for definite answers",
        missing.join("; ")
    )
}

pub(super) fn effective_rules(
    source: &SourceArgs,
    paint: &Paint,
    pod: Option<String>,
    output: Output,
) -> Result<ExitCode, Failure> {
    let (index, context_ns) = index(source, false)?;
    // As kubectl: on a cluster, without -n the context's namespace is meant.
    let ns = source.namespace.clone().or(context_ns);
    let pods = match &pod {
        Some(p) => {
            let ep =
                resolve_endpoint(&index, p, ns.as_deref()).map_err(Failure::lookup("effective"))?;
            match (ep.pod_id(), ep) {
                (Some(id), _) => vec![id],
                // A node: its host endpoint, as Cilium's host policies make it.
                (None, crate::policy::Endpoint::Node { node, .. }) => {
                    let e = crate::policy::effective::effective_host(&index, node);
                    let unknown = [&e.ingress, &e.egress].iter().any(|s| s.unknown.is_some());
                    match output.data() {
                        None => print(&render::effective(&e, paint))?,
                        Some(format) => print_data(&e, format)?,
                    }
                    return Ok(if unknown {
                        ExitCode::from(3)
                    } else {
                        ExitCode::SUCCESS
                    });
                }
                (None, _) => return Err(Failure::Usage(format!("{p} is not a pod"))),
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
    // Pods of one class are alike to every policy: worked out once per class, the pod's name
    // put in; printed as they are made, so that output never piles up in memory.
    let inv = index.inventory();
    let mut by_class: HashMap<u32, Effective> = HashMap::new();
    let mut unknown = false;
    // One pod named: its rules' peers are judged too (too costly for every pod).
    let named = pod.is_some();
    let mut each = pods.iter().map(|&p| {
        let shared = by_class
            .entry(index.class_of(p))
            .or_insert_with(|| effective_with(&index, p, named));
        let mut e = shared.clone();
        e.pod = inv.pods[p as usize].key();
        unknown |= [&e.ingress, &e.egress]
            .iter()
            .any(|s| s.unknown.is_some() || s.allows.iter().any(|a| a.peer_pods_unknown.is_some()));
        e
    });
    match output.data() {
        None => stream(|w| {
            for (i, e) in each.by_ref().enumerate() {
                if i > 0 {
                    writeln!(w)?;
                }
                w.write_all(render::effective(&e, paint).as_bytes())?;
            }
            Ok(())
        })?,
        // One named pod prints as an object, a namespace's pods as a list.
        Some(format) if pod.is_some() => {
            let one = each.next().expect("one pod was named");
            print_data(&one, format)?
        }
        Some(format) => stream_data(&mut each, format)?,
    }
    drop(each);
    if unknown {
        eprintln!("{}", unknown_note(index.inventory()));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}

/// `demo` without a terminal: the demo pods' effective rules.
pub(super) fn demo_text(source: &SourceArgs, paint: &Paint) -> Result<ExitCode, Failure> {
    let (index, _) = index(source, true)?;
    let pods = pods_in_scope(&index, source.namespace.as_deref(), None)?;
    let mut out = String::new();
    for pod in pods {
        out.push_str(&render::effective(&effective(&index, pod), paint));
        out.push('\n');
    }
    let scenario = source.scenario(true).unwrap_or_default();
    out.push_str(&paint.dim(&format!("Try: {}\n", scenario.try_first())));
    print(&out)?;
    Ok(ExitCode::SUCCESS)
}

pub(super) fn status(source: &SourceArgs) -> Result<ExitCode, Failure> {
    let loaded = load_world(source, false)?;
    print(&status_text(&loaded))?;
    loaded.once();
    Ok(ExitCode::SUCCESS)
}

/// `status`: where the data comes from, how much there is, and what is not visible.
fn status_text(loaded: &Loaded) -> String {
    let inv = &loaded.world.inventory;
    let tiers = match loaded.world.policies.tiers.len() {
        0 => String::new(),
        n => format!(", {n} tier policies"),
    };
    let counts = format!(
        "{} namespaces, {} pods, {} NetworkPolicies{tiers}, {} nodes, {} Services",
        inv.namespaces.len(),
        inv.pods.len(),
        loaded.world.policies.policies.len(),
        inv.nodes.len(),
        inv.services.len()
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

/// `lint`: every likely mistake, grouped by object; exit 1 when there is any.
pub(super) fn lint(
    source: &SourceArgs,
    paint: &Paint,
    output: super::LintOutput,
    fail_on: super::FailOn,
) -> Result<ExitCode, Failure> {
    use super::output::Data;
    use super::LintOutput;
    use crate::policy::lint::Severity;
    let (index, _) = index(source, false)?;
    let problems = crate::policy::lint::lint(&index);
    match output {
        LintOutput::Text => print(&crate::render::problems(&problems, paint))?,
        LintOutput::Json => print_data(&problems, Data::Json)?,
        LintOutput::Yaml => print_data(&problems, Data::Yaml)?,
        LintOutput::Sarif => print_data(&crate::render::sarif::log(&problems), Data::Json)?,
    }
    let threshold = match fail_on {
        super::FailOn::Error => Some(Severity::Error),
        super::FailOn::Warning => Some(Severity::Warning),
        super::FailOn::Never => None,
    };
    let failed = threshold.is_some_and(|t| problems.iter().any(|p| p.severity >= t));
    Ok(if failed {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}

/// `reach`: who can reach a pod and what it can reach, grouped by namespace and workload.
pub(super) fn reach(
    source: &SourceArgs,
    paint: &Paint,
    pod: &str,
    (only_in, only_out): (bool, bool),
    peers: Option<String>,
    output: Output,
) -> Result<ExitCode, Failure> {
    let (index, context_ns) = index(source, false)?;
    let ns = source.namespace.clone().or(context_ns);
    let ep = resolve_endpoint(&index, pod, ns.as_deref()).map_err(Failure::lookup("reach"))?;
    let Some(id) = ep.pod_id() else {
        return Err(Failure::Usage(format!("reach: {pod} is not a pod")));
    };
    let peer_pods = pods_in_scope(&index, peers.as_deref(), None)?;
    let mut r = crate::policy::reach::reach(&index, id, &peer_pods);
    if only_in {
        r.outbound.clear();
        r.outbound_none = 0;
    }
    if only_out {
        r.inbound.clear();
        r.inbound_none = 0;
    }
    match output.data() {
        Some(format) => super::output::print_data(&r, format)?,
        None => {
            let text = render::reach(&r, (!only_out, !only_in), paint);
            print(&text)?;
        }
    }
    if r.has_unknown() {
        eprintln!("{}", unknown_note(index.inventory()));
        return Ok(ExitCode::from(3));
    }
    Ok(ExitCode::SUCCESS)
}
