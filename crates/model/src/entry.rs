//! Entry kinds and the fields every entry carries.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::str::FromStr;

use chrono::{DateTime, FixedOffset, NaiveDate};
use serde::{Deserialize, Serialize};

use crate::{DeviceId, EntryId, ModelError, PartnerId};

/// Largest text accepted for one field, in bytes. A journal entry longer
/// than this is almost certainly a mistake (a pasted file, a binary).
pub const MAX_TEXT: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Kind {
    Checkin,
    Highlow,
    Gratitude,
    Note,
    Repair,
    Answer,
}

impl Kind {
    pub const ALL: [Kind; 6] = [
        Kind::Checkin,
        Kind::Highlow,
        Kind::Gratitude,
        Kind::Note,
        Kind::Repair,
        Kind::Answer,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Checkin => "checkin",
            Kind::Highlow => "highlow",
            Kind::Gratitude => "gratitude",
            Kind::Note => "note",
            Kind::Repair => "repair",
            Kind::Answer => "answer",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Kind {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let k = match s.trim().to_ascii_lowercase().as_str() {
            "checkin" | "check-in" => Kind::Checkin,
            "highlow" | "high-low" => Kind::Highlow,
            "gratitude" | "thanks" => Kind::Gratitude,
            "note" => Kind::Note,
            "repair" => Kind::Repair,
            "answer" | "prompt" => Kind::Answer,
            _ => return Err(ModelError::Kind(s.to_string())),
        };
        Ok(k)
    }
}

/// Mood on a fixed five-point scale, documented in SCHEMA.md. Five points is
/// enough to see a trend and few enough to answer without thinking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Mood(u8);

const MOOD_WORDS: [&str; 5] = ["rough", "low", "okay", "good", "great"];
const ENERGY_WORDS: [&str; 5] = ["drained", "tired", "steady", "lively", "buzzing"];

fn scale_value(s: &str, words: &[&str; 5]) -> Option<u8> {
    let s = s.trim().to_ascii_lowercase();
    if let Ok(n) = s.parse::<u8>() {
        return (1..=5).contains(&n).then_some(n);
    }
    words.iter().position(|w| *w == s).map(|i| i as u8 + 1)
}

impl Mood {
    pub fn new(v: u8) -> Option<Mood> {
        (1..=5).contains(&v).then_some(Mood(v))
    }
    pub fn value(self) -> u8 {
        self.0
    }
    pub fn word(self) -> &'static str {
        MOOD_WORDS[usize::from(self.0 - 1)]
    }
}

impl FromStr for Mood {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        scale_value(s, &MOOD_WORDS)
            .map(Mood)
            .ok_or_else(|| ModelError::Mood(s.to_string()))
    }
}

impl TryFrom<u8> for Mood {
    type Error = ModelError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Mood::new(v).ok_or_else(|| ModelError::Mood(v.to_string()))
    }
}

impl From<Mood> for u8 {
    fn from(m: Mood) -> u8 {
        m.0
    }
}

/// Energy, on its own five-point scale: mood and energy move separately.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "u8", into = "u8")]
pub struct Energy(u8);

impl Energy {
    pub fn new(v: u8) -> Option<Energy> {
        (1..=5).contains(&v).then_some(Energy(v))
    }
    pub fn value(self) -> u8 {
        self.0
    }
    pub fn word(self) -> &'static str {
        ENERGY_WORDS[usize::from(self.0 - 1)]
    }
}

impl FromStr for Energy {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        scale_value(s, &ENERGY_WORDS)
            .map(Energy)
            .ok_or_else(|| ModelError::Energy(s.to_string()))
    }
}

impl TryFrom<u8> for Energy {
    type Error = ModelError;
    fn try_from(v: u8) -> Result<Self, Self::Error> {
        Energy::new(v).ok_or_else(|| ModelError::Energy(v.to_string()))
    }
}

impl From<Energy> for u8 {
    fn from(e: Energy) -> u8 {
        e.0
    }
}

/// What I need right now. The four common needs have names; anything else is
/// one short custom word or phrase.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Need(String);

