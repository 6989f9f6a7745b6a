use std::collections::BTreeMap;

use automerge::Automerge;
use chrono::NaiveDate;

use super::*;
use crate::records::genesis::partner_genesis;
use crate::records::heads::DocKind;
use crate::records::ids::PartnerCode;

const DOC: PartnerDoc = PartnerDoc {
    kind: DocKind::Partner,
    partner: PartnerCode([0x42; 16]),
    year: 2026,
};

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

fn id(n: u128) -> EntryId {
    EntryId::from_parts(1_796_600_000_000, n)
}

fn note(text: &str) -> Content {
    Content {
        created: 1_796_600_000_000,
        offset: 60,
        device: "ab".repeat(32),
        edited: None,
        tags: vec!["home".into()],
        starred: false,
        tender: false,
        body: Body::Note { text: text.into() },
    }
}

fn fresh(n: u8) -> Fresh {
    Fresh {
        version: [n; 16],
        key: VersionKey([n; 32]),
        nonce: [n; 24],
    }
}

/// A key file as a map: what this device holds.
type Keys = BTreeMap<VersionId, VersionKey>;

fn keys(of: &[u8]) -> Keys {
    of.iter()
        .map(|n| ([*n; 16], VersionKey([*n; 32])))
        .collect()
}

fn reading(doc: &Automerge, entry: &EntryId, held: &Keys) -> Option<StoredEntry> {
    read(doc, &DOC, entry, |v| held.get(v).cloned()).unwrap()
}

fn text_of(r: &Reading) -> Option<String> {
    match r {
        Reading::Readable { content, .. } => match &content.body {
            Body::Note { text } | Body::Answer { text, .. } => Some(text.clone()),
            _ => None,
        },
        _ => None,
    }
}

fn contains(bytes: &[u8], needle: &str) -> bool {
    bytes.windows(needle.len()).any(|w| w == needle.as_bytes())
}

#[test]
fn a_version_reads_with_its_key_and_its_words_are_nowhere_in_the_document() {
    let mut doc = partner_genesis(&DOC);
    write_version(
        &mut doc,
        &DOC,
        &id(1),
        day(),
        &note("WORDS-ON-A-QUIET-EVENING"),
        &fresh(1),
    )
    .unwrap();
    let got = reading(&doc, &id(1), &keys(&[1])).unwrap();
    assert_eq!(got.day, day());
    assert_eq!(
        text_of(&got.reading).as_deref(),
        Some("WORDS-ON-A-QUIET-EVENING")
    );
    let saved = doc.save_nocompress();
    for marker in ["WORDS-ON", "home", "note", "abababab"] {
        assert!(!contains(&saved, marker), "{marker} is in the document");
    }
    // Without the key it is sealed; with a wrong one, it is not content.
    assert_eq!(
        reading(&doc, &id(1), &Keys::new()).unwrap().reading,
        Reading::Sealed { version: [1; 16] }
    );
    let wrong: Keys = [([1; 16], VersionKey([9; 32]))].into();
    assert_eq!(
        reading(&doc, &id(1), &wrong).unwrap().reading,
        Reading::Malformed
    );
    assert_eq!(reading(&doc, &id(2), &keys(&[1])), None);
}

#[test]
fn an_edit_replaces_the_version_and_once_its_key_is_forgotten_the_old_words_are_gone() {
    let mut doc = partner_genesis(&DOC);
    write_version(
        &mut doc,
        &DOC,
        &id(1),
        day(),
        &note("first draft"),
        &fresh(1),
    )
    .unwrap();
    let before_edit = doc.get_heads();
    let replaced = write_version(
        &mut doc,
        &DOC,
        &id(1),
        day(),
        &note("second draft"),
        &fresh(2),
    )
    .unwrap();
    assert_eq!(replaced, [[1; 16]]);
    let live = live(&doc, &id(1)).unwrap();
    assert_eq!(
        crate::records::forget::to_forget(&live, [[1; 16], [2; 16]]),
        [[1; 16]]
    );
    // This device forgot key 1: the history still has its ciphertext, and
    // nothing here opens it.
    let held = keys(&[2]);
    assert_eq!(
        text_of(&reading(&doc, &id(1), &held).unwrap().reading).as_deref(),
        Some("second draft")
    );
    let old = doc.fork_at(&before_edit).unwrap();
    assert_eq!(
        reading(&old, &id(1), &held).unwrap().reading,
        Reading::Sealed { version: [1; 16] }
    );
}

