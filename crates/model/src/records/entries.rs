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
    let entries = entries_map(doc)?;
    let Some(map) = entry_map(doc, &entries, id) else {
        return Ok(None);
    };
    let day = match doc.get(&map, "day") {
        Ok(Some((Value::Scalar(v), _))) => match v.as_ref() {
            ScalarValue::Str(s) => NaiveDate::parse_from_str(s, "%Y-%m-%d").ok(),
            _ => None,
        },
        _ => None,
    };
    let Some(day) = day else { return Ok(None) };
    if is_deleted(doc, &map) {
        return Ok(Some(StoredEntry {
            day,
            reading: Reading::Deleted,
        }));
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
    let bytes_of = |v: &Value| match v {
        Value::Scalar(s) => s.as_bytes().map(<[u8]>::to_vec),
        Value::Object(_) => None,
    };
    let winner = match doc.get(&map, "b") {
        Ok(Some((v, _))) => bytes_of(&v),
        _ => None,
    };
    let Some(winner) = winner else {
        return Ok(Some(StoredEntry {
            day,
            reading: Reading::Malformed,
        }));
    };
    let reading = match (version_of(&winner), open(&winner)) {
        (Ok(version), Ok(Some(content))) => {
            let conflicts = doc
                .get_all(&map, "b")
                .unwrap_or_default()
                .iter()
                .filter_map(|(v, _)| bytes_of(v))
                .filter(|b| *b != winner)
                .filter_map(|b| open(&b).ok().flatten())
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
    Ok(Some(StoredEntry { day, reading }))
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
