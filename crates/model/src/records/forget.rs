//! The forget rule (docs/SCHEMA.md, "Write, edit, delete"; issue 10,
//! points 1 and 2): the document decides which content keys a device
//! keeps. After each commit that touches an entry, local or received, a
//! device forgets every key of that entry whose version is not a current
//! value of `b`, and every key of a deleted entry. Only the author's
//! devices can sign the document, so only they can make others forget.

use std::collections::BTreeSet;

use automerge::{ObjId, ReadDoc};

use super::content::VERSION_ID_LEN;
use crate::EntryId;

pub type VersionId = [u8; VERSION_ID_LEN];

/// What the document says of one entry's versions.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Live {
    /// The entry carries its tombstone: every key goes.
    pub deleted: bool,
    /// Every value `b` holds, concurrent ones included (`get_all`).
    pub versions: BTreeSet<VersionId>,
}

/// Reads entry `entry` in the `entries` map `entries` of a partner
/// document. A value of `b` that is not a sealed version names nothing, so
/// it keeps no key alive.
pub fn live_versions(doc: &impl ReadDoc, entries: &ObjId, entry: &EntryId) -> Live {
    match super::entries::raw_in(doc, entries, entry) {
        Some(raw) => Live {
            deleted: raw.deleted(),
            versions: raw.versions(),
        },
        None => Live::default(),
    }
}

/// Which of the `held` versions of an entry to forget: all once it is
/// deleted, otherwise those that are no longer a current value. A key that
/// arrives later for one of these is stored as forgotten at once.
pub fn to_forget(live: &Live, held: impl IntoIterator<Item = VersionId>) -> Vec<VersionId> {
    held.into_iter()
        .filter(|v| live.deleted || !live.versions.contains(v))
        .collect()
}

#[cfg(test)]
mod tests {
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ROOT, ScalarValue};

    use super::*;
    use crate::records::content::{VersionKey, seal_version};
    use crate::records::genesis::partner_genesis;
    use crate::records::heads::{DocKind, PartnerDoc};
    use crate::records::ids::PartnerCode;

    const ENTRY_MS: u64 = 1_795_638_600_000;

    fn doc_id() -> PartnerDoc {
        PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([0x22; 16]),
            year: 2026,
        }
    }

    fn entries(doc: &Automerge) -> ObjId {
        doc.get(ROOT, "entries").unwrap().unwrap().1
    }

    /// Writes version `v` of the entry (a new `b`).
    fn put_version(doc: &mut Automerge, entry: &EntryId, v: u8) {
        let b = seal_version(
            &VersionKey([v; 32]),
            &doc_id().to_string(),
            entry,
            [v; 16],
            [v; 24],
            b"{\"kind\":\"note\"}",
        )
        .unwrap();
        let entries = entries(doc);
        let mut tx = doc.transaction();
        let map = match tx.get(&entries, entry.key()).unwrap() {
            Some((_, map)) => map,
            None => {
                let map = tx
                    .put_object(&entries, entry.key(), automerge::ObjType::Map)
                    .unwrap();
                tx.put(&map, "day", "2026-11-25").unwrap();
                map
            }
        };
        tx.put(&map, "b", ScalarValue::Bytes(b)).unwrap();
        tx.commit();
    }

    fn device(doc: &Automerge, n: u8) -> Automerge {
        doc.fork().with_actor(ActorId::from([n; 32].as_slice()))
    }

    #[test]
    fn an_edit_forgets_the_old_version_and_concurrent_ones_both_stay() {
        let e = EntryId::from_parts(ENTRY_MS, 1);
        let mut laptop = device(&partner_genesis(&doc_id()), 1);
        put_version(&mut laptop, &e, 1);
        let held = || [[1; 16], [2; 16], [3; 16]];
        let live = live_versions(&laptop, &entries(&laptop), &e);
        assert_eq!(live.versions, [[1; 16]].into());
        assert_eq!(to_forget(&live, held()), [[2; 16], [3; 16]]);

        // Two devices edit apart: both new versions are current, the first
        // is not.
        let mut phone = device(&laptop, 2);
        put_version(&mut laptop, &e, 2);
        put_version(&mut phone, &e, 3);
        laptop.merge(&mut phone).unwrap();
        let live = live_versions(&laptop, &entries(&laptop), &e);
        assert_eq!(live.versions, [[2; 16], [3; 16]].into());
        assert_eq!(to_forget(&live, held()), [[1; 16]]);
    }

    #[test]
    fn a_delete_forgets_every_version_even_one_edited_concurrently() {
        let e = EntryId::from_parts(ENTRY_MS, 2);
        let mut laptop = device(&partner_genesis(&doc_id()), 1);
        put_version(&mut laptop, &e, 1);
        let mut phone = device(&laptop, 2);
        // The laptop deletes (tombstone, `b` gone); the phone edits.
        let map = laptop.get(entries(&laptop), e.key()).unwrap().unwrap().1;
        let mut tx = laptop.transaction();
        tx.put(&map, "deleted", true).unwrap();
        tx.delete(&map, "b").unwrap();
        tx.commit();
        put_version(&mut phone, &e, 2);
        laptop.merge(&mut phone).unwrap();
        let live = live_versions(&laptop, &entries(&laptop), &e);
        assert!(live.deleted);
        assert_eq!(to_forget(&live, [[1; 16], [2; 16]]), [[1; 16], [2; 16]]);
    }

    #[test]
    fn an_entry_the_document_does_not_hold_keeps_no_key() {
        let doc = partner_genesis(&doc_id());
        let e = EntryId::from_parts(ENTRY_MS, 3);
        let live = live_versions(&doc, &entries(&doc), &e);
        assert_eq!(live, Live::default());
        assert_eq!(to_forget(&live, [[9; 16]]), [[9; 16]]);
    }
}
