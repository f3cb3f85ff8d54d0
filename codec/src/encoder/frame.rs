//! Encoding one frame: mode decisions, residual coding and the macroblock-level reconstruction.
//!
//! Macroblocks are decided in raster order. Each one is predicted from the pixels a decoder will
//! have at that point (the unfiltered reconstruction of this frame for intra prediction, the
//! reference pictures for inter prediction), using the decoder's own predictors, inverse
//! transforms and dequantisation factors. Once every macroblock is decided, the probabilities
//! are tuned to the frame's statistics and the bitstream is written.

// Block and position indices address several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use std::sync::OnceLock;

use super::bitstream::{
    assemble_frame, count_mv_decisions, frame_tag, macroblock_near_mvs, mv_component_costs,
    mv_difference_fits, split_mv_neighbours, subblock_mv_context, subblock_mv_reference,
    write_block_tokens, write_frame_header, write_inter_frame_modes_with_near,
    write_key_frame_modes, NewMvCollector, SubblockMvReference, TokenClassCounts, TokenCostTable,
    TokenCounts, MAX_MV_DIFFERENCE,
};
use super::entropy::{bool_cost, tree_cost, BitCounter, BoolEncoder, EntropyWriter};
use super::motion::{full_pixel_search, sad, sse, PaddedPlane, SearchPlanes};
use super::quantize::BlockQuantizer;
use super::residual::{
    code_chroma, code_luma_with_y2, code_luma_without_y2, quantize_scan, Quantizers,
};
use super::transform::forward_dct4x4;
use crate::dequant::DequantFactors;
use crate::header::{FrameHeader, LoopFilterType, QuantizerIndices, SegmentationHeader};
use crate::inter::{self, InterpolationFilter};
use crate::intra::{self, ABOVE_OUTSIDE, LEFT_OUTSIDE};
use crate::modes::{
    find_near_mvs, MacroblockEdges, MacroblockInfo, MacroblockMode, MotionVector,
    NearMotionVectors, SubblockMode,
};
use crate::picture::{Picture, Plane};
use crate::state::{
    DecoderState, EntropyProbabilities, LoopFilterDeltas, ReferenceFrame, ReferenceKind, References,
};
use crate::tables::{
    CHROMA_MODE_TREE, COEFFICIENT_UPDATE_PROBABILITIES, KEY_FRAME_CHROMA_MODE_PROBABILITIES,
    KEY_FRAME_LUMA_MODE_PROBABILITIES, KEY_FRAME_LUMA_MODE_TREE,
    KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES, LUMA_MODE_TREE, MV_PROBABILITY_COUNT,
    MV_UPDATE_PROBABILITIES, SPLIT_MV_PARTITIONS, SPLIT_MV_PROBABILITIES,
    SUBBLOCK_MODE_PROBABILITIES, SUBBLOCK_MODE_TREE, SUBBLOCK_MV_REFERENCE_PROBABILITIES,
};
use crate::tokens::{skip_macroblock, MacroblockCoefficients, TokenContext, Y2_BLOCK};

/// What the caller decided about a frame before its macroblocks are coded.
#[derive(Debug, Clone)]
pub struct FrameSettings {
    /// Intra-only frame that resets the state.
    pub key_frame: bool,
    /// Quantizer index 0..=127.
    pub quantizer: u8,
    /// Loop-filter level 0..=63, or `None` to choose it by trial.
    pub filter_level: Option<u8>,
    /// Whether the new frame also becomes the golden frame.
    pub refresh_golden: bool,
    /// Whether the new frame also becomes the alternate reference frame.
    pub refresh_altref: bool,
    /// Whether macroblocks may predict from the golden frame.
    pub search_golden: bool,
    /// Whether macroblocks may predict from the alternate reference frame.
    pub search_altref: bool,
    /// Whether to search new vectors on the golden and alternate references too.
    pub search_other_new_mv: bool,
    /// Whether to try 4x4 intra prediction (B_PRED).
    pub subblock_intra: bool,
    /// Whether to refine motion vectors to quarter pixels.
    pub subpixel: bool,
    /// Whether to try SPLITMV.
    pub split: bool,
    /// Whether to choose the loop-filter level by trial.
    pub filter_trials: bool,
    /// Whether to take the real-time shortcuts: no residual for an inter prediction whose error
    /// would almost surely quantise away, and no sub-pixel refinement of a whole-pixel vector
    /// that already predicts well.
    pub shortcuts: bool,
}

/// A coded frame with everything the reconstruction needs.
#[derive(Debug, Clone)]
pub struct CodedFrame {
    /// The compressed frame.
    pub bytes: Vec<u8>,
    /// Its header, as the decoder will parse it.
    pub header: FrameHeader,
    /// Every macroblock's modes, raster order.
    pub infos: Vec<MacroblockInfo>,
    /// The dequantised coefficients of the macroblocks that code any (those not skipped),
    /// raster order: a skipped macroblock's are all zero. Debug builds only, where they check
    /// the reconstruction against the decoder's; empty in release builds.
    pub coefficients: Vec<MacroblockCoefficients>,
    /// Whether the loop filter filters each macroblock's inner edges, raster order: all but
    /// the skipped whole-block-mode macroblocks, which code no coefficient.
    pub inner_edges: Vec<bool>,
    /// The reconstruction before the loop filter, macroblock-aligned.
    pub unfiltered: Picture,
}

/// Rate-distortion trade-off at one quantizer.
#[derive(Debug, Clone, Copy)]
struct Lambda {
    /// Weight of 1/256 bit against a unit of squared error, times 256.
    sse: u64,
    /// Weight of 1/256 bit against a unit of absolute error, times 256.
    sad: u64,
}

impl Lambda {
    fn new(ac_step: i32) -> Self {
        // The VP8 transform scales coefficients by about 2 relative to an orthonormal one, so
        // the step in pixel terms is about half the table's step.
        let step = f64::from(ac_step) / 2.0;
        // Tuned on the test clip for SSIM per bit (`salsify bench-encode`).
        let sse = (0.12 * step * step).max(0.05);
        let sad = sse.sqrt() * 0.7;
        Lambda {
            sse: (sse * 256.0).round().max(1.0) as u64,
            sad: (sad * 256.0).round().max(1.0) as u64,
        }
    }

    /// Rate-distortion cost from squared error and a rate in 1/256 bit.
    #[inline]
    fn rd(&self, sse: u64, rate: u64) -> u64 {
        sse * 65536 + self.sse * rate
    }

    /// The least rate (1/256 bit) that costs at least as much as `error_saved` units of squared
    /// error: coding that saves that error at this rate or above is not worth it.
    #[inline]
    fn break_even_rate(&self, error_saved: u64) -> u64 {
        (error_saved * 65536).div_ceil(self.sse)
    }

    /// Cost from absolute error and a rate in 1/256 bit.
    #[inline]
    fn sad_cost(&self, sad: u64, rate: u64) -> u64 {
        sad * 65536 + self.sad * rate
    }
}

/// Where the real-time shortcuts cut work short (SADs, for the frame's quantizer).
#[derive(Debug, Clone, Copy)]
struct ShortcutThresholds {
    /// Luma SAD of an inter prediction at or below which, with the U and V SADs summed at or
    /// below `skip_chroma_sad`, the macroblock is coded without a residual.
    skip_luma_sad: u32,
    /// See `skip_luma_sad`.
    skip_chroma_sad: u32,
    /// Whole-pixel vector SAD at or below which the vector is not refined to sub-pixels.
    subpixel_min_sad: u32,
}

/// One macroblock's decided coding.
#[derive(Clone, Default)]
struct MacroblockCoding {
    info: MacroblockInfo,
    /// Quantised levels in scan order; index [`Y2_BLOCK`] is the Y2 block.
    levels: [[i16; 16]; 25],
    coefficients: MacroblockCoefficients,
}

/// Copies the `SIZE` x `SIZE` block at (`x`, `y`) of `plane` into a packed array. Pixels past
/// the plane's right or bottom edge repeat its last column or row: the macroblocks that cover
/// a partial edge code the picture extended that way.
fn block_of<const SIZE: usize>(plane: &Plane, x: usize, y: usize, out: &mut [u8]) {
    for row in 0..SIZE {
        let line = plane.row((y + row).min(plane.height - 1));
        let out_row: &mut [u8; SIZE] = (&mut out[row * SIZE..row * SIZE + SIZE])
            .try_into()
            .expect("SIZE pixels");
        if x + SIZE <= plane.width {
            *out_row = line[x..x + SIZE].try_into().expect("SIZE pixels");
        } else {
            for (column, value) in out_row.iter_mut().enumerate() {
                *value = line[(x + column).min(plane.width - 1)];
            }
        }
    }
}

/// The edges a whole-block intra predictor reads: `above[0]` is the corner, then `size`
/// pixels above, and `size` pixels on the left.
fn block_edges(
    plane: &Plane,
    x: usize,
    y: usize,
    size: usize,
    above: &mut [u8; 17],
    left: &mut [u8; 16],
) {
    if y == 0 {
        above[..=size].fill(ABOVE_OUTSIDE);
    } else {
        let row = &plane.data[(y - 1) * plane.stride..];
        above[1..=size].copy_from_slice(&row[x..x + size]);
        above[0] = if x == 0 { LEFT_OUTSIDE } else { row[x - 1] };
    }
    if x == 0 {
        left[..size].fill(LEFT_OUTSIDE);
    } else {
        for (row, value) in left.iter_mut().enumerate().take(size) {
            *value = plane.data[(y + row) * plane.stride + x - 1];
        }
    }
}

/// Cost in 1/256 bit of each whole-block luma intra mode (DC, V, H, TM, B_PRED).
fn luma_mode_costs(key_frame: bool, probabilities: &EntropyProbabilities) -> [u32; 5] {
    std::array::from_fn(|mode| {
        if key_frame {
            tree_cost(
                &KEY_FRAME_LUMA_MODE_TREE,
                &KEY_FRAME_LUMA_MODE_PROBABILITIES,
                mode as i8,
                0,
            )
        } else {
            tree_cost(&LUMA_MODE_TREE, &probabilities.luma_modes, mode as i8, 0)
        }
    })
}

/// Cost in 1/256 bit of each sub-block mode by above and left mode (key frames) or of each
/// mode in row 0 (inter frames, whose probabilities do not depend on the neighbours). Both
/// come from fixed tables, so they are computed once.
fn subblock_mode_costs(key_frame: bool) -> &'static [[[u32; 10]; 10]; 10] {
    static KEY_FRAME: OnceLock<[[[u32; 10]; 10]; 10]> = OnceLock::new();
    static INTER_FRAME: OnceLock<[[[u32; 10]; 10]; 10]> = OnceLock::new();
    let costs = |probabilities: &dyn Fn(usize, usize) -> &'static [u8; 9]| {
        std::array::from_fn(|above| {
            std::array::from_fn(|left| {
                std::array::from_fn(|mode| {
                    tree_cost(
                        &SUBBLOCK_MODE_TREE,
                        probabilities(above, left),
                        mode as i8,
                        0,
                    )
                })
            })
        })
    };
    if key_frame {
        KEY_FRAME.get_or_init(|| {
            costs(&|above, left| &KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES[above][left])
        })
    } else {
        INTER_FRAME.get_or_init(|| costs(&|_, _| &SUBBLOCK_MODE_PROBABILITIES))
    }
}

