//! The journal benchmark (not a test): `cargo bench -p hearth --bench journal`.
//!
//! Builds a decade-sized journal for two (50,000 entries by default, or
//! `-- --entries N`), then measures the real daemon and CLI against it:
//! cold start, peak RSS, `log -n 20`, `log --contains`, and acknowledged
//! writes. In the same run it measures a naive layout (a Text object per
//! body) as the baseline and prints the ratios. Results go to stdout as
//! Markdown for docs/BENCHMARKS.md.

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT, ReadDoc};
use chrono::{Duration as Days, FixedOffset, TimeZone};
use hearth_ipc::frame::{read_sync, write_sync};
use hearth_ipc::{Envelope, LogQuery, MAX_RESPONSE, PROTOCOL_VERSION, Paths, Request, Response};
use hearth_model::{Body, DeviceId, Journal, Mood, NewEntry, PartnerId, View, WriteCtx};

const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

fn text_for(i: usize) -> String {
    const WORDS: [&str; 12] = [
        "walked", "river", "dinner", "tired", "laughed", "work", "call", "rain", "garden", "train",
        "coffee", "music",
    ];
    let mut s = format!("Day {i}: ");
    for k in 0..14 {
        s.push_str(WORDS[(i * 7 + k * 5) % WORDS.len()]);
        s.push(' ');
    }
    s.push_str("@us");
    s
}

/// Builds the journal with hearth's own model: one change per entry, as a
/// real decade of writing would leave it.
fn build_hearth(n: usize) -> Journal {
    let mut j = Journal::new(ActorId::from(b"bench-device-ana".as_slice()));
    let start = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2016, 1, 1, 9, 0, 0)
        .unwrap();
    let ana = PartnerId("ana".into());
    let ben = PartnerId("ben".into());
    j.set_partner(&ana, "Ana", start).unwrap();
    j.set_partner(&ben, "Ben", start).unwrap();
    let mut last = None;
    for i in 0..n {
        let who = if i % 2 == 0 { &ana } else { &ben };
        let now = start + Days::minutes(i as i64 * 105);
        let ctx = WriteCtx {
            author: who.clone(),
            device: DeviceId(format!("{who}-laptop")),
            now,
        };
        let body = match i % 4 {
            0 => Body::Checkin {
                mood: Mood::new((i % 5) as u8 + 1).unwrap(),
                energy: None,
                need: None,
                note: text_for(i),
            },
            1 => Body::Highlow {
                high: text_for(i),
                low: text_for(i + 1),
            },
            2 => Body::Gratitude {
                to: "Ben".into(),
                text: text_for(i),
            },
            _ => Body::Note { text: text_for(i) },
        };
        let id = hearth_model::EntryId::next_after(last, now.timestamp_millis() as u64, i as u128);
        last = Some(id);
        j.add_entry(
            &ctx,
            &NewEntry {
                body,
                tags: BTreeSet::new(),
                starred: i % 17 == 0,
                tender: None,
            },
            id,
        )
        .unwrap();
    }
    j
}

/// The naive baseline: the same entries, each body a Text object.
fn build_naive(n: usize) -> Automerge {
    let mut doc = Automerge::new();
    let mut tx = doc.transaction();
    let entries = tx.put_object(ROOT, "entries", ObjType::Map).unwrap();
    tx.commit();
    for chunk in (0..n).collect::<Vec<_>>().chunks(500) {
        let mut tx = doc.transaction();
        for &i in chunk {
            let e = tx
                .put_object(&entries, format!("e{i:08}"), ObjType::Map)
                .unwrap();
            tx.put(&e, "kind", "note").unwrap();
            tx.put(&e, "author", if i % 2 == 0 { "ana" } else { "ben" })
                .unwrap();
            tx.put(&e, "created", automerge::ScalarValue::Timestamp(i as i64))
                .unwrap();
            let t = tx.put_object(&e, "text", ObjType::Text).unwrap();
            tx.splice_text(&t, 0, 0, &text_for(i)).unwrap();
        }
        tx.commit();
    }
    doc
}

