//! Talking to the daemon: connect, start it when it is not running, and
//! check that it speaks our protocol.

use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use hearth_ipc::frame::{read_sync, write_sync};
use hearth_ipc::{
    Envelope, ErrorKind, FrameError, MAX_RESPONSE, PROTOCOL_VERSION, Paths, Request, Response,
};

use crate::error::{CliError, Result};

/// How long to wait for a daemon we started to answer.
const START_TIMEOUT: Duration = Duration::from_secs(15);
/// How long one request may take. A 50,000-entry first load fits easily.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(120);

pub struct Client {
    pub paths: Paths,
    stream: UnixStream,
}

pub enum Probe {
    Ready(Box<hearth_ipc::StatusInfo>),
    /// A daemon answers but speaks another protocol version.
    Incompatible(String),
    /// Something answers that this CLI must not talk to.
    Refused(CliError),
    Unreachable,
}

/// Connects to the daemon's socket, if anything answers there. A socket that
/// belongs to another user, or whose listener runs as another user, is
/// refused: whoever made it would read everything this CLI sends.
fn connect(paths: &Paths) -> Result<Option<UnixStream>> {
    let sock = paths.socket();
    let refuse = |why: String| {
        CliError::daemon(format!("refusing the socket {}: {why}", sock.display()))
            .with_hint("only a daemon you started yourself may hold your journal's socket")
    };
    let Ok(meta) = std::fs::symlink_metadata(&sock) else {
        return Ok(None);
    };
    if meta.file_type().is_symlink() {
        return Err(refuse("it is a symbolic link".into()));
    }
    hearth_store::check_owner(&meta).map_err(|why| refuse(why.to_string()))?;
    let Ok(s) = UnixStream::connect(&sock) else {
        return Ok(None);
    };
    check_listener(&s).map_err(refuse)?;
    let timeouts = s
        .set_read_timeout(Some(REQUEST_TIMEOUT))
        .and_then(|_| s.set_write_timeout(Some(REQUEST_TIMEOUT)));
    Ok(timeouts.ok().map(|_| s))
}

/// The process listening on the socket must run as this user (SO_PEERCRED).
#[cfg(target_os = "linux")]
fn check_listener(s: &UnixStream) -> std::result::Result<(), String> {
    let me = rustix::process::geteuid().as_raw();
    let cred = rustix::net::sockopt::socket_peercred(s)
        .map_err(|e| format!("cannot tell who listens on it ({e})"))?;
    match cred.uid.as_raw() {
        uid if uid == me => Ok(()),
        uid => Err(format!(
            "the process listening on it runs as uid {uid}, not as you (uid {me})"
        )),
    }
}

/// Elsewhere, the socket file's owner (checked above) is all we can see.
#[cfg(not(target_os = "linux"))]
fn check_listener(_: &UnixStream) -> std::result::Result<(), String> {
    Ok(())
}

impl Client {
    /// Connects, starting the daemon first if nobody answers.
    pub fn connect_or_start(paths: &Paths) -> Result<Client> {
        if let Some(stream) = connect(paths)? {
            return Ok(Client {
                paths: paths.clone(),
                stream,
            });
        }
        start_and_wait(paths, None)?;
        Client::connect_only(paths)
    }

    /// Connects without starting anything.
    pub fn connect_only(paths: &Paths) -> Result<Client> {
        connect(paths)?
            .map(|stream| Client {
                paths: paths.clone(),
                stream,
            })
            .ok_or_else(|| {
                CliError::daemon(format!(
                    "cannot reach the hearth daemon at {}",
                    paths.socket().display()
                ))
                .with_hint("run `hearth daemon start`, or look in the log under the data dir")
            })
    }

