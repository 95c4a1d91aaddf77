//! The flow list: newest at the bottom, each flow with the datapath's view (symbol and colour)
//! and the engine's judgement; disagreements stand out.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::focused;
use crate::app::layout::inner_height;
use crate::app::{Pane, State};
use crate::flow::{Annotated, Datapath, Outcome, VerdictFilter};
use crate::policy::audit::Delta;
use crate::theme::{Slot, Theme};
use crate::tui::widgets::{clip, filter_title, pane, selected_bar};

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let f = &state.flows;
    let mut title = vec![Span::styled(" Flows ", theme.style(Slot::Title))];
    if state.source.flows {
        title.push(Span::styled(
            format!("{:.1}/s · {} lost ", f.rate, f.lost),
            theme.style(if f.lost > 0 {
                Slot::Warning
            } else {
                Slot::Muted
            }),
        ));
    }
    if !state.nodes.is_empty() {
        let (up, all) = (state.nodes.connected(), state.nodes.reports.len());
        title.push(Span::styled(
            format!("· {up}/{all} nodes "),
            theme.style(if up < all { Slot::Warning } else { Slot::Muted }),
        ));
    }
    if f.verdict != VerdictFilter::All || f.would_break_only {
        title.push(Span::styled(
            format!("· {} ", f.filter_label()),
            theme.style(Slot::Match),
        ));
    }
    title.extend(filter_title(&f.filter, theme));
    if f.grouped {
        title.push(Span::styled(
            format!("· {} connections ", f.conns.len()),
            theme.style(Slot::Match),
        ));
    }
    if f.paused_at.is_some() {
        title.push(Span::styled("⏸ paused ", theme.style(Slot::Warning)));
    }
    let block = pane(Line::from(title), focused(state, Pane::Flows), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let h = inner_height(area);
    let n = f.shown_len();
    if n == 0 {
        let msg = if !state.source.flows && state.live.is_some() {
            "No flow source. --agent ADDR reads node agents (through a port-forward), --flows FILE recorded flows."
        } else if !state.source.flows {
            "No flow source. With manifests there is no datapath to watch; the demo (--demo) simulates one."
        } else if f.store.is_empty() && !state.nodes.is_empty() {
            "Waiting for flows from the agents… (:nodes shows how each is doing)"
        } else if f.store.is_empty() {
            "Waiting for flows…"
        } else {
            "No flow matches the filters (Esc clears the text filter, v cycles the verdicts)."
        };
        frame.render_widget(
            Paragraph::new(Line::styled(msg, theme.style(Slot::Muted))),
            inner,
        );
        return;
    }
    if f.grouped {
        connections(frame, inner, state);
        return;
    }
    let cursor = f.cursor_pos().unwrap_or(n - 1);
    let width = inner.width as usize;
    let lines: Vec<Line> = f
        .window(h)
        .filter_map(|i| f.get(f.matched[i]).map(|fl| (i, fl)))
        .map(|(i, fl)| {
            let selected = i == cursor && (f.cursor.is_some() || focused(state, Pane::Flows));
            // In audit mode a column says what the staged changes would do.
            let delta = state.audit.on.then(|| f.delta(f.matched[i]));
            let line = flow_line(fl, delta, width, theme);
            if selected {
                selected_bar(line, width, theme)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).style(theme.style(Slot::Text)), inner);
}

/// Connections mode: one row per source, destination, protocol and port, in that order, so
/// a row stays where it is while its counts change.
fn connections(frame: &mut Frame, inner: Rect, state: &State) {
    let theme = &state.theme;
    let f = &state.flows;
    let h = inner.height as usize;
    let width = inner.width as usize;
    if f.conns.is_empty() {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "No connection yet (c lists each flow).",
                theme.style(Slot::Muted),
            )),
            inner,
        );
        return;
    }
    let cursor = f.conn_pos();
    let top = cursor.map_or(0, |c| (c + 1).saturating_sub(h));
    let col = if width >= 140 {
        30
    } else if width >= 100 {
        24
    } else {
        18
    };
    let lines: Vec<Line> = f
        .conns
        .iter()
        .enumerate()
        .skip(top)
        .take(h)
        .map(|(i, r)| {
            let (sym, style) = mark(r.outcome, theme);
            let (src, dst, protocol, port) = &r.key;
            let mut spans = vec![
                Span::styled(format!("{sym:<2} "), style),
                Span::raw(format!(
                    "{:<col$} → {:<col$} ",
                    clip(src, col),
                    clip(dst, col)
                )),
                Span::styled(
                    format!("{:<10}", format!("{protocol}/{port}")),
                    theme.style(Slot::Muted),
                ),
                Span::styled(format!("×{:<6} ", r.count), theme.style(Slot::Text)),
            ];
            if width >= 100 {
                spans.push(Span::styled(
                    format!("{}–{} ", clock(r.first_ms), clock(r.last_ms)),
                    theme.style(Slot::Muted),
                ));
            }
            if r.dropped > 0 {
                spans.push(Span::styled(
                    format!("{} dropped ", r.dropped),
                    theme.style(Slot::Dropped),
                ));
            }
            let used: usize = spans.iter().map(|s| s.width()).sum();
            if let Some(fl) = f.get(r.last_seq) {
                let short = match fl.outcome {
                    Outcome::BlockedByPolicy => format!("blocked by {}", fl.policies.join(", ")),
                    _ => fl.explanation.clone(),
                };
                spans.push(Span::styled(
                    clip(&short, width.saturating_sub(used)),
                    if fl.outcome.disagrees() {
                        theme.style(Slot::Disagree)
                    } else {
                        theme.style(Slot::Text)
                    },
                ));
            }
            let line = Line::from(spans);
            if Some(i) == cursor {
                selected_bar(line, width, theme)
            } else {
                line
            }
        })
        .collect();
    frame.render_widget(Paragraph::new(lines).style(theme.style(Slot::Text)), inner);
}

