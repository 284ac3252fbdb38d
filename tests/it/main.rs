//! Integration tests: the real `wamig` binary, run as a user would, against fixtures and the
//! sandbox on loopback. One test binary with modules keeps link time down.

mod plan_support;
mod support;

mod ci_recipes;
mod cli_usage;
mod client_sandbox;
mod completions;
mod demo;
mod events;
mod examples;
mod graph_client;
mod plan_cli;
mod rig_smoke;
mod sandbox_api;
mod sandbox_shapes;
mod schema;
mod validate;
