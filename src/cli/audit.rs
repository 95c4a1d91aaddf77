//! `audit`: what staged policies would break, and newly allow, before anything is applied;
//! the allow rules that would fix it (`--suggest`). Exit 0 when nothing would break, 1 when
//! something would, 2 on an error: a policy change can be gated on it.

use std::collections::BTreeSet;
use std::io::{BufRead, BufReader, Write};
use std::process::ExitCode;
use std::sync::Arc;

use clap::Args;
use serde::Serialize;

use super::load::{load_world, Loaded};
use super::{engine_options, Failure, Output, SourceArgs};
use crate::cluster::files::{self, Input};
use crate::flow::record;
use crate::policy::audit::declared::{self, DeclaredRow};
use crate::policy::audit::suggest::{check, suggest, Suggestion};
use crate::policy::audit::{
    pod_changes, stage_manifest, Audit, Change, Delta, Effect, ObservedGroup, Observer, Staged,
    WhatIf, EXAMPLES,
};
use crate::policy::engine::Flow;
use crate::policy::workload::{Workload, Workloads};
use crate::policy::Index;
use crate::render::audit::{end_name, headline, staged_phrase, Report, Tally};
use crate::render::paint::Paint;

/// Entries per list in the text report.
const TEXT_LIMIT: usize = 200;

#[derive(Debug, Clone, Args)]
pub struct AuditArgs {
    /// NetworkPolicies to stage (file, directory, or - for stdin): each is added, or replaces
    /// the current policy of its namespace and name. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub stage: Vec<String>,
    /// Stage the removal of a current policy. Repeatable.
    #[arg(long, value_name = "NS/NAME")]
    pub unstage: Vec<String>,
    /// Stage these policies instead of every current one: how two versions of a repository's
    /// policies differ. Repeatable.
    #[arg(long, value_name = "PATH")]
    pub stage_all: Vec<String>,
    /// A default-deny not yet written: default-deny:NS, default-deny-ingress:NS or
    /// default-deny-egress:NS, where NS may be * for every namespace. Repeatable.
    #[arg(long, value_name = "WHAT")]
    pub what_if: Vec<String>,
    /// Recorded flows to judge: `trace -o json` lines or Hubble JSON lines (- for stdin).
    /// Repeatable.
    #[arg(long, value_name = "FILE")]
    pub flows: Vec<String>,
    /// Print only the allow policies that would keep what breaks: YAML documents, or with
    /// -o json a List, for `kubectl apply -f -`.
    #[arg(long)]
    pub suggest: bool,
    /// text (a report that starts with one headline), json or yaml.
    #[arg(short = 'o', long, value_enum, default_value = "text")]
    pub output: Output,
}

/// The policies of manifests given to `--stage` or `--stage-all`, as staged changes, with
/// Calico's staged objects among them.
fn staged_from(paths: &[String], flag: &str) -> Result<Vec<Staged>, Failure> {
    let inputs: Vec<Input> = paths.iter().map(|p| Input::from_arg(p)).collect();
    let mut stdin = std::io::stdin().lock();
    let read = files::load_staged(&inputs, &mut stdin)?;
    for w in &read.report.warnings {
        if !w.contains("used but not declared") {
            eprintln!("warning: {flag}: {w}");
        }
    }
    if read.ignored > 0 {
        eprintln!(
            "warning: {flag}: {} pod(s) and node(s) ignored: staging changes policies only",
            read.ignored
        );
    }
    Ok(read.changes)
}

/// Every staged change in the order they apply: what the source itself stages (Calico's
/// staged objects), `--stage-all`, `--stage`, the what-ifs, then `--unstage`.
fn changes(loaded: &Loaded, args: &AuditArgs, what_ifs: &[WhatIf]) -> Result<Vec<Staged>, Failure> {
    let mut changes: Vec<Staged> = loaded.world.staged.iter().cloned().collect();
    if !args.stage_all.is_empty() {
        changes.push(Staged::new(Change::Clear, "--stage-all"));
        changes.extend(staged_from(&args.stage_all, "--stage-all")?);
    }
    changes.extend(staged_from(&args.stage, "--stage")?);
    let inv = &loaded.world.inventory;
    for (w, text) in what_ifs.iter().zip(&args.what_if) {
        if let Some(ns) = &w.namespace {
            if !inv.namespaces.iter().any(|n| &n.name == ns) {
                return Err(Failure::Usage(format!(
                    "--what-if {text}: no namespace {ns}"
                )));
            }
        }
        for np in w.manifests(inv) {
            let staged = stage_manifest(&np, &format!("--what-if {text}"))
                .map_err(Failure::lookup("--what-if"))?;
            changes.push(staged);
        }
    }
    for u in &args.unstage {
        let Some((namespace, name)) = u.split_once('/') else {
            return Err(Failure::Usage(format!(
                "--unstage {u:?}: write NAMESPACE/NAME"
            )));
        };
        changes.push(Staged::new(
            Change::Remove {
                namespace: namespace.to_string(),
                name: name.to_string(),
            },
            format!("--unstage {u}"),
        ));
    }
    Ok(changes)
}

