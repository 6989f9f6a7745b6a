//! Settings, and where each one came from. Flags win over hearth's own
//! environment variables, which win over `config.toml`, which wins over the
//! built-in defaults. The variables every program reads (`VISUAL`, `EDITOR`,
//! `PAGER`, `NO_COLOR`) rank just above the defaults: a value written in
//! hearth's own file is more specific than one meant for every program.
//! docs/CONFIG.md lists every key and variable.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::args::{Cli, ColorChoice, Command, DaemonCommand, NetChoice};
use crate::error::{CliError, Result};

/// Every environment variable hearth reads, and what it does; the man
/// page lists these, and docs/CONFIG.md says the same in more words.
pub const VARIABLES: &[(&str, &str)] = &[
    (
        "HEARTH_HOME",
        "Keep every hearth file under this directory (as --home does).",
    ),
    (
        "HEARTH_PASSPHRASE",
        "The journal's passphrase, for scripts: init locks a new journal with it, a daemon started with it unlocks itself, and unlock and passphrase change read it instead of asking.",
    ),
    (
        "HEARTH_NEW_PASSPHRASE",
        "The new passphrase for passphrase change, instead of asking.",
    ),
    (
        "HEARTH_NET",
        "The daemon's network mode: default, local or test (as --net does; over `net` in config.toml).",
    ),
    (
        "HEARTH_RELAY",
        "A self-hosted iroh relay URL for default mode (as --relay does; over `relay`).",
    ),
    (
        "HEARTH_MDNS",
        "1 or true: in default mode the daemon also finds devices on this network by mDNS (as --mdns does).",
    ),
    (
        "HEARTH_DAY_START",
        "The hour, 0-23, a journal day starts, for a journal set up on this device (as init --day-start does; over `day_start`).",
    ),
    (
        "HEARTH_EDITOR",
        "The editor for entry text (over `editor`, VISUAL and EDITOR).",
    ),
    (
        "VISUAL, EDITOR",
        "The editor, when neither HEARTH_EDITOR nor `editor` names one; else vi.",
    ),
    (
        "HEARTH_COLOR",
        "auto, always or never (as --color does; over `color` and NO_COLOR).",
    ),
    (
        "NO_COLOR",
        "Any value but empty: no colour, unless --color, HEARTH_COLOR or `color` says otherwise.",
    ),
    (
        "HEARTH_PAGER",
        "The pager for long output on a terminal; empty or cat for none (over `pager` and PAGER).",
    ),
    (
        "PAGER",
        "The pager, when neither HEARTH_PAGER nor `pager` names one; else less -FRX.",
    ),
    ("LESS", "Passed to the pager; FRX when unset."),
    (
        "HEARTH_LOG",
        "The daemon's log filter, e.g. debug; info when unset.",
    ),
    (
        "HEARTH_NOW",
        "The time hearth takes as now (RFC 3339), for tests.",
    ),
    ("HEARTH_SEED", "Seeds the randomness of new ids, for tests."),
    (
        "COMPLETE",
        "Set by the shell to ask for completions (see hearth completions).",
    ),
];

/// `config.toml` as written. Every key is optional; an unknown key is an
/// error, so a typo never silently does nothing.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    net: Option<NetChoice>,
    relay: Option<Relay>,
    day_start: Option<DayStart>,
    editor: Option<EditorCommand>,
    color: Option<ColorChoice>,
    pager: Option<String>,
}

/// A relay URL: checked here for its scheme, and fully by the daemon.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct Relay(String);

impl TryFrom<String> for Relay {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        check_relay(&s).map(|()| Relay(s))
    }
}

fn check_relay(s: &str) -> Result<(), String> {
    let rest = s
        .strip_prefix("https://")
        .or_else(|| s.strip_prefix("http://"));
    match rest {
        Some(host) if !host.is_empty() && !host.contains(char::is_whitespace) => Ok(()),
        _ => Err(format!(
            "{s:?} is not a relay URL: use http://HOST or https://HOST"
        )),
    }
}

/// The hour a journal day starts, 0-23.
#[derive(Debug, Clone, Copy, Deserialize)]
#[serde(try_from = "i64")]
struct DayStart(u32);

impl TryFrom<i64> for DayStart {
    type Error = String;
    fn try_from(h: i64) -> Result<Self, String> {
        u32::try_from(h)
            .ok()
            .filter(|h| *h < 24)
            .map(DayStart)
            .ok_or_else(|| format!("{h} is not an hour: use 0-23"))
    }
}

/// A command line for the editor: not empty.
#[derive(Debug, Clone, Deserialize)]
#[serde(try_from = "String")]
struct EditorCommand(String);

