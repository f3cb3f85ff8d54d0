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
