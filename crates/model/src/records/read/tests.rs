use std::collections::BTreeMap;

use super::*;
use crate::records::couple::StoredRecord;
use crate::records::record::{
    Cert, Name, NameSubject, PromptRecord, Resolve, RitualRecord, Setting, SignedRecord,
};
use crate::records::testkit::{Device, change, linear, stored};

struct Couple {
    ana: Device,
    ana2: Device,
    ben: Device,
    a: PartnerCode,
    b: PartnerCode,
    records: Vec<StoredRecord>,
}

/// Ana (laptop and phone) and Ben (desk), in change 1.
fn couple() -> Couple {
    let ana = Device::new(1);
    let ana2 = Device::new(2);
    let ben = Device::new(11);
    let (a, b) = (ana.root_partner(), ben.root_partner());
    let records = vec![
        stored(&ana.root_cert("laptop"), change(1)),
        stored(&ana.cert(a, &ana2, "phone"), change(1)),
        stored(&ben.root_cert("desk"), change(1)),
    ];
    Couple {
        ana,
        ana2,
        ben,
        a,
        b,
        records,
    }
}

impl Couple {
    fn put(&mut self, r: SignedRecord, n: u8) -> RecordKey {
        self.records.push(stored(&r, change(n)));
        r.key()
    }

    fn view(&self) -> TrustView {
        TrustView::compute(&self.records, &linear)
    }
}

fn partner_name(p: PartnerCode, name: &str) -> Body {
    Body::Name(Name {
        subject: NameSubject::Partner(p),
        name: name.into(),
    })
}

fn device_name(d: &Device, name: &str) -> Body {
    Body::Name(Name {
        subject: NameSubject::Device(d.key),
        name: name.into(),
    })
}

fn pairs(fields: &[(&str, &str)]) -> BTreeMap<String, String> {
    fields
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect()
}

fn ritual(id: Option<RecordKey>, fields: &[(&str, &str)]) -> Body {
    Body::Ritual(RitualRecord {
        ritual: id,
        fields: pairs(fields),
    })
}

#[test]
fn the_latest_partner_name_wins_and_only_the_partner_names_itself() {
    let mut c = couple();
    c.put(c.ana.sign(10, partner_name(c.a, "Ana")), 2);
    c.put(c.ana2.sign(30, partner_name(c.a, "Anna")), 2);
    c.put(c.ana.sign(20, partner_name(c.a, "A.")), 2);
    // Ben renames Ana, later than all of hers: skipped.
    c.put(c.ben.sign(99, partner_name(c.a, "Nope")), 2);
    let names = partner_names(&c.view());
    assert_eq!(names.value.get(&c.a).map(String::as_str), Some("Anna"));
    assert_eq!(names.value.get(&c.b), None);
    assert_eq!(names.skipped, 1);
}

#[test]
fn equal_times_fall_to_the_greater_key() {
    let mut c = couple();
    let k1 = c.put(c.ana.sign(10, partner_name(c.a, "One")), 2);
    let k2 = c.put(c.ana.sign(10, partner_name(c.a, "Two")), 2);
    let want = if k1 > k2 { "One" } else { "Two" };
    let names = partner_names(&c.view());
    assert_eq!(names.value.get(&c.a).map(String::as_str), Some(want));
}

#[test]
fn device_names_fall_back_to_the_certificate() {
    let mut c = couple();
    let names = device_names(&c.view()).value;
    assert_eq!(names.get(&c.ana2.key).map(String::as_str), Some("phone"));
    assert_eq!(names.get(&c.ben.key).map(String::as_str), Some("desk"));
    // The device itself, or another of Ana's, may rename it; Ben may not.
    c.put(c.ana2.sign(10, device_name(&c.ana2, "pocket")), 2);
    c.put(c.ben.sign(20, device_name(&c.ana2, "spy")), 2);
    let read = device_names(&c.view());
    assert_eq!(
        read.value.get(&c.ana2.key).map(String::as_str),
        Some("pocket")
    );
    assert_eq!(read.skipped, 1);
    c.put(c.ana.sign(30, device_name(&c.ana2, "old phone")), 2);
    let names = device_names(&c.view()).value;
    assert_eq!(
        names.get(&c.ana2.key).map(String::as_str),
        Some("old phone")
    );
}

#[test]
fn a_name_signed_after_the_signers_removal_is_not_read() {
    let mut c = couple();
    c.put(c.ana2.sign(10, partner_name(c.a, "Ana")), 2);
    c.put(c.ana.remove(&c.ana2, &[change(2)]), 3);
    c.put(c.ana2.sign(20, partner_name(c.a, "Stolen")), 4);
    let names = partner_names(&c.view()).value;
    assert_eq!(names.get(&c.a).map(String::as_str), Some("Ana"));
}

