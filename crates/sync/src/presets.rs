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

/// An endpoint builder for `cfg.mode`, bound to `cfg.port`.
pub(crate) fn builder(cfg: &NodeConfig) -> Result<Builder, SyncError> {
    let bind_err = |e: iroh::endpoint::InvalidSocketAddr| SyncError::Bind(e.to_string());
    Ok(match cfg.mode {
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
        // Same network only: no relays, peers found by mDNS.
        NetMode::Local => Endpoint::builder(presets::Minimal)
            .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
            .map_err(bind_err)?
            .address_lookup(MdnsAddressLookup::builder().service_name(MDNS_SERVICE)),
        // n0's relays and address lookup to get across NATs; mDNS as well,
        // so devices on one network find each other without the internet.
        NetMode::Default => {
            let mut b = Endpoint::builder(presets::N0)
                .bind_addr((Ipv4Addr::UNSPECIFIED, cfg.port))
                .map_err(bind_err)?
                .address_lookup(MdnsAddressLookup::builder().service_name(MDNS_SERVICE));
            if let Some(url) = &cfg.relay {
                let parsed: RelayUrl = url.parse().map_err(|e| SyncError::RelayUrl {
                    url: url.clone(),
                    reason: format!("{e}"),
                })?;
                b = b.relay_mode(RelayMode::custom([parsed]));
            }
            b
        }
    })
}
