//! Owns `wamig demo`: a whole migration, narrated, against the built-in example world served by an
//! in-process sandbox on loopback, in a temporary directory that is removed afterwards. It only
//! stages the story (manifest, the human's part: fixing a blocker, reading the SMS, asking Meta
//! for a higher template limit) and calls the
//! very library functions `wamig plan` and `wamig apply` run, so the user sees their real output.
//! It must not re-implement planning or applying, and must not touch the user's files or network.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use crate::apply::engine::Timing;
use crate::apply::run::ApplyOptions;
use crate::commands::{PlanFormat, PlanOptions};
use crate::diag::{Diagnostic, ToDiagnostics};
use crate::graph::{GraphClient, GraphConfig};
use crate::manifest::{LoadedManifest, PhoneNumber};
use crate::sandbox::{NumberPatch, SandboxHandle, SandboxOptions, WabaPatch, World};
use crate::secret::Secret;
use crate::ui::Ui;
use crate::{Error, ExitStatus};

/// The example world's token of Acme's new partner: reads the legacy WABA, manages the new one.
const TOKEN: &str = "sandbox-token-acme-system-user";
const SOURCE_WABA: &str = "102289599326934";
const DESTINATION_WABA: &str = "104996122399160";
/// Migrates cleanly, but its first register call meets a display name still being provisioned.
const READY_NUMBER: &str = "+1 631-555-0101";
/// Blocked at first: two-step verification is on.
const BLOCKED_NUMBER: &str = "+1 631-555-0105";
/// The PIN the numbers get at registration; it lives only in this process, never on screen.
const DEMO_PIN: &str = "246810";

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error("cannot prepare the demo's temporary directory")]
    Workspace(#[source] std::io::Error),
    #[error("cannot listen on a loopback port for the demo's sandbox")]
    Listen(#[source] std::io::Error),
    #[error("the demo expected `{command}` to exit {expected}, but it exited {actual}")]
    Unexpected { command: &'static str, expected: u8, actual: u8 },
    #[error("the sandbox did not send a code to {phone}")]
    NoCode {
        phone: String,
        #[source]
        source: std::io::Error,
    },
}

impl ToDiagnostics for DemoError {
    fn diagnostics(&self) -> Vec<Diagnostic> {
        let hint = match self {
            DemoError::Workspace(_) => "set TMPDIR to a writable directory and run `wamig demo` again",
            DemoError::Listen(_) => "the demo needs a free port on 127.0.0.1; check local firewall rules",
            DemoError::Unexpected { .. } | DemoError::NoCode { .. } => {
                "this is a bug in wamig: please report it with the output above"
            }
        };
        vec![Diagnostic::from_error(self).with_hint(hint)]
    }
}

/// Runs the demo; exit 0 when every stage ended as the story says.
pub fn run(ui: &Ui) -> Result<ExitStatus, Error> {
    let dir = tempfile::Builder::new().prefix("wamig-demo-").tempdir().map_err(DemoError::Workspace)?;
    // One thread, one number at a time: the transcript is the same on every run.
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| {
        Error::usage(format!("cannot start the async runtime: {e}"), "this is a bug in wamig")
    })?;
    let status = runtime.block_on(walk(dir.path(), ui))?;
    Ok(status)
}

struct Stage<'a> {
    ui: &'a Ui,
    number: usize,
}

impl Stage<'_> {
    fn heading(&mut self, title: &str, command: Option<&str>) {
        self.number += 1;
        let s = &self.ui.styles;
        let mut text = format!("\n{}\n", s.bold.paint(format!("── {}. {title}", self.number)));
        if let Some(command) = command {
            text.push_str(&format!("{}\n", s.dim.paint(format!("$ {command}"))));
        }
        text.push('\n');
        self.ui.out(&text);
    }

    fn say(&self, text: &str) {
        self.ui.out(&format!("{text}\n"));
    }
}

fn expect(command: &'static str, expected: ExitStatus, actual: ExitStatus) -> Result<(), Error> {
    if actual == expected {
        return Ok(());
    }
    Err(DemoError::Unexpected { command, expected: expected.code(), actual: actual.code() }.into())
}

/// The manifest once the destination's templates are a managed resource.
fn manifest_with_templates() -> String {
    manifest_text()
        .replace("    name: acme-cloud\n", "    name: acme-cloud\n    templates: { ensure: true }\n")
}

