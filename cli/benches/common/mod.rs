//! Shared by the benchmarks: a decade-sized journal, a daemon process, and
//! one-shot IPC calls.
#![allow(dead_code)]

use std::collections::BTreeSet;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use automerge::transaction::Transactable;
use automerge::{ActorId, Automerge, ObjType, ROOT};
use chrono::{Duration as Days, FixedOffset, TimeZone};
use hearth_ipc::frame::{read_sync, write_sync};
use hearth_ipc::{Envelope, LogQuery, MAX_RESPONSE, PROTOCOL_VERSION, Paths, Request, Response};
use hearth_model::{Body, DeviceId, Journal, Mood, NewEntry, PartnerId, WriteCtx};

pub const HEARTH: &str = env!("CARGO_BIN_EXE_hearth");

pub fn text_for(i: usize) -> String {
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
pub fn build_hearth(n: usize) -> Journal {
    let mut j = Journal::new(ActorId::from(b"bench-device-ana".as_slice()));
    let start = FixedOffset::east_opt(3600)
        .unwrap()
        .with_ymd_and_hms(2016, 1, 1, 9, 0, 0)
        .unwrap();
    let ana = PartnerId("ana".into());
    let ben = PartnerId("ben".into());
    j.set_partner(&ana, "Ana", start).unwrap();
    j.set_partner(&ben, "Ben", start).unwrap();
    // Whatever the size, ten calendar years (2016 to 2025): at 200,000
    // entries a fixed step would run decades past today, and every write
    // of the run would land in a past year.
    const DECADE_S: i64 = 10 * 365 * 24 * 60 * 60;
    let step = DECADE_S / n.max(1) as i64;
    let mut last = None;
    for i in 0..n {
        let who = if i % 2 == 0 { &ana } else { &ben };
        let now = start + Days::seconds(i as i64 * step);
        let ctx = WriteCtx {
            author: who.clone(),
            device: DeviceId(format!("{who}-laptop").into()),
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
pub fn build_naive(n: usize) -> Automerge {
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

/// Peak resident memory of `pid` so far (VmHWM), in KiB.
pub fn peak_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmHWM:")
}

/// Resident memory `pid` holds right now (VmRSS), in KiB: what stays after
/// a peak, which the allocator may or may not give back.
pub fn held_rss_kib(pid: u32) -> u64 {
    status_kib(pid, "VmRSS:")
}

fn status_kib(pid: u32, field: &str) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with(field))
                .map(|l| l.to_string())
        })
        .and_then(|l| l.split_whitespace().nth(1).and_then(|v| v.parse().ok()))
        .unwrap_or(0)
}

pub fn percentile(v: &mut [f64], p: f64) -> f64 {
    v.sort_by(|a, b| a.partial_cmp(b).unwrap());
    v[((v.len() as f64 - 1.0) * p).round() as usize]
}

pub fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

