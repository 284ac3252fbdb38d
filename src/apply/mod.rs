//! Owns apply: executing a plan one idempotent step at a time per number, each step decided by
//! the one migration state machine (`crate::migration`) from the believed node state and the
//! journal; code sources; pauses returned as values.

pub mod budget;
pub mod calls;
pub mod clock;
pub mod codes;
pub mod engine;
pub mod execute;
pub mod prepare;
pub mod progress;
pub mod report;
pub mod run;
pub mod settle;
pub mod signals;
mod steps;
pub mod templates;
