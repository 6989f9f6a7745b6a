//! The sync node: an iroh endpoint that accepts only trusted devices,
//! keeps a session with each reachable one, and redials the others with
//! backoff.

use std::collections::HashMap;
use std::net::{Ipv4Addr, SocketAddr};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use iroh::endpoint::{
    AfterHandshakeOutcome, Connection, EndpointHooks, PortmapperConfig, RecvStream, SendStream,
    Side, presets,
};
use iroh::protocol::{AcceptError, ProtocolHandler, Router};
use iroh::{Endpoint, EndpointAddr, EndpointId, RelayMode, SecretKey, TransportAddr};
use tokio::sync::{Notify, mpsc, oneshot, watch};

use crate::pairing::{self, PairError, Paired};
use crate::ticket::Ticket;
use crate::wire::{self, MAX_FRAME, WireError};
use crate::{ALPN_PAIR, ALPN_SYNC, DocRequest, NetMode, TrustedSet};

const BACKOFF_MIN: Duration = Duration::from_millis(500);
const BACKOFF_MAX: Duration = Duration::from_secs(60);
const CONNECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Debug, Clone)]
pub struct NodeConfig {
    pub secret_key: [u8; 32],
    pub mode: NetMode,
    pub relay: Option<String>,
    /// Port to bind (0 for any); reusing the last one lets peers find us
    /// where they last saw us.
    pub port: u16,
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

#[derive(Default)]
struct PeerState {
    sessions: u32,
    conn: Option<Connection>,
    last_sync: Option<SystemTime>,
    in_sync: bool,
    backoff: Duration,
    next_try: Option<Instant>,
    dialing: bool,
    last_error: Option<String>,
    bytes_sent: u64,
    bytes_received: u64,
}

struct Invite {
    secret: [u8; 16],
    expires: Instant,
    result: watch::Sender<Option<Result<Paired, PairError>>>,
}

struct Inner {
    me: EndpointId,
    mode: NetMode,
    docs: mpsc::UnboundedSender<DocRequest>,
    trusted: watch::Receiver<TrustedSet>,
    changed: watch::Receiver<u64>,
    peers: Mutex<HashMap<EndpointId, PeerState>>,
    invite: Mutex<Option<Invite>>,
    sessions: AtomicU64,
    wake_dialer: Notify,
}

impl Inner {
    fn is_trusted(&self, id: &EndpointId) -> bool {
        self.trusted.borrow().contains_key(id)
    }

    fn invite_open(&self) -> bool {
        self.invite
            .lock()
            .expect("invite lock")
            .as_ref()
            .is_some_and(|i| i.expires > Instant::now())
    }

    fn peer<R>(&self, id: EndpointId, f: impl FnOnce(&mut PeerState) -> R) -> R {
        let mut peers = self.peers.lock().expect("peers lock");
        f(peers.entry(id).or_default())
    }
}

/// Refuses, right after the TLS handshake and before any byte of the
/// journal, every incoming connection from a device we do not trust, and
/// pairing attempts when no invite is open.
#[derive(Clone)]
struct Gate(Arc<RwLock<Option<Arc<Inner>>>>);

impl std::fmt::Debug for Gate {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Gate")
    }
}

impl EndpointHooks for Gate {
    async fn after_handshake<'a>(&'a self, conn: &'a Connection) -> AfterHandshakeOutcome {
        if matches!(conn.side(), Side::Client) {
            return AfterHandshakeOutcome::Accept;
        }
        let inner = self.0.read().expect("gate lock").clone();
        let Some(inner) = inner else {
            return reject(b"starting up");
        };
        let peer = conn.remote_id();
        let ok = match conn.alpn() {
            a if a == ALPN_SYNC => inner.is_trusted(&peer),
            a if a == ALPN_PAIR => inner.invite_open(),
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

fn reject(reason: &[u8]) -> AfterHandshakeOutcome {
    AfterHandshakeOutcome::Reject {
        error_code: 403u32.into(),
        reason: reason.to_vec(),
    }
}

#[derive(Clone)]
struct SyncProto(Arc<Inner>);

impl std::fmt::Debug for SyncProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SyncProto")
    }
}

