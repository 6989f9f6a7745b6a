//! The trust computation: from the couple document's records, which devices
//! belong to which partner, which are removed, and which the other partner
//! approved. Every device computes it the same way from the same records, in
//! the steps of docs/SCHEMA.md, "Trust": Parse, E, R, Cut-off, C, V,
//! approvals.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use automerge::ChangeHash;

use super::couple::StoredRecord;
use super::error::RecordError;
use super::history::Ancestry;
use super::ids::{DeviceKey, PartnerCode, RecordKey};
use super::record::{Body, Cert, Record, SignedRecord};

/// A device as one partner's devices see it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeviceStatus {
    /// Valid, and of my partner.
    Mine,
    /// Valid, of the other partner, and approved by mine.
    Partners,
    /// Valid, of the other partner, not yet approved by mine.
    Pending,
    /// Removed, for good.
    Removed,
    /// Anything else: never certified, certified only by devices that do
    /// not count, or ignored.
    Unknown,
}

/// How many records, or devices, each step set aside, and why. Shown in
/// `status`, so a user can see that something was refused.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TrustCounts {
    /// Values whose key is not the hash of their body.
    pub key_mismatch: usize,
    /// Values that are too large or too small, or whose body does not
    /// parse or breaks a field rule.
    pub malformed: usize,
    /// Values whose signature does not verify strictly.
    pub bad_signature: usize,
    /// Values with a tag this version does not know; ignored, not broken.
    pub unknown_tag: usize,
    /// Devices with certificates for two partners; ignored.
    pub two_partners: usize,
    /// Records of a removed device put outside its cut-off.
    pub cut_off: usize,
    /// Certificates that certify nobody: the signer is not certified, or
    /// certifies for a partner not its own, or the subject is ignored.
    pub certs_ignored: usize,
    /// Approvals that approve nobody: the signer is not certified, approves
    /// a device of its own partner, or names the wrong partner.
    pub approvals_ignored: usize,
}

/// A record that passed the parse step, and whether it counts after the
/// cut-off.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CheckedRecord {
    pub signed: SignedRecord,
    /// The changes that put it; usually one.
    pub put_by: BTreeSet<ChangeHash>,
    /// False when its signer is removed and no change that put it is in the
    /// signer's cut-off.
    pub counts: bool,
}

impl CheckedRecord {
    pub fn record(&self) -> &Record {
        &self.signed.record
    }
}

/// The outcome of the trust computation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrustView {
    records: BTreeMap<RecordKey, CheckedRecord>,
    /// E, ignored devices left out, with each member's partner.
    ever: BTreeMap<DeviceKey, PartnerCode>,
    /// C, with each member's partner.
    certified: BTreeMap<DeviceKey, PartnerCode>,
    /// R.
    removed: BTreeSet<DeviceKey>,
    /// (approving partner, approved device), devices in V only.
    approved: BTreeSet<(PartnerCode, DeviceKey)>,
    pub counts: TrustCounts,
}

impl TrustView {
    /// Runs every step over `stored`, the values of `records` with the
    /// change that put each, asking `history` for the cut-off. The order of
    /// `stored` does not matter.
    pub fn compute(stored: &[StoredRecord], history: &impl Ancestry) -> TrustView {
        let mut counts = TrustCounts::default();
        let mut records = parse(stored, &mut counts);

        let (ever, ignored) = ever_certified(&records);
        counts.two_partners = ignored.len();
        let removals = removals_by_ever(&records, &ever);
        let removed: BTreeSet<DeviceKey> = removals.keys().copied().collect();
        apply_cut_off(&mut records, &removals, history, &mut counts);

        // Step 5. Within E, with only counting certificates, so no device
        // gains a second partner here.
        let certified = single_partner(grow(&certs(&records, |r| r.counts), &ignored));
        counts.certs_ignored = certs_ignored(&records, &certified);
        let approved = approvals(&records, &certified, &removed, &mut counts);

        TrustView {
            records,
            ever,
            certified,
            removed,
            approved,
            counts,
        }
    }

    /// How a device of partner `me` sees `device`.
    pub fn status(&self, me: &PartnerCode, device: &DeviceKey) -> DeviceStatus {
        if self.removed.contains(device) {
            return DeviceStatus::Removed;
        }
        match self.certified.get(device) {
            None => DeviceStatus::Unknown,
            Some(p) if p == me => DeviceStatus::Mine,
            Some(_) if self.approved.contains(&(*me, *device)) => DeviceStatus::Partners,
            Some(_) => DeviceStatus::Pending,
        }
    }

    /// The partner of a device in E: certified by some chain, removals and
    /// the cut-off ignored. Who may write the couple document on receive.
    pub fn ever_certified(&self, device: &DeviceKey) -> Option<&PartnerCode> {
        self.ever.get(device)
    }

