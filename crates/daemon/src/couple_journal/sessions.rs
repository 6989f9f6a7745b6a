//! Sync sessions in schema 2, over the journal (docs/SCHEMA.md, "Sync:
//! what goes to whom"): per session an `Exchange` (a sync state and a
//! scratch fork per document) and the key exchange, with the frames of
//! `records::session_frame` on the wire.
//!
//! Every frame from a peer is checked before anything of it reaches a
//! document; a refusal ends the session and applies nothing of that frame.
//! What a frame brings is in memory until the caller commits.

use std::collections::{BTreeMap, BTreeSet};

use hearth_model::records::book::Docs;
use hearth_model::records::content::VersionKey;
use hearth_model::records::exchange::{Exchange, Received, Refused, genesis_of, may_hold};
use hearth_model::records::heads::{DocKind, PartnerDoc, SignedHeads};
use hearth_model::records::ids::DeviceKey;
use hearth_model::records::keys::{self, KeyGift, KeyOffer, KeyRefusal};
use hearth_model::records::manifest::{DocId, keys_digest};
use hearth_model::records::session_frame::{FrameError, SessionFrame};
use hearth_model::records::settle::{Settle, settle};
use thiserror::Error;

use super::CoupleJournal;

/// Why a session ends: the peer sent something it must not.
#[derive(Debug, Error)]
pub enum SessionError {
    #[error(transparent)]
    Frame(#[from] FrameError),
    #[error(transparent)]
    Refused(#[from] Refused),
    #[error(transparent)]
    Keys(#[from] KeyRefusal),
    #[error("no such session")]
    NoSession,
    #[error("storage: {0}")]
    Storage(String),
}

/// What a peer's frame did, once applied in memory.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Applied {
    /// Documents that took new changes.
    pub changed: BTreeSet<DocId>,
    /// Documents whose keys changed here (new readable versions).
    pub keys: BTreeSet<PartnerDoc>,
    /// Entries the frame touched: changed, or readable now.
    pub entries: BTreeSet<hearth_model::EntryId>,
}

/// The entries (and answer markers) the changes between `before` and now
/// touched in a partner document, from Automerge's own diff: the key right
/// below `entries` or `answered` names the entry.
fn touched_entries(
    am: &automerge::Automerge,
    before: &[automerge::ChangeHash],
) -> BTreeSet<hearth_model::EntryId> {
    use automerge::{PatchAction, Prop};
    let after = am.get_heads();
    let mut out = BTreeSet::new();
    for p in am.diff(before, &after) {
        let under = matches!(
            p.path.first(),
            Some((_, Prop::Map(k))) if k == "entries" || k == "answered"
        );
        if !under {
            continue;
        }
        let key = match (p.path.get(1), &p.action) {
            // Inside an entry's map: the entry is the key below `entries`.
            (Some((_, Prop::Map(k))), _) => Some(k.clone()),
            // On the map itself: an entry or marker put or deleted.
            (None, PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }) => {
                Some(key.clone())
            }
            _ => None,
        };
        if let Some(id) = key.and_then(|k| k.parse().ok()) {
            out.insert(id);
        }
    }
    out
}

/// Every entry and answer marker of a partner document: what
/// `touched_entries` finds from its genesis, without diffing.
fn every_entry(am: &automerge::Automerge) -> BTreeSet<hearth_model::EntryId> {
    let mut out: BTreeSet<_> = super::entry_ids(am).into_iter().collect();
    out.extend(super::ids_under(am, "answered"));
    out
}

pub(super) struct Session {
    peer: DeviceKey,
    exchange: Exchange,
    /// Per document, the digest of the key list last offered and the key
    /// file's generation then, so an unchanged list is not offered again.
    offered: BTreeMap<PartnerDoc, ([u8; 32], u64)>,
    /// Per document, the digest of each window of the key list last
    /// offered: a new entry's key changes one window, and only that one is
    /// offered again.
    windows: BTreeMap<PartnerDoc, BTreeMap<(u128, u128), [u8; 32]>>,
    /// Frames owed to the peer: gifts answering its offers.
    owed: Vec<Vec<u8>>,
    /// Per document, the key files' generation up to which stored keys
    /// went with the changes (`pushes`); what came before the session is
    /// the first offer's to send.
    pushed: BTreeMap<PartnerDoc, u64>,
    /// The key files' generation when the session began.
    began: u64,
    /// Keys the peer gave lately, which are not pushed back to it.
    given: Given,
    /// Documents the peer spoke of, held here or not: each gets an answer,
    /// or Automerge's sync of a document this device lacks would stall.
    spoken: BTreeSet<DocId>,
    /// The largest Automerge message that fits one frame to this peer,
    /// with room for the frame's own fields.
    max_message: usize,
    /// This device's manifest went out (it goes first, once).
    announced: bool,
    /// The peer's manifest row for the couple document arrived. Every
    /// device sends one first, so until it is here nothing is synced:
    /// what the manifest shows the same needs no sync at all.
    heard: bool,
    /// Per document, what this device would offer the peer, worked out for
    /// its manifest row: when the peer's row has the same keys digest, that
    /// offer counts as made, and never goes.
    planned: BTreeMap<PartnerDoc, OfferPlan>,
    /// Documents whose keys the peer's row showed different: the first
    /// offer goes whole, not as a digest.
    whole_due: BTreeSet<PartnerDoc>,
}

/// The key offer a session would make for one document: the offers,
/// window by window, the digest of all the keys in them, and the key
/// file's generation and the couple document's heads they were read at
/// (who may hold which key follows the records there).
#[derive(Clone)]
struct OfferPlan {
    offers: Vec<KeyOffer>,
    digest: [u8; 32],
    generation: u64,
    trust: Vec<automerge::ChangeHash>,
}

impl OfferPlan {
    /// The digest of each window's offer, as `Session::windows` keeps them.
    fn windows(&self) -> BTreeMap<(u128, u128), [u8; 32]> {
        self.offers
            .iter()
            .map(|o| {
                let d = keys_digest(o.have.iter().map(|((e, v), a)| (*e, *v, *a as u8)));
                ((o.from, o.to), d)
            })
            .collect()
    }
}

impl Session {
    /// Whether this session keeps a sync state for `doc`, which needs the
    /// document in memory.
    pub(super) fn keeps_state(&self, doc: &DocId) -> bool {
        self.exchange.keeps_state(doc)
    }
}

/// The keys a session's peer gave lately, with the audience it gave them
/// for: pushing them back would only echo them, unless the audience has
/// widened here since. Forgetting them all when it grows large costs an
/// echo at worst.
#[derive(Default)]
struct Given(std::collections::HashMap<keys::VersionRef, keys::Audience>);

impl Given {
    const MAX: usize = 4096;