/// Cost in 1/256 bit of each chroma mode.
fn chroma_mode_costs(key_frame: bool, probabilities: &EntropyProbabilities) -> [u32; 4] {
    std::array::from_fn(|mode| {
        let table = if key_frame {
            &KEY_FRAME_CHROMA_MODE_PROBABILITIES
        } else {
            &probabilities.chroma_modes
        };
        tree_cost(&CHROMA_MODE_TREE, table, mode as i8, 0)
    })
}

const WHOLE_BLOCK_MODES: [MacroblockMode; 4] = [
    MacroblockMode::Dc,
    MacroblockMode::Vertical,
    MacroblockMode::Horizontal,
    MacroblockMode::TrueMotion,
];

/// Encodes frames; holds what stays fixed during one frame.
struct FrameEncoder<'a> {
    /// The picture being coded (display size).
    source: &'a Picture,
    header: FrameHeader,
    base_probabilities: EntropyProbabilities,
    base_loop_filter_deltas: LoopFilterDeltas,
    settings: &'a FrameSettings,
    columns: usize,
    rows: usize,
    recon: Picture,
    references: Option<References>,
    /// The references macroblocks may predict from, LAST first.
    searched_references: Vec<ReferenceKind>,
    quantizers: Quantizers,
    lambda: Lambda,
    /// A zero-vector SAD at or below which a macroblock takes ZEROMV without further search.
    zero_enough_sad: u32,
    /// A ZEROMV or NEARESTMV SAD at or below which that cheap choice is coded first, and kept
    /// when its residual is not worth coding.
    provisional_sad: u32,
    /// Whole-macroblock luma SAD above which SPLITMV is tried.
    split_min_sad: u32,
    /// The real-time shortcuts' thresholds, when [`FrameSettings::shortcuts`] asks for them.
    shortcuts: Option<ShortcutThresholds>,
    luma_mode_costs: [u32; 5],
    /// Cost of each motion-vector component difference (row, column), indexed by the
    /// quarter-pixel value plus [`MAX_MV_DIFFERENCE`].
    mv_costs: [Vec<u32>; 2],
    /// Cost of each sub-block mode: by above and left context on key frames, else row 0.
    subblock_mode_costs: &'static [[[u32; 10]; 10]; 10],
    chroma_mode_costs: [u32; 4],
    /// Token costs under the frame's starting probabilities.
    token_costs: TokenCostTable,
    infos: Vec<MacroblockInfo>,
    /// Token contexts along the bottom edge of the macroblock row above, per column.
    above_contexts: Vec<TokenContext>,
    left_context: TokenContext,
    /// The latest luma predictions made by the decoder's filters (quarter-pixel vectors, and
    /// any vector the search planes do not reach) for the macroblock being searched, so that
    /// a vector met twice, and the chosen one, are predicted once.
    luma_predictions: std::cell::RefCell<PredictionCache>,
}

/// How far an inter macroblock's search went.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum SearchExtent {
    /// ZEROMV on LAST matched so well that nothing else was tried.
    Unchanged,
    /// Only ZEROMV, NEARESTMV and NEARMV were tried, on each reference; the choice stands only
    /// if its residual is not worth coding.
    Provisional,
    /// Every candidate was tried.
    Complete,
}

/// A few 16x16 luma predictions by macroblock, reference and vector, replaced oldest first.
struct PredictionCache {
    /// Each slot's key (see [`PredictionCache::key`]); [`EMPTY_PREDICTION_SLOT`] when unused.
    keys: [u64; PREDICTION_CACHE_SIZE],
    blocks: [[u8; 256]; PREDICTION_CACHE_SIZE],
    next: usize,
}

/// Predictions [`PredictionCache`] keeps: a macroblock's quarter-pixel step tries up to five.
const PREDICTION_CACHE_SIZE: usize = 8;

/// The key of an unused [`PredictionCache`] slot: no macroblock index reaches it.
const EMPTY_PREDICTION_SLOT: u64 = u64::MAX;

impl PredictionCache {
    fn new() -> Self {
        PredictionCache {
            keys: [EMPTY_PREDICTION_SLOT; PREDICTION_CACHE_SIZE],
            blocks: [[0; 256]; PREDICTION_CACHE_SIZE],
            next: 0,
        }
    }

    /// One integer for a macroblock index, reference and vector, so that a lookup is a few
    /// integer comparisons: the vector's two components in the low 32 bits, the reference in
    /// the next two and the macroblock index above.
    fn key(macroblock: usize, reference: ReferenceKind, mv: MotionVector) -> u64 {
        let vector = u64::from(mv.row as u16) << 16 | u64::from(mv.col as u16);
        (macroblock as u64) << 34 | (reference as u64) << 32 | vector
    }

    /// The slot holding the prediction of `key`, if any.
    fn slot(&self, key: u64) -> Option<usize> {
        self.keys.iter().position(|&cached| cached == key)
    }

    /// A slot to predict `key` into, replacing the oldest entry.
    fn insert(&mut self, key: u64) -> usize {
        let slot = self.next;
        self.next = (slot + 1) % PREDICTION_CACHE_SIZE;
        self.keys[slot] = key;
        slot
    }
}

impl<'a> FrameEncoder<'a> {
    fn new(state: &DecoderState, picture: &'a Picture, settings: &'a FrameSettings) -> Self {
        let width = picture.width();
        let height = picture.height();
        let columns = width.div_ceil(16);
        let rows = height.div_ceil(16);
        let key_frame = settings.key_frame;
        let base_probabilities = if key_frame {
            EntropyProbabilities::default()
        } else {
            *state.probabilities()
        };
        let base_loop_filter_deltas = if key_frame {
            LoopFilterDeltas::default()
        } else {
            *state.loop_filter_deltas()
        };
        let segmentation_values = if key_frame {
            Default::default()
        } else {
            let mut values = *state.segmentation();
            values.enabled = false;
            values
        };
        let header = FrameHeader {
            key_frame,
            version: 0,
            show_frame: true,
            first_partition_size: 0,
            width: width as u16,
            height: height as u16,
            horizontal_scale: 0,
            vertical_scale: 0,
            color_space: 0,
            clamping_type: 0,
            segmentation: SegmentationHeader {
                enabled: false,
                update_map: false,
                update_data: false,
                values: segmentation_values,
                tree_probabilities: [255; 3],
            },
            filter_type: LoopFilterType::Normal,
            filter_level: 0,
            sharpness: 0,
            loop_filter_deltas_enabled: false,
            loop_filter_deltas_update: false,
            loop_filter_deltas: base_loop_filter_deltas,
            partition_count: 1,
            quantizer: QuantizerIndices {
                y_ac: settings.quantizer.min(127),
                ..QuantizerIndices::default()
            },
            refresh_golden: key_frame || settings.refresh_golden,
            refresh_altref: key_frame || settings.refresh_altref,
            copy_to_golden: 0,
            copy_to_altref: 0,
            sign_bias_golden: false,
            sign_bias_altref: false,
            refresh_entropy_probs: true,
            refresh_last: true,
            probabilities: base_probabilities,
            macroblock_skip_enabled: true,
            prob_skip_false: 128,
            prob_intra: 64,
            prob_last: 200,
            prob_golden: 128,
        };
        let factors = DequantFactors::new(i32::from(header.quantizer.y_ac), &header);
        let quantizers = Quantizers {
            y1: BlockQuantizer::new(i32::from(factors.y1[0]), i32::from(factors.y1[1])),
            y2: BlockQuantizer::new(i32::from(factors.y2[0]), i32::from(factors.y2[1])),
            uv: BlockQuantizer::new(i32::from(factors.uv[0]), i32::from(factors.uv[1])),
        };
        let references = if key_frame {
            None
        } else {
            state.references().cloned()
        };
        let mut searched_references = Vec::new();
        if references.is_some() {
            searched_references.push(ReferenceKind::Last);
            if settings.search_golden {
                searched_references.push(ReferenceKind::Golden);
            }
            if settings.search_altref {
                searched_references.push(ReferenceKind::AltRef);
            }
        }
        let lambda = Lambda::new(i32::from(factors.y1[1]));
        let zero_enough_sad = (ZERO_ENOUGH_SAD_PER_STEP * f64::from(factors.y1[1])) as u32;
        let provisional_sad = (PROVISIONAL_SAD_PER_STEP * f64::from(factors.y1[1])) as u32;
        let split_min_sad = SPLIT_SEARCH_MIN_SAD
            .max((SPLIT_SEARCH_MIN_SAD_PER_STEP * f64::from(factors.y1[1])) as u32);
        let shortcuts = settings.shortcuts.then(|| ShortcutThresholds {
            skip_luma_sad: (PREDICTED_SKIP_SAD_PER_STEP * f64::from(factors.y1[1])) as u32,
            skip_chroma_sad: (PREDICTED_SKIP_CHROMA_SAD_PER_STEP * f64::from(factors.uv[1])) as u32,
            subpixel_min_sad: (SUBPIXEL_MIN_SAD_PER_STEP * f64::from(factors.y1[1])) as u32,
        });
        let mv_costs =
            std::array::from_fn(|component| mv_component_costs(&base_probabilities.mv[component]));
        let subblock_mode_costs = subblock_mode_costs(key_frame);
        FrameEncoder {
            mv_costs,
            subblock_mode_costs,
            luma_mode_costs: luma_mode_costs(key_frame, &base_probabilities),
            chroma_mode_costs: chroma_mode_costs(key_frame, &base_probabilities),
            token_costs: TokenCostTable::new(&base_probabilities.coefficients),
            header,
            base_probabilities,
            base_loop_filter_deltas,
            settings,
            columns,
            rows,
            source: picture,
            recon: Picture {
                y: Plane::filled(columns * 16, rows * 16, 0),
                u: Plane::filled(columns * 8, rows * 8, 0),
                v: Plane::filled(columns * 8, rows * 8, 0),
            },
            references,
            searched_references,
            quantizers,
            lambda,
            zero_enough_sad,
            provisional_sad,
            split_min_sad,
            shortcuts,
            infos: vec![MacroblockInfo::default(); columns * rows],
            above_contexts: vec![[0; 9]; columns],
            left_context: [0; 9],
            luma_predictions: std::cell::RefCell::new(PredictionCache::new()),
        }
    }

    /// Cost in 1/256 bit of a macroblock's tokens with the frame's starting probabilities and
    /// the current contexts.
    fn token_cost(&self, mb_x: usize, levels: &[[i16; 16]; 25], has_y2: bool) -> u64 {
        self.token_cost_up_to(mb_x, levels, has_y2, u64::MAX)
    }

    /// Whether the macroblock's tokens cost at least `limit` (1/256 bit), as
    /// [`token_cost`](Self::token_cost) prices them.
    fn token_cost_reaches(
        &self,
        mb_x: usize,
        levels: &[[i16; 16]; 25],
        has_y2: bool,
        limit: u64,
    ) -> bool {
        self.token_cost_up_to(mb_x, levels, has_y2, limit) >= limit
    }

