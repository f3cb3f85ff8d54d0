//! A functional VP8 codec: the decoder's whole state is an explicit, immutable value.
pub mod encoder;
