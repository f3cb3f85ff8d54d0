//! Reconstruction: turns parsed frame syntax into the next decoder state. For each macroblock
//! it predicts (intra or inter), adds the inverse-transformed residual, then loop-filters the
//! frame and applies the reference, probability and segmentation updates.
//!
//! Intra prediction reads the current frame before loop filtering (the filter runs after all
//! macroblocks), as libvpx does.

use std::borrow::Borrow;
use std::sync::Arc;

use crate::header::FrameHeader;
use crate::inter::{self, InterpolationFilter};
use crate::intra::{self, ABOVE_OUTSIDE, LEFT_OUTSIDE};
use crate::loop_filter;
use crate::modes::{MacroblockInfo, MacroblockMode};
use crate::picture::{Picture, Plane};
use crate::state::{DecoderState, EntropyProbabilities, ReferenceFrame, References, StateParts};
use crate::tokens::{MacroblockCoefficients, Y2_BLOCK};
use crate::transform;

/// Reconstructs one frame macroblock by macroblock, then produces the new state.
#[derive(Debug)]
pub struct FrameReconstructor<'a> {
    source: &'a DecoderState,
    header: FrameHeader,
    frame: Picture,
    infos: Vec<MacroblockInfo>,
    inner_edges: Vec<bool>,
    columns: usize,
    rows: usize,
    filter: InterpolationFilter,
    full_pixel: bool,
}

impl<'a> FrameReconstructor<'a> {
    /// Starts reconstructing the frame described by `header` (owned or borrowed) on top of
    /// `source`.
    /// For inter frames `source` must have references (checked when the header was parsed).
    pub fn new(source: &'a DecoderState, header: impl Borrow<FrameHeader>) -> Self {
        let header = header.borrow().clone();
        let columns = header.macroblock_columns();
        let rows = header.macroblock_rows();
        let filter = InterpolationFilter::for_version(header.version);
        let full_pixel = header.version == 3;
        // Every pixel is written by `reconstruct_macroblock` before anything reads it, so
        // recycled buffers with stale contents are fine.
        let plane = |width: usize, height: usize| Plane {
            width,
            height,
            stride: width,
            data: crate::state::reusable_buffer(width * height),
        };
        let frame = Picture {
            y: plane(columns * 16, rows * 16),
            u: plane(columns * 8, rows * 8),
            v: plane(columns * 8, rows * 8),
        };
        FrameReconstructor {
            source,
            header,
            frame,
            infos: vec![MacroblockInfo::default(); columns * rows],
            inner_edges: vec![false; columns * rows],
            columns,
            rows,
            filter,
            full_pixel,
        }
    }

    /// Macroblock columns of the frame.
    pub fn columns(&self) -> usize {
        self.columns
    }

    /// Macroblock rows of the frame.
    pub fn rows(&self) -> usize {
        self.rows
    }

    /// The frame reconstructed so far (before loop filtering).
    pub fn frame(&self) -> &Picture {
        &self.frame
    }

    /// Reconstructs macroblock (`mb_x`, `mb_y`). Macroblocks must come in raster order, since
    /// intra prediction reads the ones above and to the left.
    pub fn reconstruct_macroblock(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        coefficients: &MacroblockCoefficients,
    ) {
        #[cfg(target_arch = "x86_64")]
        if crate::simd::avx2_enabled() {
            // SAFETY: `avx2_enabled` is only true on CPUs with AVX2; the callee is the same safe
            // code as the portable path, compiled with AVX2 enabled.
            unsafe { self.reconstruct_macroblock_avx2(mb_x, mb_y, info, coefficients) };
            return;
        }
        self.reconstruct_macroblock_body(mb_x, mb_y, info, coefficients);
    }

    /// [`Self::reconstruct_macroblock`] compiled for CPUs with AVX2.
    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn reconstruct_macroblock_avx2(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        coefficients: &MacroblockCoefficients,
    ) {
        self.reconstruct_macroblock_body(mb_x, mb_y, info, coefficients);
    }