    /// [`token_cost`](Self::token_cost) when it is below `limit`; otherwise some cost at least
    /// `limit`, as pricing stops once the limit is reached.
    fn token_cost_up_to(
        &self,
        mb_x: usize,
        levels: &[[i16; 16]; 25],
        has_y2: bool,
        limit: u64,
    ) -> u64 {
        let mut cost = 0u64;
        let mut above = self.above_contexts[mb_x];
        let mut left = self.left_context;
        visit_macroblock_tokens(
            levels,
            has_y2,
            &mut above,
            &mut left,
            |block_type, block_levels, first, context| {
                if cost >= limit {
                    // Decided: the contexts of the blocks left no longer matter.
                    return false;
                }
                let (block_cost, coded) =
                    self.token_costs
                        .block_cost(block_type, block_levels, first, context);
                cost += u64::from(block_cost);
                coded
            },
        );
        cost
    }

    /// Decides and codes the luma of an intra macroblock. Returns (mode, sub-block modes, rd
    /// cost); the chosen reconstruction is in `out`.
    #[allow(clippy::too_many_arguments)]
    fn code_intra_luma(
        &self,
        mb_x: usize,
        mb_y: usize,
        source: &[u8; 256],
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
        out: &mut [u8; 256],
        extra_rate: u64,
    ) -> (MacroblockMode, [SubblockMode; 16], u64) {
        let (x, y) = (mb_x * 16, mb_y * 16);
        let mut above = [0u8; 17];
        let mut left = [0u8; 16];
        block_edges(&self.recon.y, x, y, 16, &mut above, &mut left);
        let mut best_mode = MacroblockMode::Dc;
        let mut best_cost = u64::MAX;
        let mut best_prediction = [0u8; 256];
        let mut prediction = [0u8; 256];
        for mode in WHOLE_BLOCK_MODES {
            intra::predict_block(mode, 16, &above, &left, y > 0, x > 0, &mut prediction, 16);
            let cost = self.lambda.sad_cost(
                u64::from(sad(source, 16, &prediction, 16, 16, 16)),
                u64::from(self.luma_mode_costs[mode as usize]),
            );
            if cost < best_cost {
                best_cost = cost;
                best_mode = mode;
                best_prediction = prediction;
            }
        }
        code_luma_with_y2(
            &self.quantizers,
            source,
            &best_prediction,
            levels,
            coefficients,
            out,
        );
        let whole_rate = self.token_cost(mb_x, levels, true)
            + u64::from(self.luma_mode_costs[best_mode as usize])
            + extra_rate;
        let whole_cost = self
            .lambda
            .rd(u64::from(sse(source, 16, out, 16, 16, 16)), whole_rate);
        if !self.settings.subblock_intra {
            return (
                best_mode,
                [SubblockMode::implied_by(best_mode); 16],
                whole_cost,
            );
        }
        let mut sub_levels = *levels;
        let mut sub_coefficients = coefficients.clone();
        let mut sub_out = [0u8; 256];
        let (sub_modes, sub_mode_rate) = self.code_subblocks(
            mb_x,
            mb_y,
            source,
            &mut sub_levels,
            &mut sub_coefficients,
            &mut sub_out,
        );
        let sub_rate = self.token_cost(mb_x, &sub_levels, false)
            + u64::from(self.luma_mode_costs[MacroblockMode::Subblocks as usize])
            + sub_mode_rate
            + extra_rate;
        let sub_cost = self
            .lambda
            .rd(u64::from(sse(source, 16, &sub_out, 16, 16, 16)), sub_rate);
        if sub_cost < whole_cost {
            *levels = sub_levels;
            *coefficients = sub_coefficients;
            *out = sub_out;
            (MacroblockMode::Subblocks, sub_modes, sub_cost)
        } else {
            (
                best_mode,
                [SubblockMode::implied_by(best_mode); 16],
                whole_cost,
            )
        }
    }

    /// Chooses and codes B_PRED sub-block modes. Returns the modes and their rate.
    fn code_subblocks(
        &self,
        mb_x: usize,
        mb_y: usize,
        source: &[u8; 256],
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
        out: &mut [u8; 256],
    ) -> ([SubblockMode; 16], u64) {
        let (x, y) = (mb_x * 16, mb_y * 16);
        let plane = &self.recon.y;
        // Row above the macroblock including 4 pixels beyond it on the right, and the corner.
        let mut above_row = [ABOVE_OUTSIDE; 21];
        if y > 0 {
            let row = &plane.data[(y - 1) * plane.stride..];
            above_row[0] = if x == 0 { LEFT_OUTSIDE } else { row[x - 1] };
            above_row[1..17].copy_from_slice(&row[x..x + 16]);
            if x + 16 < plane.width {
                above_row[17..21].copy_from_slice(&row[x + 16..x + 20]);
            } else {
                // Past the frame's right edge libvpx repeats the row's last pixel.
                above_row[17..21].fill(row[plane.width - 1]);
            }
        }
        let mut left_column = [LEFT_OUTSIDE; 16];
        if x > 0 {
            for (row, value) in left_column.iter_mut().enumerate() {
                *value = plane.data[(y + row) * plane.stride + x - 1];
            }
        }
        levels[Y2_BLOCK] = [0; 16];
        coefficients.blocks[Y2_BLOCK] = [0; 16];
        let key_frame = self.header.key_frame;
        let index = mb_y * self.columns + mb_x;
        let above_info = (mb_y > 0).then(|| &self.infos[index - self.columns]);
        let left_info = (mb_x > 0).then(|| &self.infos[index - 1]);
        let mut modes = [SubblockMode::Dc; 16];
        let mut total_rate = 0u64;
        let mut probe = MacroblockInfo {
            mode: MacroblockMode::Subblocks,
            ..MacroblockInfo::default()
        };
        for block in 0..16 {
            let (bx, by) = ((block & 3) * 4, (block >> 2) * 4);
            let mut above = [0u8; 9];
            let mut left = [0u8; 4];
            // Corner and above row.
            if by == 0 {
                above[..5].copy_from_slice(&above_row[bx..bx + 5]);
                above[5..9].copy_from_slice(&above_row[bx + 5..bx + 9]);
            } else {
                above[0] = if bx == 0 {
                    left_column[by - 1]
                } else {
                    out[(by - 1) * 16 + bx - 1]
                };
                above[1..5].copy_from_slice(&out[(by - 1) * 16 + bx..(by - 1) * 16 + bx + 4]);
                if bx < 12 {
                    above[5..9]
                        .copy_from_slice(&out[(by - 1) * 16 + bx + 4..(by - 1) * 16 + bx + 8]);
                } else {
                    // The rightmost column reuses the pixels above-right of the macroblock.
                    above[5..9].copy_from_slice(&above_row[17..21]);
                }
            }
            for (row, value) in left.iter_mut().enumerate() {
                *value = if bx == 0 {
                    left_column[by + row]
                } else {
                    out[(by + row) * 16 + bx - 1]
                };
            }
            let mut block_source = [0u8; 16];
            for row in 0..4 {
                block_source[row * 4..row * 4 + 4]
                    .copy_from_slice(&source[(by + row) * 16 + bx..(by + row) * 16 + bx + 4]);
            }
            let mode_costs = if key_frame {
                let (above_mode, left_mode) = super::bitstream::key_frame_subblock_contexts(
                    &probe, above_info, left_info, block,
                );
                &self.subblock_mode_costs[above_mode as usize][left_mode as usize]
            } else {
                &self.subblock_mode_costs[0][0]
            };
            let mut best = (u64::MAX, SubblockMode::Dc, [0u8; 16], 0u64);
            let mut prediction = [0u8; 16];
            for mode in SubblockMode::ALL {
                intra::predict_subblock(mode, &above, &left, &mut prediction, 4);
                let rate = u64::from(mode_costs[mode as usize]);
                let cost = self
                    .lambda
                    .sad_cost(u64::from(sad(&block_source, 4, &prediction, 4, 4, 4)), rate);
                if cost < best.0 {
                    best = (cost, mode, prediction, rate);
                }
            }
            let (_, mode, prediction, rate) = best;
            modes[block] = mode;
            probe.subblock_modes[block] = mode;
            total_rate += rate;
            let mut residual = [0i16; 16];
            for index in 0..16 {
                residual[index] = i16::from(block_source[index]) - i16::from(prediction[index]);
            }
            let transformed = forward_dct4x4(&residual);
            let (block_levels, dequantized) = quantize_scan(&self.quantizers.y1, &transformed, 0);
            levels[block] = block_levels;
            coefficients.blocks[block] = dequantized;
            for row in 0..4 {
                out[(by + row) * 16 + bx..(by + row) * 16 + bx + 4]
                    .copy_from_slice(&prediction[row * 4..row * 4 + 4]);
            }
            crate::transform::add_inverse_dct(&dequantized, out, by * 16 + bx, 16);
        }
        (modes, total_rate)
    }

    /// Chooses a chroma intra mode by SAD and codes both chroma planes.
    fn code_intra_chroma(
        &self,
        mb_x: usize,
        mb_y: usize,
        sources: [&[u8; 64]; 2],
        levels: &mut [[i16; 16]; 25],
        coefficients: &mut MacroblockCoefficients,
        outs: [&mut [u8; 64]; 2],
    ) -> MacroblockMode {
        let (x, y) = (mb_x * 8, mb_y * 8);
        let mut edges = [([0u8; 17], [0u8; 16]); 2];
        for (plane, (above, left)) in [&self.recon.u, &self.recon.v].into_iter().zip(&mut edges) {
            block_edges(plane, x, y, 8, above, left);
        }
        let mut best = (u64::MAX, MacroblockMode::Dc, [[0u8; 64]; 2]);
        for mode in WHOLE_BLOCK_MODES {
            let mut predictions = [[0u8; 64]; 2];
            let mut distortion = 0u64;
            for plane in 0..2 {
                let (above, left) = &edges[plane];
                intra::predict_block(
                    mode,
                    8,
                    above,
                    left,
                    y > 0,
                    x > 0,
                    &mut predictions[plane],
                    8,
                );
                distortion += u64::from(sad(sources[plane], 8, &predictions[plane], 8, 8, 8));
            }
            let cost = self
                .lambda
                .sad_cost(distortion, u64::from(self.chroma_mode_costs[mode as usize]));
            if cost < best.0 {
                best = (cost, mode, predictions);
            }
        }
        let (_, mode, predictions) = best;
        code_chroma(
            &self.quantizers,
            sources,
            [&predictions[0], &predictions[1]],
            levels,
            coefficients,
            outs,
        );
        mode
    }

    /// Reference frame `reference` (inter frames always have references).
    fn reference_frame(&self, reference: ReferenceKind) -> &ReferenceFrame {
        self.references
            .as_ref()
            .and_then(|references| references.get(reference))
            .expect("inter frames have references")
    }

    /// The picture of reference `reference`.
    fn reference_picture(&self, reference: ReferenceKind) -> &Picture {
        self.reference_frame(reference).picture()
    }

    /// Luma and chroma inter prediction of a whole-macroblock vector.
    fn predict_inter(
        &self,
        reference: ReferenceKind,
        mb_x: usize,
        mb_y: usize,
        mv: MotionVector,
        luma: &mut [u8; 256],
        chroma: &mut [[u8; 64]; 2],
    ) {
        let picture = self.reference_picture(reference);
        let filter = InterpolationFilter::for_version(self.header.version);
        let from_planes =
            self.search_planes(reference)
                .copy_prediction(mb_x * 16, mb_y * 16, mv, 16, luma);
        if !from_planes {
            *luma = *self.cached_luma_prediction(reference, mb_x, mb_y, mv);
        }
        let chroma_mv = inter::chroma_mv(mv, self.header.version == 3);
        for (plane, out) in [&picture.u, &picture.v].into_iter().zip(chroma.iter_mut()) {
            inter::predict_block(plane, mb_x * 8, mb_y * 8, chroma_mv, 8, 8, filter, out, 8);
        }
    }

