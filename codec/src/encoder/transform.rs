//! Forward transforms: the 4x4 DCT and the Walsh-Hadamard transform of the luma DC values.
//!
//! VP8 fixes only the inverse transforms. These forward transforms are their integer
//! counterparts (the same rotation constants, 2217 ~ sqrt(2) sin(pi/8) * 4096 and
//! 5352 ~ sqrt(2) cos(pi/8) * 4096), scaled so that the decoder's inverse brings a residual back
//! to within rounding of where it started.

/// Forward 4x4 DCT of a residual block in raster order; coefficients come out in raster order.
pub fn forward_dct4x4(residual: &[i16; 16]) -> [i16; 16] {
    let mut rows = [0i32; 16];
    for row in 0..4 {
        let input = &residual[row * 4..row * 4 + 4];
        let sum_outer = (input[0] as i32 + input[3] as i32) * 8;
        let sum_inner = (input[1] as i32 + input[2] as i32) * 8;
        let difference_inner = (input[1] as i32 - input[2] as i32) * 8;
        let difference_outer = (input[0] as i32 - input[3] as i32) * 8;
        let output = &mut rows[row * 4..row * 4 + 4];
        output[0] = sum_outer + sum_inner;
        output[2] = sum_outer - sum_inner;
        output[1] = (difference_inner * 2217 + difference_outer * 5352 + 14500) >> 12;
        output[3] = (difference_outer * 2217 - difference_inner * 5352 + 7500) >> 12;
    }
    let mut coefficients = [0i16; 16];
    for column in 0..4 {
        let at = |row: usize| rows[row * 4 + column];
        let sum_outer = at(0) + at(3);
        let sum_inner = at(1) + at(2);
        let difference_inner = at(1) - at(2);
        let difference_outer = at(0) - at(3);
        coefficients[column] = ((sum_outer + sum_inner + 7) >> 4) as i16;
        coefficients[8 + column] = ((sum_outer - sum_inner + 7) >> 4) as i16;
        coefficients[4 + column] = (((difference_inner * 2217 + difference_outer * 5352 + 12000)
            >> 16)
            + (difference_outer != 0) as i32) as i16;
        coefficients[12 + column] =
            ((difference_outer * 2217 - difference_inner * 5352 + 51000) >> 16) as i16;
    }
    coefficients
}

/// [`forward_dct4x4`] of `N` residual blocks held position-major (`residual[raster][block]`),
/// so every step is the same operation on `N` lanes; coefficients come out position-major.
#[inline(always)]
pub(crate) fn forward_dct_lanes<const N: usize>(residual: &[[i16; N]; 16]) -> [[i16; N]; 16] {
    let mut rows = [[0i32; N]; 16];
    for row in 0..4 {
        for lane in 0..N {
            let at = |column: usize| i32::from(residual[row * 4 + column][lane]);
            let sum_outer = (at(0) + at(3)) * 8;
            let sum_inner = (at(1) + at(2)) * 8;
            let difference_inner = (at(1) - at(2)) * 8;
            let difference_outer = (at(0) - at(3)) * 8;
            rows[row * 4][lane] = sum_outer + sum_inner;
            rows[row * 4 + 2][lane] = sum_outer - sum_inner;
            rows[row * 4 + 1][lane] =
                (difference_inner * 2217 + difference_outer * 5352 + 14500) >> 12;
            rows[row * 4 + 3][lane] =
                (difference_outer * 2217 - difference_inner * 5352 + 7500) >> 12;
        }
    }
    let mut coefficients = [[0i16; N]; 16];
    for column in 0..4 {
        for lane in 0..N {
            let at = |row: usize| rows[row * 4 + column][lane];
            let sum_outer = at(0) + at(3);
            let sum_inner = at(1) + at(2);
            let difference_inner = at(1) - at(2);
            let difference_outer = at(0) - at(3);
            coefficients[column][lane] = ((sum_outer + sum_inner + 7) >> 4) as i16;
            coefficients[8 + column][lane] = ((sum_outer - sum_inner + 7) >> 4) as i16;
            coefficients[4 + column][lane] =
                (((difference_inner * 2217 + difference_outer * 5352 + 12000) >> 16)
                    + (difference_outer != 0) as i32) as i16;
            coefficients[12 + column][lane] =
                ((difference_outer * 2217 - difference_inner * 5352 + 51000) >> 16) as i16;
        }
    }
    coefficients
}

