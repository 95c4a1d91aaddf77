//! The keymap: every binding of the main screen and of every dialog, each with its own
//! description and, where it is worth a place on screen, a short hint. The help screen, the
//! status bar's hints and the dialogs' titles are all made from this table, so none of them
//! can drift from the keys.
//!
//! Dialogs with a text field give printable keys, Backspace, Ctrl-W and Ctrl-U to the line
//! editor first (see `line`); their bindings here are the other keys.

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

/// What a key asks for.
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
    /// Audit mode on or off.
    Audit,
    /// The breakage view (audit mode).
    Breakage,
    /// Who can reach the selected pod and what it can reach.
    Reach,
    /// The selected object as YAML.
    Yaml,
    /// Every namespace again, after Enter scoped the views to one.
    AllNamespaces,
    /// The list of staged changes.
    StagedList,
    /// Stage a default-deny for the selected row's namespace (asks which direction).
    StageDeny,
    /// Stage the removal of the selected policy.
    StageRemoval,
    /// Write the flows shown to a file.
    WriteFlows,
    /// Group the flow list into connections, or list each flow again.
    Connections,
    // Dialogs.
    /// Close the dialog (or the filter being typed) without doing anything.
    Close,
    /// Take the choice, run the command, keep the filter.
    Accept,
    NextField,
    PrevField,
    /// Complete the word being typed.
    Complete,
    /// Go to the policy an answer names.
    GoTo,
    /// Switch the selected entry on or off.
    Toggle,
    /// Remove the selected entry.
    Remove,
    /// Write what the dialog shows to a file.
    Write,
    DenyIngress,
    DenyEgress,
    DenyBoth,
}

/// Where a binding applies. `Main` holds in every pane of the main screen, never in dialogs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Context {
    Main,
    Tree,
    Flows,
    /// Typing a `/` filter into a list.
    Filter,
    Finder,
    Command,
    Explain,
    Help,
    /// The staged changes' list.
    Staged,
    /// The breakage view.
    Breakage,
    /// Which direction a staged default-deny isolates.
    DenyPrompt,
}

impl Context {
    pub fn title(self) -> &'static str {
        match self {
            Context::Main => "Everywhere",
            Context::Tree => "Namespaces, pods and policies",
            Context::Flows => "Flows",
            Context::Filter => "Typing a filter",
            Context::Finder => "Finder (Ctrl-P)",
            Context::Command => "Command line (:)",
            Context::Explain => "Explain dialog",
            Context::Help => "This help",
            Context::Staged => "Staged changes (S)",
            Context::Breakage => "What would break (b, audit mode)",
            Context::DenyPrompt => "Staging a default-deny (D)",
        }
    }

    /// A pane of the main screen, where `Main` bindings apply too.
    fn is_pane(self) -> bool {
        matches!(self, Context::Main | Context::Tree | Context::Flows)
    }
}

#[derive(Debug, Clone, Copy)]
pub struct Binding {
    pub context: Context,
    /// Shown in help, e.g. `j ↓`. Empty for a binding that shares the line above.
    pub keys: &'static str,
    pub help: &'static str,
    /// A short form (key, word) for the status bar and dialog titles.
    pub hint: Option<(&'static str, &'static str)>,
    /// `None` for a line of help only (keys handled by the line editor).
    pub action: Option<Action>,
    codes: &'static [(KeyCode, KeyModifiers)],
}

const NONE: KeyModifiers = KeyModifiers::NONE;
const CTRL: KeyModifiers = KeyModifiers::CONTROL;
const SHIFT: KeyModifiers = KeyModifiers::SHIFT;

macro_rules! bind {
    ($ctx:ident, $keys:literal, $help:literal, $hint:expr, $action:ident, [$($code:expr),*]) => {
        Binding {
            context: Context::$ctx,
            keys: $keys,
            help: $help,
            hint: $hint,
            action: Some(Action::$action),
            codes: &[$($code),*],
        }
    };
    ($ctx:ident, $keys:literal, $help:literal) => {
        Binding {
            context: Context::$ctx,
            keys: $keys,
            help: $help,
            hint: None,
            action: None,
            codes: &[],
        }
    };
}