    /// Sends one request and returns the reply, turning error replies into
    /// CLI errors with the right exit code.
    pub fn call(&mut self, request: Request) -> Result<Response> {
        let env = Envelope {
            protocol: PROTOCOL_VERSION,
            request,
        };
        // Waiting for a partner to join, or for a slow sync, may take as
        // long as the daemon allows; it bounds those waits itself.
        let wait = match &env.request {
            Request::PairWait | Request::PairConfirm(_) => None,
            Request::Sync(hearth_ipc::SyncNow { timeout_secs }) => {
                Some(Duration::from_secs(timeout_secs + 30))
            }
            // A decade of jrnl entries is written in one go.
            Request::Import(hearth_ipc::Import { .. }) => Some(REQUEST_TIMEOUT * 5),
            _ => Some(REQUEST_TIMEOUT),
        };
        let _ = self.stream.set_read_timeout(wait);
        write_sync(&mut self.stream, &env).map_err(|e| transport(&self.paths, e))?;
        let reply: Response =
            read_sync(&mut self.stream, MAX_RESPONSE).map_err(|e| transport(&self.paths, e))?;
        match reply {
            Response::Error(e) => Err(match e.kind {
                ErrorKind::BadRequest | ErrorKind::NotFound => CliError::user(e.message),
                ErrorKind::NotInitialised => CliError::user(e.message),
                ErrorKind::Incompatible => CliError::incompatible(e.message),
                ErrorKind::Storage => CliError::storage(e.message),
                ErrorKind::Internal => CliError::internal(e.message),
                ErrorKind::Locked => CliError::locked(e.message),
            }),
            r => Ok(r),
        }
    }
}

fn transport(paths: &Paths, e: FrameError) -> CliError {
    match e {
        FrameError::Decode(d) => CliError::daemon(format!(
            "the daemon's reply could not be read ({d})"
        ))
        .with_hint("the daemon may be from another hearth version: run `hearth daemon restart`"),
        e => CliError::lost(format!(
            "the daemon at {} stopped before it answered ({e})",
            paths.socket().display()
        ))
        .with_hint(format!(
            "it may have crashed or been stopped; see the log in {}",
            paths.logs().display()
        )),
    }
}

pub fn probe(paths: &Paths) -> Probe {
    let stream = match connect(paths) {
        Ok(Some(stream)) => stream,
        Ok(None) => return Probe::Unreachable,
        Err(e) => return Probe::Refused(e),
    };
    let mut c = Client {
        paths: paths.clone(),
        stream,
    };
    match c.call(Request::Status) {
        Ok(Response::Status(s)) => Probe::Ready(s),
        Err(e) if e.kind() == crate::error::Kind::Incompatible => {
            Probe::Incompatible(e.to_string())
        }
        _ => Probe::Unreachable,
    }
}

/// A daemon this CLI started, and where its start-up errors go.
struct Spawned {
    child: std::process::Child,
    errors: std::path::PathBuf,
}

/// Starts `hearth daemon run` detached from this terminal. Its stderr goes
/// to a file in the runtime dir, so a daemon that cannot start can say why.
fn spawn_daemon(paths: &Paths, net: Option<&crate::args::NetArgs>) -> Result<Spawned> {
    crate::commands::keys::check_env_passphrase(paths)?;
    let exe = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find the hearth binary: {e}")))?;
    let home = paths.data.parent().map(|p| p.to_path_buf());
    hearth_store::create_private_dir(&paths.runtime)
        .map_err(|e| CliError::daemon(format!("cannot start the hearth daemon: {e}")))?;
    // One file per start, so CLIs starting a daemon at the same moment do
    // not take each other's file; never written through a link someone
    // left in its place.
    static STARTS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = STARTS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let errors = paths
        .runtime
        .join(format!("daemon-start-{}-{n}.err", std::process::id()));
    let _ = std::fs::remove_file(&errors);
    let err_file = std::fs::OpenOptions::new()
        .create_new(true)
        .write(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&errors)
        .map_err(|e| {
            CliError::daemon(format!(
                "cannot start the hearth daemon: {}: {e}",
                errors.display()
            ))
        })?;
    let mut cmd = Command::new(exe);
    cmd.arg("daemon").arg("run");
    // The daemon starts locked and this CLI unlocks it, sending only the
    // derived key: the passphrase stays out of the daemon's environment
    // (readable in /proc for as long as it runs), and argon2id's 64 MiB
    // out of its memory.
    cmd.env_remove("HEARTH_PASSPHRASE")
        .env_remove("HEARTH_NEW_PASSPHRASE");
    // Paths::under puts data in HOME/data; pass HOME on so the daemon sees
    // the same layout. Platform paths need nothing.
    if let Some(h) = home.filter(|h| Paths::under(h) == *paths) {
        cmd.arg("--home").arg(h);
    }
    // Only the flags given here; without them the daemon resolves its
    // network from the environment and config.toml as this CLI would.
    if let Some(n) = net {
        if let Some(mode) = n.net {
            cmd.arg("--net").arg(mode.as_str());
        }
        if let Some(r) = &n.relay {
            cmd.arg("--relay").arg(r);
        }
        if n.mdns {
            cmd.arg("--mdns");
        }
    }
    cmd.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::from(err_file));
    use std::os::unix::process::CommandExt;
    // Its own process group: a Ctrl-C in this terminal must not reach it.
    cmd.process_group(0);
    let child = cmd
        .spawn()
        .map_err(|e| CliError::daemon(format!("cannot start the hearth daemon: {e}")))?;
    Ok(Spawned { child, errors })
}

