//! The daemon's socket framing and request decoding.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let mut input = data;
    let _ = hearth_ipc::frame::read_sync::<hearth_ipc::Envelope>(&mut input, hearth_ipc::MAX_REQUEST);
});
