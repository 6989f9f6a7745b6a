use automerge::transaction::Transactable;
use automerge::{ActorId, ROOT, ReadDoc, ScalarValue};

use super::*;
use crate::records::couple::StoredRecord;
use crate::records::genesis::{genesis_hash, partner_genesis};
use crate::records::testkit::{Device, change, linear, stored};

/// Ana's laptop (her root) and phone, Ben's desk (his root), and a device
/// nobody certified.
struct Couple {
    ana: Device,
    ana_phone: Device,
    ben: Device,
    stranger: Device,
    trust: TrustView,
    doc: PartnerDoc,
}

fn couple() -> Couple {
    let ana = Device::new(1);
    let ana_phone = Device::new(2);
    let ben = Device::new(11);
    let records: Vec<StoredRecord> = vec![
        stored(&ana.root_cert("laptop"), change(1)),
        stored(&ben.root_cert("desk"), change(1)),
        stored(
            &ana.cert(ana.root_partner(), &ana_phone, "phone"),
            change(2),
        ),
    ];
    let trust = TrustView::compute(&records, &linear);
    let doc = PartnerDoc {
        kind: DocKind::Partner,
        partner: ana.root_partner(),
        year: 2026,
    };
    Couple {
        ana,
        ana_phone,
        ben,
        stranger: Device::new(21),
        trust,
        doc,
    }
}

impl Couple {
    /// The check on `fork` of Ana's document, against the real document's
    /// `real` heads, with the sender's `announced` heads and `records`.
    fn check(
        &self,
        genesis: &ChangeHash,
        fork: &Automerge,
        real: &[ChangeHash],
        announced: &[ChangeHash],
        records: &[SignedHeads],
    ) -> Result<Verdict, PartnerRefusal> {
        check_partner_changes(
            &self.doc,
            genesis,
            fork,
            real,
            announced,
            records,
            &self.trust,
        )
    }
}

/// Ana's 2026 document as it starts: its genesis, and the genesis hash.
fn genesis(doc: &PartnerDoc) -> (Automerge, ChangeHash) {
    let d = partner_genesis(doc);
    let hash = genesis_hash(&d).unwrap();
    (d, hash)
}

/// One write to `doc`, made by `device`.
fn write(doc: &mut Automerge, device: &Device, key: &str) {
    let mut d = doc
        .fork()
        .with_actor(ActorId::from(device.key.0.as_slice()));
    let entries = d.get(ROOT, "entries").unwrap().unwrap().1;
    let mut tx = d.transaction();
    tx.put(&entries, key, "words").unwrap();
    tx.commit();
    doc.merge(&mut d).unwrap();
}

fn signed(device: &Device, counter: u64, doc: PartnerDoc, heads: &[ChangeHash]) -> SignedHeads {
    HeadsRecord {
        signer: device.key,
        counter,
        doc,
        heads: heads.iter().copied().collect(),
    }
    .sign(&device.signing)
    .unwrap()
}

#[test]
fn a_document_id_reads_back_and_nothing_else_parses() {
    let c = couple();
    let text = c.doc.to_string();
    assert_eq!(text.len(), 2 + 32 + 5);
    assert_eq!(text.parse::<PartnerDoc>().unwrap(), c.doc);
    let private = PartnerDoc {
        kind: DocKind::Private,
        ..c.doc
    };
    assert!(private.to_string().starts_with("v/"));
    assert_eq!(private.to_string().parse::<PartnerDoc>().unwrap(), private);
    let partner = c.doc.partner.to_string();
    for bad in [
        "couple".to_string(),
        format!("x/{partner}/2026"),
        format!("p/{partner}/1969"),
        format!("p/{partner}/26"),
        format!("p/{partner}/+026"),
        format!("p/{partner}/2026/more"),
        format!("p/{}/2026", &partner[1..]),
        format!("p/{}/2026", partner.to_uppercase()),
    ] {
        assert!(bad.parse::<PartnerDoc>().is_err(), "{bad}");
    }
}

#[test]
fn signed_heads_round_trip_and_any_changed_byte_is_refused() {
    let c = couple();
    let heads = [change(5), change(9)];
    let s = signed(&c.ana_phone, 7, c.doc, &heads);
    let bytes = s.to_bytes();
    let back = SignedHeads::verify(&bytes).unwrap();
    assert_eq!(back, s);
    assert_eq!(back.record.counter, 7);
    assert_eq!(back.record.heads, heads.into_iter().collect());
    for i in 0..bytes.len() {
        let mut bent = bytes.clone();
        bent[i] ^= 0x01;
        assert!(SignedHeads::verify(&bent).is_err(), "byte {i} flipped");
    }
    assert!(SignedHeads::verify(&bytes[..bytes.len() - 1]).is_err());
    assert!(SignedHeads::verify(&[bytes.as_slice(), &[0]].concat()).is_err());
    // Signing with another device's key, or with no heads, is refused.
    let wrong = HeadsRecord {
        signer: c.ana.key,
        counter: 1,
        doc: c.doc,
        heads: heads.into_iter().collect(),
    };
    assert_eq!(
        wrong.clone().sign(&c.ben.signing),
        Err(RecordError::WrongSigningKey)
    );
    let empty = HeadsRecord {
        heads: BTreeSet::new(),
        ..wrong
    };
    assert!(matches!(
        empty.sign(&c.ana.signing),
        Err(RecordError::BadField { field: "heads", .. })
    ));
}

