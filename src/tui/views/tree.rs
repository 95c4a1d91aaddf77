//! The left pane: namespaces with their pods (or policies), isolation badges, and how many
//! policies select each pod; pods no policy selects stand out.

use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use ratatui::Frame;

use super::focused;
use crate::app::layout::inner_height;
use crate::app::{Pane, RowKind, State, TreeMode};
use crate::theme::{Slot, Theme};
use crate::tui::widgets::{clip, filter_title, highlighted, pane, selected_bar};

pub fn draw(frame: &mut Frame, area: Rect, state: &State) {
    let theme = &state.theme;
    let what = match state.tree_mode {
        TreeMode::Pods => "pods",
        TreeMode::Policies => "policies",
    };
    let mut title = vec![Span::styled(
        match &state.scope {
            Some(ns) => format!(" Namespace {ns} · {what} · 0 all "),
            None => format!(" Namespaces · {what} "),
        },
        theme.style(Slot::Title),
    )];
    title.extend(filter_title(&state.tree_filter, theme));
    let block = pane(Line::from(title), focused(state, Pane::Tree), theme);
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let width = inner.width as usize;
    let h = inner_height(area);
    let mut lines = Vec::with_capacity(h);
    if state.rows.is_empty() {
        let msg = if state.tree_filter.active() {
            "nothing matches the filter (Esc clears it)"
        } else if state
            .live
            .as_ref()
            .is_some_and(|l| l.status.synced_ms.is_none())
        {
            "nothing read yet: waiting for the cluster (q quits, :ctx changes context)"
        } else {
            "no namespaces"
        };
        lines.push(Line::styled(msg, theme.style(Slot::Muted)));
    }
    for (i, row) in state
        .rows
        .iter()
        .enumerate()
        .skip(state.tree_offset)
        .take(h)
    {
        let selected = i == state.cursor;
        let mut line = row_line(state, row.kind, &row.matched, width, theme);
        if selected {
            line = selected_bar(line, width, theme);
        }
        lines.push(line);
    }
    frame.render_widget(Paragraph::new(lines).style(theme.style(Slot::Text)), inner);
}

