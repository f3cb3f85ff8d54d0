//! Fuzzes `decode` from a mid-stream state (references, probabilities and segmentation set up
//! by decoding the start of a conformance stream), so inter-frame paths are reached.
#![no_main]

use std::path::PathBuf;
use std::sync::OnceLock;

use codec::ivf::IvfReader;
use codec::DecoderState;
use libfuzzer_sys::fuzz_target;

mod frame_size;
use frame_size::too_large;

fn midstream_states() -> &'static Vec<DecoderState> {
    static STATES: OnceLock<Vec<DecoderState>> = OnceLock::new();
    STATES.get_or_init(|| {
        let shared = std::env::var_os("SALSIFY_SHARED")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
        let mut states = Vec::new();
        for name in [
            "vp80-03-segmentation-1401.ivf",
            "vp80-00-comprehensive-007.ivf",
        ] {
            let path = shared.join("vp8-test-vectors").join(name);
            let file = std::fs::File::open(&path)
                .unwrap_or_else(|error| panic!("{}: {error} (set SALSIFY_SHARED)", path.display()));
            let mut state = DecoderState::new();
            for frame in IvfReader::new(std::io::BufReader::new(file))
                .unwrap()
                .take(5)
            {
                state = codec::decode(&state, &frame.unwrap().data).unwrap().0;
            }
            states.push(state);
        }
        states
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
