//! Video quality and delay metrics, defined as the Salsify evaluation defines them.
//!
//! - [`ssim_luma`] follows the structural similarity index of Wang et al. with the windowing that
//!   ffmpeg's `ssim` filter uses (8x8 windows whose corners lie on a 4-pixel grid, all windows
//!   weighted equally), so its numbers can be compared with published ffmpeg results.
//! - [`ssim_db`] converts an SSIM to decibels, `-10 log10(1 - SSIM)`.
//! - [`psnr_luma`] is the peak signal-to-noise ratio of one 8-bit plane.
//! - [`frame_delays`] computes per-frame delay: the display time of the first shown frame at or
//!   after a source frame, minus that source frame's capture time (a frame never shown inherits the
//!   display time of the next frame that is).

/// The SSIM stabilising constant `c1 = (0.01 * 255)^2`, scaled by 64 * 64 because the window
/// statistics below are kept as sums over 64 pixels rather than means.
const SSIM_C1: f64 = 0.01 * 0.01 * 255.0 * 255.0 * 64.0 * 64.0;
/// The SSIM stabilising constant `c2 = (0.03 * 255)^2`, scaled by 64 * 63 (sums over 64 pixels and
/// the unbiased variance estimate over 63 degrees of freedom).
const SSIM_C2: f64 = 0.03 * 0.03 * 255.0 * 255.0 * 64.0 * 63.0;

/// Sums over one 4x4 block of the two planes: sum of reference pixels, sum of distorted pixels,
/// sum of squares of both, and sum of products.
#[derive(Clone, Copy, Default)]
struct BlockSums {
    reference: u64,
    distorted: u64,
    squares: u64,
    products: u64,
}

impl BlockSums {
    fn add(self, other: BlockSums) -> BlockSums {
        BlockSums {
            reference: self.reference + other.reference,
            distorted: self.distorted + other.distorted,
            squares: self.squares + other.squares,
            products: self.products + other.products,
        }
    }
}

fn check_planes(reference: &[u8], distorted: &[u8], width: usize, height: usize) {
    let needed = width
        .checked_mul(height)
        .expect("plane dimensions overflow usize");
    assert!(
        reference.len() >= needed && distorted.len() >= needed,
        "planes must hold width * height = {needed} bytes (reference has {}, distorted has {})",
        reference.len(),
        distorted.len()
    );
}

/// SSIM of one window from its sums over `pixels` pixels, with constants scaled for 64 pixels.
fn window_ssim(sums: BlockSums, pixels: f64) -> f64 {
    let s1 = sums.reference as f64;
    let s2 = sums.distorted as f64;
    let squares = sums.squares as f64;
    let products = sums.products as f64;
    let scale = pixels / 64.0;
    let (c1, c2) = (SSIM_C1 * scale * scale, SSIM_C2 * scale * scale);
    let variances = squares * pixels - s1 * s1 - s2 * s2;
    let covariance = products * pixels - s1 * s2;
    (2.0 * s1 * s2 + c1) * (2.0 * covariance + c2) / ((s1 * s1 + s2 * s2 + c1) * (variances + c2))
}

fn block_sums(
    reference: &[u8],
    distorted: &[u8],
    width: usize,
    x0: usize,
    y0: usize,
    block_width: usize,
    block_height: usize,
) -> BlockSums {
    let mut sums = BlockSums::default();
    for y in y0..y0 + block_height {
        let row = y * width;
        for x in x0..x0 + block_width {
            let a = u64::from(reference[row + x]);
            let b = u64::from(distorted[row + x]);
            sums.reference += a;
            sums.distorted += b;
            sums.squares += a * a + b * b;
            sums.products += a * b;
        }
    }
    sums
}

