//! The daemon's state and the handling of every request, free of sockets
//! and threads so it can be driven directly in tests.
//!
//! The core is in one of two states. [`Loading`] has no document yet and
//! answers only what its cached view can (status, log, show). [`Ready`]
//! holds the document, and only it has the handlers that need one, so no
//! handler can run without the document.
//!
//! Work arrives in batches ([`Core::batch`]): requests from the CLI and
//! messages from peers alike. Everything in a batch is applied in memory,
//! the batch is committed once, and only then is anyone answered. A failed
//! commit turns every answer that wrote into "not saved" and puts the
//! document back to what is on disk.

mod entries;
mod indexing;
mod lookback;
mod peers;
mod prompts;
mod refusal;
mod rituals;
mod sealing;
mod sessions;
mod setup;

use std::net::SocketAddr;

use hearth_ipc::{ErrorKind, Request, Response};
use hearth_model::{DayBoundary, ModelError, PartnerId, View, WriteCtx};
use hearth_store::StoreError;
use hearth_sync::{EndpointId, PeerStatus, Received, SyncError, TrustedSet};

use crate::couple_journal::{Checkpoint, CoupleJournal};
use rand::{SeedableRng, rngs::StdRng};
use tokio::sync::watch;

use crate::addresses::AddressBook;
use crate::identity::{Identity, IdentityFile};

pub use indexing::{OpeningIndex, StartIndex};
pub use prompts::prompt_of_the_day;
pub use refusal::Refusal;
use sessions::Sessions;

/// Compact once this many chunks have piled up since the last snapshot.
pub const COMPACT_AFTER_CHUNKS: usize = 256;

type Handled = Result<Response, Refusal>;

/// How the core tells the sync layer about changes and trust.
pub struct SyncLink {
    pub changed: watch::Sender<u64>,
    pub trusted: watch::Sender<TrustedSet>,
    pub removed: watch::Sender<hearth_sync::RemovedSet>,
}

/// What both states share: who this device is, and its links.
pub struct Base {
    pub identity: Identity,
    identity_file: IdentityFile,
    data_dir: String,
    rng: StdRng,
    link: Option<SyncLink>,
    sync_error: Option<String>,
    /// Where the sync endpoint listens, once it does.
    own_addrs: Option<Vec<SocketAddr>>,
    /// Where the other devices were last reached (the `peers` file).
    addresses: AddressBook,
    /// The network mode and self-hosted relay, as status reports them.
    network: (String, Option<String>),
}

impl Base {
    fn me(&self) -> Result<PartnerId, Refusal> {
        self.identity
            .partner
            .clone()
            .ok_or_else(Refusal::not_set_up)
    }
}

/// Starting up: the documents are loading, and the index, when current,
/// answers reads meanwhile.
pub struct Loading {
    base: Base,
    start: Option<StartIndex>,
    /// The index's newest weeks, read before the rest of it, when the
    /// index reflects every document as committed, and the earliest entry
    /// time they cover (`Recent::from_ms`).
    recent: Option<(View, u64)>,
}

impl Loading {
    /// The index's view, if it reflects every document as committed.
    fn cached(&self) -> Option<&View> {
        self.start
            .as_ref()
            .filter(|s| s.current)
            .map(|s| &s.indexed.view)
    }

    /// A `log` answered from the index's newest weeks alone, before the
    /// rest of the index is read ([`newest_log`]).
    fn early_log(&self, r: &hearth_ipc::Log) -> Option<Response> {
        let (view, _) = self.recent.as_ref()?;
        newest_log(&self.base, view, r)
    }
}

