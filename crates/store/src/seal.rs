//! The on-disk container of every file the daemon writes: a fixed header,
//! then the content encrypted with XChaCha20-Poly1305 under the journal's
//! file key (docs/SCHEMA.md, "Encrypted files").
//!
//! The header and the file's name are the associated data, so a file cannot
//! be swapped for another, renamed into place or truncated unseen: the tag
//! takes the place of a checksum. Automerge alone would quietly load the
//! intact prefix of a truncated file.

use chacha20poly1305::aead::{AeadInPlace, KeyInit};
use chacha20poly1305::{Tag, XChaCha20Poly1305, XNonce};
use zeroize::{Zeroize, ZeroizeOnDrop};

pub const MAGIC: &[u8; 8] = b"HEARTH\x00\x02";
const VERSION: u8 = 1;
const NONCE_LEN: usize = 24;
pub const HEADER_LEN: usize = 8 + 1 + 1 + NONCE_LEN + 8;
const TAG_LEN: usize = 16;

/// False only in a build for the encryption cost benchmark (the
/// `unsealed-benchmark` feature), which stores content in the clear.
pub const ENCRYPTED: bool = !cfg!(feature = "unsealed-benchmark");

/// What a sealed file holds; part of the associated data, so a file of one
/// kind never opens as another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Role {
    Identity = 1,
    Manifest = 2,
    Peers = 5,
    Snapshot = 3,
    Chunk = 4,
    ViewCache = 7,
    /// A row of the index (`index.db`), not a file of its own.
    IndexRow = 8,
}

/// The key every sealed file is encrypted with, derived from the storage
/// key (see `storage_key`). Wiped from memory when dropped.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct FileKey([u8; 32]);

impl std::fmt::Debug for FileKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("FileKey(..)")
    }
}

impl FileKey {
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> FileKey {
        FileKey(bytes)
    }

    /// A key for tests and benchmarks that need a journal on disk and no
    /// passphrase.
    pub fn for_tests(byte: u8) -> FileKey {
        FileKey([byte; 32])
    }

    fn cipher(&self) -> XChaCha20Poly1305 {
        XChaCha20Poly1305::new((&self.0).into())
    }
}

/// Why a stored file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SealError {
    #[error("not a hearth file of this version (bad magic)")]
    Magic,
    #[error("written by a newer hearth (format {0})")]
    Version(u8),
    #[error("holds a different kind of content than its name says")]
    Role,
    #[error("truncated: header says {expected} bytes, found {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("trailing garbage: {0} bytes after the content")]
    Trailing(u64),
    #[error("does not decrypt: damaged, renamed, or not written with this journal's key")]
    Tag,
}

fn aad(header: &[u8], name: &str) -> Vec<u8> {
    let mut aad = Vec::with_capacity(header.len() + name.len());
    aad.extend_from_slice(&header[..10]);
    aad.extend_from_slice(name.as_bytes());
    aad.extend_from_slice(&header[34..42]);
    aad
}

/// Encrypts `plain` for the file called `name` (relative to the data
/// directory) with a fresh random nonce.
pub fn seal(key: &FileKey, role: Role, name: &str, plain: &[u8]) -> Vec<u8> {
    let written: Result<_, std::convert::Infallible> = seal_with(key, role, name, |out| {
        out.extend_from_slice(plain);
        Ok(())
    });
    written.unwrap_or_else(|never| match never {})
}

/// As [`seal`], with the content written by `write` straight after the
/// header and encrypted where it lies: one buffer, not a plaintext and a
/// ciphertext side by side (the view cache is megabytes).
pub fn seal_with<E>(
    key: &FileKey,
    role: Role,
    name: &str,
    write: impl FnOnce(&mut Vec<u8>) -> Result<(), E>,
) -> Result<Vec<u8>, E> {
    let nonce: [u8; NONCE_LEN] = rand::random();
    let mut out = Vec::new();
    out.extend_from_slice(MAGIC);
    out.push(VERSION);
    out.push(role as u8);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&[0; 8]);
    write(&mut out)?;
    let len = (out.len() - HEADER_LEN + TAG_LEN) as u64;
    out[34..42].copy_from_slice(&len.to_le_bytes());
    if !ENCRYPTED {
        out.extend_from_slice(&[0; TAG_LEN]);
        return Ok(out);
    }
    let aad = aad(&out, name);
    let tag = key
        .cipher()
        .encrypt_in_place_detached(XNonce::from_slice(&nonce), &aad, &mut out[HEADER_LEN..])
        .expect("XChaCha20-Poly1305 encrypts any length a file can have");
    out.extend_from_slice(&tag);
    Ok(out)
}

/// Decrypts a file written by [`seal`] under the same name and role.
pub fn open(key: &FileKey, role: Role, name: &str, bytes: &[u8]) -> Result<Vec<u8>, SealError> {
    open_owned(key, role, name, bytes.to_vec())
}

/// As [`open`], decrypting in the buffer the file was read into, which
/// becomes the plaintext.
pub fn open_owned(
    key: &FileKey,
    role: Role,
    name: &str,
    mut bytes: Vec<u8>,
) -> Result<Vec<u8>, SealError> {
    check_header(role, &bytes)?;
    let aad = aad(&bytes, name);
    let nonce = *XNonce::from_slice(&bytes[10..34]);
    let body_len = bytes.len() - HEADER_LEN - TAG_LEN;
    if ENCRYPTED {
        let (body, tag) = bytes[HEADER_LEN..].split_at_mut(body_len);
        key.cipher()
            .decrypt_in_place_detached(&nonce, &aad, body, Tag::from_slice(tag))
            .map_err(|_| SealError::Tag)?;
    }
    bytes.truncate(HEADER_LEN + body_len);
    bytes.drain(..HEADER_LEN);
    Ok(bytes)
}

