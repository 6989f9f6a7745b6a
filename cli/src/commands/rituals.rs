//! Rituals, what is due, and the daily prompt.

use std::io::Write;

use hearth_ipc::{DueList, OwnerArg, PartnerAnswer, PromptToday, Request, Response};
use hearth_model::Body;
use hearth_model::ritual::Owner;

use super::{Ctx, unexpected, write};
use crate::args::{OwnerChoice, PromptArgs, PromptCommand, RitualCommand};
use crate::error::{CliError, Result};
use crate::input;
use crate::render;

pub fn ritual(ctx: &mut Ctx, c: RitualCommand) -> Result<()> {
    let at = input::now()?;
    match c {
        RitualCommand::Add(a) => {
            let owner = match a.owner {
                OwnerChoice::Me => OwnerArg::Me,
                OwnerChoice::Partner => OwnerArg::Partner,
                OwnerChoice::Both => OwnerArg::Both,
                OwnerChoice::Together => OwnerArg::Together,
            };
            if a.name.trim().is_empty() {
                return Err(CliError::user("the ritual name is empty; nothing written"));
            }
            let name = a.name.trim().to_string();
            match ctx.call(Request::RitualAdd {
                name: name.clone(),
                kind: a.kind,
                cadence: a.cadence,
                owner,
                fulfilled_by: a.fulfilled_by,
                at,
            })? {
                Response::Rituals(list) => {
                    if a.json {
                        let r = list.rituals.iter().find(|r| r.name == name);
                        return render::print_json(&r);
                    }
                    println!("Added ritual {name:?} ({}).", a.cadence);
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
        RitualCommand::List(a) => match ctx.call(Request::RitualList { at })? {
            Response::Rituals(list) => {
                if a.json {
                    return render::print_json(&list);
                }
                let mut out = std::io::stdout().lock();
                if list.rituals.is_empty() {
                    writeln!(
                        out,
                        "{}",
                        render::dim(
                            "No rituals yet. Add one: hearth ritual add \"Evening check-in\" --cadence daily --fulfilled-by checkin"
                        )
                    )?;
                    return Ok(());
                }
                let w = list
                    .rituals
                    .iter()
                    .map(|r| r.name.chars().count())
                    .max()
                    .unwrap_or(0);
                for r in &list.rituals {
                    let occ = r.cadence.occurrence(list.today);
                    let who: Vec<String> = list
                        .log
                        .iter()
                        .filter(|d| d.ritual == r.id && d.occurrence == occ)
                        .map(|d| {
                            list.names
                                .get(&d.partner)
                                .cloned()
                                .unwrap_or_else(|| d.partner.to_string())
                        })
                        .collect();
                    let owner = match &r.owner {
                        Owner::Both => "each of you".to_string(),
                        Owner::Together => "together".to_string(),
                        Owner::Partner(p) => {
                            list.names.get(p).cloned().unwrap_or_else(|| p.to_string())
                        }
                    };
                    let status = if who.is_empty() {
                        format!("not yet this {}", r.cadence.period_word())
                    } else {
                        format!(
                            "done this {} by {}",
                            r.cadence.period_word(),
                            who.join(" and ")
                        )
                    };
                    writeln!(
                        out,
                        "{}{}  {:<14} {:<12} {}",
                        render::bold(&r.name),
                        " ".repeat(w - r.name.chars().count()),
                        r.cadence.to_string(),
                        owner,
                        render::dim(&status)
                    )?;
                }
                Ok(())
            }
            r => Err(unexpected(r)),
        },
        RitualCommand::Done {
            ritual,
            entry,
            json,
        } => match ctx.call(Request::RitualDone { ritual, entry, at })? {
            Response::RitualDone { ritual, done } => {
                if json {
                    return render::print_json(&done);
                }
                println!(
                    "Done: {} (this {} from {})",
                    ritual.name,
                    ritual.cadence.period_word(),
                    done.occurrence
                );
                Ok(())
            }
            r => Err(unexpected(r)),
        },
        RitualCommand::Due(a) => due(ctx, a.json),
    }
}

pub fn due(ctx: &mut Ctx, json: bool) -> Result<()> {
    let at = input::now()?;
    match ctx.call(Request::Due { at })? {
        Response::Due(d) => {
            if json {
                return render::print_json(&d);
            }
            print_due(&mut std::io::stdout().lock(), &d)
        }
        r => Err(unexpected(r)),
    }
}

pub fn print_due(out: &mut impl Write, d: &DueList) -> Result<()> {
    let partner = d
        .names
        .iter()
        .find(|(p, _)| **p != d.me)
        .map(|(_, n)| n.clone());
    if d.items.is_empty() {
        writeln!(out, "{}", render::dim("No rituals are due."))?;
        return Ok(());
    }
    writeln!(out, "{}", render::bold("Rituals"))?;
    for item in &d.items {
        let mark = if item.due { "○" } else { "●" };
        let mut line = format!("  {mark} {}", item.ritual.name);
        if item.due && item.occurrence < d.today {
            line.push_str(&format!(
                " (this {} since {})",
                item.ritual.cadence.period_word(),
                item.occurrence.format("%a %-d %b")
            ));
        }
        if item.done_by_partner {
            if let Some(p) = &partner {
                line.push_str(&format!(" · {p} has done theirs"));
            }
        }
        let line = if item.due { line } else { render::dim(&line) };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

pub fn prompt(ctx: &mut Ctx, a: PromptArgs) -> Result<()> {
    let at = input::now()?;
    match a.command {
        None => match ctx.call(Request::Prompt { at })? {
            Response::Prompt(p) => {
                if a.json {
                    return render::print_json(&p);
                }
                print_prompt(&mut std::io::stdout().lock(), &p)
            }
            r => Err(unexpected(r)),
        },
        Some(PromptCommand::Answer { text, flags }) => {
            let p = match ctx.call(Request::Prompt { at })? {
                Response::Prompt(p) => p,
                r => return Err(unexpected(r)),
            };
            let text = input::text_from(
                text,
                flags.edit,
                &format!("{} {}\n", input::COMMENT, p.prompt.text),
                &ctx.paths.runtime,
            )?;
            let entry = write::new_entry(
                Body::Answer {
                    prompt: p.prompt.id.clone(),
                    text,
                },
                &flags,
            );
            write::add(ctx, entry)?;
            if let PartnerAnswer::Sealed = p.partner {
                let name = p.partner_name.unwrap_or_else(|| "Your partner".into());
                println!("{name} answered too: `hearth prompt` shows both answers now.");
            }
            Ok(())
        }
        Some(PromptCommand::Add { text, theme }) => {
            let theme = hearth_model::deck::Theme::parse(&theme)
                .ok_or_else(|| CliError::from(hearth_model::ModelError::Theme(theme.clone())))?;
            if text.trim().is_empty() {
                return Err(CliError::user("the prompt text is empty; nothing written"));
            }
            match ctx.call(Request::PromptAdd { text, theme, at })? {
                Response::Prompt(_) => {
                    println!("Added your prompt to the deck.");
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
    }
}

pub fn print_prompt(out: &mut impl Write, p: &PromptToday) -> Result<()> {
    writeln!(
        out,
        "{} {}",
        render::bold("Today's prompt"),
        render::dim(&format!("({})", p.prompt.theme.as_str()))
    )?;
    writeln!(out, "  {}", p.prompt.text)?;
    match &p.mine {
        Some(e) => {
            if let Body::Answer { text, .. } = &e.body {
                writeln!(out, "\n{}", render::bold("Your answer"))?;
                writeln!(out, "  {}", text.replace('\n', "\n  "))?;
            }
        }
        None => writeln!(
            out,
            "{}",
            render::dim("  Answer with `hearth prompt answer`.")
        )?,
    }
    let name = p
        .partner_name
        .clone()
        .unwrap_or_else(|| "Your partner".into());
    match &p.partner {
        PartnerAnswer::NotYet => {}
        PartnerAnswer::Sealed => writeln!(
            out,
            "{}",
            render::dim(&format!(
                "  {name} has answered; their answer opens when you answer too."
            ))
        )?,
        PartnerAnswer::Shown { entry } => {
            if let Body::Answer { text, .. } = &entry.body {
                writeln!(out, "\n{}", render::bold(&format!("{name}'s answer")))?;
                writeln!(out, "  {}", text.replace('\n', "\n  "))?;
            }
        }
    }
    Ok(())
}