    /// The motion-search planes of a reference.
    fn search_planes(&self, reference: ReferenceKind) -> &SearchPlanes {
        self.reference_frame(reference).search_planes()
    }

    /// Luma-only inter prediction SAD of a vector, exactly as the decoder would predict.
    fn inter_luma_sad(
        &self,
        reference: ReferenceKind,
        mb_x: usize,
        mb_y: usize,
        mv: MotionVector,
        source: &[u8; 256],
    ) -> u32 {
        // Whole and half pixels: one SAD on the search planes.
        if let Some(distortion) =
            self.search_planes(reference)
                .sad(source, mb_x * 16, mb_y * 16, mv, 16)
        {
            return distortion;
        }
        let prediction = self.cached_luma_prediction(reference, mb_x, mb_y, mv);
        sad(source, 16, &*prediction, 16, 16, 16)
    }

    /// The decoder's 16x16 luma prediction of macroblock (`mb_x`, `mb_y`) at `mv`, from the
    /// cache of this macroblock's predictions, made and cached first when missing.
    fn cached_luma_prediction(
        &self,
        reference: ReferenceKind,
        mb_x: usize,
        mb_y: usize,
        mv: MotionVector,
    ) -> std::cell::Ref<'_, [u8; 256]> {
        let key = PredictionCache::key(mb_y * self.columns + mb_x, reference, mv);
        let cached = self.luma_predictions.borrow().slot(key);
        let slot = cached.unwrap_or_else(|| {
            let mut cache = self.luma_predictions.borrow_mut();
            let slot = cache.insert(key);
            self.predict_luma(
                reference,
                mb_x * 16,
                mb_y * 16,
                mv,
                16,
                &mut cache.blocks[slot],
            );
            slot
        });
        std::cell::Ref::map(self.luma_predictions.borrow(), |cache| &cache.blocks[slot])
    }

    /// The decoder's luma prediction of the `size` x `size` block at (`x`, `y`) displaced by
    /// `mv`, into `out` (packed rows): one vertical pass over the reference's search planes
    /// where they allow it, the decoder's own prediction otherwise.
    fn predict_luma(
        &self,
        reference: ReferenceKind,
        x: usize,
        y: usize,
        mv: MotionVector,
        size: usize,
        out: &mut [u8],
    ) {
        if self
            .search_planes(reference)
            .predict_vertical_quarter(x, y, mv, size, out)
        {
            return;
        }
        let filter = InterpolationFilter::for_version(self.header.version);
        let picture = self.reference_picture(reference);
        inter::predict_block(&picture.y, x, y, mv, size, size, filter, out, size);
    }

    /// Cost in 1/256 bit of a NEWMV vector against `best` (large when it cannot be coded).
    #[inline]
    fn mv_rate(&self, mv: MotionVector, best: MotionVector) -> u64 {
        if !mv_difference_fits(mv, best) {
            return 1 << 40;
        }
        let row = (i32::from(mv.row) - i32::from(best.row)) / 2 + MAX_MV_DIFFERENCE;
        let col = (i32::from(mv.col) - i32::from(best.col)) / 2 + MAX_MV_DIFFERENCE;
        u64::from(self.mv_costs[0][row as usize]) + u64::from(self.mv_costs[1][col as usize])
    }

    /// Rate in 1/256 bit of signalling a reference frame.
    fn reference_rate(&self, reference: ReferenceKind) -> u64 {
        let mut counter = BitCounter::default();
        super::bitstream::write_reference(&mut counter, &self.header, reference);
        counter.cost()
    }

    /// Decides one inter-frame macroblock: the best inter candidate, its cost, and how far the
    /// search went. With `allow_provisional`, a good enough ZEROMV or NEARESTMV on LAST leaves
    /// out the vector searches: the choice is provisional.
    fn decide_inter_macroblock(
        &self,
        mb_x: usize,
        mb_y: usize,
        source_luma: &[u8; 256],
        allow_provisional: bool,
    ) -> (MacroblockInfo, u64, SearchExtent) {
        let edges = MacroblockEdges::new(mb_x, mb_y, self.columns, self.rows);
        let mut best_info = MacroblockInfo::default();
        let mut best_cost = u64::MAX;
        let mut near_of_last: Option<NearMotionVectors> = None;
        let mut provisional = false;
        for &reference in &self.searched_references {
            let padded = self.search_planes(reference).whole();
            // The neighbours' vectors only depend on the reference through its sign bias.
            let sign_bias = self.header.sign_bias();
            let near = match near_of_last {
                Some(near)
                    if sign_bias[reference as usize] == sign_bias[ReferenceKind::Last as usize] =>
                {
                    near
                }
                _ => find_near_mvs(
                    &self.infos,
                    self.columns,
                    mb_x,
                    mb_y,
                    reference,
                    sign_bias,
                    &edges,
                ),
            };
            if reference == ReferenceKind::Last {
                near_of_last = Some(near);
            }
            let mode_probabilities = near.mode_probabilities();
            let mode_rate = |decision: usize| -> u64 {
                let mut counter = BitCounter::default();
                for (node, &probability) in mode_probabilities
                    .iter()
                    .enumerate()
                    .take(decision.min(3) + 1)
                {
                    counter.write_bool(node < decision, probability);
                }
                counter.cost()
            };
            let reference_rate = self.reference_rate(reference);
            // Keeps a candidate that beats the best so far; returns whether it did.
            let mut consider =
                |mode: MacroblockMode, mv: MotionVector, distortion: u32, rate: u64| -> bool {
                    let cost = self
                        .lambda
                        .sad_cost(u64::from(distortion), rate + reference_rate);
                    let better = cost < best_cost;
                    if better {
                        best_cost = cost;
                        best_info = MacroblockInfo {
                            mode,
                            reference,
                            mv,
                            subblock_mvs: [mv; 16],
                            ..MacroblockInfo::default()
                        };
                    }
                    better
                };
            let zero_sad =
                self.inter_luma_sad(reference, mb_x, mb_y, MotionVector::ZERO, source_luma);
            // Whether one of this reference's candidates is the best so far.
            let mut leads = consider(
                MacroblockMode::Zero,
                MotionVector::ZERO,
                zero_sad,
                mode_rate(0),
            );
            if reference == ReferenceKind::Last && zero_sad <= self.zero_enough_sad {
                // Unchanged background: nothing else will be worth its search.
                return (best_info, best_cost, SearchExtent::Unchanged);
            }
            let nearest_sad = if near.nearest.is_zero() {
                zero_sad
            } else {
                self.inter_luma_sad(reference, mb_x, mb_y, near.nearest, source_luma)
            };
            leads |= consider(
                MacroblockMode::Nearest,
                near.nearest,
                nearest_sad,
                mode_rate(1),
            );
            if near.near != near.nearest {
                let near_sad = self.inter_luma_sad(reference, mb_x, mb_y, near.near, source_luma);
                leads |= consider(MacroblockMode::Near, near.near, near_sad, mode_rate(2));
            }
            if allow_provisional
                && reference == ReferenceKind::Last
                && zero_sad.min(nearest_sad) <= self.provisional_sad
            {
                // Only the other references' ZEROMV, NEARESTMV and NEARMV remain to try.
                provisional = true;
            }
            if provisional {
                continue;
            }
            let new_rate_base = mode_rate(3);
            let best_mv = near.best;
            let to_pixels =
                |mv: MotionVector| ((isize::from(mv.col) >> 3), (isize::from(mv.row) >> 3));
            let lambda_sad = self.lambda.sad;
            if reference != ReferenceKind::Last {
                // Other references pay mostly for static or uncovered background, which ZERO
                // and NEAREST find; where they beat LAST, a short whole-pixel descent from
                // NEAREST adds what moved a little since they were stored.
                if self.settings.search_other_new_mv && leads {
                    let mv_cost = |dx: isize, dy: isize| -> u64 {
                        let mv = MotionVector::new((dy * 8) as i16, (dx * 8) as i16);
                        (self.mv_rate(mv, best_mv) * lambda_sad) >> 16
                    };
                    if let Some((mv, distortion)) = local_whole_pixel_search(
                        source_luma,
                        16,
                        padded,
                        (mb_x * 16) as isize,
                        (mb_y * 16) as isize,
                        to_pixels(near.nearest),
                        OTHER_REFERENCE_SEARCH_STEPS,
                        &mv_cost,
                    ) {
                        if edges.clamp(mv) == mv
                            && mv_difference_fits(mv, best_mv)
                            && mv != near.nearest
                            && mv != near.near
                            && !mv.is_zero()
                        {
                            consider(
                                MacroblockMode::New,
                                mv,
                                distortion,
                                new_rate_base + self.mv_rate(mv, best_mv),
                            );
                        }
                    }
                }
                continue;
            }
            // Whole-pixel search from the candidates, then sub-pixel refinement.
            let candidates = [
                to_pixels(best_mv),
                to_pixels(near.nearest),
                to_pixels(near.near),
            ];
            let mv_cost = |dx: isize, dy: isize| -> u32 {
                let mv = MotionVector::new((dy * 8) as i16, (dx * 8) as i16);
                ((self.mv_rate(mv, best_mv) * lambda_sad) >> 16).min(u64::from(u32::MAX / 4)) as u32
            };
            let range = 24isize;
            let ((dx, dy), _) = full_pixel_search(
                source_luma,
                16,
                padded,
                (mb_x * 16) as isize,
                (mb_y * 16) as isize,
                16,
                &candidates,
                range,
                &mv_cost,
            );
            let mut mv = MotionVector::new((dy * 8) as i16, (dx * 8) as i16);
            let valid = |mv: MotionVector| edges.clamp(mv) == mv && mv_difference_fits(mv, best_mv);
            if valid(mv) {
                let mut best_distortion =
                    self.inter_luma_sad(reference, mb_x, mb_y, mv, source_luma);
                let mut best_new_cost = self
                    .lambda
                    .sad_cost(u64::from(best_distortion), self.mv_rate(mv, best_mv));
                let predicts_well = self
                    .shortcuts
                    .is_some_and(|shortcuts| best_distortion <= shortcuts.subpixel_min_sad);
                if self.settings.subpixel && !predicts_well {
                    // At half then quarter pixels (4 and 2 in eighth-pixel units): the four
                    // neighbours across, then the one diagonal between the better vertical and
                    // the better horizontal neighbour.
                    for step in [4i16, 2] {
                        let center = mv;
                        let mut cross_costs = [u64::MAX; 4];
                        let mut try_candidate = |dr: i16, dc: i16| -> u64 {
                            let candidate =
                                MotionVector::new(center.row + dr * step, center.col + dc * step);
                            if !valid(candidate) {
                                return u64::MAX;
                            }
                            let rate = self.mv_rate(candidate, best_mv);
                            if self.lambda.sad_cost(0, rate) >= best_new_cost {
                                return u64::MAX;
                            }
                            let distortion =
                                self.inter_luma_sad(reference, mb_x, mb_y, candidate, source_luma);
                            let cost = self.lambda.sad_cost(u64::from(distortion), rate);
                            if cost < best_new_cost {
                                best_new_cost = cost;
                                best_distortion = distortion;
                                mv = candidate;
                            }
                            cost
                        };
                        for (index, (dr, dc)) in [(-1i16, 0i16), (1, 0), (0, -1), (0, 1)]
                            .into_iter()
                            .enumerate()
                        {
                            cross_costs[index] = try_candidate(dr, dc);
                        }
                        let dr = if cross_costs[0] <= cross_costs[1] {
                            -1
                        } else {
                            1
                        };
                        let dc = if cross_costs[2] <= cross_costs[3] {
                            -1
                        } else {
                            1
                        };
                        try_candidate(dr, dc);
                    }
                }
                if mv != near.nearest && mv != near.near && !mv.is_zero() {
                    consider(
                        MacroblockMode::New,
                        mv,
                        best_distortion,
                        new_rate_base + self.mv_rate(mv, best_mv),
                    );
                }
                // Four 8x8 vectors, when one vector leaves much unexplained.
                if self.settings.split && best_distortion > self.split_min_sad {
                    if let Some((info, distortion, rate)) =
                        self.search_split(mb_x, mb_y, source_luma, &near, mv, &edges)
                    {
                        let cost = self
                            .lambda
                            .sad_cost(distortion, rate + mode_rate(4) + reference_rate);
                        if cost < best_cost {
                            best_cost = cost;
                            best_info = info;
                        }
                    }
                }
            }
        }
        let extent = if provisional {
            SearchExtent::Provisional
        } else {
            SearchExtent::Complete
        };
        (best_info, best_cost, extent)
    }

    /// SPLITMV with four 8x8 partitions on the last frame: each partition's vector is searched
    /// from the whole-macroblock vector and its neighbours. Returns the macroblock, its luma SAD
    /// and the rate of the partitioning and vectors (1/256 bit).
    #[allow(clippy::too_many_arguments)]
    fn search_split(
        &self,
        mb_x: usize,
        mb_y: usize,
        source_luma: &[u8; 256],
        near: &NearMotionVectors,
        start: MotionVector,
        edges: &MacroblockEdges,
    ) -> Option<(MacroblockInfo, u64, u64)> {
        const PARTITIONING: usize = 2;
        let reference = ReferenceKind::Last;
        let planes = self.search_planes(reference);
        let best_mv = near.best;
        let mut subblock_mvs = [MotionVector::ZERO; 16];
        let mut total_distortion = 0u64;
        let mut total_rate = u64::from(bool_cost(true, SPLIT_MV_PROBABILITIES[0]))
            + u64::from(bool_cost(false, SPLIT_MV_PROBABILITIES[1]));
        for partition in 0..4 {
            let (qx, qy) = ((partition & 1) * 8, (partition >> 1) * 8);
            let first = (qy / 4) * 4 + qx / 4;
            let mut source = [0u8; 64];
            for row in 0..8 {
                source[row * 8..row * 8 + 8]
                    .copy_from_slice(&source_luma[(qy + row) * 16 + qx..(qy + row) * 16 + qx + 8]);
            }
            let (left, above) =
                split_mv_neighbours(&subblock_mvs, &self.infos, self.columns, mb_x, mb_y, first);
            let probabilities =
                &SUBBLOCK_MV_REFERENCE_PROBABILITIES[subblock_mv_context(left, above)];
            let reference_rate = |mv: MotionVector| -> u64 {
                let zero = |p: u8| u64::from(bool_cost(false, p));
                let one = |p: u8| u64::from(bool_cost(true, p));
                match subblock_mv_reference(mv, left, above) {
                    SubblockMvReference::Left => zero(probabilities[0]),
                    SubblockMvReference::Above => one(probabilities[0]) + zero(probabilities[1]),
                    SubblockMvReference::Zero => {
                        one(probabilities[0]) + one(probabilities[1]) + zero(probabilities[2])
                    }
                    SubblockMvReference::New => {
                        one(probabilities[0])
                            + one(probabilities[1])
                            + one(probabilities[2])
                            + self.mv_rate(mv, best_mv)
                    }
                }
            };
            let (x, y) = (mb_x * 16 + qx, mb_y * 16 + qy);
            let distortion_of = |mv: MotionVector| -> u32 {
                if let Some(distortion) = planes.sad(&source, x, y, mv, 8) {
                    return distortion;
                }
                let mut prediction = [0u8; 64];
                self.predict_luma(reference, x, y, mv, 8, &mut prediction);
                sad(&source, 8, &prediction, 8, 8, 8)
            };
            let valid = |mv: MotionVector| {
                edges.clamp(mv) == mv
                    && (mv == left
                        || mv == above
                        || mv.is_zero()
                        || mv_difference_fits(mv, best_mv))
            };
            let mut best = (u64::MAX, MotionVector::ZERO, 0u64, 0u64);
            let evaluate = |mv: MotionVector, best: &mut (u64, MotionVector, u64, u64)| {
                if !valid(mv) {
                    return;
                }
                let rate = reference_rate(mv);
                if self.lambda.sad_cost(0, rate) >= best.0 {
                    return;
                }
                let distortion = u64::from(distortion_of(mv));
                let cost = self.lambda.sad_cost(distortion, rate);
                if cost < best.0 {
                    *best = (cost, mv, distortion, rate);
                }
            };
            for candidate in [left, above, MotionVector::ZERO, start] {
                evaluate(candidate, &mut best);
            }
            let to_pixels =
                |mv: MotionVector| ((isize::from(mv.col) >> 3), (isize::from(mv.row) >> 3));
            let lambda_sad = self.lambda.sad;
            let mv_cost = |dx: isize, dy: isize| -> u64 {
                let mv = MotionVector::new((dy * 8) as i16, (dx * 8) as i16);
                (self.mv_rate(mv, best_mv) * lambda_sad) >> 16
            };
            // A short descent from the best candidate so far: the partitions of a macroblock
            // worth splitting mostly move a little apart from its whole vector.
            if let Some((mv, _)) = local_whole_pixel_search(
                &source,
                8,
                planes.whole(),
                x as isize,
                y as isize,
                to_pixels(best.1),
                SPLIT_SEARCH_STEPS,
                &mv_cost,
            ) {
                evaluate(mv, &mut best);
            }
            for step in [4i16, 2] {
                let center = best.1;
                for (dr, dc) in [(-1i16, 0i16), (1, 0), (0, -1), (0, 1)] {
                    evaluate(
                        MotionVector::new(center.row + dr * step, center.col + dc * step),
                        &mut best,
                    );
                }
            }
            if best.0 == u64::MAX {
                return None;
            }
            let (_, mv, distortion, rate) = best;
            for (block, &p) in SPLIT_MV_PARTITIONS[PARTITIONING].iter().enumerate() {
                if usize::from(p) == partition {
                    subblock_mvs[block] = mv;
                }
            }
            total_distortion += distortion;
            total_rate += rate;
        }
        // Four equal vectors are a whole-macroblock vector: not worth a split.
        if subblock_mvs.iter().all(|&mv| mv == subblock_mvs[0]) {
            return None;
        }
        Some((
            MacroblockInfo {
                mode: MacroblockMode::Split,
                reference,
                mv: subblock_mvs[15],
                subblock_mvs,
                split_partitioning: PARTITIONING as u8,
                ..MacroblockInfo::default()
            },
            total_distortion,
            total_rate,
        ))
    }

    /// Luma and chroma prediction of a SPLITMV macroblock, with the decoder's own functions.
    fn predict_split(
        &self,
        info: &MacroblockInfo,
        mb_x: usize,
        mb_y: usize,
        luma: &mut [u8; 256],
        chroma: &mut [[u8; 64]; 2],
    ) {
        let picture = self.reference_picture(info.reference);
        let filter = InterpolationFilter::for_version(self.header.version);
        inter::predict_split_luma(
            &picture.y,
            mb_x * 16,
            mb_y * 16,
            &info.subblock_mvs,
            info.split_partitioning,
            filter,
            luma,
            16,
        );
        let [chroma_u, chroma_v] = chroma;
        inter::predict_split_chroma(
            &picture.u,
            &picture.v,
            mb_x * 8,
            mb_y * 8,
            &info.subblock_mvs,
            self.header.version == 3,
            filter,
            chroma_u,
            chroma_v,
            8,
        );
    }

    /// Decides, codes and reconstructs macroblock (`mb_x`, `mb_y`).
    /// The result goes into `coding`, a fresh (default) one the frame keeps: writing it in
    /// place saves copying a macroblock's levels and coefficients around.
    fn code_macroblock(&mut self, mb_x: usize, mb_y: usize, coding: &mut MacroblockCoding) {
        let mut source_luma = [0u8; 256];
        let mut source_u = [0u8; 64];
        let mut source_v = [0u8; 64];
        block_of::<16>(&self.source.y, mb_x * 16, mb_y * 16, &mut source_luma);
        block_of::<8>(&self.source.u, mb_x * 8, mb_y * 8, &mut source_u);
        block_of::<8>(&self.source.v, mb_x * 8, mb_y * 8, &mut source_v);
        let sources = (&source_luma, &source_u, &source_v);
        if !self.code_macroblock_from(mb_x, mb_y, sources, coding, true) {
            // The provisional choice needed a residual: search everything.
            *coding = MacroblockCoding::default();
            let complete = self.code_macroblock_from(mb_x, mb_y, sources, coding, false);
            debug_assert!(complete);
        }
    }

    /// Decides and codes macroblock (`mb_x`, `mb_y`) from its source blocks (luma, U, V).
    /// With `allow_provisional`, a cheap inter choice may be tried first: when it leaves a
    /// residual worth coding, this returns false before storing anything, and the caller
    /// codes the macroblock again with a complete search.
    fn code_macroblock_from(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        (source_luma, source_u, source_v): (&[u8; 256], &[u8; 64], &[u8; 64]),
        coding: &mut MacroblockCoding,
        allow_provisional: bool,
    ) -> bool {
        let MacroblockCoding {
            info: coded_info,
            levels,
            coefficients,
        } = coding;

        let mut luma_out = [0u8; 256];
        let mut u_out = [0u8; 64];
        let mut v_out = [0u8; 64];

        let mut info = MacroblockInfo::default();
        let mut inter_choice = None;
        let mut provisional = false;
        // False once the levels are known to be all zero.
        let mut any_level = true;
        if !self.header.key_frame {
            let (candidate, inter_cost, extent) =
                self.decide_inter_macroblock(mb_x, mb_y, source_luma, allow_provisional);
            provisional = extent == SearchExtent::Provisional;
            // A quick intra estimate: the best whole-block mode by SAD.
            let (x, y) = (mb_x * 16, mb_y * 16);
            let mut above = [0u8; 17];
            let mut left = [0u8; 16];
            block_edges(&self.recon.y, x, y, 16, &mut above, &mut left);
            let mut prediction = [0u8; 256];
            let intra_rate = self.reference_rate(ReferenceKind::Intra);
            let mut intra_cost = u64::MAX;
            // An inter prediction off by less than one level per pixel leaves intra no chance,
            // and neither does one settled or tried before any vector search.
            let intra_hopeless = extent != SearchExtent::Complete || inter_cost < 256 * 65536;
            for mode in WHOLE_BLOCK_MODES.into_iter().filter(|_| !intra_hopeless) {
                intra::predict_block(mode, 16, &above, &left, y > 0, x > 0, &mut prediction, 16);
                let cost = self.lambda.sad_cost(
                    u64::from(sad(source_luma, 16, &prediction, 16, 16, 16)),
                    u64::from(self.luma_mode_costs[mode as usize]) + intra_rate,
                );
                intra_cost = intra_cost.min(cost);
            }
            if inter_cost <= intra_cost {
                inter_choice = Some(candidate);
            }
        }

        if let Some(candidate) = inter_choice {
            info = candidate;
            let mut luma_prediction = [0u8; 256];
            let mut chroma_prediction = [[0u8; 64]; 2];
            if info.mode == MacroblockMode::Split {
                self.predict_split(
                    &info,
                    mb_x,
                    mb_y,
                    &mut luma_prediction,
                    &mut chroma_prediction,
                );
            } else {
                self.predict_inter(
                    info.reference,
                    mb_x,
                    mb_y,
                    info.mv,
                    &mut luma_prediction,
                    &mut chroma_prediction,
                );
            }
            let predicted_skip = info.mode != MacroblockMode::Split
                && self.shortcuts.is_some_and(|shortcuts| {
                    sad(source_luma, 16, &luma_prediction, 16, 16, 16) <= shortcuts.skip_luma_sad
                        && sad(source_u, 8, &chroma_prediction[0], 8, 8, 8)
                            + sad(source_v, 8, &chroma_prediction[1], 8, 8, 8)
                            <= shortcuts.skip_chroma_sad
                });
            if predicted_skip {
                // So close that the residual would almost surely quantise away: code none.
                *levels = [[0; 16]; 25];
                any_level = false;
                luma_out = luma_prediction;
                u_out = chroma_prediction[0];
                v_out = chroma_prediction[1];
            } else {
                let code_luma = if info.mode == MacroblockMode::Split {
                    code_luma_without_y2
                } else {
                    code_luma_with_y2
                };
                code_luma(
                    &self.quantizers,
                    source_luma,
                    &luma_prediction,
                    levels,
                    coefficients,
                    &mut luma_out,
                );
                code_chroma(
                    &self.quantizers,
                    [source_u, source_v],
                    [&chroma_prediction[0], &chroma_prediction[1]],
                    levels,
                    coefficients,
                    [&mut u_out, &mut v_out],
                );
            }
            // Keep the residual only when it is worth its bits.
            let has_y2 = info.mode.has_y2();
            any_level = any_level
                && levels
                    .as_flattened()
                    .iter()
                    .fold(0, |all, &level| all | level)
                    != 0;
            if any_level {
                let coded_error = u64::from(sse(source_luma, 16, &luma_out, 16, 16, 16))
                    + u64::from(sse(source_u, 8, &u_out, 8, 8, 8))
                    + u64::from(sse(source_v, 8, &v_out, 8, 8, 8));
                let skipped_error = u64::from(sse(source_luma, 16, &luma_prediction, 16, 16, 16))
                    + u64::from(sse(source_u, 8, &chroma_prediction[0], 8, 8, 8))
                    + u64::from(sse(source_v, 8, &chroma_prediction[1], 8, 8, 8));
                // Coding that does not even lower the error loses whatever its tokens cost.
                if skipped_error <= coded_error
                    || self.token_cost_reaches(
                        mb_x,
                        levels,
                        has_y2,
                        self.lambda.break_even_rate(skipped_error - coded_error),
                    )
                {
                    *levels = [[0; 16]; 25];
                    any_level = false;
                    luma_out = luma_prediction;
                    u_out = chroma_prediction[0];
                    v_out = chroma_prediction[1];
                }
            }
        } else {
            let extra_rate = if self.header.key_frame {
                0
            } else {
                self.reference_rate(ReferenceKind::Intra)
            };
            let (mode, subblock_modes, _) = self.code_intra_luma(
                mb_x,
                mb_y,
                source_luma,
                levels,
                coefficients,
                &mut luma_out,
                extra_rate,
            );
            info.mode = mode;
            info.subblock_modes = subblock_modes;
            info.reference = ReferenceKind::Intra;
            info.chroma_mode = self.code_intra_chroma(
                mb_x,
                mb_y,
                [source_u, source_v],
                levels,
                coefficients,
                [&mut u_out, &mut v_out],
            );
        }

        // Coded-block flags and the skip flag, as the decoder will see them.
        let has_y2 = info.mode.has_y2();
        let coded = if any_level {
            coded_blocks(levels, has_y2)
        } else {
            0
        };
        if provisional && coded != 0 {
            return false;
        }
        // A macroblock that codes nothing is skipped: its coefficients are never read.
        coefficients.coded_blocks = coded;
        info.skip_coefficients = coded == 0;

        // Store the reconstruction and advance token contexts.
        store_block::<16>(&mut self.recon.y, mb_x * 16, mb_y * 16, &luma_out);
        store_block::<8>(&mut self.recon.u, mb_x * 8, mb_y * 8, &u_out);
        store_block::<8>(&mut self.recon.v, mb_x * 8, mb_y * 8, &v_out);
        let mut above = self.above_contexts[mb_x];
        let mut left = self.left_context;
        if info.skip_coefficients {
            skip_macroblock(has_y2, &mut above, &mut left);
        } else {
            #[cfg(debug_assertions)]
            let (mut written_above, mut written_left) = (above, left);
            set_token_contexts(coded, has_y2, &mut above, &mut left);
            #[cfg(debug_assertions)]
            {
                write_macroblock_tokens(
                    &mut BitCounter::default(),
                    &self.base_probabilities.coefficients,
                    levels,
                    has_y2,
                    &mut written_above,
                    &mut written_left,
                );
                debug_assert!(written_above == above && written_left == left);
            }
        }
        self.above_contexts[mb_x] = above;
        self.left_context = left;
        *coded_info = info;
        true
    }
}

