//! Fuzzes `decode` from a mid-stream state (references, probabilities and segmentation set up
//! by decoding the start of a conformance stream), so inter-frame paths are reached.
#![no_main]

use std::sync::OnceLock;

use codec::DecoderState;
use libfuzzer_sys::fuzz_target;

mod conformance_states;
mod frame_size;
use conformance_states::states_after;
use frame_size::too_large;

fn midstream_states() -> &'static Vec<DecoderState> {
    static STATES: OnceLock<Vec<DecoderState>> = OnceLock::new();
    STATES.get_or_init(|| {
        // The state after the fifth frame of each stream.
        let names = [
            "vp80-03-segmentation-1401.ivf",
            "vp80-00-comprehensive-007.ivf",
        ];
        states_after(&names, 5)
            .into_iter()
            .skip(4)
            .step_by(5)
            .collect()
    })
}

fuzz_target!(|data: &[u8]| {
    let states = midstream_states();
    let Some((&selector, frame)) = data.split_first() else {
        return;
    };
    if too_large(frame) {
        return;
    }
    let state = &states[usize::from(selector) % states.len()];
    let id = state.id();
    let _ = codec::decode(state, frame);
    assert_eq!(state.id(), id, "input state changed");
});
