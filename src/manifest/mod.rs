//! Owns the desired state: the manifest types (serde + schemars), loading a manifest with
//! positions, and every offline check `wamig validate` makes. It never touches the network.

pub mod phone;

use std::path::PathBuf;

use crate::diag::{Diagnostic, SourceLocation, ToDiagnostics};

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
    #[error("{} problem(s) in the manifest {}", problems.len(), path.display())]
    Invalid {
        path: PathBuf,
        problems: Vec<Problem>,
    },
}

impl ToDiagnostics for ManifestError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        match self {
            ManifestError::Read { path, source } => {
                let hint = if source.kind() == std::io::ErrorKind::NotFound {
                    format!(
                        "create {} (see examples/minimal.yaml) or point to yours with -f PATH or WAMIG_MANIFEST",
                        path.display()
                    )
                } else {
                    "check the path and its permissions".to_owned()
                };
                vec![Diagnostic::from_error(self).with_hint(hint)]
            }
            ManifestError::Invalid { problems, .. } => problems
                .iter()
                .map(|problem| {
                    let mut diagnostic = Diagnostic::new(problem.message.clone())
                        .with_optional_hint(problem.hint.clone());
                    diagnostic.location = problem.location.clone();
                    if let Some((what, location)) = &problem.related {
                        diagnostic =
                            diagnostic.with_cause(format!("{what} at {}", location.display()));
                    }
                    diagnostic
                })
                .collect(),
        }
    }
}
