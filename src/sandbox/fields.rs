//! Owns the parser for Graph's `fields` parameter: a comma-separated list where each field may
//! carry modifiers (`.limit(10)`, `.after(CURSOR)`, `.before(CURSOR)`) and nested sub-fields
//! (`message_templates.limit(5){name,status}`). It knows nothing about node types; deciding
//! which names exist is `state.rs`'s job.

use std::fmt;

/// One requested field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldSpec {
    pub name: String,
    pub limit: Option<u32>,
    pub after: Option<String>,
    pub before: Option<String>,
    /// `.summary(true)` / `.summary(total_count)`.
    pub summary: bool,
    /// Sub-fields from `{...}`; `None` means the edge's or object's defaults.
    pub children: Option<Vec<FieldSpec>>,
}

impl FieldSpec {
    pub fn named(name: &str) -> Self {
        Self { name: name.to_owned(), limit: None, after: None, before: None, summary: false, children: None }
    }
}

/// A syntax error, worded as Graph words them (code 2500).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FieldsSyntaxError {
    pub expected: String,
    /// 0-based character position.
    pub position: usize,
}

impl FieldsSyntaxError {
    pub fn message(&self, input: &str) -> String {
        format!("Syntax error \"{}\" at character {}: {}", self.expected, self.position, input)
    }
}

/// Parses a `fields` value. An empty value is an empty list (the caller uses defaults).
pub fn parse(input: &str) -> Result<Vec<FieldSpec>, FieldsSyntaxError> {
    let chars: Vec<char> = input.chars().collect();
    let mut parser = Parser { chars, pos: 0, depth: 0 };
    parser.skip_ws();
    if parser.at_end() {
        return Ok(Vec::new());
    }
    let fields = parser.list()?;
    parser.skip_ws();
    if !parser.at_end() {
        return Err(
            parser.error(format!("Expected end of string instead of \"{}\".", parser.chars[parser.pos]))
        );
    }
    Ok(fields)
}

/// Graph nests edges a few levels at most; a bound keeps hostile input from exhausting the stack.
const MAX_DEPTH: usize = 8;

struct Parser {
    chars: Vec<char>,
    pos: usize,
    depth: usize,
}

impl Parser {
    fn at_end(&self) -> bool {
        self.pos >= self.chars.len()
    }

    fn peek(&self) -> Option<char> {
        self.chars.get(self.pos).copied()
    }

    fn skip_ws(&mut self) {
        while self.peek().is_some_and(char::is_whitespace) {
            self.pos += 1;
        }
    }

    fn error(&self, expected: String) -> FieldsSyntaxError {
        FieldsSyntaxError { expected, position: self.pos }
    }

    fn found(&self) -> String {
        match self.peek() {
            Some(c) => format!("\"{c}\""),
            None => "end of string".to_owned(),
        }
    }

    fn list(&mut self) -> Result<Vec<FieldSpec>, FieldsSyntaxError> {
        let mut fields = vec![self.field()?];
        loop {
            self.skip_ws();
            if self.peek() == Some(',') {
                self.pos += 1;
                fields.push(self.field()?);
            } else {
                return Ok(fields);
            }
        }
    }

    fn ident(&mut self) -> Result<String, FieldsSyntaxError> {
        self.skip_ws();
        let start = self.pos;
        while self.peek().is_some_and(|c| c.is_ascii_alphanumeric() || c == '_') {
            self.pos += 1;
        }
        if self.pos == start {
            return Err(self.error(format!("Expected name instead of {}.", self.found())));
        }
        Ok(self.chars[start..self.pos].iter().collect())
    }

