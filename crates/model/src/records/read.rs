//! What the couple's names, settings, rituals, custom prompts and settled
//! repairs are, read from the records that count (docs/SCHEMA.md, "Names,
//! settings, rituals, prompts, settled repairs"). Each reader also says how
//! many records it skipped: ones whose signer may not write them, or whose
//! values do not parse.

use std::collections::BTreeMap;

use super::ids::{DeviceKey, PartnerCode, RecordKey};
use super::record::{Body, NameSubject, Record, check_name};
use super::trust::TrustView;
use crate::deck::Theme;
use crate::entry::Kind;
use crate::ritual::Cadence;

/// The key of the one setting there is.
pub const DAY_START_HOUR: &str = "day_start_hour";
/// The longest custom prompt, in bytes, as in schema 1.
pub const MAX_PROMPT_TEXT: usize = 1024;

/// A reader's answer, and how many records it skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OnRead<T> {
    pub value: T,
    pub skipped: usize,
}

/// The winner among competing records: the one that sorts last by
/// (`at`, key).
struct Latest<T> {
    rank: (i64, RecordKey),
    value: T,
}

/// Offers `value`, from the record `key` written at `at`, for `slot`.
fn offer<K: Ord, T>(
    slots: &mut BTreeMap<K, Latest<T>>,
    slot: K,
    at: i64,
    key: RecordKey,
    value: T,
) {
    let rank = (at, key);
    match slots.get_mut(&slot) {
        Some(latest) if latest.rank >= rank => {}
        Some(latest) => *latest = Latest { rank, value },
        None => {
            slots.insert(slot, Latest { rank, value });
        }
    }
}

fn winners<K: Ord, T>(slots: BTreeMap<K, Latest<T>>) -> BTreeMap<K, T> {
    slots.into_iter().map(|(k, l)| (k, l.value)).collect()
}

/// Partner names. The signer must be a device of that partner.
pub fn partner_names(view: &TrustView) -> OnRead<BTreeMap<PartnerCode, String>> {
    let mut best = BTreeMap::new();
    let mut skipped = 0;
    for (key, record) in view.counting() {
        let Body::Name(n) = &record.body else {
            continue;
        };
        let NameSubject::Partner(partner) = n.subject else {
            continue;
        };
        if view.certified(&record.signer) != Some(&partner) {
            skipped += 1;
            continue;
        }
        offer(&mut best, partner, record.at, *key, n.name.clone());
    }
    OnRead {
        value: winners(best),
        skipped,
    }
}

/// The name of every certified device: its latest `name` record signed by a
/// device of its partner, or else the name in its latest certificate that
/// counts.
pub fn device_names(view: &TrustView) -> OnRead<BTreeMap<DeviceKey, String>> {
    let mut named = BTreeMap::new();
    let mut certs = BTreeMap::new();
    let mut skipped = 0;
    for (key, record) in view.counting() {
        match &record.body {
            Body::Name(n) => {
                let NameSubject::Device(device) = n.subject else {
                    continue;
                };
                let partner = view.certified(&device);
                if partner.is_none() || view.certified(&record.signer) != partner {
                    skipped += 1;
                    continue;
                }
                offer(&mut named, device, record.at, *key, n.name.clone());
            }
            Body::Cert(c) => {
                // Only a certificate that certifies counts as the name: one
                // from a root for itself, or from a device of the partner.
                let ours = view.certified(&c.subject) == Some(&c.partner)
                    && (c.subject == record.signer
                        || view.certified(&record.signer) == Some(&c.partner));
                if !ours {
                    continue;
                }
                offer(&mut certs, c.subject, record.at, *key, c.name.clone());
            }
            _ => {}
        }
    }
    let mut value = winners(certs);
    value.extend(winners(named));
    OnRead { value, skipped }
}

/// The couple's settings. `None` means the default.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Settings {
    /// The hour, 0-23, at which a journal day starts.
    pub day_start_hour: Option<u8>,
}

/// Settings: per key, the latest record by a device of either partner. A
/// latest value that does not parse means the default, not an older value.
pub fn settings(view: &TrustView) -> OnRead<Settings> {
    let mut best = BTreeMap::new();
    let mut skipped = 0;
    for (key, record) in view.counting() {
        let Body::Setting(s) = &record.body else {
            continue;
        };
        if view.certified(&record.signer).is_none() {
            skipped += 1;
            continue;
        }
        offer(&mut best, s.key.as_str(), record.at, *key, s.value.as_str());
    }
    let day_start_hour = winners(best)
        .get(DAY_START_HOUR)
        .and_then(|value| parse_hour(value));
    OnRead {
        value: Settings { day_start_hour },
        skipped,
    }
}

