//! Sync sessions: one Automerge sync state per live session with a peer,
//! the heads each peer last said it has, and applying what peers send.

use std::collections::{BTreeSet, HashMap};

use automerge::ChangeHash;
use hearth_model::ModelError;
use hearth_model::{EntryId, View};
use hearth_sync::{EndpointId, Received, SyncError};

use super::{Input, Output, Ready};

/// A sync message carrying more change bytes than this rebuilds the view
/// instead of tracking each patch (a first sync brings a whole journal).
const BULK_BYTES: usize = 256 * 1024;

/// One live session: the peer, its Automerge sync state, and the largest
/// frame it may be sent.
struct Live {
    peer: EndpointId,
    state: automerge::sync::State,
    max_frame: usize,
}

#[derive(Default)]
pub struct Sessions {
    live: HashMap<u64, Live>,
    /// The heads each peer last told us it has, for "unsent changes".
    their_heads: HashMap<EndpointId, Vec<ChangeHash>>,
}

impl Sessions {
    pub fn their_heads(&self, peer: &EndpointId) -> Option<&[ChangeHash]> {
        self.their_heads.get(peer).map(Vec::as_slice)
    }
}

/// What a loading daemon says to the sync layer.
pub fn while_loading(input: Input) -> Output {
    match input {
        Input::Generate { .. } => Output::Generated(Vec::new()),
        Input::Receive { .. } => Output::Received(Err(SyncError::Loading)),
        Input::Trust { .. } => Output::Trusted(Err(SyncError::Loading)),
        _ => Output::Nothing,
    }
}

impl Ready {
    /// A sync input, applied in memory; also says whether it wrote.
    pub(super) fn sessions_take(&mut self, input: Input) -> (Output, bool) {
        match input {
            Input::SessionStart {
                session,
                peer,
                max_frame,
            } => {
                self.sessions.live.insert(
                    session,
                    Live {
                        peer,
                        state: automerge::sync::State::new(),
                        max_frame,
                    },
                );
                (Output::Nothing, false)
            }
            Input::SessionEnd { session } => {
                self.sessions.live.remove(&session);
                (Output::Nothing, false)
            }
            Input::Generate { session } => (
                Output::Generated(self.generate(session).unwrap_or_default()),
                false,
            ),
            Input::Receive { session, msg } => {
                let before = self.journal.heads();
                let r = self.receive(session, *msg);
                let wrote = self.journal.heads() != before;
                (Output::Received(r), wrote)
            }
            Input::Trust { peer, addrs } => {
                let before = self.journal.heads();
                let r = self.trust(peer, &addrs);
                if r.is_err() && self.journal.heads() != before {
                    self.rollback_to(&before);
                }
                let wrote = r.is_ok();
                (Output::Trusted(r), wrote)
            }
            _ => (Output::Nothing, false),
        }
    }

    /// The next message for a session, as frames that fit its cap. A
    /// peer's state that trips Automerge ends that session, never the
    /// daemon.
    pub(super) fn generate(&mut self, session: u64) -> Result<Vec<Vec<u8>>, SyncError> {
        let Some(live) = self.sessions.live.get_mut(&session) else {
            return Ok(Vec::new());
        };
        match self
            .journal
            .generate_framed(&mut live.state, live.max_frame)
        {
            Ok(frames) => {
                if frames.len() > 1 {
                    tracing::info!(
                        session,
                        frames = frames.len(),
                        "a message over the frame cap goes in parts"
                    );
                }
                Ok(frames)
            }
            Err(e) => {
                tracing::error!(session, error = %e, "generating a sync message failed; ending the session");
                self.sessions.live.remove(&session);
                Err(refused(e))
            }
        }
    }

    /// Applies a peer's message in memory. A message Automerge refuses, or
    /// one that makes it panic, leaves nothing behind and ends the session.
    fn receive(
        &mut self,
        session: u64,
        msg: automerge::sync::Message,
    ) -> Result<Received, SyncError> {
        let Some(Live { peer, state, .. }) = self.sessions.live.get_mut(&session) else {
            return Err(SyncError::NoSession);
        };
        let peer = *peer;
        let before = self.journal.heads();
        // The new changes tell which entries changed at the cost of what
        // arrived; a first sync of a whole journal is cheaper to read afresh.
        let bulk = msg.changes.iter().map(<[u8]>::len).sum::<usize>() > BULK_BYTES;
        match self.journal.receive(state, msg, !bulk) {
            Ok(touched) => {
                if let Some(h) = state.their_heads.clone() {
                    self.sessions.their_heads.insert(peer, h);
                }
                if self.journal.heads() != before {
                    if let Err(e) = self.take_changes(touched) {
                        tracing::warn!(peer = %peer.fmt_short(), error = %e, "refused a peer's changes");
                        self.rollback_to(&before);
                        self.sessions.live.remove(&session);
                        return Err(refused(e));
                    }
                    tracing::info!(peer = %peer.fmt_short(), bulk, "merged changes from a peer");
                }
            }
            Err(e) => {
                // Back to just before this message, keeping what the rest of
                // the batch wrote: a panic may have left the document
                // half-changed.
                self.rollback_to(&before);
                self.sessions.live.remove(&session);
                return Err(refused(e));
            }
        }
        let mut ours = self.journal.heads();
        let mut theirs = self
            .sessions
            .their_heads(&peer)
            .map(<[ChangeHash]>::to_vec)
            .unwrap_or_default();
        ours.sort();
        theirs.sort();
        Ok(Received {
            // Filled in once the whole batch is applied and committed.
            reply: Vec::new(),
            in_sync: ours == theirs,
            version: 0,
        })
    }
}

impl Ready {
    /// Brings the view up to date with what a peer's message changed, once
    /// every changed entry is within the limits a local write is held to.
    /// On an error the view is untouched and the caller rolls back.
    fn take_changes(&mut self, touched: Option<BTreeSet<EntryId>>) -> Result<(), ModelError> {
        self.journal.check_shared_fields()?;
        match touched {
            Some(ids) => {
                // Each entry is read once, checked, then kept. One that does
                // not read as a local write would make it is refused like a
                // forged one (issue 9, point 5).
                let read = View::read(&self.journal, &ids);
                for (id, entry) in &read {
                    match entry {
                        Ok(Some(e)) => e.check_lengths()?,
                        Ok(None) => {}
                        Err(e) => return Err(malformed(id, e)),
                    }
                }
                self.view.take_read(&self.journal, read);
            }
            None => {
                let view = View::build(&self.journal);
                for e in view.entries.values() {
                    e.check_lengths()?;
                }
                // What was malformed before the message may stay so; the
                // message may not add any.
                if view.malformed > self.view.malformed {
                    return Err(ModelError::SyncRejected(format!(
                        "{} malformed entries in a peer's message",
                        view.malformed - self.view.malformed
                    )));
                }
                self.view = view;
            }
        }
        self.view.partners = self.journal.partners();
        Ok(())
    }
}

/// A peer's entry that does not read as a well-formed one.
fn malformed(id: &EntryId, e: &ModelError) -> ModelError {
    ModelError::SyncRejected(format!("a malformed entry {}: {e}", id.key()))
}

/// A peer's message that the model would not take, as the sync layer
/// reports it.
pub(super) fn refused(e: ModelError) -> SyncError {
    match e {
        ModelError::SyncPanicked => SyncError::Panicked,
        ModelError::SyncRejected(why) => SyncError::Rejected(why),
        other => SyncError::Rejected(other.to_string()),
    }
}
