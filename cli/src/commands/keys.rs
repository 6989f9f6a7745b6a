//! The storage key's places: choosing a passphrase (or the OS keyring) for
//! a new journal, `hearth unlock`, and `hearth passphrase change`. The CLI
//! runs argon2id itself and hands the daemon only the derived key, over the
//! owner-checked socket. A journal in the OS keyring needs nothing from
//! here: the daemon reads the keyring itself, and `hearth unlock` only asks
//! it to try again.
//!
//! Scripts pass the passphrase in `HEARTH_PASSPHRASE` (and a new one in
//! `HEARTH_NEW_PASSPHRASE`), as restic and borg do; on a terminal it is
//! asked for without echo.

use hearth_ipc::{Paths, Request, Response, Unlock};
use hearth_store::{KeyError, KeyFile, WrapKey};
use zeroize::Zeroizing;

use super::{Ctx, unexpected};
use crate::args::KeyChoice;
use crate::error::{CliError, Kind, Result};
use crate::input;

const PASSPHRASE_VAR: &str = "HEARTH_PASSPHRASE";
const NEW_PASSPHRASE_VAR: &str = "HEARTH_NEW_PASSPHRASE";

/// Shorter passphrases are refused: argon2id slows a guesser down, it
/// cannot make "1234" safe.
const MIN_LEN: usize = 8;

fn from_env(var: &str) -> Option<Zeroizing<String>> {
    std::env::var(var).ok().map(Zeroizing::new)
}

fn prompt(question: &str) -> Result<Zeroizing<String>> {
    let answer = rpassword::prompt_password(question)
        .map_err(|e| CliError::user(format!("cannot read the passphrase: {e}")))?;
    Ok(Zeroizing::new(answer))
}

fn key_error(e: KeyError) -> CliError {
    match e {
        KeyError::WrongPassphrase => CliError::user("wrong passphrase; nothing changed"),
        KeyError::EmptyPassphrase => CliError::user("the passphrase is empty; nothing changed"),
        KeyError::NotAKey(_) => CliError::storage(e.to_string()),
        KeyError::Invalid(..) => CliError::storage(e.to_string()),
        KeyError::Store(e) => CliError::storage(e.to_string()),
    }
}

/// A new passphrase: from `var`, or typed twice on a terminal. Says
/// whether it was typed.
fn new_passphrase(var: &str, what: &str) -> Result<(Zeroizing<String>, bool)> {
    let (chosen, typed) = match from_env(var) {
        Some(p) => (p, false),
        None if input::stdin_is_piped() => {
            return Err(CliError::user(format!(
                "{what}: set {var}, or pass --no-passphrase for a journal anyone with the disk can read"
            )));
        }
        None => {
            eprintln!(
                "Choose a passphrase for this journal. It encrypts everything hearth keeps on this device; without it the journal cannot be opened, and nobody can recover it."
            );
            let first = prompt("New passphrase: ")?;
            let again = prompt("The same again: ")?;
            if first != again {
                return Err(CliError::user(
                    "the two passphrases differ; nothing written",
                ));
            }
            (first, true)
        }
    };
    if chosen.chars().count() < MIN_LEN {
        return Err(CliError::user(format!(
            "the passphrase is shorter than {MIN_LEN} characters; nothing written"
        )));
    }
    Ok((chosen, typed))
}

/// The current passphrase: from `HEARTH_PASSPHRASE`, or asked once.
fn current_passphrase() -> Result<Zeroizing<String>> {
    match from_env(PASSPHRASE_VAR) {
        Some(p) => Ok(p),
        None if input::stdin_is_piped() => Err(CliError::user(format!(
            "the journal is encrypted: set {PASSPHRASE_VAR}, or run this on a terminal"
        ))),
        None => prompt("Passphrase: "),
    }
}

fn read_key_file(paths: &Paths) -> Result<Option<KeyFile>> {
    KeyFile::read(&paths.data).map_err(key_error)
}

/// The key `HEARTH_PASSPHRASE` derives, once per run: argon2id is the
/// slow part, and a run may check it before starting a daemon and then
/// unlock that daemon with it.
static ENV_WRAP: std::sync::Mutex<Option<WrapKey>> = std::sync::Mutex::new(None);

