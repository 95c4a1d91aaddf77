//! Key handling, tested through messages and state, without drawing.

mod common;

use common::{ctrl, demo_state, feed_flows, press, selected_key, type_text};
use crossterm::event::KeyModifiers;
use crossterm::event::{KeyCode, MouseButton, MouseEvent, MouseEventKind};
use netpol_tui::app::{update, Action, Command, Detail, Field, Msg, Overlay, Pane, TreeMode};
use netpol_tui::cluster::demo;
use netpol_tui::cluster::live::{Link, Status};
use netpol_tui::flow::{Outcome, VerdictFilter};
use netpol_tui::theme::Slot;
use ratatui::style::Color;

#[test]
fn starts_on_the_first_namespace_with_everything_expanded() {
    let s = demo_state(120, 40);
    assert_eq!(selected_key(&s), "ns development");
    assert!(matches!(s.detail, Detail::Namespace(0)));
    // 5 namespaces and 11 pods.
    assert_eq!(s.rows.len(), 16);
    assert_eq!(s.focus, Pane::Tree);
}

#[test]
fn moving_down_selects_pods_and_the_detail_follows() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('j'));
    assert_eq!(selected_key(&s), "pod development/dev-shell");
    match &s.detail {
        Detail::Pod { effective, .. } => assert_eq!(effective.pod, "development/dev-shell"),
        other => panic!("detail {other:?}"),
    }
    press(&mut s, KeyCode::Char('G'));
    assert_eq!(selected_key(&s), "pod production/web");
    press(&mut s, KeyCode::Home);
    assert_eq!(selected_key(&s), "ns development");
    // Up at the top stays there.
    press(&mut s, KeyCode::Up);
    assert_eq!(s.cursor, 0);
}

#[test]
fn enter_scopes_to_a_namespace_and_0_shows_all_again() {
    let mut s = demo_state(120, 40);
    feed_flows(&mut s, 200);
    let all = s.rows.len();
    let every_flow = s.flows.visible().len();
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    assert_eq!(selected_key(&s), "ns ingress-nginx");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.scope.as_deref(), Some("ingress-nginx"));
    assert_eq!(s.rows.len(), 2, "the namespace and its pod");
    assert_eq!(s.flows.scope.as_deref(), Some("ingress-nginx"));
    let scoped = s.flows.visible().len();
    assert!(
        scoped > 0 && scoped < every_flow,
        "{scoped} of {every_flow}"
    );
    for &seq in s.flows.visible() {
        let f = s.flows.get(seq).unwrap();
        assert!(
            f.src_name.starts_with("ingress-nginx/") || f.dst_name.starts_with("ingress-nginx/"),
            "{} -> {}",
            f.src_name,
            f.dst_name
        );
    }
    press(&mut s, KeyCode::Char('0'));
    assert_eq!(s.flows.visible().len(), every_flow);
    assert_eq!(s.scope, None);
    assert_eq!(s.rows.len(), all);
    press(&mut s, KeyCode::Char('0'));
    assert!(s
        .message
        .as_ref()
        .is_some_and(|m| m.text.contains("every namespace already")));
}

#[test]
fn arrows_fold_namespaces() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Left);
    assert_eq!(s.rows.len(), 14, "development folded");
    press(&mut s, KeyCode::Right);
    assert_eq!(s.rows.len(), 16);
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Left);
    assert_eq!(
        selected_key(&s),
        "ns development",
        "h on a pod goes to its namespace"
    );
    press(&mut s, KeyCode::Left);
    assert_eq!(s.rows.len(), 14);
}

#[test]
fn slash_filters_the_tree_fuzzily_and_esc_clears() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('/'));
    type_text(&mut s, "datbs");
    assert!(s.tree_filter.editing);
    assert_eq!(selected_key(&s), "pod production/database");
    let names: Vec<String> = s.rows.iter().map(|r| format!("{:?}", r.kind)).collect();
    assert_eq!(names.len(), 2, "the namespace and the pod: {names:?}");
    assert_eq!(
        s.rows[1].matched,
        vec![0, 1, 2, 4, 6],
        "d-a-t-b-s highlighted"
    );
    press(&mut s, KeyCode::Enter);
    assert!(!s.tree_filter.editing);
    assert!(s.tree_filter.active());
    // Labels match too: app=web.
    press(&mut s, KeyCode::Char('/'));
    for _ in 0..5 {
        press(&mut s, KeyCode::Backspace);
    }
    type_text(&mut s, "tier=web");
    assert_eq!(selected_key(&s), "pod production/frontend");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Esc);
    assert!(!s.tree_filter.active());
    assert_eq!(s.rows.len(), 16);
    assert_eq!(
        selected_key(&s),
        "pod production/frontend",
        "selection kept"
    );
}

