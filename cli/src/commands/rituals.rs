//! Rituals, what is due, and the daily prompt.

use std::io::Write;

use hearth_ipc::{DueList, OwnerArg, PartnerAnswer, PromptToday, Request, Response, RitualList};
use hearth_model::ritual::{Lane, Owner, TEMPLATES, TemplateOwner};
use hearth_model::{Body, Cadence};

use super::{Ctx, unexpected, write};
use crate::args::{
    OwnerChoice, PromptArgs, PromptCommand, RitualAddArgs, RitualCommand, RitualShape,
};
use crate::error::{CliError, Result};
use crate::input;
use crate::render;

pub fn ritual(ctx: &mut Ctx, c: RitualCommand) -> Result<()> {
    let at = input::now()?;
    match c {
        RitualCommand::Add(a) => add(ctx, a, at),
        RitualCommand::Templates(a) => templates(a.json),
        RitualCommand::Change(a) => {
            // `--on` alone keeps the current cadence, which the daemon knows.
            let cadence = a.shape.cadence;
            if a.name.as_deref().is_some_and(|n| n.trim().is_empty()) {
                return Err(CliError::user("the new name is empty; nothing written"));
            }
            let list =
                rituals_reply(ctx.call(Request::RitualChange(hearth_ipc::RitualChange {
                    ritual: a.ritual.clone(),
                    name: a.name.clone(),
                    cadence,
                    on: a.shape.on.clone(),
                    owner: a.shape.owner.map(owner_arg),
                    fulfilled_by: a.shape.fulfilled_by,
                    manual: a.shape.manual,
                    at,
                }))?)?;
            if a.json {
                return render::print_json(&list);
            }
            println!("Changed {}.", a.name.as_deref().unwrap_or(&a.ritual));
            Ok(())
        }
        RitualCommand::Remove { ritual } => {
            rituals_reply(ctx.call(Request::RitualRemove(hearth_ipc::RitualRemove {
                ritual: ritual.clone(),
                at,
            }))?)?;
            println!("Retired {ritual:?}; its history stays in the journal.");
            Ok(())
        }
        RitualCommand::List(a) => {
            let list =
                rituals_reply(ctx.call(Request::RitualList(hearth_ipc::RitualListQuery { at }))?)?;
            if a.json {
                return render::print_json(&list);
            }
            print_list(&mut std::io::stdout().lock(), &list)
        }
        RitualCommand::Rhythm(a) => {
            let list =
                rituals_reply(ctx.call(Request::RitualList(hearth_ipc::RitualListQuery { at }))?)?;
            if a.json {
                return render::print_json(&list.rhythms);
            }
            print_rhythms(&mut std::io::stdout().lock(), &list)
        }
        RitualCommand::Done {
            ritual,
            entry,
            json,
        } => match ctx.call(Request::RitualDone(hearth_ipc::MarkDone {
            ritual,
            entry,
            at,
        }))? {
            Response::RitualDone { ritual, done } => {
                if json {
                    return render::print_json(&done);
                }
                println!(
                    "Done: {} (the {} from {})",
                    ritual.name,
                    ritual.cadence.period_word(),
                    done.occurrence.format("%a %-d %b")
                );
                Ok(())
            }
            r => Err(unexpected(r)),
        },
        RitualCommand::Due(a) => due(ctx, a.json),
    }
}

fn rituals_reply(r: Response) -> Result<RitualList> {
    match r {
        Response::Rituals(list) => Ok(*list),
        r => Err(unexpected(r)),
    }
}

fn owner_arg(o: OwnerChoice) -> OwnerArg {
    match o {
        OwnerChoice::Me => OwnerArg::Me,
        OwnerChoice::Partner => OwnerArg::Partner,
        OwnerChoice::Both => OwnerArg::Both,
        OwnerChoice::Together => OwnerArg::Together,
    }
}

