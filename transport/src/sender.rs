//! The sending side of a call: fragments frames, paces them, tracks them and answers the budget.

use std::collections::VecDeque;
use std::time::Duration;

use thiserror::Error;

use crate::estimator::{budget_bytes, FlightTracker, PROBE_INTERVAL};
use crate::pacer::Pacer;
use crate::time::{duration_to_micros_u32, Timestamp};
use crate::wire::{AckPacket, DataPacket, Packet, MAX_FRAGMENTS};

/// Smallest tau the budget believes (120 Mbit/s of full packets): a receiver whose packets arrive
/// in batches with one timestamp can report a tau near zero, which must not mean "infinite".
pub const MIN_TAU: Duration = Duration::from_micros(100);
/// Most fragments waiting for the pacer; frames beyond this are refused.
pub const MAX_QUEUED_PACKETS: usize = 4096;

/// Why a frame was not accepted for sending.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SendError {
    /// The frame needs more than `MAX_FRAGMENTS` fragments at the configured payload size.
    #[error("a frame of {bytes} bytes needs more than {MAX_FRAGMENTS} fragments")]
    FrameTooLarge {
        /// Size of the refused frame.
        bytes: usize,
    },
    /// Too many fragments are already waiting for the pacer.
    #[error("the send queue is full ({MAX_QUEUED_PACKETS} packets)")]
    QueueFull,
    /// The audio payload does not fit in one packet.
    #[error("an audio payload of {bytes} bytes does not fit one packet")]
    AudioTooLarge {
        /// Size of the refused payload.
        bytes: usize,
    },
}

/// The receiver's latest report, from the freshest ACK.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Feedback {
    /// The receiver's smoothed inter-arrival time.
    pub tau: Duration,
    /// The decoder state the receiver is in.
    pub receiver_state: u64,
    /// The newest states the receiver holds complete, newest first.
    pub complete_states: Vec<u64>,
    /// When the ACK carrying this arrived.
    pub received_at: Timestamp,
}

/// A fragment waiting for the pacer.
#[derive(Debug)]
struct QueuedFragment {
    packet: DataPacket,
    /// The first fragment of a frame queued while nothing else waited: the sender was idle
    /// before it, so it carries a grace period. A frame queued behind another one follows it
    /// at the pacing interval and carries none.
    after_idle: bool,
}

/// The sending side of a [`crate::Connection`].
#[derive(Debug)]
pub struct Sender {
    payload_size: usize,
    target_delay: Duration,
    queue: VecDeque<QueuedFragment>,
    next_frame_number: u32,
    pacer: Pacer,
    flight: FlightTracker,
    tau: Duration,
    newest_ack_sequence: Option<u64>,
    feedback: Option<Feedback>,
    last_data_sent_at: Option<Timestamp>,
    next_probe_at: Option<Timestamp>,
    probes_sent: u64,
}

impl Sender {
    pub(crate) fn new(payload_size: usize, target_delay: Duration, initial_tau: Duration) -> Self {
        Sender {
            payload_size,
            target_delay,
            queue: VecDeque::new(),
            next_frame_number: 0,
            pacer: Pacer::new(),
            flight: FlightTracker::new(),
            tau: initial_tau,
            newest_ack_sequence: None,
            feedback: None,
            last_data_sent_at: None,
            next_probe_at: None,
            probes_sent: 0,
        }
    }

    /// Queues an encoded frame for paced sending and returns its frame number.
    ///
    /// `source_state` is the decoder state the frame was encoded from, `target_state` the state it
    /// leads to. The frame is split into fragments of the configured payload size.
    pub fn send_frame(
        &mut self,
        frame: &[u8],
        source_state: u64,
        target_state: u64,
    ) -> Result<u32, SendError> {
        let fragment_count = frame.len().div_ceil(self.payload_size).max(1);
        if fragment_count > usize::from(MAX_FRAGMENTS) {
            return Err(SendError::FrameTooLarge { bytes: frame.len() });
        }
        if self.queue.len() + fragment_count > MAX_QUEUED_PACKETS {
            return Err(SendError::QueueFull);
        }
        let frame_number = self.next_frame_number;
        self.next_frame_number = self.next_frame_number.wrapping_add(1);
        let count = u16::try_from(fragment_count).expect("bounded by MAX_FRAGMENTS");
        let mut chunks = frame.chunks(self.payload_size);
        let after_idle = self.queue.is_empty();
        for index in 0..count {
            self.queue.push_back(QueuedFragment {
                packet: DataPacket {
                    frame_number,
                    fragment_index: index,
                    fragment_count: count,
                    source_state,
                    target_state,
                    grace_micros: 0,
                    payload: chunks.next().unwrap_or_default().to_vec(),
                },
                after_idle: after_idle && index == 0,
            });
        }
        Ok(frame_number)
    }

