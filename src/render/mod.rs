//! Text of the engine's results (explain, effective, matrix) for both front ends: the command
//! line prints it, the terminal UI styles the same words with its theme. Readable at 100
//! columns, symbols as well as colour so that nothing depends on telling red from green.
//!
//! Reads `policy` results only; must not import the terminal, the UI state or any source.

pub mod audit;
pub mod matrix;
pub mod paint;
pub mod sarif;

use std::fmt::Write;

use crate::policy::effective::{Effective, EffectiveSide};
use crate::policy::explain::{Check, Explanation, PolicyTrace, SideExplanation};
use crate::policy::explain_tiers::{CalicoTierName, TierCite, TierTrace};
use crate::policy::tiers::{Action, Tier};
use crate::policy::Decision;

use paint::Paint;

const OK: &str = "✓";
const NO: &str = "✗";

/// Text output fits this many columns.
pub const WIDTH: usize = 100;

/// Wraps every line longer than `width`, continuing under its own indent plus four.
fn fit(text: String, width: usize) -> String {
    let mut out = String::with_capacity(text.len());
    for line in text.lines() {
        if textwrap::core::display_width(line) <= width {
            out.push_str(line);
            out.push('\n');
            continue;
        }
        let indent: String = line.chars().take_while(|c| *c == ' ').collect();
        let hanging = format!("{indent}    ");
        let options = textwrap::Options::new(width.max(20))
            .initial_indent(&indent)
            .subsequent_indent(&hanging)
            .word_separator(textwrap::WordSeparator::AsciiSpace)
            .word_splitter(textwrap::WordSplitter::NoHyphenation)
            .break_words(false);
        for piece in textwrap::wrap(line.trim_start(), options) {
            out.push_str(&piece);
            out.push('\n');
        }
    }
    out
}

pub fn explanation(e: &Explanation, paint: &Paint) -> String {
    explanation_at(e, paint, WIDTH)
}

/// `explanation` wrapped at `width` columns.
pub fn explanation_at(e: &Explanation, paint: &Paint, width: usize) -> String {
    let mut out = String::new();
    let l7: Vec<&str> = [&e.egress, &e.ingress]
        .iter()
        .filter_map(|s| s.l7.as_deref())
        .collect();
    let verdict = match e.decision() {
        Decision::Allowed if !l7.is_empty() => {
            paint.good(&format!("{OK} ALLOWED at L3/L4, filtered at L7"))
        }
        Decision::Allowed => paint.good(&format!("{OK} ALLOWED")),
        Decision::Unknown => paint.warn("? UNKNOWN"),
        Decision::Denied => paint.bad(&format!("{NO} DENIED")),
    };
    let _ = writeln!(
        out,
        "{verdict}  {} → {}  {}/{}",
        paint.strong(&e.src),
        paint.strong(&e.dst),
        e.protocol,
        e.port
    );
    match e.exemption {
        Some(crate::policy::Exemption::SelfTraffic) => {
            let _ = writeln!(
                out,
                "  a pod may always talk to itself, whatever the policies say"
            );
        }
        Some(crate::policy::Exemption::NodeLocal) => {
            let _ = writeln!(out, "  traffic between a pod and its own node is always allowed, whatever the policies say");
        }
        Some(crate::policy::Exemption::NodeLocalHost { .. }) | None => {
            if e.exemption.is_some() {
                let _ = writeln!(
                    out,
                    "  the pod's own policies always let traffic with its node through; the \
                     node's host endpoint decides"
                );
            }
            let _ = writeln!(out, "  {}", summary(e));
            if e.allowed {
                for text in &l7 {
                    let _ = writeln!(
                        out,
                        "  {}",
                        paint.warn(&format!(
                            "filtered at L7 by {text} (L7 rules are shown, not judged)"
                        ))
                    );
                }
            }
        }
    }
    match &e.unknown {
        // The summary said it.
        Some(_)
            if unknown_side(e)
                && matches!(
                    e.exemption,
                    None | Some(crate::policy::Exemption::NodeLocalHost { .. })
                ) => {}
        Some(why) => {
            let _ = writeln!(out, "  {}", paint.warn(&format!("unknown: {why}")));
        }
        None => {}
    }
    for side in [&e.egress, &e.ingress] {
        out.push('\n');
        side_text(&mut out, side, e, paint);
    }
    if !e.notes.is_empty() {
        let _ = writeln!(out, "\n{}", paint.strong("notes"));
        for n in &e.notes {
            let _ = writeln!(out, "  - {n}");
        }
    }
    fit(out, width)
}

