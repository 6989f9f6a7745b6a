use automerge::ActorId;

use super::*;
use crate::records::exchange::genesis_of;
use crate::records::manifest::DocId;
use crate::records::read::{RitualOwner, prompts, resolved, rituals, settings};
use crate::records::testkit::Device;
use crate::records::trust::DeviceStatus;

/// A device's own copy of the couple document, writing as itself.
fn copy(couple: &Automerge, d: &Device) -> Automerge {
    couple.fork().with_actor(ActorId::from(d.key.0.as_slice()))
}

fn signer(d: &Device, clock_ms: i64) -> Signer<'_> {
    Signer {
        key: &d.signing,
        clock_ms,
    }
}

/// Ana and Ben, each a root, paired both ways, in one document.
fn couple() -> (Device, Device, Automerge) {
    let (ana, ben) = (Device::new(1), Device::new(11));
    let mut doc = copy(&genesis_of(&DocId::Couple), &ana);
    found_partner(&mut doc, &signer(&ana, 10), "laptop", "Ana").unwrap();
    let mut b = copy(&doc, &ben);
    found_partner(&mut b, &signer(&ben, 10), "desk", "Ben").unwrap();
    doc.merge(&mut b).unwrap();
    approve(&mut doc, &signer(&ana, 20), ben.key, ben.root_partner()).unwrap();
    approve(&mut doc, &signer(&ben, 20), ana.key, ana.root_partner()).unwrap();
    (ana, ben, doc)
}

#[test]
fn founding_partners_and_pairing_make_each_the_others_approved_device() {
    let (ana, ben, doc) = couple();
    let trust = trust_of(&doc);
    let (a, b) = (ana.root_partner(), ben.root_partner());
    assert_eq!(trust.status(&a, &ana.key), DeviceStatus::Mine);
    assert_eq!(trust.status(&a, &ben.key), DeviceStatus::Partners);
    assert_eq!(trust.status(&b, &ana.key), DeviceStatus::Partners);
    let names = partner_names(&trust).value;
    assert_eq!(names[&a], "Ana");
    assert_eq!(names[&b], "Ben");
    assert_eq!(
        trust.counts,
        Default::default(),
        "nothing skipped or dropped"
    );
}

#[test]
fn a_new_device_is_pending_for_the_other_partner_until_approved() {
    let (ana, ben, mut doc) = couple();
    let phone = Device::new(2);
    let a = ana.root_partner();
    certify(&mut doc, &signer(&ana, 30), a, phone.key, "phone").unwrap();
    let trust = trust_of(&doc);
    assert_eq!(trust.status(&a, &phone.key), DeviceStatus::Mine);
    assert_eq!(
        trust.status(&ben.root_partner(), &phone.key),
        DeviceStatus::Pending
    );
    approve(&mut doc, &signer(&ben, 31), phone.key, a).unwrap();
    assert_eq!(
        trust_of(&doc).status(&ben.root_partner(), &phone.key),
        DeviceStatus::Partners
    );
    // Removal is final, and a device cannot remove itself.
    remove(&mut doc, &signer(&ben, 40), phone.key).unwrap();
    assert_eq!(trust_of(&doc).status(&a, &phone.key), DeviceStatus::Removed);
    certify(&mut doc, &signer(&ana, 50), a, phone.key, "phone again").unwrap();
    assert_eq!(trust_of(&doc).status(&a, &phone.key), DeviceStatus::Removed);
    assert!(matches!(
        remove(&mut doc, &signer(&ana, 60), ana.key),
        Err(WriteError::RemoveSelf)
    ));
}

#[test]
fn a_rename_wins_over_what_its_writer_saw_even_with_a_clock_behind_and_never_takes_the_partners_name()
 {
    let (ana, ben, mut doc) = couple();
    let a = ana.root_partner();
    // Ana's clock runs behind the name she already has.
    name_partner(&mut doc, &signer(&ana, 5), a, "Anna").unwrap();
    assert_eq!(partner_names(&trust_of(&doc)).value[&a], "Anna");
    for taken in ["Ben", "ben", "BEN"] {
        assert!(matches!(
            name_partner(&mut doc, &signer(&ana, 70), a, taken),
            Err(WriteError::PartnersName(_))
        ));
    }
    // Ben cannot rename Ana: his record is skipped on read.
    name_partner(&mut doc, &signer(&ben, 80), a, "Someone").unwrap();
    let read = partner_names(&trust_of(&doc));
    assert_eq!(read.value[&a], "Anna");
    assert_eq!(read.skipped, 1);
}

#[test]
fn settings_rituals_prompts_and_settled_repairs_read_back() {
    let (ana, ben, mut doc) = couple();
    set_day_start(&mut doc, &signer(&ana, 100), 4).unwrap();
    assert!(matches!(
        set_day_start(&mut doc, &signer(&ana, 100), 24),
        Err(WriteError::Hour(24))
    ));
    assert_eq!(settings(&trust_of(&doc)).value.day_start_hour, Some(4));

    let fields = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let owner = format!("partner:{}", ana.root_partner());
    let id = add_ritual(
        &mut doc,
        &signer(&ana, 110),
        fields(&[
            ("name", "Sunday walk"),
            ("cadence", "weekly:sun"),
            ("owner", &owner),
        ]),
    )
    .unwrap();
    change_ritual(
        &mut doc,
        &signer(&ana, 120),
        id,
        fields(&[("name", "Sunday stroll")]),
    )
    .unwrap();
    // Not Ben's to change.
    change_ritual(
        &mut doc,
        &signer(&ben, 130),
        id,
        fields(&[("name", "Ben's")]),
    )
    .unwrap();
    let read = rituals(&trust_of(&doc));
    assert_eq!(read.value.len(), 1);
    assert_eq!(read.value[0].name, "Sunday stroll");
    assert_eq!(
        read.value[0].owner,
        RitualOwner::Partner(ana.root_partner())
    );
    assert_eq!(read.skipped, 1);

    let pid = add_prompt(
        &mut doc,
        &signer(&ben, 140),
        "dreams",
        "Where would you live for a year?",
    )
    .unwrap();
    let ps = prompts(&trust_of(&doc)).value;
    assert_eq!(ps.len(), 1);
    assert_eq!(ps[0].id, pid);
    assert_eq!(ps[0].author, ben.root_partner());

    let pdoc = PartnerDoc {
        kind: DocKind::Partner,
        partner: ana.root_partner(),
        year: 2026,
    };
    let entry = EntryId::from_parts(1_796_600_000_000, 1);
    resolve(&mut doc, &signer(&ben, 150), &pdoc, &entry, true).unwrap();
    let got = resolved(&trust_of(&doc), |_, _| true).value;
    assert_eq!(got.get(&(pdoc.to_string(), entry.key())), Some(&true));
    let private = PartnerDoc {
        kind: DocKind::Private,
        ..pdoc
    };
    assert!(matches!(
        resolve(&mut doc, &signer(&ana, 160), &private, &entry, true),
        Err(WriteError::NotShared(_))
    ));
}
