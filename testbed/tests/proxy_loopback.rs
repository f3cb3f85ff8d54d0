//! The real-time relay on loopback under a constant-rate trace: throughput and one-way delay
//! within 5 % of what the trace and delay promise.

mod common;

use std::net::{SocketAddr, UdpSocket};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use testbed::proxy::{Proxy, ProxyConfig};
use testbed::{LinkConfig, LogEvent, QueueConfig, Trace};

const DELAY_MS: u64 = 40;

fn link(queue: QueueConfig) -> LinkConfig {
    // One 1504-byte opportunity per millisecond: 12.032 Mbit/s.
    let mut config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    config.queue = queue;
    config.delay_us = DELAY_MS * 1000;
    config
}

fn start(server: &UdpSocket, uplink_log: PathBuf) -> Proxy {
    Proxy::start(ProxyConfig {
        listen: "127.0.0.1:0".parse().unwrap(),
        forward: server.local_addr().unwrap(),
        uplink: link(QueueConfig::DropTail {
            packets: Some(64),
            bytes: None,
        }),
        downlink: link(QueueConfig::Infinite),
        uplink_log: Some(uplink_log),
        downlink_log: None,
        command_line: "proxy_loopback test".to_string(),
        log_drops: false,
    })
    .expect("relay starts on loopback")
}

fn micros_since(origin: Instant) -> u64 {
    origin.elapsed().as_micros() as u64
}

#[test]
fn relay_matches_trace_throughput_and_delay() {
    let origin = Instant::now();
    let server = UdpSocket::bind("127.0.0.1:0").unwrap();
    let client = UdpSocket::bind("127.0.0.1:0").unwrap();
    server
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    client
        .set_read_timeout(Some(Duration::from_millis(500)))
        .unwrap();
    let dir = common::temp_dir("proxy-loopback");
    let uplink_log = dir.join("uplink.log");
    let proxy = start(&server, uplink_log.clone());
    let proxy_address: SocketAddr = proxy.listen_address();

    // Phase 1, delay: one small datagram every 10 ms for 1 s, stamped with its send time; the
    // server echoes each back. One-way delay should be the 40 ms delay plus under 1 ms of waiting
    // for the next opportunity.
    let echo_server = server.try_clone().unwrap();
    let echo = std::thread::spawn(move || {
        let mut one_way = Vec::new();
        let mut buffer = [0u8; 2048];
        while let Ok((length, from)) = echo_server.recv_from(&mut buffer) {
            if length == 1 {
                break;
            }
            let sent = u64::from_le_bytes(buffer[..8].try_into().unwrap());
            one_way.push(micros_since(origin) - sent);
            echo_server.send_to(&buffer[..length], from).unwrap();
        }
        one_way
    });
    let client_receiver = client.try_clone().unwrap();
    let echoes = std::thread::spawn(move || {
        let mut round_trips = Vec::new();
        let mut buffer = [0u8; 2048];
        while round_trips.len() < 100 {
            let Ok((length, from)) = client_receiver.recv_from(&mut buffer) else {
                break;
            };
            assert_eq!(from, proxy_address);
            assert_eq!(length, 100);
            let sent = u64::from_le_bytes(buffer[..8].try_into().unwrap());
            round_trips.push(micros_since(origin) - sent);
        }
        round_trips
    });
    let phase_start = Instant::now();
    for index in 0..100u32 {
        let due = Duration::from_millis(10) * index;
        std::thread::sleep(due.saturating_sub(phase_start.elapsed()));
        let mut datagram = micros_since(origin).to_le_bytes().to_vec();
        datagram.resize(100, 0);
        client.send_to(&datagram, proxy_address).unwrap();
    }
    let round_trips = echoes.join().unwrap();
    assert_eq!(round_trips.len(), 100, "every echo comes back");
    // End of phase 1: a 1-byte marker stops the echo thread (it goes through the link too).
    client.send_to(&[0], proxy_address).unwrap();
    let one_way = echo.join().unwrap();
    assert_eq!(one_way.len(), 100);
    let mean = |samples: &[u64]| samples.iter().sum::<u64>() as f64 / samples.len() as f64 / 1000.0;
    let expected_one_way = DELAY_MS as f64 + 0.5;
    let mean_one_way = mean(&one_way);
    let mean_round_trip = mean(&round_trips);
    println!("one-way {mean_one_way:.2} ms, round trip {mean_round_trip:.2} ms");
    assert!(
        (mean_one_way - expected_one_way).abs() <= 0.05 * expected_one_way,
        "mean one-way delay {mean_one_way:.2} ms, expected {expected_one_way} ms"
    );
    assert!(
        (mean_round_trip - 2.0 * expected_one_way).abs() <= 0.05 * 2.0 * expected_one_way,
        "mean round trip {mean_round_trip:.2} ms"
    );

    // Phase 2, throughput: 1472-byte datagrams (1500 bytes with headers, one per opportunity) at
    // about 1.5 times the link rate for 2 s. The server should receive one per millisecond.
    let receiver_socket = server.try_clone().unwrap();
    let receiver = std::thread::spawn(move || {
        let mut arrivals = Vec::new();
        let mut buffer = [0u8; 2048];
        while let Ok((length, _)) = receiver_socket.recv_from(&mut buffer) {
            if length == 1 {
                break;
            }
            arrivals.push(micros_since(origin));
        }
        arrivals
    });
    let payload = vec![7u8; 1472];
    let send_start = Instant::now();
    let mut sent = 0u64;
    while send_start.elapsed() < Duration::from_secs(2) {
        // Three datagrams every 2 ms.
        let due = send_start.elapsed().as_micros() as u64 * 3 / 2000;
        while sent < due {
            client.send_to(&payload, proxy_address).unwrap();
            sent += 1;
        }
        std::thread::sleep(Duration::from_micros(200));
    }
    std::thread::sleep(Duration::from_millis(200));
    client.send_to(&[0], proxy_address).unwrap();
    let arrivals = receiver.join().unwrap();
    let report = proxy.stop().unwrap();
    assert!(report.uplink.queue_drops > 0, "the link was overloaded");
    // Measure over the middle of the run, away from start-up and the drain at the end.
    let first = arrivals[0];
    let window = (first + 300_000)..(first + 1_800_000);
    let in_window = arrivals.iter().filter(|t| window.contains(t)).count();
    let packets_per_second = in_window as f64 / 1.5;
    println!(
        "throughput {packets_per_second:.0} datagrams/s, {:.2} Mbit/s of payload",
        packets_per_second * 1472.0 * 8.0 / 1e6
    );
    assert!(
        (packets_per_second - 1000.0).abs() <= 50.0,
        "throughput {packets_per_second} datagrams/s, expected 1000"
    );

    // The uplink log, written without drop lines, accounts for every packet that left.
    let events = testbed::mahimahi_log::read_log(&uplink_log).expect("the relay's log parses");
    let departures = events
        .iter()
        .filter(|event| matches!(event, LogEvent::Departure { .. }))
        .count() as u64;
    assert_eq!(departures, report.uplink.departed_packets);
    assert!(!events
        .iter()
        .any(|event| matches!(event, LogEvent::Drop { .. })));
    let analysis = testbed::mahimahi_log::analyze(&events, 100).expect("the log has departures");
    assert!(
        (analysis.average_capacity_mbps - 12.032).abs() < 0.1,
        "capacity {}",
        analysis.average_capacity_mbps
    );
    let _ = std::fs::remove_dir_all(&dir);
}
