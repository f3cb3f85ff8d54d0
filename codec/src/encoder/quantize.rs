//! Quantisation of transform coefficients into the levels VP8 codes.
//!
//! The decoder multiplies each level by a step size (the dequantisation factor of the block's
//! position: DC or AC, for luma, Y2 or chroma). The encoder divides, rounding toward zero with a
//! bias: a smaller bias for AC coefficients leaves a dead zone around zero, which saves many bits
//! for little distortion.

use crate::tables::ZIGZAG;

/// Step sizes and rounding of one block type (Y, Y2 or chroma), with the per-position tables
/// the quantiser runs on (computed once, so quantising a block divides nothing).
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
    /// Step of each raster position.
    steps: [i16; 16],
    /// Rounding of each raster position, in 1/128 of a step times the step.
    biases: [u32; 16],
    /// Fixed-point reciprocal (32 fractional bits) of 128 times each position's step.
    reciprocals: [u64; 16],
}

impl BlockQuantizer {
    /// A quantizer with VP8's step sizes and the encoder's default rounding.
    pub fn new(dc_step: i32, ac_step: i32) -> Self {
        let dc_step = dc_step.max(1);
        let ac_step = ac_step.max(1);
        let (dc_rounding, ac_rounding) = (64, 44);
        let reciprocal = |step: i32| (1u64 << 32) / (step as u64 * 128) + 1;
        let mut steps = [ac_step as i16; 16];
        let mut biases = [(ac_step * ac_rounding) as u32; 16];
        let mut reciprocals = [reciprocal(ac_step); 16];
        steps[0] = dc_step as i16;
        biases[0] = (dc_step * dc_rounding) as u32;
        reciprocals[0] = reciprocal(dc_step);
        BlockQuantizer {
            dc_step,
            ac_step,
            dc_rounding,
            ac_rounding,
            steps,
            biases,
            reciprocals,
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
        // Every position at once, without branches: a zero coefficient quantises to zero since
        // the rounding stays below half a step (`bias * reciprocal < 2^32`).
        let mut levels = [0i16; 16];
        for raster in 0..16 {
            let value = i32::from(coefficients[raster]);
            let numerator = u64::from(value.unsigned_abs() * 128 + self.biases[raster]);
            // Levels are limited to what the token alphabet can carry (DCT_CAT6: 11 extra bits).
            let magnitude = (((numerator * self.reciprocals[raster]) >> 32) as i32).min(2048 + 66);
            levels[raster] = if value < 0 { -magnitude } else { magnitude } as i16;
        }
        if first > 0 {
            // Scan position 0 is raster position 0.
            levels[0] = 0;
        }
        let mut dequantized = [0i16; 16];
        for raster in 0..16 {
            dequantized[raster] = levels[raster].wrapping_mul(self.steps[raster]);
        }
        let scan = std::array::from_fn(|position| levels[usize::from(ZIGZAG[position])]);
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
