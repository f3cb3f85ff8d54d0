//! Motion search: whole-pixel search on a padded reference, then sub-pixel refinement.
//!
//! The whole-pixel stage works on a copy of the reference luma plane extended by
//! [`PaddedPlane::BORDER`] pixels on every side (edge pixels repeated, as VP8 does for vectors
//! pointing outside the frame), so sums of absolute differences need no bounds checks. Costs are
//! distortion plus `lambda` times an estimate of the vector's bits.
//!
//! [`SearchPlanes`] add the three half-pixel phases of that padded plane, made once per
//! reference picture (it keeps them), so half-pixel candidates cost one sum of absolute
//! differences too; quarter-pixel candidates use the decoder's own prediction.

/// A luma plane copied with a repeated-edge border so blocks may hang over the frame's edges.
#[derive(Debug, Clone)]
pub struct PaddedPlane {
    data: Vec<u8>,
    stride: usize,
    width: usize,
    height: usize,
}

impl PaddedPlane {
    /// Border width on every side, in pixels.
    pub const BORDER: usize = 48;

    /// Copies a `width` x `height` plane (rows `stride` apart) and extends its edges.
    pub fn new(data: &[u8], stride: usize, width: usize, height: usize) -> Self {
        let border = Self::BORDER;
        let padded_stride = width + 2 * border;
        let padded_height = height + 2 * border;
        // Built by appending, so the plane is never zero-filled first.
        let mut padded = Vec::with_capacity(padded_stride * padded_height);
        for padded_row in 0..padded_height {
            let source_row = padded_row.saturating_sub(border).min(height - 1);
            let source = &data[source_row * stride..source_row * stride + width];
            padded.resize(padded.len() + border, source[0]);
            padded.extend_from_slice(source);
            padded.resize(padded.len() + border, source[width - 1]);
        }
        PaddedPlane {
            data: padded,
            stride: padded_stride,
            width,
            height,
        }
    }

    /// An empty plane with this plane's geometry, for struct-update syntax.
    fn clone_geometry(&self) -> Self {
        PaddedPlane {
            data: Vec::new(),
            stride: self.stride,
            width: self.width,
            height: self.height,
        }
    }

    /// Width of the original plane.
    pub fn width(&self) -> usize {
        self.width
    }

    /// Height of the original plane.
    pub fn height(&self) -> usize {
        self.height
    }

    /// Distance between rows of [`PaddedPlane::block`].
    pub fn stride(&self) -> usize {
        self.stride
    }

    /// The pixels from (`x`, `y`) on (frame coordinates, may be negative down to `-BORDER`).
    #[inline]
    pub fn block(&self, x: isize, y: isize) -> &[u8] {
        let border = Self::BORDER as isize;
        let offset = (y + border) as usize * self.stride + (x + border) as usize;
        &self.data[offset..]
    }

    /// Whether a `size` x `size` block at (`x`, `y`) lies inside the padded area.
    #[inline]
    pub fn holds(&self, x: isize, y: isize, size: usize) -> bool {
        let border = Self::BORDER as isize;
        x >= -border
            && y >= -border
            && x + size as isize <= self.width as isize + border
            && y + size as isize <= self.height as isize + border
    }
}

/// Sum of absolute differences of two 16x16 blocks with SSE2 (part of every x86-64 CPU): one
/// `psadbw` per row, the sums kept in a vector until the end.
#[cfg(target_arch = "x86_64")]
#[inline]
fn sad_16x16_sse2(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_cvtsi128_si64, _mm_loadu_si128, _mm_sad_epu8,
        _mm_setzero_si128, _mm_unpackhi_epi64,
    };
    // One bounds check for the whole block: the last row ends inside both slices.
    let a = &a[..15 * a_stride + 16];
    let b = &b[..15 * b_stride + 16];
    // SAFETY: SSE2 is part of the x86-64 baseline, so these intrinsics exist on every CPU this
    // code runs on. Row `row` starts at `row * stride` and its 16 bytes end at or before
    // `15 * stride + 16`, the length both slices were just cut to, so every load stays inside
    // them; unaligned loads accept any address.
    unsafe {
        let mut sums = _mm_setzero_si128();
        for row in 0..16 {
            let a_pixels = _mm_loadu_si128(a.as_ptr().add(row * a_stride).cast::<__m128i>());
            let b_pixels = _mm_loadu_si128(b.as_ptr().add(row * b_stride).cast::<__m128i>());
            sums = _mm_add_epi64(sums, _mm_sad_epu8(a_pixels, b_pixels));
        }
        (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as u32
    }
}

/// Sum of absolute differences of two 8x8 blocks with SSE2: two rows per `psadbw`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn sad_8x8_sse2(a: &[u8], a_stride: usize, b: &[u8], b_stride: usize) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi64, _mm_cvtsi128_si64, _mm_loadl_epi64, _mm_sad_epu8,
        _mm_setzero_si128, _mm_unpackhi_epi64, _mm_unpacklo_epi64,
    };
    // One bounds check for the whole block: the last row ends inside both slices.
    let a = &a[..7 * a_stride + 8];
    let b = &b[..7 * b_stride + 8];
    // SAFETY: SSE2 is part of the x86-64 baseline. Row `row` starts at `row * stride` and its
    // 8 bytes end at or before `7 * stride + 8`, the length both slices were just cut to, so
    // every load stays inside them; these loads accept any address.
    unsafe {
        let load = |plane: &[u8], stride: usize, row: usize| {
            _mm_loadl_epi64(plane.as_ptr().add(row * stride).cast::<__m128i>())
        };
        let mut sums = _mm_setzero_si128();
        for row in (0..8).step_by(2) {
            let a_rows = _mm_unpacklo_epi64(load(a, a_stride, row), load(a, a_stride, row + 1));
            let b_rows = _mm_unpacklo_epi64(load(b, b_stride, row), load(b, b_stride, row + 1));
            sums = _mm_add_epi64(sums, _mm_sad_epu8(a_rows, b_rows));
        }
        (_mm_cvtsi128_si64(sums) + _mm_cvtsi128_si64(_mm_unpackhi_epi64(sums, sums))) as u32
    }
}

