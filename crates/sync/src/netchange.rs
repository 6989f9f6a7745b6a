//! Redials when the network changes: an interface that comes up, an
//! address that appears, a wake from suspend. Any of these can bring back a
//! path to a device the dialer has been backing off from, so every waiting
//! device is dialed at once instead of at its next scheduled try
//! (`dialer::path_back`).
//!
//! The interface state comes from the same monitor iroh uses. iroh is told
//! too, so its own paths are probed again.

use std::sync::Arc;

use iroh::{Endpoint, Watcher};
use netwatch::netmon::{Monitor, State};

use crate::node::Inner;

/// Runs until the node stops. Without a monitor (some sandboxes have no
/// netlink) it logs once and leaves redialing to the backoff.
pub(crate) async fn watch(inner: Arc<Inner>, endpoint: Endpoint) {
    let monitor = match Monitor::new().await {
        Ok(m) => m,
        Err(e) => {
            tracing::warn!(error = %e, "no network monitor; redials follow the backoff only");
            return;
        }
    };
    let mut state = monitor.interface_state();
    let mut last = state.get();
    while let Ok(now) = state.updated().await {
        let major = changed(&last, &now);
        last = now;
        if major {
            tracing::info!("network changed: redialing every device now");
            endpoint.network_change().await;
            crate::dialer::paths_back(&inner, None);
        }
    }
}

/// A change worth a redial: iroh's own test for a major change, or a wake
/// from suspend.
fn changed(old: &State, new: &State) -> bool {
    new.is_major_change(old) || new.last_unsuspend != old.last_unsuspend
}
