//! Export and import: getting the journal out in open formats, and bringing
//! a jrnl journal in.

use std::collections::BTreeMap;
use std::io::{IsTerminal, Read, Write};
use std::path::Path;

use chrono::{DateTime, FixedOffset, NaiveDateTime, TimeZone};
use hearth_ipc::{ExportData, ImportItem, Request, Response};
use hearth_model::jrnl::{self, JrnlOut};
use hearth_model::{Body, Entry, PartnerId, RepairBody, RepairMode};

use super::{Ctx, unexpected};
use crate::args::{ExportArgs, ExportFormat, ImportArgs, ImportFormat};
use crate::error::{CliError, Result};
use crate::input;
use crate::render;

/// Largest file `hearth import` reads: half the daemon's request limit,
/// leaving room for the JSON around each entry.
const MAX_IMPORT: u64 = 32 * 1024 * 1024;

/// How many entries one export request asks the daemon for: it builds a
/// page at a time, and this process writes each page out before asking
/// for the next, so neither holds the whole journal.
const EXPORT_PAGE: usize = 1_000;

pub fn export(ctx: &mut Ctx, a: ExportArgs) -> Result<()> {
    let at = input::now()?;
    if let Some(path) = &a.output {
        if path.exists() && !a.force {
            return Err(CliError::user(format!(
                "{} already exists; add --force to replace it",
                path.display()
            )));
        }
    } else if a.format == ExportFormat::Automerge && std::io::stdout().is_terminal() {
        return Err(CliError::usage(
            "the automerge format is binary; give --output FILE or redirect stdout",
        ));
    }
    let format = a.format;
    let mut write = |out: &mut dyn Write| -> Result<()> {
        if format == ExportFormat::Automerge {
            let bytes = match ctx.call(Request::ExportDocument)? {
                Response::Document { base64 } => data_encoding::BASE64
                    .decode(base64.as_bytes())
                    .map_err(|e| {
                        CliError::daemon(format!("the daemon sent a damaged document: {e}"))
                    })?,
                r => return Err(unexpected(r)),
            };
            out.write_all(&bytes)?;
            return Ok(());
        }
        let mut w = Streamed::new(format, at);
        let mut after = None;
        loop {
            let query = hearth_ipc::ExportQuery {
                at,
                after,
                limit: Some(EXPORT_PAGE),
            };
            let page = match ctx.call(Request::Export(query))? {
                Response::Export(d) => d,
                r => return Err(unexpected(r)),
            };
            w.page(&page, out)?;
            match page.next {
                Some(next) => after = Some(next),
                None => return w.end(&page, out),
            }
        }
    };
    match &a.output {
        Some(path) => {
            let bytes = write_private(path, a.force, &mut write)?;
            eprintln!("Wrote {} ({bytes} bytes).", path.display());
        }
        None => {
            let mut out = std::io::BufWriter::new(std::io::stdout().lock());
            write(&mut out)?;
            out.flush()?;
        }
    }
    Ok(())
}

/// An export in one of the text formats, written page by page as the
/// daemon sends them.
struct Streamed {
    format: ExportFormat,
    at: DateTime<FixedOffset>,
    /// Entries written so far.
    written: usize,
    /// Whether the format's opening is out.
    begun: bool,
    /// Sealed answers left out, as the first page counted them.
    sealed: usize,
    /// The day of the last Markdown entry, for its day headings.
    day: Option<chrono::NaiveDate>,
}

impl Streamed {
    fn new(format: ExportFormat, at: DateTime<FixedOffset>) -> Streamed {
        Streamed {
            format,
            at,
            written: 0,
            begun: false,
            sealed: 0,
            day: None,
        }
    }

    /// The format's opening, once, from the first page.
    fn begin(&mut self, data: &ExportData, out: &mut dyn Write) -> Result<()> {
        if std::mem::replace(&mut self.begun, true) {
            return Ok(());
        }
        self.sealed = data.sealed;
        match self.format {
            ExportFormat::Md => out.write_all(markdown_head(data, self.at).as_bytes())?,
            ExportFormat::Json => out.write_all(b"{\n  \"entries\": [")?,
            ExportFormat::Jrnl | ExportFormat::Automerge => {}
        }
        Ok(())
    }