impl Need {
    pub const KNOWN: [&'static str; 4] = ["talk", "space", "hug", "help"];
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl FromStr for Need {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let t = s.trim();
        if t.is_empty() || t.len() > 32 || t.chars().any(|c| c.is_control()) {
            return Err(ModelError::Need(s.to_string()));
        }
        Ok(Need(t.to_lowercase()))
    }
}

impl TryFrom<String> for Need {
    type Error = ModelError;
    fn try_from(s: String) -> Result<Self, Self::Error> {
        s.parse()
    }
}

impl From<Need> for String {
    fn from(n: Need) -> String {
        n.0
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum RepairMode {
    /// "Can we start over?": a short bid to reset a moment gone wrong.
    StartOver,
    /// A structured look back at a conflict once both are calm.
    Debrief,
}

impl RepairMode {
    pub fn as_str(self) -> &'static str {
        match self {
            RepairMode::StartOver => "start-over",
            RepairMode::Debrief => "debrief",
        }
    }
}

impl FromStr for RepairMode {
    type Err = ModelError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "start-over" => Ok(RepairMode::StartOver),
            "debrief" => Ok(RepairMode::Debrief),
            _ => Err(ModelError::Schema(format!("unknown repair mode {s:?}"))),
        }
    }
}

/// A repair's own fields. Boxed in [`Body`]: four texts and a list made
/// it the largest kind by far (128 bytes), and every entry in the daemon's
/// view paid for that size whatever its kind.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RepairBody {
    pub mode: RepairMode,
    /// For a start-over: the moment to redo. For a debrief: what happened.
    pub happened: String,
    pub felt: String,
    pub my_part: String,
    pub need: String,
    pub agreements: Vec<String>,
}

/// The kind-specific part of an entry. Serialised with a `kind` tag next to
/// the common fields; with the empty fields [`Entry`] leaves out, this is
/// the documented JSON shape.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "kebab-case")]
pub enum Body {
    Checkin {
        mood: Mood,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        energy: Option<Energy>,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        need: Option<Need>,
        note: String,
    },
    Highlow {
        high: String,
        low: String,
    },
    Gratitude {
        to: String,
        text: String,
    },
    Note {
        text: String,
    },
    Repair(Box<RepairBody>),
    Answer {
        prompt: String,
        text: String,
    },
}

impl Body {
    pub fn kind(&self) -> Kind {
        match self {
            Body::Checkin { .. } => Kind::Checkin,
            Body::Highlow { .. } => Kind::Highlow,
            Body::Gratitude { .. } => Kind::Gratitude,
            Body::Note { .. } => Kind::Note,
            Body::Repair(_) => Kind::Repair,
            Body::Answer { .. } => Kind::Answer,
        }
    }

    /// The free-text fields, by their document key. Tags are parsed from
    /// these and `--contains` searches them.
    pub fn texts(&self) -> Vec<(&'static str, &str)> {
        match self {
            Body::Checkin { note, .. } => vec![("note", note)],
            Body::Highlow { high, low } => vec![("high", high), ("low", low)],
            Body::Gratitude { to, text } => vec![("to", to), ("text", text)],
            Body::Note { text } => vec![("text", text)],
            Body::Repair(r) => vec![
                ("happened", &r.happened),
                ("felt", &r.felt),
                ("my_part", &r.my_part),
                ("need", &r.need),
            ],
            Body::Answer { text, .. } => vec![("text", text)],
        }
    }

    /// Every piece of text a search looks at: the free-text fields, a
    /// check-in's need and a debrief's agreements.
    pub fn searchable(&self) -> Vec<&str> {
        let mut out: Vec<&str> = self.texts().into_iter().map(|(_, t)| t).collect();
        match self {
            Body::Checkin { need: Some(n), .. } => out.push(n.as_str()),
            Body::Repair(r) => out.extend(r.agreements.iter().map(String::as_str)),
            _ => {}
        }
        out
    }

    /// The `#tags` and `@tags` written in any of the entry's text.
    pub fn text_tags(&self) -> BTreeSet<String> {
        self.searchable().into_iter().flat_map(parse_tags).collect()
    }

