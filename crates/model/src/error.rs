use thiserror::Error;

/// Everything the model can refuse. Messages are one line and name the
/// offending value, because they reach the user verbatim.
#[derive(Debug, Error, Clone, PartialEq, Eq)]
pub enum ModelError {
    #[error("invalid mood {0:?}: use 1-5 or one of rough, low, okay, good, great")]
    Mood(String),
    #[error("invalid energy {0:?}: use 1-5 or one of drained, tired, steady, lively, buzzing")]
    Energy(String),
    #[error("invalid need {0:?}: use talk, space, hug, help, or one short word (max 32 chars)")]
    Need(String),
    #[error("invalid kind {0:?}: use checkin, highlow, gratitude, note, repair or answer")]
    Kind(String),
    #[error("invalid date {0:?}: try 'yesterday', 'last monday', '2 weeks ago' or 2026-01-31")]
    Date(String),
    #[error("invalid id {0:?}: ids are 26-character ULIDs, or a unique prefix of one")]
    Id(String),
    #[error("no entry matches id {0:?}")]
    NoSuchEntry(String),
    #[error("id prefix {0:?} is ambiguous: it matches {1} entries; type more characters")]
    AmbiguousId(String, usize),
    #[error(
        "invalid cadence {0:?}: use daily, weekly:<weekday>, monthly[:<1-31>] or yearly[:<MM-DD>]"
    )]
    Cadence(String),
    #[error("invalid --on {0:?} for a {1} ritual: {2}")]
    OnDay(String, &'static str, &'static str),
    #[error("invalid tag {0:?}: tags are letters, digits, '-' and '_'")]
    Tag(String),
    #[error("invalid regular expression {0}")]
    Regex(String),
    #[error("{0} is empty")]
    Empty(&'static str),
    #[error("{field} is too long: {len} bytes, the maximum is {max}")]
    TooLong {
        field: &'static str,
        len: usize,
        max: usize,
    },
    #[error("no ritual matches {0:?}")]
    NoSuchRitual(String),
    #[error("ritual name {0:?} is ambiguous: it matches {1} rituals")]
    AmbiguousRitual(String, usize),
    #[error("ritual {0:?} is not yours to do: it belongs to your partner")]
    NotYourRitual(String),
    #[error("no prompt matches {0:?}")]
    NoSuchPrompt(String),
    #[error(
        "invalid theme {0:?}: use day, wishes, worries, pride, appreciation, dreams, memories or repair"
    )]
    Theme(String),
    #[error("entry {0} belongs to your partner; only its author can change it")]
    NotYourEntry(String),
    #[error("entry {0} is not a repair; only repairs have agreements to settle")]
    NotARepair(String),
    #[error("repair {0} has no agreements to settle")]
    NoAgreements(String),
    #[error("entry {0} is deleted")]
    Deleted(String),
    #[error("this journal is not initialised (no partner named); run `hearth init`")]
    NotInitialised,
    #[error("cannot import: {0}")]
    Import(String),
    /// A write the couple's records do not allow, said as the rule says it.
    #[error("{0}")]
    Refused(String),
    #[error("document is not a hearth journal: {0}")]
    Schema(String),
    #[error("automerge: {0}")]
    Automerge(String),
    #[error("a peer's sync message was refused: {0}")]
    SyncRejected(String),
    #[error("a peer's sync message made Automerge panic")]
    SyncPanicked,
}

impl From<automerge::AutomergeError> for ModelError {
    fn from(e: automerge::AutomergeError) -> Self {
        ModelError::Automerge(e.to_string())
    }
}
