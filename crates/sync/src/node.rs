//! The sync node: an iroh endpoint that accepts only trusted devices,
//! keeps a session with each reachable one, and redials the others with
//! backoff.
//!
//! This file holds [`SyncNode`], what the daemon calls, and [`Inner`], the
//! state its parts share. The parts live beside it, laid out like iroh's
//! own examples: `gate` (who may connect), `session` (the `hearth/sync/1`
//! handler and session loop), `pair_proto` (the `hearth/pair/2` handler),
//! `dialer` (reconnecting with backoff) and `presets` (the endpoint per
//! network mode).

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use iroh::endpoint::Connection;
use iroh::protocol::Router;
use iroh::{Endpoint, EndpointId};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::dialer::{self, Backoff};
use crate::gate::Gate;
use crate::pair_proto::PairProto;
use crate::pairing::{self, PairError, Proposal};
use crate::session::SyncProto;
use crate::ticket::Ticket;
use crate::wire::{MAX_FRAME, MIN_FRAME};
use crate::{ALPN_PAIR, ALPN_SYNC, DocRequest, NetMode, RemovedSet, SyncError, TrustedSet};

/// How long a dial, or one pairing exchange, may take.
pub(crate) const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub secret_key: [u8; 32],
    pub mode: NetMode,
    pub relay: Option<String>,
    /// mDNS in the default mode too (it is always on in `local`).
    pub mdns: bool,
    /// Port to bind (0 for any); reusing the last one lets peers find us
    /// where they last saw us.
    pub port: u16,
    /// Honoured in [`NetMode::Test`] only.
    pub test: TestHooks,
}

/// Test-only changes to where the endpoint binds and dials, so the
/// integration tests can put a fault proxy between two daemons on one
/// machine. [`crate::presets`] and the dialer ignore them outside
/// [`NetMode::Test`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TestHooks {
    /// The IP to bind instead of 127.0.0.1 (`HEARTH_TEST_BIND`): `::1`
    /// leaves a peer on 127.0.0.1 no direct route to us, so hole punching
    /// cannot bypass the proxy.
    pub bind: Option<IpAddr>,
    /// Dial every device, trusted or inviting, at this address instead of
    /// the ones the document or the ticket records (`HEARTH_TEST_DIAL`):
    /// the proxy's.
    pub dial: Option<SocketAddr>,
    /// A smaller sync frame cap than [`MAX_FRAME`]
    /// (`HEARTH_TEST_MAX_FRAME`, bytes), so a test can send a journal
    /// larger than the cap without writing 64 MiB of it.
    pub max_frame: Option<usize>,
}

impl TestHooks {
    /// Reads `HEARTH_TEST_BIND`, `HEARTH_TEST_DIAL` and
    /// `HEARTH_TEST_MAX_FRAME`. A value that does
    /// not parse is an error rather than ignored: a test that set it would
    /// otherwise run without the proxy and prove nothing.
    pub fn from_env() -> Result<TestHooks, SyncError> {
        fn var<T: std::str::FromStr>(name: &str) -> Result<Option<T>, SyncError> {
            match std::env::var(name) {
                Ok(v) => v
                    .parse()
                    .map(Some)
                    .map_err(|_| SyncError::Bind(format!("{name}={v:?} does not parse"))),
                Err(_) => Ok(None),
            }
        }
        Ok(TestHooks {
            bind: var("HEARTH_TEST_BIND")?,
            dial: var("HEARTH_TEST_DIAL")?,
            max_frame: var("HEARTH_TEST_MAX_FRAME")?,
        })
    }
}

/// What `hearth peers list` shows about one device.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct PeerStatus {
    pub id: String,
    pub online: bool,
    pub last_sync: Option<SystemTime>,
    /// "direct", "relay" or None when offline.
    pub path: Option<String>,
    pub addrs: Vec<SocketAddr>,
    pub last_error: Option<String>,
    /// Sync bytes exchanged with it since the daemon started (frames
    /// included, QUIC overhead not).
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// The outcome of `hearth sync` for one device.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct SyncReport {
    pub id: String,
    pub reached: bool,
    pub in_sync: bool,
    pub error: Option<String>,
}

