//! The core driven directly, on the in-memory store: no sockets, no
//! threads. These are the paths a real disk or a real peer rarely takes.

use std::collections::BTreeSet;

use hearth_ipc::{AddEntry, ErrorKind, Import, ImportItem, Init, Log, LogQuery, Request, Response};
use hearth_model::{Body, NewEntry};
use hearth_store::keyslot::SlotKey;
use hearth_store::{DocSet, FileKey};

use super::{Core, Input, Output};
use crate::couple_journal::CoupleJournal;
use crate::identity::IdentityFile;
use hearth_model::records::manifest::DocId;
use hearth_model::records::session_frame::SessionFrame;
use hearth_sync::SyncError;

const AT: &str = "2026-11-25T21:30:00+01:00";

fn at() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(AT).unwrap()
}

struct Rig {
    core: Core,
    _home: tempfile::TempDir,
}

fn open_journal(home: &std::path::Path, secret: &[u8; 32]) -> CoupleJournal {
    let (set, _) = DocSet::open(home, FileKey::for_tests(3), SlotKey::for_tests(4)).unwrap();
    CoupleJournal::open(set, secret, None).unwrap()
}

/// A ready core on a real store in a temp dir, not set up yet.
fn new_device() -> Rig {
    let home = tempfile::tempdir().unwrap();
    let file = IdentityFile {
        path: home.path().join("identity"),
        key: hearth_store::FileKey::for_tests(3),
    };
    let identity = file.load_or_create().unwrap();
    let journal = open_journal(home.path(), &identity.secret());
    let core = Core::new(identity, file, "mem".into(), Some(7))
        .loaded(journal)
        .unwrap();
    Rig { core, _home: home }
}

/// A ready core on a real store in a temp dir, set up as "Ana".
fn rig() -> Rig {
    let mut rig = new_device();
    let r = rig.ask(Request::Init(Init {
        name: "Ana".into(),
        device_name: "laptop".into(),
        day_start_hour: None,
        at: at(),
    }));
    assert!(matches!(r, Response::Inited { .. }), "{r:?}");
    rig
}

fn note(text: &str) -> NewEntry {
    NewEntry {
        body: Body::Note { text: text.into() },
        tags: BTreeSet::new(),
        starred: false,
        tender: None,
    }
}

impl Rig {
    fn ask(&mut self, req: Request) -> Response {
        match self.core.batch(vec![(Input::Request(req), ())]).pop() {
            Some((Output::Response(r), ())) => r,
            other => panic!("{other:?}"),
        }
    }

    /// Trusts a device the way `hearth peers add` does, and insists it worked.
    fn trust(&mut self, device: impl ToString) {
        let r = self.ask(Request::PeersAdd(hearth_ipc::PeersAdd {
            id: device.to_string(),
            addrs: vec![],
            at: at(),
        }));
        assert!(matches!(r, Response::Ok), "{r:?}");
    }

    fn add(&mut self, text: &str) -> Response {
        self.ask(Request::Add(AddEntry {
            entry: note(text),
            at: at(),
            private: false,
        }))
    }

