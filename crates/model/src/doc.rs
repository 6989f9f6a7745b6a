//! The couple's Automerge document, read and written through hearth's schema
//! (docs/SCHEMA.md). Every entry is a map of scalar fields: a Text object per
//! body would cost one operation per character and make a decade-long journal
//! slow to load.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use automerge::sync::{ChunkList, Message, MessageVersion};
use automerge::transaction::{CommitOptions, Transactable};
use automerge::{
    ActorId, Automerge, ChangeHash, ObjId, ObjType, Prop, ROOT, ReadDoc, ScalarValue,
    ScalarValueRef, ValueRef,
};
use chrono::{DateTime, FixedOffset, NaiveDate, TimeZone, Utc};

use crate::deck::{self, Theme};
use crate::entry::{RepairBody, normalize_tag};
use crate::ritual::{Owner, Ritual, RitualChange, RitualDone};
use crate::{
    Body, DayBoundary, DeviceId, Energy, Entry, EntryId, EntryPatch, Kind, ModelError, Mood, Need,
    NewEntry, PartnerId, SCHEMA_VERSION,
};

/// Actor of the genesis change. Every device creates the same genesis change
/// byte for byte, so the top-level maps have the same object ids everywhere
/// and two journals started apart still merge into one.
const GENESIS_ACTOR: &[u8] = b"hearth-genesis-1";
const TOP_MAPS: [&str; 7] = [
    "settings",
    "partners",
    "devices",
    "entries",
    "rituals",
    "ritual_log",
    "prompts",
];
/// Prefix of the keys that hold an entry's tags, one key per tag, so that
/// tags added on two devices at once both survive the merge.
const TAG_PREFIX: &str = "#";
/// Prefix of the keys in `prompts` that record a skipped prompt rather than
/// a custom one.
const SKIP_PREFIX: &str = "skip:";

/// Who is writing and when. The daemon fills it from its identity and the
/// request; tests pin it.
#[derive(Debug, Clone)]
pub struct WriteCtx {
    pub author: PartnerId,
    pub device: DeviceId,
    pub now: DateTime<FixedOffset>,
}

pub struct Journal {
    doc: Automerge,
    meta: ObjId,
    settings: ObjId,
    partners: ObjId,
    devices: ObjId,
    entries: ObjId,
    rituals: ObjId,
    ritual_log: ObjId,
    prompts: ObjId,
}

fn genesis() -> Automerge {
    let mut doc = Automerge::new().with_actor(ActorId::from(GENESIS_ACTOR));
    doc.transact_with::<_, _, automerge::AutomergeError, _>(
        |_| {
            CommitOptions::default()
                .with_time(0)
                .with_message("hearth genesis".to_string())
        },
        |tx| {
            let meta = tx.put_object(ROOT, "hearth", ObjType::Map)?;
            tx.put(&meta, "schema", SCHEMA_VERSION)?;
            for key in TOP_MAPS {
                tx.put_object(ROOT, key, ObjType::Map)?;
            }
            Ok(())
        },
    )
    .expect("genesis transaction on an empty document cannot fail");
    doc
}

fn ms(t: DateTime<FixedOffset>) -> i64 {
    t.timestamp_millis()
}

fn offset_minutes(t: DateTime<FixedOffset>) -> i64 {
    i64::from(t.offset().local_minus_utc() / 60)
}

/// A stored time in its stored offset, or `None` if either is invalid or
/// the time falls outside the years hearth works with (see `in_range`).
fn at_offset(ms: i64, minutes: i64) -> Option<DateTime<FixedOffset>> {
    let off = FixedOffset::east_opt(i32::try_from(minutes.checked_mul(60)?).ok()?)?;
    // Checked in UTC: at chrono's limits, even reading the local time of a
    // hostile value would overflow.
    let utc = Utc.timestamp_millis_opt(ms).single()?;
    crate::in_range(utc.date_naive()).then(|| utc.with_timezone(&off))
}

/// A stored `YYYY-MM-DD` within the years hearth works with.
fn stored_date(s: &str) -> Option<NaiveDate> {
    NaiveDate::parse_from_str(s, "%Y-%m-%d")
        .ok()
        .filter(|d| crate::in_range(*d))
}

/// Fields of one entry map, read in a single pass.
#[derive(Default)]
struct Fields {
    strs: BTreeMap<String, String>,
    ints: BTreeMap<String, i64>,
    bools: BTreeMap<String, bool>,
    tags: BTreeSet<String>,
    conflicted: Vec<String>,
}

impl Fields {
    fn read(doc: &Automerge, obj: &ObjId) -> Fields {
        let mut f = Fields::default();
        for item in doc.map_range(obj, ..) {
            let key = item.key.to_string();
            if item.conflict {
                f.conflicted.push(key.clone());
            }
            if let Some(tag) = key.strip_prefix(TAG_PREFIX) {
                if matches!(item.value, ValueRef::Scalar(ScalarValueRef::Boolean(true))) {
                    f.tags.insert(tag.to_string());
                }
                continue;
            }
            match item.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => {
                    f.strs.insert(key, s.into_owned());
                }
                ValueRef::Scalar(ScalarValueRef::Int(i) | ScalarValueRef::Timestamp(i)) => {
                    f.ints.insert(key, i);
                }
                ValueRef::Scalar(ScalarValueRef::Uint(u)) => {
                    f.ints.insert(key, i64::try_from(u).unwrap_or(i64::MAX));
                }
                ValueRef::Scalar(ScalarValueRef::Boolean(b)) => {
                    f.bools.insert(key, b);
                }
                // Unknown value types come from newer versions; ignore them.
                _ => {}
            }
        }
        f
    }

    fn str(&self, key: &str) -> String {
        self.strs.get(key).cloned().unwrap_or_default()
    }

    fn need_str(&self, key: &str) -> Result<String, ModelError> {
        self.strs
            .get(key)
            .cloned()
            .ok_or_else(|| ModelError::Schema(format!("missing field {key:?}")))
    }

    fn time(&self, key: &str, offset: i64) -> Option<DateTime<FixedOffset>> {
        self.ints.get(key).and_then(|ms| at_offset(*ms, offset))
    }
}

fn body_from(kind: Kind, f: &Fields) -> Result<Body, ModelError> {
    Ok(match kind {
        Kind::Checkin => Body::Checkin {
            mood: f
                .ints
                .get("mood")
                .and_then(|m| u8::try_from(*m).ok())
                .and_then(Mood::new)
                .ok_or_else(|| ModelError::Schema("check-in without a valid mood".into()))?,
            energy: f
                .ints
                .get("energy")
                .and_then(|e| u8::try_from(*e).ok())
                .and_then(Energy::new),
            need: f.strs.get("need").and_then(|n| n.parse::<Need>().ok()),
            note: f.str("note"),
        },
        Kind::Highlow => Body::Highlow {
            high: f.str("high"),
            low: f.str("low"),
        },
        Kind::Gratitude => Body::Gratitude {
            to: f.str("to"),
            text: f.str("text"),
        },
        Kind::Note => Body::Note {
            text: f.str("text"),
        },
        Kind::Repair => Body::Repair(Box::new(RepairBody {
            mode: f.need_str("mode")?.parse()?,
            happened: f.str("happened"),
            felt: f.str("felt"),
            my_part: f.str("my_part"),
            need: f.str("need"),
            agreements: f
                .str("agreements")
                .lines()
                .filter(|l| !l.trim().is_empty())
                .map(str::to_string)
                .collect(),
        })),
        Kind::Answer => Body::Answer {
            prompt: f.need_str("prompt")?,
            text: f.str("text"),
        },
    })
}

/// The body's fields as document scalars, by key.
fn body_fields(body: &Body) -> Vec<(&'static str, ScalarValue)> {
    let s = |v: &str| ScalarValue::Str(v.into());
    let mut out = vec![("kind", s(body.kind().as_str()))];
    match body {
        Body::Checkin {
            mood,
            energy,
            need,
            note,
        } => {
            out.push(("mood", ScalarValue::Int(i64::from(mood.value()))));
            if let Some(e) = energy {
                out.push(("energy", ScalarValue::Int(i64::from(e.value()))));
            }
            if let Some(n) = need {
                out.push(("need", s(n.as_str())));
            }
            out.push(("note", s(note)));
        }
        Body::Repair(r) => {
            out.push(("mode", s(r.mode.as_str())));
            out.push(("agreements", s(&r.agreements.join("\n"))));
        }
        Body::Answer { prompt, .. } => out.push(("prompt", s(prompt))),
        _ => {}
    }
    for (key, text) in body.texts() {
        out.push((key, s(text)));
    }
    out
}

