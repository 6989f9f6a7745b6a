//! CLI errors and their exit codes: 1 for something the user can fix, 2 for
//! bad usage (clap), 3 when the daemon cannot be reached or is incompatible,
//! 4 when storage failed and nothing was saved, 255 for bugs.

use std::fmt;

#[derive(Debug)]
pub struct CliError {
    code: u8,
    message: String,
    hint: Option<String>,
    broken_pipe: bool,
}

impl CliError {
    pub fn user(message: impl Into<String>) -> CliError {
        CliError::new(1, message)
    }
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError::new(2, message)
    }
    pub fn daemon(message: impl Into<String>) -> CliError {
        CliError::new(3, message)
    }
    pub fn storage(message: impl Into<String>) -> CliError {
        CliError::new(4, message)
    }
    pub fn internal(message: impl Into<String>) -> CliError {
        CliError::new(255, message)
    }
    fn new(code: u8, message: impl Into<String>) -> CliError {
        // One line, always: a multi-line message would break scripts that
        // read stderr line by line.
        let message = message.into().replace('\n', " ");
        CliError {
            code,
            message,
            hint: None,
            broken_pipe: false,
        }
    }
    pub fn with_hint(mut self, hint: impl Into<String>) -> CliError {
        self.hint = Some(hint.into());
        self
    }
    pub fn code(&self) -> u8 {
        self.code
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
        CliError::internal(format!("json: {e}"))
    }
}

pub type Result<T, E = CliError> = std::result::Result<T, E>;
