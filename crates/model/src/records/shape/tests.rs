use automerge::transaction::Transactable;
use automerge::{ActorId, ScalarValue};

use super::*;
use crate::entry::Body;
use crate::records::content::VersionKey;
use crate::records::entries::{self, Content, Fresh};
use crate::records::genesis::{genesis_hash, partner_genesis};
use crate::records::ids::PartnerCode;

fn doc_id(kind: DocKind) -> PartnerDoc {
    PartnerDoc {
        partner: PartnerCode([1; 16]),
        year: 2026,
        kind,
    }
}

fn id(n: u128) -> EntryId {
    EntryId::from_parts(1_796_600_000_000, n)
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

/// A document with one honest entry, and its heads then: what the
/// receiver holds before the peer's changes.
fn base(kind: DocKind) -> (PartnerDoc, Automerge, Vec<ChangeHash>, ChangeHash) {
    let d = doc_id(kind);
    let mut am = partner_genesis(&d).with_actor(ActorId::from([1u8; 32].as_slice()));
    let content = Content {
        created: 1_796_600_000_000,
        offset: 60,
        device: "ab".repeat(32),
        edited: None,
        tags: vec![],
        starred: false,
        tender: false,
        body: Body::Note {
            text: "honest".into(),
        },
    };
    let fresh = Fresh {
        version: [1; 16],
        key: VersionKey([1; 32]),
        nonce: [1; 24],
    };
    entries::write_version(&mut am, &d, &id(1), day(), &content, &fresh).unwrap();
    let genesis = genesis_hash(&am).unwrap();
    let heads = am.get_heads();
    (d, am, heads, genesis)
}

/// `f`'s raw change on a copy of the base, checked.
fn after(
    kind: DocKind,
    f: impl FnOnce(&mut automerge::transaction::Transaction<'_>, &Automerge),
) -> Result<(), String> {
    let (d, mut am, heads, genesis) = base(kind);
    let snapshot = am.clone();
    let mut tx = am.transaction();
    f(&mut tx, &snapshot);
    tx.commit();
    check(&d, &am, &heads, &genesis)
}

fn map(am: &Automerge, name: &str) -> ObjId {
    match am.get(ROOT, name).unwrap() {
        Some((Value::Object(ObjType::Map), m)) => m,
        _ => panic!("{name}"),
    }
}

fn entry_map(am: &Automerge) -> ObjId {
    let entries = map(am, "entries");
    match am.get(&entries, id(1).key()).unwrap() {
        Some((Value::Object(ObjType::Map), m)) => m,
        _ => panic!("entry"),
    }
}

#[test]
fn what_honest_writes_make_passes_from_any_starting_point() {
    let (d, am, _, genesis) = base(DocKind::Partner);
    // A first sync: the receiver had nothing.
    assert_eq!(check(&d, &am, &[], &genesis), Ok(()));
    // An honest delete and an honest log line pass too.
    let ok = after(DocKind::Partner, |tx, am| {
        let e = entry_map(am);
        tx.put(&e, "deleted", true).unwrap();
        tx.delete(&e, "b").unwrap();
        let log = map(am, "ritual_log");
        let line = tx.put_object(&log, "r-1/2026-12-07", ObjType::Map).unwrap();
        tx.put(&line, "at", ScalarValue::Timestamp(1)).unwrap();
        tx.put(&line, "offset", 60).unwrap();
        tx.put(&line, "entry", id(1).key()).unwrap();
        let skips = map(am, "skips");
        let skip = tx
            .put_object(&skips, "2026-12-07:p-3", ObjType::Map)
            .unwrap();
        tx.put(&skip, "at", ScalarValue::Timestamp(1)).unwrap();
        tx.put(&skip, "offset", 0).unwrap();
    });
    assert_eq!(ok, Ok(()));
}

#[test]
fn every_shape_no_write_makes_is_refused() {
    type Bad = Box<dyn FnOnce(&mut automerge::transaction::Transaction<'_>, &Automerge)>;
    let cases: Vec<(&str, Bad)> = vec![
        (
            "an entry key that is no id",
            Box::new(|tx, am| {
                let m = tx
                    .put_object(map(am, "entries"), "not-an-id", ObjType::Map)
                    .unwrap();
                tx.put(&m, "day", "2026-12-07").unwrap();
            }),
        ),
        (
            "a day of another year",
            Box::new(|tx, am| {
                tx.put(entry_map(am), "day", "2025-12-07").unwrap();
            }),
        ),
        (
            "a day that is no date",
            Box::new(|tx, am| {
                tx.put(entry_map(am), "day", "soon").unwrap();
            }),
        ),
        (
            "plain words where the sealed value goes",
            Box::new(|tx, am| {
                tx.put(
                    entry_map(am),
                    "b",
                    ScalarValue::Bytes(b"plain words".to_vec()),
                )
                .unwrap();
            }),
        ),
        (
            "a string where the sealed value goes",
            Box::new(|tx, am| {
                tx.put(entry_map(am), "b", "plain words").unwrap();
            }),
        ),
        (
            "deleted set to false",
            Box::new(|tx, am| {
                tx.put(entry_map(am), "deleted", false).unwrap();
            }),
        ),
        (
            "an extra field on an entry",
            Box::new(|tx, am| {
                tx.put(entry_map(am), "text", "in the clear").unwrap();
            }),
        ),
        (
            "a list where an entry goes",
            Box::new(|tx, am| {
                tx.put_object(map(am, "entries"), id(2).key(), ObjType::List)
                    .unwrap();
            }),
        ),
        (
            "an unknown root key",
            Box::new(|tx, _| {
                tx.put(ROOT, "words", "in the clear").unwrap();
            }),
        ),
        (
            "a root map deleted",
            Box::new(|tx, _| {
                tx.delete(ROOT, "skips").unwrap();
            }),
        ),
        (
            "the header changed",
            Box::new(|tx, am| {
                tx.put(map(am, "hearth"), "doc", "another").unwrap();
            }),
        ),
        (
            "an answer marker keyed by no id",
            Box::new(|tx, am| {
                tx.put(map(am, "answered"), "x", "p-1").unwrap();
            }),
        ),
        (
            "an answer marker naming no prompt",
            Box::new(|tx, am| {
                tx.put(map(am, "answered"), id(1).key(), 7).unwrap();
            }),
        ),
        (
            "a log key without a date",
            Box::new(|tx, am| {
                tx.put_object(map(am, "ritual_log"), "no-date-here", ObjType::Map)
                    .unwrap();
            }),
        ),
        (
            "a log line with words in it",
            Box::new(|tx, am| {
                let line = tx
                    .put_object(map(am, "ritual_log"), "r/2026-12-07", ObjType::Map)
                    .unwrap();
                tx.put(&line, "note", "in the clear").unwrap();
            }),
        ),
        (
            "a skip with an entry",
            Box::new(|tx, am| {
                let s = tx
                    .put_object(map(am, "skips"), "2026-12-07:p", ObjType::Map)
                    .unwrap();
                tx.put(&s, "entry", id(1).key()).unwrap();
            }),
        ),
        (
            "a long value in a log line",
            Box::new(|tx, am| {
                let line = tx
                    .put_object(map(am, "ritual_log"), "r/2026-12-07", ObjType::Map)
                    .unwrap();
                tx.put(&line, "entry", "x".repeat(MAX_KEY + 1)).unwrap();
            }),
        ),
    ];
    for (what, f) in cases {
        assert!(after(DocKind::Partner, f).is_err(), "{what} passed");
    }
    // A private document has no skips or answer markers at all.
    let skipped = after(DocKind::Private, |tx, _| {
        tx.put_object(ROOT, "skips", ObjType::Map).unwrap();
    });
    assert!(skipped.is_err());
}

/// The check walks each entry's winning values, so a bad value that loses
/// to a concurrent honest one must still be found: it is in the document,
/// and would win on a device that ordered the two the other way.
#[test]
fn a_bad_value_that_loses_to_a_concurrent_honest_one_is_still_refused() {
    let (d, am, heads, genesis) = base(DocKind::Partner);
    let e = entry_map(&am);
    // Automerge's winner is the value with the greater actor at one counter.
    let mut low = am.fork().with_actor(ActorId::from([0u8; 32].as_slice()));
    let mut high = am.fork().with_actor(ActorId::from([9u8; 32].as_slice()));
    let mut tx = low.transaction();
    tx.put(&e, "day", "soon").unwrap();
    tx.commit();
    let mut tx = high.transaction();
    tx.put(&e, "day", "2026-12-08").unwrap();
    tx.commit();
    high.merge(&mut low).unwrap();
    let shown = match high.get(&e, "day").unwrap() {
        Some((Value::Scalar(s), _)) => s.as_str().map(str::to_string),
        _ => None,
    };
    assert_eq!(
        shown.as_deref(),
        Some("2026-12-08"),
        "the honest value wins"
    );
    assert_eq!(
        check(&d, &high, &heads, &genesis),
        Err("an entry's day is not a date of the document's year".into())
    );
}
