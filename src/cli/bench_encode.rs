//! `salsify bench-encode`: our encoder against `vpxenc` (WebRTC's real-time settings) on the
//! same clip, in one run: speed, bit rate and SSIM at several operating points, the speed
//! ratio at equal quality and the BD-rate, plus the Salsify workload (two candidates per frame).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use anyhow::{bail, Context};
use clap::Args;
use codec::encoder::{encode, encode_candidates, Effort, EncodeParams};
use codec::ivf::IvfReader;
use codec::y4m::Y4mReader;
use codec::{decode, DecoderState, Picture};

use crate::cli::shared::{packed_luma, test_clip, upscale_to_720p};

/// Arguments of `salsify bench-encode`.
#[derive(Debug, Args)]
pub struct BenchEncodeArgs {
    /// Input clip (Y4M); defaults to the shared test clip.
    #[arg(long)]
    pub input: Option<PathBuf>,
    /// Frames to encode per operating point; the whole clip by default.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Our quantizer indices (one operating point each).
    #[arg(long, value_delimiter = ',', default_value = "4,16,32,56,92")]
    pub quantizers: Vec<u8>,
    /// Skip the 1280x720 upscale.
    #[arg(long)]
    pub skip_720p: bool,
    /// Our encoder's effort: fast, balanced or thorough. Balanced, our real-time effort, is
    /// the peer of vpxenc's real-time settings.
    #[arg(long, value_enum, default_value = "balanced")]
    pub effort: EffortArg,
    /// Timed runs per operating point, alternating between our encoder and vpxenc; the fastest
    /// of each counts (other load only slows a run down). Encoder speeds are frames per CPU
    /// second (ours: the encoding thread; vpxenc: the child process), which other load on the
    /// machine disturbs far less than wall-clock time. Five runs: on a shared machine a slow
    /// spell can span two or three runs of one encoder.
    #[arg(long, default_value_t = 5)]
    pub repetitions: usize,
}

/// The encoder efforts, as command-line values.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum EffortArg {
    /// Whole-block intra modes and whole-pixel vectors.
    Fast,
    /// Adds quarter-pixel vectors: the real-time effort.
    Balanced,
    /// Everything the encoder can try.
    Thorough,
}

impl From<EffortArg> for Effort {
    fn from(effort: EffortArg) -> Self {
        match effort {
            EffortArg::Fast => Effort::Fast,
            EffortArg::Balanced => Effort::Balanced,
            EffortArg::Thorough => Effort::Thorough,
        }
    }
}

/// CPU time (user plus system, seconds) used so far by the calling thread
/// (`libc::RUSAGE_THREAD`) or by the child processes waited for (`libc::RUSAGE_CHILDREN`).
///
/// Speeds are compared in CPU time: on a shared machine other load stretches wall-clock
/// time much more than the CPU time a single-threaded encoder needs.
fn cpu_seconds(who: libc::c_int) -> f64 {
    let mut usage = std::mem::MaybeUninit::<libc::rusage>::zeroed();
    // SAFETY: `getrusage` only writes a `rusage` into the pointer it is given, which points to
    // zeroed storage of that type.
    let result = unsafe { libc::getrusage(who, usage.as_mut_ptr()) };
    if result != 0 {
        return 0.0;
    }
    // SAFETY: the call succeeded, so it filled the structure (which was zeroed before anyway).
    let usage = unsafe { usage.assume_init() };
    let seconds = |time: libc::timeval| time.tv_sec as f64 + time.tv_usec as f64 / 1e6;
    seconds(usage.ru_utime) + seconds(usage.ru_stime)
}

/// One encoder run at one operating point.
#[derive(Debug, Clone, Copy)]
struct OperatingPoint {
    /// Frames per CPU second (the fastest repetition).
    frames_per_second: f64,
    kilobits_per_second: f64,
    ssim_db: f64,
}

