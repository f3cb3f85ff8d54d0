//! The real-time driver: a UDP relay that runs every datagram through the emulated link, so any
//! UDP program runs under a trace.
//!
//! The first peer to send to the listening address becomes the client. Its datagrams go through
//! the uplink to the forward address; datagrams from the forward address come back through the
//! downlink to the client. Datagrams from anyone else are ignored (and counted).
//!
//! Each datagram is charged its payload plus the IP and UDP headers (28 bytes for IPv4, 48 for
//! IPv6), since mahimahi's link carries whole IP packets.
//!
//! Two threads receive (one per socket, blocking with a short timeout so they notice a stop)
//! and hand datagrams over a channel to the link thread, which owns both links, waits on the
//! channel until the next link event (`recv_timeout` is precise to well under a millisecond) and
//! sends what the links deliver.

use std::io::{self, Write};
use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crate::link::{Link, LinkConfig, LinkStats, LogEvent};
use crate::mahimahi_log::{write_event, write_header};

/// Largest datagram relayed (the largest UDP payload).
const MAX_DATAGRAM: usize = 65_536;
/// How often receiving threads and the link thread look at the stop flag.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How often logs are written to disk.
const LOG_FLUSH_INTERVAL: Duration = Duration::from_millis(200);
/// Log bytes gathered before an early write.
const LOG_FLUSH_BYTES: usize = 1 << 16;

/// A log file written in whole lines: events gather in memory and reach the file in single
/// writes of complete lines, so a relay killed at any moment leaves a log that parses.
#[derive(Debug)]
struct LogFile {
    file: std::fs::File,
    pending: Vec<u8>,
}

