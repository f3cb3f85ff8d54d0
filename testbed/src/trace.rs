//! mahimahi packet-delivery traces.
//!
//! A trace file holds one non-negative integer per line: a millisecond offset from the start of
//! the trace at which the link may deliver one [`OPPORTUNITY_BYTES`]-byte packet. Offsets never
//! decrease; an offset repeated k times is k opportunities in that millisecond. The trace repeats
//! with a period equal to its last offset.

use std::path::Path;

/// Bytes the link can carry at one delivery opportunity (mahimahi's `PACKET_SIZE`).
pub const OPPORTUNITY_BYTES: usize = 1504;

/// Why a trace could not be read.
#[derive(Debug, thiserror::Error)]
pub enum TraceError {
    /// The file could not be read.
    #[error("{file}: cannot read trace: {source}")]
    Io {
        /// The trace file's name.
        file: String,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A line is not a non-negative integer.
    #[error("{file}:{line}: not a millisecond timestamp: {text:?}")]
    NotANumber {
        /// The trace file's name.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// The offending line (cut to 40 characters).
        text: String,
    },
    /// A line is empty (only a final newline is allowed).
    #[error("{file}:{line}: empty line")]
    EmptyLine {
        /// The trace file's name.
        file: String,
        /// The 1-based line number.
        line: usize,
    },
    /// A timestamp is smaller than the one before it.
    #[error("{file}:{line}: timestamp {value} ms is before the previous one ({previous} ms)")]
    Decreasing {
        /// The trace file's name.
        file: String,
        /// The 1-based line number.
        line: usize,
        /// The offending timestamp.
        value: u64,
        /// The timestamp on the line before.
        previous: u64,
    },
    /// The trace holds no timestamps.
    #[error("{file}: the trace holds no timestamps")]
    Empty {
        /// The trace file's name.
        file: String,
    },
    /// The last timestamp is zero, so the trace has no duration to repeat over.
    #[error("{file}: the trace must last a nonzero time (its last timestamp is 0)")]
    ZeroDuration {
        /// The trace file's name.
        file: String,
    },
}

/// A parsed delivery trace: non-decreasing millisecond offsets of delivery opportunities.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Trace {
    name: String,
    timestamps_ms: Vec<u64>,
}

