//! Owns the execution of one number: a loop that classifies where the number stands
//! (`crate::migration`, from the last known node and the journal), performs the one write that
//! comes next, records its answer in the journal (saved at once) and goes round again. A write
//! Graph answered with success is believed without reading it back; reads happen only where an
//! answer cannot tell (an outcome lost in transport, a refusal that says the state is other than
//! believed). A definite refusal stops the number; nothing is repeated because a read lags. Every
//! call waits for its WABA's Graph budget first (`budget`). It returns an outcome value (awaiting
//! a code, failed, paused, interrupted) or hands the number to `settle` once its writes are all
//! made; it prints nothing but log events, and never a secret. The writes themselves are in
//! `steps`; every wait is on apply's clock (`clock`).

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use jiff::Timestamp;
use serde_json::json;

use super::budget::{Admission, Budgets, Call};
use super::calls::MigrationCalls;
use super::clock::{Clock, SystemClock};
use super::codes::{self, CodeLookup, CodeSource};
use super::progress::{Progress, RowState};
use super::report::NumberOutcome;
use crate::graph::{ErrorClass, GraphError};
use crate::journal::{Journal, JournalError, NumberRecord, RecordedError};
use crate::manifest::DesiredNumber;
use crate::migration::{self, Next, RunContext, Step};
use crate::observe::{self, NumberView, Snapshot};
use crate::plan::NumberPlan;
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

    /// Sleeps on `clock`, waking early on cancellation. Returns false when cancelled.
    pub async fn sleep(&self, clock: &dyn Clock, duration: Duration) -> bool {
        if self.is_cancelled() {
            return false;
        }
        tokio::select! {
            _ = clock.sleep(duration) => !self.is_cancelled(),
            _ = self.notify.notified() => false,
        }
    }
}

/// Tunables with safe defaults; tests shorten the waits.
#[derive(Debug, Clone)]
pub struct Timing {
    /// Where the waits below (and the budgets' time) come from: the system's clock, or a
    /// simulated one that moves time instead of waiting (the benchmark).
    pub clock: Arc<dyn Clock>,
    /// How often the codes directory is looked at while waiting for codes.
    pub poll_interval: Duration,
    /// Waits between register retries while Meta still provisions the display name (2388001).
    pub register_backoff: Vec<Duration>,
    /// The longest wait for a WABA's Graph budget, throttling or maintenance before a number
    /// stops for this run (`--max-wait`).
    pub max_wait: Duration,
    /// The first wait before a step is tried again after throttling, maintenance or a lost
    /// answer, when Graph does not say how long; it doubles with each retry.
    pub retry_base: Duration,
    /// Waits between reads that look for a write Graph accepted but its reads do not show yet
    /// (Graph is eventually consistent); when they run out the number ends as confirming.
    pub confirm_backoff: Vec<Duration>,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            clock: Arc::new(SystemClock),
            poll_interval: Duration::from_secs(1),
            register_backoff: vec![
                Duration::from_secs(30),
                Duration::from_secs(60),
                Duration::from_secs(120),
            ],
            max_wait: Duration::from_secs(15 * 60),
            retry_base: Duration::from_secs(2),
            confirm_backoff: [1, 2, 4, 8, 15].into_iter().map(Duration::from_secs).collect(),
        }
    }
}

/// Everything the number tasks share.
pub struct Shared<G> {
    pub calls: G,
    pub journal: Mutex<Journal>,
    /// The journal's saves, one at a time.
    pub saves: Saves,
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
    /// Numbers currently waiting for a code (E.164), for the countdown.
    pub waiting: Mutex<Vec<String>>,
    /// The live view on a terminal; `None` means plain log lines only.
    pub progress: Option<Arc<Progress>>,
    /// Each WABA's Graph budget.
    pub budgets: Budgets,
}

/// The journal's saves. A save writes the journal as it is then, every change made before it
/// included, so numbers that record at the same moment share one write (and its fsync, or its
/// upload to a shared store) instead of queueing one each behind a lock.
#[derive(Debug, Default)]
pub struct Saves {
    /// Changes made to the journal so far, counted under the journal's lock.
    made: AtomicU64,
    /// Changes the last save wrote; held while a save is under way, so whoever holds it knows
    /// no save is half done.
    pub written: Mutex<u64>,
}