impl ProtocolHandler for SyncProto {
    async fn accept(&self, conn: Connection) -> Result<(), AcceptError> {
        let peer = conn.remote_id();
        // Checked again here: trust may have changed since the handshake.
        if !self.0.is_trusted(&peer) {
            conn.close(403u32.into(), b"not trusted");
            return Ok(());
        }
        let (send, recv) = conn.accept_bi().await?;
        run_session(self.0.clone(), conn, send, recv, peer).await;
        Ok(())
    }
}

#[derive(Clone)]
struct PairProto(Arc<Inner>);

impl std::fmt::Debug for PairProto {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("PairProto")
    }
}

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
            pairing::accept(&mut send, &mut recv, &secret, self.0.me, joiner),
        )
        .await
        .unwrap_or_else(|_| Err(PairError::Protocol("timed out".into())));
        // One attempt per invite, right or wrong.
        *self.0.invite.lock().expect("invite lock") = None;
        let outcome = match outcome {
            Ok(p) => {
                let addrs = remote_ips(&conn);
                match trust(&self.0, joiner, addrs).await {
                    Ok(()) => Ok(p),
                    Err(e) => Err(PairError::Protocol(e)),
                }
            }
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

async fn trust(inner: &Inner, peer: EndpointId, addrs: Vec<SocketAddr>) -> Result<(), String> {
    let (tx, rx) = oneshot::channel();
    inner
        .docs
        .send(DocRequest::Trust {
            peer,
            addrs,
            reply: tx,
        })
        .map_err(|_| "the daemon is shutting down".to_string())?;
    rx.await
        .map_err(|_| "the daemon is shutting down".to_string())?
}

fn remote_ips(conn: &Connection) -> Vec<SocketAddr> {
    conn.paths()
        .iter()
        .filter_map(|p| match p.remote_addr() {
            TransportAddr::Ip(a) => Some(*a),
            _ => None,
        })
        .collect()
}

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

/// One sync session over one bidirectional stream. Both sides run the
/// same loop: send what the document's owner generates, apply what arrives,
/// and send again whenever the document changes.
async fn run_session(
    inner: Arc<Inner>,
    conn: Connection,
    mut send: SendStream,
    recv: RecvStream,
    peer: EndpointId,
) {
    let session = inner.sessions.fetch_add(1, Ordering::Relaxed);
    let span = tracing::info_span!("sync", peer = %peer.fmt_short(), session);
    let _enter = span.enter();
    if inner
        .docs
        .send(DocRequest::Start { session, peer })
        .is_err()
    {
        return;
    }
    inner.peer(peer, |p| {
        p.sessions += 1;
        p.conn = Some(conn.clone());
        p.backoff = Duration::ZERO;
        p.last_error = None;
    });
    tracing::info!("session started");
    let result = session_loop(&inner, session, peer, &mut send, recv).await;
    match &result {
        Ok(()) => tracing::info!("session ended"),
        Err(e) => tracing::warn!(error = %e, "session dropped"),
    }
    let _ = inner.docs.send(DocRequest::End { session });
    inner.peer(peer, |p| {
        p.sessions = p.sessions.saturating_sub(1);
        if p.sessions == 0 {
            p.conn = None;
            p.in_sync = false;
        }
        if let Err(e) = &result {
            p.last_error = Some(e.clone());
        }
    });
    let code: u32 = if result.is_ok() { 0 } else { 400 };
    conn.close(code.into(), b"bye");
    inner.wake_dialer.notify_one();
}

async fn generate(inner: &Inner, session: u64) -> Result<Option<Vec<u8>>, String> {
    let (tx, rx) = oneshot::channel();
    inner
        .docs
        .send(DocRequest::Generate { session, reply: tx })
        .map_err(|_| "daemon stopping".to_string())?;
    rx.await.map_err(|_| "daemon stopping".to_string())
}

async fn session_loop(
    inner: &Arc<Inner>,
    session: u64,
    peer: EndpointId,
    send: &mut SendStream,
    recv: RecvStream,
) -> Result<(), String> {
    let mut changed = inner.changed.clone();
    let mut trusted = inner.trusted.clone();
    changed.mark_unchanged();
    // Frames are read in a task of their own: a read that `select!`
    // abandoned half-way would lose bytes and break the framing. The channel
    // holds one frame, so a fast peer cannot make us buffer more.
    let (frames_tx, mut frames) = mpsc::channel::<Result<Vec<u8>, WireError>>(1);
    let reader = tokio::spawn(async move {
        let mut recv = recv;
        loop {
            let frame = wire::read_frame(&mut recv, MAX_FRAME).await;
            let end = frame.is_err();
            if frames_tx.send(frame).await.is_err() || end {
                return;
            }
        }
    });
    let _stop_reader = AbortOnDrop(reader);
    let sent = |n: usize| inner.peer(peer, |p| p.bytes_sent += n as u64 + 4);
    // Say hello with our heads straight away: the first message is how the
    // other side learns what we have.
    if let Some(m) = generate(inner, session).await? {
        wire::write_frame(send, &m)
            .await
            .map_err(|e| e.to_string())?;
        sent(m.len());
    }
    loop {
        tokio::select! {
            frame = frames.recv() => {
                let bytes = match frame {
                    None | Some(Err(WireError::Closed)) => return Ok(()),
                    Some(Err(e)) => return Err(e.to_string()),
                    Some(Ok(b)) => b,
                };
                inner.peer(peer, |p| p.bytes_received += bytes.len() as u64 + 4);
                let msg = wire::decode_message(&bytes).map_err(|e| e.to_string())?;
                let (tx, rx) = oneshot::channel();
                inner.docs.send(DocRequest::Receive { session, msg: Box::new(msg), reply: tx }).map_err(|_| "daemon stopping".to_string())?;
                let received = rx.await.map_err(|_| "daemon stopping".to_string())??;
                inner.peer(peer, |p| {
                    p.in_sync = received.in_sync;
                    if received.in_sync {
                        p.last_sync = Some(SystemTime::now());
                    }
                });
                if let Some(m) = received.reply {
                    wire::write_frame(send, &m).await.map_err(|e| e.to_string())?;
                    sent(m.len());
                }
            }
            r = changed.changed() => {
                r.map_err(|_| "daemon stopping".to_string())?;
                if let Some(m) = generate(inner, session).await? {
                    wire::write_frame(send, &m).await.map_err(|e| e.to_string())?;
                    sent(m.len());
                }
            }
            r = trusted.changed() => {
                r.map_err(|_| "daemon stopping".to_string())?;
                if !trusted.borrow().contains_key(&peer) {
                    return Err("device removed from the couple's devices".into());
                }
            }
        }
    }
}

/// Aborts a task when the owner goes away.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}

pub struct SyncNode {
    inner: Arc<Inner>,
    endpoint: Endpoint,
    router: Router,
    dialer: tokio::task::JoinHandle<()>,
}

fn bind_err<E: std::fmt::Display>(e: E) -> String {
    format!("cannot start the sync endpoint: {e}")
}

impl SyncNode {
    pub async fn spawn(
        cfg: NodeConfig,
        docs: mpsc::UnboundedSender<DocRequest>,
        trusted: watch::Receiver<TrustedSet>,
        changed: watch::Receiver<u64>,
    ) -> Result<SyncNode, String> {
        match Self::bind(&cfg, docs.clone(), trusted.clone(), changed.clone()).await {
            Err(e) if cfg.port != 0 => {
                // The port we used last time is taken: any port will do, peers
                // learn the new one from the document.
                tracing::warn!(port = cfg.port, error = %e, "last sync port unavailable; using another");
                Self::bind(&NodeConfig { port: 0, ..cfg }, docs, trusted, changed).await
            }
            r => r,
        }
    }

    async fn bind(
        cfg: &NodeConfig,
        docs: mpsc::UnboundedSender<DocRequest>,
        trusted: watch::Receiver<TrustedSet>,
        changed: watch::Receiver<u64>,
    ) -> Result<SyncNode, String> {
        let secret = SecretKey::from_bytes(&cfg.secret_key);
        let gate = Gate(Arc::new(RwLock::new(None)));
        let builder = match cfg.mode {
            NetMode::Test => Endpoint::builder(presets::Minimal)
                .clear_ip_transports()
                .bind_addr((Ipv4Addr::LOCALHOST, cfg.port))
                .map_err(bind_err)?
                .portmapper_config(PortmapperConfig::Disabled),
            NetMode::Local => Endpoint::builder(presets::Minimal)
                .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
                .map_err(bind_err)?
                .address_lookup(
                    iroh_mdns_address_lookup::MdnsAddressLookup::builder().service_name("hearth"),
                ),
            NetMode::Default => {
                let mut b = Endpoint::builder(presets::N0)
                    .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
                    .map_err(bind_err)?
                    .address_lookup(
                        iroh_mdns_address_lookup::MdnsAddressLookup::builder()
                            .service_name("hearth"),
                    );
                if let Some(url) = &cfg.relay {
                    let url: iroh::RelayUrl = url
                        .parse()
                        .map_err(|e| format!("invalid relay URL {url:?}: {e}"))?;
                    b = b.relay_mode(RelayMode::custom([url]));
                }
                b
            }
        };
        let endpoint = builder
            .secret_key(secret)
            .hooks(gate.clone())
            .bind()
            .await
            .map_err(bind_err)?;
        let inner = Arc::new(Inner {
            me: endpoint.id(),
            mode: cfg.mode,
            docs,
            trusted,
            changed,
            peers: Mutex::default(),
            invite: Mutex::default(),
            sessions: AtomicU64::new(1),
            wake_dialer: Notify::new(),
        });
        *gate.0.write().expect("gate lock") = Some(inner.clone());
        let router = Router::builder(endpoint.clone())
            .accept(ALPN_SYNC, SyncProto(inner.clone()))
            .accept(ALPN_PAIR, PairProto(inner.clone()))
            .spawn();
        let dialer = tokio::spawn(dial_loop(inner.clone(), endpoint.clone()));
        tracing::info!(id = %inner.me, mode = ?cfg.mode, addrs = ?endpoint.bound_sockets(), "sync endpoint up");
        Ok(SyncNode {
            inner,
            endpoint,
            router,
            dialer,
        })
    }

    pub fn id(&self) -> EndpointId {
        self.inner.me
    }

    /// Addresses where peers can reach this device.
    pub fn direct_addrs(&self) -> Vec<SocketAddr> {
        let mut v: Vec<SocketAddr> = self.endpoint.addr().ip_addrs().copied().collect();
        if v.is_empty() || self.inner.mode == NetMode::Test {
            v = self.endpoint.bound_sockets();
        }
        v.sort();
        v.dedup();
        v
    }

    pub fn port(&self) -> u16 {
        self.endpoint
            .bound_sockets()
            .first()
            .map_or(0, |a| a.port())
    }

    /// Opens a one-use invite and returns its ticket.
    pub fn invite(
        &self,
        ttl: Duration,
    ) -> (Ticket, watch::Receiver<Option<Result<Paired, PairError>>>) {
        let secret: [u8; 16] = rand::random();
        let (tx, rx) = watch::channel(None);
        *self.inner.invite.lock().expect("invite lock") = Some(Invite {
            secret,
            expires: Instant::now() + ttl,
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
        (ticket, rx)
    }

    /// Waits for the open invite to be used, or to expire.
    pub async fn wait_invite(
        &self,
        mut rx: watch::Receiver<Option<Result<Paired, PairError>>>,
        ttl: Duration,
    ) -> Result<Paired, PairError> {
        let waited = tokio::time::timeout(ttl, async {
            loop {
                if let Some(r) = rx.borrow_and_update().clone() {
                    return r;
                }
                if rx.changed().await.is_err() {
                    return Err(PairError::Expired);
                }
            }
        })
        .await;
        match waited {
            Ok(r) => r,
            Err(_) => {
                *self.inner.invite.lock().expect("invite lock") = None;
                Err(PairError::Expired)
            }
        }
    }

    /// Joins another device's invite.
    pub async fn join(&self, ticket: &Ticket) -> Result<Paired, PairError> {
        if ticket.id == self.inner.me {
            return Err(PairError::Protocol(
                "that invite is from this very device".into(),
            ));
        }
        let conn = tokio::time::timeout(
            CONNECT_TIMEOUT,
            self.endpoint.connect(ticket.addr(), ALPN_PAIR),
        )
        .await
        .map_err(|_| PairError::Connect("timed out".into()))?
        .map_err(|e| PairError::Connect(e.to_string()))?;
        let (mut send, mut recv) = conn
            .open_bi()
            .await
            .map_err(|e| PairError::Connect(e.to_string()))?;
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
        .map_err(|_| PairError::Protocol("timed out".into()))??;
        conn.close(0u32.into(), b"paired");
        trust(&self.inner, ticket.id, ticket.addrs.clone())
            .await
            .map_err(PairError::Protocol)?;
        self.inner.wake_dialer.notify_one();
        Ok(paired)
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
        for id in &ids {
            self.inner.peer(*id, |p| {
                p.backoff = Duration::ZERO;
                p.next_try = None;
            });
        }
        self.inner.wake_dialer.notify_one();
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
                        p.last_error.clone().or(Some("not reached yet".into()))
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
                    last_error: p.last_error.clone(),
                    bytes_sent: p.bytes_sent,
                    bytes_received: p.bytes_received,
                })
            })
            .collect()
    }

    pub async fn shutdown(self) {
        self.dialer.abort();
        let _ = tokio::time::timeout(Duration::from_secs(5), self.router.shutdown()).await;
    }
}

