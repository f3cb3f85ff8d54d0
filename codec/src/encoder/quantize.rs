//! Quantisation of transform coefficients into the levels VP8 codes.
//!
//! The decoder multiplies each level by a step size (the dequantisation factor of the block's
//! position: DC or AC, for luma, Y2 or chroma). The encoder divides, rounding toward zero with a
//! bias: a smaller bias for AC coefficients leaves a dead zone around zero, which saves many bits
//! for little distortion.

use crate::tables::ZIGZAG;

/// The largest level magnitude the token alphabet can carry (DCT_CAT6: 11 extra bits).
const MAX_LEVEL: i32 = 2048 + 66;

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
    /// Fixed-point reciprocal (32 fractional bits) of 128 times each position's step; at most
    /// `2^25 + 1`, so the quantiser's products are 32 x 32 -> 64-bit multiplies.
    reciprocals: [u32; 16],
}

impl BlockQuantizer {
    /// A quantizer with VP8's step sizes and the encoder's default rounding.
    pub fn new(dc_step: i32, ac_step: i32) -> Self {
        let dc_step = dc_step.max(1);
        let ac_step = ac_step.max(1);
        let (dc_rounding, ac_rounding) = (64, 44);
        let reciprocal = |step: i32| ((1u64 << 32) / (step as u64 * 128) + 1) as u32;
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
            let magnitude =
                (((numerator * u64::from(self.reciprocals[raster])) >> 32) as i32).min(MAX_LEVEL);
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

    /// [`quantize_scan`](Self::quantize_scan) of `N` blocks held position-major
    /// (`coefficients[raster][block]`), so every step is the same operation on `N` lanes. Writes
    /// the levels and the dequantised coefficients position-major, in raster order; positions
    /// before `first` (0 or 1) get zero levels.
    #[inline(always)]
    pub(crate) fn quantize_lanes<const N: usize>(
        &self,
        coefficients: &[[i16; N]; 16],
        first: usize,
        levels: &mut [[i16; N]; 16],
        dequantized: &mut [[i16; N]; 16],
    ) {
        for raster in 0..16 {
            let bias = self.biases[raster];
            let reciprocal = u64::from(self.reciprocals[raster]);
            let step = self.steps[raster];
            let inputs = &coefficients[raster];
            let (level_lanes, dequantized_lanes) = (&mut levels[raster], &mut dequantized[raster]);
            let keep = if raster < first { 0 } else { -1 };
            for lane in 0..N {
                let value = i32::from(inputs[lane]);
                // All ones for a negative value: `(magnitude ^ sign) - sign` negates.
                let sign = value >> 31;
                let numerator = ((value ^ sign) - sign) as u32 * 128 + bias;
                let magnitude =
                    (((u64::from(numerator) * reciprocal) >> 32) as i32).min(MAX_LEVEL) & keep;
                let level = ((magnitude ^ sign) - sign) as i16;
                level_lanes[lane] = level;
                dequantized_lanes[lane] = level.wrapping_mul(step);
            }
        }
    }

    /// [`quantize_lanes`](Self::quantize_lanes) of 16 blocks with AVX2 instructions: 16-bit
    /// lanes, the products as 32 x 32 -> 64-bit multiplies of the widened magnitudes.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    #[inline]
    pub(crate) fn quantize_lanes_avx2(
        &self,
        coefficients: &[[i16; 16]; 16],
        first: usize,
        levels: &mut [[i16; 16]; 16],
        dequantized: &mut [[i16; 16]; 16],
    ) {
        use std::arch::x86_64::*;
        let zero = _mm256_setzero_si256();
        let max_level = _mm256_set1_epi32(MAX_LEVEL);
        for raster in 0..16 {
            if raster < first {
                levels[raster] = [0; 16];
                dequantized[raster] = [0; 16];
                continue;
            }
            let bias = _mm256_set1_epi32(self.biases[raster] as i32);
            let reciprocal = _mm256_set1_epi64x(i64::from(self.reciprocals[raster]));
            // SAFETY: the row holds 16 values, 32 bytes; the load is unaligned.
            let values = unsafe { _mm256_loadu_si256(coefficients[raster].as_ptr().cast()) };
            // |-32768| wraps to 0x8000, which is 32768 read as unsigned.
            let magnitudes = _mm256_abs_epi16(values);
            // Unpacking and packing both work within 128-bit halves, so lanes come back in order.
            let quotient = |wide: __m256i| {
                let numerator = _mm256_add_epi32(_mm256_slli_epi32::<7>(wide), bias);
                let even = _mm256_mul_epu32(numerator, reciprocal);
                let odd = _mm256_mul_epu32(_mm256_srli_epi64::<32>(numerator), reciprocal);
                let high = _mm256_blend_epi32::<0b1010_1010>(_mm256_srli_epi64::<32>(even), odd);
                _mm256_min_epi32(high, max_level)
            };
            let low = quotient(_mm256_unpacklo_epi16(magnitudes, zero));
            let high = quotient(_mm256_unpackhi_epi16(magnitudes, zero));
            // Magnitudes are at most MAX_LEVEL: packing saturates nothing. A zero value
            // quantises to zero, so `sign` (zero for zero) loses nothing.
            let level = _mm256_sign_epi16(_mm256_packs_epi32(low, high), values);
            let step = _mm256_set1_epi16(self.steps[raster]);
            // SAFETY: each row holds 16 values, 32 bytes; the stores are unaligned.
            unsafe {
                _mm256_storeu_si256(levels[raster].as_mut_ptr().cast(), level);
                _mm256_storeu_si256(
                    dequantized[raster].as_mut_ptr().cast(),
                    _mm256_mullo_epi16(level, step),
                );
            }
        }
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

    /// The quantizers VP8 uses (RFC 6386 section 14.1, without deltas): luma, Y2 and chroma
    /// at every index 0..=127.
    fn every_quantizer() -> Vec<BlockQuantizer> {
        use crate::tables::{AC_QUANT, DC_QUANT};
        (0..=127)
            .flat_map(|q| {
                let (dc, ac) = (DC_QUANT[q], AC_QUANT[q]);
                [
                    BlockQuantizer::new(dc, ac),
                    BlockQuantizer::new(dc * 2, ((ac * 101581) >> 16).max(8)),
                    BlockQuantizer::new(dc.min(132), ac),
                ]
            })
            .collect()
    }

    type LaneQuantizer =
        fn(&BlockQuantizer, &[[i16; 16]; 16], usize, &mut [[i16; 16]; 16], &mut [[i16; 16]; 16]);

    /// Every 16-bit coefficient value goes through every position of the lanes at every
    /// quantizer index, and gives what the block-at-a-time quantiser gives.
    fn check_lanes_for_every_value_at_every_quantizer(quantize: LaneQuantizer) {
        for quantizer in every_quantizer() {
            for chunk in 0..256 {
                // 256 values per chunk; lane `block` of position `raster` differs per chunk so
                // every value meets every position once over the 16 rotations below.
                let rotation = chunk % 16;
                let lanes: [[i16; 16]; 16] = std::array::from_fn(|raster| {
                    std::array::from_fn(|block| {
                        let index = ((raster + rotation) % 16) * 16 + block;
                        (i32::from(i16::MIN) + (chunk * 256 + index) as i32) as i16
                    })
                });
                for first in [0, 1] {
                    let mut levels = [[0i16; 16]; 16];
                    let mut dequantized = [[0i16; 16]; 16];
                    quantize(&quantizer, &lanes, first, &mut levels, &mut dequantized);
                    for block in 0..16 {
                        let coefficients = std::array::from_fn(|raster| lanes[raster][block]);
                        let (scan, expected) = quantizer.quantize_scan(&coefficients, first);
                        for (position, &raster) in ZIGZAG.iter().enumerate() {
                            let raster = usize::from(raster);
                            assert_eq!(
                                (levels[raster][block], dequantized[raster][block]),
                                (scan[position], expected[raster]),
                                "{quantizer:?} first {first}: coefficient {}",
                                coefficients[raster]
                            );
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn lanes_match_scan_for_every_value_at_every_quantizer() {
        check_lanes_for_every_value_at_every_quantizer(|quantizer, lanes, first, levels, out| {
            quantizer.quantize_lanes(lanes, first, levels, out)
        });
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_match_scan_for_every_value_at_every_quantizer() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the AVX2 quantiser is not tested");
            return;
        }
        check_lanes_for_every_value_at_every_quantizer(|quantizer, lanes, first, levels, out| {
            // SAFETY: the CPU supports AVX2.
            unsafe { quantizer.quantize_lanes_avx2(lanes, first, levels, out) }
        });
    }
}
