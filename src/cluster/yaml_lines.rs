//! Maps field paths (`spec.ingress[0].ports[1].port`) to lines of a YAML text, so that
//! errors found after parsing can still point at the line to fix.
//!
//! serde_yaml gives values without positions; this re-reads the text with yaml-rust2's
//! marked events, only when there is something to report.

use std::collections::HashMap;

use yaml_rust2::parser::{Event, MarkedEventReceiver, Parser};
use yaml_rust2::scanner::Marker;

#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum Segment {
    Key(String),
    Index(usize),
}

/// Splits `a.b[0].c[key]` into segments; `[n]` is an index, `[text]` a map key.
pub fn parse_path(path: &str) -> Vec<Segment> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut chars = path.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '.' => {
                if !cur.is_empty() {
                    out.push(Segment::Key(std::mem::take(&mut cur)));
                }
            }
            '[' => {
                if !cur.is_empty() {
                    out.push(Segment::Key(std::mem::take(&mut cur)));
                }
                let mut inner = String::new();
                for c in chars.by_ref() {
                    if c == ']' {
                        break;
                    }
                    inner.push(c);
                }
                out.push(match inner.parse::<usize>() {
                    Ok(i) => Segment::Index(i),
                    Err(_) => Segment::Key(inner),
                });
            }
            _ => cur.push(c),
        }
    }
    if !cur.is_empty() {
        out.push(Segment::Key(cur));
    }
    out
}

enum Container {
    /// A mapping; `key` holds the key just read, waiting for its value.
    Map {
        key: Option<String>,
    },
    Seq {
        next: usize,
    },
}

struct Frame {
    container: Container,
    /// Whether entering this collection pushed a path segment (false for the root).
    pushed: bool,
}

/// Which nodes' lines to keep: recording every node of a large document would cost a
/// path per node, so each use asks only for what it needs.
#[derive(Default)]
enum Want {
    #[default]
    Nothing,
    /// The nodes along one path (a field and its ancestors).
    Path(Vec<Segment>),
    /// The entries of a top-level `items` list (`kind: List`).
    Items,
}

/// Lines (1-based) of the wanted nodes of one document, by path.
#[derive(Default)]
struct Collector {
    want: Want,
    want_doc: usize,
    doc: Option<usize>,
    doc_starts: Vec<usize>,
    /// The document's marker line, until its first node gives a better one.
    pending_start: Option<usize>,
    stack: Vec<Frame>,
    path: Vec<Segment>,
    lines: HashMap<Vec<Segment>, usize>,
}

impl Collector {
    /// Records the line of the node `segment` below the current path, if it is wanted.
    fn record(&mut self, segment: &Segment, line: usize) {
        if self.doc != Some(self.want_doc) {
            return;
        }
        let depth = self.path.len();
        let wanted = match &self.want {
            Want::Nothing => false,
            Want::Path(target) => {
                target.len() > depth
                    && target[..depth] == self.path[..]
                    && target[depth] == *segment
            }
            Want::Items => {
                depth == 1
                    && self.path[0] == Segment::Key("items".into())
                    && matches!(segment, Segment::Index(_))
            }
        };
        if wanted {
            let mut p = self.path.clone();
            p.push(segment.clone());
            self.lines.entry(p).or_insert(line);
        }
    }

    /// A node begins. A scalar in key position becomes the pending key and `None` is
    /// returned; otherwise the node's segment (none at the root) is returned.
    fn begin_node(&mut self, scalar: Option<&str>, line: usize) -> Option<Option<Segment>> {
        let segment = match self.stack.last_mut().map(|f| &mut f.container) {
            None => None,
            Some(Container::Map { key }) => match key.take() {
                Some(k) => Some(Segment::Key(k)),
                None => {
                    // Key position. Only scalar keys name fields; others are skipped.
                    let k = scalar.unwrap_or_default().to_string();
                    *key = Some(k.clone());
                    self.record(&Segment::Key(k), line);
                    return None;
                }
            },
            Some(Container::Seq { next }) => {
                *next += 1;
                Some(Segment::Index(*next - 1))
            }
        };
        if let Some(seg) = &segment {
            self.record(seg, line);
        }
        Some(segment)
    }

    fn begin_collection(&mut self, container: Container, line: usize) {
        let segment = self.begin_node(None, line).flatten();
        let pushed = segment.is_some();
        if let Some(seg) = segment {
            self.path.push(seg);
        }
        self.stack.push(Frame { container, pushed });
    }
}

