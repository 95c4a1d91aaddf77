//! Fuzzy matching (fuzzy-matcher's skim algorithm) for the finder, the list filters and the
//! explain dialog's endpoint pickers.

use fuzzy_matcher::skim::SkimMatcherV2;
use fuzzy_matcher::FuzzyMatcher;

use crate::policy::{Index, PodId, PolicyId};

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
    /// A Service: the finder shows the pods behind it; explain's To field takes it.
    Service(u32),
}

impl Target {
    pub fn kind(self) -> &'static str {
        match self {
            Target::Namespace(_) => "ns",
            Target::Pod(_) => "pod",
            Target::Policy(_) => "netpol",
            Target::Label(_) => "label",
            Target::Node(_) => "node",
            Target::Service(_) => "svc",
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
    for (i, svc) in inv.services.iter().enumerate() {
        out.push(Entry {
            text: svc.reference(),
            target: Target::Service(i as u32),
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

/// The best `limit` entries for `query`, best first (ties: shorter text, then list order).
/// An empty query lists the first `limit` entries.
pub fn search(matcher: &Matcher, entries: &[Entry], query: &str, limit: usize) -> Vec<Hit> {
    search_within(matcher, entries, None, query, limit).0
}

/// Like [`search`], over `pool` (entry indices) when given; also returns every matching
/// index, which is the pool for a longer query that starts with this one (typing narrows).
pub fn search_within(
    matcher: &Matcher,
    entries: &[Entry],
    pool: Option<&[usize]>,
    query: &str,
    limit: usize,
) -> (Vec<Hit>, Vec<usize>) {
    let query = query.trim();
    if query.is_empty() {
        let hits = (0..entries.len().min(limit))
            .map(|entry| Hit {
                entry,
                score: 0,
                indices: Vec::new(),
            })
            .collect();
        return (hits, (0..entries.len()).collect());
    }
    let all: Vec<usize>;
    let pool = match pool {
        Some(p) => p,
        None => {
            all = (0..entries.len()).collect();
            &all
        }
    };
    let mut scored = score_all(matcher, entries, pool, query);
    let matching: Vec<usize> = scored.iter().map(|&(_, i)| i).collect();
    let order = |a: &(i64, usize), b: &(i64, usize)| {
        b.0.cmp(&a.0)
            .then(entries[a.1].text.len().cmp(&entries[b.1].text.len()))
            .then(a.1.cmp(&b.1))
    };
    // Only the best `limit` are shown: select them first, then sort just those.
    if scored.len() > limit {
        scored.select_nth_unstable_by(limit, order);
        scored.truncate(limit);
    }
    scored.sort_by(order);
    let hits = scored
        .into_iter()
        .map(|(score, entry)| Hit {
            entry,
            score,
            indices: matcher.indices(&entries[entry].text, query),
        })
        .collect();
    (hits, matching)
}

/// Pools larger than this are scored on every core.
const PARALLEL_FROM: usize = 8_192;

/// Scores every entry of `pool`, keeping pool order; on all cores when the pool is large.
fn score_all(
    matcher: &Matcher,
    entries: &[Entry],
    pool: &[usize],
    query: &str,
) -> Vec<(i64, usize)> {
    let score = |m: &Matcher, chunk: &[usize]| -> Vec<(i64, usize)> {
        chunk
            .iter()
            .filter_map(|&i| m.score(&entries[i].text, query).map(|s| (s, i)))
            .collect()
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    if pool.len() < PARALLEL_FROM || cores < 2 {
        return score(matcher, pool);
    }
    let size = pool.len().div_ceil(cores);
    std::thread::scope(|scope| {
        let handles: Vec<_> = pool
            .chunks(size)
            .map(|chunk| scope.spawn(move || score(&Matcher::default(), chunk)))
            .collect();
        handles
            .into_iter()
            .flat_map(|h| h.join().unwrap_or_default())
            .collect()
    })
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
        // Narrowing within the previous matches gives the same answer as a fresh search.
        let (_, pool) = search_within(&m, &list, None, "pr", 10);
        assert_eq!(pool, [0, 1]);
        let (narrowed, _) = search_within(&m, &list, Some(&pool), "prdb", 1);
        assert_eq!(narrowed, search(&m, &list, "prdb", 1));
        // Large pools are scored in parallel, with the same result as one thread.
        let many: Vec<Entry> = (0..20_000)
            .map(|i| e(&format!("ns-{}/pod-{i}", i % 97), i))
            .collect();
        let pool: Vec<usize> = (0..many.len()).collect();
        let one_thread = score_all(&m, &many, &pool[..PARALLEL_FROM - 1], "ns-5");
        let parallel = score_all(&m, &many, &pool, "ns-5");
        assert_eq!(&parallel[..one_thread.len()], one_thread.as_slice());
    }
}
