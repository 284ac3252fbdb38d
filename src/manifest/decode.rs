//! Owns the structural reading of a manifest: it walks the positioned YAML tree against the JSON
//! Schema that schemars derives from the manifest types, so the checker cannot drift from the
//! types. It reports every unknown key, missing key, wrong type and value outside an enum with its
//! position, keeps going past them (dropping what is wrong) and yields JSON that serde turns into
//! the typed manifest. Meaning (phone numbers, duplicates, PINs) is checked elsewhere.

use std::collections::HashMap;

use serde_json::{Map, Value};

use super::yaml::{Mark, Node, NodeKind, ScalarType};

/// Where each key and value of the document is, by path (`destinations[0].numbers[1].phone`).
#[derive(Debug, Default, Clone)]
pub struct PositionIndex {
    values: HashMap<String, Mark>,
    keys: HashMap<String, Mark>,
    /// For each list, the original positions of the items that were kept, so a typed item
    /// still finds its place after a broken sibling was left out.
    kept: HashMap<String, Vec<usize>>,
    /// How many items each list had as written, kept or not.
    lengths: HashMap<String, usize>,
}

impl PositionIndex {
    pub fn value(&self, path: &str) -> Option<Mark> {
        self.values.get(path).copied()
    }

    pub fn key(&self, path: &str) -> Option<Mark> {
        self.keys.get(path).copied()
    }

    /// How many items the list at `list_path` had as written.
    pub fn written_len(&self, list_path: &str) -> Option<usize> {
        self.lengths.get(list_path).copied()
    }