/// A `log` answered from a view that holds every entry from some week on
/// (the index's newest weeks, and what was written since): only one that
/// asks for its `n` newest matches, and finds all `n` there. The walk
/// newest first then meets the same entries it would in the whole index,
/// so the answer is the same; anything else waits for the whole. A sealed
/// answer among the `n` also waits: my own answer that opens it may be
/// older than those weeks, and only a hidden one makes the list come up
/// short.
fn newest_log(base: &Base, view: &View, r: &hearth_ipc::Log) -> Option<Response> {
    let n = r.query.limit?;
    if r.query.after.is_some() || r.query.page.is_some() {
        return None;
    }
    match entries::Reader::new(base, view, DayBoundary::default()).log(r) {
        Ok(Response::Entries(list)) if list.entries.len() == n => Some(Response::Entries(list)),
        _ => None,
    }
}

/// A ready core that took the journal before the whole index was read
/// (docs/ARCHITECTURE.md, "Start-up"): its view holds the index's newest
/// weeks and what was written since. Until the rest is read it takes new
/// entries dated within those weeks and `log -n` that they answer; the
/// rest waits, and the index is not written.
struct Early {
    /// The documents' stamps when the journal opened.
    opened: std::collections::BTreeMap<hearth_model::records::manifest::DocId, String>,
    /// The earliest entry time the view covers.
    from_ms: u64,
}

/// The documents are here.
pub struct Ready {
    base: Base,
    journal: CoupleJournal,
    view: View,
    index: indexing::IndexState,
    pub(crate) sessions: Sessions,
    /// Set while the rest of the index is still being read.
    early: Option<Early>,
}

pub enum Core {
    Loading(Loading),
    Ready(Box<Ready>),
}

/// One piece of work for the core thread.
#[derive(Debug)]
pub enum Input {
    Request(Request),
    /// `hearth peers list`: the document's devices joined with what the
    /// sync layer knows about them right now.
    Peers(Vec<PeerStatus>),
    /// A sync session with `peer` began; its frames hold at most
    /// `max_frame` bytes.
    SessionStart {
        session: u64,
        peer: EndpointId,
        max_frame: usize,
    },
    SessionEnd {
        session: u64,
    },
    /// The next message for a session, if there is anything to say.
    Generate {
        session: u64,
    },
    /// A peer's frame: applied, and the next frames for that session.
    Receive {
        session: u64,
        frame: Vec<u8>,
    },
    /// Pairing succeeded: trust this device.
    Trust {
        peer: EndpointId,
        addrs: Vec<SocketAddr>,
    },
    /// A removed device came in to be told: the proof for it.
    RemovalProof {
        peer: EndpointId,
    },
    /// A device we dialed sent the proof that we were removed.
    Removed {
        peer: EndpointId,
        proof: Vec<u8>,
    },
    /// A peer's hello: where it and the devices it knows can be reached.
    Heard {
        peer: EndpointId,
        hello: hearth_sync::Hello,
    },
    /// The sync endpoint listens here.
    Listening(Vec<SocketAddr>, u16),
    SyncDown(String),
}

/// The answer to one [`Input`], given once the batch is durable.
#[derive(Debug)]
pub enum Output {
    Response(Response),
    /// Frames to send, in order; none when there is nothing to say.
    Generated(Vec<Vec<u8>>),
    Received(Result<Received, SyncError>),
    Trusted(Result<(), SyncError>),
    /// The proof for a removed device; empty when there is none.
    RemovalProof(Vec<u8>),
    Nothing,
}

impl Input {
    /// A request that only reads: answered from what is committed, so it
    /// need not wait for the commit of work that came after it.
    pub fn is_read(&self) -> bool {
        match self {
            Input::Request(r) => {
                !r.is_write() && !r.is_network() && !matches!(r, Request::Shutdown)
            }
            Input::Peers(_) => true,
            _ => false,
        }
    }
}

/// Splits a batch where its leading reads end: those are answered as a
/// batch of their own, at once, and the rest is committed and answered
/// after. Every part is still committed before it is answered.
pub fn split_leading_reads<T>(mut work: Vec<(Input, T)>) -> [Vec<(Input, T)>; 2] {
    let lead = work.iter().take_while(|(i, _)| i.is_read()).count();
    let rest = work.split_off(lead);
    [work, rest]
}

