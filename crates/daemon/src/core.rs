//! The daemon's state and the handling of every request, free of sockets
//! and threads so it can be driven directly in tests.
//!
//! Writes change the in-memory document first; `commit` then makes them
//! durable as one chunk, and only after it succeeds are they acknowledged.
//! A failed commit rolls the document back to what is on disk.

use std::collections::BTreeSet;

use automerge::sync::SyncDoc;
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use hearth_ipc::{
    DueList, EntryList, ErrorKind, ErrorReply, LogQuery, OwnerArg, PartnerAnswer, PeerInfo,
    PeerList, PromptToday, Request, Response, RitualList, StatusInfo,
};
use hearth_model::doc::Prompt;
use hearth_model::ritual::{Owner, Ritual, RitualDone, due_today};
use hearth_model::{Body, Filter, Journal, ModelError, PartnerId, View, WriteCtx, parse_when};
use hearth_store::{Quarantined, Store, StoreError};
use hearth_sync::{DocRequest, EndpointId, Received, SyncError, TrustedSet};
use rand::{Rng, SeedableRng, rngs::StdRng};
use sha2::{Digest, Sha256};
use std::collections::HashMap;
use tokio::sync::watch;

use crate::identity::Identity;

/// A sync message carrying more change bytes than this rebuilds the view
/// instead of tracking each patch (a first sync brings a whole journal).
const BULK_BYTES: usize = 256 * 1024;

/// Compact once this many chunks have piled up since the last snapshot.
pub const COMPACT_AFTER_CHUNKS: usize = 256;

pub struct Core {
    pub identity: Identity,
    identity_path: std::path::PathBuf,
    data_dir: String,
    /// `None` until the document has loaded.
    loaded: Option<Loaded>,
    view: View,
    /// Whether `view` can answer reads yet (a valid cache, or loaded).
    view_ready: bool,
    quarantined: Vec<Quarantined>,
    rng: StdRng,
    /// One Automerge sync state per live session with a peer.
    sessions: HashMap<u64, (EndpointId, automerge::sync::State)>,
    /// The heads each peer last told us it has, for "unsent changes".
    their_heads: HashMap<EndpointId, Vec<automerge::ChangeHash>>,
    link: Option<SyncLink>,
    pub sync_error: Option<String>,
    /// Where the sync endpoint listens, once it does.
    own_addrs: Option<Vec<std::net::SocketAddr>>,
}

/// How the core tells the sync layer about changes and trust.
pub struct SyncLink {
    pub changed: watch::Sender<u64>,
    pub trusted: watch::Sender<TrustedSet>,
}

struct Loaded {
    journal: Journal,
    store: Store,
}