fn manifest_text() -> String {
    format!(
        "version: 1
defaults:
  code_method: SMS
  language: en_US
  register: true
  pin: {{ env: WAMIG_PIN }}
destinations:
  - waba: \"{DESTINATION_WABA}\"
    name: acme-cloud
    numbers:
      - phone: \"{READY_NUMBER}\"
        source_waba: \"{SOURCE_WABA}\"
      - phone: \"{BLOCKED_NUMBER}\"
        source_waba: \"{SOURCE_WABA}\"
"
    )
}

async fn walk(dir: &Path, ui: &Ui) -> Result<ExitStatus, Error> {
    let mut stage = Stage { ui, number: 0 };
    let outbox = dir.join("phones");
    let manifest_path = dir.join("wamig.yaml");
    std::fs::write(&manifest_path, manifest_text()).map_err(DemoError::Workspace)?;

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.map_err(DemoError::Listen)?;
    let sandbox = crate::sandbox::start(listener, SandboxOptions::new(World::example(), &outbox)).await?;

    stage.say(&format!(
        "{}\n\nA rehearsal of a whole migration against wamig's sandbox, a Graph API emulator running\n\
         inside this process on {} with the example world of examples/sandbox/world.yaml:\n\
         Acme Retail moves its numbers from the WABA \"acme-legacy\" ({SOURCE_WABA}) to\n\
         \"acme-cloud\" ({DESTINATION_WABA}). No credentials, nothing leaves this machine.\n\
         Working directory: {}",
        ui.styles.bold.paint("wamig demo"),
        sandbox.base_url(),
        dir.display()
    ));

    stage.heading("The manifest", Some("cat wamig.yaml"));
    stage.say(&ui.styles.dim.paint(manifest_text().trim_end()));
    let manifest = crate::manifest::load(&manifest_path)?;
    let state_path = manifest.beside(".wamig/state.json");
    let codes_dir = manifest.beside(".wamig/codes");
    let client = client(&sandbox, &manifest, ui)?;

    stage.heading(
        "Plan: what would change, and what stands in the way",
        Some("wamig plan --detailed-exitcode"),
    );
    let status = plan(&manifest, &client, &state_path, ui).await?;
    expect("wamig plan --detailed-exitcode", ExitStatus::Blocked, status)?;
    stage.say(&format!(
        "\nwamig plan exited {}: {BLOCKED_NUMBER} is blocked because two-step verification is on.\n\
         In a pipeline, exit 4 stops the merge until someone fixes it.",
        status.code()
    ));

    stage.heading("The human part: two-step verification is turned off in WhatsApp Manager", None);
    stage.say(&format!(
        "Meta offers no API for this, so wamig can only detect it and say how to fix it. The owner of\n\
         {BLOCKED_NUMBER} turns two-step verification off in WhatsApp Manager (in the sandbox: a\n\
         change to the world, as POST /_sandbox/numbers/... does)."
    ));
    let patch = NumberPatch { is_pin_enabled: Some(false), ..NumberPatch::default() };
    sandbox.patch_number(BLOCKED_NUMBER, &patch).map_err(|message| {
        Error::usage(format!("the demo could not change the sandbox: {message}"), "this is a bug in wamig")
    })?;

    let first_apply = "WAMIG_PIN=****** wamig apply --auto-approve --parallelism 1";
    stage.heading("Apply: start both migrations and ask Meta for the codes", Some(first_apply));
    let status = apply(&manifest, &client, &state_path, &codes_dir, ui).await?;
    expect("wamig apply", ExitStatus::Paused, status)?;
    stage.say(&format!(
        "\nwamig apply exited {}: it stopped to wait for verification codes, with its progress saved in\n\
         the journal. Nothing failed: in CI, treat exit 3 as \"paused\" and run apply again once the\n\
         codes are in WAMIG_CODE_<digits> or the codes directory (see examples/ci/).",
        status.code()
    ));

    stage.heading("The codes arrive: the phones' owners read the SMS", None);
    stage.say(
        "A code could also come in WAMIG_CODE_<digits>; wamig never prints codes, and neither does\n\
         this demo.\n",
    );
    for number in &manifest.desired.numbers {
        let delivered = deliver_code(&sandbox, &number.phone, &codes_dir)?;
        stage.say(&format!(
            "The owner of {} reads the SMS and writes the code where wamig looks for it:\n  {}",
            number.phone,
            delivered.display(),
        ));
    }

    let second_apply = "WAMIG_PIN=****** wamig apply --auto-approve --parallelism 1";
    stage.heading("Apply again: verify, register, check the templates", Some(second_apply));
    stage.say(
        "It resumes from the live state and the journal: verifies each code, registers the number on\n\
         the Cloud API (retrying while Meta provisions a display name), then checks the number left\n\
         the source and which templates came along.\n",
    );
    let status = apply(&manifest, &client, &state_path, &codes_dir, ui).await?;
    expect("wamig apply", ExitStatus::Success, status)?;

    stage.heading("Plan again: the live state matches the manifest", Some("wamig plan --detailed-exitcode"));
    let status = plan(&manifest, &client, &state_path, ui).await?;
    expect("wamig plan --detailed-exitcode", ExitStatus::Success, status)?;
    stage.say(&format!(
        "\nwamig plan exited {}: the numbers are where the manifest wants them. But Meta duplicated\n\
         only what fit under acme-cloud's template limit of 4 names: delivery_reminder and\n\
         login_code are still only in acme-legacy, and would be lost with it.",
        status.code()
    ));

    stage.heading(
        "Templates as a managed resource: every template the business needs, in the destination",
        Some("cat wamig.yaml"),
    );
    std::fs::write(&manifest_path, manifest_with_templates()).map_err(DemoError::Workspace)?;
    let manifest = crate::manifest::load(&manifest_path)?;
    stage.say(&ui.styles.dim.paint(manifest_with_templates().trim_end()));
    stage.say(
        "\n`templates: { ensure: true }`: every template of the sources that Meta's template migration\n\
         accepts (APPROVED, quality GREEN or UNKNOWN) must exist in acme-cloud. The human part: Acme\n\
         asks Meta for a higher template limit (in the sandbox: a change to the world, as\n\
         POST /_sandbox/wabas/... does).",
    );
    let patch = WabaPatch { template_limit: Some(250), ..WabaPatch::default() };
    sandbox.patch_waba(DESTINATION_WABA, &patch).map_err(|message| {
        Error::usage(format!("the demo could not change the sandbox: {message}"), "this is a bug in wamig")
    })?;

    stage.heading("Plan: the templates that are missing", Some("wamig plan --detailed-exitcode"));
    let status = plan(&manifest, &client, &state_path, ui).await?;
    expect("wamig plan --detailed-exitcode", ExitStatus::Changes, status)?;
    stage.say(&format!(
        "\nwamig plan exited {}: changes, the two templates to migrate. A reviewer sees the same list in\n\
         the pull request (--format markdown).",
        status.code()
    ));

    let templates_apply = "WAMIG_PIN=****** wamig apply --auto-approve";
    stage.heading("Apply: Meta's template migration copies what is missing", Some(templates_apply));
    let status = apply(&manifest, &client, &state_path, &codes_dir, ui).await?;
    expect("wamig apply", ExitStatus::Success, status)?;

    stage.heading("Plan again: numbers and templates in sync", Some("wamig plan --detailed-exitcode"));
    let status = plan(&manifest, &client, &state_path, ui).await?;
    expect("wamig plan --detailed-exitcode", ExitStatus::Success, status)?;
    stage.say(&format!(
        "\nwamig plan exited {}: nothing left to do, by hand or otherwise. Running apply again makes no\n\
         template call.",
        status.code()
    ));

    sandbox.shutdown().await;

    stage.heading("Try it yourself", None);
    stage.say(
        "Rehearse with your own manifest against a sandbox of your own:\n\
         \n\
         \x20 wamig sandbox --world examples/sandbox/world.yaml --listen 127.0.0.1:4010 --outbox /tmp/wamig-phones &\n\
         \x20 export WAMIG_GRAPH_URL=http://127.0.0.1:4010 WAMIG_ACCESS_TOKEN=sandbox-token-acme-system-user\n\
         \x20 export WAMIG_PIN=123456\n\
         \x20 # save the manifest above as wamig.yaml in an empty directory, then:\n\
         \x20 wamig plan                  # +1 631-555-0105 is blocked, as above\n\
         \x20 curl -X POST http://127.0.0.1:4010/_sandbox/numbers/+16315550105 -d '{\"is_pin_enabled\": false}'\n\
         \x20 wamig apply --auto-approve  # exit 3: codes requested\n\
         \x20 export WAMIG_CODE_16315550101=$(cat /tmp/wamig-phones/16315550101)\n\
         \x20 export WAMIG_CODE_16315550105=$(cat /tmp/wamig-phones/16315550105)\n\
         \x20 wamig apply --auto-approve  # exit 0\n\
         \x20 # add `templates: { ensure: true }` under the destination, then:\n\
         \x20 curl -X POST http://127.0.0.1:4010/_sandbox/wabas/104996122399160 -d '{\"template_limit\": 250}'\n\
         \x20 wamig apply --auto-approve  # migrates the templates that did not fit\n\
         \n\
         Then: `wamig plan --format markdown` (a pull-request comment), `--log-format json` (one event\n\
         per line, see docs/events.md), `wamig completions bash|zsh|fish`, and the CI recipes in\n\
         examples/ci/.",
    );
    Ok(ExitStatus::Success)
}

