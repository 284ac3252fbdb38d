//! Owns the one migration state machine: where a number stands in its destination (its stage),
//! judged from the live node *and* the journal's evidence, the steps that remain, and the next
//! step apply takes. The planner, apply and `status` all call this module; none of them reads a
//! node's statuses on its own. Pure: no I/O, and time comes in as `now`.
//!
//! Why evidence and not only the node: Graph is eventually consistent, so a read just after a
//! write may still show the state before it. A write Graph answered with success is recorded in
//! the journal, and for a while (`READ_LAG_TRUST`) the journal is believed over a read that does
//! not show it yet: the number is then *confirming* that step, and the write is never repeated
//! because of a lagging read. Likewise a node may say `VERIFIED` on a migration this journal
//! started (carried over from the source): ownership counts as proven only when a verification
//! of this node succeeded (or Meta answered "already verified"), and never after Meta answered
//! that ownership must be verified before registering.

use jiff::{SignedDuration, Timestamp};
use serde::{Deserialize, Serialize};

use crate::journal::{CodeRequest, NumberRecord, REGISTER_LIMIT};
use crate::observe::NumberView;
use crate::vocabulary::PhoneNumberStatus;

/// How long a write Graph answered with success is believed over reads that do not show it:
/// far longer than any read lag integrations report (seconds), short enough that a write Meta
/// really lost is made again the same day.
pub const READ_LAG_TRUST: SignedDuration = SignedDuration::from_hours(1);

/// Migration steps, in the order they run (the plan's `steps`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    InitiateMigration,
    RequestCode,
    VerifyCode,
    Register,
    VerifyTemplates,
}

impl Step {
    pub fn as_str(self) -> &'static str {
        match self {
            Step::InitiateMigration => "initiate_migration",
            Step::RequestCode => "request_code",
            Step::VerifyCode => "verify_code",
            Step::Register => "register",
            Step::VerifyTemplates => "verify_templates",
        }
    }
}

impl std::fmt::Display for Step {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Registered in the destination: on a WhatsApp API platform, and with a status that says the
/// registration took (a number whose registration is still being processed reads `PENDING`).
/// A degraded status (flagged, restricted, disconnected) is still registered: that is drift for
/// a person to look at, not a migration step to repeat.
pub fn is_registered(node: &NumberView) -> bool {
    node.is_on_api_platform()
        && !matches!(
            node.status,
            Some(
                PhoneNumberStatus::Pending
                    | PhoneNumberStatus::Unverified
                    | PhoneNumberStatus::Migrated
                    | PhoneNumberStatus::Deleted
            )
        )
}

/// Where a number stands in its destination.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Stage {
    /// The destination does not hold it: the migration must be started.
    NotStarted,
    /// The destination holds node `id`; ownership is not proven yet.
    Started { id: String, code: Option<CodeRequest> },
    /// Ownership of node `id` is proven; registration may remain.
    Verified { id: String },
    /// Verified and registered in the destination.
    Registered { id: String },
}

impl Stage {
    pub fn node_id(&self) -> Option<&str> {
        match self {
            Stage::NotStarted => None,
            Stage::Started { id, .. } | Stage::Verified { id } | Stage::Registered { id } => Some(id),
        }
    }

    pub fn is_verified(&self) -> bool {
        matches!(self, Stage::Verified { .. } | Stage::Registered { .. })
    }
}

/// Why the code step is needed although the destination's node says `VERIFIED`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OwnershipDoubt {
    /// This journal started the migration of this node and made no verify call for it: the
    /// status was carried over, not earned.
    StartedHereWithoutVerification,
    /// Meta answered that ownership must be verified before registering.
    MetaAskedForVerification,
}

/// A number's stage with the evidence that decided it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Position {
    pub stage: Stage,
    /// A write Graph answered with success that the read does not show yet.
    pub confirming: Option<Step>,
    /// Set when the node says VERIFIED but ownership is not counted as proven.
    pub doubt: Option<OwnershipDoubt>,
}

