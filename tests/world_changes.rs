//! A new world (a live update, a reload) may arrive while anything is open: dialogs, a jump's
//! way back, a selected flow. Nothing may keep a position into the old world: every test here
//! opens something, replaces the world with one that lacks what it refers to, draws, and
//! presses keys.

mod common;

use common::{ctrl, demo_state, feed_flows, press, selected_key, type_text};
use crossterm::event::KeyCode;
use netpol_tui::app::{update, Overlay, Pane, State, TreeMode};
use netpol_tui::cluster::{demo, World};
use netpol_tui::policy::model::Inventory;
use netpol_tui::policy::PolicySet;
use netpol_tui::tui::views;
use ratatui::backend::TestBackend;
use ratatui::Terminal;

/// The demo without the pods and policies named (`ns/name`).
fn demo_without(pods: &[&str], policies: &[&str]) -> World {
    let w = demo::load().expect("demo").world;
    let mut inv: Inventory = (*w.inventory).clone();
    inv.pods.retain(|p| !pods.contains(&p.key().as_str()));
    let kept = w
        .policies
        .policies
        .iter()
        .filter(|p| !policies.contains(&p.key().as_str()))
        .cloned()
        .collect();
    World::new(inv, PolicySet::new(kept))
}

/// Every policy of the demo's production namespace, and the frontend pod, gone.
fn production_emptied() -> World {
    let all = demo::load().expect("demo").world;
    let policies: Vec<String> = all
        .policies
        .policies
        .iter()
        .filter(|p| p.namespace == "production")
        .map(|p| p.key())
        .collect();
    let names: Vec<&str> = policies.iter().map(String::as_str).collect();
    demo_without(&["production/frontend"], &names)
}

fn draw(state: &State) -> String {
    let (w, h) = state.size;
    let mut terminal = Terminal::new(TestBackend::new(w, h)).expect("backend");
    terminal
        .draw(|f| {
            views::draw(f, state);
        })
        .expect("draws");
    format!("{:?}", terminal.backend())
}

fn new_world(s: &mut State, world: World) {
    update(s, common::prepared(world));
}

#[test]
fn explain_result_is_run_again_on_the_new_world() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(
        &mut s,
        "explain production/frontend production/database 5432",
    );
    press(&mut s, KeyCode::Enter);
    assert!(matches!(s.overlay, Some(Overlay::Explain(_))));
    draw(&s);
    new_world(&mut s, production_emptied());
    let screen = draw(&s);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("the dialog stays open");
    };
    let err = form
        .result
        .as_ref()
        .expect("ran again")
        .as_ref()
        .expect_err("the source is gone");
    assert!(err.contains("no pod production/frontend"), "{err}");
    assert!(screen.contains("no pod production/frontend"), "{screen}");
    press(&mut s, KeyCode::Enter);
    draw(&s);
    press(&mut s, KeyCode::Esc);
    assert!(s.overlay.is_none());
    draw(&s);
}

#[test]
fn explain_result_follows_a_world_where_the_flow_is_allowed() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char(':'));
    type_text(
        &mut s,
        "explain production/backend production/database 5432",
    );
    press(&mut s, KeyCode::Enter);
    // The database's own policy and the namespace's default deny go away: nothing isolates it.
    new_world(
        &mut s,
        demo_without(
            &[],
            &["production/database-netpol", "production/default-deny-all"],
        ),
    );
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("the dialog stays open");
    };
    let e = form.result.as_ref().expect("ran").as_ref().expect("ok");
    assert!(e.allowed, "{e:?}");
    assert_eq!(e.ingress.outcome, "not_isolated");
    let screen = draw(&s);
    assert!(screen.contains("ALLOWED"), "{screen}");
    // Enter goes to the policy that now decides (the backend's egress rule), by name.
    press(&mut s, KeyCode::Enter);
    assert_eq!(selected_key(&s), "netpol production/backend-policy");
}

