//! Content keys between devices (docs/SCHEMA.md, "Key exchange"; issue 10,
//! points 1, 3 and 4). Keys travel in frames of their own, never in a
//! document, whose history would keep them for ever.
//!
//! Once a document is in sync in a session, each side offers the list of
//! live keys the other may hold, without the keys; each then gives the
//! keys the other lacks. A receiver takes a key only if it may hold it, its
//! copy of the document still shows that version, and the key opens it.

use automerge::Automerge;
use thiserror::Error;
use ulid::Ulid;

use super::audience::{Item, may_send};
use super::content::{VersionKey, open_version};
use super::entries::{Content, entries_map};
use super::forget::VersionId;
use super::heads::{DocKind, PartnerDoc};
use super::ids::DeviceKey;
use super::trust::TrustView;
use crate::EntryId;

/// Who may hold a content key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Audience {
    /// The devices of the document's partner.
    Mine = 0,
    /// Those, and the other partner's devices that partner approved.
    Couple = 1,
}

/// An entry version: the entry id's 128 bits and the version id.
pub type VersionRef = (u128, VersionId);

/// Frame 1: the live keys a side holds that the other may hold, as ids,
/// for the entries from `from` to `to` (their ids' 128 bits, inclusive): a
/// long list goes in several offers, each for its own span.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyOffer {
    pub doc: PartnerDoc,
    pub from: u128,
    pub to: u128,
    pub have: Vec<(VersionRef, Audience)>,
}

/// Frame 2: keys the other side lacks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyGift {
    pub doc: PartnerDoc,
    pub keys: Vec<(VersionRef, Audience, VersionKey)>,
}

/// What a gift leaves for the receiver's key file.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Taken {
    /// Keys to store, with their audience.
    pub keep: Vec<(VersionRef, Audience, VersionKey)>,
    /// Versions the document has replaced or deleted: stored as forgotten,
    /// so the key is refused for good.
    pub forget: Vec<VersionRef>,
    /// Keys that did not open their version, or whose version this device
    /// has not received: dropped.
    pub dropped: usize,
}

/// A gift that ends the session.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum KeyRefusal {
    #[error("a key of {doc} for a device that may not hold it")]
    NotAllowed { doc: PartnerDoc },
    #[error("keys of a private document in a key frame to another partner's device")]
    Private,
    /// The key opens a version whose content a local write would refuse
    /// (text over the limits, a bad shape): refused like a forgery, since
    /// only its key lets anyone check it.
    #[error("a key of {doc} opens content no write may make: {why}")]
    Malformed { doc: PartnerDoc, why: String },
}

/// Whether `device` may hold a key of `doc` with `audience`.
pub fn may_hold_key(
    trust: &TrustView,
    device: &DeviceKey,
    doc: &PartnerDoc,
    audience: Audience,
) -> bool {
    let item = match (doc.kind, audience) {
        (DocKind::Private, _) | (_, Audience::Mine) => Item::MineKey(doc.partner),
        (DocKind::Partner, Audience::Couple) => Item::CoupleKey(doc.partner),
    };
    // Keys do not depend on who sends them; the document's partner stands in.
    may_send(trust, &doc.partner, device, item)
}

/// Frame 1 for `peer`: every live key of `doc` held here that it may hold.
///
/// A long list goes as offers of at most `per_offer` keys, whose spans
/// together cover every entry id; the versions of one entry stay in one.
pub fn offer(
    trust: &TrustView,
    peer: &DeviceKey,
    doc: PartnerDoc,
    live: impl IntoIterator<Item = (VersionRef, Audience)>,
    per_offer: usize,
) -> Vec<KeyOffer> {
    let mut have: Vec<(VersionRef, Audience)> = live
        .into_iter()
        .filter(|(_, a)| may_hold_key(trust, peer, &doc, *a))
        .collect();
    have.sort();
    let per_offer = per_offer.max(1);
    let mut offers = Vec::new();
    let mut from = 0u128;
    let mut rest = have.as_slice();
    while rest.len() > per_offer {
        // Cut before the first key of the entry the part would split.
        let mut cut = per_offer;
        let entry = rest[cut].0.0;
        while cut > 0 && rest[cut - 1].0.0 == entry {
            cut -= 1;
        }
        if cut == 0 {
            cut = rest.iter().take_while(|(v, _)| v.0 == entry).count();
            if cut == rest.len() {
                break;
            }
        }
        let next = rest[cut].0.0;
        offers.push(KeyOffer {
            doc,
            from,
            to: next - 1,
            have: rest[..cut].to_vec(),
        });
        from = next;
        rest = &rest[cut..];
    }
    offers.push(KeyOffer {
        doc,
        from,
        to: u128::MAX,
        have: rest.to_vec(),
    });
    offers
}

/// Frame 2 for `peer`, after its offer: the keys held here that it may
/// hold and lacks, or holds with a narrower audience.
pub fn gift(
    trust: &TrustView,
    peer: &DeviceKey,
    theirs: &KeyOffer,
    mine: impl IntoIterator<Item = (VersionRef, Audience, VersionKey)>,
) -> KeyGift {
    let doc = theirs.doc;
    let has: std::collections::BTreeMap<VersionRef, Audience> =
        theirs.have.iter().copied().collect();
    let keys = mine
        .into_iter()
        .filter(|(v, a, _)| {
            (theirs.from..=theirs.to).contains(&v.0)
                && may_hold_key(trust, peer, &doc, *a)
                && has.get(v).is_none_or(|their| their < a)
        })
        .collect();
    KeyGift { doc, keys }
}

/// Takes a peer's gift for this device `me`, against its own copy of the
/// document. A key for a device that may not hold it ends the session.
pub fn take(
    trust: &TrustView,
    me: &DeviceKey,
    gift: KeyGift,
    doc: &Automerge,
) -> Result<Taken, KeyRefusal> {
    let mut taken = Taken::default();
    let Ok(entries) = entries_map(doc) else {
        taken.dropped = gift.keys.len();
        return Ok(taken);
    };
    let name = gift.doc.to_string();
    for (version, audience, key) in gift.keys {
        if !may_hold_key(trust, me, &gift.doc, audience) {
            return Err(match gift.doc.kind {
                DocKind::Private => KeyRefusal::Private,
                DocKind::Partner => KeyRefusal::NotAllowed { doc: gift.doc },
            });
        }
        let entry = EntryId(Ulid(version.0));
        // One walk of the entry's map answers both questions below.
        let raw = super::entries::raw_in(doc, &entries, &entry);
        if raw.as_ref().is_some_and(|r| r.deleted()) {
            taken.forget.push(version);
            continue;
        }
        let Some(sealed) = raw.as_ref().and_then(|r| r.sealed(&version.1)) else {
            // Replaced, if this device has seen the entry at all; otherwise
            // its changes have not arrived, and the key comes again later.
            if raw.is_none_or(|r| r.versions().is_empty()) {
                taken.dropped += 1;
            } else {
                taken.forget.push(version);
            }
            continue;
        };
        let Ok(plain) = open_version(&key, &name, &entry, sealed) else {
            taken.dropped += 1;
            continue;
        };
        let checked = serde_json::from_slice::<Content>(&plain)
            .map_err(|e| e.to_string())
            .and_then(|c| c.validate().map_err(|e| e.to_string()));
        if let Err(why) = checked {
            return Err(KeyRefusal::Malformed { doc: gift.doc, why });
        }
        taken.keep.push((version, audience, key));
    }
    Ok(taken)
}

// Tested with real sessions in `exchange::tests`.
