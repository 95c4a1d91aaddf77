//! Themes: a palette of named colours and styles by meaning (`verdict.deny`, `flow.dropped`,
//! `ui.border_focused`). Views ask for a [`Slot`], never for a raw colour.
//!
//! The built-in themes in `themes/*.toml` are embedded at build time. `dark` sets every slot;
//! any other theme, built-in or a user's file, changes only the keys it lists. Unknown keys
//! and bad colour values are warnings (with file and line), never a failure; a file that is not
//! TOML at all is an error naming the file and line.
//!
//! Reads files only in [`ThemeSet::load`]; everything else is pure.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use ratatui::style::{Color, Modifier, Style};
use toml::de::{DeTable, DeValue};

pub mod contexts;
pub mod depth;

pub use depth::ColorDepth;

/// The built-in themes: name and text.
pub const BUILTIN: &[(&str, &str)] = &[
    ("dark", include_str!("../../themes/dark.toml")),
    ("light", include_str!("../../themes/light.toml")),
    (
        "high-contrast",
        include_str!("../../themes/high-contrast.toml"),
    ),
    ("colorblind", include_str!("../../themes/colorblind.toml")),
];

/// The theme every other one is layered over.
pub const DEFAULT: &str = "dark";

macro_rules! slots {
    ($($variant:ident => $key:literal, $doc:literal;)*) => {
        /// A style by meaning.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
        pub enum Slot {
            $(#[doc = $doc] $variant,)*
        }

        impl Slot {
            pub const ALL: &'static [Slot] = &[$(Slot::$variant,)*];

            /// The key in a theme file: `group.name`.
            pub fn key(self) -> &'static str {
                match self {
                    $(Slot::$variant => $key,)*
                }
            }
        }
    };
}

slots! {
    Background => "ui.background", "The whole screen.";
    Text => "ui.text", "Ordinary text.";
    Muted => "ui.muted", "Secondary text: hints, counts, origins.";
    Title => "ui.title", "Pane titles.";
    Border => "ui.border", "Borders of panes without focus.";
    BorderFocused => "ui.border_focused", "The border of the focused pane.";
    Selection => "ui.selection", "The selected row.";
    Match => "ui.match", "Characters matched by a fuzzy query.";
    Status => "ui.status", "The status bar.";
    StatusKey => "ui.status_key", "Keys and emphasis in the status bar.";
    Error => "ui.error", "Errors.";
    Warning => "ui.warning", "Warnings: likely mistakes in policies.";
    Heading => "ui.heading", "Section headings inside a pane.";
    Allow => "verdict.allow", "An allowed verdict (always shown with ✓ as well).";
    Deny => "verdict.deny", "A denied verdict (always shown with ✗ as well).";
    Neutral => "verdict.neutral", "A verdict that is neither: not isolated, exempt, not applicable.";
    Isolated => "badge.isolated", "Isolation badges of pods and namespaces.";
    Open => "badge.open", "A direction no policy isolates.";
    Unprotected => "badge.unprotected", "Pods that no policy selects.";
    Forwarded => "flow.forwarded", "Flows the datapath forwarded.";
    Dropped => "flow.dropped", "Flows the datapath dropped.";
    Disagree => "flow.disagree", "Flows where the datapath and the policies disagree.";
    AuditBadge => "audit.badge", "The AUDIT badge of the status bar while audit mode is on.";
    WouldBreak => "audit.would_break", "What staged policies would break (always shown with ⊘ as well).";
    WouldAllow => "audit.would_allow", "What staged policies would newly allow (always shown with ⊕ as well).";
    YamlKey => "yaml.key", "YAML keys.";
    YamlString => "yaml.string", "YAML strings.";
    YamlNumber => "yaml.number", "YAML numbers and booleans.";
    YamlPunct => "yaml.punct", "YAML dashes, colons and brackets.";
    YamlComment => "yaml.comment", "YAML comments.";
}

#[derive(Debug, Clone, PartialEq)]
pub struct Theme {
    pub name: String,
    styles: Vec<Style>,
}

impl Theme {
    pub fn style(&self, slot: Slot) -> Style {
        self.styles[slot as usize]
    }

    /// This theme as a terminal of `depth` colours shows it.
    pub fn degraded(&self, depth: ColorDepth) -> Theme {
        Theme {
            name: self.name.clone(),
            styles: self.styles.iter().map(|s| depth.style(*s)).collect(),
        }
    }

