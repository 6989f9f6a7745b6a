//! Entries in schema 2: written into this partner's document of the
//! entry's year, each version under a fresh key, replaced keys forgotten
//! after the commit that replaced them.

use chrono::{DateTime, FixedOffset};
use hearth_model::records::book::{self, Found, Writer};
use hearth_model::records::content::VersionKey;
use hearth_model::records::couple_write;
use hearth_model::records::entries::Fresh;
use hearth_model::records::heads::PartnerDoc;
use hearth_model::records::read::resolved;
use hearth_model::{Body, Entry, EntryId, EntryPatch, ModelError, NewEntry};

use super::{CoupleJournal, model};

impl CoupleJournal {
    fn writer(&self, at: DateTime<FixedOffset>) -> Result<Writer, ModelError> {
        Ok(Writer {
            partner: self.me()?,
            device: self.device,
            now: at,
            day_boundary: self.day_boundary(),
        })
    }

    /// A new version's id, key and nonce, each from draws of its own: the
    /// nonce and the version id are public, so they share no bits with the
    /// key.
    fn fresh(random: &mut impl FnMut() -> u128) -> Fresh {
        let mut key = [0u8; 32];
        key[..16].copy_from_slice(&random().to_be_bytes());
        key[16..].copy_from_slice(&random().to_be_bytes());
        let mut nonce = [0u8; 24];
        nonce[..16].copy_from_slice(&random().to_be_bytes());
        nonce[16..].copy_from_slice(&random().to_be_bytes()[..8]);
        Fresh {
            version: random().to_be_bytes(),
            key: VersionKey(key),
            nonce,
        }
    }

    /// Writes a new entry of mine; `random` draws the version's key.
    pub fn add_entry(
        &mut self,
        at: DateTime<FixedOffset>,
        new: &NewEntry,
        id: EntryId,
        private: bool,
        random: &mut impl FnMut() -> u128,
    ) -> Result<Entry, ModelError> {
        if self.homes.contains_key(&id) {
            return Err(ModelError::Id(format!("{id} already exists")));
        }
        let w = self.writer(at)?;
        let fresh = Self::fresh(random);
        let (doc, entry) =
            book::add_entry(&mut self.docs(), &w, new, id, private, fresh).map_err(model_of)?;
        self.homes.insert(id, doc);
        Ok(entry)
    }

    /// Whether any document holds an entry at `id`, readable or not.
    pub fn has_entry(&self, id: &EntryId) -> bool {
        self.homes.contains_key(id)
    }

    /// The document entry `id` lives in.
    pub fn home_of(&self, id: &EntryId) -> Option<PartnerDoc> {
        self.homes.get(id).copied()
    }

    /// Reads one entry as this device can: readable, sealed, deleted.
    pub fn entry(&mut self, id: &EntryId) -> Result<Option<Found>, ModelError> {
        let Some(doc) = self.homes.get(id).copied() else {
            return Ok(None);
        };
        let mut found = book::find(&mut self.docs(), &doc, id).map_err(model_of)?;
        // Only a repair can be settled; the look-up walks the couple's
        // records, so it is not paid for every other entry.
        if let Some(Found::Readable(e)) = &mut found
            && matches!(e.body, Body::Repair(_))
        {
            e.resolved = self.resolved_at(&doc, id);
        }
        Ok(found)
    }

    /// Entry `id` as reads list it: readable, or a sealed answer without
    /// its words; `None` when deleted, unreadable or not here.
    pub fn view_entry(&mut self, id: &EntryId) -> Option<Entry> {
        match self.entry(id) {
            Ok(Some(Found::Readable(e))) => Some(*e),
            Ok(Some(Found::Sealed { day })) => self.sealed_answer(id, day),
            _ => None,
        }
    }

    /// Every entry this device can read, and how many it cannot (sealed,
    /// or malformed) apart from deleted ones.
    pub fn all_entries(&mut self) -> (Vec<Entry>, usize) {
        let ids: Vec<EntryId> = self.homes.keys().copied().collect();
        self.read_all(ids)
    }

    /// [`CoupleJournal::all_entries`] of one document: what the index
    /// re-reads of a document that moved.
    pub fn doc_entries(&mut self, doc: &PartnerDoc) -> (Vec<Entry>, usize) {
        let ids: Vec<EntryId> = self
            .homes
            .iter()
            .filter(|(_, d)| *d == doc)
            .map(|(id, _)| *id)
            .collect();
        self.read_all(ids)
    }