fn client(sandbox: &SandboxHandle, manifest: &LoadedManifest, ui: &Ui) -> Result<GraphClient, Error> {
    let version =
        manifest.desired.api_version.clone().unwrap_or_else(|| crate::graph::DEFAULT_API_VERSION.to_owned());
    let config = GraphConfig::new(&sandbox.base_url(), &version, Secret::new(TOKEN))?
        .with_ui(ui.clone())
        .with_max_concurrency(4);
    Ok(GraphClient::new(config)?)
}

async fn plan(
    manifest: &LoadedManifest,
    client: &GraphClient,
    state_path: &Path,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    let options = PlanOptions {
        format: PlanFormat::Text,
        out: None,
        detailed_exitcode: true,
        state: state_path.to_owned().into(),
    };
    crate::commands::plan(manifest, client, &options, ui).await
}

async fn apply(
    manifest: &LoadedManifest,
    client: &GraphClient,
    state_path: &Path,
    codes_dir: &Path,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    // A second instead of Meta's minutes, so the demo takes seconds (and waits print as "1s").
    let timing = Timing {
        poll_interval: Duration::from_millis(50),
        register_backoff: vec![Duration::from_secs(1), Duration::from_secs(1)],
        max_wait: Duration::from_secs(2),
        retry_base: Duration::from_secs(1),
        confirm_backoff: vec![Duration::from_millis(200), Duration::from_millis(500), Duration::from_secs(1)],
        ..Timing::default()
    };
    let options = ApplyOptions {
        plan_file: None,
        state: state_path.to_owned().into(),
        codes_dir: codes_dir.to_owned(),
        auto_approve: true,
        wait_for_codes: None,
        // One number at a time keeps the narration in order.
        parallelism: 1,
        max_migrations: None,
        resend_code: false,
        targets: Vec::new(),
        timing,
        // The demo's own environment: the PIN, and no code from the user's shell.
        env: Arc::new(|name: &str| (name == "WAMIG_PIN").then(|| DEMO_PIN.to_owned())),
    };
    crate::apply::run::run(manifest, client.clone(), options, ui).await
}

