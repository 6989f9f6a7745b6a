//! The `load` thread: what a start reads, and in which order
//! (docs/ARCHITECTURE.md, "Start-up", step 6). Each step goes to the core
//! thread as soon as it is read, so the core answers what it can early.

use std::path::Path;
use std::time::Instant;

use hearth_model::records::ids::PartnerCode;
use hearth_store::index::Recent;
use hearth_store::keyslot::SlotKey;
use hearth_store::{DocSet, FileKey, StoreError};

use super::Msg;
use crate::core::OpeningIndex;
use crate::couple_journal::{CoupleJournal, KnownYears};

/// Opens the store, the index and the journal in `data`, sending each
/// step's result on with `send`; the last message is `Loaded` or
/// `RestOfIndex`.
pub(super) fn run(
    data: &Path,
    file_key: FileKey,
    slot_key: SlotKey,
    secret: &[u8; 32],
    partner: Option<PartnerCode>,
    send: impl Fn(Msg),
) {
    let started = Instant::now();
    let index_key = file_key.clone();
    let (set, report) = match DocSet::open(data, file_key, slot_key) {
        Ok(opened) => opened,
        Err(e) => return send(Msg::Loaded(Box::new(Err(e)))),
    };
    if !report.removed.is_empty() {
        tracing::warn!(
            files = report.removed.len(),
            "removed files of a commit cut short"
        );
    }
    let opening = OpeningIndex::open(data, index_key, &set);
    let recent = opening.as_ref().and_then(OpeningIndex::recent);
    let open = |set, known| CoupleJournal::open_with(set, secret, partner, known);
    match (opening, recent) {
        (Some(opening), Some(recent)) => journal_first(set, opening, recent, open, &send, started),
        (opening, _) => index_first(set, opening, open, &send, started),
    }
}

/// A current index with entries: its newest weeks answer `log -n` now,
/// and the journal takes new entries once it is open, before the rest of
/// the index is read (issue 11.4).
fn journal_first(
    set: DocSet,
    opening: OpeningIndex,
    recent: Recent,
    open: impl FnOnce(DocSet, KnownYears) -> Result<CoupleJournal, StoreError>,
    send: &impl Fn(Msg),
    started: Instant,
) {
    send(Msg::Recent(Box::new(recent)));
    let journal = match open(set, opening.known_years()) {
        Ok(journal) => journal,
        Err(e) => return send(Msg::Loaded(Box::new(Err(e)))),
    };
    crate::memory::give_back();
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        "journal open; reading the rest of the index"
    );
    send(Msg::Opened(Box::new(journal)));
    let rest = opening.read();
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        ok = rest.is_some(),
        "index read"
    );
    send(Msg::RestOfIndex(rest.map(Box::new)));
    crate::memory::give_back();
}

/// No current index with entries: read it whole (if there is one), then
/// the journal, which takes every request once it is open.
fn index_first(
    set: DocSet,
    opening: Option<OpeningIndex>,
    open: impl FnOnce(DocSet, KnownYears) -> Result<CoupleJournal, StoreError>,
    send: &impl Fn(Msg),
    started: Instant,
) {
    let mut known = KnownYears::default();
    if let Some(start) = opening.and_then(OpeningIndex::read) {
        known = start.known_years();
        send(Msg::Indexed(Box::new(start)));
    }
    // The pages read and parsed are gone: returned before the documents
    // load, so the two do not add up at the peak.
    crate::memory::give_back();
    tracing::debug!(ms = started.elapsed().as_millis() as u64, "index read");
    let journal = open(set, known);
    // The past years read once at open are gone from memory.
    crate::memory::give_back();
    tracing::info!(
        ms = started.elapsed().as_millis() as u64,
        ok = journal.is_ok(),
        "document loaded"
    );
    send(Msg::Loaded(Box::new(journal)));
}
