//! Decoding is a pure function: the same state and bytes give the same picture and state id,
//! the input state is untouched, and the two-stage API agrees with `decode`.

mod common;

use codec::{decode, parse, reconstruct_frame, DecoderState};

fn stream(name: &str) -> Vec<Vec<u8>> {
    common::read_ivf(&common::vectors_dir().join(name))
}

#[test]
fn same_state_and_bytes_give_identical_results() {
    for name in [
        "vp80-00-comprehensive-007.ivf",
        "vp80-03-segmentation-1436.ivf",
        "vp80-04-partitions-1405.ivf",
    ] {
        let frames = stream(name);
        let mut state = DecoderState::new();
        for frame in &frames {
            let id_before = state.id();
            let last_before = state.last_picture();
            let (first_state, first_picture) = decode(&state, frame).unwrap();
            let (second_state, second_picture) = decode(&state, frame).unwrap();
            assert_eq!(first_picture, second_picture);
            assert_eq!(first_state.id(), second_state.id());
            assert_eq!(state.id(), id_before, "input state changed");
            assert_eq!(
                state.last_picture(),
                last_before,
                "input references changed"
            );
            state = first_state;
        }
    }
}

#[test]
fn state_ids_distinguish_states_and_clones_share_them() {
    let frames = stream("vp80-00-comprehensive-001.ivf");
    let empty = DecoderState::new();
    let (first, _) = decode(&empty, &frames[0]).unwrap();
    let (second, _) = decode(&first, &frames[1]).unwrap();
    assert_ne!(empty.id(), first.id());
    assert_ne!(first.id(), second.id());
    assert_eq!(first.clone().id(), first.id());
    assert_eq!(DecoderState::new().id(), empty.id());
}

#[test]
fn parse_then_reconstruct_equals_decode() {
    let frames = stream("vp80-00-comprehensive-001.ivf");
    let mut state = DecoderState::new();
    for frame in frames.iter().take(10) {
        let (decoded_state, decoded_picture) = decode(&state, frame).unwrap();
        let syntax = parse(&state, frame).unwrap();
        assert_eq!(
            syntax.macroblocks.len(),
            syntax.header.macroblock_columns() * syntax.header.macroblock_rows()
        );
        let (rebuilt_state, rebuilt_picture) = reconstruct_frame(&state, &syntax);
        assert_eq!(decoded_picture, rebuilt_picture);
        assert_eq!(decoded_state.id(), rebuilt_state.id());
        state = decoded_state;
    }
}

#[test]
fn inter_frame_without_key_frame_is_an_error() {
    let frames = stream("vp80-00-comprehensive-001.ivf");
    assert!(matches!(
        decode(&DecoderState::new(), &frames[1]),
        Err(codec::DecodeError::NoReferenceFrames)
    ));
}
