//! One suite of storage promises, run against both backends: the real file
//! store and the in-memory store the daemon's fault tests use. A promise
//! that holds for one and not the other would make those tests lie.

use std::collections::BTreeSet;

use automerge::ActorId;
use chrono::{FixedOffset, TimeZone};
use hearth_model::{Body, DeviceId, Journal, NewEntry, PartnerId, View, WriteCtx};
use hearth_store::{DocStore, FileStore, MemDisk, MemStore, Opened, Stage, StoreError};

/// Opens the same storage again and again, as a restart would.
trait Backend {
    fn open(&self) -> Opened<Box<dyn DocStore>>;
    fn cached_view(&self) -> Option<View>;
}

struct Files(tempfile::TempDir);

impl Backend for Files {
    fn open(&self) -> Opened<Box<dyn DocStore>> {
        FileStore::open(self.0.path(), base(), hearth_store::FileKey::for_tests(7))
            .unwrap()
            .boxed()
    }
    fn cached_view(&self) -> Option<View> {
        FileStore::cached_view(self.0.path(), &hearth_store::FileKey::for_tests(7))
    }
}

struct Memory(MemDisk);

impl Backend for Memory {
    fn open(&self) -> Opened<Box<dyn DocStore>> {
        MemStore::open(&self.0, base()).unwrap().boxed()
    }
    fn cached_view(&self) -> Option<View> {
        self.0.cached_view()
    }
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

fn texts(doc: automerge::Automerge) -> BTreeSet<String> {
    Journal::from_doc(doc)
        .unwrap()
        .all_entries()
        .0
        .into_iter()
        .filter_map(|e| match e.body {
            Body::Note { text } => Some(text),
            _ => None,
        })
        .collect()
}

fn expected(n: u32) -> BTreeSet<String> {
    (0..n).map(|i| format!("note {i}")).collect()
}

fn appends_survive_a_reopen(b: &dyn Backend) {
    let o = b.open();
    let (mut store, mut j) = (o.store, Journal::from_doc(o.doc).unwrap());
    for i in 0..5 {
        write_note(&mut j, i);
        assert!(store.append(j.doc()).unwrap(), "a change was written");
        assert!(!store.is_dirty(j.doc()));
    }
    assert!(
        !store.append(j.doc()).unwrap(),
        "nothing new, nothing written"
    );
    assert_eq!(store.chunk_count(), 5);
    drop(store);
    assert_eq!(texts(b.open().doc), expected(5));
}

fn compaction_keeps_the_document(b: &dyn Backend) {
    let o = b.open();
    let (mut store, mut j) = (o.store, Journal::from_doc(o.doc).unwrap());
    for i in 0..4 {
        write_note(&mut j, i);
        store.append(j.doc()).unwrap();
    }
    store.compact(j.doc()).unwrap();
    assert_eq!(store.chunk_count(), 0);
    assert_eq!(store.saved_heads(), j.doc().get_heads().as_slice());
    drop(store);
    let again = b.open();
    assert_eq!(again.doc.get_heads(), j.doc().get_heads());
    assert_eq!(texts(again.doc), expected(4));
}

fn the_view_cache_is_valid_only_for_what_is_stored(b: &dyn Backend) {
    let o = b.open();
    let (mut store, mut j) = (o.store, Journal::from_doc(o.doc).unwrap());
    write_note(&mut j, 0);
    store.append(j.doc()).unwrap();
    let view = View::build(&j);
    store.save_view(&view).unwrap();
    assert_eq!(b.cached_view().map(|v| v.heads), Some(view.heads));
    write_note(&mut j, 1);
    store.append(j.doc()).unwrap();
    assert!(b.cached_view().is_none(), "a newer change makes it stale");
}

#[test]
fn file_store_keeps_its_promises() {
    for test in [
        appends_survive_a_reopen as fn(&dyn Backend),
        compaction_keeps_the_document,
        the_view_cache_is_valid_only_for_what_is_stored,
    ] {
        test(&Files(tempfile::tempdir().unwrap()));
    }
}

#[test]
fn memory_store_keeps_the_same_promises() {
    for test in [
        appends_survive_a_reopen as fn(&dyn Backend),
        compaction_keeps_the_document,
        the_view_cache_is_valid_only_for_what_is_stored,
    ] {
        test(&Memory(MemDisk::new()));
    }
}

/// The faults the memory store injects behave like the real ones: a failed
/// write stores nothing and leaves the saved heads where they were.
#[test]
fn injected_faults_store_nothing() {
    let disk = MemDisk::new();
    let o = MemStore::open(&disk, base()).unwrap();
    let (mut store, mut j) = (o.store, Journal::from_doc(o.doc).unwrap());
    let saved = store.saved_heads().to_vec();
    write_note(&mut j, 0);
    disk.fail_next_appends(1);
    assert!(store.append(j.doc()).is_err());
    assert_eq!(store.saved_heads(), saved.as_slice());
    disk.set_full(true);
    let err = store.append(j.doc()).unwrap_err();
    assert!(err.to_string().contains("No space left"), "{err}");
    assert!(store.is_dirty(j.doc()));
    disk.set_full(false);
    assert!(store.append(j.doc()).unwrap());
    assert_eq!(
        texts(MemStore::open(&disk, base()).unwrap().doc),
        expected(1)
    );
}

/// A compaction cut short at any step loses nothing, in memory as on disk.
#[test]
fn an_interrupted_compaction_loses_nothing_in_memory() {
    for stage in [
        Stage::SnapshotWritten,
        Stage::SnapshotRenamed,
        Stage::DirSynced,
        Stage::Deleted(0),
        Stage::Deleted(1),
    ] {
        let disk = MemDisk::new();
        let o = MemStore::open(&disk, base()).unwrap();
        let (mut store, mut j) = (o.store, Journal::from_doc(o.doc).unwrap());
        for i in 0..3 {
            write_note(&mut j, i);
            store.append(j.doc()).unwrap();
        }
        disk.stop_compaction_at(stage);
        assert!(matches!(
            store.compact(j.doc()),
            Err(StoreError::Failpoint(s)) if s == stage
        ));
        drop(store);
        assert_eq!(
            texts(MemStore::open(&disk, base()).unwrap().doc),
            expected(3),
            "{stage:?}"
        );
    }
}
