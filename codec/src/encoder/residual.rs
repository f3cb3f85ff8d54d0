//! Residual coding of a macroblock: forward transforms, quantisation, dequantisation and the
//! reconstruction the decoder will compute from the levels.

// Block indices address several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use super::quantize::BlockQuantizer;
use super::transform::{forward_dct4x4, forward_wht4x4};
use crate::tokens::{MacroblockCoefficients, Y2_BLOCK};

/// Quantizers of the three block kinds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quantizers {
    pub(super) y1: BlockQuantizer,
    pub(super) y2: BlockQuantizer,
    pub(super) uv: BlockQuantizer,
}

/// The residual (source minus prediction) of the 4x4 block at `offset` of two packed blocks
/// whose rows are `stride` apart, in raster order.
#[inline(always)]
pub(super) fn residual_4x4(
    source: &[u8],
    prediction: &[u8],
    offset: usize,
    stride: usize,
) -> [i16; 16] {
    let mut residual = [0i16; 16];
    for row in 0..4 {
        for column in 0..4 {
            let index = offset + row * stride + column;
            residual[row * 4 + column] = i16::from(source[index]) - i16::from(prediction[index]);
        }
    }
    residual
}

/// Quantises a block's coefficients (raster order): levels in scan order and the dequantised
/// coefficients (raster order) exactly as the decoder will compute them.
#[inline]
pub(super) fn quantize_scan(
    quantizer: &BlockQuantizer,
    coefficients: &[i16; 16],
    first: usize,
) -> ([i16; 16], [i16; 16]) {
    quantizer.quantize_scan(coefficients, first)
}

/// Quantises and reconstructs a 16x16 luma residual coded with a Y2 block. `prediction` is
/// packed 16x16; the reconstruction is written into `out` (packed 16x16). Returns the
/// levels (scan order) of the 16 luma blocks and Y2, and the dequantised coefficients.
pub(super) fn code_luma_with_y2(
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    let mut dc = [0i16; 16];
    let mut transformed = [[0i16; 16]; 16];
    for block in 0..16 {
        let (bx, by) = ((block & 3) * 4, (block >> 2) * 4);
        let residual = residual_4x4(source, prediction, by * 16 + bx, 16);
        transformed[block] = forward_dct4x4(&residual);
        dc[block] = transformed[block][0];
    }
    let y2 = forward_wht4x4(&dc);
    let (y2_levels, y2_dequantized) = quantize_scan(&quantizers.y2, &y2, 0);
    levels[Y2_BLOCK] = y2_levels;
    coefficients.blocks[Y2_BLOCK] = y2_dequantized;
    let dc_values = crate::transform::inverse_walsh(&y2_dequantized);
    out.copy_from_slice(prediction);
    for block in 0..16 {
        let (block_levels, mut dequantized) = quantize_scan(&quantizers.y1, &transformed[block], 1);
        levels[block] = block_levels;
        coefficients.blocks[block] = dequantized;
        dequantized[0] = dc_values[block];
        let (bx, by) = ((block & 3) * 4, (block >> 2) * 4);
        crate::transform::add_inverse_dct(&dequantized, out, by * 16 + bx, 16);
    }
}

/// Codes chroma residuals for both planes; writes levels and coefficients of blocks 16..24
/// and the reconstruction into `out_u`/`out_v` (packed 8x8).
pub(super) fn code_chroma(
    quantizers: &Quantizers,
    sources: [&[u8; 64]; 2],
    predictions: [&[u8; 64]; 2],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    outs: [&mut [u8; 64]; 2],
) {
    for (plane, out) in outs.into_iter().enumerate() {
        out.copy_from_slice(predictions[plane]);
        for block in 0..4 {
            let (bx, by) = ((block & 1) * 4, (block >> 1) * 4);
            let residual = residual_4x4(sources[plane], predictions[plane], by * 8 + bx, 8);
            let transformed = forward_dct4x4(&residual);
            let (block_levels, dequantized) = quantize_scan(&quantizers.uv, &transformed, 0);
            let index = 16 + plane * 4 + block;
            levels[index] = block_levels;
            coefficients.blocks[index] = dequantized;
            crate::transform::add_inverse_dct(&dequantized, out, by * 8 + bx, 8);
        }
    }
}

/// Quantises and reconstructs a 16x16 luma residual without a Y2 block (SPLITMV).
pub(super) fn code_luma_without_y2(
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    levels[Y2_BLOCK] = [0; 16];
    coefficients.blocks[Y2_BLOCK] = [0; 16];
    out.copy_from_slice(prediction);
    for block in 0..16 {
        let (bx, by) = ((block & 3) * 4, (block >> 2) * 4);
        let residual = residual_4x4(source, prediction, by * 16 + bx, 16);
        let (block_levels, dequantized) =
            quantize_scan(&quantizers.y1, &forward_dct4x4(&residual), 0);
        levels[block] = block_levels;
        coefficients.blocks[block] = dequantized;
        crate::transform::add_inverse_dct(&dequantized, out, by * 16 + bx, 16);
    }
}