    /// Checks that no text is over [`MAX_TEXT`]. A peer's entries are held
    /// to this too, since a text written elsewhere costs us the same memory.
    pub fn check_lengths(&self) -> Result<(), ModelError> {
        for (field, text) in self.texts() {
            if text.len() > MAX_TEXT {
                return Err(ModelError::TooLong {
                    field,
                    len: text.len(),
                    max: MAX_TEXT,
                });
            }
        }
        if let Body::Repair(r) = self {
            let len: usize = r.agreements.iter().map(String::len).sum();
            if len > MAX_TEXT {
                return Err(ModelError::TooLong {
                    field: "agreements",
                    len,
                    max: MAX_TEXT,
                });
            }
        }
        Ok(())
    }

    /// Checks lengths and that the entry says something at all.
    pub fn validate(&self) -> Result<(), ModelError> {
        self.check_lengths()?;
        let mut any = matches!(self, Body::Checkin { .. });
        for (_, text) in self.texts() {
            any |= !text.trim().is_empty();
        }
        if let Body::Repair(r) = self {
            any |= !r.agreements.is_empty();
        }
        match self {
            Body::Highlow { high, low } if high.trim().is_empty() && low.trim().is_empty() => {
                Err(ModelError::Empty("the high-low"))
            }
            Body::Gratitude { to, .. } if to.trim().is_empty() => {
                Err(ModelError::Empty("gratitude's recipient"))
            }
            Body::Gratitude { text, .. } if text.trim().is_empty() => {
                Err(ModelError::Empty("gratitude text"))
            }
            Body::Answer { text, .. } if text.trim().is_empty() => {
                Err(ModelError::Empty("answer text"))
            }
            _ if !any => Err(ModelError::Empty("entry text")),
            _ => Ok(()),
        }
    }

    /// Repair entries are tender unless said otherwise: a debrief is not
    /// something to stumble on in a casual look back.
    pub fn tender_by_default(&self) -> bool {
        matches!(self, Body::Repair(_))
    }

    /// A one-line summary for listings.
    pub fn summary(&self) -> String {
        match self {
            Body::Checkin {
                mood, need, note, ..
            } => {
                let mut s = format!("mood {} ({})", mood.value(), mood.word());
                if let Some(n) = need {
                    s.push_str(&format!(", needs {}", n.as_str()));
                }
                let n = first_line(note);
                if !n.is_empty() {
                    s.push_str(" · ");
                    s.push_str(&n);
                }
                s
            }
            Body::Highlow { high, low } => {
                format!("↑ {} · ↓ {}", first_line(high), first_line(low))
            }
            Body::Gratitude { to, text } => format!("to {}: {}", to.trim(), first_line(text)),
            Body::Note { text } => first_line(text),
            Body::Repair(r) => {
                format!("{}: {}", r.mode.as_str(), first_line(&r.happened))
            }
            Body::Answer { prompt, text } => format!("[{prompt}] {}", first_line(text)),
        }
    }
}

/// An entry's tags: sorted, each once. Held as a plain list because
/// every entry in the daemon's view has one, and a set's first tag costs a
/// whole tree node (about 280 bytes) where a list costs the tag.
#[derive(Debug, Clone, Default, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Tags(Vec<String>);

impl Tags {
    pub fn contains(&self, tag: &str) -> bool {
        self.0.binary_search_by(|t| t.as_str().cmp(tag)).is_ok()
    }

    pub fn iter(&self) -> std::slice::Iter<'_, String> {
        self.0.iter()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }
}

impl FromIterator<String> for Tags {
    fn from_iter<I: IntoIterator<Item = String>>(iter: I) -> Self {
        let mut v: Vec<String> = iter.into_iter().collect();
        v.sort_unstable();
        v.dedup();
        v.shrink_to_fit();
        Tags(v)
    }
}

impl Extend<String> for Tags {
    fn extend<I: IntoIterator<Item = String>>(&mut self, iter: I) {
        let old = std::mem::take(&mut self.0);
        *self = old.into_iter().chain(iter).collect();
    }
}

impl From<&Tags> for BTreeSet<String> {
    fn from(tags: &Tags) -> Self {
        tags.iter().cloned().collect()
    }
}

impl<const N: usize> From<[String; N]> for Tags {
    fn from(tags: [String; N]) -> Self {
        tags.into_iter().collect()
    }
}

impl From<BTreeSet<String>> for Tags {
    fn from(set: BTreeSet<String>) -> Self {
        // Already sorted and unique.
        Tags(set.into_iter().collect())
    }
}

