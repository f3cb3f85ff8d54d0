//! Inter prediction (RFC 6386 section 18): sub-pixel interpolation from a reference plane with
//! the six-tap (version 0) or bilinear (versions 1-3) filters.
//!
//! Motion vectors may point outside the reference; pixels there are the nearest edge pixel
//! (the plane is extended infinitely), which is what libvpx's border plus mv clamping amount to.

use crate::modes::MotionVector;
use crate::picture::Plane;
use crate::tables::{BILINEAR_FILTERS, SIXTAP_FILTERS};

/// The sub-pixel interpolation filter of a bitstream version.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum InterpolationFilter {
    /// Six-tap filter (version 0).
    SixTap,
    /// Bilinear filter (versions 1, 2 and 3).
    Bilinear,
}

impl InterpolationFilter {
    /// The filter used by bitstream `version`.
    pub fn for_version(version: u8) -> Self {
        match version {
            1..=3 => InterpolationFilter::Bilinear,
            _ => InterpolationFilter::SixTap,
        }
    }
}

/// Margin of reference pixels read around a block: two before and three after for six taps.
const MARGIN_BEFORE: usize = 2;
const MARGIN_AFTER: usize = 3;
/// Largest block: 16 pixels plus the margins.
const MAX_SOURCE: usize = 16 + MARGIN_BEFORE + MARGIN_AFTER;
/// Row distance of the buffer holding a region fetched with edge extension: wider than
/// [`MAX_SOURCE`] so that the vector kernels' whole-register loads stay inside its rows.
const FETCH_STRIDE: usize = 24;

/// Predicts the `width` x `height` block at (`x`, `y`) of `reference` displaced by `mv`
/// (eighth-pixel units, fractions `mv & 7`) into `out` (rows `out_stride` apart). Blocks are
/// square: 16, 8 or 4 pixels.
#[allow(clippy::too_many_arguments)]
pub fn predict_block(
    reference: &Plane,
    x: usize,
    y: usize,
    mv: MotionVector,
    width: usize,
    height: usize,
    filter: InterpolationFilter,
    out: &mut [u8],
    out_stride: usize,
) {
    assert_eq!(width, height, "prediction blocks are square");
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() {
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2.
        unsafe { predict_square_avx2(reference, x, y, mv, width, filter, out, out_stride) };
        return;
    }
    predict_square::<false>(reference, x, y, mv, width, filter, out, out_stride);
}

/// The six-tap prediction of a square `size`-pixel block (16 or 8) whose horizontal fraction
/// is zero and vertical fraction `fraction_y` (eighth pixels, not zero), read straight from
/// `source` (rows `stride` apart, the block's top-left pixel at `origin`) without edge
/// handling: the two rows above the block and the three below must be there.
///
/// The encoder runs it on already filtered planes: a vertical pass over a plane filtered
/// horizontally at the same phase is the decoder's two-pass prediction.
#[allow(clippy::too_many_arguments)]
pub fn predict_vertical_sixtap(
    source: &[u8],
    stride: usize,
    origin: usize,
    fraction_y: usize,
    size: usize,
    out: &mut [u8],
    out_stride: usize,
) {
    assert!(
        (1..8).contains(&fraction_y) && (size == 16 || size == 8),
        "a vertical six-tap prediction needs a fraction and a 16 or 8 pixel block"
    );
    let (column, top) = (origin % stride, origin / stride);
    assert!(
        top >= MARGIN_BEFORE
            && column + size <= stride
            && (top + size - 1 + MARGIN_AFTER) * stride + column + size <= source.len(),
        "the block and its vertical taps lie inside the source"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() {
        let last_row = source.len() / stride - 1;
        let rows = (stride, column, top as isize, last_row);
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2. With no horizontal fraction
        // the kernel loads each row's `size` pixels from the block's column, which the
        // assertion above keeps inside `source` for every row it reads.
        unsafe {
            match size {
                16 => sixtap_vector::predict::<16>(source, rows, 0, fraction_y, out, out_stride),
                _ => sixtap_vector::predict::<8>(source, rows, 0, fraction_y, out, out_stride),
            }
        }
        return;
    }
    match size {
        16 => sixtap::<16>(source, stride, origin, 0, fraction_y, out, out_stride),
        _ => sixtap::<8>(source, stride, origin, 0, fraction_y, out, out_stride),
    }
}

/// [`predict_block`] compiled for CPUs with AVX2, with the six-tap filter in vector kernels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
#[allow(clippy::too_many_arguments)]
unsafe fn predict_square_avx2(
    reference: &Plane,
    x: usize,
    y: usize,
    mv: MotionVector,
    size: usize,
    filter: InterpolationFilter,
    out: &mut [u8],
    out_stride: usize,
) {
    predict_square::<true>(reference, x, y, mv, size, filter, out, out_stride);
}

/// The portable prediction of a square block ([`predict_block`]); `VECTOR` selects the AVX2
/// six-tap kernels, only allowed in code compiled for AVX2 and run on a CPU that has it.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn predict_square<const VECTOR: bool>(
    reference: &Plane,
    x: usize,
    y: usize,
    mv: MotionVector,
    width: usize,
    filter: InterpolationFilter,
    out: &mut [u8],
    out_stride: usize,
) {
    match width {
        16 => predict_sized::<16, VECTOR>(reference, x, y, mv, filter, out, out_stride),
        8 => predict_sized::<8, VECTOR>(reference, x, y, mv, filter, out, out_stride),
        4 => predict_sized::<4, VECTOR>(reference, x, y, mv, filter, out, out_stride),
        _ => panic!("unsupported prediction block size {width}"),
    }
}

