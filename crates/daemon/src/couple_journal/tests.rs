//! The schema 2 journal on a real store in a temp dir.

use std::path::Path;

use hearth_model::records::book::Found;
use hearth_model::records::exchange::Refused;
use hearth_model::records::heads::DocKind;
use hearth_model::records::heads::{HeadsRecord, PartnerDoc, SignedHeads};
use hearth_model::records::keys::{Audience, KeyGift};
use hearth_model::records::manifest::DocId;
use hearth_model::records::session_frame::SessionFrame;
use hearth_model::records::trust::DeviceStatus;
use hearth_model::ritual::{Cadence, Owner, Ritual, RitualChange};
use hearth_model::{Body, EntryId, EntryPatch, NewEntry};
use hearth_store::keyslot::SlotKey;
use hearth_store::{DocSet, FileKey};

use super::sessions::SessionError;
use super::*;

const SECRET: [u8; 32] = [7; 32];

fn at(s: &str) -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339(s).unwrap()
}

pub(super) fn now() -> DateTime<FixedOffset> {
    at("2026-12-07T21:00:00+01:00")
}

fn open(dir: &Path, partner: Option<PartnerCode>) -> CoupleJournal {
    let (set, _) = DocSet::open(dir, FileKey::for_tests(1), SlotKey::for_tests(2)).unwrap();
    CoupleJournal::open(set, &SECRET, partner).unwrap()
}

/// A counter standing in for the random number generator.
pub(super) fn counter() -> impl FnMut() -> u128 {
    let mut n = 0u128;
    move || {
        n += 1;
        n * 0x9e37_79b9_7f4a_7c15
    }
}

pub(super) fn note(text: &str) -> NewEntry {
    NewEntry {
        body: Body::Note { text: text.into() },
        tags: Default::default(),
        starred: false,
        tender: None,
    }
}

fn id(n: u128) -> EntryId {
    EntryId::from_parts(1_796_600_000_000, n)
}

/// A weekly ritual of `me`'s, as the ritual tests write it.
fn sunday_walk(me: PartnerCode) -> Ritual {
    Ritual {
        id: String::new(),
        name: "Sunday walk".into(),
        kind: "custom".into(),
        cadence: "weekly:sun".parse::<Cadence>().unwrap(),
        owner: Owner::Partner(PartnerId(me.to_hex().into())),
        fulfilled_by: None,
        created: now(),
        archived: None,
    }
}

fn readable(found: Option<Found>) -> hearth_model::Entry {
    match found {
        Some(Found::Readable(e)) => *e,
        other => panic!("not readable: {other:?}"),
    }
}

#[test]
fn a_founded_journal_keeps_its_entries_names_and_signed_heads_across_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    let me = j.found("laptop", "Ana", now()).unwrap();
    j.set_couple_id_if_missing(&"ab".repeat(16)).unwrap();
    let mut rng = counter();
    let e = j
        .add_entry(now(), &note("our first evening"), id(1), false, &mut rng)
        .unwrap();
    assert_eq!(e.author.as_str(), me.to_hex());
    let written = j.commit().unwrap();
    assert_eq!(written.docs.len(), 2, "the couple document and this year's");
    drop(j);

    let mut j = open(tmp.path(), Some(me));
    assert_eq!(j.partners().values().collect::<Vec<_>>(), ["Ana"]);
    assert_eq!(
        readable(j.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "our first evening".into()
        }
    );
    assert_eq!(j.couple_id(), Some("ab".repeat(16)));
    let doc = DocId::Partner(j.home_of(&id(1)).unwrap());
    let signed = j.signed_heads(&doc);
    assert_eq!(signed.len(), 1);
    let mut heads = j.document(&doc).unwrap().get_heads();
    heads.sort();
    assert_eq!(
        signed[0].record.heads.iter().copied().collect::<Vec<_>>(),
        heads
    );
    assert_eq!(
        j.devices()[&DeviceId(j.device().to_hex().into())].status,
        DeviceStatus::Mine
    );
}

#[test]
fn an_edit_and_a_delete_forget_their_old_keys_once_committed_and_a_rollback_undoes_a_write() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    j.found("laptop", "Ana", now()).unwrap();
    let mut rng = counter();
    j.add_entry(now(), &note("first"), id(1), false, &mut rng)
        .unwrap();
    j.add_entry(now(), &note("to go"), id(2), false, &mut rng)
        .unwrap();
    j.commit().unwrap();
    let home = j.home_of(&id(1)).unwrap();
    let live = |j: &mut CoupleJournal| j.docs().held_versions(&home).unwrap().len();
    assert_eq!(live(&mut j), 2);

    let patch = EntryPatch {
        body: Some(Body::Note {
            text: "second".into(),
        }),
        ..EntryPatch::default()
    };
    j.edit_entry(now(), &id(1), &patch, &mut rng).unwrap();
    let gone = j.delete_entry(now(), &id(2)).unwrap();
    assert_eq!(gone.deleted, Some(now()));
    assert_eq!(live(&mut j), 3, "nothing forgotten before the commit");
    j.commit().unwrap();
    assert_eq!(live(&mut j), 1, "the edit's new key only");
    assert_eq!(
        readable(j.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "second".into()
        }
    );
    assert!(matches!(
        j.entry(&id(2)).unwrap(),
        Some(Found::Deleted { .. })
    ));
    assert_eq!(
        j.all_entries(),
        (vec![readable(j.entry(&id(1)).unwrap())], 0)
    );

    // A write that is refused later in its request is undone.
    let before = j.checkpoint();
    j.add_entry(now(), &note("half a request"), id(3), false, &mut rng)
        .unwrap();
    j.rollback_to(&before);
    assert!(j.entry(&id(3)).unwrap().is_none());
    assert_eq!(j.checkpoint(), before);
}

