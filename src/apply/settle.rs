//! Owns the end of an apply for the numbers whose writes are all made: one read of their nodes
//! together (each destination's listing, or a multi-id read, whichever costs its budget fewer
//! calls) that confirms what Graph answered, read again with bounded backoff while Graph's reads
//! lag its writes, and the post-migration report from reads shared per WABA (one listing per
//! source, one template list per destination). A write the reads never show ends as confirming,
//! never as a repeated write; a read that shows more to do (Meta asking for ownership again)
//! sends the number back through the engine once.

use std::collections::{BTreeMap, BTreeSet};
use std::pin::Pin;
use std::task::Poll;

use jiff::Timestamp;
use serde_json::json;

use super::budget::Admission;
use super::calls::MigrationCalls;
use super::engine::{EngineError, RunEnd, Shared, recorded, run_number};
use super::report::{NumberOutcome, TemplateReport, VerificationReport};
use crate::graph::{EDGE_PAGE_LIMIT, ErrorClass, GraphError, PhoneNumber};
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
        if !shared.sleep(wait).await {
            results.extend(left.into_iter().map(|s| {
                let done = s.done.clone();
                (s, Confirmed::Stopped(NumberOutcome::Interrupted { done }))
            }));
            return results;
        }
    }
}

/// The numbers' nodes, read together, for each destination in whichever way costs its Graph
/// budget fewer calls: its listing (one call a page of 100 numbers) or a multi-id read (one call
/// an id). Moving many numbers into a WABA, that is its listing: 200 numbers into a new WABA
/// cost 2 calls of its 200 an hour instead of 200.
async fn read_nodes<G: MigrationCalls>(
    shared: &Shared<G>,
    numbers: &[Settling],
) -> Result<Vec<Option<NumberView>>, GraphError> {
    let ids: Vec<Option<String>> =
        numbers.iter().map(|s| shared.current(&s.number).phone_number_id).collect();
    let mut per_destination: BTreeMap<&str, usize> = BTreeMap::new();
    for (settling, id) in numbers.iter().zip(&ids) {
        if id.is_some() {
            *per_destination.entry(settling.number.destination_waba.as_str()).or_default() += 1;
        }
    }
    let listed: BTreeSet<&str> = per_destination
        .into_iter()
        .filter(|(waba, reading)| {
            let there = shared.snapshot.waba(waba).and_then(|w| w.numbers.as_ref()).map_or(0, Vec::len);
            (there + reading).div_ceil(EDGE_PAGE_LIMIT as usize) < *reading
        })
        .map(|(waba, _)| waba)
        .collect();
    let by_id: Vec<String> = numbers
        .iter()
        .zip(&ids)
        .filter(|(settling, _)| !listed.contains(settling.number.destination_waba.as_str()))
        .filter_map(|(_, id)| id.clone())
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    let listings = join_all(listed.iter().map(|waba| shared.calls.phone_numbers(waba)));
    let (listings, found) = tokio::join!(listings, read_by_id(shared, &by_id));
    let mut found = found?;
    for listing in listings {
        found.extend(listing?.into_iter().map(|node| (node.id.clone(), node)));
    }
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

/// Nodes by id, 50 a request. Graph refuses a whole multi-id read when one id is unknown to it (a
/// node created moments ago, while reads lag), so such a read is made again one id at a time, to
/// tell which.
async fn read_by_id<G: MigrationCalls>(
    shared: &Shared<G>,
    wanted: &[String],
) -> Result<BTreeMap<String, PhoneNumber>, GraphError> {
    if wanted.is_empty() {
        return Ok(BTreeMap::new());
    }
    match shared.calls.phone_numbers_by_id(wanted).await {
        Ok(found) => Ok(found),
        Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {
            let mut found = BTreeMap::new();
            for id in wanted {
                match shared.calls.phone_number(id).await {
                    Ok(node) => {
                        found.insert(id.clone(), node);
                    }
                    Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {}
                    Err(error) => return Err(error),
                }
            }
            Ok(found)
        }
        Err(error) => Err(error),
    }
}

/// Waits for a call on `waba` as its budget allows; the outcome to stop with when it does not.
async fn wait_for_budget<G: MigrationCalls>(shared: &Shared<G>, waba: &str) -> Result<(), NumberOutcome> {
    match shared.budgets.admit(waba, shared.calls.budget_used(waba), &*shared.timing.clock) {
        Admission::Now => Ok(()),
        Admission::After(wait) => {
            if shared.sleep(wait).await {
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
    // Every WABA's read at once, each after its own budget: the client keeps the calls in
    // flight within its concurrency, so a run over many WABAs does not read them one by one.
    let listings = join_all(sources.into_iter().map(|source| async move {
        wait_for_budget(shared, &source).await.ok()?;
        let listed = shared.calls.phone_numbers(&source).await.ok()?;
        Some((source, listed.iter().map(observe::number_view).collect::<Vec<_>>()))
    }));
    let templates = join_all(destinations.into_iter().map(|destination| async move {
        wait_for_budget(shared, &destination).await.ok()?;
        let list = shared.calls.message_templates(&destination).await.ok()?;
        Some((destination, list.iter().map(observe::template_view).collect::<Vec<_>>()))
    }));
    let (listings, templates) = tokio::join!(listings, templates);
    let listings: BTreeMap<String, Vec<NumberView>> = listings.into_iter().flatten().collect();
    let templates: BTreeMap<String, Vec<TemplateView>> = templates.into_iter().flatten().collect();

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
        // The baseline a later plan reports a lowered messaging limit against.
        let tier = view.as_ref().and_then(|node| node.messaging_limit_tier.clone());
        out.push((settling, report, tier));
    }
    // Every number's facts in one save.
    let now = Timestamp::now();
    shared.record_all(
        out.iter().map(|(settling, _, tier)| (&settling.number, tier.clone())),
        |r, tier| {
            r.templates_checked_at = Some(now);
            r.messaging_limit_tier = tier;
        },
    )?;
    Ok(out
        .into_iter()
        .map(|(mut settling, report, _)| {
            shared.event(
                Level::Info,
                "verified",
                &settling.number,
                &report.one_line(),
                json!({"step": "verify_templates", "report": report}),
            );
            settling.done.push(Step::VerifyTemplates);
            let done = settling.done.clone();
            settling.skipped.retain(|step| !done.contains(step));
            (settling, report)
        })
        .collect())
}

/// Runs `futures` together on this task and returns their outputs in order.
async fn join_all<F: Future>(futures: impl IntoIterator<Item = F>) -> Vec<F::Output> {
    let mut running: Vec<Pin<Box<F>>> = futures.into_iter().map(Box::pin).collect();
    let mut outputs: Vec<Option<F::Output>> = running.iter().map(|_| None).collect();
    std::future::poll_fn(|cx| {
        let mut pending = false;
        for (future, output) in running.iter_mut().zip(outputs.iter_mut()) {
            if output.is_none() {
                match future.as_mut().poll(cx) {
                    Poll::Ready(value) => *output = Some(value),
                    Poll::Pending => pending = true,
                }
            }
        }
        if pending { Poll::Pending } else { Poll::Ready(()) }
    })
    .await;
    outputs.into_iter().flatten().collect()
}
