//! The index across restarts: a clean start re-reads no document, a
//! document committed behind the index's back is read again (and only it),
//! and a delete leaves the index.

use std::collections::BTreeSet;
use std::path::Path;

use hearth_ipc::{AddEntry, DeleteEntry, Init, Log, LogQuery, Request, Response, ShowEntry};
use hearth_model::{Body, EntryId, NewEntry};
use hearth_store::index::Index;
use hearth_store::keyslot::SlotKey;
use hearth_store::{DocSet, FileKey};

use super::{OpeningIndex, StartIndex};
use crate::core::{Core, Input, Output};
use crate::couple_journal::{CoupleJournal, KnownYears};
use crate::identity::{Identity, IdentityFile};

const AT: &str = "2026-11-25T21:30:00+01:00";

fn at() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(AT).unwrap()
}

fn identity_file(home: &Path) -> IdentityFile {
    IdentityFile {
        path: home.join("identity"),
        key: FileKey::for_tests(3),
    }
}

fn open_set(home: &Path) -> DocSet {
    DocSet::open(home, FileKey::for_tests(3), SlotKey::for_tests(4))
        .unwrap()
        .0
}

fn journal(set: DocSet, identity: &Identity) -> CoupleJournal {
    open_journal(set, identity, KnownYears::default())
}

/// The journal as the daemon opens it, taking the past years `known` kept.
fn open_journal(set: DocSet, identity: &Identity, known: KnownYears) -> CoupleJournal {
    let partner = identity
        .partner
        .as_ref()
        .and_then(|p| p.as_str().parse().ok());
    CoupleJournal::open_with(set, &identity.secret(), partner, known).unwrap()
}

/// A core as the daemon starts one: the index read first, then the
/// journal. Returns the loading core too, to ask it before the load.
fn start(home: &Path) -> (Core, Option<CoupleJournal>, bool) {
    let file = identity_file(home);
    let identity = file.load_or_create().unwrap();
    let set = open_set(home);
    let start = StartIndex::read(home, FileKey::for_tests(3), &set, |_| {}).expect("index opens");
    let current = start.current;
    // As the daemon does: the past years the index kept go to the open.
    let known = start.known_years();
    let mut core = Core::new(identity.clone(), file, "test".into(), Some(7));
    core.indexed(start);
    let j = open_journal(set, &identity, known);
    (core, Some(j), current)
}

fn ask(core: &mut Core, req: Request) -> Response {
    match core.batch(vec![(Input::Request(req), ())]).pop() {
        Some((Output::Response(r), ())) => r,
        other => panic!("{other:?}"),
    }
}

fn add(core: &mut Core, text: &str) -> EntryId {
    add_at(core, text, at())
}

/// A request to write note `text` at `at`.
fn note_at(text: &str, at: chrono::DateTime<chrono::FixedOffset>) -> Request {
    Request::Add(AddEntry {
        entry: NewEntry {
            body: Body::Note { text: text.into() },
            tags: BTreeSet::new(),
            starred: false,
            tender: None,
        },
        at,
        private: false,
    })
}

fn add_at(core: &mut Core, text: &str, at: chrono::DateTime<chrono::FixedOffset>) -> EntryId {
    match ask(core, note_at(text, at)) {
        Response::Entry { entry, .. } => entry.id,
        r => panic!("{r:?}"),
    }
}

fn log() -> Request {
    Request::Log(Log {
        query: LogQuery::default(),
        at: at(),
    })
}

fn texts(r: Response) -> BTreeSet<String> {
    match r {
        Response::Entries(list) => list
            .entries
            .into_iter()
            .filter_map(|e| match e.body {
                Body::Note { text } => Some(text),
                _ => None,
            })
            .collect(),
        r => panic!("{r:?}"),
    }
}

fn set(words: &[&str]) -> BTreeSet<String> {
    words.iter().map(ToString::to_string).collect()
}

/// A home set up as Ana, with `notes` written through the core.
fn home_with(notes: &[&str]) -> (tempfile::TempDir, Vec<EntryId>) {
    let home = tempfile::tempdir().unwrap();
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    let r = ask(
        &mut core,
        Request::Init(Init {
            name: "Ana".into(),
            device_name: "laptop".into(),
            day_start_hour: None,
            at: at(),
        }),
    );
    assert!(matches!(r, Response::Inited { .. }), "{r:?}");
    let ids = notes.iter().map(|n| add(&mut core, n)).collect();
    (home, ids)
}

/// Commits a note "behind" the index never saw, as a crash between the
/// commit and the index's write would leave.
fn commit_behind_the_index(home: &Path) {
    let identity = identity_file(home).load_or_create().unwrap();
    let mut j = journal(open_set(home), &identity);
    let new = NewEntry {
        body: Body::Note {
            text: "behind".into(),
        },
        tags: BTreeSet::new(),
        starred: false,
        tender: None,
    };
    let id = EntryId::from_parts(at().timestamp_millis() as u64 + 1, 99);
    j.add_entry(at(), &new, id, false, &mut rand::random::<u128>)
        .unwrap();
    j.commit().unwrap();
}

