//! Per-macroblock prediction syntax (RFC 6386 sections 10, 11, 16, 17): segment ids, skip
//! flags, intra modes, reference frames and motion vectors, including the near/nearest motion
//! vector search and motion-vector clamping.

use crate::bool_decoder::BoolDecoder;
use crate::error::DecodeError;
use crate::header::FrameHeader;
use crate::state::ReferenceKind;
use crate::tables::{
    Tree, CHROMA_MODE_TREE, KEY_FRAME_CHROMA_MODE_PROBABILITIES, KEY_FRAME_LUMA_MODE_PROBABILITIES,
    KEY_FRAME_LUMA_MODE_TREE, KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES, LUMA_MODE_TREE, MODE_CONTEXTS,
    MV_IS_SHORT, MV_LONG_BITS, MV_LONG_BIT_COUNT, MV_PROBABILITY_COUNT, MV_SHORT_TREE, MV_SIGN,
    SMALL_MV_TREE, SPLIT_MV_PARTITIONS, SPLIT_MV_PARTITION_COUNTS, SPLIT_MV_PROBABILITIES,
    SUBBLOCK_MODE_PROBABILITIES, SUBBLOCK_MODE_TREE, SUBBLOCK_MV_REFERENCE_PROBABILITIES,
};

/// A motion vector in quarter pixels, stored (as in libvpx) in eighth-pixel units for luma:
/// `>> 3` is the whole-pixel part and `& 7` the fraction.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MotionVector {
    /// Vertical component.
    pub row: i16,
    /// Horizontal component.
    pub col: i16,
}

impl MotionVector {
    /// The zero vector.
    pub const ZERO: MotionVector = MotionVector { row: 0, col: 0 };

    /// A vector from its components.
    pub const fn new(row: i16, col: i16) -> Self {
        MotionVector { row, col }
    }

    /// True for the zero vector.
    pub fn is_zero(self) -> bool {
        self.row == 0 && self.col == 0
    }
}

/// The macroblock-level prediction mode: the four whole-block intra modes, per-sub-block intra
/// prediction, and the five inter modes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum MacroblockMode {
    /// Intra: average of the edges.
    #[default]
    Dc = 0,
    /// Intra: copy the row above.
    Vertical = 1,
    /// Intra: copy the column on the left.
    Horizontal = 2,
    /// Intra: "TrueMotion" gradient.
    TrueMotion = 3,
    /// Intra: each 4x4 luma block has its own [`SubblockMode`] (B_PRED).
    Subblocks = 4,
    /// Inter: the nearest neighbouring mv.
    Nearest = 5,
    /// Inter: the next-nearest neighbouring mv.
    Near = 6,
    /// Inter: zero mv.
    Zero = 7,
    /// Inter: an explicitly coded mv.
    New = 8,
    /// Inter: a mv per partition of the macroblock (SPLITMV).
    Split = 9,
}

impl MacroblockMode {
    fn from_intra_index(index: u8) -> Self {
        match index {
            0 => MacroblockMode::Dc,
            1 => MacroblockMode::Vertical,
            2 => MacroblockMode::Horizontal,
            3 => MacroblockMode::TrueMotion,
            _ => MacroblockMode::Subblocks,
        }
    }

    /// Whether the luma has a second-order (Y2) block: all modes except B_PRED and SPLITMV.
    pub fn has_y2(self) -> bool {
        !matches!(self, MacroblockMode::Subblocks | MacroblockMode::Split)
    }
}

/// The intra modes of a 4x4 luma block (B_PRED), in bitstream order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub enum SubblockMode {
    /// Average of the edges.
    #[default]
    Dc = 0,
    /// "TrueMotion" gradient.
    TrueMotion = 1,
    /// Vertical (smoothed).
    Vertical = 2,
    /// Horizontal (smoothed).
    Horizontal = 3,
    /// Diagonal down-left.
    LeftDown = 4,
    /// Diagonal down-right.
    RightDown = 5,
    /// Vertical-right.
    VerticalRight = 6,
    /// Vertical-left.
    VerticalLeft = 7,
    /// Horizontal-down.
    HorizontalDown = 8,
    /// Horizontal-up.
    HorizontalUp = 9,
}

