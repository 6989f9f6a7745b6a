//! Looking back: reviews, mood charts and "on this day".

use std::io::Write;

use chrono::{Datelike, Duration, NaiveDate};
use hearth_ipc::{Request, Response};
use hearth_model::entry::first_line;
use hearth_model::insight::{MoodDay, MoodSeries, Review, Span, Trend};
use hearth_model::{Entry, Mood, PartnerId};

use super::rituals::{rhythm_marks, rhythm_words};
use super::{Ctx, unexpected};
use crate::args::{MoodArgs, OnThisDayArgs, ReviewArgs};
use crate::error::Result;
use crate::input;
use crate::render;

pub fn review(ctx: &mut Ctx, a: ReviewArgs) -> Result<()> {
    let span = if a.month {
        Span::Month
    } else if a.year {
        Span::Year
    } else {
        Span::Week
    };
    let at = input::now()?;
    let r = match ctx.call(Request::Review(hearth_ipc::ReviewQuery {
        span,
        until: a.until,
        include_tender: a.include_tender,
        at,
    }))? {
        Response::Review(r) => r,
        r => return Err(unexpected(r)),
    };
    if a.json {
        return render::print_json(&r);
    }
    print_review(&mut std::io::stdout().lock(), &r)
}

fn day(d: NaiveDate) -> String {
    d.format("%a %-d %b").to_string()
}

fn heading(out: &mut impl Write, title: &str) -> std::io::Result<()> {
    writeln!(out, "\n{}", render::bold(title))
}

fn mood_words(s: &MoodSeries) -> String {
    let avg = match s.average {
        Some(a) => {
            let word = Mood::new(a.round() as u8).map_or("", |m| m.word());
            format!("average {a:.1} ({word})")
        }
        None => "no check-ins".to_string(),
    };
    let trend = match s.trend {
        Trend::Rising => ", rising",
        Trend::Falling => ", falling",
        Trend::Steady => ", steady",
        Trend::Unclear => "",
    };
    format!("{avg}{trend}")
}

pub fn print_review(out: &mut impl Write, r: &Review) -> Result<()> {
    let title = match r.span {
        Span::Week => "The week",
        Span::Month => "The month",
        Span::Year => "The year",
    };
    writeln!(
        out,
        "{}",
        render::bold(&format!(
            "{title}: {} to {}",
            r.from.format("%a %-d %b"),
            r.to.format("%a %-d %b %Y")
        ))
    )?;
    let name_w = r
        .people
        .iter()
        .map(|p| p.name.chars().count())
        .max()
        .unwrap_or(0);
    let name_of = |id: &PartnerId| {
        r.people
            .iter()
            .find(|p| &p.partner == id)
            .map_or_else(|| id.to_string(), |p| p.name.clone())
    };

    heading(out, "Mood")?;
    for p in &r.people {
        mood_row(out, &p.mood, name_w)?;
    }

    let moments = |out: &mut dyn Write,
                   title: &str,
                   pick: &dyn Fn(
        &hearth_model::insight::PersonReview,
    ) -> &Vec<hearth_model::insight::Moment>|
     -> std::io::Result<()> {
        let all: Vec<_> = r
            .people
            .iter()
            .flat_map(|p| pick(p).iter().map(move |m| (p, m)))
            .collect();
        if all.is_empty() {
            return Ok(());
        }
        writeln!(out, "\n{}", render::bold(title))?;
        for (p, m) in all {
            writeln!(
                out,
                "  {:<name_w$}  {}  {}",
                p.name,
                render::dim(&day(m.day)),
                first_line(&m.text)
            )?;
        }
        Ok(())
    };
    moments(out, "Highs", &|p| &p.highs)?;
    moments(out, "Lows", &|p| &p.lows)?;

    heading(out, "Gratitude")?;
    for p in &r.people {
        writeln!(
            out,
            "  {:<name_w$}  gave {}, received {}",
            p.name,
            p.thanks_given.len(),
            p.thanks_received
        )?;
    }
    for p in &r.people {
        for m in &p.thanks_given {
            writeln!(
                out,
                "    {}  {} to {}: {}",
                render::dim(&day(m.day)),
                p.name,
                m.to.as_deref().unwrap_or("?"),
                first_line(&m.text)
            )?;
        }
    }

    if !r.rituals.is_empty() {
        heading(out, "Rituals")?;
        for rr in &r.rituals {
            writeln!(out, "  {}", rr.ritual.name)?;
            for lane in &rr.lanes {
                let who = lane
                    .partner
                    .as_ref()
                    .map_or_else(|| "together".to_string(), name_of);
                writeln!(
                    out,
                    "    {:<name_w$}  {}  {}",
                    who,
                    rhythm_marks(lane),
                    render::dim(&format!(
                        "{}{}",
                        rhythm_words(lane, rr.ritual.cadence, None),
                        match lane.missed() {
                            0 => String::new(),
                            n => format!(", {n} missed"),
                        }
                    ))
                )?;
            }
        }
    }

    heading(out, "Open agreements")?;
    if r.open_agreements.is_empty() {
        writeln!(out, "  {}", render::dim("None open."))?;
    }
    for a in &r.open_agreements {
        writeln!(
            out,
            "  • {}  {}",
            a.text,
            render::dim(&format!(
                "({}, {}; once it is kept: `hearth repair resolve {}`)",
                name_of(&a.author),
                a.day.format("%-d %b %Y"),
                a.entry.key()
            ))
        )?;
    }

    if !r.prompts.is_empty() {
        heading(out, "Prompts answered")?;
        for p in &r.prompts {
            writeln!(out, "  {}", p.text)?;
            for a in &p.answers {
                let text = a.text.as_deref().map_or_else(
                    || {
                        render::dim(&format!(
                            "(sealed until you answer it: `hearth prompt answer --prompt {}`)",
                            p.prompt
                        ))
                    },
                    first_line,
                );
                writeln!(out, "    {:<name_w$}  {text}", name_of(&a.partner))?;
            }
        }
    }
    if r.tender_hidden > 0 {
        writeln!(
            out,
            "\n{}",
            render::dim(&format!(
                "{} tender entr{} left out; add --include-tender to see {}.",
                r.tender_hidden,
                if r.tender_hidden == 1 { "y" } else { "ies" },
                if r.tender_hidden == 1 { "it" } else { "them" }
            ))
        )?;
    }
    Ok(())
}

