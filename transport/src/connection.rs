//! A call's connection: the handshake, the crypto, and the sender and receiver over them.

use std::collections::VecDeque;
use std::time::Duration;

use rand_core::{CryptoRng, RngCore};
use thiserror::Error;

use crate::code::CallCode;
use crate::crypto::{open, seal, ReplayVerdict, ReplayWindow};
use crate::estimator::GracePolicy;
use crate::handshake::{Handshake, HandshakeError, HandshakeOutcome, HandshakePacketError};
use crate::reassembly::InconsistentFragment;
use crate::receiver::Receiver;
use crate::sender::{SendError, Sender};
use crate::time::Timestamp;
use crate::wire::{
    encode_sealed_header, AudioPacket, Datagram, Packet, WireError, MAX_AUDIO_PAYLOAD,
    MAX_DATA_PAYLOAD,
};

/// Audio packets kept waiting (to send, or for the application) before the oldest is dropped.
pub const MAX_PENDING_AUDIO: usize = 64;

/// Settings of one connection. Both sides should use the same ones.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Config {
    /// Fragment payload size, 1..=[`MAX_DATA_PAYLOAD`] (the default, the most that fits a
    /// 1500-byte path).
    pub payload_size: usize,
    /// Delay the budget aims to keep the path's queue under (Salsify: 100 ms).
    pub target_delay: Duration,
    /// Tau assumed before the first ACK (10 ms: about 1.1 Mbit/s of full packets).
    pub initial_tau: Duration,
    /// How the receiver's estimator uses the sender's grace periods (changed only to compare
    /// with the paper's rule or to measure what the grace period is worth).
    pub grace_policy: GracePolicy,
    /// How long the handshake may take before it fails (the peer may still be typing the code).
    pub handshake_timeout: Duration,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            payload_size: MAX_DATA_PAYLOAD,
            target_delay: Duration::from_millis(100),
            initial_tau: Duration::from_millis(10),
            grace_policy: GracePolicy::SubtractOrSkip,
            handshake_timeout: Duration::from_secs(60),
        }
    }
}

/// A setting out of range.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum ConfigError {
    /// `payload_size` is zero or above [`MAX_DATA_PAYLOAD`].
    #[error("payload size {0} is outside 1..={MAX_DATA_PAYLOAD}")]
    PayloadSize(usize),
    /// `target_delay` or `initial_tau` is zero.
    #[error("target delay and initial tau must be above zero")]
    ZeroDuration,
}

/// Where a connection stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConnectionState {
    /// Waiting for the peer's hello or key confirmation.
    Handshaking,
    /// Both sides hold the same keys; media flows.
    Established,
    /// The handshake failed; nothing more will be sent or accepted.
    Failed(HandshakeError),
}

