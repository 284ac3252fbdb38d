//! Owns what `wamig status` prints: per number of the manifest, the live state next to what the
//! journal remembers. A pure rendering of data already read (desired state, snapshot, journal,
//! `now`); where a number stands is `crate::migration`'s judgement, never decided here. The
//! command around it (loading, observing, printing) is `commands::status`. Never a secret: the
//! journal holds none.

use std::fmt::Write as _;

use jiff::Timestamp;

use crate::journal::{Journal, NumberRecord};
use crate::manifest::DesiredState;
use crate::migration::{OwnershipDoubt, Position, Stage};
use crate::observe::Snapshot;
use crate::ui::Styles;

/// How `status` shows a time: to the minute, which is what a person comparing runs needs.
const TIME: &str = "%Y-%m-%d %H:%M UTC";

/// One block per number, in manifest order, each ending with a blank line.
pub fn render(
    desired: &DesiredState,
    snapshot: &Snapshot,
    journal: &Journal,
    now: Timestamp,
    styles: &Styles,
) -> String {
    let mut out = String::new();
    let listings = snapshot.listings();
    for number in &desired.numbers {
        let e164 = number.phone.e164();
        let digits = number.phone.digits();
        let _ = writeln!(out, "{}  → {}", styles.bold.paint(&e164), number.destination_waba);
        let destination = snapshot.waba(&number.destination_waba);
        let live = match destination {
            Some(waba) if !waba.is_readable() => "destination not readable by this token".to_owned(),
            Some(waba) => match waba.number(digits) {
                Some(node) => format!(
                    "in the destination (id {}): {}, {}, status {}",
                    node.id,
                    if node.is_verified() { "verified" } else { "not verified" },
                    if crate::migration::is_registered(node) { "registered" } else { "not registered" },
                    crate::text::escape(node.status.as_ref().map_or("unknown", |s| s.as_str()))
                ),
                None => "not in the destination".to_owned(),
            },
            None => "destination not observed".to_owned(),
        };
        let _ = writeln!(out, "  live:     {live}");
        let sources: Vec<String> = listings
            .of(digits)
            .iter()
            .filter(|(waba, _)| waba.id != number.destination_waba)
            .map(|(waba, node)| {
                format!(
                    "{} ({})",
                    waba.id,
                    crate::text::escape(node.status.as_ref().map_or("listed", |s| s.as_str()))
                )
            })
            .collect();
        if !sources.is_empty() {
            let _ = writeln!(out, "  source:   listed by {}", sources.join(", "));
        }
        if destination.is_some_and(|w| w.is_readable()) {
            let node = destination.and_then(|w| w.number(digits)).filter(|n| !n.is_migrated_away());
            let record = journal.get(&e164).filter(|r| r.destination_waba == number.destination_waba);
            let position = crate::migration::classify(node, record, now);
            let _ = writeln!(out, "  stage:    {}", stage_line(&position, number.register));
        }
        match journal.get(&e164) {
            None => {
                let _ = writeln!(out, "  journal:  nothing done by wamig yet");
            }
            Some(record) => journal_lines(&mut out, record, now),
        }
        out.push('\n');
    }
    out
}

/// Where the number stands, as the one state machine judges it from the node and the journal.
fn stage_line(position: &Position, register: bool) -> String {
    let stage = match &position.stage {
        Stage::NotStarted => "not started".to_owned(),
        Stage::Started { code: Some(request), .. } => {
            format!("migration started, code requested at {}", request.at.strftime(TIME))
        }
        Stage::Started { code: None, .. } => "migration started, no code awaited".to_owned(),
        Stage::Verified { .. } if register => "ownership verified, registration remains".to_owned(),
        Stage::Verified { .. } => "ownership verified (not to be registered)".to_owned(),
        Stage::Registered { .. } => "verified and registered".to_owned(),
    };
    let mut line = stage;
    if let Some(step) = position.confirming {
        line.push_str(&format!("; Graph accepted {step}, its reads do not show it yet"));
    }
    match position.doubt {
        Some(OwnershipDoubt::StartedHereWithoutVerification) => {
            line.push_str("; the node says VERIFIED, but no code was verified for it")
        }
        Some(OwnershipDoubt::MetaAskedForVerification) => {
            line.push_str("; Meta asked for ownership to be verified again")
        }
        None => {}
    }
    if !position.in_sync(register) {
        let steps: Vec<&str> = position.remaining_steps(register).iter().map(|s| s.as_str()).collect();
        line.push_str(&format!(" (next: {})", steps.join(", ")));
    }
    line
}