impl Position {
    /// The steps that remain, in order, as the plan lists them. A number waiting for a code it
    /// already asked for does not list `request_code`; one confirming a write lists the read
    /// that confirms it (`verify_templates`).
    pub fn remaining_steps(&self, register: bool) -> Vec<Step> {
        let tail = |from_register: bool| {
            let mut steps = Vec::new();
            if from_register && register {
                steps.push(Step::Register);
            }
            steps.push(Step::VerifyTemplates);
            steps
        };
        match &self.stage {
            Stage::NotStarted => {
                let mut steps = vec![Step::InitiateMigration, Step::RequestCode, Step::VerifyCode];
                steps.extend(tail(true));
                steps
            }
            Stage::Started { code, .. } => {
                let mut steps = if code.is_some() { vec![] } else { vec![Step::RequestCode] };
                steps.push(Step::VerifyCode);
                steps.extend(tail(true));
                steps
            }
            Stage::Verified { .. } if register => tail(true),
            Stage::Verified { .. } | Stage::Registered { .. } if self.confirming.is_some() => tail(false),
            Stage::Verified { .. } | Stage::Registered { .. } => Vec::new(),
        }
    }

    /// Nothing remains to be done (registration counts only when wanted).
    pub fn in_sync(&self, register: bool) -> bool {
        self.remaining_steps(register).is_empty()
    }
}

fn recent(at: Option<Timestamp>, now: Timestamp) -> bool {
    at.is_some_and(|at| now.duration_since(at) < READ_LAG_TRUST)
}

/// Classifies a number from its node in the destination (`None` when the destination does not
/// list it, or lists it only as `MIGRATED`) and the journal's record of it.
pub fn classify(node: Option<&NumberView>, record: Option<&NumberRecord>, now: Timestamp) -> Position {
    let node = node.filter(|n| !n.is_migrated_away());
    // Evidence about a node counts for that node only: a record of another attempt (another
    // id) says nothing about this one.
    let all_records = record;
    let evidence = |id: &str| record.filter(|r| r.phone_number_id.as_deref() == Some(id));
    let (id, node) = match node {
        Some(node) => (node.id.clone(), Some(node)),
        None => match record.and_then(|r| r.phone_number_id.clone()) {
            // Graph answered the migration POST with this id moments ago; the listing lags.
            Some(id) if recent(record.and_then(|r| r.initiated_at), now) => (id, None),
            _ => return Position { stage: Stage::NotStarted, confirming: None, doubt: None },
        },
    };
    let evidence_or_unbound =
        |id: &str| all_records.filter(|r| r.phone_number_id.as_deref().is_none_or(|recorded| recorded == id));
    let record = evidence(&id);
    let mut confirming = (node.is_none()).then_some(Step::InitiateMigration);

    let said_verified = node.is_some_and(NumberView::is_verified);
    let verified_at = record.and_then(|r| r.verified_at);
    let asked_again =
        record.and_then(|r| r.ownership_required_at).filter(|at| verified_at.is_none_or(|v| v <= *at));
    let (verified, doubt) = if asked_again.is_some() {
        (false, said_verified.then_some(OwnershipDoubt::MetaAskedForVerification))
    } else if verified_at.is_some() {
        if said_verified {
            (true, None)
        } else if recent(verified_at, now) {
            confirming = confirming.or(Some(Step::VerifyCode));
            (true, None)
        } else {
            // Long after a verification, Meta shows the number unverified: ownership must be
            // proven again.
            (false, None)
        }
    } else if record.is_some_and(|r| r.initiated_at.is_some() && r.verify_attempts == 0) {
        // A verify call whose answer was lost (a crash, a dropped connection) may have earned
        // the status; without one, it can only have been carried over.
        (false, said_verified.then_some(OwnershipDoubt::StartedHereWithoutVerification))
    } else {
        (said_verified, None)
    };

    if !verified {
        // A code request recorded before the node's id was known is this node's too.
        let code = evidence_or_unbound(&id).and_then(NumberRecord::unspent_code_request).cloned();
        return Position { stage: Stage::Started { id, code }, confirming, doubt };
    }
    let registered_now = node.is_some_and(is_registered);
    let registered_at =
        record.and_then(|r| r.registered_at).filter(|at| verified_at.is_none_or(|v| v <= *at));
    let stage = if registered_now {
        Stage::Registered { id }
    } else if recent(registered_at, now) {
        confirming = confirming.or(Some(Step::Register));
        Stage::Registered { id }
    } else {
        Stage::Verified { id }
    };
    Position { stage, confirming, doubt }
}