fn peak_rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

struct Daemon {
    child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_daemon(home: &Path) -> Daemon {
    let child = Command::new(HEARTH)
        .args(["daemon", "run"])
        .env("HEARTH_HOME", home)
        .env("HEARTH_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    Daemon { child }
}

fn call(paths: &Paths, req: Request) -> Option<Response> {
    let mut s = UnixStream::connect(paths.socket()).ok()?;
    write_sync(
        &mut s,
        &Envelope {
            protocol: PROTOCOL_VERSION,
            request: req,
        },
    )
    .ok()?;
    read_sync(&mut s, MAX_RESPONSE).ok()
}

fn log_n(n: usize, contains: Option<&str>) -> Request {
    Request::Log {
        query: LogQuery {
            limit: Some(n),
            contains: contains.map(str::to_string),
            ..Default::default()
        },
        at: chrono::Local::now().fixed_offset(),
    }
}

/// Time from spawning the daemon to the first answered `log -n 20`, and
/// until the whole document is loaded.
fn cold_start(home: &Path) -> (f64, f64, u64) {
    let paths = Paths::under(home);
    let t = Instant::now();
    let d = start_daemon(home);
    let first = loop {
        if let Some(Response::Entries(_)) = call(&paths, log_n(20, None)) {
            break t.elapsed();
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "daemon never answered"
        );
        std::thread::sleep(Duration::from_millis(1));
    };
    let full = loop {
        if let Some(Response::Status(s)) = call(&paths, Request::Status) {
            if !s.loading {
                break t.elapsed();
            }
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let rss = peak_rss_kib(d.child.id());
    drop(d);
    let _ = std::fs::remove_file(paths.socket());
    (ms(first), ms(full), rss)
}

fn cli(home: &Path, args: &[&str]) -> Duration {
    let t = Instant::now();
    let out = Command::new(HEARTH)
        .args(args)
        .env("HEARTH_HOME", home)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    t.elapsed()
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--load-only") {
        // Child mode: load one file and report time and peak RSS, so each
        // layout's memory is measured in a process of its own.
        let bytes = std::fs::read(&args[i + 1]).unwrap();
        let t = Instant::now();
        let doc = Automerge::load(&bytes).unwrap();
        let load = t.elapsed();
        let t = Instant::now();
        let mut n = 0usize;
        if args[i + 2] == "hearth" {
            n = View::build(&Journal::from_doc(doc).unwrap()).entries.len();
        } else if let Some((_, entries)) = doc.get(ROOT, "entries").unwrap() {
            for item in doc.map_range(&entries, ..) {
                let id = item.id();
                for f in doc.map_range(&id, ..) {
                    if let automerge::ValueRef::Object(ObjType::Text) = f.value {
                        let _ = doc.text(f.id()).unwrap();
                    }
                }
                n += 1;
            }
        }
        let read = t.elapsed();
        println!(
            "{} {} {} {}",
            ms(load),
            ms(read),
            peak_rss_kib(std::process::id()),
            n
        );
        return;
    }
    let n: usize = args
        .iter()
        .position(|a| a == "--entries")
        .and_then(|i| args.get(i + 1))
        .and_then(|s| s.parse().ok())
        .unwrap_or(50_000);

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let paths = Paths::under(&home);
    eprintln!("building a {n}-entry journal for two ...");
    let t = Instant::now();
    let journal = build_hearth(n);
    eprintln!("  built in {:.1}s", t.elapsed().as_secs_f64());

    // Lay it out as a cleanly stopped daemon would: one snapshot and a view.
    let ident = format!(
        "{{\"device\":\"{:032x}\",\"partner\":\"ana\",\"device_name\":\"bench\"}}",
        0xbe7c_u128
    );
    std::fs::create_dir_all(&paths.data).unwrap();
    std::fs::write(paths.identity(), ident).unwrap();
    let opened = hearth_store::Store::open(&paths.journal(), journal.doc().clone()).unwrap();
    let mut store = opened.store;
    store.compact(&opened.doc).unwrap();
    let view = View::build(&journal);
    store.save_view(&view).unwrap();
    drop(store);
    let snapshot_path = std::fs::read_dir(paths.journal())
        .unwrap()
        .map(|e| e.unwrap().path())
        .find(|p| p.to_string_lossy().contains("snapshot-"))
        .unwrap();
    let snapshot_bytes = std::fs::metadata(&snapshot_path).unwrap().len();
    let raw_hearth = tmp.path().join("hearth.am");
    std::fs::write(&raw_hearth, journal.doc().save()).unwrap();
    drop(journal);

    eprintln!("building the naive baseline ...");
    let naive = build_naive(n);
    let raw_naive = tmp.path().join("naive.am");
    std::fs::write(&raw_naive, naive.save()).unwrap();
    let naive_bytes = std::fs::metadata(&raw_naive).unwrap().len();
    drop(naive);

    let me = std::env::current_exe().unwrap();
    let load_child = |file: &PathBuf, layout: &str| -> (f64, f64, u64) {
        let out = Command::new(&me)
            .args(["--load-only", file.to_str().unwrap(), layout])
            .output()
            .unwrap();
        let s = String::from_utf8(out.stdout).unwrap();
        let v: Vec<f64> = s.split_whitespace().map(|x| x.parse().unwrap()).collect();
        (v[0], v[1], v[2] as u64)
    };
    eprintln!("measuring document loads ...");
    let (h_load, h_read, h_rss) = load_child(&raw_hearth, "hearth");
    let (n_load, n_read, n_rss) = load_child(&raw_naive, "naive");

    eprintln!("measuring the daemon ...");
    let (first, full, daemon_rss) = cold_start(&home);
    // A start after a crash: no valid view cache, so the view is rebuilt.
    std::fs::remove_file(paths.journal().join("view.json")).unwrap();
    let (first_nocache, _, rss_nocache) = cold_start(&home);

    let d = start_daemon(&home);
    let t = Instant::now();
    while call(&paths, Request::Status).is_none() {
        assert!(t.elapsed() < Duration::from_secs(60));
        std::thread::sleep(Duration::from_millis(5));
    }
    // Wait for the full load so writes are measured, not queued.
    while !matches!(call(&paths, Request::Status), Some(Response::Status(s)) if !s.loading) {
        std::thread::sleep(Duration::from_millis(5));
    }
    let mut ipc_log: Vec<f64> = (0..50)
        .map(|_| {
            let t = Instant::now();
            call(&paths, log_n(20, None)).unwrap();
            ms(t.elapsed())
        })
        .collect();
    let mut ipc_contains: Vec<f64> = (0..20)
        .map(|_| {
            let t = Instant::now();
            call(&paths, log_n(1_000_000, Some("garden music"))).unwrap();
            ms(t.elapsed())
        })
        .collect();
    let mut cli_log: Vec<f64> = (0..30)
        .map(|_| ms(cli(&home, &["log", "-n", "20"])))
        .collect();
    let mut cli_contains: Vec<f64> = (0..20)
        .map(|_| ms(cli(&home, &["log", "--contains", "garden music"])))
        .collect();
    let mut cli_write: Vec<f64> = (0..200)
        .map(|i| ms(cli(&home, &["note", &format!("bench write {i}")])))
        .collect();
    let mut ipc_write: Vec<f64> = (0..200)
        .map(|i| {
            let t = Instant::now();
            let r = call(
                &paths,
                Request::Add {
                    entry: NewEntry {
                        body: Body::Note {
                            text: format!("ipc write {i}"),
                        },
                        tags: BTreeSet::new(),
                        starred: false,
                        tender: None,
                    },
                    at: chrono::Local::now().fixed_offset(),
                },
            );
            assert!(matches!(r, Some(Response::Entry { .. })));
            ms(t.elapsed())
        })
        .collect();
    let mut spawn_only: Vec<f64> = (0..30).map(|_| ms(cli(&home, &["--version"]))).collect();
    let steady_rss = peak_rss_kib(d.child.id());
    drop(d);

    let p = |v: &mut Vec<f64>| (percentile(v, 0.5), percentile(v, 0.99));
    let (ipc_log50, ipc_log99) = p(&mut ipc_log);
    let (ipc_c50, ipc_c99) = p(&mut ipc_contains);
    let (cli_log50, cli_log99) = p(&mut cli_log);
    let (cli_c50, _) = p(&mut cli_contains);
    let (cli_w50, cli_w99) = p(&mut cli_write);
    let (ipc_w50, ipc_w99) = p(&mut ipc_write);
    let (spawn50, _) = p(&mut spawn_only);

    println!("| what | hearth | naive baseline | ratio (naive / hearth) | target |");
    println!("|---|---|---|---|---|");
    println!(
        "| document file size | {:.0} KB | {:.0} KB | {:.1}x | |",
        snapshot_bytes as f64 / 1024.0,
        naive_bytes as f64 / 1024.0,
        naive_bytes as f64 / snapshot_bytes as f64
    );
    println!(
        "| Automerge load (in-process) | {h_load:.0} ms | {n_load:.0} ms | {:.1}x | |",
        n_load / h_load
    );
    println!(
        "| read every entry back | {h_read:.0} ms | {n_read:.0} ms | {:.1}x | |",
        n_read / h_read
    );
    println!(
        "| peak RSS, load + read | {} MB | {} MB | {:.1}x | |",
        h_rss / 1024,
        n_rss / 1024,
        n_rss as f64 / h_rss as f64
    );
    println!(
        "| cold start: spawn to first `log -n 20` answer | {first:.0} ms | {:.0} ms (load + read) | {:.1}x | ≤ 300 ms |",
        n_load + n_read,
        (n_load + n_read) / first
    );
    println!("| cold start after a crash (no view cache) | {first_nocache:.0} ms | | | |");
    println!("| daemon: whole document loaded | {full:.0} ms | | | |");
    println!(
        "| daemon peak RSS (start, cached view) | {} MB | | | ≤ 150 MB |",
        daemon_rss / 1024
    );
    println!(
        "| daemon peak RSS (start without cache) | {} MB | | | ≤ 150 MB |",
        rss_nocache / 1024
    );
    println!(
        "| daemon peak RSS after all queries and writes | {} MB | | | ≤ 150 MB |",
        steady_rss / 1024
    );
    println!(
        "| `log -n 20` over IPC, p50 / p99 | {ipc_log50:.2} / {ipc_log99:.2} ms | | | p50 ≤ 50 ms |"
    );
    println!(
        "| `log --contains` over IPC (full scan), p50 / p99 | {ipc_c50:.1} / {ipc_c99:.1} ms | | | p50 ≤ 50 ms |"
    );
    println!(
        "| `hearth log -n 20` whole CLI process, p50 / p99 | {cli_log50:.1} / {cli_log99:.1} ms | | | |"
    );
    println!("| `hearth log --contains` whole CLI process, p50 | {cli_c50:.1} ms | | | |");
    println!(
        "| acknowledged write over IPC (fsync'd), p50 / p99 | {ipc_w50:.2} / {ipc_w99:.2} ms | | | p50 ≤ 10 ms |"
    );
    println!(
        "| acknowledged write, whole `hearth note` process, p50 / p99 | {cli_w50:.1} / {cli_w99:.1} ms | | | |"
    );
    println!("| (process spawn alone: `hearth --version`, p50) | {spawn50:.1} ms | | | |");
    println!();
    println!("entries: {n}");
}
