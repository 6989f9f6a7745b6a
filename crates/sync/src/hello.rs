//! The first frame of every sync session, each way, and again whenever the
//! sender's picture changes: where the sender listens, and where it last
//! reached the couple's other devices.
//!
//! Addresses live here, on the wire and in each device's local `peers`
//! file, and nowhere in the synced document, whose history every device
//! keeps for ever (docs/SCHEMA.md, "Addresses"; issue 9, point 6). Passing on
//! the other devices' addresses is what lets a device that paired with one
//! of them find the rest without a relay.
//!
//! Everything here comes from a peer, so it is bounded before it is
//! decoded, and what it says is only a hint: iroh checks the device's key
//! on every connection, so a wrong address costs a failed dial, nothing
//! more.

use std::net::SocketAddr;

use iroh::EndpointId;
use serde::{Deserialize, Serialize};

use crate::wire::WireError;

/// The hello's first byte. A sync message starts with `0x42`, so one frame
/// cannot be taken for the other.
const TAG: u8 = b'H';
/// A hello is a few hundred bytes; anything over this is refused unread.
pub const MAX_HELLO: usize = 16 * 1024;
/// Addresses per device, in a hello and in the `peers` file.
pub const MAX_ADDRS: usize = 8;
/// Other devices a hello may tell of.
pub const MAX_KNOWN: usize = 32;

/// What one side tells the other when a session starts.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hello {
    /// Where the sender listens.
    pub addrs: Vec<SocketAddr>,
    /// Where the sender last reached other devices it trusts.
    pub known: Vec<(EndpointId, Vec<SocketAddr>)>,
}

impl Hello {
    /// Whether a frame is a hello rather than a sync message.
    pub fn is_hello(frame: &[u8]) -> bool {
        frame.first() == Some(&TAG)
    }

    pub fn encode(&self) -> Vec<u8> {
        let mut out = vec![TAG];
        out.extend(postcard::to_allocvec(self).expect("a hello always serialises"));
        out
    }

    /// Parses a peer's hello, refusing one over the bounds.
    pub fn decode(bytes: &[u8]) -> Result<Hello, WireError> {
        let bad = |why: String| WireError::Malformed(format!("hello: {why}"));
        if bytes.len() > MAX_HELLO {
            return Err(bad(format!("{} bytes, over {MAX_HELLO}", bytes.len())));
        }
        let Some((&TAG, body)) = bytes.split_first() else {
            return Err(bad("the session did not start with a hello".into()));
        };
        let hello: Hello = postcard::from_bytes(body).map_err(|e| bad(e.to_string()))?;
        if hello.addrs.len() > MAX_ADDRS {
            return Err(bad(format!("{} addresses", hello.addrs.len())));
        }
        if hello.known.len() > MAX_KNOWN {
            return Err(bad(format!("{} devices", hello.known.len())));
        }
        if let Some((id, a)) = hello.known.iter().find(|(_, a)| a.len() > MAX_ADDRS) {
            return Err(bad(format!("{} addresses for {}", a.len(), id.fmt_short())));
        }
        Ok(hello)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(byte: u8) -> EndpointId {
        iroh::SecretKey::from_bytes(&[byte; 32]).public()
    }

    fn addr(port: u16) -> SocketAddr {
        SocketAddr::from(([127, 0, 0, 1], port))
    }

    #[test]
    fn a_hello_round_trips() {
        let hello = Hello {
            addrs: vec![addr(1), "[::1]:2".parse().unwrap()],
            known: vec![(id(1), vec![addr(3)]), (id(2), vec![])],
        };
        assert_eq!(Hello::decode(&hello.encode()).unwrap(), hello);
        assert_eq!(
            Hello::decode(&Hello::default().encode()).unwrap(),
            Hello::default()
        );
    }

    #[test]
    fn a_sync_message_or_garbage_is_not_a_hello() {
        // What `generate_sync_message` starts with: the sync message type.
        let msg = [0x42u8, 0, 0, 0];
        for bytes in [&msg[..], b"", b"H", b"H\xff\xff\xff\xff\xff", b"Hgarbage"] {
            assert!(
                matches!(Hello::decode(bytes), Err(WireError::Malformed(_))),
                "{bytes:?}"
            );
        }
    }

    #[test]
    fn a_hello_over_a_bound_is_refused() {
        let many = |n: usize| (0..n as u16).map(addr).collect::<Vec<_>>();
        let too_many_own = Hello {
            addrs: many(MAX_ADDRS + 1),
            known: vec![],
        };
        let too_many_devices = Hello {
            addrs: vec![],
            known: (0..=MAX_KNOWN as u8).map(|b| (id(b), vec![])).collect(),
        };
        let too_many_for_one = Hello {
            addrs: vec![],
            known: vec![(id(1), many(MAX_ADDRS + 1))],
        };
        for h in [too_many_own, too_many_devices, too_many_for_one] {
            let bytes = h.encode();
            assert!(bytes.len() <= MAX_HELLO);
            assert!(Hello::decode(&bytes).is_err(), "{h:?}");
        }
        let at_the_bounds = Hello {
            addrs: many(MAX_ADDRS),
            known: (0..MAX_KNOWN as u8)
                .map(|b| (id(b), many(MAX_ADDRS)))
                .collect(),
        };
        assert_eq!(
            Hello::decode(&at_the_bounds.encode()).unwrap(),
            at_the_bounds
        );
        let mut huge = vec![TAG];
        huge.resize(MAX_HELLO + 1, 0);
        assert!(Hello::decode(&huge).is_err());
    }
}
