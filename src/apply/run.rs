//! Owns one `wamig apply` from start to end: lock the journal (before any API call), observe,
//! plan (or check a saved plan), show the plan, check everything needed before the first write
//! (targets, PINs, `--max-migrations`), confirm, run the numbers in parallel, and report. Ctrl-C
//! lets the calls in flight finish, saves the journal and ends with 130.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::json;

use super::codes;
use super::engine::{self, Cancel, Env, Shared, Timing};
use super::progress::{Progress, RowState};
use super::report::{self, NumberOutcome};
use crate::diag::Diagnostic;
use crate::graph::GraphClient;
use crate::manifest::{LoadedManifest, PhoneNumber};
use crate::plan::{Action, Step};
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
    let desired = &manifest.desired;
    for target in &options.targets {
        if !desired.numbers.iter().any(|n| n.phone == *target) {
            return Err(Error::usage(
                format!("--target {target} is not in the manifest {}", manifest.path.display()),
                "give numbers listed in the manifest (any formatting of them works)",
            ));
        }
    }

    let lock = crate::state::lock(&options.state, "wamig apply", ui).await?;
    if let Some(message) = lock.taken_over() {
        ui.warn("lock_taken_over", &message);
    }
    let journal = lock.load()?;

    let snapshot = crate::observe::observe(&client, desired, ui).await?;
    let now = jiff::Timestamp::now();
    let plan = crate::plan::planner::plan(desired, &manifest.digest, &snapshot, &journal, now);
    if let Some(path) = &options.plan_file {
        let saved = crate::planfile::load(path)?;
        crate::planfile::check_fresh(&saved, path, &manifest.digest, &snapshot.digest(), now)?;
        ui.info(
            "saved_plan",
            &format!("applying the saved plan {} (digest {})", path.display(), &saved.digest[..12]),
        );
    }
    ui.out(&crate::plan::render::text(&plan, &ui.styles));
    ui.machine_event(
        Level::Info,
        "plan_ready",
        "plan ready",
        json!({"summary": plan.summary, "digest": plan.digest}),
    );

    let targeted =
        |phone: &str| options.targets.is_empty() || options.targets.iter().any(|t| t.e164() == phone);
    let work: Vec<_> = plan
        .numbers
        .iter()
        .filter(|n| matches!(n.action, Action::Migrate | Action::Resume) && targeted(&n.phone))
        .collect();
    let blocked: Vec<String> = plan
        .numbers
        .iter()
        .filter(|n| n.action == Action::Blocked && targeted(&n.phone))
        .map(|n| n.phone.clone())
        .collect();
    let blocked_status = if blocked.is_empty() { ExitStatus::Success } else { ExitStatus::Blocked };
    if work.is_empty() {
        ui.out(&report::render_summary(&[], &blocked, &ui.styles));
        ui.out("\nNothing to do.\n");
        summary_event(ui, &[], blocked.len(), client.request_count());
        return Ok(blocked_status);
    }

    // Everything the writes will need is checked before the first one.
    let migrations = work.iter().filter(|n| n.action == Action::Migrate).count();
    if let Some(limit) = options.max_migrations
        && migrations > limit
    {
        return Err(Error::usage(
            format!(
                "this apply would start {migrations} new migrations, more than --max-migrations {limit}; nothing was done"
            ),
            "raise --max-migrations, or narrow the run with --target PHONE",
        ));
    }
    let mut pins = HashMap::new();
    let mut problems = Vec::new();
    for number_plan in &work {
        let Some(number) = desired.numbers.iter().find(|n| n.phone.e164() == number_plan.phone) else {
            continue;
        };
        if !number_plan.steps.contains(&Step::Register) {
            continue;
        }
        let Some(reference) = &number.pin else {
            problems.push(
                Diagnostic::new(format!("{} will be registered but has no PIN reference", number.phone))
                    .with_hint("add `pin: { env: WAMIG_PIN }` to the manifest"),
            );
            continue;
        };
        match codes::resolve_pin(&number.phone, reference, &*options.env) {
            Ok(pin) => {
                pins.insert(number.phone.e164(), pin);
            }
            Err(error) => problems.extend(crate::diag::ToDiagnostics::diagnostics(&error)),
        }
    }
    if !problems.is_empty() {
        return Err(Error::Many(problems));
    }

    // Listening from here on: a Ctrl-C at the question or during the run is seen by wamig, never
    // by the default handler that would end the process with the lock held.
    let mut interrupts = Interrupts::listen();
    if !options.auto_approve {
        if !ui.stdin_is_terminal {
            return Err(Error::usage(
                "apply changes live phone numbers and needs a confirmation, but stdin is not a terminal",
                "review the plan, then run `wamig apply --auto-approve` (in CI, after the plan was approved)",
            ));
        }
        let confirmation = tokio::task::spawn_blocking(|| {
            eprint!("\nDo you want to perform these actions? Only 'yes' will be accepted: ");
            let mut line = String::new();
            let _ = std::io::stdin().read_line(&mut line);
            line
        });
        // Ctrl-C at the question is an answer too: nothing was done, and the journal lock is
        // released on the way out instead of being left to the next run to take over.
        let answer = tokio::select! {
            answer = confirmation => answer.unwrap_or_default(),
            () = interrupts.recv() => {
                ui.err("\n");
                ui.out("Apply cancelled; nothing was done.\n");
                return Ok(ExitStatus::Interrupted);
            }
        };
        if answer.trim() != "yes" {
            ui.out("Apply cancelled; nothing was done.\n");
            return Ok(ExitStatus::Error);
        }
    }

    let cancel = Arc::new(Cancel::default());
    let interrupt = {
        let (cancel, ui) = (cancel.clone(), ui.clone());
        tokio::spawn(async move {
            interrupts.recv().await;
            ui.warn("interrupted", "interrupted: finishing the calls in flight, then saving progress");
            cancel.cancel();
        })
    };
    let prompt = ui.stdin_is_terminal && !options.auto_approve && options.wait_for_codes.is_none();
    // The live view needs the terminal to itself: not with JSON logs, `-q`, or code prompts.
    let progress = (ui.stderr_is_terminal
        && ui.log_format == crate::ui::LogFormat::Text
        && ui.enabled(Level::Info)
        && !prompt)
        .then(|| Arc::new(Progress::new(ui.clone(), work.iter().map(|n| n.phone.clone()))));
    let ticker = progress.clone().map(|progress| {
        tokio::spawn(async move {
            loop {
                progress.redraw();
                tokio::time::sleep(super::progress::TICK).await;
            }
        })
    });
    let shared = Arc::new(Shared {
        calls: client,
        journal: Mutex::new(journal),
        state: lock.clone(),
        codes_dir: options.codes_dir.clone(),
        env: options.env.clone(),
        ui: ui.clone(),
        cancel: cancel.clone(),
        wait_until: options.wait_for_codes.map(|d| Instant::now() + d),
        prompt,
        prompt_lock: tokio::sync::Mutex::new(()),
        resend: options.resend_code,
        timing: options.timing.clone(),
        snapshot: Arc::new(snapshot),
        pins,
        waiting: Mutex::new(Vec::new()),
        progress: progress.clone(),
    });
    let countdown = options.wait_for_codes.map(|total| tokio::spawn(countdown(shared.clone(), total)));

    let permits = Arc::new(tokio::sync::Semaphore::new(options.parallelism.max(1)));
    let mut queue = work.iter().enumerate().filter_map(|(index, number_plan)| {
        let number = desired.numbers.iter().find(|n| n.phone.e164() == number_plan.phone)?.clone();
        Some((index, number, (*number_plan).clone()))
    });
    let mut next = queue.next();
    let mut tasks = tokio::task::JoinSet::new();
    let mut outcomes: Vec<(usize, String, NumberOutcome)> = Vec::new();
    let mut fatal = None;
    loop {
        tokio::select! {
            // A permit is taken before its task exists, so numbers start in manifest order (with
            // --parallelism 1, strictly one after the other); finished tasks are collected
            // meanwhile, so a fatal error stops the others at once.
            permit = permits.clone().acquire_owned(), if next.is_some() => {
                let (Ok(permit), Some((index, number, number_plan))) = (permit, next.take()) else { break };
                next = queue.next();
                let shared = shared.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    let outcome = engine::run_number(&shared, &number, &number_plan).await;
                    (index, number_plan.phone.clone(), outcome)
                });
            }
            Some(joined) = tasks.join_next() => match joined {
                Ok((index, phone, Ok(outcome))) => outcomes.push((index, phone, outcome)),
                Ok((_, _, Err(error))) => {
                    // The journal can no longer be written: stop every number now.
                    cancel.cancel();
                    fatal.get_or_insert(error);
                }
                Err(join_error) => {
                    cancel.cancel();
                    ui.event(
                        Level::Error,
                        "task_failed",
                        &format!("a number's task ended abnormally: {join_error}"),
                        json!({}),
                    );
                }
            },
            else => break,
        }
    }
    interrupt.abort();
    if let Some(countdown) = countdown {
        countdown.abort();
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    outcomes.sort_by_key(|(index, _, _)| *index);
    if let Some(progress) = &progress {
        for (_, phone, outcome) in &outcomes {
            let state = match outcome {
                NumberOutcome::Done { .. } => RowState::Done("migrated".to_owned()),
                NumberOutcome::AwaitingCode { method, env_var, file, .. } => RowState::Waiting {
                    what: format!("code sent by {}", method.channel()),
                    hint: format!("export {env_var} or put it in {} (below)", file.display()),
                    until: None,
                },
                NumberOutcome::Failed { step, .. } => {
                    RowState::Failed(format!("{} failed (see below)", step.as_str()))
                }
                NumberOutcome::Confirming { step, .. } => {
                    RowState::Failed(format!("{} accepted, not shown yet (see below)", step.as_str()))
                }
                NumberOutcome::Interrupted { .. } => RowState::Interrupted,
            };
            progress.set(phone, state);
        }
        progress.finish();
    }
    let outcomes: Vec<(String, NumberOutcome)> = outcomes.into_iter().map(|(_, p, o)| (p, o)).collect();
    lock.release();

    ui.out(&report::render_summary(&outcomes, &blocked, &ui.styles));
    ui.out(&report::render_handoff(&outcomes, &options.state, &ui.styles));
    summary_event(ui, &outcomes, blocked.len(), shared.calls.request_count());
    let counts = |label: &str| outcomes.iter().filter(|(_, o)| o.label() == label).count();
    if let Some(error) = fatal {
        return Err(match error {
            engine::EngineError::Journal(error) => Error::Journal(error),
        });
    }
    let mut status = blocked_status;
    if counts("waiting") > 0 || counts("confirming") > 0 {
        status = status.combine(ExitStatus::Paused);
    }
    if counts("interrupted") > 0 || cancel.is_cancelled() {
        status = status.combine(ExitStatus::Interrupted);
    }
    if counts("failed") > 0 {
        status = status.combine(ExitStatus::Error);
    }
    Ok(status)
}

