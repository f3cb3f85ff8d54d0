//! `salsify decode`: decode an IVF file with our VP8 decoder to Y4M, or print per-frame MD5s in
//! the format of the conformance vectors' `.md5` files.

use std::io::{BufReader, BufWriter, Write};
use std::path::PathBuf;

use anyhow::{bail, Context};
use codec::ivf::IvfReader;
use codec::y4m::{Y4mHeader, Y4mWriter};
use codec::{decode, DecoderState};
use md5::{Digest, Md5};

/// Arguments of `salsify decode`.
#[derive(Debug, clap::Args)]
pub struct DecodeArgs {
    /// The VP8 stream (IVF).
    pub input: PathBuf,
    /// Write the shown frames to this Y4M file.
    #[arg(short, long)]
    pub output: Option<PathBuf>,
    /// Print `<md5 of the packed I420 frame>  <stem>-<W>x<H>-<NNNN>.i420` per shown frame.
    #[arg(long)]
    pub frame_md5: bool,
}

/// Runs `salsify decode`.
pub fn run(args: DecodeArgs) -> anyhow::Result<()> {
    if args.output.is_none() && !args.frame_md5 {
        bail!("nothing to do: give -o OUT.y4m and/or --frame-md5");
    }
    let file = std::fs::File::open(&args.input)
        .with_context(|| format!("opening {}", args.input.display()))?;
    let mut reader = IvfReader::new(BufReader::new(file))
        .with_context(|| format!("reading {}", args.input.display()))?;
    let ivf_header = *reader.header();
    let stem = args
        .input
        .file_stem()
        .map(|stem| stem.to_string_lossy().into_owned())
        .unwrap_or_default();
    let mut writer: Option<Y4mWriter<BufWriter<std::fs::File>>> = None;
    let stdout = std::io::stdout();
    let mut stdout = stdout.lock();
    let mut state = DecoderState::new();
    let mut shown = 0usize;
    let mut index = 0usize;
    while let Some(frame) = reader.next_frame().context("reading IVF frame")? {
        let (next, picture) =
            decode(&state, &frame.data).with_context(|| format!("decoding frame {index}"))?;
        state = next;
        index += 1;
        let Some(picture) = picture else { continue };
        shown += 1;
        if args.frame_md5 {
            let digest = Md5::digest(picture.to_i420());
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            writeln!(
                stdout,
                "{hex}  {stem}-{}x{}-{shown:04}.i420",
                picture.width(),
                picture.height()
            )?;
        }
        if let Some(path) = &args.output {
            if writer.is_none() {
                let file = std::fs::File::create(path)
                    .with_context(|| format!("creating {}", path.display()))?;
                let header = Y4mHeader {
                    width: picture.width(),
                    height: picture.height(),
                    frame_rate_numerator: ivf_header.rate.max(1),
                    frame_rate_denominator: ivf_header.scale.max(1),
                };
                writer = Some(Y4mWriter::new(BufWriter::new(file), &header)?);
            }
            let writer = writer.as_mut().expect("writer created above");
            writer
                .write_picture(&picture)
                .context("writing Y4M (the stream changed size; Y4M holds one size)")?;
        }
    }
    if let Some(writer) = writer {
        writer.into_inner()?;
    }
    Ok(())
}
