//! `docs/manifest`, the commit point of the store (docs/SCHEMA.md, "Memory
//! and start-up"): which files make up each document, its heads, the
//! signed-heads records kept for it, and the device's counters.
//!
//! A file the manifest does not name was never acknowledged (or was
//! replaced by a compaction), so a commit that touches several documents is
//! all or nothing: it counts once its manifest is renamed into place.

use std::collections::BTreeMap;

use automerge::ChangeHash;
use serde::{Deserialize, Serialize};

/// The manifest's format; another number is refused, never guessed at.
pub(crate) const FORMAT: u32 = 1;
/// Its path from the data directory, which it is sealed under.
pub(crate) const SEALED_NAME: &str = "docs/manifest";
pub(crate) const FILE_NAME: &str = "manifest";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Manifest {
    pub format: u32,
    /// The next file sequence number; every file has a smaller one.
    pub next_seq: u64,
    /// The next signed-heads counter, committed with the record that used
    /// the one before, so a counter never repeats after a crash.
    pub next_heads_counter: u64,
    /// Per document id (its text form).
    pub docs: BTreeMap<String, Row>,
}

/// One document's files and what they add up to.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub(crate) struct Row {
    /// The snapshot the document starts from; none: it starts empty.
    pub snapshot: Option<u64>,
    /// The chunks after it, in the order they were written.
    pub chunks: Vec<u64>,
    /// The heads of the document these files make, lowercase hex.
    pub heads: Vec<String>,
    /// The signed-heads records kept for it, lowercase hex.
    pub signed: Vec<String>,
}

impl Manifest {
    pub fn empty() -> Manifest {
        Manifest {
            format: FORMAT,
            next_seq: 1,
            next_heads_counter: 1,
            docs: BTreeMap::new(),
        }
    }

    pub fn encode(&self) -> Vec<u8> {
        serde_json::to_vec(self).expect("a manifest serialises")
    }

    /// Reads a manifest, refusing one that does not hold together: an
    /// unknown format, a file numbered past the counter, a file named
    /// twice, or heads that are not change hashes.
    pub fn decode(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes).map_err(|e| e.to_string())?;
        if m.format != FORMAT {
            return Err(format!("format {} is not {FORMAT}", m.format));
        }
        let mut seen = std::collections::BTreeSet::new();
        for (doc, row) in &m.docs {
            for seq in row.snapshot.iter().chain(&row.chunks) {
                if *seq >= m.next_seq {
                    return Err(format!(
                        "{doc}: file {seq} is past the counter {}",
                        m.next_seq
                    ));
                }
                if !seen.insert(*seq) {
                    return Err(format!("{doc}: file {seq} is named twice"));
                }
            }
            if row.heads.iter().any(|h| parse_hash(h).is_none()) {
                return Err(format!("{doc}: heads that are not change hashes"));
            }
        }
        Ok(m)
    }
}

impl Row {
    pub fn heads(&self) -> Vec<ChangeHash> {
        self.heads.iter().filter_map(|h| parse_hash(h)).collect()
    }

    pub fn set_heads(&mut self, heads: &[ChangeHash]) {
        self.heads = heads.iter().map(|h| hex::encode(h.0)).collect();
    }
}

fn parse_hash(s: &str) -> Option<ChangeHash> {
    let mut bytes = [0u8; 32];
    hex::decode_to_slice(s, &mut bytes).ok()?;
    Some(ChangeHash(bytes))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_manifest_round_trips_and_one_that_does_not_hold_together_is_refused() {
        let mut m = Manifest::empty();
        m.next_seq = 5;
        let mut row = Row {
            snapshot: Some(1),
            chunks: vec![3, 4],
            ..Row::default()
        };
        row.set_heads(&[ChangeHash([7; 32])]);
        m.docs.insert("couple".into(), row.clone());
        assert_eq!(Manifest::decode(&m.encode()), Ok(m.clone()));
        assert_eq!(m.docs["couple"].heads(), [ChangeHash([7; 32])]);

        let mut past = m.clone();
        past.next_seq = 4;
        assert!(
            Manifest::decode(&past.encode())
                .unwrap_err()
                .contains("past the counter")
        );
        let mut twice = m.clone();
        twice.docs.insert(
            "p/0123456789abcdef0123456789abcdef/2026".into(),
            Row {
                chunks: vec![3],
                ..Row::default()
            },
        );
        assert!(
            Manifest::decode(&twice.encode())
                .unwrap_err()
                .contains("named twice")
        );
        let mut bad_heads = m.clone();
        bad_heads.docs.get_mut("couple").unwrap().heads = vec!["zz".into()];
        assert!(Manifest::decode(&bad_heads.encode()).is_err());
        let mut future = m;
        future.format = 2;
        assert!(
            Manifest::decode(&future.encode())
                .unwrap_err()
                .contains("format 2")
        );
        assert!(Manifest::decode(b"{").is_err());
    }
}
