//! The frames of a schema 2 sync session on the wire (docs/PROTOCOL.md,
//! "Sync frames, schema 2"): one document's signed heads and Automerge
//! message, or the heads the sender holds of a document, or a key offer, or
//! a key gift. Decoding is strict: a frame that
//! does not parse exactly, or breaks a bound, is refused whole.

use thiserror::Error;

use super::canonical::{Reader, Writer};
use super::content::VersionKey;
use super::error::CanonicalError;
use super::exchange::{Frame, MAX_SIGNED_PER_FRAME};
use super::heads::PartnerDoc;
use super::keys::{Audience, KeyGift, KeyOffer};
use super::manifest::DocId;

const TAG: &str = "hearth/v2/frame";
const KIND_DOC: u8 = 1;
const KIND_OFFER: u8 = 2;
const KIND_GIFT: u8 = 3;
const KIND_MANIFEST: u8 = 4;
/// At most this many heads in a manifest row. A document with more (many
/// devices writing it offline at once) is simply not announced, and goes
/// through Automerge's sync as before.
pub const MAX_HEADS: usize = 256;
/// At most this many keys in one offer or gift: a gift of that many is
/// about a megabyte. More go in further frames.
pub const MAX_KEYS_PER_FRAME: usize = 16 * 1024;
/// A signed-heads record is at most 4 KiB (SCHEMA.md, "Canonical bytes").
const MAX_SIGNED_LEN: usize = 4096;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionFrame {
    Doc(Frame),
    /// One row of the sender's manifest: the heads it holds of `doc`, sent
    /// once per document at a session's start, and again as the first key
    /// offer of a document that came into sync since. A document both hold
    /// at the same heads is not synced at all, so it need not even be
    /// loaded.
    Manifest {
        doc: DocId,
        heads: Vec<[u8; 32]>,
        /// The digest of the key list the sender would offer the receiver
        /// for this document: equal digests on both sides mean neither
        /// lacks a key the other could give, so no offer goes.
        keys: Option<[u8; 32]>,
    },
    Offer(KeyOffer),
    Gift(KeyGift),
}

impl SessionFrame {
    /// What the frame is and which document it is about, for logs: no
    /// content.
    pub fn kind(&self) -> String {
        match self {
            SessionFrame::Doc(f) => format!("changes of {}", f.doc),
            SessionFrame::Manifest { doc, keys, .. } => match keys {
                Some(_) => format!("manifest row of {doc} with its keys digest"),
                None => format!("manifest row of {doc}"),
            },
            SessionFrame::Offer(o) => format!("key offer of {}", DocId::Partner(o.doc)),
            SessionFrame::Gift(g) => format!("{} keys of {}", g.keys.len(), DocId::Partner(g.doc)),
        }
    }
}

#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum FrameError {
    #[error("sync frame: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("sync frame: unknown kind {0}")]
    Kind(u8),
    #[error("sync frame: {0:?} is not a document id")]
    Doc(String),
    #[error("sync frame: keys of the couple document, which has none")]
    CoupleKeys,
    #[error("sync frame: {what} {count}, the maximum is {max}")]
    TooMany {
        what: &'static str,
        count: usize,
        max: usize,
    },
    #[error("sync frame: audience {0} is neither 0 nor 1")]
    Audience(u8),
    #[error("sync frame: flag {0} is neither 0 nor 1")]
    Flag(u8),
}

fn audience_byte(a: Audience) -> u8 {
    a as u8
}

fn audience(b: u8) -> Result<Audience, FrameError> {
    match b {
        0 => Ok(Audience::Mine),
        1 => Ok(Audience::Couple),
        other => Err(FrameError::Audience(other)),
    }
}

fn count(n: usize, what: &'static str, max: usize) -> Result<u32, FrameError> {
    if n > max {
        return Err(FrameError::TooMany {
            what,
            count: n,
            max,
        });
    }
    Ok(n as u32)
}