fn read_pictures(path: &Path, limit: Option<usize>) -> anyhow::Result<(Vec<Picture>, f64)> {
    let file = std::fs::File::open(path).with_context(|| format!("opening {}", path.display()))?;
    let reader = Y4mReader::new(std::io::BufReader::new(file))?;
    let header = reader.header().clone();
    let rate =
        f64::from(header.frame_rate_numerator) / f64::from(header.frame_rate_denominator.max(1));
    let pictures = reader
        .take(limit.unwrap_or(usize::MAX))
        .collect::<Result<Vec<_>, _>>()?;
    if pictures.is_empty() {
        bail!("{} has no frames", path.display());
    }
    Ok((pictures, rate))
}

/// SSIM of a decoded picture's luma against its source.
fn luma_ssim(source: &Picture, decoded: &Picture) -> f64 {
    testbed::metrics::ssim_luma(
        &packed_luma(source),
        &packed_luma(decoded),
        source.width(),
        source.height(),
    )
}

/// Each decoded picture's SSIM against its source.
fn ssims_of(sources: &[Picture], decoded: &[Picture]) -> Vec<f64> {
    sources
        .iter()
        .zip(decoded)
        .map(|(source, picture)| luma_ssim(source, picture))
        .collect()
}

/// Mean SSIM (dB, averaged in linear SSIM) of per-frame SSIMs.
fn mean_ssim_db(ssims: &[f64]) -> f64 {
    testbed::metrics::mean_ssim_db(ssims).unwrap_or(0.0)
}

/// Encodes `pictures` once with our encoder: the CPU seconds the encoding thread spent in
/// the encoder, the bytes, and, with `measure_quality`, each frame's SSIM.
///
/// Only the `encode` calls are timed. Each decoded picture is measured between calls and
/// then dropped, as a sender would drop it, rather than kept until the end: hundreds of
/// kept pictures would make every frame's allocations come from fresh memory.
fn ours_timed(
    pictures: &[Picture],
    params: EncodeParams,
    measure_quality: bool,
) -> anyhow::Result<(f64, usize, Vec<f64>)> {
    let mut state = DecoderState::new();
    let mut seconds = 0.0;
    let mut bytes = 0usize;
    let mut ssims = Vec::with_capacity(pictures.len());
    for picture in pictures {
        let started = cpu_seconds(libc::RUSAGE_THREAD);
        let frame = encode(&state, picture, &params)?;
        state = frame.target;
        seconds += cpu_seconds(libc::RUSAGE_THREAD) - started;
        bytes += frame.bytes.len();
        if measure_quality {
            let shown = state
                .last_picture()
                .context("an encoded frame's target state has no picture")?;
            ssims.push(luma_ssim(picture, &shown));
        }
    }
    Ok((seconds, bytes, ssims))
}

/// Encodes the first `frames` frames of `input` once with vpxenc (WebRTC's real-time
/// settings, CBR at `kilobits_per_second`) into `output`: the child's CPU seconds.
fn vpxenc_timed(
    input: &Path,
    frames: usize,
    kilobits_per_second: f64,
    output: &Path,
) -> anyhow::Result<f64> {
    let started = cpu_seconds(libc::RUSAGE_CHILDREN);
    let status = Command::new("vpxenc")
        .args([
            "--codec=vp8",
            "--rt",
            "--cpu-used=-6",
            "--threads=1",
            "--lag-in-frames=0",
            "--end-usage=cbr",
            "--quiet",
            "--ivf",
        ])
        .arg(format!(
            "--target-bitrate={}",
            kilobits_per_second.round().max(1.0)
        ))
        .arg(format!("--limit={frames}"))
        .arg("-o")
        .arg(output)
        .arg(input)
        .status()
        .context("running vpxenc (apt-get install vpx-tools)")?;
    let seconds = cpu_seconds(libc::RUSAGE_CHILDREN) - started;
    if !status.success() {
        bail!("vpxenc failed");
    }
    Ok(seconds)
}

