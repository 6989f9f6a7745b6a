//! What a peer's changes grow to once Automerge unpacks them, counted
//! before Automerge reads them (issue 9, point 5).
//!
//! A sync message is at most a frame, but two parts of Automerge's format
//! are DEFLATE-compressed: a compressed change chunk, and the columns of a
//! saved document (what a first sync sends). Automerge inflates them whole,
//! into memory, with no limit, and DEFLATE packs a thousand to one. Here
//! each compressed part is inflated into nothing, counted, and stopped at
//! the limit, so a message that would unpack past it is refused before it
//! costs any memory.

use std::io::Read;

use crate::wire::WireError;

/// The most a single sync message may unpack to. A saved document of a
/// decade of entries unpacks to a few tens of MiB.
pub const MAX_INFLATED: usize = 256 * 1024 * 1024;

const MAGIC: [u8; 4] = [0x85, 0x6f, 0x4a, 0x83];
const DOCUMENT: u8 = 0;
const CHANGE: u8 = 1;
const COMPRESSED: u8 = 2;
const BUNDLE: u8 = 3;
/// The bit of a column's specification that says its data is deflated.
const DEFLATE_BIT: u64 = 0b1000;
/// Far above the twenty-odd columns Automerge writes.
const MAX_COLUMNS: u64 = 256;

/// The bytes `chunks` (a message's change list) amount to once unpacked:
/// their own length plus what every compressed part inflates to. Refused
/// past `limit`, or when a chunk cannot be read.
pub fn inflated_size<'a>(
    chunks: impl IntoIterator<Item = &'a [u8]>,
    limit: usize,
) -> Result<usize, WireError> {
    let mut budget = Budget { used: 0, limit };
    for item in chunks {
        budget.add(item.len())?;
        // One entry of the list may hold several chunks back to back, as
        // `load_incremental` reads them.
        let mut rest = Reader(item);
        while !rest.0.is_empty() {
            chunk(&mut rest, &mut budget)?;
        }
    }
    Ok(budget.used)
}

struct Budget {
    used: usize,
    limit: usize,
}

impl Budget {
    fn add(&mut self, n: usize) -> Result<(), WireError> {
        self.used = self.used.saturating_add(n);
        if self.used > self.limit {
            return Err(WireError::Inflates(self.limit));
        }
        Ok(())
    }

    /// Inflates `deflated` into nothing, counting, one byte past what is
    /// left at most.
    fn inflate(&mut self, deflated: &[u8]) -> Result<(), WireError> {
        let cap = (self.limit - self.used) as u64 + 1;
        let mut decoder = flate2::read::DeflateDecoder::new(deflated).take(cap);
        let n = std::io::copy(&mut decoder, &mut std::io::sink())
            .map_err(|_| malformed("a compressed part does not inflate"))?;
        self.add(usize::try_from(n).unwrap_or(usize::MAX))
    }
}

fn malformed(why: &str) -> WireError {
    WireError::Malformed(format!("changes: {why}"))
}

/// A cursor over untrusted bytes: every read is checked against what is
/// left.
struct Reader<'a>(&'a [u8]);

impl<'a> Reader<'a> {
    fn take(&mut self, n: u64) -> Result<&'a [u8], WireError> {
        let n = usize::try_from(n)
            .ok()
            .filter(|n| *n <= self.0.len())
            .ok_or_else(|| malformed("truncated"))?;
        let (taken, rest) = self.0.split_at(n);
        self.0 = rest;
        Ok(taken)
    }

    fn uleb(&mut self) -> Result<u64, WireError> {
        leb128::read::unsigned(&mut self.0).map_err(|_| malformed("a length does not read"))
    }
}

/// One chunk: magic, checksum (Automerge checks it), type, length, data.
fn chunk(r: &mut Reader<'_>, budget: &mut Budget) -> Result<(), WireError> {
    if r.take(4)? != MAGIC {
        return Err(malformed("not an Automerge chunk"));
    }
    r.take(4)?;
    let kind = r.take(1)?[0];
    let len = r.uleb()?;
    let data = r.take(len)?;
    match kind {
        // Automerge refuses compressed columns in a change chunk.
        CHANGE => Ok(()),
        COMPRESSED => budget.inflate(data),
        DOCUMENT => document(data, budget),
        BUNDLE => Err(malformed("a bundle chunk, which sync never sends")),
        other => Err(malformed(&format!("unknown chunk type {other}"))),
    }
}

