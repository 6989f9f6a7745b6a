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
#[cfg_attr(
    test,
    derive(strum::EnumDiscriminants),
    strum_discriminants(derive(strum::EnumIter))
)]
#[serde(tag = "op", rename_all = "kebab-case")]
pub enum Request {
    /// Who is the daemon, and is it ready.
    Status,
    /// Names this device's partner and starts the journal.
    Init(Init),
    /// Changes my own name (never my partner's).
    Rename(Rename),
    Add(AddEntry),
    Edit(EditEntry),
    Delete(DeleteEntry),
    Show(ShowEntry),
    Log(Log),
    RitualAdd(RitualAdd),
    RitualList(RitualListQuery),
    RitualDone(MarkDone),
    /// Changes a ritual's name, cadence, owner or completing kind.
    RitualChange(RitualChange),
    /// Retires a ritual; its history stays in the journal.
    RitualRemove(RitualRemove),
    Due(DueQuery),
    /// Today's prompt, or the prompt with this id, with both answers as
    /// far as I may see them.
    Prompt(PromptQuery),
    /// The whole deck: built-in prompts, then the couple's own.
    PromptList,
    /// Sets today's prompt aside for the couple and draws the next one.
    PromptSkip(PromptSkip),
    /// Marks a repair's agreements settled, or open again.
    RepairResolve(RepairResolve),
    Review(ReviewQuery),
    /// Each partner's daily mood over whole weeks (Monday first), this
    /// week included.
    Mood(MoodQuery),
    OnThisDay(OnThisDayQuery),
    /// Everything readable, for `hearth export`.
    Export(ExportQuery),
    /// The raw Automerge document.
    ExportDocument,
    /// Writes many entries, all or nothing: one change per entry, made
    /// durable together in one commit. Entries already imported (same id)
    /// are skipped.
    Import(Import),
    PromptAdd(PromptAdd),
    /// Opens a one-use pairing invite.
    PairInvite(PairInvite),
    /// Waits until a device proves it holds the open invite (answered
    /// `PairProposed`), or the invite expires.
    PairWait,
    /// Joins another device's invite, up to the safety number (answered
    /// `PairProposed`).
    PairJoin(PairJoin),
    /// This side's answer to the `PairProposed` on the same connection:
    /// whether the user confirmed the safety number. Answered `Paired` once
    /// both sides said yes; nothing is trusted before.
    PairConfirm(PairConfirm),
    /// Trusts a device by id, Syncthing-style (both sides must add).
    PeersAdd(PeersAdd),
    /// Stops trusting a device, on every device of the couple.
    PeersRemove(PeersRemove),
    /// Approves a new device of the other partner, so this partner's
    /// devices sync with it (docs/SCHEMA.md, "Trust").
    PeersApprove(PeersApprove),
    Peers,
    /// Changes to the couple's device list not yet shown on this device,
    /// which count as seen from now on; with `all`, every one, seen or not,
    /// and nothing is marked.
    Notices(NoticesQuery),
    /// Syncs with every trusted device now and reports.
    Sync(SyncNow),
    /// Stops the daemon after answering.
    Shutdown,
    /// Opens a locked daemon: the key argon2id derived from the passphrase
    /// (the CLI runs the KDF, so the passphrase never reaches the daemon).
    /// For a journal whose key is in the OS keyring, the key is empty and
    /// the daemon asks the keyring again.
    Unlock(Unlock),
}

/// `hearth unlock`.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Unlock {
    /// The derived wrap key, hex; empty to ask the OS keyring again.
    pub key: String,
}

/// A key is never printed, not even in a debug log of a request.
impl std::fmt::Debug for Unlock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Unlock { key: .. }")
    }
}

/// Names this device's partner and starts the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Init {
    pub name: String,
    pub device_name: String,
    pub day_start_hour: Option<u32>,
    pub at: DateTime<FixedOffset>,
}

