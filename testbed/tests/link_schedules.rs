//! Delivery schedules rebuilt by hand from mahimahi's link semantics, checked to the millisecond.

use std::sync::Arc;

use testbed::{run_link, Link, LinkConfig, LogEvent, OnOff, Outage, QueueConfig, Trace};

const MS: u64 = 1000;

fn trace(text: &str) -> Arc<Trace> {
    Arc::new(Trace::parse(text, "test").expect("valid trace"))
}

/// Runs sends `(time_us, size)` through a link and returns `(packet index, delivery ms)`.
fn deliveries(config: LinkConfig, sends: &[(u64, usize)]) -> Vec<(usize, u64)> {
    let mut link = Link::new(config, 0);
    let sends = sends
        .iter()
        .enumerate()
        .map(|(index, &(time_us, size))| (time_us, index, size));
    run_link(&mut link, sends)
        .into_iter()
        .map(|packet| (packet.payload, packet.delivered_us / MS))
        .collect()
}

#[test]
fn small_packets_share_an_opportunity() {
    // Opportunities at 10 and 20 ms. Three 500-byte packets fit in the first 1504 bytes; the
    // fourth takes the 4 bytes left and finishes at the next opportunity.
    let config = LinkConfig::new(trace("10\n20\n"));
    let got = deliveries(config, &[(0, 500), (0, 500), (0, 500), (0, 500)]);
    assert_eq!(got, vec![(0, 10), (1, 10), (2, 10), (3, 20)]);
}

#[test]
fn a_large_packet_spans_opportunities_and_leaves_the_rest() {
    // One opportunity per ms. 4000 bytes need three opportunities (1504 * 3 = 4512); the 512
    // bytes left at 3 ms carry the next 100-byte packet, whose arrival preceded it.
    let config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    let got = deliveries(config, &[(0, 4000), (0, 100), (0, 1000)]);
    assert_eq!(got, vec![(0, 3), (1, 3), (2, 4)]);
}

#[test]
fn unused_bytes_are_lost_and_arrivals_at_an_opportunity_miss_it() {
    let config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    // Packet 0 uses 100 bytes at 1 ms; packet 1 arrives at 1.2 ms, after that opportunity, and
    // cannot use its 1404 leftover bytes: it leaves at 2 ms. Packet 2 arrives exactly at 5 ms,
    // when the 5 ms opportunity is spent before it is queued: it leaves at 6 ms.
    let got = deliveries(config, &[(0, 100), (1200, 100), (5 * MS, 100)]);
    assert_eq!(got, vec![(0, 1), (1, 2), (2, 6)]);
}

#[test]
fn trace_wraps_around_at_its_last_timestamp() {
    // Period 8: opportunities at 3, 8, 11, 16, 19, 24, ...
    let config = LinkConfig::new(trace("3\n8\n"));
    let got = deliveries(config, &[(0, 1504); 5]);
    assert_eq!(got, vec![(0, 3), (1, 8), (2, 11), (3, 16), (4, 19)]);

    // A trace starting at 0 with period 4: opportunities at 0, 4, then 4 (= 4 + 0), 8, 8, ...
    // A packet sent at 0 ms misses the 0 ms one.
    let config = LinkConfig::new(trace("0\n4\n"));
    let got = deliveries(config, &[(0, 1504); 5]);
    assert_eq!(got, vec![(0, 4), (1, 4), (2, 8), (3, 8), (4, 12)]);
}

#[test]
fn long_idle_gaps_skip_whole_periods_exactly() {
    // After an idle stretch of many periods the next opportunity is found by arithmetic; check
    // it against the definition. Period 10: opportunities at 2, 7, 10 (mod 10 at 2, 7, 0).
    let config = LinkConfig::new(trace("2\n7\n10\n"));
    let sends = [
        (0, 100),
        (1_000_003 * MS, 100),
        (1_000_008 * MS, 100),
        (1_000_010 * MS + 1, 100),
    ];
    let got = deliveries(config, &sends);
    assert_eq!(
        got,
        vec![(0, 2), (1, 1_000_007), (2, 1_000_010), (3, 1_000_012)]
    );
}

