//! Filters for `hearth log` and friends, applied to a [`View`].

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Entry, Kind, ModelError, PartnerId, View};

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Filter {
    /// First journal day, inclusive.
    pub since: Option<NaiveDate>,
    /// Last journal day, inclusive.
    pub until: Option<NaiveDate>,
    #[serde(default)]
    pub kinds: BTreeSet<Kind>,
    #[serde(default)]
    pub authors: BTreeSet<PartnerId>,
    /// Entries must carry every one of these tags.
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub starred: bool,
    /// Text to look for in every text field and tag; case-insensitive.
    pub contains: Option<String>,
    /// Read `contains` as a regular expression (Rust `regex` syntax),
    /// still case-insensitive unless it says `(?-i)`.
    #[serde(default)]
    pub regex: bool,
    /// Keep only the newest `limit` matches.
    pub limit: Option<usize>,
    #[serde(default)]
    pub include_deleted: bool,
    /// Tender entries are shown unless a caller (a casual look back) asks
    /// to leave them out.
    #[serde(default)]
    pub exclude_tender: bool,
    /// Only private entries.
    #[serde(default)]
    pub private_only: bool,
}

/// What `--contains` looks for: a plain string, compared without case, or
/// a regular expression.
#[derive(Debug, Clone)]
pub enum Needle {
    /// The needle, lowercased.
    Plain(String),
    Regex(regex::Regex),
}

impl Needle {
    /// A plain needle, or a regex compiled case-insensitively. A bad
    /// pattern is refused with regex's own explanation on one line.
    pub fn new(text: &str, regex: bool) -> Result<Needle, ModelError> {
        if !regex {
            return Ok(Needle::Plain(text.to_lowercase()));
        }
        regex::RegexBuilder::new(text)
            .case_insensitive(true)
            .size_limit(1 << 20)
            .build()
            .map(Needle::Regex)
            .map_err(|e| {
                let why = e.to_string();
                let last = why.lines().rfind(|l| !l.trim().is_empty()).unwrap_or("");
                ModelError::Regex(format!("{text:?}: {}", last.trim()))
            })
    }

    pub fn is_match(&self, haystack: &str) -> bool {
        match self {
            Needle::Plain(n) => contains_lowercased(haystack, n),
            Needle::Regex(r) => r.is_match(haystack),
        }
    }
}

/// Whether `haystack.to_lowercase()` contains `lower`. Each poll of a search
/// walks every entry, so the common case, ASCII text, is answered without
/// lowercasing a copy: candidates are found with memchr on the needle's
/// first letter in either case, then compared ignoring ASCII case.
fn contains_lowercased(haystack: &str, lower: &str) -> bool {
    if !haystack.is_ascii() {
        return haystack.to_lowercase().contains(lower);
    }
    // An ASCII text lowercases to ASCII, which holds no other character.
    if !lower.is_ascii() {
        return false;
    }
    let (hay, needle) = (haystack.as_bytes(), lower.as_bytes());
    let Some(&first) = needle.first() else {
        return true;
    };
    memchr::memchr2_iter(first, first.to_ascii_uppercase(), hay).any(|at| {
        hay.get(at..at + needle.len())
            .is_some_and(|w| w.eq_ignore_ascii_case(needle))
    })
}

impl Filter {
    pub fn matches(&self, e: &Entry, needle: Option<&Needle>) -> bool {
        (self.include_deleted || e.deleted.is_none())
            && !(self.exclude_tender && e.tender)
            && (!self.private_only || e.private)
            && self.since.is_none_or(|d| e.day >= d)
            && self.until.is_none_or(|d| e.day <= d)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind()))
            && (self.authors.is_empty() || self.authors.contains(&e.author))
            && self.tags.iter().all(|t| e.tags.contains(t))
            && (!self.starred || e.starred)
            && needle.is_none_or(|n| e.matches_text(n))
    }

    /// The compiled `contains`, if any.
    pub fn needle(&self) -> Result<Option<Needle>, ModelError> {
        self.contains
            .as_deref()
            .map(|c| Needle::new(c, self.regex))
            .transpose()
    }

    /// Matching entries, oldest first; with a limit, the newest `limit` of
    /// them (still oldest first, as jrnl prints them).
    pub fn apply<'v>(&self, view: &'v View) -> Result<Vec<&'v Entry>, ModelError> {
        let needle = self.needle()?;
        let mut out: Vec<&Entry> = Vec::new();
        // Walk newest first so a limit stops early on a big journal.
        for e in view.entries.values().rev() {
            if self.matches(e, needle.as_ref()) {
                out.push(e);
                if self.limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
            }
        }
        out.sort_by_key(|e| (e.created, e.id));
        Ok(out)
    }
}

/// One tag, as `hearth tags` lists it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TagCount {
    pub tag: String,
    /// How many entries carry it.
    pub count: usize,
    /// The newest of those entries' journal day.
    pub last_day: NaiveDate,
}

/// Every tag on `entries` with how many carry it, the most recently used
/// first (by its newest entry), then by name.
pub fn tag_counts<'e>(entries: impl IntoIterator<Item = &'e Entry>) -> Vec<TagCount> {
    let mut by_tag: std::collections::BTreeMap<
        &str,
        (usize, (chrono::DateTime<chrono::FixedOffset>, NaiveDate)),
    > = std::collections::BTreeMap::new();
    for e in entries {
        for t in &e.tags {
            let slot = by_tag.entry(t.as_str()).or_insert((0, (e.created, e.day)));
            slot.0 += 1;
            if e.created > slot.1.0 {
                slot.1 = (e.created, e.day);
            }
        }
    }
    let mut out: Vec<_> = by_tag.into_iter().collect();
    out.sort_by(|a, b| b.1.1.0.cmp(&a.1.1.0).then(a.0.cmp(b.0)));
    out.into_iter()
        .map(|(tag, (count, (_, last_day)))| TagCount {
            tag: tag.to_string(),
            count,
            last_day,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::contains_lowercased;
    use proptest::prelude::*;

    fn reference(haystack: &str, needle: &str) -> bool {
        haystack.to_lowercase().contains(&needle.to_lowercase())
    }

    #[test]
    fn the_ascii_path_finds_what_lowercasing_finds() {
        for (hay, needle) in [
            ("Trip to the Coast", "the coast"),
            ("aaab", "aab"),
            ("ends with PROBE", "probe"),
            ("short", "shorter"),
            ("anything", ""),
            ("", "x"),
            ("P", "p"),
            // The Kelvin sign lowercases to an ASCII k.
            ("\u{212A}ind words", "kind"),
            ("kind words", "\u{212A}ind"),
            ("Ünïcode Straße", "straße"),
            ("plain ascii", "ß"),
        ] {
            assert_eq!(
                contains_lowercased(hay, &needle.to_lowercase()),
                reference(hay, needle),
                "{hay:?} / {needle:?}"
            );
        }
    }

    proptest! {
        #[test]
        fn any_text_agrees_with_lowercasing(
            hay in "[a-zA-Z \u{212A}\u{130}ßÄä]{0,24}",
            needle in "[a-zA-Z\u{212A}ßä]{0,4}",
        ) {
            prop_assert_eq!(
                contains_lowercased(&hay, &needle.to_lowercase()),
                reference(&hay, &needle)
            );
        }
    }
}
