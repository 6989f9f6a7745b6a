//! Rituals: practices with a cadence, and the log of who did each
//! occurrence. An occurrence is named by the journal day its window opens, so
//! two devices that complete the same occurrence write the same log key.

use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate, Weekday};
use serde::{Deserialize, Serialize};

use crate::{DayBoundary, DeviceId, EntryId, Kind, ModelError, PartnerId};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub enum Cadence {
    Daily,
    /// Once a week, opening on this weekday.
    Weekly(Weekday),
    /// Once a month, opening on this day of the month (clamped to the
    /// month's last day, so 31 means "the last day" in short months).
    Monthly(u32),
    /// Once a year, opening on this month and day (29 February opens on the
    /// 28th in common years).
    Yearly(u32, u32),
}

fn last_day_of_month(year: i32, month: u32) -> u32 {
    let (ny, nm) = if month == 12 {
        (year + 1, 1)
    } else {
        (year, month + 1)
    };
    NaiveDate::from_ymd_opt(ny, nm, 1)
        .and_then(|d| d.pred_opt())
        .map_or(28, |d| d.day())
}

fn clamped(year: i32, month: u32, day: u32) -> NaiveDate {
    let d = day.min(last_day_of_month(year, month));
    NaiveDate::from_ymd_opt(year, month, d).expect("clamped day is valid")
}

fn weekday_name(w: Weekday) -> &'static str {
    match w {
        Weekday::Mon => "mon",
        Weekday::Tue => "tue",
        Weekday::Wed => "wed",
        Weekday::Thu => "thu",
        Weekday::Fri => "fri",
        Weekday::Sat => "sat",
        Weekday::Sun => "sun",
    }
}

impl Cadence {
    /// The first day of the occurrence window that contains `day`.
    pub fn occurrence(&self, day: NaiveDate) -> NaiveDate {
        match *self {
            Cadence::Daily => day,
            Cadence::Weekly(w) => {
                let back = (7 + day.weekday().num_days_from_monday() as i64
                    - w.num_days_from_monday() as i64)
                    % 7;
                day - Duration::days(back)
            }
            Cadence::Monthly(d) => {
                let this = clamped(day.year(), day.month(), d);
                if this <= day {
                    this
                } else if day.month() == 1 {
                    clamped(day.year() - 1, 12, d)
                } else {
                    clamped(day.year(), day.month() - 1, d)
                }
            }
            Cadence::Yearly(m, d) => {
                let this = clamped(day.year(), m, d);
                if this <= day {
                    this
                } else {
                    clamped(day.year() - 1, m, d)
                }
            }
        }
    }

    /// The first day of the window after the one that opens on `occurrence`.
    pub fn next(&self, occurrence: NaiveDate) -> NaiveDate {
        match *self {
            Cadence::Daily => occurrence + Duration::days(1),
            Cadence::Weekly(_) => occurrence + Duration::days(7),
            Cadence::Monthly(d) => {
                let (y, m) = if occurrence.month() == 12 {
                    (occurrence.year() + 1, 1)
                } else {
                    (occurrence.year(), occurrence.month() + 1)
                };
                clamped(y, m, d)
            }
            Cadence::Yearly(m, d) => clamped(occurrence.year() + 1, m, d),
        }
    }

    /// The window before the one that opens on `occurrence`.
    pub fn previous(&self, occurrence: NaiveDate) -> NaiveDate {
        self.occurrence(occurrence - Duration::days(1))
    }

    /// A word for the window: "today", "this week", ...
    pub fn period_word(&self) -> &'static str {
        match self {
            Cadence::Daily => "day",
            Cadence::Weekly(_) => "week",
            Cadence::Monthly(_) => "month",
            Cadence::Yearly(..) => "year",
        }
    }

    /// The same cadence, falling on another day: a weekday for weekly, 1-31
    /// for monthly, MM-DD for yearly. A daily cadence has no day to choose.
    pub fn on_day(&self, on: &str) -> Result<Cadence, ModelError> {
        let (head, want) = match self {
            Cadence::Daily => {
                return Err(ModelError::OnDay(
                    on.to_string(),
                    "daily",
                    "a daily ritual has no day to choose",
                ));
            }
            Cadence::Weekly(_) => ("weekly", "a weekday such as sun or friday"),
            Cadence::Monthly(_) => ("monthly", "a day of the month, 1-31"),
            Cadence::Yearly(..) => ("yearly", "a date as MM-DD"),
        };
        format!("{head}:{}", on.trim())
            .parse()
            .map_err(|_| ModelError::OnDay(on.to_string(), head, want))
    }

    /// How many windows a rhythm looks back over: enough to see a pattern,
    /// few enough to read at a glance.
    pub fn rhythm_depth(&self) -> usize {
        match self {
            Cadence::Daily => 14,
            Cadence::Weekly(_) => 10,
            Cadence::Monthly(_) => 12,
            Cadence::Yearly(..) => 5,
        }
    }
}