impl<'a> IntoIterator for &'a Tags {
    type Item = &'a String;
    type IntoIter = std::slice::Iter<'a, String>;
    fn into_iter(self) -> Self::IntoIter {
        self.0.iter()
    }
}

impl<'de> Deserialize<'de> for Tags {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        Vec::<String>::deserialize(d).map(Tags::from_iter)
    }
}

/// A materialised entry, as read from the document.
///
/// Serialised compactly: fields that are empty are left out, since they
/// are most of them and every start reads the whole view cache. The JSON
/// that scripts read has every documented key; `hearth`'s
/// `render::entry_json` puts the empty ones back ([`Entry::EMPTY_KEYS`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entry {
    pub id: EntryId,
    pub author: PartnerId,
    pub device: DeviceId,
    pub created: DateTime<FixedOffset>,
    pub day: NaiveDate,
    pub tags: Tags,
    pub starred: bool,
    pub tender: bool,
    /// On its author's devices only: the partner's devices never get it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub private: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edited: Option<DateTime<FixedOffset>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deleted: Option<DateTime<FixedOffset>>,
    /// For a repair: when the couple marked its agreements settled. Until
    /// then they are open and the weekly review brings them up.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<DateTime<FixedOffset>>,
    #[serde(flatten)]
    pub body: Body,
    /// Text fields edited concurrently on two devices: the values that did
    /// not win, kept so no word is lost until someone merges them.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub conflicts: BTreeMap<String, Vec<String>>,
}

impl Entry {
    /// The common keys serialisation leaves out when empty: `conflicts`
    /// then stands for `{}`, the others for `null`.
    pub const EMPTY_KEYS: [&str; 4] = ["edited", "deleted", "resolved", "conflicts"];

    /// The kind's own keys left out when empty (all of them `null`).
    pub fn empty_body_keys(&self) -> &'static [&'static str] {
        match self.body {
            Body::Checkin { .. } => &["energy", "need"],
            _ => &[],
        }
    }

    pub fn kind(&self) -> Kind {
        self.body.kind()
    }

    /// [`Body::check_lengths`], and the same for every value a conflict
    /// kept: a peer can write those too.
    pub fn check_lengths(&self) -> Result<(), ModelError> {
        self.body.check_lengths()?;
        for values in self.conflicts.values() {
            if let Some(v) = values.iter().find(|v| v.len() > MAX_TEXT) {
                return Err(ModelError::TooLong {
                    field: "a conflicting value",
                    len: v.len(),
                    max: MAX_TEXT,
                });
            }
        }
        Ok(())
    }

    /// Whether any text of the entry, or one of its tags, matches.
    pub fn matches_text(&self, needle: &crate::query::Needle) -> bool {
        self.body
            .searchable()
            .into_iter()
            .any(|t| needle.is_match(t))
            || self.tags.iter().any(|t| needle.is_match(t))
    }
}

/// What the CLI asks to write. The daemon adds id, author, device and times.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewEntry {
    pub body: Body,
    #[serde(default)]
    pub tags: BTreeSet<String>,
    #[serde(default)]
    pub starred: bool,
    /// `None` means the kind's default.
    #[serde(default)]
    pub tender: Option<bool>,
}

/// A change to an existing entry. Only the fields present are written, so a
/// concurrent edit of another field on another device is not overwritten.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryPatch {
    #[serde(default)]
    pub body: Option<Body>,
    #[serde(default)]
    pub tags: Option<BTreeSet<String>>,
    #[serde(default)]
    pub starred: Option<bool>,
    #[serde(default)]
    pub tender: Option<bool>,
    /// Move the entry to my private entries (`true`) or back to the shared
    /// ones (`false`). A move gives the entry a new id: the document it
    /// leaves keeps the old id's tombstone, as a delete does.
    #[serde(default)]
    pub private: Option<bool>,
}

/// The first line of `s` that says something, trimmed: what a one-line
/// listing shows of a longer text.
pub fn first_line(s: &str) -> String {
    s.lines()
        .find(|l| !l.trim().is_empty())
        .unwrap_or("")
        .trim()
        .to_string()
}

