//! The trust gate: an [`EndpointHooks`] that refuses, right after the TLS
//! handshake and before any byte of the journal, every incoming connection
//! from a device we do not trust, and pairing attempts when no invite is
//! open (PROTOCOL.md, "Who may connect").
//!
//! It runs in the endpoint rather than in the protocol handlers so that an
//! untrusted device never gets a stream accepted at all.

use std::sync::{Arc, RwLock};

use iroh::endpoint::{AfterHandshakeOutcome, Connection, EndpointHooks, Side};

use crate::node::Inner;
use crate::{ALPN_PAIR, ALPN_SYNC};

/// The hooks are installed when the endpoint is built, before the state
/// they check exists; until [`Gate::open`] they refuse every connection.
#[derive(Debug, Clone, Default)]
pub(crate) struct Gate(Arc<RwLock<Option<Arc<Inner>>>>);

impl Gate {
    /// Starts checking connections against the node's state.
    pub fn open(&self, inner: Arc<Inner>) {
        *self.0.write().expect("gate lock") = Some(inner);
    }
}

impl EndpointHooks for Gate {
    async fn after_handshake<'a>(&'a self, conn: &'a Connection) -> AfterHandshakeOutcome {
        // Our own dials are checked by whom we chose to dial.
        if matches!(conn.side(), Side::Client) {
            return AfterHandshakeOutcome::Accept;
        }
        let inner = self.0.read().expect("gate lock").clone();
        let Some(inner) = inner else {
            return reject(b"starting up");
        };
        let peer = conn.remote_id();
        let ok = match conn.alpn() {
            // A removed device comes in now and then, to be told so.
            a if a == ALPN_SYNC => inner.is_trusted(&peer) || inner.may_tell_removed(&peer),
            a if a == ALPN_PAIR && !inner.invite_open() => {
                return AfterHandshakeOutcome::Reject {
                    error_code: NO_INVITE.into(),
                    reason: b"no open invite".to_vec(),
                };
            }
            a if a == ALPN_PAIR => true,
            _ => false,
        };
        if ok {
            AfterHandshakeOutcome::Accept
        } else {
            tracing::warn!(peer = %peer.fmt_short(), "refused a connection from an untrusted device");
            reject(b"not trusted")
        }
    }
}

/// The close code for a pairing attempt when no invite is open.
pub(crate) const NO_INVITE: u32 = 404;

fn reject(reason: &[u8]) -> AfterHandshakeOutcome {
    AfterHandshakeOutcome::Reject {
        error_code: 403u32.into(),
        reason: reason.to_vec(),
    }
}
