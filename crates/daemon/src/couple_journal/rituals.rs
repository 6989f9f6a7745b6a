//! Rituals in schema 2: defined by couple records (the owner rule is
//! checked on read), done in the doer's own partner document.

use std::collections::BTreeMap;

use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use hearth_model::records::book::Docs;
use hearth_model::records::couple_write;
use hearth_model::records::heads::{DocKind, PartnerDoc};
use hearth_model::records::ids::{PartnerCode, RecordKey};
use hearth_model::records::partner_log;
use hearth_model::records::read::{CoupleRitual, RitualOwner, rituals};
use hearth_model::records::record::Body as RecordBody;
use hearth_model::ritual::{Owner, Ritual, RitualChange, RitualDone};
use hearth_model::{DeviceId, EntryId, MAX_NAME, ModelError, PartnerId};

use super::{CoupleJournal, model};

/// A ritual's name as a local write must give it: not blank, at most
/// [`MAX_NAME`] bytes once trimmed, no control characters.
fn check_ritual_name(name: &str) -> Result<(), ModelError> {
    let name = name.trim();
    if name.is_empty() {
        return Err(ModelError::Empty("ritual name"));
    }
    if name.len() > MAX_NAME {
        return Err(ModelError::TooLong {
            field: "ritual name",
            len: name.len(),
            max: MAX_NAME,
        });
    }
    if name.chars().any(char::is_control) {
        return Err(ModelError::Refused(
            "a ritual name has no control characters".into(),
        ));
    }
    Ok(())
}

fn utc(ms: i64) -> Option<DateTime<FixedOffset>> {
    DateTime::from_timestamp_millis(ms).map(|t| t.fixed_offset())
}

fn owner_key(owner: &Owner) -> Result<String, ModelError> {
    Ok(match owner {
        Owner::Both => "both".into(),
        Owner::Together => "together".into(),
        Owner::Partner(p) => {
            let code: PartnerCode = p.as_str().parse().map_err(model)?;
            format!("partner:{code}")
        }
    })
}

fn owner_of(owner: RitualOwner) -> Owner {
    match owner {
        RitualOwner::Both => Owner::Both,
        RitualOwner::Together => Owner::Together,
        RitualOwner::Partner(p) => Owner::Partner(PartnerId(p.to_hex().into())),
    }
}

/// The document a log line of `partner` for an occurrence goes into: the
/// year the occurrence's window opens.
fn log_doc(partner: PartnerCode, occurrence: NaiveDate) -> PartnerDoc {
    PartnerDoc {
        kind: DocKind::Partner,
        partner,
        year: occurrence.year().clamp(1970, 9999) as u16,
    }
}

impl CoupleJournal {
    /// Every ritual, archived ones included.
    pub fn rituals(&self) -> Vec<Ritual> {
        rituals(&self.trust)
            .value
            .into_iter()
            .filter_map(|r| self.ritual_of(r))
            .collect()
    }

    fn ritual_of(&self, r: CoupleRitual) -> Option<Ritual> {
        let archived = if r.archived {
            // When: the latest record of this ritual that archived it.
            let at = self
                .trust
                .counting()
                .filter_map(|(_, rec)| match &rec.body {
                    RecordBody::Ritual(x)
                        if x.ritual == Some(r.id) && x.fields.contains_key("archived") =>
                    {
                        Some(rec.at)
                    }
                    _ => None,
                })
                .max()
                .unwrap_or(r.created);
            Some(utc(at)?)
        } else {
            None
        };
        Some(Ritual {
            id: r.id.to_hex(),
            name: r.name,
            kind: r.kind,
            cadence: r.cadence,
            owner: owner_of(r.owner),
            fulfilled_by: r.fulfilled_by,
            created: utc(r.created)?,
            archived,
        })
    }

    fn ritual_key(id: &str) -> Result<RecordKey, ModelError> {
        id.parse()
            .map_err(|_| ModelError::NoSuchRitual(id.to_string()))
    }

