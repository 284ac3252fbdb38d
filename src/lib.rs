//! wamig: declarative migration of WhatsApp business phone numbers between WhatsApp Business
//! Accounts. The library holds everything; `src/main.rs` only parses arguments and dispatches.
//!
//! Layout: `manifest` reads and checks the desired state, `graph` talks to the Graph API (and
//! only classifies its failures), `observe` reads live state into a snapshot, `plan` is the pure
//! planner and its renderers (with `plan::drift`), `import` writes a manifest from live state,
//! `apply` executes plans, `hints` words what a user should do after a Graph failure, `sandbox`
//! emulates the Graph API, `cli` turns arguments into calls of these.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod diag;
pub mod digest;
pub mod duration;
pub mod error;
pub mod exit;
pub mod files;
#[cfg(test)]
mod fuzz;
pub mod graph;
pub mod hints;
pub mod import;
pub mod journal;
pub mod manifest;
pub mod migration;
pub mod observe;
pub mod plan;
pub mod planfile;
pub mod sandbox;
pub mod secret;
pub mod state;
pub mod status;
pub mod text;
pub mod ui;
pub mod vocabulary;

pub use error::Error;
pub use exit::ExitStatus;
