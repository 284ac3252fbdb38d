//! Owns apply: executing a plan one idempotent step at a time per number, each step decided from
//! live state read back just before it; code sources; pauses returned as values.

pub mod codes;
pub mod decide;
pub mod engine;
pub mod progress;
pub mod report;
pub mod run;
pub mod signals;
