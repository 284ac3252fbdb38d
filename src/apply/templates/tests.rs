//! Unit tests of the templates stage against a recording fake of its Graph calls: which calls
//! each plan leads to (pages, ids, smaller pages after a timeout, one retry of refusals,
//! re-creation) and how each template is reported.

use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;

use serde_json::json;

use super::*;
use crate::graph::{Operation, RequestInfo};
use crate::plan::fixtures::{DEST, SOURCE, World, live_number, template, with_media_header};
use crate::ui::Ui;

/// Answers scripted per call, then "everything asked for was migrated"; the destination's
/// listing grows with what the fake migrated or created.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    migrate_answers: Mutex<VecDeque<Result<TemplateMigration, GraphError>>>,
    create_answers: Mutex<VecDeque<Result<CreatedTemplate, GraphError>>>,
    /// Source templates by id, to add to the destination when "migrated".
    source: Vec<TemplateView>,
    destination: Mutex<Vec<MessageTemplate>>,
}

fn message_template(view: &TemplateView) -> MessageTemplate {
    MessageTemplate {
        id: format!("9{}", view.id.clone().unwrap_or_default()),
        name: Some(view.name.clone()),
        language: view.language.clone(),
        status: Some("APPROVED".into()),
        ..MessageTemplate::default()
    }
}

impl Fake {
    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl TemplateCalls for Fake {
    async fn migrate_templates(
        &self,
        destination: &str,
        source: &str,
        page_number: usize,
        count: usize,
        template_ids: &[String],
    ) -> Result<TemplateMigration, GraphError> {
        let ids =
            if template_ids.is_empty() { String::new() } else { format!(" ids {}", template_ids.join(",")) };
        self.calls
            .lock()
            .unwrap()
            .push(format!("migrate {source}->{destination} page {page_number} count {count}{ids}"));
        let answer = self.migrate_answers.lock().unwrap().pop_front().unwrap_or_else(|| {
            let chosen: Vec<String> = if template_ids.is_empty() {
                self.source
                    .iter()
                    .skip(page_number * count)
                    .take(count)
                    .filter(|t| migration_eligibility(t).is_ok())
                    .filter_map(|t| t.id.clone())
                    .collect()
            } else {
                template_ids.to_vec()
            };
            Ok(TemplateMigration { migrated: chosen, failed: Vec::new() })
        });
        if let Ok(answer) = &answer {
            for id in &answer.migrated {
                if let Some(view) = self.source.iter().find(|t| t.id.as_deref() == Some(id)) {
                    self.destination.lock().unwrap().push(message_template(view));
                }
            }
        }
        answer
    }

    async fn create_template(
        &self,
        waba: &str,
        template: &TemplateView,
        language: &str,
        category: &str,
        components: &[Value],
    ) -> Result<CreatedTemplate, GraphError> {
        self.calls.lock().unwrap().push(format!(
            "create {waba} {} {language} {category} {} components",
            template.name,
            components.len()
        ));
        self.create_answers
            .lock()
            .unwrap()
            .pop_front()
            .unwrap_or_else(|| Ok(CreatedTemplate { id: "777".into(), status: Some("PENDING".into()) }))
    }

    async fn list_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        self.calls.lock().unwrap().push(format!("list {waba}"));
        Ok(self.destination.lock().unwrap().clone())
    }

    fn templates_budget_used(&self, _waba: &str) -> Option<u64> {
        None
    }
}

fn error(op: Operation, status: u16, body: Value) -> GraphError {
    let request = RequestInfo {
        method: "POST".into(),
        path: format!("/v23.0/{DEST}/x"),
        op,
        node_id: Some(DEST.into()),
    };
    GraphError::from_response(request, status, json!({ "error": body }).to_string().as_bytes(), &|s| {
        s.to_owned()
    })
}

fn too_long() -> GraphError {
    error(
        Operation::MigrateTemplates,
        500,
        json!({"message": "Please reduce the amount of data you're asking for, then retry your request", "code": 1, "is_transient": true}),
    )
}

fn with_id(mut view: TemplateView, id: &str) -> TemplateView {
    view.id = Some(id.to_owned());
    view
}

/// A destination with `ensure`, one number from SOURCE, and the source's templates.
fn world(source: Vec<TemplateView>, except: &[&str]) -> World {
    let mut world = World::new();
    world.list(SOURCE, live_number("+1 631-555-0101", "200000000000001"));
    world.want("+1 631-555-0101", DEST, Some(SOURCE));
    world.ensure_templates(DEST, except);
    world.waba(SOURCE).templates = Some(source);
    world
}

async fn run_stage(world: &World, fake: &Fake) -> StageResult {
    let plan = world.plan();
    let work = super::work(&plan, &[]);
    let budgets = Budgets::new(Duration::from_secs(60), HashMap::new());
    let cancel = Cancel::default();
    let ui = Ui::capture(crate::ui::Level::Info, crate::ui::LogFormat::Text);
    let clock = crate::apply::clock::SystemClock;
    let stage = Stage { calls: fake, budgets: &budgets, cancel: &cancel, ui: &ui, clock: &clock };
    run(&stage, &work, &world.snapshot).await
}

