//! The view and the index (hearth-store `index`) kept in step: the view is
//! what reads answer from in memory; the index is its copy on disk, with
//! the stamp of each document it reflects, so a start reads the view back
//! instead of decrypting every entry, and re-reads only the documents that
//! moved since.
//!
//! Every change to the view marks the entry; after each durable commit the
//! marked entries and the new stamps are written in one transaction, before
//! anyone is answered. A crash before that write leaves stamps behind the
//! manifest, so the next start re-reads those documents: the index can lag,
//! never lie.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use hearth_model::records::heads::PartnerDoc;
use hearth_model::records::manifest::DocId;
use hearth_model::{Entry, EntryId, View};
use hearth_store::index::{Index, Indexed, Recent, Update, Wrote};
use hearth_store::{DocSet, FileKey};

use crate::couple_journal::{KnownYear, KnownYears};

use super::Ready;

/// What the loader read of the index before the documents were there.
pub struct StartIndex {
    pub index: Index,
    pub indexed: Indexed,
    /// Whether every document's stamp matched the manifest at open: only
    /// then may the index answer reads while the documents load.
    pub current: bool,
}

/// How many weeks of the index a start reads first, to answer `log -n 20`
/// while it reads the rest: a quiet couple writes a few entries a week.
pub const RECENT_WEEKS: i64 = 8;

/// The index opened at a start, before its entries are read: enough to
/// say whether it is current, to read its newest weeks, and to tell the
/// journal's open which past years it keeps.
pub struct OpeningIndex {
    index: Index,
    /// Per document, the stamp its rows reflect (empty if they did not
    /// read: nothing is then current or kept).
    stamps: BTreeMap<String, (String, usize)>,
    /// Every document's stamp in the index matches the manifest.
    current: bool,
    /// The committed heads, which are the documents' heads once loaded.
    heads: Vec<String>,
}

impl OpeningIndex {
    /// Opens the index in `data` and compares its stamps with `set`'s
    /// manifest. `None` when it cannot be opened: the start then reads
    /// every entry.
    pub fn open(data: &Path, key: FileKey, set: &DocSet) -> Option<OpeningIndex> {
        let index = match Index::open(data, key) {
            Ok(index) => index,
            Err(e) => {
                tracing::warn!(error = %e, "the index is not usable; reading every entry instead");
                return None;
            }
        };
        let docs = set.documents();
        let stamps = index.stamps().unwrap_or_default();
        let current = !stamps.is_empty()
            && stamps.len() == docs.len()
            && docs
                .iter()
                .all(|d| stamps.get(&d.to_string()).map(|(s, _)| s) == Some(&set.stamp(d)));
        let mut heads: Vec<String> = docs
            .iter()
            .flat_map(|d| set.committed_heads(d).unwrap_or_default())
            .map(|h| h.to_string())
            .collect();
        heads.sort();
        Some(OpeningIndex {
            index,
            stamps,
            current,
            heads,
        })
    }

    /// The newest weeks, when the index is current and they open.
    pub fn recent(&self) -> Option<Recent> {
        if !self.current {
            return None;
        }
        self.index.read_recent(RECENT_WEEKS).ok().flatten()
    }

    /// The past years the index kept at the stamp its entries reflect.
    pub fn known_years(&self) -> KnownYears {
        match self.index.summaries() {
            Ok(summaries) => known_years(&self.stamps, &summaries),
            Err(_) => KnownYears::default(),
        }
    }

    /// Reads the whole index. `None` when it does not read: the start then
    /// reads every entry.
    pub fn read(self) -> Option<StartIndex> {
        let mut indexed = match self.index.read() {
            Ok(ix) => ix,
            Err(e) => {
                tracing::warn!(error = %e, "the index is not usable; reading every entry instead");
                return None;
            }
        };
        // A page that did not open emptied the index: nothing is current.
        let current = self.current && !indexed.stamps.is_empty();
        indexed.view.heads = self.heads;
        Some(StartIndex {
            index: self.index,
            indexed,
            current,
        })
    }
}

/// The past years in `summaries` kept at the stamp `stamps` gives their
/// document's entries.
fn known_years(
    stamps: &BTreeMap<String, (String, usize)>,
    summaries: &BTreeMap<String, (String, Vec<u8>)>,
) -> KnownYears {
    KnownYears(
        summaries
            .iter()
            .filter(|(doc, (stamp, _))| stamps.get(*doc).map(|(s, _)| s) == Some(stamp))
            .map(|(doc, (stamp, kept))| {
                (
                    doc.clone(),
                    KnownYear {
                        stamp: stamp.clone(),
                        kept: kept.clone(),
                    },
                )
            })
            .collect(),
    )
}

