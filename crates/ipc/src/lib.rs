//! What the `hearth` CLI and the `hearth` daemon share: the message types of
//! their local protocol (docs/PROTOCOL.md), its framing, and where every file
//! lives. Both sides depend on this crate and on nothing of each other.

pub mod frame;
pub mod messages;
pub mod paths;

pub use frame::{FrameError, MAX_REQUEST, MAX_RESPONSE};
pub use messages::*;
pub use paths::Paths;

/// Bumped whenever a message changes shape. The CLI refuses to talk to a
/// daemon that speaks another version and says how to fix it.
pub const PROTOCOL_VERSION: u32 = 5;