fn fake_for(world: &World) -> Fake {
    Fake { source: world.snapshot.wabas[SOURCE].templates.clone().unwrap(), ..Fake::default() }
}

#[tokio::test]
async fn a_fresh_destination_gets_the_source_in_pages_and_each_template_is_confirmed() {
    let world = world(
        vec![
            with_id(template("alpha", "APPROVED", "GREEN"), "101"),
            with_id(template("beta", "APPROVED", "UNKNOWN"), "102"),
            with_id(template("draft", "PENDING", "UNKNOWN"), "103"),
        ],
        &[],
    );
    let fake = fake_for(&world);
    let result = run_stage(&world, &fake).await;
    assert_eq!(fake.calls(), [format!("migrate {SOURCE}->{DEST} page 0 count 3"), format!("list {DEST}")]);
    let outcome = &result.outcomes[0];
    assert_eq!(outcome.migrated, ["alpha (en_US)", "beta (en_US)"]);
    assert!(!outcome.is_failure());
    assert_eq!(result.listings[DEST].len(), 2, "the listing read at the end goes to the numbers' reports");
    assert!(outcome.failed.is_empty());
}

#[tokio::test]
async fn refusals_are_asked_for_once_more_by_id_and_reported_with_metas_reason() {
    let world = world(
        vec![
            with_id(template("alpha", "APPROVED", "GREEN"), "101"),
            with_id(template("beta", "APPROVED", "GREEN"), "102"),
            with_id(template("gamma", "APPROVED", "GREEN"), "103"),
        ],
        &[],
    );
    let fake = fake_for(&world);
    let refused = |failed: Vec<(&str, &str)>, migrated: Vec<&str>| {
        Ok(TemplateMigration {
            migrated: migrated.into_iter().map(str::to_owned).collect(),
            failed: failed.into_iter().map(|(id, why)| (id.to_owned(), why.to_owned())).collect(),
        })
    };
    {
        let mut answers = fake.migrate_answers.lock().unwrap();
        answers.push_back(refused(
            vec![
                ("102", "Internal error, try again"),
                ("103", "Template is under review for re-categorisation"),
            ],
            vec!["101"],
        ));
        answers
            .push_back(refused(vec![("103", "Template is under review for re-categorisation")], vec!["102"]));
    }
    // The fake's destination only learns of what its answers migrated.
    fake.destination
        .lock()
        .unwrap()
        .extend(fake.source.iter().filter(|t| t.id.as_deref() != Some("103")).map(message_template));
    let result = run_stage(&world, &fake).await;
    assert_eq!(
        fake.calls(),
        [
            format!("migrate {SOURCE}->{DEST} page 0 count 3"),
            format!("migrate {SOURCE}->{DEST} page 0 count 2 ids 102,103"),
            format!("list {DEST}"),
        ]
    );
    let outcome = &result.outcomes[0];
    assert_eq!(outcome.migrated, ["alpha (en_US)", "beta (en_US)"]);
    assert_eq!(
        outcome.failed,
        [("gamma (en_US)".to_owned(), "Template is under review for re-categorisation".to_owned())]
    );
    assert!(outcome.is_failure());
}

#[tokio::test]
async fn a_page_that_runs_out_of_time_is_asked_again_smaller() {
    // 250 eligible (all the room there is) and 10 drafts: pages over all 260.
    let source: Vec<TemplateView> = (0..260)
        .map(|i| {
            let status = if i < 250 { "APPROVED" } else { "PENDING" };
            with_id(template(&format!("t{i:03}"), status, "GREEN"), &format!("{}", 1000 + i))
        })
        .collect();
    let world = world(source, &[]);
    let fake = fake_for(&world);
    fake.migrate_answers.lock().unwrap().push_back(Err(too_long()));
    let result = run_stage(&world, &fake).await;
    let migrate_calls: Vec<String> = fake.calls().into_iter().filter(|c| c.starts_with("migrate")).collect();
    assert_eq!(
        migrate_calls,
        [
            format!("migrate {SOURCE}->{DEST} page 0 count 260"),
            format!("migrate {SOURCE}->{DEST} page 0 count 250"),
            format!("migrate {SOURCE}->{DEST} page 1 count 250"),
        ]
    );
    let outcome = &result.outcomes[0];
    assert_eq!(outcome.migrated.len(), 250);
    assert!(outcome.failed.is_empty() && outcome.left_out.is_empty());
}

