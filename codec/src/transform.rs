//! Inverse transforms (RFC 6386 section 14.3 and 14.4): the 4x4 DCT and the Walsh-Hadamard
//! transform of the Y2 block, with libvpx's exact integer arithmetic (16-bit intermediates).

const COS_PI8_SQRT2_MINUS1: i32 = 20091;
const SIN_PI8_SQRT2: i32 = 35468;

/// Inverse Walsh-Hadamard transform of the Y2 block: returns the DC of each of the 16 luma
/// blocks in raster order.
#[inline(always)]
pub fn inverse_walsh(input: &[i16; 16]) -> [i16; 16] {
    let mut temp = [0i16; 16];
    for column in 0..4 {
        let a1 = i32::from(input[column]) + i32::from(input[12 + column]);
        let b1 = i32::from(input[4 + column]) + i32::from(input[8 + column]);
        let c1 = i32::from(input[4 + column]) - i32::from(input[8 + column]);
        let d1 = i32::from(input[column]) - i32::from(input[12 + column]);
        temp[column] = (a1 + b1) as i16;
        temp[4 + column] = (c1 + d1) as i16;
        temp[8 + column] = (a1 - b1) as i16;
        temp[12 + column] = (d1 - c1) as i16;
    }
    let mut output = [0i16; 16];
    for row in 0..4 {
        let i = &temp[4 * row..4 * row + 4];
        let a1 = i32::from(i[0]) + i32::from(i[3]);
        let b1 = i32::from(i[1]) + i32::from(i[2]);
        let c1 = i32::from(i[1]) - i32::from(i[2]);
        let d1 = i32::from(i[0]) - i32::from(i[3]);
        output[4 * row] = ((a1 + b1 + 3) >> 3) as i16;
        output[4 * row + 1] = ((c1 + d1 + 3) >> 3) as i16;
        output[4 * row + 2] = ((a1 - b1 + 3) >> 3) as i16;
        output[4 * row + 3] = ((d1 - c1 + 3) >> 3) as i16;
    }
    output
}

/// Inverse 4x4 DCT of `input` (raster order), returning the residual.
#[inline(always)]
pub fn inverse_dct(input: &[i16; 16]) -> [i16; 16] {
    let mut temp = [0i16; 16];
    for column in 0..4 {
        let i0 = i32::from(input[column]);
        let i1 = i32::from(input[4 + column]);
        let i2 = i32::from(input[8 + column]);
        let i3 = i32::from(input[12 + column]);
        let a1 = i0 + i2;
        let b1 = i0 - i2;
        let c1 = ((i1 * SIN_PI8_SQRT2) >> 16) - (i3 + ((i3 * COS_PI8_SQRT2_MINUS1) >> 16));
        let d1 = (i1 + ((i1 * COS_PI8_SQRT2_MINUS1) >> 16)) + ((i3 * SIN_PI8_SQRT2) >> 16);
        temp[column] = (a1 + d1) as i16;
        temp[12 + column] = (a1 - d1) as i16;
        temp[4 + column] = (b1 + c1) as i16;
        temp[8 + column] = (b1 - c1) as i16;
    }
    let mut output = [0i16; 16];
    for row in 0..4 {
        let i0 = i32::from(temp[4 * row]);
        let i1 = i32::from(temp[4 * row + 1]);
        let i2 = i32::from(temp[4 * row + 2]);
        let i3 = i32::from(temp[4 * row + 3]);
        let a1 = i0 + i2;
        let b1 = i0 - i2;
        let c1 = ((i1 * SIN_PI8_SQRT2) >> 16) - (i3 + ((i3 * COS_PI8_SQRT2_MINUS1) >> 16));
        let d1 = (i1 + ((i1 * COS_PI8_SQRT2_MINUS1) >> 16)) + ((i3 * SIN_PI8_SQRT2) >> 16);
        output[4 * row] = ((a1 + d1 + 4) >> 3) as i16;
        output[4 * row + 3] = ((a1 - d1 + 4) >> 3) as i16;
        output[4 * row + 1] = ((b1 + c1 + 4) >> 3) as i16;
        output[4 * row + 2] = ((b1 - c1 + 4) >> 3) as i16;
    }
    output
}

