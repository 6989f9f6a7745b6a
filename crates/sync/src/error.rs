//! What can go wrong on the network side, and in the answers of the
//! document's owner to it.
//!
//! The messages are what `hearth peers list` shows as `last_error` and
//! `hearth status` as the sync error, so they are written for the user.
//! Code decides by variant, never by text.

use crate::wire::WireError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SyncError {
    /// The document has not loaded yet; the session retries later.
    #[error("the journal is still loading")]
    Loading,
    /// The core holds no sync state for this session (it never started, or
    /// already ended).
    #[error("no such session")]
    NoSession,
    /// Automerge refused the peer's message; the reason is Automerge's.
    #[error("rejected a sync message: {0}")]
    Rejected(String),
    /// Automerge panicked on the peer's message; the document was rolled
    /// back to what is on disk.
    #[error("a sync message made Automerge panic")]
    Panicked,
    /// The peer's changes could not be made durable (and were rolled back).
    #[error("could not save a peer's changes: {0}")]
    Storage(String),
    /// The core could not record a newly paired device; the reason is the
    /// core's own.
    #[error("{0}")]
    Trust(String),
    /// The endpoint could not be built or bound.
    #[error("cannot start the sync endpoint: {0}")]
    Bind(String),
    /// `--relay` is not a relay URL.
    #[error("invalid relay URL {url:?}: {reason}")]
    RelayUrl { url: String, reason: String },
    /// The document's owner is gone: the daemon is stopping.
    #[error("the daemon is shutting down")]
    Stopping,
    /// A frame could not be read or written, or a peer's message failed
    /// the checks.
    #[error(transparent)]
    Wire(#[from] WireError),
    /// The peer left the trusted set during the session.
    #[error("device removed from the couple's devices")]
    Removed,
    /// The peer left more of our frames unread than a session may queue.
    #[error("the peer stopped reading ({0} bytes queued for it)")]
    PeerNotReading(usize),
    /// A dial got no answer within the connect timeout.
    #[error("connect timed out")]
    ConnectTimeout,
    /// A dial failed, or the connection would not open a stream.
    #[error("{0}")]
    Connect(String),
}
