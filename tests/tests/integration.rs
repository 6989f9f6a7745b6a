//! One test binary for the whole workspace, so it links once.

mod common;

mod at_rest;
mod bad_input;
mod bounds;
mod convergence;
mod crash;
mod daemon;
mod everyday;
mod faults;
mod journal;
#[cfg(target_os = "linux")]
mod keyring;
mod link;
mod local_safety;
mod pairing;
mod practices;
mod privacy;
mod settings;
mod storage;
mod sync;
mod transfer;
