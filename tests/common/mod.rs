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
        update(s, Msg::Flows(vec![event]));
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
        Some(RowKind::Tiers) => "cluster tiers".into(),
        Some(RowKind::Tier(t)) => format!(
            "tier {}",
            s.snapshot.index.policies().tiers[t as usize].key()
        ),
        None => "nothing".into(),
    }
}

/// Carries out what `update` asks for, as the terminal loop does, but at once: staged worlds
/// are judged, staged files read; other commands are returned.
pub fn carry_out(s: &mut State, commands: Vec<Command>) -> Vec<Command> {
    let mut left = Vec::new();
    let mut queue = commands;
    while let Some(command) = queue.pop() {
        match command {
            Command::PrepareAudit {
                current,
                changes,
                generation,
            } => {
                let view = netpol_tui::app::AuditView::prepare(current, &changes, generation);
                queue.extend(update(s, Msg::Audit(view)));
            }
            Command::LoadStage(path) => {
                let inputs = [netpol_tui::cluster::files::Input::from_arg(&path)];
                let result =
                    netpol_tui::cluster::files::load_staged(&inputs, &mut std::io::empty())
                        .map(|read| (path.clone(), read.changes))
                        .map_err(|e| e.to_string());
                queue.extend(update(s, Msg::Staged(result)));
            }
            Command::Release(_) => {}
            other => left.push(other),
        }
    }
    left
}

/// A key, with what it asks for carried out.
pub fn key(s: &mut State, code: KeyCode) -> Vec<Command> {
    let commands = press(s, code);
    carry_out(s, commands)
}

/// The demo in audit mode: its staged changes judged, `n` flows seen.
pub fn audit_state(width: u16, height: u16, flows: usize) -> State {
    let loaded = demo::load().expect("demo loads");
    let mut s = State::new(
        Snapshot::prepare(loaded.world, EngineOptions::default()),
        SourceInfo {
            kind: "demo".into(),
            detail: String::new(),
            flows: true,
        },
        ThemeSet::builtin(),
        Theme::builtin_default(),
    );
    update(&mut s, Msg::Resize(width, height));
    s.audit.on = true;
    let begin = s.begin();
    carry_out(&mut s, begin);
    feed_flows(&mut s, flows);
    s
}