    fn field(&mut self) -> Result<FieldSpec, FieldsSyntaxError> {
        let mut spec = FieldSpec::named(&self.ident()?);
        loop {
            self.skip_ws();
            match self.peek() {
                Some('.') => {
                    self.pos += 1;
                    let modifier_pos = self.pos;
                    let modifier = self.ident()?;
                    self.skip_ws();
                    if self.peek() != Some('(') {
                        return Err(self.error(format!("Expected \"(\" instead of {}.", self.found())));
                    }
                    self.pos += 1;
                    let start = self.pos;
                    while self.peek().is_some_and(|c| c != ')') {
                        self.pos += 1;
                    }
                    if self.at_end() {
                        return Err(self.error("Expected \")\" instead of end of string.".to_owned()));
                    }
                    let argument: String = self.chars[start..self.pos].iter().collect();
                    self.pos += 1;
                    let argument = argument.trim().to_owned();
                    match modifier.as_str() {
                        "limit" => {
                            spec.limit = Some(argument.parse().map_err(|_| FieldsSyntaxError {
                                expected: format!(
                                    "Expected a non-negative integer for limit instead of \"{argument}\"."
                                ),
                                position: start,
                            })?);
                        }
                        "after" => spec.after = Some(argument),
                        "before" => spec.before = Some(argument),
                        "summary" => {
                            spec.summary = match argument.as_str() {
                                "true" | "1" | "total_count" => true,
                                "false" | "0" => false,
                                _ => {
                                    return Err(FieldsSyntaxError {
                                        expected: format!(
                                            "Expected true, false or total_count for summary instead of \"{argument}\"."
                                        ),
                                        position: start,
                                    });
                                }
                            };
                        }
                        _ => {
                            return Err(FieldsSyntaxError {
                                expected: format!("Unknown modifier \"{modifier}\"."),
                                position: modifier_pos,
                            });
                        }
                    }
                }
                Some('{') => {
                    if spec.children.is_some() {
                        return Err(self.error("Expected \",\" instead of \"{\".".to_owned()));
                    }
                    if self.depth >= MAX_DEPTH {
                        return Err(
                            self.error(format!("Field expansion is nested deeper than {MAX_DEPTH} levels."))
                        );
                    }
                    self.pos += 1;
                    self.depth += 1;
                    let children = self.list()?;
                    self.depth -= 1;
                    self.skip_ws();
                    if self.peek() != Some('}') {
                        return Err(self.error(format!("Expected \"}}\" instead of {}.", self.found())));
                    }
                    self.pos += 1;
                    spec.children = Some(children);
                }
                _ => return Ok(spec),
            }
        }
    }
}

impl fmt::Display for FieldSpec {
    /// Writes the spec back in Graph syntax, for the `fields` of `paging.next` URLs.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name)?;
        if let Some(limit) = self.limit {
            write!(f, ".limit({limit})")?;
        }
        if let Some(children) = &self.children {
            write!(f, "{{{}}}", join(children))?;
        }
        Ok(())
    }
}

/// Joins specs with commas, in Graph syntax.
pub fn join(specs: &[FieldSpec]) -> String {
    specs.iter().map(ToString::to_string).collect::<Vec<_>>().join(",")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_list_with_spaces() {
        let fields = parse(" id, name ,status").unwrap();
        let names: Vec<_> = fields.iter().map(|f| f.name.as_str()).collect();
        assert_eq!(names, ["id", "name", "status"]);
        assert!(parse("").unwrap().is_empty());
    }

    #[test]
    fn nested_expansion_with_modifiers_in_either_order() {
        let fields =
            parse("id,message_templates.limit(100){name,quality_score},phone_numbers{id}.limit(2)").unwrap();
        assert_eq!(fields[1].name, "message_templates");
        assert_eq!(fields[1].limit, Some(100));
        let children = fields[1].children.as_ref().unwrap();
        assert_eq!(children[1].name, "quality_score");
        assert_eq!(fields[2].limit, Some(2));
        assert_eq!(fields[2].children.as_ref().unwrap()[0].name, "id");
    }

    #[test]
    fn cursors_and_summary_as_modifiers() {
        let fields =
            parse("phone_numbers.after(MTA=).limit(1),message_templates.limit(0).summary(total_count)")
                .unwrap();
        assert_eq!(fields[0].after.as_deref(), Some("MTA="));
        assert!(fields[1].summary);
        assert!(parse("a.summary(maybe)").is_err());
    }

    #[test]
    fn round_trips_through_display() {
        let text = "id,message_templates.limit(3){name,status},phone_numbers{id,throughput{level}}";
        assert_eq!(join(&parse(text).unwrap()), text);
    }

    #[test]
    fn syntax_errors_name_the_position_like_graph() {
        let input = "message_templates{name,status";
        let error = parse(input).unwrap_err();
        assert_eq!(
            error.message(input),
            "Syntax error \"Expected \"}\" instead of end of string.\" at character 29: message_templates{name,status"
        );
        assert!(parse("a,,b").is_err());
        assert!(parse("a}").is_err());
        assert!(parse("a.limit(x)").is_err());
        assert!(parse("a.sort(x)").is_err());
        assert!(parse("a{b}{c}").is_err());
        let deep = format!("{}x{}", "a{".repeat(10_000), "}".repeat(10_000));
        assert!(parse(&deep).unwrap_err().expected.contains("nested deeper"));
    }
}
