//! One session's document sync with one peer, for schema 2 (docs/SCHEMA.md,
//! "Accepting a peer's changes" and "Sync: what goes to whom"; issue 9,
//! point 1).
//!
//! Per document the session keeps an Automerge sync state and a scratch
//! fork. A peer's message is applied to the fork only; the real document
//! gets the new changes once they pass the document's checks: for the couple
//! document, only signed records added by certified devices; for a partner
//! or private document, only changes by that partner's devices under heads
//! one of them signed. The caller applies an accepted batch to the real
//! document and commits it. A refusal ends the session and applies nothing.
//!
//! Nothing here does I/O or draws randomness: the caller moves frames and
//! owns the documents.

use std::collections::BTreeMap;
use std::panic::{AssertUnwindSafe, catch_unwind};

use automerge::sync::{Message, State, SyncDoc};
use automerge::{Automerge, Change, ChangeHash};
use thiserror::Error;

use super::error::RecordError;
use super::genesis::{couple_genesis, genesis_hash, partner_genesis};
use super::heads::{
    DocKind, PartnerDoc, PartnerRefusal, SignedHeads, Verdict, check_partner_changes,
};
use super::ids::{DeviceKey, PartnerCode};
use super::manifest::DocId;
use super::receive::{CoupleRefusal, check_couple_changes};
use super::trust::{DeviceStatus, TrustView};

/// At most this many bytes of a peer's changes wait on a fork for the heads
/// that cover them (SCHEMA.md, "Bounds").
pub const MAX_STAGED: usize = 64 * 1024 * 1024;
/// At most this many signed-heads records travel with one frame.
pub const MAX_SIGNED_PER_FRAME: usize = 64;
/// At most this many of the peer's records wait in a session for the
/// changes they name: the latest.
const MAX_PENDING_SIGNED: usize = 2 * MAX_SIGNED_PER_FRAME;

/// What goes over the wire for one document: the signed heads the sender
/// keeps for it, then one Automerge sync message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Frame {
    pub doc: DocId,
    pub signed: Vec<Vec<u8>>,
    pub message: Vec<u8>,
}

/// What to do with the real document after a peer's frame.
#[derive(Debug)]
pub enum Received {
    /// The peer's new changes passed every check: apply them to the real
    /// document and commit them, keeping the signed heads that cover them.
    Accept {
        changes: Vec<Change>,
        signed: Vec<SignedHeads>,
    },
    /// Nothing new for the real document.
    Nothing,
    /// Changes are held on the fork until the heads they are signed under
    /// arrive.
    Wait,
}

