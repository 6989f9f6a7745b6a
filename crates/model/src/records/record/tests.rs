use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;

use super::*;
use crate::records::error::CanonicalError;
use crate::records::testkit::Device;

/// 2026-01-01T00:00:00Z in milliseconds, big-endian: 0x0000019b76daa800.
const AT: i64 = 1_767_225_600_000;
const AT_BYTES: [u8; 8] = [0x00, 0x00, 0x01, 0x9b, 0x76, 0xda, 0xa8, 0x00];
const SIGNER: [u8; 32] = [0x11; 32];
const PARTNER: [u8; 16] = [0x22; 16];
const SUBJECT: [u8; 32] = [0x33; 32];

/// A body written out by hand: the tag, the common fields, then `rest`.
fn body(tag: &[u8], rest: &[&[u8]]) -> Vec<u8> {
    let mut out = tag.to_vec();
    out.push(0);
    out.extend_from_slice(&SIGNER);
    out.extend_from_slice(&AT_BYTES);
    for part in rest {
        out.extend_from_slice(part);
    }
    out
}

fn record(body: Body) -> Record {
    Record {
        signer: DeviceKey(SIGNER),
        at: AT,
        body,
    }
}

/// The hand-written bytes parse to the record, and the record encodes to
/// exactly those bytes.
fn pinned(bytes: Vec<u8>, want: Record) {
    assert_eq!(Record::parse(&bytes).as_ref(), Ok(&want));
    assert_eq!(want.to_body().unwrap(), bytes);
}

#[test]
fn pinned_cert() {
    pinned(
        body(
            b"hearth/v2/cert",
            &[&PARTNER, &SUBJECT, &[0x00, 0x05], b"phone"],
        ),
        record(Body::Cert(Cert {
            partner: PartnerCode(PARTNER),
            subject: DeviceKey(SUBJECT),
            name: "phone".into(),
        })),
    );
}

#[test]
fn pinned_approve() {
    pinned(
        body(b"hearth/v2/approve", &[&SUBJECT, &PARTNER]),
        record(Body::Approve(Approve {
            subject: DeviceKey(SUBJECT),
            partner: PartnerCode(PARTNER),
        })),
    );
}

#[test]
fn pinned_remove() {
    pinned(
        body(
            b"hearth/v2/remove",
            &[&SUBJECT, &[0x00, 0x02], &[0x01; 32], &[0x02; 32]],
        ),
        record(Body::Remove(Remove {
            subject: DeviceKey(SUBJECT),
            seen: [ChangeHash([0x02; 32]), ChangeHash([0x01; 32])]
                .into_iter()
                .collect(),
        })),
    );
}

#[test]
fn pinned_names() {
    pinned(
        body(
            b"hearth/v2/name",
            &[&[0x00], &PARTNER, &[0x00, 0x03], b"Ana"],
        ),
        record(Body::Name(Name {
            subject: NameSubject::Partner(PartnerCode(PARTNER)),
            name: "Ana".into(),
        })),
    );
    pinned(
        body(
            b"hearth/v2/name",
            &[&[0x01], &SUBJECT, &[0x00, 0x05], b"phone"],
        ),
        record(Body::Name(Name {
            subject: NameSubject::Device(DeviceKey(SUBJECT)),
            name: "phone".into(),
        })),
    );
}

#[test]
fn pinned_setting() {
    pinned(
        body(
            b"hearth/v2/setting",
            &[&[0x00, 0x0e], b"day_start_hour", &[0x00, 0x01], b"4"],
        ),
        record(Body::Setting(Setting {
            key: "day_start_hour".into(),
            value: "4".into(),
        })),
    );
}

#[test]
fn pinned_rituals() {
    let fields = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    // A creating record: empty `ritual`, fields in byte order of their keys.
    pinned(
        body(
            b"hearth/v2/ritual",
            &[
                &[0x00, 0x00],
                &[0x00, 0x03],
                &[0x00, 0x07],
                b"cadence",
                &[0x00, 0x05],
                b"daily",
                &[0x00, 0x04],
                b"name",
                &[0x00, 0x04],
                b"Walk",
                &[0x00, 0x05],
                b"owner",
                &[0x00, 0x04],
                b"both",
            ],
        ),
        record(Body::Ritual(RitualRecord {
            ritual: None,
            fields: fields(&[("owner", "both"), ("name", "Walk"), ("cadence", "daily")]),
        })),
    );
    // A change of the ritual whose id is 16 bytes of 0xab.
    pinned(
        body(
            b"hearth/v2/ritual",
            &[
                &[0x00, 0x20],
                b"abababababababababababababababab",
                &[0x00, 0x01],
                &[0x00, 0x08],
                b"archived",
                &[0x00, 0x01],
                b"1",
            ],
        ),
        record(Body::Ritual(RitualRecord {
            ritual: Some(RecordKey([0xab; 16])),
            fields: fields(&[("archived", "1")]),
        })),
    );
}