    #[inline(always)]
    fn reconstruct_macroblock_body(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        coefficients: &MacroblockCoefficients,
    ) {
        let index = mb_y * self.columns + mb_x;
        self.infos[index] = *info;
        self.inner_edges[index] = !(info.mode.has_y2() && coefficients.is_empty());

        // Predict and add the residual straight into the frame (every pixel of the
        // macroblock is written).
        let y_stride = self.frame.y.stride;
        let uv_stride = self.frame.u.stride;
        let y_offset = mb_y * 16 * y_stride + mb_x * 16;
        let uv_offset = mb_y * 8 * uv_stride + mb_x * 8;
        let intra = info.reference == crate::state::ReferenceKind::Intra;
        if intra {
            self.predict_intra_chroma(mb_x, mb_y, info, uv_offset);
            if info.mode == MacroblockMode::Subblocks {
                self.reconstruct_subblocks(mb_x, mb_y, info, coefficients, y_offset);
            } else {
                self.predict_intra_luma(mb_x, mb_y, info, y_offset);
            }
        } else {
            self.predict_inter(mb_x, mb_y, info, y_offset, uv_offset);
        }

        if !coefficients.is_empty() {
            if info.mode != MacroblockMode::Subblocks {
                add_luma_residual(
                    info.mode.has_y2(),
                    coefficients,
                    &mut self.frame.y.data,
                    y_offset,
                    y_stride,
                );
            }
            for block in 0..4 {
                let offset = uv_offset + (block >> 1) * 4 * uv_stride + (block & 1) * 4;
                transform::add_inverse_dct(
                    &coefficients.blocks[16 + block],
                    &mut self.frame.u.data,
                    offset,
                    uv_stride,
                );
                transform::add_inverse_dct(
                    &coefficients.blocks[20 + block],
                    &mut self.frame.v.data,
                    offset,
                    uv_stride,
                );
            }
        }
    }

    /// The row above a block (`above[0]` the corner) and the column left of it, with the
    /// frame-edge values, for a `size`-pixel block at (`x`, `y`) of `plane`; `extra` more
    /// above-right pixels are included.
    #[inline(always)]
    fn edges(
        plane: &Plane,
        x: usize,
        y: usize,
        size: usize,
        extra: usize,
        above: &mut [u8],
        left: &mut [u8],
    ) {
        if y == 0 {
            above[..=size + extra].fill(ABOVE_OUTSIDE);
        } else {
            let row = &plane.data[(y - 1) * plane.stride..(y - 1) * plane.stride + plane.width];
            above[0] = if x == 0 { LEFT_OUTSIDE } else { row[x - 1] };
            above[1..=size].copy_from_slice(&row[x..x + size]);
            for (k, value) in above[size + 1..=size + extra].iter_mut().enumerate() {
                // Past the right edge libvpx repeats the last pixel of the row above.
                *value = row[(x + size + k).min(plane.width - 1)];
            }
        }
        if x == 0 {
            left[..size].fill(LEFT_OUTSIDE);
        } else {
            for (k, value) in left[..size].iter_mut().enumerate() {
                *value = plane.data[(y + k) * plane.stride + x - 1];
            }
        }
    }

    #[inline(always)]
    fn predict_intra_luma(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        offset: usize,
    ) {
        let mut above = [0u8; 17];
        let mut left = [0u8; 16];
        Self::edges(
            &self.frame.y,
            mb_x * 16,
            mb_y * 16,
            16,
            0,
            &mut above,
            &mut left,
        );
        let stride = self.frame.y.stride;
        let out = &mut self.frame.y.data[offset..];
        intra::predict_block(
            info.mode,
            16,
            &above,
            &left,
            mb_y > 0,
            mb_x > 0,
            out,
            stride,
        );
    }

    #[inline(always)]
    fn predict_intra_chroma(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        offset: usize,
    ) {
        for plane in [&mut self.frame.u, &mut self.frame.v] {
            let mut above = [0u8; 9];
            let mut left = [0u8; 8];
            Self::edges(plane, mb_x * 8, mb_y * 8, 8, 0, &mut above, &mut left);
            let stride = plane.stride;
            intra::predict_block(
                info.chroma_mode,
                8,
                &above,
                &left,
                mb_y > 0,
                mb_x > 0,
                &mut plane.data[offset..],
                stride,
            );
        }
    }

    #[inline(always)]
    fn reconstruct_subblocks(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        coefficients: &MacroblockCoefficients,
        base: usize,
    ) {
        let mut above_row = [0u8; 21];
        let mut left_column = [0u8; 16];
        Self::edges(
            &self.frame.y,
            mb_x * 16,
            mb_y * 16,
            16,
            4,
            &mut above_row,
            &mut left_column,
        );
        let stride = self.frame.y.stride;
        let out = &mut self.frame.y.data[..];
        for block in 0..16 {
            let (bx, by) = (block & 3, block >> 2);
            let mut above = [0u8; 9];
            let mut left = [0u8; 4];
            if by == 0 {
                above.copy_from_slice(&above_row[4 * bx..4 * bx + 9]);
            } else {
                let row = base + (4 * by - 1) * stride;
                above[0] = if bx == 0 {
                    left_column[4 * by - 1]
                } else {
                    out[row + 4 * bx - 1]
                };
                above[1..5].copy_from_slice(&out[row + 4 * bx..row + 4 * bx + 4]);
                if bx < 3 {
                    above[5..9].copy_from_slice(&out[row + 4 * bx + 4..row + 4 * bx + 8]);
                } else {
                    // Right column: libvpx uses the above macroblock row's pixels here.
                    above[5..9].copy_from_slice(&above_row[17..21]);
                }
            }
            for (k, value) in left.iter_mut().enumerate() {
                *value = if bx == 0 {
                    left_column[4 * by + k]
                } else {
                    out[base + (4 * by + k) * stride + 4 * bx - 1]
                };
            }
            let offset = base + 4 * by * stride + 4 * bx;
            intra::predict_subblock(
                info.subblock_modes[block],
                &above,
                &left,
                &mut out[offset..],
                stride,
            );
            if coefficients.coded_blocks & (1 << block) != 0 {
                transform::add_inverse_dct(&coefficients.blocks[block], out, offset, stride);
            }
        }
    }