#[inline(always)]
fn predict_sized<const N: usize, const VECTOR: bool>(
    reference: &Plane,
    x: usize,
    y: usize,
    mv: MotionVector,
    filter: InterpolationFilter,
    out: &mut [u8],
    out_stride: usize,
) {
    let fraction_x = (mv.col & 7) as usize;
    let fraction_y = (mv.row & 7) as usize;
    let source_x = x as isize + (isize::from(mv.col) >> 3) - MARGIN_BEFORE as isize;
    let source_y = y as isize + (isize::from(mv.row) >> 3) - MARGIN_BEFORE as isize;
    let region = N + MARGIN_BEFORE + MARGIN_AFTER;
    let whole_pixel = fraction_x == 0 && fraction_y == 0;

    let mut fetched = std::mem::MaybeUninit::<[u8; FETCH_STRIDE * MAX_SOURCE]>::uninit();
    #[cfg(target_arch = "x86_64")]
    if VECTOR && (whole_pixel || filter == InterpolationFilter::SixTap) {
        // The vector kernels clamp row indices themselves, so only columns outside the plane
        // need the edge-extended copy. They load whole registers: up to `vector_load` bytes
        // from two pixels before a row's first output, past the region's right edge, which
        // the plane's last row must still hold.
        let vector_load = if N == 16 { 24 } else { 16 };
        let last_row = reference.height - 1;
        let columns_inside = source_x >= 0
            && source_x as usize + region <= reference.width
            && last_row * reference.stride + source_x as usize + vector_load
                <= reference.data.len();
        let (source, stride, column, top, last_row) = if columns_inside {
            let column = source_x as usize + MARGIN_BEFORE;
            let top = source_y + MARGIN_BEFORE as isize;
            (&reference.data[..], reference.stride, column, top, last_row)
        } else {
            let buffer = fetched.write([0u8; FETCH_STRIDE * MAX_SOURCE]);
            match N {
                16 => fetch_clamped::<21>(reference, source_x, source_y, buffer),
                8 => fetch_clamped::<13>(reference, source_x, source_y, buffer),
                _ => fetch_clamped::<9>(reference, source_x, source_y, buffer),
            }
            let margin = MARGIN_BEFORE;
            (
                &buffer[..],
                FETCH_STRIDE,
                margin,
                margin as isize,
                region - 1,
            )
        };
        let rows = (stride, column, top, last_row);
        // SAFETY: `VECTOR` is only set in code compiled for AVX2, run on CPUs with AVX2.
        unsafe {
            if whole_pixel {
                sixtap_vector::copy::<N>(source, rows, out, out_stride);
            } else {
                sixtap_vector::predict::<N>(source, rows, fraction_x, fraction_y, out, out_stride);
            }
        }
        return;
    }

    let inside = source_x >= 0
        && source_y >= 0
        && source_x as usize + region <= reference.width
        && source_y as usize + region <= reference.height;
    let (source, stride, origin): (&[u8], usize, usize) = if inside {
        let origin = (source_y as usize + MARGIN_BEFORE) * reference.stride
            + source_x as usize
            + MARGIN_BEFORE;
        (&reference.data, reference.stride, origin)
    } else {
        let buffer = fetched.write([0u8; FETCH_STRIDE * MAX_SOURCE]);
        match N {
            16 => fetch_clamped::<21>(reference, source_x, source_y, buffer),
            8 => fetch_clamped::<13>(reference, source_x, source_y, buffer),
            _ => fetch_clamped::<9>(reference, source_x, source_y, buffer),
        }
        (
            &buffer[..],
            FETCH_STRIDE,
            MARGIN_BEFORE * FETCH_STRIDE + MARGIN_BEFORE,
        )
    };

    if whole_pixel {
        for row in 0..N {
            let start = origin + row * stride;
            out[row * out_stride..row * out_stride + N].copy_from_slice(&source[start..start + N]);
        }
        return;
    }
    match filter {
        InterpolationFilter::SixTap => sixtap::<N>(
            source, stride, origin, fraction_x, fraction_y, out, out_stride,
        ),
        InterpolationFilter::Bilinear => bilinear(
            source, stride, origin, fraction_x, fraction_y, N, N, out, out_stride,
        ),
    }
}

/// Copies the `SIZE` x `SIZE` region at (`x`, `y`) of `reference` into `out` (rows
/// `FETCH_STRIDE` apart), replicating edge pixels for coordinates outside the plane.
///
/// Built from fixed-size copies and fills (no calls to `memcpy` for a few bytes): rows
/// clamped to the same plane row are copied from the row before, and a row cut by one side
/// of the plane is filled with that side's edge pixel, then overwritten by the pixels inside.
#[inline(always)]
fn fetch_clamped<const SIZE: usize>(reference: &Plane, x: isize, y: isize, out: &mut [u8]) {
    let last_column = reference.width as isize - 1;
    let last_row = reference.height as isize - 1;
    // Output columns before `left` lie left of the plane; from `right_start` on, right of it.
    let left = (-x).clamp(0, SIZE as isize) as usize;
    let right_start = (last_column + 1 - x).clamp(left as isize, SIZE as isize) as usize;
    let inside_start = (x + left as isize).max(0) as usize;
    let mut previous_row = usize::MAX;
    for row in 0..SIZE {
        let source_row = (y + row as isize).clamp(0, last_row) as usize;
        let (before, rest) = out.split_at_mut(row * FETCH_STRIDE);
        let destination: &mut [u8; SIZE] = (&mut rest[..SIZE]).try_into().expect("SIZE bytes");
        if source_row == previous_row {
            destination.copy_from_slice(&before[(row - 1) * FETCH_STRIDE..][..SIZE]);
            continue;
        }
        previous_row = source_row;
        let line = &reference.data[source_row * reference.stride..][..reference.width];
        if left == 0 && right_start == SIZE {
            destination.copy_from_slice(&line[x as usize..x as usize + SIZE]);
        } else if right_start == SIZE {
            destination.fill(line[0]);
            copy_short(&mut destination[left..], &line[..SIZE - left]);
        } else if left == 0 {
            destination.fill(line[last_column as usize]);
            if right_start > 0 {
                copy_short(&mut destination[..right_start], &line[inside_start..]);
            }
        } else {
            // A plane narrower than the region: both sides cut.
            destination[..left].fill(line[0]);
            destination[left..right_start]
                .copy_from_slice(&line[inside_start..inside_start + right_start - left]);
            destination[right_start..].fill(line[last_column as usize]);
        }
    }
}

/// Copies the first `destination.len()` (at most 32) bytes of `source` with at most two
/// overlapping fixed-size copies.
#[inline(always)]
fn copy_short(destination: &mut [u8], source: &[u8]) {
    let length = destination.len();
    let source = &source[..length];
    match length {
        0 => {}
        1..=3 => {
            for (out, &pixel) in destination.iter_mut().zip(source) {
                *out = pixel;
            }
        }
        4..=7 => copy_overlapping::<4>(destination, source),
        8..=15 => copy_overlapping::<8>(destination, source),
        16..=32 => copy_overlapping::<16>(destination, source),
        _ => destination.copy_from_slice(source),
    }
}

/// Copies `source` (`WIDTH` to `2 * WIDTH` bytes) into `destination` of the same length as
/// two `WIDTH`-byte copies, from the start and to the end.
#[inline(always)]
fn copy_overlapping<const WIDTH: usize>(destination: &mut [u8], source: &[u8]) {
    let length = destination.len();
    let head: &[u8; WIDTH] = source[..WIDTH].try_into().expect("WIDTH bytes");
    let tail: &[u8; WIDTH] = source[length - WIDTH..].try_into().expect("WIDTH bytes");
    *<&mut [u8; WIDTH]>::try_from(&mut destination[..WIDTH]).expect("WIDTH bytes") = *head;
    *<&mut [u8; WIDTH]>::try_from(&mut destination[length - WIDTH..]).expect("WIDTH bytes") = *tail;
}