/// What apply does next for one number.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Next {
    Initiate,
    RequestCode,
    /// A code was requested within the cooldown (or during this run) and none is at hand.
    AwaitCode {
        requested_at: Timestamp,
    },
    Verify,
    Register,
    /// The register budget of the 72-hour window is spent: stop without calling.
    RegisterBudgetSpent {
        attempts: usize,
    },
    /// Meta was still provisioning the display name at the last register call (2388001), an
    /// earlier run made that call, and the spacing after it has not passed.
    RegisterLater {
        after: Timestamp,
        attempts: usize,
    },
    /// Read the number back: to confirm a write the last read did not show, and to report.
    VerifyTemplates,
    Done,
}

/// What apply knows about this run that is not live state or journal.
#[derive(Debug, Clone, Copy)]
pub struct RunContext<'a> {
    pub record: &'a NumberRecord,
    pub register: bool,
    pub code_at_hand: bool,
    /// `--resend-code`, and no code was requested yet during this run.
    pub resend: bool,
    /// A code was already requested during this run: never twice in one run unless resending.
    pub requested_this_run: bool,
    /// Register was already called during this run (its own retries are spaced by the engine).
    pub registered_this_run: bool,
    pub now: Timestamp,
}

/// How long a new run waits after a register call that Meta answered with 2388001 (display name
/// still being provisioned): 15 minutes once 4 calls were made in the 72-hour window (one run's
/// worth), doubling with each further call, at most 12 hours. Reruns — by hand or by a pipeline
/// — thus cannot spend Meta's 10 register calls while Meta is still busy.
pub fn provisioning_spacing(attempts: usize) -> SignedDuration {
    let doublings = attempts.saturating_sub(4).min(6) as u32;
    let minutes = (15i64 << doublings).min(12 * 60);
    SignedDuration::from_mins(minutes)
}

/// When the last register call was refused because Meta was still provisioning the display name
/// (2388001): the earliest time a later run calls register again.
pub fn register_not_before(record: &NumberRecord, now: Timestamp) -> Option<Timestamp> {
    let provisioning = record.last_error.as_ref().is_some_and(|e| {
        e.step == Step::Register && (e.subcode == Some(2_388_001) || e.code == Some(2_388_001))
    });
    let last_call = record.register_attempts.iter().max()?;
    provisioning.then(|| *last_call + provisioning_spacing(record.register_attempts_in_window(now)))
}

/// The next step for a number at `position`.
pub fn next(position: &Position, run: RunContext<'_>) -> Next {
    match &position.stage {
        Stage::NotStarted => Next::Initiate,
        Stage::Started { code, .. } => {
            if run.code_at_hand {
                return Next::Verify;
            }
            let cooling = run.record.code_cooldown_active(run.now);
            match code {
                Some(request) if run.requested_this_run || (cooling && !run.resend) => {
                    Next::AwaitCode { requested_at: request.at }
                }
                _ => Next::RequestCode,
            }
        }
        Stage::Verified { .. } if run.register => {
            let attempts = run.record.register_attempts_in_window(run.now);
            if attempts >= REGISTER_LIMIT {
                return Next::RegisterBudgetSpent { attempts };
            }
            if let Some(after) = register_not_before(run.record, run.now)
                && !run.registered_this_run
                && run.now < after
            {
                return Next::RegisterLater { after, attempts };
            }
            Next::Register
        }
        Stage::Verified { .. } | Stage::Registered { .. } => {
            if position.confirming.is_some() || run.record.templates_checked_at.is_none() {
                Next::VerifyTemplates
            } else {
                Next::Done
            }
        }
    }
}

#[cfg(test)]
mod tests;
