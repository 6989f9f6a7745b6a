//! The schema 2 store (docs/SCHEMA.md, "Memory and start-up"): many
//! documents in `docs/`, each loaded only when asked for, their content keys
//! in `keys/`, and `docs/manifest` as the one commit point for all of them.
//!
//! A commit writes each moved document's changes as a new chunk, syncs the
//! key files it touched, and then renames a new manifest into place; only
//! then may anything be acknowledged. A file the manifest does not name is
//! deleted at open, so a commit across several documents (an import that
//! spans years) is all or nothing, and a compaction never loses a change.
//!
//! Reading a document's heads, or knowing which documents exist, needs no
//! load: the manifest has them. A document left untouched is dropped from
//! memory by [`DocSet::unload_idle`].

mod book_docs;
mod keyfile;
mod manifest;
mod names;

use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File, OpenOptions};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use automerge::{ActorId, Automerge, ChangeHash, LoadOptions, OnPartialLoad, ReadDoc};
use hearth_model::records::manifest::DocId;

pub use book_docs::StoreDocs;
pub use keyfile::{KeyFile, KeyState, VersionRef, last_generation};
use manifest::{Manifest, Row};
use names::{DocFile, Kind};

use crate::file::{io_err, quarantine, sync_dir, write_synced_temp};
use crate::keyslot::SlotKey;
use crate::private::create_private_dir;
use crate::seal::{self, FileKey, Role};
use crate::{Quarantined, StoreError};

/// The steps of a commit and of a compaction, for crash tests that stop at
/// each one as a kill would.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Every touched key file is synced.
    KeysSynced,
    /// The `n`th new file (chunk, or a compaction's snapshot) is renamed
    /// into place.
    FileRenamed(usize),
    /// The new files and the new manifest's temporary copy are durable.
    DirSynced,
    /// The new manifest is in place: the commit counts from here.
    ManifestRenamed,
    /// Compaction only: the `n`th replaced file is deleted.
    OldDeleted(usize),
}

/// What opening a store found besides the store.
#[derive(Debug, Default)]
pub struct OpenReport {
    /// Files no manifest names: a commit or compaction cut short. Deleted.
    pub removed: Vec<PathBuf>,
}

/// What loading a document found besides the document.
#[derive(Debug, Default)]
pub struct LoadReport {
    /// Files that failed their check, moved to `docs/quarantine/`.
    pub quarantined: Vec<Quarantined>,
    /// Files the manifest names that are not there.
    pub missing: Vec<PathBuf>,
}

impl LoadReport {
    /// Whether the document loaded whole, exactly as last committed.
    pub fn is_clean(&self) -> bool {
        self.quarantined.is_empty() && self.missing.is_empty()
    }
}

struct Loaded {
    doc: Automerge,
    /// The heads of what is on disk for it.
    saved: Vec<ChangeHash>,
    touched: Instant,
}

pub struct DocSet {
    docs_dir: PathBuf,
    keys_dir: PathBuf,
    key: FileKey,
    slot_key: SlotKey,
    /// The manifest as last committed.
    manifest: Manifest,
    /// Signed-heads records to commit with the next manifest.
    signed: BTreeMap<DocId, Vec<Vec<u8>>>,
    /// The next signed-heads counter, handed out but not committed yet.
    next_heads_counter: u64,
    loaded: BTreeMap<DocId, Loaded>,
    key_files: BTreeMap<DocId, KeyFile>,
    /// Fault tests: this many commits still to fail, as on a full disk.
    fail_commits: usize,
    _lock: File,
}