/// [`inverse_dct`] of `N` blocks held position-major (`input[raster][block]`), so every step is
/// the same operation on `N` lanes; returns the residuals position-major. Bit-exact with
/// [`inverse_dct`] on each block, 16-bit wrapping of the intermediates included.
#[inline(always)]
pub fn inverse_dct_lanes<const N: usize>(input: &[[i16; N]; 16]) -> [[i16; N]; 16] {
    let mut temp = [[0i16; N]; 16];
    for column in 0..4 {
        for lane in 0..N {
            let i0 = i32::from(input[column][lane]);
            let i1 = i32::from(input[4 + column][lane]);
            let i2 = i32::from(input[8 + column][lane]);
            let i3 = i32::from(input[12 + column][lane]);
            let a1 = i0 + i2;
            let b1 = i0 - i2;
            let c1 = ((i1 * SIN_PI8_SQRT2) >> 16) - (i3 + ((i3 * COS_PI8_SQRT2_MINUS1) >> 16));
            let d1 = (i1 + ((i1 * COS_PI8_SQRT2_MINUS1) >> 16)) + ((i3 * SIN_PI8_SQRT2) >> 16);
            temp[column][lane] = (a1 + d1) as i16;
            temp[12 + column][lane] = (a1 - d1) as i16;
            temp[4 + column][lane] = (b1 + c1) as i16;
            temp[8 + column][lane] = (b1 - c1) as i16;
        }
    }
    let mut output = [[0i16; N]; 16];
    for row in 0..4 {
        for lane in 0..N {
            let i0 = i32::from(temp[4 * row][lane]);
            let i1 = i32::from(temp[4 * row + 1][lane]);
            let i2 = i32::from(temp[4 * row + 2][lane]);
            let i3 = i32::from(temp[4 * row + 3][lane]);
            let a1 = i0 + i2;
            let b1 = i0 - i2;
            let c1 = ((i1 * SIN_PI8_SQRT2) >> 16) - (i3 + ((i3 * COS_PI8_SQRT2_MINUS1) >> 16));
            let d1 = (i1 + ((i1 * COS_PI8_SQRT2_MINUS1) >> 16)) + ((i3 * SIN_PI8_SQRT2) >> 16);
            output[4 * row][lane] = ((a1 + d1 + 4) >> 3) as i16;
            output[4 * row + 3][lane] = ((a1 - d1 + 4) >> 3) as i16;
            output[4 * row + 1][lane] = ((b1 + c1 + 4) >> 3) as i16;
            output[4 * row + 2][lane] = ((b1 - c1 + 4) >> 3) as i16;
        }
    }
    output
}

