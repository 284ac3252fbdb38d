//! The engine's branches against a recording fake of the Graph calls: each answer Meta may give
//! to each write, and what apply does next (which calls, which outcome, what the journal says).

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::apply::settle::{Settling, settle};
use crate::graph::{MessageTemplate, Operation, PhoneNumber, RequestInfo};
use crate::manifest::{PhoneNumber as Phone, SecretRef};
use crate::observe::{Access, WabaView};
use crate::plan::{Action, NumberPlan};
use crate::ui::{LogFormat, Ui};
use crate::vocabulary::{CodeMethod, CodeVerificationStatus, PhoneNumberStatus, PlatformType};

const DEST: &str = "104996122399160";
const SOURCE: &str = "102289599326934";
const PHONE: &str = "+16315550102";
const NODE: &str = "208000000001612";

type Answer<T> = Result<T, GraphError>;

/// Scripted answers per call, recorded in order. A call with nothing scripted gets Graph's usual
/// success.
#[derive(Default)]
struct Fake {
    calls: Mutex<Vec<String>>,
    initiate: Mutex<VecDeque<Answer<String>>>,
    request_code: Mutex<VecDeque<Answer<()>>>,
    verify: Mutex<VecDeque<Answer<()>>>,
    register: Mutex<VecDeque<Answer<()>>>,
    /// What reads of the node answer, in turn; the last one repeats.
    node_reads: Mutex<VecDeque<Answer<PhoneNumber>>>,
}

fn next<T>(queue: &Mutex<VecDeque<Answer<T>>>, default: T) -> Answer<T>
where
    T: Clone,
{
    let mut queue = queue.lock().unwrap();
    if queue.len() > 1 { queue.pop_front().unwrap() } else { queue.front().cloned().unwrap_or(Ok(default)) }
}

impl Fake {
    fn log(&self, call: &str) {
        self.calls.lock().unwrap().push(call.to_owned());
    }

    fn calls(&self) -> Vec<String> {
        self.calls.lock().unwrap().clone()
    }
}

impl MigrationCalls for Arc<Fake> {
    async fn initiate_migration(&self, _: &str, _: &str, _: &str) -> Result<String, GraphError> {
        self.log("initiate");
        let mut queue = self.initiate.lock().unwrap();
        queue.pop_front().unwrap_or(Ok(NODE.to_owned()))
    }

    async fn request_code(&self, _: &str, _: CodeMethod, _: &str) -> Result<(), GraphError> {
        self.log("request_code");
        self.request_code.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }

    async fn verify_code(&self, _: &str, _: &crate::secret::Secret) -> Result<(), GraphError> {
        self.log("verify");
        self.verify.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }

    async fn register(&self, _: &str, _: &crate::secret::Secret, _: Option<&str>) -> Result<(), GraphError> {
        self.log("register");
        self.register.lock().unwrap().pop_front().unwrap_or(Ok(()))
    }

    async fn phone_number(&self, _: &str) -> Result<PhoneNumber, GraphError> {
        self.log("read_node");
        next(&self.node_reads, node("VERIFIED", "CLOUD_API", "CONNECTED"))
    }

    async fn phone_numbers_by_id(&self, ids: &[String]) -> Result<BTreeMap<String, PhoneNumber>, GraphError> {
        self.log("read_node");
        let node = next(&self.node_reads, node("VERIFIED", "CLOUD_API", "CONNECTED"))?;
        Ok(ids.iter().filter(|id| *id == NODE).map(|id| (id.clone(), node.clone())).collect())
    }

    async fn phone_numbers(&self, waba: &str) -> Result<Vec<PhoneNumber>, GraphError> {
        self.log(&format!("list {waba}"));
        Ok(Vec::new())
    }

    async fn message_templates(&self, waba: &str) -> Result<Vec<MessageTemplate>, GraphError> {
        self.log(&format!("templates {waba}"));
        Ok(Vec::new())
    }

    fn request_count(&self) -> u64 {
        self.calls.lock().unwrap().len() as u64
    }

    fn budget_used(&self, _: &str) -> Option<u64> {
        None
    }
}

fn node(verification: &str, platform: &str, status: &str) -> PhoneNumber {
    serde_json::from_value(json!({
        "id": NODE,
        "display_phone_number": "+1 631-555-0102",
        "code_verification_status": verification,
        "platform_type": platform,
        "status": status,
    }))
    .unwrap()
}

/// A Graph error answer to `op`, as the client would classify it.
fn graph_error(op: Operation, status: u16, error: serde_json::Value) -> GraphError {
    let request = RequestInfo {
        method: "POST".into(),
        path: format!("/v23.0/{NODE}/x"),
        op,
        node_id: Some(NODE.into()),
    };
    GraphError::from_response(request, status, json!({ "error": error }).to_string().as_bytes(), &|s| {
        s.to_owned()
    })
}

