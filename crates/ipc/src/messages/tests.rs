//! Every request and reply survives the trip through JSON whole. The
//! samples are indexed by an exhaustive `match`, so a new variant does not
//! compile until it is numbered, and the test fails until it has a sample.

use super::*;
use hearth_model::insight::{ReviewInput, review};
use hearth_model::ritual::Owner;
use hearth_model::{Body, DayBoundary, Journal, WriteCtx};

fn at() -> DateTime<FixedOffset> {
    DateTime::parse_from_rfc3339("2026-11-25T21:30:00+01:00").unwrap()
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 11, 25).unwrap()
}

fn new_entry() -> NewEntry {
    NewEntry {
        body: Body::Checkin {
            mood: "good".parse().unwrap(),
            energy: None,
            need: None,
            note: "tired but fine".into(),
        },
        tags: ["work".to_string()].into(),
        starred: true,
        tender: Some(true),
    }
}

/// A real entry, as the model writes it.
fn entry() -> Entry {
    let mut j = Journal::new(automerge::ActorId::from(b"sample".as_slice()));
    let ctx = WriteCtx {
        author: PartnerId("ana".into()),
        device: DeviceId("laptop".into()),
        now: at(),
    };
    j.add_entry(
        &ctx,
        &new_entry(),
        EntryId::from_parts(1_700_000_000_000, 7),
    )
    .unwrap()
}

fn ritual() -> Ritual {
    Ritual {
        id: "r1".into(),
        name: "Date night".into(),
        kind: "date-night".into(),
        cadence: Cadence::Daily,
        owner: Owner::Together,
        fulfilled_by: Some(Kind::Note),
        created: at(),
        archived: None,
    }
}

fn done() -> RitualDone {
    RitualDone {
        ritual: "r1".into(),
        occurrence: day(),
        partner: PartnerId("ana".into()),
        device: DeviceId("laptop".into()),
        at: at(),
        entry: Some(entry().id),
    }
}

fn names() -> BTreeMap<PartnerId, String> {
    [(PartnerId("ana".into()), "Ana".to_string())].into()
}

fn prompt() -> Prompt {
    Journal::new(automerge::ActorId::from(b"sample".as_slice())).prompts()[0].clone()
}

fn request_index(r: &Request) -> usize {
    match r {
        Request::Status => 0,
        Request::Init(_) => 1,
        Request::Rename(_) => 2,
        Request::Add(_) => 3,
        Request::Edit(_) => 4,
        Request::Delete(_) => 5,
        Request::Show(_) => 6,
        Request::Log(_) => 7,
        Request::RitualAdd(_) => 8,
        Request::RitualList(_) => 9,
        Request::RitualDone(_) => 10,
        Request::RitualChange(_) => 11,
        Request::RitualRemove(_) => 12,
        Request::Due(_) => 13,
        Request::Prompt(_) => 14,
        Request::PromptList => 15,
        Request::PromptSkip(_) => 16,
        Request::RepairResolve(_) => 17,
        Request::Review(_) => 18,
        Request::Mood(_) => 19,
        Request::OnThisDay(_) => 20,
        Request::Export(_) => 21,
        Request::ExportDocument => 22,
        Request::Import(_) => 23,
        Request::PromptAdd(_) => 24,
        Request::PairInvite(_) => 25,
        Request::PairWait => 26,
        Request::PairJoin(_) => 27,
        Request::PairConfirm(_) => 28,
        Request::PeersAdd(_) => 29,
        Request::PeersRemove(_) => 30,
        Request::Peers => 31,
        Request::Sync(_) => 32,
        Request::Shutdown => 33,
        Request::Unlock(_) => 34,
        Request::PeersApprove(_) => 35,
        Request::Notices(_) => 36,
    }
}

