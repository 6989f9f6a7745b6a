//! Human and JSON output. Colour only when stdout is a terminal (or forced),
//! never under NO_COLOR.

use std::collections::BTreeMap;
use std::io::Write;

use chrono::NaiveDate;
use hearth_ipc::{PartnerAnswer, PromptToday};
use hearth_model::{Body, Entry, PartnerId};
use owo_colors::{OwoColorize, Stream, Style};
use serde_json::Value;

use crate::args::ColorChoice;
use crate::error::Result;

pub fn set_color(choice: ColorChoice) {
    match choice {
        ColorChoice::Always => owo_colors::set_override(true),
        ColorChoice::Never => owo_colors::set_override(false),
        ColorChoice::Auto => {
            if std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()) {
                owo_colors::set_override(false);
            }
        }
    }
}

static WIDTH: std::sync::OnceLock<Option<usize>> = std::sync::OnceLock::new();

/// Notes the terminal's width, while stdout is still the terminal.
pub fn set_width() {
    let w = terminal_size::terminal_size_of(std::io::stdout()).map(|(w, _)| usize::from(w.0));
    let _ = WIDTH.set(w.filter(|w| *w >= 20));
}

/// The terminal's width, or `None` when stdout is not a terminal.
pub fn width() -> Option<usize> {
    WIDTH.get().copied().flatten()
}

/// Wraps `text` at spaces to `width` columns (counted in characters), each
/// line after the first indented by `indent` spaces. A word longer than a
/// line is cut.
pub fn wrap(text: &str, width: usize, indent: usize) -> String {
    let mut out = String::new();
    let mut col = 0;
    let room = |first: bool| {
        if first {
            width.max(1)
        } else {
            width.saturating_sub(indent).max(1)
        }
    };
    let mut first = true;
    for word in text.split(' ') {
        let mut word: Vec<char> = word.chars().collect();
        loop {
            let avail = room(first);
            let sep = usize::from(col > 0);
            if col + sep + word.len() <= avail {
                if sep == 1 {
                    out.push(' ');
                }
                out.extend(word.iter());
                col += sep + word.len();
                break;
            }
            if col > 0 {
                out.push('\n');
                out.push_str(&" ".repeat(indent));
                col = 0;
                first = false;
                continue;
            }
            // A word wider than a whole line: cut it.
            let rest = word.split_off(avail.min(word.len()));
            out.extend(word.iter());
            out.push('\n');
            out.push_str(&" ".repeat(indent));
            first = false;
            word = rest;
            if word.is_empty() {
                break;
            }
        }
    }
    out
}

fn paint(s: &str, style: Style) -> String {
    s.if_supports_color(Stream::Stdout, |t| t.style(style))
        .to_string()
}

pub fn dim(s: &str) -> String {
    paint(s, Style::new().dimmed())
}
pub fn bold(s: &str) -> String {
    paint(s, Style::new().bold())
}
pub fn accent(s: &str) -> String {
    paint(s, Style::new().yellow())
}

/// Whether stdout gets colour (a terminal, no NO_COLOR, or --color always).
pub fn color_on() -> bool {
    "x".if_supports_color(Stream::Stdout, |t| t.red())
        .to_string()
        != "x"
}

/// Colours text by a mood on the 1-5 scale: red for rough through green
/// for great.
pub fn mood_paint(s: &str, mood: f64) -> String {
    let style = match mood.round() as i64 {
        i64::MIN..=1 => Style::new().red(),
        2 => Style::new().bright_red(),
        3 => Style::new().yellow(),
        4 => Style::new().green(),
        _ => Style::new().bright_green(),
    };
    paint(s, style)
}

