//! One document's key file, `keys/<file id>.keys` (docs/SCHEMA.md, "On
//! disk"): the content key of each readable entry version, or the
//! tombstone that replaced it, in 128-byte slots overwritten in place.
//!
//! The file is never rewritten or renamed, so no copy of a forgotten key is
//! left behind under another name. New slots are written without a sync and
//! made durable by [`KeyFile::sync`], which the store's commit calls before
//! its manifest; a forget is synced at once.

use std::collections::{HashMap, VecDeque};
use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{FileExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use zeroize::Zeroize;

use crate::StoreError;
use crate::file::io_err;
use crate::keyslot::{
    Audience, KEY_FILE_HEADER, SLOT_LEN, Slot, SlotKey, open_slot, seal_slot, slot_offset,
};
use crate::seal::MAGIC;

/// The key file's format and its role byte (docs/SCHEMA.md, "Encrypted files").
const FORMAT: u8 = 1;
const ROLE: u8 = 6;

pub use hearth_model::records::keys::VersionRef;

/// What a key file says of one entry version.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyState {
    /// Its content key, and who may hold it.
    Live(Audience),
    /// Forgotten, for good.
    Forgotten,
}

pub struct KeyFile {
    file: File,
    path: PathBuf,
    /// The document id, bound into every slot.
    doc: String,
    key: SlotKey,
    /// Slot contents by index; `None` is free (never written, or torn).
    slots: Vec<Option<Slot>>,
    by_version: HashMap<VersionRef, u32>,
    unsynced: bool,
    /// Moves with every slot written, so a reader can tell the keys
    /// changed without reading them.
    generation: u64,
    /// The versions whose keys were stored lately, with the generation
    /// each made: what a sync session sends along with the changes that
    /// need them, so the peer reads a new entry without a round of offers.
    recent: VecDeque<(u64, VersionRef)>,
}

/// How many recent puts a key file remembers. A session further behind
/// than that gets the rest through key offers.
const RECENT: usize = 1024;

fn header() -> [u8; KEY_FILE_HEADER] {
    let mut h = [0u8; KEY_FILE_HEADER];
    h[..8].copy_from_slice(MAGIC);
    h[8] = FORMAT;
    h[9] = ROLE;
    h
}