impl SubblockMode {
    /// All modes by bitstream index.
    pub const ALL: [SubblockMode; 10] = [
        SubblockMode::Dc,
        SubblockMode::TrueMotion,
        SubblockMode::Vertical,
        SubblockMode::Horizontal,
        SubblockMode::LeftDown,
        SubblockMode::RightDown,
        SubblockMode::VerticalRight,
        SubblockMode::VerticalLeft,
        SubblockMode::HorizontalDown,
        SubblockMode::HorizontalUp,
    ];

    /// The sub-block mode implied by a whole-macroblock intra mode, used as the context of
    /// neighbouring B_PRED blocks in key frames.
    pub fn implied_by(mode: MacroblockMode) -> SubblockMode {
        match mode {
            MacroblockMode::Vertical => SubblockMode::Vertical,
            MacroblockMode::Horizontal => SubblockMode::Horizontal,
            MacroblockMode::TrueMotion => SubblockMode::TrueMotion,
            _ => SubblockMode::Dc,
        }
    }
}

/// The prediction syntax of one macroblock.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MacroblockInfo {
    /// Segment 0..=3.
    pub segment_id: u8,
    /// The coded "no non-zero coefficients" flag (false when the frame does not use it).
    pub skip_coefficients: bool,
    /// Luma / macroblock prediction mode.
    pub mode: MacroblockMode,
    /// Sub-block modes (meaningful for [`MacroblockMode::Subblocks`]).
    pub subblock_modes: [SubblockMode; 16],
    /// Chroma intra mode (Dc, Vertical, Horizontal or TrueMotion; intra macroblocks only).
    pub chroma_mode: MacroblockMode,
    /// Reference frame ([`ReferenceKind::Intra`] for intra macroblocks).
    pub reference: ReferenceKind,
    /// The macroblock's mv (for SPLITMV, that of the last sub-block, as neighbours see it).
    pub mv: MotionVector,
    /// The mv of every 4x4 luma block (all equal to `mv` unless SPLITMV; zero when intra).
    pub subblock_mvs: [MotionVector; 16],
    /// SPLITMV partitioning: 0 top/bottom, 1 left/right, 2 quarters, 3 sixteenths.
    pub split_partitioning: u8,
}

/// Distances from a macroblock to the frame edges in eighth pixels, as mv clamping uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MacroblockEdges {
    /// Minus the distance to the left edge.
    pub to_left: i32,
    /// Distance to the right edge.
    pub to_right: i32,
    /// Minus the distance to the top edge.
    pub to_top: i32,
    /// Distance to the bottom edge.
    pub to_bottom: i32,
}

impl MacroblockEdges {
    /// Edges of macroblock (`mb_x`, `mb_y`) in a frame of `columns` x `rows` macroblocks.
    pub fn new(mb_x: usize, mb_y: usize, columns: usize, rows: usize) -> Self {
        MacroblockEdges {
            to_left: -((mb_x as i32 * 16) << 3),
            to_right: ((columns as i32 - 1 - mb_x as i32) * 16) << 3,
            to_top: -((mb_y as i32 * 16) << 3),
            to_bottom: ((rows as i32 - 1 - mb_y as i32) * 16) << 3,
        }
    }

    /// Clamps `mv` so the block it points to lies at most 16 pixels (plus filter taps)
    /// outside the frame (`vp8_clamp_mv2`).
    pub fn clamp(&self, mv: MotionVector) -> MotionVector {
        const MARGIN: i32 = 16 << 3;
        let col = i32::from(mv.col).clamp(self.to_left - MARGIN, self.to_right + MARGIN);
        let row = i32::from(mv.row).clamp(self.to_top - MARGIN, self.to_bottom + MARGIN);
        MotionVector::new(row as i16, col as i16)
    }
}

/// Result of the near/nearest mv search (`vp8_find_near_mvs` with the decoder's lazy clamping).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NearMotionVectors {
    /// The nearest mv, clamped (NEARESTMV).
    pub nearest: MotionVector,
    /// The near mv, clamped (NEARMV).
    pub near: MotionVector,
    /// The base for NEWMV and SPLITMV new vectors, clamped.
    pub best: MotionVector,
    /// Neighbour weights indexing [`MODE_CONTEXTS`]: zero, nearest, near, split.
    pub counts: [usize; 4],
}

impl NearMotionVectors {
    /// Probabilities of the inter-mode tree decisions for these counts.
    pub fn mode_probabilities(&self) -> [u8; 4] {
        [
            MODE_CONTEXTS[self.counts[0]][0],
            MODE_CONTEXTS[self.counts[1]][1],
            MODE_CONTEXTS[self.counts[2]][2],
            MODE_CONTEXTS[self.counts[3]][3],
        ]
    }
}

