//! Owns the command line: the clap definitions (README.md) and, for each command, turning arguments
//! into options for one library call. No business logic lives here.

use std::path::{Path, PathBuf};
use std::time::Duration;

use clap::{Args, Parser, Subcommand};

use crate::commands::PlanFormat;
use crate::graph::GraphClient;
use crate::manifest::LoadedManifest;
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
    /// Graph API base URL (plain http only for loopback hosts).
    #[arg(long = "graph-url", env = "WAMIG_GRAPH_URL", default_value = crate::graph::DEFAULT_GRAPH_URL, global = true)]
    pub graph_url: String,
    /// Graph API version, like v23.0 (default: the manifest's graph.api_version, else a current version).
    #[arg(long = "api-version", env = "WAMIG_API_VERSION", global = true)]
    pub api_version: Option<String>,
    /// File holding the access token (else WAMIG_ACCESS_TOKEN holds the token itself).
    #[arg(long = "token-file", global = true)]
    pub token_file: Option<PathBuf>,
    /// The journal: a path, or s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX
    /// for a shared one [default: .wamig/state.json beside the manifest].
    #[arg(long = "state", env = "WAMIG_STATE", global = true)]
    pub state: Option<PathBuf>,
    /// Where verification codes are read from [default: .wamig/codes beside the manifest].
    #[arg(long = "codes-dir", env = "WAMIG_CODES_DIR", global = true)]
    pub codes_dir: Option<PathBuf>,
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
    /// Observe the live state and print the plan.
    Plan(PlanArgs),
    /// Plan (or load PLAN_FILE), confirm, and execute.
    Apply(ApplyArgs),
    /// Render a saved plan (no network).
    Show(ShowArgs),
    /// Per number: the live state and what the journal remembers.
    Status,
    /// Print the manifest JSON Schema.
    Schema(SchemaArgs),
    /// Serve a local Graph API emulator from a world file (see examples/sandbox/README.md).
    Sandbox(SandboxArgs),
    /// Walk a whole migration against a built-in sandbox: no credentials, no network.
    Demo,
    /// The journal and its lock, local or shared (--state s3://, gs://, az://).
    #[command(subcommand)]
    State(StateCommand),
    /// Write a manifest from live state: the numbers of --waba WABAs where they are, or every
    /// number of each --from WABA moved to its --to WABA.
    Import(ImportArgs),
    /// Print shell completions for bash, zsh, fish, elvish or PowerShell.
    ///
    /// For example `wamig completions bash > ~/.local/share/bash-completion/completions/wamig`,
    /// `wamig completions zsh > ~/.zfunc/_wamig` (with ~/.zfunc in fpath), or
    /// `wamig completions fish > ~/.config/fish/completions/wamig.fish`.
    Completions(CompletionsArgs),
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// Print the journal: what wamig did for each number (it never holds a secret).
    Show(StateFormatArgs),
    /// Who holds the journal's lock, since when, and until when its lease runs.
    Lock(StateFormatArgs),
    /// Force-unlock a shared journal's lock, given its id from `wamig state lock`.
    Unlock {
        /// The lock's id, as `wamig state lock` prints it.
        lock_id: String,
    },
    /// Copy the local journal (--state PATH, else the one beside the manifest) into a shared one.
    Push {
        /// Where to copy it: s3://BUCKET/PREFIX, gs://BUCKET/PREFIX or az://CONTAINER/PREFIX.
        url: String,
        /// Replace a shared journal that already records numbers.
        #[arg(long)]
        force: bool,
    },
}

#[derive(Debug, Args)]
pub struct StateFormatArgs {
    /// How to print it.
    #[arg(long, value_enum, default_value_t = crate::state::command::StateFormat::Text)]
    pub format: crate::state::command::StateFormat,
}

