//! The Salsify estimator: the receiver's smoothed inter-arrival time, and the sender's budget.
//!
//! Receiver, per packet received at `now`: `gap = now - previous_arrival`, and
//! `tau = 0.1 * sample + 0.9 * tau`, where the sample depends on `grace`, the idle time the sender
//! declared on a frame's first fragment (zero on the others), and the [`GracePolicy`]:
//! - [`GracePolicy::SubtractOrSkip`] (default): `sample = gap - grace`; when `gap <= grace` the
//!   packet gives no sample at all. The paper's rule instead counts such a packet as a zero sample,
//!   but `gap <= grace` is the normal case for a frame's first fragment (either the link was busy
//!   and the packet queued behind the previous frame, or the link went idle and the gap is the
//!   idle time minus the previous packet's queueing), so every frame pulled tau towards zero: on
//!   a saturated 2 Mbit/s link that made tau about 20 % optimistic (see the plan tests).
//! - [`GracePolicy::SubtractOrZero`]: the paper's `sample = max(0, gap - grace)`.
//! - [`GracePolicy::Ignore`]: `sample = gap`, for measuring what the grace period is worth.
//!
//! A data packet whose predecessor in sequence has not arrived (lost, or still on its way) gives no
//! sample either: its gap spans the missing packet too. Without this, 5 % loss made tau about 5 %
//! pessimistic on a saturated link.
//!
//! Sender: `budget = payload_size * max(0, floor(target_delay / tau) - packets_in_flight)`.
//! Packets in flight are counted exactly, by sequence number: sent minus acknowledged minus
//! presumed lost. A packet is presumed lost once a packet sent after it is acknowledged and either
//! [`REORDER_PACKETS`] later packets have been acknowledged or it was sent more than
//! `max(REORDER_TIME_MIN, srtt / 8)` before that packet. When ACKs stop while packets are in
//! flight, the feedback is stale after `max(FEEDBACK_TIMEOUT_MIN, 4 * tau, 2 * srtt)` and the
//! budget falls to zero (the sender then sends a probe every [`PROBE_INTERVAL`] to draw an ACK).

use std::collections::BTreeMap;
use std::time::Duration;

use crate::time::Timestamp;

/// Weight of a new inter-arrival sample in the receiver's moving average.
pub const TAU_GAIN: f64 = 0.1;
/// Packets acknowledged after an unacknowledged one before it is presumed lost.
pub const REORDER_PACKETS: u64 = 3;
/// Least send-time distance that presumes a packet lost when a later one is acknowledged.
pub const REORDER_TIME_MIN: Duration = Duration::from_millis(5);
/// Least time without an ACK, with packets in flight, before the budget falls to zero.
pub const FEEDBACK_TIMEOUT_MIN: Duration = Duration::from_millis(200);
/// Interval between probes while feedback is stale.
pub const PROBE_INTERVAL: Duration = Duration::from_millis(100);
/// Most sent packets remembered; beyond this the oldest are presumed lost (bounds memory).
pub const MAX_TRACKED_PACKETS: usize = 8192;

/// How the receiver's estimator uses the sender's grace period (see the module docs).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum GracePolicy {
    /// Subtract the grace period; a gap it fully explains gives no sample.
    #[default]
    SubtractOrSkip,
    /// The paper's rule: subtract the grace period and count a negative result as zero.
    SubtractOrZero,
    /// Ignore the grace period (an ablation).
    Ignore,
}

/// The receiver's smoothed inter-arrival time.
#[derive(Debug, Clone)]
pub struct InterArrivalEstimator {
    tau_micros: f64,
    previous_arrival: Option<Timestamp>,
    policy: GracePolicy,
}

impl InterArrivalEstimator {
    /// Starts at `initial_tau`, treating grace periods according to `policy`.
    pub fn new(initial_tau: Duration, policy: GracePolicy) -> Self {
        InterArrivalEstimator {
            tau_micros: initial_tau.as_secs_f64() * 1e6,
            previous_arrival: None,
            policy,
        }
    }