impl Core {
    /// A core whose documents are still to come through [`Core::loaded`].
    pub fn new(
        identity: Identity,
        identity_file: IdentityFile,
        data_dir: String,
        seed: Option<u64>,
    ) -> Core {
        let data = identity_file
            .path
            .parent()
            .unwrap_or(std::path::Path::new("."));
        let addresses = AddressBook::load(data, identity_file.key.clone());
        Core::Loading(Loading {
            base: Base {
                identity,
                identity_file,
                addresses,
                data_dir,
                rng: seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
                link: None,
                sync_error: None,
                own_addrs: None,
                network: ("default".to_string(), None),
            },
            start: None,
            recent: None,
        })
    }

    /// The index's newest weeks, read before the rest of it.
    pub fn recent(&mut self, recent: hearth_store::index::Recent) {
        if let Core::Loading(l) = self {
            tracing::debug!(
                entries = recent.view.entries.len(),
                from_page = recent.from_page,
                "the index's newest weeks are read"
            );
            let from_ms = recent.from_ms();
            l.recent = Some((recent.view, from_ms));
        }
    }

    /// The index as the loader read it, before the documents: when
    /// current, it answers reads until they are loaded.
    pub fn indexed(&mut self, start: StartIndex) {
        if let Core::Loading(l) = self {
            l.start = Some(start);
            l.recent = None;
        }
    }

    fn base(&self) -> &Base {
        match self {
            Core::Loading(l) => &l.base,
            Core::Ready(r) => &r.base,
        }
    }

    fn base_mut(&mut self) -> &mut Base {
        match self {
            Core::Loading(l) => &mut l.base,
            Core::Ready(r) => &mut r.base,
        }
    }

    pub fn identity(&self) -> &Identity {
        &self.base().identity
    }

    /// Notes the network mode (`default`, `local`, `test`) and the
    /// self-hosted relay in use, for status.
    pub fn set_network(&mut self, mode: &str, relay: Option<String>) {
        self.base_mut().network = (mode.to_string(), relay);
    }

    pub fn set_link(&mut self, link: SyncLink) {
        self.base_mut().link = Some(link);
        if let Core::Ready(r) = self {
            r.publish();
        }
    }

    /// Whether `input` can be handled now, or must wait for the document.
    pub fn can_take(&self, input: &Input) -> bool {
        match self {
            Core::Ready(r) => match (&r.early, input) {
                (None, _) => true,
                (Some(_), Input::Request(Request::Shutdown)) => true,
                (Some(early), Input::Request(Request::Add(a))) => {
                    // Its id follows this device's newest entry at or after
                    // its time, which the view holds from `from_ms` on.
                    u64::try_from(a.at.timestamp_millis()).is_ok_and(|ms| ms >= early.from_ms)
                }
                (Some(_), Input::Request(Request::Log(q))) => {
                    newest_log(&r.base, &r.view, q).is_some()
                }
                // Where the endpoint listens, or why it does not: kept
                // for status, nothing to do with the entries.
                (Some(_), Input::Listening(..) | Input::SyncDown(_)) => true,
                // Everything else, peers' frames too, reads or changes
                // entries the view does not hold yet.
                (Some(_), _) => false,
            },
            Core::Loading(l) => match input {
                Input::Request(Request::Shutdown) => true,
                Input::Request(Request::Log(r)) if l.cached().is_none() => l.early_log(r).is_some(),
                Input::Request(Request::Status | Request::Log(_) | Request::Show(_)) => {
                    l.cached().is_some()
                }
                // A pairing that just succeeded waits for the documents
                // rather than fail: its peer will not try again.
                Input::Request(_) | Input::Peers(_) | Input::Trust { .. } => false,
                // Peers are told "still loading"; their sessions retry.
                _ => true,
            },
        }
    }

