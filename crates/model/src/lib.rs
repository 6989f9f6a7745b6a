//! The hearth journal model: the schema of the couple's Automerge document,
//! the entry kinds, rituals, prompts and the queries over them.
//!
//! Invariant: this crate does no I/O. It never reads a clock, a file, the
//! environment or a socket. Time and randomness come in as arguments, so
//! every rule here is testable with fixed values.

pub mod day;
pub mod deck;
pub mod doc;
pub mod entry;
pub mod error;
pub mod export;
pub mod id;
pub mod insight;
pub mod jrnl;
pub mod query;
pub mod records;
pub mod ritual;
pub mod view;

pub use day::{DayBoundary, in_range, parse_when};
pub use doc::{Journal, MAX_NAME, MAX_PROMPT, WriteCtx};
pub use entry::{
    Body, Energy, Entry, EntryPatch, Kind, Mood, Need, NewEntry, RepairBody, RepairMode, Tags,
};
pub use error::ModelError;
pub use id::{DeviceId, EntryId, IdStr, PartnerId};
pub use query::{Filter, Needle, TagCount, tag_counts};
pub use ritual::{Cadence, Owner, Ritual, RitualChange, RitualDone};
pub use view::View;

/// Version of the document layout described in docs/SCHEMA.md.
pub const SCHEMA_VERSION: i64 = 1;