/// `0`-`23` in decimal, without sign, spaces or leading zeros.
fn parse_hour(value: &str) -> Option<u8> {
    let canonical = !value.is_empty()
        && value.len() <= 2
        && value.bytes().all(|b| b.is_ascii_digit())
        && !(value.len() == 2 && value.starts_with('0'));
    let hour: u8 = value.parse().ok().filter(|_| canonical)?;
    (hour <= 23).then_some(hour)
}

/// A custom prompt. Its id is `c-` and the key of the record that made it,
/// so no other record can change or claim it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CustomPrompt {
    pub id: String,
    pub theme: Theme,
    pub text: String,
    pub author: PartnerCode,
    pub created: i64,
}

/// The prompt id of the prompt record under `key`.
pub fn prompt_id(key: &RecordKey) -> String {
    format!("c-{}", key.to_hex())
}

/// Custom prompts by devices of either partner, in order of `at`, then key.
/// A prompt with an unknown theme, or text that is empty, untrimmed or over
/// 1024 bytes, is skipped.
pub fn prompts(view: &TrustView) -> OnRead<Vec<CustomPrompt>> {
    let mut out = Vec::new();
    let mut skipped = 0;
    for (key, record) in view.counting() {
        let Body::Prompt(p) = &record.body else {
            continue;
        };
        let Some(author) = view.certified(&record.signer) else {
            skipped += 1;
            continue;
        };
        let text_ok =
            !p.text.is_empty() && p.text.len() <= MAX_PROMPT_TEXT && p.text.trim() == p.text;
        let theme = Theme::parse(&p.theme).filter(|t| t.as_str() == p.theme);
        let (Some(theme), true) = (theme, text_ok) else {
            skipped += 1;
            continue;
        };
        out.push(CustomPrompt {
            id: prompt_id(key),
            theme,
            text: p.text.clone(),
            author: *author,
            created: record.at,
        });
    }
    out.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
    OnRead {
        value: out,
        skipped,
    }
}

/// Settled repairs: per (`doc`, `entry`), the latest record by a device of
/// either partner. Only entries that `is_repair_with_agreements` accepts
/// (readable repairs with agreements, known to the caller's index) are
/// kept; records about any other entry are skipped.
pub fn resolved(
    view: &TrustView,
    is_repair_with_agreements: impl Fn(&str, &str) -> bool,
) -> OnRead<BTreeMap<(String, String), bool>> {
    let mut best = BTreeMap::new();
    let mut skipped = 0;
    for (key, record) in view.counting() {
        let Body::Resolve(r) = &record.body else {
            continue;
        };
        if view.certified(&record.signer).is_none() || !is_repair_with_agreements(&r.doc, &r.entry)
        {
            skipped += 1;
            continue;
        }
        let slot = (r.doc.clone(), r.entry.clone());
        offer(&mut best, slot, record.at, *key, r.resolved);
    }
    OnRead {
        value: winners(best),
        skipped,
    }
}

/// Who may change a ritual.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RitualOwner {
    /// Each partner does it for themselves; either changes it.
    Both,
    /// Done once by either partner; either changes it.
    Together,
    /// One partner's ritual: only that partner's devices change it.
    Partner(PartnerCode),
}

impl RitualOwner {
    pub fn parse(s: &str) -> Option<RitualOwner> {
        match s {
            "both" => Some(RitualOwner::Both),
            "together" => Some(RitualOwner::Together),
            _ => s
                .strip_prefix("partner:")
                .and_then(|p| p.parse().ok())
                .map(RitualOwner::Partner),
        }
    }

    fn allows(&self, partner: &PartnerCode) -> bool {
        match self {
            RitualOwner::Both | RitualOwner::Together => true,
            RitualOwner::Partner(p) => p == partner,
        }
    }
}

