//! Quantisation of transform coefficients into the levels VP8 codes.
//!
//! The decoder multiplies each level by a step size (the dequantisation factor of the block's
//! position: DC or AC, for luma, Y2 or chroma). The encoder divides, rounding toward zero with a
//! bias: a smaller bias for AC coefficients leaves a dead zone around zero, which saves many bits
//! for little distortion.

use crate::tables::ZIGZAG;

/// Step sizes and rounding of one block type (Y, Y2 or chroma).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BlockQuantizer {
    /// Step size of coefficient 0.
    pub dc_step: i32,
    /// Step size of coefficients 1..16.
    pub ac_step: i32,
    /// Rounding added before dividing the DC magnitude, in 1/128 of a step.
    pub dc_rounding: i32,
    /// Rounding added before dividing AC magnitudes, in 1/128 of a step.
    pub ac_rounding: i32,
}

impl BlockQuantizer {
    /// A quantizer with VP8's step sizes and the encoder's default rounding.
    pub fn new(dc_step: i32, ac_step: i32) -> Self {
        BlockQuantizer {
            dc_step: dc_step.max(1),
            ac_step: ac_step.max(1),
            dc_rounding: 64,
            ac_rounding: 44,
        }
    }

    /// Step size of the coefficient at raster position `index`.
    #[inline]
    pub fn step(&self, index: usize) -> i32 {
        if index == 0 {
            self.dc_step
        } else {
            self.ac_step
        }
    }

    /// Quantises `coefficients` (raster order) into `levels`, returning the dequantised values
    /// the decoder will see. Positions before `first` (1 for luma blocks whose DC goes to Y2)
    /// are left zero.
    pub fn quantize(
        &self,
        coefficients: &[i16; 16],
        first: usize,
        levels: &mut [i16; 16],
    ) -> [i16; 16] {
        let (scan, dequantized) = self.quantize_scan(coefficients, first);
        *levels = [0; 16];
        for (position, &raster) in ZIGZAG.iter().enumerate() {
            levels[usize::from(raster)] = scan[position];
        }
        dequantized
    }

    /// Quantises `coefficients` (raster order) starting at scan position `first`. Returns the
    /// levels in scan (zigzag) order, as tokens code them, and the dequantised coefficients in
    /// raster order, computed exactly as the decoder computes them (16-bit wrapping product).
    #[inline]
    pub fn quantize_scan(&self, coefficients: &[i16; 16], first: usize) -> ([i16; 16], [i16; 16]) {
        // Division by the step as a multiplication by its fixed-point reciprocal.
        let reciprocal = |step: i32| (1u64 << 32) / (step as u64 * 128) + 1;
        let dc = (
            self.dc_step,
            self.dc_step * self.dc_rounding,
            reciprocal(self.dc_step),
        );
        let ac = (
            self.ac_step,
            self.ac_step * self.ac_rounding,
            reciprocal(self.ac_step),
        );
        let mut scan = [0i16; 16];
        let mut dequantized = [0i16; 16];
        for position in first..16 {
            let raster = usize::from(ZIGZAG[position]);
            let value = i32::from(coefficients[raster]);
            if value == 0 {
                continue;
            }
            let (step, bias, reciprocal) = if raster == 0 { dc } else { ac };
            let numerator = u64::from(value.unsigned_abs() * 128 + bias as u32);
            // Levels are limited to what the token alphabet can carry (DCT_CAT6: 11 extra bits).
            let magnitude = (((numerator * reciprocal) >> 32) as i32).min(2048 + 66);
            let level = if value < 0 { -magnitude } else { magnitude } as i16;
            scan[position] = level;
            dequantized[raster] = level.wrapping_mul(step as i16);
        }
        (scan, dequantized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rounds_with_a_dead_zone_for_ac() {
        let quantizer = BlockQuantizer::new(10, 10);
        let mut coefficients = [0i16; 16];
        coefficients[0] = 15; // DC rounds half up: 2
        coefficients[1] = 15; // AC below 1.66 steps rounds down: 1
        coefficients[2] = -17; // -2
        coefficients[3] = 6; // below the AC dead zone: 0
        let mut levels = [0i16; 16];
        let dequantized = quantizer.quantize(&coefficients, 0, &mut levels);
        assert_eq!(&levels[..4], &[2, 1, -2, 0]);
        assert_eq!(&dequantized[..4], &[20, 10, -20, 0]);
    }

    #[test]
    fn skips_positions_before_first() {
        let quantizer = BlockQuantizer::new(4, 4);
        let coefficients = [100i16; 16];
        let mut levels = [0i16; 16];
        quantizer.quantize(&coefficients, 1, &mut levels);
        assert_eq!(levels[0], 0);
        assert!(levels[1..].iter().all(|&level| level == 25));
    }
}
