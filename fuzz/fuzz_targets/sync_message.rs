//! What a peer's bytes go through: decode, check, then apply to a journal
//! the way the daemon does.
#![no_main]

use automerge::sync::State;
use hearth_model::ModelError;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(msg) = hearth_sync::decode_message(data) else {
        return;
    };
    let mut journal =
        hearth_model::Journal::new(automerge::ActorId::from(b"fuzz-device-0001".as_slice()));
    let mut state = State::new();
    match journal.receive(&mut state, msg, true) {
        // The daemon survives a panic inside Automerge, but each one is a
        // finding: report it as the crash it would have been.
        Err(ModelError::SyncPanicked) => panic!("applying a peer's message panicked"),
        Err(_) => {}
        Ok(_) => {
            // Whatever was applied must still read as a journal.
            let _ = hearth_model::View::build(&journal);
            let _ = journal.generate(&mut state);
        }
    }
});