/// A flow to a Service: the Service, where it sends the flow, one line per backing pod,
/// and the reasoning once for each group of pods that share a verdict and its policies.
pub fn service_explanation(
    e: &crate::policy::service::ServiceExplanation,
    paint: &Paint,
) -> String {
    use crate::policy::service::Via;
    let mut out = String::new();
    let (allowed, denied, unknown) = e.counts();
    let verdict = match e.decision() {
        Decision::Allowed => paint.good(&format!("{OK} ALLOWED")),
        Decision::Unknown => paint.warn("? UNKNOWN"),
        // Not a policy's doing: nothing answers.
        Decision::Denied if e.backends.is_empty() => paint.bad(&format!("{NO} NO PODS")),
        Decision::Denied => paint.bad(&format!("{NO} DENIED")),
    };
    let port = match &e.port_name {
        Some(name) => format!("{}/{} ({name})", e.protocol, e.port),
        None => format!("{}/{}", e.protocol, e.port),
    };
    let via = match &e.via {
        Via::Name => "by name".to_string(),
        Via::ClusterIp { address } => format!("at its ClusterIP {address}"),
        Via::External { address } => format!("at its external address {address}"),
        Via::NodePort { node, port } => format!("at NodePort {port} of node {node}"),
    };
    let _ = writeln!(
        out,
        "{verdict}  → Service {} {port}, {via}; target port {}",
        paint.strong(&e.service),
        e.target_port
    );
    let _ = writeln!(
        out,
        "  {} backing pod(s): {allowed} allowed, {denied} denied, {unknown} unknown",
        e.backends.len()
    );
    if let Some(why) = &e.unknown {
        let _ = writeln!(out, "  {}", paint.warn(&format!("unknown: {why}")));
    }
    for b in &e.backends {
        let mark = mark(b.explanation.decision(), paint);
        let _ = writeln!(out, "  {mark} {} :{}", b.pod, b.port);
    }
    for pod in &e.not_backing {
        let _ = writeln!(
            out,
            "  - {pod}: selected, but declares no container port {} for {}, so the Service \
             sends it nothing",
            e.target_port, e.protocol
        );
    }
    let mut shown: Vec<String> = Vec::new();
    for b in &e.backends {
        let key = verdict_key(&b.explanation);
        if shown.contains(&key) {
            continue;
        }
        let alike = e
            .backends
            .iter()
            .filter(|o| verdict_key(&o.explanation) == key)
            .count();
        shown.push(key);
        let title = if alike > 1 {
            format!("{} (and {} more pod(s) alike)", b.pod, alike - 1)
        } else {
            b.pod.clone()
        };
        let _ = writeln!(out, "\n{}", paint.strong(&format!("── {title}")));
        out.push_str(&explanation_at(&b.explanation, paint, WIDTH));
    }
    let _ = writeln!(out, "\n{}", paint.strong("about the Service"));
    for n in &e.notes {
        let _ = writeln!(out, "  - {n}");
    }
    fit(out, WIDTH)
}

/// One mark for an answer: ✓ allowed, ? unknown, ✗ denied.
pub fn mark(decision: Decision, paint: &Paint) -> String {
    match decision {
        Decision::Allowed => paint.good(OK),
        Decision::Unknown => paint.warn("?"),
        Decision::Denied => paint.bad(NO),
    }
}

/// What makes two explanations of one Service's pods read the same: the port, each side's
/// outcome and the policies that decide it.
fn verdict_key(e: &Explanation) -> String {
    let side = |s: &SideExplanation| {
        format!(
            "{}:{:?}:{:?}:{:?}",
            s.outcome,
            s.allowed_by.as_ref().map(|c| (&c.policy, c.rule)),
            s.decided_by.as_ref().map(|c| &c.policy),
            s.isolated_by
        )
    };
    format!(
        "{}|{}|{}|{:?}",
        e.port,
        side(&e.egress),
        side(&e.ingress),
        e.unknown
    )
}

/// Whether a side's own answer is unknown (rather than the address at the other end).
fn unknown_side(e: &Explanation) -> bool {
    [&e.egress, &e.ingress]
        .iter()
        .any(|s| s.outcome == "unknown")
}

/// One sentence saying what decided.
fn summary(e: &Explanation) -> String {
    let proto_port = format!("{}/{}", e.protocol, e.port);
    let blocked: Vec<String> = [&e.egress, &e.ingress]
        .iter()
        .filter(|s| s.outcome == "denied")
        .map(|s| match (&s.decided_by, &s.end_of_tier) {
            (Some(c), _) => format!(
                "{} of {} denied by {}",
                s.direction,
                s.pod.as_deref().unwrap_or("?"),
                cite(c, s)
            ),
            (None, Some(end)) => format!(
                "{} of {} denied at the end of {}: no rule admits {proto_port}, and {} \
                 select{} the pod{}",
                s.direction,
                s.pod.as_deref().unwrap_or("?"),
                end.tier_name(),
                end.selecting
                    .iter()
                    .chain(&end.isolating)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", "),
                if end.selecting.len() + end.isolating.len() == 1 {
                    "s"
                } else {
                    ""
                },
                passed_text(s)
            ),
            (None, None) => format!(
                "{} isolated for {} by {}; no rule admits {proto_port}{}",
                s.pod.as_deref().unwrap_or("?"),
                s.direction,
                s.isolated_by.join(", "),
                passed_text(s)
            ),
        })
        .collect();
    if !blocked.is_empty() {
        return format!("blocked: {}", blocked.join("\n  blocked: "));
    }
    if let (true, Some(why)) = (unknown_side(e), &e.unknown) {
        return format!("unknown: {why}");
    }
    let parts: Vec<String> = [&e.egress, &e.ingress]
        .iter()
        .filter_map(|s| match s.outcome {
            "allowed" if s.decided_by.is_some() => s
                .decided_by
                .as_ref()
                .map(|c| format!("{} by {}", s.direction, cite(c, s))),
            "allowed" => s.allowed_by.as_ref().map(|c| {
                format!(
                    "{} by {} {}[{}]{}",
                    s.direction,
                    c.policy,
                    s.direction,
                    c.rule,
                    passed_text(s)
                )
            }),
            "not_isolated" if !s.tiers.is_empty() => Some(format!(
                "{} not isolated, and no tier rule decides{}",
                s.direction,
                passed_text(s)
            )),
            "not_isolated" => Some(format!("{} not isolated", s.direction)),
            _ => None,
        })
        .collect();
    format!("allowed: {}", parts.join("; "))
}

