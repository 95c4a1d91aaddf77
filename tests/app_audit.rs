//! Audit mode in the UI, through messages and state: staging from keys and files, the view
//! judged off the UI task (carried out at once here), flows marked and filtered, the breakage
//! view and its fix, a new world or staging making an old view stale.

mod common;

use common::{
    audit_state, carry_out, ctrl, demo_state, key, prepared, press, selected_key, type_text,
};
use crossterm::event::KeyCode;
use netpol_tui::app::{update, AuditView, Command, Msg, Overlay};
use netpol_tui::cluster::demo;
use netpol_tui::flow::record;
use netpol_tui::policy::audit::Delta;

#[test]
fn the_demo_opens_with_its_staged_changes_judged() {
    let s = audit_state(120, 40, 200);
    let view = s.audit.current().expect("a current view");
    assert_eq!(view.declared_breaks(), 9);
    assert_eq!(view.declared_allows(), 1);
    assert!(s.flows.breaking() > 0, "prometheus' flows would break");
    // Breaking flows are those from or to prometheus.
    for &seq in s.flows.visible() {
        let f = s.flows.get(seq).unwrap();
        if s.flows.delta(seq) == Some(Delta::WouldBreak) {
            assert!(
                f.src_name.contains("prometheus") || f.dst_name.contains("prometheus"),
                "{} -> {}",
                f.src_name,
                f.dst_name
            );
        }
    }
}

#[test]
fn the_verdict_filter_has_a_would_break_stop_in_audit_mode() {
    let mut s = audit_state(120, 40, 200);
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    for _ in 0..4 {
        press(&mut s, KeyCode::Char('v'));
    }
    assert_eq!(s.flows.filter_label(), "would break");
    assert!(!s.flows.visible().is_empty());
    assert!(s
        .flows
        .visible()
        .iter()
        .all(|&q| s.flows.delta(q) == Some(Delta::WouldBreak)));
    press(&mut s, KeyCode::Char('v'));
    assert_eq!(s.flows.filter_label(), "all");
    // Audit mode off: the cycle skips it, and no flow carries a change.
    key(&mut s, KeyCode::Char('a'));
    assert!(!s.audit.on);
    for _ in 0..4 {
        press(&mut s, KeyCode::Char('v'));
    }
    assert_eq!(s.flows.filter_label(), "all");
    assert_eq!(s.flows.breaking(), 0);
}

#[test]
fn keys_stage_a_default_deny_and_a_removal() {
    let mut s = demo_state(120, 40);
    assert!(!s.audit.on);
    // On the monitoring namespace row: D, then both directions.
    ctrl(&mut s, 'p');
    type_text(&mut s, "monitoring");
    press(&mut s, KeyCode::Enter);
    assert_eq!(selected_key(&s), "ns monitoring");
    press(&mut s, KeyCode::Char('D'));
    assert!(matches!(s.overlay, Some(Overlay::DenyPrompt { .. })));
    key(&mut s, KeyCode::Char('b'));
    assert!(s.audit.on, "staging turns audit mode on");
    // The demo stages changes of its own; the user's come after them.
    let mine: Vec<String> = s
        .audit
        .changes
        .iter()
        .filter(|c| !c.from_source)
        .map(|c| c.label())
        .collect();
    assert_eq!(mine, ["+ monitoring/default-deny-all"]);
    assert_eq!(s.audit.current().expect("judged").declared_breaks(), 9);
    // X on a policy row stages its removal.
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/default-deny-all");
    press(&mut s, KeyCode::Enter);
    key(&mut s, KeyCode::Char('X'));
    assert_eq!(
        s.audit.changes.last().map(|c| c.label()).as_deref(),
        Some("- production/default-deny-all")
    );
    let view = s.audit.current().expect("judged");
    assert!(
        view.declared_allows() > 0,
        "removing a default-deny opens things"
    );
}

#[test]
fn the_staged_list_switches_changes_off_and_drops_them() {
    let mut s = audit_state(120, 40, 0);
    key(&mut s, KeyCode::Char('S'));
    assert!(matches!(s.overlay, Some(Overlay::Staged { cursor: 0 })));
    // Switch off the monitoring default-deny: nothing breaks any more.
    let before = s.audit.generation;
    let left = key(&mut s, KeyCode::Char(' '));
    assert!(left.is_empty());
    assert!(!s.audit.changes[0].enabled);
    assert!(s.audit.generation > before);
    assert_eq!(s.audit.current().expect("judged").declared_breaks(), 0);
    // Drop the second change.
    key(&mut s, KeyCode::Down);
    key(&mut s, KeyCode::Char('x'));
    assert_eq!(s.audit.changes.len(), 2);
    press(&mut s, KeyCode::Esc);
    assert!(s.overlay.is_none());
}

