//! Getting the storage key before anything of the journal is read
//! (docs/SCHEMA.md, "The storage key"): from the key file of a journal made
//! with `--no-passphrase`, from the OS keyring for one made with
//! `--keyring`, from `HEARTH_PASSPHRASE`, or, locked, from `hearth unlock`.
//! Locked, the daemon answers `status`, `unlock` and `shutdown`, and tells
//! every other request to run `hearth unlock`.
//!
//! A keyring that does not answer, or lacks the item, leaves the daemon
//! locked with the reason, since it may answer later (a daemon can start
//! before the desktop's keyring); `hearth unlock` asks it again. An item
//! that is not a key stops the daemon: waiting will not mend it.

use std::sync::{Arc, Mutex};

use hearth_ipc::frame::{read_async_raw, write_async};
use hearth_ipc::{
    Envelope, ErrorKind, MAX_REQUEST, PROTOCOL_VERSION, Paths, Request, Response, StatusInfo,
};
use hearth_store::{KeyError, KeyFile, StorageKey, WrapKey};
use tokio::net::{UnixListener, UnixStream};
use tokio::sync::mpsc;

use crate::keyring::{self, KeyringError};
use crate::server::{DaemonError, error, incompatible, is_shutdown};

/// What the locked phase ended with.
enum Opened {
    Key(StorageKey),
    Shutdown,
}

/// The storage key of this journal, or None if a locked daemon was asked
/// to stop before anyone unlocked it.
pub async fn storage_key(
    paths: &Paths,
    listener: &UnixListener,
) -> Result<Option<StorageKey>, DaemonError> {
    if paths.schema1_identity().exists() {
        return Err(DaemonError::Schema1(paths.data.clone()));
    }
    let file = KeyFile::read(&paths.data)?.ok_or_else(|| DaemonError::NoKey(paths.data.clone()))?;
    if let Some(key) = file.plain_key()? {
        return Ok(Some(key));
    }
    let mut reason = None;
    if let Some((service, account)) = file.keyring() {
        match keyring::storage_key(service, account).await {
            Ok(key) => return Ok(Some(key)),
            Err(e) if e.may_pass() => reason = Some(e.to_string()),
            Err(e) => return Err(DaemonError::Keyring(e)),
        }
    } else if let Ok(passphrase) = std::env::var("HEARTH_PASSPHRASE") {
        return match file.unlock(&passphrase) {
            Ok(key) => Ok(Some(key)),
            Err(KeyError::WrongPassphrase) => Err(DaemonError::WrongPassphrase),
            Err(e) => Err(e.into()),
        };
    }
    match &reason {
        Some(why) => tracing::info!("locked: {why}"),
        None => tracing::info!("locked: waiting for `hearth unlock`"),
    }
    let file = Arc::new(file);
    let reason = Arc::new(Mutex::new(reason));
    let (tx, mut rx) = mpsc::channel::<Opened>(1);
    let signal =
        |kind| tokio::signal::unix::signal(kind).map_err(|e| DaemonError::Io(paths.socket(), e));
    let mut sigterm = signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut sigint = signal(tokio::signal::unix::SignalKind::interrupt())?;
    loop {
        // Biased, with the key first: the CLI that unlocked reconnects as
        // soon as it has its answer, and that connection must wait for the
        // open daemon, not be taken here and told "locked".
        tokio::select! {
            biased;
            Some(opened) = rx.recv() => return Ok(match opened {
                Opened::Key(key) => {
                    tracing::info!("unlocked");
                    Some(key)
                }
                Opened::Shutdown => None,
            }),
            _ = sigterm.recv() => return Ok(None),
            _ = sigint.recv() => return Ok(None),
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    let locked = Locked { file: file.clone(), reason: reason.clone() };
                    tokio::spawn(serve_locked(stream, locked, paths.clone(), tx.clone()));
                }
                Err(e) => tracing::warn!(error = %e, "accept failed"),
            },
        }
    }
}