/// Errors that stop the whole apply, not only one number.
#[derive(Debug, thiserror::Error)]
pub enum EngineError {
    #[error(transparent)]
    Journal(#[from] JournalError),
}

impl<G> Shared<G> {
    /// Waits `duration` on apply's clock, waking early on Ctrl-C. Returns false when cancelled.
    pub(super) async fn sleep(&self, duration: Duration) -> bool {
        self.cancel.sleep(&*self.timing.clock, duration).await
    }

    pub(super) fn record<T>(
        &self,
        number: &DesiredNumber,
        change: impl FnOnce(&mut NumberRecord) -> T,
    ) -> Result<T, JournalError> {
        let (result, made) = {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let entry = journal.entry(&number.phone.e164(), &number.destination_waba);
            let before = entry.clone();
            let result = change(entry);
            // A save only when something changed.
            if *entry == before {
                return Ok(result);
            }
            (result, self.saves.made.fetch_add(1, Ordering::SeqCst) + 1)
        };
        self.saved_through(made)?;
        Ok(result)
    }

    /// Changes several numbers' records with one save.
    pub(super) fn record_all<'a, I: 'a>(
        &self,
        items: impl IntoIterator<Item = (&'a DesiredNumber, I)>,
        change: impl Fn(&mut NumberRecord, I),
    ) -> Result<(), JournalError> {
        let made = {
            let mut journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            let before = journal.clone();
            for (number, item) in items {
                change(journal.entry(&number.phone.e164(), &number.destination_waba), item);
            }
            if *journal == before {
                return Ok(());
            }
            self.saves.made.fetch_add(1, Ordering::SeqCst) + 1
        };
        self.saved_through(made)
    }

    /// Returns once the journal is saved with at least the first `made` changes: at once when a
    /// save since wrote them, else by saving it as it is now.
    fn saved_through(&self, made: u64) -> Result<(), JournalError> {
        let mut written = self.saves.written.lock().unwrap_or_else(|e| e.into_inner());
        if *written >= made {
            return Ok(());
        }
        let (journal, now) = {
            let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
            (journal.clone(), self.saves.made.load(Ordering::SeqCst))
        };
        self.state.save(&journal)?;
        *written = now;
        Ok(())
    }

    pub(super) fn current(&self, number: &DesiredNumber) -> NumberRecord {
        let journal = self.journal.lock().unwrap_or_else(|e| e.into_inner());
        journal
            .get(&number.phone.e164())
            .filter(|record| record.destination_waba == number.destination_waba)
            .cloned()
            .unwrap_or_else(|| NumberRecord::new(&number.destination_waba))
    }

    pub(super) fn event(
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
    pub(super) fn machine_event(
        &self,
        event: &str,
        number: &DesiredNumber,
        message: &str,
        extra: serde_json::Value,
    ) {
        if self.ui.log_format == crate::ui::LogFormat::Json {
            self.event(Level::Info, event, number, message, extra);
        }
    }
}

pub(super) fn recorded(step: Step, error: &GraphError) -> RecordedError {
    RecordedError {
        at: Timestamp::now(),
        step,
        class: Some(error.class()),
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

/// One number's run.
pub(super) struct Run<'a, G> {
    pub shared: &'a Shared<G>,
    pub number: &'a DesiredNumber,
    pub plan: &'a NumberPlan,
    /// What the number's node in the destination is believed to be: the last read, updated
    /// with what each answered write implies. `None`: not in the destination.
    pub view: Option<NumberView>,
    pub done: Vec<Step>,
    pub requested_this_run: bool,
    pub registered_this_run: bool,
    pub code: Option<(Secret, CodeSource)>,
    pub provisioning_retries: usize,
    step_retries: HashMap<Step, u32>,
}

/// What one step did: go round again, or stop with an outcome.
pub(super) type StepResult = Result<Option<NumberOutcome>, EngineError>;

/// How a number's run through the engine ended.
#[derive(Debug, Clone)]
pub enum RunEnd {
    /// The number stopped for this run.
    Outcome(NumberOutcome),
    /// Every write is made: the number waits for the closing read that confirms and reports it,
    /// made for all such numbers together.
    Settle { done: Vec<Step>, skipped: Vec<Step> },
}

/// The number's node as the plan observed it in the destination, the engine's first read.
pub fn observed_view<G>(shared: &Shared<G>, number: &DesiredNumber) -> Option<NumberView> {
    shared
        .snapshot
        .waba(&number.destination_waba)
        .and_then(|waba| waba.number(number.phone.digits()))
        .filter(|n| !n.is_migrated_away())
        .cloned()
}

/// Runs one number to its end for this run, starting from `view`, the last read of its node.
pub async fn run_number<G: MigrationCalls>(
    shared: &Shared<G>,
    number: &DesiredNumber,
    plan: &NumberPlan,
    view: Option<NumberView>,
) -> Result<RunEnd, EngineError> {
    let mut run = Run {
        shared,
        number,
        plan,
        view,
        done: Vec::new(),
        requested_this_run: false,
        registered_this_run: false,
        code: None,
        provisioning_retries: 0,
        step_retries: HashMap::new(),
    };
    run.go().await
}

impl<G: MigrationCalls> Run<'_, G> {
    pub fn digits(&self) -> &str {
        self.number.phone.digits()
    }

    pub fn interrupted(&self) -> NumberOutcome {
        NumberOutcome::Interrupted { done: self.done.clone() }
    }

    pub fn failed(&self, step: Step, message: String, hint: String) -> NumberOutcome {
        self.shared.event(Level::Error, "step_failed", self.number, &message, json!({"step": step.as_str()}));
        NumberOutcome::Failed { step, message, hint, done: self.done.clone() }
    }

    /// Stops the number with a Graph error, recorded in the journal.
    pub fn graph_failed(&self, step: Step, error: &GraphError) -> Result<NumberOutcome, EngineError> {
        self.graph_failed_with(step, error, crate::hints::graph_hint(error))
    }

    pub fn graph_failed_with(
        &self,
        step: Step,
        error: &GraphError,
        hint: String,
    ) -> Result<NumberOutcome, EngineError> {
        self.shared.record(self.number, |r| r.last_error = Some(recorded(step, error)))?;
        let mut message = error.message();
        if let Some(trace) = error.fbtrace_id() {
            message.push_str(&format!(" (fbtrace_id {trace})"));
        }
        Ok(self.failed(step, message, hint))
    }

    /// Throttling, maintenance, a lost answer: wait as Graph asks (bounded). `false` when the
    /// step should give up. Throttling is the WABA's, not the number's: the wait is left to
    /// the WABA's budget, which every number on it asks before its next call.
    pub async fn wait_to_retry(&mut self, step: Step, error: &GraphError) -> bool {
        let tries = self.step_retries.entry(step).or_insert(0);
        *tries += 1;
        if *tries > MAX_STEP_RETRIES {
            return false;
        }
        let backoff = self.shared.timing.retry_base.saturating_mul(2u32.saturating_pow(*tries - 1));
        let wait = error.retry_after().unwrap_or(backoff);
        if error.class() == ErrorClass::Throttled {
            self.shared.budgets.throttled(&self.number.destination_waba, wait, &*self.shared.timing.clock);
            self.shared.event(
                Level::Warn,
                "retry",
                self.number,
                &format!(
                    "Meta throttled WABA {} ({}); no call on it for {}",
                    self.number.destination_waba,
                    step.as_str(),
                    crate::duration::display(wait)
                ),
                json!({"step": step.as_str(), "class": error.class().name(), "wait_ms": wait.as_millis() as u64}),
            );
            return true;
        }
        if wait > self.shared.timing.max_wait {
            return false;
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
        self.shared.sleep(wait).await
    }

    /// After a failed write: wait and go round again when Meta certainly did not act and may
    /// accept it later; otherwise stop with the error.
    pub async fn retry_or_fail(&mut self, step: Step, error: &GraphError) -> StepResult {
        if self.wait_to_retry(step, error).await {
            return Ok(None);
        }
        if self.shared.cancel.is_cancelled() {
            return Ok(Some(self.interrupted()));
        }
        Ok(Some(self.graph_failed(step, error)?))
    }

    /// Reads the number's node in the destination: by id when known, else by listing the
    /// destination's numbers (which also tells the id). `None`: not there.
    pub async fn read_node(&self) -> Result<Option<NumberView>, GraphError> {
        let known =
            self.view.as_ref().map(|v| v.id.clone()).or(self.shared.current(self.number).phone_number_id);
        if let Some(id) = known {
            return match self.shared.calls.phone_number(&id).await {
                Ok(node) => {
                    let view = observe::number_view(&node);
                    // A node for another number means ours is not this id.
                    Ok((view.digits == self.digits() || view.digits.is_empty()).then_some(view))
                }
                Err(error) if matches!(error.class(), ErrorClass::NotFound | ErrorClass::Permission) => {
                    Ok(None)
                }
                Err(error) => Err(error),
            };
        }
        let listed = self.shared.calls.phone_numbers(&self.number.destination_waba).await?;
        Ok(listed
            .iter()
            .map(observe::number_view)
            .find(|view| view.digits == self.digits() && !view.is_migrated_away()))
    }

    /// Reads the node back until `shows` holds for it, waiting between reads as
    /// `Timing::confirm_backoff` says: Graph's reads may lag its writes. Returns the last read
    /// and whether it showed what was looked for.
    pub async fn read_until(
        &mut self,
        step: Step,
        shows: impl Fn(Option<&NumberView>) -> bool,
    ) -> Result<(Option<NumberView>, bool), GraphError> {
        let waits = self.shared.timing.confirm_backoff.clone();
        let mut waits = waits.into_iter();
        loop {
            if self.admit(Call::Single).await.is_some() {
                return Ok((self.view.clone(), false));
            }
            let read = self.read_node().await?;
            if shows(read.as_ref()) {
                return Ok((read, true));
            }
            let Some(wait) = waits.next() else { return Ok((read, false)) };
            self.shared.event(
                Level::Debug,
                "read_lag",
                self.number,
                &format!(
                    "Graph does not show the {} yet; reading again in {}",
                    step.as_str(),
                    crate::duration::display(wait)
                ),
                json!({"step": step.as_str(), "wait_ms": wait.as_millis() as u64}),
            );
            if !self.shared.sleep(wait).await {
                return Ok((read, false));
            }
        }
    }

    async fn go(&mut self) -> Result<RunEnd, EngineError> {
        let shared = self.shared;
        if let Some(id) = self.view.as_ref().map(|n| n.id.clone()) {
            shared.record(self.number, |r| {
                if r.phone_number_id.as_deref() != Some(&id) {
                    r.adopt_node(&id);
                }
            })?;
        }
        for _ in 0..MAX_ROUNDS {
            if shared.cancel.is_cancelled() {
                return Ok(RunEnd::Outcome(self.interrupted()));
            }
            let record = shared.current(self.number);
            let now = Timestamp::now();
            let position = migration::classify(self.view.as_ref(), Some(&record), now);
            if position.stage.is_verified() {
                // A code file accepted by a run killed before it could remove it: never replayed.
                let _ = codes::consume(&CodeSource::File(codes::code_file(
                    &shared.codes_dir,
                    &self.number.phone,
                )));
            } else if self.code.is_none() {
                // Looked at before the migration starts too: a bad code given up front stops the
                // number before its first write, not after an SMS was sent for nothing.
                match codes::lookup(&self.number.phone, &shared.codes_dir, &*shared.env) {
                    CodeLookup::Found { code, source } => self.code = Some((code, source)),
                    CodeLookup::Invalid { source, problem } => {
                        return Ok(RunEnd::Outcome(self.invalid_code(&source, &problem)));
                    }
                    CodeLookup::Missing => {}
                }
            }
            let next = migration::next(
                &position,
                RunContext {
                    record: &record,
                    register: self.number.register,
                    code_at_hand: self.code.is_some(),
                    resend: shared.resend && !self.requested_this_run,
                    requested_this_run: self.requested_this_run,
                    registered_this_run: self.registered_this_run,
                    now,
                },
            );
            let id = position.stage.node_id().unwrap_or_default().to_owned();
            let writes = matches!(next, Next::Initiate | Next::RequestCode | Next::Verify | Next::Register);
            // A code expires minutes after it is sent: its request reserves the verification's
            // share of the budget, so that it does not wait its turn behind other numbers.
            let call = match next {
                Next::RequestCode => Call::WithFollowUp,
                Next::Verify => Call::FollowUp,
                _ => Call::Single,
            };
            if writes && let Some(paused) = self.admit(call).await {
                return Ok(RunEnd::Outcome(paused));
            }
            let stop = match next {
                Next::Initiate => self.initiate().await?,
                Next::RequestCode => self.request_code(&id).await?,
                Next::AwaitCode { requested_at } => self.await_code(requested_at, &record).await,
                Next::Verify => self.verify(&id).await?,
                Next::Register => self.register(&id).await?,
                Next::RegisterBudgetSpent { attempts } => Some(self.failed(
                    Step::Register,
                    format!("{attempts} register calls in the last 72 hours, Meta allows 10: no more is made"),
                    "wait until the oldest attempt is 72 hours old (see `wamig status`), then run wamig apply again".into(),
                )),
                Next::RegisterLater { after, attempts } => Some(self.failed(
                    Step::Register,
                    format!(
                        "Meta was still provisioning the display name at the last register call (2388001); no register call before {} UTC",
                        after.strftime("%Y-%m-%d %H:%M")
                    ),
                    format!(
                        "run wamig apply again after {} UTC; each refused call counts against Meta's 10 per 72 hours ({attempts} used), so wamig waits longer after each",
                        after.strftime("%H:%M")
                    ),
                )),
                Next::VerifyTemplates => {
                    return Ok(RunEnd::Settle { done: self.done.clone(), skipped: self.skipped() });
                }
                Next::Done => Some(NumberOutcome::Done {
                    report: Default::default(),
                    done: self.done.clone(),
                    skipped: self.skipped(),
                }),
            };
            if let Some(outcome) = stop {
                return Ok(RunEnd::Outcome(outcome));
            }
        }
        let record = shared.current(self.number);
        let position = migration::classify(self.view.as_ref(), Some(&record), Timestamp::now());
        let step =
            position.remaining_steps(self.number.register).first().copied().unwrap_or(Step::VerifyTemplates);
        Ok(RunEnd::Outcome(self.failed(
            step,
            format!("{} did not reach the expected state after {MAX_ROUNDS} rounds", self.number.phone),
            "the live state is not changing as Graph reported; check the number in WhatsApp Manager and run wamig apply again".into(),
        )))
    }

    /// Waits until the destination WABA's Graph budget allows a call; `Some` when it does not
    /// within `--max-wait` (the number pauses) or Ctrl-C came meanwhile.
    pub async fn admit(&self, call: Call) -> Option<NumberOutcome> {
        let shared = self.shared;
        let waba = &self.number.destination_waba;
        match shared.budgets.admit_call(waba, shared.calls.budget_used(waba), &*shared.timing.clock, call) {
            Admission::Now => None,
            Admission::After(wait) => {
                if wait >= Duration::from_secs(1) {
                    shared.event(
                        Level::Info,
                        "budget_wait",
                        self.number,
                        &format!("waiting {} for WABA {waba}'s Graph budget", crate::duration::display(wait)),
                        json!({"waba": waba, "wait_ms": wait.as_millis() as u64}),
                    );
                }
                (!shared.sleep(wait).await).then(|| self.interrupted())
            }
            Admission::Pause(pause) => Some(NumberOutcome::BudgetPaused {
                waba: pause.waba,
                until: pause.until,
                done: self.done.clone(),
            }),
        }
    }

    /// Steps the plan listed that this run found already done in the live state.
    pub fn skipped(&self) -> Vec<Step> {
        self.plan.steps.iter().copied().filter(|step| !self.done.contains(step)).collect()
    }

    /// A code was requested and none is at hand: wait for it as the options allow, or stop.
    async fn await_code(&mut self, requested_at: Timestamp, record: &NumberRecord) -> Option<NumberOutcome> {
        self.announce_wait(requested_at, record);
        match self.wait_for_code(requested_at).await {
            Some(CodeLookup::Found { code, source }) => {
                self.code = Some((code, source));
                None
            }
            Some(CodeLookup::Invalid { source, problem }) => Some(self.invalid_code(&source, &problem)),
            _ if self.shared.cancel.is_cancelled() => Some(self.interrupted()),
            _ => {
                let method = record.last_code_request.as_ref().map_or(self.number.code_method, |r| r.method);
                Some(NumberOutcome::AwaitingCode {
                    requested_at,
                    method,
                    env_var: codes::code_env_var(&self.number.phone),
                    file: codes::code_file(&self.shared.codes_dir, &self.number.phone),
                    done: self.done.clone(),
                })
            }
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
        shared.machine_event(
            "awaiting_code",
            self.number,
            &format!(
                "waiting for the code sent by {} at {} UTC: set {env_var} or write it to {}",
                method.channel(),
                requested_at.strftime("%H:%M"),
                file.display()
            ),
            json!({
                "phone_number_id": record.phone_number_id,
                "code_method": method.as_str(),
                "channel": method.channel(),
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

    /// A code given in a form no verify call may be made with: an input error for this number.
    fn invalid_code(&self, source: &CodeSource, problem: &str) -> NumberOutcome {
        self.failed(
            Step::VerifyCode,
            format!("the verification code in {source} is not valid: {problem}"),
            format!(
                "put the 6-digit code from the {} in {source} and run wamig apply again; no verify call was made",
                self.number.code_method.channel()
            ),
        )
    }

    /// Polls the codes directory until `--wait-for-codes` runs out, or asks on the terminal.
    /// Gives back the code found, or an invalid one that stayed invalid (an input error), or
    /// `None` when the wait ended without either.
    async fn wait_for_code(&self, requested_at: Timestamp) -> Option<CodeLookup> {
        let shared = self.shared;
        if shared.prompt {
            let _turn = shared.prompt_lock.lock().await;
            let question = format!(
                "Verification code for {} (sent by {} at {} UTC; Enter to supply it later): ",
                self.number.phone,
                self.number.code_method.channel(),
                requested_at.strftime("%H:%M"),
            );
            for _ in 0..3 {
                let asked = question.clone();
                let answer =
                    tokio::task::spawn_blocking(move || codes::prompt_hidden(&asked)).await.ok()??;
                match codes::six_digits(answer.expose()) {
                    Ok(code) => return Some(CodeLookup::Found { code, source: CodeSource::Prompt }),
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
            // The channel the awaited code went by; the manifest may name another since.
            let method = shared
                .current(self.number)
                .last_code_request
                .map_or(self.number.code_method, |request| request.method);
            progress.set(
                &e164,
                RowState::Waiting {
                    what: format!("waiting for the code sent by {}", method.channel()),
                    hint: format!(
                        "put it in {}",
                        codes::code_file(&shared.codes_dir, &self.number.phone).display()
                    ),
                    until: Some(deadline),
                },
            );
        }
        let mut seen_invalid = false;
        let found = loop {
            let ended = shared.timing.clock.now() >= deadline;
            match codes::lookup(&self.number.phone, &shared.codes_dir, &*shared.env) {
                found @ CodeLookup::Found { .. } => break Some(found),
                // A file may be caught mid-write: invalid on two looks in a row (or when the
                // wait ends) it is what the user gave, an input error rather than a silent skip.
                invalid @ CodeLookup::Invalid { .. } if seen_invalid || ended => break Some(invalid),
                CodeLookup::Invalid { .. } => seen_invalid = true,
                CodeLookup::Missing => seen_invalid = false,
            }
            if ended || !shared.sleep(shared.timing.poll_interval).await {
                break None;
            }
        };
        shared.waiting.lock().unwrap_or_else(|e| e.into_inner()).retain(|w| *w != e164);
        found
    }
}

#[cfg(test)]
mod tests;
