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

/// One document of a YAML stream: its text and where its first node is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DocSpan {
    /// Byte range of the document in the stream: from its `---` (or first node) to the line
    /// before the next document's `---`, its `...` included.
    pub bytes: std::ops::Range<usize>,
    /// The 1-based line where `bytes` starts.
    pub first_line: usize,
    /// The 1-based line of its first node (for an empty document, where its null is).
    pub node_line: usize,
}

/// The documents of a YAML stream, found by reading lines, not by parsing: in valid YAML a
/// line that starts with `---` followed by a space or its end starts a document, and one
/// with `...` ends it (the specification forbids both inside scalars and flow collections,
/// block content under a key is indented, and a top-level block scalar's content too).
/// Comment, blank and directive lines hold no node. Agrees with [`document_lines`] on valid
/// YAML (tested) at a fraction of its cost; a text that does not parse is reported by the
/// parser anyway.
pub fn documents(text: &str) -> Vec<DocSpan> {
    fn marker(line: &str, m: &str) -> Option<usize> {
        let rest = line.strip_prefix(m)?;
        match rest.chars().next() {
            None | Some(' ' | '\t') => Some(m.len()),
            _ => None,
        }
    }
    fn holds_node(text: &str) -> bool {
        let t = text.trim_start_matches([' ', '\t', '\u{feff}']);
        !t.is_empty() && !t.starts_with('#')
    }
    /// The open document: where it starts (byte, line) and its first node's line.
    struct Open {
        byte: usize,
        line: usize,
        node: Option<usize>,
    }
    let mut out = Vec::new();
    let mut open: Option<Open> = None;
    let mut close = |open: &mut Option<Open>, end: usize, here: usize| {
        if let Some(o) = open.take() {
            out.push(DocSpan {
                bytes: o.byte..end,
                first_line: o.line,
                // An empty document's (null) node is where what ends it is.
                node_line: o.node.unwrap_or(here),
            });
        }
    };
    let (mut offset, mut n) = (0, 0);
    for raw in text.split_inclusive('\n') {
        n += 1;
        let begin = offset;
        offset += raw.len();
        let line = raw.strip_suffix('\n').unwrap_or(raw);
        let line = line.strip_suffix('\r').unwrap_or(line);
        if let Some(len) = marker(line, "---") {
            close(&mut open, begin, n);
            open = Some(Open {
                byte: begin,
                line: n,
                node: holds_node(&line[len..]).then_some(n),
            });
        } else if marker(line, "...").is_some() {
            close(&mut open, offset, n);
        } else if open.is_none() && line.starts_with('%') {
            // A directive, before its document's `---`.
        } else if holds_node(line) {
            match &mut open {
                Some(o) => {
                    o.node.get_or_insert(n);
                }
                // Content with no `---` before it: an implicit document.
                None => {
                    open = Some(Open {
                        byte: begin,
                        line: n,
                        node: Some(n),
                    })
                }
            }
        }
    }
    close(&mut open, text.len(), n + 1);
    out
}

/// The line where flow collections (`[`, `{`) first nest deeper than `limit`, if they do:
/// one linear pass, so that hostile nesting is refused before a parser spends quadratic time
/// on it. Brackets inside quoted scalars, comments, block scalars and plain scalars in block
/// context do not count; anchors and tags before a collection do not hide it.
pub fn nesting_beyond(text: &str, limit: usize) -> Option<usize> {
    let b = text.as_bytes();
    let len = b.len();
    let blank = |c: u8| c == b' ' || c == b'\t' || c == b'\r' || c == b'\n';
    let (mut i, mut line, mut depth) = (0, 1, 0usize);
    // Inside a block scalar: the indentation of the line that introduced it.
    let mut block_scalar: Option<usize> = None;
    let (mut line_start, mut indent) = (true, 0);
    // A node may start here (a quote or a bracket is then syntax, not text).
    let mut node_start = true;
    let mut after_space = true;
    let skip_line = |i: &mut usize| {
        while *i < len && b[*i] != b'\n' {
            *i += 1;
        }
    };
    while i < len {
        if line_start {
            let mut j = i;
            while j < len && b[j] == b' ' {
                j += 1;
            }
            let empty = j >= len || b[j] == b'\n' || b[j] == b'\r';
            if let Some(parent) = block_scalar {
                if empty || j - i > parent {
                    i = j;
                    skip_line(&mut i);
                    line_start = false;
                    continue;
                }
                block_scalar = None;
            }
            indent = j - i;
            i = j;
            line_start = false;
            node_start = true;
            after_space = true;
            continue;
        }
        let c = b[i];
        let next_blank = i + 1 >= len || blank(b[i + 1]);
        match c {
            b'\n' => {
                line += 1;
                line_start = true;
                i += 1;
                continue;
            }
            b'#' if after_space => {
                skip_line(&mut i);
                continue;
            }
            b'"' | b'\'' if node_start => {
                i += 1;
                while i < len {
                    match b[i] {
                        b'\\' if c == b'"' => i += 1,
                        b'\'' if c == b'\'' && i + 1 < len && b[i + 1] == b'\'' => i += 1,
                        q if q == c => break,
                        b'\n' => line += 1,
                        _ => {}
                    }
                    i += 1;
                }
                node_start = false;
            }
            b'[' | b'{' if node_start || depth > 0 => {
                depth += 1;
                if depth > limit {
                    return Some(line);
                }
                node_start = true;
            }
            b']' | b'}' if depth > 0 => {
                depth -= 1;
                node_start = false;
            }
            b',' if depth > 0 => node_start = true,
            b':' if depth > 0 || next_blank => node_start = true,
            b'-' | b'?' if node_start && next_blank => {}
            b'|' | b'>' if node_start && depth == 0 => {
                block_scalar = Some(indent);
                skip_line(&mut i);
                continue;
            }
            // An anchor, alias or tag: the node itself follows.
            b'&' | b'*' | b'!' if node_start => {
                while i + 1 < len
                    && !blank(b[i + 1])
                    && !(depth > 0 && b"[]{},".contains(&b[i + 1]))
                {
                    i += 1;
                }
            }
            b' ' | b'\t' | b'\r' => {}
            _ => node_start = false,
        }
        after_space = c == b' ' || c == b'\t';
        i += 1;
    }
    None
}

