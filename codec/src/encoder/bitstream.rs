//! Writing the VP8 bitstream: frame tag, frame header, per-macroblock modes and coefficient
//! tokens. Each writer mirrors the decoder's reader of the same syntax (`header`, `modes`,
//! `tokens`), so a value written here reads back as the same value there.

// Block and position indices address several parallel arrays at once.
#![allow(clippy::needless_range_loop)]

use super::entropy::{bool_cost, tree_cost, EntropyWriter};
use crate::header::{FrameHeader, LoopFilterType};
use crate::modes::{
    find_near_mvs, MacroblockEdges, MacroblockInfo, MacroblockMode, MotionVector,
    NearMotionVectors, SubblockMode,
};
use crate::state::{EntropyProbabilities, LoopFilterDeltas, ReferenceKind};
use crate::tables::{
    CoefficientProbabilities, CATEGORY1_PROBABILITY, CATEGORY2_PROBABILITIES,
    CATEGORY3_PROBABILITIES, CATEGORY4_PROBABILITIES, CATEGORY5_PROBABILITIES,
    CATEGORY6_PROBABILITIES, CATEGORY_BASE, CHROMA_MODE_TREE, COEFFICIENT_BANDS_BY_POSITION,
    COEFFICIENT_UPDATE_PROBABILITIES, KEY_FRAME_CHROMA_MODE_PROBABILITIES,
    KEY_FRAME_LUMA_MODE_PROBABILITIES, KEY_FRAME_LUMA_MODE_TREE,
    KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES, LUMA_MODE_TREE, MV_IS_SHORT, MV_LONG_BITS,
    MV_LONG_BIT_COUNT, MV_PROBABILITY_COUNT, MV_SHORT_TREE, MV_SIGN, MV_UPDATE_PROBABILITIES,
    SMALL_MV_TREE, SPLIT_MV_PARTITIONS, SPLIT_MV_PARTITION_COUNTS, SPLIT_MV_PROBABILITIES,
    SUBBLOCK_MODE_PROBABILITIES, SUBBLOCK_MODE_TREE, SUBBLOCK_MV_REFERENCE_PROBABILITIES,
};

/// Writes the bool-coded part of the frame header (everything in the first partition before the
/// macroblock modes). `base` holds the probabilities the frame starts from (the defaults on key
/// frames, the state's otherwise); every probability in `header.probabilities` that differs is
/// sent as an update.
pub fn write_frame_header<W: EntropyWriter>(
    writer: &mut W,
    header: &FrameHeader,
    base: &EntropyProbabilities,
    base_loop_filter_deltas: &LoopFilterDeltas,
) {
    if header.key_frame {
        writer.write_literal(u32::from(header.color_space), 1);
        writer.write_literal(u32::from(header.clamping_type), 1);
    }
    let segmentation = &header.segmentation;
    writer.write_bool(segmentation.enabled, 128);
    if segmentation.enabled {
        writer.write_bool(segmentation.update_map, 128);
        writer.write_bool(segmentation.update_data, 128);
        if segmentation.update_data {
            writer.write_bool(segmentation.values.absolute_values, 128);
            for &value in &segmentation.values.quantizer {
                writer.write_optional_signed((value != 0).then_some(i32::from(value)), 7);
            }
            for &value in &segmentation.values.loop_filter_level {
                writer.write_optional_signed((value != 0).then_some(i32::from(value)), 6);
            }
        }
        if segmentation.update_map {
            for &probability in &segmentation.tree_probabilities {
                writer.write_optional_literal(
                    (probability != 255).then_some(u32::from(probability)),
                    8,
                );
            }
        }
    }
    writer.write_bool(header.filter_type == LoopFilterType::Simple, 128);
    writer.write_literal(u32::from(header.filter_level), 6);
    writer.write_literal(u32::from(header.sharpness), 3);
    writer.write_bool(header.loop_filter_deltas_enabled, 128);
    if header.loop_filter_deltas_enabled {
        writer.write_bool(header.loop_filter_deltas_update, 128);
        if header.loop_filter_deltas_update {
            let new = &header.loop_filter_deltas;
            let new_values = new.reference.iter().chain(&new.mode);
            let old_values = base_loop_filter_deltas
                .reference
                .iter()
                .chain(&base_loop_filter_deltas.mode);
            for (&value, &old) in new_values.zip(old_values) {
                writer.write_optional_signed((value != old).then_some(i32::from(value)), 6);
            }
        }
    }
    writer.write_literal(header.partition_count.trailing_zeros(), 2);
    let quantizer = &header.quantizer;
    writer.write_literal(u32::from(quantizer.y_ac), 7);
    for delta in [
        quantizer.y_dc_delta,
        quantizer.y2_dc_delta,
        quantizer.y2_ac_delta,
        quantizer.uv_dc_delta,
        quantizer.uv_ac_delta,
    ] {
        writer.write_optional_signed((delta != 0).then_some(i32::from(delta)), 4);
    }
    if !header.key_frame {
        writer.write_bool(header.refresh_golden, 128);
        writer.write_bool(header.refresh_altref, 128);
        if !header.refresh_golden {
            writer.write_literal(u32::from(header.copy_to_golden), 2);
        }
        if !header.refresh_altref {
            writer.write_literal(u32::from(header.copy_to_altref), 2);
        }
        writer.write_bool(header.sign_bias_golden, 128);
        writer.write_bool(header.sign_bias_altref, 128);
    }
    writer.write_bool(header.refresh_entropy_probs, 128);
    if !header.key_frame {
        writer.write_bool(header.refresh_last, 128);
    }
    write_coefficient_updates(
        writer,
        &header.probabilities.coefficients,
        &base.coefficients,
    );
    writer.write_bool(header.macroblock_skip_enabled, 128);
    if header.macroblock_skip_enabled {
        writer.write_literal(u32::from(header.prob_skip_false), 8);
    }
    if !header.key_frame {
        writer.write_literal(u32::from(header.prob_intra), 8);
        writer.write_literal(u32::from(header.prob_last), 8);
        writer.write_literal(u32::from(header.prob_golden), 8);
        let probabilities = &header.probabilities;
        let luma_changed = probabilities.luma_modes != base.luma_modes;
        writer.write_bool(luma_changed, 128);
        if luma_changed {
            for &probability in &probabilities.luma_modes {
                writer.write_literal(u32::from(probability), 8);
            }
        }
        let chroma_changed = probabilities.chroma_modes != base.chroma_modes;
        writer.write_bool(chroma_changed, 128);
        if chroma_changed {
            for &probability in &probabilities.chroma_modes {
                writer.write_literal(u32::from(probability), 8);
            }
        }
        for component in 0..2 {
            for index in 0..MV_PROBABILITY_COUNT {
                let new = probabilities.mv[component][index];
                let update = new != base.mv[component][index];
                writer.write_bool(update, MV_UPDATE_PROBABILITIES[component][index]);
                if update {
                    debug_assert!(
                        new == 1 || new % 2 == 0,
                        "mv probabilities are sent in 7 bits"
                    );
                    writer.write_literal(u32::from(new >> 1), 7);
                }
            }
        }
    }
}

