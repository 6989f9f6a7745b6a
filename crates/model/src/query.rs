//! Filters for `hearth log` and friends, applied to a [`View`].

use std::collections::BTreeSet;

use chrono::NaiveDate;
use serde::{Deserialize, Serialize};

use crate::{Entry, Kind, PartnerId, View};

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
    pub contains: Option<String>,
    /// Keep only the newest `limit` matches.
    pub limit: Option<usize>,
    #[serde(default)]
    pub include_deleted: bool,
    /// Tender entries are shown unless a caller (a casual look back) asks
    /// to leave them out.
    #[serde(default)]
    pub exclude_tender: bool,
}

impl Filter {
    pub fn matches(&self, e: &Entry, needle_lower: Option<&str>) -> bool {
        (self.include_deleted || e.deleted.is_none())
            && !(self.exclude_tender && e.tender)
            && self.since.is_none_or(|d| e.day >= d)
            && self.until.is_none_or(|d| e.day <= d)
            && (self.kinds.is_empty() || self.kinds.contains(&e.kind()))
            && (self.authors.is_empty() || self.authors.contains(&e.author))
            && self.tags.iter().all(|t| e.tags.contains(t))
            && (!self.starred || e.starred)
            && needle_lower.is_none_or(|n| e.contains(n))
    }

    /// Matching entries, oldest first; with a limit, the newest `limit` of
    /// them (still oldest first, as jrnl prints them).
    pub fn apply<'v>(&self, view: &'v View) -> Vec<&'v Entry> {
        let needle = self.contains.as_ref().map(|c| c.to_lowercase());
        let mut out: Vec<&Entry> = Vec::new();
        // Walk newest first so a limit stops early on a big journal.
        for e in view.entries.values().rev() {
            if self.matches(e, needle.as_deref()) {
                out.push(e);
                if self.limit.is_some_and(|l| out.len() >= l) {
                    break;
                }
            }
        }
        out.sort_by_key(|e| (e.created, e.id));
        out
    }
}