#[test]
fn a_view_of_an_older_staging_or_world_is_not_shown() {
    let mut s = audit_state(120, 40, 0);
    let old = s.audit.current().expect("judged").clone();
    // A new world: the view is stale until the one asked for arrives.
    let world = demo::load().unwrap().world;
    let commands = update(&mut s, prepared(world));
    assert!(s.audit.current().is_none());
    assert!(commands
        .iter()
        .any(|c| matches!(c, Command::PrepareAudit { .. })));
    // The old view arriving late is let go of, not shown.
    let stale = AuditView::prepare(
        old.audit.current.clone(),
        &s.audit.enabled(),
        old.generation,
    );
    let out = update(&mut s, Msg::Audit(stale));
    assert!(matches!(out.as_slice(), [Command::Release(_)]));
    assert!(s.audit.current().is_none());
    carry_out(&mut s, commands);
    assert_eq!(s.audit.current().expect("judged").declared_breaks(), 9);
}

#[test]
fn explain_in_audit_mode_answers_for_both_worlds() {
    let mut s = audit_state(120, 40, 0);
    press(&mut s, KeyCode::Char(':'));
    type_text(
        &mut s,
        "explain monitoring/prometheus production/backend 9090",
    );
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog");
    };
    let now = form.result.as_ref().unwrap().as_ref().unwrap();
    assert!(now.allowed);
    let staged = form.staged.as_ref().expect("the staged answer");
    assert!(!staged.allowed);
    assert_eq!(staged.egress.isolated_by, ["monitoring/default-deny-all"]);
}

#[test]
fn the_breakage_view_suggests_and_writes_the_fix() {
    let mut s = audit_state(120, 40, 300);
    key(&mut s, KeyCode::Char('b'));
    let Some(Overlay::Breakage(b)) = &s.overlay else {
        panic!("no breakage view");
    };
    assert!(
        b.text.contains("connections seen that would break"),
        "{}",
        b.text
    );
    assert!(
        b.yaml.contains("name: allow-egress-from-prometheus"),
        "{}",
        b.yaml
    );
    assert!(
        b.yaml.contains("name: allow-ingress-to-prometheus"),
        "{}",
        b.yaml
    );
    let yaml = b.yaml.clone();
    let commands = key(&mut s, KeyCode::Char('w'));
    let [Command::WriteFile { path, contents }] = commands.as_slice() else {
        panic!("{commands:?}");
    };
    assert!(path.ends_with(".yaml"));
    assert_eq!(contents, &yaml);
}

#[test]
fn flows_shown_are_written_as_trace_lines() {
    let mut s = audit_state(120, 40, 50);
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    let commands = key(&mut s, KeyCode::Char('w'));
    let [Command::WriteFile { path, contents }] = commands.as_slice() else {
        panic!("{commands:?}");
    };
    assert!(path.ends_with(".jsonl"));
    let mut read = Vec::new();
    let report = record::read(&mut contents.as_bytes(), |e| read.push(e)).unwrap();
    assert_eq!(report.flows, 50);
    assert!(report.bad.is_empty());
    assert_eq!(read.len(), s.flows.visible().len());
    update(&mut s, Msg::Note(Ok(format!("wrote {path}"))));
    assert!(s.message.as_ref().unwrap().text.starts_with("wrote "));
}

#[test]
fn stage_and_unstage_from_the_command_line() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "stage tests/fixtures/good/policies");
    let commands = press(&mut s, KeyCode::Enter);
    assert_eq!(
        commands,
        vec![Command::LoadStage("tests/fixtures/good/policies".into())]
    );
    carry_out(&mut s, commands);
    assert!(s.audit.on);
    assert!(!s.audit.changes.is_empty(), "{:?}", s.message);
    let n = s.audit.changes.len();
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "unstage production/web-app-netpol");
    key(&mut s, KeyCode::Enter);
    assert_eq!(s.audit.changes.len(), n + 1);
    // A path that is not there: said, nothing staged.
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "stage /does/not/exist");
    key(&mut s, KeyCode::Enter);
    let m = s.message.as_ref().unwrap();
    assert!(m.error && m.text.contains("/does/not/exist"), "{m:?}");
    assert_eq!(s.audit.changes.len(), n + 1);
}
