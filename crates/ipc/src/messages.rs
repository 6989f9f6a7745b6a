//! Requests and responses. Every request carries the time the user acted,
//! with their UTC offset, so the daemon never guesses the user's time zone
//! and tests can pin the clock from the CLI.

use std::collections::BTreeMap;

use chrono::{DateTime, FixedOffset, NaiveDate};
use hearth_model::deck::Theme;
use hearth_model::doc::Prompt;
use hearth_model::insight::{MoodSeries, OnThisDay, Review, Span};
use hearth_model::ritual::{DueItem, Rhythm};
use hearth_model::{
    Cadence, DeviceId, Entry, EntryId, EntryPatch, Kind, NewEntry, PartnerId, Ritual, RitualDone,
};
use serde::{Deserialize, Serialize};

/// What goes over the socket: the protocol version, then the request.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Envelope {
    pub protocol: u32,
    pub request: Request,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Who is the daemon, and is it ready.
    Status,
    /// Names this device's partner and starts the journal.
    Init {
        name: String,
        device_name: String,
        day_start_hour: Option<u32>,
        at: DateTime<FixedOffset>,
    },
    /// Changes my own name (never my partner's).
    Rename {
        name: String,
        at: DateTime<FixedOffset>,
    },
    Add {
        entry: NewEntry,
        at: DateTime<FixedOffset>,
    },
    Edit {
        id: String,
        patch: EntryPatch,
        at: DateTime<FixedOffset>,
    },
    Delete {
        id: String,
        at: DateTime<FixedOffset>,
    },
    Show {
        id: String,
    },
    Log {
        query: LogQuery,
        at: DateTime<FixedOffset>,
    },
    RitualAdd {
        name: String,
        kind: String,
        cadence: Cadence,
        owner: OwnerArg,
        fulfilled_by: Option<Kind>,
        at: DateTime<FixedOffset>,
    },
    RitualList {
        at: DateTime<FixedOffset>,
    },
    RitualDone {
        ritual: String,
        entry: Option<String>,
        at: DateTime<FixedOffset>,
    },
    /// Changes a ritual's name, cadence, owner or completing kind.
    RitualChange {
        ritual: String,
        name: Option<String>,
        cadence: Option<Cadence>,
        /// Moves the ritual to another day of its (new or current) cadence.
        on: Option<String>,
        owner: Option<OwnerArg>,
        fulfilled_by: Option<Kind>,
        /// No entry kind completes it any more. (A separate flag because
        /// JSON cannot tell `Some(None)` from `None`.)
        #[serde(default)]
        manual: bool,
        at: DateTime<FixedOffset>,
    },
    /// Retires a ritual; its history stays in the journal.
    RitualRemove {
        ritual: String,
        at: DateTime<FixedOffset>,
    },
    Due {
        at: DateTime<FixedOffset>,
    },
    /// Today's prompt, or the prompt with this id, with both answers as
    /// far as I may see them.
    Prompt {
        at: DateTime<FixedOffset>,
        #[serde(default)]
        id: Option<String>,
    },
    /// The whole deck: built-in prompts, then the couple's own.
    PromptList,
    /// Sets today's prompt aside for the couple and draws the next one.
    PromptSkip {
        at: DateTime<FixedOffset>,
    },
    /// Marks a repair's agreements settled, or open again.
    RepairResolve {
        id: String,
        resolved: bool,
        at: DateTime<FixedOffset>,
    },
    Review {
        span: Span,
        /// The last day the review covers (default today).
        until: Option<String>,
        include_tender: bool,
        at: DateTime<FixedOffset>,
    },
    /// Each partner's daily mood over whole weeks (Monday first), this
    /// week included.
    Mood {
        weeks: u32,
        at: DateTime<FixedOffset>,
    },
    OnThisDay {
        include_tender: bool,
        at: DateTime<FixedOffset>,
    },
    /// Everything readable, for `hearth export`.
    Export {
        at: DateTime<FixedOffset>,
    },
    /// The raw Automerge document.
    ExportDocument,
    /// Writes many entries, all or nothing: one change per entry, made
    /// durable together in one commit. Entries already imported (same id)
    /// are skipped.
    Import {
        entries: Vec<ImportItem>,
        at: DateTime<FixedOffset>,
    },
    PromptAdd {
        text: String,
        theme: Theme,
        at: DateTime<FixedOffset>,
    },
    /// Opens a one-use pairing invite.
    PairInvite {
        ttl_secs: u64,
    },
    /// Waits until the open invite is used or expires.
    PairWait,
    /// Joins another device's invite.
    PairJoin {
        ticket: String,
    },
    /// Trusts a device by id, Syncthing-style (both sides must add).
    PeersAdd {
        id: String,
        addrs: Vec<std::net::SocketAddr>,
        at: DateTime<FixedOffset>,
    },
    /// Stops trusting a device, on every device of the couple.
    PeersRemove {
        id: String,
        at: DateTime<FixedOffset>,
    },
    Peers,
    /// Syncs with every trusted device now and reports.
    Sync {
        timeout_secs: u64,
    },
    /// Stops the daemon after answering.
    Shutdown,
}

