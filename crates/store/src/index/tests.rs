use std::os::unix::fs::PermissionsExt;

use chrono::{DateTime, NaiveDate};
use hearth_model::{Body, DeviceId, Entry, EntryId, PartnerId};

use super::*;

const KEY: u8 = 7;

fn note(n: u64, text: &str) -> Entry {
    Entry {
        id: EntryId::from_parts(1_700_000_000_000 + n, u128::from(n) * 7919),
        author: PartnerId("a".repeat(32).into()),
        device: DeviceId("d".repeat(64).into()),
        created: DateTime::from_timestamp_millis(1_700_000_000_000)
            .unwrap()
            .fixed_offset(),
        day: NaiveDate::from_ymd_opt(2023, 11, 14).unwrap(),
        tags: Default::default(),
        starred: false,
        tender: false,
        private: false,
        edited: None,
        deleted: None,
        resolved: None,
        body: Body::Note {
            text: text.to_string(),
        },
        conflicts: Default::default(),
    }
}

fn update(entries: &[Entry], stamp: &str) -> Update {
    Update {
        upsert: entries
            .iter()
            .map(|e| ("doc-2023".into(), e.clone()))
            .collect(),
        stamps: vec![("doc-2023".into(), stamp.into(), 2)],
        partners: [(PartnerId("a".repeat(32).into()), "Ana".to_string())].into(),
        ..Update::default()
    }
}

/// Every byte of the index's files, however SQLite split them.
fn all_bytes(dir: &std::path::Path) -> Vec<u8> {
    let mut out = Vec::new();
    for f in std::fs::read_dir(dir).unwrap() {
        let p = f.unwrap().path();
        if p.file_name()
            .unwrap()
            .to_string_lossy()
            .starts_with(FILE_NAME)
        {
            out.extend(std::fs::read(&p).unwrap());
        }
    }
    out
}

fn contains(hay: &[u8], needle: &[u8]) -> bool {
    hay.windows(needle.len()).any(|w| w == needle)
}

#[test]
fn what_is_written_reads_back_after_a_reopen() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [note(1, "first"), note(2, "second")];
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&entries, "h1/10")).unwrap();
    drop(ix);

    let ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let got = ix.read().unwrap();
    assert!(got.seen.is_empty());
    assert_eq!(got.view.entries.len(), 2);
    assert_eq!(*got.view.entries[&entries[1].id], entries[1]);
    assert_eq!(got.homes["doc-2023"], vec![entries[0].id, entries[1].id]);
    assert_eq!(got.stamps["doc-2023"], ("h1/10".to_string(), 2));
    assert_eq!(got.view.partners.values().next().unwrap(), "Ana");
    assert_eq!(got.view.malformed, 2);
    let seen: std::collections::BTreeSet<String> = ["ab".to_string()].into();
    ix.write_seen(&seen).unwrap();
    assert_eq!(ix.read().unwrap().seen, seen);
}

/// A page SQLite maps from the file counts in the daemon's RSS for as long
/// as the connection lives: a whole read of a 50,000-entry index added the
/// file's 23 MB. So the index is read into SQLite's own small page cache.
#[cfg(target_os = "linux")]
#[test]
fn reading_every_page_maps_none_of_the_file_into_memory() {
    let dir = tempfile::tempdir().unwrap();
    let entries: Vec<Entry> = (0..300).map(|n| note(n, "words for a page")).collect();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&entries, "h1/300")).unwrap();
    drop(ix);
    let ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    assert_eq!(ix.read().unwrap().view.entries.len(), 300);
    assert_eq!(ix.read_recent(8).unwrap().unwrap().view.entries.len(), 300);
    let file = dir.path().join(FILE_NAME).canonicalize().unwrap();
    let maps = std::fs::read_to_string("/proc/self/maps").unwrap();
    let mapped: Vec<&str> = maps
        .lines()
        .filter(|l| l.ends_with(file.to_str().unwrap()))
        .collect();
    assert!(mapped.is_empty(), "the index file is mapped: {mapped:?}");
}

#[test]
fn the_files_are_owner_only_and_hold_no_word_in_the_clear() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&[note(1, "MARKER-zebra-quartz")], "h/1"))
        .unwrap();
    // Kept open, so the WAL and its shared memory file exist too.
    let mut seen = 0;
    for f in std::fs::read_dir(dir.path()).unwrap() {
        let p = f.unwrap().path();
        let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} is {mode:o}", p.display());
        seen += 1;
    }
    assert!(seen >= 2, "expected the database and its WAL, saw {seen}");
    let bytes = all_bytes(dir.path());
    assert!(!contains(&bytes, b"MARKER-zebra-quartz"));
    assert!(
        !contains(&bytes, b"Ana"),
        "a partner's name is in the clear"
    );
}

