//! Rituals: adding, changing and retiring them, marking them done by hand
//! or by writing the entry that fulfils them, and what is due.

use chrono::{DateTime, FixedOffset};
use hearth_ipc::{DueList, DueQuery, MarkDone, OwnerArg, Response, RitualList};
use hearth_model::ritual::{Owner, Ritual, RitualDone, due_today};
use hearth_model::{Entry, ModelError, PartnerId, WriteCtx};

use super::{Handled, Ready, Refusal};

impl Ready {
    pub(super) fn ritual_add(&mut self, r: hearth_ipc::RitualAdd) -> Handled {
        let ctx = self.ctx(r.at)?;
        let owner = self.owner_from(r.owner, &ctx.author)?;
        let name = r.name.trim();
        if self
            .journal
            .rituals()
            .iter()
            .any(|o| o.archived.is_none() && o.name.eq_ignore_ascii_case(name))
        {
            return Err(Refusal::bad(format!(
                "a ritual named {name:?} already exists"
            )));
        }
        let random = self.random();
        let ritual = Ritual {
            id: ulid::Ulid::from_parts(r.at.timestamp_millis().max(0) as u64, random)
                .to_string()
                .to_ascii_lowercase(),
            name: name.to_string(),
            kind: r.kind,
            cadence: r.cadence,
            owner,
            fulfilled_by: r.fulfilled_by,
            created: r.at,
            archived: None,
        };
        self.journal.add_ritual(ctx.now, &ritual)?;
        self.ritual_list(r.at)
    }

    pub(super) fn ritual_done(&mut self, r: MarkDone) -> Handled {
        let ctx = self.ctx(r.at)?;
        let entry = r.entry.map(|e| self.view.resolve(&e)).transpose()?;
        let ritual = self.my_ritual(&r.ritual, &ctx.author)?;
        let today = self.day_boundary().day_of(r.at);
        let occ = ritual.cadence.occurrence(today);
        let done = self.journal.mark_done(ctx.now, &ritual, occ, entry)?;
        Ok(Response::RitualDone {
            ritual: Box::new(ritual),
            done: Box::new(done),
        })
    }

    pub(super) fn ritual_change(&mut self, r: hearth_ipc::RitualChange) -> Handled {
        let ctx = self.ctx(r.at)?;
        let owner = r
            .owner
            .map(|o| self.owner_from(o, &ctx.author))
            .transpose()?;
        let ritual = self.my_ritual(&r.ritual, &ctx.author)?;
        let cadence = match r.on {
            Some(on) => Some(r.cadence.unwrap_or(ritual.cadence).on_day(&on)?),
            None => r.cadence,
        };
        if let Some(n) = &r.name
            && self.journal.rituals().iter().any(|o| {
                o.archived.is_none() && o.id != ritual.id && o.name.eq_ignore_ascii_case(n.trim())
            })
        {
            return Err(Refusal::bad(format!(
                "a ritual named {:?} already exists",
                n.trim()
            )));
        }
        let change = hearth_model::RitualChange {
            name: r.name,
            cadence,
            owner,
            fulfilled_by: if r.manual {
                Some(None)
            } else {
                r.fulfilled_by.map(Some)
            },
        };
        if change == hearth_model::RitualChange::default() {
            return Err(Refusal::bad(
                "nothing to change: give --name, --cadence, --owner, --fulfilled-by or --manual",
            ));
        }
        self.journal.update_ritual(ctx.now, &ritual.id, &change)?;
        self.ritual_list(r.at)
    }

    pub(super) fn ritual_remove(&mut self, r: hearth_ipc::RitualRemove) -> Handled {
        let ctx = self.ctx(r.at)?;
        let ritual = self.my_ritual(&r.ritual, &ctx.author)?;
        self.journal.archive_ritual(ctx.now, &ritual.id)?;
        self.ritual_list(r.at)
    }

    /// A live ritual by name or id, if `me` may change or do it.
    fn my_ritual(&self, name_or_id: &str, me: &PartnerId) -> Result<Ritual, Refusal> {
        let r = find_ritual(&self.journal.rituals(), name_or_id)?;
        if !r.owner.includes(me) {
            return Err(ModelError::NotYourRitual(r.name.clone()).into());
        }
        Ok(r)
    }