fn err(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

fn model_err(e: ModelError) -> Response {
    let kind = match e {
        ModelError::NoSuchEntry(_) | ModelError::NoSuchRitual(_) | ModelError::NoSuchPrompt(_) => {
            ErrorKind::NotFound
        }
        ModelError::NotInitialised => ErrorKind::NotInitialised,
        ModelError::Automerge(_) => ErrorKind::Internal,
        _ => ErrorKind::BadRequest,
    };
    err(kind, e.to_string())
}

impl Core {
    /// A core with a view that may come from the cache; the document loads
    /// separately and arrives through [`Core::loaded`].
    pub fn new(
        identity: Identity,
        identity_path: std::path::PathBuf,
        data_dir: String,
        cached: Option<View>,
        seed: Option<u64>,
    ) -> Core {
        Core {
            identity,
            identity_path,
            data_dir,
            loaded: None,
            view_ready: cached.is_some(),
            view: cached.unwrap_or_default(),
            quarantined: Vec::new(),
            rng: seed.map_or_else(StdRng::from_os_rng, StdRng::seed_from_u64),
            sessions: HashMap::new(),
            their_heads: HashMap::new(),
            link: None,
            sync_error: None,
            own_addrs: None,
        }
    }

    pub fn set_link(&mut self, link: SyncLink) {
        self.link = Some(link);
        self.publish();
    }

    /// Tells the sync layer the document changed, and who is trusted now.
    fn publish(&self) {
        let (Some(link), Some(l)) = (&self.link, &self.loaded) else {
            return;
        };
        link.changed.send_modify(|v| *v += 1);
        let me = self.identity.device.as_str();
        let trusted: TrustedSet = l
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| !d.removed && id.as_str() != me)
            .filter_map(|(id, d)| {
                let peer: EndpointId = id.as_str().parse().ok()?;
                let addrs = d
                    .addrs
                    .split_whitespace()
                    .filter_map(|a| a.parse().ok())
                    .collect();
                Some((peer, addrs))
            })
            .collect();
        link.trusted.send_if_modified(|t| {
            if *t == trusted {
                false
            } else {
                *t = trusted;
                true
            }
        });
    }

    /// Serves the sync layer. Changes from a peer are durable before the
    /// session is told they were applied.
    pub fn handle_doc(&mut self, req: DocRequest) {
        match req {
            DocRequest::Start { session, peer } => {
                self.sessions
                    .insert(session, (peer, automerge::sync::State::new()));
            }
            DocRequest::End { session } => {
                self.sessions.remove(&session);
            }
            DocRequest::Generate { session, reply } => {
                let _ = reply.send(self.sync_message(session));
            }
            DocRequest::Receive {
                session,
                msg,
                reply,
            } => {
                let _ = reply.send(self.receive(session, *msg));
            }
            DocRequest::Trust { peer, addrs, reply } => {
                let _ = reply.send(self.trust(peer, &addrs).map_err(SyncError::Trust));
            }
        }
    }

    /// Applies a peer's message, stores what it brought, and answers with
    /// the session's next message, all in one request.
    fn receive(
        &mut self,
        session: u64,
        msg: automerge::sync::Message,
    ) -> Result<Received, SyncError> {
        let Some(l) = self.loaded.as_mut() else {
            return Err(SyncError::Loading);
        };
        let Some((peer, state)) = self.sessions.get_mut(&session) else {
            return Err(SyncError::NoSession);
        };
        let peer = *peer;
        let before = l.journal.heads();
        // Patches tell which entries changed at the cost of what arrived;
        // a first sync of a whole journal is cheaper to read afresh.
        let bulk = msg.changes.iter().map(<[u8]>::len).sum::<usize>() > BULK_BYTES;
        let mut log = automerge::PatchLog::new(!bulk);
        // Automerge has panicked on crafted changes before; a panic here
        // must cost the peer its session, not the daemon its document.
        let applied = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            l.journal
                .doc_mut()
                .receive_sync_message_log_patches(state, msg, &mut log)
        }));
        let their = state.their_heads.clone();
        let failed = match applied {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(SyncError::Rejected(e.to_string())),
            Err(_) => Some(SyncError::Panicked),
        };
        if let Some(why) = failed {
            if l.journal.heads() != before || l.store.is_dirty(l.journal.doc()) {
                let saved = l.store.saved_heads().to_vec();
                self.rollback_to(&saved);
            }
            return Err(why);
        }
        if let Some(h) = their {
            self.their_heads.insert(peer, h);
        }
        let l = self.loaded.as_mut().expect("checked above");
        if l.journal.heads() != before {
            tracing::info!(peer = %peer.fmt_short(), bulk, "merged changes from a peer");
            let touched = (!bulk).then(|| {
                let patches = l.journal.doc().make_patches(&mut log);
                l.journal.entries_in_patches(&patches)
            });
            self.commit()
                .map_err(|e| SyncError::Storage(e.to_string()))?;
            if let Some(l) = self.loaded.as_ref() {
                match touched {
                    Some(ids) => self.view.refresh(&l.journal, &ids),
                    None => self.view = View::build(&l.journal),
                }
                self.view.partners = l.journal.partners();
            }
        }
        let ours = self
            .loaded
            .as_ref()
            .map(|l| l.journal.heads())
            .unwrap_or_default();
        let mut theirs = self.their_heads.get(&peer).cloned().unwrap_or_default();
        let mut ours_sorted = ours;
        theirs.sort();
        ours_sorted.sort();
        // The counter as it stands now, after this receive's commit: the
        // reply generated below accounts for every change up to it.
        let version = self.link.as_ref().map_or(0, |link| *link.changed.borrow());
        Ok(Received {
            reply: self.sync_message(session),
            in_sync: theirs == ours_sorted,
            version,
        })
    }

    /// The next sync message for a session, if there is anything to say.
    fn sync_message(&mut self, session: u64) -> Option<Vec<u8>> {
        let (Some(l), Some((_, state))) = (self.loaded.as_ref(), self.sessions.get_mut(&session))
        else {
            return None;
        };
        // The state holds what the peer told us; if that still trips
        // Automerge, the session ends, not us.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            l.journal
                .doc()
                .generate_sync_message(state)
                .map(|m| m.encode())
        }))
        .map_err(|_| {
            tracing::error!(
                session,
                "generating a sync message panicked; ending the session"
            )
        })
        .ok()
        .flatten()
    }

    fn trust(&mut self, peer: EndpointId, addrs: &[std::net::SocketAddr]) -> Result<(), String> {
        let now = chrono::Utc::now().fixed_offset();
        let l = self.loaded.as_mut().ok_or("the journal is still loading")?;
        let id = hearth_model::DeviceId(peer.to_string());
        l.journal
            .trust_device(&id, now)
            .map_err(|e| e.to_string())?;
        if !addrs.is_empty()
            && l.journal
                .devices()
                .get(&id)
                .is_some_and(|d| d.addrs.is_empty())
        {
            let joined: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            l.journal
                .set_device_addrs(&id, &joined.join(" "), now)
                .map_err(|e| e.to_string())?;
        }
        self.commit().map_err(|e| e.to_string())
    }

    /// Records where this device listens, in the identity (to reuse the
    /// port) and in the document (so peers can dial it).
    pub fn set_own_addrs(&mut self, addrs: &[std::net::SocketAddr], port: u16) {
        self.own_addrs = Some(addrs.to_vec());
        if self.identity.port != Some(port) {
            self.identity.port = Some(port);
            if let Err(e) = self.identity.save(&self.identity_path) {
                tracing::warn!(error = %e, "could not save the sync port");
            }
        }
        let Some(l) = self.loaded.as_mut() else {
            return;
        };
        // Only a registered device advertises itself.
        if !l.journal.devices().contains_key(&self.identity.device) {
            return;
        }
        let joined: Vec<String> = addrs.iter().map(ToString::to_string).collect();
        let now = chrono::Utc::now().fixed_offset();
        if l.journal
            .set_device_addrs(&self.identity.device, &joined.join(" "), now)
            .is_ok()
            && let Err(e) = self.commit()
        {
            tracing::warn!(error = %e, "could not save this device's addresses");
        }
    }

    fn peer_list(&self) -> Result<Response, Response> {
        let l = self.ready()?;
        let devices = l.journal.devices();
        let me = &self.identity.device;
        let peers = devices
            .iter()
            .filter(|(id, d)| *id != me && !d.removed)
            .map(|(id, d)| {
                let unsent = id
                    .as_str()
                    .parse::<EndpointId>()
                    .ok()
                    .and_then(|p| self.their_heads.get(&p))
                    .map(|heads| {
                        let known: Vec<_> = heads
                            .iter()
                            .copied()
                            .filter(|h| l.journal.doc().get_change_meta_by_hash(h).is_some())
                            .collect();
                        l.journal.doc().get_changes(&known).len()
                    });
                PeerInfo {
                    id: id.to_string(),
                    name: d.name.clone(),
                    partner: d.partner.as_ref().map(|p| self.view.name_of(p).to_string()),
                    online: false,
                    last_sync: None,
                    path: None,
                    unsent_changes: unsent,
                    addrs: d.addrs.split_whitespace().map(str::to_string).collect(),
                    last_error: None,
                    bytes_sent: 0,
                    bytes_received: 0,
                }
            })
            .collect();
        Ok(Response::Peers(PeerList {
            me: me.to_string(),
            addrs: devices
                .get(me)
                .map(|d| d.addrs.split_whitespace().map(str::to_string).collect())
                .unwrap_or_default(),
            peers,
        }))
    }

    fn resolve_device(&self, who: &str) -> Result<hearth_model::DeviceId, Response> {
        let l = self.ready()?;
        let w = who.trim().to_lowercase();
        let hits: Vec<_> = l
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| {
                !d.removed && (id.as_str().starts_with(&w) || d.name.to_lowercase() == w)
            })
            .map(|(id, _)| id)
            .collect();
        match hits.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(err(
                ErrorKind::NotFound,
                format!("no trusted device matches {who:?}"),
            )),
            _ => Err(err(
                ErrorKind::BadRequest,
                format!(
                    "{who:?} matches {} devices; give more of the id",
                    hits.len()
                ),
            )),
        }
    }

    pub fn is_loaded(&self) -> bool {
        self.loaded.is_some()
    }

    pub fn can_read(&self) -> bool {
        self.view_ready
    }

    /// Takes the loaded document. The cached view is kept if it matches
    /// the document's heads, and otherwise brought up to date.
    pub fn loaded(&mut self, opened: hearth_store::Opened) -> Result<(), ModelError> {
        let journal = Journal::from_doc(opened.doc)?;
        self.quarantined = opened.quarantined;
        let fresh = if self.view_ready && self.view.is_current(&journal) {
            false
        } else {
            if self.view_ready {
                tracing::warn!("cached view did not match the document; rebuilding it");
            }
            self.view.catch_up(&journal);
            true
        };
        self.view.partners = journal.partners();
        self.view_ready = true;
        self.loaded = Some(Loaded {
            journal,
            store: opened.store,
        });
        if fresh {
            self.save_view();
        }
        self.publish();
        Ok(())
    }

    fn save_view(&self) {
        if let Some(l) = &self.loaded {
            if l.store.is_dirty(l.journal.doc()) {
                return;
            }
            if let Err(e) = l.store.save_view(&self.view) {
                tracing::warn!(error = %e, "could not save the view cache; the next start will be slower");
            }
        }
    }

    /// The loaded journal, or the answer to give while it is loading.
    fn ready(&self) -> Result<&Loaded, Response> {
        self.loaded.as_ref().ok_or_else(|| {
            err(
                ErrorKind::Internal,
                "the journal is still loading; try again",
            )
        })
    }

    fn me(&self) -> Result<PartnerId, Response> {
        self.identity.partner.clone().ok_or_else(|| {
            err(
                ErrorKind::NotInitialised,
                "this device is not set up yet: run `hearth init --name <your name>`",
            )
        })
    }

    fn other_partner(&self, me: &PartnerId) -> Option<PartnerId> {
        self.view.partners.keys().find(|p| *p != me).cloned()
    }

    fn ctx(&self, at: DateTime<FixedOffset>) -> Result<WriteCtx, Response> {
        Ok(WriteCtx {
            author: self.me()?,
            device: self.identity.device.clone(),
            now: at,
        })
    }

    /// Answers a request. Writes are applied in memory and must be followed
    /// by [`Core::commit`] before the response is sent.
    pub fn handle(&mut self, req: Request) -> Response {
        let before = self.loaded.as_ref().map(|l| l.journal.heads());
        match self.handle_inner(req) {
            Ok(r) => r,
            Err(r) => {
                // A refused request leaves nothing behind, even if it failed
                // after a first change (say, the entry before its rituals).
                if let Some(before) = before
                    && self
                        .loaded
                        .as_ref()
                        .is_some_and(|l| l.journal.heads() != before)
                {
                    self.rollback_to(&before);
                }
                r
            }
        }
    }

    /// Puts the in-memory document back to `heads` (an ancestor of now).
    fn rollback_to(&mut self, heads: &[automerge::ChangeHash]) {
        let Some(l) = self.loaded.as_mut() else {
            return;
        };
        let actor = l.journal.doc().get_actor().clone();
        match l
            .journal
            .doc()
            .fork_at(heads)
            .map_err(ModelError::from)
            .and_then(|doc| Journal::from_doc(doc.with_actor(actor)))
        {
            Ok(j) => {
                l.journal = j;
                self.view = View::build(&l.journal);
            }
            Err(e) => tracing::error!(error = %e, "rollback failed"),
        }
    }

    /// Prompts I have answered: my partner's answers to them are open.
    fn my_answers(&self) -> std::collections::HashSet<&str> {
        let me = self.identity.partner.as_ref();
        self.view
            .entries
            .values()
            .filter(|m| Some(&m.author) == me && m.deleted.is_none())
            .filter_map(|m| match &m.body {
                Body::Answer { prompt, .. } => Some(prompt.as_str()),
                _ => None,
            })
            .collect()
    }

    /// Whether `e` is my partner's answer to a prompt I have not answered:
    /// sealed, so no read path may show it.
    fn sealed(&self, e: &hearth_model::Entry, mine: &std::collections::HashSet<&str>) -> bool {
        match &e.body {
            Body::Answer { prompt, .. } => {
                Some(&e.author) != self.identity.partner.as_ref() && !mine.contains(prompt.as_str())
            }
            _ => false,
        }
    }

    fn handle_inner(&mut self, req: Request) -> Result<Response, Response> {
        if !self.view_ready {
            return Err(err(
                ErrorKind::Internal,
                "the journal is still loading; try again",
            ));
        }
        if req.is_write() && self.loaded.is_none() {
            return Err(err(
                ErrorKind::Internal,
                "the journal is still loading; try again",
            ));
        }
        match req {
            Request::Status => Ok(self.status()),
            Request::Shutdown => Ok(Response::Ok),
            Request::Peers => self.peer_list(),
            Request::PeersAdd { id, addrs, at } => {
                let peer: EndpointId = id.trim().parse().map_err(|_| {
                    err(
                        ErrorKind::BadRequest,
                        format!("invalid device id {id:?}: expected 64 hex characters"),
                    )
                })?;
                if peer.to_string() == self.identity.device.0 {
                    return Err(err(ErrorKind::BadRequest, "that is this device's own id"));
                }
                let l = self.loaded.as_mut().expect("checked above");
                let dev = hearth_model::DeviceId(peer.to_string());
                l.journal.trust_device(&dev, at).map_err(model_err)?;
                if !addrs.is_empty() {
                    let joined: Vec<String> = addrs.iter().map(ToString::to_string).collect();
                    l.journal
                        .set_device_addrs(&dev, &joined.join(" "), at)
                        .map_err(model_err)?;
                }
                Ok(Response::Ok)
            }
            Request::PeersRemove { id, at } => {
                let dev = self.resolve_device(&id)?;
                if dev == self.identity.device {
                    return Err(err(
                        ErrorKind::BadRequest,
                        "this device cannot remove itself; remove it from another device",
                    ));
                }
                let l = self.loaded.as_mut().expect("checked above");
                l.journal.remove_device(&dev, at).map_err(model_err)?;
                Ok(Response::Ok)
            }
            Request::PairInvite { .. }
            | Request::PairWait
            | Request::PairJoin { .. }
            | Request::Sync { .. } => Err(err(
                ErrorKind::Internal,
                "sync is not running on this device",
            )),
            Request::Init {
                name,
                device_name,
                day_start_hour,
                at,
            } => self.init(&name, &device_name, day_start_hour, at),
            Request::Rename { name, at } => self.rename(&name, at),
            Request::Add { entry, at } => {
                let ctx = self.ctx(at)?;
                self.check_answer(&entry)?;
                let random: u128 = self.rng.random();
                let ms = u64::try_from(at.timestamp_millis())
                    .map_err(|_| err(ErrorKind::BadRequest, "the time is before 1970"))?;
                // Order after this device's own last entry only: basing it
                // on a partner's entry could mint the id they mint too.
                let me = &self.identity.device;
                let last = self
                    .view
                    .entries
                    .values()
                    .rev()
                    .take_while(|e| e.id.0.timestamp_ms() >= ms)
                    .filter(|e| &e.device == me)
                    .map(|e| e.id)
                    .max();
                let id = hearth_model::EntryId::next_after(last, ms, random);
                let l = self.loaded.as_mut().expect("checked above");
                let e = l.journal.add_entry(&ctx, &entry, id).map_err(model_err)?;
                self.view.upsert(&l.journal, e.clone());
                let completed = self.complete_rituals_for(&ctx, &e)?;
                Ok(Response::Entry {
                    short_len: self.view.unique_len(&e.id, 10),
                    entry: Box::new(e),
                    names: self.view.partners.clone(),
                    completed,
                })
            }
            Request::Edit { id, patch, at } => {
                let ctx = self.ctx(at)?;
                let id = self.view.resolve(&id).map_err(model_err)?;
                let l = self.loaded.as_mut().expect("checked above");
                let e = l.journal.edit_entry(&ctx, &id, &patch).map_err(model_err)?;
                self.view.upsert(&l.journal, e.clone());
                Ok(self.entry_reply(e))
            }
            Request::Delete { id, at } => {
                let ctx = self.ctx(at)?;
                let id = self.view.resolve(&id).map_err(model_err)?;
                let l = self.loaded.as_mut().expect("checked above");
                let e = l.journal.delete_entry(&ctx, &id).map_err(model_err)?;
                self.view.upsert(&l.journal, e.clone());
                Ok(self.entry_reply(e))
            }
            Request::Show { id } => {
                let id = self.view.resolve(&id).map_err(model_err)?;
                let e = self.view.entries[&id].clone();
                if self.sealed(&e, &self.my_answers()) {
                    return Err(err(
                        ErrorKind::BadRequest,
                        "that answer is sealed until you answer the same prompt (`hearth prompt answer`)",
                    ));
                }
                Ok(self.entry_reply(e))
            }
            Request::Log { query, at } => self.log(&query, at),
            Request::RitualAdd {
                name,
                kind,
                cadence,
                owner,
                fulfilled_by,
                at,
            } => {
                let ctx = self.ctx(at)?;
                let owner = self.owner_from(owner, &ctx.author)?;
                let l = self.loaded.as_mut().expect("checked above");
                let existing = l.journal.rituals();
                if existing
                    .iter()
                    .any(|r| r.archived.is_none() && r.name.eq_ignore_ascii_case(name.trim()))
                {
                    return Err(err(
                        ErrorKind::BadRequest,
                        format!("a ritual named {:?} already exists", name.trim()),
                    ));
                }
                let random: u128 = self.rng.random();
                let ritual = Ritual {
                    id: ulid::Ulid::from_parts(at.timestamp_millis().max(0) as u64, random)
                        .to_string()
                        .to_ascii_lowercase(),
                    name: name.trim().to_string(),
                    kind,
                    cadence,
                    owner,
                    fulfilled_by,
                    created: at,
                    archived: None,
                };
                l.journal.add_ritual(&ctx, &ritual).map_err(model_err)?;
                self.ritual_list(at)
            }
            Request::RitualList { at } => self.ritual_list(at),
            Request::RitualDone { ritual, entry, at } => {
                let ctx = self.ctx(at)?;
                let entry = entry
                    .map(|e| self.view.resolve(&e))
                    .transpose()
                    .map_err(model_err)?;
                let l = self.loaded.as_mut().expect("checked above");
                let r = find_ritual(&l.journal.rituals(), &ritual).map_err(model_err)?;
                if !r.owner.includes(&ctx.author) {
                    return Err(model_err(ModelError::NotYourRitual(r.name.clone())));
                }
                let today = l.journal.day_boundary().day_of(at);
                let occ = r.cadence.occurrence(today);
                let done = l
                    .journal
                    .mark_done(&ctx, &r, occ, entry)
                    .map_err(model_err)?;
                Ok(Response::RitualDone {
                    ritual: Box::new(r),
                    done: Box::new(done),
                })
            }
            Request::Due { at } => {
                let me = self.me()?;
                let l = self.ready()?;
                let today = l.journal.day_boundary().day_of(at);
                let partner = self.other_partner(&me);
                let items = due_today(
                    &l.journal.rituals(),
                    &l.journal.ritual_log(),
                    today,
                    l.journal.day_boundary(),
                    &me,
                    partner.as_ref(),
                );
                Ok(Response::Due(DueList {
                    today,
                    items,
                    me,
                    names: self.view.partners.clone(),
                }))
            }
            Request::Prompt { at, id } => self
                .prompt_view(at, id.as_deref())
                .map(|p| Response::Prompt(Box::new(p))),
            Request::PromptList => Ok(Response::Prompts {
                prompts: self.ready()?.journal.prompts(),
            }),
            Request::PromptSkip { at } => {
                let ctx = self.ctx(at)?;
                let current = self.prompt_view(at, None)?;
                // Skipping a prompt answered today would strand the answer:
                // the other partner could no longer reach it from `hearth
                // prompt`. (Answers from the last time it came up do not
                // count.)
                let answered_today = |who: &PartnerId| {
                    self.view.entries.values().any(|e| {
                        e.deleted.is_none()
                            && &e.author == who
                            && e.day == current.day
                            && matches!(&e.body, Body::Answer { prompt, .. } if *prompt == current.prompt.id)
                    })
                };
                if answered_today(&ctx.author) {
                    return Err(err(
                        ErrorKind::BadRequest,
                        "you have answered today's prompt already; it stays until tomorrow",
                    ));
                }
                if self
                    .other_partner(&ctx.author)
                    .is_some_and(|p| answered_today(&p))
                {
                    return Err(err(
                        ErrorKind::BadRequest,
                        format!(
                            "{} has answered today's prompt already; answer it too, or let it rest until tomorrow",
                            current.partner_name.as_deref().unwrap_or("your partner")
                        ),
                    ));
                }
                let l = self.loaded.as_mut().expect("checked above");
                l.journal
                    .skip_prompt(&ctx, current.day, &current.prompt.id)
                    .map_err(model_err)?;
                self.prompt_view(at, None)
                    .map(|p| Response::Prompt(Box::new(p)))
            }
            Request::RitualChange {
                ritual,
                name,
                cadence,
                on,
                owner,
                fulfilled_by,
                manual,
                at,
            } => {
                let ctx = self.ctx(at)?;
                let owner = owner.map(|o| self.owner_from(o, &ctx.author)).transpose()?;
                let l = self.loaded.as_mut().expect("checked above");
                let rituals = l.journal.rituals();
                let r = find_ritual(&rituals, &ritual).map_err(model_err)?;
                if !r.owner.includes(&ctx.author) {
                    return Err(model_err(ModelError::NotYourRitual(r.name.clone())));
                }
                let cadence = match on {
                    Some(on) => Some(
                        cadence
                            .unwrap_or(r.cadence)
                            .on_day(&on)
                            .map_err(model_err)?,
                    ),
                    None => cadence,
                };
                if let Some(n) = &name
                    && rituals.iter().any(|o| {
                        o.archived.is_none()
                            && o.id != r.id
                            && o.name.eq_ignore_ascii_case(n.trim())
                    })
                {
                    return Err(err(
                        ErrorKind::BadRequest,
                        format!("a ritual named {:?} already exists", n.trim()),
                    ));
                }
                let change = hearth_model::RitualChange {
                    name,
                    cadence,
                    owner,
                    fulfilled_by: if manual {
                        Some(None)
                    } else {
                        fulfilled_by.map(Some)
                    },
                };
                if change == hearth_model::RitualChange::default() {
                    return Err(err(
                        ErrorKind::BadRequest,
                        "nothing to change: give --name, --cadence, --owner, --fulfilled-by or --manual",
                    ));
                }
                l.journal
                    .update_ritual(&ctx, &r.id, &change)
                    .map_err(model_err)?;
                self.ritual_list(at)
            }
            Request::RitualRemove { ritual, at } => {
                let ctx = self.ctx(at)?;
                let l = self.loaded.as_mut().expect("checked above");
                let r = find_ritual(&l.journal.rituals(), &ritual).map_err(model_err)?;
                if !r.owner.includes(&ctx.author) {
                    return Err(model_err(ModelError::NotYourRitual(r.name.clone())));
                }
                l.journal.archive_ritual(&ctx, &r.id).map_err(model_err)?;
                self.ritual_list(at)
            }
            Request::RepairResolve { id, resolved, at } => {
                let ctx = self.ctx(at)?;
                let id = self.view.resolve(&id).map_err(model_err)?;
                let l = self.loaded.as_mut().expect("checked above");
                let e = l
                    .journal
                    .set_resolved(&ctx, &id, resolved)
                    .map_err(model_err)?;
                self.view.upsert(&l.journal, e.clone());
                Ok(self.entry_reply(e))
            }
            Request::Review {
                span,
                until,
                include_tender,
                at,
            } => self.review(span, until.as_deref(), include_tender, at),
            Request::Mood { weeks, at } => {
                let me = self.me()?;
                if !(1..=520).contains(&weeks) {
                    return Err(err(
                        ErrorKind::BadRequest,
                        format!("cannot chart {weeks} weeks: use 1 to 520"),
                    ));
                }
                let to = self.day_boundary().day_of(at);
                let monday =
                    to - chrono::Duration::days(i64::from(to.weekday().num_days_from_monday()));
                let from = monday - chrono::Duration::weeks(i64::from(weeks) - 1);
                let series = hearth_model::insight::mood_series(
                    self.view.entries.values().filter(|e| e.deleted.is_none()),
                    &self.partners_me_first(&me),
                    from,
                    to,
                );
                Ok(Response::Mood { from, to, series })
            }
            Request::OnThisDay { include_tender, at } => {
                self.me()?;
                let today = self.day_boundary().day_of(at);
                let mine = self.my_answers();
                let found = hearth_model::insight::on_this_day(
                    self.view.entries.values().filter(|e| {
                        e.deleted.is_none()
                            && (include_tender || !e.tender)
                            && !self.sealed(e, &mine)
                    }),
                    today,
                );
                Ok(Response::OnThisDay {
                    found: Box::new(found),
                    names: self.view.partners.clone(),
                    short_len: self.view.short_len(8),
                })
            }
            Request::Export { .. } => {
                let l = self.ready()?;
                let mine = self.my_answers();
                let (sealed, entries): (Vec<_>, Vec<_>) = self
                    .view
                    .entries
                    .values()
                    .filter(|e| e.deleted.is_none())
                    .partition(|e| self.sealed(e, &mine));
                Ok(Response::Export(Box::new(hearth_ipc::ExportData {
                    names: self.view.partners.clone(),
                    entries: entries.into_iter().cloned().collect(),
                    rituals: l.journal.rituals(),
                    ritual_log: l.journal.ritual_log(),
                    prompts: l
                        .journal
                        .prompts()
                        .into_iter()
                        .filter(|p| p.custom)
                        .collect(),
                    sealed: sealed.len(),
                })))
            }
            Request::ExportDocument => {
                let l = self.ready()?;
                Ok(Response::Document {
                    base64: data_encoding::BASE64.encode(&l.journal.doc().save()),
                })
            }
            Request::Import { entries, at } => self.import(entries, at),
            Request::PromptAdd { text, theme, at } => {
                let ctx = self.ctx(at)?;
                let random: u128 = self.rng.random();
                let id = format!(
                    "c-{}",
                    ulid::Ulid::from_parts(at.timestamp_millis().max(0) as u64, random)
                        .to_string()
                        .to_ascii_lowercase()
                );
                let l = self.loaded.as_mut().expect("checked above");
                l.journal
                    .add_prompt(&ctx, &id, &text, theme)
                    .map_err(model_err)?;
                self.prompt_today(at)
            }
        }
    }

    /// An answer must name a prompt of the deck or one of the couple's own.
    fn check_answer(&self, entry: &hearth_model::NewEntry) -> Result<(), Response> {
        match &entry.body {
            Body::Answer { prompt, .. }
                if hearth_model::deck::find(prompt).is_none()
                    && !self
                        .loaded
                        .as_ref()
                        .is_some_and(|l| l.journal.has_prompt(prompt)) =>
            {
                Err(model_err(ModelError::NoSuchPrompt(prompt.clone())))
            }
            _ => Ok(()),
        }
    }

    fn owner_from(&self, owner: OwnerArg, me: &PartnerId) -> Result<Owner, Response> {
        Ok(match owner {
            OwnerArg::Me => Owner::Partner(me.clone()),
            OwnerArg::Partner => Owner::Partner(self.other_partner(me).ok_or_else(|| {
                err(
                    ErrorKind::BadRequest,
                    "your partner has not joined this journal yet; use --owner me, both or together",
                )
            })?),
            OwnerArg::Both => Owner::Both,
            OwnerArg::Together => Owner::Together,
        })
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

    fn review(
        &self,
        span: hearth_model::insight::Span,
        until: Option<&str>,
        include_tender: bool,
        at: DateTime<FixedOffset>,
    ) -> Result<Response, Response> {
        let me = self.me()?;
        let l = self.ready()?;
        let boundary = l.journal.day_boundary();
        let today = boundary.day_of(at);
        let last_day = match until {
            Some(s) => parse_when(s, at, boundary).map_err(model_err)?,
            None => today,
        };
        if last_day > today {
            return Err(err(
                ErrorKind::BadRequest,
                format!("--until {last_day} is after today; a review looks back"),
            ));
        }
        let mine = self.my_answers();
        let sealed = |e: &hearth_model::Entry| self.sealed(e, &mine);
        let rituals = l.journal.rituals();
        let log = l.journal.ritual_log();
        let prompts = l.journal.prompts();
        let review = hearth_model::insight::review(&hearth_model::insight::ReviewInput {
            span,
            last_day,
            today,
            entries: self
                .view
                .entries
                .values()
                .filter(|e| e.deleted.is_none())
                .collect(),
            partners: self.partners_me_first(&me),
            rituals: &rituals,
            log: &log,
            prompts: &prompts,
            boundary,
            include_tender,
            sealed: &sealed,
        });
        Ok(Response::Review(Box::new(review)))
    }

    /// Writes imported entries, skipping any already there. One bad entry
    /// refuses the whole import, and `handle` rolls back what was written.
    fn import(
        &mut self,
        items: Vec<hearth_ipc::ImportItem>,
        at: DateTime<FixedOffset>,
    ) -> Result<Response, Response> {
        let me = self.ctx(at)?.author;
        let mut added = Vec::new();
        let mut skipped = 0;
        for (i, item) in items.into_iter().enumerate() {
            // The id's time is the wall-clock time as written, read as if
            // UTC: the same on every device whatever its time zone, so a
            // second import anywhere finds the first.
            let wall = item.written.naive_local().and_utc().timestamp_millis();
            let ms = u64::try_from(wall).map_err(|_| {
                err(
                    ErrorKind::BadRequest,
                    format!("entry {i} is dated before 1970; nothing imported"),
                )
            })?;
            let id = hearth_model::jrnl::import_id(&me, ms, &item.fingerprint);
            let l = self.loaded.as_ref().expect("checked above");
            // Already here, even if this version cannot read it.
            if l.journal.has_entry(&id) {
                skipped += 1;
                continue;
            }
            self.check_answer(&item.entry).map_err(|_| {
                err(
                    ErrorKind::BadRequest,
                    format!("entry {i} answers an unknown prompt; nothing imported"),
                )
            })?;
            let ctx = self.ctx(item.written)?;
            let l = self.loaded.as_mut().expect("checked above");
            let e = l.journal.add_entry(&ctx, &item.entry, id).map_err(|e| {
                err(
                    ErrorKind::BadRequest,
                    format!("entry {i}: {e}; nothing imported"),
                )
            })?;
            self.view.upsert(&l.journal, e);
            added.push(id);
        }
        Ok(Response::Imported { added, skipped })
    }

    fn entry_reply(&self, e: hearth_model::Entry) -> Response {
        Response::Entry {
            short_len: self.view.unique_len(&e.id, 10),
            entry: Box::new(e),
            names: self.view.partners.clone(),
            completed: Vec::new(),
        }
    }

    fn init(
        &mut self,
        name: &str,
        device_name: &str,
        day_start_hour: Option<u32>,
        at: DateTime<FixedOffset>,
    ) -> Result<Response, Response> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(err(
                ErrorKind::BadRequest,
                "name must be 1-64 printable characters",
            ));
        }
        let boundary = day_start_hour
            .map(|h| {
                hearth_model::DayBoundary::new(h).ok_or_else(|| {
                    err(
                        ErrorKind::BadRequest,
                        format!("invalid day start hour {h}: use 0-23"),
                    )
                })
            })
            .transpose()?;
        let random: u128 = self.rng.random();
        let l = self.loaded.as_mut().expect("checked by caller");
        // A set-up device is never re-initialised: that used to rename the
        // partner on every device. Renaming is `rename`, and only of myself.
        if let Some(partner) = &self.identity.partner {
            let name = l
                .journal
                .partners()
                .remove(partner)
                .unwrap_or_else(|| name.to_string());
            return Ok(Response::Inited {
                partner: partner.clone(),
                name,
                device: self.identity.device.clone(),
                already: true,
            });
        }
        // An existing partner of that name (a second device of theirs) is
        // the same person, and keeps the name as they spelled it.
        let existing = l
            .journal
            .partners()
            .into_iter()
            .find(|(_, n)| n.eq_ignore_ascii_case(name));
        let (partner, name) = match existing {
            Some((id, stored)) => (id, stored),
            None => {
                let id = PartnerId(
                    ulid::Ulid::from_parts(at.timestamp_millis().max(0) as u64, random)
                        .to_string()
                        .to_ascii_lowercase(),
                );
                l.journal.set_partner(&id, name, at).map_err(model_err)?;
                (id, name.to_string())
            }
        };
        let name = name.as_str();
        l.journal
            .add_device(&self.identity.device, &partner, device_name, at)
            .map_err(model_err)?;
        if let Some(addrs) = &self.own_addrs {
            let joined: Vec<String> = addrs.iter().map(ToString::to_string).collect();
            l.journal
                .set_device_addrs(&self.identity.device, &joined.join(" "), at)
                .map_err(model_err)?;
        }
        l.journal
            .set_couple_id_if_missing(&format!("{random:032x}"), at)
            .map_err(model_err)?;
        if let Some(b) = boundary {
            l.journal.set_day_boundary(b, at).map_err(model_err)?;
        }
        self.view.partners = l.journal.partners();
        self.view.heads = hearth_model::view::heads_hex(&l.journal.heads());
        self.identity.partner = Some(partner.clone());
        self.identity.device_name = Some(device_name.to_string());
        self.identity
            .save(&self.identity_path)
            .map_err(|e| err(ErrorKind::Storage, e.to_string()))?;
        Ok(Response::Inited {
            partner,
            name: name.to_string(),
            device: self.identity.device.clone(),
            already: false,
        })
    }

    /// Changes my own name. A name my partner already goes by is refused,
    /// so the two of us can always be told apart.
    fn rename(&mut self, name: &str, at: DateTime<FixedOffset>) -> Result<Response, Response> {
        let name = name.trim();
        if name.is_empty() || name.len() > 64 || name.chars().any(char::is_control) {
            return Err(err(
                ErrorKind::BadRequest,
                "name must be 1-64 printable characters",
            ));
        }
        let Some(me) = self.identity.partner.clone() else {
            return Err(err(
                ErrorKind::NotInitialised,
                "this device is not set up yet: run `hearth init --name <your name>`",
            ));
        };
        let l = self.loaded.as_mut().expect("checked by caller");
        let partners = l.journal.partners();
        if let Some((_, taken)) = partners
            .iter()
            .find(|(id, n)| **id != me && n.eq_ignore_ascii_case(name))
        {
            return Err(err(
                ErrorKind::BadRequest,
                format!("your partner is already called {taken}; pick another name"),
            ));
        }
        l.journal.set_partner(&me, name, at).map_err(model_err)?;
        self.view.partners = l.journal.partners();
        self.view.heads = hearth_model::view::heads_hex(&l.journal.heads());
        Ok(Response::Inited {
            partner: me,
            name: name.to_string(),
            device: self.identity.device.clone(),
            already: false,
        })
    }

    /// Writing an entry completes my rituals that this kind of entry
    /// fulfils, for their current occurrence.
    fn complete_rituals_for(
        &mut self,
        ctx: &WriteCtx,
        e: &hearth_model::Entry,
    ) -> Result<Vec<String>, Response> {
        let l = self.loaded.as_mut().expect("called after a write");
        let matching: Vec<Ritual> = l
            .journal
            .rituals()
            .into_iter()
            .filter(|r| {
                r.archived.is_none()
                    && r.fulfilled_by == Some(e.kind())
                    && r.owner.includes(&ctx.author)
            })
            .collect();
        if matching.is_empty() {
            return Ok(Vec::new());
        }
        let mut done = Vec::new();
        for r in matching {
            let occ = r.cadence.occurrence(e.day);
            // A key lookup, not a scan of the whole log: this runs on every
            // write of a completing kind.
            let who = (!matches!(r.owner, Owner::Together)).then_some(&ctx.author);
            if l.journal.logged(&r.id, occ, who) {
                continue;
            }
            l.journal
                .mark_done(ctx, &r, occ, Some(e.id))
                .map_err(model_err)?;
            done.push(r.name.clone());
        }
        Ok(done)
    }

    fn day_boundary(&self) -> hearth_model::DayBoundary {
        self.loaded
            .as_ref()
            .map(|l| l.journal.day_boundary())
            .unwrap_or_default()
    }

    fn log(&self, q: &LogQuery, at: DateTime<FixedOffset>) -> Result<Response, Response> {
        let boundary = self.day_boundary();
        let date = |s: &Option<String>| -> Result<Option<NaiveDate>, Response> {
            s.as_deref()
                .map(|s| parse_when(s, at, boundary))
                .transpose()
                .map_err(model_err)
        };
        let (since, until) = (date(&q.since)?, date(&q.until)?);
        let mut authors = BTreeSet::new();
        for a in &q.authors {
            authors.insert(self.resolve_author(a)?);
        }
        let mut tags = BTreeSet::new();
        for t in &q.tags {
            tags.insert(hearth_model::entry::normalize_tag(t).map_err(model_err)?);
        }
        if q.limit == Some(0) {
            return Err(err(ErrorKind::BadRequest, "-n must be at least 1"));
        }
        let filter = Filter {
            since,
            until,
            kinds: q.kinds.iter().copied().collect(),
            authors,
            tags,
            starred: q.starred,
            contains: q.contains.clone().filter(|c| !c.is_empty()),
            limit: q.limit,
            include_deleted: q.include_deleted,
            exclude_tender: false,
        };
        let mine = self.my_answers();
        let (sealed, entries): (Vec<_>, Vec<_>) = filter
            .apply(&self.view)
            .into_iter()
            .partition(|e| self.sealed(e, &mine));
        let entries: Vec<_> = entries.into_iter().cloned().collect();
        Ok(Response::Entries(EntryList {
            entries,
            names: self.view.partners.clone(),
            short_len: self.view.short_len(8),
            me: self.identity.partner.clone(),
            since,
            until,
            // The count says nothing a search could read: with a text or
            // tag filter (tags come from the text) it would tell whether a
            // sealed answer contains the word.
            sealed: if filter.contains.is_none() && filter.tags.is_empty() {
                sealed.len()
            } else {
                0
            },
        }))
    }

    fn resolve_author(&self, who: &str) -> Result<PartnerId, Response> {
        let me = self.me()?;
        match who.trim().to_lowercase().as_str() {
            "me" => return Ok(me),
            "partner" => {
                return self.other_partner(&me).ok_or_else(|| {
                    err(
                        ErrorKind::BadRequest,
                        "your partner has not joined this journal yet",
                    )
                });
            }
            _ => {}
        }
        self.view
            .partners
            .iter()
            .find(|(id, name)| id.as_str() == who || name.eq_ignore_ascii_case(who.trim()))
            .map(|(id, _)| id.clone())
            .ok_or_else(|| {
                err(
                    ErrorKind::BadRequest,
                    format!("unknown author {who:?}: use me, partner or a partner's name"),
                )
            })
    }

    fn ritual_list(&self, at: DateTime<FixedOffset>) -> Result<Response, Response> {
        let l = self.ready()?;
        let boundary = l.journal.day_boundary();
        let today = boundary.day_of(at);
        let rituals: Vec<Ritual> = l
            .journal
            .rituals()
            .into_iter()
            .filter(|r| r.archived.is_none())
            .collect();
        let log = l.journal.ritual_log();
        let partners: Vec<PartnerId> = match &self.identity.partner {
            Some(me) => self
                .partners_me_first(me)
                .into_iter()
                .map(|(p, _)| p)
                .collect(),
            None => self.view.partners.keys().cloned().collect(),
        };
        let rhythms = rituals
            .iter()
            .map(|r| {
                let own: Vec<RitualDone> =
                    log.iter().filter(|d| d.ritual == r.id).cloned().collect();
                r.rhythm(
                    &own,
                    &partners,
                    today,
                    r.cadence.rhythm_depth(),
                    r.start_day(boundary),
                )
            })
            .collect();
        Ok(Response::Rituals(Box::new(RitualList {
            rituals,
            log,
            names: self.view.partners.clone(),
            today,
            rhythms,
            me: self.identity.partner.clone(),
        })))
    }

    fn prompt_today(&self, at: DateTime<FixedOffset>) -> Result<Response, Response> {
        self.prompt_view(at, None)
            .map(|p| Response::Prompt(Box::new(p)))
    }

    /// Today's prompt (or the one named `id`) with my answer and my
    /// partner's, sealed until I have answered.
    fn prompt_view(
        &self,
        at: DateTime<FixedOffset>,
        id: Option<&str>,
    ) -> Result<PromptToday, Response> {
        let me = self.me()?;
        let l = self.ready()?;
        let day = l.journal.day_boundary().day_of(at);
        let prompts = l.journal.prompts();
        let prompt = match id {
            Some(id) => prompts
                .iter()
                .find(|p| p.id == id.trim())
                .cloned()
                .ok_or_else(|| model_err(ModelError::NoSuchPrompt(id.to_string())))?,
            None => prompt_of_the_day(
                &prompts,
                l.journal.couple_id().as_deref().unwrap_or(""),
                day,
                &l.journal.prompt_skips(day),
            ),
        };
        let answer_by = |who: &PartnerId| {
            self.view
                .entries
                .values()
                .rev()
                .find(|e| {
                    e.deleted.is_none()
                        && &e.author == who
                        && matches!(&e.body, Body::Answer { prompt: p, .. } if *p == prompt.id)
                })
                .cloned()
        };
        let mine = answer_by(&me);
        let partner_id = self.other_partner(&me);
        let theirs = partner_id.as_ref().and_then(answer_by);
        let partner = match (theirs, &mine) {
            (None, _) => PartnerAnswer::NotYet,
            (Some(_), None) => PartnerAnswer::Sealed,
            (Some(e), Some(_)) => PartnerAnswer::Shown { entry: Box::new(e) },
        };
        Ok(PromptToday {
            day,
            prompt,
            mine,
            partner,
            partner_name: partner_id.map(|p| self.view.name_of(&p).to_string()),
        })
    }

    fn status(&self) -> Response {
        let me = self.identity.partner.clone();
        let named = |p: PartnerId| {
            let n = self.view.name_of(&p).to_string();
            (p, n)
        };
        Response::Status(Box::new(StatusInfo {
            protocol: hearth_ipc::PROTOCOL_VERSION,
            version: env!("CARGO_PKG_VERSION").to_string(),
            pid: std::process::id(),
            data_dir: self.data_dir.clone(),
            partner: me.as_ref().and_then(|m| self.other_partner(m)).map(named),
            me: me.map(named),
            device: Some(self.identity.device.clone()),
            entries: self
                .view
                .entries
                .values()
                .filter(|e| e.deleted.is_none())
                .count(),
            loading: self.loaded.is_none(),
            chunks: self.loaded.as_ref().map_or(0, |l| l.store.chunk_count()),
            heads: self.view.heads.clone(),
            quarantined: self.quarantined.iter().map(ToString::to_string).collect(),
            malformed: self.view.malformed,
            sync_error: self.sync_error.clone(),
        }))
    }

    /// Makes every applied write durable. On failure the in-memory document
    /// goes back to what is on disk, so nothing unacknowledged lingers.
    pub fn commit(&mut self) -> Result<(), StoreError> {
        let Some(l) = self.loaded.as_mut() else {
            return Ok(());
        };
        match l.store.append(l.journal.doc()) {
            Ok(written) => {
                if l.store.chunk_count() >= COMPACT_AFTER_CHUNKS {
                    self.compact();
                }
                if written.is_some() {
                    // Entry changes are already in the view (writes upsert,
                    // receives refresh); the heads move for every change.
                    if let Some(l) = self.loaded.as_ref() {
                        self.view.heads = hearth_model::view::heads_hex(&l.journal.heads());
                    }
                    self.publish();
                }
                Ok(())
            }
            Err(e) => {
                tracing::error!(error = %e, "write failed; rolling back to the last durable state");
                let saved = l.store.saved_heads().to_vec();
                self.rollback_to(&saved);
                Err(e)
            }
        }
    }

    /// Folds the chunks into one snapshot and refreshes the view cache.
    pub fn compact(&mut self) {
        let Some(l) = self.loaded.as_mut() else {
            return;
        };
        if l.store.is_dirty(l.journal.doc()) {
            return;
        }
        let started = std::time::Instant::now();
        match l.store.compact(l.journal.doc()) {
            Ok(()) => {
                tracing::info!(
                    ms = started.elapsed().as_millis() as u64,
                    "compacted the journal"
                );
                self.save_view();
            }
            Err(e) => tracing::warn!(error = %e, "compaction skipped"),
        }
    }

    /// Called on a clean shutdown: leaves one snapshot and a fresh view
    /// cache, so the next start is fast.
    pub fn shutdown(&mut self) {
        if self
            .loaded
            .as_ref()
            .is_some_and(|l| l.store.chunk_count() > 0)
        {
            self.compact();
        } else {
            self.save_view();
        }
    }
}

