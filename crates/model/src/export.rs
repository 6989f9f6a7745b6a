//! `export --format automerge` (docs/SCHEMA.md, "Exports"): a fresh,
//! plaintext, standard Automerge document of what this device can read,
//! laid out as schema 1's flat maps, which any Automerge implementation
//! loads. It holds no devices, records, keys, history of edits, deleted
//! entries or unopened answers: only what the reader was shown.

use std::collections::BTreeMap;

use automerge::ActorId;
use chrono::{DateTime, FixedOffset};

use crate::doc::Prompt;
use crate::ritual::{Ritual, RitualDone};
use crate::{DayBoundary, Entry, Journal, ModelError, NewEntry, PartnerId, WriteCtx};

/// The export's own actor: the file says nothing of which device wrote it.
const EXPORT_ACTOR: &[u8] = b"hearth-export-v2";

/// Builds the export document and returns its saved bytes.
pub fn document(
    partners: &BTreeMap<PartnerId, String>,
    entries: &[&Entry],
    rituals: &[Ritual],
    log: &[RitualDone],
    prompts: &[Prompt],
    boundary: DayBoundary,
) -> Result<Vec<u8>, ModelError> {
    let mut j = Journal::new(ActorId::from(EXPORT_ACTOR));
    let epoch: DateTime<FixedOffset> = DateTime::UNIX_EPOCH.fixed_offset();
    j.set_day_boundary(boundary, epoch)?;
    for (id, name) in partners {
        j.set_partner(id, name, epoch)?;
    }
    for e in entries {
        let ctx = WriteCtx {
            author: e.author.clone(),
            device: e.device.clone(),
            now: e.created,
        };
        let new = NewEntry {
            body: e.body.clone(),
            tags: (&e.tags).into(),
            starred: e.starred,
            tender: Some(e.tender),
        };
        j.add_entry(&ctx, &new, e.id)?;
    }
    for r in rituals {
        let ctx = WriteCtx {
            author: match &r.owner {
                crate::Owner::Partner(p) => p.clone(),
                _ => partners
                    .keys()
                    .next()
                    .cloned()
                    .unwrap_or(PartnerId(String::new().into())),
            },
            device: crate::DeviceId(String::new().into()),
            now: r.created,
        };
        j.add_ritual(&ctx, r)?;
        if let Some(at) = r.archived {
            j.archive_ritual(&WriteCtx { now: at, ..ctx }, &r.id)?;
        }
    }
    for d in log {
        let Some(r) = rituals.iter().find(|r| r.id == d.ritual) else {
            continue;
        };
        let ctx = WriteCtx {
            author: d.partner.clone(),
            device: d.device.clone(),
            now: d.at,
        };
        j.mark_done(&ctx, r, d.occurrence, d.entry)?;
    }
    for p in prompts.iter().filter(|p| p.custom) {
        let ctx = WriteCtx {
            author: partners
                .keys()
                .next()
                .cloned()
                .unwrap_or(PartnerId(String::new().into())),
            device: crate::DeviceId(String::new().into()),
            now: epoch,
        };
        j.add_prompt(&ctx, &p.id, &p.text, p.theme)?;
    }
    Ok(j.doc().save())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Body;

    #[test]
    fn the_export_loads_as_a_journal_with_the_same_entries_and_words() {
        let at = DateTime::parse_from_rfc3339("2026-12-07T21:00:00+01:00").unwrap();
        let ana = PartnerId("0123456789abcdef0123456789abcdef".into());
        let e = Entry {
            id: crate::EntryId::from_parts(1_796_600_000_000, 1),
            author: ana.clone(),
            device: crate::DeviceId("ab".repeat(32).into()),
            created: at,
            day: at.date_naive(),
            tags: ["coast".to_string()].into(),
            starred: true,
            tender: false,
            private: false,
            edited: None,
            deleted: None,
            resolved: None,
            body: Body::Note {
                text: "a walk to the #coast".into(),
            },
            conflicts: Default::default(),
        };
        let partners = BTreeMap::from([(ana.clone(), "Ana".to_string())]);
        let bytes = document(&partners, &[&e], &[], &[], &[], DayBoundary::default()).unwrap();
        let back = Journal::from_doc(automerge::Automerge::load(&bytes).unwrap()).unwrap();
        let (entries, bad) = back.all_entries();
        assert_eq!(bad, 0);
        assert_eq!(entries.len(), 1);
        assert_eq!(entries[0].body, e.body);
        assert_eq!(entries[0].author, ana);
        assert!(entries[0].starred);
        assert_eq!(back.partners()[&ana], "Ana");
    }
}