#[test]
fn private_entries_and_answers_keep_their_keys_to_my_devices() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    j.found("laptop", "Ana", now()).unwrap();
    let mut rng = counter();
    j.add_entry(now(), &note("mine alone"), id(1), true, &mut rng)
        .unwrap();
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p-1".into(),
            text: "sealed".into(),
        },
        ..note("")
    };
    j.add_entry(now(), &answer, id(2), false, &mut rng).unwrap();
    j.commit().unwrap();
    let private = j.home_of(&id(1)).unwrap();
    assert_eq!(private.kind, DocKind::Private);
    let shared = j.home_of(&id(2)).unwrap();
    for (doc, entry) in [(private, 1), (shared, 2)] {
        let versions = j.docs().held_versions(&doc).unwrap();
        let v = versions
            .iter()
            .find(|(e, _)| *e == id(entry).0.0)
            .copied()
            .unwrap();
        assert_eq!(j.docs().key(&doc, v).unwrap().unwrap().0, Audience::Mine);
    }
    // No partner has answered: nothing is released.
    assert_eq!(j.release_answers().unwrap(), 0);
}

#[test]
fn rituals_prompts_and_skips_read_back_in_schema_1_shapes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    let me = j.found("laptop", "Ana", now()).unwrap();
    let ritual = sunday_walk(me);
    let made = j.add_ritual(now(), &ritual).unwrap();
    assert_eq!(made.name, "Sunday walk");
    assert_eq!(made.id.len(), 32, "the record's key");
    let change = RitualChange {
        name: Some("Sunday stroll".into()),
        ..RitualChange::default()
    };
    j.update_ritual(at("2026-12-07T21:05:00+01:00"), &made.id, &change)
        .unwrap();
    let occ = "2026-12-06".parse().unwrap();
    let done = j.mark_done(now(), &made, occ, None).unwrap();
    assert_eq!(done.partner.as_str(), me.to_hex());
    assert!(j.logged(&made.id, occ, None));
    assert!(j.logged(&made.id, occ, Some(&PartnerId(me.to_hex().into()))));
    assert!(!j.logged(&made.id, "2026-11-29".parse().unwrap(), None));
    assert_eq!(j.ritual_log().len(), 1);
    j.archive_ritual(at("2026-12-07T21:10:00+01:00"), &made.id)
        .unwrap();
    let read = &j.rituals()[0];
    assert_eq!(read.name, "Sunday stroll");
    assert!(read.archived.is_some());

    let pid = j
        .add_prompt(
            now(),
            "What made you laugh this week?",
            hearth_model::deck::Theme::Dreams,
        )
        .unwrap();
    assert!(j.has_prompt(&pid));
    assert!(!j.has_prompt("c-00"));
    let day = "2026-12-07".parse().unwrap();
    j.skip_prompt(now(), day, &pid).unwrap();
    assert_eq!(j.prompt_skips(day), [pid.clone()].into());
    j.commit().unwrap();
    drop(j);
    let j = open(tmp.path(), Some(me));
    assert_eq!(j.prompt_skips(day), [pid].into());
    assert_eq!(j.rituals().len(), 1);
}

/// Two devices' journals and the frames between them, moved by hand.
struct Pair {
    a: CoupleJournal,
    b: CoupleJournal,
}

impl Pair {
    /// Runs one session both ways until neither has anything to say, then
    /// commits both. Returns the first refusal, from either side.
    fn sync(&mut self, session: u64, paired: bool) -> Result<(), SessionError> {
        let (ka, kb) = (self.a.device(), self.b.device());
        self.a.session_start(session, kb, paired, usize::MAX);
        self.b.session_start(session, ka, paired, usize::MAX);
        let mut quiet = 0;
        for _ in 0..60 {
            let to_b = self.a.session_generate(session)?;
            for f in &to_b {
                self.b.session_receive(session, f)?;
            }
            let to_a = self.b.session_generate(session)?;
            for f in &to_a {
                self.a.session_receive(session, f)?;
            }
            if paired {
                self.a.settle_paired(session)?;
                self.b.settle_paired(session)?;
            }
            self.a.commit().unwrap();
            self.b.commit().unwrap();
            quiet = if to_a.is_empty() && to_b.is_empty() {
                quiet + 1
            } else {
                0
            };
            if quiet == 2 {
                self.a.session_end(session);
                self.b.session_end(session);
                return Ok(());
            }
        }
        panic!("the session did not settle");
    }
}