    /// The partner of a device in C, removed or not: whose records count as
    /// that partner's.
    pub fn certified(&self, device: &DeviceKey) -> Option<&PartnerCode> {
        self.certified.get(device)
    }

    /// The partner of a device in V.
    pub fn valid(&self, device: &DeviceKey) -> Option<&PartnerCode> {
        self.certified
            .get(device)
            .filter(|_| !self.removed.contains(device))
    }

    pub fn is_removed(&self, device: &DeviceKey) -> bool {
        self.removed.contains(device)
    }

    /// Every device in V, with its partner.
    pub fn valid_devices(&self) -> impl Iterator<Item = (&DeviceKey, &PartnerCode)> {
        self.certified
            .iter()
            .filter(|(d, _)| !self.removed.contains(*d))
    }

    /// The partners that have at least one certified device.
    pub fn partners(&self) -> BTreeSet<PartnerCode> {
        self.certified.values().copied().collect()
    }

    /// Every record that passed the parse step, by key.
    pub fn records(&self) -> impl Iterator<Item = (&RecordKey, &CheckedRecord)> {
        self.records.iter()
    }

    /// The records that count, by key.
    pub fn counting(&self) -> impl Iterator<Item = (&RecordKey, &Record)> {
        self.records
            .iter()
            .filter(|(_, r)| r.counts)
            .map(|(k, r)| (k, r.record()))
    }
}

/// Step 1. Values that fail are counted; the same record under one key,
/// put by several changes or with several valid signatures, is kept once.
fn parse(stored: &[StoredRecord], counts: &mut TrustCounts) -> BTreeMap<RecordKey, CheckedRecord> {
    let mut out: BTreeMap<RecordKey, CheckedRecord> = BTreeMap::new();
    for s in stored {
        match SignedRecord::verify_stored(&s.key, &s.value) {
            Ok(signed) => {
                let entry = out.entry(signed.key());
                let checked = entry.or_insert_with(|| CheckedRecord {
                    signed: signed.clone(),
                    put_by: BTreeSet::new(),
                    counts: true,
                });
                // Two valid signatures of one body are the same record;
                // keep the smaller signature, so the outcome does not
                // depend on input order.
                if signed.signature() < checked.signed.signature() {
                    checked.signed = signed;
                }
                checked.put_by.insert(s.put_by);
            }
            Err(RecordError::KeyMismatch) => counts.key_mismatch += 1,
            Err(RecordError::BadSignature) => counts.bad_signature += 1,
            Err(RecordError::UnknownTag(_)) => counts.unknown_tag += 1,
            Err(_) => counts.malformed += 1,
        }
    }
    out
}

fn is_root(record: &Record, cert: &Cert) -> bool {
    cert.subject == record.signer && cert.partner == PartnerCode::of_root(&record.signer)
}

/// The certificates among `records` that `usable` lets through.
fn certs(
    records: &BTreeMap<RecordKey, CheckedRecord>,
    usable: impl Fn(&CheckedRecord) -> bool,
) -> Vec<(&Record, &Cert)> {
    records
        .values()
        .filter(|r| usable(r))
        .filter_map(|r| match &r.record().body {
            Body::Cert(c) => Some((r.record(), c)),
            _ => None,
        })
        .collect()
}

/// Roots, then the subjects of certificates signed by a member for its own
/// partner, until nothing changes, leaving `ignored` devices out. Growing is
/// monotone, so the answer does not depend on the order of `certs`.
fn grow(
    certs: &[(&Record, &Cert)],
    ignored: &BTreeSet<DeviceKey>,
) -> BTreeMap<DeviceKey, BTreeSet<PartnerCode>> {
    let mut by_signer: BTreeMap<DeviceKey, Vec<&Cert>> = BTreeMap::new();
    for (record, cert) in certs {
        by_signer.entry(record.signer).or_default().push(cert);
    }
    let mut members: BTreeMap<DeviceKey, BTreeSet<PartnerCode>> = BTreeMap::new();
    let mut queue: VecDeque<(DeviceKey, PartnerCode)> = certs
        .iter()
        .filter(|(record, cert)| is_root(record, cert))
        .map(|(_, cert)| (cert.subject, cert.partner))
        .filter(|(d, _)| !ignored.contains(d))
        .collect();
    while let Some((device, partner)) = queue.pop_front() {
        if !members.entry(device).or_default().insert(partner) {
            continue;
        }
        for cert in by_signer.get(&device).into_iter().flatten() {
            if cert.partner == partner && !ignored.contains(&cert.subject) {
                queue.push_back((cert.subject, cert.partner));
            }
        }
    }
    members
}