    fn texts(&mut self) -> Vec<String> {
        match self.ask(Request::Log(Log {
            query: LogQuery::default(),
            at: at(),
        })) {
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

    fn heads(&self) -> crate::couple_journal::Checkpoint {
        match &self.core {
            Core::Ready(r) => r.journal.checkpoint(),
            Core::Loading(_) => panic!("not ready"),
        }
    }

    fn journal(&mut self) -> &mut CoupleJournal {
        match &mut self.core {
            Core::Ready(r) => &mut r.journal,
            Core::Loading(_) => panic!("not ready"),
        }
    }

    /// What a restart would find on the disk: a second journal opened on
    /// the same files, read-only here (the store's lock is per process, so
    /// the first journal is moved out for the read and put back).
    fn stored_texts(&mut self) -> BTreeSet<String> {
        let core = std::mem::replace(&mut self.core, placeholder(&self._home));
        let Core::Ready(ready) = core else {
            panic!("not ready")
        };
        let identity = ready.base.identity.clone();
        let identity_file = IdentityFile {
            path: self._home.path().join("identity"),
            key: hearth_store::FileKey::for_tests(3),
        };
        drop(ready);
        let mut journal = open_journal(self._home.path(), &identity.secret());
        let texts = journal
            .all_entries()
            .0
            .into_iter()
            .filter_map(|e| match e.body {
                Body::Note { text } => Some(text),
                _ => None,
            })
            .collect();
        self.core = Core::new(identity, identity_file, "mem".into(), Some(8))
            .loaded(journal)
            .unwrap();
        texts
    }

    fn fail_next_commits(&mut self, n: usize) {
        self.journal().fail_next_commits(n);
    }

    fn chunks(&mut self) -> usize {
        self.journal().chunk_count()
    }
}

/// A core standing in while the real one is moved out.
fn placeholder(home: &tempfile::TempDir) -> Core {
    let file = IdentityFile {
        path: home.path().join("identity"),
        key: hearth_store::FileKey::for_tests(3),
    };
    let identity = file.load_or_create().unwrap();
    Core::new(identity, file, "mem".into(), Some(9))
}

fn refused(r: &Response) -> (ErrorKind, String) {
    match r {
        Response::Error(e) => (e.kind, e.message.clone()),
        other => panic!("expected a refusal, got {other:?}"),
    }
}

#[test]
fn a_failed_commit_answers_not_saved_and_leaves_nothing() {
    let mut rig = rig();
    rig.add("kept");
    let heads = rig.heads();
    rig.fail_next_commits(1);
    let (kind, message) = refused(&rig.add("lost"));
    assert_eq!(kind, ErrorKind::Storage);
    assert!(message.starts_with("not saved:"), "{message}");
    assert_eq!(rig.heads(), heads, "the document is back to what is stored");
    assert_eq!(rig.texts(), ["kept"], "the view has nothing of it either");
    // The next write works, and only acknowledged writes are stored.
    assert!(matches!(rig.add("after"), Response::Entry { .. }));
    assert_eq!(
        rig.stored_texts(),
        BTreeSet::from(["kept".to_string(), "after".to_string()])
    );
}

#[test]
fn a_full_disk_refuses_writes_keeps_reads_and_recovers() {
    let mut rig = rig();
    rig.add("before");
    rig.fail_next_commits(usize::MAX);
    let (kind, message) = refused(&rig.add("while full"));
    assert_eq!(kind, ErrorKind::Storage);
    assert!(message.contains("No space left"), "{message}");
    assert_eq!(rig.texts(), ["before"], "reads still answer");
    rig.fail_next_commits(0);
    assert!(matches!(rig.add("after"), Response::Entry { .. }));
    assert_eq!(rig.texts().len(), 2);
}

#[test]
fn every_write_of_a_batch_shares_one_commit_and_one_fate() {
    let mut rig = rig();
    let chunks = rig.chunks();
    let work = (0..3)
        .map(|i| {
            let req = Request::Add(AddEntry {
                entry: note(&format!("n{i}")),
                at: at(),
                private: false,
            });
            (Input::Request(req), i)
        })
        .collect();
    let out = rig.core.batch(work);
    assert_eq!(out.len(), 3);
    assert_eq!(rig.chunks(), chunks + 1, "one commit for the batch");
    // When that one commit fails, every write in the batch says so.
    rig.fail_next_commits(1);
    let work = (0..2)
        .map(|i| {
            let req = Request::Add(AddEntry {
                entry: note(&format!("m{i}")),
                at: at(),
                private: false,
            });
            (Input::Request(req), i)
        })
        .collect();
    for (o, _) in rig.core.batch(work) {
        match o {
            Output::Response(r) => assert_eq!(refused(&r).0, ErrorKind::Storage),
            o => panic!("{o:?}"),
        }
    }
    assert_eq!(rig.texts().len(), 3);
}

#[test]
fn a_request_that_fails_halfway_is_rolled_back_whole() {
    let mut rig = rig();
    let heads = rig.heads();
    let item = |text: &str, fingerprint: &str| ImportItem {
        entry: note(text),
        written: at(),
        fingerprint: fingerprint.into(),
    };
    // The first entry is written before the second is refused.
    let too_long = "x".repeat(hearth_model::entry::MAX_TEXT + 1);
    let r = rig.ask(Request::Import(Import {
        entries: vec![item("first", "a"), item(&too_long, "b")],
        at: at(),
    }));
    let (kind, message) = refused(&r);
    assert_eq!(kind, ErrorKind::BadRequest);
    assert!(message.contains("nothing imported"), "{message}");
    assert_eq!(rig.heads(), heads);
    assert!(rig.texts().is_empty());
    assert!(rig.stored_texts().is_empty());
}

/// A session with `peer` starting, with the real frame cap.
fn session_start(session: u64, peer: hearth_sync::EndpointId) -> Input {
    Input::SessionStart {
        session,
        peer,
        max_frame: hearth_sync::MAX_FRAME,
    }
}

#[test]
fn bytes_from_a_peer_that_are_no_frame_drop_that_session_only() {
    let mut rig = rig();
    rig.add("mine");
    let heads = rig.heads();
    let (ben, sam) = (device(1), device(2));
    for d in [ben, sam] {
        rig.trust(d);
    }
    let start = |session, p| (session_start(session, p), ());
    rig.core.batch(vec![start(1, ben), start(2, sam)]);
    for junk in [&b"not a frame at all"[..], &[], &[0x42; 3]] {
        let out = rig.core.batch(vec![(
            Input::Receive {
                session: 1,
                frame: junk.to_vec(),
            },
            (),
        )]);
        match &out[0].0 {
            Output::Received(Err(SyncError::Rejected(_) | SyncError::NoSession)) => {}
            o => panic!("junk should end the session, got {o:?}"),
        }
    }
    assert_eq!(rig.heads(), heads, "nothing of it stays");
    // The refusal is counted against that device, in peers and status.
    match rig.core.batch(vec![(Input::Peers(vec![]), ())]).pop() {
        Some((Output::Response(Response::Peers(list)), ())) => {
            let refused = |d: hearth_sync::EndpointId| {
                list.peers
                    .iter()
                    .find(|p| p.id == d.to_string())
                    .map(|p| p.refused)
            };
            assert_eq!((refused(ben), refused(sam)), (Some(1), Some(0)));
        }
        other => panic!("{other:?}"),
    }
    match rig.ask(Request::Status) {
        Response::Status(s) => assert_eq!(s.refused.get(&ben.to_string()), Some(&1)),
        other => panic!("{other:?}"),
    }
    // A session's frames; none at all (no answer, which ends it in the
    // sync layer) for a session the core ended.
    let generated = |rig: &mut Rig, session| match rig
        .core
        .batch(vec![(Input::Generate { session }, ())])
        .pop()
    {
        Some((Output::Generated(m), ())) => Some(m),
        Some((Output::Nothing, ())) => None,
        o => panic!("{o:?}"),
    };
    assert!(generated(&mut rig, 1).is_none(), "session 1 is over");
    assert!(
        !generated(&mut rig, 2).unwrap().is_empty(),
        "the other session lives: the couple document goes to a paired device"
    );
    assert!(matches!(rig.add("still writing"), Response::Entry { .. }));
}

#[test]
fn a_message_that_would_make_automerge_panic_ends_that_session_only() {
    use hearth_model::records::exchange::Frame;
    use hearth_model::records::manifest::DocId;
    use hearth_model::records::session_frame::SessionFrame;
    let mut rig = rig();
    rig.add("mine");
    let (ben, sam) = (device(1), device(2));
    for d in [ben, sam] {
        rig.trust(d);
    }
    let start = |session, p| (session_start(session, p), ());
    rig.core.batch(vec![start(1, ben), start(2, sam)]);
    // A sync message (found by fuzzing) that Automerge takes in, then
    // panics on when asked for the reply: its bloom filter has zero bits
    // per entry.
    let poisoned = SessionFrame::Doc(Frame {
        doc: DocId::Couple,
        signed: vec![],
        message: vec![
            0x43, 0x00, 0x00, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd6, 0x00,
            0x01, 0x00,
        ],
    })
    .encode()
    .unwrap();
    let receive = |rig: &mut Rig, frame: &[u8]| match rig
        .core
        .batch(vec![(
            Input::Receive {
                session: 1,
                frame: frame.to_vec(),
            },
            (),
        )])
        .pop()
    {
        Some((Output::Received(r), ())) => r,
        o => panic!("{o:?}"),
    };
    // A session's frames; none at all (no answer, which ends it in the
    // sync layer) for a session the core ended.
    let generated = |rig: &mut Rig, session| match rig
        .core
        .batch(vec![(Input::Generate { session }, ())])
        .pop()
    {
        Some((Output::Generated(m), ())) => Some(m),
        Some((Output::Nothing, ())) => None,
        o => panic!("{o:?}"),
    };
    // The wire check refuses its bloom filter before Automerge sees it.
    let first = receive(&mut rig, &poisoned);
    assert!(
        matches!(&first, Err(SyncError::Rejected(why)) if why.contains("bloom filter")),
        "{first:?}"
    );
    assert!(generated(&mut rig, 1).is_none(), "session 1 is over");
    assert!(
        matches!(receive(&mut rig, &poisoned), Err(SyncError::NoSession)),
        "session 1 is over"
    );
    assert!(
        !generated(&mut rig, 2).unwrap().is_empty(),
        "the other session lives"
    );
    assert!(matches!(rig.add("still writing"), Response::Entry { .. }));
}

fn device(byte: u8) -> hearth_sync::EndpointId {
    hearth_sync::device_id(&[byte; 32])
}

fn addr(port: u16) -> std::net::SocketAddr {
    std::net::SocketAddr::from(([127, 0, 0, 1], port))
}

impl Rig {
    /// Where the core would dial each trusted device, as `peers list` says.
    fn known_addrs(&mut self) -> std::collections::BTreeMap<String, Vec<String>> {
        match self.core.batch(vec![(Input::Peers(vec![]), ())]).pop() {
            Some((Output::Response(Response::Peers(list)), ())) => {
                list.peers.into_iter().map(|p| (p.id, p.addrs)).collect()
            }
            other => panic!("{other:?}"),
        }
    }

    fn hear(&mut self, from: hearth_sync::EndpointId, hello: hearth_sync::Hello) {
        let out = self
            .core
            .batch(vec![(Input::Heard { peer: from, hello }, ())]);
        assert!(matches!(out[..], [(Output::Nothing, ())]), "{out:?}");
    }
}

#[test]
fn a_hello_teaches_addresses_of_trusted_devices_only_and_first_hand_wins() {
    let mut rig = rig();
    let me: hearth_sync::EndpointId = rig.core.identity().device.as_str().parse().unwrap();
    let (ben, sam, stranger) = (device(1), device(2), device(3));
    for d in [ben, sam] {
        rig.trust(d);
    }
    // A stranger's hello teaches nothing, not even about trusted devices.
    rig.hear(
        stranger,
        hearth_sync::Hello {
            addrs: vec![addr(9)],
            known: vec![(ben, vec![addr(9)])],
        },
    );
    assert!(rig.known_addrs().values().all(Vec::is_empty));
    // Ben's hello: his own address, Sam's second-hand; what it says of a
    // stranger (until trusted), of this device or of Ben himself
    // second-hand is not used.
    rig.hear(
        ben,
        hearth_sync::Hello {
            addrs: vec![addr(1)],
            known: vec![
                (sam, vec![addr(2)]),
                (stranger, vec![addr(3)]),
                (me, vec![addr(4)]),
                (ben, vec![addr(5)]),
            ],
        },
    );
    let known = rig.known_addrs();
    assert_eq!(known[&ben.to_string()], ["127.0.0.1:1"]);
    assert_eq!(known[&sam.to_string()], ["127.0.0.1:2"]);
    assert!(!known.contains_key(&stranger.to_string()));
    // Sam's own word beats Ben's, and Ben cannot take it back.
    rig.hear(
        sam,
        hearth_sync::Hello {
            addrs: vec![addr(6)],
            known: vec![],
        },
    );
    rig.hear(
        ben,
        hearth_sync::Hello {
            addrs: vec![addr(1)],
            known: vec![(sam, vec![addr(7)])],
        },
    );
    assert_eq!(rig.known_addrs()[&sam.to_string()], ["127.0.0.1:6"]);
    // Removing Sam forgets where Sam was, on disk too.
    let r = rig.ask(Request::PeersRemove(hearth_ipc::PeersRemove {
        id: sam.to_string(),
        at: at(),
    }));
    assert!(matches!(r, Response::Ok), "{r:?}");
    let file = rig._home.path().join("identity");
    let book = crate::addresses::AddressBook::load(
        file.parent().unwrap(),
        hearth_store::FileKey::for_tests(3),
    );
    assert_eq!(book.addrs(&ben.to_string()), [addr(1)]);
    assert!(book.addrs(&sam.to_string()).is_empty());
    // What Ben said of a device before it was trusted waits in memory, and
    // is used once a change makes it trusted: a hello can arrive just
    // before the change that introduces the device.
    rig.trust(stranger);
    assert_eq!(rig.known_addrs()[&stranger.to_string()], ["127.0.0.1:3"]);
}

#[test]
fn reads_ahead_of_a_write_are_answered_without_waiting_for_its_commit() {
    let log = || {
        Input::Request(Request::Log(Log {
            query: LogQuery::default(),
            at: at(),
        }))
    };
    let write = || {
        Input::Request(Request::Add(AddEntry {
            entry: note("later"),
            at: at(),
            private: false,
        }))
    };
    let batch = vec![
        (log(), 1),
        (Input::Peers(vec![]), 2),
        (write(), 3),
        (log(), 4),
    ];
    let [now, after] = super::split_leading_reads(batch);
    assert_eq!(now.iter().map(|(_, t)| *t).collect::<Vec<_>>(), [1, 2]);
    // A read after the write sees it, so it waits with it.
    assert_eq!(after.iter().map(|(_, t)| *t).collect::<Vec<_>>(), [3, 4]);
    let peer = hearth_sync::SecretKey::from_bytes(&[9; 32]).public();
    for first in [write(), session_start(1, peer)] {
        let [now, after] = super::split_leading_reads(vec![(first, 1), (log(), 2)]);
        assert!(now.is_empty());
        assert_eq!(after.len(), 2);
    }
    assert!(!Input::Request(Request::Shutdown).is_read());
    // Each part is committed before it is answered: the write's part
    // leaves the entry durable.
    let mut rig = rig();
    let [reads, rest] = super::split_leading_reads(vec![(log(), ()), (write(), ())]);
    rig.core.batch(reads);
    rig.core.batch(rest);
    assert!(rig.stored_texts().contains("later"));
}

#[test]
fn a_paired_device_founds_no_partner_before_its_couple_document_agrees_with_the_peers() {
    let mut rig = new_device();
    let peer = device(5);
    let out = rig.core.batch(vec![(
        Input::Trust {
            peer,
            addrs: vec![],
        },
        (),
    )]);
    assert!(matches!(out[0].0, Output::Trusted(Ok(_))), "{:?}", out[0].0);
    let init = |rig: &mut Rig| {
        rig.ask(Request::Init(Init {
            name: "Ana".into(),
            device_name: "desktop".into(),
            day_start_hour: None,
            at: at(),
        }))
    };
    // Paired, and nothing heard yet: the peer's certificate may be on its
    // way, so nothing is founded.
    let (kind, why) = refused(&init(&mut rig));
    assert_eq!(kind, ErrorKind::BadRequest);
    assert!(
        why.contains("not synced with the device it paired with"),
        "{why}"
    );
    assert!(rig.journal().partners().is_empty());

    // The peer says it holds another couple document: still not agreed.
    let row = |heads: Vec<automerge::ChangeHash>| {
        SessionFrame::Manifest {
            doc: DocId::Couple,
            heads: heads.into_iter().map(|h| h.0).collect(),
            keys: None,
        }
        .encode()
        .unwrap()
    };
    rig.core.batch(vec![(session_start(1, peer), ())]);
    rig.core.batch(vec![(
        Input::Receive {
            session: 1,
            frame: row(vec![automerge::ChangeHash([9; 32])]),
        },
        (),
    )]);
    assert!(refused(&init(&mut rig)).1.contains("not synced"));

    // It holds the same one, with no partner in it: two new devices paired,
    // and this one may found the couple's first partner.
    let ours = rig.journal().couple_heads();
    rig.core.batch(vec![(
        Input::Receive {
            session: 1,
            frame: row(ours),
        },
        (),
    )]);
    let r = init(&mut rig);
    assert!(matches!(r, Response::Inited { .. }), "{r:?}");
    assert_eq!(rig.journal().partners().len(), 1);
}

#[test]
fn a_log_in_pages_holds_every_match_once_in_the_order_of_one_reply() {
    let mut rig = rig();
    // Written in one instant: the order within it is the ids', which the
    // page cursor must keep too.
    for n in 0..7 {
        assert!(matches!(
            rig.add(&format!("note {n}")),
            Response::Entry { .. }
        ));
    }
    let whole = rig.texts();
    assert_eq!(whole.len(), 7);
    let (mut paged, mut pages, mut after) = (Vec::new(), 0, None);
    loop {
        let query = LogQuery {
            after,
            page: Some(3),
            ..LogQuery::default()
        };
        let list = match rig.ask(Request::Log(Log { query, at: at() })) {
            Response::Entries(list) => list,
            r => panic!("{r:?}"),
        };
        pages += 1;
        assert!(list.entries.len() <= 3);
        paged.extend(list.entries.iter().filter_map(|e| match &e.body {
            Body::Note { text } => Some(text.clone()),
            _ => None,
        }));
        match list.next {
            Some(last) => after = Some(last),
            None => break,
        }
    }
    assert_eq!(paged, whole);
    assert_eq!(pages, 3);
    let mut refusal = |query: LogQuery| refused(&rig.ask(Request::Log(Log { query, at: at() }))).1;
    let msg = refusal(LogQuery {
        after: Some(hearth_model::EntryId::from_parts(1_000, 1)),
        page: Some(3),
        ..LogQuery::default()
    });
    assert!(msg.contains("names no entry"), "{msg}");
    let msg = refusal(LogQuery {
        page: Some(0),
        ..LogQuery::default()
    });
    assert!(msg.contains("at least 1"), "{msg}");
}

/// An entry as the index keeps it, `n` seconds into the test's day.
fn indexed_note(n: u64) -> hearth_model::Entry {
    let ms = 1_796_600_000_000 + n * 1_000;
    hearth_model::Entry {
        id: hearth_model::EntryId::from_parts(ms, u128::from(n)),
        author: hearth_model::PartnerId("ab".repeat(16).into()),
        device: hearth_model::DeviceId("cd".repeat(32).into()),
        created: chrono::DateTime::from_timestamp_millis(ms as i64)
            .unwrap()
            .fixed_offset(),
        day: chrono::NaiveDate::from_ymd_opt(2026, 12, 7).unwrap(),
        tags: Default::default(),
        starred: false,
        tender: false,
        private: false,
        edited: None,
        deleted: None,
        resolved: None,
        body: Body::Note {
            text: format!("note {n}"),
        },
        conflicts: Default::default(),
    }
}

#[test]
fn a_start_answers_log_n_from_the_newest_weeks_only_when_they_hold_n_matches() {
    let home = tempfile::tempdir().unwrap();
    let mut core = placeholder(&home);
    let log = |query: LogQuery| Input::Request(Request::Log(Log { query, at: at() }));
    let newest = |n: usize| LogQuery {
        limit: Some(n),
        ..LogQuery::default()
    };
    assert!(!core.can_take(&log(newest(2))), "nothing read yet");
    let mut view = hearth_model::View::default();
    for n in 10..13 {
        let e = indexed_note(n);
        view.entries.insert(e.id, Box::new(e));
    }
    core.recent(hearth_store::index::Recent { view, from_page: 0 });
    // The two newest are there: answered, as the whole index would.
    assert!(core.can_take(&log(newest(2))));
    let texts = match core.batch(vec![(log(newest(2)), ())]).pop() {
        Some((Output::Response(Response::Entries(list)), ())) => list
            .entries
            .iter()
            .map(|e| match &e.body {
                Body::Note { text } => text.clone(),
                _ => String::new(),
            })
            .collect::<Vec<_>>(),
        other => panic!("{other:?}"),
    };
    assert_eq!(texts, ["note 11", "note 12"]);
    // A search that finds its one match there too.
    assert!(core.can_take(&log(LogQuery {
        contains: Some("note 10".into()),
        ..newest(1)
    })));
    // What the newest weeks cannot settle waits for the whole index: more
    // than they hold, a search they do not satisfy, no limit, a page.
    for query in [
        newest(4),
        LogQuery {
            contains: Some("note 3".into()),
            ..newest(1)
        },
        LogQuery::default(),
        LogQuery {
            page: Some(2),
            ..newest(2)
        },
        LogQuery {
            after: Some(indexed_note(12).id),
            ..newest(2)
        },
    ] {
        assert!(!core.can_take(&log(query.clone())), "{query:?}");
    }
    // A partner's answer I have not answered is hidden here, and my own
    // answer that would open it may be older than these weeks: that waits.
    let mut view = hearth_model::View::default();
    let mut answer = indexed_note(20);
    answer.body = Body::Answer {
        prompt: "p-1".into(),
        text: "an answer".into(),
    };
    view.entries.insert(answer.id, Box::new(answer));
    core.recent(hearth_store::index::Recent { view, from_page: 0 });
    assert!(!core.can_take(&log(newest(1))));
    // Anything else still waits for the documents.
    assert!(!core.can_take(&Input::Request(Request::Add(AddEntry {
        entry: note("later"),
        at: at(),
        private: false,
    }))));
}