/// Six-tap taps split by sign, as unsigned magnitudes: VP8's filters have non-negative taps
/// 0, 2, 3, 5 and non-positive taps 1, 4, so both partial sums fit in 16 bits and the
/// arithmetic below is exact (and vectorises well).
#[derive(Clone, Copy)]
struct SplitTaps {
    positive: [u16; 4],
    negative: [u16; 2],
}

impl SplitTaps {
    #[inline(always)]
    fn new(taps: &[i32; 6]) -> Self {
        SplitTaps {
            positive: [
                taps[0] as u16,
                taps[2] as u16,
                taps[3] as u16,
                taps[5] as u16,
            ],
            negative: [(-taps[1]) as u16, (-taps[4]) as u16],
        }
    }
}

/// Combines the six taps' source rows (`sources[k][column]` is the pixel under tap `k` for
/// output `column`) into `out`. Each step is a whole-row operation, which vectorises.
#[inline(always)]
fn combine_taps<const N: usize>(sources: [&[u8]; 6], taps: &SplitTaps, out: &mut [u8]) {
    let sources = [
        &sources[0][..N],
        &sources[1][..N],
        &sources[2][..N],
        &sources[3][..N],
        &sources[4][..N],
        &sources[5][..N],
    ];
    let [s0, s1, s2, s3, s4, s5] = sources;
    let [t0, t2, t3, t5] = taps.positive;
    let [t1, t4] = taps.negative;
    let out = &mut out[..N];
    for column in 0..N {
        let positive = 64
            + t0 * u16::from(s0[column])
            + t2 * u16::from(s2[column])
            + t3 * u16::from(s3[column])
            + t5 * u16::from(s5[column]);
        let negative = t1 * u16::from(s1[column]) + t4 * u16::from(s4[column]);
        out[column] = (positive.saturating_sub(negative) >> 7).min(255) as u8;
    }
}

/// Six-tap filter of one row: `source` holds `N + 5` pixels starting two before the first.
#[inline(always)]
fn sixtap_row<const N: usize>(source: &[u8], taps: &SplitTaps, out: &mut [u8]) {
    let sources = [
        &source[..N],
        &source[1..1 + N],
        &source[2..2 + N],
        &source[3..3 + N],
        &source[4..4 + N],
        &source[5..5 + N],
    ];
    combine_taps::<N>(sources, taps, out);
}

/// Six-tap filter down columns: each output pixel combines the same column of six rows.
#[inline(always)]
fn sixtap_column<const N: usize>(rows: [&[u8]; 6], taps: &SplitTaps, out: &mut [u8]) {
    combine_taps::<N>(rows, taps, out);
}

#[inline(always)]
fn sixtap<const N: usize>(
    source: &[u8],
    stride: usize,
    origin: usize,
    fraction_x: usize,
    fraction_y: usize,
    out: &mut [u8],
    out_stride: usize,
) {
    let horizontal = &SplitTaps::new(&SIXTAP_FILTERS[fraction_x]);
    let vertical = &SplitTaps::new(&SIXTAP_FILTERS[fraction_y]);
    if fraction_y == 0 {
        for row in 0..N {
            let start = origin + row * stride - MARGIN_BEFORE;
            sixtap_row::<N>(&source[start..], horizontal, &mut out[row * out_stride..]);
        }
        return;
    }
    if fraction_x == 0 {
        for row in 0..N {
            let start = origin + row * stride - MARGIN_BEFORE * stride;
            let rows = [
                &source[start..],
                &source[start + stride..],
                &source[start + 2 * stride..],
                &source[start + 3 * stride..],
                &source[start + 4 * stride..],
                &source[start + 5 * stride..],
            ];
            sixtap_column::<N>(rows, vertical, &mut out[row * out_stride..]);
        }
        return;
    }
    // Two passes: horizontal over the rows the vertical taps need, then vertical.
    let mut temp = [[0u8; N]; MAX_SOURCE];
    for (row, line) in temp.iter_mut().enumerate().take(N + 5) {
        let start = origin + row * stride - MARGIN_BEFORE * stride - MARGIN_BEFORE;
        sixtap_row::<N>(&source[start..], horizontal, line);
    }
    for row in 0..N {
        let rows = [
            &temp[row][..],
            &temp[row + 1][..],
            &temp[row + 2][..],
            &temp[row + 3][..],
            &temp[row + 4][..],
            &temp[row + 5][..],
        ];
        sixtap_column::<N>(rows, vertical, &mut out[row * out_stride..]);
    }
}

/// The six-tap filter in AVX2 registers, bit-exact with [`sixtap`].
///
/// Pixels are multiplied by taps with `maddubs` (unsigned pixel bytes times signed tap bytes,
/// adjacent products summed in 16 bits with saturation), on pairs of taps chosen so that no
/// pair can saturate: taps 1 and 2 (at most 123 and at least -16, so a pair sum lies within
/// -16 * 255 ..= 123 * 255), taps 3 and 4 (the same by symmetry) and the non-negative outer
/// taps 0 and 5 (at most 3 each). Summing the three pairs: the first sum of two pairs is at
/// least -32 * 255 and only saturates upward; the outer pair is never negative, so a
/// saturated sum means a true sum of at least 32767, which rounds to 255 like the saturated
/// one. Rounding, shifting right by 7 and packing with unsigned saturation then gives exactly
/// the portable code's clamped result. The centre tap 128 of fraction 0 would not fit
/// a signed byte, but fraction 0 is never filtered. Odd fractions have zero outer taps and
/// skip them (and, vertically, the two rows they would read).
#[cfg(target_arch = "x86_64")]
mod sixtap_vector {
    use crate::tables::SIXTAP_FILTERS;
    use std::arch::x86_64::*;

    /// Byte shuffle gathering, for the eight outputs of a 128-bit lane whose byte 0 is the
    /// pixel two before the first output, the pixel pairs under taps 1 and 2.
    const INNER_LOW_PIXELS: [u8; 32] = lane_pairs(1, 2);
    /// The same for taps 3 and 4.
    const INNER_HIGH_PIXELS: [u8; 32] = lane_pairs(3, 4);
    /// The same for taps 0 and 5.
    const OUTER_PIXELS: [u8; 32] = lane_pairs(0, 5);

