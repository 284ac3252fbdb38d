//! Owns the terminal rendering of a plan: Terraform-like, one block per number with its symbol,
//! what changes, what remains and what stands in the way. Colour comes only through `Styles`, so
//! the same function gives plain text when colour is off. It prints nothing itself.

use super::{
    TemplateLine, count_checks, destination_label, drift_line, drift_suffix, headline, steps_line,
    summary_line, symbol, template_headline, template_lines, template_summary, template_symbol,
};
use crate::plan::drift::Severity;
use crate::plan::model::{Action, CheckStatus, DestinationPlan, NumberPlan, Plan};
use crate::ui::{Paint, Styles};

const INDENT: &str = "    ";

pub fn text(plan: &Plan, styles: &Styles) -> String {
    let plan = &*super::terminal_safe(plan);
    let mut out = String::new();
    out.push_str(&styles.bold.paint("wamig plan"));
    out.push_str(&styles.dim.paint(format!(" · Graph {} · {}", plan.api_version, plan.created_at)));
    out.push_str("\n\n");
    if plan.numbers.is_empty() {
        out.push_str("The manifest lists no numbers.\n\n");
    }
    for number in &plan.numbers {
        number_block(&mut out, number, styles);
    }
    for destination in &plan.destinations {
        templates_block(&mut out, destination, styles);
    }
    if !plan.unmanaged.is_empty() {
        out.push_str(&styles.bold.paint("Unmanaged numbers"));
        out.push_str(" (in a destination WABA, not in the manifest; wamig leaves them alone):\n");
        for unmanaged in &plan.unmanaged {
            let mut facts = Vec::new();
            if let Some(id) = &unmanaged.id {
                facts.push(format!("id {id}"));
            }
            if let Some(status) = &unmanaged.status {
                facts.push(status.to_string());
            }
            let facts = if facts.is_empty() { String::new() } else { format!(" ({})", facts.join(", ")) };
            out.push_str(&format!("{INDENT}{} in WABA {}{facts}\n", unmanaged.phone, unmanaged.waba));
        }
        out.push('\n');
    }
    if !plan.notes.is_empty() {
        out.push_str(&styles.bold.paint("Notes"));
        out.push_str(":\n");
        for note in &plan.notes {
            out.push_str(&format!("  - {note}\n"));
        }
        out.push('\n');
    }
    if let Some(line) = drift_line(plan) {
        out.push_str(&styles.warning.paint(line));
        out.push('\n');
    }
    out.push_str(&styles.bold.paint(summary_line(&plan.summary)));
    out.push('\n');
    out.push_str(&styles.dim.paint(format!("Plan digest: {}", plan.digest)));
    out.push('\n');
    out
}

fn templates_block(out: &mut String, destination: &DestinationPlan, styles: &Styles) {
    let paint = if destination.templates.changes() > 0 { styles.add } else { styles.dim };
    out.push_str(&format!(
        "{} {}\n",
        paint.paint(template_symbol(destination)),
        paint.paint(template_headline(destination))
    ));
    for (kind, line) in template_lines(destination) {
        let line = match kind {
            TemplateLine::Add => format!("{} {line}", styles.add.paint("+")),
            TemplateLine::Missing => format!("{} {line}", styles.warning.paint("!")),
            TemplateLine::Unknown => format!("{} {line}", styles.warning.paint("?")),
            TemplateLine::Info => styles.dim.paint(line),
        };
        out.push_str(&format!("{INDENT}{line}\n"));
    }
    out.push('\n');
}

fn action_paint(action: Action, styles: &Styles) -> Paint {
    match action {
        Action::Migrate => styles.add,
        Action::Resume => styles.change,
        Action::InSync => styles.dim,
        Action::Blocked => styles.error,
    }
}

