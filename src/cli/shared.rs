//! What several subcommands share: where the shared test data lives, running the oracle tools,
//! and the packed luma plane the metrics take.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use anyhow::{bail, Context};
use codec::Picture;

/// The folder of shared test data: `$SALSIFY_SHARED`, else `../shared` beside the repository.
pub fn shared_dir() -> PathBuf {
    std::env::var_os("SALSIFY_SHARED")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../shared"))
}

/// The real camera clip the benchmarks and interop tests use (640x360, 4:2:0).
pub fn test_clip() -> PathBuf {
    shared_dir().join("video/pexels_wolfganglanger_640x360_24p_240f.y4m")
}

/// Runs an external tool (an oracle such as vpxenc, vpxdec or ffmpeg) and fails with its
/// standard error when it cannot start or exits unsuccessfully.
pub fn run_tool(command: &mut Command) -> anyhow::Result<Output> {
    let description = format!("{command:?}");
    let output = command
        .output()
        .with_context(|| format!("running {description} (is it installed?)"))?;
    if !output.status.success() {
        bail!(
            "{description} failed: {}",
            String::from_utf8_lossy(&output.stderr)
        );
    }
    Ok(output)
}

/// Writes the first `frames` frames of `source` (all when `None`), scaled to 1280x720 by
/// ffmpeg, as a Y4M file: the 720p operating point of the benchmarks.
pub fn upscale_to_720p(source: &Path, frames: Option<usize>, output: &Path) -> anyhow::Result<()> {
    let mut command = Command::new("ffmpeg");
    command.args(["-v", "error", "-y", "-i"]).arg(source);
    if let Some(frames) = frames {
        command.args(["-frames:v", &frames.to_string()]);
    }
    command
        .args([
            "-vf",
            "scale=1280:720",
            "-pix_fmt",
            "yuv420p",
            "-f",
            "yuv4mpegpipe",
        ])
        .arg(output);
    run_tool(&mut command)?;
    Ok(())
}

/// The visible luma of `picture`, rows packed without padding, as the metrics take it.
pub fn packed_luma(picture: &Picture) -> Vec<u8> {
    let mut luma = Vec::with_capacity(picture.width() * picture.height());
    picture.y.write_packed(&mut luma);
    luma
}