/// What every connection of the locked phase shares.
struct Locked {
    file: Arc<KeyFile>,
    /// What the OS keyring last answered, for a keyring journal.
    reason: Arc<Mutex<Option<String>>>,
}

impl Locked {
    fn reason(&self) -> Option<String> {
        self.reason
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    /// `hearth unlock`: the passphrase's wrap key, or, for a keyring
    /// journal, the keyring asked again.
    async fn unlock(&self, u: &hearth_ipc::Unlock) -> Result<StorageKey, Response> {
        if let Some((service, account)) = self.file.keyring() {
            return keyring::storage_key(service, account).await.map_err(|e| {
                let why = e.to_string();
                tracing::info!("still locked: {why}");
                *self.reason.lock().unwrap_or_else(|p| p.into_inner()) = Some(why.clone());
                match e {
                    KeyringError::NotAKey(_) => error(ErrorKind::Storage, why),
                    _ => error(ErrorKind::Locked, locked_by_keyring(&why)),
                }
            });
        }
        match WrapKey::from_hex(&u.key)
            .ok_or(KeyError::WrongPassphrase)
            .and_then(|k| self.file.unwrap_with(&k))
        {
            Ok(key) => Ok(key),
            Err(KeyError::WrongPassphrase) => Err(error(
                ErrorKind::BadRequest,
                "wrong passphrase; still locked",
            )),
            Err(e) => Err(error(ErrorKind::Storage, e.to_string())),
        }
    }
}

/// One CLI connection while locked. A connection that unlocked is closed
/// after the reply, so the CLI's next request reaches the open daemon.
async fn serve_locked(
    mut stream: UnixStream,
    state: Locked,
    paths: Paths,
    opened: mpsc::Sender<Opened>,
) {
    loop {
        let Ok(raw) = read_async_raw(&mut stream, MAX_REQUEST).await else {
            return;
        };
        let (reply, done) = match serde_json::from_slice::<Envelope>(&raw) {
            _ if is_shutdown(&raw) => (Response::Ok, Some(Opened::Shutdown)),
            Ok(env) if env.protocol != PROTOCOL_VERSION => {
                (incompatible(u64::from(env.protocol)), None)
            }
            Ok(env) => match env.request {
                Request::Status => (locked_status(&paths, state.reason()), None),
                Request::Unlock(u) => match state.unlock(&u).await {
                    Ok(key) => (Response::Ok, Some(Opened::Key(key))),
                    Err(reply) => (reply, None),
                },
                _ => (locked(state.reason()), None),
            },
            Err(_) => (locked(state.reason()), None),
        };
        // The outcome is handed over before the reply goes out, so the
        // locked phase has ended by the time the CLI can act on the reply.
        if let Some(done) = done {
            let _ = opened.send(done).await;
            let _ = write_async(&mut stream, &reply).await;
            return;
        }
        let _ = write_async(&mut stream, &reply).await;
    }
}

fn locked(reason: Option<String>) -> Response {
    match reason {
        Some(why) => error(ErrorKind::Locked, locked_by_keyring(&why)),
        None => error(
            ErrorKind::Locked,
            "locked: the journal is encrypted; run `hearth unlock`",
        ),
    }
}

fn locked_by_keyring(why: &str) -> String {
    format!("locked: {why}; once it answers, run `hearth unlock`")
}

/// All a locked daemon knows about itself.
fn locked_status(paths: &Paths, reason: Option<String>) -> Response {
    Response::Status(Box::new(StatusInfo {
        protocol: PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        data_dir: paths.data.display().to_string(),
        me: None,
        partner: None,
        device: None,
        entries: 0,
        loading: true,
        chunks: 0,
        heads: Vec::new(),
        quarantined: Vec::new(),
        malformed: 0,
        sync_error: None,
        removed: None,
        net: String::new(),
        relay: None,
        locked: true,
        locked_reason: reason,
        refused: Default::default(),
    }))
}