/// `AdminNetworkPolicy/x (admin tier, priority 10) egress[2] "name": deny`.
fn cite(c: &TierCite, side: &SideExplanation) -> String {
    let name = if c.name.is_empty() {
        String::new()
    } else {
        format!(" \"{}\"", c.name)
    };
    format!(
        "{} ({}) {}[{}]{name}: {}",
        c.policy,
        place(
            c.tier,
            c.priority,
            c.order.as_deref(),
            c.calico_tier.as_ref()
        ),
        side.direction,
        c.rule,
        c.action
    )
}

/// `admin tier, priority 10`, `calico default, after NetworkPolicy tier, order 2000`,
/// `Calico tier security (order 300, before the admin tier), order 10`; the Cilium tier has
/// no priorities.
fn place(
    tier: Tier,
    priority: i32,
    order: Option<&str>,
    calico: Option<&CalicoTierName>,
) -> String {
    let order = order.unwrap_or("none (last)");
    match (tier, calico) {
        (_, Some(c)) => format!("{}, order {order}", calico_tier_label(c, tier)),
        (Tier::Cilium | Tier::Calico, _) => format!("{tier} tier"),
        (Tier::CalicoBefore | Tier::CalicoAfter, _) => format!("{tier} tier, order {order}"),
        _ => format!("{tier} tier, priority {priority}"),
    }
}

/// `Calico tier security (order 300, before the admin tier)`.
fn calico_tier_label(c: &CalicoTierName, tier: Tier) -> String {
    let place = tier.as_str().trim_start_matches("calico, ");
    format!("Calico tier {} (order {}, {place})", c.name, c.order)
}

/// ` (passed on by AdminNetworkPolicy/x ingress[1])`, where a Pass rule sent the side on.
fn passed_text(side: &SideExplanation) -> String {
    let list: Vec<String> = side
        .passed
        .iter()
        .map(|c| format!("{} {}[{}]", c.policy, side.direction, c.rule))
        .collect();
    if list.is_empty() {
        String::new()
    } else {
        format!(" (passed on by {})", list.join(", "))
    }
}

/// Whether a tier policy is worth a line: one that applies with no rules in this direction
/// cannot decide it, and is left out of the text (the JSON keeps it).
fn shown(t: &TierTrace) -> bool {
    !(t.applies && !t.unknown && t.rules.is_empty())
}

/// The tier policies of one tier as they bore on a side, a Calico tier of its own at a time.
fn tier_text(out: &mut String, side: &SideExplanation, tier: Tier, paint: &Paint) {
    let traces: Vec<&TierTrace> = side
        .tiers
        .iter()
        .filter(|t| t.tier == tier && shown(t))
        .collect();
    for group in traces.chunk_by(|a, b| a.calico_tier == b.calico_tier) {
        group_text(out, side, tier, group, paint);
    }
}

/// The policies of one tier, or of one Calico tier of its own, as they bore on a side.
fn group_text(
    out: &mut String,
    side: &SideExplanation,
    tier: Tier,
    traces: &[&TierTrace],
    paint: &Paint,
) {
    let header = match traces.first().and_then(|t| t.calico_tier.as_ref()) {
        Some(c) => calico_tier_label(c, tier),
        None => format!("{tier} tier"),
    };
    let _ = writeln!(out, "  {}", paint.strong(&header));
    for &t in traces {
        let here = |c: &&TierCite| c.policy == t.policy && c.tier == tier;
        let decides = side.decided_by.as_ref().filter(here).is_some();
        let passes = side.passed.iter().find(here).is_some();
        let mark = if t.unknown || t.rules.iter().any(|r| r.unknown) {
            paint.warn("?")
        } else if !t.applies || t.rules.iter().all(|r| !r.matched) {
            paint.dim("·")
        } else {
            match t.rules.iter().find(|r| r.matched).map(|r| r.action) {
                Some(Action::Allow) => paint.good(OK),
                Some(Action::Deny) => paint.bad(NO),
                _ => paint.dim("→"),
            }
        };
        let tag = if decides {
            paint.strong("  ◀ decides")
        } else if passes {
            paint.strong("  ◀ passes to the next tier")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "  {mark} {}  {}{tag}",
            paint.strong(&match t.tier {
                Tier::Cilium | Tier::Calico => t.policy.clone(),
                _ if t.tier.is_calico() => format!(
                    "{} (order {})",
                    t.policy,
                    t.order.as_deref().unwrap_or("none")
                ),
                _ => format!("{} (priority {})", t.policy, t.priority),
            }),
            paint.dim(&t.origin)
        );
        if let Some(reason) = &t.reason {
            let _ = writeln!(out, "      {reason}");
        }
        for r in &t.rules {
            let rmark = if r.matched {
                match r.action {
                    Action::Allow => paint.good(OK),
                    Action::Deny => paint.bad(NO),
                    Action::Pass => paint.dim("→"),
                }
            } else if r.unknown {
                paint.warn("?")
            } else {
                paint.dim("·")
            };
            let name = if r.name.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", r.name)
            };
            let _ = writeln!(
                out,
                "      {rmark} {}[{}]{name} {}{}",
                side.direction,
                r.index,
                r.action,
                if r.matched { ": matches" } else { "" }
            );
            if let Some(own) = &r.own {
                checks(out, "this pod", std::slice::from_ref(own), paint);
            }
            checks(out, "peer", &r.peers, paint);
            if r.any_port {
                let _ = writeln!(out, "          {} ports: every port", paint.good(OK));
            } else {
                checks(out, "port", &r.ports, paint);
            }
        }
    }
}

