//! The index (docs/SCHEMA.md, "The index"): every entry this device can
//! read, as reads list it, so that a start answers `log` and `show` at once
//! and re-reads only the documents that moved since the index last caught
//! up. Without it, a start decrypts every entry of every year.
//!
//! It is a cache, never the truth: each document's row records the *stamp*
//! (committed heads and key-file length, [`crate::DocSet::stamp`]) its
//! entries reflect, and a document whose stamp differs is read again from
//! the journal. So the index need not be durable (`synchronous = NORMAL`),
//! and anything wrong with it (a newer format, a page that does not
//! decrypt) costs a rebuild, never an entry.
//!
//! SQLite holds *pages*: the entries whose ids fall in one week (by the
//! id's time), as one JSON list sealed with the journal's file key (role
//! `IndexRow`, the page's number as its name), so the file holds no word in
//! the clear. A week rather than an entry per sealed unit: a start opens
//! every page, and sealing cost per unit, not per byte, at a few hundred
//! bytes an entry (BENCHMARKS.md, "What encryption at rest costs"). A write
//! rewrites the pages its entries are in. `secure_delete` zeroes replaced
//! pages, and the WAL is truncated after a write that removed or changed an
//! entry, so a forgotten entry leaves nothing behind here either.

use std::collections::{BTreeMap, BTreeSet};
use std::fs::OpenOptions;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use hearth_model::{Entry, EntryId, PartnerId, View};
use rusqlite::{Connection, OptionalExtension, params};

use crate::StoreError;
use crate::seal::{self, FileKey, Role};

/// The index file, in the data directory.
pub const FILE_NAME: &str = "index.db";

/// Bumped when the tables or the row format change: an index of another
/// format is emptied and rebuilt.
const FORMAT: i64 = 4;

/// How much entry time one page holds: a week, in milliseconds.
const PAGE_SPAN_MS: u64 = 7 * 24 * 60 * 60 * 1000;

/// Pages read from SQLite and not yet opened, or opened and not yet put
/// in place, at most, at a start.
const PAGES_IN_FLIGHT: usize = 32;

/// The page an entry is kept in.
fn page_of(id: &EntryId) -> i64 {
    (id.0.timestamp_ms() / PAGE_SPAN_MS) as i64
}

/// What a page holds: each entry with the document it came from.
type Page = BTreeMap<EntryId, (String, Entry)>;

/// What the index holds, read back at a start.
#[derive(Debug, Default)]
pub struct Indexed {
    pub view: View,
    /// The entries of each document (by its `DocId` text): one name per
    /// document rather than one per entry, read once at a start.
    pub homes: BTreeMap<String, Vec<EntryId>>,
    /// Per document, the stamp its rows reflect and how many of its
    /// entries this device could not read (sealed or malformed).
    pub stamps: BTreeMap<String, (String, usize)>,
    /// The device-list notices shown on this device (record keys, hex).
    pub seen: BTreeSet<String>,
    /// What the journal keeps of each past year it does not hold in
    /// memory (its summary, opaque here), by document, with the stamp it
    /// reflects. A row that does not open is left out: that year is read.
    pub summaries: BTreeMap<String, (String, Vec<u8>)>,
}

/// The newest pages of the index, read first at a start.
#[derive(Debug, Default)]
pub struct Recent {
    pub view: View,
    /// The first page read: every entry from there on is in `view`.
    pub from_page: i64,
}

impl Recent {
    /// The earliest entry time these pages cover: an entry whose id is
    /// this late or later is in `view` if the index has it.
    pub fn from_ms(&self) -> u64 {
        u64::try_from(self.from_page).unwrap_or(0) * PAGE_SPAN_MS
    }
}

/// One catch-up of the index, written in one transaction.
#[derive(Debug, Default)]
pub struct Update {
    /// Entries as reads list them now, with the document each is in.
    pub upsert: Vec<(String, Entry)>,
    /// Entries no read lists any more: deleted, forgotten, rolled back.
    pub remove: Vec<EntryId>,
    /// Documents now reflected, with their stamps and unread counts.
    pub stamps: Vec<(String, String, usize)>,
    /// Documents the journal no longer has.
    pub drop_docs: Vec<String>,
    pub partners: BTreeMap<PartnerId, String>,
    /// Past years' summaries to keep: document, stamp, summary.
    pub summaries: Vec<(String, String, Vec<u8>)>,
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty()
            && self.remove.is_empty()
            && self.stamps.is_empty()
            && self.drop_docs.is_empty()
            && self.summaries.is_empty()
    }
}