/// [`forward_dct_lanes`] of 16 blocks with AVX2 instructions, for residuals of 8-bit pixels
/// (every value in -255..=255): then every sum fits 16 bits, and the rotations are 16 x 16 ->
/// 32-bit multiply-adds.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn forward_dct_lanes_avx2(residual: &[[i16; 16]; 16]) -> [[i16; 16]; 16] {
    use std::arch::x86_64::*;
    // SAFETY: each row holds 16 values, 32 bytes; the loads are unaligned.
    let input: [__m256i; 16] = std::array::from_fn(|raster| unsafe {
        _mm256_loadu_si256(residual[raster].as_ptr().cast())
    });
    // Pairs (inner, outer) times (2217, 5352) and (-5352, 2217), as 16-bit pairs in 32 bits.
    let rotate_1 = _mm256_set1_epi32((5352 << 16) | 2217);
    let rotate_3 = _mm256_set1_epi32((2217 << 16) | (-5352i32 & 0xffff));
    // `inner * c0 + outer * c1 + rounding >> shift` of each lane, in 16 bits again. Unpacking
    // and packing both work within 128-bit halves, so lanes come back in order.
    let rotate = |inner: __m256i, outer: __m256i, factors: __m256i, rounding: i32, shift: i32| {
        let rounding = _mm256_set1_epi32(rounding);
        let shift = _mm_cvtsi32_si128(shift);
        let low = _mm256_madd_epi16(_mm256_unpacklo_epi16(inner, outer), factors);
        let high = _mm256_madd_epi16(_mm256_unpackhi_epi16(inner, outer), factors);
        _mm256_packs_epi32(
            _mm256_sra_epi32(_mm256_add_epi32(low, rounding), shift),
            _mm256_sra_epi32(_mm256_add_epi32(high, rounding), shift),
        )
    };
    let mut rows = [_mm256_setzero_si256(); 16];
    for row in 0..4 {
        let at = |column: usize| input[row * 4 + column];
        let sum_outer = _mm256_slli_epi16::<3>(_mm256_add_epi16(at(0), at(3)));
        let sum_inner = _mm256_slli_epi16::<3>(_mm256_add_epi16(at(1), at(2)));
        let difference_inner = _mm256_slli_epi16::<3>(_mm256_sub_epi16(at(1), at(2)));
        let difference_outer = _mm256_slli_epi16::<3>(_mm256_sub_epi16(at(0), at(3)));
        rows[row * 4] = _mm256_add_epi16(sum_outer, sum_inner);
        rows[row * 4 + 2] = _mm256_sub_epi16(sum_outer, sum_inner);
        rows[row * 4 + 1] = rotate(difference_inner, difference_outer, rotate_1, 14500, 12);
        rows[row * 4 + 3] = rotate(difference_inner, difference_outer, rotate_3, 7500, 12);
    }
    let seven = _mm256_set1_epi16(7);
    let one = _mm256_set1_epi16(1);
    let mut coefficients = [[0i16; 16]; 16];
    let mut store = |raster: usize, vector: __m256i| {
        // SAFETY: each row holds 16 values, 32 bytes; the store is unaligned.
        unsafe { _mm256_storeu_si256(coefficients[raster].as_mut_ptr().cast(), vector) }
    };
    for column in 0..4 {
        let at = |row: usize| rows[row * 4 + column];
        let sum_outer = _mm256_add_epi16(at(0), at(3));
        let sum_inner = _mm256_add_epi16(at(1), at(2));
        let difference_inner = _mm256_sub_epi16(at(1), at(2));
        let difference_outer = _mm256_sub_epi16(at(0), at(3));
        let even = |sum: __m256i| _mm256_srai_epi16::<4>(_mm256_add_epi16(sum, seven));
        store(column, even(_mm256_add_epi16(sum_outer, sum_inner)));
        store(8 + column, even(_mm256_sub_epi16(sum_outer, sum_inner)));
        // Plus one where the outer difference is not zero: the comparison is -1 where it is.
        let nonzero = _mm256_add_epi16(
            one,
            _mm256_cmpeq_epi16(difference_outer, _mm256_setzero_si256()),
        );
        let first = rotate(difference_inner, difference_outer, rotate_1, 12000, 16);
        store(4 + column, _mm256_add_epi16(first, nonzero));
        store(
            12 + column,
            rotate(difference_inner, difference_outer, rotate_3, 51000, 16),
        );
    }
    coefficients
}