impl Pair {
    /// Opens session 2 on both devices (after a first sync has paired
    /// them) and lets it settle, so a test starts from two quiet devices
    /// with a session open.
    fn open_second_session(&mut self) {
        let (ka, kb) = (self.a.device(), self.b.device());
        self.a.session_start(2, kb, false, usize::MAX);
        self.b.session_start(2, ka, false, usize::MAX);
        self.settle(2);
    }

    /// Moves frames both ways in an open session until both are quiet;
    /// returns the bytes that went, both ways.
    fn settle(&mut self, session: u64) -> usize {
        let (mut bytes, mut quiet) = (0, 0);
        for _ in 0..60 {
            let to_b = self.a.session_generate(session).unwrap();
            for f in &to_b {
                self.b.session_receive(session, f).unwrap();
            }
            let to_a = self.b.session_generate(session).unwrap();
            for f in &to_a {
                self.a.session_receive(session, f).unwrap();
            }
            self.a.commit().unwrap();
            self.b.commit().unwrap();
            bytes += to_a.iter().chain(&to_b).map(Vec::len).sum::<usize>();
            quiet = if to_a.is_empty() && to_b.is_empty() {
                quiet + 1
            } else {
                0
            };
            if quiet == 2 {
                return bytes;
            }
        }
        panic!("the session did not settle");
    }
}

#[test]
fn a_new_entry_re_offers_one_window_of_keys_not_the_whole_list() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    // Ids an hour apart, as a journal written over three months has them.
    let hourly = |n: u64| EntryId::from_parts(1_790_000_000_000 + n * 3_600_000, u128::from(n));
    for n in 0..2_000u64 {
        p.a.add_entry(
            now(),
            &note(&format!("entry {n}")),
            hourly(n),
            false,
            &mut rng,
        )
        .unwrap();
    }
    p.a.commit().unwrap();
    let (ka, kb) = (p.a.device(), p.b.device());
    p.a.session_start(2, kb, false, usize::MAX);
    p.b.session_start(2, ka, false, usize::MAX);
    let first = p.settle(2);
    assert!(matches!(
        p.b.entry(&hourly(1_999)).unwrap(),
        Some(Found::Readable(_))
    ));
    p.a.add_entry(now(), &note("one more"), hourly(2_000), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    let one = p.settle(2);
    assert!(matches!(
        p.b.entry(&hourly(2_000)).unwrap(),
        Some(Found::Readable(_))
    ));
    // 2,000 keys offered whole are 80 KB each way; one window is a week's.
    assert!(
        one < 40_000,
        "one entry cost {one} bytes (the first sync {first})"
    );
}

fn two_partners(dir: &Path) -> Pair {
    let (sa, _) = DocSet::open(
        &dir.join("ana"),
        FileKey::for_tests(1),
        SlotKey::for_tests(2),
    )
    .unwrap();
    let (sb, _) = DocSet::open(
        &dir.join("ben"),
        FileKey::for_tests(1),
        SlotKey::for_tests(2),
    )
    .unwrap();
    let mut a = CoupleJournal::open(sa, &[1; 32], None).unwrap();
    let mut b = CoupleJournal::open(sb, &[11; 32], None).unwrap();
    a.found("laptop", "Ana", now()).unwrap();
    b.found("desk", "Ben", now()).unwrap();
    a.commit().unwrap();
    b.commit().unwrap();
    Pair { a, b }
}

#[test]
fn two_set_up_devices_pair_approve_each_other_and_then_read_each_others_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let (ka, kb) = (p.a.device(), p.b.device());
    assert_eq!(
        p.a.devices()[&DeviceId(kb.to_hex().into())].status,
        DeviceStatus::Partners
    );
    assert_eq!(
        p.b.devices()[&DeviceId(ka.to_hex().into())].status,
        DeviceStatus::Partners
    );
    assert_eq!(p.a.partners().len(), 2);

    let mut rng = counter();
    p.a.add_entry(now(), &note("from Ana's laptop"), id(1), false, &mut rng)
        .unwrap();
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p-3".into(),
            text: "sealed for now".into(),
        },
        ..note("")
    };
    p.a.add_entry(now(), &answer, id(2), false, &mut rng)
        .unwrap();
    p.a.add_entry(now(), &note("Ana's alone"), id(3), true, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(2, false).unwrap();
    assert_eq!(
        readable(p.b.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "from Ana's laptop".into()
        }
    );
    assert!(
        matches!(p.b.entry(&id(2)).unwrap(), Some(Found::Sealed { .. })),
        "sealed until Ben answers"
    );
    assert!(
        p.b.entry(&id(3)).unwrap().is_none(),
        "no trace of a private entry"
    );

    // Ben answers the same prompt: Ana's answer opens on his side.
    let his = NewEntry {
        body: Body::Answer {
            prompt: "p-3".into(),
            text: "mine too".into(),
        },
        ..note("")
    };
    let mut rng_b = counter();
    p.b.add_entry(now(), &his, id(10), false, &mut rng_b)
        .unwrap();
    p.b.commit().unwrap();
    p.sync(3, false).unwrap();
    p.sync(4, false).unwrap();
    assert_eq!(
        readable(p.b.entry(&id(2)).unwrap()).body,
        Body::Answer {
            prompt: "p-3".into(),
            text: "sealed for now".into()
        }
    );
    assert_eq!(
        readable(p.a.entry(&id(10)).unwrap()).body,
        Body::Answer {
            prompt: "p-3".into(),
            text: "mine too".into()
        }
    );

    // Ana deletes her note: once synced, Ben holds no key for it.
    p.a.delete_entry(now(), &id(1)).unwrap();
    p.a.commit().unwrap();
    p.sync(5, false).unwrap();
    assert!(matches!(
        p.b.entry(&id(1)).unwrap(),
        Some(Found::Deleted { .. })
    ));
    let home = p.b.home_of(&id(1)).unwrap();
    let held = p.b.docs().held_versions(&home).unwrap();
    assert!(
        held.iter().all(|(e, _)| *e != id(1).0.0),
        "Ben's key for the note is forgotten"
    );
}