#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("selection").required(true).multiple(true).args(["wabas", "from"]))]
pub struct ImportArgs {
    /// A WABA whose numbers the manifest keeps where they are (repeatable); it plans in sync.
    #[arg(long = "waba", value_name = "ID", conflicts_with_all = ["from", "to"])]
    pub wabas: Vec<String>,
    /// A source WABA: every number it holds moves to the --to given with it (repeatable, in pairs).
    #[arg(long = "from", value_name = "SOURCE", requires = "to")]
    pub from: Vec<String>,
    /// The destination WABA of the --from before it.
    #[arg(long = "to", value_name = "DEST", requires = "from")]
    pub to: Vec<String>,
    /// Write the manifest to FILE instead of stdout; an existing FILE is refused without --force.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Replace FILE if it exists.
    #[arg(long, requires = "output")]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete for.
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
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
pub struct PlanArgs {
    /// How to print the plan.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
    /// Also save the plan to this file, for `wamig apply FILE` or `wamig show FILE`.
    #[arg(long)]
    pub out: Option<PathBuf>,
    /// Exit 2 when the plan has changes (0 when there is nothing to do).
    #[arg(long = "detailed-exitcode")]
    pub detailed_exitcode: bool,
}

#[derive(Debug, Args)]
pub struct ApplyArgs {
    /// A plan saved with `wamig plan --out`; refused when stale or expired.
    pub plan_file: Option<PathBuf>,
    /// Do not ask for confirmation (required when stdin is not a terminal).
    #[arg(long = "auto-approve")]
    pub auto_approve: bool,
    /// Keep polling the codes directory this long (e.g. 15m) before stopping with exit 3.
    #[arg(long = "wait-for-codes", value_parser = parse_duration)]
    pub wait_for_codes: Option<Duration>,
    /// How many numbers to work on at once.
    #[arg(long, default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub parallelism: u16,
    /// Refuse to start more new migrations than this.
    #[arg(long = "max-migrations")]
    pub max_migrations: Option<usize>,
    /// Request a new code even within the 10-minute cooldown of the last request.
    #[arg(long = "resend-code")]
    pub resend_code: bool,
    /// Act on this number only (repeatable).
    #[arg(long = "target", value_name = "PHONE")]
    pub targets: Vec<String>,
    /// The longest wait for a WABA's Graph budget or Meta's throttling (e.g. 15m); beyond it the
    /// WABA's numbers pause with exit 3 and the time to run again.
    #[arg(long = "max-wait", default_value = "15m", value_parser = parse_duration)]
    pub max_wait: Duration,
    /// Waits between the reads that confirm a write Graph accepted (comma-separated).
    #[arg(long = "confirm-backoff", hide = true, value_delimiter = ',', value_parser = parse_duration)]
    pub confirm_backoff: Vec<Duration>,
    /// Waits between register retries while Meta provisions the display name (comma-separated).
    #[arg(long = "register-backoff", hide = true, value_delimiter = ',', value_parser = parse_duration)]
    pub register_backoff: Vec<Duration>,
    /// How often the codes directory is polled while waiting.
    #[arg(long = "poll-interval", hide = true, value_parser = parse_duration)]
    pub poll_interval: Option<Duration>,
    /// The first wait before retrying a step after throttling, maintenance or a lost answer.
    #[arg(long = "retry-base", hide = true, value_parser = parse_duration)]
    pub retry_base: Option<Duration>,
    /// How long a lock on a shared journal lasts without renewal.
    #[arg(long = "lock-lease", hide = true, value_parser = parse_duration)]
    pub lock_lease: Option<Duration>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The saved plan.
    pub plan_file: PathBuf,
    /// How to print it.
    #[arg(long, value_enum, default_value_t = PlanFormat::Text)]
    pub format: PlanFormat,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    crate::duration::parse(text)
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
        Command::Validate => crate::commands::validate(&cli.global.manifest, ui),
        Command::Schema(args) => crate::commands::schema(args.check, ui),
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
        Command::Demo => crate::demo::run(ui),
        Command::State(command) => {
            let location = state_location(&cli.global, &cli.global.manifest)?;
            let runtime = runtime()?;
            use crate::state::command as state;
            match command {
                StateCommand::Show(args) => runtime.block_on(state::show(&location, args.format, ui)),
                StateCommand::Lock(args) => runtime.block_on(state::lock(&location, args.format, ui)),
                StateCommand::Unlock { lock_id } => runtime.block_on(state::unlock(&location, &lock_id, ui)),
                StateCommand::Push { url, force } => {
                    runtime.block_on(state::push(&location, &url, force, ui))
                }
            }
        }
        Command::Import(args) => {
            let selection = crate::import::Selection::from_args(&args.wabas, &args.from, &args.to)?;
            let client = client_for(&cli.global, None, ui, 4)?;
            let options = crate::import::ImportOptions {
                selection,
                output: args.output,
                force: args.force,
                api_version: cli.global.api_version.clone(),
            };
            runtime()?.block_on(crate::import::run(&client, &options, ui))
        }
        Command::Completions(args) => {
            let mut command = <Cli as clap::CommandFactory>::command();
            let mut script = Vec::new();
            clap_complete::generate(args.shell, &mut command, "wamig", &mut script);
            ui.out(&String::from_utf8_lossy(&script));
            Ok(ExitStatus::Success)
        }
        Command::Show(args) => crate::commands::show(&args.plan_file, args.format, ui),
        Command::Plan(args) => {
            let manifest = crate::manifest::load(&cli.global.manifest)?;
            let client = graph_client(&cli.global, &manifest, ui, crate::observe::OBSERVE_CONCURRENCY)?;
            let options = crate::commands::PlanOptions {
                format: args.format,
                out: args.out,
                detailed_exitcode: args.detailed_exitcode,
                state: state_location(&cli.global, &manifest.path)?,
            };
            runtime()?.block_on(crate::commands::plan(&manifest, &client, &options, ui))
        }
        Command::Status => {
            let manifest = crate::manifest::load(&cli.global.manifest)?;
            let client = graph_client(&cli.global, &manifest, ui, crate::observe::OBSERVE_CONCURRENCY)?;
            let state = state_location(&cli.global, &manifest.path)?;
            runtime()?.block_on(crate::commands::status(&manifest, &client, &state, ui))
        }
        Command::Apply(args) => {
            let manifest = crate::manifest::load(&cli.global.manifest)?;
            let client = graph_client(&cli.global, &manifest, ui, usize::from(args.parallelism).max(4))?;
            let mut targets = Vec::new();
            for target in &args.targets {
                let phone = crate::manifest::PhoneNumber::parse(target)
                    .map_err(|e| Error::usage(format!("--target {target}: {e}"), e.hint()))?;
                targets.push(phone);
            }
            let mut timing = crate::apply::engine::Timing { max_wait: args.max_wait, ..Default::default() };
            if !args.confirm_backoff.is_empty() {
                timing.confirm_backoff = args.confirm_backoff.clone();
            }
            if !args.register_backoff.is_empty() {
                timing.register_backoff = args.register_backoff.clone();
            }
            if let Some(interval) = args.poll_interval {
                timing.poll_interval = interval;
            }
            if let Some(base) = args.retry_base {
                timing.retry_base = base;
            }
            let mut state = state_location(&cli.global, &manifest.path)?;
            if let (crate::state::StateLocation::Shared(shared), Some(lease)) = (&mut state, args.lock_lease)
            {
                shared.lease = lease;
            }
            let options = crate::apply::run::ApplyOptions {
                plan_file: args.plan_file,
                state,
                codes_dir: codes_dir(&cli.global, &manifest),
                auto_approve: args.auto_approve,
                wait_for_codes: args.wait_for_codes,
                parallelism: usize::from(args.parallelism),
                max_migrations: args.max_migrations,
                resend_code: args.resend_code,
                targets,
                timing,
                env: std::sync::Arc::new(crate::apply::codes::process_env),
            };
            let runtime = runtime()?;
            let status = runtime.block_on(crate::apply::run::run(&manifest, client, options, ui));
            // A confirmation cut short by Ctrl-C leaves its thread blocked on stdin; do not wait
            // for it.
            runtime.shutdown_background();
            status
        }
    }
}

