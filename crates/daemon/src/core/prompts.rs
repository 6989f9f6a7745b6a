//! Conversation prompts: today's prompt, the same on both partners'
//! devices; skipping it; the couple's own prompts; and which answers count.

use std::collections::BTreeSet;

use chrono::{DateTime, FixedOffset, NaiveDate};
use hearth_ipc::{PartnerAnswer, PromptAdd, PromptQuery, PromptSkip, PromptToday, Response};
use hearth_model::doc::Prompt;
use hearth_model::{Body, Entry, ModelError, NewEntry, PartnerId};
use sha2::{Digest, Sha256};

use super::{Handled, Ready, Refusal};

impl Ready {
    pub(super) fn prompt(&self, r: PromptQuery) -> Handled {
        self.prompt_view(r.at, r.id.as_deref())
            .map(|p| Response::Prompt(Box::new(p)))
    }

    pub(super) fn prompt_list(&self) -> Handled {
        Ok(Response::Prompts {
            prompts: self.journal.prompts(),
        })
    }

    pub(super) fn prompt_skip(&mut self, r: PromptSkip) -> Handled {
        let ctx = self.ctx(r.at)?;
        let current = self.prompt_view(r.at, None)?;
        // Skipping a prompt answered today would strand the answer: the
        // other partner could no longer reach it from `hearth prompt`.
        // (Answers from the last time it came up do not count.)
        let answered_today = |who: &PartnerId| {
            self.view.entries.values().any(|e| {
                e.deleted.is_none()
                    && &e.author == who
                    && e.day == current.day
                    && matches!(&e.body, Body::Answer { prompt, .. } if *prompt == current.prompt.id)
            })
        };
        if answered_today(&ctx.author) {
            return Err(Refusal::bad(
                "you have answered today's prompt already; it stays until tomorrow",
            ));
        }
        if self
            .other_partner(&ctx.author)
            .is_some_and(|p| answered_today(&p))
        {
            return Err(Refusal::bad(format!(
                "{} has answered today's prompt already; answer it too, or let it rest until tomorrow",
                current.partner_name.as_deref().unwrap_or("your partner")
            )));
        }
        self.journal
            .skip_prompt(ctx.now, current.day, &current.prompt.id)?;
        self.prompt(PromptQuery { at: r.at, id: None })
    }

    pub(super) fn prompt_add(&mut self, r: PromptAdd) -> Handled {
        let ctx = self.ctx(r.at)?;
        self.journal.add_prompt(ctx.now, &r.text, r.theme)?;
        self.prompt(PromptQuery { at: r.at, id: None })
    }

    /// An answer must name a prompt of the deck or one of the couple's own.
    pub(super) fn check_answer(&self, entry: &NewEntry) -> Result<(), Refusal> {
        match &entry.body {
            Body::Answer { prompt, .. }
                if hearth_model::deck::find(prompt).is_none()
                    && !self.journal.has_prompt(prompt) =>
            {
                Err(ModelError::NoSuchPrompt(prompt.clone()).into())
            }
            _ => Ok(()),
        }
    }

    /// Today's prompt (or the one named `id`) with my answer and my
    /// partner's, sealed until I have answered.
    fn prompt_view(
        &self,
        at: DateTime<FixedOffset>,
        id: Option<&str>,
    ) -> Result<PromptToday, Refusal> {
        let me = self.base.me()?;
        let day = self.day_boundary().day_of(at);
        let prompts = self.journal.prompts();
        let prompt = match id {
            Some(id) => prompts
                .iter()
                .find(|p| p.id == id.trim())
                .cloned()
                .ok_or_else(|| ModelError::NoSuchPrompt(id.to_string()))?,
            None => prompt_of_the_day(
                &prompts,
                self.journal.couple_id().as_deref().unwrap_or(""),
                day,
                &self.journal.prompt_skips(day),
            ),
        };
        let answer_by = |who: &PartnerId| {
            self.view
                .entries
                .values()
                .rev()
                .find(|e| {
                    e.deleted.is_none()
                        && &e.author == who
                        && matches!(&e.body, Body::Answer { prompt: p, text } if *p == prompt.id && !text.is_empty())
                })
                .map(|e| Entry::clone(e))
        };
        let mine = answer_by(&me);
        let partner_id = self.other_partner(&me);
        let theirs = partner_id.as_ref().and_then(answer_by);
        // Their answer may be here only as a marker: its key comes once
        // mine is written and their device hears of it.
        let marked = partner_id
            .as_ref()
            .is_some_and(|p| self.journal.has_answered(p, &prompt.id));
        let partner = match (theirs, &mine) {
            (None, _) if !marked => PartnerAnswer::NotYet,
            (None, Some(_)) => PartnerAnswer::Opening,
            (None, None) | (Some(_), None) => PartnerAnswer::Sealed,
            (Some(e), Some(_)) => PartnerAnswer::Shown { entry: Box::new(e) },
        };
        Ok(PromptToday {
            day,
            prompt,
            mine,
            partner,
            partner_name: partner_id.map(|p| self.view.name_of(&p).to_string()),
        })
    }
}

