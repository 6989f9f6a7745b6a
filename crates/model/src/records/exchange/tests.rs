//! Real documents, real signatures, frames moved by hand between devices:
//! Ana's laptop and phone, and Ben's desk, a trusted device that may turn
//! hostile.

use std::collections::BTreeMap;

use automerge::transaction::Transactable;
use automerge::{ActorId, ROOT, ReadDoc};
use chrono::NaiveDate;

use super::*;
use crate::EntryId;
use crate::entry::Body;
use crate::records::content::VersionKey;
use crate::records::couple::{add_record, stored_records};
use crate::records::entries::{self, Content, Fresh};
use crate::records::heads::HeadsRecord;
use crate::records::history::DocHistory;
use crate::records::keys::{self, Audience, KeyGift, KeyRefusal, VersionRef};
use crate::records::record::SignedRecord;
use crate::records::testkit::Device;

struct Dev {
    device: Device,
    couple: Automerge,
    docs: BTreeMap<DocId, Automerge>,
    kept: BTreeMap<DocId, Vec<SignedHeads>>,
    counter: u64,
    /// The key file: per document, each live key and its audience.
    keys: BTreeMap<(DocId, VersionRef), (Audience, VersionKey)>,
}

fn actor(d: &Device) -> ActorId {
    ActorId::from(d.key.0.as_slice())
}

impl Dev {
    fn new(device: Device, couple: &Automerge) -> Dev {
        let couple = couple.fork().with_actor(actor(&device));
        Dev {
            device,
            couple,
            docs: BTreeMap::new(),
            kept: BTreeMap::new(),
            counter: 0,
            keys: BTreeMap::new(),
        }
    }

    fn trust(&self) -> TrustView {
        TrustView::compute(
            &stored_records(&self.couple),
            &DocHistory::new(&self.couple),
        )
    }

    fn doc(&mut self, doc: DocId) -> &mut Automerge {
        let a = actor(&self.device);
        self.docs
            .entry(doc)
            .or_insert_with(|| genesis_of(&doc).with_actor(a))
    }

    /// Signs this device's heads of `doc`, as every commit does.
    fn sign(&mut self, doc: PartnerDoc) {
        self.counter += 1;
        let heads = self
            .doc(DocId::Partner(doc))
            .get_heads()
            .into_iter()
            .collect();
        let s = HeadsRecord {
            signer: self.device.key,
            counter: self.counter,
            doc,
            heads,
        }
        .sign(&self.device.signing)
        .unwrap();
        self.kept.insert(DocId::Partner(doc), vec![s]);
    }

    fn write(&mut self, doc: PartnerDoc, n: u128, text: &str) {
        self.write_body(doc, n, Audience::Couple, note(text));
    }

    /// Writes entry `n` (version and key both from `n`), keeping its key.
    fn write_body(&mut self, doc: PartnerDoc, n: u128, audience: Audience, body: Body) {
        let content = content(&self.device, 1_796_600_000_000, body);
        let fresh = fresh(n as u8);
        let am = self.doc(DocId::Partner(doc));
        entries::write_version(am, &doc, &entry(n), day(), &content, &fresh).unwrap();
        self.keys.insert(
            (DocId::Partner(doc), vref(n, n as u8)),
            (audience, fresh.key),
        );
        self.sign(doc);
    }

    fn live_keys(&self, doc: PartnerDoc) -> Vec<(VersionRef, Audience, VersionKey)> {
        self.keys
            .iter()
            .filter(|((d, _), _)| *d == DocId::Partner(doc))
            .map(|((_, v), (a, k))| (*v, *a, k.clone()))
            .collect()
    }

    /// Reads entry `n` with the keys this device holds.
    fn read_held(&self, doc: PartnerDoc, n: u128) -> Option<entries::Reading> {
        let am = self.docs.get(&DocId::Partner(doc))?;
        let got = entries::read(am, &doc, &entry(n), |v| {
            self.keys
                .get(&(DocId::Partner(doc), (entry(n).0.0, *v)))
                .map(|(_, k)| k.clone())
        })
        .unwrap()?;
        Some(got.reading)
    }

    fn heads(&self, doc: DocId) -> Option<Vec<ChangeHash>> {
        self.docs.get(&doc).map(|d| {
            let mut h = d.get_heads();
            h.sort();
            h
        })
    }
}

fn entry(n: u128) -> EntryId {
    EntryId::from_parts(1_796_600_000_000, n)
}

/// Version `ver` of entry `n`, as key files name it.
fn vref(n: u128, ver: u8) -> VersionRef {
    (entry(n).0.0, [ver; 16])
}

fn day() -> NaiveDate {
    NaiveDate::from_ymd_opt(2026, 12, 7).unwrap()
}

/// An entry's content as `device` writes it.
fn content(device: &Device, created: i64, body: Body) -> Content {
    Content {
        created,
        offset: 0,
        device: device.key.to_hex(),
        edited: None,
        tags: vec![],
        starred: false,
        tender: false,
        body,
    }
}

fn note(text: &str) -> Body {
    Body::Note { text: text.into() }
}

