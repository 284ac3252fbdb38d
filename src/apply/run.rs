//! Owns one `wamig apply` from start to end, as named stages: lock the journal (before any API
//! call), observe and plan (or check a saved plan), show the plan, prepare (everything the writes
//! need, checked before the first), confirm, add the templates of destinations with
//! `templates: { ensure: true }` (`templates`), execute the numbers in parallel, settle those whose
//! writes are made (one closing read, reports from reads shared per WABA), and finish (summary,
//! hand-off, the exit status from the outcomes' types). Ctrl-C or SIGTERM lets the calls in
//! flight finish, saves the journal and ends with 130 or 143 (`apply::signals`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::budget::{Budgets, HOURLY_CALLS, HOURLY_CALLS_ACTIVE};
use super::engine::{Env, Shared, Timing};
use super::execute::{self, Execution};
use super::prepare::{self, Prepared};
use super::progress::Progress;
use super::report::{self, NumberOutcome, TemplatesOutcome};
use super::signals::Signals;
use super::templates;
use crate::graph::GraphClient;
use crate::journal::Journal;
use crate::manifest::{LoadedManifest, PhoneNumber};
use crate::observe::Snapshot;
use crate::plan::Plan;
use crate::state::Held;
use crate::ui::{Level, Ui};
use crate::{Error, ExitStatus};

pub struct ApplyOptions {
    pub plan_file: Option<PathBuf>,
    pub state: crate::state::StateLocation,
    pub codes_dir: PathBuf,
    pub auto_approve: bool,
    pub wait_for_codes: Option<Duration>,
    pub parallelism: usize,
    pub max_migrations: Option<usize>,
    pub resend_code: bool,
    pub targets: Vec<PhoneNumber>,
    pub timing: Timing,
    pub env: Env,
}

pub async fn run(
    manifest: &LoadedManifest,
    client: GraphClient,
    options: ApplyOptions,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    prepare::check_targets(&manifest.desired, &options.targets, &manifest.path)?;
    let lock = lock(&options, ui).await?;
    let journal = lock.load()?;
    let (snapshot, plan) = observe_and_plan(manifest, &client, &journal, &options, ui).await?;
    show_plan(&plan, ui);

    let prepared =
        prepare::prepare(&plan, &manifest.desired, &options.targets, options.max_migrations, &*options.env)?;
    let template_work = templates::work(&plan, &options.targets);
    if prepared.work.is_empty() && template_work.is_empty() {
        ui.out(&report::render_summary(&[], &prepared.blocked, &ui.styles));
        ui.out("\nNothing to do.\n");
        summary_event(ui, &[], &[], prepared.blocked.len(), client.request_count());
        return Ok(prepared.blocked_status());
    }

    // Listening from here on: a Ctrl-C or SIGTERM at the question or during the run is seen by
    // wamig, never by the default handler that would end the process with the lock held.
    let mut signals = Signals::listen();
    if let Some(status) = confirm(&options, ui, &mut signals).await? {
        return Ok(status);
    }

    let mut shared = shared(client, journal, &lock, snapshot, &prepared, &options, ui);
    let templates = add_templates(&mut shared, &template_work, &mut signals).await;
    let shared = Arc::new(shared);
    let Execution { outcomes, fatal } = if prepared.work.is_empty() || shared.cancel.is_cancelled() {
        Execution { outcomes: Vec::new(), fatal: None }
    } else {
        execute::execute(shared.clone(), &prepared, &options, signals).await
    };
    lock.release();
    finish(&shared, &prepared, outcomes, &templates, fatal, &options, ui)
}

/// The templates stage, before any number is worked on. A first Ctrl-C or SIGTERM lets the call
/// in flight finish and no number start; a second ends the process at once (the stage writes no
/// journal). The numbers' reports then count what it added as there before them.
async fn add_templates(
    shared: &mut Shared<GraphClient>,
    work: &[&crate::plan::DestinationPlan],
    signals: &mut Signals,
) -> Vec<TemplatesOutcome> {
    if work.is_empty() {
        return Vec::new();
    }
    let result = {
        let stage = templates::Stage {
            calls: &shared.calls,
            budgets: &shared.budgets,
            cancel: &shared.cancel,
            ui: &shared.ui,
            clock: &*shared.timing.clock,
        };
        let running = templates::run(&stage, work, &shared.snapshot);
        tokio::pin!(running);
        loop {
            tokio::select! {
                result = &mut running => break result,
                stop = signals.recv() => {
                    if shared.cancel.is_cancelled() {
                        #[allow(clippy::exit, reason = "a second stop ends the process at once, by design")]
                        std::process::exit(i32::from(stop.exit_status().code()));
                    }
                    super::signals::heard(stop);
                    shared.ui.warn(
                        "interrupted",
                        &format!("{}: finishing the call in flight, then stopping (stop again to end at once)", stop.word()),
                    );
                    shared.cancel.cancel();
                }
            }
        }
    };
    if !result.listings.is_empty() {
        let mut snapshot = (*shared.snapshot).clone();
        for (waba, listing) in result.listings {
            if let Some(view) = snapshot.wabas.get_mut(&waba) {
                view.templates = Some(listing);
            }
        }
        shared.snapshot = Arc::new(snapshot);
    }
    result.outcomes
}

