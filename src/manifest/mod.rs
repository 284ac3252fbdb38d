//! Owns the desired state: the manifest types (serde + schemars), loading a manifest with
//! positions, and every offline check `wamig validate` makes. It never touches the network and
//! never reads a secret (PIN references are only checked for form here).

pub mod check;
pub mod country_codes;
pub mod decode;
pub mod model;
pub mod phone;
pub mod yaml;

use std::path::{Path, PathBuf};

pub use check::{DesiredDestination, DesiredNumber, DesiredState, TemplatePolicy};
pub use model::{CodeMethod, Manifest, SecretRef};
pub use phone::PhoneNumber;

use crate::diag::{Diagnostic, SourceLocation, ToDiagnostics};
use decode::{Issue, IssueKind};
use yaml::{Mark, YamlError, YamlErrorKind};

/// One problem found in a manifest, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub message: String,
    pub location: Option<SourceLocation>,
    /// Another place involved (the first listing of a duplicated number, say).
    pub related: Option<(String, SourceLocation)>,
    pub hint: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ManifestError {
    #[error("cannot read the manifest {}", path.display())]
    Read {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("the manifest {} is not UTF-8 text (first bad byte at line {line}, column {column})", path.display())]
    NotUtf8 { path: PathBuf, line: usize, column: usize },
    #[error("{} problem(s) in the manifest {}", problems.len(), path.display())]
    Invalid { path: PathBuf, problems: Vec<Problem> },
}

impl ManifestError {
    /// How many problems a user has to fix.
    pub fn problem_count(&self) -> usize {
        match self {
            ManifestError::Invalid { problems, .. } => problems.len(),
            _ => 1,
        }
    }
}

impl ToDiagnostics for ManifestError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ManifestError::Read { path, source } => {
                use crate::files::Refusal;
                let hint = match (source.kind(), crate::files::refusal(source)) {
                    (std::io::ErrorKind::NotFound, _) => format!(
                        "create {} (start from examples/minimal.yaml) or point to yours with `-f PATH` or WAMIG_MANIFEST",
                        path.display()
                    ),
                    (std::io::ErrorKind::IsADirectory, _) | (_, Some(Refusal::NotRegular("a directory"))) => {
                        "give the path of the manifest file, not of a directory".into()
                    }
                    (_, Some(Refusal::NotRegular(_))) => {
                        "give the path of a manifest file; wamig does not read FIFOs or devices".into()
                    }
                    (_, Some(Refusal::TooLarge { .. })) => format!(
                        "a manifest of 10,000 numbers is about 1 MiB: check that {} is the manifest, or split it",
                        path.display()
                    ),
                    _ => "check that the file exists and that you may read it".into(),
                };
                vec![Diagnostic::from_error(self).with_hint(hint)]
            }
            ManifestError::NotUtf8 { path, line, column } => vec![
                Diagnostic::from_error(self).at(SourceLocation::new(path.clone(), *line, *column)).with_hint(
                    "save the manifest as UTF-8 (most editors offer it under \"Save with encoding\")",
                ),
            ],
            ManifestError::Invalid { problems, .. } => problems
                .iter()
                .map(|problem| {
                    let mut diagnostic =
                        Diagnostic::new(problem.message.clone()).with_optional_hint(problem.hint.clone());
                    diagnostic.location = problem.location.clone();
                    if let Some((what, location)) = &problem.related {
                        diagnostic = diagnostic.with_cause(format!("{what} at {}", location.display()));
                    }
                    diagnostic
                })
                .collect(),
        }
    }
}

/// A manifest that passed every check.
#[derive(Debug, Clone)]
pub struct LoadedManifest {
    pub path: PathBuf,
    pub manifest: Manifest,
    pub desired: DesiredState,
    /// SHA-256 of the desired state: comments and formatting do not change it.
    pub digest: String,
}

impl LoadedManifest {
    /// The directory relative paths in and around the manifest are taken from.
    pub fn base_dir(&self) -> PathBuf {
        base_dir_of(&self.path)
    }

    /// A path beside the manifest (`.wamig/state.json`), shown without a leading `./`.
    pub fn beside(&self, relative: &str) -> PathBuf {
        beside(&self.path, relative)
    }
}

/// `relative` in the directory of the manifest `path`.
pub fn beside(path: &Path, relative: &str) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.join(relative),
        _ => PathBuf::from(relative),
    }
}

fn base_dir_of(path: &Path) -> PathBuf {
    match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent.to_path_buf(),
        _ => PathBuf::from("."),
    }
}

/// Far above any real manifest (10,000 numbers take about 1 MiB), and small enough that checking
/// the largest one stays within a bounded amount of memory.
pub const MAX_MANIFEST_BYTES: u64 = 16 * 1024 * 1024;

