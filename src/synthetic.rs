//! A built-in moving test scene, so that the app and its demos run with no camera and no files.
//!
//! The scene has what a call's video has and what stresses a codec: a smooth background, a textured
//! object that moves by whole and fractional pixels, an edge-rich pattern, and mild sensor-like noise.
//! It is deterministic: frame `n` of a given size is always the same bytes.

/// One frame of 8-bit 4:2:0 video, planes tightly packed (no padding between rows).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct I420Frame {
    /// Width in pixels of the luma plane.
    pub width: usize,
    /// Height in pixels of the luma plane.
    pub height: usize,
    /// Luma, `width * height` bytes.
    pub luma: Vec<u8>,
    /// Blue-difference chroma, `(width + 1) / 2 * (height + 1) / 2` bytes.
    pub chroma_blue: Vec<u8>,
    /// Red-difference chroma, same size as `chroma_blue`.
    pub chroma_red: Vec<u8>,
}

/// Generates frames of the built-in test scene.
#[derive(Debug, Clone)]
pub struct TestScene {
    width: usize,
    height: usize,
}

impl TestScene {
    /// A scene of the given luma size; both must be at least 2.
    pub fn new(width: usize, height: usize) -> Self {
        Self {
            width: width.max(2),
            height: height.max(2),
        }
    }

    /// Frame number `index` of the scene (about 30 frames per second of motion).
    pub fn frame(&self, index: u32) -> I420Frame {
        let (width, height) = (self.width, self.height);
        let time = index as f64 / 30.0;
        let mut luma = vec![0u8; width * height];
        // The moving disc's centre follows a Lissajous path; its texture moves with it.
        let centre_x = width as f64 * (0.5 + 0.3 * (time * 0.9).sin());
        let centre_y = height as f64 * (0.5 + 0.25 * (time * 1.3).cos());
        let radius = width.min(height) as f64 * 0.22;
        // A striped band scrolls sideways by a fractional number of pixels per frame.
        let band_top = height * 3 / 4;
        let band_shift = time * 37.5;
        let mut noise = NoiseSource::new(index);
        for row in 0..height {
            for column in 0..width {
                let x = column as f64;
                let y = row as f64;
                let mut value =
                    40.0 + 120.0 * (x / width as f64) * 0.6 + 60.0 * (y / height as f64);
                let dx = x - centre_x;
                let dy = y - centre_y;
                if dx * dx + dy * dy < radius * radius {
                    let texture = ((dx * 0.35).sin() * (dy * 0.35).cos()) * 40.0;
                    value = 170.0 + texture;
                }
                if row >= band_top {
                    let phase = (x + band_shift) * std::f64::consts::PI / 8.0;
                    value = if phase.sin() > 0.0 { 210.0 } else { 50.0 };
                }
                value += noise.next_offset();
                luma[row * width + column] = value.round().clamp(0.0, 255.0) as u8;
            }
        }
        let chroma_width = width.div_ceil(2);
        let chroma_height = height.div_ceil(2);
        let mut chroma_blue = vec![0u8; chroma_width * chroma_height];
        let mut chroma_red = vec![0u8; chroma_width * chroma_height];
        for row in 0..chroma_height {
            for column in 0..chroma_width {
                let x = (column * 2) as f64;
                let y = (row * 2) as f64;
                let dx = x - centre_x;
                let dy = y - centre_y;
                let inside = dx * dx + dy * dy < radius * radius;
                let index = row * chroma_width + column;
                chroma_blue[index] = if inside {
                    90
                } else {
                    (110.0 + 30.0 * x / width as f64) as u8
                };
                chroma_red[index] = if inside {
                    170
                } else {
                    (140.0 - 20.0 * y / height as f64) as u8
                };
            }
        }
        I420Frame {
            width,
            height,
            luma,
            chroma_blue,
            chroma_red,
        }
    }
}

/// A tiny deterministic generator of small offsets, standing in for camera noise.
struct NoiseSource {
    state: u64,
}

impl NoiseSource {
    fn new(seed: u32) -> Self {
        Self {
            state: 0x9E37_79B9_7F4A_7C15 ^ u64::from(seed).wrapping_mul(0xD1B5_4A32_D192_ED03),
        }
    }

    /// An offset of -1, 0 or 1, zero half of the time.
    fn next_offset(&mut self) -> f64 {
        self.state ^= self.state << 13;
        self.state ^= self.state >> 7;
        self.state ^= self.state << 17;
        match self.state >> 62 {
            0 => -1.0,
            1 => 1.0,
            _ => 0.0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn frames_are_deterministic_and_move() {
        let scene = TestScene::new(65, 37);
        let first = scene.frame(3);
        assert_eq!(first, scene.frame(3));
        assert_eq!(first.luma.len(), 65 * 37);
        assert_eq!(first.chroma_blue.len(), 33 * 19);
        let later = scene.frame(10);
        let changed = first
            .luma
            .iter()
            .zip(&later.luma)
            .filter(|(a, b)| a.abs_diff(**b) > 8)
            .count();
        assert!(changed > 65 * 37 / 20, "only {changed} pixels changed");
    }
}
