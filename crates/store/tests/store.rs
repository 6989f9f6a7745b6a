//! The store's durability promises: what was appended is there after a
//! reopen, damaged files are set aside by name, and compaction interrupted at
//! any step loses nothing.

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use automerge::{ActorId, ReadDoc};
use chrono::{FixedOffset, TimeZone};
use hearth_model::{Body, DeviceId, Journal, NewEntry, PartnerId, View, WriteCtx};
use hearth_store::{DocStore, FileStore as Store, Stage, StoreError};

fn key() -> hearth_store::FileKey {
    hearth_store::FileKey::for_tests(7)
}

fn base() -> automerge::Automerge {
    Journal::new(ActorId::from(b"dev-a".as_slice()))
        .doc()
        .clone()
}

fn write_note(j: &mut Journal, i: u32) {
    let ctx = WriteCtx {
        author: PartnerId("ana".into()),
        device: DeviceId("dev-a".into()),
        now: FixedOffset::east_opt(0)
            .unwrap()
            .with_ymd_and_hms(2026, 1, 1, 10, i % 60, 0)
            .unwrap(),
    };
    let new = NewEntry {
        body: Body::Note {
            text: format!("note {i}"),
        },
        tags: BTreeSet::new(),
        starred: false,
        tender: None,
    };
    j.add_entry(
        &ctx,
        &new,
        hearth_model::EntryId::from_parts(1_000_000 + u64::from(i), 0),
    )
    .unwrap();
}

/// Opens the store in `dir`, writes `n` notes, one chunk each.
fn fill(dir: &Path, n: u32) -> (Store, Journal) {
    let o = Store::open(dir, base(), key()).unwrap();
    let mut store = o.store;
    let mut j = Journal::from_doc(o.doc).unwrap();
    for i in 0..n {
        write_note(&mut j, i);
        assert!(store.append(j.doc()).unwrap(), "a chunk was written");
    }
    (store, j)
}

fn texts(doc: automerge::Automerge) -> BTreeSet<String> {
    let j = Journal::from_doc(doc).unwrap();
    j.all_entries()
        .0
        .into_iter()
        .map(|e| match e.body {
            Body::Note { text } => text,
            _ => unreachable!(),
        })
        .collect()
}

fn chunk_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut v: Vec<_> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("chunk-")
        })
        .collect();
    v.sort();
    v
}

#[test]
fn appended_changes_survive_a_reopen() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, j) = fill(tmp.path(), 5);
    let heads = j.heads();
    drop(store);
    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert!(o.quarantined.is_empty());
    assert_eq!(o.doc.get_heads(), heads);
    assert_eq!(texts(o.doc).len(), 5);
}

#[test]
fn files_are_owner_only_and_the_dir_is_locked() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path().join("journal");
    let (store, _j) = fill(&dir, 1);
    assert_eq!(
        fs::metadata(&dir).unwrap().permissions().mode() & 0o777,
        0o700
    );
    for f in chunk_files(&dir) {
        assert_eq!(
            fs::metadata(&f).unwrap().permissions().mode() & 0o777,
            0o600
        );
    }
    assert!(matches!(
        Store::open(&dir, base(), key()),
        Err(StoreError::Locked(_))
    ));
    drop(store);
    assert!(
        Store::open(&dir, base(), key()).is_ok(),
        "the lock goes with the store"
    );
}

#[test]
fn a_truncated_chunk_is_quarantined_and_named_and_the_rest_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _j) = fill(tmp.path(), 4);
    drop(store);
    let chunks = chunk_files(tmp.path());
    let last = chunks.last().unwrap().clone();
    let len = fs::metadata(&last).unwrap().len();
    let f = fs::OpenOptions::new().write(true).open(&last).unwrap();
    f.set_len(len / 2).unwrap();
    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert_eq!(o.quarantined.len(), 1);
    let q = &o.quarantined[0];
    assert_eq!(q.file, last);
    assert!(q.reason.contains("truncated"), "{}", q.reason);
    assert!(
        q.to_string()
            .contains(&*last.file_name().unwrap().to_string_lossy())
    );
    assert!(q.moved_to.exists() && !last.exists());
    assert_eq!(texts(o.doc), (0..3).map(|i| format!("note {i}")).collect());
}

#[test]
fn a_bit_flipped_snapshot_is_quarantined_and_later_chunks_wait_for_a_refill() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, mut j) = fill(tmp.path(), 3);
    store.compact(j.doc()).unwrap();
    write_note(&mut j, 99);
    store.append(j.doc()).unwrap();
    let full = j.doc().clone();
    drop(store);
    let snap = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| {
            p.file_name()
                .unwrap()
                .to_string_lossy()
                .starts_with("snapshot-")
        })
        .unwrap();
    let mut bytes = fs::read(&snap).unwrap();
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x10;
    fs::write(&snap, bytes).unwrap();

    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert_eq!(o.quarantined.len(), 1, "{:?}", o.quarantined);
    assert!(
        o.quarantined[0].reason.contains("does not decrypt"),
        "{}",
        o.quarantined[0].reason
    );
    let mut doc = o.doc;
    let mut store = o.store;
    // The surviving chunk depends on the lost snapshot: it is held, not
    // dropped, and compaction refuses to delete the file that holds it.
    assert!(!doc.get_missing_deps(&[]).is_empty());
    assert!(matches!(store.compact(&doc), Err(StoreError::MissingDeps)));
    // A partner's copy refills what is missing.
    let mut partner = full.clone();
    doc.merge(&mut partner).unwrap();
    assert_eq!(doc.get_heads(), full.get_heads());
    store.append(&doc).unwrap();
    store.compact(&doc).unwrap();
}