/// A QR code as text, two modules per character cell, with the four-module
/// quiet zone the standard asks for. With colour on, every module is
/// painted: dark ones black and light ones white, whatever the terminal's
/// own colours, so it scans on dark and light themes alike. Without colour
/// the light modules, quiet zone included, are drawn as blocks in the
/// terminal's text colour and the dark ones left as its background: on the
/// usual light-on-dark terminal that is the right way round, and the
/// drawn quiet zone keeps the code apart from the dark around it.
pub fn qr_code(code: &qrcode::QrCode) -> String {
    const QUIET: usize = 4;
    let width = code.width();
    let colors = code.to_colors();
    let full = width + 2 * QUIET;
    let dark = |x: usize, y: usize| -> bool {
        x >= QUIET
            && y >= QUIET
            && x < QUIET + width
            && y < QUIET + width
            && colors[(y - QUIET) * width + (x - QUIET)] == qrcode::Color::Dark
    };
    let painted = color_on();
    let mut out = String::new();
    for row in (0..full).step_by(2) {
        if row > 0 {
            out.push('\n');
        }
        let mut last = None;
        for x in 0..full {
            let top = dark(x, row);
            // The last row of an odd height has a light row below it.
            let bottom = row + 1 < full && dark(x, row + 1);
            if painted {
                // 256-colour 16 and 231 are fixed black and white; the
                // upper half block shows the top module in the foreground.
                if last != Some((top, bottom)) {
                    let c = |d: bool| if d { 16 } else { 231 };
                    out.push_str(&format!("\x1b[38;5;{};48;5;{}m", c(top), c(bottom)));
                    last = Some((top, bottom));
                }
                out.push('\u{2580}');
            } else {
                // A block half is a light module.
                out.push(match (top, bottom) {
                    (false, false) => '\u{2588}',
                    (false, true) => '\u{2580}',
                    (true, false) => '\u{2584}',
                    (true, true) => ' ',
                });
            }
        }
        if painted {
            out.push_str("\x1b[0m");
        }
    }
    out
}

/// An entry as documented JSON: the stored fields, every key present even
/// when empty (the socket and the cache leave those out), plus
/// `author_name`.
pub fn entry_json(e: &Entry, names: &BTreeMap<PartnerId, String>) -> Result<Value> {
    let mut v = entry_keys(e)?;
    if let Value::Object(m) = &mut v {
        let name = names
            .get(&e.author)
            .cloned()
            .unwrap_or_else(|| e.author.to_string());
        m.insert("author_name".into(), Value::String(name));
    }
    Ok(v)
}

/// An entry's JSON with every documented key, empty ones included.
fn entry_keys(e: &Entry) -> Result<Value> {
    let mut v = serde_json::to_value(e)?;
    if let Value::Object(m) = &mut v {
        for key in Entry::EMPTY_KEYS.iter().chain(e.empty_body_keys()) {
            let empty = match *key {
                "conflicts" => Value::Object(Default::default()),
                _ => Value::Null,
            };
            m.entry(*key).or_insert(empty);
        }
        m.entry("private").or_insert(Value::Bool(false));
    }
    Ok(v)
}

/// `prompt --json`: the day's prompt with my answer and, once shown, my
/// partner's, each entry with every documented key.
pub fn prompt_json(p: &PromptToday) -> Result<Value> {
    let mut v = serde_json::to_value(p)?;
    if let Some(mine) = &p.mine {
        v["mine"] = entry_keys(mine)?;
    }
    if let PartnerAnswer::Shown { entry } = &p.partner {
        v["partner"]["entry"] = entry_keys(entry)?;
    }
    Ok(v)
}

pub fn print_json(v: &impl serde::Serialize) -> Result<()> {
    // Serialise first, then write: a closed pipe (`| head`) is then an I/O
    // error, which ends quietly, not a JSON error.
    let text = serde_json::to_string_pretty(v)?;
    let mut out = std::io::stdout().lock();
    out.write_all(text.as_bytes())?;
    writeln!(out)?;
    Ok(())
}

pub fn kind_label(e: &Entry) -> &'static str {
    match &e.body {
        Body::Checkin { .. } => "check-in",
        Body::Highlow { .. } => "high-low",
        Body::Gratitude { .. } => "thanks",
        Body::Note { .. } => "note",
        Body::Repair(_) => "repair",
        Body::Answer { .. } => "answer",
    }
}

