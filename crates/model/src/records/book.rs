//! A partner's entries across its documents and years, as the daemon will
//! write and read them in schema 2 (docs/SCHEMA.md, "Which document",
//! "Write, edit, delete"): the schema 1 [`Entry`] in and out, sealed
//! versions and content keys underneath.
//!
//! Storage stays outside the model: the documents and the key file come
//! through [`Docs`], which the store implements. A key replaced by an edit
//! or a delete is returned, not forgotten here: it is forgotten once the
//! change that replaced it is durable.

use std::collections::BTreeSet;

use automerge::Automerge;
use chrono::{DateTime, Datelike, FixedOffset, TimeZone};
use thiserror::Error;

use super::content::VersionKey;
use super::entries::{self, Content, EntryDocError, Fresh, Reading};
use super::forget::{VersionId, to_forget};
use super::heads::{DocKind, PartnerDoc};
use super::ids::{DeviceKey, PartnerCode};
use super::keys::{Audience, VersionRef};
use super::release::{live_markers, to_release};
use crate::entry::{Body, Entry, EntryPatch, NewEntry, normalize_tag};
use crate::{DayBoundary, DeviceId, EntryId, ModelError, PartnerId};

/// Where the documents and content keys are.
pub trait Docs {
    /// Partner or private document `doc`, loaded; a document not stored yet
    /// starts from its genesis.
    fn partner_doc(&mut self, doc: &PartnerDoc) -> Result<&mut Automerge, String>;
    /// The content key of a version and its audience, if this device holds
    /// it live.
    fn key(
        &mut self,
        doc: &PartnerDoc,
        version: VersionRef,
    ) -> Result<Option<(Audience, VersionKey)>, String>;
    /// Stores a new content key (durable with the next commit).
    fn put_key(
        &mut self,
        doc: &PartnerDoc,
        version: VersionRef,
        audience: Audience,
        key: VersionKey,
    ) -> Result<(), String>;
    /// Forgets a content key for good, now.
    fn forget_key(&mut self, doc: &PartnerDoc, version: VersionRef) -> Result<(), String>;
    /// Every version of `doc` this device holds a live key for.
    fn held_versions(&mut self, doc: &PartnerDoc) -> Result<Vec<VersionRef>, String>;
}

#[derive(Debug, Error)]
pub enum BookError {
    #[error(transparent)]
    Model(#[from] ModelError),
    #[error(transparent)]
    Doc(Box<EntryDocError>),
    #[error("storage: {0}")]
    Storage(String),
}

impl From<EntryDocError> for BookError {
    fn from(e: EntryDocError) -> BookError {
        // Boxed: Automerge's errors are large, and every result carries one.
        BookError::Doc(Box::new(e))
    }
}

/// Who writes, from which device, and when.
#[derive(Debug, Clone)]
pub struct Writer {
    pub partner: PartnerCode,
    pub device: DeviceKey,
    pub now: DateTime<FixedOffset>,
    pub day_boundary: DayBoundary,
}

/// An entry as this device can read it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    Readable(Box<Entry>),
    /// No key here: a sealed answer, or a key still on its way.
    Sealed {
        day: chrono::NaiveDate,
    },
    Deleted {
        day: chrono::NaiveDate,
    },
    Malformed,
}

/// The document a new entry of `writer`, dated `day`, goes into.
pub fn doc_for(partner: PartnerCode, day: chrono::NaiveDate, private: bool) -> PartnerDoc {
    PartnerDoc {
        kind: if private {
            DocKind::Private
        } else {
            DocKind::Partner
        },
        partner,
        // Journal days are within the years a document id allows.
        year: day.year().clamp(1970, 9999) as u16,
    }
}

fn version_ref(id: &EntryId, version: VersionId) -> VersionRef {
    (id.0.0, version)
}

/// A new entry's audience: an answer stays `mine` until released, a private
/// entry for ever.
fn audience_for(body: &Body, private: bool) -> Audience {
    match body {
        _ if private => Audience::Mine,
        Body::Answer { .. } => Audience::Mine,
        _ => Audience::Couple,
    }
}

fn content_of(entry: &Entry) -> Content {
    Content {
        created: entry.created.timestamp_millis(),
        offset: entry.created.offset().local_minus_utc() / 60,
        device: entry.device.0.to_string(),
        edited: entry.edited.map(|t| t.timestamp_millis()),
        tags: entry.tags.iter().cloned().collect(),
        starred: entry.starred,
        tender: entry.tender,
        body: entry.body.clone(),
    }
}

