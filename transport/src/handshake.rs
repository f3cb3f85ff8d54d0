//! The call handshake: SPAKE2 on the call code, then key confirmation, over lossy UDP.
//!
//! Each side sends a hello (its SPAKE2 message) and, once it has the peer's hello, a confirmation
//! MAC over the transcript. Both are resent on a backing-off timer until the peer's confirmation
//! (or any authentic sealed packet, which proves the same) arrives. A side that has the peer's
//! confirmation answers each resent hello with its own confirmation (the only thing the peer can
//! still lack), and nothing answers a confirmation, so no exchange can loop. A confirmation that
//! does not verify means the two sides typed different codes: the handshake fails with
//! [`HandshakeError::WrongCode`] on both sides, because the failed side still answers the peer's
//! resent hello with its own (equally wrong) confirmation.
//!
//! Security: the hello messages are SPAKE2 messages, which reveal nothing that lets an
//! eavesdropper test candidate codes offline; an active attacker gets one guess per handshake.
//! The first valid hello is the one answered, so an attacker who races the peer's hello can make
//! the call fail (as anyone able to drop packets can), but not join it without the code.

use std::collections::VecDeque;
use std::time::Duration;

use curve25519_dalek::edwards::CompressedEdwardsY;
use rand_core::{CryptoRng, RngCore};
use spake2::{Ed25519Group, Identity, Password, Spake2};
use thiserror::Error;

use crate::code::CallCode;
use crate::crypto::SessionKeys;
use crate::time::Timestamp;
use crate::wire::{encode_confirm, encode_hello, CONFIRM_MAC_LEN, PAKE_MESSAGE_LEN};

const PAKE_IDENTITY: &[u8] = b"salsify call v1";
/// SPAKE2's side byte for the symmetric mode ('S').
const SYMMETRIC_SIDE: u8 = 0x53;
const FIRST_RETRANSMIT: Duration = Duration::from_millis(100);
const MAX_RETRANSMIT: Duration = Duration::from_secs(1);
/// Most handshake datagrams waiting to be sent.
const MAX_QUEUED_ANSWERS: usize = 4;

/// Why a handshake failed. Terminal: the connection cannot be used afterwards.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakeError {
    /// The peer's key confirmation did not verify: the two sides used different call codes.
    #[error("the call codes do not match")]
    WrongCode,
    /// No confirmed handshake before the configured timeout.
    #[error("no answer from the peer within {0:?}")]
    TimedOut(Duration),
}

/// A handshake packet that was not used (the handshake itself carries on).
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum HandshakePacketError {
    /// The hello carries our own SPAKE2 message: a reflection.
    #[error("received our own hello back")]
    Reflected,
    /// A hello from someone other than the peer already answered.
    #[error("a second, different hello after the handshake chose its peer")]
    UnexpectedHello,
    /// The hello is not a valid symmetric SPAKE2 message.
    #[error("the hello is not a valid SPAKE2 message")]
    InvalidHello,
    /// A confirmation arrived before the peer's hello, so it cannot be checked yet.
    #[error("a key confirmation arrived before the peer's hello")]
    ConfirmBeforeHello,
}

/// The handshake state machine of one side.
pub(crate) struct Handshake {
    pake: Option<Spake2<Ed25519Group>>,
    my_hello: [u8; PAKE_MESSAGE_LEN],
    peer_hello: Option<[u8; PAKE_MESSAGE_LEN]>,
    keys: Option<SessionKeys>,
    peer_confirmed: bool,
    failure: Option<HandshakeError>,
    outgoing: VecDeque<Vec<u8>>,
    next_retransmit: Timestamp,
    retransmit_interval: Duration,
    deadline: Timestamp,
    timeout: Duration,
}

impl Handshake {
    /// Starts a handshake and queues the first hello.
    pub fn new<R: RngCore + CryptoRng>(
        code: &CallCode,
        now: Timestamp,
        timeout: Duration,
        rng: &mut R,
    ) -> Self {
        let (pake, hello) = Spake2::<Ed25519Group>::start_symmetric_with_rng(
            &Password::new(code.as_password()),
            &Identity::new(PAKE_IDENTITY),
            rng,
        );
        let my_hello: [u8; PAKE_MESSAGE_LEN] = hello
            .as_slice()
            .try_into()
            .expect("an Ed25519 SPAKE2 message is 33 bytes");
        let mut outgoing = VecDeque::new();
        outgoing.push_back(encode_hello(&my_hello));
        Handshake {
            pake: Some(pake),
            my_hello,
            peer_hello: None,
            keys: None,
            peer_confirmed: false,
            failure: None,
            outgoing,
            next_retransmit: now + FIRST_RETRANSMIT,
            retransmit_interval: FIRST_RETRANSMIT,
            deadline: now + timeout,
            timeout,
        }
    }

    /// Session keys, once the peer's hello has been processed (confirmed or not).
    pub fn keys(&self) -> Option<&SessionKeys> {
        self.keys.as_ref()
    }

    /// Whether both sides are known to hold the same keys.
    pub fn is_complete(&self) -> bool {
        self.keys.is_some() && self.peer_confirmed && self.failure.is_none()
    }