struct Bench {
    dir: tempfile::TempDir,
    shared: Shared<Arc<Fake>>,
    fake: Arc<Fake>,
    number: DesiredNumber,
    plan: NumberPlan,
}

impl Bench {
    /// The number as the plan observed it in the destination (`None`: not there yet), a code in
    /// the environment or not.
    fn new(observed: Option<PhoneNumber>, code: Option<&str>) -> Bench {
        let dir = tempfile::tempdir().unwrap();
        let fake = Arc::new(Fake::default());
        let number = DesiredNumber {
            phone: Phone::parse(PHONE).unwrap(),
            destination_waba: DEST.into(),
            source_waba: Some(SOURCE.into()),
            code_method: CodeMethod::Sms,
            language: "en_US".into(),
            register: true,
            pin: Some(SecretRef::Env { env: "WAMIG_PIN".into() }),
            data_localization_region: None,
            line: 0,
        };
        let mut snapshot = Snapshot::default();
        let numbers = observed.iter().map(observe::number_view).collect();
        snapshot.wabas.insert(
            DEST.into(),
            WabaView {
                id: DEST.into(),
                access: Access::Readable,
                numbers: Some(numbers),
                templates: Some(Vec::new()),
                ..WabaView::default()
            },
        );
        let code = code.map(str::to_owned);
        let env: Env =
            Arc::new(move |name: &str| (name == "WAMIG_CODE_16315550102").then(|| code.clone()).flatten());
        let shared = Shared {
            calls: fake.clone(),
            journal: Mutex::new(Journal::new()),
            saves: Default::default(),
            state: crate::state::lock_file(&dir.path().join("state.json"), "wamig apply").unwrap(),
            codes_dir: dir.path().join("codes"),
            env,
            ui: Ui::capture(crate::ui::Level::Debug, LogFormat::Text),
            cancel: Arc::new(Cancel::default()),
            wait_until: None,
            prompt: false,
            prompt_lock: tokio::sync::Mutex::new(()),
            resend: false,
            timing: Timing {
                poll_interval: Duration::from_millis(1),
                register_backoff: vec![Duration::from_millis(1)],
                max_wait: Duration::from_millis(50),
                retry_base: Duration::from_millis(1),
                confirm_backoff: vec![Duration::from_millis(1); 3],
                ..Timing::default()
            },
            snapshot: Arc::new(snapshot),
            pins: HashMap::from([(PHONE.to_owned(), Secret::new("123456"))]),
            waiting: Mutex::new(Vec::new()),
            progress: None,
            budgets: crate::apply::budget::Budgets::new(Duration::from_millis(50), HashMap::new()),
        };
        let plan = NumberPlan {
            phone: PHONE.into(),
            destination_waba: DEST.into(),
            destination_name: None,
            source_waba: Some(SOURCE.into()),
            action: Action::Migrate,
            checks: Vec::new(),
            steps: Vec::new(),
            phone_number_id: None,
            awaiting_code: false,
            code_requested_at: None,
            code_method: "SMS".into(),
            language: "en_US".into(),
            register: true,
            current: Vec::new(),
            desired: Vec::new(),
            templates: None,
            notes: Vec::new(),
            drift: Vec::new(),
            manifest_line: None,
        };
        Bench { dir, shared, fake, number, plan }
    }

    fn record(&self) -> NumberRecord {
        self.shared.current(&self.number)
    }

    /// The number through the engine and, when its writes are all made, the closing read.
    async fn run(&self) -> NumberOutcome {
        let view = observed_view(&self.shared, &self.number);
        match run_number(&self.shared, &self.number, &self.plan, view).await.unwrap() {
            RunEnd::Outcome(outcome) => outcome,
            RunEnd::Settle { done, skipped } => {
                let settling =
                    Settling { number: self.number.clone(), plan: self.plan.clone(), done, skipped };
                let mut settled = settle(&self.shared, vec![settling]).await.unwrap();
                settled.remove(PHONE).unwrap()
            }
        }
    }
}

fn pending_node() -> PhoneNumber {
    node("NOT_VERIFIED", "NOT_APPLICABLE", "PENDING")
}

#[tokio::test]
async fn a_fresh_number_starts_asks_for_a_code_and_waits_without_reading_anything_back() {
    let bench = Bench::new(None, None);
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::AwaitingCode { .. }), "{outcome:?}");
    assert_eq!(bench.fake.calls(), ["initiate", "request_code"]);
    let record = bench.record();
    assert_eq!(record.phone_number_id.as_deref(), Some(NODE));
    assert!(record.initiated_at.is_some());
    assert_eq!(record.code_requests, 1);
}