impl TryFrom<String> for EditorCommand {
    type Error = String;
    fn try_from(s: String) -> Result<Self, String> {
        if s.trim().is_empty() {
            Err("the editor is empty".into())
        } else {
            Ok(EditorCommand(s))
        }
    }
}

/// Where a value came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Source {
    Flag,
    Env,
    File,
    Default,
}

/// One effective value and its origin: the flag, the variable, the file,
/// or `built in`.
#[derive(Debug, Clone)]
pub struct Setting<T> {
    pub value: T,
    pub source: Source,
    pub origin: String,
}

impl<T> Setting<T> {
    fn new(value: T, source: Source, origin: impl Into<String>) -> Setting<T> {
        Setting {
            value,
            source,
            origin: origin.into(),
        }
    }
}

/// Every setting, resolved.
#[derive(Debug, Clone)]
pub struct Settings {
    pub file: PathBuf,
    pub file_found: bool,
    pub net: Setting<NetChoice>,
    /// A self-hosted relay; `None` for n0's public ones.
    pub relay: Setting<Option<String>>,
    pub day_start: Setting<u32>,
    pub editor: Setting<String>,
    pub color: Setting<ColorChoice>,
    /// The pager command; empty for none.
    pub pager: Setting<String>,
}

/// A variable's value, if set and not empty.
fn var(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.trim().is_empty())
}

/// A bad value in one of hearth's variables: one line, and a usage error
/// as a bad flag would be.
fn bad_var(name: &str, value: &str, why: impl std::fmt::Display) -> CliError {
    CliError::usage(format!("{name}={value:?}: {why}"))
}

/// The 1-based line of byte `offset` in `text`.
fn line_of(text: &str, offset: usize) -> usize {
    text[..offset.min(text.len())].matches('\n').count() + 1
}

/// Reads `config.toml`; a missing file is no file. Any problem is one line
/// naming the file and the line.
fn read_file(path: &Path) -> Result<Option<File>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => {
            return Err(CliError::user(format!(
                "cannot read {}: {e}",
                path.display()
            )));
        }
    };
    toml::from_str::<File>(&text).map(Some).map_err(|e| {
        let at = e
            .span()
            .map(|s| format!(" line {}", line_of(&text, s.start)))
            .unwrap_or_default();
        CliError::user(format!(
            "{}{at}: {}",
            path.display(),
            e.message().trim().replace('\n', " ")
        ))
        .with_hint("docs/CONFIG.md lists every key; nothing was written")
    })
}

impl Settings {
    /// Resolves every setting for this command line.
    pub fn load(cli: &Cli, config_file: &Path) -> Result<Settings> {
        let found = read_file(config_file)?;
        let file_found = found.is_some();
        let f = found.unwrap_or_default();
        let from_file = |key: &str| (Source::File, format!("{} ({key})", config_file.display()));

        let net_flags = match &cli.command {
            Command::Daemon(
                DaemonCommand::Start(n) | DaemonCommand::Restart(n) | DaemonCommand::Run(n),
            ) => Some(n),
            _ => None,
        };

        let net = if let Some(n) = net_flags.and_then(|n| n.net) {
            Setting::new(n, Source::Flag, "--net")
        } else if let Some(v) = var("HEARTH_NET") {
            let n = v
                .parse::<NetChoice>()
                .map_err(|e| bad_var("HEARTH_NET", &v, e))?;
            Setting::new(n, Source::Env, "HEARTH_NET")
        } else if let Some(n) = f.net {
            let (s, o) = from_file("net");
            Setting::new(n, s, o)
        } else {
            Setting::new(NetChoice::Default, Source::Default, "built in")
        };

        let relay = if let Some(r) = net_flags.and_then(|n| n.relay.clone()) {
            check_relay(&r).map_err(CliError::usage)?;
            Setting::new(Some(r), Source::Flag, "--relay")
        } else if let Some(v) = var("HEARTH_RELAY") {
            check_relay(&v).map_err(|e| bad_var("HEARTH_RELAY", &v, e))?;
            Setting::new(Some(v), Source::Env, "HEARTH_RELAY")
        } else if let Some(Relay(r)) = f.relay {
            let (s, o) = from_file("relay");
            Setting::new(Some(r), s, o)
        } else {
            Setting::new(None, Source::Default, "built in")
        };

        let day_flag = match &cli.command {
            Command::Init(a) => a.day_start,
            _ => None,
        };
        let day_start = if let Some(h) = day_flag {
            Setting::new(h, Source::Flag, "--day-start")
        } else if let Some(v) = var("HEARTH_DAY_START") {
            let h = v
                .trim()
                .parse::<i64>()
                .map_err(|e| e.to_string())
                .and_then(DayStart::try_from)
                .map_err(|e| bad_var("HEARTH_DAY_START", &v, e))?;
            Setting::new(h.0, Source::Env, "HEARTH_DAY_START")
        } else if let Some(DayStart(h)) = f.day_start {
            let (s, o) = from_file("day_start");
            Setting::new(h, s, o)
        } else {
            Setting::new(
                hearth_model::DayBoundary::default().hour,
                Source::Default,
                "built in",
            )
        };

        let editor = if let Some(v) = var("HEARTH_EDITOR") {
            Setting::new(v, Source::Env, "HEARTH_EDITOR")
        } else if let Some(EditorCommand(e)) = f.editor {
            let (s, o) = from_file("editor");
            Setting::new(e, s, o)
        } else if let Some(v) = var("VISUAL") {
            Setting::new(v, Source::Env, "VISUAL")
        } else if let Some(v) = var("EDITOR") {
            Setting::new(v, Source::Env, "EDITOR")
        } else {
            Setting::new("vi".to_string(), Source::Default, "built in")
        };

        let color = if let Some(c) = cli.color {
            Setting::new(c, Source::Flag, "--color")
        } else if let Some(v) = var("HEARTH_COLOR") {
            let c = <ColorChoice as clap::ValueEnum>::from_str(v.trim(), true)
                .map_err(|_| bad_var("HEARTH_COLOR", &v, "use auto, always or never"))?;
            Setting::new(c, Source::Env, "HEARTH_COLOR")
        } else if let Some(c) = f.color {
            let (s, o) = from_file("color");
            Setting::new(c, s, o)
        } else if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
            Setting::new(ColorChoice::Never, Source::Env, "NO_COLOR")
        } else {
            Setting::new(ColorChoice::Auto, Source::Default, "built in")
        };