/// What the node knows about one trusted device. Sessions, the dialer and
/// the status requests all read and write it, under `Inner::peers`.
#[derive(Debug, Default)]
pub(crate) struct PeerState {
    /// Open sessions with it (two when both sides dialed at once).
    pub sessions: u32,
    /// Connections it opened to us that are being served, sessions or not
    /// yet: capped, so one peer cannot tie up the node with many.
    pub incoming: u32,
    /// The connection of the latest session, while any is open.
    pub conn: Option<Connection>,
    /// The sessions open with it, to end a duplicate
    /// ([`crate::session::superseded`]).
    pub live: Vec<crate::session::LiveSession>,
    pub last_sync: Option<SystemTime>,
    pub in_sync: bool,
    pub backoff: Backoff,
    /// When the dialer may try again; `None` for now.
    pub next_try: Option<Instant>,
    /// A dial attempt is under way: the dialer leaves it alone.
    pub dialing: bool,
    /// When the last session ended because the path went quiet (QUIC's idle
    /// timeout), not because either side closed it. For a while after, the
    /// dialer probes instead of backing off (`dialer::probing`).
    pub lost_at: Option<Instant>,
    pub last_error: Option<SyncError>,
    pub bytes_sent: u64,
    pub bytes_received: u64,
}

/// An invite's secret, kept out of `Debug` output and so out of logs.
#[derive(Clone, Copy)]
pub(crate) struct InviteSecret(pub [u8; 16]);

impl std::fmt::Debug for InviteSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("InviteSecret(..)")
    }
}

/// The one open invite: usable once, until it expires.
#[derive(Debug)]
pub(crate) struct Invite {
    pub secret: InviteSecret,
    pub expires: Instant,
    /// An attempt is under way: a second joiner is turned away, not let
    /// race the first (one ticket pairs one device).
    pub claimed: bool,
    /// Where the pairing handler reports the one attempt's outcome.
    pub result: crate::pair_proto::Outcome,
}

/// The state every part of the node shares.
#[derive(Debug)]
pub(crate) struct Inner {
    pub me: EndpointId,
    pub mode: NetMode,
    pub endpoint: Endpoint,
    /// To the document's owner.
    pub docs: mpsc::UnboundedSender<DocRequest>,
    pub trusted: watch::Receiver<TrustedSet>,
    /// Devices the couple removed: each may connect once in a while, to be
    /// told so (`crate::removal`).
    pub removed: watch::Receiver<RemovedSet>,
    /// When each removed device was last let in to be told.
    pub told_removed: Mutex<HashMap<EndpointId, Instant>>,
    /// The owner's change counter, bumped on every stored change.
    pub changed: watch::Receiver<u64>,
    pub peers: Mutex<HashMap<EndpointId, PeerState>>,
    pub invite: Mutex<Option<Invite>>,
    /// The next session id.
    pub sessions: AtomicU64,
    /// Makes the dialer look again (a session or dial ended, `hearth sync`).
    pub wake_dialer: Notify,
    /// Tests only: where every device is dialed ([`TestHooks::dial`]).
    pub dial_override: Option<SocketAddr>,
    /// The largest sync frame sent or accepted: [`MAX_FRAME`], or
    /// [`TestHooks::max_frame`] in tests.
    pub max_frame: usize,
}

impl Inner {
    pub fn is_trusted(&self, id: &EndpointId) -> bool {
        self.trusted.borrow().contains_key(id)
    }

    pub fn is_removed(&self, id: &EndpointId) -> bool {
        self.removed.borrow().contains(id)
    }

    /// Whether removed device `id` may come in now to be told: at most once
    /// per [`crate::removal::TELL_EVERY`]. Counts this time as a telling.
    pub fn may_tell_removed(&self, id: &EndpointId) -> bool {
        if !self.is_removed(id) {
            return false;
        }
        let mut told = self.told_removed.lock().expect("told lock");
        let now = Instant::now();
        if told
            .get(id)
            .is_some_and(|t| now.duration_since(*t) < crate::removal::TELL_EVERY)
        {
            return false;
        }
        told.insert(*id, now);
        true
    }