#[test]
fn finder_jumps_to_a_policy_and_esc_comes_back() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Down);
    ctrl(&mut s, 'p');
    type_text(&mut s, "databasenetpol");
    match &s.overlay {
        Some(Overlay::Finder(f)) => {
            assert!(!f.hits.is_empty());
            assert_eq!(
                s.snapshot.entries[f.hits[0].entry].text,
                "production/database-netpol"
            );
        }
        other => panic!("overlay {other:?}"),
    }
    press(&mut s, KeyCode::Enter);
    assert!(s.overlay.is_none());
    assert_eq!(s.tree_mode, TreeMode::Policies);
    assert_eq!(selected_key(&s), "netpol production/database-netpol");
    match &s.detail {
        Detail::Policy { warnings, .. } => assert!(
            warnings.iter().any(|w| w.contains("OR")),
            "the OR-vs-AND mistake is named: {warnings:?}"
        ),
        other => panic!("detail {other:?}"),
    }
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.tree_mode, TreeMode::Pods);
    assert_eq!(selected_key(&s), "pod development/dev-shell");
}

#[test]
fn finder_label_entry_filters_pods() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "app=redis");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.tree_filter.input.text, "app=redis");
    assert_eq!(selected_key(&s), "pod production/redis");
}

/// A Service in the finder: the tree shows the pods behind it (its namespace, its selector).
#[test]
fn finder_service_entry_shows_the_pods_behind_it() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "svc/backend-serv");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.scope.as_deref(), Some("production"));
    assert_eq!(s.tree_filter.input.text, "-l app=backend");
    assert_eq!(selected_key(&s), "pod production/backend");
    let m = s.message.clone().expect("a message");
    assert!(
        m.text
            .contains("Service production/backend-service: 1 pod(s) behind it (app=backend)"),
        "{}",
        m.text
    );
}

#[test]
fn explain_dialog_answers_why_frontend_cannot_reach_the_database() {
    let mut s = demo_state(120, 40);
    // Select the frontend pod, open explain from it.
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/frontend");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Char('e'));
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    assert_eq!(form.from.text, "production/frontend");
    assert_eq!(form.field, Field::To);
    type_text(&mut s, "datab");
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    assert_eq!(form.pick_text(0), Some("production/database"));
    press(&mut s, KeyCode::Enter);
    type_text(&mut s, "postgres");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    let e = form
        .result
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect("no error");
    assert!(!e.allowed);
    assert_eq!(e.port, 5432, "the port name resolved on the destination");
    assert_eq!(form.field, Field::Result);
    let responsible = form.responsible.expect("a responsible policy");
    assert_eq!(
        responsible.name(&s.snapshot.index),
        "production/database-netpol"
    );
    // Enter jumps to it; Esc comes back to the pod.
    press(&mut s, KeyCode::Enter);
    assert!(s.overlay.is_none());
    assert_eq!(selected_key(&s), "netpol production/database-netpol");
    assert_eq!(s.focus, Pane::Detail);
    press(&mut s, KeyCode::Esc);
    assert_eq!(selected_key(&s), "pod production/frontend");
}

#[test]
fn explain_errors_name_the_field() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "explain production/frontend nosuchpod 80");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    let err = form
        .result
        .as_ref()
        .expect("ran")
        .as_ref()
        .expect_err("an error");
    assert!(err.starts_with("To: no pod nosuchpod"), "{err}");
    // A typed IP is taken as it is, not replaced by a suggestion.
    press(&mut s, KeyCode::Esc);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "explain production/frontend 203.0.113.9 443");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    let e = form.result.as_ref().expect("ran").as_ref().expect("ok");
    assert_eq!(e.dst, "203.0.113.9");
    assert!(!e.allowed, "frontend may not call out on 443");
}

