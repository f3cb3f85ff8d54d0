//! The salsify transport: wire protocol, estimator, pacer and call security as pure state machines.

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
