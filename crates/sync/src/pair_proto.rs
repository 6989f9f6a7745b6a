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

use crate::node::{CONNECT_TIMEOUT, Inner};
use crate::pairing::{self, PairError};

#[derive(Debug, Clone)]
pub(crate) struct PairProto(pub Arc<Inner>);

impl ProtocolHandler for PairProto {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let joiner = conn.remote_id();
        let Some((secret, result)) = self
            .0
            .invite
            .lock()
            .expect("invite lock")
            .as_ref()
            .and_then(|i| (i.expires > Instant::now()).then(|| (i.secret, i.result.clone())))
        else {
            conn.close(403u32.into(), b"no open invite");
            return Ok(());
        };
        let (mut send, mut recv) = conn.accept_bi().await?;
        let outcome = tokio::time::timeout(
            CONNECT_TIMEOUT,
            pairing::accept(&mut send, &mut recv, &secret.0, self.0.me, joiner),
        )
        .await
        .unwrap_or_else(|_| Err(PairError::Protocol("timed out".into())));
        // One attempt per invite, right or wrong.
        *self.0.invite.lock().expect("invite lock") = None;
        let outcome = match outcome {
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
