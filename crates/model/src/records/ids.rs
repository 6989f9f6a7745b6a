//! The raw identifiers that signed records carry: device keys, partner ids
//! and record keys, with their lowercase-hex text forms.

use std::fmt;
use std::str::FromStr;

use sha2::{Digest, Sha256};

use super::error::RecordError;

/// Lowercase hex of `bytes`.
pub(crate) fn hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(DIGITS[(b >> 4) as usize] as char);
        out.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    out
}

/// Parses exactly `N` bytes of lowercase hex. Uppercase is refused: every
/// id has one text form, so two spellings can never name one thing.
pub(crate) fn unhex<const N: usize>(s: &str) -> Option<[u8; N]> {
    let digit = |c: u8| match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        _ => None,
    };
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return None;
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        out[i] = (digit(pair[0])? << 4) | digit(pair[1])?;
    }
    Some(out)
}

macro_rules! hex_id {
    ($(#[$m:meta])* $name:ident, $len:expr, $what:expr) => {
        $(#[$m])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name(pub [u8; $len]);

        impl $name {
            pub fn as_bytes(&self) -> &[u8; $len] {
                &self.0
            }

            /// The lowercase hex form, as stored in documents.
            pub fn to_hex(&self) -> String {
                hex(&self.0)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.to_hex())
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.to_hex())
            }
        }

        impl FromStr for $name {
            type Err = RecordError;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                unhex::<$len>(s).map($name).ok_or_else(|| RecordError::BadId {
                    what: $what,
                    text: s.chars().take(80).collect(),
                })
            }
        }
    };
}

hex_id!(
    /// A device: its 32-byte ed25519 public key, which is also its iroh
    /// endpoint id and its Automerge actor.
    DeviceKey,
    32,
    "device id"
);

hex_id!(
    /// A partner: 16 bytes derived from the key of the partner's root device.
    /// It lasts for life, even after that device is removed.
    PartnerCode,
    16,
    "partner id"
);

hex_id!(
    /// Where a record sits in the couple document's `records` map: the first
    /// 16 bytes of SHA-256 of its body.
    RecordKey,
    16,
    "record key"
);

impl DeviceKey {
    /// Twelve digits a person can read aloud: a device's fingerprint, which
    /// `hearth status` shows on the device and `hearth peers approve` shows
    /// on the partner's, so the two can be compared before approving.
    pub fn fingerprint(&self) -> String {
        let mut hasher = Sha256::new();
        hasher.update(b"hearth/v2/device-fingerprint\0");
        hasher.update(self.0);
        let digest = hasher.finalize();
        let n = u64::from_be_bytes(digest[..8].try_into().expect("8 bytes")) % 1_000_000_000_000;
        let s = format!("{n:012}");
        format!("{} {} {}", &s[..4], &s[4..8], &s[8..])
    }
}

impl PartnerCode {
    /// The partner whose root device has key `root`.
    pub fn of_root(root: &DeviceKey) -> PartnerCode {
        let mut hasher = Sha256::new();
        hasher.update(b"hearth/v2/partner\0");
        hasher.update(root.0);
        let digest = hasher.finalize();
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        PartnerCode(out)
    }
}

impl RecordKey {
    /// The key of the record whose body is `body`.
    pub fn of_body(body: &[u8]) -> RecordKey {
        let digest = Sha256::digest(body);
        let mut out = [0u8; 16];
        out.copy_from_slice(&digest[..16]);
        RecordKey(out)
    }
}

#[cfg(test)]
mod tests {

    #[test]
    fn a_fingerprint_is_twelve_digits_of_that_key_alone() {
        let a = DeviceKey([1; 32]);
        let f = a.fingerprint();
        assert_eq!(f.len(), 14);
        assert!(f.chars().all(|c| c.is_ascii_digit() || c == ' '), "{f}");
        assert_eq!(f, DeviceKey([1; 32]).fingerprint());
        assert_ne!(f, DeviceKey([2; 32]).fingerprint());
    }

    use super::*;

    #[test]
    fn hex_round_trips_and_refuses_other_spellings() {
        let key = DeviceKey([0xab; 32]);
        let text = key.to_hex();
        assert_eq!(text, "ab".repeat(32));
        assert_eq!(text.parse::<DeviceKey>().unwrap(), key);
        assert!(text.to_uppercase().parse::<DeviceKey>().is_err());
        assert!(text[..62].parse::<DeviceKey>().is_err());
        assert!(format!("{text}00").parse::<DeviceKey>().is_err());
        assert!("zz".repeat(16).parse::<PartnerCode>().is_err());
        // A multi-byte character must not be split into "digits".
        assert!("é".repeat(16).parse::<PartnerCode>().is_err());
    }

    #[test]
    fn partner_code_is_the_spec_hash_of_the_root_key() {
        // SHA-256 over "hearth/v2/partner", NUL and 32 zero bytes, cut to 16
        // bytes; computed outside this crate.
        let code = PartnerCode::of_root(&DeviceKey([0; 32]));
        assert_eq!(code.to_hex(), "ba2859b4d363ea7f064d888f3739307a");
    }
}
