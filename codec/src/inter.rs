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
        for row in 0..region {
            for column in 0..region {
                buffer[row * MAX_SOURCE + column] =
                    reference.clamped(source_x + column as isize, source_y + row as isize);
            }
        }
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

/// Six-tap filter of one row: `source` holds `N + 5` pixels starting two before the first.
#[inline(always)]
fn sixtap_row<const N: usize>(source: &[u8], taps: &[i32; 6], out: &mut [u8]) {
    let source = &source[..N + 5];
    let out = &mut out[..N];
    for column in 0..N {
        let sum = i32::from(source[column]) * taps[0]
            + i32::from(source[column + 1]) * taps[1]
            + i32::from(source[column + 2]) * taps[2]
            + i32::from(source[column + 3]) * taps[3]
            + i32::from(source[column + 4]) * taps[4]
            + i32::from(source[column + 5]) * taps[5];
        out[column] = ((sum + 64) >> 7).clamp(0, 255) as u8;
    }
}

/// Six-tap filter down columns: each output pixel combines the same column of six rows.
#[inline(always)]
fn sixtap_column<const N: usize>(rows: [&[u8]; 6], taps: &[i32; 6], out: &mut [u8]) {
    let [r0, r1, r2, r3, r4, r5] = rows.map(|row| &row[..N]);
    let out = &mut out[..N];
    for column in 0..N {
        let sum = i32::from(r0[column]) * taps[0]
            + i32::from(r1[column]) * taps[1]
            + i32::from(r2[column]) * taps[2]
            + i32::from(r3[column]) * taps[3]
            + i32::from(r4[column]) * taps[4]
            + i32::from(r5[column]) * taps[5];
        out[column] = ((sum + 64) >> 7).clamp(0, 255) as u8;
    }
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
    let horizontal = &SIXTAP_FILTERS[fraction_x];
    let vertical = &SIXTAP_FILTERS[fraction_y];
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
            let rows: [&[u8]; 6] = std::array::from_fn(|k| &source[start + k * stride..]);
            sixtap_column::<N>(rows, vertical, &mut out[row * out_stride..]);
        }
        return;
    }
    // Two passes: horizontal over the rows the vertical taps need, then vertical.
    let mut temp = [[0u8; 16]; MAX_SOURCE];
    for (row, line) in temp.iter_mut().enumerate().take(N + 5) {
        let start = origin + row * stride - MARGIN_BEFORE * stride - MARGIN_BEFORE;
        sixtap_row::<N>(&source[start..], horizontal, line);
    }
    for row in 0..N {
        let rows: [&[u8]; 6] = std::array::from_fn(|k| &temp[row + k][..]);
        sixtap_column::<N>(rows, vertical, &mut out[row * out_stride..]);
    }
}

#[allow(clippy::too_many_arguments)]
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

fn mask_full_pixel(value: i32, full_pixel: bool) -> i16 {
    (if full_pixel { value & !7 } else { value }) as i16
}