/// The blocks of a macroblock's `levels` that code at least one level, one bit each (as the
/// decoder counts them: with a Y2 block, the luma blocks' first positions are Y2's).
fn coded_blocks(levels: &[[i16; 16]; 25], has_y2: bool) -> u32 {
    let first_kept = if has_y2 { 0 } else { -1 };
    let mut coded = 0u32;
    for (block, block_levels) in levels.iter().enumerate() {
        let mut kept = *block_levels;
        if block < 16 {
            kept[0] &= first_kept;
        }
        let any = kept.iter().fold(0, |all, &level| all | level);
        coded |= u32::from(any != 0) << block;
    }
    if !has_y2 {
        coded &= !(1 << Y2_BLOCK);
    }
    coded
}

/// Zero-vector SAD, per unit of the AC step, below which a macroblock takes ZEROMV at once: the
/// residual would mostly quantise away.
const ZERO_ENOUGH_SAD_PER_STEP: f64 = 4.0;

/// ZEROMV or NEARESTMV SAD, per unit of the AC step, at or below which that choice is coded
/// before any vector search, and kept when its residual is not worth coding: a search would
/// mostly find another vector whose residual is not worth coding either.
const PROVISIONAL_SAD_PER_STEP: f64 = 8.0;

/// Inter-prediction luma SAD, per unit of the luma AC step, at or below which the real-time
/// shortcuts code no residual: about one step of error per thirteen pixels, which the
/// quantiser almost always rounds to nothing anyway.
const PREDICTED_SKIP_SAD_PER_STEP: f64 = 20.0;

