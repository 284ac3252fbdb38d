//! Owns apply's templates stage: for each destination with `templates: { ensure: true }` whose
//! plan has templates to add, after the confirmation and before any number is worked on (Meta
//! advises that templates be in place before the destination's numbers are registered). Meta's
//! template migration runs in pages of at most 500 (`page_number`/`count`), or by `template_ids`
//! where pages would also copy templates the manifest leaves alone or that are already there; a
//! call that runs out of time is asked again with a smaller `count`; what Meta refused is asked
//! for once more by id; templates of a source run for another business are created anew from the
//! source's definition. One read of the destination then tells what arrived. The stage works
//! from the plan, which compares the sources with the destination's templates, so a rerun asks
//! only for what is still missing and an in-sync destination costs no call. It must not touch
//! numbers, the journal or the engine.

use std::collections::{BTreeMap, BTreeSet};
use std::future::Future;
use std::time::Duration;

use serde_json::{Value, json};

use super::budget::{Admission, Budgets};
use super::clock::Clock;
use super::engine::Cancel;
use super::report::TemplatesOutcome;
use crate::graph::{
    CreatedTemplate, ErrorClass, GraphClient, GraphError, MessageTemplate, TEMPLATE_MIGRATION_MAX,
    TemplateMigration,
};
use crate::manifest::PhoneNumber;
use crate::observe::{self, Snapshot, TemplateView};
use crate::plan::templates::migration_eligibility;
use crate::plan::{DestinationPlan, Plan, PlannedTemplate, TemplateMethod};
use crate::ui::{Level, Ui};

/// The Graph calls of the templates stage, as a trait so its unit tests run without a network.
pub trait TemplateCalls: Send + Sync {
    fn migrate_templates(
        &self,
        destination: &str,
        source: &str,
        page_number: usize,
        count: usize,
        template_ids: &[String],
    ) -> impl Future<Output = Result<TemplateMigration, GraphError>> + Send;

    /// Creates `template` (as the source lists it) in `waba`.
    fn create_template(
        &self,
        waba: &str,
        template: &TemplateView,
        language: &str,
        category: &str,
        components: &[Value],
    ) -> impl Future<Output = Result<CreatedTemplate, GraphError>> + Send;

    fn list_templates(
        &self,
        waba: &str,
    ) -> impl Future<Output = Result<Vec<MessageTemplate>, GraphError>> + Send;

    /// The share (percent) of `waba`'s hourly Graph budget used, as Meta last reported it.
    fn templates_budget_used(&self, waba: &str) -> Option<u64>;
}

impl TemplateCalls for GraphClient {
    async fn migrate_templates(
        &self,
        destination: &str,
        source: &str,
        page_number: usize,
        count: usize,
        template_ids: &[String],
    ) -> Result<TemplateMigration, GraphError> {
        self.migrate_message_templates(destination, source, page_number, count, template_ids).await
    }

    async fn create_template(
        &self,
        waba: &str,
        template: &TemplateView,
        language: &str,
        category: &str,
        components: &[Value],
    ) -> Result<CreatedTemplate, GraphError> {
        self.create_message_template(
            waba,
            &template.name,
            language,
            category,
            components,
            template.parameter_format.as_deref(),
        )
        .await
    }

    async fn list_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        self.message_templates(waba).await
    }

    fn templates_budget_used(&self, waba: &str) -> Option<u64> {
        self.usage().for_object(waba).iter().map(|entry| entry.max_percent()).max()
    }
}

/// What the stage works with: the calls, each WABA's Graph budget, Ctrl-C and the log.
pub struct Stage<'a, T> {
    pub calls: &'a T,
    pub budgets: &'a Budgets,
    pub cancel: &'a Cancel,
    pub ui: &'a Ui,
    /// Apply's clock, which budget waits are on.
    pub clock: &'a dyn Clock,
}

/// What the stage did, and each worked destination's templates as read at its end (for the
/// numbers' reports, which tell what arrived with a number from what was there before).
pub struct StageResult {
    pub outcomes: Vec<TemplatesOutcome>,
    pub listings: BTreeMap<String, Vec<TemplateView>>,
}

/// The destinations this run adds templates to: those with templates to add, and, with
/// `--target`, only the destinations of the targeted numbers.
pub fn work<'a>(plan: &'a Plan, targets: &[PhoneNumber]) -> Vec<&'a DestinationPlan> {
    plan.destinations
        .iter()
        .filter(|d| d.templates.changes() > 0)
        .filter(|d| {
            targets.is_empty()
                || plan
                    .numbers
                    .iter()
                    .any(|n| n.destination_waba == d.waba && targets.iter().any(|t| t.e164() == n.phone))
        })
        .collect()
}