/// A version's id, key and nonce, all from `n`.
fn fresh(n: u8) -> Fresh {
    Fresh {
        version: [n; 16],
        key: VersionKey([n; 32]),
        nonce: [n; 24],
    }
}

fn shared(of: PartnerCode) -> PartnerDoc {
    PartnerDoc {
        kind: DocKind::Partner,
        partner: of,
        year: 2026,
    }
}

fn private(of: PartnerCode) -> PartnerDoc {
    PartnerDoc {
        kind: DocKind::Private,
        ..shared(of)
    }
}

fn put(couple: &mut Automerge, by: &Device, record: &SignedRecord) {
    let mut d = couple.fork().with_actor(actor(by));
    add_record(&mut d, record).unwrap();
    couple.merge(&mut d).unwrap();
}

/// Ana (laptop, phone) and Ben (desk), paired both ways; Ben approved
/// Ana's phone.
fn couple() -> (Dev, Dev, Dev) {
    let (ana, phone, ben) = (Device::new(1), Device::new(2), Device::new(11));
    let (a, b) = (ana.root_partner(), ben.root_partner());
    let mut c = genesis_of(&DocId::Couple);
    put(&mut c, &ana, &ana.root_cert("laptop"));
    put(&mut c, &ben, &ben.root_cert("desk"));
    put(&mut c, &ana, &ana.cert(a, &phone, "phone"));
    put(&mut c, &ana, &ana.approve(&ben, b));
    put(&mut c, &ben, &ben.approve(&ana, a));
    put(&mut c, &ben, &ben.approve(&phone, a));
    (Dev::new(ana, &c), Dev::new(phone, &c), Dev::new(ben, &c))
}

/// One side's turn: every frame it has for `docs`, taken by the other.
/// Returns how many frames went.
fn turn(
    ex_from: &mut Exchange,
    from: &mut Dev,
    ex_to: &mut Exchange,
    to: &mut Dev,
    docs: &[DocId],
) -> Result<usize, Refused> {
    let mut sent = 0;
    for doc in std::iter::once(DocId::Couple).chain(docs.iter().copied()) {
        let trust = from.trust();
        let kept = from.kept.get(&doc).cloned().unwrap_or_default();
        let real = match doc {
            DocId::Couple => from.couple.clone(),
            _ => from
                .docs
                .get(&doc)
                .cloned()
                .unwrap_or_else(|| genesis_of(&doc)),
        };
        for frame in ex_from.outgoing(doc, &real, &kept, &from.couple, &trust, usize::MAX)? {
            sent += 1;
            let trust = to.trust();
            let kept = to.kept.get(&doc).cloned().unwrap_or_default();
            let real = match doc {
                DocId::Couple => to.couple.clone(),
                _ => to.doc(doc).clone(),
            };
            match ex_to.incoming(frame, &real, &kept, &trust)? {
                Received::Accept { changes, signed } => {
                    let target = match doc {
                        DocId::Couple => &mut to.couple,
                        _ => to.doc(doc),
                    };
                    target.apply_changes(changes).unwrap();
                    if !signed.is_empty() {
                        to.kept.insert(doc, signed);
                    }
                }
                Received::Nothing | Received::Wait => {}
            }
        }
    }
    Ok(sent)
}

/// A whole session between `a` and `b` over `docs`, until neither has
/// anything to say (bounded).
fn session(a: &mut Dev, b: &mut Dev, docs: &[DocId]) -> Result<(), Refused> {
    let mut ea = Exchange::new(a.device.key, b.device.key);
    let mut eb = Exchange::new(b.device.key, a.device.key);
    for _ in 0..40 {
        let n = turn(&mut ea, a, &mut eb, b, docs)? + turn(&mut eb, b, &mut ea, a, docs)?;
        if n == 0 {
            return Ok(());
        }
    }
    panic!("the session did not settle in 40 rounds");
}

