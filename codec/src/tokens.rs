//! DCT/WHT coefficient tokens (RFC 6386 section 13): reading the coefficients of a macroblock
//! with their above/left "has non-zero" contexts, dequantised as they are read.

use crate::bool_decoder::BoolDecoder;
use crate::dequant::DequantFactors;
use crate::tables::{
    CoefficientProbabilities, CATEGORY1_PROBABILITY, CATEGORY2_PROBABILITIES,
    CATEGORY3_PROBABILITIES, CATEGORY4_PROBABILITIES, CATEGORY5_PROBABILITIES,
    CATEGORY6_PROBABILITIES, CATEGORY_BASE, COEFFICIENT_BANDS_BY_POSITION, ENTROPY_NODES,
    PREVIOUS_COEFFICIENT_CONTEXTS, ZIGZAG,
};

/// Index of the Y2 block among a macroblock's 25 blocks (0-15 luma, 16-19 U, 20-23 V).
pub const Y2_BLOCK: usize = 24;

/// Block type of luma blocks whose DC is carried by Y2.
pub const BLOCK_TYPE_LUMA_WITHOUT_DC: usize = 0;
/// Block type of the Y2 block.
pub const BLOCK_TYPE_Y2: usize = 1;
/// Block type of chroma blocks.
pub const BLOCK_TYPE_CHROMA: usize = 2;
/// Block type of luma blocks with their own DC (B_PRED and SPLITMV).
pub const BLOCK_TYPE_LUMA_WITH_DC: usize = 3;

/// The dequantised coefficients of one macroblock, in raster order within each 4x4 block.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MacroblockCoefficients {
    /// Blocks 0-15 luma, 16-19 U, 20-23 V, 24 Y2.
    pub blocks: [[i16; 16]; 25],
    /// Bit `i` set when block `i` coded at least one token before its end-of-block.
    pub coded_blocks: u32,
}

impl MacroblockCoefficients {
    /// Zeroes every coefficient.
    pub fn clear(&mut self) {
        if self.coded_blocks != 0 {
            self.blocks = [[0; 16]; 25];
        }
        self.coded_blocks = 0;
    }

    /// True when no block coded any token (libvpx then skips the inner loop filter edges of
    /// whole-macroblock modes).
    pub fn is_empty(&self) -> bool {
        self.coded_blocks == 0
    }
}

/// The "had non-zero coefficients" flags of the blocks along one macroblock edge: luma 0-3,
/// U 4-5, V 6-7, Y2 8.
pub type TokenContext = [u8; 9];

type BandProbabilities = [[[u8; ENTROPY_NODES]; PREVIOUS_COEFFICIENT_CONTEXTS]; 8];

/// Reads one block's tokens starting at scan position `first` with neighbour context
/// `context`; stores dequantised values into `out`. Returns the end-of-block position (0 when
/// the block codes nothing).
#[inline]
fn read_block(
    decoder: &mut BoolDecoder,
    probabilities: &BandProbabilities,
    context: usize,
    first: usize,
    factors: [i16; 2],
    out: &mut [i16; 16],
) -> usize {
    let mut position = first;
    let mut node = &probabilities[usize::from(COEFFICIENT_BANDS_BY_POSITION[position])][context];
    if !decoder.read_bool(node[0]) {
        return 0;
    }
    loop {
        if !decoder.read_bool(node[1]) {
            position += 1;
            if position == 16 {
                return 16;
            }
            node = &probabilities[usize::from(COEFFICIENT_BANDS_BY_POSITION[position])][0];
            continue;
        }
        let (magnitude, next_context) = if !decoder.read_bool(node[2]) {
            (1, 1)
        } else {
            (read_large_magnitude(decoder, node), 2)
        };
        let value = if decoder.read_flag() {
            -magnitude
        } else {
            magnitude
        };
        let factor = if position == 0 {
            factors[0]
        } else {
            factors[1]
        };
        out[usize::from(ZIGZAG[position])] = (value as i16).wrapping_mul(factor);
        position += 1;
        if position == 16 {
            return 16;
        }
        node = &probabilities[usize::from(COEFFICIENT_BANDS_BY_POSITION[position])][next_context];
        if !decoder.read_bool(node[0]) {
            return position;
        }
    }
}

