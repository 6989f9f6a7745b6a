//! Shell completion. The shell runs `COMPLETE=<shell> hearth -- <words>`
//! and gets candidates back: flags and subcommands from the command tree,
//! moods and templates from the model, and entry ids, ritual names and
//! prompt ids from a daemon that is already running. Completion never
//! starts a daemon and never waits long for one: with none, it offers
//! nothing.

use std::ffi::OsStr;
use std::os::unix::net::UnixStream;
use std::time::Duration;

use clap::CommandFactory;
use clap_complete::engine::CompletionCandidate;
use hearth_ipc::frame::{read_sync, write_sync};
use hearth_ipc::{Envelope, MAX_RESPONSE, PROTOCOL_VERSION, Paths, Request, Response};
use hearth_model::{Energy, Mood};

use crate::args::Cli;
use crate::error::Result;

/// The variable a shell sets to ask for completions.
const VAR: &str = "COMPLETE";

/// How long a completion may wait for the daemon: a Tab must feel instant.
const LIMIT: Duration = Duration::from_millis(700);

/// Answers a shell's completion request and exits; returns at once when
/// this run is not one.
pub fn answer_shell() {
    clap_complete::CompleteEnv::with_factory(Cli::command)
        .var(VAR)
        .complete();
}

/// `hearth completions <shell>`: the script that hooks hearth's dynamic
/// completion into the shell.
pub fn registration(shell: clap_complete::Shell) -> Result<()> {
    let name = shell.to_string();
    let shells = clap_complete::env::Shells::builtins();
    let Some(env_shell) = shells.completer(&name) else {
        return Err(crate::error::CliError::user(format!(
            "no dynamic completion for {name}"
        )));
    };
    // The shell calls back whatever it ran, as clap's own registration does.
    let me = std::env::args_os()
        .next()
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|| "hearth".into());
    let me = if me.components().count() > 1 {
        std::env::current_dir().map(|d| d.join(&me)).unwrap_or(me)
    } else {
        me
    };
    let mut out = std::io::stdout().lock();
    env_shell.write_registration(VAR, "hearth", "hearth", &me.to_string_lossy(), &mut out)?;
    Ok(())
}

fn candidates<'a>(
    current: &OsStr,
    items: impl IntoIterator<Item = (String, Option<String>)> + 'a,
) -> Vec<CompletionCandidate> {
    let prefix = current.to_string_lossy().to_lowercase();
    items
        .into_iter()
        .filter(|(v, _)| v.to_lowercase().starts_with(&prefix))
        .map(|(v, help)| CompletionCandidate::new(v).help(help.map(Into::into)))
        .collect()
}

pub fn moods(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        current,
        (1..=5)
            .filter_map(Mood::new)
            .map(|m| (m.word().to_string(), Some(format!("{} of 5", m.value())))),
    )
}

pub fn energies(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        current,
        (1..=5)
            .filter_map(Energy::new)
            .map(|e| (e.word().to_string(), Some(format!("{} of 5", e.value())))),
    )
}

pub fn needs(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        current,
        hearth_model::Need::KNOWN
            .iter()
            .map(|n| (n.to_string(), None)),
    )
}

/// Templates, for `ritual add`.
pub fn templates(current: &OsStr) -> Vec<CompletionCandidate> {
    candidates(
        current,
        hearth_model::ritual::TEMPLATES
            .iter()
            .map(|t| (t.key.to_string(), Some(t.name.to_string()))),
    )
}

/// Entry ids, newest first, with their kind and day.
pub fn entry_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(now) = crate::input::now().ok() else {
        return Vec::new();
    };
    let query = hearth_ipc::LogQuery {
        since: None,
        until: None,
        kinds: Vec::new(),
        authors: Vec::new(),
        tags: Vec::new(),
        starred: false,
        contains: None,
        regex: false,
        limit: Some(500),
        include_deleted: false,
        private: false,
        ..Default::default()
    };
    match ask(Request::Log(hearth_ipc::Log { query, at: now })) {
        Some(Response::Entries(list)) => candidates(
            current,
            list.entries.iter().rev().map(|e| {
                (
                    e.id.key(),
                    Some(format!(
                        "{} {}: {}",
                        e.kind(),
                        e.day,
                        hearth_model::entry::first_line(&e.body.summary())
                            .chars()
                            .take(50)
                            .collect::<String>()
                    )),
                )
            }),
        ),
        _ => Vec::new(),
    }
}

/// The couple's rituals, by name.
pub fn rituals(current: &OsStr) -> Vec<CompletionCandidate> {
    let Some(now) = crate::input::now().ok() else {
        return Vec::new();
    };
    match ask(Request::RitualList(hearth_ipc::RitualListQuery { at: now })) {
        Some(Response::Rituals(list)) => candidates(
            current,
            list.rituals
                .iter()
                .map(|r| (r.name.clone(), Some(r.cadence.to_string()))),
        ),
        _ => Vec::new(),
    }
}

/// Every prompt in the deck, the couple's own included.
pub fn prompt_ids(current: &OsStr) -> Vec<CompletionCandidate> {
    match ask(Request::PromptList) {
        Some(Response::Prompts { prompts }) => {
            candidates(current, prompts.into_iter().map(|p| (p.id, Some(p.text))))
        }
        _ => Vec::new(),
    }
}

/// The home the command line being completed points to: its `--home`,
/// else `HEARTH_HOME`, else the platform's directories.
fn paths() -> Option<Paths> {
    let args: Vec<String> = std::env::args_os()
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    let mut home = None;
    for (i, a) in args.iter().enumerate() {
        if let Some(h) = a.strip_prefix("--home=") {
            home = Some(h.to_string());
        } else if a == "--home" {
            home = args.get(i + 1).cloned();
        }
    }
    let home = home
        .or_else(|| std::env::var("HEARTH_HOME").ok())
        .filter(|h| !h.is_empty());
    Paths::resolve(home.as_deref().map(std::path::Path::new)).ok()
}

/// One request to a daemon that is running, within [`LIMIT`]; `None` if
/// there is none or it does not answer in time.
fn ask(request: Request) -> Option<Response> {
    let paths = paths()?;
    let mut stream = UnixStream::connect(paths.socket()).ok()?;
    stream.set_read_timeout(Some(LIMIT)).ok()?;
    stream.set_write_timeout(Some(LIMIT)).ok()?;
    write_sync(
        &mut stream,
        &Envelope {
            protocol: PROTOCOL_VERSION,
            request,
        },
    )
    .ok()?;
    read_sync(&mut stream, MAX_RESPONSE).ok()
}
