//! Writing new entries.

use std::collections::BTreeSet;

use hearth_ipc::{Request, Response};
use hearth_model::{Body, NewEntry, RepairBody, RepairMode};

use super::{Ctx, unexpected};
use crate::args::{
    CheckinArgs, DebriefArgs, EntryFlags, HighlowArgs, NoteArgs, RepairCommand, ThanksArgs,
};
use crate::error::{CliError, Result};
use crate::input::{self, form_template, parse_form, text_from};
use crate::render;

pub fn new_entry(body: Body, flags: &EntryFlags) -> NewEntry {
    NewEntry {
        body,
        tags: flags.tags.iter().cloned().collect::<BTreeSet<_>>(),
        starred: flags.star,
        tender: if flags.tender {
            Some(true)
        } else if flags.not_tender {
            Some(false)
        } else {
            None
        },
    }
}

/// Validates locally (so bad input never reaches the daemon), sends, and
/// confirms what was saved.
pub fn add(ctx: &mut Ctx, entry: NewEntry, private: bool) -> Result<hearth_model::Entry> {
    entry.body.validate()?;
    for t in &entry.tags {
        hearth_model::entry::normalize_tag(t)?;
    }
    let at = input::now()?;
    match ctx.call(Request::Add(hearth_ipc::AddEntry { entry, at, private }))? {
        Response::Entry {
            entry,
            completed,
            short_len,
            ..
        } => {
            let mut line = format!(
                "Saved {} {}",
                render::kind_label(&entry),
                render::accent(&entry.id.key()[..short_len.clamp(1, 26)])
            );
            if !completed.is_empty() {
                line.push_str(&format!(" · completes {}", completed.join(", ")));
            }
            println!("{line}");
            Ok(*entry)
        }
        r => Err(unexpected(r)),
    }
}

pub fn checkin(ctx: &mut Ctx, a: CheckinArgs) -> Result<()> {
    let mood = match a.mood {
        Some(m) => m,
        None if !input::stdin_is_piped() => ask_mood()?,
        None => {
            return Err(CliError::user(
                "--mood is required (1-5, or rough, low, okay, good, great)",
            ));
        }
    };
    let note = match a.note {
        Some(n) if !a.flags.edit => n,
        n if a.flags.edit => input::edit(
            &format!(
                "{c} How are you, really? Anything you want your partner to know.\n{}",
                n.unwrap_or_default(),
                c = input::COMMENT
            ),
            &ctx.paths.runtime,
        )?,
        _ if input::stdin_is_piped() => input::read_stdin()?,
        _ => String::new(),
    };
    let body = Body::Checkin {
        mood,
        energy: a.energy,
        need: a.need,
        note: note.trim_end().to_string(),
    };
    add(ctx, new_entry(body, &a.flags), a.flags.private).map(|_| ())
}

/// Asks for the mood on the terminal until the answer is on the scale. An
/// empty answer or end of input gives up, writing nothing.
fn ask_mood() -> Result<hearth_model::Mood> {
    input::ask(
        "How are you, really? 1 rough · 2 low · 3 okay · 4 good · 5 great: ",
        |s| s.parse::<hearth_model::Mood>().map_err(|e| e.to_string()),
    )
}

