//! Changing and deleting one's own entries.

use std::collections::BTreeSet;

use hearth_ipc::{Request, Response};
use hearth_model::{Body, Entry, EntryPatch, RepairBody};

use super::{Ctx, unexpected, write::debrief_from_form};
use crate::args::{DeleteArgs, EditArgs};
use crate::error::{CliError, Result};
use crate::input::{self, form_template, parse_form};
use crate::render;

/// The editable text of an entry, as a form; conflicting versions are shown
/// beside each field so the user can merge them by hand.
fn form_for(e: &Entry) -> String {
    let with_conflicts = |field: &str, value: &str| -> String {
        match e.conflicts.get(field) {
            Some(others) => {
                let mut s = value.to_string();
                for o in others {
                    s.push_str("\n\n");
                    s.push_str(&format!("{} another device's version of this field follows; merge and delete as you like\n", input::COMMENT));
                    s.push_str(o);
                }
                s
            }
            None => value.to_string(),
        }
    };
    let intro = format!(
        "Editing {} ({}). Save and quit to keep your changes.",
        e.id,
        e.kind()
    );
    match &e.body {
        Body::Checkin {
            mood,
            energy,
            need,
            note,
        } => form_template(
            &format!(
                "{intro}\nmood: 1-5 or rough, low, okay, good, great. energy: 1-5 or drained, tired, steady, lively, buzzing; empty for none.\nneed: talk, space, hug, help or your own word; empty for none."
            ),
            &[
                ("mood", &mood.value().to_string()),
                (
                    "energy",
                    &energy.map(|e| e.value().to_string()).unwrap_or_default(),
                ),
                ("need", need.as_ref().map(|n| n.as_str()).unwrap_or("")),
                ("note", &with_conflicts("note", note)),
            ],
        ),
        Body::Highlow { high, low } => form_template(
            &intro,
            &[
                ("high", &with_conflicts("high", high)),
                ("low", &with_conflicts("low", low)),
            ],
        ),
        Body::Gratitude { to, text } => form_template(
            &intro,
            &[
                ("to", &with_conflicts("to", to)),
                ("text", &with_conflicts("text", text)),
            ],
        ),
        Body::Note { text } | Body::Answer { text, .. } => {
            form_template(&intro, &[("text", &with_conflicts("text", text))])
        }
        Body::Repair(r) => match r.mode {
            hearth_model::RepairMode::StartOver => form_template(
                &intro,
                &[("text", &with_conflicts("happened", &r.happened))],
            ),
            hearth_model::RepairMode::Debrief => form_template(
                &intro,
                &[
                    ("what_happened", &with_conflicts("happened", &r.happened)),
                    ("what_i_felt", &with_conflicts("felt", &r.felt)),
                    ("my_part", &with_conflicts("my_part", &r.my_part)),
                    ("what_i_need", &with_conflicts("need", &r.need)),
                    (
                        "agreements",
                        &with_conflicts("agreements", &r.agreements.join("\n")),
                    ),
                ],
            ),
        },
    }
}

/// The one text field of a kind that has only one, by its form section.
fn single_text(e: &Entry) -> bool {
    match &e.body {
        Body::Note { .. } | Body::Answer { .. } => true,
        Body::Repair(r) => r.mode == hearth_model::RepairMode::StartOver,
        _ => false,
    }
}

/// Whether `text` is the one-section form of a single-text kind: its first
/// line that says something is `[text]`.
fn is_form(text: &str) -> bool {
    text.lines()
        .filter(|l| !l.starts_with(input::COMMENT))
        .find(|l| !l.trim().is_empty())
        .is_some_and(|l| l.trim().eq_ignore_ascii_case("[text]"))
}

fn body_from_form(e: &Entry, text: &str) -> Result<Body> {
    // A note, an answer or a start-over takes plain text too: all of it is
    // the new text.
    let plain;
    let text = if single_text(e) && !is_form(text) {
        plain = format!("[text]\n{text}");
        plain.as_str()
    } else {
        text
    };
    let field = |sections: &[&str]| -> Result<Vec<(String, String)>> { parse_form(text, sections) };
    let get = |f: &[(String, String)], k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(match &e.body {
        Body::Checkin {
            mood,
            energy,
            need,
            note,
        } => {
            let f = field(&["mood", "energy", "need", "note"])?;
            let given = |k: &str| f.iter().find(|(n, _)| n == k).map(|(_, v)| v.trim());
            // A section left out keeps its value; an empty one clears it.
            Body::Checkin {
                mood: match given("mood") {
                    None => *mood,
                    Some(m) => m.parse()?,
                },
                energy: match given("energy") {
                    None => *energy,
                    Some("") => None,
                    Some(e) => Some(e.parse()?),
                },
                need: match given("need") {
                    None => need.clone(),
                    Some("") => None,
                    Some(n) => Some(n.parse()?),
                },
                note: f
                    .iter()
                    .find(|(n, _)| n == "note")
                    .map_or_else(|| note.clone(), |(_, v)| v.clone()),
            }
        }
        Body::Highlow { high, low } => {
            let f = field(&["high", "low"])?;
            Body::Highlow {
                high: keep(&f, "high", high),
                low: keep(&f, "low", low),
            }
        }
        Body::Gratitude { to, text } => {
            let f = field(&["to", "text"])?;
            Body::Gratitude {
                to: keep(&f, "to", to),
                text: keep(&f, "text", text),
            }
        }
        Body::Note { .. } => Body::Note {
            text: get(&field(&["text"])?, "text"),
        },
        Body::Answer { prompt, .. } => Body::Answer {
            prompt: prompt.clone(),
            text: get(&field(&["text"])?, "text"),
        },
        Body::Repair(r) if r.mode == hearth_model::RepairMode::StartOver => {
            Body::Repair(Box::new(RepairBody {
                mode: hearth_model::RepairMode::StartOver,
                happened: get(&field(&["text"])?, "text"),
                felt: String::new(),
                my_part: String::new(),
                need: String::new(),
                agreements: Vec::new(),
            }))
        }
        Body::Repair(r) => {
            let RepairBody {
                happened,
                felt,
                my_part,
                need,
                agreements,
                ..
            } = &**r;
            let sections = [
                "what_happened",
                "what_i_felt",
                "my_part",
                "what_i_need",
                "agreements",
            ];
            let f = field(&sections)?;
            let Body::Repair(new) = debrief_from_form(text)? else {
                unreachable!("a debrief form gives a debrief")
            };
            let new_agreements = new.agreements;
            Body::Repair(Box::new(RepairBody {
                mode: hearth_model::RepairMode::Debrief,
                happened: keep(&f, "what_happened", happened),
                felt: keep(&f, "what_i_felt", felt),
                my_part: keep(&f, "my_part", my_part),
                need: keep(&f, "what_i_need", need),
                agreements: if f.iter().any(|(n, _)| n == "agreements") {
                    new_agreements
                } else {
                    agreements.clone()
                },
            }))
        }
    })
}

