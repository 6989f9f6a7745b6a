//! The schema 2 layout against schema 1, before the daemon switches (not a
//! test): `cargo bench -p hearth-store --bench layout [-- --entries N,...]`.
//!
//! For each size it builds a decade of journaling for two (two partners,
//! alternating, one Automerge change per entry, spread over ten calendar
//! years) twice, through the real stores: schema 1 (one document, the
//! `FileStore`) and schema 2 (a document per partner and year, sealed
//! content, key files, the `DocSet`). Then, each in a fresh process so
//! memory is its own, it times what a start costs: schema 1 loads the whole
//! document; schema 2 opens the manifest and loads this year's two
//! documents and their key files. Then one write, acknowledged (durable).
//! Peak RSS (VmHWM) and RSS held after are reported apart. Output is
//! Markdown for docs/BENCHMARKS.md.

use std::path::Path;
use std::process::Command;
use std::time::Instant;

use automerge::ActorId;
use chrono::{DateTime, Duration, FixedOffset, TimeZone};
use hearth_model::records::book::{self, Writer};
use hearth_model::records::content::VersionKey;
use hearth_model::records::entries::Fresh;
use hearth_model::records::heads::{DocKind, PartnerDoc};
use hearth_model::records::ids::{DeviceKey, PartnerCode};
use hearth_model::records::manifest::DocId;
use hearth_model::{
    Body, DayBoundary, DeviceId, EntryId, Journal, Mood, NewEntry, PartnerId, WriteCtx,
};
use hearth_store::docset::StoreDocs;
use hearth_store::keyslot::SlotKey;
use hearth_store::{DocSet, DocStore, FileKey, FileStore};

const YEARS: i64 = 10;

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
    s
}

fn body_for(i: usize) -> Body {
    match i % 3 {
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
        _ => Body::Note { text: text_for(i) },
    }
}

fn start() -> DateTime<FixedOffset> {
    FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2016, 1, 1, 9, 0, 0)
        .unwrap()
}

/// When entry `i` of `n` is written: spread evenly over ten years.
fn when(i: usize, n: usize) -> DateTime<FixedOffset> {
    let span = Duration::days(365 * YEARS).num_minutes();
    start() + Duration::minutes(span * i as i64 / n as i64)
}

fn new_entry(i: usize) -> NewEntry {
    NewEntry {
        body: body_for(i),
        tags: Default::default(),
        starred: false,
        tender: None,
    }
}

fn partner(i: usize) -> PartnerCode {
    PartnerCode([(i % 2) as u8 + 1; 16])
}

fn id_for(i: usize, n: usize) -> EntryId {
    EntryId::from_parts(when(i, n).timestamp_millis() as u64, i as u128)
}

fn fresh(i: usize) -> Fresh {
    let b = (i as u64).to_be_bytes();
    let mut version = [7u8; 16];
    version[..8].copy_from_slice(&b);
    let mut key = [9u8; 32];
    key[..8].copy_from_slice(&b);
    let mut nonce = [5u8; 24];
    nonce[..8].copy_from_slice(&b);
    Fresh {
        version,
        key: VersionKey(key),
        nonce,
    }
}

fn v2_open(dir: &Path) -> DocSet {
    DocSet::open(dir, FileKey::for_tests(5), SlotKey::for_tests(6))
        .unwrap()
        .0
}

fn build_v2(dir: &Path, n: usize) {
    let mut set = v2_open(dir);
    let actor = ActorId::from([1u8; 32].as_slice());
    for i in 0..n {
        let w = Writer {
            partner: partner(i),
            device: DeviceKey([(i % 2) as u8 + 1; 32]),
            now: when(i, n),
            day_boundary: DayBoundary::default(),
        };
        let mut docs = StoreDocs {
            set: &mut set,
            actor: actor.clone(),
            now: Instant::now(),
        };
        book::add_entry(&mut docs, &w, &new_entry(i), id_for(i, n), false, fresh(i)).unwrap();
        // A commit per few entries keeps the build quick; each entry is
        // still its own change, as real writing leaves it.
        if i % 500 == 499 {
            set.commit().unwrap();
        }
    }
    set.commit().unwrap();
    for doc in set.documents() {
        set.compact(&doc).unwrap();
    }
}