fn at(ms: i64, offset_minutes: i32) -> Option<DateTime<FixedOffset>> {
    let tz = FixedOffset::east_opt(offset_minutes * 60)?;
    tz.timestamp_millis_opt(ms).single()
}

fn entry_of(
    id: EntryId,
    doc: &PartnerDoc,
    day: chrono::NaiveDate,
    c: Content,
    conflicts: &[Content],
) -> Option<Entry> {
    let mut tags: BTreeSet<String> = c.tags.iter().cloned().collect();
    tags.extend(c.body.text_tags());
    let mut conflicted = std::collections::BTreeMap::<String, Vec<String>>::new();
    for other in conflicts {
        for ((field, mine), (_, theirs)) in c.body.texts().into_iter().zip(other.body.texts()) {
            if mine != theirs {
                conflicted
                    .entry(field.to_string())
                    .or_default()
                    .push(theirs.to_string());
            }
        }
    }
    Some(Entry {
        id,
        author: PartnerId(doc.partner.to_hex().into()),
        device: DeviceId(c.device.into()),
        created: at(c.created, c.offset)?,
        day,
        tags: tags.into(),
        starred: c.starred,
        tender: c.tender,
        private: doc.kind == DocKind::Private,
        edited: c.edited.and_then(|e| at(e, c.offset)),
        deleted: None,
        // Settled repairs are couple records, read apart.
        resolved: None,
        body: c.body,
        conflicts: conflicted,
    })
}

/// Writes a new entry: its document is the writer's, of the year of its
/// journal day (private ones in the private document). `fresh` is the
/// first version's id, key and nonce.
pub fn add_entry(
    docs: &mut impl Docs,
    w: &Writer,
    new: &NewEntry,
    id: EntryId,
    private: bool,
    fresh: Fresh,
) -> Result<(PartnerDoc, Entry), BookError> {
    new.body.validate()?;
    let mut tags = BTreeSet::new();
    for t in &new.tags {
        tags.insert(normalize_tag(t)?);
    }
    tags.extend(new.body.text_tags());
    let day = w.day_boundary.day_of(w.now);
    let doc = doc_for(w.partner, day, private);
    let entry = Entry {
        id,
        author: PartnerId(w.partner.to_hex().into()),
        device: DeviceId(w.device.to_hex().into()),
        created: w.now,
        day,
        tags: tags.into(),
        starred: new.starred,
        tender: new.tender.unwrap_or_else(|| new.body.tender_by_default()),
        private,
        edited: None,
        deleted: None,
        resolved: None,
        body: new.body.clone(),
        conflicts: Default::default(),
    };
    let am = docs.partner_doc(&doc).map_err(BookError::Storage)?;
    if entries::live(am, &id)?.deleted || entries::read(am, &doc, &id, |_| None)?.is_some() {
        return Err(ModelError::Id(format!("{id} already exists")).into());
    }
    entries::write_version(am, &doc, &id, day, &content_of(&entry), &fresh)?;
    let audience = audience_for(&entry.body, private);
    docs.put_key(&doc, version_ref(&id, fresh.version), audience, fresh.key)
        .map_err(BookError::Storage)?;
    Ok((doc, entry))
}

/// Reads entry `id` of document `doc` with the keys held here.
pub fn find(
    docs: &mut impl Docs,
    doc: &PartnerDoc,
    id: &EntryId,
) -> Result<Option<Found>, BookError> {
    // Copied out of the document first, since the document and the key
    // file both come through `docs`.
    let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
    let Some(raw) = entries::raw(am, id)? else {
        return Ok(None);
    };
    let mut keys = std::collections::BTreeMap::new();
    for v in raw.versions() {
        if let Some((_, k)) = docs
            .key(doc, version_ref(id, v))
            .map_err(BookError::Storage)?
        {
            keys.insert(v, k);
        }
    }
    let Some(stored) = raw.open(doc, id, |v| keys.get(v).cloned()) else {
        return Ok(None);
    };
    Ok(Some(match stored.reading {
        Reading::Readable {
            content, conflicts, ..
        } => entry_of(*id, doc, stored.day, *content, &conflicts)
            .map_or(Found::Malformed, |e| Found::Readable(Box::new(e))),
        Reading::Sealed { .. } => Found::Sealed { day: stored.day },
        Reading::Deleted => Found::Deleted { day: stored.day },
        Reading::Malformed => Found::Malformed,
    }))
}

