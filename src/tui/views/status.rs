//! The bottom line: source, counts, flow rate and losses, theme, and key hints; or a message,
//! or the `:` command line.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use crate::app::keymap::{self, Action, Context};
use crate::app::line::LineInput;
use crate::app::{State, COMMANDS};
use crate::cluster::live::Link;
use crate::theme::Slot;

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let key = theme.style(Slot::StatusKey);
    let inv = state.snapshot.index.inventory();
    let mut spans = match &state.live {
        Some(live) => live_spans(state, live),
        None => vec![Span::styled(format!(" {} ", state.source.kind), key)],
    };
    let set = state.snapshot.index.policies();
    let tiers = match (set.tiers.len(), set.tiers_known) {
        (_, false) => "· tiers ? ".to_string(),
        (0, true) => String::new(),
        (n, true) => format!("· {n} tier "),
    };
    let cilium_count = set.policies.iter().filter(|p| p.cilium.is_some()).count();
    let netpol = set.policies.len() - cilium_count;
    // Host policies act only where the host firewall is on.
    let firewall = match (
        set.has_host_policies(),
        state.snapshot.index.host_firewall(),
    ) {
        (false, _) => "",
        (true, Some(true)) => "(host fw on) ",
        (true, Some(false)) => "(host fw off) ",
        (true, None) => "(host fw ?) ",
    };
    let cilium = if cilium_count > 0 {
        format!("· {cilium_count} cilium {firewall}")
    } else {
        String::new()
    };
    let counts = format!(
        "│ {} ns · {} pods · {netpol} netpol {cilium}{tiers}",
        inv.namespaces.len(),
        inv.pods.len(),
    );
    // Where `? help  q quit` would not fit, the counts give way to a shorter form (below).
    let compact = format!(
        "│ {} ns · {} pods · {} pol ",
        inv.namespaces.len(),
        inv.pods.len(),
        set.policies.len() + set.tiers.len()
    );
    let counts_at = spans.len();
    spans.push(Span::styled(counts, st));
    spans.extend(audit_spans(state));
    // Narrow screens leave the rate and losses to the flow pane's title.
    let lost = state.flows.lost + state.nodes.lost();
    let mut flow_spans = Vec::new();
    if state.source.flows && (area.width >= 100 || lost > 0) {
        flow_spans.push(Span::styled(
            format!("│ flows {:.0}/s ", state.flows.rate),
            st,
        ));
        if !state.nodes.is_empty() {
            let (up, all) = (state.nodes.connected(), state.nodes.reports.len());
            flow_spans.push(Span::styled(
                format!("· {up}/{all} nodes · "),
                if up < all {
                    st.patch(theme.style(Slot::Warning))
                } else {
                    st
                },
            ));
        }
        flow_spans.push(Span::styled(
            format!("{lost} lost "),
            if lost > 0 {
                st.patch(theme.style(Slot::Warning))
            } else {
                st
            },
        ));
    }
    // A message that would not fit takes the rate's place (it is in the flow pane's title
    // too); losses always stay.
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let flows_width: usize = flow_spans.iter().map(|s| s.width()).sum();
    let crowded = state.message.as_ref().is_some_and(|m| {
        used + flows_width + 2 + textwrap::core::display_width(&m.text) > area.width as usize
    });
    if !crowded || lost > 0 {
        spans.extend(flow_spans);
    }
    // The theme's name gives way to a message and to the key hints.
    let theme_span = Span::styled(format!("│ theme {} ", state.theme.name), st);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    if state.message.is_none() && area.width as usize >= used + theme_span.width() + 46 {
        spans.push(theme_span);
    }
    match &state.message {
        Some(m) => {
            // Cut at a word with an ellipsis, never mid-word; the full text is in :messages.
            let used: usize = spans.iter().map(|s| s.width()).sum();
            let room = (area.width as usize).saturating_sub(used + 2);
            let text = crate::tui::widgets::clip_words(&m.text, room, " …");
            spans.push(Span::styled(
                format!("│ {text}"),
                if m.error {
                    st.patch(theme.style(Slot::Error))
                } else {
                    st.patch(theme.style(Slot::Heading))
                },
            ))
        }
        None => {
            let used: usize = spans.iter().map(|s| s.width()).sum();
            if used + "│ ? help  q quit".chars().count() > area.width as usize {
                spans[counts_at] = Span::styled(compact, st);
            }
            spans.push(Span::styled("│ ", st));
            let used: usize = spans.iter().map(|s| s.width()).sum();
            // The keys worth a place here, as the keymap names them.
            let wanted: &[Action] = if area.width as usize >= used + 44 {
                &[
                    Action::Help,
                    Action::CommandLine,
                    Action::Finder,
                    Action::Explain,
                    Action::Quit,
                ]
            } else {
                &[Action::Help, Action::Quit]
            };
            let hints = wanted
                .iter()
                .filter_map(|&a| keymap::hint(Context::Main, a));
            // Only whole hints: one that would be cut is left out.
            let mut used: usize = spans.iter().map(|s| s.width()).sum();
            for (k, what) in hints {
                let text = format!(" {what}  ");
                let w = k.chars().count() + text.trim_end().chars().count();
                if used + w > area.width as usize {
                    break;
                }
                used += k.chars().count() + text.chars().count();
                spans.push(Span::styled(k, key));
                spans.push(Span::styled(text, st));
            }
            // On a cluster, switching context is one command away.
            let used: usize = spans.iter().map(|s| s.width()).sum();
            if state.live.is_some() && area.width as usize >= used + 14 {
                spans.push(Span::styled(":ctx", key));
                spans.push(Span::styled(" context  ", st));
            }
        }
    }
    frame.render_widget(Paragraph::new(Line::from(spans)).style(st), area);
}

