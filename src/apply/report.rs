//! Owns what apply tells its user at the end: each number's outcome, the post-migration
//! verification (destination, source, templates), the hand-off block for numbers waiting for a
//! code (exactly where to put each code), and the summary table. Text only; never a secret.

use std::fmt::Write as _;
use std::path::PathBuf;

use jiff::Timestamp;
use serde::Serialize;

use crate::migration::Step;
use crate::observe::TemplateView;
use crate::plan::templates::{display_name, duplication_eligibility, same_template};
use crate::ui::Styles;
use crate::vocabulary::{CodeMethod, PhoneNumberStatus, TemplateStatus};

/// How one number ended this run.
#[derive(Debug, Clone)]
pub enum NumberOutcome {
    Done {
        report: VerificationReport,
        done: Vec<Step>,
        skipped: Vec<Step>,
    },
    AwaitingCode {
        requested_at: Timestamp,
        method: CodeMethod,
        env_var: String,
        file: PathBuf,
        done: Vec<Step>,
    },
    Failed {
        step: Step,
        message: String,
        hint: String,
        done: Vec<Step>,
    },
    /// Graph accepted `step`, but its reads did not show it within this run's waits: the next
    /// run confirms it without repeating it.
    Confirming {
        step: Step,
        done: Vec<Step>,
    },
    /// The destination WABA's Graph budget does not come back within `--max-wait`.
    BudgetPaused {
        waba: String,
        until: Timestamp,
        done: Vec<Step>,
    },
    Interrupted {
        done: Vec<Step>,
    },
}

impl NumberOutcome {
    pub fn label(&self) -> &'static str {
        match self {
            NumberOutcome::Done { .. } => "done",
            NumberOutcome::AwaitingCode { .. } => "waiting",
            NumberOutcome::Failed { .. } => "failed",
            NumberOutcome::Confirming { .. } => "confirming",
            NumberOutcome::BudgetPaused { .. } => "budget",
            NumberOutcome::Interrupted { .. } => "interrupted",
        }
    }

    pub fn steps_done(&self) -> &[Step] {
        match self {
            NumberOutcome::Done { done, .. }
            | NumberOutcome::AwaitingCode { done, .. }
            | NumberOutcome::Failed { done, .. }
            | NumberOutcome::Confirming { done, .. }
            | NumberOutcome::BudgetPaused { done, .. }
            | NumberOutcome::Interrupted { done } => done,
        }
    }
}

/// What the post-migration check found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct VerificationReport {
    pub verified: bool,
    pub registered: bool,
    pub status: Option<PhoneNumberStatus>,
    /// The source no longer lists the number, or lists it `MIGRATED`; `None` when the source
    /// could not be read.
    pub gone_from_source: Option<bool>,
    /// The status the source still lists the number with, when it does.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub source_status: Option<PhoneNumberStatus>,
    pub templates: Option<TemplateReport>,
}

impl VerificationReport {
    pub fn one_line(&self) -> String {
        let mut parts = vec![if self.verified { "verified" } else { "not verified" }.to_owned()];
        parts.push(if self.registered { "registered" } else { "not registered" }.to_owned());
        if let Some(status) = &self.status {
            parts.push(format!("status {status}"));
        }
        match (self.gone_from_source, &self.source_status) {
            (Some(true), _) => parts.push("gone from the source".into()),
            // Meta lets the source keep a number until the destination registers it.
            (Some(false), Some(status)) => parts.push(format!("still listed by the source ({status})")),
            (Some(false), None) => parts.push("still listed by the source".into()),
            (None, _) => parts.push("source not readable".into()),
        }
        if let Some(templates) = &self.templates {
            parts.push(format!(
                "templates: {} duplicated, {} already there, {} rejected after duplication, {} left out by the destination's limit, {} not eligible",
                templates.duplicated.len(),
                templates.already_present.len(),
                templates.rejected.len(),
                templates.left_out.len(),
                templates.not_eligible.len()
            ));
        }
        parts.join(", ")
    }
}

/// Which of the source's templates arrived in the destination.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplateReport {
    pub duplicated: Vec<String>,
    /// Eligible, and already in the destination when this apply observed it: Meta leaves a
    /// template of the same name and language alone, so nothing needs doing.
    pub already_present: Vec<String>,
    /// Duplicated, then re-categorised and `REJECTED` by Meta.
    pub rejected: Vec<String>,
    /// Eligible but absent: the destination's template limit left no room.
    pub left_out: Vec<String>,
    /// With the reason they were not eligible.
    pub not_eligible: Vec<(String, String)>,
}

