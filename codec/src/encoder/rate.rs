//! Rate control: the quantizer that fits a byte budget, and a feedback controller for a
//! bit rate.

use super::{encode, EncodeError, EncodeParams, EncodedFrame};
use crate::picture::Picture;
use crate::state::DecoderState;

/// Encodes with the finest quantizer whose frame fits in `budget_bytes` (a binary search over
/// quantizer indices; frame size falls as the index rises). When even index 127 does not fit,
/// returns the index-127 frame. `params` gives everything but the quantizer.
pub fn encode_to_size(
    state: &DecoderState,
    picture: &Picture,
    params: &EncodeParams,
    budget_bytes: usize,
) -> Result<EncodedFrame, EncodeError> {
    let attempt = |quantizer: u8| {
        encode(
            state,
            picture,
            &EncodeParams {
                quantizer,
                ..*params
            },
        )
    };
    let (mut low, mut high) = (0u8, 127u8);
    let mut best: Option<EncodedFrame> = None;
    // Invariant: every index below `low` is too large; `best` holds the finest fitting frame.
    while low <= high {
        let middle = low + (high - low) / 2;
        let frame = attempt(middle)?;
        if frame.bytes.len() <= budget_bytes {
            best = Some(frame);
            if middle == 0 {
                break;
            }
            high = middle - 1;
        } else {
            low = middle + 1;
        }
    }
    match best {
        Some(frame) => Ok(frame),
        None => attempt(127),
    }
}

/// A feedback controller that picks each frame's quantizer to hold a target bit rate.
///
/// It keeps the bytes sent beyond (or below) the per-frame target and moves the quantizer by
/// the logarithm of how far the last frame and the accumulated error are from the target.
#[derive(Debug, Clone)]
pub struct RateController {
    target_bytes_per_frame: f64,
    quantizer: f64,
    /// Bytes sent minus bytes allowed so far.
    excess_bytes: f64,
}

impl RateController {
    /// A controller for `bits_per_second` at `frames_per_second`, starting at `quantizer`.
    pub fn new(bits_per_second: f64, frames_per_second: f64, quantizer: u8) -> Self {
        RateController {
            target_bytes_per_frame: (bits_per_second / 8.0 / frames_per_second.max(0.001)).max(1.0),
            quantizer: f64::from(quantizer.min(127)),
            excess_bytes: 0.0,
        }
    }

    /// Target size of one frame in bytes.
    pub fn target_bytes_per_frame(&self) -> f64 {
        self.target_bytes_per_frame
    }

    /// The quantizer index for the next frame.
    pub fn quantizer(&self) -> u8 {
        self.quantizer.round().clamp(0.0, 127.0) as u8
    }

    /// Records the size of the frame just coded and adjusts the quantizer.
    pub fn update(&mut self, frame_bytes: usize, key_frame: bool) {
        let size = frame_bytes as f64;
        self.excess_bytes += size - self.target_bytes_per_frame;
        if key_frame {
            // A key frame's size says little about the next inter frames; let the excess
            // be paid back gradually.
            return;
        }
        // Spread repayment of the accumulated error over about a second of frames.
        let wanted = (self.target_bytes_per_frame - self.excess_bytes / 24.0)
            .max(self.target_bytes_per_frame * 0.25);
        let ratio = (size.max(1.0) / wanted).log2();
        let step = (ratio * 12.0).clamp(-10.0, 10.0);
        self.quantizer = (self.quantizer + step).clamp(0.0, 127.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn controller_raises_the_quantizer_when_frames_are_too_large() {
        let mut controller = RateController::new(240_000.0, 24.0, 60);
        let start = controller.quantizer();
        for _ in 0..5 {
            controller.update(4000, false); // four times the 1000-byte target
        }
        assert!(controller.quantizer() > start + 20);
        let high = controller.quantizer();
        for _ in 0..40 {
            controller.update(100, false);
        }
        assert!(controller.quantizer() < high);
    }
}
