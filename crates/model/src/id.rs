//! Identifiers. Entries use ULIDs: time-sortable, unique without
//! coordination, and short enough to abbreviate like git hashes.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use ulid::Ulid;

use crate::ModelError;

/// Serialised as its lowercase text, the same form the CLI shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(into = "String", try_from = "String")]
pub struct EntryId(pub Ulid);

impl From<EntryId> for String {
    fn from(id: EntryId) -> String {
        id.key()
    }
}

impl TryFrom<String> for EntryId {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl EntryId {
    /// Builds an id from a creation time and caller-supplied randomness, so
    /// that tests can pin both.
    pub fn from_parts(unix_ms: u64, random: u128) -> Self {
        EntryId(Ulid::from_parts(unix_ms, random))
    }

    /// A fresh id for an entry created at `unix_ms`, strictly after `last`
    /// when they share a millisecond, so one device's entries keep their
    /// writing order even with a coarse or pinned clock.
    pub fn next_after(last: Option<EntryId>, unix_ms: u64, random: u128) -> EntryId {
        let id = EntryId::from_parts(unix_ms, random);
        match last {
            Some(l) if l.0.timestamp_ms() == unix_ms && l >= id => {
                l.0.increment().map(EntryId).unwrap_or(id)
            }
            _ => id,
        }
    }

    /// The canonical lowercase text form stored in the document.
    pub fn key(&self) -> String {
        self.0.to_string().to_ascii_lowercase()
    }
}

impl fmt::Display for EntryId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.key())
    }
}

impl FromStr for EntryId {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Ulid::from_string(&s.to_ascii_uppercase())
            .map(EntryId)
            .map_err(|_| ModelError::Id(s.to_string()))
    }
}

/// Checks that `s` could be the start of an entry id (Crockford base32).
pub fn valid_prefix(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 26
        && s.chars().all(|c| {
            let c = c.to_ascii_uppercase();
            c.is_ascii_digit() || (c.is_ascii_uppercase() && !matches!(c, 'I' | 'L' | 'O' | 'U'))
        })
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub String);

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// A partner of the couple. Chosen at `hearth init`; stable for life.
    PartnerId
);
string_id!(
    /// One device of one partner: the hex of its sync key, or any stable
    /// string before sync is set up.
    DeviceId
);

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_sort_by_time_and_round_trip() {
        let a = EntryId::from_parts(1_000, 99);
        let b = EntryId::from_parts(2_000, 1);
        assert!(a < b);
        assert!(a.key() < b.key(), "text form keeps time order");
        assert_eq!(a.key().parse::<EntryId>().unwrap(), a);
        assert_eq!(a.key().to_uppercase().parse::<EntryId>().unwrap(), a);
    }

    #[test]
    fn ids_in_one_millisecond_stay_in_order() {
        let a = EntryId::next_after(None, 5, u128::MAX >> 50);
        let b = EntryId::next_after(Some(a), 5, 1);
        let c = EntryId::next_after(Some(b), 5, 0);
        assert!(a < b && b < c);
        let later = EntryId::next_after(Some(c), 6, 0);
        assert_eq!(later, EntryId::from_parts(6, 0));
    }

    #[test]
    fn bad_ids_are_refused() {
        assert!("nope".parse::<EntryId>().is_err());
        assert!(!valid_prefix(""));
        assert!(!valid_prefix("01hx-"));
        assert!(!valid_prefix("01hxu"));
        assert!(valid_prefix("01HX"));
    }
}