/// A message's heads, needs, summary and flags, without its changes.
fn bare(m: &Message) -> Message {
    Message {
        heads: m.heads.clone(),
        need: m.need.clone(),
        have: m.have.clone(),
        changes: ChunkList::empty(),
        flags: m.flags,
        version: m.version.clone(),
    }
}

/// One part of a message split by [`Journal::generate_framed`]: the
/// original's heads, needs, summary and flags, with a run of its changes,
/// one chunk each in V1 and concatenated in V2, as Automerge sends them.
fn piece(whole: &Message, run: Vec<Vec<u8>>) -> Vec<u8> {
    let mut part = bare(whole);
    part.changes = match whole.version {
        MessageVersion::V1 => ChunkList::from(run),
        MessageVersion::V2 => ChunkList::from(run.concat()),
    };
    part.encode()
}

/// `msg`, generated from `doc` with `state`, encoded as frames of at most
/// `max_bytes` each (see [`Journal::generate_framed`]): one frame when it
/// fits; otherwise its changes go out as several messages, each with the
/// original's heads, needs, summary and flags and a run of changes in
/// causal order. A single change larger than a frame goes alone.
pub fn split_message(
    doc: &Automerge,
    state: &automerge::sync::State,
    msg: Message,
    max_bytes: usize,
) -> Vec<Vec<u8>> {
    // A length prefix of a chunk, and of the chunk list, takes at most
    // this many bytes (LEB128 of a u64).
    const PREFIX: usize = 10;
    let carried: usize = msg.changes.iter().map(|c| c.len() + PREFIX).sum();
    let head = bare(&msg).encode().len() + PREFIX;
    if head + carried <= max_bytes {
        return vec![msg.encode()];
    }
    // A V1 message lists each change as its own chunk; a V2 one holds
    // one chunk, often a saved document, so its changes are read from
    // the document: all those the peer may lack (after the heads we
    // share), a superset of what the message carried.
    let changes: Vec<Vec<u8>> = match msg.version {
        MessageVersion::V1 => msg.changes.iter().map(<[u8]>::to_vec).collect(),
        MessageVersion::V2 => doc
            .get_changes(&state.shared_heads)
            .into_iter()
            .map(|c| c.raw_bytes().to_vec())
            .collect(),
    };
    let budget = max_bytes.saturating_sub(head);
    let mut frames = Vec::new();
    let mut run: Vec<Vec<u8>> = Vec::new();
    let mut size = 0;
    for change in changes {
        if !run.is_empty() && size + change.len() + PREFIX > budget {
            frames.push(piece(&msg, std::mem::take(&mut run)));
            size = 0;
        }
        size += change.len() + PREFIX;
        run.push(change);
    }
    if !run.is_empty() {
        frames.push(piece(&msg, run));
    }
    frames
}

fn read_err(e: automerge::AutomergeError) -> ModelError {
    ModelError::from(e)
}

impl Journal {
    /// A fresh journal: just the shared genesis, written as `actor`.
    pub fn new(actor: ActorId) -> Journal {
        Journal::from_doc(genesis().with_actor(actor)).expect("genesis has the schema")
    }

    /// Wraps a loaded document. An empty document gets the genesis; anything
    /// else must already be a hearth journal of a version we understand.
    pub fn from_doc(mut doc: Automerge) -> Result<Journal, ModelError> {
        if doc.get_heads().is_empty() {
            let actor = doc.get_actor().clone();
            doc = genesis().with_actor(actor);
        }
        let obj = |doc: &Automerge, parent: &ObjId, key: &str| -> Result<ObjId, ModelError> {
            match doc.get(parent, key).map_err(read_err)? {
                Some((automerge::Value::Object(ObjType::Map), id)) => Ok(id),
                _ => Err(ModelError::Schema(format!("no {key:?} map at the root"))),
            }
        };
        let meta = obj(&doc, &ROOT, "hearth")?;
        let schema = doc
            .get(&meta, "schema")
            .map_err(read_err)?
            .and_then(|(v, _)| v.as_i64())
            .ok_or_else(|| ModelError::Schema("no schema version".into()))?;
        if schema > SCHEMA_VERSION {
            return Err(ModelError::Schema(format!(
                "schema version {schema} is newer than this hearth understands ({SCHEMA_VERSION}); upgrade hearth"
            )));
        }
        Ok(Journal {
            settings: obj(&doc, &ROOT, "settings")?,
            partners: obj(&doc, &ROOT, "partners")?,
            devices: obj(&doc, &ROOT, "devices")?,
            entries: obj(&doc, &ROOT, "entries")?,
            rituals: obj(&doc, &ROOT, "rituals")?,
            ritual_log: obj(&doc, &ROOT, "ritual_log")?,
            prompts: obj(&doc, &ROOT, "prompts")?,
            meta,
            doc,
        })
    }

    pub fn doc(&self) -> &Automerge {
        &self.doc
    }

