//! Reading the signed records out of an in-memory couple document, with the
//! change that put each one, for the trust computation.

use automerge::transaction::Transactable;
use automerge::{Automerge, ChangeHash, ObjType, ROOT, ReadDoc, ScalarValue, Value};

use super::record::SignedRecord;

/// The key under which the couple document keeps its records.
pub const RECORDS_KEY: &str = "records";

/// One value found under a key of `records`, as stored, not yet checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredRecord {
    pub key: String,
    pub value: Vec<u8>,
    /// The change that put this value.
    pub put_by: ChangeHash,
}

/// Every value under every key of the document's `records` map, conflicting
/// values included: each is checked on its own. A value that is not Bytes
/// is given as no bytes, which the parse step drops as malformed.
pub fn stored_records(doc: &Automerge) -> Vec<StoredRecord> {
    let Ok(Some((Value::Object(ObjType::Map), records))) = doc.get(ROOT, RECORDS_KEY) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in doc.keys(&records) {
        let Ok(values) = doc.get_all(&records, key.as_str()) else {
            continue;
        };
        for (value, id) in values {
            // Every value but the root was put by some change.
            let Some(put_by) = doc.hash_for_opid(&id) else {
                continue;
            };
            let value = match value {
                Value::Scalar(s) => match s.as_ref() {
                    ScalarValue::Bytes(b) => b.clone(),
                    _ => Vec::new(),
                },
                Value::Object(_) => Vec::new(),
            };
            out.push(StoredRecord {
                key: key.clone(),
                value,
                put_by,
            });
        }
    }
    out
}

/// Adds `record` to the couple document's `records` under its own key, as
/// one change by the document's actor. A record already there adds nothing.
/// Returns whether the document changed.
pub fn add_record(
    doc: &mut Automerge,
    record: &SignedRecord,
) -> Result<bool, automerge::AutomergeError> {
    let Ok(Some((Value::Object(ObjType::Map), records))) = doc.get(ROOT, RECORDS_KEY) else {
        return Err(automerge::AutomergeError::InvalidObjId(RECORDS_KEY.into()));
    };
    let key = record.key().to_hex();
    let value = record.to_bytes();
    let already = doc
        .get_all(&records, key.as_str())?
        .iter()
        .any(|(v, _)| matches!(v, Value::Scalar(s) if s.as_bytes() == Some(value.as_slice())));
    if already {
        return Ok(false);
    }
    let mut tx = doc.transaction();
    tx.put(&records, key, ScalarValue::Bytes(value))?;
    tx.commit();
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use automerge::{ActorId, ObjId};

    fn records_map(doc: &Automerge) -> ObjId {
        match doc.get(ROOT, RECORDS_KEY).unwrap() {
            Some((Value::Object(ObjType::Map), id)) => id,
            other => panic!("no records map: {other:?}"),
        }
    }

    #[test]
    fn each_value_comes_with_the_change_that_put_it() {
        let mut doc = Automerge::new().with_actor(ActorId::from([1u8; 32].as_slice()));
        let mut tx = doc.transaction();
        tx.put_object(ROOT, RECORDS_KEY, ObjType::Map).unwrap();
        let first = tx.commit().0.unwrap();
        let records = records_map(&doc);

        let mut other = doc.fork().with_actor(ActorId::from([2u8; 32].as_slice()));
        let mut tx = doc.transaction();
        tx.put(&records, "k1", ScalarValue::Bytes(vec![1, 2]))
            .unwrap();
        tx.put(&records, "k2", "not bytes").unwrap();
        let second = tx.commit().0.unwrap();
        let mut tx = other.transaction();
        tx.put(&records, "k1", ScalarValue::Bytes(vec![3])).unwrap();
        let concurrent = tx.commit().0.unwrap();
        doc.merge(&mut other).unwrap();
        assert_ne!(first, second);

        let mut found = stored_records(&doc);
        found.sort_by(|a, b| (&a.key, &a.value).cmp(&(&b.key, &b.value)));
        let want = vec![
            StoredRecord {
                key: "k1".into(),
                value: vec![1, 2],
                put_by: second,
            },
            StoredRecord {
                key: "k1".into(),
                value: vec![3],
                put_by: concurrent,
            },
            StoredRecord {
                key: "k2".into(),
                value: vec![],
                put_by: second,
            },
        ];
        assert_eq!(found, want);
    }

    #[test]
    fn a_document_without_records_has_none() {
        let doc = Automerge::new();
        assert!(stored_records(&doc).is_empty());
    }
}