    /// Writes one page's entries.
    fn page(&mut self, data: &ExportData, out: &mut dyn Write) -> Result<()> {
        self.begin(data, out)?;
        for e in &data.entries {
            match self.format {
                ExportFormat::Md => {
                    out.write_all(markdown_entry(e, data, &mut self.day).as_bytes())?
                }
                ExportFormat::Json => {
                    // Each entry pretty on its own, indented to sit in the
                    // array (a string's newlines are escaped, so every line
                    // break is the printer's).
                    let v = serde_json::to_string_pretty(&render::entry_json(e, &data.names)?)?;
                    if self.written > 0 {
                        out.write_all(b",")?;
                    }
                    for line in v.lines() {
                        out.write_all(b"\n    ")?;
                        out.write_all(line.as_bytes())?;
                    }
                }
                ExportFormat::Jrnl => {
                    out.write_all(jrnl::to_text(&[jrnl_entry(e, data)]).as_bytes())?
                }
                ExportFormat::Automerge => unreachable!("not a text format"),
            }
            self.written += 1;
        }
        Ok(())
    }

    /// Closes the export with what the last page says of the whole.
    fn end(&mut self, data: &ExportData, out: &mut dyn Write) -> Result<()> {
        self.begin(data, out)?;
        match self.format {
            ExportFormat::Md => out.write_all(markdown_tail(self.sealed).as_bytes())?,
            ExportFormat::Json => {
                if self.written > 0 {
                    out.write_all(b"\n  ")?;
                }
                // The other fields, pretty as one object, without its
                // braces.
                let rest = serde_json::to_string_pretty(&json_rest(data, self.sealed, self.at))?;
                let inner = rest
                    .strip_prefix('{')
                    .and_then(|r| r.strip_suffix('}'))
                    .unwrap_or_default();
                out.write_all(b"],")?;
                out.write_all(inner.as_bytes())?;
                out.write_all(b"}\n")?;
            }
            ExportFormat::Jrnl | ExportFormat::Automerge => {}
        }
        Ok(())
    }
}

/// Writes a file readable by the owner only, all at once as far as anyone
/// else can see: `write` fills a temporary file beside it, which is
/// synced, then renamed into place. Returns the file's size.
fn write_private(
    path: &Path,
    force: bool,
    write: &mut dyn FnMut(&mut dyn Write) -> Result<()>,
) -> Result<u64> {
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    if !dir.is_dir() {
        return Err(CliError::user(format!(
            "cannot write {}: the directory {} does not exist",
            path.display(),
            dir.display()
        )));
    }
    // `--force` replaces an earlier export, never a link, a device or a
    // directory that happens to sit at that path.
    if let Ok(meta) = std::fs::symlink_metadata(path) {
        let ft = meta.file_type();
        let what = if ft.is_symlink() {
            Some("a symbolic link")
        } else if ft.is_dir() {
            Some("a directory")
        } else if !ft.is_file() {
            Some("not a regular file (a device, pipe or socket)")
        } else {
            None
        };
        if let Some(what) = what {
            return Err(CliError::user(format!(
                "refusing to write {}: it is {what}",
                path.display()
            ))
            .with_hint("export to a new file, or remove what is there first"));
        }
    }
    // Only the error's kind: the temporary file's name means nothing to
    // the user.
    let fail = |e: std::io::Error| {
        CliError::user(format!(
            "cannot write {}: {}",
            path.display(),
            std::io::Error::from(e.kind())
        ))
    };
    // NamedTempFile creates the file with mode 0600; one that a failure
    // leaves behind is removed when it drops.
    let tmp = tempfile::NamedTempFile::new_in(dir).map_err(fail)?;
    let mut buffered = std::io::BufWriter::new(tmp);
    write(&mut buffered)?;
    let tmp = buffered.into_inner().map_err(|e| fail(e.into_error()))?;
    tmp.as_file().sync_all().map_err(fail)?;
    let size = tmp.as_file().metadata().map_err(fail)?.len();
    if force {
        tmp.persist(path).map_err(|e| fail(e.error))?;
    } else {
        tmp.persist_noclobber(path).map_err(|e| fail(e.error))?;
    }
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(size)
}

fn prompt_text(data: &ExportData, id: &str) -> String {
    data.prompts
        .iter()
        .find(|p| p.id == id)
        .map(|p| p.text.clone())
        .or_else(|| hearth_model::deck::find(id).map(|p| p.text.to_string()))
        .unwrap_or_else(|| format!("prompt {id}"))
}