fn number_block(out: &mut String, number: &NumberPlan, styles: &Styles) {
    let paint = action_paint(number.action, styles);
    out.push_str(&format!(
        "{} {} {}",
        paint.paint(symbol(number.action)),
        styles.bold.paint(&number.phone),
        paint.paint(headline(number))
    ));
    if number.action == Action::InSync {
        out.push_str(&format!(" in {}{}\n", destination_label(number), drift_suffix(number)));
        if let Some(forecast) = &number.templates
            && forecast.known
            && forecast.already_in_destination < forecast.eligible
        {
            let (summary, _) = template_summary(forecast, number);
            out.push_str(&format!("{INDENT}templates: {summary}\n"));
        }
        drift(out, number, styles);
        for note in &number.notes {
            out.push_str(&format!("{INDENT}{} {note}\n", styles.dim.paint("note:")));
        }
        out.push('\n');
        return;
    }
    out.push('\n');
    changes(out, number, styles);

    let steps_title = if number.action == Action::Blocked { "once unblocked" } else { "steps" };
    out.push_str(&format!("{INDENT}{steps_title}: {}\n", steps_line(number)));
    if let Some(at) = &number.code_requested_at {
        out.push_str(&format!(
            "{INDENT}{} code requested by {} at {at}; give it to `wamig apply` as WAMIG_CODE_{} or in <codes-dir>/{}\n",
            styles.warning.paint("awaiting:"),
            number.code_method,
            number.phone.trim_start_matches('+'),
            number.phone.trim_start_matches('+'),
        ));
    }

    checks(out, number, styles);
    drift(out, number, styles);

    if let Some(forecast) = &number.templates {
        let (summary, details) = template_summary(forecast, number);
        out.push_str(&format!("{INDENT}templates: {summary}\n"));
        for detail in details {
            out.push_str(&format!("{INDENT}  {}\n", styles.dim.paint(detail)));
        }
    }
    for note in &number.notes {
        out.push_str(&format!("{INDENT}{} {note}\n", styles.dim.paint("note:")));
    }
    out.push('\n');
}

/// Attribute changes, Terraform-style: `~ key: old → new`; what moves along unchanged is one
/// dim line so a reviewer sees what the number keeps.
fn changes(out: &mut String, number: &NumberPlan, styles: &Styles) {
    let mut kept = Vec::new();
    for (key, desired) in &number.desired {
        match number.current.iter().find(|(k, _)| k == key) {
            Some((_, current)) if current == desired => kept.push(format!("{key} {current}")),
            Some((_, current)) => out.push_str(&format!(
                "{INDENT}{} {key}: {} → {}\n",
                styles.change.paint("~"),
                styles.remove.paint(current),
                styles.add.paint(desired)
            )),
            None => out.push_str(&format!(
                "{INDENT}{} {key}: {}\n",
                styles.add.paint("+"),
                styles.add.paint(desired)
            )),
        }
    }
    for (key, current) in &number.current {
        if !number.desired.iter().any(|(k, _)| k == key) {
            out.push_str(&format!(
                "{INDENT}{} {key}: {}\n",
                styles.remove.paint("-"),
                styles.remove.paint(current)
            ));
        }
    }
    if !kept.is_empty() {
        out.push_str(&format!("{INDENT}{}\n", styles.dim.paint(format!("unchanged: {}", kept.join("; ")))));
    }
}

fn checks(out: &mut String, number: &NumberPlan, styles: &Styles) {
    if number.checks.is_empty() {
        out.push_str(&format!("{INDENT}checks: none apply once ownership is verified\n"));
        return;
    }
    let passed = count_checks(number, CheckStatus::Pass);
    let failed = count_checks(number, CheckStatus::Fail);
    let unknown = count_checks(number, CheckStatus::Unknown);
    let mut parts = vec![format!("{passed} passed")];
    if failed > 0 {
        parts.push(styles.error.paint(format!("{failed} failed")));
    }
    if unknown > 0 {
        parts.push(styles.warning.paint(format!("{unknown} unknown")));
    }
    out.push_str(&format!("{INDENT}checks: {}\n", parts.join(", ")));
    // Failures first: they are what blocks; unknowns after, as things to confirm by hand.
    for status in [CheckStatus::Fail, CheckStatus::Unknown] {
        let listed: Vec<_> = number.checks.iter().filter(|check| check.status == status).collect();
        for (i, check) in listed.iter().enumerate() {
            let mark = match status {
                CheckStatus::Fail => styles.error.paint("✗"),
                _ => styles.warning.paint("?"),
            };
            out.push_str(&format!("{INDENT}  {mark} {}: {}\n", check.id, check.message));
            // Checks that share a cause share a hint: say it once, after the last of them.
            let next_hint = listed.get(i + 1).and_then(|next| next.hint.as_ref());
            if let Some(hint) = &check.hint
                && next_hint != Some(hint)
            {
                out.push_str(&format!("{INDENT}    {} {hint}\n", styles.hint.paint("hint:")));
            }
        }
    }
}

/// What drifted, worst first as the planner lists it; each with its hint.
fn drift(out: &mut String, number: &NumberPlan, styles: &Styles) {
    if number.drift.is_empty() {
        return;
    }
    out.push_str(&format!("{INDENT}drift (not a change; wamig applies nothing for it):\n"));
    for item in &number.drift {
        let mark = match item.severity {
            Severity::Critical => styles.error.paint("✗"),
            Severity::Warning => styles.warning.paint("!"),
        };
        out.push_str(&format!(
            "{INDENT}  {mark} {} ({}): {}\n",
            item.id,
            item.severity.as_str(),
            item.message
        ));
        out.push_str(&format!("{INDENT}    {} {}\n", styles.hint.paint("hint:"), item.hint));
    }
}
