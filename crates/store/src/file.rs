//! The real store: sealed files in the journal directory.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use automerge::{Automerge, ChangeHash, LoadOptions, OnPartialLoad, ReadDoc};
use hearth_model::View;
use serde::{Deserialize, Serialize};

use crate::private::create_private_dir;
use crate::seal::{self, FileKey, Role};
use crate::{DocStore, Opened, Quarantined, Stage, StoreError};

/// The view cache's file name in the journal directory.
const VIEW_CACHE: &str = "view.cache";

/// A journal file's name as sealed: relative to the data directory, so a
/// file from elsewhere cannot be planted under another's name.
fn sealed_name(name: &str) -> String {
    format!("journal/{name}")
}

pub(crate) fn io_err(path: &Path) -> impl FnOnce(io::Error) -> StoreError + '_ {
    move |source| StoreError::Io {
        path: path.to_path_buf(),
        source,
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum FileKind {
    Snapshot,
    Chunk,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
struct Stored {
    seq: u64,
    kind: FileKind,
}

impl Stored {
    fn role(&self) -> Role {
        match self.kind {
            FileKind::Snapshot => Role::Snapshot,
            FileKind::Chunk => Role::Chunk,
        }
    }

    fn name(&self) -> String {
        match self.kind {
            FileKind::Snapshot => format!("snapshot-{:010}.am", self.seq),
            FileKind::Chunk => format!("chunk-{:010}.am", self.seq),
        }
    }

    fn parse(name: &str) -> Option<Stored> {
        let (kind, rest) = if let Some(r) = name.strip_prefix("snapshot-") {
            (FileKind::Snapshot, r)
        } else {
            (FileKind::Chunk, name.strip_prefix("chunk-")?)
        };
        let seq = rest.strip_suffix(".am")?.parse().ok()?;
        let s = Stored { seq, kind };
        // Only names we would write ourselves; a stray "chunk-1.am" is not ours.
        (s.name() == name).then_some(s)
    }
}

pub struct FileStore {
    dir: PathBuf,
    files: Vec<Stored>,
    next_seq: u64,
    /// Heads of everything written to disk so far.
    saved: Vec<ChangeHash>,
    key: FileKey,
    _lock: File,
}

pub(crate) fn sync_dir(dir: &Path) -> Result<(), StoreError> {
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(io_err(dir))
}

/// Writes `bytes` to a temporary `.<name>.tmp` in `dir`, owner-only, and
/// fsyncs it. A failed write removes the temp file, so it cannot take the
/// space a retry needs.
pub(crate) fn write_synced_temp(
    dir: &Path,
    name: &str,
    bytes: &[u8],
) -> Result<PathBuf, StoreError> {
    let tmp = dir.join(format!(".{name}.tmp"));
    // A temp file left by a crash (or a link someone planted in its place)
    // goes first; the new one is made fresh and never through a link.
    match fs::remove_file(&tmp) {
        Ok(()) => {}
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(io_err(&tmp)(e)),
    }
    let mut f = OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
        .open(&tmp)
        .map_err(io_err(&tmp))?;
    if let Err(e) = f.write_all(bytes).and_then(|_| f.sync_all()) {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(&tmp)(e));
    }
    Ok(tmp)
}

/// Moves `path`, a file in `dir` that failed to load, into
/// `dir/quarantine/` under a name not taken yet, for a human to look at.
pub(crate) fn quarantine(
    dir: &Path,
    path: &Path,
    reason: String,
) -> Result<Quarantined, StoreError> {
    let qdir = dir.join("quarantine");
    create_private_dir(&qdir)?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut target = qdir.join(&name);
    let mut n = 1;
    while target.exists() {
        target = qdir.join(format!("{name}.{n}"));
        n += 1;
    }
    fs::rename(path, &target).map_err(io_err(path))?;
    sync_dir(dir)?;
    Ok(Quarantined {
        file: path.to_path_buf(),
        moved_to: target,
        reason,
    })
}

/// Writes `bytes` to `dir/name` atomically and durably: temp file, fsync,
/// rename, fsync of the directory. Owner-only permissions.
pub fn write_durably(dir: &Path, name: &str, bytes: &[u8]) -> Result<(), StoreError> {
    let tmp = write_synced_temp(dir, name, bytes)?;
    let fin = dir.join(name);
    fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
    sync_dir(dir)
}

impl FileStore {
    /// Opens (creating if needed) the journal directory, takes its lock, and
    /// loads every stored file. Damaged files are quarantined and reported,
    /// never fatal.
    ///
    /// `base` is the document to start from when the first file is not a
    /// snapshot (the journal's genesis, carrying this device's actor).
    pub fn open(
        dir: &Path,
        base: Automerge,
        key: FileKey,
    ) -> Result<Opened<FileStore>, StoreError> {
        create_private_dir(dir)?;
        let lock_path = dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(dir.to_path_buf())),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }
        let mut files = Vec::new();
        for ent in fs::read_dir(dir).map_err(io_err(dir))? {
            let ent = ent.map_err(io_err(dir))?;
            let name = ent.file_name();
            let name = name.to_string_lossy();
            if name.starts_with('.') && name.ends_with(".tmp") {
                // Never renamed into place, so never acknowledged.
                let _ = fs::remove_file(ent.path());
            } else if let Some(s) = Stored::parse(&name) {
                files.push(s);
            }
        }
        // The newest snapshot first, loaded whole (fast); then older
        // snapshots left by an interrupted compaction; then chunks in order.
        files.sort_by_key(|s| match s.kind {
            FileKind::Snapshot => (0, u64::MAX - s.seq),
            FileKind::Chunk => (1, s.seq),
        });
        let next_seq = files.iter().map(|s| s.seq + 1).max().unwrap_or(1);
        let mut store = FileStore {
            dir: dir.to_path_buf(),
            files: Vec::new(),
            next_seq,
            saved: Vec::new(),
            key,
            _lock: lock,
        };
        let mut doc = Automerge::new();
        let mut quarantined = Vec::new();
        for s in files {
            let path = dir.join(s.name());
            match store.load_one(&path, &s, &mut doc, &base) {
                Ok(()) => store.files.push(s),
                Err(reason) => {
                    tracing::error!(file = %path.display(), %reason, "stored file failed to load; quarantining it");
                    quarantined.push(store.quarantine(&path, reason)?);
                }
            }
        }
        let empty_dir = store.files.is_empty() && quarantined.is_empty();
        if doc.is_empty() {
            doc = base;
        }
        store.files.sort();
        store.saved = doc.get_heads();
        if empty_dir {
            // A new journal starts with a snapshot, so the directory alone
            // is always a complete document for any Automerge reader.
            store.compact(&doc)?;
        }
        Ok(Opened {
            store,
            doc,
            quarantined,
        })
    }

    fn load_one(
        &self,
        path: &Path,
        stored: &Stored,
        doc: &mut Automerge,
        base: &Automerge,
    ) -> Result<(), String> {
        let bytes = fs::read(path).map_err(|e| e.to_string())?;
        let payload = seal::open(
            &self.key,
            stored.role(),
            &sealed_name(&stored.name()),
            &bytes,
        )
        .map_err(|e| e.to_string())?;
        if doc.is_empty() && stored.kind == FileKind::Snapshot {
            *doc = Automerge::load_with_options(
                &payload,
                LoadOptions::new().on_partial_load(OnPartialLoad::Error),
            )
            .map_err(|e| format!("not a valid Automerge document: {e}"))?
            .with_actor(base.get_actor().clone());
        } else {
            if doc.is_empty() {
                // A chunk's changes may depend on changes in a lost file;
                // merged into a non-empty document they wait for them
                // instead of failing.
                *doc = base.clone();
            }
            // The tag has proven these are the bytes we wrote.
            doc.load_incremental(&payload)
                .map_err(|e| format!("not valid Automerge data: {e}"))?;
        }
        Ok(())
    }

    fn quarantine(&self, path: &Path, reason: String) -> Result<Quarantined, StoreError> {
        quarantine(&self.dir, path, reason)
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Compaction with a failpoint hook called after each step; a hook that
    /// returns an error stops compaction there, as a crash would.
    pub fn compact_with(
        &mut self,
        doc: &Automerge,
        mut hook: impl FnMut(Stage) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        // Changes waiting for missing dependencies are not in `save()`;
        // deleting the files that hold them would lose them.
        if !doc.get_missing_deps(&[]).is_empty() {
            return Err(StoreError::MissingDeps);
        }
        let snap = Stored {
            seq: self.next_seq,
            kind: FileKind::Snapshot,
        };
        let name = snap.name();
        let sealed = seal::seal(&self.key, Role::Snapshot, &sealed_name(&name), &doc.save());
        let tmp = write_synced_temp(&self.dir, &name, &sealed)?;
        hook(Stage::SnapshotWritten)?;
        fs::rename(&tmp, self.dir.join(&name)).map_err(io_err(&tmp))?;
        hook(Stage::SnapshotRenamed)?;
        sync_dir(&self.dir)?;
        hook(Stage::DirSynced)?;
        // Only now is the snapshot durable, so only now may older files go.
        self.next_seq += 1;
        let old = std::mem::replace(&mut self.files, vec![snap]);
        for (i, s) in old.iter().enumerate() {
            let p = self.dir.join(s.name());
            fs::remove_file(&p).map_err(io_err(&p))?;
            hook(Stage::Deleted(i))?;
        }
        sync_dir(&self.dir)?;
        self.saved = doc.get_heads();
        Ok(())
    }

    fn file_names(&self) -> Vec<String> {
        self.files.iter().map(Stored::name).collect()
    }

    /// The cached view, if it was written for exactly the files now on disk.
    pub fn cached_view(dir: &Path, key: &FileKey) -> Option<View> {
        let bytes = fs::read(dir.join(VIEW_CACHE)).ok()?;
        let plain = seal::open_owned(key, Role::ViewCache, &sealed_name(VIEW_CACHE), bytes).ok()?;
        let cache: ViewCache = serde_json::from_slice(&plain).ok()?;
        let mut names: Vec<String> = fs::read_dir(dir)
            .ok()?
            .filter_map(|e| e.ok())
            .filter_map(|e| Stored::parse(&e.file_name().to_string_lossy()))
            .map(|s| s.name())
            .collect();
        names.sort();
        let mut cached = cache.files.clone();
        cached.sort();
        (names == cached).then_some(cache.view)
    }

    /// The view cache only if it matches the heads of `doc` (after load).
    pub fn view_for(&self, doc_heads: &[ChangeHash]) -> Option<View> {
        let view = FileStore::cached_view(&self.dir, &self.key)?;
        (view.heads == hearth_model::view::heads_hex(doc_heads)).then_some(view)
    }
}

