//! Owns the four writes of a migration as apply makes them: start the migration, request a code,
//! verify it, register. Each records in the journal what it is about to do when a crash must not
//! let it happen twice (a code request, a register attempt), makes one call, and turns Meta's
//! answer into journal facts and the engine's believed node state. What an error means is
//! Graph's classification (`GraphError::write_outcome`): an outcome lost in transport is read
//! back, a refusal to try later waits, a definite refusal stops the number.

use jiff::Timestamp;
use serde_json::json;

use super::calls::MigrationCalls;
use super::codes::{self, CodeSource};
use super::engine::{Run, StepResult, recorded};
use crate::graph::{ErrorClass, GraphError, WriteOutcome};
use crate::journal::CodeRequest;
use crate::migration::{self, Step};
use crate::observe::NumberView;
use crate::ui::Level;
use crate::vocabulary::{CodeVerificationStatus, PhoneNumberStatus, PlatformType};

impl<G: MigrationCalls> Run<'_, G> {
    pub(super) async fn initiate(&mut self) -> StepResult {
        let shared = self.shared;
        shared.event(
            Level::Info,
            "step_started",
            self.number,
            "starting the migration",
            json!({"step": "initiate_migration"}),
        );
        let phone = &self.number.phone;
        let result = shared
            .calls
            .initiate_migration(&self.number.destination_waba, phone.country_code(), phone.national_number())
            .await;
        match result {
            Ok(id) => {
                let now = Timestamp::now();
                shared.record(self.number, |r| {
                    r.adopt_node(&id);
                    r.initiated_at = Some(now);
                    r.last_error = None;
                })?;
                // What Graph's answer implies, until a read says more.
                self.view = Some(NumberView {
                    id: id.clone(),
                    digits: self.digits().to_owned(),
                    code_verification_status: Some(CodeVerificationStatus::NotVerified),
                    ..NumberView::default()
                });
                self.done.push(Step::InitiateMigration);
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
                self.find_started(&error).await
            }
            Err(error) => match error.write_outcome() {
                WriteOutcome::Unknown => {
                    // The answer was lost: the destination's listing tells whether it happened.
                    let read = self.read_until(Step::InitiateMigration, |node| node.is_some()).await;
                    match read {
                        Ok((Some(node), _)) => {
                            let now = Timestamp::now();
                            shared.record(self.number, |r| {
                                r.adopt_node(&node.id);
                                r.initiated_at = Some(now);
                            })?;
                            self.view = Some(node);
                            self.done.push(Step::InitiateMigration);
                            Ok(None)
                        }
                        // Not shown: starting again is safe, Meta answers "Duplicate phone
                        // number" if the first call did start it.
                        Ok((None, _)) => self.retry_or_fail(Step::InitiateMigration, &error).await,
                        Err(read_error) => self.retry_or_fail(Step::InitiateMigration, &read_error).await,
                    }
                }
                WriteOutcome::NotYet => self.retry_or_fail(Step::InitiateMigration, &error).await,
                WriteOutcome::Refused => Ok(Some(self.graph_failed(Step::InitiateMigration, &error)?)),
            },
        }
    }

    /// Meta says the migration was started already (by a run that lost its answer, or by hand)
    /// or the number is in the destination: its node is found in the destination's listing.
    async fn find_started(&mut self, error: &GraphError) -> StepResult {
        let shared = self.shared;
        let started_here = error.class() == ErrorClass::MigrationAlreadyStarted;
        let said = if started_here {
            "the migration was already started (Duplicate phone number); looking up its id"
        } else {
            "the number is already in the destination (2388012); looking up its id"
        };
        shared.event(
            Level::Info,
            "step_skipped",
            self.number,
            said,
            json!({"step": "initiate_migration", "class": error.class().name()}),
        );
        // Whatever id the journal had is not the one Meta means: list the destination.
        shared.record(self.number, |r| r.phone_number_id = None)?;
        self.view = None;
        match self.read_until(Step::InitiateMigration, |node| node.is_some()).await {
            Ok((Some(node), _)) => {
                let now = Timestamp::now();
                shared.record(self.number, |r| {
                    r.adopt_node(&node.id);
                    // A migration wamig may have started counts as started here (its code step
                    // is then needed whatever the node says); a number someone else put in the
                    // destination does not.
                    r.initiated_at = started_here.then_some(now);
                })?;
                self.view = Some(node);
                Ok(None)
            }
            Ok((None, _)) => Ok(Some(self.graph_failed_with(
                Step::InitiateMigration,
                error,
                format!(
                    "Meta says the migration was started but destination WABA {} does not list the number yet (Graph may be slow to show it): run wamig apply again in a few minutes",
                    self.number.destination_waba
                ),
            )?)),
            Err(read_error) => Ok(Some(self.graph_failed(Step::InitiateMigration, &read_error)?)),
        }
    }

    pub(super) async fn request_code(&mut self, id: &str) -> StepResult {
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
            r.code_requests = r.code_requests.saturating_add(1);
        })?;
        let undo = |run: &Self| {
            run.shared.record(run.number, |r| {
                r.last_code_request = before.last_code_request.clone();
                r.code_requests = before.code_requests;
            })
        };
        match shared.calls.request_code(id, method, &self.number.language).await {
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
            // Verified already (by hand, or a lost answer): no code was sent, ownership is
            // proven, and the number goes on to register.
            Err(error) if error.class() == ErrorClass::AlreadyVerified => {
                undo(self)?;
                self.verified_meanwhile(Step::RequestCode)?;
                Ok(None)
            }
            Err(error) => match error.write_outcome() {
                WriteOutcome::Unknown => {
                    // A code may be on its way: it stays counted, so no second one is asked for
                    // in the cooldown.
                    self.requested_this_run = true;
                    Ok(None)
                }
                WriteOutcome::NotYet => {
                    undo(self)?;
                    self.retry_or_fail(Step::RequestCode, &error).await
                }
                WriteOutcome::Refused => {
                    undo(self)?;
                    Ok(Some(self.graph_failed(Step::RequestCode, &error)?))
                }
            },
        }
    }

    /// Meta answered 136024 ("already verified") to a code step: ownership is proven, which the
    /// journal records, and the step missing from the run's work is explained.
    fn verified_meanwhile(&mut self, step: Step) -> Result<(), crate::journal::JournalError> {
        let now = Timestamp::now();
        self.shared.record(self.number, |r| {
            r.verified_at = Some(now);
            r.last_error = None;
        })?;
        self.believe_verified();
        self.shared.event(
            Level::Info,
            "step_skipped",
            self.number,
            "Meta says the number is verified already (136024): no code is needed",
            json!({"step": step.as_str(), "class": ErrorClass::AlreadyVerified.name()}),
        );
        Ok(())
    }

    fn believe_verified(&mut self) {
        if let Some(view) = self.view.as_mut() {
            view.code_verification_status = Some(CodeVerificationStatus::Verified);
        }
    }

    pub(super) async fn verify(&mut self, id: &str) -> StepResult {
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
        shared.record(self.number, |r| r.verify_attempts = r.verify_attempts.saturating_add(1))?;
        match shared.calls.verify_code(id, &code).await {
            Ok(()) => {
                let _ = codes::consume(&source);
                self.code = None;
                let now = Timestamp::now();
                shared.record(self.number, |r| {
                    r.verified_at = Some(now);
                    r.last_error = None;
                })?;
                self.believe_verified();
                self.done.push(Step::VerifyCode);
                // Only ownership is proven here: Meta lets the source keep the number until the
                // destination registers it, so nothing is said about the source.
                shared.event(
                    Level::Info,
                    "step_finished",
                    self.number,
                    "ownership verified",
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
                let hint = crate::hints::refused_code_hint(&error, &source, removed);
                Ok(Some(self.graph_failed_with(Step::VerifyCode, &error, hint)?))
            }
            // Someone proved ownership between the read and this call (the code typed in
            // WhatsApp Manager, another tool): the code is spent.
            Err(error) if error.class() == ErrorClass::AlreadyVerified => {
                let _ = codes::consume(&source);
                self.code = None;
                self.verified_meanwhile(Step::VerifyCode)?;
                Ok(None)
            }
            Err(error) => match error.write_outcome() {
                WriteOutcome::Unknown => {
                    let verified = |node: Option<&NumberView>| node.is_some_and(NumberView::is_verified);
                    match self.read_until(Step::VerifyCode, verified).await {
                        Ok((read, true)) => {
                            let _ = codes::consume(&source);
                            self.code = None;
                            let now = Timestamp::now();
                            shared.record(self.number, |r| r.verified_at = Some(now))?;
                            self.view = read;
                            self.done.push(Step::VerifyCode);
                            Ok(None)
                        }
                        Ok((_, false)) => self.retry_or_fail(Step::VerifyCode, &error).await,
                        Err(read_error) => self.retry_or_fail(Step::VerifyCode, &read_error).await,
                    }
                }
                WriteOutcome::NotYet => self.retry_or_fail(Step::VerifyCode, &error).await,
                WriteOutcome::Refused => Ok(Some(self.graph_failed(Step::VerifyCode, &error)?)),
            },
        }
    }

    pub(super) async fn register(&mut self, id: &str) -> StepResult {
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
        let region = self.number.data_localization_region.as_deref();
        match shared.calls.register(id, pin, region).await {
            Ok(()) => {
                let now = Timestamp::now();
                shared.record(self.number, |r| {
                    r.registered_at = Some(now);
                    r.last_error = None;
                })?;
                if let Some(view) = self.view.as_mut() {
                    view.platform_type = Some(PlatformType::CloudApi);
                    view.status = Some(PhoneNumberStatus::Connected);
                }
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
                self.provisioning(&error).await
            }
            Err(error) if error.class() == ErrorClass::VerifyBeforeRegister => {
                self.ownership_required(&error).await
            }
            Err(error) => match error.write_outcome() {
                WriteOutcome::Unknown => {
                    let registered = |node: Option<&NumberView>| node.is_some_and(migration::is_registered);
                    match self.read_until(Step::Register, registered).await {
                        Ok((read, true)) => {
                            let now = Timestamp::now();
                            shared.record(self.number, |r| r.registered_at = Some(now))?;
                            self.view = read;
                            self.done.push(Step::Register);
                            Ok(None)
                        }
                        Ok((_, false)) => self.retry_or_fail(Step::Register, &error).await,
                        Err(read_error) => self.retry_or_fail(Step::Register, &read_error).await,
                    }
                }
                WriteOutcome::NotYet => self.retry_or_fail(Step::Register, &error).await,
                WriteOutcome::Refused => Ok(Some(self.graph_failed(Step::Register, &error)?)),
            },
        }
    }

    /// Register refused with 2388001: Meta is still provisioning the display name. A few spaced
    /// retries in this run, keeping most of the 10-per-72-hours budget for later runs.
    async fn provisioning(&mut self, error: &GraphError) -> StepResult {
        let shared = self.shared;
        let attempts = shared.current(self.number).register_attempts_in_window(Timestamp::now());
        let backoff = shared.timing.register_backoff.get(self.provisioning_retries).copied();
        let Some(wait) = backoff.filter(|_| attempts < 7) else {
            return Ok(Some(self.graph_failed_with(
                Step::Register,
                error,
                crate::hints::provisioning_hint(attempts),
            )?));
        };
        self.provisioning_retries += 1;
        shared.record(self.number, |r| r.last_error = Some(recorded(Step::Register, error)))?;
        shared.event(
            Level::Warn,
            "retry",
            self.number,
            &format!(
                "the display name is still being provisioned; registering again in {}",
                crate::duration::display(wait)
            ),
            json!({"step": "register", "class": error.class().name(), "wait_ms": wait.as_millis() as u64}),
        );
        if shared.sleep(wait).await { Ok(None) } else { Ok(Some(self.interrupted())) }
    }

    /// Register refused with "verify ownership first": the number goes back to the code step,
    /// never to another register call (each counts against Meta's 10 per 72 hours).
    async fn ownership_required(&mut self, error: &GraphError) -> StepResult {
        let shared = self.shared;
        let now = Timestamp::now();
        shared.record(self.number, |r| {
            r.ownership_required_at = Some(now);
            r.last_error = Some(recorded(Step::Register, error));
        })?;
        if let Some(view) = self.view.as_mut() {
            view.code_verification_status = Some(CodeVerificationStatus::NotVerified);
        }
        shared.event(
            Level::Warn,
            "ownership_required",
            self.number,
            "Meta asks for ownership to be verified before registering: back to the code step",
            json!({"step": "register", "class": error.class().name()}),
        );
        Ok(None)
    }
}
