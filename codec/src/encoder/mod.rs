//! The VP8 encoder: turns a picture into a frame that moves a decoder state forward.

pub mod entropy;
pub mod motion;
pub mod quantize;
pub mod transform;
