//! Sealed answers: my partner's answer to a prompt stays hidden from every
//! read path until I have answered the same prompt.

use std::collections::HashSet;

use hearth_model::{Body, Entry, PartnerId, View};

/// What one reader may see of the answers in a view.
pub struct Seal<'a> {
    me: Option<&'a PartnerId>,
    /// Prompts I have answered: my partner's answers to them are open.
    answered: HashSet<&'a str>,
}

impl<'a> Seal<'a> {
    pub fn new(view: &'a View, me: Option<&'a PartnerId>) -> Seal<'a> {
        let answered = view
            .entries
            .values()
            .filter(|e| Some(&e.author) == me && e.deleted.is_none())
            .filter_map(|e| match &e.body {
                Body::Answer { prompt, .. } => Some(prompt.as_str()),
                _ => None,
            })
            .collect();
        Seal { me, answered }
    }

    /// Whether `e` is my partner's answer to a prompt I have not answered,
    /// or an answer whose key has not reached this device (its text is
    /// empty, as no written answer's is).
    pub fn hides(&self, e: &Entry) -> bool {
        match &e.body {
            Body::Answer { prompt, text } => {
                text.is_empty()
                    || (Some(&e.author) != self.me && !self.answered.contains(prompt.as_str()))
            }
            _ => false,
        }
    }
}