#[test]
fn command_line_switches_lists_and_themes() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "netpol");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.tree_mode, TreeMode::Policies);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "th");
    press(&mut s, KeyCode::Tab);
    type_text(&mut s, "hi");
    press(&mut s, KeyCode::Tab);
    match &s.overlay {
        Some(Overlay::Command(l)) => assert_eq!(l.text, "theme high-contrast"),
        other => panic!("overlay {other:?}"),
    }
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.theme.name, "high-contrast");
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "theme nope");
    press(&mut s, KeyCode::Enter);
    let m = s.message.clone().expect("a message");
    assert!(
        m.error && m.text.contains("there are: dark, light"),
        "{m:?}"
    );
    assert_eq!(s.theme.name, "high-contrast");
    press(&mut s, KeyCode::Char('t'));
    assert_eq!(s.theme.name, "colorblind");
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "pod redis");
    press(&mut s, KeyCode::Enter);
    assert_eq!(selected_key(&s), "pod production/redis");
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "bogus");
    press(&mut s, KeyCode::Enter);
    assert!(s
        .message
        .as_ref()
        .is_some_and(|m| m.error && m.text.contains("unknown command :bogus")));
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "q");
    assert_eq!(press(&mut s, KeyCode::Enter), vec![Command::Quit]);
}

#[test]
fn quitting() {
    let mut s = demo_state(120, 40);
    assert_eq!(press(&mut s, KeyCode::Char('q')), vec![Command::Quit]);
    // Ctrl-C quits even from a dialog, where q is text.
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    assert!(press(&mut s, KeyCode::Char('q')).is_empty());
    assert_eq!(ctrl(&mut s, 'c'), vec![Command::Quit]);
    let mut s = demo_state(120, 40);
    assert_eq!(
        update(
            &mut s,
            Msg::Terminate(netpol_tui::process::Signal::Terminate)
        ),
        vec![Command::Quit]
    );
    assert_eq!(s.ended_by, Some(netpol_tui::process::Signal::Terminate));
}

#[test]
fn help_opens_and_any_key_closes_it() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('?'));
    assert!(matches!(s.overlay, Some(Overlay::Help { .. })));
    press(&mut s, KeyCode::Down);
    assert!(matches!(s.overlay, Some(Overlay::Help { scroll: 1 })));
    press(&mut s, KeyCode::Char('x'));
    assert!(s.overlay.is_none());
}

#[test]
fn flows_follow_pause_filter_and_explain() {
    let mut s = demo_state(120, 40);
    feed_flows(&mut s, 300);
    assert_eq!(s.flows.store.len(), 300);
    assert_eq!(s.flows.shown_len(), 300);
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Pane::Flows);
    // Pause: new flows are stored but not shown.
    press(&mut s, KeyCode::Char(' '));
    feed_flows(&mut s, 10);
    assert_eq!(s.flows.store.len(), 310);
    assert_eq!(s.flows.shown_len(), 300);
    press(&mut s, KeyCode::Char(' '));
    assert_eq!(s.flows.shown_len(), 310);
    // Verdict filter: blocked only.
    press(&mut s, KeyCode::Char('v'));
    assert_eq!(s.flows.verdict, VerdictFilter::Blocked);
    let all_blocked = s.flows.visible().iter().all(|&q| {
        matches!(
            s.flows.get(q).map(|f| f.outcome),
            Some(Outcome::BlockedByPolicy | Outcome::DatapathDrop)
        )
    });
    assert!(all_blocked && s.flows.shown_len() > 0);
    // Text filter on top.
    press(&mut s, KeyCode::Char('/'));
    type_text(&mut s, "frontend database");
    press(&mut s, KeyCode::Enter);
    let n = s.flows.shown_len();
    assert!(n > 0 && n < 310, "{n} flows shown");
    let story = s
        .flows
        .visible()
        .iter()
        .rposition(|&q| {
            let f = s.flows.get(q).expect("stored");
            (&*f.src_name, &*f.dst_name) == ("production/frontend", "production/database")
        })
        .expect("the demo's story flow is there");
    for _ in story..n - 1 {
        press(&mut s, KeyCode::Up);
    }
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    assert!(form
        .flow_note
        .as_ref()
        .is_some_and(|n| n.contains("NETFILTER_DROP")));
    assert!(form
        .result
        .as_ref()
        .is_some_and(|r| r.as_ref().is_ok_and(|e| !e.allowed)));
    press(&mut s, KeyCode::Esc);
    // Esc clears the text filter.
    press(&mut s, KeyCode::Esc);
    assert!(!s.flows.filter.active());
}

