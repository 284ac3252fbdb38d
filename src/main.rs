//! The `wamig` binary: parses the command line, runs the command, renders errors, exits.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = wamig::cli::Cli::parse();
    let ui = cli.global.ui();
    match wamig::cli::run(cli, &ui) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            wamig::cli::report_error(&error, &ui);
            ExitCode::from(wamig::ExitStatus::Error.code())
        }
    }
}