#[tokio::test]
async fn with_the_code_at_hand_four_writes_then_one_read_and_the_report() {
    let bench = Bench::new(None, Some("123456"));
    bench.fake.request_code.lock().unwrap().clear();
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Done { .. }), "{outcome:?}");
    // The code given up front is verified without a request (as before this change).
    assert_eq!(
        bench.fake.calls(),
        ["initiate", "verify", "register", "read_node", &format!("list {SOURCE}")]
    );
    let record = bench.record();
    assert!(
        record.verified_at.is_some()
            && record.registered_at.is_some()
            && record.templates_checked_at.is_some()
    );
}

#[tokio::test]
async fn a_registration_the_reads_never_show_ends_as_confirming_after_one_register_call() {
    let bench = Bench::new(Some(node("VERIFIED", "NOT_APPLICABLE", "PENDING")), None);
    bench.fake.node_reads.lock().unwrap().push_back(Ok(node("VERIFIED", "NOT_APPLICABLE", "PENDING")));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Confirming { step: Step::Register, .. }), "{outcome:?}");
    let calls = bench.fake.calls();
    assert_eq!(calls.iter().filter(|c| *c == "register").count(), 1, "{calls:?}");
    assert_eq!(calls.iter().filter(|c| *c == "read_node").count(), 4, "one read and three waits: {calls:?}");

    // The next run (same journal, the read still lagging) reads, never registers again.
    let again = bench.run().await;
    assert!(matches!(again, NumberOutcome::Confirming { .. }), "{again:?}");
    assert_eq!(bench.fake.calls().iter().filter(|c| *c == "register").count(), 1);
}

#[tokio::test]
async fn a_read_that_catches_up_confirms_the_registration() {
    let bench = Bench::new(Some(node("VERIFIED", "NOT_APPLICABLE", "PENDING")), None);
    bench.fake.node_reads.lock().unwrap().extend([
        Ok(node("VERIFIED", "NOT_APPLICABLE", "PENDING")),
        Ok(node("VERIFIED", "CLOUD_API", "CONNECTED")),
    ]);
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Done { .. }), "{outcome:?}");
    assert_eq!(bench.fake.calls().iter().filter(|c| *c == "register").count(), 1);
}

#[tokio::test]
async fn a_definite_refusal_of_the_migration_stops_after_one_call() {
    let bench = Bench::new(None, None);
    bench.fake.initiate.lock().unwrap().push_back(Err(graph_error(
        Operation::InitiateMigration,
        400,
        json!({"message": "(#200000) Cannot add phone number to WhatsApp Business Account", "code": 200000}),
    )));
    let outcome = bench.run().await;
    let NumberOutcome::Failed { step, hint, .. } = outcome else { panic!("{outcome:?}") };
    assert_eq!(step, Step::InitiateMigration);
    assert!(hint.contains("200000"), "{hint}");
    assert_eq!(bench.fake.calls(), ["initiate"]);
    assert_eq!(bench.record().last_error.unwrap().class, Some(ErrorClass::CannotAddNumber));
}

#[tokio::test]
async fn an_unknown_error_code_on_a_write_is_a_definite_refusal_not_a_maybe() {
    let bench = Bench::new(Some(pending_node()), None);
    bench.fake.request_code.lock().unwrap().push_back(Err(graph_error(
        Operation::RequestCode,
        400,
        json!({"message": "(#9999) Something Meta has not documented", "code": 9999}),
    )));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Failed { step: Step::RequestCode, .. }), "{outcome:?}");
    assert_eq!(bench.fake.calls(), ["request_code"], "no SMS is waited for");
    let record = bench.record();
    assert_eq!(record.code_requests, 0, "a refused request is not counted");
    assert!(record.last_code_request.is_none());
}

#[tokio::test]
async fn a_lost_register_answer_is_read_back_before_anything_is_repeated() {
    let bench = Bench::new(Some(node("VERIFIED", "NOT_APPLICABLE", "PENDING")), None);
    bench.fake.register.lock().unwrap().push_back(Err(graph_error(
        Operation::Register,
        500,
        json!({"message": "An unexpected error has occurred.", "code": 2, "is_transient": true}),
    )));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Done { .. }), "{outcome:?}");
    let calls = bench.fake.calls();
    assert_eq!(calls.iter().filter(|c| *c == "register").count(), 1, "{calls:?}");
    assert_eq!(calls[1], "read_node", "{calls:?}");
}

