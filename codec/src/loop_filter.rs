//! The loop filter (RFC 6386 section 15): per-macroblock levels from the frame level,
//! segment, reference and mode deltas; normal and simple edge filters with sharpness.

use crate::header::{FrameHeader, LoopFilterType};
use crate::modes::{MacroblockInfo, MacroblockMode};
use crate::picture::{Picture, Plane};
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

/// The eight pixels across an edge (p3 p2 p1 p0 | q0 q1 q2 q3) for up to 16 lines, stored
/// lane-wise so the filters below run on all lines at once (and vectorise).
#[derive(Clone, Copy)]
struct EdgePixels {
    lanes: [[u8; 16]; 8],
}

impl EdgePixels {
    /// Loads a horizontal edge: the rows above and below `position` (the first q0 pixel).
    #[inline(always)]
    fn load_rows<const LINES: usize>(data: &[u8], position: usize, stride: usize) -> Self {
        let mut lanes = [[0u8; 16]; 8];
        for (k, lane) in lanes.iter_mut().enumerate() {
            let start = position + k * stride - 4 * stride;
            lane[..LINES].copy_from_slice(&data[start..start + LINES]);
        }
        EdgePixels { lanes }
    }

    /// Stores the six pixels a filter may change back to rows.
    #[inline(always)]
    fn store_rows<const LINES: usize>(&self, data: &mut [u8], position: usize, stride: usize) {
        for k in 1..7 {
            let start = position + k * stride - 4 * stride;
            data[start..start + LINES].copy_from_slice(&self.lanes[k][..LINES]);
        }
    }

