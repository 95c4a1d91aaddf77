//! The keymap: every binding carries its own description, and the help screen is made from
//! this table, so help cannot drift from the keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for in the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Quit,
    Help,
    FocusNext,
    FocusPrev,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Expand,
    Collapse,
    Enter,
    Back,
    Filter,
    Finder,
    CommandLine,
    Explain,
    Pause,
    VerdictFilter,
    Zoom,
    NextTheme,
    ShowPods,
    ShowPolicies,
}

/// Where a binding applies; `Main` holds everywhere in the main screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Main,
    Tree,
    Flows,
    Explain,
    Finder,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Main => "Everywhere",
            Context::Tree => "Namespaces, pods and policies",
            Context::Flows => "Flows",
            Context::Explain => "Explain dialog",
            Context::Finder => "Finder, filter and command line",
        }
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub context: Context,
    /// Shown in help, e.g. `j ↓`.
    pub keys: &'static str,
    pub help: &'static str,
    /// `None` for keys handled by a dialog's own input (listed for help only).
    pub action: Option<Action>,
    codes: &'static [(KeyCode, KeyModifiers)],
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

macro_rules! bind {
    ($ctx:ident, $keys:literal, $help:literal, $action:ident, [$($code:expr),*]) => {
        Binding {
            context: Context::$ctx,
            keys: $keys,
            help: $help,
            action: Some(Action::$action),
            codes: &[$($code),*],
        }
    };
    ($ctx:ident, $keys:literal, $help:literal) => {
        Binding {
            context: Context::$ctx,
            keys: $keys,
            help: $help,
            action: None,
            codes: &[],
        }
    };
}

pub const BINDINGS: &[Binding] = &[
    bind!(
        Main,
        "q  Ctrl-C",
        "quit",
        Quit,
        [(KeyCode::Char('q'), NONE), (KeyCode::Char('c'), CTRL)]
    ),
    bind!(
        Main,
        "?",
        "this help",
        Help,
        [
            (KeyCode::Char('?'), NONE),
            (KeyCode::Char('?'), SHIFT),
            (KeyCode::F(1), NONE)
        ]
    ),
    bind!(
        Main,
        "Tab  Shift-Tab",
        "next / previous pane",
        FocusNext,
        [(KeyCode::Tab, NONE)]
    ),
    bind!(
        Main,
        "",
        "",
        FocusPrev,
        [(KeyCode::BackTab, NONE), (KeyCode::BackTab, SHIFT)]
    ),
    bind!(
        Main,
        "j ↓  k ↑",
        "move down / up",
        Down,
        [(KeyCode::Char('j'), NONE), (KeyCode::Down, NONE)]
    ),
    bind!(
        Main,
        "",
        "",
        Up,
        [(KeyCode::Char('k'), NONE), (KeyCode::Up, NONE)]
    ),
    bind!(
        Main,
        "PgDn Ctrl-D  PgUp Ctrl-U",
        "page down / up",
        PageDown,
        [(KeyCode::PageDown, NONE), (KeyCode::Char('d'), CTRL)]
    ),
    bind!(
        Main,
        "",
        "",
        PageUp,
        [(KeyCode::PageUp, NONE), (KeyCode::Char('u'), CTRL)]
    ),
    bind!(
        Main,
        "g Home  G End",
        "first / last",
        Top,
        [(KeyCode::Char('g'), NONE), (KeyCode::Home, NONE)]
    ),
    bind!(
        Main,
        "",
        "",
        Bottom,
        [
            (KeyCode::Char('G'), NONE),
            (KeyCode::Char('G'), SHIFT),
            (KeyCode::End, NONE)
        ]
    ),
    bind!(
        Main,
        "Enter",
        "drill in: open a namespace, show a pod's rules, explain a flow",
        Enter,
        [(KeyCode::Enter, NONE)]
    ),
    bind!(
        Main,
        "Esc",
        "back: close, clear the filter, return from a jump",
        Back,
        [(KeyCode::Esc, NONE)]
    ),
    bind!(
        Main,
        "/",
        "filter the focused list (names fuzzy; flows: every word)",
        Filter,
        [(KeyCode::Char('/'), NONE)]
    ),
    bind!(
        Main,
        "Ctrl-P",
        "jump anywhere: namespaces, pods, policies, labels",
        Finder,
        [(KeyCode::Char('p'), CTRL)]
    ),
    bind!(
        Main,
        ":",
        "command: :ns :pod :netpol :explain :flows :theme NAME :q",
        CommandLine,
        [(KeyCode::Char(':'), NONE), (KeyCode::Char(':'), SHIFT)]
    ),
    bind!(
        Main,
        "e",
        "explain a flow (from the selected pod)",
        Explain,
        [(KeyCode::Char('e'), NONE)]
    ),
    bind!(
        Main,
        "z",
        "zoom the focused pane",
        Zoom,
        [(KeyCode::Char('z'), NONE)]
    ),
    bind!(
        Main,
        "t",
        "next theme",
        NextTheme,
        [(KeyCode::Char('t'), NONE)]
    ),
    bind!(
        Tree,
        "l →  h ←",
        "expand / collapse a namespace",
        Expand,
        [(KeyCode::Char('l'), NONE), (KeyCode::Right, NONE)]
    ),
    bind!(
        Tree,
        "",
        "",
        Collapse,
        [(KeyCode::Char('h'), NONE), (KeyCode::Left, NONE)]
    ),
    bind!(
        Tree,
        "P",
        "list policies under namespaces",
        ShowPolicies,
        [(KeyCode::Char('P'), NONE), (KeyCode::Char('P'), SHIFT)]
    ),
    bind!(
        Tree,
        "O",
        "list pods under namespaces",
        ShowPods,
        [(KeyCode::Char('O'), NONE), (KeyCode::Char('O'), SHIFT)]
    ),
    bind!(
        Flows,
        "Space  p",
        "pause / resume the flow list",
        Pause,
        [(KeyCode::Char(' '), NONE), (KeyCode::Char('p'), NONE)]
    ),
    bind!(
        Flows,
        "v",
        "show all / blocked / allowed / disagreements",
        VerdictFilter,
        [(KeyCode::Char('v'), NONE)]
    ),
    bind!(Explain, "Tab  Shift-Tab", "next / previous field"),
    bind!(
        Explain,
        "↑ ↓",
        "choose a suggestion (From, To) or the protocol"
    ),
    bind!(
        Explain,
        "Enter",
        "accept the suggestion; on Port or Protocol: explain"
    ),
    bind!(
        Explain,
        "Enter  g",
        "in the result: go to the responsible policy"
    ),
    bind!(Explain, "Esc", "close"),
    bind!(
        Finder,
        "type",
        "narrow the list; matched characters are highlighted"
    ),
    bind!(Finder, "↑ ↓  Ctrl-N Ctrl-P", "choose"),
    bind!(Finder, "Tab", "complete a command or theme name"),
    bind!(Finder, "Enter  Esc", "accept / cancel"),
];