fn runtime() -> Result<tokio::runtime::Runtime, Error> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| {
        Error::usage(format!("cannot start the async runtime: {e}"), "this is a bug in wamig or the system")
    })
}

/// The journal named by `--state` / `WAMIG_STATE`, else `.wamig/state.json` beside the manifest
/// (which need not exist: `wamig state` commands read no manifest).
pub fn state_location(global: &GlobalOptions, manifest: &Path) -> Result<crate::state::StateLocation, Error> {
    match &global.state {
        Some(value) => Ok(crate::state::StateLocation::parse(value.as_os_str())?),
        None => Ok(crate::state::StateLocation::File(crate::manifest::beside(manifest, ".wamig/state.json"))),
    }
}

pub fn codes_dir(global: &GlobalOptions, manifest: &LoadedManifest) -> PathBuf {
    global.codes_dir.clone().unwrap_or_else(|| manifest.beside(".wamig/codes"))
}

/// The Graph client for a command: token from `--token-file` or WAMIG_ACCESS_TOKEN, version
/// from the flag, else the manifest, else wamig's default.
fn graph_client(
    global: &GlobalOptions,
    manifest: &LoadedManifest,
    ui: &Ui,
    concurrency: usize,
) -> Result<GraphClient, Error> {
    client_for(global, manifest.desired.api_version.as_deref(), ui, concurrency)
}

/// The same, for a command without a manifest (`import`) or with its version already read.
fn client_for(
    global: &GlobalOptions,
    manifest_version: Option<&str>,
    ui: &Ui,
    concurrency: usize,
) -> Result<GraphClient, Error> {
    let token = crate::graph::load_token(global.token_file.as_deref())?;
    let version = global
        .api_version
        .clone()
        .or_else(|| manifest_version.map(str::to_owned))
        .unwrap_or_else(|| crate::graph::DEFAULT_API_VERSION.to_owned());
    let config = crate::graph::GraphConfig::new(&global.graph_url, &version, token)?
        .with_app_secret(crate::graph::app_secret_from_env())
        .with_ui(ui.clone())
        .with_max_concurrency(concurrency);
    Ok(GraphClient::new(config)?)
}
