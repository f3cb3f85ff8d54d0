//! The loop filter (RFC 6386 section 15): per-macroblock levels from the frame level,
//! segment, reference and mode deltas; normal and simple edge filters with sharpness.

use crate::header::{FrameHeader, LoopFilterType};
use crate::modes::{MacroblockInfo, MacroblockMode};
use crate::picture::Picture;
use crate::state::ReferenceKind;

/// The loop-filter level (0..=63) of a macroblock in a frame.
pub fn macroblock_level(header: &FrameHeader, info: &MacroblockInfo) -> u8 {
    let mut level = i32::from(header.filter_level);
    let segmentation = &header.segmentation;
    if segmentation.enabled {
        let value =
            i32::from(segmentation.values.loop_filter_level[usize::from(info.segment_id & 3)]);
        level = if segmentation.values.absolute_values {
            value
        } else {
            level + value
        };
        level = level.clamp(0, 63);
    }
    if !header.loop_filter_deltas_enabled {
        return level as u8;
    }
    let deltas = &header.loop_filter_deltas;
    level += i32::from(deltas.reference[info.reference as usize]);
    let mode_delta = match (info.reference, info.mode) {
        (ReferenceKind::Intra, MacroblockMode::Subblocks) => Some(0),
        (ReferenceKind::Intra, _) => None,
        (_, MacroblockMode::Zero) => Some(1),
        (_, MacroblockMode::Split) => Some(3),
        _ => Some(2),
    };
    if let Some(index) = mode_delta {
        level += i32::from(deltas.mode[index]);
    }
    level.clamp(0, 63) as u8
}

/// Edge thresholds for one filter level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EdgeLimits {
    /// Limit on differences across a macroblock edge.
    pub macroblock_edge: i32,
    /// Limit on differences across an inner (sub-block) edge.
    pub subblock_edge: i32,
    /// Limit on differences between neighbours on one side.
    pub interior: i32,
    /// High-edge-variance threshold.
    pub high_edge_variance: i32,
}

impl EdgeLimits {
    /// Thresholds for `level`, `sharpness` and the frame type.
    pub fn new(level: u8, sharpness: u8, key_frame: bool) -> Self {
        let level = i32::from(level);
        let mut interior = level;
        if sharpness > 0 {
            interior >>= if sharpness > 4 { 2 } else { 1 };
            interior = interior.min(9 - i32::from(sharpness));
        }
        interior = interior.max(1);
        let high_edge_variance = match (key_frame, level) {
            (_, 40..) => 2 + i32::from(!key_frame),
            (false, 20..) => 2,
            (_, 15..) => 1,
            _ => 0,
        };
        EdgeLimits {
            macroblock_edge: (level + 2) * 2 + interior,
            subblock_edge: level * 2 + interior,
            interior,
            high_edge_variance,
        }
    }
}

#[inline(always)]
fn signed(value: u8) -> i32 {
    i32::from(value) - 128
}

#[inline(always)]
fn clamp_signed(value: i32) -> i32 {
    value.clamp(-128, 127)
}

#[inline(always)]
fn unsigned(value: i32) -> u8 {
    (clamp_signed(value) + 128) as u8
}

/// Filters along one edge. `position` indexes the first pixel after the edge (q0) of the first
/// line; `across` steps across the edge, `along` to the next line.
#[inline(always)]
fn filter_edge(
    data: &mut [u8],
    position: usize,
    across: usize,
    along: usize,
    lines: usize,
    limits: &EdgeLimits,
    macroblock_edge: bool,
) {
    let edge_limit = if macroblock_edge {
        limits.macroblock_edge
    } else {
        limits.subblock_edge
    };
    for line in 0..lines {
        let q0_index = position + line * along;
        let p = |k: usize| q0_index - k * across;
        let (p3, p2, p1, p0) = (data[p(4)], data[p(3)], data[p(2)], data[p(1)]);
        let (q0, q1, q2, q3) = (
            data[q0_index],
            data[q0_index + across],
            data[q0_index + 2 * across],
            data[q0_index + 3 * across],
        );
        let difference = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
        if difference(p0, q0) * 2 + difference(p1, q1) / 2 > edge_limit
            || difference(p3, p2) > limits.interior
            || difference(p2, p1) > limits.interior
            || difference(p1, p0) > limits.interior
            || difference(q1, q0) > limits.interior
            || difference(q2, q1) > limits.interior
            || difference(q3, q2) > limits.interior
        {
            continue;
        }
        let high_variance = difference(p1, p0) > limits.high_edge_variance
            || difference(q1, q0) > limits.high_edge_variance;
        let (ps2, ps1, ps0, qs0, qs1, qs2) = (
            signed(p2),
            signed(p1),
            signed(p0),
            signed(q0),
            signed(q1),
            signed(q2),
        );
        if macroblock_edge {
            let filter = clamp_signed(clamp_signed(ps1 - qs1) + 3 * (qs0 - ps0));
            if high_variance {
                let filter1 = clamp_signed(filter + 4) >> 3;
                let filter2 = clamp_signed(filter + 3) >> 3;
                data[q0_index] = unsigned(qs0 - filter1);
                data[p(1)] = unsigned(ps0 + filter2);
            } else {
                let a = clamp_signed((27 * filter + 63) >> 7);
                data[q0_index] = unsigned(qs0 - a);
                data[p(1)] = unsigned(ps0 + a);
                let a = clamp_signed((18 * filter + 63) >> 7);
                data[q0_index + across] = unsigned(qs1 - a);
                data[p(2)] = unsigned(ps1 + a);
                let a = clamp_signed((9 * filter + 63) >> 7);
                data[q0_index + 2 * across] = unsigned(qs2 - a);
                data[p(3)] = unsigned(ps2 + a);
            }
        } else {
            let outer = if high_variance {
                clamp_signed(ps1 - qs1)
            } else {
                0
            };
            let filter = clamp_signed(outer + 3 * (qs0 - ps0));
            let filter1 = clamp_signed(filter + 4) >> 3;
            let filter2 = clamp_signed(filter + 3) >> 3;
            data[q0_index] = unsigned(qs0 - filter1);
            data[p(1)] = unsigned(ps0 + filter2);
            if !high_variance {
                let a = (filter1 + 1) >> 1;
                data[q0_index + across] = unsigned(qs1 - a);
                data[p(2)] = unsigned(ps1 + a);
            }
        }
    }
}

