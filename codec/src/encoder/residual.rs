//! Residual coding of a macroblock: forward transforms, quantisation, dequantisation and the
//! reconstruction the decoder will compute from the levels.
//!
//! A macroblock's blocks go through every step together, held position-major: `[raster][block]`,
//! one lane per block (the 16 luma blocks, or the 4 + 4 chroma blocks in lanes 0..8). Every
//! transform and the quantiser then do the same arithmetic on all lanes; only the entry (pixels
//! into lanes) and the exit (lanes into per-block levels, coefficients and pixels) move data
//! around. On CPUs with AVX2 each step is a few 16-lane vector instructions (see [`LaneOps`]);
//! elsewhere the same steps run as plain Rust. The results are bit-identical with coding each
//! block on its own (the tests check both paths against a block-at-a-time reference).

// Block indices address several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use super::quantize::BlockQuantizer;
use super::transform::{forward_dct_lanes, forward_wht4x4};
use crate::tables::ZIGZAG;
use crate::tokens::{MacroblockCoefficients, Y2_BLOCK};
use crate::transform::{inverse_dct_lanes, inverse_walsh};

/// Quantizers of the three block kinds.
#[derive(Debug, Clone, Copy)]
pub(super) struct Quantizers {
    pub(super) y1: BlockQuantizer,
    pub(super) y2: BlockQuantizer,
    pub(super) uv: BlockQuantizer,
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

/// Values of `N` blocks held position-major: `lanes[raster][block]`.
type Lanes<T, const N: usize> = [[T; N]; 16];

/// How a kernel moves values between pixels or blocks and lanes, and the steps that have a
/// hand-vectorised form: [`Portable`] in plain Rust, [`Avx2Ops`] with AVX2 instructions. Both
/// give the same results.
trait LaneOps: Copy {
    /// [`forward_dct_lanes`] of 16 lanes of residuals of 8-bit pixels.
    fn forward_dct(self, residual: &Lanes<i16, 16>) -> Lanes<i16, 16>;
    /// [`inverse_dct_lanes`] of 16 lanes.
    fn inverse_dct(self, coefficients: &Lanes<i16, 16>) -> Lanes<i16, 16>;
    /// [`BlockQuantizer::quantize_lanes`] of 16 lanes.
    fn quantize(
        self,
        quantizer: &BlockQuantizer,
        coefficients: &Lanes<i16, 16>,
        first: usize,
        levels: &mut Lanes<i16, 16>,
        dequantized: &mut Lanes<i16, 16>,
    );
    /// Lanes of the 16 luma blocks of a packed 16x16 block: lane `block` of position `raster`
    /// is pixel `raster` of the 4x4 block `block` (both in raster order).
    fn luma_lanes(self, pixels: &[u8; 256]) -> Lanes<u8, 16>;
    /// The inverse of [`luma_lanes`](Self::luma_lanes).
    fn luma_pixels(self, lanes: &Lanes<u8, 16>, pixels: &mut [u8; 256]);
    /// Lanes of the 4 + 4 chroma blocks of two packed 8x8 blocks: lane `plane * 4 + block`;
    /// lanes 8..16 are zero, so chroma runs through the same 16-lane steps as luma.
    fn chroma_lanes(self, planes: [&[u8; 64]; 2]) -> Lanes<u8, 16>;
    /// The inverse of [`chroma_lanes`](Self::chroma_lanes) (lanes 8..16 are ignored).
    fn chroma_pixels(self, lanes: &Lanes<u8, 16>, planes: [&mut [u8; 64]; 2]);
    /// Source minus prediction, lane by lane.
    fn residual(self, source: &Lanes<u8, 16>, prediction: &Lanes<u8, 16>) -> Lanes<i16, 16>;
    /// Prediction plus residual clamped to pixels, lane by lane, as the decoder reconstructs.
    fn reconstruct(self, prediction: &Lanes<u8, 16>, residual: &Lanes<i16, 16>) -> Lanes<u8, 16>;
    /// Moves the lane-held levels and dequantised coefficients of the 16 luma blocks into
    /// blocks 0..16: levels in scan order, coefficients in raster order.
    fn store_luma(
        self,
        level_lanes: &Lanes<i16, 16>,
        dequantized_lanes: &Lanes<i16, 16>,
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
    );
    /// [`store_luma`](Self::store_luma) for the 8 chroma blocks (lanes 0..8), into blocks
    /// 16..24.
    fn store_chroma(
        self,
        level_lanes: &Lanes<i16, 16>,
        dequantized_lanes: &Lanes<i16, 16>,
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
    );
}

/// [`LaneOps`] in plain Rust.
#[derive(Debug, Clone, Copy)]
struct Portable;

impl LaneOps for Portable {
    #[inline(always)]
    fn forward_dct(self, residual: &Lanes<i16, 16>) -> Lanes<i16, 16> {
        forward_dct_lanes(residual)
    }

    #[inline(always)]
    fn inverse_dct(self, coefficients: &Lanes<i16, 16>) -> Lanes<i16, 16> {
        inverse_dct_lanes(coefficients)
    }

