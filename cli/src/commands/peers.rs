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
        PairCommand::Invite { minutes } => {
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
            match ctx.call(Request::PairWait)? {
                Response::Paired { peer, safety } => {
                    println!("Paired with device {}.", short(&peer));
                    println!(
                        "Safety number: {}  (the other device shows the same; compare them)",
                        render::bold(&safety)
                    );
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
        PairCommand::Join {
            ticket,
            no_passphrase,
        } => {
            super::keys::ensure_storage_key(ctx, no_passphrase)?;
            match ctx.call(Request::PairJoin(hearth_ipc::PairJoin { ticket }))? {
                Response::Paired { peer, safety } => {
                    println!("Paired with device {}.", short(&peer));
                    println!(
                        "Safety number: {}  (the other device shows the same; compare them)",
                        render::bold(&safety)
                    );
                    println!("Your journals now sync whenever both devices are online.");
                    Ok(())
                }
                r => Err(unexpected(r)),
            }
        }
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
                let unsent = match p.unsent_changes {
                    Some(0) => "nothing unsent".to_string(),
                    Some(n) => format!("{n} changes unsent"),
                    None => "unsent: unknown".to_string(),
                };
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
    let reports = match ctx.call(Request::Sync(hearth_ipc::SyncNow {
        timeout_secs: a.timeout,
    }))? {
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
