//! Dequantisation factors (RFC 6386 section 14.1), per segment.

use crate::header::FrameHeader;
use crate::tables::{AC_QUANT, DC_QUANT};

/// The DC and AC dequantisation factors of the three coefficient kinds.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct DequantFactors {
    /// Luma blocks: DC, AC.
    pub y1: [i16; 2],
    /// The second-order Y2 block: DC, AC.
    pub y2: [i16; 2],
    /// Chroma blocks: DC, AC.
    pub uv: [i16; 2],
}

fn clamp_index(index: i32) -> usize {
    index.clamp(0, 127) as usize
}

impl DequantFactors {
    /// Factors for base quantiser index `q` and the header's deltas.
    pub fn new(q: i32, header: &FrameHeader) -> Self {
        let deltas = &header.quantizer;
        let y2_ac = (AC_QUANT[clamp_index(q + i32::from(deltas.y2_ac_delta))] * 101581) >> 16;
        DequantFactors {
            y1: [
                DC_QUANT[clamp_index(q + i32::from(deltas.y_dc_delta))] as i16,
                AC_QUANT[clamp_index(q)] as i16,
            ],
            y2: [
                (DC_QUANT[clamp_index(q + i32::from(deltas.y2_dc_delta))] * 2) as i16,
                y2_ac.max(8) as i16,
            ],
            uv: [
                DC_QUANT[clamp_index(q + i32::from(deltas.uv_dc_delta))].min(132) as i16,
                AC_QUANT[clamp_index(q + i32::from(deltas.uv_ac_delta))] as i16,
            ],
        }
    }

    /// Factors of each of the four segments (all equal without segmentation).
    pub fn for_segments(header: &FrameHeader) -> [DequantFactors; 4] {
        let base = i32::from(header.quantizer.y_ac);
        let segmentation = &header.segmentation;
        std::array::from_fn(|segment| {
            let q = if segmentation.enabled {
                let value = i32::from(segmentation.values.quantizer[segment]);
                if segmentation.values.absolute_values {
                    value
                } else {
                    base + value
                }
            } else {
                base
            };
            DequantFactors::new(q.clamp(0, 127), header)
        })
    }
}