impl KeyFile {
    /// Opens `path`, creating it (header synced, and the directory) when it
    /// is not there. A header that is not a key file's is an error: the file
    /// is left alone for a human, never overwritten.
    pub fn open(path: &Path, doc: &str, key: SlotKey) -> Result<KeyFile, StoreError> {
        let opened = OpenOptions::new()
            .read(true)
            .write(true)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(path);
        let (file, created) = match opened {
            Ok(f) => (f, false),
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                let f = OpenOptions::new()
                    .read(true)
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
                    .open(path)
                    .map_err(io_err(path))?;
                f.write_all_at(&header(), 0)
                    .and_then(|_| f.sync_all())
                    .map_err(io_err(path))?;
                if let Some(dir) = path.parent() {
                    crate::file::sync_dir(dir)?;
                }
                (f, true)
            }
            Err(e) => return Err(io_err(path)(e)),
        };
        let mut kf = KeyFile {
            file,
            path: path.to_path_buf(),
            doc: doc.to_string(),
            key,
            slots: Vec::new(),
            by_version: HashMap::new(),
            unsynced: false,
            generation: next_generation(),
            recent: VecDeque::new(),
        };
        if !created {
            kf.read_all()?;
        }
        Ok(kf)
    }

    fn read_all(&mut self) -> Result<(), StoreError> {
        let mut bytes = Vec::new();
        io::Read::read_to_end(&mut &self.file, &mut bytes).map_err(io_err(&self.path))?;
        if bytes.len() < KEY_FILE_HEADER || bytes[..KEY_FILE_HEADER] != header() {
            bytes.zeroize();
            return Err(StoreError::Io {
                path: self.path.clone(),
                source: io::Error::new(io::ErrorKind::InvalidData, "not a hearth key file"),
            });
        }
        // A torn last slot (a crash mid-append) is shorter than a slot: it
        // reads as free, and the next new key takes its place.
        for (i, chunk) in bytes[KEY_FILE_HEADER..].chunks(SLOT_LEN).enumerate() {
            let slot = <&[u8; SLOT_LEN]>::try_from(chunk)
                .ok()
                .and_then(|b| open_slot(&self.key, &self.doc, i as u32, b));
            self.place(i as u32, slot);
        }
        bytes.zeroize();
        Ok(())
    }

    /// Puts `slot` at `index` in memory, keeping the version index right.
    /// When one version somehow holds two slots, a tombstone wins.
    fn place(&mut self, index: u32, slot: Option<Slot>) {
        let i = index as usize;
        if self.slots.len() <= i {
            self.slots.resize(i + 1, None);
        }
        if let Some(s) = &slot {
            let v = version_of(s);
            let keep_old = self.by_version.get(&v).is_some_and(|old| {
                *old != index && matches!(self.slots[*old as usize], Some(Slot::Forgotten { .. }))
            });
            if !keep_old {
                self.by_version.insert(v, index);
            }
        }
        self.slots[i] = slot;
    }

    fn write_slot(&mut self, index: u32, slot: Slot) -> Result<(), StoreError> {
        let sealed = seal_slot(&self.key, &self.doc, index, rand::random(), &slot);
        self.file
            .write_all_at(&sealed, slot_offset(index))
            .map_err(io_err(&self.path))?;
        self.place(index, Some(slot));
        self.generation = next_generation();
        Ok(())
    }

    fn free_index(&self) -> u32 {
        self.slots
            .iter()
            .position(Option::is_none)
            .unwrap_or(self.slots.len()) as u32
    }

    /// What this file says of a version.
    pub fn state(&self, version: VersionRef) -> Option<KeyState> {
        let index = *self.by_version.get(&version)?;
        match self.slots[index as usize].as_ref()? {
            Slot::Key { audience, .. } => Some(KeyState::Live(*audience)),
            Slot::Forgotten { .. } => Some(KeyState::Forgotten),
        }
    }

    /// The content key of a live version.
    pub fn key(&self, version: VersionRef) -> Option<&[u8; 32]> {
        match self.slots[*self.by_version.get(&version)? as usize].as_ref()? {
            Slot::Key { key, .. } => Some(key),
            Slot::Forgotten { .. } => None,
        }
    }

    /// Every live version and its audience.
    pub fn live(&self) -> impl Iterator<Item = (VersionRef, Audience)> + '_ {
        self.slots.iter().flatten().filter_map(|s| match s {
            Slot::Key {
                audience,
                entry,
                version,
                ..
            } => Some(((*entry, *version), *audience)),
            Slot::Forgotten { .. } => None,
        })
    }

    /// Stores a content key, not yet durable (see [`KeyFile::sync`]).
    /// A forgotten version stays forgotten, and a known key only widens its
    /// audience. Returns whether the file changed.
    pub fn put(
        &mut self,
        version: VersionRef,
        audience: Audience,
        key: [u8; 32],
    ) -> Result<bool, StoreError> {
        if !self.would_change(version, audience) {
            return Ok(false);
        }
        let (index, key) = match (self.by_version.get(&version).copied(), self.state(version)) {
            // Widening keeps the key it has: a version has one key.
            (Some(index), Some(KeyState::Live(_))) => (index, *self.key(version).expect("live")),
            _ => (self.free_index(), key),
        };
        let (entry, v) = version;
        self.write_slot(
            index,
            Slot::Key {
                audience,
                entry,
                version: v,
                key,
            },
        )?;
        self.unsynced = true;
        if self.recent.len() == RECENT {
            self.recent.pop_front();
        }
        self.recent.push_back((self.generation, version));
        Ok(true)
    }

    /// Whether [`KeyFile::put`] of `version` for `audience` would change
    /// the file: not for a forgotten version, nor for a key already held
    /// for that audience or a wider one.
    pub fn would_change(&self, version: VersionRef, audience: Audience) -> bool {
        match self.state(version) {
            Some(KeyState::Forgotten) => false,
            Some(KeyState::Live(a)) => a != audience && a != Audience::Couple,
            None => true,
        }
    }

    /// Forgets a version for good: its slot (or a new one, so that a key
    /// arriving later is refused) is sealed again as a tombstone and synced
    /// before this returns, and the key is wiped from memory.
    pub fn forget(&mut self, version: VersionRef) -> Result<bool, StoreError> {
        let index = match (self.by_version.get(&version).copied(), self.state(version)) {
            (_, Some(KeyState::Forgotten)) => return Ok(false),
            (Some(index), _) => index,
            (None, _) => self.free_index(),
        };
        let (entry, version) = version;
        // Dropping the old slot zeroes its key (`Slot` wipes itself).
        self.write_slot(index, Slot::Forgotten { entry, version })?;
        self.unsynced = true;
        self.sync()?;
        Ok(true)
    }

    /// Makes every slot written so far durable (fdatasync).
    pub fn sync(&mut self) -> Result<(), StoreError> {
        if self.unsynced {
            self.file.sync_data().map_err(io_err(&self.path))?;
            self.unsynced = false;
        }
        Ok(())
    }

    pub fn is_synced(&self) -> bool {
        !self.unsynced
    }

    /// Moves whenever a slot is written, and differs for every opening of
    /// any key file in this process, so a value seen once never returns.
    pub fn generation(&self) -> u64 {
        self.generation
    }

    /// The versions whose keys were stored (or widened) at a generation
    /// after `after`, oldest first, as far back as this file remembers.
    /// Some may have been forgotten since: look each up.
    pub fn stored_since(&self, after: u64) -> impl Iterator<Item = VersionRef> + '_ {
        self.recent
            .iter()
            .filter(move |(g, _)| *g > after)
            .map(|(_, v)| *v)
    }
}

