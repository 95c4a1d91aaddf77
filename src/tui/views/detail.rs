//! The right pane: a pod's effective rules, a policy (warnings, selected pods, coloured YAML),
//! or a namespace summary.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::focused;
use crate::app::{Detail, Pane, State};
use crate::policy::{PodId, PolicyId};
use crate::render;
use crate::render::paint::Paint;
use crate::theme::{Slot, Theme};
use crate::tui::widgets::{pane, toned, wrap, wrap_all, yaml_line, NO, OK};

/// Draws the pane; returns the number of wrapped lines (for scrolling).
pub fn draw(frame: &mut Frame, area: Rect, state: &State) -> usize {
    let theme = &state.theme;
    let width = area.width.saturating_sub(2) as usize;
    let (title, lines) = match &state.detail {
        Detail::Empty => (
            "".to_string(),
            vec![Line::styled("nothing selected", theme.style(Slot::Muted))],
        ),
        Detail::Namespace(n) => namespace(state, *n, width),
        Detail::Pod { id, effective } => pod(state, *id, effective, width),
        Detail::Policy { id, warnings } => policy(state, *id, warnings, width),
        Detail::Tiers => tiers(state, width),
        Detail::Tier(id) => tier(state, *id, width),
    };
    let block = pane(
        Line::styled(format!(" {title} "), theme.style(Slot::Title)),
        focused(state, Pane::Detail),
        theme,
    );
    let inner = block.inner(area);
    let lines = wrap_all(lines, width, 2);
    let total = lines.len();
    let para = Paragraph::new(lines).style(theme.style(Slot::Text));
    let max_scroll = total.saturating_sub(inner.height as usize);
    let scroll = (state.detail_scroll as usize).min(max_scroll) as u16;
    frame.render_widget(block, area);
    frame.render_widget(para.scroll((scroll, 0)), inner);
    total
}

/// The tier group: how the tiers combine, and their policies in evaluation order.
fn tiers(state: &State, width: usize) -> (String, Vec<Line<'static>>) {
    let text = render::tier_overview(state.snapshot.index.policies(), &Paint::markup(), width);
    ("cluster tiers".into(), toned(&text, &state.theme))
}

/// A tier policy: tier, priority, subject and its pods, rules in order, warnings.
fn tier(state: &State, id: u32, width: usize) -> (String, Vec<Line<'static>>) {
    let index = &state.snapshot.index;
    let t = &index.policies().tiers[id as usize];
    let view = &state.snapshot.overview.tiers[id as usize];
    let text = render::tier_policy_at(t, view.pods, &view.warnings, &Paint::markup(), width);
    (t.key(), toned(&text, &state.theme))
}

/// The directions a policy isolates: `ingress`, `egress`, both or neither.
fn policy_types(p: &crate::policy::Policy) -> Vec<&'static str> {
    use crate::policy::Direction;
    [
        ("ingress", p.isolates(Direction::Ingress)),
        ("egress", p.isolates(Direction::Egress)),
    ]
    .into_iter()
    .filter(|(_, on)| *on)
    .map(|(w, _)| w)
    .collect()
}

fn heading(text: impl Into<String>, theme: &Theme) -> Line<'static> {
    Line::styled(text.into(), theme.style(Slot::Heading))
}

/// `name   value`, the value's continuation lines under the value.
fn field(name: &str, value: impl Into<String>, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let line = Line::from(vec![
        Span::styled(format!("{name:<12}"), theme.style(Slot::Muted)),
        Span::styled(value.into(), theme.style(Slot::Text)),
    ]);
    wrap(line, width, 12)
}