    /// Addresses where peers can reach this device, as our hello says.
    pub fn own_addrs(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self.endpoint.addr().ip_addrs().copied().collect();
        if v.is_empty() || self.mode == NetMode::Test {
            v = self.endpoint.bound_sockets();
        }
        v.sort();
        v.dedup();
        v
    }

    pub fn invite_open(&self) -> bool {
        self.invite
            .lock()
            .expect("invite lock")
            .as_ref()
            .is_some_and(|i| i.expires > Instant::now())
    }

    /// Whether a session with any device is open.
    pub fn any_session(&self) -> bool {
        let peers = self.peers.lock().expect("peers lock");
        peers.values().any(|p| p.sessions > 0)
    }

    pub fn peer<R>(&self, id: EndpointId, f: impl FnOnce(&mut PeerState) -> R) -> R {
        let mut peers = self.peers.lock().expect("peers lock");
        f(peers.entry(id).or_default())
    }

    /// Asks the document's owner to trust a newly paired device.
    pub async fn trust(&self, peer: EndpointId, addrs: Vec<SocketAddr>) -> Result<(), SyncError> {
        let (tx, rx) = oneshot::channel();
        self.docs
            .send(DocRequest::Trust {
                peer,
                addrs,
                reply: tx,
            })
            .map_err(|_| SyncError::Stopping)?;
        rx.await.map_err(|_| SyncError::Stopping)?
    }
}

/// "direct" or "relay": how the connection's selected path goes.
fn path_kind(conn: &Connection) -> Option<String> {
    let paths = conn.paths();
    let selected: Vec<_> = paths.iter().filter(|p| p.is_selected()).collect();
    if selected.iter().any(|p| p.is_ip()) {
        Some("direct".into())
    } else if selected.iter().any(|p| p.is_relay()) {
        Some("relay".into())
    } else {
        None
    }
}

#[derive(Debug)]
pub struct SyncNode {
    inner: Arc<Inner>,
    endpoint: Endpoint,
    router: Router,
    dialer: tokio::task::JoinHandle<()>,
    netchange: tokio::task::JoinHandle<()>,
}

impl SyncNode {
    /// Starts the endpoint, the protocol handlers and the dialer.
    ///
    /// `docs` reaches the document's owner. `trusted` is the trusted set
    /// and `changed` a counter the owner bumps after every stored change;
    /// the owner reports that counter back in [`crate::Received`].
    pub async fn spawn(
        cfg: NodeConfig,
        docs: mpsc::UnboundedSender<DocRequest>,
        trusted: watch::Receiver<TrustedSet>,
        removed: watch::Receiver<RemovedSet>,
        changed: watch::Receiver<u64>,
    ) -> Result<SyncNode, SyncError> {
        let links = (trusted, removed, changed);
        match Self::bind(&cfg, docs.clone(), links.clone()).await {
            Err(e @ SyncError::Bind(_)) if cfg.port != 0 => {
                // The port we used last time is taken: any port will do, peers
                // learn the new one from the document.
                tracing::warn!(port = cfg.port, error = %e, "last sync port unavailable; using another");
                Self::bind(&NodeConfig { port: 0, ..cfg }, docs, links).await
            }
            r => r,
        }
    }

    async fn bind(
        cfg: &NodeConfig,
        docs: mpsc::UnboundedSender<DocRequest>,
        (trusted, removed, changed): (
            watch::Receiver<TrustedSet>,
            watch::Receiver<RemovedSet>,
            watch::Receiver<u64>,
        ),
    ) -> Result<SyncNode, SyncError> {
        // The gate exists before the endpoint, the state it checks only
        // after: until then it refuses everyone.
        let gate = Gate::default();
        let endpoint = crate::presets::builder(cfg)?
            .secret_key(iroh::SecretKey::from_bytes(&cfg.secret_key))
            .hooks(gate.clone())
            .bind()
            .await
            .map_err(|e| SyncError::Bind(e.to_string()))?;
        let inner = Arc::new(Inner {
            me: endpoint.id(),
            mode: cfg.mode,
            endpoint: endpoint.clone(),
            docs,
            trusted,
            removed,
            told_removed: Mutex::default(),
            changed,
            peers: Mutex::default(),
            invite: Mutex::default(),
            sessions: AtomicU64::new(1),
            wake_dialer: Notify::new(),
            dial_override: cfg.test.dial.filter(|_| cfg.mode == NetMode::Test),
            max_frame: cfg
                .test
                .max_frame
                .filter(|_| cfg.mode == NetMode::Test)
                .map_or(MAX_FRAME, |m| m.clamp(MIN_FRAME, MAX_FRAME)),
        });
        gate.open(inner.clone());
        let router = Router::builder(endpoint.clone())
            .accept(ALPN_SYNC, SyncProto(inner.clone()))
            .accept(ALPN_PAIR, PairProto(inner.clone()))
            .spawn();
        let dialer = tokio::spawn(dialer::dial_loop(inner.clone(), endpoint.clone()));
        let netchange = tokio::spawn(crate::netchange::watch(inner.clone(), endpoint.clone()));
        tracing::info!(id = %inner.me, mode = ?cfg.mode, addrs = ?endpoint.bound_sockets(), "sync endpoint up");
        Ok(SyncNode {
            inner,
            endpoint,
            router,
            dialer,
            netchange,
        })
    }