#[test]
fn the_latest_setting_wins_and_a_bad_one_means_the_default() {
    let mut c = couple();
    let hour = |v: &str| {
        Body::Setting(Setting {
            key: DAY_START_HOUR.into(),
            value: v.into(),
        })
    };
    assert_eq!(settings(&c.view()).value.day_start_hour, None);
    c.put(c.ana.sign(10, hour("4")), 2);
    c.put(c.ben.sign(20, hour("6")), 2);
    assert_eq!(settings(&c.view()).value.day_start_hour, Some(6));
    // An unknown key changes nothing.
    c.put(
        c.ben.sign(
            40,
            Body::Setting(Setting {
                key: "colour".into(),
                value: "teal".into(),
            }),
        ),
        2,
    );
    assert_eq!(settings(&c.view()).value.day_start_hour, Some(6));
    // A later value that does not parse is the default, not the older 6.
    c.put(c.ana.sign(30, hour("24")), 2);
    assert_eq!(settings(&c.view()).value.day_start_hour, None);
    for bad in ["", "-1", "+5", "05", " 5", "5 ", "100"] {
        assert_eq!(parse_hour(bad), None, "{bad:?}");
    }
    assert_eq!(parse_hour("0"), Some(0));
    assert_eq!(parse_hour("23"), Some(23));
}

#[test]
fn a_partners_ritual_changed_by_the_other_partner_is_skipped() {
    let mut c = couple();
    let owner = format!("partner:{}", c.a);
    let id = c.put(
        c.ana.sign(
            10,
            ritual(
                None,
                &[("name", "Run"), ("cadence", "daily"), ("owner", &owner)],
            ),
        ),
        2,
    );
    c.put(c.ben.sign(20, ritual(Some(id), &[("name", "Nap")])), 3);
    c.put(c.ben.sign(21, ritual(Some(id), &[("owner", "both")])), 3);
    c.put(
        c.ana2
            .sign(30, ritual(Some(id), &[("cadence", "weekly:mon")])),
        3,
    );
    let read = rituals(&c.view());
    assert_eq!(read.skipped, 2);
    let [r] = read.value.as_slice() else {
        panic!("one ritual: {:?}", read.value)
    };
    assert_eq!(r.id, id);
    assert_eq!(r.author, c.a);
    assert_eq!(r.created, 10);
    assert_eq!(r.name, "Run");
    assert_eq!(r.cadence, "weekly:mon".parse().unwrap());
    assert_eq!(r.owner, RitualOwner::Partner(c.a));
}

#[test]
fn a_backdated_change_meets_the_owner_of_its_time() {
    // Ben cannot get in first: the creating record comes first whatever
    // its `at`, and his change, dated before it, still meets Ana's owner.
    let mut c = couple();
    let owner = format!("partner:{}", c.a);
    let id = c.put(
        c.ana.sign(
            100,
            ritual(
                None,
                &[("name", "Run"), ("cadence", "daily"), ("owner", &owner)],
            ),
        ),
        2,
    );
    c.put(
        c.ben
            .sign(1, ritual(Some(id), &[("owner", "both"), ("name", "Nap")])),
        3,
    );
    let read = rituals(&c.view());
    assert_eq!(read.value[0].name, "Run");
    assert_eq!(read.value[0].owner, RitualOwner::Partner(c.a));
    assert_eq!(read.skipped, 1);
}

#[test]
fn shared_rituals_take_changes_of_different_fields_from_both() {
    let mut c = couple();
    let id = c.put(
        c.ana.sign(
            10,
            ritual(
                None,
                &[
                    ("name", "Walk"),
                    ("cadence", "daily"),
                    ("owner", "together"),
                    ("fulfilled_by", "checkin"),
                    ("kind", "custom"),
                ],
            ),
        ),
        2,
    );
    c.put(
        c.ben.sign(20, ritual(Some(id), &[("name", "Long walk")])),
        3,
    );
    c.put(c.ana.sign(21, ritual(Some(id), &[("fulfilled_by", "")])), 3);
    c.put(c.ben.sign(22, ritual(Some(id), &[("archived", "1")])), 3);
    let read = rituals(&c.view());
    assert_eq!(read.skipped, 0);
    let r = &read.value[0];
    assert_eq!(r.name, "Long walk");
    assert_eq!(r.fulfilled_by, None);
    assert_eq!(r.kind, "custom");
    assert!(r.archived);
    // Changes apply in order of `at`: an older name change loses.
    c.put(c.ana.sign(15, ritual(Some(id), &[("name", "Stroll")])), 4);
    assert_eq!(rituals(&c.view()).value[0].name, "Long walk");
    // Once Ana makes it hers, Ben's later changes are skipped.
    let mine = format!("partner:{}", c.a);
    c.put(c.ana.sign(30, ritual(Some(id), &[("owner", &mine)])), 4);
    c.put(c.ben.sign(40, ritual(Some(id), &[("name", "Mine now")])), 4);
    let read = rituals(&c.view());
    assert_eq!(read.value[0].name, "Long walk");
    assert_eq!(read.skipped, 1);
}