/// The newest generation any key file of this process has had: a session
/// that has sent every key stored up to it remembers it.
pub fn last_generation() -> u64 {
    NEXT.load(std::sync::atomic::Ordering::Relaxed) - 1
}

static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);

/// A number no key file of this process has had before.
fn next_generation() -> u64 {
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

fn version_of(slot: &Slot) -> VersionRef {
    match slot {
        Slot::Key { entry, version, .. } | Slot::Forgotten { entry, version } => (*entry, *version),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "p/0123456789abcdef0123456789abcdef/2026";

    fn open(path: &Path) -> KeyFile {
        KeyFile::open(path, DOC, SlotKey::for_tests(3)).unwrap()
    }

    #[test]
    fn keys_survive_a_reopen_and_a_forget_overwrites_the_key_where_it_lay() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        let (a, b) = ((1u128, [1u8; 16]), (2u128, [2u8; 16]));
        let mut kf = open(&path);
        assert!(kf.put(a, Audience::Mine, [0xaa; 32]).unwrap());
        assert!(kf.put(b, Audience::Couple, [0xbb; 32]).unwrap());
        assert!(!kf.is_synced());
        kf.sync().unwrap();
        let len = std::fs::metadata(&path).unwrap().len();
        assert_eq!(len, slot_offset(2));

        let mut kf = open(&path);
        assert_eq!(kf.key(a), Some(&[0xaa; 32]));
        assert_eq!(kf.state(b), Some(KeyState::Live(Audience::Couple)));
        // Widening rewrites the slot in place; narrowing does nothing.
        assert!(kf.put(a, Audience::Couple, [0xaa; 32]).unwrap());
        assert!(!kf.put(a, Audience::Mine, [0xaa; 32]).unwrap());
        let before = std::fs::read(&path).unwrap();
        assert!(kf.forget(b).unwrap());
        assert!(kf.is_synced(), "a forget is durable when it returns");
        let after = std::fs::read(&path).unwrap();
        assert_eq!(
            after.len(),
            before.len(),
            "forgotten in place, not appended"
        );
        let slot1 = slot_offset(1) as usize..slot_offset(2) as usize;
        assert_ne!(after[slot1.clone()], before[slot1]);

        let mut kf = open(&path);
        assert_eq!(kf.state(b), Some(KeyState::Forgotten));
        assert_eq!(kf.key(b), None);
        assert!(
            !kf.put(b, Audience::Couple, [0xbb; 32]).unwrap(),
            "forgotten wins"
        );
        assert_eq!(kf.live().collect::<Vec<_>>(), [(a, Audience::Couple)]);
    }

    #[test]
    fn a_key_forgotten_before_it_arrives_is_refused_when_it_does() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        let v = (9u128, [9u8; 16]);
        let mut kf = open(&path);
        assert!(kf.forget(v).unwrap());
        assert!(!kf.forget(v).unwrap());
        assert!(!kf.put(v, Audience::Couple, [1; 32]).unwrap());
        assert_eq!(open(&path).state(v), Some(KeyState::Forgotten));
    }

    #[test]
    fn a_torn_last_slot_reads_as_free_and_is_reused() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        let mut kf = open(&path);
        kf.put((1, [1; 16]), Audience::Mine, [1; 32]).unwrap();
        kf.put((2, [2; 16]), Audience::Mine, [2; 32]).unwrap();
        kf.sync().unwrap();
        drop(kf);
        // Half of slot 1 made it to disk.
        let f = OpenOptions::new().write(true).open(&path).unwrap();
        f.set_len(slot_offset(1) + 60).unwrap();
        let mut kf = open(&path);
        assert_eq!(kf.state((2, [2; 16])), None);
        assert_eq!(kf.key((1, [1; 16])), Some(&[1; 32]));
        kf.put((3, [3; 16]), Audience::Mine, [3; 32]).unwrap();
        kf.sync().unwrap();
        assert_eq!(std::fs::metadata(&path).unwrap().len(), slot_offset(2));
        assert_eq!(open(&path).key((3, [3; 16])), Some(&[3; 32]));
    }

    #[test]
    fn a_file_that_is_not_a_key_file_is_refused_and_left_alone() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("k.keys");
        std::fs::write(&path, b"something else entirely, not ours").unwrap();
        let err = KeyFile::open(&path, DOC, SlotKey::for_tests(3))
            .err()
            .unwrap();
        assert!(err.to_string().contains("not a hearth key file"), "{err}");
        assert_eq!(
            std::fs::read(&path).unwrap(),
            b"something else entirely, not ours"
        );
        // Another document's file, or another key, opens nothing.
        let other = dir.path().join("o.keys");
        KeyFile::open(&other, DOC, SlotKey::for_tests(3))
            .unwrap()
            .put((1, [1; 16]), Audience::Mine, [1; 32])
            .unwrap();
        assert_eq!(
            KeyFile::open(&other, "couple", SlotKey::for_tests(3))
                .unwrap()
                .live()
                .count(),
            0
        );
        assert_eq!(
            KeyFile::open(&other, DOC, SlotKey::for_tests(4))
                .unwrap()
                .live()
                .count(),
            0
        );
    }

    #[test]
    fn a_symlink_in_place_of_a_key_file_is_not_followed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("elsewhere");
        std::fs::write(&target, b"x").unwrap();
        let path = dir.path().join("k.keys");
        std::os::unix::fs::symlink(&target, &path).unwrap();
        assert!(KeyFile::open(&path, DOC, SlotKey::for_tests(3)).is_err());
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
    }
}
