//! The [`ProtocolHandler`] for `hearth/sync/1`, and the sync session both
//! sides run over one bidirectional stream (PROTOCOL.md, "A session").
//!
//! A session never touches the document: it sends [`DocRequest`]s to the
//! document's owner and writes what comes back.

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Instant, SystemTime};

use iroh::EndpointId;
use iroh::endpoint::{Connection, ConnectionError, RecvStream, SendStream};
use iroh::protocol::{AcceptError, ProtocolHandler};
use tokio::sync::{Notify, mpsc, oneshot};

use crate::hello::{Hello, MAX_ADDRS};
use crate::node::Inner;
use crate::outbox::{Outbox, Overfull};
use crate::wire::{self, WireError};
use crate::{DocRequest, Received, SyncError};

#[derive(Debug, Clone)]
pub(crate) struct SyncProto(pub Arc<Inner>);

impl ProtocolHandler for SyncProto {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let peer = conn.remote_id();
        // Checked again here: trust may have changed since the handshake.
        if !self.0.is_trusted(&peer) {
            if self.0.is_removed(&peer) {
                crate::removal::tell(self.0.clone(), conn, peer).await;
            } else {
                conn.close(403u32.into(), b"not trusted");
            }
            return Ok(());
        }
        let reserved = self.0.peer(peer, |p| {
            let room = p.incoming < MAX_INCOMING_PER_PEER;
            p.incoming += u32::from(room);
            room
        });
        if !reserved {
            tracing::warn!(peer = %peer.fmt_short(), "refused a connection: too many from this device");
            conn.close(429u32.into(), b"too many sessions");
            return Ok(());
        }
        let _slot = IncomingSlot {
            inner: self.0.clone(),
            peer,
        };
        // A peer that connects and never opens its stream does not keep a
        // slot for long.
        let Ok(streams) =
            tokio::time::timeout(crate::node::CONNECT_TIMEOUT, conn.accept_bi()).await
        else {
            conn.close(408u32.into(), b"no stream opened");
            return Ok(());
        };
        let (send, recv) = streams?;
        run_session(self.0.clone(), conn, send, recv, peer, peer).await;
        Ok(())
    }
}

/// At most this many connections from one device are served at once: two
/// is what both sides dialing each other at the same moment needs.
pub(crate) const MAX_INCOMING_PER_PEER: u32 = 2;

/// Gives an incoming connection's place back when it ends, however it ends.
struct IncomingSlot {
    inner: Arc<Inner>,
    peer: EndpointId,
}

impl Drop for IncomingSlot {
    fn drop(&mut self) {
        self.inner
            .peer(self.peer, |p| p.incoming = p.incoming.saturating_sub(1));
    }
}

/// One of the sessions open with a peer, as its state keeps them.
#[derive(Debug)]
pub(crate) struct LiveSession {
    pub id: u64,
    /// The device that dialed it: this one or the peer.
    pub dialer: EndpointId,
    pub conn: Connection,
    /// Tells the session to end: another one carries on.
    pub stop: Arc<Notify>,
}

/// The sessions to end among those open with one peer. When both devices
/// dialed at once, two sessions carry every change twice. Both ends keep
/// the same ones, those dialed by the smaller device id (`preferred`), and
/// end the rest; each side decides alone and both decide alike. Sessions
/// dialed by one device are left alone: an old one ends by itself.
/// `live` lists each session as its id and its dialer.
pub(crate) fn superseded(live: &[(u64, EndpointId)], preferred: EndpointId) -> Vec<u64> {
    if !live.iter().any(|(_, dialer)| *dialer == preferred) {
        return Vec::new();
    }
    live.iter()
        .filter(|(_, dialer)| *dialer != preferred)
        .map(|(id, _)| *id)
        .collect()
}