impl MarkedEventReceiver for Collector {
    fn on_event(&mut self, ev: Event, mark: Marker) {
        let line = mark.line();
        let is_node = matches!(
            ev,
            Event::Scalar(..) | Event::MappingStart(..) | Event::SequenceStart(..)
        );
        if is_node && self.pending_start.take().is_some() {
            self.doc_starts.push(line);
        }
        match ev {
            Event::DocumentStart => {
                self.doc = Some(self.doc.map_or(0, |d| d + 1));
                self.pending_start = Some(line);
                self.stack.clear();
                self.path.clear();
            }
            Event::DocumentEnd => {
                if let Some(marker) = self.pending_start.take() {
                    self.doc_starts.push(marker);
                }
            }
            Event::Scalar(value, ..) => {
                self.begin_node(Some(&value), line);
            }
            Event::MappingStart(..) => self.begin_collection(Container::Map { key: None }, line),
            Event::SequenceStart(..) => self.begin_collection(Container::Seq { next: 0 }, line),
            Event::MappingEnd | Event::SequenceEnd => {
                if let Some(frame) = self.stack.pop() {
                    if frame.pushed {
                        self.path.pop();
                    }
                }
            }
            _ => {}
        }
    }
}

/// The 1-based start line of each document in a YAML stream; `None` if the text does not
/// parse (the YAML parser then reports the syntax error itself).
pub fn document_lines(text: &str) -> Option<Vec<usize>> {
    let mut c = Collector {
        want_doc: usize::MAX,
        ..Default::default()
    };
    Parser::new_from_str(text).load(&mut c, true).ok()?;
    Some(c.doc_starts)
}

/// The line of the node at `path` in document `doc` (0-based), or of its nearest ancestor
/// that exists in the text.
pub fn line_of(text: &str, doc: usize, path: &str) -> Option<usize> {
    let mut segments = parse_path(path);
    let mut c = Collector {
        want: Want::Path(segments.clone()),
        want_doc: doc,
        ..Default::default()
    };
    // A later syntax error does not matter for nodes already seen.
    let _ = Parser::new_from_str(text).load(&mut c, true);
    while !segments.is_empty() {
        if let Some(line) = c.lines.get(&segments) {
            return Some(*line);
        }
        segments.pop();
    }
    c.doc_starts.get(doc).copied()
}

/// The line of each entry of the top-level `items` list of document `doc`, in order: one
/// pass for all the objects of a `kind: List`.
pub fn item_lines(text: &str, doc: usize) -> Vec<usize> {
    let mut c = Collector {
        want: Want::Items,
        want_doc: doc,
        ..Default::default()
    };
    let _ = Parser::new_from_str(text).load(&mut c, true);
    let mut items: Vec<(usize, usize)> = c
        .lines
        .into_iter()
        .filter_map(|(path, line)| match path.as_slice() {
            [_, Segment::Index(i)] => Some((*i, line)),
            _ => None,
        })
        .collect();
    items.sort();
    items.into_iter().map(|(_, line)| line).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = "\
apiVersion: v1
kind: Namespace
metadata:
  name: a
---
kind: NetworkPolicy
spec:
  podSelector:
    matchLabels:
      app: web
  ingress:
  - from:
    - ipBlock:
        cidr: 10.0.0.0/33
    ports:
    - port: 80
    - {port: x, protocol: UDP}
";

    #[test]
    fn documents_start_where_they_start() {
        assert_eq!(document_lines(TEXT).unwrap(), vec![1, 6]);
    }

    #[test]
    fn paths_resolve_to_lines() {
        assert_eq!(
            line_of(TEXT, 1, "spec.ingress[0].from[0].ipBlock.cidr"),
            Some(14)
        );
        assert_eq!(
            line_of(TEXT, 1, "spec.ingress[0].ports[1].protocol"),
            Some(17)
        );
        assert_eq!(line_of(TEXT, 1, "spec.ingress[0].ports[0]"), Some(16));
        assert_eq!(
            line_of(TEXT, 1, "spec.podSelector.matchLabels[app]"),
            Some(10)
        );
        assert_eq!(line_of(TEXT, 0, "metadata.name"), Some(4));
        // A path that does not exist falls back to its nearest ancestor.
        assert_eq!(line_of(TEXT, 1, "spec.egress[0]"), Some(7));
        assert_eq!(line_of(TEXT, 1, "nothing"), Some(6));
    }

    #[test]
    fn list_items_have_lines() {
        let text = "kind: List\nitems:\n- kind: Pod\n  metadata: {name: a}\n- kind: Pod\n  metadata: {name: b}\n";
        assert_eq!(item_lines(text, 0), vec![3, 5]);
    }

    #[test]
    fn path_parsing() {
        assert_eq!(
            parse_path("a.b[2].c[k.x/y]"),
            vec![
                Segment::Key("a".into()),
                Segment::Key("b".into()),
                Segment::Index(2),
                Segment::Key("c".into()),
                Segment::Key("k.x/y".into()),
            ]
        );
    }
}