fn swept(core: &Core) -> usize {
    match core {
        Core::Ready(r) => r.swept_at_start(),
        Core::Loading(_) => panic!("not ready"),
    }
}

/// A note written at `at` on a day of 2025, a past year beside 2026's `AT`.
fn add_last_year(core: &mut Core, text: &str, at: &str) -> EntryId {
    add_at(
        core,
        text,
        chrono::DateTime::parse_from_rfc3339(at).unwrap(),
    )
}

fn shown(core: &mut Core, id: &EntryId) -> String {
    match ask(core, Request::Show(ShowEntry { id: id.key() })) {
        Response::Entry { entry, .. } => match entry.body {
            Body::Note { text } => text,
            b => panic!("{b:?}"),
        },
        r => panic!("{r:?}"),
    }
}

#[test]
fn a_start_reads_no_past_year_the_index_kept_and_reads_one_that_moved() {
    let (home, _) = home_with(&["this year"]);
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    let old = add_last_year(&mut core, "last june", "2025-06-01T09:00:00+02:00");
    drop(core);

    // 2025 was in memory when the core went: nothing kept it yet, so
    // this start reads it, and keeps it in the index once it is let go.
    let (core, j, _) = start(home.path());
    let core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(swept(&core), 1);
    drop(core);

    // Kept: not read, and its entry is still found where it lives.
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(swept(&core), 0, "the kept year was read again");
    assert_eq!(shown(&mut core, &old), "last june");
    // Another moment: the test's clock and randomness are fixed, so the
    // same one would give the same id, which the journal refuses.
    let newer = add_last_year(&mut core, "late june", "2025-06-28T09:00:00+02:00");
    drop(core);

    // 2025 moved after the index kept it: read again, with both entries.
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(swept(&core), 1, "the moved year was not read");
    assert_eq!(shown(&mut core, &old), "last june");
    assert_eq!(shown(&mut core, &newer), "late june");
    assert_eq!(
        texts(ask(&mut core, log())),
        set(&["this year", "last june", "late june"])
    );
}

fn reread(core: &Core) -> usize {
    match core {
        Core::Ready(r) => r.reread_at_start(),
        Core::Loading(_) => panic!("not ready"),
    }
}

#[test]
fn a_clean_start_answers_from_the_index_before_the_load_and_rereads_no_document() {
    let (home, _) = home_with(&["one", "two", "three"]);
    let (mut core, j, current) = start(home.path());
    assert!(current, "every stamp should match after clean commits");
    assert!(core.can_take(&Input::Request(log())));
    assert_eq!(texts(ask(&mut core, log())), set(&["one", "two", "three"]));
    let loading_heads = match ask(&mut core, Request::Status) {
        Response::Status(s) => s.heads,
        r => panic!("{r:?}"),
    };
    let mut core = core.loaded(j.unwrap()).unwrap();
    match ask(&mut core, Request::Status) {
        Response::Status(s) => assert_eq!(s.heads, loading_heads, "status while loading"),
        r => panic!("{r:?}"),
    }
    assert_eq!(reread(&core), 0);
    assert_eq!(texts(ask(&mut core, log())), set(&["one", "two", "three"]));
}

#[test]
fn a_document_committed_behind_the_index_is_read_again_and_only_it() {
    let (home, _) = home_with(&["one", "two"]);
    commit_behind_the_index(home.path());
    let (core, j, current) = start(home.path());
    assert!(!current, "the moved document's stamp should differ");
    // Not current: reads wait for the documents rather than miss "behind".
    assert!(!core.can_take(&Input::Request(log())));
    let mut core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(reread(&core), 1, "only Ana's document of 2026 moved");
    assert_eq!(texts(ask(&mut core, log())), set(&["one", "two", "behind"]));
    // And the index has caught up: the next start re-reads nothing.
    drop(core);
    let (core, j, current) = start(home.path());
    assert!(current);
    assert_eq!(reread(&core.loaded(j.unwrap()).unwrap()), 0);
}

#[test]
fn a_deleted_entry_leaves_the_index() {
    let (home, ids) = home_with(&["kept", "gone"]);
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    let r = ask(
        &mut core,
        Request::Delete(DeleteEntry {
            id: ids[1].to_string(),
            at: at(),
        }),
    );
    assert!(matches!(r, Response::Entry { .. }), "{r:?}");
    drop(core);
    let _lock = open_set(home.path());
    let indexed = Index::open(home.path(), FileKey::for_tests(3))
        .unwrap()
        .read()
        .unwrap();
    assert!(indexed.view.entries.contains_key(&ids[0]));
    assert!(!indexed.view.entries.contains_key(&ids[1]));
}

