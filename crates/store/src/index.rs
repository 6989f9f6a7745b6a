//! The index (docs/SCHEMA.md, "The index"): every entry this device can
//! read, as reads list it, so that a start answers `log` and `show` at once
//! and re-reads only the documents that moved since the index last caught
//! up. Without it, a start decrypts every entry of every year.
//!
//! It is a cache, never the truth: each document's row records the *stamp*
//! (committed heads and key-file length, [`crate::DocSet::stamp`]) its
//! entries reflect, and a document whose stamp differs is read again from
//! the journal. So the index need not be durable (`synchronous = NORMAL`),
//! and anything wrong with it (a newer format, a row that does not decrypt)
//! costs a rebuild, never an entry.
//!
//! SQLite holds the rows; each entry is sealed with the journal's file key
//! (role `IndexRow`, the entry id as its name), so the file holds no word in
//! the clear. `secure_delete` zeroes a removed row's pages, and the WAL is
//! truncated after a batch that removed any, so a forgotten entry leaves
//! nothing behind here either.

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
const FORMAT: i64 = 1;

/// What the index holds, read back at a start.
#[derive(Debug, Default)]
pub struct Indexed {
    pub view: View,
    /// The document (its `DocId` text) each entry came from.
    pub homes: BTreeMap<EntryId, String>,
    /// Per document, the stamp its rows reflect and how many of its
    /// entries this device could not read (sealed or malformed).
    pub stamps: BTreeMap<String, (String, usize)>,
    /// The device-list notices shown on this device (record keys, hex).
    pub seen: BTreeSet<String>,
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
}

