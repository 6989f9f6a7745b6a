//! The `hearth` command line: parses arguments, talks to the daemon, prints.

mod args;
mod client;
mod commands;
mod demo;
mod error;
mod input;
mod render;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use error::CliError;

/// Entry point shared by the binary and tests.
pub fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // Help and version go to stdout with success.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors: clap's first line names the problem; the rest is
            // advice we keep to one hint line.
            let rendered = e.render().to_string();
            let first = rendered
                .lines()
                .find(|l| !l.trim().is_empty())
                .unwrap_or("invalid arguments");
            eprintln!("hearth: error: {}", first.trim_start_matches("error: "));
            eprintln!("hint: see `hearth --help`");
            return ExitCode::from(2);
        }
    };
    render::set_color(cli.color);
    match commands::run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            if e.is_broken_pipe() {
                return ExitCode::SUCCESS;
            }
            eprintln!("hearth: error: {e}");
            if let Some(hint) = e.hint() {
                eprintln!("hint: {hint}");
            }
            ExitCode::from(e.code())
        }
    }
}
