//! The couple's journal in schema 2, as the daemon's core will use it
//! (docs/SCHEMA.md, part 1): the store's documents and key files, this
//! device's signing key, and the model's rules, behind methods shaped like
//! those of schema 1's `Journal`, so the switch changes the core little.
//!
//! Only the couple document and each partner's newest year stay in memory
//! (`residency.rs`); any other year is loaded when something needs it.
//!
//! Writes go to the documents in memory; [`CoupleJournal::commit`] signs the
//! new heads of this partner's documents, makes everything durable at
//! once, and only then forgets the keys that edits and deletes replaced and
//! applies the forget rule to what changed.

mod entries;
mod prompts;
mod residency;
mod rituals;
mod sessions;

pub use residency::{IDLE, KnownYear, KnownYears};

pub use sessions::{Applied, SessionError};

use std::cell::RefCell;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::time::Instant;

use automerge::{ActorId, Automerge, ChangeHash};
use chrono::{DateTime, FixedOffset, Utc};
use ed25519_dalek::SigningKey;
use hearth_model::records::book::{self, Docs};
use hearth_model::records::couple_write::{self, Signer, WriteError};
use hearth_model::records::exchange::genesis_of;
use hearth_model::records::heads::{DocKind, HeadsRecord, PartnerDoc, SignedHeads};
use hearth_model::records::ids::{DeviceKey, PartnerCode};
use hearth_model::records::keys::VersionRef;
use hearth_model::records::manifest::DocId;
use hearth_model::records::read::{device_names, partner_names, settings};
use hearth_model::records::trust::{DeviceStatus, TrustView};
use hearth_model::{DayBoundary, DeviceId, EntryId, ModelError, PartnerId};
use hearth_store::docset::StoreDocs;
use hearth_store::{DocSet, StoreError};

/// One of the couple's devices, as the records make it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceInfo {
    pub partner: PartnerId,
    pub name: String,
    /// How this device sees it.
    pub status: DeviceStatus,
}

/// What a refused request rolls back to: the heads of every loaded
/// document, and the signed heads to commit with them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Checkpoint {
    heads: BTreeMap<DocId, Vec<ChangeHash>>,
    signed: BTreeMap<DocId, Vec<Vec<u8>>>,
}

pub struct CoupleJournal {
    set: DocSet,
    signing: SigningKey,
    device: DeviceKey,
    actor: ActorId,
    /// Who writes here, once set up.
    partner: Option<PartnerCode>,
    trust: TrustView,
    /// Where each entry lives.
    homes: BTreeMap<EntryId, PartnerDoc>,
    /// Keys replaced by edits and deletes, forgotten after the next commit.
    to_forget: Vec<(PartnerDoc, VersionRef)>,
    /// Live sync sessions.
    sessions: BTreeMap<u64, sessions::Session>,
    /// Per peer, the heads it last said it has of each document, for
    /// "unsent changes"; kept after its sessions end.
    known: BTreeMap<DeviceKey, BTreeMap<DocId, Vec<ChangeHash>>>,
    /// Files set aside at open, as status shows them.
    quarantined: Vec<String>,
    /// What is kept of each partner document not in memory.
    summaries: BTreeMap<PartnerDoc, residency::Summary>,
    /// Past years the start read rather than took from the index.
    swept: usize,
    /// Past years a session let go while they still had changes to
    /// commit: they leave memory once the commit holds.
    drop_after_commit: BTreeSet<DocId>,
    /// Signed-heads records already verified, by their bytes: every frame
    /// for a partner document reads them, and a signature check each time
    /// was a good part of what a frame cost.
    verified: RefCell<HashMap<Vec<u8>, SignedHeads>>,
}

/// How many verified records [`CoupleJournal::verified`] holds before it
/// starts again; a device keeps one per signer and document.
const VERIFIED_MAX: usize = 4096;

/// What a commit made durable.
#[derive(Debug, Default)]
pub struct Committed {
    /// The documents written.
    pub docs: Vec<DocId>,
    /// Whether keys were stored (a peer's gift, an answer released): the
    /// other sessions have keys to push even when no document moved.
    pub keys: bool,
}

fn model(e: impl std::fmt::Display) -> ModelError {
    ModelError::Schema(e.to_string())
}