#[test]
fn explain_while_picking_keeps_its_text_and_suggests_from_the_new_world() {
    let mut s = demo_state(120, 40);
    press(&mut s, KeyCode::Char('e'));
    type_text(&mut s, "front");
    draw(&s);
    new_world(&mut s, production_emptied());
    let screen = draw(&s);
    let Some(Overlay::Explain(form)) = &s.overlay else {
        panic!("the dialog stays open");
    };
    assert_eq!(form.from.text, "front");
    for i in 0..form.picks.len() {
        assert_ne!(form.pick_text(i), Some("production/frontend"));
    }
    assert!(!screen.contains("production/frontend"), "{screen}");
    press(&mut s, KeyCode::Enter);
    press(&mut s, KeyCode::Esc);
    draw(&s);
}

#[test]
fn finder_searches_the_new_world() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    draw(&s);
    new_world(&mut s, production_emptied());
    draw(&s);
    type_text(&mut s, "frontend");
    draw(&s);
    let Some(Overlay::Finder(f)) = &s.overlay else {
        panic!("the finder stays open");
    };
    for hit in &f.hits {
        assert_ne!(s.snapshot.entries[hit.entry].text, "production/frontend");
    }
    press(&mut s, KeyCode::Enter);
    draw(&s);
    // An open finder with a query on the old world: Enter takes a hit of the new one.
    ctrl(&mut s, 'p');
    type_text(&mut s, "database-netpol");
    new_world(&mut s, demo::load().expect("demo").world);
    press(&mut s, KeyCode::Enter);
    assert_eq!(selected_key(&s), "netpol production/database-netpol");
}

#[test]
fn the_way_back_is_kept_by_name() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/redis");
    press(&mut s, KeyCode::Enter);
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/web-app-netpol");
    press(&mut s, KeyCode::Enter);
    assert_eq!(selected_key(&s), "netpol production/web-app-netpol");
    // Pods and policies before them disappear: their positions shift.
    new_world(
        &mut s,
        demo_without(
            &["development/dev-shell", "production/api"],
            &["production/allow-from-dev-to-prod-api"],
        ),
    );
    assert_eq!(selected_key(&s), "netpol production/web-app-netpol");
    press(&mut s, KeyCode::Esc);
    assert_eq!(selected_key(&s), "pod production/redis");
    // A place whose object is gone leaves the cursor where the old row stood, by name.
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/redis-netpol");
    press(&mut s, KeyCode::Enter);
    new_world(&mut s, demo_without(&["production/redis"], &[]));
    press(&mut s, KeyCode::Esc);
    draw(&s);
    assert_eq!(s.tree_mode, TreeMode::Pods, "back to the pods");
    let here = selected_key(&s);
    assert!(
        here.starts_with("pod ") || here.starts_with("ns "),
        "{here}"
    );
    assert_ne!(here, "pod production/redis");
}

#[test]
fn flows_and_their_explanations_survive_a_new_world() {
    let mut s = demo_state(120, 40);
    feed_flows(&mut s, 60);
    press(&mut s, KeyCode::Tab);
    press(&mut s, KeyCode::Tab);
    assert_eq!(s.focus, Pane::Flows);
    press(&mut s, KeyCode::Up);
    new_world(&mut s, production_emptied());
    draw(&s);
    press(&mut s, KeyCode::Enter);
    let screen = draw(&s);
    assert!(matches!(s.overlay, Some(Overlay::Explain(_))), "{screen}");
    press(&mut s, KeyCode::Enter);
    draw(&s);
    press(&mut s, KeyCode::Esc);
    draw(&s);
}

#[test]
fn details_of_vanished_objects_are_replaced() {
    let mut s = demo_state(120, 40);
    ctrl(&mut s, 'p');
    type_text(&mut s, "production/frontend-policy");
    press(&mut s, KeyCode::Enter);
    draw(&s);
    new_world(
        &mut s,
        World::new(Inventory::default(), PolicySet::default()),
    );
    let screen = draw(&s);
    assert_eq!(selected_key(&s), "nothing");
    assert!(screen.contains("nothing selected"), "{screen}");
    for code in [
        KeyCode::Enter,
        KeyCode::Down,
        KeyCode::Esc,
        KeyCode::Char('e'),
    ] {
        press(&mut s, code);
        draw(&s);
    }
}
