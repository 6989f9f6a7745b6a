//! Writing the couple document's records (docs/SCHEMA.md, "Records"): each
//! write is one signed record added under its own key, by this device.
//! The readers in `read.rs` and `trust.rs` decide what they mean; a writer
//! refuses only what it can tell is wrong before signing.

use std::collections::BTreeMap;

use automerge::Automerge;
use ed25519_dalek::SigningKey;
use thiserror::Error;

use super::couple::{add_record, stored_records};
use super::error::RecordError;
use super::heads::{DocKind, PartnerDoc};
use super::history::DocHistory;
use super::ids::{DeviceKey, PartnerCode, RecordKey};
use super::read::{DAY_START_HOUR, partner_names, prompt_id};
use super::record::{
    Approve, Body, Cert, Name, NameSubject, PromptRecord, Record, Remove, Resolve, RitualRecord,
    Setting, writer_at,
};
use super::trust::TrustView;
use crate::EntryId;

#[derive(Debug, Error)]
pub enum WriteError {
    #[error(transparent)]
    Record(#[from] RecordError),
    #[error("automerge: {0}")]
    Automerge(#[from] automerge::AutomergeError),
    #[error("{0:?} is your partner's name; choose another")]
    PartnersName(String),
    #[error("a device cannot remove itself; remove it from another device")]
    RemoveSelf,
    #[error("a settled repair is one of a shared partner document, not {0}")]
    NotShared(PartnerDoc),
    #[error("the day starts at an hour from 0 to 23, not {0}")]
    Hour(u8),
}

/// This device, signing at its clock.
pub struct Signer<'a> {
    pub key: &'a SigningKey,
    /// Milliseconds since the Unix epoch, UTC.
    pub clock_ms: i64,
}

impl Signer<'_> {
    pub fn device(&self) -> DeviceKey {
        DeviceKey(self.key.verifying_key().to_bytes())
    }
}

/// The trust computation over `couple` as it stands.
pub fn trust_of(couple: &Automerge) -> TrustView {
    TrustView::compute(&stored_records(couple), &DocHistory::new(couple))
}

fn put(couple: &mut Automerge, s: &Signer, at: i64, body: Body) -> Result<RecordKey, WriteError> {
    let signed = Record {
        signer: s.device(),
        at,
        body,
    }
    .sign(s.key)?;
    add_record(couple, &signed)?;
    Ok(signed.key())
}

/// The greatest `at` among the counting records `competes` picks out.
fn latest(couple: &Automerge, competes: impl Fn(&Body) -> bool) -> Option<i64> {
    trust_of(couple)
        .counting()
        .filter(|(_, r)| competes(&r.body))
        .map(|(_, r)| r.at)
        .max()
}

/// `hearth init` on a device that joins nobody: its root certificate and
/// its partner's name. Returns the new partner's id.
pub fn found_partner(
    couple: &mut Automerge,
    s: &Signer,
    device_name: &str,
    partner_name: &str,
) -> Result<PartnerCode, WriteError> {
    let partner = PartnerCode::of_root(&s.device());
    certify(couple, s, partner, s.device(), device_name)?;
    name_partner(couple, s, partner, partner_name)?;
    Ok(partner)
}

/// Device `subject` belongs to `partner`: the signer's own partner, for a
/// certificate to count.
pub fn certify(
    couple: &mut Automerge,
    s: &Signer,
    partner: PartnerCode,
    subject: DeviceKey,
    name: &str,
) -> Result<RecordKey, WriteError> {
    let body = Body::Cert(Cert {
        partner,
        subject,
        name: name.to_string(),
    });
    put(couple, s, s.clock_ms, body)
}

/// The signer's partner approves `subject`, a device of `partner`.
pub fn approve(
    couple: &mut Automerge,
    s: &Signer,
    subject: DeviceKey,
    partner: PartnerCode,
) -> Result<RecordKey, WriteError> {
    put(
        couple,
        s,
        s.clock_ms,
        Body::Approve(Approve { subject, partner }),
    )
}

/// Removes `subject` for good, as of the couple document this device holds.
pub fn remove(
    couple: &mut Automerge,
    s: &Signer,
    subject: DeviceKey,
) -> Result<RecordKey, WriteError> {
    if subject == s.device() {
        return Err(WriteError::RemoveSelf);
    }
    let seen = couple.get_heads().into_iter().collect();
    put(
        couple,
        s,
        s.clock_ms,
        Body::Remove(Remove { subject, seen }),
    )
}