    pub fn id(&self) -> EndpointId {
        self.inner.me
    }

    /// Addresses where peers can reach this device.
    pub fn direct_addrs(&self) -> Vec<SocketAddr> {
        self.inner.own_addrs()
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .bound_sockets()
            .first()
            .map_or(0, |a| a.port())
    }

    /// Opens a one-use invite and returns its ticket.
    pub fn invite(&self, ttl: Duration) -> (Ticket, InviteOutcome) {
        let secret: [u8; 16] = rand::random();
        let (tx, rx) = mpsc::channel(1);
        *self.inner.invite.lock().expect("invite lock") = Some(Invite {
            secret: InviteSecret(secret),
            expires: Instant::now() + ttl,
            claimed: false,
            result: tx,
        });
        let relay = self
            .endpoint
            .addr()
            .relay_urls()
            .next()
            .map(|u| u.to_string());
        let ticket = Ticket {
            id: self.inner.me,
            addrs: self.direct_addrs(),
            relay,
            secret,
        };
        (ticket, InviteOutcome(rx))
    }

    /// Waits until a device has proved it holds the open invite, or the
    /// invite expires. The proposal still needs this side's answer.
    pub async fn wait_invite(
        &self,
        mut rx: InviteOutcome,
        ttl: Duration,
    ) -> Result<Proposal, PairError> {
        match tokio::time::timeout(ttl, rx.0.recv()).await {
            Ok(Some(r)) => r,
            Ok(None) => Err(PairError::Expired),
            Err(_) => {
                *self.inner.invite.lock().expect("invite lock") = None;
                Err(PairError::Expired)
            }
        }
    }

    /// Closes the invite whose secret is `secret`, if it is still the open
    /// one: the `pair invite` that opened it has gone. An attempt under way
    /// finds it closed and trusts nobody. Returns whether it was open.
    pub fn close_invite(&self, secret: &[u8; 16]) -> bool {
        let mut open = self.inner.invite.lock().expect("invite lock");
        if open.as_ref().is_some_and(|i| &i.secret.0 == secret) {
            *open = None;
            return true;
        }
        false
    }