/// The 1-based line of each document's first node: [`documents`], lines only.
pub fn document_starts(text: &str) -> Vec<usize> {
    documents(text).into_iter().map(|d| d.node_line).collect()
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

    /// Streams whose documents begin in every way YAML allows.
    const STREAMS: &[&str] = &[
        TEXT,
        "",
        "# only a comment\n",
        "---\n",
        "---\n---\n",
        "--- \n# note\n\nkind: Pod\n",
        "# header\n\n---\nkind: A\n---\n\n  # indented comment\nkind: B\n",
        "kind: A\n...\n# after the end\nkind: B\n...\n",
        "%YAML 1.2\n---\nkind: A\n",
        "--- {kind: A}\n--- # comment\nkind: B\n",
        "---\nkind: A\ndata: |\n  ---\n  not a marker\nother: ---x\n---\n---\nkind: C\n",
        "kind: A\r\n---\r\nkind: B\r\n",
        "- a\n- b\n---\n- c\n",
        "---\nkind: A\n---\n",
        "kind: A\n----: x\nnot: marker\n",
        "---\n...\n",
        "key: \"multi\n  line\"\n---\nkind: B\n",
    ];

    #[test]
    fn reading_lines_finds_the_documents_the_parser_finds() {
        for text in STREAMS {
            assert_eq!(
                Some(document_starts(text)),
                document_lines(text),
                "{text:?}"
            );
        }
        let demo = crate::cluster::demo::DEMO_YAML;
        assert_eq!(Some(document_starts(demo)), document_lines(demo));
    }

    #[test]
    fn each_document_parses_alone_as_in_the_stream() {
        let demo = crate::cluster::demo::DEMO_YAML;
        for text in STREAMS.iter().chain([&demo]) {
            // Streams libyaml itself rejects (a bare document after `...`) are left out.
            let Ok(whole) = serde_yaml::Deserializer::from_str(text)
                .map(serde::Deserialize::deserialize)
                .take(100)
                .collect::<Result<Vec<serde_json::Value>, _>>()
            else {
                continue;
            };
            let alone: Vec<serde_json::Value> = documents(text)
                .iter()
                .map(|d| serde_yaml::from_str(&text[d.bytes.clone()]).expect("valid"))
                .collect();
            // A stream with no document at all reads as one null.
            let whole = if whole == [serde_json::Value::Null] && alone.is_empty() {
                Vec::new()
            } else {
                whole
            };
            assert_eq!(whole, alone, "{text:?}");
        }
    }

    #[test]
    fn deep_flow_nesting_is_found_in_one_pass() {
        let deep = "[".repeat(200_000);
        assert_eq!(nesting_beyond(&deep, 128), Some(1));
        let nested = format!("a:\n  b: {}{}\n", "[".repeat(129), "]".repeat(129));
        assert_eq!(nesting_beyond(&nested, 128), Some(2));
        // Anchors and tags do not hide a collection.
        let tagged = "x: ".to_string() + &"&a [!!seq ".repeat(200);
        assert_eq!(nesting_beyond(&tagged, 128), Some(1));
        // Up to the limit, and brackets that are text, are fine.
        let ok = format!("a: {}{}\n", "{x: ".repeat(128), "}".repeat(128));
        assert_eq!(nesting_beyond(&ok, 128), None);
        let text = format!(
            "a: \"{q}\"\nb: '{q}'\nc: x{q}\n# {q}\nd: |\n  {q}\n  {q}\ne: >-\n\n  {q}\nf: [1, 2]\n",
            q = "[[[[{{{{".repeat(40)
        );
        assert_eq!(nesting_beyond(&text, 128), None);
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