fn requests() -> Vec<Request> {
    let at = at();
    vec![
        Request::Status,
        Request::Init(Init {
            name: "Ana".into(),
            device_name: "laptop".into(),
            day_start_hour: Some(4),
            at,
        }),
        Request::Rename(Rename {
            name: "Anna".into(),
            at,
        }),
        Request::Add(AddEntry {
            entry: new_entry(),
            at,
            private: false,
        }),
        Request::Edit(EditEntry {
            id: "01".into(),
            patch: EntryPatch {
                body: Some(Body::Note { text: "t".into() }),
                tags: Some(["a".to_string()].into()),
                starred: Some(false),
                tender: None,
                private: Some(true),
            },
            at,
        }),
        Request::Delete(DeleteEntry {
            id: "01".into(),
            at,
        }),
        Request::Show(ShowEntry { id: "01".into() }),
        Request::Log(Log {
            query: LogQuery {
                since: Some("yesterday".into()),
                until: None,
                kinds: vec![Kind::Note],
                authors: vec!["me".into()],
                tags: vec!["a".into()],
                starred: true,
                contains: Some("x".into()),
                regex: true,
                limit: Some(3),
                include_deleted: true,
                private: true,
                after: Some(EntryId::from_parts(1_796_600_000_000, 7)),
                page: Some(500),
            },
            at,
        }),
        Request::RitualAdd(RitualAdd {
            name: "Walk".into(),
            kind: "custom".into(),
            cadence: Cadence::Daily,
            owner: OwnerArg::Both,
            fulfilled_by: Some(Kind::Checkin),
            at,
        }),
        Request::RitualList(RitualListQuery { at }),
        Request::RitualDone(MarkDone {
            ritual: "walk".into(),
            entry: Some("01".into()),
            at,
        }),
        Request::RitualChange(RitualChange {
            ritual: "x".into(),
            name: Some("y".into()),
            cadence: Some(Cadence::Daily),
            on: Some("sun".into()),
            owner: Some(OwnerArg::Together),
            fulfilled_by: None,
            manual: true,
            at,
        }),
        Request::RitualRemove(RitualRemove {
            ritual: "x".into(),
            at,
        }),
        Request::Due(DueQuery { at }),
        Request::Prompt(PromptQuery {
            at,
            id: Some("d-01".into()),
        }),
        Request::PromptList,
        Request::PromptSkip(PromptSkip { at }),
        Request::RepairResolve(RepairResolve {
            id: "01".into(),
            resolved: true,
            at,
        }),
        Request::Review(ReviewQuery {
            span: Span::Month,
            until: Some("2026-11-01".into()),
            include_tender: true,
            at,
        }),
        Request::Mood(MoodQuery { weeks: 4, at }),
        Request::OnThisDay(OnThisDayQuery {
            include_tender: true,
            at,
        }),
        Request::Export(ExportQuery {
            at,
            after: None,
            limit: Some(1_000),
        }),
        Request::ExportDocument,
        Request::Import(Import {
            entries: vec![ImportItem {
                entry: new_entry(),
                written: at,
                fingerprint: "f".into(),
            }],
            at,
        }),
        Request::PromptAdd(PromptAdd {
            text: "What made you laugh?".into(),
            theme: Theme::Day,
            at,
        }),
        Request::PairInvite(PairInvite { ttl_secs: 60 }),
        Request::PairWait,
        Request::PairJoin(PairJoin {
            ticket: "hearth1x".into(),
        }),
        Request::PairConfirm(PairConfirm { yes: true }),
        Request::PeersAdd(PeersAdd {
            id: "ab".into(),
            addrs: vec!["127.0.0.1:1".parse().unwrap()],
            at,
        }),
        Request::PeersRemove(PeersRemove {
            id: "ab".into(),
            at,
        }),
        Request::Peers,
        Request::Sync(SyncNow { timeout_secs: 5 }),
        Request::Shutdown,
        Request::Unlock(Unlock {
            key: "00ff".repeat(16),
        }),
        Request::PeersApprove(PeersApprove {
            id: "ab".into(),
            at,
        }),
        Request::Notices(NoticesQuery { all: true }),
    ]
}