/// An entry's content as plain prose, one part per paragraph, for
/// Markdown and jrnl.
fn body_parts(e: &Entry, data: &ExportData) -> Vec<String> {
    let mut parts: Vec<String> = Vec::new();
    match &e.body {
        Body::Checkin {
            mood,
            energy,
            need,
            note,
        } => {
            let mut line = format!("Mood {} ({})", mood.value(), mood.word());
            if let Some(en) = energy {
                line.push_str(&format!(", energy {} ({})", en.value(), en.word()));
            }
            if let Some(n) = need {
                line.push_str(&format!(", needs {}", n.as_str()));
            }
            line.push('.');
            parts.push(line);
            parts.push(note.trim().to_string());
        }
        Body::Highlow { high, low } => {
            parts.push(format!("High: {}", high.trim()));
            parts.push(format!("Low: {}", low.trim()));
        }
        Body::Gratitude { to, text } => {
            parts.push(format!("Thanks to {}: {}", to.trim(), text.trim()))
        }
        Body::Note { text } => parts.push(text.trim().to_string()),
        Body::Repair(r) => {
            let RepairBody {
                mode,
                happened,
                felt,
                my_part,
                need,
                agreements,
            } = &**r;
            let head = match mode {
                RepairMode::StartOver => "Start over:",
                RepairMode::Debrief => "What happened:",
            };
            parts.push(format!("{head} {}", happened.trim()));
            for (label, text) in [
                ("What I felt:", felt),
                ("My part:", my_part),
                ("What I need:", need),
            ] {
                if !text.trim().is_empty() {
                    parts.push(format!("{label} {}", text.trim()));
                }
            }
            if !agreements.is_empty() {
                let list: Vec<String> = agreements.iter().map(|a| format!("- {a}")).collect();
                parts.push(format!("We agree:\n{}", list.join("\n")));
            }
        }
        Body::Answer { prompt, text } => {
            parts.push(format!("Prompt: {}", prompt_text(data, prompt)));
            parts.push(text.trim().to_string());
        }
    }
    parts.retain(|p| !p.is_empty());
    parts
}

fn name<'a>(names: &'a BTreeMap<PartnerId, String>, p: &'a PartnerId) -> &'a str {
    names.get(p).map_or(p.as_str(), String::as_str)
}

/// The Markdown export's title and count.
fn markdown_head(data: &ExportData, at: DateTime<FixedOffset>) -> String {
    let couple: Vec<&str> = data.names.values().map(String::as_str).collect();
    format!(
        "# {}\n\nA hearth journal, exported {}. {} entries.\n",
        couple.join(" & "),
        at.format("%-d %B %Y"),
        data.total
    )
}

/// One entry in Markdown, after a day heading when `day` moves on.
fn markdown_entry(e: &Entry, data: &ExportData, day: &mut Option<chrono::NaiveDate>) -> String {
    let mut out = String::new();
    if *day != Some(e.day) {
        out.push_str(&format!("\n## {}\n", e.day.format("%A %-d %B %Y")));
        *day = Some(e.day);
    }
    let mut marks = String::new();
    if e.starred {
        marks.push_str(" ★");
    }
    if e.tender {
        marks.push_str(" (tender)");
    }
    out.push_str(&format!(
        "\n### {} · {} · {}{marks}\n\n",
        e.created.format("%H:%M"),
        name(&data.names, &e.author),
        render::kind_label(e)
    ));
    out.push_str(&body_parts(e, data).join("\n\n"));
    out.push('\n');
    if !e.tags.is_empty() {
        let tags: Vec<String> = e.tags.iter().map(|t| format!("`@{t}`")).collect();
        out.push_str(&format!("\nTags: {}\n", tags.join(" ")));
    }
    out
}

/// What the Markdown export says after the last entry.
fn markdown_tail(sealed: usize) -> String {
    if sealed == 0 {
        return String::new();
    }
    format!(
        "\n---\n\n{sealed} of your partner's answers are left out: they stay sealed until you answer the same prompts.\n"
    )
}

/// The JSON export's fields other than `entries`, which go out one at a
/// time before them.
fn json_rest(data: &ExportData, sealed: usize, at: DateTime<FixedOffset>) -> serde_json::Value {
    serde_json::json!({
        "format": "hearth-export",
        "version": 1,
        "exported": at,
        "partners": data.names,
        "rituals": data.rituals,
        "ritual_log": data.ritual_log,
        "prompts": data.prompts,
        "sealed_answers_left_out": sealed,
    })
}

