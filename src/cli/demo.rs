//! `salsify demo`: the main job on the built-in default, with no camera, network or files.
//!
//! It runs the codec half of the Salsify loop on the built-in test scene: for every frame, two
//! candidates (a better and a worse quantizer) are encoded in parallel from the same saved decoder
//! state; the larger one that fits a byte budget is kept, or the frame is skipped and the state does
//! not move. The kept frames then go through our decoder as a receiver would see them, and every
//! decoded state is checked against the state the encoder said it would produce.

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use codec::encoder::{encode_candidates, EncodeParams};
use codec::ivf::{IvfHeader, IvfWriter};
use codec::{decode, DecoderState, Picture};
use testbed::metrics::{mean_ssim_db, ssim_db, ssim_luma};

use crate::cli::shared::packed_luma;
use crate::synthetic::{I420Frame, TestScene};

/// Options of `salsify demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Number of frames of the built-in scene to send.
    #[arg(long, default_value_t = 60)]
    pub frames: u32,
    /// Picture width in pixels.
    #[arg(long, default_value_t = 640)]
    pub width: usize,
    /// Picture height in pixels.
    #[arg(long, default_value_t = 360)]
    pub height: usize,
    /// The byte budget per frame, as a bit rate in kbit/s at 30 frames per second.
    #[arg(long, default_value_t = 1000)]
    pub kbps: u32,
    /// Also write the frames that were sent as a VP8 IVF file.
    #[arg(long)]
    pub output: Option<PathBuf>,
}

/// What happened to one frame of the scene.
struct SentFrame {
    index: u32,
    bytes: Vec<u8>,
    expected_state: codec::StateId,
}

/// Runs `salsify demo`.
pub fn run(args: DemoArgs) -> anyhow::Result<()> {
    if args.frames == 0 || args.width < 16 || args.height < 16 {
        bail!("the demo needs at least one frame of at least 16x16 pixels");
    }
    let scene = TestScene::new(args.width, args.height);
    let budget_bytes = (u64::from(args.kbps) * 1000 / 8 / 30) as usize;
    println!(
        "salsify demo: {} frames of the built-in {}x{} scene, budget {} bytes per frame ({} kbit/s at 30 fps)",
        args.frames, args.width, args.height, budget_bytes, args.kbps
    );
    println!("frame  better(q, bytes)  worse(q, bytes)  sent            SSIM dB");

    let mut state = DecoderState::new();
    let mut quantizer: i32 = 64;
    let mut skips_in_a_row = 0;
    let mut sent = Vec::new();
    let mut ssims = Vec::new();
    for index in 0..args.frames {
        let source = scene.frame(index);
        let picture = to_picture(&source)?;
        let better = EncodeParams::with_quantizer((quantizer - 17).clamp(3, 127) as u8);
        let worse = EncodeParams::with_quantizer((quantizer + 23).clamp(3, 127) as u8);
        let mut candidates = encode_candidates(&state, &picture, &[better, worse]).into_iter();
        let better = candidates.next().context("no better candidate")??;
        let worse = candidates.next().context("no worse candidate")??;
        let describe = |frame: &codec::encoder::EncodedFrame| {
            format!("({:3}, {:6})", frame.quantizer, frame.bytes.len())
        };
        let choice = if better.bytes.len() <= budget_bytes {
            Some(better.clone())
        } else if worse.bytes.len() <= budget_bytes || skips_in_a_row >= 3 {
            Some(worse.clone())
        } else {
            None
        };
        let Some(chosen) = choice else {
            skips_in_a_row += 1;
            println!(
                "{index:5}  {}     {}    skipped",
                describe(&better),
                describe(&worse)
            );
            continue;
        };
        skips_in_a_row = 0;
        quantizer = i32::from(chosen.quantizer);
        let ssim = ssim_luma(
            &source.luma,
            &packed_luma(&chosen.picture()),
            source.width,
            source.height,
        );
        ssims.push(ssim);
        println!(
            "{index:5}  {}     {}    q {:3} {:5} B  {:6.2}{}",
            describe(&better),
            describe(&worse),
            chosen.quantizer,
            chosen.bytes.len(),
            ssim_db(ssim),
            if chosen.key_frame { "  key frame" } else { "" }
        );
        sent.push(SentFrame {
            index,
            bytes: chosen.bytes,
            expected_state: chosen.target.id(),
        });
        state = chosen.target;
    }

    // The receiver's side: decode what was sent, from the empty state, frame by frame.
    let mut receiver = DecoderState::new();
    for frame in &sent {
        let (next, _picture) = decode(&receiver, &frame.bytes)
            .with_context(|| format!("decoding frame {}", frame.index))?;
        if next.id() != frame.expected_state {
            bail!(
                "frame {}: the decoder reached state {:?}, the encoder promised {:?}",
                frame.index,
                next.id(),
                frame.expected_state
            );
        }
        receiver = next;
    }
    let total_bytes: usize = sent.iter().map(|frame| frame.bytes.len()).sum();
    println!(
        "sent {} of {} frames ({} skipped), {} bytes, {:.0} kbit/s at 30 fps, mean SSIM {:.2} dB",
        sent.len(),
        args.frames,
        args.frames as usize - sent.len(),
        total_bytes,
        total_bytes as f64 * 8.0 * 30.0 / 1000.0 / f64::from(args.frames),
        mean_ssim_db(&ssims).unwrap_or(f64::NAN)
    );
    println!(
        "receiver decoded all {} frames; every decoded state equals the encoder's target (last {:?})",
        sent.len(),
        receiver.id()
    );
    if let Some(path) = &args.output {
        write_ivf(path, &args, &sent)?;
        println!("wrote {}", path.display());
    }
    Ok(())
}

fn to_picture(frame: &I420Frame) -> anyhow::Result<Picture> {
    let mut packed = Vec::with_capacity(frame.luma.len() + 2 * frame.chroma_blue.len());
    packed.extend_from_slice(&frame.luma);
    packed.extend_from_slice(&frame.chroma_blue);
    packed.extend_from_slice(&frame.chroma_red);
    Picture::from_i420(frame.width, frame.height, &packed).context("scene frame is not I420")
}

fn write_ivf(path: &PathBuf, args: &DemoArgs, sent: &[SentFrame]) -> anyhow::Result<()> {
    let file =
        std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
    let header = IvfHeader {
        fourcc: *b"VP80",
        width: u16::try_from(args.width)?,
        height: u16::try_from(args.height)?,
        rate: 30,
        scale: 1,
        frame_count: u32::try_from(sent.len())?,
    };
    let mut writer = IvfWriter::new(std::io::BufWriter::new(file), &header)?;
    for frame in sent {
        writer.write_frame(u64::from(frame.index), &frame.bytes)?;
    }
    writer.into_inner()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_round_trips_a_small_scene_through_the_decoder() {
        let output = std::env::temp_dir().join(format!("salsify-demo-{}.ivf", std::process::id()));
        let args = DemoArgs {
            frames: 6,
            width: 64,
            height: 48,
            kbps: 300,
            output: Some(output.clone()),
        };
        run(args).expect("the demo runs and its decoded states match");
        let file = std::fs::File::open(&output).unwrap();
        let mut reader = codec::ivf::IvfReader::new(file).unwrap();
        let mut frames = 0;
        while reader.next_frame().unwrap().is_some() {
            frames += 1;
        }
        std::fs::remove_file(&output).ok();
        assert!(frames >= 1, "no frame was written");
    }
}
