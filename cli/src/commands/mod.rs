//! One function per command. Each builds a request, sends it, prints.

mod edit;
mod insight;
pub(crate) mod keys;
mod peers;
mod review;
mod rituals;
mod transfer;
mod write;

use std::io::Write;

use hearth_ipc::{Paths, Request, Response};

use crate::args::{Cli, Command, DaemonCommand, InitArgs, JsonArg, RenameArgs};
use crate::client::{self, Client, Probe};
use crate::config::{Settings, Source};
use crate::error::{CliError, Kind, Result};
use crate::input;
use crate::render;

/// Everything a command needs: where files are, and a way to the daemon.
pub struct Ctx {
    pub paths: Paths,
    client: Option<Client>,
}

impl Ctx {
    /// Sends a request, starting the daemon if needed. A read that meets a
    /// daemon going down (a crash, a restart) is asked again of the next
    /// one; a write is not, since it may have been saved: the user is told.
    ///
    /// A daemon that is locked is unlocked from `HEARTH_PASSPHRASE`, if set,
    /// and asked again. A daemon this CLI starts never sees the passphrase:
    /// it starts locked and is unlocked here, so only the derived key
    /// crosses the socket.
    pub fn call(&mut self, req: Request) -> Result<Response> {
        match self.call_once(req.clone()) {
            Err(e) if e.kind() == Kind::Locked => match keys::unlock_from_env(self)? {
                true => self.call_once(req),
                false => Err(keys::explain_locked(&self.paths, e)),
            },
            // Locked, the daemon answers status with almost nothing; with
            // the passphrase at hand, open it and ask again.
            Ok(Response::Status(s)) if s.locked && keys::unlock_from_env(self)? => {
                self.call_once(req)
            }
            answer => answer,
        }
    }

    /// [`Ctx::call`] without the unlocking.
    pub fn call_once(&mut self, req: Request) -> Result<Response> {
        let retry = !req.is_write() && !req.is_network() && !matches!(req, Request::Shutdown);
        if !retry {
            let write = req.is_write();
            return self.connected()?.call(req).map_err(|e| match e.kind() {
                Kind::Lost if write => CliError::lost(
                    "the daemon stopped before it confirmed this change, so it may or may not be saved",
                )
                .with_hint("check with `hearth log` before writing it again"),
                _ => e,
            });
        }
        let mut answer = self.connected()?.call(req.clone());
        // A daemon killed a moment ago can still take a connection while
        // the kernel tears it down, so a read tries a few times, briefly.
        for pause in [10, 50, 200, 500] {
            match &answer {
                Err(e) if e.kind() == Kind::Lost => {
                    std::thread::sleep(std::time::Duration::from_millis(pause));
                    self.client = None;
                    answer = self.connected()?.call(req.clone());
                }
                _ => break,
            }
        }
        answer
    }

    /// Drops the connection; the next call makes a new one.
    pub fn disconnect(&mut self) {
        self.client = None;
    }

    fn connected(&mut self) -> Result<&mut Client> {
        if self.client.is_none() {
            self.client = Some(Client::connect_or_start(&self.paths)?);
        }
        Ok(self.client.as_mut().expect("just set"))
    }
}

pub fn unexpected(r: Response) -> CliError {
    CliError::daemon(format!(
        "unexpected reply from the daemon: {:?}",
        std::mem::discriminant(&r)
    ))
    .with_hint("the daemon may be another hearth version: run `hearth daemon restart`")
}

pub fn run(cli: Cli, settings: &Settings) -> Result<()> {
    let paths = Paths::resolve(cli.home.as_deref()).map_err(|e| CliError::user(e.to_string()))?;
    input::set_editor(&settings.editor.value);
    if needs_journal(&cli.command) && !paths.storage_key().exists() {
        if paths.schema1_identity().exists() {
            return Err(CliError::user(format!(
                "{} holds a journal of an earlier hearth (unencrypted), which this version cannot open; move it away to start afresh",
                paths.data.display()
            )));
        }
        // A mistyped HEARTH_HOME must not start a daemon and a new journal.
        return Err(CliError::user(format!(
            "no journal at {}; run `hearth init`",
            paths.data.display()
        ))
        .with_hint("if you have one elsewhere, check --home and HEARTH_HOME"));
    }
    let mut ctx = Ctx {
        paths,
        client: None,
    };
    let tells = tells_notices(&cli.command);
    let result = dispatch(&mut ctx, cli.command, settings);
    if result.is_ok() && tells {
        print_notices(&mut ctx);
    }
    result
}