/// Forward Walsh-Hadamard transform of the sixteen luma DC coefficients of a macroblock (raster
/// order of the 4x4 blocks), the counterpart of VP8's inverse WHT.
pub fn forward_wht4x4(dc: &[i16; 16]) -> [i16; 16] {
    let mut rows = [0i32; 16];
    for row in 0..4 {
        let input = &dc[row * 4..row * 4 + 4];
        let a = (input[0] as i32 + input[2] as i32) * 4;
        let d = (input[1] as i32 + input[3] as i32) * 4;
        let c = (input[1] as i32 - input[3] as i32) * 4;
        let b = (input[0] as i32 - input[2] as i32) * 4;
        let output = &mut rows[row * 4..row * 4 + 4];
        output[0] = a + d + (a != 0) as i32;
        output[1] = b + c;
        output[2] = b - c;
        output[3] = a - d;
    }
    let mut coefficients = [0i16; 16];
    for column in 0..4 {
        let at = |row: usize| rows[row * 4 + column];
        let a = at(0) + at(2);
        let d = at(1) + at(3);
        let c = at(1) - at(3);
        let b = at(0) - at(2);
        let outputs = [a + d, b + c, b - c, a - d];
        for (row, value) in outputs.into_iter().enumerate() {
            let rounded = value + (value < 0) as i32;
            coefficients[row * 4 + column] = ((rounded + 3) >> 3) as i16;
        }
    }
    coefficients
}

#[cfg(test)]
mod tests {
    use super::*;

    /// VP8's inverse DCT (RFC 6386 section 14.3), for checking the forward one in isolation.
    fn reference_inverse_dct(input: &[i16; 16]) -> [i16; 16] {
        const COS_PI8_SQRT2_MINUS1: i32 = 20091;
        const SIN_PI8_SQRT2: i32 = 35468;
        let mut temp = [0i32; 16];
        for column in 0..4 {
            let at = |row: usize| input[row * 4 + column] as i32;
            let a = at(0) + at(2);
            let b = at(0) - at(2);
            let c =
                ((at(1) * SIN_PI8_SQRT2) >> 16) - (at(3) + ((at(3) * COS_PI8_SQRT2_MINUS1) >> 16));
            let d =
                (at(1) + ((at(1) * COS_PI8_SQRT2_MINUS1) >> 16)) + ((at(3) * SIN_PI8_SQRT2) >> 16);
            temp[column] = a + d;
            temp[12 + column] = a - d;
            temp[4 + column] = b + c;
            temp[8 + column] = b - c;
        }
        let mut output = [0i16; 16];
        for row in 0..4 {
            let at = |column: usize| temp[row * 4 + column];
            let a = at(0) + at(2);
            let b = at(0) - at(2);
            let c =
                ((at(1) * SIN_PI8_SQRT2) >> 16) - (at(3) + ((at(3) * COS_PI8_SQRT2_MINUS1) >> 16));
            let d =
                (at(1) + ((at(1) * COS_PI8_SQRT2_MINUS1) >> 16)) + ((at(3) * SIN_PI8_SQRT2) >> 16);
            output[row * 4] = ((a + d + 4) >> 3) as i16;
            output[row * 4 + 3] = ((a - d + 4) >> 3) as i16;
            output[row * 4 + 1] = ((b + c + 4) >> 3) as i16;
            output[row * 4 + 2] = ((b - c + 4) >> 3) as i16;
        }
        output
    }