    /// Shuffle of both 128-bit lanes putting, for output `i` of 8, the pixels `i + first` and
    /// `i + second` side by side.
    const fn lane_pairs(first: u8, second: u8) -> [u8; 32] {
        let mut mask = [0u8; 32];
        let mut output = 0;
        while output < 8 {
            mask[2 * output] = output as u8 + first;
            mask[2 * output + 1] = output as u8 + second;
            mask[16 + 2 * output] = output as u8 + first;
            mask[16 + 2 * output + 1] = output as u8 + second;
            output += 1;
        }
        mask
    }

    /// One fraction's taps as byte pairs for `maddubs`, repeated across a register.
    #[derive(Clone, Copy)]
    struct TapPairs {
        inner_low: __m256i,
        inner_high: __m256i,
        outer: __m256i,
    }

    impl TapPairs {
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn new(fraction: usize) -> Self {
            let taps = SIXTAP_FILTERS[fraction];
            let pair = |first: i32, second: i32| {
                i16::from_le_bytes([first as i8 as u8, second as i8 as u8])
            };
            TapPairs {
                inner_low: _mm256_set1_epi16(pair(taps[1], taps[2])),
                inner_high: _mm256_set1_epi16(pair(taps[3], taps[4])),
                outer: _mm256_set1_epi16(pair(taps[0], taps[5])),
            }
        }
    }

