//! The sealed content of an entry version, the value `b` of a partner
//! document's entry (docs/SCHEMA.md, "Entries"; issue 10, points 1 and 2).
//!
//! Each version is encrypted with its own random key, so forgetting the key
//! forgets the words, while the ciphertext stays in the Automerge history
//! for ever. The associated data binds a ciphertext to its document, entry
//! and version; the padding hides the length to 256 bytes. Keys and nonces
//! come in as arguments: nothing here draws randomness.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use thiserror::Error;

use super::canonical::Writer;
use crate::EntryId;

/// The format byte `b` starts with.
pub const FORMAT: u8 = 0x01;
pub const VERSION_ID_LEN: usize = 16;
pub const NONCE_LEN: usize = 24;
const TAG_LEN: usize = 16;
const HEADER_LEN: usize = 1 + VERSION_ID_LEN + NONCE_LEN;
/// The plaintext is padded with zeros to a multiple of this.
pub const PAD: usize = 256;
/// The largest `b`, header and tag included.
pub const MAX_SEALED: usize = 512 * 1024;
const TAG_ENTRY: &str = "hearth/v2/entry";

/// One version's key: 32 random bytes, held in a key file, never in a
/// document.
#[derive(Clone, PartialEq, Eq)]
pub struct VersionKey(pub [u8; 32]);

impl std::fmt::Debug for VersionKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("VersionKey(..)")
    }
}

/// Why a sealed version does not open, or cannot be made.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ContentError {
    #[error("sealed content is {len} bytes, the maximum is {MAX_SEALED}")]
    TooLarge { len: usize },
    #[error("sealed content is {len} bytes, shorter than its header and tag")]
    TooShort { len: usize },
    #[error("sealed content has format {0:#04x}, not {FORMAT:#04x}")]
    Format(u8),
    #[error("sealed content does not decrypt with this key for this document, entry and version")]
    Tag,
    #[error("decrypted content is not a length, that many bytes and zero padding")]
    Padding,
}

/// The associated data: tag, document, entry and version.
fn associated(doc: &str, entry: &EntryId, version: &[u8; VERSION_ID_LEN]) -> Vec<u8> {
    let mut w = Writer::new();
    w.tag(TAG_ENTRY);
    // Document ids and entry keys are short ASCII: they always encode.
    w.str(doc).expect("a document id fits a str");
    w.str(&entry.key()).expect("an entry key fits a str");
    w.id16(version);
    w.into_bytes()
}

/// Seals `json`, the version's content object, for entry `entry` of
/// document `doc`.
pub fn seal_version(
    key: &VersionKey,
    doc: &str,
    entry: &EntryId,
    version: [u8; VERSION_ID_LEN],
    nonce: [u8; NONCE_LEN],
    json: &[u8],
) -> Result<Vec<u8>, ContentError> {
    let padded = (4 + json.len()).div_ceil(PAD) * PAD;
    let len = HEADER_LEN + padded + TAG_LEN;
    if len > MAX_SEALED {
        return Err(ContentError::TooLarge { len });
    }
    let mut plain = Vec::with_capacity(padded);
    plain.extend_from_slice(&(json.len() as u32).to_be_bytes());
    plain.extend_from_slice(json);
    plain.resize(padded, 0);
    let sealed = XChaCha20Poly1305::new((&key.0).into())
        .encrypt(
            XNonce::from_slice(&nonce),
            Payload {
                msg: &plain,
                aad: &associated(doc, entry, &version),
            },
        )
        .map_err(|_| ContentError::TooLarge { len })?;
    let mut out = Vec::with_capacity(len);
    out.push(FORMAT);
    out.extend_from_slice(&version);
    out.extend_from_slice(&nonce);
    out.extend_from_slice(&sealed);
    Ok(out)
}

/// The version id of a sealed value, readable without its key: what a
/// reader looks its key up by.
pub fn version_of(sealed: &[u8]) -> Result<[u8; VERSION_ID_LEN], ContentError> {
    check_frame(sealed)?;
    Ok(sealed[1..1 + VERSION_ID_LEN]
        .try_into()
        .expect("checked length"))
}

/// Opens a sealed value of entry `entry` in document `doc`: the content
/// object's JSON bytes.
pub fn open_version(
    key: &VersionKey,
    doc: &str,
    entry: &EntryId,
    sealed: &[u8],
) -> Result<Vec<u8>, ContentError> {
    let version = version_of(sealed)?;
    let nonce = &sealed[1 + VERSION_ID_LEN..HEADER_LEN];
    let plain = XChaCha20Poly1305::new((&key.0).into())
        .decrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: &sealed[HEADER_LEN..],
                aad: &associated(doc, entry, &version),
            },
        )
        .map_err(|_| ContentError::Tag)?;
    let (len, rest) = plain.split_at_checked(4).ok_or(ContentError::Padding)?;
    let len = u32::from_be_bytes(len.try_into().expect("4 bytes")) as usize;
    if len > rest.len() || rest[len..].iter().any(|b| *b != 0) || plain.len() % PAD != 0 {
        return Err(ContentError::Padding);
    }
    Ok(rest[..len].to_vec())
}