/// What the journal remembers of one number: its last step, code requests, attempts, when
/// register may be called again, and the last error.
pub fn journal_lines(out: &mut String, record: &NumberRecord, now: Timestamp) {
    let last = [
        (record.registered_at, "registered"),
        (record.verified_at, "verified"),
        (record.last_code_request.as_ref().map(|r| r.at), "code requested"),
        (record.initiated_at, "migration started"),
    ]
    .into_iter()
    .filter_map(|(at, what)| at.map(|at| (at, what)))
    .max_by_key(|(at, _)| *at);
    if let Some((at, what)) = last {
        let _ = writeln!(out, "  journal:  last step {what} at {}", at.strftime(TIME));
    }
    if let Some(request) = &record.last_code_request {
        let _ = writeln!(
            out,
            "            code requested {} time(s), last by {} at {}{}",
            record.code_requests,
            request.method,
            request.at.strftime(TIME),
            if record.verified_at.is_none() && record.code_cooldown_active(now) {
                " (no new code before the 10-minute cooldown ends)"
            } else {
                ""
            }
        );
    }
    let _ = writeln!(
        out,
        "            verify attempts {}, register attempts {} in the last 72 h (Meta allows 10)",
        record.verify_attempts,
        record.register_attempts_in_window(now)
    );
    if let Some(after) = crate::migration::register_not_before(record, now)
        && after > now
        && record.registered_at.is_none()
    {
        let _ = writeln!(
            out,
            "            Meta is still provisioning the display name: apply calls register again after {}",
            after.strftime(TIME)
        );
    }
    if let Some(error) = &record.last_error {
        let code = match (error.code, error.subcode) {
            (Some(code), Some(sub)) => format!(" (code {code}, subcode {sub})"),
            (Some(code), None) => format!(" (code {code})"),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "            last error at {} during {}: {}{code}{}",
            error.at.strftime(TIME),
            error.step,
            crate::text::escape(&error.message),
            error
                .fbtrace_id
                .as_deref()
                .map(|t| format!(", fbtrace_id {}", crate::text::escape(t)))
                .unwrap_or_default()
        );
    }
}

#[cfg(test)]
mod tests {
    use super::render;
    use crate::journal::RecordedError;
    use crate::migration::Step;
    use crate::plan::fixtures::{
        DEST, SOURCE, World, at, initiated_number, live_number, migrated_number, now, unreadable,
        verified_number,
    };
    use crate::ui::Styles;

    const UNTOUCHED: &str = "+1 631-555-0001";
    const WAITING: &str = "+1 631-555-0002";
    const PROVISIONING: &str = "+1 631-555-0003";
    const ELSEWHERE: &str = "+1 631-555-0004";
    const OTHER_DEST: &str = "107777777777777";

    /// Every line `status` can print, one number per situation: never touched by wamig, waiting
    /// for a code inside the cooldown, verified with register refused while Meta provisions the
    /// display name, and one whose destination the token cannot read.
    #[test]
    fn every_situation_status_can_show() {
        let mut world = World::new();
        world.want(UNTOUCHED, DEST, Some(SOURCE));
        world.list(SOURCE, live_number(UNTOUCHED, "900001"));

        world.want(WAITING, DEST, Some(SOURCE));
        world.list(SOURCE, live_number(WAITING, "900002"));
        world.list(DEST, initiated_number(WAITING, "800002"));
        let record = world.code_requested(WAITING, DEST, "2026-09-11T09:55:00Z");
        record.phone_number_id = Some("800002".into());
        record.initiated_at = Some(at("2026-09-11T09:54:00Z"));

        world.want(PROVISIONING, DEST, Some(SOURCE));
        world.list(SOURCE, migrated_number(PROVISIONING, "900003"));
        world.list(DEST, verified_number(PROVISIONING, "800003"));
        let record = world.code_requested(PROVISIONING, DEST, "2026-09-11T08:00:00Z");
        record.phone_number_id = Some("800003".into());
        record.initiated_at = Some(at("2026-09-11T07:59:00Z"));
        record.verify_attempts = 1;
        record.verified_at = Some(at("2026-09-11T08:05:00Z"));
        record.register_attempts = vec![at("2026-09-11T09:40:00Z"), at("2026-09-11T09:50:00Z")];
        record.last_error = Some(RecordedError {
            at: at("2026-09-11T09:50:00Z"),
            step: Step::Register,
            class: None,
            code: Some(100),
            subcode: Some(2_388_001),
            message: "the display name is still being provisioned".into(),
            fbtrace_id: Some("AbCdEf123".into()),
        });

        world.destination(OTHER_DEST, None);
        world.put(unreadable(OTHER_DEST, "permission denied"));
        world.want(ELSEWHERE, OTHER_DEST, None);

        let text = render(&world.desired, &world.snapshot, &world.journal, now(), &Styles::plain());
        insta::assert_snapshot!(text);
    }

    #[test]
    fn nothing_in_the_manifest_prints_nothing() {
        let world = World::new();
        assert_eq!(render(&world.desired, &world.snapshot, &world.journal, now(), &Styles::plain()), "");
    }
}