    /// Joins another device's invite, up to the safety number: the
    /// proposal still needs this side's answer, and the other side's.
    pub async fn join(&self, ticket: &Ticket) -> Result<Proposal, PairError> {
        if ticket.id == self.inner.me {
            return Err(PairError::Protocol(
                "that invite is from this very device".into(),
            ));
        }
        let addr = match self.inner.dial_override {
            Some(o) => iroh::EndpointAddr::from_parts(ticket.id, [iroh::TransportAddr::Ip(o)]),
            None => ticket.addr(),
        };
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, self.endpoint.connect(addr, ALPN_PAIR))
            .await
            .map_err(|_| PairError::Connect("timed out".into()))?
            .map_err(|e| {
                match &e {
                    iroh::endpoint::ConnectError::Connection { source, .. } => refused(source),
                    _ => None,
                }
                .unwrap_or_else(|| PairError::Connect(e.to_string()))
            })?;
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| refused(&e).unwrap_or_else(|| PairError::Connect(e.to_string())))?;
        let paired = tokio::time::timeout(
            CONNECT_TIMEOUT,
            pairing::join(
                &mut send,
                &mut recv,
                &ticket.secret,
                ticket.id,
                self.inner.me,
            ),
        )
        .await
        .map_err(|_| PairError::Protocol("timed out".into()))?
        // A refusal by the inviter (no invite, busy) arrives as the close
        // reason; whichever read or write first met it failed with "lost".
        .map_err(|e| {
            conn.close_reason()
                .and_then(|why| refused(&why))
                .unwrap_or(e)
        })?;
        let (proposal, pending) = pairing::proposal(paired.clone());
        let inner = self.inner.clone();
        let (inviter, addrs) = (ticket.id, ticket.addrs.clone());
        tokio::spawn(async move {
            let end = match pairing::confirm(&mut send, &mut recv, pending.answer).await {
                Ok(()) => inner
                    .trust(inviter, addrs)
                    .await
                    .map(|()| paired)
                    .map_err(|e| PairError::Protocol(e.to_string())),
                Err(e) => Err(e),
            };
            // Our last byte must reach the inviter before the close does.
            let _ = tokio::time::timeout(Duration::from_secs(3), send.stopped()).await;
            conn.close(0u32.into(), b"paired");
            if end.is_ok() {
                inner.wake_dialer.notify_one();
            } else if let Err(e) = &end {
                tracing::info!(peer = %inviter.fmt_short(), error = %e, "pairing not confirmed; nothing trusted");
            }
            let _ = pending.done.send(end);
        });
        Ok(proposal)
    }

    /// Dials every trusted device now, and waits (up to `limit`) until each
    /// reachable one is in sync.
    pub async fn sync_now(&self, limit: Duration) -> Vec<SyncReport> {
        let ids: Vec<EndpointId> = self
            .inner
            .trusted
            .borrow()
            .keys()
            .copied()
            .filter(|id| *id != self.inner.me)
            .collect();
        dialer::paths_back(&self.inner, None);
        let deadline = Instant::now() + limit;
        loop {
            let done = ids.iter().all(|id| {
                self.inner.peer(*id, |p| {
                    (p.conn.is_some() && p.in_sync)
                        || (p.conn.is_none() && !p.dialing && p.last_error.is_some())
                })
            });
            if done || Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        ids.iter()
            .map(|id| {
                self.inner.peer(*id, |p| SyncReport {
                    id: id.to_string(),
                    reached: p.conn.is_some(),
                    in_sync: p.conn.is_some() && p.in_sync,
                    error: if p.conn.is_some() {
                        None
                    } else {
                        Some(
                            p.last_error
                                .as_ref()
                                .map_or_else(|| "not reached yet".into(), ToString::to_string),
                        )
                    },
                })
            })
            .collect()
    }

    pub fn peer_status(&self) -> Vec<PeerStatus> {
        let trusted = self.inner.trusted.borrow().clone();
        trusted
            .iter()
            .filter(|(id, _)| **id != self.inner.me)
            .map(|(id, addrs)| {
                self.inner.peer(*id, |p| PeerStatus {
                    id: id.to_string(),
                    online: p.conn.is_some(),
                    last_sync: p.last_sync,
                    path: p.conn.as_ref().and_then(path_kind),
                    addrs: addrs.clone(),
                    last_error: p.last_error.as_ref().map(ToString::to_string),
                    bytes_sent: p.bytes_sent,
                    bytes_received: p.bytes_received,
                })
            })
            .collect()
    }

    pub async fn shutdown(self) {
        self.dialer.abort();
        self.netchange.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.router.shutdown()).await;
    }
}

/// Where a [`SyncNode::invite`]'s one attempt is reported.
#[derive(Debug)]
pub struct InviteOutcome(mpsc::Receiver<Result<Proposal, PairError>>);

/// What an inviter's refusal to pair means, from the code it closed with.
fn refused(e: &iroh::endpoint::ConnectionError) -> Option<PairError> {
    let iroh::endpoint::ConnectionError::ApplicationClosed(c) = e else {
        return None;
    };
    match u32::try_from(c.error_code.into_inner()).ok()? {
        crate::pair_proto::BUSY => Some(PairError::Busy),
        crate::gate::NO_INVITE => Some(PairError::NoInvite),
        _ => None,
    }
}
