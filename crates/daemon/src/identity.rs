//! This device's identity: its sync key (whose public half is the device
//! id and the Automerge actor), which partner writes here, and the port it
//! last listened on. Kept in `<data>/identity`, sealed with the journal's
//! file key, owner-only, never synced.

use std::fs;
use std::path::{Path, PathBuf};

use hearth_store::FileKey;
use hearth_store::seal::{self, Role};
use zeroize::Zeroizing;

use hearth_model::{DeviceId, PartnerId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    /// Hex of the 32-byte iroh secret key. Whoever has it can pose as this
    /// device, hence the file's 0600.
    pub secret_key: String,
    /// Hex of the public key: the endpoint id peers know us by.
    pub device: DeviceId,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub partner: Option<PartnerId>,
    #[serde(default)]
    pub port: Option<u16>,
    /// Devices paired with this one (or added with `peers add`) whose
    /// records have not settled yet: they may sync the couple document, so
    /// that the records pairing owes can be written (docs/SCHEMA.md,
    /// "Trust"). Hex device ids.
    #[serde(default)]
    pub paired: Vec<String>,
    /// Set once a device of the couple proved that it removed this one:
    /// who, and when (their clock, ms since the epoch). It never syncs
    /// again, and keeps what it holds.
    #[serde(default)]
    pub removed: Option<RemovedBy>,
}

/// Who removed this device, as its own records name them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RemovedBy {
    pub by: String,
    pub at: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not a valid identity file ({1}); move it away to start afresh")]
    Invalid(String, serde_json::Error),
    #[error("{0} {1}: the storage key does not open this journal")]
    Sealed(String, hearth_store::SealError),
    #[error("{0}: the secret key and device id do not match; the file is damaged")]
    Mismatch(String),
    #[error("{0}")]
    Store(#[from] hearth_store::StoreError),
}

fn hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, b) in out.iter_mut().enumerate() {
        *b = u8::from_str_radix(s.get(2 * i..2 * i + 2)?, 16).ok()?;
    }
    Some(out)
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Where the identity lives and the key it is sealed with.
#[derive(Debug, Clone)]
pub struct IdentityFile {
    pub path: PathBuf,
    pub key: FileKey,
}

/// The name the identity is sealed under (relative to the data directory).
const SEALED_NAME: &str = "identity";

impl IdentityFile {
    /// Loads the identity, creating a new device key on first start.
    pub fn load_or_create(&self) -> Result<Identity, IdentityError> {
        let shown = self.path.display().to_string();
        match fs::read(&self.path) {
            Ok(bytes) => {
                let plain = Zeroizing::new(
                    seal::open(&self.key, Role::Identity, SEALED_NAME, &bytes)
                        .map_err(|e| IdentityError::Sealed(shown.clone(), e))?,
                );
                let id: Identity = serde_json::from_slice(&plain)
                    .map_err(|e| IdentityError::Invalid(shown.clone(), e))?;
                let key =
                    hex32(&id.secret_key).ok_or_else(|| IdentityError::Mismatch(shown.clone()))?;
                if hearth_sync::device_id(&key).to_string() != id.device.0 {
                    return Err(IdentityError::Mismatch(shown));
                }
                Ok(id)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let key = hearth_sync::new_secret_key();
                let id = Identity {
                    secret_key: hex(&key),
                    device: DeviceId(hearth_sync::device_id(&key).to_string().into()),
                    device_name: None,
                    partner: None,
                    port: None,
                    paired: Vec::new(),
                    removed: None,
                };
                self.save(&id)?;
                Ok(id)
            }
            Err(e) => Err(IdentityError::Io(shown, e)),
        }
    }

    pub fn save(&self, id: &Identity) -> Result<(), IdentityError> {
        let path: &Path = &self.path;
        let dir = path.parent().expect("identity has a parent dir");
        hearth_store::create_private_dir(dir)?;
        let plain = Zeroizing::new(serde_json::to_vec(id).expect("identity serialises"));
        let sealed = seal::seal(&self.key, Role::Identity, SEALED_NAME, &plain);
        let name = path.file_name().expect("file name").to_string_lossy();
        hearth_store::write_durably(dir, &name, &sealed)?;
        Ok(())
    }
}

impl Identity {
    pub fn secret(&self) -> [u8; 32] {
        hex32(&self.secret_key).expect("checked at load")
    }

    /// The Automerge actor for this device's changes: its public key.
    pub fn actor(&self) -> automerge::ActorId {
        automerge::ActorId::from(hex32(&self.device.0).expect("checked at load").to_vec())
    }
}
