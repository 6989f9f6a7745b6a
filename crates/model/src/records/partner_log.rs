//! The small daily records of a partner document besides entries
//! (docs/SCHEMA.md, "Layout"): ritual-log lines, keyed by ritual and
//! occurrence, and prompt skips, keyed by day and prompt. No field names
//! the partner: the document does.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone};

use super::entries::EntryDocError;
use crate::EntryId;

/// One ritual-log line as read.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct LogLine {
    /// The ritual's id (the key of the record that made it).
    pub ritual: String,
    /// The first journal day of the occurrence's window.
    pub occurrence: NaiveDate,
    pub at: DateTime<FixedOffset>,
    /// The entry whose writing completed it, if any.
    pub entry: Option<EntryId>,
}

fn root_map(doc: &impl ReadDoc, name: &'static str) -> Result<ObjId, EntryDocError> {
    match doc.get(ROOT, name) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Ok(id),
        _ => Err(EntryDocError::NotAPartnerDoc(name)),
    }
}

fn log_key(ritual: &str, occurrence: NaiveDate) -> String {
    format!("{ritual}/{}", occurrence.format("%Y-%m-%d"))
}

fn skip_key(day: NaiveDate, prompt: &str) -> String {
    format!("{}:{prompt}", day.format("%Y-%m-%d"))
}

/// Puts a map {`at`, `offset`, and `extra`} under `key` of root map `map`,
/// unless the key is there already. Returns whether it wrote.
fn put_once(
    doc: &mut Automerge,
    map: &'static str,
    key: String,
    at: DateTime<FixedOffset>,
    extra: Option<(&str, String)>,
) -> Result<bool, EntryDocError> {
    let parent = root_map(doc, map)?;
    if doc.get(&parent, key.as_str())?.is_some() {
        return Ok(false);
    }
    let mut tx = doc.transaction();
    let m = tx.put_object(&parent, key, ObjType::Map)?;
    tx.put(&m, "at", ScalarValue::Timestamp(at.timestamp_millis()))?;
    tx.put(&m, "offset", i64::from(at.offset().local_minus_utc() / 60))?;
    if let Some((k, v)) = extra {
        tx.put(&m, k, v)?;
    }
    tx.commit();
    Ok(true)
}

/// Logs an occurrence of a ritual as done. Done twice is done once.
pub fn mark_done(
    doc: &mut Automerge,
    ritual: &str,
    occurrence: NaiveDate,
    at: DateTime<FixedOffset>,
    entry: Option<&EntryId>,
) -> Result<bool, EntryDocError> {
    let extra = entry.map(|e| ("entry", e.key()));
    put_once(doc, "ritual_log", log_key(ritual, occurrence), at, extra)
}

/// Whether the occurrence is logged in this document.
pub fn logged(doc: &impl ReadDoc, ritual: &str, occurrence: NaiveDate) -> bool {
    root_map(doc, "ritual_log")
        .ok()
        .and_then(|m| doc.get(&m, log_key(ritual, occurrence)).ok().flatten())
        .is_some()
}

fn time_of(doc: &impl ReadDoc, map: &ObjId) -> Option<DateTime<FixedOffset>> {
    let ms = match doc.get(map, "at").ok()?? {
        (Value::Scalar(s), _) => match s.as_ref() {
            ScalarValue::Timestamp(t) => *t,
            _ => return None,
        },
        _ => return None,
    };
    let offset = match doc.get(map, "offset").ok()?? {
        (Value::Scalar(s), _) => s.as_ref().as_i64()?,
        _ => return None,
    };
    let tz = FixedOffset::east_opt(i32::try_from(offset).ok()?.checked_mul(60)?)?;
    tz.timestamp_millis_opt(ms).single()
}