fn check_frame(sealed: &[u8]) -> Result<(), ContentError> {
    if sealed.len() > MAX_SEALED {
        return Err(ContentError::TooLarge { len: sealed.len() });
    }
    if sealed.len() < HEADER_LEN + TAG_LEN {
        return Err(ContentError::TooShort { len: sealed.len() });
    }
    if sealed[0] != FORMAT {
        return Err(ContentError::Format(sealed[0]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const DOC: &str = "p/00112233445566778899aabbccddeeff/2026";

    fn entry(n: u128) -> EntryId {
        EntryId::from_parts(1_795_638_600_000, n)
    }

    fn sealed(json: &[u8]) -> Vec<u8> {
        seal_version(&VersionKey([7; 32]), DOC, &entry(1), [3; 16], [9; 24], json).unwrap()
    }

    #[test]
    fn a_version_opens_with_its_key_and_shows_nothing_of_itself() {
        let json = br#"{"kind":"note","text":"the words of a quiet evening"}"#;
        let b = sealed(json);
        assert!(!b.windows(5).any(|w| w == b"words" || w == b"note\""));
        assert_eq!(version_of(&b).unwrap(), [3; 16]);
        assert_eq!(
            open_version(&VersionKey([7; 32]), DOC, &entry(1), &b).unwrap(),
            json
        );
    }

    #[test]
    fn the_length_is_hidden_to_256_bytes() {
        let short = sealed(b"{}");
        let longer = sealed(&[b'x'; 200]);
        assert_eq!(short.len(), HEADER_LEN + PAD + TAG_LEN);
        assert_eq!(short.len(), longer.len());
        assert_eq!(sealed(&[b'x'; 253]).len(), HEADER_LEN + 2 * PAD + TAG_LEN);
    }

    #[test]
    fn a_version_opens_only_for_its_key_document_entry_and_version() {
        let b = sealed(b"{\"kind\":\"note\"}");
        let key = VersionKey([7; 32]);
        assert_eq!(
            open_version(&VersionKey([8; 32]), DOC, &entry(1), &b),
            Err(ContentError::Tag)
        );
        let other_year = DOC.replace("2026", "2025");
        assert_eq!(
            open_version(&key, &other_year, &entry(1), &b),
            Err(ContentError::Tag)
        );
        assert_eq!(
            open_version(&key, DOC, &entry(2), &b),
            Err(ContentError::Tag)
        );
        // The version id is part of the associated data: moving a
        // ciphertext under another version id does not open.
        let mut moved = b.clone();
        moved[1] ^= 1;
        assert_eq!(
            open_version(&key, DOC, &entry(1), &moved),
            Err(ContentError::Tag)
        );
        for i in HEADER_LEN..b.len() {
            let mut bent = b.clone();
            bent[i] ^= 0x40;
            assert_eq!(
                open_version(&key, DOC, &entry(1), &bent),
                Err(ContentError::Tag)
            );
        }
    }

    #[test]
    fn malformed_values_are_named() {
        let b = sealed(b"{}");
        let key = VersionKey([7; 32]);
        let mut format = b.clone();
        format[0] = 2;
        assert_eq!(
            open_version(&key, DOC, &entry(1), &format),
            Err(ContentError::Format(2))
        );
        assert!(matches!(
            open_version(&key, DOC, &entry(1), &b[..HEADER_LEN + 3]),
            Err(ContentError::TooShort { .. })
        ));
        assert!(matches!(
            seal_version(
                &key,
                DOC,
                &entry(1),
                [0; 16],
                [0; 24],
                &vec![b'x'; MAX_SEALED]
            ),
            Err(ContentError::TooLarge { .. })
        ));
        // A length that points past the plaintext, sealed with the right key.
        let bad = {
            let mut plain = 999u32.to_be_bytes().to_vec();
            plain.resize(PAD, 0);
            let ct = XChaCha20Poly1305::new((&key.0).into())
                .encrypt(
                    XNonce::from_slice(&[5; 24]),
                    Payload {
                        msg: &plain,
                        aad: &associated(DOC, &entry(1), &[4; 16]),
                    },
                )
                .unwrap();
            [&[FORMAT][..], &[4; 16], &[5; 24], &ct].concat()
        };
        assert_eq!(
            open_version(&key, DOC, &entry(1), &bad),
            Err(ContentError::Padding)
        );
    }
}
