//! Owns the command line: clap definitions of DESIGN §2 and, for each command, turning arguments
//! into options for one library call. No business logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::diag::ToDiagnostics;
use crate::ui::{ColorChoice, Level, LogFormat, Ui};
use crate::{Error, ExitStatus};

#[derive(Debug, Parser)]
#[command(
    name = "wamig",
    version,
    about = "Migrate WhatsApp business phone numbers between WhatsApp Business Accounts, declaratively",
    propagate_version = true
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOptions,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct GlobalOptions {
    /// The manifest to read.
    #[arg(
        short = 'f',
        long = "manifest",
        env = "WAMIG_MANIFEST",
        default_value = "wamig.yaml",
        global = true
    )]
    pub manifest: PathBuf,
    /// When to colour output.
    #[arg(long, value_enum, default_value_t = ColorChoice::Auto, global = true)]
    pub color: ColorChoice,
    /// Format of log lines on stderr.
    #[arg(long = "log-format", value_enum, global = true)]
    pub log_format: Option<LogFormat>,
    /// More detail (repeat for more).
    #[arg(short, long, action = clap::ArgAction::Count, global = true)]
    pub verbose: u8,
    /// Only warnings and errors.
    #[arg(short, long, global = true, conflicts_with = "verbose")]
    pub quiet: bool,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Parse and check the manifest offline (no network).
    Validate,
    /// Print the manifest JSON Schema.
    Schema(SchemaArgs),
    /// Serve a local Graph API emulator from a world file (see examples/sandbox/README.md).
    Sandbox(SandboxArgs),
}

#[derive(Debug, Args)]
pub struct SandboxArgs {
    /// World file: businesses, WABAs, phone numbers, templates and tokens.
    #[arg(long, value_name = "FILE")]
    pub world: PathBuf,
    /// Address to listen on; port 0 picks a free port (the real one is printed).
    #[arg(long, value_name = "ADDR", default_value = "127.0.0.1:4010")]
    pub listen: String,
    /// Directory where "sent" verification codes are written, one file per number (its digits).
    #[arg(long, value_name = "DIR")]
    pub outbox: PathBuf,
    /// Delay added to every answer, e.g. 100ms.
    #[arg(long, value_name = "DURATION", value_parser = parse_duration_arg)]
    pub latency: Option<std::time::Duration>,
    /// Share of requests answered with a transient 5xx (0 to 1).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub error_rate: Option<f64>,
    /// Share of requests whose connection is dropped without an answer (0 to 1).
    #[arg(long, value_name = "RATE", value_parser = parse_rate)]
    pub drop_rate: Option<f64>,
    /// Throttle the next N requests (code 80008 with usage headers).
    #[arg(long, value_name = "N")]
    pub throttle_burst: Option<u32>,
    /// Seed for injected faults and generated codes and ids.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
    /// Also write the request log (secrets redacted) to FILE as JSON lines.
    #[arg(long, value_name = "FILE")]
    pub request_log: Option<PathBuf>,
}

fn parse_duration_arg(text: &str) -> Result<std::time::Duration, String> {
    crate::sandbox::parse_duration(text)
}

fn parse_rate(text: &str) -> Result<f64, String> {
    let rate: f64 = text.trim().parse().map_err(|_| format!("\"{text}\" is not a number"))?;
    if (0.0..=1.0).contains(&rate) { Ok(rate) } else { Err("must be between 0 and 1".to_owned()) }
}

#[derive(Debug, Args)]
pub struct SchemaArgs {
    /// Compare with schemas/manifest.schema.json instead of printing; fails when it is out of date.
    #[arg(long)]
    pub check: bool,
}

impl GlobalOptions {
    /// Builds the output handle. `WAMIG_LOG` may hold `text` or `json` and a level
    /// (`error`, `warn`, `info`, `debug`, `trace`), comma-separated; flags win over it.
    pub fn ui(&self) -> Ui {
        let mut format = LogFormat::Text;
        let mut level = Level::from_flags(self.verbose, self.quiet);
        if let Ok(spec) = std::env::var("WAMIG_LOG") {
            for word in spec.split(',').map(str::trim) {
                match word {
                    "json" => format = LogFormat::Json,
                    "text" => format = LogFormat::Text,
                    "error" => level = Level::Error,
                    "warn" => level = Level::Warn,
                    "info" => level = Level::Info,
                    "debug" => level = Level::Debug,
                    "trace" => level = Level::Trace,
                    _ => {}
                }
            }
            if self.verbose > 0 || self.quiet {
                level = Level::from_flags(self.verbose, self.quiet);
            }
        }
        Ui::new(self.color, level, self.log_format.unwrap_or(format))
    }
}

/// Runs one parsed command line.
pub fn run(cli: Cli, ui: &Ui) -> Result<ExitStatus, Error> {
    match cli.command {
        Command::Validate => validate(&cli.global, ui),
        Command::Schema(args) => schema(&args, ui),
        Command::Sandbox(args) => crate::sandbox::run(
            crate::sandbox::RunOptions {
                world: args.world,
                listen: args.listen,
                outbox: args.outbox,
                latency: args.latency,
                error_rate: args.error_rate,
                drop_rate: args.drop_rate,
                throttle_burst: args.throttle_burst,
                seed: args.seed,
                request_log: args.request_log,
            },
            ui,
        )
        .map(|()| ExitStatus::Success)
        .map_err(Error::from),
    }
}

/// Renders an error for stderr, with a closing count when a manifest has several problems.
pub fn render_error(error: &Error, ui: &Ui) -> String {
    let mut text = crate::diag::render(&error.diagnostics(), &ui.stderr_styles);
    if let Error::Manifest(manifest_error) = error {
        let count = manifest_error.problem_count();
        if count > 1 {
            text.push_str(&format!("\n{count} problems found; fix them and run `wamig validate` again\n"));
        }
    }
    text
}

fn validate(global: &GlobalOptions, ui: &Ui) -> Result<ExitStatus, Error> {
    let loaded = crate::manifest::load(&global.manifest)?;
    let destinations = loaded.desired.destinations.len();
    let numbers = loaded.desired.numbers.len();
    ui.out(&format!(
        "{} is valid: {destinations} destination{}, {numbers} number{}\n",
        global.manifest.display(),
        if destinations == 1 { "" } else { "s" },
        if numbers == 1 { "" } else { "s" },
    ));
    Ok(ExitStatus::Success)
}

/// Where `wamig schema --check` expects the committed schema, relative to the working directory.
pub const SCHEMA_PATH: &str = "schemas/manifest.schema.json";

fn schema(args: &SchemaArgs, ui: &Ui) -> Result<ExitStatus, Error> {
    let generated = crate::manifest::model::json_schema_text();
    if !args.check {
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