impl TemplateReport {
    /// Meta duplicates the source's APPROVED, high-quality (GREEN) templates. `present_before`
    /// is the destination as this apply first observed it, to tell what arrived with the number
    /// from what was there already.
    pub fn compare(
        source: &[TemplateView],
        destination: &[TemplateView],
        present_before: &[TemplateView],
    ) -> TemplateReport {
        let mut report = TemplateReport::default();
        for template in source {
            if let Err(reason) = duplication_eligibility(template) {
                report.not_eligible.push((display_name(template), reason));
                continue;
            }
            if present_before.iter().any(|d| same_template(d, template)) {
                report.already_present.push(display_name(template));
                continue;
            }
            match destination.iter().find(|d| same_template(d, template)) {
                Some(d) if d.status == Some(TemplateStatus::Rejected) => {
                    report.rejected.push(display_name(template))
                }
                Some(_) => report.duplicated.push(display_name(template)),
                None => report.left_out.push(display_name(template)),
            }
        }
        report
    }
}

/// What the templates stage did in one destination with `templates: { ensure: true }`; every
/// name is `name (language)`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct TemplatesOutcome {
    pub destination_waba: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub destination_name: Option<String>,
    /// Copied by Meta's template migration in this run.
    pub migrated: Vec<String>,
    /// Submitted anew in this run, with the status Meta gave (`PENDING` while it reviews).
    pub recreated: Vec<(String, String)>,
    /// Already in the destination (as the plan saw it, or found there meanwhile).
    pub already_present: Vec<String>,
    /// Meta refused them, with its reason (the destination's limit among them).
    pub failed: Vec<(String, String)>,
    /// Not asked for: the plan found no room for them under the destination's template limit.
    pub left_out: Vec<String>,
    /// The stage stopped early in this destination (a refused call, the Graph budget, Ctrl-C):
    /// what happened and what to do.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stopped: Option<(String, String)>,
}

impl TemplatesOutcome {
    /// Meta refused something, or the stage could not finish: apply exits 1.
    pub fn is_failure(&self) -> bool {
        !self.failed.is_empty() || self.stopped.is_some()
    }

    pub fn one_line(&self) -> String {
        let mut parts = vec![format!("{} migrated", self.migrated.len())];
        if !self.recreated.is_empty() {
            parts.push(format!("{} submitted for review", self.recreated.len()));
        }
        parts.push(format!("{} already there", self.already_present.len()));
        parts.push(format!("{} failed", self.failed.len()));
        parts.push(format!("{} left out by the limit", self.left_out.len()));
        format!("templates of WABA {}: {}", self.destination_waba, parts.join(", "))
    }
}

/// The templates stage's part of the closing report, one block per destination.
pub fn render_templates_outcomes(outcomes: &[TemplatesOutcome], styles: &Styles) -> String {
    let mut out = String::new();
    let list = |names: &[String]| bounded(names);
    for outcome in outcomes {
        let label = match &outcome.destination_name {
            Some(name) => format!("WABA {} ({name})", outcome.destination_waba),
            None => format!("WABA {}", outcome.destination_waba),
        };
        let _ = writeln!(out, "\nTemplates of {label} (templates: ensure):");
        let _ = writeln!(
            out,
            "  migrated: {}",
            if outcome.migrated.is_empty() { "none".into() } else { list(&outcome.migrated) }
        );
        if !outcome.recreated.is_empty() {
            let items: Vec<String> =
                outcome.recreated.iter().map(|(name, status)| format!("{name} ({status})")).collect();
            let _ = writeln!(out, "  submitted anew, Meta reviews them again: {}", list(&items));
        }
        if !outcome.already_present.is_empty() {
            let _ = writeln!(out, "  already there: {}", list(&outcome.already_present));
        }
        if !outcome.failed.is_empty() {
            let _ = writeln!(out, "  {} (Meta's reason):", styles.error.paint("failed"));
            for (name, why) in outcome.failed.iter().take(SHOWN) {
                let _ = writeln!(out, "    {name}: {why}");
            }
            if outcome.failed.len() > SHOWN {
                let _ = writeln!(out, "    and {} more", outcome.failed.len() - SHOWN);
            }
        }
        if !outcome.left_out.is_empty() {
            let _ = writeln!(
                out,
                "  {} {}: the destination's template limit leaves no room; delete templates it no longer needs or ask Meta for a higher limit, then run wamig apply again",
                styles.warning.paint("left out:"),
                list(&outcome.left_out)
            );
        }
        if let Some((message, hint)) = &outcome.stopped {
            let _ = writeln!(out, "  {} {message}", styles.error.paint("stopped:"));
            let _ = writeln!(out, "  {}: {hint}", styles.hint.paint("hint"));
        }
    }
    out
}

