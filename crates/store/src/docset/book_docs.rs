//! The document set as the model's [`Docs`]: partner documents loaded on
//! demand, written as this device's actor, and their key files.

use std::time::Instant;

use automerge::{ActorId, Automerge};
use hearth_model::records::book::Docs;
use hearth_model::records::content::VersionKey;
use hearth_model::records::exchange::genesis_of;
use hearth_model::records::heads::PartnerDoc;
use hearth_model::records::keys::{Audience, VersionRef};
use hearth_model::records::manifest::DocId;

use super::{DocSet, KeyState};

/// A [`DocSet`] lent to the model for one piece of work, by this device's
/// `actor`, at `now`.
pub struct StoreDocs<'a> {
    pub set: &'a mut DocSet,
    pub actor: ActorId,
    pub now: Instant,
}

impl Docs for StoreDocs<'_> {
    fn partner_doc(&mut self, doc: &PartnerDoc) -> Result<&mut Automerge, String> {
        let id = DocId::Partner(*doc);
        self.set
            .load(id, &self.actor, self.now, || genesis_of(&id))
            .map_err(|e| e.to_string())?;
        Ok(self.set.doc_mut(&id, self.now).expect("just loaded"))
    }

    fn key(
        &mut self,
        doc: &PartnerDoc,
        version: VersionRef,
    ) -> Result<Option<(Audience, VersionKey)>, String> {
        let kf = self
            .set
            .key_file(DocId::Partner(*doc))
            .map_err(|e| e.to_string())?;
        Ok(match kf.state(version) {
            Some(KeyState::Live(a)) => kf.key(version).map(|k| (a, VersionKey(*k))),
            _ => None,
        })
    }

    fn put_key(
        &mut self,
        doc: &PartnerDoc,
        version: VersionRef,
        audience: Audience,
        key: VersionKey,
    ) -> Result<(), String> {
        let kf = self
            .set
            .key_file(DocId::Partner(*doc))
            .map_err(|e| e.to_string())?;
        kf.put(version, audience, key.0)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }

    fn forget_key(&mut self, doc: &PartnerDoc, version: VersionRef) -> Result<(), String> {
        let kf = self
            .set
            .key_file(DocId::Partner(*doc))
            .map_err(|e| e.to_string())?;
        kf.forget(version).map(|_| ()).map_err(|e| e.to_string())
    }

    fn held_versions(&mut self, doc: &PartnerDoc) -> Result<Vec<VersionRef>, String> {
        let kf = self
            .set
            .key_file(DocId::Partner(*doc))
            .map_err(|e| e.to_string())?;
        Ok(kf.live().map(|(v, _)| v).collect())
    }
}
