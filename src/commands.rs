//! Owns the library side of the read-only commands (`plan`, `show`, `status`): each one loads
//! what it needs, calls the pure core, and prints. `apply` lives in `apply::run`. The binary and
//! `cli` only turn arguments into these calls.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde_json::json;

use crate::graph::GraphClient;
use crate::journal::NumberRecord;
use crate::manifest::LoadedManifest;
use crate::plan::Plan;
use crate::ui::{Level, Ui};
use crate::{Error, ExitStatus};

/// `--format` of `plan` and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

pub fn render(plan: &Plan, format: PlanFormat, ui: &Ui) -> String {
    match format {
        PlanFormat::Text => crate::plan::render::text(plan, &ui.styles),
        PlanFormat::Markdown => crate::plan::render::markdown(plan),
        PlanFormat::Json => {
            let mut text = crate::plan::render::json(plan);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    }
}

pub struct PlanOptions {
    pub format: PlanFormat,
    pub out: Option<PathBuf>,
    pub detailed_exitcode: bool,
    pub state: crate::state::StateLocation,
}

/// `wamig plan`: observe, plan, print, optionally save.
pub async fn plan(
    manifest: &LoadedManifest,
    client: &GraphClient,
    options: &PlanOptions,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    let journal = crate::state::load(&options.state).await?;
    let snapshot = crate::observe::observe(client, &manifest.desired, ui).await?;
    let plan =
        crate::plan::plan(&manifest.desired, &manifest.digest, &snapshot, &journal, jiff::Timestamp::now());
    ui.event(
        Level::Debug,
        "observed",
        &format!("observed {} WABAs in {} requests", snapshot.wabas.len(), client.request_count()),
        json!({"wabas": snapshot.wabas.len(), "requests": client.request_count()}),
    );
    ui.machine_event(
        Level::Info,
        "plan_ready",
        "plan ready",
        json!({"summary": plan.summary, "digest": plan.digest}),
    );
    ui.out(&render(&plan, options.format, ui));
    if let Some(path) = &options.out {
        crate::planfile::save(&plan, path)?;
        ui.info(
            "plan_saved",
            &format!("plan saved to {}; apply it with `wamig apply {}`", path.display(), path.display()),
        );
    }
    Ok(crate::plan::exit_status(&plan, options.detailed_exitcode))
}

/// `wamig show FILE`: renders a saved plan, no network.
pub fn show(path: &Path, format: PlanFormat, ui: &Ui) -> Result<ExitStatus, Error> {
    let plan = crate::planfile::load(path)?;
    ui.out(&render(&plan, format, ui));
    Ok(ExitStatus::Success)
}

/// `wamig status`: per number, the live state and what the journal remembers.
pub async fn status(
    manifest: &LoadedManifest,
    client: &GraphClient,
    state: &crate::state::StateLocation,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    let journal = crate::state::load(state).await?;
    let snapshot = crate::observe::observe(client, &manifest.desired, ui).await?;
    let now = jiff::Timestamp::now();
    let mut out = String::new();
    let s = &ui.styles;
    for number in &manifest.desired.numbers {
        let e164 = number.phone.e164();
        let digits = number.phone.digits();
        let _ = writeln!(out, "{}  → {}", s.bold.paint(&e164), number.destination_waba);
        let destination = snapshot.waba(&number.destination_waba);
        let live = match destination {
            Some(waba) if !waba.is_readable() => "destination not readable by this token".to_owned(),
            Some(waba) => match waba.number(digits) {
                Some(node) => format!(
                    "in the destination (id {}): {}, {}, status {}",
                    node.id,
                    if node.is_verified() { "verified" } else { "not verified" },
                    if crate::migration::is_registered(node) { "registered" } else { "not registered" },
                    node.status.as_ref().map_or("unknown", |s| s.as_str())
                ),
                None => "not in the destination".to_owned(),
            },
            None => "destination not observed".to_owned(),
        };
        let _ = writeln!(out, "  live:     {live}");
        let sources: Vec<String> = snapshot
            .wabas_listing(digits)
            .filter(|(waba, _)| waba.id != number.destination_waba)
            .map(|(waba, node)| {
                format!("{} ({})", waba.id, node.status.as_ref().map_or("listed", |s| s.as_str()))
            })
            .collect();
        if !sources.is_empty() {
            let _ = writeln!(out, "  source:   listed by {}", sources.join(", "));
        }
        match journal.get(&e164) {
            None => {
                let _ = writeln!(out, "  journal:  nothing done by wamig yet");
            }
            Some(record) => journal_lines(&mut out, record, now),
        }
        out.push('\n');
    }
    ui.out(&out);
    Ok(ExitStatus::Success)
}

/// What the journal remembers of one number, as `status` and `wamig state show` print it.
pub fn journal_lines(out: &mut String, record: &NumberRecord, now: jiff::Timestamp) {
    let last = [
        (record.registered_at, "registered"),
        (record.verified_at, "verified"),
        (record.last_code_request.as_ref().map(|r| r.at), "code requested"),
        (record.initiated_at, "migration started"),
    ]
    .into_iter()
    .filter_map(|(at, what)| at.map(|at| (at, what)))
    .max_by_key(|(at, _)| *at);
    if let Some((at, what)) = last {
        let _ = writeln!(out, "  journal:  last step {what} at {}", at.strftime("%Y-%m-%d %H:%M UTC"));
    }
    if let Some(request) = &record.last_code_request {
        let _ = writeln!(
            out,
            "            code requested {} time(s), last by {} at {}{}",
            record.code_requests,
            request.method,
            request.at.strftime("%Y-%m-%d %H:%M UTC"),
            if record.verified_at.is_none() && record.code_cooldown_active(now) {
                " (no new code before the 10-minute cooldown ends)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "            verify attempts {}, register attempts {} in the last 72 h (Meta allows 10)",
        record.verify_attempts,
        record.register_attempts_in_window(now)
    );
    if let Some(after) = crate::migration::register_not_before(record, now)
        && after > now
        && record.registered_at.is_none()
    {
        let _ = writeln!(
            out,
            "            Meta is still provisioning the display name: apply calls register again after {}",
            after.strftime("%Y-%m-%d %H:%M UTC")
        );
    }
    if let Some(error) = &record.last_error {
        let code = match (error.code, error.subcode) {
            (Some(code), Some(sub)) => format!(" (code {code}, subcode {sub})"),
            (Some(code), None) => format!(" (code {code})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "            last error at {} during {}: {}{code}{}",
            error.at.strftime("%Y-%m-%d %H:%M UTC"),
            error.step,
            error.message,
            error.fbtrace_id.as_deref().map(|t| format!(", fbtrace_id {t}")).unwrap_or_default()
        );
    }
}