/// Sum of absolute differences of two `width` x `height` blocks.
#[inline]
pub fn sad(
    a: &[u8],
    a_stride: usize,
    b: &[u8],
    b_stride: usize,
    width: usize,
    height: usize,
) -> u32 {
    #[cfg(target_arch = "x86_64")]
    if width == 16 && height == 16 {
        return sad_16x16_sse2(a, a_stride, b, b_stride);
    }
    #[cfg(target_arch = "x86_64")]
    if width == 8 && height == 8 {
        return sad_8x8_sse2(a, a_stride, b, b_stride);
    }
    if width == 16 {
        // The common case, with fixed-size rows the compiler unrolls and vectorises.
        let mut total = 0u32;
        for row in 0..height {
            let a_row: &[u8; 16] = a[row * a_stride..row * a_stride + 16]
                .try_into()
                .expect("16 pixels");
            let b_row: &[u8; 16] = b[row * b_stride..row * b_stride + 16]
                .try_into()
                .expect("16 pixels");
            let mut row_total = 0u16;
            for column in 0..16 {
                row_total += u16::from(a_row[column].abs_diff(b_row[column]));
            }
            total += u32::from(row_total);
        }
        return total;
    }
    let mut total = 0u32;
    for row in 0..height {
        let a_row = &a[row * a_stride..row * a_stride + width];
        let b_row = &b[row * b_stride..row * b_stride + width];
        total += a_row
            .iter()
            .zip(b_row)
            .map(|(&x, &y)| u32::from(x.abs_diff(y)))
            .sum::<u32>();
    }
    total
}

/// Sum of squared differences of two equally long runs of pixels (a multiple of 16, at most
/// 65536 so the 32-bit lanes cannot overflow) with SSE2: differences widened to 16 bits,
/// squared and summed in pairs by `pmaddwd`.
#[cfg(target_arch = "x86_64")]
#[inline]
fn sse_packed_sse2(a: &[u8], b: &[u8]) -> u32 {
    use std::arch::x86_64::{
        __m128i, _mm_add_epi32, _mm_cvtsi128_si32, _mm_loadu_si128, _mm_madd_epi16,
        _mm_setzero_si128, _mm_shuffle_epi32, _mm_sub_epi16, _mm_unpackhi_epi8, _mm_unpacklo_epi8,
    };
    assert!(a.len() == b.len() && a.len() % 16 == 0 && a.len() <= 65536);
    // SAFETY: SSE2 is part of the x86-64 baseline; each load reads the 16 bytes of one
    // `chunks_exact(16)` chunk, and unaligned loads accept any address.
    unsafe {
        let zero = _mm_setzero_si128();
        let mut sums = zero;
        for (a_chunk, b_chunk) in a.chunks_exact(16).zip(b.chunks_exact(16)) {
            let a_pixels = _mm_loadu_si128(a_chunk.as_ptr().cast::<__m128i>());
            let b_pixels = _mm_loadu_si128(b_chunk.as_ptr().cast::<__m128i>());
            let low = _mm_sub_epi16(
                _mm_unpacklo_epi8(a_pixels, zero),
                _mm_unpacklo_epi8(b_pixels, zero),
            );
            let high = _mm_sub_epi16(
                _mm_unpackhi_epi8(a_pixels, zero),
                _mm_unpackhi_epi8(b_pixels, zero),
            );
            sums = _mm_add_epi32(sums, _mm_madd_epi16(low, low));
            sums = _mm_add_epi32(sums, _mm_madd_epi16(high, high));
        }
        let pairs = _mm_add_epi32(sums, _mm_shuffle_epi32::<0b01_00_11_10>(sums));
        let total = _mm_add_epi32(pairs, _mm_shuffle_epi32::<0b10_11_00_01>(pairs));
        _mm_cvtsi128_si32(total) as u32
    }
}

/// Sum of squared differences of two `width` x `height` blocks.
#[inline]
pub fn sse(
    a: &[u8],
    a_stride: usize,
    b: &[u8],
    b_stride: usize,
    width: usize,
    height: usize,
) -> u32 {
    if a_stride == width && b_stride == width {
        let length = width * height;
        #[cfg(target_arch = "x86_64")]
        if length % 16 == 0 {
            return sse_packed_sse2(&a[..length], &b[..length]);
        }
        // Packed blocks: one long run the compiler vectorises.
        return a[..length]
            .iter()
            .zip(&b[..length])
            .map(|(&x, &y)| {
                let difference = i32::from(x.abs_diff(y));
                (difference * difference) as u32
            })
            .sum();
    }
    let mut total = 0u32;
    for row in 0..height {
        let a_row = &a[row * a_stride..row * a_stride + width];
        let b_row = &b[row * b_stride..row * b_stride + width];
        total += a_row
            .iter()
            .zip(b_row)
            .map(|(&x, &y)| {
                let difference = x as i32 - y as i32;
                (difference * difference) as u32
            })
            .sum::<u32>();
    }
    total
}

/// Mean absolute error per pixel above which [`full_pixel_search`] looks further than the
/// neighbourhood of its candidates.
const WIDE_SEARCH_MEAN_ERROR: usize = 8;

/// Largest whole-pixel distance [`full_pixel_search`] moves from the block's position.
pub const MAX_SEARCH_RANGE: isize = 24;
/// Words of the search's visited-point bitmap.
const VISITED_WORDS: usize =
    ((2 * MAX_SEARCH_RANGE + 1) * (2 * MAX_SEARCH_RANGE + 1)) as usize / 64 + 1;

