//! The receiving side of a call: estimates tau, reassembles frames and produces ACKs.

use std::collections::VecDeque;
use std::time::Duration;

use crate::estimator::{GracePolicy, InterArrivalEstimator};
use crate::reassembly::{FragmentOutcome, InconsistentFragment, Reassembler, ReceivedFrame};
use crate::time::{duration_to_micros_u32, Timestamp};
use crate::wire::{AckPacket, DataPacket, MAX_ACK_STATES};

/// Complete frames kept for the application before the oldest is dropped.
pub const MAX_PENDING_FRAMES: usize = 64;
/// ACKs kept waiting to be sent before the oldest is dropped.
pub const MAX_PENDING_ACKS: usize = 1024;

/// The receiving side of a [`crate::Connection`].
#[derive(Debug)]
pub struct Receiver {
    estimator: InterArrivalEstimator,
    reassembler: Reassembler,
    current_state: u64,
    complete_states: Vec<u64>,
    frames: VecDeque<ReceivedFrame>,
    acks: VecDeque<AckPacket>,
    duplicate_fragments: u64,
    stale_fragments: u64,
    frames_completed: u64,
    frames_dropped_unread: u64,
    newest_sequence: Option<u64>,
}

impl Receiver {
    pub(crate) fn new(initial_tau: Duration, grace_policy: GracePolicy) -> Self {
        Receiver {
            estimator: InterArrivalEstimator::new(initial_tau, grace_policy),
            reassembler: Reassembler::new(),
            current_state: 0,
            complete_states: Vec::new(),
            frames: VecDeque::new(),
            acks: VecDeque::new(),
            duplicate_fragments: 0,
            stale_fragments: 0,
            frames_completed: 0,
            frames_dropped_unread: 0,
            newest_sequence: None,
        }
    }

    /// The next complete frame, in frame-number order.
    pub fn poll_frame(&mut self) -> Option<ReceivedFrame> {
        self.frames.pop_front()
    }

    /// Tells the transport the decoder's state, for the ACKs: the state it is in now and the
    /// states it holds complete, newest first (only the first [`MAX_ACK_STATES`] are sent).
    pub fn report_state(&mut self, current_state: u64, complete_states: &[u64]) {
        self.current_state = current_state;
        self.complete_states.clear();
        self.complete_states
            .extend(complete_states.iter().take(MAX_ACK_STATES));
    }

    /// The smoothed inter-arrival time this side measures and reports.
    pub fn tau(&self) -> Duration {
        self.estimator.tau()
    }

    /// Frames completed so far.
    pub fn frames_completed(&self) -> u64 {
        self.frames_completed
    }

    /// Incomplete frames given up because a later frame arrived.
    pub fn frames_abandoned(&self) -> u64 {
        self.reassembler.abandoned_frames()
    }

    /// Complete frames dropped because the application did not collect them in time.
    pub fn frames_dropped_unread(&self) -> u64 {
        self.frames_dropped_unread
    }

    /// Fragments received twice.
    pub fn duplicate_fragments(&self) -> u64 {
        self.duplicate_fragments
    }

    /// Fragments of frames already completed or given up.
    pub fn stale_fragments(&self) -> u64 {
        self.stale_fragments
    }

    fn acknowledge(&mut self, sequence: u64) {
        if self.acks.len() >= MAX_PENDING_ACKS {
            self.acks.pop_front();
        }
        self.acks.push_back(AckPacket {
            acked_sequence: sequence,
            tau_micros: duration_to_micros_u32(self.estimator.tau()),
            current_state: self.current_state,
            complete_states: self.complete_states.clone(),
        });
    }

    /// Handles an authenticated data packet with sequence number `sequence`.
    pub(crate) fn on_data(
        &mut self,
        now: Timestamp,
        sequence: u64,
        packet: DataPacket,
    ) -> Result<(), InconsistentFragment> {
        if self.follows_previous(sequence) {
            self.estimator
                .on_packet(now, Duration::from_micros(u64::from(packet.grace_micros)));
        } else {
            self.estimator.on_packet_after_hole(now);
        }
        self.acknowledge(sequence);
        match self.reassembler.insert(packet)? {
            FragmentOutcome::Stored => {}
            FragmentOutcome::Duplicate => self.duplicate_fragments += 1,
            FragmentOutcome::Stale => self.stale_fragments += 1,
            FragmentOutcome::Completed(frame) => {
                self.frames_completed += 1;
                if self.frames.len() >= MAX_PENDING_FRAMES {
                    self.frames.pop_front();
                    self.frames_dropped_unread += 1;
                }
                self.frames.push_back(frame);
            }
        }
        Ok(())
    }

    /// Handles an authenticated probe: acknowledged, but not an inter-arrival sample (it is not
    /// part of a paced train).
    pub(crate) fn on_probe(&mut self, sequence: u64) {
        self.follows_previous(sequence);
        self.acknowledge(sequence);
    }

    /// Records an authenticated packet of any type from the peer; true if it is the direct
    /// successor of the newest one seen before (no hole in the sequence just before it).
    pub(crate) fn follows_previous(&mut self, sequence: u64) -> bool {
        let follows = self
            .newest_sequence
            .is_some_and(|newest| newest.checked_add(1) == Some(sequence));
        self.newest_sequence = Some(self.newest_sequence.map_or(sequence, |n| n.max(sequence)));
        follows
    }

    pub(crate) fn poll_ack(&mut self) -> Option<AckPacket> {
        self.acks.pop_front()
    }
}