/// [`inverse_dct_lanes`] of 16 blocks with AVX2 instructions, bit-exact for every input.
///
/// The first pass runs in wrapping 16-bit arithmetic, which is exact: it stores 16-bit values,
/// and `(x * 35468) >> 16` and `(x * 20091) >> 16` are 16-bit high multiplies. The second pass
/// rounds 32-bit sums; they fit 16 bits whenever the first pass's values stay within +-8191,
/// true of any residual worth coding. Other inputs take [`inverse_dct_lanes`].
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[inline]
pub(crate) fn inverse_dct_lanes_avx2(input: &[[i16; 16]; 16]) -> [[i16; 16]; 16] {
    use std::arch::x86_64::*;
    // SAFETY: each row holds 16 values, 32 bytes; the loads are unaligned.
    let vectors: [__m256i; 16] =
        std::array::from_fn(|raster| unsafe { _mm256_loadu_si256(input[raster].as_ptr().cast()) });
    // 35468 does not fit 16 bits: (x * 35468) >> 16 == ((x * (35468 - 65536)) >> 16) + x.
    let sin_minus_one = _mm256_set1_epi16((SIN_PI8_SQRT2 - 65536) as i16);
    let cos_minus_one = _mm256_set1_epi16(COS_PI8_SQRT2_MINUS1 as i16);
    let times_sin = |x: __m256i| _mm256_add_epi16(_mm256_mulhi_epi16(x, sin_minus_one), x);
    let times_cos = |x: __m256i| _mm256_add_epi16(_mm256_mulhi_epi16(x, cos_minus_one), x);
    let butterfly = |i0: __m256i, i1: __m256i, i2: __m256i, i3: __m256i| {
        let a1 = _mm256_add_epi16(i0, i2);
        let b1 = _mm256_sub_epi16(i0, i2);
        let c1 = _mm256_sub_epi16(times_sin(i1), times_cos(i3));
        let d1 = _mm256_add_epi16(times_cos(i1), times_sin(i3));
        [
            _mm256_add_epi16(a1, d1),
            _mm256_add_epi16(b1, c1),
            _mm256_sub_epi16(b1, c1),
            _mm256_sub_epi16(a1, d1),
        ]
    };
    let mut temp = [_mm256_setzero_si256(); 16];
    let mut magnitudes = _mm256_setzero_si256();
    for column in 0..4 {
        let outputs = butterfly(
            vectors[column],
            vectors[4 + column],
            vectors[8 + column],
            vectors[12 + column],
        );
        for (row, output) in outputs.into_iter().enumerate() {
            temp[row * 4 + column] = output;
            magnitudes = _mm256_or_si256(magnitudes, _mm256_abs_epi16(output));
        }
    }
    // Any magnitude of 8192 or more (|-32768| reads as 32768) sets one of the top three bits.
    if _mm256_testz_si256(magnitudes, _mm256_set1_epi16(-8192)) == 0 {
        return inverse_dct_lanes(input);
    }
    let four = _mm256_set1_epi16(4);
    let mut output = [[0i16; 16]; 16];
    for row in 0..4 {
        let outputs = butterfly(
            temp[4 * row],
            temp[4 * row + 1],
            temp[4 * row + 2],
            temp[4 * row + 3],
        );
        for (column, value) in outputs.into_iter().enumerate() {
            let rounded = _mm256_srai_epi16::<3>(_mm256_add_epi16(value, four));
            // SAFETY: each row holds 16 values, 32 bytes; the store is unaligned.
            unsafe { _mm256_storeu_si256(output[4 * row + column].as_mut_ptr().cast(), rounded) };
        }
    }
    output
}

/// Adds the inverse DCT of `coefficients` to the 4x4 block at `offset` of `buffer`
/// (rows `stride` apart), clamping to 0..=255. A block with only a DC takes the shortcut.
#[inline(always)]
pub fn add_inverse_dct(coefficients: &[i16; 16], buffer: &mut [u8], offset: usize, stride: usize) {
    if coefficients[1..].iter().all(|&value| value == 0) {
        add_dc(coefficients[0], buffer, offset, stride);
        return;
    }
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() && sse2::add_inverse_dct(coefficients, buffer, offset, stride) {
        return;
    }
    add_residual(&inverse_dct(coefficients), buffer, offset, stride);
}

/// Adds a 4x4 residual (raster order) to the block at `offset` of `buffer`, clamping to
/// 0..=255.
#[inline(always)]
fn add_residual(residual: &[i16; 16], buffer: &mut [u8], offset: usize, stride: usize) {
    for row in 0..4 {
        let start = offset + row * stride;
        let pixels = &mut buffer[start..start + 4];
        for (pixel, &delta) in pixels.iter_mut().zip(&residual[4 * row..4 * row + 4]) {
            *pixel = (i32::from(*pixel) + i32::from(delta)).clamp(0, 255) as u8;
        }
    }
}

