//! Fuzzes `decode` from the empty state: any bytes give an error or a picture, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

mod frame_size;
use frame_size::too_large;

fuzz_target!(|data: &[u8]| {
    if too_large(data) {
        return;
    }
    let state = codec::DecoderState::new();
    if let Ok((next, _)) = codec::decode(&state, data) {
        // A decoded key frame must also accept the same bytes again, identically.
        let (again, _) = codec::decode(&state, data).expect("decoding is deterministic");
        assert_eq!(next.id(), again.id());
    }
});
