//! Window, renderer, camera and audio for salsify calls.
//!
//! This crate starts with the colour conversion every display path shares: the renderer's shader
//! must agree with [`i420_to_rgba`], the CPU reference.

/// Converts one BT.601 limited-range I420 pixel triple to RGB, rounding to nearest.
///
/// This is the reference the GPU shader is checked against.
pub fn yuv_to_rgb(y: u8, u: u8, v: u8) -> [u8; 3] {
    let c = i32::from(y) - 16;
    let d = i32::from(u) - 128;
    let e = i32::from(v) - 128;
    let clamp = |x: i32| ((x + 128) >> 8).clamp(0, 255) as u8;
    [
        clamp(298 * c + 409 * e),
        clamp(298 * c - 100 * d - 208 * e),
        clamp(298 * c + 516 * d),
    ]
}

/// Converts a packed I420 frame (`width` x `height` luma, chroma at half size rounded up) to
/// tightly packed RGBA, so that a frame can be shown or saved without the GPU.
///
/// Returns `None` when `frame` is shorter than an I420 frame of that size.
pub fn i420_to_rgba(frame: &[u8], width: usize, height: usize) -> Option<Vec<u8>> {
    let chroma_width = width.div_ceil(2);
    let chroma_height = height.div_ceil(2);
    let luma_size = width * height;
    let chroma_size = chroma_width * chroma_height;
    if frame.len() < luma_size + 2 * chroma_size {
        return None;
    }
    let (luma, chroma) = frame.split_at(luma_size);
    let (u_plane, v_plane) = chroma.split_at(chroma_size);
    let mut rgba = Vec::with_capacity(luma_size * 4);
    for row in 0..height {
        for column in 0..width {
            let chroma_index = (row / 2) * chroma_width + column / 2;
            let [r, g, b] = yuv_to_rgb(
                luma[row * width + column],
                u_plane[chroma_index],
                v_plane[chroma_index],
            );
            rgba.extend_from_slice(&[r, g, b, 255]);
        }
    }
    Some(rgba)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limited_range_black_and_white_map_to_full_range() {
        assert_eq!(yuv_to_rgb(16, 128, 128), [0, 0, 0]);
        assert_eq!(yuv_to_rgb(235, 128, 128), [255, 255, 255]);
    }

    #[test]
    fn short_frame_is_rejected() {
        assert!(i420_to_rgba(&[0; 5], 2, 2).is_none());
        let frame = i420_to_rgba(&[16, 16, 16, 16, 128, 128], 2, 2).unwrap();
        assert_eq!(frame, [0, 0, 0, 255].repeat(4));
    }
}
