//! Where the couple's other devices were last reached: this device's
//! `peers` file, sealed like every file the daemon writes, never synced.
//!
//! Addresses used to sit in the shared document, where every device kept
//! every address any device ever had, for ever. Now each device keeps its
//! own list, from what it was told directly: a ticket, `hearth peers add
//! --addr`, and each session's hello (docs/SCHEMA.md, "Addresses").
//!
//! What a device says of itself beats what another device says of it: a
//! second-hand address only fills in for a device we have not heard from.
//! Either is only a hint, since iroh checks the device's key on every
//! connection; losing the file loses nothing but a quick first dial.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use hearth_store::FileKey;
use hearth_store::seal::{self, Role};
use hearth_sync::MAX_ADDRS;
use serde::{Deserialize, Serialize};

/// The name the file is sealed under (relative to the data directory).
const SEALED_NAME: &str = "peers";

/// What this device knows of one other device's addresses.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
struct Known {
    /// Told by the device itself (its hello), a ticket, or by hand.
    #[serde(default)]
    own: Vec<SocketAddr>,
    /// Told by another of the couple's devices.
    #[serde(default)]
    heard: Vec<SocketAddr>,
}

#[derive(Debug)]
pub struct AddressBook {
    path: PathBuf,
    key: FileKey,
    devices: BTreeMap<String, Known>,
    /// Second-hand addresses of devices not trusted yet, in memory only: a
    /// hello can arrive just before the change that introduces the device.
    pending: BTreeMap<String, Vec<SocketAddr>>,
}

/// At most this many devices wait in `pending`; a peer cannot grow it.
const MAX_PENDING: usize = hearth_sync::MAX_KNOWN;

/// At most [`MAX_ADDRS`], sorted, without repeats: one list has one form,
/// so a hello that says the same again changes nothing.
fn tidy(addrs: &[SocketAddr]) -> Vec<SocketAddr> {
    let mut v: Vec<SocketAddr> = addrs.to_vec();
    v.sort();
    v.dedup();
    v.truncate(MAX_ADDRS);
    v
}

impl AddressBook {
    /// Reads the file next to the identity. A missing file is an empty
    /// book; a damaged one is logged and replaced at the next change, since
    /// addresses are relearned at the next session.
    pub fn load(data_dir: &Path, key: FileKey) -> AddressBook {
        let path = data_dir.join(SEALED_NAME);
        let devices = match std::fs::read(&path) {
            Ok(bytes) => match seal::open(&key, Role::Peers, SEALED_NAME, &bytes)
                .map_err(|e| e.to_string())
                .and_then(|plain| serde_json::from_slice(&plain).map_err(|e| e.to_string()))
            {
                Ok(devices) => devices,
                Err(why) => {
                    tracing::warn!(file = %path.display(), %why, "peer addresses unreadable; starting without them");
                    BTreeMap::new()
                }
            },
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => BTreeMap::new(),
            Err(e) => {
                tracing::warn!(file = %path.display(), error = %e, "peer addresses unreadable; starting without them");
                BTreeMap::new()
            }
        };
        AddressBook {
            path,
            key,
            devices,
            pending: BTreeMap::new(),
        }
    }

    /// Where to dial `id`: what it said of itself, else what we heard.
    pub fn addrs(&self, id: &str) -> Vec<SocketAddr> {
        self.devices
            .get(id)
            .map(|k| {
                if k.own.is_empty() {
                    k.heard.clone()
                } else {
                    k.own.clone()
                }
            })
            .unwrap_or_default()
    }

    /// `id` told us, or a ticket or the user did, where it listens. An
    /// empty list says nothing and changes nothing. Returns whether the
    /// book changed.
    pub fn learn_own(&mut self, id: &str, addrs: &[SocketAddr]) -> bool {
        self.learn(id, addrs, |k| &mut k.own)
    }

    /// Another device told us where it reached `id`.
    pub fn learn_heard(&mut self, id: &str, addrs: &[SocketAddr]) -> bool {
        self.learn(id, addrs, |k| &mut k.heard)
    }

    fn learn(
        &mut self,
        id: &str,
        addrs: &[SocketAddr],
        list: impl FnOnce(&mut Known) -> &mut Vec<SocketAddr>,
    ) -> bool {
        if addrs.is_empty() {
            return false;
        }
        let addrs = tidy(addrs);
        let slot = list(self.devices.entry(id.to_string()).or_default());
        if *slot == addrs {
            return false;
        }
        *slot = addrs;
        true
    }

    /// Another device told us where it reached `id`, which we do not trust
    /// (yet): held until [`AddressBook::adopt`] finds it trusted.
    pub fn hold(&mut self, id: &str, addrs: &[SocketAddr]) {
        if addrs.is_empty() || (self.pending.len() >= MAX_PENDING && !self.pending.contains_key(id))
        {
            return;
        }
        self.pending.insert(id.to_string(), tidy(addrs));
    }

