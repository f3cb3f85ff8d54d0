//! The size guard the decode fuzz targets share.

/// Key frames declaring more than this many pixels are skipped: they exercise the same code as
/// small ones but take long enough to starve the fuzzer.
const MAX_FUZZ_PIXELS: usize = 512 * 512;

/// Whether `frame` is a key frame declaring more than [`MAX_FUZZ_PIXELS`] pixels.
pub fn too_large(frame: &[u8]) -> bool {
    if frame.len() < 10 || frame[0] & 1 != 0 {
        return false;
    }
    let width = usize::from(u16::from_le_bytes([frame[6], frame[7]]) & 0x3fff);
    let height = usize::from(u16::from_le_bytes([frame[8], frame[9]]) & 0x3fff);
    width * height > MAX_FUZZ_PIXELS
}