    /// The rounded, shifted sum of the three pair products (see the module notes):
    /// `(sum + 64) >> 7` in one rounding multiply by 256, `((sum * 256 >> 14) + 1) >> 1`,
    /// which is the same without saturating.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn round256(inner_low: __m256i, inner_high: __m256i, outer: Option<__m256i>) -> __m256i {
        let mut sum = _mm256_adds_epi16(inner_low, inner_high);
        if let Some(outer) = outer {
            sum = _mm256_adds_epi16(sum, outer);
        }
        _mm256_mulhrs_epi16(sum, _mm256_set1_epi16(256))
    }

    /// [`round256`] on 128-bit registers.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn round128(inner_low: __m128i, inner_high: __m128i, outer: Option<__m128i>) -> __m128i {
        let mut sum = _mm_adds_epi16(inner_low, inner_high);
        if let Some(outer) = outer {
            sum = _mm_adds_epi16(sum, outer);
        }
        _mm_mulhrs_epi16(sum, _mm_set1_epi16(256))
    }

    /// Horizontal filter of `pixels`, each 128-bit lane holding the pixels from two before its
    /// eight outputs: sixteen 16-bit results, eight per lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn horizontal_lanes<const SIX: bool>(pixels: __m256i, taps: &TapPairs) -> __m256i {
        let mask = |bytes: &[u8; 32]| _mm256_loadu_si256(bytes.as_ptr().cast());
        let product = |bytes: &[u8; 32], taps: __m256i| {
            _mm256_maddubs_epi16(_mm256_shuffle_epi8(pixels, mask(bytes)), taps)
        };
        round256(
            product(&INNER_LOW_PIXELS, taps.inner_low),
            product(&INNER_HIGH_PIXELS, taps.inner_high),
            SIX.then(|| product(&OUTER_PIXELS, taps.outer)),
        )
    }

    /// [`horizontal_lanes`] on one 128-bit register (eight outputs).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn horizontal_lane<const SIX: bool>(pixels: __m128i, taps: &TapPairs) -> __m128i {
        let mask = |bytes: &[u8; 32]| _mm_loadu_si128(bytes.as_ptr().cast());
        let product = |bytes: &[u8; 32], taps: __m256i| {
            _mm_maddubs_epi16(
                _mm_shuffle_epi8(pixels, mask(bytes)),
                _mm256_castsi256_si128(taps),
            )
        };
        round128(
            product(&INNER_LOW_PIXELS, taps.inner_low),
            product(&INNER_HIGH_PIXELS, taps.inner_high),
            SIX.then(|| product(&OUTER_PIXELS, taps.outer)),
        )
    }

    /// A row of sixteen pixels in the "doubled" layout the 16-wide kernels work in: the
    /// 64-bit halves ordered pixels 0-7, 0-7, 8-15, 8-15, so that interleaving two rows'
    /// bytes within each 128-bit lane yields columns 0-7 in the low lane and 8-15 in the high.
    type DoubledRow = __m256i;

    /// Sixteen horizontally filtered pixels of the row at `row` (two pixels before the first
    /// output), as a [`DoubledRow`]. Reads 24 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filtered_row16<const SIX: bool>(row: *const u8, taps: &TapPairs) -> DoubledRow {
        let low = _mm_loadu_si128(row.cast());
        let high = _mm_loadu_si128(row.add(8).cast());
        let pixels = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(low), high);
        let filtered = horizontal_lanes::<SIX>(pixels, taps);
        _mm256_packus_epi16(filtered, filtered)
    }

    /// The sixteen pixels at `row` as a [`DoubledRow`]. Reads 16 bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn loaded_row16(row: *const u8) -> DoubledRow {
        let pixels = _mm256_castsi128_si256(_mm_loadu_si128(row.cast()));
        _mm256_permute4x64_epi64::<0b01_01_00_00>(pixels)
    }

    /// Stores a [`DoubledRow`]'s sixteen pixels at `out`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store_row16(row: DoubledRow, out: *mut u8) {
        let packed = _mm256_permute4x64_epi64::<0b00_00_10_00>(row);
        _mm_storeu_si128(out.cast(), _mm256_castsi256_si128(packed));
    }

    /// Where the kernels find the source rows of a block: row `r` (0 the block's first,
    /// negative above it) is plane row `top + r` clamped to `0..=last_row`, which extends the
    /// plane's first and last rows up and down; pixels start at `column`.
    #[derive(Clone, Copy)]
    pub(super) struct Rows {
        first_column: *const u8,
        stride: usize,
        top: isize,
        last_row: isize,
    }

    impl Rows {
        /// Checks that every row `0..=last_row` of `source` (rows `stride` apart) holds
        /// `loaded` bytes from `before` bytes before `column`.
        fn new(
            source: &[u8],
            (stride, column, top, last_row): (usize, usize, isize, usize),
            before: usize,
            loaded: usize,
        ) -> Self {
            assert!(
                column >= before && last_row * stride + column - before + loaded <= source.len(),
                "prediction source outside its plane"
            );
            Rows {
                // In bounds: `column` is below `source.len()` by the check above.
                first_column: source[column..].as_ptr(),
                stride,
                top,
                last_row: last_row as isize,
            }
        }

        /// The first pixel of the block's row `row`.
        #[inline(always)]
        fn row(&self, row: isize) -> *const u8 {
            let row = (self.top + row).clamp(0, self.last_row) as usize;
            self.first_column.wrapping_add(row * self.stride)
        }
    }

    /// Predicts an `N` x `N` block like [`super::sixtap`], with at least one non-zero
    /// fraction, reading `source` through `rows` (stride, first column, top row, last row:
    /// see [`Rows`]).
    ///
    /// Panics unless every row of `source` up to the last holds the bytes the kernels load:
    /// from two pixels before the block for 24 bytes (16-wide) or 16 bytes (8 and 4 wide)
    /// when filtering horizontally, else the block's own `N` pixels.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn predict<const N: usize>(
        source: &[u8],
        rows: (usize, usize, isize, usize),
        fraction_x: usize,
        fraction_y: usize,
        out: &mut [u8],
        out_stride: usize,
    ) {
        debug_assert!(fraction_x != 0 || fraction_y != 0);
        assert!(
            out.len() >= (N - 1) * out_stride + N,
            "prediction output too short"
        );
        let (before, loaded) = match (fraction_x, N) {
            (0, _) => (0, N),
            (_, 16) => (2, 24),
            _ => (2, 16),
        };
        let block = Rows::new(source, rows, before, loaded);
        let out = out.as_mut_ptr();
        let horizontal = TapPairs::new(fraction_x);
        let vertical = TapPairs::new(fraction_y);
        let six_horizontal = fraction_x % 2 == 0;
        let six_vertical = fraction_y % 2 == 0;
        match (fraction_x != 0, fraction_y != 0) {
            (true, false) if six_horizontal => {
                horizontal_only::<N, true>(block, &horizontal, out, out_stride)
            }
            (true, false) => horizontal_only::<N, false>(block, &horizontal, out, out_stride),
            (false, _) if six_vertical => {
                two_pass::<N, false, false, true>(block, &horizontal, &vertical, out, out_stride)
            }
            (false, _) => {
                two_pass::<N, false, false, false>(block, &horizontal, &vertical, out, out_stride)
            }
            (true, true) => match (six_horizontal, six_vertical) {
                (true, true) => {
                    two_pass::<N, true, true, true>(block, &horizontal, &vertical, out, out_stride)
                }
                (true, false) => {
                    two_pass::<N, true, true, false>(block, &horizontal, &vertical, out, out_stride)
                }
                (false, true) => {
                    two_pass::<N, true, false, true>(block, &horizontal, &vertical, out, out_stride)
                }
                (false, false) => two_pass::<N, true, false, false>(
                    block,
                    &horizontal,
                    &vertical,
                    out,
                    out_stride,
                ),
            },
        }
    }

    /// Copies the `N` x `N` block read from `source` through `rows` (see [`predict`]) to
    /// `out` (rows `out_stride` apart): the prediction of a whole-pixel mv.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn copy<const N: usize>(
        source: &[u8],
        rows: (usize, usize, isize, usize),
        out: &mut [u8],
        out_stride: usize,
    ) {
        assert!(
            out.len() >= (N - 1) * out_stride + N,
            "prediction output too short"
        );
        let block = Rows::new(source, rows, 0, N);
        let out = out.as_mut_ptr();
        let rows_inside = block.top >= 0 && block.top + N as isize - 1 <= block.last_row;
        let first = block.row(0);
        for row in 0..N {
            let from = if rows_inside {
                first.add(row * block.stride)
            } else {
                block.row(row as isize)
            };
            let to = out.add(row * out_stride);
            match N {
                16 => _mm_storeu_si128(to.cast(), _mm_loadu_si128(from.cast())),
                8 => _mm_storel_epi64(to.cast(), _mm_loadl_epi64(from.cast())),
                _ => to
                    .cast::<u32>()
                    .write_unaligned(from.cast::<u32>().read_unaligned()),
            }
        }
    }

    /// The horizontal filter alone on the block's `N` rows.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn horizontal_only<const N: usize, const SIX: bool>(
        block: Rows,
        taps: &TapPairs,
        out: *mut u8,
        out_stride: usize,
    ) {
        for row in 0..N {
            let source = block.row(row as isize).sub(2);
            let destination = out.add(row * out_stride);
            if N == 16 {
                store_row16(filtered_row16::<SIX>(source, taps), destination);
            } else {
                let filtered = horizontal_lane::<SIX>(_mm_loadu_si128(source.cast()), taps);
                store_narrow::<N>(_mm_packus_epi16(filtered, filtered), destination);
            }
        }
    }

    /// Source rows `row` and `row + 1` of an 8- or 4-wide block (eight pixels each),
    /// filtered horizontally when `HORIZONTAL`: the first in the low 64 bits of the low
    /// 128-bit lane, the second in the low 64 bits of the high lane.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn row_pair8<const HORIZONTAL: bool, const SIX: bool>(
        block: &Rows,
        row: isize,
        taps: &TapPairs,
    ) -> __m256i {
        if HORIZONTAL {
            let first = _mm_loadu_si128(block.row(row).sub(2).cast());
            let second = _mm_loadu_si128(block.row(row + 1).sub(2).cast());
            let pixels = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(first), second);
            let filtered = horizontal_lanes::<SIX>(pixels, taps);
            _mm256_packus_epi16(filtered, filtered)
        } else {
            let first = _mm_loadl_epi64(block.row(row).cast());
            let second = _mm_loadl_epi64(block.row(row + 1).cast());
            _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(first), second)
        }
    }

    /// [`two_pass`] for 8- and 4-wide blocks (`N`), two rows per 256-bit register:
    /// `pairs[m]` holds source rows `first + m` and `first + m + 1` (`first` the topmost row
    /// the vertical taps read); the even ones are loaded (and filtered), the odd ones
    /// recombined from their neighbours. Output rows `r` and `r + 1` come out together. The pair past the
    /// last needed row reads one row more, which [`Rows`] keeps inside the source.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn two_pass_narrow<
        const N: usize,
        const HORIZONTAL: bool,
        const SIX_HORIZONTAL: bool,
        const SIX_VERTICAL: bool,
    >(
        block: Rows,
        horizontal: &TapPairs,
        vertical: &TapPairs,
        out: *mut u8,
        out_stride: usize,
    ) {
        let (first, count) = if SIX_VERTICAL {
            (-2, N + 5)
        } else {
            (-1, N + 3)
        };
        let mut pairs = [_mm256_setzero_si256(); 13];
        for m in (0..count).step_by(2) {
            pairs[m] =
                row_pair8::<HORIZONTAL, SIX_HORIZONTAL>(&block, first + m as isize, horizontal);
        }
        for m in (1..count - 1).step_by(2) {
            pairs[m] = _mm256_permute2x128_si256::<0x21>(pairs[m - 1], pairs[m + 1]);
        }
        for r in (0..N).step_by(2) {
            // Output row `r` in the low lane, `r + 1` in the high lane.
            let (inner_low, inner_high, outer) = if SIX_VERTICAL {
                (
                    _mm256_unpacklo_epi8(pairs[r + 1], pairs[r + 2]),
                    _mm256_unpacklo_epi8(pairs[r + 3], pairs[r + 4]),
                    Some(_mm256_unpacklo_epi8(pairs[r], pairs[r + 5])),
                )
            } else {
                (
                    _mm256_unpacklo_epi8(pairs[r], pairs[r + 1]),
                    _mm256_unpacklo_epi8(pairs[r + 2], pairs[r + 3]),
                    None,
                )
            };
            let filtered = round256(
                _mm256_maddubs_epi16(inner_low, vertical.inner_low),
                _mm256_maddubs_epi16(inner_high, vertical.inner_high),
                outer.map(|outer| _mm256_maddubs_epi16(outer, vertical.outer)),
            );
            let packed = _mm256_packus_epi16(filtered, filtered);
            store_narrow::<N>(_mm256_castsi256_si128(packed), out.add(r * out_stride));
            store_narrow::<N>(
                _mm256_extracti128_si256::<1>(packed),
                out.add((r + 1) * out_stride),
            );
        }
    }

    /// Stores the low `N` (8 or 4) bytes of `pixels` at `out`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store_narrow<const N: usize>(pixels: __m128i, out: *mut u8) {
        if N == 8 {
            _mm_storel_epi64(out.cast(), pixels);
        } else {
            out.cast::<i32>().write_unaligned(_mm_cvtsi128_si32(pixels));
        }
    }

    /// Interleaves the bytes of two rows within each 128-bit lane (the low half of each
    /// lane's pixels: all of a [`DoubledRow`]), pairing them for a vertical tap pair.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn interleave16(upper: DoubledRow, lower: DoubledRow) -> __m256i {
        _mm256_unpacklo_epi8(upper, lower)
    }

    /// The vertical filter: from the interleaved rows under taps 1-2, 3-4 and (with six
    /// taps) 0-5, the filtered row in the rows' layout.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn vertical16(
        inner_low: __m256i,
        inner_high: __m256i,
        outer: Option<__m256i>,
        taps: &TapPairs,
    ) -> DoubledRow {
        let filtered = round256(
            _mm256_maddubs_epi16(inner_low, taps.inner_low),
            _mm256_maddubs_epi16(inner_high, taps.inner_high),
            outer.map(|outer| _mm256_maddubs_epi16(outer, taps.outer)),
        );
        _mm256_packus_epi16(filtered, filtered)
    }

    /// The vertical filter over rows filtered horizontally first when `HORIZONTAL` (each
    /// source row filtered once); `SIX_HORIZONTAL` and `SIX_VERTICAL` say whether the outer
    /// taps are non-zero (without them the rows two above and three below an output row are
    /// neither filtered nor read).
    ///
    /// For 16-wide blocks, output row `r` combines the interleaved row pairs (r - 1, r) and
    /// (r + 1, r + 2); the second is the first of output row `r + 2`, so each pair is
    /// interleaved once. Narrower blocks go to [`two_pass_narrow`].
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn two_pass<
        const N: usize,
        const HORIZONTAL: bool,
        const SIX_HORIZONTAL: bool,
        const SIX_VERTICAL: bool,
    >(
        block: Rows,
        horizontal: &TapPairs,
        vertical: &TapPairs,
        out: *mut u8,
        out_stride: usize,
    ) {
        let source_row = |row: isize| block.row(row);
        if N == 16 {
            let load = |row: isize| {
                if HORIZONTAL {
                    filtered_row16::<SIX_HORIZONTAL>(source_row(row).sub(2), horizontal)
                } else {
                    loaded_row16(source_row(row))
                }
            };
            // Rows r - 2 ..= r + 2 around output row `r`, and the pairs starting at r - 1
            // and r.
            let mut two_above = if SIX_VERTICAL {
                load(-2)
            } else {
                _mm256_setzero_si256()
            };
            let mut above = load(-1);
            let mut current = load(0);
            let mut below = load(1);
            let mut two_below = load(2);
            let mut pair_above = interleave16(above, current);
            let mut pair_current = interleave16(current, below);
            for row in 0..N as isize {
                let pair_below = interleave16(below, two_below);
                let (outer, three_below) = if SIX_VERTICAL {
                    let three_below = load(row + 3);
                    (Some(interleave16(two_above, three_below)), three_below)
                } else {
                    (None, _mm256_setzero_si256())
                };
                let filtered = vertical16(pair_above, pair_below, outer, vertical);
                store_row16(filtered, out.offset(row * out_stride as isize));
                if row + 1 == N as isize {
                    break;
                }
                pair_above = pair_current;
                pair_current = pair_below;
                two_above = above;
                above = current;
                current = below;
                below = two_below;
                two_below = if SIX_VERTICAL {
                    three_below
                } else {
                    load(row + 3)
                };
            }
        } else {
            two_pass_narrow::<N, HORIZONTAL, SIX_HORIZONTAL, SIX_VERTICAL>(
                block, horizontal, vertical, out, out_stride,
            );
        }
    }
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn bilinear(
    source: &[u8],
    stride: usize,
    origin: usize,
    fraction_x: usize,
    fraction_y: usize,
    width: usize,
    height: usize,
    out: &mut [u8],
    out_stride: usize,
) {
    let [h0, h1] = BILINEAR_FILTERS[fraction_x];
    let [v0, v1] = BILINEAR_FILTERS[fraction_y];
    let mut temp = [0u8; 17 * 16];
    for row in 0..=height {
        let start = origin + row * stride;
        for column in 0..width {
            let a = i32::from(source[start + column]);
            let b = i32::from(source[start + column + 1]);
            temp[row * 16 + column] = ((a * h0 + b * h1 + 64) >> 7) as u8;
        }
    }
    for row in 0..height {
        for column in 0..width {
            let a = i32::from(temp[row * 16 + column]);
            let b = i32::from(temp[(row + 1) * 16 + column]);
            out[row * out_stride + column] = ((a * v0 + b * v1 + 64) >> 7) as u8;
        }
    }
}