impl SessionFrame {
    pub fn encode(&self) -> Result<Vec<u8>, FrameError> {
        let mut w = Writer::new();
        w.tag(TAG);
        match self {
            SessionFrame::Doc(f) => {
                w.u8(KIND_DOC).str(&f.doc.to_string())?;
                w.u32(count(
                    f.signed.len(),
                    "signed-heads records",
                    MAX_SIGNED_PER_FRAME,
                )?);
                for s in &f.signed {
                    w.blob(s)?;
                }
                w.blob(&f.message)?;
            }
            SessionFrame::Manifest { doc, heads, keys } => {
                w.u8(KIND_MANIFEST).str(&doc.to_string())?;
                w.u32(count(heads.len(), "heads", MAX_HEADS)?);
                for h in heads {
                    w.id32(h);
                }
                match keys {
                    None => w.u8(0),
                    Some(d) => w.u8(1).id32(d),
                };
            }
            SessionFrame::Offer(o) => {
                w.u8(KIND_OFFER).str(&o.doc.to_string())?;
                w.id16(&o.from.to_be_bytes()).id16(&o.to.to_be_bytes());
                w.u32(count(o.have.len(), "keys", MAX_KEYS_PER_FRAME)?);
                for ((entry, version), a) in &o.have {
                    w.id16(&entry.to_be_bytes())
                        .id16(version)
                        .u8(audience_byte(*a));
                }
            }
            SessionFrame::Gift(g) => {
                w.u8(KIND_GIFT).str(&g.doc.to_string())?;
                w.u32(count(g.keys.len(), "keys", MAX_KEYS_PER_FRAME)?);
                for ((entry, version), a, key) in &g.keys {
                    w.id16(&entry.to_be_bytes())
                        .id16(version)
                        .u8(audience_byte(*a))
                        .id32(&key.0);
                }
            }
        }
        Ok(w.into_bytes())
    }

