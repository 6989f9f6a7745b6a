//! When a sealed answer opens (docs/SCHEMA.md, "Sealed answers"; issue 10,
//! point 4). An answer's key stays with its author's devices until one of
//! them holds, in the other partner's document, a marker for the same
//! prompt whose entry is not deleted: that marker, covered by the other
//! partner's signed heads, is their signed commitment to having answered.
//! Then the key is released to the couple. Both sides do this, so answers
//! written offline on both sides open when the devices meet.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{ObjId, ReadDoc, ScalarValueRef, Value, ValueRef};

use crate::EntryId;

/// The live markers of one partner document: prompt id → the entries that
/// answer it and are not deleted.
pub fn live_markers(
    doc: &impl ReadDoc,
    answered: &ObjId,
    entries: &ObjId,
) -> BTreeMap<String, BTreeSet<EntryId>> {
    let mut out: BTreeMap<String, BTreeSet<EntryId>> = BTreeMap::new();
    for item in doc.map_range(answered, ..) {
        let Ok(entry) = item.key.parse::<EntryId>() else {
            continue;
        };
        let ValueRef::Scalar(ScalarValueRef::Str(prompt)) = item.value else {
            continue;
        };
        if is_live(doc, entries, &entry) {
            out.entry(prompt.to_string()).or_default().insert(entry);
        }
    }
    out
}

fn is_live(doc: &impl ReadDoc, entries: &ObjId, entry: &EntryId) -> bool {
    let Ok(Some((Value::Object(_), map))) = doc.get(entries, entry.key()) else {
        return false;
    };
    !matches!(
        doc.get(&map, "deleted"),
        Ok(Some((Value::Scalar(v), _))) if v.as_bool() == Some(true)
    )
}

/// My answers whose keys may go to the couple now: those to a prompt my
/// partner has answered too. `released` are the ones already out (a release
/// is final).
pub fn to_release(
    mine: &BTreeMap<String, BTreeSet<EntryId>>,
    partners: &BTreeMap<String, BTreeSet<EntryId>>,
    released: &BTreeSet<EntryId>,
) -> BTreeSet<EntryId> {
    mine.iter()
        .filter(|(prompt, _)| partners.contains_key(*prompt))
        .flat_map(|(_, entries)| entries.iter().copied())
        .filter(|e| !released.contains(e))
        .collect()
}

/// How my partner's answer to a prompt looks from my side.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Opening {
    /// My partner has not answered.
    NotAnswered,
    /// My partner has answered and I have not: "it opens when you answer".
    WhenYouAnswer,
    /// We both have, and their key has not reached me: "opens when their
    /// device is next online".
    WhenTheirDeviceIsOnline,
    /// Their key is here: the answer reads.
    Open,
}

pub fn opening(i_answered: bool, they_answered: bool, key_here: bool) -> Opening {
    match (they_answered, i_answered, key_here) {
        (false, _, _) => Opening::NotAnswered,
        (true, _, true) => Opening::Open,
        (true, false, false) => Opening::WhenYouAnswer,
        (true, true, false) => Opening::WhenTheirDeviceIsOnline,
    }
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ROOT};

    use super::*;
    use crate::records::genesis::partner_genesis;
    use crate::records::heads::{DocKind, PartnerDoc};
    use crate::records::ids::PartnerCode;

    fn doc_of(partner: u8) -> Automerge {
        partner_genesis(&PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([partner; 16]),
            year: 2026,
        })
        .with_actor(ActorId::from([partner; 32].as_slice()))
    }

    fn maps(doc: &Automerge) -> (ObjId, ObjId) {
        let get = |k| doc.get(ROOT, k).unwrap().unwrap().1;
        (get("answered"), get("entries"))
    }

    /// An answer to `prompt`, with its marker; deleted if `deleted`.
    fn answer(doc: &mut Automerge, n: u128, prompt: &str, deleted: bool) -> EntryId {
        let id = EntryId::from_parts(1_795_638_600_000, n);
        let (answered, entries) = maps(doc);
        let mut tx = doc.transaction();
        let map = tx
            .put_object(&entries, id.key(), automerge::ObjType::Map)
            .unwrap();
        tx.put(&map, "day", "2026-11-25").unwrap();
        if deleted {
            tx.put(&map, "deleted", true).unwrap();
        } else {
            tx.put(&answered, id.key(), prompt).unwrap();
        }
        tx.commit();
        id
    }

    fn markers(doc: &Automerge) -> BTreeMap<String, BTreeSet<EntryId>> {
        let (answered, entries) = maps(doc);
        live_markers(doc, &answered, &entries)
    }

    #[test]
    fn my_answer_is_released_once_my_partner_has_answered_the_same_prompt() {
        let (mut ana, mut ben) = (doc_of(1), doc_of(2));
        let walk = answer(&mut ana, 1, "dreams-02", false);
        let other = answer(&mut ana, 2, "play-05", false);
        let none = BTreeSet::new();
        assert!(to_release(&markers(&ana), &markers(&ben), &none).is_empty());
        answer(&mut ben, 3, "dreams-02", false);
        assert_eq!(
            to_release(&markers(&ana), &markers(&ben), &none),
            [walk].into()
        );
        // Released once, not again; the other prompt waits.
        assert!(to_release(&markers(&ana), &markers(&ben), &[walk].into()).is_empty());
        assert!(!to_release(&markers(&ana), &markers(&ben), &none).contains(&other));
    }

    #[test]
    fn a_deleted_answer_commits_to_nothing() {
        let (mut ana, mut ben) = (doc_of(1), doc_of(2));
        answer(&mut ana, 1, "dreams-02", false);
        // Ben's answer was deleted: its marker went with it. A marker
        // whose entry is deleted (a hostile or half-applied state) counts
        // for nothing either.
        answer(&mut ben, 2, "dreams-02", true);
        let (answered, entries) = maps(&ben);
        let gone = EntryId::from_parts(1_795_638_600_000, 2);
        let mut tx = ben.transaction();
        tx.put(&answered, gone.key(), "dreams-02").unwrap();
        tx.commit();
        assert!(live_markers(&ben, &answered, &entries).is_empty());
        assert!(to_release(&markers(&ana), &markers(&ben), &BTreeSet::new()).is_empty());
    }

    #[test]
    fn what_my_side_shows_of_my_partners_answer() {
        assert_eq!(opening(false, false, false), Opening::NotAnswered);
        assert_eq!(opening(true, false, false), Opening::NotAnswered);
        assert_eq!(opening(false, true, false), Opening::WhenYouAnswer);
        assert_eq!(opening(true, true, false), Opening::WhenTheirDeviceIsOnline);
        assert_eq!(opening(true, true, true), Opening::Open);
    }
}
