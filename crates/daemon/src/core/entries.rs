//! Entries: writing, editing, deleting, importing, and the reads that a
//! cached view can answer before the document has loaded.

use std::collections::BTreeSet;

use chrono::NaiveDate;
use hearth_ipc::{
    AddEntry, DeleteEntry, EditEntry, EntryList, Import, Log, RepairResolve, Response, ShowEntry,
};
use hearth_model::{DayBoundary, Entry, EntryId, Filter, PartnerId, View, parse_when};

use super::sealing::Seal;
use super::{Base, Handled, Ready, Refusal};

/// Reads over a view: the ready daemon's, or a loading one's cache.
pub struct Reader<'a> {
    base: &'a Base,
    view: &'a View,
    boundary: DayBoundary,
}

impl<'a> Reader<'a> {
    pub fn new(base: &'a Base, view: &'a View, boundary: DayBoundary) -> Reader<'a> {
        Reader {
            base,
            view,
            boundary,
        }
    }

    fn seal(&self) -> Seal<'a> {
        Seal::new(self.view, self.base.identity.partner.as_ref())
    }

    pub fn show(&self, r: &ShowEntry) -> Handled {
        let id = self.view.resolve(&r.id)?;
        let e = &self.view.entries[&id];
        if self.seal().hides(e) {
            return Err(Refusal::bad(
                "that answer is sealed until you answer the same prompt (`hearth prompt answer`)",
            ));
        }
        Ok(entry_reply(self.view, Entry::clone(e)))
    }

    pub fn log(&self, r: &Log) -> Handled {
        let (q, at) = (&r.query, r.at);
        let date = |s: &Option<String>| -> Result<Option<NaiveDate>, Refusal> {
            Ok(s.as_deref()
                .map(|s| parse_when(s, at, self.boundary))
                .transpose()?)
        };
        let (since, until) = (date(&q.since)?, date(&q.until)?);
        let mut authors = BTreeSet::new();
        for a in &q.authors {
            authors.insert(self.resolve_author(a)?);
        }
        let mut tags = BTreeSet::new();
        for t in &q.tags {
            tags.insert(hearth_model::entry::normalize_tag(t)?);
        }
        if q.limit == Some(0) {
            return Err(Refusal::bad("-n must be at least 1"));
        }
        if q.page == Some(0) {
            return Err(Refusal::bad("a log page holds at least 1 entry"));
        }
        let filter = Filter {
            since,
            until,
            kinds: q.kinds.iter().copied().collect(),
            authors,
            tags,
            starred: q.starred,
            contains: q.contains.clone().filter(|c| !c.is_empty()),
            regex: q.regex,
            limit: q.limit,
            include_deleted: q.include_deleted,
            exclude_tender: false,
            private_only: q.private,
        };
        let seal = self.seal();
        let (sealed, shown): (Vec<_>, Vec<_>) = filter
            .apply(self.view)?
            .into_iter()
            .partition(|e| seal.hides(e));
        // A page: the matches after `q.after` in the order shown, by its
        // time and id, so an entry that arrived between pages does not
        // shift the rest. Entries are cloned a page at a time.
        let start = match q.after {
            None => 0,
            Some(id) => {
                let Some(e) = self.view.entries.get(&id) else {
                    return Err(Refusal::bad(format!(
                        "the log page to continue after names no entry: {id}"
                    )));
                };
                let key = (e.created, e.id);
                shown.partition_point(|m| (m.created, m.id) <= key)
            }
        };
        let end = q
            .page
            .map_or(shown.len(), |p| start.saturating_add(p).min(shown.len()));
        let entries: Vec<Entry> = shown[start..end].iter().map(|e| (*e).clone()).collect();
        let next = (end < shown.len())
            .then(|| entries.last().map(|e| e.id))
            .flatten();
        // The sealed count is the whole query's, said once.
        let sealed = if q.after.is_none() { sealed.len() } else { 0 };
        Ok(Response::Entries(EntryList {
            entries,
            names: self.view.partners.clone(),
            short_len: self.view.short_len(8),
            me: self.base.identity.partner.clone(),
            since,
            until,
            // The count says nothing a search could read: with a text or
            // tag filter (tags come from the text) it would tell whether a
            // sealed answer contains the word.
            sealed: if filter.contains.is_none() && filter.tags.is_empty() {
                sealed
            } else {
                0
            },
            next,
        }))
    }

    fn resolve_author(&self, who: &str) -> Result<PartnerId, Refusal> {
        let me = self.base.me()?;
        match who.trim().to_lowercase().as_str() {
            "me" => return Ok(me),
            "partner" => {
                return self
                    .view
                    .partners
                    .keys()
                    .find(|p| **p != me)
                    .cloned()
                    .ok_or_else(|| Refusal::bad("your partner has not joined this journal yet"));
            }
            _ => {}
        }
        self.view
            .partners
            .iter()
            .find(|(id, name)| id.as_str() == who || name.eq_ignore_ascii_case(who.trim()))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                Refusal::bad(format!(
                    "unknown author {who:?}: use me, partner or a partner's name"
                ))
            })
    }
}

