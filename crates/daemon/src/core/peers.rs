//! The couple's devices: trusting and removing them, where they listen,
//! and the list `hearth peers` shows, which joins what the document says
//! with what the sync layer sees live.

use std::collections::BTreeSet;
use std::net::SocketAddr;

use hearth_ipc::{PeerInfo, PeerList, PeersAdd, PeersRemove, Response};
use hearth_model::DeviceId;
use hearth_sync::{EndpointId, Hello, PeerStatus, SyncError, TrustedSet};

use super::{Handled, Ready, Refusal};

impl Ready {
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
        let dev = DeviceId(peer.to_string());
        self.journal.trust_device(&dev, r.at)?;
        if self.base.addresses.learn_own(dev.as_str(), &r.addrs) {
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
        self.journal.remove_device(&dev, r.at)?;
        self.save_addresses();
        Ok(Response::Ok)
    }

    /// A trusted device by id prefix or name.
    fn resolve_device(&self, who: &str) -> Result<DeviceId, Refusal> {
        let w = who.trim().to_lowercase();
        let hits: Vec<DeviceId> = self
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| {
                !d.removed && (id.as_str().starts_with(&w) || d.name.to_lowercase() == w)
            })
            .map(|(id, _)| id)
            .collect();
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

    /// Every trusted device, with the live status the sync layer reported
    /// (offline for any it did not mention).
    pub(super) fn peer_list(&self, live: &[PeerStatus]) -> Response {
        let devices = self.journal.devices();
        let me = &self.base.identity.device;
        let book = &self.base.addresses;
        let addrs = |a: &[SocketAddr]| a.iter().map(ToString::to_string).collect();
        let peers = devices
            .iter()
            .filter(|(id, d)| *id != me && !d.removed)
            .map(|(id, d)| {
                let now = live.iter().find(|s| s.id == id.as_str());
                let unsent = id
                    .as_str()
                    .parse::<EndpointId>()
                    .ok()
                    .and_then(|p| self.sessions.their_heads(&p))
                    .map(|heads| self.journal.unsent_since(heads));
                PeerInfo {
                    id: id.to_string(),
                    name: d.name.clone(),
                    partner: d.partner.as_ref().map(|p| self.view.name_of(p).to_string()),
                    online: now.is_some_and(|s| s.online),
                    last_sync: now
                        .and_then(|s| s.last_sync)
                        .map(chrono::DateTime::<chrono::Utc>::from),
                    path: now.and_then(|s| s.path.clone()),
                    unsent_changes: unsent,
                    addrs: addrs(&book.addrs(id.as_str())),
                    last_error: now.and_then(|s| s.last_error.clone()),
                    bytes_sent: now.map_or(0, |s| s.bytes_sent),
                    bytes_received: now.map_or(0, |s| s.bytes_received),
                }
            })
            .collect();
        Response::Peers(PeerList {
            me: me.to_string(),
            addrs: addrs(self.base.own_addrs.as_deref().unwrap_or_default()),
            peers,
        })
    }

    /// Pairing succeeded: trust the device, and note where it was reached.
    pub(super) fn trust(
        &mut self,
        peer: EndpointId,
        addrs: &[SocketAddr],
    ) -> Result<(), SyncError> {
        let now = chrono::Utc::now().fixed_offset();
        let id = DeviceId(peer.to_string());
        self.journal
            .trust_device(&id, now)
            .map_err(|e| SyncError::Trust(e.to_string()))?;
        if self.base.addresses.learn_own(id.as_str(), addrs) {
            self.save_addresses();
        }
        Ok(())
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

    /// The ids of the devices we trust, ourselves left out.
    fn trusted_ids(&self) -> BTreeSet<String> {
        let me = self.base.identity.device.as_str();
        self.journal
            .devices()
            .into_iter()
            .filter(|(id, d)| !d.removed && id.as_str() != me)
            .map(|(id, _)| id.0)
            .collect()
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
        link.trusted.send_if_modified(|t| {
            if *t == trusted {
                false
            } else {
                *t = trusted;
                true
            }
        });
    }
}
