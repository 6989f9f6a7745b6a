//! The entries of a partner or private document (docs/SCHEMA.md,
//! "Entries"): `day` in the clear, everything else sealed in `b` under the
//! version's own key, and a tombstone that carries no words.
//!
//! Writing draws nothing at random: the caller brings each new version's
//! id, key and nonce ([`Fresh`]), so tests are deterministic. Reading takes
//! a lookup from version id to key, which is what the device's key file
//! holds; a version whose key is gone cannot be read by anyone.

use automerge::transaction::Transactable;
use automerge::{Automerge, ObjId, ObjType, ROOT, ReadDoc, ScalarValue, Value};
use chrono::{Datelike, NaiveDate};
use serde::{Deserialize, Serialize};
use thiserror::Error;

use super::content::{
    ContentError, NONCE_LEN, VERSION_ID_LEN, VersionKey, open_version, seal_version, version_of,
};
use super::forget::{Live, VersionId, live_versions};
use super::heads::PartnerDoc;
use crate::entry::{Body, MAX_TEXT};
use crate::{EntryId, ModelError};

/// What one version of an entry holds, sealed in `b`: schema 1's field
/// names, times in milliseconds, the offset in minutes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Content {
    pub created: i64,
    pub offset: i32,
    /// The writing device's id, 64 lowercase hex.
    pub device: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<i64>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub starred: bool,
    #[serde(default)]
    pub tender: bool,
    #[serde(flatten)]
    pub body: Body,
}

impl Content {
    /// The checks of a local write, which a peer's version must pass too.
    pub fn validate(&self) -> Result<(), EntryDocError> {
        self.body.validate().map_err(EntryDocError::Content)?;
        let device_ok = self.device.len() == 64
            && self
                .device
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !device_ok {
            return Err(EntryDocError::Shape("device is not 64 lowercase hex"));
        }
        if !(-24 * 60..=24 * 60).contains(&self.offset) {
            return Err(EntryDocError::Shape("offset is not within a day"));
        }
        let tag_bytes: usize = self.tags.iter().map(String::len).sum();
        if tag_bytes > MAX_TEXT
            || self
                .tags
                .iter()
                .any(|t| t.is_empty() || t.chars().any(char::is_whitespace))
        {
            return Err(EntryDocError::Shape(
                "tags are empty, hold spaces or are too long",
            ));
        }
        Ok(())
    }
}

/// A new version's id, key and nonce, drawn by the caller.
#[derive(Debug, Clone)]
pub struct Fresh {
    pub version: VersionId,
    pub key: VersionKey,
    pub nonce: [u8; NONCE_LEN],
}

#[derive(Debug, Error)]
pub enum EntryDocError {
    #[error(transparent)]
    Content(ModelError),
    #[error("entry content: {0}")]
    Shape(&'static str),
    #[error(transparent)]
    Sealed(#[from] ContentError),
    #[error("the journal day {day} is not in {doc}")]
    WrongYear { day: NaiveDate, doc: PartnerDoc },
    #[error("entry {0} was deleted")]
    Deleted(EntryId),
    #[error("no entry {0}")]
    Missing(EntryId),
    #[error("the document has no `{0}` map; it is not a partner document")]
    NotAPartnerDoc(&'static str),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
}

/// How an entry reads on this device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Reading {
    /// Its current version opened; `conflicts` are concurrent versions
    /// that opened too, shown beside the winner as in schema 1.
    Readable {
        version: VersionId,
        content: Box<Content>,
        conflicts: Vec<Content>,
    },
    /// No key for its current version here: a sealed answer, or a key
    /// still on its way.
    Sealed { version: VersionId },
    /// A tombstone: id and day, no words.
    Deleted,
    /// A version that opened but does not hold valid content, or a `b`
    /// that is not a sealed value at all. Counted, never shown.
    Malformed,
}

/// An entry as stored: the plaintext it keeps, and how it reads here.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredEntry {
    pub day: NaiveDate,
    pub reading: Reading,
}

fn root_map(doc: &impl ReadDoc, name: &'static str) -> Result<ObjId, EntryDocError> {
    match doc.get(ROOT, name) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Ok(id),
        _ => Err(EntryDocError::NotAPartnerDoc(name)),
    }
}

/// The `entries` map of a partner or private document.
pub fn entries_map(doc: &impl ReadDoc) -> Result<ObjId, EntryDocError> {
    root_map(doc, "entries")
}

fn entry_map(doc: &impl ReadDoc, entries: &ObjId, id: &EntryId) -> Option<ObjId> {
    match doc.get(entries, id.key()) {
        Ok(Some((Value::Object(ObjType::Map), m))) => Some(m),
        _ => None,
    }
}

