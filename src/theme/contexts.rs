//! Per-context looks: a rule picks a theme and/or a frame colour for the kubeconfig contexts
//! whose name matches a glob, so that a production cluster never looks like a test one.
//!
//! Read from `contexts.toml` in the configuration folder (beside `themes/`):
//!
//! ```toml
//! [[context]]
//! match = "*prod*"      # glob: * any run of characters, ? one character
//! frame = "red"         # colour of every pane border
//! theme = "light"       # optional: a theme name
//! ```
//!
//! Without the file, one rule applies: contexts whose name contains `prod` get a red frame.

use std::path::{Path, PathBuf};

use ratatui::style::Color;
use serde::Deserialize;
use toml::Spanned;

use super::{line_of, parse_color, Slot, Theme, ThemeError, ThemeSet};

/// The file's name in the configuration folder.
pub const FILE: &str = "contexts.toml";

#[derive(Debug, Clone, PartialEq)]
pub struct ContextRule {
    pub pattern: String,
    pub theme: Option<String>,
    pub frame: Option<Color>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct ContextRules {
    pub rules: Vec<ContextRule>,
}

impl Default for ContextRules {
    fn default() -> Self {
        ContextRules {
            rules: vec![ContextRule {
                pattern: "*prod*".into(),
                theme: None,
                frame: Some(Color::Red),
            }],
        }
    }
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct FileText {
    #[serde(default)]
    context: Vec<RuleText>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RuleText {
    #[serde(rename = "match")]
    pattern: String,
    theme: Option<Spanned<String>>,
    frame: Option<Spanned<String>>,
}

/// `path` of the rules file in the user's configuration folder.
pub fn user_file() -> Option<PathBuf> {
    super::config_dir().map(|d| d.join(FILE))
}

impl ContextRules {
    /// Reads `path` if it exists (the default rule otherwise). Theme names must be in `themes`.
    pub fn load(path: Option<&Path>, themes: &ThemeSet) -> Result<ContextRules, ThemeError> {
        let Some(path) = path.filter(|p| p.exists()) else {
            return Ok(ContextRules::default());
        };
        let source = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|e| ThemeError::Read {
            source: source.clone(),
            message: e.to_string(),
        })?;
        ContextRules::parse(&source, &text, themes)
    }

    pub fn parse(source: &str, text: &str, themes: &ThemeSet) -> Result<ContextRules, ThemeError> {
        let err = |at: Option<usize>, message: String| ThemeError::Config {
            source: source.to_string(),
            line: at.map(|a| line_of(text, a)),
            message,
        };
        let file: FileText = toml::from_str(text).map_err(|e| {
            err(
                e.span().map(|s| s.start),
                format!("not valid: {}", e.message().trim()),
            )
        })?;
        let mut rules = Vec::new();
        for r in file.context {
            let frame = match &r.frame {
                Some(f) => Some(parse_color(f.get_ref(), &Default::default()).ok_or_else(
                    || {
                        err(
                            Some(f.span().start),
                            format!("frame: unknown colour {:?}", f.get_ref()),
                        )
                    },
                )?),
                None => None,
            };
            if let Some(t) = &r.theme {
                if themes.get(t.get_ref()).is_none() {
                    return Err(err(
                        Some(t.span().start),
                        format!(
                            "theme: no theme {:?}; there are: {}",
                            t.get_ref(),
                            themes.names().join(", ")
                        ),
                    ));
                }
            }
            rules.push(ContextRule {
                pattern: r.pattern,
                theme: r.theme.map(Spanned::into_inner),
                frame,
            });
        }
        Ok(ContextRules { rules })
    }

    /// The first rule whose pattern matches `context`.
    pub fn find(&self, context: &str) -> Option<&ContextRule> {
        self.rules.iter().find(|r| glob(&r.pattern, context))
    }
}

impl Theme {
    /// This theme with every pane border in `color`.
    pub fn with_frame(&self, color: Color) -> Theme {
        let mut t = self.clone();
        for slot in [Slot::Border, Slot::BorderFocused] {
            let i = slot as usize;
            t.styles[i] = t.styles[i].fg(color);
        }
        t
    }
}

/// `*` matches any run of characters, `?` one character; everything else itself.
pub fn glob(pattern: &str, text: &str) -> bool {
    let p: Vec<char> = pattern.chars().collect();
    let t: Vec<char> = text.chars().collect();
    // Classic two-pointer match with backtracking to the last star.
    let (mut i, mut j) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while j < t.len() {
        if i < p.len() && (p[i] == '?' || p[i] == t[j]) {
            i += 1;
            j += 1;
        } else if i < p.len() && p[i] == '*' {
            star = Some((i, j));
            i += 1;
        } else if let Some((si, sj)) = star {
            i = si + 1;
            j = sj + 1;
            star = Some((si, sj + 1));
        } else {
            return false;
        }
    }
    p[i..].iter().all(|&c| c == '*')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn globs() {
        assert!(glob("*prod*", "eu-prod-1"));
        assert!(glob("*prod*", "prod"));
        assert!(!glob("*prod*", "staging"));
        assert!(glob("prod-?", "prod-a"));
        assert!(!glob("prod-?", "prod-ab"));
        assert!(glob("*", ""));
        assert!(glob("a*b*c", "aXXbYc"));
        assert!(!glob("a*b*c", "aXXbY"));
    }

    #[test]
    fn default_rule_gives_production_a_red_frame() {
        let rules = ContextRules::default();
        assert_eq!(rules.find("gke_prod_eu").unwrap().frame, Some(Color::Red));
        assert!(rules.find("kind-dev").is_none());
    }

    #[test]
    fn file_rules_and_errors_name_the_line() {
        let themes = ThemeSet::builtin();
        let rules = ContextRules::parse(
            "contexts.toml",
            "[[context]]\nmatch = \"staging-*\"\ntheme = \"light\"\n\n[[context]]\nmatch = \"*\"\nframe = \"#00ff00\"\n",
            &themes,
        )
        .unwrap();
        assert_eq!(
            rules.find("staging-1").unwrap().theme.as_deref(),
            Some("light")
        );
        assert_eq!(
            rules.find("dev").unwrap().frame,
            Some(Color::Rgb(0, 255, 0))
        );

        let e = ContextRules::parse(
            "contexts.toml",
            "[[context]]\nmatch = \"x\"\nframe = \"reddish\"\n",
            &themes,
        )
        .unwrap_err();
        assert_eq!(
            e.to_string(),
            "contexts.toml:3: frame: unknown colour \"reddish\""
        );
        let e = ContextRules::parse(
            "contexts.toml",
            "[[context]]\nmatch = \"x\"\ntheme = \"neon\"\n",
            &themes,
        )
        .unwrap_err();
        assert!(
            e.to_string()
                .starts_with("contexts.toml:3: theme: no theme \"neon\""),
            "{e}"
        );
        let e = ContextRules::parse("contexts.toml", "[[context]]\npattern = \"x\"\n", &themes)
            .unwrap_err();
        assert!(e.to_string().contains("contexts.toml:2"), "{e}");
    }

    #[test]
    fn frame_recolours_borders_only() {
        let base = Theme::builtin_default();
        let red = base.with_frame(Color::Red);
        assert_eq!(red.style(Slot::Border).fg, Some(Color::Red));
        assert_eq!(red.style(Slot::BorderFocused).fg, Some(Color::Red));
        assert_eq!(red.style(Slot::Text), base.style(Slot::Text));
    }
}
