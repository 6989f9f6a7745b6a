//! jrnl interchange: reading jrnl's JSON export (`jrnl --format json`) and
//! writing jrnl's plain-text journal format, which `jrnl --import` reads.

use chrono::{NaiveDate, NaiveDateTime, NaiveTime};
use serde::Deserialize;
use sha2::{Digest, Sha256};

use crate::entry::normalize_tag;
use crate::{Body, EntryId, ModelError, NewEntry, PartnerId};

/// One entry of a jrnl JSON export, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JrnlEntry {
    /// Wall-clock time, as jrnl stores it: no time zone.
    pub at: NaiveDateTime,
    pub title: String,
    pub body: String,
    pub tags: Vec<String>,
    pub starred: bool,
}

#[derive(Deserialize)]
struct Export {
    entries: Vec<RawEntry>,
}

#[derive(Deserialize)]
struct RawEntry {
    title: String,
    #[serde(default)]
    body: String,
    #[serde(deserialize_with = "date")]
    date: NaiveDate,
    #[serde(default, deserialize_with = "time")]
    time: Option<NaiveTime>,
    #[serde(default)]
    tags: Vec<String>,
    #[serde(default)]
    starred: bool,
}

fn date<'de, D: serde::Deserializer<'de>>(d: D) -> Result<NaiveDate, D::Error> {
    let s = String::deserialize(d)?;
    NaiveDate::parse_from_str(&s, "%Y-%m-%d")
        .map_err(|_| serde::de::Error::custom(format!("invalid date {s:?}, expected YYYY-MM-DD")))
}

fn time<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<NaiveTime>, D::Error> {
    let s = String::deserialize(d)?;
    NaiveTime::parse_from_str(&s, "%H:%M")
        .map(Some)
        .map_err(|_| serde::de::Error::custom(format!("invalid time {s:?}, expected HH:MM")))
}

/// jrnl's default hour for an entry without a time.
const DEFAULT_TIME: NaiveTime = NaiveTime::from_hms_opt(9, 0, 0).expect("valid time");

/// Reads a jrnl JSON export. Any problem is reported with the JSON path and
/// line, e.g. `entries[3].date: invalid date "2020-13-01" ... at line 14`,
/// and nothing is returned, so a bad file imports nothing.
pub fn parse_export(text: &str) -> Result<Vec<JrnlEntry>, ModelError> {
    // serde would read a struct from an array too; a jrnl export is always
    // an object, and saying so is clearer than "invalid length".
    if !text.trim_start().starts_with('{') {
        return Err(ModelError::Import(
            "not a jrnl JSON export: expected an object with \"entries\" (made by `jrnl --format json`)".into(),
        ));
    }
    let de = &mut serde_json::Deserializer::from_str(text);
    let export: Export = serde_path_to_error::deserialize(de).map_err(|e| {
        let inner = e.inner();
        let path = e.path().to_string();
        let msg = inner.to_string();
        if path == "." || path.is_empty() {
            ModelError::Import(msg)
        } else {
            ModelError::Import(format!("{path}: {msg}"))
        }
    })?;
    export
        .entries
        .into_iter()
        .enumerate()
        .map(|(i, raw)| {
            let mut tags = Vec::new();
            for (j, t) in raw.tags.iter().enumerate() {
                // jrnl lets users pick their tag symbols; '@' and '#' are the
                // common ones.
                let bare = t.trim().trim_start_matches(['@', '#']);
                let tag = normalize_tag(bare).map_err(|_| {
                    ModelError::Import(format!(
                        "entries[{i}].tags[{j}]: invalid tag {t:?}: tags are letters, digits, '-' and '_'"
                    ))
                })?;
                tags.push(tag);
            }
            let e = JrnlEntry {
                at: raw.date.and_time(raw.time.unwrap_or(DEFAULT_TIME)),
                title: raw.title.trim().to_string(),
                body: raw.body.trim().to_string(),
                tags,
                starred: raw.starred,
            };
            e.new_entry()
                .body
                .validate()
                .map_err(|err| ModelError::Import(format!("entries[{i}]: {err}")))?;
            Ok(e)
        })
        .collect()
}

impl JrnlEntry {
    /// jrnl splits an entry into a title line and a body; hearth keeps
    /// them as one note, title first, as jrnl's own file shows them.
    pub fn text(&self) -> String {
        if self.body.is_empty() {
            self.title.clone()
        } else {
            format!("{}\n{}", self.title, self.body)
        }
    }

    pub fn new_entry(&self) -> NewEntry {
        NewEntry {
            body: Body::Note { text: self.text() },
            tags: self.tags.iter().cloned().collect(),
            starred: self.starred,
            tender: None,
        }
    }

    /// What makes two jrnl entries the same: jrnl itself treats entries
    /// with the same time and text as duplicates.
    pub fn fingerprint(&self) -> String {
        let digest = Sha256::digest(format!(
            "{}\0{}",
            self.at.format("%Y-%m-%d %H:%M"),
            self.text()
        ));
        digest.iter().take(16).map(|b| format!("{b:02x}")).collect()
    }
}

