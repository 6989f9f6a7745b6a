//! What pairing writes, once the two devices' couple documents agree
//! (docs/SCHEMA.md, "Trust", the pairing table). Pairing itself only
//! confirms, on both screens, who is on the other end; whether the peer is
//! a new device of mine or a device of my partner's shows only once each
//! side has the other's certificates, so the records wait until then.

use super::ids::{DeviceKey, PartnerCode};
use super::trust::{DeviceStatus, TrustView};

/// The record this device writes for a paired peer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Settle {
    /// The peer is not set up: it becomes a device of mine.
    Certify,
    /// The peer is a device of my partner's that mine has not approved.
    Approve(PartnerCode),
    /// Nothing more to write: it is mine, already approved, or removed.
    Done,
    /// This device is not set up, so nothing it signs would count; the
    /// peer's records will make it one of the couple's.
    Wait,
}

/// What to write for `peer`, paired with this device of partner `me`,
/// once the couple documents are in sync.
pub fn settle(trust: &TrustView, me: Option<PartnerCode>, peer: &DeviceKey) -> Settle {
    let Some(me) = me else {
        return Settle::Wait;
    };
    match trust.status(&me, peer) {
        DeviceStatus::Mine | DeviceStatus::Partners | DeviceStatus::Removed => Settle::Done,
        DeviceStatus::Pending => match trust.valid(peer) {
            Some(p) => Settle::Approve(*p),
            None => Settle::Done,
        },
        // Certified by nobody, even as a root of its own: not set up. A
        // device that was ignored (certified for two partners) also lands
        // here; certifying it again changes nothing, which is right.
        DeviceStatus::Unknown if trust.ever_certified(peer).is_none() => Settle::Certify,
        DeviceStatus::Unknown => Settle::Done,
    }
}

#[cfg(test)]
mod tests {
    use automerge::ActorId;

    use super::*;
    use crate::records::couple_write::{Signer, approve, certify, found_partner, remove, trust_of};
    use crate::records::exchange::genesis_of;
    use crate::records::manifest::DocId;
    use crate::records::testkit::Device;

    fn signer(d: &Device) -> Signer<'_> {
        Signer {
            key: &d.signing,
            clock_ms: 1,
        }
    }

    #[test]
    fn pairing_certifies_a_new_device_approves_a_partners_and_leaves_the_rest() {
        let (ana, ben, tablet, old) = (
            Device::new(1),
            Device::new(11),
            Device::new(3),
            Device::new(4),
        );
        let a = ana.root_partner();
        let mut doc = genesis_of(&DocId::Couple).with_actor(ActorId::from(ana.key.0.as_slice()));
        assert_eq!(
            settle(&trust_of(&doc), None, &ben.key),
            Settle::Wait,
            "not set up"
        );
        found_partner(&mut doc, &signer(&ana), "laptop", "Ana").unwrap();
        // A device with no certificate at all: a new one of mine.
        assert_eq!(
            settle(&trust_of(&doc), Some(a), &tablet.key),
            Settle::Certify
        );
        certify(&mut doc, &signer(&ana), a, tablet.key, "tablet").unwrap();
        assert_eq!(settle(&trust_of(&doc), Some(a), &tablet.key), Settle::Done);
        // Ben, set up on his own: approved, once.
        found_partner(&mut doc, &signer(&ben), "desk", "Ben").unwrap();
        let b = ben.root_partner();
        assert_eq!(
            settle(&trust_of(&doc), Some(a), &ben.key),
            Settle::Approve(b)
        );
        approve(&mut doc, &signer(&ana), ben.key, b).unwrap();
        assert_eq!(settle(&trust_of(&doc), Some(a), &ben.key), Settle::Done);
        // A removed device is never brought back.
        certify(&mut doc, &signer(&ana), a, old.key, "old").unwrap();
        remove(&mut doc, &signer(&ana), old.key).unwrap();
        assert_eq!(settle(&trust_of(&doc), Some(a), &old.key), Settle::Done);
    }
}
