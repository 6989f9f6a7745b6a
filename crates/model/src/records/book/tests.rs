use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset};

use super::*;
use crate::entry::Mood;
use crate::records::genesis::partner_genesis;

/// One device's documents and key file, in memory.
#[derive(Default, Clone)]
struct Mem {
    docs: BTreeMap<PartnerDoc, Automerge>,
    keys: BTreeMap<(PartnerDoc, VersionRef), (Audience, VersionKey)>,
    forgotten: BTreeSet<(PartnerDoc, VersionRef)>,
}

impl Docs for Mem {
    fn partner_doc(&mut self, doc: &PartnerDoc) -> Result<&mut Automerge, String> {
        Ok(self
            .docs
            .entry(*doc)
            .or_insert_with(|| partner_genesis(doc)))
    }
    fn key(
        &mut self,
        doc: &PartnerDoc,
        v: VersionRef,
    ) -> Result<Option<(Audience, VersionKey)>, String> {
        Ok(self.keys.get(&(*doc, v)).cloned())
    }
    fn put_key(
        &mut self,
        doc: &PartnerDoc,
        v: VersionRef,
        a: Audience,
        k: VersionKey,
    ) -> Result<(), String> {
        if !self.forgotten.contains(&(*doc, v)) {
            self.keys.insert((*doc, v), (a, k));
        }
        Ok(())
    }
    fn forget_key(&mut self, doc: &PartnerDoc, v: VersionRef) -> Result<(), String> {
        self.keys.remove(&(*doc, v));
        self.forgotten.insert((*doc, v));
        Ok(())
    }
    fn held_versions(&mut self, doc: &PartnerDoc) -> Result<Vec<VersionRef>, String> {
        Ok(self
            .keys
            .keys()
            .filter(|(d, _)| d == doc)
            .map(|(_, v)| *v)
            .collect())
    }
}

fn now() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-12-07T21:30:00+01:00").unwrap()
}

fn writer(partner: u8) -> Writer {
    Writer {
        partner: PartnerCode([partner; 16]),
        device: DeviceKey([partner; 32]),
        now: now(),
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
        tags: ["Plans".to_string()].into(),
        starred: true,
        tender: None,
    }
}

fn readable(found: Option<Found>) -> Entry {
    match found {
        Some(Found::Readable(e)) => *e,
        other => panic!("not readable: {other:?}"),
    }
}

#[test]
fn an_entry_goes_into_its_writers_document_of_its_year_and_reads_back_whole() {
    let mut mem = Mem::default();
    let w = writer(1);
    let (doc, written) = add_entry(
        &mut mem,
        &w,
        &note("a walk to the #coast"),
        id(1),
        false,
        fresh(1),
    )
    .unwrap();
    assert_eq!(doc.to_string(), format!("p/{}/2026", w.partner));
    let got = readable(find(&mut mem, &doc, &id(1)).unwrap());
    assert_eq!(got, written);
    assert_eq!(got.author.as_str(), w.partner.to_hex());
    assert_eq!(got.created, now());
    assert_eq!(got.tags, ["coast".to_string(), "plans".to_string()].into());
    assert!(got.starred);
    assert_eq!(mem.keys[&(doc, (id(1).0.0, [1; 16]))].0, Audience::Couple);
    // Private entries and answers keep their key to the writer's devices.
    let (pdoc, _) = add_entry(&mut mem, &w, &note("mine"), id(2), true, fresh(2)).unwrap();
    assert_eq!(pdoc.kind, DocKind::Private);
    assert_eq!(mem.keys[&(pdoc, (id(2).0.0, [2; 16]))].0, Audience::Mine);
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p-1".into(),
            text: "sealed".into(),
        },
        ..note("x")
    };
    add_entry(&mut mem, &w, &answer, id(3), false, fresh(3)).unwrap();
    assert_eq!(mem.keys[&(doc, (id(3).0.0, [3; 16]))].0, Audience::Mine);
    // The same id twice is refused.
    assert!(add_entry(&mut mem, &w, &note("again"), id(1), false, fresh(4)).is_err());
}

#[test]
fn a_note_after_midnight_belongs_to_the_day_and_year_before() {
    let mut mem = Mem::default();
    let mut w = writer(1);
    w.now = DateTime::parse_from_rfc3339("2027-01-01T02:30:00+00:00").unwrap();
    w.day_boundary = DayBoundary { hour: 4 };
    let (doc, e) = add_entry(&mut mem, &w, &note("new year"), id(1), false, fresh(1)).unwrap();
    assert_eq!(doc.year, 2026);
    assert_eq!(e.day.to_string(), "2026-12-31");
}

