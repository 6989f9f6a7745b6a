//! One test binary for the whole workspace, so it links once.

mod common;

mod bad_input;
mod convergence;
mod crash;
mod daemon;
mod everyday;
mod faults;
mod journal;
mod link;
mod practices;
mod storage;
mod sync;
mod transfer;