/// The sealed page that holds `id`, as it is in the database now.
fn sealed_page_of(ix: &Index, id: &EntryId) -> Vec<u8> {
    ix.conn
        .query_row(
            "SELECT body FROM pages WHERE page = ?1",
            [page_of(id)],
            |r| r.get(0),
        )
        .unwrap()
}

#[test]
fn a_removed_entry_leaves_no_byte_of_its_page_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (gone, kept) = (note(1, "to be forgotten"), note(2, "kept"));
    assert_eq!(page_of(&gone.id), page_of(&kept.id), "one page for both");
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&[gone.clone(), kept.clone()], "h/1"))
        .unwrap();
    ix.conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let sealed = sealed_page_of(&ix, &gone.id);
    // The ciphertext is on disk now (this is what the check below looks
    // for, so it must be able to find it).
    let tail = &sealed[sealed.len() - 32..];
    assert!(contains(&all_bytes(dir.path()), tail));

    ix.write(&Update {
        remove: vec![gone.id],
        stamps: vec![("doc-2023".into(), "h/2".into(), 0)],
        ..Update::default()
    })
    .unwrap();
    assert!(!contains(&all_bytes(dir.path()), tail));
    let got = ix.read().unwrap();
    assert_eq!(
        got.view.entries.keys().copied().collect::<Vec<_>>(),
        [kept.id]
    );
}

#[test]
fn an_edited_entry_leaves_no_byte_of_its_old_page_in_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let before = note(1, "the first words");
    ix.write(&update(std::slice::from_ref(&before), "h/1"))
        .unwrap();
    ix.conn
        .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
        .unwrap();
    let sealed = sealed_page_of(&ix, &before.id);
    let tail = &sealed[sealed.len() - 32..];
    assert!(contains(&all_bytes(dir.path()), tail));
    let after = Entry {
        body: Body::Note {
            text: "other words".into(),
        },
        ..before.clone()
    };
    ix.write(&update(std::slice::from_ref(&after), "h/2"))
        .unwrap();
    assert!(!contains(&all_bytes(dir.path()), tail));
    assert_eq!(*ix.read().unwrap().view.entries[&after.id], after);
}

#[test]
fn a_page_that_does_not_open_empties_the_index_so_the_start_reads_every_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    // Two entries a fortnight apart: two pages.
    let a = note(1, "a");
    let b = Entry {
        id: EntryId::from_parts(1_700_000_000_000 + 2 * PAGE_SPAN_MS, 3),
        ..note(2, "b")
    };
    assert_ne!(page_of(&a.id), page_of(&b.id));
    ix.write(&update(&[a.clone(), b.clone()], "h/1")).unwrap();
    // A page moved to another week's number does not open under it.
    ix.conn
        .execute(
            "UPDATE pages SET body = (SELECT body FROM pages WHERE page = ?1) WHERE page = ?2",
            [page_of(&a.id), page_of(&b.id)],
        )
        .unwrap();
    let got = ix.read().unwrap();
    assert!(got.view.entries.is_empty());
    assert!(got.stamps.is_empty(), "a stamp kept would skip the re-read");
    drop(ix);
    // Another journal's key opens nothing either.
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&[a], "h/1")).unwrap();
    drop(ix);
    let other = Index::open(dir.path(), FileKey::for_tests(KEY + 1)).unwrap();
    let got = other.read().unwrap();
    assert!(got.view.entries.is_empty() && got.stamps.is_empty());
}

#[test]
fn an_index_of_another_format_is_emptied_at_open() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    ix.write(&update(&[note(1, "a")], "h/1")).unwrap();
    ix.conn
        .execute("UPDATE meta SET value = 99 WHERE name = 'format'", [])
        .unwrap();
    drop(ix);
    let ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let got = ix.read().unwrap();
    assert!(got.view.entries.is_empty() && got.stamps.is_empty());
}

#[test]
fn a_symlink_in_place_of_the_index_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let elsewhere = dir.path().join("elsewhere");
    std::fs::write(&elsewhere, b"").unwrap();
    std::os::unix::fs::symlink(&elsewhere, dir.path().join(FILE_NAME)).unwrap();
    assert!(Index::open(dir.path(), FileKey::for_tests(KEY)).is_err());
    assert_eq!(std::fs::read(&elsewhere).unwrap(), b"");
}