/// The same for the summed U and V SADs, per unit of the chroma AC step (half the luma's
/// allowance: the chroma blocks have half the luma's pixels).
const PREDICTED_SKIP_CHROMA_SAD_PER_STEP: f64 = 10.0;

/// Whole-pixel vector SAD, per unit of the luma AC step, at or below which the real-time
/// shortcuts keep the vector without sub-pixel refinement: what refinement would still
/// remove mostly quantises away.
const SUBPIXEL_MIN_SAD_PER_STEP: f64 = 20.0;

/// Most small-diamond steps of the whole-pixel search on the golden and alternate references.
const OTHER_REFERENCE_SEARCH_STEPS: usize = 2;

/// Most small-diamond steps of a SPLITMV partition's whole-pixel search.
const SPLIT_SEARCH_STEPS: usize = 4;

/// Whole-macroblock luma SAD above which SPLITMV is always tried (about 4 per pixel).
const SPLIT_SEARCH_MIN_SAD: u32 = 1024;

/// The same threshold per unit of the AC step, where that is higher: at coarse quantizers the
/// four vectors cost too much against the error they remove.
const SPLIT_SEARCH_MIN_SAD_PER_STEP: f64 = 24.0;

/// Small-diamond whole-pixel descent of a packed `size`-pixel block on a padded plane from
/// `start` (whole pixels), at most `steps` steps: the cheap vector search of the golden and
/// alternate references and of SPLITMV partitions. Returns the best
/// vector (eighth pixels, whole-pixel valued) and its SAD, or `None` when `start` is off the
/// padded plane. `cost_of_vector` is the rate term in distortion units.
#[allow(clippy::too_many_arguments)]
fn local_whole_pixel_search(
    source: &[u8],
    size: usize,
    reference: &PaddedPlane,
    block_x: isize,
    block_y: isize,
    start: (isize, isize),
    steps: usize,
    cost_of_vector: &dyn Fn(isize, isize) -> u64,
) -> Option<(MotionVector, u32)> {
    let evaluate = |dx: isize, dy: isize| -> Option<(u32, u64)> {
        if !reference.holds(block_x + dx, block_y + dy, size) {
            return None;
        }
        let block = reference.block(block_x + dx, block_y + dy);
        let distortion = sad(source, size, block, reference.stride(), size, size);
        Some((distortion, u64::from(distortion) + cost_of_vector(dx, dy)))
    };
    let mut best = start;
    let (mut best_distortion, mut best_cost) = evaluate(start.0, start.1)?;
    for _ in 0..steps {
        let center = best;
        for (ox, oy) in [(0isize, -1isize), (1, 0), (0, 1), (-1, 0)] {
            let (dx, dy) = (center.0 + ox, center.1 + oy);
            if let Some((distortion, cost)) = evaluate(dx, dy) {
                if cost < best_cost {
                    best = (dx, dy);
                    best_cost = cost;
                    best_distortion = distortion;
                }
            }
        }
        if best == center {
            break;
        }
    }
    Some((
        MotionVector::new((best.1 * 8) as i16, (best.0 * 8) as i16),
        best_distortion,
    ))
}

/// Writes a packed block into a plane.
fn store_block<const SIZE: usize>(plane: &mut Plane, x: usize, y: usize, block: &[u8]) {
    for row in 0..SIZE {
        let start = (y + row) * plane.stride + x;
        let destination: &mut [u8; SIZE] = (&mut plane.data[start..start + SIZE])
            .try_into()
            .expect("SIZE pixels");
        *destination = block[row * SIZE..row * SIZE + SIZE]
            .try_into()
            .expect("SIZE pixels");
    }
}

