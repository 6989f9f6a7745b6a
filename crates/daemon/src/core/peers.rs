//! The couple's devices: trusting and removing them, where they listen,
//! and the list `hearth peers` shows, which joins what the document says
//! with what the sync layer sees live.

use std::net::SocketAddr;

use hearth_ipc::{PeerInfo, PeerList, PeersAdd, PeersRemove, Response};
use hearth_model::DeviceId;
use hearth_sync::{EndpointId, PeerStatus, SyncError, TrustedSet};

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
        if !r.addrs.is_empty() {
            self.journal.set_device_addrs(&dev, &r.addrs, r.at)?;
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
                    addrs: addrs(&d.addrs),
                    last_error: now.and_then(|s| s.last_error.clone()),
                    bytes_sent: now.map_or(0, |s| s.bytes_sent),
                    bytes_received: now.map_or(0, |s| s.bytes_received),
                }
            })
            .collect();
        Response::Peers(PeerList {
            me: me.to_string(),
            addrs: devices.get(me).map(|d| addrs(&d.addrs)).unwrap_or_default(),
            peers,
        })
    }

    /// Pairing succeeded: trust the device, and note where it was reached
    /// if the document does not know yet.
    pub(super) fn trust(
        &mut self,
        peer: EndpointId,
        addrs: &[SocketAddr],
    ) -> Result<(), SyncError> {
        let now = chrono::Utc::now().fixed_offset();
        let id = DeviceId(peer.to_string());
        let trust = |e: hearth_model::ModelError| SyncError::Trust(e.to_string());
        self.journal.trust_device(&id, now).map_err(trust)?;
        if !addrs.is_empty()
            && self
                .journal
                .devices()
                .get(&id)
                .is_some_and(|d| d.addrs.is_empty())
        {
            self.journal
                .set_device_addrs(&id, addrs, now)
                .map_err(trust)?;
        }
        Ok(())
    }

    /// Records where this device listens, so peers can dial it. Only a
    /// registered device advertises itself. Returns whether it wrote.
    pub(super) fn set_own_addrs(&mut self, addrs: &[SocketAddr]) -> bool {
        let me = self.base.identity.device.clone();
        if !self.journal.devices().contains_key(&me) {
            return false;
        }
        let before = self.journal.heads();
        let now = chrono::Utc::now().fixed_offset();
        if let Err(e) = self.journal.set_device_addrs(&me, addrs, now) {
            tracing::warn!(error = %e, "could not record this device's addresses");
        }
        self.journal.heads() != before
    }

    /// Tells the sync layer the document changed, and who is trusted now.
    pub(super) fn publish(&self) {
        let Some(link) = &self.base.link else {
            return;
        };
        link.changed.send_modify(|v| *v += 1);
        let me = self.base.identity.device.as_str();
        let trusted: TrustedSet = self
            .journal
            .devices()
            .into_iter()
            .filter(|(id, d)| !d.removed && id.as_str() != me)
            .filter_map(|(id, d)| Some((id.as_str().parse().ok()?, d.addrs)))
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