    /// Folds in one packet that arrived at `now` carrying `grace`.
    pub fn on_packet(&mut self, now: Timestamp, grace: Duration) {
        if let Some(previous) = self.previous_arrival {
            let gap = now.as_micros().saturating_sub(previous.as_micros()) as f64;
            let grace = grace.as_secs_f64() * 1e6;
            let sample = match self.policy {
                GracePolicy::SubtractOrSkip if grace > 0.0 && gap <= grace => None,
                GracePolicy::SubtractOrSkip | GracePolicy::SubtractOrZero => {
                    Some((gap - grace).max(0.0))
                }
                GracePolicy::Ignore => Some(gap),
            };
            if let Some(sample) = sample {
                self.tau_micros = TAU_GAIN * sample + (1.0 - TAU_GAIN) * self.tau_micros;
            }
        }
        self.previous_arrival = Some(self.previous_arrival.map_or(now, |p| p.max(now)));
    }

    /// Notes an arrival at `now` that gives no sample: the packet just before it in sequence was
    /// lost or overtaken, so the gap spans an unknown amount of link time.
    pub fn on_packet_after_hole(&mut self, now: Timestamp) {
        self.previous_arrival = Some(self.previous_arrival.map_or(now, |p| p.max(now)));
    }

    /// The current estimate.
    pub fn tau(&self) -> Duration {
        Duration::from_secs_f64(self.tau_micros.max(0.0) / 1e6)
    }
}

#[derive(Debug, Clone, Copy)]
struct SentPacket {
    /// Position among tracked packets, for the packet-count reordering threshold.
    index: u64,
    sent_at: Timestamp,
    /// Probes draw feedback but carry no payload and do not count in flight.
    counts_in_flight: bool,
}

/// What an ACK did to the sender's view of the path.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct AckOutcome {
    /// The acked packet was still tracked (not a duplicate or already presumed lost).
    pub newly_acked: bool,
    /// Packets presumed lost because of this ACK.
    pub presumed_lost: usize,
}

/// The sender's record of packets in flight, round-trip time and feedback freshness.
#[derive(Debug, Clone)]
pub struct FlightTracker {
    sent: BTreeMap<u64, SentPacket>,
    next_index: u64,
    in_flight: usize,
    largest_acked: Option<(u64, SentPacket)>,
    last_ack_at: Option<Timestamp>,
    smoothed_rtt: Option<Duration>,
    lost_total: u64,
}

impl Default for FlightTracker {
    fn default() -> Self {
        Self::new()
    }
}

impl FlightTracker {
    /// Nothing sent yet.
    pub fn new() -> Self {
        FlightTracker {
            sent: BTreeMap::new(),
            next_index: 0,
            in_flight: 0,
            largest_acked: None,
            last_ack_at: None,
            smoothed_rtt: None,
            lost_total: 0,
        }
    }

    /// Records a sent packet that the peer will acknowledge.
    pub fn on_sent(&mut self, sequence: u64, now: Timestamp, counts_in_flight: bool) {
        let record = SentPacket {
            index: self.next_index,
            sent_at: now,
            counts_in_flight,
        };
        self.next_index += 1;
        if let Some(old) = self.sent.insert(sequence, record) {
            if old.counts_in_flight {
                self.in_flight -= 1;
            }
        }
        if counts_in_flight {
            self.in_flight += 1;
        }
        while self.sent.len() > MAX_TRACKED_PACKETS {
            if let Some((_, oldest)) = self.sent.pop_first() {
                self.forget(oldest, true);
            }
        }
    }

    fn forget(&mut self, record: SentPacket, lost: bool) {
        if record.counts_in_flight {
            self.in_flight -= 1;
            if lost {
                self.lost_total += 1;
            }
        }
    }

    /// Processes an acknowledgement of `sequence` received at `now`.
    pub fn on_ack(&mut self, sequence: u64, now: Timestamp) -> AckOutcome {
        self.last_ack_at = Some(now);
        let Some(record) = self.sent.remove(&sequence) else {
            return AckOutcome::default();
        };
        self.forget(record, false);
        let sample = now.saturating_duration_since(record.sent_at);
        self.smoothed_rtt = Some(match self.smoothed_rtt {
            None => sample,
            Some(srtt) => srtt.mul_f64(0.875) + sample.mul_f64(0.125),
        });
        if self
            .largest_acked
            .is_none_or(|(largest, _)| sequence > largest)
        {
            self.largest_acked = Some((sequence, record));
        }
        let presumed_lost = self.detect_losses();
        AckOutcome {
            newly_acked: true,
            presumed_lost,
        }
    }

