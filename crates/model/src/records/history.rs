//! Which couple-document changes came before which: the one question the
//! cut-off asks of the history. The trust computation takes it as a trait, so
//! it stays a pure function; `DocHistory` answers it from an in-memory
//! Automerge document.

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashSet};

use automerge::{Automerge, ChangeHash};

/// Answers whether a change is one of a set of heads or an ancestor of one.
pub trait Ancestry {
    /// True when `change` is in `heads` or is an ancestor of a change in
    /// `heads`. A change or head this history does not hold is never within.
    fn is_within(&self, change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool;
}

impl<F> Ancestry for F
where
    F: Fn(&ChangeHash, &BTreeSet<ChangeHash>) -> bool,
{
    fn is_within(&self, change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool {
        self(change, heads)
    }
}

/// The history of an Automerge document. Each distinct set of heads is
/// walked once: `get_changes_meta(heads)` lists the changes outside their
/// ancestors, and every other change the document holds is within.
pub struct DocHistory<'a> {
    doc: &'a Automerge,
    outside: RefCell<BTreeMap<BTreeSet<ChangeHash>, HashSet<ChangeHash>>>,
}

impl<'a> DocHistory<'a> {
    pub fn new(doc: &'a Automerge) -> DocHistory<'a> {
        DocHistory {
            doc,
            outside: RefCell::new(BTreeMap::new()),
        }
    }
}

impl Ancestry for DocHistory<'_> {
    fn is_within(&self, change: &ChangeHash, heads: &BTreeSet<ChangeHash>) -> bool {
        if self.doc.get_change_meta_by_hash(change).is_none() {
            return false;
        }
        // Heads this document lacks name nothing it can place; Automerge
        // would skip them too, but dropping them here keeps the cache honest.
        let known: BTreeSet<ChangeHash> = heads
            .iter()
            .filter(|h| self.doc.get_change_meta_by_hash(h).is_some())
            .copied()
            .collect();
        if known.is_empty() {
            return false;
        }
        let mut cache = self.outside.borrow_mut();
        let outside = cache.entry(known).or_insert_with_key(|known| {
            let known: Vec<ChangeHash> = known.iter().copied().collect();
            self.doc
                .get_changes_meta(&known)
                .into_iter()
                .map(|meta| meta.hash)
                .collect()
        });
        !outside.contains(change)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, ROOT};

    fn commit(doc: &mut Automerge, key: &str) -> ChangeHash {
        let mut tx = doc.transaction();
        tx.put(ROOT, key, 1).unwrap();
        tx.commit().0.unwrap()
    }

    fn set(hashes: &[ChangeHash]) -> BTreeSet<ChangeHash> {
        hashes.iter().copied().collect()
    }

    #[test]
    fn ancestors_and_concurrent_changes_of_a_real_document() {
        let mut ana = Automerge::new().with_actor(ActorId::from([1u8; 32].as_slice()));
        let base = commit(&mut ana, "base");
        let mut ben = ana.fork().with_actor(ActorId::from([2u8; 32].as_slice()));
        let ana_after = commit(&mut ana, "ana");
        let ben_after = commit(&mut ben, "ben");
        ana.merge(&mut ben).unwrap();
        let merged = commit(&mut ana, "merged");

        let history = DocHistory::new(&ana);
        let at_ana = set(&[ana_after]);
        assert!(history.is_within(&base, &at_ana), "an ancestor");
        assert!(history.is_within(&ana_after, &at_ana), "the head itself");
        assert!(!history.is_within(&ben_after, &at_ana), "concurrent");
        assert!(!history.is_within(&merged, &at_ana), "a descendant");

        let both = set(&[ana_after, ben_after]);
        assert!(history.is_within(&ben_after, &both));
        assert!(!history.is_within(&merged, &both));
        assert!(history.is_within(&ben_after, &set(&[merged])));

        let unknown = ChangeHash([9; 32]);
        assert!(!history.is_within(&unknown, &set(&[merged])));
        assert!(!history.is_within(&base, &set(&[unknown])));
        assert!(!history.is_within(&base, &BTreeSet::new()));
        // An unknown head beside a known one is ignored, not fatal.
        assert!(history.is_within(&base, &set(&[unknown, ana_after])));
    }
}