    /// Takes the loaded journal: its view comes from the index, with what
    /// moved since read again, or from every entry when there is no index.
    pub fn loaded(self, journal: CoupleJournal) -> Result<Core, ModelError> {
        let Core::Loading(Loading { base, start, .. }) = self else {
            return Ok(self);
        };
        let mut ready = Ready {
            base,
            journal,
            view: View::default(),
            index: indexing::IndexState::default(),
            sessions: Sessions::default(),
            early: None,
        };
        ready.start_view(start, None);
        ready.start_done();
        Ok(Core::Ready(Box::new(ready)))
    }

    /// Takes the journal before the rest of the index is read, when the
    /// index's newest weeks are here (they are read only from a current
    /// index): new entries and `log -n` are answered from them at once,
    /// the rest when `rest_of_index` brings the whole. Without those
    /// weeks this is `loaded`.
    pub fn opened(self, journal: CoupleJournal) -> Result<Core, ModelError> {
        let Core::Loading(Loading {
            base,
            start,
            recent: Some((view, from_ms)),
        }) = self
        else {
            return self.loaded(journal);
        };
        if start.is_some() {
            // The whole index is here already.
            let loading = Loading {
                base,
                start,
                recent: None,
            };
            return Core::Loading(loading).loaded(journal);
        }
        let opened = journal.stamps();
        let mut ready = Ready {
            base,
            journal,
            view,
            index: indexing::IndexState::default(),
            sessions: Sessions::default(),
            early: Some(Early { opened, from_ms }),
        };
        ready.view.partners = ready.journal.partners();
        ready.view.heads = ready.journal.heads_hex();
        Ok(Core::Ready(Box::new(ready)))
    }

    /// The whole index, read after `opened`: the view becomes the index's
    /// with what was written since laid over it, and the index catches
    /// up. `None`, an index that did not read: every entry is read from
    /// the documents.
    pub fn rest_of_index(&mut self, start: Option<StartIndex>) {
        let Core::Ready(r) = self else {
            if let Some(start) = start {
                self.indexed(start);
            }
            return;
        };
        let Some(early) = r.early.take() else {
            return;
        };
        r.start_view(start, Some(early.opened));
        r.start_done();
    }

    /// Drops from memory the documents nobody used for
    /// [`crate::couple_journal::IDLE`], and returns free heap to the
    /// system; run now and then by the daemon. Returned every time: a
    /// long reply, a sync session or the start's own work leave free
    /// pages that the allocator keeps otherwise: 11 MB of them a minute
    /// after a 50,000-entry start, returned at the first tidy.
    pub fn tidy(&mut self, now: std::time::Instant) {
        if let Core::Ready(r) = self {
            r.journal.unload_idle(now, crate::couple_journal::IDLE);
        }
        crate::memory::give_back();
    }