/// [`add_inverse_dct`] of one block with SSE2 (part of the x86_64 baseline) for the CPUs that
/// take the vector paths: two rows per register, the rotations as 16-bit high multiplies as in
/// [`inverse_dct_lanes_avx2`], and two 4x4 transposes.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use super::{COS_PI8_SQRT2_MINUS1, SIN_PI8_SQRT2};
    use std::arch::x86_64::*;

    /// One pass of the inverse DCT on four vectors of four: `low` holds `[i0 | i1]`, `high`
    /// `[i2 | i3]`. Returns `[a1 + d1 | b1 + c1]` and `[a1 - d1 | b1 - c1]`, the outputs
    /// `[o0 | o1]` and `[o3 | o2]`, in wrapping 16-bit arithmetic.
    #[inline(always)]
    fn butterfly(low: __m128i, high: __m128i) -> (__m128i, __m128i) {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let swap = |x: __m128i| _mm_shuffle_epi32::<0b0100_1110>(x);
            // (x * 35468) >> 16 == ((x * (35468 - 65536)) >> 16) + x.
            let times_sin = |x: __m128i| {
                _mm_add_epi16(
                    _mm_mulhi_epi16(x, _mm_set1_epi16((SIN_PI8_SQRT2 - 65536) as i16)),
                    x,
                )
            };
            let times_cos = |x: __m128i| {
                _mm_add_epi16(
                    _mm_mulhi_epi16(x, _mm_set1_epi16(COS_PI8_SQRT2_MINUS1 as i16)),
                    x,
                )
            };
            let even = _mm_unpacklo_epi64(low, high); // [i0 | i2]
            let odd = _mm_unpackhi_epi64(low, high); // [i1 | i3]
            let sum = _mm_add_epi16(even, swap(even)); // [a1 | a1]
            let difference = _mm_sub_epi16(even, swap(even)); // [b1 | -b1]
            let a1_b1 = _mm_unpacklo_epi64(sum, difference);
            let (sin, cos) = (times_sin(odd), times_cos(odd));
            let c1 = _mm_sub_epi16(sin, swap(cos)); // low half: sin(i1) - cos(i3)
            let d1 = _mm_add_epi16(cos, swap(sin)); // low half: cos(i1) + sin(i3)
            let d1_c1 = _mm_unpacklo_epi64(d1, c1);
            (_mm_add_epi16(a1_b1, d1_c1), _mm_sub_epi16(a1_b1, d1_c1))
        }
    }

    /// Transposes a 4x4 of 16-bit values held as `[v0 | v1]` and `[v3 | v2]` into `[w0 | w1]`
    /// and `[w2 | w3]`.
    #[inline(always)]
    fn transpose(low: __m128i, high_swapped: __m128i) -> (__m128i, __m128i) {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let pairs01 = _mm_unpacklo_epi16(low, _mm_srli_si128::<8>(low));
            let pairs23 = _mm_unpacklo_epi16(_mm_srli_si128::<8>(high_swapped), high_swapped);
            (
                _mm_unpacklo_epi32(pairs01, pairs23),
                _mm_unpackhi_epi32(pairs01, pairs23),
            )
        }
    }

    /// Adds the inverse DCT of `coefficients` to the block, as [`super::add_inverse_dct`]
    /// does, and returns true; or changes nothing and returns false when the first pass leaves
    /// a value beyond +-8191, where the second pass's sums need more than 16 bits.
    #[inline(always)]
    pub(super) fn add_inverse_dct(
        coefficients: &[i16; 16],
        buffer: &mut [u8],
        offset: usize,
        stride: usize,
    ) -> bool {
        if stride < 4 {
            // Overlapping rows: left to the scalar code.
            return false;
        }
        let rows: [&mut [u8]; 4] = {
            let block = &mut buffer[offset..offset + 3 * stride + 4];
            let (row0, rest) = block.split_at_mut(stride);
            let (row1, rest) = rest.split_at_mut(stride);
            let (row2, row3) = rest.split_at_mut(stride);
            [row0, row1, row2, row3]
        };
        // SAFETY: SSE2 is part of the x86_64 baseline; the loads read the 32 bytes of
        // `coefficients`, unaligned.
        unsafe {
            let rows01 = _mm_loadu_si128(coefficients.as_ptr().cast());
            let rows23 = _mm_loadu_si128(coefficients[8..].as_ptr().cast());
            // Columns first, as the decoder does.
            let (temp01, temp32) = butterfly(rows01, rows23);
            let limit = _mm_set1_epi16(8191);
            let beyond = |x: __m128i| {
                _mm_or_si128(
                    _mm_cmpgt_epi16(x, limit),
                    _mm_cmplt_epi16(x, _mm_sub_epi16(_mm_setzero_si128(), limit)),
                )
            };
            if _mm_movemask_epi8(_mm_or_si128(beyond(temp01), beyond(temp32))) != 0 {
                return false;
            }
            let (columns01, columns23) = transpose(temp01, temp32);
            let (out01, out32) = butterfly(columns01, columns23);
            let four = _mm_set1_epi16(4);
            let round = |x: __m128i| _mm_srai_epi16::<3>(_mm_add_epi16(x, four));
            let (residual01, residual23) = transpose(round(out01), round(out32));
            for (row, pixels) in rows.into_iter().enumerate() {
                let residual = match row {
                    0 => residual01,
                    1 => _mm_srli_si128::<8>(residual01),
                    2 => residual23,
                    _ => _mm_srli_si128::<8>(residual23),
                };
                let pixels = &mut pixels[..4];
                let bytes = i32::from_le_bytes(pixels.try_into().expect("four pixels"));
                let widened = _mm_unpacklo_epi8(_mm_cvtsi32_si128(bytes), _mm_setzero_si128());
                // A pixel is 0..=255, so the saturating sum stays exact up to the clamp to
                // 0..=255 that the packing does.
                let sum = _mm_packus_epi16(_mm_adds_epi16(widened, residual), widened);
                pixels.copy_from_slice(&_mm_cvtsi128_si32(sum).to_le_bytes());
            }
        }
        true
    }
}