/// The id an imported entry gets: its time, plus bits derived from who
/// imports it and what it says. Importing the same file again, on any of
/// that partner's devices, yields the same ids, so nothing is doubled.
pub fn import_id(author: &PartnerId, unix_ms: u64, fingerprint: &str) -> EntryId {
    let digest = Sha256::digest(format!("hearth-import\0{author}\0{fingerprint}").as_bytes());
    let random = u128::from_le_bytes(digest[..16].try_into().expect("16 bytes"));
    EntryId::from_parts(unix_ms, random)
}

/// One entry to write in jrnl's text format.
pub struct JrnlOut {
    pub at: NaiveDateTime,
    pub text: String,
    pub starred: bool,
}

/// Writes entries as a jrnl journal file: `[YYYY-MM-DD HH:MM] title`, the
/// body on the following lines, a blank line between entries, and ` *`
/// after the title of a starred entry.
pub fn to_text(entries: &[JrnlOut]) -> String {
    let mut out = String::new();
    for e in entries {
        let mut lines = e.text.trim().lines();
        let title = lines.next().unwrap_or("").trim_end();
        out.push_str(&format!("[{}] {title}", e.at.format("%Y-%m-%d %H:%M")));
        if e.starred {
            out.push_str(" *");
        }
        out.push('\n');
        for line in lines {
            // A body line that looks like a date stamp would start a new
            // entry when jrnl reads the file back.
            if line.starts_with('[') && line.contains("] ") {
                out.push(' ');
            }
            out.push_str(line.trim_end());
            out.push('\n');
        }
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = r#"{
  "tags": {"@work": 1},
  "entries": [
    {
      "title": "Called in sick.",
      "body": "Used the time to clean the house. @home",
      "date": "2012-03-29",
      "time": "09:00",
      "tags": ["@home"],
      "starred": true,
      "uuid": "ignored"
    },
    {"title": "Short one.", "body": "", "date": "2012-03-30", "time": "21:15", "tags": [], "starred": false}
  ]
}"#;

    #[test]
    fn reads_a_jrnl_export() {
        let es = parse_export(SAMPLE).unwrap();
        assert_eq!(es.len(), 2);
        assert_eq!(es[0].at.to_string(), "2012-03-29 09:00:00");
        assert_eq!(
            es[0].text(),
            "Called in sick.\nUsed the time to clean the house. @home"
        );
        assert!(es[0].starred);
        assert_eq!(es[0].tags, vec!["home"]);
        assert_eq!(es[1].text(), "Short one.");
        assert_ne!(es[0].fingerprint(), es[1].fingerprint());
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let bad_date = SAMPLE.replace("2012-03-30", "2012-13-30");
        let e = parse_export(&bad_date).unwrap_err().to_string();
        assert!(
            e.contains("entries[1].date") && e.contains("line 13"),
            "{e}"
        );
        let missing = SAMPLE.replace(r#""title": "Short one.", "#, "");
        let e = parse_export(&missing).unwrap_err().to_string();
        assert!(e.contains("entries[1]") && e.contains("title"), "{e}");
        let e = parse_export("{\"entries\": [").unwrap_err().to_string();
        assert!(e.contains("line 1"), "{e}");
        let e = parse_export(&SAMPLE.replace("[\"@home\"]", "[\"@ho me\"]"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("entries[0].tags[0]"), "{e}");
        let e = parse_export(&SAMPLE.replace("\"09:00\"", "\"9am\""))
            .unwrap_err()
            .to_string();
        assert!(e.contains("entries[0].time"), "{e}");
        let e = parse_export("[]").unwrap_err().to_string();
        assert!(e.contains("not a jrnl JSON export"), "{e}");
        let e = parse_export("{\"tags\": {}}").unwrap_err().to_string();
        assert!(e.contains("missing field `entries`"), "{e}");
        let empty = SAMPLE.replace("\"Short one.\"", "\"  \"");
        let e = parse_export(&empty).unwrap_err().to_string();
        assert!(e.contains("entries[1]") && e.contains("empty"), "{e}");
    }

    #[test]
    fn import_ids_are_stable_per_author() {
        let es = parse_export(SAMPLE).unwrap();
        let ana = PartnerId("ana".into());
        let ben = PartnerId("ben".into());
        let f = es[0].fingerprint();
        assert_eq!(import_id(&ana, 5, &f), import_id(&ana, 5, &f));
        assert_ne!(import_id(&ana, 5, &f), import_id(&ben, 5, &f));
        assert_eq!(import_id(&ana, 5, &f).0.timestamp_ms(), 5);
    }

    #[test]
    fn writes_jrnl_text() {
        let t = to_text(&[
            JrnlOut {
                at: NaiveDate::from_ymd_opt(2026, 11, 25)
                    .unwrap()
                    .and_hms_opt(21, 30, 0)
                    .unwrap(),
                text: "Thanks to Sam.\nFor the soup.\n[note] looks like a date".into(),
                starred: true,
            },
            JrnlOut {
                at: NaiveDate::from_ymd_opt(2026, 11, 26)
                    .unwrap()
                    .and_hms_opt(7, 5, 0)
                    .unwrap(),
                text: "Morning.".into(),
                starred: false,
            },
        ]);
        assert_eq!(
            t,
            "[2026-11-25 21:30] Thanks to Sam. *\nFor the soup.\n [note] looks like a date\n\n[2026-11-26 07:05] Morning.\n\n"
        );
    }
}
