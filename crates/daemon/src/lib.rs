//! The hearth daemon. It owns the couple's document: every write goes
//! through it, is made durable, and only then acknowledged. The CLI talks to
//! it over a Unix socket (docs/PROTOCOL.md).
//!
//! Threads: tokio runs the socket and signals; one plain thread (`core`)
//! owns the document and handles requests in batches, so a burst of writes
//! shares one fsync (group commit).

pub(crate) mod addresses;
pub mod core;
pub(crate) mod couple_journal;
pub mod identity;
pub mod keyring;
pub mod logging;
mod memory;
pub mod server;
mod unlock;

pub use hearth_sync::NetMode;
pub use server::{DaemonError, Options, run};
