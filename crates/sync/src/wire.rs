//! Frames on a QUIC stream: a 4-byte big-endian length, then the bytes.
//! Everything a peer sends is untrusted; sizes are capped before allocating
//! and sync messages are checked before they reach the document.

use iroh::endpoint::{RecvStream, SendStream};

/// Largest frame accepted from a peer. A first sync of a decade of entries
/// fits with room to spare; anything bigger is an attack or a bug.
pub const MAX_FRAME: usize = 64 * 1024 * 1024;
/// The smallest cap a test may set: a hello must still fit.
pub const MIN_FRAME: usize = crate::hello::MAX_HELLO;
/// Bounds on a sync message's lists: far above what a couple's journal
/// needs, far below what would exhaust memory or time.
const MAX_HASHES: usize = 4096;
const MAX_HAVES: usize = 256;
const MAX_CHUNKS: usize = 1_000_000;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum WireError {
    #[error("peer closed the stream")]
    Closed,
    #[error("frame of {0} bytes is over the {1}-byte limit")]
    TooLarge(usize, usize),
    #[error("read: {0}")]
    Read(String),
    #[error("write: {0}")]
    Write(String),
    #[error("malformed sync message: {0}")]
    Malformed(String),
    #[error("sync message's changes unpack to more than {0} bytes")]
    Inflates(usize),
}

pub async fn read_frame(recv: &mut RecvStream, max: usize) -> Result<Vec<u8>, WireError> {
    let mut len = [0u8; 4];
    match recv.read_exact(&mut len).await {
        Ok(()) => {}
        Err(iroh::endpoint::ReadExactError::FinishedEarly(0)) => return Err(WireError::Closed),
        Err(e) => return Err(WireError::Read(e.to_string())),
    }
    let len = u32::from_be_bytes(len) as usize;
    if len > max {
        return Err(WireError::TooLarge(len, max));
    }
    let mut buf = vec![0u8; len];
    // Once a frame has begun, its bytes must keep coming: a peer that
    // announces 64 MiB and then trickles cannot hold a session for ever.
    tokio::time::timeout(body_deadline(len), recv.read_exact(&mut buf))
        .await
        .map_err(|_| WireError::Read(format!("a {len}-byte frame did not arrive in time")))?
        .map_err(|e| WireError::Read(e.to_string()))?;
    Ok(buf)
}

/// How long the body of a `len`-byte frame may take: 30 seconds, plus one
/// second per MiB, a pace any link that syncs at all keeps.
pub fn body_deadline(len: usize) -> std::time::Duration {
    std::time::Duration::from_secs(30 + (len as u64 >> 20))
}

pub async fn write_frame(send: &mut SendStream, bytes: &[u8]) -> Result<(), WireError> {
    let len = u32::try_from(bytes.len())
        .map_err(|_| WireError::TooLarge(bytes.len(), u32::MAX as usize))?;
    send.write_all(&len.to_be_bytes())
        .await
        .map_err(|e| WireError::Write(e.to_string()))?;
    send.write_all(bytes)
        .await
        .map_err(|e| WireError::Write(e.to_string()))?;
    Ok(())
}

/// Decodes a peer's sync message. Automerge's decoder has panicked on
/// crafted input before, so a panic is caught and reported as malformed;
/// absurd list lengths are refused, and so are changes that would unpack
/// past [`crate::inflate::MAX_INFLATED`].
pub fn decode_message(bytes: &[u8]) -> Result<automerge::sync::Message, WireError> {
    let decoded = std::panic::catch_unwind(|| automerge::sync::Message::decode(bytes))
        .map_err(|_| WireError::Malformed("decoder panicked".into()))?
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if decoded.heads.len() > MAX_HASHES || decoded.need.len() > MAX_HASHES {
        return Err(WireError::Malformed("too many hashes".into()));
    }
    if decoded.have.len() > MAX_HAVES || decoded.have.iter().any(|h| h.last_sync.len() > MAX_HASHES)
    {
        return Err(WireError::Malformed("too many summaries".into()));
    }
    if decoded.changes.len() > MAX_CHUNKS {
        return Err(WireError::Malformed("too many changes".into()));
    }
    for have in &decoded.have {
        check_bloom(&have.bloom.to_bytes())?;
    }
    crate::inflate::inflated_size(decoded.changes.iter(), crate::inflate::MAX_INFLATED)?;
    Ok(decoded)
}