    /// The path of the `typed_index`-th kept item of the list at `list_path`.
    pub fn item(&self, list_path: &str, typed_index: usize) -> String {
        let original = self.kept.get(list_path).and_then(|kept| kept.get(typed_index)).copied();
        item_path(list_path, original.unwrap_or(typed_index))
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum IssueKind {
    UnknownKey { key: String, suggestion: Option<String>, known: Vec<String> },
    MissingKey { key: String },
    WrongType { expected: String, found: &'static str },
    NotAllowed { found: String, allowed: Vec<String> },
    OutOfRange { found: String, min: Option<i64>, max: Option<i64> },
    NoVariant { forms: Vec<String>, found: &'static str },
}

/// A structural problem at `path` (the containing mapping's path for unknown and missing keys).
#[derive(Debug, Clone, PartialEq)]
pub struct Issue {
    pub path: String,
    pub mark: Mark,
    pub kind: IssueKind,
}

pub struct Decoded {
    /// The document with everything wrong left out, ready for `serde_json::from_value`.
    pub value: Option<Value>,
    pub index: PositionIndex,
    pub issues: Vec<Issue>,
}

pub fn decode(root: &Node, schema: &Value) -> Decoded {
    let mut decoder = Decoder { root_schema: schema, index: PositionIndex::default(), issues: Vec::new() };
    let value = decoder.walk(root, schema, "");
    Decoded { value, index: decoder.index, issues: decoder.issues }
}

pub fn child_path(parent: &str, key: &str) -> String {
    if parent.is_empty() { key.to_owned() } else { format!("{parent}.{key}") }
}

pub fn item_path(parent: &str, index: usize) -> String {
    format!("{parent}[{index}]")
}

struct Decoder<'s> {
    root_schema: &'s Value,
    index: PositionIndex,
    issues: Vec<Issue>,
}

impl<'s> Decoder<'s> {
    fn resolve(&self, mut schema: &'s Value) -> &'s Value {
        // Bounded so a self-referencing schema cannot loop.
        for _ in 0..16 {
            let Some(reference) = schema.get("$ref").and_then(Value::as_str) else { break };
            let Some(name) = reference.strip_prefix("#/$defs/") else { break };
            match self.root_schema.get("$defs").and_then(|defs| defs.get(name)) {
                Some(target) => schema = target,
                None => break,
            }
        }
        schema
    }

    fn issue(&mut self, path: &str, mark: Mark, kind: IssueKind) {
        self.issues.push(Issue { path: path.to_owned(), mark, kind });
    }

    fn walk(&mut self, node: &Node, schema: &'s Value, path: &str) -> Option<Value> {
        let schema = self.resolve(schema);
        self.index.values.insert(path.to_owned(), node.mark);
        if let Some(variants) = schema.get("anyOf").or_else(|| schema.get("oneOf")).and_then(Value::as_array)
        {
            return self.walk_variants(node, variants, path);
        }
        let types = type_names(schema);
        if node.is_null() {
            if types.contains(&"null") {
                return Some(Value::Null);
            }
            self.issue(
                path,
                node.mark,
                IssueKind::WrongType { expected: expected_text(schema), found: node.describe() },
            );
            return None;
        }
        let primary = types.iter().copied().find(|t| *t != "null").unwrap_or("any");
        let value = match primary {
            "object" => return self.walk_object(node, schema, path),
            "array" => return self.walk_array(node, schema, path),
            "string" => match node.as_text() {
                Some(text) => Value::String(text.to_owned()),
                None => return self.wrong_type(node, schema, path),
            },
            "integer" => match (node.scalar_type(), node.as_text().and_then(|t| t.parse::<i64>().ok())) {
                (Some(ScalarType::Integer), Some(number)) => {
                    let min = schema.get("minimum").and_then(Value::as_i64);
                    let max = schema.get("maximum").and_then(Value::as_i64);
                    if min.is_some_and(|m| number < m) || max.is_some_and(|m| number > m) {
                        self.issue(
                            path,
                            node.mark,
                            IssueKind::OutOfRange { found: number.to_string(), min, max },
                        );
                        return None;
                    }
                    Value::from(number)
                }
                _ => return self.wrong_type(node, schema, path),
            },
            "boolean" => match (node.scalar_type(), node.as_text()) {
                (Some(ScalarType::Bool), Some(text)) => Value::Bool(text.eq_ignore_ascii_case("true")),
                _ => return self.wrong_type(node, schema, path),
            },
            _ => return None,
        };
        if let (Some(allowed), Value::String(found)) = (schema.get("enum").and_then(Value::as_array), &value)
        {
            let allowed: Vec<String> = allowed.iter().filter_map(Value::as_str).map(str::to_owned).collect();
            if !allowed.contains(found) {
                self.issue(path, node.mark, IssueKind::NotAllowed { found: found.clone(), allowed });
                return None;
            }
        }
        Some(value)
    }

    fn wrong_type(&mut self, node: &Node, schema: &Value, path: &str) -> Option<Value> {
        self.issue(
            path,
            node.mark,
            IssueKind::WrongType { expected: expected_text(schema), found: node.describe() },
        );
        None
    }

    /// `Option<T>` becomes `anyOf [T, null]`; an enum of objects (secret references) becomes
    /// `oneOf`, told apart by which required key the mapping has.
    fn walk_variants(&mut self, node: &Node, variants: &'s [Value], path: &str) -> Option<Value> {
        let resolved: Vec<&'s Value> = variants.iter().map(|v| self.resolve(v)).collect();
        let nullable = resolved.iter().any(|v| type_names(v).contains(&"null"));
        if node.is_null() && nullable {
            return Some(Value::Null);
        }
        let candidates: Vec<&'s Value> =
            resolved.iter().copied().filter(|v| type_names(v) != ["null"]).collect();
        if let [only] = candidates.as_slice() {
            if let Some(inner) = only.get("anyOf").or_else(|| only.get("oneOf")).and_then(Value::as_array) {
                return self.walk_variants(node, inner, path);
            }
            return self.walk(node, only, path);
        }
        let forms: Vec<String> = candidates.iter().map(|v| variant_form(v)).collect();
        if let NodeKind::Mapping(entries) = &node.kind {
            let matching: Vec<&'s Value> = candidates
                .iter()
                .copied()
                .filter(|variant| {
                    required_keys(variant).iter().all(|key| entries.iter().any(|(k, _)| k.text == *key))
                })
                .collect();
            if let [only] = matching.as_slice() {
                return self.walk(node, only, path);
            }
        }
        self.issue(path, node.mark, IssueKind::NoVariant { forms, found: node.describe() });
        None
    }

    fn walk_object(&mut self, node: &Node, schema: &'s Value, path: &str) -> Option<Value> {
        let NodeKind::Mapping(entries) = &node.kind else {
            return self.wrong_type(node, schema, path);
        };
        let properties = schema.get("properties").and_then(Value::as_object);
        let closed = schema.get("additionalProperties") == Some(&Value::Bool(false));
        let mut object = Map::new();
        let mut broken = false;
        let mut suggested: Vec<String> = Vec::new();
        for (key, value) in entries {
            let key_path = child_path(path, &key.text);
            self.index.keys.insert(key_path.clone(), key.mark);
            match properties.and_then(|p| p.get(&key.text)) {
                Some(property) => match self.walk(value, property, &key_path) {
                    Some(decoded) => {
                        object.insert(key.text.clone(), decoded);
                    }
                    None => broken |= is_required(schema, &key.text),
                },
                None if closed => {
                    let known: Vec<String> =
                        properties.map(|p| p.keys().cloned().collect()).unwrap_or_default();
                    let suggestion = closest(&key.text, &known);
                    suggested.extend(suggestion.clone());
                    self.issue(
                        path,
                        key.mark,
                        IssueKind::UnknownKey { key: key.text.clone(), suggestion, known },
                    );
                }
                None => {}
            }
        }
        for key in required_keys(schema) {
            if !entries.iter().any(|(k, _)| k.text == key) {
                // A misspelt required key already has its "did you mean"; saying it is
                // missing as well would only repeat it.
                if !suggested.iter().any(|s| s == key) {
                    self.issue(path, node.mark, IssueKind::MissingKey { key: key.to_owned() });
                }
                broken = true;
            }
        }
        if broken { None } else { Some(Value::Object(object)) }
    }

    fn walk_array(&mut self, node: &Node, schema: &'s Value, path: &str) -> Option<Value> {
        let NodeKind::Sequence(items) = &node.kind else {
            return self.wrong_type(node, schema, path);
        };
        let item_schema = schema.get("items").unwrap_or(&Value::Null);
        let mut values = Vec::new();
        let mut kept = Vec::new();
        for (index, item) in items.iter().enumerate() {
            if let Some(value) = self.walk(item, item_schema, &item_path(path, index)) {
                values.push(value);
                kept.push(index);
            }
        }
        self.index.kept.insert(path.to_owned(), kept);
        self.index.lengths.insert(path.to_owned(), items.len());
        Some(Value::Array(values))
    }
}

fn type_names(schema: &Value) -> Vec<&str> {
    match schema.get("type") {
        Some(Value::String(name)) => vec![name.as_str()],
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

fn required_keys(schema: &Value) -> Vec<&str> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|keys| keys.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default()
}

fn is_required(schema: &Value, key: &str) -> bool {
    required_keys(schema).contains(&key)
}

fn variant_form(variant: &Value) -> String {
    match required_keys(variant).as_slice() {
        [key] => format!("{{ {key}: ... }}"),
        _ => expected_text(variant),
    }
}

/// What a value must be, in words a YAML writer understands.
pub fn expected_text(schema: &Value) -> String {
    if let Some(allowed) = schema.get("enum").and_then(Value::as_array) {
        let names: Vec<&str> = allowed.iter().filter_map(Value::as_str).collect();
        return format!("one of {}", names.join(", "));
    }
    let types = type_names(schema);
    match types.iter().copied().find(|t| *t != "null") {
        Some("object") => "a mapping of keys to values".into(),
        Some("array") => "a list".into(),
        Some("string") => "text".into(),
        Some("integer") => "a whole number".into(),
        Some("boolean") => "true or false".into(),
        _ => "a value".into(),
    }
}

/// Keys longer than this get no suggestion: no typo is that long, and the edit-distance table
/// grows with the key's length (a megabyte-long key would need gigabytes).
pub const MAX_SUGGESTED_KEY_CHARS: usize = 64;

/// The known key a typo most likely meant: case-insensitive equality, then a small edit
/// distance, then one being part of the other (`source` for `source_waba`).
pub fn closest(key: &str, known: &[String]) -> Option<String> {
    if key.chars().nth(MAX_SUGGESTED_KEY_CHARS).is_some() {
        return None;
    }
    let lower = key.to_ascii_lowercase().replace('-', "_");
    if let Some(exact) = known.iter().find(|k| k.eq_ignore_ascii_case(&lower)) {
        return Some(exact.clone());
    }
    let best = known
        .iter()
        .map(|candidate| (edit_distance(&lower, candidate), candidate))
        .min_by_key(|(distance, _)| *distance);
    if let Some((distance, candidate)) = best
        && distance
            <= match candidate.len() {
                0..=4 => 1,
                5..=8 => 2,
                _ => 3,
            }
    {
        return Some(candidate.clone());
    }
    known
        .iter()
        .filter(|candidate| candidate.len() >= 3 && lower.len() >= 3)
        .find(|candidate| lower.contains(candidate.as_str()) || candidate.contains(lower.as_str()))
        .cloned()
}

/// Optimal string alignment distance: like Levenshtein, but a swap of two neighbours
/// (`phnoe`) costs one edit, as typos usually are.
fn edit_distance(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut table = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in table.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in table[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut best = (table[i - 1][j] + 1).min(table[i][j - 1] + 1).min(table[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                best = best.min(table[i - 2][j - 2] + 1);
            }
            table[i][j] = best;
        }
    }
    table[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::manifest::{model::json_schema, yaml};

    fn run(text: &str) -> Decoded {
        let root = yaml::parse(text).unwrap().unwrap();
        decode(&root, &json_schema())
    }

    #[test]
    fn a_valid_manifest_decodes_without_issues() {
        let decoded = run(
            "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\ndestinations:\n  - waba: 104996122399160\n    numbers:\n      - phone: \"+1 631-555-5555\"\n        code_method: VOICE\n",
        );
        assert_eq!(decoded.issues, vec![]);
        let value = decoded.value.unwrap();
        assert_eq!(value["destinations"][0]["waba"], "104996122399160");
        assert_eq!(value["defaults"]["pin"]["env"], "WAMIG_PIN");
        assert_eq!(
            decoded.index.value("destinations[0].numbers[0].phone"),
            Some(Mark { line: 7, column: 16 })
        );
    }

    #[test]
    fn every_problem_is_reported_and_decoding_goes_on() {
        let decoded = run(
            "version: 1\ndestinations:\n  - waba: \"1\"\n    numbers:\n      - phnoe: \"+1\"\n      - phone: \"+2\"\n        register: yes\n        code_method: sms\n",
        );
        let kinds: Vec<&IssueKind> = decoded.issues.iter().map(|i| &i.kind).collect();
        assert!(matches!(kinds[0], IssueKind::UnknownKey { suggestion: Some(s), .. } if s == "phone"));
        assert!(matches!(kinds[1], IssueKind::WrongType { found: "text", .. }));
        assert!(matches!(kinds[2], IssueKind::NotAllowed { found, .. } if found == "sms"));
        assert_eq!(kinds.len(), 3, "a misspelt key is not also reported missing");
        let value = decoded.value.unwrap();
        assert_eq!(value["destinations"][0]["numbers"].as_array().unwrap().len(), 1);
    }

    #[test]
    fn secret_references_are_told_apart_by_their_key() {
        let decoded = run("version: 1\ndefaults:\n  pin: \"123456\"\ndestinations: []\n");
        assert!(matches!(&decoded.issues[0].kind, IssueKind::NoVariant { forms, .. } if forms.len() == 2));
        let decoded = run("version: 1\ndefaults:\n  pin: { file: pin.txt }\ndestinations: []\n");
        assert_eq!(decoded.issues, vec![]);
    }

    #[test]
    fn keys_too_long_to_be_typos_get_no_suggestion() {
        let known = vec!["phone".to_owned(), "source_waba".to_owned()];
        assert_eq!(closest(&format!("phone{}", "x".repeat(59)), &known), Some("phone".to_owned()));
        // Without the bound this would build a table of 5 million rows, and match `phone` as a part.
        assert_eq!(closest(&format!("phone{}", "x".repeat(5_000_000)), &known), None);
    }

    #[test]
    fn suggestions_find_typos_and_parts() {
        let known: Vec<String> = ["phone", "source_waba", "code_method"].map(String::from).to_vec();
        assert_eq!(closest("phnoe", &known).as_deref(), Some("phone"));
        assert_eq!(closest("source", &known).as_deref(), Some("source_waba"));
        assert_eq!(closest("Code-Method", &known).as_deref(), Some("code_method"));
        assert_eq!(closest("zzz", &known), None);
    }
}
