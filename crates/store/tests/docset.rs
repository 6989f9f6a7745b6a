//! The schema 2 store: documents loaded on demand, one manifest as the
//! commit point of every document and key file, and crashes at each step
//! of a commit or compaction (docs/SCHEMA.md, "Memory and start-up").

use std::path::Path;
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ROOT, ReadDoc};
use hearth_model::records::genesis::{couple_genesis, partner_genesis};
use hearth_model::records::heads::{DocKind, PartnerDoc};
use hearth_model::records::ids::PartnerCode;
use hearth_model::records::manifest::DocId;
use hearth_store::docset::{KeyState, Step};
use hearth_store::keyslot::{Audience, SlotKey};
use hearth_store::{DocSet, FileKey, StoreError};

const PARTNER: DocId = DocId::Partner(PartnerDoc {
    kind: DocKind::Partner,
    partner: PartnerCode([0x11; 16]),
    year: 2026,
});

fn open(data: &Path) -> DocSet {
    try_open(data).unwrap()
}

fn try_open(data: &Path) -> Result<DocSet, StoreError> {
    DocSet::open(data, FileKey::for_tests(5), SlotKey::for_tests(6)).map(|(s, _)| s)
}

fn actor() -> ActorId {
    ActorId::from([0xab; 32].as_slice())
}

fn genesis(doc: DocId) -> Automerge {
    match doc {
        DocId::Couple => couple_genesis(),
        DocId::Partner(p) => partner_genesis(&p),
    }
}

fn load(set: &mut DocSet, doc: DocId, now: Instant) {
    let report = set.load(doc, &actor(), now, || genesis(doc)).unwrap();
    assert!(report.is_clean(), "{report:?}");
}

/// Sets root key `n` of `doc` to `value`, as one change.
fn write(set: &mut DocSet, doc: DocId, value: i64) {
    let am = set.doc_mut(&doc, Instant::now()).expect("loaded");
    let mut tx = am.transaction();
    tx.put(ROOT, "n", value).unwrap();
    tx.commit();
}

fn value(set: &DocSet, doc: DocId) -> Option<i64> {
    let (v, _) = set.doc(&doc)?.get(ROOT, "n").unwrap()?;
    v.as_scalar()?.as_i64()
}

/// Both documents at `value`, committed.
fn committed_pair(data: &Path, value: i64) -> DocSet {
    let mut set = open(data);
    for doc in [DocId::Couple, PARTNER] {
        load(&mut set, doc, Instant::now());
        write(&mut set, doc, value);
    }
    assert_eq!(set.commit().unwrap().len(), 2);
    set
}

