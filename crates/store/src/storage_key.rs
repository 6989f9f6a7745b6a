//! The storage key: 32 random bytes from which the key of every sealed file
//! is derived, and `<data>/storage-key`, which says where it is kept
//! (docs/SCHEMA.md, "The storage key"):
//!
//! - `passphrase`: wrapped with XChaCha20-Poly1305 under a key that
//!   argon2id derives from the passphrase; the KDF's parameters are in the
//!   file so they can be raised later;
//! - `keyring`: in the OS keyring, under the service and account the file
//!   names (the daemon crate reads and writes the keyring itself);
//! - `plain`: in the file itself, for `--no-passphrase`. That protects
//!   nothing from someone who has the disk, and the docs say so.
//!
//! Changing the passphrase rewraps the same storage key, so no other file
//! is rewritten.

use std::path::Path;

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use serde::{Deserialize, Serialize};
use zeroize::{Zeroize, ZeroizeOnDrop, Zeroizing};

use crate::StoreError;
use crate::seal::FileKey;

pub const FILE_NAME: &str = "storage-key";

/// The service every keyring item of hearth is filed under; the account
/// tells one data directory's from another's.
pub const KEYRING_SERVICE: &str = "hearth";

/// RFC 9106's second recommended parameter set: argon2id, 64 MiB, three
/// passes, one lane.
const M_KIB: u32 = 64 * 1024;
const T: u32 = 3;
const P: u32 = 1;

#[derive(Debug, thiserror::Error)]
pub enum KeyError {
    #[error("wrong passphrase")]
    WrongPassphrase,
    #[error("{0}: not a valid storage key file ({1})")]
    Invalid(String, String),
    #[error("the passphrase is empty")]
    EmptyPassphrase,
    #[error(
        "the OS keyring's secret for this journal is {0} bytes, not a 32-byte storage key; nothing was opened"
    )]
    NotAKey(usize),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// The storage key itself. Wiped from memory when dropped.
#[derive(Zeroize, ZeroizeOnDrop)]
pub struct StorageKey([u8; 32]);

impl StorageKey {
    fn random() -> StorageKey {
        StorageKey(rand::random())
    }

    /// The key as the OS keyring holds it: its 32 bytes.
    pub fn from_secret(secret: &[u8]) -> Result<StorageKey, KeyError> {
        let key: [u8; 32] = secret
            .try_into()
            .map_err(|_| KeyError::NotAKey(secret.len()))?;
        Ok(StorageKey(key))
    }

    /// The 32 bytes to hand the OS keyring, and nothing else.
    pub fn secret(&self) -> &[u8] {
        &self.0
    }

    /// The key sealed files are encrypted with: HKDF-SHA256 of the storage
    /// key, info `hearth/v2/files`.
    pub fn file_key(&self) -> FileKey {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.0)
            .expand(b"hearth/v2/files", &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        FileKey::from_bytes(out)
    }

    /// The key the slots of key files are sealed with: HKDF-SHA256 of the
    /// storage key, info `hearth/v2/keyslots`.
    pub fn slot_key(&self) -> crate::keyslot::SlotKey {
        let mut out = [0u8; 32];
        hkdf::Hkdf::<sha2::Sha256>::new(None, &self.0)
            .expand(b"hearth/v2/keyslots", &mut out)
            .expect("32 bytes is a valid HKDF-SHA256 output length");
        crate::keyslot::SlotKey(out)
    }
}

/// The key argon2id derives from a passphrase, which unwraps the storage
/// key. The CLI derives it and hands it to the daemon, so the daemon need
/// not hold the KDF's memory or ever see the passphrase.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct WrapKey([u8; 32]);

impl WrapKey {
    pub fn to_hex(&self) -> Zeroizing<String> {
        Zeroizing::new(hex::encode(self.0))
    }

    pub fn from_hex(s: &str) -> Option<WrapKey> {
        let mut out = [0u8; 32];
        hex::decode_to_slice(s, &mut out).ok()?;
        Some(WrapKey(out))
    }
}

/// How the wrap key is derived: recorded in the file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Kdf {
    pub alg: String,
    pub v: u32,
    pub m_kib: u32,
    pub t: u32,
    pub p: u32,
    /// 32 bytes, hex.
    pub salt: String,
}

