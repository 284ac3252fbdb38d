//! Integration tests: the real `wamig` binary, run as a user would, against fixtures and the
//! sandbox on loopback. One test binary with modules keeps link time down.

#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::print_stderr,
    reason = "a failing test should stop loudly where it failed, and a skipped one say why"
)]

mod apply_support;
mod plan_support;
mod shared_support;
mod support;

mod apply_budget;
mod apply_codes;
mod apply_crash;
mod apply_economy;
mod apply_errors;
mod apply_faults;
mod apply_graph_behaviour;
mod apply_options;
mod apply_races;
mod apply_secrets;
mod apply_signals;
mod apply_templates;
mod apply_terminal;
mod ci_recipes;
mod cli_usage;
mod client_sandbox;
mod completions;
mod demo;
mod drift;
mod events;
mod examples;
mod graph_client;
mod hostile_files;
mod hostile_input;
mod hostile_network;
mod import;
mod plan_cli;
mod rig_smoke;
mod sandbox_api;
mod sandbox_shapes;
mod sandbox_templates;
mod schema;
mod shared_state;
mod state_cli;
mod validate;