impl fmt::Display for Cadence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Cadence::Daily => write!(f, "daily"),
            Cadence::Weekly(w) => write!(f, "weekly:{}", weekday_name(w)),
            Cadence::Monthly(d) => write!(f, "monthly:{d}"),
            Cadence::Yearly(m, d) => write!(f, "yearly:{m:02}-{d:02}"),
        }
    }
}

impl FromStr for Cadence {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || ModelError::Cadence(s.to_string());
        let lower = s.trim().to_ascii_lowercase();
        let (head, arg) = match lower.split_once(':') {
            Some((h, a)) => (h, Some(a)),
            None => (lower.as_str(), None),
        };
        match (head, arg) {
            ("daily", None) => Ok(Cadence::Daily),
            ("weekly", Some(w)) => w.parse::<Weekday>().map(Cadence::Weekly).map_err(|_| bad()),
            ("weekly", None) => Ok(Cadence::Weekly(Weekday::Sun)),
            ("monthly", None) => Ok(Cadence::Monthly(1)),
            ("monthly", Some(d)) => match d.parse::<u32>() {
                Ok(d @ 1..=31) => Ok(Cadence::Monthly(d)),
                _ => Err(bad()),
            },
            ("yearly", None) => Ok(Cadence::Yearly(1, 1)),
            ("yearly", Some(md)) => {
                let (m, d) = md.split_once('-').ok_or_else(bad)?;
                let (m, d) = (
                    m.parse::<u32>().map_err(|_| bad())?,
                    d.parse::<u32>().map_err(|_| bad())?,
                );
                // Validate against a leap year so 02-29 is allowed.
                NaiveDate::from_ymd_opt(2028, m, d).ok_or_else(bad)?;
                Ok(Cadence::Yearly(m, d))
            }
            _ => Err(bad()),
        }
    }
}

impl TryFrom<String> for Cadence {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Cadence> for String {
    fn from(c: Cadence) -> String {
        c.to_string()
    }
}

/// Who a ritual is for.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Owner {
    /// Each partner does it for themselves (an evening check-in).
    Both,
    /// Done once for the couple, by either of them (a date night).
    Together,
    /// One partner's ritual.
    Partner(PartnerId),
}

impl Owner {
    pub fn to_key(&self) -> String {
        match self {
            Owner::Both => "both".into(),
            Owner::Together => "together".into(),
            Owner::Partner(p) => format!("partner:{p}"),
        }
    }

    pub fn from_key(s: &str) -> Option<Owner> {
        match s {
            "both" => Some(Owner::Both),
            "together" => Some(Owner::Together),
            _ => s
                .strip_prefix("partner:")
                .map(|p| Owner::Partner(PartnerId(p.to_string().into()))),
        }
    }

    pub fn includes(&self, who: &PartnerId) -> bool {
        match self {
            Owner::Both | Owner::Together => true,
            Owner::Partner(p) => p == who,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ritual {
    pub id: String,
    pub name: String,
    /// What the practice is: a template name such as `state-of-the-union`,
    /// or `custom`.
    pub kind: String,
    pub cadence: Cadence,
    pub owner: Owner,
    /// An entry kind whose writing completes this ritual automatically.
    #[serde(default)]
    pub fulfilled_by: Option<Kind>,
    pub created: DateTime<FixedOffset>,
    #[serde(default)]
    pub archived: Option<DateTime<FixedOffset>>,
}

/// A change to a ritual; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct RitualChange {
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub cadence: Option<Cadence>,
    #[serde(default)]
    pub owner: Option<Owner>,
    /// `Some(None)` stops entries from completing the ritual.
    #[serde(default)]
    pub fulfilled_by: Option<Option<Kind>>,
}

/// One occurrence window in a rhythm.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Window {
    /// The journal day the window opens.
    pub opens: NaiveDate,
    pub done: bool,
    /// The window that contains today: not missed yet, even if not done.
    pub open: bool,
}

/// One partner's (or, for `together`, the couple's) record of a ritual.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Lane {
    /// `None` for a ritual done together.
    pub partner: Option<PartnerId>,
    pub windows: Vec<Window>,
    /// Windows done.
    pub done: usize,
    /// Windows that count: every closed window, plus the current one once
    /// it is done. A missed window lowers the ratio; it never resets it.
    pub counted: usize,
}