/// The exit status `hearth daemon run` uses when another daemon already
/// owns the journal (`exit_code(Kind::Daemon)`).
const ALREADY_RUNNING: i32 = 3;

/// Starts the daemon and waits until it answers. A daemon that cannot
/// start is reported at once with its own words, not after a timeout; one
/// that lost a race to another CLI's daemon waits for that one, and starts
/// again if that one died too.
pub fn start_and_wait(
    paths: &Paths,
    net: Option<&crate::args::NetArgs>,
) -> Result<Box<hearth_ipc::StatusInfo>> {
    let deadline = Instant::now() + START_TIMEOUT;
    let mut spawned = spawn_daemon(paths, net)?;
    let mut restarts = 0;
    let mut pause = Duration::from_millis(5);
    loop {
        match probe(paths) {
            Probe::Ready(s) => {
                // The running daemon's stderr stays readable in one place.
                let _ = std::fs::rename(&spawned.errors, paths.runtime.join("daemon.stderr"));
                return Ok(s);
            }
            Probe::Refused(e) => return Err(e),
            Probe::Incompatible(_) | Probe::Unreachable => {}
        }
        if let Ok(Some(status)) = spawned.child.try_wait() {
            // Lost a race to another CLI's daemon, or was killed: neither
            // is a reason it could not start.
            let gone = status.code() == Some(ALREADY_RUNNING) || status.code().is_none();
            if !gone && !status.success() {
                let why = std::fs::read_to_string(&spawned.errors).unwrap_or_default();
                let _ = std::fs::remove_file(&spawned.errors);
                let why = why
                    .lines()
                    .rev()
                    .find(|l| !l.trim().is_empty() && !l.starts_with("hint:"))
                    .unwrap_or("it exited without saying why")
                    .trim_start_matches("hearth: error: ")
                    .to_string();
                return Err(
                    CliError::daemon(format!("the hearth daemon could not start: {why}"))
                        .with_hint(format!("see the log in {}", paths.logs().display())),
                );
            }
            let _ = std::fs::remove_file(&spawned.errors);
            // The daemon that won the race is gone as well: start another.
            if !pidfile_locked(paths) && restarts < 3 {
                restarts += 1;
                spawned = spawn_daemon(paths, net)?;
            }
        }
        if Instant::now() >= deadline {
            return Err(CliError::daemon(format!(
                "the hearth daemon did not answer within {}s",
                START_TIMEOUT.as_secs()
            ))
            .with_hint(format!("see the log in {}", paths.logs().display())));
        }
        std::thread::sleep(pause);
        pause = (pause * 2).min(Duration::from_millis(100));
    }
}

/// Asks the daemon to stop and waits until its socket is gone.
pub fn stop_daemon(paths: &Paths) -> Result<bool> {
    let Some(stream) = connect(paths)? else {
        return Ok(false);
    };
    let mut c = Client {
        paths: paths.clone(),
        stream,
    };
    let deadline = Instant::now() + START_TIMEOUT;
    match c.call(Request::Shutdown) {
        Ok(_) => {}
        // It went away before answering: killed or crashed a moment ago,
        // its socket still taking connections while the kernel tore it
        // down. Gone is what was asked; a crashed daemon leaves its socket
        // file behind, so only the pidfile lock tells.
        Err(e) if e.kind() == crate::error::Kind::Lost => {
            while pidfile_locked(paths) {
                if Instant::now() >= deadline {
                    return Err(e);
                }
                std::thread::sleep(Duration::from_millis(10));
            }
            return Ok(true);
        }
        Err(e) => return Err(e),
    }
    while paths.socket().exists() || pidfile_locked(paths) {
        if Instant::now() >= deadline {
            return Err(CliError::daemon("the daemon did not stop in time"));
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    Ok(true)
}

/// Whether a live daemon holds the pidfile lock.
fn pidfile_locked(paths: &Paths) -> bool {
    match std::fs::File::open(paths.pidfile()) {
        Ok(f) => matches!(f.try_lock_shared(), Err(std::fs::TryLockError::WouldBlock)),
        Err(_) => false,
    }
}