    #[inline(always)]
    fn quantize(
        self,
        quantizer: &BlockQuantizer,
        coefficients: &Lanes<i16, 16>,
        first: usize,
        levels: &mut Lanes<i16, 16>,
        dequantized: &mut Lanes<i16, 16>,
    ) {
        quantizer.quantize_lanes(coefficients, first, levels, dequantized);
    }

    #[inline(always)]
    fn luma_lanes(self, pixels: &[u8; 256]) -> Lanes<u8, 16> {
        let mut lanes = [[0u8; 16]; 16];
        for y in 0..16 {
            for x in 0..16 {
                lanes[(y & 3) * 4 + (x & 3)][(y >> 2) * 4 + (x >> 2)] = pixels[y * 16 + x];
            }
        }
        lanes
    }

    #[inline(always)]
    fn luma_pixels(self, lanes: &Lanes<u8, 16>, pixels: &mut [u8; 256]) {
        for y in 0..16 {
            for x in 0..16 {
                pixels[y * 16 + x] = lanes[(y & 3) * 4 + (x & 3)][(y >> 2) * 4 + (x >> 2)];
            }
        }
    }

    #[inline(always)]
    fn chroma_lanes(self, planes: [&[u8; 64]; 2]) -> Lanes<u8, 16> {
        let mut lanes = [[0u8; 16]; 16];
        for (plane, pixels) in planes.into_iter().enumerate() {
            for y in 0..8 {
                for x in 0..8 {
                    lanes[(y & 3) * 4 + (x & 3)][plane * 4 + (y >> 2) * 2 + (x >> 2)] =
                        pixels[y * 8 + x];
                }
            }
        }
        lanes
    }

    #[inline(always)]
    fn chroma_pixels(self, lanes: &Lanes<u8, 16>, planes: [&mut [u8; 64]; 2]) {
        for (plane, pixels) in planes.into_iter().enumerate() {
            for y in 0..8 {
                for x in 0..8 {
                    pixels[y * 8 + x] =
                        lanes[(y & 3) * 4 + (x & 3)][plane * 4 + (y >> 2) * 2 + (x >> 2)];
                }
            }
        }
    }

    #[inline(always)]
    fn store_luma(
        self,
        level_lanes: &Lanes<i16, 16>,
        dequantized_lanes: &Lanes<i16, 16>,
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
    ) {
        store_blocks(level_lanes, dequantized_lanes, 0, 16, levels, coefficients);
    }

    #[inline(always)]
    fn store_chroma(
        self,
        level_lanes: &Lanes<i16, 16>,
        dequantized_lanes: &Lanes<i16, 16>,
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
    ) {
        store_blocks(level_lanes, dequantized_lanes, 16, 8, levels, coefficients);
    }

    #[inline(always)]
    fn residual(self, source: &Lanes<u8, 16>, prediction: &Lanes<u8, 16>) -> Lanes<i16, 16> {
        let mut residual = [[0i16; 16]; 16];
        for raster in 0..16 {
            for lane in 0..16 {
                residual[raster][lane] =
                    i16::from(source[raster][lane]) - i16::from(prediction[raster][lane]);
            }
        }
        residual
    }

    #[inline(always)]
    fn reconstruct(self, prediction: &Lanes<u8, 16>, residual: &Lanes<i16, 16>) -> Lanes<u8, 16> {
        let mut pixels = [[0u8; 16]; 16];
        for raster in 0..16 {
            for lane in 0..16 {
                pixels[raster][lane] = (i32::from(prediction[raster][lane])
                    + i32::from(residual[raster][lane]))
                .clamp(0, 255) as u8;
            }
        }
        pixels
    }
}

/// Moves the levels and dequantised coefficients of lanes `0..count` into blocks
/// `first_block..first_block + count`: levels in scan order, coefficients in raster order.
#[inline(always)]
fn store_blocks(
    level_lanes: &Lanes<i16, 16>,
    dequantized_lanes: &Lanes<i16, 16>,
    first_block: usize,
    count: usize,
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
) {
    for lane in 0..count {
        let block_levels = &mut levels[first_block + lane];
        for (position, &raster) in ZIGZAG.iter().enumerate() {
            block_levels[position] = level_lanes[usize::from(raster)][lane];
        }
        let block_coefficients = &mut coefficients.blocks[first_block + lane];
        for raster in 0..16 {
            block_coefficients[raster] = dequantized_lanes[raster][lane];
        }
    }
}

/// Quantises and reconstructs a 16x16 luma residual coded with a Y2 block. `prediction` is
/// packed 16x16; the reconstruction is written into `out` (packed 16x16). Writes the levels
/// (scan order) of the 16 luma blocks and Y2, and the dequantised coefficients.
pub(super) fn code_luma_with_y2(
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    code_luma::<true>(quantizers, source, prediction, levels, coefficients, out);
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
    code_luma::<false>(quantizers, source, prediction, levels, coefficients, out);
}

/// The luma pipeline on the AVX2 or the portable steps; `WITH_Y2` says whether the blocks'
/// DC coefficients go to a Y2 block.
fn code_luma<const WITH_Y2: bool>(
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() {
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2.
        unsafe {
            code_luma_avx2::<WITH_Y2>(quantizers, source, prediction, levels, coefficients, out)
        };
        return;
    }
    code_luma_lanes::<WITH_Y2>(
        Portable,
        quantizers,
        source,
        prediction,
        levels,
        coefficients,
        out,
    );
}

/// [`code_luma`] compiled for CPUs with AVX2, with the AVX2 steps.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn code_luma_avx2<const WITH_Y2: bool>(
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    // SAFETY: this function only runs on CPUs with AVX2.
    let ops = unsafe { avx2::Avx2Ops::new() };
    code_luma_lanes::<WITH_Y2>(
        ops,
        quantizers,
        source,
        prediction,
        levels,
        coefficients,
        out,
    );
}