    /// The terminal error, if the handshake failed.
    pub fn failure(&self) -> Option<&HandshakeError> {
        self.failure.as_ref()
    }

    /// Records that an authentic sealed packet arrived: the peer holds our keys.
    pub fn confirm_by_traffic(&mut self) {
        if self.keys.is_some() && self.failure.is_none() {
            self.peer_confirmed = true;
        }
    }

    fn queue_hello_and_confirmation(&mut self) {
        self.outgoing.push_back(encode_hello(&self.my_hello));
        if let Some(keys) = &self.keys {
            self.outgoing
                .push_back(encode_confirm(&keys.my_confirmation));
        }
    }

    /// Handles the peer's hello.
    pub fn handle_hello(
        &mut self,
        now: Timestamp,
        hello: &[u8; PAKE_MESSAGE_LEN],
    ) -> Result<(), HandshakePacketError> {
        if *hello == self.my_hello {
            return Err(HandshakePacketError::Reflected);
        }
        if let Some(peer_hello) = &self.peer_hello {
            if peer_hello != hello {
                return Err(HandshakePacketError::UnexpectedHello);
            }
            // A repeated hello. If the peer's confirmation reached us (we are complete, or failed
            // on it), the peer holds our hello and lacks only our confirmation: answer with that
            // alone. Confirmations never draw answers, so two sides cannot ping-pong. Otherwise
            // our own resend timer is already at work.
            let peer_has_our_hello =
                self.peer_confirmed || self.failure == Some(HandshakeError::WrongCode);
            // The queue is bounded in case the driver does not drain it between inputs.
            if let (true, Some(keys), true) = (
                peer_has_our_hello,
                &self.keys,
                self.outgoing.len() < MAX_QUEUED_ANSWERS,
            ) {
                self.outgoing
                    .push_back(encode_confirm(&keys.my_confirmation));
            }
            return Ok(());
        }
        if self.failure.is_some() {
            return Ok(());
        }
        if hello[0] != SYMMETRIC_SIDE {
            return Err(HandshakePacketError::InvalidHello);
        }
        let point: [u8; 32] = hello[1..].try_into().expect("33-byte message");
        if CompressedEdwardsY(point).decompress().is_none() {
            return Err(HandshakePacketError::InvalidHello);
        }
        let Some(pake) = self.pake.take() else {
            return Err(HandshakePacketError::UnexpectedHello);
        };
        // Side byte, length and point were checked above, so finishing cannot fail.
        let pake_key = pake
            .finish(hello)
            .map_err(|_| HandshakePacketError::InvalidHello)?;
        self.keys = Some(SessionKeys::derive(&pake_key, &self.my_hello, hello));
        self.peer_hello = Some(*hello);
        self.outgoing.clear();
        self.queue_hello_and_confirmation();
        self.retransmit_interval = FIRST_RETRANSMIT;
        self.next_retransmit = now + FIRST_RETRANSMIT;
        Ok(())
    }

    /// Handles the peer's key confirmation. A MAC that does not verify fails the handshake.
    pub fn handle_confirm(&mut self, mac: &[u8; CONFIRM_MAC_LEN]) -> Result<(), HandshakeOutcome> {
        let Some(keys) = &self.keys else {
            return Err(HandshakeOutcome::Ignored(
                HandshakePacketError::ConfirmBeforeHello,
            ));
        };
        if self.failure.is_some() || self.peer_confirmed {
            return Ok(());
        }
        if keys.verify_peer_confirmation(mac) {
            self.peer_confirmed = true;
            Ok(())
        } else {
            self.failure = Some(HandshakeError::WrongCode);
            Err(HandshakeOutcome::Failed(HandshakeError::WrongCode))
        }
    }

    /// The next handshake datagram to send.
    pub fn poll_transmit(&mut self) -> Option<Vec<u8>> {
        self.outgoing.pop_front()
    }

    /// When [`Handshake::handle_timeout`] next has work.
    pub fn poll_timeout(&self) -> Option<Timestamp> {
        if self.failure.is_some() || self.is_complete() {
            None
        } else {
            Some(self.next_retransmit.min(self.deadline))
        }
    }

    /// Resends on the timer and gives up at the deadline.
    pub fn handle_timeout(&mut self, now: Timestamp) -> Option<HandshakeError> {
        if self.failure.is_some() || self.is_complete() {
            return None;
        }
        if now >= self.deadline {
            let error = HandshakeError::TimedOut(self.timeout);
            self.failure = Some(error.clone());
            self.outgoing.clear();
            return Some(error);
        }
        if now >= self.next_retransmit {
            self.outgoing.clear();
            self.queue_hello_and_confirmation();
            self.retransmit_interval = (self.retransmit_interval * 2).min(MAX_RETRANSMIT);
            self.next_retransmit = now + self.retransmit_interval;
        }
        None
    }
}

/// What became of a confirmation that was not accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeOutcome {
    /// Dropped; the handshake carries on.
    Ignored(HandshakePacketError),
    /// The handshake failed for good.
    Failed(HandshakeError),
}
