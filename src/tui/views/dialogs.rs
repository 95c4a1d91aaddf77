//! Dialogs over the main screen: help (made from the keymap), the fuzzy finder, and explain.

use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Clear, Paragraph};
use ratatui::Frame;

use crate::app::finder::Target;
use crate::app::keymap;
use crate::app::layout::centered;
use crate::app::{ExplainForm, Field, FinderState, State, COMMANDS};
use crate::render;
use crate::render::paint::Paint;
use crate::theme::Slot;
use crate::tui::widgets::{clip, highlighted, pane, toned, wrap, wrap_all};

fn frame_of(frame: &mut Frame, area: Rect, title: &str, state: &State) -> Rect {
    let block = pane(
        Line::styled(format!(" {title} "), state.theme.style(Slot::Title)),
        true,
        &state.theme,
    )
    .style(state.theme.style(Slot::Background));
    let inner = block.inner(area);
    frame.render_widget(Clear, area);
    frame.render_widget(block, area);
    inner
}

pub fn help(frame: &mut Frame, full: Rect, state: &State, scroll: u16) {
    let theme = &state.theme;
    let area = centered(full, 90, 90, 100, 60);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Help", keymap::Context::Help),
        state,
    );
    let w = inner.width as usize;
    let mut lines = Vec::new();
    // A key (or command) column, and the words wrapped under the words.
    let entry =
        |lines: &mut Vec<Line<'static>>, key: String, col: usize, what: &str, slot: Slot| {
            let mut key_style = theme.style(slot);
            key_style.bg = None;
            lines.extend(wrap(
                Line::from(vec![
                    Span::styled(format!("  {key:<col$}"), key_style),
                    Span::styled(what.to_string(), theme.style(Slot::Text)),
                ]),
                w,
                col + 2,
            ));
        };
    for (ctx, bindings) in keymap::help() {
        lines.push(Line::styled(ctx.title(), theme.style(Slot::Heading)));
        for (keys, what) in bindings {
            entry(&mut lines, keys.to_string(), 26, what, Slot::StatusKey);
        }
        lines.push(Line::raw(""));
    }
    lines.push(Line::styled(
        "Commands (type : first)",
        theme.style(Slot::Heading),
    ));
    for (cmd, what) in COMMANDS {
        entry(&mut lines, format!(":{cmd}"), 36, what, Slot::StatusKey);
    }
    lines.push(Line::raw(""));
    lines.push(Line::styled("Badges", theme.style(Slot::Heading)));
    for (b, what) in [
        (
            "in eg",
            "isolated for ingress / egress (namespaces: a default-deny exists)",
        ),
        ("--", "not isolated that way: everything is allowed"),
        ("!", "no policy selects the pod: unprotected"),
        (
            "⚑",
            "a problem (see :problems): a policy with warnings or one that selects nothing, a pod it breaks, a namespace with one",
        ),
        (
            "✓ ✗ ○",
            "allowed, blocked, not isolated; with ! the datapath disagrees",
        ),
    ] {
        entry(&mut lines, b.to_string(), 26, what, Slot::Isolated);
    }
    let max = lines.len().saturating_sub(inner.height as usize) as u16;
    let para = Paragraph::new(lines);
    frame.render_widget(para.scroll((scroll.min(max), 0)), inner);
}