/// Changes my own name (never my partner's).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Rename {
    pub name: String,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct AddEntry {
    pub entry: NewEntry,
    pub at: DateTime<FixedOffset>,
    /// On the writer's own devices only.
    #[serde(default)]
    pub private: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EditEntry {
    pub id: String,
    pub patch: EntryPatch,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeleteEntry {
    pub id: String,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ShowEntry {
    pub id: String,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Log {
    pub query: LogQuery,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RitualAdd {
    pub name: String,
    pub kind: String,
    pub cadence: Cadence,
    pub owner: OwnerArg,
    pub fulfilled_by: Option<Kind>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RitualListQuery {
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MarkDone {
    pub ritual: String,
    pub entry: Option<String>,
    pub at: DateTime<FixedOffset>,
}

/// Changes a ritual's name, cadence, owner or completing kind.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RitualChange {
    pub ritual: String,
    pub name: Option<String>,
    pub cadence: Option<Cadence>,
    /// Moves the ritual to another day of its (new or current) cadence.
    pub on: Option<String>,
    pub owner: Option<OwnerArg>,
    pub fulfilled_by: Option<Kind>,
    /// No entry kind completes it any more. (A separate flag because
    /// JSON cannot tell `Some(None)` from `None`.)
    #[serde(default)]
    pub manual: bool,
    pub at: DateTime<FixedOffset>,
}

/// Retires a ritual; its history stays in the journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RitualRemove {
    pub ritual: String,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DueQuery {
    pub at: DateTime<FixedOffset>,
}

/// Today's prompt, or the prompt with this id, with both answers as
/// far as I may see them.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptQuery {
    pub at: DateTime<FixedOffset>,
    #[serde(default)]
    pub id: Option<String>,
}

/// Sets today's prompt aside for the couple and draws the next one.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptSkip {
    pub at: DateTime<FixedOffset>,
}

/// Marks a repair's agreements settled, or open again.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RepairResolve {
    pub id: String,
    pub resolved: bool,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ReviewQuery {
    pub span: Span,
    /// The last day the review covers (default today).
    pub until: Option<String>,
    pub include_tender: bool,
    pub at: DateTime<FixedOffset>,
}

/// Each partner's daily mood over whole weeks (Monday first), this
/// week included.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MoodQuery {
    pub weeks: u32,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct OnThisDayQuery {
    pub include_tender: bool,
    pub at: DateTime<FixedOffset>,
}

/// Everything readable, for `hearth export`, a page at a time: the
/// entries after `after` (oldest first), at most `limit` of them (all when
/// `None`). The CLI pages, so neither process holds the whole journal.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ExportQuery {
    pub at: DateTime<FixedOffset>,
    #[serde(default)]
    pub after: Option<EntryId>,
    #[serde(default)]
    pub limit: Option<usize>,
}

/// Writes many entries, all or nothing: one change per entry, made
/// durable together in one commit. Entries already imported (same id)
/// are skipped.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Import {
    pub entries: Vec<ImportItem>,
    pub at: DateTime<FixedOffset>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PromptAdd {
    pub text: String,
    pub theme: Theme,
    pub at: DateTime<FixedOffset>,
}

/// Opens a one-use pairing invite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairInvite {
    pub ttl_secs: u64,
}

/// Joins another device's invite.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PairJoin {
    pub ticket: String,
}

/// Whether the user confirmed the safety number.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PairConfirm {
    pub yes: bool,
}

/// Trusts a device by id, Syncthing-style (both sides must add).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeersAdd {
    pub id: String,
    pub addrs: Vec<std::net::SocketAddr>,
    pub at: DateTime<FixedOffset>,
}

/// Stops trusting a device, on every device of the couple.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeersRemove {
    pub id: String,
    pub at: DateTime<FixedOffset>,
}

/// Approves a device of the other partner.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoticesQuery {
    /// Seen ones too.
    #[serde(default)]
    pub all: bool,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PeersApprove {
    pub id: String,
    pub at: DateTime<FixedOffset>,
}

/// Syncs with every trusted device now and reports.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SyncNow {
    pub timeout_secs: u64,
}

impl Request {
    /// Whether the request changes the journal (and so must be durable
    /// before it is answered).
    pub fn is_write(&self) -> bool {
        matches!(
            self,
            Request::Init(Init { .. })
                | Request::Rename(Rename { .. })
                | Request::Add(AddEntry { .. })
                | Request::Edit(EditEntry { .. })
                | Request::Delete(DeleteEntry { .. })
                | Request::RitualAdd(RitualAdd { .. })
                | Request::RitualDone(MarkDone { .. })
                | Request::PromptAdd(PromptAdd { .. })
                | Request::PeersAdd(PeersAdd { .. })
                | Request::PeersRemove(PeersRemove { .. })
                | Request::PeersApprove(PeersApprove { .. })
                | Request::RitualChange(RitualChange { .. })
                | Request::RitualRemove(RitualRemove { .. })
                | Request::PromptSkip(PromptSkip { .. })
                | Request::RepairResolve(RepairResolve { .. })
                | Request::Import(Import { .. })
        )
    }