    /// Bytes of frame data that can be committed now without exceeding the target delay:
    /// `payload_size * max(0, floor(target_delay / tau) - packets_committed)`, where committed
    /// packets are those in flight plus those still waiting for the pacer. Zero while feedback is
    /// stale (ACKs stopped with packets in flight).
    pub fn budget(&self, now: Timestamp) -> usize {
        if self.is_feedback_stale(now) {
            return 0;
        }
        budget_bytes(
            self.payload_size,
            self.target_delay,
            self.tau.max(MIN_TAU),
            self.flight.in_flight() + self.queue.len(),
        )
    }

    /// Whether ACKs have stopped while packets are in flight (the budget is then zero).
    pub fn is_feedback_stale(&self, now: Timestamp) -> bool {
        self.flight.is_stale(now, self.tau)
    }

    /// The receiver's smoothed inter-arrival time, from the freshest ACK (or the initial guess).
    pub fn tau(&self) -> Duration {
        self.tau
    }

    /// The path's rate as the estimator sees it: one full fragment payload per tau, in bits per
    /// second (what a conventional rate-controlled encoder would be given as its target).
    pub fn estimated_rate_bits_per_second(&self) -> u64 {
        let tau = self.tau.max(MIN_TAU).as_secs_f64();
        (self.payload_size as f64 * 8.0 / tau) as u64
    }

    /// The freshest receiver report, if any ACK arrived.
    pub fn feedback(&self) -> Option<&Feedback> {
        self.feedback.as_ref()
    }

    /// Data packets sent and neither acknowledged nor presumed lost.
    pub fn packets_in_flight(&self) -> usize {
        self.flight.in_flight()
    }

    /// Fragments waiting for the pacer.
    pub fn queued_packets(&self) -> usize {
        self.queue.len()
    }

    /// Data packets presumed lost so far.
    pub fn packets_presumed_lost(&self) -> u64 {
        self.flight.lost_total()
    }

    /// Probes sent so far to revive stale feedback.
    pub fn probes_sent(&self) -> u64 {
        self.probes_sent
    }

    /// Smoothed round-trip time from ACKs, once known.
    pub fn smoothed_rtt(&self) -> Option<Duration> {
        self.flight.smoothed_rtt()
    }

    /// The payload size fragments are cut to.
    pub fn payload_size(&self) -> usize {
        self.payload_size
    }

    /// Applies an ACK that arrived in the datagram with sequence `ack_sequence`.
    pub(crate) fn on_ack(&mut self, ack_sequence: u64, now: Timestamp, ack: AckPacket) {
        self.flight.on_ack(ack.acked_sequence, now);
        if self
            .newest_ack_sequence
            .is_some_and(|newest| ack_sequence <= newest)
        {
            // A reordered older ACK: its acknowledgement counts, its estimate is outdated.
            return;
        }
        self.newest_ack_sequence = Some(ack_sequence);
        self.tau = Duration::from_micros(u64::from(ack.tau_micros));
        self.feedback = Some(Feedback {
            tau: self.tau,
            receiver_state: ack.current_state,
            complete_states: ack.complete_states,
            received_at: now,
        });
    }

    /// The next packet to send at `now`, which will carry `sequence`: a probe if feedback is
    /// stale and one is due, else a fragment if the pacer allows.
    pub(crate) fn poll_transmit(&mut self, now: Timestamp, sequence: u64) -> Option<Packet> {
        if self.is_feedback_stale(now) {
            if self.next_probe_at.is_none_or(|at| now >= at) {
                self.next_probe_at = Some(now + PROBE_INTERVAL);
                self.flight.on_sent(sequence, now, false);
                self.probes_sent += 1;
                return Some(Packet::Probe);
            }
        } else {
            self.next_probe_at = None;
        }
        if self.queue.is_empty() || !self.pacer.can_send(now) {
            return None;
        }
        let QueuedFragment {
            mut packet,
            after_idle,
        } = self.queue.pop_front().expect("queue is not empty");
        if after_idle {
            let idle = self
                .last_data_sent_at
                .map_or(Duration::ZERO, |last| now.saturating_duration_since(last));
            packet.grace_micros = duration_to_micros_u32(idle);
        }
        self.last_data_sent_at = Some(now);
        self.pacer.on_sent(now, self.tau);
        self.flight.on_sent(sequence, now, true);
        Some(Packet::Data(packet))
    }