        // An empty HEARTH_PAGER means no pager, so it is read as set.
        let pager = if cli.no_pager {
            Setting::new(String::new(), Source::Flag, "--no-pager")
        } else if let Ok(v) = std::env::var("HEARTH_PAGER") {
            Setting::new(v.trim().to_string(), Source::Env, "HEARTH_PAGER")
        } else if let Some(p) = f.pager {
            let (s, o) = from_file("pager");
            Setting::new(p.trim().to_string(), s, o)
        } else if let Ok(v) = std::env::var("PAGER") {
            Setting::new(v.trim().to_string(), Source::Env, "PAGER")
        } else {
            Setting::new("less -FRX".to_string(), Source::Default, "built in")
        };

        Ok(Settings {
            file: config_file.to_path_buf(),
            file_found,
            net,
            relay,
            day_start,
            editor,
            color,
            pager,
        })
    }

    /// Every setting as (key, value as JSON, source, origin), in the order
    /// `hearth config` shows them.
    pub fn rows(&self) -> Vec<(&'static str, serde_json::Value, Source, &str)> {
        use serde_json::json;
        vec![
            (
                "net",
                json!(self.net.value.as_str()),
                self.net.source,
                self.net.origin.as_str(),
            ),
            (
                "relay",
                json!(self.relay.value),
                self.relay.source,
                self.relay.origin.as_str(),
            ),
            (
                "day_start",
                json!(self.day_start.value),
                self.day_start.source,
                self.day_start.origin.as_str(),
            ),
            (
                "editor",
                json!(self.editor.value),
                self.editor.source,
                self.editor.origin.as_str(),
            ),
            (
                "color",
                json!(self.color.value.as_str()),
                self.color.source,
                self.color.origin.as_str(),
            ),
            (
                "pager",
                json!(self.pager.value),
                self.pager.source,
                self.pager.origin.as_str(),
            ),
        ]
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_takes_every_key_and_refuses_unknown_ones() {
        let f: File = toml::from_str(
            "net = \"local\"\nrelay = \"https://relay.example\"\nday_start = 5\neditor = \"nano\"\ncolor = \"never\"\npager = \"\"\n",
        )
        .unwrap();
        assert_eq!(f.net, Some(NetChoice::Local));
        assert_eq!(f.day_start.map(|d| d.0), Some(5));
        assert!(toml::from_str::<File>("colour = \"never\"").is_err());
        assert!(toml::from_str::<File>("day_start = 24").is_err());
        assert!(toml::from_str::<File>("relay = \"relay.example\"").is_err());
        assert_eq!(line_of("a\nb\nc", 4), 3);
    }
}