fn side_text(out: &mut String, side: &SideExplanation, e: &Explanation, paint: &Paint) {
    let (label, pod) = match side.direction {
        crate::policy::Direction::Egress => ("egress from", &e.src),
        crate::policy::Direction::Ingress => ("ingress to", &e.dst),
    };
    let outcome = match side.outcome {
        "allowed" => paint.good(&format!("{OK} allowed")),
        "denied" => paint.bad(&format!("{NO} denied")),
        "not_isolated" => paint.good(&format!("{OK} not isolated")),
        "unknown" => paint.warn("? unknown"),
        _ => paint.dim("not a pod: no policy applies on this side"),
    };
    let _ = writeln!(out, "{} {}: {outcome}", paint.strong(label), pod);
    if side.outcome == "not_applicable" {
        return;
    }
    // Where a Calico tier of its own ended the side: the slot it stands in.
    let ended_in = side.end_of_tier.as_ref().and_then(|end| {
        let name = end.tier.as_ref()?;
        side.tiers
            .iter()
            .find(|t| t.calico_tier.as_ref() == Some(name))
            .map(|t| t.tier)
    });
    for tier in Tier::BEFORE_NETWORK_POLICY {
        tier_text(out, side, tier, paint);
        if let Some(c) = side.decided_by.as_ref().filter(|c| c.tier == tier) {
            let by = match &c.calico_tier {
                Some(name) => format!("Calico tier {}", name.name),
                None => format!("the {tier} tier"),
            };
            let _ = writeln!(
                out,
                "  {}",
                paint.dim(&format!(
                    "NetworkPolicy and the tiers after it not consulted: {by} decided"
                ))
            );
            return;
        }
        if ended_in == Some(tier) {
            end_text(out, side, paint);
            return;
        }
    }
    let calico = side.tiers.iter().any(|t| t.tier.is_calico_default());
    if calico {
        tier_text(out, side, Tier::CalicoBefore, paint);
        if side
            .decided_by
            .as_ref()
            .is_some_and(|c| c.tier == Tier::CalicoBefore)
        {
            return;
        }
    }
    if side.tiers.iter().any(shown) {
        let _ = writeln!(out, "  {}", paint.strong("NetworkPolicy tier"));
    }
    side_policies_text(out, side, paint);
    if calico {
        tier_text(out, side, Tier::CalicoAfter, paint);
    }
    if side.end_of_tier.as_ref().is_some_and(|e| e.tier.is_none()) {
        end_text(out, side, paint);
        return;
    }
    for tier in Tier::AFTER_NETWORK_POLICY {
        tier_text(out, side, tier, paint);
        if ended_in == Some(tier) {
            end_text(out, side, paint);
            return;
        }
    }
}

/// The end of a Calico tier that denied (or may deny) what no rule of it decided.
fn end_text(out: &mut String, side: &SideExplanation, paint: &Paint) {
    let Some(end) = &side.end_of_tier else {
        return;
    };
    let which = end.tier_name();
    let mut parts = Vec::new();
    if !end.selecting.is_empty() {
        parts.push(end.selecting.join(", "));
    }
    if !end.isolating.is_empty() {
        parts.push(format!("NetworkPolicy {}", end.isolating.join(", ")));
    }
    let text = if parts.is_empty() {
        format!(
            "? end of {which}: no rule decided; {} may select the pod (what cannot be read \
             decides), and the tier then denies",
            end.maybe.join(", ")
        )
    } else {
        format!(
            "{NO} end of {which}: no rule decided, and {} select{} the pod: denied",
            parts.join(" and "),
            if parts.len() == 1 && end.selecting.len() + end.isolating.len() == 1 {
                "s"
            } else {
                ""
            }
        )
    };
    let _ = writeln!(
        out,
        "  {}",
        if parts.is_empty() {
            paint.warn(&text)
        } else {
            paint.bad(&text)
        }
    );
}

fn side_policies_text(out: &mut String, side: &SideExplanation, paint: &Paint) {
    if side.policies.is_empty() && side.policies_unread {
        let _ = writeln!(
            out,
            "  {}",
            paint.warn(
                "no policy could be read in this namespace: its NetworkPolicies are not visible"
            )
        );
    } else if side.policies.is_empty() {
        let _ = writeln!(out, "  {}", paint.dim("no policy in this namespace"));
        return;
    }
    // Policies that isolate the pod decide; the others get one line each.
    for p in side.policies.iter().filter(|p| p.isolates) {
        policy_text(out, p, side, paint);
    }
    for p in side.policies.iter().filter(|p| !p.isolates) {
        let reason = p.reason.as_deref().unwrap_or("does not apply");
        let _ = writeln!(
            out,
            "  {} {}",
            paint.dim("·"),
            paint.dim(&format!("{}: {reason}", p.policy))
        );
    }
}

