//! The `salsify` command line: one module per subcommand.

pub mod encode;
pub mod link;

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
    /// Encode a Y4M video to VP8 (IVF) at a constant quantizer or a bit rate.
    Encode(encode::EncodeArgs),
    /// Relay UDP between two endpoints through an emulated mahimahi-style link.
    Link(Box<link::LinkArgs>),
    /// Analyse a link log and plot its throughput and queueing delay.
    LinkPlot(link::LinkPlotArgs),
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Encode(args) => encode::run(args),
        Command::Link(args) => link::run_link(*args),
        Command::LinkPlot(args) => link::run_link_plot(args),
    }
}
