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
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2; the callee is the same safe
        // code as the portable path, compiled with AVX2 enabled.
        unsafe { predict_square_avx2(reference, x, y, mv, width, filter, out, out_stride) };
        return;
    }
    predict_square(reference, x, y, mv, width, filter, out, out_stride);
}

/// [`predict_block`] compiled for CPUs with AVX2.
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
    predict_square(reference, x, y, mv, size, filter, out, out_stride);
}

#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn predict_square(
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
        16 => predict_sized::<16>(reference, x, y, mv, filter, out, out_stride),
        8 => predict_sized::<8>(reference, x, y, mv, filter, out, out_stride),
        4 => predict_sized::<4>(reference, x, y, mv, filter, out, out_stride),
        _ => panic!("unsupported prediction block size {width}"),
    }
}

#[inline(always)]
fn predict_sized<const N: usize>(
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

    let fetched: [u8; MAX_SOURCE * MAX_SOURCE];
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
        let mut buffer = [0u8; MAX_SOURCE * MAX_SOURCE];
        fetch_clamped(reference, source_x, source_y, region, &mut buffer);
        fetched = buffer;
        (
            &fetched[..],
            MAX_SOURCE,
            MARGIN_BEFORE * MAX_SOURCE + MARGIN_BEFORE,
        )
    };

    if fraction_x == 0 && fraction_y == 0 {
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

/// Copies the `size` x `size` region at (`x`, `y`) of `reference` into `out` (rows
/// `MAX_SOURCE` apart), replicating edge pixels for coordinates outside the plane.
fn fetch_clamped(reference: &Plane, x: isize, y: isize, size: usize, out: &mut [u8]) {
    let last_column = reference.width as isize - 1;
    let last_row = reference.height as isize - 1;
    let columns_inside = x >= 0 && x + size as isize - 1 <= last_column;
    for row in 0..size {
        let source_row = (y + row as isize).clamp(0, last_row) as usize;
        let line = &reference.data[source_row * reference.stride..][..reference.width];
        let destination = &mut out[row * MAX_SOURCE..row * MAX_SOURCE + size];
        if columns_inside {
            destination.copy_from_slice(&line[x as usize..x as usize + size]);
        } else {
            // Columns left of the plane, inside it, and right of it.
            let left = (-x).clamp(0, size as isize) as usize;
            let right_start = (last_column + 1 - x).clamp(left as isize, size as isize) as usize;
            destination[..left].fill(line[0]);
            if right_start > left {
                let start = (x + left as isize) as usize;
                destination[left..right_start]
                    .copy_from_slice(&line[start..start + right_start - left]);
            }
            destination[right_start..].fill(line[last_column as usize]);
        }
    }
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
    fn portable_and_avx2_paths_agree() {
        let plane = noise_plane(48, 48, 7);
        for filter in [InterpolationFilter::SixTap, InterpolationFilter::Bilinear] {
            for size in [4, 8, 16] {
                for row in -40i16..40 {
                    for col in [-37i16, -9, -3, 0, 5, 11, 22, 130] {
                        let mv = MotionVector::new(row * 3, col);
                        let mut portable = [0u8; 256];
                        predict_square(&plane, 16, 16, mv, size, filter, &mut portable, 16);
                        let mut dispatched = [0u8; 256];
                        predict_block(&plane, 16, 16, mv, size, size, filter, &mut dispatched, 16);
                        assert_eq!(portable, dispatched, "{filter:?} {size} {mv:?}");
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
