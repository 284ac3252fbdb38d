//! Owns the execution of one number: a loop that reads the number's live state back, asks
//! `decide::next` what comes next, performs that one write, records it in the journal (saved at
//! once) and goes round again. Errors that may have let a write through lead to a re-read, never
//! to a blind retry. It returns an outcome value (done, awaiting a code, failed, interrupted);
//! it prints nothing but log events, and never a secret.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;

use super::codes::{self, CodeLookup, CodeSource};
use super::decide::{self, Next, Situation};
use super::progress::{Progress, RowState};
use super::report::{NumberOutcome, TemplateReport, VerificationReport};
use crate::graph::{self, ErrorClass, GraphClient, GraphError};
use crate::journal::{CodeRequest, Journal, NumberRecord, RecordedError};
use crate::manifest::{CodeMethod, DesiredNumber};
use crate::observe::{self, NumberView, Snapshot};
use crate::plan::{NumberPlan, Step};
use crate::secret::Secret;
use crate::ui::{Level, Ui};

/// Environment lookups go through this, so tests can supply their own.
pub type Env = Arc<dyn Fn(&str) -> Option<String> + Send + Sync>;

/// Ctrl-C: the call in flight finishes, no new step starts.
#[derive(Default)]
pub struct Cancel {
    flag: AtomicBool,
    notify: tokio::sync::Notify,
}

impl Cancel {
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::SeqCst);
        self.notify.notify_waiters();
    }

    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::SeqCst)
    }

    /// Sleeps, waking early on cancellation. Returns false when cancelled.
    pub async fn sleep(&self, duration: Duration) -> bool {
        if self.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = tokio::time::sleep(duration) => !self.is_cancelled(),
            _ = self.notify.notified() => false,
        }
    }
}

/// Tunables with safe defaults; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct Timing {
    /// How often the codes directory is looked at while waiting for codes.
    pub poll_interval: Duration,
    /// Waits between register retries while Meta still provisions the display name (2388001).
    pub register_backoff: Vec<Duration>,
    /// The longest wait for throttling or maintenance before a number gives up for this run.
    pub max_retry_wait: Duration,
    /// The first wait before a step is tried again after throttling, maintenance or a lost
    /// answer, when Graph does not say how long; it doubles with each retry.
    pub retry_base: Duration,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            poll_interval: Duration::from_secs(1),
            register_backoff: vec![
                Duration::from_secs(30),
                Duration::from_secs(60),
                Duration::from_secs(120),
            ],
            max_retry_wait: Duration::from_secs(300),
            retry_base: Duration::from_secs(2),
        }
    }
}

/// Everything the number tasks share.
pub struct Shared {
    pub client: GraphClient,
    pub journal: Mutex<Journal>,
    /// Where the journal is saved, under its lock (a file, or a shared store).
    pub state: Arc<crate::state::Held>,
    pub codes_dir: PathBuf,
    pub env: Env,
    pub ui: Ui,
    pub cancel: Arc<Cancel>,
    /// `--wait-for-codes`: poll the codes directory until then.
    pub wait_until: Option<Instant>,
    /// Ask for codes on the terminal.
    pub prompt: bool,
    pub prompt_lock: tokio::sync::Mutex<()>,
    pub resend: bool,
    pub timing: Timing,
    pub snapshot: Arc<Snapshot>,
    /// PINs resolved before the first write, by E.164.
    pub pins: HashMap<String, Secret>,
    /// Numbers currently waiting for a code (E.164 → deadline display), for the countdown.
    pub waiting: Mutex<Vec<String>>,
    /// The live view on a terminal; `None` means plain log lines only.
    pub progress: Option<Arc<Progress>>,
}

/// Errors that stop the whole apply, not only one number.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] crate::state::StateError),
}

impl Shared {
    fn record<T>(
        &self,
        number: &DesiredNumber,
        change: impl FnOnce(&mut NumberRecord) -> T,
    ) -> Result<T, crate::state::StateError> {
        let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        let entry = journal.entry(&number.phone.e164(), &number.destination_waba);
        let before = entry.clone();
        let result = change(entry);
        // Every round records what it read back; a save (with its fsync, under the lock all
        // numbers share) is only needed when that changed something.
        if *entry != before {
            self.state.save(&journal)?;
        }
        Ok(result)
    }