/// Automerge trusts a peer's bloom filter parameters: zero bits per entry
/// divides by zero, and billions of probes per lookup hang the thread that
/// generates our next message. Both are refused here.
fn check_bloom(bytes: &[u8]) -> Result<(), WireError> {
    if bytes.is_empty() {
        return Ok(());
    }
    let bad = |what: &str| WireError::Malformed(format!("bloom filter: {what}"));
    let mut input = bytes;
    let mut next = || leb128::read::unsigned(&mut input).map_err(|_| bad("unreadable header"));
    let (entries, bits_per_entry, probes) = (next()?, next()?, next()?);
    if entries > 0 && !(1..=64).contains(&bits_per_entry) {
        return Err(bad("bits per entry out of range"));
    }
    if !(1..=64).contains(&probes) {
        return Err(bad("probe count out of range"));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn garbage_is_malformed_not_a_panic() {
        for junk in [
            &b""[..],
            b"\x42",
            b"\x42\x00\x00\x00",
            &[0xff; 64],
            &[0x43, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x0f],
        ] {
            assert!(decode_message(junk).is_err(), "{junk:?}");
        }
    }

    /// Found by the fuzz target: a bloom filter with zero bits per entry
    /// made Automerge divide by zero when answering.
    #[test]
    fn a_zero_width_bloom_filter_is_refused() {
        let crash = [
            0x43, 0x00, 0x00, 0x01, 0x00, 0x08, 0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0xd6, 0x00,
            0x01, 0x00,
        ];
        let err = decode_message(&crash).unwrap_err();
        assert!(err.to_string().contains("bloom filter"), "{err}");
    }

    #[test]
    fn a_real_message_decodes() {
        use automerge::sync::SyncDoc;
        let doc = automerge::Automerge::new();
        let mut state = automerge::sync::State::new();
        let msg = doc.generate_sync_message(&mut state).unwrap();
        let back = decode_message(&msg.clone().encode()).unwrap();
        assert_eq!(back.heads, msg.heads);
    }
}

#[cfg(test)]
mod unpacking {
    use super::*;

    /// A sync message carrying one compressed change chunk whose data
    /// inflates to `len` zero bytes (the checksum is never reached).
    fn bomb(len: usize) -> Vec<u8> {
        use std::io::Write;
        let mut enc = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        let zeros = vec![0u8; 1 << 20];
        for _ in 0..len.div_ceil(zeros.len()) {
            enc.write_all(&zeros).unwrap();
        }
        let deflated = enc.finish().unwrap();
        let mut chunk = vec![0x85, 0x6f, 0x4a, 0x83, 0, 0, 0, 0, 2];
        leb128::write::unsigned(&mut chunk, deflated.len() as u64).unwrap();
        chunk.extend(deflated);
        automerge::sync::Message {
            heads: vec![],
            need: vec![],
            have: vec![],
            changes: vec![chunk].into(),
            flags: None,
            version: automerge::sync::MessageVersion::V1,
        }
        .encode()
    }

    #[test]
    fn a_message_that_would_unpack_past_the_bound_is_refused_before_automerge_reads_it() {
        let msg = bomb(crate::inflate::MAX_INFLATED + (1 << 20));
        assert!(msg.len() < 4 << 20, "well inside a frame");
        assert_eq!(
            decode_message(&msg).unwrap_err(),
            WireError::Inflates(crate::inflate::MAX_INFLATED)
        );
        // Just under the bound, the same bomb passes this check; Automerge
        // then refuses the chunk, whose checksum is wrong.
        assert!(decode_message(&bomb(crate::inflate::MAX_INFLATED / 2)).is_ok());
    }
}
