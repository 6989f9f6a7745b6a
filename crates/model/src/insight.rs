//! Looking back: the weekly, monthly and yearly reviews, mood over time and
//! "on this day". Everything here is a pure function of entries the caller
//! has already filtered (deleted, sealed and tender entries are the
//! caller's business, because only it knows who is asking).

use std::collections::BTreeMap;

use chrono::{Datelike, Duration, Months, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::doc::Prompt;
use crate::ritual::{Lane, Ritual, RitualDone};
use crate::{Body, DayBoundary, Entry, EntryId, PartnerId};

/// The reach of a review.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Span {
    Week,
    Month,
    Year,
}

impl Span {
    /// The journal days a review ending on `last` covers, both ends
    /// included: the last 7 days, the month since the same date last month,
    /// or the year since the same date last year.
    pub fn period_ending(self, last: NaiveDate) -> (NaiveDate, NaiveDate) {
        let first = match self {
            Span::Week => last - Duration::days(6),
            Span::Month => last
                .checked_sub_months(Months::new(1))
                .map_or(last - Duration::days(30), |d| d + Duration::days(1)),
            Span::Year => last
                .checked_sub_months(Months::new(12))
                .map_or(last - Duration::days(364), |d| d + Duration::days(1)),
        };
        (first, last)
    }
}

/// Which way a partner's mood moved over a period.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Trend {
    Rising,
    Steady,
    Falling,
    /// Too few check-ins to say.
    Unclear,
}

/// A partner's mood on one journal day: the mean of that day's check-ins.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct MoodDay {
    pub day: NaiveDate,
    pub mood: Option<f64>,
    pub checkins: usize,
}

/// One partner's moods, day by day.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MoodSeries {
    pub partner: PartnerId,
    pub name: String,
    pub days: Vec<MoodDay>,
    pub average: Option<f64>,
    pub trend: Trend,
}

/// The mean, to two decimals: finer than a five-point scale can mean, and
/// it keeps the JSON readable.
fn mean(values: impl IntoIterator<Item = f64>) -> Option<f64> {
    let (sum, n) = values
        .into_iter()
        .fold((0.0, 0usize), |(s, n), v| (s + v, n + 1));
    (n > 0).then(|| (sum / n as f64 * 100.0).round() / 100.0)
}

/// Compares the first half of the check-ins with the second. Half a point
/// on a five-point scale is a change a person would notice.
fn trend(days: &[MoodDay]) -> Trend {
    let moods: Vec<f64> = days.iter().filter_map(|d| d.mood).collect();
    if moods.len() < 2 {
        return Trend::Unclear;
    }
    let half = moods.len() / 2;
    let (a, b) = (
        mean(moods[..half].iter().copied()),
        mean(moods[moods.len() - half..].iter().copied()),
    );
    match (a, b) {
        (Some(a), Some(b)) if b - a >= 0.5 => Trend::Rising,
        (Some(a), Some(b)) if a - b >= 0.5 => Trend::Falling,
        _ => Trend::Steady,
    }
}

/// Each partner's mood for every day from `from` to `to`, in `partners`
/// order.
pub fn mood_series<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    partners: &[(PartnerId, String)],
    from: NaiveDate,
    to: NaiveDate,
) -> Vec<MoodSeries> {
    let mut by: BTreeMap<(&PartnerId, NaiveDate), Vec<f64>> = BTreeMap::new();
    for e in entries {
        if let Body::Checkin { mood, .. } = &e.body
            && e.day >= from
            && e.day <= to
        {
            by.entry((&e.author, e.day))
                .or_default()
                .push(f64::from(mood.value()));
        }
    }
    partners
        .iter()
        .map(|(p, name)| {
            let days: Vec<MoodDay> = from
                .iter_days()
                .take_while(|d| *d <= to)
                .map(|day| {
                    let v = by.get(&(p, day));
                    MoodDay {
                        day,
                        mood: v.and_then(|v| mean(v.iter().copied())),
                        checkins: v.map_or(0, Vec::len),
                    }
                })
                .collect();
            MoodSeries {
                partner: p.clone(),
                name: name.clone(),
                // Every check-in weighs the same, however many share a day.
                average: mean(
                    by.range((p, from)..=(p, to))
                        .flat_map(|(_, v)| v.iter().copied()),
                ),
                trend: trend(&days),
                days,
            }
        })
        .collect()
}