#[test]
fn pinned_prompt() {
    pinned(
        body(
            b"hearth/v2/prompt",
            &[&[0x00, 0x03], b"day", &[0x00, 0x0b], b"Best bit?\xc2\xa0"],
        ),
        record(Body::Prompt(PromptRecord {
            theme: "day".into(),
            text: "Best bit?\u{a0}".into(),
        })),
    );
}

#[test]
fn pinned_resolve() {
    pinned(
        body(
            b"hearth/v2/resolve",
            &[
                &[0x00, 0x27],
                b"p/22222222222222222222222222222222/2026",
                &[0x00, 0x1a],
                b"01jh0000000000000000000000",
                &[0x01],
            ],
        ),
        record(Body::Resolve(Resolve {
            doc: format!("p/{}/2026", "22".repeat(16)),
            entry: "01jh0000000000000000000000".into(),
            resolved: true,
        })),
    );
}

#[test]
fn the_key_is_the_first_half_of_sha256_of_the_body() {
    let ana = Device::new(1);
    let signed = ana.root_cert("laptop");
    // Computed outside this crate: the hash's first 16 bytes, in hex.
    let digest = {
        use sha2::{Digest, Sha256};
        Sha256::digest(signed.body())
    };
    assert_eq!(
        signed.key().to_hex(),
        crate::records::ids::hex(&digest[..16])
    );
    assert_eq!(signed.to_bytes().len(), SIGNATURE_LEN + signed.body().len());
    assert_eq!(&signed.to_bytes()[..SIGNATURE_LEN], signed.signature());
}

#[test]
fn a_signed_record_verifies_and_round_trips() {
    let ana = Device::new(1);
    let signed = ana.root_cert("laptop");
    let bytes = signed.to_bytes();
    let back = SignedRecord::verify(&bytes).unwrap();
    assert_eq!(back, signed);
    assert_eq!(
        SignedRecord::verify_stored(&signed.key().to_hex(), &bytes).unwrap(),
        signed
    );
    // Signing is deterministic: the same key and body give the same bytes.
    assert_eq!(ana.root_cert("laptop").to_bytes(), bytes);
}

#[test]
fn a_flipped_bit_in_the_signature_is_refused() {
    let signed = Device::new(1).root_cert("laptop");
    let bytes = signed.to_bytes();
    for bit in 0..SIGNATURE_LEN * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert_eq!(
            SignedRecord::verify(&bad),
            Err(RecordError::BadSignature),
            "bit {bit}"
        );
    }
}

#[test]
fn a_flipped_bit_in_the_body_is_refused() {
    let signed = Device::new(1).root_cert("laptop");
    let mut bad = signed.to_bytes();
    // 'l' (0x6c) becomes 'm': the body still parses, the signature fails.
    let last = bad.len() - 6;
    assert_eq!(bad[last], b'l');
    bad[last] ^= 0x01;
    assert!(Record::parse(&bad[SIGNATURE_LEN..]).is_ok());
    assert_eq!(SignedRecord::verify(&bad), Err(RecordError::BadSignature));
    // Under its old key, the key check refuses it first.
    assert_eq!(
        SignedRecord::verify_stored(&signed.key().to_hex(), &bad),
        Err(RecordError::KeyMismatch)
    );
    // And every other bit of the body is refused one way or another.
    let bytes = signed.to_bytes();
    for bit in SIGNATURE_LEN * 8..bytes.len() * 8 {
        let mut bad = bytes.clone();
        bad[bit / 8] ^= 1 << (bit % 8);
        assert!(SignedRecord::verify(&bad).is_err(), "bit {bit}");
    }
}

