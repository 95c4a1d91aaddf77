//! Keys for dialogs and typed input, and the mouse: the open dialog (see `overlay`) takes a
//! key and answers whether it used it (`None`: not its key; a modal dialog then lets it pass
//! unused); text fields share one line editor; every other key is looked up in the keymap
//! under the dialog's context.

use crossterm::event::{KeyEvent, MouseButton, MouseEvent, MouseEventKind};

use super::actions::action;
use super::commands::{complete_command, run_command};
use super::explain_form;
use super::keymap::{self, Action, Context};
use super::layout::{self, Pane};
use super::overlay::{FinderOutcome, Overlay};
use super::tree::{go_to, Filter};
use super::{Command, State};
use crate::policy::audit::{stage_manifest, Staged, WhatIf};

/// Typing into a list's `/` filter: the list narrows with every key. Returns whether the key
/// was used.
pub(super) fn filter_key(state: &mut State, key: KeyEvent) -> bool {
    let in_flows = state.flows.filter.editing;
    let filter = if in_flows {
        &mut state.flows.filter
    } else {
        &mut state.tree_filter
    };
    if !filter.input.edit(key) {
        match keymap::lookup(key, Context::Filter) {
            Some(Action::Close) => *filter = Filter::default(),
            Some(Action::Accept) => filter.editing = false,
            Some(a @ (Action::Down | Action::Up)) => {
                filter.editing = false;
                let delta = if a == Action::Down { 1 } else { -1 };
                if in_flows {
                    state.move_flows(delta);
                } else {
                    state.move_tree(delta);
                }
                return true;
            }
            _ => return false,
        }
    }
    if in_flows {
        state.flows.refilter(true);
        state.flows.cursor = None;
    } else {
        state.rebuild_rows();
        state.refresh_detail();
    }
    true
}

/// The scroll position of a read-only view after `key`; `None` when the key closes it.
fn scrolled(key: KeyEvent, scroll: u16) -> Option<u16> {
    Some(match keymap::lookup(key, Context::Help)? {
        Action::Down => scroll.saturating_add(1),
        Action::Up => scroll.saturating_sub(1),
        Action::PageDown => scroll.saturating_add(10),
        Action::PageUp => scroll.saturating_sub(10),
        _ => return None,
    })
}

/// A key for the open dialog. Dialogs are modal: a key the dialog does not use does nothing.
pub(super) fn overlay_key(state: &mut State, key: KeyEvent) -> Vec<Command> {
    let Some(overlay) = state.overlay.take() else {
        return Vec::new();
    };
    match overlay {
        // Read-only views: the scroll keys move them, Esc and any other key close them.
        Overlay::Help { scroll } => {
            if let Some(scroll) = scrolled(key, scroll) {
                state.overlay = Some(Overlay::Help { scroll });
            }
        }
        Overlay::Nodes { scroll } => {
            if let Some(scroll) = scrolled(key, scroll) {
                state.overlay = Some(Overlay::Nodes { scroll });
            }
        }
        Overlay::Messages { scroll } => {
            if let Some(scroll) = scrolled(key, scroll) {
                state.overlay = Some(Overlay::Messages { scroll });
            }
        }
        Overlay::Text {
            title,
            text,
            scroll,
        } => {
            if let Some(scroll) = scrolled(key, scroll) {
                state.overlay = Some(Overlay::Text {
                    title,
                    text,
                    scroll,
                });
            }
        }
        Overlay::Finder(mut f) => match f.key(key, &state.matcher, &state.snapshot.entries) {
            Some(FinderOutcome::Close) => {}
            Some(FinderOutcome::Go(target)) => go_to(state, target),
            Some(FinderOutcome::Stay) | None => state.overlay = Some(Overlay::Finder(f)),
        },
        Overlay::Command(mut line) => {
            // Backspace on an empty line leaves it, as in vi and k9s.
            let leave = line.text.is_empty() && key.code == crossterm::event::KeyCode::Backspace;
            if leave {
                return Vec::new();
            }
            if !line.edit(key) {
                match keymap::lookup(key, Context::Command) {
                    Some(Action::Close) => return Vec::new(),
                    Some(Action::Accept) => return run_command(state, &line.text),
                    Some(Action::Complete) => complete_command(state, &mut line),
                    _ => {}
                }
            }
            state.overlay = Some(Overlay::Command(line));
        }
        Overlay::Staged { cursor } => return staged_key(state, cursor, key),
        Overlay::Breakage(mut b) => {
            match keymap::lookup(key, Context::Breakage) {
                Some(Action::Close) => return Vec::new(),
                Some(Action::Down) => b.scroll = b.scroll.saturating_add(1).min(u16::MAX - 1),
                Some(Action::Up) => b.scroll = b.scroll.saturating_sub(1),
                Some(Action::PageDown) => b.scroll = b.scroll.saturating_add(10),
                Some(Action::PageUp) => b.scroll = b.scroll.saturating_sub(10),
                Some(Action::Top) => b.scroll = 0,
                // Drawing turns this into the line where the suggested rules start.
                Some(Action::Bottom) => b.scroll = u16::MAX,
                Some(Action::Write) if b.yaml.is_empty() => {
                    state.say("nothing to write: no allow rule is needed")
                }
                Some(Action::Write) => {
                    let path = format!("netpol-tui-suggested-{}.yaml", state.now_ms / 1000);
                    let contents = b.yaml.clone();
                    state.overlay = Some(Overlay::Breakage(b));
                    state.say(format!("writing the suggested policies to {path}…"));
                    return vec![Command::WriteFile { path, contents }];
                }
                _ => {}
            }
            state.overlay = Some(Overlay::Breakage(b));
        }
        Overlay::DenyPrompt { namespace } => {
            let (ingress, egress) = match keymap::lookup(key, Context::DenyPrompt) {
                Some(Action::DenyIngress) => (true, false),
                Some(Action::DenyEgress) => (false, true),
                Some(Action::DenyBoth) => (true, true),
                Some(Action::Close) => return Vec::new(),
                _ => {
                    state.overlay = Some(Overlay::DenyPrompt { namespace });
                    return Vec::new();
                }
            };
            let what = WhatIf {
                namespace: Some(namespace),
                ingress,
                egress,
            };
            let source = format!("D in the tree ({})", what.describe());
            let changes: Vec<Staged> = what
                .manifests(state.snapshot.index.inventory())
                .iter()
                .filter_map(|np| stage_manifest(np, &source).ok())
                .collect();
            return state.stage(changes);
        }
        Overlay::Explain(mut form) => match form.key(key, &state.snapshot, &state.matcher) {
            Some(explain_form::Outcome::Close) => {}
            Some(explain_form::Outcome::JumpTo(explain_form::Responsible::Policy(policy))) => {
                state.jump_to_policy(policy)
            }
            Some(explain_form::Outcome::JumpTo(explain_form::Responsible::Tier(tier))) => {
                state.jump_to_tier(tier)
            }
            Some(explain_form::Outcome::Stay) | None => {
                state.overlay = Some(Overlay::Explain(form))
            }
        },
    }
    Vec::new()
}