/// Whether a command is followed by the device-list notices: not the one
/// that lists them, nor those that stop or bypass the daemon.
fn tells_notices(c: &Command) -> bool {
    !matches!(
        c,
        Command::Peers(crate::args::PeersCommand::Notices { .. })
            | Command::Daemon(_)
            | Command::Completions { .. }
            | Command::Man(_)
            | Command::Config(_)
            | Command::Demo(_)
            | Command::Unlock
    )
}

/// After a command that reached the daemon, on a terminal: each change to
/// the couple's devices not yet seen, one line on stderr. Never an error:
/// the command itself is done.
fn print_notices(ctx: &mut Ctx) {
    use std::io::IsTerminal;
    if ctx.client.is_none() || !std::io::stderr().is_terminal() {
        return;
    }
    if let Ok(lines) = peers::notices(ctx, false) {
        for line in lines {
            eprintln!("{} {line}", render::dim("hearth:"));
        }
    }
}

fn dispatch(ctx: &mut Ctx, command: Command, settings: &Settings) -> Result<()> {
    let ctx = &mut *ctx;
    match command {
        Command::Init(a) => init(ctx, a, settings),
        Command::Rename(a) => rename(ctx, a),
        Command::Checkin(a) => write::checkin(ctx, a),
        Command::Highlow(a) => write::highlow(ctx, a),
        Command::Thanks(a) => write::thanks(ctx, a),
        Command::Note(a) => write::note(ctx, a),
        Command::Repair(c) => write::repair(ctx, c),
        Command::Ritual(c) => rituals::ritual(ctx, c),
        Command::Due(a) => rituals::due(ctx, a.json),
        Command::Prompt(a) => rituals::prompt(ctx, a),
        Command::Log(a) => review::log(ctx, a),
        Command::Tags(a) => review::tags(ctx, a.json),
        Command::Show(a) => review::show(ctx, a),
        Command::Edit(a) => edit::edit(ctx, a),
        Command::Delete(a) => edit::delete(ctx, a),
        Command::Today(a) => review::today(ctx, a.json),
        Command::Review(a) => insight::review(ctx, a),
        Command::Mood(a) => insight::mood(ctx, a),
        Command::Onthisday(a) => insight::on_this_day(ctx, a),
        Command::Export(a) => transfer::export(ctx, a),
        Command::Import(a) => transfer::import(ctx, a),
        Command::Status(a) => status(ctx, a),
        Command::Unlock => keys::unlock(ctx),
        Command::Passphrase(crate::args::PassphraseCommand::Change) => keys::change(ctx),
        Command::Pair(c) => peers::pair(ctx, c),
        Command::Peers(c) => peers::peers(ctx, c),
        Command::Sync(a) => peers::sync(ctx, a),
        Command::Daemon(c) => daemon(&ctx.paths, c, settings),
        Command::Completions { shell } => crate::complete::registration(shell),
        Command::Config(a) => config(settings, a),
        Command::Man(a) => crate::manual::man(a),
        Command::Demo(a) => crate::demo::run(a),
    }
}

/// Whether a command works only on a journal that exists. The commands
/// that set one up, pair, stop or ask about the daemon, or need no journal
/// at all are the exceptions; everything else would otherwise start a daemon that
/// creates an empty journal wherever `--home` points.
fn needs_journal(c: &Command) -> bool {
    !matches!(
        c,
        Command::Init(_)
            | Command::Pair(_)
            | Command::Daemon(DaemonCommand::Stop | DaemonCommand::Status(_))
            | Command::Completions { .. }
            | Command::Man(_)
            | Command::Config(_)
            | Command::Demo(_)
            | Command::Ritual(crate::args::RitualCommand::Templates(_))
            | Command::Peers(crate::args::PeersCommand::Add { .. })
    )
}