#[test]
fn an_edit_makes_a_new_version_and_names_the_old_one_to_forget() {
    let mut mem = Mem::default();
    let w = writer(1);
    let (doc, _) = add_entry(&mut mem, &w, &note("first"), id(1), false, fresh(1)).unwrap();
    let patch = EntryPatch {
        body: Some(Body::Note {
            text: "second".into(),
        }),
        ..EntryPatch::default()
    };
    let (e, forget) = edit_entry(&mut mem, &w, &doc, &id(1), &patch, fresh(2)).unwrap();
    assert_eq!(
        e.body,
        Body::Note {
            text: "second".into()
        }
    );
    assert_eq!(e.edited, Some(now()));
    assert_eq!(forget, [(id(1).0.0, [1; 16])]);
    // Until forgotten, the old key is still held; the rule forgets it.
    assert_eq!(
        apply_forget_rule(&mut mem, &doc, &[id(1)].into()).unwrap(),
        1
    );
    assert!(!mem.keys.contains_key(&(doc, (id(1).0.0, [1; 16]))));
    let read = readable(find(&mut mem, &doc, &id(1)).unwrap());
    assert_eq!(
        read.body,
        Body::Note {
            text: "second".into()
        }
    );
    // A checkin's mood can be changed; its kind cannot.
    let checkin = NewEntry {
        body: Body::Checkin {
            mood: Mood::new(2).unwrap(),
            energy: None,
            need: None,
            note: String::new(),
        },
        tags: Default::default(),
        starred: false,
        tender: None,
    };
    add_entry(&mut mem, &w, &checkin, id(2), false, fresh(3)).unwrap();
    let to_note = EntryPatch {
        body: Some(Body::Note { text: "x".into() }),
        ..EntryPatch::default()
    };
    assert!(edit_entry(&mut mem, &w, &doc, &id(2), &to_note, fresh(4)).is_err());
}

#[test]
fn only_the_writer_edits_or_deletes_and_a_delete_forgets_on_every_device() {
    let mut laptop = Mem::default();
    let w = writer(1);
    let (doc, _) = add_entry(&mut laptop, &w, &note("to go"), id(1), false, fresh(1)).unwrap();
    let mut partner = laptop.clone();
    let them = writer(2);
    assert!(matches!(
        delete_entry(&mut partner, &them, &doc, &id(1)),
        Err(BookError::Model(ModelError::NotYourEntry(_)))
    ));
    let forget = delete_entry(&mut laptop, &w, &doc, &id(1)).unwrap();
    assert_eq!(forget.len(), 1);
    assert_eq!(
        find(&mut laptop, &doc, &id(1)).unwrap(),
        Some(Found::Deleted {
            day: now().date_naive()
        })
    );
    // The partner's device receives the delete and applies the rule.
    let mut deleted = laptop.docs[&doc].clone();
    partner
        .docs
        .get_mut(&doc)
        .unwrap()
        .merge(&mut deleted)
        .unwrap();
    assert_eq!(
        apply_forget_rule(&mut partner, &doc, &[id(1)].into()).unwrap(),
        1
    );
    assert!(partner.keys.is_empty());
    assert!(matches!(
        find(&mut partner, &doc, &id(1)).unwrap(),
        Some(Found::Deleted { .. })
    ));
    // A key for it arriving later is refused.
    partner
        .put_key(&doc, forget[0], Audience::Couple, VersionKey([1; 32]))
        .unwrap();
    assert!(partner.keys.is_empty());
    assert!(matches!(
        delete_entry(&mut laptop, &w, &doc, &id(1)),
        Err(BookError::Model(ModelError::Deleted(_)))
    ));
}

#[test]
fn without_its_key_an_entry_reads_as_sealed() {
    let mut mem = Mem::default();
    let (doc, _) = add_entry(&mut mem, &writer(1), &note("words"), id(1), false, fresh(1)).unwrap();
    mem.keys.clear();
    assert_eq!(
        find(&mut mem, &doc, &id(1)).unwrap(),
        Some(Found::Sealed {
            day: now().date_naive()
        })
    );
    assert_eq!(find(&mut mem, &doc, &id(9)).unwrap(), None);
}

fn answer(prompt: &str, text: &str) -> NewEntry {
    NewEntry {
        body: Body::Answer {
            prompt: prompt.into(),
            text: text.into(),
        },
        tags: Default::default(),
        starred: false,
        tender: None,
    }
}