impl Kdf {
    fn fresh(m_kib: u32, t: u32, p: u32) -> Kdf {
        Kdf {
            alg: "argon2id".into(),
            v: 0x13,
            m_kib,
            t,
            p,
            salt: hex::encode(rand::random::<[u8; 32]>()),
        }
    }

    /// Runs argon2id over `passphrase`: about 64 MiB and a fraction of a
    /// second with the standard parameters.
    pub fn derive(&self, passphrase: &str) -> Result<WrapKey, KeyError> {
        if passphrase.is_empty() {
            return Err(KeyError::EmptyPassphrase);
        }
        let bad = |why: &str| KeyError::Invalid(FILE_NAME.into(), why.into());
        if self.alg != "argon2id" || self.v != 0x13 {
            return Err(bad("unknown key derivation"));
        }
        let salt = hex::decode(&self.salt).map_err(|_| bad("salt is not hex"))?;
        let params = argon2::Params::new(self.m_kib, self.t, self.p, Some(32))
            .map_err(|e| bad(&e.to_string()))?;
        let argon =
            argon2::Argon2::new(argon2::Algorithm::Argon2id, argon2::Version::V0x13, params);
        let mut out = [0u8; 32];
        argon
            .hash_password_into(passphrase.as_bytes(), &salt, &mut out)
            .map_err(|e| bad(&e.to_string()))?;
        Ok(WrapKey(out))
    }

    /// The associated data of the wrapped key: the parameters are bound to
    /// it, so lowering them in the file makes the unwrap fail.
    fn aad(&self) -> Vec<u8> {
        let mut aad = b"hearth/v2/wrap".to_vec();
        aad.extend_from_slice(&serde_json::to_vec(self).expect("kdf serialises"));
        aad
    }
}

/// `<data>/storage-key`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "lowercase")]
pub enum KeyFile {
    Passphrase {
        kdf: Kdf,
        /// 24 bytes, hex.
        nonce: String,
        /// The storage key and its tag, hex.
        wrapped: String,
    },
    Keyring {
        service: String,
        /// The data directory's id: random, so two journals on one machine
        /// have two items.
        account: String,
    },
    Plain {
        key: String,
    },
}

impl KeyFile {
    /// A new storage key, kept in the file itself.
    pub fn new_plain() -> (KeyFile, StorageKey) {
        let key = StorageKey::random();
        let file = KeyFile::Plain {
            key: hex::encode(key.0),
        };
        (file, key)
    }

    /// A new storage key, for the OS keyring, and a new account to file
    /// it under.
    pub fn new_keyring() -> (KeyFile, StorageKey) {
        let file = KeyFile::Keyring {
            service: KEYRING_SERVICE.into(),
            account: hex::encode(rand::random::<[u8; 16]>()),
        };
        (file, StorageKey::random())
    }

    /// Where the OS keyring keeps the key: service and account, or None
    /// when this journal keeps it elsewhere.
    pub fn keyring(&self) -> Option<(&str, &str)> {
        match self {
            KeyFile::Keyring { service, account } => Some((service, account)),
            _ => None,
        }
    }

    /// A new storage key, wrapped under `passphrase`.
    pub fn new_passphrase(passphrase: &str) -> Result<(KeyFile, StorageKey), KeyError> {
        let key = StorageKey::random();
        let file = KeyFile::wrap(&key, Kdf::fresh(M_KIB, T, P), passphrase)?;
        Ok((file, key))
    }

    /// The same, with cheap KDF parameters: for the store's own unit tests.
    #[cfg(test)]
    fn new_passphrase_cheap(passphrase: &str) -> (KeyFile, StorageKey) {
        let key = StorageKey::random();
        let file = KeyFile::wrap(&key, Kdf::fresh(64, 1, 1), passphrase).unwrap();
        (file, key)
    }