#[test]
fn lost_flows_and_rates_are_counted() {
    let mut s = demo_state(120, 40);
    update(&mut s, Msg::Tick { now_ms: 1_000 });
    feed_flows(&mut s, 50);
    update(&mut s, Msg::Tick { now_ms: 3_000 });
    assert!((s.flows.rate - 25.0).abs() < 0.01, "{}", s.flows.rate);
    update(&mut s, Msg::FlowsLost(7));
    assert_eq!(s.flows.lost, 7);
}

#[test]
fn mouse_selects_and_scrolls() {
    let mut s = demo_state(120, 40);
    let click = |row, column| {
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::Down(MouseButton::Left),
            column,
            row,
            modifiers: KeyModifiers::NONE,
        })
    };
    // Row 1 of the screen is the first row inside the tree's border.
    update(&mut s, click(3, 5));
    assert_eq!(selected_key(&s), "pod development/integration-tests");
    update(
        &mut s,
        Msg::Mouse(MouseEvent {
            kind: MouseEventKind::ScrollDown,
            column: 5,
            row: 3,
            modifiers: KeyModifiers::NONE,
        }),
    );
    assert_eq!(selected_key(&s), "ns kube-system", "three rows down");
    // A click in the detail pane focuses it.
    update(&mut s, click(5, 80));
    assert_eq!(s.focus, Pane::Detail);
}

#[test]
fn small_terminals_and_resizes() {
    let mut s = demo_state(120, 40);
    update(&mut s, Msg::Resize(50, 12));
    assert!(s.areas().too_small);
    update(&mut s, Msg::Resize(80, 24));
    assert!(!s.areas().too_small);
    // The cursor stays visible after shrinking.
    press(&mut s, KeyCode::End);
    let h = netpol_tui::app::layout::inner_height(s.areas().tree);
    assert!(s.cursor >= s.tree_offset && s.cursor < s.tree_offset + h);
}

#[test]
fn a_new_snapshot_keeps_the_selection() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/redis");
    press(&mut s, KeyCode::Enter);
    let world = netpol_tui::cluster::demo::load().expect("demo").world;
    update(&mut s, common::prepared(world));
    assert_eq!(selected_key(&s), "pod production/redis");
}

#[test]
fn zoom_and_focus_cycle() {
    let mut s = demo_state(120, 40);
    update(&mut s, Msg::Action(Action::Zoom));
    assert_eq!(s.zoom, Some(Pane::Tree));
    assert_eq!(s.areas().detail.width, 0);
    update(&mut s, Msg::Action(Action::FocusNext));
    assert_eq!(s.zoom, Some(Pane::Detail));
    press(&mut s, KeyCode::Esc);
    assert_eq!(s.zoom, None);
    update(&mut s, Msg::Action(Action::FocusPrev));
    update(&mut s, Msg::Action(Action::FocusPrev));
    assert_eq!(s.focus, Pane::Flows);
}

fn live_status(context: &str, link: Link, synced_ms: Option<u64>, hidden: &[&str]) -> Status {
    Status {
        context: context.into(),
        server: "https://10.0.0.1:6443".into(),
        link,
        synced_ms,
        hidden: hidden.iter().map(|h| h.to_string()).collect(),
        warnings: Vec::new(),
    }
}