/// The cadence `--cadence` and `--on` ask for, starting from `base` (a
/// template's) when `--cadence` is absent.
fn shape_cadence(shape: &RitualShape, base: Option<Cadence>) -> Result<Option<Cadence>> {
    let c = shape.cadence.or(base);
    match (&shape.on, c) {
        (None, c) => Ok(c),
        (Some(_), None) => Err(CliError::usage(
            "--on needs a cadence: add --cadence weekly, monthly or yearly",
        )),
        (Some(on), Some(c)) => c
            .on_day(on)
            .map(Some)
            .map_err(|e| CliError::usage(e.to_string())),
    }
}

fn add(ctx: &mut Ctx, a: RitualAddArgs, at: chrono::DateTime<chrono::FixedOffset>) -> Result<()> {
    let template = TEMPLATES
        .iter()
        .find(|t| t.key.eq_ignore_ascii_case(a.ritual.trim()));
    let (name, kind, cadence, owner, fulfilled_by) = match template {
        Some(t) => (
            a.name.clone().unwrap_or_else(|| t.name.to_string()),
            t.key.to_string(),
            shape_cadence(&a.shape, Some(t.cadence))?.unwrap_or(t.cadence),
            a.shape.owner.map(owner_arg).unwrap_or(match t.owner {
                TemplateOwner::Both => OwnerArg::Both,
                TemplateOwner::Together => OwnerArg::Together,
            }),
            if a.shape.manual {
                None
            } else {
                a.shape.fulfilled_by.or(t.fulfilled_by)
            },
        ),
        None => {
            if a.name.is_some() {
                return Err(CliError::usage(format!(
                    "--name renames a template, and {:?} is not one; see `hearth ritual templates`",
                    a.ritual
                )));
            }
            let cadence = shape_cadence(&a.shape, None)?.ok_or_else(|| {
                CliError::usage(format!(
                    "{:?} is not a template, so it needs --cadence (daily, weekly:<day>, monthly[:<day>] or yearly[:<MM-DD>]); templates: {}",
                    a.ritual,
                    TEMPLATES.iter().map(|t| t.key).collect::<Vec<_>>().join(", ")
                ))
            })?;
            (
                a.ritual.clone(),
                "custom".to_string(),
                cadence,
                a.shape.owner.map_or(OwnerArg::Both, owner_arg),
                a.shape.fulfilled_by,
            )
        }
    };
    let name = name.trim().to_string();
    if name.is_empty() {
        return Err(CliError::user("the ritual name is empty; nothing written"));
    }
    let list = rituals_reply(ctx.call(Request::RitualAdd(hearth_ipc::RitualAdd {
        name: name.clone(),
        kind,
        cadence,
        owner,
        fulfilled_by,
        at,
    }))?)?;
    if a.json {
        let r = list.rituals.iter().find(|r| r.name == name);
        return render::print_json(&r);
    }
    let mut line = format!(
        "Added {} ({})",
        render::bold(&name),
        describe_cadence(cadence)
    );
    if let Some(k) = fulfilled_by {
        line.push_str(&format!("; writing a {} completes it", kind_words(k)));
    }
    println!("{line}.");
    Ok(())
}

/// An entry kind as the commands name it.
pub fn kind_words(k: hearth_model::Kind) -> &'static str {
    match k {
        hearth_model::Kind::Checkin => "check-in",
        hearth_model::Kind::Highlow => "high-low",
        hearth_model::Kind::Gratitude => "thanks",
        hearth_model::Kind::Note => "note",
        hearth_model::Kind::Repair => "repair",
        hearth_model::Kind::Answer => "prompt answer",
    }
}

/// "every day", "every Sunday", "monthly on the 15th", ...
pub fn describe_cadence(c: Cadence) -> String {
    let ordinal = |d: u32| {
        let suffix = match (d % 10, d % 100) {
            (_, 11..=13) => "th",
            (1, _) => "st",
            (2, _) => "nd",
            (3, _) => "rd",
            _ => "th",
        };
        format!("{d}{suffix}")
    };
    match c {
        Cadence::Daily => "every day".into(),
        Cadence::Weekly(w) => {
            let d = chrono::NaiveDate::from_isoywd_opt(2026, 1, w).expect("valid week");
            format!("every {}", d.format("%A"))
        }
        Cadence::Monthly(31) => "monthly, on the last day".into(),
        Cadence::Monthly(d) => format!("monthly, on the {}", ordinal(d)),
        Cadence::Yearly(m, d) => {
            let date = chrono::NaiveDate::from_ymd_opt(2028, m, d).expect("valid cadence");
            format!("yearly, on {}", date.format("%-d %B"))
        }
    }
}