/// What `HEARTH_PASSPHRASE` opens this journal's key file with, checked:
/// `None` when the variable is unset or the journal has no passphrase.
fn env_wrap_key(paths: &Paths) -> Result<Option<WrapKey>> {
    let Some(passphrase) = from_env(PASSPHRASE_VAR) else {
        return Ok(None);
    };
    let mut cached = ENV_WRAP.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(wrap) = cached.as_ref() {
        return Ok(Some(wrap.clone()));
    }
    let Some(file) = read_key_file(paths)? else {
        return Ok(None);
    };
    let Some(kdf) = file.kdf() else {
        return Ok(None);
    };
    let wrap = kdf.derive(&passphrase).map_err(key_error)?;
    match file.unwrap_with(&wrap) {
        Ok(_) => {}
        Err(KeyError::WrongPassphrase) => {
            return Err(CliError::user(format!(
                "wrong passphrase: {PASSPHRASE_VAR} does not open this journal; nothing was opened"
            )));
        }
        Err(e) => return Err(key_error(e)),
    }
    *cached = Some(wrap.clone());
    Ok(Some(wrap))
}

/// Before this CLI starts a daemon: a wrong `HEARTH_PASSPHRASE` is told in
/// one line, and no daemon is left waiting locked.
pub fn check_env_passphrase(paths: &Paths) -> Result<()> {
    env_wrap_key(paths).map(|_| ())
}

/// Makes the storage key of a new journal, unless there is one: wrapped by
/// a passphrase, in the OS keyring with `--keyring`, or in a plain key file
/// with `--no-passphrase`. A daemon started from here is unlocked by this
/// CLI, from `HEARTH_PASSPHRASE` or from a passphrase typed on the
/// terminal, so setting up never stops at "locked".
pub fn ensure_storage_key(ctx: &mut Ctx, choice: KeyChoice) -> Result<()> {
    let paths = ctx.paths.clone();
    if read_key_file(&paths)?.is_some() {
        return Ok(());
    }
    if paths.schema1_identity().exists() {
        return Err(CliError::user(format!(
            "{} holds a journal of an earlier hearth (unencrypted), which this version cannot open; move it away to start afresh",
            paths.data.display()
        )));
    }
    match choice {
        KeyChoice::Plain => return KeyFile::new_plain().0.write(&paths.data).map_err(key_error),
        KeyChoice::Keyring => return new_keyring_key(&paths),
        KeyChoice::Passphrase => {}
    }
    let (passphrase, typed) = new_passphrase(PASSPHRASE_VAR, "a new journal needs a passphrase")?;
    let file = KeyFile::new_passphrase(&passphrase).map_err(key_error)?.0;
    file.write(&paths.data).map_err(key_error)?;
    if typed {
        let kdf = file.kdf().expect("a passphrase key file has a KDF");
        send_wrap_key(ctx, &kdf.derive(&passphrase).map_err(key_error)?)?;
    }
    Ok(())
}

/// A new key in the OS keyring, then the key file that says so: a keyring
/// that does not answer leaves nothing written.
fn new_keyring_key(paths: &Paths) -> Result<()> {
    let (file, key) = KeyFile::new_keyring();
    let (service, account) = file.keyring().expect("a keyring key file");
    let label = format!("hearth: the journal in {}", paths.data.display());
    let stored = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?
        .block_on(hearth_daemon::keyring::store(
            service, account, &label, &key,
        ));
    if let Err(e) = stored {
        return Err(CliError::user(format!(
            "{e}; nothing written (without --keyring, a passphrase locks the journal)"
        )));
    }
    file.write(&paths.data).map_err(key_error)
}

fn is_keyring_journal(paths: &Paths) -> Result<bool> {
    Ok(read_key_file(paths)?.is_some_and(|f| f.keyring().is_some()))
}

/// Asks a locked daemon to read the OS keyring again. Its refusal is a
/// `Locked` error that says what the keyring answered.
fn ask_keyring_again(ctx: &mut Ctx) -> Result<()> {
    match ctx.call_once(Request::Unlock(Unlock { key: String::new() })) {
        Ok(Response::Ok) => {}
        Ok(r) => return Err(unexpected(r)),
        Err(e) => return Err(explain_locked(&ctx.paths, e)),
    }
    // The locked daemon closes the connection that unlocked it.
    ctx.disconnect();
    Ok(())
}