impl StartIndex {
    /// Opens the index in `data` and reads it back whole, noting whether
    /// it reflects every document as `set`'s manifest has it. When it
    /// does, `recent` gets the newest weeks first. `None` when it cannot
    /// be opened. The tests' start with the index read first.
    #[cfg(test)]
    pub fn read(
        data: &Path,
        key: FileKey,
        set: &DocSet,
        recent: impl FnOnce(Recent),
    ) -> Option<StartIndex> {
        let opening = OpeningIndex::open(data, key, set)?;
        if let Some(newest) = opening.recent() {
            recent(newest);
        }
        opening.read()
    }

    /// The past years the index kept at the stamp its entries reflect,
    /// for the journal's open to take instead of reading them.
    pub fn known_years(&self) -> KnownYears {
        known_years(&self.indexed.stamps, &self.indexed.summaries)
    }
}

/// The index's side of a ready core.
#[derive(Default)]
pub struct IndexState {
    index: Option<Index>,
    /// Per document, the stamp and unread count last written.
    written: BTreeMap<String, (String, usize)>,
    /// Entries changed in the view since the last write.
    dirty: BTreeSet<EntryId>,
    /// Per document, entries this device cannot read.
    unread: BTreeMap<PartnerDoc, usize>,
    /// A commit happened since the last write: stamps may have moved.
    committed: bool,
    /// Documents re-read at the start, for status and tests.
    pub reread_at_start: usize,
    /// Device-list notices shown here (record keys, hex).
    seen: BTreeSet<String>,
    /// Per past year, the stamp the index keeps its summary at.
    summaries: BTreeMap<String, String>,
}

impl IndexState {
    pub fn mark(&mut self, id: EntryId) {
        self.dirty.insert(id);
    }

    /// A commit made something durable: the next write compares stamps.
    pub fn committed(&mut self) {
        self.committed = true;
    }

    pub fn was_seen(&self, key: &str) -> bool {
        self.seen.contains(key)
    }

    /// Remembers notices as shown. Without an index they are remembered
    /// until the daemon stops.
    pub fn see(&mut self, keys: impl IntoIterator<Item = String>) {
        let before = self.seen.len();
        self.seen.extend(keys);
        if self.seen.len() == before {
            return;
        }
        if let Some(index) = &self.index
            && let Err(e) = index.write_seen(&self.seen)
        {
            tracing::warn!(error = %e, "could not remember the notices shown");
        }
    }
}

impl Ready {
    /// Reads every entry afresh into the view, one document at a time, and
    /// marks for the index each entry that differs from before.
    pub(super) fn rebuild_view(&mut self) {
        let old = std::mem::take(&mut self.view.entries);
        let mut entries = BTreeMap::new();
        self.index.unread.clear();
        for (doc, read, unread) in self.journal.entries_by_doc() {
            self.index.unread.insert(doc, unread);
            entries.extend(read.into_iter().map(|e| (e.id, Box::new(e))));
        }
        for (id, e) in &entries {
            if old.get(id) != Some(e) {
                self.index.dirty.insert(*id);
            }
        }
        self.index
            .dirty
            .extend(old.keys().filter(|id| !entries.contains_key(id)));
        self.view = View {
            heads: self.journal.heads_hex(),
            entries,
            partners: self.journal.partners(),
            malformed: self.index.unread.values().sum(),
        };
    }

    /// The first view of a loaded journal: the index's, with the documents
    /// whose stamps moved read again; or, without an index or when the
    /// couple document moved (names, settled repairs), read whole.
    ///
    /// `opened`, for a core that took writes before the whole index was
    /// read (`Ready::early`): the stamps when the journal opened. What
    /// moved since is in the view already, marked for the index; only
    /// what the index missed at the open is read again.
    pub(super) fn start_view(
        &mut self,
        start: Option<StartIndex>,
        opened: Option<BTreeMap<DocId, String>>,
    ) {
        let Some(StartIndex {
            index, mut indexed, ..
        }) = start
        else {
            self.rebuild_view();
            return;
        };
        // The entries written since the open, to lay over the index's.
        let early = opened
            .as_ref()
            .map(|_| (std::mem::take(&mut self.view), self.index.dirty.clone()));
        self.index.index = Some(index);
        self.index.committed = true;
        self.index.seen = std::mem::take(&mut indexed.seen);
        self.index.summaries = std::mem::take(&mut indexed.summaries)
            .into_iter()
            .map(|(doc, (stamp, _))| (doc, stamp))
            .collect();
        let now = self.journal.stamps();
        let base = opened.unwrap_or_else(|| now.clone());
        let moved: Vec<DocId> = base
            .iter()
            .filter(|(d, s)| indexed.stamps.get(&d.to_string()).map(|(s, _)| s) != Some(s))
            .map(|(d, _)| *d)
            .collect();
        if indexed.stamps.is_empty() || moved.contains(&DocId::Couple) {
            self.index.reread_at_start = now.len();
            if let Some((early, _)) = early {
                // Compared with what was shown, so its entries are marked.
                self.view = early;
            }
            self.rebuild_view();
            return;
        }
        let Indexed {
            view,
            homes,
            stamps,
            ..
        } = indexed;
        self.view = view;
        self.index.written = stamps;
        for (doc, (_, unread)) in &self.index.written {
            if let Ok(DocId::Partner(p)) = doc.parse::<DocId>() {
                self.index.unread.insert(p, *unread);
            }
        }
        // Entries of documents that moved, or that the journal no longer
        // has, are read again (or dropped).
        let gone = gone(&self.index.written, &now);
        let stale: BTreeSet<String> = moved.iter().map(ToString::to_string).collect();
        for (doc, ids) in &homes {
            if stale.contains(doc) || gone.contains(doc) {
                for id in ids {
                    self.view.entries.remove(id);
                    self.index.dirty.insert(*id);
                }
            }
        }
        for doc in &moved {
            let DocId::Partner(p) = doc else { continue };
            let (read, unread) = self.journal.doc_entries(p);
            self.index.unread.insert(*p, unread);
            for e in read {
                self.index.dirty.insert(e.id);
                self.view.entries.insert(e.id, Box::new(e));
            }
        }
        if let Some((mut early, written)) = early {
            for id in &written {
                match early.entries.remove(id) {
                    Some(e) => self.view.entries.insert(*id, e),
                    None => self.view.entries.remove(id),
                };
            }
        }
        self.index.reread_at_start = moved.len();
        self.view.partners = self.journal.partners();
        self.view.heads = self.journal.heads_hex();
        self.view.malformed = self.index.unread.values().sum();
    }

