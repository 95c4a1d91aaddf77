//! Shared by the UI tests: a demo state, keys, and deterministic flows.

#![allow(dead_code)]

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use netpol_tui::app::{update, Command, Msg, Snapshot, SourceInfo, State};
use netpol_tui::cluster::demo;
use netpol_tui::flow::demo::DemoTraffic;
use netpol_tui::policy::EngineOptions;
use netpol_tui::theme::{Theme, ThemeSet};

pub fn demo_state(width: u16, height: u16) -> State {
    let world = demo::load().expect("demo loads").world;
    let mut s = State::new(
        Snapshot::prepare(world, EngineOptions::default()),
        SourceInfo {
            kind: "demo".into(),
            detail: String::new(),
            flows: true,
        },
        ThemeSet::builtin(),
        Theme::builtin_default(),
    );
    update(&mut s, Msg::Resize(width, height));
    s
}

pub fn press(s: &mut State, code: KeyCode) -> Vec<Command> {
    update(s, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)))
}

pub fn ctrl(s: &mut State, c: char) -> Vec<Command> {
    update(
        s,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::CONTROL)),
    )
}

pub fn type_text(s: &mut State, text: &str) {
    for c in text.chars() {
        press(s, KeyCode::Char(c));
    }
}

/// A world as a source hands it to the UI: prepared.
pub fn prepared(world: netpol_tui::cluster::World) -> Msg {
    Msg::Snapshot(Snapshot::prepare(world, EngineOptions::default()))
}

/// `n` flows of the demo's simulated traffic, seeded, at fixed times.
pub fn feed_flows(s: &mut State, n: usize) {
    let mut traffic = DemoTraffic::new(s.snapshot.index.clone(), 42);
    for i in 0..n {
        // 2026-11-22 12:00:00 UTC plus a quarter second per flow.
        let t = 1_795_348_800_000 + i as u64 * 250;
        let event = traffic.next(t).expect("demo traffic");
        update(s, Msg::Flow(event));
    }
}

/// The row text under the cursor of the tree, as the finder names it.
pub fn selected_key(s: &State) -> String {
    use netpol_tui::app::RowKind;
    let inv = s.snapshot.index.inventory();
    match s.selected() {
        Some(RowKind::Namespace(n)) => format!("ns {}", inv.namespaces[n as usize].name),
        Some(RowKind::Pod(p)) => format!("pod {}", inv.pods[p as usize].key()),
        Some(RowKind::Policy(p)) => format!(
            "netpol {}",
            s.snapshot.index.policies().policies[p as usize].key()
        ),
        None => "nothing".into(),
    }
}