/// What is left in `docs/` besides the manifest and the lock.
fn doc_files(data: &Path) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(data.join("docs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n != "manifest" && n != "LOCK" && n != "quarantine")
        .collect();
    names.sort();
    names
}

#[test]
fn documents_are_committed_together_and_loaded_only_when_asked() {
    let tmp = tempfile::tempdir().unwrap();
    let set = committed_pair(tmp.path(), 1);
    let heads = set.doc(&PARTNER).unwrap().get_heads();
    drop(set);

    let mut set = open(tmp.path());
    assert_eq!(set.documents(), [DocId::Couple, PARTNER]);
    assert!(set.loaded().is_empty(), "opening loads nothing");
    assert_eq!(set.committed_heads(&PARTNER), Some(heads.clone()));
    load(&mut set, PARTNER, Instant::now());
    assert_eq!(set.loaded(), [PARTNER]);
    assert_eq!(set.doc(&PARTNER).unwrap().get_heads(), heads);
    assert_eq!(value(&set, PARTNER), Some(1));
    assert_eq!(set.doc(&PARTNER).unwrap().get_actor(), &actor());
    assert!(!set.is_dirty(&PARTNER));
    assert_eq!(set.commit().unwrap(), [], "nothing moved, nothing written");
    assert_eq!(doc_files(tmp.path()).len(), 2);
}

#[test]
fn a_commit_cut_short_at_any_step_is_all_or_nothing() {
    let steps = [
        Step::KeysSynced,
        Step::FileRenamed(0),
        Step::FileRenamed(1),
        Step::DirSynced,
        Step::ManifestRenamed,
    ];
    for stop in steps {
        let tmp = tempfile::tempdir().unwrap();
        let mut set = committed_pair(tmp.path(), 1);
        write(&mut set, DocId::Couple, 2);
        write(&mut set, PARTNER, 2);
        set.key_file(PARTNER)
            .unwrap()
            .put((7, [7; 16]), Audience::Mine, [9; 32])
            .unwrap();
        let err = set
            .commit_with(|step| {
                if step == stop {
                    Err(StoreError::Interrupted(step))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Interrupted(s) if s == stop));
        // A kill leaves what is on disk; the process's memory is gone.
        drop(set);

        let mut set = open(tmp.path());
        load(&mut set, DocId::Couple, Instant::now());
        load(&mut set, PARTNER, Instant::now());
        let expect = if stop == Step::ManifestRenamed { 2 } else { 1 };
        assert_eq!(
            (value(&set, DocId::Couple), value(&set, PARTNER)),
            (Some(expect), Some(expect)),
            "stopped at {stop:?}"
        );
        let files = 2 + if expect == 2 { 2 } else { 0 };
        assert_eq!(
            doc_files(tmp.path()).len(),
            files,
            "stopped at {stop:?}: {:?}",
            doc_files(tmp.path())
        );
        // The key was synced before anything else, so it is there either way.
        assert_eq!(
            set.key_file(PARTNER).unwrap().state((7, [7; 16])),
            Some(KeyState::Live(Audience::Mine))
        );
    }
}

#[test]
fn a_compaction_cut_short_at_any_step_loses_nothing() {
    let steps = [
        Step::FileRenamed(0),
        Step::DirSynced,
        Step::ManifestRenamed,
        Step::OldDeleted(0),
        Step::OldDeleted(1),
    ];
    for stop in steps {
        let tmp = tempfile::tempdir().unwrap();
        let mut set = committed_pair(tmp.path(), 1);
        write(&mut set, PARTNER, 2);
        set.commit().unwrap();
        assert_eq!(set.chunk_count(&PARTNER), 2);
        let heads = set.doc(&PARTNER).unwrap().get_heads();
        let err = set
            .compact_with(&PARTNER, |step| {
                if step == stop {
                    Err(StoreError::Interrupted(step))
                } else {
                    Ok(())
                }
            })
            .unwrap_err();
        assert!(matches!(err, StoreError::Interrupted(_)));
        drop(set);

        let mut set = open(tmp.path());
        load(&mut set, PARTNER, Instant::now());
        assert_eq!(
            set.doc(&PARTNER).unwrap().get_heads(),
            heads,
            "stopped at {stop:?}"
        );
        assert_eq!(value(&set, PARTNER), Some(2));
        let compacted = !matches!(stop, Step::FileRenamed(_) | Step::DirSynced);
        assert_eq!(
            set.chunk_count(&PARTNER),
            if compacted { 0 } else { 2 },
            "{stop:?}"
        );
        let partner_files = doc_files(tmp.path())
            .into_iter()
            .filter(|n| n.starts_with("p-"))
            .count();
        assert_eq!(partner_files, if compacted { 1 } else { 2 }, "{stop:?}");
    }
}

#[test]
fn a_compacted_document_reloads_from_its_snapshot_alone() {
    let tmp = tempfile::tempdir().unwrap();
    let mut set = committed_pair(tmp.path(), 1);
    for v in 2..6 {
        write(&mut set, PARTNER, v);
        set.commit().unwrap();
    }
    set.compact(&PARTNER).unwrap();
    let names = doc_files(tmp.path());
    let partner: Vec<&String> = names.iter().filter(|n| n.starts_with("p-")).collect();
    assert_eq!(partner.len(), 1);
    assert!(partner[0].ends_with(".snap"), "{partner:?}");
    drop(set);
    let mut set = open(tmp.path());
    load(&mut set, PARTNER, Instant::now());
    assert_eq!(value(&set, PARTNER), Some(5));
}

/// Flips a bit near the end of the partner document's last chunk, which
/// its seal then refuses; returns the chunk's path.
fn damage_last_partner_chunk(data: &Path) -> std::path::PathBuf {
    let last = doc_files(data)
        .into_iter()
        .filter(|n| n.starts_with("p-"))
        .max()
        .unwrap();
    let path = data.join("docs").join(&last);
    let mut bytes = std::fs::read(&path).unwrap();
    let n = bytes.len();
    bytes[n - 3] ^= 0x40;
    std::fs::write(&path, bytes).unwrap();
    path
}

#[test]
fn a_damaged_file_is_quarantined_and_the_rest_of_the_document_loads() {
    let tmp = tempfile::tempdir().unwrap();
    let mut set = committed_pair(tmp.path(), 1);
    {
        let am = set.doc_mut(&PARTNER, Instant::now()).unwrap();
        let mut tx = am.transaction();
        tx.put(ROOT, "other", "kept").unwrap();
        tx.commit();
    }
    set.commit().unwrap();
    write(&mut set, PARTNER, 3);
    set.commit().unwrap();
    drop(set);
    let path = damage_last_partner_chunk(tmp.path());

    let mut set = open(tmp.path());
    let report = set
        .load(PARTNER, &actor(), Instant::now(), || genesis(PARTNER))
        .unwrap();
    assert_eq!(report.quarantined.len(), 1);
    assert_eq!(report.quarantined[0].file, path);
    assert!(report.quarantined[0].moved_to.exists());
    let am = set.doc(&PARTNER).unwrap();
    assert!(
        am.get(ROOT, "other").unwrap().is_some(),
        "earlier chunks still load"
    );
    assert_eq!(value(&set, PARTNER), Some(1));
    // The next commit names only what is there; a reopen is clean.
    write(&mut set, PARTNER, 4);
    set.commit().unwrap();
    drop(set);
    let mut set = open(tmp.path());
    load(&mut set, PARTNER, Instant::now());
    assert_eq!(value(&set, PARTNER), Some(4));
}

#[test]
fn a_schema_1_journal_is_refused_in_one_line_and_left_alone() {
    let tmp = tempfile::tempdir().unwrap();
    std::fs::create_dir(tmp.path().join("journal")).unwrap();
    std::fs::write(tmp.path().join("journal/chunk-0000000001.am"), b"old").unwrap();
    let err = try_open(tmp.path()).err().unwrap();
    let msg = err.to_string();
    assert!(matches!(err, StoreError::Schema1(_)));
    assert!(msg.contains("schema 1") && msg.contains("move"), "{msg}");
    assert!(!msg.contains('\n'));
    assert!(!tmp.path().join("docs").exists(), "nothing written");
}

#[test]
fn a_manifest_that_does_not_open_or_is_missing_is_refused_and_nothing_is_deleted() {
    let tmp = tempfile::tempdir().unwrap();
    drop(committed_pair(tmp.path(), 1));
    let before = doc_files(tmp.path());
    let manifest = tmp.path().join("docs/manifest");
    let mut bytes = std::fs::read(&manifest).unwrap();
    let n = bytes.len();
    bytes[n - 1] ^= 1;
    std::fs::write(&manifest, &bytes).unwrap();
    let err = try_open(tmp.path()).err().unwrap();
    assert!(matches!(err, StoreError::Manifest { .. }), "{err}");
    assert_eq!(doc_files(tmp.path()), before);

    std::fs::remove_file(&manifest).unwrap();
    let err = try_open(tmp.path()).err().unwrap();
    assert!(
        err.to_string().contains("missing, while 2 document files"),
        "{err}"
    );
    assert_eq!(doc_files(tmp.path()), before);

    // Under another storage key it does not open either.
    let tmp = tempfile::tempdir().unwrap();
    drop(committed_pair(tmp.path(), 1));
    let other = DocSet::open(tmp.path(), FileKey::for_tests(8), SlotKey::for_tests(6));
    assert!(matches!(other, Err(StoreError::Manifest { .. })));
}

#[test]
fn only_one_process_opens_the_store() {
    let tmp = tempfile::tempdir().unwrap();
    let _first = open(tmp.path());
    assert!(matches!(try_open(tmp.path()), Err(StoreError::Locked(_))));
}

#[test]
fn idle_documents_are_dropped_but_never_uncommitted_ones_or_those_kept() {
    let tmp = tempfile::tempdir().unwrap();
    let t0 = Instant::now();
    let mut set = open(tmp.path());
    for doc in [DocId::Couple, PARTNER] {
        load(&mut set, doc, t0);
    }
    let idle = Duration::from_secs(300);
    // Uncommitted (the genesis is not on disk yet): kept however old.
    assert_eq!(
        set.unload_idle(t0 + idle * 2, idle, |_| false, |_, _| {}),
        []
    );
    set.commit().unwrap();
    assert_eq!(
        set.unload_idle(t0 + idle / 2, idle, |_| false, |_, _| {}),
        [],
        "not idle yet"
    );
    let keep_couple = |d: &DocId| *d == DocId::Couple;
    assert_eq!(
        set.unload_idle(t0 + idle, idle, keep_couple, |_, _| {}),
        [PARTNER]
    );
    assert_eq!(set.loaded(), [DocId::Couple]);
    // Loading again reads it back from disk.
    load(&mut set, PARTNER, t0 + idle);
    assert!(!set.is_dirty(&PARTNER));
    assert_eq!(
        set.doc(&PARTNER).unwrap().get_heads(),
        set.committed_heads(&PARTNER).unwrap()
    );
}

#[test]
fn signed_heads_and_their_counter_are_committed_with_the_manifest() {
    let tmp = tempfile::tempdir().unwrap();
    let mut set = committed_pair(tmp.path(), 1);
    assert_eq!(set.take_heads_counter(), 1);
    assert_eq!(set.take_heads_counter(), 2);
    set.keep_signed_heads(PARTNER, vec![b"record one".to_vec()]);
    // Not committed: a crash here hands the counters out again, but no
    // record that used them was kept either.
    drop(set);
    let mut set = open(tmp.path());
    assert_eq!(set.signed_heads(&PARTNER), Vec::<Vec<u8>>::new());
    assert_eq!(set.take_heads_counter(), 1);
    set.keep_signed_heads(PARTNER, vec![b"record one".to_vec()]);
    set.commit().unwrap();
    drop(set);
    let mut set = open(tmp.path());
    assert_eq!(set.signed_heads(&PARTNER), [b"record one".to_vec()]);
    assert_eq!(set.take_heads_counter(), 2, "never handed out twice");
}

#[test]
fn files_are_owner_only_and_hold_no_plaintext() {
    use std::os::unix::fs::PermissionsExt;
    let tmp = tempfile::tempdir().unwrap();
    let mut set = open(tmp.path());
    load(&mut set, PARTNER, Instant::now());
    {
        let am = set.doc_mut(&PARTNER, Instant::now()).unwrap();
        let mut tx = am.transaction();
        tx.put(ROOT, "marker", "PLAINTEXT-MARKER-7d1f").unwrap();
        tx.commit();
    }
    set.key_file(PARTNER)
        .unwrap()
        .put(
            (1, [1; 16]),
            Audience::Couple,
            *b"KEYBYTES-KEYBYTES-KEYBYTES-KEY!!",
        )
        .unwrap();
    set.commit().unwrap();
    set.compact(&PARTNER).unwrap();
    for dir in ["docs", "keys"] {
        let d = tmp.path().join(dir);
        assert_eq!(
            std::fs::metadata(&d).unwrap().permissions().mode() & 0o777,
            0o700
        );
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let mode = std::fs::metadata(&p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{}", p.display());
            let bytes = std::fs::read(&p).unwrap();
            for marker in [&b"PLAINTEXT-MARKER"[..], b"KEYBYTES", b"hearth genesis"] {
                assert!(
                    !bytes.windows(marker.len()).any(|w| w == marker),
                    "{} holds {:?}",
                    p.display(),
                    String::from_utf8_lossy(marker)
                );
            }
        }
    }
}

#[test]
fn stored_documents_load_side_by_side_as_one_at_a_time_and_a_damaged_file_is_still_set_aside() {
    let tmp = tempfile::tempdir().unwrap();
    let mut set = committed_pair(tmp.path(), 1);
    write(&mut set, PARTNER, 2);
    set.commit().unwrap();
    drop(set);
    let path = damage_last_partner_chunk(tmp.path());

    let never_stored = DocId::Partner(PartnerDoc {
        year: 2027,
        ..match PARTNER {
            DocId::Partner(p) => p,
            DocId::Couple => unreachable!(),
        }
    });
    let mut set = open(tmp.path());
    let report = set
        .load_stored(
            &[DocId::Couple, PARTNER, never_stored],
            &actor(),
            Instant::now(),
            |d| genesis(*d),
        )
        .unwrap();
    assert_eq!(report.quarantined.len(), 1);
    assert_eq!(report.quarantined[0].file, path);
    assert!(report.quarantined[0].moved_to.exists());
    assert_eq!(value(&set, DocId::Couple), Some(1));
    assert_eq!(value(&set, PARTNER), Some(1), "the earlier chunk loads");
    assert!(
        !set.is_loaded(&never_stored),
        "a document the manifest does not name is left for `load`"
    );
    // The next commit names only what is there; a reopen is clean.
    write(&mut set, PARTNER, 4);
    set.commit().unwrap();
    drop(set);
    let mut set = open(tmp.path());
    let report = set
        .load_stored(&[DocId::Couple, PARTNER], &actor(), Instant::now(), |d| {
            genesis(*d)
        })
        .unwrap();
    assert!(report.is_clean(), "{report:?}");
    assert_eq!(value(&set, PARTNER), Some(4));
}