fn host_name() -> String {
    std::fs::read_to_string("/etc/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "this device".to_string())
}

fn init(ctx: &mut Ctx, a: InitArgs, settings: &Settings) -> Result<()> {
    let key_choice = a.key_choice();
    let name = match a.name {
        Some(n) => n,
        None if !input::stdin_is_piped() => {
            input::ask("Your name, as your partner will see it: ", |s| {
                if s.len() > 64 {
                    Err("a name is at most 64 bytes long".to_string())
                } else {
                    Ok(s.to_string())
                }
            })?
        }
        None => {
            return Err(CliError::user(
                "--name is required when stdin is not a terminal",
            ));
        }
    };
    if name.trim().is_empty() {
        return Err(CliError::user("the name is empty; nothing written"));
    }
    let at = input::now()?;
    keys::ensure_storage_key(ctx, key_choice)?;
    match ctx.call(Request::Init(hearth_ipc::Init {
        name,
        device_name: a.device.unwrap_or_else(host_name),
        // Only a day start someone chose: the built-in one must not
        // overwrite the couple's when a second device joins.
        day_start_hour: (settings.day_start.source != Source::Default)
            .then_some(settings.day_start.value),
        at,
    }))? {
        Response::Inited {
            name,
            device,
            already: true,
            ..
        } => {
            println!(
                "This device ({}) is already set up and writes as {name}; nothing changed.",
                &device.0[..8]
            );
            println!("To change your name, run `hearth rename <new name>`.");
            Ok(())
        }
        Response::Inited { name, device, .. } => {
            println!(
                "Welcome, {name}. This device ({}) writes as you.",
                &device.0[..8]
            );
            println!("{}", init_next_step(ctx)?);
            Ok(())
        }
        r => Err(unexpected(r)),
    }
}

/// What to do after `init`, by what this device already knows: on a device
/// that joined the couple first, pairing is done.
fn init_next_step(ctx: &mut Ctx) -> Result<String> {
    const WRITE: &str = "`hearth checkin --mood good`, or `hearth prompt` for today's question";
    let partner = match ctx.call(Request::Status)? {
        Response::Status(s) => s.partner.map(|(_, n)| n),
        r => return Err(unexpected(r)),
    };
    let peers = match ctx.call(Request::Peers)? {
        Response::Peers(list) => list.peers.len(),
        r => return Err(unexpected(r)),
    };
    Ok(match (partner, peers) {
        (Some(p), _) => format!("{p} is in this journal already. Next: {WRITE}."),
        (None, n) if n > 0 => format!(
            "This device is paired with {n} device{} already and syncs with {}. Next: {WRITE}.",
            if n == 1 { "" } else { "s" },
            if n == 1 { "it" } else { "them" }
        ),
        (None, _) => format!(
            "Next: connect your partner's device (`hearth pair invite` on one of you, `hearth pair join` on the other), then {WRITE}."
        ),
    })
}

fn rename(ctx: &mut Ctx, a: RenameArgs) -> Result<()> {
    let at = input::now()?;
    match ctx.call(Request::Rename(hearth_ipc::Rename { name: a.name, at }))? {
        Response::Inited { name, .. } => {
            println!("You now write as {name}, on every device of the couple.");
            Ok(())
        }
        r => Err(unexpected(r)),
    }
}

fn status(ctx: &mut Ctx, a: JsonArg) -> Result<()> {
    let s = match ctx.call(Request::Status)? {
        Response::Status(s) => s,
        r => return Err(unexpected(r)),
    };
    if a.json {
        // A locked daemon knows no peers; asking would only unlock it.
        let peers = match s.locked {
            true => serde_json::Value::Null,
            false => match ctx.call(Request::Peers) {
                Ok(Response::Peers(list)) => serde_json::to_value(list)?,
                _ => serde_json::Value::Null,
            },
        };
        let mut v = serde_json::to_value(&s)?;
        v["peers"] = peers;
        return render::print_json(&v);
    }
    let mut out = std::io::stdout().lock();
    if s.locked {
        let why = match &s.locked_reason {
            Some(why) => format!("{why}; once it answers, run `hearth unlock`"),
            None => "run `hearth unlock`".to_string(),
        };
        writeln!(
            out,
            "{:<12}{} {why} (pid {}, {})",
            "journal",
            render::accent("locked:"),
            s.pid,
            s.data_dir
        )?;
        return Ok(());
    }
    match &s.me {
        Some((_, name)) => writeln!(out, "{:<12}{name}", "you")?,
        None => writeln!(
            out,
            "{:<12}not set up: run `hearth init --name <your name>`",
            "you"
        )?,
    }
    if let Some((_, name)) = &s.partner {
        writeln!(out, "{:<12}{name}", "partner")?;
    }
    if let Some(d) = &s.device {
        writeln!(out, "{:<12}{}", "device", d)?;
        if let Ok(k) = d.as_str().parse::<hearth_model::records::ids::DeviceKey>() {
            writeln!(out, "{:<12}{}", "fingerprint", k.fingerprint())?;
        }
    }
    if let Some(r) = &s.removed {
        writeln!(out, "{:<12}{} {r}", "sync", render::accent("off:"))?;
    } else if let Some(e) = &s.sync_error {
        writeln!(out, "{:<12}{} {e}", "sync", render::accent("off:"))?;
    }
    for (device, n) in &s.refused {
        writeln!(
            out,
            "{:<12}{} frames from {} (forged or malformed; that session was ended)",
            "refused",
            render::accent(&n.to_string()),
            &device[..device.len().min(10)]
        )?;
    }
    writeln!(
        out,
        "{:<12}{}",
        "network",
        network_text(&s.net, s.relay.as_deref())
    )?;
    writeln!(out, "{:<12}{}", "entries", s.entries)?;
    writeln!(out, "{:<12}{}", "data", s.data_dir)?;
    writeln!(
        out,
        "{:<12}pid {} (hearth {}, protocol {})",
        "daemon", s.pid, s.version, s.protocol
    )?;
    if s.loading {
        writeln!(out, "{:<12}still loading the journal", "")?;
    }
    for q in &s.quarantined {
        writeln!(out, "{} {q}", render::accent("quarantined:"))?;
    }
    // The couple's other devices, as `hearth peers list` shows them.
    if let Ok(Response::Peers(list)) = ctx.call(Request::Peers) {
        for p in &list.peers {
            let who = p.partner.clone().unwrap_or_else(|| "not set up".into());
            let state = if p.online {
                p.path.clone().unwrap_or_else(|| "online".into())
            } else {
                "offline".into()
            };
            let unsent = p
                .unsent_changes
                .map_or("unsent unknown".to_string(), |n| format!("{n} unsent"));
            writeln!(
                out,
                "{:<12}{} {who} ({state}, {unsent})",
                "peer",
                &p.id[..12]
            )?;
        }
    }
    if s.malformed > 0 {
        writeln!(
            out,
            "{} {} entries could not be read by this version",
            render::accent("warning:"),
            s.malformed
        )?;
    }
    Ok(())
}

/// The network mode and relay in words: whether this device goes through
/// n0's public relays, a self-hosted one, or none.
fn network_text(net: &str, relay: Option<&str>) -> String {
    match (net, relay) {
        ("default", Some(r)) => format!("default, through the self-hosted relay {r}"),
        ("default", None) => "default, through n0's public relays".to_string(),
        ("local", _) => "local: this network only, no relay".to_string(),
        ("test", _) => "test: loopback only, no relay".to_string(),
        (other, _) => other.to_string(),
    }
}

/// `hearth config`: every setting in effect and where it came from.
fn config(settings: &Settings, a: JsonArg) -> Result<()> {
    let rows = settings.rows();
    if a.json {
        let mut values = serde_json::Map::new();
        for (key, value, source, origin) in rows {
            values.insert(
                key.to_string(),
                serde_json::json!({"value": value, "source": source, "origin": origin}),
            );
        }
        return render::print_json(&serde_json::json!({
            "file": settings.file,
            "file_found": settings.file_found,
            "settings": values,
        }));
    }
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "{} {}",
        settings.file.display(),
        if settings.file_found {
            ""
        } else {
            "(not there: defaults apply)"
        }
    )?;
    for (key, value, _, origin) in rows {
        let shown = match value {
            serde_json::Value::Null => "(none)".to_string(),
            serde_json::Value::String(s) if s.is_empty() => "(none)".to_string(),
            serde_json::Value::String(s) => s,
            v => v.to_string(),
        };
        writeln!(out, "{key:<10} {shown:<24} {}", render::dim(origin))?;
    }
    Ok(())
}

