//! Small drawing helpers shared by the views: pane frames, highlighted matches, toned text from
//! the command line's renderer, and YAML colouring.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::cli::paint::{parse_markup, Tone};
use crate::theme::{Slot, Theme};

pub const OK: &str = "✓";
pub const NO: &str = "✗";

/// A pane's frame: rounded, its title in the title style, brighter when focused.
pub fn pane<'a>(title: Line<'a>, focused: bool, theme: &Theme) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Rounded
        })
        .border_style(theme.style(if focused {
            Slot::BorderFocused
        } else {
            Slot::Border
        }))
        .title(title)
}

/// `text` with the chars at `matched` (char indices) in the match style.
pub fn highlighted<'a>(text: &str, matched: &[usize], base: Style, theme: &Theme) -> Vec<Span<'a>> {
    if matched.is_empty() {
        return vec![Span::styled(text.to_string(), base)];
    }
    let hit = base.patch(theme.style(Slot::Match));
    let mut spans: Vec<Span<'a>> = Vec::new();
    let mut run = String::new();
    let mut run_hit = false;
    for (i, c) in text.chars().enumerate() {
        let is_hit = matched.contains(&i);
        if is_hit != run_hit && !run.is_empty() {
            spans.push(Span::styled(
                std::mem::take(&mut run),
                if run_hit { hit } else { base },
            ));
        }
        run_hit = is_hit;
        run.push(c);
    }
    if !run.is_empty() {
        spans.push(Span::styled(run, if run_hit { hit } else { base }));
    }
    spans
}

fn tone_style(tone: Option<Tone>, theme: &Theme) -> Style {
    let text = theme.style(Slot::Text);
    match tone {
        None => text,
        Some(Tone::Good) => text.patch(theme.style(Slot::Allow)),
        Some(Tone::Bad) => text.patch(theme.style(Slot::Deny)),
        Some(Tone::Warn) => text.patch(theme.style(Slot::Warning)),
        Some(Tone::Strong) => text.patch(theme.style(Slot::Heading)),
        Some(Tone::Dim) => text.patch(theme.style(Slot::Muted)),
    }
}

/// Lines of text painted with `Paint::markup()`, styled by the theme.
pub fn toned(text: &str, theme: &Theme) -> Vec<Line<'static>> {
    parse_markup(text)
        .into_iter()
        .map(|pieces| {
            Line::from(
                pieces
                    .into_iter()
                    .map(|(tone, s)| Span::styled(s, tone_style(tone, theme)))
                    .collect::<Vec<_>>(),
            )
        })
        .collect()
}

/// One YAML line, coloured: comments, keys, scalars and punctuation.
pub fn yaml_line(line: &str, theme: &Theme) -> Line<'static> {
    let key = theme.style(Slot::YamlKey);
    let punct = theme.style(Slot::YamlPunct);
    let mut spans = Vec::new();
    let indent = line.len() - line.trim_start().len();
    spans.push(Span::raw(line[..indent].to_string()));
    let mut rest = &line[indent..];
    if rest.starts_with('#') {
        spans.push(Span::styled(
            rest.to_string(),
            theme.style(Slot::YamlComment),
        ));
        return Line::from(spans);
    }
    while let Some(r) = rest.strip_prefix("- ") {
        spans.push(Span::styled("- ", punct));
        rest = r;
    }
    if rest == "-" {
        spans.push(Span::styled("-", punct));
        return Line::from(spans);
    }
    let (k, value) = match split_key(rest) {
        Some((k, v)) => (Some(k), v),
        None => (None, rest),
    };
    if let Some(k) = k {
        spans.push(Span::styled(k.to_string(), key));
        spans.push(Span::styled(":", punct));
    }
    if !value.is_empty() {
        spans.push(scalar(value, theme));
    }
    Line::from(spans)
}

/// `key: value` or `key:` at the start of `s`, when the key is a plain or quoted scalar.
fn split_key(s: &str) -> Option<(&str, &str)> {
    if let Some(k) = s.strip_suffix(':') {
        if !k.contains(": ") {
            return Some((k, ""));
        }
    }
    let i = s.find(": ")?;
    let k = &s[..i];
    if k.starts_with(['{', '[']) {
        return None;
    }
    Some((k, &s[i + 1..]))
}

fn scalar(v: &str, theme: &Theme) -> Span<'static> {
    let t = v.trim();
    let slot = if t.parse::<f64>().is_ok() || matches!(t, "true" | "false" | "null" | "~") {
        Slot::YamlNumber
    } else if t.starts_with(['{', '[']) || t == "|" || t == ">" {
        Slot::YamlPunct
    } else {
        Slot::YamlString
    };
    Span::styled(v.to_string(), theme.style(slot))
}

/// Cuts `s` to `width` chars, ending in `…` when cut.
pub fn clip(s: &str, width: usize) -> String {
    if s.chars().count() <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out: String = s.chars().take(width - 1).collect();
    out.push('…');
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::paint::Paint;

    fn text(line: &Line) -> Vec<String> {
        line.spans.iter().map(|s| s.content.to_string()).collect()
    }

    #[test]
    fn yaml_lines_split_into_key_and_value() {
        let t = Theme::builtin_default();
        assert_eq!(
            text(&yaml_line("  - port: 5432", &t)),
            ["  ", "- ", "port", ":", " 5432"]
        );
        assert_eq!(text(&yaml_line("metadata:", &t)), ["", "metadata", ":"]);
        assert_eq!(text(&yaml_line("# note: x", &t)), ["", "# note: x"]);
        assert_eq!(text(&yaml_line("- - a", &t)), ["", "- ", "- ", "a"]);
    }

    #[test]
    fn toned_text_keeps_tones_across_lines() {
        let t = Theme::builtin_default();
        let p = Paint::markup();
        let s = format!("{} and {}\nplain", p.good("✓ yes"), p.bad("✗ no\nstill"));
        let lines = toned(&s, &t);
        assert_eq!(lines.len(), 3);
        assert_eq!(text(&lines[0]), ["✓ yes", " and ", "✗ no"]);
        assert_eq!(
            lines[0].spans[0].style,
            t.style(Slot::Text).patch(t.style(Slot::Allow))
        );
        assert_eq!(
            lines[1].spans[0].style,
            t.style(Slot::Text).patch(t.style(Slot::Deny))
        );
        assert_eq!(text(&lines[2]), ["plain"]);
    }

    #[test]
    fn highlights_split_runs() {
        let t = Theme::builtin_default();
        let spans = highlighted("frontend", &[0, 1, 5], Style::default(), &t);
        let parts: Vec<&str> = spans.iter().map(|s| s.content.as_ref()).collect();
        assert_eq!(parts, ["fr", "ont", "e", "nd"]);
        assert_eq!(clip("production/frontend", 8), "product…");
    }
}