pub fn finder(frame: &mut Frame, full: Rect, state: &State, f: &FinderState) {
    let theme = &state.theme;
    let area = centered(full, 70, 70, 90, 30);
    let inner = frame_of(
        frame,
        area,
        "Jump to · namespace, pod, policy, Service, label",
        state,
    );
    let mut lines = vec![
        Line::from(vec![
            Span::styled("› ", theme.style(Slot::Title)),
            Span::styled(format!("{}▏", f.query.text), theme.style(Slot::Text)),
            Span::styled(
                format!("   {} match(es)", f.hits.len()),
                theme.style(Slot::Muted),
            ),
        ]),
        Line::raw(""),
    ];
    let h = inner.height.saturating_sub(2) as usize;
    let start = f.cursor.saturating_sub(h.saturating_sub(1));
    for (i, hit) in f.hits.iter().enumerate().skip(start).take(h) {
        let entry = &state.snapshot.entries[hit.entry];
        let kind = match entry.target {
            Target::Namespace(_) => "ns    ",
            Target::Pod(_) => "pod   ",
            Target::Policy(_) => "netpol",
            Target::Label(_) => "label ",
            Target::Node(_) => "node  ",
            Target::Service(_) => "svc   ",
        };
        let mut spans = vec![Span::styled(format!("{kind}  "), theme.style(Slot::Muted))];
        spans.extend(highlighted(
            &clip(&entry.text, inner.width as usize - 9),
            &hit.indices,
            theme.style(Slot::Text),
            theme,
        ));
        let mut line = Line::from(spans);
        if i == f.cursor {
            line = line.patch_style(theme.style(Slot::Selection));
        }
        lines.push(line);
    }
    if f.hits.is_empty() {
        lines.push(Line::styled("nothing matches", theme.style(Slot::Muted)));
    }
    frame.render_widget(Paragraph::new(lines), inner);
}

