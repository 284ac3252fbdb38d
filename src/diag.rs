//! Owns how a problem is shown to a user: `error:` with an optional `file:line:col` pointer and
//! source excerpt, its causes, and a `hint:` saying what to do. Modules turn their own error enums
//! into `Diagnostic`s; only the binary decides where the rendered text goes.

use std::fmt::Write as _;
use std::path::PathBuf;

use crate::ui::Styles;

/// Where in a file a problem was found (1-based line and column).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceLocation {
    pub path: PathBuf,
    pub line: usize,
    pub column: usize,
    /// An excerpt of that line around the column (escaped, at most about a hundred characters,
    /// whatever the line's length), shown under the pointer when known.
    pub source_line: Option<String>,
    /// Characters of `source_line` before the column: where the pointer goes.
    pub pointer: usize,
}

impl SourceLocation {
    pub fn new(path: impl Into<PathBuf>, line: usize, column: usize) -> Self {
        Self { path: path.into(), line, column, source_line: None, pointer: 0 }
    }

    /// Shows a window of `line` (the whole text of the source line) under the pointer.
    pub fn with_source(mut self, line: &str) -> Self {
        let (excerpt, pointer) = crate::text::excerpt(line, self.column);
        self.source_line = Some(excerpt);
        self.pointer = pointer;
        self
    }

    pub fn display(&self) -> String {
        format!("{}:{}:{}", self.path.display(), self.line, self.column)
    }
}

/// One rendered problem.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Diagnostic {
    pub message: String,
    pub location: Option<SourceLocation>,
    pub causes: Vec<String>,
    pub hint: Option<String>,
}

impl Diagnostic {
    pub fn new(message: impl Into<String>) -> Self {
        Self { message: message.into(), location: None, causes: Vec::new(), hint: None }
    }

    /// Builds a diagnostic from any error: its `Display` is the message and its `source()`
    /// chain becomes the causes.
    pub fn from_error(error: &(dyn std::error::Error + 'static)) -> Self {
        let mut diagnostic = Self::new(error.to_string());
        let mut source = error.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !diagnostic.message.contains(&text) {
                diagnostic.causes.push(text);
            }
            source = cause.source();
        }
        diagnostic
    }

    pub fn at(mut self, location: SourceLocation) -> Self {
        self.location = Some(location);
        self
    }

    pub fn with_hint(mut self, hint: impl Into<String>) -> Self {
        self.hint = Some(hint.into());
        self
    }

    pub fn with_optional_hint(mut self, hint: Option<String>) -> Self {
        self.hint = hint;
        self
    }

    pub fn with_cause(mut self, cause: impl Into<String>) -> Self {
        self.causes.push(cause.into());
        self
    }
}

/// Errors that know how to present themselves; implemented by every module's error enum and by
/// the crate-level [`crate::Error`].
pub trait ToDiagnostics {
    fn diagnostics(&self) -> Vec<Diagnostic>;
}

/// Renders diagnostics the way a compiler would: each block starts with `error:`.
pub fn render(diagnostics: &[Diagnostic], styles: &Styles) -> String {
    let mut out = String::new();
    for (index, diagnostic) in diagnostics.iter().enumerate() {
        if index > 0 {
            out.push('\n');
        }
        render_one(&mut out, diagnostic, styles);
    }
    out
}

/// Messages, causes and hints carry values from outside (a key, a Graph message, a lock
/// holder): their control characters are escaped before they are styled.
fn render_one(out: &mut String, diagnostic: &Diagnostic, styles: &Styles) {
    use crate::text::escape_lines;
    let message = escape_lines(&diagnostic.message);
    let _ = writeln!(out, "{}: {}", styles.error.paint("error"), styles.bold.paint(&*message));
    if let Some(location) = &diagnostic.location {
        let _ = writeln!(out, "  {} {}", styles.dim.paint("-->"), location.display());
        if let Some(line) = &location.source_line {
            let number = location.line.to_string();
            let gutter = " ".repeat(number.len());
            let pad: String =
                line.chars().take(location.pointer).map(|c| if c == '\t' { '\t' } else { ' ' }).collect();
            let _ = writeln!(out, "  {gutter} {}", styles.dim.paint("|"));
            let _ = writeln!(
                out,
                "  {} {} {}",
                styles.dim.paint(&number),
                styles.dim.paint("|"),
                line.trim_end()
            );
            let _ = writeln!(out, "  {gutter} {} {pad}{}", styles.dim.paint("|"), styles.error.paint("^"));
        }
    }
    for cause in &diagnostic.causes {
        let _ = writeln!(out, "  {} {}", styles.dim.paint("caused by:"), escape_lines(cause));
    }
    if let Some(hint) = &diagnostic.hint {
        let _ = writeln!(out, "{}: {}", styles.hint.paint("hint"), escape_lines(hint));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_location_pointer_and_hint() {
        let diagnostic = Diagnostic::new("unknown key `phnoe`")
            .at(SourceLocation::new("wamig.yaml", 7, 9).with_source("      - phnoe: \"+1 631\""))
            .with_hint("did you mean `phone`?");
        let text = render(&[diagnostic], &Styles::plain());
        assert_eq!(
            text,
            "error: unknown key `phnoe`\n  --> wamig.yaml:7:9\n    |\n  7 |       - phnoe: \"+1 631\"\n    |         ^\nhint: did you mean `phone`?\n"
        );
    }

    #[test]
    fn a_huge_line_is_shown_as_a_window_around_the_column() {
        let line = format!("{}bad: 1{}", "x".repeat(40_000_000), "y".repeat(1_000));
        let diagnostic = Diagnostic::new("unknown key")
            .at(SourceLocation::new("wamig.yaml", 1, 40_000_001).with_source(&line));
        let text = render(&[diagnostic], &Styles::plain());
        assert!(text.len() < 500, "{} bytes", text.len());
        let lines: Vec<&str> = text.lines().collect();
        let caret = lines[4].chars().position(|c| c == '^').unwrap();
        let pointed: String = lines[3].chars().skip(caret).take(3).collect();
        assert_eq!(pointed, "bad", "{text}");
    }

    #[test]
    fn values_from_outside_are_escaped_before_they_are_styled() {
        let diagnostic = Diagnostic::new("unknown key `a\u{1b}[8mb`")
            .with_cause("Graph said \u{1b}]0;title\u{7}")
            .with_hint("rename `a\u{1b}[8mb`");
        let text = render(&[diagnostic], &Styles::new(true));
        assert!(!text.contains("\u{1b}[8m") && !text.contains('\u{7}'), "{text:?}");
        assert!(text.contains("a\\u{1b}[8mb"), "{text:?}");
    }

    #[test]
    fn causes_follow_the_source_chain() {
        let io = std::io::Error::new(std::io::ErrorKind::NotFound, "no such file");
        #[derive(Debug, thiserror::Error)]
        #[error("cannot read the manifest")]
        struct Outer(#[source] std::io::Error);
        let diagnostic = Diagnostic::from_error(&Outer(io));
        assert_eq!(diagnostic.causes, vec!["no such file".to_string()]);
    }
}
