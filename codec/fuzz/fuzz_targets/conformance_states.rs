//! Decoder states part-way through conformance streams, shared by the fuzz targets that start
//! from a mid-stream state (references, adapted probabilities, segmentation and loop-filter
//! deltas set up by another encoder).

use std::path::PathBuf;

use codec::ivf::IvfReader;
use codec::DecoderState;

/// The state after each of the first `frames` frames of every stream in `names` (files in
/// `vp8-test-vectors` under `$SALSIFY_SHARED`, or `../shared` beside the repository).
pub fn states_after(names: &[&str], frames: usize) -> Vec<DecoderState> {
    let shared = std::env::var_os("SALSIFY_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared"));
    let mut states = Vec::new();
    for name in names {
        let path = shared.join("vp8-test-vectors").join(name);
        let file = std::fs::File::open(&path)
            .unwrap_or_else(|error| panic!("{}: {error} (set SALSIFY_SHARED)", path.display()));
        let mut state = DecoderState::new();
        for frame in IvfReader::new(std::io::BufReader::new(file))
            .unwrap()
            .take(frames)
        {
            state = codec::decode(&state, &frame.unwrap().data).unwrap().0;
            states.push(state.clone());
        }
    }
    states
}