fn policy_text(out: &mut String, p: &PolicyTrace, side: &SideExplanation, paint: &Paint) {
    let decided = side
        .allowed_by
        .as_ref()
        .is_some_and(|c| c.policy == p.policy);
    let mark = if !p.isolates {
        paint.dim("·")
    } else if p.rules.iter().any(|r| r.admits) {
        paint.good(OK)
    } else if p.rules.iter().any(|r| r.unknown) {
        paint.warn("?")
    } else {
        paint.bad(NO)
    };
    let name = if p.isolates {
        paint.strong(&p.policy)
    } else {
        paint.dim(&p.policy)
    };
    let tag = if decided {
        paint.good("  ◀ decides")
    } else {
        String::new()
    };
    let _ = writeln!(out, "  {mark} {name}  {}{tag}", paint.dim(&p.origin));
    if let Some(reason) = &p.reason {
        let _ = writeln!(out, "      {reason}");
    }
    for r in &p.rules {
        let rmark = if r.admits {
            paint.good(OK)
        } else if r.unknown {
            paint.warn("?")
        } else {
            paint.bad(NO)
        };
        let _ = writeln!(out, "      {rmark} {}[{}]", side.direction, r.index);
        if r.any_peer {
            let _ = writeln!(
                out,
                "          {} peers: none listed, so every peer",
                paint.good(OK)
            );
        } else {
            checks(out, "peer", &r.peers, paint);
        }
        if r.any_port {
            let _ = writeln!(
                out,
                "          {} ports: none listed, so every port",
                paint.good(OK)
            );
        } else {
            checks(out, "port", &r.ports, paint);
        }
    }
}

fn checks(out: &mut String, what: &str, list: &[Check], paint: &Paint) {
    for c in list {
        let mark = if c.matched {
            paint.good(OK)
        } else if c.unknown {
            paint.warn("?")
        } else {
            paint.bad(NO)
        };
        let _ = writeln!(out, "          {mark} {what} {}: {}", c.what, c.reason);
    }
}

pub fn effective(e: &Effective, paint: &Paint) -> String {
    effective_at(e, paint, WIDTH)
}

/// `effective` wrapped at `width` columns.
pub fn effective_at(e: &Effective, paint: &Paint, width: usize) -> String {
    let mut out = String::new();
    effective_header(&mut out, e, paint);
    out.push_str(&effective_sides_at(e, paint, width));
    fit(out, width)
}

/// The ingress and egress parts of `effective`, without the pod's name line.
pub fn effective_sides_at(e: &Effective, paint: &Paint, width: usize) -> String {
    let mut out = String::new();
    for side in [&e.ingress, &e.egress] {
        effective_side(&mut out, side, paint);
    }
    for summary in &e.istio {
        let _ = writeln!(
            out,
            "  {} {summary}",
            paint.warn("Istio authorization also applies (shown, not judged):")
        );
    }
    fit(out, width)
}

fn effective_header(out: &mut String, e: &Effective, paint: &Paint) {
    let labels: Vec<String> = e.labels.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(
        out,
        "{}  {}",
        paint.strong(&e.pod),
        paint.dim(&format!(
            "labels: {}",
            if labels.is_empty() {
                "none".into()
            } else {
                labels.join(",")
            }
        ))
    );
}

/// The rules of one tier that apply to a pod, in evaluation order.
fn tier_lines_text(
    out: &mut String,
    dir: &str,
    tier: &str,
    lines: &[crate::policy::effective::TierLine],
    paint: &Paint,
) {
    if lines.is_empty() {
        return;
    }
    let _ = writeln!(out, "  {dir}, {tier}; the first matching rule decides:");
    for l in lines {
        let mark = match l.action {
            Action::Allow => paint.good(OK),
            Action::Deny => paint.bad(NO),
            Action::Pass => paint.dim("→"),
        };
        let ports = if l.ports.is_empty() {
            "all ports".to_string()
        } else {
            l.ports.join(", ")
        };
        let name = if l.name.is_empty() {
            String::new()
        } else {
            format!(" \"{}\"", l.name)
        };
        let maybe = if l.unknown {
            paint.warn(" (may apply to this pod: what decides that cannot be read or is not known)")
        } else {
            String::new()
        };
        let _ = writeln!(
            out,
            "    {mark} {} {}{maybe}",
            l.action,
            l.peers.join(" or ")
        );
        let _ = writeln!(
            out,
            "        {ports}{}  {}",
            l.own
                .as_ref()
                .map(|o| format!(", when this pod is {o}"))
                .unwrap_or_default(),
            paint.dim(&match &l.order {
                Some(o) => format!("[{} (order {o}) {dir}[{}]{name}]", l.policy, l.rule),
                None => format!(
                    "[{} (priority {}) {dir}[{}]{name}]",
                    l.policy, l.priority, l.rule
                ),
            })
        );
    }
}

