//! SSIM and PSNR checked against ffmpeg's `ssim` and `psnr` filters on the real clip.

mod common;

use std::path::{Path, PathBuf};

const WIDTH: usize = 640;
const HEIGHT: usize = 360;
const FRAMES: usize = 24;
const FRAME_BYTES: usize = WIDTH * HEIGHT * 3 / 2;
const CLIP: &str = "video/pexels_wolfganglanger_640x360_24p_240f.y4m";

fn luma_planes(raw: &Path) -> Vec<Vec<u8>> {
    let bytes = std::fs::read(raw).expect("read raw video");
    assert_eq!(
        bytes.len() % FRAME_BYTES,
        0,
        "raw video is whole I420 frames"
    );
    bytes
        .chunks(FRAME_BYTES)
        .map(|frame| frame[..WIDTH * HEIGHT].to_vec())
        .collect()
}

/// Values of `key` (e.g. "Y:" or "psnr_y:") in each line of an ffmpeg stats file.
fn stats_values(stats: &Path, key: &str) -> Vec<f64> {
    std::fs::read_to_string(stats)
        .expect("read ffmpeg stats")
        .lines()
        .map(|line| {
            let field = line
                .split_whitespace()
                .find_map(|field| field.strip_prefix(key))
                .unwrap_or_else(|| panic!("no {key} in stats line {line}"));
            field.parse().expect("stats value is a number")
        })
        .collect()
}

/// Decodes the first frames of `input_arguments` (ffmpeg input options and filters) to raw I420.
fn decode_to_raw(input_arguments: &[&str], output: &Path) {
    let frames = FRAMES.to_string();
    let mut arguments = input_arguments.to_vec();
    arguments.extend_from_slice(&[
        "-frames:v",
        &frames,
        "-f",
        "rawvideo",
        "-pix_fmt",
        "yuv420p",
    ]);
    arguments.push(output.to_str().unwrap());
    common::ffmpeg(&arguments);
}

/// Runs ffmpeg's `filter` (ssim or psnr) on two raw videos, writing per-frame stats.
fn ffmpeg_stats(distorted: &Path, reference: &Path, filter: &str, stats: &Path) {
    let size = format!("{WIDTH}x{HEIGHT}");
    let graph = format!("[0:v][1:v]{filter}=stats_file={}", stats.display());
    let mut arguments = Vec::new();
    for input in [distorted, reference] {
        arguments.extend_from_slice(&["-f", "rawvideo", "-pix_fmt", "yuv420p", "-s", &size]);
        arguments.extend_from_slice(&["-i", input.to_str().unwrap()]);
    }
    arguments.extend_from_slice(&["-lavfi", &graph, "-f", "null", "-"]);
    common::ffmpeg(&arguments);
}

fn compare_with_ffmpeg(dir: &Path, distorted_input: &[&str]) {
    let clip = common::shared_file(CLIP);
    let reference = dir.join("reference.yuv");
    let distorted = dir.join("distorted.yuv");
    decode_to_raw(&["-i", clip.to_str().unwrap()], &reference);
    decode_to_raw(distorted_input, &distorted);
    let ssim_stats = dir.join("ssim.txt");
    let psnr_stats = dir.join("psnr.txt");
    ffmpeg_stats(&distorted, &reference, "ssim", &ssim_stats);
    ffmpeg_stats(&distorted, &reference, "psnr", &psnr_stats);

    let reference_planes = luma_planes(&reference);
    let distorted_planes = luma_planes(&distorted);
    let ffmpeg_ssim = stats_values(&ssim_stats, "Y:");
    let ffmpeg_psnr = stats_values(&psnr_stats, "psnr_y:");
    for count in [
        reference_planes.len(),
        distorted_planes.len(),
        ffmpeg_ssim.len(),
        ffmpeg_psnr.len(),
    ] {
        assert_eq!(count, FRAMES);
    }
    let mut worst_ssim_error: f64 = 0.0;
    for (index, (reference, distorted)) in
        reference_planes.iter().zip(&distorted_planes).enumerate()
    {
        let ssim = testbed::metrics::ssim_luma(reference, distorted, WIDTH, HEIGHT);
        let psnr = testbed::metrics::psnr_luma(reference, distorted, WIDTH, HEIGHT);
        assert!(
            ssim < 0.995,
            "frame {index}: the distortion must be visible (ssim {ssim})"
        );
        let ssim_error = (ssim - ffmpeg_ssim[index]).abs();
        worst_ssim_error = worst_ssim_error.max(ssim_error);
        assert!(
            ssim_error < 0.001,
            "frame {index}: ssim {ssim} vs ffmpeg {}",
            ffmpeg_ssim[index]
        );
        // ffmpeg prints PSNR with two decimals.
        assert!(
            (psnr - ffmpeg_psnr[index]).abs() < 0.01,
            "frame {index}: psnr {psnr} vs ffmpeg {}",
            ffmpeg_psnr[index]
        );
    }
    println!("worst |ssim - ffmpeg| = {worst_ssim_error:.2e}");
}

fn clip_path() -> PathBuf {
    common::shared_file(CLIP)
}

#[test]
fn ssim_and_psnr_match_ffmpeg_on_noisy_clip() {
    let dir = common::temp_dir("noise");
    let clip = clip_path();
    compare_with_ffmpeg(
        &dir,
        &["-i", clip.to_str().unwrap(), "-vf", "noise=alls=24:allf=t"],
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn ssim_and_psnr_match_ffmpeg_on_mpeg4_round_trip() {
    let dir = common::temp_dir("mpeg4");
    let clip = clip_path();
    let encoded = dir.join("coarse.avi");
    let frames = FRAMES.to_string();
    common::ffmpeg(&[
        "-i",
        clip.to_str().unwrap(),
        "-frames:v",
        &frames,
        "-c:v",
        "mpeg4",
        "-q:v",
        "10",
        encoded.to_str().unwrap(),
    ]);
    compare_with_ffmpeg(&dir, &["-i", encoded.to_str().unwrap()]);
    let _ = std::fs::remove_dir_all(&dir);
}