const LARGE_DIAMOND: [(isize, isize); 8] = [
    (0, -2),
    (1, -1),
    (2, 0),
    (1, 1),
    (0, 2),
    (-1, 1),
    (-2, 0),
    (-1, -1),
];
const SMALL_DIAMOND: [(isize, isize); 4] = [(0, -1), (1, 0), (0, 1), (-1, 0)];

/// Whole-pixel search of a square `size`-pixel block: starts from each candidate (whole-pixel positions in
/// pixels), descends a large then a small diamond, and returns the best (vector in whole pixels,
/// cost). `cost_of_vector` gives the rate term, already scaled to distortion units.
#[allow(clippy::too_many_arguments)]
pub fn full_pixel_search(
    source: &[u8],
    source_stride: usize,
    reference: &PaddedPlane,
    block_x: isize,
    block_y: isize,
    size: usize,
    candidates: &[(isize, isize)],
    range: isize,
    cost_of_vector: &dyn Fn(isize, isize) -> u32,
) -> ((isize, isize), u32) {
    let range = range.clamp(0, MAX_SEARCH_RANGE);
    let allowed = |dx: isize, dy: isize| {
        dx.abs() <= range && dy.abs() <= range && reference.holds(block_x + dx, block_y + dy, size)
    };
    // Points already scored, one bit each on the (2 * range + 1)^2 window: the descents
    // revisit their centres and each other's points.
    let side = (2 * range + 1) as usize;
    let visited = std::cell::RefCell::new([0u64; VISITED_WORDS]);
    let evaluate = |dx: isize, dy: isize| -> u32 {
        let index = (dy + range) as usize * side + (dx + range) as usize;
        let (word, bit) = (index / 64, 1u64 << (index % 64));
        let mut bits = visited.borrow_mut();
        if bits[word] & bit != 0 {
            return u32::MAX;
        }
        bits[word] |= bit;
        let block = reference.block(block_x + dx, block_y + dy);
        sad(source, source_stride, block, reference.stride(), size, size) + cost_of_vector(dx, dy)
    };

    let mut best = (0isize, 0isize);
    let mut best_cost = evaluate(0, 0);
    for &(dx, dy) in candidates {
        if (dx, dy) != best && allowed(dx, dy) {
            let cost = evaluate(dx, dy);
            if cost < best_cost {
                best = (dx, dy);
                best_cost = cost;
            }
        }
    }

    // One pass of `pattern` (offsets times `step`) around the best so far; true when it moved.
    let search_around = |best: &mut (isize, isize),
                         best_cost: &mut u32,
                         pattern: &[(isize, isize)],
                         step: isize| {
        let center = *best;
        for &(ox, oy) in pattern {
            let (dx, dy) = (center.0 + ox * step, center.1 + oy * step);
            if allowed(dx, dy) {
                let cost = evaluate(dx, dy);
                if cost < *best_cost {
                    *best = (dx, dy);
                    *best_cost = cost;
                }
            }
        }
        *best != center
    };
    // Descend a large then a small diamond from the best candidate: motion mostly continues
    // what the neighbours did, so a nearby minimum is usually the one.
    let descend = |best: &mut (isize, isize), best_cost: &mut u32| {
        for pattern in [&LARGE_DIAMOND[..], &SMALL_DIAMOND[..]] {
            for _ in 0..16 {
                if !search_around(best, best_cost, pattern, 1) {
                    break;
                }
            }
        }
    };
    descend(&mut best, &mut best_cost);
    let wide_threshold = (WIDE_SEARCH_MEAN_ERROR * size * size) as u32;
    if best_cost > wide_threshold {
        // Still poor: cover ground with coarse steps (new motion, a cut), then descend again.
        for step in [8isize, 4, 2] {
            while search_around(&mut best, &mut best_cost, &SMALL_DIAMOND, step) {}
        }
        descend(&mut best, &mut best_cost);
    }
    (best, best_cost)
}

/// A reference's luma prepared for motion search: the padded plane and the same padded area
/// interpolated at the three half-pixel phases with VP8's six-tap filter.
///
/// Whole- and half-pixel positions then cost one sum of absolute differences, exactly what the
/// decoder's prediction would give inside the padded area. Quarter-pixel positions still need
/// the decoder's six-tap prediction (estimates of them cost more quality than they save time),
/// but one whose horizontal part is a whole or half pixel takes a single vertical pass over the
/// plane of that phase ([`SearchPlanes::predict_vertical_quarter`]). A reference
/// frame computes these once, on first use, and keeps them
/// for every encode that predicts from it (see [`crate::state::ReferenceFrame::search_planes`]).
/// The half-pixel phases are only filtered when a half-pixel vector is first asked for:
/// whole-pixel searches never pay for them.
pub struct SearchPlanes {
    whole: PaddedPlane,
    /// The horizontal, vertical and diagonal half phases, once made.
    half_phases: std::sync::OnceLock<[PaddedPlane; 3]>,
}

impl std::fmt::Debug for SearchPlanes {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("SearchPlanes")
            .field("width", &self.whole.width)
            .field("height", &self.whole.height)
            .finish()
    }
}

/// The half-pixel six-tap filter (3, -16, 77, 77, -16, 3) of pixels `a` to `f`, rounded and
/// clamped like the decoder's: the positive and negative parts stay within 16 bits.
#[inline(always)]
fn half_pixel_tap(a: u8, b: u8, c: u8, d: u8, e: u8, f: u8) -> u8 {
    let positive = 64 + 3 * (u16::from(a) + u16::from(f)) + 77 * (u16::from(c) + u16::from(d));
    let negative = 16 * (u16::from(b) + u16::from(e));
    (positive.saturating_sub(negative) >> 7).min(255) as u8
}