async fn lock(options: &ApplyOptions, ui: &Ui) -> Result<Arc<Held>, Error> {
    let lock = crate::state::lock(&options.state, "wamig apply", ui).await?;
    if let Some(message) = lock.taken_over() {
        ui.warn("lock_taken_over", &message);
    }
    Ok(lock)
}

async fn observe_and_plan(
    manifest: &LoadedManifest,
    client: &GraphClient,
    journal: &Journal,
    options: &ApplyOptions,
    ui: &Ui,
) -> Result<(Snapshot, Plan), Error> {
    let snapshot = crate::observe::observe(client, &manifest.desired, ui).await?;
    let now = jiff::Timestamp::now();
    let plan = crate::plan::planner::plan(&manifest.desired, &manifest.digest, &snapshot, journal, now);
    if let Some(path) = &options.plan_file {
        let saved = crate::planfile::load(path)?;
        crate::planfile::check_fresh(&saved, path, &manifest.digest, &snapshot.digest(), now)?;
        ui.info(
            "saved_plan",
            &format!("applying the saved plan {} (digest {})", path.display(), &saved.digest[..12]),
        );
    }
    Ok((snapshot, plan))
}

fn show_plan(plan: &Plan, ui: &Ui) {
    ui.out(&crate::plan::render::text(plan, &ui.styles));
    ui.machine_event(
        Level::Info,
        "plan_ready",
        "plan ready",
        json!({"summary": plan.summary, "digest": plan.digest}),
    );
}