pub fn explain(frame: &mut Frame, full: Rect, state: &State, form: &ExplainForm) {
    let theme = &state.theme;
    let area = centered(full, 94, 94, 120, 50);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Explain a flow", keymap::Context::Explain),
        state,
    );
    let label = |name: &str, f: Field| {
        let on = form.field == f;
        Span::styled(
            format!("{}{name:<9}", if on { "›" } else { " " }),
            if on {
                theme.style(Slot::Title)
            } else {
                theme.style(Slot::Muted)
            },
        )
    };
    let value = |text: &str, f: Field| {
        let on = form.field == f;
        Span::styled(
            format!("{text}{}", if on { "▏" } else { "" }),
            theme.style(Slot::Text),
        )
    };
    let mut lines = vec![
        Line::from(vec![
            label("From", Field::From),
            value(&form.from.text, Field::From),
            Span::styled(
                "   pod, namespace/pod, node/NAME or an IP",
                theme.style(Slot::Muted),
            ),
        ]),
        Line::from(vec![
            label("To", Field::To),
            value(&form.to.text, Field::To),
            Span::styled(
                if form.to.text.is_empty() {
                    "   the same, or a Service: svc/NAME[:PORT]"
                } else {
                    ""
                },
                theme.style(Slot::Muted),
            ),
        ]),
        Line::from(vec![
            label("Port", Field::Port),
            value(&form.port.text, Field::Port),
            Span::styled(
                "   a number or a container port name",
                theme.style(Slot::Muted),
            ),
        ]),
        Line::from(vec![
            label("Protocol", Field::Protocol),
            Span::styled(format!("‹{}›", form.protocol), theme.style(Slot::Text)),
            Span::styled("   ←→ changes", theme.style(Slot::Muted)),
        ]),
    ];
    if matches!(form.field, Field::From | Field::To) && !form.picks.is_empty() {
        lines.push(Line::styled(
            "  suggestions (↑↓, Enter takes one)",
            theme.style(Slot::Muted),
        ));
        for (i, hit) in form.picks.iter().enumerate() {
            let text = form.pick_text(i).unwrap_or_default();
            let mut spans = vec![Span::raw("    ")];
            spans.extend(highlighted(
                text,
                &hit.indices,
                theme.style(Slot::Text),
                theme,
            ));
            let mut line = Line::from(spans);
            if i == form.pick {
                line = line.patch_style(theme.style(Slot::Selection));
            }
            lines.push(line);
        }
    }
    lines.push(Line::styled(
        "─".repeat(inner.width as usize),
        theme.style(Slot::Border),
    ));
    let head = lines.len() as u16;
    frame.render_widget(
        Paragraph::new(lines),
        Rect {
            height: head.min(inner.height),
            ..inner
        },
    );
    let body = Rect {
        y: inner.y + head.min(inner.height),
        height: inner.height.saturating_sub(head),
        ..inner
    };
    if body.height == 0 {
        return;
    }
    let mut out: Vec<Line> = Vec::new();
    if let Some(note) = &form.flow_note {
        out.push(Line::styled(note.clone(), theme.style(Slot::Muted)));
        out.push(Line::raw(""));
    }
    if let Some(service) = &form.service {
        for line in service {
            out.extend(wrap(
                Line::styled(line.clone(), theme.style(Slot::Text)),
                body.width as usize,
                4,
            ));
        }
        out.push(Line::raw(""));
    }
    match &form.result {
        None => out.push(Line::styled(
            "Fill in the fields and press Enter on Port or Protocol.",
            theme.style(Slot::Muted),
        )),
        Some(Err(e)) => out.push(Line::styled(e.clone(), theme.style(Slot::Error))),
        Some(Ok(e)) => {
            if let Some(p) = form.responsible {
                let name = p.name(&state.snapshot.index);
                let what = match (p, e.allowed) {
                    (crate::app::explain_form::Responsible::Tier(_), true) => "allows it",
                    (crate::app::explain_form::Responsible::Tier(_), false) => "decides it",
                    (_, true) => "admits it",
                    (_, false) => "isolates the pod",
                };
                out.push(Line::from(vec![
                    Span::styled(
                        "Enter or g: ",
                        theme
                            .style(Slot::StatusKey)
                            .bg(ratatui::style::Color::Reset),
                    ),
                    Span::styled(
                        format!("go to {name}, the policy that {what}"),
                        theme.style(Slot::Text),
                    ),
                ]));
            }
            // Every side's responsible policies, not only the one Enter goes to.
            let sides: Vec<String> = [&e.egress, &e.ingress]
                .iter()
                .filter_map(|s| {
                    let names: Vec<String> = match (&s.decided_by, s.outcome) {
                        (Some(c), _) => vec![c.policy.clone()],
                        (None, "allowed") => {
                            s.allowed_by.iter().map(|c| c.policy.clone()).collect()
                        }
                        (None, "denied" | "unknown") => s.isolated_by.clone(),
                        _ => Vec::new(),
                    };
                    (!names.is_empty()).then(|| format!("{}: {}", s.direction, names.join(", ")))
                })
                .collect();
            if !sides.is_empty() {
                out.extend(wrap(
                    Line::styled(
                        format!("responsible · {}", sides.join(" · ")),
                        theme.style(Slot::Muted),
                    ),
                    body.width as usize,
                    2,
                ));
            }
            if form.responsible.is_some() || !sides.is_empty() {
                out.push(Line::raw(""));
            }
            if let Some(staged) = &form.staged {
                let word = |allowed: bool| if allowed { "✓ ALLOWED" } else { "✗ DENIED" };
                let (mark, slot, what) = match (e.allowed, staged.allowed) {
                    (true, false) => ("⊘ ", Slot::WouldBreak, "would break"),
                    (false, true) => ("⊕ ", Slot::WouldAllow, "would newly be allowed"),
                    _ => ("", Slot::Muted, "no change"),
                };
                out.push(Line::from(vec![
                    Span::styled(format!("{mark}audit: "), theme.style(slot)),
                    Span::styled(
                        format!(
                            "now {}, once staged {}: {what} (the staged answer follows the current one)",
                            word(e.allowed),
                            word(staged.allowed)
                        ),
                        theme.style(slot),
                    ),
                ]));
                out.push(Line::raw(""));
            }
            let text = render::explanation_at(e, &Paint::markup(), body.width as usize);
            let responsible = form.responsible.map(|p| p.name(&state.snapshot.index));
            for line in toned(&text, theme) {
                // The responsible policy's own line is marked, so the eye finds it.
                let is_it = responsible.as_ref().is_some_and(|r| {
                    let s: String = line.spans.iter().map(|s| s.content.as_ref()).collect();
                    let t = s.trim_start();
                    t.strip_prefix("✓ ")
                        .or_else(|| t.strip_prefix("✗ "))
                        .is_some_and(|rest| rest.starts_with(r.as_str()))
                });
                out.push(if is_it {
                    line.patch_style(theme.style(Slot::Selection))
                } else {
                    line
                });
            }
            if let Some(staged) = &form.staged {
                out.push(Line::raw(""));
                out.push(Line::styled(
                    "── ONCE STAGED ──",
                    theme.style(Slot::Heading),
                ));
                let text = render::explanation_at(staged, &Paint::markup(), body.width as usize);
                out.extend(toned(&text, theme));
            }
        }
    }
    let out = wrap_all(out, body.width as usize, 2);
    let max = out.len().saturating_sub(body.height as usize) as u16;
    let para = Paragraph::new(out);
    frame.render_widget(para.scroll((form.scroll.min(max), 0)), body);
}