/// Searches the above, left and above-left neighbours of macroblock (`mb_x`, `mb_y`) for
/// candidate mvs. `infos` holds the frame's macroblocks in raster order (those before this one
/// already decoded); `sign_bias` is per reference kind.
pub fn find_near_mvs(
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    reference: ReferenceKind,
    sign_bias: [bool; 4],
    edges: &MacroblockEdges,
) -> NearMotionVectors {
    let index = mb_y * columns + mb_x;
    let above = (mb_y > 0).then(|| &infos[index - columns]);
    let left = (mb_x > 0).then(|| &infos[index - 1]);
    let above_left = (mb_y > 0 && mb_x > 0).then(|| &infos[index - columns - 1]);

    let mut mvs = [MotionVector::ZERO; 4];
    let mut counts = [0usize; 4];
    let mut slot = 0usize;
    let biased = |neighbour: &MacroblockInfo| {
        let mut mv = neighbour.mv;
        if sign_bias[neighbour.reference as usize] != sign_bias[reference as usize] {
            mv = MotionVector::new(mv.row.wrapping_neg(), mv.col.wrapping_neg());
        }
        mv
    };
    for (neighbour, weight) in [(above, 2), (left, 2), (above_left, 1)] {
        let Some(neighbour) = neighbour else { continue };
        if neighbour.reference == ReferenceKind::Intra {
            continue;
        }
        if neighbour.mv.is_zero() {
            counts[0] += weight;
            continue;
        }
        let mv = biased(neighbour);
        if slot == 0 || mv != mvs[slot] {
            slot += 1;
            mvs[slot] = mv;
        }
        counts[slot] += weight;
    }
    // Three distinct mvs: merge the above-left one into nearest when they are equal.
    if counts[3] > 0 && mvs[3] == mvs[1] {
        counts[1] += 1;
    }
    if counts[2] > counts[1] {
        counts.swap(1, 2);
        mvs.swap(1, 2);
    }
    let split_weight = |neighbour: Option<&MacroblockInfo>, weight: usize| match neighbour {
        Some(info) if info.mode == MacroblockMode::Split => weight,
        _ => 0,
    };
    counts[3] = split_weight(above, 2) + split_weight(left, 2) + split_weight(above_left, 1);
    let best = if counts[1] >= counts[0] {
        mvs[1]
    } else {
        mvs[0]
    };
    NearMotionVectors {
        nearest: edges.clamp(mvs[1]),
        near: edges.clamp(mvs[2]),
        best: edges.clamp(best),
        counts,
    }
}

fn read_mv_component(decoder: &mut BoolDecoder, probabilities: &[u8; MV_PROBABILITY_COUNT]) -> i32 {
    let mut magnitude: i32;
    if decoder.read_bool(probabilities[MV_IS_SHORT]) {
        magnitude = 0;
        for bit in 0..3 {
            magnitude += i32::from(decoder.read_bool(probabilities[MV_LONG_BITS + bit])) << bit;
        }
        for bit in (4..MV_LONG_BIT_COUNT).rev() {
            magnitude += i32::from(decoder.read_bool(probabilities[MV_LONG_BITS + bit])) << bit;
        }
        if magnitude & 0xfff0 == 0 || decoder.read_bool(probabilities[MV_LONG_BITS + 3]) {
            magnitude += 8;
        }
    } else {
        magnitude = i32::from(decoder.read_tree(
            &SMALL_MV_TREE,
            &probabilities[MV_SHORT_TREE..MV_SHORT_TREE + 7],
            0,
        ));
    }
    if magnitude != 0 && decoder.read_bool(probabilities[MV_SIGN]) {
        magnitude = -magnitude;
    }
    magnitude
}

/// Reads a mv difference (row then column) and adds it to `base` (wrapping like libvpx's
/// 16-bit arithmetic).
pub fn read_mv(
    decoder: &mut BoolDecoder,
    probabilities: &[[u8; MV_PROBABILITY_COUNT]; 2],
    base: MotionVector,
) -> MotionVector {
    let row = (read_mv_component(decoder, &probabilities[0]) * 2) as i16;
    let col = (read_mv_component(decoder, &probabilities[1]) * 2) as i16;
    MotionVector::new(base.row.wrapping_add(row), base.col.wrapping_add(col))
}