impl DocStore for FileStore {
    /// Number of chunk files since the last snapshot.
    fn chunk_count(&self) -> usize {
        self.files
            .iter()
            .filter(|s| s.kind == FileKind::Chunk)
            .count()
    }
    /// Heads of what is on disk.
    fn saved_heads(&self) -> &[ChangeHash] {
        &self.saved
    }
    /// Writes the changes `doc` has beyond what is stored as one new chunk,
    /// durably. Returns once it is safe to acknowledge them.
    fn append(&mut self, doc: &Automerge) -> Result<bool, StoreError> {
        let heads = doc.get_heads();
        if heads == self.saved {
            return Ok(false);
        }
        let bytes = doc.save_after(&self.saved);
        let s = Stored {
            seq: self.next_seq,
            kind: FileKind::Chunk,
        };
        let sealed = seal::seal(&self.key, s.role(), &sealed_name(&s.name()), &bytes);
        write_durably(&self.dir, &s.name(), &sealed)?;
        self.next_seq += 1;
        self.files.push(s);
        self.saved = heads;
        Ok(true)
    }
    /// Replaces every stored file with one snapshot of `doc`.
    fn compact(&mut self, doc: &Automerge) -> Result<(), StoreError> {
        self.compact_with(doc, |_| Ok(()))
    }
    /// Persists the materialised view, tagged with the files it reflects.
    /// Only call it when every change of the view is on disk.
    fn save_view(&self, view: &View) -> Result<(), StoreError> {
        let cache = ViewCacheRef {
            files: self.file_names(),
            view,
        };
        // Written into the sealed buffer itself: at 50,000 entries a
        // plaintext copy beside it would be tens of megabytes more at peak.
        let sealed = seal::seal_with(
            &self.key,
            Role::ViewCache,
            &sealed_name(VIEW_CACHE),
            |out| serde_json::to_writer(out, &cache),
        )
        .expect("view serialises");
        write_durably(&self.dir, VIEW_CACHE, &sealed)
    }
}

/// The cache as written: borrows the view instead of copying a decade of
/// entries.
#[derive(Serialize)]
struct ViewCacheRef<'a> {
    files: Vec<String>,
    view: &'a View,
}

#[derive(Deserialize)]
struct ViewCache {
    files: Vec<String>,
    view: View,
}
