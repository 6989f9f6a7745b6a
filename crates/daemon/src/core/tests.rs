//! The core driven directly, on the in-memory store: no sockets, no
//! threads. These are the paths a real disk or a real peer rarely takes.

use std::collections::BTreeSet;

use hearth_ipc::{AddEntry, ErrorKind, Import, ImportItem, Init, Log, LogQuery, Request, Response};
use hearth_model::{Body, Journal, NewEntry};
use hearth_store::{MemDisk, MemStore};

use super::{Core, Input, Output};
use crate::identity::IdentityFile;
use hearth_sync::SyncError;

const AT: &str = "2026-11-25T21:30:00+01:00";

fn at() -> chrono::DateTime<chrono::FixedOffset> {
    chrono::DateTime::parse_from_rfc3339(AT).unwrap()
}

struct Rig {
    core: Core,
    disk: MemDisk,
    _home: tempfile::TempDir,
}

/// A ready core on an in-memory disk, set up as "Ana".
fn rig() -> Rig {
    let home = tempfile::tempdir().unwrap();
    let file = IdentityFile {
        path: home.path().join("identity"),
        key: hearth_store::FileKey::for_tests(3),
    };
    let identity = file.load_or_create().unwrap();
    let base = Journal::new(identity.actor()).doc().clone();
    let disk = MemDisk::new();
    let core = Core::new(identity, file, "mem".into(), None, Some(7))
        .loaded(MemStore::open(&disk, base).unwrap().boxed())
        .unwrap();
    let mut rig = Rig {
        core,
        disk,
        _home: home,
    };
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

    fn add(&mut self, text: &str) -> Response {
        self.ask(Request::Add(AddEntry {
            entry: note(text),
            at: at(),
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

    fn heads(&self) -> Vec<automerge::ChangeHash> {
        match &self.core {
            Core::Ready(r) => r.journal.heads(),
            Core::Loading(_) => panic!("not ready"),
        }
    }

    /// What a restart would find on the disk.
    fn stored_texts(&self) -> BTreeSet<String> {
        let base = Journal::new(self.core.identity().actor()).doc().clone();
        let doc = MemStore::open(&self.disk, base).unwrap().doc;
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
    rig.disk.fail_next_appends(1);
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
    rig.disk.set_full(true);
    let (kind, message) = refused(&rig.add("while full"));
    assert_eq!(kind, ErrorKind::Storage);
    assert!(message.contains("No space left"), "{message}");
    assert_eq!(rig.texts(), ["before"], "reads still answer");
    rig.disk.set_full(false);
    assert!(matches!(rig.add("after"), Response::Entry { .. }));
    assert_eq!(rig.texts().len(), 2);
}

#[test]
fn every_write_of_a_batch_shares_one_commit_and_one_fate() {
    let mut rig = rig();
    let appends = rig.disk.appends();
    let work = (0..3)
        .map(|i| {
            let req = Request::Add(AddEntry {
                entry: note(&format!("n{i}")),
                at: at(),
            });
            (Input::Request(req), i)
        })
        .collect();
    let out = rig.core.batch(work);
    assert_eq!(out.len(), 3);
    assert_eq!(rig.disk.appends(), appends + 1, "one commit for the batch");
    // When that one commit fails, every write in the batch says so.
    rig.disk.fail_next_appends(1);
    let work = (0..2)
        .map(|i| {
            let req = Request::Add(AddEntry {
                entry: note(&format!("m{i}")),
                at: at(),
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

/// A message whose bloom filter has zero bits per entry: Automerge divides
/// by zero answering it. The wire decoder refuses it; here it reaches the
/// core anyway, as a bug in that check would let it.
fn poisoned_message() -> automerge::sync::Message {
    let bytes = [
        0x43, 0x00, 0x00, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd6, 0x00, 0x01,
        0x00,
    ];
    automerge::sync::Message::decode(&bytes).unwrap()
}

#[test]
fn a_panic_applying_a_peers_message_drops_that_session_only() {
    let mut rig = rig();
    rig.add("mine");
    let heads = rig.heads();
    let peer = |n: u8| hearth_sync::SecretKey::from_bytes(&[n; 32]).public();
    let start = |session, p| (session_start(session, p), ());
    rig.core.batch(vec![start(1, peer(1)), start(2, peer(2))]);

    let out = rig.core.batch(vec![(
        Input::Receive {
            session: 1,
            msg: Box::new(poisoned_message()),
        },
        (),
    )]);
    match &out[0].0 {
        Output::Received(Err(SyncError::Panicked | SyncError::Rejected(_))) => {}
        o => panic!("the poisoned session should fail, got {o:?}"),
    }
    assert_eq!(rig.heads(), heads, "nothing of it stays");
    // That session is gone; the other still syncs, and the CLI still works.
    let generated = |rig: &mut Rig, session| match rig
        .core
        .batch(vec![(Input::Generate { session }, ())])
        .pop()
    {
        Some((Output::Generated(m), ())) => m,
        o => panic!("{o:?}"),
    };
    assert!(generated(&mut rig, 1).is_empty());
    assert!(
        !generated(&mut rig, 2).is_empty(),
        "the other session lives"
    );
    assert!(matches!(rig.add("still writing"), Response::Entry { .. }));
}

/// A session with `peer` starting, with the real frame cap.
fn session_start(session: u64, peer: hearth_sync::EndpointId) -> Input {
    Input::SessionStart {
        session,
        peer,
        max_frame: hearth_sync::MAX_FRAME,
    }
}

/// Syncs the core's session `session` with `peer`, a raw document, until
/// neither side has more to say; the first refusal ends it.
fn sync_with(
    rig: &mut Rig,
    session: u64,
    peer: &mut automerge::Automerge,
) -> Result<(), SyncError> {
    use automerge::sync::{Message, State, SyncDoc};
    let mut state = State::new();
    for _ in 0..20 {
        let ours = match rig
            .core
            .batch(vec![(Input::Generate { session }, ())])
            .pop()
        {
            Some((Output::Generated(m), ())) => m,
            o => panic!("{o:?}"),
        };
        for bytes in &ours {
            peer.receive_sync_message(&mut state, Message::decode(bytes).unwrap())
                .unwrap();
        }
        match peer.generate_sync_message(&mut state) {
            Some(msg) => {
                let input = Input::Receive {
                    session,
                    msg: Box::new(msg),
                };
                match rig.core.batch(vec![(input, ())]).pop() {
                    // The core answers a message with its reply; a peer
                    // that dropped it would wait for one that never comes.
                    Some((Output::Received(Ok(got)), ())) => {
                        for bytes in &got.reply {
                            peer.receive_sync_message(&mut state, Message::decode(bytes).unwrap())
                                .unwrap();
                        }
                    }
                    Some((Output::Received(Err(e)), ())) => return Err(e),
                    o => panic!("{o:?}"),
                }
            }
            None if ours.is_empty() => return Ok(()),
            None => {}
        }
    }
    panic!("the sync did not settle in 20 rounds");
}

/// Ben's device: a copy of the rig's document under its own actor.
fn peer_device(rig: &Rig, actor: u8) -> automerge::Automerge {
    match &rig.core {
        Core::Ready(r) => r
            .journal
            .doc()
            .fork()
            .with_actor(automerge::ActorId::from(&[actor; 16][..])),
        Core::Loading(_) => panic!("not ready"),
    }
}

/// Ben's device writing `text` as a note, past the checks `add_entry` makes,
/// as a modified or hostile build would.
fn peer_writes(peer: &mut automerge::Automerge, n: u64, text: &str) {
    use automerge::{ROOT, ReadDoc, transaction::Transactable};
    let mut journal = Journal::from_doc(peer.clone()).unwrap();
    let ctx = hearth_model::WriteCtx {
        author: hearth_model::PartnerId("ben".into()),
        device: hearth_model::DeviceId("phone".into()),
        now: at(),
    };
    let id = hearth_model::EntryId::from_parts(1_764_100_000_000 + n, n.into());
    journal.add_entry(&ctx, &note("short"), id).unwrap();
    *peer = journal.doc().clone();
    let (_, entries) = peer.get(ROOT, "entries").unwrap().unwrap();
    let (_, entry) = peer.get(&entries, id.key()).unwrap().unwrap();
    peer.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(&entry, "text", text))
        .unwrap();
}

#[test]
fn a_peers_entry_over_the_text_limit_is_refused_whole_and_ends_that_session() {
    let mut rig = rig();
    rig.add("mine");
    let mut ben = peer_device(&rig, 9);
    let peer = hearth_sync::SecretKey::from_bytes(&[9; 32]).public();
    let start = |session| session_start(session, peer);

    // At the limit, a peer's note is taken like any other.
    let at_limit = "y".repeat(hearth_model::entry::MAX_TEXT);
    peer_writes(&mut ben, 1, &at_limit);
    rig.core.batch(vec![(start(1), ())]);
    sync_with(&mut rig, 1, &mut ben).unwrap();
    assert!(rig.texts().contains(&at_limit));
    let heads = rig.heads();

    // One byte over, and nothing of that message stays.
    let over = "z".repeat(hearth_model::entry::MAX_TEXT + 1);
    peer_writes(&mut ben, 2, &over);
    rig.core.batch(vec![(start(2), ())]);
    match sync_with(&mut rig, 2, &mut ben) {
        Err(SyncError::Rejected(why)) => assert!(why.contains("too long"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(rig.heads(), heads, "the document is as before the message");
    assert!(!rig.texts().contains(&over), "the view never showed it");
    assert!(!rig.stored_texts().contains(&over), "nothing was written");
    assert!(
        matches!(
            rig.core
                .batch(vec![(Input::Generate { session: 2 }, ())])
                .pop(),
            Some((Output::Generated(ref m), ())) if m.is_empty()
        ),
        "that session is over"
    );
    assert!(matches!(rig.add("still writing"), Response::Entry { .. }));
}

/// Letters from a seeded generator: text that barely compresses.
fn noise(mut seed: u64) -> impl FnMut(usize) -> String {
    move |len| {
        (0..len)
            .map(|_| {
                seed = seed
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                char::from(b'a' + (seed >> 59) as u8 % 26)
            })
            .collect()
    }
}

#[test]
fn a_bulk_message_with_one_entry_over_the_limit_is_refused_whole() {
    let mut rig = rig();
    rig.add("mine");
    let heads = rig.heads();
    let mut ben = peer_device(&rig, 8);
    // Text that does not compress, so the message is over the size at which
    // the core rebuilds the whole view instead of re-reading the touched entries.
    let mut noise = noise(7);
    // 12 × 64 KiB of 26 letters is about 460 KiB even compressed.
    for n in 1..=12 {
        peer_writes(&mut ben, n, &noise(hearth_model::entry::MAX_TEXT));
    }
    peer_writes(&mut ben, 13, &noise(hearth_model::entry::MAX_TEXT + 1));
    let peer = hearth_sync::SecretKey::from_bytes(&[8; 32]).public();
    rig.core.batch(vec![(session_start(1, peer), ())]);
    match sync_with(&mut rig, 1, &mut ben) {
        Err(SyncError::Rejected(why)) => assert!(why.contains("too long"), "{why}"),
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert_eq!(rig.heads(), heads);
    assert_eq!(rig.texts(), ["mine"], "none of the 13 entries stays");
    assert_eq!(rig.stored_texts(), BTreeSet::from(["mine".to_string()]));
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
        let r = rig.ask(Request::PeersAdd(hearth_ipc::PeersAdd {
            id: d.to_string(),
            addrs: vec![],
            at: at(),
        }));
        assert!(matches!(r, Response::Ok), "{r:?}");
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
    let r = rig.ask(Request::PeersAdd(hearth_ipc::PeersAdd {
        id: stranger.to_string(),
        addrs: vec![],
        at: at(),
    }));
    assert!(matches!(r, Response::Ok), "{r:?}");
    assert_eq!(rig.known_addrs()[&stranger.to_string()], ["127.0.0.1:3"]);
}

/// Ben's device puts `value` at `key` of the first object of the root map
/// `map`, past every check, as a modified build would.
fn peer_puts(peer: &mut automerge::Automerge, map: &str, key: &str, value: &str) {
    use automerge::{ROOT, ReadDoc, transaction::Transactable};
    let (_, obj) = peer.get(ROOT, map).unwrap().unwrap();
    let first = peer.map_range(&obj, ..).next().unwrap();
    let (target, key) = match &first.value {
        automerge::ValueRef::Object(_) => (first.id(), key.to_string()),
        // Flat maps (devices): `<id>/<field>`.
        _ => (
            obj.clone(),
            format!("{}/{key}", first.key.split('/').next().unwrap()),
        ),
    };
    peer.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(&target, key, value))
        .unwrap();
}

#[test]
fn a_peers_name_ritual_or_prompt_over_its_limit_is_refused_whole() {
    let mut rig = rig();
    let r = rig.ask(Request::RitualAdd(hearth_ipc::RitualAdd {
        name: "walk".into(),
        kind: "custom".into(),
        cadence: hearth_model::Cadence::Daily,
        owner: hearth_ipc::OwnerArg::Both,
        fulfilled_by: None,
        at: at(),
    }));
    assert!(!matches!(r, Response::Error(_)), "{r:?}");
    let r = rig.ask(Request::PromptAdd(hearth_ipc::PromptAdd {
        text: "What made you laugh?".into(),
        theme: hearth_model::deck::Theme::Day,
        at: at(),
    }));
    assert!(!matches!(r, Response::Error(_)), "{r:?}");
    // Locally, a name over the limit is refused in one line.
    let r = rig.ask(Request::RitualAdd(hearth_ipc::RitualAdd {
        name: "n".repeat(hearth_model::MAX_NAME + 1),
        kind: "custom".into(),
        cadence: hearth_model::Cadence::Daily,
        owner: hearth_ipc::OwnerArg::Both,
        fulfilled_by: None,
        at: at(),
    }));
    assert!(refused(&r).1.contains("too long"), "{r:?}");

    let peer = hearth_sync::SecretKey::from_bytes(&[9; 32]).public();
    let name_at = "a".repeat(hearth_model::MAX_NAME);
    let name_over = "b".repeat(hearth_model::MAX_NAME + 1);
    let prompt_over = "c".repeat(hearth_model::MAX_PROMPT + 1);
    let cases = [
        ("partners", "name", &name_over),
        ("devices", "name", &name_over),
        ("rituals", "name", &name_over),
        ("rituals", "kind", &name_over),
        ("prompts", "text", &prompt_over),
    ];
    for (session, (map, key, value)) in (1..).zip(cases) {
        // At the limit, Ben's rename of the ritual is taken...
        let mut ben = peer_device(&rig, 9);
        peer_puts(&mut ben, "rituals", "name", &name_at);
        rig.core.batch(vec![(session_start(session, peer), ())]);
        sync_with(&mut rig, session, &mut ben).unwrap();
        let heads = rig.heads();
        // ...one byte over any limit, and nothing of the message stays.
        peer_puts(&mut ben, map, key, value);
        let session = session + 100;
        rig.core.batch(vec![(session_start(session, peer), ())]);
        match sync_with(&mut rig, session, &mut ben) {
            Err(SyncError::Rejected(why)) => assert!(why.contains("too long"), "{map}: {why}"),
            other => panic!("{map}.{key}: expected a refusal, got {other:?}"),
        }
        assert_eq!(rig.heads(), heads, "{map}.{key}: the document is as before");
    }
}

/// Ben's device writes note `n`, then breaks its shape (a kind no build
/// knows), as a modified build would.
fn peer_writes_malformed(peer: &mut automerge::Automerge, n: u64) {
    use automerge::{ROOT, ReadDoc, transaction::Transactable};
    peer_writes(peer, n, "fine so far");
    let id = hearth_model::EntryId::from_parts(1_764_100_000_000 + n, n.into());
    let (_, entries) = peer.get(ROOT, "entries").unwrap().unwrap();
    let (_, entry) = peer.get(&entries, id.key()).unwrap().unwrap();
    peer.transact::<_, _, automerge::AutomergeError>(|tx| tx.put(&entry, "kind", "poem"))
        .unwrap();
}

#[test]
fn a_peers_malformed_entry_is_refused_whole_in_small_and_bulk_messages() {
    for bulk in [false, true] {
        let mut rig = rig();
        rig.add("mine");
        let heads = rig.heads();
        let mut ben = peer_device(&rig, 6);
        if bulk {
            // Over the size at which the core rebuilds the whole view.
            let mut noise = noise(11);
            for n in 1..=12 {
                peer_writes(&mut ben, n, &noise(hearth_model::entry::MAX_TEXT));
            }
        }
        peer_writes_malformed(&mut ben, 20);
        let peer = hearth_sync::SecretKey::from_bytes(&[6; 32]).public();
        rig.core.batch(vec![(session_start(1, peer), ())]);
        match sync_with(&mut rig, 1, &mut ben) {
            Err(SyncError::Rejected(why)) => assert!(why.contains("malformed"), "{bulk}: {why}"),
            other => panic!("bulk {bulk}: expected a refusal, got {other:?}"),
        }
        assert_eq!(rig.heads(), heads, "bulk {bulk}");
        assert_eq!(rig.texts(), ["mine"], "bulk {bulk}: nothing of it stays");
    }
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
