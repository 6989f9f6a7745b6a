//! The sync benchmark (not a test): `cargo bench -p hearth --bench sync`.
//!
//! Two real daemons on loopback (test network mode: no relays, no lookup).
//! Measures the first full sync of a decade-sized journal to a fresh device
//! (time and bytes), the bytes on the wire for one new entry, and
//! propagation: from the acknowledged write on A to the entry showing in
//! B's `log`, p50 and p99; and A's `log -n 20` while B floods it with
//! changes, against the same read with B quiet. Prints Markdown for
//! docs/BENCHMARKS.md.

mod common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::*;
use hearth_ipc::{LogQuery, Paths, Request, Response};
use hearth_model::{Body, NewEntry};

fn start(home: &std::path::Path) -> Daemon {
    let child = std::process::Command::new(HEARTH)
        .args(["daemon", "run", "--net", "test"])
        .env("HEARTH_HOME", home)
        .env("HEARTH_LOG", "warn")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    Daemon { child }
}

fn entries(paths: &Paths) -> usize {
    match call(paths, Request::Status) {
        Some(Response::Status(s)) => s.entries,
        _ => 0,
    }
}

fn peer_bytes(paths: &Paths) -> (u64, u64) {
    match call(paths, Request::Peers) {
        Some(Response::Peers(l)) => l
            .peers
            .iter()
            .fold((0, 0), |(s, r), p| (s + p.bytes_sent, r + p.bytes_received)),
        _ => (0, 0),
    }
}

fn note(paths: &Paths, text: &str) {
    let r = call(
        paths,
        Request::Add(hearth_ipc::AddEntry {
            entry: NewEntry {
                body: Body::Note { text: text.into() },
                tags: BTreeSet::new(),
                starred: false,
                tender: None,
            },
            at: chrono::Local::now().fixed_offset(),
            private: false,
        }),
    );
    assert!(matches!(r, Some(Response::Entry { .. })), "{r:?}");
}

fn visible(paths: &Paths, text: &str) -> bool {
    let q = LogQuery {
        contains: Some(text.into()),
        limit: Some(1),
        ..Default::default()
    };
    matches!(call(paths, Request::Log(hearth_ipc::Log { query: q, at: chrono::Local::now().fixed_offset() })), Some(Response::Entries(l)) if !l.entries.is_empty())
}

