//! Reading the journal back: log, show, today.

use std::io::Write;

use hearth_ipc::{LogQuery, Request, Response};

use super::{Ctx, rituals, unexpected};
use crate::args::{LogArgs, ShowArgs};
use crate::error::Result;
use crate::input;
use crate::render;

/// Entries a `log` of the whole journal asks the daemon for at once.
const LOG_PAGE: usize = 2_000;

pub fn log(ctx: &mut Ctx, a: LogArgs) -> Result<()> {
    let query = LogQuery {
        since: a.since,
        until: a.until,
        kinds: a.kinds,
        authors: a.authors,
        tags: a.tags,
        starred: a.starred,
        contains: a.contains,
        regex: a.regex,
        limit: a.limit,
        include_deleted: a.deleted,
        private: a.private,
        after: None,
        // `-n` bounds the reply already; a whole journal comes in pages,
        // each printed before the next is asked for.
        page: a.limit.is_none().then_some(LOG_PAGE),
    };
    let at = input::now()?;
    let mut out = std::io::stdout().lock();
    let (mut shown, mut sealed, mut day) = (0, 0, None);
    log_pages(ctx, query, at, |list| {
        sealed += list.sealed;
        shown += list.entries.len();
        if a.json {
            // JSON Lines: one entry per line, easy to stream into jq.
            for e in &list.entries {
                serde_json::to_writer(&mut out, &render::entry_json(e, &list.names)?)?;
                writeln!(out)?;
            }
            return Ok(());
        }
        render::entry_lines_after(
            &mut out,
            &list.entries,
            &list.names,
            list.short_len,
            &mut day,
        )
    })?;
    if a.json {
        return Ok(());
    }
    if shown == 0 {
        writeln!(out, "{}", render::dim("No entries match."))?;
    }
    if sealed > 0 {
        writeln!(
            out,
            "\n{}",
            render::dim(&format!(
                "{sealed} of your partner's answers {} sealed until you answer the same prompt.",
                if sealed == 1 { "is" } else { "are" }
            ))
        )?;
    }
    Ok(())
}

/// Asks for `query`'s matches a page at a time (when it sets `page`),
/// handing each page to `each` before asking for the next.
fn log_pages(
    ctx: &mut Ctx,
    mut query: LogQuery,
    at: chrono::DateTime<chrono::FixedOffset>,
    mut each: impl FnMut(hearth_ipc::EntryList) -> Result<()>,
) -> Result<()> {
    loop {
        let list = match ctx.call(Request::Log(hearth_ipc::Log {
            query: query.clone(),
            at,
        }))? {
            Response::Entries(l) => l,
            r => return Err(unexpected(r)),
        };
        let next = list.next;
        each(list)?;
        match next {
            Some(last) => query.after = Some(last),
            None => return Ok(()),
        }
    }
}

/// `hearth tags`: every tag on the entries this device may read.
pub fn tags(ctx: &mut Ctx, json: bool) -> Result<()> {
    let at = input::now()?;
    let query = LogQuery {
        page: Some(LOG_PAGE),
        ..LogQuery::default()
    };
    // Only tagged entries are kept from each page.
    let mut tagged = Vec::new();
    log_pages(ctx, query, at, |list| {
        tagged.extend(list.entries.into_iter().filter(|e| !e.tags.is_empty()));
        Ok(())
    })?;
    let counts = hearth_model::tag_counts(&tagged);
    if json {
        return render::print_json(&counts);
    }
    let mut out = std::io::stdout().lock();
    if counts.is_empty() {
        writeln!(
            out,
            "{}",
            render::dim("No tags yet. Write #word or @word in an entry, or pass --tag.")
        )?;
        return Ok(());
    }
    let width = counts
        .iter()
        .map(|c| c.count.to_string().len())
        .max()
        .unwrap_or(1);
    let tag_w = counts
        .iter()
        .map(|c| c.tag.chars().count())
        .max()
        .unwrap_or(1)
        + 1;
    for c in &counts {
        writeln!(
            out,
            "{:>width$}  {:<tag_w$}  {}",
            c.count,
            format!("#{}", c.tag),
            render::dim(&format!("last {}", c.last_day.format("%a %-d %b %Y")))
        )?;
    }
    Ok(())
}

pub fn show(ctx: &mut Ctx, a: ShowArgs) -> Result<()> {
    match ctx.call(Request::Show(hearth_ipc::ShowEntry { id: a.id }))? {
        Response::Entry { entry, names, .. } => {
            if a.json {
                render::print_json(&render::entry_json(&entry, &names)?)
            } else {
                render::entry_full(&mut std::io::stdout().lock(), &entry, &names)
            }
        }
        r => Err(unexpected(r)),
    }
}

pub fn today(ctx: &mut Ctx, json: bool) -> Result<()> {
    let at = input::now()?;
    let query = LogQuery {
        since: Some("today".into()),
        until: Some("today".into()),
        ..Default::default()
    };
    let list = match ctx.call(Request::Log(hearth_ipc::Log { query, at }))? {
        Response::Entries(l) => l,
        r => return Err(unexpected(r)),
    };
    let due = match ctx.call(Request::Due(hearth_ipc::DueQuery { at }))? {
        Response::Due(d) => d,
        r => return Err(unexpected(r)),
    };
    let prompt = match ctx.call(Request::Prompt(hearth_ipc::PromptQuery { at, id: None }))? {
        Response::Prompt(p) => p,
        r => return Err(unexpected(r)),
    };
    if json {
        let entries: Vec<_> = list
            .entries
            .iter()
            .map(|e| render::entry_json(e, &list.names))
            .collect::<Result<_>>()?;
        return render::print_json(&serde_json::json!({
            "day": due.today,
            "entries": entries,
            "due": due.items,
            "prompt": render::prompt_json(&prompt)?,
        }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        render::bold(&due.today.format("Today, %A %-d %B").to_string())
    )?;
    writeln!(out)?;
    if list.entries.is_empty() {
        writeln!(out, "{}", render::dim("Nothing written yet today."))?;
    } else {
        render::entry_lines(&mut out, &list.entries, &list.names, list.short_len)?;
    }
    writeln!(out)?;
    rituals::print_due(&mut out, &due)?;
    writeln!(out)?;
    rituals::print_prompt(&mut out, &prompt, None)?;
    Ok(())
}