/// What [`Index::write`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Wrote {
    Done,
    /// A page it had to rewrite did not open, so it emptied the index
    /// instead: nothing more should be written to it until a start has
    /// rebuilt it from the documents, or it would hold some entries of a
    /// document under a stamp that claims all of them.
    Emptied,
}

pub struct Index {
    conn: Connection,
    key: FileKey,
    path: PathBuf,
}

fn sql(path: &Path) -> impl Fn(rusqlite::Error) -> StoreError + '_ {
    move |e| StoreError::Index {
        path: path.to_path_buf(),
        why: e.to_string(),
    }
}

impl Index {
    /// Opens (or creates, owner-only) `index.db` in `data`. An index of
    /// another format is emptied.
    pub fn open(data: &Path, key: FileKey) -> Result<Index, StoreError> {
        let path = data.join(FILE_NAME);
        // Created 0600 before SQLite opens it: SQLite gives its `-wal` and
        // `-shm` files the database file's mode.
        OpenOptions::new()
            .create(true)
            .append(true)
            .mode(0o600)
            .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits() as i32)
            .open(&path)
            .map_err(|e| StoreError::Io {
                path: path.clone(),
                source: e,
            })?;
        let conn = Connection::open(&path).map_err(sql(&path))?;
        // Pages are read through SQLite's cache, kept small (512 KiB): the
        // start reads each page once. Not mapped: a mapped file counts in
        // the daemon's RSS for every page read, the whole index after a
        // start (23 MB at 50,000 entries).
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA cache_size = -512;
             PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS docs (
                 doc TEXT PRIMARY KEY, stamp TEXT NOT NULL, unread INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS pages (page INTEGER PRIMARY KEY, body BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS summaries (
                 doc TEXT PRIMARY KEY, stamp TEXT NOT NULL, body BLOB NOT NULL);",
        )
        .map_err(sql(&path))?;
        let index = Index { conn, key, path };
        let format: Option<i64> = index
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'format'", [], |r| {
                r.get(0)
            })
            .optional()
            .unwrap_or(None);
        if format != Some(FORMAT) {
            index.clear()?;
        }
        Ok(index)
    }

    /// Empties every table; the next start re-reads every document.
    pub fn clear(&self) -> Result<(), StoreError> {
        self.conn
            .execute_batch(&format!(
                "BEGIN;
                 DROP TABLE IF EXISTS entries;
                 DELETE FROM pages; DELETE FROM docs; DELETE FROM meta; DELETE FROM summaries;
                 INSERT INTO meta VALUES ('format', {FORMAT});
                 COMMIT;
                 PRAGMA wal_checkpoint(TRUNCATE);"
            ))
            .map_err(sql(&self.path))
    }

    fn seal_page(&self, page: i64, rows: &Page) -> Vec<u8> {
        let list: Vec<(&String, &Entry)> = rows.values().map(|(d, e)| (d, e)).collect();
        let plain = serde_json::to_vec(&list).expect("entries always serialize");
        seal::seal(&self.key, Role::IndexRow, &page_name(page), &plain)
    }

    /// The entries of the newest `weeks` pages, and the partners' names:
    /// enough for a start to answer `log -n 20` before the whole index is
    /// read. Every entry from the first of those pages on is here, so a
    /// walk newest first that finds what it wants here finds what it
    /// would in the whole. `None` for an empty index, or when a page or
    /// the names do not open (the whole read then deals with it).
    pub fn read_recent(&self, weeks: i64) -> Result<Option<Recent>, StoreError> {
        let err = sql(&self.path);
        let newest: Option<i64> = self
            .conn
            .query_row("SELECT max(page) FROM pages", [], |r| r.get(0))
            .map_err(&err)?;
        let Some(newest) = newest else {
            return Ok(None);
        };
        let from_page = newest.saturating_sub(weeks.max(1) - 1);
        let mut stmt = self
            .conn
            .prepare("SELECT page, body FROM pages WHERE page >= ?1")
            .map_err(&err)?;
        let rows = stmt
            .query_map([from_page], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        let mut view = View::default();
        for row in rows {
            let (page, body) = row.map_err(&err)?;
            let Some(page) = open_page(&self.key, page, body) else {
                return Ok(None);
            };
            view.entries
                .extend(page.into_iter().map(|(id, (_, e))| (id, Box::new(e))));
        }
        match self.partners()? {
            Some(Some(p)) => view.partners = p,
            Some(None) => return Ok(None),
            None => {}
        }
        Ok(Some(Recent { view, from_page }))
    }

    /// The past years' summaries that open, by document, with their stamps.
    pub fn summaries(&self) -> Result<BTreeMap<String, (String, Vec<u8>)>, StoreError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare("SELECT doc, stamp, body FROM summaries")
            .map_err(&err)?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, String>(1)?,
                    r.get::<_, Vec<u8>>(2)?,
                ))
            })
            .map_err(&err)?;
        let mut out = BTreeMap::new();
        for row in rows {
            let (doc, stamp, sealed) = row.map_err(&err)?;
            match seal::open(&self.key, Role::IndexRow, &summary_name(&doc), &sealed) {
                Ok(plain) => {
                    out.insert(doc, (stamp, plain));
                }
                Err(_) => tracing::warn!("a past year's summary in the index does not open"),
            }
        }
        Ok(out)
    }

    /// Per document, the stamp its rows reflect and how many of its
    /// entries this device could not read.
    pub fn stamps(&self) -> Result<BTreeMap<String, (String, usize)>, StoreError> {
        let err = sql(&self.path);
        let mut stmt = self
            .conn
            .prepare("SELECT doc, stamp, unread FROM docs")
            .map_err(&err)?;
        let stamps = stmt
            .query_map([], |r| {
                let unread: i64 = r.get(2)?;
                Ok((r.get(0)?, (r.get(1)?, unread.max(0) as usize)))
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        Ok(stamps)
    }

    /// The partners' names as the index keeps them: `Some(None)` when they
    /// do not open.
    #[allow(clippy::type_complexity)]
    fn partners(&self) -> Result<Option<Option<BTreeMap<PartnerId, String>>>, StoreError> {
        let sealed: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT value FROM meta WHERE name = 'partners'", [], |r| {
                r.get(0)
            })
            .optional()
            .map_err(sql(&self.path))?;
        Ok(sealed.map(|sealed| {
            seal::open(&self.key, Role::IndexRow, "partners", &sealed)
                .ok()
                .and_then(|p| serde_json::from_slice(&p).ok())
        }))
    }

    /// Everything the index holds. A page that does not open (damaged,
    /// moved, or not this journal's) empties the index and comes back as
    /// nothing, so the start reads every document.
    pub fn read(&self) -> Result<Indexed, StoreError> {
        let err = sql(&self.path);
        let mut out = Indexed::default();
        let mut stmt = self
            .conn
            .prepare("SELECT page, body FROM pages")
            .map_err(&err)?;
        let mut rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?)))
            .map_err(&err)?;
        // Opening and parsing pages is most of a start, so it runs on
        // worker threads while this thread goes on reading rows (SQLite's
        // handles stay on the thread that made them) and a collector puts
        // the entries in place. The queues are short, to keep memory flat.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        let (job_tx, job_rx) = std::sync::mpsc::sync_channel::<(i64, Vec<u8>)>(PAGES_IN_FLIGHT);
        let (done_tx, done_rx) = std::sync::mpsc::sync_channel::<Option<Page>>(PAGES_IN_FLIGHT);
        // Shared by the workers alone: once every worker has stopped, for
        // whatever reason, the queue closes and this thread stops sending
        // rather than wait on a full queue.
        let job_rx = std::sync::Arc::new(std::sync::Mutex::new(job_rx));
        let (rows_read, opened) = std::thread::scope(|scope| {
            let workers: Vec<_> = (0..threads)
                .map(|_| {
                    let (job_rx, done_tx, key) = (job_rx.clone(), done_tx.clone(), &self.key);
                    scope.spawn(move || {
                        loop {
                            // A poisoned lock means a worker panicked: stop,
                            // and the count of opened pages comes up short.
                            let Ok(next) = job_rx.lock().map(|rx| rx.recv()) else {
                                return;
                            };
                            let Ok((page, body)) = next else { return };
                            if done_tx.send(open_page(key, page, body)).is_err() {
                                return;
                            }
                        }
                    })
                })
                .collect();
            drop(job_rx);
            drop(done_tx);
            let collector = scope.spawn(move || {
                let mut homes: BTreeMap<String, Vec<EntryId>> = BTreeMap::new();
                // Gathered, then built into the map at once: a map built from
                // a sorted list packs its nodes full, where one grown entry by
                // entry leaves them about half empty.
                let mut entries = Vec::new();
                let (mut opened, mut bad) = (0usize, false);
                for page in done_rx {
                    opened += 1;
                    match page {
                        // Once one page fails the rest are only counted.
                        Some(page) if !bad => {
                            for (id, (doc, e)) in page {
                                homes.entry(doc).or_default().push(id);
                                entries.push((id, Box::new(e)));
                            }
                        }
                        Some(_) => {}
                        None => bad = true,
                    }
                }
                let entries: BTreeMap<EntryId, Box<Entry>> = entries.into_iter().collect();
                (homes, entries, opened, bad)
            });
            let mut read = Ok(0usize);
            for row in rows.by_ref() {
                match row {
                    Ok(job) => {
                        if job_tx.send(job).is_err() {
                            break;
                        }
                        read = read.map(|n| n + 1);
                    }
                    Err(e) => {
                        read = Err(e);
                        break;
                    }
                }
            }
            drop(job_tx);
            // Joined here so that a worker's panic is only a short count,
            // not a panic of the whole read.
            for worker in workers {
                let _ = worker.join();
            }
            (read, collector.join())
        });
        let read = rows_read.map_err(&err)?;
        // A collector that panicked, or workers that opened fewer pages
        // than were read, count as a page that does not open.
        let bad = match opened {
            Ok((homes, entries, opened, bad)) => {
                out.homes = homes;
                out.view.entries = entries;
                bad || opened != read
            }
            Err(_) => true,
        };
        drop(rows);
        drop(stmt);
        if bad {
            tracing::warn!("the index holds a page that does not open; rebuilding it");
            self.clear()?;
            return Ok(Indexed::default());
        }
        out.stamps = self.stamps()?;
        out.summaries = self.summaries()?;
        let meta = |name: &str| -> Result<Option<Vec<u8>>, StoreError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(&err)
        };
        match self.partners()? {
            Some(Some(p)) => out.view.partners = p,
            Some(None) => {
                self.clear()?;
                return Ok(Indexed::default());
            }
            None => {}
        }
        out.view.malformed = out.stamps.values().map(|(_, n)| n).sum();
        if let Some(sealed) = meta("seen")? {
            // Losing this only shows some notices again.
            out.seen = seal::open(&self.key, Role::IndexRow, "seen", &sealed)
                .ok()
                .and_then(|p| serde_json::from_slice(&p).ok())
                .unwrap_or_default();
        }
        Ok(out)
    }

    /// Writes `update` in one transaction, rewriting the pages its entries
    /// are in. After a write that removed or changed an entry the WAL is
    /// checkpointed and truncated, so the old pages do not linger in it. A
    /// page that does not open empties the index: the next start reads
    /// every document.
    pub fn write(&mut self, update: &Update) -> Result<Wrote, StoreError> {
        let path = self.path.clone();
        let err = sql(&path);
        let mut touched: BTreeSet<i64> = update
            .upsert
            .iter()
            .map(|(_, e)| page_of(&e.id))
            .chain(update.remove.iter().map(page_of))
            .collect();
        if !update.drop_docs.is_empty() {
            // Which pages hold a dropped document's entries is in the pages.
            let mut stmt = self.conn.prepare("SELECT page FROM pages").map_err(&err)?;
            let all: Vec<i64> = stmt
                .query_map([], |r| r.get(0))
                .map_err(&err)?
                .collect::<Result<_, _>>()
                .map_err(&err)?;
            touched.extend(all);
        }
        let partners = seal::seal(
            &self.key,
            Role::IndexRow,
            "partners",
            &serde_json::to_vec(&update.partners).expect("names always serialize"),
        );
        let mut forgot = false;
        let mut damaged = false;
        let mut rewritten: Vec<(i64, Option<Vec<u8>>)> = Vec::new();
        for page in touched {
            let body: Option<Vec<u8>> = self
                .conn
                .query_row("SELECT body FROM pages WHERE page = ?1", [page], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(&err)?;
            let mut rows = match body {
                None => Page::new(),
                Some(body) => match open_page(&self.key, page, body) {
                    Some(rows) => rows,
                    None => {
                        damaged = true;
                        break;
                    }
                },
            };
            let before = rows.len();
            for (doc, e) in update.upsert.iter().filter(|(_, e)| page_of(&e.id) == page) {
                if let Some((_, old)) = rows.insert(e.id, (doc.clone(), e.clone()))
                    && old != *e
                {
                    forgot = true;
                }
            }
            for id in update.remove.iter().filter(|id| page_of(id) == page) {
                forgot |= rows.remove(id).is_some();
            }
            rows.retain(|_, (doc, _)| !update.drop_docs.contains(doc));
            forgot |= rows.len() < before;
            let sealed = (!rows.is_empty()).then(|| self.seal_page(page, &rows));
            rewritten.push((page, sealed));
        }
        if damaged {
            tracing::warn!(
                "the index holds a page that does not open; emptied for the next start to rebuild"
            );
            self.clear()?;
            return Ok(Wrote::Emptied);
        }
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO pages (page, body) VALUES (?1, ?2)")
                .map_err(&err)?;
            let mut del = tx
                .prepare_cached("DELETE FROM pages WHERE page = ?1")
                .map_err(&err)?;
            for (page, sealed) in &rewritten {
                match sealed {
                    Some(body) => put.execute(params![page, body]).map_err(&err)?,
                    None => del.execute([page]).map_err(&err)?,
                };
            }
            for doc in &update.drop_docs {
                tx.execute("DELETE FROM docs WHERE doc = ?1", [doc])
                    .map_err(&err)?;
                tx.execute("DELETE FROM summaries WHERE doc = ?1", [doc])
                    .map_err(&err)?;
            }
            let mut summary = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO summaries (doc, stamp, body) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (doc, s, plain) in &update.summaries {
                let sealed = seal::seal(&self.key, Role::IndexRow, &summary_name(doc), plain);
                summary.execute(params![doc, s, sealed]).map_err(&err)?;
            }
            let mut stamp = tx
                .prepare_cached(
                    "INSERT OR REPLACE INTO docs (doc, stamp, unread) VALUES (?1, ?2, ?3)",
                )
                .map_err(&err)?;
            for (doc, s, unread) in &update.stamps {
                stamp
                    .execute(params![doc, s, *unread as i64])
                    .map_err(&err)?;
            }
            tx.execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('partners', ?1)",
                [&partners],
            )
            .map_err(&err)?;
        }
        tx.commit().map_err(&err)?;
        if forgot || !update.drop_docs.is_empty() {
            self.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(&err)?;
        }
        Ok(Wrote::Done)
    }
}