/// Writes the coefficient probability updates: a flag per probability, then the new value.
pub fn write_coefficient_updates<W: EntropyWriter>(
    writer: &mut W,
    new: &CoefficientProbabilities,
    base: &CoefficientProbabilities,
) {
    for block_type in 0..new.len() {
        for band in 0..new[block_type].len() {
            for context in 0..new[block_type][band].len() {
                for node in 0..new[block_type][band][context].len() {
                    let value = new[block_type][band][context][node];
                    let update = value != base[block_type][band][context][node];
                    writer.write_bool(
                        update,
                        COEFFICIENT_UPDATE_PROBABILITIES[block_type][band][context][node],
                    );
                    if update {
                        writer.write_literal(u32::from(value), 8);
                    }
                }
            }
        }
    }
}

/// The three bytes of the frame tag, followed on key frames by the start code and the size.
pub fn frame_tag(header: &FrameHeader, first_partition_size: usize) -> Vec<u8> {
    let tag = u32::from(!header.key_frame)
        | u32::from(header.version) << 1
        | u32::from(header.show_frame) << 4
        | (first_partition_size as u32) << 5;
    let mut bytes = tag.to_le_bytes()[..3].to_vec();
    if header.key_frame {
        bytes.extend_from_slice(&[0x9d, 0x01, 0x2a]);
        let width = header.width | u16::from(header.horizontal_scale) << 14;
        let height = header.height | u16::from(header.vertical_scale) << 14;
        bytes.extend_from_slice(&width.to_le_bytes());
        bytes.extend_from_slice(&height.to_le_bytes());
    }
    bytes
}

/// Joins the frame tag, the first partition and the token partitions into one frame.
pub fn assemble_frame(header: &FrameHeader, first_partition: &[u8], tokens: &[Vec<u8>]) -> Vec<u8> {
    let mut frame = frame_tag(header, first_partition.len());
    frame.extend_from_slice(first_partition);
    for partition in &tokens[..tokens.len().saturating_sub(1)] {
        frame.extend_from_slice(&(partition.len() as u32).to_le_bytes()[..3]);
    }
    for partition in tokens {
        frame.extend_from_slice(partition);
    }
    frame
}

/// Writes one motion-vector component (in quarter pixels) with its 19 probabilities.
pub fn write_mv_component<W: EntropyWriter>(
    writer: &mut W,
    value: i32,
    probabilities: &[u8; MV_PROBABILITY_COUNT],
) {
    let magnitude = value.unsigned_abs();
    if magnitude < 8 {
        writer.write_bool(false, probabilities[MV_IS_SHORT]);
        // `SMALL_MV_TREE` is the balanced tree of the magnitude's three bits, high bit first:
        // its node pairs 0, then 2 or 8, then 4, 6, 10 or 12 use probabilities 0, 1 + 3 * high,
        // then 2 + 3 * high + middle.
        let (high, middle, low) = ((magnitude >> 2) & 1, (magnitude >> 1) & 1, magnitude & 1);
        let short_tree = &probabilities[MV_SHORT_TREE..MV_SHORT_TREE + 7];
        writer.write_bool(high == 1, short_tree[0]);
        writer.write_bool(middle == 1, short_tree[1 + 3 * high as usize]);
        writer.write_bool(
            low == 1,
            short_tree[2 + 3 * high as usize + middle as usize],
        );
    } else {
        writer.write_bool(true, probabilities[MV_IS_SHORT]);
        for bit in 0..3 {
            writer.write_bool(
                (magnitude >> bit) & 1 == 1,
                probabilities[MV_LONG_BITS + bit],
            );
        }
        for bit in (4..MV_LONG_BIT_COUNT).rev() {
            writer.write_bool(
                (magnitude >> bit) & 1 == 1,
                probabilities[MV_LONG_BITS + bit],
            );
        }
        if magnitude & 0xfff0 != 0 {
            writer.write_bool((magnitude >> 3) & 1 == 1, probabilities[MV_LONG_BITS + 3]);
        }
    }
    if magnitude != 0 {
        writer.write_bool(value < 0, probabilities[MV_SIGN]);
    }
}

/// Cost in 1/256 bit of every motion-vector component value from `-MAX_MV_DIFFERENCE` to
/// `MAX_MV_DIFFERENCE` (index `value + MAX_MV_DIFFERENCE`), as [`write_mv_component`] would
/// spend it: the long form's bits are priced once each and summed per magnitude.
pub fn mv_component_costs(probabilities: &[u8; MV_PROBABILITY_COUNT]) -> Vec<u32> {
    let sign = [
        bool_cost(false, probabilities[MV_SIGN]),
        bool_cost(true, probabilities[MV_SIGN]),
    ];
    let bit_costs: [[u32; 2]; MV_LONG_BIT_COUNT] = std::array::from_fn(|bit| {
        [
            bool_cost(false, probabilities[MV_LONG_BITS + bit]),
            bool_cost(true, probabilities[MV_LONG_BITS + bit]),
        ]
    });
    let short_tree = &probabilities[MV_SHORT_TREE..MV_SHORT_TREE + 7];
    let short_costs: [u32; 8] = std::array::from_fn(|magnitude| {
        bool_cost(false, probabilities[MV_IS_SHORT])
            + tree_cost(&SMALL_MV_TREE, short_tree, magnitude as i8, 0)
    });
    // The long form's bits priced by groups: bits 0-2, and bits 4 and up; bit 3 is implied
    // (and not coded) when no higher bit is set.
    let low_costs: [u32; 8] = std::array::from_fn(|low| {
        (0..3)
            .map(|bit| bit_costs[bit][(low >> bit) & 1])
            .sum::<u32>()
    });
    const HIGH_VALUES: usize = 1 << (MV_LONG_BIT_COUNT - 4);
    let mut high_costs = [0u32; HIGH_VALUES];
    high_costs[0] = (4..MV_LONG_BIT_COUNT).map(|bit| bit_costs[bit][0]).sum();
    for high in 1..HIGH_VALUES {
        // From the value without its top bit, whose cost counts that bit as a zero.
        let top = (usize::BITS - 1 - high.leading_zeros()) as usize;
        high_costs[high] =
            high_costs[high ^ (1 << top)] + bit_costs[4 + top][1] - bit_costs[4 + top][0];
    }
    let long_start = bool_cost(true, probabilities[MV_IS_SHORT]);
    let magnitude_cost = |magnitude: u32| -> u32 {
        if magnitude < 8 {
            return short_costs[magnitude as usize];
        }
        let high = (magnitude >> 4) as usize;
        let bit3 = if high != 0 {
            bit_costs[3][((magnitude >> 3) & 1) as usize]
        } else {
            0
        };
        long_start + low_costs[(magnitude & 7) as usize] + high_costs[high] + bit3
    };
    let magnitudes: [u32; MAX_MV_DIFFERENCE as usize + 1] =
        std::array::from_fn(|magnitude| magnitude_cost(magnitude as u32));
    let mut costs = Vec::with_capacity(magnitudes.len() * 2 - 1);
    costs.extend(
        magnitudes[1..]
            .iter()
            .rev()
            .map(|&magnitude| magnitude + sign[1]),
    );
    costs.push(magnitudes[0]);
    costs.extend(magnitudes[1..].iter().map(|&magnitude| magnitude + sign[0]));
    costs
}

