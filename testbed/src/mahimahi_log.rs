//! Link logs in mahimahi's `mm-link --uplink-log` format, and their analysis as
//! `mm-throughput-graph` and `mm-delay-graph` do it.
//!
//! The log starts with `#` comment lines, one of which is `# base timestamp: <ms>`; every other
//! line is `<ms> + <bytes>` (arrival), `<ms> - <bytes> <delay ms>` (departure), `<ms> # <bytes>`
//! (delivery opportunity) or `<ms> d <packets> <bytes>` (queue drop).

use std::io::{self, Write};

use crate::link::LogEvent;
use crate::queue::QueueConfig;

/// Writes the comment header mahimahi writes, with a base timestamp of 0 (our times are already
/// relative to the link's start).
pub fn write_header(
    out: &mut impl Write,
    link_name: &str,
    trace_name: &str,
    queue: &QueueConfig,
    command_line: &str,
) -> io::Result<()> {
    writeln!(out, "# mahimahi mm-link ({link_name}) [{trace_name}]")?;
    writeln!(out, "# command line: {command_line}")?;
    writeln!(out, "# queue: {queue}")?;
    writeln!(out, "# init timestamp: 0")?;
    writeln!(out, "# base timestamp: 0")
}

/// Writes one event as a log line.
pub fn write_event(out: &mut impl Write, event: &LogEvent) -> io::Result<()> {
    match *event {
        LogEvent::Arrival { ms, bytes } => writeln!(out, "{ms} + {bytes}"),
        LogEvent::Departure {
            ms,
            bytes,
            delay_ms,
        } => writeln!(out, "{ms} - {bytes} {delay_ms}"),
        LogEvent::Opportunity { ms, bytes } => writeln!(out, "{ms} # {bytes}"),
        LogEvent::Drop { ms, packets, bytes } => writeln!(out, "{ms} d {packets} {bytes}"),
    }
}

/// Why a log could not be read.
#[derive(Debug, thiserror::Error)]
pub enum LogError {
    /// The file could not be read.
    #[error("{file}: cannot read log: {source}")]
    Io {
        /// The log file's name.
        file: String,
        /// What the operating system said.
        source: io::Error,
    },
    /// A line is not a valid event.
    #[error("{file}:{line}: {reason}: {text:?}")]
    BadLine {
        /// The log file's name.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// What is wrong with it.
        reason: &'static str,
        /// The line (cut to 60 characters).
        text: String,
    },
    /// No `# base timestamp:` line before the first event.
    #[error("{file}: the log has no '# base timestamp:' line before its first event")]
    MissingBaseTimestamp {
        /// The log file's name.
        file: String,
    },
}

/// Parses a log's text into events with times relative to its base timestamp.
pub fn parse_log(text: &str, name: &str) -> Result<Vec<LogEvent>, LogError> {
    let mut base: Option<u64> = None;
    let mut events = Vec::new();
    for (index, line) in text.lines().enumerate() {
        let bad = |reason| LogError::BadLine {
            file: name.to_string(),
            line: index + 1,
            reason,
            text: line.chars().take(60).collect(),
        };
        if let Some(comment) = line.strip_prefix('#') {
            if let Some(value) = comment.trim().strip_prefix("base timestamp:") {
                if base.is_some() {
                    return Err(bad("base timestamp given twice"));
                }
                base = Some(
                    value
                        .trim()
                        .parse()
                        .map_err(|_| bad("bad base timestamp"))?,
                );
            }
            continue;
        }
        if line.trim().is_empty() {
            continue;
        }
        let base = base.ok_or_else(|| LogError::MissingBaseTimestamp {
            file: name.to_string(),
        })?;
        let fields: Vec<&str> = line.split_whitespace().collect();
        let number = |position: usize| -> Result<u64, LogError> {
            fields
                .get(position)
                .ok_or_else(|| bad("missing field"))?
                .parse()
                .map_err(|_| bad("field is not a non-negative integer"))
        };
        let time = number(0)?;
        let ms = time
            .checked_sub(base)
            .ok_or_else(|| bad("event before the base timestamp"))?;
        let kind = *fields.get(1).ok_or_else(|| bad("missing event type"))?;
        let size = |position| number(position).map(|value| value as usize);
        let event = match kind {
            "+" => LogEvent::Arrival {
                ms,
                bytes: size(2)?,
            },
            "#" => LogEvent::Opportunity {
                ms,
                bytes: size(2)?,
            },
            "-" => {
                let delay_ms = number(3)?;
                if delay_ms > ms {
                    return Err(bad("departure delay exceeds its timestamp"));
                }
                LogEvent::Departure {
                    ms,
                    bytes: size(2)?,
                    delay_ms,
                }
            }
            "d" => LogEvent::Drop {
                ms,
                packets: size(2)?,
                bytes: size(3)?,
            },
            _ => return Err(bad("unknown event type")),
        };
        events.push(event);
    }
    Ok(events)
}