/// Reads every `--flows` input into the observer; notes on stderr, bad lines by number.
fn observe(observer: &mut Observer, paths: &[String]) -> Result<(), Failure> {
    for path in paths {
        let (name, mut reader): (String, Box<dyn BufRead>) = if path == "-" {
            ("<stdin>".into(), Box::new(BufReader::new(std::io::stdin())))
        } else {
            let file = std::fs::File::open(path)
                .map_err(|e| Failure::Usage(format!("--flows {path}: cannot read: {e}")))?;
            (
                path.clone(),
                Box::new(BufReader::with_capacity(1 << 16, file)),
            )
        };
        let report = record::read(&mut reader, |e| {
            observer.add(e.time_ms, e.src, e.dst, e.protocol, e.dst_port)
        })
        .map_err(|e| Failure::Usage(format!("--flows {name}: cannot read: {e}")))?;
        eprintln!("{name}: {}", report.summary());
        for (line, why) in &report.bad {
            eprintln!("warning: {name}:{line}: {why}");
        }
        if report.bad_lines > report.bad.len() as u64 {
            eprintln!(
                "warning: {name}: {} more bad lines not shown",
                report.bad_lines - report.bad.len() as u64
            );
        }
    }
    Ok(())
}

/// Whether a workload pair is in the `-n` scope.
fn in_scope(ns: Option<&str>, a: &Workload, b: &Workload) -> bool {
    ns.is_none_or(|ns| a.namespace == ns || b.namespace == ns)
}

pub(super) fn run(
    source: &SourceArgs,
    args: AuditArgs,
    paint: &Paint,
) -> Result<ExitCode, Failure> {
    let stdin_users = source
        .filenames
        .iter()
        .chain(&args.stage)
        .chain(&args.stage_all)
        .chain(&args.flows)
        .filter(|p| *p == "-")
        .count();
    if stdin_users > 1 {
        return Err(Failure::Usage(
            "only one of -f, --stage, --stage-all and --flows can read stdin (-)".into(),
        ));
    }
    let what_ifs: Vec<WhatIf> = args
        .what_if
        .iter()
        .map(|w| WhatIf::parse(w).map_err(Failure::lookup("--what-if")))
        .collect::<Result<_, _>>()?;
    let loaded = load_world(source, false)?;
    let changes = changes(&loaded, &args, &what_ifs)?;
    if changes.is_empty() {
        return Err(Failure::Usage(
            "nothing staged: give --stage PATH, --stage-all PATH, --unstage NS/NAME or --what-if \
             default-deny:NS (or manifests with StagedKubernetesNetworkPolicy objects)"
                .into(),
        ));
    }
    let (world, _) = loaded.once();
    let scope = source.namespace.clone();
    if let Some(ns) = &scope {
        if !world.inventory.namespaces.iter().any(|n| &n.name == ns) {
            return Err(Failure::Usage(format!("-n: no namespace {ns}")));
        }
    }
    let current = Arc::new(Index::build(
        world.inventory.clone(),
        world.policies.clone(),
        engine_options(source),
    ));
    let audit = Audit::new(current, &changes);
    let workloads = Workloads::new(audit.current.inventory());
    let ns = scope.as_deref();

    let observed = if args.flows.is_empty() {
        None
    } else {
        let mut observer = Observer::new(&audit, &workloads);
        observe(&mut observer, &args.flows)?;
        let groups: Vec<ObservedGroup> = observer
            .finish()
            .into_iter()
            .filter(|g| {
                ns.is_none_or(|ns| {
                    [&g.from, &g.to].iter().any(|e| {
                        matches!(e, crate::policy::audit::EndGroup::Workload(w)
                            if workloads.list[*w as usize].namespace == ns)
                    })
                })
            })
            .collect();
        Some(groups)
    };
    let mut rows: Vec<DeclaredRow> = Vec::new();
    declared::diff(
        &audit,
        &workloads,
        |a, b| in_scope(ns, a, b),
        |r| rows.push(r),
    );
    let tally = Tally::new(observed.as_deref(), &rows);
    let code = if tally.breaks() {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    };

    if args.suggest {
        let needs: Vec<Flow> = match &observed {
            Some(groups) => groups
                .iter()
                .filter(|g| g.delta == Delta::WouldBreak)
                .flat_map(|g| g.examples.iter().copied())
                .collect(),
            None => rows
                .iter()
                .filter(|r| r.delta == Delta::WouldBreak)
                .flat_map(|r| declared::examples(&audit, &workloads, r, EXAMPLES))
                .collect(),
        };
        let suggestion = suggest(&audit, &workloads, &needs);
        print_suggestion(&suggestion, args.output)?;
        check_suggestion(
            &audit,
            &changes,
            &workloads,
            &suggestion,
            observed.as_deref(),
            ns,
        );
        return Ok(code);
    }

    let pods = pod_changes(&audit, |p| {
        ns.is_none_or(|ns| audit.current.inventory().pods[p as usize].namespace == ns)
    });
    let descriptions: Vec<String> = what_ifs.iter().map(WhatIf::describe).collect();
    let head = headline(&staged_phrase(&audit.effects, &descriptions), &tally);
    let report = Report {
        audit: &audit,
        workloads: &workloads,
        headline: head,
        observed: observed.as_deref(),
        declared: &rows,
        pods: &pods,
    };
    match args.output {
        Output::Text => {
            super::output::print(&crate::render::audit::report(&report, paint, TEXT_LIMIT))?
        }
        Output::Json | Output::Yaml => {
            write_data(&report, &changes, args.output == Output::Json).map_err(Failure::Output)?
        }
    }
    Ok(code)
}