/// A "locked" error of a journal in the OS keyring points at the keyring,
/// not at a passphrase it does not have.
pub fn explain_locked(paths: &Paths, e: CliError) -> CliError {
    match e.kind() == Kind::Locked && is_keyring_journal(paths).unwrap_or(false) {
        true => e.with_hint(
            "this journal's key is in the OS keyring; `hearth unlock` asks the keyring again",
        ),
        false => e,
    }
}

/// Hands the daemon the key derived from the passphrase.
fn send_wrap_key(ctx: &mut Ctx, wrap: &WrapKey) -> Result<()> {
    match ctx.call_once(Request::Unlock(Unlock {
        key: wrap.to_hex().to_string(),
    }))? {
        Response::Ok => {}
        r => return Err(unexpected(r)),
    }
    // The locked daemon closes the connection that unlocked it.
    ctx.disconnect();
    Ok(())
}

/// Unlocks the daemon with the passphrase from `HEARTH_PASSPHRASE` or the
/// terminal. Returns false when the journal has no passphrase.
fn send_unlock(ctx: &mut Ctx) -> Result<bool> {
    let Some(file) = read_key_file(&ctx.paths)? else {
        return Err(CliError::user(format!(
            "no journal at {}; run `hearth init`",
            ctx.paths.data.display()
        )));
    };
    let Some(kdf) = file.kdf() else {
        return Ok(false);
    };
    let wrap = match env_wrap_key(&ctx.paths)? {
        Some(wrap) => wrap,
        None => {
            let wrap = kdf.derive(&current_passphrase()?).map_err(key_error)?;
            // Checked here first, so a typo is told at once and the daemon
            // never sees a wrong key.
            file.unwrap_with(&wrap).map_err(key_error)?;
            wrap
        }
    };
    send_wrap_key(ctx, &wrap)?;
    Ok(true)
}

/// `hearth unlock`.
pub fn unlock(ctx: &mut Ctx) -> Result<()> {
    if is_keyring_journal(&ctx.paths)? {
        ask_keyring_again(ctx)?;
        println!("Unlocked: the daemon read the key from the OS keyring.");
    } else if send_unlock(ctx)? {
        println!("Unlocked. The daemon keeps the key until it stops.");
    } else {
        println!(
            "This journal has no passphrase (it was made with --no-passphrase); nothing to unlock."
        );
    }
    Ok(())
}

/// Unlocks a locked daemon from `HEARTH_PASSPHRASE`, when set, so scripts
/// never have to run `hearth unlock` first; a journal in the OS keyring is
/// unlocked if the keyring answers now. True if it did.
pub fn unlock_from_env(ctx: &mut Ctx) -> Result<bool> {
    if is_keyring_journal(&ctx.paths)? {
        return match ask_keyring_again(ctx) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == Kind::Locked => Ok(false),
            Err(e) => Err(e),
        };
    }
    if from_env(PASSPHRASE_VAR).is_none() {
        return Ok(false);
    }
    send_unlock(ctx)
}

/// `hearth passphrase change`: the same storage key under a new
/// passphrase; no other file is rewritten.
pub fn change(ctx: &mut Ctx) -> Result<()> {
    let Some(file) = read_key_file(&ctx.paths)? else {
        return Err(CliError::user(format!(
            "no journal at {}; run `hearth init`",
            ctx.paths.data.display()
        )));
    };
    if file.keyring().is_some() {
        return Err(CliError::user(
            "this journal keeps its key in the OS keyring (it was made with --keyring); it has no passphrase to change",
        ));
    }
    let key = match file.kdf() {
        Some(_) => file.unlock(&current_passphrase()?).map_err(key_error)?,
        None => file
            .plain_key()
            .map_err(key_error)?
            .expect("a key file without a KDF holds the key"),
    };
    let (passphrase, _) = new_passphrase(NEW_PASSPHRASE_VAR, "no new passphrase given")?;
    KeyFile::rewrap(&key, &passphrase)
        .map_err(key_error)?
        .write(&ctx.paths.data)
        .map_err(key_error)?;
    if file.kdf().is_some() {
        println!(
            "Passphrase changed. The journal's files were not rewritten: the same key is now locked by the new passphrase."
        );
    } else {
        println!(
            "Passphrase set. The key that was stored in the clear is now locked by it; a copy of the old key file made before now still opens the journal."
        );
    }
    Ok(())
}
