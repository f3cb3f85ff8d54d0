//! `salsify link` and `salsify link-plot` run as programs: the relay on loopback under a
//! constant-rate trace delivers what the trace and delay promise and writes logs that parse; the
//! plotter writes its files, with a warning when it has no font for PNG text.

use std::io::{BufRead, BufReader};
use std::net::{SocketAddr, UdpSocket};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{mpsc, Arc};
use std::time::{Duration, Instant};

use testbed::LogEvent;

const DELAY_MS: u64 = 40;
/// How long the relay runs: enough for both phases below with room for a slow start.
const RELAY_SECONDS: u64 = 4;
/// Size of the delay probes; throughput datagrams are larger.
const PROBE_BYTES: usize = 100;
const PROBES: usize = 50;
/// 1500 bytes with the IPv4 and UDP headers: one per 1504-byte delivery opportunity.
const FULL_DATAGRAM_BYTES: usize = 1472;

/// A fresh, empty temporary directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("salsify-link-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("create temporary directory");
    dir
}

/// A child process killed when the test lets go of it, so a failing test leaves nothing behind.
struct Relay(Child);

impl Drop for Relay {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

impl Relay {
    /// Waits for the relay to exit on its own; panics if it outlives `limit`.
    fn wait(&mut self, limit: Duration) -> ExitStatus {
        let start = Instant::now();
        loop {
            if let Some(status) = self.0.try_wait().expect("poll the relay") {
                return status;
            }
            assert!(
                start.elapsed() < limit,
                "the relay did not stop after {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

fn micros_since(origin: Instant) -> u64 {
    origin.elapsed().as_micros() as u64
}

/// A datagram stamped with its send time in its first 8 bytes.
fn stamped(origin: Instant, length: usize) -> Vec<u8> {
    let mut datagram = micros_since(origin).to_le_bytes().to_vec();
    datagram.resize(length, 0);
    datagram
}

fn stamp(datagram: &[u8]) -> u64 {
    u64::from_le_bytes(datagram[..8].try_into().unwrap())
}

/// What the server saw: arrival time, length and send stamp of every datagram.
struct Arrival {
    at_us: u64,
    length: usize,
    sent_us: u64,
}

/// The number after `label` in a line such as `uplink: 5 packets in, 4 out, ...`.
fn count_before(line: &str, label: &str) -> u64 {
    let end = line
        .find(label)
        .unwrap_or_else(|| panic!("{label:?} in {line:?}"));
    line[..end]
        .rsplit([' ', ','])
        .find(|word| !word.is_empty())
        .and_then(|word| word.parse().ok())
        .unwrap_or_else(|| panic!("a count before {label:?} in {line:?}"))
}

fn departures(events: &[LogEvent]) -> u64 {
    events
        .iter()
        .filter(|event| matches!(event, LogEvent::Departure { .. }))
        .count() as u64
}

#[test]
fn link_relays_under_trace_with_delay_and_writes_logs() {
    let origin = Instant::now();
    let dir = temp_dir("relay");
    // One opportunity every millisecond (12.032 Mbit/s), in both directions.
    let trace = dir.join("constant.trace");
    let lines: String = (1..=100).map(|ms| format!("{ms}\n")).collect();
    std::fs::write(&trace, lines).unwrap();
    let uplink_log = dir.join("uplink.log");
    let downlink_log = dir.join("downlink.log");

    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();

    let mut relay = Relay(
        Command::new(env!("CARGO_BIN_EXE_salsify"))
            .arg("link")
            .arg("--uplink")
            .arg(&trace)
            .arg("--downlink")
            .arg(&trace)
            .args(["--delay-ms", &DELAY_MS.to_string()])
            .args(["--queue", "droptail:packets=64"])
            .args(["--listen", "127.0.0.1:0"])
            .args(["--forward", &server.local_addr().unwrap().to_string()])
            .arg("--uplink-log")
            .arg(&uplink_log)
            .arg("--downlink-log")
            .arg(&downlink_log)
            .args(["--duration-secs", &RELAY_SECONDS.to_string()])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("the salsify binary starts"),
    );
    // The relay names the address it listens on (the system picked the port) on stderr.
    let (line_sender, lines) = mpsc::channel();
    let stderr = relay.0.stderr.take().unwrap();
    let stderr_reader = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines() {
            let Ok(line) = line else { break };
            if line_sender.send(line).is_err() {
                break;
            }
        }
    });
    let mut stderr_lines = Vec::new();
    let relay_address: SocketAddr = loop {
        let line = lines
            .recv_timeout(Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("the relay announces itself; it said {stderr_lines:?}"));
        stderr_lines.push(line.clone());
        if let Some(rest) = line.strip_prefix("salsify link: relaying ") {
            break rest
                .split_whitespace()
                .next()
                .and_then(|address| address.parse().ok())
                .unwrap_or_else(|| panic!("a listening address in {line:?}"));
        }
    };

    // The server records every datagram and echoes the delay probes.
    let done = Arc::new(AtomicBool::new(false));
    let server_thread = {
        let done = Arc::clone(&done);
        std::thread::spawn(move || {
            let mut arrivals = Vec::new();
            let mut buffer = [0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                let Ok((length, from)) = server.recv_from(&mut buffer) else {
                    continue;
                };
                arrivals.push(Arrival {
                    at_us: micros_since(origin),
                    length,
                    sent_us: stamp(&buffer),
                });
                if length == PROBE_BYTES {
                    server.send_to(&buffer[..length], from).unwrap();
                }
            }
            arrivals
        })
    };
    let echo_thread = {
        let done = Arc::clone(&done);
        let client = client.try_clone().unwrap();
        std::thread::spawn(move || {
            let mut round_trips_us = Vec::new();
            let mut buffer = [0u8; 2048];
            while !done.load(Ordering::Relaxed) {
                let Ok((length, from)) = client.recv_from(&mut buffer) else {
                    continue;
                };
                assert_eq!(from, relay_address, "replies come from the relay");
                assert_eq!(length, PROBE_BYTES);
                round_trips_us.push(micros_since(origin) - stamp(&buffer));
            }
            round_trips_us
        })
    };

    // Phase 1, delay: a small probe every 10 ms on an idle link.
    let phase_start = Instant::now();
    for index in 0..PROBES as u32 {
        let due = Duration::from_millis(10) * index;
        std::thread::sleep(due.saturating_sub(phase_start.elapsed()));
        client
            .send_to(&stamped(origin, PROBE_BYTES), relay_address)
            .unwrap();
    }
    // Let the last echoes come back before loading the link.
    std::thread::sleep(Duration::from_millis(4 * DELAY_MS));

    // Phase 2, throughput: full-size datagrams at 1.5 times the link rate for 1.5 s.
    let phase_start = Instant::now();
    let mut sent = 0u64;
    while phase_start.elapsed() < Duration::from_millis(1500) {
        let due = phase_start.elapsed().as_micros() as u64 * 3 / 2000;
        while sent < due {
            client
                .send_to(&stamped(origin, FULL_DATAGRAM_BYTES), relay_address)
                .unwrap();
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }

    let status = relay.wait(Duration::from_secs(RELAY_SECONDS + 10));
    done.store(true, Ordering::Relaxed);
    let arrivals = server_thread.join().unwrap();
    let round_trips_us = echo_thread.join().unwrap();
    stderr_reader.join().unwrap();
    stderr_lines.extend(lines.try_iter());
    assert!(status.success(), "the relay failed: {stderr_lines:#?}");

    // Delivery and delay of the probes.
    let probes: Vec<&Arrival> = arrivals
        .iter()
        .filter(|arrival| arrival.length == PROBE_BYTES)
        .collect();
    assert_eq!(probes.len(), PROBES, "every probe reaches the server");
    assert_eq!(round_trips_us.len(), PROBES, "every echo comes back");
    let one_way_ms: Vec<f64> = probes
        .iter()
        .map(|probe| (probe.at_us - probe.sent_us) as f64 / 1000.0)
        .collect();
    let mean = |samples: &[f64]| samples.iter().sum::<f64>() / samples.len() as f64;
    let shortest = one_way_ms.iter().copied().fold(f64::INFINITY, f64::min);
    let mean_one_way = mean(&one_way_ms);
    let round_trips_ms: Vec<f64> = round_trips_us
        .iter()
        .map(|&us| us as f64 / 1000.0)
        .collect();
    let mean_round_trip = mean(&round_trips_ms);
    println!("one-way {mean_one_way:.2} ms (shortest {shortest:.2} ms), round trip {mean_round_trip:.2} ms");
    // No packet beats the delay; on average it adds under a millisecond of waiting for the next
    // opportunity (expected 0.5 ms), with generous room for a busy machine.
    assert!(
        shortest >= DELAY_MS as f64,
        "a probe arrived after {shortest:.2} ms, before the {DELAY_MS} ms delay"
    );
    let expected_one_way = DELAY_MS as f64 + 0.5;
    assert!(
        (mean_one_way - expected_one_way).abs() <= 0.1 * expected_one_way,
        "mean one-way delay {mean_one_way:.2} ms, expected {expected_one_way} ms"
    );
    assert!(
        (mean_round_trip - 2.0 * expected_one_way).abs() <= 0.1 * 2.0 * expected_one_way,
        "mean round trip {mean_round_trip:.2} ms, expected {} ms",
        2.0 * expected_one_way
    );

    // Throughput: one full datagram per millisecond, measured away from start-up and the end.
    let full: Vec<u64> = arrivals
        .iter()
        .filter(|arrival| arrival.length == FULL_DATAGRAM_BYTES)
        .map(|arrival| arrival.at_us)
        .collect();
    assert!(!full.is_empty(), "full-size datagrams reach the server");
    let window = (full[0] + 300_000)..(full[0] + 1_300_000);
    let per_second = full.iter().filter(|at| window.contains(at)).count() as f64;
    println!("throughput {per_second:.0} datagrams/s");
    assert!(
        (per_second - 1000.0).abs() <= 100.0,
        "throughput {per_second} datagrams/s, expected 1000"
    );

    // The relay's report, and logs that parse and agree with it and with what was received.
    let report = |direction: &str| {
        stderr_lines
            .iter()
            .find(|line| line.starts_with(&format!("{direction}: ")))
            .unwrap_or_else(|| panic!("a {direction} report in {stderr_lines:#?}"))
            .clone()
    };
    let uplink_report = report("uplink");
    let uplink_in = count_before(&uplink_report, " packets in");
    let uplink_out = count_before(&uplink_report, " out");
    let uplink_dropped = count_before(&uplink_report, " dropped by the queue");
    // Loopback can drop a datagram when a receiving socket's buffer overflows (a receiver
    // starved on a busy machine), so counts across sockets allow 0.5 % of loss; counts inside the
    // relay must balance exactly.
    let sent_total = PROBES as u64 + sent;
    assert!(
        uplink_in <= sent_total && uplink_in as f64 >= 0.995 * sent_total as f64,
        "the relay received {uplink_in} of {sent_total} datagrams"
    );
    assert!(
        uplink_dropped > 0,
        "the link was overloaded: {uplink_report}"
    );
    assert_eq!(uplink_out + uplink_dropped, uplink_in, "{uplink_report}");
    let received = arrivals.len() as u64;
    assert!(
        received <= uplink_out && received as f64 >= 0.995 * uplink_out as f64,
        "the server received {received} of {uplink_out} departed datagrams"
    );
    let downlink_out = count_before(&report("downlink"), " out");
    assert_eq!(downlink_out, PROBES as u64);

    let uplink_events = testbed::mahimahi_log::read_log(&uplink_log).expect("uplink log parses");
    let downlink_events =
        testbed::mahimahi_log::read_log(&downlink_log).expect("downlink log parses");
    assert_eq!(departures(&uplink_events), uplink_out);
    assert_eq!(departures(&downlink_events), downlink_out);
    let drop_lines: u64 = uplink_events
        .iter()
        .map(|event| match event {
            LogEvent::Drop { packets, .. } => *packets as u64,
            _ => 0,
        })
        .sum();
    assert_eq!(drop_lines, uplink_dropped);
    let analysis = testbed::mahimahi_log::analyze(&uplink_events, 100).expect("log analysed");
    assert!(
        (analysis.average_capacity_mbps - 12.032).abs() < 0.1,
        "capacity {} Mbit/s",
        analysis.average_capacity_mbps
    );
    let _ = std::fs::remove_dir_all(&dir);
}

fn run_salsify(arguments: &[&std::ffi::OsStr], font: Option<&Path>) -> std::process::Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_salsify"));
    command.args(arguments);
    if let Some(font) = font {
        command.env("SALSIFY_FONT", font);
    }
    command.output().expect("the salsify binary runs")
}

#[test]
fn link_plot_without_font_warns_and_still_plots() {
    let dir = temp_dir("plot");
    let log = dir.join("link.log");
    // Two seconds of a link with one opportunity per millisecond (12.032 Mbit/s), carrying a
    // 1500-byte packet every other millisecond, each leaving 3 ms after it arrived.
    let mut events: Vec<(u64, String)> = Vec::new();
    for ms in 1..=2000u64 {
        events.push((ms, format!("{ms} # 1504")));
    }
    for ms in (0..1997u64).step_by(2) {
        events.push((ms, format!("{ms} + 1500")));
        events.push((ms + 3, format!("{} - 1500 3", ms + 3)));
    }
    events.sort_by_key(|(ms, _)| *ms);
    let mut text = String::from("# mahimahi mm-link\n# base timestamp: 0\n");
    for (_, line) in events {
        text.push_str(&line);
        text.push('\n');
    }
    std::fs::write(&log, text).unwrap();
    // A missing font file, and a file that is not a font.
    let not_a_font = dir.join("not-a-font.ttf");
    std::fs::write(&not_a_font, "plain text").unwrap();
    for (font, reason) in [
        (dir.join("no-such-font.ttf"), "cannot read font"),
        (not_a_font, "is not a TrueType or OpenType font"),
    ] {
        let prefix = dir.join("link");
        let output = run_salsify(
            &[
                "link-plot".as_ref(),
                log.as_os_str(),
                "--out".as_ref(),
                prefix.as_os_str(),
            ],
            Some(&font),
        );
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "link-plot failed: {stderr}");
        let warnings: Vec<&str> = stderr.lines().collect();
        assert_eq!(warnings.len(), 1, "one warning line: {stderr}");
        let font_name = font.file_name().unwrap().to_str().unwrap();
        assert!(
            warnings[0].contains("warning")
                && warnings[0].contains(font_name)
                && warnings[0].contains(reason),
            "{stderr}"
        );
        assert!(
            stdout.contains("Average capacity: 12.03 Mbits/s"),
            "{stdout}"
        );
        assert!(
            stdout.contains("95th percentile per-packet queueing delay: 3 ms"),
            "{stdout}"
        );
        for chart in ["throughput", "delay"] {
            let png_path = dir.join(format!("link-{chart}.png"));
            let png = std::fs::read(&png_path).expect("PNG written");
            assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
            let svg = std::fs::read_to_string(dir.join(format!("link-{chart}.svg"))).unwrap();
            assert!(
                svg.contains("time (s)"),
                "the SVG keeps its text without a font"
            );
            std::fs::remove_file(png_path).unwrap();
        }
    }
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn link_rejects_a_bad_trace_naming_file_and_line() {
    let dir = temp_dir("bad-trace");
    let trace = dir.join("bad.trace");
    std::fs::write(&trace, "1\n2\nthree\n").unwrap();
    let output = run_salsify(
        &[
            "link".as_ref(),
            "--uplink".as_ref(),
            trace.as_os_str(),
            "--downlink".as_ref(),
            trace.as_os_str(),
            "--listen".as_ref(),
            "127.0.0.1:0".as_ref(),
            "--forward".as_ref(),
            "127.0.0.1:9".as_ref(),
            "--duration-secs".as_ref(),
            "1".as_ref(),
        ],
        None,
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "a bad trace is refused");
    assert!(
        stderr.contains(&format!("{}:3", trace.display())) && stderr.contains("three"),
        "the error names the file, line and text: {stderr}"
    );
    let _ = std::fs::remove_dir_all(&dir);
}