impl Update {
    pub fn is_empty(&self) -> bool {
        self.upsert.is_empty()
            && self.remove.is_empty()
            && self.stamps.is_empty()
            && self.drop_docs.is_empty()
    }
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
        conn.execute_batch(
            "PRAGMA journal_mode = WAL;
             PRAGMA synchronous = NORMAL;
             PRAGMA secure_delete = ON;
             CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value BLOB NOT NULL);
             CREATE TABLE IF NOT EXISTS docs (
                 doc TEXT PRIMARY KEY, stamp TEXT NOT NULL, unread INTEGER NOT NULL);
             CREATE TABLE IF NOT EXISTS entries (
                 id TEXT PRIMARY KEY, doc TEXT NOT NULL, row BLOB NOT NULL);
             CREATE INDEX IF NOT EXISTS entries_by_doc ON entries (doc);",
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
                 DELETE FROM entries; DELETE FROM docs; DELETE FROM meta;
                 INSERT INTO meta VALUES ('format', {FORMAT});
                 COMMIT;
                 PRAGMA wal_checkpoint(TRUNCATE);"
            ))
            .map_err(sql(&self.path))
    }

    fn seal_row(&self, id: &EntryId, plain: &[u8]) -> Vec<u8> {
        seal::seal(&self.key, Role::IndexRow, &row_name(id), plain)
    }

    /// Everything the index holds. A row that does not open (damaged, or
    /// not this journal's) empties the index and comes back as nothing, so
    /// the start reads every document.
    pub fn read(&self) -> Result<Indexed, StoreError> {
        let err = sql(&self.path);
        let mut out = Indexed::default();
        let mut stmt = self
            .conn
            .prepare("SELECT id, doc, row FROM entries")
            .map_err(&err)?;
        let mut rows = stmt
            .query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?)))
            .map_err(&err)?;
        let mut bad = false;
        // Opening and parsing rows is most of a start, so it is shared among
        // the cores, a block of rows at a time to keep memory flat.
        let threads = std::thread::available_parallelism().map_or(1, |n| n.get().min(4));
        loop {
            let block: Vec<(String, String, Vec<u8>)> = rows
                .by_ref()
                .take(ROWS_PER_BLOCK)
                .collect::<Result<_, _>>()
                .map_err(&err)?;
            if block.is_empty() {
                break;
            }
            let opened = open_rows(&self.key, &block, threads);
            if opened.len() != block.len() || opened.iter().any(Option::is_none) {
                bad = true;
                break;
            }
            for ((_, doc, _), e) in block.into_iter().zip(opened.into_iter().flatten()) {
                out.homes.insert(e.id, doc);
                out.view.entries.insert(e.id, e);
            }
        }
        drop(rows);
        drop(stmt);
        if bad {
            tracing::warn!("the index holds a row that does not open; rebuilding it");
            self.clear()?;
            return Ok(Indexed::default());
        }
        let mut stmt = self
            .conn
            .prepare("SELECT doc, stamp, unread FROM docs")
            .map_err(&err)?;
        out.stamps = stmt
            .query_map([], |r| {
                let unread: i64 = r.get(2)?;
                Ok((r.get(0)?, (r.get(1)?, unread.max(0) as usize)))
            })
            .map_err(&err)?
            .collect::<Result<_, _>>()
            .map_err(&err)?;
        let meta = |name: &str| -> Result<Option<Vec<u8>>, StoreError> {
            self.conn
                .query_row("SELECT value FROM meta WHERE name = ?1", [name], |r| {
                    r.get(0)
                })
                .optional()
                .map_err(&err)
        };
        if let Some(sealed) = meta("partners")? {
            let plain = seal::open(&self.key, Role::IndexRow, "partners", &sealed).ok();
            match plain.and_then(|p| serde_json::from_slice(&p).ok()) {
                Some(p) => out.view.partners = p,
                None => {
                    self.clear()?;
                    return Ok(Indexed::default());
                }
            }
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

    /// Writes `update` in one transaction. After a batch that removed
    /// entries the WAL is checkpointed and truncated, so the removed rows'
    /// old pages do not linger in it.
    pub fn write(&mut self, update: &Update) -> Result<(), StoreError> {
        let path = self.path.clone();
        let err = sql(&path);
        let sealed: Vec<(String, String, Vec<u8>)> = update
            .upsert
            .iter()
            .map(|(doc, e)| {
                let plain = serde_json::to_vec(e).expect("an entry always serializes");
                (e.id.to_string(), doc.clone(), self.seal_row(&e.id, &plain))
            })
            .collect();
        let partners = seal::seal(
            &self.key,
            Role::IndexRow,
            "partners",
            &serde_json::to_vec(&update.partners).expect("names always serialize"),
        );
        let tx = self.conn.transaction().map_err(&err)?;
        {
            let mut put = tx
                .prepare_cached("INSERT OR REPLACE INTO entries (id, doc, row) VALUES (?1, ?2, ?3)")
                .map_err(&err)?;
            for (id, doc, row) in &sealed {
                put.execute(params![id, doc, row]).map_err(&err)?;
            }
            let mut del = tx
                .prepare_cached("DELETE FROM entries WHERE id = ?1")
                .map_err(&err)?;
            for id in &update.remove {
                del.execute([id.to_string()]).map_err(&err)?;
            }
            for doc in &update.drop_docs {
                tx.execute("DELETE FROM entries WHERE doc = ?1", [doc])
                    .map_err(&err)?;
                tx.execute("DELETE FROM docs WHERE doc = ?1", [doc])
                    .map_err(&err)?;
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
        if !update.remove.is_empty() || !update.drop_docs.is_empty() {
            self.conn
                .execute_batch("PRAGMA wal_checkpoint(TRUNCATE);")
                .map_err(&err)?;
        }
        Ok(())
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

/// Rows read from SQLite before they are opened, on as many threads.
const ROWS_PER_BLOCK: usize = 4096;

/// Opens `(id, doc, sealed row)` rows into entries, split over `threads`;
/// `None` for a row that does not open or parse as its own entry.
fn open_rows(
    key: &FileKey,
    rows: &[(String, String, Vec<u8>)],
    threads: usize,
) -> Vec<Option<Entry>> {
    let open = |(id, _, row): &(String, String, Vec<u8>)| {
        let id = id.parse::<EntryId>().ok()?;
        let plain = seal::open(key, Role::IndexRow, &row_name(&id), row).ok()?;
        serde_json::from_slice::<Entry>(&plain)
            .ok()
            .filter(|e| e.id == id)
    };
    let per = rows.len().div_ceil(threads.max(1)).max(1);
    std::thread::scope(|scope| {
        let parts: Vec<_> = rows
            .chunks(per)
            .map(|part| scope.spawn(move || part.iter().map(open).collect::<Vec<_>>()))
            .collect();
        // A thread that panicked leaves its rows out: the caller sees too
        // few and rebuilds the index.
        parts
            .into_iter()
            .flat_map(|p| p.join().unwrap_or_default())
            .collect()
    })
}

/// The name an entry's row is sealed under: a row cannot be moved to
/// another entry's id unseen.
fn row_name(id: &EntryId) -> String {
    format!("{FILE_NAME}/{id}")
}

#[cfg(test)]
mod tests;
