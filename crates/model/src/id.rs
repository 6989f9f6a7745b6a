//! Identifiers. Entries use ULIDs: time-sortable, unique without
//! coordination, and short enough to abbreviate like git hashes.

use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;
use std::sync::{Arc, Mutex};
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

/// The text of a partner or device id, shared. Every entry names its
/// author and its device, so the view of a decade holds tens of thousands
/// of copies of a handful of 64-character ids: each distinct one is kept
/// once, and an entry holds a pointer to it.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct IdStr(Arc<str>);

/// How many distinct ids are shared at most. A couple has two partners
/// and a few devices; ids beyond this (a test's, or a file's nonsense) are
/// still right, only not shared, so nothing a file holds can grow the
/// table without bound.
const SHARED_IDS: usize = 64;

fn shared(s: &str) -> Arc<str> {
    static SHARED: Mutex<BTreeSet<Arc<str>>> = Mutex::new(BTreeSet::new());
    // A poisoned table is still a table of valid strings.
    share(&mut SHARED.lock().unwrap_or_else(|e| e.into_inner()), s)
}

fn share(table: &mut BTreeSet<Arc<str>>, s: &str) -> Arc<str> {
    if let Some(id) = table.get(s) {
        return id.clone();
    }
    let id: Arc<str> = Arc::from(s);
    if table.len() < SHARED_IDS {
        table.insert(id.clone());
    }
    id
}

impl IdStr {
    pub fn new(s: &str) -> IdStr {
        IdStr(shared(s))
    }
}

impl std::ops::Deref for IdStr {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for IdStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl From<&str> for IdStr {
    fn from(s: &str) -> IdStr {
        IdStr::new(s)
    }
}

impl From<String> for IdStr {
    fn from(s: String) -> IdStr {
        IdStr::new(&s)
    }
}

impl From<&String> for IdStr {
    fn from(s: &String) -> IdStr {
        IdStr::new(s)
    }
}

impl PartialEq<str> for IdStr {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for IdStr {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl PartialEq<String> for IdStr {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<IdStr> for String {
    fn eq(&self, other: &IdStr) -> bool {
        **self == *other.0
    }
}

impl PartialEq<IdStr> for str {
    fn eq(&self, other: &IdStr) -> bool {
        *self == *other.0
    }
}

impl Serialize for IdStr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for IdStr {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<IdStr, D::Error> {
        struct Text;
        impl serde::de::Visitor<'_> for Text {
            type Value = IdStr;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an id as a string")
            }
            // Borrowed where the input allows: a shared id costs no
            // allocation to read.
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<IdStr, E> {
                Ok(IdStr::new(v))
            }
        }
        d.deserialize_str(Text)
    }
}

macro_rules! string_id {
    ($(#[$m:meta])* $name:ident) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub IdStr);

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
    fn an_id_read_many_times_is_kept_once_and_the_table_of_shared_ids_is_bounded() {
        // A table of its own: the process's is shared by every test.
        let mut table = BTreeSet::new();
        let hex = "ab".repeat(32);
        let (a, b) = (share(&mut table, &hex), share(&mut table, &hex));
        assert_eq!(&*a, hex);
        assert!(Arc::ptr_eq(&a, &b), "one allocation");
        // Far more distinct ids than the table holds: each is still
        // itself, and the table stops growing.
        let many: Vec<Arc<str>> = (0..SHARED_IDS * 3)
            .map(|i| share(&mut table, &format!("device-{i}")))
            .collect();
        for (i, d) in many.iter().enumerate() {
            assert_eq!(**d, format!("device-{i}"));
        }
        assert_eq!(table.len(), SHARED_IDS);
        let last = format!("device-{}", SHARED_IDS * 3 - 1);
        assert!(!Arc::ptr_eq(
            &share(&mut table, &last),
            &many[SHARED_IDS * 3 - 1]
        ));
        assert!(
            Arc::ptr_eq(&share(&mut table, &hex), &a),
            "the first ones stay"
        );
    }

    #[test]
    fn ids_read_from_json_are_themselves_and_write_back_the_same() {
        let hex = "ab".repeat(32);
        let json = format!("[\"{hex}\",\"a \\\"quoted\\\" id\"]");
        let read: Vec<PartnerId> = serde_json::from_str(&json).unwrap();
        assert_eq!(read[0].as_str(), hex);
        assert_eq!(read[1].as_str(), "a \"quoted\" id", "escaped text too");
        assert_eq!(serde_json::to_string(&read).unwrap(), json);
        assert!(serde_json::from_str::<PartnerId>("7").is_err());
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