    fn wrap(key: &StorageKey, kdf: Kdf, passphrase: &str) -> Result<KeyFile, KeyError> {
        let wrap = kdf.derive(passphrase)?;
        let nonce: [u8; 24] = rand::random();
        let wrapped = XChaCha20Poly1305::new((&wrap.0).into())
            .encrypt(
                XNonce::from_slice(&nonce),
                Payload {
                    msg: &key.0,
                    aad: &kdf.aad(),
                },
            )
            .expect("32 bytes encrypt");
        Ok(KeyFile::Passphrase {
            kdf,
            nonce: hex::encode(nonce),
            wrapped: hex::encode(wrapped),
        })
    }

    /// The same storage key under a new passphrase, with a fresh salt.
    pub fn rewrap(key: &StorageKey, passphrase: &str) -> Result<KeyFile, KeyError> {
        KeyFile::wrap(key, Kdf::fresh(M_KIB, T, P), passphrase)
    }

    /// The KDF to run over a passphrase, or None when no passphrase is set.
    pub fn kdf(&self) -> Option<&Kdf> {
        match self {
            KeyFile::Passphrase { kdf, .. } => Some(kdf),
            KeyFile::Keyring { .. } | KeyFile::Plain { .. } => None,
        }
    }

    /// The storage key of a journal made with `--no-passphrase`.
    pub fn plain_key(&self) -> Result<Option<StorageKey>, KeyError> {
        match self {
            KeyFile::Plain { key } => {
                let mut out = [0u8; 32];
                hex::decode_to_slice(key, &mut out).map_err(|_| {
                    KeyError::Invalid(FILE_NAME.into(), "key is not 32 hex bytes".into())
                })?;
                Ok(Some(StorageKey(out)))
            }
            KeyFile::Passphrase { .. } | KeyFile::Keyring { .. } => Ok(None),
        }
    }

    /// Unwraps the storage key with a key derived from the passphrase. A
    /// wrong passphrase fails the tag.
    pub fn unwrap_with(&self, wrap: &WrapKey) -> Result<StorageKey, KeyError> {
        let KeyFile::Passphrase {
            kdf,
            nonce,
            wrapped,
        } = self
        else {
            return Err(KeyError::Invalid(
                FILE_NAME.into(),
                "this journal has no passphrase".into(),
            ));
        };
        let bad = |why: &str| KeyError::Invalid(FILE_NAME.into(), why.into());
        let mut n = [0u8; 24];
        hex::decode_to_slice(nonce, &mut n).map_err(|_| bad("nonce is not 24 hex bytes"))?;
        let wrapped = hex::decode(wrapped).map_err(|_| bad("wrapped key is not hex"))?;
        let plain = Zeroizing::new(
            XChaCha20Poly1305::new((&wrap.0).into())
                .decrypt(
                    XNonce::from_slice(&n),
                    Payload {
                        msg: &wrapped,
                        aad: &kdf.aad(),
                    },
                )
                .map_err(|_| KeyError::WrongPassphrase)?,
        );
        let key: [u8; 32] = plain
            .as_slice()
            .try_into()
            .map_err(|_| bad("wrapped key is not 32 bytes"))?;
        Ok(StorageKey(key))
    }

    /// Derives from `passphrase` and unwraps: what a daemon started with
    /// `HEARTH_PASSPHRASE` does for itself.
    pub fn unlock(&self, passphrase: &str) -> Result<StorageKey, KeyError> {
        match self {
            KeyFile::Passphrase { kdf, .. } => self.unwrap_with(&kdf.derive(passphrase)?),
            KeyFile::Plain { .. } => self.plain_key().map(|k| k.expect("plain")),
            KeyFile::Keyring { .. } => Err(KeyError::Invalid(
                FILE_NAME.into(),
                "this journal keeps its key in the OS keyring, not under a passphrase".into(),
            )),
        }
    }