fn own_readable(
    docs: &mut impl Docs,
    w: &Writer,
    doc: &PartnerDoc,
    id: &EntryId,
) -> Result<Entry, BookError> {
    if doc.partner != w.partner {
        return Err(ModelError::NotYourEntry(id.key()).into());
    }
    match find(docs, doc, id)? {
        Some(Found::Readable(e)) => Ok(*e),
        Some(Found::Deleted { .. }) => Err(ModelError::Deleted(id.key()).into()),
        _ => Err(ModelError::NoSuchEntry(id.key()).into()),
    }
}

/// Edits one of the writer's entries: a new version with a new key. Returns
/// the entry as it now reads and the versions to forget once committed.
pub fn edit_entry(
    docs: &mut impl Docs,
    w: &Writer,
    doc: &PartnerDoc,
    id: &EntryId,
    patch: &EntryPatch,
    fresh: Fresh,
) -> Result<(Entry, Vec<VersionRef>), BookError> {
    let mut entry = own_readable(docs, w, doc, id)?;
    if let Some(body) = &patch.body {
        if body.kind() != entry.kind() {
            return Err(ModelError::Schema(format!(
                "cannot turn a {} into a {}",
                entry.kind(),
                body.kind()
            ))
            .into());
        }
        body.validate()?;
        entry.body = body.clone();
        entry.edited = Some(w.now);
    }
    if let Some(tags) = &patch.tags {
        let mut wanted = BTreeSet::new();
        for t in tags {
            wanted.insert(normalize_tag(t)?);
        }
        entry.tags = wanted.into();
        entry.edited = Some(w.now);
    }
    entry.tags.extend(entry.body.text_tags());
    if let Some(s) = patch.starred {
        entry.starred = s;
    }
    if let Some(t) = patch.tender {
        entry.tender = t;
    }
    // A new version keeps the audience of the one it replaces: a released
    // answer stays released, a private entry stays private.
    let current = live_version(docs, doc, id)?;
    let audience = match docs.key(doc, current).map_err(BookError::Storage)? {
        Some((a, _)) => a,
        None => audience_for(&entry.body, doc.kind == DocKind::Private),
    };
    let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
    let replaced = entries::write_version(am, doc, id, entry.day, &content_of(&entry), &fresh)?;
    docs.put_key(doc, version_ref(id, fresh.version), audience, fresh.key)
        .map_err(BookError::Storage)?;
    entry.conflicts.clear();
    Ok((
        entry,
        replaced.into_iter().map(|v| version_ref(id, v)).collect(),
    ))
}

/// Moves one of the writer's entries between their shared and private
/// documents of its year: a tombstone where it was, and the same content
/// under `new_id` and a fresh key where it goes (a key of audience `mine`
/// in the private document). Returns the new document, the entry as it
/// now reads, and the versions to forget in the old one once committed.
///
/// The id changes because the old one is a tombstone in the document the
/// entry left, on every device that holds it: an id lives in one document.
pub fn move_entry(
    docs: &mut impl Docs,
    w: &Writer,
    from: &PartnerDoc,
    id: &EntryId,
    new_id: EntryId,
    private: bool,
    fresh: Fresh,
) -> Result<(PartnerDoc, Entry, Vec<VersionRef>), BookError> {
    let mut entry = own_readable(docs, w, from, id)?;
    if private && matches!(entry.body, Body::Answer { .. }) {
        return Err(ModelError::Schema(
            "an answer cannot be private: it opens to your partner once you have both answered"
                .into(),
        )
        .into());
    }
    let to = doc_for(w.partner, entry.day, private);
    if to == *from {
        return Ok((to, entry, Vec::new()));
    }
    let target = docs.partner_doc(&to).map_err(BookError::Storage)?;
    if entries::read(target, &to, &new_id, |_| None)?.is_some() {
        return Err(ModelError::Id(format!("{new_id} already exists")).into());
    }
    entry.id = new_id;
    entry.private = private;
    entries::write_version(target, &to, &new_id, entry.day, &content_of(&entry), &fresh)?;
    docs.put_key(
        &to,
        version_ref(&new_id, fresh.version),
        audience_for(&entry.body, private),
        fresh.key,
    )
    .map_err(BookError::Storage)?;
    let left = docs.partner_doc(from).map_err(BookError::Storage)?;
    let versions = entries::delete(left, id)?;
    entry.conflicts.clear();
    Ok((
        to,
        entry,
        versions.into_iter().map(|v| version_ref(id, v)).collect(),
    ))
}