/// Adds the missing templates of each destination in `work`, one destination after another.
pub async fn run<T: TemplateCalls>(
    stage: &Stage<'_, T>,
    work: &[&DestinationPlan],
    snapshot: &Snapshot,
) -> StageResult {
    let mut result = StageResult { outcomes: Vec::new(), listings: BTreeMap::new() };
    for destination in work {
        let (outcome, listing) = ensure(stage, destination, snapshot).await;
        stage.ui.event(
            if outcome.is_failure() { Level::Warn } else { Level::Info },
            "templates_finished",
            &outcome.one_line(),
            json!({"destination_waba": destination.waba, "report": outcome}),
        );
        if let Some(listing) = listing {
            result.listings.insert(destination.waba.clone(), listing);
        }
        result.outcomes.push(outcome);
    }
    result
}

/// Why the stage stopped in a destination: what happened, and what to do.
type Stop = (String, String);

const RERUN: &str = "run wamig apply again: it adds only the templates still missing";

fn interrupted() -> Stop {
    ("stopped by Ctrl-C".to_owned(), RERUN.to_owned())
}

fn graph_stop(what: String, error: &GraphError) -> Stop {
    (format!("{what}: {}", error.message()), crate::hints::graph_hint(error))
}

/// Waits for a call on `waba` as its budget allows.
async fn admit<T: TemplateCalls>(stage: &Stage<'_, T>, waba: &str) -> Result<(), Stop> {
    if stage.cancel.is_cancelled() {
        return Err(interrupted());
    }
    match stage.budgets.admit(waba, stage.calls.templates_budget_used(waba), stage.clock) {
        Admission::Now => Ok(()),
        Admission::After(wait) if stage.cancel.sleep(stage.clock, wait).await => Ok(()),
        Admission::After(_) => Err(interrupted()),
        Admission::Pause(pause) => Err((
            format!(
                "WABA {}'s Graph budget is spent until {} UTC",
                pause.waba,
                pause.until.strftime("%H:%M")
            ),
            format!("{RERUN} after that"),
        )),
    }
}

/// How often a throttled call is asked again (after Meta's wait) before the stage stops.
const THROTTLE_RETRIES: u32 = 3;

/// Meta's reasons are free text: these words mark a template that is there after all.
fn is_already_there(reason: &str) -> bool {
    reason.to_ascii_lowercase().contains("already exist")
}

async fn ensure<T: TemplateCalls>(
    stage: &Stage<'_, T>,
    destination: &DestinationPlan,
    snapshot: &Snapshot,
) -> (TemplatesOutcome, Option<Vec<TemplateView>>) {
    let plan = &destination.templates;
    let dest = destination.waba.as_str();
    let mut outcome = TemplatesOutcome {
        destination_waba: dest.to_owned(),
        destination_name: destination.name.clone(),
        already_present: plan.present.clone(),
        left_out: plan.left_out.iter().map(PlannedTemplate::display).collect(),
        ..TemplatesOutcome::default()
    };
    stage.ui.event(
        Level::Info,
        "templates_started",
        &format!(
            "adding templates to WABA {dest}: {} to migrate, {} to re-create",
            plan.to_migrate.len(),
            plan.to_recreate.len()
        ),
        json!({"destination_waba": dest, "to_migrate": plan.to_migrate.len(), "to_recreate": plan.to_recreate.len()}),
    );

    let mut answers = Answers::default();
    let mut stopped = None;
    for source in plan.sources.iter().filter(|s| s.method == TemplateMethod::Migrate) {
        let wanted: Vec<&PlannedTemplate> =
            plan.to_migrate.iter().filter(|t| t.source_waba == source.waba).collect();
        if wanted.is_empty() {
            continue;
        }
        if let Err(stop) = migrate_source(stage, dest, &source.waba, &wanted, snapshot, &mut answers).await {
            stopped = Some(stop);
            break;
        }
    }
    for template in &plan.to_recreate {
        if stopped.is_some() {
            break;
        }
        match recreate(stage, dest, template, snapshot).await {
            Ok(status) => outcome.recreated.push((template.display(), status)),
            Err(Refusal::Exists) => outcome.already_present.push(template.display()),
            Err(Refusal::Failed(reason)) => outcome.failed.push((template.display(), reason)),
            Err(Refusal::Stop(stop)) => stopped = Some(stop),
        }
    }

    // One read tells what arrived, whatever the answers said.
    let mut listing = None;
    if !plan.to_migrate.is_empty() {
        let read = match admit(stage, dest).await {
            Ok(()) => stage.calls.list_templates(dest).await.map_err(|e| {
                graph_stop(format!("the templates of WABA {dest} could not be read to confirm"), &e)
            }),
            Err(stop) => Err(stop),
        };
        match read {
            Ok(list) => listing = Some(list.iter().map(observe::template_view).collect::<Vec<_>>()),
            Err(stop) => {
                stopped.get_or_insert(stop);
            }
        }
    }
    for template in &plan.to_migrate {
        let there = match &listing {
            Some(list) => list.iter().any(|t| named_like(t, template)),
            None => template.id.as_ref().is_some_and(|id| answers.migrated.contains(id)),
        };
        let reason = template.id.as_ref().and_then(|id| answers.failed.get(id));
        match (there, reason) {
            (true, Some(reason)) if is_already_there(reason) => {
                outcome.already_present.push(template.display())
            }
            (true, _) => outcome.migrated.push(template.display()),
            (false, Some(reason)) => outcome.failed.push((template.display(), reason.clone())),
            // The stage stopped before this one was asked for: the stop says why.
            (false, None) if stopped.is_some() => {}
            (false, None) => outcome.failed.push((
                template.display(),
                "Meta did not report it, and the destination does not list it".to_owned(),
            )),
        }
    }
    outcome.stopped = stopped;
    (outcome, listing)
}