/// One sync session, from either side: registers it with the owner and the
/// peer's state, runs it, and records how it ended. `dialer` is the device
/// that opened the connection.
///
/// Its span is the future's own (`instrument`), never entered by hand: a
/// span entered across an await stays entered on whatever the thread runs
/// next, and other sessions' lines would carry this one's name.
#[tracing::instrument(
    name = "sync",
    skip_all,
    fields(peer = %peer.fmt_short(), session = tracing::field::Empty)
)]
pub(crate) async fn run_session(
    inner: Arc<Inner>,
    conn: Connection,
    send: SendStream,
    recv: RecvStream,
    peer: EndpointId,
    dialer: EndpointId,
) {
    let session = inner.sessions.fetch_add(1, Ordering::Relaxed);
    tracing::Span::current().record("session", session);
    if inner
        .docs
        .send(DocRequest::Start {
            session,
            peer,
            max_frame: inner.max_frame,
        })
        .is_err()
    {
        return;
    }
    let first = !inner.any_session();
    let stop = Arc::new(Notify::new());
    let preferred = inner.me.min(peer);
    inner.peer(peer, |p| {
        p.sessions += 1;
        p.conn = Some(conn.clone());
        p.backoff.reset();
        p.last_error = None;
        p.lost_at = None;
        p.live.push(LiveSession {
            id: session,
            dialer,
            conn: conn.clone(),
            stop: stop.clone(),
        });
        let open: Vec<(u64, EndpointId)> = p.live.iter().map(|s| (s.id, s.dialer)).collect();
        for id in superseded(&open, preferred) {
            if let Some(s) = p.live.iter().find(|s| s.id == id) {
                s.stop.notify_one();
            }
        }
    });
    tracing::info!("session started");
    // The first session after none, dialed or accepted, shows that our
    // network works again: the devices still waiting out a backoff are
    // dialed now. Later ones say nothing new, so a peer whose sessions keep
    // dropping cannot make us redial everyone each time.
    if first {
        crate::dialer::paths_back(&inner, Some(peer));
    }
    let result = session_loop(&inner, session, peer, send, recv, &stop).await;
    match &result {
        Ok(()) => tracing::info!("session ended"),
        Err(e) => tracing::warn!(error = %e, "session dropped"),
    }
    let _ = inner.docs.send(DocRequest::End { session });
    let code: u32 = if result.is_ok() { 0 } else { 400 };
    // Nobody closed it: the path went quiet, and may come back without
    // anything on this device noticing. The dialer probes it for a while.
    let went_quiet = matches!(conn.close_reason(), Some(ConnectionError::TimedOut));
    inner.peer(peer, |p| {
        p.sessions = p.sessions.saturating_sub(1);
        p.live.retain(|s| s.id != session);
        p.conn = p.live.last().map(|s| s.conn.clone());
        if p.sessions == 0 {
            p.conn = None;
            p.in_sync = false;
            if went_quiet {
                p.lost_at = Some(Instant::now());
            }
        }
        // While another session carries on, this one's end (the peer
        // closing a duplicate, say) is not the device's error.
        if let Err(e) = result
            && p.live.is_empty()
        {
            p.last_error = Some(e);
        }
    });
    conn.close(code.into(), b"bye");
    inner.wake_dialer.notify_one();
}

/// Asks the owner for this session's next message, as frames.
async fn generate(inner: &Inner, session: u64) -> Result<Vec<Vec<u8>>, SyncError> {
    let (tx, rx) = oneshot::channel();
    inner
        .docs
        .send(DocRequest::Generate { session, reply: tx })
        .map_err(|_| SyncError::Stopping)?;
    rx.await.map_err(|_| SyncError::Stopping)
}

/// Hands the owner a peer's frame; the answer carries our reply.
async fn receive(inner: &Inner, session: u64, frame: Vec<u8>) -> Result<Received, SyncError> {
    let (tx, rx) = oneshot::channel();
    inner
        .docs
        .send(DocRequest::Receive {
            session,
            frame,
            reply: tx,
        })
        .map_err(|_| SyncError::Stopping)?;
    rx.await.map_err(|_| SyncError::Stopping)?
}