fn live_version(
    docs: &mut impl Docs,
    doc: &PartnerDoc,
    id: &EntryId,
) -> Result<VersionRef, BookError> {
    let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
    let live = entries::live(am, id)?;
    let v = live
        .versions
        .into_iter()
        .next()
        .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
    Ok(version_ref(id, v))
}

/// Deletes one of the writer's entries: a tombstone of id and day. Returns
/// every version to forget once committed.
pub fn delete_entry(
    docs: &mut impl Docs,
    w: &Writer,
    doc: &PartnerDoc,
    id: &EntryId,
) -> Result<Vec<VersionRef>, BookError> {
    own_readable(docs, w, doc, id)?;
    let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
    let versions = entries::delete(am, id)?;
    Ok(versions.into_iter().map(|v| version_ref(id, v)).collect())
}

/// The forget rule, after a commit that touched `touched` in `doc`, local or
/// received: every held key of a version the document no longer shows as
/// current, and every key of a deleted entry, is forgotten. Returns how
/// many were.
pub fn apply_forget_rule(
    docs: &mut impl Docs,
    doc: &PartnerDoc,
    touched: &BTreeSet<EntryId>,
) -> Result<usize, BookError> {
    let held = docs.held_versions(doc).map_err(BookError::Storage)?;
    let mut forgotten = 0;
    for id in touched {
        let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
        let live = entries::live(am, id)?;
        let mine: Vec<VersionId> = held
            .iter()
            .filter(|(e, _)| *e == id.0.0)
            .map(|(_, v)| *v)
            .collect();
        for v in to_forget(&live, mine) {
            docs.forget_key(doc, version_ref(id, v))
                .map_err(BookError::Storage)?;
            forgotten += 1;
        }
    }
    Ok(forgotten)
}

/// Releases my sealed answers whose prompt my partner has answered too
/// (docs/SCHEMA.md, "Sealed answers"): each held `mine` key of such an
/// answer widens to the couple, so the key exchange takes it to my
/// partner's devices. `mine` and `theirs` are the documents to look in, of
/// any years. Returns the versions released; a release is final.
pub fn release_answers(
    docs: &mut impl Docs,
    mine: &[PartnerDoc],
    theirs: &[PartnerDoc],
) -> Result<Vec<VersionRef>, BookError> {
    let mut answered_by_them = std::collections::BTreeMap::new();
    for doc in theirs {
        let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
        if let Some(markers) = markers_of(am) {
            answered_by_them.extend(markers);
        }
    }
    let mut released = Vec::new();
    for doc in mine {
        let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
        let Some(my_markers) = markers_of(am) else {
            continue;
        };
        let due = to_release(&my_markers, &answered_by_them, &BTreeSet::new());
        released.extend(release_entries(docs, doc, &due)?);
    }
    Ok(released)
}

/// Widens to the couple each held `mine` key of the live versions of
/// `due`, my answers in `doc` whose prompt my partner has answered too.
/// Returns the versions released.
pub fn release_entries(
    docs: &mut impl Docs,
    doc: &PartnerDoc,
    due: &BTreeSet<EntryId>,
) -> Result<Vec<VersionRef>, BookError> {
    let mut released = Vec::new();
    for id in due {
        let am = docs.partner_doc(doc).map_err(BookError::Storage)?;
        for v in entries::live(am, id)?.versions {
            let version = version_ref(id, v);
            if let Some((Audience::Mine, key)) =
                docs.key(doc, version).map_err(BookError::Storage)?
            {
                docs.put_key(doc, version, Audience::Couple, key)
                    .map_err(BookError::Storage)?;
                released.push(version);
            }
        }
    }
    Ok(released)
}

/// The live answer markers of a partner document: prompt → entries.
pub fn markers_of(am: &Automerge) -> Option<std::collections::BTreeMap<String, BTreeSet<EntryId>>> {
    use automerge::{ObjType, ROOT, ReadDoc, Value};
    let map = |name| match am.get(ROOT, name) {
        Ok(Some((Value::Object(ObjType::Map), id))) => Some(id),
        _ => None,
    };
    Some(live_markers(am, &map("answered")?, &map("entries")?))
}

#[cfg(test)]
mod tests;
