//! Pairing, the trusted devices, and forcing a sync.

use std::io::Write;

use hearth_ipc::{Request, Response};

use super::{Ctx, unexpected};
use crate::args::{PairCommand, PeersCommand, SyncArgs};
use crate::error::{CliError, Result};
use crate::input;
use crate::render;

fn short(id: &str) -> &str {
    &id[..id.len().min(12)]
}

pub fn pair(ctx: &mut Ctx, c: PairCommand) -> Result<()> {
    match c {
        PairCommand::Invite { minutes, yes } => {
            can_confirm(yes)?;
            let (ticket, secs) = match ctx.call(Request::PairInvite(hearth_ipc::PairInvite {
                ttl_secs: minutes * 60,
            }))? {
                Response::Invite {
                    ticket,
                    expires_in_secs,
                } => (ticket, expires_in_secs),
                r => return Err(unexpected(r)),
            };
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "On the other device, run:\n\n  hearth pair join {ticket}\n"
            )?;
            if let Ok(code) = qrcode::QrCode::new(ticket.as_bytes()) {
                writeln!(out, "{}", render::qr_code(&code))?;
            }
            writeln!(
                out,
                "{}",
                render::dim(&format!(
                    "This invite works once, for {} minutes. Waiting for the other device...",
                    secs / 60
                ))
            )?;
            out.flush()?;
            drop(out);
            let proposed = ctx.call(Request::PairWait)?;
            confirm_and_finish(ctx, proposed, yes).map(|_| ())
        }
        PairCommand::Join {
            ticket,
            no_passphrase,
            keyring,
            yes,
        } => {
            can_confirm(yes)?;
            let choice = crate::args::KeyChoice::from_flags(no_passphrase, keyring);
            super::keys::ensure_storage_key(ctx, choice)?;
            let proposed = ctx.call(Request::PairJoin(hearth_ipc::PairJoin { ticket }))?;
            let peer = confirm_and_finish(ctx, proposed, yes)?;
            // A long first sync shows its progress on a terminal.
            if crate::progress::until_in_sync(&ctx.paths, &peer, FIRST_SYNC_WAIT) {
                println!("First sync done.");
            }
            println!("Your journals now sync whenever both devices are online.");
            Ok(())
        }
    }
}

/// Pairing asks the person at each device to compare the safety number;
/// without a terminal only `--yes` can answer, so say so before starting.
fn can_confirm(yes: bool) -> Result<()> {
    if yes || !input::stdin_is_piped() {
        return Ok(());
    }
    Err(CliError::user(
        "pairing asks you to confirm the safety number, and stdin is not a terminal; pass --yes to confirm it without asking",
    ))
}

/// Shows the safety number, asks whether the other screen shows the same,
/// and waits for the other device's answer. Nothing is trusted on either
/// device until both have said yes.
/// How long `pair join` shows the first sync's progress before it leaves
/// the rest to the daemon.
const FIRST_SYNC_WAIT: std::time::Duration = std::time::Duration::from_secs(600);

fn confirm_and_finish(ctx: &mut Ctx, proposed: Response, yes: bool) -> Result<String> {
    let (peer, safety) = match proposed {
        Response::PairProposed { peer, safety } => (peer, safety),
        r => return Err(unexpected(r)),
    };
    println!("Device {} holds the invite.", short(&peer));
    println!("Safety number: {}", render::bold(&safety));
    let confirmed = yes
        || input::confirm(
            "Does the other device show the same twelve digits? Compare them aloud. [y/N] ",
        )?;
    if !confirmed {
        // The daemon tells the other device, which stops as well.
        let _ = ctx.call(Request::PairConfirm(hearth_ipc::PairConfirm { yes: false }));
        return Err(CliError::user(
            "the safety number was not confirmed; nothing was trusted",
        ));
    }
    println!(
        "{}",
        render::dim("Confirmed here; the other device must confirm too...")
    );
    match ctx.call(Request::PairConfirm(hearth_ipc::PairConfirm { yes: true }))? {
        Response::Paired { peer, .. } => {
            println!("Paired with device {}.", short(&peer));
            Ok(peer)
        }
        r => Err(unexpected(r)),
    }
}