fn marks(e: &Entry) -> String {
    let mut m = String::new();
    if e.starred {
        m.push('★');
    }
    if e.tender {
        m.push('♡');
    }
    if !e.conflicts.is_empty() {
        m.push('⚠');
    }
    m
}

fn pad(s: &str, width: usize) -> String {
    let len = s.chars().count();
    format!("{s}{}", " ".repeat(width.saturating_sub(len)))
}

/// Entries grouped by journal day, one aligned line each.
pub fn entry_lines(
    out: &mut impl Write,
    entries: &[Entry],
    names: &BTreeMap<PartnerId, String>,
    short: usize,
) -> Result<()> {
    entry_lines_after(out, entries, names, short, &mut None)
}

/// [`entry_lines`] for one page of a longer list: `day` is the day the
/// lines before ended on, so a day that runs across two pages keeps one
/// heading.
pub fn entry_lines_after(
    out: &mut impl Write,
    entries: &[Entry],
    names: &BTreeMap<PartnerId, String>,
    short: usize,
    day: &mut Option<NaiveDate>,
) -> Result<()> {
    let name_of = |p: &PartnerId| names.get(p).cloned().unwrap_or_else(|| p.to_string());
    let name_w = entries
        .iter()
        .map(|e| name_of(&e.author).chars().count())
        .max()
        .unwrap_or(0);
    // Times read as the writer's clock; when the writer's offset is not the
    // reader's, it is shown, so 23:30 in Los Angeles never reads as 23:30
    // in Tokyo.
    let here = crate::input::now().ok().map(|n| *n.offset());
    let time = |e: &Entry| {
        if here.is_some_and(|h| h != *e.created.offset()) {
            e.created.format("%H:%M %:z").to_string()
        } else {
            e.created.format("%H:%M").to_string()
        }
    };
    let time_w = entries.iter().map(|e| time(e).len()).max().unwrap_or(0);
    for e in entries {
        if *day != Some(e.day) {
            if day.is_some() {
                writeln!(out)?;
            }
            writeln!(out, "{}", bold(&e.day.format("%a %-d %b %Y").to_string()))?;
            *day = Some(e.day);
        }
        let mut summary = e.body.summary();
        if e.deleted.is_some() {
            summary = format!("(deleted) {summary}");
        }
        let id = &e.id.key()[..short.min(26)];
        let mut summary = match marks(e) {
            m if m.is_empty() => summary,
            m => format!("{summary} {m}"),
        };
        // On a terminal a long summary wraps under itself.
        if let Some(w) = width() {
            let indent = 2 + time_w + 2 + id.len() + 2 + name_w + 2 + 8 + 2;
            if w > indent + 10 {
                summary = wrap(&summary, w - indent, indent);
            }
        }
        writeln!(
            out,
            "  {}  {}  {}  {}  {}",
            dim(&pad(&time(e), time_w)),
            accent(id),
            pad(&name_of(&e.author), name_w),
            pad(kind_label(e), 8),
            summary,
        )?;
    }
    Ok(())
}

