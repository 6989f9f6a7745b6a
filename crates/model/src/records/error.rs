//! Why a signed record, or a part of its canonical bytes, was refused. These
//! bytes come from peers, so every way they can be wrong is a value here,
//! never a panic.

use thiserror::Error;

/// A canonical payload that does not parse exactly.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum CanonicalError {
    #[error("payload ends inside its {part}")]
    Truncated { part: &'static str },
    #[error("payload has {count} bytes left over after its last part")]
    TrailingBytes { count: usize },
    #[error("payload tag is not printable ASCII ended by a NUL byte")]
    BadTag,
    #[error("{part} is not UTF-8")]
    BadUtf8 { part: &'static str },
    #[error("{part} are not in ascending order")]
    Unsorted { part: &'static str },
    #[error("{part} hold a duplicate")]
    Duplicate { part: &'static str },
    #[error("{part} is too long to encode: {len}, the maximum is 65535")]
    TooLong { part: &'static str, len: usize },
}

/// A signed record that is refused, or that cannot be made.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum RecordError {
    #[error("record body: {0}")]
    Canonical(#[from] CanonicalError),
    #[error("record tag {0:?} is not one this version knows")]
    UnknownTag(String),
    #[error("record field {field}: {why}")]
    BadField {
        field: &'static str,
        why: &'static str,
    },
    #[error("record is {len} bytes, the maximum is {max}")]
    TooLarge { len: usize, max: usize },
    #[error("record is {len} bytes, shorter than a signature and a body")]
    TooShort { len: usize },
    #[error("record sits under a key that is not the hash of its body")]
    KeyMismatch,
    #[error("record signature does not verify against its signer")]
    BadSignature,
    #[error("the signing key is not the key of the record's signer")]
    WrongSigningKey,
    #[error("invalid {what} {text:?}: expected lowercase hex of the right length")]
    BadId { what: &'static str, text: String },
}