const fn ch(c: char) -> (KeyCode, KeyModifiers) {
    (KeyCode::Char(c), NONE)
}

const fn key(code: KeyCode) -> (KeyCode, KeyModifiers) {
    (code, NONE)
}

pub const BINDINGS: &[Binding] = &[
    bind!(
        Main,
        "q  Ctrl-C",
        "quit",
        Some(("q", "quit")),
        Quit,
        [ch('q'), (KeyCode::Char('c'), CTRL)]
    ),
    bind!(
        Main,
        "?",
        "this help",
        Some(("?", "help")),
        Help,
        [ch('?'), (KeyCode::Char('?'), SHIFT), key(KeyCode::F(1))]
    ),
    bind!(
        Main,
        "Tab  Shift-Tab",
        "next / previous pane",
        None,
        FocusNext,
        [key(KeyCode::Tab)]
    ),
    bind!(
        Main,
        "",
        "",
        None,
        FocusPrev,
        [key(KeyCode::BackTab), (KeyCode::BackTab, SHIFT)]
    ),
    bind!(
        Main,
        "j ↓  k ↑",
        "move down / up",
        None,
        Down,
        [ch('j'), key(KeyCode::Down)]
    ),
    bind!(Main, "", "", None, Up, [ch('k'), key(KeyCode::Up)]),
    bind!(
        Main,
        "PgDn Ctrl-D  PgUp Ctrl-U",
        "page down / up",
        None,
        PageDown,
        [key(KeyCode::PageDown), (KeyCode::Char('d'), CTRL)]
    ),
    bind!(
        Main,
        "",
        "",
        None,
        PageUp,
        [key(KeyCode::PageUp), (KeyCode::Char('u'), CTRL)]
    ),
    bind!(
        Main,
        "g Home  G End",
        "first / last",
        None,
        Top,
        [ch('g'), key(KeyCode::Home)]
    ),
    bind!(
        Main,
        "",
        "",
        None,
        Bottom,
        [ch('G'), (KeyCode::Char('G'), SHIFT), key(KeyCode::End)]
    ),
    bind!(
        Main,
        "Enter",
        "drill in: scope the views to a namespace, show a pod's rules, explain a flow",
        None,
        Enter,
        [key(KeyCode::Enter)]
    ),
    bind!(
        Main,
        "Esc",
        "back: close, clear the filter, return from a jump",
        None,
        Back,
        [key(KeyCode::Esc)]
    ),
    bind!(
        Main,
        "/",
        "filter the focused list (names fuzzy; flows: every word)",
        None,
        Filter,
        [ch('/')]
    ),
    bind!(
        Main,
        "Ctrl-P",
        "jump anywhere: namespaces, pods, policies, Services (their pods), labels",
        Some(("^P", "find")),
        Finder,
        [(KeyCode::Char('p'), CTRL)]
    ),
    bind!(
        Main,
        ":",
        "command: :ns :pod :netpol :explain :flows :theme NAME :q",
        Some((":", "cmd")),
        CommandLine,
        [ch(':'), (KeyCode::Char(':'), SHIFT)]
    ),
    bind!(
        Main,
        "e",
        "explain a flow (from the selected pod)",
        Some(("e", "explain")),
        Explain,
        [ch('e')]
    ),
    bind!(Main, "z", "zoom the focused pane", None, Zoom, [ch('z')]),
    bind!(Main, "t", "next theme", None, NextTheme, [ch('t')]),
    bind!(
        Tree,
        "l →  h ←",
        "expand / collapse a namespace",
        None,
        Expand,
        [ch('l'), key(KeyCode::Right)]
    ),
    bind!(Tree, "", "", None, Collapse, [ch('h'), key(KeyCode::Left)]),
    bind!(
        Main,
        "0",
        "all namespaces again (after Enter on a namespace scoped the tree and the flows to it)",
        None,
        AllNamespaces,
        [ch('0')]
    ),
    bind!(
        Tree,
        "P",
        "list policies under namespaces",
        None,
        ShowPolicies,
        [ch('P'), (KeyCode::Char('P'), SHIFT)]
    ),
    bind!(
        Tree,
        "O",
        "list pods under namespaces",
        None,
        ShowPods,
        [ch('O'), (KeyCode::Char('O'), SHIFT)]
    ),
    bind!(
        Flows,
        "Space  p",
        "pause / resume the flow list",
        None,
        Pause,
        [ch(' '), ch('p')]
    ),
    bind!(
        Flows,
        "v",
        "show all / blocked / allowed / disagreements",
        None,
        VerdictFilter,
        [ch('v')]
    ),
    bind!(
        Main,
        "a",
        "audit mode: flows, rules and explain judged under the staged changes too",
        Some(("a", "audit")),
        Audit,
        [ch('a')]
    ),
    bind!(
        Main,
        "b",
        "audit mode: what would break, and the allow rules that would fix it",
        None,
        Breakage,
        [ch('b')]
    ),
    bind!(
        Main,
        "r",
        "reachability of the selected pod: who can reach it and what it can reach, both sides applied",
        None,
        Reach,
        [ch('r')]
    ),
    bind!(
        Main,
        "y",
        "the selected object as YAML: a policy's manifest, or what was read of a pod, namespace or tier policy",
        None,
        Yaml,
        [ch('y')]
    ),
    bind!(
        Main,
        "S",
        "the staged changes: switch each on or off",
        None,
        StagedList,
        [ch('S'), (KeyCode::Char('S'), SHIFT)]
    ),
    bind!(
        Tree,
        "D",
        "stage a default-deny for the selected namespace (asks the direction)",
        None,
        StageDeny,
        [ch('D'), (KeyCode::Char('D'), SHIFT)]
    ),
    bind!(
        Tree,
        "X",
        "stage the removal of the selected policy",
        None,
        StageRemoval,
        [ch('X'), (KeyCode::Char('X'), SHIFT)]
    ),
    bind!(
        Flows,
        "w",
        "write the flows shown to a file, as trace -o json lines",
        None,
        WriteFlows,
        [ch('w')]
    ),
    bind!(
        Flows,
        "c",
        "connections: flows grouped by source, destination, protocol and port (again: each flow)",
        None,
        Connections,
        [ch('c')]
    ),
    bind!(Filter, "type", "narrow the list with every key"),
    bind!(
        Filter,
        "Enter",
        "keep the filter and go back to the list",
        None,
        Accept,
        [key(KeyCode::Enter)]
    ),
    bind!(
        Filter,
        "Esc",
        "clear the filter",
        None,
        Close,
        [key(KeyCode::Esc)]
    ),
    bind!(
        Filter,
        "↓ ↑",
        "keep the filter and move in the list",
        None,
        Down,
        [key(KeyCode::Down)]
    ),
    bind!(Filter, "", "", None, Up, [key(KeyCode::Up)]),
    bind!(
        Finder,
        "type",
        "narrow the list; matched characters are highlighted"
    ),
    bind!(
        Finder,
        "↓ ↑  Ctrl-N Ctrl-P",
        "choose",
        None,
        Down,
        [key(KeyCode::Down), (KeyCode::Char('n'), CTRL)]
    ),
    bind!(
        Finder,
        "",
        "",
        None,
        Up,
        [key(KeyCode::Up), (KeyCode::Char('p'), CTRL)]
    ),
    bind!(
        Finder,
        "Enter",
        "go there",
        None,
        Accept,
        [key(KeyCode::Enter)]
    ),
    bind!(Finder, "Esc", "cancel", None, Close, [key(KeyCode::Esc)]),
    bind!(
        Command,
        "Tab",
        "complete a command, theme or context name",
        Some(("Tab", "completes")),
        Complete,
        [key(KeyCode::Tab)]
    ),
    bind!(
        Command,
        "Enter",
        "run the command",
        Some(("Enter", "runs")),
        Accept,
        [key(KeyCode::Enter)]
    ),
    bind!(
        Command,
        "Esc",
        "cancel (so does Backspace on an empty line)",
        Some(("Esc", "cancels")),
        Close,
        [key(KeyCode::Esc)]
    ),
    bind!(
        Explain,
        "Tab  Shift-Tab",
        "next / previous field",
        Some(("Tab", "next field")),
        NextField,
        [key(KeyCode::Tab)]
    ),
    bind!(
        Explain,
        "",
        "",
        None,
        PrevField,
        [key(KeyCode::BackTab), (KeyCode::BackTab, SHIFT)]
    ),
    bind!(
        Explain,
        "↓ ↑  → ←",
        "choose a suggestion (From, To) or the protocol; scroll the answer",
        None,
        Down,
        [key(KeyCode::Down), key(KeyCode::Right), ch(' '), ch('j')]
    ),
    bind!(
        Explain,
        "",
        "",
        None,
        Up,
        [key(KeyCode::Up), key(KeyCode::Left), ch('k')]
    ),
    bind!(
        Explain,
        "PgDn  PgUp",
        "scroll the answer by a page",
        None,
        PageDown,
        [key(KeyCode::PageDown)]
    ),
    bind!(Explain, "", "", None, PageUp, [key(KeyCode::PageUp)]),
    bind!(
        Explain,
        "Enter",
        "take the suggestion; on Port or Protocol: explain",
        Some(("Enter", "run")),
        Accept,
        [key(KeyCode::Enter)]
    ),
    bind!(
        Explain,
        "Enter  g",
        "in the answer: go to the responsible policy (Esc comes back)",
        None,
        GoTo,
        [ch('g')]
    ),
    bind!(
        Explain,
        "Esc  q",
        "close (q outside the text fields)",
        Some(("Esc", "close")),
        Close,
        [key(KeyCode::Esc), ch('q')]
    ),
    bind!(
        Help,
        "Esc  any other key",
        "close",
        Some(("Esc", "closes")),
        Close,
        [key(KeyCode::Esc)]
    ),
    bind!(
        Help,
        "↓ ↑  j k",
        "scroll",
        Some(("↑↓", "scroll")),
        Down,
        [key(KeyCode::Down), ch('j')]
    ),
    bind!(Help, "", "", None, Up, [key(KeyCode::Up), ch('k')]),
    bind!(
        Help,
        "PgDn  PgUp",
        "scroll by a page",
        None,
        PageDown,
        [key(KeyCode::PageDown)]
    ),
    bind!(Help, "", "", None, PageUp, [key(KeyCode::PageUp)]),
    bind!(
        Staged,
        "↓ ↑",
        "choose a change",
        None,
        Down,
        [key(KeyCode::Down), ch('j')]
    ),
    bind!(Staged, "", "", None, Up, [key(KeyCode::Up), ch('k')]),
    bind!(
        Staged,
        "Space",
        "switch the change on or off",
        Some(("Space", "on/off")),
        Toggle,
        [ch(' ')]
    ),
    bind!(
        Staged,
        "x  Delete",
        "drop the change",
        Some(("x", "drop")),
        Remove,
        [ch('x'), key(KeyCode::Delete)]
    ),
    bind!(
        Staged,
        "Esc",
        "close",
        Some(("Esc", "close")),
        Close,
        [key(KeyCode::Esc), ch('q')]
    ),
    bind!(
        Breakage,
        "↓ ↑  PgDn PgUp",
        "scroll",
        None,
        Down,
        [key(KeyCode::Down), ch('j')]
    ),
    bind!(Breakage, "", "", None, Up, [key(KeyCode::Up), ch('k')]),
    bind!(Breakage, "", "", None, PageDown, [key(KeyCode::PageDown)]),
    bind!(Breakage, "", "", None, PageUp, [key(KeyCode::PageUp)]),
    bind!(
        Breakage,
        "g Home  G End",
        "the top / the suggested allow rules",
        None,
        Top,
        [ch('g'), key(KeyCode::Home)]
    ),
    bind!(
        Breakage,
        "",
        "",
        None,
        Bottom,
        [ch('G'), (KeyCode::Char('G'), SHIFT), key(KeyCode::End)]
    ),
    bind!(
        Breakage,
        "w",
        "write the suggested policies to a file",
        Some(("w", "write YAML")),
        Write,
        [ch('w')]
    ),
    bind!(
        Breakage,
        "Esc",
        "close",
        Some(("Esc", "close")),
        Close,
        [key(KeyCode::Esc), ch('q')]
    ),
    bind!(
        DenyPrompt,
        "i",
        "isolate ingress",
        Some(("i", "ingress")),
        DenyIngress,
        [ch('i')]
    ),
    bind!(
        DenyPrompt,
        "e",
        "isolate egress",
        Some(("e", "egress")),
        DenyEgress,
        [ch('e')]
    ),
    bind!(
        DenyPrompt,
        "b",
        "isolate both",
        Some(("b", "both")),
        DenyBoth,
        [ch('b')]
    ),
    bind!(
        DenyPrompt,
        "Esc",
        "cancel",
        Some(("Esc", "cancel")),
        Close,
        [key(KeyCode::Esc)]
    ),
];

