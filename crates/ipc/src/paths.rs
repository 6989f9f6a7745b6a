//! Where hearth keeps its files. One variable (`HEARTH_HOME`, or `--home`)
//! moves all of them under one directory, so tests, the demo and several
//! instances on one machine never touch the user's real files.

use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paths {
    pub data: PathBuf,
    pub config: PathBuf,
    pub runtime: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum PathsError {
    #[error("cannot find a home directory for hearth's files; set HEARTH_HOME")]
    NoHome,
}

impl Paths {
    /// Everything under one root: `data/`, `config/` and `run/`.
    pub fn under(home: &Path) -> Paths {
        Paths {
            data: home.join("data"),
            config: home.join("config"),
            runtime: home.join("run"),
        }
    }

    /// `home` if given (from `--home` or `HEARTH_HOME`), else the platform's
    /// directories: XDG on Linux, Application Support on macOS.
    pub fn resolve(home: Option<&Path>) -> Result<Paths, PathsError> {
        if let Some(h) = home {
            return Ok(Paths::under(h));
        }
        let dirs = directories::ProjectDirs::from("", "", "hearth").ok_or(PathsError::NoHome)?;
        let data = dirs.data_dir().to_path_buf();
        let runtime = dirs
            .runtime_dir()
            .map(Path::to_path_buf)
            .unwrap_or_else(|| data.join("run"));
        Ok(Paths {
            config: dirs.config_dir().to_path_buf(),
            data,
            runtime,
        })
    }

    pub fn socket(&self) -> PathBuf {
        self.runtime.join("hearth.sock")
    }
    pub fn pidfile(&self) -> PathBuf {
        self.runtime.join("hearth.pid")
    }
    pub fn journal(&self) -> PathBuf {
        self.data.join("journal")
    }
    pub fn logs(&self) -> PathBuf {
        self.data.join("logs")
    }
    pub fn identity(&self) -> PathBuf {
        self.data.join("identity")
    }
    /// Where the storage key is kept, or how to derive it.
    pub fn storage_key(&self) -> PathBuf {
        self.data.join("storage-key")
    }
    /// What an earlier hearth (schema 1, plain files) left in the data
    /// directory; such a journal is refused, not read.
    pub fn schema1_identity(&self) -> PathBuf {
        self.data.join("identity.json")
    }
    pub fn config_file(&self) -> PathBuf {
        self.config.join("config.toml")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn home_moves_everything() {
        let p = Paths::resolve(Some(Path::new("/tmp/h"))).unwrap();
        for path in [
            p.socket(),
            p.pidfile(),
            p.journal(),
            p.logs(),
            p.identity(),
            p.storage_key(),
            p.config_file(),
        ] {
            assert!(path.starts_with("/tmp/h"), "{}", path.display());
        }
        assert_ne!(p.socket().parent(), p.journal().parent());
    }
}
