//! Owns what a user should do after a Graph failure: the `hint:` under every Graph error,
//! worded from the error's class, from the configuration problem the client found, and for a
//! refused verification code from where the code came from. Hints live here, beside the commands,
//! because only the application knows the user's next step (`wamig apply --resend-code`, a flag,
//! an environment variable); the Graph client in `graph/` only classifies. This module must not
//! classify errors nor call Graph.

use std::time::Duration;

use crate::apply::codes::CodeSource;
use crate::diag::{Diagnostic, ToDiagnostics};
use crate::graph::{
    ConfigProblem, DEFAULT_API_VERSION, DEFAULT_GRAPH_URL, ENV_ACCESS_TOKEN, ErrorClass, GraphError,
    MigrationBlock, Operation, human_duration,
};

/// What the user should do after `error`: the hint under every Graph error wamig shows.
pub fn graph_hint(error: &GraphError) -> String {
    if let Some(problem) = error.config_problem() {
        return config_hint(problem);
    }
    if let Some(hint) = error.local_hint() {
        return hint.to_owned();
    }
    let node = error.request().and_then(|r| r.node_id.clone()).unwrap_or_else(|| "<id>".to_owned());
    let waba = &node;
    match error.class() {
        ErrorClass::Config | ErrorClass::Input => {
            "check the options and the manifest, then run the command again".to_owned()
        }
        ErrorClass::Network => "check the network connection and that the Graph URL \
             (--graph-url / WAMIG_GRAPH_URL) is reachable, then run the command again"
            .to_owned(),
        ErrorClass::Timeout if error.request().is_some_and(|r| r.op == Operation::MigrateTemplates) => {
            "Meta's template migration ran out of time: wamig asks for smaller pages; run wamig \
             apply again, it migrates only what is still missing"
                .to_owned()
        }
        ErrorClass::Timeout => "Graph did not answer in time; run the command again later".to_owned(),
        ErrorClass::OutcomeUnknown => "the request was sent but no answer came, so it may or \
             may not have taken effect; run `wamig plan` or `wamig apply` again: wamig \
             re-reads the live state before repeating any step"
            .to_owned(),
        ErrorClass::InvalidResponse => "Graph answered with something that is not a Graph \
             API response; if --graph-url points at a proxy, check it, otherwise run the \
             command again later"
            .to_owned(),
        ErrorClass::Auth => "the access token is invalid, expired or revoked: create a new \
             system-user token with whatsapp_business_management (register also needs \
             whatsapp_business_messaging) in Business Settings → Users → System users, then \
             set WAMIG_ACCESS_TOKEN or pass --token-file"
            .to_owned(),
        ErrorClass::AppSecretProof => "the app requires appsecret_proof, or WAMIG_APP_SECRET \
             does not belong to the token's app: set WAMIG_APP_SECRET to the app secret \
             (App Dashboard → App settings → Basic) of the app that issued the token"
            .to_owned(),
        ErrorClass::Permission => format!(
            "the token may not do this on {node}: assign the token's system user to the \
             WABA (Business Settings → Accounts → WhatsApp accounts) and grant \
             whatsapp_business_management (register also needs whatsapp_business_messaging); \
             a partner app needs Advanced Access"
        ),
        ErrorClass::NotFound => format!(
            "{node} does not exist or this token cannot see it: check the id in the manifest \
             and that the token's system user is assigned to the WABA"
        ),
        ErrorClass::Throttled => match error.retry_after() {
            Some(wait) => format!(
                "Meta is rate-limiting this app; retry after {} (about {}); every call \
                 made meanwhile extends the block (for apply, a lower --parallelism helps)",
                human_duration(wait),
                retry_time(wait)
            ),
            None => "Meta is rate-limiting this app: wait a few minutes before running \
                 the command again (every call made meanwhile extends the block; for \
                 apply, lower --parallelism)"
                .to_owned(),
        },
        ErrorClass::Transient => {
            "a temporary problem at Meta: run the command again in a few minutes".to_owned()
        }
        ErrorClass::InvalidParameter => "Meta refused a parameter of this request: check \
             the values in the manifest (phone number, country code, language such as \
             en_US) and the API version"
            .to_owned(),
        ErrorClass::AlreadyInDestination => format!(
            "the number is already in destination WABA {waba}: nothing to start; wamig \
             apply finds its id in GET /{waba}/phone_numbers and continues from there"
        ),
        ErrorClass::MigrationAlreadyStarted => format!(
            "the migration of this number was already started: wamig apply finds its id in \
             GET /{waba}/phone_numbers and continues with the code steps"
        ),
        ErrorClass::NotBeingMigrated => "this number is not being migrated, so no code can \
             be requested or verified for it: run wamig plan to see where it is now; a \
             number added without migration is registered normally"
            .to_owned(),
        ErrorClass::MigrationBlocked(block) => block_hint(block, waba),
        ErrorClass::Maintenance => "the number is in maintenance mode at Meta: wait a few \
             minutes, then run wamig apply again"
            .to_owned(),
        ErrorClass::AlreadyVerified => "the number is already verified: no code is needed; \
             run wamig apply again to continue with registration"
            .to_owned(),
        ErrorClass::WrongPin => "Meta refused the PIN: the number still has two-step \
             verification with another PIN; use that PIN, or turn two-step verification off \
             in WhatsApp Manager (Phone numbers → Two-step verification → Turn off), then \
             run wamig apply again"
            .to_owned(),
        ErrorClass::VerifyBeforeRegister => "Meta does not count the number as verified, \
             so it cannot be registered yet: wamig apply goes back to the code step (it asks \
             for a new code when the last one was already used); give it that code and it \
             registers the number after verifying it"
            .to_owned(),
        ErrorClass::RegisterLimit => "register was called 10 times within 72 hours for \
             this number and Meta now blocks it for 72 hours: wait, then run wamig apply \
             again"
            .to_owned(),
        ErrorClass::DisplayNameProvisioning => "Meta is still provisioning the display name \
             (name_status not final): wait a few minutes and run wamig apply again; no new \
             code is needed, and waiting saves register attempts (10 per 72 hours)"
            .to_owned(),
        ErrorClass::WrongCode => "the verification code was refused: use the 6-digit code \
             from the latest SMS or voice call; if it is older than about 10 minutes, \
             request a new one with `wamig apply --resend-code`"
            .to_owned(),
        ErrorClass::CodeExpired => "the verification code expired: request a new one with \
             `wamig apply --resend-code` and use it promptly"
            .to_owned(),
        ErrorClass::CannotAddNumber => "Meta would not add the number to the destination \
             (200000): run wamig plan and fix what its checks show (the number must still be in \
             its source WABA with its display name approved and two-step verification off; the \
             destination must be approved, verified and have a payment method); if every check \
             passes, contact Meta support with the fbtrace_id"
            .to_owned(),
        ErrorClass::RecentlyDeleted => "the number was deleted recently: wait about 5 minutes, \
             then run wamig apply again"
            .to_owned(),
        ErrorClass::AccountLocked => "Meta locked the account for a data mismatch (for example \
             a wrong two-step PIN): check the PIN the manifest points to, and see the details in \
             WhatsApp Manager before trying again"
            .to_owned(),
        ErrorClass::WabaRestricted => "Meta restricted this WABA for a policy reason: see its \
             Account quality page in WhatsApp Manager; nothing can be migrated until the \
             restriction is lifted"
            .to_owned(),
        ErrorClass::TemplateLimit => format!(
            "WABA {waba} holds as many message templates as Meta allows it: delete templates it \
             no longer needs in WhatsApp Manager or ask Meta for a higher limit, then run wamig \
             apply again"
        ),
        ErrorClass::TemplateExists => "a template with this name and language is already \
             there: nothing to add; run wamig plan to see it"
            .to_owned(),
        ErrorClass::TooManyAttempts => "too many attempts for this number: wait (Meta's \
             details say how long, usually hours) before requesting or entering another \
             code or PIN"
            .to_owned(),
        ErrorClass::Other => "see Meta's error-code reference for this code; if it \
             persists, contact Meta support with the fbtrace_id"
            .to_owned(),
    }
}