#[test]
fn an_index_of_many_pages_reads_back_whole_and_one_bad_page_late_empties_it() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    // Three entries a day for more than twice the pages held in flight.
    let days = (PAGES_IN_FLIGHT as u64 * 2 + 3) * 7;
    let entries: Vec<Entry> = (0..days * 3)
        .map(|i| Entry {
            id: EntryId::from_parts(1_700_000_000_000 + i * 8 * 60 * 60 * 1000, u128::from(i)),
            ..note(i, &format!("note {i}"))
        })
        .collect();
    ix.write(&update(&entries, "h/1")).unwrap();
    let pages: i64 = ix
        .conn
        .query_row("SELECT count(*) FROM pages", [], |r| r.get(0))
        .unwrap();
    assert!(pages as usize > PAGES_IN_FLIGHT * 2, "{pages} pages");
    let got = ix.read().unwrap();
    assert_eq!(got.view.entries.len(), entries.len());
    assert!(
        entries
            .iter()
            .all(|e| got.view.entries.get(&e.id).map(|b| &**b) == Some(e))
    );
    assert_eq!(
        got.homes.values().map(Vec::len).sum::<usize>(),
        entries.len()
    );
    // The last page SQLite returns, damaged: every page before it opened,
    // and still nothing of them is kept.
    ix.conn
        .execute(
            "UPDATE pages SET body = X'00' WHERE page = (SELECT max(page) FROM pages)",
            [],
        )
        .unwrap();
    let got = ix.read().unwrap();
    assert!(got.view.entries.is_empty() && got.homes.is_empty());
    assert!(got.stamps.is_empty(), "a stamp kept would skip the re-read");
}

#[test]
fn a_write_that_meets_a_page_that_does_not_open_empties_the_index() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let (a, b) = (note(1, "a"), note(2, "b"));
    assert_eq!(
        ix.write(&update(std::slice::from_ref(&a), "h/1")).unwrap(),
        Wrote::Done
    );
    ix.conn
        .execute("UPDATE pages SET body = X'00'", [])
        .unwrap();
    // Writing into the damaged page: an index holding b alone under a
    // stamp that claims a too would hide a from the next start.
    assert_eq!(ix.write(&update(&[b], "h/2")).unwrap(), Wrote::Emptied);
    let got = ix.read().unwrap();
    assert!(got.view.entries.is_empty() && got.stamps.is_empty());
}

#[test]
fn the_newest_weeks_read_first_are_every_entry_from_their_first_page_on() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    assert!(ix.read_recent(2).unwrap().is_none(), "an empty index");
    // One entry a day for ten weeks.
    let entries: Vec<Entry> = (0..70u64)
        .map(|i| Entry {
            id: EntryId::from_parts(1_700_000_000_000 + i * 24 * 60 * 60 * 1000, u128::from(i)),
            ..note(i, &format!("note {i}"))
        })
        .collect();
    ix.write(&update(&entries, "h/1")).unwrap();
    let recent = ix.read_recent(2).unwrap().unwrap();
    let newest = page_of(&entries.last().unwrap().id);
    assert_eq!(recent.from_page, newest - 1);
    let expected: Vec<&Entry> = entries
        .iter()
        .filter(|e| page_of(&e.id) >= newest - 1)
        .collect();
    assert!(expected.len() >= 7 && expected.len() < entries.len());
    let got: Vec<&Entry> = recent.view.entries.values().map(|b| &**b).collect();
    assert_eq!(got, expected);
    assert_eq!(recent.view.partners.values().next().unwrap(), "Ana");
    // More weeks than the index holds: all of it.
    assert_eq!(
        ix.read_recent(1_000).unwrap().unwrap().view.entries.len(),
        entries.len()
    );
    // A newest page that does not open gives nothing early; the whole read
    // decides what happens to the index.
    ix.conn
        .execute(
            "UPDATE pages SET body = X'00' WHERE page = (SELECT max(page) FROM pages)",
            [],
        )
        .unwrap();
    assert!(ix.read_recent(2).unwrap().is_none());
}

#[test]
fn a_kept_summary_reads_back_with_its_stamp_and_goes_with_its_document() {
    let dir = tempfile::tempdir().unwrap();
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let mut up = update(&[note(1, "one")], "h1/10");
    up.summaries = vec![
        ("doc-2023".into(), "h1/10".into(), b"{\"kept\":1}".to_vec()),
        ("doc-2022".into(), "h0/4".into(), b"{\"kept\":2}".to_vec()),
    ];
    ix.write(&up).unwrap();
    drop(ix);
    let mut ix = Index::open(dir.path(), FileKey::for_tests(KEY)).unwrap();
    let got = ix.read().unwrap().summaries;
    assert_eq!(
        got["doc-2023"],
        ("h1/10".to_string(), b"{\"kept\":1}".to_vec())
    );
    assert_eq!(got.len(), 2);
    assert!(
        !contains(&all_bytes(dir.path()), b"kept"),
        "a summary is sealed"
    );

    ix.write(&Update {
        drop_docs: vec!["doc-2022".into()],
        ..Update::default()
    })
    .unwrap();
    let got = ix.read().unwrap().summaries;
    assert_eq!(got.keys().collect::<Vec<_>>(), ["doc-2023"]);

    // A row moved to another document's place does not open: left out.
    ix.conn
        .execute(
            "UPDATE summaries SET doc = 'doc-2021' WHERE doc = 'doc-2023'",
            [],
        )
        .unwrap();
    assert!(ix.read().unwrap().summaries.is_empty());
}