    fn detect_losses(&mut self) -> usize {
        let Some((largest, acked)) = self.largest_acked else {
            return 0;
        };
        let reorder_time = self
            .smoothed_rtt
            .map_or(REORDER_TIME_MIN, |srtt| (srtt / 8).max(REORDER_TIME_MIN));
        let lost: Vec<u64> = self
            .sent
            .range(..largest)
            .filter(|(_, record)| {
                acked.index >= record.index + REORDER_PACKETS
                    || acked.sent_at.saturating_duration_since(record.sent_at) >= reorder_time
            })
            .map(|(&sequence, _)| sequence)
            .collect();
        for sequence in &lost {
            if let Some(record) = self.sent.remove(sequence) {
                self.forget(record, true);
            }
        }
        lost.len()
    }

    /// Packets sent, not acknowledged and not presumed lost (probes excluded).
    pub fn in_flight(&self) -> usize {
        self.in_flight
    }

    /// Packets presumed lost so far.
    pub fn lost_total(&self) -> u64 {
        self.lost_total
    }

    /// Smoothed round-trip time, once an ACK has been seen.
    pub fn smoothed_rtt(&self) -> Option<Duration> {
        self.smoothed_rtt
    }

    /// How long feedback may be silent, with packets in flight, before it counts as stale.
    pub fn feedback_timeout(&self, tau: Duration) -> Duration {
        let rtt_bound = self.smoothed_rtt.map_or(Duration::ZERO, |srtt| srtt * 2);
        FEEDBACK_TIMEOUT_MIN.max(tau * 4).max(rtt_bound)
    }

    /// Since when the sender has been waiting for feedback, if packets are in flight.
    fn waiting_since(&self) -> Option<Timestamp> {
        let oldest = self
            .sent
            .values()
            .filter(|record| record.counts_in_flight)
            .map(|record| record.sent_at)
            .min()?;
        Some(self.last_ack_at.map_or(oldest, |ack| ack.max(oldest)))
    }

    /// When feedback becomes stale if no ACK arrives first (`None` with nothing in flight).
    pub fn stale_at(&self, tau: Duration) -> Option<Timestamp> {
        Some(self.waiting_since()? + self.feedback_timeout(tau))
    }

    /// Whether ACKs have stopped while packets are in flight.
    pub fn is_stale(&self, now: Timestamp, tau: Duration) -> bool {
        self.stale_at(tau).is_some_and(|at| now >= at)
    }
}