/// Audit mode: the badge, what is staged, and what it would break (⊘) and newly allow (⊕).
fn audit_spans(state: &State) -> Vec<Span<'static>> {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let audit = &state.audit;
    let staged = audit.changes.iter().filter(|c| c.enabled).count();
    if !audit.on {
        return if audit.changes.is_empty() {
            Vec::new()
        } else {
            vec![Span::styled(format!("│ {staged} staged "), st)]
        };
    }
    let mut spans = vec![
        Span::styled("│", st),
        Span::styled(" AUDIT ", theme.style(Slot::AuditBadge)),
    ];
    if state.size.0 >= 110 {
        spans.push(Span::styled(format!(" {staged} staged "), st));
    } else {
        spans.push(Span::raw(" "));
    }
    match audit.current() {
        None if staged == 0 => spans.push(Span::styled("· nothing staged ", st)),
        None => spans.push(Span::styled(
            "· judging… ",
            st.patch(theme.style(Slot::Warning)),
        )),
        Some(view) => {
            let breaks = view.declared_breaks();
            let flows = state.flows.breaking();
            // Narrow screens keep the numbers and drop the words.
            let text = if state.size.0 >= 110 {
                format!("⊘ {breaks} pairs, {flows} flows ")
            } else {
                format!("⊘ {breaks}/{flows} ")
            };
            spans.push(Span::styled(text, st.patch(theme.style(Slot::WouldBreak))));
            spans.push(Span::styled(
                format!("⊕ {} ", view.declared_allows()),
                st.patch(theme.style(Slot::WouldAllow)),
            ));
        }
    }
    spans
}

/// `3s`, `4m`, `2h`: how long ago, coarsely.
pub fn age(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..=59 => format!("{s}s"),
        60..=3599 => format!("{}m", s / 60),
        _ => format!("{}h", s / 3600),
    }
}

/// The context (in its rule's frame colour), the connection, and how fresh the data is.
fn live_spans<'a>(state: &State, live: &crate::app::Live) -> Vec<Span<'a>> {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let mut badge = theme.style(Slot::StatusKey);
    if let Some(color) = state.context_frame() {
        badge = badge.bg(color).fg(ratatui::style::Color::White);
    }
    let status = &live.status;
    let mut spans = vec![Span::styled(format!(" {} ", status.context), badge)];
    let now = state.now_ms;
    let warn = st.patch(theme.style(Slot::Warning));
    if let Some(target) = &live.switching {
        spans.push(Span::styled(format!(" → {target}… STALE "), warn));
        return spans;
    }
    match &status.link {
        Link::Live => {
            let synced = status
                .synced_ms
                .map(|t| format!(" · synced {} ago", age(now.saturating_sub(t))))
                .unwrap_or_default();
            spans.push(Span::styled(format!(" ● live{synced} "), st));
        }
        Link::Connecting => spans.push(Span::styled(" ◌ connecting ".to_string(), warn)),
        Link::Reconnecting { since_ms, error } => {
            let mut text = format!(
                " ◌ reconnecting · STALE {} ",
                age(now.saturating_sub(*since_ms))
            );
            if state.size.0 >= 140 {
                let short: String = error.chars().take(48).collect();
                text.push_str(&format!("({short}) "));
            }
            spans.push(Span::styled(text, warn));
        }
    }
    if !status.hidden.is_empty() {
        spans.push(Span::styled("⚠ partial ".to_string(), warn));
    }
    spans
}

pub fn command_line(frame: &mut Frame, area: Rect, state: &State, line: &LineInput) {
    let theme = &state.theme;
    let st = theme.style(Slot::Status);
    let word = line.text.split_whitespace().next().unwrap_or("");
    let typing_word = !line.text.contains(' ');
    // The commands the word may start: all of them on an empty line, for a list to pick from.
    let starting: Vec<&str> = COMMANDS
        .iter()
        .filter_map(|(c, _)| c.split_whitespace().next())
        .filter(|w| w.starts_with(word))
        .collect();
    let hint = if typing_word && starting.len() > 1 {
        format!("   {}  (Tab completes)", starting.join(" · "))
    } else {
        COMMANDS
            .iter()
            .find(|(c, _)| {
                !word.is_empty()
                    && c.split_whitespace()
                        .next()
                        .is_some_and(|w| w.starts_with(word))
            })
            .map(|(c, what)| format!("   {c}: {what}"))
            .unwrap_or_else(|| {
                let keys: Vec<String> = keymap::hints(Context::Command)
                    .iter()
                    .map(|(k, w)| format!("{k} {w}"))
                    .collect();
                format!("   {}", keys.join(" · "))
            })
    };
    let spans = vec![
        Span::styled(":", theme.style(Slot::StatusKey)),
        Span::styled(format!("{}▏", line.text), st),
        Span::styled(hint, st.patch(theme.style(Slot::Muted))),
    ];
    frame.render_widget(Paragraph::new(Line::from(spans)).style(st), area);
}