    /// Loads a vertical edge: eight pixels around `position` on each of `count` lines
    /// (8 or 16), transposing 8x8 byte blocks.
    #[inline(always)]
    fn load_columns<const LINES: usize>(data: &[u8], position: usize, stride: usize) -> Self {
        #[cfg(target_arch = "x86_64")]
        if LINES <= 16 {
            let mut rows = [0u64; 16];
            for (line, row) in rows.iter_mut().enumerate().take(LINES) {
                let start = position + line * stride - 4;
                *row = u64::from_le_bytes(data[start..start + 8].try_into().expect("8 pixels"));
            }
            // SAFETY: SSE2 is part of the x86_64 baseline, so it is always available here.
            let lanes = unsafe { sse2::rows_to_lanes(&rows) };
            return EdgePixels { lanes };
        }
        let mut lanes = [[0u8; 16]; 8];
        for half in 0..LINES / 8 {
            let mut words = [0u64; 8];
            for (line, word) in words.iter_mut().enumerate() {
                let start = position + (half * 8 + line) * stride - 4;
                *word = u64::from_le_bytes(data[start..start + 8].try_into().expect("8 pixels"));
            }
            transpose_bytes(&mut words);
            for (lane, word) in lanes.iter_mut().zip(words) {
                lane[half * 8..half * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        EdgePixels { lanes }
    }

    /// Stores a vertical edge back (the outermost pixels are unchanged by every filter).
    #[inline(always)]
    fn store_columns<const LINES: usize>(&self, data: &mut [u8], position: usize, stride: usize) {
        #[cfg(target_arch = "x86_64")]
        if LINES <= 16 {
            // SAFETY: SSE2 is part of the x86_64 baseline, so it is always available here.
            let rows = unsafe { sse2::lanes_to_rows(&self.lanes) };
            for (line, row) in rows.iter().enumerate().take(LINES) {
                let start = position + line * stride - 4;
                data[start..start + 8].copy_from_slice(&row.to_le_bytes());
            }
            return;
        }
        for half in 0..LINES / 8 {
            let mut words = [0u64; 8];
            for (word, lane) in words.iter_mut().zip(&self.lanes) {
                *word =
                    u64::from_le_bytes(lane[half * 8..half * 8 + 8].try_into().expect("8 pixels"));
            }
            transpose_bytes(&mut words);
            for (line, word) in words.iter().enumerate() {
                let start = position + (half * 8 + line) * stride - 4;
                data[start..start + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
    }

    /// Loads a horizontal chroma edge of both planes: eight U lines in lanes 0-7 and eight V
    /// lines in lanes 8-15, so one filter pass covers both.
    #[inline(always)]
    fn load_rows_pair(u: &[u8], v: &[u8], position: usize, stride: usize) -> Self {
        let mut lanes = [[0u8; 16]; 8];
        for (k, lane) in lanes.iter_mut().enumerate() {
            let start = position + k * stride - 4 * stride;
            lane[..8].copy_from_slice(&u[start..start + 8]);
            lane[8..].copy_from_slice(&v[start..start + 8]);
        }
        EdgePixels { lanes }
    }

    /// Stores what [`Self::load_rows_pair`] loaded.
    #[inline(always)]
    fn store_rows_pair(&self, u: &mut [u8], v: &mut [u8], position: usize, stride: usize) {
        for k in 1..7 {
            let start = position + k * stride - 4 * stride;
            u[start..start + 8].copy_from_slice(&self.lanes[k][..8]);
            v[start..start + 8].copy_from_slice(&self.lanes[k][8..]);
        }
    }

    /// Loads a vertical chroma edge of both planes (U lines in lanes 0-7, V in 8-15).
    #[inline(always)]
    fn load_columns_pair(u: &[u8], v: &[u8], position: usize, stride: usize) -> Self {
        let mut rows = [0u64; 16];
        for line in 0..8 {
            let start = position + line * stride - 4;
            rows[line] = u64::from_le_bytes(u[start..start + 8].try_into().expect("8 pixels"));
            rows[8 + line] = u64::from_le_bytes(v[start..start + 8].try_into().expect("8 pixels"));
        }
        EdgePixels {
            lanes: rows_to_lanes(&rows),
        }
    }

    /// Stores what [`Self::load_columns_pair`] loaded.
    #[inline(always)]
    fn store_columns_pair(&self, u: &mut [u8], v: &mut [u8], position: usize, stride: usize) {
        let rows = lanes_to_rows(&self.lanes);
        for line in 0..8 {
            let start = position + line * stride - 4;
            u[start..start + 8].copy_from_slice(&rows[line].to_le_bytes());
            v[start..start + 8].copy_from_slice(&rows[8 + line].to_le_bytes());
        }
    }
}

/// Sixteen rows of eight pixels (little-endian words) to eight lanes of sixteen.
#[inline(always)]
fn rows_to_lanes(rows: &[u64; 16]) -> [[u8; 16]; 8] {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline, so it is always available here.
        unsafe { sse2::rows_to_lanes(rows) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut lanes = [[0u8; 16]; 8];
        for half in 0..2 {
            let mut words: [u64; 8] = rows[half * 8..half * 8 + 8].try_into().expect("8 rows");
            transpose_bytes(&mut words);
            for (lane, word) in lanes.iter_mut().zip(words) {
                lane[half * 8..half * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        lanes
    }
}

/// Eight lanes of sixteen pixels back to sixteen rows of eight (little-endian words).
#[inline(always)]
fn lanes_to_rows(lanes: &[[u8; 16]; 8]) -> [u64; 16] {
    #[cfg(target_arch = "x86_64")]
    {
        // SAFETY: SSE2 is part of the x86_64 baseline, so it is always available here.
        unsafe { sse2::lanes_to_rows(lanes) }
    }
    #[cfg(not(target_arch = "x86_64"))]
    {
        let mut rows = [0u64; 16];
        for half in 0..2 {
            let mut words = [0u64; 8];
            for (word, lane) in words.iter_mut().zip(lanes) {
                *word =
                    u64::from_le_bytes(lane[half * 8..half * 8 + 8].try_into().expect("8 pixels"));
            }
            transpose_bytes(&mut words);
            rows[half * 8..half * 8 + 8].copy_from_slice(&words);
        }
        rows
    }
}

/// 16x8 byte transposes with SSE2 unpack instructions, for the vertical edges of luma.
#[cfg(target_arch = "x86_64")]
mod sse2 {
    use std::arch::x86_64::{
        __m128i, _mm_cvtsi128_si64, _mm_set_epi64x, _mm_setzero_si128, _mm_unpackhi_epi16,
        _mm_unpackhi_epi32, _mm_unpackhi_epi64, _mm_unpackhi_epi8, _mm_unpacklo_epi16,
        _mm_unpacklo_epi32, _mm_unpacklo_epi64, _mm_unpacklo_epi8,
    };

    #[inline]
    #[target_feature(enable = "sse2")]
    fn halves(vector: __m128i) -> [u64; 2] {
        [
            _mm_cvtsi128_si64(vector) as u64,
            _mm_cvtsi128_si64(_mm_unpackhi_epi64(vector, vector)) as u64,
        ]
    }

    /// Sixteen rows of eight pixels (little-endian words) to eight lanes of sixteen.
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn rows_to_lanes(rows: &[u64; 16]) -> [[u8; 16]; 8] {
        let mut x = [_mm_setzero_si128(); 16];
        for (vector, &row) in x.iter_mut().zip(rows) {
            *vector = _mm_set_epi64x(0, row as i64);
        }
        // Rows 2j and 2j+1 interleaved: 16-bit unit k holds column k of both.
        let mut a = [_mm_setzero_si128(); 8];
        for (j, vector) in a.iter_mut().enumerate() {
            *vector = _mm_unpacklo_epi8(x[2 * j], x[2 * j + 1]);
        }
        // Four rows per 32-bit unit: columns 0-3 (low) and 4-7 (high) of rows 4g..4g+3.
        let mut low = [_mm_setzero_si128(); 4];
        let mut high = [_mm_setzero_si128(); 4];
        for g in 0..4 {
            low[g] = _mm_unpacklo_epi16(a[2 * g], a[2 * g + 1]);
            high[g] = _mm_unpackhi_epi16(a[2 * g], a[2 * g + 1]);
        }
        // Eight rows per 64-bit unit: for rows 0-7 and 8-15, column pairs (0,1) (2,3) (4,5) (6,7).
        let mut pairs = [[_mm_setzero_si128(); 4]; 2];
        for (half, pair) in pairs.iter_mut().enumerate() {
            let (first, second) = (2 * half, 2 * half + 1);
            pair[0] = _mm_unpacklo_epi32(low[first], low[second]);
            pair[1] = _mm_unpackhi_epi32(low[first], low[second]);
            pair[2] = _mm_unpacklo_epi32(high[first], high[second]);
            pair[3] = _mm_unpackhi_epi32(high[first], high[second]);
        }
        let mut lanes = [[0u8; 16]; 8];
        for (k, (&top, &bottom)) in pairs[0].iter().zip(&pairs[1]).enumerate() {
            let even = _mm_unpacklo_epi64(top, bottom);
            let odd = _mm_unpackhi_epi64(top, bottom);
            for (lane, vector) in [(2 * k, even), (2 * k + 1, odd)] {
                let [low_half, high_half] = halves(vector);
                lanes[lane][..8].copy_from_slice(&low_half.to_le_bytes());
                lanes[lane][8..].copy_from_slice(&high_half.to_le_bytes());
            }
        }
        lanes
    }

    /// Eight lanes of sixteen pixels back to sixteen rows of eight (little-endian words).
    #[inline]
    #[target_feature(enable = "sse2")]
    pub(super) fn lanes_to_rows(lanes: &[[u8; 16]; 8]) -> [u64; 16] {
        let mut l = [_mm_setzero_si128(); 8];
        for (vector, lane) in l.iter_mut().zip(lanes) {
            let low = u64::from_le_bytes(lane[..8].try_into().expect("8 pixels"));
            let high = u64::from_le_bytes(lane[8..].try_into().expect("8 pixels"));
            *vector = _mm_set_epi64x(high as i64, low as i64);
        }
        // Lanes 2j and 2j+1 interleaved: rows 0-7 (low) and 8-15 (high), 16-bit unit per row.
        let mut low = [_mm_setzero_si128(); 4];
        let mut high = [_mm_setzero_si128(); 4];
        for j in 0..4 {
            low[j] = _mm_unpacklo_epi8(l[2 * j], l[2 * j + 1]);
            high[j] = _mm_unpackhi_epi8(l[2 * j], l[2 * j + 1]);
        }
        let mut rows = [0u64; 16];
        for (half, m) in [low, high].iter().enumerate() {
            // Columns 0-3 and 4-7 of rows 0-3 and 4-7 (32-bit units per row).
            let columns_low_rows_low = _mm_unpacklo_epi16(m[0], m[1]);
            let columns_low_rows_high = _mm_unpackhi_epi16(m[0], m[1]);
            let columns_high_rows_low = _mm_unpacklo_epi16(m[2], m[3]);
            let columns_high_rows_high = _mm_unpackhi_epi16(m[2], m[3]);
            let row_pairs = [
                _mm_unpacklo_epi32(columns_low_rows_low, columns_high_rows_low),
                _mm_unpackhi_epi32(columns_low_rows_low, columns_high_rows_low),
                _mm_unpacklo_epi32(columns_low_rows_high, columns_high_rows_high),
                _mm_unpackhi_epi32(columns_low_rows_high, columns_high_rows_high),
            ];
            for (pair, vector) in row_pairs.into_iter().enumerate() {
                let [first, second] = halves(vector);
                rows[half * 8 + 2 * pair] = first;
                rows[half * 8 + 2 * pair + 1] = second;
            }
        }
        rows
    }
}

/// Transposes an 8x8 byte matrix held as eight little-endian words (byte `j` of word `i` is
/// element (i, j)) by swapping off-diagonal 4x4, 2x2 and 1x1 blocks.
#[inline(always)]
fn transpose_bytes(words: &mut [u64; 8]) {
    for i in 0..4 {
        let t = ((words[i] >> 32) ^ words[i + 4]) & 0x0000_0000_FFFF_FFFF;
        words[i] ^= t << 32;
        words[i + 4] ^= t;
    }
    for i in [0, 1, 4, 5] {
        let t = ((words[i] >> 16) ^ words[i + 2]) & 0x0000_FFFF_0000_FFFF;
        words[i] ^= t << 16;
        words[i + 2] ^= t;
    }
    for i in [0, 2, 4, 6] {
        let t = ((words[i] >> 8) ^ words[i + 1]) & 0x00FF_00FF_00FF_00FF;
        words[i] ^= t << 8;
        words[i + 1] ^= t;
    }
}

#[inline(always)]
fn clamp_signed(value: i16) -> i16 {
    value.clamp(-128, 127)
}

#[inline(always)]
fn to_unsigned(value: i16) -> u8 {
    (clamp_signed(value) + 128) as u8
}

#[inline(always)]
fn absolute_difference(a: u8, b: u8) -> i16 {
    (i16::from(a) - i16::from(b)).abs()
}

/// The normal loop filter on all lanes; `macroblock_edge` selects the stronger variant.
/// Written without branches so that it vectorises.
#[inline(always)]
fn normal_filter(pixels: &mut EdgePixels, limits: &EdgeLimits, macroblock_edge: bool) {
    let edge_limit = if macroblock_edge {
        limits.macroblock_edge
    } else {
        limits.subblock_edge
    } as i16;
    let interior = limits.interior as i16;
    let threshold = limits.high_edge_variance as i16;
    let [p3, p2, p1, p0, q0, q1, q2, q3] = &mut pixels.lanes;
    for i in 0..16 {
        let mask = (absolute_difference(p0[i], q0[i]) * 2
            + (absolute_difference(p1[i], q1[i]) >> 1)
            <= edge_limit)
            & (absolute_difference(p3[i], p2[i]) <= interior)
            & (absolute_difference(p2[i], p1[i]) <= interior)
            & (absolute_difference(p1[i], p0[i]) <= interior)
            & (absolute_difference(q1[i], q0[i]) <= interior)
            & (absolute_difference(q2[i], q1[i]) <= interior)
            & (absolute_difference(q3[i], q2[i]) <= interior);
        let high_variance = (absolute_difference(p1[i], p0[i]) > threshold)
            | (absolute_difference(q1[i], q0[i]) > threshold);
        let ps2 = i16::from(p2[i]) - 128;
        let ps1 = i16::from(p1[i]) - 128;
        let ps0 = i16::from(p0[i]) - 128;
        let qs0 = i16::from(q0[i]) - 128;
        let qs1 = i16::from(q1[i]) - 128;
        let qs2 = i16::from(q2[i]) - 128;
        if macroblock_edge {
            let filter = clamp_signed(clamp_signed(ps1 - qs1) + 3 * (qs0 - ps0));
            let filter = if mask { filter } else { 0 };
            let sharp = if high_variance { filter } else { 0 };
            let filter1 = clamp_signed(sharp + 4) >> 3;
            let filter2 = clamp_signed(sharp + 3) >> 3;
            let smooth = if high_variance { 0 } else { filter };
            let a0 = clamp_signed((27 * smooth + 63) >> 7);
            let a1 = clamp_signed((18 * smooth + 63) >> 7);
            let a2 = clamp_signed((9 * smooth + 63) >> 7);
            q0[i] = to_unsigned(clamp_signed(qs0 - filter1) - a0);
            p0[i] = to_unsigned(clamp_signed(ps0 + filter2) + a0);
            q1[i] = to_unsigned(qs1 - a1);
            p1[i] = to_unsigned(ps1 + a1);
            q2[i] = to_unsigned(qs2 - a2);
            p2[i] = to_unsigned(ps2 + a2);
        } else {
            let outer = if high_variance {
                clamp_signed(ps1 - qs1)
            } else {
                0
            };
            let filter = clamp_signed(outer + 3 * (qs0 - ps0));
            let filter = if mask { filter } else { 0 };
            let filter1 = clamp_signed(filter + 4) >> 3;
            let filter2 = clamp_signed(filter + 3) >> 3;
            let a = if high_variance { 0 } else { (filter1 + 1) >> 1 };
            q0[i] = to_unsigned(qs0 - filter1);
            p0[i] = to_unsigned(ps0 + filter2);
            q1[i] = to_unsigned(qs1 - a);
            p1[i] = to_unsigned(ps1 + a);
        }
    }
}

/// The simple loop filter on all lanes.
#[inline(always)]
fn simple_filter(pixels: &mut EdgePixels, edge_limit: i32) {
    let edge_limit = edge_limit as i16;
    let [_, _, p1, p0, q0, q1, _, _] = &mut pixels.lanes;
    for i in 0..16 {
        let mask = absolute_difference(p0[i], q0[i]) * 2 + (absolute_difference(p1[i], q1[i]) >> 1)
            <= edge_limit;
        let ps1 = i16::from(p1[i]) - 128;
        let ps0 = i16::from(p0[i]) - 128;
        let qs0 = i16::from(q0[i]) - 128;
        let qs1 = i16::from(q1[i]) - 128;
        let filter = clamp_signed(clamp_signed(ps1 - qs1) + 3 * (qs0 - ps0));
        let filter = if mask { filter } else { 0 };
        let filter1 = clamp_signed(filter + 4) >> 3;
        let filter2 = clamp_signed(filter + 3) >> 3;
        q0[i] = to_unsigned(qs0 - filter1);
        p0[i] = to_unsigned(ps0 + filter2);
    }
}

/// Which way an edge runs.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeDirection {
    /// A vertical edge (between columns): lines are rows.
    Vertical,
    /// A horizontal edge (between rows): lines are columns.
    Horizontal,
}

/// Which filter an edge gets.
#[derive(Clone, Copy, PartialEq, Eq)]
enum EdgeKind {
    /// Normal filter across a macroblock edge.
    NormalMacroblock,
    /// Normal filter across an inner edge.
    NormalSubblock,
    /// Simple filter with the given edge limit.
    Simple(i32),
}

#[inline(always)]
fn filter_edge<const LINES: usize>(
    data: &mut [u8],
    position: usize,
    stride: usize,
    direction: EdgeDirection,
    limits: &EdgeLimits,
    kind: EdgeKind,
) {
    let mut pixels = match direction {
        EdgeDirection::Vertical => EdgePixels::load_columns::<LINES>(data, position, stride),
        EdgeDirection::Horizontal => EdgePixels::load_rows::<LINES>(data, position, stride),
    };
    match kind {
        EdgeKind::NormalMacroblock => normal_filter(&mut pixels, limits, true),
        EdgeKind::NormalSubblock => normal_filter(&mut pixels, limits, false),
        EdgeKind::Simple(edge_limit) => simple_filter(&mut pixels, edge_limit),
    }
    match direction {
        EdgeDirection::Vertical => pixels.store_columns::<LINES>(data, position, stride),
        EdgeDirection::Horizontal => pixels.store_rows::<LINES>(data, position, stride),
    }
}

/// [`filter_edge`] for the same chroma edge of both planes at once.
#[inline(always)]
fn filter_edge_pair(
    u: &mut [u8],
    v: &mut [u8],
    position: usize,
    stride: usize,
    direction: EdgeDirection,
    limits: &EdgeLimits,
    macroblock_edge: bool,
) {
    let mut pixels = match direction {
        EdgeDirection::Vertical => EdgePixels::load_columns_pair(u, v, position, stride),
        EdgeDirection::Horizontal => EdgePixels::load_rows_pair(u, v, position, stride),
    };
    normal_filter(&mut pixels, limits, macroblock_edge);
    match direction {
        EdgeDirection::Vertical => pixels.store_columns_pair(u, v, position, stride),
        EdgeDirection::Horizontal => pixels.store_rows_pair(u, v, position, stride),
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
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled() {
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2.
        unsafe { filter_frame_avx2(frame, header, infos, inner_edges) };
        return;
    }
    filter_frame_body::<false>(frame, header, infos, inner_edges);
}

/// [`filter_frame`] compiled for CPUs with AVX2, with the normal filter in vector kernels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn filter_frame_avx2(
    frame: &mut Picture,
    header: &FrameHeader,
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) {
    filter_frame_body::<true>(frame, header, infos, inner_edges);
}

/// The body of [`filter_frame`]; `VECTOR` selects the AVX2 kernels for the normal filter,
/// only allowed in code compiled for AVX2 and run on a CPU that has it.
#[inline(always)]
fn filter_frame_body<const VECTOR: bool>(
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
                #[cfg(target_arch = "x86_64")]
                LoopFilterType::Normal if VECTOR && frame.u.stride == frame.v.stride => {
                    // SAFETY: `VECTOR` is only set in code compiled for AVX2, run on CPUs
                    // with AVX2.
                    unsafe {
                        let vector_limits = normal_vector::VectorLimits::new(&limits);
                        normal_vector::filter_macroblock(
                            &mut frame.y.data,
                            frame.y.stride,
                            &mut frame.u.data,
                            &mut frame.v.data,
                            frame.u.stride,
                            mb_x,
                            mb_y,
                            &vector_limits,
                            inner,
                        )
                    }
                }
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

/// Loop-filters only the luma plane of a frame: exactly the luma [`filter_frame`] gives, since
/// filtering luma never reads chroma. An encoder choosing the level by trial compares luma
/// only, so its trials need neither filter nor copy the chroma.
pub fn filter_luma(
    luma: &mut Plane,
    header: &FrameHeader,
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) {
    if header.filter_level == 0 {
        return;
    }
    let columns = header.macroblock_columns();
    let rows = header.macroblock_rows();
    let stride = luma.stride;
    for mb_y in 0..rows {
        for mb_x in 0..columns {
            let index = mb_y * columns + mb_x;
            let level = macroblock_level(header, &infos[index]);
            if level == 0 {
                continue;
            }
            let limits = EdgeLimits::new(level, header.sharpness, header.key_frame);
            let (macroblock, subblock) = match header.filter_type {
                LoopFilterType::Normal => (EdgeKind::NormalMacroblock, EdgeKind::NormalSubblock),
                LoopFilterType::Simple => (
                    EdgeKind::Simple(limits.macroblock_edge),
                    EdgeKind::Simple(limits.subblock_edge),
                ),
            };
            filter_plane::<16>(
                &mut luma.data,
                mb_y * 16 * stride + mb_x * 16,
                stride,
                mb_x > 0,
                mb_y > 0,
                inner_edges[index],
                &limits,
                macroblock,
                subblock,
            );
        }
    }
}

/// [`filter_luma`] of two luma planes of the same size and stride at once, each with its own
/// header (two trial levels of one frame): on CPUs with AVX2 the normal filter runs both
/// planes' edges in the two halves of each vector.
///
/// # Panics
/// If the planes differ in size or stride.
pub fn filter_luma_pair(
    first: &mut Plane,
    second: &mut Plane,
    headers: [&FrameHeader; 2],
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) {
    assert!(
        (first.width, first.height, first.stride, first.data.len())
            == (
                second.width,
                second.height,
                second.stride,
                second.data.len()
            ),
        "paired luma planes differ in size"
    );
    assert!(
        headers[0].macroblock_columns() == headers[1].macroblock_columns()
            && headers[0].macroblock_rows() == headers[1].macroblock_rows(),
        "paired headers differ in size"
    );
    #[cfg(target_arch = "x86_64")]
    if crate::simd::avx2_enabled()
        && headers
            .iter()
            .all(|header| header.filter_type == LoopFilterType::Normal)
    {
        // SAFETY: `avx2_enabled` is only true on CPUs with AVX2.
        unsafe { filter_luma_pair_avx2(first, second, headers, infos, inner_edges) };
        return;
    }
    filter_luma(first, headers[0], infos, inner_edges);
    filter_luma(second, headers[1], infos, inner_edges);
}

/// [`filter_luma_pair`] with the normal filter in AVX2 kernels.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn filter_luma_pair_avx2(
    first: &mut Plane,
    second: &mut Plane,
    headers: [&FrameHeader; 2],
    infos: &[MacroblockInfo],
    inner_edges: &[bool],
) {
    let columns = headers[0].macroblock_columns();
    let rows = headers[0].macroblock_rows();
    let stride = first.stride;
    for mb_y in 0..rows {
        for mb_x in 0..columns {
            let index = mb_y * columns + mb_x;
            // A frame at level 0 is not filtered at all, whatever its macroblocks' levels.
            let limits = headers.map(|header| {
                let level = if header.filter_level == 0 {
                    0
                } else {
                    macroblock_level(header, &infos[index])
                };
                (level != 0).then(|| EdgeLimits::new(level, header.sharpness, header.key_frame))
            });
            if limits.iter().all(Option::is_none) {
                continue;
            }
            let vector_limits = normal_vector::VectorLimits::pair(limits);
            normal_vector::filter_luma_pair_macroblock(
                &mut first.data,
                &mut second.data,
                stride,
                mb_x,
                mb_y,
                &vector_limits,
                inner_edges[index],
            );
        }
    }
}

/// Filters the edges of one `SIZE`-pixel macroblock plane whose top-left pixel is at
/// `origin`, in libvpx's order: left edge, inner vertical edges, top edge, inner horizontal.
#[allow(clippy::too_many_arguments)]
#[inline(always)]
fn filter_plane<const SIZE: usize>(
    data: &mut [u8],
    origin: usize,
    stride: usize,
    left_edge: bool,
    top_edge: bool,
    inner: bool,
    limits: &EdgeLimits,
    macroblock: EdgeKind,
    subblock: EdgeKind,
) {
    use EdgeDirection::{Horizontal, Vertical};
    if left_edge {
        filter_edge::<SIZE>(data, origin, stride, Vertical, limits, macroblock);
    }
    if inner {
        for offset in (4..SIZE).step_by(4) {
            filter_edge::<SIZE>(data, origin + offset, stride, Vertical, limits, subblock);
        }
    }
    if top_edge {
        filter_edge::<SIZE>(data, origin, stride, Horizontal, limits, macroblock);
    }
    if inner {
        for offset in (4..SIZE).step_by(4) {
            let position = origin + offset * stride;
            filter_edge::<SIZE>(data, position, stride, Horizontal, limits, subblock);
        }
    }
}

#[inline(always)]
fn filter_macroblock_normal(
    frame: &mut Picture,
    mb_x: usize,
    mb_y: usize,
    limits: &EdgeLimits,
    inner: bool,
) {
    let (left, top) = (mb_x > 0, mb_y > 0);
    let (macroblock, subblock) = (EdgeKind::NormalMacroblock, EdgeKind::NormalSubblock);
    let stride = frame.y.stride;
    let origin = mb_y * 16 * stride + mb_x * 16;
    filter_plane::<16>(
        &mut frame.y.data,
        origin,
        stride,
        left,
        top,
        inner,
        limits,
        macroblock,
        subblock,
    );
    // The two chroma planes share a stride and have independent edges: filter them together
    // (each plane still sees libvpx's edge order).
    use EdgeDirection::{Horizontal, Vertical};
    let stride = frame.u.stride;
    if stride != frame.v.stride {
        for plane in [&mut frame.u, &mut frame.v] {
            let stride = plane.stride;
            let origin = mb_y * 8 * stride + mb_x * 8;
            filter_plane::<8>(
                &mut plane.data,
                origin,
                stride,
                left,
                top,
                inner,
                limits,
                macroblock,
                subblock,
            );
        }
        return;
    }
    let origin = mb_y * 8 * stride + mb_x * 8;
    let (u, v) = (&mut frame.u.data[..], &mut frame.v.data[..]);
    if left {
        filter_edge_pair(u, v, origin, stride, Vertical, limits, true);
    }
    if inner {
        filter_edge_pair(u, v, origin + 4, stride, Vertical, limits, false);
    }
    if top {
        filter_edge_pair(u, v, origin, stride, Horizontal, limits, true);
    }
    if inner {
        filter_edge_pair(u, v, origin + 4 * stride, stride, Horizontal, limits, false);
    }
}

#[inline(always)]
fn filter_macroblock_simple(
    frame: &mut Picture,
    mb_x: usize,
    mb_y: usize,
    limits: &EdgeLimits,
    inner: bool,
) {
    let stride = frame.y.stride;
    let origin = mb_y * 16 * stride + mb_x * 16;
    filter_plane::<16>(
        &mut frame.y.data,
        origin,
        stride,
        mb_x > 0,
        mb_y > 0,
        inner,
        limits,
        EdgeKind::Simple(limits.macroblock_edge),
        EdgeKind::Simple(limits.subblock_edge),
    );
}

/// The normal loop filter on sixteen lines at once in vector registers, bit-exact with
/// [`normal_filter`].
///
/// Pixels stay bytes: offset by 128 (flipping the top bit) they are the signed values the
/// filter works on, and the saturating signed byte additions and subtractions clamp exactly
/// as the portable code's `clamp_signed` after each step (the sums `w + 3 (q0 - p0)` are
/// built by adding the clamped difference three times: the partial sums move monotonically
/// towards the exact sum, so a saturated one means the exact sum lies beyond the same bound,
/// and a difference clamped to -128 or 127 drives the sum past either bound anyway). The only
/// products, the macroblock edge's 27, 18 and 9 weights, are formed in 16-bit lanes.
///
/// A 256-bit register holds two edges' sixteen lines: a luma edge in the low half and the
/// same edge of both chroma planes in the high half, so each macroblock's chroma edges ride
/// along with its first luma edges of each kind (the planes are independent, and each keeps
/// libvpx's edge order).
#[cfg(target_arch = "x86_64")]
// Index loops over fixed arrays of registers: iterator adaptors and closures here are not
// compiled with the enclosing functions' AVX2 and would not be inlined.
#[allow(clippy::needless_range_loop)]
mod normal_vector {
    use super::EdgeLimits;
    use std::arch::x86_64::*;

    /// The thresholds of one filter level, repeated in every byte.
    pub(super) struct VectorLimits {
        macroblock_edge: __m256i,
        subblock_edge: __m256i,
        interior: __m256i,
        high_edge_variance: __m256i,
    }

    impl VectorLimits {
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(super) unsafe fn new(limits: &EdgeLimits) -> Self {
            // Every limit fits a byte: edge limits are at most (63 + 2) * 2 + 63.
            let byte = |value: i32| _mm256_set1_epi8(value.clamp(0, 255) as u8 as i8);
            VectorLimits {
                macroblock_edge: byte(limits.macroblock_edge),
                subblock_edge: byte(limits.subblock_edge),
                interior: byte(limits.interior),
                high_edge_variance: byte(limits.high_edge_variance),
            }
        }
    }

    impl VectorLimits {
        /// The thresholds of two edges filtered together: `limits[0]` in the low half of each
        /// vector, `limits[1]` in the high half. `None` sets every threshold to zero, which
        /// leaves that half's pixels unchanged: only an edge flat across all eight pixels
        /// passes, and the filter changes nothing there.
        ///
        /// # Safety
        /// The CPU must support AVX2.
        #[target_feature(enable = "avx2")]
        pub(super) unsafe fn pair(limits: [Option<EdgeLimits>; 2]) -> Self {
            let byte = |limits: &Option<EdgeLimits>, value: fn(&EdgeLimits) -> i32| {
                let value = limits.as_ref().map_or(0, value);
                _mm_set1_epi8(value.clamp(0, 255) as u8 as i8)
            };
            let both = |value: fn(&EdgeLimits) -> i32| {
                _mm256_inserti128_si256::<1>(
                    _mm256_castsi128_si256(byte(&limits[0], value)),
                    byte(&limits[1], value),
                )
            };
            VectorLimits {
                macroblock_edge: both(|limits| limits.macroblock_edge),
                subblock_edge: both(|limits| limits.subblock_edge),
                interior: both(|limits| limits.interior),
                high_edge_variance: both(|limits| limits.high_edge_variance),
            }
        }
    }

    /// The eight pixels across an edge (p3 p2 p1 p0 q0 q1 q2 q3), sixteen lines each.
    type Lanes = [__m128i; 8];

    /// |a - b| of unsigned bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn absolute_difference(a: __m256i, b: __m256i) -> __m256i {
        _mm256_or_si256(_mm256_subs_epu8(a, b), _mm256_subs_epu8(b, a))
    }

    /// All ones in the bytes where `value <= limit` (unsigned).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn at_most(value: __m256i, limit: __m256i) -> __m256i {
        _mm256_cmpeq_epi8(_mm256_subs_epu8(value, limit), _mm256_setzero_si256())
    }

    /// Signed bytes shifted right arithmetically by `SHIFT` (1 or 3): the unsigned shift of
    /// the value offset by 128, less 128 >> `SHIFT`.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn shift_right_signed<const SHIFT: i32>(value: __m256i) -> __m256i {
        let offset = _mm256_xor_si256(value, _mm256_set1_epi8(-128));
        let shifted = _mm256_and_si256(
            _mm256_srli_epi16::<SHIFT>(offset),
            _mm256_set1_epi8((0xff_u8 >> SHIFT) as i8),
        );
        _mm256_sub_epi8(shifted, _mm256_set1_epi8((128 >> SHIFT) as i8))
    }

    /// `(weight * value + 63) >> 7` of signed 16-bit values.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn scale(value: __m256i, weight: i16) -> __m256i {
        let product = _mm256_mullo_epi16(value, _mm256_set1_epi16(weight));
        _mm256_srai_epi16::<7>(_mm256_add_epi16(product, _mm256_set1_epi16(63)))
    }

    /// [`scale`] of signed bytes, given sign-extended as their `low` and `high` halves in
    /// each lane, back in signed bytes (it always fits).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn weighted(low: __m256i, high: __m256i, weight: i16) -> __m256i {
        _mm256_packs_epi16(scale(low, weight), scale(high, weight))
    }

    /// Unsigned pixels as the signed values the filter works on, and back.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn flip_sign(value: __m256i) -> __m256i {
        _mm256_xor_si256(value, _mm256_set1_epi8(-128))
    }

    /// The normal filter across two edges at once (`lanes` p3 p2 p1 p0 q0 q1 q2 q3).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filter<const MACROBLOCK_EDGE: bool>(lanes: &mut [__m256i; 8], limits: &VectorLimits) {
        let [p3, p2, p1, p0, q0, q1, q2, q3] = *lanes;
        let edge_limit = if MACROBLOCK_EDGE {
            limits.macroblock_edge
        } else {
            limits.subblock_edge
        };
        // |p0 - q0| * 2 + |p1 - q1| / 2 saturates at 255, above every edge limit.
        let step_size = absolute_difference(p0, q0);
        let across = _mm256_adds_epu8(
            _mm256_adds_epu8(step_size, step_size),
            _mm256_and_si256(
                _mm256_srli_epi16::<1>(absolute_difference(p1, q1)),
                _mm256_set1_epi8(0x7f),
            ),
        );
        let inner_p = absolute_difference(p1, p0);
        let inner_q = absolute_difference(q1, q0);
        let inner = _mm256_max_epu8(inner_p, inner_q);
        let interior = _mm256_max_epu8(
            _mm256_max_epu8(
                _mm256_max_epu8(absolute_difference(p3, p2), absolute_difference(p2, p1)),
                _mm256_max_epu8(absolute_difference(q2, q1), absolute_difference(q3, q2)),
            ),
            inner,
        );
        let mask = _mm256_and_si256(
            at_most(across, edge_limit),
            at_most(interior, limits.interior),
        );
        let high_variance = _mm256_xor_si256(
            at_most(inner, limits.high_edge_variance),
            _mm256_set1_epi8(-1),
        );
        let (ps2, ps1, ps0) = (flip_sign(p2), flip_sign(p1), flip_sign(p0));
        let (qs0, qs1, qs2) = (flip_sign(q0), flip_sign(q1), flip_sign(q2));
        let step = _mm256_subs_epi8(qs0, ps0);
        let outer = _mm256_subs_epi8(ps1, qs1);
        let outer = if MACROBLOCK_EDGE {
            outer
        } else {
            _mm256_and_si256(outer, high_variance)
        };
        let filter = _mm256_adds_epi8(_mm256_adds_epi8(_mm256_adds_epi8(outer, step), step), step);
        let filter = _mm256_and_si256(filter, mask);
        if MACROBLOCK_EDGE {
            let sharp = _mm256_and_si256(filter, high_variance);
            let filter1 = shift_right_signed::<3>(_mm256_adds_epi8(sharp, _mm256_set1_epi8(4)));
            let filter2 = shift_right_signed::<3>(_mm256_adds_epi8(sharp, _mm256_set1_epi8(3)));
            let qs0 = _mm256_subs_epi8(qs0, filter1);
            let ps0 = _mm256_adds_epi8(ps0, filter2);
            let smooth = _mm256_andnot_si256(high_variance, filter);
            // Sign-extended to 16 bits: each byte in the high half of a 16-bit unit.
            let low = _mm256_srai_epi16::<8>(_mm256_unpacklo_epi8(smooth, smooth));
            let high = _mm256_srai_epi16::<8>(_mm256_unpackhi_epi8(smooth, smooth));
            let a0 = weighted(low, high, 27);
            let a1 = weighted(low, high, 18);
            let a2 = weighted(low, high, 9);
            lanes[1] = flip_sign(_mm256_adds_epi8(ps2, a2));
            lanes[2] = flip_sign(_mm256_adds_epi8(ps1, a1));
            lanes[3] = flip_sign(_mm256_adds_epi8(ps0, a0));
            lanes[4] = flip_sign(_mm256_subs_epi8(qs0, a0));
            lanes[5] = flip_sign(_mm256_subs_epi8(qs1, a1));
            lanes[6] = flip_sign(_mm256_subs_epi8(qs2, a2));
        } else {
            let filter1 = shift_right_signed::<3>(_mm256_adds_epi8(filter, _mm256_set1_epi8(4)));
            let filter2 = shift_right_signed::<3>(_mm256_adds_epi8(filter, _mm256_set1_epi8(3)));
            let adjust = _mm256_andnot_si256(
                high_variance,
                shift_right_signed::<1>(_mm256_adds_epi8(filter1, _mm256_set1_epi8(1))),
            );
            lanes[2] = flip_sign(_mm256_adds_epi8(ps1, adjust));
            lanes[3] = flip_sign(_mm256_adds_epi8(ps0, filter2));
            lanes[4] = flip_sign(_mm256_subs_epi8(qs0, filter1));
            lanes[5] = flip_sign(_mm256_subs_epi8(qs1, adjust));
        }
    }

    /// Filters one edge (the other half of the registers is left over).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filter_one<const MACROBLOCK_EDGE: bool>(lanes: &mut Lanes, limits: &VectorLimits) {
        let mut wide = [_mm256_setzero_si256(); 8];
        for k in 0..8 {
            wide[k] = _mm256_castsi128_si256(lanes[k]);
        }
        filter::<MACROBLOCK_EDGE>(&mut wide, limits);
        for k in 1..7 {
            lanes[k] = _mm256_castsi256_si128(wide[k]);
        }
    }

