//! The salsify transport: wire protocol, estimator, pacer and call security as pure state machines.
//!
//! Nothing here reads a clock, opens a socket or spawns a thread. A driver (real-time or
//! simulated) owns the socket and the clock and moves bytes and time in and out of a
//! [`Connection`]:
//!
//! - [`Connection::handle_input`]`(now, datagram)` for every datagram received;
//! - [`Connection::poll_transmit`]`(now)` until it returns `None`, after every input, timeout or
//!   frame queued, sending what it returns;
//! - [`Connection::poll_timeout`] for the next deadline, and [`Connection::handle_timeout`]`(now)`
//!   when it passes.
//!
//! Time is a [`Timestamp`] in microseconds since an epoch the driver picks.
//!
//! A call starts from a [`CallCode`] (like `7-apple-tiger`). The handshake runs SPAKE2 on it,
//! derives per-direction keys with HKDF-SHA256 and confirms them; then every packet is sealed with
//! ChaCha20-Poly1305 (nonce = sequence number) and checked against a [`REPLAY_WINDOW`]-packet
//! replay window. Datagrams that fail authentication are counted and dropped before any parsing.
//! Someone who watches the handshake cannot test codes offline (that is what the PAKE gives); an
//! active attacker gets one guess per handshake. Two sides with different codes both fail with
//! [`HandshakeError::WrongCode`].
//!
//! The [`Sender`] takes encoded frames with their source and target decoder states, fragments and
//! paces them ([`pacer`]), and answers [`Sender::budget`] from the receiver's feedback
//! ([`estimator`]). The [`Receiver`] reassembles frames ([`reassembly`]), measures the smoothed
//! inter-arrival time tau, and acknowledges every packet with tau, the decoder state reported by
//! [`Receiver::report_state`] and the newest complete states.
//!
//! ```
//! use rand_core::OsRng;
//! use transport::{CallCode, Config, Connection, ConnectionState, Timestamp};
//!
//! let code = CallCode::generate(&mut OsRng);
//! let now = Timestamp::ZERO;
//! let mut alice = Connection::new(&code, Config::default(), now, &mut OsRng).unwrap();
//! let typed: CallCode = code.to_string().parse().unwrap();
//! let mut bob = Connection::new(&typed, Config::default(), now, &mut OsRng).unwrap();
//! // A perfect, instant network: shuttle datagrams until both sides are quiet.
//! fn shuttle(now: Timestamp, a: &mut Connection, b: &mut Connection) {
//!     loop {
//!         let mut moved = false;
//!         while let Some(datagram) = a.poll_transmit(now) {
//!             let _ = b.handle_input(now, &datagram);
//!             moved = true;
//!         }
//!         while let Some(datagram) = b.poll_transmit(now) {
//!             let _ = a.handle_input(now, &datagram);
//!             moved = true;
//!         }
//!         if !moved {
//!             break;
//!         }
//!     }
//! }
//! shuttle(now, &mut alice, &mut bob);
//! assert_eq!(alice.state(), ConnectionState::Established);
//! assert_eq!(bob.state(), ConnectionState::Established);
//!
//! let budget = alice.sender().budget(now);
//! assert!(budget > 0);
//! alice.sender().send_frame(b"an encoded frame", 41, 42).unwrap();
//! shuttle(now, &mut alice, &mut bob);
//! let frame = bob.receiver().poll_frame().unwrap();
//! assert_eq!((frame.source_state, frame.target_state), (41, 42));
//! bob.receiver().report_state(frame.target_state, &[frame.target_state]);
//! ```
//!
//! # Wire format (version 1)
//!
//! All integers are big-endian. Every datagram starts with a version byte (1) and a kind byte.
//! Datagrams are at most [`wire::MAX_DATAGRAM`] = 1452 bytes, so they fit a 1500-byte path
//! after IPv6 (40) and UDP (8) headers.
//!
//! Hello (kind 1), in the clear, 35 bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | version = 1 |
//! | 1 | 1 | kind = 1 |
//! | 2 | 33 | SPAKE2 (Ed25519, symmetric) message |
//!
//! Confirm (kind 2), in the clear, 34 bytes:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | version = 1 |
//! | 1 | 1 | kind = 2 |
//! | 2 | 32 | HMAC-SHA256 of the transcript under the sender's confirmation key |
//!
//! Sealed (kind 3): an 18-byte clear header, the ChaCha20-Poly1305 ciphertext of one packet, and
//! the 16-byte tag. The header is the AEAD's additional data; the nonce is 4 zero bytes followed
//! by the sequence number.
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | version = 1 |
//! | 1 | 1 | kind = 3 |
//! | 2 | 8 | connection id (from the session key) |
//! | 10 | 8 | packet sequence number (per direction, from 0) |
//! | 18 | n | ciphertext of the packet |
//! | 18 + n | 16 | authentication tag |
//!
//! Packets (the plaintext), first byte the packet type:
//!
//! Data (type 1), one fragment of a video frame, 29 bytes + payload:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | type = 1 |
//! | 1 | 4 | frame number |
//! | 5 | 2 | fragment index (< fragment count) |
//! | 7 | 2 | fragment count (1..=1024) |
//! | 9 | 8 | source state id |
//! | 17 | 8 | target state id |
//! | 25 | 4 | grace period, µs: sender idle time before a frame's first fragment, else 0 |
//! | 29 | 0..=1389 | payload (up to the configured payload size) |
//!
//! Ack (type 2), 22 bytes + 8 per state:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | type = 2 |
//! | 1 | 8 | acknowledged packet sequence number |
//! | 9 | 4 | receiver's tau, µs |
//! | 13 | 8 | receiver's current state id |
//! | 21 | 1 | count n of complete states (0..=8) |
//! | 22 | 8 n | newest complete state ids, newest first |
//!
//! Audio (type 3), 13 bytes + payload:
//!
//! | offset | size | field |
//! |-------:|-----:|-------|
//! | 0 | 1 | type = 3 |
//! | 1 | 4 | audio sequence number |
//! | 5 | 8 | capture timestamp, µs on the sender's media clock |
//! | 13 | 0..=1405 | encoded audio |
//!
//! Probe (type 4), 1 byte: the type alone; sent when feedback has stopped, to draw an ACK.
//!
//! Any other value, a length that does not match, or a field out of range is a [`WireError`].

pub mod code;
mod connection;
mod crypto;
pub mod estimator;
mod handshake;
pub mod pacer;
pub mod reassembly;
mod receiver;
mod sender;
pub mod time;
pub mod wire;

pub use code::{CallCode, CallCodeError};
pub use connection::{
    Config, ConfigError, Connection, ConnectionState, ConnectionStats, InputError,
    MAX_PENDING_AUDIO,
};
pub use crypto::REPLAY_WINDOW;
pub use estimator::GracePolicy;
pub use handshake::{HandshakeError, HandshakePacketError};
pub use reassembly::{InconsistentFragment, ReceivedFrame};
pub use receiver::{Receiver, MAX_PENDING_ACKS, MAX_PENDING_FRAMES};
pub use sender::{Feedback, SendError, Sender, MAX_QUEUED_PACKETS, MIN_TAU};
pub use time::Timestamp;
pub use wire::{AudioPacket, WireError};