/// An entry as a reply, with how much of its id to show.
pub fn entry_reply(view: &View, e: Entry) -> Response {
    Response::Entry {
        short_len: view.unique_len(&e.id, 10),
        entry: Box::new(e),
        names: view.partners.clone(),
        completed: Vec::new(),
    }
}

impl Ready {
    pub(super) fn add(&mut self, r: AddEntry) -> Handled {
        let ctx = self.ctx(r.at)?;
        self.check_answer(&r.entry)?;
        let random = self.random();
        let ms = u64::try_from(r.at.timestamp_millis())
            .map_err(|_| Refusal::bad("the time is before 1970"))?;
        // Order after this device's own last entry only: basing it on a
        // partner's entry could mint the id they mint too.
        let me = &self.base.identity.device;
        let last = self
            .view
            .entries
            .values()
            .rev()
            .take_while(|e| e.id.0.timestamp_ms() >= ms)
            .filter(|e| &e.device == me)
            .map(|e| e.id)
            .max();
        let id = EntryId::next_after(last, ms, random);
        if r.private && matches!(r.entry.body, hearth_model::Body::Answer { .. }) {
            return Err(Refusal::bad(
                "an answer cannot be private: it opens to your partner once you have both answered",
            ));
        }
        let mut draws = self.draws();
        let e = self
            .journal
            .add_entry(r.at, &r.entry, id, r.private, &mut draws)?;
        self.upsert(e.clone());
        let completed = self.complete_rituals_for(&ctx, &e)?;
        Ok(Response::Entry {
            short_len: self.view.unique_len(&e.id, 10),
            entry: Box::new(e),
            names: self.view.partners.clone(),
            completed,
        })
    }

    pub(super) fn edit(&mut self, r: EditEntry) -> Handled {
        self.ctx(r.at)?;
        let id = self.view.resolve(&r.id)?;
        let mut patch = r.patch;
        let private = patch.private.take();
        let mut draws = self.draws();
        let mut e = if patch == hearth_model::EntryPatch::default() {
            // Only a move: `move_entry` checks the entry is mine.
            self.view
                .entries
                .get(&id)
                .map(|e| Entry::clone(e))
                .ok_or_else(|| hearth_model::ModelError::NoSuchEntry(id.key()))?
        } else {
            self.journal.edit_entry(r.at, &id, &patch, &mut draws)?
        };
        if let Some(private) = private
            && private != e.private
        {
            // The same place in the order: the old id's time, new bits.
            let new_id = EntryId::from_parts(id.0.timestamp_ms(), self.random());
            e = self
                .journal
                .move_entry(r.at, &id, private, new_id, &mut draws)?;
            self.unlist(&id);
        }
        self.upsert(e.clone());
        Ok(entry_reply(&self.view, e))
    }

    pub(super) fn delete(&mut self, r: DeleteEntry) -> Handled {
        self.ctx(r.at)?;
        let id = self.view.resolve(&r.id)?;
        let e = self.journal.delete_entry(r.at, &id)?;
        // Its words are forgotten once this commits: the view keeps none.
        let reply = entry_reply(&self.view, e);
        self.unlist(&id);
        Ok(reply)
    }

    pub(super) fn repair_resolve(&mut self, r: RepairResolve) -> Handled {
        self.ctx(r.at)?;
        let id = self.view.resolve(&r.id)?;
        let e = self.journal.set_resolved(r.at, &id, r.resolved)?;
        self.upsert(e.clone());
        Ok(entry_reply(&self.view, e))
    }

    /// Writes imported entries, skipping any already there. One bad entry
    /// refuses the whole import, and `handle` rolls back what was written.
    pub(super) fn import(&mut self, r: Import) -> Handled {
        let me = self.ctx(r.at)?.author;
        let mut added = Vec::new();
        let mut skipped = 0;
        for (i, item) in r.entries.into_iter().enumerate() {
            // The id's time is the wall-clock time as written, read as if
            // UTC: the same on every device whatever its time zone, so a
            // second import anywhere finds the first.
            let wall = item.written.naive_local().and_utc().timestamp_millis();
            let ms = u64::try_from(wall).map_err(|_| {
                Refusal::bad(format!("entry {i} is dated before 1970; nothing imported"))
            })?;
            let id = hearth_model::jrnl::import_id(&me, ms, &item.fingerprint);
            // Already here, even if this version cannot read it.
            if self.journal.has_entry(&id) {
                skipped += 1;
                continue;
            }
            self.check_answer(&item.entry).map_err(|_| {
                Refusal::bad(format!(
                    "entry {i} answers an unknown prompt; nothing imported"
                ))
            })?;
            let mut draws = self.draws();
            let e = self
                .journal
                .add_entry(item.written, &item.entry, id, false, &mut draws)
                .map_err(|e| Refusal::bad(format!("entry {i}: {e}; nothing imported")))?;
            self.upsert(e);
            added.push(id);
        }
        Ok(Response::Imported { added, skipped })
    }
}