fn response_index(r: &Response) -> usize {
    match r {
        Response::Status(_) => 0,
        Response::Inited { .. } => 1,
        Response::Entry { .. } => 2,
        Response::Entries(_) => 3,
        Response::Rituals(_) => 4,
        Response::RitualDone { .. } => 5,
        Response::Due(_) => 6,
        Response::Prompt(_) => 7,
        Response::Prompts { .. } => 8,
        Response::Review(_) => 9,
        Response::Mood { .. } => 10,
        Response::OnThisDay { .. } => 11,
        Response::Export(_) => 12,
        Response::Document { .. } => 13,
        Response::Imported { .. } => 14,
        Response::Invite { .. } => 15,
        Response::PairProposed { .. } => 16,
        Response::Paired { .. } => 17,
        Response::Peers(_) => 18,
        Response::Synced { .. } => 19,
        Response::Ok => 20,
        Response::Error(_) => 21,
        Response::Notices { .. } => 22,
    }
}

fn responses() -> Vec<Response> {
    let e = entry();
    let r = ritual();
    let log = vec![done()];
    let prompts = vec![prompt()];
    let boundary = DayBoundary::default();
    let no_seal = |_: &Entry| false;
    let mood =
        hearth_model::insight::mood_series([&e], &[(e.author.clone(), "Ana".into())], day(), day());
    vec![
        Response::Status(Box::new(StatusInfo {
            protocol: crate::PROTOCOL_VERSION,
            version: "0.1.0".into(),
            pid: 42,
            data_dir: "/tmp/h".into(),
            me: Some((PartnerId("ana".into()), "Ana".into())),
            partner: None,
            device: Some(DeviceId("laptop".into())),
            entries: 3,
            loading: false,
            chunks: 2,
            heads: vec!["ab".into()],
            quarantined: vec!["x".into()],
            malformed: 1,
            sync_error: Some("off".into()),
            removed: Some(
                "this device was removed by Ana on 7 Dec 2026; it no longer syncs".into(),
            ),
            net: "local".into(),
            relay: Some("https://relay.example".into()),
            locked: true,
            locked_reason: None,
            refused: Default::default(),
        })),
        Response::Inited {
            partner: PartnerId("ana".into()),
            name: "Ana".into(),
            device: DeviceId("laptop".into()),
            already: true,
        },
        Response::Entry {
            entry: Box::new(e.clone()),
            names: names(),
            completed: vec!["Walk".into()],
            short_len: 9,
        },
        Response::Entries(EntryList {
            entries: vec![e.clone()],
            names: names(),
            short_len: 8,
            me: Some(PartnerId("ana".into())),
            since: Some(day()),
            until: None,
            sealed: 1,
            next: Some(e.id),
        }),
        Response::Rituals(Box::new(RitualList {
            rituals: vec![r.clone()],
            log: log.clone(),
            names: names(),
            today: day(),
            rhythms: vec![r.rhythm(&log, &[PartnerId("ana".into())], day(), 4, day())],
            me: None,
        })),
        Response::RitualDone {
            ritual: Box::new(r.clone()),
            done: Box::new(done()),
        },
        Response::Due(DueList {
            today: day(),
            items: hearth_model::ritual::due_today(
                std::slice::from_ref(&r),
                &log,
                day(),
                boundary,
                &PartnerId("ana".into()),
                None,
            ),
            me: PartnerId("ana".into()),
            names: names(),
        }),
        Response::Prompt(Box::new(PromptToday {
            day: day(),
            prompt: prompt(),
            mine: Some(e.clone()),
            partner: PartnerAnswer::Shown {
                entry: Box::new(e.clone()),
            },
            partner_name: Some("Ben".into()),
        })),
        Response::Prompts {
            prompts: prompts.clone(),
        },
        Response::Review(Box::new(review(&ReviewInput {
            span: Span::Week,
            last_day: day(),
            today: day(),
            entries: vec![&e],
            partners: vec![(e.author.clone(), "Ana".into())],
            rituals: std::slice::from_ref(&r),
            log: &log,
            prompts: &prompts,
            boundary,
            include_tender: true,
            sealed: &no_seal,
        }))),
        Response::Mood {
            from: day(),
            to: day(),
            series: mood,
        },
        Response::OnThisDay {
            found: Box::new(hearth_model::insight::on_this_day([&e], day())),
            names: names(),
            short_len: 10,
        },
        Response::Export(Box::new(ExportData {
            names: names(),
            entries: vec![e.clone()],
            rituals: vec![r.clone()],
            ritual_log: log.clone(),
            prompts: prompts.clone(),
            sealed: 2,
            total: 3,
            next: Some(e.id),
        })),
        Response::Document {
            base64: "AAAA".into(),
        },
        Response::Imported {
            added: vec![e.id],
            skipped: 2,
        },
        Response::Invite {
            ticket: "hearth1x".into(),
            expires_in_secs: 600,
        },
        Response::PairProposed {
            peer: "ab".into(),
            safety: "1234 5678 9012".into(),
        },
        Response::Paired {
            peer: "ab".into(),
            safety: "1234 5678 9012".into(),
        },
        Response::Peers(PeerList {
            me: "ab".into(),
            addrs: vec!["127.0.0.1:1".into()],
            peers: vec![PeerInfo {
                id: "cd".into(),
                name: "phone".into(),
                partner: Some("Ben".into()),
                online: true,
                last_sync: Some(at().to_utc()),
                path: Some("direct".into()),
                unsent_changes: Some(3),
                addrs: vec!["127.0.0.1:2".into()],
                last_error: Some("timed out".into()),
                bytes_sent: 10,
                bytes_received: 20,
                refused: 1,
                docs_in_sync: Some(7),
                docs_total: Some(21),
            }],
        }),
        Response::Synced {
            devices: vec![SyncOutcome {
                id: "ab".into(),
                name: "phone".into(),
                reached: true,
                in_sync: false,
                error: Some("busy".into()),
            }],
        },
        Response::Ok,
        Response::Error(ErrorReply {
            kind: ErrorKind::NotFound,
            message: "no".into(),
        }),
        Response::Notices {
            lines: vec!["Ana added a device 'phone' on 7 Dec 2026".into()],
        },
    ]
}

