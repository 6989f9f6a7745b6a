use proptest::prelude::*;

use super::*;
use crate::records::record::{Body, Cert};
use crate::records::testkit::{Dag, Device, change, linear, stored};

/// Ana's and Ben's devices: seeds 1-9 for Ana, 11-19 for Ben, 21+ others.
struct Couple {
    ana: Device,
    ana2: Device,
    ana3: Device,
    ben: Device,
    ben2: Device,
    a: PartnerCode,
    b: PartnerCode,
}

fn couple() -> Couple {
    let ana = Device::new(1);
    let ben = Device::new(11);
    Couple {
        a: ana.root_partner(),
        b: ben.root_partner(),
        ana,
        ana2: Device::new(2),
        ana3: Device::new(3),
        ben,
        ben2: Device::new(12),
    }
}

/// Both roots, in change 1.
fn roots(c: &Couple) -> Vec<StoredRecord> {
    vec![
        stored(&c.ana.root_cert("laptop"), change(1)),
        stored(&c.ben.root_cert("desk"), change(1)),
    ]
}

fn view(records: &[StoredRecord]) -> TrustView {
    TrustView::compute(records, &linear)
}

#[test]
fn roots_are_certified_and_pending_for_the_other_partner() {
    let c = couple();
    let v = view(&roots(&c));
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Mine);
    assert_eq!(v.status(&c.b, &c.ben.key), DeviceStatus::Mine);
    assert_eq!(v.status(&c.a, &c.ben.key), DeviceStatus::Pending);
    assert_eq!(v.status(&c.b, &c.ana.key), DeviceStatus::Pending);
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Unknown);
    assert_eq!(v.partners(), [c.a, c.b].into_iter().collect());
    assert_eq!(v.counts, TrustCounts::default());
}

#[test]
fn a_self_cert_for_a_partner_not_derived_from_its_key_is_no_root() {
    let c = couple();
    // Ana's second device claims to found Ana's partner itself.
    let claim = c.ana2.cert(c.a, &c.ana2, "tablet");
    let v = view(&[stored(&claim, change(1))]);
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Unknown);
    assert_eq!(v.counts.certs_ignored, 1);
}

#[test]
fn a_chain_of_certs_certifies_every_link() {
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ana2.cert(c.a, &c.ana3, "tablet"), change(3)));
    let v = view(&records);
    for d in [&c.ana, &c.ana2, &c.ana3] {
        assert_eq!(v.status(&c.a, &d.key), DeviceStatus::Mine);
        assert_eq!(v.valid(&d.key), Some(&c.a));
    }
    assert_eq!(v.valid_devices().count(), 4);
}

#[test]
fn a_device_of_the_other_partner_cannot_certify_for_me() {
    // Issue 9.2: Ben's device certifies a new device as Ana's.
    let c = couple();
    let mut records = roots(&c);
    let intruder = Device::new(21);
    records.push(stored(&c.ben.cert(c.a, &intruder, "ana-phone"), change(2)));
    // And the intruder then certifies a device of its own for Ana.
    let second = Device::new(22);
    records.push(stored(&intruder.cert(c.a, &second, "ana-tab"), change(3)));
    let v = view(&records);
    for d in [&intruder, &second] {
        assert_eq!(v.status(&c.a, &d.key), DeviceStatus::Unknown);
        assert_eq!(v.status(&c.b, &d.key), DeviceStatus::Unknown);
        assert_eq!(v.ever_certified(&d.key), None);
    }
    assert_eq!(v.counts.certs_ignored, 2);
}

#[test]
fn a_device_certified_for_two_partners_is_ignored() {
    let c = couple();
    let shared = Device::new(21);
    let child = Device::new(22);
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &shared, "one"), change(2)));
    records.push(stored(&c.ben.cert(c.b, &shared, "two"), change(2)));
    records.push(stored(&shared.cert(c.a, &child, "child"), change(3)));
    let v = view(&records);
    assert_eq!(v.status(&c.a, &shared.key), DeviceStatus::Unknown);
    assert_eq!(v.status(&c.b, &shared.key), DeviceStatus::Unknown);
    assert_eq!(v.ever_certified(&shared.key), None);
    // What only it vouched for goes with it.
    assert_eq!(v.status(&c.a, &child.key), DeviceStatus::Unknown);
    assert_eq!(v.counts.two_partners, 1);
    // Everyone else is untouched.
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Mine);
}