    pub fn decode(bytes: &[u8]) -> Result<SessionFrame, FrameError> {
        let mut r = Reader::new(bytes);
        if r.tag()? != TAG {
            return Err(FrameError::Canonical(CanonicalError::BadTag));
        }
        let kind = r.u8()?;
        let doc_text = r.str()?;
        let doc: DocId = doc_text
            .parse()
            .map_err(|_| FrameError::Doc(doc_text.to_string()))?;
        let partner_doc = |doc: DocId| -> Result<PartnerDoc, FrameError> {
            match doc {
                DocId::Couple => Err(FrameError::CoupleKeys),
                DocId::Partner(p) => Ok(p),
            }
        };
        let frame = match kind {
            KIND_DOC => {
                let n = r.u32()? as usize;
                count(n, "signed-heads records", MAX_SIGNED_PER_FRAME)?;
                let mut signed = Vec::with_capacity(n);
                for _ in 0..n {
                    let s = r.blob()?;
                    count(s.len(), "bytes in a signed-heads record", MAX_SIGNED_LEN)?;
                    signed.push(s.to_vec());
                }
                let message = r.blob()?.to_vec();
                SessionFrame::Doc(Frame {
                    doc,
                    signed,
                    message,
                })
            }
            KIND_MANIFEST => {
                let n = r.u32()? as usize;
                count(n, "heads", MAX_HEADS)?;
                let mut heads = Vec::with_capacity(n);
                for _ in 0..n {
                    heads.push(r.id32()?);
                }
                let keys = match r.u8()? {
                    0 => None,
                    1 => Some(r.id32()?),
                    other => return Err(FrameError::Flag(other)),
                };
                SessionFrame::Manifest { doc, heads, keys }
            }
            KIND_OFFER => {
                let doc = partner_doc(doc)?;
                let from = u128::from_be_bytes(r.id16()?);
                let to = u128::from_be_bytes(r.id16()?);
                let n = r.u32()? as usize;
                count(n, "keys", MAX_KEYS_PER_FRAME)?;
                let mut have = Vec::with_capacity(n);
                for _ in 0..n {
                    let entry = u128::from_be_bytes(r.id16()?);
                    let version = r.id16()?;
                    have.push(((entry, version), audience(r.u8()?)?));
                }
                SessionFrame::Offer(KeyOffer {
                    doc,
                    from,
                    to,
                    have,
                })
            }
            KIND_GIFT => {
                let doc = partner_doc(doc)?;
                let n = r.u32()? as usize;
                count(n, "keys", MAX_KEYS_PER_FRAME)?;
                let mut keys = Vec::with_capacity(n);
                for _ in 0..n {
                    let entry = u128::from_be_bytes(r.id16()?);
                    let version = r.id16()?;
                    let a = audience(r.u8()?)?;
                    keys.push(((entry, version), a, VersionKey(r.id32()?)));
                }
                SessionFrame::Gift(KeyGift { doc, keys })
            }
            other => return Err(FrameError::Kind(other)),
        };
        r.finish()?;
        Ok(frame)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::heads::DocKind;
    use crate::records::ids::PartnerCode;

    fn pdoc() -> PartnerDoc {
        PartnerDoc {
            kind: DocKind::Partner,
            partner: PartnerCode([4; 16]),
            year: 2026,
        }
    }

    fn samples() -> Vec<SessionFrame> {
        vec![
            SessionFrame::Doc(Frame {
                doc: DocId::Couple,
                signed: vec![],
                message: vec![0x42, 1, 2],
            }),
            SessionFrame::Doc(Frame {
                doc: DocId::Partner(pdoc()),
                signed: vec![vec![9; 120], vec![8; 100]],
                message: vec![7; 300],
            }),
            SessionFrame::Manifest {
                doc: DocId::Partner(pdoc()),
                heads: vec![[3; 32], [4; 32]],
                keys: Some([5; 32]),
            },
            SessionFrame::Manifest {
                doc: DocId::Couple,
                heads: vec![],
                keys: None,
            },
            SessionFrame::Offer(KeyOffer {
                doc: pdoc(),
                from: 1,
                to: u128::MAX - 1,
                have: vec![
                    ((1, [2; 16]), Audience::Mine),
                    ((3, [4; 16]), Audience::Couple),
                ],
            }),
            SessionFrame::Gift(KeyGift {
                doc: pdoc(),
                keys: vec![((5, [6; 16]), Audience::Couple, VersionKey([7; 32]))],
            }),
        ]
    }

    #[test]
    fn every_kind_round_trips() {
        for f in samples() {
            assert_eq!(SessionFrame::decode(&f.encode().unwrap()).unwrap(), f);
        }
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused_or_reads_as_another_valid_frame() {
        for f in samples() {
            let bytes = f.encode().unwrap();
            for n in 0..bytes.len() {
                assert!(
                    SessionFrame::decode(&bytes[..n]).is_err(),
                    "a frame cut at {n}"
                );
            }
            let mut longer = bytes.clone();
            longer.push(0);
            assert!(SessionFrame::decode(&longer).is_err(), "a byte left over");
            for i in 0..bytes.len() {
                let mut bent = bytes.clone();
                bent[i] ^= 0x80;
                // Never a panic; a flipped payload byte may still parse.
                if let Ok(g) = SessionFrame::decode(&bent) {
                    assert_eq!(g.encode().unwrap(), bent);
                }
            }
        }
    }

    #[test]
    fn bounds_and_shapes_are_refused() {
        let mut w = Writer::new();
        w.tag(TAG)
            .u8(KIND_OFFER)
            .str("couple")
            .unwrap()
            .id16(&[0; 16])
            .id16(&[0; 16])
            .u32(0);
        assert_eq!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::CoupleKeys)
        );
        let mut w = Writer::new();
        w.tag(TAG)
            .u8(KIND_GIFT)
            .str(&pdoc().to_string())
            .unwrap()
            .u32(MAX_KEYS_PER_FRAME as u32 + 1);
        assert!(matches!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::TooMany { .. })
        ));
        let mut w = Writer::new();
        w.tag(TAG).u8(9).str("couple").unwrap();
        assert_eq!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::Kind(9))
        );
        let mut w = Writer::new();
        w.tag(TAG).u8(KIND_DOC).str("p/zz/2026").unwrap();
        assert!(matches!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::Doc(_))
        ));
        let mut w = Writer::new();
        w.tag(TAG)
            .u8(KIND_OFFER)
            .str(&pdoc().to_string())
            .unwrap()
            .id16(&[0; 16])
            .id16(&[0xff; 16])
            .u32(1)
            .id16(&[0; 16])
            .id16(&[0; 16])
            .u8(2);
        assert_eq!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::Audience(2))
        );
        let mut w = Writer::new();
        w.tag(TAG)
            .u8(KIND_DOC)
            .str("couple")
            .unwrap()
            .u32(1)
            .blob(&[0; 5000])
            .unwrap()
            .blob(&[])
            .unwrap();
        assert!(matches!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::TooMany { .. })
        ));
        let mut w = Writer::new();
        w.tag(TAG)
            .u8(KIND_MANIFEST)
            .str("couple")
            .unwrap()
            .u32(MAX_HEADS as u32 + 1);
        assert!(matches!(
            SessionFrame::decode(&w.into_bytes()),
            Err(FrameError::TooMany { what: "heads", .. })
        ));
        let many = Frame {
            doc: DocId::Couple,
            signed: vec![vec![]; MAX_SIGNED_PER_FRAME + 1],
            message: vec![],
        };
        assert!(SessionFrame::Doc(many).encode().is_err());
    }
}