/// Sets the token contexts a coded macroblock leaves behind, as writing its tokens would: each
/// block's flag is whether it codes a level (bit `block` of `coded`, see the coded-block mask).
fn set_token_contexts(coded: u32, has_y2: bool, above: &mut TokenContext, left: &mut TokenContext) {
    let flag = |block: usize| u8::from(coded & (1 << block) != 0);
    if has_y2 {
        above[8] = flag(Y2_BLOCK);
        left[8] = flag(Y2_BLOCK);
    }
    // The last block written in each column and row sets its context.
    for index in 0..4 {
        above[index] = flag(12 + index);
        left[index] = flag(index * 4 + 3);
    }
    for (offset, first_block) in [(4, 16), (6, 20)] {
        for index in 0..2 {
            above[offset + index] = flag(first_block + 2 + index);
            left[offset + index] = flag(first_block + index * 2 + 1);
        }
    }
}

/// The blocks of a macroblock in the decoder's token order (Y2, the sixteen luma blocks, then
/// the eight chroma blocks), each with the indices of its above and left token contexts.
const TOKEN_ORDER: [(usize, usize, usize); 25] = {
    let mut order = [(Y2_BLOCK, 8, 8); 25];
    let mut block = 0;
    while block < 24 {
        order[block + 1] = if block < 16 {
            (block, block & 3, block >> 2)
        } else {
            let plane_offset = if block < 20 { 4 } else { 6 };
            let within = (block - 16) & 3;
            (
                block,
                plane_offset + (within & 1),
                plane_offset + (within >> 1),
            )
        };
        block += 1;
    }
    order
};

/// Visits the blocks of a macroblock in the decoder's token order (Y2 when present, the sixteen
/// luma blocks, then the eight chroma blocks), handing `code` each block's (type, levels, first
/// coefficient, context) and updating the contexts with the non-zero flag it returns.
#[inline(always)]
fn visit_macroblock_tokens(
    levels: &[[i16; 16]; 25],
    has_y2: bool,
    above: &mut TokenContext,
    left: &mut TokenContext,
    mut code: impl FnMut(usize, &[i16; 16], usize, usize) -> bool,
) {
    use super::bitstream::block_type;
    let (luma_type, first) = if has_y2 {
        let context = usize::from(above[8] + left[8]);
        let flag = code(block_type::Y2, &levels[Y2_BLOCK], 0, context);
        above[8] = u8::from(flag);
        left[8] = u8::from(flag);
        (block_type::LUMA_WITHOUT_DC, 1)
    } else {
        (block_type::LUMA_WITH_DC, 0)
    };
    for block in 0..16 {
        let (x, y) = (block & 3, block >> 2);
        let context = usize::from(above[x] + left[y]);
        let flag = code(luma_type, &levels[block], first, context);
        above[x] = u8::from(flag);
        left[y] = u8::from(flag);
    }
    for block in 16..24 {
        let plane_offset = if block < 20 { 4 } else { 6 };
        let within = (block - 16) & 3;
        let (x, y) = (plane_offset + (within & 1), plane_offset + (within >> 1));
        let context = usize::from(above[x] + left[y]);
        let flag = code(block_type::CHROMA, &levels[block], 0, context);
        above[x] = u8::from(flag);
        left[y] = u8::from(flag);
    }
}

/// Writes all tokens of a macroblock to a token partition, updating contexts, in the order of
/// [`visit_macroblock_tokens`]. The blocks are written from one loop, so the block writer
/// inlines once, and through one run of the encoder, so its state stays in registers.
fn write_macroblock_tokens_to_partition(
    partition: &mut BoolEncoder,
    probabilities: &crate::tables::CoefficientProbabilities,
    levels: &[[i16; 16]; 25],
    has_y2: bool,
    above: &mut TokenContext,
    left: &mut TokenContext,
) {
    use super::bitstream::block_type;
    let (luma_type, luma_first) = if has_y2 {
        (block_type::LUMA_WITHOUT_DC, 1)
    } else {
        (block_type::LUMA_WITH_DC, 0)
    };
    let blocks = if has_y2 {
        &TOKEN_ORDER[..]
    } else {
        &TOKEN_ORDER[1..]
    };
    let mut run = partition.run();
    for &(block, x, y) in blocks {
        let (kind, first) = match block {
            Y2_BLOCK => (block_type::Y2, 0),
            0..16 => (luma_type, luma_first),
            _ => (block_type::CHROMA, 0),
        };
        let context = usize::from(above[x] + left[y]);
        let flag = write_block_tokens(
            &mut run,
            probabilities,
            kind,
            &levels[block],
            first,
            context,
        );
        above[x] = u8::from(flag);
        left[y] = u8::from(flag);
    }
}

/// Writes (or counts) all tokens of a macroblock in the decoder's order, updating contexts.
#[cfg(any(test, debug_assertions))]
fn write_macroblock_tokens<W: EntropyWriter>(
    writer: &mut W,
    probabilities: &crate::tables::CoefficientProbabilities,
    levels: &[[i16; 16]; 25],
    has_y2: bool,
    above: &mut TokenContext,
    left: &mut TokenContext,
) {
    visit_macroblock_tokens(
        levels,
        has_y2,
        above,
        left,
        |block_type, block_levels, first, context| {
            write_block_tokens(
                writer,
                probabilities,
                block_type,
                block_levels,
                first,
                context,
            )
        },
    );
}

/// Counts the tokens of a macroblock, updating contexts.
fn count_macroblock_tokens(
    counts: &mut TokenClassCounts,
    levels: &[[i16; 16]; 25],
    has_y2: bool,
    above: &mut TokenContext,
    left: &mut TokenContext,
) {
    visit_macroblock_tokens(
        levels,
        has_y2,
        above,
        left,
        |block_type, block_levels, first, context| {
            counts.count_block(block_type, block_levels, first, context)
        },
    );
}

/// The probability (of a zero) that minimises the cost of `counts` (zeros, ones).
fn best_probability(counts: [u32; 2]) -> u8 {
    let total = u64::from(counts[0]) + u64::from(counts[1]);
    if total == 0 {
        return 128;
    }
    ((u64::from(counts[0]) * 256 + total / 2) / total).clamp(1, 255) as u8
}

/// Cost in 1/256 bit of coding `counts` with `probability`.
fn counts_cost(counts: [u32; 2], probability: u8) -> u64 {
    u64::from(counts[0]) * u64::from(bool_cost(false, probability))
        + u64::from(counts[1]) * u64::from(bool_cost(true, probability))
}

/// Chooses coefficient probability updates worth their header bits.
fn choose_coefficient_probabilities(
    counts: &TokenCounts,
    base: &crate::tables::CoefficientProbabilities,
) -> crate::tables::CoefficientProbabilities {
    let mut chosen = *base;
    for block_type in 0..4 {
        for band in 0..8 {
            for context in 0..3 {
                for node in 0..11 {
                    let node_counts = counts.counts[block_type][band][context][node];
                    let old = base[block_type][band][context][node];
                    let update_probability =
                        COEFFICIENT_UPDATE_PROBABILITIES[block_type][band][context][node];
                    let candidate = best_probability(node_counts);
                    let old_cost = counts_cost(node_counts, old)
                        + u64::from(bool_cost(false, update_probability));
                    let new_cost = counts_cost(node_counts, candidate)
                        + u64::from(bool_cost(true, update_probability))
                        + 8 * 256;
                    if candidate != old && new_cost < old_cost {
                        chosen[block_type][band][context][node] = candidate;
                    }
                }
            }
        }
    }
    chosen
}

/// Chooses motion-vector probability updates worth their header bits. Updated values are sent
/// in 7 bits, so they are even (or 1).
fn choose_mv_probabilities(
    vectors: &[(MotionVector, MotionVector)],
    base: &[[u8; MV_PROBABILITY_COUNT]; 2],
) -> [[u8; MV_PROBABILITY_COUNT]; 2] {
    let counts = count_mv_decisions(vectors);
    let mut chosen = *base;
    for component in 0..2 {
        for index in 0..MV_PROBABILITY_COUNT {
            let node_counts = counts[component][index];
            let update_probability = MV_UPDATE_PROBABILITIES[component][index];
            let ideal = best_probability(node_counts);
            let candidate = if ideal >> 1 == 0 { 1 } else { ideal & !1 };
            let old = base[component][index];
            let old_cost =
                counts_cost(node_counts, old) + u64::from(bool_cost(false, update_probability));
            let new_cost = counts_cost(node_counts, candidate)
                + u64::from(bool_cost(true, update_probability))
                + 7 * 256;
            if candidate != old && new_cost < old_cost {
                chosen[component][index] = candidate;
            }
        }
    }
    chosen
}

