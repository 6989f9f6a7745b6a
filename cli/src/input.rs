//! Where entry text comes from: an argument, piped stdin, or the user's
//! editor. Also the clock, which tests pin with `HEARTH_NOW`.

use std::io::{IsTerminal, Read};
use std::process::Command;

use chrono::{DateTime, FixedOffset};

use crate::error::{CliError, Result};

/// The most a piped stdin or an editor file may hold. Each text field is
/// further limited to 64 KiB by the model.
pub const MAX_INPUT: usize = 256 * 1024;

/// Lines starting with this are instructions in an editor template and are
/// dropped, like git's `#` but unlikely to clash with Markdown.
pub const COMMENT: &str = "HEARTH:";

/// Now, in the local offset; `HEARTH_NOW` (RFC 3339) overrides it.
pub fn now() -> Result<DateTime<FixedOffset>> {
    match std::env::var("HEARTH_NOW") {
        Ok(s) => DateTime::parse_from_rfc3339(&s)
            .map_err(|e| CliError::usage(format!("HEARTH_NOW={s:?} is not an RFC 3339 time: {e}"))),
        Err(_) => Ok(chrono::Local::now().fixed_offset()),
    }
}

/// Asks `question` on the terminal until `parse` accepts the answer,
/// saying what was wrong each time. An empty answer or end of input gives
/// up, writing nothing.
pub fn ask<T>(question: &str, parse: impl Fn(&str) -> Result<T, String>) -> Result<T> {
    loop {
        eprint!("{question}");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 || line.trim().is_empty() {
            eprintln!();
            return Err(CliError::user("no answer given; nothing written"));
        }
        match parse(line.trim()) {
            Ok(v) => return Ok(v),
            Err(why) => eprintln!("{why}; try again, or press Enter to give up."),
        }
    }
}

/// A yes-or-no question on the terminal: `y` or `yes`; `n`, `no` or Enter
/// for no. Anything else asks again; end of input is no.
pub fn confirm(question: &str) -> Result<bool> {
    loop {
        eprint!("{question}");
        let mut line = String::new();
        if std::io::stdin().read_line(&mut line)? == 0 {
            eprintln!();
            return Ok(false);
        }
        match line.trim().to_lowercase().as_str() {
            "y" | "yes" => return Ok(true),
            "" | "n" | "no" => return Ok(false),
            other => eprintln!("{other:?} is not yes or no; try again."),
        }
    }
}

pub fn stdin_is_piped() -> bool {
    !std::io::stdin().is_terminal()
}

/// Reads all of stdin, refusing more than [`MAX_INPUT`] bytes or invalid
/// UTF-8.
pub fn read_stdin() -> Result<String> {
    let mut buf = Vec::new();
    std::io::stdin()
        .take(MAX_INPUT as u64 + 1)
        .read_to_end(&mut buf)
        .map_err(|e| CliError::user(format!("cannot read stdin: {e}")))?;
    if buf.len() > MAX_INPUT {
        return Err(CliError::user(format!(
            "stdin is larger than the {} KiB maximum; nothing written",
            MAX_INPUT / 1024
        )));
    }
    String::from_utf8(buf).map_err(|e| {
        CliError::user(format!(
            "stdin is not valid UTF-8 (bad byte at offset {}); nothing written",
            e.utf8_error().valid_up_to()
        ))
    })
}

static EDITOR: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Names the editor command for this run, from the settings.
pub fn set_editor(cmd: &str) {
    let _ = EDITOR.set(cmd.to_string());
}

/// Opens the editor the settings name (`vi` if none) on a private
/// temporary file holding `template`, and returns what the user saved,
/// comment lines removed.
pub fn edit(template: &str, runtime_dir: &std::path::Path) -> Result<String> {
    let editor = EDITOR.get().map_or("vi", String::as_str);
    // The draft holds entry text: keep it in the owner-only runtime dir.
    {
        use std::os::unix::fs::DirBuilderExt;
        let _ = std::fs::DirBuilder::new()
            .recursive(true)
            .mode(0o700)
            .create(runtime_dir);
    }
    let file = tempfile::Builder::new()
        .prefix("hearth-draft-")
        .suffix(".md")
        .tempfile_in(runtime_dir)
        .or_else(|_| {
            tempfile::Builder::new()
                .prefix("hearth-draft-")
                .suffix(".md")
                .tempfile()
        })
        .map_err(|e| CliError::internal(format!("cannot create a draft file: {e}")))?;
    std::fs::write(file.path(), template)?;
    // Like git, run the editor through the shell so "code --wait" works.
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!("{editor} \"$1\""))
        .arg("hearth-editor")
        .arg(file.path())
        .status()
        .map_err(|e| CliError::user(format!("cannot run editor {editor:?}: {e}")))?;
    if !status.success() {
        return Err(CliError::user(format!(
            "editor {editor:?} exited with {status}; nothing written"
        )));
    }
    let bytes = std::fs::read(file.path())?;
    if bytes.len() > MAX_INPUT {
        return Err(CliError::user(format!(
            "the edited text is larger than the {} KiB maximum; nothing written",
            MAX_INPUT / 1024
        )));
    }
    let text = String::from_utf8(bytes)
        .map_err(|_| CliError::user("the edited text is not valid UTF-8; nothing written"))?;
    Ok(strip_comments(&text))
}

