//! Owns planning: the pure function `(manifest, snapshot, journal) -> Plan`, the eligibility
//! checks, and the plan's renderings. Nothing here performs I/O.

mod checks;
pub mod cost;
pub mod drift;
mod lines;
pub mod model;
pub mod planner;
pub mod render;
pub mod templates;

#[cfg(test)]
pub(crate) mod fixtures;
#[cfg(test)]
mod tests;

pub use drift::{Drift, Severity};
pub use model::{
    Action, Check, CheckStatus, DestinationPlan, NumberPlan, Plan, PlannedTemplate, Step, Summary,
    TemplateForecast, TemplateMethod, TemplatePlan, TemplateSource, Unmanaged,
};
pub use planner::{exit_status, plan, plan_digest};