#[test]
fn forged_words_from_a_trusted_partner_device_end_its_session_and_change_nothing() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    p.a.add_entry(now(), &note("Ana's words"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(2, false).unwrap();
    // Ben's device, hostile, edits Ana's entry in its own copy of her document.
    let home = DocId::Partner(p.b.home_of(&id(1)).unwrap());
    {
        use hearth_model::records::entries::{self, Content, Fresh};
        let doc = p.b.home_of(&id(1)).unwrap();
        let device = p.b.device().to_hex();
        let am = p.b.set.doc_mut(&home, std::time::Instant::now()).unwrap();
        let content = Content {
            created: 0,
            offset: 0,
            device,
            edited: None,
            tags: vec![],
            starred: false,
            tender: false,
            body: Body::Note {
                text: "words Ana never wrote".into(),
            },
        };
        let fresh = Fresh {
            version: [9; 16],
            key: hearth_model::records::content::VersionKey([9; 32]),
            nonce: [9; 24],
        };
        entries::write_version(
            am,
            &doc,
            &id(1),
            "2026-12-07".parse().unwrap(),
            &content,
            &fresh,
        )
        .unwrap();
    }
    p.b.commit().unwrap();
    let before = p.a.document(&home).unwrap().get_heads();
    let err = p.sync(3, false).unwrap_err();
    assert!(matches!(err, SessionError::Refused(_)), "{err}");
    assert_eq!(p.a.document(&home).unwrap().get_heads(), before);
    assert_eq!(
        readable(p.a.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "Ana's words".into()
        }
    );
}

#[test]
fn a_fresh_device_paired_with_mine_becomes_mine_and_reads_my_entries() {
    let tmp = tempfile::tempdir().unwrap();
    let (sa, _) = DocSet::open(
        &tmp.path().join("ana"),
        FileKey::for_tests(1),
        SlotKey::for_tests(2),
    )
    .unwrap();
    let (st, _) = DocSet::open(
        &tmp.path().join("tablet"),
        FileKey::for_tests(1),
        SlotKey::for_tests(2),
    )
    .unwrap();
    let mut a = CoupleJournal::open(sa, &[1; 32], None).unwrap();
    let me = a.found("laptop", "Ana", now()).unwrap();
    let mut rng = counter();
    a.add_entry(now(), &note("before the tablet"), id(1), true, &mut rng)
        .unwrap();
    a.commit().unwrap();
    let t = CoupleJournal::open(st, &[5; 32], None).unwrap();
    let mut p = Pair { a, b: t };
    p.sync(1, true).unwrap();
    assert_eq!(p.b.partner(), Some(me), "the tablet learned whose it is");
    p.sync(2, false).unwrap();
    assert_eq!(
        readable(p.b.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "before the tablet".into()
        },
        "private entries too"
    );
}

#[test]
fn a_new_entry_is_readable_on_the_peer_from_the_message_that_carries_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    p.open_second_session();
    let mut rng = counter();
    p.a.add_entry(now(), &note("arrives readable"), id(1), false, &mut rng)
        .unwrap();
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p-3".into(),
            text: "sealed for now".into(),
        },
        ..note("")
    };
    p.a.add_entry(now(), &answer, id(2), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    // Automerge's sync says the new heads first and sends the changes once
    // the peer has said what it has. From the message that brings them,
    // the entry reads on Ben's device: no key offer went before it.
    let mut offers_to_b = 0;
    for _ in 0..4 {
        for frame in p.a.session_generate(2).unwrap() {
            offers_to_b += usize::from(matches!(
                SessionFrame::decode(&frame),
                Ok(SessionFrame::Offer(_))
            ));
            p.b.session_receive(2, &frame).unwrap();
        }
        p.b.commit().unwrap();
        if p.b.entry(&id(1)).unwrap().is_some() {
            break;
        }
        for frame in p.b.session_generate(2).unwrap() {
            p.a.session_receive(2, &frame).unwrap();
        }
        p.a.commit().unwrap();
    }
    assert_eq!(offers_to_b, 0);
    assert_eq!(
        readable(p.b.entry(&id(1)).unwrap()).body,
        Body::Note {
            text: "arrives readable".into()
        }
    );
    // A key only Ana's devices may hold goes with nothing.
    assert!(
        matches!(p.b.entry(&id(2)).unwrap(), Some(Found::Sealed { .. })),
        "the answer stays sealed"
    );
    // Nothing more to push until another key is stored.
    let again = p.a.session_generate(2).unwrap();
    assert!(
        again
            .iter()
            .all(|f| !matches!(SessionFrame::decode(f), Ok(SessionFrame::Gift(_)))),
        "a key goes once"
    );
}

