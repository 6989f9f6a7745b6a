//! Telling a removed device that it was removed (docs/SCHEMA.md,
//! "Removal"). The gate lets a removed device in on the sync protocol at
//! most once per [`TELL_EVERY`]; instead of a session it gets one frame,
//! the proof of its removal from the owner, and the connection closes with
//! 403 `removed`. On the removed device the session hands that frame to its
//! owner, which checks the proof against its own records.

use std::sync::Arc;
use std::time::Duration;

use iroh::EndpointId;
use iroh::endpoint::Connection;
use tokio::sync::oneshot;

use crate::DocRequest;
use crate::node::Inner;
use crate::wire;

/// How often a removed device is let in to be told.
pub const TELL_EVERY: Duration = Duration::from_secs(600);

/// What starts a removal frame: neither a hello nor a session frame starts
/// so.
const TAG: &[u8] = b"hearth-removed/1\n";

/// The frame that carries `proof`.
pub(crate) fn frame(proof: &[u8]) -> Vec<u8> {
    [TAG, proof].concat()
}

/// The proof in a removal frame; `None` for any other frame.
pub(crate) fn proof_in(frame: &[u8]) -> Option<&[u8]> {
    frame.strip_prefix(TAG)
}

/// Serves a removed device's connection: the proof, if the owner has one,
/// then 403 `removed`. Bounded in time like any other connection.
pub(crate) async fn tell(inner: Arc<Inner>, conn: Connection, peer: EndpointId) {
    let told = async {
        let (mut send, _recv) = conn.accept_bi().await.ok()?;
        let (tx, rx) = oneshot::channel();
        inner
            .docs
            .send(DocRequest::RemovalProof { peer, reply: tx })
            .ok()?;
        let proof = rx.await.ok()?;
        if proof.is_empty() {
            return None;
        }
        wire::write_frame(&mut send, &frame(&proof)).await.ok()?;
        send.finish().ok()?;
        // Give the frame a moment to arrive before the close cuts it off.
        let _ = tokio::time::timeout(Duration::from_secs(2), send.stopped()).await;
        Some(())
    };
    let outcome = tokio::time::timeout(crate::node::CONNECT_TIMEOUT, told).await;
    tracing::info!(
        peer = %peer.fmt_short(),
        told = matches!(outcome, Ok(Some(()))),
        "a removed device came in, and was told"
    );
    conn.close(403u32.into(), b"removed");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_removal_frame_is_told_apart_from_every_other_frame() {
        let f = frame(b"proof bytes");
        assert_eq!(proof_in(&f), Some(&b"proof bytes"[..]));
        assert_eq!(proof_in(b"hearth-removed/"), None);
        assert_eq!(proof_in(&crate::Hello::default().encode()), None);
        assert_eq!(proof_in(&[]), None);
    }
}