/// Keeps trying to reach every trusted device we are not connected to,
/// with exponential backoff per device so an offline partner costs almost
/// nothing and a flapping link cannot cause a storm.
async fn dial_loop(inner: Arc<Inner>, endpoint: Endpoint) {
    let mut trusted = inner.trusted.clone();
    loop {
        let now = Instant::now();
        let targets: Vec<(EndpointId, Vec<SocketAddr>)> = trusted
            .borrow()
            .iter()
            .filter(|(id, _)| **id != inner.me)
            .map(|(id, a)| (*id, a.clone()))
            .collect();
        let mut next_wake = now + BACKOFF_MAX;
        for (id, addrs) in targets {
            let go = inner.peer(id, |p| {
                if p.conn.is_some() || p.dialing {
                    return false;
                }
                match p.next_try {
                    Some(t) if t > now => {
                        next_wake = next_wake.min(t);
                        false
                    }
                    _ => {
                        p.dialing = true;
                        true
                    }
                }
            });
            if go {
                tokio::spawn(dial(inner.clone(), endpoint.clone(), id, addrs));
            }
        }
        tokio::select! {
            _ = inner.wake_dialer.notified() => {}
            r = trusted.changed() => if r.is_err() { return },
            _ = tokio::time::sleep_until(next_wake.into()) => {}
        }
    }
}

