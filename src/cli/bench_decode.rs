//! `salsify bench-decode`: encodes the test clip (and a 1280x720 upscale of it) with vpxenc in
//! WebRTC's real-time configuration, then decodes each stream with our decoder (in-process) and
//! with `vpxdec --noblit -t 1` (a subprocess), and prints frames per second and their ratio.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{bail, Context};
use codec::ivf::IvfReader;
use codec::{decode, DecoderState};
use md5::{Digest, Md5};

use crate::cli::shared::{run_tool, test_clip, upscale_to_720p};

/// Arguments of `salsify bench-decode`.
#[derive(Debug, clap::Args)]
pub struct BenchDecodeArgs {
    /// The source clip (Y4M); default: the shared 640x360 test clip.
    #[arg(long)]
    pub clip: Option<PathBuf>,
    /// Decoding repetitions per decoder and stream.
    #[arg(long, default_value_t = 5)]
    pub repetitions: u32,
    /// Skip the 1280x720 upscale.
    #[arg(long)]
    pub skip_720p: bool,
}

fn encode_with_vpxenc(source: &Path, output: &Path) -> anyhow::Result<()> {
    run_tool(
        Command::new("vpxenc")
            .args([
                "--codec=vp8",
                "--rt",
                "--cpu-used=-6",
                "--end-usage=cbr",
                "--target-bitrate=800",
                "--lag-in-frames=0",
                "--ivf",
                "--quiet",
                "-o",
            ])
            .arg(output)
            .arg(source),
    )?;
    Ok(())
}

fn read_frames(path: &Path) -> anyhow::Result<Vec<Vec<u8>>> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = IvfReader::new(std::io::BufReader::new(file))?;
    reader
        .map(|frame| Ok(frame?.data))
        .collect::<anyhow::Result<Vec<_>>>()
}

/// Decodes all frames once; returns the MD5 over all shown frames as packed I420.
fn decode_all(frames: &[Vec<u8>]) -> anyhow::Result<String> {
    let mut state = DecoderState::new();
    let mut hasher = Md5::new();
    for (index, frame) in frames.iter().enumerate() {
        let (next, picture) =
            decode(&state, frame).with_context(|| format!("decoding frame {index}"))?;
        state = next;
        if let Some(picture) = picture {
            hasher.update(picture.to_i420());
        }
    }
    Ok(hasher
        .finalize()
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect())
}

fn time_ours(frames: &[Vec<u8>], repetitions: u32) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repetitions {
        let start = Instant::now();
        let mut state = DecoderState::new();
        for frame in frames {
            let (next, picture) = decode(&state, frame)?;
            std::hint::black_box(&picture);
            state = next;
        }
        best = best.min(start.elapsed());
    }
    Ok(best)
}

fn time_vpxdec(path: &Path, repetitions: u32) -> anyhow::Result<Duration> {
    let mut best = Duration::MAX;
    for _ in 0..repetitions {
        let start = Instant::now();
        run_tool(
            Command::new("vpxdec")
                .args(["--codec=vp8", "--noblit", "-t", "1"])
                .arg(path),
        )?;
        best = best.min(start.elapsed());
    }
    Ok(best)
}

fn vpxdec_md5(path: &Path) -> anyhow::Result<String> {
    let output = run_tool(
        Command::new("vpxdec")
            .args(["--codec=vp8", "--md5", "--i420", "-t", "1"])
            .arg(path),
    )?;
    Ok(String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string())
}

/// CPU seconds used so far by this process and by its waited-for children (user + system),
/// from `/proc/self/stat`; `None` where that is unavailable.
fn cpu_seconds() -> Option<(f64, f64)> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    // Fields after the parenthesised command name; utime is field 14 overall.
    let fields: Vec<&str> = stat.rsplit_once(')')?.1.split_whitespace().collect();
    let tick = |index: usize| fields.get(index)?.parse::<f64>().ok();
    // Linux reports these in USER_HZ = 100 ticks per second.
    let own = (tick(11)? + tick(12)?) / 100.0;
    let children = (tick(13)? + tick(14)?) / 100.0;
    Some((own, children))
}

