//! Owns the command line: clap definitions of DESIGN §2 and, for each command, turning arguments
//! into options for one library call. No business logic lives here.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

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
        Command::Validate => {
            let _ = &cli.global.manifest;
            Err(Error::usage(
                "validate is not implemented yet",
                "wait for it",
            ))
        }
        Command::Schema(_) => Err(Error::usage("schema is not implemented yet", "wait for it")),
    }
    .inspect(|_| {
        let _ = ui;
    })
}
