//! The virtual-time driver over two-way paths and real traces.

mod common;

use std::sync::Arc;

use testbed::{run_link, Direction, Link, LinkConfig, OnOff, Path, QueueConfig, Trace};

const MS: u64 = 1000;

#[test]
fn path_carries_each_direction_on_its_own_trace() {
    let uplink = LinkConfig::new(Arc::new(Trace::parse("10\n", "up").unwrap()));
    let mut downlink = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    downlink.delay_us = 20 * MS;
    let mut path: Path<&str> = Path::new(uplink, downlink, 0);
    path.send(0, Direction::Uplink, "request", 100);
    path.send(0, Direction::Downlink, "reply", 100);
    assert_eq!(path.next_event_time(), Some(MS));
    let mut got = Vec::new();
    while let Some(now) = path.next_event_time() {
        while let Some((direction, packet)) = path.poll_delivered(now) {
            got.push((direction, packet.payload, packet.delivered_us / MS));
        }
    }
    assert_eq!(
        got,
        vec![
            (Direction::Uplink, "request", 10),
            (Direction::Downlink, "reply", 21)
        ]
    );
}

#[test]
fn backlogged_link_uses_every_opportunity_of_a_real_trace() {
    // With 1504-byte packets always waiting, each trace line delivers exactly one packet, so the
    // departures by time T are the trace lines in (0, T]: 60 s of the Verizon LTE downlink.
    let path = common::shared_file("traces/Verizon-LTE-short.down");
    let trace = Arc::new(Trace::from_file(&path).expect("the shared trace parses"));
    let horizon_ms = 60_000;
    let expected = trace
        .timestamps_ms()
        .iter()
        .filter(|&&t| t > 0 && t <= horizon_ms)
        .count();
    let mut link = Link::new(LinkConfig::new(Arc::clone(&trace)), 0);
    for index in 0..expected + 1000 {
        link.send(0, index, 1504);
    }
    let mut delivered = 0;
    while link.poll_delivered(horizon_ms * MS).is_some() {
        delivered += 1;
    }
    assert_eq!(delivered, expected);
    assert!(expected > 10_000, "the trace is busy: {expected} lines");
}

#[test]
fn runs_repeat_exactly_from_their_seed() {
    let trace = Arc::new(
        Trace::from_file(common::shared_file("traces/ATT-LTE-driving.down"))
            .expect("the shared trace parses"),
    );
    let run = |seed: u64, record_log: bool| {
        let mut config = LinkConfig::new(Arc::clone(&trace));
        config.queue = QueueConfig::DropTail {
            packets: Some(256),
            bytes: None,
        };
        config.delay_us = 20 * MS;
        config.loss_probability = 0.02;
        config.on_off = Some(OnOff {
            mean_on_ms: 5000.0,
            mean_off_ms: 200.0,
        });
        config.seed = seed;
        config.record_log = record_log;
        let mut link = Link::new(config, 0);
        // 6 Mbit/s of 1200-byte packets for 30 s: above the trace's rate much of the time.
        let sends = (0..18_750u64).map(|index| (index * 1600, index, 1200));
        let delivered: Vec<(u64, u64)> = run_link(&mut link, sends)
            .into_iter()
            .map(|packet| (packet.payload, packet.delivered_us))
            .collect();
        (delivered, link.stats())
    };
    let (first, first_stats) = run(3, false);
    let (again, again_stats) = run(3, false);
    assert_eq!(first, again);
    assert_eq!(first_stats, again_stats);
    // Recording a log visits every opportunity instead of skipping idle ones: same run.
    let (logged, logged_stats) = run(3, true);
    assert_eq!(first, logged);
    assert_eq!(first_stats, logged_stats);
    let (other, _) = run(4, false);
    assert_ne!(first, other);
    assert!(first_stats.queue_drops > 0 && first_stats.random_losses > 0);
    // Deliveries come out in order, never before their send time plus the delay.
    assert!(first.windows(2).all(|pair| pair[0].1 <= pair[1].1));
    assert!(first
        .iter()
        .all(|&(index, delivered)| delivered >= index * 1600 + 20 * MS));
}
