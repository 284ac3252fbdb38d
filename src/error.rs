//! Owns the crate-level error: one variant per module error, so a command can return any of
//! them and the binary renders it with `error:`, causes and `hint:`.

use crate::diag::{Diagnostic, ToDiagnostics};

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
            Error::Many(diagnostics) => diagnostics.clone(),
            Error::Usage { message, hint } => {
                vec![Diagnostic::new(message.clone()).with_optional_hint(hint.clone())]
            }
        }
    }
}
