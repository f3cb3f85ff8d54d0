//! Time as data: a point in time is an argument, never read from a clock.

use std::ops::Add;
use std::time::Duration;

/// A point in time, in microseconds since an epoch chosen by the driver.
///
/// Real-time drivers count from their start; simulated drivers count virtual time. The transport
/// only ever compares and subtracts timestamps, so the epoch does not matter as long as both the
/// inputs and the timers of one connection use the same one.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(u64);

impl Timestamp {
    /// The epoch itself.
    pub const ZERO: Timestamp = Timestamp(0);

    /// A timestamp this many microseconds after the epoch.
    pub const fn from_micros(micros: u64) -> Self {
        Timestamp(micros)
    }

    /// A timestamp this long after the epoch (saturating at `u64::MAX` microseconds).
    pub fn from_duration(since_epoch: Duration) -> Self {
        Timestamp(u64::try_from(since_epoch.as_micros()).unwrap_or(u64::MAX))
    }

    /// Microseconds since the epoch.
    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time since the epoch.
    pub const fn since_epoch(self) -> Duration {
        Duration::from_micros(self.0)
    }

    /// Time elapsed from `earlier` to `self`, or zero if `earlier` is later.
    pub fn saturating_duration_since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;

    /// Saturating addition: a timer "infinitely far" away stays representable.
    fn add(self, span: Duration) -> Timestamp {
        let micros = u64::try_from(span.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(micros))
    }
}

/// Clamps a duration to whole microseconds that fit in a `u32` (about 71 minutes).
pub(crate) fn duration_to_micros_u32(span: Duration) -> u32 {
    u32::try_from(span.as_micros()).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arithmetic_saturates_instead_of_wrapping() {
        let t = Timestamp::from_micros(10);
        assert_eq!(t + Duration::from_micros(5), Timestamp::from_micros(15));
        assert_eq!(
            Timestamp::from_micros(u64::MAX - 1) + Duration::from_secs(1),
            Timestamp::from_micros(u64::MAX)
        );
        assert_eq!(
            t.saturating_duration_since(Timestamp::from_micros(20)),
            Duration::ZERO
        );
        assert_eq!(
            Timestamp::from_micros(20).saturating_duration_since(t),
            Duration::from_micros(10)
        );
        assert_eq!(
            duration_to_micros_u32(Duration::from_secs(10_000)),
            u32::MAX
        );
    }
}