/// One entry as jrnl keeps it.
fn jrnl_entry(e: &Entry, data: &ExportData) -> JrnlOut {
    // jrnl has no authors or kinds: both go at the start of the title, and
    // tags become @tags in the text.
    let mut text = format!(
        "{} ({}): {}",
        name(&data.names, &e.author),
        render::kind_label(e),
        // A blank line inside an entry reads as a gap in jrnl.
        body_parts(e, data).join("\n")
    );
    // Whole tags, as jrnl will read them: `@workout` is not `@work`.
    let present = hearth_model::entry::parse_tags(&text);
    let missing: Vec<String> = e
        .tags
        .iter()
        .filter(|t| !present.contains(*t))
        .map(|t| format!("@{t}"))
        .collect();
    if !missing.is_empty() {
        text.push_str(&format!("\n{}", missing.join(" ")));
    }
    JrnlOut {
        at: e.created.naive_local(),
        text,
        starred: e.starred,
    }
}

/// The offset to give a wall-clock time from a file without time zones:
/// the pinned clock's (tests), else this machine's zone on that date.
fn local_time(naive: NaiveDateTime, now: DateTime<FixedOffset>) -> Option<DateTime<FixedOffset>> {
    if std::env::var_os("HEARTH_NOW").is_some() {
        return now.offset().from_local_datetime(&naive).single();
    }
    chrono::Local
        .from_local_datetime(&naive)
        .earliest()
        .map(|t| t.fixed_offset())
}

pub fn import(ctx: &mut Ctx, a: ImportArgs) -> Result<()> {
    let ImportFormat::Jrnl = a.format;
    let shown = a.file.display().to_string();
    let mut raw = Vec::new();
    let read = if a.file.as_os_str() == "-" {
        std::io::stdin().take(MAX_IMPORT + 1).read_to_end(&mut raw)
    } else {
        std::fs::File::open(&a.file).and_then(|f| f.take(MAX_IMPORT + 1).read_to_end(&mut raw))
    };
    read.map_err(|e| CliError::user(format!("cannot read {shown}: {e}")))?;
    if raw.len() as u64 > MAX_IMPORT {
        return Err(CliError::user(format!(
            "{shown} is larger than the {} MiB import limit; nothing imported",
            MAX_IMPORT / 1024 / 1024
        )));
    }
    let text = String::from_utf8(raw).map_err(|e| {
        CliError::user(format!(
            "{shown} is not UTF-8 text (byte {}); nothing imported",
            e.utf8_error().valid_up_to()
        ))
    })?;
    let parsed = jrnl::parse_export(&text)
        .map_err(|e| CliError::user(format!("{shown}: {e}; nothing imported")))?;
    let now = input::now()?;
    let mut items = Vec::with_capacity(parsed.len());
    for (i, j) in parsed.iter().enumerate() {
        let written = local_time(j.at, now).ok_or_else(|| {
            CliError::user(format!(
                "{shown}: entries[{i}]: {} does not exist in this time zone; nothing imported",
                j.at
            ))
        })?;
        let mut entry = j.new_entry();
        if a.tender {
            entry.tender = Some(true);
        }
        items.push(ImportItem {
            entry,
            written,
            fingerprint: j.fingerprint(),
        });
    }
    if a.dry_run {
        let first = parsed.iter().map(|j| j.at.date()).min();
        let last = parsed.iter().map(|j| j.at.date()).max();
        let span = match (first, last) {
            (Some(f), Some(l)) => format!(", {f} to {l}"),
            _ => String::new(),
        };
        println!(
            "{} entries read from {shown}{span}; nothing written (dry run).",
            items.len()
        );
        return Ok(());
    }
    let request = Request::Import(hearth_ipc::Import {
        entries: items,
        at: now,
    });
    // Say so plainly rather than have the daemon drop an oversized frame.
    let encoded = serde_json::to_vec(&request)?.len();
    if encoded + 1024 > hearth_ipc::MAX_REQUEST as usize {
        return Err(CliError::user(format!(
            "{shown} holds too much for one import ({} MiB once encoded, the limit is {} MiB); split it by date with jrnl and import the parts; nothing imported",
            encoded / 1024 / 1024,
            hearth_ipc::MAX_REQUEST / 1024 / 1024
        )));
    }
    match ctx.call(request)? {
        Response::Imported { added, skipped } => {
            let mut line = format!("Imported {} entries from jrnl as yours", added.len());
            if skipped > 0 {
                line.push_str(&format!(" ({skipped} were already here)"));
            }
            println!("{line}.");
            Ok(())
        }
        r => Err(unexpected(r)),
    }
}