/// The staged changes' list: move, switch a change on or off, drop it.
fn staged_key(state: &mut State, cursor: usize, key: KeyEvent) -> Vec<Command> {
    let n = state.audit.changes.len();
    let mut cursor = cursor.min(n.saturating_sub(1));
    let mut commands = Vec::new();
    match keymap::lookup(key, Context::Staged) {
        Some(Action::Close) => return Vec::new(),
        Some(Action::Down) => cursor = (cursor + 1).min(n.saturating_sub(1)),
        Some(Action::Up) => cursor = cursor.saturating_sub(1),
        Some(Action::Toggle) if n > 0 => {
            let change = &mut state.audit.changes[cursor];
            change.enabled = !change.enabled;
            let what = if change.enabled { "on" } else { "off" };
            let label = change.label();
            state.say(format!("{label}: {what}"));
            commands = state.audit_changed();
        }
        Some(Action::Remove) if n > 0 => {
            let gone = state.audit.changes.remove(cursor);
            state.say(format!("{}: dropped", gone.label()));
            cursor = cursor.min(state.audit.changes.len().saturating_sub(1));
            commands = state.audit_changed();
        }
        _ => {}
    }
    state.overlay = Some(Overlay::Staged { cursor });
    commands
}

pub(super) fn mouse(state: &mut State, m: MouseEvent) {
    let areas = state.areas();
    if state.overlay.is_some() || areas.too_small {
        // Dialogs are keyboard-driven; the wheel scrolls help and explain results.
        if let Some(Overlay::Help { scroll }) = &mut state.overlay {
            match m.kind {
                MouseEventKind::ScrollDown => *scroll = scroll.saturating_add(3),
                MouseEventKind::ScrollUp => *scroll = scroll.saturating_sub(3),
                _ => {}
            }
        }
        if let Some(Overlay::Explain(form)) = &mut state.overlay {
            match m.kind {
                MouseEventKind::ScrollDown => form.scroll = form.scroll.saturating_add(3),
                MouseEventKind::ScrollUp => form.scroll = form.scroll.saturating_sub(3),
                _ => {}
            }
        }
        return;
    }
    let Some(pane) = areas.hit(m.column, m.row) else {
        return;
    };
    match m.kind {
        MouseEventKind::Down(MouseButton::Left) => {
            state.focus = pane;
            let inner_top = areas.of(pane).y + 1;
            if m.row < inner_top {
                return;
            }
            let line = (m.row - inner_top) as usize;
            match pane {
                Pane::Tree => {
                    let i = state.tree_offset + line;
                    if i < state.rows.len() {
                        state.cursor = i;
                        state.refresh_detail();
                    }
                }
                Pane::Flows => {
                    let window = state.flows.window(layout::inner_height(areas.flows));
                    let i = window.start + line;
                    if i < window.end {
                        state.flows.cursor = Some(state.flows.matched[i]);
                    }
                }
                Pane::Detail => {}
            }
        }
        MouseEventKind::ScrollDown | MouseEventKind::ScrollUp => {
            // Three rows per notch, in the pane under the pointer, keeping the focus.
            let step = if m.kind == MouseEventKind::ScrollDown {
                Action::Down
            } else {
                Action::Up
            };
            let focus = state.focus;
            state.focus = pane;
            for _ in 0..3 {
                action(state, step);
            }
            state.focus = focus;
        }
        _ => {}
    }
}