/// Salsify's budget: bytes the sender may commit now so that its packets drain within
/// `target_delay` at one packet per `tau`, after those already in flight.
pub fn budget_bytes(
    payload_size: usize,
    target_delay: Duration,
    tau: Duration,
    packets_in_flight: usize,
) -> usize {
    let tau_micros = tau.as_micros().max(1);
    let packets_in_target = target_delay.as_micros() / tau_micros;
    let packets = usize::try_from(packets_in_target)
        .unwrap_or(usize::MAX)
        .saturating_sub(packets_in_flight);
    payload_size.saturating_mul(packets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(millis: u64) -> Timestamp {
        Timestamp::from_micros(millis * 1000)
    }

    #[test]
    fn estimator_follows_the_formula() {
        let mut paper =
            InterArrivalEstimator::new(Duration::from_millis(10), GracePolicy::SubtractOrZero);
        paper.on_packet(at(0), Duration::ZERO);
        assert_eq!(paper.tau(), Duration::from_millis(10));
        paper.on_packet(at(2), Duration::ZERO);
        // 0.1 * 2 ms + 0.9 * 10 ms
        assert_eq!(paper.tau().as_micros(), 9200);
        // The paper counts a gap fully explained by the sender's idle time as zero.
        paper.on_packet(at(52), Duration::from_millis(60));
        assert_eq!(paper.tau().as_micros(), 8280);
        // Partly explained: the rest is the sample.
        paper.on_packet(at(72), Duration::from_millis(15));
        assert_eq!(paper.tau().as_micros(), 7952);

        let mut ours =
            InterArrivalEstimator::new(Duration::from_millis(10), GracePolicy::default());
        ours.on_packet(at(0), Duration::ZERO);
        ours.on_packet(at(2), Duration::ZERO);
        assert_eq!(ours.tau().as_micros(), 9200);
        // Fully explained: no sample, tau unchanged, but the arrival still counts as previous.
        ours.on_packet(at(52), Duration::from_millis(60));
        assert_eq!(ours.tau().as_micros(), 9200);
        ours.on_packet(at(72), Duration::from_millis(15));
        assert_eq!(ours.tau().as_micros(), 8780);

        let mut ablated =
            InterArrivalEstimator::new(Duration::from_millis(10), GracePolicy::Ignore);
        ablated.on_packet(at(0), Duration::ZERO);
        ablated.on_packet(at(50), Duration::from_millis(60));
        assert_eq!(ablated.tau().as_micros(), 14000);
    }

    #[test]
    fn budget_matches_the_formula() {
        let tau = Duration::from_micros(6000);
        let target = Duration::from_millis(100);
        assert_eq!(budget_bytes(1000, target, tau, 0), 16 * 1000);
        assert_eq!(budget_bytes(1000, target, tau, 10), 6 * 1000);
        assert_eq!(budget_bytes(1000, target, tau, 40), 0);
        assert_eq!(
            budget_bytes(1000, target, Duration::ZERO, 0),
            100_000 * 1000
        );
    }

    #[test]
    fn in_flight_is_sent_minus_acked_and_losses_stop_counting() {
        let mut flight = FlightTracker::new();
        for sequence in 0..10 {
            flight.on_sent(sequence, at(sequence), true);
        }
        assert_eq!(flight.in_flight(), 10);
        // Packet 1 acknowledged: packet 0 is only one packet and 1 ms older, not yet lost.
        let outcome = flight.on_ack(1, at(40));
        assert_eq!(
            outcome,
            AckOutcome {
                newly_acked: true,
                presumed_lost: 0
            }
        );
        assert_eq!(flight.in_flight(), 9);
        // Duplicate ACKs change nothing.
        assert_eq!(flight.on_ack(1, at(41)), AckOutcome::default());
        flight.on_ack(2, at(42));
        assert_eq!(flight.in_flight(), 8);
        // Packet 3 acknowledged: packet 0 is three packets older, now presumed lost.
        let outcome = flight.on_ack(3, at(43));
        assert_eq!(outcome.presumed_lost, 1);
        assert_eq!(flight.in_flight(), 6);
        assert_eq!(flight.lost_total(), 1);
        // Probes draw ACKs but never count in flight.
        flight.on_sent(100, at(50), false);
        assert_eq!(flight.in_flight(), 6);
        // An ACK for the probe presumes every older packet lost (it was sent > 5 ms later).
        flight.on_ack(100, at(90));
        assert_eq!(flight.in_flight(), 0);
        assert_eq!(flight.lost_total(), 7);
    }

    #[test]
    fn feedback_goes_stale_when_acks_stop() {
        let mut flight = FlightTracker::new();
        let tau = Duration::from_millis(1);
        assert!(
            !flight.is_stale(at(10_000), tau),
            "nothing in flight is never stale"
        );
        flight.on_sent(0, at(0), true);
        flight.on_sent(1, at(1), true);
        flight.on_ack(0, at(40));
        assert_eq!(flight.smoothed_rtt(), Some(Duration::from_millis(40)));
        assert_eq!(flight.stale_at(tau), Some(at(240)));
        assert!(!flight.is_stale(at(239), tau));
        assert!(flight.is_stale(at(240), tau));
        // A long tau stretches the timeout.
        assert_eq!(flight.stale_at(Duration::from_millis(100)), Some(at(440)));
    }

    #[test]
    fn tracked_packets_are_bounded() {
        let mut flight = FlightTracker::new();
        for sequence in 0..(MAX_TRACKED_PACKETS as u64 + 10) {
            flight.on_sent(sequence, at(0), true);
        }
        assert_eq!(flight.in_flight(), MAX_TRACKED_PACKETS);
        assert_eq!(flight.lost_total(), 10);
    }
}
