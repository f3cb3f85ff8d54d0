//! Decodes an IVF file several times and prints frames per second (for profiling the decoder;
//! `salsify bench-decode` is the comparison against vpxdec).
//!
//! Usage: `cargo run --release -p codec --example decode_speed -- FILE.ivf [REPETITIONS]`

use std::time::Instant;

use codec::ivf::IvfReader;
use codec::{decode, DecoderState};

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args
        .next()
        .expect("usage: decode_speed FILE.ivf [REPETITIONS]");
    let repetitions: u32 = args
        .next()
        .map_or(3, |value| value.parse().expect("a number"));
    let file = std::fs::File::open(&path).expect("readable IVF file");
    let frames: Vec<Vec<u8>> = IvfReader::new(std::io::BufReader::new(file))
        .expect("IVF header")
        .map(|frame| frame.expect("IVF frame").data)
        .collect();
    let mut best = f64::MAX;
    for _ in 0..repetitions {
        let start = Instant::now();
        let mut state = DecoderState::new();
        for frame in &frames {
            let (next, picture) = decode(&state, frame).expect("decodable stream");
            std::hint::black_box(&picture);
            state = next;
        }
        best = best.min(start.elapsed().as_secs_f64());
    }
    println!(
        "{} frames, best of {repetitions}: {:.1} ms, {:.1} fps",
        frames.len(),
        best * 1000.0,
        frames.len() as f64 / best
    );
}