/// Largest quarter-pixel magnitude a motion-vector difference component can have.
pub const MAX_MV_DIFFERENCE: i32 = (1 << MV_LONG_BIT_COUNT) - 1;

/// Writes `mv - base` (both in the decoder's eighth-pixel luma units, even values only).
pub fn write_mv<W: EntropyWriter>(
    writer: &mut W,
    mv: MotionVector,
    base: MotionVector,
    probabilities: &[[u8; MV_PROBABILITY_COUNT]; 2],
) {
    writer.observe_new_mv(mv, base);
    let row = (i32::from(mv.row) - i32::from(base.row)) / 2;
    let col = (i32::from(mv.col) - i32::from(base.col)) / 2;
    write_mv_component(writer, row, &probabilities[0]);
    write_mv_component(writer, col, &probabilities[1]);
}

/// Whether `mv` can be coded as a difference from `base`.
pub fn mv_difference_fits(mv: MotionVector, base: MotionVector) -> bool {
    let row = i32::from(mv.row) - i32::from(base.row);
    let col = i32::from(mv.col) - i32::from(base.col);
    row % 2 == 0
        && col % 2 == 0
        && (row / 2).abs() <= MAX_MV_DIFFERENCE
        && (col / 2).abs() <= MAX_MV_DIFFERENCE
}

/// The above and left sub-block modes of block `block` of a key-frame macroblock, as contexts.
pub fn key_frame_subblock_contexts(
    info: &MacroblockInfo,
    above: Option<&MacroblockInfo>,
    left: Option<&MacroblockInfo>,
    block: usize,
) -> (SubblockMode, SubblockMode) {
    let neighbour_mode = |neighbour: &MacroblockInfo, index: usize| {
        if neighbour.mode == MacroblockMode::Subblocks {
            neighbour.subblock_modes[index]
        } else {
            SubblockMode::implied_by(neighbour.mode)
        }
    };
    let above_mode = if block >= 4 {
        info.subblock_modes[block - 4]
    } else {
        above.map_or(SubblockMode::Dc, |n| neighbour_mode(n, block + 12))
    };
    let left_mode = if block & 3 != 0 {
        info.subblock_modes[block - 1]
    } else {
        left.map_or(SubblockMode::Dc, |n| neighbour_mode(n, block + 3))
    };
    (above_mode, left_mode)
}

/// Writes the modes of a key-frame macroblock (after its segment id and skip flag).
pub fn write_key_frame_modes<W: EntropyWriter>(
    writer: &mut W,
    info: &MacroblockInfo,
    above: Option<&MacroblockInfo>,
    left: Option<&MacroblockInfo>,
) {
    writer.write_tree(
        &KEY_FRAME_LUMA_MODE_TREE,
        &KEY_FRAME_LUMA_MODE_PROBABILITIES,
        info.mode as i8,
        0,
    );
    if info.mode == MacroblockMode::Subblocks {
        for block in 0..16 {
            let (above_mode, left_mode) = key_frame_subblock_contexts(info, above, left, block);
            writer.write_tree(
                &SUBBLOCK_MODE_TREE,
                &KEY_FRAME_SUBBLOCK_MODE_PROBABILITIES[above_mode as usize][left_mode as usize],
                info.subblock_modes[block] as i8,
                0,
            );
        }
    }
    writer.write_tree(
        &CHROMA_MODE_TREE,
        &KEY_FRAME_CHROMA_MODE_PROBABILITIES,
        info.chroma_mode as i8,
        0,
    );
}

/// Writes an intra macroblock's modes in an inter frame (after the is-inter flag).
pub fn write_inter_frame_intra_modes<W: EntropyWriter>(
    writer: &mut W,
    info: &MacroblockInfo,
    probabilities: &EntropyProbabilities,
) {
    writer.write_tree(
        &LUMA_MODE_TREE,
        &probabilities.luma_modes,
        info.mode as i8,
        0,
    );
    if info.mode == MacroblockMode::Subblocks {
        for &mode in &info.subblock_modes {
            writer.write_tree(
                &SUBBLOCK_MODE_TREE,
                &SUBBLOCK_MODE_PROBABILITIES,
                mode as i8,
                0,
            );
        }
    }
    writer.write_tree(
        &CHROMA_MODE_TREE,
        &probabilities.chroma_modes,
        info.chroma_mode as i8,
        0,
    );
}

/// Writes the reference frame choice of an inter-frame macroblock.
pub fn write_reference<W: EntropyWriter>(
    writer: &mut W,
    header: &FrameHeader,
    reference: ReferenceKind,
) {
    writer.write_bool(reference != ReferenceKind::Intra, header.prob_intra);
    if reference != ReferenceKind::Intra {
        writer.write_bool(reference != ReferenceKind::Last, header.prob_last);
        if reference != ReferenceKind::Last {
            writer.write_bool(reference == ReferenceKind::AltRef, header.prob_golden);
        }
    }
}

/// Writes every mode of macroblock (`mb_x`, `mb_y`) of an inter frame: reference, then intra
/// modes or inter mode and vectors. `infos` holds the frame's macroblocks in raster order, those
/// before this one final.
#[allow(clippy::too_many_arguments)]
pub fn write_inter_frame_modes<W: EntropyWriter>(
    writer: &mut W,
    header: &FrameHeader,
    info: &MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    rows: usize,
    mb_x: usize,
    mb_y: usize,
) {
    let near = (info.reference != ReferenceKind::Intra)
        .then(|| macroblock_near_mvs(header, info, infos, columns, rows, mb_x, mb_y));
    write_inter_frame_modes_with_near(writer, header, info, infos, columns, mb_x, mb_y, near);
}