fn find_ritual(rituals: &[Ritual], name_or_id: &str) -> Result<Ritual, ModelError> {
    let live: Vec<&Ritual> = rituals.iter().filter(|r| r.archived.is_none()).collect();
    if let Some(r) = live.iter().find(|r| r.id == name_or_id) {
        return Ok((*r).clone());
    }
    let want = name_or_id.trim().to_lowercase();
    let exact: Vec<&&Ritual> = live
        .iter()
        .filter(|r| r.name.to_lowercase() == want)
        .collect();
    if let [one] = exact.as_slice() {
        return Ok((**one).clone());
    }
    let partial: Vec<&&Ritual> = live
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&want))
        .collect();
    match partial.as_slice() {
        [one] => Ok((**one).clone()),
        [] => Err(ModelError::NoSuchRitual(name_or_id.to_string())),
        many => Err(ModelError::AmbiguousRitual(
            name_or_id.to_string(),
            many.len(),
        )),
    }
}

/// Today's prompt: the same on both partners' devices without them talking,
/// because it depends only on the couple's id, the journal day and the
/// prompts set aside that day (which sync like everything else). Each skip
/// moves one step along a fixed pseudo-random sequence for the day.
pub fn prompt_of_the_day(
    prompts: &[Prompt],
    couple: &str,
    day: NaiveDate,
    skipped: &BTreeSet<String>,
) -> Prompt {
    // Repair prompts are for after a conflict, not for an ordinary
    // evening; they are answered with `--prompt`, never drawn.
    let mut drawn: Vec<&Prompt> = prompts
        .iter()
        .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
        .collect();
    if drawn.is_empty() {
        drawn = prompts.iter().collect();
    }
    let prompts = drawn;
    let pick = |draw: usize| {
        let seed = if draw == 0 {
            format!("{couple}/{day}")
        } else {
            format!("{couple}/{day}/{draw}")
        };
        let digest = Sha256::digest(seed.as_bytes());
        let n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        prompts[(n % prompts.len() as u64) as usize]
    };
    // Random draws find an unskipped prompt quickly; the walk in deck order
    // guarantees one when nearly everything was skipped.
    (0..prompts.len() * 4)
        .map(pick)
        .chain(prompts.iter().copied())
        .find(|p| !skipped.contains(&p.id))
        .unwrap_or_else(|| pick(0))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deck() -> Vec<Prompt> {
        Journal::new(automerge::ActorId::from(b"test-actor".as_slice())).prompts()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn the_prompt_depends_on_couple_and_day_only() {
        let deck = deck();
        let none = BTreeSet::new();
        let a = prompt_of_the_day(&deck, "couple-a", day(25), &none);
        assert_eq!(a, prompt_of_the_day(&deck, "couple-a", day(25), &none));
        // Over a month the prompt changes from day to day and differs
        // between couples.
        let month: BTreeSet<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-a", day(d), &none).id)
            .collect();
        assert!(month.len() > 15, "{month:?}");
        assert!(
            month.iter().all(|id| !id.starts_with("repair-")),
            "repair prompts are not drawn on ordinary days"
        );
        let other: Vec<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-b", day(d), &none).id)
            .collect();
        let mine: Vec<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-a", day(d), &none).id)
            .collect();
        assert_ne!(mine, other);
    }

    #[test]
    fn skips_walk_a_fixed_sequence_and_never_run_out() {
        let deck = deck();
        let everyday = deck
            .iter()
            .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
            .count();
        let mut skipped = BTreeSet::new();
        let mut seen = Vec::new();
        for _ in 0..everyday {
            let p = prompt_of_the_day(&deck, "c", day(25), &skipped);
            assert!(!skipped.contains(&p.id), "a skipped prompt came back");
            assert_ne!(p.theme, hearth_model::deck::Theme::Repair);
            seen.push(p.id.clone());
            skipped.insert(p.id);
        }
        let reached: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = deck
            .iter()
            .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(reached, wanted, "every everyday prompt is reachable");
        // The same skips, in any order, give the same prompt.
        let some: BTreeSet<String> = seen[..3].iter().cloned().collect();
        assert_eq!(prompt_of_the_day(&deck, "c", day(25), &some).id, seen[3]);
        // With everything skipped there is still a prompt.
        let all: BTreeSet<String> = deck.iter().map(|p| p.id.clone()).collect();
        assert!(deck.contains(&prompt_of_the_day(&deck, "c", day(25), &all)));
    }
}
