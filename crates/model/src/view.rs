//! A materialised view of the journal's entries: what queries read, so that
//! a query never walks the Automerge document. The daemon keeps one in
//! memory and persists it beside the document, tagged with the heads it was
//! built from.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

use crate::{Entry, EntryId, Journal, ModelError};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct View {
    /// Heads of the document this view reflects, as hex.
    pub heads: Vec<String>,
    /// Boxed: a map node holds eleven slots and is about half full after
    /// entries arrive in order, so inline entries (over 300 bytes each)
    /// left more empty slot than entry in memory.
    pub entries: BTreeMap<EntryId, Box<Entry>>,
    /// Partners' names by id, so listings can be answered from the view.
    #[serde(default)]
    pub partners: BTreeMap<crate::PartnerId, String>,
    /// Entries in the document that could not be read (malformed).
    pub malformed: usize,
}

/// How many leading characters the text forms of two ids share. An id is
/// 26 Crockford base32 characters for 128 bits: the first carries the top
/// 3 bits, each of the others 5.
fn common_chars(a: u128, b: u128) -> usize {
    match (a ^ b).leading_zeros() as usize {
        same if same < 3 => 0,
        same => (1 + (same - 3) / 5).min(26),
    }
}

/// The most changes [`View::catch_up`] reads one by one before it builds
/// the view afresh instead.
const CATCH_UP_MAX: usize = 4_000;

pub fn heads_hex(heads: &[ChangeHash]) -> Vec<String> {
    let mut v: Vec<String> = heads.iter().map(|h| h.to_string()).collect();
    v.sort();
    v
}

pub fn heads_parse(hex: &[String]) -> Option<Vec<ChangeHash>> {
    hex.iter().map(|h| h.parse().ok()).collect()
}

impl View {
    /// Reads every entry of the journal.
    pub fn build(journal: &Journal) -> View {
        let (entries, malformed) = journal.all_entries();
        View {
            heads: heads_hex(&journal.heads()),
            entries: entries.into_iter().map(|e| (e.id, Box::new(e))).collect(),
            partners: journal.partners(),
            malformed,
        }
    }

    pub fn is_current(&self, journal: &Journal) -> bool {
        self.heads == heads_hex(&journal.heads())
    }

    /// Brings the view up to the journal's heads by re-reading only the
    /// entries changed since the view's heads. Falls back to a full build if
    /// the view's heads are unknown to the document, or far behind.
    pub fn catch_up(&mut self, journal: &Journal) {
        if self.is_current(journal) {
            return;
        }
        // An empty view (no cache) is built directly: catching up from
        // nothing would decode every change in the document. So is one
        // that lags by thousands of changes: reading them op by op (about
        // 16 us each at 20,000 entries) then costs more than a build.
        let known = heads_parse(&self.heads).filter(|hs| {
            !hs.is_empty()
                && hs
                    .iter()
                    .all(|h| journal.doc().get_change_meta_by_hash(h).is_some())
                && journal.doc().get_changes_meta(hs).len() <= CATCH_UP_MAX
        });
        match known {
            Some(before) => {
                let changed = journal.entries_changed_since(&before);
                self.refresh(journal, &changed);
            }
            None => *self = View::build(journal),
        }
        self.partners = journal.partners();
    }

    /// Re-reads the given entries after a write.
    pub fn refresh(&mut self, journal: &Journal, ids: &BTreeSet<EntryId>) {
        self.take_read(journal, Self::read(journal, ids));
    }

    /// The given entries as the document holds them now: what
    /// [`View::take_read`] takes, for a caller that checks them first.
    pub fn read(
        journal: &Journal,
        ids: &BTreeSet<EntryId>,
    ) -> Vec<(EntryId, Result<Option<Entry>, ModelError>)> {
        ids.iter().map(|id| (*id, journal.entry(id))).collect()
    }

    /// Puts entries read by [`View::read`] in place: gone ones leave, and
    /// unreadable ones are counted as malformed.
    pub fn take_read(
        &mut self,
        journal: &Journal,
        read: Vec<(EntryId, Result<Option<Entry>, ModelError>)>,
    ) {
        for (id, entry) in read {
            match entry {
                Ok(Some(e)) => {
                    self.entries.insert(id, Box::new(e));
                }
                Ok(None) => {
                    self.entries.remove(&id);
                }
                Err(_) => {
                    if self.entries.remove(&id).is_none() {
                        self.malformed += 1;
                    }
                }
            }
        }
        self.heads = heads_hex(&journal.heads());
    }