/// What a freshly started daemon still needs, if anything.
/// A daemon just started is locked; with `HEARTH_PASSPHRASE` set, it is
/// unlocked now, so `daemon start` leaves it ready as it says.
fn unlock_started(
    paths: &Paths,
    s: Box<hearth_ipc::StatusInfo>,
) -> Result<Box<hearth_ipc::StatusInfo>> {
    if !s.locked {
        return Ok(s);
    }
    let mut ctx = Ctx {
        paths: paths.clone(),
        client: None,
    };
    match ctx.call(Request::Status)? {
        Response::Status(now) => Ok(now),
        r => Err(unexpected(r)),
    }
}

fn locked_note(s: &hearth_ipc::StatusInfo) -> String {
    match (s.locked, &s.locked_reason) {
        (false, _) => String::new(),
        (true, Some(why)) => format!("; the journal is locked: {why}"),
        (true, None) => "; the journal is locked: run `hearth unlock`".to_string(),
    }
}

fn daemon(paths: &Paths, c: DaemonCommand, settings: &Settings) -> Result<()> {
    match c {
        DaemonCommand::Run(net) => run_daemon(paths, settings, net.mdns),
        DaemonCommand::Start(net) => {
            match client::probe(paths) {
                Probe::Ready(s) => {
                    println!("hearth daemon already running (pid {})", s.pid);
                    return Ok(());
                }
                Probe::Incompatible(m) => return Err(CliError::daemon(m)),
                Probe::Refused(e) => return Err(e),
                Probe::Unreachable => {}
            }
            let s = unlock_started(paths, client::start_and_wait(paths, Some(&net))?)?;
            println!("hearth daemon started (pid {}){}", s.pid, locked_note(&s));
            Ok(())
        }
        DaemonCommand::Stop => {
            if client::stop_daemon(paths)? {
                println!("hearth daemon stopped");
            } else {
                println!("hearth daemon was not running");
            }
            Ok(())
        }
        DaemonCommand::Restart(net) => {
            client::stop_daemon(paths)?;
            let s = unlock_started(paths, client::start_and_wait(paths, Some(&net))?)?;
            println!("hearth daemon restarted (pid {}){}", s.pid, locked_note(&s));
            Ok(())
        }
        DaemonCommand::Status(a) => match client::probe(paths) {
            Probe::Ready(s) => {
                if a.json {
                    render::print_json(
                        &serde_json::json!({"running": true, "pid": s.pid, "version": s.version, "protocol": s.protocol, "socket": paths.socket(), "net": s.net, "relay": s.relay}),
                    )
                } else {
                    println!(
                        "running (pid {}, hearth {}, socket {})",
                        s.pid,
                        s.version,
                        paths.socket().display()
                    );
                    println!("network: {}", network_text(&s.net, s.relay.as_deref()));
                    Ok(())
                }
            }
            Probe::Incompatible(m) => Err(CliError::daemon(m)),
            Probe::Refused(e) => Err(e),
            Probe::Unreachable => {
                if a.json {
                    render::print_json(
                        &serde_json::json!({"running": false, "pid": null, "version": null, "protocol": null, "socket": paths.socket(), "net": null, "relay": null}),
                    )?;
                } else {
                    println!("not running");
                }
                Err(CliError::daemon("the hearth daemon is not running")
                    .with_hint("`hearth daemon start` starts it"))
            }
        },
    }
}

/// `mdns` comes from `--mdns` or $HEARTH_MDNS only; it is not a config key yet.
fn run_daemon(paths: &Paths, settings: &Settings, mdns: bool) -> Result<()> {
    let seed = std::env::var("HEARTH_SEED")
        .ok()
        .and_then(|s| s.parse().ok());
    let mode = match settings.net.value {
        crate::args::NetChoice::Default => hearth_daemon::NetMode::Default,
        crate::args::NetChoice::Local => hearth_daemon::NetMode::Local,
        crate::args::NetChoice::Test => hearth_daemon::NetMode::Test,
    };
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| CliError::internal(format!("cannot start the async runtime: {e}")))?;
    rt.block_on(hearth_daemon::run(hearth_daemon::Options {
        paths: paths.clone(),
        net: mode,
        relay: settings.relay.value.clone(),
        mdns,
        seed,
        foreground: true,
    }))
    .map_err(|e| match e {
        hearth_daemon::DaemonError::AlreadyRunning { .. } => CliError::daemon(e.to_string()),
        e => CliError::storage(e.to_string()),
    })
}