fn named_like(template: &TemplateView, planned: &PlannedTemplate) -> bool {
    template.name == planned.name
        && (template.language == planned.language
            || template.language.is_none()
            || planned.language.is_none())
}

/// Meta's answers over all the calls on one destination, by source template id.
#[derive(Default)]
struct Answers {
    migrated: BTreeSet<String>,
    failed: BTreeMap<String, String>,
}

/// Which of the source's templates a call names: the source's list in pages, or ids.
enum Selection {
    /// Pages over the source's templates (this many of them).
    Pages(usize),
    Ids(Vec<String>),
}

impl Selection {
    fn len(&self) -> usize {
        match self {
            Selection::Pages(total) => *total,
            Selection::Ids(ids) => ids.len(),
        }
    }
}

/// The page sizes tried after a timeout, each a divisor of the one before, so that the pages
/// done so far stay whole pages at the new size.
const SMALLER_COUNTS: &[usize] = &[250, 125, 25, 5, 1];

fn smaller(count: usize, offset: usize) -> usize {
    SMALLER_COUNTS.iter().copied().find(|c| *c < count && offset.is_multiple_of(*c)).unwrap_or(1)
}

async fn migrate_source<T: TemplateCalls>(
    stage: &Stage<'_, T>,
    dest: &str,
    source: &str,
    wanted: &[&PlannedTemplate],
    snapshot: &Snapshot,
    answers: &mut Answers,
) -> Result<(), Stop> {
    let listed: &[TemplateView] =
        snapshot.waba(source).and_then(|w| w.templates.as_deref()).unwrap_or_default();
    // Pages copy every eligible template of the source: only when that is exactly what is
    // wanted. Otherwise (some are left alone by `except`, or already there) the wanted ones
    // are named.
    let everything_wanted = listed
        .iter()
        .filter(|t| migration_eligibility(t).is_ok())
        .all(|t| wanted.iter().any(|w| named_like(t, w)));
    let ids: Vec<String> = wanted.iter().filter_map(|w| w.id.clone()).collect();
    let selection = if everything_wanted && !listed.is_empty() {
        Selection::Pages(listed.len())
    } else {
        Selection::Ids(ids.clone())
    };
    send(stage, dest, source, &selection, answers).await?;

    // What Meta refused is asked for once more, by id; a template already there is not.
    let again: Vec<String> = ids
        .iter()
        .filter(|id| !answers.migrated.contains(*id))
        .filter(|id| answers.failed.get(*id).is_some_and(|why| !is_already_there(why)))
        .cloned()
        .collect();
    if !again.is_empty() {
        stage.ui.event(
            Level::Info,
            "templates_retry_failed",
            &format!("asking Meta again for the {} template(s) it refused from WABA {source}", again.len()),
            json!({"destination_waba": dest, "source_waba": source, "templates": again.len()}),
        );
        send(stage, dest, source, &Selection::Ids(again), answers).await?;
    }
    for id in &answers.migrated {
        answers.failed.remove(id);
    }
    Ok(())
}

