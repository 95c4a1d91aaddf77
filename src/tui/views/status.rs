//! The bottom line: source, counts, flow rate and losses, theme, and key hints; or a message,
//! or the `:` command line.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::finder::LineInput;
use crate::app::{State, COMMANDS};
use crate::theme::Slot;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let key = theme.style(Slot::StatusKey);
    let inv = state.snapshot.index.inventory();
    let mut spans = vec![
        Span::styled(format!(" {} ", state.source.kind), key),
        Span::styled(
            format!(
                "│ {} ns · {} pods · {} netpol ",
                inv.namespaces.len(),
                inv.pods.len(),
                state.snapshot.index.policies().policies.len()
            ),
            st,
        ),
    ];
    if state.source.flows {
        let lost = state.flows.lost;
        spans.push(Span::styled(
            format!("│ flows {:.0}/s ", state.flows.rate),
            st,
        ));
        spans.push(Span::styled(
            format!("{lost} lost "),
            if lost > 0 {
                st.patch(theme.style(Slot::Warning))
            } else {
                st
            },
        ));
    }
    if area.width >= 100 {
        spans.push(Span::styled(format!("│ theme {} ", state.theme.name), st));
    }
    match &state.message {
        Some(m) => spans.push(Span::styled(
            format!("│ {}", m.text),
            if m.error {
                st.patch(theme.style(Slot::Error))
            } else {
                st.patch(theme.style(Slot::Heading))
            },
        )),
        None => {
            spans.push(Span::styled("│ ", st));
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let hints: &[(&str, &str)] = if area.width as usize >= used + 44 {
                &[
                    ("?", "help"),
                    (":", "cmd"),
                    ("^P", "find"),
                    ("e", "explain"),
                    ("q", "quit"),
                ]
            } else {
                &[("?", "help"), ("q", "quit")]
            };
            for (k, what) in hints {
                spans.push(Span::styled(*k, key));
                spans.push(Span::styled(format!(" {what}  "), st));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(st), area);
}

pub fn command_line(frame: &mut Frame, area: Rect, state: &State, line: &LineInput) {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let word = line.text.split_whitespace().next().unwrap_or("");
    let hint = COMMANDS
        .iter()
        .find(|(c, _)| {
            !word.is_empty()
                && c.split_whitespace()
                    .next()
                    .is_some_and(|w| w.starts_with(word))
        })
        .map(|(c, what)| format!("   {c}: {what}"))
        .unwrap_or_else(|| "   Tab completes · Enter runs · Esc cancels".into());
    let spans = vec![
        Span::styled(":", theme.style(Slot::StatusKey)),
        Span::styled(format!("{}▏", line.text), st),
        Span::styled(hint, st.patch(theme.style(Slot::Muted))),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(st), area);
}