#[test]
fn a_small_order_key_cannot_sign_everything() {
    // The identity point as signer, and R = identity, S = 0: the plain
    // ed25519 equation holds for every message. Strict checks refuse it.
    let mut identity = [0u8; 32];
    identity[0] = 1;
    let record = Record {
        signer: DeviceKey(identity),
        at: AT,
        body: Body::Cert(Cert {
            partner: PartnerCode::of_root(&DeviceKey(identity)),
            subject: DeviceKey(identity),
            name: "forged".into(),
        }),
    };
    let mut value = identity.to_vec();
    value.extend_from_slice(&[0u8; 32]);
    value.extend_from_slice(&record.to_body().unwrap());
    assert_eq!(SignedRecord::verify(&value), Err(RecordError::BadSignature));
}

#[test]
fn signing_with_another_devices_key_is_refused() {
    let ana = Device::new(1);
    let ben = Device::new(2);
    let record = Record {
        signer: ana.key,
        at: AT,
        body: Body::Approve(Approve {
            subject: ben.key,
            partner: ben.root_partner(),
        }),
    };
    assert_eq!(record.sign(&ben.signing), Err(RecordError::WrongSigningKey));
}

#[test]
fn unknown_tags_are_their_own_error() {
    let bytes = body(b"hearth/v3/wish", &[b"anything at all"]);
    assert_eq!(
        Record::parse(&bytes),
        Err(RecordError::UnknownTag("hearth/v3/wish".into()))
    );
    // The signed-heads record is not a couple record.
    let bytes = body(b"hearth/v2/heads", &[]);
    assert!(matches!(
        Record::parse(&bytes),
        Err(RecordError::UnknownTag(_))
    ));
}

#[test]
fn bodies_that_break_a_rule_are_refused() {
    let cert = |name: &[u8]| {
        let mut len = (name.len() as u16).to_be_bytes().to_vec();
        len.extend_from_slice(name);
        body(b"hearth/v2/cert", &[&PARTNER, &SUBJECT, &len])
    };
    assert!(Record::parse(&cert(b"phone")).is_ok());
    assert!(Record::parse(&cert(&[b'x'; 64])).is_ok());
    for bad in [&b""[..], &[b'x'; 65], b"two\nlines", b"tab\there", b"\x7f"] {
        assert!(
            matches!(
                Record::parse(&cert(bad)),
                Err(RecordError::BadField { field: "name", .. })
            ),
            "{bad:?}"
        );
    }
    let mut trailing = cert(b"phone");
    trailing.push(0);
    assert_eq!(
        Record::parse(&trailing),
        Err(RecordError::Canonical(CanonicalError::TrailingBytes {
            count: 1
        }))
    );
    let name_kind = body(b"hearth/v2/name", &[&[0x02], &PARTNER, &[0x00, 0x01], b"x"]);
    assert!(matches!(
        Record::parse(&name_kind),
        Err(RecordError::BadField { field: "kind", .. })
    ));
    let resolve = |doc: &[u8], entry: &[u8], resolved: u8| {
        let mut d = (doc.len() as u16).to_be_bytes().to_vec();
        d.extend_from_slice(doc);
        let mut e = (entry.len() as u16).to_be_bytes().to_vec();
        e.extend_from_slice(entry);
        body(b"hearth/v2/resolve", &[&d, &e, &[resolved]])
    };
    let doc = format!("p/{}/2026", "22".repeat(16));
    let entry = b"01jh0000000000000000000000";
    assert!(Record::parse(&resolve(doc.as_bytes(), entry, 0)).is_ok());
    assert!(Record::parse(&resolve(doc.as_bytes(), entry, 2)).is_err());
    let private = format!("v/{}/2026", "22".repeat(16));
    assert!(Record::parse(&resolve(private.as_bytes(), entry, 1)).is_err());
    let early = format!("p/{}/1969", "22".repeat(16));
    assert!(Record::parse(&resolve(early.as_bytes(), entry, 1)).is_err());
    assert!(Record::parse(&resolve(doc.as_bytes(), b"01JH0000000000000000000000", 1)).is_err());
    let ritual = body(b"hearth/v2/ritual", &[&[0x00, 0x03], b"abc", &[0x00, 0x00]]);
    assert!(matches!(
        Record::parse(&ritual),
        Err(RecordError::BadField {
            field: "ritual",
            ..
        })
    ));
    // A record that does not parse cannot be written either.
    let nameless = record(Body::Cert(Cert {
        partner: PartnerCode(PARTNER),
        subject: DeviceKey(SUBJECT),
        name: String::new(),
    }));
    assert!(nameless.to_body().is_err());
}