    /// Every entry this device can read, by document, with how many of
    /// each it cannot.
    pub fn entries_by_doc(&mut self) -> Vec<(PartnerDoc, Vec<Entry>, usize)> {
        let mut by_doc: std::collections::BTreeMap<PartnerDoc, Vec<EntryId>> = Default::default();
        for (id, doc) in &self.homes {
            by_doc.entry(*doc).or_default().push(*id);
        }
        by_doc
            .into_iter()
            .map(|(doc, ids)| {
                let (read, unread) = self.read_all(ids);
                (doc, read, unread)
            })
            .collect()
    }

    fn read_all(&mut self, ids: Vec<EntryId>) -> (Vec<Entry>, usize) {
        let (mut out, mut unread) = (Vec::new(), 0);
        for id in ids {
            match self.entry(&id) {
                Ok(Some(Found::Readable(e))) => out.push(*e),
                Ok(Some(Found::Deleted { .. })) | Ok(None) => {}
                Ok(Some(Found::Sealed { day })) => match self.sealed_answer(&id, day) {
                    Some(e) => out.push(e),
                    None => unread += 1,
                },
                _ => unread += 1,
            }
        }
        (out, unread)
    }

    /// A sealed answer as reads may list it: who answered which prompt on
    /// which day, from its marker, and no words (an empty text, which no
    /// written answer has).
    fn sealed_answer(&self, id: &EntryId, day: chrono::NaiveDate) -> Option<Entry> {
        let doc = *self.homes.get(id)?;
        let am = self
            .set
            .doc(&hearth_model::records::manifest::DocId::Partner(doc))?;
        let prompt = hearth_model::records::entries::answers(am, id)?;
        let created = DateTime::from_timestamp_millis(id.0.timestamp_ms() as i64)?.fixed_offset();
        Some(Entry {
            id: *id,
            author: hearth_model::PartnerId(doc.partner.to_hex().into()),
            device: hearth_model::DeviceId(String::new().into()),
            created,
            day,
            tags: Default::default(),
            starred: false,
            tender: false,
            private: false,
            edited: None,
            deleted: None,
            resolved: None,
            body: Body::Answer {
                prompt,
                text: String::new(),
            },
            conflicts: Default::default(),
        })
    }

    fn own_entry(&mut self, id: &EntryId) -> Result<(PartnerDoc, Entry), ModelError> {
        let doc = self
            .homes
            .get(id)
            .copied()
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
        if Some(doc.partner) != self.partner {
            return Err(ModelError::NotYourEntry(id.key()));
        }
        match book::find(&mut self.docs(), &doc, id).map_err(model_of)? {
            Some(Found::Readable(e)) => Ok((doc, *e)),
            Some(Found::Deleted { .. }) => Err(ModelError::Deleted(id.key())),
            _ => Err(ModelError::NoSuchEntry(id.key())),
        }
    }

    /// Edits an entry of mine: a new version; the old key is forgotten once
    /// the edit is committed.
    pub fn edit_entry(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &EntryId,
        patch: &EntryPatch,
        random: &mut impl FnMut() -> u128,
    ) -> Result<Entry, ModelError> {
        let (doc, _) = self.own_entry(id)?;
        let w = self.writer(at)?;
        let fresh = Self::fresh(random);
        let (mut entry, replaced) =
            book::edit_entry(&mut self.docs(), &w, &doc, id, patch, fresh).map_err(model_of)?;
        self.to_forget
            .extend(replaced.into_iter().map(|v| (doc, v)));
        entry.resolved = self.resolved_at(&doc, id);
        Ok(entry)
    }