#[test]
fn removal_is_final() {
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ben.approve(&c.ana2, c.a), change(2)));
    records.push(stored(&c.ana.remove(&c.ana2, &[change(2)]), change(3)));
    let before = view(&records);
    assert_eq!(before.status(&c.a, &c.ana2.key), DeviceStatus::Removed);
    assert_eq!(before.status(&c.b, &c.ana2.key), DeviceStatus::Removed);

    // A later certificate and approval of the removed id change nothing.
    let again = c.ana.sign(
        50,
        Body::Cert(Cert {
            partner: c.a,
            subject: c.ana2.key,
            name: "phone again".into(),
        }),
    );
    records.push(stored(&again, change(4)));
    let reapproval = c.ben.sign(
        50,
        Body::Approve(crate::records::record::Approve {
            subject: c.ana2.key,
            partner: c.a,
        }),
    );
    records.push(stored(&reapproval, change(4)));
    let after = view(&records);
    assert_eq!(after.status(&c.a, &c.ana2.key), DeviceStatus::Removed);
    assert_eq!(after.status(&c.b, &c.ana2.key), DeviceStatus::Removed);
    assert_eq!(after.valid(&c.ana2.key), None);
    // Still certified: what it signed before its removal counts.
    assert_eq!(after.certified(&c.ana2.key), Some(&c.a));
}

#[test]
fn what_a_removed_device_certified_before_its_removal_counts_and_after_does_not() {
    let c = couple();
    let before = Device::new(4);
    let after = Device::new(5);
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ana2.cert(c.a, &before, "old"), change(3)));
    records.push(stored(&c.ana.remove(&c.ana2, &[change(4)]), change(5)));
    records.push(stored(&c.ana2.cert(c.a, &after, "new"), change(6)));
    let v = view(&records);
    assert_eq!(v.status(&c.a, &before.key), DeviceStatus::Mine);
    assert_eq!(v.status(&c.a, &after.key), DeviceStatus::Unknown);
    // E ignores the cut-off; C does not.
    assert_eq!(v.ever_certified(&after.key), Some(&c.a));
    assert_eq!(v.certified(&after.key), None);
    assert_eq!(v.counts.cut_off, 1);
}

#[test]
fn a_record_put_again_inside_the_cut_off_counts() {
    // The same certificate, put by a change after the removal and by one
    // before it: one change inside the cut-off is enough.
    let c = couple();
    let child = Device::new(4);
    let cert = c.ana2.cert(c.a, &child, "kid");
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ana.remove(&c.ana2, &[change(3)]), change(4)));
    records.push(stored(&cert, change(9)));
    assert_eq!(
        view(&records).status(&c.a, &child.key),
        DeviceStatus::Unknown
    );
    records.push(stored(&cert, change(3)));
    assert_eq!(view(&records).status(&c.a, &child.key), DeviceStatus::Mine);
}

#[test]
fn every_removal_of_a_device_limits_its_cut_off() {
    let c = couple();
    let child = Device::new(4);
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ana2.cert(c.a, &child, "kid"), change(5)));
    records.push(stored(&c.ana.remove(&c.ana2, &[change(6)]), change(7)));
    assert_eq!(view(&records).status(&c.a, &child.key), DeviceStatus::Mine);
    // Ben removed it too, having seen less.
    records.push(stored(&c.ben.remove(&c.ana2, &[change(4)]), change(8)));
    assert_eq!(
        view(&records).status(&c.a, &child.key),
        DeviceStatus::Unknown
    );
}

#[test]
fn concurrent_mutual_removals_both_count() {
    let c = couple();
    // 1: roots and Ana's phone; then 2a and 2b apart: Ana's laptop removes
    // Ana's phone while the phone removes the laptop.
    let (base, left, right) = (change(1), change(2), change(3));
    let dag = Dag::default()
        .add(base, &[])
        .add(left, &[base])
        .add(right, &[base]);
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), base));
    records.push(stored(&c.ana.remove(&c.ana2, &[base]), left));
    records.push(stored(&c.ana2.remove(&c.ana, &[base]), right));
    let v = TrustView::compute(&records, &dag);
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.b, &c.ben.key), DeviceStatus::Mine);
}

#[test]
fn approvals_make_a_partners_device_mine_to_trust() {
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ben.approve(&c.ana, c.a), change(2)));
    let v = view(&records);
    assert_eq!(v.status(&c.b, &c.ana.key), DeviceStatus::Partners);
    assert_eq!(v.status(&c.b, &c.ana2.key), DeviceStatus::Pending);
    // Ana approving her own device gives Ben nothing.
    records.push(stored(&c.ana.approve(&c.ana2, c.a), change(3)));
    let v = view(&records);
    assert_eq!(v.status(&c.b, &c.ana2.key), DeviceStatus::Pending);
    assert_eq!(v.counts.approvals_ignored, 1);
    // An approval that names the wrong partner is ignored.
    records.push(stored(&c.ben.approve(&c.ana2, c.b), change(3)));
    let v = view(&records);
    assert_eq!(v.status(&c.b, &c.ana2.key), DeviceStatus::Pending);
    assert_eq!(v.counts.approvals_ignored, 2);
    // An approval by an uncertified device is ignored.
    records.push(stored(&Device::new(21).approve(&c.ana2, c.a), change(3)));
    assert_eq!(view(&records).counts.approvals_ignored, 3);
    // Ben's second device approves for Ben too.
    records.push(stored(&c.ben.cert(c.b, &c.ben2, "phone"), change(4)));
    records.push(stored(&c.ben2.approve(&c.ana2, c.a), change(5)));
    let v = view(&records);
    assert_eq!(v.status(&c.b, &c.ana2.key), DeviceStatus::Partners);
    assert_eq!(v.status(&c.a, &c.ben2.key), DeviceStatus::Pending);
}