#[test]
fn a_full_droptail_queue_drops_arrivals_and_logs_them() {
    let mut config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    config.queue = QueueConfig::DropTail {
        packets: Some(2),
        bytes: None,
    };
    config.delay_us = 20 * MS;
    config.record_log = true;
    let mut link = Link::new(config, 0);
    // Five packets at 0: two fit, three are dropped. At 1 ms packet 0 leaves the queue for the
    // link, so packet 5 (at 1.5 ms) fits; packet 6 (at 1.6 ms) does not.
    let sends = (0..5)
        .map(|index| (0, index, 1504))
        .chain([(1500, 5, 1504), (1600, 6, 1504)]);
    let got: Vec<(usize, u64, u64)> = run_link(&mut link, sends)
        .into_iter()
        .map(|packet| (packet.payload, packet.sent_us, packet.delivered_us / MS))
        .collect();
    assert_eq!(got, vec![(0, 0, 21), (1, 0, 22), (5, 1500, 23)]);
    let stats = link.stats();
    assert_eq!(stats.queue_drops, 4);
    assert_eq!(stats.departed_packets, 3);
    let log = link.drain_log();
    let drops: Vec<_> = log
        .iter()
        .filter(|event| matches!(event, LogEvent::Drop { .. }))
        .copied()
        .collect();
    assert_eq!(
        drops,
        vec![
            LogEvent::Drop {
                ms: 0,
                packets: 1,
                bytes: 1504
            },
            LogEvent::Drop {
                ms: 0,
                packets: 1,
                bytes: 1504
            },
            LogEvent::Drop {
                ms: 0,
                packets: 1,
                bytes: 1504
            },
            LogEvent::Drop {
                ms: 1,
                packets: 1,
                bytes: 1504
            },
        ]
    );
    // Departures are logged when they leave the link (before the one-way delay).
    let departures: Vec<_> = log
        .iter()
        .filter_map(|event| match event {
            LogEvent::Departure { ms, delay_ms, .. } => Some((*ms, *delay_ms)),
            _ => None,
        })
        .collect();
    assert_eq!(departures, vec![(1, 1), (2, 2), (3, 2)]);
    // Every opportunity up to the last delivery (23 ms) is logged, used or not.
    let opportunities: Vec<u64> = log
        .iter()
        .filter_map(|event| match event {
            LogEvent::Opportunity { ms, bytes: 1504 } => Some(*ms),
            _ => None,
        })
        .collect();
    assert_eq!(opportunities, (1..=23).collect::<Vec<u64>>());
}

#[test]
fn drophead_keeps_the_newest() {
    let mut config = LinkConfig::new(trace("10\n20\n"));
    config.queue = QueueConfig::DropHead {
        packets: None,
        bytes: Some(3000),
    };
    let got = deliveries(config, &[(0, 1000), (0, 1000), (0, 1000), (0, 1000)]);
    // 4000 bytes arrive; the oldest is dropped to get back under 3000. Packets 1 and 2 share the
    // first opportunity (1504 bytes: 1000 + 504 of packet 2), packet 2 ends at 20 ms, and packet 3
    // takes the rest of that one.
    assert_eq!(got, vec![(1, 10), (2, 20), (3, 20)]);
}

#[test]
fn random_loss_is_seeded_and_near_its_rate() {
    let run = |seed| {
        let mut config = LinkConfig::new(Arc::new(Trace::constant(10, 1000)));
        config.loss_probability = 0.2;
        config.seed = seed;
        let sends: Vec<(u64, usize)> = (0..20_000).map(|index| (index * 100, 200)).collect();
        deliveries(config, &sends)
    };
    let first = run(1);
    assert_eq!(first, run(1));
    assert_ne!(first, run(2));
    let kept = first.len() as f64 / 20_000.0;
    assert!((kept - 0.8).abs() < 0.015, "kept {kept}");
}