/// How many names a line shows before "and N more".
const SHOWN: usize = 20;

fn bounded(names: &[String]) -> String {
    bounded_with(names, ", ")
}

fn bounded_with(items: &[String], separator: &str) -> String {
    let shown: Vec<&str> = items.iter().take(SHOWN).map(String::as_str).collect();
    match items.len().saturating_sub(SHOWN) {
        0 => shown.join(separator),
        more => format!("{}{separator}and {more} more", shown.join(separator)),
    }
}

/// The closing report of an apply.
pub fn render_summary(outcomes: &[(String, NumberOutcome)], blocked: &[String], styles: &Styles) -> String {
    let mut out = String::new();
    if outcomes.is_empty() && blocked.is_empty() {
        return out;
    }
    let _ = writeln!(out, "\n{}", styles.bold.paint("Apply summary"));
    let width =
        outcomes.iter().map(|(p, _)| p.len()).chain(blocked.iter().map(String::len)).max().unwrap_or(0);
    for (phone, outcome) in outcomes {
        let label = match outcome {
            NumberOutcome::Done { .. } => styles.ok.paint(format!("{:<11}", "done")),
            NumberOutcome::AwaitingCode { .. } => styles.warning.paint(format!("{:<11}", "waiting")),
            NumberOutcome::Failed { .. } => styles.error.paint(format!("{:<11}", "failed")),
            NumberOutcome::Confirming { .. } => styles.warning.paint(format!("{:<11}", "confirming")),
            NumberOutcome::BudgetPaused { .. } => styles.warning.paint(format!("{:<11}", "paused")),
            NumberOutcome::Interrupted { .. } => styles.warning.paint(format!("{:<11}", "interrupted")),
        };
        let detail = match outcome {
            NumberOutcome::Done { report, .. } => report.one_line(),
            NumberOutcome::AwaitingCode { method, requested_at, .. } => {
                format!("code sent by {} at {} UTC", method.channel(), requested_at.strftime("%H:%M"))
            }
            NumberOutcome::Failed { step, .. } => format!("{} failed (below)", step.as_str()),
            NumberOutcome::BudgetPaused { waba, until, .. } => format!(
                "WABA {waba}'s Graph budget is spent until {} UTC; run wamig apply again after that (progress saved)",
                until.strftime("%H:%M")
            ),
            NumberOutcome::Confirming { step, .. } => format!(
                "Graph accepted {} but does not show it yet; run wamig apply again in a few minutes (it is not repeated)",
                step.as_str()
            ),
            NumberOutcome::Interrupted { .. } => "stopped by Ctrl-C; progress saved".to_owned(),
        };
        let _ = writeln!(out, "  {phone:<width$}  {label} {detail}");
    }
    for phone in blocked {
        let _ = writeln!(
            out,
            "  {phone:<width$}  {} not attempted: an eligibility check failed (see the plan)",
            styles.error.paint(format!("{:<11}", "blocked"))
        );
    }
    for (phone, outcome) in outcomes {
        if let NumberOutcome::Done { skipped, .. } = outcome
            && !skipped.is_empty()
        {
            let names: Vec<&str> = skipped.iter().map(|s| s.as_str()).collect();
            let _ = writeln!(out, "\n{phone}: already done in the live state, skipped: {}", names.join(", "));
        }
    }
    for (phone, outcome) in outcomes {
        if let NumberOutcome::Done { report: VerificationReport { templates: Some(templates), .. }, .. } =
            outcome
        {
            out.push_str(&render_templates(phone, templates, styles));
        }
    }
    for (phone, outcome) in outcomes {
        if let NumberOutcome::Failed { message, hint, .. } = outcome {
            // Messages can quote Graph's own text: escaped, as every value from outside is.
            let (message, hint) = (crate::text::escape_lines(message), crate::text::escape_lines(hint));
            let _ = writeln!(out, "\n{}: {phone}: {message}", styles.error.paint("error"));
            let _ = writeln!(out, "{}: {hint}", styles.hint.paint("hint"));
        }
    }
    out
}