/// Each variant exactly once, in index order; and no variant without a
/// sample, whatever number it was given.
#[track_caller]
fn covers_every_variant(indices: impl Iterator<Item = usize>, variants: usize) {
    let seen: Vec<usize> = indices.collect();
    assert_eq!(seen, (0..variants).collect::<Vec<_>>());
}

#[test]
fn every_request_round_trips_whole() {
    use strum::IntoEnumIterator;
    let samples = requests();
    covers_every_variant(
        samples.iter().map(request_index),
        RequestDiscriminants::iter().count(),
    );
    for r in samples {
        let sent = serde_json::to_value(Envelope {
            protocol: crate::PROTOCOL_VERSION,
            request: r.clone(),
        })
        .unwrap();
        let back: Envelope = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(request_index(&back.request), request_index(&r));
        // Whole values, not just variants: a field lost on the way shows.
        assert_eq!(serde_json::to_value(&back).unwrap(), sent, "{r:?}");
    }
}

/// Internally tagged enums cannot carry a bare sequence; a variant that
/// does fails only at run time, when the daemon tries to answer.
#[test]
fn every_reply_round_trips_whole() {
    use strum::IntoEnumIterator;
    let samples = responses();
    covers_every_variant(
        samples.iter().map(response_index),
        ResponseDiscriminants::iter().count(),
    );
    for r in samples {
        let sent = serde_json::to_value(&r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
        let back: Response = serde_json::from_value(sent.clone()).unwrap();
        assert_eq!(response_index(&back), response_index(&r));
        assert_eq!(serde_json::to_value(&back).unwrap(), sent, "{r:?}");
    }
}
