//! Encoder tests on the real clip: every encoded frame decodes (with our decoder and with
//! libvpx's `vpxdec`) to exactly the state and picture the encoder says it produces.

#[path = "common/mod.rs"]
mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use codec::encoder::{
    encode, encode_candidates, encode_to_size, Effort, EncodeError, EncodeParams, EncodedFrame,
    RateController,
};
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

/// Checks that decoding `frame` from `state` (its source) gives the frame's target state and
/// picture.
fn assert_decodes_to_target(state: &DecoderState, frame: &EncodedFrame, index: usize) {
    let (decoded_state, decoded_picture) =
        decode(state, &frame.bytes).unwrap_or_else(|e| panic!("frame {index}: {e}"));
    assert_eq!(
        decoded_state.id(),
        frame.target.id(),
        "frame {index}: state differs"
    );
    assert_eq!(
        decoded_picture.as_ref(),
        Some(&frame.picture()),
        "frame {index}: picture differs"
    );
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
        assert_decodes_to_target(&state, &frame, index);
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
    let frame_size = frames[0].picture().to_i420().len();
    assert_eq!(
        decoded.len(),
        frame_size * frames.len(),
        "vpxdec frame count"
    );
    for (index, (frame, theirs)) in frames.iter().zip(decoded.chunks(frame_size)).enumerate() {
        assert_eq!(
            common::md5_hex(&frame.picture().to_i420()),
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

/// Encodes, checks with our decoder, writes an IVF file and checks it with vpxdec and ffmpeg.
fn check_interop(name: &str, pictures: &[Picture], params: &EncodeParams) -> Vec<EncodedFrame> {
    let frames = encode_and_check(pictures, params);
    let dir = temp_dir(name);
    let ivf = dir.join(format!("{name}.ivf"));
    write_ivf(&ivf, &frames, pictures[0].width(), pictures[0].height());
    check_with_vpxdec(&ivf, &frames);
    check_with_ffmpeg(&ivf);
    std::fs::remove_dir_all(dir).ok();
    frames
}

#[test]
fn interop_across_quantizers_with_odd_size() {
    // A key frame and 31 inter frames at each quantizer; 174x142 leaves partial macroblocks.
    let pictures = clip(32, 174, 142);
    let mut previous_total = usize::MAX;
    for quantizer in [4u8, 30, 60, 100, 127] {
        let frames = check_interop(
            &format!("q{quantizer}"),
            &pictures,
            &EncodeParams::with_quantizer(quantizer),
        );
        let total: usize = frames.iter().map(|frame| frame.bytes.len()).sum();
        assert!(
            total < previous_total,
            "quantizer {quantizer}: {total} bytes, not fewer than {previous_total}"
        );
        previous_total = total;
    }
}

#[test]
fn interop_with_rate_control() {
    let pictures = clip(32, 176, 144);
    // A reachable target: the rate of a constant quantizer 30 over the same frames.
    let mut state = DecoderState::new();
    let mut reference_bytes = 0usize;
    for (index, picture) in pictures.iter().enumerate() {
        let frame = encode(&state, picture, &EncodeParams::with_quantizer(30)).expect("encode");
        if index >= 8 {
            reference_bytes += frame.bytes.len();
        }
        state = frame.target;
    }
    let target = reference_bytes as f64 * 8.0 * 24.0 / (pictures.len() - 8) as f64;
    let mut controller = RateController::new(target, 24.0, 90);
    let mut state = DecoderState::new();
    let mut frames = Vec::new();
    for picture in &pictures {
        let params = EncodeParams::with_quantizer(controller.quantizer());
        let frame = encode(&state, picture, &params).expect("encode");
        let (decoded, _) = decode(&state, &frame.bytes).expect("decode");
        assert_eq!(decoded.id(), frame.target.id());
        controller.update(frame.bytes.len(), frame.key_frame);
        state = frame.target.clone();
        frames.push(frame);
    }
    let quantizers: Vec<u8> = frames.iter().map(|frame| frame.quantizer).collect();
    assert!(
        quantizers.windows(2).any(|pair| pair[0] != pair[1]),
        "the controller never moved: {quantizers:?}"
    );
    let inter_bytes: usize = frames[8..].iter().map(|frame| frame.bytes.len()).sum();
    let rate = inter_bytes as f64 * 8.0 * 24.0 / (frames.len() - 8) as f64;
    assert!(
        (target * 0.5..target * 2.0).contains(&rate),
        "rate {rate} bits/s far from the {target} bits/s target ({quantizers:?})"
    );
    let dir = temp_dir("rate");
    let ivf = dir.join("rate.ivf");
    write_ivf(&ivf, &frames, 176, 144);
    check_with_vpxdec(&ivf, &frames);
    check_with_ffmpeg(&ivf);
    std::fs::remove_dir_all(dir).ok();
}

#[test]
fn real_time_efforts_interoperate() {
    let pictures = clip(10, 176, 144);
    for (name, effort) in [("fast", Effort::Fast), ("balanced", Effort::Balanced)] {
        let params = EncodeParams {
            effort,
            ..EncodeParams::with_quantizer(45)
        };
        check_interop(name, &pictures, &params);
    }
}

#[test]
fn real_time_efforts_code_no_residual_for_a_nearly_unchanged_macroblock() {
    // A key frame, then its own picture with one 4x4 luma block 20 levels brighter: the
    // zero vector predicts that macroblock with a small error. The real-time efforts code no
    // residual for it, so the block shows the reference unchanged; the thorough effort codes
    // the difference.
    let pictures = clip(1, 176, 144);
    let key = encode(
        &DecoderState::new(),
        &pictures[0],
        &EncodeParams {
            loop_filter_level: Some(0),
            ..EncodeParams::with_quantizer(20)
        },
    )
    .expect("key frame");
    let mut brighter = key.picture();
    let (x, y) = (64, 48);
    for row in y..y + 4 {
        for pixel in &mut brighter.y.row_mut(row)[x..x + 4] {
            *pixel = pixel.saturating_add(20);
        }
    }
    let block = |picture: &Picture| -> Vec<u8> {
        (y..y + 4)
            .flat_map(|row| picture.y.row(row)[x..x + 4].to_vec())
            .collect()
    };
    for effort in [Effort::Fast, Effort::Balanced, Effort::Thorough] {
        let params = EncodeParams {
            effort,
            loop_filter_level: Some(0),
            ..EncodeParams::with_quantizer(20)
        };
        let frame = encode(&key.target, &brighter, &params).expect("inter frame");
        assert_decodes_to_target(&key.target, &frame, 1);
        let unchanged = block(&frame.picture()) == block(&key.picture());
        assert_eq!(unchanged, effort != Effort::Thorough, "{effort:?}");
    }
}

#[test]
fn full_size_frames_interoperate() {
    // 640x360: the last macroblock row is partial (360 = 22.5 x 16).
    let pictures = clip(6, 640, 360);
    check_interop("full", &pictures, &EncodeParams::with_quantizer(50));
}

#[test]
fn long_run_matches_our_decoder_on_every_frame() {
    let pictures = clip(64, 320, 184);
    let frames = encode_and_check(&pictures, &EncodeParams::with_quantizer(36));
    assert_eq!(frames.len(), 64);
    // The run exercises every kind of macroblock coding the encoder has.
    let mut state = DecoderState::new();
    let mut seen = std::collections::BTreeMap::new();
    for frame in &frames {
        let syntax = codec::parse(&state, &frame.bytes).expect("parse");
        for info in &syntax.macroblocks {
            let key = format!("{:?}/{:?}", info.reference, info.mode);
            *seen.entry(key).or_insert(0usize) += 1;
        }
        state = frame.target.clone();
    }
    eprintln!("macroblock kinds: {seen:?}");
    for kind in [
        "Intra/Subblocks",
        "Last/Zero",
        "Last/Nearest",
        "Last/New",
        "Last/Split",
    ] {
        assert!(seen.contains_key(kind), "no {kind} macroblock in {seen:?}");
    }
    // Inter frames of a slowly moving clip must be much smaller than the key frame.
    let inter_mean = frames[1..]
        .iter()
        .map(|frame| frame.bytes.len())
        .sum::<usize>()
        / 63;
    assert!(inter_mean * 3 < frames[0].bytes.len());
}

#[test]
fn encoding_is_pure_and_deterministic() {
    let pictures = clip(3, 176, 144);
    let first = encode(&DecoderState::new(), &pictures[0], &EncodeParams::default()).unwrap();
    let state = first.target.clone();
    let id = state.id();
    let a = encode(&state, &pictures[1], &EncodeParams::default()).unwrap();
    let b = encode(&state, &pictures[1], &EncodeParams::default()).unwrap();
    assert_eq!(a.bytes, b.bytes);
    assert_eq!(a.target.id(), b.target.id());
    assert_eq!(state.id(), id);
    assert_eq!(state.last_picture(), Some(first.picture()));
    // A forced key frame decodes from any state.
    let key = encode(
        &state,
        &pictures[2],
        &EncodeParams {
            keyframe: true,
            ..EncodeParams::default()
        },
    )
    .unwrap();
    assert!(key.key_frame);
    let (from_empty, _) = decode(&DecoderState::new(), &key.bytes).unwrap();
    assert_eq!(from_empty.id(), key.target.id());
}

#[test]
fn a_new_size_forces_a_key_frame() {
    let pictures = clip(2, 176, 144);
    let first = encode(&DecoderState::new(), &pictures[0], &EncodeParams::default()).unwrap();
    let smaller = pictures[1].cropped(96, 64);
    let frame = encode(&first.target, &smaller, &EncodeParams::default()).unwrap();
    assert!(frame.key_frame);
    let (state, picture) = decode(&first.target, &frame.bytes).unwrap();
    assert_eq!(state.id(), frame.target.id());
    assert_eq!(picture.unwrap().width(), 96);
}

#[test]
fn malformed_pictures_are_errors() {
    let state = DecoderState::new();
    let mut picture = Picture::new(32, 32);
    picture.u.width = 10;
    assert!(matches!(
        encode(&state, &picture, &EncodeParams::default()),
        Err(EncodeError::MalformedPicture { .. })
    ));
    let mut picture = Picture::new(32, 32);
    picture.y.data.truncate(100);
    assert!(matches!(
        encode(&state, &picture, &EncodeParams::default()),
        Err(EncodeError::MalformedPicture { .. })
    ));
    let empty = Picture::new(0, 0);
    assert_eq!(
        encode(&state, &empty, &EncodeParams::default()).unwrap_err(),
        EncodeError::EmptyPicture
    );
    assert_eq!(
        encode(
            &state,
            &Picture::new(16, 16),
            &EncodeParams::with_quantizer(128)
        )
        .unwrap_err(),
        EncodeError::QuantizerOutOfRange { quantizer: 128 }
    );
}

#[test]
fn candidates_share_a_source_and_the_chosen_one_continues() {
    let pictures = clip(4, 176, 144);
    let key = encode(&DecoderState::new(), &pictures[0], &EncodeParams::default()).unwrap();
    let state = key.target.clone();
    let candidates = encode_candidates(
        &state,
        &pictures[1],
        &[
            EncodeParams::with_quantizer(47),
            EncodeParams::with_quantizer(87),
        ],
    );
    assert_eq!(candidates.len(), 2);
    let better = candidates[0].as_ref().unwrap();
    let worse = candidates[1].as_ref().unwrap();
    assert_eq!(better.source, state.id());
    assert_eq!(worse.source, state.id());
    assert_ne!(better.target.id(), worse.target.id());
    assert!(better.bytes.len() > worse.bytes.len());
    for candidate in [better, worse] {
        let (decoded, _) = decode(&state, &candidate.bytes).unwrap();
        assert_eq!(decoded.id(), candidate.target.id());
    }
    // Choose the worse one and carry on from its target.
    let next = encode(
        &worse.target,
        &pictures[2],
        &EncodeParams::with_quantizer(64),
    )
    .unwrap();
    assert_eq!(next.source, worse.target.id());
    let (decoded, picture) = decode(&worse.target, &next.bytes).unwrap();
    assert_eq!(decoded.id(), next.target.id());
    assert_eq!(picture.as_ref(), Some(&next.picture()));
    // From the other candidate's target the same frame fails or leads somewhere else.
    match decode(&better.target, &next.bytes) {
        Ok((elsewhere, _)) => assert_ne!(elsewhere.id(), next.target.id()),
        Err(error) => eprintln!("decoding from the other state fails as it may: {error}"),
    }
}

#[test]
fn encode_to_size_picks_the_finest_fitting_quantizer() {
    let pictures = clip(2, 176, 144);
    let key = encode(&DecoderState::new(), &pictures[0], &EncodeParams::default()).unwrap();
    for budget in [300usize, 1500] {
        let frame =
            encode_to_size(&key.target, &pictures[1], &EncodeParams::default(), budget).unwrap();
        assert!(
            frame.bytes.len() <= budget,
            "{} > {budget}",
            frame.bytes.len()
        );
        if frame.quantizer > 0 {
            let finer = encode(
                &key.target,
                &pictures[1],
                &EncodeParams::with_quantizer(frame.quantizer - 1),
            )
            .unwrap();
            assert!(
                finer.bytes.len() > budget,
                "quantizer {} also fits",
                frame.quantizer - 1
            );
        }
    }
}

#[test]
fn tiny_and_odd_sizes_round_trip() {
    let source = clip(3, 176, 144);
    for (width, height) in [(1, 1), (2, 3), (17, 9), (33, 47)] {
        let pictures: Vec<Picture> = source
            .iter()
            .map(|picture| picture.cropped(width, height))
            .collect();
        let frames = encode_and_check(&pictures, &EncodeParams::with_quantizer(20));
        assert_eq!(frames[2].picture().width(), width);
        assert_eq!(frames[2].picture().height(), height);
    }
}

#[test]
fn golden_and_altref_are_refreshed_and_used_where_they_pay() {
    use codec::{parse, ReferenceKind};
    let (width, height) = (320, 192);
    let pictures = clip(24, width, height);
    let mut state = DecoderState::new();
    let mut frames = Vec::new();
    let mut uses = [0usize; 2];
    for (index, picture) in pictures.iter().enumerate() {
        // Staggered refreshes keep the three references distinct for most frames.
        let params = EncodeParams {
            refresh_golden: index % 12 == 6,
            refresh_altref: index % 6 == 3,
            ..EncodeParams::with_quantizer(40)
        };
        let frame = encode(&state, picture, &params).expect("encode");
        assert_eq!(frame.source, state.id());
        assert_decodes_to_target(&state, &frame, index);
        let syntax = parse(&state, &frame.bytes).expect("parse");
        assert_eq!(syntax.header.refresh_altref, index == 0 || index % 6 == 3);
        assert_eq!(syntax.header.refresh_golden, index == 0 || index % 12 == 6);
        assert!(!syntax.header.sign_bias_altref && !syntax.header.sign_bias_golden);
        for info in &syntax.macroblocks {
            match info.reference {
                ReferenceKind::Golden => uses[0] += 1,
                ReferenceKind::AltRef => uses[1] += 1,
                _ => {}
            }
        }
        state = frame.target.clone();
        frames.push(frame);
    }
    assert!(uses[0] > 0, "no macroblock predicts from GOLDEN");
    assert!(uses[1] > 0, "no macroblock predicts from ALTREF");
    let dir = temp_dir("golden-altref");
    let ivf = dir.join("golden-altref.ivf");
    write_ivf(&ivf, &frames, width, height);
    check_with_vpxdec(&ivf, &frames);
    check_with_ffmpeg(&ivf);
    std::fs::remove_dir_all(dir).ok();
}
