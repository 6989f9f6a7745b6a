//! Why a request was refused: a kind the CLI maps to an exit code, and a
//! one-line message for the user.

use hearth_ipc::{ErrorKind, ErrorReply, Response};
use hearth_model::ModelError;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct Refusal {
    pub kind: ErrorKind,
    pub message: String,
}

impl Refusal {
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Refusal {
        Refusal {
            kind,
            message: message.into(),
        }
    }

    pub fn bad(message: impl Into<String>) -> Refusal {
        Refusal::new(ErrorKind::BadRequest, message)
    }

    pub fn not_set_up() -> Refusal {
        Refusal::new(
            ErrorKind::NotInitialised,
            "this device is not set up yet: run `hearth init --name <your name>`",
        )
    }
}

/// Every model error has one kind, decided here; a new variant does not
/// compile until it has one.
fn kind_of(e: &ModelError) -> ErrorKind {
    use ModelError as M;
    match e {
        M::NoSuchEntry(_) | M::NoSuchRitual(_) | M::NoSuchPrompt(_) => ErrorKind::NotFound,
        M::NotInitialised => ErrorKind::NotInitialised,
        M::Automerge(_) | M::Schema(_) | M::SyncRejected(_) | M::SyncPanicked => {
            ErrorKind::Internal
        }
        M::Mood(_)
        | M::Energy(_)
        | M::Need(_)
        | M::Kind(_)
        | M::Date(_)
        | M::Id(_)
        | M::AmbiguousId(..)
        | M::Cadence(_)
        | M::OnDay(..)
        | M::Tag(_)
        | M::Regex(_)
        | M::Empty(_)
        | M::TooLong { .. }
        | M::AmbiguousRitual(..)
        | M::NotYourRitual(_)
        | M::Theme(_)
        | M::NotYourEntry(_)
        | M::NotARepair(_)
        | M::NoAgreements(_)
        | M::Deleted(_)
        | M::Import(_)
        | M::Refused(_) => ErrorKind::BadRequest,
    }
}

impl From<ModelError> for Refusal {
    fn from(e: ModelError) -> Refusal {
        Refusal::new(kind_of(&e), e.to_string())
    }
}

impl From<Refusal> for Response {
    fn from(r: Refusal) -> Response {
        Response::Error(ErrorReply {
            kind: r.kind,
            message: r.message,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_errors_keep_their_message_and_get_a_kind() {
        let r = Refusal::from(ModelError::NoSuchEntry("01ab".into()));
        assert_eq!(r.kind, ErrorKind::NotFound);
        assert_eq!(r.message, "no entry matches id \"01ab\"");
        assert_eq!(
            Refusal::from(ModelError::NotInitialised).kind,
            ErrorKind::NotInitialised
        );
        assert_eq!(
            Refusal::from(ModelError::Mood("x".into())).kind,
            ErrorKind::BadRequest
        );
        assert_eq!(
            Refusal::from(ModelError::SyncPanicked).kind,
            ErrorKind::Internal
        );
    }
}