/// Sends the calls that cover `selection`, page by page.
async fn send<T: TemplateCalls>(
    stage: &Stage<'_, T>,
    dest: &str,
    source: &str,
    selection: &Selection,
    answers: &mut Answers,
) -> Result<(), Stop> {
    let total = selection.len();
    let mut count = total.clamp(1, TEMPLATE_MIGRATION_MAX);
    let mut offset = 0;
    let mut throttled = 0;
    while offset < total {
        admit(stage, dest).await?;
        let (page, ids) = match selection {
            Selection::Pages(_) => (offset / count, Vec::new()),
            Selection::Ids(all) => (0, all[offset..(offset + count).min(total)].to_vec()),
        };
        let asked = if ids.is_empty() { count } else { ids.len() };
        match stage.calls.migrate_templates(dest, source, page, asked, &ids).await {
            Ok(answer) => {
                stage.ui.event(
                    Level::Debug,
                    "templates_page",
                    &format!(
                        "migrate_message_templates from WABA {source}: {} migrated, {} refused",
                        answer.migrated.len(),
                        answer.failed.len()
                    ),
                    json!({
                        "destination_waba": dest, "source_waba": source, "page_number": page,
                        "count": asked, "template_ids": ids.len(),
                        "migrated": answer.migrated.len(), "failed": answer.failed.len(),
                    }),
                );
                answers.migrated.extend(answer.migrated);
                answers.failed.extend(answer.failed);
                offset += count;
            }
            Err(error) if error.class() == ErrorClass::Timeout && count > 1 => {
                let next = smaller(count, offset);
                stage.ui.event(
                    Level::Warn,
                    "templates_retry",
                    &format!(
                        "Meta's template migration from WABA {source} ran out of time with {asked} templates; asking again with {next} per page"
                    ),
                    json!({"destination_waba": dest, "source_waba": source, "class": "timeout", "count": next}),
                );
                count = next;
            }
            Err(error) if error.class() == ErrorClass::Throttled && throttled < THROTTLE_RETRIES => {
                throttled += 1;
                let wait = error.retry_after().unwrap_or(Duration::from_secs(60));
                stage.budgets.throttled(dest, wait, stage.clock);
            }
            Err(error) => {
                return Err(graph_stop(format!("migrating the templates of WABA {source} failed"), &error));
            }
        }
    }
    Ok(())
}

/// Why a template could not be created.
enum Refusal {
    Exists,
    Failed(String),
    Stop(Stop),
}

/// Meta's own words for a refused template: its title and message when it gave them.
fn refusal_reason(error: &GraphError) -> String {
    match error.causes().into_iter().next() {
        Some(cause) if !["details:", "fbtrace_id:", "gave up"].iter().any(|p| cause.starts_with(p)) => cause,
        _ => error.message(),
    }
}

/// Submits `planned` anew in `dest` from the source's listing; the status Meta gave.
async fn recreate<T: TemplateCalls>(
    stage: &Stage<'_, T>,
    dest: &str,
    planned: &PlannedTemplate,
    snapshot: &Snapshot,
) -> Result<String, Refusal> {
    let listed = snapshot
        .waba(&planned.source_waba)
        .and_then(|w| w.templates.as_ref())
        .and_then(|list| list.iter().find(|t| named_like(t, planned)));
    let Some(template) = listed else {
        return Err(Refusal::Failed("the source no longer lists it".to_owned()));
    };
    let (Some(components), Some(category), Some(language)) =
        (&template.components, &template.category, &template.language)
    else {
        return Err(Refusal::Failed(
            "Graph did not list its components, category and language, which a new template needs".to_owned(),
        ));
    };
    admit(stage, dest).await.map_err(Refusal::Stop)?;
    match stage.calls.create_template(dest, template, language, category.as_str(), components).await {
        Ok(created) => Ok(created.status.unwrap_or_else(|| "PENDING".to_owned())),
        Err(error) => Err(match error.class() {
            ErrorClass::TemplateExists => Refusal::Exists,
            ErrorClass::TemplateLimit | ErrorClass::InvalidParameter | ErrorClass::Other => {
                Refusal::Failed(refusal_reason(&error))
            }
            _ => Refusal::Stop(graph_stop(format!("creating {} failed", planned.display()), &error)),
        }),
    }
}

#[cfg(test)]
mod tests;