/// How to fix a configuration problem the Graph client found before any request: which flag,
/// environment variable or manifest key sets the value.
fn config_hint(problem: ConfigProblem) -> String {
    match problem {
        ConfigProblem::ApiVersion => format!(
            "write it like {DEFAULT_API_VERSION} (--api-version, WAMIG_API_VERSION or \
             graph.api_version in the manifest)"
        ),
        ConfigProblem::GraphUrl => {
            format!("use {DEFAULT_GRAPH_URL}, or http://127.0.0.1:PORT for a local sandbox")
        }
        ConfigProblem::PlainHttp => "use https://, or plain http:// only to a loopback address \
             (127.0.0.1, ::1, localhost) such as a local `wamig sandbox`"
            .to_owned(),
        ConfigProblem::GraphUrlPath => format!(
            "use {DEFAULT_GRAPH_URL} (or http://127.0.0.1:PORT for a local sandbox); choose the API \
             version with --api-version or WAMIG_API_VERSION"
        ),
        ConfigProblem::LoopbackNameElsewhere => "the access token would cross the network in clear \
             text: make the name resolve to 127.0.0.1 or ::1 only (check /etc/hosts), or use \
             http://127.0.0.1:PORT"
            .to_owned(),
        ConfigProblem::UrlCredentials => {
            "remove `user:password@`; the token is read from WAMIG_ACCESS_TOKEN or --token-file".to_owned()
        }
        ConfigProblem::TokenEmpty => {
            "set WAMIG_ACCESS_TOKEN to the token, or pass --token-file PATH".to_owned()
        }
        ConfigProblem::TokenNotOneWord => "the token is one word (it starts with EAA for \
             system-user tokens); check that the file or variable holds only the token"
            .to_owned(),
        ConfigProblem::TokenFileUnreadable => {
            "check the path given to --token-file; the file holds only the access token".to_owned()
        }
        ConfigProblem::TokenFileEmpty => {
            "write the access token into the file (a final newline is fine)".to_owned()
        }
        ConfigProblem::TokenEnvEmpty => {
            format!("set {ENV_ACCESS_TOKEN} to the access token, or pass --token-file PATH")
        }
        ConfigProblem::NoToken => format!(
            "set {ENV_ACCESS_TOKEN} to a system-user token (in CI, from a secret), or put the \
             token in a file only you can read and pass --token-file PATH"
        ),
    }
}

