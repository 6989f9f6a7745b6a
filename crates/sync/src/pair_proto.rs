//! The [`ProtocolHandler`] for `hearth/pair/2`: one pairing attempt per
//! open invite. The exchange itself (proofs, safety number) is in
//! `pairing`; this is what ties it to the node: the invite, the burn after
//! one try, the wait for both confirmations, and asking the document's
//! owner to trust the new device.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::TransportAddr;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::sync::mpsc;

use crate::node::{CONNECT_TIMEOUT, Inner};
use crate::pairing::{self, PairError};

#[derive(Debug, Clone)]
pub(crate) struct PairProto(pub Arc<Inner>);

/// The close code for a joiner turned away while another attempt runs.
pub(crate) const BUSY: u32 = 409;

impl ProtocolHandler for PairProto {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let joiner = conn.remote_id();
        let Some((secret, result)) = self.claim() else {
            if self.0.invite_open() {
                conn.close(BUSY.into(), b"another device is joining");
            } else {
                conn.close(crate::gate::NO_INVITE.into(), b"no open invite");
            }
            return Ok(());
        };
        // The proofs are bounded, so a stalled joiner holds the invite for
        // a few seconds at most.
        let me = self.0.me;
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let (mut send, mut recv) = conn
                .accept_bi()
                .await
                .map_err(|e| PairError::Protocol(format!("no stream opened: {e}")))?;
            let paired = pairing::accept(&mut send, &mut recv, &secret, me, joiner).await?;
            Ok((paired, send, recv))
        })
        .await
        .unwrap_or_else(|_| Err(PairError::Protocol("timed out".into())));
        // A right proof uses the invite and a wrong one burns it; an attempt
        // that never showed a proof (a stranger who only connected, a
        // dropped link) leaves it open for the real joiner.
        let proved = matches!(outcome, Ok(_) | Err(PairError::WrongSecret));
        let still_open = self.release(&secret, proved);
        if !proved {
            tracing::info!(peer = %joiner.fmt_short(), reason = %outcome.err().map(|e| e.to_string()).unwrap_or_default(), "pairing attempt ended without a proof; the invite stays open");
            return Ok(());
        }
        let (paired, mut send, mut recv) = match outcome {
            Ok(_) if !still_open => {
                let _ = result.try_send(Err(PairError::Closed));
                linger(&conn).await;
                return Ok(());
            }
            Ok(proved) => proved,
            Err(e) => {
                tracing::warn!(peer = %joiner.fmt_short(), error = %e, "pairing attempt failed; invite burned");
                let _ = result.try_send(Err(e));
                // The refusal frame is in flight; the joiner must read it
                // to say "wrong secret" rather than "connection lost".
                linger(&conn).await;
                return Ok(());
            }
        };
        let (proposal, pending) = pairing::proposal(paired.clone());
        // Nobody waits for it any more: the `pair invite` has gone, which
        // is a no.
        if result.try_send(Ok(proposal)).is_err() {
            return Ok(());
        }
        let end = match pairing::confirm(&mut send, &mut recv, pending.answer).await {
            Ok(()) => self
                .0
                .trust(joiner, remote_ips(&conn))
                .await
                .map(|()| paired)
                .map_err(|e| PairError::Protocol(e.to_string())),
            Err(e) => Err(e),
        };
        if let Err(e) = &end {
            tracing::info!(peer = %joiner.fmt_short(), error = %e, "pairing not confirmed; nothing trusted");
        }
        let _ = pending.done.send(end);
        linger(&conn).await;
        Ok(())
    }
}

/// Lets the joiner read our last frame before the connection goes:
/// dropping it here would close it under a frame still in flight.
async fn linger(conn: &Connection) {
    let _ = tokio::time::timeout(Duration::from_secs(3), conn.closed()).await;
}

/// Where the pairing handler reports the one attempt's outcome: a
/// proposal to confirm, or why there is none.
pub(crate) type Outcome = mpsc::Sender<Result<pairing::Proposal, PairError>>;

impl PairProto {
    /// Takes the open, unexpired invite for one attempt, if nobody else has.
    fn claim(&self) -> Option<([u8; 16], Outcome)> {
        let mut open = self.0.invite.lock().expect("invite lock");
        let invite = open.as_mut()?;
        if invite.claimed || invite.expires <= Instant::now() {
            return None;
        }
        invite.claimed = true;
        Some((invite.secret.0, invite.result.clone()))
    }

    /// Ends this attempt's claim: `used` closes the invite, otherwise it is
    /// open again. Returns whether the invite was still open (not closed by
    /// its `pair invite` going away meanwhile).
    fn release(&self, secret: &[u8; 16], used: bool) -> bool {
        let mut open = self.0.invite.lock().expect("invite lock");
        match open.as_mut() {
            Some(i) if &i.secret.0 == secret => {
                if used {
                    *open = None;
                } else {
                    i.claimed = false;
                }
                true
            }
            _ => false,
        }
    }
}

/// The joiner's IP addresses as this connection sees them: the first
/// addresses to dial it at, until it records its own in the document.
fn remote_ips(conn: &Connection) -> Vec<SocketAddr> {
    conn.paths()
        .iter()
        .filter_map(|p| match p.remote_addr() {
            TransportAddr::Ip(a) => Some(*a),
            _ => None,
        })
        .collect()
}
