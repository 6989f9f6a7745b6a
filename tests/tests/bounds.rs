//! Bounded work for a trusted peer (issue 9.5): however many connections a
//! trusted device opens, the daemon serves a fixed few.

use std::time::Duration;

use iroh::endpoint::{ConnectionError, presets};

use crate::common::TestEnv;

#[test]
fn a_trusted_device_gets_two_connections_served_at_once_and_no_more() {
    let ana = TestEnv::initialised();
    let me: serde_json::Value =
        serde_json::from_str(&ana.ok(&["peers", "list", "--json"])).unwrap();
    let id: iroh::EndpointId = me["me"].as_str().unwrap().parse().unwrap();
    let addrs = me["addrs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| iroh::TransportAddr::Ip(a.as_str().unwrap().parse().unwrap()));
    let addr = iroh::EndpointAddr::from_parts(id, addrs);
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let ep = iroh::Endpoint::builder(presets::Minimal)
            .clear_ip_transports()
            .bind_addr((std::net::Ipv4Addr::LOCALHOST, 0))
            .unwrap()
            .bind()
            .await
            .unwrap();
        ana.ok(&["peers", "add", &ep.id().to_string()]);
        // Connections that never open their stream: each holds a place
        // until the daemon gives up on it.
        let mut held = Vec::new();
        for _ in 0..2 {
            held.push(
                ep.connect(addr.clone(), hearth_sync::ALPN_SYNC)
                    .await
                    .unwrap(),
            );
        }
        // Give the daemon a bounded while to take both, then every further
        // one is turned away at once, with its reason.
        let mut refused = 0;
        for _ in 0..50 {
            let extra = ep
                .connect(addr.clone(), hearth_sync::ALPN_SYNC)
                .await
                .unwrap();
            match tokio::time::timeout(Duration::from_millis(500), extra.closed()).await {
                Ok(ConnectionError::ApplicationClosed(c)) => {
                    assert_eq!(c.error_code, 429u32.into(), "{c:?}");
                    refused += 1;
                    if refused == 3 {
                        break;
                    }
                }
                Ok(other) => panic!("closed for another reason: {other:?}"),
                // Not refused: the daemon had not counted the first two yet.
                Err(_) => held.push(extra),
            }
        }
        assert_eq!(refused, 3, "extra connections were served");
        assert!(held.len() <= 3, "{} connections were taken", held.len());
        // The held ones are let go once their time to open a stream is up.
        for c in &held {
            let why = tokio::time::timeout(Duration::from_secs(30), c.closed())
                .await
                .expect("an idle connection is closed in bounded time");
            assert!(
                matches!(why, ConnectionError::ApplicationClosed(_)),
                "{why:?}"
            );
        }
        ep.close().await;
    });
    // The daemon still serves the CLI.
    ana.ok(&["note", "still here"]);
}