/// The chroma mv of a whole-macroblock luma mv: halved, rounding away from zero, then
/// truncated to whole pixels in full-pixel mode (version 3).
pub fn chroma_mv(mv: MotionVector, full_pixel: bool) -> MotionVector {
    let halve = |value: i16| {
        let value = i32::from(value);
        let halved = (value + if value < 0 { -1 } else { 1 }) / 2;
        mask_full_pixel(halved, full_pixel)
    };
    MotionVector::new(halve(mv.row), halve(mv.col))
}

/// The chroma mv of a 2x2 group of SPLITMV luma mvs: their average with libvpx's rounding.
pub fn chroma_mv_of_group(mvs: [MotionVector; 4], full_pixel: bool) -> MotionVector {
    let average = |sum: i32| {
        let adjusted = sum + 4 + if sum < 0 { -8 } else { 0 };
        mask_full_pixel(adjusted / 8, full_pixel)
    };
    let row: i32 = mvs.iter().map(|mv| i32::from(mv.row)).sum();
    let col: i32 = mvs.iter().map(|mv| i32::from(mv.col)).sum();
    MotionVector::new(average(row), average(col))
}

/// Predicts the luma of a SPLITMV macroblock at (`x`, `y`) of `reference` into `out` (rows
/// `out_stride` apart). Halves and quarters (`partitioning` below 3) have one mv per 8x8
/// quarter and are predicted as whole quarters, as libvpx does; the sixteenths block by block.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn predict_split_luma(
    reference: &Plane,
    x: usize,
    y: usize,
    subblock_mvs: &[MotionVector; 16],
    partitioning: u8,
    filter: InterpolationFilter,
    out: &mut [u8],
    out_stride: usize,
) {
    if partitioning < 3 {
        for quarter in 0..4 {
            let (quarter_x, quarter_y) = (quarter & 1, quarter >> 1);
            predict_block(
                reference,
                x + 8 * quarter_x,
                y + 8 * quarter_y,
                subblock_mvs[quarter_y * 8 + quarter_x * 2],
                8,
                8,
                filter,
                &mut out[quarter_y * 8 * out_stride + quarter_x * 8..],
                out_stride,
            );
        }
        return;
    }
    for (block, &mv) in subblock_mvs.iter().enumerate() {
        let (block_x, block_y) = (block & 3, block >> 2);
        predict_block(
            reference,
            x + 4 * block_x,
            y + 4 * block_y,
            mv,
            4,
            4,
            filter,
            &mut out[4 * block_y * out_stride + 4 * block_x..],
            out_stride,
        );
    }
}