/// The Calico tiers of their own that stand at `place`, with their rules and their end.
fn calico_tiers_text(out: &mut String, side: &EffectiveSide, place: Tier, paint: &Paint) {
    let dir = side.direction.as_str();
    for t in side.calico_tiers.iter().filter(|t| t.place == place) {
        let end = match (t.selects, t.default_action) {
            (_, Action::Pass) | (Some(false), _) => {
                "what it does not decide goes on to the next tier".to_string()
            }
            (Some(true), _) => {
                format!("it selects this pod: {dir} traffic it does not decide is denied")
            }
            (None, _) => format!(
                "{dir} traffic it does not decide is denied if it selects this pod, which \
                 depends on what cannot be read"
            ),
        };
        let name = format!(
            "Calico tier {} (order {}, {}); {end}",
            t.tier,
            t.order,
            place.as_str().trim_start_matches("calico, ")
        );
        if t.rules.is_empty() {
            let _ = writeln!(out, "  {dir}, {name}; it has no {dir} rules for this pod");
        } else {
            tier_lines_text(out, dir, &name, &t.rules, paint);
        }
    }
}

fn effective_side(out: &mut String, side: &EffectiveSide, paint: &Paint) {
    let dir = side.direction.as_str();
    tier_lines_text(
        out,
        dir,
        "Calico policies (not judged: their place among the tiers is unknown, so this side \
         is unknown)",
        &side.calico,
        paint,
    );
    calico_tiers_text(out, side, Tier::CalicoFirst, paint);
    tier_lines_text(
        out,
        dir,
        "admin tier (before NetworkPolicy)",
        &side.admin,
        paint,
    );
    tier_lines_text(
        out,
        dir,
        "Cilium deny rules (before every allow)",
        &side.cilium,
        paint,
    );
    calico_tiers_text(out, side, Tier::CalicoMiddle, paint);
    tier_lines_text(
        out,
        dir,
        "Calico default tier, before NetworkPolicy",
        &side.calico_before,
        paint,
    );
    effective_np_side(out, side, paint);
    tier_lines_text(
        out,
        dir,
        "Calico default tier, after NetworkPolicy (then denied if the tier selects the pod)",
        &side.calico_after,
        paint,
    );
    if !side.isolated {
        calico_tiers_text(out, side, Tier::CalicoLate, paint);
        tier_lines_text(
            out,
            dir,
            "baseline tier (no NetworkPolicy isolates this pod)",
            &side.baseline,
            paint,
        );
        calico_tiers_text(out, side, Tier::CalicoLast, paint);
    }
}

fn effective_np_side(out: &mut String, side: &EffectiveSide, paint: &Paint) {
    let dir = side.direction.as_str();
    if let Some(why) = &side.unknown {
        let _ = writeln!(out, "  {dir}: {}", paint.warn(&format!("? unknown: {why}")));
        if !side.isolated {
            return;
        }
    }
    if !side.isolated && side.calico_selects.is_some() {
        let _ = writeln!(
            out,
            "  {dir}: {} {}",
            paint.warn("not isolated by NetworkPolicy, but Calico's default tier selects it:"),
            if side.calico_selects == Some(true) {
                format!("{dir} traffic that no rule of the tier decides is denied")
            } else {
                format!(
                    "{dir} traffic that no rule of the tier decides is denied if it selects the \
                     pod, which depends on what cannot be read"
                )
            }
        );
        return;
    }
    if !side.isolated {
        let tiers = !side.admin.is_empty()
            || !side.cilium.is_empty()
            || !side.calico_tiers.is_empty()
            || !side.calico_before.is_empty()
            || !side.calico_after.is_empty()
            || !side.baseline.is_empty();
        if tiers {
            let _ = writeln!(
                out,
                "  {dir}: {} where no tier rule decides, {dir} traffic is allowed",
                paint.warn("not isolated by NetworkPolicy:")
            );
        } else {
            let _ = writeln!(
                out,
                "  {dir}: {} all {dir} traffic is allowed",
                paint.warn("not isolated:")
            );
        }
        // A NetworkPolicy leaves a direction alone by its policyTypes; a Cilium policy by
        // having no rules of that direction.
        let (cilium, plain): (Vec<&String>, Vec<&String>) = side
            .selecting_without_isolating
            .iter()
            .partition(|k| k.starts_with("Cilium"));
        for (keys, why) in [
            (plain, format!("policyTypes without {}", capital(dir))),
            (cilium, format!("no {dir} rules")),
        ] {
            if keys.is_empty() {
                continue;
            }
            let keys: Vec<&str> = keys.iter().map(|k| k.as_str()).collect();
            let _ = writeln!(
                out,
                "    {}",
                paint.dim(&format!("selected by {} ({why})", keys.join(", ")))
            );
        }
        return;
    }
    let _ = writeln!(out, "  {dir}: isolated by {}", side.policies.join(", "));
    if side.allows.is_empty() {
        let _ = writeln!(out, "    {} nothing is allowed", paint.bad(NO));
        return;
    }
    for a in &side.allows {
        let plural = |n: usize| if n == 1 { "pod" } else { "pods" };
        let peer = match (a.peer_pods, a.peer_pods_unknown) {
            (Some(n), Some(m)) => format!(
                "{} ({n} {}; {m} more {} unknown: their namespace labels could not be read)",
                a.peer,
                plural(n),
                plural(m)
            ),
            (Some(n), None) => format!("{} ({n} {})", a.peer, plural(n)),
            (None, _) => a.peer.clone(),
        };
        let ports = if a.ports.is_empty() {
            "all ports".to_string()
        } else {
            a.ports.join(", ")
        };
        let _ = writeln!(out, "    {} {peer}", paint.good(OK));
        let _ = writeln!(
            out,
            "        {ports}  {}",
            paint.dim(&format!("[{} {dir}[{}]]", a.policy, a.rule))
        );
        match a.blocked_elsewhere {
            Some((b, n)) if b > 0 && b == n => {
                let _ = writeln!(
                    out,
                    "        {}",
                    paint.warn(&format!(
                        "! admitted here, but every such peer is blocked on its own side: its \
                         egress has no rule to this pod on these ports ({b} {})",
                        plural(b)
                    ))
                );
            }
            Some((b, n)) if b > 0 => {
                let _ = writeln!(
                    out,
                    "        {}",
                    paint.warn(&format!(
                        "! {b} of these {n} {} cannot send it: their own egress has no rule to \
                         this pod on these ports",
                        plural(n)
                    ))
                );
            }
            _ => {}
        }
    }
}