/// Encodes one frame from `state`.
pub fn encode_frame(
    state: &DecoderState,
    picture: &Picture,
    settings: &FrameSettings,
) -> CodedFrame {
    let mut encoder = FrameEncoder::new(state, picture, settings);
    let columns = encoder.columns;
    let rows = encoder.rows;
    // One macroblock's coding at a time; only the levels of the macroblocks that code any are
    // kept (most are skipped), in raster order, and their coefficients in debug builds.
    let mut coded_levels: Vec<[[i16; 16]; 25]> = Vec::new();
    let mut coded_coefficients: Vec<MacroblockCoefficients> = Vec::new();
    let mut token_counts = TokenClassCounts::default();
    let mut coding = MacroblockCoding::default();
    for mb_y in 0..rows {
        encoder.left_context = [0; 9];
        for mb_x in 0..columns {
            // Each macroblock starts from no decision and no levels. Its dequantised
            // coefficients need no clearing in release builds, which never read them.
            coding.info = MacroblockInfo::default();
            coding.levels = [[0; 16]; 25];
            if cfg!(debug_assertions) {
                coding.coefficients = MacroblockCoefficients::default();
            }
            let mut above = encoder.above_contexts[mb_x];
            let mut left = encoder.left_context;
            encoder.code_macroblock(mb_x, mb_y, &mut coding);
            if !coding.info.skip_coefficients {
                // Token statistics for the probabilities, while the levels are at hand.
                count_macroblock_tokens(
                    &mut token_counts,
                    &coding.levels,
                    coding.info.mode.has_y2(),
                    &mut above,
                    &mut left,
                );
                coded_levels.push(coding.levels);
                // Only the debug builds' check of the reconstruction reads them.
                if cfg!(debug_assertions) {
                    coded_coefficients.push(coding.coefficients.clone());
                }
            }
            // The frame codes no segment map, so a decoder keeps each macroblock's segment
            // from the state (none after a key frame); the target state must too.
            let index = mb_y * columns + mb_x;
            if !settings.key_frame {
                coding.info.segment_id = state.segment_map().get(index).copied().unwrap_or(0);
            }
            encoder.infos[index] = coding.info;
        }
    }

    // Every macroblock's decision, as `code_macroblock` recorded it for its neighbours.
    let infos = std::mem::take(&mut encoder.infos);
    let mut header = encoder.header.clone();
    header.probabilities.coefficients = choose_coefficient_probabilities(
        &token_counts.node_counts(),
        &encoder.base_probabilities.coefficients,
    );
    // Each inter macroblock's near vectors, found once for the vector statistics and the
    // writing.
    let mut near_mvs: Vec<Option<NearMotionVectors>> = Vec::new();
    if !header.key_frame {
        let mut collector = NewMvCollector::default();
        near_mvs = infos
            .iter()
            .enumerate()
            .map(|(index, info)| {
                if info.reference == ReferenceKind::Intra {
                    return None;
                }
                let (mb_x, mb_y) = (index % columns, index / columns);
                let near = macroblock_near_mvs(&header, info, &infos, columns, rows, mb_x, mb_y);
                // Only NEWMV and SPLITMV macroblocks code new vectors.
                if matches!(info.mode, MacroblockMode::New | MacroblockMode::Split) {
                    write_inter_frame_modes_with_near(
                        &mut collector,
                        &header,
                        info,
                        &infos,
                        columns,
                        mb_x,
                        mb_y,
                        Some(near),
                    );
                }
                Some(near)
            })
            .collect();
        header.probabilities.mv =
            choose_mv_probabilities(&collector.vectors, &encoder.base_probabilities.mv);
    }
    let total = infos.len() as u32;
    let mut skipped = 0;
    let mut reference_counts = [0u32; 4];
    for info in &infos {
        skipped += u32::from(info.skip_coefficients);
        reference_counts[info.reference as usize] += 1;
    }
    header.prob_skip_false = best_probability([total - skipped, skipped]);
    if !header.key_frame {
        let intra = reference_counts[ReferenceKind::Intra as usize];
        let last = reference_counts[ReferenceKind::Last as usize];
        let golden = reference_counts[ReferenceKind::Golden as usize];
        let altref = total - intra - last - golden;
        header.prob_intra = best_probability([intra, total - intra]);
        header.prob_last = best_probability([last, golden + altref]);
        header.prob_golden = best_probability([golden, altref]);
    }

    // Loop-filter level: by trial on the luma when not given. A macroblock codes no
    // coefficient exactly when it is skipped.
    let inner_edges: Vec<bool> = infos
        .iter()
        .map(|info| !(info.mode.has_y2() && info.skip_coefficients))
        .collect();
    header.filter_level = match settings.filter_level {
        Some(level) => level.min(63),
        None => choose_filter_level(&encoder, &header, &infos, &inner_edges),
    };

    // The first partition: header, then every macroblock's modes.
    let mut first = BoolEncoder::with_capacity(columns * rows * 2 + 64);
    write_frame_header(
        &mut first,
        &header,
        &encoder.base_probabilities,
        &encoder.base_loop_filter_deltas,
    );
    let mut tokens = BoolEncoder::with_capacity(columns * rows * 16);
    let mut above_contexts = vec![[0u8; 9]; columns];
    let mut next_levels = coded_levels.iter();
    for mb_y in 0..rows {
        let mut left = [0u8; 9];
        for mb_x in 0..columns {
            let index = mb_y * columns + mb_x;
            let info = &infos[index];
            first.write_bool(info.skip_coefficients, header.prob_skip_false);
            if header.key_frame {
                let above = (mb_y > 0).then(|| &infos[index - columns]);
                let left_info = (mb_x > 0).then(|| &infos[index - 1]);
                write_key_frame_modes(&mut first, info, above, left_info);
            } else {
                write_inter_frame_modes_with_near(
                    &mut first,
                    &header,
                    info,
                    &infos,
                    columns,
                    mb_x,
                    mb_y,
                    near_mvs[index],
                );
            }
            let has_y2 = info.mode.has_y2();
            if info.skip_coefficients {
                skip_macroblock(has_y2, &mut above_contexts[mb_x], &mut left);
            } else {
                let levels = next_levels
                    .next()
                    .expect("every macroblock that is not skipped kept its levels");
                write_macroblock_tokens_to_partition(
                    &mut tokens,
                    &header.probabilities.coefficients,
                    levels,
                    has_y2,
                    &mut above_contexts[mb_x],
                    &mut left,
                );
            }
        }
    }
    let first = first.finish();
    let tokens = tokens.finish();
    header.first_partition_size = first.len();
    let bytes = assemble_frame(&header, &first, &[tokens]);
    debug_assert_eq!(&bytes[..3], &frame_tag(&header, first.len())[..3]);
    CodedFrame {
        bytes,
        header,
        infos,
        coefficients: coded_coefficients,
        inner_edges,
        unfiltered: encoder.recon,
    }
}

/// Picks the loop-filter level that brings the filtered luma closest to the source, trying a
/// few levels around a quantizer-based guess.
fn choose_filter_level(
    encoder: &FrameEncoder,
    header: &FrameHeader,
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) -> u8 {
    let q = i32::from(header.quantizer.y_ac);
    let guess = ((q * 3) / 8 + if header.key_frame { 0 } else { 2 }).clamp(0, 63);
    if !encoder.settings.filter_trials {
        return guess as u8;
    }
    // Trials run on a band of macroblock rows in the middle of the frame: a quarter of the
    // frame predicts the whole frame's best level well at a quarter of the cost.
    let band_rows = (encoder.rows / 4).max(2).min(encoder.rows);
    let first_row = (encoder.rows - band_rows) / 2;
    let columns = encoder.columns;
    // Only the luma is compared, and filtering the luma never reads the chroma: the trials
    // filter copies of the band's luma, two levels at a time.
    let band_start = first_row * 16 * encoder.recon.y.stride;
    let band_luma = Plane {
        width: encoder.recon.y.width,
        height: band_rows * 16,
        stride: encoder.recon.y.stride,
        data: encoder.recon.y.data
            [band_start..band_start + band_rows * 16 * encoder.recon.y.stride]
            .to_vec(),
    };
    // The visible rows of the band: the last macroblock row may hang below the picture.
    let source = &encoder.source.y;
    let visible_rows = (band_rows * 16).min(source.height.saturating_sub(first_row * 16));
    let band_infos = &infos[first_row * columns..(first_row + band_rows) * columns];
    let band_inner = &inner_edges[first_row * columns..(first_row + band_rows) * columns];
    let error = |filtered: &Plane| -> u64 {
        (0..visible_rows)
            .map(|row| {
                let reconstructed = &filtered.row(row)[..source.width];
                let original = source.row(first_row * 16 + row);
                u64::from(sse(
                    reconstructed,
                    source.width,
                    original,
                    source.width,
                    source.width,
                    1,
                ))
            })
            .sum()
    };
    let mut trial_header = header.clone();
    trial_header.height = (band_rows * 16) as u16;
    let levels = [guess - 8, guess - 4, guess, guess + 4].map(|level| level.clamp(0, 63) as u8);
    let mut errors = [0u64; 4];
    for pair in [0, 2] {
        let mut headers = [trial_header.clone(), trial_header.clone()];
        headers[0].filter_level = levels[pair];
        headers[1].filter_level = levels[pair + 1];
        let mut first = band_luma.clone();
        let mut second = band_luma.clone();
        crate::loop_filter::filter_luma_pair(
            &mut first,
            &mut second,
            [&headers[0], &headers[1]],
            band_infos,
            band_inner,
        );
        errors[pair] = error(&first);
        errors[pair + 1] = error(&second);
    }
    let mut best = (u64::MAX, guess as u8);
    for (error, level) in errors.into_iter().zip(levels) {
        if error < best.0 {
            best = (error, level);
        }
    }
    best.1
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_provisional_choice_that_needs_a_residual_is_searched_again() {
        // A textured key frame, then its own reconstruction with one luma pixel of the first
        // macroblock raised: ZEROMV matches that macroblock within the provisional threshold
        // but not the unchanged one, and at the finest quantizer the raised pixel is worth
        // coding.
        let mut random = crate::test_random::TestRandom::new(0x9e37_79b9_7f4a_7c15);
        let mut picture = Picture::new(64, 64);
        for plane in [&mut picture.y, &mut picture.u, &mut picture.v] {
            for value in plane.data.iter_mut() {
                *value = 64 + (random.next_u64() % 128) as u8;
            }
        }
        let finest = crate::encoder::EncodeParams {
            quantizer: 0,
            ..Default::default()
        };
        let key = crate::encoder::encode(&DecoderState::new(), &picture, &finest).expect("key");
        let mut changed = key.picture();
        let state = key.target;
        let pixel = 5 * changed.y.stride + 5;
        changed.y.data[pixel] = changed.y.data[pixel].saturating_add(24);
        let settings = FrameSettings {
            key_frame: false,
            quantizer: 0,
            filter_level: Some(0),
            refresh_golden: false,
            refresh_altref: false,
            search_golden: false,
            search_altref: false,
            search_other_new_mv: true,
            subblock_intra: true,
            subpixel: true,
            split: true,
            filter_trials: false,
            shortcuts: false,
        };

        let mut encoder = FrameEncoder::new(&state, &changed, &settings);
        let mut source_luma = [0u8; 256];
        let mut source_u = [0u8; 64];
        let mut source_v = [0u8; 64];
        block_of::<16>(&changed.y, 0, 0, &mut source_luma);
        block_of::<8>(&changed.u, 0, 0, &mut source_u);
        block_of::<8>(&changed.v, 0, 0, &mut source_v);
        let zero_sad =
            encoder.inter_luma_sad(ReferenceKind::Last, 0, 0, MotionVector::ZERO, &source_luma);
        assert!(encoder.zero_enough_sad < zero_sad && zero_sad <= encoder.provisional_sad);
        let sources = (&source_luma, &source_u, &source_v);
        let mut coding = MacroblockCoding::default();
        assert!(!encoder.code_macroblock_from(0, 0, sources, &mut coding, true));
        let mut coding = MacroblockCoding::default();
        encoder.code_macroblock(0, 0, &mut coding);
        assert!(!coding.info.skip_coefficients);

        // The whole frame still decodes to the encoder's target.
        let frame = crate::encoder::encode(&state, &changed, &finest).expect("inter frame");
        assert!(!frame.key_frame);
        let (decoded, shown) = crate::decode(&state, &frame.bytes).expect("decode");
        assert_eq!(decoded.id(), frame.target.id());
        assert_eq!(shown.as_ref(), Some(&frame.picture()));
    }

    #[test]
    fn partition_token_writer_matches_the_visiting_writer() {
        let mut random = crate::test_random::TestRandom::new(0x7e57_0f70_6e51);
        let mut next = move || random.next_u64();
        let probabilities = crate::tables::DEFAULT_COEFFICIENT_PROBABILITIES;
        let mut visiting = BoolEncoder::new();
        let mut partition = BoolEncoder::new();
        for _ in 0..500 {
            let has_y2 = next() % 2 == 0;
            let mut levels = [[0i16; 16]; 25];
            for block in levels.iter_mut() {
                // About half the blocks empty, the others with a few small levels.
                if next() % 2 == 0 {
                    for level in block.iter_mut().take((next() % 16) as usize) {
                        *level = (next() % 7) as i16 - 3;
                    }
                }
            }
            let above: TokenContext = std::array::from_fn(|_| (next() % 2) as u8);
            let left: TokenContext = std::array::from_fn(|_| (next() % 2) as u8);
            let (mut visiting_above, mut visiting_left) = (above, left);
            write_macroblock_tokens(
                &mut visiting,
                &probabilities,
                &levels,
                has_y2,
                &mut visiting_above,
                &mut visiting_left,
            );
            let (mut partition_above, mut partition_left) = (above, left);
            write_macroblock_tokens_to_partition(
                &mut partition,
                &probabilities,
                &levels,
                has_y2,
                &mut partition_above,
                &mut partition_left,
            );
            assert_eq!(
                (partition_above, partition_left),
                (visiting_above, visiting_left)
            );
        }
        assert_eq!(partition.finish(), visiting.finish());
    }
}