/// A saved document: actors, heads, the change and operation column
/// layouts, then the columns' data, some of it deflated.
fn document(data: &[u8], budget: &mut Budget) -> Result<(), WireError> {
    let mut r = Reader(data);
    for _ in 0..r.uleb()? {
        let len = r.uleb()?;
        r.take(len)?;
    }
    let heads = r.uleb()?;
    r.take(heads.saturating_mul(32))?;
    let mut columns = layout(&mut r)?;
    columns.extend(layout(&mut r)?);
    for (spec, len) in columns {
        let bytes = r.take(len)?;
        if spec & DEFLATE_BIT != 0 {
            budget.inflate(bytes)?;
        }
    }
    Ok(())
}

/// A column layout: how many columns, then each one's specification and
/// the length of its data.
fn layout(r: &mut Reader<'_>) -> Result<Vec<(u64, u64)>, WireError> {
    let n = r.uleb()?;
    if n > MAX_COLUMNS {
        return Err(malformed("too many columns"));
    }
    (0..n).map(|_| Ok((r.uleb()?, r.uleb()?))).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::transaction::Transactable;
    use automerge::{AutoCommit, ObjType, ROOT};

    /// A document holding one long, very compressible text.
    fn compressible(len: usize) -> AutoCommit {
        let mut doc = AutoCommit::new();
        let text = doc.put_object(ROOT, "text", ObjType::Text).unwrap();
        doc.splice_text(&text, 0, 0, &"a".repeat(len)).unwrap();
        doc.commit();
        doc
    }

    #[test]
    fn a_saved_document_counts_what_its_columns_inflate_to() {
        let mut doc = compressible(200_000);
        let saved = doc.save();
        assert!(saved.len() < 20_000, "the columns are deflated");
        let plain = doc.save_nocompress();
        let counted = inflated_size([saved.as_slice()], MAX_INFLATED).unwrap();
        let counted_plain = inflated_size([plain.as_slice()], MAX_INFLATED).unwrap();
        assert_eq!(counted_plain, plain.len(), "nothing to inflate");
        // The inflated columns are the uncompressed save's columns; only
        // the small prefix and suffix are not counted twice.
        assert!(
            counted + 1024 >= plain.len(),
            "{counted} counted, {} uncompressed",
            plain.len()
        );
        assert_eq!(
            inflated_size([saved.as_slice()], counted - 1),
            Err(WireError::Inflates(counted - 1))
        );
    }

    #[test]
    fn a_compressed_change_is_counted_inflated_and_refused_past_the_limit() {
        let mut doc = compressible(100_000);
        let mut change = doc.get_last_local_change().unwrap();
        let raw = change.raw_bytes().to_vec();
        let compressed = change.bytes().to_vec();
        assert!(compressed.len() < raw.len() / 10, "the change compresses");
        assert_eq!(compressed[8], COMPRESSED);
        let counted = inflated_size([compressed.as_slice()], MAX_INFLATED).unwrap();
        assert!(counted > raw.len() / 2, "{counted} for {} raw", raw.len());
        assert!(matches!(
            inflated_size([compressed.as_slice()], 50_000),
            Err(WireError::Inflates(50_000))
        ));
        // Uncompressed changes, several to an entry as V2 sends them.
        let two = [raw.clone(), raw.clone()].concat();
        assert_eq!(inflated_size([two.as_slice()], MAX_INFLATED), Ok(two.len()));
    }

    #[test]
    fn any_damage_to_a_real_message_is_counted_or_refused_never_a_panic() {
        let mut doc = compressible(5_000);
        let saved = doc.save();
        let mut change = doc.get_last_local_change().unwrap();
        let compressed = change.bytes().to_vec();
        let limit = 1 << 20;
        for original in [&saved, &compressed] {
            for i in 0..original.len() {
                for bit in [0x01, 0x80] {
                    let mut bent = original.to_vec();
                    bent[i] ^= bit;
                    match inflated_size([bent.as_slice()], limit) {
                        Ok(n) => assert!(n <= limit, "byte {i}: {n}"),
                        Err(WireError::Malformed(_) | WireError::Inflates(_)) => {}
                        Err(other) => panic!("byte {i}: {other}"),
                    }
                }
            }
        }
    }

    #[test]
    fn chunks_that_do_not_read_are_malformed() {
        let mut doc = compressible(10);
        let saved = doc.save();
        let mut bundle = saved.clone();
        bundle[8] = BUNDLE;
        let mut unknown = saved.clone();
        unknown[8] = 9;
        let cut = &saved[..saved.len() - 1];
        let mut bad_magic = saved.clone();
        bad_magic[0] ^= 1;
        // A compressed chunk whose data is not DEFLATE.
        let mut junk = saved[..8].to_vec();
        junk.extend([COMPRESSED, 3, 0xff, 0xff, 0xff]);
        for input in [&bundle[..], &unknown, cut, &bad_magic, &junk, &[0x85]] {
            assert!(
                matches!(
                    inflated_size([input], MAX_INFLATED),
                    Err(WireError::Malformed(_))
                ),
                "{input:?}"
            );
        }
    }
}