/// Why a peer's frame ends the session. Nothing of it was applied.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum Refused {
    #[error("{device} may not hold {doc}")]
    NotAllowed { device: String, doc: DocId },
    #[error("the message about {doc} is not a valid sync message: {why}")]
    Malformed { doc: DocId, why: String },
    #[error("a signed-heads record sent with {doc}: {error}")]
    Signed { doc: DocId, error: RecordError },
    #[error("{count} signed-heads records with one message, the maximum is {MAX_SIGNED_PER_FRAME}")]
    TooManySigned { count: usize },
    #[error(transparent)]
    Couple(#[from] CoupleRefusal),
    #[error(transparent)]
    Partner(#[from] PartnerRefusal),
    #[error("more than {MAX_STAGED} bytes of changes to {doc} wait for heads that cover them")]
    Staged { doc: DocId },
}

/// Whether `device` may hold `doc` at all: the couple document, any valid
/// device; a partner document, that partner's devices and the devices that
/// partner approved; a private one, that partner's devices only.
pub fn may_hold(trust: &TrustView, device: &DeviceKey, doc: &DocId) -> bool {
    match doc {
        DocId::Couple => trust.valid(device).is_some(),
        DocId::Partner(p) => matches!(
            (p.kind, trust.status(&p.partner, device)),
            (_, DeviceStatus::Mine) | (DocKind::Partner, DeviceStatus::Partners)
        ),
    }
}

/// A document's genesis, which any device rebuilds byte for byte.
pub fn genesis_of(doc: &DocId) -> Automerge {
    match doc {
        DocId::Couple => couple_genesis(),
        DocId::Partner(p) => partner_genesis(p),
    }
}

struct DocSync {
    state: State,
    /// The real document and the peer's changes not yet accepted.
    fork: Automerge,
    /// The real document's heads the fork last caught up with.
    real_seen: Vec<ChangeHash>,
    genesis: ChangeHash,
    /// Signed heads the peer sent in this session, verified.
    signed: Vec<SignedHeads>,
    /// Nothing moved since the last message was generated: neither the
    /// document nor the sync state. Automerge would answer `None` again,
    /// after working through the document to find that out, which at a
    /// year's size is most of what a wake-up costs.
    quiet: bool,
    /// The last message generated carried changes.
    carried: bool,
}

impl DocSync {
    fn new(doc: &DocId, real: &Automerge) -> DocSync {
        let genesis = genesis_hash(&genesis_of(doc)).expect("a genesis has one change");
        DocSync {
            state: State::new(),
            fork: real.fork(),
            real_seen: real.get_heads(),
            genesis,
            signed: Vec::new(),
            quiet: false,
            carried: false,
        }
    }

    /// Brings the fork up to the real document's local commits.
    fn catch_up(&mut self, real: &Automerge) {
        let heads = real.get_heads();
        if heads != self.real_seen {
            self.quiet = false;
            // After a peer's changes were accepted the fork holds them
            // already (it took them first), and with a head its whole
            // history: copying them out of the real document again would
            // cost as much as the frame did.
            if heads
                .iter()
                .all(|h| self.fork.get_change_meta_by_hash(h).is_some())
            {
                self.real_seen = heads;
                return;
            }
            let new: Vec<Change> = real.get_changes(&self.real_seen);
            // Changes the real document holds were checked or made here.
            self.fork
                .apply_changes(new)
                .expect("the real document's own changes apply to its fork");
            self.real_seen = heads;
        }
    }

    /// Takes in the records a frame brought, keeping at most
    /// [`MAX_PENDING_SIGNED`], the latest.
    fn add_signed(&mut self, signed: Vec<SignedHeads>) {
        self.signed.extend(signed);
        let extra = self.signed.len().saturating_sub(MAX_PENDING_SIGNED);
        self.signed.drain(..extra);
    }

    /// Keeps, of the records the peer sent, those that name a change the
    /// fork does not hold yet. A message split over several frames sends
    /// its records with the first, and a later frame's changes need them;
    /// a record whose changes are all here was kept with them or was not
    /// needed.
    fn keep_pending(&mut self) {
        let fork = &self.fork;
        let mut seen = std::collections::BTreeSet::new();
        self.signed.retain(|s| {
            s.record
                .heads
                .iter()
                .any(|h| fork.get_change_meta_by_hash(h).is_none())
                && seen.insert(s.to_bytes())
        });
    }

    /// Whether both sides hold exactly the same heads for this document.
    fn in_sync(&self, real: &Automerge) -> bool {
        let mut ours = real.get_heads();
        ours.sort();
        self.state.their_heads.as_ref().is_some_and(|t| {
            let mut theirs = t.clone();
            theirs.sort();
            theirs == ours
        })
    }
}

/// One session's sync of every document with one peer.
pub struct Exchange {
    /// This device.
    me: DeviceKey,
    /// The peer.
    peer: DeviceKey,
    /// The peer was paired with this device (both screens confirmed) and
    /// the records that make it one of the couple's may not exist yet: the
    /// couple document goes both ways regardless, so they can be written
    /// (`settle`). Nothing else does until the records say so.
    paired: bool,
    docs: BTreeMap<DocId, DocSync>,
    /// Documents known to be the same on both sides at these heads
    /// (sorted), with no sync state kept: from the peer's heads frames at
    /// the session's start, or an old document that settled. Such a
    /// document costs nothing until its heads move on either side; a
    /// document with a sync state goes by that instead.
    agreed: BTreeMap<DocId, Vec<ChangeHash>>,
}

fn sorted(heads: &[ChangeHash]) -> Vec<ChangeHash> {
    let mut h = heads.to_vec();
    h.sort();
    h
}

impl Exchange {
    pub fn new(me: DeviceKey, peer: DeviceKey) -> Exchange {
        Exchange {
            me,
            peer,
            paired: false,
            docs: BTreeMap::new(),
            agreed: BTreeMap::new(),
        }
    }

    /// A session with a device paired with this one whose records may not
    /// have settled yet.
    pub fn paired(me: DeviceKey, peer: DeviceKey) -> Exchange {
        Exchange {
            paired: true,
            ..Exchange::new(me, peer)
        }
    }

    /// Whether `doc` is known to be the same on both sides.
    pub fn in_sync(&self, doc: &DocId, real: &Automerge) -> bool {
        self.in_sync_at(doc, &real.get_heads())
    }

    /// Whether `doc`, whose heads here are `ours`, is known to be the same
    /// on both sides; needs no document, so one that is not loaded can
    /// answer.
    pub fn in_sync_at(&self, doc: &DocId, ours: &[ChangeHash]) -> bool {
        let ours = sorted(ours);
        match self.docs.get(doc) {
            Some(ds) => ds
                .state
                .their_heads
                .as_ref()
                .is_some_and(|t| sorted(t) == ours),
            None => self.agreed.get(doc) == Some(&ours),
        }
    }

    /// Whether `doc`, at `ours` here, needs no message now: it is agreed
    /// and nothing moved. The caller need not load it.
    pub fn settled(&self, doc: &DocId, ours: &[ChangeHash]) -> bool {
        !self.docs.contains_key(doc) && self.agreed.get(doc) == Some(&sorted(ours))
    }

    /// The peer holds `doc` at `theirs`; this device holds it at `ours`.
    /// Equal heads need no sync at all, and no sync state is kept for it.
    pub fn peer_holds(&mut self, doc: DocId, theirs: &[ChangeHash], ours: &[ChangeHash]) {
        if self.docs.contains_key(&doc) {
            return;
        }
        let theirs = sorted(theirs);
        if theirs == sorted(ours) {
            self.agreed.insert(doc, theirs);
        } else {
            self.agreed.remove(&doc);
        }
    }

    /// Drops the sync state of `doc` when both sides hold the same heads,
    /// nothing of the peer's waits on the fork, and nothing is left to say:
    /// its fork is a whole copy of the document. The document is then
    /// agreed at those heads, and a new sync state starts if they move.
    /// Returns whether it did.
    pub fn let_go(&mut self, doc: &DocId, real: &Automerge) -> bool {
        let Some(ds) = self.docs.get(doc) else {
            return false;
        };
        let heads = real.get_heads();
        let settled =
            ds.quiet && ds.real_seen == heads && ds.fork.get_heads() == heads && ds.in_sync(real);
        if settled {
            self.docs.remove(doc);
            self.agreed.insert(*doc, sorted(&heads));
        }
        settled
    }

    /// Whether this session keeps a sync state (and a fork) for `doc`.
    pub fn keeps_state(&self, doc: &DocId) -> bool {
        self.docs.contains_key(doc)
    }

    /// The documents this session keeps a sync state for.
    pub fn stateful(&self) -> impl Iterator<Item = &DocId> {
        self.docs.keys()
    }

    /// How many documents keep a sync state (and a fork) in this session.
    pub fn states(&self) -> usize {
        self.docs.len()
    }

    fn doc_sync(&mut self, doc: DocId, real: &Automerge) -> &mut DocSync {
        let ds = self
            .docs
            .entry(doc)
            .or_insert_with(|| DocSync::new(&doc, real));
        ds.catch_up(real);
        ds
    }

    /// Whether the couple document is known to be the same on both sides.
    /// Until then no other document goes out: its signers' certificates may
    /// not have reached the peer, which would refuse it.
    pub fn couple_in_sync(&self, couple: &Automerge) -> bool {
        self.in_sync(&DocId::Couple, couple)
    }

    /// The next frames about `doc` for the peer, none when there is nothing
    /// to say or the peer may not have it. `real` is this device's
    /// document (its genesis if it has none), `kept` the signed heads kept
    /// for it, and `couple` the couple document.
    ///
    /// A message whose changes would not fit `max_message` bytes goes as
    /// several, each a run of changes under the same heads; the receiver
    /// waits on its fork until the heads its signatures cover are all there.
    /// The signed heads go with the first.
    ///
    /// A peer's message can leave the sync state so that Automerge panics
    /// answering it; that is refused like a malformed message, ending the
    /// session, rather than leaving the document silent in it.
    pub fn outgoing(
        &mut self,
        doc: DocId,
        real: &Automerge,
        kept: &[SignedHeads],
        couple: &Automerge,
        trust: &TrustView,
        max_message: usize,
    ) -> Result<Vec<Frame>, Refused> {
        // Whatever returns early below sends no changes.
        if let Some(ds) = self.docs.get_mut(&doc) {
            ds.carried = false;
        }
        if !self.sendable(&doc, trust) {
            return Ok(Vec::new());
        }
        if doc != DocId::Couple && !self.couple_in_sync(couple) {
            return Ok(Vec::new());
        }
        if self.settled(&doc, &real.get_heads()) {
            return Ok(Vec::new());
        }
        let ds = self.doc_sync(doc, real);
        if ds.quiet {
            return Ok(Vec::new());
        }
        ds.quiet = true;
        let fork = &ds.fork;
        let state = &mut ds.state;
        let message = match catch_unwind(AssertUnwindSafe(|| fork.generate_sync_message(state))) {
            Ok(Some(message)) => {
                ds.carried = !message.changes.is_empty();
                message
            }
            Ok(None) => return Ok(Vec::new()),
            Err(_) => {
                return Err(Refused::Malformed {
                    doc,
                    why: "Automerge panicked answering it".into(),
                });
            }
        };
        let signed: Vec<Vec<u8>> = match doc {
            DocId::Couple => Vec::new(),
            DocId::Partner(_) => kept
                .iter()
                .rev()
                .take(MAX_SIGNED_PER_FRAME)
                .map(SignedHeads::to_bytes)
                .collect(),
        };
        let mut frames: Vec<Frame> = crate::doc::split_message(fork, state, message, max_message)
            .into_iter()
            .map(|message| Frame {
                doc,
                signed: Vec::new(),
                message,
            })
            .collect();
        if let Some(first) = frames.first_mut() {
            first.signed = signed;
        }
        Ok(frames)
    }

    /// A copy of `doc` as this session's fork holds it once `incoming`
    /// accepted its changes: the real document with exactly those
    /// changes, which a caller whose real document is far behind may take
    /// whole rather than apply them one by one. `None` while a change of
    /// the peer's waits in it for missing dependencies: such a change was
    /// never checked, and must not reach the real document.
    pub fn accepted_copy(&self, doc: &DocId) -> Option<Automerge> {
        use automerge::ReadDoc;
        let ds = self.docs.get(doc)?;
        ds.fork
            .get_missing_deps(&[])
            .is_empty()
            .then(|| ds.fork.clone())
    }

    /// Whether the frames `outgoing` made last for `doc` carry changes:
    /// what needs a new key has reached the peer once they are read.
    pub fn carried_changes(&self, doc: &DocId) -> bool {
        self.docs.get(doc).is_some_and(|d| d.carried)
    }

    /// The heads the peer last said it has for `doc`.
    pub fn their_heads(&self, doc: &DocId) -> Option<Vec<ChangeHash>> {
        match self.docs.get(doc) {
            Some(ds) => ds.state.their_heads.clone(),
            None => self.agreed.get(doc).cloned(),
        }
    }

    /// What this device may send the peer: the table of SCHEMA.md's "What
    /// goes to whom", seen from this device's partner.
    fn sendable(&self, doc: &DocId, trust: &TrustView) -> bool {
        if self.paired && *doc == DocId::Couple {
            return true;
        }
        let Some(mine) = trust.valid(&self.me) else {
            return false;
        };
        match doc {
            // A device pending for my partner gets the couple document from
            // its own partner's devices only.
            DocId::Couple => matches!(
                trust.status(mine, &self.peer),
                DeviceStatus::Mine | DeviceStatus::Partners
            ),
            _ => may_hold(trust, &self.peer, doc) && may_hold(trust, &self.me, doc),
        }
    }

    /// Takes a frame from the peer. `real` is this device's document (its
    /// genesis if it has none), `kept` the signed heads kept here for it.
    pub fn incoming(
        &mut self,
        frame: Frame,
        real: &Automerge,
        kept: &[SignedHeads],
        trust: &TrustView,
    ) -> Result<Received, Refused> {
        let doc = frame.doc;
        // This device holds its own couple document in any case; a paired
        // peer may send it before the records say who the peer is.
        let checked: &[DeviceKey] = match doc {
            DocId::Couple if self.paired => &[],
            DocId::Couple => std::slice::from_ref(&self.peer),
            DocId::Partner(_) => &[self.peer, self.me],
        };
        for device in checked {
            if !may_hold(trust, device, &doc) {
                return Err(Refused::NotAllowed {
                    device: device.to_hex(),
                    doc,
                });
            }
        }
        if frame.signed.len() > MAX_SIGNED_PER_FRAME {
            return Err(Refused::TooManySigned {
                count: frame.signed.len(),
            });
        }
        let mut signed = Vec::with_capacity(frame.signed.len());
        for bytes in &frame.signed {
            let s = SignedHeads::verify(bytes).map_err(|error| Refused::Signed { doc, error })?;
            if DocId::Partner(s.record.doc) != doc {
                return Err(Refused::Signed {
                    doc,
                    error: RecordError::BadField {
                        field: "doc",
                        why: "names another document than the message",
                    },
                });
            }
            signed.push(s);
        }
        let malformed = |why: String| Refused::Malformed { doc, why };
        let message = Message::decode(&frame.message).map_err(|e| malformed(e.to_string()))?;
        let announced = message.heads.clone();
        let ds = self.doc_sync(doc, real);
        ds.quiet = false;
        let told = ds.state.last_sent_heads.clone();
        let (fork, state) = (&mut ds.fork, &mut ds.state);
        match catch_unwind(AssertUnwindSafe(|| {
            fork.receive_sync_message(state, message)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(malformed(e.to_string())),
            Err(_) => return Err(malformed("Automerge panicked reading it".into())),
        }
        // Automerge takes a message without changes whose heads are ours
        // as if we had sent the peer those heads, and then has nothing to
        // say. The peer cannot know they are ours until we say so: it goes
        // on taking us for behind, waits, and holds back everything the
        // couple document gates. What we last sent stays what we sent, so
        // our next message tells it.
        if !announced.is_empty() && ds.state.last_sent_heads == announced {
            ds.state.last_sent_heads = told;
        }
        ds.add_signed(signed);
        let real_heads = real.get_heads();
        let new: Vec<Change> = ds.fork.get_changes(&real_heads);
        let staged: usize = new.iter().map(|c| c.raw_bytes().len()).sum();
        if staged > MAX_STAGED {
            return Err(Refused::Staged { doc });
        }
        if new.is_empty() {
            ds.keep_pending();
            return Ok(Received::Nothing);
        }
        match doc {
            DocId::Couple => {
                check_couple_changes(&ds.fork, &new, &ds.genesis)?;
                Ok(Received::Accept {
                    changes: new,
                    signed: Vec::new(),
                })
            }
            DocId::Partner(p) => {
                let all: Vec<SignedHeads> = kept.iter().chain(&ds.signed).cloned().collect();
                let verdict = check_partner_changes(
                    &p,
                    &ds.genesis,
                    &ds.fork,
                    &real_heads,
                    &announced,
                    &all,
                    trust,
                )?;
                match verdict {
                    Verdict::Wait => Ok(Received::Wait),
                    Verdict::Accept => {
                        super::shape::check(&p, &ds.fork, &real_heads, &ds.genesis)
                            .map_err(|why| PartnerRefusal::Shape { doc: p, why })?;
                        let signed = covering(&p, &ds.signed, trust);
                        ds.keep_pending();
                        Ok(Received::Accept {
                            changes: new,
                            signed,
                        })
                    }
                }
            }
        }
    }
}

/// The records worth keeping from a session: those by a device of the
/// document's partner, for that document.
fn covering(doc: &PartnerDoc, signed: &[SignedHeads], trust: &TrustView) -> Vec<SignedHeads> {
    signed
        .iter()
        .filter(|s| s.record.doc == *doc && trust.certified(&s.record.signer) == Some(&doc.partner))
        .cloned()
        .collect()
}

/// The partner whose documents `doc` is, if any.
pub fn partner_of(doc: &DocId) -> Option<PartnerCode> {
    match doc {
        DocId::Couple => None,
        DocId::Partner(p) => Some(p.partner),
    }
}

#[cfg(test)]
mod tests;