    /// Requests the sync layer answers rather than the document's owner.
    pub fn is_network(&self) -> bool {
        matches!(
            self,
            Request::PairInvite(PairInvite { .. })
                | Request::PairWait
                | Request::PairJoin(PairJoin { .. })
                | Request::PairConfirm(PairConfirm { .. })
                | Request::Sync(SyncNow { .. })
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
    /// Looked for in every text field and tag, without regard to case.
    pub contains: Option<String>,
    /// Read `contains` as a regular expression.
    #[serde(default)]
    pub regex: bool,
    pub limit: Option<usize>,
    #[serde(default)]
    pub include_deleted: bool,
    /// Only my private entries.
    #[serde(default)]
    pub private: bool,
    /// A page of the matches: those after this one, in the order shown.
    /// The CLI pages a log of the whole journal, so no reply holds it all.
    #[serde(default)]
    pub after: Option<EntryId>,
    /// At most this many matches in the reply (all when `None`); the
    /// reply's `next` says where the next page starts.
    #[serde(default)]
    pub page: Option<usize>,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
#[cfg_attr(
    test,
    derive(strum::EnumDiscriminants),
    strum_discriminants(derive(strum::EnumIter))
)]
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
    /// The other device proved the invite: compare this number, then
    /// answer with `PairConfirm`.
    PairProposed {
        peer: String,
        safety: String,
    },
    Paired {
        peer: String,
        safety: String,
    },
    Peers(PeerList),
    /// One line each, oldest first.
    Notices {
        lines: Vec<String>,
    },
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
    /// "this device was removed by Sam on 1 Dec 2026; it no longer syncs",
    /// once a device of the couple proved it.
    #[serde(default)]
    pub removed: Option<String>,
    /// The network mode the daemon runs in: `default`, `local` or `test`.
    #[serde(default)]
    pub net: String,
    /// The self-hosted relay in use. `None` means n0's public relays in
    /// `default` mode, and no relay at all in the others.
    #[serde(default)]
    pub relay: Option<String>,
    /// True while the daemon waits for `hearth unlock`; nothing else in a
    /// locked status is known.
    #[serde(default)]
    pub locked: bool,
    /// Why a locked daemon waits, when it is not for a passphrase: what the
    /// OS keyring answered. One line.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub locked_reason: Option<String>,
    /// Devices whose frames were refused since the daemon started (forged
    /// or malformed changes, keys they may not send), by device id, with
    /// how many times.
    #[serde(default)]
    pub refused: std::collections::BTreeMap<String, u64>,
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
    /// How many of its frames this device refused since the daemon
    /// started: forged or malformed changes end that session.
    #[serde(default)]
    pub refused: u64,
    /// A first sync's progress: of the documents this device or the peer
    /// holds that both may hold, how many are the same on both. `None`
    /// until the peer has said what it holds.
    #[serde(default)]
    pub docs_in_sync: Option<usize>,
    #[serde(default)]
    pub docs_total: Option<usize>,
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
    /// Matching answers left out because they are sealed from me; on a
    /// query's first page only.
    #[serde(default)]
    pub sealed: usize,
    /// The last entry of this page, when more matches follow: the next
    /// page's `after`.
    #[serde(default)]
    pub next: Option<EntryId>,
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
    /// Answers left out because they are still sealed from me (on an
    /// export's first page; 0 on the others).
    pub sealed: usize,
    /// How many entries the whole export holds, over every page (on the
    /// first page; 0 on the others).
    #[serde(default)]
    pub total: usize,
    /// Where the next page starts (its `after`), when there is one.
    #[serde(default)]
    pub next: Option<EntryId>,
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

/// My partner's answer to a prompt: sealed until I have answered too, and
/// then until their device sends its key.
#[derive(Debug, Clone, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "kebab-case")]
pub enum PartnerAnswer {
    NotYet,
    /// They answered; it opens when I answer too.
    Sealed,
    /// We both answered; it opens when their device, having seen my
    /// answer, sends its key: now if it is online, or when it next is.
    Opening,
    Shown {
        entry: Box<Entry>,
    },
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
    /// The journal is encrypted and the daemon has no key yet.
    Locked,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct ErrorReply {
    pub kind: ErrorKind,
    pub message: String,
}

#[cfg(test)]
mod tests;