fn pod(
    state: &State,
    id: PodId,
    effective: &crate::policy::effective::Effective,
    width: usize,
) -> (String, Vec<Line<'static>>) {
    let theme = &state.theme;
    let index = &state.snapshot.index;
    let p = &index.inventory().pods[id as usize];
    let pv = state.snapshot.overview.pods[id as usize];
    let mut lines = Vec::new();
    let labels: Vec<String> = p.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    lines.extend(field(
        "labels",
        if labels.is_empty() {
            "none".into()
        } else {
            labels.join("  ")
        },
        width,
        theme,
    ));
    let ips: Vec<String> = p.ips.iter().map(|ip| ip.to_string()).collect();
    lines.extend(field(
        "node · IPs",
        format!(
            "{} · {}",
            p.node.as_deref().unwrap_or("unscheduled"),
            if ips.is_empty() {
                "none (from a workload template)".into()
            } else {
                ips.join(", ")
            }
        ),
        width,
        theme,
    ));
    if !p.ports.is_empty() {
        let ports: Vec<String> = p
            .ports
            .iter()
            .map(|cp| match &cp.name {
                Some(n) => format!("{n} {}/{}", cp.port, cp.protocol),
                None => format!("{}/{}", cp.port, cp.protocol),
            })
            .collect();
        lines.extend(field("ports", ports.join("  "), width, theme));
    }
    if let Some(w) = &p.workload {
        lines.extend(field("workload", w.clone(), width, theme));
    }
    if p.host_network {
        let set = index.policies();
        let node = p.node.as_deref().unwrap_or("?");
        let text = match set.host_endpoint_of(node) {
            Some(hep) => format!(
                "hostNetwork: {} protects node {node}; Calico's host endpoint policy decides \
                 this pod's traffic, and is not judged",
                hep.key()
            ),
            None if set.has_host_policies() => {
                format!(
                    "hostNetwork: it shares node {node}'s host endpoint, which Cilium's host \
                     policies select"
                )
            }
            None => "hostNetwork: it has its node's address; whether NetworkPolicies select it \
                     is up to the network plugin"
                .to_string(),
        };
        lines.extend(field("network", text, width, theme));
    }
    if pv.selecting == 0 && !pv.known {
        lines.push(Line::styled(
            "? no policy surely selects this pod, and some may: see below",
            theme.style(Slot::Warning),
        ));
    } else if pv.selecting == 0 {
        lines.push(Line::styled(
            "! no policy selects this pod: every ingress and egress is allowed",
            theme.style(Slot::Unprotected),
        ));
    }
    if state.snapshot.problems.pods.contains(&id) {
        let key = p.key();
        for problem in state
            .snapshot
            .problems
            .list
            .iter()
            .filter(|pr| pr.pods.contains(&key))
        {
            lines.extend(wrap(
                Line::styled(
                    format!(
                        "⚑ {}: {}; fix: {}",
                        problem.object, problem.what, problem.fix
                    ),
                    theme.style(Slot::Warning),
                ),
                width,
                2,
            ));
        }
    }
    lines.push(Line::raw(""));
    // The same words as `effective` on the command line, styled by the theme.
    let text = render::effective_sides_at(effective, &Paint::markup(), width);
    lines.extend(toned(&text, theme));
    if let Some(view) = state.audit.current() {
        lines.push(Line::raw(""));
        lines.extend(pod_audit(view, &p.key(), width, theme));
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled(
        "Enter: explain a flow to this pod · e: from this pod",
        theme.style(Slot::Muted),
    ));
    (format!("pod {}", p.key()), lines)
}