#[tokio::test]
async fn beyond_the_room_templates_are_named_and_left_out_without_a_failure() {
    let source: Vec<TemplateView> = (0..300)
        .map(|i| with_id(template(&format!("t{i:03}"), "APPROVED", "GREEN"), &format!("{}", 1000 + i)))
        .collect();
    let world = world(source, &[]);
    let fake = fake_for(&world);
    fake.migrate_answers.lock().unwrap().push_back(Err(too_long()));
    let result = run_stage(&world, &fake).await;
    let counts: Vec<usize> = fake
        .calls()
        .iter()
        .filter(|c| c.starts_with("migrate"))
        .map(|c| c.split(" ids ").nth(1).unwrap().split(',').count())
        .collect();
    assert_eq!(counts, [250, 125, 125], "by id, since pages would copy more than there is room for");
    let outcome = &result.outcomes[0];
    assert_eq!((outcome.migrated.len(), outcome.left_out.len()), (250, 50));
    assert!(!outcome.is_failure(), "left out by the limit is a warning, not a failure");
}

#[test]
fn smaller_pages_keep_the_pages_done_whole() {
    assert_eq!(smaller(500, 0), 250);
    assert_eq!(smaller(500, 1000), 250);
    assert_eq!(smaller(250, 250), 125);
    assert_eq!(smaller(125, 375), 25);
    assert_eq!(smaller(137, 0), 125);
    assert_eq!(smaller(5, 10), 1);
}

#[tokio::test]
async fn templates_left_alone_or_already_there_make_the_stage_name_what_it_wants() {
    let mut world = world(
        vec![
            with_id(template("alpha", "APPROVED", "GREEN"), "101"),
            with_id(template("winback_offer", "APPROVED", "GREEN"), "102"),
            with_id(template("gamma", "APPROVED", "GREEN"), "103"),
            with_id(template("old", "APPROVED", "RED"), "104"),
        ],
        &["winback_offer"],
    );
    world.waba(DEST).templates = Some(vec![template("gamma", "APPROVED", "UNKNOWN")]);
    let fake = fake_for(&world);
    let result = run_stage(&world, &fake).await;
    assert_eq!(
        fake.calls(),
        [format!("migrate {SOURCE}->{DEST} page 0 count 1 ids 101"), format!("list {DEST}")]
    );
    assert_eq!(result.outcomes[0].migrated, ["alpha (en_US)"]);
    assert_eq!(result.outcomes[0].already_present, ["gamma (en_US)"]);
}

#[tokio::test]
async fn another_business_gets_new_submissions_without_media_headers() {
    let mut world = world(
        vec![
            with_id(template("alpha", "APPROVED", "GREEN"), "101"),
            with_id(with_media_header(template("flyer", "APPROVED", "GREEN")), "102"),
            with_id(template("taken", "APPROVED", "GREEN"), "103"),
        ],
        &[],
    );
    world.waba(SOURCE).owner_business =
        Some(crate::observe::BusinessRef { id: "999".into(), name: Some("Other Co".into()) });
    for template in world.waba(SOURCE).templates.as_mut().unwrap() {
        template.components.get_or_insert_with(|| vec![json!({"type": "BODY", "text": "Hi"})]);
    }
    let fake = fake_for(&world);
    fake.create_answers.lock().unwrap().push_back(Ok(CreatedTemplate { id: "1".into(), status: None }));
    fake.create_answers.lock().unwrap().push_back(Err(error(
        Operation::CreateTemplate,
        400,
        json!({"message": "(#100) Invalid parameter", "code": 100, "error_subcode": 2388024}),
    )));
    let result = run_stage(&world, &fake).await;
    assert_eq!(
        fake.calls(),
        [
            format!("create {DEST} alpha en_US UTILITY 1 components"),
            format!("create {DEST} taken en_US UTILITY 1 components")
        ]
    );
    let outcome = &result.outcomes[0];
    assert_eq!(outcome.recreated, [("alpha (en_US)".to_owned(), "PENDING".to_owned())]);
    assert_eq!(outcome.already_present, ["taken (en_US)"]);
    assert!(result.listings.is_empty(), "nothing was migrated, so nothing is read");
}

#[tokio::test]
async fn an_in_sync_destination_is_no_work_and_a_refused_call_stops_with_a_hint() {
    let mut world = world(vec![with_id(template("alpha", "APPROVED", "GREEN"), "101")], &[]);
    world.waba(DEST).templates = Some(vec![template("alpha", "APPROVED", "UNKNOWN")]);
    assert!(super::work(&world.plan(), &[]).is_empty());

    let world = self::world(vec![with_id(template("alpha", "APPROVED", "GREEN"), "101")], &[]);
    let fake = fake_for(&world);
    fake.migrate_answers.lock().unwrap().push_back(Err(error(
        Operation::MigrateTemplates,
        403,
        json!({"message": "(#200) Permissions error", "code": 200}),
    )));
    let result = run_stage(&world, &fake).await;
    let outcome = &result.outcomes[0];
    let (message, hint) = outcome.stopped.as_ref().unwrap();
    assert!(message.contains("Permissions error"), "{message}");
    assert!(hint.contains("whatsapp_business_management"), "{hint}");
    assert!(outcome.failed.is_empty() && outcome.migrated.is_empty());
    assert!(outcome.is_failure());
}