#[test]
fn changes_by_the_partners_devices_under_their_signed_heads_are_accepted() {
    let c = couple();
    let (mut real, genesis) = genesis(&c.doc);
    write(&mut real, &c.ana, "e1");
    let before = real.get_heads();
    let mut fork = real.fork();
    write(&mut fork, &c.ana_phone, "e2");
    write(&mut fork, &c.ana, "e3");
    let records = [
        signed(&c.ana, 1, c.doc, &before),
        signed(&c.ana_phone, 4, c.doc, &fork.get_heads()),
    ];
    let verdict = c.check(&genesis, &fork, &before, &[], &records);
    assert_eq!(verdict, Ok(Verdict::Accept));
    // A first sync, from the genesis alone, is held to the same rule.
    let verdict = c.check(&genesis, &fork, &[], &[], &records);
    assert_eq!(verdict, Ok(Verdict::Accept));
}

#[test]
fn a_change_by_the_other_partner_or_a_stranger_is_refused_even_if_its_heads_are_signed() {
    let c = couple();
    let (real, genesis) = genesis(&c.doc);
    for forger in [&c.ben, &c.stranger] {
        let mut fork = real.fork();
        write(&mut fork, forger, "forged");
        // Signed by the forger, and even by Ana's own phone: the actor
        // check does not depend on who signed.
        let records = [
            signed(forger, 1, c.doc, &fork.get_heads()),
            signed(&c.ana_phone, 1, c.doc, &fork.get_heads()),
        ];
        let verdict = c.check(&genesis, &fork, &real.get_heads(), &[], &records);
        assert!(
            matches!(verdict, Err(PartnerRefusal::Actor { ref actor, .. }) if *actor == forger.key.to_hex()),
            "{verdict:?}"
        );
    }
}

#[test]
fn heads_nobody_of_the_partner_signed_are_refused_unless_more_is_announced() {
    let c = couple();
    let (real, genesis) = genesis(&c.doc);
    let mut fork = real.fork();
    write(&mut fork, &c.ana_phone, "e1");
    let heads = fork.get_heads();
    let other_year = PartnerDoc {
        year: 2025,
        ..c.doc
    };
    let unsigned: [(&str, Vec<SignedHeads>); 4] = [
        ("no record", vec![]),
        ("signed by Ben", vec![signed(&c.ben, 1, c.doc, &heads)]),
        (
            "signed by a stranger",
            vec![signed(&c.stranger, 1, c.doc, &heads)],
        ),
        (
            "signed for another year",
            vec![signed(&c.ana, 1, other_year, &heads)],
        ),
    ];
    for (what, records) in unsigned {
        let verdict = c.check(&genesis, &fork, &real.get_heads(), &heads, &records);
        assert!(
            matches!(verdict, Err(PartnerRefusal::Uncovered { .. })),
            "{what}: {verdict:?}"
        );
        // The sender announced a head this fork does not hold yet: wait.
        let verdict = c.check(&genesis, &fork, &real.get_heads(), &[change(200)], &records);
        assert_eq!(verdict, Ok(Verdict::Wait), "{what}");
    }
}

#[test]
fn a_change_over_a_mebibyte_is_refused() {
    let c = couple();
    let (real, genesis) = genesis(&c.doc);
    let mut fork = real
        .fork()
        .with_actor(ActorId::from(c.ana.key.0.as_slice()));
    let entries = fork.get(ROOT, "entries").unwrap().unwrap().1;
    let mut tx = fork.transaction();
    let noise: Vec<u8> = (0..MAX_CHANGE as u32 + 1024)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
        .collect();
    tx.put(&entries, "big", ScalarValue::Bytes(noise)).unwrap();
    tx.commit();
    let records = [signed(&c.ana, 1, c.doc, &fork.get_heads())];
    let verdict = c.check(&genesis, &fork, &real.get_heads(), &[], &records);
    assert!(
        matches!(verdict, Err(PartnerRefusal::TooLarge { .. })),
        "{verdict:?}"
    );
}