fn namespace(state: &State, n: u32, width: usize) -> (String, Vec<Line<'static>>) {
    let theme = &state.theme;
    let ov = &state.snapshot.overview;
    let nv = &ov.namespaces[n as usize];
    let index = &state.snapshot.index;
    let policies = &index.policies().policies;
    let mut lines = Vec::new();
    match index.namespace(&nv.name) {
        Some(ns) if !ns.labels_known => lines.extend(field(
            "labels",
            "unknown: namespaces could not be read; verdicts that depend on them say unknown"
                .to_string(),
            width,
            theme,
        )),
        Some(ns) => {
            let l: Vec<String> = ns.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
            lines.extend(field("labels", l.join("  "), width, theme));
        }
        None => {}
    }
    lines.extend(field(
        "counts",
        format!(
            "{} pods · {} policies · {} unprotected",
            nv.pods.len(),
            nv.policies.len(),
            nv.unprotected.len()
        ),
        width,
        theme,
    ));
    lines.push(Line::raw(""));
    lines.push(heading("DEFAULT DENY", theme));
    for (word, list) in [
        ("ingress", &nv.default_deny_ingress),
        ("egress", &nv.default_deny_egress),
    ] {
        let names: Vec<&str> = list
            .iter()
            .map(|&p| policies[p as usize].name.as_str())
            .collect();
        lines.push(if names.is_empty() {
            Line::from(vec![
                Span::styled(format!("  {NO} {word:<8}"), theme.style(Slot::Deny)),
                Span::styled(
                    "none: pods no policy isolates are open this way",
                    theme.style(Slot::Muted),
                ),
            ])
        } else {
            Line::from(vec![
                Span::styled(format!("  {OK} {word:<8}"), theme.style(Slot::Allow)),
                Span::raw(names.join(", ")),
            ])
        });
    }
    let isolated = |f: fn(&crate::app::overview::PodView) -> bool| {
        nv.pods.iter().filter(|&&p| f(&ov.pods[p as usize])).count()
    };
    lines.extend(field(
        "  isolated",
        format!(
            "ingress {}/{} · egress {}/{}",
            isolated(|p| p.ingress_isolated),
            nv.pods.len(),
            isolated(|p| p.egress_isolated),
            nv.pods.len()
        ),
        width,
        theme,
    ));
    lines.push(Line::raw(""));
    lines.push(heading(format!("POLICIES ({})", nv.policies.len()), theme));
    if nv.policies.is_empty() {
        lines.push(Line::styled("  none", theme.style(Slot::Muted)));
    }
    for &pid in &nv.policies {
        let p = &policies[pid as usize];
        let selects = ov.policies[pid as usize].selects.len();
        let types = policy_types(p);
        let mut spans = vec![
            Span::raw(format!("  {:<28} ", p.name)),
            Span::styled(
                format!("{selects} pods · {}", types.join("+")),
                theme.style(Slot::Muted),
            ),
        ];
        if selects == 0 {
            spans.push(Span::styled(
                "  selects nothing",
                theme.style(Slot::Warning),
            ));
        }
        if !p.warnings.is_empty() {
            spans.push(Span::styled(
                format!("  ⚑ {} warning(s)", p.warnings.len()),
                theme.style(Slot::Warning),
            ));
        }
        lines.push(Line::from(spans));
    }
    lines.push(Line::raw(""));
    lines.push(heading(
        format!("UNPROTECTED PODS ({})", nv.unprotected.len()),
        theme,
    ));
    if nv.unprotected.is_empty() {
        lines.push(Line::styled(
            "  none: every pod is selected by some policy",
            theme.style(Slot::Muted),
        ));
    }
    for &p in &nv.unprotected {
        lines.push(Line::styled(
            format!("  ! {}", index.inventory().pods[p as usize].name),
            theme.style(Slot::Unprotected),
        ));
    }
    (format!("namespace {}", nv.name), lines)
}