/// Names a partner. The name keeps its case; one the other partner goes by
/// (in any case) is refused, so the two can always be told apart.
pub fn name_partner(
    couple: &mut Automerge,
    s: &Signer,
    partner: PartnerCode,
    name: &str,
) -> Result<RecordKey, WriteError> {
    let names = partner_names(&trust_of(couple)).value;
    let clash = names
        .iter()
        .any(|(p, n)| *p != partner && n.to_lowercase() == name.to_lowercase());
    if clash {
        return Err(WriteError::PartnersName(name.to_string()));
    }
    put_name(couple, s, NameSubject::Partner(partner), name)
}

/// Names a device.
pub fn name_device(
    couple: &mut Automerge,
    s: &Signer,
    device: DeviceKey,
    name: &str,
) -> Result<RecordKey, WriteError> {
    put_name(couple, s, NameSubject::Device(device), name)
}

/// A `name` record for `subject`, dated past every name of it held here.
fn put_name(
    couple: &mut Automerge,
    s: &Signer,
    subject: NameSubject,
    name: &str,
) -> Result<RecordKey, WriteError> {
    let at = writer_at(
        s.clock_ms,
        latest(
            couple,
            |b| matches!(b, Body::Name(n) if n.subject == subject),
        ),
    );
    let body = Body::Name(Name {
        subject,
        name: name.to_string(),
    });
    put(couple, s, at, body)
}

/// When the journal day starts, for both partners.
pub fn set_day_start(
    couple: &mut Automerge,
    s: &Signer,
    hour: u8,
) -> Result<RecordKey, WriteError> {
    if hour > 23 {
        return Err(WriteError::Hour(hour));
    }
    let at = writer_at(
        s.clock_ms,
        latest(
            couple,
            |b| matches!(b, Body::Setting(x) if x.key == DAY_START_HOUR),
        ),
    );
    let body = Body::Setting(Setting {
        key: DAY_START_HOUR.to_string(),
        value: hour.to_string(),
    });
    put(couple, s, at, body)
}

/// Creates a ritual; its id is the returned key. `fields` uses schema 1's
/// names and must set `name`, `cadence` and `owner` (read.rs says why).
pub fn add_ritual(
    couple: &mut Automerge,
    s: &Signer,
    fields: BTreeMap<String, String>,
) -> Result<RecordKey, WriteError> {
    let body = Body::Ritual(RitualRecord {
        ritual: None,
        fields,
    });
    put(couple, s, s.clock_ms, body)
}

/// Changes some fields of ritual `id`.
pub fn change_ritual(
    couple: &mut Automerge,
    s: &Signer,
    id: RecordKey,
    fields: BTreeMap<String, String>,
) -> Result<RecordKey, WriteError> {
    let at = writer_at(
        s.clock_ms,
        latest(
            couple,
            |b| matches!(b, Body::Ritual(r) if r.ritual == Some(id)),
        ),
    );
    let body = Body::Ritual(RitualRecord {
        ritual: Some(id),
        fields,
    });
    put(couple, s, at, body)
}

/// A custom prompt; returns its id (`c-` and the record's key).
pub fn add_prompt(
    couple: &mut Automerge,
    s: &Signer,
    theme: &str,
    text: &str,
) -> Result<String, WriteError> {
    let body = Body::Prompt(PromptRecord {
        theme: theme.to_string(),
        text: text.to_string(),
    });
    put(couple, s, s.clock_ms, body).map(|k| prompt_id(&k))
}

/// Settles a repair's agreements, or opens them again.
pub fn resolve(
    couple: &mut Automerge,
    s: &Signer,
    doc: &PartnerDoc,
    entry: &EntryId,
    resolved: bool,
) -> Result<RecordKey, WriteError> {
    if doc.kind != DocKind::Partner {
        // A private document is never named in the couple document.
        return Err(WriteError::NotShared(*doc));
    }
    let (doc_id, entry_id) = (doc.to_string(), entry.key());
    let at = writer_at(
        s.clock_ms,
        latest(
            couple,
            |b| matches!(b, Body::Resolve(r) if r.doc == doc_id && r.entry == entry_id),
        ),
    );
    let body = Body::Resolve(Resolve {
        doc: doc_id,
        entry: entry_id,
        resolved,
    });
    put(couple, s, at, body)
}

#[cfg(test)]
mod tests;