/// The staged changes, each on or off.
pub fn staged_list(frame: &mut Frame, full: Rect, state: &State, cursor: usize) {
    let theme = &state.theme;
    let area = centered(full, 80, 60, 110, 30);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Staged changes", keymap::Context::Staged),
        state,
    );
    let w = inner.width as usize;
    let mut lines = vec![Line::styled(
        if state.audit.on {
            "Audit mode is on: flows, rules and explain are judged with the changes that are on."
        } else {
            "Audit mode is off (a turns it on)."
        },
        theme.style(Slot::Muted),
    )];
    lines.push(Line::raw(""));
    if state.audit.changes.is_empty() {
        lines.push(Line::styled(
            "Nothing staged. D on a namespace stages a default-deny, X on a policy its removal, \
             :stage PATH adds the policies of a file or folder.",
            theme.style(Slot::Muted),
        ));
    }
    for (i, change) in state.audit.changes.iter().enumerate() {
        let (mark, style) = if change.enabled {
            ("● on ", theme.style(Slot::Allow))
        } else {
            ("○ off", theme.style(Slot::Muted))
        };
        let line = Line::from(vec![
            Span::styled(format!(" {mark}  "), style),
            Span::styled(format!("{:<40} ", change.label()), theme.style(Slot::Text)),
            Span::styled(change.source.clone(), theme.style(Slot::Muted)),
        ]);
        lines.push(if i == cursor {
            crate::tui::widgets::selected_bar(line, w, theme)
        } else {
            line
        });
    }
    let lines = wrap_all(lines, w, 2);
    let top = (cursor + 2).saturating_sub(inner.height as usize / 2) as u16;
    frame.render_widget(Paragraph::new(lines).scroll((top, 0)), inner);
}

/// What would break, and the suggested allow rules.
pub fn breakage(frame: &mut Frame, full: Rect, state: &State, b: &crate::app::audit::Breakage) {
    let theme = &state.theme;
    let area = centered(full, 94, 94, 130, 60);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("What would break", keymap::Context::Breakage),
        state,
    );
    let mut lines = toned(&b.text, theme);
    lines.push(Line::raw(""));
    if b.yaml.is_empty() {
        lines.push(Line::styled(
            "No allow rule is needed: nothing breaks.",
            theme.style(Slot::Muted),
        ));
    } else {
        lines.push(Line::styled(
            "SUGGESTED ALLOW RULES (w writes them to a file; kubectl apply -f FILE)",
            theme.style(Slot::Heading),
        ));
        lines.extend(
            b.yaml
                .lines()
                .map(|l| crate::tui::widgets::yaml_line(l, theme)),
        );
    }
    for note in &b.suggestion.notes {
        lines.push(Line::styled(
            format!("note: {note}"),
            theme.style(Slot::Warning),
        ));
    }
    let lines = wrap_all(lines, inner.width as usize, 4);
    let max = lines.len().saturating_sub(inner.height as usize) as u16;
    // The end (G) is where the suggested rules start.
    let scroll = if b.scroll == u16::MAX {
        lines
            .iter()
            .position(|l| {
                l.spans
                    .first()
                    .is_some_and(|s| s.content.starts_with("SUGGESTED ALLOW RULES"))
            })
            .map_or(max, |i| i as u16)
    } else {
        b.scroll
    };
    frame.render_widget(Paragraph::new(lines).scroll((scroll.min(max), 0)), inner);
}