fn is_deleted(doc: &impl ReadDoc, map: &ObjId) -> bool {
    matches!(
        doc.get(map, "deleted"),
        Ok(Some((Value::Scalar(v), _))) if v.as_bool() == Some(true)
    )
}

/// Writes a version of entry `id`, dated `day`, as one change: a new entry,
/// or a new version of one (an edit). An answer's first version also puts
/// its marker in `answered`. Returns the versions the edit replaced, whose
/// keys the caller forgets once the change is committed.
pub fn write_version(
    doc: &mut Automerge,
    doc_id: &PartnerDoc,
    id: &EntryId,
    day: NaiveDate,
    content: &Content,
    fresh: &Fresh,
) -> Result<Vec<VersionId>, EntryDocError> {
    content.validate()?;
    if day.year() != i32::from(doc_id.year) {
        return Err(EntryDocError::WrongYear { day, doc: *doc_id });
    }
    let json = serde_json::to_vec(content).expect("content serialises");
    let sealed = seal_version(
        &fresh.key,
        &doc_id.to_string(),
        id,
        fresh.version,
        fresh.nonce,
        &json,
    )?;
    let entries = entries_map(doc)?;
    let replaced = match entry_map(doc, &entries, id) {
        Some(map) if is_deleted(doc, &map) => return Err(EntryDocError::Deleted(*id)),
        Some(_) => live_versions(doc, &entries, id)
            .versions
            .into_iter()
            .collect(),
        None => Vec::new(),
    };
    let answered = match &content.body {
        Body::Answer { prompt, .. } if replaced.is_empty() => {
            Some((root_map(doc, "answered")?, prompt.clone()))
        }
        _ => None,
    };
    let mut tx = doc.transaction();
    let map = match entry_map(&tx, &entries, id) {
        Some(m) => m,
        None => {
            let m = tx.put_object(&entries, id.key(), ObjType::Map)?;
            tx.put(&m, "day", day.format("%Y-%m-%d").to_string())?;
            m
        }
    };
    tx.put(&map, "b", ScalarValue::Bytes(sealed))?;
    if let Some((answered, prompt)) = answered {
        tx.put(&answered, id.key(), prompt)?;
    }
    tx.commit();
    Ok(replaced)
}

/// Deletes entry `id`: puts the tombstone, deletes `b` and any answer
/// marker, in one change. Returns every version the document held for it;
/// the caller forgets all their keys once the change is committed.
pub fn delete(doc: &mut Automerge, id: &EntryId) -> Result<Vec<VersionId>, EntryDocError> {
    let entries = entries_map(doc)?;
    let map = entry_map(doc, &entries, id).ok_or(EntryDocError::Missing(*id))?;
    if is_deleted(doc, &map) {
        return Err(EntryDocError::Deleted(*id));
    }
    let versions: Vec<VersionId> = live_versions(doc, &entries, id)
        .versions
        .into_iter()
        .collect();
    let answered = root_map(doc, "answered").ok();
    let mut tx = doc.transaction();
    tx.put(&map, "deleted", true)?;
    tx.delete(&map, "b")?;
    if let Some(answered) = answered
        && tx.get(&answered, id.key())?.is_some()
    {
        tx.delete(&answered, id.key())?;
    }
    tx.commit();
    Ok(versions)
}

/// What the document says of an entry's versions now: the forget rule's
/// input (`forget::to_forget`).
pub fn live(doc: &impl ReadDoc, id: &EntryId) -> Result<Live, EntryDocError> {
    Ok(live_versions(doc, &entries_map(doc)?, id))
}

/// Reads entry `id` with the keys `key_of` finds. `None` when the document
/// has no such entry, or its `day` is not a date.
pub fn read(
    doc: &impl ReadDoc,
    doc_id: &PartnerDoc,
    id: &EntryId,
    key_of: impl Fn(&VersionId) -> Option<VersionKey>,
) -> Result<Option<StoredEntry>, EntryDocError> {
    Ok(raw(doc, id)?.and_then(|r| r.open(doc_id, id, key_of)))
}

/// An entry's values as its document holds them, copied out with one
/// lookup of the entry, so that finding its keys and opening it need the
/// document no more. Reading a synced year entry by entry, that lookup was
/// most of the cost, and it was done twice (versions, then values).
#[derive(Debug, Clone)]
pub struct Raw {
    day: Option<NaiveDate>,
    deleted: bool,
    /// Every value of `b`, the winner last (Automerge's order); `None` for
    /// one that is not bytes.
    values: Vec<Option<Vec<u8>>>,
}

