//! Decoding a frame: parse the header and modes, then read each macroblock's coefficients and
//! reconstruct it, then build the new state. A pure function of (state, bytes).

use crate::bool_decoder::BoolDecoder;
use crate::dequant::DequantFactors;
use crate::error::DecodeError;
use crate::header::parse_frame;
use crate::modes::read_modes;
use crate::picture::Picture;
use crate::reconstruct::FrameReconstructor;
use crate::state::DecoderState;
use crate::tokens::{read_macroblock, skip_macroblock, MacroblockCoefficients, TokenContext};

/// Decodes one compressed frame on top of `state`. Returns the new state and, when the frame
/// is shown, the picture at display size. `state` is never modified; on error the caller
/// keeps using it.
pub fn decode(
    state: &DecoderState,
    data: &[u8],
) -> Result<(DecoderState, Option<Picture>), DecodeError> {
    let mut parts = parse_frame(state, data)?;
    let header = &parts.header;
    let infos = read_modes(&mut parts.modes, header, state.segment_map());
    if parts.modes.overran() {
        return Err(DecodeError::PartitionOverrun { partition: 0 });
    }

    let factors = DequantFactors::for_segments(header);
    let mut partitions: Vec<BoolDecoder> = parts
        .token_partitions
        .iter()
        .map(|data| BoolDecoder::new(data))
        .collect();
    let mut reconstructor = FrameReconstructor::new(state, header);
    let columns = reconstructor.columns();
    let rows = reconstructor.rows();
    let mut above_contexts: Vec<TokenContext> = vec![[0; 9]; columns];
    let mut coefficients = MacroblockCoefficients::default();
    for mb_y in 0..rows {
        let partition_index = mb_y % partitions.len();
        let decoder = &mut partitions[partition_index];
        let mut left_context: TokenContext = [0; 9];
        for mb_x in 0..columns {
            let info = &infos[mb_y * columns + mb_x];
            let has_y2 = info.mode.has_y2();
            coefficients.clear();
            if info.skip_coefficients {
                skip_macroblock(has_y2, &mut above_contexts[mb_x], &mut left_context);
            } else {
                read_macroblock(
                    decoder,
                    &header.probabilities.coefficients,
                    has_y2,
                    &factors[usize::from(info.segment_id & 3)],
                    &mut above_contexts[mb_x],
                    &mut left_context,
                    &mut coefficients,
                );
            }
            reconstructor.reconstruct_macroblock(mb_x, mb_y, info, &coefficients);
        }
        if decoder.overran() {
            return Err(DecodeError::PartitionOverrun {
                partition: 1 + partition_index,
            });
        }
    }
    Ok(reconstructor.finish())
}