/// The simple filter along one luma edge.
#[inline(always)]
fn simple_filter_edge(
    data: &mut [u8],
    position: usize,
    across: usize,
    along: usize,
    edge_limit: i32,
) {
    for line in 0..16 {
        let q0_index = position + line * along;
        let (p1, p0) = (data[q0_index - 2 * across], data[q0_index - across]);
        let (q0, q1) = (data[q0_index], data[q0_index + across]);
        let difference = |a: u8, b: u8| (i32::from(a) - i32::from(b)).abs();
        if difference(p0, q0) * 2 + difference(p1, q1) / 2 > edge_limit {
            continue;
        }
        let (ps1, ps0, qs0, qs1) = (signed(p1), signed(p0), signed(q0), signed(q1));
        let filter = clamp_signed(clamp_signed(ps1 - qs1) + 3 * (qs0 - ps0));
        let filter1 = clamp_signed(filter + 4) >> 3;
        let filter2 = clamp_signed(filter + 3) >> 3;
        data[q0_index] = unsigned(qs0 - filter1);
        data[q0_index - across] = unsigned(ps0 + filter2);
    }
}

/// Filters a whole reconstructed frame (macroblock-aligned) in macroblock raster order.
/// `inner_edges[i]` says whether macroblock `i` gets its inner edges filtered (false for
/// whole-macroblock modes without coded coefficients).
pub fn filter_frame(
    frame: &mut Picture,
    header: &FrameHeader,
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) {
    if header.filter_level == 0 {
        return;
    }
    let columns = header.macroblock_columns();
    let rows = header.macroblock_rows();
    let mut limits_cache: [Option<EdgeLimits>; 64] = [None; 64];
    for mb_y in 0..rows {
        for mb_x in 0..columns {
            let index = mb_y * columns + mb_x;
            let level = macroblock_level(header, &infos[index]);
            if level == 0 {
                continue;
            }
            let limits = *limits_cache[usize::from(level)]
                .get_or_insert_with(|| EdgeLimits::new(level, header.sharpness, header.key_frame));
            let inner = inner_edges[index];
            match header.filter_type {
                LoopFilterType::Normal => {
                    filter_macroblock_normal(frame, mb_x, mb_y, &limits, inner)
                }
                LoopFilterType::Simple => {
                    filter_macroblock_simple(frame, mb_x, mb_y, &limits, inner)
                }
            }
        }
    }
}

fn filter_macroblock_normal(
    frame: &mut Picture,
    mb_x: usize,
    mb_y: usize,
    limits: &EdgeLimits,
    inner: bool,
) {
    let planes = [
        (&mut frame.y, 16usize),
        (&mut frame.u, 8usize),
        (&mut frame.v, 8usize),
    ];
    for (plane, size) in planes {
        let stride = plane.stride;
        let origin = mb_y * size * stride + mb_x * size;
        let data = &mut plane.data[..];
        if mb_x > 0 {
            filter_edge(data, origin, 1, stride, size, limits, true);
        }
        if inner {
            for offset in (4..size).step_by(4) {
                filter_edge(data, origin + offset, 1, stride, size, limits, false);
            }
        }
        if mb_y > 0 {
            filter_edge(data, origin, stride, 1, size, limits, true);
        }
        if inner {
            for offset in (4..size).step_by(4) {
                filter_edge(
                    data,
                    origin + offset * stride,
                    stride,
                    1,
                    size,
                    limits,
                    false,
                );
            }
        }
    }
}

fn filter_macroblock_simple(
    frame: &mut Picture,
    mb_x: usize,
    mb_y: usize,
    limits: &EdgeLimits,
    inner: bool,
) {
    let stride = frame.y.stride;
    let origin = mb_y * 16 * stride + mb_x * 16;
    let data = &mut frame.y.data[..];
    if mb_x > 0 {
        simple_filter_edge(data, origin, 1, stride, limits.macroblock_edge);
    }
    if inner {
        for offset in [4, 8, 12] {
            simple_filter_edge(data, origin + offset, 1, stride, limits.subblock_edge);
        }
    }
    if mb_y > 0 {
        simple_filter_edge(data, origin, stride, 1, limits.macroblock_edge);
    }
    if inner {
        for offset in [4, 8, 12] {
            simple_filter_edge(
                data,
                origin + offset * stride,
                stride,
                1,
                limits.subblock_edge,
            );
        }
    }
}
