//! Helpers shared by the decoder tests.
#![allow(dead_code)]

use std::path::PathBuf;

use codec::ivf::IvfReader;

/// The shared data directory: `$SALSIFY_SHARED`, else `<workspace>/../shared`. Panics when it
/// does not exist, so tests never pass vacuously.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("SALSIFY_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../shared"),
    };
    assert!(
        dir.is_dir(),
        "shared test data not found at {} (set SALSIFY_SHARED)",
        dir.display()
    );
    dir
}

/// The conformance vectors directory.
pub fn vectors_dir() -> PathBuf {
    let dir = shared_dir().join("vp8-test-vectors");
    assert!(dir.is_dir(), "missing {}", dir.display());
    dir
}

/// All frames of an IVF file.
pub fn read_ivf(path: &std::path::Path) -> Vec<Vec<u8>> {
    let file = std::fs::File::open(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    IvfReader::new(std::io::BufReader::new(file))
        .unwrap()
        .map(|frame| frame.unwrap().data)
        .collect()
}

/// Hex MD5 of bytes.
pub fn md5_hex(bytes: &[u8]) -> String {
    use md5::{Digest, Md5};
    let digest = Md5::digest(bytes);
    digest.iter().map(|byte| format!("{byte:02x}")).collect()
}

/// Decodes every conformance stream and checks each shown frame's MD5; panics listing the
/// failures. Returns the number of streams checked.
pub fn check_all_test_vectors() -> usize {
    let dir = vectors_dir();
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
        let mut state = codec::DecoderState::new();
        let mut shown = Vec::new();
        let mut error = None;
        for (index, frame) in read_ivf(stream).iter().enumerate() {
            match codec::decode(&state, frame) {
                Ok((next, picture)) => {
                    state = next;
                    if let Some(picture) = picture {
                        shown.push(md5_hex(&picture.to_i420()));
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
    streams.len()
}
