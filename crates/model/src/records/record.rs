//! The records of the couple document: one body struct per kind, their
//! canonical bytes, and signing and verifying them.
//!
//! A signed record is a 64-byte ed25519 signature followed by the body. Every
//! body starts with its tag, its signer and its `at`; the fields of its kind
//! follow. Field rules are checked both when a body is written and when it is
//! read, so this device never writes what another would refuse.

use std::collections::{BTreeMap, BTreeSet};

use automerge::ChangeHash;
use ed25519_dalek::{Signature, Signer, SigningKey, VerifyingKey};

use super::canonical::{Reader, Writer};
use super::error::RecordError;
use super::ids::{DeviceKey, PartnerCode, RecordKey};

/// The largest stored record, signature included.
pub const MAX_RECORD: usize = 4096;
/// An ed25519 signature.
pub const SIGNATURE_LEN: usize = 64;
/// The longest device or partner name, in bytes.
pub const MAX_NAME: usize = 64;

pub const TAG_CERT: &str = "hearth/v2/cert";
pub const TAG_APPROVE: &str = "hearth/v2/approve";
pub const TAG_REMOVE: &str = "hearth/v2/remove";
pub const TAG_NAME: &str = "hearth/v2/name";
pub const TAG_SETTING: &str = "hearth/v2/setting";
pub const TAG_RITUAL: &str = "hearth/v2/ritual";
pub const TAG_PROMPT: &str = "hearth/v2/prompt";
pub const TAG_RESOLVE: &str = "hearth/v2/resolve";

/// One record of the couple document, before signing or after checking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// The device that signs the body.
    pub signer: DeviceKey,
    /// The writer's clock, in milliseconds since the Unix epoch, UTC.
    pub at: i64,
    pub body: Body,
}

/// What a record says, by kind.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Body {
    Cert(Cert),
    Approve(Approve),
    Remove(Remove),
    Name(Name),
    Setting(Setting),
    Ritual(RitualRecord),
    Prompt(PromptRecord),
    Resolve(Resolve),
}

/// Device `subject` belongs to `partner` and is called `name`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cert {
    pub partner: PartnerCode,
    pub subject: DeviceKey,
    pub name: String,
}

/// The signer's partner approves device `subject` of partner `partner`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Approve {
    pub subject: DeviceKey,
    pub partner: PartnerCode,
}

/// Device `subject` is removed for good. `seen` is the couple document's
/// heads on the signer when it signed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Remove {
    pub subject: DeviceKey,
    pub seen: BTreeSet<ChangeHash>,
}

/// Who a display name is for. On the wire: `kind` u8 (0 partner, 1 device),
/// then the id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum NameSubject {
    Partner(PartnerCode),
    Device(DeviceKey),
}

/// A display name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Name {
    pub subject: NameSubject,
    pub name: String,
}

/// A couple setting. Readers ignore keys they do not know.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Setting {
    pub key: String,
    pub value: String,
}

/// Creates a ritual (`ritual` is `None`: the ritual's id is this record's
/// key), or changes some fields of the ritual whose id is `ritual`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RitualRecord {
    pub ritual: Option<RecordKey>,
    pub fields: BTreeMap<String, String>,
}

/// A custom prompt. Its id is `c-` and this record's key, so it can never
/// be changed or claimed by another record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PromptRecord {
    pub theme: String,
    pub text: String,
}

/// A repair's agreements settled (`resolved`) or reopened.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolve {
    /// A partner document id, `p/<partner id>/<YYYY>`.
    pub doc: String,
    /// The repair's entry id, a lowercase ULID.
    pub entry: String,
    pub resolved: bool,
}

impl Body {
    pub fn tag(&self) -> &'static str {
        match self {
            Body::Cert(_) => TAG_CERT,
            Body::Approve(_) => TAG_APPROVE,
            Body::Remove(_) => TAG_REMOVE,
            Body::Name(_) => TAG_NAME,
            Body::Setting(_) => TAG_SETTING,
            Body::Ritual(_) => TAG_RITUAL,
            Body::Prompt(_) => TAG_PROMPT,
            Body::Resolve(_) => TAG_RESOLVE,
        }
    }
}

impl Record {
    /// The canonical body bytes. Refuses a record that breaks a field rule
    /// or would not fit in a stored record.
    pub fn to_body(&self) -> Result<Vec<u8>, RecordError> {
        self.check_fields()?;
        let mut w = Writer::new();
        w.tag(self.body.tag()).id32(&self.signer.0).i64(self.at);
        match &self.body {
            Body::Cert(c) => {
                w.id16(&c.partner.0).id32(&c.subject.0).str(&c.name)?;
            }
            Body::Approve(a) => {
                w.id32(&a.subject.0).id16(&a.partner.0);
            }
            Body::Remove(r) => {
                let seen: BTreeSet<[u8; 32]> = r.seen.iter().map(|h| h.0).collect();
                w.id32(&r.subject.0).hashes(&seen)?;
            }
            Body::Name(n) => {
                match n.subject {
                    NameSubject::Partner(p) => w.u8(0).id16(&p.0),
                    NameSubject::Device(d) => w.u8(1).id32(&d.0),
                };
                w.str(&n.name)?;
            }
            Body::Setting(s) => {
                w.str(&s.key)?.str(&s.value)?;
            }
            Body::Ritual(r) => {
                let ritual = r.ritual.map(|k| k.to_hex()).unwrap_or_default();
                w.str(&ritual)?.pairs(&r.fields)?;
            }
            Body::Prompt(p) => {
                w.str(&p.theme)?.str(&p.text)?;
            }
            Body::Resolve(r) => {
                w.str(&r.doc)?.str(&r.entry)?.u8(u8::from(r.resolved));
            }
        }
        let body = w.into_bytes();
        let max = MAX_RECORD - SIGNATURE_LEN;
        if body.len() > max {
            return Err(RecordError::TooLarge {
                len: body.len(),
                max,
            });
        }
        Ok(body)
    }

