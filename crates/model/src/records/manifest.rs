//! The manifest rows two devices compare when a session starts
//! (docs/SCHEMA.md, "Sync: what goes to whom", "Manifest"; issue 11,
//! points 1 and 3): per document a heads digest and a keys digest, so a
//! year both devices agree on costs one row and nothing is loaded for it.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use automerge::ChangeHash;
use sha2::{Digest, Sha256};

use super::canonical::Writer;
use super::error::RecordError;
use super::heads::PartnerDoc;

/// A document a manifest row is about.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocId {
    Couple,
    Partner(PartnerDoc),
}

impl DocId {
    /// The name of the document's files: its id with `/` replaced by `-`
    /// (`p-<partner id>-<year>`), so one directory holds every document.
    pub fn file_id(&self) -> String {
        self.to_string().replace('/', "-")
    }

    /// The document a file id names, if any.
    pub fn from_file_id(s: &str) -> Option<DocId> {
        // A document id never holds `-`, so the mapping is one to one.
        if s.contains('/') {
            return None;
        }
        s.replace('-', "/").parse().ok()
    }
}

impl fmt::Display for DocId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            DocId::Couple => f.write_str("couple"),
            DocId::Partner(p) => p.fmt(f),
        }
    }
}

impl FromStr for DocId {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<DocId, RecordError> {
        match s {
            "couple" => Ok(DocId::Couple),
            _ => s.parse().map(DocId::Partner),
        }
    }
}

/// One row of a manifest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    pub doc: DocId,
    pub heads: [u8; 32],
    pub keys: [u8; 32],
    /// The document's size in bytes, for progress.
    pub size: u64,
}

/// SHA-256 over tag `hearth/v2/heads-digest` and the heads as `hashes`.
pub fn heads_digest(heads: &[ChangeHash]) -> [u8; 32] {
    let set: BTreeSet<[u8; 32]> = heads.iter().map(|h| h.0).collect();
    let mut w = Writer::new();
    w.tag("hearth/v2/heads-digest");
    // A document has a handful of heads, far below the 65535 a list holds.
    w.hashes(&set).expect("a document's heads fit a hash list");
    Sha256::digest(w.into_bytes()).into()
}

/// SHA-256 over tag `hearth/v2/keys-digest` and, per live key the peer may
/// hold, in ascending order, entry id16, version id16 and audience u8
/// (0 `mine`, 1 `couple`).
pub fn keys_digest(keys: impl IntoIterator<Item = (u128, [u8; 16], u8)>) -> [u8; 32] {
    let sorted: BTreeSet<(u128, [u8; 16], u8)> = keys.into_iter().collect();
    let mut w = Writer::new();
    w.tag("hearth/v2/keys-digest");
    for (entry, version, audience) in sorted {
        w.id16(&entry.to_be_bytes()).id16(&version).u8(audience);
    }
    Sha256::digest(w.into_bytes()).into()
}

/// The documents to sync with a peer, in the order they go: those whose
/// rows differ or that only one side has, the couple document first, then
/// `year`'s documents, then earlier years newest first, later years last.
pub fn to_sync(ours: &[Row], theirs: &[Row], year: u16) -> Vec<DocId> {
    let index = |rows: &[Row]| -> BTreeMap<DocId, ([u8; 32], [u8; 32])> {
        rows.iter().map(|r| (r.doc, (r.heads, r.keys))).collect()
    };
    let (a, b) = (index(ours), index(theirs));
    let mut docs: Vec<DocId> = a
        .keys()
        .chain(b.keys())
        .copied()
        .collect::<BTreeSet<_>>()
        .into_iter()
        .filter(|d| a.get(d) != b.get(d))
        .collect();
    docs.sort_by_key(|d| match d {
        DocId::Couple => (0, Reverse(0), *d),
        DocId::Partner(p) if p.year == year => (1, Reverse(0), *d),
        DocId::Partner(p) if p.year < year => (2, Reverse(p.year), *d),
        DocId::Partner(p) => (3, Reverse(u16::MAX - p.year), *d),
    });
    docs
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::heads::DocKind;
    use crate::records::ids::PartnerCode;

    fn doc(partner: u8, year: u16) -> DocId {
        DocId::Partner(PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([partner; 16]),
            year,
        })
    }

    fn row(doc: DocId, heads: u8) -> Row {
        Row {
            doc,
            heads: heads_digest(&[ChangeHash([heads; 32])]),
            keys: keys_digest([]),
            size: 100,
        }
    }

    #[test]
    fn document_ids_and_file_ids_round_trip_and_refuse_other_forms() {
        let p = "p/0123456789abcdef0123456789abcdef/2026";
        for text in ["couple", p, "v/0123456789abcdef0123456789abcdef/1970"] {
            let id: DocId = text.parse().unwrap();
            assert_eq!(id.to_string(), text);
            assert_eq!(DocId::from_file_id(&id.file_id()), Some(id));
        }
        assert_eq!(
            DocId::Partner(p.parse().unwrap()).file_id(),
            "p-0123456789abcdef0123456789abcdef-2026"
        );
        for bad in [
            "",
            "Couple",
            "p/0123/2026",
            "x/0123456789abcdef0123456789abcdef/2026",
        ] {
            assert!(bad.parse::<DocId>().is_err(), "{bad:?}");
        }
        // A file id is never a document id with a slash in it.
        assert_eq!(DocId::from_file_id(p), None);
        assert_eq!(DocId::from_file_id("couple.keys"), None);
    }

    #[test]
    fn digests_do_not_depend_on_order_and_do_depend_on_every_part() {
        let (h1, h2) = (ChangeHash([1; 32]), ChangeHash([2; 32]));
        assert_eq!(heads_digest(&[h1, h2]), heads_digest(&[h2, h1]));
        assert_ne!(heads_digest(&[h1]), heads_digest(&[h1, h2]));
        let k = |audience| (7u128, [3; 16], audience);
        assert_eq!(
            keys_digest([k(1), (1, [0; 16], 0)]),
            keys_digest([(1, [0; 16], 0), k(1)])
        );
        assert_ne!(keys_digest([k(0)]), keys_digest([k(1)]), "audience counts");
        assert_ne!(keys_digest([k(0)]), keys_digest([]));
        assert_ne!(heads_digest(&[]), keys_digest([]), "tags differ");
    }

    #[test]
    fn only_documents_that_differ_are_synced_couple_first_then_this_year_then_back() {
        let ours = [
            row(DocId::Couple, 1),
            row(doc(1, 2026), 1),
            row(doc(2, 2026), 1),
            row(doc(1, 2024), 1),
            row(doc(1, 2025), 1),
            row(doc(1, 2019), 1),
        ];
        let theirs = [
            row(DocId::Couple, 2),
            row(doc(1, 2026), 1),
            row(doc(2, 2026), 2),
            row(doc(1, 2024), 2),
            row(doc(1, 2025), 2),
            // 2019 they lack; 2027 only they have (a clock ahead).
            row(doc(1, 2027), 1),
        ];
        assert_eq!(
            to_sync(&ours, &theirs, 2026),
            [
                DocId::Couple,
                doc(2, 2026),
                doc(1, 2025),
                doc(1, 2024),
                doc(1, 2019),
                doc(1, 2027),
            ]
        );
        // A year both agree on costs nothing; two equal manifests, nothing.
        assert!(to_sync(&ours, &ours, 2026).is_empty());
        // A keys digest alone makes a difference.
        let mut keyed = ours.clone();
        keyed[1].keys = keys_digest([(1, [1; 16], 1)]);
        assert_eq!(to_sync(&ours, &keyed, 2026), [doc(1, 2026)]);
    }
}