/// Output pixel `i` from the six tap inputs `taps[k][i]`, for a whole row at once.
#[inline(always)]
fn combine_half_pixel_taps(taps: [&[u8]; 6], output: &mut [u8]) {
    for (index, value) in output.iter_mut().enumerate() {
        *value = half_pixel_tap(
            taps[0][index],
            taps[1][index],
            taps[2][index],
            taps[3][index],
            taps[4][index],
            taps[5][index],
        );
    }
}

/// Filters `source` along rows: output pixel `i` of a row lies halfway between `source[i]`
/// and `source[i + 1]`. The two first and three last columns, which lack taps, copy the source.
/// Rows are built in a small buffer and appended, so the large output is never zero-filled.
#[inline(always)]
fn filter_rows(source: &[u8], stride: usize) -> Vec<u8> {
    let mut out = Vec::with_capacity(source.len());
    let mut output = vec![0u8; stride];
    for input in source.chunks_exact(stride) {
        output[..2].copy_from_slice(&input[..2]);
        output[stride - 3..].copy_from_slice(&input[stride - 3..]);
        let count = stride - 5;
        let taps = [
            &input[..count],
            &input[1..1 + count],
            &input[2..2 + count],
            &input[3..3 + count],
            &input[4..4 + count],
            &input[5..5 + count],
        ];
        combine_half_pixel_taps(taps, &mut output[2..2 + count]);
        out.extend_from_slice(&output);
    }
    out
}

/// Filters `source` down columns: output row `r` lies halfway between rows `r` and `r + 1`.
/// The two first and three last rows copy the source.
#[inline(always)]
fn filter_columns(source: &[u8], stride: usize) -> Vec<u8> {
    let rows = source.len() / stride;
    let mut out = Vec::with_capacity(source.len());
    out.extend_from_slice(&source[..2 * stride]);
    let mut output = vec![0u8; stride];
    for row in 2..rows - 3 {
        let line = |offset: usize| &source[(row + offset - 2) * stride..][..stride];
        let taps = [line(0), line(1), line(2), line(3), line(4), line(5)];
        combine_half_pixel_taps(taps, &mut output);
        out.extend_from_slice(&output);
    }
    out.extend_from_slice(&source[(rows - 3) * stride..]);
    out
}

/// The three half-pixel phases of a padded plane: horizontal, vertical, both.
#[inline(always)]
fn half_pixel_phases(whole: &[u8], stride: usize) -> [Vec<u8>; 3] {
    let horizontal = filter_rows(whole, stride);
    let vertical = filter_columns(whole, stride);
    // VP8 filters rows first, then columns of the filtered rows.
    let both = filter_columns(&horizontal, stride);
    [horizontal, vertical, both]
}

/// AVX2 versions of [`filter_rows`] and [`filter_columns`]: sixteen outputs per step, the taps
/// widened to 16 bits and combined exactly like [`half_pixel_tap`] (unsigned saturating
/// subtraction of the negative part, shift, pack with unsigned saturation), writing straight
/// into the outputs' spare capacity so the large planes are never zero-filled first.
#[cfg(target_arch = "x86_64")]
mod half_pixel_avx2 {
    use std::arch::x86_64::{
        __m128i, __m256i, _mm256_add_epi16, _mm256_castsi256_si128, _mm256_cvtepu8_epi16,
        _mm256_extracti128_si256, _mm256_mullo_epi16, _mm256_set1_epi16, _mm256_slli_epi16,
        _mm256_srli_epi16, _mm256_subs_epu16, _mm_loadu_si128, _mm_packus_epi16, _mm_storeu_si128,
    };

