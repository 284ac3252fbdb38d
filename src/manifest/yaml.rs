//! Owns the position-aware view of a YAML document: a small tree whose every node remembers its
//! line and column, so `validate` can point at each problem rather than only the first one serde
//! meets. It also enforces what the serde_yaml family does not: duplicate keys are errors (with
//! both places), alias expansion is bounded in values and in bytes (no "billion laughs", even of
//! long strings), nesting depth is bounded.
//! It knows nothing about what a manifest means.

use std::collections::HashMap;

use saphyr_parser::{Event, Parser, ScalarStyle, Span};

/// 1-based line and column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Mark {
    pub line: usize,
    pub column: usize,
}

impl Mark {
    fn from_span(span: &Span) -> Self {
        Mark { line: span.start.line(), column: span.start.col() + 1 }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum NodeKind {
    /// `plain` scalars are resolved by YAML's core schema (null, bool, int); quoted ones are text.
    Scalar {
        text: String,
        plain: bool,
    },
    Sequence(Vec<Node>),
    Mapping(Vec<(Key, Node)>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Node {
    pub kind: NodeKind,
    pub mark: Mark,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Key {
    pub text: String,
    pub mark: Mark,
}

/// What a scalar is under YAML 1.2's core schema; decides type mismatches.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScalarType {
    Null,
    Bool,
    Integer,
    Float,
    String,
}

impl Node {
    pub fn scalar_type(&self) -> Option<ScalarType> {
        let NodeKind::Scalar { text, plain } = &self.kind else { return None };
        if !plain {
            return Some(ScalarType::String);
        }
        Some(resolve_plain(text))
    }

    pub fn is_null(&self) -> bool {
        self.scalar_type() == Some(ScalarType::Null)
    }

    pub fn as_text(&self) -> Option<&str> {
        match &self.kind {
            NodeKind::Scalar { text, .. } => Some(text),
            _ => None,
        }
    }

    /// A short description for messages: "a list", "a mapping", "the number 12", "text".
    pub fn describe(&self) -> &'static str {
        match &self.kind {
            NodeKind::Sequence(_) => "a list",
            NodeKind::Mapping(_) => "a mapping",
            NodeKind::Scalar { .. } => match self.scalar_type() {
                Some(ScalarType::Null) => "nothing (null)",
                Some(ScalarType::Bool) => "true/false",
                Some(ScalarType::Integer) => "a number",
                Some(ScalarType::Float) => "a decimal number",
                _ => "text",
            },
        }
    }
}

fn resolve_plain(text: &str) -> ScalarType {
    match text {
        "" | "~" | "null" | "Null" | "NULL" => return ScalarType::Null,
        "true" | "True" | "TRUE" | "false" | "False" | "FALSE" => return ScalarType::Bool,
        _ => {}
    }
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    let is_int = (!unsigned.is_empty() && unsigned.bytes().all(|b| b.is_ascii_digit()))
        || text.strip_prefix("0x").is_some_and(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_hexdigit()))
        || text
            .strip_prefix("0o")
            .is_some_and(|o| !o.is_empty() && o.bytes().all(|b| (b'0'..=b'7').contains(&b)));
    if is_int {
        return ScalarType::Integer;
    }
    let lower = unsigned.to_ascii_lowercase();
    if matches!(lower.as_str(), ".inf" | ".nan")
        || (text.parse::<f64>().is_ok() && text.contains(['.', 'e', 'E']))
    {
        return ScalarType::Float;
    }
    ScalarType::String
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum YamlErrorKind {
    Syntax(String),
    DuplicateKey { key: String, first: Mark },
    ComplexKey,
    MultipleDocuments,
    TooManyNodes { limit: usize },
    TooMuchText { limit: usize },
    TooDeep { limit: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct YamlError {
    pub kind: YamlErrorKind,
    pub mark: Mark,
}

/// Alias expansion budget: far above any real manifest (10,000 numbers ≈ 80,000 nodes),
/// far below what would exhaust memory.
pub const MAX_NODES: usize = 500_000;
/// The text of every scalar once aliases are expanded: a few repeated aliases of one long
/// string would otherwise multiply it past any memory while staying under the node budget.
/// Far above a real manifest (10,000 numbers ≈ 1 MiB).
pub const MAX_TEXT_BYTES: usize = 16 * 1024 * 1024;
pub const MAX_DEPTH: usize = 64;

/// What a node costs once expanded: values and bytes of scalar text.
#[derive(Debug, Clone, Copy, Default)]
struct Weight {
    nodes: usize,
    bytes: usize,
}

impl Weight {
    fn add(self, other: Weight) -> Weight {
        Weight {
            nodes: self.nodes.saturating_add(other.nodes),
            bytes: self.bytes.saturating_add(other.bytes),
        }
    }
}

enum Frame {
    Sequence {
        items: Vec<Node>,
        mark: Mark,
        anchor: usize,
    },
    Mapping {
        entries: Vec<(Key, Node)>,
        pending_key: Option<Key>,
        seen: HashMap<String, Mark>,
        mark: Mark,
        anchor: usize,
    },
}

/// Parses one YAML document. `Ok(None)` for an empty document (only comments or whitespace).
/// Every duplicate key is reported (not only the first); a syntax error stops the parse.
pub fn parse(text: &str) -> Result<Option<Node>, Vec<YamlError>> {
    let mut builder = Builder::default();
    for item in Parser::new_from_str(text) {
        let (event, span) = match item {
            Ok(pair) => pair,
            Err(error) => {
                let marker = error.marker();
                builder.errors.push(YamlError {
                    kind: YamlErrorKind::Syntax(error.info().to_owned()),
                    mark: Mark { line: marker.line(), column: marker.col() + 1 },
                });
                return Err(builder.errors);
            }
        };
        if let Err(error) = builder.event(event, Mark::from_span(&span)) {
            builder.errors.push(error);
            return Err(builder.errors);
        }
    }
    if builder.errors.is_empty() { Ok(builder.root) } else { Err(builder.errors) }
}

#[derive(Default)]
struct Builder {
    stack: Vec<Frame>,
    anchors: HashMap<usize, (Node, Weight)>,
    root: Option<Node>,
    documents: usize,
    spent: Weight,
    errors: Vec<YamlError>,
}

impl Builder {
    fn event(&mut self, event: Event<'_>, mark: Mark) -> Result<(), YamlError> {
        match event {
            Event::DocumentStart(_) => {
                self.documents += 1;
                if self.documents > 1 {
                    return Err(YamlError { kind: YamlErrorKind::MultipleDocuments, mark });
                }
            }
            Event::Scalar(value, style, anchor, _tag) => {
                let weight = Weight { nodes: 1, bytes: value.len() };
                let node = Node {
                    kind: NodeKind::Scalar { text: value.into_owned(), plain: style == ScalarStyle::Plain },
                    mark,
                };
                self.spend(weight, mark)?;
                self.attach(node, anchor, weight)?;
            }
            Event::SequenceStart(anchor, _) => {
                self.enter(mark)?;
                self.stack.push(Frame::Sequence { items: Vec::new(), mark, anchor });
            }
            Event::MappingStart(anchor, _) => {
                self.enter(mark)?;
                self.stack.push(Frame::Mapping {
                    entries: Vec::new(),
                    pending_key: None,
                    seen: HashMap::new(),
                    mark,
                    anchor,
                });
            }
            Event::SequenceEnd | Event::MappingEnd => {
                let Some(frame) = self.stack.pop() else { return Ok(()) };
                let (node, anchor) = match frame {
                    Frame::Sequence { items, mark, anchor } => {
                        (Node { kind: NodeKind::Sequence(items), mark }, anchor)
                    }
                    Frame::Mapping { entries, mark, anchor, .. } => {
                        (Node { kind: NodeKind::Mapping(entries), mark }, anchor)
                    }
                };
                let weight = weigh(&node);
                self.attach(node, anchor, weight)?;
            }
            Event::Alias(id) => {
                // Checked before the copy is made: the budget is what keeps the copy small.
                let Some(weight) = self.anchors.get(&id).map(|(_, weight)| *weight) else {
                    return Err(YamlError { kind: YamlErrorKind::Syntax("unknown alias".into()), mark });
                };
                self.spend(weight, mark)?;
                let Some((mut node, _)) = self.anchors.get(&id).cloned() else { return Ok(()) };
                node.mark = mark;
                self.attach(node, 0, weight)?;
            }
            Event::StreamStart | Event::StreamEnd | Event::DocumentEnd | Event::Nothing => {}
        }
        Ok(())
    }

    fn enter(&mut self, mark: Mark) -> Result<(), YamlError> {
        if self.stack.len() >= MAX_DEPTH {
            return Err(YamlError { kind: YamlErrorKind::TooDeep { limit: MAX_DEPTH }, mark });
        }
        if let Some(Frame::Mapping { pending_key: None, .. }) = self.stack.last() {
            // A mapping or list used as a key: YAML allows it, no manifest needs it.
            return Err(YamlError { kind: YamlErrorKind::ComplexKey, mark });
        }
        Ok(())
    }

    /// Counts a scalar or an alias's copy against the budgets.
    fn spend(&mut self, weight: Weight, mark: Mark) -> Result<(), YamlError> {
        self.spent = self.spent.add(weight);
        if self.spent.nodes > MAX_NODES {
            return Err(YamlError { kind: YamlErrorKind::TooManyNodes { limit: MAX_NODES }, mark });
        }
        if self.spent.bytes > MAX_TEXT_BYTES {
            return Err(YamlError { kind: YamlErrorKind::TooMuchText { limit: MAX_TEXT_BYTES }, mark });
        }
        Ok(())
    }

    /// Places a finished node into its parent (or as the root), remembering anchors.
    fn attach(&mut self, node: Node, anchor: usize, weight: Weight) -> Result<(), YamlError> {
        if anchor != 0 {
            self.anchors.insert(anchor, (node.clone(), weight));
        }
        match self.stack.last_mut() {
            None => self.root = Some(node),
            Some(Frame::Sequence { items, .. }) => items.push(node),
            Some(Frame::Mapping { entries, pending_key, seen, .. }) => match pending_key.take() {
                Some(key) => entries.push((key, node)),
                None => {
                    let NodeKind::Scalar { text, .. } = node.kind else {
                        return Err(YamlError { kind: YamlErrorKind::ComplexKey, mark: node.mark });
                    };
                    if let Some(first) = seen.get(&text) {
                        self.errors.push(YamlError {
                            kind: YamlErrorKind::DuplicateKey { key: text.clone(), first: *first },
                            mark: node.mark,
                        });
                    } else {
                        seen.insert(text.clone(), node.mark);
                    }
                    *pending_key = Some(Key { text, mark: node.mark });
                }
            },
        }
        Ok(())
    }
}

fn weigh(node: &Node) -> Weight {
    let one = Weight { nodes: 1, bytes: 0 };
    match &node.kind {
        NodeKind::Scalar { text, .. } => Weight { nodes: 1, bytes: text.len() },
        NodeKind::Sequence(items) => items.iter().map(weigh).fold(one, Weight::add),
        NodeKind::Mapping(entries) => entries
            .iter()
            .map(|(key, value)| Weight { nodes: 1, bytes: key.text.len() }.add(weigh(value)))
            .fold(one, Weight::add),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scalar(node: &Node) -> &str {
        node.as_text().unwrap()
    }

    #[test]
    fn keeps_positions_of_keys_and_values() {
        let root = parse("version: 1\ndestinations:\n  - waba: \"12\"\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = &root.kind else { panic!() };
        assert_eq!(entries[0].0.text, "version");
        assert_eq!(entries[0].0.mark, Mark { line: 1, column: 1 });
        assert_eq!(entries[0].1.mark, Mark { line: 1, column: 10 });
        let NodeKind::Sequence(items) = &entries[1].1.kind else { panic!() };
        let NodeKind::Mapping(inner) = &items[0].kind else { panic!() };
        assert_eq!(inner[0].1.mark, Mark { line: 3, column: 11 });
        assert_eq!(scalar(&inner[0].1), "12");
        assert_eq!(inner[0].1.scalar_type(), Some(ScalarType::String));
    }

    #[test]
    fn every_duplicate_key_is_reported_with_both_places() {
        let errors = parse("a: 1\nb: 2\na: 3\nb: 4\n").unwrap_err();
        assert_eq!(errors.len(), 2);
        assert_eq!(
            errors[0].kind,
            YamlErrorKind::DuplicateKey { key: "a".into(), first: Mark { line: 1, column: 1 } }
        );
        assert_eq!(errors[0].mark, Mark { line: 3, column: 1 });
    }

    #[test]
    fn empty_documents_have_no_root() {
        assert_eq!(parse("").unwrap(), None);
        assert_eq!(parse("# only a comment\n").unwrap(), None);
    }

    #[test]
    fn alias_bombs_stop_at_the_budget() {
        let mut text = String::from("a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n");
        for level in 1..12 {
            let prev = level - 1;
            text.push_str(&format!(
                "a{level}: &a{level} [*a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}, *a{prev}]\n"
            ));
        }
        let errors = parse(&text).unwrap_err();
        assert!(matches!(errors[0].kind, YamlErrorKind::TooManyNodes { .. }));
    }

    #[test]
    fn aliases_of_a_long_string_stop_at_the_text_budget() {
        // 11 KB of YAML: a 10 KB string, then five levels of ten aliases, a million copies.
        let mut text = format!("s: &s \"{}\"\n", "x".repeat(10_000));
        text.push_str("a0: &a0 [*s, *s, *s, *s, *s, *s, *s, *s, *s, *s]\n");
        for level in 1..6 {
            let prev = level - 1;
            let items = vec![format!("*a{prev}"); 10].join(", ");
            text.push_str(&format!("a{level}: &a{level} [{items}]\n"));
        }
        assert!(text.len() < 11_000);
        let errors = parse(&text).unwrap_err();
        assert!(matches!(errors[0].kind, YamlErrorKind::TooMuchText { .. }), "{:?}", errors[0].kind);
    }

    #[test]
    fn small_aliases_expand() {
        let root = parse("base: &b {x: 1}\ncopy: *b\n").unwrap().unwrap();
        let NodeKind::Mapping(entries) = &root.kind else { panic!() };
        assert_eq!(entries[1].1.mark, Mark { line: 2, column: 7 });
        assert!(matches!(entries[1].1.kind, NodeKind::Mapping(_)));
    }

    #[test]
    fn deep_nesting_is_refused() {
        let text = "[".repeat(10_000);
        let errors = parse(&text).unwrap_err();
        assert!(matches!(errors[0].kind, YamlErrorKind::TooDeep { .. } | YamlErrorKind::Syntax(_)));
    }

    #[test]
    fn syntax_errors_carry_a_position() {
        let errors = parse("a: [1, 2\nb: 3\n").unwrap_err();
        assert!(matches!(errors[0].kind, YamlErrorKind::Syntax(_)));
        assert!(errors[0].mark.line >= 1);
    }

    #[test]
    fn several_documents_are_refused() {
        let errors = parse("a: 1\n---\nb: 2\n").unwrap_err();
        assert_eq!(errors[0].kind, YamlErrorKind::MultipleDocuments);
    }

    #[test]
    fn plain_scalars_resolve_like_the_core_schema() {
        for (text, expected) in [
            ("~", ScalarType::Null),
            ("true", ScalarType::Bool),
            ("yes", ScalarType::String),
            ("104996122399160", ScalarType::Integer),
            ("+16315555555", ScalarType::Integer),
            ("1.5", ScalarType::Float),
            ("v23.0", ScalarType::String),
            ("SMS", ScalarType::String),
        ] {
            assert_eq!(resolve_plain(text), expected, "{text}");
        }
    }
}