/// The near vectors an inter macroblock's modes are coded against (see
/// [`write_inter_frame_modes`]).
pub fn macroblock_near_mvs(
    header: &FrameHeader,
    info: &MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    rows: usize,
    mb_x: usize,
    mb_y: usize,
) -> NearMotionVectors {
    let edges = MacroblockEdges::new(mb_x, mb_y, columns, rows);
    find_near_mvs(
        infos,
        columns,
        mb_x,
        mb_y,
        info.reference,
        header.sign_bias(),
        &edges,
    )
}

/// [`write_inter_frame_modes`] with the macroblock's near vectors already found by
/// [`macroblock_near_mvs`]: a frame finds them once for both its vector statistics and its
/// writing. `near` is needed for inter macroblocks only.
///
/// # Panics
/// If `info` is an inter macroblock and `near` is `None`.
#[allow(clippy::too_many_arguments)]
pub fn write_inter_frame_modes_with_near<W: EntropyWriter>(
    writer: &mut W,
    header: &FrameHeader,
    info: &MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    near: Option<NearMotionVectors>,
) {
    write_reference(writer, header, info.reference);
    if info.reference == ReferenceKind::Intra {
        write_inter_frame_intra_modes(writer, info, &header.probabilities);
        return;
    }
    let near = near.expect("an inter macroblock's modes need its near vectors");
    let probabilities = near.mode_probabilities();
    let mv_probabilities = &header.probabilities.mv;
    let decision = match info.mode {
        MacroblockMode::Zero => 0,
        MacroblockMode::Nearest => 1,
        MacroblockMode::Near => 2,
        MacroblockMode::New => 3,
        MacroblockMode::Split => 4,
        other => panic!("{other:?} is not an inter mode"),
    };
    for (node, &probability) in probabilities.iter().enumerate().take(decision.min(3) + 1) {
        writer.write_bool(node < decision, probability);
    }
    match info.mode {
        MacroblockMode::New => write_mv(writer, info.mv, near.best, mv_probabilities),
        MacroblockMode::Split => write_split_mvs(
            writer,
            info,
            infos,
            columns,
            mb_x,
            mb_y,
            near.best,
            mv_probabilities,
        ),
        _ => {}
    }
}

/// The left and above neighbouring sub-block vectors of block `first` for SPLITMV contexts.
pub fn split_mv_neighbours(
    subblock_mvs: &[MotionVector; 16],
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    first: usize,
) -> (MotionVector, MotionVector) {
    let index = mb_y * columns + mb_x;
    // Intra neighbours carry zero vectors in `subblock_mvs`, as the decoder stores them.
    let left = if first & 3 != 0 {
        subblock_mvs[first - 1]
    } else if mb_x > 0 {
        infos[index - 1].subblock_mvs[first + 3]
    } else {
        MotionVector::ZERO
    };
    let above = if first >= 4 {
        subblock_mvs[first - 4]
    } else if mb_y > 0 {
        infos[index - columns].subblock_mvs[first + 12]
    } else {
        MotionVector::ZERO
    };
    (left, above)
}

/// How a SPLITMV partition's vector is coded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SubblockMvReference {
    /// The left neighbour's vector.
    Left,
    /// The above neighbour's vector.
    Above,
    /// Zero.
    Zero,
    /// A new vector coded against the macroblock's best vector.
    New,
}

/// Which reference the decoder will read for a partition vector `mv` (the cheapest that gives it).
pub fn subblock_mv_reference(
    mv: MotionVector,
    left: MotionVector,
    above: MotionVector,
) -> SubblockMvReference {
    if mv == left {
        SubblockMvReference::Left
    } else if mv == above {
        SubblockMvReference::Above
    } else if mv.is_zero() {
        SubblockMvReference::Zero
    } else {
        SubblockMvReference::New
    }
}

/// Context index of the sub-block mv reference probabilities.
pub fn subblock_mv_context(left: MotionVector, above: MotionVector) -> usize {
    (usize::from(above.is_zero()) << 2)
        | (usize::from(left.is_zero()) << 1)
        | usize::from(left == above)
}

/// Writes the partitioning and partition vectors of a SPLITMV macroblock.
#[allow(clippy::too_many_arguments)]
pub fn write_split_mvs<W: EntropyWriter>(
    writer: &mut W,
    info: &MacroblockInfo,
    infos: &[MacroblockInfo],
    columns: usize,
    mb_x: usize,
    mb_y: usize,
    best: MotionVector,
    mv_probabilities: &[[u8; MV_PROBABILITY_COUNT]; 2],
) {
    let partitioning = usize::from(info.split_partitioning);
    match partitioning {
        3 => writer.write_bool(false, SPLIT_MV_PROBABILITIES[0]),
        2 => {
            writer.write_bool(true, SPLIT_MV_PROBABILITIES[0]);
            writer.write_bool(false, SPLIT_MV_PROBABILITIES[1]);
        }
        _ => {
            writer.write_bool(true, SPLIT_MV_PROBABILITIES[0]);
            writer.write_bool(true, SPLIT_MV_PROBABILITIES[1]);
            writer.write_bool(partitioning == 1, SPLIT_MV_PROBABILITIES[2]);
        }
    }
    let map = &SPLIT_MV_PARTITIONS[partitioning];
    // Rebuild the vectors partition by partition, as the decoder does, so contexts match.
    let mut decoded = [MotionVector::ZERO; 16];
    for partition in 0..SPLIT_MV_PARTITION_COUNTS[partitioning] {
        let first = map
            .iter()
            .position(|&p| usize::from(p) == partition)
            .unwrap_or(0);
        let (left, above) = split_mv_neighbours(&decoded, infos, columns, mb_x, mb_y, first);
        let mv = info.subblock_mvs[first];
        let probabilities = &SUBBLOCK_MV_REFERENCE_PROBABILITIES[subblock_mv_context(left, above)];
        match subblock_mv_reference(mv, left, above) {
            SubblockMvReference::Left => writer.write_bool(false, probabilities[0]),
            SubblockMvReference::Above => {
                writer.write_bool(true, probabilities[0]);
                writer.write_bool(false, probabilities[1]);
            }
            SubblockMvReference::Zero => {
                writer.write_bool(true, probabilities[0]);
                writer.write_bool(true, probabilities[1]);
                writer.write_bool(false, probabilities[2]);
            }
            SubblockMvReference::New => {
                writer.write_bool(true, probabilities[0]);
                writer.write_bool(true, probabilities[1]);
                writer.write_bool(true, probabilities[2]);
                write_mv(writer, mv, best, mv_probabilities);
            }
        }
        for (block, &p) in map.iter().enumerate() {
            if usize::from(p) == partition {
                decoded[block] = mv;
            }
        }
    }
}