#[inline]
fn read_large_magnitude(decoder: &mut BoolDecoder, node: &[u8; ENTROPY_NODES]) -> i32 {
    if !decoder.read_bool(node[3]) {
        if !decoder.read_bool(node[4]) {
            2
        } else {
            3 + i32::from(decoder.read_bool(node[5]))
        }
    } else if !decoder.read_bool(node[6]) {
        if !decoder.read_bool(node[7]) {
            5 + i32::from(decoder.read_bool(CATEGORY1_PROBABILITY))
        } else {
            7 + 2 * i32::from(decoder.read_bool(CATEGORY2_PROBABILITIES[0]))
                + i32::from(decoder.read_bool(CATEGORY2_PROBABILITIES[1]))
        }
    } else {
        let high = usize::from(decoder.read_bool(node[8]));
        let low = usize::from(decoder.read_bool(node[9 + high]));
        let category = 2 * high + low;
        let extra: &[u8] = match category {
            0 => &CATEGORY3_PROBABILITIES,
            1 => &CATEGORY4_PROBABILITIES,
            2 => &CATEGORY5_PROBABILITIES,
            _ => &CATEGORY6_PROBABILITIES,
        };
        let mut value = 0;
        for &probability in extra {
            value = 2 * value + i32::from(decoder.read_bool(probability));
        }
        value + CATEGORY_BASE[category]
    }
}

/// Reads all coefficients of a macroblock. `has_y2` is [`crate::modes::MacroblockMode::has_y2`]
/// of its mode; `above` and `left` are the contexts of its edges, updated in place. `out` must
/// be cleared beforehand.
pub fn read_macroblock(
    decoder: &mut BoolDecoder,
    probabilities: &CoefficientProbabilities,
    has_y2: bool,
    factors: &DequantFactors,
    above: &mut TokenContext,
    left: &mut TokenContext,
    out: &mut MacroblockCoefficients,
) {
    let mut coded = 0u32;
    let (luma_type, first) = if has_y2 {
        let context = usize::from(above[8] + left[8]);
        let end = read_block(
            decoder,
            &probabilities[BLOCK_TYPE_Y2],
            context,
            0,
            factors.y2,
            &mut out.blocks[Y2_BLOCK],
        );
        let flag = u8::from(end > 0);
        above[8] = flag;
        left[8] = flag;
        coded |= u32::from(flag) << Y2_BLOCK;
        (BLOCK_TYPE_LUMA_WITHOUT_DC, 1)
    } else {
        (BLOCK_TYPE_LUMA_WITH_DC, 0)
    };
    let luma_probabilities = &probabilities[luma_type];
    for block in 0..16 {
        let (x, y) = (block & 3, block >> 2);
        let context = usize::from(above[x] + left[y]);
        let end = read_block(
            decoder,
            luma_probabilities,
            context,
            first,
            factors.y1,
            &mut out.blocks[block],
        );
        let flag = u8::from(end > 0);
        above[x] = flag;
        left[y] = flag;
        coded |= u32::from(flag) << block;
    }
    let chroma_probabilities = &probabilities[BLOCK_TYPE_CHROMA];
    for block in 16..24 {
        let plane_offset = if block < 20 { 4 } else { 6 };
        let within = (block - 16) & 3;
        let (x, y) = (plane_offset + (within & 1), plane_offset + (within >> 1));
        let context = usize::from(above[x] + left[y]);
        let end = read_block(
            decoder,
            chroma_probabilities,
            context,
            0,
            factors.uv,
            &mut out.blocks[block],
        );
        let flag = u8::from(end > 0);
        above[x] = flag;
        left[y] = flag;
        coded |= u32::from(flag) << block;
    }
    out.coded_blocks = coded;
}

/// Resets the contexts for a macroblock that codes no coefficients: every block's flag becomes
/// zero, except that Y2's is kept when the macroblock has no Y2 block.
pub fn skip_macroblock(has_y2: bool, above: &mut TokenContext, left: &mut TokenContext) {
    for index in 0..8 {
        above[index] = 0;
        left[index] = 0;
    }
    if has_y2 {
        above[8] = 0;
        left[8] = 0;
    }
}
