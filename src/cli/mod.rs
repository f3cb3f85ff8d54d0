//! The `salsify` command line: one module per subcommand.

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
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {}
}