/// Both sides run the same loop: send what the owner generates, apply what
/// arrives and send the reply that comes back with it, and send again
/// whenever the document changes.
async fn session_loop(
    inner: &Arc<Inner>,
    session: u64,
    peer: EndpointId,
    send: SendStream,
    recv: RecvStream,
    stop: &Notify,
) -> Result<(), SyncError> {
    let mut changed = inner.changed.clone();
    let mut trusted = inner.trusted.clone();
    // Frames are read in a task of their own: a read that `select!`
    // abandoned half-way would lose bytes and break the framing. The channel
    // holds one frame, so a fast peer cannot make us buffer more.
    let (frames_tx, mut frames) = mpsc::channel::<Result<Vec<u8>, WireError>>(1);
    let max_frame = inner.max_frame;
    let reader = tokio::spawn(async move {
        let mut recv = recv;
        loop {
            let frame = wire::read_frame(&mut recv, max_frame).await;
            let end = frame.is_err();
            if frames_tx.send(frame).await.is_err() || end {
                return;
            }
        }
    });
    let _stop_reader = AbortOnDrop(reader);
    // And written in another, so that reading never waits on a write.
    let mut outbox = {
        let inner = inner.clone();
        Outbox::start(send, max_frame, move |n| {
            inner.peer(peer, |p| p.bytes_sent += n as u64);
        })
    };
    let queue = |outbox: &Outbox, frames: Vec<Vec<u8>>| {
        outbox
            .push(frames)
            .map_err(|Overfull(n)| SyncError::PeerNotReading(n))
    };
    // The document version our last message accounted for: a wake-up for
    // it or an older one has nothing to add. The owner bumps the counter
    // when it stores what a peer sent too, and answers that receive with the
    // reply already, so this is what keeps our own receives from costing a
    // second round trip.
    let mut said = *changed.borrow_and_update();
    // A change we have not generated for yet, because the peer had not read
    // what we queued before it.
    let mut owed = false;
    // The hello goes first, then our heads straight away: the first sync
    // message is how the other side learns what we have.
    let mut hello = hello_for(inner, peer);
    queue(&outbox, vec![hello.encode()])?;
    queue(&outbox, generate(inner, session).await?)?;
    let mut heard = false;
    loop {
        tokio::select! {
            () = stop.notified() => {
                tracing::info!("another session with this device carries on; ending this one");
                return Ok(());
            }
            e = &mut outbox.failed => {
                return Err(match e {
                    Ok(e) => e.into(),
                    Err(_) => SyncError::Stopping,
                });
            }
            frame = frames.recv() => {
                let bytes = match frame {
                    None | Some(Err(WireError::Closed)) => return Ok(()),
                    Some(Err(e)) => return Err(e.into()),
                    Some(Ok(b)) => b,
                };
                inner.peer(peer, |p| p.bytes_received += bytes.len() as u64 + 4);
                // Instead of a session, a device that removed us says so.
                if let Some(proof) = crate::removal::proof_in(&bytes) {
                    let proof = proof.to_vec();
                    let _ = inner.docs.send(DocRequest::Removed { peer, proof });
                    return Err(SyncError::Removed);
                }
                // The first frame must be a hello; later ones may be too.
                if !heard || Hello::is_hello(&bytes) {
                    heard = true;
                    let hello = Hello::decode(&bytes)?;
                    inner
                        .docs
                        .send(DocRequest::Heard { peer, hello })
                        .map_err(|_| SyncError::Stopping)?;
                    continue;
                }
                let got = receive(inner, session, bytes).await?;
                inner.peer(peer, |p| {
                    p.in_sync = got.in_sync;
                    if got.in_sync {
                        p.last_sync = Some(SystemTime::now());
                    }
                });
                said = said.max(got.version);
                queue(&outbox, got.reply)?;
            }
            () = outbox.drained.notified(), if owed => {
                // A permit stored by an earlier drain can wake this while
                // the queue is full again: wait for the next one then.
                if outbox.backed_up() {
                    continue;
                }
                owed = false;
                said = *changed.borrow_and_update();
                queue(&outbox, generate(inner, session).await?)?;
            }
            r = changed.changed() => {
                r.map_err(|_| SyncError::Stopping)?;
                let version = *changed.borrow_and_update();
                if version <= said {
                    continue;
                }
                if outbox.backed_up() {
                    owed = true;
                    continue;
                }
                said = version;
                queue(&outbox, generate(inner, session).await?)?;
            }
            r = trusted.changed() => {
                r.map_err(|_| SyncError::Stopping)?;
                if !trusted.borrow().contains_key(&peer) {
                    return Err(SyncError::Removed);
                }
                // A device joined or was reached somewhere new: tell this
                // peer, which may not have heard.
                let now = hello_for(inner, peer);
                if now != hello {
                    hello = now;
                    queue(&outbox, vec![hello.encode()])?;
                }
            }
        }
    }
}

/// Our hello to `peer`: where we listen, and where the other devices we
/// trust were last reached (not `peer` itself, which knows).
fn hello_for(inner: &Inner, peer: EndpointId) -> Hello {
    let known = inner
        .trusted
        .borrow()
        .iter()
        .filter(|(id, a)| **id != peer && **id != inner.me && !a.is_empty())
        .take(crate::hello::MAX_KNOWN)
        .map(|(id, a)| (*id, a.iter().copied().take(MAX_ADDRS).collect()))
        .collect();
    Hello {
        addrs: inner.own_addrs().into_iter().take(MAX_ADDRS).collect(),
        known,
    }
}

/// Aborts a task when the owner goes away.
pub(crate) struct AbortOnDrop(pub tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(n: u8) -> EndpointId {
        iroh::SecretKey::from_bytes(&[n; 32]).public()
    }

    #[test]
    fn of_two_sessions_dialed_at_once_both_ends_keep_the_same_one() {
        let (a, b) = (id(1), id(2));
        let preferred = a.min(b);
        let other = a.max(b);
        // Each end numbers its sessions its own way, and may have seen them
        // open in either order; the one the preferred device dialed stays.
        let here = superseded(&[(1, preferred), (2, other)], preferred);
        let there = superseded(&[(7, other), (9, preferred)], preferred);
        assert_eq!(here, [2]);
        assert_eq!(there, [7]);
    }

    #[test]
    fn a_lone_session_or_several_from_one_dialer_are_left_alone() {
        let (a, b) = (id(3), id(4));
        let preferred = a.min(b);
        let other = a.max(b);
        assert!(superseded(&[(1, other)], preferred).is_empty());
        assert!(superseded(&[(1, preferred)], preferred).is_empty());
        assert!(superseded(&[(1, other), (2, other)], preferred).is_empty());
        assert!(superseded(&[(1, preferred), (2, preferred)], preferred).is_empty());
        assert_eq!(
            superseded(&[(1, preferred), (2, other), (3, other)], preferred),
            [2, 3]
        );
    }
}
