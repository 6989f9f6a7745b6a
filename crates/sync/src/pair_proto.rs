//! The [`ProtocolHandler`] for `hearth/pair/1`: one pairing attempt per
//! open invite. The exchange itself (proofs, safety number) is in
//! `pairing`; this is what ties it to the node: the invite, the burn after
//! one try, and asking the document's owner to trust the new device.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use iroh::TransportAddr;
use iroh::endpoint::Connection;
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::sync::watch;

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
                conn.close(403u32.into(), b"no open invite");
            }
            return Ok(());
        };
        // The whole attempt is bounded, so a stalled joiner holds the invite
        // for a few seconds at most.
        let me = self.0.me;
        let outcome = tokio::time::timeout(CONNECT_TIMEOUT, async {
            let (mut send, mut recv) = conn
                .accept_bi()
                .await
                .map_err(|e| PairError::Protocol(format!("no stream opened: {e}")))?;
            pairing::accept(&mut send, &mut recv, &secret, me, joiner).await
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
        let outcome = match outcome {
            Ok(_) if !still_open => Err(PairError::Closed),
            Ok(p) => match self.0.trust(joiner, remote_ips(&conn)).await {
                Ok(()) => Ok(p),
                Err(e) => Err(PairError::Protocol(e.to_string())),
            },
            Err(e) => {
                tracing::warn!(peer = %joiner.fmt_short(), error = %e, "pairing attempt failed; invite burned");
                Err(e)
            }
        };
        let _ = result.send(Some(outcome));
        // Let the joiner read our last frame before the connection goes.
        let _ = tokio::time::timeout(Duration::from_secs(3), conn.closed()).await;
        Ok(())
    }
}

type Outcome = watch::Sender<Option<Result<pairing::Paired, PairError>>>;

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
