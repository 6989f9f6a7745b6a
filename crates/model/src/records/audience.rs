//! What a device may be sent (docs/SCHEMA.md, "Sync: what goes to whom";
//! issue 9 point 2, issue 10 point 3): the table every device applies,
//! both to what it sends and, on receive, to what a peer sends it.
//!
//! | receiving device | couple | `p/P/*` | `v/P/*` | P's `mine` keys | P's `couple` keys |
//! |---|---|---|---|---|---|
//! | of P | yes | yes | yes | yes | yes |
//! | of Q, approved by P | yes | yes | no | no | yes |
//! | of Q, pending for P | only from Q's devices | no | no | no | no |
//! | removed, or unknown | no | no | no | no | no |

use super::ids::{DeviceKey, PartnerCode};
use super::trust::{DeviceStatus, TrustView};

/// Something one device may send another.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Item {
    /// The couple document.
    Couple,
    /// One of partner P's shared documents.
    Partner(PartnerCode),
    /// One of partner P's private documents.
    Private(PartnerCode),
    /// A content key of a document of P, by audience.
    MineKey(PartnerCode),
    CoupleKey(PartnerCode),
}

/// Whether `receiver` may get `item` from a device of partner `sender`.
/// Only the couple document depends on who sends it: a device pending for
/// P still gets it from its own partner's devices.
pub fn may_send(trust: &TrustView, sender: &PartnerCode, receiver: &DeviceKey, item: Item) -> bool {
    let status = |of: &PartnerCode| trust.status(of, receiver);
    let seen_by =
        |of: &PartnerCode| matches!(status(of), DeviceStatus::Mine | DeviceStatus::Partners);
    match item {
        Item::Couple => seen_by(sender),
        Item::Partner(p) | Item::CoupleKey(p) => seen_by(&p),
        Item::Private(p) | Item::MineKey(p) => status(&p) == DeviceStatus::Mine,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::couple::StoredRecord;
    use crate::records::testkit::{Device, change, linear, stored};

    /// Ana's laptop (root) and old phone (removed), Ben's desk (root), his
    /// tablet (approved by Ana) and his phone (pending for Ana), and a
    /// device nobody certified.
    struct World {
        a: PartnerCode,
        b: PartnerCode,
        ana: Device,
        ana_old: Device,
        ben: Device,
        ben_tablet: Device,
        ben_phone: Device,
        stranger: Device,
        trust: TrustView,
    }

    fn world() -> World {
        let (ana, ana_old, ben) = (Device::new(1), Device::new(2), Device::new(11));
        let (ben_tablet, ben_phone) = (Device::new(12), Device::new(13));
        let (a, b) = (ana.root_partner(), ben.root_partner());
        let records: Vec<StoredRecord> = vec![
            stored(&ana.root_cert("laptop"), change(1)),
            stored(&ben.root_cert("desk"), change(1)),
            stored(&ana.cert(a, &ana_old, "old phone"), change(2)),
            stored(&ben.cert(b, &ben_tablet, "tablet"), change(2)),
            stored(&ben.cert(b, &ben_phone, "phone"), change(2)),
            stored(&ana.approve(&ben, b), change(3)),
            stored(&ben.approve(&ana, a), change(3)),
            stored(&ana.approve(&ben_tablet, b), change(3)),
            stored(&ana.remove(&ana_old, &[change(3)]), change(4)),
        ];
        World {
            trust: TrustView::compute(&records, &linear),
            a,
            b,
            ana,
            ana_old,
            ben,
            ben_tablet,
            ben_phone,
            stranger: Device::new(21),
        }
    }

    #[test]
    fn every_cell_of_the_table() {
        let w = world();
        let t = &w.trust;
        // What Ana's devices send, and what any device relays of Ana's.
        let from_ana = |d: &Device, item| may_send(t, &w.a, &d.key, item);
        let all = [
            Item::Couple,
            Item::Partner(w.a),
            Item::Private(w.a),
            Item::MineKey(w.a),
            Item::CoupleKey(w.a),
        ];
        let row = |d: &Device| all.map(|item| from_ana(d, item));
        // Her own device: everything.
        assert_eq!(row(&w.ana), [true; 5]);
        // Ben's tablet, which Ana approved: all but private things.
        assert_eq!(row(&w.ben_tablet), [true, true, false, false, true]);
        // Ben's phone, pending for Ana: nothing from Ana's side...
        assert_eq!(row(&w.ben_phone), [false; 5]);
        // ...but the couple document from Ben's own devices, and Ben's
        // shared documents.
        assert!(may_send(t, &w.b, &w.ben_phone.key, Item::Couple));
        assert!(may_send(t, &w.b, &w.ben_phone.key, Item::Partner(w.b)));
        assert!(may_send(t, &w.b, &w.ben_phone.key, Item::Private(w.b)));
        // A removed device and a stranger: nothing, from anyone.
        for d in [&w.ana_old, &w.stranger] {
            assert_eq!(row(d), [false; 5]);
            assert!(!may_send(t, &w.b, &d.key, Item::Couple));
            assert!(!may_send(t, &w.b, &d.key, Item::Partner(w.b)));
        }
    }

    #[test]
    fn a_relay_follows_the_same_table() {
        let w = world();
        // Ben's desk relays Ana's documents: to his tablet, which Ana
        // approved, yes; to his pending phone, no; Ana's private ones never.
        let t = &w.trust;
        assert!(may_send(t, &w.b, &w.ben_tablet.key, Item::Partner(w.a)));
        assert!(!may_send(t, &w.b, &w.ben_phone.key, Item::Partner(w.a)));
        assert!(!may_send(t, &w.b, &w.ben_tablet.key, Item::Private(w.a)));
        assert!(!may_send(t, &w.b, &w.ben_tablet.key, Item::MineKey(w.a)));
        assert!(may_send(t, &w.b, &w.ben.key, Item::CoupleKey(w.a)));
    }
}