impl Lane {
    pub fn new(partner: Option<PartnerId>, windows: Vec<Window>) -> Lane {
        let done = windows.iter().filter(|w| w.done).count();
        let counted = windows.iter().filter(|w| !w.open || w.done).count();
        Lane {
            partner,
            windows,
            done,
            counted,
        }
    }

    /// Windows that closed without being done.
    pub fn missed(&self) -> usize {
        self.counted - self.done
    }
}

/// A ritual's recent rhythm, lane by lane.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rhythm {
    pub ritual: Ritual,
    pub lanes: Vec<Lane>,
    /// For a ritual added while a window was open: the day its first full
    /// window opens, while that is still ahead.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
}

/// A built-in ritual the couple can switch on with one command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Template {
    /// The name used on the command line and stored as the ritual's kind.
    pub key: &'static str,
    pub name: &'static str,
    pub cadence: Cadence,
    pub owner: TemplateOwner,
    /// Writing this kind of entry completes it.
    pub fulfilled_by: Option<Kind>,
    pub about: &'static str,
}

/// A template's default owner; `Partner` needs a person, so templates only
/// choose between the two shared forms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateOwner {
    Both,
    Together,
}

/// The built-in rituals, in the order `hearth ritual templates` lists them.
pub const TEMPLATES: [Template; 7] = [
    Template {
        key: "evening-checkin",
        name: "Evening check-in",
        cadence: Cadence::Daily,
        owner: TemplateOwner::Both,
        fulfilled_by: Some(Kind::Checkin),
        about: "Each of you says how you really are tonight, and what you need.",
    },
    Template {
        key: "high-low",
        name: "High-low",
        cadence: Cadence::Daily,
        owner: TemplateOwner::Both,
        fulfilled_by: Some(Kind::Highlow),
        about: "The best and the hardest moment of the day, one line each.",
    },
    Template {
        key: "morning-gratitude",
        name: "Morning gratitude",
        cadence: Cadence::Daily,
        owner: TemplateOwner::Both,
        fulfilled_by: Some(Kind::Gratitude),
        about: "Start the day by thanking your partner for something specific.",
    },
    Template {
        key: "state-of-the-union",
        name: "State of the union",
        cadence: Cadence::Weekly(Weekday::Sun),
        owner: TemplateOwner::Together,
        fulfilled_by: None,
        about: "An hour a week to appreciate, air what is hard, and ask for what you need. `hearth review --week` builds the agenda.",
    },
    Template {
        key: "date-night",
        name: "Date night",
        cadence: Cadence::Monthly(1),
        owner: TemplateOwner::Together,
        fulfilled_by: None,
        about: "Time for the two of you, planned on purpose, once a month.",
    },
    Template {
        key: "relationship-review",
        name: "Relationship review",
        cadence: Cadence::Yearly(1, 1),
        owner: TemplateOwner::Together,
        fulfilled_by: None,
        about: "Once a year, look back together and choose what to grow next. `hearth review --year` helps.",
    },
    Template {
        key: "digital-detox",
        name: "Digital-detox evening",
        cadence: Cadence::Weekly(Weekday::Fri),
        owner: TemplateOwner::Together,
        fulfilled_by: None,
        about: "One evening a week with screens away and attention on each other.",
    },
];

/// One line of the ritual log.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RitualDone {
    pub ritual: String,
    /// First journal day of the occurrence window.
    pub occurrence: NaiveDate,
    pub partner: PartnerId,
    pub device: DeviceId,
    pub at: DateTime<FixedOffset>,
    #[serde(default)]
    pub entry: Option<EntryId>,
}

/// The state of one ritual for one partner today.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DueItem {
    pub ritual: Ritual,
    pub occurrence: NaiveDate,
    /// The window closes before this day.
    pub until: NaiveDate,
    /// Done by me for this occurrence (or by either, for `together`).
    pub done_by_me: bool,
    /// My partner has done their part of this occurrence.
    pub done_by_partner: bool,
    /// Still waiting for me.
    pub due: bool,
    /// Added during this window: the first one to do opens on this day.
    #[serde(default)]
    pub starts: Option<NaiveDate>,
}

