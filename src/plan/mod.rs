//! Owns planning: the pure function `(manifest, snapshot, journal) -> Plan`, the eligibility
//! checks, and the plan's renderings. Nothing here performs I/O.

pub mod model;

pub use model::{Action, Check, CheckStatus, NumberPlan, Plan, Step, Summary, TemplateForecast, Unmanaged};