fn build_v1(dir: &Path, n: usize) {
    let mut j = Journal::new(ActorId::from(b"bench-device-ana".as_slice()));
    let names = [PartnerId("ana".into()), PartnerId("ben".into())];
    j.set_partner(&names[0], "Ana", start()).unwrap();
    j.set_partner(&names[1], "Ben", start()).unwrap();
    for i in 0..n {
        let who = &names[i % 2];
        let ctx = WriteCtx {
            author: who.clone(),
            device: DeviceId(format!("{who}-laptop").into()),
            now: when(i, n),
        };
        j.add_entry(&ctx, &new_entry(i), id_for(i, n)).unwrap();
    }
    let base = Journal::new(ActorId::from(b"bench-device-ana".as_slice()))
        .doc()
        .clone();
    let mut opened = FileStore::open(&dir.join("journal"), base, FileKey::for_tests(5)).unwrap();
    opened.store.compact(j.doc()).unwrap();
}

fn status_kib(field: &str) -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(0)
}

/// Child mode: start as the layout would, then one durable write. Prints
/// `start_ms write_ms peak_kib held_kib entries_loaded`.
fn child(layout: &str, dir: &Path, n: usize, round: usize) {
    // A new entry each round, past the journal, in its last year.
    let i = n + round;
    let t = Instant::now();
    let (loaded, start_ms, write_ms);
    if layout == "v1" {
        let base = Journal::new(ActorId::from(b"bench-device-ana".as_slice()))
            .doc()
            .clone();
        let opened = FileStore::open(&dir.join("journal"), base, FileKey::for_tests(5)).unwrap();
        let mut journal = Journal::from_doc(opened.doc).unwrap();
        let mut store = opened.store;
        loaded = journal.all_entries().0.len();
        start_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let ctx = WriteCtx {
            author: PartnerId("ana".into()),
            device: DeviceId("ana-laptop".into()),
            now: when(n - 1, n),
        };
        journal
            .add_entry(&ctx, &new_entry(i), id_for(i, n))
            .unwrap();
        store.append(journal.doc()).unwrap();
        write_ms = t.elapsed().as_secs_f64() * 1e3;
    } else {
        let mut set = v2_open(dir);
        let now = when(n - 1, n);
        let year = now.format("%Y").to_string().parse::<u16>().unwrap();
        let actor = ActorId::from([1u8; 32].as_slice());
        let mut count = 0;
        for p in [1u8, 2] {
            let doc = PartnerDoc {
                kind: DocKind::Partner,
                partner: PartnerCode([p; 16]),
                year,
            };
            let mut docs = StoreDocs {
                set: &mut set,
                actor: actor.clone(),
                now: Instant::now(),
            };
            // Load the document and its key file, and read every entry of
            // the year, as the daemon's start-up will.
            let am = book::Docs::partner_doc(&mut docs, &doc).unwrap();
            let entries = automerge::ReadDoc::get(am, automerge::ROOT, "entries")
                .unwrap()
                .unwrap()
                .1;
            let ids: Vec<EntryId> = automerge::ReadDoc::keys(am, &entries)
                .filter_map(|k| k.parse().ok())
                .collect();
            for id in ids {
                if let Some(book::Found::Readable(_)) = book::find(&mut docs, &doc, &id).unwrap() {
                    count += 1;
                }
            }
            let _ = DocId::Partner(doc);
        }
        loaded = count;
        start_ms = t.elapsed().as_secs_f64() * 1e3;
        let t = Instant::now();
        let w = Writer {
            partner: partner(0),
            device: DeviceKey([1; 32]),
            now,
            day_boundary: DayBoundary::default(),
        };
        let mut docs = StoreDocs {
            set: &mut set,
            actor,
            now: Instant::now(),
        };
        book::add_entry(&mut docs, &w, &new_entry(i), id_for(i, n), false, fresh(i)).unwrap();
        set.commit().unwrap();
        write_ms = t.elapsed().as_secs_f64() * 1e3;
    }
    println!(
        "{start_ms:.1} {write_ms:.2} {} {} {loaded}",
        status_kib("VmHWM:"),
        status_kib("VmRSS:")
    );
}