/// Coefficient block types as the token probabilities index them.
pub mod block_type {
    /// Luma block whose DC is carried by the Y2 block (coefficients from position 1).
    pub const LUMA_WITHOUT_DC: usize = 0;
    /// The second-order Y2 block.
    pub const Y2: usize = 1;
    /// A chroma block.
    pub const CHROMA: usize = 2;
    /// Luma block with its own DC (B_PRED and SPLITMV macroblocks).
    pub const LUMA_WITH_DC: usize = 3;
}

/// Receives the decisions of coefficient token coding: tree decisions at a (band, context,
/// node) of the block type's probabilities, and fixed-probability bits (extra bits and signs).
pub trait TokenSink {
    /// A token-tree decision.
    fn node(&mut self, band: usize, context: usize, node: usize, bit: bool);
    /// A bit with a fixed probability.
    fn fixed(&mut self, bit: bool, probability: u8);
}

/// Sends token decisions to an entropy writer with one block type's probabilities.
pub struct TokenWriter<'a, W> {
    /// Where the bits go.
    pub writer: &'a mut W,
    /// The block type's probabilities, by band, context and node.
    pub probabilities: &'a [[[u8; 11]; 3]; 8],
}

impl<W: EntropyWriter> TokenSink for TokenWriter<'_, W> {
    #[inline(always)]
    fn node(&mut self, band: usize, context: usize, node: usize, bit: bool) {
        self.writer
            .write_bool(bit, self.probabilities[band][context][node]);
    }

    #[inline(always)]
    fn fixed(&mut self, bit: bool, probability: u8) {
        self.writer.write_bool(bit, probability);
    }
}

/// Zero and one counts per token-tree decision: `[block type][band][context][node][bit]`.
pub type TokenCountTable = [[[[[u32; 2]; 11]; 3]; 8]; 4];

/// How often each token-tree decision went each way: `[block type][band][context][node][bit]`.
#[derive(Debug, Clone)]
pub struct TokenCounts {
    /// The counts.
    pub counts: Box<TokenCountTable>,
}

impl Default for TokenCounts {
    fn default() -> Self {
        TokenCounts {
            counts: Box::new([[[[[0; 2]; 11]; 3]; 8]; 4]),
        }
    }
}

/// Counts the decisions of one block type into [`TokenCounts`].
pub struct TokenCounter<'a> {
    /// The block type being counted.
    pub block_type: usize,
    /// The counts to add to.
    pub counts: &'a mut TokenCounts,
}

impl TokenSink for TokenCounter<'_> {
    #[inline]
    fn node(&mut self, band: usize, context: usize, node: usize, bit: bool) {
        self.counts.counts[self.block_type][band][context][node][usize::from(bit)] += 1;
    }

    #[inline]
    fn fixed(&mut self, _bit: bool, _probability: u8) {}
}

/// Codes the tokens of one 4x4 block into `sink`. `levels` are the quantised coefficients in
/// zigzag (scan) order; coding starts at scan position `first` with context `context` (0..=2,
/// the number of neighbouring blocks with coefficients). Returns whether the block coded any
/// coefficient: the context flag its right and lower neighbours see.
#[inline(always)]
pub fn code_block_tokens<S: TokenSink>(
    sink: &mut S,
    levels: &[i16; 16],
    first: usize,
    context: usize,
) -> bool {
    // One past the last non-zero level, or `first` when there is none from `first` on.
    let end = (32 - nonzero_mask(levels).leading_zeros() as usize).max(first);
    let mut context = context;
    let mut after_zero = false;
    for (position, &level) in levels.iter().enumerate().skip(first) {
        let band = usize::from(COEFFICIENT_BANDS_BY_POSITION[position]);
        if !after_zero {
            sink.node(band, context, 0, position < end);
            if position >= end {
                return end > first;
            }
        }
        let magnitude = i32::from(level.unsigned_abs());
        code_token_value(sink, band, context, magnitude);
        if magnitude != 0 {
            sink.fixed(level < 0, 128);
        }
        after_zero = magnitude == 0;
        context = match magnitude {
            0 => 0,
            1 => 1,
            _ => 2,
        };
    }
    end > first
}

/// Writes the tokens of one 4x4 block with `probabilities` (see [`code_block_tokens`]).
#[inline(always)]
pub fn write_block_tokens<W: EntropyWriter>(
    writer: &mut W,
    probabilities: &CoefficientProbabilities,
    block_type: usize,
    levels: &[i16; 16],
    first: usize,
    context: usize,
) -> bool {
    let mut sink = TokenWriter {
        writer,
        probabilities: &probabilities[block_type],
    };
    code_block_tokens(&mut sink, levels, first, context)
}

/// Codes the token (after the end-of-block decision) and extra bits for `magnitude`.
#[inline(always)]
fn code_token_value<S: TokenSink>(sink: &mut S, band: usize, context: usize, magnitude: i32) {
    let mut node = |index: usize, bit: bool| sink.node(band, context, index, bit);
    node(1, magnitude != 0);
    if magnitude == 0 {
        return;
    }
    node(2, magnitude > 1);
    if magnitude == 1 {
        return;
    }
    node(3, magnitude > 4);
    if magnitude <= 4 {
        node(4, magnitude > 2);
        if magnitude > 2 {
            node(5, magnitude == 4);
        }
        return;
    }
    node(6, magnitude > 10);
    if magnitude <= 10 {
        node(7, magnitude > 6);
        if magnitude <= 6 {
            sink.fixed(magnitude == 6, CATEGORY1_PROBABILITY);
        } else {
            let extra = magnitude - 7;
            sink.fixed(extra & 2 != 0, CATEGORY2_PROBABILITIES[0]);
            sink.fixed(extra & 1 != 0, CATEGORY2_PROBABILITIES[1]);
        }
        return;
    }
    let category = if magnitude < CATEGORY_BASE[1] {
        0
    } else if magnitude < CATEGORY_BASE[2] {
        1
    } else if magnitude < CATEGORY_BASE[3] {
        2
    } else {
        3
    };
    node(8, category >= 2);
    node(9 + (category >> 1), category & 1 == 1);
    let extra_probabilities: &[u8] = match category {
        0 => &CATEGORY3_PROBABILITIES,
        1 => &CATEGORY4_PROBABILITIES,
        2 => &CATEGORY5_PROBABILITIES,
        _ => &CATEGORY6_PROBABILITIES,
    };
    let extra = magnitude - CATEGORY_BASE[category];
    let bits = extra_probabilities.len();
    for (index, &probability) in extra_probabilities.iter().enumerate() {
        sink.fixed((extra >> (bits - 1 - index)) & 1 == 1, probability);
    }
}

/// Largest level magnitude the token alphabet carries (DCT_CAT6 with 11 extra bits).
pub const MAX_LEVEL_MAGNITUDE: usize = 2048 + 66;