    /// Adds a ritual; its id is the key of the record that made it, so the
    /// one in `ritual` is not used. Returns the ritual as it reads back.
    pub fn add_ritual(
        &mut self,
        at: DateTime<FixedOffset>,
        ritual: &Ritual,
    ) -> Result<Ritual, ModelError> {
        check_ritual_name(&ritual.name)?;
        if ritual.kind.len() > MAX_NAME {
            return Err(ModelError::TooLong {
                field: "ritual kind",
                len: ritual.kind.len(),
                max: MAX_NAME,
            });
        }
        let mut fields = BTreeMap::new();
        fields.insert("name".to_string(), ritual.name.trim().to_string());
        fields.insert("kind".to_string(), ritual.kind.clone());
        fields.insert("cadence".to_string(), ritual.cadence.to_string());
        fields.insert("owner".to_string(), owner_key(&ritual.owner)?);
        if let Some(k) = ritual.fulfilled_by {
            fields.insert("fulfilled_by".to_string(), k.as_str().to_string());
        }
        let key = self.write_couple(at, |c, s| couple_write::add_ritual(c, s, fields))?;
        self.rituals()
            .into_iter()
            .find(|r| r.id == key.to_hex())
            .ok_or_else(|| model("the new ritual does not read back; its fields are not valid"))
    }

    /// Changes the fields `change` gives.
    pub fn update_ritual(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &str,
        change: &RitualChange,
    ) -> Result<(), ModelError> {
        let key = Self::ritual_key(id)?;
        if let Some(n) = &change.name {
            check_ritual_name(n)?;
        }
        let mut fields = BTreeMap::new();
        if let Some(n) = &change.name {
            fields.insert("name".to_string(), n.trim().to_string());
        }
        if let Some(c) = change.cadence {
            fields.insert("cadence".to_string(), c.to_string());
        }
        if let Some(o) = &change.owner {
            fields.insert("owner".to_string(), owner_key(o)?);
        }
        if let Some(k) = change.fulfilled_by {
            fields.insert(
                "fulfilled_by".to_string(),
                k.map(|k| k.as_str().to_string()).unwrap_or_default(),
            );
        }
        self.write_couple(at, |c, s| couple_write::change_ritual(c, s, key, fields))?;
        Ok(())
    }

    pub fn archive_ritual(
        &mut self,
        at: DateTime<FixedOffset>,
        id: &str,
    ) -> Result<(), ModelError> {
        let key = Self::ritual_key(id)?;
        let fields = BTreeMap::from([("archived".to_string(), "1".to_string())]);
        self.write_couple(at, |c, s| couple_write::change_ritual(c, s, key, fields))?;
        Ok(())
    }

    /// Logs my doing `ritual`'s occurrence opening on `occ`.
    pub fn mark_done(
        &mut self,
        at: DateTime<FixedOffset>,
        ritual: &Ritual,
        occ: NaiveDate,
        entry: Option<EntryId>,
    ) -> Result<RitualDone, ModelError> {
        let me = self.me()?;
        let doc = log_doc(me, occ);
        let mut docs = self.docs();
        let am = docs.partner_doc(&doc).map_err(model)?;
        partner_log::mark_done(am, &ritual.id, occ, at, entry.as_ref()).map_err(model)?;
        Ok(RitualDone {
            ritual: ritual.id.clone(),
            occurrence: occ,
            partner: PartnerId(me.to_hex().into()),
            device: DeviceId(self.device.to_hex().into()),
            at,
            entry,
        })
    }

    /// Whether `who` (or anyone, with `None`) logged the occurrence.
    pub fn logged(&self, ritual: &str, occ: NaiveDate, who: Option<&PartnerId>) -> bool {
        self.trust
            .partners()
            .into_iter()
            .filter(|p| who.is_none_or(|w| w.as_str() == p.to_hex()))
            .any(|p| {
                let doc = log_doc(p, occ);
                match self
                    .set
                    .doc(&hearth_model::records::manifest::DocId::Partner(doc))
                {
                    Some(am) => partner_log::logged(am, ritual, occ),
                    None => self
                        .log_lines(&doc)
                        .iter()
                        .any(|l| l.ritual == ritual && l.occurrence == occ),
                }
            })
    }

    /// Every log line of every partner document held here.
    pub fn ritual_log(&self) -> Vec<RitualDone> {
        let mut out = Vec::new();
        let mut docs: std::collections::BTreeSet<_> = self.set.documents().into_iter().collect();
        docs.extend(self.set.loaded());
        for doc in docs {
            let hearth_model::records::manifest::DocId::Partner(p) = doc else {
                continue;
            };
            for line in self.log_lines(&p) {
                out.push(RitualDone {
                    ritual: line.ritual,
                    occurrence: line.occurrence,
                    partner: PartnerId(p.partner.to_hex().into()),
                    // Schema 2 keeps no device in a log line: the document
                    // says whose it is, and that is what reads need.
                    device: DeviceId(String::new().into()),
                    at: line.at,
                    entry: line.entry,
                });
            }
        }
        out
    }
}