    /// The half-pixel tap of sixteen pixels, each `taps[k]` pointing at 16 readable bytes.
    ///
    /// # Safety
    /// The CPU must support AVX2 and each pointer must have 16 readable bytes.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn tap16(taps: [*const u8; 6]) -> __m128i {
        // SAFETY: the caller guarantees AVX2 and 16 readable bytes behind every pointer;
        // unaligned loads accept any address.
        unsafe {
            let load = |pointer: *const u8| {
                _mm256_cvtepu8_epi16(_mm_loadu_si128(pointer.cast::<__m128i>()))
            };
            let outer = _mm256_add_epi16(load(taps[0]), load(taps[5]));
            let inner = _mm256_add_epi16(load(taps[2]), load(taps[3]));
            let negative = _mm256_slli_epi16::<4>(_mm256_add_epi16(load(taps[1]), load(taps[4])));
            // At most 64 + 3 * 510 + 77 * 510 = 40864: fits unsigned 16 bits.
            let positive = _mm256_add_epi16(
                _mm256_add_epi16(
                    _mm256_set1_epi16(64),
                    _mm256_mullo_epi16(outer, _mm256_set1_epi16(3)),
                ),
                _mm256_mullo_epi16(inner, _mm256_set1_epi16(77)),
            );
            let shifted: __m256i = _mm256_srli_epi16::<7>(_mm256_subs_epu16(positive, negative));
            _mm_packus_epi16(
                _mm256_castsi256_si128(shifted),
                _mm256_extracti128_si256::<1>(shifted),
            )
        }
    }

    /// Filters one row along its pixels like [`super::filter_rows`]: `stride` bytes from
    /// `input` to `output`.
    ///
    /// # Safety
    /// The CPU must support AVX2, `stride >= 21`, `input` must have `stride` readable bytes
    /// and `output` `stride` writable ones.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filter_row(input: *const u8, output: *mut u8, stride: usize) {
        // SAFETY: the caller's guarantees. The edge copies cover `..2` and `stride - 3..`;
        // each 16-byte store covers `2 + at .. 2 + at + 16` with `at + 16 <= stride - 5`, and
        // each tap `input + at + k`, k <= 5, has 16 bytes up to `at + 21 <= stride`.
        unsafe {
            std::ptr::copy_nonoverlapping(input, output, 2);
            std::ptr::copy_nonoverlapping(input.add(stride - 3), output.add(stride - 3), 3);
            let count = stride - 5;
            let mut start = 0;
            loop {
                // The last step may overlap the one before: both write the same values.
                let at = start.min(count - 16);
                let base = input.add(at);
                let taps = [
                    base,
                    base.add(1),
                    base.add(2),
                    base.add(3),
                    base.add(4),
                    base.add(5),
                ];
                _mm_storeu_si128(output.add(2 + at).cast::<__m128i>(), tap16(taps));
                if at == count - 16 {
                    break;
                }
                start += 16;
            }
        }
    }

    /// Filters down columns like [`super::filter_columns`]: the row halfway between the
    /// third and fourth of the six rows from `first` (rows `stride` apart), to `output`.
    ///
    /// # Safety
    /// The CPU must support AVX2, `stride >= 16`, the six rows from `first` must have
    /// `stride` readable bytes each and `output` `stride` writable ones.
    #[inline]
    #[target_feature(enable = "avx2")]
    unsafe fn filter_column_row(first: *const u8, stride: usize, output: *mut u8) {
        // SAFETY: the caller's guarantees; every load and store starts at a column
        // `at <= stride - 16`.
        unsafe {
            let mut start = 0;
            loop {
                let at = start.min(stride - 16);
                let base = first.add(at);
                let taps = [
                    base,
                    base.add(stride),
                    base.add(2 * stride),
                    base.add(3 * stride),
                    base.add(4 * stride),
                    base.add(5 * stride),
                ];
                _mm_storeu_si128(output.add(at).cast::<__m128i>(), tap16(taps));
                if at == stride - 16 {
                    break;
                }
                start += 16;
            }
        }
    }

    /// The three phases of [`super::half_pixel_phases`] in one pass down the plane: each
    /// row is filtered horizontally, then the vertical and diagonal rows whose six taps are
    /// complete are filtered from rows still in cache, so the whole plane is read once.
    ///
    /// # Safety
    /// The CPU must support AVX2.
    #[target_feature(enable = "avx2")]
    pub(super) unsafe fn phases(whole: &[u8], stride: usize) -> [Vec<u8>; 3] {
        assert!(stride >= 21 && whole.len() % stride == 0);
        let rows = whole.len() / stride;
        assert!(rows >= 5);
        let length = whole.len();
        let mut horizontal = Vec::with_capacity(length);
        let mut vertical = Vec::with_capacity(length);
        let mut both = Vec::with_capacity(length);
        let horizontal_out = horizontal.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        let vertical_out = vertical.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        let both_out = both.spare_capacity_mut().as_mut_ptr().cast::<u8>();
        // SAFETY: AVX2 is available (caller). All three outputs have capacity for `length`
        // bytes, and row `row < rows` occupies `row * stride .. (row + 1) * stride` of it, as
        // of `whole`. Horizontal row `row` is written before the column filters read it: they
        // read rows `row - 5 ..= row` once `row >= 5` and write row `row - 3`. Rows 0, 1 and
        // the last three of the vertical and diagonal phases, which lack taps, copy their
        // source rows.
        unsafe {
            for row in 0..rows {
                let offset = row * stride;
                filter_row(
                    whole.as_ptr().add(offset),
                    horizontal_out.add(offset),
                    stride,
                );
                if row >= 5 {
                    let first = (row - 5) * stride;
                    let out = (row - 3) * stride;
                    filter_column_row(whole.as_ptr().add(first), stride, vertical_out.add(out));
                    filter_column_row(horizontal_out.add(first), stride, both_out.add(out));
                }
            }
            for row in [0, 1, rows - 3, rows - 2, rows - 1] {
                let offset = row * stride;
                std::ptr::copy_nonoverlapping(
                    whole.as_ptr().add(offset),
                    vertical_out.add(offset),
                    stride,
                );
                std::ptr::copy_nonoverlapping(
                    horizontal_out.add(offset),
                    both_out.add(offset),
                    stride,
                );
            }
            // Every row of all three was written above.
            horizontal.set_len(length);
            vertical.set_len(length);
            both.set_len(length);
        }
        [horizontal, vertical, both]
    }
}

/// [`half_pixel_phases`] with the AVX2 filters.
///
/// # Safety
/// The CPU must support AVX2.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2")]
unsafe fn half_pixel_phases_avx2(whole: &[u8], stride: usize) -> [Vec<u8>; 3] {
    // SAFETY: the caller guarantees AVX2, the kernel's only requirement.
    unsafe { half_pixel_avx2::phases(whole, stride) }
}

impl SearchPlanes {
    /// Prepares a `width` x `height` luma plane (rows `stride` apart).
    pub fn new(data: &[u8], stride: usize, width: usize, height: usize) -> Self {
        SearchPlanes {
            whole: PaddedPlane::new(data, stride, width, height),
            half_phases: std::sync::OnceLock::new(),
        }
    }

    /// The whole-pixel padded plane.
    pub fn whole(&self) -> &PaddedPlane {
        &self.whole
    }