#[test]
fn live_context_switching_and_the_production_frame() {
    let mut s = demo_state(120, 40);
    let plain = s.theme.style(Slot::Border);
    s.attach_live(
        live_status("staging", Link::Live, Some(1_000), &[]),
        vec!["staging".into(), "prod-eu".into()],
    );
    assert_eq!(
        s.theme.style(Slot::Border),
        plain,
        "staging keeps the theme"
    );
    assert!(s.context_frame().is_none());

    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ctx");
    press(&mut s, KeyCode::Enter);
    assert_eq!(
        s.message.as_ref().unwrap().text,
        "contexts: staging, prod-eu (now: staging)"
    );

    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ctx nope");
    press(&mut s, KeyCode::Enter);
    let m = s.message.clone().unwrap();
    assert!(m.error);
    assert_eq!(m.text, "no context \"nope\"; there are: staging, prod-eu");

    // Tab completes a context name; Enter asks the loop to connect.
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ctx pr");
    press(&mut s, KeyCode::Tab);
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        vec![Command::SwitchContext("prod-eu".into())]
    );
    assert_eq!(
        s.live.as_ref().unwrap().switching.as_deref(),
        Some("prod-eu")
    );

    // The new context answers: switched, and production wears a red frame.
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ns");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.rows.len(), 5, "collapsed");
    update(
        &mut s,
        Msg::Live(live_status(
            "prod-eu",
            Link::Live,
            Some(2_000),
            &["nodes (forbidden): verdicts that depend on node addresses are unknown"],
        )),
    );
    let live = s.live.as_ref().unwrap();
    assert_eq!(live.switching, None);
    assert_eq!(live.status.context, "prod-eu");
    assert_eq!(s.theme.style(Slot::Border).fg, Some(Color::Red));
    assert_eq!(s.theme.style(Slot::BorderFocused).fg, Some(Color::Red));
    assert_eq!(s.context_frame(), Some(Color::Red));
    assert!(s
        .message
        .as_ref()
        .unwrap()
        .text
        .contains("1 thing(s) not visible"));
    // Its first world opens every namespace, as at start.
    update(&mut s, common::prepared(demo::load().unwrap().world));
    assert_eq!(s.rows.len(), 16);

    // A theme chosen by hand keeps the frame while on production.
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "theme light");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.theme.name, "light");
    assert_eq!(s.theme.style(Slot::Border).fg, Some(Color::Red));

    // A failed switch leaves the current context in place.
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ctx staging");
    assert_eq!(
        press(&mut s, KeyCode::Enter),
        vec![Command::SwitchContext("staging".into())]
    );
    update(
        &mut s,
        Msg::SwitchFailed("context staging: cannot read from the API server".into()),
    );
    assert_eq!(s.live.as_ref().unwrap().switching, None);
    assert_eq!(s.live.as_ref().unwrap().status.context, "prod-eu");
    assert!(s.message.as_ref().unwrap().error);
}

#[test]
fn ctx_without_a_cluster_says_so() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "ctx prod");
    assert_eq!(press(&mut s, KeyCode::Enter), Vec::<Command>::new());
    assert!(s
        .message
        .as_ref()
        .unwrap()
        .text
        .starts_with(":ctx needs a live cluster"));
}

#[test]
fn cluster_tiers_are_a_group_of_the_policy_tree_and_explain_jumps_to_them() {
    let mut s = demo_state(120, 40);
    // P lists policies: the cluster tiers come first, folded; Enter opens them.
    press(&mut s, KeyCode::Char('P'));
    press(&mut s, KeyCode::Home);
    assert_eq!(selected_key(&s), "cluster tiers");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Down);
    assert_eq!(
        selected_key(&s),
        "tier AdminNetworkPolicy/cluster-guardrails"
    );
    // The explain dialog names the tier policy that decides, and Enter goes to it.
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/frontend");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Char('e'));
    type_text(&mut s, "169.254.169.254");
    press(&mut s, KeyCode::Enter);
    type_text(&mut s, "80");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no dialog")
    };
    let e = form.result.as_ref().unwrap().as_ref().expect("no error");
    assert!(!e.allowed);
    let responsible = form.responsible.expect("a responsible policy");
    assert_eq!(
        responsible.name(&s.snapshot.index),
        "AdminNetworkPolicy/cluster-guardrails"
    );
    press(&mut s, KeyCode::Enter);
    assert!(s.overlay.is_none());
    assert_eq!(
        selected_key(&s),
        "tier AdminNetworkPolicy/cluster-guardrails"
    );
    assert_eq!(s.focus, Pane::Detail);
    press(&mut s, KeyCode::Esc);
    assert_eq!(selected_key(&s), "pod production/frontend");
}

