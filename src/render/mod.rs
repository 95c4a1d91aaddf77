//! Text of the engine's results (explain, effective, matrix) for both front ends: the command
//! line prints it, the terminal UI styles the same words with its theme. Readable at 100
//! columns, symbols as well as colour so that nothing depends on telling red from green.
//!
//! Reads `policy` results only; must not import the terminal, the UI state or any source.

pub mod audit;
pub mod paint;

use std::fmt::Write;

use crate::policy::effective::{Effective, EffectiveSide};
use crate::policy::explain::{Check, Explanation, PolicyTrace, SideExplanation};
use crate::policy::model::Inventory;
use crate::policy::Matrix;

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
    let verdict = if e.allowed {
        paint.good(&format!("{OK} ALLOWED"))
    } else if e.unknown.is_some() {
        paint.warn("? UNKNOWN")
    } else {
        paint.bad(&format!("{NO} DENIED"))
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
        None => {
            let _ = writeln!(out, "  {}", summary(e));
        }
    }
    if let Some(why) = &e.unknown {
        let _ = writeln!(out, "  {}", paint.warn(&format!("unknown: {why}")));
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

/// One sentence saying what decided.
fn summary(e: &Explanation) -> String {
    let proto_port = format!("{}/{}", e.protocol, e.port);
    let blocked: Vec<String> = [&e.egress, &e.ingress]
        .iter()
        .filter(|s| s.outcome == "denied")
        .map(|s| {
            format!(
                "{} isolated for {} by {}; no rule admits {proto_port}",
                s.pod.as_deref().unwrap_or("?"),
                s.direction,
                s.isolated_by.join(", ")
            )
        })
        .collect();
    if !blocked.is_empty() {
        return format!("blocked: {}", blocked.join("\n  blocked: "));
    }
    let parts: Vec<String> = [&e.egress, &e.ingress]
        .iter()
        .filter_map(|s| match s.outcome {
            "allowed" => s.allowed_by.as_ref().map(|c| {
                format!(
                    "{} by {} {}[{}]",
                    s.direction, c.policy, s.direction, c.rule
                )
            }),
            "not_isolated" => Some(format!("{} not isolated", s.direction)),
            _ => None,
        })
        .collect();
    format!("allowed: {}", parts.join("; "))
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
        _ => paint.dim("not a pod: no policy applies on this side"),
    };
    let _ = writeln!(out, "{} {}: {outcome}", paint.strong(label), pod);
    if side.outcome == "not_applicable" {
        return;
    }
    if side.policies.is_empty() {
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

fn effective_side(out: &mut String, side: &EffectiveSide, paint: &Paint) {
    let dir = side.direction.as_str();
    if !side.isolated {
        let _ = writeln!(
            out,
            "  {dir}: {} all {dir} traffic is allowed",
            paint.warn("not isolated:")
        );
        if !side.selecting_without_isolating.is_empty() {
            let _ = writeln!(
                out,
                "    {}",
                paint.dim(&format!(
                    "selected by {} (policyTypes without {})",
                    side.selecting_without_isolating.join(", "),
                    capital(dir)
                ))
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
        let peer = match a.peer_pods {
            Some(1) => format!("{} (1 pod)", a.peer),
            Some(n) => format!("{} ({n} pods)", a.peer),
            None => a.peer.clone(),
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
    }
}

fn capital(dir: &str) -> String {
    let mut c = dir.chars();
    c.next()
        .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
        .unwrap_or_default()
}

pub fn matrix_text(m: &Matrix, inv: &Inventory, title: &str, paint: &Paint) -> String {
    let mut out = String::new();
    let n = m.len();
    let allowed = m.allowed_pairs();
    let _ = writeln!(
        out,
        "{title}: {n} pods, {allowed} of {} ordered pairs allowed (a pod may always reach itself)",
        n * n
    );
    let _ = writeln!(
        out,
        "rows: from, columns: to; {} allowed, {} denied",
        paint.good(OK),
        paint.bad(NO)
    );
    let names: Vec<String> = m.pods.iter().map(|&p| inv.pods[p as usize].key()).collect();
    let width = names.iter().map(|s| s.chars().count()).max().unwrap_or(0);
    let num_w = n.to_string().len();
    let col_w = num_w.max(1) + 1;
    let mut header = format!("{:>w$} {:<width$} ", "", "", w = num_w);
    for j in 0..n {
        let _ = write!(header, "{:>col_w$}", j + 1);
    }
    let _ = writeln!(out, "{}", header.trim_end());
    for (i, name) in names.iter().enumerate() {
        let mut line = format!("{:>w$} {:<width$} ", i + 1, name, w = num_w);
        for j in 0..n {
            let cell = if m.get(i, j) {
                paint.good(OK)
            } else {
                paint.bad(NO)
            };
            let _ = write!(line, "{}{cell}", " ".repeat(col_w - 1));
        }
        let _ = writeln!(out, "{line}");
    }
    out
}

pub fn matrix_csv(m: &Matrix, inv: &Inventory) -> String {
    let names: Vec<String> = m
        .pods
        .iter()
        .map(|&p| csv_field(&inv.pods[p as usize].key()))
        .collect();
    let mut out = String::from("from\\to");
    for n in &names {
        out.push(',');
        out.push_str(n);
    }
    out.push('\n');
    for (i, name) in names.iter().enumerate() {
        out.push_str(name);
        for j in 0..names.len() {
            out.push_str(if m.get(i, j) { ",true" } else { ",false" });
        }
        out.push('\n');
    }
    out
}

fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}