impl Request {
    /// Whether the request changes the journal (and so must be durable
    /// before it is answered).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Init { .. }
                | Request::Rename { .. }
                | Request::Add { .. }
                | Request::Edit { .. }
                | Request::Delete { .. }
                | Request::RitualAdd { .. }
                | Request::RitualDone { .. }
                | Request::PromptAdd { .. }
                | Request::PeersAdd { .. }
                | Request::PeersRemove { .. }
                | Request::RitualChange { .. }
                | Request::RitualRemove { .. }
                | Request::PromptSkip { .. }
                | Request::RepairResolve { .. }
                | Request::Import { .. }
        )
    }

    /// Requests the sync layer answers rather than the document's owner.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Request::PairInvite { .. }
                | Request::PairWait
                | Request::PairJoin { .. }
                | Request::Sync { .. }
        )
    }
}

fn ten() -> usize {
    10
}

/// One entry to import, with the time it was written and what makes it the
/// same entry on a second import.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ImportItem {
    pub entry: NewEntry,
    pub written: DateTime<FixedOffset>,
    pub fingerprint: String,
}

/// Who a new ritual belongs to, as the user says it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum OwnerArg {
    Me,
    Partner,
    Both,
    Together,
}

/// The filters of `hearth log`. Dates and authors are resolved by the
/// daemon, which knows the day boundary and the partners' names.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct LogQuery {
    pub since: Option<String>,
    pub until: Option<String>,
    #[serde(default)]
    pub kinds: Vec<Kind>,
    /// `me`, `partner`, a name or a partner id.
    #[serde(default)]
    pub authors: Vec<String>,
    #[serde(default)]
    pub tags: Vec<String>,
    #[serde(default)]
    pub starred: bool,
    pub contains: Option<String>,
    pub limit: Option<usize>,
    #[serde(default)]
    pub include_deleted: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "reply", rename_all = "kebab-case")]
