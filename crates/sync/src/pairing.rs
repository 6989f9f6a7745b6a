//! Pairing two devices with a one-time secret from an invite.
//!
//! The QUIC handshake already proves each side's endpoint id; pairing adds
//! proof that the joiner holds the invite's secret, without sending it:
//! each side answers the other's random challenge with an HMAC-SHA256 of
//! both nonces and both ids, keyed by the secret. The joiner proves first;
//! a wrong proof burns the invite, so a guesser gets one try. Both sides
//! then show the same safety number for the partners to compare.

use hmac::{Hmac, Mac};
use iroh::EndpointId;
use iroh::endpoint::{RecvStream, SendStream};
use sha2::{Digest, Sha256};

use crate::wire::{read_frame, write_frame};

const VERSION: u8 = 1;
const MAX_PAIR_FRAME: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Paired {
    pub peer: EndpointId,
    pub safety: String,
}

#[derive(Debug, Clone, thiserror::Error, PartialEq, Eq)]
pub enum PairError {
    #[error("that device has no open invite (it may have expired or been used)")]
    NoInvite,
    #[error("another device is joining with that invite right now; one invite pairs one device")]
    Busy,
    #[error("the invite was closed before this device finished joining")]
    Closed,
    #[error("the invite expired before anyone joined")]
    Expired,
    #[error("wrong invite secret; the invite is now burned, make a new one")]
    WrongSecret,
    #[error("the other device could not prove it made this invite")]
    Impostor,
    #[error("pairing failed: {0}")]
    Protocol(String),
    #[error("cannot reach the inviting device: {0}")]
    Connect(String),
}

fn proto<E: std::fmt::Display>(e: E) -> PairError {
    PairError::Protocol(e.to_string())
}

fn mac(
    secret: &[u8; 16],
    role: &[u8],
    inviter: &EndpointId,
    joiner: &EndpointId,
    ni: &[u8],
    nj: &[u8],
) -> Hmac<Sha256> {
    let mut m = <Hmac<Sha256> as Mac>::new_from_slice(secret).expect("any key length works");
    m.update(b"hearth-pair-v1/");
    m.update(role);
    m.update(inviter.as_bytes());
    m.update(joiner.as_bytes());
    m.update(ni);
    m.update(nj);
    m
}

/// Twelve digits both partners can read aloud and compare.
pub fn safety_number(secret: &[u8; 16], inviter: &EndpointId, joiner: &EndpointId) -> String {
    let mut h = Sha256::new();
    h.update(b"hearth-safety-v1/");
    h.update(secret);
    h.update(inviter.as_bytes());
    h.update(joiner.as_bytes());
    let d = h.finalize();
    let n = u64::from_be_bytes(d[..8].try_into().expect("8 bytes")) % 1_000_000_000_000;
    let s = format!("{n:012}");
    format!("{} {} {}", &s[..4], &s[4..8], &s[8..])
}

/// The joining side.
pub async fn join(
    send: &mut SendStream,
    recv: &mut RecvStream,
    secret: &[u8; 16],
    inviter: EndpointId,
    joiner: EndpointId,
) -> Result<Paired, PairError> {
    let nj: [u8; 16] = rand::random();
    let mut hello = vec![VERSION];
    hello.extend_from_slice(&nj);
    write_frame(send, &hello).await.map_err(proto)?;
    let ni = read_frame(recv, MAX_PAIR_FRAME)
        .await
        .map_err(|_| PairError::NoInvite)?;
    if ni.len() != 16 {
        return Err(PairError::NoInvite);
    }
    let proof = mac(secret, b"joiner", &inviter, &joiner, &ni, &nj)
        .finalize()
        .into_bytes();
    write_frame(send, &proof).await.map_err(proto)?;
    let answer = read_frame(recv, MAX_PAIR_FRAME).await.map_err(proto)?;
    match answer.split_first() {
        Some((1, their)) => {
            mac(secret, b"inviter", &inviter, &joiner, &ni, &nj)
                .verify_slice(their)
                .map_err(|_| PairError::Impostor)?;
            let _ = send.finish();
            Ok(Paired {
                peer: inviter,
                safety: safety_number(secret, &inviter, &joiner),
            })
        }
        _ => Err(PairError::WrongSecret),
    }
}

/// The inviting side, for one incoming attempt. The caller burns the
/// invite whatever the outcome once this returns past the hello.
pub async fn accept(
    send: &mut SendStream,
    recv: &mut RecvStream,
    secret: &[u8; 16],
    inviter: EndpointId,
    joiner: EndpointId,
) -> Result<Paired, PairError> {
    let hello = read_frame(recv, MAX_PAIR_FRAME).await.map_err(proto)?;
    let nj = match hello.split_first() {
        Some((&VERSION, nj)) if nj.len() == 16 => nj.to_vec(),
        _ => return Err(PairError::Protocol("unsupported pairing version".into())),
    };
    let ni: [u8; 16] = rand::random();
    write_frame(send, &ni).await.map_err(proto)?;
    let proof = read_frame(recv, MAX_PAIR_FRAME).await.map_err(proto)?;
    if mac(secret, b"joiner", &inviter, &joiner, &ni, &nj)
        .verify_slice(&proof)
        .is_err()
    {
        let _ = write_frame(send, &[0]).await;
        let _ = send.finish();
        return Err(PairError::WrongSecret);
    }
    let mut ok = vec![1u8];
    ok.extend_from_slice(
        &mac(secret, b"inviter", &inviter, &joiner, &ni, &nj)
            .finalize()
            .into_bytes(),
    );
    write_frame(send, &ok).await.map_err(proto)?;
    let _ = send.finish();
    Ok(Paired {
        peer: joiner,
        safety: safety_number(secret, &inviter, &joiner),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn safety_numbers_agree_and_depend_on_everything() {
        let a = iroh::SecretKey::from_bytes(&[1; 32]).public();
        let b = iroh::SecretKey::from_bytes(&[2; 32]).public();
        let s = safety_number(&[5; 16], &a, &b);
        assert_eq!(s, safety_number(&[5; 16], &a, &b));
        assert_eq!(s.len(), 14);
        assert_ne!(s, safety_number(&[6; 16], &a, &b));
        assert_ne!(s, safety_number(&[5; 16], &b, &a));
    }
}
