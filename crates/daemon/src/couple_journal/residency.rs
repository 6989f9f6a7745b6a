//! Which documents are in memory (issue 11.1; docs/ARCHITECTURE.md,
//! "What is in memory"). The couple document and each partner's newest year
//! stay loaded: that is where writing happens. Any other document is loaded
//! when a write, a read of its entries or a peer needs it, and dropped again
//! once nobody has used it for a while.
//!
//! A document not in memory still answers the few questions the journal
//! asks of every year: where each entry lives (`homes`), the ritual log and
//! the answer markers. Those are read once, when the document is read at
//! open or dropped, and kept here as its summary: a few bytes per line,
//! against the kilobytes per entry of a loaded document.

use std::collections::{BTreeMap, BTreeSet};
use std::time::{Duration, Instant};

use hearth_model::EntryId;
use hearth_model::records::book;
use hearth_model::records::exchange::genesis_of;
use hearth_model::records::heads::{DocKind, PartnerDoc};
use hearth_model::records::manifest::DocId;
use hearth_model::records::partner_log::{self, LogLine};
use hearth_store::StoreError;

use super::{CoupleJournal, entry_ids};

/// What the journal keeps of a partner document that is not in memory.
#[derive(Debug, Default, Clone, serde::Serialize, serde::Deserialize)]
pub(super) struct Summary {
    pub rituals: Vec<LogLine>,
    pub markers: BTreeMap<String, BTreeSet<EntryId>>,
}

impl Summary {
    fn of(am: &automerge::Automerge) -> Summary {
        Summary {
            rituals: partner_log::ritual_log(am).0,
            markers: book::markers_of(am).unwrap_or_default(),
        }
    }
}

/// Past years as the index kept them, by document: what a start's sweep
/// takes instead of reading a year whose stamp has not moved.
#[derive(Debug, Default)]
pub struct KnownYears(pub BTreeMap<String, KnownYear>);

#[derive(Debug)]
pub struct KnownYear {
    /// The document's stamp when the index kept this.
    pub stamp: String,
    /// A [`KeptYear`] as JSON.
    pub kept: Vec<u8>,
}

/// What the index keeps of a past year not in memory: every entry id in
/// it (deleted and unreadable ones too, as a read of the year lists
/// them) and its summary.
#[derive(serde::Serialize, serde::Deserialize)]
struct KeptYear {
    #[serde(with = "packed_ids")]
    ids: Vec<EntryId>,
    summary: Summary,
}

/// Entry ids as one base64 text of 16 bytes each. A start reads every
/// past year's ids from here; read as 50,000 ULID texts they took 9 ms of
/// the journal's open at 50,000 entries.
mod packed_ids {
    use data_encoding::BASE64_NOPAD;
    use hearth_model::EntryId;
    use serde::de::Error;
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(ids: &[EntryId], s: S) -> Result<S::Ok, S::Error> {
        let bytes: Vec<u8> = ids.iter().flat_map(|id| id.0.0.to_be_bytes()).collect();
        s.serialize_str(&BASE64_NOPAD.encode(&bytes))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<EntryId>, D::Error> {
        let text = std::borrow::Cow::<str>::deserialize(d)?;
        let bytes = BASE64_NOPAD
            .decode(text.as_bytes())
            .map_err(D::Error::custom)?;
        if bytes.len() % 16 != 0 {
            return Err(D::Error::custom("entry ids are 16 bytes each"));
        }
        Ok(bytes
            .chunks_exact(16)
            .map(|b| {
                let id = u128::from_be_bytes(b.try_into().expect("chunks of 16"));
                EntryId(ulid::Ulid(id))
            })
            .collect())
    }
}

impl CoupleJournal {
    /// The past years not in memory whose summary `held` (the stamps the
    /// index holds summaries at) does not have at the stamp in `now`: as
    /// document, stamp and what to keep.
    pub fn years_to_keep(
        &self,
        now: &BTreeMap<DocId, String>,
        held: &BTreeMap<String, String>,
    ) -> Vec<(String, String, Vec<u8>)> {
        let mut out = Vec::new();
        for (p, summary) in &self.summaries {
            let doc = DocId::Partner(*p);
            let (Some(stamp), false) = (now.get(&doc), self.set.is_loaded(&doc)) else {
                continue;
            };
            let name = doc.to_string();
            if held.get(&name) == Some(stamp) {
                continue;
            }
            let kept = KeptYear {
                ids: self
                    .homes
                    .iter()
                    .filter(|(_, d)| *d == p)
                    .map(|(id, _)| *id)
                    .collect(),
                summary: summary.clone(),
            };
            let json = serde_json::to_vec(&kept).expect("a kept year always serializes");
            out.push((name, stamp.clone(), json));
        }
        out
    }