async fn dial(inner: Arc<Inner>, endpoint: Endpoint, id: EndpointId, addrs: Vec<SocketAddr>) {
    let addr = EndpointAddr::from_parts(id, addrs.into_iter().map(TransportAddr::Ip));
    let attempt = async {
        let conn = tokio::time::timeout(CONNECT_TIMEOUT, endpoint.connect(addr, ALPN_SYNC))
            .await
            .map_err(|_| "connect timed out".to_string())?
            .map_err(|e| e.to_string())?;
        let (send, recv) = conn.open_bi().await.map_err(|e| e.to_string())?;
        Ok::<_, String>((conn, send, recv))
    };
    match attempt.await {
        Ok((conn, send, recv)) => {
            inner.peer(id, |p| p.dialing = false);
            run_session(inner.clone(), conn, send, recv, id).await;
            // A session that ended is retried soon, but not instantly.
            inner.peer(id, schedule_retry);
        }
        Err(e) => {
            tracing::debug!(peer = %id.fmt_short(), error = %e, "dial failed");
            inner.peer(id, |p| {
                p.dialing = false;
                p.last_error = Some(e);
                schedule_retry(p);
            });
        }
    }
    inner.wake_dialer.notify_one();
}

fn schedule_retry(p: &mut PeerState) {
    p.backoff = if p.backoff.is_zero() {
        BACKOFF_MIN
    } else {
        (p.backoff * 2).min(BACKOFF_MAX)
    };
    // Jitter of up to a quarter, so two devices do not retry in lockstep.
    let jitter = p.backoff.mul_f64(rand::random::<f64>() * 0.25);
    p.next_try = Some(Instant::now() + p.backoff + jitter);
}