#[test]
fn a_key_the_peer_pushed_is_neither_pushed_back_nor_offered_to_it() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    // Ana's document exists on both devices before the session, so the
    // session's first offers of it go before the new key exists.
    let mut rng = counter();
    p.a.add_entry(now(), &note("older"), id(9), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(1, true).unwrap();
    p.open_second_session();
    p.a.add_entry(now(), &note("pushed once"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    let of_it = |v: &hearth_model::records::keys::VersionRef| v.0 == id(1).0.0;
    // Ben's device answers every round; none of its frames hands the key
    // back or offers it to Ana's device, which made it.
    let mut echoed = 0;
    for _ in 0..6 {
        for frame in p.a.session_generate(2).unwrap() {
            p.b.session_receive(2, &frame).unwrap();
        }
        p.b.commit().unwrap();
        for frame in p.b.session_generate(2).unwrap() {
            echoed += match SessionFrame::decode(&frame) {
                Ok(SessionFrame::Gift(g)) => g.keys.iter().filter(|(v, _, _)| of_it(v)).count(),
                Ok(SessionFrame::Offer(o)) => o.have.iter().filter(|(v, _)| of_it(v)).count(),
                _ => 0,
            };
            p.a.session_receive(2, &frame).unwrap();
        }
        p.a.commit().unwrap();
    }
    assert!(
        matches!(p.b.entry(&id(1)).unwrap(), Some(Found::Readable(_))),
        "the entry reached Ben's device"
    );
    assert_eq!(echoed, 0, "the key went back to the device that made it");
}

#[test]
fn an_empty_gift_makes_no_key_file_and_a_gift_of_a_document_the_peer_may_not_hold_is_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    p.open_second_session();
    fn files(dir: &Path) -> usize {
        std::fs::read_dir(dir)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                if e.file_type().unwrap().is_dir() {
                    files(&e.path())
                } else {
                    1
                }
            })
            .sum()
    }
    let before = files(&tmp.path().join("ana"));
    let (ana, ben) = (p.a.partner().unwrap(), p.b.partner().unwrap());
    // Ben's device names document after document of Ben's, with no key in
    // any: Ana's device stores nothing, so makes no file for them.
    for year in 1990..2030 {
        let gift = SessionFrame::Gift(KeyGift {
            doc: PartnerDoc {
                kind: DocKind::Partner,
                partner: ben,
                year,
            },
            keys: Vec::new(),
        })
        .encode()
        .unwrap();
        p.a.session_receive(2, &gift).unwrap();
    }
    p.a.commit().unwrap();
    assert_eq!(
        files(&tmp.path().join("ana")),
        before,
        "empty gifts made files"
    );
    // Ana's private documents are hers alone: even an empty gift of one
    // from Ben's device ends the session.
    let gift = SessionFrame::Gift(KeyGift {
        doc: PartnerDoc {
            kind: DocKind::Private,
            partner: ana,
            year: 2026,
        },
        keys: Vec::new(),
    })
    .encode()
    .unwrap();
    assert!(matches!(
        p.a.session_receive(2, &gift),
        Err(SessionError::Refused(Refused::NotAllowed { .. }))
    ));
}