    /// The next sync message for a peer, if there is anything to say.
    /// The state holds what the peer told us; if that trips Automerge, the
    /// caller gets an error, never a panic.
    pub fn generate(
        &self,
        state: &mut automerge::sync::State,
    ) -> Result<Option<automerge::sync::Message>, ModelError> {
        use automerge::sync::SyncDoc;
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.doc.generate_sync_message(state)
        }))
        .map_err(|_| ModelError::SyncPanicked)
    }

    /// The next sync message for a peer, encoded, as frames of at most
    /// `max_bytes` each: one frame, or none when there is nothing to say.
    ///
    /// Automerge puts everything a peer lacks into one message, the whole
    /// document on a first sync, however large. When that would not fit,
    /// the changes it carries go out as several messages instead, each
    /// with the same heads and summary and a run of the changes in causal
    /// order; the peer applies them one by one like any other message.
    /// Only a single change larger than a frame cannot be split: it goes
    /// alone, and the peer refuses it.
    pub fn generate_framed(
        &self,
        state: &mut automerge::sync::State,
        max_bytes: usize,
    ) -> Result<Vec<Vec<u8>>, ModelError> {
        let Some(msg) = self.generate(state)? else {
            return Ok(Vec::new());
        };
        Ok(split_message(&self.doc, state, msg, max_bytes))
    }

    /// Applies a peer's sync message. With `track` the entries it touched
    /// are named (a first sync of a whole journal is cheaper to re-read, so
    /// callers pass `false` for bulk messages and get `None`).
    ///
    /// Automerge has panicked on crafted changes before: a panic comes back
    /// as [`ModelError::SyncPanicked`], and the document must then be rolled
    /// back by the caller, who knows what is durable.
    pub fn receive(
        &mut self,
        state: &mut automerge::sync::State,
        msg: automerge::sync::Message,
        track: bool,
    ) -> Result<Option<BTreeSet<EntryId>>, ModelError> {
        use automerge::sync::SyncDoc;
        let before = self.heads();
        let doc = &mut self.doc;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            doc.receive_sync_message(state, msg)
        })) {
            Ok(Ok(())) => {}
            Ok(Err(e)) => return Err(ModelError::SyncRejected(e.to_string())),
            Err(_) => return Err(ModelError::SyncPanicked),
        }
        if !track {
            return Ok(None);
        }
        // Decoding the changes again is Automerge's work on a peer's bytes:
        // a panic there must cost the session, not the daemon.
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            self.entries_changed_since(&before)
        }))
        .map(Some)
        .map_err(|_| ModelError::SyncPanicked)
    }

    /// Puts the document back to `heads`, an ancestor of its current state
    /// (what is durable, after a failed write).
    pub fn rollback_to(&mut self, heads: &[ChangeHash]) -> Result<(), ModelError> {
        let actor = self.doc.get_actor().clone();
        let doc = self.doc.fork_at(heads)?.with_actor(actor);
        *self = Journal::from_doc(doc)?;
        Ok(())
    }

    /// How many of our changes a peer that has `theirs` still lacks. Heads
    /// we do not know ourselves say nothing about what they lack.
    pub fn unsent_since(&self, theirs: &[ChangeHash]) -> usize {
        let known: Vec<ChangeHash> = theirs
            .iter()
            .copied()
            .filter(|h| self.doc.get_change_meta_by_hash(h).is_some())
            .collect();
        self.doc.get_changes(&known).len()
    }

    #[cfg(test)]
    pub(crate) fn doc_mut(&mut self) -> &mut Automerge {
        &mut self.doc
    }

    pub fn heads(&self) -> Vec<ChangeHash> {
        self.doc.get_heads()
    }

    fn write<O>(
        &mut self,
        now: DateTime<FixedOffset>,
        f: impl FnOnce(&mut automerge::transaction::Transaction<'_>) -> Result<O, ModelError>,
    ) -> Result<O, ModelError> {
        self.doc
            .transact_with(|_| CommitOptions::default().with_time(now.timestamp()), f)
            .map(|s| s.result)
            .map_err(|f| f.error)
    }

    // ----- couple and devices -------------------------------------------

    pub fn couple_id(&self) -> Option<String> {
        self.get_str(&self.meta, "couple")
    }

    pub fn set_couple_id_if_missing(
        &mut self,
        id: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        if self.couple_id().is_some() {
            return Ok(());
        }
        let meta = self.meta.clone();
        self.write(now, |tx| {
            tx.put(&meta, "couple", id)?;
            Ok(())
        })
    }

    fn get_str(&self, obj: &ObjId, key: &str) -> Option<String> {
        match self.doc.get(obj, key).ok().flatten() {
            Some((automerge::Value::Scalar(s), _)) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    fn child(&self, parent: &ObjId, key: &str) -> Option<ObjId> {
        match self.doc.get(parent, key).ok().flatten() {
            Some((automerge::Value::Object(ObjType::Map), id)) => Some(id),
            _ => None,
        }
    }

    /// Adds or renames a partner.
    pub fn set_partner(
        &mut self,
        id: &PartnerId,
        name: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        let name = name.trim();
        if name.is_empty() {
            return Err(ModelError::Empty("name"));
        }
        let parent = self.partners.clone();
        let existing = self.child(&parent, id.as_str());
        self.write(now, |tx| {
            let obj = match existing {
                Some(o) => o,
                None => {
                    let o = tx.put_object(&parent, id.as_str(), ObjType::Map)?;
                    tx.put(&o, "joined", ScalarValue::Timestamp(ms(now)))?;
                    o
                }
            };
            tx.put(&obj, "name", name)?;
            Ok(())
        })
    }

    /// Partners by id, with their names.
    pub fn partners(&self) -> BTreeMap<PartnerId, String> {
        self.doc
            .map_range(&self.partners, ..)
            .filter_map(|item| {
                let id = item.id();
                let name = self.get_str(&id, "name")?;
                Some((PartnerId(item.key.as_ref().into()), name))
            })
            .collect()
    }

    /// Registers this device as `partner`'s, under `name`.
    pub fn add_device(
        &mut self,
        id: &DeviceId,
        partner: &PartnerId,
        name: &str,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        let fresh = !self.devices().contains_key(id);
        self.put_device(id, now, |put| {
            put("partner", ScalarValue::Str(partner.as_str().into()));
            put("name", ScalarValue::Str(name.into()));
            if fresh {
                put("added", ScalarValue::Timestamp(ms(now)));
            }
        })
    }

    /// Trusts a device (after pairing, or `peers add`). Its own partner and
    /// name arrive when it registers itself.
    pub fn trust_device(
        &mut self,
        id: &DeviceId,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        if self.devices().get(id).is_some_and(|d| !d.removed) {
            return Ok(());
        }
        let devices = self.devices.clone();
        let removed = format!("{id}/removed");
        self.write(now, |tx| {
            tx.put(
                &devices,
                format!("{id}/added"),
                ScalarValue::Timestamp(ms(now)),
            )?;
            tx.delete(&devices, removed.as_str())?;
            Ok(())
        })
    }

    /// Stops trusting a device, on every device of the couple once synced.
    pub fn remove_device(
        &mut self,
        id: &DeviceId,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        if !self.devices().contains_key(id) {
            return Err(ModelError::Schema(format!("no device {id}")));
        }
        self.put_device(id, now, |put| {
            put("removed", ScalarValue::Timestamp(ms(now)))
        })
    }

    /// Device fields are flat keys `<device id>/<field>` in the devices
    /// map, not a map per device: two devices that each add the other at
    /// once would otherwise create two maps under one key, and one would
    /// hide the other.
    fn put_device(
        &mut self,
        id: &DeviceId,
        now: DateTime<FixedOffset>,
        fields: impl FnOnce(&mut dyn FnMut(&str, ScalarValue)),
    ) -> Result<(), ModelError> {
        let mut puts = Vec::new();
        fields(&mut |k, v| puts.push((format!("{id}/{k}"), v)));
        let devices = self.devices.clone();
        self.write(now, |tx| {
            for (k, v) in puts {
                tx.put(&devices, k, v)?;
            }
            Ok(())
        })
    }

    /// Every device the journal knows, removed ones included.
    pub fn devices(&self) -> BTreeMap<DeviceId, Device> {
        let mut out: BTreeMap<DeviceId, Device> = BTreeMap::new();
        for item in self.doc.map_range(&self.devices, ..) {
            let Some((id, field)) = item.key.split_once('/') else {
                continue;
            };
            let d = out
                .entry(DeviceId(id.to_string().into()))
                .or_insert_with(|| Device {
                    partner: None,
                    name: String::new(),
                    removed: false,
                });
            let text = match &item.value {
                ValueRef::Scalar(ScalarValueRef::Str(s)) => Some(s.to_string()),
                _ => None,
            };
            match field {
                "partner" => d.partner = text.map(|t| PartnerId(t.into())),
                "name" => d.name = text.unwrap_or_default(),
                // Addresses are no longer kept here (the local `peers`
                // file has them); an older writer's `addrs` is ignored.
                "removed" => d.removed = true,
                _ => {}
            }
        }
        out
    }

    pub fn day_boundary(&self) -> DayBoundary {
        self.doc
            .get(&self.settings, "day_start_hour")
            .ok()
            .flatten()
            .and_then(|(v, _)| v.as_i64())
            .and_then(|h| u32::try_from(h).ok())
            .and_then(DayBoundary::new)
            .unwrap_or_default()
    }

    pub fn set_day_boundary(
        &mut self,
        b: DayBoundary,
        now: DateTime<FixedOffset>,
    ) -> Result<(), ModelError> {
        let settings = self.settings.clone();
        self.write(now, |tx| {
            tx.put(&settings, "day_start_hour", i64::from(b.hour))?;
            Ok(())
        })
    }

    // ----- entries -------------------------------------------------------

    /// Writes a new entry with the given id (see [`EntryId::next_after`])
    /// and returns it as stored.
    pub fn add_entry(
        &mut self,
        ctx: &WriteCtx,
        new: &NewEntry,
        id: EntryId,
    ) -> Result<Entry, ModelError> {
        new.body.validate()?;
        let mut tags = BTreeSet::new();
        for t in &new.tags {
            tags.insert(normalize_tag(t)?);
        }
        tags.extend(new.body.text_tags());
        // An id must never overwrite an entry, whatever the caller passed.
        if self.child(&self.entries, &id.key()).is_some() {
            return Err(ModelError::Id(format!("{id} already exists")));
        }
        let day = self.day_boundary().day_of(ctx.now);
        let tender = new.tender.unwrap_or_else(|| new.body.tender_by_default());
        let parent = self.entries.clone();
        let fields = body_fields(&new.body);
        self.write(ctx.now, |tx| {
            let e = tx.put_object(&parent, id.key(), ObjType::Map)?;
            tx.put(&e, "author", ctx.author.as_str())?;
            tx.put(&e, "device", ctx.device.as_str())?;
            tx.put(&e, "created", ScalarValue::Timestamp(ms(ctx.now)))?;
            tx.put(&e, "offset", offset_minutes(ctx.now))?;
            tx.put(&e, "day", day.to_string())?;
            tx.put(&e, "starred", new.starred)?;
            tx.put(&e, "tender", tender)?;
            for (k, v) in fields {
                tx.put(&e, k, v)?;
            }
            for t in &tags {
                tx.put(&e, format!("{TAG_PREFIX}{t}"), true)?;
            }
            Ok(())
        })?;
        self.entry(&id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))
    }

    /// Whether the document holds an entry at `id`, readable or not.
    pub fn has_entry(&self, id: &EntryId) -> bool {
        self.entry_obj(id).is_some()
    }

    /// Whether the couple added a prompt with this id.
    pub fn has_prompt(&self, id: &str) -> bool {
        !id.starts_with(SKIP_PREFIX) && self.child(&self.prompts, id).is_some()
    }

    fn entry_obj(&self, id: &EntryId) -> Option<ObjId> {
        self.child(&self.entries, &id.key())
    }

    /// Reads one entry. `Ok(None)` if there is no such entry.
    pub fn entry(&self, id: &EntryId) -> Result<Option<Entry>, ModelError> {
        match self.entry_obj(id) {
            Some(obj) => self.read_entry(*id, &obj).map(Some),
            None => Ok(None),
        }
    }

    fn read_entry(&self, id: EntryId, obj: &ObjId) -> Result<Entry, ModelError> {
        let f = Fields::read(&self.doc, obj);
        let kind: Kind = f.need_str("kind")?.parse()?;
        let offset = f.ints.get("offset").copied().unwrap_or(0);
        let created = f
            .time("created", offset)
            .ok_or_else(|| ModelError::Schema(format!("entry {id} has no valid created time")))?;
        let day = f
            .strs
            .get("day")
            .and_then(|d| stored_date(d))
            .unwrap_or_else(|| created.date_naive());
        let mut conflicts = BTreeMap::new();
        for key in &f.conflicted {
            let values: Vec<String> = self
                .doc
                .get_all(obj, key.as_str())
                .unwrap_or_default()
                .into_iter()
                .filter_map(|(v, _)| v.as_str().map(str::to_string))
                .collect();
            let winner = f.strs.get(key);
            let others: Vec<String> = values.into_iter().filter(|v| Some(v) != winner).collect();
            if !others.is_empty() {
                conflicts.insert(key.clone(), others);
            }
        }
        let body = body_from(kind, &f)?;
        // Tags written in the text always count, also on entries stored
        // before `#` made a tag.
        let mut tags = f.tags.clone();
        tags.extend(body.text_tags());
        Ok(Entry {
            id,
            author: PartnerId(f.need_str("author")?.into()),
            device: DeviceId(f.str("device").into()),
            created,
            day,
            tags: tags.into(),
            starred: f.bools.get("starred").copied().unwrap_or(false),
            tender: f.bools.get("tender").copied().unwrap_or(false),
            private: false,
            edited: f.time("edited", offset),
            deleted: f.time("deleted", offset),
            resolved: f.time("resolved", offset),
            body,
            conflicts,
        })
    }

    /// Every well-formed entry. Malformed ones (from a buggy or hostile
    /// peer) are counted, never fatal: they stay in the document untouched.
    pub fn all_entries(&self) -> (Vec<Entry>, usize) {
        let mut out = Vec::new();
        let mut bad = 0;
        for item in self.doc.map_range(&self.entries, ..) {
            let parsed = item
                .key
                .parse::<EntryId>()
                .and_then(|id| match &item.value {
                    ValueRef::Object(ObjType::Map) => self.read_entry(id, &item.id()),
                    _ => Err(ModelError::Schema("entry is not a map".into())),
                });
            match parsed {
                Ok(e) => out.push(e),
                Err(_) => bad += 1,
            }
        }
        (out, bad)
    }

    /// Ids of the entries touched by every change since `before` (heads
    /// this document holds), for refreshing a materialised view without
    /// reading everything again.
    ///
    /// Read from the changes' operations, not from patches: Automerge builds
    /// patches by walking the whole entries map, which cost more than
    /// applying the change itself once a journal has a few thousand
    /// entries. An operation on the entries map names its entry by key;
    /// any other is traced to the entry that holds its object, whether that
    /// object is still visible or not.
    pub fn entries_changed_since(&self, before: &[ChangeHash]) -> BTreeSet<EntryId> {
        let mut ids = BTreeSet::new();
        let mut holder: HashMap<ObjId, Option<EntryId>> = HashMap::new();
        for change in self.doc.get_changes(before) {
            for op in change.decode().operations {
                let automerge::legacy::ObjectId::Id(id) = &op.obj else {
                    continue;
                };
                let Ok(obj) = self.doc.import_obj(&format!("{}@{}", id.0, id.1)) else {
                    continue;
                };
                let entry = if obj == self.entries {
                    match &op.key {
                        automerge::legacy::Key::Map(k) => k.parse().ok(),
                        automerge::legacy::Key::Seq(_) => None,
                    }
                } else {
                    *holder
                        .entry(obj)
                        .or_insert_with_key(|obj| self.entry_holding(obj))
                };
                ids.extend(entry);
            }
        }
        ids
    }

    /// The entry whose map holds `obj`, at any depth.
    fn entry_holding(&self, obj: &ObjId) -> Option<EntryId> {
        self.doc.parents(obj).ok()?.find_map(|p| match p.prop {
            Prop::Map(k) if p.obj == self.entries => k.parse().ok(),
            _ => None,
        })
    }

    /// Applies a patch, writing only the fields whose value changes (or that
    /// are in conflict, since writing them is how a conflict is resolved).
    pub fn edit_entry(
        &mut self,
        ctx: &WriteCtx,
        id: &EntryId,
        patch: &EntryPatch,
    ) -> Result<Entry, ModelError> {
        let current = self
            .entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
        if current.author != ctx.author {
            return Err(ModelError::NotYourEntry(id.key()));
        }
        if current.deleted.is_some() {
            return Err(ModelError::Deleted(id.key()));
        }
        let mut puts: Vec<(String, ScalarValue)> = Vec::new();
        let mut deletes: Vec<String> = Vec::new();
        if let Some(body) = &patch.body {
            if body.kind() != current.kind() {
                return Err(ModelError::Schema(format!(
                    "cannot turn a {} into a {}",
                    current.kind(),
                    body.kind()
                )));
            }
            body.validate()?;
            let old: BTreeMap<_, _> = body_fields(&current.body).into_iter().collect();
            let new: BTreeMap<_, _> = body_fields(body).into_iter().collect();
            for (k, v) in &new {
                if old.get(k) != Some(v) || current.conflicts.contains_key(*k) {
                    puts.push((k.to_string(), v.clone()));
                }
            }
            for k in old.keys().filter(|k| !new.contains_key(*k)) {
                deletes.push(k.to_string());
            }
        }
        if let Some(tags) = &patch.tags {
            let mut wanted = BTreeSet::new();
            for t in tags {
                wanted.insert(normalize_tag(t)?);
            }
            if let Some(body) = &patch.body {
                wanted.extend(body.text_tags());
            }
            let current: BTreeSet<String> = (&current.tags).into();
            for t in wanted.difference(&current) {
                puts.push((format!("{TAG_PREFIX}{t}"), ScalarValue::Boolean(true)));
            }
            for t in current.difference(&wanted) {
                deletes.push(format!("{TAG_PREFIX}{t}"));
            }
        } else if let Some(body) = &patch.body {
            for t in body.text_tags() {
                if !current.tags.contains(&t) {
                    puts.push((format!("{TAG_PREFIX}{t}"), ScalarValue::Boolean(true)));
                }
            }
        }
        if let Some(s) = patch.starred.filter(|s| *s != current.starred) {
            puts.push(("starred".into(), ScalarValue::Boolean(s)));
        }
        if let Some(t) = patch.tender.filter(|t| *t != current.tender) {
            puts.push(("tender".into(), ScalarValue::Boolean(t)));
        }
        if puts.is_empty() && deletes.is_empty() {
            return Ok(current);
        }
        let obj = self.entry_obj(id).expect("entry was just read");
        let only_flags = patch.body.is_none() && patch.tags.is_none();
        self.write(ctx.now, |tx| {
            for (k, v) in puts {
                tx.put(&obj, k, v)?;
            }
            for k in deletes {
                tx.delete(&obj, k)?;
            }
            // Starring is not editing; the text is as it was written.
            if !only_flags {
                tx.put(&obj, "edited", ScalarValue::Timestamp(ms(ctx.now)))?;
            }
            Ok(())
        })?;
        self.entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))
    }

    /// Marks an entry deleted. The text stays in the document's history (see
    /// SECURITY.md); listings hide it.
    pub fn delete_entry(&mut self, ctx: &WriteCtx, id: &EntryId) -> Result<Entry, ModelError> {
        let current = self
            .entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
        if current.author != ctx.author {
            return Err(ModelError::NotYourEntry(id.key()));
        }
        if current.deleted.is_some() {
            return Err(ModelError::Deleted(id.key()));
        }
        let obj = self.entry_obj(id).expect("entry was just read");
        self.write(ctx.now, |tx| {
            tx.put(&obj, "deleted", ScalarValue::Timestamp(ms(ctx.now)))?;
            Ok(())
        })?;
        self.entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))
    }

    /// Marks a repair's agreements settled (or open again). Either partner
    /// may: agreements belong to the couple, not to whoever wrote them down.
    pub fn set_resolved(
        &mut self,
        ctx: &WriteCtx,
        id: &EntryId,
        resolved: bool,
    ) -> Result<Entry, ModelError> {
        let current = self
            .entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))?;
        match &current.body {
            Body::Repair(r) if !r.agreements.is_empty() => {}
            Body::Repair(_) => return Err(ModelError::NoAgreements(id.key())),
            _ => return Err(ModelError::NotARepair(id.key())),
        }
        if current.deleted.is_some() {
            return Err(ModelError::Deleted(id.key()));
        }
        if current.resolved.is_some() == resolved {
            return Ok(current);
        }
        let obj = self.entry_obj(id).expect("entry was just read");
        self.write(ctx.now, |tx| {
            if resolved {
                tx.put(&obj, "resolved", ScalarValue::Timestamp(ms(ctx.now)))?;
            } else {
                tx.delete(&obj, "resolved")?;
            }
            Ok(())
        })?;
        self.entry(id)?
            .ok_or_else(|| ModelError::NoSuchEntry(id.key()))
    }

    /// Holds the couple's shared small fields to the limits a local write
    /// is held to: partner, device and ritual names, ritual kinds, custom
    /// prompts. A peer's message that breaks one is refused whole, like an
    /// entry over [`crate::entry::MAX_TEXT`]. These maps stay small, so
    /// reading them all after each message costs little.
    pub fn check_shared_fields(&self) -> Result<(), ModelError> {
        for name in self.partners().values() {
            check_len("partner name", name, MAX_NAME)?;
        }
        for d in self.devices().values() {
            check_len("device name", &d.name, MAX_NAME)?;
        }
        for r in self.rituals() {
            check_len("ritual name", &r.name, MAX_NAME)?;
            check_len("ritual kind", &r.kind, MAX_NAME)?;
        }
        for p in self.prompts().iter().filter(|p| p.custom) {
            check_len("prompt", &p.text, MAX_PROMPT)?;
        }
        Ok(())
    }

    // ----- rituals -------------------------------------------------------

    pub fn add_ritual(&mut self, ctx: &WriteCtx, ritual: &Ritual) -> Result<(), ModelError> {
        check_name("ritual name", &ritual.name)?;
        check_len("ritual kind", &ritual.kind, MAX_NAME)?;
        let parent = self.rituals.clone();
        self.write(ctx.now, |tx| {
            let r = tx.put_object(&parent, ritual.id.as_str(), ObjType::Map)?;
            tx.put(&r, "name", ritual.name.trim())?;
            tx.put(&r, "kind", ritual.kind.as_str())?;
            tx.put(&r, "cadence", ritual.cadence.to_string())?;
            tx.put(&r, "owner", ritual.owner.to_key())?;
            if let Some(k) = ritual.fulfilled_by {
                tx.put(&r, "fulfilled_by", k.as_str())?;
            }
            tx.put(&r, "author", ctx.author.as_str())?;
            tx.put(&r, "created", ScalarValue::Timestamp(ms(ritual.created)))?;
            tx.put(&r, "offset", offset_minutes(ritual.created))?;
            Ok(())
        })
    }

    /// Every ritual, archived ones included; malformed ones are skipped.
    pub fn rituals(&self) -> Vec<Ritual> {
        self.doc
            .map_range(&self.rituals, ..)
            .filter_map(|item| {
                let f = Fields::read(&self.doc, &item.id());
                let offset = f.ints.get("offset").copied().unwrap_or(0);
                Some(Ritual {
                    id: item.key.to_string(),
                    name: f.strs.get("name")?.clone(),
                    kind: f.str("kind"),
                    cadence: f.strs.get("cadence")?.parse().ok()?,
                    owner: Owner::from_key(f.strs.get("owner")?)?,
                    fulfilled_by: f.strs.get("fulfilled_by").and_then(|k| k.parse().ok()),
                    created: f.time("created", offset)?,
                    archived: f.time("archived", offset),
                })
            })
            .collect()
    }

    /// Changes a ritual's name, cadence, owner or completing kind. Only the
    /// fields given are written, so two devices changing different fields
    /// both win.
    pub fn update_ritual(
        &mut self,
        ctx: &WriteCtx,
        id: &str,
        change: &RitualChange,
    ) -> Result<(), ModelError> {
        let obj = self
            .child(&self.rituals, id)
            .ok_or_else(|| ModelError::NoSuchRitual(id.to_string()))?;
        if let Some(n) = &change.name {
            check_name("ritual name", n)?;
        }
        self.write(ctx.now, |tx| {
            if let Some(n) = &change.name {
                tx.put(&obj, "name", n.trim())?;
            }
            if let Some(c) = change.cadence {
                tx.put(&obj, "cadence", c.to_string())?;
            }
            if let Some(o) = &change.owner {
                tx.put(&obj, "owner", o.to_key())?;
            }
            match change.fulfilled_by {
                Some(Some(k)) => tx.put(&obj, "fulfilled_by", k.as_str())?,
                Some(None) => tx.delete(&obj, "fulfilled_by")?,
                None => {}
            }
            Ok(())
        })
    }

    pub fn archive_ritual(&mut self, ctx: &WriteCtx, id: &str) -> Result<(), ModelError> {
        let obj = self
            .child(&self.rituals, id)
            .ok_or_else(|| ModelError::NoSuchRitual(id.to_string()))?;
        self.write(ctx.now, |tx| {
            tx.put(&obj, "archived", ScalarValue::Timestamp(ms(ctx.now)))?;
            Ok(())
        })
    }

    /// Records that `ctx.author` did `ritual`'s occurrence opening on `occ`.
    /// The key is deterministic, so doing it twice, on two devices, is one
    /// log line.
    pub fn mark_done(
        &mut self,
        ctx: &WriteCtx,
        ritual: &Ritual,
        occ: NaiveDate,
        entry: Option<EntryId>,
    ) -> Result<RitualDone, ModelError> {
        let key = format!("{}/{}/{}", ritual.id, occ, ctx.author);
        let parent = self.ritual_log.clone();
        self.write(ctx.now, |tx| {
            let d = tx.put_object(&parent, key.as_str(), ObjType::Map)?;
            tx.put(&d, "at", ScalarValue::Timestamp(ms(ctx.now)))?;
            tx.put(&d, "offset", offset_minutes(ctx.now))?;
            tx.put(&d, "device", ctx.device.as_str())?;
            if let Some(e) = entry {
                tx.put(&d, "entry", e.key())?;
            }
            Ok(())
        })?;
        Ok(RitualDone {
            ritual: ritual.id.clone(),
            occurrence: occ,
            partner: ctx.author.clone(),
            device: ctx.device.clone(),
            at: ctx.now,
            entry,
        })
    }

    /// Whether the log holds a line for this ritual's occurrence, by `who`
    /// or, with `None`, by anyone. A direct key lookup, for the write path;
    /// lines written under an earlier cadence are not matched (see
    /// `Ritual::done_in` for the full rule).
    pub fn logged(&self, ritual: &str, occ: NaiveDate, who: Option<&PartnerId>) -> bool {
        match who {
            Some(p) => self
                .child(&self.ritual_log, &format!("{ritual}/{occ}/{p}"))
                .is_some(),
            None => {
                // Keys of one occurrence share this prefix; `0` sorts just
                // after `/`.
                let start = format!("{ritual}/{occ}/");
                let end = format!("{ritual}/{occ}0");
                self.doc
                    .map_range(&self.ritual_log, start..end)
                    .next()
                    .is_some()
            }
        }
    }

    pub fn ritual_log(&self) -> Vec<RitualDone> {
        self.doc
            .map_range(&self.ritual_log, ..)
            .filter_map(|item| {
                let mut parts = item.key.splitn(3, '/');
                let (ritual, occ, partner) = (parts.next()?, parts.next()?, parts.next()?);
                let f = Fields::read(&self.doc, &item.id());
                let offset = f.ints.get("offset").copied().unwrap_or(0);
                Some(RitualDone {
                    ritual: ritual.to_string(),
                    occurrence: stored_date(occ)?,
                    partner: PartnerId(partner.to_string().into()),
                    device: DeviceId(f.str("device").into()),
                    at: f.time("at", offset)?,
                    entry: f.strs.get("entry").and_then(|e| e.parse().ok()),
                })
            })
            .collect()
    }

    // ----- prompts -------------------------------------------------------

    pub fn add_prompt(
        &mut self,
        ctx: &WriteCtx,
        id: &str,
        text: &str,
        theme: Theme,
    ) -> Result<(), ModelError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ModelError::Empty("prompt text"));
        }
        check_len("prompt", text, MAX_PROMPT)?;
        let parent = self.prompts.clone();
        self.write(ctx.now, |tx| {
            let p = tx.put_object(&parent, id, ObjType::Map)?;
            tx.put(&p, "text", text)?;
            tx.put(&p, "theme", theme.as_str())?;
            tx.put(&p, "author", ctx.author.as_str())?;
            tx.put(&p, "created", ScalarValue::Timestamp(ms(ctx.now)))?;
            Ok(())
        })
    }

    /// Records that the couple set `prompt` aside on journal day `day`. The
    /// key holds both, so both partners skipping the same prompt at once
    /// merge into one skip and their devices draw the same next prompt.
    pub fn skip_prompt(
        &mut self,
        ctx: &WriteCtx,
        day: NaiveDate,
        prompt: &str,
    ) -> Result<(), ModelError> {
        let key = format!("{SKIP_PREFIX}{day}:{prompt}");
        let parent = self.prompts.clone();
        self.write(ctx.now, |tx| {
            let s = tx.put_object(&parent, key.as_str(), ObjType::Map)?;
            tx.put(&s, "author", ctx.author.as_str())?;
            tx.put(&s, "at", ScalarValue::Timestamp(ms(ctx.now)))?;
            tx.put(&s, "offset", offset_minutes(ctx.now))?;
            Ok(())
        })
    }

    /// The prompts skipped on journal day `day`.
    pub fn prompt_skips(&self, day: NaiveDate) -> BTreeSet<String> {
        // Only this day's keys: `:` sorts just before `;`.
        let prefix = format!("{SKIP_PREFIX}{day}:");
        let end = format!("{SKIP_PREFIX}{day};");
        self.doc
            .map_range(&self.prompts, prefix.clone()..end)
            .filter_map(|item| item.key.strip_prefix(&prefix).map(str::to_string))
            .collect()
    }

    /// The whole deck: built-in prompts then the couple's own, in a stable
    /// order that every device agrees on.
    pub fn prompts(&self) -> Vec<Prompt> {
        let mut all = builtin_prompts();
        for item in self.doc.map_range(&self.prompts, ..) {
            if item.key.starts_with(SKIP_PREFIX) {
                continue;
            }
            let f = Fields::read(&self.doc, &item.id());
            if let (Some(text), Some(theme)) = (
                f.strs.get("text"),
                f.strs.get("theme").and_then(|t| Theme::parse(t)),
            ) {
                all.push(Prompt {
                    id: item.key.to_string(),
                    theme,
                    text: text.clone(),
                    custom: true,
                });
            }
        }
        all
    }
}

