//! Decoding a frame: parse the header and modes, then read each macroblock's coefficients and
//! reconstruct it, then build the new state. A pure function of (state, bytes).
//!
//! [`decode`] interleaves parsing and reconstruction macroblock by macroblock; [`parse`] and
//! [`reconstruct_frame`] expose the two stages separately (same result).

use crate::bool_decoder::BoolDecoder;
use crate::dequant::DequantFactors;
use crate::error::DecodeError;
use crate::header::{parse_frame, FrameHeader};
use crate::modes::{read_modes, MacroblockInfo};
use crate::picture::Picture;
use crate::reconstruct::FrameReconstructor;
use crate::state::DecoderState;
use crate::tokens::{read_macroblock, skip_macroblock, MacroblockCoefficients, TokenContext};

/// The complete syntax of a frame: what parsing produces and reconstruction consumes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FrameSyntax {
    /// The frame header.
    pub header: FrameHeader,
    /// Every macroblock's prediction syntax, in raster order.
    pub macroblocks: Vec<MacroblockInfo>,
    /// Every macroblock's dequantised coefficients, in raster order.
    pub coefficients: Vec<MacroblockCoefficients>,
}

/// Parses `data` as decoded from `state`, calling `visit` for each macroblock in raster order
/// with its syntax, and returns the header.
fn parse_with(
    state: &DecoderState,
    data: &[u8],
    mut visit: impl FnMut(&FrameHeader, usize, usize, &MacroblockInfo, &MacroblockCoefficients),
) -> Result<FrameHeader, DecodeError> {
    let mut parts = parse_frame(state, data)?;
    let header = parts.header;
    let infos = read_modes(&mut parts.modes, &header, state.segment_map())?;
    let factors = DequantFactors::for_segments(&header);
    let mut partitions: Vec<BoolDecoder> = parts
        .token_partitions
        .iter()
        .map(|data| BoolDecoder::new(data))
        .collect();
    let columns = header.macroblock_columns();
    let rows = header.macroblock_rows();
    let mut above_contexts: Vec<TokenContext> = vec![[0; 9]; columns];
    let mut coefficients = MacroblockCoefficients::default();
    for mb_y in 0..rows {
        let partition_index = mb_y % partitions.len();
        let decoder = &mut partitions[partition_index];
        let mut left_context: TokenContext = [0; 9];
        for (mb_x, above_context) in above_contexts.iter_mut().enumerate() {
            let info = &infos[mb_y * columns + mb_x];
            let has_y2 = info.mode.has_y2();
            coefficients.clear();
            if info.skip_coefficients {
                skip_macroblock(has_y2, above_context, &mut left_context);
            } else {
                read_macroblock(
                    decoder,
                    &header.probabilities.coefficients,
                    has_y2,
                    &factors[usize::from(info.segment_id & 3)],
                    above_context,
                    &mut left_context,
                    &mut coefficients,
                );
            }
            visit(&header, mb_x, mb_y, info, &coefficients);
        }
        if decoder.overran() {
            return Err(DecodeError::PartitionOverrun {
                partition: 1 + partition_index,
            });
        }
    }
    Ok(header)
}

/// Decodes one compressed frame on top of `state`. Returns the new state and, when the frame
/// is shown, the picture at display size. `state` is never modified; on error the caller
/// keeps using it.
pub fn decode(
    state: &DecoderState,
    data: &[u8],
) -> Result<(DecoderState, Option<Picture>), DecodeError> {
    let mut reconstructor: Option<FrameReconstructor> = None;
    let header = parse_with(state, data, |header, mb_x, mb_y, info, coefficients| {
        reconstructor
            .get_or_insert_with(|| FrameReconstructor::new(state, header))
            .reconstruct_macroblock(mb_x, mb_y, info, coefficients);
    })?;
    let reconstructor = reconstructor.unwrap_or_else(|| FrameReconstructor::new(state, &header));
    Ok(reconstructor.finish())
}

/// The parsing stage alone: the frame's header and per-macroblock syntax.
pub fn parse(state: &DecoderState, data: &[u8]) -> Result<FrameSyntax, DecodeError> {
    let mut macroblocks = Vec::new();
    let mut coefficients = Vec::new();
    let header = parse_with(state, data, |_, _, _, info, macroblock_coefficients| {
        macroblocks.push(*info);
        coefficients.push(macroblock_coefficients.clone());
    })?;
    Ok(FrameSyntax {
        header,
        macroblocks,
        coefficients,
    })
}

/// The reconstruction stage alone: the new state (and shown picture) from a source state and
/// a frame's syntax. `syntax` must have been parsed from (or encoded for) `source`, with one
/// entry per macroblock.
pub fn reconstruct_frame(
    source: &DecoderState,
    syntax: &FrameSyntax,
) -> (DecoderState, Option<Picture>) {
    let columns = syntax.header.macroblock_columns();
    let mut reconstructor = FrameReconstructor::new(source, &syntax.header);
    for (index, (info, coefficients)) in syntax
        .macroblocks
        .iter()
        .zip(&syntax.coefficients)
        .enumerate()
    {
        reconstructor.reconstruct_macroblock(index % columns, index / columns, info, coefficients);
    }
    reconstructor.finish()
}
