//! The frame header (RFC 6386 sections 9 and 19.2): frame tag, key-frame start code and size,
//! and everything in the first partition before the per-macroblock modes.

use crate::bool_decoder::BoolDecoder;
use crate::error::DecodeError;
use crate::state::{DecoderState, EntropyProbabilities, LoopFilterDeltas, Segmentation};
use crate::tables::{COEFFICIENT_UPDATE_PROBABILITIES, MV_UPDATE_PROBABILITIES};

/// Largest frame area (in pixels) the decoder accepts, bounding what a forged key frame can
/// make it allocate. 4096x2304 covers 4K-class video calls.
pub const MAX_FRAME_PIXELS: usize = 4096 * 2304;

/// Which loop filter a frame uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum LoopFilterType {
    /// The normal filter (luma and chroma, with high-edge-variance handling).
    #[default]
    Normal,
    /// The simple filter (luma only).
    Simple,
}

/// The quantiser indices of a frame.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct QuantizerIndices {
    /// Base index (luma AC), 0..=127.
    pub y_ac: u8,
    /// Delta for luma DC.
    pub y_dc_delta: i8,
    /// Delta for Y2 DC.
    pub y2_dc_delta: i8,
    /// Delta for Y2 AC.
    pub y2_ac_delta: i8,
    /// Delta for chroma DC.
    pub uv_dc_delta: i8,
    /// Delta for chroma AC.
    pub uv_ac_delta: i8,
}

/// Segmentation as a frame uses it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct SegmentationHeader {
    /// Whether segmentation is on for this frame.
    pub enabled: bool,
    /// Whether this frame codes a segment id per macroblock.
    pub update_map: bool,
    /// Whether this frame sends new per-segment values.
    pub update_data: bool,
    /// The per-segment values in force for this frame (sent or persisting).
    pub values: Segmentation,
    /// Probabilities of the segment-id tree (only meaningful when `update_map`).
    pub tree_probabilities: [u8; 3],
}

/// Every field of a frame header, with probability updates already applied: `probabilities`
/// are the ones this frame is coded with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameHeader {
    /// Key frame (intra only, resets state) or inter frame.
    pub key_frame: bool,
    /// Bitstream version 0..=3 (reconstruction filter and loop-filter variants).
    pub version: u8,
    /// Whether the frame is meant to be displayed.
    pub show_frame: bool,
    /// Size in bytes of the first partition.
    pub first_partition_size: usize,
    /// Display width (from the key frame, or the state for inter frames).
    pub width: u16,
    /// Display height.
    pub height: u16,
    /// Horizontal upscaling hint (does not change the decoded size).
    pub horizontal_scale: u8,
    /// Vertical upscaling hint (does not change the decoded size).
    pub vertical_scale: u8,
    /// Key-frame colour space bit (0 = YUV as in BT.601).
    pub color_space: u8,
    /// Key-frame clamping type bit (0 = clamping needed).
    pub clamping_type: u8,
    /// Segmentation for this frame.
    pub segmentation: SegmentationHeader,
    /// Loop-filter variant.
    pub filter_type: LoopFilterType,
    /// Base loop-filter level 0..=63.
    pub filter_level: u8,
    /// Loop-filter sharpness 0..=7.
    pub sharpness: u8,
    /// Whether the mode and reference deltas apply to the loop-filter level.
    pub loop_filter_deltas_enabled: bool,
    /// Whether this frame sent new delta values.
    pub loop_filter_deltas_update: bool,
    /// The deltas in force for this frame (sent or persisting).
    pub loop_filter_deltas: LoopFilterDeltas,
    /// Number of token partitions: 1, 2, 4 or 8.
    pub partition_count: usize,
    /// Quantiser indices.
    pub quantizer: QuantizerIndices,
    /// Whether the new frame replaces the golden frame.
    pub refresh_golden: bool,
    /// Whether the new frame replaces the altref frame.
    pub refresh_altref: bool,
    /// Golden copy: 0 none, 1 from last, 2 from altref.
    pub copy_to_golden: u8,
    /// Altref copy: 0 none, 1 from last, 2 from golden.
    pub copy_to_altref: u8,
    /// Sign bias of the golden frame's motion vectors.
    pub sign_bias_golden: bool,
    /// Sign bias of the altref frame's motion vectors.
    pub sign_bias_altref: bool,
    /// Whether this frame's probabilities persist for the following frames.
    pub refresh_entropy_probs: bool,
    /// Whether the new frame replaces the last frame.
    pub refresh_last: bool,
    /// The probabilities this frame is coded with.
    pub probabilities: EntropyProbabilities,
    /// Whether macroblocks carry a "no coefficients" flag.
    pub macroblock_skip_enabled: bool,
    /// Probability that a macroblock has coefficients (when `macroblock_skip_enabled`).
    pub prob_skip_false: u8,
    /// Probability that a macroblock is intra (inter frames).
    pub prob_intra: u8,
    /// Probability that an inter macroblock uses the last frame.
    pub prob_last: u8,
    /// Probability that a non-last inter macroblock uses golden rather than altref.
    pub prob_golden: u8,
}