#[test]
fn connections_group_the_flows_and_a_selected_row_stays_put() {
    let mut s = demo_state(140, 40);
    common::feed_flows(&mut s, 100);
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Pane::Flows);
    press(&mut s, KeyCode::Char('c'));
    assert!(s.flows.grouped);
    let total: u64 = s.flows.conns.iter().map(|r| r.count).sum();
    assert_eq!(
        total as usize,
        s.flows.shown_len(),
        "every flow in one connection"
    );
    let mut keys: Vec<_> = s.flows.conns.iter().map(|r| r.key.clone()).collect();
    let sorted = {
        let mut k = keys.clone();
        k.sort();
        k
    };
    assert_eq!(keys, sorted, "by source, destination, protocol and port");
    keys.dedup();
    assert_eq!(keys.len(), s.flows.conns.len(), "one row per connection");
    press(&mut s, KeyCode::Down);
    press(&mut s, KeyCode::Down);
    let chosen = s.flows.conn_cursor.clone().expect("a connection selected");
    let before = s.flows.conns[s.flows.conn_pos().unwrap()].count;
    // More flows arrive: the selection stays on the same connection.
    common::feed_flows(&mut s, 300);
    update(
        &mut s,
        Msg::Tick {
            now_ms: 1_795_348_900_000,
        },
    );
    assert_eq!(s.flows.conn_cursor.as_ref(), Some(&chosen));
    let row = &s.flows.conns[s.flows.conn_pos().expect("still listed")];
    assert!(row.count >= before);
    // Enter explains the connection's newest flow.
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("no explain dialog")
    };
    assert!(form.result.is_some());
    assert_eq!(form.from.text.split(' ').next(), Some(chosen.0.as_ref()));
    press(&mut s, KeyCode::Esc);
    // c again: each flow.
    press(&mut s, KeyCode::Char('c'));
    assert!(!s.flows.grouped);
}

#[test]
fn a_key_that_does_nothing_says_so_and_pod_lists_everything_again() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('Q'));
    let m = s.message.clone().expect("an answer");
    assert!(m.text.contains("Q does nothing here"), "{}", m.text);
    // :ns folds every namespace; :pod opens them all again.
    press(&mut s, KeyCode::Char(':'));
    common::type_text(&mut s, "ns");
    press(&mut s, KeyCode::Enter);
    assert!(s.expanded.is_empty());
    assert!(s
        .rows
        .iter()
        .all(|r| matches!(r.kind, netpol_tui::app::RowKind::Namespace(_))));
    press(&mut s, KeyCode::Char(':'));
    common::type_text(&mut s, "pod");
    press(&mut s, KeyCode::Enter);
    assert!(s
        .rows
        .iter()
        .any(|r| matches!(r.kind, netpol_tui::app::RowKind::Pod(_))));
    assert_eq!(s.expanded.len(), s.snapshot.overview.namespaces.len());
}

#[test]
fn the_tree_filter_takes_a_label_selector_and_namespace_labels() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('/'));
    type_text(&mut s, "-l app in (frontend,backend)");
    press(&mut s, KeyCode::Enter);
    let pods: Vec<String> = s
        .rows
        .iter()
        .filter_map(|r| match r.kind {
            netpol_tui::app::RowKind::Pod(p) => {
                Some(s.snapshot.index.inventory().pods[p as usize].key())
            }
            _ => None,
        })
        .collect();
    assert_eq!(pods, ["production/backend", "production/frontend"]);
    // Namespace labels: every pod of the namespaces that carry them.
    press(&mut s, KeyCode::Esc);
    press(&mut s, KeyCode::Char('/'));
    type_text(&mut s, "environment=dev");
    let namespaces: Vec<&str> = s
        .rows
        .iter()
        .filter_map(|r| match r.kind {
            netpol_tui::app::RowKind::Namespace(n) => {
                Some(s.snapshot.overview.namespaces[n as usize].name.as_str())
            }
            _ => None,
        })
        .collect();
    assert_eq!(namespaces, ["development"]);
    assert_eq!(s.rows.len(), 3, "development and its two pods");
}

#[test]
fn messages_are_kept_in_full_for_the_messages_view() {
    let mut s = demo_state(80, 24);
    press(&mut s, KeyCode::Char('Q'));
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "messages");
    press(&mut s, KeyCode::Enter);
    assert!(matches!(s.overlay, Some(Overlay::Messages { .. })));
    let (_, m) = s.messages.back().expect("kept");
    assert!(m.text.starts_with("Q does nothing here"), "{}", m.text);
}

#[test]
fn r_shows_who_can_reach_the_selected_pod() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/database");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Char('r'));
    let Some(Overlay::Text { title, text, .. }) = &s.overlay else {
        panic!("no reachability view")
    };
    assert_eq!(title, "Reachability of production/database");
    assert!(text.contains("backend: TCP 5432"), "{text}");
    assert!(
        text.contains("9 other pod(s) cannot reach it on any port"),
        "{text}"
    );
    press(&mut s, KeyCode::Esc);
    assert!(s.overlay.is_none());
}