/// Today's prompt: the same on both partners' devices without them talking,
/// because it depends only on the couple's id, the journal day and the
/// prompts set aside that day (which sync like everything else). Each skip
/// moves one step along a fixed pseudo-random sequence for the day.
pub fn prompt_of_the_day(
    prompts: &[Prompt],
    couple: &str,
    day: NaiveDate,
    skipped: &BTreeSet<String>,
) -> Prompt {
    // Repair prompts are for after a conflict, not for an ordinary
    // evening; they are answered with `--prompt`, never drawn.
    let mut drawn: Vec<&Prompt> = prompts
        .iter()
        .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
        .collect();
    if drawn.is_empty() {
        drawn = prompts.iter().collect();
    }
    let prompts = drawn;
    let pick = |draw: usize| {
        let seed = if draw == 0 {
            format!("{couple}/{day}")
        } else {
            format!("{couple}/{day}/{draw}")
        };
        let digest = Sha256::digest(seed.as_bytes());
        let n = u64::from_le_bytes(digest[..8].try_into().expect("8 bytes"));
        prompts[(n % prompts.len() as u64) as usize]
    };
    // Random draws find an unskipped prompt quickly; the walk in deck order
    // guarantees one when nearly everything was skipped.
    (0..prompts.len() * 4)
        .map(pick)
        .chain(prompts.iter().copied())
        .find(|p| !skipped.contains(&p.id))
        .unwrap_or_else(|| pick(0))
        .clone()
}

#[cfg(test)]
mod tests {
    use super::*;
    use hearth_model::Journal;

    fn deck() -> Vec<Prompt> {
        Journal::new(automerge::ActorId::from(b"test-actor".as_slice())).prompts()
    }

    fn day(d: u32) -> NaiveDate {
        NaiveDate::from_ymd_opt(2026, 11, d).unwrap()
    }

    #[test]
    fn the_prompt_depends_on_couple_and_day_only() {
        let deck = deck();
        let none = BTreeSet::new();
        let a = prompt_of_the_day(&deck, "couple-a", day(25), &none);
        assert_eq!(a, prompt_of_the_day(&deck, "couple-a", day(25), &none));
        // Over a month the prompt changes from day to day and differs
        // between couples.
        let month: BTreeSet<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-a", day(d), &none).id)
            .collect();
        assert!(month.len() > 15, "{month:?}");
        assert!(
            month.iter().all(|id| !id.starts_with("repair-")),
            "repair prompts are not drawn on ordinary days"
        );
        let other: Vec<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-b", day(d), &none).id)
            .collect();
        let mine: Vec<String> = (1..=30)
            .map(|d| prompt_of_the_day(&deck, "couple-a", day(d), &none).id)
            .collect();
        assert_ne!(mine, other);
    }

    #[test]
    fn skips_walk_a_fixed_sequence_and_never_run_out() {
        let deck = deck();
        let everyday = deck
            .iter()
            .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
            .count();
        let mut skipped = BTreeSet::new();
        let mut seen = Vec::new();
        for _ in 0..everyday {
            let p = prompt_of_the_day(&deck, "c", day(25), &skipped);
            assert!(!skipped.contains(&p.id), "a skipped prompt came back");
            assert_ne!(p.theme, hearth_model::deck::Theme::Repair);
            seen.push(p.id.clone());
            skipped.insert(p.id);
        }
        let reached: BTreeSet<&str> = seen.iter().map(String::as_str).collect();
        let wanted: BTreeSet<&str> = deck
            .iter()
            .filter(|p| p.theme != hearth_model::deck::Theme::Repair)
            .map(|p| p.id.as_str())
            .collect();
        assert_eq!(reached, wanted, "every everyday prompt is reachable");
        // The same skips, in any order, give the same prompt.
        let some: BTreeSet<String> = seen[..3].iter().cloned().collect();
        assert_eq!(prompt_of_the_day(&deck, "c", day(25), &some).id, seen[3]);
        // With everything skipped there is still a prompt.
        let all: BTreeSet<String> = deck.iter().map(|p| p.id.clone()).collect();
        assert!(deck.contains(&prompt_of_the_day(&deck, "c", day(25), &all)));
    }
}
