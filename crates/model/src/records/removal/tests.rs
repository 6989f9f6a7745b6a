use std::collections::BTreeSet;

use super::*;
use crate::records::record::{Name, NameSubject, Remove};
use crate::records::testkit::{Device, change, linear, stored};

/// 1 Dec 2026, 10:00 UTC.
const DEC1: i64 = 1_796_119_200_000;

struct Couple {
    ana: Device,
    ben: Device,
    tablet: Device,
}

fn couple() -> Couple {
    Couple {
        ana: Device::new(1),
        ben: Device::new(11),
        tablet: Device::new(12),
    }
}

fn remove(by: &Device, subject: &Device, at: i64) -> SignedRecord {
    by.sign(
        at,
        Body::Remove(Remove {
            subject: subject.key,
            seen: BTreeSet::new(),
        }),
    )
}

/// The couple as `records` make it: Ana and Ben named, the tablet Ben's,
/// and `extra` on top.
fn view(c: &Couple, extra: &[SignedRecord]) -> TrustView {
    let (a, b) = (c.ana.root_partner(), c.ben.root_partner());
    let mut records = vec![
        stored(&c.ana.root_cert("laptop"), change(1)),
        stored(
            &c.ana.sign(
                1,
                Body::Name(Name {
                    subject: NameSubject::Partner(a),
                    name: "Ana".into(),
                }),
            ),
            change(1),
        ),
        stored(&c.ben.root_cert("phone"), change(1)),
        stored(&c.ben.cert(b, &c.tablet, "tablet"), change(1)),
        stored(&c.ana.approve(&c.ben, b), change(1)),
        stored(&c.ben.approve(&c.ana, a), change(1)),
    ];
    records.extend(extra.iter().map(|r| stored(r, change(2))));
    TrustView::compute(&records, &linear)
}

#[test]
fn a_removed_device_believes_a_proof_signed_by_a_device_it_knows() {
    let c = couple();
    let removal = remove(&c.ana, &c.tablet, DEC1);
    // Ana's laptop holds the removal, and builds the proof from it.
    let at_ana = view(&c, std::slice::from_ref(&removal));
    let proof = proof_for(&at_ana, &c.tablet.key);
    assert!(!proof.is_empty());
    // The tablet does not hold it yet, and checks it against its own view.
    let at_tablet = view(&c, &[]);
    let got = check_proof(&at_tablet, &c.tablet.key, &proof).unwrap();
    assert_eq!(
        got.sentence(),
        "this device was removed by Ana on 1 Dec 2026; it no longer syncs"
    );
    // The proof is of the tablet only: Ben's phone finds nothing in it.
    assert_eq!(check_proof(&at_tablet, &c.ben.key, &proof), None);
}

#[test]
fn a_made_up_or_damaged_proof_is_ignored() {
    let c = couple();
    let at_tablet = view(&c, &[]);
    // Signed by a device the couple never certified.
    let stranger = Device::new(40);
    let forged = view(&c, &[remove(&stranger, &c.tablet, DEC1)]);
    let mut proof = Vec::new();
    let bytes = remove(&stranger, &c.tablet, DEC1).to_bytes();
    proof.extend_from_slice(&(bytes.len() as u32).to_be_bytes());
    proof.extend_from_slice(&bytes);
    assert_eq!(check_proof(&at_tablet, &c.tablet.key, &proof), None);
    // A stranger's record does not count here either, so no proof is made.
    assert!(proof_for(&forged, &c.tablet.key).is_empty());
    // One flipped byte breaks the signature.
    let real = proof_for(&view(&c, &[remove(&c.ana, &c.tablet, DEC1)]), &c.tablet.key);
    let mut flipped = real.clone();
    let last = flipped.len() - 1;
    flipped[last] ^= 1;
    assert_eq!(check_proof(&at_tablet, &c.tablet.key, &flipped), None);
    // Truncated, empty or oversized: nothing, and no panic.
    assert_eq!(
        check_proof(&at_tablet, &c.tablet.key, &real[..real.len() / 2]),
        None
    );
    assert_eq!(check_proof(&at_tablet, &c.tablet.key, &[]), None);
    assert_eq!(
        check_proof(&at_tablet, &c.tablet.key, &vec![0xff; MAX_PROOF + 1]),
        None
    );
    assert!(check_proof(&at_tablet, &c.tablet.key, &real).is_some());
}
