//! One slot of a key file, `keys/<file id>.keys` (docs/SCHEMA.md, "On
//! disk"; issue 10, points 1 and 2): a content key, or the tombstone that
//! replaced it, sealed in 128 bytes that are overwritten in place.
//!
//! A forgotten key must not survive anywhere on disk, so key files are
//! never rewritten or renamed, which would leave the old copy behind; a
//! slot is sealed again with a fresh nonce where it lies. This module is
//! the codec; nothing here touches a file yet.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

/// The bytes of one slot on disk.
pub const SLOT_LEN: usize = 128;
/// A key file's header, before slot 0.
pub const KEY_FILE_HEADER: usize = 64;
const NONCE_LEN: usize = 24;
const PLAIN_LEN: usize = 88;
const TAG_LEN: usize = 16;
// Nonce, ciphertext of the plaintext, tag: exactly one slot.
const _: () = assert!(NONCE_LEN + PLAIN_LEN + TAG_LEN == SLOT_LEN);
const AAD_TAG: &[u8] = b"hearth/v2/keyslot\0";

/// The key slots are sealed with: HKDF of the storage key, info
/// `hearth/v2/keyslots`. Wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct SlotKey(pub(crate) [u8; 32]);

impl std::fmt::Debug for SlotKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("SlotKey(..)")
    }
}

impl SlotKey {
    /// A key for tests and benchmarks.
    pub fn for_tests(byte: u8) -> SlotKey {
        SlotKey([byte; 32])
    }
}

/// Who may hold a content key: the model's rule, stored here as one byte.
pub use hearth_model::records::keys::Audience;

/// What a slot holds.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub enum Slot {
    Key {
        #[zeroize(skip)]
        audience: Audience,
        entry: u128,
        version: [u8; 16],
        key: [u8; 32],
    },
    Forgotten {
        entry: u128,
        version: [u8; 16],
    },
}

impl std::fmt::Debug for Slot {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Slot::Key {
                audience,
                entry,
                version,
                ..
            } => write!(f, "Key({entry:x}, {version:02x?}, {audience:?}, ..)"),
            Slot::Forgotten { entry, version } => {
                write!(f, "Forgotten({entry:x}, {version:02x?})")
            }
        }
    }
}

/// The byte offset of slot `index` in its key file.
pub fn slot_offset(index: u32) -> u64 {
    KEY_FILE_HEADER as u64 + u64::from(index) * SLOT_LEN as u64
}

fn aad(doc: &str, index: u32) -> Vec<u8> {
    let mut aad = AAD_TAG.to_vec();
    // A document id is a few dozen ASCII bytes.
    aad.extend_from_slice(&(doc.len() as u16).to_be_bytes());
    aad.extend_from_slice(doc.as_bytes());
    aad.extend_from_slice(&index.to_be_bytes());
    aad
}

/// Seals `slot` as slot `index` of document `doc`'s key file, with `nonce`
/// (fresh for every write).
pub fn seal_slot(
    key: &SlotKey,
    doc: &str,
    index: u32,
    nonce: [u8; NONCE_LEN],
    slot: &Slot,
) -> [u8; SLOT_LEN] {
    let mut plain = [0u8; PLAIN_LEN];
    let (state, audience, entry, version, content) = match slot {
        Slot::Key {
            audience,
            entry,
            version,
            key,
        } => (1, *audience as u8, entry, version, Some(key)),
        Slot::Forgotten { entry, version } => (2, 0, entry, version, None),
    };
    plain[0] = state;
    plain[1] = audience;
    plain[4..20].copy_from_slice(&entry.to_be_bytes());
    plain[20..36].copy_from_slice(version);
    if let Some(k) = content {
        plain[36..68].copy_from_slice(k);
    }
    let tag = XChaCha20Poly1305::new((&key.0).into())
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad(doc, index), &mut plain)
        .expect("88 bytes always encrypt");
    let mut out = [0u8; SLOT_LEN];
    out[..NONCE_LEN].copy_from_slice(&nonce);
    out[NONCE_LEN..NONCE_LEN + PLAIN_LEN].copy_from_slice(&plain);
    out[NONCE_LEN + PLAIN_LEN..].copy_from_slice(&tag);
    plain.zeroize();
    out
}

