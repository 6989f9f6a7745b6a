use automerge::transaction::Transactable;
use automerge::{ActorId, ObjType};

use super::*;
use crate::records::record::{Body, PromptRecord, SignedRecord};
use crate::records::testkit::Device;

/// A stand-in for the couple genesis: the two maps, made by a fixed actor.
fn genesis() -> (Automerge, ChangeHash) {
    let mut doc = Automerge::new().with_actor(ActorId::from(b"hearth-genesis-2".as_slice()));
    let mut tx = doc.transaction();
    let hearth = tx.put_object(ROOT, HEARTH_KEY, ObjType::Map).unwrap();
    tx.put(&hearth, "schema", 2).unwrap();
    tx.put(&hearth, "doc", "couple").unwrap();
    tx.put_object(ROOT, RECORDS_KEY, ObjType::Map).unwrap();
    let hash = tx.commit().0.unwrap();
    (doc, hash)
}

fn records_of(doc: &Automerge) -> ObjId {
    map_id(doc, RECORDS_KEY).unwrap()
}

fn put(doc: &mut Automerge, r: &SignedRecord) {
    let records = records_of(doc);
    let mut tx = doc.transaction();
    tx.put(&records, r.key().to_hex(), ScalarValue::Bytes(r.to_bytes()))
        .unwrap();
    tx.commit();
}

/// The real document: the genesis and Ana's root, written by her laptop.
struct Setup {
    real: Automerge,
    genesis: ChangeHash,
    ana: Device,
}

fn setup() -> Setup {
    let ana = Device::new(1);
    let (doc, genesis) = genesis();
    let mut real = doc.with_actor(ActorId::from(ana.key.0.as_slice()));
    put(&mut real, &ana.root_cert("laptop"));
    Setup { real, genesis, ana }
}

impl Setup {
    /// A fork written by `device`, as a peer would send it.
    fn fork(&self, device: &Device) -> Automerge {
        self.real
            .fork()
            .with_actor(ActorId::from(device.key.0.as_slice()))
    }

    fn check(&self, fork: &Automerge) -> Result<(), CoupleRefusal> {
        let new = fork.get_changes(&self.real.get_heads());
        assert!(!new.is_empty(), "the test made no change");
        check_couple_changes(fork, &new, &self.genesis)
    }
}

#[test]
fn new_records_by_a_certified_device_pass() {
    let s = setup();
    let mut fork = s.fork(&s.ana);
    let phone = Device::new(2);
    put(
        &mut fork,
        &s.ana.cert(s.ana.root_partner(), &phone, "phone"),
    );
    let hearth = map_id(&fork, HEARTH_KEY).unwrap();
    let mut tx = fork.transaction();
    tx.put(&hearth, COUPLE_ID_KEY, "0123456789abcdef0123456789abcdef")
        .unwrap();
    tx.commit();
    assert_eq!(s.check(&fork), Ok(()));
}

#[test]
fn the_whole_document_from_the_genesis_passes() {
    // A first sync: the genesis and everything after arrive at once.
    let s = setup();
    let new = s.real.get_changes(&[]);
    assert_eq!(check_couple_changes(&s.real, &new, &s.genesis), Ok(()));
    // Without its hash, the genesis is just a change by an unknown actor.
    assert!(matches!(
        check_couple_changes(&s.real, &new, &ChangeHash([0; 32])),
        Err(CoupleRefusal::Actor { .. })
    ));
}

#[test]
fn a_device_certified_in_the_same_message_may_write() {
    let s = setup();
    let phone = Device::new(2);
    let mut fork = s.fork(&s.ana);
    put(
        &mut fork,
        &s.ana.cert(s.ana.root_partner(), &phone, "phone"),
    );
    let mut fork = fork.with_actor(ActorId::from(phone.key.0.as_slice()));
    put(
        &mut fork,
        &phone.sign(
            5,
            Body::Prompt(PromptRecord {
                theme: "day".into(),
                text: "First?".into(),
            }),
        ),
    );
    assert_eq!(s.check(&fork), Ok(()));
}

#[test]
fn a_change_by_an_uncertified_actor_is_refused() {
    let s = setup();
    let stranger = Device::new(21);
    let mut fork = s.fork(&stranger);
    put(&mut fork, &stranger.root_cert("me"));
    // Its own root makes it a member of E on the fork, so it passes...
    assert_eq!(s.check(&fork), Ok(()));
    // ...but a device nobody certified does not.
    let mut fork = s.fork(&stranger);
    put(
        &mut fork,
        &stranger.cert(s.ana.root_partner(), &stranger, "me"),
    );
    assert!(matches!(s.check(&fork), Err(CoupleRefusal::Actor { .. })));
}