/// Predicts the chroma of a SPLITMV macroblock whose chroma starts at (`chroma_x`, `chroma_y`)
/// of the `u` and `v` reference planes: each 4x4 chroma block uses the averaged mv of the 2x2
/// luma blocks it covers ([`chroma_mv_of_group`]). The predictions land in `out_u` and `out_v`,
/// rows `out_stride` apart.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn predict_split_chroma(
    u: &Plane,
    v: &Plane,
    chroma_x: usize,
    chroma_y: usize,
    subblock_mvs: &[MotionVector; 16],
    full_pixel: bool,
    filter: InterpolationFilter,
    out_u: &mut [u8],
    out_v: &mut [u8],
    out_stride: usize,
) {
    for group_y in 0..2 {
        for group_x in 0..2 {
            let first = group_y * 8 + group_x * 2;
            let mvs = [
                subblock_mvs[first],
                subblock_mvs[first + 1],
                subblock_mvs[first + 4],
                subblock_mvs[first + 5],
            ];
            let mv = chroma_mv_of_group(mvs, full_pixel);
            let offset = group_y * 4 * out_stride + group_x * 4;
            let (block_x, block_y) = (chroma_x + 4 * group_x, chroma_y + 4 * group_y);
            predict_block(
                u,
                block_x,
                block_y,
                mv,
                4,
                4,
                filter,
                &mut out_u[offset..],
                out_stride,
            );
            predict_block(
                v,
                block_x,
                block_y,
                mv,
                4,
                4,
                filter,
                &mut out_v[offset..],
                out_stride,
            );
        }
    }
}

fn mask_full_pixel(value: i32, full_pixel: bool) -> i16 {
    (if full_pixel { value & !7 } else { value }) as i16
}

#[cfg(test)]
mod tests {
    use super::*;