#[inline(always)]
fn code_luma_lanes<const WITH_Y2: bool>(
    ops: impl LaneOps,
    quantizers: &Quantizers,
    source: &[u8; 256],
    prediction: &[u8; 256],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    out: &mut [u8; 256],
) {
    let prediction_lanes = ops.luma_lanes(prediction);
    let residual = ops.residual(&ops.luma_lanes(source), &prediction_lanes);
    let transformed = ops.forward_dct(&residual);
    // With Y2, the blocks' DC coefficients (lane row 0) are coded there instead.
    let y2_dequantized = if WITH_Y2 {
        let (y2_levels, y2_dequantized) = quantizers
            .y2
            .quantize_scan(&forward_wht4x4(&transformed[0]), 0);
        levels[Y2_BLOCK] = y2_levels;
        y2_dequantized
    } else {
        levels[Y2_BLOCK] = [0; 16];
        [0; 16]
    };
    coefficients.blocks[Y2_BLOCK] = y2_dequantized;
    let mut level_lanes = [[0i16; 16]; 16];
    let mut dequantized = [[0i16; 16]; 16];
    ops.quantize(
        &quantizers.y1,
        &transformed,
        usize::from(WITH_Y2),
        &mut level_lanes,
        &mut dequantized,
    );
    ops.store_luma(&level_lanes, &dequantized, levels, coefficients);
    if all_zero(&y2_dequantized) && all_zero(dequantized.as_flattened()) {
        // Nothing to add: the decoder's reconstruction is the prediction.
        *out = *prediction;
        return;
    }
    if WITH_Y2 {
        dequantized[0] = inverse_walsh(&y2_dequantized);
    }
    let reconstructed = ops.reconstruct(&prediction_lanes, &ops.inverse_dct(&dequantized));
    ops.luma_pixels(&reconstructed, out);
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
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() {
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2.
        unsafe { code_chroma_avx2(quantizers, sources, predictions, levels, coefficients, outs) };
        return;
    }
    code_chroma_lanes(
        Portable,
        quantizers,
        sources,
        predictions,
        levels,
        coefficients,
        outs,
    );
}

/// [`code_chroma`] compiled for CPUs with AVX2, with the AVX2 steps.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn code_chroma_avx2(
    quantizers: &Quantizers,
    sources: [&[u8; 64]; 2],
    predictions: [&[u8; 64]; 2],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    outs: [&mut [u8; 64]; 2],
) {
    // SAFETY: this function only runs on CPUs with AVX2.
    let ops = unsafe { avx2::Avx2Ops::new() };
    code_chroma_lanes(
        ops,
        quantizers,
        sources,
        predictions,
        levels,
        coefficients,
        outs,
    );
}

#[inline(always)]
fn code_chroma_lanes(
    ops: impl LaneOps,
    quantizers: &Quantizers,
    sources: [&[u8; 64]; 2],
    predictions: [&[u8; 64]; 2],
    levels: &mut [[i16; 16]; 25],
    coefficients: &mut MacroblockCoefficients,
    outs: [&mut [u8; 64]; 2],
) {
    let prediction_lanes = ops.chroma_lanes(predictions);
    let residual = ops.residual(&ops.chroma_lanes(sources), &prediction_lanes);
    let transformed = ops.forward_dct(&residual);
    let mut level_lanes = [[0i16; 16]; 16];
    let mut dequantized = [[0i16; 16]; 16];
    ops.quantize(
        &quantizers.uv,
        &transformed,
        0,
        &mut level_lanes,
        &mut dequantized,
    );
    ops.store_chroma(&level_lanes, &dequantized, levels, coefficients);
    if all_zero(dequantized.as_flattened()) {
        let [out_u, out_v] = outs;
        *out_u = *predictions[0];
        *out_v = *predictions[1];
        return;
    }
    let reconstructed = ops.reconstruct(&prediction_lanes, &ops.inverse_dct(&dequantized));
    ops.chroma_pixels(&reconstructed, outs);
}

/// Whether every coefficient is zero: the inverse transform would add nothing to the
/// prediction, so the pipelines skip it.
#[inline(always)]
fn all_zero(coefficients: &[i16]) -> bool {
    coefficients.iter().fold(0, |any, &value| any | value) == 0
}

