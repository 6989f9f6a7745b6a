//! Sync between the couple's devices over iroh (docs/PROTOCOL.md, "Peer
//! sync protocol").
//!
//! This crate owns the network side: the iroh endpoint, who may connect,
//! pairing, one sync session per connection, and reconnecting with backoff.
//! It never touches the document itself: every sync message goes to the
//! document's owner (the daemon's core) as a [`DocRequest`], so the one
//! thread that writes the document stays the only one.

mod dialer;
mod error;
mod gate;
mod hello;
mod inflate;
mod netchange;
mod node;
mod outbox;
mod pair_proto;
mod pairing;
mod presets;
mod removal;
mod session;
mod ticket;
mod wire;

use std::net::SocketAddr;

pub use error::SyncError;
pub use hello::{Hello, MAX_ADDRS, MAX_KNOWN};
pub use iroh::{EndpointId, SecretKey};
pub use node::{InviteOutcome, NodeConfig, PeerStatus, SyncNode, SyncReport, TestHooks};
pub use pairing::{CONFIRM_TIMEOUT, PairError, Paired, Proposal};
pub use removal::TELL_EVERY;
pub use ticket::{Ticket, TicketError};
pub use wire::{MAX_FRAME, WireError, decode_message};

/// ALPN of the sync protocol. The number is the protocol version: 2 is
/// schema 2's frames (a document's signed heads and sync message, key
/// offers and gifts) after the [`Hello`]; a daemon of schema 1 refuses it.
pub const ALPN_SYNC: &[u8] = b"hearth/sync/2";
/// ALPN of pairing; accepted only while an invite is open. Version 2 adds
/// the confirmation of the safety number on both sides.
pub const ALPN_PAIR: &[u8] = b"hearth/pair/2";

/// How the endpoint finds and reaches peers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetMode {
    /// Real use: n0's public relays and address lookup, across NATs.
    Default,
    /// The local network only: no relays, mDNS to find each other.
    Local,
    /// Tests: loopback only, no relays, no lookup of any kind.
    Test,
}

impl std::str::FromStr for NetMode {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "default" => Ok(NetMode::Default),
            "local" => Ok(NetMode::Local),
            "test" => Ok(NetMode::Test),
            _ => Err(format!(
                "unknown network mode {s:?}: use default, local or test"
            )),
        }
    }
}

/// What the network side asks of the document's owner.
///
/// A session waits for each answer before it sends its next request, so
/// per session there is never more than one in flight.
#[derive(Debug)]
pub enum DocRequest {
    /// A sync session with `peer` began: start from a fresh sync state.
    /// Every message for it must fit in frames of `max_frame` bytes.
    Start {
        session: u64,
        peer: EndpointId,
        max_frame: usize,
    },
    /// Apply a peer's frame and make what it brought durable, then
    /// generate this session's next frames: one round trip per frame. The
    /// frame's bytes are the owner's to check (docs/PROTOCOL.md, "Sync
    /// frames"); this crate only bounds their length.
    Receive {
        session: u64,
        frame: Vec<u8>,
        reply: tokio::sync::oneshot::Sender<Result<Received, SyncError>>,
    },
    /// The next message for this session, if there is anything to say: the
    /// session's first message, and after a change to the document. It
    /// comes as frames to send in order (none: nothing to say); a message
    /// over the frame cap is split.
    Generate {
        session: u64,
        reply: tokio::sync::oneshot::Sender<Vec<Vec<u8>>>,
    },
    /// The session ended; forget its state.
    End { session: u64 },
    /// A peer's hello: where it listens, and where it reached others.
    Heard { peer: EndpointId, hello: Hello },
    /// A removed device came in to be told: the proof of its removal
    /// (`hearth_model::records::removal::proof_for`), empty when none.
    RemovalProof {
        peer: EndpointId,
        reply: tokio::sync::oneshot::Sender<Vec<u8>>,
    },
    /// A device we dialed says we were removed, with this proof. The owner
    /// checks it against its own records before it believes a word.
    Removed { peer: EndpointId, proof: Vec<u8> },
    /// Pairing succeeded: trust this device from now on.
    Trust {
        peer: EndpointId,
        addrs: Vec<SocketAddr>,
        reply: tokio::sync::oneshot::Sender<Result<(), SyncError>>,
    },
}

/// The owner's answer to [`DocRequest::Receive`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Received {
    /// The session's next message, generated after the peer's message was
    /// applied and stored, as frames as in [`DocRequest::Generate`]; empty
    /// when there is nothing to say.
    pub reply: Vec<Vec<u8>>,
    /// The peer announced the same heads as ours.
    pub in_sync: bool,
    /// The `changed` counter as of `reply`: every change published up to
    /// this value was in the document `reply` was generated from. The owner
    /// reads it after storing what this message brought. The session skips
    /// wake-ups up to it, since `reply` already says all they would,
    /// including what this very message brought.
    pub version: u64,
}

/// Trusted devices and where they were last seen.
pub type TrustedSet = std::collections::BTreeMap<EndpointId, Vec<SocketAddr>>;

/// Devices the couple removed for good.
pub type RemovedSet = std::collections::BTreeSet<EndpointId>;

/// A new device key (the device id is its public half).
pub fn new_secret_key() -> [u8; 32] {
    rand::random()
}

/// The device id (hex endpoint id) of a secret key.
pub fn device_id(secret: &[u8; 32]) -> EndpointId {
    SecretKey::from_bytes(secret).public()
}