    /// Writes what changed since the last write, once the journal is
    /// durable. A failure is logged: the stamps stay behind, so the next
    /// start re-reads those documents.
    pub(super) fn write_index(&mut self) {
        // A batch of reads changed nothing: no stamp is looked at.
        if !self.index.committed && self.index.dirty.is_empty() {
            return;
        }
        let Some(index) = self.index.index.as_mut() else {
            return;
        };
        self.index.committed = false;
        let mut update = Update::default();
        for id in std::mem::take(&mut self.index.dirty) {
            let home = self.journal.home_of(&id);
            match (self.view.entries.get(&id), home) {
                (Some(e), Some(home)) => update
                    .upsert
                    .push((DocId::Partner(home).to_string(), Entry::clone(e))),
                _ => update.remove.push(id),
            }
        }
        let now = self.journal.stamps();
        for (doc, stamp) in &now {
            let unread = match doc {
                DocId::Partner(p) => self.index.unread.get(p).copied().unwrap_or(0),
                DocId::Couple => 0,
            };
            let key = doc.to_string();
            if self.index.written.get(&key) != Some(&(stamp.clone(), unread)) {
                update.stamps.push((key, stamp.clone(), unread));
            }
        }
        update.drop_docs = gone(&self.index.written, &now).into_iter().collect();
        update.summaries = self.journal.years_to_keep(&now, &self.index.summaries);
        if update.is_empty() {
            return;
        }
        update.partners = self.view.partners.clone();
        match index.write(&update) {
            Ok(Wrote::Emptied) => {
                self.index.index = None;
                self.index.written.clear();
                self.index.summaries.clear();
            }
            Ok(Wrote::Done) => {
                for d in &update.drop_docs {
                    self.index.written.remove(d);
                    self.index.summaries.remove(d);
                }
                for (d, s, _) in update.summaries {
                    self.index.summaries.insert(d, s);
                }
                for (d, s, n) in update.stamps {
                    self.index.written.insert(d, (s, n));
                }
            }
            Err(e) => {
                tracing::warn!(error = %e, "could not update the index; the next start reads again what it missed");
                self.index
                    .dirty
                    .extend(update.upsert.iter().map(|(_, e)| e.id));
                self.index.dirty.extend(update.remove);
            }
        }
    }

    /// Puts an entry as written or read into the view.
    pub(super) fn upsert(&mut self, e: Entry) {
        self.index.mark(e.id);
        self.view.entries.insert(e.id, Box::new(e));
        self.view.heads = self.journal.heads_hex();
    }

    /// Takes an entry out of the view (deleted: its words go).
    pub(super) fn unlist(&mut self, id: &EntryId) {
        self.index.mark(*id);
        self.view.entries.remove(id);
    }

    /// How many documents the start read again, for tests.
    pub fn reread_at_start(&self) -> usize {
        self.index.reread_at_start
    }

    /// How many past years the start read rather than took from the
    /// index, for tests.
    pub fn swept_at_start(&self) -> usize {
        self.journal.swept()
    }
}

/// The documents the index reflects that the journal no longer has (or
/// whose ids no longer read as any).
fn gone(
    written: &BTreeMap<String, (String, usize)>,
    now: &BTreeMap<DocId, String>,
) -> BTreeSet<String> {
    written
        .keys()
        .filter(|d| {
            d.parse::<DocId>()
                .ok()
                .is_none_or(|d| !now.contains_key(&d))
        })
        .cloned()
        .collect()
}

#[cfg(test)]
mod tests;
