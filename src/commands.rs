//! Owns the library side of the read-only commands (`validate`, `schema`, `plan`, `show`,
//! `status`): each one loads what it needs, calls the pure core, and prints. `apply` lives in
//! `apply::run`, `sandbox` in `sandbox::run`, `demo` in `demo::run`; what `status` prints is
//! `status::render`. The binary and `cli` only turn arguments into these calls.

use std::path::{Path, PathBuf};

use serde_json::json;

use crate::graph::GraphClient;
use crate::manifest::LoadedManifest;
use crate::plan::Plan;
use crate::ui::{Level, Ui};
use crate::{Error, ExitStatus};

/// `--format` of `plan` and `show`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, clap::ValueEnum)]
pub enum PlanFormat {
    #[default]
    Text,
    Markdown,
    Json,
}

pub fn render(plan: &Plan, format: PlanFormat, ui: &Ui) -> String {
    match format {
        PlanFormat::Text => crate::plan::render::text(plan, &ui.styles),
        PlanFormat::Markdown => crate::plan::render::markdown(plan),
        PlanFormat::Json => {
            let mut text = crate::plan::render::json(plan);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            text
        }
    }
}

pub struct PlanOptions {
    pub format: PlanFormat,
    pub out: Option<PathBuf>,
    pub detailed_exitcode: bool,
    pub state: crate::state::StateLocation,
}

/// `wamig plan`: observe, plan, print, optionally save.
pub async fn plan(
    manifest: &LoadedManifest,
    client: &GraphClient,
    options: &PlanOptions,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    if let Some(out) = &options.out {
        // A shared journal is no file a plan could be saved over.
        let local = match &options.state {
            crate::state::StateLocation::File(path) => Some((path, crate::journal::lock::lock_path(path))),
            crate::state::StateLocation::Shared(_) => None,
        };
        let mut protected: Vec<(&'static str, &Path)> = vec![("the manifest", &manifest.path)];
        if let Some((journal, lock)) = &local {
            protected.extend([("the journal", journal.as_path()), ("the journal's lock", lock.as_path())]);
        }
        crate::planfile::check_out_path(out, &protected)?;
    }
    let journal = crate::state::load(&options.state).await?;
    let snapshot = crate::observe::observe(client, &manifest.desired, ui).await?;
    let plan =
        crate::plan::plan(&manifest.desired, &manifest.digest, &snapshot, &journal, jiff::Timestamp::now());
    ui.event(
        Level::Debug,
        "observed",
        &format!("observed {} WABAs in {} requests", snapshot.wabas.len(), client.request_count()),
        json!({"wabas": snapshot.wabas.len(), "requests": client.request_count()}),
    );
    ui.machine_event(
        Level::Info,
        "plan_ready",
        "plan ready",
        json!({"summary": plan.summary, "digest": plan.digest}),
    );
    ui.out(&render(&plan, options.format, ui));
    if let Some(path) = &options.out {
        crate::planfile::save(&plan, path)?;
        ui.info(
            "plan_saved",
            &format!("plan saved to {}; apply it with `wamig apply {}`", path.display(), path.display()),
        );
    }
    Ok(crate::plan::exit_status(&plan, options.detailed_exitcode))
}

/// `wamig show FILE`: renders a saved plan, no network.
pub fn show(path: &Path, format: PlanFormat, ui: &Ui) -> Result<ExitStatus, Error> {
    let plan = crate::planfile::load(path)?;
    ui.out(&render(&plan, format, ui));
    Ok(ExitStatus::Success)
}

/// `wamig validate`: load and check the manifest, offline; every problem is an error.
pub fn validate(path: &Path, ui: &Ui) -> Result<ExitStatus, Error> {
    let loaded = crate::manifest::load(path)?;
    let destinations = loaded.desired.destinations.len();
    let numbers = loaded.desired.numbers.len();
    ui.out(&format!(
        "{} is valid: {destinations} destination{}, {numbers} number{}\n",
        path.display(),
        if destinations == 1 { "" } else { "s" },
        if numbers == 1 { "" } else { "s" },
    ));
    Ok(ExitStatus::Success)
}

/// Where `wamig schema --check` expects the committed schema, relative to the working directory.
pub const SCHEMA_PATH: &str = "schemas/manifest.schema.json";

/// `wamig schema`: print the manifest's JSON Schema, or with `check` compare it with the
/// committed copy and fail when that is out of date.
pub fn schema(check: bool, ui: &Ui) -> Result<ExitStatus, Error> {
    let generated = crate::manifest::model::json_schema_text();
    if !check {
        ui.out(&generated);
        return Ok(ExitStatus::Success);
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).map_err(|error| {
        Error::usage(
            format!("cannot read {SCHEMA_PATH}: {error}"),
            "run `wamig schema --check` from the repository root, or create the file with `wamig schema > schemas/manifest.schema.json`",
        )
    })?;
    if committed == generated {
        ui.out(&format!("{SCHEMA_PATH} is up to date\n"));
        Ok(ExitStatus::Success)
    } else {
        Err(Error::usage(
            format!("{SCHEMA_PATH} is out of date with the manifest types"),
            "regenerate it with `wamig schema > schemas/manifest.schema.json` and commit the result",
        ))
    }
}

/// `wamig status`: per number, the live state and what the journal remembers.
pub async fn status(
    manifest: &LoadedManifest,
    client: &GraphClient,
    state: &crate::state::StateLocation,
    ui: &Ui,
) -> Result<ExitStatus, Error> {
    let journal = crate::state::load(state).await?;
    let snapshot = crate::observe::observe(client, &manifest.desired, ui).await?;
    let text =
        crate::status::render(&manifest.desired, &snapshot, &journal, jiff::Timestamp::now(), &ui.styles);
    ui.out(&text);
    Ok(ExitStatus::Success)
}