/// Entry `id`'s values; `None` when the document has no such entry.
pub fn raw(doc: &impl ReadDoc, id: &EntryId) -> Result<Option<Raw>, EntryDocError> {
    let entries = entries_map(doc)?;
    Ok(raw_in(doc, &entries, id))
}

/// [`raw`], with the `entries` map already found.
pub(super) fn raw_in(doc: &impl ReadDoc, entries: &ObjId, id: &EntryId) -> Option<Raw> {
    entry_map(doc, entries, id).map(|map| raw_of(doc, &map))
}

/// An entry map's values, from one walk of the map rather than a lookup
/// per key, each of which seeks through the whole document; `b` is looked
/// up again only when it holds concurrent values, which the walk shows
/// one of.
fn raw_of(doc: &impl ReadDoc, map: &ObjId) -> Raw {
    let (mut day, mut deleted, mut values, mut concurrent) = (None, false, Vec::new(), false);
    for item in doc.map_range(map, ..) {
        let value: Value<'static> = item.value.into();
        match (item.key.as_ref(), value) {
            ("day", Value::Scalar(v)) => {
                day = match v.as_ref() {
                    ScalarValue::Str(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
                    _ => None,
                }
            }
            ("deleted", Value::Scalar(v)) => deleted = v.as_bool() == Some(true),
            ("b", _) if item.conflict => concurrent = true,
            ("b", v) => values.push(bytes_of(&v)),
            _ => {}
        }
    }
    if concurrent {
        values = doc
            .get_all(map, "b")
            .unwrap_or_default()
            .iter()
            .map(|(v, _)| bytes_of(v))
            .collect();
    }
    Raw {
        day,
        deleted,
        values,
    }
}

fn bytes_of(v: &Value) -> Option<Vec<u8>> {
    match v {
        Value::Scalar(s) => s.as_bytes().map(<[u8]>::to_vec),
        Value::Object(_) => None,
    }
}

impl Raw {
    /// The entry carries its tombstone.
    pub fn deleted(&self) -> bool {
        self.deleted
    }

    /// The sealed value of version `version`, if `b` holds it.
    pub fn sealed(&self, version: &VersionId) -> Option<&[u8]> {
        self.values
            .iter()
            .flatten()
            .map(Vec::as_slice)
            .find(|b| version_of(b).ok().as_ref() == Some(version))
    }

    /// The versions whose keys opening this entry can use: as
    /// [`live_versions`] counts them.
    pub fn versions(&self) -> std::collections::BTreeSet<VersionId> {
        self.values
            .iter()
            .flatten()
            .filter_map(|b| version_of(b).ok())
            .collect()
    }

    /// Opens the entry with the keys `key_of` finds. `None` when its `day`
    /// is not a date.
    pub fn open(
        self,
        doc_id: &PartnerDoc,
        id: &EntryId,
        key_of: impl Fn(&VersionId) -> Option<VersionKey>,
    ) -> Option<StoredEntry> {
        let day = self.day?;
        if self.deleted {
            return Some(StoredEntry {
                day,
                reading: Reading::Deleted,
            });
        }
        let doc_name = doc_id.to_string();
        let open = |sealed: &[u8]| -> Result<Option<Content>, ()> {
            let version = version_of(sealed).map_err(|_| ())?;
            let Some(key) = key_of(&version) else {
                return Ok(None);
            };
            let json = open_version(&key, &doc_name, id, sealed).map_err(|_| ())?;
            let content: Content = serde_json::from_slice(&json).map_err(|_| ())?;
            content.validate().map_err(|_| ())?;
            Ok(Some(content))
        };
        let mut values = self.values;
        let Some(Some(winner)) = values.pop() else {
            return Some(StoredEntry {
                day,
                reading: Reading::Malformed,
            });
        };
        let reading = match (version_of(&winner), open(&winner)) {
            (Ok(version), Ok(Some(content))) => {
                let conflicts = values
                    .iter()
                    .flatten()
                    .filter(|b| **b != winner)
                    .filter_map(|b| open(b).ok().flatten())
                    .collect();
                Reading::Readable {
                    version,
                    content: Box::new(content),
                    conflicts,
                }
            }
            (Ok(version), Ok(None)) => Reading::Sealed { version },
            _ => Reading::Malformed,
        };
        Some(StoredEntry { day, reading })
    }
}

/// The prompt id an entry answers, from its marker.
pub fn answers(doc: &impl ReadDoc, id: &EntryId) -> Option<String> {
    let answered = root_map(doc, "answered").ok()?;
    match doc.get(&answered, id.key()) {
        Ok(Some((Value::Scalar(v), _))) => v.as_str().map(str::to_string),
        _ => None,
    }
}

const _: () = assert!(VERSION_ID_LEN == 16);

#[cfg(test)]
mod tests;
