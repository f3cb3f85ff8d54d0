//! The `salsify` command line: one module per subcommand.

pub mod bench_decode;
pub mod bench_encode;
pub mod decode;
pub mod demo;
pub mod encode;
pub mod link;
pub mod shared;

use clap::{Parser, Subcommand};

/// Low-delay video calls on bad networks, and the tools to measure them.
#[derive(Debug, Parser)]
#[command(name = "salsify", version, about)]
pub struct Cli {
    /// What to run.
    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Measure our encoder against vpxenc: speed, rate and SSIM, BD-rate, candidate pairs.
    BenchEncode(bench_encode::BenchEncodeArgs),
    /// Run the codec half of the Salsify loop on the built-in scene and decode the result.
    Demo(demo::DemoArgs),
    /// Relay UDP between two endpoints through an emulated mahimahi-style link.
    Link(Box<link::LinkArgs>),
    /// Analyse a link log and plot its throughput and queueing delay.
    LinkPlot(link::LinkPlotArgs),
    /// Decode a VP8 IVF file to Y4M, or print per-frame MD5s.
    Decode(decode::DecodeArgs),
    /// Encode a Y4M video to VP8 (IVF) at a constant quantizer or a bit rate.
    Encode(encode::EncodeArgs),
    /// Measure our decoder's speed against vpxdec on the same streams.
    BenchDecode(bench_decode::BenchDecodeArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::BenchEncode(args) => bench_encode::run(args),
        Command::Demo(args) => demo::run(args),
        Command::Link(args) => link::run_link(*args),
        Command::LinkPlot(args) => link::run_link_plot(args),
        Command::Decode(args) => decode::run(args),
        Command::Encode(args) => encode::run(args),
        Command::BenchDecode(args) => bench_decode::run(args),
    }
}