/// The checks before decrypting: magic, version, role, and a length that
/// matches what is there.
fn check_header(role: Role, bytes: &[u8]) -> Result<(), SealError> {
    if bytes.len() < HEADER_LEN {
        return if bytes.len() >= 8 && &bytes[..8] != MAGIC {
            Err(SealError::Magic)
        } else {
            Err(SealError::Truncated {
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            })
        };
    }
    if &bytes[..8] != MAGIC {
        return Err(SealError::Magic);
    }
    if bytes[8] != VERSION {
        return Err(SealError::Version(bytes[8]));
    }
    if bytes[9] != role as u8 {
        return Err(SealError::Role);
    }
    let len = u64::from_le_bytes(bytes[34..42].try_into().expect("8 bytes"));
    let found = (bytes.len() - HEADER_LEN) as u64;
    if found < len {
        return Err(SealError::Truncated {
            expected: len,
            found,
        });
    }
    if found > len {
        return Err(SealError::Trailing(found - len));
    }
    if len < TAG_LEN as u64 {
        return Err(SealError::Tag);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const NAME: &str = "journal/chunk-0000000001.am";

    #[test]
    fn what_is_sealed_opens_and_shows_nothing_of_itself() {
        let key = FileKey::for_tests(1);
        let text = b"the words of a private evening";
        let bytes = seal(&key, Role::Chunk, NAME, text);
        assert!(
            !bytes.windows(5).any(|w| w == b"words"),
            "no plain text in the file"
        );
        assert_eq!(open(&key, Role::Chunk, NAME, &bytes).unwrap(), text);
        // Two seals of the same text differ: the nonce is fresh.
        assert_ne!(bytes, seal(&key, Role::Chunk, NAME, text));
    }

    #[test]
    fn content_written_into_the_seal_opens_like_any_other() {
        let key = FileKey::for_tests(2);
        let text = b"a view cache, written straight into its file";
        let bytes = seal_with(&key, Role::ViewCache, NAME, |out| {
            out.extend_from_slice(text);
            Ok::<_, ()>(())
        })
        .unwrap();
        assert_eq!(bytes.len(), HEADER_LEN + text.len() + TAG_LEN);
        assert!(!bytes.windows(5).any(|w| w == b"cache"));
        assert_eq!(open(&key, Role::ViewCache, NAME, &bytes).unwrap(), text);
        assert_eq!(
            open_owned(&key, Role::ViewCache, NAME, bytes.clone()).unwrap(),
            text
        );
        let mut flipped = bytes.clone();
        flipped[HEADER_LEN] ^= 1;
        assert_eq!(
            open_owned(&key, Role::ViewCache, NAME, flipped),
            Err(SealError::Tag)
        );
        // A writer that fails gives its error and no file.
        assert_eq!(
            seal_with(&key, Role::ViewCache, NAME, |_| Err("full")),
            Err("full")
        );
        // An empty content still has its tag; a file shorter than one fails.
        let empty = seal(&key, Role::Chunk, NAME, b"");
        assert_eq!(open(&key, Role::Chunk, NAME, &empty).unwrap(), b"");
        let mut short = empty[..HEADER_LEN + 4].to_vec();
        short[34..42].copy_from_slice(&4u64.to_le_bytes());
        assert_eq!(open(&key, Role::Chunk, NAME, &short), Err(SealError::Tag));
    }

    #[test]
    fn damage_of_every_kind_is_named() {
        let key = FileKey::for_tests(1);
        let bytes = seal(&key, Role::Chunk, NAME, b"some content");
        let open = |b: &[u8]| open(&key, Role::Chunk, NAME, b);
        assert!(matches!(
            open(&bytes[..bytes.len() - 3]),
            Err(SealError::Truncated { .. })
        ));
        assert!(matches!(
            open(&bytes[..20]),
            Err(SealError::Truncated { .. })
        ));
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(open(&longer), Err(SealError::Trailing(1)));
        let mut flipped = bytes.clone();
        *flipped.last_mut().unwrap() ^= 1;
        assert_eq!(open(&flipped), Err(SealError::Tag));
        let mut magic = bytes.clone();
        magic[0] = b'X';
        assert_eq!(open(&magic), Err(SealError::Magic));
        let mut version = bytes.clone();
        version[8] = 9;
        assert_eq!(open(&version), Err(SealError::Version(9)));
    }

    #[test]
    fn a_file_opens_only_under_its_own_name_role_and_key() {
        let key = FileKey::for_tests(1);
        let bytes = seal(&key, Role::Chunk, NAME, b"content");
        assert_eq!(
            open(&key, Role::Chunk, "journal/chunk-0000000002.am", &bytes),
            Err(SealError::Tag),
            "renamed into another file's place"
        );
        assert_eq!(
            open(&key, Role::Snapshot, NAME, &bytes),
            Err(SealError::Role)
        );
        assert_eq!(
            open(&FileKey::for_tests(2), Role::Chunk, NAME, &bytes),
            Err(SealError::Tag)
        );
        // The role byte is also authenticated, not only compared.
        let mut relabelled = bytes.clone();
        relabelled[9] = Role::Snapshot as u8;
        assert_eq!(
            open(&key, Role::Snapshot, NAME, &relabelled),
            Err(SealError::Tag)
        );
    }
}