/// Reads and parses a log file.
pub fn read_log(path: &std::path::Path) -> Result<Vec<LogEvent>, LogError> {
    let name = path.display().to_string();
    let text = std::fs::read_to_string(path).map_err(|source| LogError::Io {
        file: name.clone(),
        source,
    })?;
    parse_log(&text, &name)
}

/// Rates in one time bin, in Mbit/s.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RateBin {
    /// Start of the bin, in seconds.
    pub start_s: f64,
    /// Capacity offered by the trace.
    pub capacity_mbps: f64,
    /// Traffic arriving at the queue.
    pub ingress_mbps: f64,
    /// Traffic leaving the link.
    pub throughput_mbps: f64,
}

/// What `mm-throughput-graph` reports, plus the series behind the plots.
#[derive(Debug, Clone, PartialEq)]
pub struct LogAnalysis {
    /// Mean capacity over the log's span, in Mbit/s.
    pub average_capacity_mbps: f64,
    /// Mean arriving traffic, in Mbit/s.
    pub average_ingress_mbps: f64,
    /// Mean departing traffic, in Mbit/s.
    pub average_throughput_mbps: f64,
    /// Throughput over capacity.
    pub utilization: f64,
    /// 95th percentile of the per-packet queueing delay, in ms.
    pub p95_packet_delay_ms: f64,
    /// 95th percentile of the signal delay (for every millisecond, the least time for a packet
    /// sent then to arrive), in ms.
    pub p95_signal_delay_ms: f64,
    /// Packets the queue dropped.
    pub dropped_packets: u64,
    /// Rates per bin.
    pub bins: Vec<RateBin>,
    /// Each departure's time (s) and queueing delay (ms).
    pub packet_delays: Vec<(f64, f64)>,
}

/// Longest log span [`analyze`] accepts: six hours, in milliseconds. The signal delay is sampled
/// every millisecond, so longer logs would need gigabytes.
pub const MAX_ANALYZED_SPAN_MS: u64 = 6 * 3600 * 1000;

/// Why a log cannot be analysed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AnalysisError {
    /// The log has no departures, so there is no delay to measure, or it spans no time.
    #[error("the log has no departures over a nonzero time span")]
    NothingToAnalyze,
    /// The log spans more than [`MAX_ANALYZED_SPAN_MS`].
    #[error(
        "the log spans {span_ms} ms, more than the {MAX_ANALYZED_SPAN_MS} ms that can be analysed"
    )]
    TooLong {
        /// The log's span.
        span_ms: u64,
    },
}

/// The 95th percentile as `mm-throughput-graph` picks it: the sorted sample at index
/// `floor(0.95 * n)` (0-based).
fn mahimahi_p95(mut samples: Vec<f64>) -> Option<f64> {
    if samples.is_empty() {
        return None;
    }
    samples.sort_by(f64::total_cmp);
    let index = (0.95 * samples.len() as f64) as usize;
    Some(samples[index.min(samples.len() - 1)])
}

