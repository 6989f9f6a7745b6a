//! The couple's devices: trusting and removing them, where they listen,
//! and the list `hearth peers` shows, which joins what the document says
//! with what the sync layer sees live.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use hearth_ipc::{PeerInfo, PeerList, PeersAdd, PeersApprove, PeersRemove, Response};
use hearth_model::DeviceId;
use hearth_model::records::ids::DeviceKey;
use hearth_model::records::manifest::DocId;
use hearth_model::records::trust::DeviceStatus;
use hearth_sync::{EndpointId, Hello, PeerStatus, SyncError, TrustedSet};

use super::{Handled, Ready, Refusal};

impl Ready {
    /// The device-list changes not shown here yet, which count as shown
    /// from now on; or all of them, which changes nothing.
    pub(super) fn notices(&mut self, q: &hearth_ipc::NoticesQuery) -> Response {
        let Some(couple) = self.journal.document(&DocId::Couple) else {
            return Response::Notices { lines: Vec::new() };
        };
        let all = hearth_model::records::notices::device_notices(
            self.journal.trust(),
            &self.journal.device(),
            &hearth_model::records::history::DocHistory::new(couple),
        );
        let shown: Vec<_> = all
            .into_iter()
            .filter(|n| q.all || !self.index.was_seen(&n.key.to_hex()))
            .collect();
        // `all` is a look back, and leaves the new ones new.
        if !q.all {
            self.index.see(shown.iter().map(|n| n.key.to_hex()));
        }
        Response::Notices {
            lines: shown.into_iter().map(|n| n.text).collect(),
        }
    }

    pub(super) fn peers_add(&mut self, r: PeersAdd) -> Handled {
        let peer: EndpointId = r.id.trim().parse().map_err(|_| {
            Refusal::bad(format!(
                "invalid device id {:?}: expected 64 hex characters",
                r.id
            ))
        })?;
        if peer.to_string() == self.base.identity.device.0 {
            return Err(Refusal::bad("that is this device's own id"));
        }
        self.pair_with(peer)
            .map_err(|e| Refusal::new(hearth_ipc::ErrorKind::Storage, e.to_string()))?;
        if self.base.addresses.learn_own(&peer.to_string(), &r.addrs) {
            self.save_addresses();
        }
        Ok(Response::Ok)
    }

    pub(super) fn peers_remove(&mut self, r: PeersRemove) -> Handled {
        let dev = self.resolve_device(&r.id)?;
        if dev == self.base.identity.device {
            return Err(Refusal::bad(
                "this device cannot remove itself; remove it from another device",
            ));
        }
        let was_paired = self.unpair(dev.as_str());
        if self.journal.devices().contains_key(&dev) {
            let key = device_key(&dev).map_err(Refusal::bad)?;
            self.journal.remove_device(key, r.at)?;
        } else if !was_paired {
            return Err(Refusal::bad(format!("no trusted device {dev}")));
        }
        self.base.save_identity("the paired devices");
        self.save_addresses();
        Ok(Response::Ok)
    }

    /// Approves a device of the other partner that mine has not approved:
    /// from now on my devices sync with it.
    pub(super) fn peers_approve(&mut self, r: PeersApprove) -> Handled {
        let dev = self.resolve_device(&r.id)?;
        let status = self.journal.devices().get(&dev).map(|d| d.status);
        match status {
            Some(DeviceStatus::Pending) => {}
            Some(DeviceStatus::Partners) => {
                return Err(Refusal::bad(format!("{dev} is approved already")));
            }
            Some(DeviceStatus::Mine) => {
                return Err(Refusal::bad(format!(
                    "{dev} is one of your own devices; it needs no approval"
                )));
            }
            _ => {
                return Err(Refusal::bad(format!(
                    "{dev} is not a device of your partner's yet; it appears once their devices have synced with it"
                )));
            }
        }
        let key = device_key(&dev).map_err(Refusal::bad)?;
        self.journal.approve(key, r.at)?;
        Ok(Response::Ok)
    }

