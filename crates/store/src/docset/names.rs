//! The names of a document's files in `docs/` (docs/SCHEMA.md, "Encrypted
//! files"): `<file id>.<seq>.snap` for a whole document, `<file id>.<seq>.chunk`
//! for the changes of one commit. `<seq>` is one counter per device, so a
//! name is never reused, even across documents.

use hearth_model::records::manifest::DocId;

use crate::seal::Role;

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) enum Kind {
    Snapshot,
    Chunk,
}

/// One file of one document.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub(crate) struct DocFile {
    pub doc: DocId,
    pub seq: u64,
    pub kind: Kind,
}

impl DocFile {
    pub fn name(&self) -> String {
        let ext = match self.kind {
            Kind::Snapshot => "snap",
            Kind::Chunk => "chunk",
        };
        format!("{}.{:010}.{ext}", self.doc.file_id(), self.seq)
    }

    /// The name the file is sealed under: its path from the data directory,
    /// so a file cannot be planted under another's name.
    pub fn sealed_name(&self) -> String {
        format!("docs/{}", self.name())
    }

    pub fn role(&self) -> Role {
        match self.kind {
            Kind::Snapshot => Role::Snapshot,
            Kind::Chunk => Role::Chunk,
        }
    }

    /// Only names this store writes itself: `couple.1.chunk` is not ours.
    pub fn parse(name: &str) -> Option<DocFile> {
        let (rest, kind) = if let Some(r) = name.strip_suffix(".snap") {
            (r, Kind::Snapshot)
        } else {
            (name.strip_suffix(".chunk")?, Kind::Chunk)
        };
        let (file_id, seq) = rest.rsplit_once('.')?;
        let file = DocFile {
            doc: DocId::from_file_id(file_id)?,
            seq: seq.parse().ok()?,
            kind,
        };
        (file.name() == name).then_some(file)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip_and_strangers_are_not_ours() {
        let p: DocId = "p/0123456789abcdef0123456789abcdef/2026".parse().unwrap();
        for file in [
            DocFile {
                doc: DocId::Couple,
                seq: 1,
                kind: Kind::Chunk,
            },
            DocFile {
                doc: p,
                seq: 4_000_000_000,
                kind: Kind::Snapshot,
            },
        ] {
            assert_eq!(DocFile::parse(&file.name()), Some(file), "{}", file.name());
        }
        assert_eq!(
            DocFile {
                doc: p,
                seq: 12,
                kind: Kind::Chunk
            }
            .sealed_name(),
            "docs/p-0123456789abcdef0123456789abcdef-2026.0000000012.chunk"
        );
        for stranger in [
            "couple.1.chunk",
            "couple.0000000001.am",
            "Couple.0000000001.chunk",
            "manifest",
            ".couple.0000000001.chunk.tmp",
            "p-0123-2026.0000000001.snap",
        ] {
            assert_eq!(DocFile::parse(stranger), None, "{stranger}");
        }
    }
}
