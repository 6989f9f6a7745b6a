//! Turning clap's usage errors into hearth's error shape: one line that
//! names the whole problem (the missing arguments, the possible values, the
//! suggestion), the usage of the command that failed, and a hint naming
//! that command's `--help`.

use clap::CommandFactory;
use clap::error::{ContextKind, ContextValue, ErrorKind};

use crate::args::Cli;

/// What a usage error prints, line by line.
#[derive(Debug, PartialEq, Eq)]
pub struct UsageReport {
    /// The problem, on one line.
    pub error: String,
    /// clap's usage line for the command that failed, when it has one.
    pub usage: Option<String>,
    /// The command whose help applies, e.g. `hearth import`.
    pub command: String,
}

impl UsageReport {
    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!("hearth: error: {}", self.error)];
        if let Some(u) = &self.usage {
            out.push(format!("usage: {u}"));
        }
        out.push(format!("hint: see `{} --help`", self.command));
        out
    }
}

/// `args` are the command line without the program name, for finding the
/// subcommand that failed: clap does not say which one on every error.
pub fn report(e: &clap::Error, args: &[String]) -> UsageReport {
    // Display of a rendered error is plain text, without colour codes.
    let rendered = e.render().to_string();
    let usage_line = usage_of(e).or_else(|| {
        rendered
            .lines()
            .find_map(|l| l.strip_prefix("Usage:"))
            .map(|u| u.trim().to_string())
    });
    let command = command_path(args);
    if e.kind() == ErrorKind::DisplayHelpOnMissingArgumentOrSubcommand {
        return UsageReport {
            error: needs_subcommand(&command),
            usage: usage_line,
            command,
        };
    }
    UsageReport {
        error: problem(&rendered),
        usage: usage_line,
        command,
    }
}

fn usage_of(e: &clap::Error) -> Option<String> {
    match e.get(ContextKind::Usage)? {
        ContextValue::StyledStr(s) => {
            let text = s.to_string();
            let first = text.lines().find(|l| !l.trim().is_empty())?;
            Some(first.trim().trim_start_matches("Usage:").trim().to_string())
        }
        _ => None,
    }
}

/// The subcommands named on the command line, `hearth ritual add` from
/// `ritual add walk --cadence daily`: each word that names a subcommand of
/// the one before, skipping options and their values.
fn command_path(args: &[String]) -> String {
    let mut cmd = Cli::command();
    cmd.build();
    let mut path = vec!["hearth".to_string()];
    let takes_value = |cmd: &clap::Command, f: &dyn Fn(&clap::Arg) -> bool| {
        cmd.get_arguments()
            .any(|a| f(a) && a.get_action().takes_values())
    };
    let mut words = args.iter();
    while let Some(word) = words.next() {
        if word == "--" {
            break;
        }
        if let Some(long) = word.strip_prefix("--") {
            if !long.contains('=') && takes_value(&cmd, &|a| a.get_long() == Some(long)) {
                words.next();
            }
        } else if let Some(shorts) = word.strip_prefix('-').filter(|s| !s.is_empty()) {
            let mut chars = shorts.chars();
            if let (Some(c), None) = (chars.next(), chars.next())
                && takes_value(&cmd, &|a| a.get_short() == Some(c))
            {
                words.next();
            }
        } else if let Some(sub) = cmd.find_subcommand(word).cloned() {
            path.push(sub.get_name().to_string());
            cmd = sub;
        } else if cmd.has_subcommands() {
            break;
        }
    }
    path.join(" ")
}

/// "`hearth ritual` needs a subcommand: add, templates, ...".
fn needs_subcommand(path: &str) -> String {
    let mut cmd = Cli::command();
    for word in path.split_whitespace().skip(1) {
        match cmd.find_subcommand(word).cloned() {
            Some(c) => cmd = c,
            None => break,
        }
    }
    let subs: Vec<String> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set())
        .map(|c| c.get_name().to_string())
        .collect();
    format!("`{path}` needs a subcommand: {}", subs.join(", "))
}

/// Everything clap says before its usage block, joined into one line.
/// "tip: a similar argument exists: '--mood'" reads as "did you mean
/// '--mood'?".
fn problem(rendered: &str) -> String {
    let mut parts: Vec<String> = Vec::new();
    for line in rendered.lines() {
        let t = line.trim();
        if t.starts_with("Usage:") || t.starts_with("For more information") {
            break;
        }
        if t.is_empty() {
            continue;
        }
        let t = t.strip_prefix("error:").map_or(t, str::trim_start);
        let t = suggestion(t).unwrap_or_else(|| t.to_string());
        match parts.last_mut() {
            // A list introduced by a colon continues the sentence.
            Some(prev) if prev.ends_with(':') || t.starts_with('[') => {
                prev.push(' ');
                prev.push_str(&t);
            }
            _ => parts.push(t),
        }
    }
    if parts.is_empty() {
        return "invalid arguments".to_string();
    }
    parts.join("; ")
}

fn suggestion(line: &str) -> Option<String> {
    let rest = line.strip_prefix("tip:")?.trim();
    for lead in ["a similar ", "some similar "] {
        if let Some(r) = rest.strip_prefix(lead)
            && let Some((_, names)) = r.split_once(": ")
        {
            let names = match names.rsplit_once(", ") {
                Some((first, last)) => format!("{first} or {last}"),
                None => names.to_string(),
            };
            return Some(format!("did you mean {names}?"));
        }
    }
    Some(rest.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn report_for(args: &[&str]) -> UsageReport {
        let mut argv = vec!["hearth"];
        argv.extend_from_slice(args);
        let e = Cli::try_parse_from(argv).expect_err("a usage error");
        let args: Vec<String> = args.iter().map(|a| a.to_string()).collect();
        report(&e, &args)
    }

    #[test]
    fn missing_arguments_are_named() {
        let r = report_for(&["import", "--format", "jrnl"]);
        assert_eq!(
            r.error,
            "the following required arguments were not provided: <FILE>"
        );
        assert_eq!(r.command, "hearth import");
    }

    #[test]
    fn possible_values_are_listed() {
        let r = report_for(&["export", "--format", "csv"]);
        assert!(r.error.contains("'csv'"), "{r:?}");
        assert!(
            r.error
                .contains("[possible values: md, json, jrnl, automerge]"),
            "{r:?}"
        );
        assert_eq!(r.command, "hearth export");
    }

    #[test]
    fn near_misses_get_a_suggestion() {
        let r = report_for(&["checkin", "--moood", "3"]);
        assert!(r.error.contains("'--moood'"), "{r:?}");
        assert!(r.error.contains("did you mean '--mood'?"), "{r:?}");
        assert_eq!(r.command, "hearth checkin");
        let r = report_for(&["ritual", "dne"]);
        assert!(r.error.contains("did you mean 'due' or 'done'?"), "{r:?}");
        assert_eq!(r.command, "hearth ritual");
        let r = report_for(&["--home", "x", "ritual", "add", "walk", "--owner", "nobody"]);
        assert_eq!(r.command, "hearth ritual add");
    }

    #[test]
    fn a_missing_subcommand_lists_them() {
        let r = report_for(&["ritual"]);
        assert!(
            r.error
                .starts_with("`hearth ritual` needs a subcommand: add")
        );
        assert_eq!(r.command, "hearth ritual");
    }
}