/// The longest partner, device or ritual name, or ritual kind, in bytes.
pub const MAX_NAME: usize = 64;
/// The longest custom prompt, in bytes.
pub const MAX_PROMPT: usize = 1024;

fn check_len(field: &'static str, text: &str, max: usize) -> Result<(), ModelError> {
    if text.len() > max {
        return Err(ModelError::TooLong {
            field,
            len: text.len(),
            max,
        });
    }
    Ok(())
}

/// A name as a local write must give it: not blank, at most [`MAX_NAME`]
/// bytes once trimmed.
fn check_name(field: &'static str, name: &str) -> Result<(), ModelError> {
    if name.trim().is_empty() {
        return Err(ModelError::Empty(field));
    }
    check_len(field, name.trim(), MAX_NAME)
}

/// One of the couple's devices, as the shared document records it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Device {
    /// Whose device it is; unknown until the device registers itself.
    pub partner: Option<PartnerId>,
    pub name: String,
    pub removed: bool,
}

/// The built-in deck, in deck order, before the couple's own prompts.
pub fn builtin_prompts() -> Vec<Prompt> {
    deck::DECK
        .iter()
        .map(|p| Prompt {
            id: p.id.to_string(),
            theme: p.theme,
            text: p.text.to_string(),
            custom: false,
        })
        .collect()
}