/// Milliseconds since the Unix epoch of a moment.
fn ms(t: DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

impl CoupleJournal {
    /// Takes the opened store, loads the couple document (its genesis when
    /// new) and each partner's newest year, and reads every other
    /// document once for what is kept of it (`residency.rs`).
    pub fn open(
        set: DocSet,
        secret: &[u8; 32],
        partner: Option<PartnerCode>,
    ) -> Result<CoupleJournal, StoreError> {
        Self::open_with(set, secret, partner, KnownYears::default())
    }

    /// [`CoupleJournal::open`], taking from `known` each past year the
    /// index kept at the stamp it has now, instead of reading it.
    pub fn open_with(
        mut set: DocSet,
        secret: &[u8; 32],
        partner: Option<PartnerCode>,
        known: KnownYears,
    ) -> Result<CoupleJournal, StoreError> {
        let signing = SigningKey::from_bytes(secret);
        let device = DeviceKey(signing.verifying_key().to_bytes());
        let actor = ActorId::from(device.0.as_slice());
        let now = Instant::now();
        let mut quarantined = Vec::new();
        let mut missing = Vec::new();
        let report = set.load(DocId::Couple, &actor, now, || genesis_of(&DocId::Couple))?;
        quarantined.extend(report.quarantined);
        missing.extend(report.missing);
        let mut j = CoupleJournal {
            trust: couple_write::trust_of(set.doc(&DocId::Couple).expect("loaded")),
            set,
            signing,
            device,
            actor,
            partner,
            homes: BTreeMap::new(),
            to_forget: Vec::new(),
            sessions: BTreeMap::new(),
            known: BTreeMap::new(),
            verified: RefCell::new(HashMap::new()),
            summaries: BTreeMap::new(),
            swept: 0,
            drop_after_commit: BTreeSet::new(),
            quarantined: quarantined
                .iter()
                .map(ToString::to_string)
                .chain(missing.iter().map(|p| {
                    format!(
                        "{}: missing; its changes can come back from a peer",
                        p.display()
                    )
                }))
                .collect(),
        };
        let active: Vec<DocId> = j
            .set
            .documents()
            .into_iter()
            .filter(|d| j.is_active(d))
            .collect();
        // Read side by side: at 50,000 entries each newest year is about
        // 25 ms of a start's critical path.
        let report = j
            .set
            .load_stored(&active, &j.actor, Instant::now(), genesis_of)?;
        j.note_load(report);
        j.index_homes();
        j.sweep(known)?;
        tracing::debug!(read = j.swept, "past years not kept by the index were read");
        Ok(j)
    }

    /// Reads again where the entries of the documents in memory live; the
    /// homes in the others, stored and not in memory, cannot have moved.
    fn index_homes(&mut self) {
        let loaded: BTreeSet<DocId> = self.set.loaded().into_iter().collect();
        let stored: BTreeSet<DocId> = self.set.documents().into_iter().collect();
        self.homes.retain(|_, d| {
            let d = DocId::Partner(*d);
            !loaded.contains(&d) && stored.contains(&d)
        });
        for doc in loaded {
            let DocId::Partner(p) = doc else { continue };
            let Some(am) = self.set.doc(&doc) else {
                continue;
            };
            for id in entry_ids(am) {
                self.homes.insert(id, p);
            }
        }
    }

    pub fn device(&self) -> DeviceKey {
        self.device
    }

    pub fn partner(&self) -> Option<PartnerCode> {
        self.partner
    }

    pub fn trust(&self) -> &TrustView {
        &self.trust
    }

    fn couple(&self) -> &Automerge {
        self.set
            .doc(&DocId::Couple)
            .expect("the couple document stays loaded")
    }

    fn couple_mut(&mut self) -> &mut Automerge {
        self.set
            .doc_mut(&DocId::Couple, Instant::now())
            .expect("the couple document stays loaded")
    }

    /// Runs a couple-record write, then refreshes the trust view.
    fn write_couple<T>(
        &mut self,
        at: DateTime<FixedOffset>,
        f: impl FnOnce(&mut Automerge, &Signer) -> Result<T, WriteError>,
    ) -> Result<T, ModelError> {
        let signing = self.signing.clone();
        let signer = Signer {
            key: &signing,
            clock_ms: ms(at),
        };
        let out = f(self.couple_mut(), &signer).map_err(|e| match e {
            WriteError::Automerge(e) => ModelError::Automerge(e.to_string()),
            other => ModelError::Refused(other.to_string()),
        })?;
        self.trust = couple_write::trust_of(self.couple());
        Ok(out)
    }

    fn docs(&mut self) -> StoreDocs<'_> {
        StoreDocs {
            set: &mut self.set,
            actor: self.actor.clone(),
            now: Instant::now(),
        }
    }

    fn me(&self) -> Result<PartnerCode, ModelError> {
        self.partner
            .ok_or_else(|| model("this device is not set up: run hearth init"))
    }

    // ----- partners, devices, settings -------------------------------------

    /// `hearth init` on a device that joins nobody: founds a partner.
    pub fn found(
        &mut self,
        device_name: &str,
        name: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<PartnerCode, ModelError> {
        let p = self.write_couple(at, |c, s| {
            couple_write::found_partner(c, s, device_name, name)
        })?;
        self.partner = Some(p);
        Ok(p)
    }

    /// My own name; never the other partner's.
    pub fn rename(&mut self, name: &str, at: DateTime<FixedOffset>) -> Result<(), ModelError> {
        let me = self.me()?;
        self.write_couple(at, |c, s| couple_write::name_partner(c, s, me, name))?;
        Ok(())
    }

    /// Partner names by partner id (its 32-hex text form).
    pub fn partners(&self) -> BTreeMap<PartnerId, String> {
        partner_names(&self.trust)
            .value
            .into_iter()
            .map(|(p, n)| (PartnerId(p.to_hex().into()), n))
            .collect()
    }

    /// Every certified device, with its partner, name and status from here.
    pub fn devices(&self) -> BTreeMap<DeviceId, DeviceInfo> {
        let names = device_names(&self.trust).value;
        let me = self.partner;
        let mut out = BTreeMap::new();
        for (key, partner) in self.trust.valid_devices() {
            let status = match me {
                Some(m) => self.trust.status(&m, key),
                None => DeviceStatus::Unknown,
            };
            out.insert(
                DeviceId(key.to_hex().into()),
                DeviceInfo {
                    partner: PartnerId(partner.to_hex().into()),
                    name: names.get(key).cloned().unwrap_or_default(),
                    status,
                },
            );
        }
        out
    }

    /// Every device the couple removed for good.
    pub fn removed_devices(&self) -> BTreeSet<DeviceKey> {
        use hearth_model::records::record::Body;
        self.trust
            .counting()
            .filter_map(|(_, r)| match &r.body {
                Body::Remove(x) if self.trust.is_removed(&x.subject) => Some(x.subject),
                _ => None,
            })
            .collect()
    }

    pub fn day_boundary(&self) -> DayBoundary {
        settings(&self.trust)
            .value
            .day_start_hour
            .and_then(|h| DayBoundary::new(u32::from(h)))
            .unwrap_or_default()
    }

    pub fn set_day_boundary(
        &mut self,
        b: DayBoundary,
        at: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        self.write_couple(at, |c, s| couple_write::set_day_start(c, s, b.hour as u8))?;
        Ok(())
    }

    /// A device of my own: certified for my partner.
    pub fn certify(
        &mut self,
        device: DeviceKey,
        name: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        let me = self.me()?;
        self.write_couple(at, |c, s| couple_write::certify(c, s, me, device, name))?;
        Ok(())
    }

    /// Names a device of mine.
    pub fn name_device(
        &mut self,
        device: DeviceKey,
        name: &str,
        at: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        self.write_couple(at, |c, s| couple_write::name_device(c, s, device, name))?;
        Ok(())
    }

    /// A device of my partner's: approved by mine.
    pub fn approve(
        &mut self,
        device: DeviceKey,
        at: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        let Some(partner) = self.trust.valid(&device).copied() else {
            return Err(model(format!("{device} is not a device of the couple")));
        };
        if Some(partner) == self.partner {
            return Err(model("that device is one of yours; it needs no approval"));
        }
        self.write_couple(at, |c, s| couple_write::approve(c, s, device, partner))?;
        Ok(())
    }

    /// Removes a device for good.
    pub fn remove_device(
        &mut self,
        device: DeviceKey,
        at: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        self.write_couple(at, |c, s| couple_write::remove(c, s, device))?;
        Ok(())
    }

    // ----- durability --------------------------------------------------------

    /// The heads of every loaded document, and the signed heads waiting
    /// for the next commit.
    pub fn checkpoint(&self) -> Checkpoint {
        Checkpoint {
            heads: self
                .set
                .loaded()
                .into_iter()
                .filter_map(|d| Some((d, self.set.doc(&d)?.get_heads())))
                .collect(),
            signed: self.set.pending_signed_heads().clone(),
        }
    }

    /// Puts every loaded document back to `to` (ancestors of now); a
    /// document created since goes back to its genesis.
    pub fn rollback_to(&mut self, to: &Checkpoint) {
        let now = Instant::now();
        for doc in self.set.loaded() {
            // Loaded since the checkpoint: as stored, or not at all if new.
            let heads = match to.heads.get(&doc) {
                Some(h) => h.clone(),
                None if self.set.drop_uncommitted(&doc) => continue,
                None => self
                    .set
                    .saved_heads(&doc)
                    .map(<[_]>::to_vec)
                    .unwrap_or_default(),
            };
            let Some(am) = self.set.doc_mut(&doc, now) else {
                continue;
            };
            if am.get_heads() == heads {
                continue;
            }
            let back = if heads.is_empty() {
                Ok(genesis_of(&doc))
            } else {
                am.fork_at(&heads)
            };
            match back {
                Ok(b) => *am = b.with_actor(self.actor.clone()),
                Err(e) => tracing::error!(%doc, error = %e, "rollback failed"),
            }
        }
        self.set.restore_pending_signed_heads(to.signed.clone());
        self.to_forget.clear();
        self.trust = couple_write::trust_of(self.couple());
        self.index_homes();
    }

    /// Puts every document back to what is on disk, after a failed commit:
    /// nothing unacknowledged lingers in memory.
    pub fn rollback_uncommitted(&mut self) {
        let saved = Checkpoint {
            heads: self
                .set
                .loaded()
                .into_iter()
                .filter_map(|d| Some((d, self.set.saved_heads(&d)?.to_vec())))
                .collect(),
            signed: BTreeMap::new(),
        };
        self.rollback_to(&saved);
    }

    /// Fault tests: the next `n` commits fail as on a full disk.
    #[cfg(test)]
    pub fn fail_next_commits(&mut self, n: usize) {
        self.set.fail_next_commits(n);
    }

    /// How many changes this device holds that `peer` may hold and was not
    /// known to have, by the heads it last told; `None` before it told any.
    pub fn unsent_to(&self, peer: &DeviceKey) -> Option<usize> {
        let known = self.known.get(peer)?;
        let mut n = 0;
        for doc in self.set.loaded() {
            if !hearth_model::records::exchange::may_hold(&self.trust, peer, &doc) {
                continue;
            }
            // A document not in memory is counted once something loads it:
            // counting its changes would mean loading it for a status line.
            let Some(am) = self.set.doc(&doc) else {
                continue;
            };
            let theirs: Vec<ChangeHash> = known
                .get(&doc)
                .map(|h| {
                    h.iter()
                        .copied()
                        .filter(|h| am.get_change_meta_by_hash(h).is_some())
                        .collect()
                })
                .unwrap_or_default();
            let lacking = am.get_changes(&theirs).len();
            // A document the peer has none of still shares its genesis,
            // which every device builds for itself.
            n += if theirs.is_empty() {
                lacking.saturating_sub(1)
            } else {
                lacking
            };
        }
        Some(n)
    }

    /// The couple document's heads, for tests that play a peer's rows.
    #[cfg(test)]
    pub fn couple_heads(&self) -> Vec<ChangeHash> {
        self.couple().get_heads()
    }

    /// Whether `peer` last said it holds the couple document exactly as
    /// this device does: the two have synced it at least once since.
    pub fn couple_agrees_with(&self, peer: &DeviceKey) -> bool {
        let Some(theirs) = self.known.get(peer).and_then(|k| k.get(&DocId::Couple)) else {
            return false;
        };
        let mut theirs = theirs.clone();
        theirs.sort();
        let mut ours = self.couple().get_heads();
        ours.sort();
        !theirs.is_empty() && theirs == ours
    }

    /// Files set aside when the journal opened, one line each.
    pub fn quarantined(&self) -> &[String] {
        &self.quarantined
    }

    /// Whether any loaded document has changes not yet committed, or a
    /// key file keys not yet synced (a frame that brought only keys).
    pub fn is_dirty(&self) -> bool {
        self.set.has_unsynced_keys() || self.set.loaded().iter().any(|d| self.set.is_dirty(d))
    }

    /// Chunks on disk since each document's snapshot, summed.
    pub fn chunk_count(&self) -> usize {
        self.set
            .documents()
            .iter()
            .map(|d| self.set.chunk_count(d))
            .sum()
    }

    /// Folds each document with at least `at_least` chunks into one
    /// snapshot; a failure is logged and skipped (the chunks still load).
    pub fn compact(&mut self, at_least: usize) {
        for doc in self.set.documents() {
            if self.set.chunk_count(&doc) >= at_least.max(1)
                && let Err(e) = self.set.compact(&doc)
            {
                tracing::warn!(%doc, error = %e, "compaction skipped");
            }
        }
    }

    /// The heads of every document held, in memory or not, as lowercase
    /// hex: what `status` shows, and what tells two devices they agree.
    pub fn heads_hex(&self) -> Vec<String> {
        let mut docs: BTreeSet<DocId> = self.set.documents().into_iter().collect();
        docs.extend(self.set.loaded());
        let mut out: Vec<String> = docs
            .iter()
            .flat_map(|d| match self.set.doc(d) {
                Some(am) => am.get_heads(),
                None => self.set.committed_heads(d).unwrap_or_default(),
            })
            .map(|h| h.to_string())
            .collect();
        out.sort();
        out
    }

    /// Every document the journal has, with its stamp (the index's test of
    /// whether it moved), without loading any.
    pub fn stamps(&self) -> BTreeMap<DocId, String> {
        self.set
            .documents()
            .into_iter()
            .map(|d| (d, self.set.stamp(&d)))
            .collect()
    }

    /// Signs my partner's documents that moved, makes every change, key and
    /// signature durable at once, then forgets what edits and deletes
    /// replaced. Only after it returns may anything be acknowledged.
    pub fn commit(&mut self) -> Result<Committed, StoreError> {
        // An answer of mine to a prompt my partner answered already opens
        // as soon as it is written, not at the next message from them.
        if let Err(e) = self.release_answers() {
            tracing::warn!(error = %e, "could not release answers; trying again at the next commit");
        }
        if let Some(me) = self.partner {
            for doc in self.set.loaded() {
                let DocId::Partner(p) = doc else { continue };
                if p.partner != me || !self.set.is_dirty(&doc) {
                    continue;
                }
                let heads: BTreeSet<ChangeHash> = self
                    .set
                    .doc(&doc)
                    .expect("loaded")
                    .get_heads()
                    .into_iter()
                    .collect();
                let counter = self.set.take_heads_counter();
                let record = HeadsRecord {
                    signer: self.device,
                    counter,
                    doc: p,
                    heads,
                }
                .sign(&self.signing)
                .map_err(|e| StoreError::Manifest {
                    path: "docs/manifest".into(),
                    why: format!("signing the heads of {doc}: {e}"),
                })?;
                self.keep_signed(doc, [record]);
            }
        }
        let keys = self.set.keys_pending();
        let docs = self.set.commit()?;
        for (doc, version) in std::mem::take(&mut self.to_forget) {
            if let Err(e) = self.docs().forget_key(&doc, version) {
                tracing::error!(%doc, error = %e, "could not forget a replaced key; it is forgotten at the next start");
            }
        }
        // A past year a session let go before its changes were durable
        // leaves memory now. One a request wrote to stays until it idles:
        // a backfill of last year writes there again and again.
        for doc in std::mem::take(&mut self.drop_after_commit) {
            self.drop_if_unused(&doc);
        }
        Ok(Committed { docs, keys })
    }

    /// Adds `records` to the signed heads kept for `doc`, then keeps just
    /// what covers the document's heads here: for each head, the latest
    /// record (by counter) that names it.
    ///
    /// Every head this device holds stays named by a record it keeps, so a
    /// peer this device passes the document on to can check every change
    /// of it, whoever wrote them. Keeping only each signer's latest record
    /// would not do: a later record can name heads this device does not
    /// hold yet, and the heads it does hold would go unsigned for. And one
    /// record per head bounds the set by the heads, however many records a
    /// device of the partner signs.
    fn keep_signed(&mut self, doc: DocId, records: impl IntoIterator<Item = SignedHeads>) {
        let heads: BTreeSet<ChangeHash> = match self.set.doc(&doc) {
            Some(am) => am.get_heads().into_iter().collect(),
            None => return,
        };
        let mut latest: BTreeMap<ChangeHash, SignedHeads> = BTreeMap::new();
        for record in self.signed_heads(&doc).into_iter().chain(records) {
            for head in record.record.heads.intersection(&heads) {
                let newer = latest
                    .get(head)
                    .is_none_or(|k| k.record.counter < record.record.counter);
                if newer {
                    latest.insert(*head, record.clone());
                }
            }
        }
        let mut kept: BTreeMap<Vec<u8>, SignedHeads> = BTreeMap::new();
        for record in latest.into_values() {
            kept.insert(record.to_bytes(), record);
        }
        self.set.keep_signed_heads(doc, kept.into_keys().collect());
    }

    /// The signed heads kept for `doc`.
    pub fn signed_heads(&self, doc: &DocId) -> Vec<SignedHeads> {
        let mut verified = self.verified.borrow_mut();
        self.set
            .signed_heads(doc)
            .into_iter()
            .filter_map(|bytes| {
                if let Some(s) = verified.get(&bytes) {
                    return Some(s.clone());
                }
                let s = SignedHeads::verify(&bytes).ok()?;
                if verified.len() >= VERIFIED_MAX {
                    verified.clear();
                }
                verified.insert(bytes, s.clone());
                Some(s)
            })
            .collect()
    }

    /// Applies the forget rule to the entries of `doc` a peer's changes
    /// touched. Returns how many keys went.
    pub fn forget_rule(
        &mut self,
        doc: &PartnerDoc,
        touched: &BTreeSet<EntryId>,
    ) -> Result<usize, ModelError> {
        book::apply_forget_rule(&mut self.docs(), doc, touched).map_err(model)
    }

    /// The document, for an export or a test.
    pub fn document(&self, doc: &DocId) -> Option<&Automerge> {
        self.set.doc(doc)
    }

    /// Now, for writes that carry no time of their own.
    pub fn now() -> DateTime<FixedOffset> {
        Utc::now().fixed_offset()
    }

    /// The shared and private documents of `partner` this device holds,
    /// in memory or not.
    fn docs_of(&self, partner: PartnerCode) -> Vec<PartnerDoc> {
        let mut docs: BTreeSet<DocId> = self.set.documents().into_iter().collect();
        docs.extend(self.set.loaded());
        docs.into_iter()
            .filter_map(|d| match d {
                DocId::Partner(p) if p.partner == partner => Some(p),
                _ => None,
            })
            .collect()
    }

    /// The other partner, once known.
    fn other(&self) -> Option<PartnerCode> {
        let me = self.partner?;
        self.trust.partners().into_iter().find(|p| *p != me)
    }

    fn shared_docs_of(&self, partner: PartnerCode) -> Vec<PartnerDoc> {
        self.docs_of(partner)
            .into_iter()
            .filter(|d| d.kind == DocKind::Partner)
            .collect()
    }
}

/// The entry ids of a partner document.
fn entry_ids(am: &Automerge) -> Vec<EntryId> {
    ids_under(am, "entries")
}

/// The entry ids that key root map `name` of a partner document
/// (`entries`, or the answer markers in `answered`).
fn ids_under(am: &Automerge, name: &str) -> Vec<EntryId> {
    use automerge::{ObjType, ROOT, ReadDoc, Value};
    match am.get(ROOT, name) {
        Ok(Some((Value::Object(ObjType::Map), map))) => {
            am.keys(&map).filter_map(|k| k.parse().ok()).collect()
        }
        _ => Vec::new(),
    }
}

#[cfg(test)]
mod mesh_tests;
#[cfg(test)]
mod tests;