#[test]
fn a_commit_that_stored_only_keys_says_so_so_other_sessions_wake() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    p.open_second_session();
    let mut rng = counter();
    p.a.add_entry(now(), &note("its key comes alone"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    // Ben's device commits after every frame, so the gift that follows the
    // changes is committed on its own.
    let mut after_gift = None;
    for _ in 0..4 {
        for frame in p.a.session_generate(2).unwrap() {
            let gift = matches!(SessionFrame::decode(&frame), Ok(SessionFrame::Gift(_)));
            p.b.session_receive(2, &frame).unwrap();
            let committed = p.b.commit().unwrap();
            if gift {
                after_gift = Some(committed);
            }
        }
        if after_gift.is_some() {
            break;
        }
        for frame in p.b.session_generate(2).unwrap() {
            p.a.session_receive(2, &frame).unwrap();
        }
        p.a.commit().unwrap();
    }
    let committed = after_gift.expect("Ana's device pushed the key");
    assert!(committed.docs.is_empty() && committed.keys, "{committed:?}");
    assert!(!p.b.commit().unwrap().keys, "nothing more was stored");
}

#[test]
fn devices_that_agree_exchange_their_manifests_and_nothing_more() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    for n in 1..=3 {
        p.a.add_entry(now(), &note("held by both"), id(n), false, &mut rng)
            .unwrap();
    }
    p.a.add_entry(now(), &note("mine alone"), id(5), true, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(2, false).unwrap();
    assert!(p.b.entry(&id(3)).unwrap().is_some());

    // A new session between the two: each side's manifest says it holds
    // what the other holds, so no document is synced and no key offered.
    let (ka, kb) = (p.a.device(), p.b.device());
    p.a.session_start(3, kb, false, usize::MAX);
    p.b.session_start(3, ka, false, usize::MAX);
    let mut kinds = Vec::new();
    for _ in 0..4 {
        for f in p.a.session_generate(3).unwrap() {
            kinds.push(SessionFrame::decode(&f).unwrap());
            p.b.session_receive(3, &f).unwrap();
        }
        for f in p.b.session_generate(3).unwrap() {
            kinds.push(SessionFrame::decode(&f).unwrap());
            p.a.session_receive(3, &f).unwrap();
        }
    }
    assert!(!kinds.is_empty());
    assert!(
        kinds
            .iter()
            .all(|f| matches!(f, SessionFrame::Manifest { .. })),
        "only manifest rows went: {kinds:?}"
    );
    // Ana's private document is not even named to Ben's device.
    assert!(
        !kinds.iter().any(|f| matches!(
            f,
            SessionFrame::Manifest {
                doc: DocId::Partner(PartnerDoc {
                    kind: DocKind::Private,
                    ..
                }),
                ..
            }
        )),
        "a private document's row went to the other partner"
    );
    assert_eq!((p.a.sync_states(3), p.b.sync_states(3)), (0, 0));
    assert!(p.a.session_in_sync(3) && p.b.session_in_sync(3));

    // A write moves one document, which alone is synced, and arrives.
    p.a.add_entry(now(), &note("after the manifests"), id(4), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.settle(3);
    assert_eq!(
        readable(p.b.entry(&id(4)).unwrap()).body,
        Body::Note {
            text: "after the manifests".into()
        }
    );
    assert_eq!(p.a.sync_states(3), 1, "this year's document only");
}

#[test]
fn a_past_years_sync_state_is_let_go_once_it_settles_and_comes_back_when_it_moves() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    let last_year = at("2025-05-01T20:00:00+01:00");
    let old = EntryId::from_parts(1_746_100_000_000, 1);
    p.a.add_entry(last_year, &note("a year ago"), old, false, &mut rng)
        .unwrap();
    p.a.add_entry(now(), &note("this year"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    let (ka, kb) = (p.a.device(), p.b.device());
    p.a.session_start(2, kb, false, usize::MAX);
    p.b.session_start(2, ka, false, usize::MAX);
    p.settle(2);
    assert!(matches!(p.b.entry(&old).unwrap(), Some(Found::Readable(_))));
    // Both documents went, but only this year's keeps a sync state; last
    // year's, a whole second copy of the document, is let go. (The couple
    // document was the same on both, by the manifests.)
    assert_eq!(p.a.sync_states(2), 1);
    assert!(p.a.session_in_sync(2));

    // An edit of last year's entry starts a sync state for it again.
    let patch = EntryPatch {
        body: Some(Body::Note {
            text: "a year ago, edited".into(),
        }),
        ..EntryPatch::default()
    };
    p.a.edit_entry(now(), &old, &patch, &mut rng).unwrap();
    p.a.commit().unwrap();
    p.settle(2);
    assert_eq!(
        readable(p.b.entry(&old).unwrap()).body,
        Body::Note {
            text: "a year ago, edited".into()
        }
    );
    assert_eq!(p.a.sync_states(2), 1, "let go again once settled");
}

#[test]
fn only_the_newest_year_stays_in_memory_and_past_years_answer_from_what_is_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    let me = j.found("laptop", "Ana", now()).unwrap();
    let mut rng = counter();
    let in_2024 = EntryId::from_parts(1_715_000_000_000, 1);
    let in_2025 = EntryId::from_parts(1_746_100_000_000, 2);
    j.add_entry(
        at("2024-05-06T20:00:00+01:00"),
        &note("two years back"),
        in_2024,
        false,
        &mut rng,
    )
    .unwrap();
    j.add_entry(
        at("2025-05-01T20:00:00+01:00"),
        &note("last year"),
        in_2025,
        false,
        &mut rng,
    )
    .unwrap();
    j.add_entry(now(), &note("this year"), id(1), false, &mut rng)
        .unwrap();
    let ritual = sunday_walk(me);
    let walk = j.add_ritual(now(), &ritual).unwrap();
    let last_year = "2025-05-04".parse().unwrap();
    j.mark_done(at("2025-05-04T20:00:00+01:00"), &walk, last_year, None)
        .unwrap();
    j.commit().unwrap();
    drop(j);

    let mut j = open(tmp.path(), Some(me));
    assert_eq!(j.loaded_count(), 2, "the couple document and this year's");
    // Last year's log line and where its entries live are known without it.
    assert!(j.logged(&walk.id, last_year, None));
    assert_eq!(j.ritual_log().len(), 1);
    assert!(j.has_entry(&in_2025));
    assert_eq!(j.loaded_count(), 2);
    // Reading an entry of a past year loads that year, and only that one.
    assert_eq!(
        readable(j.entry(&in_2024).unwrap()).body,
        Body::Note {
            text: "two years back".into()
        }
    );
    assert_eq!(j.loaded_count(), 3);
    // Once idle it goes again; this year's never does.
    assert_eq!(j.unload_idle(Instant::now(), std::time::Duration::ZERO), 1);
    assert_eq!(j.loaded_count(), 2);
    assert!(j.logged(&walk.id, last_year, None));
    assert!(matches!(
        j.entry(&in_2025).unwrap(),
        Some(Found::Readable(_))
    ));
}

#[test]
fn a_past_year_kept_for_the_index_opens_with_the_same_log_lines_markers_and_homes() {
    let tmp = tempfile::tempdir().unwrap();
    let mut j = open(tmp.path(), None);
    let me = j.found("laptop", "Ana", now()).unwrap();
    let mut rng = counter();
    let answered = EntryId::from_parts(1_746_100_000_000, 2);
    let answer = NewEntry {
        body: Body::Answer {
            prompt: "p-7".into(),
            text: "asked a year ago".into(),
        },
        ..note("")
    };
    j.add_entry(
        at("2025-05-01T20:00:00+01:00"),
        &answer,
        answered,
        false,
        &mut rng,
    )
    .unwrap();
    let walk = j.add_ritual(now(), &sunday_walk(me)).unwrap();
    let sunday = "2025-05-04".parse().unwrap();
    j.mark_done(
        at("2025-05-04T20:00:00+01:00"),
        &walk,
        sunday,
        Some(answered),
    )
    .unwrap();
    j.add_entry(now(), &note("this year"), id(1), false, &mut rng)
        .unwrap();
    j.commit().unwrap();
    drop(j);

    let last_year = PartnerDoc {
        kind: DocKind::Partner,
        partner: me,
        year: 2025,
    };
    // The first open reads 2025, and keeps what the index would store.
    let j = open(tmp.path(), Some(me));
    assert_eq!(j.swept(), 1);
    let (lines, markers) = (j.log_lines(&last_year), j.markers(&last_year));
    assert_eq!(lines.len(), 1);
    assert_eq!(lines[0].entry, Some(answered));
    assert!(markers.values().any(|ids| ids.contains(&answered)));
    let kept = j.years_to_keep(&j.stamps(), &BTreeMap::new());
    assert_eq!(kept.len(), 1, "2025 alone is a past year out of memory");
    let known = KnownYears(
        kept.into_iter()
            .map(|(doc, stamp, kept)| (doc, KnownYear { stamp, kept }))
            .collect(),
    );
    drop(j);

    // The next open takes 2025 from what was kept and reads nothing of it.
    let (set, _) = DocSet::open(tmp.path(), FileKey::for_tests(1), SlotKey::for_tests(2)).unwrap();
    let mut j = CoupleJournal::open_with(set, &SECRET, Some(me), known).unwrap();
    assert_eq!(j.swept(), 0, "the kept year was read again");
    assert_eq!(j.loaded_count(), 2);
    assert_eq!(j.log_lines(&last_year), lines);
    assert_eq!(j.markers(&last_year), markers);
    assert!(j.logged(&walk.id, sunday, None));
    assert!(j.has_entry(&answered));
    assert_eq!(
        j.loaded_count(),
        2,
        "answering from the kept year loads nothing"
    );
    assert!(matches!(
        j.entry(&answered).unwrap(),
        Some(Found::Readable(_))
    ));
}

#[test]
fn an_answer_in_a_past_year_not_in_memory_opens_when_the_partner_answers_now() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    let answer = |text: &str| NewEntry {
        body: Body::Answer {
            prompt: "p-7".into(),
            text: text.into(),
        },
        ..note("")
    };
    let last_year = EntryId::from_parts(1_746_100_000_000, 2);
    p.a.add_entry(
        at("2025-05-01T20:00:00+01:00"),
        &answer("asked a year ago"),
        last_year,
        false,
        &mut rng,
    )
    .unwrap();
    p.a.add_entry(now(), &note("this year"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(2, false).unwrap();
    assert!(matches!(
        p.b.entry(&last_year).unwrap(),
        Some(Found::Sealed { .. })
    ));
    // Ana's past year left memory once the session settled it; her
    // answer's marker stays known.
    assert_eq!(p.a.loaded_count(), 2);

    let mut rng_b = counter();
    p.b.add_entry(now(), &answer("and mine now"), id(10), false, &mut rng_b)
        .unwrap();
    p.b.commit().unwrap();
    p.sync(3, false).unwrap();
    p.sync(4, false).unwrap();
    assert_eq!(
        readable(p.b.entry(&last_year).unwrap()).body,
        Body::Answer {
            prompt: "p-7".into(),
            text: "asked a year ago".into()
        }
    );
}

#[test]
fn a_first_sync_holds_one_past_year_at_a_time() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    let years = [2022u16, 2023, 2024, 2025];
    for (n, year) in years.iter().enumerate() {
        let when = at(&format!("{year}-05-01T20:00:00+01:00"));
        let entry = EntryId::from_parts(when.timestamp_millis() as u64, n as u128);
        p.a.add_entry(when, &note(&format!("in {year}")), entry, false, &mut rng)
            .unwrap();
    }
    p.a.add_entry(now(), &note("this year"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    // Past years a request wrote stay while in use (a backfill writes to
    // the same year again and again), and go once idle.
    assert_eq!(p.a.loaded_count(), 6);
    assert_eq!(
        p.a.unload_idle(Instant::now(), std::time::Duration::ZERO),
        4
    );
    assert_eq!(p.a.loaded_count(), 2);

    let (ka, kb) = (p.a.device(), p.b.device());
    p.a.session_start(2, kb, false, usize::MAX);
    p.b.session_start(2, ka, false, usize::MAX);
    let (mut most_a, mut most_b, mut quiet) = (0, 0, 0);
    for _ in 0..200 {
        let to_b = p.a.session_generate(2).unwrap();
        for f in &to_b {
            p.b.session_receive(2, f).unwrap();
        }
        let to_a = p.b.session_generate(2).unwrap();
        for f in &to_a {
            p.a.session_receive(2, f).unwrap();
        }
        p.a.commit().unwrap();
        p.b.commit().unwrap();
        most_a = most_a.max(p.a.loaded_count());
        most_b = most_b.max(p.b.loaded_count());
        quiet = if to_a.is_empty() && to_b.is_empty() {
            quiet + 1
        } else {
            0
        };
        if quiet == 2 {
            break;
        }
    }
    assert_eq!(quiet, 2, "the session settled");
    for year in years {
        let when = at(&format!("{year}-05-01T20:00:00+01:00"));
        let n = years.iter().position(|y| *y == year).unwrap();
        let entry = EntryId::from_parts(when.timestamp_millis() as u64, n as u128);
        assert!(
            matches!(p.b.entry(&entry).unwrap(), Some(Found::Readable(_))),
            "{year} arrived"
        );
    }
    // The couple document, this year's, and one past year at most; Ben
    // holds Ana's this year and his own couple document the same way.
    assert!(most_a <= 3, "Ana held {most_a} documents at once");
    assert!(most_b <= 3, "Ben held {most_b} documents at once");
}

#[test]
fn a_year_that_comes_into_sync_is_offered_as_a_digest_and_no_key_list_goes_when_both_hold_its_keys()
{
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    p.open_second_session();
    // Written while the session is open, each key goes with its entry; the
    // year is new to both, so no manifest row spoke for it.
    let mut rng = counter();
    let when = at("2025-05-01T20:00:00+01:00");
    let ids: Vec<EntryId> = (0..300u64)
        .map(|n| EntryId::from_parts(when.timestamp_millis() as u64 + n * 60_000, n.into()))
        .collect();
    for (n, entry) in ids.iter().enumerate() {
        p.a.add_entry(
            when,
            &note(&format!("last year {n}")),
            *entry,
            false,
            &mut rng,
        )
        .unwrap();
    }
    p.a.commit().unwrap();
    let mut frames = Vec::new();
    for _ in 0..20 {
        for f in p.a.session_generate(2).unwrap() {
            frames.push(SessionFrame::decode(&f).unwrap());
            p.b.session_receive(2, &f).unwrap();
        }
        for f in p.b.session_generate(2).unwrap() {
            frames.push(SessionFrame::decode(&f).unwrap());
            p.a.session_receive(2, &f).unwrap();
        }
        p.a.commit().unwrap();
        p.b.commit().unwrap();
    }
    assert_eq!(p.settle(2), 0, "the session was quiet");
    for entry in &ids {
        assert!(matches!(
            p.b.entry(entry).unwrap(),
            Some(Found::Readable(_))
        ));
    }
    let offers = frames
        .iter()
        .filter(|f| matches!(f, SessionFrame::Offer(_)))
        .count();
    let rows = frames
        .iter()
        .filter(|f| matches!(f, SessionFrame::Manifest { keys: Some(_), .. }))
        .count();
    assert!(rows > 0, "the year's keys were offered as a digest");
    assert_eq!(offers, 0, "no key list went: {rows} digest rows");
}

#[test]
fn a_flood_of_signed_heads_from_a_partners_device_keeps_one_record_per_head() {
    let tmp = tempfile::tempdir().unwrap();
    let mut p = two_partners(tmp.path());
    p.sync(1, true).unwrap();
    let mut rng = counter();
    p.a.add_entry(now(), &note("one"), id(1), false, &mut rng)
        .unwrap();
    p.a.commit().unwrap();
    p.sync(2, false).unwrap();
    let home = p.b.home_of(&id(1)).unwrap();
    let doc = DocId::Partner(home);
    let heads: std::collections::BTreeSet<automerge::ChangeHash> =
        p.b.document(&doc)
            .unwrap()
            .get_heads()
            .into_iter()
            .collect();
    // What a device of Ana's could send Ben's desk: many records, each
    // later than the last, all naming the heads he holds.
    let flood: Vec<SignedHeads> = (0..500)
        .map(|n| {
            HeadsRecord {
                signer: p.a.device(),
                counter: 1_000 + n,
                doc: home,
                heads: heads.clone(),
            }
            .sign(&p.a.signing)
            .unwrap()
        })
        .collect();
    p.b.keep_signed(doc, flood);
    let kept = p.b.signed_heads(&doc);
    assert!(
        !kept.is_empty() && kept.len() <= heads.len(),
        "{} records kept for {} heads",
        kept.len(),
        heads.len()
    );
    assert_eq!(kept[0].record.counter, 1_499, "the latest stays");
}