/// Why a received datagram was dropped. The connection is unharmed unless the error is
/// [`InputError::Handshake`].
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum InputError {
    /// Malformed framing, or a malformed packet inside an authentic datagram.
    #[error("malformed datagram: {0}")]
    Malformed(#[from] WireError),
    /// A handshake packet that was not used.
    #[error("handshake packet dropped: {0}")]
    HandshakePacket(#[from] HandshakePacketError),
    /// The handshake failed because of this datagram (terminal).
    #[error("handshake failed: {0}")]
    Handshake(HandshakeError),
    /// The connection has failed; datagrams are no longer processed.
    #[error("the connection has failed")]
    ConnectionFailed,
    /// A sealed datagram before this side has any keys.
    #[error("sealed datagram before the handshake produced keys")]
    NotEstablished,
    /// A sealed datagram for another connection id.
    #[error("sealed datagram for an unknown connection")]
    UnknownConnection,
    /// The AEAD tag did not verify: forged, corrupted, or sealed with other keys.
    #[error("datagram failed authentication")]
    AuthenticationFailed,
    /// A sequence number already accepted.
    #[error("replayed datagram (sequence {0})")]
    Replayed(u64),
    /// A sequence number older than the replay window.
    #[error("datagram too old for the replay window (sequence {0})")]
    TooOld(u64),
    /// A fragment contradicting earlier fragments of its frame.
    #[error(transparent)]
    InconsistentFragment(#[from] InconsistentFragment),
}

/// Counters of what a connection saw, for diagnostics and tests.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectionStats {
    /// Datagrams handed to `poll_transmit`'s caller.
    pub datagrams_sent: u64,
    /// Datagrams handed to `handle_input`.
    pub datagrams_received: u64,
    /// Sealed datagrams accepted (authentic and fresh).
    pub datagrams_accepted: u64,
    /// Sealed datagrams whose authentication failed.
    pub authentication_failures: u64,
    /// Sealed datagrams refused by the replay window.
    pub replays_rejected: u64,
    /// Datagrams with bad framing, or authentic datagrams holding a malformed packet.
    pub malformed: u64,
    /// Sealed datagrams with another connection id.
    pub unknown_connection: u64,
}

/// One side of a call: the handshake, then sealed media and feedback in both directions.
///
/// Sans-IO: hand received datagrams to [`Connection::handle_input`], send what
/// [`Connection::poll_transmit`] returns until it returns `None` (after every input, timeout and
/// frame queued), and call [`Connection::handle_timeout`] at [`Connection::poll_timeout`].
pub struct Connection {
    handshake: Handshake,
    replay: ReplayWindow,
    next_sequence: u64,
    sender: Sender,
    receiver: Receiver,
    audio_out: VecDeque<AudioPacket>,
    audio_in: VecDeque<AudioPacket>,
    next_audio_sequence: u32,
    stats: ConnectionStats,
}

impl std::fmt::Debug for Connection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Connection")
            .field("state", &self.state())
            .field("next_sequence", &self.next_sequence)
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl Connection {
    /// Starts a call with `code` at `now`; `rng` seeds the PAKE (an OS RNG in real calls).
    pub fn new<R: RngCore + CryptoRng>(
        code: &CallCode,
        config: Config,
        now: Timestamp,
        rng: &mut R,
    ) -> Result<Self, ConfigError> {
        if config.payload_size == 0 || config.payload_size > MAX_DATA_PAYLOAD {
            return Err(ConfigError::PayloadSize(config.payload_size));
        }
        if config.target_delay.is_zero() || config.initial_tau.is_zero() {
            return Err(ConfigError::ZeroDuration);
        }
        Ok(Connection {
            handshake: Handshake::new(code, now, config.handshake_timeout, rng),
            replay: ReplayWindow::new(),
            next_sequence: 0,
            sender: Sender::new(config.payload_size, config.target_delay, config.initial_tau),
            receiver: Receiver::new(config.initial_tau, config.grace_policy),
            audio_out: VecDeque::new(),
            audio_in: VecDeque::new(),
            next_audio_sequence: 0,
            stats: ConnectionStats::default(),
        })
    }

    /// Where the connection stands.
    pub fn state(&self) -> ConnectionState {
        if let Some(error) = self.handshake.failure() {
            ConnectionState::Failed(error.clone())
        } else if self.handshake.is_complete() {
            ConnectionState::Established
        } else {
            ConnectionState::Handshaking
        }
    }

    /// The sending side: queue frames, read the budget and the receiver's feedback.
    pub fn sender(&mut self) -> &mut Sender {
        &mut self.sender
    }

    /// The receiving side: collect frames, report the decoder's state.
    pub fn receiver(&mut self) -> &mut Receiver {
        &mut self.receiver
    }

    /// Counters of what this connection saw.
    pub fn stats(&self) -> &ConnectionStats {
        &self.stats
    }

    /// Queues an audio packet (sent ahead of paced video, outside the estimator).
    pub fn send_audio(&mut self, timestamp_micros: u64, payload: &[u8]) -> Result<(), SendError> {
        if payload.len() > MAX_AUDIO_PAYLOAD {
            return Err(SendError::AudioTooLarge {
                bytes: payload.len(),
            });
        }
        if self.audio_out.len() >= MAX_PENDING_AUDIO {
            self.audio_out.pop_front();
        }
        self.audio_out.push_back(AudioPacket {
            audio_sequence: self.next_audio_sequence,
            timestamp_micros,
            payload: payload.to_vec(),
        });
        self.next_audio_sequence = self.next_audio_sequence.wrapping_add(1);
        Ok(())
    }

    /// The next audio packet received, in arrival order.
    pub fn poll_audio(&mut self) -> Option<AudioPacket> {
        self.audio_in.pop_front()
    }

    /// Handles one received datagram. Errors say why it was dropped; only
    /// [`InputError::Handshake`] changes the connection (it fails).
    pub fn handle_input(&mut self, now: Timestamp, datagram: &[u8]) -> Result<(), InputError> {
        self.stats.datagrams_received += 1;
        let parsed = Datagram::parse(datagram).inspect_err(|_| self.stats.malformed += 1)?;
        match parsed {
            Datagram::Hello(hello) => Ok(self.handshake.handle_hello(now, hello)?),
            Datagram::Confirm(mac) => match self.handshake.handle_confirm(mac) {
                Ok(()) => Ok(()),
                Err(HandshakeOutcome::Ignored(error)) => Err(error.into()),
                Err(HandshakeOutcome::Failed(error)) => Err(InputError::Handshake(error)),
            },
            Datagram::Sealed {
                connection_id,
                sequence,
                header,
                ciphertext,
            } => {
                if self.handshake.failure().is_some() {
                    return Err(InputError::ConnectionFailed);
                }
                let Some(keys) = self.handshake.keys() else {
                    return Err(InputError::NotEstablished);
                };
                if connection_id != keys.connection_id {
                    self.stats.unknown_connection += 1;
                    return Err(InputError::UnknownConnection);
                }
                match self.replay.check(sequence) {
                    ReplayVerdict::Fresh => {}
                    ReplayVerdict::Duplicate => {
                        self.stats.replays_rejected += 1;
                        return Err(InputError::Replayed(sequence));
                    }
                    ReplayVerdict::TooOld => {
                        self.stats.replays_rejected += 1;
                        return Err(InputError::TooOld(sequence));
                    }
                }
                let Some(plaintext) = open(&keys.receive, header, sequence, ciphertext) else {
                    self.stats.authentication_failures += 1;
                    return Err(InputError::AuthenticationFailed);
                };
                self.replay.record(sequence);
                self.handshake.confirm_by_traffic();
                self.stats.datagrams_accepted += 1;
                let packet =
                    Packet::decode(&plaintext).inspect_err(|_| self.stats.malformed += 1)?;
                self.dispatch(now, sequence, packet)
            }
        }
    }

    fn dispatch(
        &mut self,
        now: Timestamp,
        sequence: u64,
        packet: Packet,
    ) -> Result<(), InputError> {
        match packet {
            Packet::Data(data) => self.receiver.on_data(now, sequence, data)?,
            Packet::Ack(ack) => {
                self.receiver.follows_previous(sequence);
                self.sender.on_ack(sequence, now, ack);
            }
            Packet::Probe => self.receiver.on_probe(sequence),
            Packet::Audio(audio) => {
                self.receiver.follows_previous(sequence);
                if self.audio_in.len() >= MAX_PENDING_AUDIO {
                    self.audio_in.pop_front();
                }
                self.audio_in.push_back(audio);
            }
        }
        Ok(())
    }

    /// The next datagram to send at `now`, if any: handshake packets, then ACKs, then audio,
    /// then paced video (or a probe when feedback is stale).
    pub fn poll_transmit(&mut self, now: Timestamp) -> Option<Vec<u8>> {
        if let Some(datagram) = self.handshake.poll_transmit() {
            self.stats.datagrams_sent += 1;
            return Some(datagram);
        }
        if !self.handshake.is_complete() {
            return None;
        }
        let packet = if let Some(ack) = self.receiver.poll_ack() {
            Packet::Ack(ack)
        } else if let Some(audio) = self.audio_out.pop_front() {
            Packet::Audio(audio)
        } else {
            self.sender.poll_transmit(now, self.next_sequence)?
        };
        self.seal_next(&packet.to_bytes())
    }

    fn seal_next(&mut self, plaintext: &[u8]) -> Option<Vec<u8>> {
        let keys = self.handshake.keys()?;
        let sequence = self.next_sequence;
        self.next_sequence += 1;
        let header = encode_sealed_header(keys.connection_id, sequence);
        self.stats.datagrams_sent += 1;
        Some(seal(&keys.send, &header, sequence, plaintext))
    }

    /// Seals arbitrary plaintext as this side's next packet: what a malicious peer holding the
    /// keys could send. Exists only to fuzz and test the receiving side's handling of authentic
    /// but hostile packets; `None` before the handshake produced keys.
    #[cfg(any(test, feature = "fuzzing"))]
    #[doc(hidden)]
    pub fn seal_raw_packet(&mut self, plaintext: &[u8]) -> Option<Vec<u8>> {
        self.seal_next(plaintext)
    }

    /// When [`Connection::handle_timeout`] (and then `poll_transmit`) next has work, if ever.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        let handshake = self.handshake.poll_timeout();
        let sender = if self.handshake.is_complete() {
            self.sender.poll_timeout()
        } else {
            None
        };
        match (handshake, sender) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// Advances timers: handshake resends and its deadline. Pacing and probes need no action
    /// here beyond calling `poll_transmit` afterwards.
    pub fn handle_timeout(&mut self, now: Timestamp) {
        self.handshake.handle_timeout(now);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::receiver::{MAX_PENDING_ACKS, MAX_PENDING_FRAMES};
    use proptest::prelude::*;
    use rand_chacha::rand_core::SeedableRng;
    use rand_chacha::ChaCha20Rng;

    fn established_pair() -> (Connection, Connection) {
        let mut rng = ChaCha20Rng::seed_from_u64(8);
        let code: CallCode = "3-apple-tiger".parse().unwrap();
        let now = Timestamp::ZERO;
        let mut a = Connection::new(&code, Config::default(), now, &mut rng).unwrap();
        let mut b = Connection::new(&code, Config::default(), now, &mut rng).unwrap();
        for _ in 0..4 {
            while let Some(datagram) = a.poll_transmit(now) {
                let _ = b.handle_input(now, &datagram);
            }
            while let Some(datagram) = b.poll_transmit(now) {
                let _ = a.handle_input(now, &datagram);
            }
        }
        assert_eq!(a.state(), ConnectionState::Established);
        assert_eq!(b.state(), ConnectionState::Established);
        (a, b)
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A peer that holds the keys but sends hostile packets: nothing panics, every queue
        /// stays bounded, and the connection keeps working for genuine traffic.
        #[test]
        fn authentic_hostile_packets_are_contained(
            packets in proptest::collection::vec(
                (0u8..6, proptest::collection::vec(any::<u8>(), 0..120), 0u64..50_000), 1..60)
        ) {
            let (mut a, mut b) = established_pair();
            let mut now = Timestamp::ZERO;
            let mut newest_hostile_frame = None;
            for (packet_type, mut body, advance) in packets {
                now = now + Duration::from_micros(advance);
                // Steer towards the real packet types, keep the rest arbitrary.
                body.insert(0, packet_type);
                if let Ok(Packet::Data(data)) = Packet::decode(&body) {
                    newest_hostile_frame = newest_hostile_frame.max(Some(data.frame_number));
                }
                let datagram = b.seal_raw_packet(&body).unwrap();
                let _ = a.handle_input(now, &datagram);
                let _ = a.sender().budget(now);
                a.handle_timeout(now);
                let mut sent = 0;
                while a.poll_transmit(now).is_some() {
                    sent += 1;
                    prop_assert!(sent <= MAX_PENDING_ACKS + MAX_PENDING_AUDIO + 4);
                }
            }
            let mut frames = 0;
            while a.receiver().poll_frame().is_some() {
                frames += 1;
            }
            prop_assert!(frames <= MAX_PENDING_FRAMES);
            let number = b.sender().send_frame(b"genuine", 1, 2).unwrap();
            now = now + Duration::from_secs(1);
            while let Some(datagram) = b.poll_transmit(now) {
                let result = a.handle_input(now, &datagram);
                // A hostile fragment of the same frame number may contradict the genuine one.
                prop_assert!(result.is_ok() || newest_hostile_frame.is_some());
            }
            let frame = a.receiver().poll_frame();
            if newest_hostile_frame.is_some_and(|newest| newest >= number) {
                // Frame numbers only move forward: a hostile peer can starve its own later frames.
                prop_assert!(frame.is_none());
            } else {
                prop_assert!(frame.is_some_and(|frame| frame.bytes == b"genuine"));
            }
        }
    }
}