#[tokio::test]
async fn verify_first_after_register_goes_back_to_the_code_step() {
    let bench = Bench::new(Some(node("VERIFIED", "NOT_APPLICABLE", "PENDING")), None);
    bench.fake.register.lock().unwrap().push_back(Err(graph_error(
        Operation::Register,
        400,
        json!({"message": "(#133006) Phone number re-verification needed", "code": 133006}),
    )));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::AwaitingCode { .. }), "{outcome:?}");
    assert_eq!(bench.fake.calls(), ["register", "request_code"], "never a second register");
    assert!(bench.record().ownership_required_at.is_some());
}

#[tokio::test]
async fn already_verified_to_a_code_request_goes_on_to_register() {
    let mut carried_over = node("VERIFIED", "NOT_APPLICABLE", "PENDING");
    carried_over.code_verification_status = Some(CodeVerificationStatus::Verified);
    let bench = Bench::new(Some(carried_over), None);
    // This journal started the migration: the node's VERIFIED is not taken on its word.
    bench
        .shared
        .record(&bench.number, |r| {
            r.adopt_node(NODE);
            r.initiated_at = Some(Timestamp::now());
        })
        .unwrap();
    bench.fake.request_code.lock().unwrap().push_back(Err(graph_error(
        Operation::RequestCode,
        400,
        json!({"message": "(#136024) Phone number already verified", "code": 136024}),
    )));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::Done { .. }), "{outcome:?}");
    assert_eq!(&bench.fake.calls()[..2], ["request_code", "register"]);
    let record = bench.record();
    assert!(record.verified_at.is_some());
    assert_eq!(record.code_requests, 0, "no code was sent");
}

#[tokio::test]
async fn throttling_waits_and_tries_the_same_write_again() {
    let bench = Bench::new(None, None);
    bench.fake.initiate.lock().unwrap().push_back(Err(graph_error(
        Operation::InitiateMigration,
        400,
        json!({"message": "(#80008) There have been too many calls to this WhatsApp Business account", "code": 80008}),
    )));
    let outcome = bench.run().await;
    assert!(matches!(outcome, NumberOutcome::AwaitingCode { .. }), "{outcome:?}");
    assert_eq!(bench.fake.calls(), ["initiate", "initiate", "request_code"]);
}

#[tokio::test]
async fn a_started_migration_the_listing_does_not_show_yet_stops_with_a_hint_not_a_second_start() {
    let bench = Bench::new(None, None);
    bench.fake.initiate.lock().unwrap().push_back(Err(graph_error(
        Operation::InitiateMigration,
        400,
        json!({"message": "(#100) Invalid parameter", "code": 100, "error_user_title": "Duplicate phone number"}),
    )));
    // The listing the lookup reads is the fake's `phone_numbers`: empty, so the lookup fails
    // with a hint rather than starting again.
    let outcome = bench.run().await;
    let NumberOutcome::Failed { hint, .. } = outcome else { panic!("{outcome:?}") };
    assert!(hint.contains("does not list the number yet"), "{hint}");
    assert_eq!(bench.fake.calls().iter().filter(|c| *c == "initiate").count(), 1);
}

#[test]
fn the_fake_node_reads_as_its_statuses() {
    let view = observe::number_view(&node("VERIFIED", "CLOUD_API", "CONNECTED"));
    assert_eq!(view.platform_type, Some(PlatformType::CloudApi));
    assert_eq!(view.status, Some(PhoneNumberStatus::Connected));
}

#[test]
fn each_record_is_saved_when_it_returns_though_saves_made_together_are_shared() {
    let bench = Bench::new(None, None);
    let path = bench.dir.path().join("state.json");
    let numbers: Vec<DesiredNumber> = (0..16)
        .map(|n| DesiredNumber {
            phone: Phone::parse(&format!("+1631555{:04}", 200 + n)).unwrap(),
            ..bench.number.clone()
        })
        .collect();
    std::thread::scope(|scope| {
        for number in &numbers {
            let (shared, path) = (&bench.shared, &path);
            scope.spawn(move || {
                shared.record(number, |r| r.code_requests = 1).unwrap();
                // Saved by this record or by one that wrote the journal after its change.
                let saved = Journal::load(path).unwrap();
                assert_eq!(saved.get(&number.phone.e164()).map(|r| r.code_requests), Some(1));
            });
        }
    });
    // Several numbers' facts at once: one save, every one of them in it.
    bench
        .shared
        .record_all(numbers.iter().map(|n| (n, 2)), |r, requests| r.code_requests = requests)
        .unwrap();
    let saved = Journal::load(&path).unwrap();
    assert!(numbers.iter().all(|n| saved.get(&n.phone.e164()).map(|r| r.code_requests) == Some(2)));
}