/// Copies the code the sandbox "sent" to the file wamig reads it from.
fn deliver_code(sandbox: &SandboxHandle, phone: &PhoneNumber, codes_dir: &Path) -> Result<PathBuf, Error> {
    let code = std::fs::read_to_string(sandbox.outbox_path(&phone.e164()))
        .map_err(|source| DemoError::NoCode { phone: phone.e164(), source })?;
    std::fs::create_dir_all(codes_dir).map_err(DemoError::Workspace)?;
    let file = crate::apply::codes::code_file(codes_dir, phone);
    std::fs::write(&file, code).map_err(DemoError::Workspace)?;
    Ok(file)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_built_in_manifests_are_valid() {
        let loaded = crate::manifest::parse(&manifest_text(), Path::new("wamig.yaml")).unwrap();
        assert_eq!(loaded.desired.numbers.len(), 2);
        let loaded = crate::manifest::parse(&manifest_with_templates(), Path::new("wamig.yaml")).unwrap();
        assert!(loaded.desired.destinations[0].templates.ensure);
    }

    #[test]
    fn an_unexpected_outcome_is_an_error_with_a_hint() {
        assert!(expect("wamig apply", ExitStatus::Paused, ExitStatus::Paused).is_ok());
        let error = expect("wamig apply", ExitStatus::Paused, ExitStatus::Blocked).unwrap_err();
        let diagnostics = error.diagnostics();
        assert_eq!(diagnostics[0].message, "the demo expected `wamig apply` to exit 3, but it exited 4");
        assert!(diagnostics[0].hint.as_deref().unwrap().contains("bug"));
    }
}
