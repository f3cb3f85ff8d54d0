//! Intra prediction (RFC 6386 section 12) with libvpx's edge rules.
//!
//! Predictors take the pixels around the block: the row above (with the above-left corner
//! and, for 4x4 blocks, four above-right pixels) and the column on the left. Outside the frame the row above reads 127, the column on the left 129,
//! and the above-left corner 127 on the top macroblock row and 129 below it on the left column.
//! Whole-block DC prediction instead uses only the edges that exist (128 when none does).

use crate::modes::{MacroblockMode, SubblockMode};

/// Value of the row above the frame.
pub const ABOVE_OUTSIDE: u8 = 127;
/// Value of the column left of the frame.
pub const LEFT_OUTSIDE: u8 = 129;

/// Predicts a `size` x `size` block (16 for luma, 8 for chroma) with a whole-block mode into
/// `out` (rows `stride` apart). `above[0]` is the above-left pixel and `above[1..=size]` the
/// row above; `left` is the column on the left. `have_above`/`have_left` say whether those
/// edges are inside the frame (they matter for DC only).
#[allow(clippy::too_many_arguments)]
#[inline(always)]
pub fn predict_block(
    mode: MacroblockMode,
    size: usize,
    above: &[u8],
    left: &[u8],
    have_above: bool,
    have_left: bool,
    out: &mut [u8],
    stride: usize,
) {
    let top = &above[1..=size];
    let corner = i32::from(above[0]);
    match mode {
        MacroblockMode::Vertical => {
            for row in 0..size {
                out[row * stride..row * stride + size].copy_from_slice(top);
            }
        }
        MacroblockMode::Horizontal => {
            for row in 0..size {
                out[row * stride..row * stride + size].fill(left[row]);
            }
        }
        MacroblockMode::TrueMotion => {
            for row in 0..size {
                let base = i32::from(left[row]) - corner;
                for (pixel, &above_pixel) in
                    out[row * stride..row * stride + size].iter_mut().zip(top)
                {
                    *pixel = (base + i32::from(above_pixel)).clamp(0, 255) as u8;
                }
            }
        }
        _ => {
            let shift = if size == 16 { 3 } else { 2 };
            let sum_top: u32 = top.iter().map(|&pixel| u32::from(pixel)).sum();
            let sum_left: u32 = left[..size].iter().map(|&pixel| u32::from(pixel)).sum();
            let value = match (have_above, have_left) {
                (true, true) => (sum_top + sum_left + size as u32) >> (shift + 2),
                (true, false) => (sum_top + (size as u32 >> 1)) >> (shift + 1),
                (false, true) => (sum_left + (size as u32 >> 1)) >> (shift + 1),
                (false, false) => 128,
            } as u8;
            for row in 0..size {
                out[row * stride..row * stride + size].fill(value);
            }
        }
    }
}

#[inline(always)]
fn average3(a: u8, b: u8, c: u8) -> u8 {
    ((u32::from(a) + 2 * u32::from(b) + u32::from(c) + 2) >> 2) as u8
}

#[inline(always)]
fn average2(a: u8, b: u8) -> u8 {
    ((u32::from(a) + u32::from(b) + 1) >> 1) as u8
}