    /// Handles a batch: applies every input in memory, commits once, then
    /// gives each its answer. `T` is whatever the caller needs to deliver
    /// an answer (a reply channel; nothing in tests).
    pub fn batch<T>(&mut self, work: Vec<(Input, T)>) -> Vec<(Output, T)> {
        let mut out: Vec<(Output, T, bool)> = Vec::with_capacity(work.len());
        // Frames for peers, generated once the batch is committed: the
        // commit signs my documents' heads, and a peer accepts only changes
        // that signed heads cover. Frames made before it would carry this
        // batch's changes unsigned, and while writes kept coming the peer
        // would hold every one of them back.
        let mut to_generate = Vec::new();
        for (input, t) in work {
            match &input {
                Input::Receive { session, .. } => to_generate.push((out.len(), *session)),
                Input::Generate { session } if matches!(self, Core::Ready(_)) => {
                    to_generate.push((out.len(), *session));
                    out.push((Output::Generated(Vec::new()), t, false));
                    continue;
                }
                _ => {}
            }
            let (o, wrote) = self.take(input);
            out.push((o, t, wrote));
        }
        let committed = match self {
            Core::Ready(r) if r.journal.is_dirty() => r.commit(),
            _ => Ok(()),
        };
        if let Err(e) = &committed {
            for (o, _, wrote) in &mut out {
                if *wrote {
                    *o = not_saved(o, e);
                }
            }
        }
        // The index follows what is durable, before anyone is answered.
        if let Core::Ready(r) = self
            && !r.journal.is_dirty()
        {
            r.write_index();
        }
        // What failed to commit is not sent: the next wake-up after a
        // commit that holds carries it.
        if let Core::Ready(r) = self
            && committed.is_ok()
        {
            for (i, session) in to_generate {
                match &mut out[i].0 {
                    Output::Received(Ok(received)) => match r.generate(session) {
                        Ok(reply) => received.reply = reply,
                        Err(e) => out[i].0 = Output::Received(Err(e)),
                    },
                    Output::Generated(frames) => match r.generate(session) {
                        Ok(made) => *frames = made,
                        // The core ended that session (or never knew it):
                        // no answer ends it in the sync layer too, and the
                        // peer is dialed again, rather than a session that
                        // looks alive and never sends.
                        Err(_) => out[i].0 = Output::Nothing,
                    },
                    _ => {}
                }
            }
        }
        // Each reply says everything up to the change counter as it stands
        // after this batch's commit, so its session can skip the wake-ups
        // up to there.
        let version = self
            .base()
            .link
            .as_ref()
            .map_or(0, |link| *link.changed.borrow());
        for (o, _, _) in &mut out {
            if let Output::Received(Ok(received)) = o {
                received.version = version;
            }
        }
        out.into_iter().map(|(o, t, _)| (o, t)).collect()
    }

    /// One input, applied in memory; also says whether it wrote.
    fn take(&mut self, input: Input) -> (Output, bool) {
        match (self, input) {
            (core, Input::SyncDown(why)) => {
                core.base_mut().sync_error = Some(why);
                (Output::Nothing, false)
            }
            (core, Input::Listening(addrs, port)) => {
                core.base_mut().remember_port(port);
                core.base_mut().own_addrs = Some(addrs);
                (Output::Nothing, false)
            }
            (Core::Ready(r), Input::Heard { peer, hello }) => {
                r.heard(peer, &hello);
                (Output::Nothing, false)
            }
            // Nothing to check it against yet; the next session says it again.
            (Core::Loading(_), Input::Heard { .. }) => (Output::Nothing, false),
            (Core::Loading(l), Input::Request(req)) => (Output::Response(l.handle(req)), false),
            (Core::Loading(_), Input::Peers(_)) => {
                (Output::Response(still_loading().into()), false)
            }
            (Core::Loading(_), input) => (sessions::while_loading(input), false),
            (Core::Ready(r), Input::Request(req)) => {
                let is_write = req.is_write();
                let resp = r.handle(req);
                let wrote = is_write && !matches!(resp, Response::Error(_));
                (Output::Response(resp), wrote)
            }
            (Core::Ready(r), Input::Peers(live)) => (Output::Response(r.peer_list(&live)), false),
            (Core::Ready(r), input) => r.sessions_take(input),
        }
    }

    /// Called on a clean shutdown: leaves one snapshot per document, so
    /// the next start is fast.
    pub fn shutdown(&mut self) {
        if let Core::Ready(r) = self {
            r.journal.compact(1);
        }
    }
}

/// The answer to an input that wrote, once its commit failed.
fn not_saved(o: &Output, e: &StoreError) -> Output {
    match o {
        Output::Received(_) => Output::Received(Err(SyncError::Storage(e.to_string()))),
        Output::Trusted(_) => Output::Trusted(Err(SyncError::Storage(e.to_string()))),
        _ => Output::Response(Refusal::new(ErrorKind::Storage, format!("not saved: {e}")).into()),
    }
}

fn still_loading() -> Refusal {
    Refusal::new(
        ErrorKind::Internal,
        "the journal is still loading; try again",
    )
}

impl Base {
    /// Keeps the port the endpoint got, so peers find us there next time.
    fn remember_port(&mut self, port: u16) {
        if self.identity.port != Some(port) {
            self.identity.port = Some(port);
            self.save_identity("the sync port");
        }
    }