#[test]
fn a_clean_start_answers_log_n_from_the_newest_weeks_before_the_rest_of_the_index() {
    let (home, _) = home_with(&["one", "two", "three"]);
    let file = identity_file(home.path());
    let identity = file.load_or_create().unwrap();
    let docs = open_set(home.path());
    let mut recent = None;
    let start = StartIndex::read(home.path(), FileKey::for_tests(3), &docs, |r| {
        recent = Some(r)
    })
    .unwrap();
    let recent = recent.expect("a current index gives its newest weeks first");
    assert_eq!(recent.view.entries.len(), 3);
    let mut core = Core::new(identity, file, "test".into(), Some(7));
    core.recent(recent);
    let newest = Request::Log(Log {
        query: LogQuery {
            limit: Some(2),
            ..LogQuery::default()
        },
        at: at(),
    });
    assert!(core.can_take(&Input::Request(newest.clone())));
    assert_eq!(texts(ask(&mut core, newest)), set(&["two", "three"]));
    assert!(!core.can_take(&Input::Request(log())), "a whole log waits");
    core.indexed(start);
    assert!(core.can_take(&Input::Request(log())));
    drop((core, docs));

    // An index behind a document gives nothing early: its newest weeks
    // may lack what the document holds.
    commit_behind_the_index(home.path());
    let mut called = false;
    let start = StartIndex::read(
        home.path(),
        FileKey::for_tests(3),
        &open_set(home.path()),
        |_| called = true,
    )
    .unwrap();
    assert!(!start.current && !called);
}

/// A core as the daemon starts one on a current index: the newest weeks
/// read, then the journal opened before the rest of the index. Returns
/// the opened index, whose `read` is the rest.
fn start_early(home: &Path) -> (Core, OpeningIndex) {
    let file = identity_file(home);
    let identity = file.load_or_create().unwrap();
    let set = open_set(home);
    let opening = OpeningIndex::open(home, FileKey::for_tests(3), &set).expect("index opens");
    let recent = opening
        .recent()
        .expect("a current index reads its newest weeks");
    let known = opening.known_years();
    let mut core = Core::new(identity.clone(), file, "test".into(), Some(7));
    core.recent(recent);
    let j = open_journal(set, &identity, known);
    (core.opened(j).unwrap(), opening)
}

fn add_request(text: &str, at: &str) -> Request {
    note_at(text, chrono::DateTime::parse_from_rfc3339(at).unwrap())
}

fn log_n(n: usize) -> Request {
    Request::Log(Log {
        query: LogQuery {
            limit: Some(n),
            ..LogQuery::default()
        },
        at: at(),
    })
}

/// One a week before `AT`, within the newest weeks the start reads first.
const LAST_WEEK: &str = "2026-11-18T21:30:00+01:00";

#[test]
fn a_start_takes_a_new_entry_before_the_rest_of_the_index_and_loses_no_entry_after() {
    let (home, _) = home_with(&["one", "two"]);
    let (core, j, _) = start(home.path());
    let mut core = core.loaded(j.unwrap()).unwrap();
    add_last_year(&mut core, "last june", "2025-06-01T09:00:00+02:00");
    add_at(
        &mut core,
        "last week",
        chrono::DateTime::parse_from_rfc3339(LAST_WEEK).unwrap(),
    );
    drop(core);

    let (mut core, opening) = start_early(home.path());
    let early = add_request("written early", "2026-11-25T22:00:00+01:00");
    assert!(core.can_take(&Input::Request(early.clone())));
    // Dated before the weeks in memory: its id's place is not known yet.
    let old = add_request("backdated", "2025-07-01T09:00:00+02:00");
    assert!(!core.can_take(&Input::Request(old)));
    // A log of every entry needs the whole index; the newest two do not.
    assert!(!core.can_take(&Input::Request(log())));
    assert!(core.can_take(&Input::Request(log_n(2))));
    assert!(!core.can_take(&Input::Request(Request::Status)));
    // A peer's session waits too: what it brings may touch older entries.
    assert!(!core.can_take(&Input::SessionEnd { session: 1 }));
    assert!(core.can_take(&Input::SyncDown("no network".into())));
    assert!(matches!(ask(&mut core, early), Response::Entry { .. }));
    assert_eq!(
        texts(ask(&mut core, log_n(2))),
        set(&["written early", "two"])
    );

    core.rest_of_index(opening.read());
    assert!(core.can_take(&Input::Request(log())));
    let all = set(&["one", "two", "last june", "last week", "written early"]);
    assert_eq!(texts(ask(&mut core, log())), all);
    assert_eq!(
        reread(&core),
        0,
        "what the early write moved is in the view"
    );
    drop(core);

    // The index caught up with the early write: the next start is current
    // and reads no document again.
    let (core, j, current) = start(home.path());
    assert!(current);
    let mut core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(reread(&core), 0);
    assert_eq!(texts(ask(&mut core, log())), all);
}

#[test]
fn a_daemon_killed_before_the_rest_of_the_index_loses_no_early_write() {
    let (home, _) = home_with(&["one", "two"]);
    let (mut core, _opening) = start_early(home.path());
    let early = add_request("written early", "2026-11-25T22:00:00+01:00");
    assert!(matches!(ask(&mut core, early), Response::Entry { .. }));
    // Killed: the index was never written, so it lags the journal.
    drop(core);

    let (core, j, current) = start(home.path());
    assert!(!current, "the early write moved a document past the index");
    let mut core = core.loaded(j.unwrap()).unwrap();
    assert_eq!(reread(&core), 1);
    assert_eq!(
        texts(ask(&mut core, log())),
        set(&["one", "two", "written early"])
    );
}