/// Each member's one partner. Callers leave out every device that could
/// have two, so a second one never appears.
fn single_partner(
    members: BTreeMap<DeviceKey, BTreeSet<PartnerCode>>,
) -> BTreeMap<DeviceKey, PartnerCode> {
    members
        .into_iter()
        .filter(|(_, partners)| partners.len() == 1)
        .filter_map(|(d, partners)| partners.into_iter().next().map(|p| (d, p)))
        .collect()
}

/// Step 2: E, and the devices ignored because some chain of certificates
/// gives them two partners. Those are left out of E, with whatever only
/// they vouched for, and out of C too.
fn ever_certified(
    records: &BTreeMap<RecordKey, CheckedRecord>,
) -> (BTreeMap<DeviceKey, PartnerCode>, BTreeSet<DeviceKey>) {
    let all = certs(records, |_| true);
    let ignored: BTreeSet<DeviceKey> = grow(&all, &BTreeSet::new())
        .into_iter()
        .filter(|(_, partners)| partners.len() > 1)
        .map(|(d, _)| d)
        .collect();
    (single_partner(grow(&all, &ignored)), ignored)
}

/// Step 3: per removed device, the `seen` heads of each removal of it
/// signed by a member of E. Removals need not pass the cut-off, so
/// concurrent mutual removals both count.
fn removals_by_ever(
    records: &BTreeMap<RecordKey, CheckedRecord>,
    ever: &BTreeMap<DeviceKey, PartnerCode>,
) -> BTreeMap<DeviceKey, Vec<BTreeSet<ChangeHash>>> {
    let mut out: BTreeMap<DeviceKey, Vec<BTreeSet<ChangeHash>>> = BTreeMap::new();
    for checked in records.values() {
        let record = checked.record();
        if let Body::Remove(r) = &record.body
            && ever.contains_key(&record.signer)
        {
            out.entry(r.subject).or_default().push(r.seen.clone());
        }
    }
    out
}

/// Step 4: a record of a removed device counts only if some change that
/// put it is within the `seen` heads of every removal of that device.
/// Removals are exempt: step 3 already took them all.
fn apply_cut_off(
    records: &mut BTreeMap<RecordKey, CheckedRecord>,
    removals: &BTreeMap<DeviceKey, Vec<BTreeSet<ChangeHash>>>,
    history: &impl Ancestry,
    counts: &mut TrustCounts,
) {
    for checked in records.values_mut() {
        if matches!(checked.signed.record.body, Body::Remove(_)) {
            continue;
        }
        let Some(seens) = removals.get(&checked.signed.record.signer) else {
            continue;
        };
        let within = checked
            .put_by
            .iter()
            .any(|change| seens.iter().all(|seen| history.is_within(change, seen)));
        if !within {
            checked.counts = false;
            counts.cut_off += 1;
        }
    }
}

/// Step 7: (approving partner, device in V) for every counting approval by
/// a device of C of one partner, of a device of C of the other that the
/// approval names rightly.
fn approvals(
    records: &BTreeMap<RecordKey, CheckedRecord>,
    certified: &BTreeMap<DeviceKey, PartnerCode>,
    removed: &BTreeSet<DeviceKey>,
    counts: &mut TrustCounts,
) -> BTreeSet<(PartnerCode, DeviceKey)> {
    let mut approved = BTreeSet::new();
    for checked in records.values() {
        let record = checked.record();
        let Body::Approve(a) = &record.body else {
            continue;
        };
        if !checked.counts {
            continue;
        }
        let Some(by) = certified.get(&record.signer) else {
            counts.approvals_ignored += 1;
            continue;
        };
        match certified.get(&a.subject) {
            Some(of) if of == by || *of != a.partner => counts.approvals_ignored += 1,
            // Approving a removed device is allowed, and does nothing.
            Some(_) if removed.contains(&a.subject) => {}
            Some(_) => {
                approved.insert((*by, a.subject));
            }
            // An approval of a device that is not certified (yet, or any
            // more) has no effect, and is no fault of its signer.
            None => {}
        }
    }
    approved
}

/// Certificates that made no device certified: not counting, signed by a
/// device outside C, or for a partner other than the signer's, or whose
/// subject ended outside C.
fn certs_ignored(
    records: &BTreeMap<RecordKey, CheckedRecord>,
    certified: &BTreeMap<DeviceKey, PartnerCode>,
) -> usize {
    records
        .values()
        .filter(|checked| {
            let record = checked.record();
            let Body::Cert(cert) = &record.body else {
                return false;
            };
            // Records cut off are already counted under `cut_off`.
            if !checked.counts {
                return false;
            }
            let took = certified.get(&cert.subject) == Some(&cert.partner)
                && (is_root(record, cert) || certified.get(&record.signer) == Some(&cert.partner));
            !took
        })
        .count()
}

#[cfg(test)]
mod tests;
