//! Sync sessions: which live session talks to which peer, and handing the
//! peer's frames to the journal's schema 2 sessions (`couple_journal`),
//! which check everything before any of it reaches a document.

use std::collections::HashMap;

use hearth_model::records::ids::DeviceKey;
use hearth_sync::{EndpointId, Received, SyncError};

use super::{Input, Output, Ready};

/// One live session: the peer.
struct Live {
    peer: EndpointId,
}

#[derive(Default)]
pub struct Sessions {
    live: HashMap<u64, Live>,
    /// Per device, how many of its frames were refused since the start.
    refused: HashMap<EndpointId, u64>,
}

impl Sessions {
    pub fn refused(&self, peer: &EndpointId) -> u64 {
        self.refused.get(peer).copied().unwrap_or(0)
    }

    pub fn refused_all(&self) -> std::collections::BTreeMap<String, u64> {
        self.refused
            .iter()
            .map(|(p, n)| (p.to_string(), *n))
            .collect()
    }
}

/// What a loading daemon says to the sync layer. (A pairing's trust
/// waits for the load instead: see `Core::can_take`.)
pub fn while_loading(input: Input) -> Output {
    match input {
        Input::Generate { .. } => Output::Generated(Vec::new()),
        Input::Receive { .. } => Output::Received(Err(SyncError::Loading)),
        _ => Output::Nothing,
    }
}

fn key_of(peer: &EndpointId) -> DeviceKey {
    DeviceKey(*peer.as_bytes())
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
                let paired = self.is_paired(&peer);
                self.journal
                    .session_start(session, key_of(&peer), paired, max_frame);
                self.sessions.live.insert(session, Live { peer });
                (Output::Nothing, false)
            }
            Input::SessionEnd { session } => {
                self.journal.session_end(session);
                self.sessions.live.remove(&session);
                (Output::Nothing, false)
            }
            Input::Generate { session } => (
                Output::Generated(self.generate(session).unwrap_or_default()),
                false,
            ),
            Input::Receive { session, frame } => {
                let (r, wrote) = self.receive(session, &frame);
                (Output::Received(r), wrote)
            }
            Input::Trust { peer, addrs } => {
                let r = self.trust(peer, &addrs);
                let wrote = r.is_ok();
                (Output::Trusted(r), wrote)
            }
            Input::RemovalProof { peer } => (
                Output::RemovalProof(hearth_model::records::removal::proof_for(
                    self.journal.trust(),
                    &key_of(&peer),
                )),
                false,
            ),
            Input::Removed { peer, proof } => {
                self.removed_by(peer, &proof);
                (Output::Nothing, false)
            }
            _ => (Output::Nothing, false),
        }
    }

    /// The next frames for a session. A session the journal cannot serve
    /// ends, never the daemon.
    pub(super) fn generate(&mut self, session: u64) -> Result<Vec<Vec<u8>>, SyncError> {
        if !self.sessions.live.contains_key(&session) {
            return Ok(Vec::new());
        }
        self.journal.session_generate(session).map_err(|e| {
            tracing::error!(session, error = %e, "generating sync frames failed; ending the session");
            self.end(session);
            SyncError::Rejected(e.to_string())
        })
    }

    /// A device we dialed says we were removed. Believed only if the proof
    /// holds against our own records; then this device stops syncing for
    /// good, and says so in `status` and `sync`.
    fn removed_by(&mut self, peer: EndpointId, proof: &[u8]) {
        if self.base.identity.removed.is_some() {
            return;
        }
        let me = self.journal.device();
        let Some(removal) =
            hearth_model::records::removal::check_proof(self.journal.trust(), &me, proof)
        else {
            tracing::warn!(peer = %peer.fmt_short(), "a device said this one was removed, without a proof that holds");
            *self.sessions.refused.entry(peer).or_default() += 1;
            return;
        };
        tracing::warn!(peer = %peer.fmt_short(), "this device was removed from the couple; it stops syncing");
        self.base.identity.removed = Some(crate::identity::RemovedBy {
            by: removal.by,
            at: removal.at,
        });
        self.base.save_identity("the removal of this device");
        self.publish();
    }

    fn end(&mut self, session: u64) {
        self.journal.session_end(session);
        self.sessions.live.remove(&session);
    }

    /// Applies a peer's frame in memory. A frame the checks refuse leaves
    /// nothing behind and ends the session. Also says whether it wrote.
    fn receive(&mut self, session: u64, frame: &[u8]) -> (Result<Received, SyncError>, bool) {
        let Some(Live { peer }) = self.sessions.live.get(&session) else {
            return (Err(SyncError::NoSession), false);
        };
        let peer = *peer;
        let before = self.journal.checkpoint();
        match self.journal.session_receive(session, frame) {
            Ok(applied) => {
                let mut wrote = !applied.changed.is_empty() || !applied.keys.is_empty();
                if self.is_paired(&peer) {
                    match self.journal.settle_paired(session) {
                        Ok(hearth_model::records::settle::Settle::Certify)
                        | Ok(hearth_model::records::settle::Settle::Approve(_)) => wrote = true,
                        Ok(_) => {}
                        Err(e) => {
                            tracing::warn!(error = %e, "could not write what pairing owes; trying again")
                        }
                    }
                    self.settle_paired_list();
                }
                if wrote {
                    self.refresh_view(&applied);
                    tracing::info!(peer = %peer.fmt_short(), "took a peer's changes");
                }
                let in_sync = self.journal.session_in_sync(session);
                (
                    Ok(Received {
                        // Filled in once the whole batch is applied and committed.
                        reply: Vec::new(),
                        in_sync,
                        version: 0,
                    }),
                    wrote,
                )
            }
            Err(e) => {
                if !matches!(e, crate::couple_journal::SessionError::NoSession) {
                    *self.sessions.refused.entry(peer).or_default() += 1;
                }
                tracing::warn!(peer = %peer.fmt_short(), error = %e, "refused a peer's frame; ending the session");
                if self.journal.checkpoint() != before {
                    self.rollback_to(&before);
                }
                self.end(session);
                (Err(SyncError::Rejected(e.to_string())), false)
            }
        }
    }
}