#[test]
fn y_shows_the_selected_object_as_yaml() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "backend-policy");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Char('y'));
    let Some(Overlay::Text { title, text, .. }) = &s.overlay else {
        panic!("no YAML view")
    };
    assert_eq!(title, "NetworkPolicy production/backend-policy");
    assert!(text.contains("kind: NetworkPolicy"), "{text}");
    assert!(text.contains("app: frontend"), "{text}");
    press(&mut s, KeyCode::Esc);
    // A pod keeps no manifest: what was read, said so.
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/database");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Char('y'));
    let Some(Overlay::Text { title, text, .. }) = &s.overlay else {
        panic!("no YAML view")
    };
    assert_eq!(title, "pod production/database");
    assert!(text.starts_with("# normalized form"), "{text}");
    assert!(text.contains("app: database"), "{text}");
}

#[test]
fn a_cilium_policy_stays_selected_across_a_new_world() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "backend-api-l7");
    press(&mut s, KeyCode::Enter);
    assert_eq!(
        selected_key(&s),
        "netpol CiliumNetworkPolicy/production/backend-api-l7"
    );
    // A new policy sorted before it moves its row: it is found again by its key.
    let extra = "apiVersion: networking.k8s.io/v1\nkind: NetworkPolicy\nmetadata: {name: aaa, namespace: production}\nspec: {podSelector: {}}\n";
    let text = format!("{}\n---\n{extra}", demo::DEMO_YAML);
    let world = netpol_tui::cluster::files::load_text("demo", &text)
        .expect("loads")
        .world;
    update(&mut s, common::prepared(world));
    assert_eq!(
        selected_key(&s),
        "netpol CiliumNetworkPolicy/production/backend-api-l7"
    );
}

/// `:svc` names the endpoints of a Service without a selector where its EndpointSlices were
/// read, and says so where they were not.
#[test]
fn svc_names_the_endpoints_of_a_service_without_a_selector() {
    let svc = |name: &str| {
        format!("apiVersion: v1\nkind: Service\nmetadata: {{name: {name}, namespace: production}}\nspec: {{ports: [{{port: 443}}]}}\n")
    };
    let slice = "apiVersion: discovery.k8s.io/v1\nkind: EndpointSlice\nmetadata: {name: payments-1, namespace: production, labels: {kubernetes.io/service-name: payments}}\naddressType: IPv4\nendpoints:\n- addresses: [203.0.113.40]\n- addresses: [203.0.113.41]\n  conditions: {ready: false}\n";
    let text = format!(
        "{}\n---\n{}---\n{}---\n{slice}",
        demo::DEMO_YAML,
        svc("payments"),
        svc("legacy")
    );
    let world = netpol_tui::cluster::files::load_text("demo", &text)
        .expect("loads")
        .world;
    let mut s = demo_state(120, 40);
    update(&mut s, common::prepared(world));
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "svc");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Text { text, .. }) = &s.overlay else {
        panic!("no Services view")
    };
    for want in [
        "no selector; endpoints: 203.0.113.40 (1 not ready)",
        "no selector; its EndpointSlices were not read",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
}

/// `:svc` lists the Services (type, addresses, ports to target ports, pods behind);
/// `:svc NAME` shows the pods behind one.
#[test]
fn svc_lists_the_services_and_goes_to_the_pods_behind_one() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "svc");
    press(&mut s, KeyCode::Enter);
    let Some(Overlay::Text { title, text, .. }) = &s.overlay else {
        panic!("no Services view")
    };
    assert!(title.starts_with("Services (5)"), "{title}");
    for want in [
        "production/backend-service",
        "ClusterIP  10.96.20.11",
        "TCP/8080→http",
        "1 pod(s) behind it (app=backend)",
        "LoadBalancer  10.96.20.10, 203.0.113.10",
        "TCP/80→http (node 30080)",
        "UDP/53→dns",
    ] {
        assert!(text.contains(want), "{want:?} in {text}");
    }
    press(&mut s, KeyCode::Esc);
    press(&mut s, KeyCode::Char(':'));
    type_text(&mut s, "svc kube-dns");
    press(&mut s, KeyCode::Enter);
    assert_eq!(s.scope.as_deref(), Some("kube-system"));
    assert_eq!(s.tree_filter.input.text, "-l k8s-app=kube-dns");
    assert_eq!(selected_key(&s), "pod kube-system/coredns");
}