fn capital(dir: &str) -> String {
    let mut c = dir.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

/// How the tiers combine, and the tier policies in evaluation order.
pub fn tier_overview(set: &crate::policy::PolicySet, paint: &Paint, width: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "Each side of a flow (egress of the source, ingress of the destination) is judged by the \
         admin tier, then NetworkPolicy, then the baseline tier. In a tier, policies go by \
         priority (lower first; equal priorities by kind and name) and rules in order: the \
         first match decides, Pass hands the flow to the next tier. Baseline rules apply only \
         to pods no NetworkPolicy isolates. Where no rule decides, the flow is allowed.\n"
    );
    if !set.tiers_known {
        let _ = writeln!(
            out,
            "{}\n",
            paint.warn(
                "? tier policies could not be read: they may decide any flow, so every verdict \
                 is unknown"
            )
        );
    }
    for tier in Tier::ALL {
        if (tier.is_calico() || tier == Tier::Cilium) && !set.tiers.iter().any(|t| t.tier == tier) {
            continue;
        }
        let _ = writeln!(out, "{}", paint.strong(&format!("{tier} tier")));
        let mut any = false;
        for t in set.tiers.iter().filter(|t| t.tier == tier) {
            any = true;
            let _ = writeln!(
                out,
                "  {} {}  {}",
                t.key(),
                paint.dim(&format!("priority {}", t.priority)),
                paint.dim(&format!(
                    "{} ingress, {} egress rules",
                    t.ingress.len(),
                    t.egress.len()
                ))
            );
        }
        if !any {
            let _ = writeln!(out, "  {}", paint.dim("none"));
        }
    }
    fit(out, width)
}