    /// The default theme, without any user file.
    pub fn builtin_default() -> Theme {
        let mut warnings = Vec::new();
        let mut theme = Theme {
            name: DEFAULT.into(),
            styles: vec![Style::default(); Slot::ALL.len()],
        };
        // The embedded default is checked by a test; a failure here would be a build mistake.
        if let Err(e) = theme.layer(DEFAULT, BUILTIN[0].1, &mut warnings) {
            debug_assert!(false, "built-in theme: {e}");
        }
        theme
    }

    /// Applies the keys of one theme file over this theme.
    fn layer(
        &mut self,
        source: &str,
        text: &str,
        warnings: &mut Vec<String>,
    ) -> Result<(), ThemeError> {
        let table = DeTable::parse(text).map_err(|e| ThemeError::Syntax {
            source: source.to_string(),
            line: e.span().map(|s| line_of(text, s.start)),
            message: e.message().trim().to_string(),
        })?;
        // Collected with their line and sorted, since the parser's tables are not in
        // file order.
        let mut found: Vec<(usize, String)> = Vec::new();
        let warn = |found: &mut Vec<(usize, String)>, at: usize, message: String| {
            let line = line_of(text, at);
            found.push((line, format!("theme {source}:{line}: {message}")));
        };
        let mut palette: BTreeMap<String, Color> = BTreeMap::new();
        if let Some(p) = table.get_ref().get("palette") {
            match p.get_ref() {
                DeValue::Table(entries) => {
                    for (name, value) in entries {
                        match value.get_ref() {
                            DeValue::String(s) => match parse_color(s, &BTreeMap::new()) {
                                Some(c) => {
                                    palette.insert(name.get_ref().to_string(), c);
                                }
                                None => warn(
                                    &mut found,
                                    value.span().start,
                                    format!("palette.{}: unknown colour {s:?}", name.get_ref()),
                                ),
                            },
                            _ => warn(
                                &mut found,
                                value.span().start,
                                format!("palette.{}: expected a colour string", name.get_ref()),
                            ),
                        }
                    }
                }
                _ => warn(
                    &mut found,
                    p.span().start,
                    "palette: expected a table".into(),
                ),
            }
        }
        for (group, entries) in table.get_ref() {
            let group_name = group.get_ref().as_ref();
            if group_name == "palette" {
                continue;
            }
            let DeValue::Table(entries) = entries.get_ref() else {
                warn(
                    &mut found,
                    group.span().start,
                    format!("unknown key {group_name:?}"),
                );
                continue;
            };
            for (name, value) in entries {
                let key = format!("{group_name}.{}", name.get_ref());
                let Some(slot) = Slot::ALL.iter().find(|s| s.key() == key) else {
                    warn(
                        &mut found,
                        name.span().start,
                        format!("unknown key {key:?}"),
                    );
                    continue;
                };
                let DeValue::Table(attrs) = value.get_ref() else {
                    warn(
                        &mut found,
                        value.span().start,
                        format!("{key}: expected a table such as {{ fg = \"red\", bold = true }}"),
                    );
                    continue;
                };
                let mut style = Style::default();
                for (attr, v) in attrs {
                    let attr_name = attr.get_ref().as_ref();
                    let at = v.span().start;
                    match (attr_name, v.get_ref()) {
                        ("fg" | "bg", DeValue::String(s)) => match parse_color(s, &palette) {
                            Some(c) if attr_name == "fg" => style = style.fg(c),
                            Some(c) => style = style.bg(c),
                            None => warn(&mut found,
                                at,
                                format!("{key}.{attr_name}: unknown colour {s:?}"),
                            ),
                        },
                        (_, DeValue::Boolean(on)) if modifier(attr_name).is_some() => {
                            let m = modifier(attr_name).unwrap_or(Modifier::empty());
                            style = if *on {
                                style.add_modifier(m)
                            } else {
                                style.remove_modifier(m)
                            };
                        }
                        _ => warn(&mut found,
                            at,
                            format!("{key}: unknown or mistyped attribute {attr_name:?} (fg, bg: colours; bold, dim, italic, underline, reversed: true or false)"),
                        ),
                    }
                }
                self.styles[*slot as usize] = style;
            }
        }
        found.sort();
        warnings.extend(found.into_iter().map(|(_, w)| w));
        Ok(())
    }
}

fn modifier(name: &str) -> Option<Modifier> {
    Some(match name {
        "bold" => Modifier::BOLD,
        "dim" => Modifier::DIM,
        "italic" => Modifier::ITALIC,
        "underline" => Modifier::UNDERLINED,
        "reversed" => Modifier::REVERSED,
        _ => return None,
    })
}

fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// A palette name, `#rrggbb`, an ANSI colour name, a number 0-255, or `reset`.
fn parse_color(s: &str, palette: &BTreeMap<String, Color>) -> Option<Color> {
    if let Some(c) = palette.get(s) {
        return Some(*c);
    }
    if let Some(hex) = s.strip_prefix('#') {
        if hex.len() == 6 && hex.chars().all(|c| c.is_ascii_hexdigit()) {
            let v = u32::from_str_radix(hex, 16).ok()?;
            return Some(Color::Rgb((v >> 16) as u8, (v >> 8) as u8, v as u8));
        }
        return None;
    }
    if let Ok(n) = s.parse::<u8>() {
        return Some(Color::Indexed(n));
    }
    Some(match s.to_ascii_lowercase().replace('_', "-").as_str() {
        "reset" | "default" => Color::Reset,
        "black" => Color::Black,
        "red" => Color::Red,
        "green" => Color::Green,
        "yellow" => Color::Yellow,
        "blue" => Color::Blue,
        "magenta" => Color::Magenta,
        "cyan" => Color::Cyan,
        "gray" | "grey" => Color::Gray,
        "dark-gray" | "dark-grey" => Color::DarkGray,
        "light-red" => Color::LightRed,
        "light-green" => Color::LightGreen,
        "light-yellow" => Color::LightYellow,
        "light-blue" => Color::LightBlue,
        "light-magenta" => Color::LightMagenta,
        "light-cyan" => Color::LightCyan,
        "white" => Color::White,
        _ => return None,
    })
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ThemeError {
    Syntax {
        source: String,
        line: Option<usize>,
        message: String,
    },
    Read {
        source: String,
        message: String,
    },
    Unknown {
        name: String,
        known: Vec<String>,
    },
    /// A configuration file with a mistake at a line.
    Config {
        source: String,
        line: Option<usize>,
        message: String,
    },
}

impl fmt::Display for ThemeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ThemeError::Syntax {
                source,
                line: Some(line),
                message,
            } => write!(f, "theme {source}:{line}: not valid TOML: {message}"),
            ThemeError::Syntax {
                source, message, ..
            } => write!(f, "theme {source}: not valid TOML: {message}"),
            ThemeError::Read { source, message } => {
                write!(f, "theme {source}: cannot read: {message}")
            }
            ThemeError::Config {
                source,
                line: Some(line),
                message,
            } => write!(f, "{source}:{line}: {message}"),
            ThemeError::Config {
                source, message, ..
            } => write!(f, "{source}: {message}"),
            ThemeError::Unknown { name, known } => write!(
                f,
                "--theme: no theme {name:?}; there are: {} (or give a path to a .toml file)",
                known.join(", ")
            ),
        }
    }
}

impl std::error::Error for ThemeError {}

/// Every theme the session can switch to: built-ins, with the user's folder layered over
/// them (same name: user keys win; a new name: a new theme over the default).
#[derive(Debug, Clone)]
pub struct ThemeSet {
    themes: Vec<Theme>,
    pub warnings: Vec<String>,
    /// How many colours the terminal shows; every theme is brought down to it.
    pub depth: ColorDepth,
}

impl ThemeSet {
    /// Built-ins only.
    pub fn builtin() -> ThemeSet {
        let mut warnings = Vec::new();
        let themes = BUILTIN
            .iter()
            .filter_map(|(name, text)| {
                let mut t = Theme::builtin_default();
                t.name = (*name).to_string();
                t.layer(name, text, &mut warnings).ok().map(|_| t)
            })
            .collect();
        ThemeSet {
            themes,
            warnings,
            depth: ColorDepth::TrueColor,
        }
    }