/// Reads slot `index` of document `doc`'s key file: `None` for a free slot,
/// which is also what a torn or foreign slot reads as. The documents still
/// say what is forgotten, so a lost tombstone brings nothing back.
pub fn open_slot(key: &SlotKey, doc: &str, index: u32, bytes: &[u8; SLOT_LEN]) -> Option<Slot> {
    if bytes.iter().all(|b| *b == 0) {
        return None;
    }
    let mut plain = [0u8; PLAIN_LEN];
    plain.copy_from_slice(&bytes[NONCE_LEN..NONCE_LEN + PLAIN_LEN]);
    let opened = XChaCha20Poly1305::new((&key.0).into())
        .decrypt_in_place_detached(
            XNonce::from_slice(&bytes[..NONCE_LEN]),
            &aad(doc, index),
            &mut plain,
            Tag::from_slice(&bytes[NONCE_LEN + PLAIN_LEN..]),
        )
        .is_ok();
    let slot = opened.then(|| read(&plain)).flatten();
    plain.zeroize();
    slot
}

fn read(plain: &[u8; PLAIN_LEN]) -> Option<Slot> {
    let entry = u128::from_be_bytes(plain[4..20].try_into().ok()?);
    let version: [u8; 16] = plain[20..36].try_into().ok()?;
    let padding_is_zero = plain[2..4].iter().chain(&plain[68..]).all(|b| *b == 0);
    if !padding_is_zero {
        return None;
    }
    match (plain[0], plain[1]) {
        (1, audience @ (0 | 1)) => Some(Slot::Key {
            audience: if audience == 0 {
                Audience::Mine
            } else {
                Audience::Couple
            },
            entry,
            version,
            key: plain[36..68].try_into().ok()?,
        }),
        (2, 0) if plain[36..68].iter().all(|b| *b == 0) => Some(Slot::Forgotten { entry, version }),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "p/00112233445566778899aabbccddeeff/2026";

    fn key_slot() -> Slot {
        Slot::Key {
            audience: Audience::Mine,
            entry: 0x0190_0000_dead_beef,
            version: [5; 16],
            key: [0xab; 32],
        }
    }

    #[test]
    fn a_slot_opens_as_written_and_shows_nothing_of_its_key() {
        let k = SlotKey::for_tests(1);
        let bytes = seal_slot(&k, DOC, 3, [9; 24], &key_slot());
        assert!(!bytes.windows(4).any(|w| w == [0xab; 4]));
        assert_eq!(open_slot(&k, DOC, 3, &bytes), Some(key_slot()));
        let gone = Slot::Forgotten {
            entry: 0x0190_0000_dead_beef,
            version: [5; 16],
        };
        let bytes = seal_slot(&k, DOC, 3, [8; 24], &gone);
        assert_eq!(open_slot(&k, DOC, 3, &bytes), Some(gone));
        assert_eq!(slot_offset(0), 64);
        assert_eq!(slot_offset(2), 64 + 256);
    }

    #[test]
    fn a_slot_reads_as_free_when_zero_torn_moved_or_under_another_key() {
        let k = SlotKey::for_tests(1);
        let bytes = seal_slot(&k, DOC, 3, [9; 24], &key_slot());
        assert_eq!(open_slot(&k, DOC, 3, &[0; SLOT_LEN]), None);
        assert_eq!(open_slot(&SlotKey::for_tests(2), DOC, 3, &bytes), None);
        assert_eq!(open_slot(&k, DOC, 4, &bytes), None, "moved to slot 4");
        let other = DOC.replace("2026", "2025");
        assert_eq!(open_slot(&k, &other, 3, &bytes), None, "another document");
        for i in 0..SLOT_LEN {
            let mut torn = bytes;
            torn[i] ^= 0x10;
            assert_eq!(open_slot(&k, DOC, 3, &torn), None, "byte {i}");
        }
        // Half a write: the new nonce with the old ciphertext.
        let newer = seal_slot(&k, DOC, 3, [7; 24], &key_slot());
        let mut half = bytes;
        half[..24].copy_from_slice(&newer[..24]);
        assert_eq!(open_slot(&k, DOC, 3, &half), None);
    }
}