/// Token classes: the distinct paths through the token tree after the end-of-block decision
/// (ZERO, ONE, TWO, THREE, FOUR and the six categories).
const TOKEN_CLASSES: usize = 11;

/// Records the tree decisions and sums the fixed-probability bits of one token.
#[derive(Default)]
struct TokenPath {
    nodes: Vec<(usize, bool)>,
    fixed_cost: u32,
}

impl TokenSink for TokenPath {
    fn node(&mut self, _band: usize, _context: usize, node: usize, bit: bool) {
        self.nodes.push((node, bit));
    }

    fn fixed(&mut self, bit: bool, probability: u8) {
        self.fixed_cost += bool_cost(bit, probability);
    }
}

/// What every level magnitude costs apart from the frame's probabilities: its token class
/// and the cost of its extra bits and sign. The same for every frame, so made once.
#[derive(Debug)]
struct LevelClasses {
    /// Token class of each magnitude 0..=[`MAX_LEVEL_MAGNITUDE`].
    class: [u8; MAX_LEVEL_MAGNITUDE + 1],
    /// Extra bits plus sign, 1/256 bit, of each magnitude.
    fixed_cost: [u32; MAX_LEVEL_MAGNITUDE + 1],
    /// The tree decisions of each class.
    paths: Vec<Vec<(usize, bool)>>,
    /// The same as (node, bit) pairs padded to a fixed length with [`PADDING_NODE`], which
    /// costs nothing: sums over them need no length.
    padded_paths: [[(u8, u8); LONGEST_TOKEN_PATH]; TOKEN_CLASSES],
}

/// Most tree decisions of one token after its end-of-block decision (DCT_CAT6).
const LONGEST_TOKEN_PATH: usize = 6;

/// A node index past the token tree's eleven, for padding paths.
const PADDING_NODE: u8 = 11;

fn level_classes() -> &'static LevelClasses {
    static CLASSES: std::sync::OnceLock<LevelClasses> = std::sync::OnceLock::new();
    CLASSES.get_or_init(|| {
        let mut classes = LevelClasses {
            class: [0; MAX_LEVEL_MAGNITUDE + 1],
            fixed_cost: [0; MAX_LEVEL_MAGNITUDE + 1],
            paths: Vec::new(),
            padded_paths: [[(PADDING_NODE, 0); LONGEST_TOKEN_PATH]; TOKEN_CLASSES],
        };
        for magnitude in 0..=MAX_LEVEL_MAGNITUDE as i32 {
            let mut path = TokenPath::default();
            code_token_value(&mut path, 0, 0, magnitude);
            let sign = if magnitude != 0 {
                bool_cost(false, 128)
            } else {
                0
            };
            let class = match classes.paths.iter().position(|known| *known == path.nodes) {
                Some(class) => class,
                None => {
                    classes.paths.push(path.nodes);
                    classes.paths.len() - 1
                }
            };
            classes.class[magnitude as usize] = class as u8;
            classes.fixed_cost[magnitude as usize] = path.fixed_cost + sign;
        }
        debug_assert_eq!(classes.paths.len(), TOKEN_CLASSES);
        for (padded, path) in classes.padded_paths.iter_mut().zip(&classes.paths) {
            for (slot, &(node, bit)) in padded.iter_mut().zip(path) {
                *slot = (node as u8, u8::from(bit));
            }
            debug_assert!(path.len() <= LONGEST_TOKEN_PATH);
        }
        classes
    })
}

/// The cost of every token under one frame's coefficient probabilities, so that pricing a
/// block is a table lookup per coefficient instead of a walk down the token tree.
#[derive(Debug, Clone)]
pub struct TokenCostTable {
    /// What each level magnitude costs whatever the probabilities.
    level_classes: &'static LevelClasses,
    /// By block type, band and context: the end-of-block decision's costs, [ends, continues].
    end_of_block: [[[[u32; 2]; 3]; 8]; 4],
    /// By block type, band and [`TokenState`]: each token class's tree decisions, with the
    /// end-of-block decision before them ("continues") in the states where it is coded.
    classes: [[[[u32; TOKEN_CLASSES]; TOKEN_STATES]; 8]; 4],
}

/// Token states: what decides how the next token is coded. States 0, 1 and 2 are the
/// contexts (0, 1 or at least 2 for the previous magnitude, or the neighbours' context at the
/// block's start) with an end-of-block decision first; state 3 follows a zero, context 0
/// and no end-of-block decision.
const TOKEN_STATES: usize = 4;

/// Bit `i` set when `levels[i]` is non-zero.
#[inline]
fn nonzero_mask(levels: &[i16; 16]) -> u32 {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::x86_64::{
            __m128i, _mm_cmpeq_epi16, _mm_loadu_si128, _mm_movemask_epi8, _mm_packs_epi16,
            _mm_setzero_si128,
        };
        // SAFETY: SSE2 is part of the x86-64 baseline; the two unaligned loads read the 16
        // bytes at levels 0..8 and 8..16 of the 16-level array.
        unsafe {
            let pointer = levels.as_ptr().cast::<__m128i>();
            let zero = _mm_setzero_si128();
            let zeros = _mm_packs_epi16(
                _mm_cmpeq_epi16(_mm_loadu_si128(pointer), zero),
                _mm_cmpeq_epi16(_mm_loadu_si128(pointer.add(1)), zero),
            );
            !(_mm_movemask_epi8(zeros) as u32) & 0xffff
        }
    }
    #[cfg(not(target_arch = "x86_64"))]
    levels.iter().enumerate().fold(0, |mask, (index, &level)| {
        mask | (u32::from(level != 0) << index)
    })
}

/// Walks one block's tokens as [`code_block_tokens`] codes them, from position `first` under
/// token context `context`: calls `visit(band, state, magnitude)` for each coded position up
/// to the last non-zero level (`state` is the context, or 3 after a zero token, which codes
/// no end-of-block decision). Returns whether the block codes any coefficient and, when an
/// end-of-block token follows, its band and context.
#[inline(always)]
fn walk_block_tokens(
    levels: &[i16; 16],
    first: usize,
    context: usize,
    mut visit: impl FnMut(usize, usize, usize),
) -> (bool, Option<(usize, usize)>) {
    // One past the last non-zero level, or `first` when there is none from `first` on.
    let end = (32 - nonzero_mask(levels).leading_zeros() as usize).max(first);
    assert!(context < 3, "token context {context} out of range");
    let mut state = context;
    for (position, &level) in levels.iter().enumerate().take(end).skip(first) {
        let band = usize::from(COEFFICIENT_BANDS_BY_POSITION[position]);
        let magnitude = usize::from(level.unsigned_abs()).min(MAX_LEVEL_MAGNITUDE);
        visit(band, state, magnitude);
        // From the magnitude rather than the class: the next lookup need not wait for the
        // visitor's.
        state = match magnitude {
            0 => 3,
            1 => 1,
            _ => 2,
        };
    }
    // The last token coded was not a zero, so the state is a context.
    let end_of_block = (end < 16).then(|| (usize::from(COEFFICIENT_BANDS_BY_POSITION[end]), state));
    (end > first, end_of_block)
}