/// A ritual as its records make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoupleRitual {
    /// The key of the record that created it.
    pub id: RecordKey,
    /// The partner whose device created it.
    pub author: PartnerCode,
    /// The creating record's `at`.
    pub created: i64,
    pub name: String,
    /// The template it was made from, or `custom`; empty when not given.
    pub kind: String,
    pub cadence: Cadence,
    pub owner: RitualOwner,
    /// `None`: done by hand.
    pub fulfilled_by: Option<Kind>,
    pub archived: bool,
}

/// The fields a `ritual` record sets, each checked.
#[derive(Default)]
struct RitualFields {
    name: Option<String>,
    kind: Option<String>,
    cadence: Option<Cadence>,
    owner: Option<RitualOwner>,
    fulfilled_by: Option<Option<Kind>>,
    archived: Option<bool>,
}

/// Reads the fields schema 1 names; others are for later versions and are
/// ignored. `None` when a known field's value does not parse.
fn ritual_fields(fields: &BTreeMap<String, String>) -> Option<RitualFields> {
    let mut out = RitualFields::default();
    for (k, v) in fields {
        match k.as_str() {
            "name" => {
                check_name("name", v).ok()?;
                (v.trim() == v).then_some(())?;
                out.name = Some(v.clone());
            }
            "kind" => out.kind = Some(v.clone()),
            "cadence" => out.cadence = Some(v.parse().ok()?),
            "owner" => out.owner = Some(RitualOwner::parse(v)?),
            "fulfilled_by" => {
                out.fulfilled_by = Some(match v.as_str() {
                    "" => None,
                    kind => Some(kind.parse().ok()?),
                })
            }
            "archived" => {
                (v == "1").then_some(())?;
                out.archived = Some(true);
            }
            _ => {}
        }
    }
    Some(out)
}

/// Rituals. A creating record (empty `ritual`) by a device of either
/// partner must set `name`, `cadence` and `owner`; its key is the ritual's
/// id. Changes apply in order of `at`, then key, each only if the owner at
/// that point allows its signer, and each overwrites only the fields it
/// lists. A change not allowed, a change of no known ritual, and a record
/// whose fields do not parse are skipped.
pub fn rituals(view: &TrustView) -> OnRead<Vec<CoupleRitual>> {
    let mut skipped = 0;
    let mut made: BTreeMap<RecordKey, CoupleRitual> = BTreeMap::new();
    let mut changes: Vec<(i64, RecordKey, &Record, RecordKey, RitualFields)> = Vec::new();
    for (key, record) in view.counting() {
        let Body::Ritual(r) = &record.body else {
            continue;
        };
        let (Some(partner), Some(fields)) =
            (view.certified(&record.signer), ritual_fields(&r.fields))
        else {
            skipped += 1;
            continue;
        };
        match r.ritual {
            None => {
                let (Some(name), Some(cadence), Some(owner)) =
                    (fields.name, fields.cadence, fields.owner)
                else {
                    skipped += 1;
                    continue;
                };
                made.insert(
                    *key,
                    CoupleRitual {
                        id: *key,
                        author: *partner,
                        created: record.at,
                        name,
                        kind: fields.kind.unwrap_or_default(),
                        cadence,
                        owner,
                        fulfilled_by: fields.fulfilled_by.flatten(),
                        archived: fields.archived.unwrap_or(false),
                    },
                );
            }
            Some(ritual) => changes.push((record.at, *key, record, ritual, fields)),
        }
    }
    changes.sort_by_key(|(at, key, ..)| (*at, *key));
    for (_, _, record, ritual, fields) in changes {
        let (Some(r), Some(partner)) = (made.get_mut(&ritual), view.certified(&record.signer))
        else {
            skipped += 1;
            continue;
        };
        if !r.owner.allows(partner) {
            skipped += 1;
            continue;
        }
        if let Some(v) = fields.name {
            r.name = v;
        }
        if let Some(v) = fields.kind {
            r.kind = v;
        }
        if let Some(v) = fields.cadence {
            r.cadence = v;
        }
        if let Some(v) = fields.owner {
            r.owner = v;
        }
        if let Some(v) = fields.fulfilled_by {
            r.fulfilled_by = v;
        }
        if let Some(v) = fields.archived {
            r.archived = v;
        }
    }
    let mut value: Vec<CoupleRitual> = made.into_values().collect();
    value.sort_by_key(|r| (r.created, r.id));
    OnRead { value, skipped }
}

#[cfg(test)]
mod tests;