/// A line from an entry, for highs, lows and thanks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Moment {
    pub entry: EntryId,
    pub day: NaiveDate,
    pub text: String,
    /// For thanks: whom it was for.
    #[serde(default)]
    pub to: Option<String>,
}

/// One partner's part of a review.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PersonReview {
    pub partner: PartnerId,
    pub name: String,
    pub entries: usize,
    pub mood: MoodSeries,
    pub highs: Vec<Moment>,
    pub lows: Vec<Moment>,
    pub thanks_given: Vec<Moment>,
    /// Thanks the other partner wrote in the period.
    pub thanks_received: usize,
}

/// A ritual's occurrences inside the period, lane by lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RitualReview {
    pub ritual: Ritual,
    pub lanes: Vec<Lane>,
}

/// An agreement from a repair that has not been marked settled.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Agreement {
    pub entry: EntryId,
    pub day: NaiveDate,
    pub author: PartnerId,
    pub text: String,
}

/// One partner's answer to a prompt; the text is absent while it is sealed
/// from the one asking.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnswerSeen {
    pub partner: PartnerId,
    pub entry: EntryId,
    pub day: NaiveDate,
    pub text: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PromptReview {
    pub prompt: String,
    pub text: String,
    pub answers: Vec<AnswerSeen>,
}

/// Everything a review shows. `--json` prints exactly this.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Review {
    pub span: Span,
    pub from: NaiveDate,
    pub to: NaiveDate,
    pub people: Vec<PersonReview>,
    pub rituals: Vec<RitualReview>,
    pub open_agreements: Vec<Agreement>,
    pub prompts: Vec<PromptReview>,
    /// Tender entries in the period left out of the highs, lows and thanks.
    pub tender_hidden: usize,
}

/// What the review is built from. Entries are every readable entry (the
/// review picks the period itself, because open agreements reach back
/// further); deleted ones must already be gone.
pub struct ReviewInput<'a> {
    pub span: Span,
    pub last_day: NaiveDate,
    /// The journal day it is now: windows holding it are still open.
    pub today: NaiveDate,
    pub entries: Vec<&'a Entry>,
    pub partners: Vec<(PartnerId, String)>,
    pub rituals: &'a [Ritual],
    pub log: &'a [RitualDone],
    pub prompts: &'a [Prompt],
    pub boundary: DayBoundary,
    pub include_tender: bool,
    /// Whether the asker may not read this answer yet.
    pub sealed: &'a dyn Fn(&Entry) -> bool,
}

