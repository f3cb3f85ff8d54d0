//! `salsify encode`: Y4M in, VP8 IVF out, at a constant quantizer or a target bit rate.

use std::io::Write;
use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use codec::encoder::{encode, Effort, EncodeParams, RateController};
use codec::ivf::{IvfHeader, IvfWriter};
use codec::y4m::{Y4mReader, Y4mWriter};
use codec::DecoderState;

use crate::cli::shared::packed_luma;

/// Arguments of `salsify encode`.
#[derive(Debug, Args)]
pub struct EncodeArgs {
    /// Input video (Y4M, 4:2:0).
    pub input: PathBuf,
    /// Output VP8 stream (IVF).
    #[arg(short, long)]
    pub output: PathBuf,
    /// Constant quantizer index, 0 (finest) to 127 (coarsest).
    #[arg(long, conflicts_with = "bitrate", value_parser = clap::value_parser!(u8).range(0..=127))]
    pub quantizer: Option<u8>,
    /// Target bit rate in kilobits per second (a feedback controller picks each quantizer).
    #[arg(long)]
    pub bitrate: Option<f64>,
    /// Put a key frame every N frames (0: only the first).
    #[arg(long, default_value_t = 0)]
    pub keyframe_interval: usize,
    /// Make every Nth frame the new golden reference too (0: only key frames).
    #[arg(long, default_value_t = 0)]
    pub golden_interval: usize,
    /// Make every Nth frame the new alternate reference too (0: only key frames).
    #[arg(long, default_value_t = 0)]
    pub altref_interval: usize,
    /// Encode at most this many frames.
    #[arg(long)]
    pub frames: Option<usize>,
    /// Search effort: fast, balanced or thorough.
    #[arg(long, value_enum, default_value = "thorough")]
    pub effort: super::bench_encode::EffortArg,
    /// Also write the decoder's reconstruction (Y4M).
    #[arg(long)]
    pub recon: Option<PathBuf>,
    /// Print each frame's size, quantizer, SSIM and PSNR.
    #[arg(long)]
    pub stats: bool,
}