/// [`LaneOps`] with SSE2/SSSE3 shuffles, for the AVX2 kernels.
#[cfg(target_arch = "x86_64")]
mod avx2 {
    use super::{BlockQuantizer, LaneOps, Lanes};
    use crate::encoder::transform::forward_dct_lanes_avx2;
    use crate::tables::ZIGZAG;
    use crate::tokens::MacroblockCoefficients;
    use crate::transform::inverse_dct_lanes_avx2;
    use std::arch::x86_64::*;

    /// Proof that the CPU has AVX2 (and so SSSE3): only [`Avx2Ops::new`] makes one.
    #[derive(Debug, Clone, Copy)]
    pub(super) struct Avx2Ops(());

    impl Avx2Ops {
        /// # Safety
        /// The CPU must support AVX2.
        #[inline(always)]
        pub(super) unsafe fn new() -> Self {
            Avx2Ops(())
        }
    }

    /// Byte order that transposes each 4x4 of bytes: `[a][b]` (4 bytes `b` per `a`) into
    /// `[b][a]`. Its own inverse.
    #[inline(always)]
    fn transpose_bytes_4x4(_: Avx2Ops, vector: __m128i) -> __m128i {
        // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2, which includes SSSE3.
        unsafe {
            _mm_shuffle_epi8(
                vector,
                _mm_setr_epi8(0, 4, 8, 12, 1, 5, 9, 13, 2, 6, 10, 14, 3, 7, 11, 15),
            )
        }
    }