fn render_templates(phone: &str, templates: &TemplateReport, styles: &Styles) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "\nTemplates for {phone}:");
    let list = |names: &[String]| if names.is_empty() { "none".to_owned() } else { names.join(", ") };
    let _ = writeln!(out, "  duplicated: {}", list(&templates.duplicated));
    if !templates.already_present.is_empty() {
        let _ = writeln!(
            out,
            "  already in the destination (left as they were): {}",
            list(&templates.already_present)
        );
    }
    if !templates.rejected.is_empty() {
        let _ = writeln!(
            out,
            "  {} {} (Meta re-categorised them; review and resubmit in WhatsApp Manager)",
            styles.warning.paint("duplicated, then REJECTED:"),
            list(&templates.rejected)
        );
    }
    if !templates.left_out.is_empty() {
        let _ = writeln!(
            out,
            "  {} {}: the destination's template limit left no room; re-create them in the destination before the source WABA is deleted",
            styles.warning.paint("left out:"),
            list(&templates.left_out)
        );
    }
    if !templates.not_eligible.is_empty() {
        let items: Vec<String> =
            templates.not_eligible.iter().map(|(name, why)| format!("{name} ({why})")).collect();
        let _ = writeln!(out, "  not eligible for duplication: {}", items.join(", "));
    }
    out
}

/// Where each waiting number's code goes, and when a new one may be requested.
pub fn render_handoff(
    outcomes: &[(String, NumberOutcome)],
    state: &dyn std::fmt::Display,
    styles: &Styles,
) -> String {
    let waiting: Vec<_> = outcomes
        .iter()
        .filter_map(|(phone, outcome)| match outcome {
            NumberOutcome::AwaitingCode { requested_at, method, env_var, file, .. } => {
                Some((phone, requested_at, method, env_var, file))
            }
            _ => None,
        })
        .collect();
    if waiting.is_empty() {
        return String::new();
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "\n{} (progress saved in {}):",
        styles.warning.paint(format!(
            "{} number{} waiting for a verification code",
            waiting.len(),
            if waiting.len() == 1 { " is" } else { "s are" }
        )),
        state
    );
    for (phone, requested_at, method, env_var, file) in &waiting {
        let resend_after = **requested_at + crate::journal::CODE_COOLDOWN;
        let _ = writeln!(
            out,
            "\n  {phone}: code sent by {} at {} UTC",
            method.channel(),
            requested_at.strftime("%Y-%m-%d %H:%M")
        );
        let _ = writeln!(out, "    export {env_var}=<6-digit code>");
        let _ = writeln!(out, "    or write it to {}", file.display());
        let _ = writeln!(
            out,
            "    (no new code is requested before {} UTC unless you pass --resend-code)",
            resend_after.strftime("%H:%M")
        );
    }
    let _ = writeln!(out, "\nThen run `wamig apply` again: it resumes where it stopped.");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn template(name: &str, status: &str, quality: &str) -> TemplateView {
        TemplateView {
            id: None,
            name: name.into(),
            language: Some("en_US".into()),
            status: Some(status.into()),
            quality: Some(quality.into()),
            category: Some("UTILITY".into()),
            components: None,
            parameter_format: None,
        }
    }

    #[test]
    fn template_report_sorts_every_source_template() {
        let source = vec![
            template("welcome", "APPROVED", "GREEN"),
            template("promo", "APPROVED", "GREEN"),
            template("reminder", "APPROVED", "GREEN"),
            template("late", "APPROVED", "GREEN"),
            template("old", "APPROVED", "RED"),
            template("draft", "PENDING", "UNKNOWN"),
        ];
        let before = vec![template("reminder", "APPROVED", "GREEN")];
        let destination = vec![
            template("welcome", "APPROVED", "UNKNOWN"),
            template("promo", "REJECTED", "UNKNOWN"),
            template("reminder", "APPROVED", "GREEN"),
        ];
        let report = TemplateReport::compare(&source, &destination, &before);
        assert_eq!(report.duplicated, vec!["welcome (en_US)"]);
        assert_eq!(report.already_present, vec!["reminder (en_US)"]);
        assert_eq!(report.rejected, vec!["promo (en_US)"]);
        assert_eq!(report.left_out, vec!["late (en_US)"]);
        assert_eq!(
            report.not_eligible,
            vec![
                ("old (en_US)".into(), "quality RED".into()),
                ("draft (en_US)".into(), "status PENDING".into())
            ]
        );
    }

    #[test]
    fn the_handoff_names_the_variable_the_file_and_the_cooldown() {
        let outcomes = vec![(
            "+16315555555".to_owned(),
            NumberOutcome::AwaitingCode {
                requested_at: "2026-11-25T12:03:00Z".parse().unwrap(),
                method: CodeMethod::Sms,
                env_var: "WAMIG_CODE_16315555555".into(),
                file: PathBuf::from(".wamig/codes/16315555555"),
                done: vec![Step::RequestCode],
            },
        )];
        let text = render_handoff(&outcomes, &".wamig/state.json", &Styles::plain());
        insta::assert_snapshot!(text);
    }
}