/// The hint after verify_code refused a code (wrong, expired, too many attempts): the class's
/// hint, what became of the refused code, and how to get a new one.
pub fn refused_code_hint(error: &GraphError, source: &CodeSource, removed: bool) -> String {
    let mut hint = graph_hint(error);
    match (source, removed) {
        (CodeSource::File(path), true) => hint.push_str(&format!(
            "; the refused code was removed from {}, write the right one there",
            path.display()
        )),
        (CodeSource::Env(name), _) => hint.push_str(&format!("; unset or correct {name}")),
        _ => {}
    }
    // The wrong-code and expired-code hints already say how to get a new code.
    if !matches!(error.class(), ErrorClass::WrongCode | ErrorClass::CodeExpired) {
        hint.push_str("; to get a new code run wamig apply --resend-code");
    }
    hint
}

/// The hint when register keeps failing because Meta is still provisioning the display name.
pub fn provisioning_hint(attempts: usize) -> String {
    format!(
        "Meta is still provisioning the display name: run wamig apply again later ({attempts} of 10 register attempts used in the last 72 hours)"
    )
}

fn block_hint(block: MigrationBlock, waba: &str) -> String {
    match block {
        MigrationBlock::WebhooksMissing => format!(
            "subscribe an app to webhooks on destination WABA {waba}: POST /{waba}/subscribed_apps \
             (or App Dashboard → WhatsApp → Configuration), then run wamig apply again"
        ),
        MigrationBlock::NoPaymentMethod => format!(
            "add a payment method to destination WABA {waba} (WhatsApp Manager → Settings → \
             Payment methods, or share a credit line with it), then run wamig apply again"
        ),
        MigrationBlock::DisplayNameNotApproved => "the number's display name must be APPROVED \
             with no pending name change: wait for the review (WhatsApp Manager → Phone numbers), \
             then run wamig apply again"
            .to_owned(),
        MigrationBlock::SourceWabaNotApproved => "the source WABA (and its \"messaging on behalf \
             of\" relationship) must be business-verified and approved: ask its owner to finish \
             business verification and the WABA review, then run wamig apply again"
            .to_owned(),
        MigrationBlock::DifferentBusiness => "the source and destination WABAs must belong to \
             the same business (Business Manager): use a destination WABA of the number's \
             business, or migrate through Embedded Signup"
            .to_owned(),
        MigrationBlock::DestinationNotApproved => format!(
            "destination WABA {waba} must pass business verification and the WABA review \
             (account_review_status APPROVED) before numbers can move into it; run wamig apply \
             again once it has"
        ),
        MigrationBlock::MessagingForPending => format!(
            "the client must accept the \"Messaging for\" request of destination WABA {waba} \
             (Business Settings → Requests), then run wamig apply again"
        ),
        MigrationBlock::EligibleToAddDirectly => "Meta says this number needs no migration: \
             add and register it directly in the destination WABA, and remove it from the \
             manifest"
            .to_owned(),
        MigrationBlock::TwoStepVerificationEnabled => "turn off two-step verification for this \
             number in WhatsApp Manager (Phone numbers → Two-step verification → Turn off), then \
             run wamig apply again"
            .to_owned(),
        MigrationBlock::TestNumber => "WhatsApp test numbers cannot be migrated: remove this \
             number from the manifest (a test number cannot move between WABAs)"
            .to_owned(),
        MigrationBlock::BusinessAppNumber => "this number is in use with the WhatsApp Business \
             app, which the migration API cannot move: onboard it with Meta's WhatsApp Business \
             app flow (coexistence) instead, and remove it from the manifest"
            .to_owned(),
        MigrationBlock::Generic => "Meta could not migrate this number: run wamig apply again \
             later; if it keeps failing, contact Meta support with the fbtrace_id"
            .to_owned(),
    }
}

