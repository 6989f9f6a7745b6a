//! The on-disk container of one stored file: a fixed header, then the
//! Automerge bytes unchanged. The header's length and SHA-256 let a load tell
//! a torn or corrupted file from a good one before Automerge sees it;
//! Automerge alone would quietly load the intact prefix of a truncated file.

use sha2::{Digest, Sha256};

pub const MAGIC: &[u8; 8] = b"HEARTH\x00\x01";
pub const HEADER_LEN: usize = 8 + 8 + 32;

pub fn encode(payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.extend_from_slice(&(payload.len() as u64).to_le_bytes());
    out.extend_from_slice(&Sha256::digest(payload));
    out.extend_from_slice(payload);
    out
}

/// Why a stored file was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FrameError {
    #[error("not a hearth file (bad magic)")]
    Magic,
    #[error("truncated: header says {expected} bytes, found {found}")]
    Truncated { expected: u64, found: u64 },
    #[error("trailing garbage: {0} bytes after the payload")]
    Trailing(u64),
    #[error("checksum mismatch: the file is corrupted")]
    Checksum,
}

pub fn decode(bytes: &[u8]) -> Result<&[u8], FrameError> {
    if bytes.len() < HEADER_LEN {
        return if bytes.len() >= 8 && &bytes[..8] != MAGIC {
            Err(FrameError::Magic)
        } else {
            Err(FrameError::Truncated {
                expected: HEADER_LEN as u64,
                found: bytes.len() as u64,
            })
        };
    }
    if &bytes[..8] != MAGIC {
        return Err(FrameError::Magic);
    }
    let len = u64::from_le_bytes(bytes[8..16].try_into().expect("8 bytes"));
    let body = &bytes[HEADER_LEN..];
    let found = body.len() as u64;
    if found < len {
        return Err(FrameError::Truncated {
            expected: len,
            found,
        });
    }
    if found > len {
        return Err(FrameError::Trailing(found - len));
    }
    if Sha256::digest(body).as_slice() != &bytes[16..48] {
        return Err(FrameError::Checksum);
    }
    Ok(body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn round_trip() {
        let f = encode(b"hello");
        assert_eq!(decode(&f).unwrap(), b"hello");
        assert_eq!(decode(&encode(b"")).unwrap(), b"");
    }

    #[test]
    fn damage_is_named() {
        let f = encode(b"some automerge bytes");
        assert!(matches!(
            decode(&f[..f.len() - 3]),
            Err(FrameError::Truncated { .. })
        ));
        assert!(matches!(
            decode(&f[..10]),
            Err(FrameError::Truncated { .. })
        ));
        let mut g = f.clone();
        g.push(0);
        assert_eq!(decode(&g), Err(FrameError::Trailing(1)));
        let mut h = f.clone();
        h[20] ^= 1;
        assert_eq!(decode(&h), Err(FrameError::Checksum));
        let mut m = f;
        m[0] = b'X';
        assert_eq!(decode(&m), Err(FrameError::Magic));
    }

    proptest! {
        #[test]
        fn any_truncation_or_bit_flip_is_caught(payload in proptest::collection::vec(any::<u8>(), 0..512), cut in any::<prop::sample::Index>(), bit in 0u8..8) {
            let f = encode(&payload);
            let at = cut.index(f.len());
            prop_assert!(decode(&f[..at]).is_err());
            let mut g = f.clone();
            g[at] ^= 1 << bit;
            prop_assert!(decode(&g).is_err());
        }
    }
}