    /// Parses a body exactly. An unknown tag is its own error, since readers
    /// ignore such records rather than count them as broken.
    pub fn parse(body: &[u8]) -> Result<Record, RecordError> {
        let mut r = Reader::new(body);
        let tag = r.tag()?;
        // Checked before the common fields, so a future kind whose layout
        // differs is still only "unknown", never "broken".
        if !is_known_tag(tag) {
            return Err(RecordError::UnknownTag(tag.to_string()));
        }
        let signer = DeviceKey(r.id32()?);
        let at = r.i64()?;
        let body = match tag {
            TAG_CERT => Body::Cert(Cert {
                partner: PartnerCode(r.id16()?),
                subject: DeviceKey(r.id32()?),
                name: r.str()?.to_string(),
            }),
            TAG_APPROVE => Body::Approve(Approve {
                subject: DeviceKey(r.id32()?),
                partner: PartnerCode(r.id16()?),
            }),
            TAG_REMOVE => Body::Remove(Remove {
                subject: DeviceKey(r.id32()?),
                seen: r.hashes()?.into_iter().map(ChangeHash).collect(),
            }),
            TAG_NAME => {
                let subject = match r.u8()? {
                    0 => NameSubject::Partner(PartnerCode(r.id16()?)),
                    1 => NameSubject::Device(DeviceKey(r.id32()?)),
                    _ => {
                        return Err(RecordError::BadField {
                            field: "kind",
                            why: "is neither 0 (partner) nor 1 (device)",
                        });
                    }
                };
                Body::Name(Name {
                    subject,
                    name: r.str()?.to_string(),
                })
            }
            TAG_SETTING => Body::Setting(Setting {
                key: r.str()?.to_string(),
                value: r.str()?.to_string(),
            }),
            TAG_RITUAL => {
                let ritual = match r.str()? {
                    "" => None,
                    id => Some(id.parse::<RecordKey>().map_err(|_| RecordError::BadField {
                        field: "ritual",
                        why: "is neither empty nor a ritual id (32 lowercase hex)",
                    })?),
                };
                Body::Ritual(RitualRecord {
                    ritual,
                    fields: r.pairs()?,
                })
            }
            TAG_PROMPT => Body::Prompt(PromptRecord {
                theme: r.str()?.to_string(),
                text: r.str()?.to_string(),
            }),
            TAG_RESOLVE => Body::Resolve(Resolve {
                doc: r.str()?.to_string(),
                entry: r.str()?.to_string(),
                resolved: match r.u8()? {
                    0 => false,
                    1 => true,
                    _ => {
                        return Err(RecordError::BadField {
                            field: "resolved",
                            why: "is neither 0 nor 1",
                        });
                    }
                },
            }),
            _ => return Err(RecordError::UnknownTag(tag.to_string())),
        };
        r.finish()?;
        let record = Record { signer, at, body };
        record.check_fields()?;
        Ok(record)
    }

    /// The rules a field must keep beyond parsing.
    fn check_fields(&self) -> Result<(), RecordError> {
        match &self.body {
            Body::Cert(c) => check_name("name", &c.name),
            Body::Name(n) => check_name("name", &n.name),
            Body::Resolve(r) => {
                if !is_partner_doc_id(&r.doc) {
                    return Err(RecordError::BadField {
                        field: "doc",
                        why: "is not a partner document id p/<partner id>/<YYYY>",
                    });
                }
                if !is_lowercase_ulid(&r.entry) {
                    return Err(RecordError::BadField {
                        field: "entry",
                        why: "is not a lowercase ULID",
                    });
                }
                Ok(())
            }
            Body::Approve(_)
            | Body::Remove(_)
            | Body::Setting(_)
            | Body::Ritual(_)
            | Body::Prompt(_) => Ok(()),
        }
    }

    /// Signs the record with the signer's key.
    pub fn sign(self, key: &SigningKey) -> Result<SignedRecord, RecordError> {
        let body = self.to_body()?;
        let signature = sign_as(key, &self.signer, &body)?;
        Ok(SignedRecord {
            record: self,
            signature,
            body,
        })
    }
}