    /// The file in `data`, or None if there is none yet.
    pub fn read(data: &Path) -> Result<Option<KeyFile>, KeyError> {
        let path = data.join(FILE_NAME);
        match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes)
                .map(Some)
                .map_err(|e| KeyError::Invalid(path.display().to_string(), e.to_string())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(source) => Err(StoreError::Io { path, source }.into()),
        }
    }

    /// Writes the file durably, replacing any earlier one in one rename.
    pub fn write(&self, data: &Path) -> Result<(), KeyError> {
        crate::create_private_dir(data)?;
        let bytes = Zeroizing::new(serde_json::to_vec_pretty(self).expect("key file serialises"));
        crate::write_durably(data, FILE_NAME, &bytes)?;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::seal::{Role, open, seal};

    #[test]
    fn a_passphrase_unwraps_the_key_and_a_wrong_one_does_not() {
        let (file, key) = KeyFile::new_passphrase_cheap("correct horse");
        let sealed = seal(&key.file_key(), Role::Chunk, "x", b"entry");
        let again = file.unlock("correct horse").unwrap();
        assert_eq!(
            open(&again.file_key(), Role::Chunk, "x", &sealed).unwrap(),
            b"entry"
        );
        assert!(matches!(
            file.unlock("correct horsf"),
            Err(KeyError::WrongPassphrase)
        ));
        assert!(matches!(file.unlock(""), Err(KeyError::EmptyPassphrase)));
    }

    #[test]
    fn the_kdf_parameters_are_bound_to_the_wrapped_key() {
        let (file, _) = KeyFile::new_passphrase_cheap("pw");
        let KeyFile::Passphrase {
            mut kdf,
            nonce,
            wrapped,
        } = file
        else {
            panic!()
        };
        kdf.t = 2;
        let weakened = KeyFile::Passphrase {
            kdf,
            nonce,
            wrapped,
        };
        assert!(matches!(
            weakened.unlock("pw"),
            Err(KeyError::WrongPassphrase)
        ));
    }

    #[test]
    fn a_new_passphrase_wraps_the_same_key() {
        let (file, key) = KeyFile::new_passphrase_cheap("old");
        let KeyFile::Passphrase { kdf, .. } = &file else {
            panic!()
        };
        let cheap = Kdf::fresh(kdf.m_kib, kdf.t, kdf.p);
        let new = KeyFile::wrap(&key, cheap, "new").unwrap();
        assert!(matches!(new.unlock("old"), Err(KeyError::WrongPassphrase)));
        assert_eq!(new.unlock("new").unwrap().0, key.0);
    }

    #[test]
    fn the_file_round_trips_and_holds_no_key_in_the_clear() {
        let dir = tempfile::tempdir().unwrap();
        let (file, key) = KeyFile::new_passphrase_cheap("pw");
        file.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!text.contains(&hex::encode(key.0)));
        assert_eq!(KeyFile::read(dir.path()).unwrap(), Some(file));
        let (plain, pkey) = KeyFile::new_plain();
        plain.write(dir.path()).unwrap();
        let back = KeyFile::read(dir.path()).unwrap().unwrap();
        assert_eq!(back.plain_key().unwrap().unwrap().0, pkey.0);
        assert!(back.kdf().is_none());
    }

    #[test]
    fn a_keyring_file_names_where_the_key_is_and_holds_nothing_of_it() {
        let dir = tempfile::tempdir().unwrap();
        let (file, key) = KeyFile::new_keyring();
        file.write(dir.path()).unwrap();
        let text = std::fs::read_to_string(dir.path().join(FILE_NAME)).unwrap();
        assert!(!text.contains(&hex::encode(key.0)), "{text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["mode"], "keyring");
        assert_eq!(json["service"], "hearth");
        assert_eq!(json["account"].as_str().unwrap().len(), 32);
        let back = KeyFile::read(dir.path()).unwrap().unwrap();
        assert_eq!(back, file);
        assert!(back.kdf().is_none());
        assert!(back.plain_key().unwrap().is_none());
        assert!(matches!(back.unlock("pw"), Err(KeyError::Invalid(..))));
        // Two journals, two accounts.
        assert_ne!(KeyFile::new_keyring().0, file);
    }

    #[test]
    fn only_32_bytes_from_the_keyring_make_a_key() {
        let (_, key) = KeyFile::new_keyring();
        assert_eq!(StorageKey::from_secret(key.secret()).unwrap().0, key.0);
        for len in [0, 31, 33, 64] {
            assert!(matches!(
                StorageKey::from_secret(&vec![7; len]),
                Err(KeyError::NotAKey(n)) if n == len
            ));
        }
    }
}