    /// Saves the identity file after `what` in it changed. A failure is
    /// logged, not fatal: the daemon goes on with what it holds in memory.
    fn save_identity(&self, what: &str) {
        if let Err(e) = self.identity_file.save(&self.identity) {
            tracing::warn!(error = %e, "could not save {what}");
        }
    }
}

impl Loading {
    /// What a loading daemon can answer: status, and reads of a cached view.
    fn handle(&self, req: Request) -> Response {
        let answered = match (&req, self.cached()) {
            (Request::Status, view) => Ok(setup::status(&self.base, view, None)),
            (Request::Shutdown | Request::Unlock(_), _) => Ok(Response::Ok),
            (Request::Log(q), Some(view)) => {
                entries::Reader::new(&self.base, view, DayBoundary::default()).log(q)
            }
            (Request::Log(q), None) => self.early_log(q).ok_or_else(still_loading),
            (Request::Show(s), Some(view)) => {
                entries::Reader::new(&self.base, view, DayBoundary::default()).show(s)
            }
            _ => Err(still_loading()),
        };
        answered.unwrap_or_else(Response::from)
    }
}

impl Ready {
    /// What every start ends with, once the view is whole: past years it
    /// read again (moved since the index last caught up, or every one
    /// without an index) leave memory before the index write, which keeps
    /// the summary of each year not in memory; the index's pages, read and
    /// parsed, are returned; the sync layer learns who is trusted.
    fn start_done(&mut self) {
        self.journal
            .unload_idle(std::time::Instant::now(), std::time::Duration::ZERO);
        self.write_index();
        crate::memory::give_back();
        self.publish();
    }

    /// Answers a request in memory. A refused request leaves nothing behind,
    /// even if it failed after a first change (say, the entry before its
    /// rituals).
    pub fn handle(&mut self, req: Request) -> Response {
        let before = self.journal.checkpoint();
        match self.dispatch(req) {
            Ok(r) => r,
            Err(refusal) => {
                if self.journal.checkpoint() != before {
                    self.rollback_to(&before);
                }
                refusal.into()
            }
        }
    }

    /// One line per request.
    fn dispatch(&mut self, req: Request) -> Handled {
        match req {
            Request::Status => Ok(self.status()),
            Request::Shutdown => Ok(Response::Ok),
            // The key is in use already; saying so is not an error.
            Request::Unlock(_) => Ok(Response::Ok),
            Request::Init(r) => self.init(r),
            Request::Rename(r) => self.rename(r),
            Request::Add(r) => self.add(r),
            Request::Edit(r) => self.edit(r),
            Request::Delete(r) => self.delete(r),
            Request::Show(r) => self.reader().show(&r),
            Request::Log(r) => self.reader().log(&r),
            Request::Import(r) => self.import(r),
            Request::RepairResolve(r) => self.repair_resolve(r),
            Request::RitualAdd(r) => self.ritual_add(r),
            Request::RitualList(r) => self.ritual_list(r.at),
            Request::RitualDone(r) => self.ritual_done(r),
            Request::RitualChange(r) => self.ritual_change(r),
            Request::RitualRemove(r) => self.ritual_remove(r),
            Request::Due(r) => self.due(r),
            Request::Prompt(r) => self.prompt(r),
            Request::PromptList => self.prompt_list(),
            Request::PromptSkip(r) => self.prompt_skip(r),
            Request::PromptAdd(r) => self.prompt_add(r),
            Request::Review(r) => self.review(r),
            Request::Mood(r) => self.mood(r),
            Request::OnThisDay(r) => self.on_this_day(r),
            Request::Export(q) => self.export(q),
            Request::ExportDocument => self.export_document(),
            Request::PeersAdd(r) => self.peers_add(r),
            Request::PeersRemove(r) => self.peers_remove(r),
            Request::PeersApprove(r) => self.peers_approve(r),
            Request::Peers => Ok(self.peer_list(&[])),
            Request::Notices(q) => Ok(self.notices(&q)),
            Request::PairInvite(_)
            | Request::PairWait
            | Request::PairJoin(_)
            | Request::PairConfirm(_)
            | Request::Sync(_) => Err(Refusal::new(
                ErrorKind::Internal,
                "sync is not running on this device",
            )),
        }
    }