pub fn peers(ctx: &mut Ctx, c: PeersCommand) -> Result<()> {
    let at = input::now()?;
    match c {
        PeersCommand::Add { id, addrs } => {
            match ctx.call(Request::PeersAdd(hearth_ipc::PeersAdd {
                id: id.clone(),
                addrs,
                at,
            }))? {
                Response::Ok => {
                    println!(
                        "Trusting device {}. Add this device on it too: hearth peers add <this device's id>",
                        short(&id)
                    );
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
        PeersCommand::Remove { id } => {
            match ctx.call(Request::PeersRemove(hearth_ipc::PeersRemove {
                id: id.clone(),
                at,
            }))? {
                Response::Ok => {
                    println!(
                        "Removed {id}. Sync with it stops on every device; it keeps the copy it already has."
                    );
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
        PeersCommand::Approve { id, yes } => {
            if !yes && input::stdin_is_piped() {
                return Err(CliError::user(
                    "approving asks you to compare the device's fingerprint, and stdin is not a terminal; pass --yes to approve without asking",
                ));
            }
            let list = match ctx.call(Request::Peers)? {
                Response::Peers(l) => l,
                r => return Err(unexpected(r)),
            };
            let want = id.trim().to_lowercase();
            let hits: Vec<&hearth_ipc::PeerInfo> = list
                .peers
                .iter()
                .filter(|p| p.id.starts_with(&want) || p.name.to_lowercase().starts_with(&want))
                .collect();
            let [peer] = hits.as_slice() else {
                return Err(CliError::user(format!(
                    "{} devices match {id:?}; give more of the id (`hearth peers list`)",
                    hits.len()
                )));
            };
            let fingerprint = peer
                .id
                .parse::<hearth_model::records::ids::DeviceKey>()
                .map(|k| k.fingerprint())
                .map_err(|_| CliError::user(format!("{:?} is not a device id", peer.id)))?;
            println!("Device {} ({})", short(&peer.id), peer.name);
            println!("Fingerprint: {}", render::bold(&fingerprint));
            let confirmed = yes
                || input::confirm(
                    "Does that device show the same fingerprint in `hearth status`? [y/N] ",
                )?;
            if !confirmed {
                return Err(CliError::user("not approved"));
            }
            match ctx.call(Request::PeersApprove(hearth_ipc::PeersApprove {
                id: peer.id.clone(),
                at,
            }))? {
                Response::Ok => {
                    println!("Approved {id}. Your devices sync with it from now on.");
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
        PeersCommand::Notices { all, json } => {
            let lines = notices(ctx, all)?;
            if json {
                return render::print_json(&lines);
            }
            if lines.is_empty() && !all {
                println!("Nothing new about your devices.");
            }
            for line in lines {
                println!("{line}");
            }
            Ok(())
        }
        PeersCommand::List(a) => {
            let list = match ctx.call(Request::Peers)? {
                Response::Peers(l) => l,
                r => return Err(unexpected(r)),
            };
            if a.json {
                return render::print_json(&list);
            }
            let mut out = std::io::stdout().lock();
            writeln!(out, "{:<10}{}", "this", list.me)?;
            if list.peers.is_empty() {
                writeln!(
                    out,
                    "{}",
                    render::dim("No other devices yet. Pair one: hearth pair invite")
                )?;
            }
            for p in &list.peers {
                let who = match (&p.partner, p.name.is_empty()) {
                    (Some(partner), false) => format!("{partner}'s {}", p.name),
                    (Some(partner), true) => format!("{partner}'s device"),
                    (None, _) => "not set up yet".to_string(),
                };
                let state = if p.online {
                    format!("online ({})", p.path.as_deref().unwrap_or("connecting"))
                } else {
                    "offline".to_string()
                };
                let synced = p
                    .last_sync
                    .map(|t| {
                        format!(
                            "last synced {}",
                            t.with_timezone(&chrono::Local).format("%a %-d %b %H:%M")
                        )
                    })
                    .unwrap_or_else(|| "not synced since the daemon started".into());
                let mut unsent = match p.unsent_changes {
                    Some(0) => "nothing unsent".to_string(),
                    Some(n) => format!("{n} changes unsent"),
                    None => "unsent: unknown".to_string(),
                };
                if let (true, Some(done), Some(total)) = (p.online, p.docs_in_sync, p.docs_total)
                    && done < total
                {
                    unsent.push_str(&format!(" · syncing: {done} of {total} documents the same"));
                }
                if p.refused > 0 {
                    unsent.push_str(&format!(
                        " · {} refused (forged or malformed; see `last_error` in --json)",
                        render::accent(&format!("{} frames", p.refused))
                    ));
                }
                writeln!(
                    out,
                    "{}  {who}\n          {state} · {synced} · {unsent}",
                    render::accent(short(&p.id))
                )?;
            }
            Ok(())
        }
    }
}

pub fn sync(ctx: &mut Ctx, a: SyncArgs) -> Result<()> {
    let paths = ctx.paths.clone();
    let answer = crate::progress::during(&paths, || {
        ctx.call(Request::Sync(hearth_ipc::SyncNow {
            timeout_secs: a.timeout,
        }))
    });
    let reports = match answer? {
        Response::Synced { devices } => devices,
        r => return Err(unexpected(r)),
    };
    if a.json {
        return render::print_json(&reports);
    }
    if reports.is_empty() {
        println!("No other devices to sync with. Pair one: hearth pair invite");
        return Ok(());
    }
    let mut missed = 0;
    for r in &reports {
        let name = if r.name.is_empty() {
            short(&r.id).to_string()
        } else {
            r.name.clone()
        };
        if r.in_sync {
            println!("{name}: in sync");
        } else if r.reached {
            println!("{name}: reached, still syncing");
        } else {
            missed += 1;
            println!(
                "{name}: not reachable ({})",
                r.error.as_deref().unwrap_or("unknown")
            );
        }
    }
    if missed == reports.len() {
        return Err(CliError::daemon(
            "no device could be reached; changes stay here until one is",
        ));
    }
    Ok(())
}

/// The device-list changes not seen here yet (all of them with `all`);
/// asking counts them as seen.
pub fn notices(ctx: &mut Ctx, all: bool) -> Result<Vec<String>> {
    match ctx.call(Request::Notices(hearth_ipc::NoticesQuery { all }))? {
        Response::Notices { lines } => Ok(lines),
        r => Err(unexpected(r)),
    }
}