/// Runs `salsify encode`.
pub fn run(args: EncodeArgs) -> anyhow::Result<()> {
    let input = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let mut reader = Y4mReader::new(std::io::BufReader::new(input))
        .with_context(|| format!("reading {}", args.input.display()))?;
    let y4m_header = reader.header().clone();
    let frames_per_second = f64::from(y4m_header.frame_rate_numerator)
        / f64::from(y4m_header.frame_rate_denominator.max(1));
    if y4m_header.width > 0x3fff || y4m_header.height > 0x3fff {
        bail!(
            "{}x{} is too large for VP8",
            y4m_header.width,
            y4m_header.height
        );
    }
    let output = std::fs::File::create(&args.output)
        .with_context(|| format!("creating {}", args.output.display()))?;
    let ivf_header = IvfHeader {
        fourcc: *b"VP80",
        width: y4m_header.width as u16,
        height: y4m_header.height as u16,
        rate: y4m_header.frame_rate_numerator,
        scale: y4m_header.frame_rate_denominator.max(1),
        frame_count: 0,
    };
    let mut writer = IvfWriter::new(std::io::BufWriter::new(output), &ivf_header)?;
    let mut recon_writer = match &args.recon {
        Some(path) => {
            let file = std::fs::File::create(path)
                .with_context(|| format!("creating {}", path.display()))?;
            Some(Y4mWriter::new(std::io::BufWriter::new(file), &y4m_header)?)
        }
        None => None,
    };
    let mut controller = args
        .bitrate
        .map(|kbps| RateController::new(kbps * 1000.0, frames_per_second, 64));
    let fixed_quantizer = args.quantizer.unwrap_or(64);
    let effort: Effort = args.effort.into();

    let mut state = DecoderState::new();
    let mut total_bytes = 0usize;
    let mut ssims = Vec::new();
    let mut psnrs = Vec::new();
    let started = std::time::Instant::now();
    let mut index = 0usize;
    let stdout = std::io::stdout();
    let mut out = stdout.lock();
    if args.stats {
        writeln!(out, "frame\ttype\tbytes\tquantizer\tssim_db\tpsnr_db")?;
    }
    while let Some(picture) = reader.next_picture()? {
        if args.frames.is_some_and(|limit| index >= limit) {
            break;
        }
        let quantizer = controller
            .as_ref()
            .map_or(fixed_quantizer, RateController::quantizer);
        let params = EncodeParams {
            quantizer,
            keyframe: args.keyframe_interval > 0 && index % args.keyframe_interval == 0,
            refresh_golden: args.golden_interval > 0 && index % args.golden_interval == 0,
            refresh_altref: args.altref_interval > 0 && index % args.altref_interval == 0,
            effort,
            ..EncodeParams::default()
        };
        let frame = encode(&state, &picture, &params)?;
        writer.write_frame(index as u64, &frame.bytes)?;
        // The decoded picture, only when something reads it.
        let shown = (recon_writer.is_some() || args.stats).then(|| frame.picture());
        if let (Some(recon), Some(shown)) = (recon_writer.as_mut(), &shown) {
            recon.write_picture(shown)?;
        }
        if let Some(controller) = controller.as_mut() {
            controller.update(frame.bytes.len(), frame.key_frame);
        }
        total_bytes += frame.bytes.len();
        if let Some(shown) = shown.as_ref().filter(|_| args.stats) {
            let (width, height) = (picture.width(), picture.height());
            let reference = packed_luma(&picture);
            let decoded = packed_luma(shown);
            let ssim = testbed::metrics::ssim_luma(&reference, &decoded, width, height);
            let psnr = testbed::metrics::psnr_luma(&reference, &decoded, width, height);
            ssims.push(ssim);
            psnrs.push(psnr);
            writeln!(
                out,
                "{index}\t{}\t{}\t{}\t{:.3}\t{:.3}",
                if frame.key_frame { "key" } else { "inter" },
                frame.bytes.len(),
                frame.quantizer,
                testbed::metrics::ssim_db(ssim),
                psnr
            )?;
        }
        state = frame.target;
        index += 1;
    }
    writer.into_inner()?.flush()?;
    if let Some(recon) = recon_writer {
        recon.into_inner()?.flush()?;
    }
    let seconds = started.elapsed().as_secs_f64();
    let kbps = total_bytes as f64 * 8.0 / 1000.0 / (index as f64 / frames_per_second).max(1e-9);
    write!(
        out,
        "{index} frames, {total_bytes} bytes, {kbps:.1} kbit/s at {frames_per_second:.3} fps, \
         {:.1} frames/s encoding",
        index as f64 / seconds.max(1e-9)
    )?;
    if let Some(mean) = testbed::metrics::mean_ssim_db(&ssims) {
        let mean_psnr = psnrs.iter().sum::<f64>() / psnrs.len() as f64;
        write!(out, ", mean SSIM {mean:.3} dB, mean PSNR {mean_psnr:.3} dB")?;
    }
    writeln!(out)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use codec::y4m::Y4mHeader;
    use codec::Picture;

    fn shared_clip() -> PathBuf {
        let clip = crate::cli::shared::test_clip();
        assert!(
            clip.is_file(),
            "test clip missing: {} (set SALSIFY_SHARED)",
            clip.display()
        );
        clip
    }

    fn read_y4m(path: &std::path::Path) -> Vec<Picture> {
        let file = std::fs::File::open(path).expect("open y4m");
        Y4mReader::new(std::io::BufReader::new(file))
            .expect("y4m header")
            .map(|picture| picture.expect("y4m frame"))
            .collect()
    }

    #[test]
    fn reconstruction_output_matches_vpxdec_at_a_bit_rate() {
        let dir = std::env::temp_dir().join(format!("salsify-encode-cli-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        // A small piece of the clip as the input file.
        let pictures: Vec<Picture> = read_y4m(&shared_clip())
            .into_iter()
            .take(12)
            .map(|picture| picture.cropped(160, 96))
            .collect();
        let input = dir.join("input.y4m");
        let header = Y4mHeader {
            width: 160,
            height: 96,
            frame_rate_numerator: 24,
            frame_rate_denominator: 1,
        };
        let mut writer = Y4mWriter::new(std::fs::File::create(&input).unwrap(), &header).unwrap();
        for picture in &pictures {
            writer.write_picture(picture).unwrap();
        }
        writer.into_inner().unwrap();

        let output = dir.join("out.ivf");
        let recon = dir.join("recon.y4m");
        run(EncodeArgs {
            input: input.clone(),
            output: output.clone(),
            quantizer: None,
            bitrate: Some(120.0),
            keyframe_interval: 5,
            golden_interval: 3,
            altref_interval: 4,
            frames: None,
            effort: crate::cli::bench_encode::EffortArg::Thorough,
            recon: Some(recon.clone()),
            stats: true,
        })
        .unwrap();

        let decoded = dir.join("vpxdec.yuv");
        let status = std::process::Command::new("vpxdec")
            .arg("--i420")
            .arg("-o")
            .arg(&decoded)
            .arg(&output)
            .status()
            .expect("vpxdec must be installed");
        assert!(status.success());
        let theirs = std::fs::read(&decoded).unwrap();
        let ours: Vec<u8> = read_y4m(&recon)
            .iter()
            .flat_map(|picture| picture.to_i420())
            .collect();
        assert_eq!(ours.len(), 12 * 160 * 96 * 3 / 2);
        assert!(ours == theirs, "--recon differs from vpxdec's decoding");
        std::fs::remove_dir_all(dir).ok();
    }
}