fn policy(
    state: &State,
    id: PolicyId,
    warnings: &[String],
    width: usize,
) -> (String, Vec<Line<'static>>) {
    let theme = &state.theme;
    let index = &state.snapshot.index;
    let p = &index.policies().policies[id as usize];
    let selects = &state.snapshot.overview.policies[id as usize].selects;
    let mut lines = Vec::new();
    lines.extend(field("origin", p.origin.to_string(), width, theme));
    if let Some(c) = &p.cilium {
        let firewall = match index.host_firewall() {
            Some(true) => "on",
            Some(false) => "off: it does nothing",
            None => "not known: what it would decide is unknown",
        };
        let scope = match (&c.nodes, &c.namespaces) {
            (Some(s), _) if s.is_everything() => {
                format!(
                    "host policy: every node and its host-network pods; host firewall {firewall}"
                )
            }
            (Some(s), _) => {
                format!(
                    "host policy: nodes {s} and their host-network pods; host firewall {firewall}"
                )
            }
            (None, None) => format!("namespace {}", p.namespace),
            (None, Some(s)) if s.is_everything() => "all namespaces".to_string(),
            (None, Some(s)) => format!("namespaces {s}"),
        };
        lines.extend(field(
            "kind",
            format!(
                "{} ({scope}): its allow rules join NetworkPolicy's; its deny rules, if any, \
                 are in the cluster group",
                c.kind
            ),
            width,
            theme,
        ));
        if c.audit_mode {
            lines.extend(field(
                "audit",
                "audit mode: Cilium logs what it would drop and forwards it".to_string(),
                width,
                theme,
            ));
        }
        for l in &c.l7 {
            lines.extend(field(
                "L7",
                format!("{}[{}] {} (shown, not judged)", l.direction, l.rule, l.text),
                width,
                theme,
            ));
        }
    }
    let types = policy_types(p);
    lines.extend(field(
        "isolates",
        if types.is_empty() {
            "nothing (no policy types)".to_string()
        } else {
            types.join(" and ")
        },
        width,
        theme,
    ));
    let pods = &index.inventory().pods;
    let names: Vec<&str> = selects
        .iter()
        .take(12)
        .map(|&q| pods[q as usize].name.as_str())
        .collect();
    let more = if selects.len() > names.len() {
        format!(" … and {} more", selects.len() - names.len())
    } else {
        String::new()
    };
    lines.extend(field(
        "selects",
        format!(
            "{} pod(s){}{}{more}",
            selects.len(),
            if names.is_empty() { "" } else { ": " },
            names.join(", ")
        ),
        width,
        theme,
    ));
    if !warnings.is_empty() {
        lines.push(Line::raw(""));
        lines.push(Line::styled(
            format!("WARNINGS ({})", warnings.len()),
            theme.style(Slot::Warning),
        ));
        for w in warnings {
            lines.push(Line::styled(format!("  ⚑ {w}"), theme.style(Slot::Warning)));
        }
    }
    lines.push(Line::raw(""));
    lines.push(heading("MANIFEST", theme));
    match &p.manifest {
        Some(m) => lines.extend(m.yaml().lines().map(|l| yaml_line(l, theme))),
        None => {
            lines.push(Line::styled(
                "# normalized form (the source kept no manifest)",
                theme.style(Slot::YamlComment),
            ));
            if let Ok(y) = serde_yaml::to_string(p) {
                lines.extend(y.lines().map(|l| yaml_line(l, theme)));
            }
        }
    }
    (format!("netpol {}", p.key()), lines)
}

/// Audit mode: the pod's effective rules before -> after the staged changes.
fn pod_audit(
    view: &crate::app::AuditView,
    pod: &str,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let mut lines = vec![heading("AUDIT · ONCE STAGED", theme)];
    let Some(change) = view.pods.iter().find(|c| c.pod == pod) else {
        lines.push(Line::styled(
            "  no change: the same policies with the same rules select this pod",
            theme.style(Slot::Muted),
        ));
        return lines;
    };
    let iso = |on: bool| if on { "isolated" } else { "not isolated" };
    for (dir, side) in [("ingress", &change.ingress), ("egress", &change.egress)] {
        let changed = side.isolated_before != side.isolated_after
            || !side.added.is_empty()
            || !side.removed.is_empty();
        lines.push(Line::from(vec![
            Span::styled(format!("  {dir}: "), theme.style(Slot::Text)),
            Span::styled(
                format!(
                    "{} → {}",
                    iso(side.isolated_before),
                    iso(side.isolated_after)
                ),
                if changed {
                    theme.style(Slot::WouldBreak)
                } else {
                    theme.style(Slot::Muted)
                },
            ),
        ]));
        for a in &side.removed {
            lines.extend(wrap(
                Line::from(vec![
                    Span::styled("    ⊘ - ", theme.style(Slot::WouldBreak)),
                    Span::styled(a.clone(), theme.style(Slot::Text)),
                ]),
                width,
                8,
            ));
        }
        for a in &side.added {
            lines.extend(wrap(
                Line::from(vec![
                    Span::styled("    ⊕ + ", theme.style(Slot::WouldAllow)),
                    Span::styled(a.clone(), theme.style(Slot::Text)),
                ]),
                width,
                8,
            ));
        }
        if side.isolated_after && !side.isolated_before && side.added.is_empty() {
            lines.push(Line::styled(
                format!("    ⊘ nothing is allowed {dir} once staged"),
                theme.style(Slot::WouldBreak),
            ));
        }
    }
    lines
}
