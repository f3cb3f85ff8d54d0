//! A functional VP8 codec: the decoder's whole state is an explicit, immutable value.
//!
//! [`decode`] is a pure function from a [`DecoderState`] and a compressed frame to the next
//! state and the picture to show. Decoding is split in two stages that the encoder reuses:
//! parsing ([`header`], [`modes`], [`tokens`]) produces plain data ([`FrameHeader`],
//! [`MacroblockInfo`], [`MacroblockCoefficients`]); reconstruction ([`reconstruct`], built on
//! [`intra`], [`inter`], [`transform`], [`loop_filter`]) turns it into the next state.
//! Containers: [`ivf`] and [`y4m`].

pub mod bool_decoder;
pub mod decoder;
pub mod dequant;
pub mod encoder;
pub mod error;
pub mod hash;
pub mod header;
pub mod inter;
pub mod intra;
pub mod ivf;
pub mod loop_filter;
pub mod modes;
pub mod picture;
pub mod reconstruct;
pub mod simd;
pub mod state;
pub mod tables;
#[cfg(test)]
mod test_random;
pub mod tokens;
pub mod transform;
pub mod y4m;

pub use decoder::{decode, parse, reconstruct_frame, FrameSyntax};
pub use error::DecodeError;
pub use header::{FrameHeader, MAX_FRAME_PIXELS};
pub use modes::{MacroblockInfo, MacroblockMode, MotionVector, SubblockMode};
pub use picture::{Picture, Plane};
pub use reconstruct::FrameReconstructor;
pub use state::{DecoderState, ReferenceKind, StateId};
pub use tokens::MacroblockCoefficients;