/// Predicts a 4x4 luma block with a [`SubblockMode`] into `out` (rows `stride` apart).
/// `above[0]` is the above-left pixel, `above[1..=8]` the row above and the four pixels
/// above-right; `left` is the column on the left.
#[inline(always)]
pub fn predict_subblock(
    mode: SubblockMode,
    above: &[u8; 9],
    left: &[u8; 4],
    out: &mut [u8],
    stride: usize,
) {
    let corner = above[0];
    let a = &above[1..9];
    let mut block = [[0u8; 4]; 4]; // [row][column]
    match mode {
        SubblockMode::Dc => {
            let sum: u32 = a[..4]
                .iter()
                .chain(left.iter())
                .map(|&p| u32::from(p))
                .sum();
            block = [[((sum + 4) >> 3) as u8; 4]; 4];
        }
        SubblockMode::TrueMotion => {
            for (row, line) in block.iter_mut().enumerate() {
                for (column, pixel) in line.iter_mut().enumerate() {
                    *pixel = (i32::from(left[row]) + i32::from(a[column]) - i32::from(corner))
                        .clamp(0, 255) as u8;
                }
            }
        }
        SubblockMode::Vertical => {
            let line = [
                average3(corner, a[0], a[1]),
                average3(a[0], a[1], a[2]),
                average3(a[1], a[2], a[3]),
                average3(a[2], a[3], a[4]),
            ];
            block = [line; 4];
        }
        SubblockMode::Horizontal => {
            let values = [
                average3(corner, left[0], left[1]),
                average3(left[0], left[1], left[2]),
                average3(left[1], left[2], left[3]),
                average3(left[2], left[3], left[3]),
            ];
            for (line, value) in block.iter_mut().zip(values) {
                *line = [value; 4];
            }
        }
        SubblockMode::LeftDown => {
            for (row, line) in block.iter_mut().enumerate() {
                for (column, pixel) in line.iter_mut().enumerate() {
                    let k = row + column;
                    *pixel = if k == 6 {
                        average3(a[6], a[7], a[7])
                    } else {
                        average3(a[k], a[k + 1], a[k + 2])
                    };
                }
            }
        }
        SubblockMode::RightDown => {
            // Edge from bottom-left to top-right: L3 L2 L1 L0 corner A0 A1 A2 A3.
            let edge = [
                left[3], left[2], left[1], left[0], corner, a[0], a[1], a[2], a[3],
            ];
            for (row, line) in block.iter_mut().enumerate() {
                for (column, pixel) in line.iter_mut().enumerate() {
                    let i = 3 - row + column;
                    *pixel = average3(edge[i], edge[i + 1], edge[i + 2]);
                }
            }
        }
        SubblockMode::VerticalRight => {
            let (i, j, k, x) = (left[0], left[1], left[2], corner);
            block[0][0] = average2(x, a[0]);
            block[2][1] = block[0][0];
            block[0][1] = average2(a[0], a[1]);
            block[2][2] = block[0][1];
            block[0][2] = average2(a[1], a[2]);
            block[2][3] = block[0][2];
            block[0][3] = average2(a[2], a[3]);
            block[3][0] = average3(k, j, i);
            block[2][0] = average3(j, i, x);
            block[1][0] = average3(i, x, a[0]);
            block[3][1] = block[1][0];
            block[1][1] = average3(x, a[0], a[1]);
            block[3][2] = block[1][1];
            block[1][2] = average3(a[0], a[1], a[2]);
            block[3][3] = block[1][2];
            block[1][3] = average3(a[1], a[2], a[3]);
        }
        SubblockMode::VerticalLeft => {
            block[0][0] = average2(a[0], a[1]);
            block[1][0] = average3(a[0], a[1], a[2]);
            block[2][0] = average2(a[1], a[2]);
            block[0][1] = block[2][0];
            block[1][1] = average3(a[1], a[2], a[3]);
            block[3][0] = block[1][1];
            block[2][1] = average2(a[2], a[3]);
            block[0][2] = block[2][1];
            block[3][1] = average3(a[2], a[3], a[4]);
            block[1][2] = block[3][1];
            block[2][2] = average2(a[3], a[4]);
            block[0][3] = block[2][2];
            block[3][2] = average3(a[3], a[4], a[5]);
            block[1][3] = block[3][2];
            block[2][3] = average3(a[4], a[5], a[6]);
            block[3][3] = average3(a[5], a[6], a[7]);
        }
        SubblockMode::HorizontalDown => {
            let (i, j, k, l, x) = (left[0], left[1], left[2], left[3], corner);
            block[0][0] = average2(i, x);
            block[1][2] = block[0][0];
            block[1][0] = average2(j, i);
            block[2][2] = block[1][0];
            block[2][0] = average2(k, j);
            block[3][2] = block[2][0];
            block[3][0] = average2(l, k);
            block[0][3] = average3(a[0], a[1], a[2]);
            block[0][2] = average3(x, a[0], a[1]);
            block[0][1] = average3(i, x, a[0]);
            block[1][3] = block[0][1];
            block[1][1] = average3(j, i, x);
            block[2][3] = block[1][1];
            block[2][1] = average3(k, j, i);
            block[3][3] = block[2][1];
            block[3][1] = average3(l, k, j);
        }
        SubblockMode::HorizontalUp => {
            let (i, j, k, l) = (left[0], left[1], left[2], left[3]);
            block[0][0] = average2(i, j);
            block[0][2] = average2(j, k);
            block[1][0] = block[0][2];
            block[1][2] = average2(k, l);
            block[2][0] = block[1][2];
            block[0][1] = average3(i, j, k);
            block[0][3] = average3(j, k, l);
            block[1][1] = block[0][3];
            block[1][3] = average3(k, l, l);
            block[2][1] = block[1][3];
            block[2][2] = l;
            block[2][3] = l;
            block[3] = [l; 4];
        }
    }
    for (row, line) in block.iter().enumerate() {
        out[row * stride..row * stride + 4].copy_from_slice(line);
    }
}