    pub(super) fn due(&self, r: DueQuery) -> Handled {
        let me = self.base.me()?;
        let boundary = self.day_boundary();
        let today = boundary.day_of(r.at);
        let partner = self.other_partner(&me);
        let items = due_today(
            &self.journal.rituals(),
            &self.journal.ritual_log(),
            today,
            boundary,
            &me,
            partner.as_ref(),
        );
        Ok(Response::Due(DueList {
            today,
            items,
            me,
            names: self.view.partners.clone(),
        }))
    }

    pub(super) fn ritual_list(&self, at: DateTime<FixedOffset>) -> Handled {
        let boundary = self.day_boundary();
        let today = boundary.day_of(at);
        let rituals: Vec<Ritual> = self
            .journal
            .rituals()
            .into_iter()
            .filter(|r| r.archived.is_none())
            .collect();
        let log = self.journal.ritual_log();
        let partners: Vec<PartnerId> = match &self.base.identity.partner {
            Some(me) => self
                .partners_me_first(me)
                .into_iter()
                .map(|(p, _)| p)
                .collect(),
            None => self.view.partners.keys().cloned().collect(),
        };
        let rhythms = rituals
            .iter()
            .map(|r| {
                let own: Vec<RitualDone> =
                    log.iter().filter(|d| d.ritual == r.id).cloned().collect();
                r.rhythm(
                    &own,
                    &partners,
                    today,
                    r.cadence.rhythm_depth(),
                    r.start_day(boundary),
                )
            })
            .collect();
        Ok(Response::Rituals(Box::new(RitualList {
            rituals,
            log,
            names: self.view.partners.clone(),
            today,
            rhythms,
            me: self.base.identity.partner.clone(),
        })))
    }

    pub(super) fn owner_from(&self, owner: OwnerArg, me: &PartnerId) -> Result<Owner, Refusal> {
        Ok(match owner {
            OwnerArg::Me => Owner::Partner(me.clone()),
            OwnerArg::Partner => Owner::Partner(self.other_partner(me).ok_or_else(|| {
                Refusal::bad(
                    "your partner has not joined this journal yet; use --owner me, both or together",
                )
            })?),
            OwnerArg::Both => Owner::Both,
            OwnerArg::Together => Owner::Together,
        })
    }

    /// Writing an entry completes my rituals that this kind of entry
    /// fulfils, for their current occurrence.
    pub(super) fn complete_rituals_for(
        &mut self,
        ctx: &WriteCtx,
        e: &Entry,
    ) -> Result<Vec<String>, Refusal> {
        let matching: Vec<Ritual> = self
            .journal
            .rituals()
            .into_iter()
            .filter(|r| {
                r.archived.is_none()
                    && r.fulfilled_by == Some(e.kind())
                    && r.owner.includes(&ctx.author)
            })
            .collect();
        let mut done = Vec::new();
        for r in matching {
            let occ = r.cadence.occurrence(e.day);
            // A key lookup, not a scan of the whole log: this runs on every
            // write of a completing kind.
            let who = (!matches!(r.owner, Owner::Together)).then_some(&ctx.author);
            if self.journal.logged(&r.id, occ, who) {
                continue;
            }
            self.journal.mark_done(ctx.now, &r, occ, Some(e.id))?;
            done.push(r.name.clone());
        }
        Ok(done)
    }
}

/// A live ritual by id, exact name, or a unique part of its name.
fn find_ritual(rituals: &[Ritual], name_or_id: &str) -> Result<Ritual, ModelError> {
    let live: Vec<&Ritual> = rituals.iter().filter(|r| r.archived.is_none()).collect();
    if let Some(r) = live.iter().find(|r| r.id == name_or_id) {
        return Ok((*r).clone());
    }
    let want = name_or_id.trim().to_lowercase();
    let exact: Vec<&&Ritual> = live
        .iter()
        .filter(|r| r.name.to_lowercase() == want)
        .collect();
    if let [one] = exact.as_slice() {
        return Ok((**one).clone());
    }
    let partial: Vec<&&Ritual> = live
        .iter()
        .filter(|r| r.name.to_lowercase().contains(&want))
        .collect();
    match partial.as_slice() {
        [one] => Ok((**one).clone()),
        [] => Err(ModelError::NoSuchRitual(name_or_id.to_string())),
        many => Err(ModelError::AmbiguousRitual(
            name_or_id.to_string(),
            many.len(),
        )),
    }
}