impl DocSet {
    /// Opens the store under the data directory `data` (creating `docs/`
    /// and `keys/` owner-only), takes its lock, reads the manifest and
    /// deletes every document file it does not name. Loads no document.
    ///
    /// A schema 1 journal, a manifest that does not open, or document files
    /// without a manifest are refused: nothing is deleted then.
    pub fn open(
        data: &Path,
        key: FileKey,
        slot_key: SlotKey,
    ) -> Result<(DocSet, OpenReport), StoreError> {
        let old = data.join("journal");
        if fs::symlink_metadata(&old).is_ok() {
            return Err(StoreError::Schema1(data.to_path_buf()));
        }
        let docs_dir = data.join("docs");
        let keys_dir = data.join("keys");
        create_private_dir(&docs_dir)?;
        create_private_dir(&keys_dir)?;
        let lock_path = docs_dir.join("LOCK");
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&lock_path)
            .map_err(io_err(&lock_path))?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(StoreError::Locked(docs_dir)),
            Err(fs::TryLockError::Error(e)) => return Err(io_err(&lock_path)(e)),
        }

        let mut files = Vec::new();
        let mut temps = Vec::new();
        for ent in fs::read_dir(&docs_dir).map_err(io_err(&docs_dir))? {
            let ent = ent.map_err(io_err(&docs_dir))?;
            let name = ent.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') && name.ends_with(".tmp") {
                temps.push(ent.path());
            } else if let Some(f) = DocFile::parse(&name) {
                files.push(f);
            }
        }
        let manifest_path = docs_dir.join(manifest::FILE_NAME);
        let manifest = match fs::read(&manifest_path) {
            Ok(bytes) => seal::open_owned(&key, Role::Manifest, manifest::SEALED_NAME, bytes)
                .map_err(|e| e.to_string())
                .and_then(|plain| Manifest::decode(&plain))
                .map_err(|why| StoreError::Manifest {
                    path: manifest_path.clone(),
                    why,
                })?,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                if !files.is_empty() {
                    return Err(StoreError::Manifest {
                        path: manifest_path,
                        why: format!("missing, while {} document files are there", files.len()),
                    });
                }
                Manifest::empty()
            }
            Err(e) => return Err(io_err(&manifest_path)(e)),
        };

        let named: BTreeSet<(String, u64)> = manifest
            .docs
            .iter()
            .flat_map(|(doc, row)| {
                row.snapshot
                    .iter()
                    .chain(&row.chunks)
                    .map(move |seq| (doc.clone(), *seq))
            })
            .collect();
        let mut report = OpenReport::default();
        for f in files {
            if !named.contains(&(f.doc.to_string(), f.seq)) {
                report.removed.push(docs_dir.join(f.name()));
            }
        }
        // Never renamed into place, so never part of a commit.
        for path in temps.iter().chain(&report.removed) {
            fs::remove_file(path).map_err(io_err(path))?;
        }
        if !report.removed.is_empty() {
            tracing::warn!(
                files = report.removed.len(),
                "deleted document files of a commit or compaction cut short"
            );
        }
        if !temps.is_empty() || !report.removed.is_empty() {
            sync_dir(&docs_dir)?;
        }
        let next_heads_counter = manifest.next_heads_counter;
        Ok((
            DocSet {
                docs_dir,
                keys_dir,
                key,
                slot_key,
                manifest,
                signed: BTreeMap::new(),
                next_heads_counter,
                loaded: BTreeMap::new(),
                key_files: BTreeMap::new(),
                fail_commits: 0,
                _lock: lock,
            },
            report,
        ))
    }

    /// Every document the manifest names, without loading any.
    pub fn documents(&self) -> Vec<DocId> {
        self.manifest
            .docs
            .keys()
            .filter_map(|d| d.parse().ok())
            .collect()
    }

    /// The heads last committed for `doc`, without loading it.
    pub fn committed_heads(&self, doc: &DocId) -> Option<Vec<ChangeHash>> {
        self.manifest.docs.get(&doc.to_string()).map(Row::heads)
    }

    /// What the index compares to know whether `doc` moved since it last
    /// caught up: the committed heads, and the length of its key file
    /// (a key that arrives adds a slot; a forgotten one changes heads too,
    /// since only an edit or a delete forgets). Needs no load.
    pub fn stamp(&self, doc: &DocId) -> String {
        let mut heads: Vec<String> = self
            .committed_heads(doc)
            .unwrap_or_default()
            .iter()
            .map(ToString::to_string)
            .collect();
        heads.sort();
        let keys = fs::metadata(self.keys_dir.join(format!("{}.keys", doc.file_id())))
            .map_or(0, |m| m.len());
        format!("{}/{keys}", heads.join(","))
    }

    /// Whether a key was stored or forgotten since the last commit.
    pub fn keys_pending(&self) -> bool {
        self.key_files.values().any(|kf| !kf.is_synced())
    }

    /// The signed-heads records kept for `doc`: those the next commit
    /// writes, or else the committed ones. Two frames taken before one
    /// commit each build on what the other kept.
    pub fn signed_heads(&self, doc: &DocId) -> Vec<Vec<u8>> {
        if let Some(pending) = self.signed.get(doc) {
            return pending.clone();
        }
        self.manifest
            .docs
            .get(&doc.to_string())
            .map(|r| {
                r.signed
                    .iter()
                    .filter_map(|h| hex::decode(h).ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Every document's signed-heads records waiting for the next commit.
    pub fn pending_signed_heads(&self) -> &BTreeMap<DocId, Vec<Vec<u8>>> {
        &self.signed
    }

    /// Puts back the records waiting for the next commit as they were, for
    /// a rollback.
    pub fn restore_pending_signed_heads(&mut self, pending: BTreeMap<DocId, Vec<Vec<u8>>>) {
        self.signed = pending;
    }

    /// Replaces the signed-heads records kept for `doc`, from the next commit.
    pub fn keep_signed_heads(&mut self, doc: DocId, records: Vec<Vec<u8>>) {
        self.signed.insert(doc, records);
    }

    /// A signed-heads counter never handed out before, even across a crash,
    /// once the commit that carries its record returns.
    pub fn take_heads_counter(&mut self) -> u64 {
        let n = self.next_heads_counter;
        self.next_heads_counter += 1;
        n
    }

    pub fn is_loaded(&self, doc: &DocId) -> bool {
        self.loaded.contains_key(doc)
    }

    /// The documents in memory.
    pub fn loaded(&self) -> Vec<DocId> {
        self.loaded.keys().copied().collect()
    }

    /// Loads `doc` from its files if it is not in memory yet, writing as
    /// `actor`. A document the manifest does not know starts as `genesis`
    /// and is written at the next commit. A file that fails its check is
    /// quarantined and the rest still loads; its changes can come back from
    /// a peer.
    pub fn load(
        &mut self,
        doc: DocId,
        actor: &ActorId,
        now: Instant,
        genesis: impl FnOnce() -> Automerge,
    ) -> Result<LoadReport, StoreError> {
        if let Some(l) = self.loaded.get_mut(&doc) {
            l.touched = now;
            return Ok(LoadReport::default());
        }
        let Some(row) = self.manifest.docs.get(&doc.to_string()).cloned() else {
            self.insert_loaded(doc, genesis().with_actor(actor.clone()), Vec::new(), now);
            return Ok(LoadReport::default());
        };
        let read = read_doc(&self.key, &self.docs_dir, doc, &row)?;
        self.settle(doc, read, actor, now, genesis)
    }

    /// Loads each of `docs` that is stored and not in memory, as `load`
    /// does, reading their files on a thread each: a start loads the
    /// couple's newest years at once, and each is tens of milliseconds of
    /// decrypting and rebuilding at 50,000 entries. A document the
    /// manifest does not name is left for `load`, which makes its genesis.
    pub fn load_stored(
        &mut self,
        docs: &[DocId],
        actor: &ActorId,
        now: Instant,
        genesis: impl Fn(&DocId) -> Automerge,
    ) -> Result<LoadReport, StoreError> {
        let rows: Vec<(DocId, Row)> = docs
            .iter()
            .filter(|d| !self.loaded.contains_key(d))
            .filter_map(|d| Some((*d, self.manifest.docs.get(&d.to_string())?.clone())))
            .collect();
        let (key, dir) = (&self.key, &self.docs_dir);
        let reads: Vec<Result<Read, StoreError>> = std::thread::scope(|scope| {
            let threads: Vec<_> = rows
                .iter()
                .map(|(doc, row)| scope.spawn(move || read_doc(key, dir, *doc, row)))
                .collect();
            // A panic reading one goes on as it would have on this thread.
            threads
                .into_iter()
                .map(|t| t.join().unwrap_or_else(|p| std::panic::resume_unwind(p)))
                .collect()
        });
        let mut report = LoadReport::default();
        for ((doc, _), read) in rows.iter().zip(reads) {
            let one = self.settle(*doc, read?, actor, now, || genesis(doc))?;
            report.quarantined.extend(one.quarantined);
            report.missing.extend(one.missing);
        }
        Ok(report)
    }

    /// Takes a document read from its files: sets aside the files that
    /// failed, names in the manifest only what is there, and keeps it in
    /// memory.
    fn settle(
        &mut self,
        doc: DocId,
        read: Read,
        actor: &ActorId,
        now: Instant,
        genesis: impl FnOnce() -> Automerge,
    ) -> Result<LoadReport, StoreError> {
        let Read {
            mut am,
            kept,
            failed,
            missing,
        } = read;
        let mut report = LoadReport {
            missing,
            ..LoadReport::default()
        };
        for (path, reason) in failed {
            tracing::error!(file = %path.display(), %reason, "document file failed to load; quarantining it");
            report
                .quarantined
                .push(quarantine(&self.docs_dir, &path, reason)?);
        }
        if !report.is_clean() {
            tracing::error!(%doc, "document loaded without some of its files");
            // The next manifest names only what is there.
            let mut kept = kept;
            kept.set_heads(&am.get_heads());
            self.manifest.docs.insert(doc.to_string(), kept);
        }
        if am.is_empty() {
            // Every file of it was set aside: start again from the
            // genesis, which any peer's copy shares, and let sync
            // bring the rest back.
            am = genesis();
        }
        let heads = am.get_heads();
        self.insert_loaded(doc, am.with_actor(actor.clone()), heads, now);
        Ok(report)
    }

    fn insert_loaded(&mut self, doc: DocId, am: Automerge, saved: Vec<ChangeHash>, now: Instant) {
        self.loaded.insert(
            doc,
            Loaded {
                doc: am,
                saved,
                touched: now,
            },
        );
    }

    /// A loaded document.
    pub fn doc(&self, doc: &DocId) -> Option<&Automerge> {
        self.loaded.get(doc).map(|l| &l.doc)
    }

    /// A loaded document, to change; marks it used at `now`.
    pub fn doc_mut(&mut self, doc: &DocId, now: Instant) -> Option<&mut Automerge> {
        self.loaded.get_mut(doc).map(|l| {
            l.touched = now;
            &mut l.doc
        })
    }

    /// Drops a document created in memory that no commit has written yet
    /// (a refused request's). Returns whether it did; a stored document is
    /// left alone.
    pub fn drop_uncommitted(&mut self, doc: &DocId) -> bool {
        if self.manifest.docs.contains_key(&doc.to_string()) {
            return false;
        }
        self.key_files.remove(doc);
        self.loaded.remove(doc).is_some()
    }

    /// The heads of what is on disk for a loaded document.
    pub fn saved_heads(&self, doc: &DocId) -> Option<&[ChangeHash]> {
        self.loaded.get(doc).map(|l| l.saved.as_slice())
    }

    /// For fault tests: the next `n` commits fail as on a full disk, after
    /// writing nothing.
    pub fn fail_next_commits(&mut self, n: usize) {
        self.fail_commits = n;
    }

    /// Whether a loaded document has changes no commit has written.
    /// Whether a key file holds slots written since its last sync: keys a
    /// peer gave, which the next commit makes durable.
    pub fn has_unsynced_keys(&self) -> bool {
        self.key_files.values().any(|k| !k.is_synced())
    }

    pub fn is_dirty(&self, doc: &DocId) -> bool {
        self.loaded
            .get(doc)
            .is_some_and(|l| l.doc.get_heads() != l.saved)
    }

    /// The chunks `doc` has on disk since its last snapshot.
    pub fn chunk_count(&self, doc: &DocId) -> usize {
        self.manifest
            .docs
            .get(&doc.to_string())
            .map_or(0, |r| r.chunks.len())
    }

    /// `doc`'s key file, opened (or created) on first use.
    pub fn key_file(&mut self, doc: DocId) -> Result<&mut KeyFile, StoreError> {
        if !self.key_files.contains_key(&doc) {
            let path = self.keys_dir.join(format!("{}.keys", doc.file_id()));
            let kf = KeyFile::open(&path, &doc.to_string(), self.slot_key.clone())?;
            self.key_files.insert(doc, kf);
        }
        Ok(self.key_files.get_mut(&doc).expect("just inserted"))
    }

    /// Makes every loaded document's new changes, the key slots written
    /// since, and the kept signed heads durable, as one commit. Returns the
    /// documents written; only after it returns may their changes be
    /// acknowledged.
    pub fn commit(&mut self) -> Result<Vec<DocId>, StoreError> {
        self.commit_with(|_| Ok(()))
    }

    /// [`DocSet::commit`] with a hook after each step; a hook that fails
    /// stops the commit there, as a crash would.
    pub fn commit_with(
        &mut self,
        mut hook: impl FnMut(Step) -> Result<(), StoreError>,
    ) -> Result<Vec<DocId>, StoreError> {
        let moved: Vec<DocId> = self
            .loaded
            .iter()
            .filter(|(_, l)| l.doc.get_heads() != l.saved)
            .map(|(d, _)| *d)
            .collect();
        let counter_moved = self.next_heads_counter != self.manifest.next_heads_counter;
        if moved.is_empty() && self.signed.is_empty() && !counter_moved {
            for kf in self.key_files.values_mut() {
                kf.sync()?;
            }
            return Ok(moved);
        }
        if self.fail_commits > 0 {
            self.fail_commits -= 1;
            return Err(StoreError::Io {
                path: self.docs_dir.clone(),
                source: std::io::Error::from_raw_os_error(28),
            });
        }
        // Keys first: an acknowledged entry always has its key.
        for kf in self.key_files.values_mut() {
            kf.sync()?;
        }
        hook(Step::KeysSynced)?;

        let mut next = self.manifest.clone();
        next.next_heads_counter = self.next_heads_counter;
        let mut written = Vec::new();
        let mut new_heads = Vec::new();
        let mut renamed = false;
        let result = (|| {
            for (i, doc) in moved.iter().enumerate() {
                let l = &self.loaded[doc];
                let heads = l.doc.get_heads();
                let file = DocFile {
                    doc: *doc,
                    seq: next.next_seq,
                    kind: Kind::Chunk,
                };
                next.next_seq += 1;
                let bytes = l.doc.save_after(&l.saved);
                let sealed = seal::seal(&self.key, Role::Chunk, &file.sealed_name(), &bytes);
                self.place_file(&file, &sealed)?;
                written.push(file);
                let row = next.docs.entry(doc.to_string()).or_default();
                row.chunks.push(file.seq);
                row.set_heads(&heads);
                new_heads.push((*doc, heads));
                hook(Step::FileRenamed(i))?;
            }
            for (doc, records) in &self.signed {
                next.docs.entry(doc.to_string()).or_default().signed =
                    records.iter().map(hex::encode).collect();
            }
            self.write_manifest(&next, &mut hook, &mut renamed)
        })();
        if let Err(e) = result {
            // Named by no manifest on disk: gone at the next open anyway,
            // but a retry in this process should not leave them behind.
            // Once the new manifest is in place they may be what counts.
            if !renamed {
                for f in written {
                    let _ = fs::remove_file(self.docs_dir.join(f.name()));
                }
            }
            return Err(e);
        }
        self.manifest = next;
        self.signed.clear();
        for (doc, heads) in new_heads {
            if let Some(l) = self.loaded.get_mut(&doc) {
                l.saved = heads;
            }
        }
        Ok(moved)
    }

    /// Writes `sealed` under `file`'s name: a synced temporary file renamed
    /// into place. The directory is synced with the manifest.
    fn place_file(&self, file: &DocFile, sealed: &[u8]) -> Result<(), StoreError> {
        let name = file.name();
        let tmp = write_synced_temp(&self.docs_dir, &name, sealed)?;
        let fin = self.docs_dir.join(&name);
        fs::rename(&tmp, &fin).map_err(io_err(&fin))
    }

    /// The commit point: the new manifest's temporary copy and every file
    /// renamed before it are made durable, then it is renamed into place
    /// and the directory synced again.
    fn write_manifest(
        &self,
        next: &Manifest,
        hook: &mut impl FnMut(Step) -> Result<(), StoreError>,
        renamed: &mut bool,
    ) -> Result<(), StoreError> {
        let sealed = seal::seal(
            &self.key,
            Role::Manifest,
            manifest::SEALED_NAME,
            &next.encode(),
        );
        let tmp = write_synced_temp(&self.docs_dir, manifest::FILE_NAME, &sealed)?;
        // Without this sync, the manifest's rename could reach the disk
        // before the renames of the files it names.
        sync_dir(&self.docs_dir)?;
        hook(Step::DirSynced)?;
        let fin = self.docs_dir.join(manifest::FILE_NAME);
        fs::rename(&tmp, &fin).map_err(io_err(&fin))?;
        *renamed = true;
        hook(Step::ManifestRenamed)?;
        sync_dir(&self.docs_dir)
    }

    /// Replaces `doc`'s files with one snapshot. The document must be loaded
    /// and committed; changes waiting for missing dependencies are not in a
    /// snapshot, so a document with any is left as it is.
    pub fn compact(&mut self, doc: &DocId) -> Result<(), StoreError> {
        self.compact_with(doc, |_| Ok(()))
    }

    pub fn compact_with(
        &mut self,
        doc: &DocId,
        mut hook: impl FnMut(Step) -> Result<(), StoreError>,
    ) -> Result<(), StoreError> {
        let Some(l) = self.loaded.get(doc) else {
            return Ok(());
        };
        if l.doc.get_heads() != l.saved {
            self.commit_with(&mut hook)?;
        }
        let l = &self.loaded[doc];
        if !l.doc.get_missing_deps(&[]).is_empty() {
            return Err(StoreError::MissingDeps);
        }
        let mut next = self.manifest.clone();
        let file = DocFile {
            doc: *doc,
            seq: next.next_seq,
            kind: Kind::Snapshot,
        };
        next.next_seq += 1;
        let sealed = seal::seal(
            &self.key,
            Role::Snapshot,
            &file.sealed_name(),
            &l.doc.save(),
        );
        let row = next.docs.entry(doc.to_string()).or_default();
        let old: Vec<DocFile> = row
            .snapshot
            .map(|seq| DocFile {
                doc: *doc,
                seq,
                kind: Kind::Snapshot,
            })
            .into_iter()
            .chain(row.chunks.iter().map(|&seq| DocFile {
                doc: *doc,
                seq,
                kind: Kind::Chunk,
            }))
            .collect();
        row.snapshot = Some(file.seq);
        row.chunks.clear();
        row.set_heads(&l.doc.get_heads());
        let mut renamed = false;
        let result = self
            .place_file(&file, &sealed)
            .and_then(|()| hook(Step::FileRenamed(0)))
            .and_then(|()| self.write_manifest(&next, &mut hook, &mut renamed));
        if let Err(e) = result {
            if !renamed {
                let _ = fs::remove_file(self.docs_dir.join(file.name()));
            }
            return Err(e);
        }
        self.manifest = next;
        // Only now is the snapshot the commit point, so only now may the
        // files it replaces go.
        for (i, f) in old.iter().enumerate() {
            let p = self.docs_dir.join(f.name());
            match fs::remove_file(&p) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err(&p)(e)),
            }
            hook(Step::OldDeleted(i))?;
        }
        sync_dir(&self.docs_dir)
    }

    /// Whether `doc` is in memory with no uncommitted change and its key
    /// file nothing unsynced: whether [`DocSet::unload`] would drop it.
    pub fn can_unload(&self, doc: &DocId) -> bool {
        self.loaded
            .get(doc)
            .is_some_and(|l| l.doc.get_heads() == l.saved)
            && self.key_files.get(doc).is_none_or(KeyFile::is_synced)
    }

    /// Drops `doc` from memory, with its key file, if it has no uncommitted
    /// change and its key file nothing unsynced. Returns whether it did.
    pub fn unload(&mut self, doc: &DocId) -> bool {
        let clean = self.can_unload(doc);
        if clean {
            self.loaded.remove(doc);
            self.key_files.remove(doc);
        }
        clean
    }

    /// Drops from memory every document, and its key file, that has no
    /// uncommitted change, was last used before `now - idle`, and that
    /// `keep` does not hold on to; `last_look` sees each one just before it
    /// goes. Returns the documents dropped.
    pub fn unload_idle(
        &mut self,
        now: Instant,
        idle: Duration,
        keep: impl Fn(&DocId) -> bool,
        mut last_look: impl FnMut(&DocId, &Automerge),
    ) -> Vec<DocId> {
        let drop: Vec<DocId> = self
            .loaded
            .iter()
            .filter(|(d, l)| {
                now.saturating_duration_since(l.touched) >= idle
                    && l.doc.get_heads() == l.saved
                    && !keep(d)
                    && self.key_files.get(d).is_none_or(KeyFile::is_synced)
            })
            .map(|(d, _)| *d)
            .collect();
        for d in &drop {
            if let Some(l) = self.loaded.remove(d) {
                last_look(d, &l.doc);
            }
            self.key_files.remove(d);
        }
        // Key files read for a document not in memory (a session's key
        // offers read every one) go too, once synced.
        let loaded = &self.loaded;
        self.key_files
            .retain(|d, kf| loaded.contains_key(d) || keep(d) || !kf.is_synced());
        drop
    }
}

/// A document as read from its files, before anything on disk changes.
struct Read {
    am: Automerge,
    /// The manifest row naming only the files that loaded.
    kept: Row,
    /// Files that failed their check, with why: to set aside.
    failed: Vec<(PathBuf, String)>,
    /// Files the manifest names that are not there.
    missing: Vec<PathBuf>,
}

/// Reads document `doc` from the files `row` names in `dir`, touching
/// nothing on disk, so several can be read at once.
fn read_doc(key: &FileKey, dir: &Path, doc: DocId, row: &Row) -> Result<Read, StoreError> {
    let files = row
        .snapshot
        .map(|seq| DocFile {
            doc,
            seq,
            kind: Kind::Snapshot,
        })
        .into_iter()
        .chain(row.chunks.iter().map(|&seq| DocFile {
            doc,
            seq,
            kind: Kind::Chunk,
        }));
    let mut read = Read {
        am: Automerge::new(),
        kept: Row {
            signed: row.signed.clone(),
            ..Row::default()
        },
        failed: Vec::new(),
        missing: Vec::new(),
    };
    for f in files {
        let path = dir.join(f.name());
        let bytes = match fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                tracing::error!(file = %path.display(), "a committed document file is missing");
                read.missing.push(path);
                continue;
            }
            Err(e) => return Err(io_err(&path)(e)),
        };
        match read_file(key, &f, bytes, &mut read.am) {
            Ok(()) => match f.kind {
                Kind::Snapshot => read.kept.snapshot = Some(f.seq),
                Kind::Chunk => read.kept.chunks.push(f.seq),
            },
            Err(reason) => read.failed.push((path, reason)),
        }
    }
    Ok(read)
}

/// Opens one sealed document file and merges it into `am`.
fn read_file(key: &FileKey, f: &DocFile, bytes: Vec<u8>, am: &mut Automerge) -> Result<(), String> {
    let payload =
        seal::open_owned(key, f.role(), &f.sealed_name(), bytes).map_err(|e| e.to_string())?;
    if am.is_empty() && f.kind == Kind::Snapshot {
        *am = Automerge::load_with_options(
            &payload,
            LoadOptions::new().on_partial_load(OnPartialLoad::Error),
        )
        .map_err(|e| format!("not a valid Automerge document: {e}"))?;
    } else {
        // The tag has proven these are the bytes we wrote; changes whose
        // dependencies were in a lost file wait for them.
        am.load_incremental(&payload)
            .map_err(|e| format!("not valid Automerge data: {e}"))?;
    }
    Ok(())
}