    /// Filters two independent edges at once.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filter_two<const MACROBLOCK_EDGE: bool>(
        first: &mut Lanes,
        second: &mut Lanes,
        limits: &VectorLimits,
    ) {
        let mut wide = [_mm256_setzero_si256(); 8];
        for k in 0..8 {
            wide[k] = _mm256_inserti128_si256::<1>(_mm256_castsi128_si256(first[k]), second[k]);
        }
        filter::<MACROBLOCK_EDGE>(&mut wide, limits);
        for k in 1..7 {
            first[k] = _mm256_castsi256_si128(wide[k]);
            second[k] = _mm256_extracti128_si256::<1>(wide[k]);
        }
    }

    /// Sixteen rows of eight bytes (in the low halves of `rows`) to eight registers of
    /// sixteen: register `k` holds column `k` of every row.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn rows_to_lanes(rows: &[__m128i; 16]) -> Lanes {
        rows_to_lanes_of_half::<false>(rows)
    }

    /// [`rows_to_lanes`] of the low (or with `HIGH` the high) eight bytes of each row.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn rows_to_lanes_of_half<const HIGH: bool>(rows: &[__m128i; 16]) -> Lanes {
        // Rows 2j and 2j+1 interleaved: 16-bit unit c holds column c of both.
        let mut pairs = [_mm_setzero_si128(); 8];
        for j in 0..8 {
            pairs[j] = if HIGH {
                _mm_unpackhi_epi8(rows[2 * j], rows[2 * j + 1])
            } else {
                _mm_unpacklo_epi8(rows[2 * j], rows[2 * j + 1])
            };
        }
        // Four rows per 32-bit unit, for columns 0-3 (low) and 4-7 (high).
        let mut quads_low = [_mm_setzero_si128(); 4];
        let mut quads_high = [_mm_setzero_si128(); 4];
        for g in 0..4 {
            quads_low[g] = _mm_unpacklo_epi16(pairs[2 * g], pairs[2 * g + 1]);
            quads_high[g] = _mm_unpackhi_epi16(pairs[2 * g], pairs[2 * g + 1]);
        }
        // Eight rows per 64-bit unit: [rows 0-7 | rows 8-15] x column pairs.
        let mut lanes = [_mm_setzero_si128(); 8];
        for (half_columns, quads) in [quads_low, quads_high].into_iter().enumerate() {
            let top_even = _mm_unpacklo_epi32(quads[0], quads[1]);
            let top_odd = _mm_unpackhi_epi32(quads[0], quads[1]);
            let bottom_even = _mm_unpacklo_epi32(quads[2], quads[3]);
            let bottom_odd = _mm_unpackhi_epi32(quads[2], quads[3]);
            let base = 4 * half_columns;
            lanes[base] = _mm_unpacklo_epi64(top_even, bottom_even);
            lanes[base + 1] = _mm_unpackhi_epi64(top_even, bottom_even);
            lanes[base + 2] = _mm_unpacklo_epi64(top_odd, bottom_odd);
            lanes[base + 3] = _mm_unpackhi_epi64(top_odd, bottom_odd);
        }
        lanes
    }

    /// The inverse of [`rows_to_lanes`]: eight registers of sixteen columns to sixteen rows
    /// of eight bytes, two rows per register (row `2r` low, `2r + 1` high).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn lanes_to_rows(lanes: &Lanes) -> [__m128i; 8] {
        // Columns 2j and 2j+1 interleaved: rows 0-7 (low) and 8-15 (high).
        let mut low = [_mm_setzero_si128(); 4];
        let mut high = [_mm_setzero_si128(); 4];
        for j in 0..4 {
            low[j] = _mm_unpacklo_epi8(lanes[2 * j], lanes[2 * j + 1]);
            high[j] = _mm_unpackhi_epi8(lanes[2 * j], lanes[2 * j + 1]);
        }
        let mut rows = [_mm_setzero_si128(); 8];
        for (half, units) in [low, high].into_iter().enumerate() {
            // Columns 0-3 and 4-7 of rows 0-3 and 4-7 (32-bit units per row).
            let left_top = _mm_unpacklo_epi16(units[0], units[1]);
            let left_bottom = _mm_unpackhi_epi16(units[0], units[1]);
            let right_top = _mm_unpacklo_epi16(units[2], units[3]);
            let right_bottom = _mm_unpackhi_epi16(units[2], units[3]);
            rows[4 * half] = _mm_unpacklo_epi32(left_top, right_top);
            rows[4 * half + 1] = _mm_unpackhi_epi32(left_top, right_top);
            rows[4 * half + 2] = _mm_unpacklo_epi32(left_bottom, right_bottom);
            rows[4 * half + 3] = _mm_unpackhi_epi32(left_bottom, right_bottom);
        }
        rows
    }

    /// One edge's sixteen lines in memory: either the lines across a vertical edge (between
    /// columns) or the rows around a horizontal one, the first eight lines from `top` and
    /// the last eight from `bottom` (the two halves of a luma edge, or the U and V edges of
    /// chroma; a horizontal luma edge has its sixteen columns at `top`, and `bottom` unused).
    #[derive(Clone, Copy)]
    struct Edge {
        top: *mut u8,
        bottom: *mut u8,
        stride: usize,
    }

    impl Edge {
        /// The first pixel of the eight read on line `line` of a vertical edge.
        #[inline(always)]
        unsafe fn vertical_line(&self, line: usize) -> *mut u8 {
            let base = if line < 8 { self.top } else { self.bottom };
            base.add((line % 8) * self.stride).sub(4)
        }

        /// Row `k` (0-7, p3 to q3) of a horizontal edge from `base`.
        #[inline(always)]
        unsafe fn horizontal_row(&self, base: *mut u8, k: usize) -> *mut u8 {
            base.add(k * self.stride).sub(4 * self.stride)
        }

        /// Loads a vertical edge (transposed to lanes).
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn load_vertical(&self) -> Lanes {
            let mut rows = [_mm_setzero_si128(); 16];
            for line in 0..16 {
                rows[line] = _mm_loadl_epi64(self.vertical_line(line).cast());
            }
            rows_to_lanes(&rows)
        }

        /// Stores a vertical edge back.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn store_vertical(&self, lanes: &Lanes) {
            let rows = lanes_to_rows(lanes);
            for pair in 0..8 {
                let rows = rows[pair];
                _mm_storel_epi64(self.vertical_line(2 * pair).cast(), rows);
                _mm_storel_epi64(
                    self.vertical_line(2 * pair + 1).cast(),
                    _mm_unpackhi_epi64(rows, rows),
                );
            }
        }

        /// Loads a horizontal edge of sixteen luma columns.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn load_horizontal16(&self) -> Lanes {
            let mut lanes = [_mm_setzero_si128(); 8];
            for k in 0..8 {
                lanes[k] = _mm_loadu_si128(self.horizontal_row(self.top, k).cast());
            }
            lanes
        }

        /// Stores a horizontal edge of sixteen luma columns (the six rows a filter changes).
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn store_horizontal16(&self, lanes: &Lanes) {
            for k in 1..7 {
                _mm_storeu_si128(self.horizontal_row(self.top, k).cast(), lanes[k]);
            }
        }

        /// Loads a horizontal edge of eight columns from `top` and eight from `bottom`.
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn load_horizontal_pair(&self) -> Lanes {
            let mut lanes = [_mm_setzero_si128(); 8];
            for k in 0..8 {
                lanes[k] = _mm_unpacklo_epi64(
                    _mm_loadl_epi64(self.horizontal_row(self.top, k).cast()),
                    _mm_loadl_epi64(self.horizontal_row(self.bottom, k).cast()),
                );
            }
            lanes
        }

        /// Stores what [`Self::load_horizontal_pair`] loaded (the six rows a filter changes).
        #[inline]
        #[target_feature(enable = "avx2")]
        unsafe fn store_horizontal_pair(&self, lanes: &Lanes) {
            for k in 1..7 {
                let lane = lanes[k];
                _mm_storel_epi64(self.horizontal_row(self.top, k).cast(), lane);
                _mm_storel_epi64(
                    self.horizontal_row(self.bottom, k).cast(),
                    _mm_unpackhi_epi64(lane, lane),
                );
            }
        }
    }

    /// The vertical edges of a macroblock with inner edges: the left one (when `left`) and
    /// the inner ones at columns 4, 8 and 12 of the luma block at `block`, filtered in that
    /// order on the block's columns -4 to 15 transposed once, each of the first two together
    /// with the chroma edge of its kind (`chroma_left`, `chroma_inner`).
    ///
    /// # Safety
    /// The CPU must support AVX2; the block's 16 rows from column -4 (0 without `left`) to
    /// 15 and both chroma edges must lie inside their planes (checked by the caller).
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn luma_vertical_edges(
        block: *mut u8,
        stride: usize,
        left: bool,
        chroma_left: Edge,
        chroma_inner: Edge,
        limits: &VectorLimits,
    ) {
        // `columns[k]` holds column `k - 4` of the block's sixteen rows.
        let mut rows = [_mm_setzero_si128(); 16];
        for row in 0..16 {
            rows[row] = _mm_loadu_si128(block.add(row * stride).cast());
        }
        let low = rows_to_lanes_of_half::<false>(&rows);
        let high = rows_to_lanes_of_half::<true>(&rows);
        let mut columns = [_mm_setzero_si128(); 20];
        columns[4..12].copy_from_slice(&low);
        columns[12..].copy_from_slice(&high);
        let left_edge = Edge {
            top: block,
            bottom: block.add(8 * stride),
            stride,
        };
        if left {
            let before = left_edge.load_vertical();
            columns[..4].copy_from_slice(&before[..4]);
            let mut luma = window(&columns, 0);
            let mut chroma = chroma_left.load_vertical();
            filter_two::<true>(&mut luma, &mut chroma, limits);
            columns[..8].copy_from_slice(&luma);
            chroma_left.store_vertical(&chroma);
        }
        let mut luma = window(&columns, 4);
        let mut chroma = chroma_inner.load_vertical();
        filter_two::<false>(&mut luma, &mut chroma, limits);
        columns[4..12].copy_from_slice(&luma);
        chroma_inner.store_vertical(&chroma);
        for start in [8, 12] {
            let mut luma = window(&columns, start);
            filter_one::<false>(&mut luma, limits);
            columns[start..start + 8].copy_from_slice(&luma);
        }
        if left {
            left_edge.store_vertical(&window(&columns, 0));
        }
        let low = lanes_to_rows(&window(&columns, 4));
        let high = lanes_to_rows(&window(&columns, 12));
        for pair in 0..8 {
            let (first, second) = (2 * pair, 2 * pair + 1);
            _mm_storeu_si128(
                block.add(first * stride).cast(),
                _mm_unpacklo_epi64(low[pair], high[pair]),
            );
            _mm_storeu_si128(
                block.add(second * stride).cast(),
                _mm_unpackhi_epi64(low[pair], high[pair]),
            );
        }
    }

    /// Columns -4 (0 without `left`, the first four then unset) to 15 of the sixteen rows of
    /// the luma block at `block`: `columns[k]` holds column `k - 4`.
    ///
    /// # Safety
    /// The CPU must support AVX2; the rows must lie inside their plane.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn load_luma_columns(block: *mut u8, stride: usize, left: bool) -> [__m128i; 20] {
        let mut rows = [_mm_setzero_si128(); 16];
        for row in 0..16 {
            rows[row] = _mm_loadu_si128(block.add(row * stride).cast());
        }
        let mut columns = [_mm_setzero_si128(); 20];
        columns[4..12].copy_from_slice(&rows_to_lanes_of_half::<false>(&rows));
        columns[12..].copy_from_slice(&rows_to_lanes_of_half::<true>(&rows));
        if left {
            let before = left_luma_edge(block, stride).load_vertical();
            columns[..4].copy_from_slice(&before[..4]);
        }
        columns
    }

    /// Stores what [`load_luma_columns`] loaded.
    ///
    /// # Safety
    /// As for [`load_luma_columns`].
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn store_luma_columns(
        block: *mut u8,
        stride: usize,
        left: bool,
        columns: &[__m128i; 20],
    ) {
        if left {
            left_luma_edge(block, stride).store_vertical(&window(columns, 0));
        }
        let low = lanes_to_rows(&window(columns, 4));
        let high = lanes_to_rows(&window(columns, 12));
        for pair in 0..8 {
            let (first, second) = (2 * pair, 2 * pair + 1);
            _mm_storeu_si128(
                block.add(first * stride).cast(),
                _mm_unpacklo_epi64(low[pair], high[pair]),
            );
            _mm_storeu_si128(
                block.add(second * stride).cast(),
                _mm_unpackhi_epi64(low[pair], high[pair]),
            );
        }
    }

    /// The left edge of the luma block at `block`.
    #[inline(always)]
    unsafe fn left_luma_edge(block: *mut u8, stride: usize) -> Edge {
        Edge {
            top: block,
            bottom: block.add(8 * stride),
            stride,
        }
    }

    /// The normal filter on every edge of one macroblock of two luma planes of the same
    /// stride, the first plane's edges in the low half of each vector and the second's in the
    /// high half (see [`VectorLimits::pair`]), each in libvpx's order (left edge, inner
    /// vertical edges, top edge, inner horizontal edges).
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn filter_luma_pair_macroblock(
        first: &mut [u8],
        second: &mut [u8],
        stride: usize,
        mb_x: usize,
        mb_y: usize,
        limits: &VectorLimits,
        inner: bool,
    ) {
        let (left, top) = (mb_x > 0, mb_y > 0);
        let origin = mb_y * 16 * stride + mb_x * 16;
        check_region(first.len(), origin, stride, 16, left, top);
        check_region(second.len(), origin, stride, 16, left, top);
        let blocks = [
            first.as_mut_ptr().add(origin),
            second.as_mut_ptr().add(origin),
        ];
        let horizontal = |offset: usize| {
            blocks.map(|block| Edge {
                top: block.add(offset * stride),
                bottom: block,
                stride,
            })
        };

        if inner {
            // All four vertical edges on each block transposed once.
            let [mut first_columns, mut second_columns] =
                blocks.map(|block| load_luma_columns(block, stride, left));
            let starts: &[usize] = if left { &[0, 4, 8, 12] } else { &[4, 8, 12] };
            for &start in starts {
                let mut first_lanes = window(&first_columns, start);
                let mut second_lanes = window(&second_columns, start);
                if start == 0 {
                    filter_two::<true>(&mut first_lanes, &mut second_lanes, limits);
                } else {
                    filter_two::<false>(&mut first_lanes, &mut second_lanes, limits);
                }
                first_columns[start..start + 8].copy_from_slice(&first_lanes);
                second_columns[start..start + 8].copy_from_slice(&second_lanes);
            }
            store_luma_columns(blocks[0], stride, left, &first_columns);
            store_luma_columns(blocks[1], stride, left, &second_columns);
        } else if left {
            let edges = blocks.map(|block| left_luma_edge(block, stride));
            let (mut first_lanes, mut second_lanes) =
                (edges[0].load_vertical(), edges[1].load_vertical());
            filter_two::<true>(&mut first_lanes, &mut second_lanes, limits);
            edges[0].store_vertical(&first_lanes);
            edges[1].store_vertical(&second_lanes);
        }
        let horizontal_offsets: &[usize] = match (top, inner) {
            (true, true) => &[0, 4, 8, 12],
            (true, false) => &[0],
            (false, true) => &[4, 8, 12],
            (false, false) => &[],
        };
        for &offset in horizontal_offsets {
            let edges = horizontal(offset);
            let (mut first_lanes, mut second_lanes) =
                (edges[0].load_horizontal16(), edges[1].load_horizontal16());
            if offset == 0 {
                filter_two::<true>(&mut first_lanes, &mut second_lanes, limits);
            } else {
                filter_two::<false>(&mut first_lanes, &mut second_lanes, limits);
            }
            edges[0].store_horizontal16(&first_lanes);
            edges[1].store_horizontal16(&second_lanes);
        }
    }

    /// The eight columns from `start` of `columns`.
    #[inline(always)]
    fn window(columns: &[__m128i; 20], start: usize) -> Lanes {
        let mut lanes = [columns[0]; 8];
        lanes.copy_from_slice(&columns[start..start + 8]);
        lanes
    }

    /// Checks that a macroblock's edges stay in its plane: from four rows above (with a top
    /// edge) and four columns left (with a left edge) of its `size`-pixel block at `origin`
    /// to the block's last pixel.
    fn check_region(
        length: usize,
        origin: usize,
        stride: usize,
        size: usize,
        left: bool,
        top: bool,
    ) {
        let before = if top { 4 * stride } else { 0 } + if left { 4 } else { 0 };
        assert!(
            origin >= before && origin + (size - 1) * stride + size <= length,
            "loop-filter macroblock outside its plane"
        );
    }

    /// The normal filter on every edge of one macroblock, in libvpx's order per plane (left
    /// edge, inner vertical edges, top edge, inner horizontal edges); each chroma edge (both
    /// planes, which share a stride) is filtered together with the first luma edge of its
    /// kind.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[allow(clippy::too_many_arguments)]
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn filter_macroblock(
        luma: &mut [u8],
        luma_stride: usize,
        u: &mut [u8],
        v: &mut [u8],
        chroma_stride: usize,
        mb_x: usize,
        mb_y: usize,
        limits: &VectorLimits,
        inner: bool,
    ) {
        let (left, top) = (mb_x > 0, mb_y > 0);
        let luma_origin = mb_y * 16 * luma_stride + mb_x * 16;
        check_region(luma.len(), luma_origin, luma_stride, 16, left, top);
        let chroma_origin = mb_y * 8 * chroma_stride + mb_x * 8;
        check_region(u.len(), chroma_origin, chroma_stride, 8, left, top);
        check_region(v.len(), chroma_origin, chroma_stride, 8, left, top);
        let block = luma.as_mut_ptr().add(luma_origin);
        let (u, v) = (
            u.as_mut_ptr().add(chroma_origin),
            v.as_mut_ptr().add(chroma_origin),
        );
        let (stride, chroma_stride) = (luma_stride, chroma_stride);
        let luma_edge = |offset: usize, bottom_offset: usize| Edge {
            top: block.add(offset),
            bottom: block.add(offset + bottom_offset),
            stride,
        };
        let chroma_edge = |offset: usize| Edge {
            top: u.add(offset),
            bottom: v.add(offset),
            stride: chroma_stride,
        };

        if inner {
            // All four vertical luma edges on the macroblock transposed once.
            luma_vertical_edges(block, stride, left, chroma_edge(0), chroma_edge(4), limits);
        } else if left {
            let (luma_edge, chroma_edge) = (luma_edge(0, 8 * stride), chroma_edge(0));
            let (mut luma, mut chroma) = (luma_edge.load_vertical(), chroma_edge.load_vertical());
            filter_two::<true>(&mut luma, &mut chroma, limits);
            luma_edge.store_vertical(&luma);
            chroma_edge.store_vertical(&chroma);
        }
        if top {
            let (luma_edge, chroma_edge) = (luma_edge(0, 0), chroma_edge(0));
            let mut luma = luma_edge.load_horizontal16();
            let mut chroma = chroma_edge.load_horizontal_pair();
            filter_two::<true>(&mut luma, &mut chroma, limits);
            luma_edge.store_horizontal16(&luma);
            chroma_edge.store_horizontal_pair(&chroma);
        }
        if inner {
            let first = luma_edge(4 * stride, 0);
            let chroma_edge = chroma_edge(4 * chroma_stride);
            let mut luma = first.load_horizontal16();
            let mut chroma = chroma_edge.load_horizontal_pair();
            filter_two::<false>(&mut luma, &mut chroma, limits);
            first.store_horizontal16(&luma);
            chroma_edge.store_horizontal_pair(&chroma);
            for offset in [8, 12] {
                let edge = luma_edge(offset * stride, 0);
                let mut luma = edge.load_horizontal16();
                filter_one::<false>(&mut luma, limits);
                edge.store_horizontal16(&luma);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::modes::MacroblockMode;
    use crate::picture::Plane;

    fn noise(width: usize, height: usize, seed: u64) -> Plane {
        let mut state = seed;
        let data = (0..width * height)
            .map(|_| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                // Smooth-ish values so that filters engage.
                100 + (state >> 60) as u8
            })
            .collect();
        Plane {
            width,
            height,
            stride: width,
            data,
        }
    }

    /// A header for a 48x32 frame, taken from a minimal key frame's parse.
    fn header() -> FrameHeader {
        // Key frame tag, start code, 48x32, then a first partition of zero bytes.
        let mut frame = vec![0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 48, 0, 32, 0];
        let first_partition_size = 64usize;
        let tag = (first_partition_size << 5) as u32 | 0x10;
        frame[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
        frame.extend(std::iter::repeat_n(0u8, first_partition_size + 16));
        crate::header::parse_frame(&crate::state::DecoderState::new(), &frame)
            .expect("minimal key frame parses")
            .header
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn sse2_transposes_match_the_portable_ones() {
        let mut state = 12345u64;
        let mut rows = [0u64; 16];
        for row in rows.iter_mut() {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            *row = state;
        }
        // Portable: two 8x8 transposes.
        let mut expected = [[0u8; 16]; 8];
        for half in 0..2 {
            let mut words: [u64; 8] = rows[half * 8..half * 8 + 8].try_into().unwrap();
            transpose_bytes(&mut words);
            for (lane, word) in expected.iter_mut().zip(words) {
                lane[half * 8..half * 8 + 8].copy_from_slice(&word.to_le_bytes());
            }
        }
        // SAFETY: SSE2 is part of the x86_64 baseline.
        let lanes = unsafe { sse2::rows_to_lanes(&rows) };
        assert_eq!(lanes, expected);
        // SAFETY: as above.
        assert_eq!(unsafe { sse2::lanes_to_rows(&lanes) }, rows);
    }

    /// A plane of 4x4 blocks with random levels (steps of up to `step` between blocks) and
    /// noise of up to `noise` within them, rows `stride` apart.
    fn blocky(width: usize, height: usize, stride: usize, step: u8, noise: u8, seed: u64) -> Plane {
        let mut state = seed;
        let mut random = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let levels: Vec<u8> = (0..(width / 4) * (height / 4))
            .map(|_| {
                128u8
                    .wrapping_add((random() % (u64::from(step) + 1)) as u8 / 2 * 2)
                    .wrapping_sub(step / 2)
            })
            .collect();
        let mut data = vec![0u8; stride * height];
        for y in 0..height {
            for x in 0..width {
                let level = levels[(y / 4) * (width / 4) + x / 4];
                let jitter = (random() % (u64::from(noise) + 1)) as u8;
                data[y * stride + x] = level.saturating_add(jitter).saturating_sub(noise / 2);
            }
        }
        Plane {
            width,
            height,
            stride,
            data,
        }
    }

    #[test]
    fn vector_normal_filter_matches_portable_over_levels_and_contents() {
        let mut header = header();
        // The 48x32 header's macroblock grid, with varied modes and inner-edge flags.
        let infos: Vec<MacroblockInfo> = (0..6)
            .map(|index| MacroblockInfo {
                mode: [
                    MacroblockMode::Subblocks,
                    MacroblockMode::Dc,
                    MacroblockMode::Zero,
                    MacroblockMode::Split,
                ][index % 4],
                ..MacroblockInfo::default()
            })
            .collect();
        header.filter_type = LoopFilterType::Normal;
        let mut changed = 0;
        let mut seed = 1;
        for level in 1..=63u8 {
            for sharpness in [0u8, 1, 4, 5, 7] {
                for key_frame in [false, true] {
                    for (step, noise) in [(0u8, 6u8), (16, 4), (60, 10), (255, 2), (255, 255)] {
                        seed += 1;
                        header.filter_level = level;
                        header.sharpness = sharpness;
                        header.key_frame = key_frame;
                        let picture = Picture {
                            y: blocky(48, 32, 56, step, noise, seed),
                            u: blocky(24, 16, 40, step, noise, seed * 3),
                            v: blocky(24, 16, 40, step, noise, seed * 7),
                        };
                        let inner: Vec<bool> =
                            (0..6).map(|index| (index + seed) % 3 != 0).collect();
                        let mut portable = picture.clone();
                        filter_frame_body::<false>(&mut portable, &header, &infos, &inner);
                        let mut dispatched = picture.clone();
                        filter_frame(&mut dispatched, &header, &infos, &inner);
                        assert_eq!(
                            portable, dispatched,
                            "level {level} sharpness {sharpness} key {key_frame} step {step} noise {noise}"
                        );
                        changed += usize::from(portable != picture);
                    }
                }
            }
        }
        assert!(changed > 2500, "{changed}");
    }

    #[test]
    fn luma_only_filters_give_the_frame_filter_luma() {
        let mut headers = [header(), header()];
        let infos: Vec<MacroblockInfo> = (0..6)
            .map(|index| MacroblockInfo {
                mode: [
                    MacroblockMode::Subblocks,
                    MacroblockMode::Dc,
                    MacroblockMode::Zero,
                    MacroblockMode::Split,
                ][index % 4],
                ..MacroblockInfo::default()
            })
            .collect();
        let mut seed = 11;
        let mut changed = 0;
        for filter_type in [LoopFilterType::Normal, LoopFilterType::Simple] {
            for levels in [
                [0u8, 0],
                [0, 9],
                [17, 0],
                [1, 2],
                [20, 36],
                [44, 63],
                [63, 40],
            ] {
                for (sharpness, key_frame) in [(0u8, false), (3, true), (6, false)] {
                    for (step, noise) in [(16u8, 4u8), (60, 10), (255, 255)] {
                        seed += 1;
                        for (header, level) in headers.iter_mut().zip(levels) {
                            header.filter_type = filter_type;
                            header.filter_level = level;
                            header.sharpness = sharpness;
                            header.key_frame = key_frame;
                        }
                        let inner: Vec<bool> =
                            (0..6).map(|index| (index + seed) % 3 != 0).collect();
                        let pictures = [seed, seed * 5].map(|picture_seed| Picture {
                            y: blocky(48, 32, 56, step, noise, picture_seed),
                            u: blocky(24, 16, 40, step, noise, picture_seed * 3),
                            v: blocky(24, 16, 40, step, noise, picture_seed * 7),
                        });
                        let expected = [0, 1].map(|which| {
                            let mut frame = pictures[which].clone();
                            filter_frame(&mut frame, &headers[which], &infos, &inner);
                            frame.y
                        });
                        let [mut first, mut second] = pictures.clone().map(|picture| picture.y);
                        filter_luma_pair(
                            &mut first,
                            &mut second,
                            [&headers[0], &headers[1]],
                            &infos,
                            &inner,
                        );
                        let context = format!(
                            "{filter_type:?} levels {levels:?} sharpness {sharpness} step {step}"
                        );
                        assert_eq!([&first, &second], [&expected[0], &expected[1]], "{context}");
                        for which in 0..2 {
                            let mut single = pictures[which].y.clone();
                            filter_luma(&mut single, &headers[which], &infos, &inner);
                            assert_eq!(single, expected[which], "{context}");
                            changed += usize::from(single != pictures[which].y);
                        }
                    }
                }
            }
        }
        assert!(changed > 150, "{changed}");
    }

    #[test]
    fn portable_and_avx2_paths_agree() {
        let mut header = header();
        let infos: Vec<MacroblockInfo> = (0..6)
            .map(|index| MacroblockInfo {
                mode: if index % 2 == 0 {
                    MacroblockMode::Subblocks
                } else {
                    MacroblockMode::Dc
                },
                ..MacroblockInfo::default()
            })
            .collect();
        let inner = [true, false, true, true, false, true];
        for filter_type in [LoopFilterType::Normal, LoopFilterType::Simple] {
            for (level, sharpness) in [(8, 0), (20, 3), (45, 6), (63, 7)] {
                header.filter_type = filter_type;
                header.filter_level = level;
                header.sharpness = sharpness;
                let picture = Picture {
                    y: noise(48, 32, u64::from(level)),
                    u: noise(24, 16, 5),
                    v: noise(24, 16, 9),
                };
                let mut portable = picture.clone();
                filter_frame_body::<false>(&mut portable, &header, &infos, &inner);
                let mut dispatched = picture.clone();
                filter_frame(&mut dispatched, &header, &infos, &inner);
                assert_eq!(portable, dispatched, "{filter_type:?} level {level}");
                assert_ne!(portable, picture, "the filter changed nothing");
            }
        }
    }
}