    /// A device by id prefix or name: one of the couple's, not removed, or
    /// one paired and not settled yet.
    fn resolve_device(&self, who: &str) -> Result<DeviceId, Refusal> {
        let w = who.trim().to_lowercase();
        let mut hits: Vec<DeviceId> = self
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| {
                d.status != DeviceStatus::Removed
                    && (id.as_str().starts_with(&w) || d.name.to_lowercase() == w)
            })
            .map(|(id, _)| id)
            .collect();
        for p in &self.base.identity.paired {
            let id = DeviceId(p.clone().into());
            if p.starts_with(&w) && !hits.contains(&id) {
                hits.push(id);
            }
        }
        match hits.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(Refusal::new(
                hearth_ipc::ErrorKind::NotFound,
                format!("no trusted device matches {who:?}"),
            )),
            _ => Err(Refusal::bad(format!(
                "{who:?} matches {} devices; give more of the id",
                hits.len()
            ))),
        }
    }

    /// Every device of the couple but this one and the removed, and those
    /// paired but not settled yet, with the live status the sync layer
    /// reported (offline for any it did not mention).
    pub(super) fn peer_list(&self, live: &[PeerStatus]) -> Response {
        let me = &self.base.identity.device;
        let book = &self.base.addresses;
        let addrs = |a: &[SocketAddr]| a.iter().map(ToString::to_string).collect();
        let mut shown: Vec<(DeviceId, String, Option<String>)> = self
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| id != me && d.status != DeviceStatus::Removed)
            .map(|(id, d)| {
                let name = match d.status {
                    DeviceStatus::Pending => format!(
                        "{} (pending: approve it with `hearth peers approve`)",
                        d.name
                    ),
                    _ => d.name.clone(),
                };
                (id, name, Some(self.view.name_of(&d.partner).to_string()))
            })
            .collect();
        for p in &self.base.identity.paired {
            let id = DeviceId(p.clone().into());
            if !shown.iter().any(|(s, _, _)| *s == id) {
                shown.push((id, "(paired, not synced yet)".to_string(), None));
            }
        }
        let peers = shown
            .into_iter()
            .map(|(id, name, partner)| {
                let now = live.iter().find(|s| s.id == id.as_str());
                let progress = device_key(&id)
                    .ok()
                    .and_then(|k| self.journal.sync_progress(&k));
                PeerInfo {
                    id: id.to_string(),
                    name,
                    partner,
                    online: now.is_some_and(|s| s.online),
                    last_sync: now
                        .and_then(|s| s.last_sync)
                        .map(chrono::DateTime::<chrono::Utc>::from),
                    path: now.and_then(|s| s.path.clone()),
                    unsent_changes: device_key(&id)
                        .ok()
                        .and_then(|k| self.journal.unsent_to(&k)),
                    addrs: addrs(&book.addrs(id.as_str())),
                    last_error: now.and_then(|s| s.last_error.clone()),
                    bytes_sent: now.map_or(0, |s| s.bytes_sent),
                    bytes_received: now.map_or(0, |s| s.bytes_received),
                    refused: id
                        .as_str()
                        .parse::<EndpointId>()
                        .map_or(0, |p| self.sessions.refused(&p)),
                    docs_in_sync: progress.map(|(done, _)| done),
                    docs_total: progress.map(|(_, total)| total),
                }
            })
            .collect();
        Response::Peers(PeerList {
            me: me.to_string(),
            addrs: addrs(self.base.own_addrs.as_deref().unwrap_or_default()),
            peers,
        })
    }

    /// Pairing succeeded: the device may sync the couple document, and the
    /// records pairing owes are written once it has (`settle`).
    pub(super) fn trust(
        &mut self,
        peer: EndpointId,
        addrs: &[SocketAddr],
    ) -> Result<(), SyncError> {
        self.pair_with(peer)
            .map_err(|e| SyncError::Trust(e.to_string()))?;
        if self.base.addresses.learn_own(&peer.to_string(), addrs) {
            self.save_addresses();
        }
        Ok(())
    }

    /// Notes `peer` as paired, unless the records already settle it.
    fn pair_with(&mut self, peer: EndpointId) -> Result<(), String> {
        let id = peer.to_string();
        let removed = self
            .journal
            .devices()
            .get(&DeviceId(id.clone().into()))
            .is_some_and(|d| d.status == DeviceStatus::Removed);
        if removed {
            return Err(format!(
                "{id} was removed from this journal; a removal is final"
            ));
        }
        if !self.base.identity.paired.contains(&id) {
            self.base.identity.paired.push(id);
            self.base.save_identity("the paired devices");
        }
        self.adopt_held_addresses();
        self.publish();
        Ok(())
    }

    /// Forgets that `id` was paired; says whether it was.
    fn unpair(&mut self, id: &str) -> bool {
        let before = self.base.identity.paired.len();
        self.base.identity.paired.retain(|p| p != id);
        before != self.base.identity.paired.len()
    }

    /// Whether `peer` is paired and its records have not settled.
    pub(super) fn is_paired(&self, peer: &EndpointId) -> bool {
        self.base.identity.paired.contains(&peer.to_string())
    }

    /// Drops from the paired list the devices the records now settle.
    pub(super) fn settle_paired_list(&mut self) {
        let devices = self.journal.devices();
        let before = self.base.identity.paired.len();
        self.base.identity.paired.retain(|p| {
            !devices.get(&DeviceId(p.clone().into())).is_some_and(|d| {
                matches!(
                    d.status,
                    DeviceStatus::Mine | DeviceStatus::Partners | DeviceStatus::Removed
                )
            })
        });
        if before != self.base.identity.paired.len() {
            self.base.save_identity("the paired devices");
        }
    }

    /// A trusted peer's hello: where it listens, first-hand, and where it
    /// reached the couple's other devices, second-hand. Said of anyone we do
    /// not trust, or of ourselves, it is ignored.
    pub(super) fn heard(&mut self, peer: EndpointId, hello: &Hello) {
        let me = self.base.identity.device.as_str().to_string();
        let trusted = self.trusted_ids();
        let sender = peer.to_string();
        if !trusted.contains(&sender) {
            return;
        }
        let book = &mut self.base.addresses;
        let mut changed = book.learn_own(&sender, &hello.addrs);
        for (id, addrs) in &hello.known {
            let id = id.to_string();
            if id == me || id == sender {
                continue;
            }
            if trusted.contains(&id) {
                changed |= book.learn_heard(&id, addrs);
            } else {
                book.hold(&id, addrs);
            }
        }
        if changed {
            self.save_addresses();
            self.publish();
        }
    }

    /// Takes in addresses heard for devices that a committed change has
    /// just made trusted; saved if the book changed.
    pub(super) fn adopt_held_addresses(&mut self) {
        let trusted = self.trusted_ids();
        if self.base.addresses.adopt(|id| trusted.contains(id)) {
            self.save_addresses();
        }
    }

    /// The ids of the devices we trust, ourselves left out: mine, my
    /// partner's that mine approved, and those paired and not settled. A
    /// device pending for my partner is not among them: my devices need
    /// nothing from it until approved (docs/SCHEMA.md, "Trust").
    fn trusted_ids(&self) -> BTreeSet<String> {
        // A removed device trusts nobody again: it keeps what it has.
        if self.base.identity.removed.is_some() {
            return BTreeSet::new();
        }
        let me = self.base.identity.device.as_str();
        let mut ids: BTreeSet<String> = self
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| {
                matches!(d.status, DeviceStatus::Mine | DeviceStatus::Partners) && id.as_str() != me
            })
            .map(|(id, _)| id.0.to_string())
            .collect();
        ids.extend(self.base.identity.paired.iter().cloned());
        ids
    }

    /// Saves the book, less any device no longer trusted. Addresses are
    /// hints, relearned at the next session: a failed save is logged, and
    /// nothing else fails with it.
    fn save_addresses(&mut self) {
        let trusted = self.trusted_ids();
        self.base.addresses.retain(|id| trusted.contains(id));
        if let Err(e) = self.base.addresses.save() {
            tracing::warn!(error = %e, "could not save peer addresses");
        }
    }

    /// Tells the sync layer the document changed, and who is trusted now.
    pub(super) fn publish(&self) {
        let Some(link) = &self.base.link else {
            return;
        };
        link.changed.send_modify(|v| *v += 1);
        let ids = self.trusted_ids();
        let book = &self.base.addresses;
        let trusted: TrustedSet = ids
            .iter()
            .filter_map(|id| Some((id.parse().ok()?, book.addrs(id))))
            .collect();
        send_if_changed(&link.trusted, trusted);
        let removed: hearth_sync::RemovedSet = self
            .journal
            .removed_devices()
            .iter()
            .filter_map(|d| EndpointId::from_bytes(&d.0).ok())
            .collect();
        send_if_changed(&link.removed, removed);
    }
}

/// Publishes `value` only if it differs: the sync layer's watchers wake
/// for real changes only.
fn send_if_changed<T: PartialEq>(tx: &tokio::sync::watch::Sender<T>, value: T) {
    tx.send_if_modified(|t| {
        if *t == value {
            false
        } else {
            *t = value;
            true
        }
    });
}

/// A device id's key.
pub(super) fn device_key(id: &DeviceId) -> Result<DeviceKey, String> {
    id.as_str()
        .parse()
        .map_err(|_| format!("{id} is not a device id"))
}
