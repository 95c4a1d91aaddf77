//! The dialogs over the main screen, as state: help, the finder, the `:` line and the explain
//! dialog. What their keys do is in `input`; how they look, in the views.

use crossterm::event::KeyEvent;

use super::audit::Breakage;
use super::explain_form::ExplainForm;
use super::finder::{self, Entry, Hit, Matcher, Target};
use super::keymap::{self, Action, Context};
use super::line::LineInput;

#[derive(Debug, Clone)]
pub enum Overlay {
    Help {
        scroll: u16,
    },
    Finder(FinderState),
    Command(LineInput),
    Explain(Box<ExplainForm>),
    /// The staged changes, the cursor on one.
    Staged {
        cursor: usize,
    },
    Breakage(Box<Breakage>),
    /// Asking which direction a default-deny for the namespace isolates.
    DenyPrompt {
        namespace: String,
    },
    /// The agents feeding the flow list, one per node.
    Nodes {
        scroll: u16,
    },
    /// The status bar's messages, in full.
    Messages {
        scroll: u16,
    },
    /// A read-only text: a pod's reachability as `reach` prints it, the problems as `lint`
    /// prints them.
    Text {
        title: String,
        text: String,
        scroll: u16,
    },
}

#[derive(Debug, Clone, Default)]
pub struct FinderState {
    pub query: LineInput,
    pub hits: Vec<Hit>,
    pub cursor: usize,
    /// The query the pool was made for, and every entry that matched it.
    pool: Option<(String, Vec<usize>)>,
}

/// How many finder hits are listed.
const FINDER_HITS: usize = 200;

/// What the finder wants after a key it used.
pub(super) enum FinderOutcome {
    Stay,
    Close,
    Go(Target),
}

impl FinderState {
    /// The finder with `query` searched afresh over `entries`.
    pub(super) fn search(matcher: &Matcher, entries: &[Entry], query: LineInput) -> FinderState {
        let (hits, matching) =
            finder::search_within(matcher, entries, None, &query.text, FINDER_HITS);
        FinderState {
            pool: Some((query.text.clone(), matching)),
            query,
            hits,
            cursor: 0,
        }
    }

    /// Takes a key; `None` when it is not the finder's.
    pub(super) fn key(
        &mut self,
        key: KeyEvent,
        matcher: &Matcher,
        entries: &[Entry],
    ) -> Option<FinderOutcome> {
        if self.query.edit(key) {
            // A longer query matches a subset of what the shorter one did.
            let pool = self
                .pool
                .as_ref()
                .filter(|(q, _)| !q.trim().is_empty() && self.query.text.starts_with(q.as_str()))
                .map(|(_, p)| p.as_slice());
            let (hits, matching) =
                finder::search_within(matcher, entries, pool, &self.query.text, FINDER_HITS);
            self.hits = hits;
            self.pool = Some((self.query.text.clone(), matching));
            self.cursor = 0;
            return Some(FinderOutcome::Stay);
        }
        let last = self.hits.len().saturating_sub(1);
        match keymap::lookup(key, Context::Finder)? {
            Action::Close => return Some(FinderOutcome::Close),
            Action::Accept => {
                return Some(match self.hits.get(self.cursor) {
                    Some(hit) => FinderOutcome::Go(entries[hit.entry].target),
                    None => FinderOutcome::Close,
                })
            }
            Action::Down => self.cursor = (self.cursor + 1).min(last),
            Action::Up => self.cursor = self.cursor.saturating_sub(1),
            _ => return None,
        }
        Some(FinderOutcome::Stay)
    }
}