fn is_known_tag(tag: &str) -> bool {
    matches!(
        tag,
        TAG_CERT
            | TAG_APPROVE
            | TAG_REMOVE
            | TAG_NAME
            | TAG_SETTING
            | TAG_RITUAL
            | TAG_PROMPT
            | TAG_RESOLVE
    )
}

/// 1-64 bytes, no control characters: a name shows on one line.
pub fn check_name(field: &'static str, name: &str) -> Result<(), RecordError> {
    if name.is_empty() {
        return Err(RecordError::BadField {
            field,
            why: "is empty",
        });
    }
    if name.len() > MAX_NAME {
        return Err(RecordError::BadField {
            field,
            why: "is longer than 64 bytes",
        });
    }
    if name.chars().any(char::is_control) {
        return Err(RecordError::BadField {
            field,
            why: "holds a control character",
        });
    }
    Ok(())
}

fn is_lowercase_ulid(s: &str) -> bool {
    s.len() == 26
        && s.bytes()
            .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
        && ulid::Ulid::from_string(&s.to_ascii_uppercase()).is_ok()
}

/// `p/<32 lowercase hex>/<YYYY>`, the year 1970-9999. Private documents are
/// never named in the couple document.
fn is_partner_doc_id(s: &str) -> bool {
    let mut parts = s.split('/');
    let (Some("p"), Some(partner), Some(year), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    partner.parse::<PartnerCode>().is_ok()
        && year.len() == 4
        && year.bytes().all(|b| b.is_ascii_digit())
        && year
            .parse::<u16>()
            .is_ok_and(|y| (1970..=9999).contains(&y))
}

/// A record with its signature and the exact body bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedRecord {
    pub record: Record,
    signature: [u8; SIGNATURE_LEN],
    body: Vec<u8>,
}

impl SignedRecord {
    /// Checks a stored value: size, exact parse, strict signature by the
    /// signer the body names.
    pub fn verify(value: &[u8]) -> Result<SignedRecord, RecordError> {
        let (signature, body) = split_value(value)?;
        let record = Record::parse(body)?;
        verify_by(&record.signer, body, &signature)?;
        Ok(SignedRecord {
            record,
            signature,
            body: body.to_vec(),
        })
    }

    /// Checks a value found under `key` in the couple document's `records`:
    /// the key must be the hash of the body, then as `verify`.
    pub fn verify_stored(key: &str, value: &[u8]) -> Result<SignedRecord, RecordError> {
        let (_, body) = split_value(value)?;
        if key != RecordKey::of_body(body).to_hex() {
            return Err(RecordError::KeyMismatch);
        }
        SignedRecord::verify(value)
    }

    /// The record's key in `records`.
    pub fn key(&self) -> RecordKey {
        RecordKey::of_body(&self.body)
    }

    pub fn body(&self) -> &[u8] {
        &self.body
    }

    pub fn signature(&self) -> &[u8; SIGNATURE_LEN] {
        &self.signature
    }

    /// The stored value: signature, then body.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::with_capacity(SIGNATURE_LEN + self.body.len());
        out.extend_from_slice(&self.signature);
        out.extend_from_slice(&self.body);
        out
    }
}

/// `body` signed by `signer`, whose key `key` must be.
pub(super) fn sign_as(
    key: &SigningKey,
    signer: &DeviceKey,
    body: &[u8],
) -> Result<[u8; SIGNATURE_LEN], RecordError> {
    if key.verifying_key().to_bytes() != signer.0 {
        return Err(RecordError::WrongSigningKey);
    }
    Ok(key.sign(body).to_bytes())
}

/// Strict ed25519 verification of `body` against `signer`.
pub(super) fn verify_by(
    signer: &DeviceKey,
    body: &[u8],
    signature: &[u8; SIGNATURE_LEN],
) -> Result<(), RecordError> {
    VerifyingKey::from_bytes(&signer.0)
        .and_then(|k| k.verify_strict(body, &Signature::from_bytes(signature)))
        .map_err(|_| RecordError::BadSignature)
}

/// A stored value split into its signature and body, sizes checked.
pub(super) fn split_value(value: &[u8]) -> Result<([u8; SIGNATURE_LEN], &[u8]), RecordError> {
    if value.len() > MAX_RECORD {
        return Err(RecordError::TooLarge {
            len: value.len(),
            max: MAX_RECORD,
        });
    }
    if value.len() <= SIGNATURE_LEN {
        return Err(RecordError::TooShort { len: value.len() });
    }
    let (signature, body) = value.split_at(SIGNATURE_LEN);
    let mut sig = [0u8; SIGNATURE_LEN];
    sig.copy_from_slice(signature);
    Ok((sig, body))
}

/// The `at` a writer gives a record: its clock, or 1 ms past the greatest
/// `at` among the competing records it holds, whichever is later, so its
/// change sorts after what it saw even when clocks disagree.
pub fn writer_at(clock_ms: i64, greatest_competing: Option<i64>) -> i64 {
    match greatest_competing {
        Some(at) => clock_ms.max(at.saturating_add(1)),
        None => clock_ms,
    }
}

#[cfg(test)]
mod tests;
