//! Integration tests: the real `wamig` binary, run as a user would, against fixtures and the
//! sandbox on loopback. One test binary with modules keeps link time down.

mod support;

mod ci_recipes;
mod cli_usage;
mod completions;
mod demo;
mod events;
mod examples;
mod rig_smoke;
mod schema;
mod validate;