    fn note(&mut self, keys: impl Iterator<Item = (keys::VersionRef, keys::Audience)>) {
        for (v, a) in keys {
            if self.0.len() >= Self::MAX {
                self.0.clear();
            }
            self.0.insert(v, a);
        }
    }

    /// Whether the peer gave `v` for `audience` or a wider one.
    fn holds(&self, v: &keys::VersionRef, audience: keys::Audience) -> bool {
        self.0
            .get(v)
            .is_some_and(|a| *a == audience || *a == keys::Audience::Couple)
    }
}

/// This device's `doc`, or its genesis when it holds none (kept in
/// `slot`). Borrowed, never cloned: a year's document is megabytes, and
/// this runs for every frame.
fn held_or_genesis<'a>(
    set: &'a hearth_store::DocSet,
    doc: &DocId,
    slot: &'a mut Option<automerge::Automerge>,
) -> &'a automerge::Automerge {
    match set.doc(doc) {
        Some(real) => real,
        None => slot.insert(genesis_of(doc)),
    }
}

/// The bytes of one key in an offer (entry, version, audience), and in a
/// gift (and the key), rounded up: how many fit one frame.
const OFFER_ITEM: usize = 40;
const GIFT_ITEM: usize = 72;

/// The span of entry time one window of a key offer covers: a week. The
/// windows' bounds are the same on every device whatever keys it holds, so
/// a device's windows change only where its keys do.
const WINDOW_MS: u128 = 7 * 24 * 60 * 60 * 1000;

/// The window of entry-id space holding `entry` (an id's top 48 bits are
/// its creation time in ms).
fn window_of(entry: u128) -> (u128, u128) {
    let start = (entry >> 80) / WINDOW_MS * WINDOW_MS;
    let end = start + WINDOW_MS;
    let hi = if end >= 1 << 48 {
        u128::MAX
    } else {
        (end << 80) - 1
    };
    (start << 80, hi)
}

/// `peer`'s offers of `keys` (this device's, of `doc`), window by window,
/// each window split further when it holds more than `per_offer` keys.
fn windowed_offers(
    trust: &hearth_model::records::trust::TrustView,
    peer: &DeviceKey,
    doc: PartnerDoc,
    keys: impl IntoIterator<Item = (keys::VersionRef, keys::Audience)>,
    per_offer: usize,
) -> Vec<KeyOffer> {
    let mut by_window: BTreeMap<(u128, u128), Vec<_>> = BTreeMap::new();
    for (v, a) in keys {
        by_window.entry(window_of(v.0)).or_default().push((v, a));
    }
    by_window
        .into_iter()
        .flat_map(|(range, in_window)| offers_within(trust, peer, doc, in_window, per_offer, range))
        .collect()
}

/// Offers of `keys` that together cover exactly `lo..=hi` of entry-id space.
fn offers_within(
    trust: &hearth_model::records::trust::TrustView,
    peer: &DeviceKey,
    doc: PartnerDoc,
    keys: Vec<(keys::VersionRef, keys::Audience)>,
    per_offer: usize,
    (lo, hi): (u128, u128),
) -> Vec<KeyOffer> {
    let mut offers = keys::offer(trust, peer, doc, keys, per_offer.max(1));
    if let Some(first) = offers.first_mut() {
        first.from = lo;
    }
    if let Some(last) = offers.last_mut() {
        last.to = hi;
    }
    offers
}

