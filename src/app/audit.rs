//! Audit mode in the UI: the staged changes (each can be switched off), the judged view of
//! them (made off the UI task, like a world), and what the views show with it: flows that
//! would break or newly be allowed, a pod's rules before and after, the breakage list with
//! the allow rules that would fix it.

use std::sync::Arc;
use std::time::Instant;

use crate::policy::audit::declared::{self, DeclaredRow};
use crate::policy::audit::suggest::{suggest, Suggestion};
use crate::policy::audit::{
    pod_changes, Audit, Delta, ObservedGroup, Observer, PodChange, Staged, EXAMPLES,
};
use crate::policy::workload::Workloads;
use crate::policy::{Flow, Index};

/// The staged world judged: made by [`AuditView::prepare`] on a blocking thread.
#[derive(Debug)]
pub struct AuditView {
    /// The staging this view was made for (see [`AuditMode::generation`]).
    pub generation: u64,
    pub audit: Audit,
    pub workloads: Workloads,
    /// Declared reachability that changes, every row.
    pub declared: Vec<DeclaredRow>,
    pub pods: Vec<PodChange>,
    pub build_ms: u64,
}

impl AuditView {
    /// Compiles the staged world and judges declared reachability and every pod: about a
    /// second at 10k pods, so never on the UI task.
    pub fn prepare(current: Arc<Index>, changes: &[Staged], generation: u64) -> Arc<AuditView> {
        let started = Instant::now();
        let audit = Audit::new(current, changes);
        let workloads = Workloads::new(audit.current.inventory());
        let mut rows = Vec::new();
        declared::diff(&audit, &workloads, |_, _| true, |r| rows.push(r));
        let pods = pod_changes(&audit, |_| true);
        Arc::new(AuditView {
            generation,
            audit,
            workloads,
            declared: rows,
            pods,
            build_ms: started.elapsed().as_millis() as u64,
        })
    }

    pub fn declared_breaks(&self) -> usize {
        self.declared
            .iter()
            .filter(|r| r.delta == Delta::WouldBreak)
            .count()
    }

    pub fn declared_allows(&self) -> usize {
        self.declared.len() - self.declared_breaks()
    }

    /// The change a flow seen between two addresses would see.
    pub fn delta(&self, flow: &Flow) -> Option<Delta> {
        let (now, then) = self.audit.judge(flow);
        Delta::between(&now, &then)
    }
}

/// Audit mode's state.
#[derive(Debug, Clone, Default)]
pub struct AuditMode {
    /// Every staged change, in the order they apply.
    pub changes: Vec<Staged>,
    pub on: bool,
    /// Counts every change to the staging or the world; a view of another one is stale.
    pub generation: u64,
    /// The view for the current generation, once prepared.
    pub view: Option<Arc<AuditView>>,
}

impl AuditMode {
    /// The source's staged changes are now `staged`: they replace the ones it held before,
    /// each keeping whether it was switched off; the user's own changes stay after them.
    pub fn follow_source(&mut self, staged: &[Staged]) {
        let off: Vec<String> = self
            .changes
            .iter()
            .filter(|c| c.from_source && !c.enabled)
            .map(Staged::label)
            .collect();
        let mut changes: Vec<Staged> = staged
            .iter()
            .map(|s| Staged {
                enabled: !off.contains(&s.label()),
                ..s.clone()
            })
            .collect();
        changes.extend(self.changes.drain(..).filter(|c| !c.from_source));
        self.changes = changes;
    }

    /// The enabled changes, what a view judges.
    pub fn enabled(&self) -> Vec<Staged> {
        self.changes.iter().filter(|s| s.enabled).cloned().collect()
    }

    /// The view, if it is current.
    pub fn current(&self) -> Option<&Arc<AuditView>> {
        self.view
            .as_ref()
            .filter(|v| self.on && v.generation == self.generation)
    }
}

/// What the breakage view shows: what the staged changes break and newly allow among the
/// flows seen (grouped by workload) and in declared reachability, and the allow rules that
/// would keep what breaks. Made from one view and kept whole, so it stays readable when a
/// newer world arrives.
#[derive(Debug, Clone)]
pub struct Breakage {
    pub view: Arc<AuditView>,
    pub observed: Vec<ObservedGroup>,
    pub suggestion: Suggestion,
    /// The report, marked up for the theme (see `render::paint`).
    pub text: String,
    /// The suggested policies as YAML documents, each with what it keeps.
    pub yaml: String,
    pub scroll: u16,
}

/// Entries per list in the breakage view.
const BREAKAGE_LIMIT: usize = 500;