/// A section's new text, or the old value when the section was left out.
fn keep(f: &[(String, String)], key: &str, old: &str) -> String {
    f.iter()
        .find(|(n, _)| n == key)
        .map_or_else(|| old.to_string(), |(_, v)| v.clone())
}

pub fn edit(ctx: &mut Ctx, a: EditArgs) -> Result<()> {
    let entry = match ctx.call(Request::Show(hearth_ipc::ShowEntry { id: a.id.clone() }))? {
        Response::Entry { entry, .. } => *entry,
        r => return Err(unexpected(r)),
    };
    let flag_edit = a.star
        || a.unstar
        || a.tender
        || a.not_tender
        || a.private
        || a.shared
        || !a.add_tags.is_empty()
        || !a.remove_tags.is_empty();
    let mut patch = EntryPatch::default();
    if flag_edit {
        patch.starred = if a.star {
            Some(true)
        } else if a.unstar {
            Some(false)
        } else {
            None
        };
        patch.tender = if a.tender {
            Some(true)
        } else if a.not_tender {
            Some(false)
        } else {
            None
        };
        patch.private = if a.private {
            Some(true)
        } else if a.shared {
            Some(false)
        } else {
            None
        };
        if !a.add_tags.is_empty() || !a.remove_tags.is_empty() {
            let mut tags: BTreeSet<String> = (&entry.tags).into();
            for t in &a.add_tags {
                tags.insert(hearth_model::entry::normalize_tag(t)?);
            }
            for t in &a.remove_tags {
                tags.remove(&hearth_model::entry::normalize_tag(t)?);
            }
            patch.tags = Some(tags);
        }
    } else {
        let text = if input::stdin_is_piped() && !a.edit {
            input::read_stdin()?
        } else {
            input::edit(&form_for(&entry), &ctx.paths.runtime)?
        };
        let body = body_from_form(&entry, &text)?;
        body.validate()?;
        if body == entry.body && entry.conflicts.is_empty() {
            println!("No changes.");
            return Ok(());
        }
        patch.body = Some(body);
    }
    let at = input::now()?;
    let before = entry;
    match ctx.call(Request::Edit(hearth_ipc::EditEntry {
        id: before.id.key(),
        patch,
        at,
    }))? {
        Response::Entry {
            entry,
            names,
            short_len,
            ..
        } => {
            if a.json {
                render::print_json(&render::entry_json(&entry, &names)?)
            } else {
                let short = render::accent(&entry.id.key()[..short_len.clamp(1, 26)]);
                if entry.id == before.id {
                    println!("Updated {} {short}", entry.kind());
                } else if entry.private {
                    println!(
                        "Moved {} to your private entries; its id is now {short}",
                        entry.kind()
                    );
                } else {
                    println!(
                        "Moved {} back to the shared journal; its id is now {short}",
                        entry.kind()
                    );
                }
                Ok(())
            }
        }
        r => Err(unexpected(r)),
    }
}

pub fn delete(ctx: &mut Ctx, a: DeleteArgs) -> Result<()> {
    if a.id.trim().is_empty() {
        return Err(CliError::user("the id is empty"));
    }
    // The words go for good once the delete syncs: a person at a terminal
    // is asked; a script (stdin not a terminal) is not, as with `rm`.
    if !a.yes
        && !input::stdin_is_piped()
        && !input::confirm(&format!(
            "Delete {}? Its words are forgotten on every device once synced, and cannot be brought back. [y/N] ",
            a.id.trim()
        ))?
    {
        return Err(CliError::user("not deleted"));
    }
    let at = input::now()?;
    match ctx.call(Request::Delete(hearth_ipc::DeleteEntry { id: a.id, at }))? {
        Response::Entry {
            entry, short_len, ..
        } => {
            println!(
                "Deleted {} {}",
                entry.kind(),
                render::accent(&entry.id.key()[..short_len.clamp(1, 26)])
            );
            Ok(())
        }
        r => Err(unexpected(r)),
    }
}
