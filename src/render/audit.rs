//! The words of an audit: the headline, and what would break or newly be allowed, by the
//! three lenses (flows seen, declared reachability, pods' effective rules).

use std::collections::BTreeMap;
use std::fmt::Write;

use super::paint::Paint;
use super::{fit, NO, OK, WIDTH};
use crate::policy::audit::declared::{self, DeclaredRow};
use crate::policy::audit::{Audit, Delta, Effect, EndGroup, ObservedGroup, PodChange};
use crate::policy::workload::Workloads;

/// An end of a group in words, and its kind: `production/api` and `Deployment`.
pub fn end_name(audit: &Audit, workloads: &Workloads, end: &EndGroup) -> (String, &'static str) {
    match end {
        EndGroup::Workload(w) => {
            let w = &workloads.list[*w as usize];
            (w.key(), kind_str(&w.kind))
        }
        EndGroup::Node(n) => (
            format!("node/{}", audit.current.inventory().nodes[*n as usize].name),
            "Node",
        ),
        EndGroup::Address(ip) => (ip.to_string(), "External"),
    }
}

fn kind_str(kind: &str) -> &'static str {
    match kind {
        "Deployment" => "Deployment",
        "StatefulSet" => "StatefulSet",
        "DaemonSet" => "DaemonSet",
        "ReplicaSet" => "ReplicaSet",
        "Job" => "Job",
        "CronJob" => "CronJob",
        "Pod" => "Pod",
        _ => "Workload",
    }
}

/// What was staged, in a few words: the what-ifs by name, else counts of what changes.
pub fn staged_phrase(effects: &[Effect], what_ifs: &[String]) -> String {
    let from_what_ifs = effects.iter().all(|e| match e {
        Effect::Added { source, .. }
        | Effect::Replaced { source, .. }
        | Effect::Unchanged { source, .. }
        | Effect::Removed { source, .. }
        | Effect::NotFound { source, .. }
        | Effect::Cleared { source, .. } => source.starts_with("--what-if"),
    });
    if from_what_ifs && !what_ifs.is_empty() {
        return what_ifs.join(" and ");
    }
    let mut counts: BTreeMap<&str, usize> = BTreeMap::new();
    for e in effects {
        let word = match e {
            Effect::Added { .. } => "added",
            Effect::Replaced { .. } => "replaced",
            Effect::Removed { .. } => "removed",
            Effect::Unchanged { .. } => "unchanged",
            Effect::NotFound { .. } => "not found",
            Effect::Cleared { .. } => "all current removed",
        };
        *counts.entry(word).or_default() += 1;
    }
    let parts: Vec<String> = [
        "added",
        "replaced",
        "removed",
        "all current removed",
        "unchanged",
        "not found",
    ]
    .iter()
    .filter_map(|w| counts.get(w).map(|n| format!("{n} {w}")))
    .collect();
    let n = effects.len();
    format!(
        "{n} change{} ({})",
        if n == 1 { "" } else { "s" },
        parts.join(", ")
    )
}

/// Counts for the headline.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Tally {
    /// Observed groups and their flows, by change; `None` without a flow source.
    pub observed_break: Option<(usize, u64)>,
    pub observed_allow: usize,
    pub declared_break: usize,
    pub declared_allow: usize,
}

impl Tally {
    pub fn new(observed: Option<&[ObservedGroup]>, declared: &[DeclaredRow]) -> Tally {
        let count = |d| declared.iter().filter(|r| r.delta == d).count();
        let mut t = Tally {
            declared_break: count(Delta::WouldBreak),
            declared_allow: count(Delta::WouldAllow),
            ..Tally::default()
        };
        if let Some(groups) = observed {
            let breaking = groups.iter().filter(|g| g.delta == Delta::WouldBreak);
            t.observed_break = Some((breaking.clone().count(), breaking.map(|g| g.flows).sum()));
            t.observed_allow = groups
                .iter()
                .filter(|g| g.delta == Delta::WouldAllow)
                .count();
        }
        t
    }

    pub fn breaks(&self) -> bool {
        self.declared_break > 0 || self.observed_break.is_some_and(|(n, _)| n > 0)
    }
}

/// `staging default-deny in development would break 3 connections seen (214 flows) and 5
/// declared port pairs; would newly allow 0`.
pub fn headline(phrase: &str, t: &Tally) -> String {
    let pairs = |n: usize| format!("{n} declared port pair{}", if n == 1 { "" } else { "s" });
    let breaks = match t.observed_break {
        Some((groups, flows)) => format!(
            "{groups} connection{} seen ({flows} flow{}) and {}",
            if groups == 1 { "" } else { "s" },
            if flows == 1 { "" } else { "s" },
            pairs(t.declared_break)
        ),
        None => pairs(t.declared_break),
    };
    format!(
        "staging {phrase} would break {breaks}; would newly allow {}",
        t.observed_allow + t.declared_allow
    )
}

fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// Everything a report holds.
pub struct Report<'a> {
    pub audit: &'a Audit,
    pub workloads: &'a Workloads,
    pub headline: String,
    /// `None` without a flow source.
    pub observed: Option<&'a [ObservedGroup]>,
    pub declared: &'a [DeclaredRow],
    pub pods: &'a [PodChange],
}