pub fn highlow(ctx: &mut Ctx, a: HighlowArgs) -> Result<()> {
    let (high, low) = if (a.high.is_some() || a.low.is_some()) && !a.flags.edit {
        (a.high.unwrap_or_default(), a.low.unwrap_or_default())
    } else {
        let sections = ["high", "low"];
        let text = if input::stdin_is_piped() && !a.flags.edit {
            input::read_stdin()?
        } else {
            let t = form_template(
                "The high point and the low point of your day.",
                &[
                    ("high", a.high.as_deref().unwrap_or("")),
                    ("low", a.low.as_deref().unwrap_or("")),
                ],
            );
            input::edit(&t, &ctx.paths.runtime)?
        };
        let f = parse_form(&text, &sections)?;
        let get = |k: &str| {
            f.iter()
                .find(|(n, _)| n == k)
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        (get("high"), get("low"))
    };
    add(
        ctx,
        new_entry(Body::Highlow { high, low }, &a.flags),
        a.flags.private,
    )
    .map(|_| ())
}

pub fn thanks(ctx: &mut Ctx, a: ThanksArgs) -> Result<()> {
    let to = match a.to {
        Some(t) => t,
        None => partner_name(ctx)?,
    };
    let text = text_from(
        a.text,
        a.flags.edit,
        &format!("{} What are you grateful to {to} for?\n", input::COMMENT),
        &ctx.paths.runtime,
    )?;
    add(
        ctx,
        new_entry(Body::Gratitude { to, text }, &a.flags),
        a.flags.private,
    )
    .map(|_| ())
}

/// The partner's name, for thanks addressed to them by default.
fn partner_name(ctx: &mut Ctx) -> Result<String> {
    match ctx.call(Request::Status)? {
        Response::Status(s) => {
            if s.me.is_none() {
                return Err(CliError::user(
                    "this device is not set up yet: run `hearth init --name <your name>`",
                ));
            }
            s.partner.map(|(_, n)| n).ok_or_else(|| {
                CliError::user(
                    "your partner has not joined this journal yet; say who with --to NAME",
                )
            })
        }
        r => Err(unexpected(r)),
    }
}

pub fn note(ctx: &mut Ctx, a: NoteArgs) -> Result<()> {
    let text = text_from(
        a.text,
        a.flags.edit,
        &format!("{} A note.\n", input::COMMENT),
        &ctx.paths.runtime,
    )?;
    add(
        ctx,
        new_entry(Body::Note { text }, &a.flags),
        a.flags.private,
    )
    .map(|_| ())
}

pub fn repair(ctx: &mut Ctx, c: RepairCommand) -> Result<()> {
    match c {
        RepairCommand::StartOver { text, flags } => {
            let text = text_from(
                text,
                flags.edit,
                &format!(
                    "{c} Can we start over? Which moment would you like to redo, and how?\n",
                    c = input::COMMENT
                ),
                &ctx.paths.runtime,
            )?;
            let body = Body::Repair(Box::new(RepairBody {
                mode: RepairMode::StartOver,
                happened: text,
                felt: String::new(),
                my_part: String::new(),
                need: String::new(),
                agreements: Vec::new(),
            }));
            add(ctx, new_entry(body, &flags), flags.private).map(|_| ())
        }
        RepairCommand::Debrief(a) => debrief(ctx, a),
        RepairCommand::Resolve { id, reopen } => {
            let at = input::now()?;
            match ctx.call(Request::RepairResolve(hearth_ipc::RepairResolve {
                id,
                resolved: !reopen,
                at,
            }))? {
                Response::Entry {
                    entry, short_len, ..
                } => {
                    let short = render::accent(&entry.id.key()[..short_len.clamp(1, 26)]);
                    if reopen {
                        println!(
                            "Reopened the agreements of {short}; reviews will raise them again."
                        );
                    } else {
                        println!(
                            "Settled the agreements of {short}; reviews will stop raising them."
                        );
                    }
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
    }
}

fn debrief(ctx: &mut Ctx, a: DebriefArgs) -> Result<()> {
    let any_flag = a.happened.is_some()
        || a.felt.is_some()
        || a.my_part.is_some()
        || a.need.is_some()
        || !a.agreements.is_empty();
    let body = if any_flag && !a.flags.edit {
        Body::Repair(Box::new(RepairBody {
            mode: RepairMode::Debrief,
            happened: a.happened.unwrap_or_default(),
            felt: a.felt.unwrap_or_default(),
            my_part: a.my_part.unwrap_or_default(),
            need: a.need.unwrap_or_default(),
            agreements: a
                .agreements
                .iter()
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect(),
        }))
    } else {
        let text = if input::stdin_is_piped() && !a.flags.edit {
            input::read_stdin()?
        } else {
            let t = form_template(
                "A debrief, once you are both calm. Describe, don't blame.\nOne agreement per line under [agreements].",
                &[
                    ("what_happened", a.happened.as_deref().unwrap_or("")),
                    ("what_i_felt", a.felt.as_deref().unwrap_or("")),
                    ("my_part", a.my_part.as_deref().unwrap_or("")),
                    ("what_i_need", a.need.as_deref().unwrap_or("")),
                    ("agreements", &a.agreements.join("\n")),
                ],
            );
            input::edit(&t, &ctx.paths.runtime)?
        };
        debrief_from_form(&text)?
    };
    add(ctx, new_entry(body, &a.flags), a.flags.private).map(|_| ())
}

pub fn debrief_from_form(text: &str) -> Result<Body> {
    let sections = [
        "what_happened",
        "what_i_felt",
        "my_part",
        "what_i_need",
        "agreements",
    ];
    let f = parse_form(text, &sections)?;
    let get = |k: &str| {
        f.iter()
            .find(|(n, _)| n == k)
            .map(|(_, v)| v.clone())
            .unwrap_or_default()
    };
    Ok(Body::Repair(Box::new(RepairBody {
        mode: RepairMode::Debrief,
        happened: get("what_happened"),
        felt: get("what_i_felt"),
        my_part: get("my_part"),
        need: get("what_i_need"),
        agreements: get("agreements")
            .lines()
            .map(|l| l.trim().trim_start_matches("- ").trim().to_string())
            .filter(|l| !l.is_empty())
            .collect(),
    })))
}