struct Run {
    start_ms: f64,
    write_ms: f64,
    peak_kib: u64,
    held_kib: u64,
    loaded: usize,
}

fn measure(layout: &str, dir: &Path, n: usize, round: usize) -> Run {
    let out = Command::new(std::env::current_exe().unwrap())
        .args([
            "--child",
            layout,
            dir.to_str().unwrap(),
            &n.to_string(),
            &round.to_string(),
        ])
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let line = String::from_utf8(out.stdout).unwrap();
    let f: Vec<&str> = line.split_whitespace().collect();
    Run {
        start_ms: f[0].parse().unwrap(),
        write_ms: f[1].parse().unwrap(),
        peak_kib: f[2].parse().unwrap(),
        held_kib: f[3].parse().unwrap(),
        loaded: f[4].parse().unwrap(),
    }
}

fn dir_kib(dir: &Path) -> u64 {
    let mut total = 0;
    for e in walk(dir) {
        total += std::fs::metadata(e).map(|m| m.len()).unwrap_or(0);
    }
    total / 1024
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[v.len() / 2]
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    if let Some(i) = args.iter().position(|a| a == "--child") {
        child(
            &args[i + 1],
            Path::new(&args[i + 2]),
            args[i + 3].parse().unwrap(),
            args[i + 4].parse().unwrap(),
        );
        return;
    }
    let sizes: Vec<usize> = args
        .iter()
        .position(|a| a == "--entries")
        .map(|i| args[i + 1].split(',').map(|s| s.parse().unwrap()).collect())
        .unwrap_or_else(|| vec![5_000, 50_000, 200_000]);
    const ROUNDS: usize = 5;
    println!(
        "| entries | layout | on disk | build | start (median of {ROUNDS}) | first durable write | peak RSS | RSS held | entries read at start |"
    );
    println!("|---|---|---|---|---|---|---|---|---|");
    for n in sizes {
        let mut runs = Vec::new();
        for layout in ["v1", "v2"] {
            let tmp = tempfile::tempdir().unwrap();
            let t = Instant::now();
            if layout == "v1" {
                build_v1(tmp.path(), n);
            } else {
                build_v2(tmp.path(), n);
            }
            let build = t.elapsed().as_secs_f64();
            let rs: Vec<Run> = (0..ROUNDS)
                .map(|r| measure(layout, tmp.path(), n, r))
                .collect();
            let start = median(rs.iter().map(|r| r.start_ms).collect());
            let write = median(rs.iter().map(|r| r.write_ms).collect());
            let peak = rs.iter().map(|r| r.peak_kib).max().unwrap();
            let held = rs.iter().map(|r| r.held_kib).max().unwrap();
            let name = if layout == "v1" {
                "schema 1"
            } else {
                "schema 2"
            };
            println!(
                "| {n} | {name} | {} KB | {build:.1} s | {start:.1} ms | {write:.2} ms | {:.1} MB | {:.1} MB | {} |",
                dir_kib(tmp.path()),
                peak as f64 / 1024.0,
                held as f64 / 1024.0,
                rs[0].loaded
            );
            runs.push((start, write, peak));
        }
        let (a, b) = (runs[0], runs[1]);
        println!(
            "| {n} | ratio schema 1 ÷ schema 2 | | | {:.1}x | {:.1}x | {:.1}x | | |",
            a.0 / b.0,
            a.1 / b.1,
            a.2 as f64 / b.2 as f64
        );
    }
}