    /// The plane of half phase `phase` (horizontal half phase plus twice the vertical one;
    /// 0 is the whole-pixel plane), filtering the half phases first if they are not yet.
    fn phase(&self, phase: usize) -> &PaddedPlane {
        if phase == 0 {
            return &self.whole;
        }
        let half_phases = self.half_phases.get_or_init(|| {
            let whole = &self.whole;
            #[cfg(target_arch = "x86_64")]
            let phases = if crate::simd::avx2_enabled() {
                // SAFETY: `avx2_enabled` is only true on CPUs with AVX2; the callee is the
                // same safe code as the portable path, compiled with AVX2 enabled.
                unsafe { half_pixel_phases_avx2(&whole.data, whole.stride) }
            } else {
                half_pixel_phases(&whole.data, whole.stride)
            };
            #[cfg(not(target_arch = "x86_64"))]
            let phases = half_pixel_phases(&whole.data, whole.stride);
            phases.map(|data| PaddedPlane {
                data,
                ..whole.clone_geometry()
            })
        });
        &half_phases[phase - 1]
    }

    /// Sum of absolute differences between the packed `size` x `size` block `source` and the
    /// block at (`x`, `y`) displaced by `mv` (eighth-pixel units: whole pixels are multiples of
    /// 8), exactly as the decoder would predict it. `None` for quarter-pixel vectors and when
    /// the block or its filter taps leave the padded area.
    pub fn sad(
        &self,
        source: &[u8],
        x: usize,
        y: usize,
        mv: crate::modes::MotionVector,
        size: usize,
    ) -> Option<u32> {
        let block = self.located(x, y, mv, size)?;
        Some(sad(source, size, block, self.whole.stride, size, size))
    }

    /// Copies the decoder's prediction of the `size` x `size` block at (`x`, `y`) displaced by
    /// `mv` into `out` (packed rows), when the planes hold it: whole- and half-pixel vectors
    /// inside the padded area. Returns whether they did.
    pub fn copy_prediction(
        &self,
        x: usize,
        y: usize,
        mv: crate::modes::MotionVector,
        size: usize,
        out: &mut [u8],
    ) -> bool {
        let Some(block) = self.located(x, y, mv, size) else {
            return false;
        };
        let stride = self.whole.stride;
        if size == 16 {
            // Fixed-size rows: register moves instead of a library call per row.
            for (row, out_row) in out.chunks_exact_mut(16).take(16).enumerate() {
                let from: &[u8; 16] = block[row * stride..row * stride + 16]
                    .try_into()
                    .expect("16 pixels");
                let to: &mut [u8; 16] = out_row.try_into().expect("16 pixels");
                *to = *from;
            }
            return true;
        }
        for (row, out_row) in out.chunks_exact_mut(size).take(size).enumerate() {
            out_row.copy_from_slice(&block[row * stride..row * stride + size]);
        }
        true
    }

    /// Writes the decoder's prediction of the `size` x `size` block (16 or 8) at (`x`, `y`)
    /// displaced by `mv` into `out` (packed rows), when `mv` has a quarter-pixel vertical part,
    /// a whole- or half-pixel horizontal part, and the half phases are already filtered: one
    /// vertical pass over the plane of the horizontal phase instead of the decoder's two.
    /// Returns whether it did; not near the padded area's edges.
    pub fn predict_vertical_quarter(
        &self,
        x: usize,
        y: usize,
        mv: crate::modes::MotionVector,
        size: usize,
        out: &mut [u8],
    ) -> bool {
        if mv.col & 3 != 0 || mv.row & 3 == 0 {
            return false;
        }
        let plane = if mv.col & 4 == 0 {
            &self.whole
        } else {
            match self.half_phases.get() {
                Some(phases) => &phases[0],
                None => return false,
            }
        };
        // The margin covers the horizontal phase's taps and the vertical taps.
        let Some((block_x, block_y)) = self.inside_margin(x, y, mv, size) else {
            return false;
        };
        let padded = PaddedPlane::BORDER as isize;
        let origin = (block_y + padded) as usize * plane.stride + (block_x + padded) as usize;
        crate::inter::predict_vertical_sixtap(
            &plane.data,
            plane.stride,
            origin,
            (mv.row & 7) as usize,
            size,
            out,
            size,
        );
        true
    }

    /// The plane and top-left corner of the block [`SearchPlanes::sad`] compares, or `None`
    /// where it gives `None`.
    fn located(
        &self,
        x: usize,
        y: usize,
        mv: crate::modes::MotionVector,
        size: usize,
    ) -> Option<&[u8]> {
        if (mv.row | mv.col) & 3 != 0 {
            return None;
        }
        let (block_x, block_y) = self.inside_margin(x, y, mv, size)?;
        let phase = usize::from(mv.col & 4 != 0) + 2 * usize::from(mv.row & 4 != 0);
        Some(self.phase(phase).block(block_x, block_y))
    }

