//! Fuzzy matching (fuzzy-matcher's skim algorithm) for the finder, the list filters and the
//! explain dialog's endpoint pickers, and the one-line text input they share.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use crate::policy::{Index, PodId, PolicyId};

/// A one-line text input; the cursor stays at the end.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LineInput {
    pub text: String,
}

impl LineInput {
    pub fn with(text: &str) -> LineInput {
        LineInput {
            text: text.to_string(),
        }
    }

    pub fn push(&mut self, c: char) {
        self.text.push(c);
    }

    pub fn backspace(&mut self) {
        self.text.pop();
    }

    /// Deletes the last word (Ctrl-W).
    pub fn delete_word(&mut self) {
        let trimmed = self.text.trim_end().len();
        self.text.truncate(trimmed);
        let cut = self
            .text
            .rfind(|c: char| c.is_whitespace() || c == '/')
            .map(|i| i + 1)
            .unwrap_or(0);
        self.text.truncate(cut);
    }

    pub fn clear(&mut self) {
        self.text.clear();
    }
}

pub struct Matcher {
    inner: SkimMatcherV2,
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher {
            inner: SkimMatcherV2::default().smart_case(),
        }
    }
}

impl std::fmt::Debug for Matcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Matcher")
    }
}

impl Clone for Matcher {
    fn clone(&self) -> Self {
        Matcher::default()
    }
}

impl Matcher {
    pub fn score(&self, text: &str, query: &str) -> Option<i64> {
        self.inner.fuzzy_match(text, query)
    }

    /// Char indices of `text` that `query` matched.
    pub fn indices(&self, text: &str, query: &str) -> Vec<usize> {
        self.inner
            .fuzzy_indices(text, query)
            .map(|(_, i)| i)
            .unwrap_or_default()
    }
}

/// What a finder entry leads to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Target {
    Namespace(u32),
    Pod(PodId),
    Policy(PolicyId),
    /// A distinct `key=value` of pod labels (index into the label list).
    Label(u32),
    /// A node (explain's endpoint pickers only).
    Node(u32),
}

impl Target {
    pub fn kind(self) -> &'static str {
        match self {
            Target::Namespace(_) => "ns",
            Target::Pod(_) => "pod",
            Target::Policy(_) => "netpol",
            Target::Label(_) => "label",
            Target::Node(_) => "node",
        }
    }
}

#[derive(Debug, Clone)]
pub struct Entry {
    pub text: String,
    pub target: Target,
}

/// Every entry the finder can jump to, made once per snapshot.
pub fn entries(index: &Index) -> Vec<Entry> {
    let inv = index.inventory();
    let mut out = Vec::with_capacity(inv.namespaces.len() + inv.pods.len() * 2);
    for (i, ns) in inv.namespaces.iter().enumerate() {
        out.push(Entry {
            text: ns.name.clone(),
            target: Target::Namespace(i as u32),
        });
    }
    for (i, p) in inv.pods.iter().enumerate() {
        out.push(Entry {
            text: p.key(),
            target: Target::Pod(i as PodId),
        });
    }
    for (i, p) in index.policies().policies.iter().enumerate() {
        out.push(Entry {
            text: p.key(),
            target: Target::Policy(i as PolicyId),
        });
    }
    let mut labels: Vec<String> = inv
        .pods
        .iter()
        .flat_map(|p| p.labels.iter().map(|(k, v)| format!("{k}={v}")))
        .collect();
    labels.sort();
    labels.dedup();
    for (i, l) in labels.into_iter().enumerate() {
        out.push(Entry {
            text: l,
            target: Target::Label(i as u32),
        });
    }
    out
}

/// One result: which entry, its score, and the matched characters.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Hit {
    pub entry: usize,
    pub score: i64,
    pub indices: Vec<usize>,
}

/// The best `limit` entries for `query`, best first (ties keep list order). An empty query
/// lists the first `limit` entries.
pub fn search(matcher: &Matcher, entries: &[Entry], query: &str, limit: usize) -> Vec<Hit> {
    let query = query.trim();
    if query.is_empty() {
        return (0..entries.len().min(limit))
            .map(|entry| Hit {
                entry,
                score: 0,
                indices: Vec::new(),
            })
            .collect();
    }
    let mut hits: Vec<(i64, usize)> = entries
        .iter()
        .enumerate()
        .filter_map(|(i, e)| matcher.score(&e.text, query).map(|s| (s, i)))
        .collect();
    // Best score first; among equals, shorter text, then list order.
    hits.sort_by(|a, b| {
        b.0.cmp(&a.0)
            .then(entries[a.1].text.len().cmp(&entries[b.1].text.len()))
            .then(a.1.cmp(&b.1))
    });
    hits.truncate(limit);
    hits.into_iter()
        .map(|(score, entry)| Hit {
            entry,
            score,
            indices: matcher.indices(&entries[entry].text, query),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(text: &str, i: u32) -> Entry {
        Entry {
            text: text.into(),
            target: Target::Pod(i),
        }
    }

    #[test]
    fn best_match_first_with_highlights() {
        let list = [
            e("production/frontend", 0),
            e("production/database", 1),
            e("development/dev-shell", 2),
        ];
        let m = Matcher::default();
        let hits = search(&m, &list, "prdb", 10);
        assert_eq!(hits[0].entry, 1);
        let chars: String = hits[0]
            .indices
            .iter()
            .map(|&i| list[1].text.chars().nth(i).unwrap_or('?'))
            .collect();
        assert_eq!(chars, "prdb");
        assert!(search(&m, &list, "zzz", 10).is_empty());
        assert_eq!(search(&m, &list, "", 2).len(), 2);
    }

    #[test]
    fn line_input_edits() {
        let mut l = LineInput::with("production/front");
        l.delete_word();
        assert_eq!(l.text, "production/");
        l.push('x');
        l.backspace();
        l.backspace();
        assert_eq!(l.text, "production");
    }
}
