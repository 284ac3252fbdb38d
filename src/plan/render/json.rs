//! Owns the JSON rendering: the plan as pretty JSON, fields in declaration order, which is the
//! documented interface of docs/plan-json.md. It must not reshape or drop fields: tools read it.

use crate::plan::model::Plan;

/// Pretty JSON with a final newline; field order follows the model, so it is stable.
pub fn json(plan: &Plan) -> String {
    // The plan is plain data (strings, numbers, vectors): serialising it cannot fail.
    let mut text = serde_json::to_string_pretty(plan).unwrap_or_default();
    text.push('\n');
    text
}