pub fn strip_comments(text: &str) -> String {
    let kept: Vec<&str> = text.lines().filter(|l| !l.starts_with(COMMENT)).collect();
    let mut s = kept.join("\n");
    if text.ends_with('\n') && !s.is_empty() {
        s.push('\n');
    }
    s
}

/// Text for a single-field entry: the argument, else stdin when piped, else
/// the editor.
pub fn text_from(
    arg: Option<String>,
    force_editor: bool,
    template: &str,
    runtime: &std::path::Path,
) -> Result<String> {
    let text = match arg {
        Some(t) if !force_editor => t,
        Some(t) => edit(&format!("{template}{t}"), runtime)?,
        None if force_editor => edit(template, runtime)?,
        None if stdin_is_piped() => read_stdin()?,
        None => edit(template, runtime)?,
    };
    let t = text.trim_end().to_string();
    if t.trim().is_empty() {
        return Err(CliError::user("the entry text is empty; nothing written"));
    }
    Ok(t)
}

/// A form with named sections, for entries with several text fields:
///
/// ```text
/// [high]
/// The walk by the river.
/// [low]
/// Missed the train.
/// ```
pub fn parse_form(text: &str, sections: &[&str]) -> Result<Vec<(String, String)>> {
    let mut out: Vec<(String, String)> = Vec::new();
    let mut current: Option<(String, Vec<&str>)> = None;
    for line in text.lines() {
        if line.starts_with(COMMENT) {
            continue;
        }
        let t = line.trim();
        if let Some(name) = t.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
            let name = name.trim().to_lowercase().replace(' ', "_");
            if sections.contains(&name.as_str()) {
                if let Some((n, lines)) = current.take() {
                    out.push((n, lines.join("\n").trim().to_string()));
                }
                current = Some((name, Vec::new()));
                continue;
            }
        }
        match &mut current {
            Some((_, lines)) => lines.push(line),
            None if t.is_empty() => {}
            None => {
                return Err(CliError::user(format!(
                    "text before the first section: start with one of {}",
                    sections
                        .iter()
                        .map(|s| format!("[{s}]"))
                        .collect::<Vec<_>>()
                        .join(", ")
                )));
            }
        }
    }
    if let Some((n, lines)) = current.take() {
        out.push((n, lines.join("\n").trim().to_string()));
    }
    if out.is_empty() {
        return Err(CliError::user(format!(
            "no sections found: expected {}",
            sections
                .iter()
                .map(|s| format!("[{s}]"))
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    Ok(out)
}

pub fn form_template(intro: &str, sections: &[(&str, &str)]) -> String {
    let mut s = String::new();
    for line in intro.lines() {
        s.push_str(&format!("{COMMENT} {line}\n"));
    }
    s.push_str(&format!(
        "{COMMENT} Write under each [section]. Lines starting with {COMMENT} are ignored.\n"
    ));
    for (name, value) in sections {
        s.push_str(&format!("[{name}]\n"));
        if !value.is_empty() {
            s.push_str(value);
            s.push('\n');
        }
        s.push('\n');
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn forms_parse_sections_and_skip_comments() {
        let f = "HEARTH: help\n[high]\nsun\non the river\n\n[Low]\nrain\n";
        let got = parse_form(f, &["high", "low"]).unwrap();
        assert_eq!(
            got,
            vec![
                ("high".into(), "sun\non the river".into()),
                ("low".into(), "rain".into())
            ]
        );
        assert!(parse_form("stray\n[high]\nx", &["high"]).is_err());
        assert!(parse_form("nothing", &["high"]).is_err());
        // Unknown section names are text, not headers.
        let got = parse_form("[high]\n[sic]\n", &["high"]).unwrap();
        assert_eq!(got[0].1, "[sic]");
    }

    #[test]
    fn templates_round_trip_through_the_parser() {
        let t = form_template("A high-low.", &[("high", "old high"), ("low", "")]);
        let got = parse_form(&t, &["high", "low"]).unwrap();
        assert_eq!(
            got,
            vec![
                ("high".into(), "old high".into()),
                ("low".into(), String::new())
            ]
        );
    }

    #[test]
    fn comments_are_stripped_but_markdown_headings_kept() {
        assert_eq!(
            strip_comments("HEARTH: x\n# Title\nbody\n"),
            "# Title\nbody\n"
        );
    }
}