fn retry_time(wait: Duration) -> String {
    let now = jiff::Timestamp::now();
    match jiff::SignedDuration::try_from(wait).ok().and_then(|d| now.checked_add(d).ok()) {
        Some(at) => format!("{} UTC", at.strftime("%H:%M")),
        None => "later".to_owned(),
    }
}

impl ToDiagnostics for GraphError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let mut diagnostic = Diagnostic::new(self.message()).with_hint(graph_hint(self));
        for cause in self.causes() {
            diagnostic = diagnostic.with_cause(cause);
        }
        vec![diagnostic]
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::graph::Operation;
    use crate::graph::test_support::{error_for, migration_2388103};
    use serde_json::json;

    #[test]
    fn hints_name_the_waba_and_say_what_to_do() {
        let e = error_for(
            Operation::InitiateMigration,
            "104996122399160",
            migration_2388103("Webhooks", "Webhooks have not been set up"),
        );
        assert_eq!(
            graph_hint(&e),
            "subscribe an app to webhooks on destination WABA 104996122399160: POST \
             /104996122399160/subscribed_apps (or App Dashboard → WhatsApp → Configuration), \
             then run wamig apply again"
        );
        let e = error_for(
            Operation::InitiateMigration,
            "1",
            migration_2388103("2FA", "Two-step verification must be disabled"),
        );
        assert_eq!(
            graph_hint(&e),
            "turn off two-step verification for this number in WhatsApp Manager (Phone numbers → \
             Two-step verification → Turn off), then run wamig apply again"
        );
        let e = error_for(
            Operation::InitiateMigration,
            "5",
            json!({"error": {"message": "Duplicate", "code": 100, "error_user_title": "Duplicate phone number"}}),
        );
        assert!(graph_hint(&e).contains("GET /5/phone_numbers"), "{}", graph_hint(&e));
        let throttled = error_for(
            Operation::Read,
            "5",
            json!({"error": {"message": "(#80008) too many calls", "code": 80008}}),
        )
        .with_retry_after(Some(Duration::from_secs(300)));
        assert!(
            graph_hint(&throttled).starts_with("Meta is rate-limiting this app; retry after 5 min"),
            "{}",
            graph_hint(&throttled)
        );
        // Every class has a non-empty hint.
        for class in [
            ErrorClass::Auth,
            ErrorClass::RegisterLimit,
            ErrorClass::DisplayNameProvisioning,
            ErrorClass::CodeExpired,
        ] {
            let request = error_for(Operation::Read, "5", json!({"error": {"code": 1}})).request().cloned();
            let e = GraphError::transport(request.expect("a request"), class, "x".into());
            assert!(graph_hint(&e).len() > 30);
        }
    }

    #[test]
    fn diagnostics_carry_codes_trace_and_scrubbed_text() {
        let e = error_for(
            Operation::InitiateMigration,
            "104996122399160",
            json!({"error": {"message": "(#2388103) Error migrating phone number for token canary-token-secret",
            "code": 2388103, "error_subcode": 2388103, "error_user_title": "Webhooks missing",
            "error_user_msg": "Webhooks have not been set up", "error_data": {"details": "see docs"},
            "fbtrace_id": "AbC123"}}),
        );
        let d = e.diagnostics().remove(0);
        assert_eq!(
            d.message,
            "POST /v23.0/104996122399160/phone_numbers: (#2388103) Error migrating phone number \
             for token <redacted> (code 2388103, subcode 2388103, HTTP 400)"
        );
        assert_eq!(
            d.causes,
            vec![
                "Webhooks missing: Webhooks have not been set up".to_owned(),
                "details: see docs".to_owned(),
                "fbtrace_id: AbC123".to_owned()
            ]
        );
        assert!(d.hint.unwrap().contains("subscribed_apps"));
    }

    #[test]
    fn a_refused_code_says_where_it_went_and_how_to_get_another() {
        let refused = |class: ErrorClass| {
            let request =
                error_for(Operation::VerifyCode, "7", json!({"error": {"code": 1}})).request().cloned();
            GraphError::transport(request.expect("a request"), class, "x".into())
        };
        let file = CodeSource::File("codes/16315555555".into());
        let wrong = refused(ErrorClass::WrongCode);
        assert_eq!(
            refused_code_hint(&wrong, &file, true),
            format!(
                "{}; the refused code was removed from codes/16315555555, write the right one there",
                graph_hint(&wrong)
            )
        );
        // A file that could not be removed is not said to be removed.
        assert_eq!(refused_code_hint(&wrong, &file, false), graph_hint(&wrong));
        let expired = refused(ErrorClass::CodeExpired);
        assert_eq!(
            refused_code_hint(&expired, &CodeSource::Env("WAMIG_CODE".into()), false),
            format!("{}; unset or correct WAMIG_CODE", graph_hint(&expired))
        );
        let too_many = refused(ErrorClass::TooManyAttempts);
        assert_eq!(
            refused_code_hint(&too_many, &CodeSource::Prompt, false),
            format!("{}; to get a new code run wamig apply --resend-code", graph_hint(&too_many))
        );
        // Each of these ends up naming the way to a new code exactly once.
        for error in [&wrong, &expired, &too_many] {
            assert_eq!(
                refused_code_hint(error, &CodeSource::Prompt, false).matches("--resend-code").count(),
                1
            );
        }
    }

    #[test]
    fn configuration_problems_name_the_flag_or_variable_that_fixes_them() {
        use crate::graph::{ApiVersion, parse_base_url, token_from_sources};
        let hint = |e: GraphError| graph_hint(&e);
        assert_eq!(
            hint(token_from_sources(None, None).unwrap_err()),
            "set WAMIG_ACCESS_TOKEN to a system-user token (in CI, from a secret), or put the token \
             in a file only you can read and pass --token-file PATH"
        );
        assert_eq!(
            hint(token_from_sources(Some(" ".into()), None).unwrap_err()),
            "set WAMIG_ACCESS_TOKEN to the access token, or pass --token-file PATH"
        );
        assert!(
            hint(token_from_sources(None, Some("/nonexistent/token".as_ref())).unwrap_err())
                .contains("--token-file")
        );
        assert!(hint(token_from_sources(Some("two words".into()), None).unwrap_err()).contains("one word"));
        assert_eq!(
            hint(parse_base_url("http://example.com").unwrap_err()),
            "use https://, or plain http:// only to a loopback address (127.0.0.1, ::1, localhost) \
             such as a local `wamig sandbox`"
        );
        assert_eq!(
            hint(parse_base_url("ftp://example.com").unwrap_err()),
            "use https://graph.facebook.com, or http://127.0.0.1:PORT for a local sandbox"
        );
        assert!(hint(parse_base_url("https://u:p@example.com").unwrap_err()).contains("--token-file"));
        assert!(hint(ApiVersion::parse("23").unwrap_err()).contains("--api-version"));
    }
}