impl LogFile {
    fn flush(&mut self) -> io::Result<()> {
        self.file.write_all(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

/// What the relay needs.
#[derive(Debug, Clone)]
pub struct ProxyConfig {
    /// Where clients send to.
    pub listen: SocketAddr,
    /// Where the client's datagrams are relayed to.
    pub forward: SocketAddr,
    /// The client-to-server link.
    pub uplink: LinkConfig,
    /// The server-to-client link.
    pub downlink: LinkConfig,
    /// Where to write the uplink's mahimahi log, if anywhere.
    pub uplink_log: Option<PathBuf>,
    /// Where to write the downlink's mahimahi log, if anywhere.
    pub downlink_log: Option<PathBuf>,
    /// Recorded in the logs' `# command line:` header.
    pub command_line: String,
    /// Whether to write queue-drop (`d`) lines. mahimahi's `mm-link` writes them, but its
    /// `mm-throughput-graph` and `mm-delay-graph` stop at them.
    pub log_drops: bool,
}

/// What happened during a relay run.
#[derive(Debug, Clone, Default)]
pub struct ProxyReport {
    /// The client's address, once one has sent.
    pub client: Option<SocketAddr>,
    /// Uplink counters.
    pub uplink: LinkStats,
    /// Downlink counters.
    pub downlink: LinkStats,
    /// Datagrams ignored because they came from neither the client nor the forward address.
    pub ignored_datagrams: u64,
    /// Datagrams the operating system refused to send.
    pub send_errors: u64,
}

/// A running relay.
#[derive(Debug)]
pub struct Proxy {
    listen_address: SocketAddr,
    stop: Arc<AtomicBool>,
    link_thread: JoinHandle<io::Result<ProxyReport>>,
    receive_threads: Vec<JoinHandle<()>>,
}

enum Arrival {
    FromListen(SocketAddr, Vec<u8>),
    FromForward(SocketAddr, Vec<u8>),
}

fn header_bytes(address: &SocketAddr) -> usize {
    match address {
        SocketAddr::V4(_) => 28,
        SocketAddr::V6(_) => 48,
    }
}

fn open_log(
    path: &Option<PathBuf>,
    name: &str,
    config: &LinkConfig,
    command_line: &str,
) -> io::Result<Option<LogFile>> {
    let Some(path) = path else { return Ok(None) };
    let file = std::fs::File::create(path).map_err(|error| {
        io::Error::new(
            error.kind(),
            format!("cannot create log {}: {error}", path.display()),
        )
    })?;
    let mut writer = LogFile {
        file,
        pending: Vec::new(),
    };
    write_header(
        &mut writer.pending,
        name,
        config.trace.name(),
        &config.queue,
        command_line,
    )?;
    writer.flush()?;
    Ok(Some(writer))
}

impl Proxy {
    /// Binds the sockets and starts relaying.
    pub fn start(config: ProxyConfig) -> io::Result<Proxy> {
        let listen = UdpSocket::bind(config.listen)?;
        let any: SocketAddr = match config.forward {
            SocketAddr::V4(_) => "0.0.0.0:0".parse().expect("valid address"),
            SocketAddr::V6(_) => "[::]:0".parse().expect("valid address"),
        };
        let outward = UdpSocket::bind(any)?;
        let listen_address = listen.local_addr()?;
        let stop = Arc::new(AtomicBool::new(false));
        let (sender, receiver) = mpsc::channel();

        let mut receive_threads = Vec::new();
        for (socket, from_listen) in [(listen.try_clone()?, true), (outward.try_clone()?, false)] {
            socket.set_read_timeout(Some(STOP_POLL))?;
            let sender = sender.clone();
            let stop = Arc::clone(&stop);
            receive_threads.push(std::thread::spawn(move || {
                let mut buffer = vec![0u8; MAX_DATAGRAM];
                while !stop.load(Ordering::Relaxed) {
                    match socket.recv_from(&mut buffer) {
                        Ok((length, from)) => {
                            let datagram = buffer[..length].to_vec();
                            let arrival = if from_listen {
                                Arrival::FromListen(from, datagram)
                            } else {
                                Arrival::FromForward(from, datagram)
                            };
                            if sender.send(arrival).is_err() {
                                return;
                            }
                        }
                        // Timeouts let the loop see the stop flag.
                        Err(error)
                            if matches!(
                                error.kind(),
                                io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
                            ) => {}
                        // Other errors (such as an ICMP port unreachable reported on the next
                        // receive) are not fatal; pause briefly so a lasting one cannot spin.
                        Err(_) => std::thread::sleep(Duration::from_millis(1)),
                    }
                }
            }));
        }
        drop(sender);

        let uplink_log = open_log(
            &config.uplink_log,
            "uplink",
            &config.uplink,
            &config.command_line,
        )?;
        let downlink_log = open_log(
            &config.downlink_log,
            "downlink",
            &config.downlink,
            &config.command_line,
        )?;
        let link_stop = Arc::clone(&stop);
        let link_thread = std::thread::spawn(move || {
            relay(
                config,
                listen,
                outward,
                receiver,
                link_stop,
                uplink_log,
                downlink_log,
            )
        });
        Ok(Proxy {
            listen_address,
            stop,
            link_thread,
            receive_threads,
        })
    }

    /// The address clients send to (useful when listening on port 0).
    pub fn listen_address(&self) -> SocketAddr {
        self.listen_address
    }

    /// Stops relaying and returns what happened.
    pub fn stop(self) -> io::Result<ProxyReport> {
        self.stop.store(true, Ordering::Relaxed);
        for thread in self.receive_threads {
            let _ = thread.join();
        }
        self.link_thread
            .join()
            .map_err(|_| io::Error::other("the link thread panicked"))?
    }

    /// Relays until `duration` has passed (or forever if `None`), then stops.
    pub fn run_for(self, duration: Option<Duration>) -> io::Result<ProxyReport> {
        match duration {
            Some(duration) => {
                std::thread::sleep(duration);
                self.stop()
            }
            None => loop {
                std::thread::sleep(Duration::from_secs(3600));
            },
        }
    }
}

fn drain_log(
    link: &mut Link<Vec<u8>>,
    log: &mut Option<LogFile>,
    log_drops: bool,
) -> io::Result<()> {
    if let Some(writer) = log {
        for event in link.drain_log() {
            if log_drops || !matches!(event, LogEvent::Drop { .. }) {
                write_event(&mut writer.pending, &event)?;
            }
        }
        if writer.pending.len() >= LOG_FLUSH_BYTES {
            writer.flush()?;
        }
    }
    Ok(())
}

fn relay(
    config: ProxyConfig,
    listen: UdpSocket,
    outward: UdpSocket,
    arrivals: mpsc::Receiver<Arrival>,
    stop: Arc<AtomicBool>,
    mut uplink_log: Option<LogFile>,
    mut downlink_log: Option<LogFile>,
) -> io::Result<ProxyReport> {
    let start = Instant::now();
    let now_us = || start.elapsed().as_micros() as u64;
    let mut uplink_config = config.uplink;
    uplink_config.record_log = uplink_log.is_some();
    let mut downlink_config = config.downlink;
    downlink_config.record_log = downlink_log.is_some();
    let mut uplink: Link<Vec<u8>> = Link::new(uplink_config, 0);
    let mut downlink: Link<Vec<u8>> = Link::new(downlink_config, 0);
    let mut report = ProxyReport::default();
    let uplink_overhead = header_bytes(&config.forward);
    let mut last_flush = Instant::now();

    while !stop.load(Ordering::Relaxed) {
        let now = now_us();
        while let Some(packet) = uplink.poll_delivered(now) {
            if outward.send_to(&packet.payload, config.forward).is_err() {
                report.send_errors += 1;
            }
        }
        if let Some(client) = report.client {
            while let Some(packet) = downlink.poll_delivered(now) {
                if listen.send_to(&packet.payload, client).is_err() {
                    report.send_errors += 1;
                }
            }
        }
        drain_log(&mut uplink, &mut uplink_log, config.log_drops)?;
        drain_log(&mut downlink, &mut downlink_log, config.log_drops)?;
        if last_flush.elapsed() >= LOG_FLUSH_INTERVAL {
            for writer in [&mut uplink_log, &mut downlink_log].into_iter().flatten() {
                writer.flush()?;
            }
            last_flush = Instant::now();
        }

        let next_event = [uplink.next_event_time(), downlink.next_event_time()]
            .into_iter()
            .flatten()
            .min();
        let wait = match next_event {
            Some(time) => Duration::from_micros(time.saturating_sub(now_us())).min(STOP_POLL),
            None => STOP_POLL,
        };
        let arrival = match arrivals.recv_timeout(wait) {
            Ok(arrival) => arrival,
            Err(mpsc::RecvTimeoutError::Timeout) => continue,
            Err(mpsc::RecvTimeoutError::Disconnected) => break,
        };
        // Take every datagram already waiting, all stamped on arrival at the link thread.
        for arrival in std::iter::once(arrival).chain(arrivals.try_iter()) {
            let now = now_us();
            match arrival {
                Arrival::FromListen(from, datagram) => {
                    let client = *report.client.get_or_insert(from);
                    if from == client {
                        let size = datagram.len() + uplink_overhead;
                        uplink.send(now, datagram, size);
                    } else {
                        report.ignored_datagrams += 1;
                    }
                }
                Arrival::FromForward(from, datagram) => {
                    if from == config.forward && report.client.is_some() {
                        let size = datagram.len() + header_bytes(&from);
                        downlink.send(now, datagram, size);
                    } else {
                        report.ignored_datagrams += 1;
                    }
                }
            }
        }
    }
    let end = now_us();
    uplink.advance(end);
    downlink.advance(end);
    drain_log(&mut uplink, &mut uplink_log, config.log_drops)?;
    drain_log(&mut downlink, &mut downlink_log, config.log_drops)?;
    for writer in [&mut uplink_log, &mut downlink_log].into_iter().flatten() {
        writer.flush()?;
    }
    report.uplink = uplink.stats();
    report.downlink = downlink.stats();
    Ok(report)
}