/// Asks for "yes" on a terminal unless `--auto-approve`. `Some` is the exit status of a run that
/// stops here, with nothing done.
async fn confirm(
    options: &ApplyOptions,
    ui: &Ui,
    signals: &mut Signals,
) -> Result<Option<ExitStatus>, Error> {
    if options.auto_approve {
        return Ok(None);
    }
    if !ui.stdin_is_terminal {
        return Err(Error::usage(
            "apply changes live phone numbers and needs a confirmation, but stdin is not a terminal",
            "review the plan, then run `wamig apply --auto-approve` (in CI, after the plan was approved)",
        ));
    }
    ui.err("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
    let answer = tokio::task::spawn_blocking(|| {
        let mut line = String::new();
        let _ = std::io::stdin().read_line(&mut line);
        line
    });
    // Ctrl-C at the question is an answer too: nothing was done, and the journal lock is
    // released on the way out instead of being left to the next run to take over.
    let answer = tokio::select! {
        answer = answer => answer.unwrap_or_default(),
        stop = signals.recv() => {
            ui.err("\n");
            ui.out("Apply cancelled; nothing was done.\n");
            return Ok(Some(stop.exit_status()));
        }
    };
    if answer.trim() != "yes" {
        ui.out("Apply cancelled; nothing was done.\n");
        return Ok(Some(ExitStatus::Error));
    }
    Ok(None)
}

fn shared(
    client: GraphClient,
    journal: Journal,
    lock: &Arc<Held>,
    snapshot: Snapshot,
    prepared: &Prepared,
    options: &ApplyOptions,
    ui: &Ui,
) -> Shared<GraphClient> {
    // A WABA with a registered number has Meta's larger budget.
    let hourly: HashMap<String, u64> = snapshot
        .wabas
        .iter()
        .map(|(id, waba)| {
            let active = waba.numbers.iter().flatten().any(crate::migration::is_registered);
            (id.clone(), if active { HOURLY_CALLS_ACTIVE } else { HOURLY_CALLS })
        })
        .collect();
    Shared {
        calls: client,
        journal: std::sync::Mutex::new(journal),
        saves: Default::default(),
        state: lock.clone(),
        codes_dir: options.codes_dir.clone(),
        env: options.env.clone(),
        ui: ui.clone(),
        cancel: Arc::default(),
        wait_until: options.wait_for_codes.map(|d| options.timing.clock.now() + d),
        prompt: prompts(options, ui),
        prompt_lock: tokio::sync::Mutex::new(()),
        resend: options.resend_code,
        budgets: Budgets::new(options.timing.max_wait, hourly),
        timing: options.timing.clone(),
        snapshot: Arc::new(snapshot),
        pins: prepared.pins.clone(),
        waiting: std::sync::Mutex::new(Vec::new()),
        progress: live_view(prepared, options, ui),
    }
}

/// The live view needs the terminal to itself: not with JSON logs, `-q`, or code prompts.
fn live_view(prepared: &Prepared, options: &ApplyOptions, ui: &Ui) -> Option<Arc<Progress>> {
    (ui.stderr_is_terminal
        && ui.log_format == crate::ui::LogFormat::Text
        && ui.enabled(Level::Info)
        && !prompts(options, ui))
    .then(|| Arc::new(Progress::new(ui.clone(), prepared.work.iter().map(|(_, plan)| plan.phone.clone()))))
}

/// Codes are asked for on the terminal when a person is there to type them.
pub(super) fn prompts(options: &ApplyOptions, ui: &Ui) -> bool {
    ui.stdin_is_terminal && !options.auto_approve && options.wait_for_codes.is_none()
}

/// Prints the summary and hand-off, and maps the outcomes to the exit status.
fn finish(
    shared: &Shared<GraphClient>,
    prepared: &Prepared,
    outcomes: Vec<(String, NumberOutcome)>,
    templates: &[TemplatesOutcome],
    fatal: Option<super::engine::EngineError>,
    options: &ApplyOptions,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    ui.out(&report::render_summary(&outcomes, &prepared.blocked, &ui.styles));
    ui.out(&report::render_templates_outcomes(templates, &ui.styles));
    ui.out(&report::render_handoff(&outcomes, &options.state, &ui.styles));
    summary_event(
        ui,
        &outcomes,
        templates,
        prepared.blocked.len(),
        crate::apply::calls::MigrationCalls::request_count(&shared.calls),
    );
    if let Some(error) = fatal {
        return Err(match error {
            super::engine::EngineError::Journal(error) => Error::Journal(error),
        });
    }
    let mut status = exit_status(prepared.blocked_status(), &outcomes, shared.cancel.is_cancelled());
    if templates.iter().any(TemplatesOutcome::is_failure) {
        status = status.combine(ExitStatus::Error);
    }
    Ok(super::signals::as_heard(status))
}

/// The run's exit status: blocked numbers, then each outcome by its kind; an error outranks a
/// pause, an interruption outranks both but an error.
pub fn exit_status(blocked: ExitStatus, outcomes: &[(String, NumberOutcome)], cancelled: bool) -> ExitStatus {
    let mut status = blocked;
    if cancelled {
        status = status.combine(ExitStatus::Interrupted);
    }
    for (_, outcome) in outcomes {
        status = status.combine(match outcome {
            NumberOutcome::Done { .. } => ExitStatus::Success,
            NumberOutcome::AwaitingCode { .. }
            | NumberOutcome::Confirming { .. }
            | NumberOutcome::BudgetPaused { .. } => ExitStatus::Paused,
            NumberOutcome::Failed { .. } => ExitStatus::Error,
            NumberOutcome::Interrupted { .. } => ExitStatus::Interrupted,
        });
    }
    status
}

/// The closing counts for machine readers (people read the summary table on stdout).
pub(super) fn summary_event(
    ui: &Ui,
    outcomes: &[(String, NumberOutcome)],
    templates: &[TemplatesOutcome],
    blocked: usize,
    requests: u64,
) {
    let counts = |label: &str| outcomes.iter().filter(|(_, o)| o.label() == label).count();
    let numbers: Vec<_> = outcomes
        .iter()
        .map(|(phone, outcome)| {
            let steps: Vec<&str> = outcome.steps_done().iter().map(|s| s.as_str()).collect();
            let mut entry = json!({"phone": phone, "outcome": outcome.label(), "steps_done": steps});
            let more = match outcome {
                NumberOutcome::Failed { step, message, hint, .. } => {
                    json!({"failed_step": step.as_str(), "error": message, "hint": hint})
                }
                NumberOutcome::AwaitingCode { requested_at, env_var, file, .. } => {
                    json!({"requested_at": requested_at.to_string(), "env_var": env_var, "code_file": file})
                }
                NumberOutcome::Confirming { step, .. } => json!({"confirming_step": step.as_str()}),
                NumberOutcome::BudgetPaused { waba, until, .. } => {
                    json!({"waba": waba, "until": until.to_string()})
                }
                _ => json!({}),
            };
            if let (Some(entry), serde_json::Value::Object(more)) = (entry.as_object_mut(), more) {
                entry.extend(more);
            }
            entry
        })
        .collect();
    ui.machine_event(
        Level::Info,
        "summary",
        &format!(
            "apply finished: {} done, {} waiting for a code, {} confirming, {} paused for a WABA's budget, {} failed, {} blocked, {} interrupted",
            counts("done"),
            counts("waiting"),
            counts("confirming"),
            counts("budget"),
            counts("failed"),
            blocked,
            counts("interrupted")
        ),
        json!({
            "done": counts("done"), "waiting": counts("waiting"), "confirming": counts("confirming"),
            "budget": counts("budget"), "failed": counts("failed"),
            "blocked": blocked, "interrupted": counts("interrupted"),
            "requests": requests, "numbers": numbers, "templates": templates,
        }),
    );
}