/// Bit rate (kbit/s) and mean SSIM (dB) of vpxenc's stream `output`, decoded with our decoder.
fn vpxenc_quality(output: &Path, pictures: &[Picture], rate: f64) -> anyhow::Result<(f64, f64)> {
    let file = std::fs::File::open(output)?;
    let mut state = DecoderState::new();
    let mut decoded = Vec::new();
    let mut bytes = 0usize;
    for frame in IvfReader::new(std::io::BufReader::new(file))? {
        let frame = frame?;
        bytes += frame.data.len();
        let (next, picture) = decode(&state, &frame.data)?;
        state = next;
        decoded.extend(picture);
    }
    if decoded.len() != pictures.len() {
        bail!(
            "vpxenc produced {} frames, expected {}",
            decoded.len(),
            pictures.len()
        );
    }
    Ok((
        bytes as f64 * 8.0 / 1000.0 / (pictures.len() as f64 / rate),
        mean_ssim_db(&ssims_of(pictures, &decoded)),
    ))
}

/// Our encoder at `params` and vpxenc at the bit rate ours reached, the repetitions
/// alternating between the two so that other load on the machine slows both alike; the
/// fastest run of each counts.
fn run_pair(
    input: &Path,
    pictures: &[Picture],
    rate: f64,
    params: EncodeParams,
    work: &Path,
    repetitions: usize,
) -> anyhow::Result<(OperatingPoint, OperatingPoint)> {
    let (mut our_seconds, bytes, our_ssims) = ours_timed(pictures, params, true)?;
    let our_kilobits = bytes as f64 * 8.0 / 1000.0 / (pictures.len() as f64 / rate);
    let output = work.join(format!("vpxenc-{}.ivf", our_kilobits.round()));
    let mut their_seconds = vpxenc_timed(input, pictures.len(), our_kilobits, &output)?;
    for _ in 1..repetitions.max(1) {
        our_seconds = our_seconds.min(ours_timed(pictures, params, false)?.0);
        their_seconds =
            their_seconds.min(vpxenc_timed(input, pictures.len(), our_kilobits, &output)?);
    }
    let (their_kilobits, their_ssim) = vpxenc_quality(&output, pictures, rate)?;
    let frames = pictures.len() as f64;
    Ok((
        OperatingPoint {
            frames_per_second: frames / our_seconds,
            kilobits_per_second: our_kilobits,
            ssim_db: mean_ssim_db(&our_ssims),
        },
        OperatingPoint {
            frames_per_second: frames / their_seconds,
            kilobits_per_second: their_kilobits,
            ssim_db: their_ssim,
        },
    ))
}

/// Least-squares cubic through (x, y) points: coefficients of 1, x, x^2, x^3.
#[allow(clippy::needless_range_loop)]
fn fit_cubic(points: &[(f64, f64)]) -> Option<[f64; 4]> {
    let mut matrix = [[0.0f64; 5]; 4];
    for &(x, y) in points {
        let powers = [1.0, x, x * x, x * x * x];
        for row in 0..4 {
            for column in 0..4 {
                matrix[row][column] += powers[row] * powers[column];
            }
            matrix[row][4] += powers[row] * y;
        }
    }
    for pivot in 0..4 {
        let best = (pivot..4).max_by(|&a, &b| {
            matrix[a][pivot]
                .abs()
                .partial_cmp(&matrix[b][pivot].abs())
                .unwrap_or(std::cmp::Ordering::Equal)
        })?;
        matrix.swap(pivot, best);
        if matrix[pivot][pivot].abs() < 1e-12 {
            return None;
        }
        for row in 0..4 {
            if row != pivot {
                let factor = matrix[row][pivot] / matrix[pivot][pivot];
                for column in pivot..5 {
                    matrix[row][column] -= factor * matrix[pivot][column];
                }
            }
        }
    }
    Some(std::array::from_fn(|row| matrix[row][4] / matrix[row][row]))
}

