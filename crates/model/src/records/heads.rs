//! Signed heads: how a receiver knows that a partner document's changes
//! were written by that partner's own devices (docs/SCHEMA.md,
//! "Authenticity: signed heads", issue 9 point 1).
//!
//! A device signs its document's heads after each commit. Change hashes
//! chain, so one signature covers the whole history below those heads, as
//! a signed git tag does. A receiver takes a peer's changes to partner P's
//! document only when each change is by a device of P and every head of
//! the result is named by heads that a device of P signed.
//!
//! Pure functions: keys come in as arguments; the daemon keeps the records
//! and the session's scratch fork.

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use automerge::{Automerge, ChangeHash};
use ed25519_dalek::SigningKey;
use thiserror::Error;

use super::canonical::{Reader, Writer};
use super::error::RecordError;
use super::ids::{DeviceKey, PartnerCode, hex};
use super::receive::MAX_CHANGE;
use super::record::{SIGNATURE_LEN, sign_as, split_value, verify_by};
use super::trust::TrustView;

pub const TAG_HEADS: &str = "hearth/v2/heads";
/// More heads than a document of two partners' few devices ever has.
pub const MAX_HEADS: usize = 64;

/// Which of a partner's documents: the shared journal of a year, or the
/// private one that syncs only among that partner's devices.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DocKind {
    Partner,
    Private,
}

/// A document that only one partner's devices write:
/// `p/<partner id>/<YYYY>` or `v/<partner id>/<YYYY>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PartnerDoc {
    pub kind: DocKind,
    pub partner: PartnerCode,
    pub year: u16,
}

impl fmt::Display for PartnerDoc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kind = match self.kind {
            DocKind::Partner => "p",
            DocKind::Private => "v",
        };
        write!(f, "{kind}/{}/{:04}", self.partner, self.year)
    }
}

impl FromStr for PartnerDoc {
    type Err = RecordError;

    fn from_str(s: &str) -> Result<PartnerDoc, RecordError> {
        let bad = || RecordError::BadField {
            field: "doc",
            why: "is not p/<partner id>/<year> or v/<partner id>/<year>",
        };
        let mut parts = s.split('/');
        let kind = match parts.next() {
            Some("p") => DocKind::Partner,
            Some("v") => DocKind::Private,
            _ => return Err(bad()),
        };
        let partner = parts.next().and_then(|p| p.parse().ok()).ok_or_else(bad)?;
        let year = parts
            .next()
            .filter(|y| y.len() == 4 && y.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|y| y.parse().ok())
            .filter(|y| (1970..=9999).contains(y))
            .ok_or_else(bad)?;
        if parts.next().is_some() {
            return Err(bad());
        }
        Ok(PartnerDoc {
            kind,
            partner,
            year,
        })
    }
}

/// What a device signs after a commit that changes one of its partner's
/// documents.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HeadsRecord {
    pub signer: DeviceKey,
    /// One higher for each signed-heads record the signer makes.
    pub counter: u64,
    pub doc: PartnerDoc,
    pub heads: BTreeSet<ChangeHash>,
}

impl HeadsRecord {
    fn to_body(&self) -> Result<Vec<u8>, RecordError> {
        check_heads(self.heads.len())?;
        let heads: BTreeSet<[u8; 32]> = self.heads.iter().map(|h| h.0).collect();
        let mut w = Writer::new();
        w.tag(TAG_HEADS)
            .id32(&self.signer.0)
            .u64(self.counter)
            .str(&self.doc.to_string())?
            .hashes(&heads)?;
        Ok(w.into_bytes())
    }

    fn parse(body: &[u8]) -> Result<HeadsRecord, RecordError> {
        let mut r = Reader::new(body);
        let tag = r.tag()?;
        if tag != TAG_HEADS {
            return Err(RecordError::UnknownTag(tag.to_string()));
        }
        let signer = DeviceKey(r.id32()?);
        let counter = r.u64()?;
        let doc = r.str()?.parse()?;
        let heads: BTreeSet<ChangeHash> = r.hashes()?.into_iter().map(ChangeHash).collect();
        r.finish()?;
        check_heads(heads.len())?;
        Ok(HeadsRecord {
            signer,
            counter,
            doc,
            heads,
        })
    }

    /// Signs the record with the signer's key.
    pub fn sign(self, key: &SigningKey) -> Result<SignedHeads, RecordError> {
        let body = self.to_body()?;
        let signature = sign_as(key, &self.signer, &body)?;
        Ok(SignedHeads {
            record: self,
            signature,
            body,
        })
    }
}

fn check_heads(n: usize) -> Result<(), RecordError> {
    match n {
        0 => Err(RecordError::BadField {
            field: "heads",
            why: "is empty",
        }),
        n if n > MAX_HEADS => Err(RecordError::BadField {
            field: "heads",
            why: "holds more than 64",
        }),
        _ => Ok(()),
    }
}