impl Index {
    /// Remembers which device-list notices this device has shown.
    pub fn write_seen(&self, seen: &BTreeSet<String>) -> Result<(), StoreError> {
        let sealed = seal::seal(
            &self.key,
            Role::IndexRow,
            "seen",
            &serde_json::to_vec(seen).expect("strings always serialize"),
        );
        self.conn
            .execute(
                "INSERT OR REPLACE INTO meta (name, value) VALUES ('seen', ?1)",
                [&sealed],
            )
            .map(|_| ())
            .map_err(sql(&self.path))
    }
}

/// Opens one page: `None` if it does not open under its own number, does
/// not parse, or holds an entry that belongs in another page.
/// What a summary's seal is bound to: its document, so a row moved to
/// another document's place does not open.
fn summary_name(doc: &str) -> String {
    format!("{FILE_NAME}/summary/{doc}")
}

fn open_page(key: &FileKey, page: i64, body: Vec<u8>) -> Option<Page> {
    let plain = seal::open_owned(key, Role::IndexRow, &page_name(page), body).ok()?;
    let list: Vec<(String, Entry)> = serde_json::from_slice(&plain).ok()?;
    let mut rows = Page::new();
    for (doc, e) in list {
        if page_of(&e.id) != page || rows.insert(e.id, (doc, e)).is_some() {
            return None;
        }
    }
    Some(rows)
}

/// The name a page is sealed under: a page cannot be moved to another
/// week's number unseen.
fn page_name(page: i64) -> String {
    format!("{FILE_NAME}/page/{page}")
}

#[cfg(test)]
mod tests;