/// Every well-formed log line; one whose key or values do not parse is
/// counted in the second value and left out.
pub fn ritual_log(doc: &impl ReadDoc) -> (Vec<LogLine>, usize) {
    let Ok(map) = root_map(doc, "ritual_log") else {
        return (Vec::new(), 0);
    };
    let (mut lines, mut bad) = (Vec::new(), 0);
    for key in doc.keys(&map) {
        let line = (|| {
            let (ritual, day) = key.rsplit_once('/')?;
            let occurrence = NaiveDate::parse_from_str(day, "%Y-%m-%d").ok()?;
            let (_, obj) = doc.get(&map, key.as_str()).ok()??;
            let entry = match doc.get(&obj, "entry").ok()? {
                Some((Value::Scalar(s), _)) => Some(s.as_str()?.parse().ok()?),
                Some(_) => return None,
                None => None,
            };
            Some(LogLine {
                ritual: ritual.to_string(),
                occurrence,
                at: time_of(doc, &obj)?,
                entry,
            })
        })();
        match line {
            Some(l) => lines.push(l),
            None => bad += 1,
        }
    }
    (lines, bad)
}

/// Sets a day's prompt aside. Skipped twice is skipped once.
pub fn skip(
    doc: &mut Automerge,
    day: NaiveDate,
    prompt: &str,
    at: DateTime<FixedOffset>,
) -> Result<bool, EntryDocError> {
    put_once(doc, "skips", skip_key(day, prompt), at, None)
}

/// The prompts skipped on `day` in this document.
pub fn skips(doc: &impl ReadDoc, day: NaiveDate) -> Vec<String> {
    let Ok(map) = root_map(doc, "skips") else {
        return Vec::new();
    };
    let prefix = format!("{}:", day.format("%Y-%m-%d"));
    doc.keys(&map)
        .filter_map(|k| k.strip_prefix(&prefix).map(str::to_string))
        .filter(|p| !p.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::genesis::partner_genesis;
    use crate::records::heads::{DocKind, PartnerDoc};
    use crate::records::ids::PartnerCode;

    fn doc() -> Automerge {
        partner_genesis(&PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([3; 16]),
            year: 2026,
        })
    }

    fn at(s: &str) -> DateTime<FixedOffset> {
        DateTime::parse_from_rfc3339(s).unwrap()
    }

    fn day(s: &str) -> NaiveDate {
        s.parse().unwrap()
    }

    #[test]
    fn a_ritual_is_logged_once_per_occurrence_and_reads_back_with_its_time_and_entry() {
        let mut d = doc();
        let e = EntryId::from_parts(1_796_600_000_000, 4);
        let when = at("2026-12-06T19:00:00-08:00");
        assert!(mark_done(&mut d, "abc", day("2026-12-06"), when, Some(&e)).unwrap());
        assert!(!mark_done(&mut d, "abc", day("2026-12-06"), when, None).unwrap());
        assert!(mark_done(&mut d, "abc", day("2026-12-13"), when, None).unwrap());
        assert!(logged(&d, "abc", day("2026-12-06")));
        assert!(!logged(&d, "abc", day("2026-12-20")));
        assert!(!logged(&d, "other", day("2026-12-06")));
        let (mut lines, bad) = ritual_log(&d);
        lines.sort_by_key(|l| l.occurrence);
        assert_eq!(bad, 0);
        assert_eq!(lines.len(), 2);
        assert_eq!(lines[0].at, when, "the writer's offset is kept");
        assert_eq!(lines[0].entry, Some(e));
        assert_eq!(lines[1].entry, None);
    }

    #[test]
    fn skips_are_per_day_and_a_malformed_log_line_is_counted_not_shown() {
        let mut d = doc();
        let when = at("2026-12-07T08:00:00+00:00");
        assert!(skip(&mut d, day("2026-12-07"), "p-12", when).unwrap());
        assert!(!skip(&mut d, day("2026-12-07"), "p-12", when).unwrap());
        skip(&mut d, day("2026-12-08"), "c-99", when).unwrap();
        assert_eq!(skips(&d, day("2026-12-07")), ["p-12"]);
        assert_eq!(skips(&d, day("2026-12-09")), Vec::<String>::new());

        let log = root_map(&d, "ritual_log").unwrap();
        let mut tx = d.transaction();
        tx.put(&log, "no-date-here", "x").unwrap();
        tx.commit();
        assert_eq!(ritual_log(&d), (vec![], 1));
    }
}
