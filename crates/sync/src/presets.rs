//! The endpoint for each [`NetMode`]: which iroh preset, which addresses to
//! bind, and how peers are found. The secret key and the trust gate are
//! added by the caller, the same in every mode.

use std::net::{IpAddr, Ipv4Addr};

use iroh::endpoint::{Builder, PortmapperConfig, presets};
use iroh::{Endpoint, RelayMode, RelayUrl};
use iroh_mdns_address_lookup::MdnsAddressLookup;

use crate::node::NodeConfig;
use crate::{NetMode, SyncError};

/// mDNS service name, so hearth daemons find each other and nothing else.
const MDNS_SERVICE: &str = "hearth";

/// Which ways of finding peers a mode uses. Kept apart from the builder so
/// that a test can pin what each mode reveals to the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Lookups {
    /// n0's relays, and its address lookup (pkarr publishing and DNS).
    pub n0: bool,
    /// Announcing this device on the local network, and listening there.
    pub mdns: bool,
}

/// `default` is n0's service only, unless mDNS is switched on
/// (`--mdns`/`HEARTH_MDNS`): an announcement on every network the device
/// joins is a trail of its own, so it is opt-in there. `local` has only
/// mDNS, which is how it finds anyone. `test` reaches nothing.
pub fn lookups(mode: NetMode, mdns_in_default: bool) -> Lookups {
    match mode {
        NetMode::Default => Lookups {
            n0: true,
            mdns: mdns_in_default,
        },
        NetMode::Local => Lookups {
            n0: false,
            mdns: true,
        },
        NetMode::Test => Lookups {
            n0: false,
            mdns: false,
        },
    }
}

/// An endpoint builder for `cfg.mode`, bound to `cfg.port`.
pub(crate) fn builder(cfg: &NodeConfig) -> Result<Builder, SyncError> {
    let bind_err = |e: iroh::endpoint::InvalidSocketAddr| SyncError::Bind(e.to_string());
    let finds = lookups(cfg.mode, cfg.mdns);
    let mut b = match cfg.mode {
        // Loopback only and nothing that reaches outside, so tests are
        // hermetic and fast.
        NetMode::Test => Endpoint::builder(presets::Minimal)
            .clear_ip_transports()
            .bind_addr((
                cfg.test.bind.unwrap_or(IpAddr::V4(Ipv4Addr::LOCALHOST)),
                cfg.port,
            ))
            .map_err(bind_err)?
            .portmapper_config(PortmapperConfig::Disabled),
        // Same network only: no relays.
        NetMode::Local => Endpoint::builder(presets::Minimal)
            .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
            .map_err(bind_err)?,
        // n0's relays and address lookup, to get across NATs.
        NetMode::Default => {
            let mut b = Endpoint::builder(presets::N0)
                .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
                .map_err(bind_err)?;
            if let Some(url) = &cfg.relay {
                let parsed: RelayUrl = url.parse().map_err(|e| SyncError::RelayUrl {
                    url: url.clone(),
                    reason: format!("{e}"),
                })?;
                b = b.relay_mode(RelayMode::custom([parsed]));
            }
            b
        }
    };
    if finds.mdns {
        b = b.address_lookup(MdnsAddressLookup::builder().service_name(MDNS_SERVICE));
    }
    Ok(b)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mdns_runs_in_local_mode_and_in_default_mode_only_when_switched_on() {
        assert_eq!(
            lookups(NetMode::Default, false),
            Lookups {
                n0: true,
                mdns: false
            }
        );
        assert_eq!(
            lookups(NetMode::Default, true),
            Lookups {
                n0: true,
                mdns: true
            }
        );
        for switch in [false, true] {
            assert_eq!(
                lookups(NetMode::Local, switch),
                Lookups {
                    n0: false,
                    mdns: true
                }
            );
            assert_eq!(
                lookups(NetMode::Test, switch),
                Lookups {
                    n0: false,
                    mdns: false
                }
            );
        }
    }
}
