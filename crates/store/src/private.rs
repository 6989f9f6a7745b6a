//! Directories and files that only this user can read, and that nobody else
//! can have planted: hearth refuses a directory that is a symbolic link or
//! belongs to another user, rather than writing a journal through it.

use std::fs;
use std::os::unix::fs::{DirBuilderExt, MetadataExt, PermissionsExt};
use std::path::Path;

use crate::StoreError;

/// Why a directory is not safe to keep hearth's files in.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Unsafe {
    #[error("it is a symbolic link")]
    Symlink,
    #[error("it is not a directory")]
    NotADirectory,
    #[error("it belongs to uid {owner}, not to you (uid {me})")]
    Owner { owner: u32, me: u32 },
}

/// Creates `dir` (and parents) owner-only, or checks the one that is there:
/// it must be a real directory owned by this user. Its mode is tightened to
/// 0700 in case someone less careful made it.
pub fn create_private_dir(dir: &Path) -> Result<(), StoreError> {
    let io = |e| StoreError::Io {
        path: dir.to_path_buf(),
        source: e,
    };
    fs::DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .map_err(io)?;
    check_private_dir(dir)?;
    fs::set_permissions(dir, fs::Permissions::from_mode(0o700)).map_err(|e| StoreError::Io {
        path: dir.to_path_buf(),
        source: e,
    })
}

/// Refuses `dir` unless it is a directory, not a link to one, owned by the
/// effective user.
pub fn check_private_dir(dir: &Path) -> Result<(), StoreError> {
    let meta = fs::symlink_metadata(dir).map_err(|e| StoreError::Io {
        path: dir.to_path_buf(),
        source: e,
    })?;
    let refuse = |why| StoreError::Unsafe {
        path: dir.to_path_buf(),
        why,
    };
    if meta.file_type().is_symlink() {
        return Err(refuse(Unsafe::Symlink));
    }
    if !meta.is_dir() {
        return Err(refuse(Unsafe::NotADirectory));
    }
    check_owner(&meta).map_err(refuse)
}

/// The file or directory behind `meta` must belong to the effective user.
pub fn check_owner(meta: &fs::Metadata) -> Result<(), Unsafe> {
    let me = rustix::process::geteuid().as_raw();
    match meta.uid() {
        owner if owner == me => Ok(()),
        owner => Err(Unsafe::Owner { owner, me }),
    }
}
