//! `salsify link`: relay UDP between two endpoints through an emulated mahimahi-style link, and
//! `salsify link-plot`: analyse and plot a link log.

use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use clap::Args;
use testbed::proxy::{Proxy, ProxyConfig};
use testbed::{LinkConfig, OnOff, Outage, QueueConfig, Trace};

/// Options of `salsify link`.
#[derive(Debug, Args)]
pub struct LinkArgs {
    /// Trace for the server-to-client direction (mahimahi format).
    #[arg(long)]
    pub downlink: PathBuf,
    /// Trace for the client-to-server direction (mahimahi format).
    #[arg(long)]
    pub uplink: PathBuf,
    /// One-way delay added in each direction, in milliseconds (as `mm-delay` outside `mm-link`:
    /// the downlink meets the delay before the link, the uplink after it).
    #[arg(long, default_value_t = 0)]
    pub delay_ms: u64,
    /// Queue before each link: infinite, droptail:packets=N, droptail:bytes=N, drophead:..., or
    /// codel:target=MS,interval=MS[,packets=N].
    #[arg(long, default_value = "infinite")]
    pub queue: QueueConfig,
    /// Probability of losing each packet, in each direction.
    #[arg(long, default_value_t = 0.0)]
    pub loss: f64,
    /// Random outages in both directions, as MEAN_ON_MS:MEAN_OFF_MS (exponentially distributed).
    #[arg(long, value_parser = parse_on_off)]
    pub on_off: Option<OnOff>,
    /// A scheduled outage in both directions, as START_MS:DURATION_MS (may be repeated).
    #[arg(long, value_parser = parse_outage)]
    pub outage: Vec<Outage>,
    /// Seed of the loss and outage processes.
    #[arg(long, default_value_t = 1)]
    pub seed: u64,
    /// Address to receive the client's datagrams on.
    #[arg(long)]
    pub listen: SocketAddr,
    /// Address to relay the client's datagrams to.
    #[arg(long)]
    pub forward: SocketAddr,
    /// Write the uplink's log (mahimahi format) here.
    #[arg(long)]
    pub uplink_log: Option<PathBuf>,
    /// Write the downlink's log (mahimahi format) here.
    #[arg(long)]
    pub downlink_log: Option<PathBuf>,
    /// Leave queue-drop (`d`) lines out of the logs: mahimahi's mm-link writes them, but its
    /// mm-throughput-graph and mm-delay-graph scripts reject them.
    #[arg(long)]
    pub omit_drop_lines: bool,
    /// Stop after this many seconds (default: run until interrupted).
    #[arg(long)]
    pub duration_secs: Option<f64>,
}

/// Options of `salsify link-plot`.
#[derive(Debug, Args)]
pub struct LinkPlotArgs {
    /// A link log in mahimahi format.
    pub log: PathBuf,
    /// Output prefix: writes PREFIX-throughput.{svg,png} and PREFIX-delay.{svg,png}.
    #[arg(long)]
    pub out: PathBuf,
    /// Width of the throughput bins, in milliseconds.
    #[arg(long, default_value_t = 500)]
    pub bin_ms: u64,
}

fn parse_pair(text: &str) -> Result<(f64, f64), String> {
    let (first, second) = text
        .split_once(':')
        .ok_or_else(|| format!("expected A:B, got {text:?}"))?;
    let number = |value: &str| {
        value
            .trim()
            .parse::<f64>()
            .ok()
            .filter(|number| number.is_finite() && *number >= 0.0)
            .ok_or_else(|| format!("{value:?} is not a non-negative number"))
    };
    Ok((number(first)?, number(second)?))
}

fn parse_on_off(text: &str) -> Result<OnOff, String> {
    let (mean_on_ms, mean_off_ms) = parse_pair(text)?;
    if mean_on_ms + mean_off_ms <= 0.0 {
        return Err("mean on and off times cannot both be 0".to_string());
    }
    Ok(OnOff {
        mean_on_ms,
        mean_off_ms,
    })
}

