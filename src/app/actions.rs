//! What main-screen actions do: moving, folding, drilling in and going back, opening
//! dialogs, pausing flows, zooming, themes.

use super::audit::Breakage;
use super::explain_form::{ExplainForm, Field};
use super::keymap::Action;
use super::layout::{self, Pane};
use super::line::LineInput;
use super::overlay::{FinderState, Overlay};
use super::tree::{Filter, RowKind, TreeMode};
use super::{Command, State};
use crate::flow::VerdictFilter;
use crate::policy::audit::{Change, Staged};

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
        Action::Reach => match state.selected_pod() {
            Some(pod) => {
                let index = state.snapshot.index.clone();
                let peers: Vec<u32> = (0..index.inventory().pods.len() as u32).collect();
                let r = crate::policy::reach::reach(&index, pod, &peers);
                let text =
                    crate::render::reach(&r, (true, true), &crate::render::paint::Paint::markup());
                state.overlay = Some(Overlay::Text {
                    title: format!("Reachability of {}", r.pod),
                    text,
                    scroll: 0,
                });
            }
            None => state.say("select a pod to see who can reach it (r)"),
        },
        Action::AllNamespaces => {
            if state.scope.is_some() {
                state.set_scope(None);
            } else {
                state.say("the views show every namespace already (Enter on one scopes them)");
            }
        }
        Action::Yaml => match yaml_of(state) {
            Some((title, text)) => {
                state.overlay = Some(Overlay::Text {
                    title,
                    text,
                    scroll: 0,
                })
            }
            None => state.say("select a namespace, pod or policy to see its YAML (y)"),
        },
        Action::Connections => {
            let f = &mut state.flows;
            f.grouped = !f.grouped;
            f.conn_cursor = None;
            f.regroup(true);
            state.say(if state.flows.grouped {
                "connections: flows grouped by source, destination, protocol and port"
            } else {
                "each flow"
            });
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
            let f = &mut state.flows;
            // In audit mode the cycle has one more stop: flows the staged changes would break.
            if f.would_break_only {
                f.would_break_only = false;
            } else if f.verdict == VerdictFilter::Disagreements && state.audit.current().is_some() {
                f.would_break_only = true;
                f.verdict = VerdictFilter::All;
            } else {
                f.verdict = f.verdict.next();
            }
            f.refilter(false);
            f.cursor = None;
            let label = f.filter_label();
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
        Action::Audit => return state.toggle_audit(),
        Action::Breakage => open_breakage(state),
        Action::StagedList => state.overlay = Some(Overlay::Staged { cursor: 0 }),
        Action::StageDeny => {
            let namespace = match state.selected() {
                Some(RowKind::Namespace(n)) => {
                    Some(state.snapshot.overview.namespaces[n as usize].name.clone())
                }
                Some(RowKind::Pod(p)) => {
                    Some(state.index().inventory().pods[p as usize].namespace.clone())
                }
                Some(RowKind::Policy(p)) => Some(
                    state.index().policies().policies[p as usize]
                        .namespace
                        .clone(),
                ),
                Some(RowKind::Tiers | RowKind::Tier(_)) | None => None,
            };
            match namespace {
                Some(namespace) => state.overlay = Some(Overlay::DenyPrompt { namespace }),
                None => state.say("select a namespace first"),
            }
        }
        Action::StageRemoval => match state.selected() {
            Some(RowKind::Policy(p)) => {
                let policy = &state.index().policies().policies[p as usize];
                let change = Staged::new(
                    Change::Remove {
                        namespace: policy.namespace.clone(),
                        name: policy.name.clone(),
                    },
                    "X in the tree",
                );
                return state.stage(vec![change]);
            }
            _ => state.say("select a policy to stage its removal (P lists policies)"),
        },
        Action::WriteFlows => return write_flows(state, None),
        // Dialog actions: the keymap binds them in dialogs only.
        Action::Close
        | Action::Accept
        | Action::NextField
        | Action::PrevField
        | Action::Complete
        | Action::GoTo
        | Action::Toggle
        | Action::Remove
        | Action::Write
        | Action::DenyIngress
        | Action::DenyEgress
        | Action::DenyBoth => {}
    }
    Vec::new()
}

