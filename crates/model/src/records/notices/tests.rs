use super::*;
use crate::records::couple::StoredRecord;
use crate::records::record::{Approve, Cert, Name, NameSubject, Remove, SignedRecord};
use crate::records::testkit::{Device, change, linear, stored};

/// 1 Dec 2026, 10:00 UTC, and a day later.
const DEC1: i64 = 1_796_119_200_000;
const DEC2: i64 = DEC1 + 86_400_000;

fn name(p: crate::records::ids::PartnerCode, n: &str) -> Body {
    Body::Name(Name {
        subject: NameSubject::Partner(p),
        name: n.into(),
    })
}

fn cert(
    by: &Device,
    at: i64,
    partner: crate::records::ids::PartnerCode,
    d: &Device,
    n: &str,
) -> SignedRecord {
    by.sign(
        at,
        Body::Cert(Cert {
            partner,
            subject: d.key,
            name: n.into(),
        }),
    )
}

/// Ana (laptop) founded in change 1, Ben (phone) in change 2, and they
/// paired in change 3: names and mutual approvals.
fn couple(ana: &Device, ben: &Device) -> Vec<StoredRecord> {
    let (a, b) = (ana.root_partner(), ben.root_partner());
    vec![
        stored(&cert(ana, DEC1 - 10, a, ana, "laptop"), change(1)),
        stored(&ana.sign(DEC1 - 9, name(a, "Ana")), change(1)),
        stored(&cert(ben, DEC1 - 5, b, ben, "phone"), change(2)),
        stored(&ben.sign(DEC1 - 4, name(b, "Ben")), change(2)),
        stored(
            &ana.sign(
                DEC1,
                Body::Approve(Approve {
                    subject: ben.key,
                    partner: b,
                }),
            ),
            change(3),
        ),
        stored(
            &ben.sign(
                DEC1,
                Body::Approve(Approve {
                    subject: ana.key,
                    partner: a,
                }),
            ),
            change(3),
        ),
    ]
}

fn texts(records: &[StoredRecord], me: &Device) -> Vec<String> {
    device_notices(&TrustView::compute(records, &linear), &me.key, &linear)
        .into_iter()
        .map(|n| n.text)
        .collect()
}

#[test]
fn a_new_device_of_one_partner_is_news_to_the_other_with_how_to_approve_it() {
    let (ana, ben, tablet) = (Device::new(1), Device::new(11), Device::new(12));
    let mut records = couple(&ana, &ben);
    records.push(stored(
        &cert(&ben, DEC2, ben.root_partner(), &tablet, "tablet"),
        change(4),
    ));
    assert_eq!(
        texts(&records, &ana),
        [
            "Ben approved this device on 1 Dec 2026",
            "Ben added a device 'tablet' on 2 Dec 2026; approve it with `hearth peers approve tablet`",
        ]
    );
    // Ben added it himself: his phone is not told; Ana's approval came
    // after he joined, so that is news to him.
    assert_eq!(
        texts(&records, &ben),
        ["Ana approved this device on 1 Dec 2026"]
    );
    // Once Ana approves it, her notice no longer asks her to.
    records.push(stored(
        &ana.sign(
            DEC2 + 1,
            Body::Approve(Approve {
                subject: tablet.key,
                partner: ben.root_partner(),
            }),
        ),
        change(5),
    ));
    let at_ana = texts(&records, &ana);
    assert_eq!(at_ana[1], "Ben added a device 'tablet' on 2 Dec 2026");
    // The tablet joined in change 4: what came before is not news to it,
    // whatever the clocks said.
    assert_eq!(
        texts(&records, &tablet),
        ["Ana approved this device on 2 Dec 2026"]
    );
}

#[test]
fn a_removal_is_news_to_every_other_device_and_keys_stay_put() {
    let (ana, ben, tablet) = (Device::new(1), Device::new(11), Device::new(12));
    let mut records = couple(&ana, &ben);
    records.push(stored(
        &cert(&ben, DEC2, ben.root_partner(), &tablet, "tablet"),
        change(4),
    ));
    records.push(stored(
        &ana.sign(
            DEC2 + 5,
            Body::Remove(Remove {
                subject: tablet.key,
                seen: [change(2)].into(),
            }),
        ),
        change(3),
    ));
    let at_ben = device_notices(&TrustView::compute(&records, &linear), &ben.key, &linear);
    let last = at_ben.last().unwrap();
    assert_eq!(last.text, "Ana removed 'tablet' on 2 Dec 2026");
    // The same record gives the same key on every read: "seen" holds.
    let again = device_notices(&TrustView::compute(&records, &linear), &ben.key, &linear);
    assert_eq!(again.last().unwrap().key, last.key);
    // Ana removed it herself: not news to her laptop.
    assert!(texts(&records, &ana).iter().all(|t| !t.contains("removed")));
}

#[test]
fn a_device_the_couple_never_certified_is_told_nothing() {
    let (ana, ben, stranger) = (Device::new(1), Device::new(11), Device::new(30));
    assert!(texts(&couple(&ana, &ben), &stranger).is_empty());
}

#[test]
fn what_came_before_a_device_joined_is_not_news_whatever_the_clocks_say() {
    let (ana, ben, tablet) = (Device::new(1), Device::new(11), Device::new(12));
    let mut records = couple(&ana, &ben);
    // Ben's clock runs a day fast: his approval of Ana (change 3) is dated
    // after the tablet's cert (change 4), yet it came first.
    records.push(stored(
        &ben.sign(
            DEC2 + 9,
            Body::Approve(Approve {
                subject: ana.key,
                partner: ana.root_partner(),
            }),
        ),
        change(3),
    ));
    records.push(stored(
        &cert(&ben, DEC2, ben.root_partner(), &tablet, "tablet"),
        change(4),
    ));
    assert!(texts(&records, &tablet).is_empty());
}
