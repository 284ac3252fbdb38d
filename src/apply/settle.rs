//! Owns the end of an apply for the numbers whose writes are all made: one read of their nodes
//! together (a multi-id read, 50 a request) that confirms what Graph answered, read again with
//! bounded backoff while Graph's reads lag its writes, and the post-migration report from reads
//! shared per WABA (one listing per source, one template list per destination). A write the reads
//! never show ends as confirming, never as a repeated write; a read that shows more to do (Meta
//! asking for ownership again) sends the number back through the engine once.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;

use jiff::Timestamp;
use serde_json::json;

use super::budget::Admission;
use super::calls::MigrationCalls;
use super::engine::{EngineError, RunEnd, Shared, recorded, run_number};
use super::report::{NumberOutcome, TemplateReport, VerificationReport};
use crate::graph::{ErrorClass, GraphError};
use crate::manifest::DesiredNumber;
use crate::migration::{self, Step};
use crate::observe::{self, NumberView, TemplateView};
use crate::plan::NumberPlan;
use crate::ui::Level;

/// A number whose writes are all made, waiting for its closing read.
#[derive(Debug, Clone)]
pub struct Settling {
    pub number: DesiredNumber,
    pub plan: NumberPlan,
    pub done: Vec<Step>,
    pub skipped: Vec<Step>,
}

/// Confirms and reports `settling`; each number's outcome comes back keyed by its E.164.
pub async fn settle<G: MigrationCalls>(
    shared: &Shared<G>,
    settling: Vec<Settling>,
) -> Result<BTreeMap<String, NumberOutcome>, EngineError> {
    let mut outcomes = BTreeMap::new();
    let mut ready = Vec::new();
    let mut pending = settling;
    // A second pass only for numbers the closing read sent back through the engine.
    for pass in 0..2 {
        if pending.is_empty() {
            break;
        }
        let confirmed = confirm(shared, std::mem::take(&mut pending)).await;
        for (settling, result) in confirmed {
            let e164 = settling.number.phone.e164();
            let view = match result {
                Confirmed::Shown(view) => view,
                Confirmed::Lagging(step) => {
                    shared.event(
                        Level::Warn,
                        "confirming",
                        &settling.number,
                        &format!(
                            "Graph accepted {} but its reads do not show it yet; the next run confirms it without repeating it",
                            step.as_str()
                        ),
                        json!({"step": step.as_str()}),
                    );
                    outcomes.insert(e164, NumberOutcome::Confirming { step, done: settling.done });
                    continue;
                }
                Confirmed::Stopped(outcome) => {
                    outcomes.insert(e164, outcome);
                    continue;
                }
                Confirmed::ReadFailed(error) => {
                    shared.record(&settling.number, |r| {
                        r.last_error = Some(recorded(Step::VerifyTemplates, &error))
                    })?;
                    outcomes.insert(
                        e164,
                        NumberOutcome::Failed {
                            step: Step::VerifyTemplates,
                            message: error.message(),
                            hint: format!(
                                "{}; every write was made, so the next wamig apply only reads the number back",
                                crate::hints::graph_hint(&error)
                            ),
                            done: settling.done,
                        },
                    );
                    continue;
                }
            };
            let record = shared.current(&settling.number);
            let position = migration::classify(view.as_ref(), Some(&record), Timestamp::now());
            if position.in_sync(settling.number.register) {
                ready.push((settling, view));
            } else if pass == 0 {
                // The read shows more to do: the engine goes on from what it shows.
                match run_number(shared, &settling.number, &settling.plan, view).await? {
                    RunEnd::Outcome(outcome) => {
                        outcomes.insert(e164, outcome);
                    }
                    RunEnd::Settle { mut done, skipped } => {
                        let mut earlier = settling.done;
                        earlier.append(&mut done);
                        pending.push(Settling { done: earlier, skipped, ..settling });
                    }
                }
            } else {
                let step = position
                    .remaining_steps(settling.number.register)
                    .first()
                    .copied()
                    .unwrap_or(Step::VerifyTemplates);
                outcomes.insert(
                    e164,
                    NumberOutcome::Failed {
                        step,
                        message: format!(
                            "{} did not settle: its reads keep showing more to do",
                            settling.number.phone
                        ),
                        hint: "check the number in WhatsApp Manager, then run wamig apply again".into(),
                        done: settling.done,
                    },
                );
            }
        }
    }
    for (settling, report) in reports(shared, ready).await? {
        outcomes.insert(
            settling.number.phone.e164(),
            NumberOutcome::Done { report, done: settling.done, skipped: settling.skipped },
        );
    }
    Ok(outcomes)
}