/// The breakage view of the audit view in force, with the flows shown.
fn open_breakage(state: &mut State) {
    let Some(view) = state.audit.current().cloned() else {
        state.say(if state.audit.on {
            "audit mode: still judging the staged changes…"
        } else {
            "audit mode is off: a turns it on"
        });
        return;
    };
    let flows = state.flows.visible().iter().filter_map(|&seq| {
        state.flows.get(seq).map(|f| {
            let e = &f.event;
            (e.time_ms, e.src, e.dst, e.protocol, e.dst_port)
        })
    });
    let headline = super::audit::headline(state);
    let breakage = Breakage::new(view, flows, headline);
    state.overlay = Some(Overlay::Breakage(Box::new(breakage)));
}

/// Writes the flows the list shows, as `trace -o json` lines.
pub(super) fn write_flows(state: &mut State, path: Option<String>) -> Vec<Command> {
    let mut contents = String::new();
    let mut n = 0usize;
    for &seq in state.flows.visible() {
        if let Some(f) = state.flows.get(seq) {
            if let Ok(line) = serde_json::to_string(&f.record()) {
                contents.push_str(&line);
                contents.push('\n');
                n += 1;
            }
        }
    }
    if n == 0 {
        state.say("no flow to write");
        return Vec::new();
    }
    let path = path.unwrap_or_else(|| format!("netpol-tui-flows-{}.jsonl", state.now_ms / 1000));
    state.say(format!("writing {n} flows to {path}…"));
    vec![Command::WriteFile { path, contents }]
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
    if let Some(RowKind::Tiers) = state.selected() {
        if open {
            state.expanded.insert(super::tree::TIERS_KEY.to_string());
        } else {
            state.expanded.remove(super::tree::TIERS_KEY);
        }
        state.rebuild_rows();
    } else if let Some(RowKind::Namespace(n)) = state.selected() {
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
            .rposition(|r| matches!(r.kind, RowKind::Namespace(_) | RowKind::Tiers))
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
                state.set_scope(Some(name));
            }
            Some(RowKind::Tiers) => {
                let key = super::tree::TIERS_KEY.to_string();
                if !state.expanded.remove(&key) {
                    state.expanded.insert(key);
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

/// The selected row's object as YAML, with a title: a NetworkPolicy's manifest as given, or
/// the normalized form of what was read (pods, namespaces, Cilium and tier policies keep no
/// manifest).
fn yaml_of(state: &State) -> Option<(String, String)> {
    use super::tree::RowKind;
    let index = &state.snapshot.index;
    let inv = index.inventory();
    let normalized = |v: Result<String, serde_yaml::Error>| {
        format!(
            "# normalized form, as read (no manifest was kept)\n{}",
            v.unwrap_or_else(|e| format!("# cannot be shown: {e}"))
        )
    };
    Some(match state.selected()? {
        RowKind::Pod(p) => {
            let pod = &inv.pods[p as usize];
            (
                format!("pod {}", pod.key()),
                normalized(serde_yaml::to_string(pod)),
            )
        }
        RowKind::Namespace(n) => {
            let name = &state.snapshot.overview.namespaces.get(n as usize)?.name;
            let ns = index.namespace(name)?;
            (
                format!("namespace {name}"),
                normalized(serde_yaml::to_string(ns)),
            )
        }
        RowKind::Policy(id) => {
            let p = &index.policies().policies[id as usize];
            let text = match &p.manifest {
                Some(m) => m.yaml(),
                None => normalized(serde_yaml::to_string(p)),
            };
            (format!("{} {}", p.kind(), p.key()), text)
        }
        RowKind::Tier(t) => {
            let p = index.policies().tiers.get(t as usize)?;
            (p.key(), normalized(serde_yaml::to_string(p)))
        }
        RowKind::Tiers => return None,
    })
}