/// Structural similarity of two tightly packed 8-bit planes of `width x height` pixels.
///
/// 8x8 windows start on every fourth pixel in both directions (each window shares half its area
/// with its neighbours), every window is weighted equally, and pixels past the last full 4-pixel
/// row or column are ignored, as in ffmpeg's `ssim` filter. Planes smaller than 8x8 are compared
/// as a single window covering the whole plane. Returns 1.0 for identical planes.
///
/// # Panics
/// If either slice holds fewer than `width * height` bytes, or a dimension is zero.
pub fn ssim_luma(reference: &[u8], distorted: &[u8], width: usize, height: usize) -> f64 {
    check_planes(reference, distorted, width, height);
    assert!(width > 0 && height > 0, "planes must not be empty");
    let blocks_across = width / 4;
    let blocks_down = height / 4;
    if blocks_across < 2 || blocks_down < 2 {
        let sums = block_sums(reference, distorted, width, 0, 0, width, height);
        return window_ssim(sums, (width * height) as f64);
    }

    // Two rows of 4x4 block sums: the windows of one row combine 2x2 neighbouring blocks.
    let mut upper = vec![BlockSums::default(); blocks_across];
    let mut lower = vec![BlockSums::default(); blocks_across];
    let fill_row = |row: &mut [BlockSums], block_row: usize| {
        for (block_column, sums) in row.iter_mut().enumerate() {
            *sums = block_sums(
                reference,
                distorted,
                width,
                block_column * 4,
                block_row * 4,
                4,
                4,
            );
        }
    };
    fill_row(&mut lower, 0);
    let mut total = 0.0;
    for block_row in 1..blocks_down {
        std::mem::swap(&mut upper, &mut lower);
        fill_row(&mut lower, block_row);
        for column in 0..blocks_across - 1 {
            let sums = upper[column]
                .add(upper[column + 1])
                .add(lower[column])
                .add(lower[column + 1]);
            total += window_ssim(sums, 64.0);
        }
    }
    total / ((blocks_across - 1) * (blocks_down - 1)) as f64
}

/// SSIM in decibels: `-10 log10(1 - ssim)`. Identical pictures (SSIM 1) give infinity.
pub fn ssim_db(ssim: f64) -> f64 {
    -10.0 * (1.0 - ssim).log10()
}

/// Mean of several SSIM values taken in linear SSIM, then converted to decibels, as the Salsify
/// evaluation averages quality. Returns `None` for an empty list.
pub fn mean_ssim_db(ssims: &[f64]) -> Option<f64> {
    if ssims.is_empty() {
        return None;
    }
    Some(ssim_db(ssims.iter().sum::<f64>() / ssims.len() as f64))
}

/// Peak signal-to-noise ratio in dB of two tightly packed 8-bit planes (peak 255). Identical planes
/// give infinity.
///
/// # Panics
/// If either slice holds fewer than `width * height` bytes, or a dimension is zero.
pub fn psnr_luma(reference: &[u8], distorted: &[u8], width: usize, height: usize) -> f64 {
    check_planes(reference, distorted, width, height);
    assert!(width > 0 && height > 0, "planes must not be empty");
    let count = width * height;
    let squared_error: u64 = reference[..count]
        .iter()
        .zip(&distorted[..count])
        .map(|(&a, &b)| {
            let difference = i64::from(a) - i64::from(b);
            (difference * difference) as u64
        })
        .sum();
    if squared_error == 0 {
        return f64::INFINITY;
    }
    let mean_squared_error = squared_error as f64 / count as f64;
    10.0 * (255.0 * 255.0 / mean_squared_error).log10()
}

/// When one source frame was captured and, if it was, when it was shown, in milliseconds on one
/// clock.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct FrameTiming {
    /// When the sender captured the frame.
    pub capture_ms: f64,
    /// When the receiver displayed the frame, or `None` if it never did (skipped or lost).
    pub display_ms: Option<f64>,
}

/// Per-frame delay for source frames in capture order: the display time of the first shown frame
/// at or after each frame, minus its capture time. Frames after the last shown frame have no
/// delay (`None`): nothing that reveals when they would have been seen was shown.
pub fn frame_delays(frames: &[FrameTiming]) -> Vec<Option<f64>> {
    let mut delays = vec![None; frames.len()];
    let mut next_display: Option<f64> = None;
    for (index, frame) in frames.iter().enumerate().rev() {
        if let Some(display) = frame.display_ms {
            next_display = Some(display);
        }
        delays[index] = next_display.map(|display| display - frame.capture_ms);
    }
    delays
}

/// Summary of a set of delays.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DelaySummary {
    /// Number of samples summarised.
    pub count: usize,
    /// Arithmetic mean, in the samples' unit.
    pub mean: f64,
    /// 95th percentile (nearest rank: the smallest sample at or above 95 % of the samples).
    pub p95: f64,
}

/// The value at percentile `percent` (0..=100) by the nearest-rank method, or `None` when empty.
pub fn percentile(samples: &[f64], percent: f64) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    let mut sorted = samples.to_vec();
    sorted.sort_by(f64::total_cmp);
    let rank = (percent / 100.0 * sorted.len() as f64).ceil() as usize;
    Some(sorted[rank.clamp(1, sorted.len()) - 1])
}