enum Confirmed {
    /// The read shows every write Graph answered (the node, or `None`: not listed).
    Shown(Option<NumberView>),
    /// The read still does not show this step's write.
    Lagging(Step),
    /// The WABA's budget or Ctrl-C stopped the read.
    Stopped(NumberOutcome),
    ReadFailed(GraphError),
}

/// Reads the nodes of `numbers` together until each shows what the journal says Graph
/// accepted, waiting between reads as `Timing::confirm_backoff` says.
async fn confirm<G: MigrationCalls>(
    shared: &Shared<G>,
    numbers: Vec<Settling>,
) -> Vec<(Settling, Confirmed)> {
    let mut results = Vec::new();
    let mut left = numbers;
    let mut waits = shared.timing.confirm_backoff.clone().into_iter();
    loop {
        // Calls on a WABA whose budget is spent are not made: its numbers pause.
        let mut paused = BTreeMap::new();
        for waba in left.iter().map(|s| s.number.destination_waba.clone()).collect::<BTreeSet<_>>() {
            if let Err(outcome) = wait_for_budget(shared, &waba).await {
                paused.insert(waba, outcome);
            }
        }
        let (stopped, reading): (Vec<_>, Vec<_>) =
            left.into_iter().partition(|s| paused.contains_key(&s.number.destination_waba));
        for settling in stopped {
            let outcome = match &paused[&settling.number.destination_waba] {
                NumberOutcome::BudgetPaused { waba, until, .. } => NumberOutcome::BudgetPaused {
                    waba: waba.clone(),
                    until: *until,
                    done: settling.done.clone(),
                },
                _ => NumberOutcome::Interrupted { done: settling.done.clone() },
            };
            results.push((settling, Confirmed::Stopped(outcome)));
        }
        let reads = match read_nodes(shared, &reading).await {
            Ok(reads) => reads,
            Err(error) => {
                results.extend(reading.into_iter().map(|s| (s, Confirmed::ReadFailed(error.clone()))));
                return results;
            }
        };
        let wait = waits.next();
        left = Vec::new();
        for (settling, view) in reading.into_iter().zip(reads) {
            let record = shared.current(&settling.number);
            match migration::classify(view.as_ref(), Some(&record), Timestamp::now()).confirming {
                None => results.push((settling, Confirmed::Shown(view))),
                Some(step) if wait.is_none() || shared.cancel.is_cancelled() => {
                    results.push((settling, Confirmed::Lagging(step)))
                }
                Some(_) => left.push(settling),
            }
        }
        let Some(wait) = wait.filter(|_| !left.is_empty()) else { return results };
        shared.ui.debug(
            "read_lag",
            &format!(
                "Graph does not show {} number(s)' last write yet; reading again in {}",
                left.len(),
                crate::duration::display(wait)
            ),
        );
        if !shared.cancel.sleep(wait).await {
            results.extend(left.into_iter().map(|s| {
                let done = s.done.clone();
                (s, Confirmed::Stopped(NumberOutcome::Interrupted { done }))
            }));
            return results;
        }
    }
}

/// One multi-id read of the numbers' nodes. Graph refuses a whole multi-id read when one id is
/// unknown to it (a node created moments ago, while reads lag), so such a read is made again one
/// id at a time, to tell which.
async fn read_nodes<G: MigrationCalls>(
    shared: &Shared<G>,
    numbers: &[Settling],
) -> Result<Vec<Option<NumberView>>, GraphError> {
    let ids: Vec<Option<String>> =
        numbers.iter().map(|s| shared.current(&s.number).phone_number_id).collect();
    let wanted: Vec<String> = ids.iter().flatten().cloned().collect::<BTreeSet<_>>().into_iter().collect();
    let found = match shared.calls.phone_numbers_by_id(&wanted).await {
        Ok(found) => found,
        Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {
            let mut found = BTreeMap::new();
            for id in &wanted {
                match shared.calls.phone_number(id).await {
                    Ok(node) => {
                        found.insert(id.clone(), node);
                    }
                    Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {}
                    Err(error) => return Err(error),
                }
            }
            found
        }
        Err(error) => return Err(error),
    };
    Ok(numbers
        .iter()
        .zip(ids)
        .map(|(settling, id)| {
            let node = found.get(&id?)?;
            let view = observe::number_view(node);
            (view.digits == settling.number.phone.digits() || view.digits.is_empty()).then_some(view)
        })
        .collect())
}