    /// Transposes four vectors of four 32-bit values.
    #[inline(always)]
    fn transpose_dwords_4x4(rows: [__m128i; 4]) -> [__m128i; 4] {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let low01 = _mm_unpacklo_epi32(rows[0], rows[1]);
            let low23 = _mm_unpacklo_epi32(rows[2], rows[3]);
            let high01 = _mm_unpackhi_epi32(rows[0], rows[1]);
            let high23 = _mm_unpackhi_epi32(rows[2], rows[3]);
            [
                _mm_unpacklo_epi64(low01, low23),
                _mm_unpackhi_epi64(low01, low23),
                _mm_unpacklo_epi64(high01, high23),
                _mm_unpackhi_epi64(high01, high23),
            ]
        }
    }

    /// Transposes eight vectors of eight 16-bit values.
    #[inline(always)]
    fn transpose_words_8x8(rows: [__m128i; 8]) -> [__m128i; 8] {
        // SAFETY: SSE2 is part of the x86_64 baseline.
        unsafe {
            let pair01_low = _mm_unpacklo_epi16(rows[0], rows[1]);
            let pair01_high = _mm_unpackhi_epi16(rows[0], rows[1]);
            let pair23_low = _mm_unpacklo_epi16(rows[2], rows[3]);
            let pair23_high = _mm_unpackhi_epi16(rows[2], rows[3]);
            let pair45_low = _mm_unpacklo_epi16(rows[4], rows[5]);
            let pair45_high = _mm_unpackhi_epi16(rows[4], rows[5]);
            let pair67_low = _mm_unpacklo_epi16(rows[6], rows[7]);
            let pair67_high = _mm_unpackhi_epi16(rows[6], rows[7]);
            let quad0123_columns01 = _mm_unpacklo_epi32(pair01_low, pair23_low);
            let quad0123_columns23 = _mm_unpackhi_epi32(pair01_low, pair23_low);
            let quad0123_columns45 = _mm_unpacklo_epi32(pair01_high, pair23_high);
            let quad0123_columns67 = _mm_unpackhi_epi32(pair01_high, pair23_high);
            let quad4567_columns01 = _mm_unpacklo_epi32(pair45_low, pair67_low);
            let quad4567_columns23 = _mm_unpackhi_epi32(pair45_low, pair67_low);
            let quad4567_columns45 = _mm_unpacklo_epi32(pair45_high, pair67_high);
            let quad4567_columns67 = _mm_unpackhi_epi32(pair45_high, pair67_high);
            [
                _mm_unpacklo_epi64(quad0123_columns01, quad4567_columns01),
                _mm_unpackhi_epi64(quad0123_columns01, quad4567_columns01),
                _mm_unpacklo_epi64(quad0123_columns23, quad4567_columns23),
                _mm_unpackhi_epi64(quad0123_columns23, quad4567_columns23),
                _mm_unpacklo_epi64(quad0123_columns45, quad4567_columns45),
                _mm_unpackhi_epi64(quad0123_columns45, quad4567_columns45),
                _mm_unpacklo_epi64(quad0123_columns67, quad4567_columns67),
                _mm_unpackhi_epi64(quad0123_columns67, quad4567_columns67),
            ]
        }
    }

    /// Loads 16 bytes from the start of `bytes`.
    #[inline(always)]
    fn load16(bytes: &[u8]) -> __m128i {
        assert!(bytes.len() >= 16);
        // SAFETY: the slice holds at least 16 bytes; the load is unaligned.
        unsafe { _mm_loadu_si128(bytes.as_ptr().cast()) }
    }

    /// Stores 16 bytes at the start of `bytes`.
    #[inline(always)]
    fn store16(bytes: &mut [u8], vector: __m128i) {
        assert!(bytes.len() >= 16);
        // SAFETY: the slice holds at least 16 bytes; the store is unaligned.
        unsafe { _mm_storeu_si128(bytes.as_mut_ptr().cast(), vector) }
    }

    /// Loads 8 bytes from the start of `bytes` into the low half.
    #[inline(always)]
    fn load8(bytes: &[u8]) -> __m128i {
        assert!(bytes.len() >= 8);
        // SAFETY: the slice holds at least 8 bytes; the load is unaligned.
        unsafe { _mm_loadl_epi64(bytes.as_ptr().cast()) }
    }

    /// Stores the low 8 bytes of `vector` at the start of `bytes`.
    #[inline(always)]
    fn store8(bytes: &mut [u8], vector: __m128i) {
        assert!(bytes.len() >= 8);
        // SAFETY: the slice holds at least 8 bytes; the store is unaligned.
        unsafe { _mm_storel_epi64(bytes.as_mut_ptr().cast(), vector) }
    }

    /// Loads eight 16-bit values.
    #[inline(always)]
    fn load_words(words: &[i16; 8]) -> __m128i {
        // SAFETY: the array holds 16 bytes; the load is unaligned.
        unsafe { _mm_loadu_si128(words.as_ptr().cast()) }
    }

    /// Stores eight 16-bit values.
    #[inline(always)]
    fn store_words(words: &mut [i16], vector: __m128i) {
        assert!(words.len() >= 8);
        // SAFETY: the slice holds at least 16 bytes; the store is unaligned.
        unsafe { _mm_storeu_si128(words.as_mut_ptr().cast(), vector) }
    }

    /// The eight lanes `first_lane..first_lane + 8` of positions `positions` (in that order).
    #[inline(always)]
    fn lane_rows<const N: usize>(
        lanes: &Lanes<i16, N>,
        positions: impl Fn(usize) -> usize,
        first_lane: usize,
    ) -> [__m128i; 8] {
        std::array::from_fn(|row| {
            let words: &[i16; 8] = lanes[positions(row)][first_lane..first_lane + 8]
                .try_into()
                .expect("eight lanes");
            load_words(words)
        })
    }

    /// Moves lanes `first_lane..first_lane + 8` into blocks `first_block..first_block + 8`:
    /// levels in scan order, coefficients in raster order.
    #[inline(always)]
    fn store_eight_blocks<const N: usize>(
        level_lanes: &Lanes<i16, N>,
        dequantized_lanes: &Lanes<i16, N>,
        first_lane: usize,
        first_block: usize,
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
    ) {
        for half in 0..2 {
            let scan = |row: usize| usize::from(ZIGZAG[half * 8 + row]);
            let columns = transpose_words_8x8(lane_rows(level_lanes, scan, first_lane));
            for (block, column) in columns.into_iter().enumerate() {
                store_words(&mut levels[first_block + block][half * 8..], column);
            }
            let raster = |row: usize| half * 8 + row;
            let columns = transpose_words_8x8(lane_rows(dequantized_lanes, raster, first_lane));
            for (block, column) in columns.into_iter().enumerate() {
                store_words(
                    &mut coefficients.blocks[first_block + block][half * 8..],
                    column,
                );
            }
        }
    }

    impl LaneOps for Avx2Ops {
        #[inline(always)]
        fn forward_dct(self, residual: &Lanes<i16, 16>) -> Lanes<i16, 16> {
            // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2.
            unsafe { forward_dct_lanes_avx2(residual) }
        }

        #[inline(always)]
        fn inverse_dct(self, coefficients: &Lanes<i16, 16>) -> Lanes<i16, 16> {
            // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2.
            unsafe { inverse_dct_lanes_avx2(coefficients) }
        }

        #[inline(always)]
        fn quantize(
            self,
            quantizer: &BlockQuantizer,
            coefficients: &Lanes<i16, 16>,
            first: usize,
            levels: &mut Lanes<i16, 16>,
            dequantized: &mut Lanes<i16, 16>,
        ) {
            // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2.
            unsafe { quantizer.quantize_lanes_avx2(coefficients, first, levels, dequantized) };
        }

        #[inline(always)]
        fn luma_lanes(self, pixels: &[u8; 256]) -> Lanes<u8, 16> {
            let mut lanes = [[0u8; 16]; 16];
            for row in 0..4 {
                // Row `row` of the four block rows, each as [column][block column]...
                let rows = std::array::from_fn(|block_row| {
                    transpose_bytes_4x4(self, load16(&pixels[(block_row * 4 + row) * 16..]))
                });
                // ...and then per column, as [block row][block column].
                for (column, vector) in transpose_dwords_4x4(rows).into_iter().enumerate() {
                    store16(&mut lanes[row * 4 + column], vector);
                }
            }
            lanes
        }

        #[inline(always)]
        fn luma_pixels(self, lanes: &Lanes<u8, 16>, pixels: &mut [u8; 256]) {
            for row in 0..4 {
                let columns = std::array::from_fn(|column| load16(&lanes[row * 4 + column]));
                for (block_row, vector) in transpose_dwords_4x4(columns).into_iter().enumerate() {
                    store16(
                        &mut pixels[(block_row * 4 + row) * 16..],
                        transpose_bytes_4x4(self, vector),
                    );
                }
            }
        }

        #[inline(always)]
        fn chroma_lanes(self, planes: [&[u8; 64]; 2]) -> Lanes<u8, 16> {
            let mut lanes = [[0u8; 16]; 16];
            for row in 0..4 {
                // Row `row` of both block rows of a plane as [column][block row][block column].
                // SAFETY: SSE2 is part of the x86_64 baseline.
                let [u, v] = unsafe {
                    [
                        _mm_unpacklo_epi64(
                            load8(&planes[0][row * 8..]),
                            load8(&planes[0][(4 + row) * 8..]),
                        ),
                        _mm_unpacklo_epi64(
                            load8(&planes[1][row * 8..]),
                            load8(&planes[1][(4 + row) * 8..]),
                        ),
                    ]
                };
                let (u, v) = (transpose_bytes_4x4(self, u), transpose_bytes_4x4(self, v));
                // SAFETY: SSE2 is part of the x86_64 baseline.
                let (columns01, columns23) =
                    unsafe { (_mm_unpacklo_epi32(u, v), _mm_unpackhi_epi32(u, v)) };
                for (column, vector) in [columns01, columns23].into_iter().enumerate() {
                    // SAFETY: SSE2 is part of the x86_64 baseline.
                    let high = unsafe { _mm_unpackhi_epi64(vector, vector) };
                    store8(&mut lanes[row * 4 + column * 2], vector);
                    store8(&mut lanes[row * 4 + column * 2 + 1], high);
                }
            }
            lanes
        }

        #[inline(always)]
        fn chroma_pixels(self, lanes: &Lanes<u8, 16>, planes: [&mut [u8; 64]; 2]) {
            let [out_u, out_v] = planes;
            for row in 0..4 {
                let position = |column: usize| load8(&lanes[row * 4 + column]);
                // SAFETY: SSE2 is part of the x86_64 baseline.
                let (u, v) = unsafe {
                    let columns01 = _mm_unpacklo_epi64(position(0), position(1));
                    let columns23 = _mm_unpacklo_epi64(position(2), position(3));
                    let even = _mm_unpacklo_epi32(columns01, columns23);
                    let odd = _mm_unpackhi_epi32(columns01, columns23);
                    (_mm_unpacklo_epi32(even, odd), _mm_unpackhi_epi32(even, odd))
                };
                for (pixels, vector) in [(&mut *out_u, u), (&mut *out_v, v)] {
                    let both = transpose_bytes_4x4(self, vector);
                    store8(&mut pixels[row * 8..], both);
                    // SAFETY: SSE2 is part of the x86_64 baseline.
                    store8(&mut pixels[(4 + row) * 8..], unsafe {
                        _mm_unpackhi_epi64(both, both)
                    });
                }
            }
        }

        #[inline(always)]
        fn store_luma(
            self,
            level_lanes: &Lanes<i16, 16>,
            dequantized_lanes: &Lanes<i16, 16>,
            levels: &mut [[i16; 16]; 25],
            coefficients: &mut MacroblockCoefficients,
        ) {
            for half in 0..2 {
                store_eight_blocks(
                    level_lanes,
                    dequantized_lanes,
                    half * 8,
                    half * 8,
                    levels,
                    coefficients,
                );
            }
        }

        #[inline(always)]
        fn store_chroma(
            self,
            level_lanes: &Lanes<i16, 16>,
            dequantized_lanes: &Lanes<i16, 16>,
            levels: &mut [[i16; 16]; 25],
            coefficients: &mut MacroblockCoefficients,
        ) {
            store_eight_blocks(level_lanes, dequantized_lanes, 0, 16, levels, coefficients);
        }

        #[inline(always)]
        fn residual(self, source: &Lanes<u8, 16>, prediction: &Lanes<u8, 16>) -> Lanes<i16, 16> {
            let mut residual = [[0i16; 16]; 16];
            for raster in 0..16 {
                // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2; each row of `residual`
                // holds 16 values, 32 bytes, and the store is unaligned.
                unsafe {
                    let widen = |bytes: &[u8; 16]| _mm256_cvtepu8_epi16(load16(bytes));
                    let difference =
                        _mm256_sub_epi16(widen(&source[raster]), widen(&prediction[raster]));
                    _mm256_storeu_si256(residual[raster].as_mut_ptr().cast(), difference);
                }
            }
            residual
        }

        #[inline(always)]
        fn reconstruct(
            self,
            prediction: &Lanes<u8, 16>,
            residual: &Lanes<i16, 16>,
        ) -> Lanes<u8, 16> {
            let mut pixels = [[0u8; 16]; 16];
            for raster in 0..16 {
                // SAFETY: an `Avx2Ops` exists only on CPUs with AVX2; each row of `residual`
                // holds 16 values, 32 bytes, and the load is unaligned.
                let sum = unsafe {
                    let prediction = _mm256_cvtepu8_epi16(load16(&prediction[raster]));
                    let residual = _mm256_loadu_si256(residual[raster].as_ptr().cast());
                    // A prediction is 0..=255, so the saturating sum stays exact up to the
                    // clamp to 0..=255 that the packing does.
                    let sum = _mm256_adds_epi16(prediction, residual);
                    _mm_packus_epi16(
                        _mm256_castsi256_si128(sum),
                        _mm256_extracti128_si256::<1>(sum),
                    )
                };
                store16(&mut pixels[raster], sum);
            }
            pixels
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::transform::forward_dct4x4;
    use crate::tables::{AC_QUANT, DC_QUANT};
    use crate::transform::add_inverse_dct;

    /// The residual (source minus prediction) of the 4x4 block at `offset` of two packed blocks
    /// whose rows are `stride` apart, in raster order.
    fn residual_4x4(source: &[u8], prediction: &[u8], offset: usize, stride: usize) -> [i16; 16] {
        let mut residual = [0i16; 16];
        for row in 0..4 {
            for column in 0..4 {
                let index = offset + row * stride + column;
                residual[row * 4 + column] =
                    i16::from(source[index]) - i16::from(prediction[index]);
            }
        }
        residual
    }

    /// The quantizers of base index `q` without deltas (RFC 6386 section 14.1).
    fn quantizers_at(q: usize) -> Quantizers {
        let (dc, ac) = (DC_QUANT[q], AC_QUANT[q]);
        Quantizers {
            y1: BlockQuantizer::new(dc, ac),
            y2: BlockQuantizer::new(dc * 2, ((ac * 101581) >> 16).max(8)),
            uv: BlockQuantizer::new(dc.min(132), ac),
        }
    }

    /// Block-at-a-time [`code_luma_with_y2`], the definition the lane kernels must match.
    fn reference_luma_with_y2(
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
        let dc_values = inverse_walsh(&y2_dequantized);
        out.copy_from_slice(prediction);
        for block in 0..16 {
            let (block_levels, mut dequantized) =
                quantize_scan(&quantizers.y1, &transformed[block], 1);
            levels[block] = block_levels;
            coefficients.blocks[block] = dequantized;
            dequantized[0] = dc_values[block];
            let (bx, by) = ((block & 3) * 4, (block >> 2) * 4);
            add_inverse_dct(&dequantized, out, by * 16 + bx, 16);
        }
    }

    /// Block-at-a-time [`code_luma_without_y2`].
    fn reference_luma_without_y2(
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
            add_inverse_dct(&dequantized, out, by * 16 + bx, 16);
        }
    }

    /// Block-at-a-time [`code_chroma`].
    fn reference_chroma(
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
                add_inverse_dct(&dequantized, out, by * 8 + bx, 8);
            }
        }
    }

    /// A xorshift generator, so every run tests the same blocks.
    struct Random(u64);

    impl Random {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn byte(&mut self) -> u8 {
            (self.next() >> 24) as u8
        }
    }

    /// Source and prediction pixels of one test case: uniform noise, the extremes (every
    /// residual +255 or -255, in blocks, stripes or at random), flat blocks and small
    /// differences around a random level.
    fn pixel_pair<const LEN: usize>(kind: usize, random: &mut Random) -> ([u8; LEN], [u8; LEN]) {
        let mut source = [0u8; LEN];
        let mut prediction = [0u8; LEN];
        let level = random.byte();
        for index in 0..LEN {
            let extreme = random.next() & 1 == 0;
            let (s, p) = match kind % 7 {
                0 => (random.byte(), random.byte()),
                1 => (255, 0),
                2 => (0, 255),
                3 => {
                    if extreme {
                        (255, 0)
                    } else {
                        (0, 255)
                    }
                }
                4 => {
                    if (index / 4) % 2 == 0 {
                        (255, 0)
                    } else {
                        (0, 255)
                    }
                }
                5 => (level, level.wrapping_add(3)),
                _ => {
                    let delta = (random.next() % 9) as u8;
                    (level.saturating_add(delta), level.saturating_sub(delta / 2))
                }
            };
            source[index] = s;
            prediction[index] = p;
        }
        (source, prediction)
    }

    type LumaKernel = fn(
        &Quantizers,
        &[u8; 256],
        &[u8; 256],
        &mut [[i16; 16]; 25],
        &mut MacroblockCoefficients,
        &mut [u8; 256],
    );

    type ChromaKernel = fn(
        &Quantizers,
        [&[u8; 64]; 2],
        [&[u8; 64]; 2],
        &mut [[i16; 16]; 25],
        &mut MacroblockCoefficients,
        [&mut [u8; 64]; 2],
    );

    /// Levels and coefficients start as garbage, so a block a kernel forgets shows up.
    fn garbage_outputs() -> ([[i16; 16]; 25], MacroblockCoefficients) {
        let levels = std::array::from_fn(|block| std::array::from_fn(|i| (block * 31 + i) as i16));
        let coefficients = MacroblockCoefficients {
            blocks: std::array::from_fn(|block| [block as i16 - 77; 16]),
            coded_blocks: 0,
        };
        (levels, coefficients)
    }

    fn check_luma(name: &str, reference: LumaKernel, candidates: &[(&str, LumaKernel)]) {
        let mut random = Random(0x5EED_1234_ABCD_0001);
        for case in 0..7 * 12 {
            let (source, prediction) = pixel_pair::<256>(case, &mut random);
            for q in 0..=127 {
                let quantizers = quantizers_at(q);
                let (mut levels, mut coefficients) = garbage_outputs();
                let mut out = [7u8; 256];
                reference(
                    &quantizers,
                    &source,
                    &prediction,
                    &mut levels,
                    &mut coefficients,
                    &mut out,
                );
                for (path, kernel) in candidates {
                    let (mut got_levels, mut got_coefficients) = garbage_outputs();
                    let mut got_out = [7u8; 256];
                    kernel(
                        &quantizers,
                        &source,
                        &prediction,
                        &mut got_levels,
                        &mut got_coefficients,
                        &mut got_out,
                    );
                    let context = format!("{name} {path}: case {case} q {q}");
                    assert_eq!(got_levels, levels, "levels, {context}");
                    assert_eq!(got_coefficients, coefficients, "coefficients, {context}");
                    assert_eq!(got_out, out, "reconstruction, {context}");
                }
            }
        }
    }

    /// The luma pipeline's entry points to check: dispatched, portable and (where the CPU has
    /// it) AVX2.
    fn luma_candidates<const WITH_Y2: bool>(
        dispatched: LumaKernel,
    ) -> Vec<(&'static str, LumaKernel)> {
        #[allow(unused_mut)] // Only x86_64 adds the AVX2 path.
        let mut candidates: Vec<(&str, LumaKernel)> = vec![
            ("dispatched", dispatched),
            ("portable", |q, s, p, l, c, o| {
                code_luma_lanes::<WITH_Y2>(Portable, q, s, p, l, c, o)
            }),
        ];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            candidates.push(("avx2", |q, s, p, l, c, o| unsafe {
                code_luma_avx2::<WITH_Y2>(q, s, p, l, c, o)
            }));
        }
        candidates
    }

    #[test]
    fn luma_with_y2_matches_block_at_a_time_coding() {
        let candidates = luma_candidates::<true>(code_luma_with_y2);
        check_luma("with Y2", reference_luma_with_y2, &candidates);
    }

    #[test]
    fn luma_without_y2_matches_block_at_a_time_coding() {
        let candidates = luma_candidates::<false>(code_luma_without_y2);
        check_luma("without Y2", reference_luma_without_y2, &candidates);
    }

    #[test]
    fn chroma_matches_block_at_a_time_coding() {
        #[allow(unused_mut)] // Only x86_64 adds the AVX2 path.
        let mut candidates: Vec<(&str, ChromaKernel)> = vec![
            ("dispatched", code_chroma),
            ("portable", |q, s, p, l, c, o| {
                code_chroma_lanes(Portable, q, s, p, l, c, o)
            }),
        ];
        #[cfg(target_arch = "x86_64")]
        if std::is_x86_feature_detected!("avx2") {
            // SAFETY: the CPU supports AVX2.
            candidates.push(("avx2", |q, s, p, l, c, o| unsafe {
                code_chroma_avx2(q, s, p, l, c, o)
            }));
        }
        let mut random = Random(0x5EED_1234_ABCD_0002);
        for case in 0..7 * 12 {
            let (source_u, prediction_u) = pixel_pair::<64>(case, &mut random);
            let (source_v, prediction_v) = pixel_pair::<64>(case / 7 + case % 7 * 3, &mut random);
            let sources = [&source_u, &source_v];
            let predictions = [&prediction_u, &prediction_v];
            for q in 0..=127 {
                let quantizers = quantizers_at(q);
                let (mut levels, mut coefficients) = garbage_outputs();
                let (mut out_u, mut out_v) = ([7u8; 64], [9u8; 64]);
                reference_chroma(
                    &quantizers,
                    sources,
                    predictions,
                    &mut levels,
                    &mut coefficients,
                    [&mut out_u, &mut out_v],
                );
                for (path, kernel) in &candidates {
                    let (mut got_levels, mut got_coefficients) = garbage_outputs();
                    let (mut got_u, mut got_v) = ([7u8; 64], [9u8; 64]);
                    kernel(
                        &quantizers,
                        sources,
                        predictions,
                        &mut got_levels,
                        &mut got_coefficients,
                        [&mut got_u, &mut got_v],
                    );
                    let context = format!("chroma {path}: case {case} q {q}");
                    assert_eq!(got_levels, levels, "levels, {context}");
                    assert_eq!(got_coefficients, coefficients, "coefficients, {context}");
                    assert_eq!((got_u, got_v), (out_u, out_v), "reconstruction, {context}");
                }
            }
        }
    }
}