/// A what-if's policy, for the data report: the object to apply later.
#[derive(Serialize)]
struct StagedEntry<'a> {
    #[serde(flatten)]
    effect: &'a Effect,
    #[serde(skip_serializing_if = "Option::is_none")]
    object: Option<serde_json::Value>,
}

#[derive(Serialize)]
struct ObservedEntry<'a> {
    from: String,
    to: String,
    from_kind: &'a str,
    to_kind: &'a str,
    protocol: &'a str,
    port: u16,
    change: &'a str,
    flows: u64,
    first_seen_ms: u64,
    last_seen_ms: u64,
    why: String,
}

#[derive(Serialize)]
struct DeclaredEntry<'a> {
    from: String,
    to: String,
    from_kind: &'a str,
    to_kind: &'a str,
    protocol: &'a str,
    port: u16,
    change: &'a str,
}

#[derive(Serialize)]
struct Counts {
    observed_groups: Option<usize>,
    observed_flows: Option<u64>,
    declared: usize,
}

/// Writes the report as JSON or YAML, row by row: memory does not grow with the output.
fn write_data(r: &Report, changes: &[Staged], json: bool) -> std::io::Result<()> {
    let stdout = std::io::stdout();
    let mut out = std::io::BufWriter::new(stdout.lock());
    let result = (|| -> std::io::Result<()> {
        let mut w = DataWriter::new(&mut out, json);
        w.field("headline", &r.headline)?;
        let t = Tally::new(r.observed, r.declared);
        w.field(
            "would_break",
            &Counts {
                observed_groups: t.observed_break.map(|(g, _)| g),
                observed_flows: t.observed_break.map(|(_, f)| f),
                declared: t.declared_break,
            },
        )?;
        w.field(
            "would_allow",
            &Counts {
                observed_groups: r.observed.map(|_| t.observed_allow),
                observed_flows: r.observed.map(|g| {
                    g.iter()
                        .filter(|g| g.delta == Delta::WouldAllow)
                        .map(|g| g.flows)
                        .sum()
                }),
                declared: t.declared_allow,
            },
        )?;
        // The objects of staged changes that came from what-ifs, to print and apply.
        let objects: Vec<Option<serde_json::Value>> = changes
            .iter()
            .filter(|s| s.enabled)
            .map(|s| match &s.change {
                Change::Set(p) if s.source.starts_with("--what-if") => p
                    .manifest
                    .as_ref()
                    .and_then(|m| serde_json::to_value(&*m.0).ok()),
                _ => None,
            })
            .collect();
        w.list(
            "staged",
            r.audit
                .effects
                .iter()
                .zip(objects)
                .map(|(effect, object)| StagedEntry { effect, object }),
        )?;
        let (audit, workloads) = (r.audit, r.workloads);
        if let Some(groups) = r.observed {
            w.list(
                "observed",
                groups.iter().map(|g| {
                    let (from, from_kind) = end_name(audit, workloads, &g.from);
                    let (to, to_kind) = end_name(audit, workloads, &g.to);
                    ObservedEntry {
                        from,
                        to,
                        from_kind,
                        to_kind,
                        protocol: g.protocol.as_str(),
                        port: g.port,
                        change: g.delta.as_str(),
                        flows: g.flows,
                        first_seen_ms: g.first_seen_ms,
                        last_seen_ms: g.last_seen_ms,
                        why: audit.why(&g.example, g.delta),
                    }
                }),
            )?;
        }
        w.list(
            "declared",
            r.declared.iter().map(|row| {
                let (f, t) = (
                    &workloads.list[row.from as usize],
                    &workloads.list[row.to as usize],
                );
                DeclaredEntry {
                    from: f.key(),
                    to: t.key(),
                    from_kind: &f.kind,
                    to_kind: &t.kind,
                    protocol: row.protocol.as_str(),
                    port: row.port,
                    change: row.delta.as_str(),
                }
            }),
        )?;
        w.list("pods", r.pods.iter())?;
        w.end()
    })();
    match result {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        other => other,
    }
}

