//! Who writes on this device: setting it up once, renaming myself, and
//! the daemon's status.

use hearth_ipc::{Init, Rename, Response, StatusInfo};
use hearth_model::{DayBoundary, DeviceId, MAX_NAME, PartnerId, View};

use super::{Base, Handled, Ready, Refusal};

fn check_name(name: &str) -> Result<&str, Refusal> {
    let name = name.trim();
    if name.is_empty() || name.len() > MAX_NAME || name.chars().any(char::is_control) {
        return Err(Refusal::bad(format!(
            "name must be 1-{MAX_NAME} printable characters"
        )));
    }
    Ok(name)
}

impl Ready {
    pub(super) fn init(&mut self, r: Init) -> Handled {
        let name = check_name(&r.name)?;
        let device_name = check_name(&r.device_name)
            .map_err(|_| {
                Refusal::bad(format!(
                    "device name must be 1-{MAX_NAME} printable characters"
                ))
            })?
            .to_string();
        let boundary = r
            .day_start_hour
            .map(|h| {
                DayBoundary::new(h)
                    .ok_or_else(|| Refusal::bad(format!("invalid day start hour {h}: use 0-23")))
            })
            .transpose()?;
        // A set-up device is never set up again: that used to rename the
        // partner on every device. Renaming is `rename`, and only of myself.
        // A device paired with one of mine is set up by its certificate.
        let known = self
            .base
            .identity
            .partner
            .clone()
            .or_else(|| self.journal.partner().map(|p| PartnerId(p.to_hex().into())));
        if let Some(partner) = known {
            let name = self
                .journal
                .partners()
                .remove(&partner)
                .unwrap_or_else(|| name.to_string());
            // A device that joined by pairing names itself once: its
            // first `init` is its welcome.
            let joined = self.base.identity.device_name.is_none();
            if joined {
                let key =
                    super::peers::device_key(&self.base.identity.device).map_err(Refusal::bad)?;
                self.journal.name_device(key, &device_name, r.at)?;
                self.base.identity.device_name = Some(device_name);
                self.base.identity.partner = Some(partner.clone());
                self.base
                    .identity_file
                    .save(&self.base.identity)
                    .map_err(|e| Refusal::new(hearth_ipc::ErrorKind::Storage, e.to_string()))?;
            }
            return Ok(Response::Inited {
                partner,
                name,
                device: self.base.identity.device.clone(),
                already: !joined,
            });
        }
        let random = self.random();
        let at = r.at;
        // A device paired with a set-up one is made its partner's by a
        // certificate, once their couple documents agree. Until they have
        // agreed once, this device cannot tell whether that is coming, and
        // founding a partner now would give the couple two of the same
        // name. (Two devices that were both new found nothing until one is
        // set up, so once they agree, this one may.)
        let paired: Vec<_> = self
            .base
            .identity
            .paired
            .iter()
            .filter_map(|p| super::peers::device_key(&DeviceId(p.clone().into())).ok())
            .collect();
        if !paired.is_empty()
            && self.journal.partners().is_empty()
            && !paired.iter().any(|p| self.journal.couple_agrees_with(p))
        {
            return Err(Refusal::bad(
                "this device has not synced with the device it paired with yet; run `hearth init` again in a moment",
            ));
        }
        if self
            .journal
            .partners()
            .values()
            .any(|n| n.eq_ignore_ascii_case(name))
        {
            return Err(Refusal::bad(if self.base.identity.paired.is_empty() {
                format!(
                    "{name} is already a partner in this journal; a device of theirs joins by pairing with one of their devices (`hearth pair join`)"
                )
            } else {
                format!(
                    "this device waits for {name}'s device to make it theirs; run `hearth init` again in a moment"
                )
            }));
        }
        let code = self.journal.found(&device_name, name, at)?;
        let partner = PartnerId(code.to_hex().into());
        let name = name.to_string();
        let device = self.base.identity.device.clone();
        self.journal
            .set_couple_id_if_missing(&format!("{random:032x}"))?;
        if let Some(b) = boundary {
            self.journal.set_day_boundary(b, at)?;
        }
        self.view.partners = self.journal.partners();
        self.view.heads = self.journal.heads_hex();
        self.base.identity.partner = Some(partner.clone());
        self.base.identity.device_name = Some(device_name);
        self.base
            .identity_file
            .save(&self.base.identity)
            .map_err(|e| Refusal::new(hearth_ipc::ErrorKind::Storage, e.to_string()))?;
        Ok(Response::Inited {
            partner,
            name,
            device,
            already: false,
        })
    }

    /// Changes my own name. A name my partner already goes by is refused,
    /// so the two of us can always be told apart.
    pub(super) fn rename(&mut self, r: Rename) -> Handled {
        let name = check_name(&r.name)?;
        let me = self.base.me()?;
        if let Some((_, taken)) = self
            .journal
            .partners()
            .iter()
            .find(|(id, n)| **id != me && n.eq_ignore_ascii_case(name))
        {
            return Err(Refusal::bad(format!(
                "your partner is already called {taken}; pick another name"
            )));
        }
        self.journal.rename(name, r.at)?;
        self.view.partners = self.journal.partners();
        Ok(Response::Inited {
            partner: me,
            name: name.to_string(),
            device: self.base.identity.device.clone(),
            already: false,
        })
    }

    pub(super) fn status(&self) -> Response {
        let mut r = status(
            &self.base,
            Some(&self.view),
            Some((self.journal.chunk_count(), self.journal.quarantined())),
        );
        if let Response::Status(s) = &mut r {
            s.refused = self.sessions.refused_all();
        }
        r
    }
}

/// The daemon's status, from what it has: a view (maybe a cached one), and
/// once loaded, the store's chunk count and what was set aside.
pub(super) fn status(
    base: &Base,
    view: Option<&View>,
    loaded: Option<(usize, &[String])>,
) -> Response {
    let me = base.identity.partner.clone();
    let empty = View::default();
    let view = view.unwrap_or(&empty);
    let named = |p: PartnerId| {
        let n = view.name_of(&p).to_string();
        (p, n)
    };
    let partner = me
        .as_ref()
        .and_then(|m| view.partners.keys().find(|p| *p != m).cloned());
    Response::Status(Box::new(StatusInfo {
        protocol: hearth_ipc::PROTOCOL_VERSION,
        version: env!("CARGO_PKG_VERSION").to_string(),
        pid: std::process::id(),
        data_dir: base.data_dir.clone(),
        partner: partner.map(named),
        me: me.map(named),
        device: Some(base.identity.device.clone()),
        // The view lists no deleted entry (a tombstone reads as deleted
        // and is left out), so this is its size, not a walk: `status` is
        // what a progress display polls.
        entries: view.entries.len(),
        loading: loaded.is_none(),
        chunks: loaded.map_or(0, |(c, _)| c),
        heads: view.heads.clone(),
        quarantined: loaded
            .map(|(_, q)| q.iter().map(ToString::to_string).collect())
            .unwrap_or_default(),
        malformed: view.malformed,
        sync_error: base.sync_error.clone(),
        removed: base.identity.removed.as_ref().map(|r| {
            hearth_model::records::removal::Removal {
                by: r.by.clone(),
                at: r.at,
            }
            .sentence()
        }),
        net: base.network.0.clone(),
        relay: base.network.1.clone(),
        locked: false,
        locked_reason: None,
        refused: Default::default(),
    }))
}
