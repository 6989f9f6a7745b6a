//! A first sync's progress on a terminal: documents the same on both
//! devices, of those to sync, as the daemon's `peers` answer counts them.
//! It asks over a connection of its own, so the command's own request (a
//! `sync` that waits for every device) is not held up.

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hearth_ipc::{Paths, Request, Response};
use indicatif::{ProgressBar, ProgressStyle};

use crate::client::Client;

/// How often the bar asks the daemon.
const EVERY: Duration = Duration::from_millis(150);

/// Documents in sync and documents to sync, summed over the online peers
/// (or only `peer`), from one `peers` answer.
fn counts(client: &mut Client, peer: Option<&str>) -> Option<(u64, u64)> {
    let Ok(Response::Peers(list)) = client.call(Request::Peers) else {
        return None;
    };
    let mut sum = (0, 0);
    for p in &list.peers {
        if peer.is_some_and(|id| id != p.id) || (peer.is_none() && !p.online) {
            continue;
        }
        if let (Some(done), Some(total)) = (p.docs_in_sync, p.docs_total) {
            sum.0 += done as u64;
            sum.1 += total as u64;
        }
    }
    Some(sum)
}

fn bar() -> ProgressBar {
    let bar = ProgressBar::new(0);
    bar.set_style(
        ProgressStyle::with_template("{spinner} {msg} [{bar:30}] {pos}/{len} documents")
            .expect("a fixed template")
            .progress_chars("=> "),
    );
    bar.set_message("syncing");
    bar
}

/// Runs `work` with a bar of the sync's progress on stderr, when stderr is
/// a terminal; otherwise just runs it.
pub fn during<T>(paths: &Paths, work: impl FnOnce() -> T) -> T {
    if !std::io::stderr().is_terminal() {
        return work();
    }
    let done = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (done, paths) = (done.clone(), paths.clone());
        std::thread::spawn(move || {
            let Ok(mut client) = Client::connect_only(&paths) else {
                return;
            };
            let bar = bar();
            // Drawn at least once, however quick the work.
            let mut first = true;
            loop {
                if let Some((pos, len)) = counts(&mut client, None) {
                    bar.set_length(len);
                    bar.set_position(pos);
                }
                if std::mem::take(&mut first) {
                    bar.force_draw();
                }
                bar.tick();
                if done.load(Ordering::Relaxed) {
                    break;
                }
                std::thread::sleep(EVERY);
            }
            bar.finish_and_clear();
        })
    };
    let out = work();
    done.store(true, Ordering::Relaxed);
    let _ = watcher.join();
    out
}

/// After pairing, on a terminal: a bar until `peer` and this device hold
/// the same documents, or `limit` passes. Says whether they got there.
pub fn until_in_sync(paths: &Paths, peer: &str, limit: Duration) -> bool {
    if !std::io::stderr().is_terminal() {
        return false;
    }
    let Ok(mut client) = Client::connect_only(paths) else {
        return false;
    };
    let bar = bar();
    let started = Instant::now();
    let synced = loop {
        if let Some((pos, len)) = counts(&mut client, Some(peer)) {
            bar.set_length(len);
            bar.set_position(pos);
            if len > 0 && pos == len {
                break true;
            }
        }
        if started.elapsed() > limit {
            break false;
        }
        bar.tick();
        std::thread::sleep(EVERY);
    };
    bar.finish_and_clear();
    synced
}