    fn day_boundary(&self) -> DayBoundary {
        self.journal.day_boundary()
    }

    fn reader(&self) -> entries::Reader<'_> {
        entries::Reader::new(&self.base, &self.view, self.day_boundary())
    }

    fn ctx(&self, at: chrono::DateTime<chrono::FixedOffset>) -> Result<WriteCtx, Refusal> {
        Ok(WriteCtx {
            author: self.base.me()?,
            device: self.base.identity.device.clone(),
            now: at,
        })
    }

    fn other_partner(&self, me: &PartnerId) -> Option<PartnerId> {
        self.view.partners.keys().find(|p| *p != me).cloned()
    }

    /// Both partners with names, the asking one first.
    fn partners_me_first(&self, me: &PartnerId) -> Vec<(PartnerId, String)> {
        let mut v: Vec<(PartnerId, String)> = self
            .view
            .partners
            .iter()
            .map(|(p, n)| (p.clone(), n.clone()))
            .collect();
        v.sort_by_key(|(p, _)| p != me);
        v
    }

    fn random(&mut self) -> u128 {
        use rand::Rng;
        self.base.rng.random()
    }

    /// Draws for one new entry version (its key, nonce and id). Always from
    /// the operating system's generator: `HEARTH_SEED` pins the core's
    /// generator for tests (entry ids), and a key must never be predictable.
    fn draws(&mut self) -> impl FnMut() -> u128 + use<> {
        rand::random::<u128>
    }

    /// Puts the in-memory documents back to `to` (ancestors of now).
    fn rollback_to(&mut self, to: &Checkpoint) {
        self.journal.rollback_to(to);
        self.rebuild_view();
    }

    /// Brings the view up to what a peer's frame changed: the entries it
    /// touched, re-read; the whole view when the couple document moved
    /// (names, settled repairs, trust).
    fn refresh_view(&mut self, applied: &crate::couple_journal::Applied) {
        if applied
            .changed
            .contains(&hearth_model::records::manifest::DocId::Couple)
        {
            self.rebuild_view();
            return;
        }
        for id in &applied.entries {
            match self.journal.view_entry(id) {
                Some(e) => {
                    self.view.entries.insert(*id, Box::new(e));
                }
                None => {
                    self.view.entries.remove(id);
                }
            }
            self.index.mark(*id);
        }
        self.view.heads = self.journal.heads_hex();
    }

    /// Makes every applied change durable. On failure the in-memory
    /// documents go back to what is on disk, so nothing unacknowledged
    /// lingers.
    fn commit(&mut self) -> Result<(), StoreError> {
        match self.journal.commit() {
            Ok(written) => {
                self.index.committed();
                self.journal.compact(COMPACT_AFTER_CHUNKS);
                self.adopt_partner();
                if !written.docs.is_empty() {
                    self.view.heads = self.journal.heads_hex();
                    self.view.partners = self.journal.partners();
                    self.adopt_held_addresses();
                }
                if !written.docs.is_empty() || written.keys {
                    self.publish();
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "write failed; rolling back to the last durable state");
                self.journal.rollback_uncommitted();
                self.rebuild_view();
                Err(e)
            }
        }
    }

    /// A device that learned from a certificate whose it is remembers it.
    fn adopt_partner(&mut self) {
        let Some(p) = self.journal.partner() else {
            return;
        };
        let id = PartnerId(p.to_hex().into());
        if self.base.identity.partner.as_ref() != Some(&id) {
            self.base.identity.partner = Some(id);
            self.base.save_identity("whose device this is");
        }
    }
}

#[cfg(test)]
mod tests;
