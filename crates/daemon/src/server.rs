//! Start-up, the socket, signals and shutdown.

use std::fs::{self, File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::PathBuf;

use hearth_ipc::frame::{read_async_raw, write_async};
use hearth_ipc::{
    Envelope, ErrorKind, ErrorReply, FrameError, MAX_REQUEST, PROTOCOL_VERSION, Paths, Request,
    Response,
};
use hearth_store::{StoreError, create_private_dir};

use crate::couple_journal::CoupleJournal;

mod load;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hearth_sync::{
    DocRequest, NetMode, NodeConfig, SyncError, SyncNode, TestHooks, Ticket, TrustedSet,
};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::{mpsc, oneshot, watch};

use crate::core::{Core, Input, Output, SyncLink};
use crate::identity::{IdentityError, IdentityFile};

#[derive(Debug, Clone)]
pub struct Options {
    pub paths: Paths,
    /// How to reach peers: public relays, the LAN only, or loopback only.
    pub net: NetMode,
    /// A self-hosted iroh relay instead of the public ones.
    pub relay: Option<String>,
    /// Announce and look for devices on the local network in the default
    /// mode too.
    pub mdns: bool,
    /// Seeds the id randomness, for reproducible tests.
    pub seed: Option<u64>,
    pub foreground: bool,
}

#[derive(Debug, thiserror::Error)]
pub enum DaemonError {
    #[error("a hearth daemon is already running for {home} (pid {pid})")]
    AlreadyRunning { home: String, pid: String },
    #[error("{0}: {1}")]
    Io(PathBuf, std::io::Error),
    #[error(transparent)]
    Identity(#[from] IdentityError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cannot open the journal: {0}")]
    Model(#[from] hearth_model::ModelError),
    #[error(
        "{0} holds a journal of an earlier hearth (schema 1, unencrypted), which this version cannot open; move it away to start afresh"
    )]
    Schema1(PathBuf),
    #[error("no journal at {0}: run `hearth init` (or `hearth pair join`) first")]
    NoKey(PathBuf),
    #[error("HEARTH_PASSPHRASE is not this journal's passphrase; nothing was opened")]
    WrongPassphrase,
    #[error("the storage key: {0}")]
    Key(#[from] hearth_store::KeyError),
    #[error(transparent)]
    Keyring(crate::keyring::KeyringError),
}

enum Msg {
    Work(Input, Reply),
    /// The index's newest weeks, read before the rest of it.
    Recent(Box<hearth_store::index::Recent>),
    /// The index, read before the documents.
    Indexed(Box<crate::core::StartIndex>),
    Loaded(Box<Result<CoupleJournal, StoreError>>),
    /// The journal, opened before the rest of the index is read: it takes
    /// new entries and `log -n` at once (`Core::opened`).
    Opened(Box<CoupleJournal>),
    /// The rest of the index, after `Opened`; `None` if it did not read.
    RestOfIndex(Option<Box<crate::core::StartIndex>>),
    /// Time to drop documents nobody used lately.
    Tidy,
    Stop,
}

/// Where the answer to a piece of work goes.
enum Reply {
    Cli(oneshot::Sender<Response>),
    Generated(oneshot::Sender<Vec<Vec<u8>>>),
    Received(oneshot::Sender<Result<hearth_sync::Received, SyncError>>),
    Trusted(oneshot::Sender<Result<(), SyncError>>),
    RemovalProof(oneshot::Sender<Vec<u8>>),
    Nobody,
}

impl Reply {
    fn deliver(self, out: Output) {
        match (self, out) {
            (Reply::Cli(tx), Output::Response(r)) => {
                let _ = tx.send(r);
            }
            (Reply::Generated(tx), Output::Generated(m)) => {
                let _ = tx.send(m);
            }
            (Reply::Received(tx), Output::Received(r)) => {
                let _ = tx.send(r);
            }
            (Reply::Trusted(tx), Output::Trusted(r)) => {
                let _ = tx.send(r);
            }
            (Reply::RemovalProof(tx), Output::RemovalProof(p)) => {
                let _ = tx.send(p);
            }
            // Dropping a sender tells its waiter there is no answer.
            _ => {}
        }
    }

    /// Tells whoever waits that the work will not be done.
    fn fail(self, why: &str) {
        match self {
            Reply::Cli(tx) => {
                let _ = tx.send(error(ErrorKind::Storage, why.to_string()));
            }
            Reply::Received(tx) => {
                let _ = tx.send(Err(SyncError::Storage(why.to_string())));
            }
            Reply::Trusted(tx) => {
                let _ = tx.send(Err(SyncError::Storage(why.to_string())));
            }
            Reply::Generated(_) | Reply::RemovalProof(_) | Reply::Nobody => {}
        }
    }
}

/// A peer-side request, as work for the core and where its answer goes.
fn from_doc(d: DocRequest) -> (Input, Reply) {
    match d {
        DocRequest::Start {
            session,
            peer,
            max_frame,
        } => (
            Input::SessionStart {
                session,
                peer,
                max_frame,
            },
            Reply::Nobody,
        ),
        DocRequest::End { session } => (Input::SessionEnd { session }, Reply::Nobody),
        DocRequest::Generate { session, reply } => {
            (Input::Generate { session }, Reply::Generated(reply))
        }
        DocRequest::Receive {
            session,
            frame,
            reply,
        } => (Input::Receive { session, frame }, Reply::Received(reply)),
        DocRequest::Trust { peer, addrs, reply } => {
            (Input::Trust { peer, addrs }, Reply::Trusted(reply))
        }
        DocRequest::Heard { peer, hello } => (Input::Heard { peer, hello }, Reply::Nobody),
        DocRequest::RemovalProof { peer, reply } => {
            (Input::RemovalProof { peer }, Reply::RemovalProof(reply))
        }
        DocRequest::Removed { peer, proof } => (Input::Removed { peer, proof }, Reply::Nobody),
    }
}

/// What a connection handler needs besides the core.
#[derive(Clone)]
struct Shared {
    core: mpsc::UnboundedSender<Msg>,
    node: Option<Arc<SyncNode>>,
    invite: Arc<Mutex<Option<InviteWait>>>,
}

struct InviteWait {
    rx: hearth_sync::InviteOutcome,
    until: std::time::Instant,
}

/// Runs the daemon until a shutdown request or SIGTERM/SIGINT.
pub async fn run(opts: Options) -> Result<(), DaemonError> {
    // Nothing hearth creates is for anyone but its owner.
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(0o077));
    let paths = opts.paths.clone();
    for dir in [&paths.runtime, &paths.data, &paths.logs()] {
        create_private_dir(dir)?;
    }
    let _pid_lock = take_pidfile(&paths)?;
    let _log_guard = crate::logging::init(&paths.logs(), opts.foreground);

    // The socket comes first, so a locked daemon can be reached to unlock.
    let listener = bind_socket(&paths)?;
    let result = match crate::unlock::storage_key(&paths, &listener).await {
        Ok(Some(key)) => run_unlocked(opts, listener, key).await,
        Ok(None) => {
            tracing::info!("stopped while locked");
            Ok(())
        }
        Err(e) => Err(e),
    };
    let _ = fs::remove_file(paths.socket());
    let _ = fs::remove_file(paths.pidfile());
    result
}

/// The daemon proper, once the storage key is known.
async fn run_unlocked(
    opts: Options,
    listener: UnixListener,
    key: hearth_store::StorageKey,
) -> Result<(), DaemonError> {
    let paths = opts.paths.clone();
    let identity_file = IdentityFile {
        path: paths.identity(),
        key: key.file_key(),
    };
    let identity = identity_file.load_or_create()?;
    // Only tests run in test mode, and only there may the environment move
    // the endpoint (a fault proxy, see tests/tests/common/proxy.rs). A hook
    // that does not parse turns sync off, so its test fails visibly.
    let test = if opts.net == NetMode::Test {
        TestHooks::from_env()
    } else {
        Ok(TestHooks::default())
    };
    let node_cfg = test.map(|test| NodeConfig {
        secret_key: identity.secret(),
        mode: opts.net,
        relay: opts.relay.clone(),
        mdns: opts.mdns,
        port: identity.port.unwrap_or(0),
        test,
    });
    tracing::info!(pid = std::process::id(), "hearth daemon starting");
    if !hearth_store::seal::ENCRYPTED {
        tracing::error!(
            "built for the encryption cost benchmark: files are NOT encrypted; never use this build for a journal"
        );
    }
    let secret = identity.secret();
    let partner = identity
        .partner
        .as_ref()
        .and_then(|p| p.as_str().parse().ok());
    let mut core = Core::new(
        identity,
        identity_file,
        paths.data.display().to_string(),
        opts.seed,
    );
    // A relay is used in default mode only; the others have none.
    let (mode, relay) = match opts.net {
        NetMode::Default => ("default", opts.relay.clone()),
        NetMode::Local => ("local", None),
        NetMode::Test => ("test", None),
    };
    core.set_network(mode, relay);
    let (changed_tx, changed_rx) = watch::channel(0u64);
    let (trusted_tx, trusted_rx) = watch::channel(TrustedSet::new());
    let (removed_tx, removed_rx) = watch::channel(hearth_sync::RemovedSet::new());
    core.set_link(SyncLink {
        changed: changed_tx,
        trusted: trusted_tx,
        removed: removed_tx,
    });

    let (tx, rx) = mpsc::unbounded_channel::<Msg>();
    let loader_tx = tx.clone();
    let data_dir = paths.data.clone();
    let (file_key, slot_key) = (key.file_key(), key.slot_key());
    drop(key);
    std::thread::Builder::new()
        .name("load".into())
        .spawn(move || {
            load::run(&data_dir, file_key, slot_key, &secret, partner, |m| {
                drop(loader_tx.send(m))
            })
        })
        .map_err(|e| DaemonError::Io(paths.journal(), e))?;
    let (done_tx, done_rx) = oneshot::channel::<Result<(), String>>();
    std::thread::Builder::new()
        .name("core".into())
        .spawn(move || {
            let r = core_loop(core, rx);
            let _ = done_tx.send(r);
        })
        .map_err(|e| DaemonError::Io(paths.journal(), e))?;

    // Now and then the core drops the documents nobody used lately.
    let tidy = tx.clone();
    tokio::spawn(async move {
        let mut every = tokio::time::interval(std::time::Duration::from_secs(60));
        every.tick().await;
        loop {
            every.tick().await;
            if tidy.send(Msg::Tidy).is_err() {
                return;
            }
        }
    });

    // The sync endpoint. Without it the journal still works locally.
    let (docs_tx, mut docs_rx) = mpsc::unbounded_channel::<DocRequest>();
    let forward = tx.clone();
    tokio::spawn(async move {
        while let Some(d) = docs_rx.recv().await {
            let (input, reply) = from_doc(d);
            if forward.send(Msg::Work(input, reply)).is_err() {
                return;
            }
        }
    });
    let spawned = match node_cfg {
        Ok(cfg) => SyncNode::spawn(cfg, docs_tx, trusted_rx, removed_rx, changed_rx).await,
        Err(e) => Err(e),
    };
    let node = match spawned {
        Ok(node) => {
            let _ = tx.send(Msg::Work(
                Input::Listening(node.direct_addrs(), node.port()),
                Reply::Nobody,
            ));
            Some(Arc::new(node))
        }
        Err(e) => {
            tracing::error!(error = %e, "sync is off");
            let _ = tx.send(Msg::Work(Input::SyncDown(e.to_string()), Reply::Nobody));
            None
        }
    };
    let shared = Shared {
        core: tx.clone(),
        node: node.clone(),
        invite: Arc::default(),
    };

    tracing::info!(socket = %paths.socket().display(), "listening");
    let mut sigterm = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(|e| DaemonError::Io(paths.socket(), e))?;
    let mut sigint = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
        .map_err(|e| DaemonError::Io(paths.socket(), e))?;
    let mut done_rx = done_rx;
    let result = loop {
        tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    tokio::spawn(serve_connection(stream, shared.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
            _ = sigterm.recv() => {
                tracing::info!("SIGTERM: shutting down");
                let _ = tx.send(Msg::Stop);
                break (&mut done_rx).await;
            }
            _ = sigint.recv() => {
                tracing::info!("SIGINT: shutting down");
                let _ = tx.send(Msg::Stop);
                break (&mut done_rx).await;
            }
            r = &mut done_rx => break r,
        }
    };
    let _ = fs::remove_file(paths.socket());
    drop(shared);
    if let Some(node) = node.and_then(|n| Arc::try_unwrap(n).ok()) {
        node.shutdown().await;
    }
    match result {
        Ok(Ok(())) => {
            tracing::info!("stopped");
            Ok(())
        }
        Ok(Err(e)) => {
            tracing::error!(error = %e, "stopped on error");
            Err(DaemonError::Io(paths.journal(), std::io::Error::other(e)))
        }
        Err(_) => Err(DaemonError::Io(
            paths.journal(),
            std::io::Error::other("core thread died"),
        )),
    }
}

/// Takes the pidfile's lock for the daemon's lifetime. A pidfile whose lock
/// nobody holds is stale (its daemon died) and is simply reused.
fn take_pidfile(paths: &Paths) -> Result<File, DaemonError> {
    let path = paths.pidfile();
    let mut f = OpenOptions::new()
        .read(true)
        .write(true)
        .create(true)
        .truncate(false)
        .mode(0o600)
        .open(&path)
        .map_err(|e| DaemonError::Io(path.clone(), e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(fs::TryLockError::WouldBlock) => {
            let mut pid = String::new();
            let _ = f.read_to_string(&mut pid);
            return Err(DaemonError::AlreadyRunning {
                home: paths.data.display().to_string(),
                pid: pid.trim().to_string(),
            });
        }
        Err(fs::TryLockError::Error(e)) => return Err(DaemonError::Io(path, e)),
    }
    f.set_len(0)
        .and_then(|_| f.rewind())
        .map_err(|e| DaemonError::Io(path.clone(), e))?;
    writeln!(f, "{}", std::process::id()).map_err(|e| DaemonError::Io(path.clone(), e))?;
    Ok(f)
}

fn bind_socket(paths: &Paths) -> Result<UnixListener, DaemonError> {
    let sock = paths.socket();
    // We hold the pidfile lock, so any socket left here is stale.
    match fs::remove_file(&sock) {
        Ok(()) => tracing::info!("removed a stale socket"),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(DaemonError::Io(sock, e)),
    }
    let listener = UnixListener::bind(&sock).map_err(|e| DaemonError::Io(sock.clone(), e))?;
    fs::set_permissions(&sock, fs::Permissions::from_mode(0o600))
        .map_err(|e| DaemonError::Io(sock.clone(), e))?;
    Ok(listener)
}

pub(crate) fn error(kind: ErrorKind, message: impl Into<String>) -> Response {
    Response::Error(ErrorReply {
        kind,
        message: message.into(),
    })
}

/// The invite a CLI connection opened. It lasts as long as that connection:
/// a `pair invite` that exits or is interrupted takes its invite with it.
struct OpenedInvite {
    node: Arc<SyncNode>,
    secret: [u8; 16],
}

impl Drop for OpenedInvite {
    fn drop(&mut self) {
        if self.node.close_invite(&self.secret) {
            tracing::info!("invite closed: the pair invite that opened it has gone");
        }
    }
}

/// Resolves when the CLI at the other end hangs up (or sends something it
/// should not while it waits).
async fn hung_up(stream: &mut UnixStream) {
    use tokio::io::AsyncReadExt;
    let mut byte = [0u8; 1];
    let _ = stream.read(&mut byte).await;
}

async fn serve_connection(mut stream: UnixStream, shared: Shared) {
    let tx = shared.core.clone();
    // Held for its Drop: the invite ends with this connection.
    let mut _invite: Option<OpenedInvite> = None;
    // A pairing that waits for this connection's user to confirm the
    // safety number; dropped with the connection, which is a no.
    let mut proposal: Option<hearth_sync::Proposal> = None;
    loop {
        let raw = match read_async_raw(&mut stream, MAX_REQUEST).await {
            Ok(raw) => raw,
            Err(FrameError::Closed) => return,
            Err(e @ FrameError::TooLarge(..)) => {
                // The rest of the stream cannot be framed; answer and hang up.
                let _ =
                    write_async(&mut stream, &error(ErrorKind::BadRequest, e.to_string())).await;
                return;
            }
            Err(e) => {
                tracing::debug!(error = %e, "connection dropped");
                return;
            }
        };
        let reply = match serde_json::from_slice::<Envelope>(&raw) {
            // Any version may stop us: that is how `hearth daemon restart`
            // replaces a daemon from another release.
            _ if is_shutdown(&raw) => {
                let (rtx, rrx) = oneshot::channel();
                if tx
                    .send(Msg::Work(
                        Input::Request(Request::Shutdown),
                        Reply::Cli(rtx),
                    ))
                    .is_err()
                {
                    return;
                }
                rrx.await.unwrap_or(Response::Ok)
            }
            Err(e) => {
                // Tell an old CLI why, even if the request shape changed.
                let version = serde_json::from_slice::<serde_json::Value>(&raw)
                    .ok()
                    .and_then(|v| v.get("protocol").and_then(|p| p.as_u64()));
                match version {
                    Some(v) if v != u64::from(PROTOCOL_VERSION) => incompatible(v),
                    _ => error(ErrorKind::BadRequest, format!("malformed request: {e}")),
                }
            }
            Ok(env) if env.protocol != PROTOCOL_VERSION => incompatible(u64::from(env.protocol)),
            Ok(env) if matches!(env.request, Request::PairWait | Request::PairJoin(_)) => {
                let proposed = tokio::select! {
                    proposed = propose(&shared, env.request) => proposed,
                    () = hung_up(&mut stream) => return,
                };
                match proposed {
                    Ok(p) => {
                        let reply = Response::PairProposed {
                            peer: p.paired.peer.to_string(),
                            safety: p.paired.safety.clone(),
                        };
                        proposal = Some(p);
                        reply
                    }
                    Err(reply) => reply,
                }
            }
            Ok(Envelope {
                request: Request::PairConfirm(hearth_ipc::PairConfirm { yes }),
                ..
            }) => match proposal.take() {
                None => error(
                    ErrorKind::BadRequest,
                    "nothing to confirm: no pairing waits on this connection",
                ),
                Some(p) => tokio::select! {
                    end = p.answer(yes) => match end {
                        Ok(p) => Response::Paired {
                            peer: p.peer.to_string(),
                            safety: p.safety,
                        },
                        Err(e) => error(ErrorKind::BadRequest, e.to_string()),
                    },
                    () = hung_up(&mut stream) => return,
                },
            },
            Ok(env) if env.request.is_network() || matches!(env.request, Request::Peers) => {
                let reply = network(&shared, env.request).await;
                if let (Response::Invite { ticket, .. }, Some(node)) = (&reply, &shared.node) {
                    _invite = Ticket::decode(ticket).ok().map(|t| OpenedInvite {
                        node: node.clone(),
                        secret: t.secret,
                    });
                }
                reply
            }
            Ok(env) => ask_core(&shared, Input::Request(env.request)).await,
        };
        if write_async(&mut stream, &reply).await.is_err() {
            return;
        }
    }
}

async fn ask_core(shared: &Shared, input: Input) -> Response {
    let (rtx, rrx) = oneshot::channel();
    if shared.core.send(Msg::Work(input, Reply::Cli(rtx))).is_err() {
        return error(ErrorKind::Internal, "the daemon is shutting down");
    }
    rrx.await
        .unwrap_or_else(|_| error(ErrorKind::Internal, "the daemon is shutting down"))
}

/// Waits for the open invite to be proved (`PairWait`), or joins one
/// (`PairJoin`): either ends at a proposal for the user to confirm.
async fn propose(shared: &Shared, req: Request) -> Result<hearth_sync::Proposal, Response> {
    let Some(node) = shared.node.clone() else {
        return Err(error(
            ErrorKind::Internal,
            "sync is off on this device: see `hearth status`",
        ));
    };
    let proposed = match req {
        Request::PairWait => {
            let Some(w) = shared.invite.lock().expect("invite lock").take() else {
                return Err(error(
                    ErrorKind::BadRequest,
                    "no invite is open: run `hearth pair invite`",
                ));
            };
            let left = w.until.saturating_duration_since(std::time::Instant::now());
            node.wait_invite(w.rx, left).await
        }
        Request::PairJoin(hearth_ipc::PairJoin { ticket }) => match Ticket::decode(&ticket) {
            Ok(t) => node.join(&t).await,
            Err(e) => return Err(error(ErrorKind::BadRequest, e.to_string())),
        },
        _ => {
            return Err(error(ErrorKind::Internal, "not a pairing request"));
        }
    };
    proposed.map_err(|e| error(ErrorKind::BadRequest, e.to_string()))
}

/// Requests answered by the sync layer, with the core's help for names.
async fn network(shared: &Shared, req: Request) -> Response {
    let Some(node) = shared.node.clone() else {
        return match req {
            Request::Peers => ask_core(shared, Input::Peers(Vec::new())).await,
            _ => error(
                ErrorKind::Internal,
                "sync is off on this device: see `hearth status`",
            ),
        };
    };
    match req {
        Request::Peers => ask_core(shared, Input::Peers(node.peer_status())).await,
        Request::PairInvite(hearth_ipc::PairInvite { ttl_secs }) => {
            let ttl = Duration::from_secs(ttl_secs.clamp(10, 24 * 3600));
            let (ticket, rx) = node.invite(ttl);
            *shared.invite.lock().expect("invite lock") = Some(InviteWait {
                rx,
                until: std::time::Instant::now() + ttl,
            });
            Response::Invite {
                ticket: ticket.encode(),
                expires_in_secs: ttl.as_secs(),
            }
        }
        // Answered by the connection, which holds the proposal.
        Request::PairWait | Request::PairJoin(_) | Request::PairConfirm(_) => error(
            ErrorKind::Internal,
            "a pairing request reached the wrong handler",
        ),
        Request::Sync(hearth_ipc::SyncNow { timeout_secs }) => {
            // A removed device has nobody to sync with, and says why.
            if let Response::Status(s) = ask_core(shared, Input::Request(Request::Status)).await
                && let Some(removed) = s.removed
            {
                return error(ErrorKind::BadRequest, removed);
            }
            let reports = node
                .sync_now(Duration::from_secs(timeout_secs.clamp(1, 600)))
                .await;
            let names = match ask_core(shared, Input::Peers(Vec::new())).await {
                Response::Peers(l) => l.peers,
                _ => Vec::new(),
            };
            Response::Synced {
                devices: reports
                    .into_iter()
                    .map(|r| hearth_ipc::SyncOutcome {
                        name: names
                            .iter()
                            .find(|p| p.id == r.id)
                            .map(|p| p.name.clone())
                            .unwrap_or_default(),
                        id: r.id,
                        reached: r.reached,
                        in_sync: r.in_sync,
                        error: r.error,
                    })
                    .collect(),
            }
        }
        _ => error(ErrorKind::Internal, "not a network request"),
    }
}

pub(crate) fn is_shutdown(raw: &[u8]) -> bool {
    serde_json::from_slice::<serde_json::Value>(raw)
        .ok()
        .and_then(|v| {
            v.get("request")?
                .get("op")?
                .as_str()
                .map(|op| op == "shutdown")
        })
        .unwrap_or(false)
}

pub(crate) fn incompatible(theirs: u64) -> Response {
    error(
        ErrorKind::Incompatible,
        format!(
            "the daemon speaks protocol {PROTOCOL_VERSION} but this hearth speaks {theirs}; run `hearth daemon restart` to start the daemon that matches this hearth"
        ),
    )
}

fn core_loop(mut core: Core, mut rx: mpsc::UnboundedReceiver<Msg>) -> Result<(), String> {
    // Work that must wait for the document, oldest first.
    let mut waiting: Vec<(Input, Reply)> = Vec::new();
    while let Some(first) = rx.blocking_recv() {
        let mut batch = vec![first];
        while batch.len() < 512 {
            match rx.try_recv() {
                Ok(m) => batch.push(m),
                Err(_) => break,
            }
        }
        let mut work: Vec<(Input, Reply)> = Vec::new();
        let mut stop = false;
        for m in batch {
            match m {
                Msg::Work(input, reply) => work.push((input, reply)),
                Msg::Tidy => core.tidy(std::time::Instant::now()),
                Msg::Stop => stop = true,
                Msg::Recent(recent) => {
                    core.recent(*recent);
                    // A `log -n` that waited may be answered now.
                    work.splice(0..0, waiting.drain(..));
                }
                Msg::Indexed(start) => {
                    core.indexed(*start);
                    // Reads that waited may be answered now.
                    work.splice(0..0, waiting.drain(..));
                }
                Msg::Opened(journal) => {
                    core = match core.opened(*journal) {
                        Ok(core) => core,
                        Err(e) => {
                            fail_all(waiting.into_iter().chain(work), &e.to_string());
                            return Err(e.to_string());
                        }
                    };
                    work.splice(0..0, waiting.drain(..));
                }
                Msg::RestOfIndex(rest) => {
                    core.rest_of_index(rest.map(|r| *r));
                    work.splice(0..0, waiting.drain(..));
                }
                Msg::Loaded(loaded) => {
                    let journal = match *loaded {
                        Ok(journal) => journal,
                        Err(e) => {
                            fail_all(waiting.into_iter().chain(work), &e.to_string());
                            return Err(e.to_string());
                        }
                    };
                    core = match core.loaded(journal) {
                        Ok(core) => core,
                        Err(e) => {
                            fail_all(waiting.into_iter().chain(work), &e.to_string());
                            return Err(e.to_string());
                        }
                    };
                    work.splice(0..0, waiting.drain(..));
                }
            }
        }
        let (now, later): (Vec<_>, Vec<_>) = work.into_iter().partition(|(i, _)| core.can_take(i));
        waiting.extend(later);
        stop |= now
            .iter()
            .any(|(i, _)| matches!(i, Input::Request(Request::Shutdown)));
        // Reads that came before any write or peer message do not wait
        // for that work's fsync: a peer syncing or a burst of writes must
        // not slow `hearth log`.
        for part in crate::core::split_leading_reads(now) {
            if part.is_empty() {
                continue;
            }
            for (out, reply) in core.batch(part) {
                reply.deliver(out);
            }
        }
        if stop {
            fail_all(waiting, "the daemon is shutting down");
            core.shutdown();
            return Ok(());
        }
    }
    Ok(())
}

fn fail_all(waiting: impl IntoIterator<Item = (Input, Reply)>, why: &str) {
    for (_, reply) in waiting {
        reply.fail(why);
    }
}