impl Ritual {
    /// Whether `who` completed the occurrence opening on `occ`.
    pub fn done_by(&self, log: &[RitualDone], occ: NaiveDate, who: &PartnerId) -> bool {
        let who = (!matches!(self.owner, Owner::Together)).then_some(who);
        self.done_in(log, occ, who)
    }

    /// Whether the occurrence opening on `occ` was done by `who`, or by
    /// anyone when `who` is `None`. Log lines are matched through the
    /// current cadence, so changing a ritual from weekly to monthly keeps
    /// its history: a week's completion counts for the month it falls in.
    pub fn done_in(&self, log: &[RitualDone], occ: NaiveDate, who: Option<&PartnerId>) -> bool {
        log.iter().any(|d| {
            d.ritual == self.id
                && self.cadence.occurrence(d.occurrence) == occ
                && who.is_none_or(|w| &d.partner == w)
        })
    }

    /// Who is expected to do each occurrence: every partner for `both`, one
    /// shared lane (`None`) for `together`, or the one owner.
    pub fn lanes(&self, partners: &[PartnerId]) -> Vec<Option<PartnerId>> {
        match &self.owner {
            Owner::Together => vec![None],
            Owner::Both => partners.iter().cloned().map(Some).collect(),
            Owner::Partner(p) => vec![Some(p.clone())],
        }
    }

    /// Up to `n` occurrence windows, oldest first, ending with the one that
    /// contains `today`, leaving out windows that closed before `since`
    /// (the journal day the ritual was created).
    pub fn windows(&self, today: NaiveDate, n: usize, since: NaiveDate) -> Vec<NaiveDate> {
        let mut out = Vec::new();
        let mut occ = self.cadence.occurrence(today);
        while out.len() < n && self.cadence.next(occ) > since {
            out.push(occ);
            occ = self.cadence.previous(occ);
        }
        out.reverse();
        out
    }

    /// The rhythm of the last `n` windows for every lane: which were done,
    /// which missed, and whether the current one is still open.
    pub fn rhythm(
        &self,
        log: &[RitualDone],
        partners: &[PartnerId],
        today: NaiveDate,
        n: usize,
        since: NaiveDate,
    ) -> Rhythm {
        self.rhythm_until(log, partners, today, n, since, today)
    }

    /// The rhythm of the `n` windows up to the one holding `last`, as seen
    /// on `today`: a window is open only if it holds today, so a look back
    /// at a past week counts its last window as done or missed.
    pub fn rhythm_until(
        &self,
        log: &[RitualDone],
        partners: &[PartnerId],
        last: NaiveDate,
        n: usize,
        since: NaiveDate,
        today: NaiveDate,
    ) -> Rhythm {
        let windows = self.windows(last, n, since);
        let current = self.cadence.occurrence(today);
        let lanes = self
            .lanes(partners)
            .into_iter()
            .map(|who| {
                let windows: Vec<Window> = windows
                    .iter()
                    .map(|&opens| Window {
                        opens,
                        done: self.done_in(log, opens, who.as_ref()),
                        open: opens == current,
                    })
                    // The window the ritual was added in counts only if
                    // someone did it anyway.
                    .filter(|w| w.opens >= since || w.done)
                    .collect();
                Lane::new(who, windows)
            })
            .collect();
        let first = self.first_window(since);
        Rhythm {
            ritual: self.clone(),
            lanes,
            starts: (current < first).then_some(first),
        }
    }

    /// The journal day the ritual began: windows that opened earlier are
    /// not held against anyone.
    pub fn start_day(&self, boundary: DayBoundary) -> NaiveDate {
        boundary.day_of(self.created)
    }

    /// The first window that opened on or after `start`: the first one
    /// the ritual asks for.
    pub fn first_window(&self, start: NaiveDate) -> NaiveDate {
        let occ = self.cadence.occurrence(start);
        if occ < start {
            self.cadence.next(occ)
        } else {
            occ
        }
    }