#[test]
fn deleting_or_replacing_a_record_is_refused() {
    let mut s = setup();
    let prompt = s.ana.sign(
        5,
        Body::Prompt(PromptRecord {
            theme: "day".into(),
            text: "First?".into(),
        }),
    );
    put(&mut s.real, &prompt);
    let key = prompt.key().to_hex();

    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.delete(&records, key.as_str()).unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));

    // Other bytes over the old value (Automerge writes nothing for the same
    // bytes again).
    let mut other = prompt.to_bytes();
    other[0] ^= 1;
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(&records, key.as_str(), ScalarValue::Bytes(other))
        .unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden {
            what: "a put that replaces a record",
            ..
        })
    ));

    // Deleting the certificate of the writer itself leaves it outside E.
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.delete(&records, s.ana.root_cert("laptop").key().to_hex())
        .unwrap();
    tx.commit();
    assert!(matches!(s.check(&fork), Err(CoupleRefusal::Actor { .. })));
}

#[test]
fn other_keys_and_objects_are_refused() {
    let s = setup();
    let mut fork = s.fork(&s.ana);
    let mut tx = fork.transaction();
    tx.put(ROOT, "addrs", "10.0.0.1").unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));

    let mut fork = s.fork(&s.ana);
    let hearth = map_id(&fork, HEARTH_KEY).unwrap();
    let mut tx = fork.transaction();
    tx.put(&hearth, "schema", 3).unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));

    let mut fork = s.fork(&s.ana);
    let hearth = map_id(&fork, HEARTH_KEY).unwrap();
    let mut tx = fork.transaction();
    tx.put(&hearth, COUPLE_ID_KEY, "not hex").unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));

    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put_object(&records, "00".repeat(16), ObjType::Map)
        .unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));
}

#[test]
fn values_that_fail_step_one_are_refused() {
    let s = setup();
    let phone = Device::new(2);
    let good = s.ana.cert(s.ana.root_partner(), &phone, "phone");

    // Under a key that is not its hash.
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(
        &records,
        "ab".repeat(16),
        ScalarValue::Bytes(good.to_bytes()),
    )
    .unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Record {
            error: RecordError::KeyMismatch,
            ..
        })
    ));

    // With a broken signature.
    let mut bytes = good.to_bytes();
    bytes[0] ^= 1;
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(&records, good.key().to_hex(), ScalarValue::Bytes(bytes))
        .unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Record {
            error: RecordError::BadSignature,
            ..
        })
    ));

    // Not Bytes at all.
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(&records, good.key().to_hex(), "text").unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Forbidden { .. })
    ));

    // Larger than 4 KiB, under its own hash.
    let mut big = vec![0u8; 64];
    big.extend_from_slice(b"hearth/v9/big\0");
    big.resize(5000, b'x');
    let key = crate::records::ids::RecordKey::of_body(&big[64..]).to_hex();
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(&records, key, ScalarValue::Bytes(big)).unwrap();
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::Record {
            error: RecordError::TooLarge { .. },
            ..
        })
    ));
}

#[test]
fn a_record_of_a_later_version_passes() {
    let s = setup();
    let mut value = vec![0u8; 64];
    value.extend_from_slice(b"hearth/v3/wish\0whatever it holds");
    let key = crate::records::ids::RecordKey::of_body(&value[64..]).to_hex();
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    tx.put(&records, key, ScalarValue::Bytes(value)).unwrap();
    tx.commit();
    assert_eq!(s.check(&fork), Ok(()));
}

#[test]
fn a_change_over_one_mib_is_refused() {
    let s = setup();
    let mut fork = s.fork(&s.ana);
    let records = records_of(&fork);
    let mut tx = fork.transaction();
    // 300 records of about 4 KiB each, in one change.
    for n in 0..300 {
        let r = s.ana.sign(
            n,
            Body::Prompt(PromptRecord {
                theme: "day".into(),
                text: "x".repeat(3900),
            }),
        );
        tx.put(&records, r.key().to_hex(), ScalarValue::Bytes(r.to_bytes()))
            .unwrap();
    }
    tx.commit();
    assert!(matches!(
        s.check(&fork),
        Err(CoupleRefusal::TooLarge { .. })
    ));
}