/// Room in a frame for its kind, document id and the signed heads that go
/// with a document's first part (a few hundred bytes each).
const FRAME_ROOM: usize = 4096;

impl CoupleJournal {
    /// A session with `peer` begins. `paired`: the peer was paired with
    /// this device and its records may not have settled yet.
    pub fn session_start(&mut self, session: u64, peer: DeviceKey, paired: bool, max_frame: usize) {
        let exchange = if paired {
            Exchange::paired(self.device, peer)
        } else {
            Exchange::new(self.device, peer)
        };
        self.sessions.insert(
            session,
            Session {
                peer,
                exchange,
                offered: BTreeMap::new(),
                windows: BTreeMap::new(),
                owed: Vec::new(),
                pushed: BTreeMap::new(),
                began: hearth_store::docset::last_generation(),
                given: Given::default(),
                spoken: BTreeSet::new(),
                max_message: max_frame.saturating_sub(FRAME_ROOM).max(1024),
                announced: false,
                heard: false,
                planned: BTreeMap::new(),
                whole_due: BTreeSet::new(),
            },
        );
    }

    pub fn session_end(&mut self, session: u64) {
        self.sessions.remove(&session);
    }

    /// The documents this device holds, loaded or not, the couple
    /// document first.
    fn held_docs(&self) -> Vec<DocId> {
        let mut docs: BTreeSet<DocId> = self.set.documents().into_iter().collect();
        docs.extend(self.set.loaded());
        docs.insert(DocId::Couple);
        let mut docs: Vec<DocId> = docs.into_iter().collect();
        docs.sort_by_key(|d| *d != DocId::Couple);
        docs
    }

    /// The heads this device holds of `doc`: the document's own when it
    /// is loaded, else the last committed; none when it holds nothing.
    fn heads_here(&self, doc: &DocId) -> Option<Vec<automerge::ChangeHash>> {
        match self.set.doc(doc) {
            Some(am) => Some(am.get_heads()),
            None => self.set.committed_heads(doc),
        }
    }

    /// The manifest a session starts with: a row per document this device
    /// holds that the peer may hold too. A document both hold at the same
    /// heads then costs neither side anything.
    fn announce(&mut self, session: u64) -> Result<Vec<Vec<u8>>, SessionError> {
        let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
        if s.announced {
            return Ok(Vec::new());
        }
        let peer = s.peer;
        let mut out = Vec::new();
        for doc in self.held_docs() {
            // The couple document's row always goes, even to a device
            // just paired whose records have not settled: the peer waits
            // for it.
            let shared =
                may_hold(&self.trust, &peer, &doc) && may_hold(&self.trust, &self.device, &doc);
            if doc != DocId::Couple && !shared {
                continue;
            }
            let heads = self.heads_here(&doc).unwrap_or_default();
            // Too many heads to list: an empty list, which matches nothing,
            // so the document is synced as usual.
            let heads = if heads.len() > hearth_model::records::session_frame::MAX_HEADS {
                Vec::new()
            } else {
                heads.iter().map(|h| h.0).collect()
            };
            let keys = match doc {
                DocId::Couple => None,
                DocId::Partner(p) => Some(self.offer_plan(session, p)?.digest),
            };
            out.push(SessionFrame::Manifest { doc, heads, keys }.encode()?);
        }
        if let Some(s) = self.sessions.get_mut(&session) {
            s.announced = true;
        }
        Ok(out)
    }