pub enum Response {
    Status(Box<StatusInfo>),
    Inited {
        partner: PartnerId,
        name: String,
        device: DeviceId,
        /// The device was set up already; nothing was written.
        #[serde(default)]
        already: bool,
    },
    /// An entry written or read, and any rituals its writing completed.
    Entry {
        entry: Box<Entry>,
        names: BTreeMap<PartnerId, String>,
        #[serde(default)]
        completed: Vec<String>,
        /// How much of the id to show so that it names only this entry.
        #[serde(default = "ten")]
        short_len: usize,
    },
    Entries(EntryList),
    Rituals(Box<RitualList>),
    RitualDone {
        ritual: Box<Ritual>,
        done: Box<RitualDone>,
    },
    Due(DueList),
    Prompt(Box<PromptToday>),
    Prompts {
        prompts: Vec<Prompt>,
    },
    Review(Box<Review>),
    Mood {
        from: NaiveDate,
        to: NaiveDate,
        series: Vec<MoodSeries>,
    },
    OnThisDay {
        found: Box<OnThisDay>,
        names: BTreeMap<PartnerId, String>,
        /// Characters of an id needed to keep ids unique, as in `entries`.
        #[serde(default = "ten")]
        short_len: usize,
    },
    Export(Box<ExportData>),
    /// The document's bytes, base64.
    Document {
        base64: String,
    },
    Imported {
        added: Vec<EntryId>,
        skipped: usize,
    },
    Invite {
        ticket: String,
        expires_in_secs: u64,
    },
    Paired {
        peer: String,
        safety: String,
    },
    Peers(PeerList),
    Synced {
        devices: Vec<SyncOutcome>,
    },
    Ok,
    Error(ErrorReply),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StatusInfo {
    pub protocol: u32,
    pub version: String,
    pub pid: u32,
    pub data_dir: String,
    /// The partner this device writes as; `None` before `hearth init`.
    pub me: Option<(PartnerId, String)>,
    pub partner: Option<(PartnerId, String)>,
    pub device: Option<DeviceId>,
    pub entries: usize,
    /// True while the document is still loading; reads are answered from
    /// the cached view meanwhile.
    pub loading: bool,
    pub chunks: usize,
    pub heads: Vec<String>,
    /// Files set aside at start-up, with why.
    pub quarantined: Vec<String>,
    /// Entries in the document that this version cannot read.
    pub malformed: usize,
    /// Why sync is off, if it is.
    #[serde(default)]
    pub sync_error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerList {
    /// This device's id.
    pub me: String,
    /// Where this device listens.
    pub addrs: Vec<String>,
    pub peers: Vec<PeerInfo>,
}

/// One trusted device, as `hearth peers list` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeerInfo {
    pub id: String,
    pub name: String,
    pub partner: Option<String>,
    pub online: bool,
    pub last_sync: Option<DateTime<chrono::Utc>>,
    /// "direct" or "relay" while online.
    pub path: Option<String>,
    /// Changes this device has that the peer was not known to have; `None`
    /// if we have never synced with it.
    pub unsent_changes: Option<usize>,
    pub addrs: Vec<String>,
    pub last_error: Option<String>,
    /// Sync bytes exchanged since the daemon started.
    #[serde(default)]
    pub bytes_sent: u64,
    #[serde(default)]
    pub bytes_received: u64,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncOutcome {
    pub id: String,
    pub name: String,
    pub reached: bool,
    pub in_sync: bool,
    pub error: Option<String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EntryList {
    /// Oldest first.
    pub entries: Vec<Entry>,
    pub names: BTreeMap<PartnerId, String>,
    /// Characters of an id needed to keep every id shown unique.
    pub short_len: usize,
    pub me: Option<PartnerId>,
    pub since: Option<NaiveDate>,
    pub until: Option<NaiveDate>,
    /// Matching answers left out because they are sealed from me.
    #[serde(default)]
    pub sealed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RitualList {
    pub rituals: Vec<Ritual>,
    pub log: Vec<RitualDone>,
    pub names: BTreeMap<PartnerId, String>,
    pub today: NaiveDate,
    /// Each ritual's recent rhythm, in `rituals` order; my lane first.
    #[serde(default)]
    pub rhythms: Vec<Rhythm>,
    /// Who is asking, so lanes can be put in their columns.
    #[serde(default)]
    pub me: Option<PartnerId>,
}

/// The whole readable journal: the documented JSON of `hearth export`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportData {
    pub names: BTreeMap<PartnerId, String>,
    /// Oldest first; deleted entries and answers still sealed from me are
    /// left out.
    pub entries: Vec<Entry>,
    pub rituals: Vec<Ritual>,
    pub ritual_log: Vec<RitualDone>,
    /// The couple's own prompts (the built-in deck is in every copy).
    pub prompts: Vec<Prompt>,
    /// Answers left out because they are still sealed from me.
    pub sealed: usize,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DueList {
    pub today: NaiveDate,
    pub items: Vec<DueItem>,
    pub me: PartnerId,
    pub names: BTreeMap<PartnerId, String>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptToday {
    pub day: NaiveDate,
    pub prompt: Prompt,
    pub mine: Option<Entry>,
    pub partner: PartnerAnswer,
    pub partner_name: Option<String>,
}

/// My partner's answer to a prompt: sealed until I have answered too.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PartnerAnswer {
    NotYet,
    Sealed,
    Shown { entry: Box<Entry> },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ErrorKind {
    /// The request was wrong; the user can fix it.
    BadRequest,
    NotInitialised,
    NotFound,
    /// The CLI and daemon speak different protocol versions.
    Incompatible,
    /// Storage failed; nothing was acknowledged.
    Storage,
    Internal,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Internally tagged enums cannot carry a bare sequence; a variant that
    /// does fails only at run time, when the daemon tries to answer.
    #[test]
    fn every_reply_shape_round_trips() {
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let replies = vec![
            Response::Ok,
            Response::Invite {
                ticket: "hearth1x".into(),
                expires_in_secs: 600,
            },
            Response::Paired {
                peer: "ab".into(),
                safety: "1234 5678 9012".into(),
            },
            Response::Synced {
                devices: vec![SyncOutcome {
                    id: "ab".into(),
                    name: "phone".into(),
                    reached: true,
                    in_sync: true,
                    error: None,
                }],
            },
            Response::Peers(PeerList {
                me: "ab".into(),
                addrs: vec![],
                peers: vec![],
            }),
            Response::Entries(EntryList {
                entries: vec![],
                names: BTreeMap::new(),
                short_len: 8,
                me: None,
                since: None,
                until: None,
                sealed: 0,
            }),
            Response::Rituals(Box::new(RitualList {
                rituals: vec![],
                log: vec![],
                names: BTreeMap::new(),
                today: day,
                rhythms: vec![],
                me: None,
            })),
            Response::Mood {
                from: day,
                to: day,
                series: vec![],
            },
            Response::Document {
                base64: "AAAA".into(),
            },
            Response::Imported {
                added: vec![],
                skipped: 2,
            },
            Response::Export(Box::new(ExportData {
                names: BTreeMap::new(),
                entries: vec![],
                rituals: vec![],
                ritual_log: vec![],
                prompts: vec![],
                sealed: 0,
            })),
            Response::OnThisDay {
                found: Box::new(hearth_model::insight::on_this_day([], day)),
                names: BTreeMap::new(),
                short_len: 10,
            },
            Response::Due(DueList {
                today: day,
                items: vec![],
                me: PartnerId("a".into()),
                names: BTreeMap::new(),
            }),
            Response::Error(ErrorReply {
                kind: ErrorKind::BadRequest,
                message: "no".into(),
            }),
        ];
        for r in replies {
            let bytes = serde_json::to_vec(&r).unwrap_or_else(|e| panic!("{r:?}: {e}"));
            let back: Response = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(std::mem::discriminant(&back), std::mem::discriminant(&r));
        }
    }

    #[test]
    fn every_request_shape_round_trips() {
        let at = chrono::DateTime::parse_from_rfc3339("2026-11-25T21:30:00+01:00").unwrap();
        let requests = vec![
            Request::Status,
            Request::Shutdown,
            Request::Peers,
            Request::PairWait,
            Request::PairInvite { ttl_secs: 60 },
            Request::PairJoin { ticket: "t".into() },
            Request::PeersAdd {
                id: "ab".into(),
                addrs: vec!["127.0.0.1:1".parse().unwrap()],
                at,
            },
            Request::PeersRemove {
                id: "ab".into(),
                at,
            },
            Request::Sync { timeout_secs: 5 },
            Request::Log {
                query: LogQuery::default(),
                at,
            },
            Request::Due { at },
            Request::PromptSkip { at },
            Request::PromptList,
            Request::ExportDocument,
            Request::Export { at },
            Request::Review {
                span: Span::Week,
                until: None,
                include_tender: false,
                at,
            },
            Request::Mood { weeks: 4, at },
            Request::OnThisDay {
                include_tender: true,
                at,
            },
            Request::RitualChange {
                ritual: "x".into(),
                name: None,
                cadence: Some(Cadence::Daily),
                on: None,
                owner: Some(OwnerArg::Together),
                fulfilled_by: None,
                manual: true,
                at,
            },
            Request::RitualRemove {
                ritual: "x".into(),
                at,
            },
            Request::RepairResolve {
                id: "01".into(),
                resolved: true,
                at,
            },
            Request::Import {
                entries: vec![ImportItem {
                    entry: NewEntry {
                        body: hearth_model::Body::Note { text: "t".into() },
                        tags: Default::default(),
                        starred: false,
                        tender: None,
                    },
                    written: at,
                    fingerprint: "f".into(),
                }],
                at,
            },
        ];
        for r in requests {
            let bytes = serde_json::to_vec(&Envelope {
                protocol: crate::PROTOCOL_VERSION,
                request: r.clone(),
            })
            .unwrap();
            let back: Envelope = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(
                std::mem::discriminant(&back.request),
                std::mem::discriminant(&r)
            );
        }
    }
}