pub fn review(input: &ReviewInput<'_>) -> Review {
    let (from, to) = input.span.period_ending(input.last_day);
    let in_period: Vec<&Entry> = input
        .entries
        .iter()
        .copied()
        .filter(|e| e.day >= from && e.day <= to)
        .collect();
    let shown = |e: &&Entry| input.include_tender || !e.tender;
    let tender_hidden = in_period
        .iter()
        .filter(|e| !shown(e) && matches!(e.body, Body::Highlow { .. } | Body::Gratitude { .. }))
        .count();
    let moods = mood_series(in_period.iter().copied(), &input.partners, from, to);
    let people = input
        .partners
        .iter()
        .zip(moods)
        .map(|((p, name), mood)| {
            let mine = || in_period.iter().filter(move |e| &e.author == p);
            let mut highs = Vec::new();
            let mut lows = Vec::new();
            let mut thanks_given = Vec::new();
            for e in mine().filter(|e| shown(e)) {
                let moment = |text: &str, to: Option<String>| Moment {
                    entry: e.id,
                    day: e.day,
                    text: text.trim().to_string(),
                    to,
                };
                match &e.body {
                    Body::Highlow { high, low } => {
                        if !high.trim().is_empty() {
                            highs.push(moment(high, None));
                        }
                        if !low.trim().is_empty() {
                            lows.push(moment(low, None));
                        }
                    }
                    Body::Gratitude { to, text } => {
                        thanks_given.push(moment(text, Some(to.trim().to_string())));
                    }
                    _ => {}
                }
            }
            let thanks_received = in_period
                .iter()
                .filter(|e| shown(e))
                .filter(|e| &e.author != p && matches!(e.body, Body::Gratitude { .. }))
                .count();
            PersonReview {
                partner: p.clone(),
                name: name.clone(),
                entries: mine().count(),
                mood,
                highs,
                lows,
                thanks_given,
                thanks_received,
            }
        })
        .collect();

    let ids: Vec<PartnerId> = input.partners.iter().map(|(p, _)| p.clone()).collect();
    let rituals = input
        .rituals
        .iter()
        .filter(|r| r.archived.is_none())
        .filter_map(|r| {
            let since = input.boundary.day_of(r.created);
            // Windows that overlap the period, from the one holding its
            // first day to the one holding its last.
            let first = r.cadence.occurrence(from);
            let mut n = 0;
            let mut occ = r.cadence.occurrence(to);
            while occ >= first {
                n += 1;
                occ = r.cadence.previous(occ);
            }
            let rh = r.rhythm_until(input.log, &ids, to, n, since, input.today);
            (!rh.lanes.iter().all(|l| l.windows.is_empty())).then_some(RitualReview {
                ritual: rh.ritual,
                lanes: rh.lanes,
            })
        })
        .collect();

    let open_agreements = input
        .entries
        .iter()
        .filter(|e| e.day <= to && e.resolved.is_none())
        .flat_map(|e| match &e.body {
            Body::Repair(r) => r
                .agreements
                .iter()
                .filter(|a| !a.trim().is_empty())
                .map(|a| Agreement {
                    entry: e.id,
                    day: e.day,
                    author: e.author.clone(),
                    text: a.trim().to_string(),
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect();

    let mut prompts: Vec<PromptReview> = Vec::new();
    for e in &in_period {
        let Body::Answer { prompt, text } = &e.body else {
            continue;
        };
        let seen = AnswerSeen {
            partner: e.author.clone(),
            entry: e.id,
            day: e.day,
            text: (!(input.sealed)(e)).then(|| text.clone()),
        };
        match prompts.iter_mut().find(|p| &p.prompt == prompt) {
            Some(p) => p.answers.push(seen),
            None => prompts.push(PromptReview {
                prompt: prompt.clone(),
                text: input
                    .prompts
                    .iter()
                    .find(|p| &p.id == prompt)
                    .map_or_else(|| format!("(prompt {prompt})"), |p| p.text.clone()),
                answers: vec![seen],
            }),
        }
    }

    Review {
        span: input.span,
        from,
        to,
        people,
        rituals,
        open_agreements,
        prompts,
        tender_hidden,
    }
}

/// Entries from one earlier year on today's date.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct YearsAgo {
    pub years: i32,
    pub day: NaiveDate,
    pub entries: Vec<Entry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OnThisDay {
    pub today: NaiveDate,
    /// Newest year first; years with no entries are left out.
    pub years: Vec<YearsAgo>,
    /// The Monday-to-Sunday week that held this date last month.
    pub last_month_from: NaiveDate,
    pub last_month_to: NaiveDate,
    pub last_month: Vec<Entry>,
}

/// Whether `day` shares `today`'s month and day. On 28 February of a common
/// year, 29 February of leap years counts too, so those entries still
/// surface.
fn same_date(day: NaiveDate, today: NaiveDate) -> bool {
    if day.month() != today.month() {
        return false;
    }
    day.day() == today.day()
        || (today.month() == 2
            && today.day() == 28
            && day.day() == 29
            && NaiveDate::from_ymd_opt(today.year(), 2, 29).is_none())
}

pub fn on_this_day<'a>(
    entries: impl IntoIterator<Item = &'a Entry>,
    today: NaiveDate,
) -> OnThisDay {
    let month_ago = today
        .checked_sub_months(Months::new(1))
        .unwrap_or(today - Duration::days(30));
    let from = month_ago - Duration::days(i64::from(month_ago.weekday().num_days_from_monday()));
    let to = from + Duration::days(6);
    let mut years: BTreeMap<i32, YearsAgo> = BTreeMap::new();
    let mut last_month = Vec::new();
    for e in entries {
        if e.day.year() < today.year() && same_date(e.day, today) {
            let n = today.year() - e.day.year();
            years
                .entry(n)
                .or_insert_with(|| YearsAgo {
                    years: n,
                    day: e.day,
                    entries: Vec::new(),
                })
                .entries
                .push(e.clone());
        }
        if e.day >= from && e.day <= to {
            last_month.push(e.clone());
        }
    }
    OnThisDay {
        today,
        years: years.into_values().collect(),
        last_month_from: from,
        last_month_to: to,
        last_month,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ritual::Owner;
    use crate::ritual::tests::{d, done, ritual};
    use crate::{DeviceId, Mood};
    use chrono::{FixedOffset, TimeZone};

    fn entry(n: u128, who: &str, day: NaiveDate, body: Body) -> Entry {
        let created = FixedOffset::east_opt(3600)
            .unwrap()
            .from_local_datetime(&day.and_hms_opt(20, 0, 0).unwrap())
            .unwrap();
        Entry {
            id: EntryId::from_parts(created.timestamp_millis() as u64, n),
            author: PartnerId(who.into()),
            device: DeviceId("dev".into()),
            created,
            day,
            tags: Default::default(),
            starred: false,
            tender: false,
            private: false,
            edited: None,
            deleted: None,
            resolved: None,
            body,
            conflicts: BTreeMap::new(),
        }
    }

    fn checkin(n: u128, who: &str, day: NaiveDate, mood: u8) -> Entry {
        entry(
            n,
            who,
            day,
            Body::Checkin {
                mood: Mood::new(mood).unwrap(),
                energy: None,
                need: None,
                note: String::new(),
            },
        )
    }

    fn partners() -> Vec<(PartnerId, String)> {
        vec![
            (PartnerId("ana".into()), "Ana".into()),
            (PartnerId("ben".into()), "Ben".into()),
        ]
    }

    #[test]
    fn periods_end_on_the_given_day() {
        assert_eq!(
            Span::Week.period_ending(d(2026, 11, 25)),
            (d(2026, 11, 19), d(2026, 11, 25))
        );
        assert_eq!(
            Span::Month.period_ending(d(2026, 3, 31)),
            (d(2026, 3, 1), d(2026, 3, 31))
        );
        // 30 March minus a month is 29 February (a leap year), so the
        // period starts on 1 March.
        assert_eq!(
            Span::Month.period_ending(d(2028, 3, 30)),
            (d(2028, 3, 1), d(2028, 3, 30))
        );
        assert_eq!(
            Span::Year.period_ending(d(2028, 2, 29)),
            (d(2027, 3, 1), d(2028, 2, 29))
        );
        assert_eq!(
            Span::Year.period_ending(d(2026, 12, 31)),
            (d(2026, 1, 1), d(2026, 12, 31))
        );
    }

    #[test]
    fn mood_series_averages_each_day_and_sees_the_trend() {
        let es = vec![
            checkin(1, "ana", d(2026, 11, 19), 2),
            checkin(2, "ana", d(2026, 11, 19), 3),
            checkin(3, "ana", d(2026, 11, 24), 5),
            checkin(4, "ana", d(2026, 11, 25), 4),
            checkin(5, "ben", d(2026, 11, 20), 4),
            checkin(6, "ben", d(2026, 11, 18), 1), // before the period
        ];
        let s = mood_series(&es, &partners(), d(2026, 11, 19), d(2026, 11, 25));
        assert_eq!(s.len(), 2);
        assert_eq!(s[0].days.len(), 7);
        assert_eq!(s[0].days[0].mood, Some(2.5));
        assert_eq!(s[0].days[0].checkins, 2);
        assert_eq!(s[0].days[1].mood, None);
        assert_eq!(s[0].average, Some(3.5), "every check-in weighs the same");
        assert_eq!(s[0].trend, Trend::Rising);
        assert_eq!(s[1].average, Some(4.0));
        assert_eq!(s[1].trend, Trend::Unclear);
    }

    #[test]
    fn a_week_review_gathers_both_partners() {
        let mut debrief = entry(
            20,
            "ben",
            d(2026, 10, 2),
            Body::Repair(Box::new(crate::RepairBody {
                mode: crate::RepairMode::Debrief,
                happened: "dishes".into(),
                felt: String::new(),
                my_part: String::new(),
                need: String::new(),
                agreements: vec!["Ask before inviting friends".into(), " ".into()],
            })),
        );
        debrief.tender = true;
        let mut settled = debrief.clone();
        settled.id = EntryId::from_parts(1, 21);
        settled.resolved = Some(settled.created);
        let mut tender_low = entry(
            12,
            "ben",
            d(2026, 11, 23),
            Body::Highlow {
                high: "secret".into(),
                low: "secret".into(),
            },
        );
        tender_low.tender = true;
        let es = vec![
            checkin(1, "ana", d(2026, 11, 20), 2),
            checkin(2, "ana", d(2026, 11, 25), 4),
            checkin(3, "ben", d(2026, 11, 22), 3),
            entry(
                10,
                "ana",
                d(2026, 11, 21),
                Body::Highlow {
                    high: "the market".into(),
                    low: "".into(),
                },
            ),
            tender_low,
            entry(
                11,
                "ben",
                d(2026, 11, 24),
                Body::Gratitude {
                    to: "Ana".into(),
                    text: "soup".into(),
                },
            ),
            entry(
                13,
                "ana",
                d(2026, 11, 24),
                Body::Answer {
                    prompt: "day-01".into(),
                    text: "mine".into(),
                },
            ),
            entry(
                14,
                "ben",
                d(2026, 11, 24),
                Body::Answer {
                    prompt: "day-01".into(),
                    text: "his".into(),
                },
            ),
            entry(
                15,
                "ben",
                d(2026, 11, 12),
                Body::Gratitude {
                    to: "Ana".into(),
                    text: "too early".into(),
                },
            ),
            debrief,
            settled,
        ];
        let rituals = vec![ritual("daily", Owner::Both)];
        let log = vec![
            done(d(2026, 11, 20), "ana"),
            done(d(2026, 11, 25), "ana"),
            done(d(2026, 11, 22), "ben"),
        ];
        let prompts = vec![Prompt {
            id: "day-01".into(),
            theme: crate::deck::Theme::Day,
            text: "What surprised you today?".into(),
            custom: false,
        }];
        let sealed = |e: &Entry| e.author.as_str() == "ben";
        let r = review(&ReviewInput {
            span: Span::Week,
            last_day: d(2026, 11, 25),
            today: d(2026, 11, 25),
            entries: es.iter().collect(),
            partners: partners(),
            rituals: &rituals,
            log: &log,
            prompts: &prompts,
            boundary: DayBoundary::default(),
            include_tender: false,
            sealed: &sealed,
        });
        assert_eq!((r.from, r.to), (d(2026, 11, 19), d(2026, 11, 25)));
        let (ana, ben) = (&r.people[0], &r.people[1]);
        assert_eq!(ana.mood.trend, Trend::Rising);
        assert_eq!(ana.highs.len(), 1);
        assert!(ana.lows.is_empty(), "an empty low is not a low");
        assert_eq!(ana.thanks_received, 1, "only this week's thanks");
        assert_eq!(ben.thanks_given.len(), 1);
        assert_eq!(ben.thanks_given[0].to.as_deref(), Some("Ana"));
        assert!(ben.highs.is_empty(), "tender high-low left out");
        assert_eq!(r.tender_hidden, 1);
        assert_eq!(r.rituals.len(), 1);
        let lanes = &r.rituals[0].lanes;
        assert_eq!((lanes[0].done, lanes[0].counted), (2, 7));
        assert_eq!(
            (lanes[1].done, lanes[1].counted),
            (1, 6),
            "Ben's today is still open"
        );
        assert_eq!(
            r.open_agreements.len(),
            1,
            "settled and blank agreements are not open"
        );
        assert_eq!(r.open_agreements[0].text, "Ask before inviting friends");
        assert_eq!(r.prompts.len(), 1);
        assert_eq!(r.prompts[0].text, "What surprised you today?");
        let texts: Vec<Option<&str>> = r.prompts[0]
            .answers
            .iter()
            .map(|a| a.text.as_deref())
            .collect();
        assert_eq!(
            texts,
            vec![Some("mine"), None],
            "the sealed answer has no text"
        );
    }

    #[test]
    fn a_past_weeks_review_has_no_open_window() {
        let rituals = vec![ritual("daily", Owner::Both)];
        let log = vec![done(d(2026, 11, 16), "ana")];
        let none = |_: &Entry| false;
        let input = |today| ReviewInput {
            span: Span::Week,
            last_day: d(2026, 11, 22),
            today,
            entries: vec![],
            partners: partners()[..1].to_vec(),
            rituals: &rituals,
            log: &log,
            prompts: &[],
            boundary: DayBoundary::default(),
            include_tender: false,
            sealed: &none,
        };
        let lane = |r: Review| r.rituals[0].lanes[0].clone();
        let past = lane(review(&input(d(2026, 11, 25))));
        assert_eq!((past.done, past.counted, past.missed()), (1, 7, 6));
        let live = lane(review(&input(d(2026, 11, 22))));
        assert_eq!(
            (live.done, live.counted),
            (1, 6),
            "today, the 22nd is still open"
        );
    }

    #[test]
    fn on_this_day_finds_past_years_and_last_months_week() {
        let es = vec![
            entry(1, "ana", d(2025, 11, 25), Body::Note { text: "a".into() }),
            entry(2, "ana", d(2024, 11, 25), Body::Note { text: "b".into() }),
            entry(3, "ana", d(2024, 11, 26), Body::Note { text: "c".into() }),
            entry(4, "ana", d(2026, 10, 26), Body::Note { text: "d".into() }),
            entry(5, "ana", d(2026, 11, 1), Body::Note { text: "e".into() }),
            entry(6, "ana", d(2026, 11, 2), Body::Note { text: "f".into() }),
        ];
        let o = on_this_day(&es, d(2026, 11, 25));
        let years: Vec<i32> = o.years.iter().map(|y| y.years).collect();
        assert_eq!(years, vec![1, 2]);
        // 25 October 2026 is a Sunday: its week runs 19-25 October.
        assert_eq!(
            (o.last_month_from, o.last_month_to),
            (d(2026, 10, 19), d(2026, 10, 25))
        );
        assert!(o.last_month.is_empty());
        let o = on_this_day(&es, d(2026, 12, 1));
        // 1 November is a Sunday: 26 October to 1 November.
        let ids: Vec<String> = o.last_month.iter().map(|e| e.body.summary()).collect();
        assert_eq!(ids, vec!["d", "e"]);
    }

    #[test]
    fn leap_days_surface_on_the_28th_of_common_years() {
        let es = vec![entry(
            1,
            "ana",
            d(2028, 2, 29),
            Body::Note {
                text: "leap".into(),
            },
        )];
        assert_eq!(on_this_day(&es, d(2029, 2, 28)).years.len(), 1);
        assert!(on_this_day(&es, d(2029, 3, 1)).years.is_empty());
        assert_eq!(on_this_day(&es, d(2032, 2, 29)).years[0].years, 4);
        assert!(
            on_this_day(&es, d(2032, 2, 28)).years.is_empty(),
            "2032 has its own 29th"
        );
    }
}
