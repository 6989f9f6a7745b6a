//! The first change of every schema 2 document (docs/SCHEMA.md, "Genesis
//! changes"): one that any device rebuilds byte for byte, so two devices
//! that create the same document apart get the same top-level maps and
//! neither side's maps hide the other's.

use automerge::transaction::{CommitOptions, Transactable};
use automerge::{ActorId, Automerge, ChangeHash, ObjType, ROOT};

use super::heads::{DocKind, PartnerDoc};

/// The genesis actor: these 16 ASCII bytes, never a device.
pub const GENESIS_ACTOR: &[u8; 16] = b"hearth-genesis-2";
pub const SCHEMA: i64 = 2;
const MESSAGE: &str = "hearth genesis";

/// The couple document's genesis: `hearth` {`schema`, `doc`} and `records`.
pub fn couple_genesis() -> Automerge {
    genesis("couple", &["records"])
}

/// A partner or private document's genesis. Its `hearth.doc` is the id, so
/// each document's genesis, and its hash, is its own.
pub fn partner_genesis(doc: &PartnerDoc) -> Automerge {
    let maps: &[&str] = match doc.kind {
        DocKind::Partner => &["entries", "ritual_log", "skips", "answered"],
        DocKind::Private => &["entries", "ritual_log"],
    };
    genesis(&doc.to_string(), maps)
}

/// The hash of a document's genesis: the one change exempt from the actor
/// checks on receive.
pub fn genesis_hash(doc: &Automerge) -> Option<ChangeHash> {
    doc.get_changes(&[]).first().map(|c| c.hash())
}

fn genesis(id: &str, maps: &[&str]) -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(GENESIS_ACTOR.as_slice()));
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            CommitOptions::default()
                .with_time(0)
                .with_message(MESSAGE.to_string())
        },
        |tx| {
            let hearth = tx.put_object(ROOT, "hearth", ObjType::Map)?;
            tx.put(&hearth, "schema", SCHEMA)?;
            tx.put(&hearth, "doc", id)?;
            for key in maps {
                tx.put_object(ROOT, *key, ObjType::Map)?;
            }
            Ok(())
        },
    )
    .expect("a genesis transaction on an empty document cannot fail");
    doc
}

#[cfg(test)]
mod tests {
    use automerge::ReadDoc;

    use super::*;
    use crate::records::ids::PartnerCode;

    fn ana_2026() -> PartnerDoc {
        PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([0x11; 16]),
            year: 2026,
        }
    }

    /// The hashes SCHEMA.md lists. A change here is a change of format:
    /// devices of different versions would no longer share their maps.
    #[test]
    fn the_genesis_hashes_are_pinned() {
        let hex = |d: &Automerge| genesis_hash(d).unwrap().to_string();
        assert_eq!(hex(&couple_genesis()), COUPLE_HASH);
        assert_eq!(hex(&partner_genesis(&ana_2026())), ANA_2026_HASH);
    }

    const COUPLE_HASH: &str = "7b551a1f5ec24db5715193f5402c9712fdfda9f6c988fe8a90d7c49f01e3e80b";
    const ANA_2026_HASH: &str = "25ac43e3b28a5a9e4eb32168fc3b493673b6cff0e39b5b2de21cec7d16aae619";

    #[test]
    fn a_genesis_is_rebuilt_byte_for_byte_and_differs_per_document() {
        let doc = ana_2026();
        assert_eq!(partner_genesis(&doc).save(), partner_genesis(&doc).save());
        let next_year = PartnerDoc { year: 2027, ..doc };
        let private = PartnerDoc {
            kind: DocKind::Private,
            ..doc
        };
        let hashes: std::collections::BTreeSet<_> = [
            couple_genesis(),
            partner_genesis(&doc),
            partner_genesis(&next_year),
            partner_genesis(&private),
        ]
        .iter()
        .map(|d| genesis_hash(d).unwrap())
        .collect();
        assert_eq!(hashes.len(), 4);
    }

    #[test]
    fn two_devices_that_start_a_document_apart_share_its_maps() {
        let doc = ana_2026();
        let mut laptop = partner_genesis(&doc).with_actor(ActorId::from([1u8; 32].as_slice()));
        let mut phone = partner_genesis(&doc).with_actor(ActorId::from([2u8; 32].as_slice()));
        for (d, key) in [(&mut laptop, "a"), (&mut phone, "b")] {
            let entries = d.get(ROOT, "entries").unwrap().unwrap().1;
            let mut tx = d.transaction();
            tx.put(&entries, key, "words").unwrap();
            tx.commit();
        }
        laptop.merge(&mut phone).unwrap();
        let entries = laptop.get(ROOT, "entries").unwrap().unwrap().1;
        assert_eq!(laptop.keys(&entries).collect::<Vec<_>>(), ["a", "b"]);
        let changes = laptop.get_changes(&[]);
        let first = &changes[0];
        assert_eq!(first.actor_id().to_bytes(), GENESIS_ACTOR);
        assert_eq!((first.seq(), first.timestamp()), (1, 0));
        assert_eq!(first.message(), Some(MESSAGE));
        assert!(first.deps().is_empty());
    }
}