/// The symbol and style of an outcome: never colour alone.
pub fn mark(outcome: Outcome, theme: &Theme) -> (&'static str, Style) {
    match outcome {
        Outcome::BlockedByPolicy => ("✗", theme.style(Slot::Deny)),
        Outcome::AllowedByPolicy => ("✓", theme.style(Slot::Allow)),
        Outcome::NotIsolated => ("○", theme.style(Slot::Neutral)),
        Outcome::DatapathDrop => ("✗!", theme.style(Slot::Disagree)),
        Outcome::PolicyNotEnforced => ("✓!", theme.style(Slot::Disagree)),
        Outcome::Unknown => ("?", theme.style(Slot::Warning)),
    }
}

fn clock(ms: u64) -> String {
    let s = (ms / 1000) % 86_400;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The audit mark of a flow: what the staged policies would do to it.
pub fn audit_mark(delta: Delta, theme: &Theme) -> (&'static str, Style) {
    match delta {
        Delta::WouldBreak => ("⊘", theme.style(Slot::WouldBreak)),
        Delta::WouldAllow => ("⊕", theme.style(Slot::WouldAllow)),
    }
}

fn flow_line(
    f: &Annotated,
    delta: Option<Option<Delta>>,
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let (sym, style) = mark(f.outcome, theme);
    // Narrow screens drop the clock and the datapath word (the symbol still tells).
    let wide = width >= 100;
    let col = if width >= 140 {
        30
    } else if wide {
        24
    } else {
        20
    };
    let mut spans = Vec::new();
    if wide {
        spans.push(Span::styled(
            format!("{} ", clock(f.event.time_ms)),
            theme.style(Slot::Muted),
        ));
    }
    spans.push(Span::styled(format!("{sym:<2} "), style));
    match delta {
        Some(Some(d)) => {
            let (sym, style) = audit_mark(d, theme);
            spans.push(Span::styled(format!("{sym} "), style));
        }
        Some(None) => spans.push(Span::raw("  ")),
        None => {}
    }
    if wide {
        spans.push(match &f.event.datapath {
            Datapath::Forwarded => Span::styled("fwd  ", theme.style(Slot::Forwarded)),
            Datapath::Dropped { .. } => Span::styled("drop ", theme.style(Slot::Dropped)),
        });
    }
    spans.push(Span::raw(format!(
        "{:<col$} → {:<col$} ",
        clip(&f.src_name, col),
        clip(&f.dst_name, col)
    )));
    spans.push(Span::styled(
        format!(
            "{:<10}",
            format!("{}/{}", f.event.protocol, f.event.dst_port)
        ),
        theme.style(Slot::Muted),
    ));
    // Wide screens name the node whose agent saw the flow.
    if width >= 110 {
        if let Some(node) = &f.node {
            spans.push(Span::styled(
                format!("{:<12} ", clip(node, 12)),
                theme.style(Slot::Muted),
            ));
        }
    }
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = width.saturating_sub(used);
    // The list names the policies; the full sentence is one Enter away.
    let short = match f.outcome {
        Outcome::BlockedByPolicy => format!("blocked by {}", f.policies.join(", ")),
        _ => f.explanation.clone(),
    };
    spans.push(Span::styled(
        clip(&short, room),
        if f.outcome.disagrees() {
            theme.style(Slot::Disagree)
        } else {
            theme.style(Slot::Text)
        },
    ));
    Line::from(spans)
}
