//! Damaged input: truncations and random bit flips give an error or a picture, never a panic;
//! after an error the previous state still decodes the next good frame exactly as before.

mod common;

use codec::{decode, DecoderState, Picture};

/// Small deterministic generator (xorshift64*), so failures reproduce.
struct Random(u64);

impl Random {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    fn below(&mut self, bound: usize) -> usize {
        (self.next() % bound as u64) as usize
    }
}

/// Decodes a stream, returning the state before each frame and the result of each frame.
fn states_of(frames: &[Vec<u8>]) -> Vec<(DecoderState, DecoderState, Option<Picture>)> {
    let mut state = DecoderState::new();
    let mut out = Vec::new();
    for frame in frames {
        let (next, picture) = decode(&state, frame).expect("good stream decodes");
        out.push((state, next.clone(), picture));
        state = next;
    }
    out
}

fn check_recovery(
    before: &DecoderState,
    good_frame: &[u8],
    expected: &(DecoderState, DecoderState, Option<Picture>),
) {
    let (state, picture) = decode(before, good_frame).expect("good frame decodes after an error");
    assert_eq!(state.id(), expected.1.id());
    assert_eq!(picture, expected.2);
}

#[test]
fn every_truncation_point_is_handled() {
    let dir = common::vectors_dir();
    for (name, frame_indices) in [
        ("vp80-00-comprehensive-001.ivf", vec![0usize, 3]),
        ("vp80-04-partitions-1405.ivf", vec![1, 8]),
    ] {
        let frames = common::read_ivf(&dir.join(name));
        let decoded = states_of(&frames);
        for &index in &frame_indices {
            let before = &decoded[index].0;
            let mut errors = 0;
            for end in 0..frames[index].len() {
                if decode(before, &frames[index][..end]).is_err() {
                    errors += 1;
                }
            }
            // Cutting the header off must be detected.
            assert!(errors > 0, "{name} frame {index}: no truncation detected");
            check_recovery(before, &frames[index], &decoded[index]);
        }
    }
}

#[test]
fn random_bit_flips_never_panic_and_errors_leave_state_usable() {
    let dir = common::vectors_dir();
    let mut random = Random(0x5A15_1F00_D00D_F00D);
    let mut outcomes = [0usize; 2];
    for name in [
        "vp80-00-comprehensive-001.ivf",
        "vp80-00-comprehensive-010.ivf",
        "vp80-03-segmentation-1401.ivf",
        "vp80-04-partitions-1404.ivf",
    ] {
        let frames = common::read_ivf(&dir.join(name));
        let decoded = states_of(&frames);
        for _ in 0..600 {
            let index = random.below(frames.len());
            let mut damaged = frames[index].clone();
            for _ in 0..1 + random.below(4) {
                let bit = random.below(damaged.len() * 8);
                damaged[bit / 8] ^= 1 << (bit % 8);
            }
            let before = &decoded[index].0;
            match decode(before, &damaged) {
                Ok(_) => outcomes[0] += 1,
                Err(error) => {
                    outcomes[1] += 1;
                    assert!(!error.to_string().is_empty());
                    if index + 1 < frames.len() {
                        // The state before the damaged frame is intact: re-decoding the good
                        // frame and then the next one matches the original run.
                        check_recovery(before, &frames[index], &decoded[index]);
                    }
                }
            }
        }
    }
    println!(
        "bit flips: {} decoded, {} rejected",
        outcomes[0], outcomes[1]
    );
    assert!(outcomes[1] > 0, "no damaged frame was ever rejected");
}

#[test]
fn forged_headers_are_rejected() {
    let state = DecoderState::new();
    assert!(decode(&state, &[]).is_err());
    assert!(decode(&state, &[0x10, 0x02, 0x00]).is_err());
    // Key frame with a wrong start code.
    assert!(decode(&state, &[0x50, 0x00, 0x00, 0x9d, 0x01, 0x2b, 16, 0, 16, 0]).is_err());
    // Key frame declaring 16383x16383 (over the size limit).
    let huge = [
        0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0xff, 0x3f, 0xff, 0x3f, 0, 0,
    ];
    assert!(matches!(
        decode(&state, &huge),
        Err(codec::DecodeError::FrameTooLarge { .. })
    ));
    // Zero-sized key frame.
    let zero = [0x50, 0x00, 0x00, 0x9d, 0x01, 0x2a, 0, 0, 16, 0, 0, 0];
    assert!(matches!(
        decode(&state, &zero),
        Err(codec::DecodeError::ZeroSize)
    ));
}