    fn noise_plane(width: usize, height: usize, seed: u64) -> Plane {
        let mut state = seed;
        let data = (0..width * height)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                (state >> 56) as u8
            })
            .collect();
        Plane {
            width,
            height,
            stride: width,
            data,
        }
    }

    #[test]
    fn vertical_six_tap_predictions_are_the_decoders() {
        let plane = noise_plane(48, 48, 11);
        let mut checked = 0;
        for size in [8, 16] {
            for (x, y) in [(2, 2), (5, 9), (30, 27 - size)] {
                for fraction_y in 1..8 {
                    let mv = MotionVector::new(fraction_y as i16, 0);
                    let mut expected = [0u8; 256];
                    let filter = InterpolationFilter::SixTap;
                    predict_block(&plane, x, y, mv, size, size, filter, &mut expected, 16);
                    let origin = y * plane.stride + x;
                    let mut dispatched = [0u8; 256];
                    let mut portable = [0u8; 256];
                    let (data, stride) = (&plane.data, plane.stride);
                    predict_vertical_sixtap(
                        data,
                        stride,
                        origin,
                        fraction_y,
                        size,
                        &mut dispatched,
                        16,
                    );
                    // The portable path, also on CPUs with AVX2.
                    match size {
                        16 => sixtap::<16>(data, stride, origin, 0, fraction_y, &mut portable, 16),
                        _ => sixtap::<8>(data, stride, origin, 0, fraction_y, &mut portable, 16),
                    }
                    assert_eq!(dispatched, expected, "{size} at ({x}, {y}), {fraction_y}");
                    assert_eq!(portable, expected, "{size} at ({x}, {y}), {fraction_y}");
                    checked += 1;
                }
            }
        }
        assert_eq!(checked, 42);
    }

    #[test]
    fn portable_and_avx2_paths_agree() {
        let plane = noise_plane(48, 48, 7);
        for filter in [InterpolationFilter::SixTap, InterpolationFilter::Bilinear] {
            for size in [4, 8, 16] {
                for row in -40i16..40 {
                    for col in [-37i16, -9, -3, 0, 5, 11, 22, 130] {
                        let mv = MotionVector::new(row * 3, col);
                        let mut portable = [0u8; 256];
                        predict_square::<false>(
                            &plane,
                            16,
                            16,
                            mv,
                            size,
                            filter,
                            &mut portable,
                            16,
                        );
                        let mut dispatched = [0u8; 256];
                        predict_block(&plane, 16, 16, mv, size, size, filter, &mut dispatched, 16);
                        assert_eq!(portable, dispatched, "{filter:?} {size} {mv:?}");
                    }
                }
            }
        }
    }

    /// A plane of `width` x `height` pixels, rows `stride` apart, with no bytes after its
    /// last row, so that reads past the plane are caught.
    fn plane_with_stride(
        width: usize,
        height: usize,
        stride: usize,
        pixels: &mut dyn FnMut() -> u8,
    ) -> Plane {
        let mut data = vec![0u8; stride * (height - 1) + width];
        for row in data.chunks_mut(stride) {
            for pixel in row.iter_mut().take(width) {
                *pixel = pixels();
            }
        }
        data.resize(stride * height, 0);
        // `Plane::data` is `stride * height` bytes; the padding after the last row's pixels
        // is what a whole-register load past the row end would read.
        Plane {
            width,
            height,
            stride,
            data,
        }
    }

    #[test]
    fn vector_sixtap_matches_portable_at_every_fraction_pair_and_edge() {
        let mut random = crate::test_random::TestRandom::new(0x2545_f491_4f6c_dd1du64);
        let mut random = move || random.next_u64();
        let mut noise = || (random() >> 32) as u8;
        let noisy = plane_with_stride(40, 36, 40, &mut noise);
        let mut extreme = || if noise() & 1 == 0 { 0 } else { 255 };
        let binary = plane_with_stride(37, 35, 45, &mut extreme);
        let mut checked = 0;
        for plane in [&noisy, &binary] {
            for size in [4usize, 8, 16] {
                let positions = (0..=plane.height - size)
                    .step_by(size)
                    .flat_map(|y| (0..=plane.width - size).step_by(size).map(move |x| (x, y)));
                for (x, y) in positions {
                    for whole in [(-3i16, 0i16), (0, 0), (2, -1), (-1, 3), (0, 9), (-9, -2)] {
                        for fraction_row in 0..8i16 {
                            for fraction_col in 0..8i16 {
                                let mv = MotionVector::new(
                                    whole.0 * 8 + fraction_row,
                                    whole.1 * 8 + fraction_col,
                                );
                                let mut portable = [0u8; 16 * 19];
                                predict_square::<false>(
                                    plane,
                                    x,
                                    y,
                                    mv,
                                    size,
                                    InterpolationFilter::SixTap,
                                    &mut portable,
                                    19,
                                );
                                let mut dispatched = [0u8; 16 * 19];
                                predict_block(
                                    plane,
                                    x,
                                    y,
                                    mv,
                                    size,
                                    size,
                                    InterpolationFilter::SixTap,
                                    &mut dispatched,
                                    19,
                                );
                                assert_eq!(portable, dispatched, "{size} at ({x}, {y}) {mv:?}");
                                checked += 1;
                            }
                        }
                    }
                }
            }
        }
        assert!(checked > 50_000, "{checked}");
    }

    /// Six-tap prediction straight from RFC 6386: every pixel read through clamped
    /// coordinates, a horizontal pass over the rows the vertical pass needs, then the
    /// vertical pass (fraction 0 is the identity filter).
    fn reference_sixtap(
        plane: &Plane,
        x: usize,
        y: usize,
        mv: MotionVector,
        size: usize,
    ) -> Vec<u8> {
        let pixel = |row: isize, column: isize| {
            let row = row.clamp(0, plane.height as isize - 1) as usize;
            let column = column.clamp(0, plane.width as isize - 1) as usize;
            i32::from(plane.data[row * plane.stride + column])
        };
        let apply = |taps: &[i32; 6], values: [i32; 6]| {
            let sum: i32 = taps
                .iter()
                .zip(values)
                .map(|(tap, value)| tap * value)
                .sum();
            ((sum + 64) >> 7).clamp(0, 255)
        };
        let horizontal = &SIXTAP_FILTERS[(mv.col & 7) as usize];
        let vertical = &SIXTAP_FILTERS[(mv.row & 7) as usize];
        let base_x = x as isize + (isize::from(mv.col) >> 3);
        let base_y = y as isize + (isize::from(mv.row) >> 3);
        let first_pass: Vec<Vec<i32>> = (-2..size as isize + 3)
            .map(|row| {
                (0..size as isize)
                    .map(|column| {
                        apply(
                            horizontal,
                            std::array::from_fn(|k| {
                                pixel(base_y + row, base_x + column + k as isize - 2)
                            }),
                        )
                    })
                    .collect()
            })
            .collect();
        (0..size * size)
            .map(|index| {
                let (row, column) = (index / size, index % size);
                let values = std::array::from_fn(|k| first_pass[row + k][column]);
                apply(vertical, values) as u8
            })
            .collect()
    }

    #[test]
    fn sixtap_matches_a_plain_reference_inside_outside_and_on_tiny_planes() {
        let mut random = crate::test_random::TestRandom::new(0x9e37_79b9_7f4a_7c15u64);
        let mut noise = move || (random.next_u64() >> 40) as u8;
        let planes = [
            plane_with_stride(6, 5, 6, &mut noise),
            plane_with_stride(17, 9, 20, &mut noise),
            plane_with_stride(33, 30, 33, &mut noise),
        ];
        for plane in &planes {
            for size in [4usize, 8, 16] {
                for (x, y) in [(0, 0), (4, 4), (16, 8), (16, 16)] {
                    for row in (-230i16..230).step_by(9) {
                        for col in (-230i16..230).step_by(7) {
                            let mv = MotionVector::new(row, col);
                            let expected = reference_sixtap(plane, x, y, mv, size);
                            let mut portable = [0u8; 256];
                            predict_square::<false>(
                                plane,
                                x,
                                y,
                                mv,
                                size,
                                InterpolationFilter::SixTap,
                                &mut portable,
                                size,
                            );
                            let mut dispatched = [0u8; 256];
                            predict_block(
                                plane,
                                x,
                                y,
                                mv,
                                size,
                                size,
                                InterpolationFilter::SixTap,
                                &mut dispatched,
                                size,
                            );
                            let context = format!(
                                "{}x{} {size} at ({x}, {y}) {mv:?}",
                                plane.width, plane.height
                            );
                            assert_eq!(portable[..size * size], expected[..], "{context}");
                            assert_eq!(dispatched[..size * size], expected[..], "{context}");
                        }
                    }
                }
            }
        }
    }

    #[test]
    fn whole_pixel_vectors_copy_and_edges_extend() {
        let plane = noise_plane(16, 16, 3);
        let mut out = [0u8; 16];
        // Far up-left: every pixel is the top-left corner.
        let mv = MotionVector::new(-800, -800);
        predict_block(
            &plane,
            0,
            0,
            mv,
            4,
            4,
            InterpolationFilter::SixTap,
            &mut out,
            4,
        );
        assert!(out.iter().all(|&pixel| pixel == plane.data[0]));
        // Zero mv copies.
        predict_block(
            &plane,
            4,
            8,
            MotionVector::ZERO,
            4,
            4,
            InterpolationFilter::SixTap,
            &mut out,
            4,
        );
        assert_eq!(out[..4], plane.data[8 * 16 + 4..8 * 16 + 8]);
    }
}