fn templates(json: bool) -> Result<()> {
    if json {
        let v: Vec<_> = TEMPLATES
            .iter()
            .map(|t| {
                serde_json::json!({
                    "key": t.key,
                    "name": t.name,
                    "cadence": t.cadence,
                    "owner": match t.owner { TemplateOwner::Both => "both", TemplateOwner::Together => "together" },
                    "fulfilled_by": t.fulfilled_by,
                    "about": t.about,
                })
            })
            .collect();
        return render::print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    for t in &TEMPLATES {
        let who = match t.owner {
            TemplateOwner::Both => "each of you",
            TemplateOwner::Together => "together",
        };
        writeln!(
            out,
            "{:<20} {}",
            render::bold(t.key),
            render::dim(&format!("{}, {who}", describe_cadence(t.cadence)))
        )?;
        writeln!(out, "{:<20} {}", "", t.about)?;
    }
    writeln!(
        out,
        "\n{}",
        render::dim(
            "Add one with `hearth ritual add <template>`; adjust with --on, --cadence and --owner. Or name your own: hearth ritual add \"Sunday walk\" --cadence weekly:sun"
        )
    )?;
    Ok(())
}

fn name_of(
    names: &std::collections::BTreeMap<hearth_model::PartnerId, String>,
    p: &hearth_model::PartnerId,
) -> String {
    names.get(p).cloned().unwrap_or_else(|| p.to_string())
}

fn owner_text(list: &RitualList, o: &Owner) -> String {
    match o {
        Owner::Both => "each of you".to_string(),
        Owner::Together => "together".to_string(),
        Owner::Partner(p) => name_of(&list.names, p),
    }
}

/// "done 8 of the last 10 weeks", or where a young ritual stands.
pub fn rhythm_words(lane: &Lane, cadence: Cadence, starts: Option<chrono::NaiveDate>) -> String {
    let unit = cadence.period_word();
    if let (Some(first), true) = (starts, lane.windows.is_empty()) {
        return format!("new: the first one is from {}", first.format("%a %-d %b"));
    }
    match lane.counted {
        0 if unit == "day" => "not yet today".to_string(),
        0 => format!("not yet this {unit}"),
        1 => format!("done {} of 1 {unit}", lane.done),
        n => format!("done {} of the last {n} {unit}s", lane.done),
    }
}

/// A small history, oldest first: ● done, ○ missed, · still open.
pub fn rhythm_marks(lane: &Lane) -> String {
    lane.windows
        .iter()
        .map(|w| match (w.done, w.open) {
            (true, _) => '●',
            (false, true) => '·',
            (false, false) => '○',
        })
        .collect()
}

fn lane_label(list: &RitualList, lane: &Lane) -> String {
    match &lane.partner {
        Some(p) => name_of(&list.names, p),
        None => "together".to_string(),
    }
}

fn print_list(out: &mut impl Write, list: &RitualList) -> Result<()> {
    if list.rituals.is_empty() {
        writeln!(
            out,
            "{}",
            render::dim(
                "No rituals yet. See `hearth ritual templates`, then e.g. `hearth ritual add evening-checkin`."
            )
        )?;
        return Ok(());
    }
    for (r, rh) in list.rituals.iter().zip(&list.rhythms) {
        writeln!(
            out,
            "{}  {}",
            render::bold(&r.name),
            render::dim(&format!(
                "{}, {}{}",
                describe_cadence(r.cadence),
                owner_text(list, &r.owner),
                r.fulfilled_by
                    .map(|k| format!(", completed by a {}", kind_words(k)))
                    .unwrap_or_default()
            ))
        )?;
        for lane in &rh.lanes {
            writeln!(
                out,
                "  {:<10} {}  {}",
                lane_label(list, lane),
                rhythm_marks(lane),
                render::dim(&rhythm_words(lane, r.cadence, rh.starts))
            )?;
        }
    }
    Ok(())
}

fn print_rhythms(out: &mut impl Write, list: &RitualList) -> Result<()> {
    if list.rituals.is_empty() {
        return print_list(out, list);
    }
    // One line per ritual, each partner's lane in that partner's column
    // (mine first); a together ritual has one lane, in the first column.
    let mut people: Vec<&hearth_model::PartnerId> = list.me.iter().collect();
    for p in list.names.keys() {
        if !people.contains(&p) {
            people.push(p);
        }
    }
    let w = list
        .rituals
        .iter()
        .map(|r| r.name.chars().count())
        .max()
        .unwrap_or(0)
        .max(7);
    let cell = |r: &hearth_model::Ritual, rh: &hearth_model::ritual::Rhythm, lane: &Lane| {
        let marks = rhythm_marks(lane);
        let words = rhythm_words(lane, r.cadence, rh.starts);
        let cell = if marks.is_empty() {
            words
        } else {
            format!("{marks} {words}")
        };
        if lane.partner.is_none() {
            format!("{cell} (together)")
        } else {
            cell
        }
    };
    let rows: Vec<(&str, Vec<String>)> = list
        .rituals
        .iter()
        .zip(&list.rhythms)
        .map(|(r, rh)| {
            let mut cells = vec![String::new(); people.len().max(1)];
            for lane in &rh.lanes {
                let at = lane
                    .partner
                    .as_ref()
                    .and_then(|p| people.iter().position(|q| *q == p))
                    .unwrap_or(0);
                cells[at] = cell(r, rh, lane);
            }
            (r.name.as_str(), cells)
        })
        .collect();
    // Every column as wide as its widest partner's cell, plus a gap. A
    // together ritual has a single cell on its line, so it may run on.
    let col = rows
        .iter()
        .zip(&list.rhythms)
        .filter(|(_, rh)| rh.lanes.iter().all(|l| l.partner.is_some()))
        .flat_map(|((_, cells), _)| cells.iter().map(|c| c.chars().count()))
        .chain(
            people
                .iter()
                .map(|p| name_of(&list.names, p).chars().count()),
        )
        .max()
        .unwrap_or(0)
        + 3;
    let mut head = format!("{:<w$}  ", "");
    for p in &people {
        head.push_str(&format!("{:<col$}", name_of(&list.names, p)));
    }
    writeln!(out, "{}", render::bold(head.trim_end()))?;
    for (name, cells) in rows {
        let mut line = format!("{name:<w$}  ");
        for cell in cells {
            line.push_str(&format!("{cell:<col$}"));
        }
        writeln!(out, "{}", line.trim_end())?;
    }
    writeln!(
        out,
        "\n{}",
        render::dim(
            "● done  ○ missed  · still open. A missed one lowers the count; nothing resets."
        )
    )?;
    Ok(())
}

pub fn due(ctx: &mut Ctx, json: bool) -> Result<()> {
    let at = input::now()?;
    match ctx.call(Request::Due(hearth_ipc::DueQuery { at }))? {
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
        if let Some(first) = item.starts {
            writeln!(
                out,
                "{}",
                render::dim(&format!(
                    "  – {} (new: the first one is from {})",
                    item.ritual.name,
                    first.format("%a %-d %b")
                ))
            )?;
            continue;
        }
        let mark = if item.due { "○" } else { "●" };
        let mut line = format!("  {mark} {}", item.ritual.name);
        if item.due && item.occurrence < d.today {
            line.push_str(&format!(
                " (this {} since {})",
                item.ritual.cadence.period_word(),
                item.occurrence.format("%a %-d %b")
            ));
        }
        if item.done_by_partner
            && let Some(p) = &partner
        {
            if matches!(item.ritual.owner, Owner::Together) {
                line.push_str(&format!(" · {p} marked it done"));
            } else {
                line.push_str(&format!(" · {p} has done theirs"));
            }
        }
        let line = if item.due { line } else { render::dim(&line) };
        writeln!(out, "{line}")?;
    }
    Ok(())
}

/// Writes `text` over my earlier answer, keeping its id, and any tag or
/// star the command line adds.
fn replace_answer(
    ctx: &mut Ctx,
    first: &hearth_model::Entry,
    text: String,
    flags: &crate::args::EntryFlags,
) -> Result<()> {
    let Body::Answer { prompt, .. } = &first.body else {
        return Err(CliError::internal("the earlier answer is not an answer"));
    };
    let body = Body::Answer {
        prompt: prompt.clone(),
        text,
    };
    body.validate()?;
    let before: std::collections::BTreeSet<String> = (&first.tags).into();
    let mut tags = before.clone();
    for t in &flags.tags {
        tags.insert(hearth_model::entry::normalize_tag(t)?);
    }
    let patch = hearth_model::EntryPatch {
        body: Some(body),
        tags: (tags != before).then_some(tags),
        starred: flags.star.then_some(true),
        tender: if flags.tender {
            Some(true)
        } else if flags.not_tender {
            Some(false)
        } else {
            None
        },
        // An answer is never private (the daemon refuses the flag on it).
        private: None,
    };
    let at = input::now()?;
    match ctx.call(Request::Edit(hearth_ipc::EditEntry {
        id: first.id.key(),
        patch,
        at,
    }))? {
        Response::Entry {
            entry, short_len, ..
        } => {
            println!(
                "Replaced your answer {}",
                render::accent(&entry.id.key()[..short_len.clamp(1, 26)])
            );
            Ok(())
        }
        r => Err(unexpected(r)),
    }
}

pub fn prompt(ctx: &mut Ctx, a: PromptArgs) -> Result<()> {
    let at = input::now()?;
    match a.command {
        None => match ctx.call(Request::Prompt(hearth_ipc::PromptQuery {
            at,
            id: a.prompt_id.clone(),
        }))? {
            Response::Prompt(p) => {
                if a.json {
                    return render::print_json(&render::prompt_json(&p)?);
                }
                print_prompt(&mut std::io::stdout().lock(), &p, a.prompt_id.as_deref())
            }
            r => Err(unexpected(r)),
        },
        Some(PromptCommand::Answer {
            text,
            prompt_id,
            replace,
            flags,
        }) => {
            if a.json {
                return Err(CliError::usage(
                    "`prompt answer` prints no JSON; read the answer back with `hearth prompt --json`",
                ));
            }
            let prompt_id = prompt_id.or(a.prompt_id);
            let p = match ctx.call(Request::Prompt(hearth_ipc::PromptQuery {
                at,
                id: prompt_id.clone(),
            }))? {
                Response::Prompt(p) => p,
                r => return Err(unexpected(r)),
            };
            // One answer per prompt: a second one replaces the first, and
            // only when asked to.
            let first = match &p.mine {
                None => None,
                Some(first) => {
                    let short = first.id.key()[..10].to_string();
                    if !replace && input::stdin_is_piped() {
                        return Err(CliError::user(format!(
                            "you have answered this prompt already ({short}); nothing written"
                        ))
                        .with_hint(
                            "add --replace to replace that answer, or change it with `hearth edit ID`",
                        ));
                    }
                    if !replace
                        && !input::confirm(&format!(
                            "You have answered this prompt already ({short}). Replace that answer? [y/N] "
                        ))?
                    {
                        eprintln!("Kept your first answer; nothing written.");
                        return Ok(());
                    }
                    Some(first.clone())
                }
            };
            let text = input::text_from(
                text,
                flags.edit,
                &format!("{} {}\n", input::COMMENT, p.prompt.text),
                &ctx.paths.runtime,
            )?;
            if let Some(first) = first {
                return replace_answer(ctx, &first, text, &flags);
            }
            let entry = write::new_entry(
                Body::Answer {
                    prompt: p.prompt.id.clone(),
                    text,
                },
                &flags,
            );
            write::add(ctx, entry, flags.private)?;
            if let PartnerAnswer::Sealed = p.partner {
                let name = p.partner_name.unwrap_or_else(|| "Your partner".into());
                let show = match &prompt_id {
                    Some(id) => format!("hearth prompt --prompt {id}"),
                    None => "hearth prompt".to_string(),
                };
                println!(
                    "{name} answered too: their answer opens once {name}'s device has yours, now if it is online, or when it next is (`{show}`)."
                );
            }
            Ok(())
        }
        Some(_) if a.prompt_id.is_some() => Err(CliError::usage(
            "--prompt goes with `hearth prompt` or `hearth prompt answer` only",
        )),
        Some(PromptCommand::List { theme }) => {
            let theme = theme
                .map(|t| {
                    hearth_model::deck::Theme::parse(&t).ok_or_else(|| {
                        CliError::usage(hearth_model::ModelError::Theme(t).to_string())
                    })
                })
                .transpose()?;
            let prompts = match ctx.call(Request::PromptList)? {
                Response::Prompts { prompts } => prompts,
                r => return Err(unexpected(r)),
            };
            let shown: Vec<_> = prompts
                .into_iter()
                .filter(|p| theme.is_none_or(|t| p.theme == t))
                .collect();
            if a.json {
                return render::print_json(&shown);
            }
            let mut out = std::io::stdout().lock();
            let mut last = None;
            let id_w = shown.iter().map(|p| p.id.len()).max().unwrap_or(0);
            for p in &shown {
                if last != Some(p.theme) {
                    if last.is_some() {
                        writeln!(out)?;
                    }
                    writeln!(out, "{}", render::bold(p.theme.as_str()))?;
                    last = Some(p.theme);
                }
                let pad = " ".repeat(id_w - p.id.len());
                writeln!(out, "  {}{pad}  {}", render::accent(&p.id), p.text)?;
            }
            Ok(())
        }
        Some(PromptCommand::Skip) => {
            match ctx.call(Request::PromptSkip(hearth_ipc::PromptSkip { at }))? {
                Response::Prompt(p) => {
                    if a.json {
                        return render::print_json(&render::prompt_json(&p)?);
                    }
                    println!("{}", render::dim("Set that one aside. Here is another:"));
                    print_prompt(&mut std::io::stdout().lock(), &p, None)
                }
                r => Err(unexpected(r)),
            }
        }
        Some(PromptCommand::Add { .. }) if a.json => Err(CliError::usage(
            "`prompt add` prints no JSON; see the deck with `hearth prompt list --json`",
        )),
        Some(PromptCommand::Add { text, theme }) => {
            let theme = hearth_model::deck::Theme::parse(&theme)
                .ok_or_else(|| CliError::from(hearth_model::ModelError::Theme(theme.clone())))?;
            if text.trim().is_empty() {
                return Err(CliError::user("the prompt text is empty; nothing written"));
            }
            match ctx.call(Request::PromptAdd(hearth_ipc::PromptAdd {
                text,
                theme,
                at,
            }))? {
                Response::Prompt(_) => {
                    println!("Added your prompt to the deck.");
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
    }
}

/// Shows a prompt and its answers; `asked` is the id the user named, if
/// it is not today's prompt.
pub fn print_prompt(out: &mut impl Write, p: &PromptToday, asked: Option<&str>) -> Result<()> {
    let title = match asked {
        Some(id) => format!("Prompt {id}"),
        None => "Today's prompt".to_string(),
    };
    writeln!(
        out,
        "{} {}",
        render::bold(&title),
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
            render::dim(&match asked {
                Some(id) => format!("  Answer with `hearth prompt answer --prompt {id}`."),
                None => "  Answer with `hearth prompt answer`.".to_string(),
            })
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
        PartnerAnswer::Opening => writeln!(
            out,
            "{}",
            render::dim(&format!(
                "  {name} has answered; it opens when {name}'s device is next online."
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