/// A JSON object or a YAML mapping written one field, and one list item, at a time.
struct DataWriter<'a, W: Write> {
    out: &'a mut W,
    json: bool,
    fields: usize,
}

impl<'a, W: Write> DataWriter<'a, W> {
    fn new(out: &'a mut W, json: bool) -> Self {
        DataWriter {
            out,
            json,
            fields: 0,
        }
    }

    fn key(&mut self, key: &str) -> std::io::Result<()> {
        if self.json {
            let sep = if self.fields == 0 { "{\n" } else { ",\n" };
            write!(self.out, "{sep}  {}: ", serde_json::to_string(key)?)?;
        } else {
            write!(self.out, "{key}:")?;
        }
        self.fields += 1;
        Ok(())
    }

    fn field<T: Serialize>(&mut self, key: &str, value: &T) -> std::io::Result<()> {
        self.key(key)?;
        if self.json {
            serde_json::to_writer(&mut *self.out, value)?;
        } else {
            let value = serde_yaml::to_value(value).map_err(std::io::Error::other)?;
            let text = serde_yaml::to_string(&value).map_err(std::io::Error::other)?;
            if value.is_mapping() {
                writeln!(self.out)?;
                for line in text.lines() {
                    writeln!(self.out, "  {line}")?;
                }
            } else {
                write!(self.out, " {text}")?;
            }
        }
        Ok(())
    }

    fn list<T: Serialize>(
        &mut self,
        key: &str,
        items: impl Iterator<Item = T>,
    ) -> std::io::Result<()> {
        self.key(key)?;
        let mut n = 0;
        for item in items {
            if self.json {
                write!(self.out, "{}\n    ", if n == 0 { "[" } else { "," })?;
                serde_json::to_writer(&mut *self.out, &item)?;
            } else {
                if n == 0 {
                    writeln!(self.out)?;
                }
                let text = serde_yaml::to_string(&[item]).map_err(std::io::Error::other)?;
                self.out.write_all(text.as_bytes())?;
            }
            n += 1;
        }
        if self.json {
            write!(self.out, "{}", if n == 0 { "[]" } else { "\n  ]" })?;
        } else if n == 0 {
            writeln!(self.out, " []")?;
        }
        Ok(())
    }

    fn end(&mut self) -> std::io::Result<()> {
        if self.json {
            writeln!(self.out, "\n}}")?;
        }
        self.out.flush()
    }
}

/// The suggested policies: YAML documents with what each keeps, or a JSON List.
fn print_suggestion(s: &Suggestion, output: Output) -> Result<(), Failure> {
    match output {
        Output::Json => {
            let items: Vec<&k8s_openapi::api::networking::v1::NetworkPolicy> =
                s.policies.iter().map(|p| &p.manifest).collect();
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "items": items});
            super::output::print(
                &(serde_json::to_string_pretty(&list)
                    .map_err(|e| Failure::Encode(e.to_string()))?
                    + "\n"),
            )
        }
        Output::Text | Output::Yaml => {
            let mut text = String::new();
            for p in &s.policies {
                text.push_str("---\n");
                for k in &p.keeps {
                    text.push_str(&format!("# {k}\n"));
                }
                text.push_str(
                    &serde_yaml::to_string(&p.manifest)
                        .map_err(|e| Failure::Encode(e.to_string()))?,
                );
            }
            super::output::print(&text)
        }
    }
}

/// Says on stderr what no rule could be written for, what would still break with the
/// suggestions staged too, and whether they open anything the current policies deny.
fn check_suggestion(
    audit: &Audit,
    changes: &[Staged],
    workloads: &Workloads,
    s: &Suggestion,
    observed: Option<&[ObservedGroup]>,
    ns: Option<&str>,
) {
    for note in &s.notes {
        eprintln!("note: {note}");
    }
    let c = check(audit, changes, workloads, s, observed, |a, b| {
        in_scope(ns, a, b)
    });
    let what = if observed.is_some() {
        format!(
            "{} connection(s) seen and {} declared port pair(s)",
            c.observed_breaks, c.declared_breaks
        )
    } else {
        format!("{} declared port pair(s)", c.declared_breaks)
    };
    let opened: BTreeSet<(u32, u32)> = c.opened.iter().map(|r| (r.from, r.to)).collect();
    eprintln!(
        "with these {} polic{} staged too: {what} would still break; the suggestions open {} \
         workload pair(s) the current policies deny",
        s.policies.len(),
        if s.policies.len() == 1 { "y" } else { "ies" },
        opened.len()
    );
}