/// One partner's line of a mood chart: name, sparkline, average and trend.
fn mood_row(out: &mut impl Write, s: &MoodSeries, name_w: usize) -> std::io::Result<()> {
    writeln!(
        out,
        "  {:<name_w$}  {}  {}",
        s.name,
        sparkline(&bucket(&s.days, 62)),
        render::dim(&mood_words(s))
    )
}

/// At most `max` marks: longer series are averaged week by week.
fn bucket(days: &[MoodDay], max: usize) -> Vec<Option<f64>> {
    if days.len() <= max {
        return days.iter().map(|d| d.mood).collect();
    }
    days.chunks(7)
        .map(|w| {
            let v: Vec<f64> = w.iter().filter_map(|d| d.mood).collect();
            (!v.is_empty()).then(|| v.iter().sum::<f64>() / v.len() as f64)
        })
        .collect()
}

const BARS: [char; 5] = ['▁', '▃', '▄', '▆', '█'];

/// One mark per value: a bar whose height (and colour, where supported)
/// follows the mood; `·` where there was no check-in.
pub fn sparkline(values: &[Option<f64>]) -> String {
    values
        .iter()
        .map(|v| match v {
            Some(m) => {
                let i = (m.round().clamp(1.0, 5.0) as usize) - 1;
                render::mood_paint(&BARS[i].to_string(), *m)
            }
            None => render::dim("·"),
        })
        .collect()
}

pub fn mood(ctx: &mut Ctx, a: MoodArgs) -> Result<()> {
    let at = input::now()?;
    let (from, to, series) =
        match ctx.call(Request::Mood(hearth_ipc::MoodQuery { weeks: a.weeks, at }))? {
            Response::Mood { from, to, series } => (from, to, series),
            r => return Err(unexpected(r)),
        };
    if a.json {
        return render::print_json(&serde_json::json!({
            "from": from,
            "to": to,
            "series": series,
        }));
    }
    let mut out = std::io::stdout().lock();
    if series
        .iter()
        .all(|s| s.days.iter().all(|d| d.mood.is_none()))
    {
        writeln!(
            out,
            "{}",
            render::dim(&format!(
                "No check-ins since {}. `hearth checkin --mood good` adds one.",
                from.format("%-d %b")
            ))
        )?;
        return Ok(());
    }
    if a.heatmap {
        heatmap(&mut out, &series, from)
    } else {
        sparklines(&mut out, &series, from, to)
    }
}

fn sparklines(
    out: &mut impl Write,
    series: &[MoodSeries],
    from: NaiveDate,
    to: NaiveDate,
) -> Result<()> {
    let weekly = series.first().is_some_and(|s| s.days.len() > 62);
    writeln!(
        out,
        "{}",
        render::bold(&format!(
            "Mood, {} to {}{}",
            from.format("%-d %b"),
            to.format("%-d %b %Y"),
            if weekly { " (one mark per week)" } else { "" }
        ))
    )?;
    let w = series
        .iter()
        .map(|s| s.name.chars().count())
        .max()
        .unwrap_or(0);
    for s in series {
        mood_row(out, s, w)?;
    }
    writeln!(
        out,
        "\n{}",
        render::dim("▁ rough  ▃ low  ▄ okay  ▆ good  █ great  · no check-in")
    )?;
    Ok(())
}