#[test]
fn size_bounds_hold_for_writing_and_reading() {
    let ana = Device::new(1);
    let fits = MAX_RECORD - SIGNATURE_LEN - body(b"hearth/v2/prompt", &[]).len() - 4 - 3;
    let prompt = |len: usize| Record {
        signer: ana.key,
        at: AT,
        body: Body::Prompt(PromptRecord {
            theme: "day".into(),
            text: "x".repeat(len),
        }),
    };
    let largest = prompt(fits).sign(&ana.signing).unwrap();
    assert_eq!(largest.to_bytes().len(), MAX_RECORD);
    assert!(SignedRecord::verify(&largest.to_bytes()).is_ok());
    assert!(matches!(
        prompt(fits + 1).sign(&ana.signing),
        Err(RecordError::TooLarge { .. })
    ));
    let mut over = largest.to_bytes();
    over.push(b'x');
    assert!(matches!(
        SignedRecord::verify(&over),
        Err(RecordError::TooLarge { .. })
    ));
    assert!(matches!(
        SignedRecord::verify(&[0u8; SIGNATURE_LEN]),
        Err(RecordError::TooShort { .. })
    ));
}

#[test]
fn writers_sort_after_what_they_saw() {
    assert_eq!(writer_at(100, None), 100);
    assert_eq!(writer_at(100, Some(40)), 100);
    assert_eq!(writer_at(100, Some(100)), 101);
    assert_eq!(writer_at(100, Some(500)), 501);
    assert_eq!(writer_at(0, Some(i64::MAX)), i64::MAX);
}

#[test]
fn removal_heads_are_kept_as_a_set() {
    let seen: BTreeSet<ChangeHash> = [ChangeHash([3; 32])].into_iter().collect();
    let r = record(Body::Remove(Remove {
        subject: DeviceKey(SUBJECT),
        seen: seen.clone(),
    }));
    let back = Record::parse(&r.to_body().unwrap()).unwrap();
    assert_eq!(
        back.body,
        Body::Remove(Remove {
            subject: DeviceKey(SUBJECT),
            seen
        })
    );
}

/// Bodies of every kind, to mutate.
fn samples() -> Vec<Vec<u8>> {
    let ana = Device::new(1);
    let seen: BTreeSet<ChangeHash> = [ChangeHash([1; 32]), ChangeHash([2; 32])]
        .into_iter()
        .collect();
    let fields: BTreeMap<String, String> = [("name", "Walk"), ("owner", "both")]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    [
        Body::Cert(Cert {
            partner: PartnerCode(PARTNER),
            subject: DeviceKey(SUBJECT),
            name: "phone".into(),
        }),
        Body::Approve(Approve {
            subject: DeviceKey(SUBJECT),
            partner: PartnerCode(PARTNER),
        }),
        Body::Remove(Remove {
            subject: DeviceKey(SUBJECT),
            seen,
        }),
        Body::Name(Name {
            subject: NameSubject::Device(DeviceKey(SUBJECT)),
            name: "ä".into(),
        }),
        Body::Setting(Setting {
            key: "k".into(),
            value: "v".into(),
        }),
        Body::Ritual(RitualRecord {
            ritual: Some(RecordKey([0xab; 16])),
            fields,
        }),
        Body::Prompt(PromptRecord {
            theme: "day".into(),
            text: "Why?".into(),
        }),
        Body::Resolve(Resolve {
            doc: format!("p/{}/2026", "22".repeat(16)),
            entry: "01jh0000000000000000000000".into(),
            resolved: false,
        }),
    ]
    .into_iter()
    .map(|body| ana.sign(AT, body).body().to_vec())
    .collect()
}

proptest::proptest! {
    /// Whatever a peer sends, parsing returns; and a body that parses is the
    /// one encoding of its record, so two byte strings never sign one record.
    #[test]
    fn a_mutated_body_is_refused_or_canonical(
        which in 0usize..8,
        at in 0usize..200,
        byte in proptest::prelude::any::<u8>(),
        how in 0u8..4,
    ) {
        let mut body = samples().swap_remove(which);
        let at = at % (body.len() + 1);
        match how {
            0 if at < body.len() => body[at] = byte,
            1 => body.insert(at, byte),
            2 if at < body.len() => {
                body.remove(at);
            }
            _ => body.truncate(at),
        }
        if let Ok(record) = Record::parse(&body) {
            proptest::prop_assert_eq!(record.to_body().unwrap(), body.clone());
        }
        let mut value = vec![0u8; SIGNATURE_LEN];
        value.extend_from_slice(&body);
        proptest::prop_assert!(SignedRecord::verify(&value).is_err());
    }
}