impl TokenCostTable {
    /// Prices every token with `probabilities`.
    pub fn new(probabilities: &CoefficientProbabilities) -> Self {
        let level_classes = level_classes();
        let mut table = TokenCostTable {
            level_classes,
            end_of_block: [[[[0; 2]; 3]; 8]; 4],
            classes: [[[[0; TOKEN_CLASSES]; TOKEN_STATES]; 8]; 4],
        };
        debug_assert_eq!(level_classes.paths.len(), TOKEN_CLASSES);
        for block_type in 0..4 {
            for band in 0..8 {
                for context in 0..3 {
                    let node_probabilities = &probabilities[block_type][band][context];
                    // Index 11 is the padding node of the padded paths, at no cost.
                    let mut node_costs = [[0u32; 2]; 12];
                    for (costs, &probability) in node_costs.iter_mut().zip(node_probabilities) {
                        *costs = [bool_cost(false, probability), bool_cost(true, probability)];
                    }
                    let [ends, continues] = node_costs[0];
                    table.end_of_block[block_type][band][context] = [ends, continues];
                    for (class, path) in level_classes.padded_paths.iter().enumerate() {
                        let tree_cost: u32 = path
                            .iter()
                            .map(|&(node, bit)| node_costs[usize::from(node)][usize::from(bit)])
                            .sum();
                        // The context's own state codes the end-of-block decision first;
                        // after a zero (state 3, context 0) it is not coded.
                        table.classes[block_type][band][context][class] = continues + tree_cost;
                        if context == 0 {
                            table.classes[block_type][band][3][class] = tree_cost;
                        }
                    }
                }
            }
        }
        table
    }

    /// Cost in 1/256 bit of one block's tokens, exactly what [`write_block_tokens`] would
    /// spend with the same probabilities, and whether the block codes any coefficient.
    pub fn block_cost(
        &self,
        block_type: usize,
        levels: &[i16; 16],
        first: usize,
        context: usize,
    ) -> (u32, bool) {
        let level_classes = self.level_classes;
        let classes = &self.classes[block_type];
        let mut cost = 0u32;
        let (coded, end_of_block) =
            walk_block_tokens(levels, first, context, |band, state, magnitude| {
                let class = usize::from(level_classes.class[magnitude]);
                cost += classes[band][state][class] + level_classes.fixed_cost[magnitude];
            });
        if let Some((band, context)) = end_of_block {
            cost += self.end_of_block[block_type][band][context][0];
        }
        (cost, coded)
    }
}

/// Token statistics of a frame gathered at one table increment per coded token: how often
/// each token class was coded in each token state, and how often each end-of-block decision
/// ended a block. [`TokenClassCounts::node_counts`] expands them into the per-decision counts
/// the probability choice needs, which a walk down the token tree per token would give.
#[derive(Debug, Clone)]
pub struct TokenClassCounts {
    /// By block type, band and token state (as in [`TokenCostTable`]): how often each token
    /// class was coded.
    classes: [[[[u32; TOKEN_CLASSES]; TOKEN_STATES]; 8]; 4],
    /// By block type, band and context: how often the end-of-block decision ended a block.
    ends: [[[u32; 3]; 8]; 4],
}

impl Default for TokenClassCounts {
    fn default() -> Self {
        TokenClassCounts {
            classes: [[[[0; TOKEN_CLASSES]; TOKEN_STATES]; 8]; 4],
            ends: [[[0; 3]; 8]; 4],
        }
    }
}

impl TokenClassCounts {
    /// Counts the tokens of one block as [`code_block_tokens`] would code them, and returns
    /// whether the block codes any coefficient.
    #[inline]
    pub fn count_block(
        &mut self,
        block_type: usize,
        levels: &[i16; 16],
        first: usize,
        context: usize,
    ) -> bool {
        let class_of = &level_classes().class;
        let classes = &mut self.classes[block_type];
        let (coded, end_of_block) =
            walk_block_tokens(levels, first, context, |band, state, magnitude| {
                classes[band][state][usize::from(class_of[magnitude])] += 1;
            });
        if let Some((band, context)) = end_of_block {
            self.ends[block_type][band][context] += 1;
        }
        coded
    }

    /// The zero and one counts of every token-tree decision.
    pub fn node_counts(&self) -> TokenCounts {
        let paths = &level_classes().paths;
        let mut counts = TokenCounts::default();
        for block_type in 0..4 {
            for band in 0..8 {
                for state in 0..TOKEN_STATES {
                    let context = if state == 3 { 0 } else { state };
                    let nodes = &mut counts.counts[block_type][band][context];
                    let mut tokens = 0;
                    for (class, path) in paths.iter().enumerate() {
                        let count = self.classes[block_type][band][state][class];
                        if count == 0 {
                            continue;
                        }
                        tokens += count;
                        for &(node, bit) in path {
                            nodes[node][usize::from(bit)] += count;
                        }
                    }
                    // Tokens in a context state follow an end-of-block decision that went on.
                    if state < 3 {
                        nodes[0][1] += tokens;
                        nodes[0][0] += self.ends[block_type][band][state];
                    }
                }
            }
        }
        counts
    }
}

/// Collects the new motion vectors a frame codes; writes nothing.
#[derive(Debug, Default, Clone)]
pub struct NewMvCollector {
    /// (vector, base) pairs in coding order.
    pub vectors: Vec<(MotionVector, MotionVector)>,
}

impl EntropyWriter for NewMvCollector {
    type Checkpoint = usize;

    fn write_bool(&mut self, _bit: bool, _probability: u8) {}

    fn checkpoint(&self) -> usize {
        self.vectors.len()
    }

    fn rollback(&mut self, checkpoint: usize) {
        self.vectors.truncate(checkpoint);
    }

    fn observe_new_mv(&mut self, mv: MotionVector, base: MotionVector) {
        self.vectors.push((mv, base));
    }
}

/// Records, for each of the 19 probabilities of a vector component, how often its decision
/// went each way (the probability passed to the writer is the node's index).
struct MvNodeCounter<'a> {
    counts: &'a mut [[u32; 2]; MV_PROBABILITY_COUNT],
}