/// Analyses a log's events with bins of `bin_ms` milliseconds, computing the summary numbers as
/// `mm-throughput-graph` does.
pub fn analyze(events: &[LogEvent], bin_ms: u64) -> Result<LogAnalysis, AnalysisError> {
    let nothing = AnalysisError::NothingToAnalyze;
    let bin_ms = bin_ms.max(1);
    let time = |event: &LogEvent| match *event {
        LogEvent::Arrival { ms, .. }
        | LogEvent::Departure { ms, .. }
        | LogEvent::Opportunity { ms, .. }
        | LogEvent::Drop { ms, .. } => ms,
    };
    let first = events.iter().map(time).min().ok_or(nothing.clone())?;
    let last = events.iter().map(time).max().ok_or(nothing.clone())?;
    if last - first > MAX_ANALYZED_SPAN_MS {
        return Err(AnalysisError::TooLong {
            span_ms: last - first,
        });
    }
    let duration_s = (last - first) as f64 / 1000.0;
    if duration_s <= 0.0 {
        return Err(nothing);
    }
    let bin_count = (last / bin_ms - first / bin_ms + 1) as usize;
    let mut capacity = vec![0u64; bin_count];
    let mut ingress = vec![0u64; bin_count];
    let mut throughput = vec![0u64; bin_count];
    let mut packet_delays = Vec::new();
    let mut signal_delay: std::collections::BTreeMap<u64, u64> = Default::default();
    let mut dropped_packets = 0;
    for event in events {
        let bin = (time(event) / bin_ms - first / bin_ms) as usize;
        match *event {
            LogEvent::Arrival { bytes, .. } => ingress[bin] += bytes as u64 * 8,
            LogEvent::Opportunity { bytes, .. } => capacity[bin] += bytes as u64 * 8,
            LogEvent::Departure {
                ms,
                bytes,
                delay_ms,
            } => {
                throughput[bin] += bytes as u64 * 8;
                packet_delays.push((ms as f64 / 1000.0, delay_ms as f64));
                let sent = ms.saturating_sub(delay_ms);
                let entry = signal_delay.entry(sent).or_insert(delay_ms);
                *entry = (*entry).min(delay_ms);
            }
            LogEvent::Drop { packets, .. } => dropped_packets += packets as u64,
        }
    }
    if packet_delays.is_empty() {
        return Err(nothing);
    }
    // Signal delay for every millisecond: a millisecond with no packet sent inherits the next
    // sample's delay plus the wait until it.
    let (&earliest, _) = signal_delay.first_key_value().ok_or(nothing.clone())?;
    let (&latest, &latest_delay) = signal_delay.last_key_value().ok_or(nothing.clone())?;
    let mut signal_samples = Vec::with_capacity((latest - earliest + 1) as usize);
    let mut next = latest_delay;
    for ms in (earliest..=latest).rev() {
        next = match signal_delay.get(&ms) {
            Some(&delay) => delay,
            None => next + 1,
        };
        signal_samples.push(next as f64);
    }
    let delays_only: Vec<f64> = packet_delays.iter().map(|&(_, delay)| delay).collect();
    let sum = |bins: &[u64]| bins.iter().sum::<u64>() as f64;
    let average = |bits: f64| bits / duration_s / 1e6;
    let average_capacity_mbps = average(sum(&capacity));
    let average_throughput_mbps = average(sum(&throughput));
    let bin_seconds = bin_ms as f64 / 1000.0;
    let bins = (0..bin_count)
        .map(|bin| RateBin {
            start_s: ((first / bin_ms) as usize + bin) as f64 * bin_seconds,
            capacity_mbps: capacity[bin] as f64 / bin_seconds / 1e6,
            ingress_mbps: ingress[bin] as f64 / bin_seconds / 1e6,
            throughput_mbps: throughput[bin] as f64 / bin_seconds / 1e6,
        })
        .collect();
    Ok(LogAnalysis {
        average_capacity_mbps,
        average_ingress_mbps: average(sum(&ingress)),
        average_throughput_mbps,
        utilization: if average_capacity_mbps > 0.0 {
            average_throughput_mbps / average_capacity_mbps
        } else {
            0.0
        },
        p95_packet_delay_ms: mahimahi_p95(delays_only).ok_or(nothing.clone())?,
        p95_signal_delay_ms: mahimahi_p95(signal_samples).ok_or(nothing)?,
        dropped_packets,
        bins,
        packet_delays,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_reads_back_every_event_kind() {
        let events = vec![
            LogEvent::Arrival { ms: 0, bytes: 100 },
            LogEvent::Drop {
                ms: 0,
                packets: 1,
                bytes: 1504,
            },
            LogEvent::Opportunity { ms: 1, bytes: 1504 },
            LogEvent::Departure {
                ms: 1,
                bytes: 100,
                delay_ms: 1,
            },
        ];
        let mut text = Vec::new();
        write_header(
            &mut text,
            "uplink",
            "t.up",
            &QueueConfig::Infinite,
            "salsify link",
        )
        .unwrap();
        for event in &events {
            write_event(&mut text, event).unwrap();
        }
        let text = String::from_utf8(text).unwrap();
        assert!(text.contains("# base timestamp: 0\n"));
        assert!(text.ends_with("0 + 100\n0 d 1 1504\n1 # 1504\n1 - 100 1\n"));
        assert_eq!(parse_log(&text, "log").unwrap(), events);
    }

    #[test]
    fn relative_to_base_timestamp_and_typed_errors() {
        let events = parse_log("# base timestamp: 1000\n1005 + 10\n", "x").unwrap();
        assert_eq!(events, vec![LogEvent::Arrival { ms: 5, bytes: 10 }]);
        let error = parse_log("# base timestamp: 0\n5 ? 10\n", "x.log").unwrap_err();
        assert!(error.to_string().starts_with("x.log:2: unknown event type"));
        assert!(matches!(
            parse_log("5 + 10\n", "x"),
            Err(LogError::MissingBaseTimestamp { .. })
        ));
        assert!(matches!(
            parse_log("# base timestamp: 0\n5 - 10\n", "x"),
            Err(LogError::BadLine { line: 2, .. })
        ));
        assert!(matches!(
            parse_log("# base timestamp: 0\n5 - 10 9\n", "x"),
            Err(LogError::BadLine { line: 2, .. })
        ));
    }

    #[test]
    fn p95_picks_the_sample_mahimahi_picks() {
        let samples: Vec<f64> = (1..=100).rev().map(f64::from).collect();
        // Index floor(0.95 * 100) = 95 of the sorted samples holds 96.
        assert_eq!(mahimahi_p95(samples), Some(96.0));
        assert_eq!(mahimahi_p95(vec![7.0]), Some(7.0));
        assert_eq!(mahimahi_p95(Vec::new()), None);
    }

    #[test]
    fn analysis_matches_hand_computation() {
        // One opportunity per ms for 1 s (12.032 Mbit/s); a 1504-byte packet arrives every 2 ms
        // and leaves 1 ms later: half the capacity is used, every delay is 1 ms.
        let mut events = Vec::new();
        for ms in 0..=1000u64 {
            if ms > 0 {
                events.push(LogEvent::Opportunity { ms, bytes: 1504 });
            }
            if ms % 2 == 0 && ms < 1000 {
                events.push(LogEvent::Arrival { ms, bytes: 1504 });
            }
            if ms % 2 == 1 {
                events.push(LogEvent::Departure {
                    ms,
                    bytes: 1504,
                    delay_ms: 1,
                });
            }
        }
        let analysis = analyze(&events, 100).unwrap();
        assert!((analysis.average_capacity_mbps - 12.032).abs() < 1e-9);
        assert!((analysis.average_throughput_mbps - 6.016).abs() < 1e-9);
        assert!((analysis.utilization - 0.5).abs() < 1e-9);
        assert_eq!(analysis.p95_packet_delay_ms, 1.0);
        // Odd milliseconds wait one more for the next even one: signal delay 1 or 2 ms.
        assert_eq!(analysis.p95_signal_delay_ms, 2.0);
        assert_eq!(analysis.bins.len(), 11);
        assert!((analysis.bins[3].capacity_mbps - 12.032).abs() < 1e-9);
        assert!((analysis.bins[3].throughput_mbps - 6.016).abs() < 1e-9);
        assert_eq!(analyze(&[], 100), Err(AnalysisError::NothingToAnalyze));
        let far_apart = [
            LogEvent::Opportunity { ms: 0, bytes: 1504 },
            LogEvent::Departure {
                ms: u64::MAX / 2,
                bytes: 1,
                delay_ms: 0,
            },
        ];
        assert!(matches!(
            analyze(&far_apart, 100),
            Err(AnalysisError::TooLong { .. })
        ));
    }
}