    fn current(&self, number: &DesiredNumber) -> NumberRecord {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal
            .get(&number.phone.e164())
            .cloned()
            .unwrap_or_else(|| NumberRecord::new(&number.destination_waba))
    }

    fn event(
        &self,
        level: Level,
        event: &str,
        number: &DesiredNumber,
        message: &str,
        extra: serde_json::Value,
    ) {
        if let Some(progress) = &self.progress
            && !progress.observe(&number.phone.e164(), level, event, message)
        {
            return;
        }
        let mut fields = json!({"phone": number.phone.e164(), "destination_waba": number.destination_waba});
        if let (Some(map), serde_json::Value::Object(more)) = (fields.as_object_mut(), extra) {
            map.extend(more);
        }
        self.ui.event(level, event, &format!("{}: {message}", number.phone.e164()), fields);
    }

    /// Like `event`, for facts people already read elsewhere (the hand-off block on stdout):
    /// emitted in json mode only.
    fn machine_event(&self, event: &str, number: &DesiredNumber, message: &str, extra: serde_json::Value) {
        if self.ui.log_format == crate::ui::LogFormat::Json {
            self.event(Level::Info, event, number, message, extra);
        }
    }
}

fn graph_method(method: CodeMethod) -> graph::CodeMethod {
    match method {
        CodeMethod::Sms => graph::CodeMethod::Sms,
        CodeMethod::Voice => graph::CodeMethod::Voice,
    }
}

fn recorded(step: Step, error: &GraphError) -> RecordedError {
    RecordedError {
        at: Timestamp::now(),
        step: step.as_str().to_owned(),
        code: error.code(),
        subcode: error.subcode(),
        message: error.message(),
        fbtrace_id: error.fbtrace_id().map(str::to_owned),
    }
}

/// How many times one number may go round the loop in one run: each step needs a few rounds at
/// most; more means the live state is not moving the way Graph said it would.
const MAX_ROUNDS: usize = 40;
/// Retries of one step after throttling, maintenance or a lost answer, in one run.
const MAX_STEP_RETRIES: u32 = 4;

struct Run<'a> {
    shared: &'a Shared,
    number: &'a DesiredNumber,
    plan: &'a NumberPlan,
    done: Vec<Step>,
    requested_this_run: bool,
    registered_this_run: bool,
    code: Option<(Secret, CodeSource)>,
    provisioning_retries: usize,
    step_retries: HashMap<Step, u32>,
    last_initiated: bool,
}

/// Runs one number to its end for this run.
pub async fn run_number(
    shared: &Shared,
    number: &DesiredNumber,
    plan: &NumberPlan,
) -> Result<NumberOutcome, EngineError> {
    let mut run = Run {
        shared,
        number,
        plan,
        done: Vec::new(),
        requested_this_run: false,
        registered_this_run: false,
        code: None,
        provisioning_retries: 0,
        step_retries: HashMap::new(),
        last_initiated: false,
    };
    run.go().await
}