/// The text report; each list shows at most `limit` entries and says how many more there are.
pub fn report(r: &Report, paint: &Paint, limit: usize) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{}", paint.strong(&r.headline));
    let _ = writeln!(out, "\n{}", paint.strong("staged"));
    for e in &r.audit.effects {
        let line = match e {
            Effect::Added { policy, source } => format!("+ {policy}  ({source})"),
            Effect::Replaced { policy, source } => format!("~ {policy} replaced  ({source})"),
            Effect::Unchanged { policy, source } => {
                format!("= {policy} unchanged: staged as it is  ({source})")
            }
            Effect::Removed { policy, source } => format!("- {policy}  ({source})"),
            Effect::NotFound { policy, source } => {
                paint.warn(&format!("? {policy}: no such policy to remove  ({source})"))
            }
            Effect::Cleared { policies, source } => {
                format!("- every current policy ({policies})  ({source})")
            }
        };
        let _ = writeln!(out, "  {line}");
    }
    let mark = |d: Delta| match d {
        Delta::WouldBreak => paint.bad(NO),
        Delta::WouldAllow => paint.warn(OK),
    };
    let (audit, workloads) = (r.audit, r.workloads);
    match r.observed {
        None => {
            let _ = writeln!(
                out,
                "\n{}",
                paint.dim("flows seen: none given (--flows FILE reads trace -o json or Hubble JSON lines)")
            );
        }
        Some(groups) => {
            for delta in [Delta::WouldBreak, Delta::WouldAllow] {
                let list: Vec<&ObservedGroup> =
                    groups.iter().filter(|g| g.delta == delta).collect();
                if list.is_empty() {
                    continue;
                }
                let flows: u64 = list.iter().map(|g| g.flows).sum();
                let _ = writeln!(
                    out,
                    "\n{}",
                    paint.strong(&format!(
                        "connections seen that would {} ({} group{}, {flows} flows)",
                        if delta == Delta::WouldBreak {
                            "break"
                        } else {
                            "newly be allowed"
                        },
                        list.len(),
                        if list.len() == 1 { "" } else { "s" }
                    ))
                );
                for g in list.iter().take(limit) {
                    let (from, fk) = end_name(audit, workloads, &g.from);
                    let (to, tk) = end_name(audit, workloads, &g.to);
                    let _ = writeln!(
                        out,
                        "  {} {fk} {from} → {tk} {to}  {}/{}  {} flow{}, {}–{}",
                        mark(delta),
                        g.protocol,
                        g.port,
                        g.flows,
                        if g.flows == 1 { "" } else { "s" },
                        clock(g.first_seen_ms),
                        clock(g.last_seen_ms)
                    );
                    let _ = writeln!(out, "      {}", audit.why(&g.example, delta));
                }
                if list.len() > limit {
                    let _ = writeln!(
                        out,
                        "  … and {} more (-o json lists all)",
                        list.len() - limit
                    );
                }
            }
        }
    }
    for delta in [Delta::WouldBreak, Delta::WouldAllow] {
        // Ports of one workload pair on one line.
        let mut pairs: BTreeMap<(u32, u32), Vec<&DeclaredRow>> = BTreeMap::new();
        for row in r.declared.iter().filter(|row| row.delta == delta) {
            pairs.entry((row.from, row.to)).or_default().push(row);
        }
        if pairs.is_empty() {
            continue;
        }
        let rows: usize = pairs.values().map(Vec::len).sum();
        let _ = writeln!(
            out,
            "\n{}",
            paint.strong(&format!(
                "declared port pairs that would {} ({rows}, {} workload pair{})",
                if delta == Delta::WouldBreak {
                    "break"
                } else {
                    "newly be allowed"
                },
                pairs.len(),
                if pairs.len() == 1 { "" } else { "s" }
            ))
        );
        for ((from, to), rows) in pairs.iter().take(limit) {
            let (fw, tw) = (
                &workloads.list[*from as usize],
                &workloads.list[*to as usize],
            );
            let ports: Vec<String> = rows
                .iter()
                .map(|r| format!("{}/{}", r.protocol, r.port))
                .collect();
            let _ = writeln!(
                out,
                "  {} {} → {}  {}",
                mark(delta),
                fw.describe(),
                tw.describe(),
                ports.join(", ")
            );
            if let Some(flow) = declared::example(audit, workloads, rows[0]) {
                let _ = writeln!(out, "      {}", audit.why(&flow, delta));
            }
        }
        if pairs.len() > limit {
            let _ = writeln!(
                out,
                "  … and {} more (-o json lists all)",
                pairs.len() - limit
            );
        }
    }
    if !r.pods.is_empty() {
        let _ = writeln!(
            out,
            "\n{}",
            paint.strong(&format!(
                "pods whose effective rules change ({})",
                r.pods.len()
            ))
        );
        for p in r.pods.iter().take(limit) {
            let _ = writeln!(out, "  {}", paint.strong(&p.pod));
            for (dir, side) in [("ingress", &p.ingress), ("egress", &p.egress)] {
                if side.isolated_before == side.isolated_after
                    && side.added.is_empty()
                    && side.removed.is_empty()
                {
                    continue;
                }
                let iso = |on: bool| if on { "isolated" } else { "not isolated" };
                let _ = writeln!(
                    out,
                    "    {dir}: {} → {}",
                    iso(side.isolated_before),
                    iso(side.isolated_after)
                );
                for a in &side.removed {
                    let _ = writeln!(out, "      {} {a}", paint.bad("-"));
                }
                for a in &side.added {
                    let _ = writeln!(out, "      {} {a}", paint.good("+"));
                }
            }
        }
        if r.pods.len() > limit {
            let _ = writeln!(
                out,
                "  … and {} more (-o json lists all)",
                r.pods.len() - limit
            );
        }
    }
    fit(out, WIDTH)
}
