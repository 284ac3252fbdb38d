//! Integration tests: the real `wamig` binary, run as a user would, against fixtures and the
//! sandbox on loopback. One test binary with modules keeps link time down.

mod support;

mod apply_support;
mod examples;
mod rig_smoke;
mod schema;
mod validate;

mod apply_codes;
mod apply_crash;
mod apply_errors;
mod apply_faults;
mod apply_options;
mod apply_secrets;
