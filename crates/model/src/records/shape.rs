//! The shapes a partner or private document may hold (docs/SCHEMA.md,
//! "Accepting a peer's changes", step 4): what a peer's changes leave must
//! look like what this device's own writes make, or the message is refused
//! like a forgery. The words are sealed, so their limits are checked when a
//! key opens them (`keys::take`); everything in the clear is checked here.
//!
//! Only what the new changes touched is looked at, in the state they leave.

use std::collections::{BTreeMap, BTreeSet};

use automerge::{Automerge, ChangeHash, ObjId, ObjType, PatchAction, Prop, ROOT, ReadDoc, Value};
use chrono::{Datelike, NaiveDate};

use super::content::version_of;
use super::heads::{DocKind, PartnerDoc};
use crate::EntryId;

/// The longest key of a ritual-log line or a skip, and of a prompt id in
/// an answer marker: ids are short, and a key is not a place for words.
const MAX_KEY: usize = 200;

/// The root maps of each kind of document, as its genesis makes them.
fn root_maps(kind: DocKind) -> &'static [&'static str] {
    match kind {
        DocKind::Partner => &["entries", "ritual_log", "skips", "answered"],
        DocKind::Private => &["entries", "ritual_log"],
    }
}

/// Checks what the changes since `before` (the receiver's heads; the
/// genesis when it has none) left in `fork`, document `doc`. The error
/// says what is wrong, in a few words, and never quotes values.
pub fn check(
    doc: &PartnerDoc,
    fork: &Automerge,
    before: &[ChangeHash],
    genesis: &ChangeHash,
) -> Result<(), String> {
    let from = if before.is_empty() {
        vec![*genesis]
    } else {
        before.to_vec()
    };
    // A set: a new entry comes as one patch per field, and is checked once.
    let mut touched: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for patch in fork.diff(&from, &fork.get_heads()) {
        let (root, key) = match (patch.path.first(), patch.path.get(1), &patch.action) {
            // At the root itself: a root key put, deleted or changed.
            (None, _, PatchAction::PutMap { key, .. } | PatchAction::DeleteMap { key }) => {
                if key == "hearth" || root_maps(doc.kind).contains(&key.as_str()) {
                    return Err(format!("the root key {key:?} was changed"));
                }
                return Err("an unknown root key was written".into());
            }
            (None, _, _) => return Err("the root was changed".into()),
            (Some((_, Prop::Map(root))), None, PatchAction::PutMap { key, .. })
            | (Some((_, Prop::Map(root))), None, PatchAction::DeleteMap { key }) => {
                (root.clone(), key.clone())
            }
            (Some((_, Prop::Map(root))), Some((_, Prop::Map(key))), _) => {
                (root.clone(), key.clone())
            }
            _ => return Err("a change outside the document's maps".into()),
        };
        if root == "hearth" {
            return Err("the document's own header was changed".into());
        }
        if !root_maps(doc.kind).contains(&root.as_str()) {
            return Err("an unknown root map was written".into());
        }
        touched.entry(root).or_default().insert(key);
    }
    for (root, keys) in &touched {
        let Ok(Some((Value::Object(ObjType::Map), map))) = fork.get(ROOT, root.as_str()) else {
            return Err(format!("{root} is not a map"));
        };
        for key in keys {
            match root.as_str() {
                "entries" => entry(doc, fork, &map, key)?,
                "answered" => answered(fork, &map, key)?,
                _ => log_line(fork, &map, root, key)?,
            }
        }
    }
    Ok(())
}

/// An entry: a ULID key, a `day` in the document's year, sealed values
/// that have the sealed format and size, `deleted` only `true`.
fn entry(doc: &PartnerDoc, fork: &Automerge, entries: &ObjId, key: &str) -> Result<(), String> {
    if key.parse::<EntryId>().is_err() {
        return Err("an entry key is not an entry id".into());
    }
    let Some(map) = object(fork, entries, key)? else {
        return Ok(());
    };
    // One walk of the map, each field's winning value; every value only
    // where a field holds concurrent ones. A lookup per field seeks
    // through the whole document.
    for item in fork.map_range(&map, ..) {
        let field = item.key.to_string();
        let values: Vec<Value> = if item.conflict {
            fork.get_all(&map, field.as_str())
                .map_err(|e| e.to_string())?
                .into_iter()
                .map(|(v, _)| v.into_owned())
                .collect()
        } else {
            vec![item.value.into()]
        };
        for value in values {
            match (field.as_str(), value) {
                ("day", Value::Scalar(s)) => {
                    let ok = s
                        .as_str()
                        .and_then(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
                        .is_some_and(|d| d.year() == i32::from(doc.year));
                    if !ok {
                        return Err("an entry's day is not a date of the document's year".into());
                    }
                }
                ("b", Value::Scalar(s)) => {
                    if s.as_bytes().is_none_or(|b| version_of(b).is_err()) {
                        return Err("an entry's sealed value is not in the sealed format".into());
                    }
                }
                ("deleted", Value::Scalar(s)) if s.as_bool() == Some(true) => {}
                _ => return Err("an entry holds a field no write makes".into()),
            }
        }
    }
    Ok(())
}

/// An answer marker: the answer's entry id, and the prompt id.
fn answered(fork: &Automerge, map: &ObjId, key: &str) -> Result<(), String> {
    if key.parse::<EntryId>().is_err() {
        return Err("an answer marker's key is not an entry id".into());
    }
    for (value, _) in fork.get_all(map, key).map_err(|e| e.to_string())? {
        let ok = matches!(&value, Value::Scalar(s)
            if s.as_str().is_some_and(|p| !p.is_empty() && p.len() <= MAX_KEY));
        if !ok {
            return Err("an answer marker does not name a prompt".into());
        }
    }
    Ok(())
}

/// A ritual-log line or a skip: a bounded key with a date in it, and a map
/// of `at`, `offset` and (log lines only) `entry`.
fn log_line(fork: &Automerge, parent: &ObjId, root: &str, key: &str) -> Result<(), String> {
    let date = match root {
        "ritual_log" => key.rsplit_once('/').map(|(_, d)| d),
        _ => key.split_once(':').map(|(d, _)| d),
    };
    let dated = date.is_some_and(|d| NaiveDate::parse_from_str(d, "%Y-%m-%d").is_ok());
    if key.len() > MAX_KEY || !dated {
        return Err(format!("a {root} key is not what a write makes"));
    }
    let Some(map) = object(fork, parent, key)? else {
        return Ok(());
    };
    for field in fork.keys(&map) {
        let allowed = matches!(
            (root, field.as_str()),
            (_, "at" | "offset") | ("ritual_log", "entry")
        );
        if !allowed {
            return Err(format!("a {root} line holds a field no write makes"));
        }
        if fork.get_all(&map, field.as_str()).map_err(|e| e.to_string())?.iter().any(
            |(v, _)| matches!(v, Value::Object(_)) || matches!(v, Value::Scalar(s) if s.as_str().is_some_and(|t| t.len() > MAX_KEY)),
        ) {
            return Err(format!("a {root} line holds a value no write makes"));
        }
    }
    Ok(())
}

/// The map at `key` of `parent`; `None` when the key was deleted; an error
/// when something other than a map is there.
fn object(fork: &Automerge, parent: &ObjId, key: &str) -> Result<Option<ObjId>, String> {
    let all = fork.get_all(parent, key).map_err(|e| e.to_string())?;
    let mut out = None;
    for (value, id) in all {
        match value {
            Value::Object(ObjType::Map) => out = Some(id),
            _ => return Err("a value where a map belongs".into()),
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests;