    /// Moves an entry of mine to my private entries or back to the shared
    /// ones, as `new_id`; the old id's keys are forgotten once committed.
    pub fn move_entry(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &EntryId,
        private: bool,
        new_id: EntryId,
        random: &mut impl FnMut() -> u128,
    ) -> Result<Entry, ModelError> {
        let (doc, entry) = self.own_entry(id)?;
        if self.resolved_at(&doc, id).is_some() {
            return Err(ModelError::Refused(
                "a settled repair cannot move: its settlement names it where it is".into(),
            ));
        }
        if entry.private == private {
            return Ok(entry);
        }
        if self.homes.contains_key(&new_id) {
            return Err(ModelError::Id(format!("{new_id} already exists")));
        }
        let w = self.writer(at)?;
        let fresh = Self::fresh(random);
        let (to, moved, replaced) =
            book::move_entry(&mut self.docs(), &w, &doc, id, new_id, private, fresh)
                .map_err(model_of)?;
        self.to_forget
            .extend(replaced.into_iter().map(|v| (doc, v)));
        self.homes.insert(new_id, to);
        Ok(moved)
    }

    /// Deletes an entry of mine. Returns it as it was, marked deleted: the
    /// last time its words are shown. Its keys go once committed.
    pub fn delete_entry(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &EntryId,
    ) -> Result<Entry, ModelError> {
        let (doc, mut entry) = self.own_entry(id)?;
        let w = self.writer(at)?;
        let replaced = book::delete_entry(&mut self.docs(), &w, &doc, id).map_err(model_of)?;
        self.to_forget
            .extend(replaced.into_iter().map(|v| (doc, v)));
        entry.deleted = Some(at);
        Ok(entry)
    }

    /// Settles a repair's agreements, or opens them again: a couple record,
    /// so either partner may.
    pub fn set_resolved(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &EntryId,
        settled: bool,
    ) -> Result<Entry, ModelError> {
        let doc = self
            .homes
            .get(id)
            .copied()
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
        let mut entry = match self.entry(id)? {
            Some(Found::Readable(e)) => *e,
            Some(Found::Deleted { .. }) => return Err(ModelError::Deleted(id.key())),
            _ => return Err(ModelError::NoSuchEntry(id.key())),
        };
        match &entry.body {
            Body::Repair(r) if !r.agreements.is_empty() => {}
            Body::Repair(_) => return Err(ModelError::NoAgreements(id.key())),
            _ => return Err(ModelError::NotARepair(id.key())),
        }
        if entry.resolved.is_some() == settled {
            return Ok(entry);
        }
        self.write_couple(at, |c, s| couple_write::resolve(c, s, &doc, id, settled))?;
        entry.resolved = settled.then_some(at);
        Ok(entry)
    }

    /// When a repair was last settled, if it stands settled.
    fn resolved_at(&self, doc: &PartnerDoc, id: &EntryId) -> Option<DateTime<FixedOffset>> {
        let key = (doc.to_string(), id.key());
        let settled = resolved(&self.trust, |_, _| true)
            .value
            .get(&key)
            .copied()?;
        if !settled {
            return None;
        }
        // The record's time is the writer's clock in UTC.
        let at = self
            .trust
            .counting()
            .filter_map(|(_, r)| match &r.body {
                hearth_model::records::record::Body::Resolve(x)
                    if x.doc == key.0 && x.entry == key.1 =>
                {
                    Some(r.at)
                }
                _ => None,
            })
            .max()?;
        chrono::DateTime::from_timestamp_millis(at).map(|t| t.fixed_offset())
    }

    /// Releases my answers my partner has answered too, so their keys go to
    /// my partner's devices. Returns how many versions were released.
    pub fn release_answers(&mut self) -> Result<usize, ModelError> {
        let (Some(me), Some(them)) = (self.partner, self.other()) else {
            return Ok(0);
        };
        // Markers are read from the documents in memory and from what is
        // kept of the others; only a document with something to release
        // is loaded.
        let mut answered_by_them = std::collections::BTreeMap::new();
        for doc in self.shared_docs_of(them) {
            answered_by_them.extend(self.markers(&doc));
        }
        if answered_by_them.is_empty() {
            return Ok(0);
        }
        let mut released = 0;
        for doc in self.shared_docs_of(me) {
            let due = hearth_model::records::release::to_release(
                &self.markers(&doc),
                &answered_by_them,
                &Default::default(),
            );
            if due.is_empty() {
                continue;
            }
            released += book::release_entries(&mut self.docs(), &doc, &due)
                .map_err(model_of)?
                .len();
        }
        Ok(released)
    }
}

fn model_of(e: book::BookError) -> ModelError {
    match e {
        book::BookError::Model(m) => m,
        other => model(other),
    }
}
