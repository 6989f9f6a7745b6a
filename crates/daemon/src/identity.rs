//! This device's identity: which partner writes here, and the device's own
//! id (also its Automerge actor). Kept in `identity.json`, owner-only.

use std::fs;
use std::path::Path;

use hearth_model::{DeviceId, PartnerId};
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Identity {
    pub device: DeviceId,
    #[serde(default)]
    pub device_name: Option<String>,
    #[serde(default)]
    pub partner: Option<PartnerId>,
}

#[derive(Debug, thiserror::Error)]
pub enum IdentityError {
    #[error("{0}: {1}")]
    Io(String, std::io::Error),
    #[error("{0}: not a valid identity file ({1}); move it away to start afresh")]
    Invalid(String, serde_json::Error),
    #[error("{0}: `device` must be 32 hex characters")]
    BadDevice(String),
    #[error("{0}")]
    Store(#[from] hearth_store::StoreError),
}

impl Identity {
    /// Loads the identity, creating a new device id on first start.
    pub fn load_or_create(path: &Path, random: u128) -> Result<Identity, IdentityError> {
        let shown = path.display().to_string();
        match fs::read(path) {
            Ok(bytes) => {
                let id: Identity = serde_json::from_slice(&bytes)
                    .map_err(|e| IdentityError::Invalid(shown.clone(), e))?;
                if id.device.0.len() != 32 || !id.device.0.bytes().all(|b| b.is_ascii_hexdigit()) {
                    return Err(IdentityError::BadDevice(shown));
                }
                Ok(id)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let id = Identity {
                    device: DeviceId(format!("{random:032x}")),
                    device_name: None,
                    partner: None,
                };
                id.save(path)?;
                Ok(id)
            }
            Err(e) => Err(IdentityError::Io(shown, e)),
        }
    }

    pub fn save(&self, path: &Path) -> Result<(), IdentityError> {
        let dir = path.parent().expect("identity has a parent dir");
        hearth_store::create_private_dir(dir)?;
        let bytes = serde_json::to_vec_pretty(self).expect("identity serialises");
        let name = path.file_name().expect("file name").to_string_lossy();
        hearth_store::write_durably(dir, &name, &bytes)?;
        Ok(())
    }

    /// The Automerge actor for this device's changes.
    pub fn actor(&self) -> automerge::ActorId {
        let bytes: Vec<u8> = (0..16)
            .map(|i| u8::from_str_radix(&self.device.0[2 * i..2 * i + 2], 16).expect("checked hex"))
            .collect();
        automerge::ActorId::from(bytes)
    }
}