/// Adds a DC-only inverse DCT (`(dc + 4) >> 3` everywhere) to a 4x4 block.
#[inline(always)]
pub fn add_dc(dc: i16, buffer: &mut [u8], offset: usize, stride: usize) {
    let delta = (i32::from(dc) + 4) >> 3;
    if delta == 0 {
        return;
    }
    for row in 0..4 {
        let start = offset + row * stride;
        for pixel in &mut buffer[start..start + 4] {
            *pixel = (i32::from(*pixel) + delta).clamp(0, 255) as u8;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dc_only_matches_full_transform() {
        for dc in [-2048i16, -100, -5, -4, -3, 0, 3, 4, 5, 100, 2047] {
            let mut input = [0i16; 16];
            input[0] = dc;
            let full = inverse_dct(&input);
            assert!(full
                .iter()
                .all(|&value| i32::from(value) == (i32::from(dc) + 4) >> 3));
        }
    }

    #[test]
    fn walsh_of_dc_spreads_evenly() {
        let mut input = [0i16; 16];
        input[0] = 80;
        assert_eq!(inverse_walsh(&input), [10; 16]);
    }

    /// Lanes of sixteen blocks from a xorshift generator: full 16-bit range, small values and
    /// the extremes, so the 16-bit wrapping of the intermediates is exercised.
    fn random_lanes(seed: u64) -> [[i16; 16]; 16] {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        std::array::from_fn(|_| {
            std::array::from_fn(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let value = (state >> 16) as i16;
                match seed % 5 {
                    0 => value,
                    1 => value >> 8,
                    2 => [
                        i16::MIN,
                        i16::MAX,
                        0,
                        -1,
                        8191,
                        -8191,
                        8192,
                        -8192,
                        2730,
                        -2731,
                    ][(state >> 40) as usize % 10],
                    3 => value >> 2,
                    _ => value >> 4,
                }
            })
        })
    }

    /// Checks `transform` against [`inverse_dct`] on many seeded blocks.
    fn check_inverse_dct_lanes(transform: impl Fn(&[[i16; 16]; 16]) -> [[i16; 16]; 16]) {
        for seed in 0..4000 {
            let lanes = random_lanes(seed);
            let residuals = transform(&lanes);
            for block in 0..16 {
                let input = std::array::from_fn(|raster| lanes[raster][block]);
                let expected = inverse_dct(&input);
                let got: [i16; 16] = std::array::from_fn(|raster| residuals[raster][block]);
                assert_eq!(got, expected, "seed {seed} block {block}: {input:?}");
            }
        }
    }

    #[test]
    fn lanes_match_block_at_a_time_inverse_dct() {
        check_inverse_dct_lanes(inverse_dct_lanes);
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn avx2_lanes_match_block_at_a_time_inverse_dct() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: the AVX2 inverse DCT is not tested");
            return;
        }
        // SAFETY: the CPU supports AVX2.
        check_inverse_dct_lanes(|lanes| unsafe { inverse_dct_lanes_avx2(lanes) });
        // Values within +-1023 keep the first pass within +-8191: the 16-bit second pass.
        for seed in 0..4000 {
            let lanes = random_lanes(seed).map(|row| row.map(|value| value >> 5));
            // SAFETY: the CPU supports AVX2.
            let residuals = unsafe { inverse_dct_lanes_avx2(&lanes) };
            assert_eq!(residuals, inverse_dct_lanes(&lanes), "seed {seed}");
        }
        // A first row alone comes out of the first pass unchanged in every row, so these reach
        // the second pass's sums at the 16-bit limit (magnitudes up to 8191, the 16-bit path)
        // and past it (magnitudes above, which must take the 32-bit path).
        let within = [0i16, 8191, -8191, 4096, -4096, 1, -1];
        let beyond = [8192i16, -8192, 10000, -10000, 12000, -12000, 16383, -16383];
        for values in [&within[..], &beyond[..]] {
            let count = values.len();
            let rows: Vec<[i16; 4]> = (0..count.pow(4))
                .map(|index| {
                    std::array::from_fn(|column| values[index / count.pow(column as u32) % count])
                })
                .collect();
            for chunk in rows.chunks(16) {
                let mut lanes = [[0i16; 16]; 16];
                for (block, row) in chunk.iter().enumerate() {
                    for column in 0..4 {
                        lanes[column][block] = row[column];
                    }
                }
                // SAFETY: the CPU supports AVX2.
                let residuals = unsafe { inverse_dct_lanes_avx2(&lanes) };
                assert_eq!(residuals, inverse_dct_lanes(&lanes), "{chunk:?}");
            }
        }
    }

    /// Random pixels and coefficients (small, large and extreme, DC-only or not) through
    /// [`add_inverse_dct`], which takes the vector path unless the portable code is forced,
    /// against the scalar inverse DCT plus clamped addition.
    #[test]
    fn add_inverse_dct_matches_scalar_reconstruction() {
        let mut state = 0x1234_5678_9ABC_DEF1u64;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        for case in 0..200_000u32 {
            let stride = [4, 8, 16, 19][case as usize % 4];
            let mut pixels: Vec<u8> = (0..stride * 4 + 3).map(|_| next() as u8).collect();
            let offset = (next() % 4) as usize;
            let shift = [0, 4, 6, 8, 10, 12][(case / 4) as usize % 6];
            let mut coefficients: [i16; 16] = std::array::from_fn(|_| (next() as i16) >> shift);
            if case % 7 == 0 {
                coefficients[1..].fill(0);
            } else if case % 5 == 0 {
                for value in &mut coefficients {
                    if next() % 3 == 0 {
                        *value = 0;
                    }
                }
            }
            let mut expected = pixels.clone();
            add_residual(&inverse_dct(&coefficients), &mut expected, offset, stride);
            add_inverse_dct(&coefficients, &mut pixels, offset, stride);
            assert_eq!(pixels, expected, "{coefficients:?} stride {stride}");
        }
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_inverse_dct_is_exact_whenever_it_takes_the_16_bit_path() {
        // A first row alone passes the first pass unchanged, so these first rows reach the
        // second pass's sums at the 16-bit limit (up to +-8191: the 16-bit path must run) and
        // past it (beyond: it may run only where it is still exact).
        let within = [0i16, 8191, -8191, 4096, -4096, 1, -1];
        let beyond = [8192i16, -8192, 10000, -10000, 12000, -12000, 16383, -16383];
        for (values, must_run) in [(&within[..], true), (&beyond[..], false)] {
            let count = values.len();
            for index in 0..count.pow(4) {
                let coefficients: [i16; 16] = std::array::from_fn(|position| {
                    if position < 4 {
                        values[index / count.pow(position as u32) % count]
                    } else {
                        0
                    }
                });
                let mut pixels: [u8; 16] = std::array::from_fn(|i| (i * 17) as u8);
                let mut expected = pixels;
                add_residual(&inverse_dct(&coefficients), &mut expected, 0, 4);
                if sse2::add_inverse_dct(&coefficients, &mut pixels, 0, 4) {
                    assert_eq!(pixels, expected, "{coefficients:?}");
                } else {
                    assert!(!must_run, "{coefficients:?} left the 16-bit path");
                    assert_eq!(pixels, std::array::from_fn(|i| (i * 17) as u8));
                }
            }
        }
    }
}
