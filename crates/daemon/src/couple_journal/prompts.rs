//! Prompts in schema 2: the built-in deck and the couple's own prompt
//! records; skips in the skipper's partner document of the day's year; the
//! couple id that seeds the prompt of the day.

use std::collections::BTreeSet;

use automerge::transaction::Transactable;
use automerge::{ObjType, ROOT, ReadDoc, Value};
use chrono::{DateTime, Datelike, FixedOffset, NaiveDate};
use hearth_model::deck::Theme;
use hearth_model::doc::Prompt;
use hearth_model::records::book::Docs;
use hearth_model::records::couple_write;
use hearth_model::records::heads::{DocKind, PartnerDoc};
use hearth_model::records::manifest::DocId;
use hearth_model::records::partner_log;
use hearth_model::records::read::prompts;
use hearth_model::{MAX_PROMPT, ModelError};

use super::{CoupleJournal, model};

impl CoupleJournal {
    /// The whole deck: built-in prompts, then the couple's own in the order
    /// their records were written.
    pub fn prompts(&self) -> Vec<Prompt> {
        let mut all = hearth_model::doc::builtin_prompts();
        all.extend(prompts(&self.trust).value.into_iter().map(|p| Prompt {
            id: p.id,
            theme: p.theme,
            text: p.text,
            custom: true,
        }));
        all
    }

    pub fn has_prompt(&self, id: &str) -> bool {
        id.starts_with("c-") && self.prompts().iter().any(|p| p.id == id)
    }

    /// Adds a prompt of the couple's own; returns its id.
    pub fn add_prompt(
        &mut self,
        at: DateTime<FixedOffset>,
        text: &str,
        theme: Theme,
    ) -> Result<String, ModelError> {
        let text = text.trim();
        if text.is_empty() {
            return Err(ModelError::Empty("prompt text"));
        }
        if text.len() > MAX_PROMPT {
            return Err(ModelError::TooLong {
                field: "prompt",
                len: text.len(),
                max: MAX_PROMPT,
            });
        }
        self.write_couple(at, |c, s| {
            couple_write::add_prompt(c, s, theme.as_str(), text)
        })
    }

    /// Sets `prompt` aside on journal day `day`, in my document of that year.
    pub fn skip_prompt(
        &mut self,
        at: DateTime<FixedOffset>,
        day: NaiveDate,
        prompt: &str,
    ) -> Result<(), ModelError> {
        let doc = PartnerDoc {
            kind: DocKind::Partner,
            partner: self.me()?,
            year: day.year().clamp(1970, 9999) as u16,
        };
        let mut docs = self.docs();
        let am = docs.partner_doc(&doc).map_err(model)?;
        partner_log::skip(am, day, prompt, at).map_err(model)?;
        Ok(())
    }

    /// The prompts either partner set aside on `day`.
    pub fn prompt_skips(&self, day: NaiveDate) -> BTreeSet<String> {
        let year = day.year().clamp(1970, 9999) as u16;
        self.trust
            .partners()
            .into_iter()
            .filter_map(|partner| {
                self.set.doc(&DocId::Partner(PartnerDoc {
                    kind: DocKind::Partner,
                    partner,
                    year,
                }))
            })
            .flat_map(|am| partner_log::skips(am, day))
            .collect()
    }

    /// Whether `partner` holds a live answer marker for `prompt`: they have
    /// answered, whether or not their key has reached this device.
    pub fn has_answered(&self, partner: &hearth_model::PartnerId, prompt: &str) -> bool {
        let Ok(code) = partner
            .as_str()
            .parse::<hearth_model::records::ids::PartnerCode>()
        else {
            return false;
        };
        self.shared_docs_of(code)
            .iter()
            .any(|p| self.markers(p).contains_key(prompt))
    }

    /// The couple's id, which seeds the prompt of the day on every device.
    pub fn couple_id(&self) -> Option<String> {
        let am = self.couple();
        let (_, hearth) = am.get(ROOT, "hearth").ok()??;
        match am.get(&hearth, "couple").ok()?? {
            (Value::Scalar(s), _) => s.as_str().map(str::to_string),
            _ => None,
        }
    }

    /// Sets the couple id unless one is there (32 lowercase hex).
    pub fn set_couple_id_if_missing(&mut self, id: &str) -> Result<(), ModelError> {
        if self.couple_id().is_some() {
            return Ok(());
        }
        let ok = id.len() == 32
            && id
                .bytes()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
        if !ok {
            return Err(model("a couple id is 32 lowercase hex characters"));
        }
        let am = self.couple_mut();
        let hearth = match am.get(ROOT, "hearth") {
            Ok(Some((Value::Object(ObjType::Map), h))) => h,
            _ => return Err(model("the couple document has no hearth map")),
        };
        let mut tx = am.transaction();
        tx.put(&hearth, "couple", id).map_err(model)?;
        tx.commit();
        Ok(())
    }
}