    /// The top-left corner (frame coordinates) of the `size` x `size` block at (`x`, `y`)
    /// displaced by `mv`, when it keeps three pixels away from the padded area's edges: the
    /// reach of the six-tap filter's taps, which the half phases were filtered with.
    fn inside_margin(
        &self,
        x: usize,
        y: usize,
        mv: crate::modes::MotionVector,
        size: usize,
    ) -> Option<(isize, isize)> {
        let block_x = x as isize + isize::from(mv.col >> 3);
        let block_y = y as isize + isize::from(mv.row >> 3);
        let border = PaddedPlane::BORDER as isize - 3;
        let inside = block_x >= -border
            && block_y >= -border
            && block_x + size as isize <= self.whole.width as isize + border
            && block_y + size as isize <= self.whole.height as isize + border;
        inside.then_some((block_x, block_y))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn textured_plane(width: usize, height: usize) -> Vec<u8> {
        (0..width * height)
            .map(|index| {
                let x = (index % width) as f64;
                let y = (index / width) as f64;
                let value = 128.0
                    + 50.0 * (x / 5.0).sin()
                    + 40.0 * (y / 7.0).cos()
                    + 20.0 * ((x + y) / 3.0).sin();
                value as u8
            })
            .collect()
    }

    #[test]
    fn padding_repeats_edges() {
        let data: Vec<u8> = (0..12).collect();
        let padded = PaddedPlane::new(&data, 4, 4, 3);
        assert_eq!(padded.block(-5, -5)[0], 0);
        assert_eq!(padded.block(10, 0)[0], 3);
        assert_eq!(padded.block(0, 10)[0], 8);
        assert_eq!(padded.block(2, 1)[0], 6);
    }

    #[test]
    fn finds_a_pure_translation() {
        let (width, height) = (96, 80);
        let reference = textured_plane(width, height);
        let padded = PaddedPlane::new(&reference, width, width, height);
        // The source block at (32, 32) is the reference block at (37, 29).
        let (block_x, block_y) = (32isize, 32isize);
        let mut source = vec![0u8; 16 * 16];
        for row in 0..16 {
            let y = (block_y - 3) as usize + row;
            let x = (block_x + 5) as usize;
            source[row * 16..row * 16 + 16].copy_from_slice(&reference[y * width + x..][..16]);
        }
        let ((dx, dy), cost) = full_pixel_search(
            &source,
            16,
            &padded,
            block_x,
            block_y,
            16,
            &[(4, -2)],
            16,
            &|_, _| 0,
        );
        assert_eq!((dx, dy, cost), (5, -3, 0));
    }

    #[test]
    fn whole_pixel_search_returns_a_scored_local_minimum() {
        let (width, height) = (96, 80);
        let reference = textured_plane(width, height);
        let padded = PaddedPlane::new(&reference, width, width, height);
        let mut random = crate::test_random::TestRandom::new(0x853c_49e6_748f_ea9bu64);
        let mut next = move || random.next_u64() >> 24;
        let mut moved = 0;
        for trial in 0..300 {
            let size = if trial % 3 == 0 { 8 } else { 16 };
            let block_x = (next() % (width as u64 + 40)) as isize - 20;
            let block_y = (next() % (height as u64 + 40)) as isize - 20;
            // Sources from the reference shifted and noised, or plain noise (wide search).
            let (shift_x, shift_y) = ((next() % 13) as isize - 6, (next() % 13) as isize - 6);
            let noisy = trial % 5 == 0;
            let source: Vec<u8> = (0..size * size)
                .map(|index| {
                    let x =
                        (block_x + shift_x + (index % size) as isize).clamp(0, width as isize - 1);
                    let y =
                        (block_y + shift_y + (index / size) as isize).clamp(0, height as isize - 1);
                    if noisy {
                        next() as u8
                    } else {
                        reference[y as usize * width + x as usize].wrapping_add((next() % 5) as u8)
                    }
                })
                .collect();
            let candidates = [
                ((next() % 9) as isize - 4, (next() % 9) as isize - 4),
                (shift_x, shift_y),
                (0, 0),
            ];
            let range = [4isize, 16, 24, 40][trial % 4];
            let weight = (trial % 4) as u32 * 3;
            let rate =
                move |dx: isize, dy: isize| weight * (dx.unsigned_abs() + dy.unsigned_abs()) as u32;
            let (best, best_cost) = full_pixel_search(
                &source,
                size,
                &padded,
                block_x,
                block_y,
                size,
                &candidates,
                range,
                &rate,
            );
            let clamped_range = range.min(MAX_SEARCH_RANGE);
            let allowed = |(dx, dy): (isize, isize)| {
                dx.abs() <= clamped_range
                    && dy.abs() <= clamped_range
                    && padded.holds(block_x + dx, block_y + dy, size)
            };
            let cost_at = |(dx, dy): (isize, isize)| {
                let block = padded.block(block_x + dx, block_y + dy);
                sad(&source, size, block, padded.stride(), size, size) + rate(dx, dy)
            };
            assert!(
                allowed(best),
                "trial {trial}: {best:?} is outside the search"
            );
            assert_eq!(
                best_cost,
                cost_at(best),
                "trial {trial}: the cost is the point's"
            );
            // No candidate, and no neighbour of the result, is cheaper.
            let neighbours = SMALL_DIAMOND.map(|(ox, oy)| (best.0 + ox, best.1 + oy));
            for point in candidates.iter().copied().chain(neighbours) {
                if allowed(point) {
                    assert!(
                        cost_at(point) >= best_cost,
                        "trial {trial}: {point:?} is cheaper"
                    );
                }
            }
            moved += usize::from(best != (0, 0));
        }
        assert!(moved > 100, "{moved}");
    }

    /// A 48 x 40 textured plane and its search planes.
    fn textured_search_planes() -> (crate::picture::Plane, SearchPlanes) {
        let (width, height) = (48, 40);
        let plane = crate::picture::Plane {
            width,
            height,
            stride: width,
            data: textured_plane(width, height),
        };
        let planes = SearchPlanes::new(&plane.data, width, width, height);
        (plane, planes)
    }

    #[test]
    fn search_planes_give_the_decoders_whole_and_half_pixel_sads_and_predictions() {
        use crate::inter::{predict_block, InterpolationFilter};
        use crate::modes::MotionVector;
        let (plane, planes) = textured_search_planes();
        let source: Vec<u8> = (0..256).map(|index| (index * 37 % 251) as u8).collect();
        let mut checked = 0;
        let mut prediction = [0u8; 256];
        for (x, y) in [(0, 0), (16, 16), (32, 24)] {
            for row in (-320i16..=320).step_by(4) {
                for column in (-320i16..=320).step_by(4) {
                    let mv = MotionVector::new(row, column);
                    let Some(value) = planes.sad(&source, x, y, mv, 16) else {
                        continue;
                    };
                    predict_block(
                        &plane,
                        x,
                        y,
                        mv,
                        16,
                        16,
                        InterpolationFilter::SixTap,
                        &mut prediction,
                        16,
                    );
                    assert_eq!(value, sad(&source, 16, &prediction, 16, 16, 16), "{mv:?}");
                    let mut copied = [0u8; 256];
                    assert!(planes.copy_prediction(x, y, mv, 16, &mut copied));
                    assert_eq!(copied, prediction, "{mv:?}");
                    checked += 1;
                }
            }
        }
        // Vectors reaching into the border are checked too, not only those inside the plane.
        assert!(checked > 20_000, "{checked}");
        let quarter = MotionVector::new(2, 0);
        assert_eq!(planes.sad(&source, 16, 16, quarter, 16), None);
        assert!(!planes.copy_prediction(16, 16, quarter, 16, &mut prediction));
    }

    #[test]
    fn quarter_pixel_vertical_predictions_from_the_planes_are_the_decoders() {
        use crate::inter::{predict_block, InterpolationFilter};
        use crate::modes::MotionVector;
        let (plane, planes) = textured_search_planes();
        let mut out = [0u8; 256];
        let half_column = MotionVector::new(2, 4);
        // Before any half-pixel search the horizontal phase is not there to read.
        assert!(!planes.predict_vertical_quarter(16, 16, half_column, 16, &mut out));
        assert!(planes
            .sad(&[0; 256], 16, 16, MotionVector::new(4, 4), 16)
            .is_some());
        let mut checked = 0;
        for size in [8, 16] {
            for (x, y) in [(0, 0), (16, 8), (32, 24)] {
                for row in -240i16..=240 {
                    for column in (-240i16..=240).step_by(4) {
                        let mv = MotionVector::new(row, column);
                        let mut from_planes = [0u8; 256];
                        if !planes.predict_vertical_quarter(x, y, mv, size, &mut from_planes) {
                            assert!(row & 3 == 0 || planes.inside_margin(x, y, mv, size).is_none());
                            continue;
                        }
                        let mut expected = [0u8; 256];
                        let filter = InterpolationFilter::SixTap;
                        predict_block(&plane, x, y, mv, size, size, filter, &mut expected, size);
                        assert_eq!(from_planes, expected, "{size} at ({x}, {y}), {mv:?}");
                        checked += 1;
                    }
                }
            }
        }
        // Vectors reaching into the border are checked too, not only those inside the plane.
        assert!(checked > 20_000, "{checked}");
    }

    #[cfg(target_arch = "x86_64")]
    #[test]
    fn vector_half_pixel_phases_match_the_portable_filters() {
        if !std::is_x86_feature_detected!("avx2") {
            eprintln!("no AVX2 on this CPU: only the portable half-pixel filters run");
            return;
        }
        let mut random = crate::test_random::TestRandom::new(0x2545_f491_4f6c_dd1du64);
        let mut next = move || (random.next_u64() >> 24) as u8;
        // Strides around and off multiples of 16; extreme values saturate both ends.
        for (stride, rows) in [(21, 5), (32, 6), (37, 9), (97, 11), (736, 7), (40, 30)] {
            for pattern in 0..3 {
                let whole: Vec<u8> = (0..stride * rows)
                    .map(|index| match pattern {
                        0 => next(),
                        1 => 255 * (index as u8 & 1),
                        _ => 255 * ((index / 3) as u8 & 1),
                    })
                    .collect();
                // SAFETY: AVX2 was detected above.
                let vector = unsafe { half_pixel_phases_avx2(&whole, stride) };
                assert_eq!(
                    vector,
                    half_pixel_phases(&whole, stride),
                    "{stride} {pattern}"
                );
            }
        }
    }

    #[test]
    fn sums_of_absolute_differences_match_a_plain_loop() {
        let mut random = crate::test_random::TestRandom::new(0x9e37_79b9_7f4a_7c15u64);
        let mut next = move || (random.next_u64() >> 24) as u8;
        for (size, a_stride, b_stride) in [(16, 16, 16), (16, 40, 23), (8, 8, 8), (8, 19, 33)] {
            for extreme in [false, true] {
                let a: Vec<u8> = (0..a_stride * size).map(|_| next()).collect();
                let b: Vec<u8> = (0..b_stride * size)
                    .map(|index| {
                        if extreme {
                            255 * (index as u8 & 1)
                        } else {
                            next()
                        }
                    })
                    .collect();
                let mut expected = 0u32;
                for row in 0..size {
                    for column in 0..size {
                        let (x, y) = (a[row * a_stride + column], b[row * b_stride + column]);
                        expected += u32::from(x.abs_diff(y));
                    }
                }
                assert_eq!(sad(&a, a_stride, &b, b_stride, size, size), expected);
            }
        }
    }

    #[test]
    fn sums_of_squared_differences_match_a_plain_loop() {
        let mut random = crate::test_random::TestRandom::new(0x1234_5678_9abc_def1u64);
        let mut next = move || (random.next_u64() >> 24) as u8;
        for (width, height) in [(16, 16), (8, 8), (4, 4), (16, 1), (640, 1)] {
            for extreme in [false, true] {
                let a: Vec<u8> = (0..width * height)
                    .map(|index| {
                        if extreme {
                            255 * (index as u8 & 1)
                        } else {
                            next()
                        }
                    })
                    .collect();
                let b: Vec<u8> = (0..width * height)
                    .map(|index| {
                        if extreme {
                            255 * (1 - (index as u8 & 1))
                        } else {
                            next()
                        }
                    })
                    .collect();
                let expected: u32 = a
                    .iter()
                    .zip(&b)
                    .map(|(&x, &y)| u32::from(x.abs_diff(y)).pow(2))
                    .sum();
                assert_eq!(sse(&a, width, &b, width, width, height), expected);
            }
        }
    }
}
