//! Owns apply's execution stage: the numbers run through the engine in parallel (at most
//! `--parallelism` at once, started in manifest order), with the live view, the countdown while
//! codes are awaited and Ctrl-C / SIGTERM handling around them (`signals`); the numbers whose writes are all made are
//! then settled together (`settle`). A journal that can no longer be written stops every number.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;

use super::calls::MigrationCalls;
use super::engine::{EngineError, RunEnd, Shared, observed_view, run_number};
use super::prepare::Prepared;
use super::progress::RowState;
use super::report::NumberOutcome;
use super::run::ApplyOptions;
use super::settle::{Settling, settle};
use super::signals::Signals;
use crate::ui::Level;

/// What the numbers ended with, in manifest order, and the error that stopped them all, if any.
pub struct Execution {
    pub outcomes: Vec<(String, NumberOutcome)>,
    pub fatal: Option<EngineError>,
}

pub(super) async fn execute<G: MigrationCalls>(
    shared: Arc<Shared<G>>,
    prepared: &Prepared,
    options: &ApplyOptions,
    signals: Signals,
) -> Execution {
    let interrupt = super::signals::watch_run(signals, &shared);
    let ticker = shared.progress.clone().map(|progress| {
        tokio::spawn(async move {
            loop {
                progress.redraw();
                tokio::time::sleep(super::progress::TICK).await;
            }
        })
    });
    let countdown = options.wait_for_codes.map(|total| tokio::spawn(countdown(shared.clone(), total)));

    let (ends, mut fatal) = run_all(&shared, prepared, options.parallelism).await;
    let mut outcomes = Vec::new();
    let mut settling = Vec::new();
    for (index, end) in ends {
        let (number, plan) = &prepared.work[index];
        match end {
            RunEnd::Outcome(outcome) => outcomes.push((index, outcome)),
            RunEnd::Settle { done, skipped } => {
                settling.push(Settling { number: number.clone(), plan: plan.clone(), done, skipped })
            }
        }
    }
    if fatal.is_none() && !settling.is_empty() {
        match settle(&shared, settling).await {
            Ok(mut settled) => {
                for (index, (number, _)) in prepared.work.iter().enumerate() {
                    if let Some(outcome) = settled.remove(&number.phone.e164()) {
                        outcomes.push((index, outcome));
                    }
                }
            }
            Err(error) => fatal = Some(error),
        }
    }
    interrupt.abort();
    if let Some(countdown) = countdown {
        countdown.abort();
    }
    if let Some(ticker) = ticker {
        ticker.abort();
    }
    outcomes.sort_by_key(|(index, _)| *index);
    let outcomes: Vec<(String, NumberOutcome)> = outcomes
        .into_iter()
        .map(|(index, outcome)| (prepared.work[index].1.phone.clone(), outcome))
        .collect();
    if let Some(progress) = &shared.progress {
        for (phone, outcome) in &outcomes {
            progress.set(phone, row_state(outcome));
        }
        progress.finish();
    }
    Execution { outcomes, fatal }
}

/// Runs every number through the engine, at most `parallelism` at once.
async fn run_all<G: MigrationCalls>(
    shared: &Arc<Shared<G>>,
    prepared: &Prepared,
    parallelism: usize,
) -> (Vec<(usize, RunEnd)>, Option<EngineError>) {
    let permits = Arc::new(tokio::sync::Semaphore::new(parallelism.max(1)));
    let mut queue = prepared.work.iter().cloned().enumerate();
    let mut next = queue.next();
    let mut tasks = tokio::task::JoinSet::new();
    let mut ends = Vec::new();
    let mut fatal = None;
    loop {
        tokio::select! {
            // A permit is taken before its task exists, so numbers start in manifest order (with
            // --parallelism 1, strictly one after the other); finished tasks are collected
            // meanwhile, so a fatal error stops the others at once.
            permit = permits.clone().acquire_owned(), if next.is_some() => {
                let (Ok(permit), Some((index, (number, plan)))) = (permit, next.take()) else { break };
                next = queue.next();
                let shared = shared.clone();
                tasks.spawn(async move {
                    let _permit = permit;
                    let view = observed_view(&shared, &number);
                    (index, run_number(&shared, &number, &plan, view).await)
                });
            }
            Some(joined) = tasks.join_next() => match joined {
                Ok((index, Ok(end))) => ends.push((index, end)),
                Ok((_, Err(error))) => {
                    // The journal can no longer be written: stop every number now.
                    shared.cancel.cancel();
                    fatal.get_or_insert(error);
                }
                Err(join_error) => {
                    shared.cancel.cancel();
                    shared.ui.event(
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
    (ends, fatal)
}

fn row_state(outcome: &NumberOutcome) -> RowState {
    match outcome {
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
        NumberOutcome::BudgetPaused { waba, .. } => {
            RowState::Failed(format!("paused: WABA {waba}'s Graph budget (see below)"))
        }
        NumberOutcome::Interrupted { .. } => RowState::Interrupted,
    }
}

/// While `--wait-for-codes` runs without the live view: which numbers wait and how long is
/// left, as a log line every 30 seconds (the live view shows the same on a terminal).
async fn countdown<G>(shared: Arc<Shared<G>>, total: Duration) {
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