impl Trace {
    /// Reads and parses a trace file.
    pub fn from_file(path: impl AsRef<Path>) -> Result<Trace, TraceError> {
        let path = path.as_ref();
        let name = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| TraceError::Io {
            file: name.clone(),
            source,
        })?;
        Trace::parse(&text, &name)
    }

    /// Parses trace text; `name` is used in errors and logs.
    pub fn parse(text: &str, name: &str) -> Result<Trace, TraceError> {
        let mut timestamps_ms = Vec::with_capacity(text.len() / 4);
        let body = text.strip_suffix('\n').unwrap_or(text);
        if !body.is_empty() {
            for (index, raw_line) in body.split('\n').enumerate() {
                let line = index + 1;
                let trimmed = raw_line.trim();
                if trimmed.is_empty() {
                    return Err(TraceError::EmptyLine {
                        file: name.to_string(),
                        line,
                    });
                }
                let value: u64 = match trimmed.parse() {
                    Ok(value) if trimmed.bytes().all(|byte| byte.is_ascii_digit()) => value,
                    _ => {
                        return Err(TraceError::NotANumber {
                            file: name.to_string(),
                            line,
                            text: trimmed.chars().take(40).collect(),
                        })
                    }
                };
                if let Some(&previous) = timestamps_ms.last() {
                    if value < previous {
                        return Err(TraceError::Decreasing {
                            file: name.to_string(),
                            line,
                            value,
                            previous,
                        });
                    }
                }
                timestamps_ms.push(value);
            }
        }
        Trace::from_timestamps(name, timestamps_ms)
    }

    /// Builds a trace from millisecond offsets, checking them as a file would be checked (line
    /// numbers in errors count from 1).
    pub fn from_timestamps(name: &str, timestamps_ms: Vec<u64>) -> Result<Trace, TraceError> {
        if let Some(position) = timestamps_ms.windows(2).position(|pair| pair[1] < pair[0]) {
            return Err(TraceError::Decreasing {
                file: name.to_string(),
                line: position + 2,
                value: timestamps_ms[position + 1],
                previous: timestamps_ms[position],
            });
        }
        match timestamps_ms.last() {
            None => Err(TraceError::Empty {
                file: name.to_string(),
            }),
            Some(0) => Err(TraceError::ZeroDuration {
                file: name.to_string(),
            }),
            Some(_) => Ok(Trace {
                name: name.to_string(),
                timestamps_ms,
            }),
        }
    }

    /// A constant-rate trace of `packets_per_ms` opportunities every millisecond over a period of
    /// `period_ms` (both at least 1): `packets_per_ms * 1504 * 8` kbit/s.
    pub fn constant(packets_per_ms: usize, period_ms: u64) -> Trace {
        let packets_per_ms = packets_per_ms.max(1);
        let period_ms = period_ms.max(1);
        let timestamps_ms = (1..=period_ms)
            .flat_map(|ms| std::iter::repeat_n(ms, packets_per_ms))
            .collect();
        Trace {
            name: format!("constant-{packets_per_ms}-per-ms"),
            timestamps_ms,
        }
    }

    /// The name given when parsing (the file's path for files).
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The opportunities' millisecond offsets within one period.
    pub fn timestamps_ms(&self) -> &[u64] {
        &self.timestamps_ms
    }

    /// The repetition period in milliseconds: the last timestamp.
    pub fn period_ms(&self) -> u64 {
        *self.timestamps_ms.last().expect("a trace is never empty")
    }

    /// Mean capacity over one period, in bits per second.
    pub fn mean_bits_per_second(&self) -> f64 {
        self.timestamps_ms.len() as f64 * OPPORTUNITY_BYTES as f64 * 8.0
            / (self.period_ms() as f64 / 1000.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_repeated_and_final_newline() {
        let trace = Trace::parse("1\n1\n3\n7\n", "t").unwrap();
        assert_eq!(trace.timestamps_ms(), &[1, 1, 3, 7]);
        assert_eq!(trace.period_ms(), 7);
        let trace = Trace::parse("0\n5", "t").unwrap();
        assert_eq!(trace.timestamps_ms(), &[0, 5]);
    }

    #[test]
    fn errors_name_file_and_line() {
        let error = Trace::parse("1\n2\nx3\n", "link.down").unwrap_err();
        assert!(matches!(error, TraceError::NotANumber { line: 3, .. }));
        assert_eq!(
            error.to_string(),
            "link.down:3: not a millisecond timestamp: \"x3\""
        );
        let error = Trace::parse("5\n4\n", "link.up").unwrap_err();
        assert!(matches!(
            error,
            TraceError::Decreasing {
                line: 2,
                value: 4,
                previous: 5,
                ..
            }
        ));
        assert!(error.to_string().starts_with("link.up:2:"));
        assert!(matches!(
            Trace::parse("", "e").unwrap_err(),
            TraceError::Empty { .. }
        ));
        assert!(matches!(
            Trace::parse("1\n\n2\n", "e").unwrap_err(),
            TraceError::EmptyLine { line: 2, .. }
        ));
        assert!(matches!(
            Trace::parse("0\n0\n", "z").unwrap_err(),
            TraceError::ZeroDuration { .. }
        ));
        assert!(matches!(
            Trace::parse("-1\n", "n").unwrap_err(),
            TraceError::NotANumber { line: 1, .. }
        ));
        assert!(matches!(
            Trace::parse("+1\n", "n").unwrap_err(),
            TraceError::NotANumber { line: 1, .. }
        ));
        assert!(matches!(
            Trace::parse("99999999999999999999999\n", "n").unwrap_err(),
            TraceError::NotANumber { .. }
        ));
        let missing = Trace::from_file("/nonexistent/trace.down").unwrap_err();
        assert!(missing.to_string().contains("/nonexistent/trace.down"));
    }

    #[test]
    fn constant_trace_rate() {
        let trace = Trace::constant(1, 1);
        assert_eq!(trace.timestamps_ms(), &[1]);
        assert!((trace.mean_bits_per_second() - 12_032_000.0).abs() < 1e-6);
        assert_eq!(Trace::constant(2, 3).timestamps_ms(), &[1, 1, 2, 2, 3, 3]);
    }
}
