//! Durable storage of the journal document.
//!
//! Layout of the journal directory (see docs/ARCHITECTURE.md), every file
//! but `LOCK` sealed with the journal's file key (`seal`):
//! - `snapshot-<seq>.am`: a whole document (`Automerge::save`);
//! - `chunk-<seq>.am`: the changes since the previous file
//!   (`Automerge::save_after`);
//! - `view.cache`: a cache of the materialised entries, valid only for the
//!   exact set of files it names;
//! - `quarantine/`: files that failed to load, set aside for a human;
//! - `LOCK`: held by the one process that owns the directory.
//!
//! Every file is written to a temporary name, fsynced, renamed into place and
//! the directory fsynced, so a file that exists under its final name is
//! complete. Loading reads every file present; Automerge ignores changes it
//! already has, so leftovers from an interrupted compaction are harmless.

pub mod docset;
mod file;
pub mod index;
pub mod keyslot;
mod memory;
mod private;
pub mod seal;
pub mod storage_key;

use std::io;
use std::path::PathBuf;

use automerge::{Automerge, ChangeHash};
use hearth_model::View;
use serde::{Deserialize, Serialize};
use thiserror::Error;

pub use docset::DocSet;
pub use file::{FileStore, write_durably};
pub use memory::{MemDisk, MemStore};
pub use private::{Unsafe, check_owner, check_private_dir, create_private_dir};
pub use seal::{FileKey, SealError};
pub use storage_key::{KeyError, KeyFile, StorageKey, WrapKey};

#[derive(Debug, Error)]
pub enum StoreError {
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("refusing to use {path}: {why}")]
    Unsafe { path: PathBuf, why: Unsafe },
    #[error("{0}: another hearth daemon already owns this journal")]
    Locked(PathBuf),
    #[error("compaction skipped: the document is missing changes some stored changes depend on")]
    MissingDeps,
    #[error("stopped at failpoint {0:?}")]
    Failpoint(Stage),
    #[error("stopped at step {0:?}")]
    Interrupted(docset::Step),
    #[error(
        "this data directory holds a schema 1 journal, which this hearth cannot read; move {} away to start afresh",
        .0.display()
    )]
    Schema1(PathBuf),
    #[error("{}: {why}", path.display())]
    Manifest { path: PathBuf, why: String },
    #[error("the index {}: {why}", path.display())]
    Index { path: PathBuf, why: String },
}

/// A file that could not be loaded and was moved to `quarantine/`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Quarantined {
    pub file: PathBuf,
    pub moved_to: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for Quarantined {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}: {}; set aside as {}",
            self.file.display(),
            self.reason,
            self.moved_to.display()
        )
    }
}

/// Steps of compaction, for crash tests that stop at each one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    SnapshotWritten,
    SnapshotRenamed,
    DirSynced,
    Deleted(usize),
}

/// What opening a store found: the store, the document it holds, and the
/// files it had to set aside.
pub struct Opened<S> {
    pub store: S,
    pub doc: Automerge,
    pub quarantined: Vec<Quarantined>,
}

/// Where the document is kept durably. Two backends implement it: the real
/// [`FileStore`] and the in-memory [`MemStore`], which can be told to fail so
/// that the daemon's error paths are tested too.
pub trait DocStore: Send {
    /// Writes the changes `doc` has beyond what is stored, durably. Returns
    /// whether anything was written; only after it returns may those changes
    /// be acknowledged.
    fn append(&mut self, doc: &Automerge) -> Result<bool, StoreError>;
    /// Replaces everything stored with one snapshot of `doc`.
    fn compact(&mut self, doc: &Automerge) -> Result<(), StoreError>;
    /// Chunks written since the last snapshot.
    fn chunk_count(&self) -> usize;
    /// Heads of what is stored.
    fn saved_heads(&self) -> &[ChangeHash];
    /// Persists the materialised view for exactly what is stored now.
    fn save_view(&self, view: &View) -> Result<(), StoreError>;
    /// Whether `doc` has changes that are not stored yet.
    fn is_dirty(&self, doc: &Automerge) -> bool {
        doc.get_heads() != self.saved_heads()
    }
}

impl<S> Opened<S> {
    /// The same result with the store behind a trait object.
    pub fn boxed(self) -> Opened<Box<dyn DocStore>>
    where
        S: DocStore + 'static,
    {
        Opened {
            store: Box::new(self.store),
            doc: self.doc,
            quarantined: self.quarantined,
        }
    }
}
