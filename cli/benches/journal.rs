//! The journal benchmark (not a test): `cargo bench -p hearth --bench journal`.
//!
//! Builds a decade-sized journal for two (50,000 entries by default, or
//! `-- --entries N`), then measures the real daemon and CLI against it:
//! cold start, peak RSS, `log -n 20`, `log --contains`, and acknowledged
//! writes. In the same run it measures a naive layout (a Text object per
//! body) as the baseline and prints the ratios. Results go to stdout as
//! Markdown for docs/BENCHMARKS.md.

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use automerge::{Automerge, ObjType, ROOT, ReadDoc};
use common::*;
use hearth_ipc::{Paths, Request, Response};
use hearth_model::{Body, EntryId, Journal, NewEntry, View};

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
        if let Some(Response::Status(s)) = call(&paths, Request::Status)
            && !s.loading
        {
            break t.elapsed();
        }
        std::thread::sleep(Duration::from_millis(2));
    };
    let rss = peak_rss_kib(d.child.id());
    drop(d);
    let _ = std::fs::remove_file(paths.socket());
    (ms(first), ms(full), rss)
}

/// From the daemon's spawn (after a kill -9) to its first acknowledged
/// write, asked for over and over from the spawn on. The daemon is killed
/// once it has read everything (its `status` waits for that), so the
/// index has caught up with the write and the next start is like this one.
fn first_write(home: &Path) -> f64 {
    let paths = Paths::under(home);
    let t = Instant::now();
    let _d = start_daemon(home);
    let took = first_acknowledged(&paths, t);
    while !matches!(call(&paths, Request::Status), Some(Response::Status(s)) if !s.loading) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "daemon never loaded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    took
}

fn first_acknowledged(paths: &Paths, t: Instant) -> f64 {
    loop {
        let add = Request::Add(hearth_ipc::AddEntry {
            entry: NewEntry {
                body: Body::Note {
                    text: "the first write after a start".into(),
                },
                tags: BTreeSet::new(),
                starred: false,
                tender: None,
            },
            at: chrono::Local::now().fixed_offset(),
            private: false,
        });
        if let Some(Response::Entry { .. }) = call(paths, add) {
            return ms(t.elapsed());
        }
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no write acknowledged"
        );
        std::thread::sleep(Duration::from_millis(1));
    }
}