impl Run<'_> {
    fn digits(&self) -> &str {
        self.number.phone.digits()
    }

    fn failed(&self, step: Step, message: String, hint: String) -> NumberOutcome {
        self.shared.event(Level::Error, "step_failed", self.number, &message, json!({"step": step.as_str()}));
        NumberOutcome::Failed { step, message, hint, done: self.done.clone() }
    }

    fn graph_failed(&self, step: Step, error: &GraphError) -> Result<NumberOutcome, EngineError> {
        self.shared.record(self.number, |r| r.last_error = Some(recorded(step, error)))?;
        let mut message = error.message();
        if let Some(trace) = error.fbtrace_id() {
            message.push_str(&format!(" (fbtrace_id {trace})"));
        }
        Ok(self.failed(step, message, error.hint()))
    }

    /// Throttling, maintenance, a connection refused: wait as Graph asks (bounded) and go round
    /// again, which re-reads live state first. `None` when the step should give up.
    async fn wait_to_retry(&mut self, step: Step, error: &GraphError) -> Option<()> {
        let tries = self.step_retries.entry(step).or_insert(0);
        *tries += 1;
        if *tries > MAX_STEP_RETRIES {
            return None;
        }
        let backoff = self.shared.timing.retry_base.saturating_mul(2u32.saturating_pow(*tries - 1));
        let wait = error.retry_after().unwrap_or(backoff);
        if wait > self.shared.timing.max_retry_wait {
            return None;
        }
        self.shared.event(
            Level::Warn,
            "retry",
            self.number,
            &format!(
                "{} failed ({}); trying again in {}",
                step.as_str(),
                error.class().name(),
                crate::duration::display(wait)
            ),
            json!({"step": step.as_str(), "class": error.class().name(), "wait_ms": wait.as_millis() as u64}),
        );
        self.shared.cancel.sleep(wait).await.then_some(())
    }

    /// The number's node in the destination, read now: by id when known, else by listing the
    /// destination's numbers (which also tells the id).
    async fn read_live(&self) -> Result<Option<NumberView>, GraphError> {
        let known = self.shared.current(self.number).phone_number_id;
        if let Some(id) = known {
            return match self.shared.client.phone_number(&id).await {
                Ok(node) => {
                    let view = observe::number_view(&node);
                    // Ids can be reused only by Meta; a node for another number means ours is gone.
                    Ok((view.digits == self.digits() || view.digits.is_empty()).then_some(view))
                }
                Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {
                    Ok(None)
                }
                Err(error) => Err(error),
            };
        }
        let listed = self.shared.client.phone_numbers(&self.number.destination_waba).await?;
        Ok(listed
            .iter()
            .map(observe::number_view)
            .find(|view| view.digits == self.digits() && !view.is_migrated_away()))
    }

    async fn go(&mut self) -> Result<NumberOutcome, EngineError> {
        let shared = self.shared;
        // The plan's observation is the first read; every later round reads again.
        let mut live: Option<NumberView> = shared
            .snapshot
            .waba(&self.number.destination_waba)
            .and_then(|waba| waba.number(self.digits()))
            .filter(|n| !n.is_migrated_away())
            .cloned();
        if let Some(id) = live.as_ref().map(|n| n.id.clone()) {
            shared.record(self.number, |r| {
                r.phone_number_id.get_or_insert(id);
            })?;
        }
        let mut fresh = true;
        for _ in 0..MAX_ROUNDS {
            if shared.cancel.is_cancelled() {
                return Ok(NumberOutcome::Interrupted { done: self.done.clone() });
            }
            if !fresh {
                live = match self.read_live().await {
                    Ok(live) => live,
                    Err(error) if error.is_retryable_read() || error.is_retryable_write() => {
                        // The read serves the step still to come, which is what it is counted and
                        // reported against.
                        let step = self.pending_step(live.as_ref());
                        if self.wait_to_retry(step, &error).await.is_none() {
                            if shared.cancel.is_cancelled() {
                                return Ok(NumberOutcome::Interrupted { done: self.done.clone() });
                            }
                            return self.graph_failed(step, &error);
                        }
                        continue;
                    }
                    Err(error) => return self.graph_failed(self.pending_step(live.as_ref()), &error),
                };
                if let Some(id) = live.as_ref().map(|n| n.id.clone()) {
                    shared.record(self.number, |r| r.phone_number_id = Some(id))?;
                }
            }
            fresh = false;
            if live.as_ref().is_some_and(NumberView::is_verified) {
                // A code file accepted by a run killed before it could remove it: never replayed.
                let _ = codes::consume(&CodeSource::File(codes::code_file(
                    &shared.codes_dir,
                    &self.number.phone,
                )));
            }

            // Looked at before the migration starts too: a bad code given up front stops the
            // number before its first write, not after an SMS was sent for nothing.
            let code_needed = live.as_ref().is_none_or(|n| !n.is_verified());
            if code_needed && self.code.is_none() {
                match codes::lookup(&self.number.phone, &shared.codes_dir, &*shared.env) {
                    CodeLookup::Found { code, source } => self.code = Some((code, source)),
                    CodeLookup::Invalid { source, problem } => {
                        return Ok(self.failed(
                            Step::VerifyCode,
                            format!("the verification code in {source} is not valid: {problem}"),
                            format!("put the 6-digit code from the {} in {source} and run wamig apply again; no verify call was made", channel(self.number.code_method)),
                        ));
                    }
                    CodeLookup::Missing => {}
                }
            }
            let record = shared.current(self.number);
            let next = decide::next(
                live.as_ref(),
                Situation {
                    record: &record,
                    register: self.number.register,
                    code_at_hand: self.code.is_some(),
                    resend: shared.resend && !self.requested_this_run,
                    requested_this_run: self.requested_this_run,
                    registered_this_run: self.registered_this_run,
                    now: Timestamp::now(),
                },
            );
            match next {
                Next::Initiate => {
                    if let Some(outcome) = self.initiate().await? {
                        return Ok(outcome);
                    }
                }
                Next::RequestCode => {
                    let id = live.as_ref().map(|n| n.id.clone()).unwrap_or_default();
                    if let Some(outcome) = self.request_code(&id).await? {
                        return Ok(outcome);
                    }
                }
                Next::AwaitCode { requested_at } => {
                    self.announce_wait(requested_at, &record);
                    match self.wait_for_code(requested_at).await {
                        Some(found) => self.code = Some(found),
                        None if shared.cancel.is_cancelled() => {
                            return Ok(NumberOutcome::Interrupted { done: self.done.clone() });
                        }
                        None => {
                            let request = record.last_code_request.clone();
                            return Ok(NumberOutcome::AwaitingCode {
                                requested_at,
                                method: request.as_ref().map_or(self.number.code_method, |r| r.method),
                                env_var: codes::code_env_var(&self.number.phone),
                                file: codes::code_file(&shared.codes_dir, &self.number.phone),
                                done: self.done.clone(),
                            });
                        }
                    }
                }
                Next::Verify => {
                    let id = live.as_ref().map(|n| n.id.clone()).unwrap_or_default();
                    if let Some(outcome) = self.verify(&id).await? {
                        return Ok(outcome);
                    }
                }
                Next::Register => {
                    let id = live.as_ref().map(|n| n.id.clone()).unwrap_or_default();
                    if let Some(outcome) = self.register(&id).await? {
                        return Ok(outcome);
                    }
                }
                Next::RegisterBudgetSpent { attempts } => {
                    return Ok(self.failed(
                        Step::Register,
                        format!("{attempts} register calls in the last 72 hours, Meta allows 10: no more is made"),
                        "wait until the oldest attempt is 72 hours old (see `wamig status`), then run wamig apply again".into(),
                    ));
                }
                Next::RegisterLater { after, attempts } => {
                    return Ok(self.failed(
                        Step::Register,
                        format!(
                            "Meta was still provisioning the display name at the last register call (2388001); no register call before {} UTC",
                            after.strftime("%Y-%m-%d %H:%M")
                        ),
                        format!(
                            "run wamig apply again after {} UTC; each refused call counts against Meta's 10 per 72 hours ({attempts} used), so wamig waits longer after each",
                            after.strftime("%H:%M")
                        ),
                    ));
                }
                Next::VerifyTemplates => {
                    let Some(node) = live.clone() else { continue };
                    let report = self.verify_migration(&node).await;
                    shared.record(self.number, |r| r.templates_checked_at = Some(Timestamp::now()))?;
                    self.done.push(Step::VerifyTemplates);
                    return Ok(NumberOutcome::Done {
                        report,
                        done: self.done.clone(),
                        skipped: self.skipped(),
                    });
                }
                Next::Done => {
                    return Ok(NumberOutcome::Done {
                        report: VerificationReport::default(),
                        done: self.done.clone(),
                        skipped: self.skipped(),
                    });
                }
            }
        }
        Ok(self.failed(
            self.pending_step(live.as_ref()),
            format!("{} did not reach the expected state after {MAX_ROUNDS} rounds", self.number.phone),
            "the live state is not changing as Graph reported; check the number in WhatsApp Manager and run wamig apply again".into(),
        ))
    }

    /// Steps the plan listed that this run found already done in the live state.
    fn skipped(&self) -> Vec<Step> {
        self.plan.steps.iter().copied().filter(|step| !self.done.contains(step)).collect()
    }

    fn pending_step(&self, live: Option<&NumberView>) -> Step {
        match live {
            None => Step::InitiateMigration,
            Some(n) if !n.is_verified() => Step::VerifyCode,
            Some(n) if self.number.register && !n.is_registered() => Step::Register,
            Some(_) => Step::VerifyTemplates,
        }
    }

    async fn initiate(&mut self) -> Result<Option<NumberOutcome>, EngineError> {
        let shared = self.shared;
        if self.last_initiated {
            // Graph accepted the migration, yet the destination does not show the number.
            return Ok(Some(self.failed(
                Step::InitiateMigration,
                format!("Graph accepted the migration of {} but destination WABA {} does not list it", self.number.phone, self.number.destination_waba),
                "Graph may be slow to show new numbers: run wamig apply again in a minute; nothing is lost".into(),
            )));
        }
        let phone = &self.number.phone;
        shared.event(
            Level::Info,
            "step_started",
            self.number,
            "starting the migration",
            json!({"step": "initiate_migration"}),
        );
        let result = shared
            .client
            .initiate_migration(&self.number.destination_waba, phone.country_code(), phone.national_number())
            .await;
        match result {
            Ok(id) => {
                let now = Timestamp::now();
                shared.record(self.number, |r| {
                    r.phone_number_id = Some(id.clone());
                    r.initiated_at = Some(now);
                    r.last_error = None;
                })?;
                self.done.push(Step::InitiateMigration);
                self.last_initiated = true;
                shared.event(
                    Level::Info,
                    "step_finished",
                    self.number,
                    &format!("migration started (id {id})"),
                    json!({"step": "initiate_migration", "phone_number_id": id}),
                );
                Ok(None)
            }
            Err(error)
                if matches!(
                    error.class(),
                    ErrorClass::MigrationAlreadyStarted | ErrorClass::AlreadyInDestination
                ) =>
            {
                // Started earlier (by a run that lost its answer, or by hand): find its id.
                let said = if error.class() == ErrorClass::AlreadyInDestination {
                    "the number is already in the destination (2388012); looking up its id"
                } else {
                    "the migration was already started (Duplicate phone number); looking up its id"
                };
                shared.event(
                    Level::Info,
                    "step_skipped",
                    self.number,
                    said,
                    json!({"step": "initiate_migration", "class": error.class().name()}),
                );
                shared.record(self.number, |r| r.phone_number_id = None)?;
                match shared.client.phone_numbers(&self.number.destination_waba).await {
                    Ok(listed) => {
                        let found =
                            listed.iter().map(observe::number_view).find(|v| v.digits == self.digits());
                        match found {
                            Some(view) => {
                                shared.record(self.number, |r| r.phone_number_id = Some(view.id.clone()))?;
                                Ok(None)
                            }
                            None => Ok(Some(self.graph_failed(Step::InitiateMigration, &error)?)),
                        }
                    }
                    Err(read_error) => Ok(Some(self.graph_failed(Step::InitiateMigration, &read_error)?)),
                }
            }
            Err(error) if error.may_have_taken_effect() => {
                // Unknown outcome: the next round lists the destination and tells.
                shared.record(self.number, |r| r.phone_number_id = None)?;
                self.retry_or_fail(Step::InitiateMigration, &error).await
            }
            Err(error) if error.is_retryable_write() => {
                self.retry_or_fail(Step::InitiateMigration, &error).await
            }
            Err(error) => Ok(Some(self.graph_failed(Step::InitiateMigration, &error)?)),
        }
    }

    /// Graph answered 136024 to a code step: said, so the step missing from the run's work is
    /// explained.
    fn verified_meanwhile(&self, step: Step) {
        self.shared.event(
            Level::Info,
            "step_skipped",
            self.number,
            "the number was verified meanwhile (136024): no code is needed",
            json!({"step": step.as_str(), "class": ErrorClass::AlreadyVerified.name()}),
        );
    }

    async fn retry_or_fail(
        &mut self,
        step: Step,
        error: &GraphError,
    ) -> Result<Option<NumberOutcome>, EngineError> {
        if self.wait_to_retry(step, error).await.is_some() {
            return Ok(None);
        }
        if self.shared.cancel.is_cancelled() {
            return Ok(Some(NumberOutcome::Interrupted { done: self.done.clone() }));
        }
        Ok(Some(self.graph_failed(step, error)?))
    }

    async fn request_code(&mut self, id: &str) -> Result<Option<NumberOutcome>, EngineError> {
        let shared = self.shared;
        let method = self.number.code_method;
        shared.event(
            Level::Info,
            "step_started",
            self.number,
            &format!("requesting a code by {method}"),
            json!({"step": "request_code", "code_method": method.as_str()}),
        );
        // Recorded before the call: an apply killed while the request is in flight must not ask
        // for a second code within the cooldown on its next run. A definite refusal undoes it.
        let before = shared.current(self.number);
        shared.record(self.number, |r| {
            r.last_code_request =
                Some(CodeRequest { at: Timestamp::now(), method, language: self.number.language.clone() });
            r.code_requests += 1;
        })?;
        let undo = |shared: &Shared, number: &DesiredNumber| {
            shared.record(number, |r| {
                r.last_code_request = before.last_code_request.clone();
                r.code_requests = before.code_requests;
            })
        };
        match shared.client.request_code(id, graph_method(method), &self.number.language).await {
            Ok(()) => {
                shared.record(self.number, |r| r.last_error = None)?;
                self.requested_this_run = true;
                self.done.push(Step::RequestCode);
                shared.event(
                    Level::Info,
                    "step_finished",
                    self.number,
                    &format!("code requested by {method}"),
                    json!({"step": "request_code"}),
                );
                Ok(None)
            }
            // Verified meanwhile (by hand, or a lost answer): no code was sent, and the next
            // round reads the number verified and goes on to register.
            Err(error) if error.class() == ErrorClass::AlreadyVerified => {
                undo(shared, self.number)?;
                self.verified_meanwhile(Step::RequestCode);
                Ok(None)
            }
            Err(error) if error.may_have_taken_effect() => {
                // A code may be on its way: it stays counted, so no second one is asked for in
                // the cooldown.
                self.requested_this_run = true;
                Ok(None)
            }
            Err(error) if error.is_retryable_write() => {
                undo(shared, self.number)?;
                self.retry_or_fail(Step::RequestCode, &error).await
            }
            Err(error) => {
                undo(shared, self.number)?;
                Ok(Some(self.graph_failed(Step::RequestCode, &error)?))
            }
        }
    }

    async fn verify(&mut self, id: &str) -> Result<Option<NumberOutcome>, EngineError> {
        let shared = self.shared;
        let Some((code, source)) = self.code.clone() else { return Ok(None) };
        shared.event(
            Level::Info,
            "step_started",
            self.number,
            &format!("verifying the code from {source}"),
            match &source {
                CodeSource::Env(name) => {
                    json!({"step": "verify_code", "code_source": "env", "env_var": name})
                }
                CodeSource::File(path) => {
                    json!({"step": "verify_code", "code_source": "file", "code_file": path})
                }
                CodeSource::Prompt => json!({"step": "verify_code", "code_source": "prompt"}),
            },
        );
        shared.record(self.number, |r| r.verify_attempts += 1)?;
        match shared.client.verify_code(id, &code).await {
            Ok(()) => {
                let _ = codes::consume(&source);
                self.code = None;
                shared.record(self.number, |r| {
                    r.verified_at = Some(Timestamp::now());
                    r.last_error = None;
                })?;
                self.done.push(Step::VerifyCode);
                shared.event(
                    Level::Info,
                    "step_finished",
                    self.number,
                    "ownership verified; the number has moved",
                    json!({"step": "verify_code"}),
                );
                Ok(None)
            }
            Err(error)
                if matches!(
                    error.class(),
                    ErrorClass::WrongCode | ErrorClass::CodeExpired | ErrorClass::TooManyAttempts
                ) =>
            {
                // Never try the same bad code again: a file is removed, and the hint says how
                // to go on.
                let removed = matches!(source, CodeSource::File(_)) && codes::consume(&source).is_ok();
                self.code = None;
                let outcome = self.graph_failed(Step::VerifyCode, &error)?;
                Ok(Some(match outcome {
                    NumberOutcome::Failed { step, message, hint, done } => {
                        let extra = match (&source, removed) {
                            (CodeSource::File(path), true) => {
                                format!(
                                    "; the refused code was removed from {}, write the right one there",
                                    path.display()
                                )
                            }
                            (CodeSource::Env(name), _) => format!("; unset or correct {name}"),
                            _ => String::new(),
                        };
                        NumberOutcome::Failed {
                            step,
                            message,
                            hint: if hint.contains("--resend-code") {
                                format!("{hint}{extra}")
                            } else {
                                format!("{hint}{extra}; to get a new code run wamig apply --resend-code")
                            },
                            done,
                        }
                    }
                    other => other,
                }))
            }
            // Someone proved ownership between the read and this call (the code typed in
            // WhatsApp Manager, another tool): the code is spent, the next round reads the
            // number verified and goes on to register.
            Err(error) if error.class() == ErrorClass::AlreadyVerified => {
                let _ = codes::consume(&source);
                self.code = None;
                self.verified_meanwhile(Step::VerifyCode);
                Ok(None)
            }
            // The answer was lost: the next round reads the truth.
            Err(error) if error.may_have_taken_effect() => self.retry_or_fail(Step::VerifyCode, &error).await,
            Err(error) if error.is_retryable_write() => self.retry_or_fail(Step::VerifyCode, &error).await,
            Err(error) => Ok(Some(self.graph_failed(Step::VerifyCode, &error)?)),
        }
    }

    async fn register(&mut self, id: &str) -> Result<Option<NumberOutcome>, EngineError> {
        let shared = self.shared;
        let Some(pin) = shared.pins.get(&self.number.phone.e164()) else {
            return Ok(Some(self.failed(
                Step::Register,
                format!("no PIN was resolved for {}", self.number.phone),
                "set the PIN reference of this number in the manifest (`pin: { env: WAMIG_PIN }`)".into(),
            )));
        };
        shared.event(
            Level::Info,
            "step_started",
            self.number,
            "registering on the Cloud API",
            json!({"step": "register"}),
        );
        // Counted before the call: a crash during it must still count against the 10 per 72 h.
        shared.record(self.number, |r| r.register_attempts.push(Timestamp::now()))?;
        self.registered_this_run = true;
        match shared.client.register(id, pin).await {
            Ok(()) => {
                shared.record(self.number, |r| {
                    r.registered_at = Some(Timestamp::now());
                    r.last_error = None;
                })?;
                self.done.push(Step::Register);
                shared.event(
                    Level::Info,
                    "step_finished",
                    self.number,
                    "registered",
                    json!({"step": "register"}),
                );
                Ok(None)
            }
            Err(error) if error.class() == ErrorClass::DisplayNameProvisioning => {
                let attempts = shared.current(self.number).register_attempts_in_window(Timestamp::now());
                let backoff = shared.timing.register_backoff.get(self.provisioning_retries).copied();
                // Keep most of Meta's 10-per-72-hours budget for later runs.
                match backoff.filter(|_| attempts < 7) {
                    Some(wait) => {
                        self.provisioning_retries += 1;
                        shared
                            .record(self.number, |r| r.last_error = Some(recorded(Step::Register, &error)))?;
                        shared.event(
                            Level::Warn,
                            "retry",
                            self.number,
                            &format!("the display name is still being provisioned; registering again in {}", crate::duration::display(wait)),
                            json!({"step": "register", "class": error.class().name(), "wait_ms": wait.as_millis() as u64}),
                        );
                        if shared.cancel.sleep(wait).await {
                            Ok(None)
                        } else {
                            Ok(Some(NumberOutcome::Interrupted { done: self.done.clone() }))
                        }
                    }
                    None => {
                        let outcome = self.graph_failed(Step::Register, &error)?;
                        Ok(Some(match outcome {
                            NumberOutcome::Failed { step, message, done, .. } => NumberOutcome::Failed {
                                step,
                                message,
                                hint: format!(
                                    "Meta is still provisioning the display name: run wamig apply again later ({attempts} of 10 register attempts used in the last 72 hours)"
                                ),
                                done,
                            },
                            other => other,
                        }))
                    }
                }
            }
            Err(error) if error.may_have_taken_effect() || error.is_retryable_write() => {
                self.retry_or_fail(Step::Register, &error).await
            }
            Err(error) => Ok(Some(self.graph_failed(Step::Register, &error)?)),
        }
    }

    /// Tells machine readers everything the hand-off block tells people: where the code went,
    /// where wamig will look for it, and what this run does next. Never the code itself.
    fn announce_wait(&self, requested_at: Timestamp, record: &NumberRecord) {
        let shared = self.shared;
        let method = record.last_code_request.as_ref().map_or(self.number.code_method, |r| r.method);
        let next = if shared.prompt {
            "prompt"
        } else if shared.wait_until.is_some() {
            "poll"
        } else {
            "stop"
        };
        let env_var = codes::code_env_var(&self.number.phone);
        let file = codes::code_file(&shared.codes_dir, &self.number.phone);
        self.shared.machine_event(
            "awaiting_code",
            self.number,
            &format!(
                "waiting for the code sent by {} at {} UTC: set {env_var} or write it to {}",
                channel(method),
                requested_at.strftime("%H:%M"),
                file.display()
            ),
            json!({
                "phone_number_id": record.phone_number_id,
                "code_method": method.as_str(),
                "channel": channel(method),
                "language": record.last_code_request.as_ref().map(|r| r.language.clone()),
                "requested_at": requested_at.to_string(),
                "resend_after": (requested_at + crate::journal::CODE_COOLDOWN).to_string(),
                "code_requests": record.code_requests,
                "env_var": env_var,
                "code_file": file,
                "next": next,
            }),
        );
    }

    /// Polls the codes directory until `--wait-for-codes` runs out, or asks on the terminal.
    async fn wait_for_code(&self, requested_at: Timestamp) -> Option<(Secret, CodeSource)> {
        let shared = self.shared;
        if shared.prompt {
            let _turn = shared.prompt_lock.lock().await;
            let question = format!(
                "Verification code for {} (sent by {} at {} UTC; Enter to supply it later): ",
                self.number.phone,
                channel(self.number.code_method),
                requested_at.strftime("%H:%M"),
            );
            for _ in 0..3 {
                let asked = question.clone();
                let answer =
                    tokio::task::spawn_blocking(move || codes::prompt_hidden(&asked)).await.ok()??;
                match codes::six_digits(answer.expose()) {
                    Ok(code) => return Some((code, CodeSource::Prompt)),
                    Err(problem) => shared
                        .ui
                        .warn("code_invalid", &format!("that code is not valid: {problem}; try again")),
                }
            }
            return None;
        }
        let deadline = shared.wait_until?;
        let e164 = self.number.phone.e164();
        shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).push(e164.clone());
        if let Some(progress) = &shared.progress {
            progress.set(
                &e164,
                RowState::Waiting {
                    // The channel the awaited code went by; the manifest may name another since.
                    what: format!(
                        "waiting for the code sent by {}",
                        channel(
                            shared
                                .current(self.number)
                                .last_code_request
                                .map_or(self.number.code_method, |request| request.method)
                        )
                    ),
                    hint: format!(
                        "put it in {}",
                        codes::code_file(&shared.codes_dir, &self.number.phone).display()
                    ),
                    until: Some(deadline),
                },
            );
        }
        let found = loop {
            match codes::lookup(&self.number.phone, &shared.codes_dir, &*shared.env) {
                CodeLookup::Found { code, source } => break Some((code, source)),
                // An invalid file may be mid-write; the next look decides.
                CodeLookup::Invalid { .. } | CodeLookup::Missing => {}
            }
            if Instant::now() >= deadline || !shared.cancel.sleep(shared.timing.poll_interval).await {
                break None;
            }
        };
        shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| *w != e164);
        found
    }

    /// Post-migration verification: registered and connected in the destination, gone from the
    /// source where readable, and which templates came along.
    async fn verify_migration(&self, node: &NumberView) -> VerificationReport {
        let shared = self.shared;
        let mut report = VerificationReport {
            verified: node.is_verified(),
            registered: node.is_registered(),
            status: node.status.clone(),
            ..VerificationReport::default()
        };
        let source = self.plan.source_waba.clone();
        if let Some(source) = &source {
            match shared.client.phone_numbers(source).await {
                Ok(listed) => {
                    let still = listed.iter().map(observe::number_view).find(|v| v.digits == self.digits());
                    report.gone_from_source = Some(still.is_none_or(|v| v.is_migrated_away()));
                }
                Err(_) => report.gone_from_source = None,
            }
        }
        let source_templates =
            source.as_ref().and_then(|s| shared.snapshot.waba(s)).and_then(|w| w.templates.clone());
        let destination_templates = shared
            .client
            .message_templates(&self.number.destination_waba)
            .await
            .ok()
            .map(|list| list.iter().map(observe::template_view).collect::<Vec<_>>());
        report.templates = match (source_templates, destination_templates) {
            (Some(source), Some(destination)) => {
                let before = shared
                    .snapshot
                    .waba(&self.number.destination_waba)
                    .and_then(|w| w.templates.clone())
                    .unwrap_or_default();
                Some(TemplateReport::compare(&source, &destination, &before))
            }
            _ => None,
        };
        shared.event(
            Level::Info,
            "verified",
            self.number,
            &report.one_line(),
            json!({"step": "verify_templates", "report": report}),
        );
        report
    }
}

pub fn channel(method: CodeMethod) -> &'static str {
    match method {
        CodeMethod::Sms => "SMS",
        CodeMethod::Voice => "voice call",
    }
}