    /// Built-ins, then every `*.toml` of `user_dir` (when it exists) layered over them.
    pub fn load(user_dir: Option<&Path>) -> Result<ThemeSet, ThemeError> {
        let mut set = ThemeSet::builtin();
        let Some(dir) = user_dir else {
            return Ok(set);
        };
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(set);
        };
        let mut files: Vec<PathBuf> = entries
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "toml"))
            .collect();
        files.sort();
        for path in files {
            set.add_file(&path)?;
        }
        Ok(set)
    }

    /// Adds (or layers over a built-in of the same name) the theme in `path`; returns its name.
    pub fn add_file(&mut self, path: &Path) -> Result<String, ThemeError> {
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Read {
            source: source.clone(),
            message: e.to_string(),
        })?;
        let name = path
            .file_stem()
            .map(|s| s.to_string_lossy().into_owned())
            .unwrap_or_else(|| source.clone());
        self.add_text(&name, &source, &text)?;
        Ok(name)
    }

    pub fn add_text(&mut self, name: &str, source: &str, text: &str) -> Result<(), ThemeError> {
        let position = self.themes.iter().position(|t| t.name == name);
        let mut theme = match position {
            Some(i) => self.themes[i].clone(),
            None => Theme::builtin_default(),
        };
        theme.name = name.to_string();
        theme.layer(source, text, &mut self.warnings)?;
        let theme = theme.degraded(self.depth);
        match position {
            Some(i) => self.themes[i] = theme,
            None => self.themes.push(theme),
        }
        Ok(())
    }

    pub fn names(&self) -> Vec<String> {
        self.themes.iter().map(|t| t.name.clone()).collect()
    }

    pub fn get(&self, name: &str) -> Option<&Theme> {
        self.themes.iter().find(|t| t.name == name)
    }

    /// A theme by name, or by path to a file (added to the set under its file name).
    /// Brings every theme (and those added later) down to `depth` colours.
    pub fn degrade(&mut self, depth: ColorDepth) {
        self.depth = depth;
        for t in &mut self.themes {
            *t = t.degraded(depth);
        }
    }

    pub fn select(&mut self, spec: &str) -> Result<Theme, ThemeError> {
        let path = Path::new(spec);
        let name = if spec.ends_with(".toml") || spec.contains(std::path::MAIN_SEPARATOR) {
            self.add_file(path)?
        } else {
            spec.to_string()
        };
        self.get(&name).cloned().ok_or_else(|| ThemeError::Unknown {
            name: spec.to_string(),
            known: self.names(),
        })
    }
}

/// The user's theme folder: `$NETPOL_TUI_THEME_DIR`, else `<config dir>/netpol-tui/themes`.
pub fn user_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("NETPOL_TUI_THEME_DIR") {
        return Some(PathBuf::from(d));
    }
    config_dir().map(|d| d.join("themes"))
}

/// The configuration folder: `$NETPOL_TUI_CONFIG_DIR`, else `netpol-tui` in the user's
/// configuration folder (`~/.config/netpol-tui`).
pub fn config_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("NETPOL_TUI_CONFIG_DIR") {
        return Some(PathBuf::from(d));
    }
    dirs::config_dir().map(|d| d.join("netpol-tui"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_parse_without_warnings_and_set_every_slot_in_the_default() {
        let set = ThemeSet::builtin();
        assert!(set.warnings.is_empty(), "{:?}", set.warnings);
        assert_eq!(
            set.names(),
            ["dark", "light", "high-contrast", "colorblind"]
        );
        // Every slot of the default is listed in dark.toml, so none is left at Style::default().
        let dark = set.get("dark").expect("dark");
        for slot in Slot::ALL {
            assert!(
                BUILTIN[0].1.contains(&format!(
                    "\n{} =",
                    slot.key().split('.').nth(1).unwrap_or_default()
                )),
                "dark.toml lacks {}",
                slot.key()
            );
            assert_ne!(dark.style(*slot), Style::default(), "{}", slot.key());
        }
        // Allow and deny differ in every theme.
        for name in set.names() {
            let t = set.get(&name).expect("theme");
            assert_ne!(t.style(Slot::Allow), t.style(Slot::Deny), "{name}");
        }
    }

    #[test]
    fn user_layer_changes_only_its_keys_and_warns_on_unknown_ones() {
        let mut set = ThemeSet::builtin();
        let text = "[palette]\nhot = \"#ff0000\"\n\n[verdict]\ndeny = { fg = \"hot\" }\nmaybe = { fg = \"red\" }\n\n[ui]\ntext = { fg = \"purpel\", blink = true }\n";
        set.add_text("dark", "mine.toml", text).expect("layers");
        let dark = set.get("dark").expect("dark");
        assert_eq!(
            dark.style(Slot::Deny),
            Style::default().fg(Color::Rgb(255, 0, 0))
        );
        assert_eq!(
            dark.style(Slot::Allow),
            ThemeSet::builtin()
                .get("dark")
                .expect("dark")
                .style(Slot::Allow)
        );
        assert_eq!(
            set.warnings,
            [
                "theme mine.toml:6: unknown key \"verdict.maybe\"",
                "theme mine.toml:9: ui.text.fg: unknown colour \"purpel\"",
                "theme mine.toml:9: ui.text: unknown or mistyped attribute \"blink\" (fg, bg: colours; bold, dim, italic, underline, reversed: true or false)",
            ]
        );
    }

    #[test]
    fn broken_toml_is_an_error_with_a_line() {
        let mut set = ThemeSet::builtin();
        let err = set
            .add_text("x", "x.toml", "[ui]\ntext = { fg = \n")
            .expect_err("broken");
        assert!(
            err.to_string()
                .starts_with("theme x.toml:2: not valid TOML"),
            "{err}"
        );
        let err = set.select("nope").expect_err("unknown");
        assert!(err.to_string().contains("there are: dark, light"), "{err}");
    }
}