/// Which direction a staged default-deny isolates.
pub fn deny_prompt(frame: &mut Frame, full: Rect, state: &State, namespace: &str) {
    let theme = &state.theme;
    let area = centered(full, 60, 20, 70, 7);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Stage a default-deny", keymap::Context::DenyPrompt),
        state,
    );
    let lines = vec![
        Line::from(vec![
            Span::styled("namespace ", theme.style(Slot::Muted)),
            Span::styled(namespace.to_string(), theme.style(Slot::Title)),
        ]),
        Line::raw(""),
        Line::styled(
            "Isolate which direction? i ingress · e egress · b both · Esc cancel",
            theme.style(Slot::Text),
        ),
    ];
    frame.render_widget(
        Paragraph::new(lines).wrap(ratatui::widgets::Wrap { trim: true }),
        inner,
    );
}

/// The agents feeding the flow list: one row per node, never hidden once seen.
pub fn nodes(frame: &mut Frame, full: Rect, state: &State, scroll: u16) {
    use crate::flow::agents::NodeState;
    let theme = &state.theme;
    let area = centered(full, 94, 70, 130, 40);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Nodes", keymap::Context::Help),
        state,
    );
    let w = inner.width as usize;
    // Below 100 columns: the agent's address and kernel go to the line under the node; below
    // 124, the kernel and ring size do.
    let narrow = w < 100;
    let nodes = &state.nodes;
    let tail = |r: &crate::flow::agents::NodeReport| {
        let ring = r
            .ring_bytes
            .map(|b| format!("{} KiB", b / 1024))
            .unwrap_or_default();
        (r.kernel.as_deref().unwrap_or("").to_string(), ring)
    };
    let widest = nodes
        .reports
        .iter()
        .map(|r| {
            let (k, ring) = tail(r);
            k.chars().count() + 1 + ring.len()
        })
        .max()
        .unwrap_or(0)
        .max("kernel, ring".len());
    // The mark and the columns take 90.
    let kernel_inline = !narrow && 90 + 2 + widest <= w;
    let now = state.now_ms;
    let mut lines = Vec::new();
    if nodes.is_empty() {
        lines.push(Line::styled(
            "No agents. Give --agent ADDR (repeatable) for agents reached through a \
             port-forward or on this host; `agent` serves a node's probe, `lab --serve` a lab's.",
            theme.style(Slot::Muted),
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "{} of {} connected · {:.0} flows/s · lost {}",
                nodes.connected(),
                nodes.reports.len(),
                nodes.rates.iter().sum::<f64>(),
                nodes.lost()
            ),
            theme.style(Slot::Heading),
        ));
        lines.push(Line::styled(
            if narrow {
                format!(
                    "{:<20} {:>9} {:>12} {:>8}",
                    "node", "flows/s", "lost k/r", "lag"
                )
            } else {
                format!(
                    "{:<24} {:<22} {:>9} {:>11} {:>11} {:>8}  {}",
                    "node",
                    "agent",
                    "flows/s",
                    "kernel lost",
                    "reader lost",
                    "lag",
                    if kernel_inline { "kernel, ring" } else { "" }
                )
            },
            theme.style(Slot::Muted),
        ));
    }
    let secs = |ms: u64| format!("{:.1} s", ms as f64 / 1000.0);
    for (r, rate) in nodes.reports.iter().zip(&nodes.rates) {
        let lag = r
            .newest_ms
            .map(|t| secs(now.saturating_sub(t)))
            .unwrap_or_else(|| "-".into());
        let (kernel, ring) = tail(r);
        let (mark, slot) = match &r.state {
            NodeState::Connected { .. } => ("● ", Slot::Allow),
            NodeState::Connecting => ("◌ ", Slot::Muted),
            NodeState::Reconnecting { .. } => ("◌ ", Slot::Warning),
        };
        let row = if narrow {
            format!(
                "{:<18} {:>9.1} {:>12} {:>8}",
                clip(r.name(), 18),
                rate,
                format!("{}/{}", r.counters.kernel_lost, r.counters.reader_lost),
                lag
            )
        } else {
            let row = format!(
                "{:<22} {:<22} {:>9.1} {:>11} {:>11} {:>8}",
                clip(r.name(), 22),
                clip(&r.addr, 22),
                rate,
                r.counters.kernel_lost,
                r.counters.reader_lost,
                lag,
            );
            match kernel_inline {
                true => format!("{row}  {kernel} {ring}"),
                false => row,
            }
        };
        lines.push(Line::from(vec![
            Span::styled(mark, theme.style(slot)),
            Span::styled(row, theme.style(Slot::Text)),
        ]));
        // Below the row: what did not fit (the kernel only once the agent said hello).
        let mut below: Vec<String> = Vec::new();
        if narrow {
            below.push(r.addr.clone());
        }
        if (narrow || !kernel_inline) && !kernel.is_empty() {
            below.push(format!("kernel {kernel} · ring {ring}"));
        }
        if !below.is_empty() {
            lines.push(Line::styled(
                format!("    {}", below.join(" · ")),
                theme.style(Slot::Muted),
            ));
        }
        let detail = match &r.state {
            NodeState::Connected { since_ms } => {
                format!("connected for {}", secs(now.saturating_sub(*since_ms)))
            }
            NodeState::Connecting => "connecting".to_string(),
            NodeState::Reconnecting { since_ms, error } => format!(
                "reconnecting for {}: {error}",
                secs(now.saturating_sub(*since_ms))
            ),
        };
        lines.extend(wrap(
            Line::styled(
                format!("    {detail} · {} flows received", r.flows),
                theme.style(slot),
            ),
            w,
            6,
        ));
    }
    let lines = wrap_all(lines, w, 2);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}

