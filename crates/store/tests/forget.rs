//! Crypto-shredding on disk (issue 10, points 1 and 2; docs/SCHEMA.md,
//! "Content keys and forgetting"): an edited or deleted entry's old words
//! stay in the documents' history as ciphertext, and after the change
//! reaches a device, no key on that device's disk opens them, even after a
//! crash and a reopen.

use std::path::Path;
use std::time::Instant;

use automerge::{ActorId, Automerge, ReadDoc};
use chrono::DateTime;
use hearth_model::records::book::{self, Found, Writer};
use hearth_model::records::content::{VersionKey, open_version};
use hearth_model::records::entries::Fresh;
use hearth_model::records::heads::PartnerDoc;
use hearth_model::records::ids::{DeviceKey, PartnerCode};
use hearth_model::records::keys::Audience;
use hearth_model::records::manifest::DocId;
use hearth_model::{Body, DayBoundary, EntryId, EntryPatch, NewEntry};
use hearth_store::docset::StoreDocs;
use hearth_store::keyslot::{KEY_FILE_HEADER, SLOT_LEN, Slot, SlotKey, open_slot};
use hearth_store::{DocSet, FileKey};

fn open(data: &Path) -> DocSet {
    DocSet::open(data, FileKey::for_tests(5), SlotKey::for_tests(6))
        .unwrap()
        .0
}

fn actor(n: u8) -> ActorId {
    ActorId::from([n; 32].as_slice())
}

fn docs(set: &mut DocSet, n: u8) -> StoreDocs<'_> {
    StoreDocs {
        set,
        actor: actor(n),
        now: Instant::now(),
    }
}

fn writer() -> Writer {
    Writer {
        partner: PartnerCode([0x11; 16]),
        device: DeviceKey([1; 32]),
        now: DateTime::parse_from_rfc3339("2026-12-07T20:00:00+01:00").unwrap(),
        day_boundary: DayBoundary::default(),
    }
}

fn fresh(n: u8) -> Fresh {
    Fresh {
        version: [n; 16],
        key: VersionKey([n; 32]),
        nonce: [n; 24],
    }
}

fn id(n: u128) -> EntryId {
    EntryId::from_parts(1_796_600_000_000, n)
}

fn note(text: &str) -> NewEntry {
    NewEntry {
        body: Body::Note { text: text.into() },
        tags: Default::default(),
        starred: false,
        tender: None,
    }
}

/// Every slot of the document's key file on disk, opened.
fn slots_on_disk(data: &Path, doc: &PartnerDoc) -> Vec<Slot> {
    let path = data
        .join("keys")
        .join(format!("{}.keys", DocId::Partner(*doc).file_id()));
    let bytes = std::fs::read(path).unwrap();
    bytes[KEY_FILE_HEADER..]
        .chunks(SLOT_LEN)
        .enumerate()
        .filter_map(|(i, c)| {
            open_slot(
                &SlotKey::for_tests(6),
                &doc.to_string(),
                i as u32,
                c.try_into().ok()?,
            )
        })
        .collect()
}

/// Every sealed value `b` any change in the document's history ever put.
fn every_sealed_value(am: &Automerge) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for change in am.get_changes(&[]) {
        // The history is small: the document as of each change shows
        // every value that change put.
        let forked = am.fork_at(&[change.hash()]).unwrap();
        let Ok(Some((_, entries))) = forked.get(automerge::ROOT, "entries") else {
            continue;
        };
        for key in forked.keys(&entries) {
            let Ok(Some((_, map))) = forked.get(&entries, key.as_str()) else {
                continue;
            };
            for (v, _) in forked.get_all(&map, "b").unwrap_or_default() {
                if let Some(b) = v.as_scalar().and_then(|s| s.as_bytes()) {
                    out.push(b.to_vec());
                }
            }
        }
    }
    out.sort();
    out.dedup();
    out
}

/// Whether any key on this device's disk opens any version the history holds
/// of entry `entry`, other than `except`.
fn opens_an_old_version(
    data: &Path,
    doc: &PartnerDoc,
    am: &Automerge,
    entry: &EntryId,
    except: Option<[u8; 16]>,
) -> bool {
    let keys: Vec<[u8; 32]> = slots_on_disk(data, doc)
        .into_iter()
        .filter_map(|s| match s {
            Slot::Key {
                key,
                version,
                entry: e,
                ..
            } if e == entry.0.0 && Some(version) != except => Some(key),
            _ => None,
        })
        .collect();
    every_sealed_value(am).iter().any(|b| {
        keys.iter()
            .any(|k| open_version(&VersionKey(*k), &doc.to_string(), entry, b).is_ok())
    })
}

