//! What main-screen actions do: moving, folding, drilling in and going back, opening
//! dialogs, pausing flows, zooming, themes.

use super::explain_form::{ExplainForm, Field};
use super::keymap::Action;
use super::layout::{self, Pane};
use super::line::LineInput;
use super::overlay::{FinderState, Overlay};
use super::tree::{Filter, RowKind, TreeMode};
use super::{Command, State};

/// Does what a main-screen action asks.
pub(super) fn action(state: &mut State, a: Action) -> Vec<Command> {
    match a {
        Action::Quit => {
            state.quit = true;
            return vec![Command::Quit];
        }
        Action::Help => state.overlay = Some(Overlay::Help { scroll: 0 }),
        Action::FocusNext | Action::FocusPrev => {
            state.focus = if a == Action::FocusNext {
                state.focus.next()
            } else {
                state.focus.prev()
            };
            if state.zoom.is_some() {
                state.zoom = Some(state.focus);
            }
        }
        Action::Up
        | Action::Down
        | Action::PageUp
        | Action::PageDown
        | Action::Top
        | Action::Bottom => move_in_focus(state, a),
        Action::Expand | Action::Collapse => fold(state, a == Action::Expand),
        Action::Enter => enter(state),
        Action::Back => back(state),
        Action::Filter => match state.focus {
            Pane::Flows => state.flows.filter.editing = true,
            _ => {
                state.focus = Pane::Tree;
                state.tree_filter.editing = true;
            }
        },
        Action::Finder => {
            state.overlay = Some(Overlay::Finder(FinderState::search(
                &state.matcher,
                &state.snapshot.entries,
                LineInput::default(),
            )));
        }
        Action::CommandLine => state.overlay = Some(Overlay::Command(LineInput::default())),
        Action::Explain => {
            let mut form = ExplainForm::new(&state.snapshot);
            if let Some(pod) = state.selected_pod() {
                form.from = LineInput::with(&state.index().inventory().pods[pod as usize].key());
                form.field = Field::To;
            }
            form.refresh_picks(&state.matcher);
            state.open_explain(form);
        }
        Action::Pause => {
            let f = &mut state.flows;
            if f.paused_at.take().is_none() {
                f.paused_at = Some(f.store.total);
                state.say("flows paused: Space to resume");
            } else {
                f.cursor = None;
            }
        }
        Action::VerdictFilter => {
            state.flows.verdict = state.flows.verdict.next();
            state.flows.refilter(false);
            state.flows.cursor = None;
            let label = state.flows.verdict.label();
            state.say(format!("flows: showing {label}"));
        }
        Action::Zoom => {
            state.zoom = match state.zoom {
                Some(_) => None,
                None => Some(state.focus),
            };
            state.scroll_tree_to_cursor();
        }
        Action::NextTheme => {
            let names = state.themes.names();
            let i = names
                .iter()
                .position(|n| *n == state.theme.name)
                .map_or(0, |i| (i + 1) % names.len());
            set_theme(state, &names[i]);
        }
        Action::ShowPods | Action::ShowPolicies => {
            state.tree_mode = if a == Action::ShowPods {
                TreeMode::Pods
            } else {
                TreeMode::Policies
            };
            state.rebuild_rows();
            state.refresh_detail();
        }
        // Dialog actions: the keymap binds them in dialogs only.
        Action::Close
        | Action::Accept
        | Action::NextField
        | Action::PrevField
        | Action::Complete
        | Action::GoTo => {}
    }
    Vec::new()
}

/// Up, down, a page, the top or the bottom of the focused pane.
fn move_in_focus(state: &mut State, a: Action) {
    let page = state.page(state.focus);
    let delta = match a {
        Action::Up => -1,
        Action::Down => 1,
        Action::PageUp => -page,
        Action::PageDown => page,
        Action::Top => isize::MIN / 2,
        _ => isize::MAX / 2,
    };
    match state.focus {
        Pane::Tree => state.move_tree(delta),
        Pane::Detail => {
            let max = state
                .detail_lines
                .saturating_sub(layout::inner_height(state.areas().detail))
                as isize;
            state.detail_scroll = (state.detail_scroll as isize + delta)
                .clamp(0, max.max(0))
                .min(u16::MAX as isize) as u16;
        }
        Pane::Flows => state.move_flows(delta),
    }
}

/// Opens or closes the selected namespace; from a child row, collapsing goes up to its
/// namespace and expanding goes into the detail.
fn fold(state: &mut State, open: bool) {
    if let Some(RowKind::Namespace(n)) = state.selected() {
        let name = state.snapshot.overview.namespaces[n as usize].name.clone();
        if open {
            state.expanded.insert(name);
        } else {
            state.expanded.remove(&name);
        }
        state.rebuild_rows();
    } else if !open {
        if let Some(i) = state.rows[..state.cursor.min(state.rows.len())]
            .iter()
            .rposition(|r| matches!(r.kind, RowKind::Namespace(_)))
        {
            state.cursor = i;
            state.scroll_tree_to_cursor();
            state.refresh_detail();
        }
    } else {
        state.focus = Pane::Detail;
    }
}

/// Drills in: folds a namespace, shows a row's detail, explains a flow to the pod shown, or
/// explains the selected flow.
fn enter(state: &mut State) {
    match state.focus {
        Pane::Tree => match state.selected() {
            Some(RowKind::Namespace(n)) => {
                let name = state.snapshot.overview.namespaces[n as usize].name.clone();
                if !state.expanded.remove(&name) {
                    state.expanded.insert(name);
                }
                state.rebuild_rows();
            }
            Some(_) => state.focus = Pane::Detail,
            None => {}
        },
        Pane::Detail => {
            if let Some(pod) = state.selected_pod() {
                let mut form = ExplainForm::new(&state.snapshot);
                form.to = LineInput::with(&state.index().inventory().pods[pod as usize].key());
                form.field = Field::From;
                form.refresh_picks(&state.matcher);
                state.open_explain(form);
            }
        }
        Pane::Flows => state.explain_selected_flow(),
    }
}

/// Esc: unzoom, else clear the focused list's filter, else return from a jump, else go back
/// to the tree.
fn back(state: &mut State) {
    if state.zoom.take().is_some() {
        return;
    }
    if state.focus == Pane::Flows && state.flows.filter.active() {
        state.flows.filter = Filter::default();
        state.flows.refilter(false);
    } else if state.focus == Pane::Tree && state.tree_filter.active() {
        state.tree_filter = Filter::default();
        state.rebuild_rows();
    } else if !state.go_back() && state.focus != Pane::Tree {
        state.focus = Pane::Tree;
    }
}

pub(super) fn set_theme(state: &mut State, name: &str) {
    match state.themes.get(name) {
        Some(_) => {
            state.chosen_theme = name.to_string();
            state.apply_look();
            state.say(format!("theme {name}"));
        }
        None => {
            let names = state.themes.names().join(", ");
            state.complain(format!("no theme {name:?}; there are: {names}"));
        }
    }
}