    /// Takes in what was held for devices that are trusted now. Returns
    /// whether the book changed.
    pub fn adopt(&mut self, trusted: impl Fn(&str) -> bool) -> bool {
        let ready: Vec<String> = self
            .pending
            .keys()
            .filter(|id| trusted(id))
            .cloned()
            .collect();
        let mut changed = false;
        for id in ready {
            if let Some(addrs) = self.pending.remove(&id) {
                changed |= self.learn_heard(&id, &addrs);
            }
        }
        changed
    }

    /// Forgets every device `keep` says no to (removed, or never trusted).
    pub fn retain(&mut self, keep: impl Fn(&str) -> bool) -> bool {
        let before = self.devices.len();
        self.devices.retain(|id, _| keep(id));
        self.devices.len() != before
    }

    /// Writes the book durably, sealed.
    pub fn save(&self) -> Result<(), hearth_store::StoreError> {
        let dir = self.path.parent().expect("the peers file has a parent dir");
        let plain = serde_json::to_vec(&self.devices).expect("addresses serialise");
        let sealed = seal::seal(&self.key, Role::Peers, SEALED_NAME, &plain);
        hearth_store::write_durably(dir, SEALED_NAME, &sealed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    fn book(dir: &Path) -> AddressBook {
        AddressBook::load(dir, FileKey::for_tests(5))
    }

    #[test]
    fn what_a_device_says_of_itself_beats_what_others_say() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = book(dir.path());
        assert!(b.addrs("ben").is_empty());
        assert!(b.learn_heard("ben", &[addr(2)]));
        assert_eq!(b.addrs("ben"), [addr(2)]);
        assert!(b.learn_own("ben", &[addr(1)]));
        assert_eq!(b.addrs("ben"), [addr(1)]);
        // A later second-hand address does not displace the first-hand one.
        assert!(b.learn_heard("ben", &[addr(3)]));
        assert_eq!(b.addrs("ben"), [addr(1)]);
    }

    #[test]
    fn the_same_news_again_changes_nothing_and_empty_news_says_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = book(dir.path());
        assert!(b.learn_own("ben", &[addr(2), addr(1), addr(1)]));
        assert!(!b.learn_own("ben", &[addr(1), addr(2)]));
        assert!(!b.learn_own("ben", &[]));
        assert!(!b.learn_heard("ben", &[]));
        assert_eq!(b.addrs("ben"), [addr(1), addr(2)]);
        let many: Vec<SocketAddr> = (0..20).map(addr).collect();
        assert!(b.learn_own("ben", &many));
        assert_eq!(b.addrs("ben").len(), MAX_ADDRS);
    }

    #[test]
    fn the_book_survives_a_restart_sealed_and_a_damaged_file_is_an_empty_book() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = book(dir.path());
        b.learn_own("ben", &[addr(7)]);
        b.learn_heard("sam", &[addr(8)]);
        b.save().unwrap();
        let on_disk = std::fs::read(dir.path().join("peers")).unwrap();
        assert!(!String::from_utf8_lossy(&on_disk).contains("127.0.0.1"));
        let again = book(dir.path());
        assert_eq!(again.addrs("ben"), [addr(7)]);
        assert_eq!(again.addrs("sam"), [addr(8)]);
        // Under another key, or damaged, it opens as nothing.
        assert!(
            AddressBook::load(dir.path(), FileKey::for_tests(6))
                .addrs("ben")
                .is_empty()
        );
        let mut flipped = on_disk.clone();
        *flipped.last_mut().unwrap() ^= 1;
        std::fs::write(dir.path().join("peers"), flipped).unwrap();
        assert!(book(dir.path()).addrs("ben").is_empty());
    }

    #[test]
    fn news_of_a_device_not_trusted_yet_waits_and_is_bounded() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = book(dir.path());
        b.hold("sam", &[addr(1)]);
        assert!(b.addrs("sam").is_empty(), "not used while untrusted");
        assert!(!b.adopt(|_| false));
        assert!(b.adopt(|id| id == "sam"));
        assert_eq!(b.addrs("sam"), [addr(1)]);
        assert!(!b.adopt(|_| true), "taken once");
        for i in 0..100u16 {
            b.hold(&format!("fake{i}"), &[addr(i)]);
        }
        assert!(b.pending.len() <= MAX_PENDING);
    }

    #[test]
    fn a_removed_device_is_forgotten() {
        let dir = tempfile::tempdir().unwrap();
        let mut b = book(dir.path());
        b.learn_own("ben", &[addr(1)]);
        b.learn_own("old", &[addr(2)]);
        assert!(b.retain(|id| id == "ben"));
        assert!(!b.retain(|id| id == "ben"));
        assert!(b.addrs("old").is_empty());
        assert_eq!(b.addrs("ben"), [addr(1)]);
    }
}