#[test]
fn after_an_edit_and_a_delete_reach_a_device_no_key_on_its_disk_opens_the_old_words() {
    let (laptop_dir, phone_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let w = writer();
    let mut laptop = open(laptop_dir.path());
    let mut phone = open(phone_dir.path());

    let (doc, _) = book::add_entry(
        &mut docs(&mut laptop, 1),
        &w,
        &note("FIRST-WORDS"),
        id(1),
        false,
        fresh(1),
    )
    .unwrap();
    book::add_entry(
        &mut docs(&mut laptop, 1),
        &w,
        &note("DELETED-WORDS"),
        id(2),
        false,
        fresh(2),
    )
    .unwrap();
    laptop.commit().unwrap();
    let did = DocId::Partner(doc);

    // The phone syncs the document and both keys, then goes offline.
    let sync = |from: &mut DocSet, to: &mut DocSet, to_actor: u8| {
        let mut theirs = from.doc(&did).unwrap().clone();
        let mut d = docs(to, to_actor);
        use hearth_model::records::book::Docs;
        d.partner_doc(&doc).unwrap().merge(&mut theirs).unwrap();
    };
    sync(&mut laptop, &mut phone, 2);
    for (n, v) in [(1, 1u8), (2, 2u8)] {
        let kf = phone.key_file(did).unwrap();
        kf.put((id(n).0.0, [v; 16]), Audience::Couple, [v; 32])
            .unwrap();
    }
    phone.commit().unwrap();
    assert!(matches!(
        book::find(&mut docs(&mut phone, 2), &doc, &id(1)).unwrap(),
        Some(Found::Readable(_))
    ));

    // The laptop edits entry 1 and deletes entry 2, then forgets, once durable.
    let patch = EntryPatch {
        body: Some(Body::Note {
            text: "SECOND-WORDS".into(),
        }),
        ..EntryPatch::default()
    };
    let (_, mut forget) = book::edit_entry(
        &mut docs(&mut laptop, 1),
        &w,
        &doc,
        &id(1),
        &patch,
        fresh(3),
    )
    .unwrap();
    forget.extend(book::delete_entry(&mut docs(&mut laptop, 1), &w, &doc, &id(2)).unwrap());
    laptop.commit().unwrap();
    let touched = [id(1), id(2)].into();
    assert_eq!(
        book::apply_forget_rule(&mut docs(&mut laptop, 1), &doc, &touched).unwrap(),
        2
    );
    assert_eq!(forget.len(), 2);

    // The phone comes back: the changes arrive, it commits, the rule runs.
    sync(&mut laptop, &mut phone, 2);
    phone
        .key_file(did)
        .unwrap()
        .put((id(1).0.0, [3; 16]), Audience::Couple, [3; 32])
        .unwrap();
    phone.commit().unwrap();
    assert_eq!(
        book::apply_forget_rule(&mut docs(&mut phone, 2), &doc, &touched).unwrap(),
        2
    );
    // A crash now: nothing is compacted or closed cleanly.
    drop(phone);
    drop(laptop);

    for (name, dir, n) in [("laptop", &laptop_dir, 1), ("phone", &phone_dir, 2)] {
        let mut set = open(dir.path());
        let mut d = docs(&mut set, n);
        match book::find(&mut d, &doc, &id(1)).unwrap() {
            Some(Found::Readable(e)) => assert_eq!(
                e.body,
                Body::Note {
                    text: "SECOND-WORDS".into()
                },
                "{name}"
            ),
            other => panic!("{name}: {other:?}"),
        }
        assert!(
            matches!(
                book::find(&mut d, &doc, &id(2)).unwrap(),
                Some(Found::Deleted { .. })
            ),
            "{name}"
        );
        let am = set.doc(&did).unwrap().clone();
        // The old ciphertexts are still in the history...
        assert_eq!(every_sealed_value(&am).len(), 3, "{name}");
        // ...and nothing on this disk opens them.
        assert!(
            !opens_an_old_version(dir.path(), &doc, &am, &id(1), Some([3; 16])),
            "{name}: entry 1's first version"
        );
        assert!(
            !opens_an_old_version(dir.path(), &doc, &am, &id(2), None),
            "{name}: entry 2"
        );
        let forgotten = slots_on_disk(dir.path(), &doc)
            .into_iter()
            .filter(|s| matches!(s, Slot::Forgotten { .. }))
            .count();
        assert_eq!(
            forgotten, 2,
            "{name}: the slots were overwritten as tombstones"
        );
    }
}