/// Mean and p95 of the known delays (frames without a delay are left out); `None` when there are
/// none.
pub fn summarize_delays(delays: &[Option<f64>]) -> Option<DelaySummary> {
    let known: Vec<f64> = delays.iter().flatten().copied().collect();
    let p95 = percentile(&known, 95.0)?;
    Some(DelaySummary {
        count: known.len(),
        mean: known.iter().sum::<f64>() / known.len() as f64,
        p95,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gradient(width: usize, height: usize) -> Vec<u8> {
        (0..width * height)
            .map(|i| (((i % width) * 2 + i / width) % 200) as u8)
            .collect()
    }

    #[test]
    fn identical_planes_have_ssim_one_and_infinite_psnr() {
        let plane = gradient(64, 48);
        assert!((ssim_luma(&plane, &plane, 64, 48) - 1.0).abs() < 1e-12);
        assert_eq!(psnr_luma(&plane, &plane, 64, 48), f64::INFINITY);
        assert_eq!(ssim_db(1.0), f64::INFINITY);
    }

    #[test]
    fn distortion_lowers_ssim_and_psnr() {
        let plane = gradient(64, 48);
        let noisy: Vec<u8> = plane
            .iter()
            .enumerate()
            .map(|(i, &p)| p.wrapping_add(if i % 3 == 0 { 9 } else { 0 }))
            .collect();
        let ssim = ssim_luma(&plane, &noisy, 64, 48);
        assert!(ssim < 0.99 && ssim > 0.0, "ssim {ssim}");
        let psnr = psnr_luma(&plane, &noisy, 64, 48);
        // No pixel wraps (all are below 200): the squared error is 81 on one pixel in three.
        let expected = 10.0 * (255.0f64 * 255.0 / 27.0).log10();
        assert!((psnr - expected).abs() < 1e-9, "psnr {psnr}");
    }

    #[test]
    fn constant_shift_of_flat_plane_matches_closed_form() {
        // Flat planes: variances and covariance are zero, so SSIM is the luminance term only.
        let a = vec![100u8; 16 * 16];
        let b = vec![110u8; 16 * 16];
        let (m1, m2) = (100.0f64, 110.0f64);
        let c1 = (0.01f64 * 255.0).powi(2);
        let expected = (2.0 * m1 * m2 + c1) / (m1 * m1 + m2 * m2 + c1);
        assert!((ssim_luma(&a, &b, 16, 16) - expected).abs() < 1e-12);
        // Tiny planes fall back to one whole-plane window with the same answer.
        assert!((ssim_luma(&a[..12], &b[..12], 4, 3) - expected).abs() < 1e-12);
    }

    #[test]
    fn ssim_db_matches_definition() {
        assert!((ssim_db(0.9) - 10.0).abs() < 1e-12);
        assert!((ssim_db(0.99) - 20.0).abs() < 1e-9);
        assert!((mean_ssim_db(&[0.98, 1.0]).unwrap() - 20.0).abs() < 1e-9);
        assert_eq!(mean_ssim_db(&[]), None);
    }

    #[test]
    fn unshown_frames_inherit_next_display_time() {
        let frames = [
            FrameTiming {
                capture_ms: 0.0,
                display_ms: Some(50.0),
            },
            FrameTiming {
                capture_ms: 40.0,
                display_ms: None,
            },
            FrameTiming {
                capture_ms: 80.0,
                display_ms: None,
            },
            FrameTiming {
                capture_ms: 120.0,
                display_ms: Some(200.0),
            },
            FrameTiming {
                capture_ms: 160.0,
                display_ms: None,
            },
        ];
        let delays = frame_delays(&frames);
        assert_eq!(
            delays,
            vec![Some(50.0), Some(160.0), Some(120.0), Some(80.0), None]
        );
        let summary = summarize_delays(&delays).unwrap();
        assert_eq!(summary.count, 4);
        assert!((summary.mean - 102.5).abs() < 1e-12);
        assert_eq!(summary.p95, 160.0);
    }

    #[test]
    fn percentile_uses_nearest_rank() {
        let samples: Vec<f64> = (1..=100).map(f64::from).collect();
        assert_eq!(percentile(&samples, 95.0), Some(95.0));
        assert_eq!(percentile(&samples, 0.0), Some(1.0));
        assert_eq!(percentile(&samples, 100.0), Some(100.0));
        assert_eq!(percentile(&[], 50.0), None);
        assert_eq!(summarize_delays(&[None, None]), None);
    }
}
