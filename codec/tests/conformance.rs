//! Every conformance stream decodes with each shown frame's MD5 equal to the reference.

mod common;

use codec::{decode, DecoderState};

#[test]
fn all_test_vectors_match_reference_md5() {
    let dir = common::vectors_dir();
    let mut streams: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "ivf"))
        .collect();
    streams.sort();
    assert!(!streams.is_empty(), "no .ivf streams in {}", dir.display());
    let mut failures = Vec::new();
    for stream in &streams {
        let md5_path = stream.with_extension("ivf.md5");
        let expected: Vec<String> = std::fs::read_to_string(&md5_path)
            .unwrap_or_else(|e| panic!("{}: {e}", md5_path.display()))
            .lines()
            .filter_map(|line| line.split_whitespace().next().map(str::to_string))
            .collect();
        let mut state = DecoderState::new();
        let mut shown = Vec::new();
        let mut error = None;
        for (index, frame) in common::read_ivf(stream).iter().enumerate() {
            match decode(&state, frame) {
                Ok((next, picture)) => {
                    state = next;
                    if let Some(picture) = picture {
                        shown.push(common::md5_hex(&picture.to_i420()));
                    }
                }
                Err(e) => {
                    error = Some(format!("frame {index}: {e}"));
                    break;
                }
            }
        }
        let name = stream.file_name().unwrap().to_string_lossy().into_owned();
        let first_mismatch = shown
            .iter()
            .zip(&expected)
            .position(|(got, want)| got != want);
        if error.is_some() || first_mismatch.is_some() || shown.len() != expected.len() {
            failures.push(format!(
                "{name}: {} of {} frames shown, first mismatch {:?}, error {:?}",
                shown.len(),
                expected.len(),
                first_mismatch,
                error
            ));
        }
    }
    let passed = streams.len() - failures.len();
    println!("conformance: {passed} of {} streams match", streams.len());
    assert!(
        failures.is_empty(),
        "{passed} of {} streams match; failures:\n{}",
        streams.len(),
        failures.join("\n")
    );
}
