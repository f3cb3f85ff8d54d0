//! Encoding from states another encoder left behind (conformance streams part-way through:
//! segmentation, loop-filter deltas, adapted probabilities): every frame's target state must be
//! exactly what decoding it from that state gives.

mod common;

use codec::encoder::{encode, Effort, EncodeParams};
use codec::{decode, DecoderState, Picture};

fn states_of(name: &str, count: usize) -> Vec<DecoderState> {
    let mut state = DecoderState::new();
    let mut states = Vec::new();
    for frame in common::read_ivf(&common::vectors_dir().join(name))
        .iter()
        .take(count)
    {
        state = decode(&state, frame).unwrap().0;
        states.push(state.clone());
    }
    states
}

fn gradient(width: usize, height: usize, seed: u8) -> Picture {
    let chroma = width.div_ceil(2) * height.div_ceil(2);
    let bytes: Vec<u8> = (0..width * height + 2 * chroma)
        .map(|index| ((index % width) as u8).wrapping_mul(3).wrapping_add(seed))
        .collect();
    Picture::from_i420(width, height, &bytes).unwrap()
}

fn check(state: &DecoderState, picture: &Picture, params: &EncodeParams) {
    let frame = encode(state, picture, params).unwrap();
    let (decoded, shown) = decode(state, &frame.bytes).unwrap();
    let parts = |state: &DecoderState| {
        let parts = state.parts();
        (
            parts.probabilities,
            parts.segmentation,
            parts.loop_filter_deltas,
        )
    };
    assert_eq!(parts(&decoded), parts(&frame.target), "{params:?}");
    assert_eq!(
        decoded.parts().segment_map,
        frame.target.parts().segment_map,
        "segment map {params:?}"
    );
    let pictures = |state: &DecoderState| {
        let references = state.parts().references.clone().unwrap();
        [
            references.last.picture().clone(),
            references.golden.picture().clone(),
            references.altref.picture().clone(),
        ]
    };
    let (ours, theirs) = (pictures(&frame.target), pictures(&decoded));
    for (index, (a, b)) in ours.iter().zip(&theirs).enumerate() {
        if a != b {
            let rows = (0..a.y.height)
                .filter(|&row| a.y.row(row) != b.y.row(row))
                .count();
            panic!("reference {index} differs ({rows} luma rows) {params:?}");
        }
    }
    assert!(decoded == frame.target, "{params:?}");
    assert_eq!(shown.as_ref(), Some(&frame.picture()));
}

#[test]
fn frames_encoded_from_mid_stream_states_decode_to_their_targets() {
    for name in [
        "vp80-03-segmentation-1401.ivf",
        "vp80-00-comprehensive-007.ivf",
        "vp80-02-inter-1412.ivf",
    ] {
        for state in states_of(name, 6) {
            let picture = gradient(state.width(), state.height(), 137);
            for effort in [Effort::Fast, Effort::Balanced, Effort::Thorough] {
                for (quantizer, loop_filter_level) in [(127, Some(59)), (20, None)] {
                    for refresh in [false, true] {
                        let params = EncodeParams {
                            quantizer,
                            keyframe: false,
                            loop_filter_level,
                            refresh_golden: refresh,
                            refresh_altref: refresh,
                            effort,
                        };
                        check(&state, &picture, &params);
                    }
                }
            }
        }
    }
}
