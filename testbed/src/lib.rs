//! The salsify testbed: a mahimahi-compatible link emulator, its drivers, and video metrics.
//!
//! - [`trace`]: mahimahi delivery traces.
//! - [`link`]: one direction of the emulated link as a pure state machine (queue, trace-driven
//!   delivery, loss, outages, delay), with mahimahi-format log events.
//! - [`simulate`]: the virtual-time driver; [`proxy`]: the real-time UDP relay.
//! - [`mahimahi_log`]: logs in mahimahi's format and their analysis; [`plot`]: their plots.
//! - [`metrics`]: SSIM, PSNR and per-frame delay.

pub mod link;
pub mod mahimahi_log;
pub mod metrics;
pub mod plot;
pub mod proxy;
pub mod queue;
pub mod random;
pub mod simulate;
pub mod trace;

pub use link::{Delivered, Link, LinkConfig, LinkStats, LogEvent, OnOff, Outage};
pub use queue::{QueueConfig, QueueConfigError};
pub use simulate::{run_link, Direction, Path};
pub use trace::{Trace, TraceError, OPPORTUNITY_BYTES};
