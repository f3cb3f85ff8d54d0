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
/// (eighth-pixel units, fractions `mv & 7`) into `out` (rows `out_stride` apart).
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
    let fraction_x = (mv.col & 7) as usize;
    let fraction_y = (mv.row & 7) as usize;
    let source_x = x as isize + (isize::from(mv.col) >> 3) - MARGIN_BEFORE as isize;
    let source_y = y as isize + (isize::from(mv.row) >> 3) - MARGIN_BEFORE as isize;
    let region_width = width + MARGIN_BEFORE + MARGIN_AFTER;
    let region_height = height + MARGIN_BEFORE + MARGIN_AFTER;

    let mut fetched = [0u8; MAX_SOURCE * MAX_SOURCE];
    let inside = source_x >= 0
        && source_y >= 0
        && source_x as usize + region_width <= reference.width
        && source_y as usize + region_height <= reference.height;
    let (source, stride, origin): (&[u8], usize, usize) = if inside {
        let origin = (source_y as usize + MARGIN_BEFORE) * reference.stride
            + source_x as usize
            + MARGIN_BEFORE;
        (&reference.data, reference.stride, origin)
    } else {
        for row in 0..region_height {
            for column in 0..region_width {
                fetched[row * MAX_SOURCE + column] =
                    reference.clamped(source_x + column as isize, source_y + row as isize);
            }
        }
        (
            &fetched[..],
            MAX_SOURCE,
            MARGIN_BEFORE * MAX_SOURCE + MARGIN_BEFORE,
        )
    };

    if fraction_x == 0 && fraction_y == 0 {
        for row in 0..height {
            let start = origin + row * stride;
            out[row * out_stride..row * out_stride + width]
                .copy_from_slice(&source[start..start + width]);
        }
        return;
    }
    match filter {
        InterpolationFilter::SixTap => sixtap(
            source, stride, origin, fraction_x, fraction_y, width, height, out, out_stride,
        ),
        InterpolationFilter::Bilinear => bilinear(
            source, stride, origin, fraction_x, fraction_y, width, height, out, out_stride,
        ),
    }
}

#[inline(always)]
fn apply_sixtap(pixels: &[u8], step: usize, taps: &[i32; 6]) -> u8 {
    let sum = i32::from(pixels[0]) * taps[0]
        + i32::from(pixels[step]) * taps[1]
        + i32::from(pixels[2 * step]) * taps[2]
        + i32::from(pixels[3 * step]) * taps[3]
        + i32::from(pixels[4 * step]) * taps[4]
        + i32::from(pixels[5 * step]) * taps[5];
    ((sum + 64) >> 7).clamp(0, 255) as u8
}

#[allow(clippy::too_many_arguments)]
fn sixtap(
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
    let horizontal = &SIXTAP_FILTERS[fraction_x];
    let vertical = &SIXTAP_FILTERS[fraction_y];
    if fraction_y == 0 {
        for row in 0..height {
            let start = origin + row * stride - MARGIN_BEFORE;
            let line = &source[start..start + width + 5];
            let destination = &mut out[row * out_stride..row * out_stride + width];
            for (column, pixel) in destination.iter_mut().enumerate() {
                *pixel = apply_sixtap(&line[column..column + 6], 1, horizontal);
            }
        }
        return;
    }
    if fraction_x == 0 {
        for row in 0..height {
            let start = origin + row * stride - MARGIN_BEFORE * stride;
            let destination = &mut out[row * out_stride..row * out_stride + width];
            for (column, pixel) in destination.iter_mut().enumerate() {
                *pixel = apply_sixtap(&source[start + column..], stride, vertical);
            }
        }
        return;
    }
    // Two passes: horizontal over the rows the vertical taps need, then vertical.
    let mut temp = [0u8; MAX_SOURCE * 16];
    let rows = height + MARGIN_BEFORE + MARGIN_AFTER;
    for row in 0..rows {
        let start = origin + row * stride - MARGIN_BEFORE * stride - MARGIN_BEFORE;
        let line = &source[start..start + width + 5];
        for column in 0..width {
            temp[row * 16 + column] = apply_sixtap(&line[column..column + 6], 1, horizontal);
        }
    }
    for row in 0..height {
        let destination = &mut out[row * out_stride..row * out_stride + width];
        for (column, pixel) in destination.iter_mut().enumerate() {
            *pixel = apply_sixtap(&temp[row * 16 + column..], 16, vertical);
        }
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
