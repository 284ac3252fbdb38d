//! wamig: declarative migration of WhatsApp business phone numbers between WhatsApp Business
//! Accounts. The library holds everything; `src/main.rs` only parses arguments and dispatches.
//!
//! Layout (see DESIGN §7): `manifest` reads and checks the desired state, `graph` talks to the
//! Graph API, `observe` reads live state into a snapshot, `plan` is the pure planner and its
//! renderers, `apply` executes plans, `sandbox` emulates the Graph API, `cli` turns arguments into
//! calls of these.

pub mod apply;
pub mod cli;
pub mod commands;
pub mod demo;
pub mod diag;
pub mod digest;
pub mod duration;
pub mod error;
pub mod exit;
pub mod graph;
pub mod journal;
pub mod manifest;
pub mod observe;
pub mod plan;
pub mod planfile;
pub mod sandbox;
pub mod secret;
pub mod state;
pub mod ui;

pub use error::Error;
pub use exit::ExitStatus;
