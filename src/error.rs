//! Owns the crate-level error: one variant per module error, so a command can return any of
//! them, and how the binary reports it: `error:`, causes and `hint:` for people, or one `error`
//! event with `--log-format json`.

use crate::ExitStatus;
use crate::diag::{Diagnostic, ToDiagnostics};
use crate::ui::{Level, LogFormat, Ui};

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error(transparent)]
    Manifest(#[from] crate::manifest::ManifestError),
    #[error(transparent)]
    Journal(#[from] crate::journal::JournalError),
    #[error(transparent)]
    State(#[from] crate::state::StateError),
    #[error(transparent)]
    Graph(#[from] crate::graph::GraphError),
    #[error(transparent)]
    Sandbox(#[from] crate::sandbox::SandboxError),
    #[error(transparent)]
    PlanFile(#[from] crate::planfile::PlanFileError),
    #[error(transparent)]
    Pin(#[from] crate::apply::codes::PinError),
    #[error(transparent)]
    Demo(#[from] crate::demo::DemoError),
    #[error(transparent)]
    Import(#[from] crate::import::ImportError),
    /// Several problems found together (every PIN checked before the first write, say).
    #[error("{} problems", .0.len())]
    Many(Vec<Diagnostic>),
    #[error("{message}")]
    Usage { message: String, hint: Option<String> },
}

impl Error {
    pub fn usage(message: impl Into<String>, hint: impl Into<String>) -> Self {
        Error::Usage { message: message.into(), hint: Some(hint.into()) }
    }
}

impl ToDiagnostics for Error {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            Error::Manifest(error) => error.diagnostics(),
            Error::Journal(error) => error.diagnostics(),
            Error::State(error) => error.diagnostics(),
            Error::Graph(error) => error.diagnostics(),
            Error::Sandbox(error) => error.diagnostics(),
            Error::PlanFile(error) => error.diagnostics(),
            Error::Pin(error) => error.diagnostics(),
            Error::Demo(error) => error.diagnostics(),
            Error::Import(error) => error.diagnostics(),
            Error::Many(diagnostics) => diagnostics.clone(),
            Error::Usage { message, hint } => {
                vec![Diagnostic::new(message.clone()).with_optional_hint(hint.clone())]
            }
        }
    }
}

/// How the binary shows the error a command ended with.
impl Error {
    /// Reports the error a command ended with: rendered for people, or, with `--log-format json`,
    /// as one `error` event carrying every problem, so a log reader never has to parse prose.
    pub fn report(&self, ui: &Ui) {
        if ui.log_format != LogFormat::Json {
            ui.err(&self.render(ui));
            return;
        }
        let diagnostics = self.diagnostics();
        let problems: Vec<serde_json::Value> = diagnostics
            .iter()
            .map(|d| {
                serde_json::json!({
                    "message": d.message,
                    "location": d.location.as_ref().map(|l| serde_json::json!({
                        "path": l.path, "line": l.line, "column": l.column,
                    })),
                    "causes": d.causes,
                    "hint": d.hint,
                })
            })
            .collect();
        let (message, hint) = match diagnostics.as_slice() {
            [only] => (only.message.clone(), only.hint.clone()),
            many => (format!("{} problems found", many.len()), None),
        };
        ui.event(
            Level::Error,
            "error",
            &message,
            serde_json::json!({"hint": hint, "problems": problems, "exit_code": ExitStatus::Error.code()}),
        );
    }

    /// Renders an error for stderr, with a closing count when a manifest has several problems.
    pub fn render(&self, ui: &Ui) -> String {
        let mut text = crate::diag::render(&self.diagnostics(), &ui.stderr_styles);
        if let Error::Manifest(manifest_error) = self {
            let count = manifest_error.problem_count();
            if count > 1 {
                text.push_str(&format!(
                    "\n{count} problems found; fix them and run `wamig validate` again\n"
                ));
            }
        }
        text
    }
}