/// The action bound to `key` in `context`. In a pane of the main screen, `Main` bindings
/// apply as well; in a dialog, only the dialog's own.
pub fn lookup(key: KeyEvent, context: Context) -> Option<Action> {
    BINDINGS
        .iter()
        .filter(|b| b.context == context || (context.is_pane() && b.context == Context::Main))
        .find(|b| {
            b.codes
                .iter()
                .any(|(code, mods)| *code == key.code && *mods == key.modifiers)
        })
        .and_then(|b| b.action)
}

/// The hint (short key, word) of `action` in `context`, if it has one.
pub fn hint(context: Context, action: Action) -> Option<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .find(|b| b.context == context && b.action == Some(action))
        .and_then(|b| b.hint)
}

/// Every hint of a context, in table order: what a dialog's title says about its keys.
pub fn hints(context: Context) -> Vec<(&'static str, &'static str)> {
    BINDINGS
        .iter()
        .filter(|b| b.context == context)
        .filter_map(|b| b.hint)
        .collect()
}

/// `title · Key word · Key word`, for a dialog's frame.
pub fn titled(title: &str, context: Context) -> String {
    let mut out = title.to_string();
    for (k, word) in hints(context) {
        out.push_str(&format!(" · {k} {word}"));
    }
    out
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
        for b in BINDINGS
            .iter()
            .filter(|b| b.context.is_pane() && b.context != Context::Main)
        {
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
            Action::Close,
            Action::Accept,
            Action::NextField,
            Action::Complete,
            Action::GoTo,
        ] {
            assert!(described.contains(&a), "{a:?}");
        }
        let help = help();
        assert_eq!(help[0].0, Context::Main);
        assert!(help
            .iter()
            .flat_map(|(_, l)| l)
            .any(|(k, h)| *k == "Ctrl-P" && h.starts_with("jump anywhere")));
        // Every dialog says how to leave it.
        for ctx in [
            Context::Finder,
            Context::Command,
            Context::Explain,
            Context::Help,
        ] {
            assert!(
                BINDINGS
                    .iter()
                    .any(|b| b.context == ctx && b.action == Some(Action::Close)),
                "{ctx:?}"
            );
        }
    }

    #[test]
    fn dialogs_do_not_see_main_bindings() {
        let q = KeyEvent::new(KeyCode::Char('e'), KeyModifiers::NONE);
        assert_eq!(lookup(q, Context::Tree), Some(Action::Explain));
        assert_eq!(lookup(q, Context::Finder), None);
        assert_eq!(
            titled("Help", Context::Help),
            "Help · Esc closes · ↑↓ scroll"
        );
    }
}
