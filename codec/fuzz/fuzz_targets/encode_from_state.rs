//! Fuzzes `encode` from arbitrary saved states: a fresh state, or states mid-way through
//! conformance streams (segmentation, loop-filter deltas and adapted probabilities set up by
//! another encoder), with an arbitrary picture and parameters. Every encode must succeed or
//! return a typed error, and its target state must be exactly what decoding its bytes from the
//! source state gives.
#![no_main]

use std::sync::OnceLock;

use codec::encoder::{encode, Effort, EncodeParams};
use codec::{DecoderState, Picture};
use libfuzzer_sys::fuzz_target;

mod conformance_states;
use conformance_states::states_after;

fn states() -> &'static Vec<DecoderState> {
    static STATES: OnceLock<Vec<DecoderState>> = OnceLock::new();
    STATES.get_or_init(|| {
        let names = [
            "vp80-03-segmentation-1401.ivf",
            "vp80-00-comprehensive-007.ivf",
            "vp80-02-inter-1412.ivf",
        ];
        let mut states = vec![DecoderState::new()];
        states.extend(states_after(&names, 6));
        states
    })
}

fuzz_target!(|data: &[u8]| {
    let states = states();
    if data.len() < 6 {
        return;
    }
    let state = &states[usize::from(data[0]) % states.len()];
    let flags = data[1];
    let params = EncodeParams {
        quantizer: data[2] & 127,
        keyframe: flags & 1 != 0,
        loop_filter_level: (flags & 2 != 0).then_some(data[3] & 63),
        refresh_golden: flags & 4 != 0,
        refresh_altref: flags & 8 != 0,
        effort: match (flags >> 4) % 3 {
            0 => Effort::Fast,
            1 => Effort::Balanced,
            _ => Effort::Thorough,
        },
    };
    // Mostly the state's own size (inter frames), sometimes a small new one (a key frame).
    let (width, height) = if flags & 0x80 == 0 && state.width() > 0 {
        (state.width(), state.height())
    } else {
        (usize::from(data[4] % 48) + 1, usize::from(data[5] % 48) + 1)
    };
    let pixels = &data[6..];
    let chroma = width.div_ceil(2) * height.div_ceil(2);
    let mut bytes = vec![0u8; width * height + 2 * chroma];
    for (index, value) in bytes.iter_mut().enumerate() {
        // Smooth gradients plus the fuzzer's bytes, so prediction has something to find.
        let seed = pixels
            .get(index % pixels.len().max(1))
            .copied()
            .unwrap_or(0);
        *value = ((index % width) as u8).wrapping_mul(3).wrapping_add(seed);
    }
    let picture = Picture::from_i420(width, height, &bytes).expect("a well-formed picture");
    let frame = encode(state, &picture, &params).expect("valid parameters encode");
    let (decoded_state, decoded_picture) =
        codec::decode(state, &frame.bytes).expect("our own frame decodes");
    assert!(
        decoded_state == frame.target,
        "target state differs from the decoder's"
    );
    assert_eq!(frame.source, state.id());
    assert_eq!(decoded_picture.as_ref(), Some(&frame.picture()));
});
