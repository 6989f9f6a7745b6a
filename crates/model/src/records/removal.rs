//! Telling a removed device (issue 9.3; docs/SCHEMA.md, "Removal"): the
//! proof a device of the couple sends it, and the check the removed device
//! makes before it believes it.
//!
//! The proof is the signed `remove` records of that device, each a value
//! as stored in the couple document, one after another with a u32 length.
//! The removed device trusts none of it on the sender's word: a record
//! counts only if its signature holds and its signer is a device its own
//! couple document certified, so a trusted device cannot talk another one
//! into stopping with a made-up removal.

use chrono::DateTime;

use super::ids::DeviceKey;
use super::read::partner_names;
use super::record::{Body, SignedRecord};
use super::trust::TrustView;

/// At most this many records in a proof, and this many bytes: a removal
/// is a few hundred bytes, and mutual or repeated removals a few more.
pub const MAX_RECORDS: usize = 16;
pub const MAX_PROOF: usize = 16 * 1024;

/// What a removed device learned: who removed it, and when.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Removal {
    /// The remover's partner's name, as this device's records give it.
    pub by: String,
    /// The remover's clock, ms since the epoch, UTC.
    pub at: i64,
}

impl Removal {
    /// "this device was removed by Sam on 1 Dec 2026; it no longer syncs".
    pub fn sentence(&self) -> String {
        let day = DateTime::from_timestamp_millis(self.at).map_or_else(
            || "an unknown day".into(),
            |t| t.format("%-d %b %Y").to_string(),
        );
        format!(
            "this device was removed by {} on {day}; it no longer syncs",
            self.by
        )
    }
}

/// The proof for `subject`: every counting `remove` record of it, signed
/// by a device of the couple, that this device holds. Empty when none.
pub fn proof_for(trust: &TrustView, subject: &DeviceKey) -> Vec<u8> {
    let mut out = Vec::new();
    let removes = trust.records().filter(|(_, r)| {
        r.counts
            && trust.ever_certified(&r.record().signer).is_some()
            && matches!(&r.record().body, Body::Remove(x) if x.subject == *subject)
    });
    for (_, r) in removes.take(MAX_RECORDS) {
        let bytes = r.signed.to_bytes();
        if out.len() + 4 + bytes.len() > MAX_PROOF {
            break;
        }
        out.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
        out.extend_from_slice(&bytes);
    }
    out
}

/// Checks a proof against this device's own records: the earliest removal
/// of `me` by a device `trust` has certified, if any record shows one.
/// Anything malformed, unsigned, or signed by a stranger is ignored.
pub fn check_proof(trust: &TrustView, me: &DeviceKey, proof: &[u8]) -> Option<Removal> {
    if proof.len() > MAX_PROOF {
        return None;
    }
    let names = partner_names(trust).value;
    let mut rest = proof;
    let mut found: Option<Removal> = None;
    for _ in 0..MAX_RECORDS {
        let Some((len, tail)) = rest.split_first_chunk::<4>() else {
            break;
        };
        let len = u32::from_be_bytes(*len) as usize;
        let Some((value, tail)) = (len <= tail.len()).then(|| tail.split_at(len)) else {
            break;
        };
        rest = tail;
        let Ok(signed) = SignedRecord::verify(value) else {
            continue;
        };
        let record = &signed.record;
        let Body::Remove(r) = &record.body else {
            continue;
        };
        let Some(partner) = trust.ever_certified(&record.signer) else {
            continue;
        };
        if r.subject != *me || record.signer == *me {
            continue;
        }
        let removal = Removal {
            by: names
                .get(partner)
                .cloned()
                .unwrap_or_else(|| "your partner".into()),
            at: record.at,
        };
        if found.as_ref().is_none_or(|f| removal.at < f.at) {
            found = Some(removal);
        }
    }
    found
}

#[cfg(test)]
mod tests;
