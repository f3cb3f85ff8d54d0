//! Encoder tests on the real clip: every encoded frame decodes (with our decoder and with
//! libvpx's `vpxdec`) to exactly the state and picture the encoder says it produces.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use codec::encoder::{encode, EncodeParams, EncodedFrame};
use codec::ivf::{IvfHeader, IvfWriter};
use codec::y4m::Y4mReader;
use codec::{decode, DecoderState, Picture};

/// The first `count` pictures of the shared clip, cropped to `width` x `height`.
fn clip(count: usize, width: usize, height: usize) -> Vec<Picture> {
    let path = common::shared_dir().join("video/pexels_wolfganglanger_640x360_24p_240f.y4m");
    let file = std::fs::File::open(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let reader = Y4mReader::new(std::io::BufReader::new(file)).expect("clip header");
    reader
        .take(count)
        .map(|picture| {
            let picture = picture.expect("clip frame");
            if (picture.width(), picture.height()) == (width, height) {
                picture
            } else {
                picture.cropped(width, height)
            }
        })
        .collect()
}

/// Encodes `pictures` in sequence from the empty state with a keyframe first, checking every
/// frame against our decoder. Returns the frames.
fn encode_and_check(pictures: &[Picture], params: &EncodeParams) -> Vec<EncodedFrame> {
    let mut state = DecoderState::new();
    let mut frames = Vec::new();
    for (index, picture) in pictures.iter().enumerate() {
        let before = state.id();
        let frame = encode(&state, picture, params).expect("encode");
        assert_eq!(state.id(), before, "encoding changed its source state");
        assert_eq!(frame.source, state.id());
        assert_eq!(frame.key_frame, index == 0, "frame {index}");
        let (decoded_state, decoded_picture) =
            decode(&state, &frame.bytes).unwrap_or_else(|e| panic!("frame {index}: {e}"));
        assert_eq!(
            decoded_state.id(),
            frame.target.id(),
            "frame {index}: state differs"
        );
        assert_eq!(
            decoded_picture.as_ref(),
            Some(&frame.picture),
            "frame {index}: picture differs"
        );
        state = frame.target.clone();
        frames.push(frame);
    }
    frames
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salsify-encoder-{}-{name}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn write_ivf(path: &Path, frames: &[EncodedFrame], width: usize, height: usize) {
    let file = std::fs::File::create(path).expect("create ivf");
    let header = IvfHeader {
        fourcc: *b"VP80",
        width: width as u16,
        height: height as u16,
        rate: 24,
        scale: 1,
        frame_count: frames.len() as u32,
    };
    let mut writer = IvfWriter::new(std::io::BufWriter::new(file), &header).expect("ivf header");
    for (index, frame) in frames.iter().enumerate() {
        writer
            .write_frame(index as u64, &frame.bytes)
            .expect("ivf frame");
    }
    writer.into_inner().expect("ivf flush");
}

/// Decodes `ivf` with vpxdec and checks every frame's MD5 against our pictures.
fn check_with_vpxdec(ivf: &Path, frames: &[EncodedFrame]) {
    let output = ivf.with_extension("yuv");
    let status = Command::new("vpxdec")
        .arg("--i420")
        .arg("-o")
        .arg(&output)
        .arg(ivf)
        .status()
        .expect("vpxdec must be installed (apt-get install vpx-tools)");
    assert!(status.success(), "vpxdec failed on {}", ivf.display());
    let decoded = std::fs::read(&output).expect("vpxdec output");
    let frame_size = frames[0].picture.to_i420().len();
    assert_eq!(
        decoded.len(),
        frame_size * frames.len(),
        "vpxdec frame count"
    );
    for (index, (frame, theirs)) in frames.iter().zip(decoded.chunks(frame_size)).enumerate() {
        assert_eq!(
            common::md5_hex(&frame.picture.to_i420()),
            common::md5_hex(theirs),
            "frame {index} differs from vpxdec"
        );
    }
}

/// Runs ffmpeg's decoder over `ivf`; it must print nothing at error level.
fn check_with_ffmpeg(ivf: &Path) {
    let output = Command::new("ffmpeg")
        .args(["-v", "error", "-i"])
        .arg(ivf)
        .args(["-f", "null", "-"])
        .output()
        .expect("ffmpeg must be installed");
    assert!(output.status.success(), "ffmpeg failed");
    assert!(
        output.stderr.is_empty() && output.stdout.is_empty(),
        "ffmpeg complained: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

#[test]
fn short_run_matches_our_decoder_and_vpxdec() {
    let pictures = clip(6, 176, 144);
    let frames = encode_and_check(&pictures, &EncodeParams::with_quantizer(40));
    let dir = temp_dir("short");
    let ivf = dir.join("short.ivf");
    write_ivf(&ivf, &frames, 176, 144);
    check_with_vpxdec(&ivf, &frames);
    check_with_ffmpeg(&ivf);
    let sizes: Vec<usize> = frames.iter().map(|frame| frame.bytes.len()).collect();
    eprintln!("sizes {sizes:?}");
    std::fs::remove_dir_all(dir).ok();
}