impl Breakage {
    /// Groups the flows seen, and suggests fixes for what they show breaking (without flows:
    /// for what declared reachability shows breaking).
    pub fn new(
        view: Arc<AuditView>,
        flows: impl Iterator<
            Item = (
                u64,
                std::net::IpAddr,
                std::net::IpAddr,
                crate::policy::Protocol,
                u16,
            ),
        >,
        headline: String,
    ) -> Breakage {
        let mut observer = Observer::new(&view.audit, &view.workloads);
        for (t, src, dst, protocol, port) in flows {
            observer.add(t, src, dst, protocol, port);
        }
        let seen = observer.flows > 0;
        let observed = observer.finish();
        let needs: Vec<Flow> = if seen {
            observed
                .iter()
                .filter(|g| g.delta == Delta::WouldBreak)
                .flat_map(|g| g.examples.iter().copied())
                .collect()
        } else {
            view.declared
                .iter()
                .filter(|r| r.delta == Delta::WouldBreak)
                .flat_map(|r| declared::examples(&view.audit, &view.workloads, r, EXAMPLES))
                .collect()
        };
        let suggestion = suggest(&view.audit, &view.workloads, &needs);
        let mut yaml = String::new();
        for p in &suggestion.policies {
            yaml.push_str("---\n");
            for k in &p.keeps {
                yaml.push_str(&format!("# {k}\n"));
            }
            yaml.push_str(&serde_yaml::to_string(&p.manifest).unwrap_or_default());
        }
        let report = crate::render::audit::Report {
            audit: &view.audit,
            workloads: &view.workloads,
            headline,
            observed: seen.then_some(observed.as_slice()),
            declared: &view.declared,
            pods: &[],
        };
        let text = crate::render::audit::report(
            &report,
            &crate::render::paint::Paint::markup(),
            BREAKAGE_LIMIT,
        );
        Breakage {
            view,
            observed,
            suggestion,
            text,
            yaml,
            scroll: 0,
        }
    }
}

impl super::State {
    /// What the loop must do before the first key: in audit mode, judge the staged changes.
    pub fn begin(&mut self) -> Vec<super::Command> {
        self.audit_changed()
    }

    /// The staging or the world changed: a view of the old one is stale. In audit mode, asks
    /// for a new one.
    pub(super) fn audit_changed(&mut self) -> Vec<super::Command> {
        self.audit.generation += 1;
        let changes = self.audit.enabled();
        if !self.audit.on || changes.is_empty() {
            return Vec::new();
        }
        vec![super::Command::PrepareAudit {
            current: self.snapshot.index.clone(),
            changes,
            generation: self.audit.generation,
        }]
    }

    /// A judged view arrived: kept if it is of the current staging and world.
    pub(super) fn take_audit(&mut self, view: Arc<AuditView>) -> Vec<super::Command> {
        let current = view.generation == self.audit.generation
            && Arc::ptr_eq(&view.audit.current, &self.snapshot.index);
        if !current {
            return vec![super::Command::Release(super::Garbage::Audit(view))];
        }
        tracing::info!(
            rows = view.declared.len(),
            pods = view.pods.len(),
            ms = view.build_ms,
            "audit view prepared"
        );
        let old = self.audit.view.replace(view);
        self.audit_shown_again();
        old.map(|o| super::Command::Release(super::Garbage::Audit(o)))
            .into_iter()
            .collect()
    }

    /// Everything that shows the audit view is brought to the one in force (or to none).
    pub(super) fn audit_shown_again(&mut self) {
        self.rejudge_flows();
        self.detail = super::Detail::Empty;
        self.refresh_detail();
        let staged = self.audit.current().map(|v| v.audit.staged.clone());
        if let Some(super::Overlay::Explain(form)) = &mut self.overlay {
            form.set_staged(staged);
        }
    }

    /// Turns audit mode on or off.
    pub(super) fn toggle_audit(&mut self) -> Vec<super::Command> {
        self.audit.on = !self.audit.on;
        if !self.audit.on {
            self.say("audit mode off");
            self.audit_shown_again();
            return Vec::new();
        }
        if self.audit.changes.is_empty() {
            self.say(
                "audit mode: nothing staged yet; D on a namespace stages a default-deny, X on a \
                 policy its removal, :stage PATH adds policies",
            );
        } else {
            self.say(format!(
                "audit mode: judging {} staged change(s)…",
                self.audit.enabled().len()
            ));
        }
        self.audit.view = None;
        self.audit_shown_again();
        self.audit_changed()
    }

    /// Adds staged changes (turning audit mode on: staging is asking to see it).
    pub(super) fn stage(&mut self, changes: Vec<Staged>) -> Vec<super::Command> {
        let labels: Vec<String> = changes.iter().map(Staged::label).collect();
        self.audit.changes.extend(changes);
        self.say(format!("staged {}", labels.join(", ")));
        if !self.audit.on {
            self.audit.on = true;
        }
        self.audit_changed()
    }

    /// Policies read for `:stage`.
    pub(super) fn staged_loaded(
        &mut self,
        result: Result<(String, Vec<Staged>), String>,
    ) -> Vec<super::Command> {
        match result {
            Ok((_, changes)) if changes.is_empty() => {
                self.complain("no NetworkPolicy to stage there");
                Vec::new()
            }
            Ok((path, changes)) => {
                let n = changes.len();
                let commands = self.stage(changes);
                self.say(format!(
                    "staged {n} polic{} from {path}",
                    if n == 1 { "y" } else { "ies" }
                ));
                commands
            }
            Err(e) => {
                self.complain(e);
                Vec::new()
            }
        }
    }
}

/// The status bar's and breakage view's headline: what is staged and what it would do.
pub fn headline(state: &super::State) -> String {
    let Some(view) = state.audit.current() else {
        return String::new();
    };
    let tally = crate::render::audit::Tally::new(None, &view.declared);
    let phrase = crate::render::audit::staged_phrase(&view.audit.effects, &[]);
    let mut head = crate::render::audit::headline(&phrase, &tally);
    let breaking = state.flows.breaking();
    if breaking > 0 {
        head.push_str(&format!(" · {breaking} flows seen would break"));
    }
    head
}