/// A calendar per partner: a row per weekday, a column per week. With
/// colour, each day is a coloured block; without, the mood's digit.
fn heatmap(out: &mut impl Write, series: &[MoodSeries], from: NaiveDate) -> Result<()> {
    let color = render::color_on();
    for s in series {
        writeln!(out, "{}", render::bold(&s.name))?;
        let weeks = s.days.len().div_ceil(7);
        // Month labels over the first week that starts in a new month.
        let mut head = String::from("      ");
        let mut last_month = 0;
        let mut w = 0;
        while w < weeks {
            let start = from + Duration::weeks(w as i64);
            if start.month() != last_month {
                let label = start.format("%b").to_string();
                head.push_str(&label);
                head.push(' ');
                last_month = start.month();
                w += 2;
            } else {
                head.push_str("  ");
                w += 1;
            }
        }
        writeln!(out, "{}", render::dim(head.trim_end()))?;
        for wd in 0..7 {
            let name = (from + Duration::days(wd as i64)).format("%a").to_string();
            let mut line = format!("  {name} ");
            for w in 0..weeks {
                let cell = match s.days.get(w * 7 + wd) {
                    None => " ".to_string(),
                    Some(MoodDay { mood: None, .. }) => render::dim("·"),
                    Some(MoodDay { mood: Some(m), .. }) if color => render::mood_paint("■", *m),
                    Some(MoodDay { mood: Some(m), .. }) => format!("{}", m.round() as u8),
                };
                line.push_str(&cell);
                line.push(' ');
            }
            writeln!(out, "{}", line.trim_end())?;
        }
        writeln!(out, "  {}\n", render::dim(&mood_words(s)))?;
    }
    let legend = if color {
        format!(
            "{} rough  {} low  {} okay  {} good  {} great  · no check-in",
            render::mood_paint("■", 1.0),
            render::mood_paint("■", 2.0),
            render::mood_paint("■", 3.0),
            render::mood_paint("■", 4.0),
            render::mood_paint("■", 5.0)
        )
    } else {
        "1 rough  2 low  3 okay  4 good  5 great  · no check-in".to_string()
    };
    writeln!(out, "{legend}")?;
    Ok(())
}

pub fn on_this_day(ctx: &mut Ctx, a: OnThisDayArgs) -> Result<()> {
    let at = input::now()?;
    let (found, names, short) = match ctx.call(Request::OnThisDay(hearth_ipc::OnThisDayQuery {
        include_tender: a.include_tender,
        at,
    }))? {
        Response::OnThisDay {
            found,
            names,
            short_len,
        } => (found, names, short_len),
        r => return Err(unexpected(r)),
    };
    if a.json {
        let entries = |es: &[Entry]| -> Result<Vec<serde_json::Value>> {
            es.iter().map(|e| render::entry_json(e, &names)).collect()
        };
        let years = found
            .years
            .iter()
            .map(|y| {
                Ok(serde_json::json!({
                    "years": y.years,
                    "day": y.day,
                    "entries": entries(&y.entries)?,
                }))
            })
            .collect::<Result<Vec<_>>>()?;
        return render::print_json(&serde_json::json!({
            "today": found.today,
            "years": years,
            "last_month": {
                "from": found.last_month_from,
                "to": found.last_month_to,
                "entries": entries(&found.last_month)?,
            },
        }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{}",
        render::bold(&format!("On this day, {}", found.today.format("%-d %B")))
    )?;
    if found.years.is_empty() {
        writeln!(
            out,
            "  {}",
            render::dim("Nothing from this date in earlier years yet.")
        )?;
    }
    for y in &found.years {
        let ago = if y.years == 1 {
            "A year ago".to_string()
        } else {
            format!("{} years ago", y.years)
        };
        writeln!(out, "\n{}", render::bold(&ago))?;
        render::entry_lines(&mut out, &y.entries, &names, short)?;
    }
    writeln!(
        out,
        "\n{}",
        render::bold(&format!(
            "This week last month ({} to {})",
            if found.last_month_from.month() == found.last_month_to.month() {
                found.last_month_from.format("%a %-d")
            } else {
                found.last_month_from.format("%a %-d %b")
            },
            found.last_month_to.format("%a %-d %b")
        ))
    )?;
    if found.last_month.is_empty() {
        writeln!(out, "  {}", render::dim("Nothing written that week."))?;
    } else {
        render::entry_lines(&mut out, &found.last_month, &names, short)?;
    }
    if !a.include_tender {
        writeln!(
            out,
            "\n{}",
            render::dim("Tender entries stay out of look-backs; --include-tender shows them.")
        )?;
    }
    Ok(())
}