/// Normalises a tag: lowercase, without one leading `#` or `@`.
pub fn normalize_tag(raw: &str) -> Result<String, ModelError> {
    let t = raw.trim();
    let t = t
        .strip_prefix('#')
        .or_else(|| t.strip_prefix('@'))
        .unwrap_or(t)
        .to_lowercase();
    if t.is_empty() || t.len() > 64 || !t.chars().all(is_tag_char) {
        return Err(ModelError::Tag(raw.to_string()));
    }
    Ok(t)
}

fn is_tag_char(c: char) -> bool {
    c.is_alphanumeric() || c == '-' || c == '_'
}

/// Whether a `#` or `@` after `prev` starts a word: at the start of the
/// text, after white space, or after an opening bracket or quote. So
/// `me@example.com`, `C#` and `page.html#top` hold no tags.
fn starts_word(prev: Option<char>) -> bool {
    prev.is_none_or(|p| p.is_whitespace() || "([{\"'\u{201c}\u{2018}".contains(p))
}

/// Finds tags in free text. A tag is `#` or `@` at the start of a word,
/// then letters, digits, `-` or `_`. Any other character ends it, and a
/// trailing `-` is dropped. It must start with a letter or digit and hold
/// at least one letter, so `# heading`, `#1` and `@ 5pm` are not tags.
pub fn parse_tags(text: &str) -> BTreeSet<String> {
    let mut tags = BTreeSet::new();
    let mut prev: Option<char> = None;
    for (i, c) in text.char_indices() {
        if (c == '@' || c == '#') && starts_word(prev) {
            let rest = &text[i + 1..];
            let end = rest
                .char_indices()
                .find(|(_, c)| !is_tag_char(*c))
                .map_or(rest.len(), |(j, _)| j);
            // A trailing '-' is punctuation ("@work-"), not part of the tag.
            let word = rest[..end].trim_end_matches('-');
            if word.chars().next().is_some_and(char::is_alphanumeric)
                && word.chars().any(char::is_alphabetic)
                && let Ok(t) = normalize_tag(word)
            {
                tags.insert(t);
            }
        }
        prev = Some(c);
    }
    tags
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every entry in the daemon's view is this size whatever its kind:
    /// with a repair's fields inline it was 304 bytes.
    #[test]
    fn an_entry_is_small_whatever_its_kind() {
        assert!(
            std::mem::size_of::<Entry>() <= 232,
            "{}",
            std::mem::size_of::<Entry>()
        );
        assert!(std::mem::size_of::<Body>() <= 56);
    }

    #[test]
    fn a_repair_reads_and_writes_the_same_flat_json_as_any_kind() {
        let body = Body::Repair(Box::new(RepairBody {
            mode: RepairMode::Debrief,
            happened: "the dishes".into(),
            felt: "tired".into(),
            my_part: "I snapped".into(),
            need: "a pause".into(),
            agreements: vec!["take turns".into()],
        }));
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["kind"], "repair");
        assert_eq!(json["mode"], "debrief");
        assert_eq!(json["happened"], "the dishes");
        assert_eq!(json["agreements"][0], "take turns");
        assert_eq!(serde_json::from_value::<Body>(json).unwrap(), body);
    }

    #[test]
    fn mood_accepts_numbers_and_words_only_on_the_scale() {
        assert_eq!("4".parse::<Mood>().unwrap().value(), 4);
        assert_eq!("Great".parse::<Mood>().unwrap().value(), 5);
        assert_eq!(" rough ".parse::<Mood>().unwrap().value(), 1);
        for bad in ["0", "6", "-1", "4.5", "meh", ""] {
            assert!(bad.parse::<Mood>().is_err(), "{bad}");
        }
        assert_eq!(Mood::new(3).unwrap().word(), "okay");
    }

    #[test]
    fn energy_and_need_validate() {
        assert_eq!("buzzing".parse::<Energy>().unwrap().value(), 5);
        assert!("11".parse::<Energy>().is_err());
        assert_eq!("Hug".parse::<Need>().unwrap().as_str(), "hug");
        assert_eq!("a walk".parse::<Need>().unwrap().as_str(), "a walk");
        assert!("".parse::<Need>().is_err());
        assert!("x".repeat(33).parse::<Need>().is_err());
        assert!("two\nlines".parse::<Need>().is_err());
    }

    #[test]
    fn kinds_parse_with_aliases() {
        assert_eq!("check-in".parse::<Kind>().unwrap(), Kind::Checkin);
        assert_eq!("thanks".parse::<Kind>().unwrap(), Kind::Gratitude);
        assert!("diary".parse::<Kind>().is_err());
        for k in Kind::ALL {
            assert_eq!(k.as_str().parse::<Kind>().unwrap(), k);
        }
    }

    #[test]
    fn tags_read_from_any_order_are_kept_sorted_once_and_written_as_a_list() {
        let tags: Tags = serde_json::from_str(r#"["walk","coast","walk","art"]"#).unwrap();
        assert_eq!(tags.iter().collect::<Vec<_>>(), ["art", "coast", "walk"]);
        assert_eq!(tags.len(), 3);
        assert!(tags.contains("coast") && !tags.contains("coas") && !tags.contains("zoo"));
        assert_eq!(
            serde_json::to_string(&tags).unwrap(),
            r#"["art","coast","walk"]"#
        );
        let set: BTreeSet<String> = (&tags).into();
        assert_eq!(Tags::from(set), tags);
        let mut more = tags.clone();
        more.extend(["beach".to_string(), "art".to_string()]);
        assert_eq!(
            more,
            Tags::from(["walk", "art", "beach", "coast"].map(String::from))
        );
        assert!(Tags::default().is_empty());
    }

    #[test]
    fn tags_are_parsed_like_jrnl() {
        let t = parse_tags("Dinner with @Sam at @the-pier, mail me@example.com @@x @ alone @work-");
        let got: Vec<_> = t.iter().map(String::as_str).collect();
        assert_eq!(got, ["sam", "the-pier", "work"]);
        let t = parse_tags(
            "# Heading\ntrip to the #coast. (#Plans) see page.html#top, C# and #1 #2026-trip",
        );
        let got: Vec<_> = t.iter().map(String::as_str).collect();
        assert_eq!(got, ["2026-trip", "coast", "plans"]);
        assert!(parse_tags("no tags here").is_empty());
        assert_eq!(
            parse_tags("@café time").into_iter().collect::<Vec<_>>(),
            ["café"]
        );
    }

    #[test]
    fn tag_flags_are_normalised_and_checked() {
        assert_eq!(normalize_tag("@Work").unwrap(), "work");
        assert_eq!(normalize_tag("#Work").unwrap(), "work");
        assert!(normalize_tag("#@work").is_err());
        assert!(normalize_tag("two words").is_err());
        assert!(normalize_tag("@").is_err());
    }

    #[test]
    fn empty_and_oversized_bodies_are_refused() {
        assert_eq!(
            Body::Note {
                text: "  \n".into()
            }
            .validate(),
            Err(ModelError::Empty("entry text"))
        );
        let big = "x".repeat(MAX_TEXT + 1);
        assert!(matches!(
            Body::Note { text: big }.validate(),
            Err(ModelError::TooLong { field: "text", .. })
        ));
        assert!(
            Body::Highlow {
                high: "".into(),
                low: " ".into()
            }
            .validate()
            .is_err()
        );
        assert!(
            Body::Highlow {
                high: "sun".into(),
                low: "".into()
            }
            .validate()
            .is_ok()
        );
        let checkin = Body::Checkin {
            mood: Mood::new(3).unwrap(),
            energy: None,
            need: None,
            note: String::new(),
        };
        assert!(
            checkin.validate().is_ok(),
            "a bare mood is a valid check-in"
        );
    }

    #[test]
    fn json_shape_is_flat_with_a_kind_tag() {
        let body = Body::Checkin {
            mood: Mood::new(4).unwrap(),
            energy: None,
            need: Some("talk".parse().unwrap()),
            note: "ok".into(),
        };
        let v = serde_json::to_value(&body).unwrap();
        assert_eq!(v["kind"], "checkin");
        assert_eq!(v["mood"], 4);
        assert_eq!(v["need"], "talk");
        assert!(
            v["energy"].is_null(),
            "absent fields are null, not left out"
        );
        let back: Body = serde_json::from_value(v).unwrap();
        assert_eq!(back, body);
        let bad = serde_json::json!({"kind": "checkin", "mood": 9, "note": ""});
        assert!(serde_json::from_value::<Body>(bad).is_err());
    }
}
