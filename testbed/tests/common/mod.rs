//! Helpers shared by the integration tests: locating the shared data and external oracles.

#![allow(dead_code)]

use std::path::PathBuf;
use std::process::Command;

/// The shared data directory: `$SALSIFY_SHARED`, else `<workspace root>/../shared`. Panics with a
/// clear message when it is missing, so a test never passes without its data.
pub fn shared_dir() -> PathBuf {
    let dir = match std::env::var_os("SALSIFY_SHARED") {
        Some(dir) => PathBuf::from(dir),
        None => PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("..")
            .join("..")
            .join("shared"),
    };
    assert!(
        dir.is_dir(),
        "shared test data not found at {} (set SALSIFY_SHARED to the shared directory)",
        dir.display()
    );
    dir
}

/// A file inside the shared data directory; panics clearly when it is missing.
pub fn shared_file(relative: &str) -> PathBuf {
    let path = shared_dir().join(relative);
    assert!(
        path.is_file(),
        "shared test file {} is missing",
        path.display()
    );
    path
}

/// Runs `ffmpeg` with the given arguments; panics clearly when it is missing or fails.
pub fn ffmpeg(arguments: &[&str]) {
    let output = Command::new("ffmpeg")
        .args(["-hide_banner", "-loglevel", "error", "-y"])
        .args(arguments)
        .output()
        .expect("ffmpeg must be installed to run this test (apt-get install ffmpeg)");
    assert!(
        output.status.success(),
        "ffmpeg {:?} failed: {}",
        arguments,
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A fresh, empty temporary directory for one test.
pub fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salsify-testbed-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temporary directory");
    dir
}
