//! An in-memory store that can be told to fail, for tests of what the
//! daemon does when the disk does not cooperate: a failed append, a full
//! disk, a compaction cut short at any step.
//!
//! A [`MemDisk`] plays the disk: it outlives any one [`MemStore`], so a test
//! can "crash" (drop the store) and open the same disk again.

use std::collections::BTreeMap;
use std::io;
use std::path::PathBuf;
use std::sync::{Arc, Mutex, MutexGuard};

use automerge::{Automerge, ChangeHash, ReadDoc};
use hearth_model::View;

use crate::{DocStore, Opened, Stage, StoreError};

/// The stored bytes and the faults to inject, shared by every store opened
/// on this disk.
#[derive(Debug, Clone, Default)]
pub struct MemDisk(Arc<Mutex<Disk>>);

#[derive(Debug, Default)]
struct Disk {
    /// Sequence number to (is a snapshot, bytes).
    files: BTreeMap<u64, (bool, Vec<u8>)>,
    view: Option<(Vec<u64>, View)>,
    fail_appends: usize,
    full: bool,
    stop_compaction_at: Option<Stage>,
    appends: usize,
}

impl MemDisk {
    pub fn new() -> MemDisk {
        MemDisk::default()
    }

    fn lock(&self) -> MutexGuard<'_, Disk> {
        // A test that panicked while holding the lock has failed already.
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The next `n` appends fail with an I/O error, and write nothing.
    pub fn fail_next_appends(&self, n: usize) {
        self.lock().fail_appends = n;
    }

    /// While full, every write fails with ENOSPC, as a full disk does.
    pub fn set_full(&self, full: bool) {
        self.lock().full = full;
    }

    /// The next compaction stops right after `stage`, as a crash there would.
    pub fn stop_compaction_at(&self, stage: Stage) {
        self.lock().stop_compaction_at = Some(stage);
    }

    /// Appends that reached the disk, since it was made.
    pub fn appends(&self) -> usize {
        self.lock().appends
    }

    /// The cached view, if it was saved for exactly the files now stored.
    pub fn cached_view(&self) -> Option<View> {
        let d = self.lock();
        let (files, view) = d.view.as_ref()?;
        (d.files.keys().copied().collect::<Vec<_>>() == *files).then(|| view.clone())
    }
}

fn fault(kind: io::ErrorKind, what: &str) -> StoreError {
    StoreError::Io {
        path: PathBuf::from("memory"),
        source: io::Error::new(kind, what.to_string()),
    }
}

fn disk_full() -> StoreError {
    StoreError::Io {
        path: PathBuf::from("memory"),
        source: io::Error::from_raw_os_error(28), // ENOSPC
    }
}

pub struct MemStore {
    disk: MemDisk,
    saved: Vec<ChangeHash>,
    next_seq: u64,
}

impl MemStore {
    /// Loads everything on `disk`, starting from `base` as the file store
    /// does when there is no snapshot.
    pub fn open(disk: &MemDisk, base: Automerge) -> Result<Opened<MemStore>, StoreError> {
        let files: Vec<(u64, bool, Vec<u8>)> = disk
            .lock()
            .files
            .iter()
            .map(|(seq, (snap, b))| (*seq, *snap, b.clone()))
            .collect();
        let mut doc = base.clone();
        // The newest snapshot first, then everything else: the same order
        // as the file store, so both load an interrupted compaction alike.
        let mut order: Vec<&(u64, bool, Vec<u8>)> = files.iter().collect();
        order.sort_by_key(|(seq, snap, _)| {
            if *snap {
                (0, u64::MAX - seq)
            } else {
                (1, *seq)
            }
        });
        for (seq, _, bytes) in order {
            doc.load_incremental(bytes)
                .map_err(|e| fault(io::ErrorKind::InvalidData, &format!("file {seq}: {e}")))?;
        }
        let next_seq = files.iter().map(|(s, _, _)| s + 1).max().unwrap_or(1);
        let mut store = MemStore {
            disk: disk.clone(),
            saved: doc.get_heads(),
            next_seq,
        };
        if files.is_empty() {
            store.compact(&doc)?;
        }
        Ok(Opened {
            store,
            doc,
            quarantined: Vec::new(),
        })
    }
}

impl DocStore for MemStore {
    fn append(&mut self, doc: &Automerge) -> Result<bool, StoreError> {
        let heads = doc.get_heads();
        if heads == self.saved {
            return Ok(false);
        }
        let mut d = self.disk.lock();
        if d.full {
            return Err(disk_full());
        }
        if d.fail_appends > 0 {
            d.fail_appends -= 1;
            return Err(fault(io::ErrorKind::Other, "injected append failure"));
        }
        d.files
            .insert(self.next_seq, (false, doc.save_after(&self.saved)));
        d.appends += 1;
        self.next_seq += 1;
        self.saved = heads;
        Ok(true)
    }

    fn compact(&mut self, doc: &Automerge) -> Result<(), StoreError> {
        if !doc.get_missing_deps(&[]).is_empty() {
            return Err(StoreError::MissingDeps);
        }
        let mut d = self.disk.lock();
        if d.full {
            return Err(disk_full());
        }
        let stop = d.stop_compaction_at.take();
        let stopped = |at: Stage| (stop == Some(at)).then_some(StoreError::Failpoint(at));
        // Written but not yet renamed: invisible to a reopen.
        if let Some(e) = stopped(Stage::SnapshotWritten) {
            return Err(e);
        }
        let old: Vec<u64> = d.files.keys().copied().collect();
        d.files.insert(self.next_seq, (true, doc.save()));
        self.next_seq += 1;
        for at in [Stage::SnapshotRenamed, Stage::DirSynced] {
            if let Some(e) = stopped(at) {
                return Err(e);
            }
        }
        for (i, seq) in old.iter().enumerate() {
            d.files.remove(seq);
            if let Some(e) = stopped(Stage::Deleted(i)) {
                return Err(e);
            }
        }
        self.saved = doc.get_heads();
        Ok(())
    }

    fn chunk_count(&self) -> usize {
        self.disk
            .lock()
            .files
            .values()
            .filter(|(snap, _)| !snap)
            .count()
    }

    fn saved_heads(&self) -> &[ChangeHash] {
        &self.saved
    }

    fn save_view(&self, view: &View) -> Result<(), StoreError> {
        let mut d = self.disk.lock();
        if d.full {
            return Err(disk_full());
        }
        let files = d.files.keys().copied().collect();
        d.view = Some((files, view.clone()));
        Ok(())
    }
}
