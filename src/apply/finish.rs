//! Owns the end of a number's run: the one read that confirms what Graph answered (waiting,
//! with bounded backoff, while its reads lag its writes) and the post-migration report of what
//! the reads show: the number in the destination, its listing in the source, and which
//! templates came along. A write the reads never show ends the run as confirming, never as a
//! repeated write.

use jiff::Timestamp;
use serde_json::json;

use super::calls::MigrationCalls;
use super::engine::{Run, StepResult};
use super::report::{NumberOutcome, TemplateReport, VerificationReport};
use crate::migration::{self, Step};
use crate::observe::{self, NumberView};
use crate::ui::Level;

impl<G: MigrationCalls> Run<'_, G> {
    pub(super) async fn finish(&mut self) -> StepResult {
        let shared = self.shared;
        let record = shared.current(self.number);
        let settled = |node: Option<&NumberView>| {
            migration::classify(node, Some(&record), Timestamp::now()).confirming.is_none()
        };
        let (read, confirmed) = match self.read_until(Step::VerifyTemplates, settled).await {
            Ok(result) => result,
            Err(error) if error.is_retryable_read() => {
                return self.retry_or_fail(Step::VerifyTemplates, &error).await;
            }
            Err(error) => return Ok(Some(self.graph_failed(Step::VerifyTemplates, &error)?)),
        };
        self.view = read;
        let position = migration::classify(self.view.as_ref(), Some(&record), Timestamp::now());
        if !confirmed && let Some(step) = position.confirming {
            if shared.cancel.is_cancelled() {
                return Ok(Some(self.interrupted()));
            }
            shared.event(
                Level::Warn,
                "confirming",
                self.number,
                &format!(
                    "Graph accepted {} but its reads do not show it yet; the next run confirms it without repeating it",
                    step.as_str()
                ),
                json!({"step": step.as_str()}),
            );
            return Ok(Some(NumberOutcome::Confirming { step, done: self.done.clone() }));
        }
        if !position.in_sync(self.number.register) {
            // The read shows more to do (Meta asks for ownership again, say): go on.
            return Ok(None);
        }
        let Some(node) = self.view.clone() else { return Ok(None) };
        let report = self.verification_report(&node).await;
        shared.record(self.number, |r| r.templates_checked_at = Some(Timestamp::now()))?;
        self.done.push(Step::VerifyTemplates);
        Ok(Some(NumberOutcome::Done { report, done: self.done.clone(), skipped: self.skipped() }))
    }

    /// Post-migration verification: registered and connected in the destination, how the
    /// source lists it where readable, and which templates came along.
    async fn verification_report(&self, node: &NumberView) -> VerificationReport {
        let shared = self.shared;
        let mut report = VerificationReport {
            verified: node.is_verified(),
            registered: migration::is_registered(node),
            status: node.status.clone(),
            ..VerificationReport::default()
        };
        let source = self.plan.source_waba.clone();
        if let Some(source) = &source
            && let Ok(listed) = shared.calls.phone_numbers(source).await
        {
            let still = listed.iter().map(observe::number_view).find(|v| v.digits == self.digits());
            report.gone_from_source = Some(still.as_ref().is_none_or(NumberView::is_migrated_away));
            report.source_status = still.and_then(|v| v.status);
        }
        let source_templates =
            source.as_ref().and_then(|s| shared.snapshot.waba(s)).and_then(|w| w.templates.clone());
        // Without the source's templates there is nothing to compare the destination's with.
        let destination_templates = match &source_templates {
            Some(_) => shared
                .calls
                .message_templates(&self.number.destination_waba)
                .await
                .ok()
                .map(|list| list.iter().map(observe::template_view).collect::<Vec<_>>()),
            None => None,
        };
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