/// A direction badge: the word when isolated, dashes when open.
fn badge(on: bool, word: &'static str, theme: &Theme) -> Span<'static> {
    if on {
        Span::styled(word, theme.style(Slot::Isolated))
    } else {
        Span::styled("--", theme.style(Slot::Open))
    }
}

fn row_line(
    state: &State,
    kind: RowKind,
    matched: &[usize],
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let ov = &state.snapshot.overview;
    let inv = state.snapshot.index.inventory();
    let text = theme.style(Slot::Text);
    let muted = theme.style(Slot::Muted);
    let (prefix, name, name_style, right): (String, String, Style, Vec<Span<'static>>) = match kind
    {
        RowKind::Namespace(n) => {
            let nv = &ov.namespaces[n as usize];
            let open = state.expanded.contains(&nv.name) || state.tree_filter.active();
            let count = match state.tree_mode {
                TreeMode::Pods => format!("{:>3} pods", nv.pods.len()),
                TreeMode::Policies => format!("{:>3} pol", nv.policies.len()),
            };
            let mut right = vec![
                badge(!nv.default_deny_ingress.is_empty(), "in", theme),
                Span::raw(" "),
                badge(!nv.default_deny_egress.is_empty(), "eg", theme),
                Span::styled(format!(" {count}"), muted),
            ];
            if !nv.unprotected.is_empty() {
                right.push(Span::styled(
                    format!(" !{}", nv.unprotected.len()),
                    theme.style(Slot::Unprotected),
                ));
            }
            if state.snapshot.problems.namespaces.contains(&nv.name) {
                right.push(Span::styled(" ⚑", theme.style(Slot::Warning)));
            }
            (
                if open { "▾ ".into() } else { "▸ ".into() },
                nv.name.clone(),
                text.patch(theme.style(Slot::Heading)),
                right,
            )
        }
        RowKind::Pod(p) => {
            let pv = ov.pods[p as usize];
            let pod = &inv.pods[p as usize];
            if pv.selecting == 0 && !pv.known {
                (
                    "  ? ".into(),
                    pod.name.clone(),
                    theme.style(Slot::Warning),
                    vec![Span::styled("not known", theme.style(Slot::Warning))],
                )
            } else if pv.selecting == 0 {
                (
                    "  ! ".into(),
                    pod.name.clone(),
                    theme.style(Slot::Unprotected),
                    vec![Span::styled("unprotected", theme.style(Slot::Unprotected))],
                )
            } else {
                // A pod that a problem breaks (it cannot resolve names, say) is marked.
                let marked = state.snapshot.problems.pods.contains(&p);
                (
                    if marked { "  ⚑ " } else { "  ● " }.into(),
                    pod.name.clone(),
                    if marked {
                        theme.style(Slot::Warning)
                    } else {
                        text
                    },
                    vec![
                        badge(pv.ingress_isolated, "in", theme),
                        Span::raw(" "),
                        badge(pv.egress_isolated, "eg", theme),
                        Span::styled(format!(" {:>2} pol", pv.selecting), muted),
                    ],
                )
            }
        }
        RowKind::Policy(id) => {
            let policy = &state.snapshot.index.policies().policies[id as usize];
            let selects = ov.policies[id as usize].selects.len();
            let count = if selects == 0 {
                Span::styled("  0 pods", theme.style(Slot::Warning))
            } else {
                Span::styled(format!("{selects:>3} pods"), muted)
            };
            let warn = !policy.warnings.is_empty()
                || selects == 0
                || state.snapshot.problems.policies.contains(&policy.key());
            (
                if warn {
                    "  ⚑ ".into()
                } else {
                    "  ◆ ".into()
                },
                policy.display_name(),
                if warn {
                    theme.style(Slot::Warning)
                } else {
                    text
                },
                vec![
                    badge(policy.ingress.is_some(), "in", theme),
                    Span::raw(" "),
                    badge(policy.egress.is_some(), "eg", theme),
                    Span::raw(" "),
                    count,
                ],
            )
        }
        RowKind::Tiers => {
            let set = state.snapshot.index.policies();
            let open = state.expanded.contains(crate::app::TIERS_KEY) || state.tree_filter.active();
            // How many of each engine's: admin, baseline, Cilium's denies, Calico's.
            use crate::policy::tiers::Tier;
            let count = |f: &dyn Fn(Tier) -> bool| set.tiers.iter().filter(|t| f(t.tier)).count();
            let parts: Vec<String> = [
                (count(&|t| t == Tier::Admin), "adm"),
                (count(&|t| t == Tier::Baseline), "base"),
                (count(&|t| t == Tier::Cilium), "cil"),
                (count(&|t| t.is_calico()), "cal"),
            ]
            .iter()
            .filter(|(n, _)| *n > 0)
            .map(|(n, what)| format!("{n} {what}"))
            .collect();
            let right = if set.tiers_known {
                vec![Span::styled(parts.join(" "), muted)]
            } else {
                vec![Span::styled("? unreadable", theme.style(Slot::Warning))]
            };
            (
                if open { "▾ ".into() } else { "▸ ".into() },
                "cluster tiers".into(),
                text.patch(theme.style(Slot::Heading)),
                right,
            )
        }
        RowKind::Tier(id) => {
            let t = &state.snapshot.index.policies().tiers[id as usize];
            let view = &ov.tiers[id as usize];
            let (sure, maybe) = view.pods;
            let count = if sure + maybe == 0 {
                Span::styled("  0 pods", theme.style(Slot::Warning))
            } else if maybe > 0 {
                Span::styled(
                    format!("{sure:>3}+{maybe}? pods"),
                    theme.style(Slot::Warning),
                )
            } else {
                Span::styled(format!("{sure:>3} pods"), muted)
            };
            let place = match t.tier {
                crate::policy::tiers::Tier::Admin => format!("adm {:>4} ", t.priority),
                crate::policy::tiers::Tier::Cilium => "cil deny  ".to_string(),
                crate::policy::tiers::Tier::Calico => "calico    ".to_string(),
                crate::policy::tiers::Tier::CalicoBefore
                | crate::policy::tiers::Tier::CalicoAfter => match t.order {
                    Some(o) => format!("cal {:>5} ", o.to_string()),
                    None => "cal  last ".to_string(),
                },
                crate::policy::tiers::Tier::Baseline => "base      ".to_string(),
                _ => format!(
                    "{:<4.4}{:>5} ",
                    t.calico_tier().unwrap_or(""),
                    t.order.map_or("last".to_string(), |o| o.to_string())
                ),
            };
            let warn =
                !view.warnings.is_empty() || state.snapshot.problems.policies.contains(&t.key());
            (
                if warn {
                    "  ⚑ ".into()
                } else {
                    "  ▲ ".into()
                },
                t.short_name(),
                if warn {
                    theme.style(Slot::Warning)
                } else {
                    text
                },
                vec![Span::styled(place, muted), count],
            )
        }
    };
    let right_w: usize = right.iter().map(|s| s.width()).sum();
    let room = width.saturating_sub(prefix.chars().count() + right_w + 1);
    let shown = clip(&name, room);
    let mut spans = vec![Span::styled(prefix.clone(), muted)];
    spans.extend(highlighted(&shown, matched, name_style, theme));
    let used = prefix.chars().count() + shown.chars().count();
    let pad = width.saturating_sub(used + right_w);
    if pad > 0 && right_w + 1 < width {
        spans.push(Span::raw(" ".repeat(pad)));
        spans.extend(right);
    }
    Line::from(spans)
}