/// One tier policy: its place, subject (with the pods it applies to, surely and maybe),
/// rules in evaluation order, and warnings.
pub fn tier_policy_at(
    t: &crate::policy::tiers::TierPolicy,
    (sure, maybe): (usize, usize),
    warnings: &[String],
    paint: &Paint,
    width: usize,
) -> String {
    use crate::policy::tiers::{describe_peer, describe_subject};
    let mut out = String::new();
    let _ = writeln!(out, "{}  {}", paint.dim("origin  "), t.origin);
    let _ = writeln!(
        out,
        "{}  {}{}",
        paint.dim("place   "),
        place(
            t.tier,
            t.priority,
            t.order.map(|o| o.to_string()).as_deref(),
            crate::policy::explain_tiers::calico_tier(t).as_ref()
        ),
        match t.tier {
            Tier::CalicoFirst | Tier::CalicoMiddle | Tier::CalicoLate | Tier::CalicoLast => {
                if t.calico
                    .as_deref()
                    .is_some_and(|c| c.default_action == Action::Pass)
                {
                    " (a pod the tier selects goes on to the next tier with what no rule of it \
                     decides: its defaultAction is Pass)"
                } else {
                    " (a pod the tier selects is denied what no rule of it decides)"
                }
            }
            Tier::Calico => {
                " (Calico: not judged, as its place among the tiers cannot be known; a pod it \
                 selects has unknown verdicts)"
            }
            Tier::CalicoBefore =>
                " (Calico's default tier, order below 1000: before NetworkPolicy)",
            Tier::CalicoAfter => {
                " (Calico's default tier, after NetworkPolicy; a pod the tier selects is denied \
                 what no rule of it decides)"
            }
            Tier::Admin => " (before NetworkPolicy)",
            Tier::Cilium => " (Cilium's deny rules: after the admin tier, before every allow)",
            Tier::Baseline => " (after NetworkPolicy, for pods it does not isolate)",
        }
    );
    let pods = if maybe > 0 {
        format!("{sure} pods, {maybe} more if namespace labels that cannot be read match")
    } else {
        format!("{sure} pods")
    };
    let _ = writeln!(
        out,
        "{}  {} ({pods}; never host-network pods)",
        paint.dim("subject "),
        describe_subject(&t.subject)
    );
    for w in warnings {
        let _ = writeln!(out, "{}", paint.warn(&format!("⚑ {w}")));
    }
    for (dir, rules) in [("ingress", &t.ingress), ("egress", &t.egress)] {
        let _ = writeln!(
            out,
            "\n{}",
            paint.strong(&format!("{dir} rules, first match decides"))
        );
        if rules.is_empty() {
            let _ = writeln!(out, "  {}", paint.dim("none"));
        }
        for (i, r) in rules.iter().enumerate() {
            let mark = match r.action {
                Action::Allow => paint.good(OK),
                Action::Deny => paint.bad(NO),
                Action::Pass => paint.dim("→"),
            };
            let name = if r.name.is_empty() {
                String::new()
            } else {
                format!(" \"{}\"", r.name)
            };
            let peers: Vec<String> = r.peers.iter().map(describe_peer).collect();
            let ports = match &r.ports {
                None => "all ports".to_string(),
                Some(p) => p
                    .iter()
                    .map(|s| s.to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            };
            let own = r
                .own
                .as_ref()
                .map(|o| format!("  (this pod: {})", o.describe()))
                .unwrap_or_default();
            let _ = writeln!(
                out,
                "  {mark} {dir}[{i}]{name} {}: {} {}  {ports}{own}",
                r.action,
                if dir == "ingress" { "from" } else { "to" },
                if peers.is_empty() {
                    "nothing".to_string()
                } else {
                    peers.join(" or ")
                }
            );
        }
    }
    fit(out, width)
}

/// `reach`: who can reach the pod and what it can reach (each side when asked for), grouped
/// by namespace, one line per workload with its ports.
pub fn reach(
    r: &crate::policy::reach::Reach,
    (inbound, outbound): (bool, bool),
    paint: &Paint,
) -> String {
    let mut text = String::new();
    let sides = [
        (
            inbound,
            format!("who can reach {}", r.pod),
            &r.inbound,
            r.inbound_none,
            "cannot reach it on any port",
        ),
        (
            outbound,
            format!("what {} can reach", r.pod),
            &r.outbound,
            r.outbound_none,
            "cannot be reached from it on any port",
        ),
    ];
    for (shown, title, groups, none, none_words) in sides {
        if !shown {
            continue;
        }
        let _ = writeln!(text, "{}", paint.strong(&title));
        let mut last_ns: Option<&str> = None;
        for g in groups {
            if last_ns != Some(g.namespace.as_str()) {
                let _ = writeln!(text, "  {}", paint.strong(&g.namespace));
                last_ns = Some(&g.namespace);
            }
            let who = if g.pods.len() == 1 && g.pods[0] == g.workload {
                g.workload.clone()
            } else {
                format!(
                    "{} ({} pod{})",
                    g.workload,
                    g.pods.len(),
                    if g.pods.len() == 1 { "" } else { "s" }
                )
            };
            let unknown = g
                .unknown
                .as_ref()
                .map(|u| paint.warn(&format!("  ? unknown: {u}")))
                .unwrap_or_default();
            let _ = writeln!(text, "    {} {who}: {}{unknown}", paint.good(OK), g.ports);
        }
        if groups.is_empty() {
            let _ = writeln!(text, "  {}", paint.dim("no pod"));
        }
        if none > 0 {
            let _ = writeln!(
                text,
                "  {}",
                paint.dim(&format!("{none} other pod(s) {none_words}"))
            );
        }
    }
    text
}

/// `lint`'s problems, grouped by object, each with its fix; then a count.
pub fn problems(problems: &[crate::policy::lint::Problem], paint: &Paint) -> String {
    use crate::policy::lint::Severity;
    let mut text = String::new();
    let mut last: Option<&str> = None;
    for p in problems {
        if last != Some(p.object.as_str()) {
            let place = match (&p.source, p.line) {
                (Some(source), Some(line)) => format!("  {source}:{line}"),
                _ => String::new(),
            };
            let _ = writeln!(text, "{}{}", paint.strong(&p.object), paint.dim(&place));
            last = Some(&p.object);
        }
        let mark = match p.severity {
            Severity::Error => paint.bad("⚑ error"),
            Severity::Warning => paint.warn("⚑ warning"),
            Severity::Info => paint.dim("· info"),
        };
        let _ = writeln!(text, "  {mark} [{}] {}", p.rule, p.what);
        let _ = writeln!(text, "    {}", paint.dim(&format!("fix: {}", p.fix)));
    }
    let objects: std::collections::BTreeSet<&str> =
        problems.iter().map(|p| p.object.as_str()).collect();
    let count = |s: Severity| problems.iter().filter(|p| p.severity == s).count();
    let _ = match problems.len() {
        0 => writeln!(text, "no problems found"),
        n => writeln!(
            text,
            "{n} problem(s) in {} object(s): {} error(s), {} warning(s), {} info",
            objects.len(),
            count(Severity::Error),
            count(Severity::Warning),
            count(Severity::Info)
        ),
    };
    text
}

/// `explain --suggest`: the policies that would allow the flow, as YAML, and what they cannot do.
pub fn fix(fix: &crate::policy::audit::fix::Fix, paint: &Paint) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\n{}", paint.strong("suggested fix"));
    if fix.policies.is_empty() {
        let _ = writeln!(
            out,
            "  {}",
            paint.dim("no NetworkPolicy would allow this flow")
        );
    }
    for p in &fix.policies {
        let _ = writeln!(out, "---");
        out.push_str(&serde_yaml::to_string(p).unwrap_or_default());
    }
    if !fix.policies.is_empty() {
        let _ = writeln!(
            out,
            "{}",
            if fix.allows {
                paint.good("checked: with these applied, the flow is allowed")
            } else {
                paint.warn(
                    "checked: with these applied, the flow is still not allowed (see the notes)",
                )
            }
        );
    }
    for n in &fix.notes {
        let _ = writeln!(out, "  {} {n}", paint.warn("!"));
    }
    out
}