fn text(dev: &Dev, doc: PartnerDoc, n: u128) -> Option<String> {
    let am = dev.docs.get(&DocId::Partner(doc))?;
    let got = entries::read(am, &doc, &entry(n), |v| Some(VersionKey([v[0]; 32]))).unwrap()?;
    match got.reading {
        entries::Reading::Readable { content, .. } => match content.body {
            Body::Note { text } => Some(text),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn a_partner_document_syncs_and_travels_on_through_a_third_device() {
    let (mut ana, mut phone, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    ana.write(a, 1, "from the laptop");
    session(&mut ana, &mut ben, &[DocId::Partner(a)]).unwrap();
    assert_eq!(ben.heads(DocId::Partner(a)), ana.heads(DocId::Partner(a)));
    assert_eq!(text(&ben, a, 1).as_deref(), Some("from the laptop"));
    assert_eq!(
        ben.kept[&DocId::Partner(a)],
        ana.kept[&DocId::Partner(a)],
        "the signature travels with it"
    );
    // The phone hears of it from Ben's desk only: the mesh, signed by Ana.
    session(&mut ben, &mut phone, &[DocId::Partner(a)]).unwrap();
    assert_eq!(text(&phone, a, 1).as_deref(), Some("from the laptop"));
}

#[test]
fn a_trusted_device_that_forges_the_other_partners_words_is_refused() {
    let a_code = Device::new(1).root_partner();
    let a = shared(a_code);
    let doc = DocId::Partner(a);
    type Forgery = Box<dyn Fn(&mut Dev, &Dev)>;
    let forgeries: [(&str, Forgery); 4] = [
        (
            "edit as himself, signed by himself",
            Box::new(move |ben, _| {
                ben.write(a, 1, "words Ana never wrote");
                // Ben signs Ana's document: his signature does not count for her.
            }),
        ),
        (
            "add an entry as Ana, signed by himself",
            Box::new(move |ben, _| ben.write(a, 2, "a forged entry")),
        ),
        (
            "edit with Ana's actor, signed by himself",
            Box::new(move |ben, ana| {
                let mut d = ben.doc(doc).fork().with_actor(actor(&ana.device));
                let content = content(&ana.device, 0, note("put in her mouth"));
                entries::write_version(&mut d, &a, &entry(1), day(), &content, &fresh(9)).unwrap();
                ben.doc(doc).merge(&mut d).unwrap();
                ben.sign(a);
            }),
        ),
        (
            "delete with Ana's actor and replay her signature",
            Box::new(move |ben, ana| {
                let mut d = ben.doc(doc).fork().with_actor(actor(&ana.device));
                entries::delete(&mut d, &entry(1)).unwrap();
                ben.doc(doc).merge(&mut d).unwrap();
                ben.kept.insert(doc, ana.kept[&doc].clone());
            }),
        ),
    ];
    for (what, forge) in forgeries {
        let (mut ana, mut phone, mut ben) = couple();
        ana.write(a, 1, "Ana's own words");
        session(&mut ana, &mut ben, &[doc]).unwrap();
        session(&mut ana, &mut phone, &[doc]).unwrap();
        let before = phone.heads(doc);
        forge(&mut ben, &ana);
        let err = session(&mut ben, &mut phone, &[doc]).expect_err(what);
        assert!(
            matches!(
                err,
                Refused::Partner(PartnerRefusal::Actor { .. } | PartnerRefusal::Uncovered { .. })
            ),
            "{what}: {err}"
        );
        assert_eq!(phone.heads(doc), before, "{what}: nothing applied");
        assert_eq!(
            text(&phone, a, 1).as_deref(),
            Some("Ana's own words"),
            "{what}"
        );
        assert!(text(&phone, a, 2).is_none(), "{what}");
        // Ana's laptop refuses it just the same.
        assert!(session(&mut ben, &mut ana, &[doc]).is_err(), "{what}");
    }
}

#[test]
fn a_trusted_device_cannot_remove_records_from_the_couple_document() {
    let (mut ana, _, mut ben) = couple();
    let records = match ben.couple.get(ROOT, "records").unwrap() {
        Some((_, id)) => id,
        None => panic!("no records"),
    };
    // Ana's certificate for her phone.
    let (laptop, phone) = (Device::new(1), Device::new(2));
    let key = laptop
        .cert(laptop.root_partner(), &phone, "phone")
        .key()
        .to_hex();
    assert!(ben.couple.get(&records, key.as_str()).unwrap().is_some());
    let mut tx = ben.couple.transaction();
    tx.delete(&records, key.as_str()).unwrap();
    tx.commit();
    let before = ana.couple.get_heads();
    let err = session(&mut ben, &mut ana, &[]).unwrap_err();
    assert!(
        matches!(err, Refused::Couple(CoupleRefusal::Forbidden { .. })),
        "{err}"
    );
    assert_eq!(ana.couple.get_heads(), before);
}

#[test]
fn a_private_document_goes_only_to_its_partners_devices() {
    let (mut ana, mut phone, mut ben) = couple();
    let v = private(ana.device.root_partner());
    let doc = DocId::Partner(v);
    ana.write(v, 1, "for my eyes only");
    session(&mut ana, &mut ben, &[doc]).unwrap();
    assert_eq!(ben.heads(doc), None, "never sent, never named");
    session(&mut ana, &mut phone, &[doc]).unwrap();
    assert_eq!(text(&phone, v, 1).as_deref(), Some("for my eyes only"));

    // A device offering one it may not hold loses its session: a real
    // frame of the phone's for Ana, arriving in Ana's session with Ben.
    let mut ea = Exchange::new(ana.device.key, ben.device.key);
    let trust = ana.trust();
    let mut ex_phone = Exchange::new(phone.device.key, ana.device.key);
    let couple = phone.couple.clone();
    // Get the couple document in sync first, so the private frame goes.
    let mut ex_ana = Exchange::new(ana.device.key, phone.device.key);
    for _ in 0..5 {
        for f in ex_phone
            .outgoing(DocId::Couple, &couple, &[], &couple, &trust, usize::MAX)
            .unwrap()
        {
            ex_ana.incoming(f, &ana.couple, &[], &trust).unwrap();
        }
        for f in ex_ana
            .outgoing(
                DocId::Couple,
                &ana.couple,
                &[],
                &ana.couple,
                &trust,
                usize::MAX,
            )
            .unwrap()
        {
            ex_phone.incoming(f, &couple, &[], &trust).unwrap();
        }
    }
    let real = phone.docs[&doc].clone();
    let kept = phone.kept.get(&doc).cloned().unwrap_or_default();
    let frame = ex_phone
        .outgoing(doc, &real, &kept, &couple, &trust, usize::MAX)
        .unwrap()
        .pop()
        .expect("a frame for Ana");
    let err = ea
        .incoming(frame, &genesis_of(&doc), &[], &trust)
        .unwrap_err();
    assert!(matches!(err, Refused::NotAllowed { .. }), "{err}");
}

/// Ana's laptop tells Ben its couple heads, then catches up with Ben's
/// through another session before Ben's first message, which carries no
/// changes and names the heads the laptop now holds. Automerge on its own
/// would stay silent then, and Ben would take the laptop for behind for
/// ever, holding back every partner document.
#[test]
fn a_device_whose_couple_document_caught_up_elsewhere_still_tells_the_peer_its_heads() {
    let (mut ana, _, mut ben) = couple();
    // A record only Ben's desk holds: a tablet of his.
    let b = ben.device.root_partner();
    put(
        &mut ben.couple,
        &ben.device,
        &ben.device.cert(b, &Device::new(12), "tablet"),
    );
    let mut ea = Exchange::new(ana.device.key, ben.device.key);
    let mut eb = Exchange::new(ben.device.key, ana.device.key);
    let (ta, tb) = (ana.trust(), ben.trust());
    let first = |ex: &mut Exchange, dev: &Dev, trust: &TrustView| {
        ex.outgoing(
            DocId::Couple,
            &dev.couple,
            &[],
            &dev.couple,
            trust,
            usize::MAX,
        )
        .unwrap()
    };
    let from_ana = first(&mut ea, &ana, &ta);
    // Ben's record reaches the laptop another way (its own phone, say).
    ana.couple.merge(&mut ben.couple.clone()).unwrap();
    let from_ben = first(&mut eb, &ben, &tb);
    for f in from_ana {
        eb.incoming(f, &ben.couple, &[], &tb).unwrap();
    }
    for f in from_ben {
        assert!(matches!(
            ea.incoming(f, &ana.couple, &[], &ta).unwrap(),
            Received::Nothing
        ));
    }
    session_rounds(&mut ea, &mut ana, &mut eb, &mut ben);
    assert!(ea.couple_in_sync(&ana.couple));
    assert!(
        eb.couple_in_sync(&ben.couple),
        "Ben learned that the laptop holds what he holds"
    );
}

/// Turns both ways on an exchange already under way, until neither side
/// has anything to say (bounded).
fn session_rounds(ea: &mut Exchange, a: &mut Dev, eb: &mut Exchange, b: &mut Dev) {
    for _ in 0..40 {
        if turn(ea, a, eb, b, &[]).unwrap() + turn(eb, b, ea, a, &[]).unwrap() == 0 {
            return;
        }
    }
    panic!("the session did not settle in 40 rounds");
}

#[test]
fn no_partner_document_goes_out_before_the_couple_document_is_in_sync() {
    let (mut ana, _, ben) = couple();
    let a = shared(ana.device.root_partner());
    ana.write(a, 1, "words");
    let trust = ana.trust();
    let mut ex = Exchange::new(ana.device.key, ben.device.key);
    let real = ana.docs[&DocId::Partner(a)].clone();
    assert!(
        ex.outgoing(
            DocId::Partner(a),
            &real,
            &[],
            &ana.couple,
            &trust,
            usize::MAX
        )
        .unwrap()
        .is_empty()
    );
    assert!(
        !ex.outgoing(
            DocId::Couple,
            &ana.couple,
            &[],
            &ana.couple,
            &trust,
            usize::MAX
        )
        .unwrap()
        .is_empty()
    );
    assert!(!ex.couple_in_sync(&ana.couple));
}

#[test]
fn bytes_that_are_not_a_sync_message_or_a_valid_signature_end_the_session() {
    let (ana, _, ben) = couple();
    let a = DocId::Partner(shared(ana.device.root_partner()));
    let trust = ben.trust();
    let mut ex = Exchange::new(ben.device.key, ana.device.key);
    let real = genesis_of(&a);
    let junk = Frame {
        doc: a,
        signed: vec![],
        message: vec![0x42, 1, 2, 3],
    };
    assert!(matches!(
        ex.incoming(junk, &real, &[], &trust),
        Err(Refused::Malformed { .. })
    ));
    let mut bent = {
        let mut d = Dev::new(Device::new(1), &ana.couple);
        d.write(shared(ana.device.root_partner()), 1, "x");
        d.kept[&a][0].to_bytes()
    };
    bent[70] ^= 1;
    let bad_sig = Frame {
        doc: a,
        signed: vec![bent],
        message: vec![],
    };
    assert!(matches!(
        ex.incoming(bad_sig, &real, &[], &trust),
        Err(Refused::Signed { .. })
    ));
    let many = Frame {
        doc: a,
        signed: vec![vec![]; MAX_SIGNED_PER_FRAME + 1],
        message: vec![],
    };
    assert!(matches!(
        ex.incoming(many, &real, &[], &trust),
        Err(Refused::TooManySigned { .. })
    ));
}

/// A sync message, found by fuzzing, that Automerge takes in but then
/// panics on when asked for its reply. The daemon's wire check refuses it
/// before the exchange sees it; the exchange is the second line.
fn poisoned_message() -> Vec<u8> {
    vec![
        0x43, 0x00, 0x00, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd6, 0x00, 0x01,
        0x00,
    ]
}

#[test]
fn a_message_that_makes_automerge_panic_is_refused_and_ends_the_session() {
    let (ana, _, ben) = couple();
    let trust = ben.trust();
    let reply = |ex: &mut Exchange| {
        ex.outgoing(
            DocId::Couple,
            &ben.couple,
            &[],
            &ben.couple,
            &trust,
            usize::MAX,
        )
    };
    // Untouched, a session's first turn answers about the couple document.
    let mut clean = Exchange::new(ben.device.key, ana.device.key);
    assert!(!reply(&mut clean).unwrap().is_empty());

    let mut ex = Exchange::new(ben.device.key, ana.device.key);
    let poisoned = Frame {
        doc: DocId::Couple,
        signed: vec![],
        message: poisoned_message(),
    };
    assert!(Message::decode(&poisoned.message).is_ok());
    let taken = ex.incoming(poisoned, &ben.couple, &[], &trust);
    assert!(
        matches!(taken, Ok(Received::Nothing)),
        "{:?}",
        taken.map(|_| ())
    );
    // Automerge panics generating the reply; the exchange catches it and
    // refuses, which ends the session.
    let err = reply(&mut ex).unwrap_err();
    assert!(matches!(err, Refused::Malformed { .. }), "{err}");
}

/// The key frames of one document between `from` and `to`: `to` offers,
/// `from` gives, `to` takes.
fn keys_from(from: &Dev, to: &mut Dev, doc: PartnerDoc) -> Result<keys::Taken, KeyRefusal> {
    let live = to.live_keys(doc).into_iter().map(|(v, a, _)| (v, a));
    // One key an offer, so every gift answers only its own span.
    let offers = keys::offer(&to.trust(), &from.device.key, doc, live, 1);
    let am = to.doc(DocId::Partner(doc)).clone();
    let mut all = keys::Taken::default();
    for offer in &offers {
        let gift = keys::gift(&from.trust(), &to.device.key, offer, from.live_keys(doc));
        let taken = keys::take(&to.trust(), &to.device.key, gift, &am)?;
        for (v, a, k) in &taken.keep {
            to.keys.insert((DocId::Partner(doc), *v), (*a, k.clone()));
        }
        all.keep.extend(taken.keep);
        all.forget.extend(taken.forget);
        all.dropped += taken.dropped;
    }
    Ok(all)
}

fn readable_text(r: Option<entries::Reading>) -> Option<String> {
    match r? {
        entries::Reading::Readable { content, .. } => match content.body {
            Body::Note { text } | Body::Answer { text, .. } => Some(text),
            _ => None,
        },
        _ => None,
    }
}

#[test]
fn keys_go_only_where_their_audience_allows() {
    let (mut ana, mut phone, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    let v = private(ana.device.root_partner());
    ana.write(a, 1, "a note for us both");
    let answer = Body::Answer {
        prompt: "p-3".into(),
        text: "sealed until Ben answers".into(),
    };
    ana.write_body(a, 2, Audience::Mine, answer);
    ana.write_body(v, 3, Audience::Mine, note("mine alone"));
    let docs = [DocId::Partner(a), DocId::Partner(v)];
    session(&mut ana, &mut ben, &docs).unwrap();
    session(&mut ana, &mut phone, &docs).unwrap();

    let to_ben = keys_from(&ana, &mut ben, a).unwrap();
    assert_eq!(to_ben.keep.len(), 1, "the note's key only");
    assert_eq!(
        readable_text(ben.read_held(a, 1)).as_deref(),
        Some("a note for us both")
    );
    assert_eq!(
        ben.read_held(a, 2),
        Some(entries::Reading::Sealed { version: [2; 16] })
    );
    // Asking again brings nothing new.
    assert!(keys_from(&ana, &mut ben, a).unwrap().keep.is_empty());

    assert_eq!(keys_from(&ana, &mut phone, a).unwrap().keep.len(), 2);
    assert_eq!(keys_from(&ana, &mut phone, v).unwrap().keep.len(), 1);
    assert_eq!(
        readable_text(phone.read_held(a, 2)).as_deref(),
        Some("sealed until Ben answers")
    );
    assert_eq!(
        readable_text(phone.read_held(v, 3)).as_deref(),
        Some("mine alone")
    );
    // Ben's device offers nothing of Ana's private document, and holds none of it.
    assert!(!ben.docs.contains_key(&DocId::Partner(v)));
    assert!(ben.keys.keys().all(|(d, _)| *d == DocId::Partner(a)));

    // A released answer widens to the couple, and then goes to Ben.
    ana.keys
        .get_mut(&(DocId::Partner(a), vref(2, 2)))
        .unwrap()
        .0 = Audience::Couple;
    assert_eq!(keys_from(&ana, &mut ben, a).unwrap().keep.len(), 1);
    assert_eq!(
        readable_text(ben.read_held(a, 2)).as_deref(),
        Some("sealed until Ben answers")
    );
}

#[test]
fn a_key_ben_may_not_hold_ends_the_session_and_a_bad_key_is_dropped() {
    let (mut ana, _, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    ana.write_body(
        a,
        2,
        Audience::Mine,
        Body::Answer {
            prompt: "p-3".into(),
            text: "not yet".into(),
        },
    );
    session(&mut ana, &mut ben, &[DocId::Partner(a)]).unwrap();
    let am = ben.docs[&DocId::Partner(a)].clone();
    // A device that hands Ben a `mine` key breaks the rule, whatever it holds.
    let gift = KeyGift {
        doc: a,
        keys: ana.live_keys(a),
    };
    assert_eq!(
        keys::take(&ben.trust(), &ben.device.key, gift, &am),
        Err(KeyRefusal::NotAllowed { doc: a })
    );
    let gift = KeyGift {
        doc: private(a.partner),
        keys: vec![(vref(3, 3), Audience::Couple, VersionKey([3; 32]))],
    };
    assert_eq!(
        keys::take(&ben.trust(), &ben.device.key, gift, &am),
        Err(KeyRefusal::Private)
    );
    // A wrong key for a version that is there is dropped, not kept.
    let wrong = KeyGift {
        doc: a,
        keys: vec![(vref(2, 2), Audience::Couple, VersionKey([7; 32]))],
    };
    let taken = keys::take(&ben.trust(), &ben.device.key, wrong, &am).unwrap();
    assert_eq!((taken.keep.len(), taken.dropped), (0, 1));
}

#[test]
fn a_key_that_opens_content_no_write_may_make_is_refused_like_a_forgery() {
    let (mut ana, _, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    let doc = DocId::Partner(a);
    // Ana's device, modified, seals a note over the text limit straight
    // into her document: `write_version` would refuse it.
    let huge = content(
        &ana.device,
        1_796_600_000_000,
        note(&"x".repeat(crate::entry::MAX_TEXT + 1)),
    );
    let key = VersionKey([4; 32]);
    let sealed = crate::records::content::seal_version(
        &key,
        &a.to_string(),
        &entry(4),
        [4; 16],
        [4; 24],
        &serde_json::to_vec(&huge).unwrap(),
    )
    .unwrap();
    {
        use automerge::{ObjType, ScalarValue};
        let am = ana.doc(doc);
        let entries_obj = entries::entries_map(am).unwrap();
        let mut tx = am.transaction();
        let m = tx
            .put_object(&entries_obj, entry(4).key(), ObjType::Map)
            .unwrap();
        tx.put(&m, "day", "2026-12-07").unwrap();
        tx.put(&m, "b", ScalarValue::Bytes(sealed)).unwrap();
        tx.commit();
    }
    ana.keys
        .insert((doc, vref(4, 4)), (Audience::Couple, key.clone()));
    ana.sign(a);
    // The ciphertext itself cannot be checked, so the document syncs.
    session(&mut ana, &mut ben, &[doc]).unwrap();
    let am = ben.docs[&doc].clone();
    let gift = KeyGift {
        doc: a,
        keys: vec![(vref(4, 4), Audience::Couple, key)],
    };
    assert!(matches!(
        keys::take(&ben.trust(), &ben.device.key, gift, &am),
        Err(KeyRefusal::Malformed { doc: d, .. }) if d == a
    ));
}

#[test]
fn a_key_for_a_replaced_or_deleted_version_is_kept_as_forgotten() {
    let (mut ana, mut phone, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    let doc = DocId::Partner(a);
    ana.write(a, 1, "first words");
    ana.write(a, 2, "to be deleted");
    session(&mut ana, &mut phone, &[doc]).unwrap();
    keys_from(&ana, &mut phone, a).unwrap();
    // Ana edits entry 1 (a new version, key 9) and deletes entry 2.
    {
        let content = content(&ana.device, 0, note("second words"));
        let fresh = fresh(9);
        let am = ana.doc(doc);
        let replaced = entries::write_version(am, &a, &entry(1), day(), &content, &fresh).unwrap();
        assert_eq!(replaced, [[1; 16]]);
        entries::delete(ana.doc(doc), &entry(2)).unwrap();
        ana.keys.clear();
        ana.keys
            .insert((doc, vref(1, 9)), (Audience::Couple, fresh.key));
        ana.sign(a);
    }
    session(&mut ana, &mut ben, &[doc]).unwrap();
    // The phone, offline during the edit, still holds the old keys and
    // hands them to Ben: he keeps neither, and refuses them for good.
    let taken = keys_from(&phone, &mut ben, a).unwrap();
    assert!(taken.keep.is_empty(), "{taken:?}");
    let mut forget = taken.forget.clone();
    forget.sort();
    let mut want = [vref(1, 1), vref(2, 2)];
    want.sort();
    assert_eq!(forget, want);
    assert_eq!(keys_from(&ana, &mut ben, a).unwrap().keep.len(), 1);
    assert_eq!(
        readable_text(ben.read_held(a, 1)).as_deref(),
        Some("second words")
    );
    assert_eq!(ben.read_held(a, 2), Some(entries::Reading::Deleted));
}

#[test]
fn a_paired_device_not_set_up_gets_the_couple_document_and_then_its_certificate_counts() {
    use crate::records::couple_write::{self, Signer};
    use crate::records::settle::{Settle, settle};
    let (mut ana, _, _) = couple();
    let fresh = Device::new(5);
    let mut tablet = Dev::new(fresh, &genesis_of(&DocId::Couple));
    let (a_key, t_key) = (ana.device.key, tablet.device.key);
    let a = ana.device.root_partner();
    // Without pairing, neither side says a word.
    let mut plain = Exchange::new(a_key, t_key);
    assert!(
        plain
            .outgoing(
                DocId::Couple,
                &ana.couple,
                &[],
                &ana.couple,
                &ana.trust(),
                usize::MAX
            )
            .unwrap()
            .is_empty()
    );
    // Paired: the couple documents meet.
    let (mut ea, mut et) = (
        Exchange::paired(a_key, t_key),
        Exchange::paired(t_key, a_key),
    );
    for _ in 0..10 {
        turn(&mut ea, &mut ana, &mut et, &mut tablet, &[]).unwrap();
        turn(&mut et, &mut tablet, &mut ea, &mut ana, &[]).unwrap();
    }
    assert!(ea.couple_in_sync(&ana.couple));
    assert_eq!(settle(&ana.trust(), Some(a), &t_key), Settle::Certify);
    let signer = Signer {
        key: &ana.device.signing,
        clock_ms: 5,
    };
    couple_write::certify(&mut ana.couple, &signer, a, t_key, "tablet").unwrap();
    for _ in 0..10 {
        turn(&mut ea, &mut ana, &mut et, &mut tablet, &[]).unwrap();
        turn(&mut et, &mut tablet, &mut ea, &mut ana, &[]).unwrap();
    }
    assert_eq!(
        tablet.trust().valid(&t_key),
        Some(&a),
        "the tablet learns it is Ana's"
    );
    // And now Ana's documents go to it.
    let doc = shared(a);
    ana.write(doc, 1, "for my tablet too");
    let mut ea = Exchange::new(a_key, t_key);
    let mut et = Exchange::new(t_key, a_key);
    for _ in 0..10 {
        turn(
            &mut ea,
            &mut ana,
            &mut et,
            &mut tablet,
            &[DocId::Partner(doc)],
        )
        .unwrap();
        turn(
            &mut et,
            &mut tablet,
            &mut ea,
            &mut ana,
            &[DocId::Partner(doc)],
        )
        .unwrap();
    }
    assert_eq!(text(&tablet, doc, 1).as_deref(), Some("for my tablet too"));
}

#[test]
fn a_document_larger_than_a_frame_goes_in_parts_and_arrives_whole() {
    let (mut ana, _, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    for n in 1..=40 {
        ana.write(a, n, &format!("entry number {n} with a few words to carry"));
    }
    let doc = DocId::Partner(a);
    let (ka, kb) = (ana.device.key, ben.device.key);
    let mut ea = Exchange::new(ka, kb);
    let mut eb = Exchange::new(kb, ka);
    let mut most = 0;
    // One side's turn over both documents, with messages of at most 4 KiB.
    fn step(
        ex_from: &mut Exchange,
        from: &mut Dev,
        ex_to: &mut Exchange,
        to: &mut Dev,
        doc: DocId,
        most: &mut usize,
    ) {
        for d in [DocId::Couple, doc] {
            let real = if d == DocId::Couple {
                from.couple.clone()
            } else {
                from.doc(d).clone()
            };
            let kept = from.kept.get(&d).cloned().unwrap_or_default();
            let frames = ex_from
                .outgoing(d, &real, &kept, &from.couple, &from.trust(), 4096)
                .unwrap();
            if d == doc {
                *most = (*most).max(frames.len());
            }
            for f in frames {
                let real = if d == DocId::Couple {
                    to.couple.clone()
                } else {
                    to.doc(d).clone()
                };
                let kept = to.kept.get(&d).cloned().unwrap_or_default();
                if let Received::Accept { changes, signed } =
                    ex_to.incoming(f, &real, &kept, &to.trust()).unwrap()
                {
                    let target = if d == DocId::Couple {
                        &mut to.couple
                    } else {
                        to.doc(d)
                    };
                    target.apply_changes(changes).unwrap();
                    if !signed.is_empty() {
                        to.kept.insert(d, signed);
                    }
                }
            }
        }
    }
    for _ in 0..30 {
        step(&mut ea, &mut ana, &mut eb, &mut ben, doc, &mut most);
        step(&mut eb, &mut ben, &mut ea, &mut ana, doc, &mut most);
    }
    assert!(most > 1, "the document went in {most} part(s)");
    assert_eq!(ben.heads(doc), ana.heads(doc));
    assert_eq!(
        text(&ben, a, 40).as_deref(),
        Some("entry number 40 with a few words to carry")
    );
}

#[test]
fn a_long_key_list_goes_in_offers_whose_spans_cover_every_entry() {
    let (mut ana, _, _) = couple();
    let a = shared(ana.device.root_partner());
    for n in 1..=7 {
        ana.write(a, n, "words");
    }
    let live = ana.live_keys(a).into_iter().map(|(v, au, _)| (v, au));
    let offers = keys::offer(&ana.trust(), &ana.device.key, a, live, 3);
    assert_eq!(
        offers.iter().map(|o| o.have.len()).collect::<Vec<_>>(),
        [3, 3, 1]
    );
    assert_eq!(offers[0].from, 0);
    assert_eq!(offers.last().unwrap().to, u128::MAX);
    for pair in offers.windows(2) {
        assert_eq!(pair[0].to + 1, pair[1].from, "no gap and no overlap");
    }
    for o in &offers {
        assert!(o.have.iter().all(|(v, _)| (o.from..=o.to).contains(&v.0)));
    }
    // An empty list is one offer for everything.
    let none = keys::offer(&ana.trust(), &ana.device.key, a, [], 3);
    assert_eq!((none.len(), none[0].from, none[0].to), (1, 0, u128::MAX));
}

#[test]
fn a_session_keeps_at_most_128_of_a_peers_records_and_only_those_still_waiting() {
    let (mut ana, _, _) = couple();
    let a = shared(ana.device.root_partner());
    ana.write(a, 1, "words");
    let record = ana.kept[&DocId::Partner(a)][0].clone();
    let doc = DocId::Partner(a);
    let mut ds = DocSync::new(&doc, &genesis_of(&doc));
    // Five frames of 64 records each, as a peer flooding one session could
    // send while its changes wait.
    for _ in 0..5 {
        ds.add_signed(vec![record.clone(); MAX_SIGNED_PER_FRAME]);
    }
    assert_eq!(ds.signed.len(), MAX_PENDING_SIGNED);
    // The fork holds none of the changes the record names: it waits, once.
    ds.keep_pending();
    assert_eq!(ds.signed.len(), 1);
    // Once the changes are here, nothing is left waiting.
    ds.fork = ana.doc(doc).clone();
    ds.keep_pending();
    assert!(ds.signed.is_empty());
}

#[test]
fn an_accepted_copy_is_the_real_document_with_what_was_accepted_and_never_holds_a_waiting_change() {
    let (mut ana, _, mut ben) = couple();
    let a = shared(ana.device.root_partner());
    let doc = DocId::Partner(a);
    ana.write(a, 1, "one");
    ana.write(a, 2, "two");
    let mut ea = Exchange::new(ana.device.key, ben.device.key);
    let mut eb = Exchange::new(ben.device.key, ana.device.key);
    for _ in 0..10 {
        turn(&mut ea, &mut ana, &mut eb, &mut ben, &[doc]).unwrap();
        turn(&mut eb, &mut ben, &mut ea, &mut ana, &[doc]).unwrap();
    }
    assert_eq!(text(&ben, a, 2).as_deref(), Some("two"));
    let copy = eb.accepted_copy(&doc).expect("nothing waits on the fork");
    let mut copied = copy.get_heads();
    copied.sort();
    assert_eq!(Some(copied), ben.heads(doc));
    assert_eq!(
        copy.get_changes(&[]).len(),
        ben.doc(doc).get_changes(&[]).len()
    );

    // Entry 4 depends on entry 3, which never comes: it waits on the fork,
    // unchecked, and no copy is handed out while it does.
    ana.write(a, 3, "three");
    let before_four = ana.doc(doc).get_heads();
    ana.write(a, 4, "four");
    let four: Vec<Vec<u8>> = ana
        .doc(doc)
        .get_changes(&before_four)
        .iter()
        .map(|c| c.raw_bytes().to_vec())
        .collect();
    assert_eq!(four.len(), 1);
    let message = Message {
        heads: ana.doc(doc).get_heads(),
        need: Vec::new(),
        have: Vec::new(),
        changes: automerge::sync::ChunkList::from(four),
        flags: None,
        version: automerge::sync::MessageVersion::V1,
    };
    let frame = Frame {
        doc,
        signed: ana.kept[&doc].iter().map(SignedHeads::to_bytes).collect(),
        message: message.encode(),
    };
    let real = ben.doc(doc).clone();
    let kept = ben.kept.get(&doc).cloned().unwrap_or_default();
    let got = eb.incoming(frame, &real, &kept, &ben.trust()).unwrap();
    assert!(matches!(got, Received::Nothing), "{got:?}");
    assert!(eb.accepted_copy(&doc).is_none());
}