#[test]
fn an_approval_signed_after_the_approvers_removal_does_not_count() {
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(&c.ben.cert(c.b, &c.ben2, "phone"), change(2)));
    records.push(stored(&c.ben.remove(&c.ben2, &[change(2)]), change(3)));
    records.push(stored(&c.ben2.approve(&c.ana, c.a), change(4)));
    let v = view(&records);
    assert_eq!(v.status(&c.b, &c.ana.key), DeviceStatus::Pending);
    assert_eq!(v.counts.cut_off, 1);
}

#[test]
fn bens_device_cannot_re_trust_a_device_ana_removed() {
    // Issue 9.3: Ana removed Ben's phone; a device Ben added re-certifies
    // and re-approves it, and the phone certifies a new device.
    let c = couple();
    let laptop = Device::new(13);
    let fresh = Device::new(14);
    let mut records = roots(&c);
    records.push(stored(&c.ben.cert(c.b, &c.ben2, "phone"), change(2)));
    records.push(stored(&c.ben.cert(c.b, &laptop, "laptop"), change(2)));
    records.push(stored(&c.ana.approve(&c.ben2, c.b), change(2)));
    records.push(stored(&c.ana.remove(&c.ben2, &[change(2)]), change(3)));
    records.push(stored(
        &laptop.cert(c.b, &c.ben2, "phone (again)"),
        change(4),
    ));
    records.push(stored(&laptop.approve(&c.ben2, c.b), change(4)));
    records.push(stored(&c.ben2.cert(c.b, &fresh, "new"), change(5)));
    let v = view(&records);
    assert_eq!(v.status(&c.a, &c.ben2.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.b, &c.ben2.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.a, &fresh.key), DeviceStatus::Unknown);
    assert_eq!(v.status(&c.b, &fresh.key), DeviceStatus::Unknown);
    assert_eq!(v.status(&c.b, &laptop.key), DeviceStatus::Mine);
}

#[test]
fn a_removal_that_saw_nothing_cuts_off_everything_its_subject_signed() {
    // Even its own root certificate: so its partner's chain goes with it.
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(&c.ana.cert(c.a, &c.ana2, "phone"), change(2)));
    records.push(stored(&c.ben.remove(&c.ana, &[]), change(3)));
    let v = view(&records);
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Unknown);
    assert_eq!(v.certified(&c.ana.key), None);
}

#[test]
fn a_removal_by_an_uncertified_device_does_nothing() {
    let c = couple();
    let mut records = roots(&c);
    records.push(stored(
        &Device::new(21).remove(&c.ana, &[change(1)]),
        change(2),
    ));
    let v = view(&records);
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Mine);
}

#[test]
fn broken_values_are_dropped_and_counted() {
    let c = couple();
    let mut records = roots(&c);
    let phone = c.ana.cert(c.a, &c.ana2, "phone");
    // Under the key of another record.
    let mut moved = stored(&phone, change(2));
    moved.key = c.ana.root_cert("laptop").key().to_hex();
    records.push(moved);
    // A flipped signature bit.
    let mut forged = stored(&c.ben.cert(c.b, &c.ben2, "phone"), change(2));
    forged.value[3] ^= 0x10;
    records.push(forged);
    // Garbage under its own hash, a value that is not Bytes, and a future
    // kind.
    let garbage = vec![0u8; 100];
    records.push(StoredRecord {
        key: RecordKey::of_body(&garbage[64..]).to_hex(),
        value: garbage,
        put_by: change(2),
    });
    records.push(StoredRecord {
        key: "11".repeat(16),
        value: Vec::new(),
        put_by: change(2),
    });
    let mut future = vec![0u8; 64];
    future.extend_from_slice(b"hearth/v9/wish\0later");
    records.push(StoredRecord {
        key: RecordKey::of_body(&future[64..]).to_hex(),
        value: future,
        put_by: change(2),
    });
    let v = view(&records);
    assert_eq!(
        v.counts,
        TrustCounts {
            key_mismatch: 1,
            malformed: 2,
            bad_signature: 1,
            unknown_tag: 1,
            ..TrustCounts::default()
        }
    );
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Unknown);
    assert_eq!(v.status(&c.b, &c.ben2.key), DeviceStatus::Unknown);
    assert_eq!(v.records().count(), 2);
}