/// The main-screen action bound to `key` in `context` (Main bindings apply in every pane).
pub fn lookup(key: KeyEvent, context: Context) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.context == Context::Main || b.context == context)
        .find(|b| {
            b.codes
                .iter()
                .any(|(code, mods)| *code == key.code && *mods == key.modifiers)
        })
        .and_then(|b| b.action)
}

/// Help lines per context, in table order; bindings that share a line have an empty label.
pub fn help() -> Vec<(Context, Vec<(&'static str, &'static str)>)> {
    let mut out: Vec<(Context, Vec<(&'static str, &'static str)>)> = Vec::new();
    for b in BINDINGS.iter().filter(|b| !b.keys.is_empty()) {
        match out.iter_mut().find(|(c, _)| *c == b.context) {
            Some((_, lines)) => lines.push((b.keys, b.help)),
            None => out.push((b.context, vec![(b.keys, b.help)])),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_key_is_bound_twice_in_one_context() {
        let mut seen = Vec::new();
        for b in BINDINGS {
            for code in b.codes {
                let ctx = b.context;
                assert!(
                    !seen.contains(&(ctx, *code)),
                    "{code:?} bound twice in {ctx:?}"
                );
                seen.push((ctx, *code));
            }
        }
        // Pane bindings must not shadow a Main one.
        for b in BINDINGS.iter().filter(|b| b.context != Context::Main) {
            for code in b.codes {
                assert!(!seen.contains(&(Context::Main, *code)), "{code:?}");
            }
        }
    }

    #[test]
    fn every_action_is_reachable_and_described() {
        let described: Vec<Action> = BINDINGS.iter().filter_map(|b| b.action).collect();
        for a in [
            Action::Quit,
            Action::Help,
            Action::Explain,
            Action::Finder,
            Action::Pause,
            Action::ShowPolicies,
        ] {
            assert!(described.contains(&a), "{a:?}");
        }
        let help = help();
        assert_eq!(help[0].0, Context::Main);
        assert!(help
            .iter()
            .flat_map(|(_, l)| l)
            .any(|(k, h)| *k == "Ctrl-P" && h.starts_with("jump anywhere")));
    }
}