#[test]
fn compaction_interrupted_at_any_step_loses_nothing() {
    let stages = [
        Stage::SnapshotWritten,
        Stage::SnapshotRenamed,
        Stage::DirSynced,
        Stage::Deleted(0),
        Stage::Deleted(2),
        Stage::Deleted(5),
    ];
    for stop in stages {
        let tmp = tempfile::tempdir().unwrap();
        let (mut store, j) = fill(tmp.path(), 6);
        let before = j.doc().get_heads();
        let expected = texts(j.doc().clone());
        let r = store.compact_with(j.doc(), |s| {
            if s == stop {
                Err(StoreError::Failpoint(s))
            } else {
                Ok(())
            }
        });
        assert!(matches!(r, Err(StoreError::Failpoint(_))));
        drop(store);
        let o = Store::open(tmp.path(), base(), key()).unwrap();
        assert!(o.quarantined.is_empty(), "{stop:?}");
        assert_eq!(o.doc.get_heads(), before, "{stop:?}");
        assert_eq!(texts(o.doc.clone()), expected, "{stop:?}");
        // And the next compaction finishes the job.
        let mut store = o.store;
        store.compact(&o.doc).unwrap();
        assert_eq!(store.chunk_count(), 0);
    }
}

#[test]
fn compaction_leaves_one_snapshot_with_everything() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, j) = fill(tmp.path(), 4);
    store.compact(j.doc()).unwrap();
    let names: Vec<String> = fs::read_dir(tmp.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".am"))
        .collect();
    assert_eq!(names.len(), 1, "{names:?}");
    assert!(names[0].starts_with("snapshot-"));
    drop(store);
    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert_eq!(o.doc.get_heads(), j.heads());
}

#[test]
fn the_view_cache_is_used_only_for_the_files_it_was_written_for() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, mut j) = fill(tmp.path(), 2);
    let view = View::build(&j);
    store.save_view(&view).unwrap();
    let cached = Store::cached_view(tmp.path(), &key()).expect("valid right after saving");
    assert_eq!(cached.entries, view.entries);
    assert!(store.view_for(&j.heads()).is_some());
    write_note(&mut j, 7);
    store.append(j.doc()).unwrap();
    assert!(
        Store::cached_view(tmp.path(), &key()).is_none(),
        "a new chunk makes it stale"
    );
    assert!(store.view_for(&j.heads()).is_none());
}

#[test]
fn leftover_temp_files_are_removed_on_open() {
    let tmp = tempfile::tempdir().unwrap();
    let (store, _j) = fill(tmp.path(), 1);
    drop(store);
    let tmpfile = tmp.path().join(".chunk-0000000009.am.tmp");
    fs::write(&tmpfile, b"half written").unwrap();
    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert!(o.quarantined.is_empty());
    assert!(!tmpfile.exists());
}

#[test]
fn a_durable_write_never_goes_through_a_link_planted_as_its_temp_file() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    fs::write(&victim, "keep me").unwrap();
    std::os::unix::fs::symlink(&victim, dir.path().join(".view.json.tmp")).unwrap();

    hearth_store::write_durably(dir.path(), "view.json", b"fresh").unwrap();

    assert_eq!(fs::read_to_string(&victim).unwrap(), "keep me");
    assert_eq!(fs::read(dir.path().join("view.json")).unwrap(), b"fresh");
    let mode = fs::metadata(dir.path().join("view.json"))
        .unwrap()
        .permissions()
        .mode();
    assert_eq!(mode & 0o777, 0o600);
}

#[test]
fn a_journal_dir_that_is_a_link_is_refused_and_left_alone() {
    let dir = tempfile::tempdir().unwrap();
    let real = dir.path().join("real");
    fs::create_dir(&real).unwrap();
    fs::set_permissions(&real, fs::Permissions::from_mode(0o755)).unwrap();
    let link = dir.path().join("journal");
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let err = Store::open(&link, base(), key())
        .err()
        .expect("a link is refused");
    assert!(
        matches!(
            &err,
            StoreError::Unsafe {
                why: hearth_store::Unsafe::Symlink,
                ..
            }
        ),
        "{err}"
    );
    assert_eq!(
        fs::read_dir(&real).unwrap().count(),
        0,
        "nothing written through it"
    );
    let mode = fs::metadata(&real).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o755, "the link's target was not chmodded");
}

#[test]
fn no_stored_file_holds_an_entrys_text_in_the_clear() {
    let tmp = tempfile::tempdir().unwrap();
    let (mut store, mut j) = fill(tmp.path(), 3);
    store.save_view(&View::build(&j)).unwrap();
    store.compact(j.doc()).unwrap();
    write_note(&mut j, 4);
    store.append(j.doc()).unwrap();
    let mut looked = 0;
    for e in fs::read_dir(tmp.path()).unwrap() {
        let path = e.unwrap().path();
        let bytes = fs::read(&path).unwrap();
        looked += 1;
        assert!(
            !bytes.windows(5).any(|w| w == b"note "),
            "{} holds an entry's text",
            path.display()
        );
    }
    assert!(
        looked >= 3,
        "a snapshot, a chunk and the view cache at least"
    );
    // And all of it is still there for the key.
    drop(store);
    let o = Store::open(tmp.path(), base(), key()).unwrap();
    assert_eq!(
        texts(o.doc),
        [0, 1, 2, 4].iter().map(|i| format!("note {i}")).collect()
    );
}