/// A signed-heads record with its signature and the body bytes it covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignedHeads {
    pub record: HeadsRecord,
    signature: [u8; SIGNATURE_LEN],
    body: Vec<u8>,
}

impl SignedHeads {
    /// Checks bytes from a peer or a file: size, exact parse, strict
    /// signature by the signer the body names.
    pub fn verify(value: &[u8]) -> Result<SignedHeads, RecordError> {
        let (signature, body) = split_value(value)?;
        let record = HeadsRecord::parse(body)?;
        verify_by(&record.signer, body, &signature)?;
        Ok(SignedHeads {
            record,
            signature,
            body: body.to_vec(),
        })
    }

    /// Signature, then body: what is stored and sent.
    pub fn to_bytes(&self) -> Vec<u8> {
        [self.signature.as_slice(), &self.body].concat()
    }
}

/// Why a peer's changes to a partner document were refused, as a forged
/// message is.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum PartnerRefusal {
    #[error("change {change} is {len} bytes, the maximum is {MAX_CHANGE}")]
    TooLarge { change: String, len: usize },
    #[error("change {change} to {doc} is by {actor}, which is not a device of that partner")]
    Actor {
        change: String,
        doc: PartnerDoc,
        actor: String,
    },
    #[error("head {head} of {doc} is not covered by heads a device of that partner signed")]
    Uncovered { head: String, doc: PartnerDoc },
    #[error("changes to {doc} leave what no write makes: {why}")]
    Shape { doc: PartnerDoc, why: String },
}

/// What to do with a session's scratch fork of a partner document after a
/// message (SCHEMA.md, "Accepting a peer's changes", steps 4 to 7).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Verdict {
    /// Every new change is by a device of the partner and every head is
    /// signed for: the changes may go into the real document.
    Accept,
    /// Some heads are not signed for yet, but the sender announced heads
    /// the fork does not hold: more is on its way.
    Wait,
}

/// Checks a session's scratch fork of partner document `doc` after a
/// peer's message, against the real document's heads `real_heads`.
///
/// - Each change the real document lacks is at most [`MAX_CHANGE`] bytes,
///   by an actor that is a device in C for the document's partner (removed
///   or not: what it wrote before its removal stays that partner's). The
///   document's `genesis`, which any device can rebuild, is exempt.
/// - Every head of the fork that the real document lacks is the genesis or
///   is named, for this document, in one of `signed` (already verified) by
///   such a device. Otherwise, if some heads the sender `announced` are not
///   in the fork yet, more is coming and the answer is to wait; if they all
///   are, the message is refused.
pub fn check_partner_changes(
    doc: &PartnerDoc,
    genesis: &ChangeHash,
    fork: &Automerge,
    real_heads: &[ChangeHash],
    announced: &[ChangeHash],
    signed: &[SignedHeads],
    trust: &TrustView,
) -> Result<Verdict, PartnerRefusal> {
    let of_partner = |device: &DeviceKey| trust.certified(device) == Some(&doc.partner);
    for change in fork.get_changes(real_heads) {
        if change.hash() == *genesis {
            continue;
        }
        let name = hex(&change.hash().0);
        let len = change.raw_bytes().len();
        if len > MAX_CHANGE {
            return Err(PartnerRefusal::TooLarge { change: name, len });
        }
        let actor = change.actor_id().to_bytes();
        let by_partner = <[u8; 32]>::try_from(actor)
            .map(DeviceKey)
            .is_ok_and(|d| of_partner(&d));
        if !by_partner {
            return Err(PartnerRefusal::Actor {
                change: name,
                doc: *doc,
                actor: hex(actor),
            });
        }
    }
    let covered: BTreeSet<ChangeHash> = signed
        .iter()
        .map(|s| &s.record)
        .filter(|r| r.doc == *doc && of_partner(&r.signer))
        .flat_map(|r| r.heads.iter().copied())
        .chain([*genesis])
        .collect();
    // Every new change lies under a head the real document lacks, so
    // those are the heads that need a signature; a head the real document
    // holds was checked when it came.
    let uncovered = fork
        .get_heads()
        .into_iter()
        .filter(|h| !real_heads.contains(h))
        .find(|h| !covered.contains(h));
    match uncovered {
        None => Ok(Verdict::Accept),
        Some(_)
            if announced
                .iter()
                .any(|h| fork.get_change_meta_by_hash(h).is_none()) =>
        {
            Ok(Verdict::Wait)
        }
        Some(head) => Err(PartnerRefusal::Uncovered {
            head: hex(&head.0),
            doc: *doc,
        }),
    }
}

#[cfg(test)]
mod tests;
