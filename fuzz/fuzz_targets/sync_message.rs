//! What a peer's bytes go through: decode, check, then apply to a journal.
#![no_main]

use automerge::sync::{State, SyncDoc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = hearth_sync::decode_message(data) else {
        return;
    };
    let mut journal = hearth_model::Journal::new(automerge::ActorId::from(b"fuzz-device-0001".as_slice()));
    let mut state = State::new();
    if journal.doc_mut().receive_sync_message(&mut state, msg).is_ok() {
        // Whatever was applied must still read as a journal, never panic.
        let _ = hearth_model::View::build(&journal);
        let _ = journal.doc().generate_sync_message(&mut state);
    }
});