    /// Every frame this session has to send now: documents that differ,
    /// owed gifts, and key offers for documents in sync.
    pub fn session_generate(&mut self, session: u64) -> Result<Vec<Vec<u8>>, SessionError> {
        let mut docs = self.held_docs();
        let spoken = &self
            .sessions
            .get(&session)
            .ok_or(SessionError::NoSession)?
            .spoken;
        let lacking: Vec<DocId> = spoken
            .iter()
            .filter(|d| !docs.contains(d))
            .copied()
            .collect();
        docs.extend(lacking);
        let mut out = self.announce(session)?;
        let newest = super::residency::Newest::of(self);
        if !self
            .sessions
            .get(&session)
            .ok_or(SessionError::NoSession)?
            .heard
        {
            tracing::debug!(
                session,
                rows = out.len(),
                "waiting for the peer's manifest before syncing"
            );
            return Ok(out);
        }
        for doc in docs {
            let ours = self.heads_here(&doc).unwrap_or_default();
            let settled = self
                .sessions
                .get(&session)
                .ok_or(SessionError::NoSession)?
                .exchange
                .settled(&doc, &ours);
            if settled {
                // Known the same on both sides: not even loaded. Keys
                // stored since still go.
                if let DocId::Partner(p) = doc {
                    out.extend(self.pushes(session, p)?);
                }
                continue;
            }
            // A past year's sync state is let go once it settles: a new
            // one costs a copy of the document, which only a rare change
            // to that year pays for. And past years go one at a time, so a
            // first sync holds one of them in memory, not the journal.
            let old = !newest.holds(&doc);
            let exchange = &self
                .sessions
                .get(&session)
                .ok_or(SessionError::NoSession)?
                .exchange;
            if old && !exchange.keeps_state(&doc) && exchange.stateful().any(|d| !newest.holds(d)) {
                continue;
            }
            self.ensure_loaded(&doc)
                .map_err(|e| SessionError::Storage(e.to_string()))?;
            let kept = self.signed_heads(&doc);
            let mut genesis = None;
            let real = held_or_genesis(&self.set, &doc, &mut genesis);
            let couple = self
                .set
                .doc(&DocId::Couple)
                .expect("the couple document stays loaded");
            let s = self
                .sessions
                .get_mut(&session)
                .ok_or(SessionError::NoSession)?;
            let max = s.max_message;
            let frames = s
                .exchange
                .outgoing(doc, real, &kept, couple, &self.trust, max)?;
            if frames.is_empty() && !s.exchange.in_sync(&doc, real) {
                tracing::debug!(
                    session,
                    %doc,
                    ours = %short_heads(&real.get_heads()),
                    theirs = %short_heads(&s.exchange.their_heads(&doc).unwrap_or_default()),
                    couple_in_sync = s.exchange.couple_in_sync(couple),
                    "not in sync, and nothing to send for it"
                );
            }
            if frames.len() > 1 {
                tracing::info!(
                    session,
                    parts = frames.len(),
                    "a message over the frame cap goes in parts"
                );
            }
            let settled = frames.is_empty() && old && s.exchange.let_go(&doc, real);
            for frame in frames {
                out.push(SessionFrame::Doc(frame).encode()?);
            }
            if settled {
                self.drop_if_unused(&doc);
            }
            if let DocId::Partner(p) = doc {
                out.extend(self.pushes(session, p)?);
            }
        }
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SessionError::NoSession)?;
        out.append(&mut s.owed);
        out.extend(self.offers(session)?);
        if !out.is_empty() {
            tracing::debug!(session, frames = out.len(), "frames for the peer");
        }
        Ok(out)
    }

    /// Gifts of the keys of `doc` stored since the last push that the peer
    /// may hold, sent unasked right after the changes that need them (or
    /// once the peer is known to hold the document as it is here): a new
    /// entry is readable on the peer from the message that carries it,
    /// rather than after an offer, its answer and a gift. A key whose
    /// version has not reached the peer is dropped there and comes again
    /// through the offers.
    fn pushes(&mut self, session: u64, doc: PartnerDoc) -> Result<Vec<Vec<u8>>, SessionError> {
        let id = DocId::Partner(doc);
        let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
        let since = s.pushed.get(&doc).copied().unwrap_or(s.began);
        let (peer, per_gift) = (s.peer, (s.max_message / GIFT_ITEM).max(1));
        let arrived = s.exchange.carried_changes(&id)
            || self
                .heads_here(&id)
                .is_some_and(|ours| s.exchange.in_sync_at(&id, &ours));
        if !arrived || !may_hold(&self.trust, &peer, &id) {
            return Ok(Vec::new());
        }
        let kf = self
            .set
            .key_file(id)
            .map_err(|e| SessionError::Storage(e.to_string()))?;
        if kf.generation() <= since {
            return Ok(Vec::new());
        }
        let given = &self
            .sessions
            .get(&session)
            .ok_or(SessionError::NoSession)?
            .given;
        let fresh: Vec<_> = kf
            .stored_since(since)
            .filter_map(|v| match kf.state(v) {
                Some(hearth_store::docset::KeyState::Live(a))
                    if !given.holds(&v, a) && keys::may_hold_key(&self.trust, &peer, &doc, a) =>
                {
                    Some((v, a, VersionKey(*kf.key(v)?)))
                }
                _ => None,
            })
            .collect();
        let now = kf.generation();
        let mut out = Vec::new();
        for part in fresh.chunks(per_gift) {
            let gift = KeyGift {
                doc,
                keys: part.to_vec(),
            };
            out.push(SessionFrame::Gift(gift).encode()?);
        }
        if let Some(s) = self.sessions.get_mut(&session) {
            s.pushed.insert(doc, now);
        }
        Ok(out)
    }

    /// What this session would offer the peer for `doc` now, read again
    /// only when the key file moved since it was last worked out.
    fn offer_plan(&mut self, session: u64, doc: PartnerDoc) -> Result<OfferPlan, SessionError> {
        let generation = self
            .set
            .key_file(DocId::Partner(doc))
            .map_err(|e| SessionError::Storage(e.to_string()))?
            .generation();
        let trust = self.couple().get_heads();
        let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
        if let Some(plan) = s.planned.get(&doc)
            && plan.generation == generation
            && plan.trust == trust
        {
            return Ok(plan.clone());
        }
        let (peer, per_offer) = (s.peer, s.max_message / OFFER_ITEM);
        let live = self.live_keys(&doc)?;
        let offers = windowed_offers(
            &self.trust,
            &peer,
            doc,
            live.into_iter().map(|(v, a, _)| (v, a)),
            per_offer,
        );
        let digest = keys_digest(
            offers
                .iter()
                .flat_map(|o| &o.have)
                .map(|((e, v), a)| (*e, *v, *a as u8)),
        );
        let plan = OfferPlan {
            offers,
            digest,
            generation,
            trust,
        };
        if let Some(s) = self.sessions.get_mut(&session) {
            s.planned.insert(doc, plan.clone());
        }
        Ok(plan)
    }

    /// The peer's manifest row for `doc` carries the digest of the keys it
    /// would offer this device. The same digest as this device's own offer
    /// means neither lacks a key the other may hold: the offer counts as
    /// made, window by window, and only later changes are offered. A
    /// different one calls for this device's whole offer, which the peer
    /// answers with gifts both ways (a counter-offer for what it lacks).
    fn agree_on_keys(
        &mut self,
        session: u64,
        doc: PartnerDoc,
        theirs: [u8; 32],
    ) -> Result<(), SessionError> {
        let plan = self.offer_plan(session, doc)?;
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SessionError::NoSession)?;
        if plan.digest == theirs {
            s.whole_due.remove(&doc);
            s.offered.insert(doc, (plan.digest, plan.generation));
            s.windows.insert(doc, plan.windows());
        } else {
            s.whole_due.insert(doc);
            s.offered.remove(&doc);
            s.windows.remove(&doc);
        }
        Ok(())
    }

    /// Key offers for the documents in sync with the peer whose key list
    /// changed since the last offer.
    fn offers(&mut self, session: u64) -> Result<Vec<Vec<u8>>, SessionError> {
        let mut out = Vec::new();
        for doc in self.held_docs() {
            let DocId::Partner(p) = doc else { continue };
            let ours = self.heads_here(&doc).unwrap_or_default();
            let (peer, ready) = {
                let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
                let ready = self.heads_here(&doc).is_some()
                    && s.exchange.in_sync_at(&doc, &ours)
                    && may_hold(&self.trust, &s.peer, &doc);
                (s.peer, ready)
            };
            if !ready {
                continue;
            }
            // The key file's generation moves with every key stored or
            // forgotten: an unchanged one needs no new offer, and its keys
            // are not even read.
            let generation = self
                .set
                .key_file(doc)
                .map_err(|e| SessionError::Storage(e.to_string()))?
                .generation();
            let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
            if s.offered.get(&p).is_some_and(|(_, g)| *g == generation) {
                continue;
            }
            let plan = self.offer_plan(session, p)?;
            let s = self
                .sessions
                .get_mut(&session)
                .ok_or(SessionError::NoSession)?;
            let unchanged = s.offered.get(&p).is_some_and(|(d, _)| *d == plan.digest);
            s.offered.insert(p, (plan.digest, plan.generation));
            if unchanged {
                continue;
            }
            let now = plan.windows();
            let first = s.windows.get(&p).is_none_or(BTreeMap::is_empty);
            // The first offer of a session starts as a digest, in a
            // manifest row: a year both hold with the same keys (one that
            // settled during the session, say) then costs 32 bytes, not
            // its whole key list. The peer answers a different digest with
            // its own whole offer.
            if first && !s.whole_due.remove(&p) {
                s.windows.insert(p, now);
                let heads = if ours.len() > hearth_model::records::session_frame::MAX_HEADS {
                    Vec::new()
                } else {
                    ours.iter().map(|h| h.0).collect()
                };
                let row = SessionFrame::Manifest {
                    doc,
                    heads,
                    keys: Some(plan.digest),
                };
                out.push(row.encode()?);
                continue;
            }
            let sent = s.windows.entry(p).or_default();
            // A whole offer goes in as few frames as fit: window by window,
            // a first sync would be thousands of small round trips.
            let first = sent.is_empty();
            let mut whole = Vec::new();
            for offer in plan.offers {
                let span = (offer.from, offer.to);
                if first {
                    whole.extend(offer.have.iter().copied());
                } else if sent.get(&span) != now.get(&span) {
                    out.push(SessionFrame::Offer(offer).encode()?);
                }
            }
            *sent = now;
            if first {
                let per_offer = (s.max_message / OFFER_ITEM).max(1);
                for offer in keys::offer(&self.trust, &peer, p, whole, per_offer) {
                    out.push(SessionFrame::Offer(offer).encode()?);
                }
            }
        }
        Ok(out)
    }

    fn live_keys(
        &mut self,
        doc: &PartnerDoc,
    ) -> Result<
        Vec<(
            keys::VersionRef,
            keys::Audience,
            hearth_model::records::content::VersionKey,
        )>,
        SessionError,
    > {
        let mut docs = self.docs();
        let versions = docs.held_versions(doc).map_err(SessionError::Storage)?;
        let mut out = Vec::new();
        for v in versions {
            if let Some((a, k)) = docs.key(doc, v).map_err(SessionError::Storage)? {
                out.push((v, a, k));
            }
        }
        Ok(out)
    }

    /// Takes one frame from the peer, in memory. An error ends the session
    /// and leaves the documents as they were before this frame.
    pub fn session_receive(&mut self, session: u64, bytes: &[u8]) -> Result<Applied, SessionError> {
        let peer = self
            .sessions
            .get(&session)
            .ok_or(SessionError::NoSession)?
            .peer;
        let frame = SessionFrame::decode(bytes)?;
        tracing::debug!(session, frame = frame.kind(), "a frame from the peer");
        match frame {
            SessionFrame::Doc(frame) => self.receive_doc(session, frame),
            SessionFrame::Manifest { doc, heads, keys } => {
                if doc == DocId::Couple {
                    self.sessions
                        .get_mut(&session)
                        .ok_or(SessionError::NoSession)?
                        .heard = true;
                    // What a paired peer holds of the couple document is
                    // worth knowing before the records say who it is: a new
                    // device waits for it before it may found a partner.
                    let theirs = heads.iter().copied().map(automerge::ChangeHash).collect();
                    self.known.entry(peer).or_default().insert(doc, theirs);
                }
                // Heads of a document the two may not share are of no use
                // here. They are dropped rather than refused: while a
                // pairing settles, the two can disagree for a moment on
                // who may hold what.
                if may_hold(&self.trust, &peer, &doc) && may_hold(&self.trust, &self.device, &doc) {
                    let theirs: Vec<automerge::ChangeHash> =
                        heads.into_iter().map(automerge::ChangeHash).collect();
                    let ours = self.heads_here(&doc).unwrap_or_default();
                    self.sessions
                        .get_mut(&session)
                        .ok_or(SessionError::NoSession)?
                        .exchange
                        .peer_holds(doc, &theirs, &ours);
                    self.known.entry(peer).or_default().insert(doc, theirs);
                    if let (DocId::Partner(p), Some(theirs)) = (doc, keys) {
                        self.agree_on_keys(session, p, theirs)?;
                    }
                }
                Ok(Applied::default())
            }
            SessionFrame::Offer(offer) => {
                self.answer_offer(session, peer, offer)?;
                Ok(Applied::default())
            }
            SessionFrame::Gift(gift) => {
                let doc = gift.doc;
                self.ensure_loaded(&DocId::Partner(doc))
                    .map_err(|e| SessionError::Storage(e.to_string()))?;
                let mut genesis = None;
                let real = held_or_genesis(&self.set, &DocId::Partner(doc), &mut genesis);
                // A gift for a document the peer may not hold is a violation,
                // as its frames would be.
                if !may_hold(&self.trust, &peer, &DocId::Partner(doc)) {
                    return Err(Refused::NotAllowed {
                        device: peer.to_hex(),
                        doc: DocId::Partner(doc),
                    }
                    .into());
                }
                let mut taken = keys::take(&self.trust, &self.device, gift, real)?;
                // Nothing to store: no key file is opened (or made) for it.
                if taken.keep.is_empty() && taken.forget.is_empty() {
                    return Ok(Applied::default());
                }
                // Every key in it is one the peer holds, stored here or not.
                self.sessions
                    .get_mut(&session)
                    .ok_or(SessionError::NoSession)?
                    .given
                    .note(taken.keep.iter().map(|(v, a, _)| (*v, *a)));
                let kf = self
                    .set
                    .key_file(DocId::Partner(doc))
                    .map_err(|e| SessionError::Storage(e.to_string()))?;
                // Keys held already (a push and a gift crossing) change
                // nothing, and wake nothing.
                taken.keep.retain(|(v, a, _)| kf.would_change(*v, *a));
                let before = kf.generation();
                let mut docs = self.docs();
                for (v, a, k) in &taken.keep {
                    docs.put_key(&doc, *v, *a, k.clone())
                        .map_err(SessionError::Storage)?;
                }
                for v in &taken.forget {
                    docs.forget_key(&doc, *v).map_err(SessionError::Storage)?;
                }
                // Keys from the peer itself are no news to offer it: the
                // offer made before them still stands, or a flood of pushes
                // would call for an offer, and a gift answering it, each.
                let after = self
                    .set
                    .key_file(DocId::Partner(doc))
                    .map_err(|e| SessionError::Storage(e.to_string()))?
                    .generation();
                if taken.forget.is_empty()
                    && let Some(s) = self.sessions.get_mut(&session)
                    && let Some((_, offered)) = s.offered.get_mut(&doc)
                    && *offered == before
                {
                    *offered = after;
                }
                let mut applied = Applied::default();
                if !taken.keep.is_empty() {
                    applied.keys.insert(doc);
                }
                applied.entries.extend(
                    taken
                        .keep
                        .iter()
                        .map(|((e, _), _, _)| hearth_model::EntryId(ulid::Ulid(*e))),
                );
                Ok(applied)
            }
        }
    }

    fn answer_offer(
        &mut self,
        session: u64,
        peer: DeviceKey,
        offer: KeyOffer,
    ) -> Result<(), SessionError> {
        let doc = DocId::Partner(offer.doc);
        // An offer for a document the peer may not hold is a violation, as
        // its frames would be.
        if !may_hold(&self.trust, &peer, &doc) {
            return Err(Refused::NotAllowed {
                device: peer.to_hex(),
                doc,
            }
            .into());
        }
        let mine = if self.heads_here(&doc).is_some() {
            self.live_keys(&offer.doc)?
        } else {
            Vec::new()
        };
        let in_range: Vec<(keys::VersionRef, keys::Audience)> = mine
            .iter()
            .filter(|(v, _, _)| (offer.from..=offer.to).contains(&v.0))
            .map(|(v, a, _)| (*v, *a))
            .collect();
        let gift = keys::gift(&self.trust, &peer, &offer, mine);
        // The peer holds keys this device lacks (one released since this
        // device's last offer, say): offer again, so the peer's gift follows.
        let lacking = {
            let mut docs = self.docs();
            let held: BTreeSet<keys::VersionRef> = docs
                .held_versions(&offer.doc)
                .map_err(SessionError::Storage)?
                .into_iter()
                .collect();
            offer.have.iter().any(|(v, a)| {
                !held.contains(v) && keys::may_hold_key(&self.trust, &self.device, &offer.doc, *a)
            })
        };
        if lacking {
            // What this device holds in the same range, so the peer's gift
            // for it follows; the rest of the list is not sent again.
            let s = self
                .sessions
                .get_mut(&session)
                .ok_or(SessionError::NoSession)?;
            let counter = offers_within(
                &self.trust,
                &peer,
                offer.doc,
                in_range,
                s.max_message / OFFER_ITEM,
                (offer.from, offer.to),
            );
            for c in counter {
                s.owed.push(SessionFrame::Offer(c).encode()?);
            }
        }
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SessionError::NoSession)?;
        let per_frame = (s.max_message / GIFT_ITEM).max(1);
        for part in gift.keys.chunks(per_frame) {
            let bytes = SessionFrame::Gift(keys::KeyGift {
                doc: gift.doc,
                keys: part.to_vec(),
            })
            .encode()?;
            s.owed.push(bytes);
        }
        Ok(())
    }

    fn receive_doc(
        &mut self,
        session: u64,
        frame: hearth_model::records::exchange::Frame,
    ) -> Result<Applied, SessionError> {
        let doc = frame.doc;
        // Automerge inflates a compressed chunk whole: the bound on what a
        // message unpacks to is checked before it reads a byte.
        hearth_sync::decode_message(&frame.message).map_err(|e| {
            SessionError::Refused(Refused::Malformed {
                doc,
                why: e.to_string(),
            })
        })?;
        self.ensure_loaded(&doc)
            .map_err(|e| SessionError::Storage(e.to_string()))?;
        let kept = self.signed_heads(&doc);
        let mut genesis = None;
        let real = held_or_genesis(&self.set, &doc, &mut genesis);
        let s = self
            .sessions
            .get_mut(&session)
            .ok_or(SessionError::NoSession)?;
        let mut applied = Applied::default();
        let received = s.exchange.incoming(frame, real, &kept, &self.trust)?;
        // Only after the checks: a document the peer may not send is never
        // answered.
        s.spoken.insert(doc);
        if let Some(theirs) = s.exchange.their_heads(&doc) {
            let peer = s.peer;
            self.known.entry(peer).or_default().insert(doc, theirs);
        }
        tracing::debug!(
            session,
            %doc,
            outcome = match &received {
                Received::Nothing => "nothing new",
                Received::Wait => "waits for signed heads",
                Received::Accept { .. } => "accepted",
            },
            theirs = %short_heads(&s.exchange.their_heads(&doc).unwrap_or_default()),
            "took a frame of changes"
        );
        match received {
            Received::Nothing | Received::Wait => {}
            Received::Accept { changes, signed } => {
                let actor = self.actor.clone();
                let now = std::time::Instant::now();
                self.set
                    .load(doc, &actor, now, || genesis_of(&doc))
                    .map_err(|e| SessionError::Storage(e.to_string()))?;
                let before = self.set.doc(&doc).expect("just loaded").get_heads();
                // A document this device held nothing of (its genesis
                // alone) takes the session's checked copy whole: applying
                // a year's changes again, one by one, cost as much as the
                // frame that brought them.
                let copy = (before == genesis_of(&doc).get_heads())
                    .then(|| {
                        self.sessions
                            .get(&session)
                            .and_then(|s| s.exchange.accepted_copy(&doc))
                    })
                    .flatten();
                let adopted = copy.is_some();
                let am = self.set.doc_mut(&doc, now).expect("just loaded");
                match copy {
                    Some(copy) => *am = copy.with_actor(actor),
                    None => am
                        .apply_changes(changes)
                        .map_err(|e| SessionError::Storage(e.to_string()))?,
                }
                let touched = match doc {
                    DocId::Couple => BTreeSet::new(),
                    // Every entry is new: listed, not diffed from nothing.
                    DocId::Partner(_) if adopted => every_entry(am),
                    DocId::Partner(_) => touched_entries(am, &before),
                };
                self.keep_signed(doc, signed);
                match doc {
                    DocId::Couple => {
                        self.trust = hearth_model::records::couple_write::trust_of(self.couple());
                        self.adopt_certified_partner();
                    }
                    DocId::Partner(p) => {
                        for id in &touched {
                            self.homes.insert(*id, p);
                        }
                        self.forget_rule(&p, &touched)
                            .map_err(|e| SessionError::Storage(e.to_string()))?;
                        applied.entries.extend(touched);
                        if p.kind == DocKind::Partner {
                            self.release_answers()
                                .map_err(|e| SessionError::Storage(e.to_string()))?;
                        }
                    }
                }
                applied.changed.insert(doc);
            }
        }
        Ok(applied)
    }

    /// A device that was not set up learns from a certificate that it is
    /// one of a partner's devices.
    fn adopt_certified_partner(&mut self) {
        if self.partner.is_none()
            && let Some(p) = self.trust.valid(&self.device).copied()
        {
            self.partner = Some(p);
        }
    }

    /// Once the couple document is in sync with a paired peer, writes what
    /// pairing owes it: a certificate or an approval. Returns what it did.
    pub fn settle_paired(&mut self, session: u64) -> Result<Settle, SessionError> {
        let s = self.sessions.get(&session).ok_or(SessionError::NoSession)?;
        let peer = s.peer;
        if !s.exchange.couple_in_sync(self.couple()) {
            return Ok(Settle::Wait);
        }
        let verdict = settle(&self.trust, self.partner, &peer);
        let now = Self::now();
        let done = match verdict {
            Settle::Certify => self.certify(peer, &short(&peer), now),
            Settle::Approve(_) => self.approve(peer, now),
            Settle::Done | Settle::Wait => Ok(()),
        };
        done.map_err(|e| SessionError::Storage(e.to_string()))?;
        Ok(verdict)
    }

    /// Whether every document this device holds that the peer may hold is
    /// the same on both sides.
    pub fn session_in_sync(&self, session: u64) -> bool {
        let Some(s) = self.sessions.get(&session) else {
            return false;
        };
        self.held_docs().iter().all(|doc| {
            !may_hold(&self.trust, &s.peer, doc)
                || self
                    .heads_here(doc)
                    .is_some_and(|ours| s.exchange.in_sync_at(doc, &ours))
        })
    }

    /// The signed heads this device keeps for `doc`, as records.
    /// How far this device and `peer` agree, for a first sync's progress:
    /// of the documents either holds that the peer may hold, how many have
    /// the same heads on both, by what the peer last said. `None` before
    /// it said anything.
    pub fn sync_progress(&self, peer: &DeviceKey) -> Option<(usize, usize)> {
        let known = self.known.get(peer)?;
        let mut docs: BTreeSet<DocId> = self
            .set
            .documents()
            .into_iter()
            .chain(self.set.loaded())
            .filter(|d| may_hold(&self.trust, peer, d))
            .collect();
        docs.extend(known.keys().copied());
        let same = |d: &DocId| {
            let ours: BTreeSet<automerge::ChangeHash> = match self.set.doc(d) {
                Some(am) => am.get_heads().into_iter().collect(),
                None => self
                    .set
                    .committed_heads(d)
                    .unwrap_or_default()
                    .into_iter()
                    .collect(),
            };
            known
                .get(d)
                .is_some_and(|theirs| theirs.iter().copied().collect::<BTreeSet<_>>() == ours)
        };
        let done = docs.iter().filter(|d| same(d)).count();
        Some((done, docs.len()))
    }

    pub fn kept_signed(&self, doc: &DocId) -> Vec<SignedHeads> {
        self.signed_heads(doc)
    }
}

/// Heads, shortened for a log line: the first bytes of each, sorted.
fn short_heads(heads: &[automerge::ChangeHash]) -> String {
    let mut h: Vec<String> = heads
        .iter()
        .map(|h| h.0[..3].iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    h.sort();
    h.join(",")
}

/// A device's name until it names itself: the start of its id.
fn short(device: &DeviceKey) -> String {
    format!("device {}", &device.to_hex()[..8])
}

#[cfg(test)]
impl CoupleJournal {
    /// How many documents keep a sync state (and a fork) in `session`.
    pub(super) fn sync_states(&self, session: u64) -> usize {
        self.sessions
            .get(&session)
            .map_or(0, |s| s.exchange.states())
    }
}