/// Starts the daemon, waits until it has read everything, and stops it
/// as `hearth daemon stop` does.
fn stop_cleanly(home: &Path) {
    let paths = Paths::under(home);
    let mut d = start_daemon(home);
    let t = Instant::now();
    while !matches!(call(&paths, Request::Status), Some(Response::Status(s)) if !s.loading) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "daemon never loaded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
    cli(home, &["daemon", "stop"]);
    let status = d.child.wait().unwrap();
    assert!(status.success(), "the daemon stopped with {status}");
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

    // `--home-only DIR`: build the journal's home in DIR and stop, so the
    // daemon can be run against it by hand (under a profiler, say).
    if let Some(dir) = args
        .iter()
        .position(|a| a == "--home-only")
        .and_then(|i| args.get(i + 1))
    {
        write_home(Path::new(dir), &build_hearth(n));
        eprintln!("wrote a {n}-entry home in {dir}");
        return;
    }

    let tmp = tempfile::tempdir().unwrap();
    let home = tmp.path().join("home");
    let paths = Paths::under(&home);
    eprintln!("building a {n}-entry journal for two ...");
    let t = Instant::now();
    let journal = build_hearth(n);
    eprintln!("  built in {:.1}s", t.elapsed().as_secs_f64());

    write_home(&home, &journal);
    // Schema 2 keeps a document per partner and year, and key files: the
    // journal's size on disk is all of them.
    let snapshot_bytes: u64 = ["docs", "keys"]
        .iter()
        .flat_map(|d| std::fs::read_dir(paths.data.join(d)).unwrap())
        .map(|e| e.unwrap().metadata().unwrap().len())
        .sum();
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
    // The home has no index yet: this start reads every entry and writes
    // it, then is killed (-9) once loaded. That is the baseline of the
    // next start, which reads the index back.
    let (first_noindex, full_noindex, rss_noindex) = cold_start(&home);
    let (first, full, daemon_rss) = cold_start(&home);
    // The same start after a clean stop, which folds the index's
    // write-ahead log back into its file: the start then reads every page
    // from the file itself.
    stop_cleanly(&home);
    let (first_clean, full_clean, rss_clean) = cold_start(&home);
    // Five starts: one is a few milliseconds either way.
    let mut write_after_start: Vec<f64> = (0..5).map(|_| first_write(&home)).collect();

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
                Request::Add(hearth_ipc::AddEntry {
                    entry: NewEntry {
                        body: Body::Note {
                            text: format!("ipc write {i}"),
                        },
                        tags: BTreeSet::new(),
                        starred: false,
                        tender: None,
                    },
                    at: chrono::Local::now().fixed_offset(),
                    private: false,
                }),
            );
            assert!(matches!(r, Some(Response::Entry { .. })));
            ms(t.elapsed())
        })
        .collect();
    // Looking back over the whole decade. The baseline is listing the same
    // period's entries with `log`, which reads them without analysing them.
    let now = chrono::Local::now().fixed_offset();
    for (name, cadence) in [
        ("Evening check-in", "daily"),
        ("State of the union", "weekly:sun"),
    ] {
        let r = call(
            &paths,
            Request::RitualAdd(hearth_ipc::RitualAdd {
                name: name.into(),
                kind: "custom".into(),
                cadence: cadence.parse().unwrap(),
                owner: hearth_ipc::OwnerArg::Both,
                fulfilled_by: None,
                at: now,
            }),
        );
        assert!(matches!(r, Some(Response::Rituals(_))));
    }
    let timed = |req: &dyn Fn() -> Request, n: usize| -> Vec<f64> {
        (0..n)
            .map(|_| {
                let t = Instant::now();
                let r = call(&paths, req()).unwrap();
                assert!(!matches!(r, Response::Error(_)), "{r:?}");
                ms(t.elapsed())
            })
            .collect()
    };
    let review = |span| {
        move || {
            Request::Review(hearth_ipc::ReviewQuery {
                span,
                until: None,
                include_tender: false,
                at: chrono::Local::now().fixed_offset(),
            })
        }
    };
    let since = |s: &str| {
        let s = s.to_string();
        move || {
            Request::Log(hearth_ipc::Log {
                query: hearth_ipc::LogQuery {
                    since: Some(s.clone()),
                    ..Default::default()
                },
                at: chrono::Local::now().fixed_offset(),
            })
        }
    };
    use hearth_model::insight::Span;
    let mut review_week = timed(&review(Span::Week), 20);
    let mut review_year = timed(&review(Span::Year), 10);
    let mut log_year = timed(&since("1 year ago"), 10);
    let mut otd = timed(
        &|| {
            Request::OnThisDay(hearth_ipc::OnThisDayQuery {
                include_tender: false,
                at: chrono::Local::now().fixed_offset(),
            })
        },
        20,
    );
    let mut mood52 = timed(
        &|| {
            Request::Mood(hearth_ipc::MoodQuery {
                weeks: 52,
                at: chrono::Local::now().fixed_offset(),
            })
        },
        20,
    );
    // Peak memory so far, then after the exports, then after listing
    // every entry: what each whole-journal request adds.
    let before_export_rss = peak_rss_kib(d.child.id());
    // Every entry, as `hearth export` asks for them: a page at a time.
    let mut export_all = paged_runs(&paths, |after| {
        Request::Export(hearth_ipc::ExportQuery {
            at: chrono::Local::now().fixed_offset(),
            after,
            limit: Some(1_000),
        })
    });
    let after_export_rss = peak_rss_kib(d.child.id());
    // Every entry, as `hearth log` asks for them: 2,000 at a time.
    let mut log_paged = paged_runs(&paths, |after| {
        Request::Log(hearth_ipc::Log {
            query: hearth_ipc::LogQuery {
                since: Some("20 years ago".into()),
                after,
                page: Some(2_000),
                ..Default::default()
            },
            at: chrono::Local::now().fixed_offset(),
        })
    });
    let after_log_rss = peak_rss_kib(d.child.id());
    // The baseline: every entry in one reply, as `log` answered before.
    let mut log_all = timed(&since("20 years ago"), 5);
    let mut spawn_only: Vec<f64> = (0..30).map(|_| ms(cli(&home, &["--version"]))).collect();
    let steady_rss = peak_rss_kib(d.child.id());
    let held_rss = held_rss_kib(d.child.id());
    drop(d);

    let p = |v: &mut Vec<f64>| (percentile(v, 0.5), percentile(v, 0.99));
    let (ipc_log50, ipc_log99) = p(&mut ipc_log);
    let (ipc_c50, ipc_c99) = p(&mut ipc_contains);
    let (cli_log50, cli_log99) = p(&mut cli_log);
    let (cli_c50, _) = p(&mut cli_contains);
    let (cli_w50, cli_w99) = p(&mut cli_write);
    let (ipc_w50, ipc_w99) = p(&mut ipc_write);
    let (spawn50, _) = p(&mut spawn_only);
    let (rw50, _) = p(&mut review_week);
    let (ry50, _) = p(&mut review_year);
    let (ly50, _) = p(&mut log_year);
    let (otd50, _) = p(&mut otd);
    let (mood50, _) = p(&mut mood52);
    let (exp50, _) = p(&mut export_all);
    let (la50, _) = p(&mut log_all);
    let (lp50, _) = p(&mut log_paged);

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
        "| start after kill -9, with the index: spawn to first `log -n 20` (baseline: the same start without an index) | {first:.0} ms | {first_noindex:.0} ms | {:.1}x | ≤ 100 ms |",
        first_noindex / first
    );
    println!(
        "| the same starts: every document loaded | {full:.0} ms | {full_noindex:.0} ms | {:.1}x | |",
        full_noindex / full
    );
    println!(
        "| the same starts: daemon peak RSS | {} MB | {} MB | {:.1}x | ≤ 64 MB |",
        daemon_rss / 1024,
        rss_noindex / 1024,
        rss_noindex as f64 / daemon_rss as f64
    );
    println!(
        "| start after a clean stop, with the index: spawn to first `log -n 20` (baseline: the start without an index) | {first_clean:.0} ms | {first_noindex:.0} ms | {:.1}x | ≤ 100 ms |",
        first_noindex / first_clean
    );
    println!(
        "| that start: every document loaded | {full_clean:.0} ms | {full_noindex:.0} ms | {:.1}x | |",
        full_noindex / full_clean
    );
    println!(
        "| that start: daemon peak RSS | {} MB | {} MB | {:.1}x | ≤ 64 MB |",
        rss_clean / 1024,
        rss_noindex / 1024,
        rss_noindex as f64 / rss_clean as f64
    );
    println!(
        "| spawn to the first acknowledged write (after a kill -9, with the index), p50 (min-max of 5) | {:.0} ms ({:.0}-{:.0}) | | | ≤ 50 ms |",
        percentile(&mut write_after_start, 0.5),
        write_after_start.iter().copied().fold(f64::MAX, f64::min),
        write_after_start.iter().copied().fold(0.0, f64::max)
    );
    println!(
        "| daemon peak RSS after the queries and writes, before any whole-journal request | {} MB | | | ≤ 64 MB |",
        before_export_rss / 1024
    );
    println!(
        "| daemon peak RSS after the paged exports too | {} MB | | | |",
        after_export_rss / 1024
    );
    println!(
        "| daemon peak RSS after paged `log`s of every entry too (as the CLI asks) | {} MB | | | ≤ 64 MB |",
        after_log_rss / 1024
    );
    println!(
        "| daemon peak RSS after `log` of every entry in one reply too (the old way) | {} MB | | | |",
        steady_rss / 1024
    );
    println!(
        "| daemon RSS held after all queries and writes | {} MB | | | |",
        held_rss / 1024
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
    println!("| `review --week` over IPC, p50 | {rw50:.1} ms | | | |");
    println!(
        "| `review --year` over IPC, p50 (baseline: `log --since` the same year) | {ry50:.1} ms | {ly50:.1} ms | {:.1}x | |",
        ly50 / ry50
    );
    println!("| `onthisday` over IPC, p50 | {otd50:.1} ms | | | |");
    println!("| `mood --weeks 52` over IPC, p50 | {mood50:.1} ms | | | |");
    println!(
        "| `export` (every entry, in pages of 1,000) over IPC, p50 (baseline: `log` of every entry, one reply) | {exp50:.0} ms | {la50:.0} ms | {:.1}x | |",
        la50 / exp50
    );
    println!(
        "| `log` of every entry in pages of 2,000 over IPC, p50 (baseline: one reply) | {lp50:.0} ms | {la50:.0} ms | {:.1}x | |",
        la50 / lp50
    );
    println!();
    println!("entries: {n}");
}

/// Five runs through every page of a paged request, as the CLI asks for
/// them (`page` makes the request after a page's `next`); each run's time
/// in milliseconds.
fn paged_runs(paths: &Paths, page: impl Fn(Option<EntryId>) -> Request) -> Vec<f64> {
    (0..5)
        .map(|_| {
            let t = Instant::now();
            let mut after = None;
            loop {
                let next = match call(paths, page(after)).unwrap() {
                    Response::Export(p) => p.next,
                    Response::Entries(p) => p.next,
                    r => panic!("{r:?}"),
                };
                match next {
                    Some(n) => after = Some(n),
                    None => break,
                }
            }
            ms(t.elapsed())
        })
        .collect()
}
