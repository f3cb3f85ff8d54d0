//! Quantisation of transform coefficients into the levels VP8 codes.
//!
//! The decoder multiplies each level by a step size (the dequantisation factor of the block's
//! position: DC or AC, for luma, Y2 or chroma). The encoder divides, rounding toward zero with a
//! bias: a smaller bias for AC coefficients leaves a dead zone around zero, which saves many bits
//! for little distortion.

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
        let mut dequantized = [0i16; 16];
        *levels = [0; 16];
        // Division by the step as a multiplication by its fixed-point reciprocal (two divisions
        // per block instead of sixteen).
        let reciprocal = |step: i32| (1u64 << 32) / (step as u64 * 128) + 1;
        let (dc_reciprocal, ac_reciprocal) = (reciprocal(self.dc_step), reciprocal(self.ac_step));
        for index in first..16 {
            let value = coefficients[index] as i32;
            let (step, rounding, reciprocal) = if index == 0 {
                (self.dc_step, self.dc_rounding, dc_reciprocal)
            } else {
                (self.ac_step, self.ac_rounding, ac_reciprocal)
            };
            if value == 0 {
                continue;
            }
            let numerator = (value.unsigned_abs() * 128 + (step * rounding) as u32) as u64;
            let magnitude = ((numerator * reciprocal) >> 32) as i32;
            // Levels are limited to what the token alphabet can carry (DCT_CAT6: 11 extra bits).
            let magnitude = magnitude.min(2048 + 66);
            let level = if value < 0 { -magnitude } else { magnitude };
            levels[index] = level as i16;
            dequantized[index] = (level * step).clamp(i16::MIN as i32, i16::MAX as i32) as i16;
        }
        dequantized
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
