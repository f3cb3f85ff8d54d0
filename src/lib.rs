//! salsify: two-person video calls where the VP8 codec and the transport share one control loop.
//!
//! The library holds what the binary's subcommands run; the codec, transport, testbed and user
//! interface live in their own crates.

pub mod cli;
pub mod synthetic;
