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
        Err(e) => {
            // Help and version go to stdout with success; usage errors exit 2.
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() { 2 } else { 0 });
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
