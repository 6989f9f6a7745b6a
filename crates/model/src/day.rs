//! The journal day. A late-night entry belongs to the day it closes, not the
//! day that has just begun, so days start at a configurable hour (4 am by
//! default), in the writer's own UTC offset.

use chrono::{DateTime, Datelike, Duration, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::ModelError;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DayBoundary {
    /// Hour of the local day (0-23) at which a new journal day begins.
    pub hour: u32,
}

impl Default for DayBoundary {
    fn default() -> Self {
        DayBoundary { hour: 4 }
    }
}

impl DayBoundary {
    pub fn new(hour: u32) -> Option<Self> {
        (hour < 24).then_some(DayBoundary { hour })
    }

    /// The journal day that a moment belongs to, judged in the moment's own
    /// offset: 02:30 on the 5th with a 4 am boundary is still the 4th.
    pub fn day_of(&self, at: DateTime<FixedOffset>) -> NaiveDate {
        (at.naive_local() - Duration::hours(i64::from(self.hour))).date()
    }
}

/// Whether a date is one hearth works with: years 1970 to 9999. Anything
/// else in a document is a malformed (or hostile) record, and anything else
/// typed is a slip; date arithmetic near chrono's limits would overflow.
pub fn in_range(d: NaiveDate) -> bool {
    (1970..=9999).contains(&d.year())
}

/// Parses a user's date: ISO (`2026-01-31`), `today`, `yesterday`,
/// `last monday`, `2 weeks ago`, `nov 3` and the like, relative to `now`.
/// Returns the journal day it names.
pub fn parse_when(
    input: &str,
    now: DateTime<FixedOffset>,
    boundary: DayBoundary,
) -> Result<NaiveDate, ModelError> {
    let s = input.trim();
    if s.is_empty() {
        return Err(ModelError::Date(input.to_string()));
    }
    let checked = |d: NaiveDate| {
        if in_range(d) {
            Ok(d)
        } else {
            Err(ModelError::Date(input.to_string()))
        }
    };
    if let Ok(d) = NaiveDate::parse_from_str(s, "%Y-%m-%d") {
        return checked(d);
    }
    // Relative words are about journal days, so shift `now` back across the
    // boundary first: at 1 am, "today" still means the evening just lived.
    let today = boundary.day_of(now);
    let lower = s.to_ascii_lowercase();
    match lower.as_str() {
        "today" | "now" => return Ok(today),
        "yesterday" => return Ok(today - Duration::days(1)),
        _ => {}
    }
    // A journal looks back: a bare weekday ("monday", "this fri") is the
    // latest such day, today included, where date parsers pick the next one.
    let bare = lower.strip_prefix("this ").unwrap_or(&lower).trim();
    if let Ok(w) = bare.parse::<chrono::Weekday>() {
        let back = (7 + today.weekday().num_days_from_monday() - w.num_days_from_monday()) % 7;
        return Ok(today - Duration::days(i64::from(back)));
    }
    let anchor = today
        .and_time(now.time())
        .and_local_timezone(*now.offset())
        .single()
        .unwrap_or(now);
    interim::parse_date_string(s, anchor, interim::Dialect::Uk)
        .map_err(|_| ModelError::Date(input.to_string()))
        .and_then(|d| checked(d.date_naive()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn at(y: i32, m: u32, d: u32, h: u32, min: u32, offset_h: i32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(offset_h * 3600)
            .unwrap()
            .with_ymd_and_hms(y, m, d, h, min, 0)
            .unwrap()
    }

    fn date(y: i32, m: u32, d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(y, m, d).unwrap()
    }

    #[test]
    fn boundary_keeps_late_nights_on_the_previous_day() {
        let b = DayBoundary::default();
        assert_eq!(b.day_of(at(2026, 3, 5, 2, 30, 1)), date(2026, 3, 4));
        assert_eq!(b.day_of(at(2026, 3, 5, 3, 59, 1)), date(2026, 3, 4));
        assert_eq!(b.day_of(at(2026, 3, 5, 4, 0, 1)), date(2026, 3, 5));
        assert_eq!(b.day_of(at(2026, 3, 5, 23, 59, 1)), date(2026, 3, 5));
    }

    #[test]
    fn boundary_uses_the_writers_offset_not_utc() {
        let b = DayBoundary::default();
        // 2026-03-05 01:00 UTC is 20:00 on the 4th in UTC-5.
        assert_eq!(b.day_of(at(2026, 3, 4, 20, 0, -5)), date(2026, 3, 4));
        // And 10:00 on the 5th in UTC+9.
        assert_eq!(b.day_of(at(2026, 3, 5, 10, 0, 9)), date(2026, 3, 5));
    }

    #[test]
    fn boundary_crosses_year_and_leap_day() {
        let b = DayBoundary::default();
        assert_eq!(b.day_of(at(2027, 1, 1, 1, 0, 0)), date(2026, 12, 31));
        assert_eq!(b.day_of(at(2028, 3, 1, 3, 0, 0)), date(2028, 2, 29));
        let midnight = DayBoundary::new(0).unwrap();
        assert_eq!(midnight.day_of(at(2028, 3, 1, 0, 0, 0)), date(2028, 3, 1));
        assert!(DayBoundary::new(24).is_none());
    }

    #[test]
    fn natural_dates_are_relative_to_the_injected_now() {
        let b = DayBoundary::default();
        let now = at(2026, 11, 25, 10, 0, 1); // a Wednesday
        assert_eq!(parse_when("today", now, b).unwrap(), date(2026, 11, 25));
        assert_eq!(parse_when("yesterday", now, b).unwrap(), date(2026, 11, 24));
        assert_eq!(
            parse_when("last monday", now, b).unwrap(),
            date(2026, 11, 23)
        );
        assert_eq!(
            parse_when("2 weeks ago", now, b).unwrap(),
            date(2026, 11, 11)
        );
        assert_eq!(
            parse_when("3 days ago", now, b).unwrap(),
            date(2026, 11, 22)
        );
        assert_eq!(parse_when("2026-02-28", now, b).unwrap(), date(2026, 2, 28));
        // A bare weekday looks back, today included.
        assert_eq!(parse_when("monday", now, b).unwrap(), date(2026, 11, 23));
        assert_eq!(parse_when("Mon", now, b).unwrap(), date(2026, 11, 23));
        assert_eq!(
            parse_when("this friday", now, b).unwrap(),
            date(2026, 11, 20)
        );
        assert_eq!(parse_when("wednesday", now, b).unwrap(), date(2026, 11, 25));
        assert!(
            parse_when("next monday", now, b).unwrap() > date(2026, 11, 25),
            "left to the parser"
        );
    }

    #[test]
    fn today_after_midnight_is_still_the_evening_before() {
        let b = DayBoundary::default();
        let now = at(2026, 11, 26, 1, 30, 0);
        assert_eq!(parse_when("today", now, b).unwrap(), date(2026, 11, 25));
        assert_eq!(parse_when("yesterday", now, b).unwrap(), date(2026, 11, 24));
    }

    #[test]
    fn bad_dates_are_refused_with_the_input_named() {
        let now = at(2026, 11, 25, 10, 0, 0);
        for bad in [
            "",
            "  ",
            "someday",
            "2026-02-30",
            "2026-13-01",
            "blue moon",
            "-262143-01-01",
            "+262142-12-31",
            "1969-12-31",
            "10000-01-01",
        ] {
            let err = parse_when(bad, now, DayBoundary::default()).unwrap_err();
            assert!(matches!(err, ModelError::Date(_)), "{bad:?} gave {err:?}");
        }
    }
}
