//! CLI errors: each carries a kind, and [`exit_code`] alone turns a kind
//! into the process's exit status (documented in the man page).

use std::fmt;

/// What went wrong, as far as the caller's script needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    /// Something the user can fix: a bad value, an unknown id.
    User,
    /// The command line itself is wrong (clap's errors).
    Usage,
    /// The daemon cannot be reached.
    Daemon,
    /// The daemon went away in the middle of a request.
    Lost,
    /// The daemon answers but speaks another protocol version.
    Incompatible,
    /// Storage failed; nothing was saved.
    Storage,
    /// The journal is encrypted and the daemon waits for its passphrase.
    Locked,
    /// A bug.
    Internal,
}

/// The one place kinds become exit codes: 1 for something the user can fix,
/// 2 for bad usage, 3 when the daemon cannot be reached or is incompatible,
/// 4 when storage failed and nothing was saved, 5 when the journal is
/// locked, 255 for bugs.
pub fn exit_code(kind: Kind) -> u8 {
    match kind {
        Kind::User => 1,
        Kind::Usage => 2,
        Kind::Daemon | Kind::Lost | Kind::Incompatible => 3,
        Kind::Storage => 4,
        Kind::Locked => 5,
        Kind::Internal => 255,
    }
}

/// Every exit status and what it means, for the man page's EXIT STATUS
/// section: built from [`exit_code`], so the two cannot disagree.
pub fn exit_statuses() -> Vec<(u8, &'static str)> {
    vec![
        (
            0,
            "Success. Output cut short by a closed pipe (hearth log | head) counts as success too.",
        ),
        (
            exit_code(Kind::User),
            "Something you can fix: a bad value, an unknown id, no journal yet, a bad config.toml.",
        ),
        (
            exit_code(Kind::Usage),
            "The command line is wrong: an unknown command or flag, a value that is refused, a bad HEARTH_* variable.",
        ),
        (
            exit_code(Kind::Daemon),
            "The daemon cannot be reached, stopped mid-request, or speaks another protocol version; also daemon status when none runs.",
        ),
        (
            exit_code(Kind::Storage),
            "Storage failed and nothing was saved.",
        ),
        (
            exit_code(Kind::Locked),
            "The journal is locked: run hearth unlock, or set HEARTH_PASSPHRASE.",
        ),
        (exit_code(Kind::Internal), "A bug in hearth."),
    ]
}

#[derive(Debug)]
pub struct CliError {
    kind: Kind,
    message: String,
    hint: Option<String>,
    broken_pipe: bool,
}

impl CliError {
    pub fn user(message: impl Into<String>) -> CliError {
        CliError::new(Kind::User, message)
    }
    pub fn locked(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Locked, message)
            .with_hint("run `hearth unlock`, or set HEARTH_PASSPHRASE")
    }
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Usage, message)
    }
    pub fn daemon(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Daemon, message)
    }
    pub fn lost(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Lost, message)
    }
    pub fn incompatible(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Incompatible, message)
    }
    pub fn storage(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Storage, message)
    }
    pub fn internal(message: impl Into<String>) -> CliError {
        CliError::new(Kind::Internal, message)
    }
    fn new(kind: Kind, message: impl Into<String>) -> CliError {
        // One line, always: a multi-line message would break scripts that
        // read stderr line by line.
        let message = message.into().replace('\n', " ");
        CliError {
            kind,
            message,
            hint: None,
            broken_pipe: false,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }
    pub fn kind(&self) -> Kind {
        self.kind
    }
    pub fn code(&self) -> u8 {
        exit_code(self.kind)
    }
    pub fn hint(&self) -> Option<&str> {
        self.hint.as_deref()
    }
    pub fn is_broken_pipe(&self) -> bool {
        self.broken_pipe
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for CliError {}

impl From<std::io::Error> for CliError {
    fn from(e: std::io::Error) -> Self {
        let mut c = CliError::internal(e.to_string());
        c.broken_pipe = e.kind() == std::io::ErrorKind::BrokenPipe;
        c
    }
}

impl From<hearth_model::ModelError> for CliError {
    fn from(e: hearth_model::ModelError) -> Self {
        CliError::user(e.to_string())
    }
}

impl From<serde_json::Error> for CliError {
    fn from(e: serde_json::Error) -> Self {
        // Writing JSON straight into stdout (`log --json`) reports a closed
        // pipe as a serde error; it still ends quietly.
        if let Some(kind) = e.io_error_kind() {
            return std::io::Error::from(kind).into();
        }
        CliError::internal(format!("json: {e}"))
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
