//! Looking back: reviews, mood charts, on this day, and export. Sealed
//! answers never show; deleted entries never count.

use chrono::Datelike;
use hearth_ipc::{ExportData, ExportQuery, MoodQuery, OnThisDayQuery, Response, ReviewQuery};
use hearth_model::insight::{ReviewInput, mood_series, on_this_day, review};
use hearth_model::{Entry, parse_when};

use super::sealing::Seal;
use super::{Handled, Ready, Refusal};

impl Ready {
    fn seal(&self) -> Seal<'_> {
        Seal::new(&self.view, self.base.identity.partner.as_ref())
    }

    fn live_entries(&self) -> impl Iterator<Item = &Entry> {
        self.view
            .entries
            .values()
            .map(|e| &**e)
            .filter(|e| e.deleted.is_none())
    }

    pub(super) fn review(&self, r: ReviewQuery) -> Handled {
        let me = self.base.me()?;
        let boundary = self.day_boundary();
        let today = boundary.day_of(r.at);
        let last_day = match r.until.as_deref() {
            Some(s) => parse_when(s, r.at, boundary)?,
            None => today,
        };
        if last_day > today {
            return Err(Refusal::bad(format!(
                "--until {last_day} is after today; a review looks back"
            )));
        }
        let seal = self.seal();
        let sealed = |e: &Entry| seal.hides(e);
        let rituals = self.journal.rituals();
        let log = self.journal.ritual_log();
        let prompts = self.journal.prompts();
        let found = review(&ReviewInput {
            span: r.span,
            last_day,
            today,
            entries: self.live_entries().collect(),
            partners: self.partners_me_first(&me),
            rituals: &rituals,
            log: &log,
            prompts: &prompts,
            boundary,
            include_tender: r.include_tender,
            sealed: &sealed,
        });
        Ok(Response::Review(Box::new(found)))
    }

    pub(super) fn mood(&self, r: MoodQuery) -> Handled {
        let me = self.base.me()?;
        if !(1..=520).contains(&r.weeks) {
            return Err(Refusal::bad(format!(
                "cannot chart {} weeks: use 1 to 520",
                r.weeks
            )));
        }
        let to = self.day_boundary().day_of(r.at);
        let monday = to - chrono::Duration::days(i64::from(to.weekday().num_days_from_monday()));
        let from = monday - chrono::Duration::weeks(i64::from(r.weeks) - 1);
        let series = mood_series(self.live_entries(), &self.partners_me_first(&me), from, to);
        Ok(Response::Mood { from, to, series })
    }

    pub(super) fn on_this_day(&self, r: OnThisDayQuery) -> Handled {
        self.base.me()?;
        let today = self.day_boundary().day_of(r.at);
        let seal = self.seal();
        let found = on_this_day(
            self.live_entries()
                .filter(|e| (r.include_tender || !e.tender) && !seal.hides(e)),
            today,
        );
        Ok(Response::OnThisDay {
            found: Box::new(found),
            names: self.view.partners.clone(),
            short_len: self.view.short_len(8),
        })
    }

    /// One page of `hearth export`: the readable entries after `q.after`,
    /// oldest first, with the couple's names, rituals and prompts (small)
    /// on every page, and the whole export's counts on the first. Entries
    /// are cloned a page at a time, so no reply grows with the journal.
    pub(super) fn export(&self, q: ExportQuery) -> Handled {
        use std::ops::Bound;
        let seal = self.seal();
        // The counts go with the first page only: counting on every page
        // would walk the whole journal once a page.
        let (mut sealed, mut total) = (0, 0);
        if q.after.is_none() {
            for e in self.live_entries() {
                if seal.hides(e) {
                    sealed += 1;
                } else {
                    total += 1;
                }
            }
        }
        let from = match q.after {
            Some(id) => Bound::Excluded(id),
            None => Bound::Unbounded,
        };
        let limit = q.limit.unwrap_or(usize::MAX).max(1);
        let mut page = self
            .view
            .entries
            .range((from, Bound::Unbounded))
            .map(|(_, e)| &**e)
            .filter(|e| e.deleted.is_none() && !seal.hides(e));
        let entries: Vec<Entry> = page.by_ref().take(limit).cloned().collect();
        let next = match page.next() {
            Some(_) => entries.last().map(|e| e.id),
            None => None,
        };
        Ok(Response::Export(Box::new(ExportData {
            names: self.view.partners.clone(),
            entries,
            rituals: self.journal.rituals(),
            ritual_log: self.journal.ritual_log(),
            prompts: self
                .journal
                .prompts()
                .into_iter()
                .filter(|p| p.custom)
                .collect(),
            sealed,
            total,
            next,
        })))
    }

    /// A fresh, portable Automerge document of what this device can read
    /// (docs/SCHEMA.md, "Exports"): no devices, records, keys or history.
    pub(super) fn export_document(&self) -> Handled {
        let seal = self.seal();
        let entries: Vec<&Entry> = self.live_entries().filter(|e| !seal.hides(e)).collect();
        let doc = hearth_model::export::document(
            &self.view.partners,
            &entries,
            &self.journal.rituals(),
            &self.journal.ritual_log(),
            &self.journal.prompts(),
            self.day_boundary(),
        )?;
        Ok(Response::Document {
            base64: data_encoding::BASE64.encode(&doc),
        })
    }
}