/// A conversation prompt, built-in or the couple's own.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Prompt {
    pub id: String,
    pub theme: Theme,
    pub text: String,
    pub custom: bool,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::View;
    use chrono::TimeZone;

    fn now(h: u32) -> DateTime<FixedOffset> {
        FixedOffset::east_opt(3600)
            .unwrap()
            .with_ymd_and_hms(2026, 11, 25, h, 0, 0)
            .unwrap()
    }

    fn ctx(who: &str, dev: &str, h: u32) -> WriteCtx {
        WriteCtx {
            author: PartnerId(who.into()),
            device: DeviceId(dev.into()),
            now: now(h),
        }
    }

    fn note(text: &str) -> NewEntry {
        NewEntry {
            body: Body::Note { text: text.into() },
            tags: BTreeSet::new(),
            starred: false,
            tender: None,
        }
    }

    fn tid(random: u128) -> EntryId {
        EntryId::from_parts(now(9).timestamp_millis() as u64, random)
    }

    fn journal(actor: &[u8]) -> Journal {
        Journal::new(ActorId::from(actor))
    }

    fn merged(a: &mut Journal, b: &mut Journal) {
        a.doc_mut().merge(b.doc_mut()).unwrap();
        b.doc_mut().merge(a.doc_mut()).unwrap();
    }

    #[test]
    fn the_entries_changed_since_some_heads_are_read_from_the_changes() {
        let mut a = journal(b"dev-a");
        let (x, y, z) = (tid(1), tid(2), tid(3));
        a.add_entry(&ctx("ana", "dev-a", 9), &note("first"), x)
            .unwrap();
        a.add_entry(&ctx("ana", "dev-a", 9), &note("second"), y)
            .unwrap();
        let mut b = Journal::from_doc(
            Automerge::load(&a.doc().save())
                .unwrap()
                .with_actor(ActorId::from(b"dev-b".as_slice())),
        )
        .unwrap();
        let before = a.heads();
        // A field of one entry, a tag list (an object inside the entry) of
        // another, and a new entry.
        let edit = |body: Option<Body>, tags: Option<BTreeSet<String>>| EntryPatch {
            body,
            tags,
            ..Default::default()
        };
        a.edit_entry(
            &ctx("ana", "dev-a", 10),
            &x,
            &edit(
                Some(Body::Note {
                    text: "first, again".into(),
                }),
                None,
            ),
        )
        .unwrap();
        let edited = a.heads();
        a.edit_entry(
            &ctx("ana", "dev-a", 10),
            &y,
            &edit(None, Some(["walk".to_string()].into())),
        )
        .unwrap();
        a.add_entry(&ctx("ana", "dev-a", 11), &note("third"), z)
            .unwrap();
        assert_eq!(a.entries_changed_since(&before), [x, y, z].into());
        assert_eq!(a.entries_changed_since(&edited), [y, z].into());
        assert!(a.entries_changed_since(&a.heads()).is_empty());

        // On the receiving side, a change that waited for a missing
        // dependency counts once the dependency arrives and releases it.
        let mut changes = a.doc().get_changes(&before);
        let first = changes.remove(0);
        let b_before = b.heads();
        for c in &changes {
            b.doc_mut().load_incremental(c.raw_bytes()).unwrap();
        }
        assert_eq!(b.heads(), b_before, "held back until the first arrives");
        b.doc_mut().load_incremental(first.raw_bytes()).unwrap();
        assert_eq!(b.entries_changed_since(&b_before), [x, y, z].into());
    }

    #[test]
    fn entries_round_trip_with_every_common_field() {
        let mut j = journal(b"dev-a");
        let new = NewEntry {
            body: Body::Checkin {
                mood: Mood::new(4).unwrap(),
                energy: Some(Energy::new(2).unwrap()),
                need: Some("hug".parse().unwrap()),
                note: "long day @work".into(),
            },
            tags: ["Family".to_string()].into(),
            starred: true,
            tender: None,
        };
        let e = j.add_entry(&ctx("ana", "dev-a", 2), &new, tid(7)).unwrap();
        assert_eq!(e.author.as_str(), "ana");
        assert_eq!(e.device.as_str(), "dev-a");
        assert_eq!(e.created, now(2));
        assert_eq!(
            e.day,
            NaiveDate::from_ymd_opt(2026, 11, 24).unwrap(),
            "2 am is yesterday"
        );
        assert_eq!(
            e.tags.iter().map(String::as_str).collect::<Vec<_>>(),
            ["family", "work"]
        );
        assert!(e.starred && !e.tender);
        assert_eq!(e.body, new.body);
        let reloaded = Journal::from_doc(Automerge::load(&j.doc().save()).unwrap()).unwrap();
        assert_eq!(reloaded.entry(&e.id).unwrap().unwrap(), e);
    }

    #[test]
    fn repair_is_tender_by_default_and_keeps_agreements() {
        let mut j = journal(b"dev-a");
        let body = Body::Repair(Box::new(crate::RepairBody {
            mode: crate::RepairMode::Debrief,
            happened: "argued about plans".into(),
            felt: "unheard".into(),
            my_part: "I interrupted".into(),
            need: "time to finish my thought".into(),
            agreements: vec!["pause before replying".into(), "check in Sunday".into()],
        }));
        let e = j
            .add_entry(
                &ctx("ana", "dev-a", 20),
                &NewEntry {
                    body: body.clone(),
                    tags: BTreeSet::new(),
                    starred: false,
                    tender: None,
                },
                tid(1),
            )
            .unwrap();
        assert!(e.tender);
        assert_eq!(e.body, body);
    }

    #[test]
    fn two_journals_started_apart_merge_into_one() {
        let mut a = journal(b"dev-a");
        let mut b = journal(b"dev-b");
        let ea = a
            .add_entry(&ctx("ana", "dev-a", 10), &note("from a"), tid(1))
            .unwrap();
        let eb = b
            .add_entry(&ctx("ben", "dev-b", 11), &note("from b"), tid(2))
            .unwrap();
        merged(&mut a, &mut b);
        assert_eq!(a.heads(), b.heads());
        for j in [&a, &b] {
            let (all, bad) = j.all_entries();
            assert_eq!(bad, 0);
            assert_eq!(
                all.len(),
                2,
                "the genesis is shared, so neither map hides the other"
            );
            assert!(all.contains(&ea) && all.contains(&eb));
        }
    }

    #[test]
    fn concurrent_edits_of_different_fields_both_survive() {
        let mut a = journal(b"dev-a");
        let body = Body::Highlow {
            high: "sun".into(),
            low: "rain".into(),
        };
        let e = a
            .add_entry(
                &ctx("ana", "dev-a", 9),
                &NewEntry {
                    body,
                    tags: BTreeSet::new(),
                    starred: false,
                    tender: None,
                },
                tid(1),
            )
            .unwrap();
        let mut b = Journal::from_doc(
            a.doc()
                .fork()
                .with_actor(ActorId::from(b"dev-a2".as_slice())),
        )
        .unwrap();
        let p1 = EntryPatch {
            body: Some(Body::Highlow {
                high: "sunny walk".into(),
                low: "rain".into(),
            }),
            ..Default::default()
        };
        let p2 = EntryPatch {
            body: Some(Body::Highlow {
                high: "sun".into(),
                low: "missed the bus".into(),
            }),
            ..Default::default()
        };
        a.edit_entry(&ctx("ana", "dev-a", 10), &e.id, &p1).unwrap();
        b.edit_entry(&ctx("ana", "dev-a2", 10), &e.id, &p2).unwrap();
        merged(&mut a, &mut b);
        let got = a.entry(&e.id).unwrap().unwrap();
        assert_eq!(
            got.body,
            Body::Highlow {
                high: "sunny walk".into(),
                low: "missed the bus".into()
            }
        );
        assert!(got.conflicts.is_empty());
        assert!(got.edited.is_some());
    }

    #[test]
    fn concurrent_edits_of_one_field_keep_both_versions() {
        let mut a = journal(b"dev-a");
        let e = a
            .add_entry(&ctx("ana", "dev-a", 9), &note("first draft"), tid(1))
            .unwrap();
        let mut b = Journal::from_doc(
            a.doc()
                .fork()
                .with_actor(ActorId::from(b"dev-a2".as_slice())),
        )
        .unwrap();
        let edit = |t: &str| EntryPatch {
            body: Some(Body::Note { text: t.into() }),
            ..Default::default()
        };
        a.edit_entry(
            &ctx("ana", "dev-a", 10),
            &e.id,
            &edit("version from the laptop"),
        )
        .unwrap();
        b.edit_entry(
            &ctx("ana", "dev-a2", 10),
            &e.id,
            &edit("version from the desktop"),
        )
        .unwrap();
        merged(&mut a, &mut b);
        let ga = a.entry(&e.id).unwrap().unwrap();
        let gb = b.entry(&e.id).unwrap().unwrap();
        assert_eq!(
            ga, gb,
            "both devices see the same winner and the same kept version"
        );
        let Body::Note { text } = &ga.body else {
            panic!()
        };
        let others = &ga.conflicts["text"];
        let mut all: Vec<&str> = others
            .iter()
            .map(String::as_str)
            .chain([text.as_str()])
            .collect();
        all.sort();
        assert_eq!(all, ["version from the desktop", "version from the laptop"]);
        // Writing the field again resolves the conflict.
        a.edit_entry(&ctx("ana", "dev-a", 11), &e.id, &edit("merged by hand"))
            .unwrap();
        assert!(a.entry(&e.id).unwrap().unwrap().conflicts.is_empty());
    }

    #[test]
    fn tags_added_on_two_devices_both_survive() {
        let mut a = journal(b"dev-a");
        let e = a
            .add_entry(&ctx("ana", "dev-a", 9), &note("walk"), tid(1))
            .unwrap();
        let mut b = Journal::from_doc(
            a.doc()
                .fork()
                .with_actor(ActorId::from(b"dev-a2".as_slice())),
        )
        .unwrap();
        let tag = |t: &str| EntryPatch {
            tags: Some([t.to_string()].into()),
            ..Default::default()
        };
        a.edit_entry(&ctx("ana", "dev-a", 10), &e.id, &tag("park"))
            .unwrap();
        b.edit_entry(&ctx("ana", "dev-a2", 10), &e.id, &tag("dusk"))
            .unwrap();
        merged(&mut a, &mut b);
        let got = a.entry(&e.id).unwrap().unwrap();
        assert_eq!(
            got.tags.iter().map(String::as_str).collect::<Vec<_>>(),
            ["dusk", "park"]
        );
    }

    #[test]
    fn only_the_author_edits_or_deletes() {
        let mut j = journal(b"dev-a");
        let e = j
            .add_entry(&ctx("ana", "dev-a", 9), &note("mine"), tid(1))
            .unwrap();
        let patch = EntryPatch {
            starred: Some(true),
            ..Default::default()
        };
        assert_eq!(
            j.edit_entry(&ctx("ben", "dev-b", 10), &e.id, &patch)
                .unwrap_err(),
            ModelError::NotYourEntry(e.id.key())
        );
        assert!(j.delete_entry(&ctx("ben", "dev-b", 10), &e.id).is_err());
        let d = j.delete_entry(&ctx("ana", "dev-a", 10), &e.id).unwrap();
        assert!(d.deleted.is_some());
        assert!(
            j.delete_entry(&ctx("ana", "dev-a", 11), &e.id).is_err(),
            "deleting twice is an error"
        );
    }

    #[test]
    fn a_foreign_document_is_refused() {
        let mut doc = Automerge::new();
        doc.transact::<_, _, automerge::AutomergeError>(|tx| {
            tx.put(ROOT, "todo", "milk")?;
            Ok(())
        })
        .unwrap();
        assert!(matches!(Journal::from_doc(doc), Err(ModelError::Schema(_))));
    }

    #[test]
    fn malformed_entries_from_a_peer_are_skipped_not_fatal() {
        let mut j = journal(b"dev-a");
        j.add_entry(&ctx("ana", "dev-a", 9), &note("fine"), tid(1))
            .unwrap();
        let entries = j.entries.clone();
        j.doc_mut()
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                tx.put(&entries, "not-an-id", "junk")?;
                let e = tx.put_object(&entries, EntryId::from_parts(5, 5).key(), ObjType::Map)?;
                tx.put(&e, "kind", "checkin")?; // no mood, no author
                Ok(())
            })
            .unwrap();
        let (all, bad) = j.all_entries();
        assert_eq!(all.len(), 1);
        assert_eq!(bad, 2);
    }

    #[test]
    fn rituals_and_their_log_round_trip() {
        let mut j = journal(b"dev-a");
        let c = ctx("ana", "dev-a", 9);
        let r = Ritual {
            id: "r1".into(),
            name: "State of the union".into(),
            kind: "state-of-the-union".into(),
            cadence: "weekly:sun".parse().unwrap(),
            owner: Owner::Together,
            fulfilled_by: None,
            created: c.now,
            archived: None,
        };
        j.add_ritual(&c, &r).unwrap();
        assert_eq!(j.rituals(), vec![r.clone()]);
        let occ = r.cadence.occurrence(c.now.date_naive());
        let done = j.mark_done(&c, &r, occ, None).unwrap();
        assert_eq!(j.ritual_log(), vec![done]);
    }

    #[test]
    fn view_catches_up_from_older_heads() {
        let mut j = journal(b"dev-a");
        let e1 = j
            .add_entry(&ctx("ana", "dev-a", 9), &note("one"), tid(1))
            .unwrap();
        let mut view = View::build(&j);
        let e2 = j
            .add_entry(&ctx("ana", "dev-a", 10), &note("two"), tid(2))
            .unwrap();
        j.edit_entry(
            &ctx("ana", "dev-a", 11),
            &e1.id,
            &EntryPatch {
                starred: Some(true),
                ..Default::default()
            },
        )
        .unwrap();
        assert!(!view.is_current(&j));
        view.catch_up(&j);
        assert!(view.is_current(&j));
        assert_eq!(view.entries.len(), 2);
        assert!(view.entries[&e1.id].starred);
        assert_eq!(*view.entries[&e2.id], e2);
        let rebuilt = View::build(&j);
        assert_eq!(rebuilt.entries, view.entries);
    }

    #[test]
    fn ids_resolve_by_unique_prefix() {
        let mut j = journal(b"dev-a");
        let a = j
            .add_entry(&ctx("ana", "dev-a", 9), &note("one"), tid(1))
            .unwrap();
        let b = j
            .add_entry(&ctx("ana", "dev-a", 9), &note("two"), tid(u128::MAX >> 48))
            .unwrap();
        let view = View::build(&j);
        let short = view.short_len(8);
        assert!(short > 10, "same millisecond: ids share the time part");
        assert_eq!(view.resolve(&a.id.key()[..short]).unwrap(), a.id);
        assert_eq!(
            view.resolve(&b.id.key().to_uppercase()[..short]).unwrap(),
            b.id
        );
        assert!(matches!(
            view.resolve(&a.id.key()[..6]),
            Err(ModelError::AmbiguousId(_, 2))
        ));
        assert!(matches!(
            view.resolve("zzzz"),
            Err(ModelError::NoSuchEntry(_))
        ));
        assert!(matches!(view.resolve("not/an/id"), Err(ModelError::Id(_))));
    }

    /// A paired device could write any dates at all. Records with dates
    /// outside 1970-9999 are dropped as malformed, so rhythm, due and the
    /// reviews never do date arithmetic near chrono's limits.
    #[test]
    fn hostile_dates_from_a_peer_are_dropped_not_fatal() {
        let mut j = Journal::new(ActorId::from(b"ana-device".as_slice()));
        let c = ctx("ana", "dev", 20);
        let ritual = Ritual {
            id: "r1".into(),
            name: "Date night".into(),
            kind: "date-night".into(),
            cadence: "monthly:15".parse().unwrap(),
            owner: Owner::Both,
            fulfilled_by: None,
            created: now(9),
            archived: None,
        };
        j.add_ritual(&c, &ritual).unwrap();
        j.add_entry(&c, &note("fine"), EntryId::from_parts(5, 1))
            .unwrap();
        let (log, rituals, entries) = (j.ritual_log.clone(), j.rituals.clone(), j.entries.clone());
        j.doc_mut()
            .transact::<_, _, automerge::AutomergeError>(|tx| {
                // A log line dated at chrono's minimum.
                let d = tx.put_object(&log, "r1/-262143-01-01/ana", ObjType::Map)?;
                tx.put(&d, "at", ScalarValue::Timestamp(0))?;
                tx.put(&d, "offset", 0)?;
                // A ritual created at the minimum, in a negative offset.
                let r = tx.put_object(&rituals, "r2", ObjType::Map)?;
                tx.put(&r, "name", "Hostile")?;
                tx.put(&r, "cadence", "monthly:15")?;
                tx.put(&r, "owner", "both")?;
                tx.put(&r, "created", ScalarValue::Timestamp(i64::MIN / 4))?;
                tx.put(&r, "offset", -600)?;
                // An entry from the far future.
                let e = tx.put_object(&entries, EntryId::from_parts(6, 1).key(), ObjType::Map)?;
                tx.put(&e, "kind", "note")?;
                tx.put(&e, "author", "ben")?;
                tx.put(&e, "text", "x")?;
                tx.put(&e, "created", ScalarValue::Timestamp(8_000_000_000_000_000))?;
                tx.put(&e, "day", "+262142-12-31")?;
                Ok(())
            })
            .unwrap();
        assert!(j.ritual_log().is_empty(), "the hostile log line is dropped");
        let rs = j.rituals();
        assert_eq!(rs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["r1"]);
        let (es, bad) = j.all_entries();
        assert_eq!((es.len(), bad), (1, 1));
        // And what reads them still works.
        let today = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let due = crate::ritual::due_today(
            &rs,
            &j.ritual_log(),
            today,
            j.day_boundary(),
            &PartnerId("ana".into()),
            None,
        );
        assert_eq!(due.len(), 1);
    }

    #[test]
    fn logged_finds_one_occurrence_by_key() {
        let mut j = journal(b"dev-a");
        let r = Ritual {
            id: "r1".into(),
            name: "Walk".into(),
            kind: "custom".into(),
            cadence: crate::Cadence::Daily,
            owner: Owner::Together,
            fulfilled_by: None,
            created: now(9),
            archived: None,
        };
        j.add_ritual(&ctx("ana", "d", 9), &r).unwrap();
        let day = NaiveDate::from_ymd_opt(2026, 11, 25).unwrap();
        let ana = PartnerId("ana".into());
        let ben = PartnerId("ben".into());
        assert!(!j.logged("r1", day, None));
        j.mark_done(&ctx("ben", "d", 10), &r, day, None).unwrap();
        assert!(j.logged("r1", day, None));
        assert!(j.logged("r1", day, Some(&ben)));
        assert!(!j.logged("r1", day, Some(&ana)));
        assert!(!j.logged("r1", day.succ_opt().unwrap(), None));
        assert!(!j.logged("r10", day, None), "another ritual's prefix");
    }

    /// Runs a sync between two journals with frames of at most `cap`
    /// bytes until neither has anything to say; returns the largest frame
    /// sent and how many frames went.
    fn sync_framed(a: &mut Journal, b: &mut Journal, cap: usize) -> (usize, usize) {
        let (mut sa, mut sb) = (automerge::sync::State::new(), automerge::sync::State::new());
        let (mut largest, mut sent) = (0, 0);
        for _ in 0..10_000 {
            let from_a = a.generate_framed(&mut sa, cap).unwrap();
            let from_b = b.generate_framed(&mut sb, cap).unwrap();
            if from_a.is_empty() && from_b.is_empty() {
                return (largest, sent);
            }
            for (frames, to, state) in [(from_a, &mut *b, &mut sb), (from_b, &mut *a, &mut sa)] {
                for f in frames {
                    largest = largest.max(f.len());
                    sent += 1;
                    let m = automerge::sync::Message::decode(&f).unwrap();
                    to.receive(state, m, false).unwrap();
                }
            }
        }
        panic!("the sync did not settle");
    }

    #[test]
    fn a_first_sync_larger_than_a_frame_goes_in_several_frames_and_completes() {
        let mut a = journal(b"dev-a");
        // Text that does not compress, as real words barely do across
        // entries: a saved document squeezes repeats to nothing.
        let mut seed = 0x2545_f491_u64;
        let mut letters = |n: usize| -> String {
            (0..n)
                .map(|_| {
                    seed = seed
                        .wrapping_mul(6364136223846793005)
                        .wrapping_add(1442695040888963407);
                    char::from(b'a' + (seed >> 59) as u8 % 26)
                })
                .collect()
        };
        for i in 0..400u32 {
            let text = format!("entry {i}: {}", letters(120));
            a.add_entry(
                &ctx("ana", "dev-a", 9),
                &note(&text),
                tid(u128::from(i) + 1),
            )
            .unwrap();
        }
        let cap = 16 * 1024;
        // Unsplit, Automerge's first message is the whole journal.
        let mut fresh = automerge::sync::State::new();
        let probe = journal(b"dev-b");
        let hello = probe.generate(&mut fresh).unwrap().unwrap();
        let mut sa = automerge::sync::State::new();
        a.receive(&mut sa, hello, false).unwrap();
        let whole = a.generate(&mut sa).unwrap().unwrap().encode();
        assert!(
            whole.len() > 2 * cap,
            "the test needs a journal over the cap: {}",
            whole.len()
        );

        let mut b = journal(b"dev-b");
        let (largest, sent) = sync_framed(&mut a, &mut b, cap);
        assert!(largest <= cap, "a frame of {largest} bytes, over {cap}");
        assert!(sent > 3, "split into several frames ({sent})");
        assert_eq!(a.heads(), b.heads());
        assert_eq!(View::build(&b).entries.len(), 400);

        // Later edits on both sides still converge within the cap.
        b.add_entry(&ctx("ben", "dev-b", 10), &note("from b"), tid(9_000))
            .unwrap();
        a.add_entry(&ctx("ana", "dev-a", 10), &note("from a"), tid(9_001))
            .unwrap();
        let (largest, _) = sync_framed(&mut a, &mut b, cap);
        assert!(largest <= cap);
        assert_eq!(a.heads(), b.heads());
        assert_eq!(View::build(&a).entries.len(), 402);
    }

    #[test]
    fn a_message_within_the_cap_is_sent_whole() {
        let mut a = journal(b"dev-a");
        a.add_entry(&ctx("ana", "dev-a", 9), &note("one"), tid(1))
            .unwrap();
        let mut b = journal(b"dev-b");
        let (largest, _) = sync_framed(&mut a, &mut b, 1 << 20);
        assert!(largest > 0);
        let mut sa = automerge::sync::State::new();
        let plain = a.generate(&mut sa).unwrap().unwrap().encode();
        let mut sa = automerge::sync::State::new();
        assert_eq!(a.generate_framed(&mut sa, 1 << 20).unwrap(), vec![plain]);
    }
}