fn bench_stream(label: &str, path: &Path, repetitions: u32) -> anyhow::Result<()> {
    let frames = read_frames(path)?;
    let bytes: usize = frames.iter().map(Vec::len).sum();
    let ours_md5 = decode_all(&frames)?;
    let reference_md5 = vpxdec_md5(path)?;
    // Alternate the two decoders so that changes in machine load affect both alike; keep the
    // best wall-clock run of each, and sum the CPU time each used (less sensitive to load).
    let (mut ours, mut theirs) = (Duration::MAX, Duration::MAX);
    let (mut ours_cpu, mut theirs_cpu) = (Some(0.0f64), Some(0.0f64));
    for _ in 0..repetitions {
        let before = cpu_seconds();
        ours = ours.min(time_ours(&frames, 1)?);
        let middle = cpu_seconds();
        theirs = theirs.min(time_vpxdec(path, 1)?);
        let after = cpu_seconds();
        ours_cpu = ours_cpu
            .zip(before.zip(middle))
            .map(|(sum, (b, m))| sum + (m.0 - b.0));
        theirs_cpu = theirs_cpu
            .zip(middle.zip(after))
            .map(|(sum, (m, a))| sum + (a.1 - m.1));
    }
    let fps = |duration: Duration| frames.len() as f64 / duration.as_secs_f64();
    println!(
        "{label}: {} frames, {:.0} kbit/s at 24 fps, output {}",
        frames.len(),
        bytes as f64 * 8.0 * 24.0 / frames.len().max(1) as f64 / 1000.0,
        if ours_md5 == reference_md5 {
            "bit-exact with vpxdec"
        } else {
            "DIFFERS from vpxdec"
        }
    );
    println!(
        "  ours   {:8.1} fps ({:.1} ms)\n  vpxdec {:8.1} fps ({:.1} ms, subprocess incl. start-up)\n  ratio  {:.2}x vpxdec",
        fps(ours),
        ours.as_secs_f64() * 1000.0,
        fps(theirs),
        theirs.as_secs_f64() * 1000.0,
        theirs.as_secs_f64() / ours.as_secs_f64()
    );
    if let (Some(ours_cpu), Some(theirs_cpu)) = (ours_cpu, theirs_cpu) {
        let total = frames.len() as f64 * f64::from(repetitions);
        println!(
            "  CPU time: ours {:.1} fps, vpxdec {:.1} fps, ratio {:.2}x vpxdec",
            total / ours_cpu.max(1e-9),
            total / theirs_cpu.max(1e-9),
            theirs_cpu / ours_cpu.max(1e-9)
        );
    }
    if ours_md5 != reference_md5 {
        bail!("{label}: our output differs from vpxdec ({ours_md5} vs {reference_md5})");
    }
    Ok(())
}

/// Runs `salsify bench-decode`.
pub fn run(args: BenchDecodeArgs) -> anyhow::Result<()> {
    if cfg!(debug_assertions) {
        eprintln!("warning: built without optimisations; run with `cargo run --release`");
    }
    let clip = args.clip.unwrap_or_else(test_clip);
    if !clip.is_file() {
        bail!(
            "clip {} not found (set SALSIFY_SHARED or --clip)",
            clip.display()
        );
    }
    let repetitions = args.repetitions.max(1);
    let dir = std::env::temp_dir().join(format!("salsify-bench-decode-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let result = (|| -> anyhow::Result<()> {
        let small = dir.join("360p.ivf");
        encode_with_vpxenc(&clip, &small)?;
        bench_stream("640x360", &small, repetitions)?;
        if !args.skip_720p {
            let upscaled = dir.join("720p.y4m");
            upscale_to_720p(&clip, None, &upscaled)?;
            let large = dir.join("720p.ivf");
            encode_with_vpxenc(&upscaled, &large)?;
            bench_stream("1280x720", &large, repetitions)?;
        }
        Ok(())
    })();
    let _ = std::fs::remove_dir_all(&dir);
    result
}