#[test]
fn scheduled_outage_drops_arrivals_in_its_window() {
    let mut config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
    config.outages = vec![Outage {
        start_ms: 100,
        duration_ms: 50,
    }];
    let sends: Vec<(u64, usize)> = (0..300).map(|ms| (ms * MS, 100)).collect();
    let got = deliveries(config, &sends);
    let delivered: Vec<usize> = got.iter().map(|&(index, _)| index).collect();
    let expected: Vec<usize> = (0..100).chain(150..300).collect();
    assert_eq!(delivered, expected);
}

#[test]
fn on_off_outages_are_seeded_with_the_expected_duty_cycle() {
    let run = |seed| {
        let mut config = LinkConfig::new(Arc::new(Trace::constant(1, 1000)));
        config.on_off = Some(OnOff {
            mean_on_ms: 400.0,
            mean_off_ms: 100.0,
        });
        config.seed = seed;
        let sends: Vec<(u64, usize)> = (0..200_000).map(|ms| (ms * MS, 100)).collect();
        deliveries(config, &sends)
    };
    let first = run(5);
    assert_eq!(first, run(5));
    assert_ne!(first, run(6));
    let on_fraction = first.len() as f64 / 200_000.0;
    assert!((on_fraction - 0.8).abs() < 0.04, "on {on_fraction}");
    // The first phase is on: the first packet gets through.
    assert_eq!(first[0], (0, 1));
}

#[test]
fn next_event_time_reports_opportunities_and_deliveries() {
    let mut config = LinkConfig::new(trace("10\n20\n"));
    config.delay_us = 5 * MS;
    let mut link: Link<u8> = Link::new(config, 1_000_000);
    assert_eq!(link.next_event_time(), None);
    link.send(1_000_000, 7, 100);
    assert_eq!(link.next_event_time(), Some(1_010_000));
    assert_eq!(link.poll_delivered(1_010_000), None);
    assert_eq!(link.next_event_time(), Some(1_015_000));
    let packet = link.poll_delivered(1_015_000).expect("delivered");
    assert_eq!(
        (packet.payload, packet.sent_us, packet.delivered_us),
        (7, 1_000_000, 1_015_000)
    );
    assert_eq!(link.next_event_time(), None);
}

#[test]
fn delay_before_the_link_shifts_which_opportunities_a_packet_meets() {
    // Opportunities at 6 and 8 ms (period 8). With the delay after the link, a packet sent at 0
    // leaves at 6 and arrives at 11. With the 5 ms delay first it reaches the queue at 5, still
    // leaves at 6, and arrives then. A packet sent at 2 reaches the queue at 7: it leaves at 8.
    let mut config = LinkConfig::new(trace("6\n8\n"));
    config.delay_us = 5 * MS;
    let after = deliveries(config.clone(), &[(0, 100), (2 * MS, 100)]);
    assert_eq!(after, vec![(0, 11), (1, 11)]);
    config.delay_before_link = true;
    config.record_log = true;
    let mut link = Link::new(config, 0);
    let got: Vec<(usize, u64, u64)> = run_link(&mut link, [(0, 0, 100), (2 * MS, 1, 100)])
        .into_iter()
        .map(|packet| (packet.payload, packet.sent_us, packet.delivered_us / MS))
        .collect();
    assert_eq!(got, vec![(0, 0, 6), (1, 2 * MS, 8)]);
    // The log sees the packets when they reach the queue, after the delay.
    let log = link.drain_log();
    assert!(log.contains(&LogEvent::Arrival { ms: 5, bytes: 100 }));
    assert!(log.contains(&LogEvent::Departure {
        ms: 8,
        bytes: 100,
        delay_ms: 1
    }));
}

#[test]
fn delay_before_the_link_reports_its_releases_as_events() {
    let mut config = LinkConfig::new(trace("10\n20\n"));
    config.delay_us = 3 * MS;
    config.delay_before_link = true;
    let mut link: Link<u8> = Link::new(config, 0);
    link.send(500, 1, 100);
    assert_eq!(link.delayed_packets(), 1);
    assert_eq!(link.next_event_time(), Some(3500));
    assert_eq!(link.poll_delivered(3500), None);
    assert_eq!(link.delayed_packets(), 0);
    assert_eq!(link.queued_packets(), 1);
    assert_eq!(link.next_event_time(), Some(10 * MS));
}