    pub fn status(
        &self,
        log: &[RitualDone],
        today: NaiveDate,
        start: NaiveDate,
        me: &PartnerId,
        partner: Option<&PartnerId>,
    ) -> DueItem {
        let occ = self.cadence.occurrence(today);
        let done_by_me = self.done_by(log, occ, me);
        let done_by_partner = partner.is_some_and(|p| self.done_in(log, occ, Some(p)));
        // A weekly ritual added on a Monday starts with the next window, not
        // the one that opened on Sunday.
        let first = self.first_window(start);
        let starts = (occ < first).then_some(first);
        DueItem {
            ritual: self.clone(),
            occurrence: occ,
            until: self.cadence.next(occ),
            done_by_me,
            done_by_partner,
            due: self.archived.is_none()
                && self.owner.includes(me)
                && !done_by_me
                && starts.is_none(),
            starts: starts.filter(|_| !done_by_me),
        }
    }
}

/// What `who` has to do today: rituals they own whose current occurrence they
/// have not completed, plus what their partner already did.
pub fn due_today(
    rituals: &[Ritual],
    log: &[RitualDone],
    today: NaiveDate,
    boundary: DayBoundary,
    me: &PartnerId,
    partner: Option<&PartnerId>,
) -> Vec<DueItem> {
    rituals
        .iter()
        .filter(|r| r.archived.is_none())
        .map(|r| r.status(log, today, r.start_day(boundary), me, partner))
        .filter(|s| s.ritual.owner.includes(me) || s.done_by_partner)
        .collect()
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use chrono::TimeZone;

    pub(crate) fn d(y: i32, m: u32, day: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, day).unwrap()
    }

    pub(crate) fn ritual(cadence: &str, owner: Owner) -> Ritual {
        Ritual {
            id: "r1".into(),
            name: "test".into(),
            kind: "custom".into(),
            cadence: cadence.parse().unwrap(),
            owner,
            fulfilled_by: None,
            created: FixedOffset::east_opt(0)
                .unwrap()
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .unwrap(),
            archived: None,
        }
    }

    pub(crate) fn done(occ: NaiveDate, who: &str) -> RitualDone {
        RitualDone {
            ritual: "r1".into(),
            occurrence: occ,
            partner: PartnerId(who.into()),
            device: DeviceId("dev".into()),
            at: FixedOffset::east_opt(0)
                .unwrap()
                .with_ymd_and_hms(2026, 1, 1, 0, 0, 0)
                .unwrap(),
            entry: None,
        }
    }

    #[test]
    fn cadences_parse_and_print_round_trip() {
        for s in [
            "daily",
            "weekly:sun",
            "weekly:wed",
            "monthly:1",
            "monthly:31",
            "yearly:02-29",
            "yearly:12-31",
        ] {
            assert_eq!(s.parse::<Cadence>().unwrap().to_string(), s);
        }
        assert_eq!(
            "Weekly:Friday".parse::<Cadence>().unwrap(),
            Cadence::Weekly(Weekday::Fri)
        );
        for bad in [
            "hourly",
            "weekly:funday",
            "monthly:0",
            "monthly:32",
            "yearly:02-30",
            "yearly:13-01",
            "daily:3",
            "",
        ] {
            assert!(bad.parse::<Cadence>().is_err(), "{bad}");
        }
    }

    #[test]
    fn weekly_windows_open_on_their_weekday() {
        let c: Cadence = "weekly:sun".parse().unwrap();
        // 2026-11-22 is a Sunday.
        assert_eq!(c.occurrence(d(2026, 11, 22)), d(2026, 11, 22));
        assert_eq!(c.occurrence(d(2026, 11, 25)), d(2026, 11, 22));
        assert_eq!(c.occurrence(d(2026, 11, 28)), d(2026, 11, 22));
        assert_eq!(c.occurrence(d(2026, 11, 29)), d(2026, 11, 29));
        assert_eq!(c.next(d(2026, 11, 22)), d(2026, 11, 29));
        assert_eq!(c.previous(d(2026, 11, 22)), d(2026, 11, 15));
    }

    #[test]
    fn monthly_windows_clamp_to_short_months() {
        let c: Cadence = "monthly:31".parse().unwrap();
        assert_eq!(c.occurrence(d(2026, 2, 27)), d(2026, 1, 31));
        assert_eq!(c.occurrence(d(2026, 2, 28)), d(2026, 2, 28));
        assert_eq!(
            c.occurrence(d(2028, 2, 28)),
            d(2028, 1, 31),
            "leap year: the 29th opens it"
        );
        assert_eq!(c.occurrence(d(2028, 2, 29)), d(2028, 2, 29));
        assert_eq!(c.next(d(2026, 2, 28)), d(2026, 3, 31));
        assert_eq!(
            c.occurrence(d(2026, 1, 5)),
            d(2025, 12, 31),
            "crosses the year back"
        );
        let first: Cadence = "monthly".parse().unwrap();
        assert_eq!(first.occurrence(d(2026, 12, 31)), d(2026, 12, 1));
        assert_eq!(first.next(d(2026, 12, 1)), d(2027, 1, 1));
    }

    #[test]
    fn yearly_windows_handle_leap_days() {
        let c: Cadence = "yearly:02-29".parse().unwrap();
        assert_eq!(c.occurrence(d(2027, 3, 1)), d(2027, 2, 28));
        assert_eq!(c.occurrence(d(2028, 2, 28)), d(2027, 2, 28));
        assert_eq!(c.occurrence(d(2028, 2, 29)), d(2028, 2, 29));
        assert_eq!(c.next(d(2028, 2, 29)), d(2029, 2, 28));
    }

    #[test]
    fn due_depends_on_owner_and_log() {
        let me = PartnerId("ana".into());
        let them = PartnerId("ben".into());
        let today = d(2026, 11, 25);
        let both = ritual("daily", Owner::Both);
        let log = vec![done(today, "ben")];
        let s = both.status(&log, today, d(2026, 1, 1), &me, Some(&them));
        assert!(s.due && !s.done_by_me && s.done_by_partner);
        let s = both.status(&log, today, d(2026, 1, 1), &them, Some(&me));
        assert!(!s.due && s.done_by_me);

        let together = ritual("weekly:sun", Owner::Together);
        let log = vec![done(d(2026, 11, 22), "ben")];
        assert!(
            !together
                .status(&log, today, d(2026, 1, 1), &me, Some(&them))
                .due,
            "either partner completes it"
        );
        assert!(
            together
                .status(&log, d(2026, 11, 29), d(2026, 1, 1), &me, Some(&them))
                .due,
            "next week is due again"
        );

        let bens = ritual("daily", Owner::Partner(them.clone()));
        assert!(
            !bens.status(&[], today, d(2026, 1, 1), &me, Some(&them)).due,
            "not mine"
        );
        assert!(bens.status(&[], today, d(2026, 1, 1), &them, Some(&me)).due);
        assert!(
            due_today(
                std::slice::from_ref(&bens),
                &[],
                today,
                DayBoundary::default(),
                &me,
                Some(&them)
            )
            .is_empty()
        );
        assert_eq!(
            due_today(
                &[bens],
                &[done(today, "ben")],
                today,
                DayBoundary::default(),
                &me,
                Some(&them)
            )
            .len(),
            1,
            "shown as partner's progress"
        );
    }

    #[test]
    fn a_ritual_starts_with_the_first_window_after_it_was_added() {
        let me = PartnerId("ana".into());
        let r = ritual("weekly:sun", Owner::Both);
        // Added on Monday 23rd: the week that opened on Sunday 22nd is not
        // due and not missed; the first one opens on the 29th.
        let s = r.status(&[], d(2026, 11, 25), d(2026, 11, 23), &me, None);
        assert!(!s.due);
        assert_eq!(s.starts, Some(d(2026, 11, 29)));
        let s = r.status(&[], d(2026, 11, 29), d(2026, 11, 23), &me, None);
        assert!(s.due && s.starts.is_none());
        let rh = r.rhythm(
            &[],
            std::slice::from_ref(&me),
            d(2026, 11, 25),
            10,
            d(2026, 11, 23),
        );
        assert!(rh.lanes[0].windows.is_empty(), "nothing counted yet");
        assert_eq!(rh.starts, Some(d(2026, 11, 29)));
        // Done anyway in that first week: it counts.
        let log = vec![done(d(2026, 11, 22), "ana")];
        let rh = r.rhythm(
            &log,
            std::slice::from_ref(&me),
            d(2026, 11, 29),
            10,
            d(2026, 11, 23),
        );
        assert_eq!((rh.lanes[0].done, rh.lanes[0].counted), (1, 1));
        // A daily ritual added today is due today.
        let daily = ritual("daily", Owner::Both);
        assert!(
            daily
                .status(&[], d(2026, 11, 25), d(2026, 11, 25), &me, None)
                .due
        );
    }

    #[test]
    fn yesterday_does_not_count_for_today() {
        let me = PartnerId("ana".into());
        let r = ritual("daily", Owner::Both);
        let log = vec![done(d(2026, 11, 24), "ana")];
        assert!(
            r.status(&log, d(2026, 11, 25), d(2026, 1, 1), &me, None)
                .due
        );
    }

    #[test]
    fn rhythm_counts_windows_and_never_resets() {
        let ana = PartnerId("ana".into());
        let ben = PartnerId("ben".into());
        let r = ritual("weekly:sun", Owner::Both);
        // Ten Sundays back from 2026-11-22; Ana missed two, Ben did four.
        let sundays: Vec<NaiveDate> = (0..10)
            .map(|i| d(2026, 11, 22) - Duration::weeks(i))
            .collect();
        let mut log: Vec<RitualDone> = sundays
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 7)
            .map(|(_, s)| done(*s, "ana"))
            .collect();
        log.extend(sundays[..4].iter().map(|s| done(*s, "ben")));
        // Wednesday 25 Nov: the current window opened on the 22nd.
        let rh = r.rhythm(
            &log,
            &[ana.clone(), ben.clone()],
            d(2026, 11, 25),
            10,
            d(2020, 1, 1),
        );
        assert_eq!(rh.lanes.len(), 2);
        let a = &rh.lanes[0];
        assert_eq!(a.partner.as_ref(), Some(&ana));
        assert_eq!((a.done, a.counted, a.missed()), (8, 10, 2));
        assert!(a.windows.last().unwrap().open);
        let b = &rh.lanes[1];
        assert_eq!((b.done, b.counted), (4, 10));
        // Next Sunday, nobody has done the new week yet: it is open, not missed.
        let rh = r.rhythm(
            &log,
            &[ana.clone(), ben],
            d(2026, 11, 29),
            10,
            d(2020, 1, 1),
        );
        let a = &rh.lanes[0];
        assert_eq!(
            (a.done, a.counted),
            (7, 9),
            "the open week is not counted until done; 20 Sep fell out"
        );
        assert_eq!(a.windows.first().unwrap().opens, d(2026, 9, 27));
    }

    #[test]
    fn rhythm_starts_when_the_ritual_was_created_and_together_is_one_lane() {
        let r = ritual("daily", Owner::Together);
        let ana = PartnerId("ana".into());
        let ben = PartnerId("ben".into());
        let log = vec![done(d(2026, 11, 24), "ben")];
        let rh = r.rhythm(&log, &[ana, ben], d(2026, 11, 25), 14, d(2026, 11, 23));
        assert_eq!(rh.lanes.len(), 1);
        let l = &rh.lanes[0];
        assert_eq!(l.partner, None);
        let days: Vec<NaiveDate> = l.windows.iter().map(|w| w.opens).collect();
        assert_eq!(
            days,
            vec![d(2026, 11, 23), d(2026, 11, 24), d(2026, 11, 25)]
        );
        assert_eq!((l.done, l.counted), (1, 2));
    }

    #[test]
    fn a_changed_cadence_keeps_the_history() {
        let ana = PartnerId("ana".into());
        let mut r = ritual("weekly:sun", Owner::Both);
        let log = vec![done(d(2026, 11, 8), "ana")];
        r.cadence = "monthly".parse().unwrap();
        assert!(
            r.done_by(&log, d(2026, 11, 1), &ana),
            "a November week counts for November"
        );
        assert!(!r.done_by(&log, d(2026, 10, 1), &ana));
    }

    #[test]
    fn monthly_rhythm_across_month_ends_and_leap_years() {
        let r = ritual("monthly:31", Owner::Both);
        let ana = PartnerId("ana".into());
        let rh = r.rhythm(&[], &[ana], d(2028, 3, 15), 3, d(2020, 1, 1));
        let opens: Vec<NaiveDate> = rh.lanes[0].windows.iter().map(|w| w.opens).collect();
        // Mid-March 2028: the window opened on 29 February (leap year).
        assert_eq!(opens, vec![d(2027, 12, 31), d(2028, 1, 31), d(2028, 2, 29)]);
    }

    #[test]
    fn template_keys_are_unique_and_every_template_is_described() {
        let keys: std::collections::BTreeSet<_> = TEMPLATES.iter().map(|t| t.key).collect();
        assert_eq!(keys.len(), TEMPLATES.len());
        assert!(
            TEMPLATES
                .iter()
                .all(|t| t.name.len() <= 32 && !t.about.is_empty())
        );
    }
}