fn read_tree_value(decoder: &mut BoolDecoder, tree: &Tree, probabilities: &[u8]) -> u8 {
    decoder.read_tree(tree, probabilities, 0)
}

/// Reads the modes of every macroblock of a frame from the first partition, in raster order.
/// `previous_segment_map` is the state's map (used when the frame does not code one). Fails
/// when the partition's data runs out.
pub fn read_modes(
    decoder: &mut BoolDecoder,
    header: &FrameHeader,
    previous_segment_map: &[u8],
) -> Result<Vec<MacroblockInfo>, DecodeError> {
    let columns = header.macroblock_columns();
    let rows = header.macroblock_rows();
    let mut infos = vec![MacroblockInfo::default(); columns * rows];
    let sign_bias = header.sign_bias();
    for mb_y in 0..rows {
        for mb_x in 0..columns {
            let index = mb_y * columns + mb_x;
            let mut info = MacroblockInfo::default();
            if header.segmentation.update_map {
                let probabilities = &header.segmentation.tree_probabilities;
                info.segment_id = if decoder.read_bool(probabilities[0]) {
                    2 + u8::from(decoder.read_bool(probabilities[2]))
                } else {
                    u8::from(decoder.read_bool(probabilities[1]))
                };
            } else if !header.key_frame {
                info.segment_id = previous_segment_map.get(index).copied().unwrap_or(0);
            }
            info.skip_coefficients =
                header.macroblock_skip_enabled && decoder.read_bool(header.prob_skip_false);
            if header.key_frame {
                read_key_frame_modes(decoder, &mut info, &infos, columns, mb_x, mb_y);
            } else {
                let edges = MacroblockEdges::new(mb_x, mb_y, columns, rows);
                read_inter_frame_modes(
                    decoder, header, &mut info, &infos, columns, mb_x, mb_y, sign_bias, &edges,
                );
            }
            infos[index] = info;
        }
        if decoder.overran() {
            return Err(DecodeError::PartitionOverrun { partition: 0 });
        }
    }
    Ok(infos)
}

fn read_key_frame_modes(
    decoder: &mut BoolDecoder,
    info: &mut MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
) {
    info.reference = ReferenceKind::Intra;
    info.mode = MacroblockMode::from_intra_index(read_tree_value(
        decoder,
        &KEY_FRAME_LUMA_MODE_TREE,
        &KEY_FRAME_LUMA_MODE_PROBABILITIES,
    ));
    if info.mode == MacroblockMode::Subblocks {
        let index = mb_y * columns + mb_x;
        for block in 0..16 {
            let above = if block >= 4 {
                info.subblock_modes[block - 4]
            } else if mb_y > 0 {
                let neighbour = &infos[index - columns];
                if neighbour.mode == MacroblockMode::Subblocks {
                    neighbour.subblock_modes[block + 12]
                } else {
                    SubblockMode::implied_by(neighbour.mode)
                }
            } else {
                SubblockMode::Dc
            };
            let left = if block & 3 != 0 {
                info.subblock_modes[block - 1]
            } else if mb_x > 0 {
                let neighbour = &infos[index - 1];
                if neighbour.mode == MacroblockMode::Subblocks {
                    neighbour.subblock_modes[block + 3]
                } else {
                    SubblockMode::implied_by(neighbour.mode)
                }
            } else {
                SubblockMode::Dc
            };
            let probabilities =
                &KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES[above as usize][left as usize];
            info.subblock_modes[block] = SubblockMode::ALL
                [usize::from(read_tree_value(decoder, &SUBBLOCK_MODE_TREE, probabilities))];
        }
    } else {
        info.subblock_modes = [SubblockMode::implied_by(info.mode); 16];
    }
    info.chroma_mode = MacroblockMode::from_intra_index(read_tree_value(
        decoder,
        &CHROMA_MODE_TREE,
        &KEY_FRAME_CHROMA_MODE_PROBABILITIES,
    ));
}