#[test]
fn a_delete_leaves_a_tombstone_of_id_and_day_and_names_every_version_to_forget() {
    let mut doc = partner_genesis(&DOC);
    let mut answer = note("x");
    answer.body = Body::Answer {
        prompt: "p-12".into(),
        text: "MY-SEALED-ANSWER".into(),
    };
    write_version(&mut doc, &DOC, &id(1), day(), &answer, &fresh(1)).unwrap();
    assert_eq!(answers(&doc, &id(1)).as_deref(), Some("p-12"));
    let forget = delete(&mut doc, &id(1)).unwrap();
    assert_eq!(forget, [[1; 16]]);
    let got = reading(&doc, &id(1), &keys(&[1])).unwrap();
    assert_eq!(
        got,
        StoredEntry {
            day: day(),
            reading: Reading::Deleted
        }
    );
    assert_eq!(
        answers(&doc, &id(1)),
        None,
        "a deleted answer commits to nothing"
    );
    assert!(live(&doc, &id(1)).unwrap().deleted);
    // Deleted stays deleted.
    assert!(matches!(
        delete(&mut doc, &id(1)),
        Err(EntryDocError::Deleted(_))
    ));
    assert!(matches!(
        write_version(&mut doc, &DOC, &id(1), day(), &note("back"), &fresh(3)),
        Err(EntryDocError::Deleted(_))
    ));
    assert!(matches!(
        delete(&mut doc, &id(7)),
        Err(EntryDocError::Missing(_))
    ));
}

#[test]
fn concurrent_edits_on_two_devices_both_read_one_as_a_conflict() {
    let mut a = partner_genesis(&DOC);
    write_version(&mut a, &DOC, &id(1), day(), &note("start"), &fresh(1)).unwrap();
    let mut b = a.fork();
    write_version(
        &mut a,
        &DOC,
        &id(1),
        day(),
        &note("from the laptop"),
        &fresh(2),
    )
    .unwrap();
    write_version(
        &mut b,
        &DOC,
        &id(1),
        day(),
        &note("from the phone"),
        &fresh(3),
    )
    .unwrap();
    a.merge(&mut b).unwrap();
    let got = reading(&a, &id(1), &keys(&[2, 3])).unwrap();
    let Reading::Readable {
        content, conflicts, ..
    } = &got.reading
    else {
        panic!("{got:?}")
    };
    let mut texts = vec![text_of(&got.reading).unwrap()];
    texts.extend(conflicts.iter().map(|c| match &c.body {
        Body::Note { text } => text.clone(),
        _ => unreachable!(),
    }));
    texts.sort();
    assert_eq!(texts, ["from the laptop", "from the phone"]);
    assert_eq!(content.tags, ["home"]);
    // Both live; the first version is the one to forget.
    let live = live(&a, &id(1)).unwrap();
    assert_eq!(
        crate::records::forget::to_forget(&live, [[1; 16], [2; 16], [3; 16]]),
        [[1; 16]]
    );
}

#[test]
fn bad_content_is_refused_on_write_and_counts_as_malformed_on_read() {
    let mut doc = partner_genesis(&DOC);
    let next_year = NaiveDate::from_ymd_opt(2027, 1, 1).unwrap();
    assert!(matches!(
        write_version(&mut doc, &DOC, &id(1), next_year, &note("x"), &fresh(1)),
        Err(EntryDocError::WrongYear { .. })
    ));
    let mut bad_device = note("x");
    bad_device.device = "AB".repeat(32);
    assert!(write_version(&mut doc, &DOC, &id(1), day(), &bad_device, &fresh(1)).is_err());
    assert!(write_version(&mut doc, &DOC, &id(1), day(), &note("  "), &fresh(1)).is_err());
    let huge = note(&"x".repeat(MAX_TEXT + 1));
    assert!(write_version(&mut doc, &DOC, &id(1), day(), &huge, &fresh(1)).is_err());
    assert_eq!(
        doc.get_heads(),
        partner_genesis(&DOC).get_heads(),
        "nothing written"
    );

    // A peer's sealed version that opens to an empty note is malformed.
    let json = serde_json::to_vec(&note("")).unwrap();
    let sealed = seal_version(
        &VersionKey([5; 32]),
        &DOC.to_string(),
        &id(2),
        [5; 16],
        [5; 24],
        &json,
    )
    .unwrap();
    let entries = entries_map(&doc).unwrap();
    let mut tx = doc.transaction();
    let m = tx.put_object(&entries, id(2).key(), ObjType::Map).unwrap();
    tx.put(&m, "day", "2026-12-07").unwrap();
    tx.put(&m, "b", ScalarValue::Bytes(sealed)).unwrap();
    tx.commit();
    assert_eq!(
        reading(&doc, &id(2), &keys(&[5])).unwrap().reading,
        Reading::Malformed
    );
    // A document that is not a partner document is refused, not misread.
    assert!(matches!(
        read(&Automerge::new(), &DOC, &id(2), |_| None),
        Err(EntryDocError::NotAPartnerDoc("entries"))
    ));
}