/// Waits for a call on `waba` as its budget allows; the outcome to stop with when it does not.
async fn wait_for_budget<G: MigrationCalls>(shared: &Shared<G>, waba: &str) -> Result<(), NumberOutcome> {
    match shared.budgets.admit(waba, shared.calls.budget_used(waba), Instant::now()) {
        Admission::Now => Ok(()),
        Admission::After(wait) => {
            if shared.cancel.sleep(wait).await {
                Ok(())
            } else {
                Err(NumberOutcome::Interrupted { done: Vec::new() })
            }
        }
        Admission::Pause(pause) => {
            Err(NumberOutcome::BudgetPaused { waba: pause.waba, until: pause.until, done: Vec::new() })
        }
    }
}

/// The post-migration report of each number, from reads shared per WABA: each source's listing
/// once, each destination's templates once.
async fn reports<G: MigrationCalls>(
    shared: &Shared<G>,
    ready: Vec<(Settling, Option<NumberView>)>,
) -> Result<Vec<(Settling, VerificationReport)>, EngineError> {
    let sources: BTreeSet<String> = ready.iter().filter_map(|(s, _)| s.plan.source_waba.clone()).collect();
    let mut listings: BTreeMap<String, Vec<NumberView>> = BTreeMap::new();
    for source in sources {
        if wait_for_budget(shared, &source).await.is_ok()
            && let Ok(listed) = shared.calls.phone_numbers(&source).await
        {
            listings.insert(source, listed.iter().map(observe::number_view).collect());
        }
    }
    let source_templates = |settling: &Settling| {
        settling
            .plan
            .source_waba
            .as_ref()
            .and_then(|s| shared.snapshot.waba(s))
            .and_then(|w| w.templates.clone())
    };
    // Without the source's templates there is nothing to compare the destination's with.
    let destinations: BTreeSet<String> = ready
        .iter()
        .filter(|(s, _)| source_templates(s).is_some())
        .map(|(s, _)| s.number.destination_waba.clone())
        .collect();
    let mut templates: BTreeMap<String, Vec<TemplateView>> = BTreeMap::new();
    for destination in destinations {
        if wait_for_budget(shared, &destination).await.is_ok()
            && let Ok(list) = shared.calls.message_templates(&destination).await
        {
            templates.insert(destination, list.iter().map(observe::template_view).collect());
        }
    }

    let mut out = Vec::new();
    for (settling, view) in ready {
        let number = &settling.number;
        let mut report = VerificationReport::default();
        if let Some(node) = &view {
            report.verified = node.is_verified();
            report.registered = migration::is_registered(node);
            report.status = node.status.clone();
        }
        if let Some(listed) = settling.plan.source_waba.as_ref().and_then(|s| listings.get(s)) {
            let still = listed.iter().find(|v| v.digits == number.phone.digits());
            report.gone_from_source = Some(still.is_none_or(NumberView::is_migrated_away));
            report.source_status = still.and_then(|v| v.status.clone());
        }
        report.templates = match (source_templates(&settling), templates.get(&number.destination_waba)) {
            (Some(source), Some(destination)) => {
                let before = shared
                    .snapshot
                    .waba(&number.destination_waba)
                    .and_then(|w| w.templates.clone())
                    .unwrap_or_default();
                Some(TemplateReport::compare(&source, destination, &before))
            }
            _ => None,
        };
        shared.record(number, |r| {
            r.templates_checked_at = Some(Timestamp::now());
            // The baseline a later plan reports a lowered messaging limit against.
            r.messaging_limit_tier = view.as_ref().and_then(|node| node.messaging_limit_tier.clone());
        })?;
        shared.event(
            Level::Info,
            "verified",
            number,
            &report.one_line(),
            json!({"step": "verify_templates", "report": report}),
        );
        let mut settling = settling;
        settling.done.push(Step::VerifyTemplates);
        let done = settling.done.clone();
        settling.skipped.retain(|step| !done.contains(step));
        out.push((settling, report));
    }
    Ok(out)
}
