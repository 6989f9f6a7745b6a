//! Signed records of the couple document (schema 2, docs/SCHEMA.md part 1):
//! their canonical bytes, the record kinds, the trust computation over them,
//! and what the couple's names, settings, rituals, prompts and settled
//! repairs are on read; the signed heads that prove who wrote a partner
//! document; and the sealed content of an entry version. Pure functions
//! over bytes and an in-memory document: keys come in as arguments, nothing
//! here draws randomness or does I/O.

pub mod audience;
pub mod book;
pub mod canonical;
pub mod content;
pub mod couple;
pub mod couple_write;
pub mod entries;
pub mod error;
pub mod exchange;
pub mod forget;
pub mod genesis;
pub mod heads;
pub mod history;
pub mod ids;
pub mod keys;
pub mod manifest;
pub mod notices;
pub mod partner_log;
pub mod read;
pub mod receive;
pub mod record;
pub mod release;
pub mod removal;
pub mod session_frame;
pub mod settle;
pub mod shape;
pub mod trust;

#[cfg(test)]
pub(crate) mod testkit;

pub use couple::{StoredRecord, stored_records};
pub use error::{CanonicalError, RecordError};
pub use heads::{
    DocKind, HeadsRecord, PartnerDoc, PartnerRefusal, SignedHeads, Verdict, check_partner_changes,
};
pub use history::{Ancestry, DocHistory};
pub use ids::{DeviceKey, PartnerCode, RecordKey};
pub use read::{CoupleRitual, CustomPrompt, OnRead, RitualOwner, Settings};
pub use receive::{CoupleRefusal, check_couple_changes};
pub use record::{
    Approve, Body, Cert, Name, NameSubject, PromptRecord, Record, Remove, Resolve, RitualRecord,
    Setting, SignedRecord,
};
pub use trust::{CheckedRecord, DeviceStatus, TrustCounts, TrustView};
