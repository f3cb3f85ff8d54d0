//! The pacer: spaces a frame's fragments so they do not leave in one burst.
//!
//! Fragments go out `tau / 5` apart, clamped to [`MIN_SPACING`]..=[`MAX_SPACING`]: faster than the
//! path drains them (so the link, not the pacer, sets the rate the receiver measures), yet not as a
//! burst that overflows shallow queues.
//!
//! A consequence: on a path faster than one full packet per [`MIN_SPACING`] (about 23 Mbit/s),
//! packets arrive at the pacing interval and tau measures the pacer, not the path; the budget
//! then caps video near that rate, which is ample for a call.

use std::time::Duration;

use crate::time::Timestamp;

/// Closest spacing between two paced packets.
pub const MIN_SPACING: Duration = Duration::from_micros(500);
/// Widest spacing between two paced packets.
pub const MAX_SPACING: Duration = Duration::from_millis(2);

/// Spacing for a path that delivers one packet per `tau`.
pub fn spacing(tau: Duration) -> Duration {
    (tau / 5).clamp(MIN_SPACING, MAX_SPACING)
}

/// Tracks when the next paced packet may leave.
#[derive(Debug, Clone, Default)]
pub struct Pacer {
    next_send: Timestamp,
}

impl Pacer {
    /// A pacer that allows a packet right away.
    pub fn new() -> Self {
        Pacer::default()
    }

    /// Earliest time the next packet may leave.
    pub fn next_send(&self) -> Timestamp {
        self.next_send
    }

    /// Whether a packet may leave at `now`.
    pub fn can_send(&self, now: Timestamp) -> bool {
        now >= self.next_send
    }

    /// Records a packet leaving at `now` with the path's current `tau`.
    pub fn on_sent(&mut self, now: Timestamp, tau: Duration) {
        self.next_send = now + spacing(tau);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spacing_is_a_fifth_of_tau_within_bounds() {
        assert_eq!(spacing(Duration::from_millis(5)), Duration::from_millis(1));
        assert_eq!(spacing(Duration::from_micros(100)), MIN_SPACING);
        assert_eq!(spacing(Duration::from_millis(50)), MAX_SPACING);
        let mut pacer = Pacer::new();
        let start = Timestamp::from_micros(1000);
        assert!(pacer.can_send(start));
        pacer.on_sent(start, Duration::from_millis(5));
        assert!(!pacer.can_send(Timestamp::from_micros(1999)));
        assert!(pacer.can_send(Timestamp::from_micros(2000)));
    }
}