    /// How many past years the start read, rather than taking them from
    /// the index.
    pub fn swept(&self) -> usize {
        self.swept
    }
}

/// The newest year held of each partner's documents of each kind, worked
/// out once for a pass over many documents.
pub(super) struct Newest(BTreeMap<(hearth_model::records::ids::PartnerCode, DocKind), u16>);

impl Newest {
    pub(super) fn of(j: &CoupleJournal) -> Newest {
        let mut newest = BTreeMap::new();
        for d in j.set.documents().into_iter().chain(j.set.loaded()) {
            if let DocId::Partner(p) = d {
                let y = newest.entry((p.partner, p.kind)).or_insert(p.year);
                *y = (*y).max(p.year);
            }
        }
        Newest(newest)
    }

    /// Whether `doc` is the couple document or a newest year.
    pub(super) fn holds(&self, doc: &DocId) -> bool {
        match doc {
            DocId::Couple => true,
            DocId::Partner(p) => self
                .0
                .get(&(p.partner, p.kind))
                .is_none_or(|newest| p.year >= *newest),
        }
    }
}

/// How long a document nobody uses stays in memory.
pub const IDLE: Duration = Duration::from_secs(5 * 60);

impl CoupleJournal {
    /// Whether `doc` is one the journal keeps in memory: the couple
    /// document, and the newest year held of each partner's documents of
    /// each kind.
    pub(super) fn is_active(&self, doc: &DocId) -> bool {
        Newest::of(self).holds(doc)
    }

    /// Drops `doc` from memory, keeping its summary, when it is a past
    /// year that nothing holds on to: no change to commit, no session's
    /// sync state. A session that just settled a past year calls this, so
    /// a first sync holds one past year at a time, not the journal. One
    /// with changes to commit goes after the commit.
    pub(super) fn drop_if_unused(&mut self, doc: &DocId) {
        let DocId::Partner(p) = doc else { return };
        // Checked first: reading the summary of a year's document costs
        // as much as a write.
        if self.is_active(doc) || self.sessions.values().any(|s| s.keeps_state(doc)) {
            return;
        }
        if !self.set.can_unload(doc) {
            self.drop_after_commit.insert(*doc);
            return;
        }
        let Some(summary) = self.set.doc(doc).map(Summary::of) else {
            return;
        };
        if self.set.unload(doc) {
            self.summaries.insert(*p, summary);
        }
    }

    /// Loads `doc` if this device holds it and it is not in memory yet.
    pub(super) fn ensure_loaded(&mut self, doc: &DocId) -> Result<(), StoreError> {
        if self.set.is_loaded(doc) || self.set.committed_heads(doc).is_none() {
            return Ok(());
        }
        let report = self
            .set
            .load(*doc, &self.actor, Instant::now(), || genesis_of(doc))?;
        self.note_load(report);
        if let DocId::Partner(p) = doc {
            self.summaries.remove(p);
        }
        Ok(())
    }

    pub(super) fn note_load(&mut self, report: hearth_store::docset::LoadReport) {
        self.quarantined
            .extend(report.quarantined.iter().map(ToString::to_string));
        self.quarantined.extend(report.missing.iter().map(|p| {
            format!(
                "{}: missing; its changes can come back from a peer",
                p.display()
            )
        }));
    }

    /// Reads every held document that is not in memory once, for its
    /// entries' homes and its summary, and drops it again unless it is
    /// active. One document at a time: memory holds the active set and
    /// the one being read, not the journal.
    ///
    /// A year the index kept at the stamp the year has now is not read:
    /// its entries' homes and its summary come from `known`.
    pub(super) fn sweep(&mut self, mut known: KnownYears) -> Result<(), StoreError> {
        let mut found: Vec<(EntryId, PartnerDoc)> = Vec::new();
        for doc in self.set.documents() {
            let DocId::Partner(p) = doc else { continue };
            if self.set.is_loaded(&doc) {
                continue;
            }
            if let Some(year) = known.0.remove(&doc.to_string())
                && year.stamp == self.set.stamp(&doc)
                && let Ok(kept) = serde_json::from_slice::<KeptYear>(&year.kept)
            {
                found.extend(kept.ids.into_iter().map(|id| (id, p)));
                self.summaries.insert(p, kept.summary);
                continue;
            }
            self.swept += 1;
            let report = self
                .set
                .load(doc, &self.actor, Instant::now(), || genesis_of(&doc))?;
            self.note_load(report);
            let am = self.set.doc(&doc).expect("just loaded");
            found.extend(entry_ids(am).into_iter().map(|id| (id, p)));
            if !self.is_active(&doc) {
                self.summaries.insert(p, Summary::of(am));
                self.set.unload(&doc);
                // Returned before the next year loads, so the start's peak
                // holds one past year, not the holes of all of them.
                crate::memory::give_back();
            }
        }
        self.homes = packed_map(std::mem::take(&mut self.homes).into_iter().chain(found));
        Ok(())
    }