/// Reads and checks a manifest file.
pub fn load(path: &Path) -> Result<LoadedManifest, ManifestError> {
    let bytes = crate::files::read_bounded(path, MAX_MANIFEST_BYTES, crate::files::Links::Follow)
        .map_err(|source| ManifestError::Read { path: path.to_path_buf(), source })?;
    let text = String::from_utf8(bytes).map_err(|error| {
        let valid = &error.as_bytes()[..error.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        let line_start = valid.iter().rposition(|b| *b == b'\n').map_or(0, |i| i + 1);
        let column = String::from_utf8_lossy(&valid[line_start..]).chars().count() + 1;
        ManifestError::NotUtf8 { path: path.to_path_buf(), line, column }
    })?;
    parse(&text, path)
}

/// Checks manifest text; `path` is used for messages and to resolve relative PIN files.
pub fn parse(text: &str, path: &Path) -> Result<LoadedManifest, ManifestError> {
    let lines: Vec<&str> = text.lines().collect();
    let locate = |mark: Mark, show_line: bool| {
        let location = SourceLocation::new(path, mark.line, mark.column);
        match lines.get(mark.line.wrapping_sub(1)) {
            Some(line) if show_line => location.with_source(line),
            _ => location,
        }
    };
    let invalid = |problems: Vec<Problem>| ManifestError::Invalid { path: path.to_path_buf(), problems };

    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let root = match yaml::parse(text) {
        Ok(Some(root)) => root,
        Ok(None) => {
            return Err(invalid(vec![Problem {
                message: "the manifest is empty".into(),
                location: Some(locate(Mark { line: 1, column: 1 }, false)),
                related: None,
                hint: Some("start from examples/minimal.yaml: `version: 1`, then `destinations:` with a WABA and its numbers".into()),
            }]));
        }
        Err(errors) => {
            return Err(invalid(errors.iter().map(|e| yaml_problem(e, &locate)).collect()));
        }
    };

    let schema = model::json_schema();
    let decoded = decode::decode(&root, &schema);
    let mut problems: Vec<(Mark, Problem)> =
        decoded.issues.iter().map(|issue| (issue.mark, issue_problem(issue, &locate))).collect();

    let typed = decoded.value.and_then(|value| serde_json::from_value::<Manifest>(value).ok());
    let Some(manifest) = typed else {
        // Only a broken top level (not a mapping, or `version`/`destinations` unusable)
        // stops us before the meaning checks.
        problems.sort_by_key(|(mark, _)| *mark);
        return Err(invalid(problems.into_iter().map(|(_, p)| p).collect()));
    };
    let (desired, issues) = check::check(&manifest, &decoded.index, &base_dir_of(path));
    for issue in issues {
        let mark = issue.mark.unwrap_or(Mark { line: 1, column: 1 });
        problems.push((
            mark,
            Problem {
                message: issue.message,
                location: issue.mark.map(|m| locate(m, !issue.secret)),
                related: issue.related.map(|(what, m)| (what, locate(m, false))),
                hint: Some(issue.hint),
            },
        ));
    }
    if !problems.is_empty() {
        problems.sort_by_key(|(mark, _)| *mark);
        return Err(invalid(problems.into_iter().map(|(_, p)| p).collect()));
    }
    let digest = crate::digest::of_json(&desired);
    Ok(LoadedManifest { path: path.to_path_buf(), manifest, desired, digest })
}

fn yaml_problem(error: &YamlError, locate: &dyn Fn(Mark, bool) -> SourceLocation) -> Problem {
    let (message, hint, related) = match &error.kind {
        YamlErrorKind::Syntax(info) => {
            let hint = if info.contains("tab") {
                "indent with spaces: YAML does not allow tabs for indentation"
            } else {
                "check the indentation and quoting on this line and the one before; each entry is `key: value`, list items start with `- `"
            };
            (format!("the manifest is not valid YAML: {info}"), hint.to_owned(), None)
        }
        YamlErrorKind::DuplicateKey { key, first } => (
            format!("key `{}` appears twice in the same mapping", crate::text::shorten(key, 64)),
            "YAML would silently keep only one of them: remove or merge the duplicate".to_owned(),
            Some(("first written".to_owned(), locate(*first, false))),
        ),
        YamlErrorKind::ComplexKey => (
            "a key must be plain text, not a list or mapping".into(),
            "write keys as `name: value`".into(),
            None,
        ),
        YamlErrorKind::MultipleDocuments => (
            "the manifest holds more than one YAML document".into(),
            "keep one document: remove the `---` separator and merge the destinations into one list".into(),
            None,
        ),
        YamlErrorKind::TooManyNodes { limit } => (
            format!("the manifest expands to more than {limit} values through aliases"),
            "remove the nested aliases (`*name`) that repeat large parts of the document".into(),
            None,
        ),
        YamlErrorKind::TooMuchText { limit } => (
            format!(
                "the manifest expands to more than {} MiB of text through aliases",
                limit / (1024 * 1024)
            ),
            "remove the aliases (`*name`) that repeat long values".into(),
            None,
        ),
        YamlErrorKind::TooDeep { limit } => (
            format!("the manifest nests deeper than {limit} levels"),
            "a manifest needs only a few levels: check for unbalanced brackets".into(),
            None,
        ),
    };
    Problem { message, location: Some(locate(error.mark, true)), related, hint: Some(hint) }
}

/// True when the value at `path` is (or is inside) a PIN reference: its text is never echoed.
fn is_secret_path(path: &str) -> bool {
    path == "pin" || path.ends_with(".pin") || path.contains(".pin.")
}

fn place(path: &str) -> String {
    if path.is_empty() { "the top level of the manifest".into() } else { format!("`{path}`") }
}

fn last_key(path: &str) -> &str {
    path.rsplit('.').next().unwrap_or(path)
}

fn issue_problem(issue: &Issue, locate: &dyn Fn(Mark, bool) -> SourceLocation) -> Problem {
    let secret = is_secret_path(&issue.path);
    let (message, hint) = match &issue.kind {
        IssueKind::UnknownKey { key, suggestion, known } => {
            let hint = match suggestion {
                Some(suggestion) => format!("did you mean `{suggestion}`?"),
                None => format!("keys allowed here: {}", known.join(", ")),
            };
            (format!("unknown key `{}` in {}", crate::text::shorten(key, 64), place(&issue.path)), hint)
        }
        IssueKind::MissingKey { key } => {
            let hint = match key.as_str() {
                "version" => "add `version: 1` as the first line".to_owned(),
                "destinations" => "add `destinations:` with at least one `- waba: \"<destination WABA id>\"` and its `numbers:`".to_owned(),
                "waba" => "add `waba: \"<destination WABA id>\"` (digits, from WhatsApp Manager)".to_owned(),
                "numbers" => "add `numbers:` with the numbers to migrate, e.g. `- phone: \"+16315555555\"`".to_owned(),
                "phone" => "add `phone: \"+16315555555\"` (the number in E.164 form)".to_owned(),
                other => format!("add `{other}:`"),
            };
            (format!("{} has no `{key}`", place(&issue.path)), hint)
        }
        IssueKind::WrongType { found, .. } if issue.path.is_empty() => (
            format!("the manifest must be a mapping with `version` and `destinations`, found {found}"),
            "start from examples/minimal.yaml: `version: 1`, then `destinations:` with a WABA and its numbers".to_owned(),
        ),
        IssueKind::WrongType { expected, found } => {
            let key = last_key(&issue.path);
            let hint = match key {
                "version" => "write `version: 1`".to_owned(),
                "register" => "write `register: true` or `register: false`".to_owned(),
                "destinations" | "numbers" => "write a list: each entry on its own line starting with `- `".to_owned(),
                _ if found == &"nothing (null)" => format!("give `{key}` a value, or remove the key"),
                _ => format!("write {expected} here"),
            };
            (format!("`{}` must be {expected}, found {found}", issue.path), hint)
        }
        IssueKind::NotAllowed { found, allowed } => {
            let hint = match allowed.iter().find(|a| a.eq_ignore_ascii_case(found)) {
                Some(exact) => format!("write `{exact}` in capitals"),
                None => format!("use one of: {}", allowed.join(", ")),
            };
            (format!("`{}` must be one of {}, found `{found}`", issue.path, allowed.join(", ")), hint)
        }
        IssueKind::OutOfRange { found, .. } if last_key(&issue.path) == "version" => (
            format!("unsupported manifest version {found}"),
            "this wamig reads manifest version 1: write `version: 1`".to_owned(),
        ),
        IssueKind::OutOfRange { found, min, max } => (
            format!("`{}` is {found}, outside {}..{}", issue.path, min.unwrap_or(i64::MIN), max.unwrap_or(i64::MAX)),
            "use a value inside the range".to_owned(),
        ),
        IssueKind::NoVariant { found, .. } if secret && *found == "a mapping" => (
            format!("`{}` must have exactly one of `env` or `file`", issue.path),
            "write `pin: { env: WAMIG_PIN }` or `pin: { file: path/to/pin }`".to_owned(),
        ),
        IssueKind::NoVariant { forms, found } => {
            if secret {
                (
                    format!("`{}` must say where the PIN is kept, not hold the PIN", issue.path),
                    "write `pin: { env: WAMIG_PIN }` or `pin: { file: path/to/pin }`; the PIN itself never goes in the manifest".to_owned(),
                )
            } else {
                (format!("`{}` must be {}, found {found}", issue.path, forms.join(" or ")), format!("write {}", forms.join(" or ")))
            }
        }
    };
    Problem { message, location: Some(locate(issue.mark, !secret)), related: None, hint: Some(hint) }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const VALID: &str = "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\ndestinations:\n  - waba: \"104996122399160\"\n    numbers:\n      - phone: \"+1 631-555-5555\"\n        source_waba: \"102289599326934\"\n";

    #[test]
    fn a_valid_manifest_resolves_defaults() {
        let loaded = parse(VALID, Path::new("dir/wamig.yaml")).unwrap();
        let number = &loaded.desired.numbers[0];
        assert_eq!(number.phone.e164(), "+16315555555");
        assert_eq!(number.code_method, CodeMethod::Sms);
        assert_eq!(number.language, "en_US");
        assert!(number.register);
        assert_eq!(number.line, 7);
        assert_eq!(loaded.base_dir(), PathBuf::from("dir"));
    }

    #[test]
    fn comments_do_not_change_the_digest() {
        let a = parse(VALID, Path::new("a.yaml")).unwrap();
        let b = parse(&format!("# reviewed\n{VALID}"), Path::new("b.yaml")).unwrap();
        assert_eq!(a.digest, b.digest);
    }

    #[test]
    fn templates_take_defaults_key_by_key() {
        let text = "version: 1\ndefaults:\n  pin: { env: WAMIG_PIN }\n  templates: { ensure: true, except: [zeta, winback_offer, zeta] }\ndestinations:\n  - waba: \"104996122399160\"\n    numbers:\n      - phone: \"+1 631-555-5555\"\n  - waba: \"104996122399161\"\n    templates: { except: [] }\n    numbers:\n      - phone: \"+1 631-555-5556\"\n  - waba: \"104996122399162\"\n    templates: { ensure: false }\n    numbers:\n      - phone: \"+1 631-555-5557\"\n";
        let loaded = parse(text, Path::new("wamig.yaml")).unwrap();
        let policies: Vec<_> = loaded.desired.destinations.iter().map(|d| d.templates.clone()).collect();
        assert!(policies[0].ensure);
        assert_eq!(policies[0].except, ["winback_offer", "zeta"]);
        assert!(policies[1].ensure && policies[1].except.is_empty());
        assert!(!policies[2].ensure);
        assert_eq!(policies[2].except, ["winback_offer", "zeta"]);
        // Without `templates:` the desired state, and so the digest, is what it always was.
        let plain = parse(VALID, Path::new("a.yaml")).unwrap();
        assert!(!serde_json::to_string(&plain.desired).unwrap().contains("templates"));
    }

    #[test]
    fn a_bad_template_name_is_found_where_it_is_written() {
        let text = VALID.replace(
            "    numbers:",
            "    templates: { ensure: true, except: [ok_name, Winback-Offer] }\n    numbers:",
        );
        let error = parse(&text, Path::new("wamig.yaml")).unwrap_err();
        let ManifestError::Invalid { problems, .. } = &error else { panic!("{error}") };
        assert_eq!(problems.len(), 1, "{problems:?}");
        assert!(problems[0].message.contains("`Winback-Offer` is not a template name"), "{problems:?}");
        assert_eq!(problems[0].location.as_ref().unwrap().line, 6);
        assert!(problems[0].hint.as_deref().unwrap().contains("lower-case"));
        let unknown =
            VALID.replace("    numbers:", "    templates: { ensure: true, exclude: [x] }\n    numbers:");
        let error = parse(&unknown, Path::new("wamig.yaml")).unwrap_err();
        assert!(format!("{:?}", error).contains("exclude"), "{error:?}");
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(400))]

        #[test]
        fn arbitrary_text_never_panics(text in "\\PC{0,200}") {
            let _ = parse(&text, Path::new("fuzz.yaml"));
        }

        #[test]
        fn mutated_manifests_never_panic(cut in 0usize..VALID.len(), insert in "[-:{}\\[\\]&*!|>'\" \n\tA-Za-z0-9+#]{0,12}") {
            let mut text = VALID.to_owned();
            let at = (0..=cut).rev().find(|i| text.is_char_boundary(*i)).unwrap_or(0);
            text.insert_str(at, &insert);
            let _ = parse(&text, Path::new("fuzz.yaml"));
        }
    }
}