#[test]
fn broken_or_orphaned_ritual_records_are_skipped() {
    let mut c = couple();
    // No owner: not a ritual.
    c.put(
        c.ana
            .sign(10, ritual(None, &[("name", "Run"), ("cadence", "daily")])),
        2,
    );
    // A cadence that does not parse.
    c.put(
        c.ana.sign(
            11,
            ritual(
                None,
                &[("name", "Run"), ("cadence", "hourly"), ("owner", "both")],
            ),
        ),
        2,
    );
    // A change of a ritual nobody created.
    c.put(
        c.ana
            .sign(12, ritual(Some(RecordKey([7; 16])), &[("name", "Ghost")])),
        2,
    );
    // A good one, and an unknown field that is ignored.
    c.put(
        c.ana.sign(
            13,
            ritual(
                None,
                &[
                    ("name", "Run"),
                    ("cadence", "daily"),
                    ("owner", "both"),
                    ("colour", "teal"),
                ],
            ),
        ),
        2,
    );
    let read = rituals(&c.view());
    assert_eq!(read.value.len(), 1);
    assert_eq!(read.skipped, 3);
}

#[test]
fn prompts_never_change() {
    let mut c = couple();
    let prompt = |theme: &str, text: &str| {
        Body::Prompt(PromptRecord {
            theme: theme.into(),
            text: text.into(),
        })
    };
    let first = c.put(c.ana.sign(10, prompt("dreams", "Where in ten years?")), 2);
    // A second record cannot replace the first, even dated before it: it
    // is another prompt with another id.
    let second = c.put(c.ben.sign(5, prompt("dreams", "Where in five?")), 3);
    c.put(c.ana.sign(11, prompt("weather", "Rain?")), 3);
    c.put(c.ana.sign(12, prompt("day", " padded ")), 3);
    c.put(c.ana.sign(13, prompt("Day", "Case?")), 3);
    let read = prompts(&c.view());
    assert_eq!(read.skipped, 3);
    let found: Vec<(&str, &str, PartnerCode)> = read
        .value
        .iter()
        .map(|p| (p.id.as_str(), p.text.as_str(), p.author))
        .collect();
    assert_eq!(
        found,
        vec![
            (prompt_id(&second).as_str(), "Where in five?", c.b),
            (prompt_id(&first).as_str(), "Where in ten years?", c.a),
        ]
    );
    assert!(read.value[0].id.starts_with("c-"));
    assert_eq!(read.value[0].id.len(), 34);
}

#[test]
fn resolve_counts_only_for_repairs_with_agreements() {
    let mut c = couple();
    let doc = format!("p/{}/2026", c.a);
    let resolve = |entry: &str, resolved: bool| {
        Body::Resolve(Resolve {
            doc: doc.clone(),
            entry: entry.into(),
            resolved,
        })
    };
    let repair = "01jh0000000000000000000000";
    let note = "01jh0000000000000000000001";
    c.put(c.ana.sign(10, resolve(repair, true)), 2);
    c.put(c.ben.sign(20, resolve(repair, false)), 2);
    c.put(c.ana.sign(30, resolve(repair, true)), 2);
    c.put(c.ana.sign(10, resolve(note, true)), 2);
    let read = resolved(&c.view(), |d, e| d == doc && e == repair);
    assert_eq!(read.skipped, 1);
    assert_eq!(read.value.len(), 1);
    assert_eq!(
        read.value.get(&(doc.clone(), repair.to_string())),
        Some(&true)
    );
    // Ben reopens it later.
    c.put(c.ben.sign(40, resolve(repair, false)), 3);
    let read = resolved(&c.view(), |d, e| d == doc && e == repair);
    assert_eq!(
        read.value.get(&(doc.clone(), repair.to_string())),
        Some(&false)
    );
}

#[test]
fn records_of_uncertified_signers_are_skipped() {
    let mut c = couple();
    let stranger = Device::new(21);
    c.put(stranger.sign(10, partner_name(c.a, "X")), 2);
    c.put(
        stranger.sign(
            10,
            Body::Cert(Cert {
                partner: c.a,
                subject: stranger.key,
                name: "me".into(),
            }),
        ),
        2,
    );
    c.put(
        stranger.sign(
            10,
            ritual(
                None,
                &[("name", "Run"), ("cadence", "daily"), ("owner", "both")],
            ),
        ),
        2,
    );
    let v = c.view();
    assert_eq!(partner_names(&v).skipped, 1);
    assert!(!device_names(&v).value.contains_key(&stranger.key));
    assert_eq!(rituals(&v).skipped, 1);
    assert!(rituals(&v).value.is_empty());
}
