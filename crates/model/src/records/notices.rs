//! One-line notices of changes to the couple's device list (issue 9.2;
//! docs/SCHEMA.md, "Notices"): a device added, approved or removed, shown
//! on every device of the couple until seen.
//!
//! Made from the counting `cert`, `approve` and `remove` records alone, so
//! every device words the same change the same way. A device is not told
//! what it did itself, nor what the couple document held before the change
//! that certified it: a new device would otherwise open on the couple's
//! whole history. "Before" is the document's own causal order, not the
//! writers' clocks, which need not agree.

use chrono::DateTime;

use std::collections::BTreeSet;

use automerge::ChangeHash;

use super::history::Ancestry;
use super::ids::{DeviceKey, RecordKey};
use super::read::{device_names, partner_names};
use super::record::Body;
use super::trust::{DeviceStatus, TrustView};

/// A change to the device list, worded for one device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Notice {
    /// The record it comes from: what "seen" remembers.
    pub key: RecordKey,
    /// The writer's clock, ms since the epoch, UTC.
    pub at: i64,
    pub text: String,
}

/// The notices `me` should be shown, oldest first, whether seen or not.
/// `history` is the couple document's.
pub fn device_notices(trust: &TrustView, me: &DeviceKey, history: &impl Ancestry) -> Vec<Notice> {
    let Some(joined) = joined_by(trust, me) else {
        return Vec::new();
    };
    let mine = trust.ever_certified(me).copied();
    let partners = partner_names(trust).value;
    let devices = device_names(trust).value;
    let who = |signer: &DeviceKey| -> String {
        trust
            .ever_certified(signer)
            .and_then(|p| partners.get(p))
            .cloned()
            .unwrap_or_else(|| "a device".to_string())
    };
    let device = |d: &DeviceKey| -> String {
        if d == me {
            "this device".to_string()
        } else {
            devices.get(d).map_or_else(
                || format!("device {}", &d.to_hex()[..8]),
                |n| format!("'{n}'"),
            )
        }
    };
    // "a device 'tablet'": its name as the records give it now (a `name`
    // record often follows the pairing's `cert`).
    let a_device = |d: &DeviceKey| match devices.get(d) {
        Some(n) => format!("a device '{n}'"),
        None => format!("device {}", &d.to_hex()[..8]),
    };
    // What to type after `hearth peers approve`: the name, or an id prefix
    // when the name would need quoting.
    let handle = |d: &DeviceKey| match devices.get(d) {
        Some(n) if !n.is_empty() && !n.contains(char::is_whitespace) => n.clone(),
        _ => d.to_hex()[..12].to_string(),
    };
    let mut out = Vec::new();
    for (key, checked) in trust.records() {
        let record = checked.record();
        let past = checked.put_by.iter().any(|c| history.is_within(c, &joined));
        if !checked.counts || record.signer == *me || past {
            continue;
        }
        let date = day(record.at);
        let text = match &record.body {
            // A root cert founds a partner; the pairing that brought it
            // here said who that is.
            Body::Cert(c) if c.subject == *me || c.subject == record.signer => continue,
            Body::Cert(c) => {
                let mut t = format!(
                    "{} added {} on {date}",
                    who(&record.signer),
                    a_device(&c.subject)
                );
                if let Some(m) = mine
                    && trust.status(&m, &c.subject) == DeviceStatus::Pending
                {
                    t.push_str(&format!(
                        "; approve it with `hearth peers approve {}`",
                        handle(&c.subject)
                    ));
                }
                t
            }
            Body::Approve(a) => {
                format!(
                    "{} approved {} on {date}",
                    who(&record.signer),
                    device(&a.subject)
                )
            }
            Body::Remove(r) => {
                format!(
                    "{} removed {} on {date}",
                    who(&record.signer),
                    device(&r.subject)
                )
            }
            _ => continue,
        };
        out.push(Notice {
            key: *key,
            at: record.at,
            text,
        });
    }
    out.sort_by_key(|n| (n.at, n.key));
    out
}

/// The changes that put the counting `cert`s of `me`: what came before
/// them is the couple's past as this device found it.
fn joined_by(trust: &TrustView, me: &DeviceKey) -> Option<BTreeSet<ChangeHash>> {
    let changes: BTreeSet<ChangeHash> = trust
        .records()
        .filter(|(_, r)| r.counts)
        .filter(|(_, r)| matches!(&r.record().body, Body::Cert(c) if c.subject == *me))
        .flat_map(|(_, r)| r.put_by.iter().copied())
        .collect();
    (!changes.is_empty()).then_some(changes)
}

/// A record's day as notices show it: "1 Dec 2026", in UTC.
fn day(at_ms: i64) -> String {
    DateTime::from_timestamp_millis(at_ms).map_or_else(
        || "an unknown day".into(),
        |t| t.format("%-d %b %Y").to_string(),
    )
}

#[cfg(test)]
mod tests;