    /// VP8's inverse WHT (RFC 6386 section 14.3).
    fn reference_inverse_wht(input: &[i16; 16]) -> [i16; 16] {
        let mut temp = [0i32; 16];
        for column in 0..4 {
            let at = |row: usize| input[row * 4 + column] as i32;
            let a = at(0) + at(3);
            let b = at(1) + at(2);
            let c = at(1) - at(2);
            let d = at(0) - at(3);
            temp[column] = a + b;
            temp[4 + column] = c + d;
            temp[8 + column] = a - b;
            temp[12 + column] = d - c;
        }
        let mut output = [0i16; 16];
        for row in 0..4 {
            let at = |column: usize| temp[row * 4 + column];
            let a = at(0) + at(3);
            let b = at(1) + at(2);
            let c = at(1) - at(2);
            let d = at(0) - at(3);
            output[row * 4] = ((a + b + 3) >> 3) as i16;
            output[row * 4 + 1] = ((c + d + 3) >> 3) as i16;
            output[row * 4 + 2] = ((a - b + 3) >> 3) as i16;
            output[row * 4 + 3] = ((d - c + 3) >> 3) as i16;
        }
        output
    }

    fn pseudo_random_block(seed: u64, amplitude: i32) -> [i16; 16] {
        let mut state = seed.wrapping_mul(0x9E3779B97F4A7C15) | 1;
        let mut block = [0i16; 16];
        for value in &mut block {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            *value = ((state % (2 * amplitude as u64 + 1)) as i32 - amplitude) as i16;
        }
        block
    }

    #[test]
    fn dct_round_trips_within_one() {
        for seed in 0..2000 {
            let residual = pseudo_random_block(seed, 255);
            let back = reference_inverse_dct(&forward_dct4x4(&residual));
            for (index, (&original, &restored)) in residual.iter().zip(&back).enumerate() {
                assert!(
                    (original - restored).abs() <= 1,
                    "seed {seed} index {index}: {original} became {restored}"
                );
            }
        }
    }

    #[test]
    fn dct_of_a_flat_block_is_nearly_its_dc_only() {
        let flat = [10i16; 16];
        let coefficients = forward_dct4x4(&flat);
        assert_eq!(coefficients[0], 80);
        // The integer rotation's rounding leaves at most a unit in the AC positions.
        assert!(coefficients[1..].iter().all(|&value| value.abs() <= 1));
    }

    #[test]
    fn wht_round_trips_within_one() {
        for seed in 0..2000 {
            let dc = pseudo_random_block(seed + 7, 2000);
            let back = reference_inverse_wht(&forward_wht4x4(&dc));
            for (index, (&original, &restored)) in dc.iter().zip(&back).enumerate() {
                assert!(
                    (original - restored).abs() <= 1,
                    "seed {seed} index {index}: {original} became {restored}"
                );
            }
        }
    }

    #[test]
    fn lanes_match_block_at_a_time_forward_dct() {
        check_forward_dct_lanes(forward_dct_lanes);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_match_block_at_a_time_forward_dct() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the AVX2 forward DCT is not tested");
            return;
        }
        // SAFETY: the CPU supports AVX2.
        check_forward_dct_lanes(|lanes| unsafe { forward_dct_lanes_avx2(lanes) });
    }

    /// Checks `transform` against [`forward_dct4x4`] on residuals of 8-bit pixels: seeded
    /// random blocks, and blocks of only +-255 in many patterns.
    fn check_forward_dct_lanes(transform: impl Fn(&[[i16; 16]; 16]) -> [[i16; 16]; 16]) {
        for seed in 0..2000u64 {
            // Residuals of 8-bit pixels, and every block at the extremes on some seeds.
            let lanes: [[i16; 16]; 16] = if seed % 5 == 0 {
                std::array::from_fn(|raster| {
                    std::array::from_fn(|block| {
                        if (seed as usize / 5 + raster * 7 + block * 3) % 3 == 0 {
                            -255
                        } else {
                            255
                        }
                    })
                })
            } else {
                let blocks: [[i16; 16]; 16] =
                    std::array::from_fn(|block| pseudo_random_block(seed * 16 + block as u64, 255));
                std::array::from_fn(|raster| std::array::from_fn(|block| blocks[block][raster]))
            };
            let coefficients = transform(&lanes);
            for block in 0..16 {
                let residual = std::array::from_fn(|raster| lanes[raster][block]);
                let expected = forward_dct4x4(&residual);
                let got: [i16; 16] = std::array::from_fn(|raster| coefficients[raster][block]);
                assert_eq!(got, expected, "seed {seed} block {block}: {residual:?}");
            }
        }
    }
}