fn parse_outage(text: &str) -> Result<Outage, String> {
    let (start_ms, duration_ms) = parse_pair(text)?;
    Ok(Outage {
        start_ms: start_ms as u64,
        duration_ms: duration_ms as u64,
    })
}

/// Runs `salsify link`.
pub fn run_link(args: LinkArgs) -> anyhow::Result<()> {
    anyhow::ensure!(
        (0.0..=1.0).contains(&args.loss),
        "--loss must be a probability between 0 and 1"
    );
    let link =
        |trace: &PathBuf, seed: u64, delay_before_link: bool| -> anyhow::Result<LinkConfig> {
            let trace = Trace::from_file(trace)?;
            let mut config = LinkConfig::new(Arc::new(trace));
            config.queue = args.queue;
            config.delay_us = args.delay_ms.saturating_mul(1000);
            config.delay_before_link = delay_before_link;
            config.loss_probability = args.loss;
            config.on_off = args.on_off;
            config.outages = args.outage.clone();
            config.seed = seed;
            Ok(config)
        };
    let config = ProxyConfig {
        listen: args.listen,
        forward: args.forward,
        uplink: link(&args.uplink, args.seed, false)?,
        downlink: link(&args.downlink, args.seed.wrapping_add(1), true)?,
        uplink_log: args.uplink_log.clone(),
        downlink_log: args.downlink_log.clone(),
        command_line: std::env::args().collect::<Vec<_>>().join(" "),
        log_drops: !args.omit_drop_lines,
    };
    let proxy = Proxy::start(config)
        .with_context(|| format!("cannot relay from {} to {}", args.listen, args.forward))?;
    eprintln!(
        "salsify link: relaying {} -> {} (uplink {}, downlink {}, delay {} ms, queue {})",
        proxy.listen_address(),
        args.forward,
        args.uplink.display(),
        args.downlink.display(),
        args.delay_ms,
        args.queue
    );
    let duration = match args.duration_secs {
        Some(seconds) if seconds.is_finite() && seconds >= 0.0 => {
            Some(Duration::from_secs_f64(seconds))
        }
        Some(_) => anyhow::bail!("--duration-secs must be a non-negative number"),
        None => None,
    };
    let report = proxy.run_for(duration)?;
    for (name, stats) in [("uplink", report.uplink), ("downlink", report.downlink)] {
        eprintln!(
            "{name}: {} packets in, {} out, {} dropped by the queue, {} lost, {} in outages",
            stats.sent_packets,
            stats.departed_packets,
            stats.queue_drops,
            stats.random_losses,
            stats.outage_drops
        );
    }
    if report.ignored_datagrams > 0 {
        eprintln!(
            "ignored {} datagrams from unknown peers",
            report.ignored_datagrams
        );
    }
    Ok(())
}

/// Runs `salsify link-plot`.
pub fn run_link_plot(args: LinkPlotArgs) -> anyhow::Result<()> {
    let events = testbed::mahimahi_log::read_log(&args.log)?;
    let analysis = testbed::mahimahi_log::analyze(&events, args.bin_ms)
        .with_context(|| format!("cannot analyse {}", args.log.display()))?;
    let mut out = std::io::stdout().lock();
    writeln!(
        out,
        "Average capacity: {:.2} Mbits/s",
        analysis.average_capacity_mbps
    )?;
    writeln!(
        out,
        "Average throughput: {:.2} Mbits/s ({:.1}% utilization)",
        analysis.average_throughput_mbps,
        analysis.utilization * 100.0
    )?;
    writeln!(
        out,
        "95th percentile per-packet queueing delay: {:.0} ms",
        analysis.p95_packet_delay_ms
    )?;
    writeln!(
        out,
        "95th percentile signal delay: {:.0} ms",
        analysis.p95_signal_delay_ms
    )?;
    if let Err(reason) = testbed::plot::png_font() {
        eprintln!("salsify link-plot: warning: PNG plots go without text: {reason}");
    }
    for path in testbed::plot::write_plots(&analysis, &args.out)? {
        writeln!(out, "wrote {}", path.display())?;
    }
    Ok(())
}