fn integrate_cubic(coefficients: &[f64; 4], low: f64, high: f64) -> f64 {
    let antiderivative = |x: f64| {
        coefficients[0] * x
            + coefficients[1] * x * x / 2.0
            + coefficients[2] * x * x * x / 3.0
            + coefficients[3] * x * x * x * x / 4.0
    };
    antiderivative(high) - antiderivative(low)
}

/// Bjøntegaard delta rate of `test` against `reference` on (kbit/s, SSIM dB) points: the mean
/// bit-rate difference at equal quality over the overlapping quality range, in percent.
fn bd_rate(reference: &[OperatingPoint], test: &[OperatingPoint]) -> Option<f64> {
    let curve = |points: &[OperatingPoint]| {
        let pairs: Vec<(f64, f64)> = points
            .iter()
            .map(|point| (point.ssim_db, point.kilobits_per_second.ln()))
            .collect();
        let (low, high) = ssim_range(points);
        fit_cubic(&pairs).map(|fit| (fit, low, high))
    };
    let (reference_fit, reference_low, reference_high) = curve(reference)?;
    let (test_fit, test_low, test_high) = curve(test)?;
    let low = reference_low.max(test_low);
    let high = reference_high.min(test_high);
    if high <= low {
        return None;
    }
    let difference = (integrate_cubic(&test_fit, low, high)
        - integrate_cubic(&reference_fit, low, high))
        / (high - low);
    Some((difference.exp() - 1.0) * 100.0)
}

/// Lowest and highest SSIM (dB) of a curve's points.
fn ssim_range(points: &[OperatingPoint]) -> (f64, f64) {
    points
        .iter()
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(low, high), point| {
            (low.min(point.ssim_db), high.max(point.ssim_db))
        })
}

/// Frames per second of a curve at quality `ssim_db`, interpolated between its points.
fn speed_at(points: &[OperatingPoint], ssim_db: f64) -> Option<f64> {
    let mut sorted = points.to_vec();
    sorted.sort_by(|a, b| a.ssim_db.total_cmp(&b.ssim_db));
    sorted.windows(2).find_map(|pair| {
        let (a, b) = (pair[0], pair[1]);
        (a.ssim_db <= ssim_db && ssim_db <= b.ssim_db).then(|| {
            let t = if b.ssim_db > a.ssim_db {
                (ssim_db - a.ssim_db) / (b.ssim_db - a.ssim_db)
            } else {
                0.0
            };
            a.frames_per_second + t * (b.frames_per_second - a.frames_per_second)
        })
    })
}

/// Candidate pairs (q-17 and q+23, two threads) per second, following the better one.
fn candidate_rate(
    pictures: &[Picture],
    quantizer: u8,
    effort: Effort,
    repetitions: usize,
) -> anyhow::Result<f64> {
    let better = EncodeParams {
        effort,
        ..EncodeParams::with_quantizer(quantizer.saturating_sub(17).max(3))
    };
    let worse = EncodeParams {
        effort,
        ..EncodeParams::with_quantizer(quantizer.saturating_add(23).min(127))
    };
    let mut seconds = f64::INFINITY;
    for _ in 0..repetitions.max(1) {
        let mut state = DecoderState::new();
        let started = Instant::now();
        for picture in pictures {
            let mut results = encode_candidates(&state, picture, &[better, worse]);
            let chosen = results.swap_remove(0)?;
            state = chosen.target;
        }
        seconds = seconds.min(started.elapsed().as_secs_f64());
    }
    Ok(pictures.len() as f64 / seconds)
}

