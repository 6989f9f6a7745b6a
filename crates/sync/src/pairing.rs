//! Pairing two devices with a one-time secret from an invite.
//!
//! The QUIC handshake already proves each side's endpoint id; pairing adds
//! proof that the joiner holds the invite's secret, without sending it:
//! each side answers the other's random challenge with an HMAC-SHA256 of
//! both nonces and both ids, keyed by the secret. The joiner proves first;
//! a wrong proof burns the invite, so a guesser gets one try. Both sides
//! then show the same safety number for the partners to compare, and trust
//! nothing until both have confirmed it ([`confirm`]).

use hmac::{Hmac, Mac};
use iroh::EndpointId;
use iroh::endpoint::{RecvStream, SendStream};
use sha2::{Digest, Sha256};

use std::time::Duration;

use tokio::sync::oneshot;

use crate::wire::{read_frame, write_frame};

const VERSION: u8 = 1;
const MAX_PAIR_FRAME: usize = 256;

/// How long a side waits for its user to compare the safety number, and
/// for the other side's answer: people read twelve digits aloud, so this is
/// minutes, not seconds.
pub const CONFIRM_TIMEOUT: Duration = Duration::from_secs(300);
/// How long the other side's answer may take on the wire, beyond that.
const ANSWER_SLACK: Duration = Duration::from_secs(10);

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
    #[error("the safety number was not confirmed here; nothing was trusted")]
    DeclinedHere,
    #[error("the other device did not confirm the safety number; nothing was trusted")]
    DeclinedThere,
    #[error("the other device went away before confirming the safety number; nothing was trusted")]
    Unconfirmed,
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
    Ok(Paired {
        peer: joiner,
        safety: safety_number(secret, &inviter, &joiner),
    })
}

/// A pairing whose proofs checked out, waiting for this side's user to
/// confirm the safety number. Nothing is trusted yet.
#[derive(Debug)]
pub struct Proposal {
    pub paired: Paired,
    answer: oneshot::Sender<bool>,
    done: oneshot::Receiver<Result<Paired, PairError>>,
}

/// The far end of a [`Proposal`]: where this side's answer arrives, and
/// where the pairing's end is reported.
pub(crate) struct Pending {
    pub answer: oneshot::Receiver<bool>,
    pub done: oneshot::Sender<Result<Paired, PairError>>,
}

pub(crate) fn proposal(paired: Paired) -> (Proposal, Pending) {
    let (answer_tx, answer_rx) = oneshot::channel();
    let (done_tx, done_rx) = oneshot::channel();
    (
        Proposal {
            paired,
            answer: answer_tx,
            done: done_rx,
        },
        Pending {
            answer: answer_rx,
            done: done_tx,
        },
    )
}

impl Proposal {
    /// Gives this side's answer, and waits until the other side has given
    /// its own and, if both said yes, the device is trusted here. Dropping
    /// a proposal unanswered is a no.
    pub async fn answer(self, yes: bool) -> Result<Paired, PairError> {
        let _ = self.answer.send(yes);
        self.done.await.unwrap_or(Err(PairError::Protocol(
            "the pairing ended unexpectedly".into(),
        )))
    }
}

/// Step 5, on both sides: each sends one byte, `1` once its user has
/// confirmed the safety number or `0` if they did not, and reads the
/// other's. Only two yeses make a pairing: until then neither side trusts
/// the other, so no journal byte flows before both screens were compared.
pub async fn confirm(
    send: &mut SendStream,
    recv: &mut RecvStream,
    mine: oneshot::Receiver<bool>,
) -> Result<(), PairError> {
    let mut theirs = std::pin::pin!(tokio::time::timeout(
        CONFIRM_TIMEOUT + ANSWER_SLACK,
        read_frame(recv, MAX_PAIR_FRAME)
    ));
    let mut mine = std::pin::pin!(tokio::time::timeout(CONFIRM_TIMEOUT, mine));
    let mut early = None;
    // The other side may answer first; keep its answer and wait for ours.
    let yes = loop {
        tokio::select! {
            m = &mut mine => break matches!(m, Ok(Ok(true))),
            t = &mut theirs, if early.is_none() => {
                if matches!(&t, Ok(Ok(b)) if b[..] == [1]) {
                    tracing::info!("the other device confirmed the safety number; waiting for this one's answer");
                }
                early = Some(t);
            }
        }
    };
    let _ = write_frame(send, &[u8::from(yes)]).await;
    let _ = send.finish();
    if !yes {
        return Err(PairError::DeclinedHere);
    }
    let theirs = match early {
        Some(t) => t,
        None => theirs.await,
    };
    match theirs {
        Ok(Ok(b)) if b[..] == [1] => Ok(()),
        Ok(Ok(b)) if b[..] == [0] => Err(PairError::DeclinedThere),
        _ => Err(PairError::Unconfirmed),
    }
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
