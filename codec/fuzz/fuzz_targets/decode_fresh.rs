//! Fuzzes `decode` from the empty state: any bytes give an error or a picture, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

/// Key frames declaring more than this many pixels are skipped: they exercise the same code as
/// small ones but take long enough to starve the fuzzer.
const MAX_FUZZ_PIXELS: usize = 512 * 512;

fn too_large(frame: &[u8]) -> bool {
    if frame.len() < 10 || frame[0] & 1 != 0 {
        return false;
    }
    let width = usize::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = usize::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    width * height > MAX_FUZZ_PIXELS
}

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