impl FrameHeader {
    /// Macroblock columns.
    pub fn macroblock_columns(&self) -> usize {
        usize::from(self.width).div_ceil(16)
    }

    /// Macroblock rows.
    pub fn macroblock_rows(&self) -> usize {
        usize::from(self.height).div_ceil(16)
    }

    /// Sign bias of each reference kind (intra, last, golden, altref).
    pub fn sign_bias(&self) -> [bool; 4] {
        [false, false, self.sign_bias_golden, self.sign_bias_altref]
    }
}

/// A frame split into its parts: the parsed header, the first-partition decoder positioned at
/// the per-macroblock modes, and the token partitions.
#[derive(Debug)]
pub struct FrameParts<'a> {
    /// The header.
    pub header: FrameHeader,
    /// Decoder of the first partition, positioned after the header.
    pub modes: BoolDecoder<'a>,
    /// The token partitions, in order.
    pub token_partitions: Vec<&'a [u8]>,
}

fn read_partition_size(bytes: &[u8]) -> usize {
    usize::from(bytes[0]) | usize::from(bytes[1]) << 8 | usize::from(bytes[2]) << 16
}

/// Parses a frame's header given the state it is decoded from.
pub fn parse_frame<'a>(
    state: &DecoderState,
    data: &'a [u8],
) -> Result<FrameParts<'a>, DecodeError> {
    if data.len() < 3 {
        return Err(DecodeError::Truncated { what: "frame tag" });
    }
    let tag = read_partition_size(data);
    let key_frame = tag & 1 == 0;
    let version = ((tag >> 1) & 7) as u8;
    let show_frame = (tag >> 4) & 1 == 1;
    let first_partition_size = tag >> 5;
    let mut rest = &data[3..];

    let (width, height, horizontal_scale, vertical_scale);
    if key_frame {
        if rest.len() < 7 {
            return Err(DecodeError::Truncated {
                what: "key frame header",
            });
        }
        if rest[..3] != [0x9d, 0x01, 0x2a] {
            return Err(DecodeError::BadStartCode);
        }
        let raw_width = u16::from_le_bytes([rest[3], rest[4]]);
        let raw_height = u16::from_le_bytes([rest[5], rest[6]]);
        width = raw_width & 0x3fff;
        height = raw_height & 0x3fff;
        horizontal_scale = (raw_width >> 14) as u8;
        vertical_scale = (raw_height >> 14) as u8;
        if width == 0 || height == 0 {
            return Err(DecodeError::ZeroSize);
        }
        if usize::from(width) * usize::from(height) > MAX_FRAME_PIXELS {
            return Err(DecodeError::FrameTooLarge {
                width: width.into(),
                height: height.into(),
            });
        }
        rest = &rest[7..];
    } else {
        if state.references().is_none() {
            return Err(DecodeError::NoReferenceFrames);
        }
        width = state.width() as u16;
        height = state.height() as u16;
        horizontal_scale = 0;
        vertical_scale = 0;
    }
    if first_partition_size == 0 || first_partition_size > rest.len() {
        return Err(DecodeError::FirstPartitionTooLong);
    }
    let (first_partition, after_first) = rest.split_at(first_partition_size);
    let mut decoder = BoolDecoder::new(first_partition);

    // Persistent values this frame starts from: defaults on key frames.
    let (mut probabilities, mut segment_values, mut loop_filter_deltas) = if key_frame {
        (
            EntropyProbabilities::default(),
            Segmentation::default(),
            LoopFilterDeltas::default(),
        )
    } else {
        (
            *state.probabilities(),
            *state.segmentation(),
            *state.loop_filter_deltas(),
        )
    };

    let (mut color_space, mut clamping_type) = (0, 0);
    if key_frame {
        color_space = decoder.read_literal(1) as u8;
        clamping_type = decoder.read_literal(1) as u8;
    }

    let mut segmentation = SegmentationHeader {
        enabled: decoder.read_flag(),
        tree_probabilities: [255; 3],
        ..SegmentationHeader::default()
    };
    if segmentation.enabled {
        segmentation.update_map = decoder.read_flag();
        segmentation.update_data = decoder.read_flag();
        if segmentation.update_data {
            segment_values.absolute_values = decoder.read_flag();
            for value in segment_values.quantizer.iter_mut() {
                *value = decoder.read_optional_signed(7) as i8;
            }
            for value in segment_values.loop_filter_level.iter_mut() {
                *value = decoder.read_optional_signed(6) as i8;
            }
        }
        if segmentation.update_map {
            for probability in segmentation.tree_probabilities.iter_mut() {
                if decoder.read_flag() {
                    *probability = decoder.read_literal(8) as u8;
                }
            }
        }
    }
    segment_values.enabled = segmentation.enabled;
    segmentation.values = segment_values;

    let filter_type = if decoder.read_flag() {
        LoopFilterType::Simple
    } else {
        LoopFilterType::Normal
    };
    let filter_level = decoder.read_literal(6) as u8;
    let sharpness = decoder.read_literal(3) as u8;
    let loop_filter_deltas_enabled = decoder.read_flag();
    let mut loop_filter_deltas_update = false;
    if loop_filter_deltas_enabled {
        loop_filter_deltas_update = decoder.read_flag();
        if loop_filter_deltas_update {
            for delta in loop_filter_deltas
                .reference
                .iter_mut()
                .chain(loop_filter_deltas.mode.iter_mut())
            {
                if decoder.read_flag() {
                    *delta = decoder.read_signed_literal(6) as i8;
                }
            }
        }
    }

    let partition_count = 1usize << decoder.read_literal(2);
    let sizes_length = 3 * (partition_count - 1);
    if after_first.len() < sizes_length {
        return Err(DecodeError::Truncated {
            what: "token partition sizes",
        });
    }
    let (sizes, mut partition_data) = after_first.split_at(sizes_length);
    let mut token_partitions = Vec::with_capacity(partition_count);
    for index in 0..partition_count {
        if index + 1 == partition_count {
            token_partitions.push(partition_data);
        } else {
            let size = read_partition_size(&sizes[3 * index..]);
            if size > partition_data.len() {
                return Err(DecodeError::PartitionTooLong { index });
            }
            let (partition, remaining) = partition_data.split_at(size);
            token_partitions.push(partition);
            partition_data = remaining;
        }
    }

    let quantizer = QuantizerIndices {
        y_ac: decoder.read_literal(7) as u8,
        y_dc_delta: decoder.read_optional_signed(4) as i8,
        y2_dc_delta: decoder.read_optional_signed(4) as i8,
        y2_ac_delta: decoder.read_optional_signed(4) as i8,
        uv_dc_delta: decoder.read_optional_signed(4) as i8,
        uv_ac_delta: decoder.read_optional_signed(4) as i8,
    };

    let (mut refresh_golden, mut refresh_altref) = (true, true);
    let (mut copy_to_golden, mut copy_to_altref) = (0, 0);
    let (mut sign_bias_golden, mut sign_bias_altref) = (false, false);
    if !key_frame {
        refresh_golden = decoder.read_flag();
        refresh_altref = decoder.read_flag();
        if !refresh_golden {
            copy_to_golden = decoder.read_literal(2) as u8;
        }
        if !refresh_altref {
            copy_to_altref = decoder.read_literal(2) as u8;
        }
        sign_bias_golden = decoder.read_flag();
        sign_bias_altref = decoder.read_flag();
    }
    if copy_to_golden == 3 || copy_to_altref == 3 {
        return Err(DecodeError::InvalidBufferCopy);
    }
    let refresh_entropy_probs = decoder.read_flag();
    let refresh_last = key_frame || decoder.read_flag();

    for (block_type, update_block) in COEFFICIENT_UPDATE_PROBABILITIES.iter().enumerate() {
        for (band, update_band) in update_block.iter().enumerate() {
            for (context, update_context) in update_band.iter().enumerate() {
                for (node, &update_probability) in update_context.iter().enumerate() {
                    if decoder.read_bool(update_probability) {
                        probabilities.coefficients[block_type][band][context][node] =
                            decoder.read_literal(8) as u8;
                    }
                }
            }
        }
    }

    let macroblock_skip_enabled = decoder.read_flag();
    let prob_skip_false = if macroblock_skip_enabled {
        decoder.read_literal(8) as u8
    } else {
        0
    };
    let (mut prob_intra, mut prob_last, mut prob_golden) = (0, 0, 0);
    if !key_frame {
        prob_intra = decoder.read_literal(8) as u8;
        prob_last = decoder.read_literal(8) as u8;
        prob_golden = decoder.read_literal(8) as u8;
        if decoder.read_flag() {
            for probability in probabilities.luma_modes.iter_mut() {
                *probability = decoder.read_literal(8) as u8;
            }
        }
        if decoder.read_flag() {
            for probability in probabilities.chroma_modes.iter_mut() {
                *probability = decoder.read_literal(8) as u8;
            }
        }
        for (component, update_component) in MV_UPDATE_PROBABILITIES.iter().enumerate() {
            for (index, &update_probability) in update_component.iter().enumerate() {
                if decoder.read_bool(update_probability) {
                    let value = decoder.read_literal(7) as u8;
                    probabilities.mv[component][index] = if value == 0 { 1 } else { value << 1 };
                }
            }
        }
    }

    let header = FrameHeader {
        key_frame,
        version,
        show_frame,
        first_partition_size,
        width,
        height,
        horizontal_scale,
        vertical_scale,
        color_space,
        clamping_type,
        segmentation,
        filter_type,
        filter_level,
        sharpness,
        loop_filter_deltas_enabled,
        loop_filter_deltas_update,
        loop_filter_deltas,
        partition_count,
        quantizer,
        refresh_golden,
        refresh_altref,
        copy_to_golden,
        copy_to_altref,
        sign_bias_golden,
        sign_bias_altref,
        refresh_entropy_probs,
        refresh_last,
        probabilities,
        macroblock_skip_enabled,
        prob_skip_false,
        prob_intra,
        prob_last,
        prob_golden,
    };
    Ok(FrameParts {
        header,
        modes: decoder,
        token_partitions,
    })
}