    #[inline(always)]
    fn predict_inter(
        &mut self,
        mb_x: usize,
        mb_y: usize,
        info: &MacroblockInfo,
        y_offset: usize,
        uv_offset: usize,
    ) {
        let y_stride = self.frame.y.stride;
        let uv_stride = self.frame.u.stride;
        let luma = &mut self.frame.y.data[y_offset..];
        let chroma_u = &mut self.frame.u.data[uv_offset..];
        let chroma_v = &mut self.frame.v.data[uv_offset..];
        let references = self
            .source
            .references()
            .expect("inter frames are only parsed when references exist");
        let reference = references
            .get(info.reference)
            .expect("inter macroblock has a reference")
            .picture();
        let (x, y) = (mb_x * 16, mb_y * 16);
        let (chroma_x, chroma_y) = (mb_x * 8, mb_y * 8);
        if info.mode != MacroblockMode::Split {
            inter::predict_block(
                &reference.y,
                x,
                y,
                info.mv,
                16,
                16,
                self.filter,
                luma,
                y_stride,
            );
            let mv = inter::chroma_mv(info.mv, self.full_pixel);
            inter::predict_block(
                &reference.u,
                chroma_x,
                chroma_y,
                mv,
                8,
                8,
                self.filter,
                chroma_u,
                uv_stride,
            );
            inter::predict_block(
                &reference.v,
                chroma_x,
                chroma_y,
                mv,
                8,
                8,
                self.filter,
                chroma_v,
                uv_stride,
            );
            return;
        }
        inter::predict_split_luma(
            &reference.y,
            x,
            y,
            &info.subblock_mvs,
            info.split_partitioning,
            self.filter,
            luma,
            y_stride,
        );
        inter::predict_split_chroma(
            &reference.u,
            &reference.v,
            chroma_x,
            chroma_y,
            &info.subblock_mvs,
            self.full_pixel,
            self.filter,
            chroma_u,
            chroma_v,
            uv_stride,
        );
    }

    /// Loop-filters the frame and builds the new state; returns it with the picture to show
    /// (cropped to display size) when the frame is shown.
    pub fn finish(mut self) -> (DecoderState, Option<Picture>) {
        let header = &self.header;
        loop_filter::filter_frame(&mut self.frame, header, &self.infos, &self.inner_edges);
        let picture = header.show_frame.then(|| {
            self.frame
                .cropped(usize::from(header.width), usize::from(header.height))
        });
        let state = state_after_frame(self.source, header, &self.infos, self.frame);
        (state, picture)
    }
}

/// The state decoding a frame leaves: `frame` (reconstructed and loop-filtered) enters the
/// references as `header` says, with the probabilities, segmentation, segment map (from
/// `infos`) and loop-filter deltas that persist past the frame.
pub(crate) fn state_after_frame(
    source: &DecoderState,
    header: &FrameHeader,
    infos: &[MacroblockInfo],
    frame: Picture,
) -> DecoderState {
    let new_frame = Arc::new(ReferenceFrame::new(frame));
    let references = update_references(source.references(), header, new_frame);
    let probabilities = persistent_probabilities(source, header);
    let segment_map: Vec<u8> = infos.iter().map(|info| info.segment_id).collect();
    DecoderState::from_parts(StateParts {
        width: header.width,
        height: header.height,
        references: Some(references),
        probabilities,
        segmentation: header.segmentation.values,
        segment_map: Arc::new(segment_map),
        loop_filter_deltas: header.loop_filter_deltas,
    })
}