    /// The display name of a partner, or their id if unknown.
    pub fn name_of<'a>(&'a self, id: &'a crate::PartnerId) -> &'a str {
        self.partners.get(id).map_or(id.as_str(), String::as_str)
    }

    pub fn upsert(&mut self, journal: &Journal, entry: Entry) {
        self.entries.insert(entry.id, Box::new(entry));
        self.heads = heads_hex(&journal.heads());
    }

    /// Resolves a full id or a unique prefix of one, as git does.
    pub fn resolve(&self, prefix: &str) -> Result<EntryId, ModelError> {
        let p = prefix.trim().to_ascii_lowercase();
        if !crate::id::valid_prefix(&p) {
            return Err(ModelError::Id(prefix.to_string()));
        }
        if p.len() == 26 {
            let id: EntryId = p.parse()?;
            return if self.entries.contains_key(&id) {
                Ok(id)
            } else {
                Err(ModelError::NoSuchEntry(prefix.to_string()))
            };
        }
        // Keys sort like their text, so the matches are one contiguous run.
        let lo: EntryId = format!("{p:0<26}")
            .parse()
            .unwrap_or(EntryId(ulid::Ulid::nil()));
        let hits: Vec<EntryId> = self
            .entries
            .range(lo..)
            .map(|(id, _)| *id)
            .take_while(|id| id.key().starts_with(&p))
            .take(2)
            .collect();
        match hits.as_slice() {
            [one] => Ok(*one),
            [] => Err(ModelError::NoSuchEntry(prefix.to_string())),
            _ => Err(ModelError::AmbiguousId(
                prefix.to_string(),
                self.entries
                    .keys()
                    .filter(|id| id.key().starts_with(&p))
                    .count(),
            )),
        }
    }

    /// The shortest prefix length (at least `min`) that keeps every id in
    /// `ids` unique among all entries, for abbreviated display.
    pub fn short_len(&self, min: usize) -> usize {
        // Every `log` asks this, so it compares the ids' bits instead of
        // spelling each one out.
        let ids = self.entries.keys().map(|id| u128::from(id.0));
        ids.clone()
            .zip(ids.skip(1))
            .map(|(a, b)| common_chars(a, b) + 1)
            .fold(min, usize::max)
            .min(26)
    }

    /// The shortest prefix of `id` (at least `min` characters) that no other
    /// entry shares: what to print after writing it.
    pub fn unique_len(&self, id: &EntryId, min: usize) -> usize {
        let key = id.key();
        let common = |other: Option<(&EntryId, &Box<Entry>)>| {
            other.map_or(0, |(o, _)| {
                o.key()
                    .bytes()
                    .zip(key.bytes())
                    .take_while(|(a, b)| a == b)
                    .count()
            })
        };
        let before = common(self.entries.range(..*id).next_back());
        let after = common(
            self.entries
                .range((std::ops::Bound::Excluded(*id), std::ops::Bound::Unbounded))
                .next(),
        );
        (before.max(after) + 1).max(min).min(26)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shared_characters_counted_from_bits_agree_with_the_text_forms() {
        let text_common = |a: u128, b: u128| {
            let (a, b) = (EntryId(a.into()).key(), EntryId(b.into()).key());
            a.bytes().zip(b.bytes()).take_while(|(x, y)| x == y).count()
        };
        // A fixed xorshift stream; every second pair differs only below a
        // chosen bit, so long shared prefixes are covered too.
        let mut x: u128 = 0x9e37_79b9_7f4a_7c15_f39c_c060_5ced_c834;
        let mut next = || {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            x
        };
        for i in 0..4_000u32 {
            let a = next();
            let b = if i % 2 == 0 {
                next()
            } else {
                a ^ (next() >> (i % 128))
            };
            assert_eq!(common_chars(a, b), text_common(a, b), "{a:x} {b:x}");
        }
        assert_eq!(common_chars(7, 7), 26);
    }
}
