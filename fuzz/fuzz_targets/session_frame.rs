//! What a peer's schema 2 frame goes through: strict decoding, then the
//! session's checks on a scratch fork of the couple document or a partner
//! document, as the daemon runs them. A refusal is fine; a panic is a
//! finding.
#![no_main]

use hearth_model::records::exchange::{Exchange, genesis_of};
use hearth_model::records::ids::DeviceKey;
use hearth_model::records::session_frame::SessionFrame;
use hearth_model::records::trust::TrustView;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(SessionFrame::Doc(frame)) = SessionFrame::decode(data) else {
        return;
    };
    if hearth_sync::decode_message(&frame.message).is_err() {
        return;
    }
    let real = genesis_of(&frame.doc);
    let never = |_: &automerge::ChangeHash, _: &std::collections::BTreeSet<automerge::ChangeHash>| false;
    let trust = TrustView::compute(&[], &never);
    let mut ex = Exchange::paired(DeviceKey([1; 32]), DeviceKey([2; 32]));
    let _ = ex.incoming(frame, &real, &[], &trust);
});
