//! The checks on a peer's changes to the couple document, on the session's
//! scratch fork before anything reaches the real document (docs/SCHEMA.md,
//! "Checked on receive"). Only shapes and step 1 are checked here; who
//! counts is computed on read, since a removal arriving later changes it.

use automerge::legacy::{Key, ObjectId, OpType};
use automerge::{Automerge, Change, ChangeHash, ObjId, ROOT, ReadDoc, ScalarValue};
use thiserror::Error;

use super::couple::{RECORDS_KEY, stored_records};
use super::error::RecordError;
use super::history::DocHistory;
use super::ids::{DeviceKey, hex, unhex};
use super::trust::TrustView;

/// The largest change a peer may send.
pub const MAX_CHANGE: usize = 1024 * 1024;
/// The map that holds the couple id, and its key.
pub const HEARTH_KEY: &str = "hearth";
pub const COUPLE_ID_KEY: &str = "couple";

/// Why a peer's couple-document changes were refused, as a forged message is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CoupleRefusal {
    #[error("change {change} is {len} bytes, the maximum is {MAX_CHANGE}")]
    TooLarge { change: String, len: usize },
    #[error("change {change} is by {actor}, which is not a certified device")]
    Actor { change: String, actor: String },
    #[error("change {change} does what the couple document forbids: {what}")]
    Forbidden { change: String, what: &'static str },
    #[error("change {change} adds record {key} that is refused: {error}")]
    Record {
        change: String,
        key: String,
        error: RecordError,
    },
    #[error("change {change} could not be decoded")]
    Undecodable { change: String },
}

/// Checks `new_changes`, the changes of `fork` the real document lacks
/// (`fork.get_changes(&real.get_heads())`). Each must be at most 1 MiB, by
/// an actor in E as computed on the fork, and only add keys to `records`
/// (with values that pass step 1) or put `hearth.couple`. The genesis,
/// named by its hash, is exempt: its bytes are fixed.
pub fn check_couple_changes(
    fork: &Automerge,
    new_changes: &[Change],
    genesis: &ChangeHash,
) -> Result<(), CoupleRefusal> {
    let view = TrustView::compute(&stored_records(fork), &DocHistory::new(fork));
    let records = map_id(fork, RECORDS_KEY);
    let hearth = map_id(fork, HEARTH_KEY);
    for change in new_changes {
        if change.hash() == *genesis {
            continue;
        }
        let name = hex(&change.hash().0);
        let len = change.raw_bytes().len();
        if len > MAX_CHANGE {
            return Err(CoupleRefusal::TooLarge { change: name, len });
        }
        let actor = change.actor_id().to_bytes();
        let certified = <[u8; 32]>::try_from(actor)
            .ok()
            .and_then(|a| view.ever_certified(&DeviceKey(a)));
        if certified.is_none() {
            return Err(CoupleRefusal::Actor {
                change: name,
                actor: hex(actor),
            });
        }
        // Decoding a loaded change should not fail, but these bytes came
        // from a peer: a panic inside Automerge refuses the change.
        let decoded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| change.decode()))
            .map_err(|_| CoupleRefusal::Undecodable {
                change: name.clone(),
            })?;
        for op in &decoded.operations {
            check_op(op, records.as_ref(), hearth.as_ref()).map_err(|refusal| match refusal {
                OpRefusal::Forbidden(what) => CoupleRefusal::Forbidden {
                    change: name.clone(),
                    what,
                },
                OpRefusal::Record { key, error } => CoupleRefusal::Record {
                    change: name.clone(),
                    key,
                    error,
                },
            })?;
        }
    }
    Ok(())
}

enum OpRefusal {
    Forbidden(&'static str),
    Record { key: String, error: RecordError },
}

/// The id of the map under `key` at the root, made by the genesis.
fn map_id(doc: &Automerge, key: &str) -> Option<ObjId> {
    match doc.get(ROOT, key) {
        Ok(Some((automerge::Value::Object(automerge::ObjType::Map), id))) => Some(id),
        _ => None,
    }
}

fn is_object(obj: &ObjectId, id: Option<&ObjId>) -> bool {
    match (obj, id) {
        (ObjectId::Id(op), Some(ObjId::Id(counter, actor, _))) => {
            op.counter() == *counter && op.actor() == actor
        }
        _ => false,
    }
}

fn check_op(
    op: &automerge::legacy::Op,
    records: Option<&ObjId>,
    hearth: Option<&ObjId>,
) -> Result<(), OpRefusal> {
    let Key::Map(key) = &op.key else {
        return Err(OpRefusal::Forbidden("an operation on a list"));
    };
    if is_object(&op.obj, records) {
        let OpType::Put(value) = &op.action else {
            return Err(OpRefusal::Forbidden(
                "an operation on records other than adding a value",
            ));
        };
        if !op.pred.is_empty() {
            return Err(OpRefusal::Forbidden("a put that replaces a record"));
        }
        let ScalarValue::Bytes(bytes) = value else {
            return Err(OpRefusal::Forbidden("a record that is not Bytes"));
        };
        return match super::record::SignedRecord::verify_stored(key, bytes) {
            // A kind from a later version passes: readers ignore it, and
            // refusing it would cut this device off from newer peers.
            Ok(_) | Err(RecordError::UnknownTag(_)) => Ok(()),
            Err(error) => Err(OpRefusal::Record {
                key: key.chars().take(64).collect(),
                error,
            }),
        };
    }
    if is_object(&op.obj, hearth) && key.as_str() == COUPLE_ID_KEY {
        return match &op.action {
            OpType::Put(ScalarValue::Str(s)) if unhex::<16>(s).is_some() => Ok(()),
            _ => Err(OpRefusal::Forbidden(
                "hearth.couple set to something other than 32 lowercase hex",
            )),
        };
    }
    Err(OpRefusal::Forbidden(
        "a change outside records and hearth.couple",
    ))
}

#[cfg(test)]
mod tests;