impl EntropyWriter for MvNodeCounter<'_> {
    type Checkpoint = ();

    fn write_bool(&mut self, bit: bool, probability: u8) {
        self.counts[usize::from(probability)][usize::from(bit)] += 1;
    }

    fn checkpoint(&self) {}

    fn rollback(&mut self, _checkpoint: ()) {}
}

/// Per component and probability index, how often each decision went each way when coding
/// `vectors` ((vector, base) pairs).
pub fn count_mv_decisions(
    vectors: &[(MotionVector, MotionVector)],
) -> [[[u32; 2]; MV_PROBABILITY_COUNT]; 2] {
    let mut counts = [[[0u32; 2]; MV_PROBABILITY_COUNT]; 2];
    let node_indices: [u8; MV_PROBABILITY_COUNT] = std::array::from_fn(|index| index as u8);
    for &(mv, base) in vectors {
        let row = (i32::from(mv.row) - i32::from(base.row)) / 2;
        let col = (i32::from(mv.col) - i32::from(base.col)) / 2;
        for (component, value) in [row, col].into_iter().enumerate() {
            let mut counter = MvNodeCounter {
                counts: &mut counts[component],
            };
            write_mv_component(&mut counter, value, &node_indices);
        }
    }
    counts
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::encoder::entropy::BitCounter;

    #[test]
    fn mv_component_cost_table_matches_the_writer() {
        let mut seed = 12345u32;
        for round in 0..4 {
            let probabilities: [u8; MV_PROBABILITY_COUNT] = std::array::from_fn(|_| {
                seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12345);
                if round == 0 {
                    128
                } else {
                    ((seed >> 16) % 255 + 1) as u8
                }
            });
            let table = mv_component_costs(&probabilities);
            for value in -MAX_MV_DIFFERENCE..=MAX_MV_DIFFERENCE {
                let mut counter = BitCounter::default();
                write_mv_component(&mut counter, value, &probabilities);
                assert_eq!(
                    u64::from(table[(value + MAX_MV_DIFFERENCE) as usize]),
                    counter.cost(),
                    "value {value}"
                );
            }
        }
    }

    #[test]
    fn short_mv_magnitudes_follow_the_small_mv_tree() {
        use crate::encoder::entropy::Recorder;
        let probabilities: [u8; MV_PROBABILITY_COUNT] =
            std::array::from_fn(|index| (index * 13 + 7) as u8);
        for magnitude in 0..8i32 {
            for value in [magnitude, -magnitude] {
                let mut written = Recorder::default();
                write_mv_component(&mut written, value, &probabilities);
                let mut expected = Recorder::default();
                expected.write_bool(false, probabilities[MV_IS_SHORT]);
                expected.write_tree(
                    &SMALL_MV_TREE,
                    &probabilities[MV_SHORT_TREE..MV_SHORT_TREE + 7],
                    magnitude as i8,
                    0,
                );
                if magnitude != 0 {
                    expected.write_bool(value < 0, probabilities[MV_SIGN]);
                }
                assert_eq!(written.decisions(), expected.decisions(), "value {value}");
            }
        }
    }

    #[test]
    fn nonzero_mask_marks_exactly_the_nonzero_levels() {
        let mut random = crate::test_random::TestRandom::new(0x9e37_79b9_7f4a_7c15);
        for _ in 0..2000 {
            let seed = random.next_u64();
            let levels: [i16; 16] = std::array::from_fn(|index| {
                let bits = seed >> (index * 4);
                match bits & 3 {
                    0 | 1 => 0,
                    2 => -((bits >> 2) as i16 & 0x7ff) - 1,
                    _ => (bits >> 2) as i16 & 0x7ff,
                }
            });
            let expected = levels
                .iter()
                .enumerate()
                .filter(|(_, &level)| level != 0)
                .fold(0u32, |mask, (index, _)| mask | 1 << index);
            assert_eq!(nonzero_mask(&levels), expected, "{levels:?}");
        }
        assert_eq!(nonzero_mask(&[i16::MIN; 16]), 0xffff);
        assert_eq!(nonzero_mask(&[0; 16]), 0);
    }

    /// Random quantised levels: mostly small magnitudes, some up to the largest token.
    fn random_levels(next: &mut impl FnMut() -> u64) -> [i16; 16] {
        let mut levels = [0i16; 16];
        let count = (next() % 17) as usize;
        for level in levels.iter_mut().take(count) {
            let magnitude = match next() % 8 {
                0..=3 => (next() % 3) as i16,
                4..=5 => (next() % 12) as i16,
                6 => (next() % 80) as i16,
                _ => (next() % 2115) as i16,
            };
            *level = if next() % 2 == 0 {
                magnitude
            } else {
                -magnitude
            };
        }
        levels
    }

    #[test]
    fn class_counts_expand_to_the_coded_decisions() {
        let mut random = crate::test_random::TestRandom::new(0x0bad_cafe_f00d_d00d);
        let mut next = move || random.next_u64();
        let mut expected = TokenCounts::default();
        let mut class_counts = TokenClassCounts::default();
        for _ in 0..3000 {
            let levels = random_levels(&mut next);
            let block_type = (next() % 4) as usize;
            let first = (next() % 2) as usize;
            let context = (next() % 3) as usize;
            let mut counter = TokenCounter {
                block_type,
                counts: &mut expected,
            };
            let coded = code_block_tokens(&mut counter, &levels, first, context);
            assert_eq!(
                class_counts.count_block(block_type, &levels, first, context),
                coded
            );
        }
        assert_eq!(class_counts.node_counts().counts, expected.counts);
    }

    #[test]
    fn token_cost_table_matches_the_writer() {
        use crate::tables::DEFAULT_COEFFICIENT_PROBABILITIES;
        let mut random = crate::test_random::TestRandom::new(0x2545_f491_4f6c_dd1du64);
        let mut next = move || random.next_u64();
        let mut probabilities = DEFAULT_COEFFICIENT_PROBABILITIES;
        for round in 0..3 {
            if round > 0 {
                for value in probabilities
                    .as_flattened_mut()
                    .as_flattened_mut()
                    .as_flattened_mut()
                {
                    *value = (next() % 255 + 1) as u8;
                }
            }
            let table = TokenCostTable::new(&probabilities);
            for _ in 0..2000 {
                let levels = random_levels(&mut next);
                for block_type in 0..4 {
                    for first in [0, 1] {
                        for context in 0..3 {
                            let mut counter = BitCounter::default();
                            let coded = write_block_tokens(
                                &mut counter,
                                &probabilities,
                                block_type,
                                &levels,
                                first,
                                context,
                            );
                            let (cost, table_coded) =
                                table.block_cost(block_type, &levels, first, context);
                            assert_eq!((u64::from(cost), table_coded), (counter.cost(), coded));
                        }
                    }
                }
            }
        }
    }
}