/// The status bar's messages in full, newest last, with their time.
pub fn messages(frame: &mut Frame, full: Rect, state: &State, scroll: u16) {
    let theme = &state.theme;
    let area = centered(full, 90, 70, 120, 40);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled("Messages", keymap::Context::Help),
        state,
    );
    let w = inner.width as usize;
    let mut lines = Vec::new();
    if state.messages.is_empty() {
        lines.push(Line::styled("No message yet.", theme.style(Slot::Muted)));
    }
    for (t, m) in &state.messages {
        let s = (t / 1000) % 86_400;
        lines.extend(wrap(
            Line::from(vec![
                Span::styled(
                    format!("{:02}:{:02}:{:02} ", s / 3600, (s / 60) % 60, s % 60),
                    theme.style(Slot::Muted),
                ),
                Span::styled(
                    m.text.clone(),
                    theme.style(if m.error { Slot::Error } else { Slot::Text }),
                ),
            ]),
            w,
            9,
        ));
    }
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}

/// A pod's reachability: `reach`'s words, styled by the theme.
/// A read-only text (reachability, problems), scrolled.
pub fn text(frame: &mut Frame, full: Rect, state: &State, title: &str, text: &str, scroll: u16) {
    let area = centered(full, 90, 80, 120, 50);
    let inner = frame_of(
        frame,
        area,
        &keymap::titled(title, keymap::Context::Help),
        state,
    );
    let lines = wrap_all(toned(text, &state.theme), inner.width as usize, 6);
    frame.render_widget(Paragraph::new(lines).scroll((scroll, 0)), inner);
}
