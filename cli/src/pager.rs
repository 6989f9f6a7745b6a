//! Long output through a pager, as git does: only when stdout is a
//! terminal, with the pager the settings name (`less -FRX` by default,
//! which quits at once when everything fits on one screen). `--no-pager`,
//! or an empty pager or `cat`, prints directly.

use std::io::{IsTerminal, Write};
use std::os::fd::{AsRawFd, FromRawFd, IntoRawFd, OwnedFd};
use std::process::{Child, Command, Stdio};

/// A running pager that holds this process's stdout; [`Pager::finish`]
/// gives stdout back and waits for the user to quit it.
pub struct Pager {
    child: Child,
    saved_stdout: OwnedFd,
}

/// Starts the pager when stdout is a terminal; `None` means print directly.
/// A pager that cannot be started is not an error: output goes straight to
/// the terminal.
pub fn start(cmd: &str) -> Option<Pager> {
    let cmd = cmd.trim();
    if !std::io::stdout().is_terminal() || cmd.is_empty() || cmd == "cat" {
        return None;
    }
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(cmd)
        .env(
            "LESS",
            std::env::var("LESS").unwrap_or_else(|_| "FRX".into()),
        )
        .stdin(Stdio::piped())
        .spawn()
        .ok()?;
    let pipe = child.stdin.take()?;
    let _ = std::io::stdout().flush();
    // SAFETY: dup and dup2 on descriptors this process owns; the duplicate
    // of the terminal is owned by `saved_stdout` from here on.
    let saved = unsafe { libc::dup(libc::STDOUT_FILENO) };
    if saved < 0 {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    let saved_stdout = unsafe { OwnedFd::from_raw_fd(saved) };
    let pipe_fd = pipe.into_raw_fd();
    let ok = unsafe { libc::dup2(pipe_fd, libc::STDOUT_FILENO) } >= 0;
    // SAFETY: pipe_fd came from into_raw_fd just above; fd 1 holds its copy.
    unsafe { libc::close(pipe_fd) };
    if !ok {
        let _ = child.kill();
        let _ = child.wait();
        return None;
    }
    Some(Pager {
        child,
        saved_stdout,
    })
}

impl Pager {
    /// Puts the terminal back on stdout, which closes the pager's input,
    /// and waits until the user has quit it.
    pub fn finish(mut self) {
        let _ = std::io::stdout().flush();
        // SAFETY: both descriptors are open and ours.
        unsafe { libc::dup2(self.saved_stdout.as_raw_fd(), libc::STDOUT_FILENO) };
        let _ = self.child.wait();
    }
}
