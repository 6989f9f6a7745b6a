//! One test binary for the whole workspace, so it links once.

mod common;

mod bad_input;
mod crash;
mod daemon;
mod journal;
mod storage;
mod sync;