fn bench_one(label: &str, input: &Path, args: &BenchEncodeArgs, work: &Path) -> anyhow::Result<()> {
    let (pictures, rate) = read_pictures(input, args.frames)?;
    println!(
        "\n== {label}: {}x{}, {} frames ==",
        pictures[0].width(),
        pictures[0].height(),
        pictures.len()
    );
    println!("encoder  setting     fps(CPU)  kbit/s  SSIM dB");
    let effort = args.effort.into();
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for &quantizer in &args.quantizers {
        let params = EncodeParams {
            effort,
            ..EncodeParams::with_quantizer(quantizer)
        };
        let (our_point, their_point) =
            run_pair(input, &pictures, rate, params, work, args.repetitions)?;
        ours.push((quantizer, our_point));
        theirs.push(their_point);
    }
    for (quantizer, point) in &ours {
        println!(
            "salsify  q={quantizer:<10} {:>7.1} {:>8.1} {:>8.3}",
            point.frames_per_second, point.kilobits_per_second, point.ssim_db
        );
    }
    let ours: Vec<OperatingPoint> = ours.into_iter().map(|(_, point)| point).collect();
    for (point, vpx) in ours.iter().zip(&theirs) {
        println!(
            "vpxenc   {:<12} {:>7.1} {:>8.1} {:>8.3}",
            format!("{}k", point.kilobits_per_second.round()),
            vpx.frames_per_second,
            vpx.kilobits_per_second,
            vpx.ssim_db
        );
    }
    match bd_rate(&theirs, &ours) {
        Some(value) => println!("BD-rate (SSIM dB) of salsify against vpxenc: {value:+.1} %"),
        None => println!("BD-rate: the quality ranges do not overlap"),
    }
    let (our_low, our_high) = ssim_range(&ours);
    let (their_low, their_high) = ssim_range(&theirs);
    let (overlap_low, overlap_high) = (our_low.max(their_low), our_high.min(their_high));
    if overlap_high >= overlap_low {
        let middle = (overlap_low + overlap_high) / 2.0;
        if let (Some(our_speed), Some(their_speed)) =
            (speed_at(&ours, middle), speed_at(&theirs, middle))
        {
            println!(
                "speed at {middle:.2} dB SSIM (frames per CPU second): salsify {our_speed:.1}, vpxenc \
                 {their_speed:.1}, ratio {:.2}x",
                our_speed / their_speed
            );
        }
    }
    let pairs = candidate_rate(&pictures, 64, effort, args.repetitions)?;
    println!("two candidates per frame (q 47 and 87, two threads): {pairs:.1} frames/s");
    Ok(())
}

/// Runs `salsify bench-encode`.
pub fn run(args: BenchEncodeArgs) -> anyhow::Result<()> {
    let input = args.input.clone().unwrap_or_else(test_clip);
    if !input.is_file() {
        bail!(
            "clip {} not found (set SALSIFY_SHARED or --input)",
            input.display()
        );
    }
    let work = std::env::temp_dir().join(format!("salsify-bench-encode-{}", std::process::id()));
    std::fs::create_dir_all(&work)?;
    let result = (|| -> anyhow::Result<()> {
        bench_one("original", &input, &args, &work)?;
        if !args.skip_720p {
            let upscaled = work.join("upscaled-1280x720.y4m");
            upscale_to_720p(&input, args.frames, &upscaled)?;
            bench_one("1280x720 upscale", &upscaled, &args, &work)?;
        }
        Ok(())
    })();
    std::fs::remove_dir_all(&work).ok();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(kilobits_per_second: f64, ssim_db: f64) -> OperatingPoint {
        OperatingPoint {
            frames_per_second: 1.0,
            kilobits_per_second,
            ssim_db,
        }
    }

    #[test]
    fn bd_rate_of_a_curve_at_half_the_rate_is_minus_fifty_percent() {
        let reference: Vec<_> = [(100.0, 10.0), (200.0, 12.0), (400.0, 14.0), (800.0, 16.0)]
            .iter()
            .map(|&(rate, quality)| point(rate, quality))
            .collect();
        let test: Vec<_> = reference
            .iter()
            .map(|p| point(p.kilobits_per_second / 2.0, p.ssim_db))
            .collect();
        let value = bd_rate(&reference, &test).unwrap();
        assert!((value + 50.0).abs() < 1e-6, "{value}");
        assert!(bd_rate(&reference, &reference).unwrap().abs() < 1e-9);
    }
}