/// The closing counts for machine readers (people read the summary table on stdout).
fn summary_event(ui: &Ui, outcomes: &[(String, NumberOutcome)], blocked: usize, requests: u64) {
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
            "apply finished: {} done, {} waiting for a code, {} failed, {} blocked, {} interrupted",
            counts("done"),
            counts("waiting"),
            counts("failed"),
            blocked,
            counts("interrupted")
        ),
        json!({
            "done": counts("done"), "waiting": counts("waiting"), "failed": counts("failed"),
            "blocked": blocked, "interrupted": counts("interrupted"),
            "requests": requests, "numbers": numbers,
        }),
    );
}

/// While `--wait-for-codes` runs without the live view: which numbers wait and how long is
/// left, as a log line every 30 seconds (the live view shows the same on a terminal).
async fn countdown(shared: Arc<Shared<GraphClient>>, total: Duration) {
    if shared.progress.is_some() {
        return;
    }
    let start = Instant::now();
    let mut last_log: Option<Instant> = None;
    loop {
        // As often as the codes directory is polled, so the first line comes without delay.
        let tick = shared.timing.poll_interval.clamp(Duration::from_millis(50), Duration::from_secs(1));
        tokio::time::sleep(tick).await;
        let waiting = shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if waiting.is_empty() {
            continue;
        }
        let left = total.saturating_sub(start.elapsed());
        if last_log.is_none_or(|at| at.elapsed() >= Duration::from_secs(30)) {
            last_log = Some(Instant::now());
            let line = format!(
                "waiting for codes for {} ({} left; put each code in {}/<digits>)",
                waiting.join(", "),
                crate::duration::display_seconds(left),
                shared.codes_dir.display()
            );
            shared.ui.event(
                Level::Info,
                "waiting_for_codes",
                &line,
                json!({"waiting": waiting, "seconds_left": left.as_secs(), "codes_dir": shared.codes_dir}),
            );
        }
    }
}

/// Ctrl-C, heard from the moment this is made. On Unix the handler is installed at once; Tokio's
/// portable `ctrl_c()` installs it only when first polled, which can be after a question was
/// already on the screen.
struct Interrupts {
    #[cfg(unix)]
    signal: Option<tokio::signal::unix::Signal>,
}

impl Interrupts {
    fn listen() -> Self {
        #[cfg(unix)]
        {
            Interrupts {
                signal: tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt()).ok(),
            }
        }
        #[cfg(not(unix))]
        {
            Interrupts {}
        }
    }

    /// Resolves at the next Ctrl-C; never when no handler could be installed.
    async fn recv(&mut self) {
        #[cfg(unix)]
        {
            let heard = match &mut self.signal {
                Some(signal) => signal.recv().await.is_some(),
                None => false,
            };
            if !heard {
                std::future::pending::<()>().await;
            }
        }
        #[cfg(not(unix))]
        if tokio::signal::ctrl_c().await.is_err() {
            std::future::pending::<()>().await;
        }
    }
}
