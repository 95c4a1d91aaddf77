//! The live cluster as the UI sees it: the connection's status, the kubeconfig's contexts
//! (`:ctx`), and the look a context rule gives (a theme, a frame colour).

use crate::cluster::live;

use super::{Command, Live, State};

impl State {
    /// Starts on a live cluster: its first status and the kubeconfig's contexts.
    pub fn attach_live(&mut self, status: live::Status, contexts: Vec<String>) {
        if status.link == live::Link::Connecting {
            // Nothing read yet: the first world opens as a new context's.
            self.new_context = true;
            self.say(format!(
                "connecting to {} ({})…",
                status.context, status.server
            ));
        }
        if !status.hidden.is_empty() {
            self.complain(not_visible(&status.hidden));
        }
        self.live = Some(Live {
            status,
            contexts,
            switching: None,
        });
        self.apply_look();
    }

    pub(super) fn set_live_status(&mut self, status: live::Status) {
        let Some(live) = &mut self.live else {
            return;
        };
        let changed = live.status.context != status.context;
        let newly_hidden = live.status.hidden.is_empty() && !status.hidden.is_empty();
        if live.switching.as_deref() == Some(status.context.as_str()) {
            live.switching = None;
        }
        live.status = status;
        let context = live.status.context.clone();
        let hidden = live.status.hidden.clone();
        if changed {
            self.new_context = true;
            self.apply_look();
            if hidden.is_empty() {
                self.say(format!("context {context}"));
            } else {
                self.complain(format!(
                    "context {context}: {} thing(s) not visible (:ctx lists them)",
                    hidden.len()
                ));
            }
        } else if newly_hidden {
            // Read for the first time: what this user cannot see.
            self.complain(not_visible(&hidden));
        }
    }

    /// The chosen theme, or the one a context rule gives, with the rule's frame colour.
    pub(super) fn apply_look(&mut self) {
        let rule = self
            .live
            .as_ref()
            .and_then(|l| self.context_rules.find(&l.status.context))
            .cloned();
        let name = rule
            .as_ref()
            .and_then(|r| r.theme.clone())
            .unwrap_or_else(|| self.chosen_theme.clone());
        let base = self
            .themes
            .get(&name)
            .or_else(|| self.themes.get(&self.chosen_theme))
            .cloned()
            .unwrap_or_else(|| self.theme.clone());
        self.theme = match rule.and_then(|r| r.frame) {
            Some(color) => base.with_frame(self.themes.depth.color(color)),
            None => base,
        };
    }

    /// The rule matching the live context, if any: the status bar shows the context in its
    /// frame colour.
    pub fn context_frame(&self) -> Option<ratatui::style::Color> {
        let live = self.live.as_ref()?;
        self.context_rules
            .find(&live.status.context)?
            .frame
            .map(|c| self.themes.depth.color(c))
    }
}

/// The first thing that cannot be read, and how many more.
fn not_visible(hidden: &[String]) -> String {
    match hidden {
        [] => String::new(),
        [one] => format!("not visible: {one}"),
        [first, rest @ ..] => format!(
            "not visible: {first} (and {} more; :ctx lists them)",
            rest.len()
        ),
    }
}

/// `:ctx`: lists contexts (and what the current one cannot see), or switches.
pub(super) fn context_command(state: &mut State, arg: &str) -> Vec<Command> {
    let Some(live) = &mut state.live else {
        state.complain(format!(
            ":ctx needs a live cluster; this view shows {} ({})",
            state.source.kind, state.source.detail
        ));
        return Vec::new();
    };
    let current = live.status.context.clone();
    if arg.is_empty() {
        let mut text = format!("contexts: {} (now: {current})", live.contexts.join(", "));
        if !live.status.hidden.is_empty() {
            text.push_str(&format!(
                " · not visible: {}",
                live.status.hidden.join("; ")
            ));
        }
        state.say(text);
        return Vec::new();
    }
    if arg == current {
        state.say(format!("already on context {current}"));
        return Vec::new();
    }
    if !live.contexts.iter().any(|c| c == arg) {
        let known = live.contexts.join(", ");
        state.complain(format!("no context {arg:?}; there are: {known}"));
        return Vec::new();
    }
    live.switching = Some(arg.to_string());
    state.say(format!("connecting to {arg}…"));
    vec![Command::SwitchContext(arg.to_string())]
}
