//! The salsify testbed: a mahimahi-compatible link emulator, its drivers, and video metrics.

pub mod metrics;
