//! The OS keyring, where a journal made with `hearth init --keyring` keeps
//! its storage key (docs/SCHEMA.md, "The storage key"): the Secret Service
//! on Linux, spoken over D-Bus by a pure-Rust client, and the Keychain on
//! macOS. Other systems have none here.
//!
//! The item holds the key's 32 bytes and is found by two attributes,
//! `service` and `account`, the names the key file records. Nothing here
//! logs or formats a secret.

use std::time::Duration;

use hearth_store::{KeyError, StorageKey};

/// A keyring that hangs leaves the daemon locked, not stuck.
const READ_TIMEOUT: Duration = Duration::from_secs(10);
/// Storing may show a prompt to unlock the keyring; someone is at the
/// terminal then (`hearth init --keyring`).
const STORE_TIMEOUT: Duration = Duration::from_secs(120);

#[derive(Debug, thiserror::Error)]
pub enum KeyringError {
    /// No keyring answered: no D-Bus session, no Secret Service on it, a
    /// system without one, or a refusal.
    #[error("no OS keyring answers ({0})")]
    Unavailable(String),
    #[error("the OS keyring did not answer within {0} seconds")]
    TimedOut(u64),
    #[error("the OS keyring is locked; unlock it (log in to the desktop)")]
    Locked,
    #[error("the OS keyring holds no key for this journal (service {service}, account {account})")]
    Missing { service: String, account: String },
    /// The item is there, but what it holds is not a storage key.
    #[error(transparent)]
    NotAKey(KeyError),
}

impl KeyringError {
    /// Whether the keyring may answer later, so the daemon waits locked
    /// rather than stopping: it may start before the desktop's keyring.
    pub fn may_pass(&self) -> bool {
        !matches!(self, KeyringError::NotAKey(_))
    }
}

/// The storage key kept under `service` and `account`.
pub async fn storage_key(service: &str, account: &str) -> Result<StorageKey, KeyringError> {
    let secret = tokio::time::timeout(READ_TIMEOUT, imp::read(service, account))
        .await
        .map_err(|_| KeyringError::TimedOut(READ_TIMEOUT.as_secs()))??;
    StorageKey::from_secret(&secret).map_err(KeyringError::NotAKey)
}

/// Files `key` under `service` and `account`, replacing any item there.
/// `label` is what the keyring's own tools show.
pub async fn store(
    service: &str,
    account: &str,
    label: &str,
    key: &StorageKey,
) -> Result<(), KeyringError> {
    tokio::time::timeout(
        STORE_TIMEOUT,
        imp::store(service, account, label, key.secret()),
    )
    .await
    .map_err(|_| KeyringError::TimedOut(STORE_TIMEOUT.as_secs()))?
}

/// Errors from D-Bus may span lines; ours never do.
fn one_line(e: impl std::fmt::Display) -> String {
    e.to_string().replace('\n', " ")
}

#[cfg(target_os = "linux")]
mod imp {
    use std::collections::HashMap;

    use secret_service::{EncryptionType, Error, SecretService};
    use zeroize::Zeroizing;

    use super::{KeyringError, one_line};

    fn attributes<'a>(service: &'a str, account: &'a str) -> HashMap<&'a str, &'a str> {
        HashMap::from([("service", service), ("account", account)])
    }

    fn unavailable(e: Error) -> KeyringError {
        match e {
            Error::Locked | Error::Prompt | Error::PromptDisconnected => KeyringError::Locked,
            e => KeyringError::Unavailable(one_line(e)),
        }
    }

    /// A plain session: the secret crosses only this user's own session
    /// bus, which nobody else can listen on; the transport encryption of
    /// the `dh` session would guard against no one more.
    async fn connect() -> Result<SecretService<'static>, KeyringError> {
        SecretService::connect(EncryptionType::Plain)
            .await
            .map_err(unavailable)
    }

    /// Never prompts: a daemon starting at login has nobody to ask.
    pub async fn read(service: &str, account: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let ss = connect().await?;
        let found = ss
            .search_items(attributes(service, account))
            .await
            .map_err(unavailable)?;
        match found.unlocked.first() {
            Some(item) => item
                .get_secret()
                .await
                .map(Zeroizing::new)
                .map_err(unavailable),
            None if !found.locked.is_empty() => Err(KeyringError::Locked),
            None => Err(KeyringError::Missing {
                service: service.into(),
                account: account.into(),
            }),
        }
    }

    pub async fn store(
        service: &str,
        account: &str,
        label: &str,
        secret: &[u8],
    ) -> Result<(), KeyringError> {
        let ss = connect().await?;
        let collection = ss.get_default_collection().await.map_err(unavailable)?;
        if collection.is_locked().await.map_err(unavailable)? {
            collection.unlock().await.map_err(unavailable)?;
        }
        collection
            .create_item(
                label,
                attributes(service, account),
                secret,
                true,
                "application/octet-stream",
            )
            .await
            .map_err(unavailable)?;
        Ok(())
    }
}

/// Not testable on the Linux machines this is built and tested on: the
/// calls are the Security framework's generic passwords, run off the async
/// threads since the Keychain may ask the user.
#[cfg(target_os = "macos")]
mod imp {
    use security_framework::passwords::{get_generic_password, set_generic_password};
    use zeroize::Zeroizing;

    use super::{KeyringError, one_line};

    /// errSecItemNotFound.
    const NOT_FOUND: i32 = -25300;

    async fn blocking<T: Send + 'static>(
        f: impl FnOnce() -> Result<T, KeyringError> + Send + 'static,
    ) -> Result<T, KeyringError> {
        tokio::task::spawn_blocking(f)
            .await
            .map_err(|e| KeyringError::Unavailable(one_line(e)))?
    }

    pub async fn read(service: &str, account: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        let (service, account) = (service.to_string(), account.to_string());
        blocking(move || match get_generic_password(&service, &account) {
            Ok(secret) => Ok(Zeroizing::new(secret)),
            Err(e) if e.code() == NOT_FOUND => Err(KeyringError::Missing { service, account }),
            Err(e) => Err(KeyringError::Unavailable(one_line(e))),
        })
        .await
    }

    pub async fn store(
        service: &str,
        account: &str,
        _label: &str,
        secret: &[u8],
    ) -> Result<(), KeyringError> {
        let (service, account) = (service.to_string(), account.to_string());
        let secret = Zeroizing::new(secret.to_vec());
        blocking(move || {
            set_generic_password(&service, &account, &secret)
                .map_err(|e| KeyringError::Unavailable(one_line(e)))
        })
        .await
    }
}

#[cfg(not(any(target_os = "linux", target_os = "macos")))]
mod imp {
    use zeroize::Zeroizing;

    use super::KeyringError;

    const NONE: &str = "hearth knows no keyring on this system";

    pub async fn read(_: &str, _: &str) -> Result<Zeroizing<Vec<u8>>, KeyringError> {
        Err(KeyringError::Unavailable(NONE.into()))
    }

    pub async fn store(_: &str, _: &str, _: &str, _: &[u8]) -> Result<(), KeyringError> {
        Err(KeyringError::Unavailable(NONE.into()))
    }
}
