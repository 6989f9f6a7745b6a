//! Invite tickets: the inviting device's address plus a one-time secret,
//! as one line of text that is easy to paste or scan.

use std::net::SocketAddr;

use iroh::{EndpointAddr, EndpointId, TransportAddr};
use serde::{Deserialize, Serialize};

const PREFIX: &str = "hearth1";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Ticket {
    pub id: EndpointId,
    pub addrs: Vec<SocketAddr>,
    pub relay: Option<String>,
    pub secret: [u8; 16],
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum TicketError {
    #[error("not a hearth invite (it should start with {PREFIX})")]
    Prefix,
    #[error("the invite is damaged: {0}")]
    Damaged(String),
}

impl Ticket {
    pub fn addr(&self) -> EndpointAddr {
        let mut addrs: Vec<TransportAddr> =
            self.addrs.iter().copied().map(TransportAddr::Ip).collect();
        if let Some(url) = self.relay.as_ref().and_then(|r| r.parse().ok()) {
            addrs.push(TransportAddr::Relay(url));
        }
        EndpointAddr::from_parts(self.id, addrs)
    }

    pub fn encode(&self) -> String {
        let bytes = postcard::to_stdvec(self).expect("ticket serialises");
        format!(
            "{PREFIX}{}",
            data_encoding::BASE32_NOPAD
                .encode(&bytes)
                .to_ascii_lowercase()
        )
    }

    pub fn decode(s: &str) -> Result<Ticket, TicketError> {
        let body = s.trim().strip_prefix(PREFIX).ok_or(TicketError::Prefix)?;
        let bytes = data_encoding::BASE32_NOPAD
            .decode(body.to_ascii_uppercase().as_bytes())
            .map_err(|e| TicketError::Damaged(e.to_string()))?;
        postcard::from_bytes(&bytes).map_err(|e| TicketError::Damaged(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trip_and_damage() {
        let t = Ticket {
            id: iroh::SecretKey::from_bytes(&[7; 32]).public(),
            addrs: vec!["127.0.0.1:4242".parse().unwrap()],
            relay: None,
            secret: [9; 16],
        };
        let s = t.encode();
        assert!(s.starts_with("hearth1"));
        assert_eq!(Ticket::decode(&s).unwrap(), t);
        assert_eq!(Ticket::decode("nope"), Err(TicketError::Prefix));
        assert!(matches!(
            Ticket::decode(&s[..s.len() - 9]),
            Err(TicketError::Damaged(_))
        ));
        assert!(matches!(
            Ticket::decode("hearth1!!!!"),
            Err(TicketError::Damaged(_))
        ));
    }
}