    /// Drops from memory each document that is not active, has nothing
    /// uncommitted, no sync session keeps a state for, and nobody used
    /// since `now - idle`; keeps its summary. Returns how many it dropped.
    pub fn unload_idle(&mut self, now: Instant, idle: Duration) -> usize {
        let newest = Newest::of(self);
        let keep: BTreeSet<DocId> = self
            .set
            .loaded()
            .into_iter()
            .filter(|d| newest.holds(d) || self.sessions.values().any(|s| s.keeps_state(d)))
            .collect();
        let mut summaries = Vec::new();
        let dropped = self.set.unload_idle(
            now,
            idle,
            |d| keep.contains(d),
            |d, am| {
                if let DocId::Partner(p) = d {
                    summaries.push((*p, Summary::of(am)));
                }
            },
        );
        self.summaries.extend(summaries);
        dropped.len()
    }

    /// What `read` says of partner document `doc` in memory, or, when it
    /// is not, what `kept` says of its summary.
    fn live_or_kept<T: Default>(
        &self,
        doc: &PartnerDoc,
        read: impl FnOnce(&automerge::Automerge) -> T,
        kept: impl FnOnce(&Summary) -> T,
    ) -> T {
        match self.set.doc(&DocId::Partner(*doc)) {
            Some(am) => read(am),
            None => self.summaries.get(doc).map(kept).unwrap_or_default(),
        }
    }

    /// The ritual log lines of partner document `doc`.
    pub(super) fn log_lines(&self, doc: &PartnerDoc) -> Vec<LogLine> {
        self.live_or_kept(
            doc,
            |am| partner_log::ritual_log(am).0,
            |s| s.rituals.clone(),
        )
    }

    /// The live answer markers of partner document `doc`.
    pub(super) fn markers(&self, doc: &PartnerDoc) -> BTreeMap<String, BTreeSet<EntryId>> {
        self.live_or_kept(
            doc,
            |am| book::markers_of(am).unwrap_or_default(),
            |s| s.markers.clone(),
        )
    }

    /// The documents in memory, for status and tests.
    pub fn loaded_count(&self) -> usize {
        self.set.loaded().len()
    }
}

/// The map of `pairs`, where a later pair of the same key wins as with
/// `insert`. Built from one sorted list, its nodes are packed full; a map
/// grown a pair at a time in no order leaves them about a third empty
/// (3 MB of `homes` at 50,000 entries, against 1.3 MB packed).
fn packed_map<K: Ord, V>(pairs: impl IntoIterator<Item = (K, V)>) -> BTreeMap<K, V> {
    let mut all: Vec<(K, V)> = pairs.into_iter().collect();
    // Stable: pairs of one key stay in the order they came.
    all.sort_by(|a, b| a.0.cmp(&b.0));
    // `dedup_by` keeps the earlier of two: it takes the later one's value.
    all.dedup_by(|later, earlier| {
        let same = later.0 == earlier.0;
        if same {
            std::mem::swap(later, earlier);
        }
        same
    });
    // Keys are now unique and sorted, which `from_iter` builds in bulk.
    all.into_iter().collect()
}

#[cfg(test)]
mod tests {
    use super::packed_map;

    #[test]
    fn a_packed_map_holds_every_key_once_with_its_last_value() {
        let pairs = [(5, 'a'), (1, 'b'), (5, 'c'), (3, 'd'), (1, 'e'), (5, 'f')];
        let mut grown = std::collections::BTreeMap::new();
        for (k, v) in pairs {
            grown.insert(k, v);
        }
        assert_eq!(packed_map(pairs), grown);
        assert_eq!(packed_map(pairs)[&5], 'f');
        assert!(packed_map(Vec::<(u8, u8)>::new()).is_empty());
    }
}