pub struct Daemon {
    pub child: Child,
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn start_daemon(home: &Path) -> Daemon {
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

pub fn call(paths: &Paths, req: Request) -> Option<Response> {
    let mut s = UnixStream::connect(paths.socket()).ok()?;
    call_on(&mut s, req)
}

/// One request on a connection the caller keeps: an invite lasts only as
/// long as the connection that opened it.
pub fn call_on(s: &mut UnixStream, req: Request) -> Option<Response> {
    write_sync(
        s,
        &Envelope {
            protocol: PROTOCOL_VERSION,
            request: req,
        },
    )
    .ok()?;
    read_sync(s, MAX_RESPONSE).ok()
}

pub fn log_n(n: usize, contains: Option<&str>) -> Request {
    Request::Log(hearth_ipc::Log {
        query: LogQuery {
            limit: Some(n),
            contains: contains.map(str::to_string),
            ..Default::default()
        },
        at: chrono::Local::now().fixed_offset(),
    })
}

/// Lays out `journal`'s entries in `home` as a cleanly stopped daemon of
/// schema 2 would leave them: a storage key (kept in the clear, as
/// `--no-passphrase` does, so the figures leave out the passphrase's
/// argon2id), an identity, the couple document (this device founds "Ana";
/// a second key founds "Ben"; each approves the other), each entry sealed
/// into its author's document of its year with its key in this device's
/// key files, one change per entry, and one snapshot per document.
pub fn write_home(home: &Path, journal: &Journal) {
    write_home_approving(home, journal, &[]);
}

/// [`write_home`], with Ben also approving the devices `approved` ahead of
/// time: a fresh device of Ana's that pairs with this one then gets Ben's
/// documents too, at once, as it would once Ben approved it.
pub fn write_home_approving(home: &Path, journal: &Journal, approved: &[[u8; 32]]) {
    use hearth_model::records::book::{self, Writer};
    use hearth_model::records::content::VersionKey;
    use hearth_model::records::couple_write::{self, Signer};
    use hearth_model::records::entries::Fresh;
    use hearth_model::records::exchange::genesis_of;
    use hearth_model::records::ids::DeviceKey;
    use hearth_model::records::manifest::DocId;
    use rand::Rng;

    let paths = Paths::under(home);
    std::fs::create_dir_all(&paths.data).unwrap();
    let (file, storage) = hearth_store::KeyFile::new_plain();
    file.write(&paths.data).unwrap();
    let key = hearth_sync::new_secret_key();
    let ana = ed25519_dalek::SigningKey::from_bytes(&key);
    let ben = ed25519_dalek::SigningKey::from_bytes(&hearth_sync::new_secret_key());
    let (mut set, _) =
        hearth_store::DocSet::open(&paths.data, storage.file_key(), storage.slot_key()).unwrap();
    let actor = ActorId::from(ana.verifying_key().to_bytes().as_slice());
    let now = std::time::Instant::now();
    set.load(DocId::Couple, &actor, now, || genesis_of(&DocId::Couple))
        .unwrap();
    let couple = set.doc_mut(&DocId::Couple, now).unwrap();
    let sign = |k| Signer {
        key: k,
        clock_ms: 1,
    };
    let a = couple_write::found_partner(couple, &sign(&ana), "bench", "Ana").unwrap();
    let b = couple_write::found_partner(couple, &sign(&ben), "desk", "Ben").unwrap();
    let (ka, kb) = (
        DeviceKey(ana.verifying_key().to_bytes()),
        DeviceKey(ben.verifying_key().to_bytes()),
    );
    couple_write::approve(couple, &sign(&ana), kb, b).unwrap();
    couple_write::approve(couple, &sign(&ben), ka, a).unwrap();
    for secret in approved {
        let device = DeviceKey(
            ed25519_dalek::SigningKey::from_bytes(secret)
                .verifying_key()
                .to_bytes(),
        );
        couple_write::approve(couple, &sign(&ben), device, a).unwrap();
    }
    let (entries, _) = journal.all_entries();
    let mut rng = rand::rng();
    let ben_actor = ActorId::from(kb.0.as_slice());
    for (i, e) in entries.iter().enumerate() {
        // Each partner's documents are written by that partner's device,
        // as a peer checks.
        let (partner, device, actor) = if e.author.as_str() == "ana" {
            (a, ka, &actor)
        } else {
            (b, kb, &ben_actor)
        };
        let w = Writer {
            partner,
            device,
            now: e.created,
            day_boundary: hearth_model::DayBoundary::default(),
        };
        let new = NewEntry {
            body: e.body.clone(),
            tags: (&e.tags).into(),
            starred: e.starred,
            tender: Some(e.tender),
        };
        let fresh = Fresh {
            version: rng.random(),
            key: VersionKey(rng.random()),
            nonce: rng.random(),
        };
        let mut docs = hearth_store::docset::StoreDocs {
            set: &mut set,
            actor: actor.clone(),
            now,
        };
        book::add_entry(&mut docs, &w, &new, e.id, false, fresh).unwrap();
        if i % 500 == 499 {
            set.commit().unwrap();
        }
    }
    // Signed heads of every partner document, by its partner's device: a
    // peer takes a partner's changes only under them.
    for doc in set.loaded() {
        let DocId::Partner(p) = doc else { continue };
        let (signer, key) = if p.partner == a {
            (ka, &ana)
        } else {
            (kb, &ben)
        };
        let heads = set.doc(&doc).unwrap().get_heads().into_iter().collect();
        let counter = set.take_heads_counter();
        let record = hearth_model::records::heads::HeadsRecord {
            signer,
            counter,
            doc: p,
            heads,
        }
        .sign(key)
        .unwrap();
        set.keep_signed_heads(doc, vec![record.to_bytes()]);
    }
    set.commit().unwrap();
    for doc in set.documents() {
        set.compact(&doc).unwrap();
    }
    write_identity(
        &paths,
        &storage,
        key,
        Some("bench"),
        Some(PartnerId(a.to_hex().into())),
    );
}

/// Writes a device's identity file, sealed with its storage key.
pub fn write_identity(
    paths: &Paths,
    storage: &hearth_store::StorageKey,
    secret: [u8; 32],
    name: Option<&str>,
    partner: Option<PartnerId>,
) {
    let hex: String = secret.iter().map(|b| format!("{b:02x}")).collect();
    let identity = hearth_daemon::identity::Identity {
        secret_key: hex,
        device: hearth_model::DeviceId(hearth_sync::device_id(&secret).to_string().into()),
        device_name: name.map(str::to_string),
        partner,
        port: None,
        paired: Vec::new(),
        removed: None,
    };
    hearth_daemon::identity::IdentityFile {
        path: paths.identity(),
        key: storage.file_key(),
    }
    .save(&identity)
    .unwrap();
}

pub fn wait_ready(paths: &Paths) {
    let t = std::time::Instant::now();
    while !matches!(call(paths, Request::Status), Some(Response::Status(s)) if !s.loading) {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "daemon never loaded"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}