    /// When the sender next has something to do on its own.
    pub(crate) fn poll_timeout(&self) -> Option<Timestamp> {
        let pacing = (!self.queue.is_empty()).then(|| self.pacer.next_send());
        let probing = self.flight.stale_at(self.tau).map(|stale_at| {
            self.next_probe_at
                .map_or(stale_at, |probe_at| probe_at.max(stale_at))
        });
        match (pacing, probing) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(micros: u64) -> Timestamp {
        Timestamp::from_micros(micros)
    }

    fn data(packet: Option<Packet>) -> DataPacket {
        match packet {
            Some(Packet::Data(data)) => data,
            other => panic!("expected a data packet, got {other:?}"),
        }
    }

    #[test]
    fn fragments_are_paced_and_grace_marks_only_idle_time() {
        // tau 5 ms: fragments 1 ms apart.
        let mut sender = Sender::new(100, Duration::from_millis(100), Duration::from_millis(5));
        assert_eq!(sender.send_frame(&[1; 250], 7, 8), Ok(0));
        let first = data(sender.poll_transmit(at(0), 0));
        assert_eq!((first.fragment_index, first.fragment_count), (0, 3));
        assert_eq!(first.grace_micros, 0, "nothing was sent before");
        assert!(sender.poll_transmit(at(999), 1).is_none(), "paced");
        assert_eq!(sender.poll_timeout(), Some(at(1000)));
        let second = data(sender.poll_transmit(at(1000), 1));
        assert_eq!(second.payload.len(), 100);
        // A frame queued behind the unfinished one follows without a grace period.
        assert_eq!(sender.send_frame(&[2; 10], 8, 9), Ok(1));
        let third = data(sender.poll_transmit(at(2000), 2));
        assert_eq!((third.fragment_index, third.payload.len()), (2, 50));
        let behind = data(sender.poll_transmit(at(3000), 3));
        assert_eq!((behind.frame_number, behind.grace_micros), (1, 0));
        // After idling 40 ms, the next frame's first fragment says so.
        sender.send_frame(&[3; 10], 9, 10).unwrap();
        let after_idle = data(sender.poll_transmit(at(43_000), 4));
        assert_eq!(
            (after_idle.frame_number, after_idle.grace_micros),
            (2, 40_000)
        );
        assert_eq!(sender.packets_in_flight(), 5);
        // 100 ms / 5 ms = 20 packets, 5 in flight.
        assert_eq!(sender.budget(at(43_000)), 15 * 100);
    }

    #[test]
    fn only_the_freshest_ack_sets_tau_and_feedback() {
        let mut sender = Sender::new(100, Duration::from_millis(100), Duration::from_millis(5));
        sender.send_frame(&[1; 200], 1, 2).unwrap();
        sender.poll_transmit(at(0), 0).unwrap();
        sender.poll_transmit(at(1000), 1).unwrap();
        let ack = |acked_sequence, tau_micros, state| AckPacket {
            acked_sequence,
            tau_micros,
            current_state: state,
            complete_states: vec![state],
        };
        sender.on_ack(11, at(40_000), ack(1, 2000, 2));
        // An older ACK arriving late still acknowledges its packet but changes no estimate.
        sender.on_ack(10, at(41_000), ack(0, 9000, 1));
        assert_eq!(sender.packets_in_flight(), 0);
        assert_eq!(sender.tau(), Duration::from_millis(2));
        let feedback = sender.feedback().unwrap();
        assert_eq!(
            (feedback.receiver_state, feedback.received_at),
            (2, at(40_000))
        );
        assert_eq!(sender.budget(at(41_000)), 50 * 100);
        assert_eq!(sender.estimated_rate_bits_per_second(), 400_000);
        // A receiver reporting tau near zero does not make the budget unbounded.
        sender.on_ack(12, at(42_000), ack(5, 0, 2));
        assert_eq!(sender.budget(at(42_000)), 1000 * 100);
    }
}