#[track_caller]
fn until(limit: Duration, mut f: impl FnMut() -> bool) -> Duration {
    let t = Instant::now();
    while !f() {
        assert!(t.elapsed() < limit, "timed out");
        std::thread::sleep(Duration::from_micros(500));
    }
    t.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let n: usize = args
        .iter()
        .position(|a| a == "--entries")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);
    let tmp = tempfile::tempdir().unwrap();
    let (home_a, home_b) = (tmp.path().join("a"), tmp.path().join("b"));
    eprintln!("building a {n}-entry journal on device A ...");
    // The fresh device is Ana's second one, which Ben approved ahead of
    // time (as `hearth peers approve` would), so it gets both partners'
    // documents in its first sync.
    let b_secret = hearth_sync::new_secret_key();
    write_home_approving(&home_a, &build_hearth(n), &[b_secret]);
    let (pa, pb) = (Paths::under(&home_a), Paths::under(&home_b));
    // The fresh device's key, as `hearth pair join --no-passphrase` makes it.
    std::fs::create_dir_all(&pb.data).unwrap();
    let (b_key_file, b_storage) = hearth_store::KeyFile::new_plain();
    b_key_file.write(&pb.data).unwrap();
    write_identity(&pb, &b_storage, b_secret, None, None);
    let _a = start(&home_a);
    let _b = start(&home_b);
    wait_ready(&pa);
    wait_ready(&pb);

    // Pair, and time the first full sync to the fresh device.
    let mut inviter = std::os::unix::net::UnixStream::connect(pa.socket()).unwrap();
    let ticket = match call_on(
        &mut inviter,
        Request::PairInvite(hearth_ipc::PairInvite { ttl_secs: 600 }),
    ) {
        Some(Response::Invite { ticket, .. }) => ticket,
        r => panic!("{r:?}"),
    };
    // Both sides confirm the safety number at once, as `--yes` does.
    let confirm = |stream: &mut std::os::unix::net::UnixStream, first: Request| {
        let proposed = call_on(stream, first);
        assert!(
            matches!(proposed, Some(Response::PairProposed { .. })),
            "{proposed:?}"
        );
        let paired = call_on(
            stream,
            Request::PairConfirm(hearth_ipc::PairConfirm { yes: true }),
        );
        assert!(
            matches!(paired, Some(Response::Paired { .. })),
            "{paired:?}"
        );
    };
    let wait = std::thread::spawn(move || confirm(&mut inviter, Request::PairWait));
    let t = Instant::now();
    let mut joiner = std::os::unix::net::UnixStream::connect(pb.socket()).unwrap();
    confirm(
        &mut joiner,
        Request::PairJoin(hearth_ipc::PairJoin { ticket }),
    );
    wait.join().unwrap();
    let first_sync = t.elapsed() + until(Duration::from_secs(300), || entries(&pb) >= n);
    let (sent, received) = peer_bytes(&pa);
    let first_bytes = sent + received;

    // One new entry: bytes both ways, once the first sync has gone quiet:
    // no byte either way for half a second. Key offers can still be going
    // after every entry reads on B.
    let quiet_from = Instant::now();
    let mut last = peer_bytes(&pa);
    loop {
        std::thread::sleep(Duration::from_millis(500));
        let now = peer_bytes(&pa);
        if now == last || quiet_from.elapsed() > Duration::from_secs(60) {
            break;
        }
        last = now;
    }
    let tail = (last.0 + last.1) - first_bytes;
    let before = peer_bytes(&pa);
    note(&pa, "one more entry to measure");
    until(Duration::from_secs(30), || {
        visible(&pb, "one more entry to measure")
    });
    std::thread::sleep(Duration::from_millis(300));
    let after = peer_bytes(&pa);
    let one_entry = (after.0 - before.0) + (after.1 - before.1);
    // And a second one: the first can carry what a session sends once
    // (each side's whole key list after its first sync).
    note(&pa, "and one more after it");
    until(Duration::from_secs(30), || {
        visible(&pb, "and one more after it")
    });
    std::thread::sleep(Duration::from_millis(300));
    let again = peer_bytes(&pa);
    let second_entry = (again.0 - after.0) + (again.1 - after.1);

    // Propagation.
    let mut prop: Vec<f64> = (0..60)
        .map(|i| {
            let text = format!("propagation probe {i}");
            note(&pa, &text);
            ms(until(Duration::from_secs(30), || visible(&pb, &text)))
        })
        .collect();
    let (p50, p99) = (percentile(&mut prop, 0.5), percentile(&mut prop, 0.99));

    // The same, watched through `status`'s entry count instead of a search.
    // A search that finds nothing reads every entry, and while it runs the
    // received change waits behind it; the count costs next to nothing, so
    // this row shows the path itself, the row above what a busy reader sees.
    let mut count = entries(&pb);
    let mut cheap: Vec<f64> = (0..60)
        .map(|i| {
            note(&pa, &format!("counted probe {i}"));
            count += 1;
            ms(until(Duration::from_secs(30), || entries(&pb) >= count))
        })
        .collect();
    let (c50, c99) = (percentile(&mut cheap, 0.5), percentile(&mut cheap, 0.99));

    // What each poll of the `log` row costs B while nothing is found yet:
    // a search through every entry.
    let mut scans: Vec<f64> = (0..40)
        .map(|_| {
            let t = Instant::now();
            assert!(!visible(&pb, "a phrase no entry holds"));
            ms(t.elapsed())
        })
        .collect();
    let s50 = percentile(&mut scans, 0.5);

    // The CLI's everyday read while a trusted peer floods A with changes:
    // two writers on B as fast as B acknowledges, every note synced to A,
    // whose core thread applies and stores each. The same read with B
    // quiet, just before, is the baseline.
    let latest = |paths: &Paths| {
        let q = LogQuery {
            limit: Some(20),
            ..Default::default()
        };
        let t = Instant::now();
        let r = call(
            paths,
            Request::Log(hearth_ipc::Log {
                query: q,
                at: chrono::Local::now().fixed_offset(),
            }),
        );
        assert!(matches!(r, Some(Response::Entries(_))), "{r:?}");
        ms(t.elapsed())
    };
    let reads = |paths: &Paths| -> Vec<f64> {
        (0..200)
            .map(|_| {
                std::thread::sleep(Duration::from_millis(5));
                latest(paths)
            })
            .collect()
    };
    // B becomes the second partner, so it can write.
    let r = call(
        &pb,
        Request::Init(hearth_ipc::Init {
            name: "Ben".into(),
            device_name: "phone".into(),
            day_start_hour: None,
            at: chrono::Local::now().fixed_offset(),
        }),
    );
    assert!(matches!(r, Some(Response::Inited { .. })), "{r:?}");
    let mut quiet = reads(&pa);
    let (q50, q99) = (percentile(&mut quiet, 0.5), percentile(&mut quiet, 0.99));
    let before_flood = entries(&pa);
    let bytes_before_flood = peer_bytes(&pa).1;
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flood_started = Instant::now();
    let flooders: Vec<_> = (0..2)
        .map(|w| {
            let (pb, stop) = (pb.clone(), stop.clone());
            std::thread::spawn(move || {
                let mut i = 0;
                while !stop.load(std::sync::atomic::Ordering::Relaxed) {
                    note(&pb, &format!("flood {w} {i}"));
                    i += 1;
                }
                i
            })
        })
        .collect();
    std::thread::sleep(Duration::from_millis(500));
    let mut flooded = reads(&pa);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let written: usize = flooders.into_iter().map(|f| f.join().unwrap()).sum();
    let flood_secs = flood_started.elapsed().as_secs_f64();
    let arrived = entries(&pa) - before_flood;
    let flood_kb = (peer_bytes(&pa).1 - bytes_before_flood) as f64 / 1024.0;
    // Every flooded note reaches A in the end: how long after the flood.
    let drained = until(Duration::from_secs(120), || {
        entries(&pa) >= before_flood + written
    });
    let (f50, f99) = (
        percentile(&mut flooded, 0.5),
        percentile(&mut flooded, 0.99),
    );

    println!("| what | measured | target |");
    println!("|---|---|---|");
    println!(
        "| propagation, acknowledged write on A to visible in B's log, p50 / p99 | {p50:.1} / {p99:.1} ms | p50 ≤ 100 ms |"
    );
    println!(
        "| propagation, acknowledged write on A to counted in B's status, p50 / p99 | {c50:.1} / {c99:.1} ms | |"
    );
    println!("| one poll of that search on B, finding nothing, p50 | {s50:.1} ms | |");
    println!(
        "| first sync of {n} entries to a fresh device (join to all visible) | {:.2} s | ≤ 3 s |",
        first_sync.as_secs_f64()
    );
    println!(
        "| bytes on the wire for that first sync (sync frames, both ways) | {:.0} KB | |",
        first_bytes as f64 / 1024.0
    );
    println!("| bytes after every entry read on B, until the first sync went quiet | {tail} B | |");
    println!("| bytes on the wire for one new entry (both ways) | {one_entry} B | ≤ 4 KB |");
    println!("| the same for the next new entry | {second_entry} B | ≤ 4 KB |");
    println!("| `log -n 20` on A over IPC, B quiet, p50 / p99 | {q50:.1} / {q99:.1} ms | |");
    println!(
        "| the same while B floods A ({written} notes written on B in {flood_secs:.1} s; A took {flood_kb:.0} KB of them meanwhile, {arrived} readable before the flood ended), p50 / p99 | {f50:.1} / {f99:.1} ms (p99 ratio {:.2}) | p99 ≤ 100 ms |",
        f99 / q99
    );
    println!(
        "| after the flood, until A holds every flooded note | {:.2} s | |",
        drained.as_secs_f64()
    );
}