#[test]
fn trust_over_a_real_automerge_document() {
    use crate::records::couple::{RECORDS_KEY, stored_records};
    use crate::records::history::DocHistory;
    use automerge::transaction::Transactable;
    use automerge::{ActorId, Automerge, ObjType, ROOT, ScalarValue};

    let c = couple();
    let mut doc = Automerge::new().with_actor(ActorId::from(c.ana.key.0.as_slice()));
    // Each record in its own change; the first also makes the map.
    fn put(doc: &mut Automerge, r: &SignedRecord) -> ChangeHash {
        let existing = automerge::ReadDoc::get(doc, ROOT, RECORDS_KEY)
            .unwrap()
            .map(|(_, id)| id);
        let mut tx = doc.transaction();
        let records = match existing {
            Some(id) => id,
            None => tx.put_object(ROOT, RECORDS_KEY, ObjType::Map).unwrap(),
        };
        tx.put(&records, r.key().to_hex(), ScalarValue::Bytes(r.to_bytes()))
            .unwrap();
        tx.commit().0.unwrap()
    }
    let before = Device::new(4);
    let after = Device::new(5);
    put(&mut doc, &c.ana.root_cert("laptop"));
    put(&mut doc, &c.ana.cert(c.a, &c.ana2, "phone"));
    put(&mut doc, &c.ana2.cert(c.a, &before, "old"));
    // The phone, offline, keeps writing while the laptop removes it.
    let mut phone = doc
        .fork()
        .with_actor(ActorId::from(c.ana2.key.0.as_slice()));
    let seen = doc.get_heads();
    put(&mut doc, &c.ana.remove(&c.ana2, &seen));
    put(&mut phone, &c.ana2.cert(c.a, &after, "new"));
    doc.merge(&mut phone).unwrap();

    let v = TrustView::compute(&stored_records(&doc), &DocHistory::new(&doc));
    assert_eq!(v.status(&c.a, &c.ana.key), DeviceStatus::Mine);
    assert_eq!(v.status(&c.a, &c.ana2.key), DeviceStatus::Removed);
    assert_eq!(v.status(&c.a, &before.key), DeviceStatus::Mine);
    assert_eq!(v.status(&c.a, &after.key), DeviceStatus::Unknown);
    assert_eq!(v.counts.cut_off, 1);
}

/// One record of the property test: which devices, among seeds 1-6, sign
/// what, and the change (1-8, a line) that puts it.
#[derive(Debug, Clone)]
enum Op {
    Root(u8),
    Cert { by: u8, root: u8, subject: u8 },
    Approve { by: u8, root: u8, subject: u8 },
    Remove { by: u8, subject: u8, seen: u8 },
}

fn op() -> impl Strategy<Value = (Op, u8)> {
    let d = || 1u8..=6;
    let op = prop_oneof![
        d().prop_map(Op::Root),
        (d(), d(), d()).prop_map(|(by, root, subject)| Op::Cert { by, root, subject }),
        (d(), d(), d()).prop_map(|(by, root, subject)| Op::Approve { by, root, subject }),
        (d(), d(), 0u8..=8).prop_map(|(by, subject, seen)| Op::Remove { by, subject, seen }),
    ];
    (op, 1u8..=8)
}

fn build(ops: &[(Op, u8)]) -> Vec<StoredRecord> {
    let dev = Device::new;
    let partner = |root: u8| dev(root).root_partner();
    ops.iter()
        .map(|(op, put_by)| {
            let signed = match *op {
                Op::Root(d) => dev(d).root_cert("root"),
                Op::Cert { by, root, subject } => dev(by).cert(partner(root), &dev(subject), "d"),
                Op::Approve { by, root, subject } => dev(by).approve(&dev(subject), partner(root)),
                Op::Remove { by, subject, seen } => {
                    let seen: Vec<_> = (seen > 0).then(|| change(seen)).into_iter().collect();
                    dev(by).remove(&dev(subject), &seen)
                }
            };
            stored(&signed, change(*put_by))
        })
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn trust_does_not_depend_on_record_order(
        (ops, shuffled) in prop::collection::vec(op(), 0..24)
            .prop_flat_map(|ops| (Just(ops.clone()), Just(ops).prop_shuffle()))
    ) {
        let a = view(&build(&ops));
        let b = view(&build(&shuffled));
        prop_assert_eq!(a, b);
    }
}
