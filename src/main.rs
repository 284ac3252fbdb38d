//! The `wamig` binary: parses the command line, runs the command, renders errors, exits.

#![forbid(unsafe_code)]

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = match wamig::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // Exit 2 means "the plan has changes" to pipelines, so a mistyped flag must not use
        // clap's usual 2: it is bad input, exit 1. Help and version still exit 0.
        Err(error) => {
            let _ = error.print();
            return ExitCode::from(if error.use_stderr() { wamig::ExitStatus::Error.code() } else { 0 });
        }
    };
    let ui = cli.global.ui();
    match wamig::cli::run(cli, &ui) {
        Ok(status) => ExitCode::from(status.code()),
        Err(error) => {
            error.report(&ui);
            ExitCode::from(wamig::ExitStatus::Error.code())
        }
    }
}