/// One entry in full.
pub fn entry_full(
    out: &mut impl Write,
    e: &Entry,
    names: &BTreeMap<PartnerId, String>,
) -> Result<()> {
    let name = names
        .get(&e.author)
        .cloned()
        .unwrap_or_else(|| e.author.to_string());
    writeln!(
        out,
        "{} {}",
        accent(&e.id.key()),
        dim(&format!("({})", kind_label(e)))
    )?;
    writeln!(out, "{:<9}{name}", "author")?;
    let mut written = e.created.format("%a %-d %b %Y %H:%M %:z").to_string();
    if let Ok(now) = crate::input::now()
        && now.offset() != e.created.offset()
    {
        let here = e.created.with_timezone(now.offset());
        written.push_str(&format!(" ({} your time)", here.format("%a %-d %b %H:%M")));
    }
    writeln!(out, "{:<9}{written}", "written")?;
    writeln!(out, "{:<9}{}", "day", e.day)?;
    if !e.tags.is_empty() {
        writeln!(
            out,
            "{:<9}{}",
            "tags",
            e.tags
                .iter()
                .map(|t| format!("@{t}"))
                .collect::<Vec<_>>()
                .join(" ")
        )?;
    }
    let mut flags = Vec::new();
    if e.starred {
        flags.push("starred");
    }
    if e.tender {
        flags.push("tender");
    }
    if !flags.is_empty() {
        writeln!(out, "{:<9}{}", "marked", flags.join(", "))?;
    }
    if let Some(t) = e.edited {
        writeln!(out, "{:<9}{}", "edited", t.format("%a %-d %b %Y %H:%M"))?;
    }
    if let Some(t) = e.deleted {
        writeln!(out, "{:<9}{}", "deleted", t.format("%a %-d %b %Y %H:%M"))?;
    }
    if let Some(t) = e.resolved {
        writeln!(out, "{:<9}{}", "settled", t.format("%a %-d %b %Y %H:%M"))?;
    }
    writeln!(out)?;
    let section = |out: &mut dyn Write, title: &str, text: &str| -> std::io::Result<()> {
        if !text.trim().is_empty() {
            writeln!(out, "{}", bold(title))?;
            let text = match width() {
                Some(w) => text
                    .trim_end()
                    .lines()
                    .map(|l| wrap(l, w, 0))
                    .collect::<Vec<_>>()
                    .join("\n"),
                None => text.trim_end().to_string(),
            };
            writeln!(out, "{text}\n")?;
        }
        Ok(())
    };
    match &e.body {
        Body::Checkin {
            mood,
            energy,
            need,
            note,
        } => {
            writeln!(out, "{:<9}{} ({})", "mood", mood.value(), mood.word())?;
            if let Some(en) = energy {
                writeln!(out, "{:<9}{} ({})", "energy", en.value(), en.word())?;
            }
            if let Some(n) = need {
                writeln!(out, "{:<9}{}", "needs", n.as_str())?;
            }
            writeln!(out)?;
            section(out, "Note", note)?;
        }
        Body::Highlow { high, low } => {
            section(out, "High", high)?;
            section(out, "Low", low)?;
        }
        Body::Gratitude { to, text } => {
            writeln!(out, "{:<9}{to}\n", "to")?;
            section(out, "Thanks", text)?;
        }
        Body::Note { text } => section(out, "Note", text)?,
        Body::Repair(r) => {
            let hearth_model::RepairBody {
                mode,
                happened,
                felt,
                my_part,
                need,
                agreements,
            } = &**r;
            writeln!(out, "{:<9}{}\n", "repair", mode.as_str())?;
            let what = if *mode == hearth_model::RepairMode::StartOver {
                "The moment to redo"
            } else {
                "What happened"
            };
            section(out, what, happened)?;
            section(out, "What I felt", felt)?;
            section(out, "My part", my_part)?;
            section(out, "What I need", need)?;
            if !agreements.is_empty() {
                writeln!(out, "{}", bold("Agreements"))?;
                for a in agreements {
                    writeln!(out, "  - {a}")?;
                }
                writeln!(out)?;
            }
        }
        Body::Answer { prompt, text } => {
            writeln!(out, "{:<9}{prompt}\n", "prompt")?;
            section(out, "Answer", text)?;
        }
    }
    for (field, others) in &e.conflicts {
        writeln!(
            out,
            "{} {field} was edited on two devices at once; the other version is kept:",
            accent("⚠")
        )?;
        for o in others {
            writeln!(out, "  | {}", o.replace('\n', "\n  | "))?;
        }
        writeln!(
            out,
            "{}",
            dim("  Run `hearth edit` on this entry to merge them; saving resolves it.")
        )?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::wrap;

    #[test]
    fn wrapping_breaks_at_spaces_and_indents_what_follows() {
        assert_eq!(wrap("one two three four", 9, 2), "one two\n  three\n  four");
        assert_eq!(wrap("short", 20, 4), "short");
        let cut = wrap(&"x".repeat(25), 10, 0);
        assert_eq!(cut.lines().map(str::len).collect::<Vec<_>>(), [10, 10, 5]);
    }
}
