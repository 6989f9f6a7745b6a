//! The `hearth` command line: parses arguments, talks to the daemon, prints.

mod args;
mod client;
mod commands;
mod complete;
mod config;
mod demo;
mod error;
mod input;
mod manual;
mod pager;
mod progress;
mod render;
mod usage;

use std::process::ExitCode;

use clap::Parser;

pub use args::Cli;
pub use error::CliError;

/// Entry point shared by the binary and tests.
pub fn main() -> ExitCode {
    // A shell asking for completions gets them and nothing else.
    complete::answer_shell();
    let cli = match Cli::try_parse() {
        Ok(c) => c,
        Err(e) if !e.use_stderr() => {
            // Help and version go to stdout with success.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            // Usage errors: the whole problem on one line, the failing
            // command's usage, and a hint naming that command's help.
            let args: Vec<String> = std::env::args_os()
                .skip(1)
                .map(|a| a.to_string_lossy().into_owned())
                .collect();
            for line in usage::report(&e, &args).lines() {
                eprintln!("{line}");
            }
            return ExitCode::from(error::exit_code(error::Kind::Usage));
        }
    };
    let settings = match hearth_ipc::Paths::resolve(cli.home.as_deref())
        .map_err(|e| CliError::user(e.to_string()))
        .and_then(|paths| config::Settings::load(&cli, &paths.config_file()))
    {
        Ok(s) => s,
        Err(e) => return fail(e),
    };
    render::set_color(settings.color.value);
    render::set_width();
    let pager = if cli.pages() {
        // Colour is decided for the terminal, before stdout becomes the
        // pager's pipe; `less -R` shows it.
        if settings.color.value == args::ColorChoice::Auto && render::color_on() {
            owo_colors::set_override(true);
        }
        pager::start(&settings.pager.value)
    } else {
        None
    };
    let result = commands::run(cli, &settings);
    if let Some(p) = pager {
        p.finish();
    }
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => fail(e),
    }
}

/// Reports an error on stderr, with its hint, and gives its exit status.
fn fail(e: CliError) -> ExitCode {
    if e.is_broken_pipe() {
        return ExitCode::SUCCESS;
    }
    eprintln!("hearth: error: {e}");
    if let Some(hint) = e.hint() {
        eprintln!("hint: {hint}");
    }
    ExitCode::from(e.code())
}
