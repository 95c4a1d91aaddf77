//! Small drawing helpers shared by the views: pane frames, highlighted matches, toned text from
//! the command line's renderer, and YAML colouring.

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders};

use crate::render::paint::{parse_markup, Tone};
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

/// Wraps a styled line at `width` columns; continuation lines start with `hang` spaces.
/// Breaks at spaces; a word longer than the room is cut.
pub fn wrap(line: Line<'static>, width: usize, hang: usize) -> Vec<Line<'static>> {
    if line.width() <= width || width <= hang + 4 {
        return vec![line];
    }
    let line_style = line.style;
    let mut out = Vec::new();
    let mut cur: Vec<Span<'static>> = Vec::new();
    let mut cur_w = 0usize;
    let start_line = |out: &mut Vec<Line<'static>>, cur: &mut Vec<Span<'static>>| {
        out.push(Line::from(std::mem::take(cur)).style(line_style));
        cur.push(Span::raw(" ".repeat(hang)));
    };
    for span in line.spans {
        let style = span.style;
        for word in span.content.split_inclusive(' ') {
            let mut word = word.to_string();
            let fits = |w: &str, used: usize| used + Span::raw(w.trim_end()).width() <= width;
            if !fits(&word, cur_w) && cur_w > hang && !word.trim().is_empty() {
                start_line(&mut out, &mut cur);
                cur_w = hang;
            }
            // A word wider than a whole line is cut into pieces, after a separator where
            // one falls in the second half of the room (`kubernetes.io/metadata.name=` then
            // `production`), else where the line ends.
            while !fits(&word, cur_w) && !word.trim().is_empty() {
                let room = width.saturating_sub(cur_w).max(1);
                let chars: Vec<char> = word.chars().collect();
                let mut cut = room.min(chars.len());
                if let Some(p) = chars[..cut]
                    .iter()
                    .rposition(|c| matches!(c, '/' | '=' | '.' | '-' | ',' | ':'))
                {
                    if p + 1 >= room / 2 {
                        cut = p + 1;
                    }
                }
                let head: String = chars[..cut].iter().collect();
                let tail: String = chars[cut..].iter().collect();
                cur.push(Span::styled(head, style));
                start_line(&mut out, &mut cur);
                cur_w = hang;
                word = tail;
            }
            cur_w += Span::raw(word.as_str()).width();
            cur.push(Span::styled(word, style));
        }
    }
    if !cur.is_empty() {
        out.push(Line::from(cur).style(line_style));
    }
    out
}

/// Wraps every line, continuing each under its own indentation plus `extra`.
pub fn wrap_all(lines: Vec<Line<'static>>, width: usize, extra: usize) -> Vec<Line<'static>> {
    lines
        .into_iter()
        .flat_map(|l| {
            let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
            let indent = text.len() - text.trim_start().len();
            wrap(l, width, indent + extra)
        })
        .collect()
}

/// A list row drawn as selected: the selection style over the whole row, filled to `width`
/// so that it reads as a bar.
pub fn selected_bar(line: Line<'static>, width: usize, theme: &Theme) -> Line<'static> {
    let style = theme.style(Slot::Selection);
    let mut line = line.patch_style(style);
    let used = line.width();
    if used < width {
        line.push_span(Span::styled(" ".repeat(width - used), style));
    }
    line
}

/// A list's `/filter` for its pane title, with a cursor while it is typed; `None` when off.
pub fn filter_title(filter: &crate::app::Filter, theme: &Theme) -> Option<Span<'static>> {
    (filter.active() || filter.editing).then(|| {
        Span::styled(
            format!(
                "/{}{} ",
                filter.input.text,
                if filter.editing { "▏" } else { "" }
            ),
            theme.style(Slot::Match),
        )
    })
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

/// `s` in at most `width` columns, cut after a whole word and followed by `more` when it
/// does not fit; where that would keep less than half the room (a long path), cut with an
/// ellipsis instead.
pub fn clip_words(s: &str, width: usize, more: &str) -> String {
    let cols = textwrap::core::display_width;
    if cols(s) <= width {
        return s.to_string();
    }
    let room = width.saturating_sub(cols(more));
    let mut end = 0;
    for (i, c) in s.char_indices() {
        if cols(&s[..i]) > room {
            break;
        }
        if c == ' ' {
            end = i;
        }
    }
    // A long token (a path) would leave little of the text: cut it instead.
    if end == 0 || cols(&s[..end]) < room / 2 {
        return clip(s, width);
    }
    format!("{}{more}", s[..end].trim_end_matches([',', ';', ':']))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::render::paint::Paint;

    #[test]
    fn clip_words_cuts_after_a_whole_word() {
        let s = "port-forward forbidden: reading agents needs create on pods/portforward";
        assert_eq!(clip_words(s, 100, " …"), s);
        let cut = clip_words(s, 40, " … :messages");
        assert_eq!(cut, "port-forward forbidden … :messages");
        assert!(cut.chars().count() <= 40);
        assert_eq!(clip_words("averyveryverylongword", 8, " …"), "averyve…");
    }

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
    fn wrap_keeps_styles_and_hangs() {
        let t = Theme::builtin_default();
        let red = t.style(Slot::Deny);
        let line = Line::from(vec![
            Span::raw("labels      "),
            Span::styled("app=frontend tier=web zone=a-very-long-zone-name", red),
        ]);
        let lines = wrap(line, 30, 12);
        let texts: Vec<String> = lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect();
        assert_eq!(
            texts,
            [
                "labels      app=frontend ",
                "            tier=web ",
                "            zone=a-very-long-",
                "            zone-name",
            ]
        );
        assert_eq!(lines[1].spans[1].style, red);
        assert!(lines.iter().all(|l| l.width() <= 30));
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