/// The reference update step: the references after a frame, given those before it (`None`
/// only before the first key frame) and the newly decoded frame. Key frames replace all three;
/// otherwise, in libvpx's order: copy to altref, copy to golden (a copy "from altref" sees the
/// altref just updated), then refresh golden, altref and last with the new frame.
pub fn update_references(
    old: Option<&References>,
    header: &FrameHeader,
    new_frame: Arc<ReferenceFrame>,
) -> References {
    let old = match old {
        Some(old) if !header.key_frame => old,
        _ => {
            return References {
                last: new_frame.clone(),
                golden: new_frame.clone(),
                altref: new_frame,
            }
        }
    };
    let mut references = old.clone();
    match header.copy_to_altref {
        1 => references.altref = old.last.clone(),
        2 => references.altref = old.golden.clone(),
        _ => {}
    }
    match header.copy_to_golden {
        1 => references.golden = old.last.clone(),
        2 => references.golden = references.altref.clone(),
        _ => {}
    }
    if header.refresh_golden {
        references.golden = new_frame.clone();
    }
    if header.refresh_altref {
        references.altref = new_frame.clone();
    }
    if header.refresh_last {
        references.last = new_frame;
    }
    references
}

/// The probabilities that persist after a frame: its own when it refreshes them, else those it
/// started from (the defaults after a key frame).
pub fn persistent_probabilities(
    source: &DecoderState,
    header: &FrameHeader,
) -> EntropyProbabilities {
    if header.refresh_entropy_probs {
        header.probabilities
    } else if header.key_frame {
        EntropyProbabilities::default()
    } else {
        *source.probabilities()
    }
}

/// Adds the luma residual of a whole-macroblock mode: with Y2, the inverse WHT supplies each
/// block's DC.
#[inline(always)]
fn add_luma_residual(
    has_y2: bool,
    coefficients: &MacroblockCoefficients,
    luma: &mut [u8],
    base: usize,
    stride: usize,
) {
    let dcs = if has_y2 {
        Some(transform::inverse_walsh(&coefficients.blocks[Y2_BLOCK]))
    } else {
        None
    };
    for block in 0..16 {
        let offset = base + (block >> 2) * 4 * stride + (block & 3) * 4;
        let coded = coefficients.coded_blocks & (1 << block) != 0;
        match dcs {
            Some(dcs) => {
                if coded {
                    let mut values = coefficients.blocks[block];
                    values[0] = dcs[block];
                    transform::add_inverse_dct(&values, luma, offset, stride);
                } else if dcs[block] != 0 {
                    transform::add_dc(dcs[block], luma, offset, stride);
                }
            }
            None => {
                if coded {
                    transform::add_inverse_dct(&coefficients.blocks[block], luma, offset, stride);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn frame(value: u8) -> Arc<ReferenceFrame> {
        let mut picture = Picture::new(16, 16);
        picture.y.data.fill(value);
        Arc::new(ReferenceFrame::new(picture))
    }

    fn inter_header() -> FrameHeader {
        let mut bytes = vec![0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 16, 0, 16, 0];
        let first_partition_size = 64usize;
        let tag = (first_partition_size << 5) as u32 | 0x10;
        bytes[..3].copy_from_slice(&tag.to_le_bytes()[..3]);
        bytes.extend(std::iter::repeat_n(0u8, first_partition_size + 16));
        let mut header = crate::header::parse_frame(&DecoderState::new(), &bytes)
            .expect("minimal key frame parses")
            .header;
        header.key_frame = false;
        header.refresh_golden = false;
        header.refresh_altref = false;
        header.refresh_last = false;
        header
    }

    fn values(references: &References) -> [u8; 3] {
        [
            references.last.picture().y.data[0],
            references.golden.picture().y.data[0],
            references.altref.picture().y.data[0],
        ]
    }

    #[test]
    fn reference_updates_follow_libvpx_order() {
        let old = References {
            last: frame(1),
            golden: frame(2),
            altref: frame(3),
        };
        let mut header = inter_header();
        // Golden to altref, then "altref" (already golden) to golden: both end up golden.
        header.copy_to_altref = 2;
        header.copy_to_golden = 2;
        assert_eq!(
            values(&update_references(Some(&old), &header, frame(9))),
            [1, 2, 2]
        );
        // Copies from last, then refreshes with the new frame win over copies.
        header.copy_to_altref = 1;
        header.copy_to_golden = 1;
        assert_eq!(
            values(&update_references(Some(&old), &header, frame(9))),
            [1, 1, 1]
        );
        header.refresh_golden = true;
        header.refresh_last = true;
        assert_eq!(
            values(&update_references(Some(&old), &header, frame(9))),
            [9, 9, 1]
        );
        // Key frames replace everything.
        header.key_frame = true;
        assert_eq!(
            values(&update_references(Some(&old), &header, frame(7))),
            [7, 7, 7]
        );
    }
}