#[allow(clippy::too_many_arguments)]
fn read_inter_frame_modes(
    decoder: &mut BoolDecoder,
    header: &FrameHeader,
    info: &mut MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    sign_bias: [bool; 4],
    edges: &MacroblockEdges,
) {
    if !decoder.read_bool(header.prob_intra) {
        info.reference = ReferenceKind::Intra;
        info.mode = MacroblockMode::from_intra_index(read_tree_value(
            decoder,
            &LUMA_MODE_TREE,
            &header.probabilities.luma_modes,
        ));
        if info.mode == MacroblockMode::Subblocks {
            for block in 0..16 {
                info.subblock_modes[block] = SubblockMode::ALL[usize::from(read_tree_value(
                    decoder,
                    &SUBBLOCK_MODE_TREE,
                    &SUBBLOCK_MODE_PROBABILITIES,
                ))];
            }
        } else {
            info.subblock_modes = [SubblockMode::implied_by(info.mode); 16];
        }
        info.chroma_mode = MacroblockMode::from_intra_index(read_tree_value(
            decoder,
            &CHROMA_MODE_TREE,
            &header.probabilities.chroma_modes,
        ));
        return;
    }
    info.reference = if !decoder.read_bool(header.prob_last) {
        ReferenceKind::Last
    } else if !decoder.read_bool(header.prob_golden) {
        ReferenceKind::Golden
    } else {
        ReferenceKind::AltRef
    };
    let near = find_near_mvs(infos, columns, mb_x, mb_y, info.reference, sign_bias, edges);
    let probabilities = near.mode_probabilities();
    let mv_probabilities = &header.probabilities.mv;
    if !decoder.read_bool(probabilities[0]) {
        info.mode = MacroblockMode::Zero;
        info.mv = MotionVector::ZERO;
    } else if !decoder.read_bool(probabilities[1]) {
        info.mode = MacroblockMode::Nearest;
        info.mv = near.nearest;
    } else if !decoder.read_bool(probabilities[2]) {
        info.mode = MacroblockMode::Near;
        info.mv = near.near;
    } else if !decoder.read_bool(probabilities[3]) {
        info.mode = MacroblockMode::New;
        info.mv = read_mv(decoder, mv_probabilities, near.best);
    } else {
        info.mode = MacroblockMode::Split;
        read_split_mvs(
            decoder,
            info,
            infos,
            columns,
            mb_x,
            mb_y,
            near.best,
            mv_probabilities,
        );
        info.mv = info.subblock_mvs[15];
        return;
    }
    info.subblock_mvs = [info.mv; 16];
}

#[allow(clippy::too_many_arguments)]
fn read_split_mvs(
    decoder: &mut BoolDecoder,
    info: &mut MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    best: MotionVector,
    mv_probabilities: &[[u8; MV_PROBABILITY_COUNT]; 2],
) {
    let partitioning = if !decoder.read_bool(SPLIT_MV_PROBABILITIES[0]) {
        3
    } else if !decoder.read_bool(SPLIT_MV_PROBABILITIES[1]) {
        2
    } else {
        usize::from(decoder.read_bool(SPLIT_MV_PROBABILITIES[2]))
    };
    info.split_partitioning = partitioning as u8;
    let map = &SPLIT_MV_PARTITIONS[partitioning];
    let index = mb_y * columns + mb_x;
    let left_neighbour = (mb_x > 0).then(|| &infos[index - 1]);
    let above_neighbour = (mb_y > 0).then(|| &infos[index - columns]);
    for partition in 0..SPLIT_MV_PARTITION_COUNTS[partitioning] {
        let first = map
            .iter()
            .position(|&p| usize::from(p) == partition)
            .unwrap_or(0);
        let left = if first & 3 != 0 {
            info.subblock_mvs[first - 1]
        } else {
            left_neighbour.map_or(MotionVector::ZERO, |n| n.subblock_mvs[first + 3])
        };
        let above = if first >= 4 {
            info.subblock_mvs[first - 4]
        } else {
            above_neighbour.map_or(MotionVector::ZERO, |n| n.subblock_mvs[first + 12])
        };
        let context = (usize::from(above.is_zero()) << 2)
            | (usize::from(left.is_zero()) << 1)
            | usize::from(left == above);
        let probabilities = &SUBBLOCK_MV_REFERENCE_PROBABILITIES[context];
        let mv = if !decoder.read_bool(probabilities[0]) {
            left
        } else if !decoder.read_bool(probabilities[1]) {
            above
        } else if !decoder.read_bool(probabilities[2]) {
            MotionVector::ZERO
        } else {
            read_mv(decoder, mv_probabilities, best)
        };
        for (block, &p) in map.iter().enumerate() {
            if usize::from(p) == partition {
                info.subblock_mvs[block] = mv;
            }
        }
    }
}