#[test]
fn a_sealed_answer_is_released_once_the_partner_has_answered_the_same_prompt() {
    let mut ana = Mem::default();
    let (wa, wb) = (writer(1), writer(2));
    let (mine, _) = add_entry(
        &mut ana,
        &wa,
        &answer("p-7", "my answer"),
        id(1),
        false,
        fresh(1),
    )
    .unwrap();
    add_entry(
        &mut ana,
        &wa,
        &answer("p-8", "another"),
        id(2),
        false,
        fresh(2),
    )
    .unwrap();
    let theirs = doc_for(wb.partner, now().date_naive(), false);
    assert_eq!(release_answers(&mut ana, &[mine], &[theirs]).unwrap(), []);

    // Ben's device answers p-7; his document reaches Ana's device.
    let mut ben = Mem::default();
    add_entry(
        &mut ben,
        &wb,
        &answer("p-7", "his answer"),
        id(3),
        false,
        fresh(3),
    )
    .unwrap();
    ana.docs.insert(theirs, ben.docs[&theirs].clone());
    let released = release_answers(&mut ana, &[mine], &[theirs]).unwrap();
    assert_eq!(released, [(id(1).0.0, [1; 16])], "p-7 only");
    assert_eq!(ana.keys[&(mine, (id(1).0.0, [1; 16]))].0, Audience::Couple);
    assert_eq!(ana.keys[&(mine, (id(2).0.0, [2; 16]))].0, Audience::Mine);
    assert_eq!(
        release_answers(&mut ana, &[mine], &[theirs]).unwrap(),
        [],
        "once"
    );

    // A deleted answer of Ben's commits to nothing.
    let mut ana2 = Mem::default();
    add_entry(
        &mut ana2,
        &wa,
        &answer("p-9", "mine"),
        id(4),
        false,
        fresh(4),
    )
    .unwrap();
    add_entry(
        &mut ben,
        &wb,
        &answer("p-9", "deleted one"),
        id(5),
        false,
        fresh(5),
    )
    .unwrap();
    delete_entry(&mut ben, &wb, &theirs, &id(5)).unwrap();
    ana2.docs.insert(theirs, ben.docs[&theirs].clone());
    let mine2 = doc_for(wa.partner, now().date_naive(), false);
    assert_eq!(release_answers(&mut ana2, &[mine2], &[theirs]).unwrap(), []);
}

#[test]
fn a_move_to_private_and_back_leaves_tombstones_and_keys_only_where_it_lives() {
    let mut mem = Mem::default();
    let w = writer(1);
    let (shared, _) = add_entry(&mut mem, &w, &note("words"), id(1), false, fresh(1)).unwrap();
    let (private, moved, forget) =
        move_entry(&mut mem, &w, &shared, &id(1), id(2), true, fresh(2)).unwrap();
    assert_eq!(private.kind, DocKind::Private);
    assert_eq!(
        (private.partner, private.year),
        (shared.partner, shared.year)
    );
    assert_eq!((moved.id, moved.private), (id(2), true));
    assert_eq!(
        moved.body,
        Body::Note {
            text: "words".into()
        }
    );
    // The shared document keeps a tombstone of the old id; its key goes.
    assert!(matches!(
        find(&mut mem, &shared, &id(1)).unwrap(),
        Some(Found::Deleted { .. })
    ));
    assert_eq!(forget, [(id(1).0.0, [1; 16])]);
    assert_eq!(mem.keys[&(private, (id(2).0.0, [2; 16]))].0, Audience::Mine);
    let read = readable(find(&mut mem, &private, &id(2)).unwrap());
    assert!(read.private);
    // Back to shared, under a third id: the second one is a tombstone now.
    let (back, again, _) =
        move_entry(&mut mem, &w, &private, &id(2), id(3), false, fresh(3)).unwrap();
    assert_eq!(back, shared);
    assert!(!again.private);
    assert_eq!(
        mem.keys[&(shared, (id(3).0.0, [3; 16]))].0,
        Audience::Couple
    );
    assert!(matches!(
        find(&mut mem, &private, &id(2)).unwrap(),
        Some(Found::Deleted { .. })
    ));
    // Nobody moves the other partner's words, and an answer stays shared.
    assert!(move_entry(&mut mem, &writer(2), &shared, &id(3), id(4), true, fresh(4)).is_err());
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p1".into(),
            text: "mine".into(),
        },
        tags: Default::default(),
        starred: false,
        tender: None,
    };
    add_entry(&mut mem, &w, &answer, id(5), false, fresh(5)).unwrap();
    let err = move_entry(&mut mem, &w, &shared, &id(5), id(6), true, fresh(6)).unwrap_err();
    assert!(err.to_string().contains("cannot be private"), "{err}");
}
